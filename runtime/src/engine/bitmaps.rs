//! Bit operations on string values (SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD), with Redis's bit order: bit 0 is the most significant
//! bit of the first byte. A string grows with zero bytes when a bit past its
//! end is set.
//!
//! BITFIELD's integers are read and written most significant bit first at
//! any bit offset; its overflow rules (WRAP, SAT, FAIL) follow Redis's
//! `checkUnsignedBitfieldOverflow`/`checkSignedBitfieldOverflow` exactly.

use super::{EngineError, EngineResult, Txn};
use crate::keyspace::{Blob, Kind, Value, blob};

/// Whether BITCOUNT/BITPOS ranges count bytes or bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeUnit {
    /// Offsets are byte indices (the default).
    Byte,
    /// Offsets are bit indices (Redis 7).
    Bit,
}

/// BITOP's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// Bitwise AND.
    And,
    /// Bitwise OR.
    Or,
    /// Bitwise XOR.
    Xor,
    /// Bitwise NOT (one source).
    Not,
}

/// Resolves Redis's inclusive, negative-from-the-end range over `len` units;
/// `None` when empty.
fn resolve(start: i64, end: i64, len: i64) -> Option<(i64, i64)> {
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (s, e) = (norm(start), norm(end).min(len - 1));
    (len > 0 && s <= e && s < len).then_some((s, e))
}

fn bit_at(bytes: &[u8], bit: i64) -> bool {
    bytes[(bit / 8) as usize] & (0x80 >> (bit % 8)) != 0
}

impl Txn<'_> {
    /// The string at `key`, borrowed (`None` if missing), or WRONGTYPE.
    fn read_bits(&mut self, key: &[u8]) -> EngineResult<Option<&[u8]>> {
        Ok(match self.read_kind(key, Kind::Str)? {
            Some(Value::Str(b)) => Some(b.as_slice()),
            _ => None,
        })
    }

    /// A copy of the string at `key` (empty if missing), for operations that
    /// write while they read it.
    fn bits_of(&mut self, key: &[u8]) -> EngineResult<Blob> {
        Ok(self.read_bits(key)?.map(blob).unwrap_or_default())
    }

    /// SETBIT; returns the bit's previous value.
    pub fn setbit(&mut self, key: &[u8], offset: u64, on: bool) -> EngineResult<bool> {
        let byte = (offset / 8) as usize;
        self.check_size(byte + 1)?;
        if let Some(e) = self.peek(key)?
            && e.value.kind() != Kind::Str
        {
            return Err(EngineError::WrongType);
        }
        let mut e = self.write_kind(key, Kind::Str, || Value::Str(Blob::new()))?;
        let Value::Str(b) = &mut e.value else {
            return Err(EngineError::WrongType);
        };
        if b.len() <= byte {
            b.resize(byte + 1, 0);
        }
        let mask = 0x80u8 >> (offset % 8);
        let old = b[byte] & mask != 0;
        if on {
            b[byte] |= mask;
        } else {
            b[byte] &= !mask;
        }
        Ok(old)
    }

    /// GETBIT.
    pub fn getbit(&mut self, key: &[u8], offset: u64) -> EngineResult<bool> {
        let b = self.read_bits(key)?.unwrap_or_default();
        let byte = (offset / 8) as usize;
        Ok(byte < b.len() && b[byte] & (0x80 >> (offset % 8)) != 0)
    }

    /// BITCOUNT over an optional inclusive range.
    pub fn bitcount(
        &mut self,
        key: &[u8],
        range: Option<(i64, i64, RangeUnit)>,
    ) -> EngineResult<u64> {
        let b = self.read_bits(key)?.unwrap_or_default();
        let len = b.len() as i64;
        Ok(match range {
            None => b.iter().map(|x| u64::from(x.count_ones())).sum(),
            Some((s, e, RangeUnit::Byte)) => match resolve(s, e, len) {
                Some((s, e)) => b[s as usize..=e as usize]
                    .iter()
                    .map(|x| u64::from(x.count_ones()))
                    .sum(),
                None => 0,
            },
            Some((s, e, RangeUnit::Bit)) => match resolve(s, e, len * 8) {
                Some((s, e)) => (s..=e).filter(|&i| bit_at(b, i)).count() as u64,
                None => 0,
            },
        })
    }

    /// BITPOS: the first bit equal to `bit` in the range, or -1. As in
    /// Redis, looking for a 0 without an explicit end treats the string as
    /// padded with zeros (so the answer may be just past its end).
    pub fn bitpos(
        &mut self,
        key: &[u8],
        bit: bool,
        start: Option<i64>,
        end: Option<i64>,
        unit: RangeUnit,
    ) -> EngineResult<i64> {
        let Some(b) = self.read_bits(key)? else {
            return Ok(if bit { -1 } else { 0 });
        };
        let len = b.len() as i64;
        let units = match unit {
            RangeUnit::Byte => len,
            RangeUnit::Bit => len * 8,
        };
        let Some((s, e)) = resolve(start.unwrap_or(0), end.unwrap_or(-1), units) else {
            return Ok(-1);
        };
        let (first, last) = match unit {
            RangeUnit::Byte => (s * 8, e * 8 + 7),
            RangeUnit::Bit => (s, e),
        };
        if let Some(i) = (first..=last).find(|&i| bit_at(b, i) == bit) {
            return Ok(i);
        }
        Ok(if !bit && end.is_none() { last + 1 } else { -1 })
    }

    /// BITOP; stores the result at `dest` (deleting it when empty) and
    /// returns its length.
    pub fn bitop(&mut self, op: BitOp, dest: &[u8], sources: &[&[u8]]) -> EngineResult<usize> {
        let mut inputs = Vec::with_capacity(sources.len());
        for key in sources {
            inputs.push(self.bits_of(key)?);
        }
        let len = inputs.iter().map(|b| b.len()).max().unwrap_or(0);
        self.check_size(len)?;
        let byte = |b: &Blob, i: usize| b.get(i).copied().unwrap_or(0);
        let out: Vec<u8> = (0..len)
            .map(|i| {
                let mut it = inputs.iter().map(|b| byte(b, i));
                let first = it.next().unwrap_or(0);
                match op {
                    BitOp::And => it.fold(first, |a, x| a & x),
                    BitOp::Or => it.fold(first, |a, x| a | x),
                    BitOp::Xor => it.fold(first, |a, x| a ^ x),
                    BitOp::Not => !first,
                }
            })
            .collect();
        if out.is_empty() {
            self.delete(dest)?;
        } else {
            let expire_at = 0;
            self.put(dest, Value::Str(blob(&out)), expire_at)?;
        }
        Ok(out.len())
    }
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldType {
    /// Two's complement (`i`) or unsigned (`u`).
    pub signed: bool,
    /// Width in bits.
    pub bits: u32,
}

/// What BITFIELD does when SET or INCRBY leaves the type's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Wrap around modulo the type's range (the default).
    #[default]
    Wrap,
    /// Clamp to the type's minimum or maximum.
    Sat,
    /// Leave the field unchanged and answer nil.
    Fail,
}

/// One BITFIELD operation; `offset` is in bits (`#n` already multiplied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// GET: the field's value.
    Get {
        /// Type.
        ty: FieldType,
        /// Bit offset.
        offset: u64,
    },
    /// SET: stores `value`, answers the old value.
    Set {
        /// Type.
        ty: FieldType,
        /// Bit offset.
        offset: u64,
        /// New value.
        value: i64,
        /// Overflow rule in force.
        overflow: Overflow,
    },
    /// INCRBY: adds `incr`, answers the new value.
    IncrBy {
        /// Type.
        ty: FieldType,
        /// Bit offset.
        offset: u64,
        /// Increment.
        incr: i64,
        /// Overflow rule in force.
        overflow: Overflow,
    },
}

impl FieldOp {
    fn writes(&self) -> Option<(FieldType, u64)> {
        match *self {
            FieldOp::Get { .. } => None,
            FieldOp::Set { ty, offset, .. } | FieldOp::IncrBy { ty, offset, .. } => {
                Some((ty, offset))
            }
        }
    }
}

fn get_unsigned(b: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..u64::from(bits) {
        let pos = offset + i;
        let bit = b
            .get((pos / 8) as usize)
            .is_some_and(|byte| byte & (0x80 >> (pos % 8)) != 0);
        v = (v << 1) | u64::from(bit);
    }
    v
}

fn get_signed(b: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(b, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        v |= u64::MAX << bits;
    }
    v as i64
}

/// Writes the low `bits` of `value`; the caller sized `b` to hold them.
fn set_bits(b: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let on = (value >> (u64::from(bits) - 1 - i)) & 1 != 0;
        let pos = offset + i;
        if let Some(byte) = b.get_mut((pos / 8) as usize) {
            let mask = 0x80u8 >> (pos % 8);
            if on {
                *byte |= mask;
            } else {
                *byte &= !mask;
            }
        }
    }
}

/// Redis's unsigned overflow check: whether `value + incr` leaves `bits`
/// bits, and the wrapped or saturated result to store instead.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, rule: Overflow) -> (bool, u64) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = 0u64.wrapping_sub(value) as i64;
    let wrapped = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > max_incr) {
        (
            true,
            if rule == Overflow::Sat {
                max
            } else {
                wrapped()
            },
        )
    } else if incr < 0 && incr < min_incr {
        (true, if rule == Overflow::Sat { 0 } else { wrapped() })
    } else {
        (false, value.wrapping_add(incr as u64))
    }
}

/// Redis's signed overflow check, as [`unsigned_overflow`].
fn signed_overflow(value: i64, incr: i64, bits: u32, rule: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        (
            true,
            if rule == Overflow::Sat {
                max
            } else {
                wrapped()
            },
        )
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        (
            true,
            if rule == Overflow::Sat {
                min
            } else {
                wrapped()
            },
        )
    } else {
        (false, value.wrapping_add(incr))
    }
}

/// Runs one write op on `b`: the reply (None on a FAIL overflow).
fn apply_write(b: &mut [u8], op: &FieldOp) -> Option<i64> {
    let (ty, offset, arg, overflow, incr) = match *op {
        FieldOp::Get { .. } => return None,
        FieldOp::Set {
            ty,
            offset,
            value,
            overflow,
        } => (ty, offset, value, overflow, false),
        FieldOp::IncrBy {
            ty,
            offset,
            incr,
            overflow,
        } => (ty, offset, incr, overflow, true),
    };
    let (over, new, reply) = if ty.signed {
        let old = get_signed(b, offset, ty.bits);
        let (over, new) = if incr {
            signed_overflow(old, arg, ty.bits, overflow)
        } else {
            let (over, w) = signed_overflow(arg, 0, ty.bits, overflow);
            (over, if over { w } else { arg })
        };
        (over, new as u64, if incr { new } else { old })
    } else {
        let old = get_unsigned(b, offset, ty.bits);
        let (over, new) = if incr {
            unsigned_overflow(old, arg, ty.bits, overflow)
        } else {
            let (over, w) = unsigned_overflow(arg as u64, 0, ty.bits, overflow);
            (over, if over { w } else { arg as u64 })
        };
        (over, new, if incr { new as i64 } else { old as i64 })
    };
    if over && overflow == Overflow::Fail {
        return None;
    }
    set_bits(b, offset, ty.bits, new);
    Some(reply)
}

impl Txn<'_> {
    /// BITFIELD: runs `ops` in order; one reply per op (`None` where a FAIL
    /// overflow skipped it). With any write, the string is first grown to
    /// hold the farthest bit written, as Redis does, even if every write
    /// then fails.
    pub fn bitfield(&mut self, key: &[u8], ops: &[FieldOp]) -> EngineResult<Vec<Option<i64>>> {
        let highest = ops
            .iter()
            .filter_map(FieldOp::writes)
            .map(|(ty, offset)| offset + u64::from(ty.bits) - 1)
            .max();
        let Some(highest) = highest else {
            let b = self.bits_of(key)?;
            return Ok(ops
                .iter()
                .map(|op| match *op {
                    FieldOp::Get { ty, offset } if ty.signed => {
                        Some(get_signed(&b, offset, ty.bits))
                    }
                    FieldOp::Get { ty, offset } => Some(get_unsigned(&b, offset, ty.bits) as i64),
                    _ => None,
                })
                .collect());
        };
        let len = (highest / 8) as usize + 1;
        self.check_size(len)?;
        if let Some(e) = self.peek(key)?
            && e.value.kind() != Kind::Str
        {
            return Err(EngineError::WrongType);
        }
        let mut e = self.write_kind(key, Kind::Str, || Value::Str(Blob::new()))?;
        let Value::Str(b) = &mut e.value else {
            return Err(EngineError::WrongType);
        };
        if b.len() < len {
            b.resize(len, 0);
        }
        Ok(ops
            .iter()
            .map(|op| match *op {
                FieldOp::Get { ty, offset } if ty.signed => Some(get_signed(b, offset, ty.bits)),
                FieldOp::Get { ty, offset } => Some(get_unsigned(b, offset, ty.bits) as i64),
                _ => apply_write(b, op),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_at_any_offset() {
        let mut b = vec![0u8; 16];
        set_bits(&mut b, 5, 13, 0x1abc);
        assert_eq!(get_unsigned(&b, 5, 13), 0x1abc);
        set_bits(&mut b, 3, 64, (-2i64) as u64);
        assert_eq!(get_signed(&b, 3, 64), -2);
        set_bits(&mut b, 0, 4, 0b1000);
        assert_eq!(get_signed(&b, 0, 4), -8);
    }

    #[test]
    fn overflow_rules_match_redis() {
        // u8: 250 + 10 wraps to 4, saturates at 255.
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), (true, 4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), (true, 255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), (true, 0));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Wrap), (true, 251));
        // i8: 120 + 10 wraps to -126, saturates at 127.
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), (true, -126));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Sat), (true, 127));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), (true, -128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (true, i64::MIN)
        );
        assert_eq!(signed_overflow(3, 4, 8, Overflow::Fail), (false, 7));
    }
}

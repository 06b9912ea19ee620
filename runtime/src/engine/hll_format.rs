//! Redis's HyperLogLog string format (`HYLL` header, dense and sparse
//! encodings), so a sketch made by PFADD reads back with GET, moves between
//! Redis and Meridian with GET/SET, and PFCOUNT gives Redis's exact answers.
//!
//! Layout (Redis `hyperloglog.c`): a 16-byte header — `HYLL`, one encoding
//! byte (0 dense, 1 sparse), three unused bytes, eight bytes of cached
//! cardinality (little endian; the top bit of the last byte set means
//! "stale") — then the registers:
//! - **dense**: 16384 six-bit registers packed least-significant bit first,
//!   12288 bytes;
//! - **sparse**: run-length opcodes, `00xxxxxx` (1–64 zero registers),
//!   `01xxxxxx yyyyyyyy` (1–16384 zero registers), `1vvvvvxx` (1–4 registers
//!   of value 1–32).
//!
//! Meridian reads both encodings and always writes dense (a sparse sketch is
//! converted on its first write). Element hashing and the cardinality
//! estimator follow Redis's, so counts match Redis for the same elements.
//!
//! This file owns only the byte format; the commands are in `hyperloglog`.

use crate::crdt::{HLL_REGISTERS, Hll};

/// Header bytes before the registers.
const HEADER: usize = 16;
/// Bits per dense register.
const BITS: usize = 6;
/// Register value mask.
const MAX: u8 = (1 << BITS) - 1;
/// Size of a dense sketch's register area.
const DENSE_BYTES: usize = (HLL_REGISTERS * BITS).div_ceil(8);
/// Size of a whole dense sketch.
pub const DENSE_SIZE: usize = HEADER + DENSE_BYTES;
/// Seed of Redis's element hash (MurmurHash64A).
const SEED: u64 = 0xadc8_3b19;
/// `HLL_Q` in Redis: the hash bits left after the register index.
const Q: usize = 50;

/// What is wrong with a string that should hold a sketch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// Not a sketch at all (no `HYLL` header, unknown encoding, bad size).
    NotHll,
    /// A sketch whose sparse opcodes do not add up to 16384 registers.
    Corrupt,
}

/// A new, empty dense sketch.
pub fn empty_dense() -> Vec<u8> {
    let mut v = vec![0u8; DENSE_SIZE];
    v[..4].copy_from_slice(b"HYLL");
    v
}

/// The register and value an element maps to (Redis `hllPatLen`).
pub fn position(element: &[u8]) -> (usize, u8) {
    Hll::position(murmur2::murmur64a(element, SEED))
}

/// Checks `bytes` is a sketch; returns whether it is dense.
pub fn check(bytes: &[u8]) -> Result<bool, FormatError> {
    if bytes.len() < HEADER || &bytes[..4] != b"HYLL" {
        return Err(FormatError::NotHll);
    }
    match bytes[4] {
        0 if bytes.len() == DENSE_SIZE => Ok(true),
        1 => Ok(false),
        _ => Err(FormatError::NotHll),
    }
}

/// Dense register `i` of a checked dense sketch.
fn dense_get(bytes: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, shift) = (HEADER + bit / 8, bit % 8);
    let lo = u16::from(bytes[byte]);
    let hi = bytes.get(byte + 1).map_or(0, |&b| u16::from(b));
    (((lo | (hi << 8)) >> shift) as u8) & MAX
}

/// Sets dense register `i` of a checked dense sketch to `v` (≤ 63).
fn dense_set(bytes: &mut [u8], i: usize, v: u8) {
    let bit = i * BITS;
    let (byte, shift) = (HEADER + bit / 8, bit % 8);
    let word = (u16::from(v & MAX)) << shift;
    let mask = u16::from(MAX) << shift;
    bytes[byte] = (bytes[byte] & !(mask as u8)) | word as u8;
    if let Some(b) = bytes.get_mut(byte + 1) {
        *b = (*b & !((mask >> 8) as u8)) | (word >> 8) as u8;
    }
}

/// Marks the cached cardinality stale.
fn invalidate_cache(bytes: &mut [u8]) {
    bytes[15] |= 0x80;
}

/// All registers of a sketch, whatever its encoding.
pub fn registers(bytes: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut regs = vec![0u8; HLL_REGISTERS];
    if check(bytes)? {
        for (i, r) in regs.iter_mut().enumerate() {
            *r = dense_get(bytes, i);
        }
        return Ok(regs);
    }
    let mut at = 0usize;
    let mut ops = bytes[HEADER..].iter();
    while let Some(&op) = ops.next() {
        let (run, value) = if op & 0x80 != 0 {
            (usize::from(op & 0x3) + 1, ((op >> 2) & 0x1f) + 1)
        } else if op & 0x40 != 0 {
            let next = *ops.next().ok_or(FormatError::Corrupt)?;
            ((usize::from(op & 0x3f) << 8 | usize::from(next)) + 1, 0)
        } else {
            (usize::from(op & 0x3f) + 1, 0)
        };
        let end = at + run;
        if end > HLL_REGISTERS {
            return Err(FormatError::Corrupt);
        }
        regs[at..end].fill(value);
        at = end;
    }
    if at != HLL_REGISTERS {
        return Err(FormatError::Corrupt);
    }
    Ok(regs)
}

/// A dense sketch holding `regs`.
pub fn dense_from(regs: &[u8]) -> Vec<u8> {
    let mut out = empty_dense();
    for (i, &r) in regs.iter().enumerate().take(HLL_REGISTERS) {
        if r != 0 {
            dense_set(&mut out, i, r);
        }
    }
    invalidate_cache(&mut out);
    out
}

/// Makes `bytes` a dense sketch (converting a sparse one). Errors leave it
/// unchanged.
pub fn make_dense(bytes: &mut Vec<u8>) -> Result<(), FormatError> {
    if !check(bytes)? {
        *bytes = dense_from(&registers(bytes)?);
    }
    Ok(())
}

/// Adds `element` to a dense sketch; true if a register rose.
pub fn dense_add(bytes: &mut [u8], element: &[u8]) -> bool {
    let (i, v) = position(element);
    if dense_get(bytes, i) >= v {
        return false;
    }
    dense_set(bytes, i, v);
    invalidate_cache(bytes);
    true
}

/// Whether adding `element` to a checked dense sketch would raise a register.
pub fn would_raise(bytes: &[u8], element: &[u8]) -> bool {
    let (i, v) = position(element);
    dense_get(bytes, i) < v
}

/// Raises every register of `into` to at least `regs`'s.
pub fn max_into(into: &mut [u8], regs: &[u8]) {
    for (a, &b) in into.iter_mut().zip(regs) {
        *a = (*a).max(b);
    }
}

/// Redis's `hllSigma` (Ertl's improved estimator).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Redis's `hllTau`.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate of `regs`, computed as Redis's `hllCount`.
pub fn count(regs: &[u8]) -> u64 {
    let m = HLL_REGISTERS as f64;
    let mut histogram = [0u32; 64];
    for &r in regs {
        histogram[usize::from(r & MAX)] += 1;
    }
    let mut z = m * tau((m - f64::from(histogram[Q + 1])) / m);
    for &h in histogram[1..=Q].iter().rev() {
        z += f64::from(h);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    (ALPHA_INF * m * m / z).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_registers_round_trip_at_every_bit_offset() {
        let mut d = empty_dense();
        for i in 0..HLL_REGISTERS {
            dense_set(&mut d, i, (i % 64) as u8);
        }
        for i in 0..HLL_REGISTERS {
            assert_eq!(dense_get(&d, i), (i % 64) as u8, "register {i}");
        }
        assert_eq!(registers(&d).expect("dense")[HLL_REGISTERS - 1], 63);
    }

    /// The sketch Redis 7.0 stores after `PFADD h a b c d e f g` (sparse).
    const REDIS_SPARSE_7: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80Fm\x80V\x0c\x80D<\x848\x80P\xb1\x84I\x8c\x80Bm\x80BZ";

    #[test]
    fn a_sparse_sketch_from_redis_decodes_and_counts_alike() {
        let regs = registers(REDIS_SPARSE_7).expect("sparse");
        assert_eq!(count(&regs), 7);
        // Our own hashing puts the same elements in the same registers.
        let mut d = empty_dense();
        for e in ["a", "b", "c", "d", "e", "f", "g"] {
            dense_add(&mut d, e.as_bytes());
        }
        assert_eq!(registers(&d).expect("dense"), regs);
    }

    #[test]
    fn bad_sketches_are_refused() {
        assert_eq!(check(b"hello"), Err(FormatError::NotHll));
        assert_eq!(
            check(b"HYLL\x00short...........").err(),
            Some(FormatError::NotHll)
        );
        // A sparse sketch whose runs cover fewer than 16384 registers.
        let mut short = REDIS_SPARSE_7.to_vec();
        short.truncate(20);
        assert_eq!(registers(&short).err(), Some(FormatError::Corrupt));
        assert_eq!(count(&vec![0u8; HLL_REGISTERS]), 0);
    }
}

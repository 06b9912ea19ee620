//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO.

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::bitmaps::{BitOp, FieldOp, FieldType, Overflow, RangeUnit};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// Largest bit offset Redis accepts (a 512 MiB string).
const MAX_BIT_OFFSET: u64 = (512 << 20) * 8 - 1;

fn offset(arg: &[u8]) -> Result<u64, CmdError> {
    match crate::engine::number::parse_i64(arg) {
        Some(v) if v >= 0 && v as u64 <= MAX_BIT_OFFSET => Ok(v as u64),
        _ => Err(CmdError::msg(
            "ERR bit offset is not an integer or out of range",
        )),
    }
}

fn bit(arg: &[u8]) -> Result<bool, CmdError> {
    match arg {
        b"0" => Ok(false),
        b"1" => Ok(true),
        _ => Err(CmdError::msg("ERR bit is not an integer or out of range")),
    }
}

fn unit(arg: &[u8]) -> Result<RangeUnit, CmdError> {
    if is(arg, "byte") {
        Ok(RangeUnit::Byte)
    } else if is(arg, "bit") {
        Ok(RangeUnit::Bit)
    } else {
        Err(CmdError::Syntax)
    }
}

fn setbit(ctx: &mut Ctx, req: &Request) -> R {
    let (off, on) = (offset(req.arg(2))?, bit(req.arg(3))?);
    let old = ctx.txn.setbit(req.arg(1), off, on)?;
    ctx.out.int(old as i64);
    Ok(Flow::Done)
}

fn getbit(ctx: &mut Ctx, req: &Request) -> R {
    let off = offset(req.arg(2))?;
    let v = ctx.txn.getbit(req.arg(1), off)?;
    ctx.out.int(v as i64);
    Ok(Flow::Done)
}

fn bitcount(ctx: &mut Ctx, req: &Request) -> R {
    let range = match req.len() {
        2 => None,
        4 => Some((
            args::int(req.arg(2))?,
            args::int(req.arg(3))?,
            RangeUnit::Byte,
        )),
        5 => Some((
            args::int(req.arg(2))?,
            args::int(req.arg(3))?,
            unit(req.arg(4))?,
        )),
        _ => return Err(CmdError::Syntax),
    };
    let n = ctx.txn.bitcount(req.arg(1), range)?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn bitpos(ctx: &mut Ctx, req: &Request) -> R {
    if req.len() > 6 {
        return Err(CmdError::Syntax);
    }
    let b = match req.arg(2) {
        b"0" => false,
        b"1" => true,
        _ => return Err(CmdError::msg("ERR The bit argument must be 1 or 0.")),
    };
    let start = (req.len() > 3).then(|| args::int(req.arg(3))).transpose()?;
    let end = (req.len() > 4).then(|| args::int(req.arg(4))).transpose()?;
    let u = if req.len() > 5 {
        unit(req.arg(5))?
    } else {
        RangeUnit::Byte
    };
    let pos = ctx.txn.bitpos(req.arg(1), b, start, end, u)?;
    ctx.out.int(pos);
    Ok(Flow::Done)
}

fn bitop(ctx: &mut Ctx, req: &Request) -> R {
    let op = match req.arg(1) {
        a if is(a, "and") => BitOp::And,
        a if is(a, "or") => BitOp::Or,
        a if is(a, "xor") => BitOp::Xor,
        a if is(a, "not") => BitOp::Not,
        _ => return Err(CmdError::Syntax),
    };
    if op == BitOp::Not && req.len() != 4 {
        return Err(CmdError::msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let sources: Vec<&[u8]> = (3..req.len()).map(|i| req.arg(i)).collect();
    let n = ctx.txn.bitop(op, req.arg(2), &sources)?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn field_type(arg: &[u8]) -> Result<FieldType, CmdError> {
    let bad = || {
        CmdError::msg(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    let bits = crate::engine::number::parse_i64(&arg[1..]).ok_or_else(bad)?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(bad());
    }
    Ok(FieldType {
        signed,
        bits: bits as u32,
    })
}

/// A BITFIELD offset: bits, or `#n` for n fields of the type's width.
fn field_offset(ctx: &Ctx, arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    let bad = || CmdError::msg("ERR bit offset is not an integer or out of range");
    let (digits, scale) = match arg.strip_prefix(b"#") {
        Some(rest) => (rest, i64::from(bits)),
        None => (arg, 1),
    };
    let v = crate::engine::number::parse_i64(digits)
        .and_then(|v| v.checked_mul(scale))
        .ok_or_else(bad)?;
    let max_bytes = ctx.txn.engine().settings().proto_max_bulk_len() as i64;
    if v < 0 || (v >> 3) >= max_bytes {
        return Err(bad());
    }
    Ok(v as u64)
}

fn bitfield_generic(ctx: &mut Ctx, req: &Request, readonly: bool) -> R {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut writes = false;
    let mut j = 2;
    while j < req.len() {
        let left = req.len() - j - 1;
        let sub = req.arg(j);
        if is(sub, "overflow") && left >= 1 {
            overflow = match req.arg(j + 1) {
                a if is(a, "wrap") => Overflow::Wrap,
                a if is(a, "sat") => Overflow::Sat,
                a if is(a, "fail") => Overflow::Fail,
                _ => return Err(CmdError::msg("ERR Invalid OVERFLOW type specified")),
            };
            j += 2;
            continue;
        }
        let get = is(sub, "get") && left >= 2;
        let set = is(sub, "set") && left >= 3;
        let incr = is(sub, "incrby") && left >= 3;
        if !(get || set || incr) {
            return Err(CmdError::Syntax);
        }
        let ty = field_type(req.arg(j + 1))?;
        let offset = field_offset(ctx, req.arg(j + 2), ty.bits)?;
        if get {
            ops.push(FieldOp::Get { ty, offset });
            j += 3;
            continue;
        }
        writes = true;
        let value = args::int(req.arg(j + 3))?;
        ops.push(if set {
            FieldOp::Set {
                ty,
                offset,
                value,
                overflow,
            }
        } else {
            FieldOp::IncrBy {
                ty,
                offset,
                incr: value,
                overflow,
            }
        });
        j += 4;
    }
    if readonly && writes {
        return Err(CmdError::msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let replies = ctx.txn.bitfield(req.arg(1), &ops)?;
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
    Ok(Flow::Done)
}

fn bitfield(ctx: &mut Ctx, req: &Request) -> R {
    bitfield_generic(ctx, req, false)
}

fn bitfield_ro(ctx: &mut Ctx, req: &Request) -> R {
    bitfield_generic(ctx, req, true)
}

/// Keys of BITOP: the destination and every source.
const FROM_2: KeySpec = KeySpec::Range {
    first: 2,
    last: -1,
    step: 1,
};

/// The bitmap commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, KeySpec::FIRST, setbit).doc(
        "bitmap",
        "Sets or clears the bit at offset of the string value.",
    ),
    CommandSpec::new("getbit", 3, READONLY | FAST, KeySpec::FIRST, getbit)
        .doc("bitmap", "Returns a bit value by offset."),
    CommandSpec::new("bitcount", -2, READONLY, KeySpec::FIRST, bitcount)
        .doc("bitmap", "Counts the number of set bits in a string."),
    CommandSpec::new("bitpos", -3, READONLY, KeySpec::FIRST, bitpos)
        .doc("bitmap", "Finds the first set or clear bit in a string."),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, FROM_2, bitop).doc(
        "bitmap",
        "Performs bitwise operations on multiple strings, and stores the result.",
    ),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, KeySpec::FIRST, bitfield).doc(
        "bitmap",
        "Performs arbitrary bitfield integer operations on strings.",
    ),
    CommandSpec::new(
        "bitfield_ro",
        -2,
        READONLY | FAST,
        KeySpec::FIRST,
        bitfield_ro,
    )
    .doc(
        "bitmap",
        "Performs arbitrary read-only bitfield integer operations on strings.",
    ),
];

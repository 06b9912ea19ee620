//! Hash commands: HSET and friends, HINCRBY/HINCRBYFLOAT, HRANDFIELD, HSCAN.
//! Also the SCAN-option parsing HSCAN and SSCAN share.

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::number::parse_i64;
use crate::resp::{Reply, Request};

type R = Result<Flow, CmdError>;

/// Largest COUNT a scan step honours.
const MAX_SCAN_COUNT: i64 = 1 << 30;

/// The options of HSCAN / SSCAN after the cursor.
pub(super) struct ScanArgs<'a> {
    /// The cursor.
    pub cursor: u64,
    /// MATCH pattern (`None` for none or `*`).
    pub pattern: Option<&'a [u8]>,
    /// COUNT hint (default 10).
    pub count: usize,
    /// NOVALUES (HSCAN only).
    pub novalues: bool,
}

/// Parses a scan cursor as Redis does (`strtoul`: an unsigned 64-bit
/// decimal, optionally signed, a minus wrapping around).
pub(super) fn cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let (neg, digits) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, arg),
    };
    std::str::from_utf8(digits)
        .ok()
        .filter(|s| !s.starts_with('+') || !neg)
        .and_then(|s| s.parse::<u64>().ok())
        .map(|v| if neg { v.wrapping_neg() } else { v })
        .ok_or(CmdError::msg("ERR invalid cursor"))
}

/// Parses MATCH / COUNT (and NOVALUES if `allow_novalues`) from argument 3 on.
pub(super) fn scan_options<'a>(
    req: &'a Request,
    cursor: u64,
    allow_novalues: bool,
) -> Result<ScanArgs<'a>, CmdError> {
    let mut out = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        novalues: false,
    };
    let mut i = 3;
    while i < req.len() {
        let a = req.arg(i);
        let has_value = i + 1 < req.len();
        if is(a, "count") && has_value {
            let n = args::int(req.arg(i + 1))?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            // A huge COUNT just means "everything"; bound it so the scan's
            // bucket budget (a multiple of it) cannot overflow.
            out.count = usize::try_from(n.min(MAX_SCAN_COUNT)).unwrap_or(1);
            i += 2;
        } else if is(a, "match") && has_value {
            let p = req.arg(i + 1);
            out.pattern = (p != b"*").then_some(p);
            i += 2;
        } else if is(a, "novalues") && allow_novalues {
            out.novalues = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(out)
}

/// Writes a scan reply's cursor.
pub(super) fn scan_cursor(out: &mut Reply, cursor: u64) {
    let mut b = itoa::Buffer::new();
    out.bulk(b.format(cursor).as_bytes());
}

/// Parses a random-element count as HRANDFIELD/SRANDMEMBER do.
pub(super) fn rand_count(arg: &[u8]) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(i64::MIN) => Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        Some(v) => Ok(v),
        None => Err(CmdError::NotInteger),
    }
}

fn hset(ctx: &mut Ctx, req: &Request) -> R {
    if !req.len().is_multiple_of(2) {
        return Err(CmdError::Arity(req.name_lower()));
    }
    let pairs = (2..req.len())
        .step_by(2)
        .map(|i| (req.arg(i), req.arg(i + 1)));
    let added = ctx.txn.hset(req.arg(1), pairs)?;
    if is(req.arg(0), "hmset") {
        ctx.out.ok();
    } else {
        ctx.out.int(added as i64);
    }
    Ok(Flow::Done)
}

fn hsetnx(ctx: &mut Ctx, req: &Request) -> R {
    let set = ctx.txn.hsetnx(req.arg(1), req.arg(2), req.arg(3))?;
    ctx.out.int(set as i64);
    Ok(Flow::Done)
}

fn hget(ctx: &mut Ctx, req: &Request) -> R {
    let v = ctx.txn.hget(req.arg(1), req.arg(2))?;
    ctx.out.bulk_opt(v);
    Ok(Flow::Done)
}

fn hmget(ctx: &mut Ctx, req: &Request) -> R {
    let h = ctx.txn.hash(req.arg(1))?;
    ctx.out.array(req.len() - 2);
    for f in req.args_from(2) {
        ctx.out
            .bulk_opt(h.and_then(|h| h.get(f)).map(|v| v.as_slice()));
    }
    Ok(Flow::Done)
}

fn hgetall(ctx: &mut Ctx, req: &Request) -> R {
    match ctx.txn.hash(req.arg(1))? {
        Some(h) => {
            ctx.out.map(h.len());
            for f in h.iter() {
                ctx.out.bulk(&f.name);
                ctx.out.bulk(&f.value);
            }
        }
        None => ctx.out.map(0),
    }
    Ok(Flow::Done)
}

fn hkeys_or_vals(ctx: &mut Ctx, req: &Request, keys: bool) -> R {
    match ctx.txn.hash(req.arg(1))? {
        Some(h) => {
            ctx.out.array(h.len());
            for f in h.iter() {
                ctx.out.bulk(if keys { &f.name } else { &f.value });
            }
        }
        None => ctx.out.array(0),
    }
    Ok(Flow::Done)
}

fn hkeys(ctx: &mut Ctx, req: &Request) -> R {
    hkeys_or_vals(ctx, req, true)
}

fn hvals(ctx: &mut Ctx, req: &Request) -> R {
    hkeys_or_vals(ctx, req, false)
}

fn hdel(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.hdel(req.arg(1), req.args_from(2))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn hexists(ctx: &mut Ctx, req: &Request) -> R {
    let e = ctx.txn.hexists(req.arg(1), req.arg(2))?;
    ctx.out.int(e as i64);
    Ok(Flow::Done)
}

fn hlen(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.hlen(req.arg(1))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn hstrlen(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.hstrlen(req.arg(1), req.arg(2))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn hincrby(ctx: &mut Ctx, req: &Request) -> R {
    let delta = args::int(req.arg(3))?;
    let v = ctx.txn.hincrby(req.arg(1), req.arg(2), delta)?;
    ctx.out.int(v);
    Ok(Flow::Done)
}

fn hincrbyfloat(ctx: &mut Ctx, req: &Request) -> R {
    let delta = args::float(req.arg(3))?;
    let v = ctx.txn.hincrbyfloat(req.arg(1), req.arg(2), delta)?;
    ctx.out.bulk(&v);
    Ok(Flow::Done)
}

fn hrandfield(ctx: &mut Ctx, req: &Request) -> R {
    if req.len() == 2 {
        let f = ctx.txn.hrandfield(req.arg(1))?;
        ctx.out.bulk_opt(f.map(|f| f.name.as_slice()));
        return Ok(Flow::Done);
    }
    let count = rand_count(req.arg(2))?;
    let withvalues = match req.len() {
        3 => false,
        4 if is(req.arg(3), "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    // Each draw costs two replies with values: keep 2 * |count| in range.
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let Some(sample) = ctx.txn.hrandfield_count(req.arg(1), count)? else {
        ctx.out.array(0);
        return Ok(Flow::Done);
    };
    if !withvalues {
        ctx.out.array(sample.len());
        for f in sample {
            ctx.out.bulk(&f.name);
        }
    } else if ctx.out.proto() == crate::resp::Proto::Resp3 {
        // RESP3: an array of [field, value] pairs (repeats make a map wrong).
        ctx.out.array(sample.len());
        for f in sample {
            ctx.out.array(2);
            ctx.out.bulk(&f.name);
            ctx.out.bulk(&f.value);
        }
    } else {
        ctx.out.array(sample.len() * 2);
        for f in sample {
            ctx.out.bulk(&f.name);
            ctx.out.bulk(&f.value);
        }
    }
    Ok(Flow::Done)
}

fn hscan(ctx: &mut Ctx, req: &Request) -> R {
    let cursor = cursor(req.arg(2))?;
    let opts = match scan_options(req, cursor, true) {
        Ok(o) => o,
        // Redis looks the key up before reading the options: a missing key
        // answers an empty page, a wrong-typed one WRONGTYPE.
        Err(e) => {
            if ctx.txn.hash(req.arg(1))?.is_none() {
                ctx.out.array(2);
                scan_cursor(ctx.out, 0);
                ctx.out.array(0);
                return Ok(Flow::Done);
            }
            return Err(e);
        }
    };
    let page = ctx.txn.hscan(
        req.arg(1),
        opts.cursor,
        opts.pattern,
        opts.count,
        !opts.novalues,
    )?;
    ctx.out.array(2);
    scan_cursor(ctx.out, page.cursor);
    let per_item = if opts.novalues { 1 } else { 2 };
    ctx.out.array(page.items.len() * per_item);
    for item in &page.items {
        ctx.out.bulk(&item.field);
        if let Some(v) = &item.value {
            ctx.out.bulk(v);
        }
    }
    Ok(Flow::Done)
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $h:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: KeySpec::FIRST,
            handler: $h,
            group: "hash",
            summary: $summary,
        }
    };
}

/// The hash commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "hset",
        -4,
        WRITE | DENYOOM | FAST,
        hset,
        "Creates or modifies the value of a field in a hash."
    ),
    cmd!(
        "hmset",
        -4,
        WRITE | DENYOOM | FAST,
        hset,
        "Sets the values of multiple fields."
    ),
    cmd!(
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        hsetnx,
        "Sets the value of a field in a hash only when the field doesn't exist."
    ),
    cmd!(
        "hget",
        3,
        READONLY | FAST,
        hget,
        "Returns the value of a field in a hash."
    ),
    cmd!(
        "hmget",
        -3,
        READONLY | FAST,
        hmget,
        "Returns the values of all fields in a hash."
    ),
    cmd!(
        "hgetall",
        2,
        READONLY,
        hgetall,
        "Returns all fields and values in a hash."
    ),
    cmd!("hkeys", 2, READONLY, hkeys, "Returns all fields in a hash."),
    cmd!("hvals", 2, READONLY, hvals, "Returns all values in a hash."),
    cmd!(
        "hdel",
        -3,
        WRITE | FAST,
        hdel,
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."
    ),
    cmd!(
        "hexists",
        3,
        READONLY | FAST,
        hexists,
        "Determines whether a field exists in a hash."
    ),
    cmd!(
        "hlen",
        2,
        READONLY | FAST,
        hlen,
        "Returns the number of fields in a hash."
    ),
    cmd!(
        "hstrlen",
        3,
        READONLY | FAST,
        hstrlen,
        "Returns the length of the value of a field."
    ),
    cmd!(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        hincrby,
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."
    ),
    cmd!(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        hincrbyfloat,
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."
    ),
    cmd!(
        "hrandfield",
        -2,
        READONLY,
        hrandfield,
        "Returns one or more random fields from a hash."
    ),
    cmd!(
        "hscan",
        -3,
        READONLY,
        hscan,
        "Iterates over fields and values of a hash."
    ),
];

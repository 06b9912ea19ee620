//! String commands: GET/SET and variants, counters, ranges.

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::strings::{Expiry, SetCondition, SetOptions};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// Parses an EX/PX/EXAT/PXAT amount into an absolute deadline, with Redis's
/// "invalid expire time" error for non-positive or overflowing values.
pub(super) fn deadline(
    unit: &[u8],
    amount: &[u8],
    now_ms: u64,
    cmd: &str,
) -> Result<u64, CmdError> {
    let v = args::int(amount)?;
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let v = v as u64;
    let at = if is(unit, "ex") {
        v.checked_mul(1000).and_then(|ms| ms.checked_add(now_ms))
    } else if is(unit, "px") {
        v.checked_add(now_ms)
    } else if is(unit, "exat") {
        v.checked_mul(1000)
    } else {
        Some(v)
    };
    at.filter(|&t| t < i64::MAX as u64).ok_or_else(invalid)
}

fn get(ctx: &mut Ctx, req: &Request) -> R {
    let v = ctx.txn.get(req.arg(1))?;
    ctx.out.bulk_opt(v);
    Ok(Flow::Done)
}

/// A fenced write's lock name and token (`FENCE lock token`).
type Fence<'r> = Option<(&'r [u8], u64)>;

/// Parses SET's options from argument 3 on.
fn set_options(req: &Request, now_ms: u64) -> Result<(SetOptions, Fence<'_>), CmdError> {
    let mut o = SetOptions::default();
    let mut fence = None;
    let mut expiry_given = false;
    let mut i = 3;
    while i < req.len() {
        let a = req.arg(i);
        if is(a, "nx") && o.condition == SetCondition::Always {
            o.condition = SetCondition::IfAbsent;
        } else if is(a, "xx") && o.condition == SetCondition::Always {
            o.condition = SetCondition::IfPresent;
        } else if is(a, "get") {
            o.get = true;
        } else if is(a, "keepttl") && !expiry_given {
            o.expiry = Expiry::Keep;
            expiry_given = true;
        } else if (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat"))
            && !expiry_given
            && i + 1 < req.len()
        {
            o.expiry = Expiry::At(deadline(a, req.arg(i + 1), now_ms, "set")?);
            expiry_given = true;
            i += 1;
        } else if is(a, "fence") && fence.is_none() && i + 2 < req.len() {
            fence = Some((req.arg(i + 1), args::uint(req.arg(i + 2))?));
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok((o, fence))
}

fn set(ctx: &mut Ctx, req: &Request) -> R {
    let (opts, fence) = set_options(req, ctx.txn.now_ms())?;
    if let Some((lock, token)) = fence {
        // A token older than one already seen belongs to a holder whose
        // lease has passed on: its write must not land.
        ctx.txn
            .engine()
            .locks()
            .admit_fenced(lock, token)
            .map_err(|e| CmdError::msg(e.to_string()))?;
    }
    let outcome = ctx.txn.set(req.arg(1), req.arg(2), &opts)?;
    if opts.get {
        ctx.out.bulk_opt(outcome.old.as_deref());
    } else if outcome.written {
        ctx.out.ok();
    } else {
        ctx.out.null();
    }
    Ok(Flow::Done)
}

fn setnx(ctx: &mut Ctx, req: &Request) -> R {
    let opts = SetOptions {
        condition: SetCondition::IfAbsent,
        ..Default::default()
    };
    let o = ctx.txn.set(req.arg(1), req.arg(2), &opts)?;
    ctx.out.int(o.written as i64);
    Ok(Flow::Done)
}

fn setex_with(ctx: &mut Ctx, req: &Request, unit: &str, cmd: &str) -> R {
    let at = deadline(unit.as_bytes(), req.arg(2), ctx.txn.now_ms(), cmd)?;
    let opts = SetOptions {
        expiry: Expiry::At(at),
        ..Default::default()
    };
    ctx.txn.set(req.arg(1), req.arg(3), &opts)?;
    ctx.out.ok();
    Ok(Flow::Done)
}

fn setex(ctx: &mut Ctx, req: &Request) -> R {
    setex_with(ctx, req, "ex", "setex")
}

fn psetex(ctx: &mut Ctx, req: &Request) -> R {
    setex_with(ctx, req, "px", "psetex")
}

fn getset(ctx: &mut Ctx, req: &Request) -> R {
    let opts = SetOptions {
        get: true,
        ..Default::default()
    };
    let o = ctx.txn.set(req.arg(1), req.arg(2), &opts)?;
    ctx.out.bulk_opt(o.old.as_deref());
    Ok(Flow::Done)
}

fn getdel(ctx: &mut Ctx, req: &Request) -> R {
    let v = ctx.txn.getdel(req.arg(1))?;
    ctx.out.bulk_opt(v.as_deref());
    Ok(Flow::Done)
}

fn getex(ctx: &mut Ctx, req: &Request) -> R {
    let now = ctx.txn.now_ms();
    let expiry = match req.len() {
        2 => Expiry::Keep,
        3 if is(req.arg(2), "persist") => Expiry::Clear,
        4 if ["ex", "px", "exat", "pxat"]
            .iter()
            .any(|u| is(req.arg(2), u)) =>
        {
            Expiry::At(deadline(req.arg(2), req.arg(3), now, "getex")?)
        }
        _ => return Err(CmdError::Syntax),
    };
    let v = ctx.txn.getex(req.arg(1), expiry)?;
    ctx.out.bulk_opt(v.as_deref());
    Ok(Flow::Done)
}

fn mget(ctx: &mut Ctx, req: &Request) -> R {
    ctx.out.array(req.len() - 1);
    for k in req.args_from(1) {
        // A key of another type reads as nil in MGET, as in Redis.
        match ctx.txn.get(k) {
            Ok(v) => ctx.out.bulk_opt(v),
            Err(crate::engine::EngineError::WrongType) => ctx.out.null(),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Flow::Done)
}

fn mset(ctx: &mut Ctx, req: &Request) -> R {
    if req.len().is_multiple_of(2) {
        return Err(CmdError::Arity(req.name_lower()));
    }
    let opts = SetOptions::default();
    for i in (1..req.len()).step_by(2) {
        ctx.txn.set(req.arg(i), req.arg(i + 1), &opts)?;
    }
    ctx.out.ok();
    Ok(Flow::Done)
}

fn msetnx(ctx: &mut Ctx, req: &Request) -> R {
    if req.len().is_multiple_of(2) {
        return Err(CmdError::Arity(req.name_lower()));
    }
    for i in (1..req.len()).step_by(2) {
        if ctx.txn.exists(req.arg(i))? {
            ctx.out.int(0);
            return Ok(Flow::Done);
        }
    }
    let opts = SetOptions::default();
    for i in (1..req.len()).step_by(2) {
        ctx.txn.set(req.arg(i), req.arg(i + 1), &opts)?;
    }
    ctx.out.int(1);
    Ok(Flow::Done)
}

fn append(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.append(req.arg(1), req.arg(2))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn strlen(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.strlen(req.arg(1))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn getrange(ctx: &mut Ctx, req: &Request) -> R {
    let (start, end) = (args::int(req.arg(2))?, args::int(req.arg(3))?);
    let v = ctx.txn.getrange(req.arg(1), start, end)?;
    ctx.out.bulk(&v);
    Ok(Flow::Done)
}

fn setrange(ctx: &mut Ctx, req: &Request) -> R {
    let offset = args::int(req.arg(2))?;
    if offset < 0 {
        return Err(CmdError::msg("ERR offset is out of range"));
    }
    let n = ctx.txn.setrange(req.arg(1), offset as usize, req.arg(3))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn incr_reply(ctx: &mut Ctx, key: &[u8], delta: i64) -> R {
    let v = ctx.txn.incr_by(key, delta)?;
    ctx.out.int(v);
    Ok(Flow::Done)
}

fn incr(ctx: &mut Ctx, req: &Request) -> R {
    incr_reply(ctx, req.arg(1), 1)
}

fn decr(ctx: &mut Ctx, req: &Request) -> R {
    incr_reply(ctx, req.arg(1), -1)
}

fn incrby(ctx: &mut Ctx, req: &Request) -> R {
    incr_reply(ctx, req.arg(1), args::int(req.arg(2))?)
}

fn decrby(ctx: &mut Ctx, req: &Request) -> R {
    let d = args::int(req.arg(2))?;
    let d = d
        .checked_neg()
        .ok_or(CmdError::msg("ERR decrement would overflow"))?;
    incr_reply(ctx, req.arg(1), d)
}

fn incrbyfloat(ctx: &mut Ctx, req: &Request) -> R {
    let d = args::float(req.arg(2))?;
    let v = ctx.txn.incr_by_float(req.arg(1), d)?;
    ctx.out.bulk(&v);
    Ok(Flow::Done)
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $h:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            handler: $h,
            group: "string",
            summary: $summary,
        }
    };
}

const PAIRS: KeySpec = KeySpec::Range {
    first: 1,
    last: -1,
    step: 2,
};

/// The string commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "get",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        get,
        "Returns the string value of a key."
    ),
    cmd!(
        "set",
        -3,
        WRITE | DENYOOM,
        KeySpec::FIRST,
        set,
        "Sets the string value of a key, ignoring its type."
    ),
    cmd!(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        setnx,
        "Set the string value of a key only when the key doesn't exist."
    ),
    cmd!(
        "setex",
        4,
        WRITE | DENYOOM,
        KeySpec::FIRST,
        setex,
        "Sets the string value and expiration time of a key."
    ),
    cmd!(
        "psetex",
        4,
        WRITE | DENYOOM,
        KeySpec::FIRST,
        psetex,
        "Sets the string value and expiration time in milliseconds of a key."
    ),
    cmd!(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        getset,
        "Returns the previous string value of a key after setting it to a new value."
    ),
    cmd!(
        "getdel",
        2,
        WRITE | FAST,
        KeySpec::FIRST,
        getdel,
        "Returns the string value of a key after deleting the key."
    ),
    cmd!(
        "getex",
        -2,
        WRITE | FAST,
        KeySpec::FIRST,
        getex,
        "Returns the string value of a key after setting its expiration time."
    ),
    cmd!(
        "mget",
        -2,
        READONLY | FAST,
        KeySpec::ALL_FROM_1,
        mget,
        "Atomically returns the string values of one or more keys."
    ),
    cmd!(
        "mset",
        -3,
        WRITE | DENYOOM,
        PAIRS,
        mset,
        "Atomically creates or modifies the string values of one or more keys."
    ),
    cmd!(
        "msetnx",
        -3,
        WRITE | DENYOOM,
        PAIRS,
        msetnx,
        "Atomically modifies the string values of one or more keys only when all keys don't exist."
    ),
    cmd!(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        append,
        "Appends a string to the value of a key. Creates the key if it doesn't exist."
    ),
    cmd!(
        "strlen",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        strlen,
        "Returns the length of a string value."
    ),
    cmd!(
        "getrange",
        4,
        READONLY,
        KeySpec::FIRST,
        getrange,
        "Returns a substring of the string stored at a key."
    ),
    cmd!(
        "substr",
        4,
        READONLY,
        KeySpec::FIRST,
        getrange,
        "Returns a substring from a string value."
    ),
    cmd!(
        "setrange",
        4,
        WRITE | DENYOOM,
        KeySpec::FIRST,
        setrange,
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."
    ),
    cmd!(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        incr,
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."
    ),
    cmd!(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        decr,
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."
    ),
    cmd!(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        incrby,
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."
    ),
    cmd!(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        decrby,
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."
    ),
    cmd!(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        incrbyfloat,
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."
    ),
];

//! Generic key commands: DEL UNLINK EXISTS TYPE TOUCH, RENAME RENAMENX, the
//! TTL family (EXPIRE… PERSIST TTL… EXPIRETIME…), and the keyspace walks KEYS,
//! SCAN and RANDOMKEY.
//!
//! The walks are keyless (`KeySpec::None`): they visit shards one at a time
//! through `Txn::for_each_shard`/`with_shard`, so they never hold two shard
//! locks at once outside MULTI, and use the held ones inside EXEC.

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::keys::{ExpireCondition, ScanOptions, TtlState};
use crate::keyspace::Kind;
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// DEL and UNLINK. Both free at once: there is no background freeing to hand
/// large values to, and UNLINK's reply is the same.
fn del(ctx: &mut Ctx, req: &Request) -> R {
    let mut n = 0;
    for k in req.args_from(1) {
        n += ctx.txn.delete(k)? as i64;
    }
    ctx.out.int(n);
    Ok(Flow::Done)
}

/// EXISTS counts a key once per mention, as Redis does.
fn exists(ctx: &mut Ctx, req: &Request) -> R {
    let mut n = 0;
    for k in req.args_from(1) {
        n += ctx.txn.exists(k)? as i64;
    }
    ctx.out.int(n);
    Ok(Flow::Done)
}

fn touch(ctx: &mut Ctx, req: &Request) -> R {
    let mut n = 0;
    for k in req.args_from(1) {
        n += ctx.txn.touch(k)? as i64;
    }
    ctx.out.int(n);
    Ok(Flow::Done)
}

fn type_(ctx: &mut Ctx, req: &Request) -> R {
    let name = ctx.txn.kind(req.arg(1))?.map_or("none", Kind::name);
    ctx.out.simple(name);
    Ok(Flow::Done)
}

fn rename(ctx: &mut Ctx, req: &Request) -> R {
    ctx.txn.rename(req.arg(1), req.arg(2), false)?;
    ctx.out.ok();
    Ok(Flow::Done)
}

fn renamenx(ctx: &mut Ctx, req: &Request) -> R {
    let done = ctx.txn.rename(req.arg(1), req.arg(2), true)?;
    ctx.out.int(done as i64);
    Ok(Flow::Done)
}

/// Parses the NX/XX/GT/LT flags of the EXPIRE family (from argument 3), with
/// Redis's checks and messages.
fn expire_condition(req: &Request) -> Result<ExpireCondition, CmdError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in req.args_from(3) {
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    // GT already requires a TTL (none counts as infinite), so XX adds nothing
    // to it; XX with LT does.
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::IfNone,
        (_, _, true, _) => ExpireCondition::IfGreater,
        (_, true, _, true) => ExpireCondition::IfSomeAndLess,
        (_, _, _, true) => ExpireCondition::IfLess,
        (_, true, ..) => ExpireCondition::IfSome,
        _ => ExpireCondition::Always,
    })
}

/// EXPIRE PEXPIRE EXPIREAT PEXPIREAT. `unit_ms` is 1000 for seconds;
/// `relative` adds the current time. Negative and past times are allowed (the
/// key is deleted); only overflow is an error, as in Redis.
fn expire_generic(ctx: &mut Ctx, req: &Request, unit_ms: i64, relative: bool) -> R {
    let cond = expire_condition(req)?;
    let amount = args::int(req.arg(2))?;
    let invalid = || {
        CmdError::msg(format!(
            "ERR invalid expire time in '{}' command",
            req.name_lower()
        ))
    };
    let mut at = amount.checked_mul(unit_ms).ok_or_else(invalid)?;
    if relative {
        at = at
            .checked_add(ctx.txn.now_ms() as i64)
            .ok_or_else(invalid)?;
    }
    // Any deadline at or before now deletes the key; 0 stands for all of them.
    let at_ms = at.max(0) as u64;
    let changed = ctx.txn.expire_at(req.arg(1), at_ms, cond)?;
    ctx.out.int(changed as i64);
    Ok(Flow::Done)
}

fn expire(ctx: &mut Ctx, req: &Request) -> R {
    expire_generic(ctx, req, 1000, true)
}

fn pexpire(ctx: &mut Ctx, req: &Request) -> R {
    expire_generic(ctx, req, 1, true)
}

fn expireat(ctx: &mut Ctx, req: &Request) -> R {
    expire_generic(ctx, req, 1000, false)
}

fn pexpireat(ctx: &mut Ctx, req: &Request) -> R {
    expire_generic(ctx, req, 1, false)
}

/// TTL PTTL EXPIRETIME PEXPIRETIME: -2 missing, -1 no TTL, else the remaining
/// (or absolute) time; seconds are rounded to nearest as Redis does.
fn ttl_generic(ctx: &mut Ctx, req: &Request, ms: bool, absolute: bool) -> R {
    let v = match ctx.txn.ttl(req.arg(1))? {
        TtlState::Missing => -2,
        TtlState::Persistent => -1,
        TtlState::ExpiresAt(at) => {
            let t = if absolute {
                at
            } else {
                at.saturating_sub(ctx.txn.now_ms())
            };
            let t = if ms { t } else { t.saturating_add(500) / 1000 };
            t.min(i64::MAX as u64) as i64
        }
    };
    ctx.out.int(v);
    Ok(Flow::Done)
}

fn ttl(ctx: &mut Ctx, req: &Request) -> R {
    ttl_generic(ctx, req, false, false)
}

fn pttl(ctx: &mut Ctx, req: &Request) -> R {
    ttl_generic(ctx, req, true, false)
}

fn expiretime(ctx: &mut Ctx, req: &Request) -> R {
    ttl_generic(ctx, req, false, true)
}

fn pexpiretime(ctx: &mut Ctx, req: &Request) -> R {
    ttl_generic(ctx, req, true, true)
}

fn persist(ctx: &mut Ctx, req: &Request) -> R {
    let changed = ctx.txn.persist(req.arg(1))?;
    ctx.out.int(changed as i64);
    Ok(Flow::Done)
}

fn keys(ctx: &mut Ctx, req: &Request) -> R {
    let found = ctx.txn.keys(req.arg(1))?;
    ctx.out.bulk_array(found.iter().map(|k| &k[..]));
    Ok(Flow::Done)
}

/// Parses a SCAN cursor. Like Redis (strtoul), a negative number wraps.
fn cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::msg("ERR invalid cursor");
    let text = std::str::from_utf8(arg).map_err(|_| invalid())?;
    match text.parse::<u64>() {
        Ok(c) => Ok(c),
        Err(_) => text.parse::<i64>().map(|c| c as u64).map_err(|_| invalid()),
    }
}

fn scan(ctx: &mut Ctx, req: &Request) -> R {
    let start = cursor(req.arg(1))?;
    let mut opts = ScanOptions {
        count: 10,
        ..Default::default()
    };
    // Redis 7.0 accepts an unknown TYPE and simply matches nothing.
    let mut unknown_type = false;
    let mut i = 2;
    while i < req.len() {
        let a = req.arg(i);
        if i + 1 >= req.len() {
            return Err(CmdError::Syntax);
        }
        let v = req.arg(i + 1);
        if is(a, "match") {
            opts.pattern = Some(v);
        } else if is(a, "count") {
            let n = args::int(v)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            opts.count = n as usize;
        } else if is(a, "type") {
            opts.kind = Kind::from_name(v);
            unknown_type = opts.kind.is_none();
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let (next, mut found) = ctx.txn.scan(start, &opts)?;
    if unknown_type {
        found.clear();
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.bulk_array(found.iter().map(|k| &k[..]));
    Ok(Flow::Done)
}

fn randomkey(ctx: &mut Ctx, _req: &Request) -> R {
    let k = ctx.txn.random_key()?;
    ctx.out.bulk_opt(k.as_deref());
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
            group: "generic",
            summary: $summary,
        }
    };
}

/// The generic key commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "del",
        -2,
        WRITE,
        KeySpec::ALL_FROM_1,
        del,
        "Deletes one or more keys."
    ),
    cmd!(
        "unlink",
        -2,
        WRITE | FAST,
        KeySpec::ALL_FROM_1,
        del,
        "Asynchronously deletes one or more keys."
    ),
    cmd!(
        "exists",
        -2,
        READONLY | FAST,
        KeySpec::ALL_FROM_1,
        exists,
        "Determines whether one or more keys exist."
    ),
    cmd!(
        "touch",
        -2,
        READONLY | FAST,
        KeySpec::ALL_FROM_1,
        touch,
        "Returns the number of existing keys out of those specified after updating the time they were last accessed."
    ),
    cmd!(
        "type",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        type_,
        "Determines the type of value stored at a key."
    ),
    cmd!(
        "rename",
        3,
        WRITE,
        KeySpec::FIRST_TWO,
        rename,
        "Renames a key and overwrites the destination."
    ),
    cmd!(
        "renamenx",
        3,
        WRITE | FAST,
        KeySpec::FIRST_TWO,
        renamenx,
        "Renames a key only when the target key name doesn't exist."
    ),
    cmd!(
        "expire",
        -3,
        WRITE | FAST,
        KeySpec::FIRST,
        expire,
        "Sets the expiration time of a key in seconds."
    ),
    cmd!(
        "pexpire",
        -3,
        WRITE | FAST,
        KeySpec::FIRST,
        pexpire,
        "Sets the expiration time of a key in milliseconds."
    ),
    cmd!(
        "expireat",
        -3,
        WRITE | FAST,
        KeySpec::FIRST,
        expireat,
        "Sets the expiration time of a key to a Unix timestamp."
    ),
    cmd!(
        "pexpireat",
        -3,
        WRITE | FAST,
        KeySpec::FIRST,
        pexpireat,
        "Sets the expiration time of a key to a Unix milliseconds timestamp."
    ),
    cmd!(
        "ttl",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        ttl,
        "Returns the expiration time in seconds of a key."
    ),
    cmd!(
        "pttl",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        pttl,
        "Returns the expiration time in milliseconds of a key."
    ),
    cmd!(
        "expiretime",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        expiretime,
        "Returns the expiration time of a key as a Unix timestamp."
    ),
    cmd!(
        "pexpiretime",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        pexpiretime,
        "Returns the expiration time of a key as a Unix milliseconds timestamp."
    ),
    cmd!(
        "persist",
        2,
        WRITE | FAST,
        KeySpec::FIRST,
        persist,
        "Removes the expiration time of a key."
    ),
    cmd!(
        "keys",
        2,
        READONLY,
        KeySpec::None,
        keys,
        "Returns all key names that match a pattern."
    ),
    cmd!(
        "scan",
        -2,
        READONLY,
        KeySpec::None,
        scan,
        "Iterates over the key names in the database."
    ),
    cmd!(
        "randomkey",
        1,
        READONLY,
        KeySpec::None,
        randomkey,
        "Returns a random key name from the database."
    ),
];

//! List commands: pushes and pops, indexed access, LRANGE/LTRIM/LREM/LINSERT/
//! LPOS, moves (LMOVE, RPOPLPUSH), LMPOP, and the blocking pops (BLPOP, BRPOP,
//! BLMOVE, BRPOPLPUSH, BLMPOP).
//!
//! A blocking handler first tries the non-blocking pop; if every key is empty
//! it returns [`Flow::Block`] without writing anything, and the connection
//! waits for a signal on the keys and runs the handler again.

use smallvec::SmallVec;

use super::args::{self, is};
use super::flags::*;
use super::{Blocked, CmdError, CommandSpec, Ctx, Flow, KeySpec, TimeoutReply};
use crate::engine::EngineError;
use crate::engine::lists::{End, PosOptions, Side};
use crate::engine::number::parse_i64;
use crate::keyspace::Kind;
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// LEFT or RIGHT, else a syntax error.
fn end(arg: &[u8]) -> Result<End, CmdError> {
    if is(arg, "left") {
        Ok(End::Left)
    } else if is(arg, "right") {
        Ok(End::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

/// A non-negative integer whose every failure (not a number, negative) gets
/// the same message, as Redis's `getPositiveLongFromObjectOrReply`.
fn non_negative(arg: &[u8], msg: &'static str) -> Result<usize, CmdError> {
    match parse_i64(arg) {
        Some(v) if v >= 0 => Ok(usize::try_from(v).unwrap_or(usize::MAX)),
        _ => Err(CmdError::msg(msg)),
    }
}

/// An integer in `1..` whose every failure gets `msg`, as Redis's
/// `getRangeLongFromObjectOrReply(…, 1, LONG_MAX, …)`.
fn at_least_one(arg: &[u8], msg: &'static str) -> Result<usize, CmdError> {
    match parse_i64(arg) {
        Some(v) if v >= 1 => Ok(usize::try_from(v).unwrap_or(usize::MAX)),
        _ => Err(CmdError::msg(msg)),
    }
}

fn push_with(ctx: &mut Ctx, req: &Request, at: End, only_if_exists: bool) -> R {
    let n = ctx
        .txn
        .list_push(req.arg(1), at, req.args_from(2), only_if_exists)?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn lpush(ctx: &mut Ctx, req: &Request) -> R {
    push_with(ctx, req, End::Left, false)
}

fn rpush(ctx: &mut Ctx, req: &Request) -> R {
    push_with(ctx, req, End::Right, false)
}

fn lpushx(ctx: &mut Ctx, req: &Request) -> R {
    push_with(ctx, req, End::Left, true)
}

fn rpushx(ctx: &mut Ctx, req: &Request) -> R {
    push_with(ctx, req, End::Right, true)
}

fn pop_with(ctx: &mut Ctx, req: &Request, at: End) -> R {
    match req.len() {
        2 => {
            let v = ctx.txn.list_pop_one(req.arg(1), at)?;
            ctx.out.bulk_opt(v.as_deref());
        }
        3 => {
            let count = non_negative(req.arg(2), "ERR value is out of range, must be positive")?;
            // Redis 7: a count on a missing key is a null array, count 0 on an
            // existing one an empty array.
            match ctx.txn.list_pop(req.arg(1), at, count)? {
                Some(v) => ctx.out.bulk_array(v.iter().map(|b| b.as_slice())),
                None => ctx.out.null_array(),
            }
        }
        _ => return Err(CmdError::Arity(req.name_lower())),
    }
    Ok(Flow::Done)
}

fn lpop(ctx: &mut Ctx, req: &Request) -> R {
    pop_with(ctx, req, End::Left)
}

fn rpop(ctx: &mut Ctx, req: &Request) -> R {
    pop_with(ctx, req, End::Right)
}

fn llen(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.llen(req.arg(1))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn lrange(ctx: &mut Ctx, req: &Request) -> R {
    let (start, stop) = (args::int(req.arg(2))?, args::int(req.arg(3))?);
    let items = ctx.txn.lrange(req.arg(1), start, stop)?;
    ctx.out.bulk_array(items);
    Ok(Flow::Done)
}

fn lindex(ctx: &mut Ctx, req: &Request) -> R {
    let index = match args::int(req.arg(2)) {
        Ok(i) => i,
        Err(e) => {
            // Redis looks the key up before parsing the index: a missing key
            // is nil and a wrong type WRONGTYPE whatever the index says.
            if ctx.txn.llen(req.arg(1))? == 0 {
                ctx.out.null();
                return Ok(Flow::Done);
            }
            return Err(e);
        }
    };
    let v = ctx.txn.lindex(req.arg(1), index)?;
    ctx.out.bulk_opt(v);
    Ok(Flow::Done)
}

fn lset(ctx: &mut Ctx, req: &Request) -> R {
    let index = match args::int(req.arg(2)) {
        Ok(i) => i,
        // As in Redis: a missing key or wrong type wins over a bad index.
        Err(e) => match ctx.txn.kind(req.arg(1))? {
            None => return Err(EngineError::NoSuchKey.into()),
            Some(Kind::List) => return Err(e),
            Some(_) => return Err(EngineError::WrongType.into()),
        },
    };
    ctx.txn.lset(req.arg(1), index, req.arg(3))?;
    ctx.out.ok();
    Ok(Flow::Done)
}

fn lrem(ctx: &mut Ctx, req: &Request) -> R {
    let count = args::int(req.arg(2))?;
    let n = ctx.txn.lrem(req.arg(1), count, req.arg(3))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn ltrim(ctx: &mut Ctx, req: &Request) -> R {
    let (start, stop) = (args::int(req.arg(2))?, args::int(req.arg(3))?);
    ctx.txn.ltrim(req.arg(1), start, stop)?;
    ctx.out.ok();
    Ok(Flow::Done)
}

fn linsert(ctx: &mut Ctx, req: &Request) -> R {
    let side = if is(req.arg(2), "before") {
        Side::Before
    } else if is(req.arg(2), "after") {
        Side::After
    } else {
        return Err(CmdError::Syntax);
    };
    let n = ctx.txn.linsert(req.arg(1), side, req.arg(3), req.arg(4))?;
    ctx.out.int(n);
    Ok(Flow::Done)
}

fn lpos(ctx: &mut Ctx, req: &Request) -> R {
    let mut opts = PosOptions::default();
    let mut want_array = false;
    let mut i = 3;
    while i < req.len() {
        let Some(value) = req.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        let opt = req.arg(i);
        if is(opt, "rank") {
            opts.rank = args::int(value)?;
            if opts.rank == i64::MIN {
                // Redis (since 7.2) refuses the one rank it cannot negate.
                return Err(CmdError::msg(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            if opts.rank == 0 {
                return Err(CmdError::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(opt, "count") {
            opts.count = non_negative(value, "ERR COUNT can't be negative")?;
            want_array = true;
        } else if is(opt, "maxlen") {
            opts.maxlen = non_negative(value, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let found = ctx.txn.lpos(req.arg(1), req.arg(2), &opts)?;
    if want_array {
        ctx.out.array(found.len());
        for p in found {
            ctx.out.int(p as i64);
        }
    } else {
        match found.first() {
            Some(&p) => ctx.out.int(p as i64),
            None => ctx.out.null(),
        }
    }
    Ok(Flow::Done)
}

fn lmove(ctx: &mut Ctx, req: &Request) -> R {
    let (from, to) = (end(req.arg(3))?, end(req.arg(4))?);
    let v = ctx.txn.lmove(req.arg(1), req.arg(2), from, to)?;
    ctx.out.bulk_opt(v.as_deref());
    Ok(Flow::Done)
}

fn rpoplpush(ctx: &mut Ctx, req: &Request) -> R {
    let v = ctx
        .txn
        .lmove(req.arg(1), req.arg(2), End::Right, End::Left)?;
    ctx.out.bulk_opt(v.as_deref());
    Ok(Flow::Done)
}

/// Key indices of LMPOP-style arguments with `numkeys` at `at`, validated as
/// Redis does (numkeys ≥ 1, and the direction must follow the keys).
fn mpop_key_indices(req: &Request, at: usize) -> Result<SmallVec<[usize; 4]>, CmdError> {
    let numkeys = at_least_one(req.arg(at), "ERR numkeys should be greater than 0")?;
    // The direction sits after the keys; `numkeys` may be absurdly large.
    if numkeys >= req.len().saturating_sub(at + 1) {
        return Err(CmdError::Syntax);
    }
    Ok((at + 1..at + 1 + numkeys).collect())
}

fn lmpop_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    mpop_key_indices(req, 1)
}

fn blmpop_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    // Redis parses the timeout before numkeys.
    args::timeout(req.arg(1))?;
    mpop_key_indices(req, 2)
}

/// Parses `LEFT|RIGHT [COUNT n]` after the keys of an LMPOP-style command.
fn mpop_options(req: &Request, at: usize) -> Result<(End, usize, usize), CmdError> {
    let keys = mpop_key_indices(req, at)?;
    let first = at + 1;
    let dir_at = first + keys.len();
    let dir = end(req.arg(dir_at))?;
    let mut count = None;
    let mut i = dir_at + 1;
    while i < req.len() {
        match req.get(i + 1) {
            Some(v) if count.is_none() && is(req.arg(i), "count") => {
                count = Some(at_least_one(v, "ERR count should be greater than 0")?);
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    Ok((dir, count.unwrap_or(1), keys.len()))
}

/// Tries LMPOP over `numkeys` keys from `first`; writes `[key, [elements]]`
/// and returns true if a list had elements.
fn mpop_try(
    ctx: &mut Ctx,
    req: &Request,
    first: usize,
    numkeys: usize,
    dir: End,
    count: usize,
) -> Result<bool, CmdError> {
    let keys = (first..first + numkeys).map(|i| req.arg(i));
    match ctx.txn.list_mpop(keys, dir, count)? {
        Some((i, v)) => {
            ctx.out.array(2);
            ctx.out.bulk(req.arg(first + i));
            ctx.out.bulk_array(v.iter().map(|b| b.as_slice()));
            Ok(true)
        }
        None => Ok(false),
    }
}

fn lmpop(ctx: &mut Ctx, req: &Request) -> R {
    let (dir, count, numkeys) = mpop_options(req, 1)?;
    if !mpop_try(ctx, req, 2, numkeys, dir, count)? {
        ctx.out.null_array();
    }
    Ok(Flow::Done)
}

fn blmpop(ctx: &mut Ctx, req: &Request) -> R {
    let timeout = args::timeout(req.arg(1))?;
    let (dir, count, numkeys) = mpop_options(req, 2)?;
    if mpop_try(ctx, req, 3, numkeys, dir, count)? {
        return Ok(Flow::Done);
    }
    Ok(Flow::Block(Blocked {
        timeout,
        on_timeout: TimeoutReply::NullArray,
    }))
}

fn bpop_with(ctx: &mut Ctx, req: &Request, at: End) -> R {
    let last = req.len() - 1;
    let timeout = args::timeout(req.arg(last))?;
    let keys = (1..last).map(|i| req.arg(i));
    if let Some((i, v)) = ctx.txn.list_mpop(keys, at, 1)?
        && let Some(b) = v.first()
    {
        ctx.out.array(2);
        ctx.out.bulk(req.arg(1 + i));
        ctx.out.bulk(b);
        return Ok(Flow::Done);
    }
    Ok(Flow::Block(Blocked {
        timeout,
        on_timeout: TimeoutReply::NullArray,
    }))
}

fn blpop(ctx: &mut Ctx, req: &Request) -> R {
    bpop_with(ctx, req, End::Left)
}

fn brpop(ctx: &mut Ctx, req: &Request) -> R {
    bpop_with(ctx, req, End::Right)
}

fn bmove_with(ctx: &mut Ctx, req: &Request, from: End, to: End, timeout_at: usize) -> R {
    let timeout = args::timeout(req.arg(timeout_at))?;
    match ctx.txn.lmove(req.arg(1), req.arg(2), from, to)? {
        Some(v) => {
            ctx.out.bulk(&v);
            Ok(Flow::Done)
        }
        None => Ok(Flow::Block(Blocked {
            timeout,
            on_timeout: TimeoutReply::NullBulk,
        })),
    }
}

fn blmove(ctx: &mut Ctx, req: &Request) -> R {
    // Redis parses both directions before the timeout.
    let (from, to) = (end(req.arg(3))?, end(req.arg(4))?);
    bmove_with(ctx, req, from, to, 5)
}

fn brpoplpush(ctx: &mut Ctx, req: &Request) -> R {
    bmove_with(ctx, req, End::Right, End::Left, 3)
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $h:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            handler: $h,
            group: "list",
            summary: $summary,
        }
    };
}

/// The list commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "lpush",
        -3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        lpush,
        "Prepends one or more elements to a list. Creates the key if it doesn't exist."
    ),
    cmd!(
        "rpush",
        -3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        rpush,
        "Appends one or more elements to a list. Creates the key if it doesn't exist."
    ),
    cmd!(
        "lpushx",
        -3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        lpushx,
        "Prepends one or more elements to a list only when the list exists."
    ),
    cmd!(
        "rpushx",
        -3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        rpushx,
        "Appends an element to a list only when the list exists."
    ),
    cmd!(
        "lpop",
        -2,
        WRITE | FAST,
        KeySpec::FIRST,
        lpop,
        "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."
    ),
    cmd!(
        "rpop",
        -2,
        WRITE | FAST,
        KeySpec::FIRST,
        rpop,
        "Returns and removes the last elements of a list. Deletes the list if the last element was popped."
    ),
    cmd!(
        "llen",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        llen,
        "Returns the length of a list."
    ),
    cmd!(
        "lrange",
        4,
        READONLY,
        KeySpec::FIRST,
        lrange,
        "Returns a range of elements from a list."
    ),
    cmd!(
        "lindex",
        3,
        READONLY,
        KeySpec::FIRST,
        lindex,
        "Returns an element from a list by its index."
    ),
    cmd!(
        "lset",
        4,
        WRITE | DENYOOM,
        KeySpec::FIRST,
        lset,
        "Sets the value of an element in a list by its index."
    ),
    cmd!(
        "lrem",
        4,
        WRITE,
        KeySpec::FIRST,
        lrem,
        "Removes elements from a list. Deletes the list if the last element was removed."
    ),
    cmd!(
        "ltrim",
        4,
        WRITE,
        KeySpec::FIRST,
        ltrim,
        "Removes elements from both ends a list. Deletes the list if all elements were trimmed."
    ),
    cmd!(
        "linsert",
        5,
        WRITE | DENYOOM,
        KeySpec::FIRST,
        linsert,
        "Inserts an element before or after another element in a list."
    ),
    cmd!(
        "lpos",
        -3,
        READONLY,
        KeySpec::FIRST,
        lpos,
        "Returns the index of matching elements in a list."
    ),
    cmd!(
        "lmove",
        5,
        WRITE | DENYOOM,
        KeySpec::FIRST_TWO,
        lmove,
        "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."
    ),
    cmd!(
        "rpoplpush",
        3,
        WRITE | DENYOOM,
        KeySpec::FIRST_TWO,
        rpoplpush,
        "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."
    ),
    cmd!(
        "lmpop",
        -4,
        WRITE,
        KeySpec::Custom(lmpop_keys),
        lmpop,
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."
    ),
    cmd!(
        "blpop",
        -3,
        WRITE | BLOCKING,
        KeySpec::ALL_BUT_LAST,
        blpop,
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."
    ),
    cmd!(
        "brpop",
        -3,
        WRITE | BLOCKING,
        KeySpec::ALL_BUT_LAST,
        brpop,
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."
    ),
    cmd!(
        "blmove",
        6,
        WRITE | DENYOOM | BLOCKING | BLOCKS_ON_FIRST_KEY,
        KeySpec::FIRST_TWO,
        blmove,
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."
    ),
    cmd!(
        "brpoplpush",
        4,
        WRITE | DENYOOM | BLOCKING | BLOCKS_ON_FIRST_KEY,
        KeySpec::FIRST_TWO,
        brpoplpush,
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."
    ),
    cmd!(
        "blmpop",
        -5,
        WRITE | BLOCKING,
        KeySpec::Custom(blmpop_keys),
        blmpop,
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."
    ),
];

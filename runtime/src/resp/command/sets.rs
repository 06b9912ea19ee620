//! Set commands: membership, random members, SMOVE, the set algebra
//! (SINTER/SUNION/SDIFF, their STORE forms, SINTERCARD) and SSCAN.

use smallvec::SmallVec;

use super::flags::*;
use super::hashes::{cursor, rand_count, scan_cursor, scan_options};
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec, args::is};
use crate::engine::number::parse_i64;
use crate::engine::sets::SetOp;
use crate::keyspace::SetValue;
use crate::resp::{Reply, Request};

type R = Result<Flow, CmdError>;

/// Writes a set reply (RESP3 set, RESP2 array).
fn write_set(out: &mut Reply, s: Option<&SetValue>) {
    match s {
        Some(s) => {
            out.set(s.len());
            for m in s.iter() {
                out.bulk(m);
            }
        }
        None => out.set(0),
    }
}

fn sadd(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.sadd(req.arg(1), req.args_from(2))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn srem(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.srem(req.arg(1), req.args_from(2))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn smembers(ctx: &mut Ctx, req: &Request) -> R {
    let s = ctx.txn.set_members(req.arg(1))?;
    write_set(ctx.out, s);
    Ok(Flow::Done)
}

fn sismember(ctx: &mut Ctx, req: &Request) -> R {
    let m = ctx.txn.sismember(req.arg(1), req.arg(2))?;
    ctx.out.int(m as i64);
    Ok(Flow::Done)
}

fn smismember(ctx: &mut Ctx, req: &Request) -> R {
    let s = ctx.txn.set_members(req.arg(1))?;
    ctx.out.array(req.len() - 2);
    for m in req.args_from(2) {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(Flow::Done)
}

fn scard(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.scard(req.arg(1))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn spop(ctx: &mut Ctx, req: &Request) -> R {
    match req.len() {
        2 => {
            let m = ctx.txn.spop(req.arg(1))?;
            ctx.out.bulk_opt(m.as_deref());
        }
        3 => {
            let count = match parse_i64(req.arg(2)) {
                Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => {
                    return Err(CmdError::msg("ERR value is out of range, must be positive"));
                }
            };
            let popped = ctx.txn.spop_count(req.arg(1), count)?;
            ctx.out.set(popped.len());
            for m in &popped {
                ctx.out.bulk(m);
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    Ok(Flow::Done)
}

fn srandmember(ctx: &mut Ctx, req: &Request) -> R {
    match req.len() {
        2 => {
            let m = ctx.txn.srandmember(req.arg(1))?;
            ctx.out.bulk_opt(m.map(|m| m.as_slice()));
        }
        3 => {
            let count = rand_count(req.arg(2))?;
            match ctx.txn.srandmember_count(req.arg(1), count)? {
                Some(sample) => {
                    ctx.out.array(sample.len());
                    for m in sample {
                        ctx.out.bulk(m);
                    }
                }
                None => ctx.out.array(0),
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    Ok(Flow::Done)
}

fn smove(ctx: &mut Ctx, req: &Request) -> R {
    let moved = ctx.txn.smove(req.arg(1), req.arg(2), req.arg(3))?;
    ctx.out.int(moved as i64);
    Ok(Flow::Done)
}

fn keys_from(req: &Request, from: usize) -> SmallVec<[&[u8]; 8]> {
    req.args_from(from).collect()
}

fn algebra(ctx: &mut Ctx, req: &Request, op: SetOp) -> R {
    let result = ctx.txn.set_op(op, &keys_from(req, 1))?;
    write_set(ctx.out, Some(&result));
    Ok(Flow::Done)
}

fn sinter(ctx: &mut Ctx, req: &Request) -> R {
    algebra(ctx, req, SetOp::Inter)
}

fn sunion(ctx: &mut Ctx, req: &Request) -> R {
    algebra(ctx, req, SetOp::Union)
}

fn sdiff(ctx: &mut Ctx, req: &Request) -> R {
    algebra(ctx, req, SetOp::Diff)
}

fn algebra_store(ctx: &mut Ctx, req: &Request, op: SetOp) -> R {
    let n = ctx.txn.set_op_store(op, req.arg(1), &keys_from(req, 2))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn sinterstore(ctx: &mut Ctx, req: &Request) -> R {
    algebra_store(ctx, req, SetOp::Inter)
}

fn sunionstore(ctx: &mut Ctx, req: &Request) -> R {
    algebra_store(ctx, req, SetOp::Union)
}

fn sdiffstore(ctx: &mut Ctx, req: &Request) -> R {
    algebra_store(ctx, req, SetOp::Diff)
}

/// SINTERCARD's `numkeys`, checked against the argument count.
fn sintercard_numkeys(req: &Request) -> Result<usize, CmdError> {
    let n = match req.get(1).and_then(parse_i64) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(CmdError::msg("ERR numkeys should be greater than 0")),
    };
    if n > req.len().saturating_sub(2) as u64 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

/// Key positions of SINTERCARD: `numkeys` arguments after argument 1.
fn sintercard_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    let n = sintercard_numkeys(req)?;
    Ok((2..2 + n).collect())
}

fn sintercard(ctx: &mut Ctx, req: &Request) -> R {
    let n = sintercard_numkeys(req)?;
    let mut limit = 0;
    let mut i = 2 + n;
    while i < req.len() {
        if is(req.arg(i), "limit") && i + 1 < req.len() {
            limit = match parse_i64(req.arg(i + 1)) {
                Some(l) if l >= 0 => usize::try_from(l).unwrap_or(usize::MAX),
                _ => return Err(CmdError::msg("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: SmallVec<[&[u8]; 8]> = (2..2 + n).map(|i| req.arg(i)).collect();
    let card = ctx.txn.sintercard(&keys, limit)?;
    ctx.out.int(card as i64);
    Ok(Flow::Done)
}

fn sscan(ctx: &mut Ctx, req: &Request) -> R {
    let cursor = cursor(req.arg(2))?;
    let opts = match scan_options(req, cursor, false) {
        Ok(o) => o,
        // As HSCAN: the key is looked up before the options are read.
        Err(e) => {
            if ctx.txn.set_members(req.arg(1))?.is_none() {
                ctx.out.array(2);
                scan_cursor(ctx.out, 0);
                ctx.out.array(0);
                return Ok(Flow::Done);
            }
            return Err(e);
        }
    };
    let page = ctx
        .txn
        .sscan(req.arg(1), opts.cursor, opts.pattern, opts.count)?;
    ctx.out.array(2);
    scan_cursor(ctx.out, page.cursor);
    ctx.out.array(page.members.len());
    for m in &page.members {
        ctx.out.bulk(m);
    }
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
            group: "set",
            summary: $summary,
        }
    };
}

/// The set commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "sadd",
        -3,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        sadd,
        "Adds one or more members to a set. Creates the key if it doesn't exist."
    ),
    cmd!(
        "srem",
        -3,
        WRITE | FAST,
        KeySpec::FIRST,
        srem,
        "Removes one or more members from a set. Deletes the set if the last member was removed."
    ),
    cmd!(
        "smembers",
        2,
        READONLY,
        KeySpec::FIRST,
        smembers,
        "Returns all members of a set."
    ),
    cmd!(
        "sismember",
        3,
        READONLY | FAST,
        KeySpec::FIRST,
        sismember,
        "Determines whether a member belongs to a set."
    ),
    cmd!(
        "smismember",
        -3,
        READONLY | FAST,
        KeySpec::FIRST,
        smismember,
        "Determines whether multiple members belong to a set."
    ),
    cmd!(
        "scard",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        scard,
        "Returns the number of members in a set."
    ),
    cmd!(
        "spop",
        -2,
        WRITE | FAST,
        KeySpec::FIRST,
        spop,
        "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."
    ),
    cmd!(
        "srandmember",
        -2,
        READONLY,
        KeySpec::FIRST,
        srandmember,
        "Get one or multiple random members from a set"
    ),
    cmd!(
        "smove",
        4,
        WRITE | FAST,
        KeySpec::FIRST_TWO,
        smove,
        "Moves a member from one set to another."
    ),
    cmd!(
        "sinter",
        -2,
        READONLY,
        KeySpec::ALL_FROM_1,
        sinter,
        "Returns the intersect of multiple sets."
    ),
    cmd!(
        "sunion",
        -2,
        READONLY,
        KeySpec::ALL_FROM_1,
        sunion,
        "Returns the union of multiple sets."
    ),
    cmd!(
        "sdiff",
        -2,
        READONLY,
        KeySpec::ALL_FROM_1,
        sdiff,
        "Returns the difference of multiple sets."
    ),
    cmd!(
        "sinterstore",
        -3,
        WRITE | DENYOOM,
        KeySpec::ALL_FROM_1,
        sinterstore,
        "Stores the intersect of multiple sets in a key."
    ),
    cmd!(
        "sunionstore",
        -3,
        WRITE | DENYOOM,
        KeySpec::ALL_FROM_1,
        sunionstore,
        "Stores the union of multiple sets in a key."
    ),
    cmd!(
        "sdiffstore",
        -3,
        WRITE | DENYOOM,
        KeySpec::ALL_FROM_1,
        sdiffstore,
        "Stores the difference of multiple sets in a key."
    ),
    cmd!(
        "sintercard",
        -3,
        READONLY,
        KeySpec::Custom(sintercard_keys),
        sintercard,
        "Returns the number of members of the intersect of multiple sets."
    ),
    cmd!(
        "sscan",
        -3,
        READONLY,
        KeySpec::FIRST,
        sscan,
        "Iterates over members of a set."
    ),
];

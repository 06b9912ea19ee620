//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE.

use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

fn pfadd(ctx: &mut Ctx, req: &Request) -> R {
    let elements: Vec<&[u8]> = (2..req.len()).map(|i| req.arg(i)).collect();
    let changed = ctx.txn.pfadd(req.arg(1), &elements)?;
    ctx.out.int(changed as i64);
    Ok(Flow::Done)
}

fn pfcount(ctx: &mut Ctx, req: &Request) -> R {
    let keys: Vec<&[u8]> = (1..req.len()).map(|i| req.arg(i)).collect();
    let n = ctx.txn.pfcount(&keys)?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn pfmerge(ctx: &mut Ctx, req: &Request) -> R {
    let sources: Vec<&[u8]> = (2..req.len()).map(|i| req.arg(i)).collect();
    ctx.txn.pfmerge(req.arg(1), &sources)?;
    ctx.out.ok();
    Ok(Flow::Done)
}

/// The HyperLogLog commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, KeySpec::FIRST, pfadd).doc(
        "hyperloglog",
        "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("pfcount", -2, READONLY, KeySpec::ALL_FROM_1, pfcount).doc(
        "hyperloglog",
        "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
    ),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, KeySpec::ALL_FROM_1, pfmerge).doc(
        "hyperloglog",
        "Merges one or more HyperLogLog values into a single key.",
    ),
];

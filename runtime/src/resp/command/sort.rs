//! SORT and SORT_RO: option syntax (BY, LIMIT, GET, ASC/DESC, ALPHA,
//! STORE) parsed left to right as Redis does, and the reply. Semantics live
//! in `engine::sort`.

use smallvec::SmallVec;

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::sort::{SortResult, SortSpec};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

fn parse(req: &Request, readonly: bool) -> Result<SortSpec<'_>, CmdError> {
    let mut spec = SortSpec::default();
    let n = req.len();
    let mut j = 2;
    while j < n {
        let a = req.arg(j);
        let left = n - j - 1;
        if is(a, "asc") {
            spec.desc = false;
        } else if is(a, "desc") {
            spec.desc = true;
        } else if is(a, "alpha") {
            spec.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            spec.limit = Some((args::int(req.arg(j + 1))?, args::int(req.arg(j + 2))?));
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            spec.store = Some(req.arg(j + 1));
            j += 1;
        } else if is(a, "by") && left >= 1 {
            spec.by = Some(req.arg(j + 1));
            j += 1;
        } else if is(a, "get") && left >= 1 {
            spec.gets.push(req.arg(j + 1));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(spec)
}

fn run(ctx: &mut Ctx, req: &Request, readonly: bool) -> R {
    let spec = parse(req, readonly)?;
    match ctx.txn.sort(req.arg(1), &spec)? {
        SortResult::Items(items) => {
            ctx.out.array(items.len());
            for i in &items {
                ctx.out.bulk_opt(i.as_deref());
            }
        }
        SortResult::Stored(n) => ctx.out.int(n as i64),
    }
    Ok(Flow::Done)
}

fn sort(ctx: &mut Ctx, req: &Request) -> R {
    run(ctx, req, false)
}

fn sort_ro(ctx: &mut Ctx, req: &Request) -> R {
    run(ctx, req, true)
}

/// Keys of SORT: the source and a STORE destination (found as the parser
/// finds it, so a GET or BY pattern spelled "store" is not taken for one).
fn sort_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    let mut keys = SmallVec::new();
    keys.push(1);
    let mut j = 2;
    while j < req.len() {
        let a = req.arg(j);
        if is(a, "limit") {
            j += 2;
        } else if is(a, "by") || is(a, "get") {
            j += 1;
        } else if is(a, "store") && j + 1 < req.len() {
            keys.push(j + 1);
            j += 1;
        }
        j += 1;
    }
    Ok(keys)
}

/// The SORT commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "sort",
        -2,
        WRITE | DENYOOM | PATTERN_KEYS,
        KeySpec::Custom(sort_keys),
        sort,
    )
    .doc(
        "generic",
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
    ),
    CommandSpec::new(
        "sort_ro",
        -2,
        READONLY | PATTERN_KEYS,
        KeySpec::FIRST,
        sort_ro,
    )
    .doc(
        "generic",
        "Returns the sorted elements of a list, a set, or a sorted set.",
    ),
];

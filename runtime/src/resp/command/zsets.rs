//! Sorted-set commands: ZADD … ZSCAN, the ZRANGE family (Redis 7 unified
//! syntax and the older spellings), the ZUNION/ZINTER/ZDIFF algebra, and the
//! blocking BZPOPMIN/BZPOPMAX.
//!
//! This file owns the syntax — score bounds (`1.5`, `(1.5`, `-inf`), lex
//! bounds (`[a`, `(a`, `-`, `+`), option parsing — and the reply shapes: with
//! scores, RESP2 gets a flat `[member, score, …]` array with scores as bulk
//! strings, RESP3 an array of `[member, double]` pairs, as Redis 7.

use smallvec::SmallVec;

use super::args::{self, is};
use super::flags::*;
use super::{Blocked, CmdError, CommandSpec, Ctx, Flow, KeySpec, TimeoutReply};
use crate::engine::number::{format_f64, parse_f64, parse_i64};
use crate::engine::zsets::{Aggregate, ZAddOptions, ZLimit, ZRange, ZRangeSpec};
use crate::keyspace::{LexBound, ScoreBound, blob};
use crate::resp::{Proto, Reply, Request};

type R = Result<Flow, CmdError>;

// ---------------------------------------------------------------------------
// Argument syntax

/// One score bound. Redis reads these with `strtod`, which takes an empty
/// string (as in `(`) for 0.
fn score_item(a: &[u8]) -> Option<ScoreBound> {
    let num = |s: &[u8]| {
        if s.is_empty() {
            Some(0.0)
        } else {
            parse_f64(s)
        }
    };
    match a.strip_prefix(b"(") {
        Some(rest) => num(rest).map(ScoreBound::Exclusive),
        None => num(a).map(ScoreBound::Inclusive),
    }
}

fn score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), CmdError> {
    match (score_item(min), score_item(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(CmdError::msg("ERR min or max is not a float")),
    }
}

fn lex_item(a: &[u8]) -> Option<LexBound> {
    match a.first()? {
        b'+' if a.len() == 1 => Some(LexBound::Max),
        b'-' if a.len() == 1 => Some(LexBound::Min),
        b'[' => Some(LexBound::Inclusive(blob(&a[1..]))),
        b'(' => Some(LexBound::Exclusive(blob(&a[1..]))),
        _ => None,
    }
}

fn lex_range(min: &[u8], max: &[u8]) -> Result<(LexBound, LexBound), CmdError> {
    match (lex_item(min), lex_item(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(CmdError::msg("ERR min or max not valid string range item")),
    }
}

/// Writes members, with their scores if `withscores` (see the module docs
/// for the shapes).
fn write_scored<'a>(
    out: &mut Reply,
    items: impl ExactSizeIterator<Item = (&'a [u8], f64)>,
    withscores: bool,
) {
    let n = items.len();
    match (withscores, out.proto()) {
        (false, _) => {
            out.array(n);
            for (m, _) in items {
                out.bulk(m);
            }
        }
        (true, Proto::Resp2) => {
            out.array(2 * n);
            for (m, s) in items {
                out.bulk(m);
                out.double(s);
            }
        }
        (true, Proto::Resp3) => {
            out.array(n);
            for (m, s) in items {
                out.array(2);
                out.bulk(m);
                out.double(s);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Members and scores

fn zadd(ctx: &mut Ctx, req: &Request) -> R {
    let mut o = ZAddOptions::default();
    let (mut ch, mut incr) = (false, false);
    let mut i = 2;
    while i < req.len() {
        let a = req.arg(i);
        if is(a, "nx") {
            o.nx = true;
        } else if is(a, "xx") {
            o.xx = true;
        } else if is(a, "gt") {
            o.gt = true;
        } else if is(a, "lt") {
            o.lt = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            incr = true;
        } else {
            break;
        }
        i += 1;
    }
    // Redis's order of checks: pairing, option conflicts, INCR arity, floats.
    let elements = req.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    o.validate()?;
    if incr && elements > 2 {
        return Err(CmdError::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs: SmallVec<[(f64, &[u8]); 8]> = SmallVec::with_capacity(elements / 2);
    for j in (i..req.len()).step_by(2) {
        pairs.push((args::float(req.arg(j))?, req.arg(j + 1)));
    }
    let key = req.arg(1);
    if incr {
        if let Some(&(delta, member)) = pairs.first() {
            match ctx.txn.zadd_incr(key, &o, delta, member)? {
                Some(s) => ctx.out.double(s),
                None => ctx.out.null(),
            }
        }
    } else {
        let c = ctx.txn.zadd(key, &o, &pairs)?;
        let n = c.added + if ch { c.updated } else { 0 };
        ctx.out.int(n as i64);
    }
    Ok(Flow::Done)
}

fn zincrby(ctx: &mut Ctx, req: &Request) -> R {
    let delta = args::float(req.arg(2))?;
    let s = ctx.txn.zincrby(req.arg(1), delta, req.arg(3))?;
    ctx.out.double(s);
    Ok(Flow::Done)
}

fn zrem(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.zrem(req.arg(1), req.args_from(2))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn zscore(ctx: &mut Ctx, req: &Request) -> R {
    match ctx.txn.zscore(req.arg(1), req.arg(2))? {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(Flow::Done)
}

fn zmscore(ctx: &mut Ctx, req: &Request) -> R {
    let scores = ctx.txn.zmscore(req.arg(1), req.args_from(2))?;
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(Flow::Done)
}

fn zcard(ctx: &mut Ctx, req: &Request) -> R {
    let n = ctx.txn.zcard(req.arg(1))?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn zcount(ctx: &mut Ctx, req: &Request) -> R {
    let (min, max) = score_range(req.arg(2), req.arg(3))?;
    let n = ctx.txn.zcount(req.arg(1), min, max)?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn zlexcount(ctx: &mut Ctx, req: &Request) -> R {
    let (min, max) = lex_range(req.arg(2), req.arg(3))?;
    let n = ctx.txn.zlexcount(req.arg(1), &min, &max)?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn rank_generic(ctx: &mut Ctx, req: &Request, rev: bool) -> R {
    // ZRANK key member [WITHSCORE] (Redis 7.2).
    if req.len() > 4 {
        return Err(CmdError::Arity(req.name_lower()));
    }
    let withscore = match req.get(3) {
        None => false,
        Some(a) if is(a, "withscore") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    match ctx.txn.zrank(req.arg(1), req.arg(2), rev)? {
        Some((rank, score)) if withscore => {
            ctx.out.array(2);
            ctx.out.int(rank as i64);
            ctx.out.double(score);
        }
        Some((rank, _)) => ctx.out.int(rank as i64),
        None if withscore => ctx.out.null_array(),
        None => ctx.out.null(),
    }
    Ok(Flow::Done)
}

fn zrank(ctx: &mut Ctx, req: &Request) -> R {
    rank_generic(ctx, req, false)
}

fn zrevrank(ctx: &mut Ctx, req: &Request) -> R {
    rank_generic(ctx, req, true)
}

// ---------------------------------------------------------------------------
// Ranges

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    /// ZRANGE / ZRANGESTORE: chosen by BYSCORE / BYLEX, else rank.
    Auto,
    Rank,
    Score,
    Lex,
}

/// Every ZRANGE spelling. `src` is the index of the source key (min and max
/// follow it); `by` and `rev` are fixed by the older commands (`None` = the
/// REV option decides).
fn range_generic(
    ctx: &mut Ctx,
    req: &Request,
    src: usize,
    store: bool,
    by: By,
    rev: Option<bool>,
) -> R {
    let (mut by, mut rev) = (by, rev);
    let mut withscores = false;
    // Redis's defaults: LIMIT conflicts with ranks only if a count is given.
    let (mut offset, mut count) = (0i64, -1i64);
    let mut j = src + 3;
    while j < req.len() {
        let a = req.arg(j);
        let left = req.len() - j - 1;
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = args::int(req.arg(j + 1))?;
            count = args::int(req.arg(j + 2))?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if by == By::Auto && is(a, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(a, "byscore") {
            by = By::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let by = if by == By::Auto { By::Rank } else { by };
    if count != -1 && by == By::Rank {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (req.arg(src + 1), req.arg(src + 2));
    if rev && by != By::Rank {
        // Reversed score and lex ranges are written max first.
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match by {
        By::Score => {
            let (min, max) = score_range(lo, hi)?;
            ZRange::Score { min, max }
        }
        By::Lex => {
            let (min, max) = lex_range(lo, hi)?;
            ZRange::Lex { min, max }
        }
        By::Rank | By::Auto => ZRange::Rank {
            start: args::int(lo)?,
            stop: args::int(hi)?,
        },
    };
    let spec = ZRangeSpec {
        limit: (by != By::Rank).then_some(ZLimit { offset, count }),
        range,
        rev,
    };
    if store {
        let n = ctx.txn.zrangestore(req.arg(1), req.arg(src), &spec)?;
        ctx.out.int(n as i64);
    } else {
        let items = ctx.txn.zrange(req.arg(src), &spec)?;
        write_scored(ctx.out, items.into_iter(), withscores);
    }
    Ok(Flow::Done)
}

fn zrange(ctx: &mut Ctx, req: &Request) -> R {
    range_generic(ctx, req, 1, false, By::Auto, None)
}

fn zrangestore(ctx: &mut Ctx, req: &Request) -> R {
    range_generic(ctx, req, 2, true, By::Auto, None)
}

fn zrevrange(ctx: &mut Ctx, req: &Request) -> R {
    range_generic(ctx, req, 1, false, By::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx, req: &Request) -> R {
    range_generic(ctx, req, 1, false, By::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx, req: &Request) -> R {
    range_generic(ctx, req, 1, false, By::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx, req: &Request) -> R {
    range_generic(ctx, req, 1, false, By::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx, req: &Request) -> R {
    range_generic(ctx, req, 1, false, By::Lex, Some(true))
}

fn zremrangebyrank(ctx: &mut Ctx, req: &Request) -> R {
    let (start, stop) = (args::int(req.arg(2))?, args::int(req.arg(3))?);
    let n = ctx
        .txn
        .zremrange(req.arg(1), ZRange::Rank { start, stop })?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn zremrangebyscore(ctx: &mut Ctx, req: &Request) -> R {
    let (min, max) = score_range(req.arg(2), req.arg(3))?;
    let n = ctx.txn.zremrange(req.arg(1), ZRange::Score { min, max })?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn zremrangebylex(ctx: &mut Ctx, req: &Request) -> R {
    let (min, max) = lex_range(req.arg(2), req.arg(3))?;
    let n = ctx.txn.zremrange(req.arg(1), ZRange::Lex { min, max })?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

// ---------------------------------------------------------------------------
// Pops, random members, scans

/// ZPOPMIN's count: Redis words every bad count (even a non-number) as out
/// of range; 0 is allowed.
fn pop_count(a: &[u8]) -> Result<usize, CmdError> {
    match parse_i64(a) {
        Some(v) if v >= 0 => Ok(v as usize),
        _ => Err(CmdError::msg("ERR value is out of range, must be positive")),
    }
}

fn pop_generic(ctx: &mut Ctx, req: &Request, max: bool) -> R {
    if req.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = req.get(2).map(pop_count).transpose()?;
    let items = ctx.txn.zpop(req.arg(1), max, count.unwrap_or(1))?;
    let items = items.iter().map(|(m, s)| (m.as_slice(), *s));
    match count {
        // Without a count: one flat [member, score] even in RESP3.
        None => {
            ctx.out.array(2 * items.len());
            for (m, s) in items {
                ctx.out.bulk(m);
                ctx.out.double(s);
            }
        }
        Some(_) => write_scored(ctx.out, items, true),
    }
    Ok(Flow::Done)
}

fn zpopmin(ctx: &mut Ctx, req: &Request) -> R {
    pop_generic(ctx, req, false)
}

fn zpopmax(ctx: &mut Ctx, req: &Request) -> R {
    pop_generic(ctx, req, true)
}

fn bpop_generic(ctx: &mut Ctx, req: &Request, max: bool) -> R {
    let last = req.len() - 1;
    let timeout = args::timeout(req.arg(last))?;
    for i in 1..last {
        let key = req.arg(i);
        let popped = ctx.txn.zpop(key, max, 1)?;
        if let Some((m, s)) = popped.first() {
            ctx.out.array(3);
            ctx.out.bulk(key);
            ctx.out.bulk(m);
            ctx.out.double(*s);
            return Ok(Flow::Done);
        }
    }
    Ok(Flow::Block(Blocked {
        timeout,
        on_timeout: TimeoutReply::NullArray,
    }))
}

fn bzpopmin(ctx: &mut Ctx, req: &Request) -> R {
    bpop_generic(ctx, req, false)
}

fn bzpopmax(ctx: &mut Ctx, req: &Request) -> R {
    bpop_generic(ctx, req, true)
}

fn zrandmember(ctx: &mut Ctx, req: &Request) -> R {
    let key = req.arg(1);
    let Some(count) = req.get(2) else {
        let m = ctx.txn.zrandmember_one(key)?;
        ctx.out.bulk_opt(m);
        return Ok(Flow::Done);
    };
    let withscores = match req.get(3) {
        None => false,
        Some(a) if is(a, "withscores") && req.len() == 4 => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let count = match parse_i64(count) {
        Some(i64::MIN) => {
            return Err(CmdError::msg(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        Some(v) => v,
        None => return Err(CmdError::NotInteger),
    };
    let items = ctx.txn.zrandmember(key, count)?;
    write_scored(ctx.out, items.into_iter(), withscores);
    Ok(Flow::Done)
}

fn zscan(ctx: &mut Ctx, req: &Request) -> R {
    let cursor = std::str::from_utf8(req.arg(2))
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| CmdError::msg("ERR invalid cursor"))?;
    let (mut pattern, mut count) = (None, 10usize);
    let mut j = 3;
    while j < req.len() {
        let a = req.arg(j);
        if j + 1 >= req.len() {
            return Err(CmdError::Syntax);
        }
        if is(a, "match") {
            pattern = Some(req.arg(j + 1));
        } else if is(a, "count") {
            let c = args::int(req.arg(j + 1))?;
            if c < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(c).unwrap_or(usize::MAX);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 2;
    }
    // A `*` pattern matches everything: skip the matching.
    let pattern = pattern.filter(|p| *p != b"*");
    let (next, items) = ctx.txn.zscan(req.arg(1), cursor, pattern, count)?;
    ctx.out.array(2);
    let mut b = itoa::Buffer::new();
    ctx.out.bulk(b.format(next).as_bytes());
    // ZSCAN gives scores as bulk strings in both protocols.
    ctx.out.array(2 * items.len());
    for (m, s) in &items {
        ctx.out.bulk(m);
        ctx.out.bulk(format_f64(*s).as_bytes());
    }
    Ok(Flow::Done)
}

// ---------------------------------------------------------------------------
// Set algebra

/// The validated `numkeys` at argument `at`.
fn numkeys(req: &Request, at: usize) -> Result<usize, CmdError> {
    let n = args::int(req.get(at).unwrap_or_default())?;
    if n < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{}' command",
            req.name_lower()
        )));
    }
    let n = n as u64;
    if n > (req.len() - at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    Ok(n as usize)
}

/// Keys of `ZUNIONSTORE dst numkeys key…`.
fn store_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    let n = numkeys(req, 2)?;
    let mut keys = SmallVec::with_capacity(n + 1);
    keys.push(1);
    keys.extend(3..3 + n);
    Ok(keys)
}

/// Keys of `ZUNION numkeys key…`.
fn numkeys_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    let n = numkeys(req, 1)?;
    Ok((2..2 + n).collect())
}

/// Parsed arguments of the algebra commands.
struct Algebra<'r> {
    keys: SmallVec<[&'r [u8]; 8]>,
    weights: Option<SmallVec<[f64; 8]>>,
    agg: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Which options a command of the family takes.
#[derive(Clone, Copy)]
struct Accepts {
    weights_aggregate: bool,
    withscores: bool,
    limit: bool,
}

const STORE: Accepts = Accepts {
    weights_aggregate: true,
    withscores: false,
    limit: false,
};
const QUERY: Accepts = Accepts {
    weights_aggregate: true,
    withscores: true,
    limit: false,
};
const DIFF_STORE: Accepts = Accepts {
    weights_aggregate: false,
    withscores: false,
    limit: false,
};
const DIFF_QUERY: Accepts = Accepts {
    weights_aggregate: false,
    withscores: true,
    limit: false,
};
const CARD: Accepts = Accepts {
    weights_aggregate: false,
    withscores: false,
    limit: true,
};

/// Parses `numkeys key… [options]` with numkeys at argument `at`.
fn algebra_args(req: &Request, at: usize, accepts: Accepts) -> Result<Algebra<'_>, CmdError> {
    let n = numkeys(req, at)?;
    let mut a = Algebra {
        keys: req.args_from(at + 1).take(n).collect(),
        weights: None,
        agg: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = at + 1 + n;
    while j < req.len() {
        let arg = req.arg(j);
        let left = req.len() - j - 1;
        if accepts.weights_aggregate && is(arg, "weights") && left >= n {
            let w = req
                .args_from(j + 1)
                .take(n)
                .map(|x| {
                    parse_f64(x).ok_or_else(|| CmdError::msg("ERR weight value is not a float"))
                })
                .collect::<Result<_, _>>()?;
            a.weights = Some(w);
            j += n;
        } else if accepts.weights_aggregate && is(arg, "aggregate") && left >= 1 {
            let v = req.arg(j + 1);
            a.agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 1;
        } else if accepts.withscores && is(arg, "withscores") {
            a.withscores = true;
        } else if accepts.limit && is(arg, "limit") && left >= 1 {
            a.limit = match parse_i64(req.arg(j + 1)) {
                Some(v) if v >= 0 => usize::try_from(v).unwrap_or(usize::MAX),
                _ => return Err(CmdError::msg("ERR LIMIT can't be negative")),
            };
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(a)
}

#[derive(Clone, Copy)]
enum Op {
    Union,
    Inter,
    Diff,
}

fn algebra(ctx: &mut Ctx, a: &Algebra<'_>, op: Op) -> Result<crate::keyspace::SortedSet, CmdError> {
    let w = a.weights.as_deref();
    Ok(match op {
        Op::Union => ctx.txn.zunion(&a.keys, w, a.agg)?,
        Op::Inter => ctx.txn.zinter(&a.keys, w, a.agg)?,
        Op::Diff => ctx.txn.zdiff(&a.keys)?,
    })
}

fn store_generic(ctx: &mut Ctx, req: &Request, op: Op, accepts: Accepts) -> R {
    let a = algebra_args(req, 2, accepts)?;
    let z = algebra(ctx, &a, op)?;
    let n = ctx.txn.zstore(req.arg(1), z)?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn query_generic(ctx: &mut Ctx, req: &Request, op: Op, accepts: Accepts) -> R {
    let a = algebra_args(req, 1, accepts)?;
    let z = algebra(ctx, &a, op)?;
    write_scored(ctx.out, z.iter(), a.withscores);
    Ok(Flow::Done)
}

fn zunionstore(ctx: &mut Ctx, req: &Request) -> R {
    store_generic(ctx, req, Op::Union, STORE)
}

fn zinterstore(ctx: &mut Ctx, req: &Request) -> R {
    store_generic(ctx, req, Op::Inter, STORE)
}

fn zdiffstore(ctx: &mut Ctx, req: &Request) -> R {
    store_generic(ctx, req, Op::Diff, DIFF_STORE)
}

fn zunion(ctx: &mut Ctx, req: &Request) -> R {
    query_generic(ctx, req, Op::Union, QUERY)
}

fn zinter(ctx: &mut Ctx, req: &Request) -> R {
    query_generic(ctx, req, Op::Inter, QUERY)
}

fn zdiff(ctx: &mut Ctx, req: &Request) -> R {
    query_generic(ctx, req, Op::Diff, DIFF_QUERY)
}

fn zintercard(ctx: &mut Ctx, req: &Request) -> R {
    let a = algebra_args(req, 1, CARD)?;
    let n = ctx.txn.zintercard(&a.keys, a.limit)?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

// ---------------------------------------------------------------------------
// The table

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $h:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            handler: $h,
            group: "sorted-set",
            summary: $summary,
        }
    };
}

/// The sorted-set commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "zadd",
        -4,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        zadd,
        "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."
    ),
    cmd!(
        "zincrby",
        4,
        WRITE | DENYOOM | FAST,
        KeySpec::FIRST,
        zincrby,
        "Increments the score of a member in a sorted set."
    ),
    cmd!(
        "zrem",
        -3,
        WRITE | FAST,
        KeySpec::FIRST,
        zrem,
        "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."
    ),
    cmd!(
        "zscore",
        3,
        READONLY | FAST,
        KeySpec::FIRST,
        zscore,
        "Returns the score of a member in a sorted set."
    ),
    cmd!(
        "zmscore",
        -3,
        READONLY | FAST,
        KeySpec::FIRST,
        zmscore,
        "Returns the score of one or more members in a sorted set."
    ),
    cmd!(
        "zcard",
        2,
        READONLY | FAST,
        KeySpec::FIRST,
        zcard,
        "Returns the number of members in a sorted set."
    ),
    cmd!(
        "zcount",
        4,
        READONLY | FAST,
        KeySpec::FIRST,
        zcount,
        "Returns the count of members in a sorted set that have scores within a range."
    ),
    cmd!(
        "zlexcount",
        4,
        READONLY | FAST,
        KeySpec::FIRST,
        zlexcount,
        "Returns the number of members in a sorted set within a lexicographical range."
    ),
    cmd!(
        "zrank",
        -3,
        READONLY | FAST,
        KeySpec::FIRST,
        zrank,
        "Returns the index of a member in a sorted set ordered by ascending scores."
    ),
    cmd!(
        "zrevrank",
        -3,
        READONLY | FAST,
        KeySpec::FIRST,
        zrevrank,
        "Returns the index of a member in a sorted set ordered by descending scores."
    ),
    cmd!(
        "zrange",
        -4,
        READONLY,
        KeySpec::FIRST,
        zrange,
        "Returns members in a sorted set within a range of indexes."
    ),
    cmd!(
        "zrangestore",
        -5,
        WRITE | DENYOOM,
        KeySpec::FIRST_TWO,
        zrangestore,
        "Stores a range of members from sorted set in a key."
    ),
    cmd!(
        "zrevrange",
        -4,
        READONLY,
        KeySpec::FIRST,
        zrevrange,
        "Returns members in a sorted set within a range of indexes in reverse order."
    ),
    cmd!(
        "zrangebyscore",
        -4,
        READONLY,
        KeySpec::FIRST,
        zrangebyscore,
        "Returns members in a sorted set within a range of scores."
    ),
    cmd!(
        "zrevrangebyscore",
        -4,
        READONLY,
        KeySpec::FIRST,
        zrevrangebyscore,
        "Returns members in a sorted set within a range of scores in reverse order."
    ),
    cmd!(
        "zrangebylex",
        -4,
        READONLY,
        KeySpec::FIRST,
        zrangebylex,
        "Returns members in a sorted set within a lexicographical range."
    ),
    cmd!(
        "zrevrangebylex",
        -4,
        READONLY,
        KeySpec::FIRST,
        zrevrangebylex,
        "Returns members in a sorted set within a lexicographical range in reverse order."
    ),
    cmd!(
        "zremrangebyrank",
        4,
        WRITE,
        KeySpec::FIRST,
        zremrangebyrank,
        "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."
    ),
    cmd!(
        "zremrangebyscore",
        4,
        WRITE,
        KeySpec::FIRST,
        zremrangebyscore,
        "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."
    ),
    cmd!(
        "zremrangebylex",
        4,
        WRITE,
        KeySpec::FIRST,
        zremrangebylex,
        "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."
    ),
    cmd!(
        "zpopmin",
        -2,
        WRITE | FAST,
        KeySpec::FIRST,
        zpopmin,
        "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."
    ),
    cmd!(
        "zpopmax",
        -2,
        WRITE | FAST,
        KeySpec::FIRST,
        zpopmax,
        "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."
    ),
    cmd!(
        "bzpopmin",
        -3,
        WRITE | FAST | BLOCKING,
        KeySpec::ALL_BUT_LAST,
        bzpopmin,
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."
    ),
    cmd!(
        "bzpopmax",
        -3,
        WRITE | FAST | BLOCKING,
        KeySpec::ALL_BUT_LAST,
        bzpopmax,
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped."
    ),
    cmd!(
        "zrandmember",
        -2,
        READONLY,
        KeySpec::FIRST,
        zrandmember,
        "Returns one or more random members from a sorted set."
    ),
    cmd!(
        "zscan",
        -3,
        READONLY,
        KeySpec::FIRST,
        zscan,
        "Iterates over members and scores of a sorted set."
    ),
    cmd!(
        "zunionstore",
        -4,
        WRITE | DENYOOM,
        KeySpec::Custom(store_keys),
        zunionstore,
        "Stores the union of multiple sorted sets in a key."
    ),
    cmd!(
        "zinterstore",
        -4,
        WRITE | DENYOOM,
        KeySpec::Custom(store_keys),
        zinterstore,
        "Stores the intersect of multiple sorted sets in a key."
    ),
    cmd!(
        "zdiffstore",
        -4,
        WRITE | DENYOOM,
        KeySpec::Custom(store_keys),
        zdiffstore,
        "Stores the difference of multiple sorted sets in a key."
    ),
    cmd!(
        "zunion",
        -3,
        READONLY,
        KeySpec::Custom(numkeys_keys),
        zunion,
        "Returns the union of multiple sorted sets."
    ),
    cmd!(
        "zinter",
        -3,
        READONLY,
        KeySpec::Custom(numkeys_keys),
        zinter,
        "Returns the intersect of multiple sorted sets."
    ),
    cmd!(
        "zdiff",
        -3,
        READONLY,
        KeySpec::Custom(numkeys_keys),
        zdiff,
        "Returns the difference between multiple sorted sets."
    ),
    cmd!(
        "zintercard",
        -3,
        READONLY,
        KeySpec::Custom(numkeys_keys),
        zintercard,
        "Returns the number of members of the intersect of multiple sorted sets."
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_bounds_parse_like_redis() {
        assert!(matches!(score_item(b"1.5"), Some(ScoreBound::Inclusive(v)) if v == 1.5));
        assert!(matches!(score_item(b"(1.5"), Some(ScoreBound::Exclusive(v)) if v == 1.5));
        assert!(
            matches!(score_item(b"-inf"), Some(ScoreBound::Inclusive(v)) if v == f64::NEG_INFINITY)
        );
        assert!(
            matches!(score_item(b"(+inf"), Some(ScoreBound::Exclusive(v)) if v == f64::INFINITY)
        );
        assert!(matches!(score_item(b"("), Some(ScoreBound::Exclusive(v)) if v == 0.0));
        assert!(score_item(b"abc").is_none());
        assert!(score_item(b"(nan").is_none());
        assert!(score_item(b"[1").is_none());
    }

    #[test]
    fn lex_bounds_parse_like_redis() {
        assert!(matches!(lex_item(b"-"), Some(LexBound::Min)));
        assert!(matches!(lex_item(b"+"), Some(LexBound::Max)));
        assert!(matches!(lex_item(b"[a"), Some(LexBound::Inclusive(v)) if v.as_slice() == b"a"));
        assert!(matches!(lex_item(b"("), Some(LexBound::Exclusive(v)) if v.is_empty()));
        assert!(lex_item(b"+a").is_none());
        assert!(lex_item(b"a").is_none());
        assert!(lex_item(b"").is_none());
    }
}

//! Sorted-set operations: ZADD and its conditions, scores and ranks, range
//! queries by rank/score/lex (with REV and LIMIT), pops, random members, ZSCAN,
//! and the set algebra of ZUNION/ZINTER/ZDIFF (plain sets count as members
//! with score 1, as in Redis).
//!
//! Read operations return members borrowed from the transaction, so a reply
//! is written without copying them; the `*store` variants build the result
//! value and put it at the destination (deleting it when the result is
//! empty). A write that gives a sorted set new members signals its key, so
//! clients blocked in BZPOPMIN/BZPOPMAX wake.

use std::collections::HashSet;

use rand::seq::SliceRandom;

use super::change::DeltaOp;
use super::{EngineError, EngineResult, Txn, glob_match};
use crate::keyspace::{
    Blob, Dict, Kind, LexBound, ScoreBound, SetValue, SortedSet, Value, ZMember, blob,
};
use serde_bytes::ByteBuf;

/// ZADD's conditions. NX/XX and GT/LT/NX conflicts are rejected by
/// [`ZAddOptions::validate`] with Redis's messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZAddOptions {
    /// Only add new members (NX).
    pub nx: bool,
    /// Only update existing members (XX).
    pub xx: bool,
    /// Only update an existing member if its score grows (GT).
    pub gt: bool,
    /// Only update an existing member if its score shrinks (LT).
    pub lt: bool,
}

impl ZAddOptions {
    /// Rejects combinations Redis rejects.
    pub fn validate(&self) -> EngineResult<()> {
        if self.nx && self.xx {
            return Err(EngineError::Invalid(
                "XX and NX options at the same time are not compatible".into(),
            ));
        }
        if (self.nx && (self.gt || self.lt)) || (self.gt && self.lt) {
            return Err(EngineError::Invalid(
                "GT, LT, and/or NX options at the same time are not compatible".into(),
            ));
        }
        Ok(())
    }
}

/// What ZADD did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZAddCounts {
    /// Members added.
    pub added: usize,
    /// Existing members whose score changed (what CH adds to the count).
    pub updated: usize,
}

/// LIMIT of a score or lex range: skip `offset` members, return at most
/// `count`. A negative offset selects nothing and a negative count means no
/// limit, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZLimit {
    /// Members to skip.
    pub offset: i64,
    /// Most members to return; negative = all.
    pub count: i64,
}

/// Which members a range query selects.
#[derive(Debug, Clone)]
pub enum ZRange {
    /// By 0-based rank, both ends inclusive; negative ranks count from the
    /// end (-1 = last). With `rev`, ranks count from the highest score.
    Rank {
        /// First rank.
        start: i64,
        /// Last rank.
        stop: i64,
    },
    /// By score, `min` to `max` (`rev` only changes the order).
    Score {
        /// Lower bound.
        min: ScoreBound,
        /// Upper bound.
        max: ScoreBound,
    },
    /// By member, `min` to `max` (for members sharing one score).
    Lex {
        /// Lower bound.
        min: LexBound,
        /// Upper bound.
        max: LexBound,
    },
}

/// A range query: ZRANGE and all its older spellings.
#[derive(Debug, Clone)]
pub struct ZRangeSpec {
    /// Which members.
    pub range: ZRange,
    /// Descending order (REV, ZREV*).
    pub rev: bool,
    /// LIMIT (score and lex ranges only; ignored for ranks).
    pub limit: Option<ZLimit>,
}

/// How ZUNION/ZINTER combine the scores of a member found in several inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Aggregate {
    /// Sum of the weighted scores (default).
    #[default]
    Sum,
    /// Smallest weighted score.
    Min,
    /// Largest weighted score.
    Max,
}

/// A member with its score, borrowed from the set.
pub type Scored<'a> = (&'a [u8], f64);

fn new_zset() -> Value {
    Value::ZSet(Box::default())
}

fn nan_error() -> EngineError {
    EngineError::Invalid("resulting score is not a number (NaN)".into())
}

/// Outcome of adding one member.
enum Change {
    Added,
    Updated,
    Unchanged,
}

/// ZADD's per-member rule. `value` is the new score, or the increment with
/// `incr`. Returns what changed and the member's resulting score, `None` when
/// a condition skipped it.
fn add_one(
    z: &mut SortedSet,
    o: &ZAddOptions,
    member: &[u8],
    value: f64,
    incr: bool,
) -> EngineResult<(Change, Option<f64>)> {
    match z.score(member) {
        Some(cur) => {
            if o.nx {
                return Ok((Change::Unchanged, None));
            }
            let new = if incr { cur + value } else { value };
            if new.is_nan() {
                return Err(nan_error());
            }
            if (o.gt && new <= cur) || (o.lt && new >= cur) {
                return Ok((Change::Unchanged, None));
            }
            if new != cur {
                z.insert(member, new);
                Ok((Change::Updated, Some(new)))
            } else {
                Ok((Change::Unchanged, Some(cur)))
            }
        }
        None if o.xx => Ok((Change::Unchanged, None)),
        None => {
            z.insert(member, value);
            Ok((Change::Added, Some(value)))
        }
    }
}

/// `(first index, count)` of the inclusive rank range `start..=stop` in a set
/// of `len`, with Redis's clamping; `None` if empty.
fn rank_span(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, (end - start + 1) as usize))
}

/// `n` members from rank `from` in the given direction. Walks from whichever
/// end of the set is nearer, since rank access is O(distance from the end).
fn rank_slice(z: &SortedSet, from: usize, n: usize, rev: bool) -> Vec<Scored<'_>> {
    let after = z.len() - from - n;
    let (skip, flip) = if from <= after {
        (from, false)
    } else {
        (after, true)
    };
    let mut v: Vec<Scored<'_>> = if rev != flip {
        z.iter().rev().skip(skip).take(n).collect()
    } else {
        z.iter().skip(skip).take(n).collect()
    };
    if flip {
        v.reverse();
    }
    v
}

fn limited<'a>(
    it: impl DoubleEndedIterator<Item = Scored<'a>>,
    rev: bool,
    limit: Option<ZLimit>,
) -> Vec<Scored<'a>> {
    let (offset, count) = match limit {
        None => (0, usize::MAX),
        Some(l) if l.offset < 0 => return Vec::new(),
        Some(l) => (
            l.offset as usize,
            if l.count < 0 {
                usize::MAX
            } else {
                l.count as usize
            },
        ),
    };
    if count == 0 {
        return Vec::new();
    }
    if rev {
        it.rev().skip(offset).take(count).collect()
    } else {
        it.skip(offset).take(count).collect()
    }
}

/// The members `spec` selects, in reply order.
fn select<'a>(z: &'a SortedSet, spec: &'a ZRangeSpec) -> Vec<Scored<'a>> {
    match &spec.range {
        ZRange::Rank { start, stop } => match rank_span(z.len(), *start, *stop) {
            Some((from, n)) => rank_slice(z, from, n, spec.rev),
            None => Vec::new(),
        },
        ZRange::Score { min, max } => limited(z.range_by_score(*min, *max), spec.rev, spec.limit),
        ZRange::Lex { min, max } => limited(z.range_by_lex(min, max), spec.rev, spec.limit),
    }
}

/// One input of the set algebra: a sorted set or a plain set (score 1).
enum Input<'a> {
    Z(&'a SortedSet),
    S(&'a SetValue),
}

impl Input<'_> {
    fn len(&self) -> usize {
        match self {
            Input::Z(z) => z.len(),
            Input::S(s) => s.len(),
        }
    }
    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Input::Z(z) => z.score(m),
            Input::S(s) => s.contains(m).then_some(1.0),
        }
    }
    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Input::Z(z) => z.dict().iter().for_each(|m| f(&m.member, m.score)),
            Input::S(s) => s.iter().for_each(|m| f(m, 1.0)),
        }
    }
}

fn input(v: Option<&Value>) -> EngineResult<Option<Input<'_>>> {
    match v {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(Input::Z(z))),
        Some(Value::Set(s)) => Ok(Some(Input::S(s))),
        Some(_) => Err(EngineError::WrongType),
    }
}

/// A weighted score; NaN (infinity × 0) counts as 0, as in Redis.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() { 0.0 } else { v }
}

/// Folds `v` into `acc`. A NaN sum (inf + -inf) becomes 0; MIN/MAX keep the
/// accumulator against a NaN, as Redis's comparisons do.
fn aggregate(agg: Aggregate, acc: f64, v: f64) -> f64 {
    match agg {
        Aggregate::Sum => {
            let t = acc + v;
            if t.is_nan() { 0.0 } else { t }
        }
        Aggregate::Min => {
            if v < acc {
                v
            } else {
                acc
            }
        }
        Aggregate::Max => {
            if v > acc {
                v
            } else {
                acc
            }
        }
    }
}

fn scored(m: &ZMember) -> Scored<'_> {
    (m.member.as_slice(), m.score)
}

fn weight_of(weights: Option<&[f64]>, i: usize) -> f64 {
    weights.and_then(|w| w.get(i).copied()).unwrap_or(1.0)
}

impl Txn<'_> {
    /// The sorted set at `key` (counting a read).
    fn zset(&mut self, key: &[u8]) -> EngineResult<Option<&SortedSet>> {
        match self.read_kind(key, Kind::ZSet)? {
            Some(Value::ZSet(z)) => Ok(Some(z)),
            _ => Ok(None),
        }
    }

    /// True if `key` holds a sorted set (WRONGTYPE if it holds another type).
    fn zset_exists(&mut self, key: &[u8]) -> EngineResult<bool> {
        match self.peek(key)? {
            Some(e) if e.value.kind() != Kind::ZSet => Err(EngineError::WrongType),
            found => Ok(found.is_some()),
        }
    }

    /// ZADD without INCR: sets the scores of `pairs` (score, member) under
    /// `opts`. Scores must not be NaN.
    pub fn zadd(
        &mut self,
        key: &[u8],
        opts: &ZAddOptions,
        pairs: &[(f64, &[u8])],
    ) -> EngineResult<ZAddCounts> {
        opts.validate()?;
        if pairs.iter().any(|(s, _)| s.is_nan()) {
            return Err(EngineError::NotFloat);
        }
        // XX never creates the key.
        if opts.xx && !self.zset_exists(key)? {
            return Ok(ZAddCounts::default());
        }
        let mut counts = ZAddCounts::default();
        let before = self.delta_base(key)?;
        // With replication, what changed travels as scores per member, so
        // concurrent ZADDs of different members all land.
        let replicated = self.engine().replica().is_some();
        let mut scored: Vec<(ByteBuf, f64)> = Vec::new();
        {
            let mut e = self.write_kind(key, Kind::ZSet, new_zset)?;
            let Value::ZSet(z) = &mut e.value else {
                return Err(EngineError::WrongType);
            };
            for &(score, member) in pairs {
                match add_one(z, opts, member, score, false)?.0 {
                    Change::Added => counts.added += 1,
                    Change::Updated => counts.updated += 1,
                    Change::Unchanged => continue,
                }
                if replicated && let Some(now) = z.score(member) {
                    scored.push((ByteBuf::from(member.to_vec()), now));
                }
            }
        }
        if !scored.is_empty() {
            self.note_delta(key, || DeltaOp::ZSetScore(scored), before);
        }
        if counts.added > 0 {
            self.signal_ready(key);
        }
        Ok(counts)
    }

    /// ZADD with INCR: adds `delta` to `member`'s score under `opts`; the new
    /// score, or `None` if a condition skipped it.
    pub fn zadd_incr(
        &mut self,
        key: &[u8],
        opts: &ZAddOptions,
        delta: f64,
        member: &[u8],
    ) -> EngineResult<Option<f64>> {
        opts.validate()?;
        if delta.is_nan() {
            return Err(EngineError::NotFloat);
        }
        if opts.xx && !self.zset_exists(key)? {
            return Ok(None);
        }
        let before = self.delta_base(key)?;
        let (change, score) = {
            let mut e = self.write_kind(key, Kind::ZSet, new_zset)?;
            let Value::ZSet(z) = &mut e.value else {
                return Err(EngineError::WrongType);
            };
            add_one(z, opts, member, delta, true)?
        };
        if score.is_some() {
            self.note_delta(
                key,
                || DeltaOp::ZIncr(ByteBuf::from(member.to_vec()), delta),
                before,
            );
        }
        if let Change::Added = change {
            self.signal_ready(key);
        }
        Ok(score)
    }

    /// ZINCRBY: adds `delta` to `member`'s score (0 if absent); the new score.
    pub fn zincrby(&mut self, key: &[u8], delta: f64, member: &[u8]) -> EngineResult<f64> {
        if delta.is_nan() {
            return Err(EngineError::NotFloat);
        }
        let before = self.delta_base(key)?;
        let (score, added) = {
            let mut e = self.write_kind(key, Kind::ZSet, new_zset)?;
            let Value::ZSet(z) = &mut e.value else {
                return Err(EngineError::WrongType);
            };
            let cur = z.score(member);
            let score = cur.map_or(delta, |c| c + delta);
            if score.is_nan() {
                return Err(nan_error());
            }
            z.insert(member, score);
            (score, cur.is_none())
        };
        self.note_delta(
            key,
            || DeltaOp::ZIncr(ByteBuf::from(member.to_vec()), delta),
            before,
        );
        if added {
            self.signal_ready(key);
        }
        // Stored -0 reads back as 0; report what is stored.
        Ok(if score == 0.0 { 0.0 } else { score })
    }

    /// ZREM: removes `members`; how many were there.
    pub fn zrem<'m>(
        &mut self,
        key: &[u8],
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> EngineResult<usize> {
        // Peek first: opening a missing key for writing would still count as
        // a write for WATCH.
        if !self.zset_exists(key)? {
            return Ok(0);
        }
        let Some(mut e) = self.write_existing_kind(key, Kind::ZSet)? else {
            return Ok(0);
        };
        let Value::ZSet(z) = &mut e.value else {
            return Err(EngineError::WrongType);
        };
        let mut n = 0;
        for m in members {
            if z.remove(m).is_some() {
                n += 1;
                if z.is_empty() {
                    break;
                }
            }
        }
        Ok(n)
    }

    /// ZSCORE.
    pub fn zscore(&mut self, key: &[u8], member: &[u8]) -> EngineResult<Option<f64>> {
        Ok(self.zset(key)?.and_then(|z| z.score(member)))
    }

    /// ZMSCORE: the score of each member, in order.
    pub fn zmscore<'m>(
        &mut self,
        key: &[u8],
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> EngineResult<Vec<Option<f64>>> {
        let z = self.zset(key)?;
        Ok(members
            .into_iter()
            .map(|m| z.and_then(|z| z.score(m)))
            .collect())
    }

    /// ZCARD.
    pub fn zcard(&mut self, key: &[u8]) -> EngineResult<usize> {
        Ok(self.zset(key)?.map_or(0, |z| z.len()))
    }

    /// ZCOUNT: members with scores in `min..max`.
    pub fn zcount(&mut self, key: &[u8], min: ScoreBound, max: ScoreBound) -> EngineResult<usize> {
        Ok(self
            .zset(key)?
            .map_or(0, |z| z.range_by_score(min, max).count()))
    }

    /// ZLEXCOUNT: members in the lex range `min..max`.
    pub fn zlexcount(&mut self, key: &[u8], min: &LexBound, max: &LexBound) -> EngineResult<usize> {
        Ok(self
            .zset(key)?
            .map_or(0, |z| z.range_by_lex(min, max).count()))
    }

    /// ZRANGE (and ZRANGEBYSCORE, ZREVRANGE, …): the selected members with
    /// their scores, in reply order.
    pub fn zrange<'a>(
        &'a mut self,
        key: &[u8],
        spec: &'a ZRangeSpec,
    ) -> EngineResult<Vec<Scored<'a>>> {
        Ok(match self.zset(key)? {
            Some(z) => select(z, spec),
            None => Vec::new(),
        })
    }

    /// ZRANGESTORE: stores the selection of `src` at `dst`; its size.
    pub fn zrangestore(
        &mut self,
        dst: &[u8],
        src: &[u8],
        spec: &ZRangeSpec,
    ) -> EngineResult<usize> {
        let mut out = SortedSet::default();
        if let Some(z) = self.zset(src)? {
            for (m, s) in select(z, spec) {
                out.insert(m, s);
            }
        }
        self.zstore(dst, out)
    }

    /// Stores `z` at `dst` with no TTL, replacing any value (deleting `dst`
    /// if `z` is empty); the stored size. The last step of every *STORE.
    pub fn zstore(&mut self, dst: &[u8], z: SortedSet) -> EngineResult<usize> {
        let n = z.len();
        if n == 0 {
            self.delete(dst)?;
            return Ok(0);
        }
        self.put(dst, Value::ZSet(Box::new(z)), 0)?;
        self.signal_ready(dst);
        Ok(n)
    }

    /// ZRANK / ZREVRANK: the member's rank (ascending, or descending with
    /// `rev`) and score.
    pub fn zrank(
        &mut self,
        key: &[u8],
        member: &[u8],
        rev: bool,
    ) -> EngineResult<Option<(usize, f64)>> {
        Ok(self.zset(key)?.and_then(|z| z.rank(member, rev)))
    }

    /// ZPOPMIN / ZPOPMAX (`max`): removes up to `count` members from the low
    /// or high end, in pop order.
    pub fn zpop(&mut self, key: &[u8], max: bool, count: usize) -> EngineResult<Vec<(Blob, f64)>> {
        if !self.zset_exists(key)? {
            return Ok(Vec::new());
        }
        let (out, left) = {
            let Some(mut e) = self.write_existing_kind(key, Kind::ZSet)? else {
                return Ok(Vec::new());
            };
            let Value::ZSet(z) = &mut e.value else {
                return Err(EngineError::WrongType);
            };
            let mut out = Vec::with_capacity(count.min(z.len()));
            while out.len() < count {
                match z.pop(max) {
                    Some(p) => out.push(p),
                    None => break,
                }
            }
            (out, !z.is_empty())
        };
        // Members remain: pass the wake-up on to the next blocked popper.
        if left && !out.is_empty() {
            self.signal_ready(key);
        }
        Ok(out)
    }

    /// ZRANDMEMBER without a count: one random member.
    pub fn zrandmember_one(&mut self, key: &[u8]) -> EngineResult<Option<&[u8]>> {
        Ok(self
            .zset(key)?
            .and_then(|z| z.dict().random())
            .map(|m| m.member.as_slice()))
    }

    /// ZRANDMEMBER with a count: `count` distinct members (at most the whole
    /// set) if positive, `-count` members possibly repeated if negative.
    pub fn zrandmember(&mut self, key: &[u8], count: i64) -> EngineResult<Vec<Scored<'_>>> {
        let Some(z) = self.zset(key)? else {
            return Ok(Vec::new());
        };
        let d = z.dict();
        if count < 0 {
            // No preallocation: the count comes from the client.
            return Ok((0..count.unsigned_abs())
                .filter_map(|_| d.random().map(scored))
                .collect());
        }
        let count = count as usize;
        if count >= z.len() {
            return Ok(z.iter().collect());
        }
        if count.saturating_mul(3) > z.len() {
            // Close to the whole set: shuffle a copy and keep a prefix.
            let mut all: Vec<Scored<'_>> = d.iter().map(scored).collect();
            let (picked, _) = all.partial_shuffle(&mut rand::rng(), count);
            return Ok(picked.to_vec());
        }
        // Few of many: sample buckets until `count` distinct ones.
        let mut seen = HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let Some(i) = d.random_index() else { break };
            if seen.insert(i)
                && let Some(m) = d.at(i)
            {
                out.push(scored(m));
            }
        }
        Ok(out)
    }

    /// ZSCAN step: members (matching `pattern`) from `cursor` on, and the
    /// cursor to continue from (0 when done).
    pub fn zscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        pattern: Option<&[u8]>,
        count: usize,
    ) -> EngineResult<(u64, Vec<(Blob, f64)>)> {
        let Some(z) = self.zset(key)? else {
            return Ok((0, Vec::new()));
        };
        let mut out = Vec::new();
        // Clamp the hint: Dict::scan multiplies it into a bucket budget.
        let next = z.dict().scan(cursor, count.clamp(1, 1 << 32), |m| {
            if pattern.is_none_or(|p| glob_match(p, &m.member)) {
                out.push((m.member.clone(), m.score));
            }
        });
        Ok((next, out))
    }

    /// ZREMRANGEBYRANK / BYSCORE / BYLEX: removes the members `range`
    /// selects (ascending); how many.
    pub fn zremrange(&mut self, key: &[u8], range: ZRange) -> EngineResult<usize> {
        // Peek first: opening a missing key for writing would still count as
        // a write for WATCH.
        if !self.zset_exists(key)? {
            return Ok(0);
        }
        let Some(mut e) = self.write_existing_kind(key, Kind::ZSet)? else {
            return Ok(0);
        };
        let Value::ZSet(z) = &mut e.value else {
            return Err(EngineError::WrongType);
        };
        let spec = ZRangeSpec {
            range,
            rev: false,
            limit: None,
        };
        let doomed: Vec<Blob> = select(z, &spec).into_iter().map(|(m, _)| blob(m)).collect();
        for m in &doomed {
            z.remove(m);
        }
        Ok(doomed.len())
    }

    /// The algebra input at `key` (counting a read): sorted set, set or none.
    fn algebra_input(&mut self, key: &[u8]) -> EngineResult<Option<Input<'_>>> {
        input(self.read(key)?.map(|e| &e.value))
    }

    /// The algebra input at `key`, without counting a read (second passes).
    fn algebra_peek(&mut self, key: &[u8]) -> EngineResult<Option<Input<'_>>> {
        input(self.peek(key)?.map(|e| &e.value))
    }

    /// Type-checks every input; their sizes, `None` if any is missing or
    /// empty, or there are no keys (all of which empty an intersection).
    fn input_sizes(&mut self, keys: &[&[u8]]) -> EngineResult<Option<Vec<usize>>> {
        if keys.is_empty() {
            return Ok(None);
        }
        let mut sizes = Vec::with_capacity(keys.len());
        let mut all_present = true;
        for k in keys {
            match self.algebra_input(k)? {
                Some(i) if i.len() > 0 => sizes.push(i.len()),
                _ => all_present = false,
            }
        }
        Ok(all_present.then_some(sizes))
    }

    /// ZUNION: every member of any input, scores weighted then aggregated.
    /// `weights`, if given, has one weight per key.
    pub fn zunion(
        &mut self,
        keys: &[&[u8]],
        weights: Option<&[f64]>,
        agg: Aggregate,
    ) -> EngineResult<SortedSet> {
        let mut acc: Dict<ZMember> = Dict::new();
        for (i, k) in keys.iter().enumerate() {
            let w = weight_of(weights, i);
            let Some(src) = self.algebra_input(k)? else {
                continue;
            };
            src.for_each(|m, s| {
                let v = weighted(s, w);
                match acc.get_mut(m) {
                    Some(e) => e.score = aggregate(agg, e.score, v),
                    None => {
                        acc.insert(ZMember {
                            member: blob(m),
                            score: v,
                        });
                    }
                }
            });
        }
        Ok(SortedSet::from_dict(acc))
    }

    /// ZINTER: the members in every input, scores weighted then aggregated.
    pub fn zinter(
        &mut self,
        keys: &[&[u8]],
        weights: Option<&[f64]>,
        agg: Aggregate,
    ) -> EngineResult<SortedSet> {
        let Some(sizes) = self.input_sizes(keys)? else {
            return Ok(SortedSet::default());
        };
        // Start from the smallest input; each further input can only shrink it.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| sizes[i]);
        let mut acc: Dict<ZMember> = Dict::new();
        let first = order[0];
        if let Some(src) = self.algebra_peek(keys[first])? {
            let w = weight_of(weights, first);
            src.for_each(|m, s| {
                acc.insert(ZMember {
                    member: blob(m),
                    score: weighted(s, w),
                });
            });
        }
        for &i in &order[1..] {
            if acc.is_empty() {
                break;
            }
            let w = weight_of(weights, i);
            let Some(src) = self.algebra_peek(keys[i])? else {
                return Ok(SortedSet::default());
            };
            acc.retain(|e| match src.score(&e.member) {
                Some(s) => {
                    e.score = aggregate(agg, e.score, s * w);
                    true
                }
                None => false,
            });
        }
        Ok(SortedSet::from_dict(acc))
    }

    /// ZDIFF: the members of the first input in none of the others, with
    /// their scores from the first.
    pub fn zdiff(&mut self, keys: &[&[u8]]) -> EngineResult<SortedSet> {
        let Some((&first, rest)) = keys.split_first() else {
            return Ok(SortedSet::default());
        };
        let mut acc: Dict<ZMember> = Dict::new();
        if let Some(src) = self.algebra_input(first)? {
            src.for_each(|m, s| {
                acc.insert(ZMember {
                    member: blob(m),
                    score: s,
                });
            });
        }
        for k in rest {
            // Type-check every key even once the result is empty, as Redis.
            let Some(src) = self.algebra_input(k)? else {
                continue;
            };
            if acc.is_empty() {
                continue;
            }
            if src.len() < acc.len() {
                src.for_each(|m, _| {
                    acc.remove(m);
                });
            } else {
                acc.retain(|e| src.score(&e.member).is_none());
            }
        }
        Ok(SortedSet::from_dict(acc))
    }

    /// ZINTERCARD: the size of the intersection, counting at most `limit`
    /// (0 = no limit).
    pub fn zintercard(&mut self, keys: &[&[u8]], limit: usize) -> EngineResult<usize> {
        let Some(sizes) = self.input_sizes(keys)? else {
            return Ok(0);
        };
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| sizes[i]);
        let mut candidates: Vec<Blob> = Vec::new();
        if let Some(src) = self.algebra_peek(keys[order[0]])? {
            src.for_each(|m, _| candidates.push(blob(m)));
        }
        for &i in &order[1..] {
            if candidates.is_empty() {
                break;
            }
            let Some(src) = self.algebra_peek(keys[i])? else {
                return Ok(0);
            };
            candidates.retain(|m| src.score(m).is_some());
        }
        let n = candidates.len();
        Ok(if limit > 0 { n.min(limit) } else { n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_spans_clamp_like_redis() {
        assert_eq!(rank_span(5, 0, -1), Some((0, 5)));
        assert_eq!(rank_span(5, -2, -1), Some((3, 2)));
        assert_eq!(rank_span(5, -100, 1), Some((0, 2)));
        assert_eq!(rank_span(5, 3, 100), Some((3, 2)));
        assert_eq!(rank_span(5, 3, 1), None);
        assert_eq!(rank_span(5, 5, 10), None);
        assert_eq!(rank_span(0, 0, -1), None);
        assert_eq!(rank_span(5, i64::MIN, i64::MAX), Some((0, 5)));
    }

    #[test]
    fn rank_slices_match_from_either_end() {
        let mut z = SortedSet::default();
        for i in 0..20 {
            z.insert(format!("m{i:02}").as_bytes(), i as f64);
        }
        for rev in [false, true] {
            for from in 0..20 {
                for n in 1..=(20 - from) {
                    let want: Vec<Scored<'_>> = if rev {
                        z.iter().rev().skip(from).take(n).collect()
                    } else {
                        z.iter().skip(from).take(n).collect()
                    };
                    assert_eq!(rank_slice(&z, from, n, rev), want, "{from} {n} {rev}");
                }
            }
        }
    }

    #[test]
    fn plain_sets_count_as_score_one() {
        use crate::clock::RegionId;
        use crate::engine::Engine;
        let engine = Engine::new(RegionId(1), 2);
        let mut t = engine.txn_all();
        let mut set = SetValue::default();
        set.insert(b"b");
        set.insert(b"c");
        t.put(b"s", Value::Set(Box::new(set)), 0).unwrap();
        t.zadd(b"z", &ZAddOptions::default(), &[(2.0, b"a"), (5.0, b"b")])
            .unwrap();
        let keys: [&[u8]; 2] = [b"z", b"s"];
        let u = t.zunion(&keys, Some(&[1.0, 10.0]), Aggregate::Sum).unwrap();
        assert_eq!(
            u.iter().collect::<Vec<_>>(),
            vec![(&b"a"[..], 2.0), (b"c", 10.0), (b"b", 15.0)]
        );
        let i = t.zinter(&keys, None, Aggregate::Max).unwrap();
        assert_eq!(i.iter().collect::<Vec<_>>(), vec![(&b"b"[..], 5.0)]);
        let d = t.zdiff(&[b"s", b"z"]).unwrap();
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![(&b"c"[..], 1.0)]);
        assert_eq!(t.zintercard(&keys, 0).unwrap(), 1);
        t.put(b"str", Value::Str(blob(b"x")), 0).unwrap();
        assert_eq!(
            t.zunion(&[b"z", b"str"], None, Aggregate::Sum).unwrap_err(),
            EngineError::WrongType
        );
        // Storing an empty result deletes the destination.
        assert_eq!(t.zstore(b"s", SortedSet::default()).unwrap(), 0);
        assert!(!t.exists(b"s").unwrap());
    }

    #[test]
    fn aggregates_never_yield_nan() {
        assert_eq!(
            aggregate(Aggregate::Sum, f64::INFINITY, f64::NEG_INFINITY),
            0.0
        );
        assert_eq!(aggregate(Aggregate::Min, 1.0, f64::NAN), 1.0);
        assert_eq!(aggregate(Aggregate::Max, 1.0, f64::NAN), 1.0);
        assert_eq!(weighted(f64::INFINITY, 0.0), 0.0);
    }
}

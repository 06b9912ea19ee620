//! `Replica`: the engine's side of active-active replication — what a key
//! holds when regions disagree, how a local transaction becomes a
//! [`Change`], and how a peer's change or snapshot is merged in.
//!
//! # The model
//!
//! Every key is a multi-value register of *versions*. A version is a value
//! (with its expiry) written by the dot `(region, stamp)`, where `stamp` is
//! the writing region's HLC time at commit. A change replaces, on each key it
//! writes, exactly the versions its causal context covers (those its writer
//! had seen) and adds its own; versions it had not seen survive. So:
//!
//! - two concurrent SETs both survive as versions, and every region shows the
//!   one with the greater `(stamp, region)`: last writer wins, ties broken by
//!   region id, the same everywhere;
//! - DEL removes only what it observed: a concurrent write survives it;
//! - every version lives until its own deadline: the key shows the greatest
//!   *live* version. When the shown version expires, the next live one is
//!   shown (so of concurrent EXPIREs the later deadline decides how long the
//!   key lives, and PERSIST ∥ EXPIRE leaves it persistent). Whether a
//!   version is live is a function of the absolute time alone, so regions
//!   holding the same versions show the same thing at every instant, and a
//!   region may forget an expired version at once.
//!
//! **Deltas.** Additive updates — INCRBY (INCR, DECR, DECRBY), SADD, HSET,
//! HSETNX, HINCRBY, ZADD, ZINCRBY — replicate as what they did, not as the new value: a
//! delta is a version that replaces nothing, carries only its operations
//! (and the key's expiry when it was made), and is applied, in dot order,
//! on top of the greatest ordinary version. So concurrent increments all
//! count (7, then +3 here ∥ +5 there → 15), concurrent SADDs all add, and
//! concurrent HSETs of different fields all land (of one field, the later
//! wins). Writes that replace — SET, DEL, SREM, HDEL, EXPIRE… — replace
//! exactly the versions and deltas they saw: DEL ∥ +3 → 3, SREM x ∥ SADD x
//! → x present (add wins), HDEL f ∥ HSET f → f present. A key with deltas
//! shows a *derived* value: its entry holds the result, and every version
//! (the base included) lives in the side table until they are all causally
//! stable, when they collapse into one.
//!
//! **Documents** (`DOC.*`) use the same machinery: every edit is a delta
//! carrying its automerge change ([`DeltaOp::DocChange`]), and the derived
//! view is the base document with every delta's change merged in by
//! automerge — whose merge is commutative and idempotent, so dot order does
//! not matter and a change held twice counts once. A change whose automerge
//! dependencies are not in the view yet (written in a region that had seen
//! a third region's edit this one has not) waits inside the document until
//! they arrive. Snapshots and replacing writes (EXPIRE, RESTORE, a
//! compaction) carry the whole document in automerge's save format.
//!
//! **Lists** use it too: every list edit is a delta of element operations
//! addressed by position ([`DeltaOp::List`], `crdt::sequence`), and the
//! derived view is the base list (its positions explicit, or implicit in
//! its dot) with every batch replayed in dot order. The positions of what
//! the entry shows are kept with the key (`KeyMeta::list`) so a local edit
//! names elements without a replay, and a received edit is applied in place
//! when no later version names the positions it does. A stable list
//! collapses into one base version that carries its positions (a list
//! keeps a derived view for as long as it lives, since its positions exist
//! only here); a list written whole keeps the positions it showed.
//!
//! The winning version lives in the keyspace [`Entry`] itself (its `stamp`
//! and `region` are the dot), so a key costs nothing extra while the regions
//! agree. Losing versions and removals that arrived ahead of what they
//! removed live in a per-shard side table ([`KeyMeta`]) until they stop
//! mattering:
//! - a losing version once it is *causally stable* (every region has seen it
//!   and every change still to come was written by a region that had): from
//!   then on every change to the key covers it — unless it outlives the shown
//!   version, in which case it is kept to be shown when that one expires;
//! - an expired version at once (it can never be shown again).
//! - a removal record (`cloud`) once this region has applied everything it
//!   names.
//!
//! # Contexts and the applied vector
//!
//! The region keeps `applied`: for each origin, the stamp of the last change
//! of it applied here. Each origin's changes arrive in log order over one
//! link, so everything of that origin up to the mark has been applied. A
//! change applied here raises the mark *while still holding the shards it
//! wrote*; a local transaction reads the marks while holding its shards. So
//! the vector a local change carries covers exactly the versions its keys
//! held — no more, no less — which is what makes the merge exact.
//!
//! # Locks
//!
//! Shard → side table of that shard → commit lock. The commit lock orders
//! this region's stamps with its log: stamps are taken and changes appended
//! under it, so the log is in stamp order.
//!
//! This module must not do I/O: the replication layer feeds it decoded
//! changes and ships what it logs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use super::change::DeltaOp;
use super::change::{Change, KeyOp, KeyState, WireValue, WireVersion};
use super::sink::{ChangeSink, Transition};
use super::txn::DeltaNote;
use crate::clock::{RegionId, Stamp};
use crate::crdt::{PackedPositions, Pos, SeqOp, Sequence, VersionVector};
use crate::keyspace::{Blob, Entry, ListValue, Shard, Value, blob, hash_key};
use crate::replication::DeltaLog;
use serde_bytes::ByteBuf;

/// One version of a key that is not (or no longer) the shown one.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    region: RegionId,
    stamp: Stamp,
    value: Value,
    expire_at: u64,
    /// A delta: these operations (`value` is then empty).
    delta: Option<Vec<DeltaOp>>,
    /// A list's explicit element positions (a collapsed replicated list).
    /// Without them a list version's positions are implicit in its dot.
    positions: Option<BasePositions>,
}

/// A list base's explicit positions, head first: open while folds edit
/// them in place (a busy list), packed at rest, where they are most of what
/// a replicated list costs ([`PackedPositions`]).
#[derive(Debug, Clone)]
enum BasePositions {
    Open(VecDeque<Pos>),
    Packed(PackedPositions),
}

impl BasePositions {
    fn len(&self) -> usize {
        match self {
            BasePositions::Open(p) => p.len(),
            BasePositions::Packed(p) => p.len(),
        }
    }

    /// The positions, head first.
    fn iter(&self) -> Box<dyn Iterator<Item = Pos> + '_> {
        match self {
            BasePositions::Open(p) => Box::new(p.iter().cloned()),
            BasePositions::Packed(p) => Box::new(p.iter()),
        }
    }

    /// Packed, for a list at rest.
    fn packed(positions: impl IntoIterator<Item = Pos>) -> BasePositions {
        BasePositions::Packed(positions.into_iter().collect())
    }

    /// The positions as a deque, for editing in place (unpacked if they
    /// were packed).
    fn into_open(self) -> VecDeque<Pos> {
        match self {
            BasePositions::Open(p) => p,
            BasePositions::Packed(p) => p.iter().collect(),
        }
    }

    /// Packs open positions (a list gone idle).
    fn pack(&mut self) {
        if let BasePositions::Open(p) = self {
            *self = BasePositions::packed(std::mem::take(p));
        }
    }
}

impl Version {
    fn dot(&self) -> (RegionId, Stamp) {
        (self.region, self.stamp)
    }

    fn from_wire(w: WireVersion) -> Version {
        let positions = match &w.value {
            WireValue::PosList(items) => {
                Some(BasePositions::packed(items.iter().map(|(p, _)| p.clone())))
            }
            _ => None,
        };
        Version {
            region: w.region,
            stamp: w.stamp,
            value: w.value.into_value(),
            expire_at: w.expire_at,
            delta: w.delta,
            positions,
        }
    }

    fn to_wire(&self) -> WireVersion {
        let value = match (&self.positions, &self.value) {
            (Some(positions), Value::List(l)) => WireValue::PosList(
                positions
                    .iter()
                    .zip(l.iter().map(|e| ByteBuf::from(e.to_vec())))
                    .collect(),
            ),
            _ => WireValue::of(&self.value),
        };
        WireVersion {
            region: self.region,
            stamp: self.stamp,
            value,
            expire_at: self.expire_at,
            delta: self.delta.clone(),
        }
    }

    /// Part of a replicated list's sequence: a list edit, or a base that
    /// carries explicit positions. A key holding one shows a derived view
    /// even without other deltas, since the positions live only here.
    fn is_sequence(&self) -> bool {
        self.positions.is_some()
            || self
                .delta
                .as_ref()
                .is_some_and(|ops| ops.iter().any(|op| matches!(op, DeltaOp::List(_))))
    }

    /// The plain version that stands for the versions `view` was derived
    /// from (a fold): their newest dot, the view's value and expiry, and a
    /// list's positions.
    fn standing_for(view: View) -> Version {
        Version {
            region: view.dot.0,
            stamp: view.dot.1,
            value: view.value,
            expire_at: view.expire_at,
            delta: None,
            positions: view.positions.map(BasePositions::packed),
        }
    }

    /// This list version's element positions, explicit or implicit.
    fn list_positions(&self, len: usize) -> Vec<Pos> {
        match &self.positions {
            Some(p) if p.len() == len => p.iter().collect(),
            _ => crate::crdt::implicit(self.region, self.stamp, len).collect(),
        }
    }
}

/// The version a derived view replays its deltas on: the greatest plain one.
fn plain_base(versions: &[Version]) -> Option<&Version> {
    versions
        .iter()
        .filter(|v| v.delta.is_none())
        .max_by_key(|v| (v.stamp, v.region))
}

/// What [`derived_view`] shows.
struct View {
    value: Value,
    expire_at: u64,
    /// The newest version's dot.
    dot: (RegionId, Stamp),
    /// For a list, its elements' positions, head first.
    positions: Option<VecDeque<Pos>>,
}

/// What a key with deltas shows: the greatest ordinary version's value
/// (or, without one, an empty value of the kind the first delta writes)
/// with every delta applied in dot order, and that version's expiry (without
/// one, the last delta's). A delta whose kind does not match the value is
/// skipped: increments add to integer strings only, SADD to sets, HSET and
/// HINCRBY to hashes, document changes to documents (merged by automerge;
/// a change whose dependencies are not there yet waits inside the document
/// until a later view includes them). Integer sums beyond the 64-bit range read as its limit
/// (concurrent increments can jointly pass it).
fn derived_view(versions: &[Version]) -> View {
    let base = plain_base(versions);
    let mut deltas: Vec<&Version> = versions.iter().filter(|v| v.delta.is_some()).collect();
    deltas.sort_by_key(|v| (v.stamp, v.region));
    let last = versions
        .iter()
        .max_by_key(|v| (v.stamp, v.region))
        .map_or((RegionId(0), Stamp(0)), |v| (v.region, v.stamp));
    let ops = deltas.iter().flat_map(|v| v.delta.iter().flatten());
    let (mut value, expire) = match base {
        Some(b) => (b.value.clone(), b.expire_at),
        None => {
            let empty = match ops.clone().next() {
                Some(DeltaOp::SetAdd(_)) => Value::Set(Box::default()),
                Some(DeltaOp::HashSet(_) | DeltaOp::HashIncr(..) | DeltaOp::HashIncrFloat(..)) => {
                    Value::Hash(Box::default())
                }
                Some(DeltaOp::ZSetScore(_) | DeltaOp::ZIncr(..)) => Value::ZSet(Box::default()),
                Some(DeltaOp::DocChange(_)) => Value::Doc(Box::default()),
                Some(DeltaOp::List(_)) => Value::List(Box::default()),
                _ => Value::Str(blob(b"0")),
            };
            (empty, deltas.last().map_or(0, |v| v.expire_at))
        }
    };
    let number = |n: i128| {
        let n = n.clamp(i64::MIN.into(), i64::MAX.into()) as i64;
        blob(itoa::Buffer::new().format(n).as_bytes())
    };
    let mut sum: Option<i128> = match &value {
        Value::Str(s) => crate::engine::number::parse_i64(s).map(i128::from),
        _ => None,
    };
    // Once any increment is a float the string shows the float sum of all
    // of them, added in the versions' stamp order (the same everywhere, so
    // every region rounds alike).
    let mut float_sum: Option<f64> = match &value {
        Value::Str(s) => crate::engine::number::parse_f64(s),
        _ => None,
    };
    let mut floats = false;
    // A list replays its element operations on its base's positions.
    let mut seq = match (&value, base) {
        (Value::List(l), Some(b)) => Some(Sequence::from_parts(
            b.list_positions(l.len()),
            l.iter().cloned(),
        )),
        (Value::List(_), None) => Some(Sequence::default()),
        _ => None,
    };
    // Document changes merge as one batch (automerge orders them by their
    // own dependencies, not by ours).
    let mut doc_changes: Vec<&[u8]> = Vec::new();
    for op in ops {
        match (op, &mut value) {
            (DeltaOp::List(op), Value::List(_)) => {
                if let Some(s) = &mut seq {
                    s.apply(op);
                }
            }
            (DeltaOp::DocChange(change), Value::Doc(_)) => doc_changes.push(&change[..]),
            (DeltaOp::Incr(n), Value::Str(_)) => {
                if let Some(s) = &mut sum {
                    *s += i128::from(*n);
                }
                if let Some(f) = &mut float_sum {
                    *f += *n as f64;
                }
            }
            (DeltaOp::IncrFloat(by), Value::Str(_)) => {
                floats = true;
                if let Some(f) = &mut float_sum {
                    *f += by;
                }
            }
            (op, value) => {
                apply_to_collection(op, value);
            }
        }
    }
    match (floats, float_sum, sum, &value) {
        (true, Some(f), _, Value::Str(_)) if f.is_finite() => {
            value = Value::Str(blob(crate::engine::number::format_f64_incr(f).as_bytes()));
        }
        (false, _, Some(s), Value::Str(_)) => value = Value::Str(number(s)),
        _ => {}
    }
    let mut positions = None;
    if let Some(s) = seq {
        let (p, values) = s.into_parts();
        value = Value::List(Box::new(ListValue::from(values)));
        positions = Some(p);
    }
    if let Value::Doc(d) = &mut value
        && !doc_changes.is_empty()
    {
        let bad = d.merge_changes(doc_changes);
        if bad > 0 {
            tracing::warn!(
                bad,
                "document changes that could not be applied were skipped"
            );
        }
    }
    View {
        value,
        expire_at: expire,
        dot: last,
        positions,
    }
}

/// A value as text that two regions holding the same data print alike (set
/// and hash order is not part of a value), for tests to compare.
#[cfg(test)]
pub(crate) fn canonical(v: &Value) -> String {
    match WireValue::of(v) {
        WireValue::Set(mut m) => {
            m.sort();
            format!("{:?}", WireValue::Set(m))
        }
        WireValue::Hash(mut f) => {
            f.sort();
            format!("{:?}", WireValue::Hash(f))
        }
        other => format!("{other:?}"),
    }
}

/// Applies a collection delta (a set's, hash's or sorted set's) to `value`.
/// These depend on nothing but the value they are applied to, so applying
/// them one by one to a view equals replaying them from its base. Returns
/// whether `op` is one of them (a mismatched kind is skipped, and counts).
fn apply_to_collection(op: &DeltaOp, value: &mut Value) -> bool {
    match (op, value) {
        (DeltaOp::HashIncrFloat(f, by), Value::Hash(h)) => {
            let current = match h.get(f) {
                Some(v) => crate::engine::number::parse_f64(v),
                None => Some(0.0),
            };
            if let Some(next) = current.map(|c| c + by).filter(|n| n.is_finite()) {
                h.set(f, crate::engine::number::format_f64_incr(next).as_bytes());
            }
        }
        (DeltaOp::SetAdd(members), Value::Set(set)) => {
            for m in members {
                set.insert(m);
            }
        }
        (DeltaOp::HashSet(fields), Value::Hash(h)) => {
            for (f, v) in fields {
                h.set(f, v);
            }
        }
        (DeltaOp::HashIncr(f, n), Value::Hash(h)) => {
            let current = match h.get(f) {
                Some(v) => crate::engine::number::parse_i64(v),
                None => Some(0),
            };
            if let Some(c) = current {
                let sum = (i128::from(c) + i128::from(*n)).clamp(i64::MIN.into(), i64::MAX.into());
                h.set(f, itoa::Buffer::new().format(sum as i64).as_bytes());
            }
        }
        (DeltaOp::ZSetScore(members), Value::ZSet(z)) => {
            for (m, score) in members {
                z.insert(m, *score);
            }
        }
        (DeltaOp::ZIncr(m, by), Value::ZSet(z)) => {
            let score = z.score(m).unwrap_or(0.0) + by;
            if !score.is_nan() {
                z.insert(m, score);
            }
        }
        (
            DeltaOp::HashIncrFloat(..)
            | DeltaOp::SetAdd(_)
            | DeltaOp::HashSet(_)
            | DeltaOp::HashIncr(..)
            | DeltaOp::ZSetScore(_)
            | DeltaOp::ZIncr(..),
            _,
        ) => {}
        _ => return false,
    }
    true
}

/// Whether a version's operations fold into a view exactly, one by one, in
/// dot order: collection deltas ([`apply_to_collection`]) and integer
/// increments. Not float increments: a string's float sum is rounded only
/// when shown, so the shown value does not carry it exactly. Not list or
/// document edits, which have their own paths.
fn folds_exactly(v: &Version) -> bool {
    v.delta.as_ref().is_some_and(|ops| {
        ops.iter().all(|op| {
            matches!(
                op,
                DeltaOp::Incr(_)
                    | DeltaOp::SetAdd(_)
                    | DeltaOp::HashSet(_)
                    | DeltaOp::HashIncr(..)
                    | DeltaOp::HashIncrFloat(..)
                    | DeltaOp::ZSetScore(_)
                    | DeltaOp::ZIncr(..)
            )
        })
    })
}

/// Whether any of `versions` adds a float to a string.
fn has_float_increment(versions: &[Version]) -> bool {
    versions
        .iter()
        .flat_map(|v| v.delta.iter().flatten())
        .any(|op| matches!(op, DeltaOp::IncrFloat(_)))
}

/// Applies `added` — increments and collection deltas, every one newer than
/// every version the view at `index` was derived from — to that view in
/// place. The same as replaying every version ([`derived_view`]), since they
/// replay last, in dot order, and each depends only on the value before it;
/// an integer sum is carried by the shown number exactly unless a float
/// increment among `siblings` made it a float sum or it reached the 64-bit
/// limit, and then this declines. It declines too when the newest delta was
/// made under another expiry than the view shows (which expiry wins depends
/// on whether the view has a base). Returns false, touching nothing, when it
/// does not apply.
fn merge_deltas_in_place(
    shard: &mut Shard,
    index: usize,
    siblings: &[Version],
    added: &[Version],
) -> bool {
    if added.is_empty() || !added.iter().all(folds_exactly) {
        return false;
    }
    let Some(mut e) = shard.entry_mut(index) else {
        return false;
    };
    let shown = (e.stamp, e.region);
    if added.iter().any(|v| (v.stamp, v.region) <= shown) {
        return false;
    }
    let mut order: Vec<&Version> = added.iter().collect();
    order.sort_by_key(|v| (v.stamp, v.region));
    let Some(newest) = order.last().copied() else {
        return false;
    };
    if newest.expire_at != e.expire_at {
        return false;
    }
    let ops = || order.iter().flat_map(|v| v.delta.iter().flatten());
    // Their sum, if any are increments.
    let increments: Option<i128> = ops()
        .filter_map(|op| match op {
            DeltaOp::Incr(n) => Some(i128::from(*n)),
            _ => None,
        })
        .reduce(|a, b| a + b);
    if let Some(increments) = increments {
        let Value::Str(s) = &e.value else {
            // Skipped by the replay too, but leave kind mismatches to it.
            return false;
        };
        let Some(current) = crate::engine::number::parse_i64(s) else {
            return false;
        };
        let sum = i128::from(current) + increments;
        let limits = i128::from(i64::MIN)..i128::from(i64::MAX);
        if !limits.contains(&i128::from(current))
            || !limits.contains(&sum)
            || has_float_increment(siblings)
        {
            return false;
        }
        e.value = Value::Str(blob(itoa::Buffer::new().format(sum as i64).as_bytes()));
    } else {
        for op in ops() {
            apply_to_collection(op, &mut e.value);
        }
    }
    e.stamp = newest.stamp;
    e.region = newest.region;
    true
}

/// A derived view with this many versions or more tries to fold its stable
/// ones as versions arrive (see [`fold_stable_prefix`]), not just at `collect`.
pub(crate) const FOLD_AT: usize = 256;

/// The most versions a derived view waits for before folding, however large
/// its value: each merge still walks its versions.
const FOLD_MOST: usize = 2048;

/// Whether a version is nothing but list edits.
fn is_list_edit(v: &Version) -> bool {
    v.delta
        .as_ref()
        .is_some_and(|ops| !ops.is_empty() && ops.iter().all(|op| matches!(op, DeltaOp::List(_))))
}

/// Folds the oldest versions of a derived view, those every region has seen
/// (`stable`), into one plain version, while newer ones still come and go —
/// so a key written without pause keeps a bounded number of versions instead
/// of waiting for a quiet moment when all are stable (see `collect`).
///
/// Exact, the view unchanged now and after anything still to come, when the
/// folded versions are a prefix in dot order (the replay applies them first),
/// hold every plain version (a later base would otherwise replace the fold
/// where it left their deltas standing), and each is a base, a list edit or
/// a delta that folds exactly ([`folds_exactly`]), with no float increment
/// anywhere. All end with the view (`shown`). The fold takes the dot of its
/// newest version, which must be a delta's: a region still holding that
/// delta recognises the fold when a snapshot brings it (see `merge_key`).
/// Every change still to come was written after its writer applied the
/// folded versions, so it orders after them and covers the fold as it would
/// have covered them. Folds only `at_least` versions or more (a fold replays
/// its base: not worth it for a few). Returns whether it folded.
fn fold_stable_prefix(
    siblings: &mut Vec<Version>,
    stable: &VersionVector,
    shown: Option<u64>,
    at_least: usize,
) -> bool {
    if siblings.len() < 3 || has_float_increment(siblings) {
        return false;
    }
    siblings.sort_by_key(|v| (v.stamp, v.region));
    let k = siblings
        .iter()
        .take_while(|v| {
            stable.get(v.region) >= v.stamp.0
                && Some(v.expire_at) == shown
                && (v.delta.is_none() || folds_exactly(v) || is_list_edit(v))
        })
        .count();
    if k < at_least.max(2)
        || siblings[k - 1].delta.is_none()
        || siblings[k..].iter().any(|v| v.delta.is_none())
    {
        return false;
    }
    if let Some(fold) = fold_list_in_place(&mut siblings[..k]) {
        siblings.splice(..k, [fold]);
        return true;
    }
    let view = derived_view(&siblings[..k]);
    if let Value::Str(s) = &view.value {
        // The sum must read back as itself: not clamped, and an integer
        // (a non-integer base skips increments, folded or not, but keep
        // that to the replay).
        let limits = i64::MIN + 1..i64::MAX;
        if !crate::engine::number::parse_i64(s).is_some_and(|n| limits.contains(&n)) {
            return false;
        }
    }
    siblings.splice(..k, [Version::standing_for(view)]);
    true
}

/// The positions a list delta's operations name.
fn touched(v: &Version) -> impl Iterator<Item = &Pos> {
    v.delta.iter().flatten().flat_map(|op| {
        let ps: Box<dyn Iterator<Item = &Pos>> = match op {
            DeltaOp::List(SeqOp::Insert(items)) => Box::new(items.iter().map(|(p, _)| p)),
            DeltaOp::List(SeqOp::Remove(ps)) => Box::new(ps.iter()),
            DeltaOp::List(SeqOp::Set(p, _)) => Box::new(std::iter::once(p)),
            _ => Box::new(std::iter::empty()),
        };
        ps
    })
}

/// Applies `added`, if it is nothing but list edits, to the list a derived
/// view shows at `index` (and to its positions in `meta`), in place — the
/// same as replaying every version ([`derived_view`]) when each edit
/// commutes with those that replay after it: edits of different positions
/// commute, so it is enough that no version replaying later names a
/// position `added` names. (One that does — a removal that overtook the
/// insert it removed, or a later concurrent LSET — sends the merge down the
/// full replay.) Only with positions kept for this very entry. Returns the
/// list's length after, or `None`, touching nothing, when it does not apply.
fn merge_list_ops_in_place(
    shard: &mut Shard,
    index: usize,
    meta: &mut KeyMeta,
    added: &[Version],
) -> Option<usize> {
    if added.is_empty() || !added.iter().all(is_list_edit) {
        return None;
    }
    let mut e = shard.entry_mut(index)?;
    // A list at rest whose cache went gets it back as a copy of its base's
    // positions (checked against the entry below), not by a full replay.
    if meta.list.is_none()
        && meta.derived
        && let [base] = meta.siblings.as_slice()
        && let Some(positions) = base_positions(base)
    {
        meta.list = Some(ListCache::new(base.dot(), positions));
    }
    let cache = meta.list.as_mut()?;
    let shown = (e.region, e.stamp);
    let Value::List(l) = &mut e.value else {
        return None;
    };
    if cache.dot != shown || cache.positions.len() != l.len() {
        return None;
    }
    cache.idle = 0;
    let mut order: Vec<&Version> = added.iter().collect();
    order.sort_by_key(|v| (v.stamp, v.region));
    let first = order.first().map(|v| (v.stamp, v.region))?;
    // The entry carries the newest dot of the versions it shows, so edits
    // newer than it (the usual case: a stream in dot order) replay after
    // every sibling, and only older ones need the siblings walked.
    let newest_known = (shown.1, shown.0);
    if first <= newest_known {
        // A hot key holds up to `FOLD_MOST` versions and `added` names a
        // few positions: hash those, and walk the others once.
        let named: HashSet<&Pos, foldhash::fast::RandomState> =
            added.iter().flat_map(touched).collect();
        if !named.is_empty()
            && meta
                .siblings
                .iter()
                .filter(|v| (v.stamp, v.region) > first)
                .flat_map(touched)
                .any(|p| named.contains(p))
        {
            return None;
        }
    }
    // With a plain base (a fold puts it first) the view keeps the base's
    // expiry; without one it takes the newest version's.
    let has_base = meta.siblings.iter().any(|v| v.delta.is_none());
    let newest_expiry = match order.last() {
        _ if has_base => None,
        Some(v) if (v.stamp, v.region) > newest_known => Some(v.expire_at),
        _ => meta
            .siblings
            .iter()
            .chain(added)
            .max_by_key(|v| (v.stamp, v.region))
            .map(|v| v.expire_at),
    };
    for op in order.iter().flat_map(|v| v.delta.iter().flatten()) {
        if let DeltaOp::List(op) = op {
            apply_list_op(&mut cache.positions, l, op);
        }
    }
    let left = l.len();
    if let Some(exp) = newest_expiry {
        e.expire_at = exp;
    }
    if let Some(&newest) = order.last()
        && (newest.stamp, newest.region) > (e.stamp, e.region)
    {
        e.stamp = newest.stamp;
        e.region = newest.region;
    }
    cache.dot = (e.region, e.stamp);
    Some(left)
}

/// Applies one element operation to a list and its positions (sorted,
/// paired with the elements) in place: what [`Sequence::apply`] does to a
/// replay, without one. Positions not present are skipped, as there.
fn apply_list_op(positions: &mut VecDeque<Pos>, l: &mut ListValue, op: &SeqOp) {
    match op {
        SeqOp::Insert(items) => {
            for (p, value) in items {
                if let Err(i) = positions.binary_search(p) {
                    positions.insert(i, p.clone());
                    l.insert(i, value);
                }
            }
        }
        SeqOp::Remove(ps) => {
            for p in ps {
                if let Ok(i) = positions.binary_search(p) {
                    positions.remove(i);
                    l.remove(i);
                }
            }
        }
        SeqOp::Set(p, value) => {
            if let Ok(i) = positions.binary_search(p) {
                l.set(i, value);
            }
        }
    }
}

/// Folds `prefix` (sorted by dot) of a list's versions in place when it is
/// list edits on at most one plain list version: that version's elements
/// and positions (or an empty list), edited by every edit in dot order —
/// what [`derived_view`] replays, without rebuilding a list as long as the
/// whole. A busy list folds every thousand or so versions, so this keeps a
/// fold proportional to what it folds. `None`, touching nothing, for any
/// other prefix.
fn fold_list_in_place(prefix: &mut [Version]) -> Option<Version> {
    let mut plain = prefix.iter().enumerate().filter(|(_, v)| v.delta.is_none());
    let base = plain.next().map(|(b, _)| b);
    if plain.next().is_some()
        || base.is_some_and(|b| !matches!(prefix[b].value, Value::List(_)))
        || !prefix.iter().all(|v| v.delta.is_none() || is_list_edit(v))
    {
        return None;
    }
    let last = prefix.last()?;
    let newest = last.dot();
    // Without a plain version the replay starts from an empty list and
    // takes the newest version's expiry.
    let (mut l, mut positions, expire_at) = match base {
        Some(b) => {
            let base = &mut prefix[b];
            let Value::List(l) = std::mem::replace(&mut base.value, Value::List(Box::default()))
            else {
                return None;
            };
            // As `Version::list_positions`: explicit positions only if one
            // per element.
            let positions = match base.positions.take() {
                Some(p) if p.len() == l.len() => p.into_open(),
                _ => crate::crdt::implicit(base.region, base.stamp, l.len()).collect(),
            };
            (l, positions, base.expire_at)
        }
        None => (Box::default(), VecDeque::new(), last.expire_at),
    };
    for op in prefix.iter().flat_map(|v| v.delta.iter().flatten()) {
        if let DeltaOp::List(op) = op {
            apply_list_op(&mut positions, &mut l, op);
        }
    }
    Some(Version {
        region: newest.0,
        stamp: newest.1,
        value: Value::List(l),
        expire_at,
        delta: None,
        positions: Some(BasePositions::Open(positions)),
    })
}

/// What a key carries beyond its entry while regions disagree about it.
#[derive(Debug, Default)]
pub(crate) struct KeyMeta {
    /// Versions that lost to the entry's (or wait for an expired entry to
    /// be replaced by the greatest live one of them). When `derived`: every
    /// version of the key.
    siblings: Vec<Version>,
    /// The key has increments: its entry shows [`derived_view`] of
    /// `siblings` and is not a version itself.
    derived: bool,
    /// Versions known removed beyond the applied vector.
    cloud: VersionVector,
    /// For a list: the positions of the elements its entry shows, so a
    /// local edit can name them without replaying the sequence. A cache:
    /// valid only for the entry it was made for, rebuilt otherwise, and not
    /// a reason to keep the record (see [`KeyMeta::is_empty`]).
    list: Option<ListCache>,
}

/// Side-table slots a shard keeps however few records it holds.
const META_SLOTS: usize = 64;

/// Gives back the slots of a side table that once held far more records
/// than it does now. A snapshot import gives every key a record until it is
/// collected, and a `HashMap` keeps its peak capacity: after a region
/// rejoined, that was ~270 bytes per key for good.
fn release_slack(metas: &mut HashMap<Blob, KeyMeta>) {
    if let Some(keep) =
        crate::replication::slack_to_release(metas.len(), metas.capacity(), META_SLOTS)
    {
        metas.shrink_to(keep);
    }
}

/// The positions of the elements a derived list shows: copied from its base
/// when that is its only version (a list at rest, whose cache went), else
/// from a replay of every version.
fn shown_positions(versions: &[Version]) -> Option<VecDeque<Pos>> {
    if let [base] = versions
        && let Some(positions) = base_positions(base)
    {
        return Some(positions);
    }
    derived_view(versions).positions
}

/// A plain list version's explicit positions, copied.
fn base_positions(base: &Version) -> Option<VecDeque<Pos>> {
    if base.delta.is_some() {
        return None;
    }
    base.positions.as_ref().map(|p| p.iter().collect())
}

/// `collect`s (one a second) a list's cache may go unused before it is
/// dropped: five minutes. Rebuilding it copies every position of the list
/// (about 0.1 s per million elements), so it waits for a list that is
/// really at rest, and a list edited less often pays that at most once per
/// interval. (Tests use 2, so the property tests' collects drop and rebuild
/// caches often.)
#[cfg(not(test))]
pub(crate) const LIST_CACHE_IDLE_COLLECTS: u16 = 300;
#[cfg(test)]
pub(crate) const LIST_CACHE_IDLE_COLLECTS: u16 = 2;

/// The positions of a list's shown elements, head first, for the entry
/// whose dot is `dot`.
#[derive(Debug)]
struct ListCache {
    dot: (RegionId, Stamp),
    positions: VecDeque<Pos>,
    /// `collect`s since the cache was last used. After
    /// [`LIST_CACHE_IDLE_COLLECTS`] of them it goes: it repeats its base's
    /// positions, which are most of what a replicated list costs at rest
    /// (80 bytes per element of a multi-element push), and the next edit
    /// rebuilds it by copying the base's positions.
    idle: u16,
}

impl ListCache {
    /// A cache of `positions` for the entry whose dot is `dot`, just used.
    fn new(dot: (RegionId, Stamp), positions: VecDeque<Pos>) -> ListCache {
        ListCache {
            dot,
            positions,
            idle: 0,
        }
    }
}

impl KeyMeta {
    fn is_empty(&self) -> bool {
        self.siblings.is_empty() && self.cloud.is_empty()
    }

    fn has_deltas(&self) -> bool {
        self.siblings
            .iter()
            .any(|v| v.delta.is_some() || v.positions.is_some())
    }
}

/// The state of the link to one peer, as INFO and metrics show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected (dialling, or waiting to be dialled).
    Down,
    /// Connected and streaming.
    Up,
    /// Connected, sending or receiving a snapshot.
    Syncing,
}

impl LinkState {
    /// The name INFO prints.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Down => "down",
            LinkState::Up => "up",
            LinkState::Syncing => "sync",
        }
    }
}

/// What this region knows about one peer.
#[derive(Debug, Clone)]
pub struct PeerStatus {
    /// The peer's region id.
    pub region: RegionId,
    /// Its name.
    pub name: String,
    /// Where we reach it (or "accept" if it dials us).
    pub addr: String,
    /// Link state.
    pub state: LinkState,
    /// The applied vector it last reported.
    pub reported: Option<VersionVector>,
    /// When we last heard from it.
    pub last_contact: Option<Instant>,
    /// Changes of its own we applied.
    pub changes_in: u64,
    /// Snapshots we sent it / received from it.
    pub snapshots_out: u64,
    /// Snapshots received from it.
    pub snapshots_in: u64,
    /// The process start it last announced.
    pub incarnation: Option<u64>,
    /// The last of our changes it has applied.
    pub acked: u64,
    /// How far it had applied our changes when it last (re)connected.
    pub knows_of_us: Option<u64>,
}

/// How long a restarted region waits for peers it cannot reach before it
/// accepts writes anyway (see [`Replica::accepts_writes`]).
pub const CATCH_UP_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How far a peer is behind (see [`Replica::peer_lag`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lag {
    /// Our changes it has not acknowledged.
    pub ops: usize,
    /// Age in ms of the oldest of them (0 if none).
    pub ms: u64,
}

/// How the replica is set up.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// This region.
    pub me: RegionId,
    /// The other regions: id, name, address.
    pub peers: Vec<(RegionId, String, String)>,
    /// Bound of the change log in bytes.
    pub log_bytes: usize,
}

/// A change could not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    /// It names a region that is not part of the deployment.
    #[error("change from unknown region {0}")]
    UnknownRegion(RegionId),
    /// It could not be decoded.
    #[error("undecodable change: {0}")]
    Decode(String),
}

/// The replication state of one region's engine.
#[derive(Debug)]
pub struct Replica {
    me: RegionId,
    incarnation: u64,
    /// Every region, sorted; `applied` is indexed alike.
    regions: Vec<RegionId>,
    applied: Vec<AtomicU64>,
    commit: Mutex<()>,
    metas: Box<[Mutex<HashMap<Blob, KeyMeta>>]>,
    /// Removals by FLUSHALLs beyond the applied vector, for every key.
    flush_cloud: Mutex<VersionVector>,
    log: DeltaLog,
    /// The first stamp of this process's own changes. Our changes from
    /// before a restart (older stamps) were lost with the process: they are
    /// known here only as far as `own_imported` says, however far our own
    /// applied mark has moved on since.
    own_floor: AtomicU64,
    /// How far snapshots have brought back our own changes from before
    /// `own_floor`.
    own_imported: AtomicU64,
    /// True until every peer has told what it knows of our changes and
    /// snapshots have brought all of it back (see [`Replica::accepts_writes`]).
    catching_up: std::sync::atomic::AtomicBool,
    /// When a region that cannot reach every peer gives up waiting.
    catch_up_deadline: Instant,
    peers: Vec<Mutex<PeerStatus>>,
    /// Changes applied from peers.
    pub changes_applied: AtomicU64,
    /// Changes committed here.
    pub changes_logged: AtomicU64,
    /// Where transitions are recorded (persistence), once set.
    sink: std::sync::OnceLock<std::sync::Arc<dyn ChangeSink>>,
}

/// The outcome of merging into one key.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Merged {
    /// The shown value or expiry changed.
    pub changed: bool,
    /// The key now holds a non-empty list (wake blocked poppers).
    pub list: bool,
}

impl Replica {
    /// A replica for `config` over a keyspace of `shards` shards.
    pub fn new(config: ReplicaConfig, shards: usize) -> Replica {
        let mut regions: Vec<RegionId> = config.peers.iter().map(|p| p.0).collect();
        regions.push(config.me);
        regions.sort();
        regions.dedup();
        let peers: Vec<Mutex<PeerStatus>> = config
            .peers
            .iter()
            .filter(|p| p.0 != config.me)
            .map(|(region, name, addr)| {
                Mutex::new(PeerStatus {
                    region: *region,
                    name: name.clone(),
                    addr: addr.clone(),
                    state: LinkState::Down,
                    reported: None,
                    last_contact: None,
                    changes_in: 0,
                    snapshots_out: 0,
                    snapshots_in: 0,
                    incarnation: None,
                    acked: 0,
                    knows_of_us: None,
                })
            })
            .collect();
        Replica {
            me: config.me,
            incarnation: rand::random(),
            applied: regions.iter().map(|_| AtomicU64::new(0)).collect(),
            regions,
            commit: Mutex::new(()),
            metas: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            flush_cloud: Mutex::new(VersionVector::new()),
            log: DeltaLog::new(config.log_bytes),
            own_floor: AtomicU64::new(0),
            own_imported: AtomicU64::new(0),
            catching_up: std::sync::atomic::AtomicBool::new(!peers.is_empty()),
            catch_up_deadline: Instant::now() + CATCH_UP_LIMIT,
            peers,
            changes_applied: AtomicU64::new(0),
            changes_logged: AtomicU64::new(0),
            sink: std::sync::OnceLock::new(),
        }
    }

    /// Sends every later transition to `sink` (once; later calls are
    /// ignored). Set after start-up recovery, so replayed records are not
    /// recorded again.
    pub fn set_sink(&self, sink: std::sync::Arc<dyn ChangeSink>) {
        let _ = self.sink.set(sink);
    }

    /// The sink, if one is set.
    pub(crate) fn sink(&self) -> Option<&dyn ChangeSink> {
        self.sink.get().map(|s| &**s)
    }

    /// Start-up recovery begins: the records replayed are this region's own
    /// history, so its own changes among them count as applied like any
    /// other region's (see [`Replica::dot_applied`]).
    pub(crate) fn begin_recovery(&self) {
        self.own_floor.store(0, Ordering::Release);
    }

    /// Start-up recovery ended at HLC time `now`: our own changes up to our
    /// recovered mark are back, those after it (not persisted in time) are
    /// known only as far as peers give them back.
    pub(crate) fn end_recovery(&self, now: Stamp) {
        let mine = self.applied_of(self.me);
        self.own_imported.fetch_max(mine, Ordering::AcqRel);
        // Peers that lack some of them get a snapshot: the log does not
        // hold them.
        self.log.start_after(mine);
        self.own_floor.store(now.0, Ordering::Release);
        self.recheck_catch_up();
    }

    /// This region.
    pub fn me(&self) -> RegionId {
        self.me
    }

    /// Whether local writes are accepted. A region starts *catching up*: a
    /// process that restarted lost its own recent changes, and writing
    /// before peers have given them back would cover them unseen (the
    /// context of a write is a version vector, so it claims every earlier
    /// change of its own region). It accepts writes once every peer has said
    /// how much of our changes it holds and snapshots have brought that
    /// back — at once in a fresh cluster, whose peers hold nothing of ours —
    /// or after [`CATCH_UP_LIMIT`] if some peer stays unreachable (logged).
    pub fn accepts_writes(&self) -> bool {
        if !self.catching_up.load(Ordering::Acquire) {
            return true;
        }
        if Instant::now() >= self.catch_up_deadline {
            if self.catching_up.swap(false, Ordering::AcqRel) {
                tracing::warn!(
                    "not every peer could be reached to catch up after start-up; \
                     accepting writes (changes of ours only those peers hold may be overwritten)"
                );
            }
            return true;
        }
        false
    }

    /// Whether the region is still catching up (INFO).
    pub fn catching_up(&self) -> bool {
        self.catching_up.load(Ordering::Acquire)
    }

    /// A peer (re)connected knowing our changes up to `knows`.
    pub fn note_peer_knowledge(&self, peer: RegionId, knows: u64) {
        if let Some(p) = self.peer(peer) {
            p.lock().knows_of_us = Some(knows);
        }
        self.recheck_catch_up();
    }

    fn recheck_catch_up(&self) {
        if !self.catching_up.load(Ordering::Acquire) {
            return;
        }
        let have = self.own_imported.load(Ordering::Acquire);
        let done = self
            .peers
            .iter()
            .all(|p| p.lock().knows_of_us.is_some_and(|k| k == 0 || k <= have));
        if done && self.catching_up.swap(false, Ordering::AcqRel) {
            tracing::info!("caught up with every peer; accepting writes");
        }
    }

    /// Runs a local list edit's `edit` on the positions of the elements the
    /// list `key` (in shard `index`, held by the caller) shows — the entry
    /// at `dot` with `len` elements, as it was before the edit wrote it —
    /// and keeps them, tagged with `after` (the entry's dot once written),
    /// for the next edit. Rebuilt from the versions when the kept ones are
    /// not for that entry.
    pub(crate) fn edit_list_positions<R>(
        &self,
        index: usize,
        key: &[u8],
        dot: (RegionId, Stamp),
        len: usize,
        after: (RegionId, Stamp),
        edit: impl FnOnce(&mut VecDeque<Pos>) -> R,
    ) -> R {
        let mut metas = self.metas[index].lock();
        let meta = metas.entry(blob(key)).or_default();
        let cache = match meta.list.take() {
            Some(c) if c.dot == dot && c.positions.len() == len => c,
            _ => {
                let replayed = (meta.derived && len > 0)
                    .then(|| shown_positions(&meta.siblings))
                    .flatten()
                    .filter(|p| p.len() == len);
                let positions =
                    replayed.unwrap_or_else(|| crate::crdt::implicit(dot.0, dot.1, len).collect());
                ListCache::new(dot, positions)
            }
        };
        let cache = meta.list.insert(cache);
        cache.idle = 0;
        let out = edit(&mut cache.positions);
        cache.dot = after;
        out
    }

    /// Whether a delta to `key` (in shard `index`) must record the version
    /// it builds on: not when the key already shows a derived value.
    pub(crate) fn needs_base(&self, index: usize, key: &[u8]) -> bool {
        !self.metas[index].lock().get(key).is_some_and(|m| m.derived)
    }

    /// Records the stamp this process starts at (before its first change):
    /// our own older changes belong to a previous run.
    pub(crate) fn start_at(&self, first: Stamp) {
        self.own_floor.store(first.0, Ordering::Release);
    }

    /// Whether the one change `(region, stamp)` has been applied here, given
    /// our applied vector `local`. Our own changes from before a restart
    /// count only once a snapshot brought them back (or showed them
    /// removed): our own mark has moved past them without applying them.
    ///
    /// With persistence, start-up recovery brings our changes back up to
    /// our persisted mark ([`Replica::end_recovery`]); only those after it
    /// (not yet on disk when the process died) are lost this way.
    ///
    /// Removal records (`KeyMeta::cloud`, `flush_cloud`) are kept and
    /// pruned by this same test, so a removal of such a lost change — or a
    /// snapshot state that already holds it, like a counter a peer collapsed
    /// — is remembered until a snapshot has brought our own changes back.
    fn dot_applied(&self, local: &VersionVector, region: RegionId, stamp: u64) -> bool {
        if region == self.me && stamp < self.own_floor.load(Ordering::Acquire) {
            stamp <= self.own_imported.load(Ordering::Acquire)
        } else {
            local.get(region) >= stamp
        }
    }

    /// Random per process start (peers notice a restart by it).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The log of this region's own changes.
    pub fn log(&self) -> &DeltaLog {
        &self.log
    }

    /// Whether `region` belongs to the deployment.
    pub fn knows(&self, region: RegionId) -> bool {
        self.regions.binary_search(&region).is_ok()
    }

    fn slot(&self, region: RegionId) -> Option<&AtomicU64> {
        self.regions
            .binary_search(&region)
            .ok()
            .map(|i| &self.applied[i])
    }

    /// The last change of `region` applied here (its log position).
    pub fn applied_of(&self, region: RegionId) -> u64 {
        self.slot(region).map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// Every region's applied mark.
    pub fn applied(&self) -> VersionVector {
        self.regions
            .iter()
            .zip(&self.applied)
            .map(|(r, a)| (*r, a.load(Ordering::Acquire)))
            .filter(|(_, s)| *s > 0)
            .collect()
    }

    fn raise(&self, region: RegionId, stamp: u64) {
        if let Some(a) = self.slot(region) {
            a.fetch_max(stamp, Ordering::AcqRel);
        }
    }

    /// The status of the peer `region`, for reading or updating.
    pub fn peer(&self, region: RegionId) -> Option<&Mutex<PeerStatus>> {
        self.peers.iter().find(|p| p.lock().region == region)
    }

    /// How far `peer` is behind our own changes: how many it has not
    /// acknowledged, and the age of the oldest of them.
    pub fn peer_lag(&self, peer: &PeerStatus) -> Lag {
        let (ops, first) = self.log.pending_after(peer.acked);
        let ms = first.map_or(0, |p| {
            crate::clock::unix_ms().saturating_sub(Stamp(p).physical_ms())
        });
        Lag { ops, ms }
    }

    /// A copy of every peer's status.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.peers.iter().map(|p| p.lock().clone()).collect()
    }

    /// How many other regions there are.
    pub fn regions(&self) -> usize {
        self.peers.len()
    }

    /// How many other regions have applied our own changes up to log
    /// position `pos` (WAIT).
    pub fn regions_acked(&self, pos: u64) -> usize {
        self.peers.iter().filter(|p| p.lock().acked >= pos).count()
    }

    /// What every region has seen *and* every change still to come will have
    /// seen: the meet of our applied vector with what each peer last
    /// reported. Peers report in order on the link that carries their
    /// changes, so any change of theirs we apply later was written after
    /// the report. `None` while some peer has never reported.
    pub fn stable(&self) -> Option<VersionVector> {
        let mut s = self.applied();
        for p in &self.peers {
            let p = p.lock();
            s = s.meet(p.reported.as_ref()?);
        }
        Some(s)
    }

    // -----------------------------------------------------------------
    // Local changes
    // -----------------------------------------------------------------

    /// Starts committing a local transaction: takes the commit lock and a
    /// fresh stamp. The caller, still holding the transaction's shards, adds
    /// each key it wrote and then [`Commit::finish`]es.
    pub(crate) fn begin_commit(&self, clock: &crate::clock::Hlc) -> Commit<'_> {
        let order = self.commit.lock();
        let stamp = clock.now();
        let mut ctx = self.applied();
        ctx.raise(self.me, stamp.0);
        Commit {
            replica: self,
            _order: order,
            stamp,
            ctx,
            ops: Vec::new(),
        }
    }

    /// The context a local FLUSHALL removes: everything applied so far.
    pub(crate) fn flush_context(&self) -> VersionVector {
        self.applied()
    }

    /// Removes from `shard` every version `ctx` covers (a FLUSHALL, local or
    /// remote). Returns how many keys went.
    pub(crate) fn flush_shard(
        &self,
        index: usize,
        shard: &mut Shard,
        ctx: &VersionVector,
        now_ms: u64,
    ) -> usize {
        let before = shard.len();
        let mut metas = self.metas[index].lock();
        // Keys the side table holds without an entry (versions that show
        // nothing yet, like a pop of an element whose push has not arrived)
        // are keys too: what the flush covers goes from them as well.
        let mut keys: Vec<Blob> = shard.dict().iter().map(|e| e.key.clone()).collect();
        let shown: HashSet<&Blob> = keys.iter().collect();
        let hidden: Vec<Blob> = metas
            .keys()
            .filter(|k| !shown.contains(k))
            .cloned()
            .collect();
        keys.extend(hidden);
        let local = self.applied();
        for key in keys {
            self.merge_key(
                shard,
                &mut metas,
                &key,
                Vec::new(),
                ctx,
                &local,
                None,
                now_ms,
            );
        }
        before.saturating_sub(shard.len())
    }

    // -----------------------------------------------------------------
    // Remote changes
    // -----------------------------------------------------------------

    /// Decodes a change a peer sent.
    pub fn decode(bytes: &[u8]) -> Result<Change, ApplyError> {
        rmp_serde::from_slice(bytes).map_err(|e| ApplyError::Decode(e.to_string()))
    }

    /// Whether `change` still needs applying (not a duplicate).
    pub fn is_new(&self, change: &Change) -> bool {
        change.stamp.0 > self.applied_of(change.origin)
    }

    /// Merges one key op of a peer's change into `shard` (index `index`),
    /// which the caller holds. `local` is our applied vector read before the
    /// change. Flushes and publishes are not key ops: the caller carries them
    /// out.
    pub(crate) fn apply_op(
        &self,
        change: &Change,
        op: &KeyOp,
        index: usize,
        shard: &mut Shard,
        local: &VersionVector,
        now_ms: u64,
    ) -> Merged {
        let origin = Some((change.origin, change.stamp.0));
        let (key, incoming) = match op {
            KeyOp::Put {
                key,
                value,
                expire_at,
            } => (
                key,
                vec![Version::from_wire(WireVersion {
                    region: change.origin,
                    stamp: change.stamp,
                    value: value.clone(),
                    expire_at: *expire_at,
                    delta: None,
                })],
            ),
            KeyOp::Delta {
                key,
                ops,
                expire_at,
            } => {
                // A delta replaces nothing: merge it under an empty context.
                let version = Version {
                    region: change.origin,
                    stamp: change.stamp,
                    value: Value::Str(Blob::new()),
                    expire_at: *expire_at,
                    delta: Some(ops.clone()),
                    positions: None,
                };
                let mut metas = self.metas[index].lock();
                let none = VersionVector::new();
                return self.merge_key(
                    shard,
                    &mut metas,
                    key,
                    vec![version],
                    &none,
                    local,
                    origin,
                    now_ms,
                );
            }
            KeyOp::Del { key } => (key, Vec::new()),
            KeyOp::Flush | KeyOp::Publish { .. } => return Merged::default(),
        };
        let mut metas = self.metas[index].lock();
        self.merge_key(
            shard,
            &mut metas,
            key,
            incoming,
            &change.ctx,
            local,
            origin,
            now_ms,
        )
    }

    /// Checks a peer's change before it is applied.
    pub fn check(&self, change: &Change) -> Result<(), ApplyError> {
        if self.knows(change.origin) {
            Ok(())
        } else {
            Err(ApplyError::UnknownRegion(change.origin))
        }
    }

    /// Marks a peer's change applied: called after every op, before the
    /// shards it wrote are released.
    pub(crate) fn finish_apply(&self, change: &Change) {
        self.raise(change.origin, change.stamp.0);
        self.changes_applied.fetch_add(1, Ordering::Relaxed);
    }

    /// What FLUSHALLs applied here removed beyond what this region has
    /// applied: a snapshot carries it, so its receiver removes them too.
    pub fn flushed_beyond(&self) -> VersionVector {
        self.flush_cloud.lock().clone()
    }

    /// Records removals by FLUSHALLs that a snapshot's sender knew of
    /// ([`Replica::flushed_beyond`]) and this region has not applied, so
    /// versions they removed that reach us later stay removed.
    pub(crate) fn note_flushed(&self, flushed: &VersionVector) {
        let local = self.applied();
        let mut fc = self.flush_cloud.lock();
        for (r, s) in flushed.iter() {
            if !self.dot_applied(&local, r, s) {
                fc.raise(r, s);
            }
        }
    }

    /// Records the removals of a peer's FLUSHALL that go beyond what we
    /// have applied, so versions it removed that reach us later stay removed.
    pub(crate) fn note_remote_flush(&self, change: &Change) {
        let local = self.applied();
        let mut fc = self.flush_cloud.lock();
        for (r, s) in change.ctx.iter() {
            // The origin's changes up to the flush itself arrive in order
            // before it, so they are applied by now; only others' go to the cloud.
            let carried = r == change.origin && s <= change.stamp.0;
            if !carried && !self.dot_applied(&local, r, s) {
                fc.raise(r, s);
            }
        }
    }

    /// The merge rule (see the module docs) for one key.
    #[allow(clippy::too_many_arguments)]
    fn merge_key(
        &self,
        shard: &mut Shard,
        metas: &mut HashMap<Blob, KeyMeta>,
        key: &[u8],
        incoming: Vec<Version>,
        ctx: &VersionVector,
        local: &VersionVector,
        origin: Option<(RegionId, u64)>,
        now_ms: u64,
    ) -> Merged {
        let hash = hash_key(key);
        // An expired entry is gone here (and `find` removes it); its live
        // siblings compete below as if it had never been.
        let mut index = shard.find(hash, key, now_ms);
        let mut meta = metas.remove(key).unwrap_or_default();
        let live = |expire_at: u64| expire_at == 0 || expire_at > now_ms;
        let covered = |region: RegionId, stamp: Stamp| ctx.get(region) >= stamp.0;
        // A derived entry is a view, not a version: its versions are all in
        // the side table.
        let winner = index
            .filter(|_| !meta.derived)
            .and_then(|i| shard.at(i))
            .map(|e| (e.region, e.stamp, e.expire_at));
        let in_incoming = |dot: (RegionId, Stamp)| incoming.iter().any(|v| v.dot() == dot);
        let keep_winner = winner.is_some_and(|(r, s, _)| !covered(r, s) || in_incoming((r, s)));
        // A plain version arriving under the dot of an increment we hold is
        // that increment collapsed with everything stable before it (see
        // `collect`): it takes the increment's place.
        let collapsed: Vec<(RegionId, Stamp)> = incoming
            .iter()
            .filter(|v| v.delta.is_none())
            .filter(|v| {
                meta.siblings
                    .iter()
                    .any(|s| s.delta.is_some() && s.dot() == v.dot())
            })
            .map(Version::dot)
            .collect();
        // Regions collapse a stable counter independently, so one dot can
        // name two plain versions: a collapse made before a concurrent
        // increment arrived, and one made after (which includes it). A
        // sender whose context covers an increment we hold but which it
        // does not send has it inside its version under that dot (or
        // removed by a newer write that comes along): its value is the
        // fuller one, and it replaces ours before the increment goes.
        let drops_delta = meta
            .siblings
            .iter()
            .any(|v| v.delta.is_some() && covered(v.region, v.stamp) && !in_incoming(v.dot()));
        if drops_delta {
            for v in incoming.iter().filter(|v| v.delta.is_none()) {
                if let Some(held) = meta
                    .siblings
                    .iter_mut()
                    .find(|s| s.delta.is_none() && s.dot() == v.dot())
                {
                    held.value = v.value.clone();
                    held.expire_at = v.expire_at;
                    held.positions = v.positions.clone();
                }
            }
        }
        let before_siblings = meta.siblings.len();
        meta.siblings.retain(|v| {
            live(v.expire_at)
                && (!covered(v.region, v.stamp) || in_incoming(v.dot()))
                && !(v.delta.is_some() && collapsed.contains(&v.dot()))
        });
        let mut removed =
            (winner.is_some() && !keep_winner) || meta.siblings.len() != before_siblings;
        // Live siblings of an entry that expired: one of them is shown now.
        // (A derived view that expired is recomputed from what is live.)
        let promote = index.is_none() && !meta.siblings.is_empty();
        let was_derived = meta.derived;

        // What this region already knows about the key: applied, or removed
        // by something applied ahead of it.
        let flush_cloud = self.flush_cloud.lock();
        let known = |region: RegionId, stamp: Stamp| {
            self.dot_applied(local, region, stamp.0)
                || meta.cloud.get(region) >= stamp.0
                || flush_cloud.get(region) >= stamp.0
        };
        let present = |dot: (RegionId, Stamp)| {
            winner.is_some_and(|(r, s, _)| (r, s) == dot)
                || meta.siblings.iter().any(|v| v.dot() == dot)
        };
        // A version that arrives expired is dead everywhere already.
        let added: Vec<Version> = incoming
            .into_iter()
            .filter(|v| {
                live(v.expire_at)
                    && !present(v.dot())
                    && (!known(v.region, v.stamp) || collapsed.contains(&v.dot()))
            })
            .collect();
        drop(flush_cloud);

        // Removals beyond what we applied are remembered for versions still
        // on their way; the change's own dot is about to be applied. (Our
        // own changes from before a restart count as not applied until a
        // snapshot brings them back, though our own mark has passed them:
        // a state that already holds them must not get them again.)
        for (r, s) in ctx.iter() {
            let own = origin.is_some_and(|(or, os)| or == r && s <= os);
            if !self.dot_applied(local, r, s) && !own {
                meta.cloud.raise(r, s);
            }
        }

        if !removed && !promote && added.is_empty() {
            if !meta.is_empty() {
                metas.insert(blob(key), meta);
            }
            return Merged::default();
        }
        // The shortcuts: the view takes `added` without a replay. Each says
        // when it can (they take disjoint kinds of edits), touching nothing
        // otherwise.
        if !removed
            && !promote
            && meta.derived
            && let Some(i) = index
        {
            let list_left = merge_list_ops_in_place(shard, i, &mut meta, &added);
            if list_left.is_some()
                || self.merge_doc_changes_in_place(shard, i, &meta, &added)
                || merge_deltas_in_place(shard, i, &meta.siblings, &added)
            {
                meta.siblings.extend(added);
                if list_left == Some(0) {
                    // Concurrent pops emptied it: as `merge_derived` does.
                    shard.remove_at(i);
                    meta.list = None;
                } else {
                    let shown = shard.at(i).map(|e| (e.expire_at, e.value.elements()));
                    self.fold_if_long(&mut meta, shown);
                }
                metas.insert(blob(key), meta);
                return Merged {
                    changed: true,
                    list: list_left.is_some_and(|n| n > 0),
                };
            }
        }
        removed = removed || promote || !added.is_empty();

        if meta.has_deltas()
            || added
                .iter()
                .any(|v| v.delta.is_some() || v.positions.is_some())
        {
            return self.merge_derived(
                shard,
                metas,
                key,
                meta,
                index,
                winner,
                keep_winner,
                added,
                now_ms,
            );
        }
        if was_derived && let Some(i) = index {
            // The last increment went: the view goes, and the greatest
            // version is shown as itself again (a candidate like any other).
            shard.remove_at(i);
            index = None;
        }
        meta.derived = false;
        meta.list = None;

        // Candidates: (dot, own expiry, where it lives). All are live.
        enum Src {
            Entry,
            Sibling(usize),
            Added(usize),
        }
        let mut cands: Vec<((Stamp, RegionId), u64, Src)> = Vec::new();
        if let (true, Some((r, s, exp))) = (keep_winner, winner) {
            cands.push(((s, r), exp, Src::Entry));
        }
        for (i, v) in meta.siblings.iter().enumerate() {
            cands.push(((v.stamp, v.region), v.expire_at, Src::Sibling(i)));
        }
        for (i, v) in added.iter().enumerate() {
            cands.push(((v.stamp, v.region), v.expire_at, Src::Added(i)));
        }
        let best = cands
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| c.0)
            .map(|(i, _)| i);

        let mut siblings: Vec<Version> = Vec::new();
        let mut old_siblings: Vec<Option<Version>> = std::mem::take(&mut meta.siblings)
            .into_iter()
            .map(Some)
            .collect();
        let mut added: Vec<Option<Version>> = added.into_iter().map(Some).collect();
        let mut winner_version: Option<Version> = None;
        let mut winner_is_entry = false;
        for (ci, (_, exp, src)) in cands.iter().enumerate() {
            let is_best = Some(ci) == best;
            match src {
                Src::Entry => {
                    if is_best {
                        winner_is_entry = true;
                    } else if let Some(i) = index
                        && let Some(e) = shard.at(i)
                    {
                        // Kept but outshone: it becomes a sibling below,
                        // once the new winner's value has replaced it.
                        siblings.push(Version {
                            region: e.region,
                            stamp: e.stamp,
                            value: Value::Str(Blob::new()),
                            expire_at: *exp,
                            delta: None,
                            positions: None,
                        });
                    }
                }
                Src::Sibling(i) => {
                    if let Some(v) = old_siblings[*i].take() {
                        if is_best {
                            winner_version = Some(v);
                        } else {
                            siblings.push(v);
                        }
                    }
                }
                Src::Added(i) => {
                    if let Some(v) = added[*i].take() {
                        if is_best {
                            winner_version = Some(v);
                        } else {
                            siblings.push(v);
                        }
                    }
                }
            }
        }

        let mut merged = Merged {
            changed: removed,
            list: false,
        };
        match (winner_is_entry, winner_version, index) {
            (true, _, Some(i)) => {
                if let Some(e) = shard.at(i) {
                    merged.list = matches!(&e.value, Value::List(l) if !l.is_empty());
                }
            }
            (false, Some(v), Some(i)) => {
                if let Some(mut e) = shard.entry_mut(i) {
                    let old = std::mem::replace(&mut e.value, v.value);
                    let (old_region, old_stamp) = (e.region, e.stamp);
                    e.region = v.region;
                    e.stamp = v.stamp;
                    e.expire_at = v.expire_at;
                    merged.list = matches!(&e.value, Value::List(l) if !l.is_empty());
                    if let Some(s) = siblings
                        .iter_mut()
                        .find(|s| (s.region, s.stamp) == (old_region, old_stamp))
                    {
                        s.value = old;
                    }
                }
            }
            (false, Some(v), None) => {
                merged.list = matches!(&v.value, Value::List(l) if !l.is_empty());
                let mut entry = Box::new(Entry::new(blob(key), v.value, v.stamp, v.region, now_ms));
                entry.expire_at = v.expire_at;
                shard.insert_new(hash, entry);
            }
            (_, None, Some(i)) if !winner_is_entry => {
                shard.remove_at(i);
            }
            _ => {}
        }
        meta.siblings = siblings;
        if !meta.is_empty() {
            metas.insert(blob(key), meta);
        }
        merged
    }

    /// Merges `added`, if it is nothing but document changes, into the
    /// document a derived view shows at `index`, in place: automerge's
    /// merge is commutative and idempotent, so this equals rebuilding the
    /// view from its base with every pending change ([`derived_view`]),
    /// without merging all of them again on every edit that arrives. Only
    /// when the view has a plain base version (whose expiry it keeps) and
    /// nothing else changes. Returns false, touching nothing, otherwise.
    fn merge_doc_changes_in_place(
        &self,
        shard: &mut Shard,
        index: usize,
        meta: &KeyMeta,
        added: &[Version],
    ) -> bool {
        let only_doc_changes = !added.is_empty()
            && added.iter().all(|v| {
                v.delta.as_ref().is_some_and(|ops| {
                    !ops.is_empty() && ops.iter().all(|op| matches!(op, DeltaOp::DocChange(_)))
                })
            });
        if !only_doc_changes || !meta.siblings.iter().any(|v| v.delta.is_none()) {
            return false;
        }
        let Some(mut e) = shard.entry_mut(index) else {
            return false;
        };
        let newest = added
            .iter()
            .map(|v| (v.stamp, v.region))
            .max()
            .filter(|&(s, r)| (s, r) > (e.stamp, e.region));
        let Value::Doc(doc) = &mut e.value else {
            return false;
        };
        let changes = added
            .iter()
            .flat_map(|v| v.delta.iter().flatten())
            .filter_map(|op| match op {
                DeltaOp::DocChange(c) => Some(&c[..]),
                _ => None,
            });
        let bad = doc.merge_changes(changes);
        if bad > 0 {
            tracing::warn!(
                bad,
                "document changes that could not be applied were skipped"
            );
        }
        if let Some((stamp, region)) = newest {
            e.stamp = stamp;
            e.region = region;
        }
        true
    }

    /// Folds a long derived view's stable versions ([`fold_stable_prefix`])
    /// as they arrive. A fold replays the view's base, which costs its
    /// `elements`: the versions it takes grow with them (an eighth), so a
    /// version costs a constant share of folds, whatever the value's size.
    /// Attempts come every 64 versions, so they too cost little each.
    fn fold_if_long(&self, meta: &mut KeyMeta, shown: Option<(u64, usize)>) {
        let Some((expire_at, elements)) = shown else {
            return;
        };
        let at = FOLD_AT.max(elements / 8).min(FOLD_MOST);
        let n = meta.siblings.len();
        if n >= at
            && n.is_multiple_of(64)
            && let Some(stable) = self.stable()
        {
            fold_stable_prefix(&mut meta.siblings, &stable, Some(expire_at), at / 2);
        }
    }

    /// The merge for a key with increments (see the module docs): every
    /// version goes to the side table and the entry shows their sum.
    #[allow(clippy::too_many_arguments)]
    fn merge_derived(
        &self,
        shard: &mut Shard,
        metas: &mut HashMap<Blob, KeyMeta>,
        key: &[u8],
        mut meta: KeyMeta,
        index: Option<usize>,
        winner: Option<(RegionId, Stamp, u64)>,
        keep_winner: bool,
        added: Vec<Version>,
        now_ms: u64,
    ) -> Merged {
        let hash = hash_key(key);
        if let (true, Some((region, stamp, expire_at)), Some(i)) = (keep_winner, winner, index)
            && let Some(e) = shard.at(i)
        {
            // The entry was a version of its own: it joins the others.
            meta.siblings.push(Version {
                region,
                stamp,
                value: e.value.clone(),
                expire_at,
                delta: None,
                positions: None,
            });
        }
        meta.siblings.extend(added);
        meta.derived = true;
        let View {
            value,
            expire_at,
            dot: (region, stamp),
            positions,
        } = derived_view(&meta.siblings);
        let list = matches!(&value, Value::List(l) if !l.is_empty());
        let elements = value.elements();
        meta.list = None;
        if matches!(&value, Value::List(l) if l.is_empty()) {
            // Every element of a list went (concurrent pops): no key is
            // shown, as Redis never shows an empty list; the versions stay
            // until `collect` finds them stable.
            if let Some(i) = index {
                shard.remove_at(i);
            }
            metas.insert(blob(key), meta);
            return Merged {
                changed: true,
                list: false,
            };
        }
        if let Some(positions) = positions {
            meta.list = Some(ListCache::new((region, stamp), positions));
        }
        match index {
            Some(i) => {
                if let Some(mut e) = shard.entry_mut(i) {
                    e.value = value;
                    e.expire_at = expire_at;
                    e.region = region;
                    e.stamp = stamp;
                }
            }
            None => {
                let mut entry = Box::new(Entry::new(blob(key), value, stamp, region, now_ms));
                entry.expire_at = expire_at;
                shard.insert_new(hash, entry);
            }
        }
        self.fold_if_long(&mut meta, Some((expire_at, elements)));
        metas.insert(blob(key), meta);
        Merged {
            changed: true,
            list,
        }
    }

    /// Shows `key`'s greatest live sibling if its entry has expired (or was
    /// never there). Returns whether one is shown now. Every path that finds
    /// a key missing asks this first, so a version that outlives the one
    /// shown takes over at the shown one's deadline, not at the next merge.
    pub(crate) fn promote(&self, index: usize, shard: &mut Shard, key: &[u8], now_ms: u64) -> bool {
        if self.metas[index]
            .lock()
            .get(key)
            .is_none_or(|m| m.siblings.is_empty())
        {
            return false;
        }
        self.reshow(index, shard, key, now_ms);
        shard.find(hash_key(key), key, now_ms).is_some()
    }

    /// Recomputes what `key` shows from its live versions (a merge that
    /// brings and removes nothing).
    fn reshow(&self, index: usize, shard: &mut Shard, key: &[u8], now_ms: u64) {
        let mut metas = self.metas[index].lock();
        let local = self.applied();
        let none = VersionVector::new();
        self.merge_key(
            shard,
            &mut metas,
            key,
            Vec::new(),
            &none,
            &local,
            None,
            now_ms,
        );
    }

    /// [`Replica::promote`] for every key of shard `index` waiting for one.
    pub(crate) fn promote_all(&self, index: usize, shard: &mut Shard, now_ms: u64) {
        let waiting: Vec<Blob> = {
            let metas = self.metas[index].lock();
            metas
                .iter()
                .filter(|(_, m)| !m.siblings.is_empty())
                .map(|(k, _)| k.clone())
                .collect()
        };
        for key in waiting {
            if shard.find(hash_key(&key), &key, now_ms).is_none() {
                self.promote(index, shard, &key, now_ms);
            }
        }
    }

    // -----------------------------------------------------------------
    // Snapshots
    // -----------------------------------------------------------------

    /// Up to `count` keys of shard `index` from `cursor`, as snapshot
    /// states; returns the cursor to continue from (0 when the shard is done).
    pub(crate) fn export(
        &self,
        index: usize,
        shard: &Shard,
        cursor: u64,
        count: usize,
        now_ms: u64,
        out: &mut Vec<KeyState>,
    ) -> u64 {
        let metas = self.metas[index].lock();
        let next = shard.dict().scan(cursor, count, |e| {
            if e.is_expired(now_ms) {
                return;
            }
            let meta = metas.get(&e.key[..]);
            let mut versions = Vec::new();
            if !meta.is_some_and(|m| m.derived) {
                versions.push(WireVersion {
                    region: e.region,
                    stamp: e.stamp,
                    value: WireValue::of(&e.value),
                    expire_at: e.expire_at,
                    delta: None,
                });
            }
            if let Some(m) = meta {
                versions.extend(m.siblings.iter().map(Version::to_wire));
            }
            out.push(KeyState {
                key: ByteBuf::from(e.key.to_vec()),
                versions,
                cloud: meta.map(|m| m.cloud.clone()).unwrap_or_default(),
            });
        });
        if next == 0 {
            // Keys this region shows nothing for but still knows about: a
            // removal of versions the receiver may hold and count as
            // removed once it takes our applied vector (a DEL that arrived
            // here ahead of the write it removed), or a list that
            // concurrent pops emptied. Without them the receiver would keep
            // what we know is gone.
            for (key, m) in metas.iter() {
                let shown = shard
                    .dict()
                    .find_index_hashed(hash_key(key), key)
                    .and_then(|i| shard.at(i))
                    .is_some_and(|e| !e.is_expired(now_ms));
                if !shown && !m.is_empty() {
                    out.push(KeyState {
                        key: ByteBuf::from(key.to_vec()),
                        versions: m.siblings.iter().map(Version::to_wire).collect(),
                        cloud: m.cloud.clone(),
                    });
                }
            }
        }
        next
    }

    /// Merges one snapshot key whose sender had applied `base`.
    pub(crate) fn import(
        &self,
        index: usize,
        shard: &mut Shard,
        state: KeyState,
        base: &VersionVector,
        now_ms: u64,
    ) -> Merged {
        let mut ctx = base.clone();
        ctx.merge(&state.cloud);
        let local = self.applied();
        let versions = state.versions.into_iter().map(Version::from_wire).collect();
        let mut metas = self.metas[index].lock();
        self.merge_key(
            shard, &mut metas, &state.key, versions, &ctx, &local, None, now_ms,
        )
    }

    /// After a snapshot whose sender had applied `base`: removes from shard
    /// `index` the versions `base` covers of keys the snapshot did not
    /// contain (the sender had them and they are gone).
    pub(crate) fn sweep_missing(
        &self,
        index: usize,
        shard: &mut Shard,
        seen: &HashSet<Blob>,
        base: &VersionVector,
        now_ms: u64,
    ) -> usize {
        let keys: Vec<Blob> = shard
            .dict()
            .iter()
            .filter(|e| !seen.contains(&e.key))
            .map(|e| e.key.clone())
            .collect();
        let local = self.applied();
        let mut metas = self.metas[index].lock();
        let mut n = 0;
        for key in keys {
            if self
                .merge_key(
                    shard,
                    &mut metas,
                    &key,
                    Vec::new(),
                    base,
                    &local,
                    None,
                    now_ms,
                )
                .changed
            {
                n += 1;
            }
        }
        n
    }

    /// Completes a snapshot: everything its sender had applied counts as
    /// applied here.
    pub(crate) fn finish_import(&self, base: &VersionVector) {
        for (r, s) in base.iter() {
            self.raise(r, s);
        }
        // Our own changes from before a restart that the sender had are
        // back (or known removed) now.
        self.own_imported
            .fetch_max(base.get(self.me), Ordering::AcqRel);
        self.recheck_catch_up();
    }

    // -----------------------------------------------------------------
    // Garbage collection
    // -----------------------------------------------------------------

    /// Forgets what no longer matters in shard `index`: removal records this
    /// region has caught up with, expired versions, and losing versions that
    /// are causally stable (`stable`) and can never be shown again (they do
    /// not outlive the shown version). Shows the next live version of keys
    /// whose shown one expired.
    pub(crate) fn collect(
        &self,
        index: usize,
        shard: &mut Shard,
        stable: Option<&VersionVector>,
        now_ms: u64,
    ) {
        {
            let mut metas = self.metas[index].lock();
            if metas.is_empty() {
                release_slack(&mut metas);
                return;
            }
        }
        self.promote_all(index, shard, now_ms);
        let local = self.applied();
        let live = |expire_at: u64| expire_at == 0 || expire_at > now_ms;
        // A derived view over a version that expired (an increment made
        // under a TTL that a concurrent PERSIST outlived) shows it no more:
        // it is recomputed by the merge, as on any other path, not just
        // dropped from under the view.
        let stale: Vec<Blob> = self.metas[index]
            .lock()
            .iter()
            .filter(|(_, m)| m.derived && m.siblings.iter().any(|v| !live(v.expire_at)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            self.reshow(index, shard, &key, now_ms);
        }
        let mut metas = self.metas[index].lock();
        metas.retain(|key, m| {
            if m.derived
                && let Some(c) = &mut m.list
            {
                c.idle = c.idle.saturating_add(1);
                if c.idle >= LIST_CACHE_IDLE_COLLECTS {
                    m.list = None;
                    for v in &mut m.siblings {
                        if let Some(p) = &mut v.positions {
                            p.pack();
                        }
                    }
                }
            }
            m.cloud = m
                .cloud
                .iter()
                .filter(|&(r, s)| !self.dot_applied(&local, r, s))
                .collect();
            if !m.siblings.is_empty() {
                let shown = shard
                    .dict()
                    .find_index_hashed(hash_key(key), key)
                    .and_then(|i| shard.at(i))
                    .map(|e| e.expire_at);
                // A sibling matters while it is live and either may still be
                // compared with a change that does not cover it, or outlives
                // the shown version.
                let outlives = |exp: u64| match shown {
                    None => true,
                    Some(0) => false,
                    Some(shown) => exp == 0 || exp > shown,
                };
                if m.derived {
                    // A view over stable versions that all end together is
                    // the same as one version holding it. That version takes
                    // the newest dot, which must be a delta's: a region still
                    // holding the delta knows an incoming plain version under
                    // a delta's dot is the collapse and lets it replace what
                    // it covers (a plain version under a plain version's dot
                    // would be taken for that version and ignored).
                    m.siblings.retain(|v| live(v.expire_at));
                    let newest_is_delta = m
                        .siblings
                        .iter()
                        .max_by_key(|v| (v.stamp, v.region))
                        .is_some_and(|v| v.delta.is_some());
                    let collapsible = newest_is_delta
                        && stable.is_some_and(|st| {
                            m.siblings.iter().all(|v| {
                                st.get(v.region) >= v.stamp.0 && Some(v.expire_at) == shown
                            })
                        });
                    let stable_all = stable
                        .is_some_and(|st| m.siblings.iter().all(|v| st.get(v.region) >= v.stamp.0));
                    let sequence = m.siblings.iter().any(Version::is_sequence);
                    if collapsible && sequence {
                        // A list's positions live only in its versions, so
                        // it collapses into one base that carries them (and
                        // stays a derived view over it).
                        m.siblings = vec![Version::standing_for(derived_view(&m.siblings))];
                    } else if collapsible {
                        m.siblings.clear();
                        m.derived = false;
                    } else if let Some(st) = stable
                        && shown.is_some()
                        && fold_stable_prefix(&mut m.siblings, st, shown, 2)
                    {
                        // Some are stable and not all: those folded.
                    } else if sequence
                        && shown.is_none()
                        && stable_all
                        && matches!(derived_view(&m.siblings).value, Value::List(l) if l.is_empty())
                    {
                        // Concurrent pops emptied the list: nothing is left
                        // to show, and every change to come has seen that.
                        m.siblings.clear();
                        m.derived = false;
                        m.list = None;
                    }
                } else {
                    m.siblings.retain(|v| {
                        live(v.expire_at)
                            && (stable.is_none_or(|st| st.get(v.region) < v.stamp.0)
                                || outlives(v.expire_at))
                    });
                }
            }
            !m.is_empty()
        });
        release_slack(&mut metas);
        drop(metas);
        let mut fc = self.flush_cloud.lock();
        if !fc.is_empty() {
            *fc = fc
                .iter()
                .filter(|&(r, s)| !self.dot_applied(&local, r, s))
                .collect();
        }
    }

    /// Whether `key` keeps a list cache (see `ListCache::idle`).
    #[cfg(test)]
    pub(crate) fn has_list_cache(&self, index: usize, key: &[u8]) -> bool {
        self.metas[index]
            .lock()
            .get(key)
            .is_some_and(|m| m.list.is_some())
    }

    /// How many runs the positions of `key`'s base are packed into (see
    /// `PackedPositions`), if its only version is a base with positions.
    #[cfg(test)]
    pub(crate) fn base_position_runs(&self, index: usize, key: &[u8]) -> Option<usize> {
        let metas = self.metas[index].lock();
        match metas.get(key)?.siblings.as_slice() {
            [base] => match &base.positions {
                Some(BasePositions::Packed(p)) => Some(p.run_count()),
                _ => None,
            },
            _ => None,
        }
    }

    /// What the side table holds for `key` (in shard `index`): every
    /// version beside the entry with its dot, expiry and kind, and the
    /// removal record — for diagnosing regions that diverged.
    pub fn describe_key(&self, index: usize, key: &[u8]) -> String {
        let metas = self.metas[index].lock();
        let Some(m) = metas.get(key) else {
            return "no side-table record".to_string();
        };
        let versions: Vec<String> = m
            .siblings
            .iter()
            .map(|v| {
                let kind = match &v.delta {
                    Some(ops) => format!("delta {ops:?}"),
                    None => format!("{:?}", WireValue::of(&v.value)),
                };
                format!(
                    "{}@{}.{} exp {} {kind}",
                    v.region.0,
                    v.stamp.physical_ms(),
                    v.stamp.logical(),
                    v.expire_at
                )
            })
            .collect();
        format!(
            "derived {} cloud {:?} versions [{}]",
            m.derived,
            m.cloud,
            versions.join("; ")
        )
    }

    /// Versions and removal records held beside the keyspace (INFO).
    pub fn side_table_len(&self) -> usize {
        self.metas.iter().map(|m| m.lock().len()).sum()
    }

    /// Slots the side table has allocated, held records or not.
    #[cfg(test)]
    pub(crate) fn side_table_slots(&self) -> usize {
        self.metas.iter().map(|m| m.lock().capacity()).sum()
    }

    /// Versions held beside the keyspace, over all keys (INFO): what a hot
    /// key's increments cost until they are folded.
    pub fn side_table_versions(&self) -> usize {
        self.metas
            .iter()
            .map(|m| m.lock().values().map(|k| k.siblings.len()).sum::<usize>())
            .sum()
    }

    /// Keys of shard `index` whose entry does not show what replaying their
    /// versions shows ([`derived_view`]): what every shortcut (merging in
    /// place, folding) must leave empty.
    #[cfg(test)]
    pub(crate) fn views_off_replay(
        &self,
        index: usize,
        shard: &mut Shard,
        now_ms: u64,
    ) -> Vec<String> {
        let metas = self.metas[index].lock();
        let mut off = Vec::new();
        for (key, m) in metas.iter().filter(|(_, m)| m.derived) {
            let Some(i) = shard.find(hash_key(key), key, now_ms) else {
                continue;
            };
            let Some(e) = shard.at(i) else { continue };
            let view = derived_view(&m.siblings);
            if canonical(&view.value) != canonical(&e.value) || view.expire_at != e.expire_at {
                off.push(format!(
                    "{}: shows {} exp {}, replay {} exp {}",
                    String::from_utf8_lossy(key),
                    canonical(&e.value),
                    e.expire_at,
                    canonical(&view.value),
                    view.expire_at
                ));
            }
        }
        off
    }
}

/// A local commit in progress (see [`Replica::begin_commit`]). Holding it
/// holds the commit lock, so changes enter the log in stamp order.
pub(crate) struct Commit<'r> {
    replica: &'r Replica,
    _order: parking_lot::MutexGuard<'r, ()>,
    stamp: Stamp,
    ctx: VersionVector,
    ops: Vec<KeyOp>,
}

impl Commit<'_> {
    /// Adds `key` (which the transaction wrote; its shard `index` is held):
    /// stamps its entry with the commit's dot and records its new state —
    /// as a delta if `delta` says the transaction only added to it.
    pub(crate) fn key(
        &mut self,
        index: usize,
        shard: &mut Shard,
        key: &[u8],
        delta: Option<&DeltaNote>,
        now_ms: u64,
    ) {
        let r = self.replica;
        let hash = hash_key(key);
        let found = shard.find(hash, key, now_ms);
        if let (Some(note), Some(i)) = (delta, found) {
            let mut metas = r.metas[index].lock();
            let meta = metas.entry(blob(key)).or_default();
            let mut expire_at = shard.at(i).map_or(0, |e| e.expire_at);
            let shown = shard.at(i).map(|e| (e.region, e.stamp));
            if meta.derived
                && meta.list.as_ref().is_none_or(|c| Some(c.dot) != shown)
                && shard
                    .at(i)
                    .is_some_and(|e| matches!(e.value, Value::List(_)))
                && let Some(base) = plain_base(&meta.siblings)
            {
                // A list whose every element a merge popped shows no key but
                // keeps its versions until they are stable; a push onto it
                // adds to them, so the list it shows is the replay's: the
                // base's expiry with it (found by `any_interleaving_converges`).
                // A list shown all along already carries that expiry.
                expire_at = base.expire_at;
            }
            if !meta.derived {
                // The version the delta built on joins its siblings; the
                // siblings stay (a delta replaces nothing).
                if let Some((region, stamp, value, expire_at)) = &note.before {
                    meta.siblings.push(Version {
                        region: *region,
                        stamp: *stamp,
                        value: value.clone(),
                        expire_at: *expire_at,
                        delta: None,
                        positions: None,
                    });
                }
                meta.derived = true;
            }
            // The list cache follows the entry to the commit's dot.
            if let Some(c) = &mut meta.list
                && Some(c.dot) == shown
            {
                c.dot = (r.me, self.stamp);
            }
            meta.siblings.push(Version {
                region: r.me,
                stamp: self.stamp,
                value: Value::Str(Blob::new()),
                expire_at,
                delta: Some(note.ops.clone()),
                positions: None,
            });
            let elements = shard.at(i).map_or(1, |e| e.value.elements());
            r.fold_if_long(meta, Some((expire_at, elements)));
            drop(metas);
            if let Some(mut e) = shard.entry_mut(i) {
                e.stamp = self.stamp;
                e.region = r.me;
                e.expire_at = expire_at;
            }
            self.ops.push(KeyOp::Delta {
                key: ByteBuf::from(key.to_vec()),
                ops: note.ops.clone(),
                expire_at,
            });
            return;
        }
        let mut kept = None;
        {
            let mut metas = r.metas[index].lock();
            if let Some(m) = metas.get_mut(key) {
                // An idle list's cache may have gone (`ListCache::idle`):
                // the positions it showed come back from the versions.
                kept = m.list.take().map(|c| c.positions).or_else(|| {
                    (m.derived && m.siblings.iter().any(Version::is_sequence))
                        .then(|| shown_positions(&m.siblings))
                        .flatten()
                });
                // The context covers every sibling: they were applied under
                // this shard's lock before our marks were read.
                m.siblings.clear();
                m.derived = false;
                if m.is_empty() {
                    metas.remove(key);
                }
            }
        }
        let op = match found.and_then(|i| shard.entry_mut(i)) {
            Some(mut e) => {
                e.stamp = self.stamp;
                e.region = r.me;
                // A list written whole (EXPIRE, PERSIST, a SORT … STORE of
                // the same length) keeps the positions it showed, so edits
                // made concurrently elsewhere still find their elements;
                // it then stays a derived view over this one version.
                let positions = match (&e.value, kept) {
                    (Value::List(l), Some(p)) if !l.is_empty() && p.len() == l.len() => Some(p),
                    _ => None,
                };
                let value = match (&positions, &e.value) {
                    (Some(p), Value::List(l)) => WireValue::PosList(
                        p.iter()
                            .cloned()
                            .zip(l.iter().map(|v| ByteBuf::from(v.to_vec())))
                            .collect(),
                    ),
                    _ => WireValue::of(&e.value),
                };
                if let Some(positions) = positions {
                    let mut metas = r.metas[index].lock();
                    let m = metas.entry(blob(key)).or_default();
                    m.siblings.push(Version {
                        region: r.me,
                        stamp: self.stamp,
                        value: e.value.clone(),
                        expire_at: e.expire_at,
                        delta: None,
                        positions: Some(BasePositions::packed(positions.iter().cloned())),
                    });
                    m.derived = true;
                    m.list = Some(ListCache::new((r.me, self.stamp), positions));
                }
                KeyOp::Put {
                    key: ByteBuf::from(key.to_vec()),
                    value,
                    expire_at: e.expire_at,
                }
            }
            None => KeyOp::Del {
                key: ByteBuf::from(key.to_vec()),
            },
        };
        self.ops.push(op);
    }

    /// Adds a FLUSHALL that removed what `ctx` covers (read before it ran).
    pub(crate) fn flush(&mut self, ctx: VersionVector) {
        let mut ctx = ctx;
        ctx.raise(self.replica.me, self.stamp.0);
        self.ctx = ctx;
        self.ops.push(KeyOp::Flush);
    }

    /// Adds a PUBLISH.
    pub(crate) fn publish(&mut self, channel: &[u8], message: &[u8]) {
        self.ops.push(KeyOp::Publish {
            channel: ByteBuf::from(channel.to_vec()),
            message: ByteBuf::from(message.to_vec()),
        });
    }

    /// Logs the change and raises our applied mark.
    pub(crate) fn finish(self) {
        if self.ops.is_empty() {
            return;
        }
        let r = self.replica;
        let change = Change {
            origin: r.me,
            stamp: self.stamp,
            ctx: self.ctx,
            ops: self.ops,
        };
        match change.encode() {
            Ok(bytes) => {
                r.log.append(change.stamp.0, bytes.clone());
                r.raise(r.me, change.stamp.0);
                r.changes_logged.fetch_add(1, Ordering::Relaxed);
                // After the raise: a snapshot that reads the applied vector
                // before this record lands in its log segment has the change
                // in its keys (see `persist`).
                if let Some(sink) = r.sink() {
                    sink.record(Transition::Change, &bytes);
                }
            }
            // Only a serializer bug could get here; the write stands locally.
            Err(e) => tracing::error!(error = %e, "cannot encode a change; not replicated"),
        }
    }
}

//! Counters with observed reset: the replicated form of INCR/INCRBY/DECRBY/
//! INCRBYFLOAT on a string key, with the semantics of Redis Enterprise's
//! active-active counters — concurrent increments all count ("7, then +3 in one
//! region and +5 in another → 15 everywhere"), and SET/DEL reset only the
//! increments they observed ("DEL concurrent with +3 → 3").
//!
//! State:
//! - a last-writer-wins **base** set by SET (DEL sets 0), by `(Stamp, RegionId)`;
//! - per region `r` an entry ([`Contrib`]) with cumulative increments `inc_r`
//!   and decrements `dec_r` (only `r` raises them) and the **offsets**
//!   `inc_off_r`, `dec_off_r` — the values of `inc_r`/`dec_r` that some reset
//!   observed. Within a frame (below) every field merges by maximum.
//!
//! `value = base + Σ_r (inc_r − inc_off_r) − (dec_r − dec_off_r)`.
//!
//! Increments and decrements are kept apart (rather than one signed sum)
//! because maximum is only a correct merge for numbers that never go down: a
//! signed sum can fall, and a later reset would then record a smaller offset
//! than an earlier one and lose to it.
//!
//! **Frames.** Each entry belongs to a frame named by the seq of the dot that
//! opened it. A region opens a new frame (all four numbers back to zero) on its
//! first increment after a reset it has seen cancelled its entry entirely; when
//! entries of different frames meet, the newer frame wins whole. That is
//! sound because the old frame's net contribution was zero and final (only its
//! region could change it, and it has moved on), and it keeps numbers small and
//! lets cancelled entries be dropped at causal stability ([`Counter::collect_stable`])
//! without a later increment from the same region being misread against a
//! forgotten offset. See the module doc of [`super`] for why partly cancelled
//! entries are not folded into the base instead. (A replica that receives a
//! region's new frame before the reset that closed the old one treats the old
//! frame as cancelled a little early; with causal delivery that order cannot
//! occur, and either way the converged value is the same.)
//!
//! Invariants: entries sorted by region, at most one per region; within an
//! entry `inc_off ≤ inc` and `dec_off ≤ dec` (a reset's delta carries the
//! numbers it observed along with its offsets). The float variant keeps the
//! same structure with `f64` sums and rejects non-finite results.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::Crdt;
use super::dot::Dot;
use super::lww::LwwRegister;
use crate::clock::{RegionId, Stamp};

/// Why a counter mutation was refused (the texts are Redis's, without `ERR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    /// The integer result (or a cumulative sum) would leave its range.
    #[error("increment or decrement would overflow")]
    Overflow,
    /// A float increment or result would be NaN or infinite.
    #[error("increment would produce NaN or Infinity")]
    NotFinite,
}

/// The number types a counter can hold: `i64` (INCRBY) and `f64` (INCRBYFLOAT).
pub trait Num:
    Copy + PartialEq + PartialOrd + Default + Debug + Serialize + DeserializeOwned + 'static
{
    /// The type of the cumulative sums (`u64` magnitudes for `i64`, `f64` for
    /// `f64`): never decreasing, so they merge by maximum.
    type Cum: Copy
        + PartialEq
        + PartialOrd
        + Default
        + Debug
        + Serialize
        + DeserializeOwned
        + 'static;

    /// Splits a change into the magnitudes it adds to increments and decrements.
    fn split(by: Self) -> Result<(Self::Cum, Self::Cum), CounterError>;

    /// A cumulative sum plus a magnitude.
    fn add(a: Self::Cum, b: Self::Cum) -> Result<Self::Cum, CounterError>;

    /// `base + Σ (inc − inc_off) − (dec − dec_off)` over `[inc, dec, inc_off,
    /// dec_off]` entries, or an error when it leaves the type's range.
    fn total(
        base: Self,
        parts: &mut dyn Iterator<Item = [Self::Cum; 4]>,
    ) -> Result<Self, CounterError>;

    /// Like [`total`](Self::total) but clamped to the range (concurrent
    /// increments from several regions can jointly exceed it).
    fn saturating_total(base: Self, parts: &mut dyn Iterator<Item = [Self::Cum; 4]>) -> Self;
}

impl Num for i64 {
    type Cum = u64;

    fn split(by: i64) -> Result<(u64, u64), CounterError> {
        Ok(if by >= 0 {
            (by as u64, 0)
        } else {
            (0, by.unsigned_abs())
        })
    }

    fn add(a: u64, b: u64) -> Result<u64, CounterError> {
        a.checked_add(b).ok_or(CounterError::Overflow)
    }

    fn total(base: i64, parts: &mut dyn Iterator<Item = [u64; 4]>) -> Result<i64, CounterError> {
        i64::try_from(wide_total(base, parts)).map_err(|_| CounterError::Overflow)
    }

    fn saturating_total(base: i64, parts: &mut dyn Iterator<Item = [u64; 4]>) -> i64 {
        wide_total(base, parts).clamp(i64::MIN.into(), i64::MAX.into()) as i64
    }
}

/// The exact integer total: each term is below 2^64 and regions are few, so
/// i128 cannot overflow.
fn wide_total(base: i64, parts: &mut dyn Iterator<Item = [u64; 4]>) -> i128 {
    parts.fold(i128::from(base), |acc, [inc, dec, inc_off, dec_off]| {
        acc + i128::from(inc.saturating_sub(inc_off)) - i128::from(dec.saturating_sub(dec_off))
    })
}

impl Num for f64 {
    type Cum = f64;

    fn split(by: f64) -> Result<(f64, f64), CounterError> {
        if !by.is_finite() {
            return Err(CounterError::NotFinite);
        }
        Ok(if by >= 0.0 { (by, 0.0) } else { (0.0, -by) })
    }

    fn add(a: f64, b: f64) -> Result<f64, CounterError> {
        let s = a + b;
        if s.is_finite() {
            Ok(s)
        } else {
            Err(CounterError::NotFinite)
        }
    }

    fn total(base: f64, parts: &mut dyn Iterator<Item = [f64; 4]>) -> Result<f64, CounterError> {
        let v = Self::saturating_total(base, parts);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(CounterError::NotFinite)
        }
    }

    fn saturating_total(base: f64, parts: &mut dyn Iterator<Item = [f64; 4]>) -> f64 {
        // Summed in region order, so every region computes the same bits.
        parts.fold(base, |acc, [inc, dec, inc_off, dec_off]| {
            acc + ((inc - inc_off) - (dec - dec_off))
        })
    }
}

fn max<C: PartialOrd>(a: C, b: C) -> C {
    if b > a { b } else { a }
}

/// One region's share of a counter; see the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contrib<C> {
    region: RegionId,
    frame: u64,
    inc: C,
    dec: C,
    inc_off: C,
    dec_off: C,
}

impl<C: Copy + PartialOrd + Default> Contrib<C> {
    /// The region whose increments these are.
    pub fn region(&self) -> RegionId {
        self.region
    }

    /// Seq of the dot that opened this frame.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// `[inc, dec, inc_off, dec_off]`.
    pub fn parts(&self) -> [C; 4] {
        [self.inc, self.dec, self.inc_off, self.dec_off]
    }

    /// True when resets have cancelled every increment and decrement.
    pub fn is_cancelled(&self) -> bool {
        self.inc == self.inc_off && self.dec == self.dec_off
    }

    fn join(&mut self, o: &Self) {
        if o.frame > self.frame {
            *self = *o;
        } else if o.frame == self.frame {
            self.inc = max(self.inc, o.inc);
            self.dec = max(self.dec, o.dec);
            self.inc_off = max(self.inc_off, o.inc_off);
            self.dec_off = max(self.dec_off, o.dec_off);
        }
    }
}

/// The per-region increments of a counter and the offsets resets recorded —
/// the part of a counter shared by [`Counter`] and
/// [`CounterReg`](super::CounterReg).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent, bound(serialize = "", deserialize = ""))]
pub struct Contribs<N: Num> {
    /// Sorted by region; inline for one region.
    entries: SmallVec<[Contrib<N::Cum>; 1]>,
}

impl<N: Num> Default for Contribs<N> {
    fn default() -> Self {
        Contribs {
            entries: SmallVec::new(),
        }
    }
}

impl<N: Num> Contribs<N> {
    /// No increments.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no region has an entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in region order.
    pub fn entries(&self) -> &[Contrib<N::Cum>] {
        &self.entries
    }

    fn own(&self, region: RegionId) -> Option<&Contrib<N::Cum>> {
        self.entries
            .binary_search_by_key(&region, |e| e.region)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The delta that adds `by` for the write `dot` (its region's whole entry).
    /// A zero change yields an empty delta.
    pub fn incr_delta(&self, dot: Dot, by: N) -> Result<Self, CounterError> {
        let (inc, dec) = N::split(by)?;
        let zero = N::Cum::default();
        if inc == zero && dec == zero {
            return Ok(Self::new());
        }
        let e = match self.own(dot.region) {
            Some(e) if !e.is_cancelled() => Contrib {
                inc: N::add(e.inc, inc)?,
                dec: N::add(e.dec, dec)?,
                ..*e
            },
            seen => {
                // A fresh frame: the dot is newer than any this region used.
                debug_assert!(seen.is_none_or(|e| e.frame < dot.seq));
                Contrib {
                    region: dot.region,
                    frame: dot.seq,
                    inc,
                    dec,
                    inc_off: zero,
                    dec_off: zero,
                }
            }
        };
        Ok(Contribs {
            entries: smallvec::smallvec![e],
        })
    }

    /// The delta of a reset: every entry with offsets equal to what it has now.
    pub fn reset_delta(&self) -> Self {
        let entries = self
            .entries
            .iter()
            .map(|e| Contrib {
                inc_off: e.inc,
                dec_off: e.dec,
                ..*e
            })
            .collect();
        Contribs { entries }
    }

    /// `base` plus the live increments, or an error outside the range.
    pub fn total(&self, base: N) -> Result<N, CounterError> {
        N::total(base, &mut self.entries.iter().map(|e| e.parts()))
    }

    /// `base` plus the live increments, clamped to the range.
    pub fn saturating_total(&self, base: N) -> N {
        N::saturating_total(base, &mut self.entries.iter().map(|e| e.parts()))
    }

    /// Drops wholly cancelled entries. Only under causal stability of the whole
    /// object (see [`super`]): a region that has not seen the reset could
    /// otherwise still send increments in the frame whose offsets are dropped.
    pub fn collect_stable(&mut self) {
        self.entries.retain(|e| !e.is_cancelled());
    }
}

impl<N: Num> Crdt for Contribs<N> {
    fn merge(&mut self, other: Self) {
        for o in other.entries {
            match self.entries.binary_search_by_key(&o.region, |e| e.region) {
                Ok(i) => self.entries[i].join(&o),
                Err(i) => self.entries.insert(i, o),
            }
        }
    }
}

/// A counter with observed reset; see the module doc.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "", deserialize = ""))]
pub struct Counter<N: Num> {
    base: LwwRegister<N>,
    contribs: Contribs<N>,
}

/// INCR / INCRBY / DECRBY counter.
pub type IntCounter = Counter<i64>;
/// INCRBYFLOAT counter.
pub type FloatCounter = Counter<f64>;

impl<N: Num> Default for Counter<N> {
    fn default() -> Self {
        Counter {
            base: LwwRegister::default(),
            contribs: Contribs::default(),
        }
    }
}

impl<N: Num> Counter<N> {
    /// A counter at zero that no write has touched.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value (clamped to the range for integers: concurrent increments
    /// from several regions can jointly exceed it).
    pub fn value(&self) -> N {
        self.contribs.saturating_total(*self.base.get())
    }

    /// The value, or an error when concurrent increments pushed it out of range.
    pub fn checked_value(&self) -> Result<N, CounterError> {
        self.contribs.total(*self.base.get())
    }

    /// The base written by the last SET/DEL (bottom if none).
    pub fn base(&self) -> &LwwRegister<N> {
        &self.base
    }

    /// The per-region increments.
    pub fn contribs(&self) -> &Contribs<N> {
        &self.contribs
    }

    /// INCRBY `by` (negative: DECRBY) as the write `dot`; returns the delta.
    /// Refused, with nothing changed, if the result would leave the range.
    pub fn incr(&mut self, dot: Dot, by: N) -> Result<Self, CounterError> {
        let delta = Counter {
            base: LwwRegister::default(),
            contribs: self.contribs.incr_delta(dot, by)?,
        };
        let mut next = self.clone();
        next.merge(delta.clone());
        next.checked_value()?;
        *self = next;
        Ok(delta)
    }

    /// SET `value` (DEL: `value` 0) as the write `dot` at `stamp`: the base
    /// becomes `value` last-writer-wins, and every increment observed here is
    /// cancelled. Increments not yet observed still count after the merge.
    pub fn reset(&mut self, dot: Dot, stamp: Stamp, value: N) -> Self {
        let delta = Counter {
            base: LwwRegister::new(value, stamp, dot.region),
            contribs: self.contribs.reset_delta(),
        };
        self.merge(delta.clone());
        delta
    }

    /// Drops wholly cancelled entries. The caller guarantees that every write
    /// merged into this counter is causally stable (see [`super`]); the
    /// keyspace knows it from the key's context. In a single-region deployment
    /// that holds at once, so a counter SET since its last increment shrinks to
    /// its base.
    pub fn collect_stable(&mut self) {
        self.contribs.collect_stable();
    }
}

impl<N: Num> Crdt for Counter<N> {
    fn merge(&mut self, other: Self) {
        self.base.merge(other.base);
        self.contribs.merge(other.contribs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::testkit::{self, Env, World};
    use proptest::prelude::*;

    fn set<N: Num>(w: &mut World<Counter<N>>, r: usize, v: N) {
        w.op(r, |c, e| (c.reset(e.dot, e.stamp, v), ()));
    }

    fn incr<N: Num>(w: &mut World<Counter<N>>, r: usize, by: N) {
        w.op(r, |c, e| (c.incr(e.dot, by).unwrap(), ()));
    }

    fn values<N: Num>(w: &World<Counter<N>>) -> Vec<N> {
        w.regions.iter().map(|c| c.value()).collect()
    }

    #[test]
    fn counter_concurrent_increments_add() {
        let mut w: World<IntCounter> = World::new();
        set(&mut w, 0, 7);
        w.flush();
        incr(&mut w, 0, 3);
        incr(&mut w, 1, 5);
        w.flush();
        assert_eq!(values(&w), vec![15, 15, 15]);
        assert_eq!(w.regions[0], w.regions[1]);
    }

    #[test]
    fn counter_del_concurrent_with_incr_leaves_the_increment() {
        let mut w: World<IntCounter> = World::new();
        set(&mut w, 0, 7);
        incr(&mut w, 1, 10);
        incr(&mut w, 2, -4);
        w.flush();
        assert_eq!(values(&w), vec![13, 13, 13]);
        w.op(0, |c, e| (c.reset(e.dot, e.stamp, 0), ())); // DEL
        incr(&mut w, 1, 3);
        w.flush();
        assert_eq!(values(&w), vec![3, 3, 3]);
    }

    #[test]
    fn counter_set_concurrent_with_incr_keeps_set_plus_increment() {
        let mut w: World<IntCounter> = World::new();
        incr(&mut w, 0, 2);
        w.flush();
        set(&mut w, 0, 100);
        incr(&mut w, 1, 1);
        w.flush();
        assert_eq!(values(&w), vec![101, 101, 101]);
    }

    #[test]
    fn counter_concurrent_sets_lww_and_both_cancel_what_they_saw() {
        let mut w: World<IntCounter> = World::new();
        incr(&mut w, 2, 5);
        w.flush();
        set(&mut w, 0, 1); // stamp 2
        set(&mut w, 1, 2); // stamp 2 too: region 2 (index 1) wins the tie
        w.flush();
        assert_eq!(values(&w), vec![2, 2, 2]);
    }

    #[test]
    fn counter_opens_a_fresh_frame_after_a_full_reset() {
        let r = RegionId(1);
        let mut c = IntCounter::new();
        c.incr(Dot::new(r, 1), 4).unwrap();
        c.incr(Dot::new(r, 2), -1).unwrap();
        c.reset(Dot::new(r, 3), Stamp(3), 10);
        assert_eq!(c.value(), 10);
        c.incr(Dot::new(r, 4), 2).unwrap();
        assert_eq!(c.value(), 12);
        let e = c.contribs().entries()[0];
        assert_eq!((e.frame(), e.parts()), (4, [2, 0, 0, 0]));
    }

    #[test]
    fn counter_overflow_is_refused_and_changes_nothing() {
        let r = RegionId(1);
        let mut c = IntCounter::new();
        c.incr(Dot::new(r, 1), i64::MAX).unwrap();
        let before = c.clone();
        assert_eq!(c.incr(Dot::new(r, 2), 1), Err(CounterError::Overflow));
        assert_eq!(c, before);
        c.incr(Dot::new(r, 3), i64::MIN).unwrap();
        assert_eq!(c.value(), -1);
    }

    #[test]
    fn counter_concurrent_overflow_saturates_on_read() {
        let mut a = IntCounter::new();
        let mut b = IntCounter::new();
        let da = a.incr(Dot::new(RegionId(1), 1), i64::MAX).unwrap();
        let db = b.incr(Dot::new(RegionId(2), 1), 10).unwrap();
        a.merge(db);
        b.merge(da);
        assert_eq!(a.value(), i64::MAX);
        assert_eq!(a.checked_value(), Err(CounterError::Overflow));
        assert_eq!(a, b);
    }

    #[test]
    fn float_counter_concurrent_increments_add_and_reject_non_finite() {
        let mut w: World<FloatCounter> = World::new();
        set(&mut w, 0, 1.5);
        w.flush();
        incr(&mut w, 0, 0.25);
        incr(&mut w, 1, 0.5);
        incr(&mut w, 2, -1.0);
        w.flush();
        assert_eq!(values(&w), vec![1.25, 1.25, 1.25]);
        let mut c = w.regions[0].clone();
        let d = Dot::new(RegionId(9), 1);
        assert_eq!(c.incr(d, f64::NAN), Err(CounterError::NotFinite));
        assert_eq!(
            c.incr(d, f64::MAX).and_then(|_| c.incr(d, f64::MAX)).err(),
            Some(CounterError::NotFinite)
        );
    }

    #[test]
    fn counter_collect_stable_shrinks_a_reset_counter_to_its_base() {
        let r = RegionId(1);
        let mut c = IntCounter::new();
        c.incr(Dot::new(r, 1), 4).unwrap();
        c.reset(Dot::new(r, 2), Stamp(2), 9);
        c.collect_stable();
        assert!(c.contribs().is_empty());
        assert_eq!(c.value(), 9);
        c.incr(Dot::new(r, 3), 1).unwrap();
        assert_eq!(c.value(), 10);
    }

    #[test]
    fn counter_size() {
        // base (8 + 8 + 2, padded) + one inline region entry.
        assert_eq!(std::mem::size_of::<LwwRegister<i64>>(), 24);
        assert_eq!(std::mem::size_of::<Contrib<u64>>(), 48);
        assert_eq!(std::mem::size_of::<IntCounter>(), 80);
    }

    #[derive(Clone, Debug)]
    enum Op<N> {
        Incr(N),
        Set(N),
    }

    fn int_op() -> impl Strategy<Value = Op<i64>> {
        prop_oneof![4 => (-5i64..6).prop_map(Op::Incr), 1 => (-3i64..10).prop_map(Op::Set)]
    }

    fn float_op() -> impl Strategy<Value = Op<f64>> {
        prop_oneof![
            4 => (-20i32..21).prop_map(|k| Op::Incr(f64::from(k) / 8.0)),
            1 => (-3i32..10).prop_map(|k| Op::Set(f64::from(k) * 0.1)),
        ]
    }

    fn apply<N: Num>(c: &mut Counter<N>, env: &Env, op: &Op<N>) -> Option<Counter<N>> {
        match op {
            Op::Incr(by) => c.incr(env.dot, *by).ok(),
            Op::Set(v) => Some(c.reset(env.dot, env.stamp, *v)),
        }
    }

    proptest! {
        #[test]
        fn counter_converges(steps in testkit::steps(int_op()), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply::<i64>)?;
        }

        #[test]
        fn float_counter_converges(steps in testkit::steps(float_op()), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply::<f64>)?;
        }

        /// With no reset, the value is the sum of every increment made.
        #[test]
        fn counter_never_loses_an_increment(steps in testkit::steps((-5i64..6).prop_map(Op::Incr))) {
            let mut w: World<IntCounter> = World::new();
            for s in &steps { w.step(s, &apply::<i64>, &|_, _| {}); }
            w.flush();
            let made: i64 = steps.iter().map(|s| match s {
                testkit::Step::Op { op: Op::Incr(by), .. } => *by,
                _ => 0,
            }).sum();
            prop_assert!(w.regions.iter().all(|c| c.value() == made));
        }

        /// The converged value is what the rule says: the winning SET's value
        /// plus every increment that no SET/DEL observed. An increment is
        /// observed by a reset whose region had merged it, or a later
        /// increment of the same region (deltas carry cumulative sums), or a
        /// reset delta that had observed it.
        #[test]
        fn counter_matches_observed_reset_oracle(steps in testkit::steps(int_op())) {
            let mut w: World<IntCounter> = World::new();
            for s in &steps { w.step(s, &apply::<i64>, &|_, _| {}); }
            w.flush();
            let ops: Vec<&Op<i64>> = steps.iter().filter_map(|s| match s {
                testkit::Step::Op { op, .. } => Some(op),
                _ => None,
            }).collect();
            let region = |i: usize| w.history[i].0;
            let mut obs: Vec<std::collections::BTreeSet<usize>> = Vec::new();
            for (j, (_, seen)) in w.history.iter().enumerate() {
                let mut o = seen.clone();
                for &x in seen {
                    if matches!(ops[x], Op::Set(_)) { o.extend(obs[x].iter().copied()); }
                }
                debug_assert!(o.iter().all(|&x| x < j));
                obs.push(o);
            }
            let resets: Vec<usize> = (0..ops.len()).filter(|&j| matches!(ops[j], Op::Set(_))).collect();
            let base = resets.iter().max_by_key(|&&j| w.deltas[j].base().order_key())
                .map(|&j| match ops[j] { Op::Set(v) => *v, _ => unreachable!() })
                .unwrap_or(0);
            let live: i64 = (0..ops.len()).filter_map(|i| match ops[i] {
                Op::Incr(by) => {
                    let observed = resets.iter().any(|&j| obs[j].iter().any(|&k| {
                        // (INCRBY 0 makes an empty delta: it carries nothing)
                        k >= i && region(k) == region(i) && matches!(ops[k], Op::Incr(b) if *b != 0)
                    }));
                    (!observed).then_some(*by)
                }
                Op::Set(_) => None,
            }).sum();
            for c in &w.regions { prop_assert_eq!(c.value(), base + live); }
        }

        #[test]
        fn counter_gc_keeps_reads(steps in testkit::gc_steps(int_op())) {
            testkit::check_gc(&steps, apply::<i64>, |c: &mut IntCounter, _| c.collect_stable(), |c| c.value())?;
        }

        #[test]
        fn float_counter_gc_keeps_reads(steps in testkit::gc_steps(float_op())) {
            testkit::check_gc(&steps, apply::<f64>, |c: &mut FloatCounter, _| c.collect_stable(), |c| c.value())?;
        }
    }
}

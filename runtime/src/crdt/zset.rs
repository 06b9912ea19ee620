//! Counter registers as map fields: sorted-set member scores ([`ZSet`]) and
//! counter-valued hash fields (HINCRBY/HINCRBYFLOAT).
//!
//! A [`CounterReg`] combines
//! - **marks**, a dot store: a ZADD writes a mark holding its score and HLC
//!   stamp and replaces every mark it saw; a ZINCRBY writes an empty mark (it
//!   makes the member present) and replaces only the empty marks it saw; a ZREM
//!   forgets every mark it saw. The member is present while any mark survives —
//!   add/increment wins over a concurrent remove;
//! - the per-region increments of [`Contribs`], shared with [`Counter`](super::Counter):
//!   ZINCRBY adds; ZADD and ZREM cancel every increment they observed.
//!
//! `score = (the surviving ZADD score with the greatest (stamp, region), or 0)
//!          + live increments`.
//!
//! Hence: ZINCRBY ∥ ZINCRBY add up; ZADD ∥ ZADD is last-writer-wins; ZADD ∥
//! ZINCRBY gives the ZADD's score plus the concurrent increment (the ZADD
//! cancelled only what it saw); ZREM ∥ ZINCRBY leaves the member present with
//! only the increment; ZADD ∥ ZREM leaves it present with the ZADD's score.
//!
//! The ZADD score is a multi-value register rather than one LWW register
//! because ZADD ∥ ZREM must keep the member with the ZADD's score whatever the
//! stamps say; a single LWW register would let a ZREM with a later stamp
//! zero the score of a member the ZADD keeps present.
//!
//! Invariant: a member with no mark is absent; it may linger with entries that
//! resets cancelled, which [`super::AwMap::collect`] drops at causal stability.

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use super::Crdt;
use super::awmap::{AwMap, MapField};
use super::counter::{Contribs, CounterError, Num};
use super::dot::{CausalContext, Dot};
use super::store::{Causal, DotFun, DotStore};
use crate::clock::Stamp;
use crate::keyspace::Blob;

/// A score (or counter field): LWW base from ZADD plus concurrent increments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "", deserialize = ""))]
pub struct CounterReg<N: Num> {
    /// ZADD marks carry `(stamp, score)`; ZINCRBY marks carry nothing.
    marks: DotFun<Option<(Stamp, N)>>,
    incr: Contribs<N>,
}

/// A sorted-set member's score.
pub type ScoreReg = CounterReg<f64>;

/// A sorted set's membership and scores. Ordering members by score is an index
/// the keyspace keeps beside it; this is the replicated truth it is built from.
pub type ZSet = AwMap<Blob, ScoreReg>;

impl<N: Num> Default for CounterReg<N> {
    fn default() -> Self {
        CounterReg {
            marks: DotFun::new(),
            incr: Contribs::new(),
        }
    }
}

impl<N: Num> CounterReg<N> {
    /// The winning ZADD score, or zero if no ZADD survives.
    pub fn base(&self) -> N {
        self.marks
            .iter()
            .filter_map(|(d, m)| m.map(|(s, v)| ((s, d.region, d.seq), v)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// The score (clamped to the range for integers).
    pub fn value(&self) -> N {
        self.incr.saturating_total(self.base())
    }

    /// The per-region increments.
    pub fn increments(&self) -> &Contribs<N> {
        &self.incr
    }

    /// ZADD `value` as the write `dot` at `stamp` (field delta).
    pub fn set(&self, dot: Dot, stamp: Stamp, value: N) -> Causal<Self> {
        let ctx = CausalContext::from_dots(self.marks.dots().into_iter().chain([dot]));
        Causal::new(
            CounterReg {
                marks: DotFun::single(dot, Some((stamp, value))),
                incr: self.incr.reset_delta(),
            },
            ctx,
        )
    }

    /// ZINCRBY `by` as the write `dot` (field delta), refused if the score
    /// would leave the range.
    pub fn incr(&self, dot: Dot, by: N) -> Result<Causal<Self>, CounterError> {
        let incr = self.incr.incr_delta(dot, by)?;
        let mut next = self.incr.clone();
        next.merge(incr.clone());
        next.total(self.base())?;
        let seen_empty = self
            .marks
            .iter()
            .filter(|(_, m)| m.is_none())
            .map(|(d, _)| d);
        let ctx = CausalContext::from_dots(seen_empty.chain([dot]));
        Ok(Causal::new(
            CounterReg {
                marks: DotFun::single(dot, None),
                incr,
            },
            ctx,
        ))
    }
}

impl<N: Num> DotStore for CounterReg<N> {
    fn is_bottom(&self) -> bool {
        self.marks.is_empty() && self.incr.is_empty()
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.marks.for_each_dot(f)
    }

    fn join(&mut self, ctx: &CausalContext, other: Self, other_ctx: &CausalContext) {
        self.marks.join(ctx, other.marks, other_ctx);
        self.incr.merge(other.incr);
    }

    fn collect_stable(&mut self) {
        self.incr.collect_stable();
    }
}

impl<N: Num> MapField for CounterReg<N> {
    const MAY_LINGER: bool = true;

    fn is_present(&self) -> bool {
        !self.marks.is_empty()
    }

    /// ZREM: forgets the marks seen and cancels the increments seen, so a later
    /// ZINCRBY starts again from zero.
    fn remove(&self, dot: Dot) -> Causal<Self> {
        let ctx = CausalContext::from_dots(self.marks.dots().into_iter().chain([dot]));
        Causal::new(
            CounterReg {
                marks: DotFun::new(),
                incr: self.incr.reset_delta(),
            },
            ctx,
        )
    }
}

/// Sorted-set (and counter-field) operations.
impl<K: Ord + Clone + Debug, N: Num> AwMap<K, CounterReg<N>> {
    /// ZADD `member` with `score` as the write `dot` at `stamp`.
    pub fn add(&mut self, dot: Dot, stamp: Stamp, member: K, score: N) -> Self {
        self.update(member, |r| r.set(dot, stamp, score))
    }

    /// ZINCRBY `member` by `by` as the write `dot`.
    pub fn incr(&mut self, dot: Dot, member: K, by: N) -> Result<Self, CounterError> {
        self.try_update(member, |r| r.incr(dot, by))
    }

    /// ZSCORE.
    pub fn score(&self, member: &K) -> Option<N> {
        self.get(member).map(|r| r.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::RegionId;
    use crate::crdt::dot::VersionVector;
    use crate::crdt::testkit::{self, Env, World};
    use proptest::prelude::*;

    type Z = AwMap<u8, ScoreReg>;

    fn scores(w: &World<Z>, m: u8) -> Vec<Option<f64>> {
        w.regions.iter().map(|z| z.score(&m)).collect()
    }

    fn zadd(w: &mut World<Z>, r: usize, m: u8, s: f64) {
        w.op(r, |z, e| (z.add(e.dot, e.stamp, m, s), ()));
    }

    fn zincr(w: &mut World<Z>, r: usize, m: u8, by: f64) {
        w.op(r, |z, e| (z.incr(e.dot, m, by).unwrap(), ()));
    }

    fn zrem(w: &mut World<Z>, r: usize, m: u8) {
        w.op(r, |z, e| (z.remove(e.dot, &m), ()));
    }

    #[test]
    fn zset_concurrent_zincrby_add() {
        let mut w: World<Z> = World::new();
        zadd(&mut w, 0, 1, 10.0);
        w.flush();
        zincr(&mut w, 0, 1, 2.0);
        zincr(&mut w, 1, 1, 3.0);
        zincr(&mut w, 2, 1, -0.5);
        w.flush();
        assert_eq!(scores(&w, 1), vec![Some(14.5); 3]);
    }

    #[test]
    fn zset_zadd_concurrent_with_zincrby_keeps_zadd_plus_increment() {
        let mut w: World<Z> = World::new();
        zadd(&mut w, 0, 1, 10.0);
        zincr(&mut w, 0, 1, 1.0);
        w.flush();
        zadd(&mut w, 0, 1, 50.0); // cancels the observed +1
        zincr(&mut w, 1, 1, 4.0); // concurrent
        w.flush();
        assert_eq!(scores(&w, 1), vec![Some(54.0); 3]);
        // A later ZADD that has seen the increment sets the score exactly.
        zadd(&mut w, 2, 1, 7.0);
        w.flush();
        assert_eq!(scores(&w, 1), vec![Some(7.0); 3]);
    }

    #[test]
    fn zset_concurrent_zadds_are_lww() {
        let mut w: World<Z> = World::new();
        zadd(&mut w, 0, 1, 1.0);
        zadd(&mut w, 1, 1, 2.0); // equal stamps: region 2 beats region 1
        w.flush();
        assert_eq!(scores(&w, 1), vec![Some(2.0); 3]);
    }

    #[test]
    fn zset_zrem_concurrent_with_zincrby_leaves_only_the_increment() {
        let mut w: World<Z> = World::new();
        zadd(&mut w, 0, 1, 10.0);
        zincr(&mut w, 1, 1, 5.0);
        w.flush();
        zrem(&mut w, 0, 1);
        zincr(&mut w, 1, 1, 3.0);
        w.flush();
        assert_eq!(scores(&w, 1), vec![Some(3.0); 3]);
    }

    #[test]
    fn zset_zadd_concurrent_with_zrem_keeps_the_zadd() {
        let mut w: World<Z> = World::new();
        zadd(&mut w, 0, 1, 10.0);
        w.flush();
        zrem(&mut w, 0, 1);
        zadd(&mut w, 1, 1, 20.0);
        w.flush();
        assert_eq!(scores(&w, 1), vec![Some(20.0); 3]);
    }

    #[test]
    fn zset_removed_member_lingers_until_stable_then_is_collected() {
        let mut w: World<Z> = World::new();
        zincr(&mut w, 0, 1, 5.0);
        w.flush();
        zrem(&mut w, 1, 1);
        w.flush();
        let z = &mut w.regions[0];
        assert_eq!(z.score(&1), None);
        assert_eq!(z.len(), 0);
        assert_eq!(z.stored().len(), 1); // cancelled increments linger
        // Not stable yet (a dot beyond the vector): nothing dropped.
        z.collect(&VersionVector::new());
        assert_eq!(z.stored().len(), 1);
        let stable = w.issued();
        let z = &mut w.regions[0];
        z.collect(&stable);
        assert_eq!(z.stored().len(), 0);
        // A ZINCRBY after the collection starts from zero in a fresh frame.
        zincr(&mut w, 1, 1, 2.0);
        w.flush();
        assert_eq!(scores(&w, 1), vec![Some(2.0); 3]);
    }

    #[test]
    fn zset_on_blob_members() {
        let mut z = ZSet::new();
        let r = RegionId(1);
        z.add(Dot::new(r, 1), Stamp(1), Blob::from_slice(b"alice"), 3.0);
        z.incr(Dot::new(r, 2), Blob::from_slice(b"alice"), 1.5)
            .unwrap();
        assert_eq!(z.score(&Blob::from_slice(b"alice")), Some(4.5));
        assert_eq!(
            z.incr(Dot::new(r, 3), Blob::from_slice(b"alice"), f64::INFINITY),
            Err(CounterError::NotFinite)
        );
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(u8, i8),
        Incr(u8, i8),
        Rem(u8),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..3, any::<i8>()).prop_map(|(m, s)| Op::Add(m, s)),
            4 => (0u8..3, -8i8..9).prop_map(|(m, s)| Op::Incr(m, s)),
            2 => (0u8..3).prop_map(Op::Rem),
            1 => Just(Op::Clear),
        ]
    }

    fn apply(z: &mut Z, env: &Env, op: &Op) -> Option<Z> {
        match op {
            Op::Add(m, s) => Some(z.add(env.dot, env.stamp, *m, f64::from(*s))),
            Op::Incr(m, by) => z.incr(env.dot, *m, f64::from(*by) / 4.0).ok(),
            Op::Rem(m) => Some(z.remove(env.dot, m)),
            Op::Clear => Some(z.clear(env.dot)),
        }
    }

    fn read(z: &Z) -> Vec<(u8, f64)> {
        z.iter().map(|(m, r)| (*m, r.value())).collect()
    }

    proptest! {
        #[test]
        fn zset_converges(steps in testkit::steps(op()), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply)?;
        }

        #[test]
        fn zset_gc_keeps_reads(steps in testkit::gc_steps(op())) {
            testkit::check_gc(&steps, apply, |z: &mut Z, s| z.collect(s), read)?;
        }

        /// Integer counter fields (HINCRBY) share the register.
        #[test]
        fn counter_field_converges(steps in testkit::steps((0u8..3, -5i64..6)), seed in any::<u64>()) {
            let apply = |m: &mut AwMap<u8, CounterReg<i64>>, env: &Env, (k, by): &(u8, i64)| {
                m.incr(env.dot, *k, *by).ok()
            };
            testkit::check_convergence(&steps, seed, apply)?;
        }
    }
}

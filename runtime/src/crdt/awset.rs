//! Add-wins observed-remove set: the replicated form of a Redis set.
//!
//! Each element carries the dots of the adds that made it present. An add
//! replaces the element's dots it has seen with one new dot; a remove (or
//! clear) forgets only the dots it has seen. So an add concurrent with a remove
//! of the same element leaves it present, and a remove never deletes an add it
//! did not observe. Removed elements leave no tombstone: their dots survive
//! only as ranges of the context.
//!
//! Invariant: an [`AwMap`] of [`DotSet`]s underneath, so it inherits that
//! type's canonical form (element order, no empty entries in full states).

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use super::Crdt;
use super::awmap::AwMap;
use super::dot::{CausalContext, Dot, VersionVector};
use super::store::{Causal, DotSet, DotStore};

/// Add-wins set of `E`; see the module doc.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "E: Serialize + Ord",
    deserialize = "E: Deserialize<'de> + Ord"
))]
pub struct AwSet<E> {
    inner: AwMap<E, DotSet>,
}

impl<E> Default for AwSet<E> {
    fn default() -> Self {
        AwSet {
            inner: AwMap::default(),
        }
    }
}

impl<E: Ord + Clone + Debug> AwSet<E> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// SADD of `e` by the write `dot`; returns the delta.
    pub fn add(&mut self, dot: Dot, e: E) -> Self {
        let inner = self.inner.update(e, |seen| {
            let ctx = CausalContext::from_dots(seen.dots().into_iter().chain([dot]));
            Causal::new(DotSet::single(dot), ctx)
        });
        AwSet { inner }
    }

    /// SREM of `e` (observed remove); returns the delta.
    pub fn remove(&mut self, dot: Dot, e: &E) -> Self {
        AwSet {
            inner: self.inner.remove(dot, e),
        }
    }

    /// DEL: removes every element as observed; concurrent adds survive.
    pub fn clear(&mut self, dot: Dot) -> Self {
        AwSet {
            inner: self.inner.clear(dot),
        }
    }

    /// SISMEMBER.
    pub fn contains(&self, e: &E) -> bool {
        self.inner.contains_key(e)
    }

    /// Elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.inner.iter().map(|(e, _)| e)
    }

    /// SCARD (O(1)).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The causal context.
    pub fn context(&self) -> &CausalContext {
        self.inner.context()
    }

    /// Context compaction (see [`CausalContext::compact`]).
    pub fn compact(&mut self, seen: &VersionVector) {
        self.inner.compact(seen);
    }

    /// Garbage collection at causal stability: a set keeps no tombstones, so
    /// this is context compaction.
    pub fn collect(&mut self, stable: &VersionVector) {
        self.inner.collect(stable);
    }
}

impl<E: Ord + Clone + Debug> Crdt for AwSet<E> {
    fn merge(&mut self, other: Self) {
        self.inner.merge(other.inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::RegionId;
    use crate::crdt::testkit::{self, Env, World};
    use proptest::prelude::*;

    type S = AwSet<u8>;

    #[derive(Clone, Debug)]
    enum Op {
        Add(u8),
        Remove(u8),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..6).prop_map(Op::Add),
            3 => (0u8..6).prop_map(Op::Remove),
            1 => Just(Op::Clear),
        ]
    }

    fn apply(s: &mut S, env: &Env, op: &Op) -> Option<S> {
        Some(match op {
            Op::Add(e) => s.add(env.dot, *e),
            Op::Remove(e) => s.remove(env.dot, e),
            Op::Clear => s.clear(env.dot),
        })
    }

    fn read(s: &S) -> Vec<u8> {
        s.iter().copied().collect()
    }

    #[test]
    fn awset_add_concurrent_with_remove_of_same_element_keeps_it() {
        let mut w: World<S> = World::new();
        w.op(0, |s, e| (s.add(e.dot, 5), ()));
        w.flush();
        w.op(0, |s, e| (s.remove(e.dot, &5), ()));
        w.op(1, |s, e| (s.add(e.dot, 5), ()));
        w.flush();
        assert!(w.regions.iter().all(|s| s.contains(&5)));
        assert_eq!(w.regions[0], w.regions[2]);
    }

    #[test]
    fn awset_remove_deletes_only_observed_adds() {
        let mut w: World<S> = World::new();
        w.op(1, |s, e| (s.add(e.dot, 1), ())); // not yet seen by region 0
        w.op(0, |s, e| (s.add(e.dot, 2), ()));
        w.op(0, |s, e| (s.remove(e.dot, &1), ())); // removes nothing it saw
        w.op(0, |s, e| (s.clear(e.dot), ())); // clears 2 only
        w.flush();
        for s in &w.regions {
            assert_eq!(read(s), vec![1]);
        }
    }

    #[test]
    fn awset_readd_after_remove_is_present() {
        let mut s = S::new();
        let r = RegionId(1);
        s.add(Dot::new(r, 1), 3);
        s.remove(Dot::new(r, 2), &3);
        assert!(!s.contains(&3) && s.is_empty());
        s.add(Dot::new(r, 3), 3);
        assert!(s.contains(&3));
        assert_eq!(s.len(), 1);
        // Every write's dot is in the context, contiguously.
        assert_eq!(s.context().vv().get(r), 3);
        assert!(s.context().cloud().is_empty());
    }

    proptest! {
        /// Add-wins against an explicit model: an add survives unless a remove,
        /// clear or later add of the same element observed it — directly (its
        /// region had merged the add) or through a delta that carried it.
        #[test]
        fn awset_matches_add_wins_oracle(steps in testkit::steps(op())) {
            let mut w: World<S> = World::new();
            for s in &steps { w.step(s, &apply, &|_, _| {}); }
            w.flush();
            let ops: Vec<&Op> = steps.iter().filter_map(|s| match s {
                testkit::Step::Op { op, .. } => Some(op),
                _ => None,
            }).collect();
            let touches = |o: &Op, e: u8| match o {
                Op::Add(x) | Op::Remove(x) => *x == e,
                Op::Clear => true,
            };
            let mut expect = Vec::new();
            for e in 0u8..6 {
                // obs[j]: ops observed by op j, as far as element e is concerned
                let mut obs: Vec<std::collections::BTreeSet<usize>> = Vec::new();
                for (_, seen) in &w.history {
                    let mut o = seen.clone();
                    for &m in seen {
                        if touches(ops[m], e) { o.extend(obs[m].iter().copied()); }
                    }
                    obs.push(o);
                }
                let killed = |a: usize| (0..ops.len()).any(|j| j != a && touches(ops[j], e) && obs[j].contains(&a));
                if (0..ops.len()).any(|a| matches!(ops[a], Op::Add(x) if *x == e) && !killed(a)) {
                    expect.push(e);
                }
            }
            for s in &w.regions { prop_assert_eq!(read(s), expect.clone()); }
        }

        #[test]
        fn awset_converges(steps in testkit::steps(op()), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply)?;
        }

        #[test]
        fn awset_gc_keeps_reads(steps in testkit::gc_steps(op())) {
            testkit::check_gc(&steps, apply, |s: &mut S, v| s.collect(v), read)?;
        }
    }
}

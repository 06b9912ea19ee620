//! Multi-value register: the value of one hash field.
//!
//! A write replaces every write it has seen (their dots go into its context)
//! and keeps concurrent ones, so after a merge the register may hold several
//! values — one per write no region had seen when it wrote. Reads resolve them
//! last-writer-wins by `(Stamp, RegionId)` (the region is the dot's), which is
//! identical everywhere; keeping the losers until a later write observes them
//! is what lets a concurrent delete remove exactly what it saw.
//!
//! Invariant: the store is a [`DotFun`], so it is sorted by dot and one entry
//! per surviving write.

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use super::awmap::MapField;
use super::dot::{CausalContext, Dot};
use super::store::{Causal, DotFun, DotStore};
use crate::clock::Stamp;

/// Concurrent writes of one value, each with its stamp.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MvReg<T> {
    writes: DotFun<(Stamp, T)>,
}

impl<T> Default for MvReg<T> {
    fn default() -> Self {
        MvReg {
            writes: DotFun::new(),
        }
    }
}

impl<T: Clone + PartialEq + Debug> MvReg<T> {
    /// The empty register.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that writes `value` (dot `dot`, HLC `stamp`) over every write
    /// this register holds. The caller merges it (see [`super::AwMap::update`]).
    pub fn write(&self, dot: Dot, stamp: Stamp, value: T) -> Causal<Self> {
        let ctx = CausalContext::from_dots(self.writes.dots().into_iter().chain([dot]));
        Causal::new(
            MvReg {
                writes: DotFun::single(dot, (stamp, value)),
            },
            ctx,
        )
    }

    /// The winning value: greatest `(stamp, region)` among concurrent writes.
    pub fn get(&self) -> Option<&T> {
        self.writes
            .iter()
            .max_by_key(|(d, (s, _))| (*s, d.region, d.seq))
            .map(|(_, (_, v))| v)
    }

    /// Every concurrent value with its dot and stamp, in dot order.
    pub fn values(&self) -> impl Iterator<Item = (Dot, Stamp, &T)> + '_ {
        self.writes.iter().map(|(d, (s, v))| (d, *s, v))
    }

    /// True when no write survives.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

impl<T: Clone + PartialEq + Debug> DotStore for MvReg<T> {
    fn is_bottom(&self) -> bool {
        self.writes.is_bottom()
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.writes.for_each_dot(f)
    }

    fn join(&mut self, ctx: &CausalContext, other: Self, other_ctx: &CausalContext) {
        self.writes.join(ctx, other.writes, other_ctx)
    }
}

impl<T: Clone + PartialEq + Debug> MapField for MvReg<T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::RegionId;
    use crate::crdt::testkit::{self, Env};
    use proptest::prelude::*;

    type Reg = Causal<MvReg<u8>>;

    fn write(r: &mut Reg, dot: Dot, stamp: u64, v: u8) -> Reg {
        let d = r.store.write(dot, Stamp(stamp), v);
        r.merge(d.clone());
        d
    }

    #[test]
    fn mvreg_keeps_concurrent_writes_and_reads_lww() {
        let (mut a, mut b) = (Reg::default(), Reg::default());
        let da = write(&mut a, Dot::new(RegionId(1), 1), 20, 1);
        let db = write(&mut b, Dot::new(RegionId(2), 1), 10, 2);
        a.merge(db);
        b.merge(da);
        assert_eq!(a, b);
        assert_eq!(a.store.values().count(), 2);
        assert_eq!(a.store.get(), Some(&1)); // stamp 20 beats 10
        // A write that has seen both replaces both.
        write(&mut a, Dot::new(RegionId(1), 2), 5, 3);
        assert_eq!(a.store.values().count(), 1);
        assert_eq!(a.store.get(), Some(&3));
    }

    fn apply(s: &mut Reg, env: &Env, v: &u8) -> Option<Reg> {
        Some(write(s, env.dot, env.stamp.0, *v))
    }

    proptest! {
        #[test]
        fn mvreg_converges(steps in testkit::steps(any::<u8>()), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply)?;
        }
    }
}

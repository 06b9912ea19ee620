//! Last-writer-wins register: the replicated form of a string value.
//!
//! Invariant: `(stamp, region)` names one write — a region's HLC never hands out
//! the same stamp twice — so ordering by it is total and identical in every
//! region, and the region id breaks exact stamp ties the same way everywhere.
//! The default register (stamp zero, region 0) is the bottom element: every real
//! write is newer.

use serde::{Deserialize, Serialize};

use super::Crdt;
use crate::clock::{RegionId, Stamp};

/// A value with the `(Stamp, RegionId)` of the write that set it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LwwRegister<T> {
    value: T,
    stamp: Stamp,
    region: RegionId,
}

impl<T> LwwRegister<T> {
    /// A register written by `region` at `stamp`.
    pub fn new(value: T, stamp: Stamp, region: RegionId) -> Self {
        LwwRegister {
            value,
            stamp,
            region,
        }
    }

    /// The current value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// Consumes the register, returning its value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The stamp of the write that holds.
    pub fn stamp(&self) -> Stamp {
        self.stamp
    }

    /// The region of the write that holds.
    pub fn region(&self) -> RegionId {
        self.region
    }

    /// The total order of writes: stamp, then region id.
    pub fn order_key(&self) -> (Stamp, RegionId) {
        (self.stamp, self.region)
    }

    /// Writes `value`; returns the delta (the new register). A write older than
    /// the current one is a no-op locally but still a valid delta.
    pub fn set(&mut self, stamp: Stamp, region: RegionId, value: T) -> Self
    where
        T: Clone,
    {
        let delta = LwwRegister::new(value, stamp, region);
        self.merge(delta.clone());
        delta
    }
}

impl<T> Crdt for LwwRegister<T> {
    fn merge(&mut self, other: Self) {
        // Equal keys are the same write (see the module invariant): keep ours.
        if other.order_key() > self.order_key() {
            *self = other;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::testkit::{self, Env};
    use proptest::prelude::*;

    #[test]
    fn lww_later_stamp_wins() {
        let mut a = LwwRegister::new(1u8, Stamp(10), RegionId(2));
        a.merge(LwwRegister::new(2, Stamp(11), RegionId(1)));
        assert_eq!(*a.get(), 2);
        a.merge(LwwRegister::new(3, Stamp(9), RegionId(3)));
        assert_eq!(*a.get(), 2);
    }

    #[test]
    fn lww_exact_tie_broken_by_region_id_everywhere() {
        let w1 = LwwRegister::new(b"from-1".to_vec(), Stamp(10), RegionId(1));
        let w2 = LwwRegister::new(b"from-2".to_vec(), Stamp(10), RegionId(2));
        let mut a = w1.clone();
        a.merge(w2.clone());
        let mut b = w2;
        b.merge(w1);
        assert_eq!(a, b);
        assert_eq!(a.get(), b"from-2");
        assert_eq!(a.region(), RegionId(2));
    }

    fn apply(s: &mut LwwRegister<u8>, env: &Env, v: &u8) -> Option<LwwRegister<u8>> {
        Some(s.set(env.stamp, env.dot.region, *v))
    }

    proptest! {
        #[test]
        fn lww_converges(steps in testkit::steps(any::<u8>()), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply)?;
        }
    }
}

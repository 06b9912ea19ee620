//! Dots, version vectors and causal contexts: the causality bookkeeping every
//! causal CRDT in this module shares.
//!
//! A [`Dot`] names one write: `(region, seq)`. Dots come from one [`DotGen`] per
//! region, so a region's sequence numbers are unique and strictly increasing
//! across every object it writes (they double as positions in that region's
//! replication log).
//!
//! Invariants:
//! - [`VersionVector`] is canonical: entries sorted by region, no zero entries, so
//!   two vectors that mean the same thing compare `==`.
//! - [`CausalContext`] is canonical: every dot of its cloud is *not* covered by its
//!   vector and is not the next dot after it (contiguous dots are always folded
//!   into the vector), and the cloud is sorted. Because of this, two contexts that
//!   hold the same set of dots are `==`, whatever order the dots arrived in.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::clock::RegionId;

/// One write: the `seq`-th dot handed out by `region`'s [`DotGen`]. Sequence
/// numbers start at 1, so `seq == 0` never names a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    /// The region that made the write.
    pub region: RegionId,
    /// Its position in that region's sequence (1-based).
    pub seq: u64,
}

impl Dot {
    /// The dot `(region, seq)`.
    pub const fn new(region: RegionId, seq: u64) -> Dot {
        Dot { region, seq }
    }
}

/// Hands out the dots of one region.
///
/// One generator per region (not per object): the sequence then also numbers the
/// region's replication log, and "every region has seen dots up to *v*" can be
/// stated for all keys at once (causal stability, see [`super`]). The caller
/// must resume a restarted region past every seq it has used
/// ([`DotGen::resume`]); reusing a seq would make other regions treat a new
/// write as one they have already seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DotGen {
    region: RegionId,
    last: u64,
}

impl DotGen {
    /// A generator for `region` that has handed out nothing yet.
    pub fn new(region: RegionId) -> DotGen {
        DotGen { region, last: 0 }
    }

    /// A generator that continues after `last` (e.g. the highest own seq found in
    /// the persisted log).
    pub fn resume(region: RegionId, last: u64) -> DotGen {
        DotGen { region, last }
    }

    /// The region this generator belongs to.
    pub fn region(&self) -> RegionId {
        self.region
    }

    /// The last seq handed out (0 = none).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// A fresh dot, greater than every earlier one of this region.
    #[allow(clippy::should_implement_trait)] // not an iterator: it never ends
    pub fn next(&mut self) -> Dot {
        self.last += 1;
        Dot::new(self.region, self.last)
    }

    /// Skips `n` seqs (tests use it to mimic writes to other objects, which leave
    /// gaps in one object's dots).
    pub fn skip(&mut self, n: u64) {
        self.last += n;
    }
}

/// For each region, the highest seq such that every dot of that region up to it
/// is included ("seen").
///
/// Stored as a sorted small vector: deployments have a handful of regions, and a
/// single-region vector stays inline (24 bytes, no allocation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionVector {
    /// `(region, seq)` sorted by region, every `seq > 0`.
    entries: SmallVec<[(RegionId, u64); 1]>,
}

impl VersionVector {
    /// The empty vector (nothing seen).
    pub fn new() -> VersionVector {
        VersionVector::default()
    }

    /// True when nothing is included.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The highest contiguous seq included for `region` (0 = none).
    pub fn get(&self, region: RegionId) -> u64 {
        match self.entries.binary_search_by_key(&region, |e| e.0) {
            Ok(i) => self.entries[i].1,
            Err(_) => 0,
        }
    }

    /// Whether `dot` is included.
    pub fn contains(&self, dot: Dot) -> bool {
        dot.seq != 0 && dot.seq <= self.get(dot.region)
    }

    /// Raises `region`'s entry to at least `seq` — claiming every dot of that
    /// region up to `seq` as seen. Use it only when that is true (e.g. for a
    /// region's own contiguous writes); [`CausalContext::insert`] is the safe way
    /// to record a single dot.
    pub fn raise(&mut self, region: RegionId, seq: u64) {
        if seq == 0 {
            return;
        }
        match self.entries.binary_search_by_key(&region, |e| e.0) {
            Ok(i) => {
                if self.entries[i].1 < seq {
                    self.entries[i].1 = seq;
                }
            }
            Err(i) => self.entries.insert(i, (region, seq)),
        }
    }

    /// [`raise`](Self::raise) to `dot`: every dot of `dot.region` up to `dot.seq`
    /// becomes included.
    pub fn observe(&mut self, dot: Dot) {
        self.raise(dot.region, dot.seq);
    }

    /// Pointwise maximum (the join of version vectors).
    pub fn merge(&mut self, other: &VersionVector) {
        for &(region, seq) in &other.entries {
            self.raise(region, seq);
        }
    }

    /// Pointwise minimum (the meet): what every one of two replicas has seen.
    /// The meet over all regions' vectors is the causally stable vector.
    pub fn meet(&self, other: &VersionVector) -> VersionVector {
        let entries = self
            .entries
            .iter()
            .filter_map(|&(region, seq)| {
                let m = seq.min(other.get(region));
                (m > 0).then_some((region, m))
            })
            .collect();
        VersionVector { entries }
    }

    /// Whether every dot included in `other` is included in `self`.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        other.entries.iter().all(|&(r, s)| self.get(r) >= s)
    }

    /// Causal order: `Less` if `self` is strictly dominated, `Greater` if it
    /// strictly dominates, `Equal` if equal, `None` if concurrent.
    pub fn compare(&self, other: &VersionVector) -> Option<Ordering> {
        match (self.dominates(other), other.dominates(self)) {
            (true, true) => Some(Ordering::Equal),
            (true, false) => Some(Ordering::Greater),
            (false, true) => Some(Ordering::Less),
            (false, false) => None,
        }
    }

    /// `(region, seq)` entries in region order.
    pub fn iter(&self) -> impl Iterator<Item = (RegionId, u64)> + '_ {
        self.entries.iter().copied()
    }
}

impl PartialOrd for VersionVector {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.compare(other)
    }
}

impl FromIterator<(RegionId, u64)> for VersionVector {
    fn from_iter<I: IntoIterator<Item = (RegionId, u64)>>(iter: I) -> Self {
        let mut v = VersionVector::new();
        for (r, s) in iter {
            v.raise(r, s);
        }
        v
    }
}

/// The set of dots a replica (or a delta) has seen: a version vector for the
/// contiguous prefix of each region plus a small *cloud* of dots seen out of
/// order.
///
/// A dot that is in the context but not in the store it accompanies was removed;
/// that is how the causal types here delete without tombstones. The cloud is how
/// deltas may arrive out of order or twice: an early dot waits in the cloud until
/// the gap before it is filled, then folds into the vector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CausalContext {
    vv: VersionVector,
    /// Sorted, none covered by `vv`, none equal to `vv`'s next dot. Boxed slice:
    /// 16 bytes and no allocation while empty, the usual case at rest. (Always
    /// serialized: rmp-serde's default encodes structs as arrays, where a
    /// skipped field would shift the others.)
    cloud: Box<[Dot]>,
}

impl CausalContext {
    /// The empty context.
    pub fn new() -> CausalContext {
        CausalContext::default()
    }

    /// A context holding exactly `dots`.
    pub fn from_dots(dots: impl IntoIterator<Item = Dot>) -> CausalContext {
        let mut cloud: Vec<Dot> = dots.into_iter().filter(|d| d.seq != 0).collect();
        cloud.sort_unstable();
        cloud.dedup();
        let mut ctx = CausalContext {
            vv: VersionVector::new(),
            cloud: Box::default(),
        };
        ctx.normalize(cloud);
        ctx
    }

    /// A context holding every dot a version vector includes.
    pub fn from_vv(vv: VersionVector) -> CausalContext {
        CausalContext {
            vv,
            cloud: Box::default(),
        }
    }

    /// The contiguous part.
    pub fn vv(&self) -> &VersionVector {
        &self.vv
    }

    /// Dots seen out of order (sorted).
    pub fn cloud(&self) -> &[Dot] {
        &self.cloud
    }

    /// True when no dot is included.
    pub fn is_empty(&self) -> bool {
        self.vv.is_empty() && self.cloud.is_empty()
    }

    /// Whether `dot` has been seen.
    pub fn contains(&self, dot: Dot) -> bool {
        self.vv.contains(dot) || self.cloud.binary_search(&dot).is_ok()
    }

    /// The highest seq of `region` included (contiguous or not).
    pub fn max_seq(&self, region: RegionId) -> u64 {
        let cloud_max = self
            .cloud
            .iter()
            .filter(|d| d.region == region)
            .map(|d| d.seq)
            .max()
            .unwrap_or(0);
        self.vv.get(region).max(cloud_max)
    }

    /// A dot of `region` that this context has not seen and that is greater than
    /// every one it has. For objects that generate their own dots instead of
    /// using a region-wide [`DotGen`].
    pub fn next_dot(&self, region: RegionId) -> Dot {
        Dot::new(region, self.max_seq(region) + 1)
    }

    /// Records one dot (in any order; duplicates are harmless).
    pub fn insert(&mut self, dot: Dot) {
        if dot.seq == 0 || self.contains(dot) {
            return;
        }
        let mut cloud = std::mem::take(&mut self.cloud).into_vec();
        let at = cloud.binary_search(&dot).unwrap_or_else(|i| i);
        cloud.insert(at, dot);
        self.normalize(cloud);
    }

    /// Union of two contexts (the join).
    pub fn merge(&mut self, other: &CausalContext) {
        self.vv.merge(&other.vv);
        if other.cloud.is_empty() && self.cloud.is_empty() {
            return;
        }
        let mut cloud = std::mem::take(&mut self.cloud).into_vec();
        cloud.extend_from_slice(&other.cloud);
        cloud.sort_unstable();
        cloud.dedup();
        self.normalize(cloud);
    }

    /// Whether every dot of `self` is included in `vv`.
    pub fn is_covered_by(&self, vv: &VersionVector) -> bool {
        vv.dominates(&self.vv) && self.cloud.iter().all(|&d| vv.contains(d))
    }

    /// Absorbs `seen` into the vector and drops the cloud dots it covers.
    ///
    /// Precondition: this object has already merged every delta whose dots are
    /// covered by `seen` (nothing covered by `seen` that concerns it is still to
    /// come). Then the gaps `seen` fills are dots of *other* objects, and calling
    /// them seen here changes no future join. Two vectors satisfy it: the
    /// replica's applied prefix of each origin's log (when links deliver each
    /// origin's deltas in order), and a causally stable vector.
    pub fn compact(&mut self, seen: &VersionVector) {
        self.vv.merge(seen);
        let cloud = std::mem::take(&mut self.cloud).into_vec();
        self.normalize(cloud);
    }

    /// Every dot (vector ranges expanded). For tests and small deltas only: the
    /// vector part can be large.
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.vv
            .iter()
            .flat_map(|(r, s)| (1..=s).map(move |q| Dot::new(r, q)))
            .chain(self.cloud.iter().copied())
    }

    /// Restores the canonical form from a sorted, deduplicated cloud.
    fn normalize(&mut self, cloud: Vec<Dot>) {
        let mut kept = Vec::with_capacity(cloud.len());
        // Sorted by (region, seq): walking in order lets a run of contiguous dots
        // fold into the vector one after another.
        for d in cloud {
            let have = self.vv.get(d.region);
            if d.seq <= have {
                continue;
            }
            if d.seq == have + 1 {
                self.vv.raise(d.region, d.seq);
            } else {
                kept.push(d);
            }
        }
        // A kept dot sits above a gap that only a smaller dot could fill, and
        // smaller dots of its region came earlier in the walk: `kept` is final.
        self.cloud = kept.into_boxed_slice();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(r: u16, s: u64) -> Dot {
        Dot::new(RegionId(r), s)
    }

    #[test]
    fn vv_order_and_meet() {
        let a: VersionVector = [(RegionId(1), 3), (RegionId(2), 1)].into_iter().collect();
        let b: VersionVector = [(RegionId(1), 2)].into_iter().collect();
        let c: VersionVector = [(RegionId(2), 5)].into_iter().collect();
        assert!(a > b);
        assert!(b < a);
        assert_eq!(a.partial_cmp(&c), None);
        assert!(a.dominates(&b) && !b.dominates(&a));
        assert_eq!(a.meet(&c), [(RegionId(2), 1)].into_iter().collect());
        assert!(a.contains(d(1, 3)) && !a.contains(d(1, 4)) && !a.contains(d(3, 1)));
        let mut m = b.clone();
        m.merge(&c);
        assert_eq!(
            m,
            [(RegionId(1), 2), (RegionId(2), 5)].into_iter().collect()
        );
    }

    #[test]
    fn out_of_order_dots_fold_into_the_vector_when_the_gap_closes() {
        let mut c = CausalContext::new();
        c.insert(d(1, 3));
        c.insert(d(1, 2));
        assert_eq!(c.cloud(), &[d(1, 2), d(1, 3)]);
        assert!(!c.contains(d(1, 1)));
        c.insert(d(1, 1));
        assert!(c.cloud().is_empty());
        assert_eq!(c.vv().get(RegionId(1)), 3);
        c.insert(d(1, 2)); // duplicate
        assert_eq!(
            c,
            CausalContext::from_vv([(RegionId(1), 3)].into_iter().collect())
        );
    }

    #[test]
    fn compact_absorbs_gaps_left_by_other_objects() {
        let mut c = CausalContext::from_dots([d(1, 1), d(1, 4), d(1, 9), d(2, 2)]);
        assert_eq!(c.cloud().len(), 3);
        c.compact(&[(RegionId(1), 5), (RegionId(2), 2)].into_iter().collect());
        assert_eq!(c.cloud(), &[d(1, 9)]);
        assert_eq!(c.vv().get(RegionId(1)), 5);
        assert!(c.is_covered_by(&[(RegionId(1), 9), (RegionId(2), 2)].into_iter().collect()));
        assert!(!c.is_covered_by(&[(RegionId(1), 8), (RegionId(2), 2)].into_iter().collect()));
    }

    #[test]
    fn dot_gen_is_strictly_increasing_and_resumable() {
        let mut g = DotGen::new(RegionId(4));
        assert_eq!(g.next(), d(4, 1));
        g.skip(3);
        assert_eq!(g.next(), d(4, 5));
        let mut g = DotGen::resume(RegionId(4), g.last());
        assert_eq!(g.next(), d(4, 6));
        let c = CausalContext::from_dots([d(4, 1), d(4, 7)]);
        assert_eq!(c.next_dot(RegionId(4)), d(4, 8));
    }

    fn dots() -> impl Strategy<Value = Vec<Dot>> {
        prop::collection::vec((0u16..3, 1u64..12).prop_map(|(r, s)| d(r, s)), 0..20)
    }

    proptest! {
        /// A context is the set of its dots: any insertion order, any split into
        /// merged parts, gives the same canonical value.
        #[test]
        fn context_is_canonical_set_of_dots(a in dots(), b in dots(), seed in any::<u64>()) {
            let mut all: Vec<Dot> = a.iter().chain(&b).copied().collect();
            let reference = CausalContext::from_dots(all.clone());
            // shuffle deterministically
            let mut x = seed | 1;
            for i in (1..all.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                all.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut one_by_one = CausalContext::new();
            for &dot in &all { one_by_one.insert(dot); }
            prop_assert_eq!(&one_by_one, &reference);
            let mut merged = CausalContext::from_dots(a.clone());
            merged.merge(&CausalContext::from_dots(b.clone()));
            prop_assert_eq!(&merged, &reference);
            for dot in a.iter().chain(&b) { prop_assert!(reference.contains(*dot)); }
            let expanded: std::collections::BTreeSet<Dot> = reference.dots().collect();
            let input: std::collections::BTreeSet<Dot> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(expanded, input);
        }

        #[test]
        fn vv_merge_laws(a in dots(), b in dots(), c in dots()) {
            let v = |ds: &Vec<Dot>| ds.iter().map(|d| (d.region, d.seq)).collect::<VersionVector>();
            let (a, b, c) = (v(&a), v(&b), v(&c));
            let j = |x: &VersionVector, y: &VersionVector| { let mut z = x.clone(); z.merge(y); z };
            prop_assert_eq!(j(&a, &b), j(&b, &a));
            prop_assert_eq!(j(&j(&a, &b), &c), j(&a, &j(&b, &c)));
            prop_assert_eq!(j(&a, &a), a.clone());
            prop_assert!(j(&a, &b).dominates(&a));
            prop_assert!(a.dominates(&a.meet(&b)) && b.dominates(&a.meet(&b)));
        }
    }
}

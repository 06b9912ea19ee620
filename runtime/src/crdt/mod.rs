//! The value types of the replication layer, as delta-state CRDTs (Almeida,
//! Shoker, Baquero, "Delta State Replicated Data Types").
//!
//! This module is pure: no I/O, no keyspace, no clock reads. Every mutator is
//! handed what it needs (the write's [`Dot`], an HLC [`Stamp`](crate::clock::Stamp)
//! where a last-writer-wins rule needs one), applies itself to the local state
//! and returns the *delta* — the small state that carries the change. Deltas are
//! joined with [`Crdt::merge`]; the join is commutative, associative and
//! idempotent, so deltas may arrive in any order, more than once, or folded
//! together, and regions that saw the same deltas hold `==` states.
//!
//! | type | file | conflict rule |
//! |---|---|---|
//! | [`Dot`], [`VersionVector`], [`CausalContext`], [`DotGen`] | `dot.rs` | causality bookkeeping |
//! | [`DotSet`], [`DotFun`], [`DotMap`], [`Causal`] | `store.rs` | the causal join |
//! | [`LwwRegister`] | `lww.rs` | greater `(Stamp, RegionId)` wins |
//! | [`MvReg`] | `mvreg.rs` | concurrent writes kept, read LWW |
//! | [`AwSet`] | `awset.rs` | add wins over concurrent remove |
//! | [`AwMap`] | `awmap.rs` | field update wins over concurrent delete |
//! | [`Counter`] | `counter.rs` | increments add; SET/DEL reset what they observed |
//! | [`CounterReg`] / [`ZSet`] | `zset.rs` | ZINCRBYs add; ZADD resets observed increments |
//! | [`Expiry`] | `expiry.rs` | PERSIST beats EXPIRE; else the later deadline |
//! | [`Hll`] | `hll.rs` | register-wise max |
//! | [`Pos`], [`Sequence`], [`SeqOp`] | `sequence.rs` | lists: dense positions; element ops replayed in stamp order |
//! | [`PackedPositions`] | `packed_positions.rs` | a list's positions at rest, as runs |
//!
//! `docs/semantics.md` states each rule for users with the test that proves it.
//!
//! **Lists** (`sequence.rs`) give every element a dense position identifier
//! (Logoot-style), so concurrent inserts at one place order the same way
//! everywhere; a concurrent pop of one element may return it in both regions.
//!
//! # Dots
//!
//! Every write gets a fresh dot from its region's [`DotGen`] — one sequence per
//! region across all keys, which is also the region's replication log position.
//! Every mutator records its dot in the delta's context even when it stores
//! nothing (a remove), so "the object's context is covered by *v*" means "every
//! write merged into it is covered by *v*".
//!
//! # Garbage collection
//!
//! Two different vectors let a replica forget things; both are supplied by the
//! replication layer, never guessed here.
//!
//! 1. **Seen** ([`CausalContext::compact`], and `compact` on each causal type):
//!    a vector `v` such that every delta with dots covered by `v` has already
//!    been merged into this object. The replica's applied prefix of each origin's
//!    log qualifies when links deliver each origin in order. Effect: the gaps in
//!    an object's context (dots that other keys used) are filled and the cloud
//!    disappears, so a key's context at rest is one small version vector.
//! 2. **Causally stable** (`collect` / `collect_stable`): a vector `s` such that
//!    (a) this replica has merged every delta with dots covered by `s`, and
//!    (b) every delta it merges from now on was produced by a replica that had
//!    already merged all of those. With FIFO per-origin links, `s` is the meet
//!    over regions of the vector each region had merged when it produced the
//!    latest of its deltas this replica has applied (piggybacked on batches).
//!    Note (b) is stronger than "every region has received *s*": a delta a peer
//!    produced before it saw *s* may still be in flight.
//!
//! What each type can drop, and when:
//!
//! | type | metadata | dropped when |
//! |---|---|---|
//! | [`AwSet`], [`AwMap`] of [`MvReg`], [`MvReg`], [`Expiry`] | none: a removed element's dots live on only as ranges of the context | nothing to collect beyond context compaction |
//! | [`Counter`], [`CounterReg`] | per-region increment entries (cumulative increments, decrements, and the reset offsets that cancel them) | an entry whose increments were all cancelled by a reset, once the object's whole history is stable |
//! | [`ZSet`] (and any [`AwMap`] of [`CounterReg`]) | removed members that kept increment entries | with their entries, by the rule above |
//! | [`LwwRegister`], [`Hll`] | none | — |
//!
//! Partly cancelled counter entries are *not* folded into the base value. A fold
//! rewrites the entry's numbers, and a replica that has not folded yet would
//! still send the old numbers (or the old base with its offsets) in a full-state
//! merge; telling the two apart needs the very data the fold wants to drop. The
//! counter avoids needing it instead: every entry lives in a *frame* named by the
//! dot that opened it, and a region opens a fresh frame (numbers back to zero)
//! on its first increment after a reset cancelled all its earlier ones. So an
//! entry is either live or wholly cancelled, and wholly cancelled entries are
//! dropped at stability — in a single-region deployment at once, leaving just the
//! base value.

//! # Memory
//!
//! Per-region vectors are sorted small vectors with one region inline, so a
//! single-region object allocates nothing for them (sizes on 64-bit targets,
//! checked by `at_rest_sizes`): a version vector 24 bytes, a causal context 40
//! (its out-of-order cloud is an empty boxed slice at rest), a set element's
//! dots 24, an LWW string register 40 (value `Blob` 24 + stamp + region), a hash
//! field's register 56, an integer counter 80 (base 24 + one inline region
//! entry), a sorted-set score 104, an expiry store 32 (72 with its own
//! context; a key can keep its value and expiry stores under one shared
//! context, see the `(A, B)` [`DotStore`]), a list element's [`Pos`] 32 while
//! it is one level deep. Large collections are `BTreeMap`s of these.

mod awmap;
mod awset;
mod counter;
mod dot;
mod expiry;
mod hll;
mod lww;
mod mvreg;
mod packed_positions;
mod sequence;
mod store;
mod zset;

#[cfg(test)]
pub(crate) mod testkit;

pub use awmap::{AwMap, FieldMap, MapField};
pub use awset::AwSet;
pub use counter::{Contrib, Contribs, Counter, CounterError, FloatCounter, IntCounter, Num};
pub use dot::{CausalContext, Dot, DotGen, VersionVector};
pub use expiry::Expiry;
pub use hll::{HLL_REGISTERS, Hll};
pub use lww::LwwRegister;
pub use mvreg::MvReg;
pub use packed_positions::PackedPositions;
pub use sequence::{Atom, Pos, STEP, SeqOp, Sequence, implicit};
pub use store::{Causal, DotFun, DotMap, DotSet, DotStore};
pub use zset::{CounterReg, ScoreReg, ZSet};

/// A join-semilattice value: what replication needs from every type here.
pub trait Crdt {
    /// Joins `other` (a full state or a delta) into `self`. Commutative,
    /// associative and idempotent.
    fn merge(&mut self, other: Self);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Blob;
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use std::mem::size_of;

    fn serde_both<T: Serialize + DeserializeOwned>() {}

    /// States and deltas survive the replication layer's encoding (rmp-serde)
    /// unchanged, so a delta applied after a round trip equals one applied
    /// in memory.
    #[test]
    fn states_and_deltas_round_trip_through_rmp_serde() {
        fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
            let bytes = rmp_serde::to_vec(v).expect("encode");
            let back: T = rmp_serde::from_slice(&bytes).expect("decode");
            assert_eq!(&back, v);
        }
        let (a, b) = (crate::clock::RegionId(1), crate::clock::RegionId(2));
        let mut set: AwSet<Blob> = AwSet::new();
        let d1 = set.add(Dot::new(a, 1), Blob::from_slice(b"x"));
        let d2 = set.add(
            Dot::new(b, 1),
            Blob::from_slice(b"a-much-longer-member-than-inline"),
        );
        let d3 = set.remove(Dot::new(a, 2), &Blob::from_slice(b"x"));
        for v in [&set, &d1, &d2, &d3] {
            round_trip(v);
        }
        let mut counter = IntCounter::new();
        let i1 = counter.incr(Dot::new(a, 3), 7).expect("incr");
        let i2 = counter.incr(Dot::new(b, 2), -2).expect("incr");
        let r = counter.reset(Dot::new(a, 4), crate::clock::Stamp(42), 100);
        for v in [&counter, &i1, &i2, &r] {
            round_trip(v);
        }
    }

    /// Deltas of every type can be encoded (rmp-serde in the replication layer).
    #[test]
    fn every_type_serializes() {
        serde_both::<Dot>();
        serde_both::<VersionVector>();
        serde_both::<CausalContext>();
        serde_both::<DotGen>();
        serde_both::<Causal<DotMap<Blob, DotSet>>>();
        serde_both::<LwwRegister<Blob>>();
        serde_both::<Causal<MvReg<Blob>>>();
        serde_both::<AwSet<Blob>>();
        serde_both::<FieldMap>();
        serde_both::<IntCounter>();
        serde_both::<FloatCounter>();
        serde_both::<ZSet>();
        serde_both::<AwMap<Blob, CounterReg<i64>>>();
        serde_both::<Expiry>();
        serde_both::<Hll>();
    }

    /// The at-rest footprint the module doc promises (64-bit targets).
    #[test]
    fn at_rest_sizes() {
        // One region stays inline, no allocation.
        assert_eq!(size_of::<VersionVector>(), 24);
        assert_eq!(size_of::<CausalContext>(), 40);
        assert_eq!(size_of::<DotSet>(), 24);
        assert_eq!(size_of::<LwwRegister<Blob>>(), 40);
        assert_eq!(size_of::<MvReg<Blob>>(), 56);
        assert_eq!(size_of::<IntCounter>(), 80);
        assert_eq!(size_of::<ScoreReg>(), 48 + 56);
        assert_eq!(size_of::<DotFun<u64>>(), 32);
        assert_eq!(size_of::<Expiry>(), 72);
        // A list element's position while it is one level deep.
        assert_eq!(size_of::<Pos>(), 32);
    }
}

//! The dot stores of delta-state CRDTs (Almeida, Shoker, Baquero): [`DotSet`],
//! [`DotFun`] and [`DotMap`], their causal join, and [`Causal`] — a store paired
//! with the [`CausalContext`] it is judged against.
//!
//! The causal join of `(s1, c1)` and `(s2, c2)` keeps a dot when both stores
//! hold it, or when one holds it and the other side's context has not seen it.
//! A dot one side has seen but no longer holds was removed there, and that
//! removal wins over the stale copy; a dot the other side never saw is new and
//! is kept. This gives add-wins/observed-remove semantics with no tombstones.
//!
//! Invariants (what makes `==` on states meaningful):
//! - [`DotSet`] and [`DotFun`] are sorted by dot, without duplicates;
//! - [`DotMap`] is a `BTreeMap` (key order, never hash order) and, in full
//!   states, holds no bottom (empty) sub-store — a key whose store becomes empty
//!   is dropped;
//! - a dot names one write, so when both sides of a [`DotFun`] join hold a dot
//!   their values are equal and either may be kept.

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::Crdt;
use super::dot::{CausalContext, Dot};

/// A store of dots that can be joined causally.
pub trait DotStore: Clone + Default + PartialEq + Debug {
    /// True for the bottom element: no dots and no other state. A [`DotMap`]
    /// drops keys whose store is bottom.
    fn is_bottom(&self) -> bool;

    /// Calls `f` with every dot the store holds.
    fn for_each_dot(&self, f: &mut dyn FnMut(Dot));

    /// The causal join of `(self, ctx)` with `(other, other_ctx)`; the caller
    /// joins the contexts afterwards.
    fn join(&mut self, ctx: &CausalContext, other: Self, other_ctx: &CausalContext);

    /// Drops metadata that only protects against deltas that can no longer
    /// arrive. The caller guarantees the store's whole history is causally stable
    /// (see [`super`]). Pure dot stores hold no such metadata.
    fn collect_stable(&mut self) {}

    /// Every dot the store holds, sorted.
    fn dots(&self) -> Vec<Dot> {
        let mut v = Vec::new();
        self.for_each_dot(&mut |d| v.push(d));
        v.sort_unstable();
        v
    }
}

/// The join of two sorted dot-keyed lists (the heart of every leaf store).
fn join_sorted<T>(
    a: SmallVec<[T; 1]>,
    ca: &CausalContext,
    b: SmallVec<[T; 1]>,
    cb: &CausalContext,
    dot: impl Fn(&T) -> Dot,
) -> SmallVec<[T; 1]> {
    let mut out = SmallVec::with_capacity(a.len().max(b.len()));
    let mut ai = a.into_iter().peekable();
    let mut bi = b.into_iter().peekable();
    loop {
        match (ai.peek(), bi.peek()) {
            (None, None) => break,
            (Some(x), Some(y)) if dot(x) == dot(y) => {
                // In both stores: kept (the values are the same write).
                out.push(ai.next().unwrap());
                bi.next();
            }
            (Some(x), y) if y.is_none_or(|y| dot(x) < dot(y)) => {
                let x = ai.next().unwrap();
                if !cb.contains(dot(&x)) {
                    out.push(x);
                }
            }
            _ => {
                let y = bi.next().unwrap();
                if !ca.contains(dot(&y)) {
                    out.push(y);
                }
            }
        }
    }
    out
}

/// A set of dots: the store of an add-wins flag or set element ("present while
/// any of its dots survives").
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DotSet {
    /// Sorted. Inline for one dot: an element normally carries exactly one.
    dots: SmallVec<[Dot; 1]>,
}

impl DotSet {
    /// The empty set.
    pub fn new() -> DotSet {
        DotSet::default()
    }

    /// A set of one dot.
    pub fn single(dot: Dot) -> DotSet {
        DotSet {
            dots: smallvec::smallvec![dot],
        }
    }

    /// Whether the set holds `dot`.
    pub fn contains(&self, dot: Dot) -> bool {
        self.dots.binary_search(&dot).is_ok()
    }

    /// Adds a dot.
    pub fn insert(&mut self, dot: Dot) {
        if let Err(i) = self.dots.binary_search(&dot) {
            self.dots.insert(i, dot);
        }
    }

    /// Number of dots.
    pub fn len(&self) -> usize {
        self.dots.len()
    }

    /// True when the set holds no dot.
    pub fn is_empty(&self) -> bool {
        self.dots.is_empty()
    }

    /// The dots, sorted.
    pub fn iter(&self) -> impl Iterator<Item = Dot> + '_ {
        self.dots.iter().copied()
    }
}

impl DotStore for DotSet {
    fn is_bottom(&self) -> bool {
        self.dots.is_empty()
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.dots.iter().for_each(|&d| f(d));
    }

    fn join(&mut self, ctx: &CausalContext, other: Self, other_ctx: &CausalContext) {
        let a = std::mem::take(&mut self.dots);
        self.dots = join_sorted(a, ctx, other.dots, other_ctx, |d| *d);
    }
}

/// A map from dot to value: a multi-value register's concurrent writes, each
/// tagged with the dot of the write that made it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DotFun<V> {
    /// Sorted by dot. Inline for one entry: concurrent writes are rare.
    entries: SmallVec<[(Dot, V); 1]>,
}

impl<V> Default for DotFun<V> {
    fn default() -> Self {
        DotFun {
            entries: SmallVec::new(),
        }
    }
}

impl<V> DotFun<V> {
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// A map of one entry.
    pub fn single(dot: Dot, value: V) -> Self {
        DotFun {
            entries: smallvec::smallvec![(dot, value)],
        }
    }

    /// Sets `dot`'s value.
    pub fn insert(&mut self, dot: Dot, value: V) {
        match self.entries.binary_search_by_key(&dot, |e| e.0) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (dot, value)),
        }
    }

    /// The value of `dot`.
    pub fn get(&self, dot: Dot) -> Option<&V> {
        self.entries
            .binary_search_by_key(&dot, |e| e.0)
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(dot, value)` in dot order.
    pub fn iter(&self) -> impl Iterator<Item = (Dot, &V)> + '_ {
        self.entries.iter().map(|(d, v)| (*d, v))
    }
}

impl<V: Clone + PartialEq + Debug> DotStore for DotFun<V> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.entries.iter().for_each(|e| f(e.0));
    }

    fn join(&mut self, ctx: &CausalContext, other: Self, other_ctx: &CausalContext) {
        let a = std::mem::take(&mut self.entries);
        self.entries = join_sorted(a, ctx, other.entries, other_ctx, |e| e.0);
    }
}

/// A map from key to a nested dot store, all sharing one causal context.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "K: Serialize + Ord, S: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, S: Deserialize<'de>"
))]
pub struct DotMap<K, S> {
    entries: BTreeMap<K, S>,
}

impl<K, S> Default for DotMap<K, S> {
    fn default() -> Self {
        DotMap {
            entries: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone + Debug, S: DotStore> DotMap<K, S> {
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The store under `key`.
    pub fn get(&self, key: &K) -> Option<&S> {
        self.entries.get(key)
    }

    /// Sets `key`'s store (for building deltas).
    pub fn insert(&mut self, key: K, store: S) {
        self.entries.insert(key, store);
    }

    /// Number of keys (including ones whose store holds metadata only).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(key, store)` in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &S)> + '_ {
        self.entries.iter()
    }

    /// The join restricted to the keys `other` names.
    ///
    /// Equal to [`DotStore::join`] when every key whose dots `other_ctx` covers
    /// appears in `other` (possibly with a bottom store as a marker) — true of
    /// deltas made by point mutators and of joins of such deltas. It costs
    /// O(|other| log |self|) instead of a walk over every key, which is what
    /// makes applying a one-field delta to a large collection cheap.
    /// `keep_bottom` keeps keys whose store ends up bottom (needed when `self` is
    /// itself such a delta, so that its markers survive).
    pub fn join_named(
        &mut self,
        ctx: &CausalContext,
        other: Self,
        other_ctx: &CausalContext,
        keep_bottom: bool,
    ) {
        for (k, ov) in other.entries {
            match self.entries.get_mut(&k) {
                Some(v) => {
                    v.join(ctx, ov, other_ctx);
                    if !keep_bottom && v.is_bottom() {
                        self.entries.remove(&k);
                    }
                }
                None => {
                    let mut v = S::default();
                    v.join(ctx, ov, other_ctx);
                    if keep_bottom || !v.is_bottom() {
                        self.entries.insert(k, v);
                    }
                }
            }
        }
    }
}

impl<K: Ord + Clone + Debug, S: DotStore> DotStore for DotMap<K, S> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        for v in self.entries.values() {
            v.for_each_dot(f);
        }
    }

    fn join(&mut self, ctx: &CausalContext, other: Self, other_ctx: &CausalContext) {
        let mut other = other.entries;
        // Keys in `self`: joined with `other`'s store, or with bottom if it has
        // none (which drops the dots `other` has seen removed).
        self.entries.retain(|k, v| {
            let ov = other.remove(k).unwrap_or_default();
            v.join(ctx, ov, other_ctx);
            !v.is_bottom()
        });
        for (k, ov) in other {
            let mut v = S::default();
            v.join(ctx, ov, other_ctx);
            if !v.is_bottom() {
                self.entries.insert(k, v);
            }
        }
    }

    fn collect_stable(&mut self) {
        self.entries.retain(|_, v| {
            v.collect_stable();
            !v.is_bottom()
        });
    }
}

/// Two stores under one context (e.g. a key's value and its expiry register):
/// joined component-wise.
impl<A: DotStore, B: DotStore> DotStore for (A, B) {
    fn is_bottom(&self) -> bool {
        self.0.is_bottom() && self.1.is_bottom()
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.0.for_each_dot(f);
        self.1.for_each_dot(f);
    }

    fn join(&mut self, ctx: &CausalContext, other: Self, other_ctx: &CausalContext) {
        self.0.join(ctx, other.0, other_ctx);
        self.1.join(ctx, other.1, other_ctx);
    }

    fn collect_stable(&mut self) {
        self.0.collect_stable();
        self.1.collect_stable();
    }
}

/// A dot store with its causal context: a full state, or a delta (a small state
/// carrying the dots a mutation added and the ones it saw, hence removed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Causal<S> {
    /// The live dots (and their values).
    pub store: S,
    /// Every dot seen.
    pub ctx: CausalContext,
}

impl<S: DotStore> Causal<S> {
    /// A state from its parts.
    pub fn new(store: S, ctx: CausalContext) -> Self {
        Causal { store, ctx }
    }

    /// The join of two states (or a state and a delta).
    pub fn merge(&mut self, other: Self) {
        self.store.join(&self.ctx, other.store, &other.ctx);
        self.ctx.merge(&other.ctx);
    }
}

impl<S: DotStore> Crdt for Causal<S> {
    fn merge(&mut self, other: Self) {
        Causal::merge(self, other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::RegionId;
    use proptest::prelude::*;

    fn d(r: u16, s: u64) -> Dot {
        Dot::new(RegionId(r), s)
    }

    #[test]
    fn join_keeps_common_and_unseen_dots_and_drops_removed_ones() {
        // Side 1 holds a (seen by 2 and removed there) and b (unseen by 2).
        let s1 = DotSet {
            dots: smallvec::smallvec![d(1, 1), d(1, 2)],
        };
        let c1 = CausalContext::from_dots([d(1, 1), d(1, 2)]);
        // Side 2 saw a but not b, holds c (unseen by 1).
        let s2 = DotSet::single(d(2, 1));
        let c2 = CausalContext::from_dots([d(1, 1), d(2, 1)]);
        let mut j = s1.clone();
        j.join(&c1, s2.clone(), &c2);
        assert_eq!(j.dots(), vec![d(1, 2), d(2, 1)]);
        let mut k = s2;
        k.join(&c2, s1, &c1);
        assert_eq!(j, k);
    }

    #[test]
    fn map_join_drops_keys_left_empty() {
        let mut m1: DotMap<u8, DotSet> = DotMap::new();
        m1.insert(7, DotSet::single(d(1, 1)));
        let c1 = CausalContext::from_dots([d(1, 1)]);
        let m2: DotMap<u8, DotSet> = DotMap::new();
        let c2 = CausalContext::from_dots([d(1, 1)]);
        m1.join(&c1, m2, &c2);
        assert!(m1.is_empty());
    }

    /// Random (store, context) pairs where the store's dots are in the context,
    /// as in every reachable state.
    fn state() -> impl Strategy<Value = (DotMap<u8, DotSet>, CausalContext)> {
        let dot = (0u16..3, 1u64..8).prop_map(|(r, s)| d(r, s));
        (
            prop::collection::vec((0u8..4, dot.clone()), 0..8),
            prop::collection::vec(dot, 0..8),
        )
            .prop_map(|(entries, extra)| {
                let mut m: DotMap<u8, DotSet> = DotMap::new();
                let mut seen: Vec<Dot> = extra;
                for (k, dt) in entries {
                    // a dot belongs to one key only
                    if seen.contains(&dt) {
                        continue;
                    }
                    seen.push(dt);
                    let mut s = m.get(&k).cloned().unwrap_or_default();
                    s.insert(dt);
                    m.insert(k, s);
                }
                (m, CausalContext::from_dots(seen))
            })
    }

    fn join(
        a: &(DotMap<u8, DotSet>, CausalContext),
        b: &(DotMap<u8, DotSet>, CausalContext),
    ) -> (DotMap<u8, DotSet>, CausalContext) {
        let mut x = Causal::new(a.0.clone(), a.1.clone());
        x.merge(Causal::new(b.0.clone(), b.1.clone()));
        (x.store, x.ctx)
    }

    proptest! {
        #[test]
        fn causal_join_is_a_semilattice(a in state(), b in state(), c in state()) {
            prop_assert_eq!(join(&a, &b), join(&b, &a));
            prop_assert_eq!(join(&join(&a, &b), &c), join(&a, &join(&b, &c)));
            prop_assert_eq!(join(&a, &a), a.clone());
        }
    }
}

//! Add-wins map whose field values are themselves causal CRDTs: the replicated
//! form of a hash (fields → [`MvReg`]) and, with [`CounterReg`](super::CounterReg)
//! values, of a sorted set.
//!
//! A field update wins over a concurrent delete of the field: the delete
//! removes only the dots it observed, and the update's new dot survives. A
//! delete, or a whole-map clear (DEL), removes exactly what it saw.
//!
//! Invariants:
//! - all fields share the map's one [`CausalContext`];
//! - in a full state no field's store is bottom (it is dropped), so `==` is
//!   canonical; fields are in key order ([`DotMap`] is a `BTreeMap`);
//! - `keyed` is true only on deltas made by point mutators (and joins of such
//!   deltas): every field whose dots the delta's context covers is then named
//!   in the delta, possibly by an empty marker, so applying it visits only those
//!   fields. Full states have `keyed == false` and are joined by a full walk.

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use super::Crdt;
use super::dot::{CausalContext, Dot, VersionVector};
use super::mvreg::MvReg;
use super::store::{Causal, DotMap, DotSet, DotStore};
use crate::clock::Stamp;
use crate::keyspace::Blob;

/// A dot store that can be a map field.
pub trait MapField: DotStore {
    /// True when a store that is not bottom may still be an absent field (it
    /// holds metadata only, e.g. a removed member's cancelled increments).
    const MAY_LINGER: bool = false;

    /// Whether the field is present (visible to reads).
    fn is_present(&self) -> bool {
        let mut any = false;
        self.for_each_dot(&mut |_| any = true);
        any
    }

    /// The delta of an observed remove of this field by the write `dot`: forgets
    /// every dot the field holds (and records `dot`).
    fn remove(&self, dot: Dot) -> Causal<Self> {
        let ctx = CausalContext::from_dots(self.dots().into_iter().chain([dot]));
        Causal::new(Self::default(), ctx)
    }
}

impl MapField for DotSet {}

/// Map of field → causal value; see the module doc.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize + Ord, V: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, V: Deserialize<'de>"
))]
pub struct AwMap<K, V> {
    fields: DotMap<K, V>,
    ctx: CausalContext,
    keyed: bool,
}

/// A Redis hash: byte-string fields holding byte-string values.
pub type FieldMap = AwMap<Blob, MvReg<Blob>>;

impl<K, V> Default for AwMap<K, V> {
    fn default() -> Self {
        AwMap {
            fields: DotMap::default(),
            ctx: CausalContext::default(),
            keyed: false,
        }
    }
}

impl<K: Ord + Clone + Debug, V: MapField> AwMap<K, V> {
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of a present field.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.fields.get(key).filter(|v| v.is_present())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Present fields in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.fields
            .iter()
            .filter(|(_, v)| !V::MAY_LINGER || v.is_present())
    }

    /// Number of present fields (O(1) unless values may linger).
    pub fn len(&self) -> usize {
        if V::MAY_LINGER {
            self.iter().count()
        } else {
            self.fields.len()
        }
    }

    /// True when no field is present.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shared causal context.
    pub fn context(&self) -> &CausalContext {
        &self.ctx
    }

    /// Every stored field, including lingering absent ones (for accounting).
    pub fn stored(&self) -> &DotMap<K, V> {
        &self.fields
    }

    /// Applies a field mutation: `f` gets the field's current store (bottom if
    /// absent) and returns the field delta (made with the write's dot). Returns
    /// the map delta, already merged here.
    pub fn update(&mut self, key: K, f: impl FnOnce(&V) -> Causal<V>) -> Self {
        let fd = match self.fields.get(&key) {
            Some(v) => f(v),
            None => f(&V::default()),
        };
        let mut fields = DotMap::new();
        fields.insert(key, fd.store);
        let delta = AwMap {
            fields,
            ctx: fd.ctx,
            keyed: true,
        };
        self.merge(delta.clone());
        delta
    }

    /// Like [`update`](Self::update) for mutations that can fail; nothing is
    /// changed on error.
    pub fn try_update<E>(
        &mut self,
        key: K,
        f: impl FnOnce(&V) -> Result<Causal<V>, E>,
    ) -> Result<Self, E> {
        let fd = match self.fields.get(&key) {
            Some(v) => f(v)?,
            None => f(&V::default())?,
        };
        Ok(self.update(key, |_| fd))
    }

    /// Observed remove of one field (HDEL / ZREM / SREM) by the write `dot`.
    pub fn remove(&mut self, dot: Dot, key: &K) -> Self {
        self.update(key.clone(), |v| v.remove(dot))
    }

    /// Observed remove of every field (DEL): a concurrent update of any field
    /// survives it.
    pub fn clear(&mut self, dot: Dot) -> Self {
        let mut fields = DotMap::new();
        for (k, v) in self.fields.iter() {
            let fd = v.remove(dot);
            if !fd.store.is_bottom() {
                fields.insert(k.clone(), fd.store);
            }
        }
        // Having seen the whole context, the clear removes every dot in it.
        let mut ctx = self.ctx.clone();
        ctx.insert(dot);
        // Not keyed: fields it empties are not named, so receivers walk all.
        let delta = AwMap {
            fields,
            ctx,
            keyed: false,
        };
        self.merge(delta.clone());
        delta
    }

    /// Context compaction with a vector of dots already merged (see
    /// [`CausalContext::compact`]).
    pub fn compact(&mut self, seen: &VersionVector) {
        self.ctx.compact(seen);
    }

    /// Garbage collection at causal stability (see [`super`]): when every write
    /// merged here is covered by `stable`, lingering metadata of the fields is
    /// dropped; the context is compacted in any case.
    pub fn collect(&mut self, stable: &VersionVector) {
        if V::MAY_LINGER && self.ctx.is_covered_by(stable) {
            self.fields.collect_stable();
        }
        self.ctx.compact(stable);
    }
}

impl<K: Ord + Clone + Debug, V: MapField> Crdt for AwMap<K, V> {
    fn merge(&mut self, other: Self) {
        if other.keyed {
            self.fields
                .join_named(&self.ctx, other.fields, &other.ctx, self.keyed);
        } else {
            self.fields.join(&self.ctx, other.fields, &other.ctx);
        }
        self.ctx.merge(&other.ctx);
        self.keyed &= other.keyed;
    }
}

/// Hash operations: fields are multi-value registers read last-writer-wins.
impl<K: Ord + Clone + Debug, T: Clone + PartialEq + Debug> AwMap<K, MvReg<T>> {
    /// HSET of one field by the write `dot` at `stamp`.
    pub fn set(&mut self, dot: Dot, stamp: Stamp, key: K, value: T) -> Self {
        self.update(key, |reg| reg.write(dot, stamp, value))
    }

    /// The field's winning value (HGET).
    pub fn value(&self, key: &K) -> Option<&T> {
        self.get(key).and_then(|r| r.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::RegionId;
    use crate::crdt::testkit::{self, Env, World};
    use proptest::prelude::*;

    type H = AwMap<u8, MvReg<u8>>;

    #[derive(Clone, Debug)]
    enum Op {
        Set(u8, u8),
        Del(u8),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..4, any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
            2 => (0u8..4).prop_map(Op::Del),
            1 => Just(Op::Clear),
        ]
    }

    fn apply(m: &mut H, env: &Env, op: &Op) -> Option<H> {
        Some(match op {
            Op::Set(k, v) => m.set(env.dot, env.stamp, *k, *v),
            Op::Del(k) => m.remove(env.dot, k),
            Op::Clear => m.clear(env.dot),
        })
    }

    fn read(m: &H) -> Vec<(u8, u8)> {
        m.iter().map(|(k, v)| (*k, *v.get().unwrap())).collect()
    }

    #[test]
    fn awmap_hset_concurrent_with_hdel_keeps_the_field() {
        let mut w: World<H> = World::new();
        w.op(0, |m, e| (m.set(e.dot, e.stamp, 1, 10), ()));
        w.flush();
        // Region 0 deletes the field it saw; region 1 concurrently updates it.
        w.op(0, |m, e| (m.remove(e.dot, &1), ()));
        w.op(1, |m, e| (m.set(e.dot, e.stamp, 1, 20), ()));
        w.flush();
        for r in &w.regions {
            assert_eq!(r.value(&1), Some(&20));
        }
        // A later delete that has seen the update removes it everywhere.
        w.op(2, |m, e| (m.remove(e.dot, &1), ()));
        w.flush();
        assert!(w.regions.iter().all(|r| r.is_empty()));
    }

    #[test]
    fn awmap_concurrent_hsets_resolve_lww_by_stamp_then_region() {
        let mut a = H::new();
        let mut b = H::new();
        let da = a.set(Dot::new(RegionId(1), 1), Stamp(7), 0, 1);
        let db = b.set(Dot::new(RegionId(2), 1), Stamp(7), 0, 2);
        a.merge(db);
        b.merge(da);
        assert_eq!(a, b);
        assert_eq!(a.value(&0), Some(&2)); // equal stamps: region 2 > region 1
    }

    #[test]
    fn awmap_del_removes_only_observed_fields() {
        let mut w: World<H> = World::new();
        w.op(0, |m, e| (m.set(e.dot, e.stamp, 1, 1), ()));
        w.flush();
        w.op(1, |m, e| (m.set(e.dot, e.stamp, 2, 2), ())); // unseen by region 0
        w.op(0, |m, e| (m.clear(e.dot), ()));
        w.flush();
        assert_eq!(read(&w.regions[0]), vec![(2, 2)]);
        assert_eq!(w.regions[0], w.regions[2]);
    }

    #[test]
    fn awmap_point_delta_touches_only_its_field() {
        // The keyed fast path must agree with the full join.
        let mut a = H::new();
        for i in 0..50u8 {
            a.set(Dot::new(RegionId(1), u64::from(i) + 1), Stamp(1), i, i);
        }
        let mut b = a.clone();
        let d = b.remove(Dot::new(RegionId(2), 1), &7);
        assert!(d.keyed);
        let mut full = d.clone();
        full.keyed = false;
        let mut a2 = a.clone();
        a.merge(d);
        a2.merge(full);
        assert_eq!(a, a2);
        assert_eq!(a, b);
        assert_eq!(a.len(), 49);
    }

    proptest! {
        #[test]
        fn awmap_converges(steps in testkit::steps(op()), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply)?;
        }

        #[test]
        fn awmap_gc_keeps_reads(steps in testkit::gc_steps(op())) {
            testkit::check_gc(&steps, apply, |m: &mut H, s| m.collect(s), read)?;
        }
    }
}

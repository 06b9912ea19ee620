//! Lists as a sequence CRDT: dense position identifiers ([`Pos`]) that order
//! a list's elements the same way in every region, and the element
//! operations ([`SeqOp`]) whose replay in stamp order is a list's replicated
//! value ([`Sequence`]).
//!
//! # Design
//!
//! Every element carries a unique position: a path of [`Atom`]s
//! `(digit, region, stamp)`, compared lexicographically (a prefix sorts
//! first), so positions are totally ordered and dense — between any two
//! there is always room for another (Logoot/LSEQ). The writer's
//! `(region, stamp)` is part of every atom it creates, which makes every
//! position unique and orders two regions' concurrent inserts at the same
//! place identically everywhere (the digit first, then region id, then
//! stamp). Digits are `u64`: a tail push takes the last element's first digit
//! plus [`STEP`], a head push the first element's minus it, so a queue
//! (RPUSH + LPOP forever) keeps one-atom positions for 2^39 pushes; LINSERT
//! takes the midpoint, going one atom deeper only when two neighbours are
//! adjacent. A multi-element push places its elements as children of one new
//! position, so two regions' concurrent `RPUSH a b` and `RPUSH c d` land as
//! `a b c d` or `c d a b`, never interleaved.
//!
//! A list's replicated state is its base (a plain list whose positions are
//! either carried explicitly or [`implicit`] from the dot of the write that
//! made it) and the element operations made on top of it, each batch tagged
//! with its write's `(stamp, region)`. The value is the replay of the
//! batches in that order ([`Sequence::apply`]): inserts add an element at its
//! position, removals take the named positions out, LSET replaces the value
//! at a position. Replay order is a function of the set of batches, so
//! regions holding the same batches hold the same list; and HLC stamps grow
//! along causality, so a removal always replays after the insert it saw,
//! however the two were delivered. Consequences, stated in
//! `docs/semantics.md`:
//!
//! - concurrent pushes all land, ordered by position;
//! - a removal (LPOP, LREM, LTRIM…) removes exactly the elements it named:
//!   two regions that concurrently pop the same element both return it
//!   (at-least-once), and it is gone once;
//! - of concurrent LSETs of one element the later `(stamp, region)` wins; an
//!   LSET concurrent with the element's removal is lost with it.
//!
//! Removals leave no tombstones here: the batch that removed an element is
//! itself what the replica holds until it is causally stable, and then every
//! batch collapses into one base with explicit positions.
//!
//! This module is pure: it neither reads clocks nor knows keys; the engine's
//! replica (`engine/replica.rs`) holds the batches and decides when they
//! collapse.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use smallvec::SmallVec;

use crate::clock::{RegionId, Stamp};
use crate::keyspace::{Blob, blob};

/// The gap a push leaves between neighbours (and between the elements of a
/// list whose positions are implicit).
pub const STEP: u64 = 1 << 24;

/// The first digit of the first element of a list.
const MID: u64 = 1 << 63;

/// One level of a position: a digit, then the writer's region and stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Atom(pub u64, pub RegionId, pub Stamp);

/// Below every real atom (real stamps are never zero): what a position goes
/// through when it must sort before a deeper neighbour.
const FLOOR: Atom = Atom(0, RegionId(0), Stamp(0));

/// A dense, totally ordered position identifier (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pos(pub SmallVec<[Atom; 1]>);

impl Pos {
    /// How many atoms deep it is.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// A position strictly between `lo` and `hi` (`None` = the list's end on
    /// that side), new to the writer `(region, stamp)`. `lo < hi` is the
    /// caller's promise; given positions that break it, the result is still
    /// a valid position, just not between them.
    pub fn between(lo: Option<&Pos>, hi: Option<&Pos>, region: RegionId, stamp: Stamp) -> Pos {
        let lo: &[Atom] = lo.map_or(&[], |p| &p.0);
        // `hi` bounds the next digit only while the path built so far is a
        // prefix of it.
        let mut hi: Option<&[Atom]> = hi.map(|p| &p.0[..]);
        let mut out: SmallVec<[Atom; 1]> = SmallVec::new();
        let mut depth = 0;
        loop {
            let l = lo.get(depth).copied();
            let h = hi.and_then(|h| h.get(depth)).map(|a| a.0);
            let lo_d = l.map_or(-1, |a| i128::from(a.0));
            let hi_d = h.map_or(i128::from(u64::MAX) + 1, i128::from);
            if hi_d - lo_d > 1 {
                let step = i128::from(STEP);
                let digit = match (l, h) {
                    (None, None) => i128::from(MID),
                    (Some(_), None) if lo_d + step < hi_d => lo_d + step,
                    (None, Some(_)) if hi_d - step > lo_d => hi_d - step,
                    _ => lo_d + (hi_d - lo_d) / 2,
                };
                // In (lo_d, hi_d) ⊆ [0, u64::MAX], so it fits.
                out.push(Atom(u64::try_from(digit).unwrap_or(MID), region, stamp));
                return Pos(out);
            }
            // No digit fits here: follow `lo` one level down (or go below
            // everything `hi` holds at this level).
            let next = l.unwrap_or(FLOOR);
            hi = hi.filter(|h| h.get(depth) == Some(&next));
            out.push(next);
            depth += 1;
        }
    }

    /// `n` positions in order, strictly between `lo` and `hi`, for one
    /// write's run of new elements: children of one new position, so a
    /// concurrent run elsewhere sorts wholly before or after them.
    pub fn run(
        lo: Option<&Pos>,
        hi: Option<&Pos>,
        n: usize,
        region: RegionId,
        stamp: Stamp,
    ) -> Vec<Pos> {
        let first = Pos::between(lo, hi, region, stamp);
        if n <= 1 {
            return if n == 1 { vec![first] } else { Vec::new() };
        }
        let children: Vec<Pos> = (0..n as u64)
            .map(|i| {
                let mut p = first.clone();
                p.0.push(Atom(MID.wrapping_add(i.wrapping_mul(STEP)), region, stamp));
                p
            })
            .collect();
        let fits = children.windows(2).all(|w| w[0] < w[1])
            && children.last().is_some_and(|c| hi.is_none_or(|h| c < h));
        if fits {
            return children;
        }
        // A run this long or squeezed (never in practice): one after another.
        let mut out = Vec::with_capacity(n);
        let mut prev = first;
        for _ in 1..n {
            let next = Pos::between(Some(&prev), hi, region, stamp);
            out.push(std::mem::replace(&mut prev, next));
        }
        out.push(prev);
        out
    }
}

/// The positions of a plain list of `n` elements written by
/// `(region, stamp)`: every region derives the same ones from the write's
/// dot, so a list replicated whole needs no positions on the wire.
pub fn implicit(region: RegionId, stamp: Stamp, n: usize) -> impl Iterator<Item = Pos> {
    (0..n as u64).map(move |i| {
        let mut atoms = SmallVec::new();
        atoms.push(Atom(MID.wrapping_add(i.wrapping_mul(STEP)), region, stamp));
        Pos(atoms)
    })
}

/// One element operation of a list write, addressed by positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SeqOp {
    /// These elements, at these positions.
    Insert(Vec<(Pos, ByteBuf)>),
    /// The elements at these positions go.
    Remove(Vec<Pos>),
    /// The element at this position now holds this value (LSET).
    Set(Pos, ByteBuf),
}

/// A list by position: what replaying a list's batches builds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sequence {
    elems: BTreeMap<Pos, Blob>,
}

impl Sequence {
    /// A list whose elements sit at `positions` (paired in order).
    pub fn from_parts(
        positions: impl IntoIterator<Item = Pos>,
        values: impl IntoIterator<Item = Blob>,
    ) -> Sequence {
        Sequence {
            elems: positions.into_iter().zip(values).collect(),
        }
    }

    /// Applies one operation. Positions not present are skipped: a removal
    /// or LSET whose element a concurrent removal took already.
    pub fn apply(&mut self, op: &SeqOp) {
        match op {
            SeqOp::Insert(items) => {
                for (pos, value) in items {
                    self.elems.entry(pos.clone()).or_insert_with(|| blob(value));
                }
            }
            SeqOp::Remove(positions) => {
                for pos in positions {
                    self.elems.remove(pos);
                }
            }
            SeqOp::Set(pos, value) => {
                if let Some(v) = self.elems.get_mut(pos) {
                    *v = blob(value);
                }
            }
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    /// True without elements.
    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    /// Elements, head first.
    pub fn values(&self) -> impl Iterator<Item = &Blob> {
        self.elems.values()
    }

    /// Positions and elements, head first.
    pub fn into_parts(self) -> (VecDeque<Pos>, Vec<Blob>) {
        let mut positions = VecDeque::with_capacity(self.elems.len());
        let mut values = Vec::with_capacity(self.elems.len());
        for (p, v) in self.elems {
            positions.push_back(p);
            values.push(v);
        }
        (positions, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::Crdt;
    use crate::crdt::dot::{Dot, VersionVector};
    use crate::crdt::testkit::{self, Env, World};
    use proptest::prelude::*;

    const A: RegionId = RegionId(1);
    const B: RegionId = RegionId(2);

    fn pos(atoms: &[(u64, u16, u64)]) -> Pos {
        Pos(atoms
            .iter()
            .map(|&(d, r, s)| Atom(d, RegionId(r), Stamp(s)))
            .collect())
    }

    /// What the replica holds for one list, reduced to this module's part:
    /// an optional collapsed base with explicit positions, and the batches
    /// of element operations written since, by `(stamp, region)`. The join
    /// keeps the newer base and every batch it does not contain, which is
    /// how `engine::replica` treats a collapsed list and its deltas.
    /// A batch's place in replay order.
    type Key = (Stamp, RegionId);

    #[derive(Clone, Debug, Default, PartialEq)]
    struct Log {
        base: Option<(Key, Vec<(Pos, Blob)>)>,
        batches: BTreeMap<Key, (Dot, Vec<SeqOp>)>,
    }

    impl Crdt for Log {
        fn merge(&mut self, other: Log) {
            if other.base.as_ref().map(|b| b.0) > self.base.as_ref().map(|b| b.0) {
                self.base = other.base;
            }
            self.batches.extend(other.batches);
            if let Some((k, _)) = &self.base {
                let k = *k;
                self.batches.retain(|b, _| *b > k);
            }
        }
    }

    impl Log {
        fn view(&self) -> Sequence {
            let mut s = match &self.base {
                Some((_, items)) => Sequence::from_parts(
                    items.iter().map(|(p, _)| p.clone()),
                    items.iter().map(|(_, v)| v.clone()),
                ),
                None => Sequence::default(),
            };
            for (_, ops) in self.batches.values() {
                for op in ops {
                    s.apply(op);
                }
            }
            s
        }

        /// Collapses every batch into the base once all are stable.
        fn collect(&mut self, stable: &VersionVector) {
            let Some(newest) = self.batches.keys().next_back().copied() else {
                return;
            };
            if self.batches.values().all(|(d, _)| stable.contains(*d)) {
                let (positions, values) = self.view().into_parts();
                self.base = Some((newest, positions.into_iter().zip(values).collect()));
                self.batches.clear();
            }
        }
    }

    fn read(l: &Log) -> Vec<Blob> {
        l.view().values().cloned().collect()
    }

    #[derive(Clone, Debug)]
    enum Op {
        PushRight(u8, bool),
        PushLeft(u8, bool),
        Insert(usize, u8),
        Set(usize, u8),
        Remove(usize),
        PopLeft,
        PopRight,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..8, any::<bool>()).prop_map(|(v, two)| Op::PushRight(v, two)),
            2 => (0u8..8, any::<bool>()).prop_map(|(v, two)| Op::PushLeft(v, two)),
            2 => (any::<usize>(), 0u8..8).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (any::<usize>(), 0u8..8).prop_map(|(i, v)| Op::Set(i, v)),
            1 => any::<usize>().prop_map(Op::Remove),
            1 => Just(Op::PopLeft),
            1 => Just(Op::PopRight),
        ]
    }

    fn value(v: u8) -> ByteBuf {
        ByteBuf::from(vec![b'a' + v])
    }

    /// A local list edit as the engine makes one: positions from the
    /// current view, the batch tagged with the write's stamp.
    fn apply(l: &mut Log, env: &Env, op: &Op) -> Option<Log> {
        let (p, _) = l.view().into_parts();
        let (me, st) = (env.dot.region, env.stamp);
        let at = |i: usize| (!p.is_empty()).then(|| i % p.len());
        let ops = match op {
            Op::PushRight(v, two) => {
                let run = Pos::run(p.back(), None, 1 + usize::from(*two), me, st);
                vec![SeqOp::Insert(
                    run.into_iter().map(|q| (q, value(*v))).collect(),
                )]
            }
            Op::PushLeft(v, two) => {
                let run = Pos::run(None, p.front(), 1 + usize::from(*two), me, st);
                vec![SeqOp::Insert(
                    run.into_iter().map(|q| (q, value(*v))).collect(),
                )]
            }
            Op::Insert(i, v) => {
                let i = i % (p.len() + 1);
                let lo = i.checked_sub(1).and_then(|j| p.get(j));
                vec![SeqOp::Insert(vec![(
                    Pos::between(lo, p.get(i), me, st),
                    value(*v),
                )])]
            }
            Op::Set(i, v) => vec![SeqOp::Set(p[at(*i)?].clone(), value(*v))],
            Op::Remove(i) => vec![SeqOp::Remove(vec![p[at(*i)?].clone()])],
            Op::PopLeft => vec![SeqOp::Remove(vec![p.front()?.clone()])],
            Op::PopRight => vec![SeqOp::Remove(vec![p.back()?.clone()])],
        };
        let mut delta = Log::default();
        delta.batches.insert((st, me), (env.dot, ops));
        l.merge(delta.clone());
        Some(delta)
    }

    #[test]
    fn concurrent_inserts_at_one_place_order_the_same_everywhere() {
        let (m, n) = (pos(&[(MID, 1, 1)]), pos(&[(MID + STEP, 1, 1)]));
        let a = Pos::between(Some(&m), Some(&n), A, Stamp(5));
        let b = Pos::between(Some(&m), Some(&n), B, Stamp(3));
        // Same digit, so the region decides; both lie between m and n.
        assert!(m < a && a < b && b < n, "{a:?} {b:?}");
        let base = Sequence::from_parts([m.clone(), n.clone()], [blob(b"m"), blob(b"n")]);
        let ins = |p: &Pos, v: &[u8]| SeqOp::Insert(vec![(p.clone(), ByteBuf::from(v.to_vec()))]);
        let (ia, ib) = (ins(&a, b"a"), ins(&b, b"b"));
        let mut x = base.clone();
        x.apply(&ia);
        x.apply(&ib);
        let mut y = base;
        y.apply(&ib);
        y.apply(&ia);
        assert_eq!(x, y);
        let got: Vec<&[u8]> = x.values().map(|v| v.as_slice()).collect();
        assert_eq!(got, [&b"m"[..], b"a", b"b", b"n"]);
    }

    #[test]
    fn concurrent_runs_do_not_interleave() {
        let last = pos(&[(MID, 1, 1)]);
        let a = Pos::run(Some(&last), None, 3, A, Stamp(9));
        let b = Pos::run(Some(&last), None, 3, B, Stamp(2));
        let mut all: Vec<(Pos, char)> = a.into_iter().map(|p| (p, 'a')).collect();
        all.extend(b.into_iter().map(|p| (p, 'b')));
        all.sort();
        let order: String = all.iter().map(|(_, c)| *c).collect();
        assert_eq!(order, "aaabbb");
    }

    #[test]
    fn a_queue_keeps_one_atom_positions() {
        let mut q: VecDeque<Pos> = VecDeque::new();
        for i in 1..=10_000u64 {
            let p = Pos::between(q.back(), None, A, Stamp(i));
            q.push_back(p);
            if i % 3 != 0 {
                q.pop_front();
            }
        }
        assert!(q.iter().all(|p| p.depth() == 1));
        assert!(q.iter().zip(q.iter().skip(1)).all(|(x, y)| x < y));
    }

    #[test]
    fn inserting_before_one_element_again_and_again_stays_ordered() {
        // Each insert lands right before the same element: digits halve
        // until there is no room, then positions go one atom deeper.
        let mut list: Vec<Pos> = vec![Pos::between(None, None, A, Stamp(1))];
        for i in 0..300u64 {
            let at = list.len() - 1;
            let lo = at.checked_sub(1).map(|j| &list[j]);
            let p = Pos::between(lo, Some(&list[at]), B, Stamp(i + 2));
            list.insert(at, p);
        }
        assert!(list.windows(2).all(|w| w[0] < w[1]));
        // The gap a push leaves halves ~24 times, then one level deeper
        // has room for 2^39 more.
        assert_eq!(list.iter().map(Pos::depth).max(), Some(2));
    }

    #[test]
    fn implicit_positions_continue_the_push_grid() {
        let base: Vec<Pos> = implicit(A, Stamp(7), 3).collect();
        assert!(base.windows(2).all(|w| w[0] < w[1]));
        let next = Pos::between(base.last(), None, B, Stamp(8));
        assert!(base.iter().all(|p| *p < next));
        let first = Pos::between(None, base.first(), B, Stamp(8));
        assert!(base.iter().all(|p| first < *p));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `between` always lands strictly between its neighbours, whatever
        /// the neighbours look like (deep, adjacent, at the digit limits;
        /// stamps are never zero, as no clock hands out zero).
        #[test]
        fn between_is_strictly_between(
            a in prop::collection::vec((prop_oneof![Just(0u64), Just(1), Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()], 0..3u16, 1..4u64), 1..4),
            b in prop::collection::vec((prop_oneof![Just(0u64), Just(1), Just(u64::MAX), any::<u64>()], 0..3u16, 1..4u64), 1..4),
            stamp in 1..10u64,
        ) {
            let (x, y) = (pos(&a), pos(&b));
            prop_assume!(x != y);
            let (lo, hi) = if x < y { (x, y) } else { (y, x) };
            let p = Pos::between(Some(&lo), Some(&hi), RegionId(3), Stamp(stamp));
            prop_assert!(lo < p && p < hi, "{:?} < {:?} < {:?}", lo, p, hi);
            let left = Pos::between(None, Some(&lo), RegionId(3), Stamp(stamp));
            prop_assert!(left < lo);
            let right = Pos::between(Some(&hi), None, RegionId(3), Stamp(stamp));
            prop_assert!(hi < right);
        }

        #[test]
        fn sequence_converges(steps in testkit::steps(op()), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply)?;
        }

        #[test]
        fn sequence_gc_keeps_reads(steps in testkit::gc_steps(op())) {
            testkit::check_gc(&steps, apply, |l: &mut Log, st| l.collect(st), read)?;
        }

        /// Nothing is lost and removals are exact: once every batch is
        /// everywhere, the list holds exactly the elements inserted and not
        /// named by any removal, and every region lists them in one order.
        #[test]
        fn sequence_keeps_every_insert_no_removal_named(steps in testkit::steps(op())) {
            let mut w: World<Log> = World::new();
            for s in &steps {
                w.step(s, &apply, &|_, _| {});
            }
            w.flush();
            let mut inserted = std::collections::BTreeSet::new();
            let mut removed = std::collections::BTreeSet::new();
            for d in &w.deltas {
                for (_, ops) in d.batches.values() {
                    for op in ops {
                        match op {
                            SeqOp::Insert(items) => inserted.extend(items.iter().map(|(p, _)| p.clone())),
                            SeqOp::Remove(ps) => removed.extend(ps.iter().cloned()),
                            SeqOp::Set(..) => {}
                        }
                    }
                }
            }
            let expected: Vec<Pos> = inserted.difference(&removed).cloned().collect();
            for r in &w.regions {
                let (positions, _) = r.view().into_parts();
                prop_assert_eq!(Vec::from(positions), expected.clone());
            }
        }
    }
}

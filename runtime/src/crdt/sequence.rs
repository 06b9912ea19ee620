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

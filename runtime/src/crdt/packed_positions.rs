//! `PackedPositions`: the element positions of a list at rest, stored as
//! runs instead of one [`Pos`] per element.
//!
//! A replicated list keeps a position for every element for as long as it
//! lives (a peer's later edit names elements by position), and one `Pos` is
//! 32 bytes, 80 when two atoms deep: three to four times what the element
//! itself costs in the keyspace. But the positions a list gets are far from
//! random, because pushes leave [`STEP`] between neighbours:
//!
//! - a multi-element push (and a list written whole, whose positions are
//!   implicit) makes *steps*: one prefix, then one atom per element whose
//!   digits go up by `STEP`, all of one writer `(region, stamp)`;
//! - pushes one at a time make one-atom positions whose digits go up by
//!   `STEP` too, each of its own writer: *stamped* steps.
//!
//! So each run stores its first digit and length (and, for stamped steps,
//! each element's writer: 16 bytes); whatever fits neither shape (an
//! LINSERT's midpoint, the gap an LREM left next to a lone survivor) is kept
//! as it is, so the worst case costs what a `Vec<Pos>` does.
//!
//! The one invariant: [`PackedPositions::iter`] yields exactly the positions
//! it was built from, in the same order. It knows nothing about ordering or
//! about lists; the replica decides when positions are packed (a list's
//! base version) and unpacks them for edits.

use super::sequence::{Atom, Pos, STEP};
use crate::clock::{RegionId, Stamp};

/// A list's positions, head first, packed into runs (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct PackedPositions {
    runs: Vec<Run>,
    len: usize,
}

#[derive(Debug, Clone)]
enum Run {
    /// `len` positions `prefix ++ [Atom(first + i·STEP, region, stamp)]`.
    Steps {
        prefix: Box<[Atom]>,
        first: u64,
        region: RegionId,
        stamp: Stamp,
        len: u32,
    },
    /// One-atom positions `Atom(first + i·STEP, writers[i])`.
    Stamped {
        first: u64,
        writers: Vec<(RegionId, Stamp)>,
    },
    /// Positions that fit no run, as they are.
    Loose(Vec<Pos>),
}

impl Run {
    fn len(&self) -> usize {
        match self {
            Run::Steps { len, .. } => *len as usize,
            Run::Stamped { writers, .. } => writers.len(),
            Run::Loose(ps) => ps.len(),
        }
    }

    /// The `i`th position (`i < len`).
    fn get(&self, i: usize) -> Pos {
        match self {
            Run::Steps {
                prefix,
                first,
                region,
                stamp,
                ..
            } => {
                let mut atoms: smallvec::SmallVec<[Atom; 1]> = prefix.iter().copied().collect();
                atoms.push(Atom(step(*first, i), *region, *stamp));
                Pos(atoms)
            }
            Run::Stamped { first, writers } => {
                let (region, stamp) = writers[i];
                Pos(smallvec::smallvec![Atom(step(*first, i), region, stamp)])
            }
            Run::Loose(ps) => ps[i].clone(),
        }
    }

    /// A run of one: the start of steps.
    fn start(p: Pos) -> Run {
        match p.0.split_last() {
            Some((last, prefix)) => Run::Steps {
                prefix: prefix.into(),
                first: last.0,
                region: last.1,
                stamp: last.2,
                len: 1,
            },
            None => Run::Loose(vec![p]),
        }
    }

    /// Takes `p` if it continues this run.
    fn extend(&mut self, p: &Pos) -> bool {
        let Some((last, prefix)) = p.0.split_last() else {
            return false;
        };
        match self {
            Run::Steps {
                prefix: run_prefix,
                first,
                region,
                stamp,
                len,
            } => {
                let next = step(*first, *len as usize);
                if last.0 != next || **run_prefix != *prefix {
                    return false;
                }
                if (last.1, last.2) == (*region, *stamp) && *len < u32::MAX {
                    *len += 1;
                    return true;
                }
                // One-atom steps by two writers: stamped from here on.
                if *len == 1 && prefix.is_empty() {
                    *self = Run::Stamped {
                        first: *first,
                        writers: vec![(*region, *stamp), (last.1, last.2)],
                    };
                    return true;
                }
                false
            }
            Run::Stamped { first, writers } => {
                if prefix.is_empty() && last.0 == step(*first, writers.len()) {
                    writers.push((last.1, last.2));
                    return true;
                }
                false
            }
            Run::Loose(_) => false,
        }
    }

    /// The position of a run of one.
    fn lone(&self) -> Option<Pos> {
        match self {
            Run::Steps { len: 1, .. } => Some(self.get(0)),
            _ => None,
        }
    }

    fn shrink(&mut self) {
        match self {
            Run::Stamped { writers, .. } => writers.shrink_to_fit(),
            Run::Loose(ps) => ps.shrink_to_fit(),
            Run::Steps { .. } => {}
        }
    }
}

/// The digit `i` steps after `first` (wrapping, as the positions it stands
/// for were made).
fn step(first: u64, i: usize) -> u64 {
    first.wrapping_add((i as u64).wrapping_mul(STEP))
}

impl PackedPositions {
    /// How many positions it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many runs it keeps: a measure of how well the positions packed.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// The positions, head first: exactly those it was built from.
    pub fn iter(&self) -> impl Iterator<Item = Pos> + '_ {
        self.runs
            .iter()
            .flat_map(|run| (0..run.len()).map(move |i| run.get(i)))
    }

    /// Appends `p` after every position it holds.
    pub fn push(&mut self, p: Pos) {
        self.len += 1;
        if let Some(run) = self.runs.last_mut()
            && run.extend(&p)
        {
            return;
        }
        self.close_lone_run();
        self.runs.push(Run::start(p));
    }

    /// A run of one that nothing extended costs more than the position it
    /// holds: it joins loose positions before it, or pairs up with a lone
    /// run before it as a new loose run.
    fn close_lone_run(&mut self) {
        let n = self.runs.len();
        let Some(p) = self.runs.last().and_then(Run::lone) else {
            return;
        };
        match self.runs.get_mut(n.wrapping_sub(2)) {
            Some(Run::Loose(ps)) => {
                ps.push(p);
                self.runs.pop();
            }
            Some(before) => {
                if let Some(q) = before.lone() {
                    self.runs.truncate(n - 2);
                    self.runs.push(Run::Loose(vec![q, p]));
                }
            }
            None => {}
        }
    }
}

impl FromIterator<Pos> for PackedPositions {
    fn from_iter<I: IntoIterator<Item = Pos>>(iter: I) -> PackedPositions {
        let mut packed = PackedPositions::default();
        for p in iter {
            packed.push(p);
        }
        packed.close_lone_run();
        packed.runs.iter_mut().for_each(Run::shrink);
        packed.runs.shrink_to_fit();
        packed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::sequence::implicit;
    use proptest::prelude::*;

    const A: RegionId = RegionId(1);
    const B: RegionId = RegionId(2);

    fn roundtrip(ps: &[Pos]) -> PackedPositions {
        let packed: PackedPositions = ps.iter().cloned().collect();
        assert_eq!(packed.len(), ps.len());
        assert_eq!(packed.iter().collect::<Vec<_>>(), ps);
        packed
    }

    #[test]
    fn a_list_written_whole_is_one_run() {
        let ps: Vec<Pos> = implicit(A, Stamp(7), 1000).collect();
        let packed = roundtrip(&ps);
        assert_eq!(packed.runs.len(), 1);
    }

    #[test]
    fn multi_element_pushes_are_a_run_each() {
        // Three RPUSHes of 100 elements each, by two regions.
        let mut ps = Vec::new();
        for (k, region) in [A, B, A].into_iter().enumerate() {
            let lo = ps.last().cloned();
            ps.extend(Pos::run(
                lo.as_ref(),
                None,
                100,
                region,
                Stamp(10 + k as u64),
            ));
        }
        assert!(ps.iter().all(|p| p.depth() == 2));
        let packed = roundtrip(&ps);
        assert_eq!(packed.runs.len(), 3);
    }

    #[test]
    fn pushes_one_at_a_time_by_any_region_are_one_stamped_run() {
        let mut ps: Vec<Pos> = Vec::new();
        for i in 0..500u64 {
            let region = if i % 3 == 0 { B } else { A };
            ps.push(Pos::between(ps.last(), None, region, Stamp(100 + i)));
        }
        let packed = roundtrip(&ps);
        assert_eq!(packed.runs.len(), 1);
        assert!(matches!(packed.runs[0], Run::Stamped { .. }));
    }

    #[test]
    fn irregular_positions_are_kept_loose_not_as_runs_of_one() {
        // Each LINSERT-style midpoint breaks any step.
        let mut ps = vec![Pos::between(None, None, A, Stamp(1))];
        for i in 0..50u64 {
            let tail = ps.last().cloned();
            ps.push(Pos::between(tail.as_ref(), None, A, Stamp(2 + i)));
            let last = ps.len() - 1;
            let mid = Pos::between(Some(&ps[last - 1]), Some(&ps[last]), B, Stamp(1000 + i));
            ps.insert(last, mid);
        }
        let packed = roundtrip(&ps);
        assert!(
            packed.runs.len() < ps.len() / 2,
            "{} runs for {} positions",
            packed.runs.len(),
            ps.len()
        );
    }

    fn any_pos() -> impl Strategy<Value = Pos> {
        // Few distinct digits and writers, so runs do form.
        let atom = (0u64..6, 1u16..3, 1u64..4).prop_map(|(d, r, s)| {
            Atom(MID_FOR_TESTS.wrapping_add(d * STEP), RegionId(r), Stamp(s))
        });
        proptest::collection::vec(atom, 1..3).prop_map(|atoms| Pos(atoms.into()))
    }

    const MID_FOR_TESTS: u64 = u64::MAX - 2 * STEP;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Packing loses nothing and reorders nothing, whatever the
        /// positions (sorted, as a list holds them, or not at all).
        #[test]
        fn packing_yields_what_it_was_given(mut ps in proptest::collection::vec(any_pos(), 0..60), sorted in any::<bool>()) {
            if sorted {
                ps.sort();
            }
            let packed: PackedPositions = ps.iter().cloned().collect();
            prop_assert_eq!(packed.len(), ps.len());
            prop_assert_eq!(packed.iter().collect::<Vec<_>>(), ps);
        }
    }
}

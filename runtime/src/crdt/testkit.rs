//! Test harness shared by every CRDT test: three simulated regions that apply
//! random operations locally and exchange the resulting deltas in random
//! order, with duplicates, and the checks every type must pass.
//!
//! What is checked ([`check_convergence`]):
//! - the join laws (commutative, associative, idempotent, bottom is identity) on
//!   the regions' partly synchronised full states;
//! - after every pending delta is delivered, all regions hold `==` states;
//! - that state equals the join of the partial full states, equals replaying
//!   every delta (shuffled, some twice) into an empty state, and equals each
//!   partial state joined with all deltas pre-joined into one interval.
//!
//! [`check_gc`] adds quiescent points where each region garbage-collects with
//! the then causally stable vector, and compares with a run that never collects.

use std::collections::BTreeSet;
use std::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::Crdt;
use super::dot::{Dot, DotGen, VersionVector};
use crate::clock::{RegionId, Stamp};

/// What an operation is given: a fresh dot of its region and an HLC stamp that
/// is greater than every stamp its region has issued or received.
pub(crate) struct Env {
    pub dot: Dot,
    pub stamp: Stamp,
}

/// One step of a simulated run.
#[derive(Clone, Debug)]
pub(crate) enum Step<Op> {
    /// `region` performs `op`; its clock advances by `tick`; its dot generator
    /// first skips `skip` seqs (writes to other keys leave gaps).
    Op {
        region: usize,
        op: Op,
        tick: u64,
        skip: u64,
    },
    /// `region` receives one pending delta (chosen by `pick`); with `keep` the
    /// delta stays pending and will be delivered again (a duplicate).
    Deliver {
        region: usize,
        pick: usize,
        keep: bool,
    },
    /// Every pending delta is delivered, then every region collects garbage
    /// with the vector of all dots issued so far (causally stable now).
    Quiesce,
}

fn step<Op: Clone + Debug + 'static>(
    op: impl Strategy<Value = Op> + 'static,
    quiesce: bool,
) -> BoxedStrategy<Step<Op>> {
    let o = (0..3usize, op, 1..3u64, 0..2u64).prop_map(|(region, op, tick, skip)| Step::Op {
        region,
        op,
        tick,
        skip,
    });
    let d = (0..3usize, any::<usize>(), any::<bool>())
        .prop_map(|(region, pick, keep)| Step::Deliver { region, pick, keep });
    if quiesce {
        prop_oneof![5 => o, 4 => d, 1 => Just(Step::Quiesce)].boxed()
    } else {
        prop_oneof![5 => o, 4 => d].boxed()
    }
}

/// Random runs of up to 60 steps.
pub(crate) fn steps<Op: Clone + Debug + 'static>(
    op: impl Strategy<Value = Op> + 'static,
) -> impl Strategy<Value = Vec<Step<Op>>> {
    prop::collection::vec(step(op, false), 0..60)
}

/// Random runs with quiescent garbage-collection points.
pub(crate) fn gc_steps<Op: Clone + Debug + 'static>(
    op: impl Strategy<Value = Op> + 'static,
) -> impl Strategy<Value = Vec<Step<Op>>> {
    prop::collection::vec(step(op, true), 0..80)
}

/// Three regions (ids 1, 2, 3), their pending deltas and every delta made.
pub(crate) struct World<T> {
    pub regions: Vec<T>,
    gens: Vec<DotGen>,
    clocks: Vec<u64>,
    /// Per region: deltas not yet delivered, with the sender's clock and the
    /// delta's index in `deltas`.
    inbox: Vec<Vec<(T, u64, usize)>>,
    pub deltas: Vec<T>,
    /// Per region: indices of the deltas merged so far (own ones included).
    seen: Vec<BTreeSet<usize>>,
    /// Per delta: the region that made it and the deltas merged there before
    /// (what the operation observed) — for semantic oracles.
    pub history: Vec<(usize, BTreeSet<usize>)>,
}

impl<T: Crdt + Clone + Default> World<T> {
    pub fn new() -> Self {
        World {
            regions: vec![T::default(); 3],
            gens: (1..=3).map(|r| DotGen::new(RegionId(r))).collect(),
            clocks: vec![0; 3],
            inbox: vec![Vec::new(); 3],
            deltas: Vec::new(),
            seen: vec![BTreeSet::new(); 3],
            history: Vec::new(),
        }
    }

    /// Performs an operation in region `r` directly (scenario tests).
    pub fn op<R>(&mut self, r: usize, f: impl FnOnce(&mut T, &Env) -> (T, R)) -> R {
        self.op_skip(r, 0, 1, f)
    }

    fn op_skip<R>(
        &mut self,
        r: usize,
        skip: u64,
        tick: u64,
        f: impl FnOnce(&mut T, &Env) -> (T, R),
    ) -> R {
        self.gens[r].skip(skip);
        self.clocks[r] += tick;
        let env = Env {
            dot: self.gens[r].next(),
            stamp: Stamp(self.clocks[r]),
        };
        let (delta, out) = f(&mut self.regions[r], &env);
        let index = self.deltas.len();
        for (to, inbox) in self.inbox.iter_mut().enumerate() {
            if to != r {
                inbox.push((delta.clone(), self.clocks[r], index));
            }
        }
        self.history.push((r, self.seen[r].clone()));
        self.seen[r].insert(index);
        self.deltas.push(delta);
        out
    }

    fn deliver(&mut self, r: usize, i: usize, keep: bool) {
        let (delta, clock, index) = if keep {
            self.inbox[r][i].clone()
        } else {
            self.inbox[r].remove(i)
        };
        self.clocks[r] = self.clocks[r].max(clock);
        self.seen[r].insert(index);
        self.regions[r].merge(delta);
    }

    /// Runs one step; `apply` makes an operation's delta (None: rejected).
    pub fn step<Op>(
        &mut self,
        s: &Step<Op>,
        apply: &impl Fn(&mut T, &Env, &Op) -> Option<T>,
        gc: &impl Fn(&mut T, &VersionVector),
    ) {
        match s {
            Step::Op {
                region,
                op,
                tick,
                skip,
            } => {
                // A rejected op (None) still used a dot, like a failed write,
                // and broadcasts the bottom state: delivering it is a no-op.
                self.op_skip(*region, *skip, *tick, |st, env| {
                    (apply(st, env, op).unwrap_or_default(), ())
                });
            }
            Step::Deliver { region, pick, keep } => {
                if !self.inbox[*region].is_empty() {
                    let i = pick % self.inbox[*region].len();
                    self.deliver(*region, i, *keep);
                }
            }
            Step::Quiesce => {
                self.flush();
                let stable = self.issued();
                for st in &mut self.regions {
                    gc(st, &stable);
                }
            }
        }
    }

    /// Delivers every pending delta everywhere.
    pub fn flush(&mut self) {
        for r in 0..self.regions.len() {
            while !self.inbox[r].is_empty() {
                self.deliver(r, 0, false);
            }
        }
    }

    /// Every dot issued so far (the stable vector once all is delivered).
    pub fn issued(&self) -> VersionVector {
        self.gens.iter().map(|g| (g.region(), g.last())).collect()
    }
}

fn join<T: Crdt + Clone>(a: &T, b: &T) -> T {
    let mut x = a.clone();
    x.merge(b.clone());
    x
}

/// The join laws on three states.
pub(crate) fn laws<T: Crdt + Clone + Default + PartialEq + Debug>(
    a: &T,
    b: &T,
    c: &T,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(join(a, b), join(b, a), "commutative");
    prop_assert_eq!(join(&join(a, b), c), join(a, &join(b, c)), "associative");
    prop_assert_eq!(&join(a, a), a, "idempotent");
    prop_assert_eq!(&join(a, &T::default()), a, "bottom is identity");
    prop_assert_eq!(&join(&T::default(), a), a, "bottom is identity");
    Ok(())
}

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// `items` with about a third of them repeated, in a random order.
pub(crate) fn shuffled_with_dups<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut next = rng(seed);
    let mut v: Vec<T> = items.to_vec();
    for it in items {
        if next().is_multiple_of(3) {
            v.push(it.clone());
        }
    }
    for i in (1..v.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

/// The convergence checks of the module doc, for one random run.
pub(crate) fn check_convergence<T, Op>(
    steps: &[Step<Op>],
    seed: u64,
    apply: impl Fn(&mut T, &Env, &Op) -> Option<T>,
) -> Result<(), TestCaseError>
where
    T: Crdt + Clone + Default + PartialEq + Debug,
{
    let mut w = World::new();
    for s in steps {
        w.step(s, &apply, &|_, _| {});
    }
    let partial = w.regions.clone();
    laws(&partial[0], &partial[1], &partial[2])?;
    w.flush();
    prop_assert_eq!(&w.regions[0], &w.regions[1], "converged");
    prop_assert_eq!(&w.regions[1], &w.regions[2], "converged");
    let joined = join(&join(&partial[0], &partial[1]), &partial[2]);
    prop_assert_eq!(&joined, &w.regions[0], "join of full states");
    let mut replay = T::default();
    for d in shuffled_with_dups(&w.deltas, seed) {
        replay.merge(d);
    }
    prop_assert_eq!(&replay, &w.regions[0], "deltas replayed out of order");
    // Deltas joined into one interval first (as a batch would be), then
    // applied to each partial state.
    let mut interval = T::default();
    let mut first = true;
    for d in shuffled_with_dups(&w.deltas, seed ^ 0x5555) {
        if first {
            interval = d;
            first = false;
        } else {
            interval.merge(d);
        }
    }
    for p in &partial {
        prop_assert_eq!(&join(p, &interval), &w.regions[0], "delta interval");
    }
    Ok(())
}

/// Garbage collection at quiescent points must not change what is read, and
/// after a final collection everywhere the collected and uncollected runs hold
/// equal states.
pub(crate) fn check_gc<T, Op: Debug, R>(
    steps: &[Step<Op>],
    apply: impl Fn(&mut T, &Env, &Op) -> Option<T>,
    gc: impl Fn(&mut T, &VersionVector),
    read: impl Fn(&T) -> R,
) -> Result<(), TestCaseError>
where
    T: Crdt + Clone + Default + PartialEq + Debug,
    R: PartialEq + Debug,
{
    let mut collected = World::new();
    let mut reference = World::new();
    for s in steps {
        collected.step(s, &apply, &gc);
        reference.step(s, &apply, &|_, _| {});
        for r in 0..3 {
            prop_assert_eq!(
                read(&collected.regions[r]),
                read(&reference.regions[r]),
                "read after {:?}",
                s
            );
        }
    }
    for w in [&mut collected, &mut reference] {
        w.flush();
        let stable = w.issued();
        for st in &mut w.regions {
            gc(st, &stable);
        }
    }
    prop_assert_eq!(&collected.regions[0], &collected.regions[1]);
    prop_assert_eq!(&collected.regions[1], &collected.regions[2]);
    prop_assert_eq!(&collected.regions[0], &reference.regions[0]);
    Ok(())
}

//! The expiry register of a key: when the key stops existing.
//!
//! A multi-value register of absolute deadlines (Unix milliseconds; 0 =
//! persistent). A write (EXPIRE/PEXPIREAT/PERSIST/SET's implicit persist)
//! replaces every deadline it has seen, so a causally later write always wins —
//! an EXPIRE made after seeing a PERSIST expires the key. Concurrent deadlines
//! resolve the same way everywhere: PERSIST (0) beats any EXPIRE, otherwise the
//! later deadline (the longer TTL) wins, as in Redis Enterprise.
//!
//! Deadlines are absolute, so every region hides the key at the same instant
//! without waiting for a replicated delete.
//!
//! Invariant: at most one surviving deadline per concurrent write, sorted by dot
//! (a [`DotFun`]); a never-written register reads as persistent.

use serde::{Deserialize, Serialize};

use super::Crdt;
use super::dot::{CausalContext, Dot, VersionVector};
use super::store::{Causal, DotFun, DotStore};

/// A key's TTL deadline; see the module doc.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Expiry {
    inner: Causal<DotFun<u64>>,
}

impl Expiry {
    /// A persistent, never-written register.
    pub fn new() -> Expiry {
        Expiry::default()
    }

    /// The resolved deadline of a deadline store (0 = persistent).
    pub fn resolve(store: &DotFun<u64>) -> u64 {
        let mut deadline = 0;
        for (_, &d) in store.iter() {
            if d == 0 {
                return 0; // PERSIST beats any concurrent EXPIRE
            }
            deadline = deadline.max(d);
        }
        deadline
    }

    /// The delta of writing `deadline_ms` (0 = PERSIST) as the write `dot` over
    /// the deadlines in `store` — for a key that keeps its expiry store under a
    /// context shared with its value.
    pub fn write_delta(store: &DotFun<u64>, dot: Dot, deadline_ms: u64) -> Causal<DotFun<u64>> {
        let ctx = CausalContext::from_dots(store.dots().into_iter().chain([dot]));
        Causal::new(DotFun::single(dot, deadline_ms), ctx)
    }

    /// The deadline in Unix milliseconds, 0 when persistent.
    pub fn deadline(&self) -> u64 {
        Self::resolve(&self.inner.store)
    }

    /// Whether the key is expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        let d = self.deadline();
        d != 0 && d <= now_ms
    }

    /// Sets the deadline (EXPIRE family, absolute) as the write `dot`; 0 means
    /// PERSIST. Returns the delta.
    pub fn set(&mut self, dot: Dot, deadline_ms: u64) -> Expiry {
        let delta = Expiry {
            inner: Self::write_delta(&self.inner.store, dot, deadline_ms),
        };
        self.merge(delta.clone());
        delta
    }

    /// PERSIST as the write `dot`.
    pub fn persist(&mut self, dot: Dot) -> Expiry {
        self.set(dot, 0)
    }

    /// The surviving concurrent deadlines.
    pub fn deadlines(&self) -> impl Iterator<Item = u64> + '_ {
        self.inner.store.iter().map(|(_, &d)| d)
    }

    /// Context compaction (see [`CausalContext::compact`]); the register keeps
    /// no other metadata.
    pub fn compact(&mut self, seen: &VersionVector) {
        self.inner.ctx.compact(seen);
    }
}

impl Crdt for Expiry {
    fn merge(&mut self, other: Self) {
        self.inner.merge(other.inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::testkit::{self, Env, World};
    use proptest::prelude::*;

    const S10: u64 = 1_000_010_000;
    const S20: u64 = 1_000_020_000;

    fn deadlines(w: &World<Expiry>) -> Vec<u64> {
        w.regions.iter().map(|e| e.deadline()).collect()
    }

    #[test]
    fn expiry_concurrent_expires_keep_the_longer_ttl() {
        let mut w: World<Expiry> = World::new();
        w.op(0, |x, e| (x.set(e.dot, S10), ()));
        w.op(1, |x, e| (x.set(e.dot, S20), ()));
        w.flush();
        assert_eq!(deadlines(&w), vec![S20; 3]);
    }

    #[test]
    fn expiry_persist_beats_concurrent_expire() {
        let mut w: World<Expiry> = World::new();
        w.op(0, |x, e| (x.set(e.dot, S10), ()));
        w.flush();
        w.op(0, |x, e| (x.persist(e.dot), ()));
        w.op(1, |x, e| (x.set(e.dot, S20), ()));
        w.flush();
        assert_eq!(deadlines(&w), vec![0; 3]);
        assert!(!w.regions[2].is_expired(u64::MAX));
    }

    #[test]
    fn expiry_expire_after_persist_expires() {
        let mut w: World<Expiry> = World::new();
        w.op(0, |x, e| (x.persist(e.dot), ()));
        w.flush();
        w.op(1, |x, e| (x.set(e.dot, S10), ())); // has seen the PERSIST
        w.flush();
        assert_eq!(deadlines(&w), vec![S10; 3]);
        assert!(w.regions[0].is_expired(S10));
        assert!(!w.regions[0].is_expired(S10 - 1));
    }

    #[test]
    fn expiry_later_write_shortens_the_ttl() {
        let mut w: World<Expiry> = World::new();
        w.op(0, |x, e| (x.set(e.dot, S20), ()));
        w.flush();
        w.op(2, |x, e| (x.set(e.dot, S10), ())); // causally later: replaces
        w.flush();
        assert_eq!(deadlines(&w), vec![S10; 3]);
        assert_eq!(w.regions[1].deadlines().count(), 1);
    }

    fn apply(x: &mut Expiry, env: &Env, d: &u64) -> Option<Expiry> {
        Some(x.set(env.dot, *d))
    }

    proptest! {
        #[test]
        fn expiry_converges(
            steps in testkit::steps(prop_oneof![Just(0u64), Just(S10), Just(S20), 1u64..100]),
            seed in any::<u64>(),
        ) {
            testkit::check_convergence(&steps, seed, apply)?;
        }
    }
}

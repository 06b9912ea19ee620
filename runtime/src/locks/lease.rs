//! The `local` scope: leases held in this region only, one table of them.
//!
//! A lock is free, or held by one lease: a fencing token and an expiry on
//! this process's monotonic clock. Tokens of one lock strictly increase with
//! every grant and are never reused while the process lives, expired and
//! released locks keep their last token for that reason.
//!
//! This module owns the table and its rules only: it must not wait, queue
//! or talk to other regions (the service in `service.rs` does that). Time
//! is passed in, so the rules are tested without sleeping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::keyspace::{Blob, blob};

/// A live lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Its fencing token.
    pub token: u64,
    /// When it lapses.
    pub expires: Instant,
}

#[derive(Debug, Default)]
struct Slot {
    /// The token of the latest grant (0: never granted).
    last_token: u64,
    held: Option<Lease>,
}

impl Slot {
    fn live(&self, now: Instant) -> Option<Lease> {
        self.held.filter(|l| l.expires > now)
    }
}

/// Why a local acquire did not grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// When the current lease lapses unless renewed.
    pub until: Instant,
}

/// The local leases of one region.
#[derive(Debug, Default)]
pub struct LocalLeases {
    slots: Mutex<HashMap<Blob, Slot>>,
}

impl LocalLeases {
    /// Grants `name` for `ttl` if no live lease holds it.
    pub fn try_acquire(&self, name: &[u8], ttl: Duration, now: Instant) -> Result<Lease, Busy> {
        let mut slots = self.slots.lock();
        let slot = slots.entry(blob(name)).or_default();
        if let Some(l) = slot.live(now) {
            return Err(Busy { until: l.expires });
        }
        slot.last_token += 1;
        let lease = Lease {
            token: slot.last_token,
            expires: now + ttl,
        };
        slot.held = Some(lease);
        Ok(lease)
    }

    /// Extends the live lease `token` to `now + ttl`; `None` if that lease
    /// is not live (expired, released, or another one's).
    pub fn renew(&self, name: &[u8], token: u64, ttl: Duration, now: Instant) -> Option<Lease> {
        let mut slots = self.slots.lock();
        let slot = slots.get_mut(name)?;
        let live = slot.live(now).filter(|l| l.token == token)?;
        let lease = Lease {
            expires: now + ttl,
            ..live
        };
        slot.held = Some(lease);
        Some(lease)
    }

    /// Ends the live lease `token`; false if that lease is not live.
    pub fn release(&self, name: &[u8], token: u64, now: Instant) -> bool {
        let mut slots = self.slots.lock();
        let Some(slot) = slots.get_mut(name) else {
            return false;
        };
        if slot.live(now).is_some_and(|l| l.token == token) {
            slot.held = None;
            true
        } else {
            false
        }
    }

    /// The live lease of `name` and the token of its latest grant.
    pub fn info(&self, name: &[u8], now: Instant) -> (Option<Lease>, u64) {
        let slots = self.slots.lock();
        match slots.get(name) {
            Some(s) => (s.live(now), s.last_token),
            None => (None, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_millis(100);

    #[test]
    fn a_held_lock_is_busy_until_it_lapses() {
        let t = LocalLeases::default();
        let now = Instant::now();
        let a = t.try_acquire(b"l", TTL, now).expect("free");
        assert_eq!(a.token, 1);
        assert_eq!(
            t.try_acquire(b"l", TTL, now + TTL / 2),
            Err(Busy { until: now + TTL })
        );
        // Lapsed: the next grant has a greater token.
        let b = t.try_acquire(b"l", TTL, now + TTL).expect("lapsed");
        assert_eq!(b.token, 2);
        // Other names are independent.
        assert_eq!(t.try_acquire(b"m", TTL, now).map(|l| l.token), Ok(1));
    }

    #[test]
    fn release_and_renew_need_the_live_token() {
        let t = LocalLeases::default();
        let now = Instant::now();
        let a = t.try_acquire(b"l", TTL, now).expect("free");
        assert!(!t.release(b"l", a.token + 1, now), "wrong token");
        assert!(
            t.renew(b"l", a.token + 1, TTL, now).is_none(),
            "wrong token"
        );
        let renewed = t.renew(b"l", a.token, TTL, now + TTL / 2).expect("live");
        assert_eq!(renewed.expires, now + TTL / 2 + TTL);
        assert!(t.release(b"l", a.token, now + TTL));
        assert!(!t.release(b"l", a.token, now + TTL), "already released");
        assert!(t.renew(b"l", a.token, TTL, now + TTL).is_none());
        let b = t.try_acquire(b"l", TTL, now + TTL).expect("released");
        assert_eq!(b.token, 2, "tokens are not reused after a release");
        // A lapsed lease can be neither renewed nor released.
        assert!(t.renew(b"l", b.token, TTL, now + 3 * TTL).is_none());
        assert!(!t.release(b"l", b.token, now + 3 * TTL));
        assert_eq!(t.info(b"l", now + 3 * TTL), (None, 2));
    }
}

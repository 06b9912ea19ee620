//! The acceptor of global locks: one region's votes, per lock the highest
//! token it has promised and the lease it has accepted (single-decree Paxos
//! state, with a lease in place of a value).
//!
//! Rules (see docs/locks.md for why they are safe):
//! - `Prepare(t)` is promised only if `t` is above every token promised so
//!   far; the answer reports any live lease either way.
//! - `Accept(t)` is granted only if `t` is at least the promise and no lease
//!   of another token is live; the lease is timed from receipt.
//! - `Renew(t)` and `Release(t)` act only on the live lease `t`.
//!
//! State is never dropped for a lock (a promise that went back would let
//! tokens repeat). This module must not send anything or wait: the service
//! calls [`Acceptor::vote`] for local and remote votes alike.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::message::{Answer, Live, Vote};
use crate::keyspace::{Blob, blob};

/// Longest lease anybody may ask for; longer requests are clamped here (a
/// hostile TTL must not overflow the clock).
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Accepted {
    token: u64,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Slot {
    promised: u64,
    lease: Option<Accepted>,
}

impl Slot {
    fn live(&self, now: Instant) -> Option<Accepted> {
        self.lease.filter(|l| l.expires > now)
    }
}

/// One region's acceptor state for every global lock it has voted on.
#[derive(Debug, Default)]
pub struct Acceptor {
    slots: Mutex<HashMap<Blob, Slot>>,
}

fn lease_end(now: Instant, ttl_ms: u64) -> Instant {
    now + Duration::from_millis(ttl_ms).min(MAX_TTL)
}

impl Acceptor {
    /// Applies one vote at `now` and answers it.
    pub fn vote(&self, vote: &Vote, now: Instant) -> Answer {
        let mut slots = self.slots.lock();
        let slot = slots.entry(blob(vote.name())).or_default();
        let live = slot.live(now);
        let ok = match *vote {
            Vote::Prepare { token, .. } => {
                let ok = token > slot.promised;
                if ok {
                    slot.promised = token;
                }
                ok
            }
            Vote::Accept { token, ttl_ms, .. } => {
                let ok = token >= slot.promised && live.is_none_or(|l| l.token == token);
                if ok {
                    slot.promised = token;
                    slot.lease = Some(Accepted {
                        token,
                        expires: lease_end(now, ttl_ms),
                    });
                }
                ok
            }
            Vote::Renew { token, ttl_ms, .. } => match live {
                Some(l) if l.token == token => {
                    slot.lease = Some(Accepted {
                        token,
                        expires: lease_end(now, ttl_ms),
                    });
                    true
                }
                _ => false,
            },
            Vote::Release { token, .. } => match live {
                Some(l) if l.token == token => {
                    slot.lease = None;
                    true
                }
                _ => false,
            },
        };
        Answer {
            ok,
            promised: slot.promised,
            live: slot.live(now).map(|l| Live {
                token: l.token,
                remaining_ms: ceil_ms(l.expires.saturating_duration_since(now)),
            }),
        }
    }

    /// The highest token promised for `name` (0: none).
    pub fn promised(&self, name: &[u8]) -> u64 {
        self.slots.lock().get(name).map_or(0, |s| s.promised)
    }

    /// The lease live at this acceptor for `name`, as `(token, remaining)`.
    pub fn live(&self, name: &[u8], now: Instant) -> Option<(u64, Duration)> {
        let slots = self.slots.lock();
        let l = slots.get(name)?.live(now)?;
        Some((l.token, l.expires.saturating_duration_since(now)))
    }
}

/// Milliseconds, rounded up, so a lease reported as lapsed has lapsed.
pub(crate) fn ceil_ms(d: Duration) -> u64 {
    let ms = d.as_millis();
    let ms = if d > Duration::from_millis(ms as u64) {
        ms + 1
    } else {
        ms
    };
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(token: u64) -> Vote {
        Vote::Prepare {
            name: b"l".to_vec(),
            token,
        }
    }
    fn accept(token: u64) -> Vote {
        Vote::Accept {
            name: b"l".to_vec(),
            token,
            ttl_ms: 100,
        }
    }
    fn renew(token: u64) -> Vote {
        Vote::Renew {
            name: b"l".to_vec(),
            token,
            ttl_ms: 100,
        }
    }
    fn release(token: u64) -> Vote {
        Vote::Release {
            name: b"l".to_vec(),
            token,
        }
    }
    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn promises_only_grow() {
        let a = Acceptor::default();
        let now = Instant::now();
        assert!(a.vote(&prepare(3), now).ok);
        let again = a.vote(&prepare(3), now);
        assert!(!again.ok, "an equal ballot is refused");
        assert_eq!(again.promised, 3);
        assert!(!a.vote(&prepare(2), now).ok);
        assert!(a.vote(&prepare(4), now).ok);
        assert_eq!(a.promised(b"l"), 4);
        // An accept below the promise is refused.
        assert!(!a.vote(&accept(3), now).ok);
        assert!(a.vote(&accept(4), now).ok);
    }

    #[test]
    fn a_live_lease_blocks_other_accepts_and_is_reported() {
        let a = Acceptor::default();
        let now = Instant::now();
        assert!(a.vote(&prepare(1), now).ok);
        assert!(a.vote(&accept(1), now).ok);
        // A higher prepare is promised but told about the live lease.
        let p = a.vote(&prepare(2), now + 10 * MS);
        assert!(p.ok);
        assert_eq!(
            p.live,
            Some(Live {
                token: 1,
                remaining_ms: 90
            })
        );
        // Its accept is refused while lease 1 lives, granted once it lapsed.
        assert!(!a.vote(&accept(2), now + 99 * MS).ok);
        let later = a.vote(&accept(2), now + 100 * MS);
        assert!(later.ok);
        assert_eq!(later.live.map(|l| l.token), Some(2));
    }

    #[test]
    fn renew_and_release_act_on_the_live_token_only() {
        let a = Acceptor::default();
        let now = Instant::now();
        a.vote(&prepare(5), now);
        a.vote(&accept(5), now);
        assert!(!a.vote(&renew(4), now).ok);
        assert!(!a.vote(&release(4), now).ok);
        assert!(a.vote(&renew(5), now + 90 * MS).ok);
        assert_eq!(a.live(b"l", now + 150 * MS).map(|l| l.0), Some(5));
        assert!(a.vote(&release(5), now + 150 * MS).ok);
        assert_eq!(a.live(b"l", now + 150 * MS), None);
        assert!(!a.vote(&renew(5), now + 150 * MS).ok, "released");
        // A lapsed lease cannot be renewed.
        a.vote(&prepare(6), now);
        a.vote(&accept(6), now + 200 * MS);
        assert!(!a.vote(&renew(6), now + 300 * MS).ok);
    }

    #[test]
    fn a_huge_ttl_is_clamped() {
        let a = Acceptor::default();
        let now = Instant::now();
        let v = Vote::Accept {
            name: b"l".to_vec(),
            token: 1,
            ttl_ms: u64::MAX,
        };
        let ans = a.vote(&v, now);
        assert!(ans.ok);
        assert_eq!(
            ans.live.map(|l| l.remaining_ms),
            Some(MAX_TTL.as_millis() as u64)
        );
    }
}

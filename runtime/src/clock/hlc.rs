//! Hybrid logical clock (Kulkarni et al.): physical milliseconds in the high 48
//! bits, a logical counter in the low 16 bits.
//!
//! Invariants:
//! - every stamp handed out by one [`Hlc`] is strictly greater than the previous
//!   one, even if the system clock steps backwards;
//! - after [`Hlc::observe`] of a remote stamp, the next local stamp is greater
//!   than it (causality is preserved across regions).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::unix_ms;

const LOGICAL_BITS: u32 = 16;
const LOGICAL_MASK: u64 = (1 << LOGICAL_BITS) - 1;

/// A point in hybrid logical time. Totally ordered; packed into a `u64` so a
/// stored value pays eight bytes for it. Serialized as the bare `u64` (replicated
/// deltas carry stamps).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Stamp(pub u64);

impl Stamp {
    /// The zero stamp, older than every stamp a clock hands out.
    pub const ZERO: Stamp = Stamp(0);

    /// Physical component in milliseconds since the Unix epoch.
    pub fn physical_ms(self) -> u64 {
        self.0 >> LOGICAL_BITS
    }

    /// Logical counter component.
    pub fn logical(self) -> u16 {
        (self.0 & LOGICAL_MASK) as u16
    }

    fn from_parts(physical_ms: u64, logical: u64) -> Stamp {
        Stamp((physical_ms << LOGICAL_BITS) | (logical & LOGICAL_MASK))
    }
}

/// A lock-free hybrid logical clock shared by every task of one region.
#[derive(Debug)]
pub struct Hlc {
    last: AtomicU64,
    physical: fn() -> u64,
}

impl Default for Hlc {
    fn default() -> Self {
        Self::new()
    }
}

impl Hlc {
    /// A clock reading the system wall clock.
    pub fn new() -> Hlc {
        Hlc::with_physical(unix_ms)
    }

    /// A clock reading `physical` for milliseconds (tests inject skewed clocks).
    pub fn with_physical(physical: fn() -> u64) -> Hlc {
        Hlc {
            last: AtomicU64::new(0),
            physical,
        }
    }

    /// The next stamp for a local event.
    pub fn now(&self) -> Stamp {
        let pt = Stamp::from_parts((self.physical)(), 0).0;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            // If physical time moved past the last stamp, take it (logical = 0);
            // otherwise bump the logical counter. When the counter would overflow
            // we borrow one millisecond, which keeps strict monotonicity.
            let next = if pt > last { pt } else { last + 1 };
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Stamp(next),
                Err(seen) => last = seen,
            }
        }
    }

    /// Merges a stamp received from another region so that later local stamps
    /// order after it.
    pub fn observe(&self, remote: Stamp) {
        self.last.fetch_max(remote.0, Ordering::AcqRel);
    }

    /// The latest stamp handed out or observed, without advancing the clock.
    pub fn peek(&self) -> Stamp {
        Stamp(self.last.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frozen() -> u64 {
        1_000
    }

    #[test]
    fn strictly_increasing_under_a_frozen_clock() {
        let hlc = Hlc::with_physical(frozen);
        let a = hlc.now();
        let b = hlc.now();
        assert!(b > a);
        assert_eq!(a.physical_ms(), 1_000);
        assert_eq!(b.logical(), 1);
    }

    #[test]
    fn observing_a_future_stamp_orders_later_events_after_it() {
        let hlc = Hlc::with_physical(frozen);
        let remote = Stamp::from_parts(5_000, 7);
        hlc.observe(remote);
        assert!(hlc.now() > remote);
    }

    #[test]
    fn follows_physical_time_when_it_moves_ahead() {
        let hlc = Hlc::new();
        let s = hlc.now();
        assert!(s.physical_ms() >= super::super::unix_ms() - 1_000);
    }
}

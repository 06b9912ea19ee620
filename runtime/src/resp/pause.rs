//! `PauseGate`: CLIENT PAUSE and CLIENT UNPAUSE. While a pause is on, every
//! connection holds the commands it covers (all of them, or only those that
//! write) until the pause ends or is lifted, then runs them in order; its
//! other input waits in its buffer, as in Redis.
//!
//! This owns only the pause state and the wake-up. It must not decide which
//! commands write: the connection asks [`PauseGate::holds`] with that
//! answer. Region links are never paused (they are Redis's replicas), so
//! changes from other regions keep landing during a pause.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

/// What a pause holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseMode {
    /// Commands that may change data or reach other regions (writes,
    /// PUBLISH, EVAL/FCALL, an EXEC with writes queued).
    Write,
    /// Every command.
    All,
}

impl PauseMode {
    /// The name Redis uses.
    pub fn name(self) -> &'static str {
        match self {
            PauseMode::Write => "write",
            PauseMode::All => "all",
        }
    }
}

/// A pause in force: until when, and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// When it ends by itself.
    pub until: Instant,
    /// What it holds.
    pub mode: PauseMode,
}

/// The server's pause state.
#[derive(Debug)]
pub struct PauseGate {
    current: Mutex<Option<Pause>>,
    /// Bumped on every change, so waiting connections look again.
    changed: watch::Sender<u64>,
}

impl Default for PauseGate {
    fn default() -> PauseGate {
        PauseGate {
            current: Mutex::new(None),
            changed: watch::channel(0).0,
        }
    }
}

impl PauseGate {
    /// CLIENT PAUSE: pauses for `timeout`. Over an active pause the later
    /// end and the stricter mode win, as in Redis, so a short pause cannot
    /// cut a longer one short.
    pub fn pause(&self, timeout: Duration, mode: PauseMode) {
        let until = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        let mut cur = self.current.lock();
        let next = match *cur {
            Some(p) if p.until > Instant::now() => Pause {
                until: p.until.max(until),
                mode: p.mode.max(mode),
            },
            _ => Pause { until, mode },
        };
        *cur = Some(next);
        drop(cur);
        self.changed.send_modify(|n| *n += 1);
    }

    /// CLIENT UNPAUSE: lifts the pause now.
    pub fn unpause(&self) {
        *self.current.lock() = None;
        self.changed.send_modify(|n| *n += 1);
    }

    /// The pause in force, if any (an expired one is cleared).
    pub fn current(&self) -> Option<Pause> {
        let mut cur = self.current.lock();
        match *cur {
            Some(p) if p.until > Instant::now() => Some(p),
            Some(_) => {
                *cur = None;
                None
            }
            None => None,
        }
    }

    /// True if a command that `writes` (or not) must wait now.
    pub fn holds(&self, writes: bool) -> bool {
        match self.current() {
            Some(p) => p.mode == PauseMode::All || writes,
            None => false,
        }
    }

    /// Waits until the pause in force ends or the gate changes (lifted,
    /// extended); the caller then asks [`PauseGate::holds`] again.
    pub async fn changed_or_ended(&self) {
        let mut rx = self.changed.subscribe();
        let Some(p) = self.current() else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(p.until) => {}
            _ = rx.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_pause_holds_writes_only_and_ends_by_itself() {
        let gate = PauseGate::default();
        assert!(!gate.holds(true));
        gate.pause(Duration::from_millis(30), PauseMode::Write);
        assert!(gate.holds(true));
        assert!(!gate.holds(false));
        gate.changed_or_ended().await;
        assert!(!gate.holds(true));
    }

    #[tokio::test]
    async fn the_stricter_mode_and_later_end_win_and_unpause_lifts_it() {
        let gate = PauseGate::default();
        gate.pause(Duration::from_secs(60), PauseMode::All);
        gate.pause(Duration::from_millis(1), PauseMode::Write);
        let p = gate.current().expect("paused");
        assert_eq!(p.mode, PauseMode::All);
        assert!(p.until > Instant::now() + Duration::from_secs(30));
        let waiter = gate.changed_or_ended();
        tokio::pin!(waiter);
        // The waiter wakes on UNPAUSE, long before the pause would end.
        tokio::select! {
            _ = &mut waiter => panic!("woke before the change"),
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
        gate.unpause();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken by unpause");
        assert!(!gate.holds(false));
    }
}

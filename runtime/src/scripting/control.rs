//! `ScriptControl`: what other connections see of the script that is running
//! — since when it runs, whether it wrote, whether SCRIPT KILL asked it to
//! stop — and the gate that turns their commands away with BUSY once it has
//! run longer than `busy-reply-threshold`.
//!
//! It must not run scripts or touch the keyspace: the EVAL handler reports
//! begin and end here, the Lua hook reads the kill flag, and the connection
//! loop asks [`ScriptControl::wait_gate`] before running a command.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Default `busy-reply-threshold` (Redis's `lua-time-limit`), in milliseconds.
pub const DEFAULT_BUSY_REPLY_THRESHOLD_MS: u64 = 5000;

/// The BUSY error other clients get while a script runs past the threshold.
pub const BUSY_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// Commands a client may run while a script is busy (Redis's `allow_busy`).
const ALLOWED_WHILE_BUSY: &[&str] = &[
    "auth", "discard", "hello", "multi", "quit", "reset", "shutdown", "unwatch", "watch",
];

/// Answer of SCRIPT KILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    /// The script will stop at its next hook.
    Killed,
    /// No script is running.
    NotBusy,
    /// The script already wrote: stopping it would leave its writes half done.
    Unkillable,
}

impl KillOutcome {
    /// The error line for the refusals (`None` for `Killed`, answered `+OK`).
    pub fn error(self) -> Option<&'static str> {
        match self {
            KillOutcome::Killed => None,
            KillOutcome::NotBusy => Some("NOTBUSY No scripts in execution right now."),
            KillOutcome::Unkillable => Some(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            ),
        }
    }
}

/// Shared state of the one script that may run at a time (scripts hold every
/// shard, so two never overlap).
#[derive(Debug)]
pub struct ScriptControl {
    base: Instant,
    /// Nanoseconds after `base` the running script started, plus one; 0 = none.
    started: AtomicU64,
    kill: AtomicBool,
    wrote: AtomicBool,
    threshold_ms: AtomicU64,
    finished: Notify,
}

impl Default for ScriptControl {
    fn default() -> Self {
        ScriptControl::new(DEFAULT_BUSY_REPLY_THRESHOLD_MS)
    }
}

impl ScriptControl {
    /// Control with the given busy threshold in milliseconds.
    pub fn new(threshold_ms: u64) -> ScriptControl {
        ScriptControl {
            base: Instant::now(),
            started: AtomicU64::new(0),
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            threshold_ms: AtomicU64::new(threshold_ms),
            finished: Notify::new(),
        }
    }

    /// `busy-reply-threshold` in milliseconds.
    pub fn threshold_ms(&self) -> u64 {
        self.threshold_ms.load(Ordering::Relaxed)
    }

    /// Sets `busy-reply-threshold` (CONFIG SET).
    pub fn set_threshold_ms(&self, ms: u64) {
        self.threshold_ms.store(ms, Ordering::Relaxed);
    }

    /// Marks a script as started (called with every shard held).
    pub fn begin(&self) {
        self.kill.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        let now = self.base.elapsed().as_nanos() as u64;
        self.started.store(now.saturating_add(1), Ordering::Release);
    }

    /// Marks the script as finished and wakes clients waiting at the gate.
    pub fn end(&self) {
        self.started.store(0, Ordering::Release);
        self.kill.store(false, Ordering::Relaxed);
        self.finished.notify_waiters();
    }

    /// True while a script runs.
    #[inline]
    pub fn running(&self) -> bool {
        self.started.load(Ordering::Acquire) != 0
    }

    /// How long the running script has run (`None` if none runs).
    pub fn elapsed(&self) -> Option<Duration> {
        let started = self.started.load(Ordering::Acquire);
        if started == 0 {
            return None;
        }
        let now = self.base.elapsed().as_nanos() as u64;
        Some(Duration::from_nanos(now.saturating_sub(started - 1)))
    }

    /// True once the running script has run past the threshold.
    pub fn busy(&self) -> bool {
        self.elapsed()
            .is_some_and(|e| e >= Duration::from_millis(self.threshold_ms()))
    }

    /// Notes that the running script called a write command.
    pub fn note_write(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    /// True if SCRIPT KILL asked the running script to stop.
    #[inline]
    pub fn killed(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// SCRIPT KILL.
    pub fn kill(&self) -> KillOutcome {
        if !self.running() {
            KillOutcome::NotBusy
        } else if self.wrote.load(Ordering::Relaxed) {
            KillOutcome::Unkillable
        } else {
            self.kill.store(true, Ordering::Relaxed);
            KillOutcome::Killed
        }
    }

    /// Called before a client's command: while a script runs, waits (without
    /// blocking the thread) until it ends or passes the threshold, as Redis
    /// clients wait behind a script. Past the threshold, answers the BUSY
    /// error unless the command is one Redis lets through (SCRIPT KILL,
    /// MULTI, …). `None`: go ahead.
    pub async fn wait_gate(&self, name: &[u8], subcommand: Option<&[u8]>) -> Option<&'static str> {
        loop {
            let notified = self.finished.notified();
            tokio::pin!(notified);
            // Registered before the checks below, so an end between the
            // check and the wait still wakes us.
            notified.as_mut().enable();
            let elapsed = self.elapsed()?;
            let threshold = Duration::from_millis(self.threshold_ms());
            if elapsed >= threshold {
                return (!allowed_while_busy(name, subcommand)).then_some(BUSY_ERROR);
            }
            // Either the script ends, or it crosses the threshold.
            let _ = tokio::time::timeout(threshold - elapsed, notified).await;
        }
    }
}

fn allowed_while_busy(name: &[u8], subcommand: Option<&[u8]>) -> bool {
    if name.eq_ignore_ascii_case(b"script") || name.eq_ignore_ascii_case(b"function") {
        return subcommand.is_some_and(|s| s.eq_ignore_ascii_case(b"kill"));
    }
    ALLOWED_WHILE_BUSY
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_answers_like_redis() {
        let c = ScriptControl::default();
        assert_eq!(c.kill(), KillOutcome::NotBusy);
        c.begin();
        assert!(c.running());
        assert_eq!(c.kill(), KillOutcome::Killed);
        assert!(c.killed());
        c.end();
        assert!(!c.killed());
        c.begin();
        c.note_write();
        assert_eq!(c.kill(), KillOutcome::Unkillable);
        assert!(!c.killed());
        c.end();
    }

    #[tokio::test]
    async fn gate_is_open_without_a_script_and_busy_past_the_threshold() {
        let c = ScriptControl::new(0);
        assert_eq!(c.wait_gate(b"get", None).await, None);
        c.begin();
        assert_eq!(c.wait_gate(b"get", None).await, Some(BUSY_ERROR));
        assert_eq!(c.wait_gate(b"SCRIPT", Some(b"KILL")).await, None);
        assert_eq!(
            c.wait_gate(b"script", Some(b"load")).await,
            Some(BUSY_ERROR)
        );
        assert_eq!(c.wait_gate(b"multi", None).await, None);
        c.end();
        assert_eq!(c.wait_gate(b"get", None).await, None);
    }

    #[tokio::test]
    async fn gate_waits_for_a_short_script_to_end() {
        let c = std::sync::Arc::new(ScriptControl::new(10_000));
        c.begin();
        let ender = c.clone();
        let t = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ender.end();
        });
        assert_eq!(c.wait_gate(b"get", None).await, None);
        assert!(!c.running());
        t.await.ok();
    }
}

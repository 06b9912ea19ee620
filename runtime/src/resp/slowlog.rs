//! The slow log (SLOWLOG) and the latency monitor (LATENCY): what the
//! connection loop records about commands that took long, kept in memory
//! with Redis's limits and entry shapes.
//!
//! Recording is one atomic load when the thresholds are not crossed, so
//! the hot path pays nothing measurable. This module must not know about
//! command semantics; it sees a command's arguments and its duration only.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::Request;

/// Most arguments kept per entry (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
const MAX_ARGC: usize = 32;
/// Most bytes kept per argument (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
const MAX_STRING: usize = 128;
/// Samples kept per latency event (Redis's `LATENCY_TS_LEN`).
const LATENCY_SAMPLES: usize = 160;

/// One slow command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowEntry {
    /// Increasing id.
    pub id: u64,
    /// Unix time in seconds when it ran.
    pub unix_secs: u64,
    /// How long it took, in microseconds.
    pub micros: u64,
    /// Its arguments, shortened as Redis shortens them.
    pub args: Vec<Vec<u8>>,
    /// The client's `ip:port`.
    pub client_addr: String,
    /// The client's name (CLIENT SETNAME).
    pub client_name: String,
}

/// The slow log: the newest entries first, at most `max_len`.
#[derive(Debug)]
pub struct SlowLog {
    entries: Mutex<VecDeque<SlowEntry>>,
    next_id: AtomicU64,
    /// `slowlog-log-slower-than` in microseconds; negative disables.
    threshold_us: AtomicI64,
    /// `slowlog-max-len`.
    max_len: AtomicUsize,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            entries: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            threshold_us: AtomicI64::new(10_000),
            max_len: AtomicUsize::new(128),
        }
    }
}

/// The arguments as Redis keeps them: at most 32 (the last one then says
/// how many more there were), each at most 128 bytes plus a note.
fn shorten(req: &Request) -> Vec<Vec<u8>> {
    let n = req.len();
    let kept = n.min(MAX_ARGC);
    let mut out = Vec::with_capacity(kept);
    for i in 0..kept {
        if kept != n && i == kept - 1 {
            out.push(format!("... ({} more arguments)", n - kept + 1).into_bytes());
            break;
        }
        let a = req.arg(i);
        if a.len() > MAX_STRING {
            let mut s = a[..MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(s);
        } else {
            out.push(a.to_vec());
        }
    }
    out
}

impl SlowLog {
    /// `slowlog-log-slower-than`.
    pub fn threshold_us(&self) -> i64 {
        self.threshold_us.load(Ordering::Relaxed)
    }
    /// Sets `slowlog-log-slower-than`.
    pub fn set_threshold_us(&self, v: i64) {
        self.threshold_us.store(v, Ordering::Relaxed);
    }
    /// `slowlog-max-len`.
    pub fn max_len(&self) -> usize {
        self.max_len.load(Ordering::Relaxed)
    }
    /// Sets `slowlog-max-len`, dropping the oldest entries beyond it.
    pub fn set_max_len(&self, v: usize) {
        self.max_len.store(v, Ordering::Relaxed);
        self.entries.lock().truncate(v);
    }

    /// Logs `req` if it took at least the threshold.
    pub fn record(&self, req: &Request, took: Duration, client: impl FnOnce() -> (String, String)) {
        let threshold = self.threshold_us();
        let micros = took.as_micros() as u64;
        if threshold < 0 || micros < threshold as u64 {
            return;
        }
        let (client_addr, client_name) = client();
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_secs: crate::clock::unix_ms() / 1000,
            micros,
            args: shorten(req),
            client_addr,
            client_name,
        };
        let max = self.max_len();
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(max);
    }

    /// The newest `count` entries (all with `None`).
    pub fn newest(&self, count: Option<usize>) -> Vec<SlowEntry> {
        let entries = self.entries.lock();
        let n = count.unwrap_or(usize::MAX);
        entries.iter().take(n).cloned().collect()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry (SLOWLOG RESET).
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// One latency sample: when (Unix seconds) and how long (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySample {
    /// Unix seconds.
    pub unix_secs: u64,
    /// Milliseconds.
    pub millis: u64,
}

/// One event's history.
#[derive(Debug, Clone, Default)]
pub struct LatencyEvent {
    /// Samples, oldest first; one per second at most (the worst).
    pub samples: VecDeque<LatencySample>,
    /// The worst latency ever recorded for the event.
    pub max_millis: u64,
}

/// The latency monitor: per event (`command` for slow commands), the
/// samples at or over `latency-monitor-threshold` milliseconds (0 = off).
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    threshold_ms: AtomicU64,
    events: Mutex<HashMap<&'static str, LatencyEvent>>,
}

impl LatencyMonitor {
    /// `latency-monitor-threshold`.
    pub fn threshold_ms(&self) -> u64 {
        self.threshold_ms.load(Ordering::Relaxed)
    }
    /// Sets `latency-monitor-threshold`.
    pub fn set_threshold_ms(&self, v: u64) {
        self.threshold_ms.store(v, Ordering::Relaxed);
    }

    /// Records `took` for `event` if monitoring is on and it crossed the
    /// threshold. Samples within one second keep the worst, as Redis's.
    pub fn record(&self, event: &'static str, took: Duration) {
        let threshold = self.threshold_ms();
        let millis = took.as_millis() as u64;
        if threshold == 0 || millis < threshold {
            return;
        }
        let now = crate::clock::unix_ms() / 1000;
        let mut events = self.events.lock();
        let e = events.entry(event).or_default();
        e.max_millis = e.max_millis.max(millis);
        match e.samples.back_mut() {
            Some(last) if last.unix_secs == now => last.millis = last.millis.max(millis),
            _ => {
                e.samples.push_back(LatencySample {
                    unix_secs: now,
                    millis,
                });
                if e.samples.len() > LATENCY_SAMPLES {
                    e.samples.pop_front();
                }
            }
        }
    }

    /// Every event with its history, by name.
    pub fn events(&self) -> Vec<(&'static str, LatencyEvent)> {
        let mut v: Vec<_> = self
            .events
            .lock()
            .iter()
            .map(|(k, e)| (*k, e.clone()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Forgets the named events (all with an empty list); how many were
    /// dropped.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            let hit = events
                .keys()
                .find(|k| k.as_bytes().eq_ignore_ascii_case(name))
                .copied();
            if let Some(k) = hit {
                events.remove(k);
                n += 1;
            }
        }
        n
    }
}

//! The console's live figures: once a second it reads the counters behind
//! INFO and /metrics (commands by family, keyspace hits and misses, memory,
//! evictions, guest calls and failures, lock grants, changes received per
//! peer) and keeps the last few minutes of per-second rates for the charts.
//!
//! It only reads counters; it runs no command and takes no shard lock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use crate::server::Shared;

/// Time between samples.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Samples kept (five minutes).
const KEPT: usize = 300;

/// Cumulative counters at one instant.
#[derive(Debug, Clone, Default)]
struct Counters {
    at: Option<Instant>,
    by_family: BTreeMap<&'static str, u64>,
    hits: u64,
    misses: u64,
    evicted: u64,
    expired: u64,
    guest_calls: u64,
    guest_failures: u64,
    lock_grants: u64,
    changes_in: BTreeMap<String, u64>,
    lag_ms: BTreeMap<String, u64>,
    used_memory: u64,
    dataset_bytes: u64,
}

impl Counters {
    fn read(shared: &Shared) -> Counters {
        let mut by_family = BTreeMap::new();
        let table = crate::resp::command::table();
        for (name, calls, _) in shared.stats.command_stats() {
            let family = table
                .get(name.as_bytes())
                .map(|s| s.group)
                .filter(|g| !g.is_empty())
                .unwrap_or("other");
            *by_family.entry(family).or_default() += calls;
        }
        let engine = &shared.engine;
        let ks = engine.keyspace().counters();
        let (mut guest_calls, mut guest_failures) = (0, 0);
        let reg = shared.wasm.registry();
        let mut add = |s: &crate::wasm::registry::ModuleStats| {
            guest_calls += s.calls.load(Ordering::Relaxed);
            guest_failures += s.traps.load(Ordering::Relaxed)
                + s.timeouts.load(Ordering::Relaxed)
                + s.errors.load(Ordering::Relaxed);
        };
        for m in reg.edges() {
            add(&m.stats);
        }
        for l in reg.libraries() {
            add(&l.stats);
        }
        let (mut changes_in, mut lag_ms) = (BTreeMap::new(), BTreeMap::new());
        if let Some(r) = engine.replica() {
            for p in r.peers() {
                lag_ms.insert(p.name.clone(), r.peer_lag(&p).ms);
                changes_in.insert(p.name, p.changes_in);
            }
        }
        Counters {
            at: Some(Instant::now()),
            by_family,
            hits: engine.stats().hits.load(Ordering::Relaxed),
            misses: engine.stats().misses.load(Ordering::Relaxed),
            evicted: ks.evicted.load(Ordering::Relaxed),
            expired: ks.expired.load(Ordering::Relaxed),
            guest_calls,
            guest_failures,
            lock_grants: engine.locks().grants(),
            changes_in,
            lag_ms,
            used_memory: crate::resp::command::allocator_stats().0,
            dataset_bytes: engine.keyspace().used_bytes() as u64,
        }
    }
}

/// One second of the charts.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Unix milliseconds at the end of the second.
    pub t: u64,
    /// Commands per second by family (`string`, `hash`, …).
    pub ops: BTreeMap<&'static str, f64>,
    /// Hits over lookups in the second; `None` if nothing was looked up.
    pub hit_ratio: Option<f64>,
    /// Bytes allocated by the process (INFO `used_memory`).
    pub used_memory: u64,
    /// Estimated bytes of keys and values (INFO `used_memory_dataset`).
    pub dataset_bytes: u64,
    /// Keys evicted per second.
    pub evictions: f64,
    /// Keys expired per second.
    pub expirations: f64,
    /// Guest calls per second.
    pub guest_calls: f64,
    /// Guest calls that trapped, timed out or answered an error, per second.
    pub guest_errors: f64,
    /// Lock leases granted per second.
    pub lock_grants: f64,
    /// Changes applied from each peer region per second.
    pub changes_in: BTreeMap<String, f64>,
    /// Replication lag to each peer region at the end of the second: age in
    /// ms of the oldest change it has not acknowledged.
    pub lag_ms: BTreeMap<String, u64>,
}

/// Rate of a counter between two readings (0 if it was reset meanwhile).
fn rate(now: u64, before: u64, secs: f64) -> f64 {
    now.saturating_sub(before) as f64 / secs
}

impl Point {
    fn between(a: &Counters, b: &Counters) -> Option<Point> {
        let secs = b.at?.duration_since(a.at?).as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        let ops = b
            .by_family
            .iter()
            .map(|(f, n)| (*f, rate(*n, a.by_family.get(f).copied().unwrap_or(0), secs)))
            .collect();
        let hits = b.hits.saturating_sub(a.hits);
        let lookups = hits + b.misses.saturating_sub(a.misses);
        Some(Point {
            t: crate::clock::unix_ms(),
            ops,
            hit_ratio: (lookups > 0).then(|| hits as f64 / lookups as f64),
            used_memory: b.used_memory,
            dataset_bytes: b.dataset_bytes,
            evictions: rate(b.evicted, a.evicted, secs),
            expirations: rate(b.expired, a.expired, secs),
            guest_calls: rate(b.guest_calls, a.guest_calls, secs),
            guest_errors: rate(b.guest_failures, a.guest_failures, secs),
            lock_grants: rate(b.lock_grants, a.lock_grants, secs),
            changes_in: b
                .changes_in
                .iter()
                .map(|(p, n)| {
                    (
                        p.clone(),
                        rate(*n, a.changes_in.get(p).copied().unwrap_or(0), secs),
                    )
                })
                .collect(),
            lag_ms: b.lag_ms.clone(),
        })
    }
}

/// The recent points of one server.
#[derive(Default)]
pub struct Timeline {
    state: Mutex<(Counters, VecDeque<Point>)>,
}

impl Timeline {
    /// Takes one sample: a new point from the counters since the last.
    pub fn sample(&self, shared: &Shared) {
        let now = Counters::read(shared);
        let mut state = self.state.lock();
        if let Some(p) = Point::between(&state.0, &now) {
            if state.1.len() == KEPT {
                state.1.pop_front();
            }
            state.1.push_back(p);
        }
        state.0 = now;
    }

    /// The points after Unix millisecond `since` (all with 0), oldest first.
    pub fn since(&self, since: u64) -> Vec<Point> {
        self.state
            .lock()
            .1
            .iter()
            .filter(|p| p.t > since)
            .cloned()
            .collect()
    }

    /// The newest point.
    pub fn latest(&self) -> Option<Point> {
        self.state.lock().1.back().cloned()
    }

    /// Samples every [`INTERVAL`] until the server shuts down.
    pub async fn run(self: Arc<Self>, shared: Arc<Shared>) {
        let mut shutdown = shared.shutdown_signal();
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.sample(&shared),
                _ = shutdown.changed() => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_and_a_reset_counts_as_zero() {
        let start = Instant::now();
        let a = Counters {
            at: Some(start),
            by_family: [("string", 10)].into_iter().collect(),
            hits: 10,
            misses: 10,
            lock_grants: 5,
            ..Counters::default()
        };
        let b = Counters {
            at: Some(start + Duration::from_secs(2)),
            by_family: [("string", 30), ("hash", 4)].into_iter().collect(),
            hits: 16,
            misses: 12,
            // CONFIG RESETSTAT or a restart of the counter in between.
            lock_grants: 1,
            ..Counters::default()
        };
        let p = Point::between(&a, &b).expect("a point");
        assert_eq!(p.ops.get("string"), Some(&10.0));
        assert_eq!(p.ops.get("hash"), Some(&2.0));
        assert_eq!(p.hit_ratio, Some(0.75));
        assert_eq!(p.lock_grants, 0.0);
        // Without lookups there is no ratio, and the first reading makes no point.
        let idle = Counters {
            at: Some(start + Duration::from_secs(3)),
            ..b.clone()
        };
        assert_eq!(Point::between(&b, &idle).expect("a point").hit_ratio, None);
        assert!(Point::between(&Counters::default(), &b).is_none());
    }
}

//! `RecentLatency`: how long one module's calls took lately — a histogram
//! of the current minute and one of the minute before, so its p99 covers the
//! last one to two minutes and forgets old spikes. Recording takes one
//! short lock; reading merges the two minutes.
//!
//! It only measures; callers decide what a call's duration is.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// How long one histogram collects before it becomes the previous one.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Largest duration recorded exactly (longer ones count as this): guest
/// deadlines are far shorter.
const MAX_MICROS: u64 = 3_600_000_000;

#[derive(Debug)]
struct Windows {
    started: Instant,
    current: Histogram<u64>,
    previous: Histogram<u64>,
}

/// Call durations of the last one to two [`WINDOW`]s.
#[derive(Debug)]
pub struct RecentLatency {
    windows: Mutex<Option<Windows>>,
}

impl Default for RecentLatency {
    fn default() -> Self {
        let windows = Histogram::new_with_bounds(1, MAX_MICROS, 2)
            .ok()
            .map(|h| Windows {
                started: Instant::now(),
                current: h.clone(),
                previous: h,
            });
        RecentLatency {
            windows: Mutex::new(windows),
        }
    }
}

impl Windows {
    /// Moves to the window `now` falls in.
    fn rotate(&mut self, now: Instant) {
        let age = now.saturating_duration_since(self.started);
        if age < WINDOW {
            return;
        }
        if age < WINDOW * 2 {
            std::mem::swap(&mut self.previous, &mut self.current);
            self.started += WINDOW;
        } else {
            self.previous.reset();
            self.started = now;
        }
        self.current.reset();
    }
}

impl RecentLatency {
    /// Records one call that took `took`.
    pub fn record(&self, took: Duration) {
        let micros = (took.as_micros() as u64).clamp(1, MAX_MICROS);
        if let Some(w) = self.windows.lock().as_mut() {
            w.rotate(Instant::now());
            // In bounds by the clamp; a failure would only lose one sample.
            let _ = w.current.record(micros);
        }
    }

    /// The `q` quantile (0.99 for p99) of the recent calls in milliseconds;
    /// `None` if there were none.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let mut guard = self.windows.lock();
        let w = guard.as_mut()?;
        w.rotate(Instant::now());
        let mut both = w.current.clone();
        both.add(&w.previous).ok()?;
        (!both.is_empty()).then(|| both.value_at_quantile(q) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_reflects_the_slow_tail_and_none_without_calls() {
        let l = RecentLatency::default();
        assert_eq!(l.quantile_ms(0.99), None);
        for _ in 0..98 {
            l.record(Duration::from_millis(1));
        }
        l.record(Duration::from_millis(50));
        l.record(Duration::from_millis(50));
        let p99 = l.quantile_ms(0.99).expect("calls recorded");
        assert!((49.0..=51.0).contains(&p99), "{p99}");
        let p50 = l.quantile_ms(0.5).expect("calls recorded");
        assert!((0.9..=1.1).contains(&p50), "{p50}");
    }

    #[test]
    fn old_windows_are_forgotten() {
        let l = RecentLatency::default();
        l.record(Duration::from_millis(50));
        let start = Instant::now();
        {
            let mut g = l.windows.lock();
            let w = g.as_mut().expect("windows");
            // One window later the call is still counted; two later it is not.
            w.rotate(start + WINDOW);
            assert_eq!(w.previous.len(), 1);
            w.rotate(start + WINDOW * 3);
            assert!(w.previous.is_empty() && w.current.is_empty());
        }
        assert_eq!(l.quantile_ms(0.99), None);
    }
}

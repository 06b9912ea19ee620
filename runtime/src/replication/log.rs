//! `DeltaLog`: the bounded, in-memory log of one region's own changes, each
//! already encoded for the wire, kept so every peer link can stream it from
//! the position that peer acknowledged.
//!
//! Positions are the changes' HLC stamps, strictly increasing in append
//! order. The log is bounded by bytes: when full, the oldest changes are
//! dropped and a peer whose position falls before the tail is told so
//! ([`FellBehind`]) and must be caught up another way (a snapshot). Memory
//! therefore never grows with a slow or absent peer.
//!
//! Appending is on every replicated write's path, so waking readers costs
//! nothing unless one is actually waiting (see [`DeltaLog::appended_after`]).
//!
//! This module knows nothing about what the bytes mean.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// The reader asked for changes after a position the log no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the replication log no longer holds changes after position {asked} (oldest kept follows {trimmed_through})"
)]
pub struct FellBehind {
    /// The position asked for.
    pub asked: u64,
    /// Every change up to this position has been dropped.
    pub trimmed_through: u64,
}

#[derive(Debug)]
struct Inner {
    entries: VecDeque<(u64, Bytes)>,
    bytes: usize,
    trimmed_through: u64,
}

/// A bounded log of encoded changes ordered by position.
#[derive(Debug)]
pub struct DeltaLog {
    inner: Mutex<Inner>,
    max_bytes: usize,
    /// The newest position appended.
    head: AtomicU64,
    /// Set by a reader about to sleep; an append that clears it wakes them.
    waiting: AtomicBool,
    appended: Notify,
}

/// What a log entry costs beyond its bytes (deque slot, `Bytes` header).
const ENTRY_OVERHEAD: usize = 48;
/// Deque slots kept however empty the log gets.
const MIN_SLOTS: usize = 1024;

/// The capacity to shrink a container holding `len` items in `capacity`
/// slots to, if it holds far fewer than it once did: twice what it holds
/// (at least `min`), once it has more than twice that. The margins keep a
/// container that empties and refills from shrinking and growing each time.
pub(crate) fn slack_to_release(len: usize, capacity: usize, min: usize) -> Option<usize> {
    let keep = (len * 2).max(min);
    (capacity > 2 * keep).then_some(keep)
}

impl DeltaLog {
    /// An empty log holding at most about `max_bytes` of changes.
    pub fn new(max_bytes: usize) -> DeltaLog {
        DeltaLog {
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                bytes: 0,
                trimmed_through: 0,
            }),
            max_bytes: max_bytes.max(1),
            head: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            appended: Notify::new(),
        }
    }

    /// Appends the change at `pos`, which must exceed every earlier position
    /// (a smaller one is ignored: it would break every reader's ordering).
    /// Drops the oldest changes if the log is over its bound.
    pub fn append(&self, pos: u64, change: Bytes) {
        let mut g = self.inner.lock();
        if g.entries.back().is_some_and(|(last, _)| *last >= pos) || pos <= g.trimmed_through {
            tracing::error!(
                pos,
                "replication log append out of order; change not logged"
            );
            return;
        }
        g.bytes += change.len() + ENTRY_OVERHEAD;
        g.entries.push_back((pos, change));
        while g.bytes > self.max_bytes && g.entries.len() > 1 {
            if let Some((p, b)) = g.entries.pop_front() {
                g.bytes -= b.len() + ENTRY_OVERHEAD;
                g.trimmed_through = p;
            }
        }
        drop(g);
        // SeqCst pairs with `appended_after`: either the reader sees this
        // head, or this swap sees its flag (and its waiter is registered).
        self.head.store(pos, Ordering::SeqCst);
        if self.waiting.swap(false, Ordering::SeqCst) {
            self.appended.notify_waiters();
        }
    }

    /// Completes once the log's head is past `pos` (at once if it already
    /// is). Cancel-safe.
    pub async fn appended_after(&self, pos: u64) {
        loop {
            let notified = self.appended.notified();
            tokio::pin!(notified);
            // Registered before the flag is raised, so the append that
            // clears the flag wakes this waiter.
            notified.as_mut().enable();
            self.waiting.store(true, Ordering::SeqCst);
            if self.head.load(Ordering::SeqCst) > pos {
                return;
            }
            notified.await;
        }
    }

    /// Up to `max_bytes` (at least one change, if any) of changes after `after`,
    /// in order.
    pub fn read_after(
        &self,
        after: u64,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Bytes)>, FellBehind> {
        let g = self.inner.lock();
        if after < g.trimmed_through {
            return Err(FellBehind {
                asked: after,
                trimmed_through: g.trimmed_through,
            });
        }
        let start = g.entries.partition_point(|(p, _)| *p <= after);
        let mut out = Vec::new();
        let mut size = 0;
        for (p, b) in g.entries.range(start..) {
            if !out.is_empty() && size + b.len() > max_bytes {
                break;
            }
            size += b.len();
            out.push((*p, b.clone()));
        }
        Ok(out)
    }

    /// Drops every change up to `pos` (all peers have applied them: none will
    /// be asked for again, and a peer that restarts gets a snapshot).
    pub fn trim_through(&self, pos: u64) {
        let mut g = self.inner.lock();
        while g.entries.front().is_some_and(|(p, _)| *p <= pos) {
            if let Some((p, b)) = g.entries.pop_front() {
                g.bytes -= b.len() + ENTRY_OVERHEAD;
                g.trimmed_through = p;
            }
        }
        // A burst (a bulk load) grows the deque to hundreds of thousands of
        // slots; once peers caught up, give them back rather than keep
        // 40 bytes per slot of the peak for good.
        if let Some(keep) = slack_to_release(g.entries.len(), g.entries.capacity(), MIN_SLOTS) {
            g.entries.shrink_to(keep);
        }
    }

    /// Declares every position up to `pos` not held (changes an earlier run
    /// of the process made and persistence brought back into the keyspace,
    /// not into this log): a reader before it is caught up by a snapshot.
    pub fn start_after(&self, pos: u64) {
        let mut g = self.inner.lock();
        g.trimmed_through = g.trimmed_through.max(pos);
        let cut = g.entries.partition_point(|(p, _)| *p <= pos);
        for (_, b) in g.entries.drain(..cut).collect::<Vec<_>>() {
            g.bytes -= b.len() + ENTRY_OVERHEAD;
        }
    }

    /// True if a reader at `after` can no longer be served from the log.
    pub fn fell_behind(&self, after: u64) -> bool {
        after < self.inner.lock().trimmed_through
    }

    /// How many changes follow `after`, and the position of the first of
    /// them (for lag figures).
    pub fn pending_after(&self, after: u64) -> (usize, Option<u64>) {
        let g = self.inner.lock();
        let start = g.entries.partition_point(|(p, _)| *p <= after);
        (
            g.entries.len() - start,
            g.entries.get(start).map(|(p, _)| *p),
        )
    }

    /// Bytes held (INFO).
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// The newest position appended (0 before the first).
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn reads_resume_after_a_position_in_order() {
        let log = DeltaLog::new(1 << 20);
        for p in [10, 20, 30] {
            log.append(p, b(&format!("c{p}")));
        }
        let got: Vec<u64> = log
            .read_after(10, 1 << 20)
            .unwrap()
            .iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(got, vec![20, 30]);
        assert!(log.read_after(30, 1 << 20).unwrap().is_empty());
        assert_eq!(log.pending_after(0), (3, Some(10)));
        assert_eq!(log.head(), 30);
    }

    #[test]
    fn a_full_log_drops_its_tail_and_says_so() {
        let log = DeltaLog::new(3 * (ENTRY_OVERHEAD + 2));
        for p in 1..=5 {
            log.append(p, b("xx"));
        }
        assert!(log.fell_behind(1));
        assert_eq!(
            log.read_after(1, 1 << 20),
            Err(FellBehind {
                asked: 1,
                trimmed_through: 2
            })
        );
        let kept: Vec<u64> = log
            .read_after(2, 1 << 20)
            .unwrap()
            .iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(kept, vec![3, 4, 5]);
        assert!(log.bytes() <= 3 * (ENTRY_OVERHEAD + 2));
    }

    #[test]
    fn trimming_what_every_peer_acknowledged_frees_it() {
        let log = DeltaLog::new(1 << 20);
        for p in 1..=4 {
            log.append(p, b("xy"));
        }
        log.trim_through(3);
        assert!(log.fell_behind(2));
        assert!(!log.fell_behind(3));
        assert_eq!(log.read_after(3, 1 << 20).unwrap().len(), 1);
        assert_eq!(log.bytes(), ENTRY_OVERHEAD + 2);
    }

    #[test]
    fn a_drained_log_gives_back_the_slots_of_its_peak() {
        let log = DeltaLog::new(1 << 30);
        for p in 1..=100_000 {
            log.append(p, b("x"));
        }
        log.trim_through(100_000);
        assert!(log.inner.lock().entries.capacity() <= 2 * MIN_SLOTS);
        log.append(100_001, b("y"));
        assert_eq!(log.read_after(100_000, 1 << 20).unwrap().len(), 1);
    }

    #[test]
    fn batches_are_bounded_by_bytes_but_never_empty() {
        let log = DeltaLog::new(1 << 20);
        for p in 1..=4 {
            log.append(p, b("0123456789"));
        }
        assert_eq!(log.read_after(0, 25).unwrap().len(), 2);
        assert_eq!(log.read_after(0, 1).unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_reader_wakes_on_the_next_append() {
        let log = std::sync::Arc::new(DeltaLog::new(1 << 20));
        log.append(1, b("a"));
        // Already past: no wait.
        log.appended_after(0).await;
        for p in 2..=50 {
            let waiter = tokio::spawn({
                let log = log.clone();
                async move { log.appended_after(p - 1).await }
            });
            tokio::task::yield_now().await;
            log.append(p, b("b"));
            tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
                .await
                .expect("woken by the append")
                .expect("waiter ran");
        }
    }

    #[test]
    fn out_of_order_appends_are_refused() {
        let log = DeltaLog::new(1 << 20);
        log.append(5, b("a"));
        log.append(5, b("b"));
        log.append(4, b("c"));
        assert_eq!(log.read_after(0, 1 << 20).unwrap().len(), 1);
    }
}

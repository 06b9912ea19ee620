//! Clients blocked on list keys (BLPOP, BRPOP, BLMOVE): a FIFO of waiters per
//! key. A write that gives a list elements *signals* the key after releasing its
//! shard; the first waiter wakes and retries its pop. A pop that leaves elements
//! behind signals again, so a push of N elements serves N waiters in order.
//!
//! Only the head of a queue is ever woken, so a waiter that leaves while at the
//! head (served, timed out, disconnected) wakes the next one: it may have
//! consumed a signal meant for whoever is next. This is also what serves the
//! next waiter after a pop by a blocked client — that pop's own signal reaches
//! the popper itself, still registered while it retries. Extra wake-ups are
//! harmless (the woken client retries and waits again); a lost one is not.
//!
//! A client must register before its last try, so a push between a failed
//! try and the registration is seen by that try (the push saw no waiter and
//! signalled nobody). Clients retry only when woken, never on other events,
//! so one not at the head cannot take elements ahead of the woken one.
//!
//! Lock order: shard locks, then this registry's lock (never the reverse).
//!
//! The lock service keeps an instance of its own for clients waiting on
//! leases (keyed by scope and lock name), so lock waiters and list waiters
//! never share a queue.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::keyspace::{Blob, blob};

#[derive(Debug)]
struct Waiter {
    id: u64,
    notify: Notify,
}

/// Registry of blocked clients.
#[derive(Debug, Default)]
pub struct BlockingRegistry {
    queues: Mutex<HashMap<Blob, VecDeque<Arc<Waiter>>>>,
    waiters: AtomicUsize,
    next_id: AtomicU64,
}

/// A client's place in the queues of the keys it blocks on. Leaves them when
/// dropped (served, timed out, or disconnected).
#[derive(Debug)]
pub struct WaitHandle<'r> {
    registry: &'r BlockingRegistry,
    waiter: Arc<Waiter>,
    keys: Vec<Blob>,
}

impl BlockingRegistry {
    /// True if any client is blocked (cheap check on every list write).
    #[inline]
    pub fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) > 0
    }

    /// Number of blocked clients (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Queues a client on `keys`.
    pub fn register<'r, K: AsRef<[u8]>>(&'r self, keys: &[K]) -> WaitHandle<'r> {
        let waiter = Arc::new(Waiter {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            notify: Notify::new(),
        });
        let keys: Vec<Blob> = keys.iter().map(|k| blob(k.as_ref())).collect();
        let mut queues = self.queues.lock();
        for k in &keys {
            queues
                .entry(k.clone())
                .or_default()
                .push_back(waiter.clone());
        }
        self.waiters.fetch_add(1, Ordering::SeqCst);
        WaitHandle {
            registry: self,
            waiter,
            keys,
        }
    }

    /// Clients queued on `key` (a newcomer that finds some goes behind them).
    pub fn queued(&self, key: &[u8]) -> usize {
        if !self.has_waiters() {
            return 0;
        }
        self.queues.lock().get(key).map_or(0, VecDeque::len)
    }

    /// Wakes the first waiter of each key.
    pub fn signal(&self, keys: &[Blob]) {
        let queues = self.queues.lock();
        for k in keys {
            if let Some(w) = queues.get(k).and_then(|q| q.front()) {
                w.notify.notify_one();
            }
        }
    }
}

impl WaitHandle<'_> {
    /// Waits until one of the keys is signalled for this client.
    pub async fn wait(&self) {
        self.waiter.notify.notified().await
    }
}

impl Drop for WaitHandle<'_> {
    fn drop(&mut self) {
        let mut queues = self.registry.queues.lock();
        for k in &self.keys {
            if let Some(q) = queues.get_mut(k) {
                let was_head = q.front().is_some_and(|w| w.id == self.waiter.id);
                q.retain(|w| w.id != self.waiter.id);
                // Pass a wake-up we may have swallowed on to the next in line.
                if was_head && let Some(next) = q.front() {
                    next.notify.notify_one();
                }
                if q.is_empty() {
                    queues.remove(k);
                }
            }
        }
        self.registry.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

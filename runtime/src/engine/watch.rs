//! Optimistic locking for MULTI/EXEC: keys a client WATCHes, and the flag that a
//! write to any of them raises so that client's EXEC aborts.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::keyspace::{Blob, blob};

/// Every WATCHed key and the flags of the clients watching it.
#[derive(Debug, Default)]
pub struct WatchRegistry {
    keys: Mutex<HashMap<Blob, Vec<Arc<AtomicBool>>>>,
    count: AtomicUsize,
}

/// One client's watched keys; dropping it (UNWATCH, EXEC, disconnect) unwatches.
#[derive(Debug)]
pub struct WatchSet<'r> {
    registry: &'r WatchRegistry,
    dirty: Arc<AtomicBool>,
    keys: Vec<Blob>,
}

impl WatchRegistry {
    /// True if any key is watched (cheap check on every write).
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }

    /// A new, empty watch set for one client.
    pub fn watch_set(&self) -> WatchSet<'_> {
        WatchSet {
            registry: self,
            dirty: Arc::new(AtomicBool::new(false)),
            keys: Vec::new(),
        }
    }

    /// Raises the flag of every client watching one of `keys`.
    pub fn touch(&self, keys: &[Blob]) {
        let map = self.keys.lock();
        for k in keys {
            if let Some(flags) = map.get(k) {
                for f in flags {
                    f.store(true, Ordering::SeqCst);
                }
            }
        }
    }

    /// Raises every flag (FLUSHALL).
    pub fn touch_all(&self) {
        for flags in self.keys.lock().values() {
            for f in flags {
                f.store(true, Ordering::SeqCst);
            }
        }
    }
}

impl WatchSet<'_> {
    /// Adds `key` to the set.
    pub fn watch(&mut self, key: &[u8]) {
        let k = blob(key);
        if self.keys.contains(&k) {
            return;
        }
        self.registry
            .keys
            .lock()
            .entry(k.clone())
            .or_default()
            .push(self.dirty.clone());
        self.registry.count.fetch_add(1, Ordering::SeqCst);
        self.keys.push(k);
    }

    /// True if a watched key was written since it was watched.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::SeqCst)
    }

    /// Number of watched keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Drop for WatchSet<'_> {
    fn drop(&mut self) {
        let mut map = self.registry.keys.lock();
        for k in &self.keys {
            if let Some(flags) = map.get_mut(k) {
                flags.retain(|f| !Arc::ptr_eq(f, &self.dirty));
                if flags.is_empty() {
                    map.remove(k);
                }
            }
            self.registry.count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

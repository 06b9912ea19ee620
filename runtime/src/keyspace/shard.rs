//! One shard of the keyspace: a [`Dict`] of entries behind one mutex, with the
//! counters that must stay exact (memory, keys with a TTL).
//!
//! Invariants (hold whenever the shard's lock is released):
//! - `used` is the sum of [`Entry::cost`] over the shard's entries, and the
//!   keyspace-wide counter moved by the same amounts;
//! - `volatile` is the number of entries with `expire_at != 0`;
//! - no entry holds an empty collection (Redis deletes such keys).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::KeyspaceCounters;
use super::dict::Dict;
use super::entry::Entry;

/// A shard of the keyspace. Lock it through [`super::Keyspace::lock`].
#[derive(Debug)]
pub struct Shard {
    entries: Dict<Box<Entry>>,
    volatile: usize,
    used: usize,
    /// Where the active-expiry sweep continues in this shard.
    pub(super) expire_cursor: u64,
    counters: Arc<KeyspaceCounters>,
    /// Keys expired since the last [`Shard::take_expired`], kept only
    /// while `KeyspaceCounters::log_expired` is set.
    expired_log: Vec<super::Blob>,
}

impl Shard {
    pub(super) fn new(counters: Arc<KeyspaceCounters>) -> Shard {
        Shard {
            entries: Dict::new(),
            volatile: 0,
            used: 0,
            expire_cursor: 0,
            counters,
            expired_log: Vec::new(),
        }
    }

    /// Number of keys (including expired ones not yet collected).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the shard holds no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of keys with a TTL.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// Estimated bytes held by this shard's entries.
    pub fn used(&self) -> usize {
        self.used
    }

    /// The bucket of `key`, or `None` if absent. An expired key is deleted here
    /// (lazy expiry) and reported absent.
    #[inline]
    pub fn find(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<usize> {
        let index = self.entries.find_index_hashed(hash, key)?;
        let expired = self.entries.at(index).is_some_and(|e| e.is_expired(now_ms));
        if expired {
            let gone = self.remove_at(index);
            self.counters.expired.fetch_add(1, Ordering::Relaxed);
            if let Some(e) = gone
                && self.counters.log_expired.load(Ordering::Relaxed)
            {
                self.expired_log.push(e.key);
                self.counters.expired_logged.fetch_add(1, Ordering::Relaxed);
            }
            return None;
        }
        Some(index)
    }

    /// The entry in bucket `index` (from [`Shard::find`] or a scan).
    #[inline]
    pub fn at(&self, index: usize) -> Option<&Entry> {
        self.entries.at(index).map(|b| &**b)
    }

    /// Records a read access of the entry at `index`.
    #[inline]
    pub fn touch(&mut self, index: usize, now_ms: u64, lfu: Option<(u64, u64)>) {
        if let Some(e) = self.entries.at_mut(index) {
            e.touch(now_ms, lfu);
        }
    }

    /// Mutable access to the entry at `index`; accounting is settled when the
    /// returned guard drops (and an emptied collection is deleted then).
    #[inline]
    pub fn entry_mut(&mut self, index: usize) -> Option<EntryMut<'_>> {
        let e = self.entries.at(index)?;
        let before_cost = e.cost();
        let before_volatile = e.expire_at != 0;
        Some(EntryMut {
            shard: self,
            index,
            before_cost,
            before_volatile,
        })
    }

    /// Inserts an entry whose key is absent; returns its bucket index.
    pub fn insert_new(&mut self, hash: u64, entry: Box<Entry>) -> usize {
        self.account_add(&entry);
        self.entries.insert_new_hashed(hash, entry)
    }

    /// The keys expired since the last call (see `KeyspaceCounters::log_expired`).
    pub fn take_expired(&mut self) -> Vec<super::Blob> {
        let taken = std::mem::take(&mut self.expired_log);
        self.counters
            .expired_logged
            .fetch_sub(taken.len(), Ordering::Relaxed);
        taken
    }

    /// Removes and returns the entry at `index`.
    pub fn remove_at(&mut self, index: usize) -> Option<Box<Entry>> {
        let entry = self.entries.remove_at(index)?;
        self.account_remove(&entry);
        Some(entry)
    }

    /// Removes every entry; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.entries.len();
        self.counters.used.fetch_sub(self.used, Ordering::Relaxed);
        self.entries.clear();
        self.used = 0;
        self.volatile = 0;
        n
    }

    /// The underlying dict, read-only (scans, sampling).
    pub fn dict(&self) -> &Dict<Box<Entry>> {
        &self.entries
    }

    fn account_add(&mut self, e: &Entry) {
        let c = e.cost();
        self.used += c;
        self.counters.used.fetch_add(c, Ordering::Relaxed);
        if e.expire_at != 0 {
            self.volatile += 1;
        }
    }

    fn account_remove(&mut self, e: &Entry) {
        let c = e.cost();
        self.used -= c;
        self.counters.used.fetch_sub(c, Ordering::Relaxed);
        if e.expire_at != 0 {
            self.volatile -= 1;
        }
    }
}

/// Mutable access to one entry that settles memory and TTL accounting on drop.
pub struct EntryMut<'a> {
    shard: &'a mut Shard,
    index: usize,
    before_cost: usize,
    before_volatile: bool,
}

impl EntryMut<'_> {
    /// The bucket index of this entry.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Deref for EntryMut<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        // Invariant: nothing can remove the entry while this guard borrows the shard.
        self.shard
            .entries
            .at(self.index)
            .expect("entry present while guarded")
    }
}

impl DerefMut for EntryMut<'_> {
    fn deref_mut(&mut self) -> &mut Entry {
        self.shard
            .entries
            .at_mut(self.index)
            .expect("entry present while guarded")
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        let Some(e) = self.shard.entries.at(self.index) else {
            return;
        };
        let after_cost = e.cost();
        let after_volatile = e.expire_at != 0;
        let empty = e.value.is_empty_collection();
        let shard = &mut *self.shard;
        shard.used = shard.used + after_cost - self.before_cost;
        if after_cost >= self.before_cost {
            shard
                .counters
                .used
                .fetch_add(after_cost - self.before_cost, Ordering::Relaxed);
        } else {
            shard
                .counters
                .used
                .fetch_sub(self.before_cost - after_cost, Ordering::Relaxed);
        }
        match (self.before_volatile, after_volatile) {
            (false, true) => shard.volatile += 1,
            (true, false) => shard.volatile -= 1,
            _ => {}
        }
        if empty {
            shard.remove_at(self.index);
        }
    }
}

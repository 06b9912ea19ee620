//! The in-memory keyspace: N shards (a power of two) chosen by key hash, each a
//! [`Dict`] of [`Entry`]s behind its own short-held mutex, plus the exact
//! counters behind `INFO` and `maxmemory`.
//!
//! The keyspace knows about storage, expiry and eviction. It must not know about
//! commands or protocols: the `engine` decides *what* to change and locks shards
//! through [`Keyspace::lock`]; the keyspace keeps the invariants listed in
//! the `shard` module.

mod blob;
mod dict;
mod entry;
mod eviction;
mod expiry;
mod hash;
mod list;
mod set;
mod shard;
mod value;
mod zset;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

pub use blob::{Blob, blob};
pub use dict::{CURSOR_BITS, Dict, DictItem, hash_key};
pub use entry::{Entry, LFU_INIT, LRU_TICK_MS, lru_clock};
pub use eviction::{EvictionPolicy, EvictionSettings};
pub use hash::{Field, HashValue};
pub use list::ListValue;
pub use set::SetValue;
pub use shard::{EntryMut, Shard};
pub use value::{Kind, Value};
pub use zset::{LexBound, Score, ScoreBound, SortedSet, ZMember};

/// Counters shared by all shards; each shard moves them under its own lock.
#[derive(Debug, Default)]
pub struct KeyspaceCounters {
    /// Estimated bytes of all entries.
    pub used: AtomicUsize,
    /// Keys deleted because their TTL passed.
    pub expired: AtomicU64,
    /// Keys deleted to stay under `maxmemory`.
    pub evicted: AtomicU64,
    /// When set, shards keep the names of keys they expire until
    /// [`Shard::take_expired`] (for `expired` keyspace notifications).
    pub log_expired: std::sync::atomic::AtomicBool,
    /// Keys logged by shards and not yet taken.
    pub expired_logged: AtomicUsize,
}

/// The sharded keyspace.
#[derive(Debug)]
pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    shard_bits: u32,
    counters: Arc<KeyspaceCounters>,
    /// Shard where the next active-expiry cycle starts.
    expire_next: AtomicUsize,
}

impl Keyspace {
    /// A keyspace of `2^shard_bits` shards.
    pub fn new(shard_bits: u32) -> Keyspace {
        let counters = Arc::new(KeyspaceCounters::default());
        let shards = (0..1usize << shard_bits)
            .map(|_| Mutex::new(Shard::new(counters.clone())))
            .collect();
        Keyspace {
            shards,
            shard_bits,
            counters,
            expire_next: AtomicUsize::new(0),
        }
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shard a key hash belongs to. Uses high bits, which the table itself
    /// does not use for bucket selection.
    #[inline]
    pub fn shard_of(&self, hash: u64) -> usize {
        ((hash >> 40) as usize) & ((1 << self.shard_bits) - 1)
    }

    /// Locks shard `index`. Callers that lock several shards must lock them in
    /// increasing index order and must not hold a lock across an `.await`.
    #[inline]
    pub fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        self.shards[index].lock()
    }

    /// Shared counters (memory, expired, evicted).
    pub fn counters(&self) -> &KeyspaceCounters {
        &self.counters
    }

    /// Estimated bytes used by all entries.
    pub fn used_bytes(&self) -> usize {
        self.counters.used.load(Ordering::Relaxed)
    }

    /// Total keys and keys with a TTL (locks each shard briefly).
    pub fn key_counts(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(k, v), s| {
            let s = s.lock();
            (k + s.len(), v + s.volatile())
        })
    }
}

impl Keyspace {
    /// Recomputes every shard's counters from its entries and compares them
    /// with the incrementally maintained ones. Returns a description of the
    /// first mismatch. For tests: O(keyspace) and locks every shard in turn.
    pub fn verify_accounting(&self) -> Result<(), String> {
        let mut total = 0;
        for (i, s) in self.shards.iter().enumerate() {
            let s = s.lock();
            let used: usize = s.dict().iter().map(|e| e.cost()).sum();
            let volatile = s.dict().iter().filter(|e| e.expire_at != 0).count();
            if used != s.used() {
                return Err(format!(
                    "shard {i}: used {} but entries cost {used}",
                    s.used()
                ));
            }
            if volatile != s.volatile() {
                return Err(format!(
                    "shard {i}: volatile {} but {volatile} keys have a TTL",
                    s.volatile()
                ));
            }
            for e in s.dict().iter() {
                let (kept, recount) = match &e.value {
                    // Documents are estimated from automerge's own counts
                    // each time: nothing kept to drift.
                    Value::Str(_) | Value::Doc(_) => continue,
                    Value::Hash(h) => (h.bytes(), h.recount_bytes()),
                    Value::Set(v) => (v.bytes(), v.recount_bytes()),
                    Value::ZSet(z) => (z.bytes(), z.recount_bytes()),
                    Value::List(l) => (
                        l.bytes(),
                        l.iter()
                            .map(|b| std::mem::size_of::<Blob>() + blob::heap_bytes(b))
                            .sum(),
                    ),
                };
                if kept != recount {
                    return Err(format!(
                        "shard {i}: key {:?} counts {kept} bytes but holds {recount}",
                        e.key
                    ));
                }
            }
            if let Some(e) = s.dict().iter().find(|e| e.value.is_empty_collection()) {
                return Err(format!(
                    "shard {i}: key {:?} holds an empty collection",
                    e.key
                ));
            }
            total += used;
        }
        if total != self.used_bytes() {
            return Err(format!(
                "global used {} but shards sum to {total}",
                self.used_bytes()
            ));
        }
        Ok(())
    }
}

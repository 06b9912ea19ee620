//! Active expiry: a periodic, time-bounded sweep that deletes expired keys
//! nobody reads (lazy expiry in [`Shard::find`] handles the ones that are read).
//!
//! Unlike Redis, which samples a separate table of volatile keys, the sweep walks
//! each shard's buckets with a persistent cursor and skips shards without TTLs;
//! bucket walks are cheap and this bounds how long an expired key can linger.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Blob, Keyspace, Shard};

/// Buckets examined per shard lock hold, so writers wait microseconds at most.
const BUCKETS_PER_STEP: usize = 256;

impl Keyspace {
    /// Runs one active-expiry cycle for at most `budget`; returns keys deleted.
    pub fn expire_cycle(&self, now_ms: u64, budget: Duration) -> usize {
        let started = Instant::now();
        let shards = self.shard_count();
        let first = self.expire_next.load(Ordering::Relaxed) % shards;
        let mut deleted = 0;
        for step in 0..shards {
            let index = (first + step) % shards;
            self.expire_next.store(index, Ordering::Relaxed);
            loop {
                let mut shard = self.lock(index);
                if shard.volatile() == 0 {
                    shard.expire_cursor = 0;
                    break;
                }
                let done = sweep_step(&mut shard, now_ms, &mut deleted);
                drop(shard);
                if started.elapsed() >= budget {
                    return deleted;
                }
                if done {
                    break;
                }
            }
        }
        self.expire_next.store(first, Ordering::Relaxed);
        deleted
    }
}

/// Sweeps the next buckets of one shard; returns true when its walk wrapped.
fn sweep_step(shard: &mut Shard, now_ms: u64, deleted: &mut usize) -> bool {
    let mut expired: Vec<Blob> = Vec::new();
    let next = shard
        .dict()
        .scan(shard.expire_cursor, BUCKETS_PER_STEP, |e| {
            if e.is_expired(now_ms) {
                expired.push(e.key.clone());
            }
        });
    shard.expire_cursor = next;
    for key in expired {
        // `find` performs the lazy-expiry deletion and counts it.
        let hash = super::hash_key(&key);
        let _ = shard.find(hash, &key, now_ms);
        *deleted += 1;
    }
    next == 0
}

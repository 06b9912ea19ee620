//! One key of the keyspace: its value, expiry, last-write stamp and access
//! statistics for eviction.

use super::blob::{Blob, heap_bytes};
use super::dict::DictItem;
use super::value::Value;
use crate::clock::{RegionId, Stamp};

/// A stored key. Kept to 80 bytes so a small string key is one allocation of
/// one jemalloc size class.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key.
    pub key: Blob,
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// HLC stamp of the last write.
    pub stamp: Stamp,
    /// Region that made the last write.
    pub region: RegionId,
    /// Logarithmic access-frequency counter (LFU policies).
    pub lfu: u8,
    /// Last access in units of [`LRU_TICK_MS`] (wrapping).
    pub lru: u32,
}

/// Resolution of the per-key access clock.
pub const LRU_TICK_MS: u64 = 10;

/// The access clock value for a wall-clock time.
#[inline]
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / LRU_TICK_MS) as u32
}

/// Initial LFU counter of a new key, as in Redis (so new keys are not evicted
/// at once).
pub const LFU_INIT: u8 = 5;

impl Entry {
    /// A new entry written at `stamp` by `region`.
    pub fn new(key: Blob, value: Value, stamp: Stamp, region: RegionId, now_ms: u64) -> Entry {
        Entry {
            key,
            value,
            expire_at: 0,
            stamp,
            region,
            lfu: LFU_INIT,
            lru: lru_clock(now_ms),
        }
    }

    /// True if the key has expired at `now_ms`.
    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }

    /// Estimated memory the entry costs: its allocation, its table slot, and the
    /// heap bytes of key and value.
    #[inline]
    pub fn cost(&self) -> usize {
        std::mem::size_of::<Entry>() + 12 + heap_bytes(&self.key) + self.value.heap_bytes()
    }

    /// Milliseconds since the last access.
    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        lru_clock(now_ms).wrapping_sub(self.lru) as u64 * LRU_TICK_MS
    }

    /// The LFU counter after decay for the time since the last access
    /// (one step per `decay_minutes`, as Redis's `lfu-decay-time`).
    pub fn lfu_decayed(&self, now_ms: u64, decay_minutes: u64) -> u8 {
        if decay_minutes == 0 {
            return self.lfu;
        }
        let periods = self.idle_ms(now_ms) / 60_000 / decay_minutes;
        self.lfu.saturating_sub(periods.min(255) as u8)
    }

    /// Records an access: refreshes the LRU clock and, when `lfu_log_factor` is
    /// given, bumps the LFU counter logarithmically like Redis.
    pub fn touch(&mut self, now_ms: u64, lfu: Option<(u64, u64)>) {
        if let Some((log_factor, decay_minutes)) = lfu {
            let mut counter = self.lfu_decayed(now_ms, decay_minutes);
            if counter < 255 {
                let base = counter.saturating_sub(LFU_INIT) as f64;
                let p = 1.0 / (base * log_factor as f64 + 1.0);
                if rand::random::<f64>() < p {
                    counter += 1;
                }
            }
            self.lfu = counter;
        }
        self.lru = lru_clock(now_ms);
    }
}

impl DictItem for Box<Entry> {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_string_entry_fits_one_size_class() {
        assert!(
            std::mem::size_of::<Entry>() <= 80,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }
}

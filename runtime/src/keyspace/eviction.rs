//! Eviction under `maxmemory`, with Redis's policies and its sampling
//! approximation: look at a few random keys, evict the best candidate, repeat
//! until under the limit.

use std::sync::atomic::Ordering;

use super::{Entry, Keyspace};

/// What to evict when memory is over `maxmemory` (Redis's `maxmemory-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvictionPolicy {
    /// Refuse writes with an OOM error.
    #[default]
    NoEviction,
    /// Least recently used among all keys.
    AllKeysLru,
    /// Least frequently used among all keys.
    AllKeysLfu,
    /// Any key.
    AllKeysRandom,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with a TTL that expires soonest.
    VolatileTtl,
}

impl EvictionPolicy {
    /// All policies with their configuration names.
    pub const ALL: [(EvictionPolicy, &'static str); 8] = [
        (EvictionPolicy::NoEviction, "noeviction"),
        (EvictionPolicy::AllKeysLru, "allkeys-lru"),
        (EvictionPolicy::AllKeysLfu, "allkeys-lfu"),
        (EvictionPolicy::AllKeysRandom, "allkeys-random"),
        (EvictionPolicy::VolatileLru, "volatile-lru"),
        (EvictionPolicy::VolatileLfu, "volatile-lfu"),
        (EvictionPolicy::VolatileRandom, "volatile-random"),
        (EvictionPolicy::VolatileTtl, "volatile-ttl"),
    ];

    /// Parses a policy name.
    pub fn from_name(name: &str) -> Option<EvictionPolicy> {
        let lower = name.to_ascii_lowercase();
        Self::ALL.iter().find(|(_, n)| *n == lower).map(|(p, _)| *p)
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .unwrap_or("noeviction")
    }

    /// True for the LFU policies (which maintain access counters).
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu
        )
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }

    /// Eviction priority of a candidate: higher is evicted first.
    fn priority(self, e: &Entry, now_ms: u64, lfu_decay: u64) -> u64 {
        match self {
            EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => e.idle_ms(now_ms),
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => {
                255 - e.lfu_decayed(now_ms, lfu_decay) as u64
            }
            EvictionPolicy::VolatileTtl => u64::MAX - e.expire_at,
            _ => 0,
        }
    }
}

/// Settings eviction needs.
#[derive(Debug, Clone, Copy)]
pub struct EvictionSettings {
    /// Limit in bytes; 0 means unlimited.
    pub maxmemory: usize,
    /// Policy.
    pub policy: EvictionPolicy,
    /// Keys sampled per eviction (`maxmemory-samples`).
    pub samples: usize,
    /// `lfu-decay-time` in minutes.
    pub lfu_decay: u64,
}

impl Keyspace {
    /// Evicts keys until estimated memory is at most `maxmemory`. Returns false
    /// if over the limit and nothing can be evicted (the caller answers OOM).
    pub fn make_room(&self, s: &EvictionSettings, now_ms: u64) -> bool {
        if s.maxmemory == 0 {
            return true;
        }
        // Bounded so a pathological state cannot stall one command forever.
        for _ in 0..100_000 {
            if self.used_bytes() <= s.maxmemory {
                return true;
            }
            if s.policy == EvictionPolicy::NoEviction || !self.evict_one(s, now_ms) {
                return false;
            }
        }
        self.used_bytes() <= s.maxmemory
    }

    /// Evicts one key chosen by policy from a sample; false if no candidate.
    fn evict_one(&self, s: &EvictionSettings, now_ms: u64) -> bool {
        let shards = self.shard_count();
        let start = rand::random_range(0..shards);
        for step in 0..shards {
            let mut shard = self.lock((start + step) % shards);
            if shard.is_empty() || (s.policy.volatile_only() && shard.volatile() == 0) {
                continue;
            }
            let mut best: Option<(u64, usize)> = None;
            let tries = if s.policy.volatile_only() {
                s.samples * 8
            } else {
                s.samples
            };
            let mut found = 0;
            for _ in 0..tries.max(1) {
                let Some(i) = shard.dict().random_index() else {
                    break;
                };
                let Some(e) = shard.at(i) else { continue };
                if s.policy.volatile_only() && e.expire_at == 0 {
                    continue;
                }
                let p = s.policy.priority(e, now_ms, s.lfu_decay);
                if best.is_none_or(|(bp, _)| p > bp) {
                    best = Some((p, i));
                }
                found += 1;
                if found >= s.samples {
                    break;
                }
            }
            if let Some((_, i)) = best {
                shard.remove_at(i);
                self.counters().evicted.fetch_add(1, Ordering::Relaxed);
                return true;
            }
        }
        false
    }
}

//! Settings the engine reads on the hot path, stored in atomics so that
//! `CONFIG SET` takes effect at once without a lock on every command.

use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

use crate::keyspace::{EvictionPolicy, EvictionSettings};

/// Live engine settings.
#[derive(Debug)]
pub struct EngineSettings {
    maxmemory: AtomicUsize,
    policy: AtomicU8,
    samples: AtomicUsize,
    lfu_log_factor: AtomicU64,
    lfu_decay_time: AtomicU64,
    proto_max_bulk_len: AtomicUsize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            maxmemory: AtomicUsize::new(0),
            policy: AtomicU8::new(0),
            samples: AtomicUsize::new(5),
            lfu_log_factor: AtomicU64::new(10),
            lfu_decay_time: AtomicU64::new(1),
            proto_max_bulk_len: AtomicUsize::new(512 * 1024 * 1024),
        }
    }
}

fn policy_index(p: EvictionPolicy) -> u8 {
    EvictionPolicy::ALL
        .iter()
        .position(|(q, _)| *q == p)
        .unwrap_or(0) as u8
}

impl EngineSettings {
    /// `maxmemory` in bytes (0 = unlimited).
    pub fn maxmemory(&self) -> usize {
        self.maxmemory.load(Ordering::Relaxed)
    }
    /// Sets `maxmemory`.
    pub fn set_maxmemory(&self, v: usize) {
        self.maxmemory.store(v, Ordering::Relaxed)
    }
    /// `maxmemory-policy`.
    pub fn policy(&self) -> EvictionPolicy {
        let i = self.policy.load(Ordering::Relaxed) as usize;
        EvictionPolicy::ALL
            .get(i)
            .map(|(p, _)| *p)
            .unwrap_or_default()
    }
    /// Sets `maxmemory-policy`.
    pub fn set_policy(&self, p: EvictionPolicy) {
        self.policy.store(policy_index(p), Ordering::Relaxed)
    }
    /// `maxmemory-samples`.
    pub fn samples(&self) -> usize {
        self.samples.load(Ordering::Relaxed)
    }
    /// Sets `maxmemory-samples`.
    pub fn set_samples(&self, v: usize) {
        self.samples.store(v.max(1), Ordering::Relaxed)
    }
    /// `lfu-log-factor`.
    pub fn lfu_log_factor(&self) -> u64 {
        self.lfu_log_factor.load(Ordering::Relaxed)
    }
    /// Sets `lfu-log-factor`.
    pub fn set_lfu_log_factor(&self, v: u64) {
        self.lfu_log_factor.store(v, Ordering::Relaxed)
    }
    /// `lfu-decay-time` in minutes.
    pub fn lfu_decay_time(&self) -> u64 {
        self.lfu_decay_time.load(Ordering::Relaxed)
    }
    /// Sets `lfu-decay-time`.
    pub fn set_lfu_decay_time(&self, v: u64) {
        self.lfu_decay_time.store(v, Ordering::Relaxed)
    }
    /// Largest string value accepted (`proto-max-bulk-len`).
    pub fn proto_max_bulk_len(&self) -> usize {
        self.proto_max_bulk_len.load(Ordering::Relaxed)
    }
    /// Sets `proto-max-bulk-len`.
    pub fn set_proto_max_bulk_len(&self, v: usize) {
        self.proto_max_bulk_len.store(v, Ordering::Relaxed)
    }
    /// The LFU parameters for an access, if an LFU policy is active.
    pub fn lfu_touch(&self) -> Option<(u64, u64)> {
        self.policy()
            .is_lfu()
            .then(|| (self.lfu_log_factor(), self.lfu_decay_time()))
    }
    /// Snapshot of what eviction needs.
    pub fn eviction(&self) -> EvictionSettings {
        EvictionSettings {
            maxmemory: self.maxmemory(),
            policy: self.policy(),
            samples: self.samples(),
            lfu_decay: self.lfu_decay_time(),
        }
    }
}

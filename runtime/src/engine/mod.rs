//! The engine: the one typed API every front end calls — the RESP gateway now,
//! WASM guests and Lua later. A front end parses its protocol into typed calls
//! on a [`Txn`]; the engine applies them to the [`Keyspace`] and reports the
//! effects (woken blocked clients, invalidated WATCHes).
//!
//! The engine must not know about any wire protocol: it returns typed values
//! and [`EngineError`]s, never RESP frames.
//!
//! Atomicity: a [`Txn`] locks the shards of the keys it declares (in shard
//! order, so transactions never deadlock) and holds them until dropped; a
//! command runs in one `Txn`, MULTI/EXEC runs all its commands in one
//! [`Engine::txn_all`].

pub mod bitmaps;
mod blocking;
pub mod change;
mod copy;
mod digest;
pub mod documents;
pub mod dump;
mod error;
pub mod geo;
pub mod geohash;
pub mod hashes;
mod hll_format;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod notify;
pub mod number;
pub mod object;
mod pattern;
pub mod pubsub;
pub mod replica;
mod replicated;
pub mod sets;
mod settings;
pub mod sink;
pub mod sort;
pub mod strings;
mod txn;
mod watch;
pub mod zsets;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::clock::{Hlc, RegionId};
use crate::keyspace::{Keyspace, hash_key};

pub use blocking::{BlockingRegistry, WaitHandle};
pub use digest::Digest;
pub use error::{EngineError, EngineResult};
pub use pattern::glob_match;
pub use pubsub::{Broker, Mailbox, Message, SubscriberId};
pub use settings::EngineSettings;
pub use txn::Txn;
pub use watch::{WatchRegistry, WatchSet};

/// Counters behind INFO `stats`.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Reads that found their key.
    pub hits: AtomicU64,
    /// Reads that did not.
    pub misses: AtomicU64,
}

/// The engine of one region.
#[derive(Debug)]
pub struct Engine {
    keyspace: Keyspace,
    clock: Hlc,
    region: RegionId,
    settings: EngineSettings,
    stats: EngineStats,
    broker: Broker,
    blocking: BlockingRegistry,
    watches: WatchRegistry,
    started: Instant,
    replica: Option<replica::Replica>,
    notifier: notify::Notifier,
    locks: crate::locks::Locks,
}

impl Engine {
    /// An engine for `region` with `2^shard_bits` keyspace shards.
    pub fn new(region: RegionId, shard_bits: u32) -> Engine {
        Engine::build(region, shard_bits, None, 1)
    }

    /// An engine for one region of a multi-region deployment: every write is
    /// committed to the replication log, and peers' changes can be applied.
    pub fn replicated(shard_bits: u32, config: replica::ReplicaConfig) -> Engine {
        let region = config.me;
        let shards = 1usize << shard_bits;
        let regions = config.peers.len() + 1;
        Engine::build(
            region,
            shard_bits,
            Some(replica::Replica::new(config, shards)),
            regions,
        )
    }

    fn build(
        region: RegionId,
        shard_bits: u32,
        replica: Option<replica::Replica>,
        regions: usize,
    ) -> Engine {
        let clock = Hlc::new();
        if let Some(r) = &replica {
            r.start_at(clock.now());
        }
        Engine {
            keyspace: Keyspace::new(shard_bits),
            clock,
            region,
            settings: EngineSettings::default(),
            stats: EngineStats::default(),
            broker: Broker::default(),
            blocking: BlockingRegistry::default(),
            watches: WatchRegistry::default(),
            started: Instant::now(),
            replica,
            notifier: notify::Notifier::default(),
            locks: crate::locks::Locks::new(region, regions),
        }
    }

    /// The replication state, if this region replicates.
    #[inline]
    pub fn replica(&self) -> Option<&replica::Replica> {
        self.replica.as_ref()
    }

    /// The keyspace (for INFO and background maintenance).
    pub fn keyspace(&self) -> &Keyspace {
        &self.keyspace
    }
    /// This region's id.
    pub fn region(&self) -> RegionId {
        self.region
    }
    /// This region's hybrid logical clock.
    pub fn clock(&self) -> &Hlc {
        &self.clock
    }
    /// Live settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }
    /// Hit/miss counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }
    /// Pub/sub broker.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }
    /// Clients blocked on list keys.
    pub fn blocking(&self) -> &BlockingRegistry {
        &self.blocking
    }
    /// Leases and fencing tokens (LOCK.*, fenced writes).
    pub fn locks(&self) -> &crate::locks::Locks {
        &self.locks
    }
    /// WATCHed keys.
    pub fn watches(&self) -> &WatchRegistry {
        &self.watches
    }
    /// Keyspace notifications (`notify-keyspace-events`).
    pub fn notifier(&self) -> &notify::Notifier {
        &self.notifier
    }

    /// Sets `notify-keyspace-events` (flags from [`notify::parse_flags`]).
    pub fn set_notify_flags(&self, flags: u32) {
        self.notifier.set_flags(flags);
        let log = self.notifier.wants(notify::class::EXPIRED);
        self.keyspace
            .counters()
            .log_expired
            .store(log, Ordering::Relaxed);
    }

    /// One active-expiry cycle (see `Keyspace::expire_cycle`), then the
    /// `expired` notifications for every key expired since the last cycle,
    /// lazily or actively. Returns the keys the cycle deleted.
    pub fn expire_cycle(&self, now_ms: u64, budget: std::time::Duration) -> usize {
        let deleted = self.keyspace.expire_cycle(now_ms, budget);
        // Also drains what was logged before the `x` class was turned off
        // (then nothing is published).
        if self
            .keyspace
            .counters()
            .expired_logged
            .load(Ordering::Relaxed)
            > 0
        {
            for i in 0..self.keyspace.shard_count() {
                let keys = self.keyspace.lock(i).take_expired();
                for key in keys {
                    self.notifier
                        .publish(&self.broker, notify::class::EXPIRED, "expired", &key);
                }
            }
        }
        deleted
    }

    /// When the engine started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// A transaction over the shards of `keys`.
    pub fn txn<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Txn<'_> {
        self.txn_at(keys, crate::clock::unix_ms())
    }

    /// [`Engine::txn`] judging expiry (and computing TTL deadlines) at
    /// `now_ms` instead of reading the clock: for a caller whose whole run
    /// happens at one instant, as a Redis script or function does.
    pub fn txn_at<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>, now_ms: u64) -> Txn<'_> {
        let mut shards: smallvec::SmallVec<[usize; 4]> = keys
            .into_iter()
            .map(|k| self.keyspace.shard_of(hash_key(k)))
            .collect();
        shards.sort_unstable();
        shards.dedup();
        Txn::new(
            self,
            shards
                .into_iter()
                .map(|i| (i, self.keyspace.lock(i)))
                .collect(),
            false,
            now_ms,
        )
    }

    /// A transaction over a single key (the hot path).
    #[inline]
    pub fn txn_one(&self, key: &[u8]) -> Txn<'_> {
        self.txn_one_at(key, crate::clock::unix_ms())
    }

    /// [`Engine::txn_one`] at `now_ms` (see [`Engine::txn_at`]).
    #[inline]
    pub fn txn_one_at(&self, key: &[u8], now_ms: u64) -> Txn<'_> {
        let i = self.keyspace.shard_of(hash_key(key));
        Txn::new(
            self,
            smallvec::smallvec![(i, self.keyspace.lock(i))],
            false,
            now_ms,
        )
    }

    /// A transaction holding every shard (MULTI/EXEC, scripts).
    pub fn txn_all(&self) -> Txn<'_> {
        let guards = (0..self.keyspace.shard_count())
            .map(|i| (i, self.keyspace.lock(i)))
            .collect();
        Txn::new(self, guards, true, crate::clock::unix_ms())
    }

    /// A transaction holding no shard: for commands that visit shards one by
    /// one (KEYS, SCAN, DBSIZE, FLUSHALL) and so never hold two at once.
    pub fn txn_none(&self) -> Txn<'_> {
        Txn::new(
            self,
            smallvec::SmallVec::new(),
            false,
            crate::clock::unix_ms(),
        )
    }

    /// Refuses writes while a replicated region is catching up after a
    /// restart (see [`replica::Replica::accepts_writes`]). Every front end
    /// asks before it runs a write.
    pub fn check_writable(&self) -> EngineResult<()> {
        match &self.replica {
            Some(r) if !r.accepts_writes() => Err(EngineError::CatchingUp),
            _ => Ok(()),
        }
    }

    /// Evicts per policy until memory is under `maxmemory`; `OutOfMemory` if it
    /// cannot. Called before commands that may grow memory, with no shard held.
    pub fn make_room(&self) -> EngineResult<()> {
        let s = self.settings.eviction();
        if s.maxmemory == 0 || self.keyspace.used_bytes() <= s.maxmemory {
            return Ok(());
        }
        if self.keyspace.make_room(&s, crate::clock::unix_ms()) {
            Ok(())
        } else {
            Err(EngineError::OutOfMemory)
        }
    }

    /// Counts a read for INFO's hit ratio.
    pub(crate) fn count_read(&self, hit: bool) {
        let c = if hit {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

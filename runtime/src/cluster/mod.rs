//! In-region sharding compatible with Redis Cluster clients: a region may run
//! several nodes, each owning some of the 16384 hash slots. A node answers
//! `MOVED` for a key another node owns and `CROSSSLOT` for a command whose
//! keys span slots, and describes the map with `CLUSTER SLOTS/SHARDS/NODES`,
//! so cluster-aware clients (the `redis` crate's cluster client, redis-py's
//! `RedisCluster`, ioredis's `Cluster`) route by themselves.
//!
//! Replication between regions runs shard to shard: each node's
//! `[replication]` peers are the nodes owning the same slots in the other
//! regions (docs/deploy.md). This module owns slots and the map; it must not
//! parse RESP or write replies (`resp::command::cluster` does).

mod map;
mod slot;

use parking_lot::RwLock;

pub use map::{ClusterNode, Route, SlotMap};
pub use slot::{SLOTS, Slot, SlotRange, key_slot};

/// A node's view of its region's slots, shared by its connections: read on
/// every command, changed by `CLUSTER SETSLOT`.
#[derive(Debug)]
pub struct Cluster {
    map: RwLock<SlotMap>,
}

impl Cluster {
    /// The node's cluster state, starting from `map`.
    pub fn new(map: SlotMap) -> Cluster {
        Cluster {
            map: RwLock::new(map),
        }
    }

    /// Reads the map.
    pub fn map(&self) -> parking_lot::RwLockReadGuard<'_, SlotMap> {
        self.map.read()
    }

    /// Changes the map.
    pub fn map_mut(&self) -> parking_lot::RwLockWriteGuard<'_, SlotMap> {
        self.map.write()
    }
}

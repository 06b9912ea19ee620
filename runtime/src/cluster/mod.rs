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
mod state;

use parking_lot::RwLock;

pub use map::{ClusterNode, Route, SlotMap};
pub use slot::{SLOTS, Slot, SlotRange, key_slot};
pub use state::SlotStateFile;

/// A node's view of its region's slots, shared by its connections: read on
/// every command, changed by `CLUSTER SETSLOT`.
#[derive(Debug)]
pub struct Cluster {
    map: RwLock<SlotMap>,
    /// Where ownership changes are kept, if anywhere.
    state: Option<SlotStateFile>,
}

impl Cluster {
    /// The node's cluster state, starting from `map`; ownership changes are
    /// saved to `state` if given.
    pub fn new(map: SlotMap, state: Option<SlotStateFile>) -> Cluster {
        Cluster {
            map: RwLock::new(map),
            state,
        }
    }

    /// Makes `node` the owner of `slot` and saves the new ownership.
    pub fn assign(&self, slot: Slot, node: usize) -> std::io::Result<()> {
        self.map.write().assign(slot, node);
        match &self.state {
            Some(file) => file.save_with(|| self.map.read().clone()),
            None => Ok(()),
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

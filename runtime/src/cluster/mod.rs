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

pub use map::{ClusterNode, Route, SlotMap};
pub use slot::{SLOTS, Slot, SlotRange, key_slot};

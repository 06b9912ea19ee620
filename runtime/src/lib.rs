//! Meridian: a multi-region, active-active edge cache.
//!
//! Data flows in one direction: front ends ([`resp`]) → [`engine`] →
//! [`keyspace`]; [`clock`] stamps every write. [`crdt`] holds the replicated
//! value types and [`replication`] the links between regions; both are
//! built and tested but not yet wired into the engine. See `docs/` for the
//! semantics
//! users rely on and DESIGN.md for the architecture.

pub mod clock;
pub mod config;
pub mod crdt;
pub mod engine;
pub mod keyspace;
pub mod replication;
pub mod resp;
pub mod server;

/// jemalloc as the allocator: less fragmentation under churn, and the exact
/// allocated-bytes figure INFO reports as `used_memory`.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

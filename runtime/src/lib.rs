//! Meridian: a multi-region, active-active edge cache.
//!
//! Data flows in one direction: front ends ([`resp`]) → [`engine`] →
//! [`keyspace`]; [`clock`] stamps every write. With several regions, the
//! engine's `replica` turns each transaction into a change and merges the
//! changes of others; [`replication`] carries them between regions, and
//! [`local_cluster`] runs several regions in one process. [`persist`]
//! records the engine's transitions so a region survives a restart.
//! [`crdt`] holds the delta-state CRDTs that finer-grained per-type merges
//! will use; [`docs`] the automerge documents `DOC.*` keys hold.
//! [`locks`] grants leases with fencing tokens, in one region or by a
//! majority of regions over the replication links.
//! [`wasm`] runs WebAssembly guests (edge HTTP functions, FCALL plugins)
//! against the same engine. [`admin`] serves metrics and the module API
//! over HTTP, and with them the web [`console`]. See
//! `docs/` for the semantics users rely on and DESIGN.md for the
//! architecture.

pub mod acl;
pub mod admin;
pub mod client_tls;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod console;
pub mod crdt;
pub mod docs;
pub mod engine;
pub mod keyspace;
pub mod local_cluster;
pub mod locks;
pub mod persist;
pub mod replication;
pub mod resp;
pub mod scripting;
pub mod server;
pub mod wasm;

/// jemalloc as the allocator: less fragmentation under churn, and the exact
/// allocated-bytes figure INFO reports as `used_memory`.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

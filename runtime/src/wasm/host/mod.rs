//! The host side of each imported `meridian:cache` interface, one file per
//! interface. Every function scopes its keys through the module's sandbox,
//! runs one engine [`Txn`](crate::engine::Txn) over exactly those keys (so a
//! call is atomic, with the same semantics as the RESP command it mirrors),
//! and maps engine errors to the WIT `error`.
//!
//! Nothing here may block on I/O or hold a shard lock after returning; the
//! `lock` interface's calls are async (they may wait for other regions) and
//! bounded by the module's call deadline.

mod cache;
mod collections;
mod counter;
mod document;
pub mod keyvalue;
pub mod lock;

use super::bindings::meridian::cache::types;
use super::state::GuestState;

impl types::Host for GuestState {}

/// `Result` of a host function.
type HostResult<T> = Result<T, types::Error>;

/// Converts a count to the WIT `u32`, saturating.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// An absolute expiry `ttl_ms` from now; a zero TTL is refused as Redis
/// refuses `SET k v PX 0`.
fn deadline(now_ms: u64, ttl_ms: u64) -> HostResult<u64> {
    if ttl_ms == 0 {
        return Err(types::Error::Other("invalid expire time".into()));
    }
    Ok(now_ms.saturating_add(ttl_ms))
}

//! Time for the whole process: the hybrid logical clock that stamps every write,
//! the region identity that breaks ties between stamps, and the wall clock used
//! for expiry.
//!
//! This module owns *ordering* only. It must not know about keys or values; the
//! keyspace stores the [`Stamp`]s it hands out and replication compares them.

mod hlc;
mod region;

pub use hlc::{Hlc, Stamp};
pub use region::RegionId;

/// Milliseconds since the Unix epoch, from the system clock.
///
/// Expiry deadlines are absolute wall-clock times so that every region hides an
/// expired key at the same instant without waiting for a replicated delete.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch (for `TIME`).
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

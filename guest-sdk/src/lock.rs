//! Leases with fencing tokens (`meridian:cache/lock`): a [`Lease`] is an
//! RAII guard — dropping it releases the lock — and carries the token to
//! hand to whatever it protects ([`fenced_set`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use meridian_guest::lock::{self, Scope};
//!
//! # fn demo() -> meridian_guest::Result<()> {
//! if let Some(lease) = lock::acquire("report", Duration::from_secs(5), Scope::Global, None)? {
//!     lock::fenced_set("report:latest", b"...", "report", lease.token())?;
//! } // released here
//! # Ok(()) }
//! ```

use std::time::Duration;

use crate::Result;
use crate::bindings::meridian::cache::lock as wit;
use crate::cache::millis;

pub use wit::Scope;

/// A held lease; dropping it releases the lock.
#[derive(Debug)]
pub struct Lease {
    raw: wit::Lease,
}

impl Lease {
    /// The fencing token: greater than every earlier grant's.
    pub fn token(&self) -> u64 {
        self.raw.token()
    }

    /// How long the holder may still act on it (zero once lapsed).
    pub fn remaining(&self) -> Duration {
        Duration::from_millis(self.raw.remaining_ms())
    }

    /// Extends it to `ttl` from now; false if it is no longer held.
    pub fn renew(&self, ttl: Duration) -> Result<bool> {
        Ok(self.raw.renew(millis(ttl))?)
    }

    /// Releases it now; false if it was no longer held. (Dropping the
    /// lease releases it too; this tells whether it still was held.)
    pub fn release(self) -> bool {
        self.raw.release()
    }
}

/// Acquires `name` for `ttl` in `scope`. Without `wait` it tries once;
/// with it, it queues first come, first served, for at most that long (and
/// never beyond the call's deadline). `None` if the lock stayed held.
pub fn acquire(
    name: &str,
    ttl: Duration,
    scope: Scope,
    wait: Option<Duration>,
) -> Result<Option<Lease>> {
    let raw = wit::acquire(name, millis(ttl), scope, wait.map(millis))?;
    Ok(raw.map(|raw| Lease { raw }))
}

/// Writes `value` at `key` unless `token` is older than the newest token
/// seen for lock `name` (then `Error::Other("FENCED …")`).
pub fn fenced_set(key: &str, value: &[u8], name: &str, token: u64) -> Result<()> {
    Ok(wit::fenced_set(key, value, name, token)?)
}

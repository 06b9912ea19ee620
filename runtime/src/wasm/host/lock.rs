//! `meridian:cache/lock`: leases for guests, over the region's lock service
//! (the same leases LOCK.ACQUIRE grants; names are scoped like keys).
//!
//! A `lease` resource is a [`LeaseHandle`] in the store's table. It releases
//! its lease when dropped — by the guest, or with the store when the call
//! ends — so a guest cannot leak a lock past its call except by letting the
//! TTL run. Waiting is bounded by the module's call deadline: a host call
//! must not outlive the call it serves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Resource;

use super::super::bindings::meridian::cache::lock::{Host, HostLease, Scope as WitScope};
use super::super::bindings::meridian::cache::types::Error as GuestError;
use super::super::state::GuestState;
use crate::locks::{LockError, Scope};
use crate::server::Shared;

/// A lease held by a guest.
pub struct LeaseHandle {
    shared: Arc<Shared>,
    scope: Scope,
    name: Vec<u8>,
    token: u64,
    valid_until: Instant,
    released: bool,
}

impl Drop for LeaseHandle {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        match self.scope {
            Scope::Local => {
                self.shared
                    .engine
                    .locks()
                    .release_local(&self.name, self.token);
            }
            Scope::Global => {
                // A global release waits for other regions; the guest does
                // not. Without a runtime the lease simply lapses.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let (shared, name, token) = (
                        self.shared.clone(),
                        std::mem::take(&mut self.name),
                        self.token,
                    );
                    rt.spawn(async move {
                        shared
                            .engine
                            .locks()
                            .release(Scope::Global, &name, token)
                            .await
                    });
                }
            }
        }
    }
}

type LockResult<T> = wasmtime::Result<Result<T, GuestError>>;

fn lock_error(e: LockError) -> GuestError {
    match e {
        LockError::NoQuorum { .. } => GuestError::Unavailable,
        other => GuestError::Other(other.to_string()),
    }
}

fn scope(s: WitScope) -> Scope {
    match s {
        WitScope::Local => Scope::Local,
        WitScope::Global => Scope::Global,
    }
}

impl Host for GuestState {
    async fn acquire(
        &mut self,
        name: String,
        ttl_ms: u64,
        scope_: WitScope,
        wait_ms: Option<u64>,
    ) -> LockResult<Option<Resource<LeaseHandle>>> {
        let name = match self.key(&name) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = self.writable() {
            return Ok(Err(e));
        }
        let scope = scope(scope_);
        let deadline = self.sandbox().deadline;
        let wait = wait_ms.map(|ms| Duration::from_millis(ms).min(deadline));
        let shared = self.shared().clone();
        let acquired = tokio::time::timeout(
            deadline,
            shared
                .engine
                .locks()
                .acquire(scope, &name, Duration::from_millis(ttl_ms), wait),
        )
        .await;
        self.catch_up_clock();
        let grant = match acquired {
            Err(_) => return Ok(Err(GuestError::Timeout)),
            Ok(Err(e)) => return Ok(Err(lock_error(e))),
            Ok(Ok(None)) => return Ok(Ok(None)),
            Ok(Ok(Some(g))) => g,
        };
        let handle = LeaseHandle {
            shared,
            scope,
            name,
            token: grant.token,
            valid_until: grant.valid_until,
            released: false,
        };
        Ok(Ok(Some(self.table().push(handle)?)))
    }

    async fn fenced_set(
        &mut self,
        key: String,
        value: Vec<u8>,
        name: String,
        token: u64,
    ) -> LockResult<()> {
        let checked = (|| {
            let k = self.key(&key)?;
            let lock = self.key(&name)?;
            self.check_value(&value)?;
            self.writable()?;
            Ok::<_, GuestError>((k, lock))
        })();
        let (k, lock) = match checked {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(stale) = self.engine().locks().admit_fenced(&lock, token) {
            return Ok(Err(GuestError::Other(stale.to_string())));
        }
        let mut t = self.txn_one(&k);
        Ok(t.set(&k, &value, &Default::default())
            .map(|_| ())
            .map_err(super::super::sandbox::guest_error))
    }
}

impl HostLease for GuestState {
    async fn token(&mut self, lease: Resource<LeaseHandle>) -> wasmtime::Result<u64> {
        Ok(self.table().get(&lease)?.token)
    }

    async fn remaining_ms(&mut self, lease: Resource<LeaseHandle>) -> wasmtime::Result<u64> {
        let l = self.table().get(&lease)?;
        if l.released {
            return Ok(0);
        }
        let left = l.valid_until.saturating_duration_since(Instant::now());
        Ok(u64::try_from(left.as_millis()).unwrap_or(u64::MAX))
    }

    async fn renew(&mut self, lease: Resource<LeaseHandle>, ttl_ms: u64) -> LockResult<bool> {
        let (shared, scope, name, token) = {
            let l = self.table().get(&lease)?;
            if l.released {
                return Ok(Ok(false));
            }
            (l.shared.clone(), l.scope, l.name.clone(), l.token)
        };
        let renewed = shared
            .engine
            .locks()
            .renew(scope, &name, token, Duration::from_millis(ttl_ms))
            .await;
        self.catch_up_clock();
        match renewed {
            Err(e) => Ok(Err(lock_error(e))),
            Ok(None) => Ok(Ok(false)),
            Ok(Some(g)) => {
                self.table().get_mut(&lease)?.valid_until = g.valid_until;
                Ok(Ok(true))
            }
        }
    }

    async fn release(&mut self, lease: Resource<LeaseHandle>) -> wasmtime::Result<bool> {
        let (shared, scope, name, token) = {
            let l = self.table().get_mut(&lease)?;
            if l.released {
                return Ok(false);
            }
            l.released = true;
            (l.shared.clone(), l.scope, l.name.clone(), l.token)
        };
        let released = shared.engine.locks().release(scope, &name, token).await;
        self.catch_up_clock();
        Ok(released)
    }

    async fn drop(&mut self, lease: Resource<LeaseHandle>) -> wasmtime::Result<()> {
        let mut l = self.table().delete(lease)?;
        if !l.released {
            // Released here rather than by `Drop for LeaseHandle`, so the
            // guest's next call already finds the lock free.
            l.released = true;
            let (shared, name) = (l.shared.clone(), std::mem::take(&mut l.name));
            shared.engine.locks().release(l.scope, &name, l.token).await;
        }
        Ok(())
    }
}

//! `GuestState`: the data of one store — one edge request or one plugin
//! call. It carries the server the guest runs against, the module's
//! [`Sandbox`], whether the call may write, the store's resource limits, and
//! a WASI context that grants nothing: no preopened directories, no
//! environment or arguments, no sockets or name lookups, no outgoing HTTP.
//!
//! A call runs at one instant, as a Redis script or function does: its
//! transactions judge expiry and compute TTL deadlines at the time the call
//! started (moved on only after a host call that waited, such as a lock
//! acquisition) — and a host call does not pay for reading the clock.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::Sandbox;
use super::bindings::GuestError;
use crate::engine::{Engine, Txn};
use crate::server::Shared;

/// Store data of one guest call.
pub struct GuestState {
    shared: Arc<Shared>,
    sandbox: Arc<Sandbox>,
    read_only: bool,
    /// The instant (Unix ms) the call's transactions run at.
    now_ms: u64,
    /// Memory, table and instance limits, enforced by wasmtime.
    pub limits: StoreLimits,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: NoOutgoingHttp,
    table: ResourceTable,
}

impl GuestState {
    /// State for one call of a module sandboxed by `sandbox`; `read_only`
    /// refuses every write (FCALL_RO).
    pub fn new(shared: Arc<Shared>, sandbox: Arc<Sandbox>, read_only: bool) -> GuestState {
        let limits = StoreLimitsBuilder::new()
            .memory_size(sandbox.memory)
            .instances(64)
            .tables(64)
            .memories(8)
            .table_elements(1 << 20)
            .build();
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        GuestState {
            shared,
            sandbox,
            read_only,
            now_ms: crate::clock::unix_ms(),
            limits,
            wasi,
            http: WasiHttpCtx::new(),
            hooks: NoOutgoingHttp,
            table: ResourceTable::new(),
        }
    }

    /// The engine host calls go to.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// A transaction over `key`'s shard at the call's instant.
    pub fn txn_one(&self, key: &[u8]) -> Txn<'_> {
        self.shared.engine.txn_one_at(key, self.now_ms)
    }

    /// A transaction over the shards of `keys` at the call's instant.
    pub fn txn<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Txn<'_> {
        self.shared.engine.txn_at(keys, self.now_ms)
    }

    /// Moves the call's instant to now, after a host call that waited.
    pub fn catch_up_clock(&mut self) {
        self.now_ms = crate::clock::unix_ms();
    }

    /// The server the guest runs against.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The module's sandbox.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The store's resource table (`wasi:keyvalue` buckets).
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The keyspace key for the guest's `key`.
    pub fn key(&self, key: &str) -> Result<Vec<u8>, GuestError> {
        self.sandbox.scope(key)
    }

    /// Refuses a string value over `proto-max-bulk-len`, as RESP does.
    pub fn check_value(&self, value: &[u8]) -> Result<(), GuestError> {
        if value.len() > self.engine().settings().proto_max_bulk_len() {
            Err(GuestError::TooLarge)
        } else {
            Ok(())
        }
    }

    /// Checks that the call may write: the module may, the region is not
    /// catching up after a restart (a write now could cover its own lost
    /// changes unseen, as RESP and Lua writes are refused), and memory
    /// allows it to grow.
    pub fn writable(&self) -> Result<(), GuestError> {
        if self.read_only {
            return Err(GuestError::AccessDenied);
        }
        let engine = self.engine();
        engine
            .check_writable()
            .and_then(|()| engine.make_room())
            .map_err(super::sandbox::guest_error)
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Refuses every outgoing HTTP request: guests reach the cache, not the
/// network.
struct NoOutgoingHttp;

type SendResult = wasmtime_wasi_http::Result<(
    ::http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for NoOutgoingHttp {
    fn send_request(
        &mut self,
        _request: ::http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

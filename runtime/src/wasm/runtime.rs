//! The process-wide wasmtime runtime: one `Engine` for every region in the
//! process, configured for the component model with a pooling allocator
//! (instances come from pre-reserved slots, memories are reset copy-on-write)
//! and epoch interruption (a ticker thread advances the epoch every
//! [`EPOCH_TICK`], so a call's deadline is a number of ticks); the `Linker`
//! with WASI, `wasi:http` and the `meridian:cache` imports; and a cache of
//! compiled components keyed by the SHA-1 of their bytes, so the regions of
//! one process compile a module once.
//!
//! It must not know about modules' names, routes or limits: that is the
//! registry's and the sandbox's business.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use parking_lot::Mutex;
use sha1::{Digest, Sha1};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::Plugin;
use super::state::GuestState;

/// How often the epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Concurrent instances the pool holds (in-flight edge requests plus plugin
/// calls, over every region of the process).
const POOL_INSTANCES: u32 = 512;
/// Largest linear memory any module may be given (per-module limits are
/// lower; see [`super::Sandbox`]).
pub const POOL_MAX_MEMORY: usize = 512 << 20;
/// Dirty linear memory (and table) bytes a freed slot resets in place rather
/// than handing back to the kernel, when the kernel can say which pages were
/// written (`PAGEMAP_SCAN`, Linux 6.7+). A guest call dirties a few dozen
/// pages; resetting them with `memcpy`/`memset` costs less than the
/// `madvise` and the page faults the next call would take on them again.
const POOL_KEEP_RESIDENT: usize = 1 << 20;

/// The engine, linker and compiled-component cache.
pub struct GuestRuntime {
    engine: Engine,
    linker: Linker<GuestState>,
    compiled: Mutex<HashMap<[u8; 20], Component>>,
}

static RUNTIME: LazyLock<Result<Arc<GuestRuntime>, String>> = LazyLock::new(|| {
    GuestRuntime::build()
        .map(Arc::new)
        .map_err(|e| e.to_string())
});

impl GuestRuntime {
    /// The process-wide runtime, started on first use.
    pub fn global() -> Result<Arc<GuestRuntime>, String> {
        RUNTIME.clone()
    }

    fn build() -> wasmtime::Result<GuestRuntime> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES * 8)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size(POOL_MAX_MEMORY)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(32);
        // Without PAGEMAP_SCAN, keeping memory resident means resetting its
        // first bytes whether written or not — the guest's (mostly unused)
        // shadow stack — so it only pays with the scan.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(POOL_KEEP_RESIDENT)
                .table_keep_resident(POOL_KEEP_RESIDENT);
        }
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .memory_init_cow(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        Plugin::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)?;
        {
            use super::host::keyvalue::bindings::wasi::keyvalue::{atomics, batch, store};
            store::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)?;
            atomics::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)?;
            batch::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)?;
        }
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(GuestRuntime {
            engine,
            linker,
            compiled: Mutex::new(HashMap::new()),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker every module is instantiated with.
    pub fn linker(&self) -> &Linker<GuestState> {
        &self.linker
    }

    /// Compiles component `bytes`, or returns the earlier compilation of the
    /// same bytes.
    pub fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        let digest: [u8; 20] = Sha1::digest(bytes).into();
        if let Some(c) = self.compiled.lock().get(&digest) {
            return Ok(c.clone());
        }
        let component = Component::new(&self.engine, bytes)?;
        self.compiled.lock().insert(digest, component.clone());
        Ok(component)
    }
}

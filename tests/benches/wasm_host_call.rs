//! Cost of running guests, measured in-process (no RESP or HTTP):
//!
//! - `plugin/instantiate_and_call`: a fresh instance of the api-check plugin
//!   from its `InstancePre` (pooling allocator) plus one call that makes a
//!   single host write — what every FCALL and edge request pays;
//! - `plugin/call_with_1000_gets`: the same with 1000 `cache.get` host calls
//!   of a small value; the difference divided by 1000 is one host call.
//!
//! Needs the guest examples built: `scripts/bench-wasm.sh` builds them and
//! runs this with `cargo bench -p meridian-tests --bench wasm_host_call`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use meridian::config::Config;
use meridian::server::Shared;
use meridian::wasm::{Library, Sandbox};

fn api_check() -> Vec<u8> {
    let exe = std::env::current_exe().expect("bench exe");
    let path = exe
        .ancestors()
        .nth(3)
        .expect("target dir")
        .join("wasm32-wasip2/release/api_check.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with `cargo build --release --target wasm32-wasip2 -p api-check`",
            path.display()
        )
    })
}

async fn call(shared: &Arc<Shared>, lib: &Arc<Library>, sandbox: &Arc<Sandbox>, n: &[u8]) {
    let mut store =
        meridian::wasm::plugin::new_store(shared.clone(), sandbox.clone(), false).expect("store");
    let plugin = lib
        .pre
        .instantiate_async(&mut store)
        .await
        .expect("instance");
    let reply = plugin
        .meridian_cache_library()
        .call_call(&mut store, "bench_get", &[], &[n.to_vec()])
        .await
        .expect("call");
    assert!(reply.is_ok(), "{reply:?}");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt
        .block_on(meridian::server::start(Config {
            port: 0,
            ..Config::default()
        }))
        .expect("server");
    let shared = server.shared().clone();
    let wasm = &shared.wasm;
    let name = wasm
        .registry()
        .load_library(wasm, &api_check(), false, None)
        .expect("load api-check");
    let lib = wasm.registry().library(&name).expect("library");
    // The module's limits, but a deadline a loaded machine cannot hit: a
    // call descheduled for 50 ms would otherwise be killed and end the run.
    let sandbox = Arc::new(Sandbox {
        deadline: std::time::Duration::from_secs(10),
        ..(*lib.sandbox).clone()
    });

    let mut g = c.benchmark_group("plugin");
    g.bench_function("instantiate_and_call", |b| {
        b.iter(|| rt.block_on(call(&shared, &lib, &sandbox, b"0")))
    });
    g.bench_function("call_with_1000_gets", |b| {
        b.iter(|| rt.block_on(call(&shared, &lib, &sandbox, b"1000")))
    });
    g.finish();
    rt.block_on(server.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Host bindings of the `meridian:cache` WIT package, generated from `wit/`.
//!
//! The `plugin` world carries every import of the package plus the `library`
//! export, so its generated `add_to_linker` serves edge modules too (their
//! `wasi:http` export is bound by wasmtime-wasi-http's `ProxyPre`). Imports
//! are synchronous host functions (they only lock keyspace shards briefly);
//! exports are called asynchronously because WASI and `wasi:http` are async.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
    // Lock calls may wait for a queue turn or other regions' votes.
    imports: { "meridian:cache/lock": async | trappable },
    with: { "meridian:cache/lock.lease": crate::wasm::host::lock::LeaseHandle },
    additional_derives: [PartialEq],
});

pub use self::meridian::cache::types::Error as GuestError;
pub use exports::meridian::cache::library::{FunctionInfo, Manifest, Reply, Value};

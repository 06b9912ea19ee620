//! `meridian-guest`: the Rust API for WebAssembly components that run inside
//! Meridian — edge HTTP functions (world `meridian:cache/edge`) and plugins
//! called over RESP with `FCALL` (world `meridian:cache/plugin`).
//!
//! Build guests for `wasm32-wasip2` as a `cdylib`:
//! `cargo build --release --target wasm32-wasip2`.
//!
//! - [`cache`]: byte values with TTLs, compare-and-swap, get-or-insert, JSON
//!   helpers;
//! - [`counter`], [`hash`], [`set`], [`sorted_set`], [`list`], [`pubsub`]:
//!   the other data types, with the semantics of the Redis commands they
//!   mirror;
//! - [`document`]: session documents whose concurrent edits in different
//!   regions merge (JSON in and out);
//! - [`lock`]: leases with fencing tokens, local or global, as RAII guards;
//! - [`http`]: an edge function is a [`http::Handler`] plus
//!   [`edge_handler!`];
//! - [`plugin`]: a library is a [`plugin::Plugin`] plus [`plugin!`].
//!
//! Every call returns [`Result`]; TTLs are [`std::time::Duration`]s. Keys are
//! scoped to the module's namespace by the host; see [`absolute_key`] for
//! keys of other namespaces a module was granted.
//!
//! ```no_run
//! use std::time::Duration;
//! use meridian_guest::{cache, counter};
//!
//! # fn demo() -> meridian_guest::Result<()> {
//! let visits = counter::incr("visits", 1)?;
//! cache::set_json("last", &visits, Some(Duration::from_secs(300)))?;
//! # Ok(()) }
//! ```

pub mod bindings;
pub mod cache;
mod collections;
pub mod document;
mod error;
pub mod http;
pub mod lock;
pub mod plugin;

pub use collections::{counter, hash, list, pubsub, set, sorted_set};
pub use error::{Error, Result};

/// The WIT package this SDK targets.
pub const WIT_PACKAGE: &str = "meridian:cache@0.1.0";

/// The absolute form of `key` in `namespace` (`/namespace:key`), for a module
/// granted access to another namespace. A plain key is always scoped to the
/// module's own namespace.
pub fn absolute_key(namespace: &str, key: &str) -> String {
    format!("/{namespace}:{key}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn absolute_keys_start_with_a_slash() {
        assert_eq!(super::absolute_key("sessions", "u1"), "/sessions:u1");
    }

    #[test]
    fn ttls_round_up_to_a_millisecond() {
        use std::time::Duration;
        assert_eq!(super::cache::millis(Duration::from_micros(10)), 1);
        assert_eq!(super::cache::millis(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn request_helpers_split_path_query_and_route() {
        let r = super::http::Request {
            method: "GET".into(),
            path_with_query: "/cache/a/b?n=3&x".into(),
            headers: vec![("x-meridian-route".into(), b"/cache".to_vec())],
            body: Vec::new(),
        };
        assert_eq!(r.path(), "/cache/a/b");
        assert_eq!(r.query_param("n"), Some("3"));
        assert_eq!(r.query_param("x"), Some(""));
        assert_eq!(r.path_in_route(), "/a/b");
    }
}

//! `meridian-guest`: the idiomatic Rust API for WebAssembly guest modules that
//! run inside Meridian (edge HTTP functions and plugins).
//!
//! The typed bindings to the `meridian:cache` WIT interfaces arrive with the
//! WASM runtime; until then this crate carries the pieces that do not depend on
//! the host, so guests and their tests already build against one crate.

/// The WIT package this SDK targets.
pub const WIT_PACKAGE: &str = "meridian:cache@0.1.0";

/// Joins a namespace and a key the way the host scopes a module's keys
/// (`namespace:key`), for guests that build keys for other namespaces they
/// were granted.
pub fn scoped_key(namespace: &str, key: &str) -> String {
    format!("{namespace}:{key}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn scoped_keys_use_a_colon() {
        assert_eq!(super::scoped_key("sessions", "u1"), "sessions:u1");
    }
}

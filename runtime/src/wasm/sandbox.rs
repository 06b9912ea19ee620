//! What one module may do: its key namespace and grants, its memory limit
//! and its per-call deadline; how a key a guest names becomes a keyspace key;
//! and how engine errors become the WIT `error` variant.
//!
//! Keys: a guest's key `k` is stored as `namespace:k`, so two modules never
//! see each other's keys. A key starting with `/` is absolute (`/ns:k` is the
//! keyspace key `ns:k`) and is allowed only inside the module's own namespace
//! or one it was granted; anything else is `access-denied`.

use std::time::Duration;

use super::bindings::GuestError;
use crate::engine::EngineError;

/// Default linear-memory limit of a module.
pub const DEFAULT_MEMORY: usize = 64 << 20;
/// Default deadline of one call.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(50);
/// Longest key a guest may name (before scoping).
pub const MAX_KEY_LEN: usize = 64 * 1024;

/// One module's limits and grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Sandbox {
    /// Prefix of every key the module names.
    pub namespace: String,
    /// Other namespaces reachable with absolute keys.
    pub grants: Vec<String>,
    /// Linear-memory limit in bytes.
    pub memory: usize,
    /// Deadline of one call (instantiation and the call together).
    pub deadline: Duration,
}

impl Sandbox {
    /// Default limits in `namespace`.
    pub fn new(namespace: impl Into<String>) -> Sandbox {
        Sandbox {
            namespace: namespace.into(),
            grants: Vec::new(),
            memory: DEFAULT_MEMORY,
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// The keyspace key for the guest's `key`.
    pub fn scope(&self, key: &str) -> Result<Vec<u8>, GuestError> {
        if key.len() > MAX_KEY_LEN {
            return Err(GuestError::TooLarge);
        }
        if let Some(absolute) = key.strip_prefix('/') {
            let ns = absolute.split(':').next().unwrap_or_default();
            let allowed = absolute.contains(':')
                && (ns == self.namespace || self.grants.iter().any(|g| g == ns));
            return if allowed {
                Ok(absolute.as_bytes().to_vec())
            } else {
                Err(GuestError::AccessDenied)
            };
        }
        let mut k = Vec::with_capacity(self.namespace.len() + 1 + key.len());
        k.extend_from_slice(self.namespace.as_bytes());
        k.push(b':');
        k.extend_from_slice(key.as_bytes());
        Ok(k)
    }

    /// The guest's name for keyspace key `key` (inverse of [`Sandbox::scope`]
    /// for keys of the module's own namespace).
    pub fn unscope<'k>(&self, key: &'k [u8]) -> Option<&'k [u8]> {
        key.strip_prefix(self.namespace.as_bytes())?
            .strip_prefix(b":")
    }

    /// The epoch ticks of the deadline.
    pub fn deadline_ticks(&self) -> u64 {
        let tick = super::runtime::EPOCH_TICK.as_micros().max(1);
        (self.deadline.as_micros() / tick).max(1) as u64 + 1
    }
}

/// The WIT error for an engine error.
pub fn guest_error(e: EngineError) -> GuestError {
    match e {
        EngineError::WrongType => GuestError::WrongType,
        EngineError::OutOfMemory => GuestError::QuotaExceeded,
        EngineError::TooLarge => GuestError::TooLarge,
        EngineError::NoSuchKey => GuestError::NotFound,
        EngineError::CatchingUp => GuestError::Unavailable,
        other => {
            let line = other.to_string();
            let text = line.strip_prefix("ERR ").unwrap_or(&line);
            GuestError::Other(text.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_to_the_namespace() {
        let s = Sandbox::new("shop");
        assert_eq!(s.scope("cart:1").unwrap(), b"shop:cart:1");
        assert_eq!(s.unscope(b"shop:cart:1"), Some(&b"cart:1"[..]));
        assert_eq!(s.unscope(b"shopping:x"), None);
    }

    #[test]
    fn absolute_keys_need_a_grant() {
        let mut s = Sandbox::new("shop");
        assert_eq!(s.scope("/shop:a").unwrap(), b"shop:a");
        assert_eq!(s.scope("/other:a"), Err(GuestError::AccessDenied));
        assert_eq!(s.scope("/nocolon"), Err(GuestError::AccessDenied));
        s.grants.push("other".into());
        assert_eq!(s.scope("/other:a").unwrap(), b"other:a");
    }

    #[test]
    fn engine_errors_map_to_wit_errors() {
        assert_eq!(guest_error(EngineError::WrongType), GuestError::WrongType);
        assert_eq!(
            guest_error(EngineError::OutOfMemory),
            GuestError::QuotaExceeded
        );
        assert_eq!(
            guest_error(EngineError::CatchingUp),
            GuestError::Unavailable
        );
        assert_eq!(
            guest_error(EngineError::NotInteger),
            GuestError::Other("value is not an integer or out of range".into())
        );
    }
}

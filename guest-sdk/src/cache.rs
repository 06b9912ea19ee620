//! Byte values by key with TTLs (`meridian:cache/cache`), plus serde helpers
//! that store values as JSON.
//!
//! Keys are scoped to the module's namespace by the host: `get("a")` in a
//! module whose namespace is `shop` reads the keyspace key `shop:a`.
//!
//! ```no_run
//! use std::time::Duration;
//! use meridian_guest::cache;
//!
//! # fn demo() -> meridian_guest::Result<()> {
//! cache::set_ex("greeting", b"hello", Duration::from_secs(60))?;
//! assert_eq!(cache::get("greeting")?, Some(b"hello".to_vec()));
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Result;
use crate::bindings::meridian::cache::cache as wit;

pub use wit::Condition;

/// Milliseconds of `d`, at least 1 (a zero TTL is refused by the host).
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Options of [`set_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SetOptions {
    /// Expire after this long.
    pub ttl: Option<Duration>,
    /// Only write if the key is absent.
    pub only_if_absent: bool,
    /// Only write if the key exists.
    pub only_if_present: bool,
    /// Keep the key's current TTL.
    pub keep_ttl: bool,
}

/// Remaining life of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist.
    Missing,
    /// The key never expires.
    Persistent,
    /// The key expires after this long.
    ExpiresIn(Duration),
}

/// The value at `key`.
pub fn get(key: &str) -> Result<Option<Vec<u8>>> {
    Ok(wit::get(key)?)
}

/// Writes `value` at `key` without a TTL.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<()> {
    set_with(key, value, SetOptions::default()).map(|_| ())
}

/// Writes `value` at `key`, expiring after `ttl`.
pub fn set_ex(key: &str, value: impl AsRef<[u8]>, ttl: Duration) -> Result<()> {
    set_with(
        key,
        value,
        SetOptions {
            ttl: Some(ttl),
            ..SetOptions::default()
        },
    )
    .map(|_| ())
}

/// Writes `value` at `key` under `options`; true if it was written.
pub fn set_with(key: &str, value: impl AsRef<[u8]>, options: SetOptions) -> Result<bool> {
    let condition = match (options.only_if_absent, options.only_if_present) {
        (true, _) => Condition::OnlyIfAbsent,
        (false, true) => Condition::OnlyIfPresent,
        (false, false) => Condition::Always,
    };
    Ok(wit::set(
        key,
        value.as_ref(),
        wit::SetOptions {
            ttl_ms: options.ttl.map(millis),
            condition,
            keep_ttl: options.keep_ttl,
        },
    )?)
}

/// The values of `keys`, in order.
pub fn get_many(keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>> {
    let owned: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    Ok(wit::get_many(&owned)?)
}

/// Writes every entry atomically, each expiring after `ttl`.
pub fn set_many(entries: &[(&str, &[u8])], ttl: Option<Duration>) -> Result<()> {
    let owned: Vec<(String, Vec<u8>)> = entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    Ok(wit::set_many(&owned, ttl.map(millis))?)
}

/// Removes `key`; true if it existed.
pub fn delete(key: &str) -> Result<bool> {
    Ok(wit::delete(key)?)
}

/// True if `key` exists.
pub fn exists(key: &str) -> Result<bool> {
    Ok(wit::exists(key)?)
}

/// Makes `key` expire after `ttl`; false if it does not exist.
pub fn expire(key: &str, ttl: Duration) -> Result<bool> {
    Ok(wit::expire(key, millis(ttl))?)
}

/// The remaining life of `key`.
pub fn ttl(key: &str) -> Result<Ttl> {
    Ok(match wit::ttl(key)? {
        wit::TimeToLive::Missing => Ttl::Missing,
        wit::TimeToLive::Persistent => Ttl::Persistent,
        wit::TimeToLive::ExpiresIn(ms) => Ttl::ExpiresIn(Duration::from_millis(ms)),
    })
}

/// Removes the TTL of `key`; true if it had one.
pub fn persist(key: &str) -> Result<bool> {
    Ok(wit::persist(key)?)
}

/// Every key starting with `prefix` (walks the whole scan).
pub fn keys_with_prefix(prefix: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let page = wit::scan(prefix, cursor, 256)?;
        out.extend(page.keys);
        if page.next_cursor == 0 {
            break;
        }
        cursor = page.next_cursor;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Writes `new` only if the value is `expected` (`None`: the key must be
/// missing); true if written.
pub fn compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    new: impl AsRef<[u8]>,
    ttl: Option<Duration>,
) -> Result<bool> {
    Ok(wit::compare_and_swap(
        key,
        expected,
        new.as_ref(),
        ttl.map(millis),
    )?)
}

/// The value at `key`; on a miss, computes it with `fill`, stores it with
/// `ttl` and returns it. If another caller filled the key first, their value
/// is returned (and stays).
pub fn get_or_insert_with(
    key: &str,
    ttl: Option<Duration>,
    fill: impl FnOnce() -> Vec<u8>,
) -> Result<(Vec<u8>, bool)> {
    if let Some(v) = wit::get(key)? {
        return Ok((v, true));
    }
    let value = fill();
    match wit::get_or_set(key, &value, ttl.map(millis))? {
        Some(theirs) => Ok((theirs, true)),
        None => Ok((value, false)),
    }
}

/// The value at `key` decoded from JSON.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    match get(key)? {
        Some(b) => Ok(Some(serde_json::from_slice(&b)?)),
        None => Ok(None),
    }
}

/// Stores `value` at `key` as JSON, with an optional TTL.
pub fn set_json<T: Serialize>(key: &str, value: &T, ttl: Option<Duration>) -> Result<()> {
    let bytes = serde_json::to_vec(value)?;
    set_with(
        key,
        bytes,
        SetOptions {
            ttl,
            ..SetOptions::default()
        },
    )
    .map(|_| ())
}

//! Session documents (`meridian:cache/document`): a key holding a JSON-like
//! document whose concurrent edits in different regions merge — edits of
//! different fields all land, [`incr`] increments all count, [`push`]es all
//! land in one agreed order.
//!
//! Values go in and out as JSON through serde; paths are `$` (the root),
//! `$.a.b` (map keys), `$.list[2]` (`[-1]` = last), `$["a.b"]` (a key with
//! separators). TTLs are [`crate::cache::expire`]'s.
//!
//! ```no_run
//! use meridian_guest::document;
//!
//! # fn demo() -> meridian_guest::Result<()> {
//! document::set("session:42", "$", &serde_json::json!({"user": "ann", "cart": []}))?;
//! document::push("session:42", "$.cart", &[serde_json::json!({"sku": "a1"})])?;
//! let views = document::incr("session:42", "$.views", 1)?;
//! let user: Option<String> = document::get("session:42", "$.user")?;
//! # Ok(()) }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Result;
use crate::bindings::meridian::cache::document as wit;

/// The value at `path` of the document at `key`, deserialized; `None` if
/// the key or the path is missing.
pub fn get<T: DeserializeOwned>(key: &str, path: &str) -> Result<Option<T>> {
    match wit::get(key, path)? {
        Some(json) => Ok(Some(serde_json::from_str(&json)?)),
        None => Ok(None),
    }
}

/// The JSON text at `path`, as the host prints it (keys sorted).
pub fn get_json(key: &str, path: &str) -> Result<Option<String>> {
    Ok(wit::get(key, path)?)
}

/// Writes `value` at `path` (whose parent must exist), creating the
/// document if the key is missing. An object written over an object updates
/// it key by key, so concurrent edits of other keys survive.
pub fn set<T: Serialize + ?Sized>(key: &str, path: &str, value: &T) -> Result<()> {
    Ok(wit::set(key, path, &serde_json::to_string(value)?)?)
}

/// Removes the value at `path` (`$` deletes the key); true if there was one.
pub fn delete(key: &str, path: &str) -> Result<bool> {
    Ok(wit::delete(key, path)?)
}

/// Adds `delta` to the counter at `path` (a missing value starts at 0); the
/// new value.
pub fn incr(key: &str, path: &str, delta: i64) -> Result<i64> {
    Ok(wit::incr(key, path, delta)?)
}

/// Appends `values` to the array at `path`; its new length.
pub fn push<T: Serialize>(key: &str, path: &str, values: &[T]) -> Result<u32> {
    let json = values
        .iter()
        .map(serde_json::to_string)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(wit::push(key, path, &json)?)
}

//! Counters, hashes, sets, sorted sets, lists and publishing: thin,
//! typed wrappers over the matching `meridian:cache` interfaces.

use crate::Result;
use crate::bindings::meridian::cache as wit;

/// Counters stored as decimal strings (`meridian:cache/counter`).
pub mod counter {
    use super::*;

    /// Adds `delta` (a missing key counts as 0); the new value.
    pub fn incr(key: &str, delta: i64) -> Result<i64> {
        Ok(wit::counter::incr(key, delta)?)
    }
    /// Subtracts `delta`; the new value.
    pub fn decr(key: &str, delta: i64) -> Result<i64> {
        Ok(wit::counter::decr(key, delta)?)
    }
    /// The current value (0 if missing).
    pub fn get(key: &str) -> Result<i64> {
        Ok(wit::counter::get(key)?)
    }
    /// Adds a float `delta`; the new value.
    pub fn incr_float(key: &str, delta: f64) -> Result<f64> {
        Ok(wit::counter::incr_float(key, delta)?)
    }
}

/// Hashes (`meridian:cache/hash`).
pub mod hash {
    use super::*;

    /// The value of `field`.
    pub fn get(key: &str, field: &str) -> Result<Option<Vec<u8>>> {
        Ok(wit::hash::get(key, field)?)
    }
    /// Sets fields; how many were new.
    pub fn set(key: &str, fields: &[(&str, &[u8])]) -> Result<u32> {
        let owned: Vec<(String, Vec<u8>)> = fields
            .iter()
            .map(|(f, v)| (f.to_string(), v.to_vec()))
            .collect();
        Ok(wit::hash::set(key, &owned)?)
    }
    /// Removes fields; how many existed.
    pub fn delete(key: &str, fields: &[&str]) -> Result<u32> {
        let owned: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        Ok(wit::hash::delete(key, &owned)?)
    }
    /// Every field and value.
    pub fn get_all(key: &str) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(wit::hash::get_all(key)?)
    }
    /// Adds `delta` to an integer field; the new value.
    pub fn incr(key: &str, field: &str, delta: i64) -> Result<i64> {
        Ok(wit::hash::incr(key, field, delta)?)
    }
    /// Number of fields.
    pub fn len(key: &str) -> Result<u32> {
        Ok(wit::hash::len(key)?)
    }
}

/// Sets (`meridian:cache/set`).
pub mod set {
    use super::*;

    /// Adds members; how many were new.
    pub fn add(key: &str, members: &[&[u8]]) -> Result<u32> {
        let owned: Vec<Vec<u8>> = members.iter().map(|m| m.to_vec()).collect();
        Ok(wit::set::add(key, &owned)?)
    }
    /// Removes members; how many existed.
    pub fn remove(key: &str, members: &[&[u8]]) -> Result<u32> {
        let owned: Vec<Vec<u8>> = members.iter().map(|m| m.to_vec()).collect();
        Ok(wit::set::remove(key, &owned)?)
    }
    /// True if `member` is in the set.
    pub fn contains(key: &str, member: &[u8]) -> Result<bool> {
        Ok(wit::set::contains(key, member)?)
    }
    /// Every member.
    pub fn members(key: &str) -> Result<Vec<Vec<u8>>> {
        Ok(wit::set::members(key)?)
    }
    /// Number of members.
    pub fn len(key: &str) -> Result<u32> {
        Ok(wit::set::len(key)?)
    }
}

/// Sorted sets (`meridian:cache/sorted-set`).
pub mod sorted_set {
    use super::*;

    /// Adds or updates `(member, score)` pairs; how many were new.
    pub fn add(key: &str, members: &[(&[u8], f64)]) -> Result<u32> {
        let owned: Vec<wit::sorted_set::Scored> = members
            .iter()
            .map(|(m, s)| wit::sorted_set::Scored {
                member: m.to_vec(),
                score: *s,
            })
            .collect();
        Ok(wit::sorted_set::add(key, &owned)?)
    }
    /// Adds `delta` to `member`'s score; the new score.
    pub fn incr(key: &str, member: &[u8], delta: f64) -> Result<f64> {
        Ok(wit::sorted_set::incr(key, member, delta)?)
    }
    /// Removes members; how many existed.
    pub fn remove(key: &str, members: &[&[u8]]) -> Result<u32> {
        let owned: Vec<Vec<u8>> = members.iter().map(|m| m.to_vec()).collect();
        Ok(wit::sorted_set::remove(key, &owned)?)
    }
    /// The score of `member`.
    pub fn score(key: &str, member: &[u8]) -> Result<Option<f64>> {
        Ok(wit::sorted_set::score(key, member)?)
    }
    /// The rank of `member` (0 = lowest score, or highest if `descending`).
    pub fn rank(key: &str, member: &[u8], descending: bool) -> Result<Option<u64>> {
        Ok(wit::sorted_set::rank(key, member, descending)?)
    }
    /// The `n` highest-scored members, best first.
    pub fn top(key: &str, n: u32) -> Result<Vec<(Vec<u8>, f64)>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        Ok(
            wit::sorted_set::range_by_rank(key, 0, i64::from(n) - 1, true)?
                .into_iter()
                .map(|s| (s.member, s.score))
                .collect(),
        )
    }
    /// Members by rank `start..=stop` (negative counts from the end).
    pub fn range(
        key: &str,
        start: i64,
        stop: i64,
        descending: bool,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        Ok(
            wit::sorted_set::range_by_rank(key, start, stop, descending)?
                .into_iter()
                .map(|s| (s.member, s.score))
                .collect(),
        )
    }
    /// Number of members.
    pub fn len(key: &str) -> Result<u32> {
        Ok(wit::sorted_set::len(key)?)
    }
}

/// Lists (`meridian:cache/list`).
pub mod list {
    use super::*;
    pub use wit::list::End;

    /// Pushes `values` in order at `end`; the new length.
    pub fn push(key: &str, end: End, values: &[&[u8]]) -> Result<u32> {
        let owned: Vec<Vec<u8>> = values.iter().map(|v| v.to_vec()).collect();
        Ok(wit::list::push(key, end, &owned)?)
    }
    /// Pops up to `count` values from `end`.
    pub fn pop(key: &str, end: End, count: u32) -> Result<Vec<Vec<u8>>> {
        Ok(wit::list::pop(key, end, count)?)
    }
    /// Values at `start..=stop` (negative counts from the end).
    pub fn range(key: &str, start: i64, stop: i64) -> Result<Vec<Vec<u8>>> {
        Ok(wit::list::range(key, start, stop)?)
    }
    /// Keeps only `start..=stop`.
    pub fn trim(key: &str, start: i64, stop: i64) -> Result<()> {
        Ok(wit::list::trim(key, start, stop)?)
    }
    /// Length (0 if missing).
    pub fn len(key: &str) -> Result<u32> {
        Ok(wit::list::len(key)?)
    }
}

/// Publishing to RESP subscribers (`meridian:cache/pubsub`).
pub mod pubsub {
    use super::*;

    /// Publishes on `channel` (scoped `namespace:channel`); how many
    /// subscribers received it.
    pub fn publish(channel: &str, message: &[u8]) -> Result<u32> {
        Ok(wit::pubsub::publish(channel, message)?)
    }
}

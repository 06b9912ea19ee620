//! Introspection of one key, for OBJECT and MEMORY USAGE: the encoding Redis
//! 7.0 would use for a value of this shape, the reference count it would
//! report, idle time, LFU frequency, and the key's bytes from the
//! keyspace's own accounting.
//!
//! Meridian has one representation per type, so the encoding is derived
//! from the value's size and contents with Redis 7.0's default thresholds:
//!
//! | type | encoding |
//! |---|---|
//! | string | `int` for a canonical 64-bit integer, else `embstr` up to 44 bytes, else `raw` |
//! | list | `quicklist` (Redis 7.0 always uses it) |
//! | hash | `listpack` up to 128 fields with fields and values up to 64 bytes, else `hashtable` |
//! | set | `intset` up to 512 members that are all integers, else `hashtable` |
//! | sorted set | `listpack` up to 128 members of up to 64 bytes, else `skiplist` |
//!
//! Redis never converts a value back to its compact encoding once it grew,
//! and strings written by APPEND/SETRANGE/SETBIT are always `raw` there;
//! this module reports the encoding for the value as it is now.
//!
//! Reads here use `peek`, so they neither count as hits nor refresh the
//! key's access time (as Redis's OBJECT does). Nothing here writes.

use super::number::parse_i64;
use super::{EngineResult, Txn};
use crate::keyspace::{Entry, EvictionPolicy, Value};

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
const EMBSTR_MAX: usize = 44;
/// `hash-max-listpack-entries` / `zset-max-listpack-entries` defaults.
const LISTPACK_MAX_ENTRIES: usize = 128;
/// `hash-max-listpack-value` / `zset-max-listpack-value` defaults.
const LISTPACK_MAX_VALUE: usize = 64;
/// `set-max-intset-entries` default.
const INTSET_MAX: usize = 512;
/// Redis shares the integer objects 0..10000 and reports this refcount.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
const SHARED_INTEGERS: i64 = 10_000;

/// What OBJECT reports about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The Redis encoding name.
    pub encoding: &'static str,
    /// The reference count Redis would report.
    pub refcount: i64,
    /// Seconds since the last access.
    pub idle_secs: u64,
    /// The LFU counter after decay.
    pub freq: u8,
}

/// The canonical integer `bytes` spells, as Redis's `string2ll` accepts it
/// (no sign but `-`, no leading zeros, no spaces, not `-0`).
fn canonical_int(bytes: &[u8]) -> Option<i64> {
    let v = parse_i64(bytes)?;
    (bytes.len() <= 20 && itoa::Buffer::new().format(v).as_bytes() == bytes).then_some(v)
}

/// The encoding name Redis 7.0 would use for `value`.
pub fn encoding_of(value: &Value) -> &'static str {
    match value {
        Value::Str(s) if canonical_int(s).is_some() => "int",
        Value::Str(s) if s.len() <= EMBSTR_MAX => "embstr",
        Value::Str(_) => "raw",
        Value::List(_) => "quicklist",
        // Meridian's own type: an automerge document.
        Value::Doc(_) => "automerge",
        Value::Hash(h) => {
            let small = h.len() <= LISTPACK_MAX_ENTRIES
                && h.iter().all(|f| {
                    f.name.len() <= LISTPACK_MAX_VALUE && f.value.len() <= LISTPACK_MAX_VALUE
                });
            if small { "listpack" } else { "hashtable" }
        }
        Value::Set(s) => {
            let ints = s.len() <= INTSET_MAX && s.iter().all(|m| canonical_int(m).is_some());
            if ints { "intset" } else { "hashtable" }
        }
        Value::ZSet(z) => {
            let small = z.len() <= LISTPACK_MAX_ENTRIES
                && z.iter().all(|(m, _)| m.len() <= LISTPACK_MAX_VALUE);
            if small { "listpack" } else { "skiplist" }
        }
    }
}

impl Txn<'_> {
    /// OBJECT's view of `key`, or `None` if it does not exist.
    pub fn object_info(&mut self, key: &[u8]) -> EngineResult<Option<ObjectInfo>> {
        let now = self.now_ms();
        let settings = self.engine.settings();
        let decay = settings.lfu_decay_time();
        // Redis stops sharing integers when eviction needs per-key stats.
        let evicting = settings.maxmemory() != 0
            && matches!(
                settings.policy(),
                EvictionPolicy::AllKeysLru
                    | EvictionPolicy::VolatileLru
                    | EvictionPolicy::AllKeysLfu
                    | EvictionPolicy::VolatileLfu
            );
        let Some(e) = self.peek(key)? else {
            return Ok(None);
        };
        let shared = !evicting
            && matches!(&e.value, Value::Str(s)
                if canonical_int(s).is_some_and(|v| (0..SHARED_INTEGERS).contains(&v)));
        Ok(Some(ObjectInfo {
            encoding: encoding_of(&e.value),
            refcount: if shared { SHARED_REFCOUNT } else { 1 },
            idle_secs: e.idle_ms(now) / 1000,
            freq: e.lfu_decayed(now, decay),
        }))
    }

    /// MEMORY USAGE: the bytes the keyspace accounts to `key` (entry, key,
    /// value and table slot), or `None` if it does not exist.
    pub fn memory_usage(&mut self, key: &[u8]) -> EngineResult<Option<usize>> {
        Ok(self.peek(key)?.map(Entry::cost))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{SetValue, blob};

    #[test]
    fn strings_encode_as_redis() {
        let s = |t: &str| encoding_of(&Value::Str(blob(t.as_bytes())));
        assert_eq!(s("123"), "int");
        assert_eq!(s("-9223372036854775808"), "int");
        assert_eq!(s("00123"), "embstr");
        assert_eq!(s("-0"), "embstr");
        assert_eq!(s("12345678901234567890"), "embstr");
        assert_eq!(s(&"x".repeat(44)), "embstr");
        assert_eq!(s(&"x".repeat(45)), "raw");
    }

    #[test]
    fn sets_are_intsets_only_when_all_integers() {
        let mut set = SetValue::default();
        set.insert(b"1");
        set.insert(b"2");
        let set = Value::Set(Box::new(set));
        assert_eq!(encoding_of(&set), "intset");
        let Value::Set(mut set) = set else { return };
        set.insert(b"a");
        assert_eq!(encoding_of(&Value::Set(set)), "hashtable");
    }
}

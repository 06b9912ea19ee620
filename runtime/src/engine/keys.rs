//! Generic key operations: existence, type, delete, rename, TTLs, and walks of
//! the whole keyspace (KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHALL).

use super::{EngineError, EngineResult, Txn, glob_match};
use crate::keyspace::{Blob, CURSOR_BITS, Entry, Kind};

// A SCAN cursor is the shard index above a shard's dict cursor; configs allow
// up to 2^10 shards.
const _: () = assert!(CURSOR_BITS + 10 <= 64);

/// Conditions of EXPIRE and friends (Redis 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireCondition {
    /// Always set.
    #[default]
    Always,
    /// Only if the key has no TTL (NX).
    IfNone,
    /// Only if the key has a TTL (XX).
    IfSome,
    /// Only if the new TTL is greater (GT; no TTL counts as infinite).
    IfGreater,
    /// Only if the new TTL is smaller (LT; no TTL counts as infinite).
    IfLess,
    /// Only if the key has a TTL and the new one is smaller (XX and LT).
    IfSomeAndLess,
}

/// Remaining time to live, as TTL/PTTL/EXPIRETIME report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlState {
    /// The key does not exist (-2).
    Missing,
    /// The key exists without a TTL (-1).
    Persistent,
    /// The key expires at this Unix time in milliseconds.
    ExpiresAt(u64),
}

/// Options of [`Txn::scan`].
#[derive(Debug, Clone, Default)]
pub struct ScanOptions<'a> {
    /// MATCH pattern.
    pub pattern: Option<&'a [u8]>,
    /// COUNT hint.
    pub count: usize,
    /// TYPE filter.
    pub kind: Option<Kind>,
}

impl Txn<'_> {
    /// True if `key` exists.
    pub fn exists(&mut self, key: &[u8]) -> EngineResult<bool> {
        Ok(self.peek(key)?.is_some())
    }

    /// TOUCH: records an access of `key` (as a read does); true if it exists.
    pub fn touch(&mut self, key: &[u8]) -> EngineResult<bool> {
        Ok(self.read(key)?.is_some())
    }

    /// The kind of value at `key`.
    pub fn kind(&mut self, key: &[u8]) -> EngineResult<Option<Kind>> {
        Ok(self.peek(key)?.map(|e| e.value.kind()))
    }

    /// Sets the absolute expiry of `key` under `cond`; true if it changed. A
    /// deadline not in the future deletes the key (as Redis does).
    pub fn expire_at(
        &mut self,
        key: &[u8],
        at_ms: u64,
        cond: ExpireCondition,
    ) -> EngineResult<bool> {
        let Some(current) = self.peek(key)?.map(|e| e.expire_at) else {
            return Ok(false);
        };
        let allowed = match cond {
            ExpireCondition::Always => true,
            ExpireCondition::IfNone => current == 0,
            ExpireCondition::IfSome => current != 0,
            ExpireCondition::IfGreater => current != 0 && at_ms > current,
            ExpireCondition::IfLess => current == 0 || at_ms < current,
            ExpireCondition::IfSomeAndLess => current != 0 && at_ms < current,
        };
        if !allowed {
            return Ok(false);
        }
        if at_ms <= self.now_ms() {
            self.delete(key)?;
            return Ok(true);
        }
        if let Some(mut e) = self.write(key)? {
            e.expire_at = at_ms;
        }
        Ok(true)
    }

    /// Removes the TTL of `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> EngineResult<bool> {
        match self.peek(key)?.map(|e| e.expire_at) {
            Some(t) if t != 0 => {
                if let Some(mut e) = self.write(key)? {
                    e.expire_at = 0;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The TTL state of `key`.
    pub fn ttl(&mut self, key: &[u8]) -> EngineResult<TtlState> {
        Ok(match self.peek(key)? {
            None => TtlState::Missing,
            Some(e) if e.expire_at == 0 => TtlState::Persistent,
            Some(e) => TtlState::ExpiresAt(e.expire_at),
        })
    }

    /// RENAME / RENAMENX: moves `from` to `to` keeping its TTL. With
    /// `only_if_absent`, does nothing and returns false if `to` exists.
    pub fn rename(&mut self, from: &[u8], to: &[u8], only_if_absent: bool) -> EngineResult<bool> {
        if self.peek(from)?.is_none() {
            return Err(EngineError::NoSuchKey);
        }
        if from == to {
            return Ok(!only_if_absent);
        }
        if only_if_absent && self.exists(to)? {
            return Ok(false);
        }
        let Some(entry) = self.take(from)? else {
            return Err(EngineError::NoSuchKey);
        };
        let Entry {
            value, expire_at, ..
        } = *entry;
        self.put(to, value, expire_at)?;
        Ok(true)
    }

    /// Number of keys (expired ones not yet collected included, as Redis).
    pub fn dbsize(&mut self) -> EngineResult<usize> {
        let mut n = 0;
        self.for_each_shard(|_, s| n += s.len())?;
        Ok(n)
    }

    /// Number of keys and of keys with a TTL, counted through this
    /// transaction (so it works inside one that holds every shard, where
    /// locking shards again would deadlock).
    pub fn key_counts(&mut self) -> EngineResult<(usize, usize)> {
        let (mut keys, mut volatile) = (0, 0);
        self.for_each_shard(|_, s| {
            keys += s.len();
            volatile += s.volatile();
        })?;
        Ok((keys, volatile))
    }

    /// Every live key matching `pattern`.
    pub fn keys(&mut self, pattern: &[u8]) -> EngineResult<Vec<Blob>> {
        let now = self.now_ms();
        let all = pattern == b"*";
        let mut out = Vec::new();
        self.for_each_shard(|_, s| {
            out.extend(
                s.dict()
                    .iter()
                    .filter(|e| !e.is_expired(now) && (all || glob_match(pattern, &e.key)))
                    .map(|e| e.key.clone()),
            )
        })?;
        Ok(out)
    }

    /// One SCAN step: visits about `opts.count` keys from `cursor` on and
    /// returns those that pass the filters, with the cursor to continue from
    /// (0 when done). As in Redis, COUNT bounds the work, not the number of
    /// results, so a selective MATCH may return few or none per step. Every
    /// key present for the whole scan is returned at least once.
    pub fn scan(&mut self, cursor: u64, opts: &ScanOptions<'_>) -> EngineResult<(u64, Vec<Blob>)> {
        let now = self.now_ms();
        let shards = self.engine().keyspace().shard_count();
        let mut shard = (cursor >> CURSOR_BITS) as usize;
        let mut inner = cursor & ((1u64 << CURSOR_BITS) - 1);
        let count = opts.count.max(1);
        let mut visited = 0;
        let mut out = Vec::new();
        while shard < shards && visited < count {
            let want = count - visited;
            inner = self.with_shard(shard, |s| {
                s.dict().scan(inner, want, |e| {
                    visited += 1;
                    let keep = !e.is_expired(now)
                        && opts.pattern.is_none_or(|p| glob_match(p, &e.key))
                        && opts.kind.is_none_or(|k| e.value.kind() == k);
                    if keep {
                        out.push(e.key.clone());
                    }
                })
            })?;
            if inner == 0 {
                shard += 1;
            }
        }
        let next = if shard >= shards {
            0
        } else {
            ((shard as u64) << CURSOR_BITS) | inner
        };
        Ok((next, out))
    }

    /// A random live key.
    pub fn random_key(&mut self) -> EngineResult<Option<Blob>> {
        let now = self.now_ms();
        let shards = self.engine().keyspace().shard_count();
        let start = rand::random_range(0..shards);
        for step in 0..shards {
            let found = self.with_shard((start + step) % shards, |s| {
                for _ in 0..16 {
                    match s.dict().random() {
                        Some(e) if !e.is_expired(now) => return Some(e.key.clone()),
                        Some(_) => continue,
                        None => return None,
                    }
                }
                None
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::RegionId;
    use crate::engine::Engine;
    use crate::keyspace::{Value, blob};

    fn engine_with(n: usize) -> Engine {
        engine_with_shards(n, 4)
    }

    fn engine_with_shards(n: usize, shard_bits: u32) -> Engine {
        let e = Engine::new(RegionId(1), shard_bits);
        let mut t = e.txn_all();
        for i in 0..n {
            t.put(format!("k{i}").as_bytes(), Value::Str(blob(b"v")), 0)
                .unwrap();
        }
        drop(t);
        e
    }

    #[test]
    fn key_counts_work_while_every_shard_is_held() {
        let e = engine_with(100);
        let mut t = e.txn_all();
        let far = t.now_ms() + 60_000;
        assert!(t.expire_at(b"k1", far, ExpireCondition::Always).unwrap());
        assert_eq!(t.key_counts().unwrap(), (100, 1));
        drop(t);
        assert_eq!(e.txn_none().key_counts().unwrap(), (100, 1));
    }

    #[test]
    fn scan_count_bounds_work_not_matches() {
        let e = engine_with(1000);
        let mut t = e.txn_none();
        let opts = ScanOptions {
            pattern: Some(b"nothing*"),
            count: 10,
            kind: None,
        };
        let (next, found) = t.scan(0, &opts).unwrap();
        assert!(found.is_empty());
        assert_ne!(next, 0, "one step must not walk the whole keyspace");
    }

    #[test]
    fn scan_terminates_with_the_most_shards() {
        let e = engine_with_shards(300, 10);
        let mut t = e.txn_none();
        let opts = ScanOptions {
            count: 50,
            ..Default::default()
        };
        let (mut cursor, mut seen) = (0, std::collections::HashSet::new());
        for _ in 0..10_000 {
            let (next, keys) = t.scan(cursor, &opts).unwrap();
            seen.extend(keys);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(cursor, 0);
        assert_eq!(seen.len(), 300);
    }

    #[test]
    fn xx_lt_needs_an_existing_ttl() {
        let e = engine_with(1);
        let mut t = e.txn_all();
        let at = t.now_ms() + 10_000;
        assert!(
            !t.expire_at(b"k0", at, ExpireCondition::IfSomeAndLess)
                .unwrap()
        );
        assert!(t.expire_at(b"k0", at, ExpireCondition::IfLess).unwrap());
        assert!(
            !t.expire_at(b"k0", at + 1, ExpireCondition::IfSomeAndLess)
                .unwrap()
        );
        assert!(
            t.expire_at(b"k0", at - 1, ExpireCondition::IfSomeAndLess)
                .unwrap()
        );
        assert_eq!(t.ttl(b"k0").unwrap(), TtlState::ExpiresAt(at - 1));
    }
}

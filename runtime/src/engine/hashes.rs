//! Hash operations: field reads and writes (HSET, HGET, HDEL…), counters kept
//! in fields (HINCRBY, HINCRBYFLOAT), random fields (HRANDFIELD) and HSCAN.

use super::change::DeltaOp;
use super::number::{format_f64_incr, parse_f64, parse_i64};
use super::sets::Sample;
use super::{EngineError, EngineResult, Txn, glob_match};
use crate::keyspace::{Blob, EntryMut, Field, HashValue, Kind, Value, blob};
use serde_bytes::ByteBuf;

/// One item of an HSCAN page.
#[derive(Debug, Clone, PartialEq)]
pub struct HashScanItem {
    /// Field name.
    pub field: Blob,
    /// Field value; `None` when the scan was asked without values.
    pub value: Option<Blob>,
}

/// A page of HSCAN.
#[derive(Debug, Clone, Default)]
pub struct HashScan {
    /// Cursor to continue from; 0 when the walk is complete.
    pub cursor: u64,
    /// Fields found on this page.
    pub items: Vec<HashScanItem>,
}

fn as_hash(v: &Value) -> EngineResult<&HashValue> {
    match v {
        Value::Hash(h) => Ok(h),
        _ => Err(EngineError::WrongType),
    }
}

fn as_hash_mut(v: &mut Value) -> EngineResult<&mut HashValue> {
    match v {
        Value::Hash(h) => Ok(h),
        _ => Err(EngineError::WrongType),
    }
}

impl Txn<'_> {
    /// The hash at `key`, for reading (HGETALL, HKEYS, HMGET…).
    pub fn hash(&mut self, key: &[u8]) -> EngineResult<Option<&HashValue>> {
        match self.read_kind(key, Kind::Hash)? {
            Some(v) => as_hash(v).map(Some),
            None => Ok(None),
        }
    }

    /// The hash at `key` without counting a read (before a write).
    fn peek_hash(&mut self, key: &[u8]) -> EngineResult<Option<&HashValue>> {
        match self.peek(key)? {
            Some(e) => as_hash(&e.value).map(Some),
            None => Ok(None),
        }
    }

    fn hash_mut(&mut self, key: &[u8]) -> EngineResult<EntryMut<'_>> {
        self.write_kind(key, Kind::Hash, || Value::Hash(Box::default()))
    }

    /// HSET: sets each (field, value) pair, creating the hash; returns how
    /// many fields are new.
    pub fn hset<'a>(
        &mut self,
        key: &[u8],
        pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> EngineResult<usize> {
        if self.engine().replica().is_none() {
            let mut e = self.hash_mut(key)?;
            let h = as_hash_mut(&mut e.value)?;
            return Ok(pairs.into_iter().filter(|(f, v)| h.set(f, v)).count());
        }
        // Replicated: the fields travel as an update, so concurrent HSETs of
        // different fields all land and a concurrent HDEL removes only what
        // it saw.
        let pairs: Vec<(&[u8], &[u8])> = pairs.into_iter().collect();
        let before = self.delta_base(key)?;
        let mut e = self.hash_mut(key)?;
        let h = as_hash_mut(&mut e.value)?;
        let added = pairs.iter().filter(|(f, v)| h.set(f, v)).count();
        drop(e);
        let op = || {
            DeltaOp::HashSet(
                pairs
                    .iter()
                    .map(|(f, v)| (ByteBuf::from(f.to_vec()), ByteBuf::from(v.to_vec())))
                    .collect(),
            )
        };
        self.note_delta(key, op, before);
        Ok(added)
    }

    /// HSETNX: sets `field` only if absent; true if it was set.
    pub fn hsetnx(&mut self, key: &[u8], field: &[u8], value: &[u8]) -> EngineResult<bool> {
        if self.peek_hash(key)?.is_some_and(|h| h.get(field).is_some()) {
            return Ok(false);
        }
        Ok(self.hset(key, [(field, value)])? == 1)
    }

    /// HGET.
    pub fn hget(&mut self, key: &[u8], field: &[u8]) -> EngineResult<Option<&[u8]>> {
        Ok(self
            .hash(key)?
            .and_then(|h| h.get(field))
            .map(|v| v.as_slice()))
    }

    /// HDEL: removes `fields`; returns how many existed. An emptied hash is
    /// deleted.
    pub fn hdel<'a>(
        &mut self,
        key: &[u8],
        fields: impl IntoIterator<Item = &'a [u8]>,
    ) -> EngineResult<usize> {
        // A missing key is the common no-op: answer it without a write.
        if self.peek_hash(key)?.is_none() {
            return Ok(0);
        }
        let Some(mut e) = self.write_existing_kind(key, Kind::Hash)? else {
            return Ok(0);
        };
        let h = as_hash_mut(&mut e.value)?;
        Ok(fields.into_iter().filter(|f| h.remove(f)).count())
    }

    /// HEXISTS.
    pub fn hexists(&mut self, key: &[u8], field: &[u8]) -> EngineResult<bool> {
        Ok(self.hash(key)?.is_some_and(|h| h.get(field).is_some()))
    }

    /// HLEN.
    pub fn hlen(&mut self, key: &[u8]) -> EngineResult<usize> {
        Ok(self.hash(key)?.map_or(0, |h| h.len()))
    }

    /// HSTRLEN: length of the value of `field` (0 if absent).
    pub fn hstrlen(&mut self, key: &[u8], field: &[u8]) -> EngineResult<usize> {
        Ok(self
            .hash(key)?
            .and_then(|h| h.get(field))
            .map_or(0, |v| v.len()))
    }

    /// HINCRBY: adds `delta` to the integer in `field` (0 if absent).
    pub fn hincrby(&mut self, key: &[u8], field: &[u8], delta: i64) -> EngineResult<i64> {
        let current = match self.peek_hash(key)?.and_then(|h| h.get(field)) {
            Some(v) => parse_i64(v).ok_or(EngineError::HashNotInteger)?,
            None => 0,
        };
        let next = current.checked_add(delta).ok_or(EngineError::Overflow)?;
        let before = self.delta_base(key)?;
        let mut buf = itoa::Buffer::new();
        let mut e = self.hash_mut(key)?;
        as_hash_mut(&mut e.value)?.set(field, buf.format(next).as_bytes());
        drop(e);
        let op = || DeltaOp::HashIncr(ByteBuf::from(field.to_vec()), delta);
        self.note_delta(key, op, before);
        Ok(next)
    }

    /// HINCRBYFLOAT: adds `delta` to the float in `field` (0 if absent);
    /// returns the new value as stored.
    pub fn hincrbyfloat(&mut self, key: &[u8], field: &[u8], delta: f64) -> EngineResult<Blob> {
        if !delta.is_finite() {
            return Err(EngineError::Invalid("value is NaN or Infinity".into()));
        }
        let current = match self.peek_hash(key)?.and_then(|h| h.get(field)) {
            Some(v) => parse_f64(v).ok_or(EngineError::HashNotFloat)?,
            None => 0.0,
        };
        let next = current + delta;
        if !next.is_finite() {
            return Err(EngineError::NotFinite);
        }
        let text = blob(format_f64_incr(next).as_bytes());
        let before = self.delta_base(key)?;
        let mut e = self.hash_mut(key)?;
        as_hash_mut(&mut e.value)?.set(field, &text);
        drop(e);
        let op = || DeltaOp::HashIncrFloat(ByteBuf::from(field.to_vec()), delta);
        self.note_delta(key, op, before);
        Ok(text)
    }

    /// HRANDFIELD without a count: one random field.
    pub fn hrandfield(&mut self, key: &[u8]) -> EngineResult<Option<&Field>> {
        Ok(self.hash(key)?.and_then(|h| h.dict().random()))
    }

    /// HRANDFIELD with a count (see [`Sample`]); `None` if the key is missing.
    pub fn hrandfield_count(
        &mut self,
        key: &[u8],
        count: i64,
    ) -> EngineResult<Option<Sample<'_, Field>>> {
        match self.hash(key)? {
            Some(h) => Sample::new(h.dict(), count).map(Some),
            None => Ok(None),
        }
    }

    /// One HSCAN step over the hash at `key`: fields from `cursor` on
    /// (matching `pattern`, about `count` visited), with their values unless
    /// `values` is false, and the next cursor.
    pub fn hscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        pattern: Option<&[u8]>,
        count: usize,
        values: bool,
    ) -> EngineResult<HashScan> {
        let Some(h) = self.hash(key)? else {
            return Ok(HashScan::default());
        };
        let mut items = Vec::new();
        let cursor = h.dict().scan(cursor, count, |f| {
            if pattern.is_none_or(|p| glob_match(p, &f.name)) {
                items.push(HashScanItem {
                    field: f.name.clone(),
                    value: values.then(|| f.value.clone()),
                });
            }
        });
        Ok(HashScan { cursor, items })
    }
}

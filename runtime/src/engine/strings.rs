//! String operations: GET/SET and their variants, counters stored as decimal
//! strings (INCR family), and byte-range edits.

use super::change::DeltaOp;
use super::number::{format_f64_incr, parse_f64, parse_i64};
use super::{EngineError, EngineResult, Txn};
use crate::keyspace::{Blob, Kind, Value, blob};

/// When SET writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    /// Always.
    #[default]
    Always,
    /// Only if the key does not exist (NX).
    IfAbsent,
    /// Only if the key exists (XX).
    IfPresent,
}

/// What a write does to the key's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// Remove any TTL (plain SET).
    #[default]
    Clear,
    /// Keep the existing TTL (KEEPTTL).
    Keep,
    /// Expire at this absolute Unix time in milliseconds.
    At(u64),
}

/// Options of [`Txn::set`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SetOptions {
    /// NX / XX.
    pub condition: SetCondition,
    /// EX / PX / EXAT / PXAT / KEEPTTL.
    pub expiry: Expiry,
    /// Return the old value (GET option); the old value must be a string.
    pub get: bool,
}

/// What [`Txn::set`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct SetOutcome {
    /// True if the value was written.
    pub written: bool,
    /// The previous value, when [`SetOptions::get`] was asked.
    pub old: Option<Blob>,
}

impl Txn<'_> {
    /// The string at `key`.
    #[inline]
    pub fn get(&mut self, key: &[u8]) -> EngineResult<Option<&[u8]>> {
        match self.read_kind(key, Kind::Str)? {
            Some(Value::Str(b)) => Ok(Some(b.as_slice())),
            _ => Ok(None),
        }
    }

    pub(super) fn check_size(&self, len: usize) -> EngineResult<()> {
        if len > self.engine().settings().proto_max_bulk_len() {
            Err(EngineError::TooLarge)
        } else {
            Ok(())
        }
    }

    /// SET with all its options.
    pub fn set(&mut self, key: &[u8], value: &[u8], opts: &SetOptions) -> EngineResult<SetOutcome> {
        let now = self.now_ms();
        let (exists, old, old_expire) = match self.peek(key)? {
            Some(e) => {
                let old = match (&e.value, opts.get) {
                    (Value::Str(b), true) => Some(b.clone()),
                    (_, true) => return Err(EngineError::WrongType),
                    _ => None,
                };
                (true, old, e.expire_at)
            }
            None => (false, None, 0),
        };
        let allowed = match opts.condition {
            SetCondition::Always => true,
            SetCondition::IfAbsent => !exists,
            SetCondition::IfPresent => exists,
        };
        if !allowed {
            return Ok(SetOutcome {
                written: false,
                old,
            });
        }
        let expire_at = match opts.expiry {
            Expiry::Clear => 0,
            Expiry::Keep => old_expire,
            Expiry::At(t) => t,
        };
        if expire_at != 0 && expire_at <= now {
            // A deadline in the past: the write happens and the key is gone at once.
            self.delete(key)?;
        } else {
            self.put(key, Value::Str(blob(value)), expire_at)?;
        }
        Ok(SetOutcome { written: true, old })
    }

    /// GET then DEL.
    pub fn getdel(&mut self, key: &[u8]) -> EngineResult<Option<Blob>> {
        if self.get(key)?.is_none() {
            return Ok(None);
        }
        Ok(self.take(key)?.and_then(|e| match e.value {
            Value::Str(b) => Some(b),
            _ => None,
        }))
    }

    /// GETEX: the string, with its TTL changed (`Keep` leaves it alone).
    pub fn getex(&mut self, key: &[u8], expiry: Expiry) -> EngineResult<Option<Blob>> {
        let Some(v) = self.get(key)?.map(blob) else {
            return Ok(None);
        };
        match expiry {
            Expiry::Keep => {}
            Expiry::At(t) if t <= self.now_ms() => {
                self.delete(key)?;
            }
            Expiry::At(t) => {
                if let Some(mut e) = self.write(key)? {
                    e.expire_at = t;
                }
            }
            Expiry::Clear => {
                if let Some(mut e) = self.write(key)? {
                    e.expire_at = 0;
                }
            }
        }
        Ok(Some(v))
    }

    /// Opens the string at `key` for an in-place edit, creating it empty.
    fn string_mut(&mut self, key: &[u8]) -> EngineResult<crate::keyspace::EntryMut<'_>> {
        self.write_kind(key, Kind::Str, || Value::Str(Blob::new()))
    }

    /// INCRBY / DECRBY / INCR / DECR.
    pub fn incr_by(&mut self, key: &[u8], delta: i64) -> EngineResult<i64> {
        let current = match self.peek(key)? {
            Some(e) => match &e.value {
                Value::Str(b) => parse_i64(b).ok_or(EngineError::NotInteger)?,
                _ => return Err(EngineError::WrongType),
            },
            None => 0,
        };
        let next = current.checked_add(delta).ok_or(EngineError::Overflow)?;
        let before = self.delta_base(key)?;
        let mut e = self.string_mut(key)?;
        let mut buf = itoa::Buffer::new();
        e.value = Value::Str(blob(buf.format(next).as_bytes()));
        drop(e);
        self.note_delta(key, || DeltaOp::Incr(delta), before);
        Ok(next)
    }

    /// INCRBYFLOAT; returns the new value as stored.
    pub fn incr_by_float(&mut self, key: &[u8], delta: f64) -> EngineResult<Blob> {
        let current = match self.peek(key)? {
            Some(e) => match &e.value {
                Value::Str(b) => parse_f64(b).ok_or(EngineError::NotFloat)?,
                _ => return Err(EngineError::WrongType),
            },
            None => 0.0,
        };
        let next = current + delta;
        if !next.is_finite() {
            return Err(EngineError::NotFinite);
        }
        let text = blob(format_f64_incr(next).as_bytes());
        let before = self.delta_base(key)?;
        let mut e = self.string_mut(key)?;
        e.value = Value::Str(text.clone());
        drop(e);
        self.note_delta(key, || DeltaOp::IncrFloat(delta), before);
        Ok(text)
    }

    /// APPEND; returns the new length.
    pub fn append(&mut self, key: &[u8], suffix: &[u8]) -> EngineResult<usize> {
        let len = self.strlen(key)?;
        self.check_size(len + suffix.len())?;
        let mut e = self.string_mut(key)?;
        match &mut e.value {
            Value::Str(b) => {
                b.extend_from_slice(suffix);
                Ok(b.len())
            }
            _ => Err(EngineError::WrongType),
        }
    }

    /// STRLEN.
    pub fn strlen(&mut self, key: &[u8]) -> EngineResult<usize> {
        match self.peek(key)? {
            Some(e) => match &e.value {
                Value::Str(b) => Ok(b.len()),
                _ => Err(EngineError::WrongType),
            },
            None => Ok(0),
        }
    }

    /// GETRANGE with Redis's inclusive, negative-from-the-end offsets.
    pub fn getrange(&mut self, key: &[u8], start: i64, end: i64) -> EngineResult<Blob> {
        let Some(s) = self.get(key)? else {
            return Ok(Blob::new());
        };
        let len = s.len() as i64;
        if len == 0 || (start < 0 && end < 0 && start > end) {
            return Ok(Blob::new());
        }
        let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
        let (start, end) = (norm(start), norm(end).min(len - 1));
        if start > end || start >= len {
            return Ok(Blob::new());
        }
        Ok(blob(&s[start as usize..=end as usize]))
    }

    /// SETRANGE; returns the new length. Pads with zero bytes.
    pub fn setrange(&mut self, key: &[u8], offset: usize, value: &[u8]) -> EngineResult<usize> {
        let len = self.strlen(key)?;
        if value.is_empty() {
            return Ok(len);
        }
        let end = offset
            .checked_add(value.len())
            .ok_or(EngineError::TooLarge)?;
        self.check_size(end)?;
        let mut e = self.string_mut(key)?;
        match &mut e.value {
            Value::Str(b) => {
                if b.len() < end {
                    b.resize(end, 0);
                }
                b[offset..end].copy_from_slice(value);
                Ok(b.len())
            }
            _ => Err(EngineError::WrongType),
        }
    }
}

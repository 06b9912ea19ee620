//! Set operations: membership (SADD, SREM, SISMEMBER…), random members (SPOP,
//! SRANDMEMBER), SMOVE, the set algebra (SINTER, SUNION, SDIFF, their STORE
//! forms and SINTERCARD) and SSCAN.
//!
//! Also home of [`Sample`], the random-element picker SRANDMEMBER and
//! HRANDFIELD share.

use std::collections::HashSet;

use rand::seq::SliceRandom;

use super::change::DeltaOp;
use super::{EngineError, EngineResult, Txn, glob_match};
use crate::keyspace::{Blob, Dict, DictItem, Kind, SetValue, Value};
use serde_bytes::ByteBuf;

/// Largest number of draws a negative-count SRANDMEMBER/HRANDFIELD may ask
/// for. Redis has no such bound and runs out of memory building the reply; we
/// refuse instead ("ERR value is out of range").
pub const MAX_REPEATED_SAMPLES: u64 = 1 << 24;

/// Random elements of a collection, as SRANDMEMBER / HRANDFIELD return them:
/// a positive count gives distinct elements (at most all of them), a negative
/// count gives `|count|` independent draws that may repeat.
pub struct Sample<'a, T> {
    dict: &'a Dict<T>,
    picks: Picks<'a, T>,
}

enum Picks<'a, T> {
    /// Draws with replacement still to make.
    Repeat(usize),
    /// Distinct elements, already chosen.
    Chosen(std::vec::IntoIter<&'a T>),
}

impl<'a, T: DictItem> Sample<'a, T> {
    /// Picks from `dict` per `count` (see the type docs). A count of 0 or an
    /// empty dict gives nothing.
    pub fn new(dict: &'a Dict<T>, count: i64) -> EngineResult<Sample<'a, T>> {
        if count < 0 {
            let n = count.unsigned_abs();
            if n > MAX_REPEATED_SAMPLES {
                return Err(EngineError::Invalid("value is out of range".into()));
            }
            let n = if dict.is_empty() { 0 } else { n as usize };
            return Ok(Sample {
                dict,
                picks: Picks::Repeat(n),
            });
        }
        let want = count as u64;
        let len = dict.len();
        let chosen: Vec<&T> = if want >= len as u64 {
            dict.iter().collect()
        } else if want as usize * 3 > len {
            // Many of the elements: shuffling them all is cheaper than
            // rejecting repeated random draws.
            let mut all: Vec<&T> = dict.iter().collect();
            let (chosen, _) = all.partial_shuffle(&mut rand::rng(), want as usize);
            chosen.to_vec()
        } else {
            // Few: draw random buckets until enough distinct ones.
            let want = want as usize;
            let mut seen = HashSet::with_capacity(want);
            let mut out = Vec::with_capacity(want);
            while out.len() < want {
                let Some(i) = dict.random_index() else { break };
                if seen.insert(i)
                    && let Some(item) = dict.at(i)
                {
                    out.push(item);
                }
            }
            out
        };
        Ok(Sample {
            dict,
            picks: Picks::Chosen(chosen.into_iter()),
        })
    }
}

impl<'a, T: DictItem> Iterator for Sample<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        match &mut self.picks {
            Picks::Repeat(0) => None,
            Picks::Repeat(n) => {
                *n -= 1;
                self.dict.random()
            }
            Picks::Chosen(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.picks {
            Picks::Repeat(n) => *n,
            Picks::Chosen(it) => it.len(),
        };
        (n, Some(n))
    }
}

impl<T: DictItem> ExactSizeIterator for Sample<'_, T> {}

/// Which set-algebra operation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// Members in every set (SINTER).
    Inter,
    /// Members in any set (SUNION).
    Union,
    /// Members of the first set in none of the others (SDIFF).
    Diff,
}

/// A page of SSCAN.
#[derive(Debug, Clone, Default)]
pub struct SetScan {
    /// Cursor to continue from; 0 when the walk is complete.
    pub cursor: u64,
    /// Members found on this page.
    pub members: Vec<Blob>,
}

fn as_set(v: &Value) -> EngineResult<&SetValue> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(EngineError::WrongType),
    }
}

fn as_set_mut(v: &mut Value) -> EngineResult<&mut SetValue> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(EngineError::WrongType),
    }
}

impl Txn<'_> {
    /// The set at `key`, for reading (SMEMBERS and other whole-set reads).
    pub fn set_members(&mut self, key: &[u8]) -> EngineResult<Option<&SetValue>> {
        match self.read_kind(key, Kind::Set)? {
            Some(v) => as_set(v).map(Some),
            None => Ok(None),
        }
    }

    /// SADD: adds `members`, creating the set; returns how many were new.
    pub fn sadd<'m>(
        &mut self,
        key: &[u8],
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> EngineResult<usize> {
        if self.engine().replica().is_none() {
            let mut e = self.write_kind(key, Kind::Set, || Value::Set(Box::default()))?;
            let set = as_set_mut(&mut e.value)?;
            return Ok(members.into_iter().filter(|m| set.insert(m)).count());
        }
        // Replicated: the members travel as an add, so concurrent SADDs all
        // land and a concurrent SREM removes only what it saw.
        let members: Vec<&[u8]> = members.into_iter().collect();
        let before = self.delta_base(key)?;
        let mut e = self.write_kind(key, Kind::Set, || Value::Set(Box::default()))?;
        let set = as_set_mut(&mut e.value)?;
        let added = members.iter().filter(|m| set.insert(m)).count();
        drop(e);
        let op = || DeltaOp::SetAdd(members.iter().map(|m| ByteBuf::from(m.to_vec())).collect());
        self.note_delta(key, op, before);
        Ok(added)
    }

    /// SREM: removes `members`; returns how many were there. An emptied set
    /// is deleted.
    pub fn srem<'m>(
        &mut self,
        key: &[u8],
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> EngineResult<usize> {
        // A missing key is the common no-op: answer it without a write.
        if self.peek_set_len(key)? == 0 {
            return Ok(0);
        }
        let Some(mut e) = self.write_existing_kind(key, Kind::Set)? else {
            return Ok(0);
        };
        let set = as_set_mut(&mut e.value)?;
        Ok(members.into_iter().filter(|m| set.remove(m)).count())
    }

    /// Type-checked size of the set at `key` without counting a read.
    fn peek_set_len(&mut self, key: &[u8]) -> EngineResult<usize> {
        match self.peek(key)? {
            Some(e) => as_set(&e.value).map(|s| s.len()),
            None => Ok(0),
        }
    }

    /// SCARD.
    pub fn scard(&mut self, key: &[u8]) -> EngineResult<usize> {
        Ok(self.set_members(key)?.map_or(0, |s| s.len()))
    }

    /// SISMEMBER.
    pub fn sismember(&mut self, key: &[u8], member: &[u8]) -> EngineResult<bool> {
        Ok(self.set_members(key)?.is_some_and(|s| s.contains(member)))
    }

    /// SMISMEMBER: membership of each of `members`, in order.
    pub fn smismember<'m>(
        &mut self,
        key: &[u8],
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> EngineResult<Vec<bool>> {
        let set = self.set_members(key)?;
        Ok(members
            .into_iter()
            .map(|m| set.is_some_and(|s| s.contains(m)))
            .collect())
    }

    /// SPOP without a count: removes and returns one random member.
    pub fn spop(&mut self, key: &[u8]) -> EngineResult<Option<Blob>> {
        let Some(mut e) = self.write_existing_kind(key, Kind::Set)? else {
            return Ok(None);
        };
        Ok(as_set_mut(&mut e.value)?.pop_random())
    }

    /// SPOP with a count: removes and returns up to `count` random members
    /// (the whole set, which is then deleted, if `count` covers it).
    pub fn spop_count(&mut self, key: &[u8], count: usize) -> EngineResult<Vec<Blob>> {
        // Type check first: SPOP on a wrong-typed key fails even with count 0.
        let len = self.peek_set_len(key)?;
        if len == 0 || count == 0 {
            return Ok(Vec::new());
        }
        if count >= len {
            return Ok(match self.take(key)?.map(|e| e.value) {
                Some(Value::Set(s)) => s.iter().cloned().collect(),
                _ => Vec::new(),
            });
        }
        let Some(mut e) = self.write_existing_kind(key, Kind::Set)? else {
            return Ok(Vec::new());
        };
        let set = as_set_mut(&mut e.value)?;
        Ok((0..count).map_while(|_| set.pop_random()).collect())
    }

    /// SRANDMEMBER without a count: one random member.
    pub fn srandmember(&mut self, key: &[u8]) -> EngineResult<Option<&Blob>> {
        Ok(self.set_members(key)?.and_then(|s| s.dict().random()))
    }

    /// SRANDMEMBER with a count (see [`Sample`]); empty if the key is missing.
    pub fn srandmember_count(
        &mut self,
        key: &[u8],
        count: i64,
    ) -> EngineResult<Option<Sample<'_, Blob>>> {
        match self.set_members(key)? {
            Some(s) => Sample::new(s.dict(), count).map(Some),
            None => Ok(None),
        }
    }

    /// SMOVE: moves `member` from `src` to `dst`; true if it was moved (or,
    /// when `src == dst`, if it is a member).
    pub fn smove(&mut self, src: &[u8], dst: &[u8], member: &[u8]) -> EngineResult<bool> {
        let in_src = match self.peek(src)? {
            None => return Ok(false),
            Some(e) => as_set(&e.value)?.contains(member),
        };
        if let Some(e) = self.peek(dst)? {
            as_set(&e.value)?;
        }
        if src == dst || !in_src {
            return Ok(in_src);
        }
        if let Some(mut e) = self.write_existing_kind(src, Kind::Set)? {
            as_set_mut(&mut e.value)?.remove(member);
        }
        let mut e = self.write_kind(dst, Kind::Set, || Value::Set(Box::default()))?;
        as_set_mut(&mut e.value)?.insert(member);
        Ok(true)
    }

    /// SINTER / SUNION / SDIFF over `keys` (missing keys are empty sets).
    /// Every key must hold a set, or the whole operation fails with WRONGTYPE.
    pub fn set_op(&mut self, op: SetOp, keys: &[&[u8]]) -> EngineResult<SetValue> {
        // Pass 1: type-check every key (as Redis does, even after a missing
        // one) and find the smallest set, which bounds an intersection.
        let mut smallest: Option<(usize, usize)> = None;
        let mut any_missing = false;
        for (i, &k) in keys.iter().enumerate() {
            match self.set_members(k)? {
                Some(s) => {
                    if smallest.is_none_or(|(_, n)| s.len() < n) {
                        smallest = Some((i, s.len()));
                    }
                }
                None => any_missing = true,
            }
        }
        let mut out = SetValue::default();
        match op {
            SetOp::Inter => {
                let Some((first, _)) = smallest else {
                    return Ok(out);
                };
                if any_missing {
                    return Ok(out);
                }
                out = self.peek_set_clone(keys[first])?;
                for (i, &k) in keys.iter().enumerate() {
                    if out.is_empty() {
                        break;
                    }
                    if i == first || k == keys[first] {
                        continue;
                    }
                    if let Some(e) = self.peek(k)? {
                        let other = as_set(&e.value)?;
                        out.retain(|m| other.contains(m));
                    }
                }
            }
            SetOp::Union => {
                for &k in keys {
                    if let Some(e) = self.peek(k)? {
                        let s = as_set(&e.value)?;
                        if out.is_empty() {
                            out = s.clone();
                        } else {
                            for m in s.iter() {
                                out.insert(m);
                            }
                        }
                    }
                }
            }
            SetOp::Diff => {
                let Some((&first, rest)) = keys.split_first() else {
                    return Ok(out);
                };
                out = self.peek_set_clone(first)?;
                for &k in rest {
                    if out.is_empty() {
                        break;
                    }
                    if let Some(e) = self.peek(k)? {
                        let other = as_set(&e.value)?;
                        // Walk whichever side is smaller.
                        if other.len() < out.len() {
                            for m in other.iter() {
                                out.remove(m);
                            }
                        } else {
                            out.retain(|m| !other.contains(m));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn peek_set_clone(&mut self, key: &[u8]) -> EngineResult<SetValue> {
        match self.peek(key)? {
            Some(e) => Ok(as_set(&e.value)?.clone()),
            None => Ok(SetValue::default()),
        }
    }

    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE: stores the result at `dst`
    /// (replacing whatever it held, TTL included; deleting it if the result is
    /// empty) and returns its size.
    pub fn set_op_store(&mut self, op: SetOp, dst: &[u8], keys: &[&[u8]]) -> EngineResult<usize> {
        let result = self.set_op(op, keys)?;
        let n = result.len();
        if n == 0 {
            self.delete(dst)?;
        } else {
            self.put(dst, Value::Set(Box::new(result)), 0)?;
        }
        Ok(n)
    }

    /// SINTERCARD: size of the intersection of `keys`, stopping at `limit`
    /// (0 = no limit).
    pub fn sintercard(&mut self, keys: &[&[u8]], limit: usize) -> EngineResult<usize> {
        let n = self.set_op(SetOp::Inter, keys)?.len();
        Ok(if limit == 0 { n } else { n.min(limit) })
    }

    /// One SSCAN step over the set at `key`: members from `cursor` on
    /// (matching `pattern`, about `count` visited) and the next cursor.
    pub fn sscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        pattern: Option<&[u8]>,
        count: usize,
    ) -> EngineResult<SetScan> {
        let Some(s) = self.set_members(key)? else {
            return Ok(SetScan::default());
        };
        let mut members = Vec::new();
        let cursor = s.dict().scan(cursor, count, |m| {
            if pattern.is_none_or(|p| glob_match(p, m)) {
                members.push(m.clone());
            }
        });
        Ok(SetScan { cursor, members })
    }
}

//! List operations: pushes and pops at either end, indexed access, ranges,
//! removal and search, moves between lists, and the multi-key pops behind
//! LMPOP and the blocking commands.
//!
//! With replication every edit also names what it did by element position
//! (`crdt::sequence`): new elements get positions between their neighbours,
//! removed ones are named by theirs, and the edit replicates as those
//! element operations ([`SeqOp`]) so concurrent edits in other regions
//! merge instead of replacing the list. A single region skips all of it.
//!
//! Blocking is not handled here: an operation that finds nothing returns
//! `None` and the front end decides whether to wait. What the engine does is
//! *signal*: every write that leaves a list with elements while clients may be
//! blocked calls [`Txn::signal_ready`] — pushes, LINSERT, LMOVE's destination,
//! and pops that leave elements behind (so the next waiter is served too; see
//! `engine/blocking.rs`).

use std::collections::{VecDeque, vec_deque};

use serde_bytes::ByteBuf;

use super::change::DeltaOp;
use super::{EngineError, EngineResult, Txn};
use crate::clock::{RegionId, Stamp};
use crate::crdt::{Pos, SeqOp};
use crate::keyspace::{Blob, Kind, ListValue, Value, hash_key};

/// An end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (LEFT).
    Left,
    /// The tail (RIGHT).
    Right,
}

/// Where LINSERT puts the new element relative to the pivot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Before the pivot.
    Before,
    /// After the pivot.
    After,
}

/// Options of [`Txn::lpos`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosOptions {
    /// Which match to start from: 1 = first, 2 = second…; negative counts
    /// matches from the tail. Never 0.
    pub rank: i64,
    /// Most matches to return; 0 = all of them.
    pub count: usize,
    /// Most elements to compare; 0 = the whole list.
    pub maxlen: usize,
}

impl Default for PosOptions {
    fn default() -> Self {
        PosOptions {
            rank: 1,
            count: 1,
            maxlen: 0,
        }
    }
}

/// Elements of a list range, head to tail (empty for a missing key).
#[derive(Debug, Clone)]
pub struct Elements<'a>(Option<vec_deque::Iter<'a, Blob>>);

impl<'a> Iterator for Elements<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        self.0.as_mut()?.next().map(|b| b.as_slice())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.as_ref().map_or(0, |i| i.len());
        (n, Some(n))
    }
}

impl ExactSizeIterator for Elements<'_> {}

/// Resolves a possibly negative index against `len`.
#[inline]
fn index_of(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// Resolves LRANGE/LTRIM `start`/`stop` (inclusive, possibly negative) to a
/// half-open range; `None` if it selects nothing.
fn span(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let n = len as i64;
    let mut start = if start < 0 { n + start } else { start };
    let mut stop = if stop < 0 { n + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= n {
        return None;
    }
    if stop >= n {
        stop = n - 1;
    }
    Some((start as usize, stop as usize + 1))
}

fn as_list(v: &Value) -> Option<&ListValue> {
    match v {
        Value::List(l) => Some(l),
        _ => None,
    }
}

fn as_list_mut(v: &mut Value) -> Option<&mut ListValue> {
    match v {
        Value::List(l) => Some(l),
        _ => None,
    }
}

fn pop_end(l: &mut ListValue, end: End) -> Option<Blob> {
    match end {
        End::Left => l.pop_front(),
        End::Right => l.pop_back(),
    }
}

fn push_end(l: &mut ListValue, end: End, b: Blob) {
    match end {
        End::Left => l.push_front_blob(b),
        End::Right => l.push_back_blob(b),
    }
}

fn buf(b: &[u8]) -> ByteBuf {
    ByteBuf::from(b.to_vec())
}

/// Which elements LREM removes: indexes of the first `limit` elements equal
/// to `value` (0 = all), from the tail if `from_tail` (as
/// `ListValue::remove_matching`).
fn matching(l: &ListValue, value: &[u8], limit: usize, from_tail: bool) -> Vec<usize> {
    let limit = if limit == 0 { usize::MAX } else { limit };
    let hits = |(i, b): (usize, &Blob)| (b.as_slice() == value).then_some(i);
    if from_tail {
        l.iter()
            .enumerate()
            .rev()
            .filter_map(hits)
            .take(limit)
            .collect()
    } else {
        l.iter().enumerate().filter_map(hits).take(limit).collect()
    }
}

impl Txn<'_> {
    /// With replication: runs `edit` on the positions of the elements the
    /// list at `key` shows *before* this edit writes it, with the writer's
    /// region and stamp for new positions. `None` without replication, when
    /// `key` holds another type (the edit then fails on its own), or when it
    /// is missing and the edit does not `create` it.
    fn with_positions<R>(
        &mut self,
        key: &[u8],
        create: bool,
        edit: impl FnOnce(&mut VecDeque<Pos>, RegionId, Stamp) -> R,
    ) -> EngineResult<Option<R>> {
        let Some(replica) = self.engine.replica() else {
            return Ok(None);
        };
        let (dot, len) = match self.peek(key)? {
            Some(e) => match &e.value {
                Value::List(l) => ((e.region, e.stamp), l.len()),
                _ => return Ok(None),
            },
            None if create => ((RegionId(0), Stamp::ZERO), 0),
            None => return Ok(None),
        };
        let stamp = self.stamp();
        let me = self.engine.region();
        let index = self.engine.keyspace().shard_of(hash_key(key));
        Ok(Some(replica.edit_list_positions(
            index,
            key,
            dot,
            len,
            (me, stamp),
            |p| edit(p, me, stamp),
        )))
    }

    /// With replication: positions for `n` new elements at `end` of `key`'s
    /// list, head first, recorded as shown.
    fn place_at_end(&mut self, key: &[u8], end: End, n: usize) -> EngineResult<Option<Vec<Pos>>> {
        self.with_positions(key, true, |p, me, stamp| match end {
            End::Right => {
                let run = Pos::run(p.back(), None, n, me, stamp);
                p.extend(run.iter().cloned());
                run
            }
            End::Left => {
                let run = Pos::run(None, p.front(), n, me, stamp);
                for q in run.iter().rev() {
                    p.push_front(q.clone());
                }
                run
            }
        })
    }

    /// With replication: takes the positions of `n` elements at `end` out
    /// of what `key`'s list shows.
    fn take_at_end(&mut self, key: &[u8], end: End, n: usize) -> EngineResult<Option<Vec<Pos>>> {
        self.with_positions(key, false, |p, _, _| {
            let n = n.min(p.len());
            match end {
                End::Left => p.drain(..n).collect(),
                End::Right => p.split_off(p.len() - n).into(),
            }
        })
    }

    /// Records a list edit's element operations for replication.
    fn note_list(&mut self, key: &[u8], ops: Vec<SeqOp>, before: Option<super::txn::BaseVersion>) {
        let mut ops = ops.into_iter();
        let Some(first) = ops.next() else {
            return;
        };
        self.note_delta(key, || DeltaOp::List(first), before);
        for op in ops {
            self.note_delta(key, || DeltaOp::List(op), None);
        }
    }

    /// The list at `key` for reading (counts a hit or miss).
    fn list(&mut self, key: &[u8]) -> EngineResult<Option<&ListValue>> {
        Ok(self.read_kind(key, Kind::List)?.and_then(as_list))
    }

    /// LPUSH/RPUSH (and LPUSHX/RPUSHX with `only_if_exists`): pushes each
    /// element in turn at `end`; returns the new length (0 when `only_if_exists`
    /// and the key is missing). LPUSH of `a b c` leaves `c b a` at the head.
    pub fn list_push<'a>(
        &mut self,
        key: &[u8],
        end: End,
        elements: impl IntoIterator<Item = &'a [u8]>,
        only_if_exists: bool,
    ) -> EngineResult<usize> {
        if self.engine.replica().is_some() {
            let elements: Vec<&[u8]> = elements.into_iter().collect();
            if only_if_exists && self.peek(key)?.is_none() {
                return Ok(0);
            }
            let before = self.delta_base(key)?;
            let placed = self.place_at_end(key, end, elements.len())?;
            let len = self.push_unreplicated(key, end, elements.iter().copied(), only_if_exists)?;
            if let Some(run) = placed {
                // `run` is head first: LPUSH's elements end up reversed.
                let items: Vec<(Pos, ByteBuf)> = match end {
                    End::Right => run
                        .into_iter()
                        .zip(elements.iter().map(|e| buf(e)))
                        .collect(),
                    End::Left => run
                        .into_iter()
                        .zip(elements.iter().rev().map(|e| buf(e)))
                        .collect(),
                };
                self.note_list(key, vec![SeqOp::Insert(items)], before);
            }
            return Ok(len);
        }
        self.push_unreplicated(key, end, elements, only_if_exists)
    }

    fn push_unreplicated<'a>(
        &mut self,
        key: &[u8],
        end: End,
        elements: impl IntoIterator<Item = &'a [u8]>,
        only_if_exists: bool,
    ) -> EngineResult<usize> {
        let mut e = if only_if_exists {
            match self.write_existing_kind(key, Kind::List)? {
                Some(e) => e,
                None => return Ok(0),
            }
        } else {
            self.write_kind(key, Kind::List, || Value::List(Box::default()))?
        };
        let Some(l) = as_list_mut(&mut e.value) else {
            return Err(EngineError::WrongType);
        };
        for v in elements {
            match end {
                End::Left => l.push_front(v),
                End::Right => l.push_back(v),
            }
        }
        let len = l.len();
        drop(e);
        if len > 0 {
            self.signal_ready(key);
        }
        Ok(len)
    }

    /// LPOP/RPOP with a count: up to `count` elements from `end`; `None` if the
    /// key is missing. An emptied list is deleted.
    pub fn list_pop(
        &mut self,
        key: &[u8],
        end: End,
        count: usize,
    ) -> EngineResult<Option<Vec<Blob>>> {
        let before = self.delta_base(key)?;
        let taken = self.take_at_end(key, end, count)?;
        let Some(mut e) = self.write_existing_kind(key, Kind::List)? else {
            return Ok(None);
        };
        let Some(l) = as_list_mut(&mut e.value) else {
            return Err(EngineError::WrongType);
        };
        let n = count.min(l.len());
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            match pop_end(l, end) {
                Some(b) => out.push(b),
                None => break,
            }
        }
        let left = l.len();
        drop(e);
        if left > 0 && n > 0 {
            self.signal_ready(key);
        }
        if let Some(taken) = taken {
            self.note_list(key, vec![SeqOp::Remove(taken)], before);
        }
        Ok(Some(out))
    }

    /// LPOP/RPOP without a count: one element from `end`, `None` if the key is
    /// missing.
    pub fn list_pop_one(&mut self, key: &[u8], end: End) -> EngineResult<Option<Blob>> {
        // The hot LPOP/RPOP path: no Vec.
        let before = self.delta_base(key)?;
        let taken = self.take_at_end(key, end, 1)?;
        let Some(mut e) = self.write_existing_kind(key, Kind::List)? else {
            return Ok(None);
        };
        let Some(l) = as_list_mut(&mut e.value) else {
            return Err(EngineError::WrongType);
        };
        let popped = pop_end(l, end);
        let left = l.len();
        drop(e);
        if left > 0 && popped.is_some() {
            self.signal_ready(key);
        }
        if let Some(taken) = taken {
            self.note_list(key, vec![SeqOp::Remove(taken)], before);
        }
        Ok(popped)
    }

    /// LMPOP and the blocking pops: pops up to `count` elements from `end` of
    /// the first key (in order) holding a non-empty list. Returns that key's
    /// position in `keys` and the elements; `None` if every key is missing. A
    /// key of another type met before a non-empty list is WRONGTYPE, as in
    /// Redis.
    pub fn list_mpop<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a [u8]>,
        end: End,
        count: usize,
    ) -> EngineResult<Option<(usize, Vec<Blob>)>> {
        for (i, key) in keys.into_iter().enumerate() {
            // `peek` first: a miss must not create or stamp anything.
            match self.peek(key)? {
                None => continue,
                Some(e) if e.value.kind() != Kind::List => return Err(EngineError::WrongType),
                Some(_) => {}
            }
            if let Some(v) = self.list_pop(key, end, count)?
                && !v.is_empty()
            {
                return Ok(Some((i, v)));
            }
        }
        Ok(None)
    }

    /// LLEN (0 for a missing key).
    pub fn llen(&mut self, key: &[u8]) -> EngineResult<usize> {
        Ok(self.list(key)?.map_or(0, |l| l.len()))
    }

    /// LRANGE: elements `start..=stop` (negative = from the tail), clamped.
    pub fn lrange(&mut self, key: &[u8], start: i64, stop: i64) -> EngineResult<Elements<'_>> {
        let Some(l) = self.list(key)? else {
            return Ok(Elements(None));
        };
        Ok(Elements(
            span(start, stop, l.len()).map(|(s, e)| l.range(s, e)),
        ))
    }

    /// LINDEX: the element at `index` (negative = from the tail).
    pub fn lindex(&mut self, key: &[u8], index: i64) -> EngineResult<Option<&[u8]>> {
        let Some(l) = self.list(key)? else {
            return Ok(None);
        };
        Ok(index_of(index, l.len())
            .and_then(|i| l.get(i))
            .map(|b| b.as_slice()))
    }

    /// LSET: replaces the element at `index`. `NoSuchKey` for a missing key,
    /// `IndexOutOfRange` outside the list.
    pub fn lset(&mut self, key: &[u8], index: i64, value: &[u8]) -> EngineResult<()> {
        let before = self.delta_base(key)?;
        let at = self.with_positions(key, false, |p, _, _| {
            index_of(index, p.len()).and_then(|i| p.get(i).cloned())
        })?;
        let Some(mut e) = self.write_existing_kind(key, Kind::List)? else {
            return Err(EngineError::NoSuchKey);
        };
        let Some(l) = as_list_mut(&mut e.value) else {
            return Err(EngineError::WrongType);
        };
        match index_of(index, l.len()) {
            Some(i) if l.set(i, value) => {
                drop(e);
                if let Some(Some(pos)) = at {
                    self.note_list(key, vec![SeqOp::Set(pos, buf(value))], before);
                }
                Ok(())
            }
            _ => {
                drop(e);
                // The failed LSET still counts as a write (as in Redis);
                // replicate it as one that changes nothing.
                if at.is_some() {
                    self.note_list(key, vec![SeqOp::Remove(Vec::new())], before);
                }
                Err(EngineError::IndexOutOfRange)
            }
        }
    }

    /// LREM: removes up to |count| elements equal to `value`, from the head if
    /// `count > 0`, from the tail if `count < 0`, all if 0. Returns how many.
    pub fn lrem(&mut self, key: &[u8], count: i64, value: &[u8]) -> EngineResult<usize> {
        let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let mut removed = None;
        let mut before = None;
        if self.engine.replica().is_some()
            && let Some(Value::List(l)) = self.peek(key)?.map(|e| &e.value)
        {
            let mut hits = matching(l, value, limit, count < 0);
            hits.sort_unstable();
            before = self.delta_base(key)?;
            removed = self.with_positions(key, false, |p, _, _| {
                hits.iter()
                    .rev()
                    .filter_map(|&i| p.remove(i))
                    .collect::<Vec<Pos>>()
            })?;
        }
        let Some(mut e) = self.write_existing_kind(key, Kind::List)? else {
            return Ok(0);
        };
        let Some(l) = as_list_mut(&mut e.value) else {
            return Err(EngineError::WrongType);
        };
        let n = l.remove_matching(value, limit, count < 0);
        drop(e);
        if let Some(removed) = removed {
            self.note_list(key, vec![SeqOp::Remove(removed)], before);
        }
        Ok(n)
    }

    /// LTRIM: keeps elements `start..=stop` only (the key goes if none remain).
    pub fn ltrim(&mut self, key: &[u8], start: i64, stop: i64) -> EngineResult<()> {
        let before = self.delta_base(key)?;
        let removed = self.with_positions(key, false, |p, _, _| {
            let (s, e) = span(start, stop, p.len()).unwrap_or((0, 0));
            let mut gone: Vec<Pos> = p.drain(e..).collect();
            gone.extend(p.drain(..s));
            gone
        })?;
        let Some(mut e) = self.write_existing_kind(key, Kind::List)? else {
            return Ok(());
        };
        let Some(l) = as_list_mut(&mut e.value) else {
            return Err(EngineError::WrongType);
        };
        match span(start, stop, l.len()) {
            Some((s, e)) => l.keep_range(s, e),
            None => l.keep_range(0, 0),
        }
        drop(e);
        if let Some(removed) = removed {
            self.note_list(key, vec![SeqOp::Remove(removed)], before);
        }
        Ok(())
    }

    /// LINSERT: inserts `value` before or after the first `pivot`. Returns the
    /// new length, -1 if the pivot is not there, 0 if the key is missing.
    pub fn linsert(
        &mut self,
        key: &[u8],
        side: Side,
        pivot: &[u8],
        value: &[u8],
    ) -> EngineResult<i64> {
        let mut placed = None;
        let mut before = None;
        if self.engine.replica().is_some()
            && let Some(Value::List(l)) = self.peek(key)?.map(|e| &e.value)
            && let Some(at) = l.position(pivot)
        {
            let at = if side == Side::After { at + 1 } else { at };
            before = self.delta_base(key)?;
            placed = self.with_positions(key, false, |p, me, stamp| {
                let lo = at.checked_sub(1).and_then(|i| p.get(i));
                let pos = Pos::between(lo, p.get(at), me, stamp);
                p.insert(at, pos.clone());
                pos
            })?;
        }
        let Some(mut e) = self.write_existing_kind(key, Kind::List)? else {
            return Ok(0);
        };
        let Some(l) = as_list_mut(&mut e.value) else {
            return Err(EngineError::WrongType);
        };
        let Some(at) = l.position(pivot) else {
            return Ok(-1);
        };
        l.insert(if side == Side::After { at + 1 } else { at }, value);
        let len = l.len() as i64;
        drop(e);
        if let Some(pos) = placed {
            self.note_list(key, vec![SeqOp::Insert(vec![(pos, buf(value))])], before);
        }
        self.signal_ready(key);
        Ok(len)
    }

    /// LPOS: indexes (from the head) of the elements equal to `element`, per
    /// `opts`; at most `opts.count` of them (all if 0). Empty if none match or
    /// the key is missing.
    pub fn lpos(
        &mut self,
        key: &[u8],
        element: &[u8],
        opts: &PosOptions,
    ) -> EngineResult<Vec<usize>> {
        let Some(l) = self.list(key)? else {
            return Ok(Vec::new());
        };
        let len = l.len();
        let skip = opts.rank.unsigned_abs().saturating_sub(1);
        let scan = if opts.maxlen == 0 {
            len
        } else {
            opts.maxlen.min(len)
        };
        let want = if opts.count == 0 {
            usize::MAX
        } else {
            opts.count
        };
        let mut out = Vec::new();
        let mut matches: u64 = 0;
        let mut visit = |i: usize, b: &Blob| {
            if b.as_slice() == element {
                matches += 1;
                if matches > skip {
                    out.push(i);
                }
            }
            out.len() < want
        };
        if opts.rank > 0 {
            for (i, b) in l.iter().enumerate().take(scan) {
                if !visit(i, b) {
                    break;
                }
            }
        } else {
            for (i, b) in l.iter().enumerate().rev().take(scan) {
                if !visit(i, b) {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// LMOVE/RPOPLPUSH: pops from `from` of `src` and pushes at `to` of `dst`;
    /// returns the element, `None` if `src` is missing. Both keys must be
    /// lists (checked before anything moves). `src == dst` rotates in place,
    /// keeping the key (and its TTL) even for a one-element list.
    pub fn lmove(
        &mut self,
        src: &[u8],
        dst: &[u8],
        from: End,
        to: End,
    ) -> EngineResult<Option<Blob>> {
        match self.peek(src)? {
            None => return Ok(None),
            Some(e) if e.value.kind() != Kind::List => return Err(EngineError::WrongType),
            Some(_) => {}
        }
        if src == dst {
            let before = self.delta_base(src)?;
            let moved = self.with_positions(src, false, |p, me, stamp| {
                let old = match from {
                    End::Left => p.pop_front(),
                    End::Right => p.pop_back(),
                }?;
                let new = match to {
                    End::Left => {
                        let q = Pos::between(None, p.front(), me, stamp);
                        p.push_front(q.clone());
                        q
                    }
                    End::Right => {
                        let q = Pos::between(p.back(), None, me, stamp);
                        p.push_back(q.clone());
                        q
                    }
                };
                Some((old, new))
            })?;
            let Some(mut e) = self.write_existing_kind(src, Kind::List)? else {
                return Ok(None);
            };
            let Some(l) = as_list_mut(&mut e.value) else {
                return Err(EngineError::WrongType);
            };
            let Some(b) = pop_end(l, from) else {
                return Ok(None);
            };
            let out = b.clone();
            push_end(l, to, b);
            drop(e);
            if let Some(Some((old, new))) = moved {
                let ops = vec![
                    SeqOp::Remove(vec![old]),
                    SeqOp::Insert(vec![(new, buf(&out))]),
                ];
                self.note_list(src, ops, before);
            }
            self.signal_ready(dst);
            return Ok(Some(out));
        }
        if self
            .peek(dst)?
            .is_some_and(|e| e.value.kind() != Kind::List)
        {
            return Err(EngineError::WrongType);
        }
        let Some(b) = self.list_pop_one(src, from)? else {
            return Ok(None);
        };
        let out = b.clone();
        let before = self.delta_base(dst)?;
        let placed = self.place_at_end(dst, to, 1)?;
        let mut e = self.write_kind(dst, Kind::List, || Value::List(Box::default()))?;
        let Some(l) = as_list_mut(&mut e.value) else {
            return Err(EngineError::WrongType);
        };
        push_end(l, to, b);
        drop(e);
        if let Some(run) = placed {
            let items = run.into_iter().map(|p| (p, buf(&out))).collect();
            self.note_list(dst, vec![SeqOp::Insert(items)], before);
        }
        self.signal_ready(dst);
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_redis() {
        assert_eq!(span(0, -1, 5), Some((0, 5)));
        assert_eq!(span(-100, 100, 5), Some((0, 5)));
        assert_eq!(span(3, 1, 5), None);
        assert_eq!(span(5, 10, 5), None);
        assert_eq!(span(-1, -100, 5), None);
        assert_eq!(span(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(span(0, -1, 0), None);
        assert_eq!(index_of(-1, 3), Some(2));
        assert_eq!(index_of(-4, 3), None);
        assert_eq!(index_of(3, 3), None);
        assert_eq!(index_of(i64::MIN, 3), None);
    }
}

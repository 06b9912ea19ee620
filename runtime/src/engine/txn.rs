//! `Txn`: locked access to the shards a command declared, the lookup rules every
//! typed operation shares (lazy expiry, access stats, type checks), and the
//! effects it reports when it ends.

use parking_lot::MutexGuard;
use smallvec::SmallVec;

use super::{Engine, EngineError, EngineResult};
use crate::clock::Stamp;
use crate::keyspace::{Blob, Entry, EntryMut, Kind, Shard, Value, blob, hash_key};

/// An open transaction. Dropping it releases its shards, then wakes clients
/// blocked on keys it filled and invalidates WATCHes on keys it wrote.
pub struct Txn<'e> {
    pub(super) engine: &'e Engine,
    pub(super) guards: SmallVec<[(usize, MutexGuard<'e, Shard>); 4]>,
    pub(super) all: bool,
    now_ms: u64,
    stamp: Option<Stamp>,
    touched: Vec<Blob>,
    ready: Vec<Blob>,
    flushed: bool,
    /// With replication: keys written, to commit as one change at the end.
    pub(super) changed: Vec<Blob>,
    /// With replication: PUBLISHes to replicate.
    pub(super) published: Vec<(Blob, Blob)>,
    /// With replication: a FLUSHALL ran, removing what this covers.
    pub(super) flush_ctx: Option<crate::crdt::VersionVector>,
    /// With replication: additive updates (INCRBY, SADD, HSET, HINCRBY),
    /// which replicate as what they did (not as the new value) so that
    /// concurrent ones all take effect.
    pub(super) deltas: Vec<DeltaNote>,
    /// With keyspace notifications on: keys written since the last
    /// [`Txn::take_written`].
    written: Vec<Blob>,
}

/// The version a key held before a transaction's first delta to it:
/// (region, stamp, value, expiry).
pub(crate) type BaseVersion = (crate::clock::RegionId, Stamp, Value, u64);

/// The additive updates this transaction made to one key (see
/// [`Txn::note_delta`]).
#[derive(Debug, Clone)]
pub(crate) struct DeltaNote {
    pub key: Blob,
    /// What was done, in order.
    pub ops: Vec<crate::engine::change::DeltaOp>,
    /// The key's version before the first of them, if the replica needs it
    /// (the key held a plain version).
    pub before: Option<BaseVersion>,
    /// Position in `changed` of the last delta's write; another write to the
    /// key after it in the same transaction makes the whole a plain put.
    pub at: usize,
    /// Position in `changed` of the first delta's write; another write to
    /// the key before it (a DEL, a SET) makes the whole a plain put too, or
    /// the delta would replicate without what that write removed.
    pub first: usize,
}

impl<'e> Txn<'e> {
    pub(super) fn new(
        engine: &'e Engine,
        guards: SmallVec<[(usize, MutexGuard<'e, Shard>); 4]>,
        all: bool,
        now_ms: u64,
    ) -> Txn<'e> {
        Txn {
            engine,
            guards,
            all,
            now_ms,
            stamp: None,
            touched: Vec::new(),
            ready: Vec::new(),
            flushed: false,
            changed: Vec::new(),
            published: Vec::new(),
            flush_ctx: None,
            deltas: Vec::new(),
            written: Vec::new(),
        }
    }

    /// The engine this transaction runs on.
    pub fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// The wall-clock time this transaction runs at (one instant for all its
    /// operations, so a MULTI/EXEC sees keys expire consistently).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The HLC stamp for this transaction's writes.
    pub fn stamp(&mut self) -> Stamp {
        *self.stamp.get_or_insert_with(|| self.engine.clock().now())
    }

    /// True if this transaction holds every shard.
    pub fn holds_all(&self) -> bool {
        self.all
    }

    fn shard(&mut self, hash: u64) -> EngineResult<&mut Shard> {
        held_shard(&mut self.guards, self.all, self.engine, hash)
    }

    /// Runs `visit` on every shard in order: with the held guards if this
    /// transaction holds all shards, else locking each briefly. A transaction
    /// holding some but not all shards may not do this (lock order).
    pub fn for_each_shard(&mut self, mut visit: impl FnMut(usize, &mut Shard)) -> EngineResult<()> {
        if self.all {
            for (i, g) in self.guards.iter_mut() {
                visit(*i, g);
            }
            return Ok(());
        }
        if !self.guards.is_empty() {
            return Err(EngineError::UndeclaredKey);
        }
        for i in 0..self.engine.keyspace().shard_count() {
            let mut g = self.engine.keyspace().lock(i);
            visit(i, &mut g);
        }
        Ok(())
    }

    /// Runs `visit` on shard `index` (held or locked briefly, as above).
    pub fn with_shard<R>(
        &mut self,
        index: usize,
        visit: impl FnOnce(&mut Shard) -> R,
    ) -> EngineResult<R> {
        if self.all {
            return Ok(visit(&mut self.guards[index].1));
        }
        if !self.guards.is_empty() {
            return Err(EngineError::UndeclaredKey);
        }
        let mut g = self.engine.keyspace().lock(index);
        Ok(visit(&mut g))
    }

    pub(super) fn note_write(&mut self, key: &[u8]) {
        if self.engine.notifier().active() {
            self.written.push(blob(key));
        }
        if self.engine.watches().active() {
            self.touched.push(blob(key));
        }
        if self.engine.replica().is_some() {
            self.changed.push(blob(key));
        }
    }

    /// The version a delta to `key` builds on, if replication will need it:
    /// read before the delta's write.
    pub(super) fn delta_base(&mut self, key: &[u8]) -> EngineResult<Option<BaseVersion>> {
        let Some(replica) = self.engine.replica() else {
            return Ok(None);
        };
        let index = self.engine.keyspace().shard_of(hash_key(key));
        if !replica.needs_base(index, key) {
            return Ok(None);
        }
        Ok(self
            .peek(key)?
            .map(|e| (e.region, e.stamp, e.value.clone(), e.expire_at)))
    }

    /// Records that the write just made to `key` was the additive update
    /// `op()` on the version `before` (from [`Txn::delta_base`]). `op` is
    /// only built with replication, so a single region pays nothing.
    pub(super) fn note_delta(
        &mut self,
        key: &[u8],
        op: impl FnOnce() -> crate::engine::change::DeltaOp,
        before: Option<BaseVersion>,
    ) {
        if self.engine.replica().is_none() {
            return;
        }
        let op = op();
        let at = self.changed.len().saturating_sub(1);
        if let Some(n) = self.deltas.iter_mut().rev().find(|n| n.key[..] == *key) {
            // Another delta in the same transaction right after the last
            // one: they travel together and keep the first base.
            // (Or one more op of the same write, as LMOVE's remove and
            // insert of one element.)
            let last_write = self.changed[..at].iter().rposition(|k| k[..] == *key);
            if last_write == Some(n.at) || n.at == at {
                n.ops.push(op);
                n.at = at;
                return;
            }
        }
        self.deltas.push(DeltaNote {
            key: blob(key),
            ops: vec![op],
            before,
            first: at,
            at,
        });
    }

    /// The keys written since the last call, in write order (possibly
    /// repeated); empty unless keyspace notifications are on.
    pub fn take_written(&mut self) -> Vec<Blob> {
        std::mem::take(&mut self.written)
    }

    /// Marks `key` as a list that gained elements, so blocked poppers wake.
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.engine.blocking().has_waiters() {
            self.ready.push(blob(key));
        }
    }

    /// Marks every key as written (FLUSHALL/FLUSHDB) for WATCH purposes.
    pub fn note_flush(&mut self) {
        self.flushed = true;
    }

    /// Reads `key` (counting a hit or miss and refreshing its access stats).
    pub fn read(&mut self, key: &[u8]) -> EngineResult<Option<&Entry>> {
        let hash = hash_key(key);
        let now = self.now_ms;
        let lfu = self.engine.settings().lfu_touch();
        let engine = self.engine;
        let shard = self.shard(hash)?;
        let found = locate(engine, shard, hash, key, now);
        engine.count_read(found.is_some());
        Ok(match found {
            Some(i) => {
                shard.touch(i, now, lfu);
                shard.at(i)
            }
            None => None,
        })
    }

    /// Looks at `key` without counting a read or touching its access stats
    /// (TYPE, EXISTS, TTL and friends, as Redis's NOTOUCH lookups).
    pub fn peek(&mut self, key: &[u8]) -> EngineResult<Option<&Entry>> {
        let hash = hash_key(key);
        let engine = self.engine;
        let now = self.now_ms;
        let shard = self.shard(hash)?;
        Ok(locate(engine, shard, hash, key, now).and_then(|i| shard.at(i)))
    }

    /// Reads `key`, which must hold `kind` if it exists.
    pub fn read_kind(&mut self, key: &[u8], kind: Kind) -> EngineResult<Option<&Value>> {
        match self.read(key)? {
            Some(e) if e.value.kind() != kind => Err(EngineError::WrongType),
            Some(e) => Ok(Some(&e.value)),
            None => Ok(None),
        }
    }

    /// Opens `key` for writing; `None` if it does not exist. Stamps the entry.
    pub fn write(&mut self, key: &[u8]) -> EngineResult<Option<EntryMut<'_>>> {
        let hash = hash_key(key);
        let engine = self.engine;
        let now = self.now_ms;
        let stamp = self.stamp();
        let region = self.engine.region();
        let shard = held_shard(&mut self.guards, self.all, self.engine, hash)?;
        let Some(i) = locate(engine, shard, hash, key, now) else {
            // Nothing to write: a WATCH on a missing key stays valid.
            return Ok(None);
        };
        if self.engine.notifier().active() {
            self.written.push(blob(key));
        }
        if self.engine.watches().active() {
            self.touched.push(blob(key));
        }
        if self.engine.replica().is_some() {
            self.changed.push(blob(key));
        }
        let mut e = shard.entry_mut(i).ok_or(EngineError::UndeclaredKey)?;
        e.stamp = stamp;
        e.region = region;
        e.lru = crate::keyspace::lru_clock(now);
        Ok(Some(e))
    }

    /// Opens `key` for writing, which must hold `kind` if it exists; creates it
    /// with `make()` if absent.
    pub fn write_kind(
        &mut self,
        key: &[u8],
        kind: Kind,
        make: impl FnOnce() -> Value,
    ) -> EngineResult<EntryMut<'_>> {
        let hash = hash_key(key);
        let engine = self.engine;
        let now = self.now_ms;
        let stamp = self.stamp();
        let region = self.engine.region();
        self.note_write(key);
        let shard = self.shard(hash)?;
        let i = match locate(engine, shard, hash, key, now) {
            Some(i) => {
                if shard.at(i).is_some_and(|e| e.value.kind() != kind) {
                    return Err(EngineError::WrongType);
                }
                i
            }
            None => shard.insert_new(
                hash,
                Box::new(Entry::new(blob(key), make(), stamp, region, now)),
            ),
        };
        let mut e = shard.entry_mut(i).ok_or(EngineError::UndeclaredKey)?;
        e.stamp = stamp;
        e.region = region;
        // A write is an access, as Redis's lookupKeyWrite (OBJECT IDLETIME
        // and FREQ, LRU/LFU eviction).
        e.touch(now, engine.settings().lfu_touch());
        Ok(e)
    }

    /// Runs `edit` on the value of `key`, which must hold `kind` if it
    /// exists; a missing key starts as `make()`. `edit` says whether it
    /// changed the value: only then is the key written (stamped, noted for
    /// replication, WATCH and notifications, and created if it was
    /// missing). An edit that fails must leave the value as it was, so a
    /// failed or empty edit leaves the keyspace untouched — unlike
    /// [`Txn::write_kind`], which counts as a write before the caller knows.
    pub fn edit_kind<R>(
        &mut self,
        key: &[u8],
        kind: Kind,
        make: impl FnOnce() -> Value,
        edit: impl FnOnce(&mut Value) -> EngineResult<(R, bool)>,
    ) -> EngineResult<R> {
        let hash = hash_key(key);
        let engine = self.engine;
        let now = self.now_ms;
        let shard = held_shard(&mut self.guards, self.all, engine, hash)?;
        let Some(i) = locate(engine, shard, hash, key, now) else {
            let mut value = make();
            let (out, changed) = edit(&mut value)?;
            if changed {
                self.put(key, value, 0)?;
            }
            return Ok(out);
        };
        let mut e = shard.entry_mut(i).ok_or(EngineError::UndeclaredKey)?;
        if e.value.kind() != kind {
            return Err(EngineError::WrongType);
        }
        let (out, changed) = edit(&mut e.value)?;
        drop(e);
        if changed {
            // Stamps it and notes the write.
            self.write(key)?;
        }
        Ok(out)
    }

    /// Opens `key` for writing if it exists and holds `kind`.
    pub fn write_existing_kind(
        &mut self,
        key: &[u8],
        kind: Kind,
    ) -> EngineResult<Option<EntryMut<'_>>> {
        match self.write(key)? {
            Some(e) if e.value.kind() != kind => Err(EngineError::WrongType),
            other => Ok(other),
        }
    }

    /// Stores `value` at `key`, replacing whatever was there, with absolute
    /// expiry `expire_at` (0 = none).
    pub fn put(&mut self, key: &[u8], value: Value, expire_at: u64) -> EngineResult<()> {
        let hash = hash_key(key);
        let engine = self.engine;
        let now = self.now_ms;
        let stamp = self.stamp();
        let region = self.engine.region();
        self.note_write(key);
        if let Value::List(l) = &value
            && !l.is_empty()
        {
            self.signal_ready(key);
        }
        let shard = self.shard(hash)?;
        match locate(engine, shard, hash, key, now) {
            Some(i) => {
                let mut e = shard.entry_mut(i).ok_or(EngineError::UndeclaredKey)?;
                e.value = value;
                e.expire_at = expire_at;
                e.stamp = stamp;
                e.region = region;
                e.lru = crate::keyspace::lru_clock(now);
            }
            None => {
                let mut entry = Box::new(Entry::new(blob(key), value, stamp, region, now));
                entry.expire_at = expire_at;
                shard.insert_new(hash, entry);
            }
        }
        Ok(())
    }

    /// Deletes `key`; true if it existed.
    pub fn delete(&mut self, key: &[u8]) -> EngineResult<bool> {
        let hash = hash_key(key);
        let engine = self.engine;
        let now = self.now_ms;
        let shard = self.shard(hash)?;
        let Some(i) = locate(engine, shard, hash, key, now) else {
            return Ok(false);
        };
        shard.remove_at(i);
        self.note_write(key);
        Ok(true)
    }

    /// Removes `key` and returns its entry (RENAME, GETDEL, LMOVE).
    pub fn take(&mut self, key: &[u8]) -> EngineResult<Option<Box<Entry>>> {
        let hash = hash_key(key);
        let engine = self.engine;
        let now = self.now_ms;
        let shard = self.shard(hash)?;
        let Some(i) = locate(engine, shard, hash, key, now) else {
            return Ok(None);
        };
        let e = shard.remove_at(i);
        self.note_write(key);
        Ok(e)
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        // Commit to the replication log while the shards are held, so the
        // change's context matches what its keys held.
        if !self.changed.is_empty() || !self.published.is_empty() || self.flush_ctx.is_some() {
            self.commit_replicated();
        }
        // Invalidate WATCHes while the shards are still held: an EXEC that
        // takes them next must already see its watched key as dirty, or it
        // would overwrite this write (a lost update).
        if self.flushed {
            self.engine.watches().touch_all();
        } else if !self.touched.is_empty() {
            self.engine.watches().touch(&self.touched);
        }
        // Release shards before waking anyone, so woken clients find them free.
        self.guards.clear();
        if !self.ready.is_empty() {
            self.engine.blocking().signal(&self.ready);
        }
    }
}

/// The held guard of the shard `hash` belongs to. A free function over the
/// guard list (not a method) so callers can borrow other fields of the `Txn`
/// while they hold the shard.
pub(super) fn held_shard<'g, 'e>(
    guards: &'g mut SmallVec<[(usize, MutexGuard<'e, Shard>); 4]>,
    all: bool,
    engine: &Engine,
    hash: u64,
) -> EngineResult<&'g mut Shard> {
    let want = engine.keyspace().shard_of(hash);
    if all {
        return Ok(&mut guards[want].1);
    }
    guards
        .iter_mut()
        .find(|(i, _)| *i == want)
        .map(|(_, g)| &mut **g)
        .ok_or(EngineError::UndeclaredKey)
}

/// Finds `key` in `shard` as every read and write does: an expired entry is
/// gone, and with replication a live version that waited behind it is shown
/// in its place (see `Replica::promote`).
fn locate(engine: &Engine, shard: &mut Shard, hash: u64, key: &[u8], now: u64) -> Option<usize> {
    let found = shard.find(hash, key, now);
    if found.is_some() {
        return found;
    }
    let replica = engine.replica()?;
    let index = engine.keyspace().shard_of(hash);
    if replica.promote(index, shard, key, now) {
        shard.find(hash, key, now)
    } else {
        None
    }
}

//! The engine's replication entry points: a transaction commits what it
//! wrote as one [`Change`]; a peer's change, snapshot chunk or sweep is
//! applied through a transaction on the keys it names, so remote writes
//! invalidate WATCHes and wake blocked clients exactly as local ones do.
//!
//! The merge rules themselves live in `replica`; this file only takes the
//! right locks and reports effects. Nothing here runs without a
//! [`Replica`](super::replica::Replica): a single-region engine never pays
//! for replication.

use std::collections::HashSet;

use bytes::Bytes;

use super::change::{Change, KeyOp, KeyState};
use super::replica::{ApplyError, Replica};
use super::sink::Transition;
use super::txn::held_shard;
use super::{Engine, EngineResult, Txn};
use crate::crdt::VersionVector;
use crate::keyspace::{Blob, blob, hash_key};

impl Txn<'_> {
    /// Publishes to this region's subscribers and, with replication, to
    /// every other region's. Returns the local receivers (what PUBLISH
    /// replies): other regions' subscribers are not counted.
    pub fn publish(&mut self, channel: &Bytes, payload: &Bytes) -> usize {
        if self.engine.replica().is_some() {
            self.published.push((blob(channel), blob(payload)));
        }
        self.engine.broker().publish(channel, payload)
    }

    /// FLUSHALL: removes every key. With replication it removes what this
    /// region had applied when it started (a write that lands meanwhile
    /// survives, here and everywhere) and replicates as one change.
    pub fn flush(&mut self) -> EngineResult<usize> {
        let mut n = 0;
        match self.engine.replica() {
            None => self.for_each_shard(|_, s| n += s.clear())?,
            Some(replica) => {
                let ctx = replica.flush_context();
                let now = self.now_ms();
                self.for_each_shard(|i, s| n += replica.flush_shard(i, s, &ctx, now))?;
                self.flush_ctx = Some(ctx);
            }
        }
        self.note_flush();
        Ok(n)
    }

    /// Logs what this transaction wrote as one change (called as it ends,
    /// shards still held).
    pub(super) fn commit_replicated(&mut self) {
        let engine = self.engine;
        let Some(replica) = engine.replica() else {
            return;
        };
        let mut changed = std::mem::take(&mut self.changed);
        // Deltas replicate as such if nothing else wrote their key before or
        // after them in this transaction.
        let deltas: Vec<_> = std::mem::take(&mut self.deltas)
            .into_iter()
            .filter(|n| {
                changed.iter().rposition(|k| *k == n.key) == Some(n.at)
                    && changed.iter().position(|k| *k == n.key) == Some(n.first)
            })
            .collect();
        changed.sort_unstable();
        changed.dedup();
        let now = self.now_ms();
        let mut commit = replica.begin_commit(engine.clock());
        if let Some(ctx) = self.flush_ctx.take() {
            commit.flush(ctx);
        }
        for key in &changed {
            let hash = hash_key(key);
            let index = engine.keyspace().shard_of(hash);
            if let Ok(shard) = held_shard(&mut self.guards, self.all, engine, hash) {
                let delta = deltas.iter().find(|n| n.key == *key);
                commit.key(index, shard, key, delta, now);
            }
        }
        for (channel, message) in std::mem::take(&mut self.published) {
            commit.publish(&channel, &message);
        }
        commit.finish();
    }
}

impl Engine {
    /// Applies a change a peer sent (a duplicate is skipped). The change's
    /// keys are locked together, so no local transaction sees it half
    /// applied.
    pub fn apply_change(&self, change: &Change) -> Result<(), ApplyError> {
        self.apply_received(change, None, crate::clock::unix_ms())
    }

    /// [`Engine::apply_change`] for a change that arrived as `encoded`,
    /// judging expiry at `now_ms` (a link reads the clock once per batch of
    /// changes, not once per change): the append log records those bytes as
    /// they are rather than encoding the change again.
    pub fn apply_received(
        &self,
        change: &Change,
        encoded: Option<&[u8]>,
        now_ms: u64,
    ) -> Result<(), ApplyError> {
        let Some(replica) = self.replica() else {
            return Ok(());
        };
        replica.check(change)?;
        if !replica.is_new(change) {
            return Ok(());
        }
        self.clock().observe(change.stamp);
        let flush = change.ops.iter().any(|op| matches!(op, KeyOp::Flush));
        let mut txn = if flush {
            self.txn_all()
        } else {
            self.txn_at(change.ops.iter().filter_map(KeyOp::key), now_ms)
        };
        let now = txn.now_ms();
        let local = replica.applied();
        let mut publishes = Vec::new();
        for op in &change.ops {
            match op {
                KeyOp::Flush => {
                    for (i, g) in txn.guards.iter_mut() {
                        replica.flush_shard(*i, g, &change.ctx, now);
                    }
                    replica.note_remote_flush(change);
                    txn.note_flush();
                }
                KeyOp::Publish { channel, message } => publishes.push((channel, message)),
                KeyOp::Put { key, .. } | KeyOp::Delta { key, .. } | KeyOp::Del { key } => {
                    let hash = hash_key(key);
                    let index = self.keyspace().shard_of(hash);
                    let Ok(shard) = held_shard(&mut txn.guards, txn.all, self, hash) else {
                        continue;
                    };
                    let merged = replica.apply_op(change, op, index, shard, &local, now);
                    if merged.changed {
                        txn.note_write(key);
                    }
                    if merged.list {
                        txn.signal_ready(key);
                    }
                }
            }
        }
        replica.finish_apply(change);
        if let Some(sink) = replica.sink() {
            match encoded {
                Some(bytes) => sink.record(Transition::Change, bytes),
                None => match change.encode() {
                    Ok(bytes) => sink.record(Transition::Change, &bytes),
                    Err(e) => tracing::error!(error = %e, "cannot encode a change; not persisted"),
                },
            }
        }
        // Remote writes are not ours to log again.
        txn.changed.clear();
        drop(txn);
        for (channel, message) in publishes {
            self.broker().publish(
                &Bytes::copy_from_slice(channel),
                &Bytes::copy_from_slice(message),
            );
        }
        Ok(())
    }

    /// Up to `count` keys of shard `index` from `cursor` for a snapshot, and
    /// the cursor to continue from (0 when the shard is done).
    pub fn export_chunk(&self, index: usize, cursor: u64, count: usize) -> (Vec<KeyState>, u64) {
        let mut out = Vec::new();
        let Some(replica) = self.replica() else {
            return (out, 0);
        };
        let mut shard = self.keyspace().lock(index);
        let now = crate::clock::unix_ms();
        // A key whose shown version expired ships its live siblings too.
        replica.promote_all(index, &mut shard, now);
        let next = replica.export(index, &shard, cursor, count, now, &mut out);
        (out, next)
    }

    /// Merges snapshot keys from a region that had applied `base`, noting
    /// each key in `seen`.
    pub fn import_chunk(
        &self,
        states: Vec<KeyState>,
        base: &VersionVector,
        seen: &mut HashSet<Blob>,
    ) {
        let Some(replica) = self.replica() else {
            return;
        };
        // Encoded before the states are consumed, recorded once merged.
        let record = replica.sink().and_then(|_| encode_or_log(&(base, &states)));
        for state in states {
            let key = blob(&state.key);
            let hash = hash_key(&key);
            let index = self.keyspace().shard_of(hash);
            let mut txn = self.txn_one(&key);
            let now = txn.now_ms();
            if let Ok(shard) = held_shard(&mut txn.guards, false, self, hash) {
                let merged = replica.import(index, shard, state, base, now);
                if merged.changed {
                    txn.note_write(&key);
                }
                if merged.list {
                    txn.signal_ready(&key);
                }
            }
            txn.changed.clear();
            drop(txn);
            seen.insert(key);
        }
        if let (Some(sink), Some(bytes)) = (replica.sink(), record) {
            sink.record(Transition::ImportKeys, &bytes);
        }
    }

    /// Removes what FLUSHALLs removed, as a snapshot's sender knew
    /// ([`Replica::flushed_beyond`]): versions here that it never held, so
    /// no key of the snapshot takes them away. Called as a snapshot begins.
    pub fn import_flushed(&self, flushed: &VersionVector) {
        let Some(replica) = self.replica() else {
            return;
        };
        if flushed.is_empty() {
            return;
        }
        let mut txn = self.txn_all();
        let now = txn.now_ms();
        for (i, g) in txn.guards.iter_mut() {
            replica.flush_shard(*i, g, flushed, now);
        }
        replica.note_flushed(flushed);
        txn.note_flush();
        txn.changed.clear();
        drop(txn);
        if let (Some(sink), Some(bytes)) = (replica.sink(), encode_or_log(flushed)) {
            sink.record(Transition::ImportFlushed, &bytes);
        }
    }

    /// Ends a snapshot from a region that had applied `base`: keys it did
    /// not send lose the versions it had seen, and everything it had applied
    /// counts as applied here.
    pub fn finish_import(&self, base: &VersionVector, seen: &HashSet<Blob>) {
        let Some(replica) = self.replica() else {
            return;
        };
        let now = crate::clock::unix_ms();
        let mut swept = 0;
        for i in 0..self.keyspace().shard_count() {
            let mut shard = self.keyspace().lock(i);
            swept += replica.sweep_missing(i, &mut shard, seen, base, now);
        }
        if swept > 0 {
            self.watches().touch_all();
        }
        replica.finish_import(base);
        if let Some(max) = base.iter().map(|(_, s)| s).max() {
            self.clock().observe(crate::clock::Stamp(max));
        }
        if let Some(sink) = replica.sink() {
            let keys: Vec<&[u8]> = seen.iter().map(|k| &k[..]).collect();
            let keys: Vec<&serde_bytes::Bytes> =
                keys.into_iter().map(serde_bytes::Bytes::new).collect();
            if let Some(bytes) = encode_or_log(&(base, keys)) {
                sink.record(Transition::ImportEnd, &bytes);
            }
        }
    }

    /// Start-up recovery begins: [`Engine::replay`] calls follow. Without
    /// replication metadata there is nothing to replay into.
    pub fn begin_recovery(&self) {
        if let Some(r) = self.replica() {
            r.begin_recovery();
        }
    }

    /// Applies one recorded transition again (start-up recovery), through
    /// the same paths that applied it the first time.
    pub fn replay(&self, kind: Transition, bytes: &[u8]) -> Result<(), ApplyError> {
        let decode = |e: rmp_serde::decode::Error| ApplyError::Decode(e.to_string());
        match kind {
            Transition::Change => self.apply_change(&Replica::decode(bytes)?),
            Transition::ImportKeys => {
                let (base, states): (VersionVector, Vec<KeyState>) =
                    rmp_serde::from_slice(bytes).map_err(decode)?;
                // Keys are only collected by ImportEnd, which names them all.
                self.import_chunk(states, &base, &mut HashSet::new());
                Ok(())
            }
            Transition::ImportFlushed => {
                let flushed: VersionVector = rmp_serde::from_slice(bytes).map_err(decode)?;
                self.import_flushed(&flushed);
                Ok(())
            }
            Transition::ImportEnd => {
                let (base, keys): (VersionVector, Vec<serde_bytes::ByteBuf>) =
                    rmp_serde::from_slice(bytes).map_err(decode)?;
                let seen = keys.iter().map(|k| blob(k)).collect();
                self.finish_import(&base, &seen);
                Ok(())
            }
        }
    }

    /// Start-up recovery ended: our own changes up to the recovered applied
    /// mark count as ours again (the catch-up gate asks peers only for
    /// those after it), and the clock is past every recovered stamp.
    pub fn end_recovery(&self) {
        if let Some(r) = self.replica() {
            let mine = r.applied_of(r.me());
            self.clock().observe(crate::clock::Stamp(mine));
            r.end_recovery(self.clock().now());
        }
    }
}

/// rmp-serde encoding of a record (`None`, logged, on a serializer bug).
fn encode_or_log<T: serde::Serialize>(value: &T) -> Option<Vec<u8>> {
    match rmp_serde::to_vec(value) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a snapshot record; not persisted");
            None
        }
    }
}

impl Engine {
    /// Forgets replication metadata that no longer matters (see
    /// `Replica::collect`). Called periodically by the server.
    pub fn collect_replica_garbage(&self) {
        let Some(replica) = self.replica() else {
            return;
        };
        let stable = replica.stable();
        let now = crate::clock::unix_ms();
        for i in 0..self.keyspace().shard_count() {
            let mut shard = self.keyspace().lock(i);
            replica.collect(i, &mut shard, stable.as_ref(), now);
        }
        // Changes every peer has applied are never asked for again.
        if let Some(acked) = replica.peers().iter().map(|p| p.acked).min() {
            replica.log().trim_through(acked);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Regions as engines in one test, with changes delivered by hand: in
    //! any order across origins, FIFO per origin, duplicated at will.

    use super::*;
    use crate::clock::RegionId;
    use crate::engine::keys::ExpireCondition;
    use crate::engine::replica::{Replica, ReplicaConfig};
    use crate::engine::strings::SetOptions;
    use proptest::prelude::*;

    struct Sim {
        regions: Vec<Engine>,
        /// `sent[from][to]`: position in `from`'s log delivered to `to`.
        sent: Vec<Vec<u64>>,
    }

    impl Sim {
        fn new(n: usize) -> Sim {
            let regions = (0..n).map(|i| Sim::region(n, i)).collect();
            Sim {
                regions,
                sent: vec![vec![0; n]; n],
            }
        }

        /// A fresh engine for region `i` of `n`.
        fn region(n: usize, i: usize) -> Engine {
            let peers = (0..n)
                .filter(|&j| j != i)
                .map(|j| (RegionId(j as u16 + 1), format!("r{j}"), String::new()))
                .collect();
            Engine::replicated(
                2,
                ReplicaConfig {
                    me: RegionId(i as u16 + 1),
                    peers,
                    log_bytes: 1 << 24,
                },
            )
        }

        /// Region `i` restarts empty (no persistence): its log and data are
        /// gone, and nothing it had sent is sent again.
        fn restart(&mut self, i: usize) {
            let n = self.regions.len();
            self.regions[i] = Sim::region(n, i);
            for from in 0..n {
                self.sent[from][i] = 0;
                self.sent[i][from] = 0;
            }
        }

        fn log_of(&self, from: usize) -> Vec<(u64, Bytes)> {
            let r = self.regions[from].replica().expect("replicated");
            r.log().read_after(0, usize::MAX).expect("log")
        }

        /// Delivers the next pending change of `from` to `to`; false if none.
        fn step(&mut self, from: usize, to: usize) -> bool {
            let r = self.regions[from].replica().expect("replicated");
            let next = r.log().read_after(self.sent[from][to], 1).expect("log");
            let Some((pos, bytes)) = next.into_iter().next() else {
                return false;
            };
            let change = Replica::decode(&bytes).expect("decode");
            self.regions[to].apply_change(&change).expect("apply");
            self.sent[from][to] = pos;
            true
        }

        fn deliver(&mut self, from: usize, to: usize) {
            while self.step(from, to) {}
        }

        fn sync(&mut self) {
            let n = self.regions.len();
            for from in 0..n {
                for to in 0..n {
                    if from != to {
                        self.deliver(from, to);
                    }
                }
            }
        }

        /// Reports every region's applied vector to every other, as links do
        /// when caught up, so causal stability can be reached. (Whether or
        /// not they are: tests that want the protocol's guarantee deliver
        /// everything first, or use [`Sim::report_delivered`].)
        fn report(&self) {
            self.report_where(|_, _| true);
        }

        /// Reports only over links that have delivered all of their
        /// sender's log, as a real link does: its report says that every
        /// change still to come on it was written after it.
        fn report_delivered(&self) {
            self.report_where(|from, to| {
                let log = self.regions[from].replica().expect("replicated").log();
                self.sent[from][to] >= log.head()
            });
        }

        /// Region `j`'s applied vector reaches region `i` where
        /// `link(j, i)`.
        fn report_where(&self, link: impl Fn(usize, usize) -> bool) {
            for (i, r) in self.regions.iter().enumerate() {
                for (j, other) in self.regions.iter().enumerate() {
                    if i != j && link(j, i) {
                        let rep = r.replica().expect("replicated");
                        let applied = other.replica().expect("replicated").applied();
                        if let Some(p) = rep.peer(RegionId(j as u16 + 1)) {
                            p.lock().reported = Some(applied);
                        }
                    }
                }
            }
        }

        fn set(&self, i: usize, key: &str, value: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.set(key.as_bytes(), value.as_bytes(), &SetOptions::default())
                .expect("set");
        }

        fn flushall(&self, i: usize) {
            self.regions[i].txn_none().flush().expect("flush");
        }

        fn del(&self, i: usize, key: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.delete(key.as_bytes()).expect("del");
        }

        fn expire_in(&self, i: usize, key: &str, ms: u64) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            let at = t.now_ms() + ms;
            t.expire_at(key.as_bytes(), at, ExpireCondition::Always)
                .expect("expire");
        }

        fn incr(&self, i: usize, key: &str, by: i64) -> i64 {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.incr_by(key.as_bytes(), by).expect("incr")
        }

        fn persist(&self, i: usize, key: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.persist(key.as_bytes()).expect("persist");
        }

        fn sadd(&self, i: usize, key: &str, member: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.sadd(key.as_bytes(), [member.as_bytes()]).expect("sadd");
        }

        fn srem(&self, i: usize, key: &str, member: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.srem(key.as_bytes(), [member.as_bytes()]).expect("srem");
        }

        fn members(&self, i: usize, key: &str) -> Vec<String> {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            let mut m: Vec<String> = match t.peek(key.as_bytes()).expect("peek") {
                Some(e) => match &e.value {
                    crate::keyspace::Value::Set(s) => s
                        .iter()
                        .map(|m| String::from_utf8_lossy(m).into_owned())
                        .collect(),
                    _ => panic!("not a set"),
                },
                None => Vec::new(),
            };
            m.sort();
            m
        }

        fn hset(&self, i: usize, key: &str, field: &str, value: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.hset(key.as_bytes(), [(field.as_bytes(), value.as_bytes())])
                .expect("hset");
        }

        fn hdel(&self, i: usize, key: &str, field: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.hdel(key.as_bytes(), [field.as_bytes()]).expect("hdel");
        }

        fn hincr(&self, i: usize, key: &str, field: &str, by: i64) -> i64 {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.hincrby(key.as_bytes(), field.as_bytes(), by)
                .expect("hincrby")
        }

        fn hget(&self, i: usize, key: &str, field: &str) -> Option<String> {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.hget(key.as_bytes(), field.as_bytes())
                .expect("hget")
                .map(|v| String::from_utf8_lossy(v).into_owned())
        }

        fn zadd(&self, i: usize, key: &str, member: &str, score: f64) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            let opts = crate::engine::zsets::ZAddOptions::default();
            t.zadd(key.as_bytes(), &opts, &[(score, member.as_bytes())])
                .expect("zadd");
        }

        fn zincr(&self, i: usize, key: &str, member: &str, by: f64) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.zincrby(key.as_bytes(), by, member.as_bytes())
                .expect("zincrby");
        }

        fn zrem(&self, i: usize, key: &str, member: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.zrem(key.as_bytes(), [member.as_bytes()]).expect("zrem");
        }

        fn zscore(&self, i: usize, key: &str, member: &str) -> Option<f64> {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            match t.peek(key.as_bytes()).expect("peek") {
                Some(e) => match &e.value {
                    crate::keyspace::Value::ZSet(z) => z.score(member.as_bytes()),
                    _ => panic!("not a sorted set"),
                },
                None => None,
            }
        }

        fn push(&self, i: usize, key: &str, end: crate::engine::lists::End, values: &[&str]) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.list_push(
                key.as_bytes(),
                end,
                values.iter().map(|v| v.as_bytes()),
                false,
            )
            .expect("push");
        }

        fn lpop(&self, i: usize, key: &str) -> Option<String> {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.list_pop_one(key.as_bytes(), crate::engine::lists::End::Left)
                .expect("lpop")
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        }

        fn lset(&self, i: usize, key: &str, index: i64, value: &str) {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.lset(key.as_bytes(), index, value.as_bytes())
                .expect("lset");
        }

        fn list(&self, i: usize, key: &str) -> Vec<String> {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.lrange(key.as_bytes(), 0, -1)
                .expect("lrange")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        }

        fn get(&self, i: usize, key: &str) -> Option<String> {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.get(key.as_bytes())
                .expect("get")
                .map(|v| String::from_utf8_lossy(v).into_owned())
        }

        fn expire_of(&self, i: usize, key: &str) -> Option<u64> {
            let mut t = self.regions[i].txn_one(key.as_bytes());
            t.peek(key.as_bytes()).expect("peek").map(|e| e.expire_at)
        }

        /// Every key of region `i`: value and expiry, sorted.
        fn dump(&self, i: usize) -> Vec<(Vec<u8>, String, u64)> {
            let mut t = self.regions[i].txn_none();
            let keys = t.keys(b"*").expect("keys");
            drop(t);
            let mut out: Vec<_> = keys
                .iter()
                .filter_map(|k| {
                    let mut t = self.regions[i].txn_one(k);
                    let e = t.peek(k).expect("peek")?;
                    let v = crate::engine::replica::canonical(&e.value);
                    Some((k.to_vec(), v, e.expire_at))
                })
                .collect();
            out.sort();
            out
        }

        fn assert_converged(&self) {
            let first = self.dump(0);
            for i in 1..self.regions.len() {
                assert_eq!(self.dump(i), first, "region {i} differs from region 0");
            }
        }

        /// Round `n` of a steady load: every third round one region's links
        /// (each in turn) catch up and report; the others lag, so some
        /// versions are always in flight.
        fn steady_load_round(&mut self, n: usize) {
            if n % 3 != 2 {
                return;
            }
            let from = (n / 3) % 3;
            for to in 0..3 {
                if to != from {
                    self.deliver(from, to);
                }
            }
            self.report_delivered();
        }

        /// Every region's derived views show what replaying their versions
        /// shows: merging in place and folding took no liberties.
        fn assert_views_match_replays(&self) {
            for (r, e) in self.regions.iter().enumerate() {
                let replica = e.replica().expect("replicated");
                let now = crate::clock::unix_ms();
                for i in 0..e.keyspace().shard_count() {
                    let mut shard = e.keyspace().lock(i);
                    let off = replica.views_off_replay(i, &mut shard, now);
                    assert!(off.is_empty(), "region {r}: {off:?}");
                }
            }
        }

        /// Versions every region holds beside its keyspace.
        fn versions_held(&self) -> Vec<usize> {
            self.regions
                .iter()
                .map(|e| e.replica().expect("replicated").side_table_versions())
                .collect()
        }
    }

    #[test]
    fn concurrent_sets_converge_on_the_greater_stamp() {
        let mut sim = Sim::new(3);
        sim.set(0, "k", "from-a");
        sim.set(1, "k", "from-b");
        let a = Replica::decode(&sim.log_of(0)[0].1).expect("decode");
        let b = Replica::decode(&sim.log_of(1)[0].1).expect("decode");
        let winner = if (a.stamp, a.origin) > (b.stamp, b.origin) {
            "from-a"
        } else {
            "from-b"
        };
        // Deliver in opposite orders to the third region and to each other.
        sim.deliver(1, 2);
        sim.deliver(0, 2);
        sim.deliver(0, 1);
        sim.deliver(1, 0);
        sim.assert_converged();
        assert_eq!(sim.get(2, "k").as_deref(), Some(winner));
    }

    #[test]
    fn del_removes_only_what_it_observed() {
        let mut sim = Sim::new(2);
        sim.set(0, "k", "v1");
        sim.sync();
        // B deletes what it saw while A writes again, concurrently.
        sim.del(1, "k");
        sim.set(0, "k", "v2");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "k").as_deref(), Some("v2"));

        // A delete that saw everything removes it everywhere.
        sim.del(1, "k");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "k"), None);
    }

    #[test]
    fn a_removal_that_overtakes_the_write_it_removed_still_wins() {
        let mut sim = Sim::new(3);
        sim.set(0, "k", "v");
        sim.deliver(0, 1);
        sim.del(1, "k");
        // C hears of the delete before the write it deleted.
        sim.deliver(1, 2);
        sim.deliver(0, 2);
        assert_eq!(sim.get(2, "k"), None);
        sim.sync();
        sim.assert_converged();
        // And the removal record goes once C has caught up.
        sim.regions[2].collect_replica_garbage();
        assert_eq!(sim.regions[2].replica().expect("r").side_table_len(), 0);
    }

    fn sleep_ms(ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    #[test]
    fn concurrent_expires_keep_the_later_deadline_and_persist_beats_expire() {
        let mut sim = Sim::new(2);
        sim.set(0, "k", "v");
        sim.sync();
        // The later EXPIRE (region 1's) has the shorter TTL: it is shown
        // first, and the key lives on until the longer one runs out.
        sim.expire_in(0, "k", 600);
        sleep_ms(2);
        sim.expire_in(1, "k", 200);
        sim.sync();
        sim.assert_converged();
        let short = sim.expire_of(0, "k").expect("key");
        sleep_ms(300);
        for i in 0..2 {
            assert_eq!(sim.get(i, "k").as_deref(), Some("v"), "region {i}");
            let long = sim.expire_of(i, "k").expect("key");
            assert!(long > short + 300, "the longer TTL wins: {long} vs {short}");
        }
        sim.assert_converged();
        sleep_ms(400);
        assert_eq!(sim.get(0, "k"), None);
        assert_eq!(sim.get(1, "k"), None);

        // (A PERSIST on a key without TTL writes nothing: give it one.)
        sim.set(0, "p", "v");
        sim.expire_in(0, "p", 100_000);
        sim.sync();
        sim.persist(0, "p");
        sleep_ms(2);
        sim.expire_in(1, "p", 200);
        sim.sync();
        sleep_ms(300);
        for i in 0..2 {
            assert_eq!(
                sim.get(i, "p").as_deref(),
                Some("v"),
                "PERSIST beats EXPIRE"
            );
            assert_eq!(sim.expire_of(i, "p"), Some(0));
        }
        sim.assert_converged();
    }

    /// A version that expires in its own region before the others hear of
    /// it is dead everywhere: the concurrent version it beat is shown, in
    /// the region that forgot it and in those that get both at once.
    #[test]
    fn a_version_that_expires_before_delivery_reveals_the_concurrent_one() {
        for other_ttl in [0u64, 100_000] {
            let mut sim = Sim::new(3);
            sim.set(0, "k", "base");
            sim.sync();
            sim.set(1, "k", "lasting");
            if other_ttl > 0 {
                sim.expire_in(1, "k", other_ttl);
            }
            sleep_ms(2);
            sim.set(0, "k", "brief");
            sim.expire_in(0, "k", 100);
            sleep_ms(150);
            assert_eq!(sim.get(0, "k"), None);
            sim.sync();
            sim.assert_converged();
            for i in 0..3 {
                assert_eq!(sim.get(i, "k").as_deref(), Some("lasting"), "region {i}");
            }
        }
    }

    /// The same, delivered before the short TTL runs out: every region shows
    /// the later write, then all switch to the other at its deadline.
    #[test]
    fn the_next_live_version_is_shown_when_the_winner_expires() {
        let mut sim = Sim::new(3);
        sim.set(1, "k", "lasting");
        sleep_ms(2);
        sim.set(0, "k", "brief");
        sim.expire_in(0, "k", 200);
        sim.sync();
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
        }
        for i in 0..3 {
            assert_eq!(sim.get(i, "k").as_deref(), Some("brief"), "region {i}");
        }
        sleep_ms(300);
        sim.assert_converged();
        for i in 0..3 {
            assert_eq!(sim.get(i, "k").as_deref(), Some("lasting"), "region {i}");
            assert_eq!(sim.expire_of(i, "k"), Some(0));
        }
        // Once shown and stable, nothing is held beside the keyspace.
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
            assert_eq!(e.replica().expect("r").side_table_len(), 0);
        }
    }

    #[test]
    fn concurrent_increments_all_count() {
        let mut sim = Sim::new(3);
        sim.set(0, "k", "7");
        sim.sync();
        assert_eq!(sim.incr(1, "k", 3), 10);
        assert_eq!(sim.incr(2, "k", 5), 12);
        assert_eq!(sim.incr(2, "k", -1), 11);
        sim.sync();
        sim.assert_converged();
        for i in 0..3 {
            assert_eq!(sim.get(i, "k").as_deref(), Some("14"), "region {i}");
        }
        // Once stable the key collapses to one plain version.
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
            assert_eq!(e.replica().expect("r").side_table_len(), 0);
        }
        assert_eq!(sim.incr(0, "k", 1), 15);
        sim.sync();
        sim.assert_converged();
    }

    #[test]
    fn concurrent_sadds_all_land_and_a_remove_takes_only_what_it_saw() {
        let mut sim = Sim::new(3);
        sim.sadd(0, "s", "a");
        sim.sadd(0, "s", "x");
        sim.sync();
        // SADD ∥ SADD: union. SREM x ∥ SADD x: add wins.
        sim.sadd(1, "s", "b");
        sim.sadd(2, "s", "c");
        sim.srem(0, "s", "x");
        sim.sadd(2, "s", "x");
        sim.sync();
        sim.assert_converged();
        for i in 0..3 {
            assert_eq!(sim.members(i, "s"), ["a", "b", "c", "x"], "region {i}");
        }
        // DEL ∥ SADD: only the concurrent add survives.
        sim.del(0, "s");
        sim.sadd(1, "s", "late");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.members(2, "s"), ["late"]);
        // Stable: nothing held beside the keyspace.
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
            assert_eq!(e.replica().expect("r").side_table_len(), 0);
        }
        sim.srem(2, "s", "late");
        sim.sync();
        sim.assert_converged();
        let exists = sim.regions[0]
            .txn_one(b"s")
            .peek(b"s")
            .expect("peek")
            .is_some();
        assert!(!exists, "the last member went");
    }

    #[test]
    fn concurrent_pushes_all_land_in_one_order_everywhere() {
        use crate::engine::lists::End::{Left, Right};
        let mut sim = Sim::new(3);
        sim.push(0, "l", Right, &["m"]);
        sim.sync();
        // RPUSH ∥ RPUSH ∥ LPUSH, several elements each.
        sim.push(0, "l", Right, &["a1", "a2"]);
        sim.push(1, "l", Right, &["b1", "b2"]);
        sim.push(2, "l", Left, &["c1", "c2"]);
        sim.push(1, "l", Left, &["d"]);
        sim.sync();
        sim.assert_converged();
        let l = sim.list(0, "l");
        assert_eq!(l.len(), 8, "{l:?}");
        // Each region's run stays together and in its own order.
        let at = |v: &str| l.iter().position(|x| x == v).expect(v);
        assert_eq!(at("a2"), at("a1") + 1, "{l:?}");
        assert_eq!(at("b2"), at("b1") + 1, "{l:?}");
        assert_eq!(at("c1"), at("c2") + 1, "LPUSH c1 c2 puts c2 first: {l:?}");
        assert!(at("m") > at("c1") && at("m") > at("d"), "{l:?}");
        assert!(at("m") < at("a1") && at("m") < at("b1"), "{l:?}");
        // Local edits after the merge name merged elements correctly.
        let mut t = sim.regions[2].txn_one(b"l");
        assert_eq!(
            t.linsert(b"l", crate::engine::lists::Side::Before, b"m", b"i")
                .expect("linsert"),
            9
        );
        drop(t);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.list(1, "l")[at("m")], "i");
    }

    #[test]
    fn a_list_delete_removes_only_the_elements_it_saw() {
        use crate::engine::lists::End::Right;
        let mut sim = Sim::new(3);
        sim.push(0, "l", Right, &["a", "b"]);
        sim.sync();
        sim.del(0, "l");
        sim.push(1, "l", Right, &["late"]);
        sim.sync();
        sim.assert_converged();
        for i in 0..3 {
            assert_eq!(sim.list(i, "l"), ["late"], "region {i}");
        }
    }

    #[test]
    fn concurrent_pops_of_one_element_return_it_in_both_regions_and_remove_it_once() {
        use crate::engine::lists::End::Right;
        let mut sim = Sim::new(3);
        sim.push(0, "q", Right, &["j1", "j2", "j3"]);
        sim.sync();
        assert_eq!(sim.lpop(0, "q").as_deref(), Some("j1"));
        assert_eq!(sim.lpop(1, "q").as_deref(), Some("j1"), "at-least-once");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.list(2, "q"), ["j2", "j3"]);
        // Concurrent pops that empty the list leave no key anywhere.
        sim.lpop(0, "q");
        sim.sync();
        assert_eq!(sim.lpop(0, "q").as_deref(), Some("j3"));
        assert_eq!(sim.lpop(2, "q").as_deref(), Some("j3"));
        sim.sync();
        sim.assert_converged();
        for i in 0..3 {
            assert!(sim.list(i, "q").is_empty(), "region {i}");
        }
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
            assert_eq!(e.replica().expect("r").side_table_len(), 0);
        }
    }

    #[test]
    fn an_expire_keeps_positions_so_concurrent_pops_and_pushes_still_apply() {
        use crate::engine::lists::End::Right;
        let mut sim = Sim::new(3);
        sim.push(0, "q", Right, &["a", "b", "c"]);
        sim.sync();
        sim.expire_in(0, "q", 1_000_000);
        assert_eq!(sim.lpop(1, "q").as_deref(), Some("a"));
        sim.push(2, "q", Right, &["d"]);
        sim.sync();
        sim.assert_converged();
        for i in 0..3 {
            assert_eq!(sim.list(i, "q"), ["b", "c", "d"], "region {i}");
            assert!(sim.expire_of(i, "q").is_some_and(|e| e > 0), "region {i}");
        }
    }

    /// An idle list gives back its cache of positions (a second copy of its
    /// base's), and every path that read the cache rebuilds it: a local
    /// pop, a remote push merged in place, and an EXPIRE, which must keep
    /// the positions so edits concurrent with it still apply.
    #[test]
    fn an_idle_list_drops_its_cache_and_edits_still_find_their_elements() {
        use crate::engine::lists::End::Right;
        let mut sim = Sim::new(3);
        sim.push(0, "q", Right, &["a", "b", "c"]);
        sim.push(1, "q", Right, &["d", "e"]);
        sim.sync();
        sim.report();
        let collects = usize::from(crate::engine::replica::LIST_CACHE_IDLE_COLLECTS);
        for _ in 0..collects - 1 {
            for e in &sim.regions {
                e.collect_replica_garbage();
            }
        }
        let index = sim.regions[0]
            .keyspace()
            .shard_of(crate::keyspace::hash_key(b"q"));
        for e in &sim.regions {
            let r = e.replica().expect("r");
            assert!(r.has_list_cache(index, b"q"), "dropped before its time");
            e.collect_replica_garbage();
        }
        for (i, e) in sim.regions.iter().enumerate() {
            let r = e.replica().expect("r");
            assert!(!r.has_list_cache(index, b"q"), "region {i} kept its cache");
            assert!(r.side_table_len() > 0, "region {i}: the base stays");
        }
        sim.expire_in(0, "q", 1_000_000);
        assert_eq!(sim.lpop(1, "q").as_deref(), Some("a"));
        sim.push(2, "q", Right, &["f"]);
        sim.sync();
        sim.assert_converged();
        sim.assert_views_match_replays();
        for i in 0..3 {
            assert_eq!(sim.list(i, "q"), ["b", "c", "d", "e", "f"], "region {i}");
            assert!(sim.expire_of(i, "q").is_some_and(|e| e > 0), "region {i}");
        }
    }

    /// Two regions pop a list's two elements concurrently (neither empties
    /// it itself); the region that hears of both shows no key, but keeps the list's versions until they
    /// are stable. A push there adds to those versions, so the list it
    /// makes keeps the old list's TTL — in that region's view as in every
    /// replay. (Found by `any_interleaving_converges`: the pushing region
    /// showed no TTL and the others did.)
    #[test]
    fn a_push_onto_a_list_emptied_by_concurrent_pops_keeps_its_ttl_everywhere() {
        use crate::engine::lists::End::Right;
        let mut sim = Sim::new(3);
        sim.push(1, "q", Right, &["a", "b"]);
        sim.expire_in(1, "q", 1_000_000);
        sim.sync();
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
        }
        assert_eq!(sim.lpop(2, "q").as_deref(), Some("a"));
        {
            let mut t = sim.regions[0].txn_one(b"q");
            let popped = t.list_pop_one(b"q", Right).expect("rpop");
            assert_eq!(popped.as_deref(), Some(&b"b"[..]));
        }
        sim.deliver(0, 2);
        assert!(sim.list(2, "q").is_empty());
        sim.push(2, "q", Right, &["c"]);
        sim.assert_views_match_replays();
        sim.sync();
        sim.assert_converged();
        sim.assert_views_match_replays();
        for i in 0..3 {
            assert_eq!(sim.list(i, "q"), ["c"], "region {i}");
            assert!(sim.expire_of(i, "q").is_some_and(|e| e > 0), "region {i}");
        }
    }

    /// A list at rest keeps its positions packed: each multi-element push a
    /// run, pushes one at a time one run between them, whichever region
    /// made them; and every region still applies edits by position.
    #[test]
    fn a_list_at_rest_keeps_its_positions_as_a_few_runs() {
        use crate::engine::lists::End::{Left, Right};
        let mut sim = Sim::new(3);
        let batch: Vec<String> = (0..100).map(|i| format!("b{i}")).collect();
        let batch: Vec<&str> = batch.iter().map(String::as_str).collect();
        for region in 0..3 {
            sim.push(region, "q", Right, &batch);
            sim.sync();
        }
        for i in 0..60 {
            sim.push(i % 3, "q", Right, &["one"]);
            sim.sync();
        }
        sim.report();
        let collects = usize::from(crate::engine::replica::LIST_CACHE_IDLE_COLLECTS);
        for _ in 0..=collects {
            for e in &sim.regions {
                e.collect_replica_garbage();
            }
        }
        let index = sim.regions[0]
            .keyspace()
            .shard_of(crate::keyspace::hash_key(b"q"));
        for (i, e) in sim.regions.iter().enumerate() {
            let r = e.replica().expect("r");
            assert!(!r.has_list_cache(index, b"q"), "region {i} kept its cache");
            let runs = r.base_position_runs(index, b"q");
            assert!(
                runs.is_some_and(|n| n <= 4),
                "region {i}: {runs:?} runs for 360 elements"
            );
        }
        assert_eq!(sim.lpop(1, "q").as_deref(), Some("b0"));
        sim.push(2, "q", Left, &["head"]);
        sim.push(0, "q", Right, &["tail"]);
        sim.sync();
        sim.assert_converged();
        sim.assert_views_match_replays();
        let l = sim.list(0, "q");
        assert_eq!(l.len(), 361);
        assert_eq!((l[0].as_str(), l[1].as_str()), ("head", "b1"));
        assert_eq!(l.last().map(String::as_str), Some("tail"));
    }

    /// Region 0 hears of region 2's DEL before of the SET it removed, so it
    /// shows nothing for the key but remembers the removal. A snapshot it
    /// sends to region 1 (which holds the SET) counts the DEL as applied
    /// there, so it must carry that removal too.
    #[test]
    fn a_snapshot_carries_the_removal_of_a_key_its_sender_does_not_show() {
        let mut sim = Sim::new(3);
        sim.set(1, "k", "v");
        sim.step(1, 2);
        sim.del(2, "k");
        sim.step(2, 0);
        snapshot(&mut sim, 0, 1);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(1, "k"), None);
    }

    #[test]
    fn concurrent_lsets_converge_on_the_later_stamp_and_lose_to_a_pop() {
        use crate::engine::lists::End::Right;
        let mut sim = Sim::new(3);
        sim.push(0, "l", Right, &["a", "b", "c"]);
        sim.sync();
        sim.lset(0, "l", 1, "x");
        sim.lset(1, "l", 1, "y");
        sim.sync();
        sim.assert_converged();
        // Of two concurrent LSETs the greater (stamp, region) wins: the
        // same value everywhere.
        let l = sim.list(0, "l");
        assert!(l == ["a", "x", "c"] || l == ["a", "y", "c"], "{l:?}");
        sim.lset(2, "l", 0, "z");
        assert_eq!(sim.lpop(1, "l").as_deref(), Some("a"));
        sim.sync();
        sim.assert_converged();
        // LSET ∥ LPOP of one element: the pop wins, the LSET is lost with it.
        assert_eq!(sim.list(0, "l"), l[1..]);
    }

    #[test]
    fn a_stable_list_collapses_and_keeps_merging_across_snapshots() {
        use crate::engine::lists::End::{Left, Right};
        let mut sim = Sim::new(3);
        sim.push(0, "l", Right, &["a", "b", "c"]);
        sim.push(1, "l", Right, &["d"]);
        sim.sync();
        sim.lpop(2, "l");
        sim.sync();
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
        }
        sim.assert_converged();
        // Edits after the collapse still merge element by element.
        sim.push(0, "l", Left, &["h"]);
        sim.push(1, "l", Right, &["t"]);
        let mut t = sim.regions[2].txn_one(b"l");
        t.ltrim(b"l", 1, -1).expect("ltrim");
        drop(t);
        sim.sync();
        sim.assert_converged();
        let l = sim.list(0, "l");
        assert_eq!(l.first().map(String::as_str), Some("h"), "{l:?}");
        assert_eq!(l.last().map(String::as_str), Some("t"), "{l:?}");
        // A region restarted empty gets the list (positions included) by
        // snapshot, and its edits merge with the others'.
        sim.restart(1);
        snapshot(&mut sim, 0, 1);
        sim.push(1, "l", Right, &["r1"]);
        sim.push(0, "l", Right, &["r0"]);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.list(2, "l").len(), l.len() + 2);
    }

    #[test]
    fn concurrent_hash_updates_all_land_and_update_wins_over_hdel() {
        let mut sim = Sim::new(3);
        sim.hset(0, "h", "f", "1");
        sim.hset(0, "h", "n", "10");
        sim.sync();
        sim.hset(1, "h", "g", "2");
        sim.hset(2, "h", "k", "3");
        sim.hdel(0, "h", "f");
        sim.hset(2, "h", "f", "again");
        assert_eq!(sim.hincr(1, "h", "n", 5), 15);
        assert_eq!(sim.hincr(2, "h", "n", 1), 11);
        sim.sync();
        sim.assert_converged();
        for i in 0..3 {
            assert_eq!(
                sim.hget(i, "h", "f").as_deref(),
                Some("again"),
                "region {i}"
            );
            assert_eq!(sim.hget(i, "h", "g").as_deref(), Some("2"));
            assert_eq!(sim.hget(i, "h", "k").as_deref(), Some("3"));
            assert_eq!(
                sim.hget(i, "h", "n").as_deref(),
                Some("16"),
                "increments add"
            );
        }
        // Of one field, the later write wins.
        sim.hset(1, "h", "f", "one");
        sleep_ms(2);
        sim.hset(2, "h", "f", "two");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.hget(0, "h", "f").as_deref(), Some("two"));
    }

    #[test]
    fn concurrent_zadds_and_zincrbys_all_land() {
        let mut sim = Sim::new(3);
        sim.zadd(0, "z", "m", 5.0);
        sim.sync();
        sim.zadd(1, "z", "a", 1.0);
        sim.zadd(2, "z", "b", 2.0);
        sim.zincr(1, "z", "m", 1.5);
        sim.zincr(2, "z", "m", 2.0);
        sim.sync();
        sim.assert_converged();
        for i in 0..3 {
            assert_eq!(sim.zscore(i, "z", "a"), Some(1.0), "region {i}");
            assert_eq!(sim.zscore(i, "z", "b"), Some(2.0));
            assert_eq!(sim.zscore(i, "z", "m"), Some(8.5), "increments add");
        }
        // ZREM ∥ ZINCRBY: the member stays with only the increment.
        sim.zrem(0, "z", "m");
        sim.zincr(1, "z", "m", 3.0);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.zscore(2, "z", "m"), Some(3.0));
    }

    #[test]
    fn a_reset_cancels_only_the_increments_it_saw() {
        // DEL ∥ +3 → 3.
        let mut sim = Sim::new(2);
        sim.set(0, "k", "7");
        sim.sync();
        sim.del(0, "k");
        sim.incr(1, "k", 3);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "k").as_deref(), Some("3"));
        // SET 100 ∥ +1 → 101.
        sim.set(0, "j", "5");
        sim.sync();
        sim.set(0, "j", "100");
        sim.incr(1, "j", 1);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(1, "j").as_deref(), Some("101"));
        // A DEL that saw the increment removes everything.
        sim.del(1, "j");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "j"), None);
    }

    #[test]
    fn increments_keep_the_ttl_and_die_with_the_key() {
        // The rate-limiter pattern: INCR, EXPIRE, more INCRs everywhere.
        let mut sim = Sim::new(2);
        sim.incr(0, "hits", 1);
        sim.expire_in(0, "hits", 200);
        sim.sync();
        sim.incr(0, "hits", 1);
        sim.incr(1, "hits", 1);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(1, "hits").as_deref(), Some("3"));
        assert!(sim.expire_of(1, "hits").is_some_and(|t| t > 0));
        sleep_ms(300);
        assert_eq!(sim.get(0, "hits"), None);
        assert_eq!(sim.get(1, "hits"), None);
        sim.assert_converged();
    }

    /// A region restarted empty that writes before a snapshot reaches it
    /// still gets back its own changes from before the restart.
    #[test]
    fn a_restarted_region_that_writes_first_still_gets_its_old_changes_back() {
        let mut sim = Sim::new(3);
        sim.set(0, "mine", "old");
        sim.incr(0, "n", 5);
        sim.sync();
        sleep_ms(2);
        sim.restart(0);
        // Its own mark now runs past every change of the previous run.
        sim.set(0, "new", "x");
        snapshot(&mut sim, 1, 0);
        snapshot(&mut sim, 2, 0);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "mine").as_deref(), Some("old"));
        assert_eq!(sim.get(0, "n").as_deref(), Some("5"));
        assert_eq!(sim.get(2, "new").as_deref(), Some("x"));
        // What it deletes now stays deleted, whatever snapshot comes next.
        sim.del(0, "mine");
        snapshot(&mut sim, 2, 0);
        assert_eq!(sim.get(0, "mine"), None);
        sim.sync();
        sim.assert_converged();
    }

    /// A region refuses writes after a (re)start until every peer has told
    /// what it holds of the region's changes and snapshots gave that back.
    #[test]
    fn a_restarted_region_accepts_writes_once_its_changes_are_back() {
        let mut sim = Sim::new(3);
        sim.set(0, "k", "v");
        sim.sync();
        sim.restart(0);
        let me = RegionId(1);
        let writable = |sim: &Sim| sim.regions[0].check_writable().is_ok();
        assert!(!writable(&sim), "nothing heard from the peers yet");
        let held = sim.regions[1].replica().expect("r").applied().get(me);
        assert!(held > 0);
        let r0 = sim.regions[0].replica().expect("r");
        r0.note_peer_knowledge(RegionId(2), held);
        r0.note_peer_knowledge(RegionId(3), 0);
        assert!(!writable(&sim), "region 2 holds a change of ours");
        assert_eq!(
            sim.regions[0].check_writable().map_err(|e| e.to_string()),
            Err("LOADING this region is catching up with its peers after a restart".into())
        );
        snapshot(&mut sim, 1, 0);
        assert!(writable(&sim));
        assert_eq!(sim.get(0, "k").as_deref(), Some("v"));
        // A fresh cluster: peers hold nothing of ours.
        let fresh = Sim::new(2);
        fresh.regions[0]
            .replica()
            .expect("r")
            .note_peer_knowledge(RegionId(2), 0);
        assert!(fresh.regions[0].check_writable().is_ok());
    }

    /// Moves a whole snapshot of region `from` into region `to`.
    fn snapshot(sim: &mut Sim, from: usize, to: usize) {
        let base = sim.regions[from].replica().expect("r").applied();
        let flushed = sim.regions[from].replica().expect("r").flushed_beyond();
        sim.regions[to].import_flushed(&flushed);
        let mut seen = HashSet::new();
        for shard in 0..sim.regions[from].keyspace().shard_count() {
            let (chunk, _) = sim.regions[from].export_chunk(shard, 0, 1000);
            sim.regions[to].import_chunk(chunk, &base, &mut seen);
        }
        sim.regions[to].finish_import(&base, &seen);
        for origin in 0..sim.regions.len() {
            sim.sent[origin][to] = sim.sent[origin][to].max(base.get(RegionId(origin as u16 + 1)));
        }
    }

    /// A region that rejoined by snapshot holds a record per key until the
    /// import is stable everywhere; once collected, the side table gives its
    /// slots back instead of keeping the import's peak (it kept ~270 bytes
    /// per key).
    #[test]
    fn a_collected_snapshot_import_gives_its_side_table_back() {
        // (The helper moves one chunk of at most 1000 keys per shard.)
        let mut sim = Sim::new(3);
        for k in 0..3000 {
            sim.set(0, &format!("k{k}"), "v");
        }
        sim.sync();
        sim.restart(2);
        snapshot(&mut sim, 0, 2);
        snapshot(&mut sim, 1, 2);
        let r2 = sim.regions[2].replica().expect("r");
        assert!(r2.side_table_len() >= 3000, "the import keeps records");
        sim.sync();
        sim.report();
        sim.regions[2].collect_replica_garbage();
        let r2 = sim.regions[2].replica().expect("r");
        assert_eq!(r2.side_table_len(), 0);
        assert!(
            r2.side_table_slots() < 1000,
            "{} slots kept for no record",
            r2.side_table_slots()
        );
        sim.assert_converged();
    }

    /// One region collapses a stable counter into one version while another
    /// still holds its increments: snapshots either way change nothing.
    #[test]
    fn a_collapsed_counter_and_its_increments_agree_across_snapshots() {
        for (from, to) in [(0, 2), (2, 0)] {
            let mut sim = Sim::new(3);
            sim.set(0, "k", "10");
            sim.sync();
            sim.incr(0, "k", 2);
            sim.incr(1, "k", 3);
            sim.sync();
            sim.report();
            sim.regions[0].collect_replica_garbage();
            assert_eq!(sim.regions[0].replica().expect("r").side_table_len(), 0);
            assert!(sim.regions[2].replica().expect("r").side_table_len() > 0);
            snapshot(&mut sim, from, to);
            sim.assert_converged();
            for i in 0..3 {
                assert_eq!(
                    sim.get(i, "k").as_deref(),
                    Some("15"),
                    "{from}->{to}: region {i}"
                );
            }
            sim.incr(to, "k", 1);
            sim.sync();
            sim.assert_converged();
            assert_eq!(sim.get(from, "k").as_deref(), Some("16"));
        }
    }

    /// A restarted region that takes snapshots from two peers at once — one
    /// that collapsed its old increments into one version, one that still
    /// holds them — counts every increment once, whichever comes first.
    /// (Found by the replication soak: a restarted region showed 7 where
    /// its peers showed 4.)
    #[test]
    fn interleaved_snapshots_after_a_restart_count_old_increments_once() {
        for (first, second) in [(1, 2), (2, 1)] {
            let mut sim = Sim::new(3);
            sim.set(1, "k", "1");
            sim.sync();
            for _ in 0..3 {
                sim.incr(0, "k", 1);
            }
            sim.sync();
            sim.report();
            sim.regions[1].collect_replica_garbage();
            assert_eq!(sim.regions[1].replica().expect("r").side_table_len(), 0);
            assert!(sim.regions[2].replica().expect("r").side_table_len() > 0);
            sleep_ms(2);
            sim.restart(0);
            // Both snapshots stream at once: every chunk of both is merged
            // before either finishes.
            let bases: Vec<VersionVector> = [first, second]
                .iter()
                .map(|&from| sim.regions[from].replica().expect("r").applied())
                .collect();
            let mut seen = [HashSet::new(), HashSet::new()];
            for shard in 0..sim.regions[0].keyspace().shard_count() {
                for (n, &from) in [first, second].iter().enumerate() {
                    let (chunk, _) = sim.regions[from].export_chunk(shard, 0, 1000);
                    sim.regions[0].import_chunk(chunk, &bases[n], &mut seen[n]);
                }
            }
            for n in 0..2 {
                sim.regions[0].finish_import(&bases[n], &seen[n]);
            }
            assert_eq!(
                sim.get(0, "k").as_deref(),
                Some("4"),
                "snapshot from {first} first"
            );
            for base in &bases {
                for origin in 0..3 {
                    let mark = base.get(RegionId(origin as u16 + 1));
                    sim.sent[origin][0] = sim.sent[origin][0].max(mark);
                }
            }
            sim.sync();
            sim.assert_converged();
        }
    }

    /// Two regions collapse one counter under the same dot, one before a
    /// concurrent increment reached it and one after: a snapshot from the
    /// fuller one replaces the smaller collapse instead of dropping the
    /// increment. (Found by the replication soak: one region showed 7
    /// where the others showed 10, all under one dot.)
    #[test]
    fn a_fuller_collapse_under_the_same_dot_replaces_a_smaller_one() {
        let mut sim = Sim::new(3);
        sim.set(0, "k", "10");
        sim.sync();
        // An increment in region 1, then a later one in region 0 that has
        // not seen it; only region 0's travels at first.
        sim.incr(1, "k", 3);
        sleep_ms(2);
        sim.incr(0, "k", 1);
        sim.deliver(0, 1);
        sim.deliver(0, 2);
        sim.report();
        sim.regions[0].collect_replica_garbage();
        assert_eq!(sim.regions[0].replica().expect("r").side_table_len(), 0);
        assert_eq!(sim.get(0, "k").as_deref(), Some("11"));
        // Region 1's increment arrives; region 1 collapses all three.
        sim.sync();
        sim.report();
        sim.regions[1].collect_replica_garbage();
        assert_eq!(sim.regions[1].replica().expect("r").side_table_len(), 0);
        assert_eq!(sim.get(0, "k").as_deref(), Some("14"));
        snapshot(&mut sim, 1, 0);
        assert_eq!(sim.get(0, "k").as_deref(), Some("14"));
        sim.sync();
        sim.assert_converged();
    }

    /// An increment made under a TTL that a concurrent PERSIST outlived
    /// leaves the view at its deadline in every region, whether the merge
    /// or the collector notices first.
    #[test]
    fn an_increment_that_expires_under_a_persisted_key_leaves_the_view() {
        let mut sim = Sim::new(2);
        sim.set(0, "k", "10");
        sim.expire_in(0, "k", 150);
        sim.sync();
        sim.incr(0, "k", 5);
        sim.persist(1, "k");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "k").as_deref(), Some("15"));
        sleep_ms(250);
        sim.regions[0].collect_replica_garbage();
        sim.regions[1].collect_replica_garbage();
        assert_eq!(sim.get(0, "k").as_deref(), Some("10"));
        assert_eq!(sim.get(1, "k").as_deref(), Some("10"));
        sim.assert_converged();
    }

    /// A SET newer than a concurrent increment: the key shows the SET plus
    /// the increment, and snapshots between a region that collected and one
    /// that did not agree (the key is not collapsed under the SET's dot).
    #[test]
    fn a_newer_set_with_a_concurrent_increment_survives_collection_and_snapshots() {
        for (from, to) in [(0, 2), (2, 0)] {
            let mut sim = Sim::new(3);
            sim.set(0, "k", "10");
            sim.sync();
            sim.incr(1, "k", 3);
            sleep_ms(2);
            sim.set(0, "k", "100");
            sim.sync();
            sim.report();
            sim.regions[0].collect_replica_garbage();
            snapshot(&mut sim, from, to);
            sim.sync();
            sim.assert_converged();
            for i in 0..3 {
                assert_eq!(
                    sim.get(i, "k").as_deref(),
                    Some("103"),
                    "{from}->{to}: region {i}"
                );
            }
        }
    }

    #[test]
    fn a_snapshot_carries_increments() {
        let mut sim = Sim::new(3);
        sim.set(0, "k", "10");
        sim.sync();
        sim.incr(0, "k", 2);
        sim.incr(1, "k", 3);
        sim.deliver(1, 0);
        // Region 2 takes a snapshot from region 0, then hears region 1.
        let base = sim.regions[0].replica().expect("r").applied();
        let mut seen = HashSet::new();
        for shard in 0..sim.regions[0].keyspace().shard_count() {
            let (chunk, _) = sim.regions[0].export_chunk(shard, 0, 1000);
            sim.regions[2].import_chunk(chunk, &base, &mut seen);
        }
        sim.regions[2].finish_import(&base, &seen);
        sim.sent[0][2] = base.get(RegionId(1));
        sim.sent[1][2] = base.get(RegionId(2));
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(2, "k").as_deref(), Some("15"));
    }

    #[test]
    fn duplicates_are_harmless() {
        let mut sim = Sim::new(2);
        sim.set(0, "k", "v");
        sim.sync();
        let change = Replica::decode(&sim.log_of(0)[0].1).expect("decode");
        sim.set(1, "k", "newer");
        sim.regions[1].apply_change(&change).expect("re-apply");
        assert_eq!(sim.get(1, "k").as_deref(), Some("newer"));
    }

    #[test]
    fn flushall_removes_only_what_it_observed() {
        let mut sim = Sim::new(2);
        sim.set(0, "old", "1");
        sim.sync();
        sim.flushall(1);
        sim.set(0, "new", "2");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "old"), None);
        assert_eq!(sim.get(1, "new").as_deref(), Some("2"));
    }

    #[test]
    fn losing_versions_are_collected_once_stable() {
        let mut sim = Sim::new(3);
        sim.set(0, "k", "a");
        sim.set(1, "k", "b");
        sim.set(2, "k", "c");
        sim.sync();
        sim.assert_converged();
        let held = |sim: &Sim| {
            sim.regions
                .iter()
                .map(|e| e.replica().expect("r").side_table_len())
                .sum::<usize>()
        };
        assert!(held(&sim) > 0, "concurrent versions are kept until stable");
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
        }
        assert_eq!(held(&sim), 0);
        sim.assert_converged();
        // A delete after collection still removes the key everywhere.
        sim.del(2, "k");
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "k"), None);
    }

    #[test]
    fn a_snapshot_brings_an_empty_region_up_to_date_and_sweeps_what_went() {
        let mut sim = Sim::new(3);
        sim.set(0, "a", "1");
        sim.sadd(1, "s", "x");
        sim.set(1, "gone", "soon");
        sim.sync();
        // Region 2 misses the delete, then takes a snapshot from region 0.
        sim.del(0, "gone");
        sim.deliver(0, 1);
        let base = sim.regions[0].replica().expect("r").applied();
        let mut seen = HashSet::new();
        for shard in 0..sim.regions[0].keyspace().shard_count() {
            let mut cursor = 0;
            loop {
                let (chunk, next) = sim.regions[0].export_chunk(shard, cursor, 1);
                sim.regions[2].import_chunk(chunk, &base, &mut seen);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        sim.regions[2].finish_import(&base, &seen);
        assert_eq!(sim.get(2, "gone"), None);
        sim.assert_converged();
        // The stream resumes after the snapshot without double effects.
        sim.sent[0][2] = base.get(RegionId(1));
        sim.set(0, "after", "x");
        sim.sync();
        sim.assert_converged();
    }

    /// A key written without pause in every region never has all its
    /// versions stable at once; the stable ones fold as they go, so the
    /// versions held stay bounded, and every increment, member and element
    /// still counts once.
    #[test]
    fn hot_keys_fold_stable_versions_while_writes_go_on() {
        use crate::engine::lists::End;
        let mut sim = Sim::new(3);
        let rounds = 3000;
        let mut most = 0;
        for n in 0..rounds {
            let r = n % 3;
            sim.incr(r, "hot", 1);
            sim.sadd(r, "members", &format!("m{}", n % 500));
            sim.zincr(r, "scores", &format!("z{}", n % 7), 1.0);
            sim.hincr(r, "fields", &format!("f{}", n % 5), 1);
            sim.push(r, "queue", End::Right, &[&format!("e{n}")]);
            sim.steady_load_round(n);
            if n % 500 == 499 {
                sim.assert_views_match_replays();
                for e in &sim.regions {
                    e.collect_replica_garbage();
                }
                sim.assert_views_match_replays();
            }
            most = most.max(sim.versions_held().into_iter().max().unwrap_or(0));
        }
        sim.sync();
        sim.assert_converged();
        sim.assert_views_match_replays();
        assert!(
            most < 5 * (super::super::replica::FOLD_AT + 64) + rounds / 8,
            "up to {most} versions held for 5 hot keys"
        );
        assert_eq!(sim.get(0, "hot").as_deref(), Some("3000"));
        assert_eq!(sim.members(0, "members").len(), 500);
        assert_eq!(sim.zscore(0, "scores", "z0"), Some(429.0));
        assert_eq!(sim.hget(0, "fields", "f0").as_deref(), Some("600"));
        assert_eq!(sim.list(0, "queue").len(), rounds);
        // Once quiet, everything collapses.
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
        }
        sim.assert_converged();
        assert!(
            sim.versions_held().iter().all(|&n| n <= 5),
            "{:?}",
            sim.versions_held()
        );
    }

    /// A hot list edited every way (pushes at both ends, pops, LSET,
    /// LINSERT) from three regions while some edits are always in flight:
    /// its stable edits fold into its base in place, every view still equals
    /// its replay, and the regions converge.
    #[test]
    fn a_hot_list_folds_its_stable_edits_in_place() {
        use crate::engine::lists::{End, Side};
        let mut sim = Sim::new(3);
        let rounds = 3000;
        let mut most = 0;
        for n in 0..rounds {
            let r = n % 3;
            let value = format!("e{n}");
            match n % 10 {
                0..=3 => sim.push(r, "q", End::Right, &[&value]),
                4..=5 => sim.push(r, "q", End::Left, &[&value, "pair"]),
                6 => {
                    sim.lpop(r, "q");
                }
                7 => sim.lset(r, "q", 1, &value),
                8 => {
                    let mut t = sim.regions[r].txn_one(b"q");
                    let _ = t.linsert(b"q", Side::Before, b"pair", value.as_bytes());
                }
                _ => {
                    let mut t = sim.regions[r].txn_one(b"q");
                    let _ = t.list_pop_one(b"q", End::Right);
                }
            }
            sim.steady_load_round(n);
            if n % 250 == 249 {
                sim.assert_views_match_replays();
            }
            most = most.max(sim.versions_held().into_iter().max().unwrap_or(0));
        }
        sim.sync();
        sim.assert_converged();
        sim.assert_views_match_replays();
        assert!(
            most < super::super::replica::FOLD_AT + 64 + rounds / 8,
            "up to {most} versions held for one hot list"
        );
        assert!(sim.list(0, "q").len() > 1000);
        sim.report();
        for e in &sim.regions {
            e.collect_replica_garbage();
        }
        sim.assert_converged();
        sim.assert_views_match_replays();
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(usize, u8, u8),
        Del(usize, u8),
        Expire(usize, u8, u8),
        Persist(usize, u8),
        Incr(usize, u8, i8),
        Sadd(usize, u8, u8),
        Srem(usize, u8, u8),
        Hset(usize, u8, u8, u8),
        Hincr(usize, u8, u8, i8),
        Zadd(usize, u8, u8, i8),
        Zincr(usize, u8, u8, i8),
        Zrem(usize, u8, u8),
        Flush(usize),
        Step(usize, usize),
        /// A list edit on list key 10 or 11: push (left/right) value,
        /// pop, LSET, LINSERT, LREM, LTRIM, DEL, EXPIRE, LMOVE to the other
        /// list.
        List(usize, u8, u8, u8),
        Snapshot(usize, usize),
        /// Everything delivered and reported, then each region collects
        /// (stable lists collapse), and writes go on.
        Quiesce,
        /// What was delivered is reported and each region collects: what
        /// is stable folds, the rest stays.
        Collect,
    }

    fn op() -> impl Strategy<Value = Op> {
        let r = 0..3usize;
        prop_oneof![
            4 => (r.clone(), 0..4u8, 0..5u8).prop_map(|(r, k, v)| Op::Set(r, k, v)),
            2 => (r.clone(), 0..4u8).prop_map(|(r, k)| Op::Del(r, k)),
            1 => (r.clone(), 0..4u8, 1..4u8).prop_map(|(r, k, t)| Op::Expire(r, k, t)),
            1 => (r.clone(), 0..4u8).prop_map(|(r, k)| Op::Persist(r, k)),
            4 => (r.clone(), 0..4u8, -3..4i8).prop_map(|(r, k, by)| Op::Incr(r, k, by)),
            2 => (r.clone(), 4..6u8, 0..4u8).prop_map(|(r, k, m)| Op::Sadd(r, k, m)),
            2 => (r.clone(), 4..6u8, 0..4u8).prop_map(|(r, k, m)| Op::Srem(r, k, m)),
            2 => (r.clone(), 6..8u8, 0..3u8, 0..3u8).prop_map(|(r, k, f, v)| Op::Hset(r, k, f, v)),
            2 => (r.clone(), 6..8u8, 0..3u8, -2..3i8).prop_map(|(r, k, f, by)| Op::Hincr(r, k, f, by)),
            2 => (r.clone(), 8..10u8, 0..3u8, -2..3i8).prop_map(|(r, k, m, s)| Op::Zadd(r, k, m, s)),
            2 => (r.clone(), 8..10u8, 0..3u8, -2..3i8).prop_map(|(r, k, m, by)| Op::Zincr(r, k, m, by)),
            1 => (r.clone(), 8..10u8, 0..3u8).prop_map(|(r, k, m)| Op::Zrem(r, k, m)),
            1 => r.clone().prop_map(Op::Flush),
            8 => (r.clone(), 10..12u8, 0..11u8, 0..4u8).prop_map(|(r, k, kind, v)| Op::List(r, k, kind, v)),
            1 => (r.clone(), r.clone()).prop_map(|(a, b)| Op::Snapshot(a, b)),
            1 => Just(Op::Quiesce),
            2 => Just(Op::Collect),
            6 => (r.clone(), r).prop_map(|(a, b)| Op::Step(a, b)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the writes and however changes interleave (FIFO per
        /// origin), regions that have seen everything hold the same keyspace.
        #[test]
        fn any_interleaving_converges(ops in proptest::collection::vec(op(), 1..60)) {
            let mut sim = Sim::new(3);
            for op in ops {
                match op {
                    // Numbers (which INCR adds to) and other strings.
                    Op::Set(r, k, v) if v % 2 == 0 => sim.set(r, &format!("k{k}"), &v.to_string()),
                    Op::Set(r, k, v) => sim.set(r, &format!("k{k}"), &format!("v{v}")),
                    Op::Del(r, k) => sim.del(r, &format!("k{k}")),
                    // Expiries far in the future: the test compares deadlines.
                    Op::Expire(r, k, t) => sim.expire_in(r, &format!("k{k}"), t as u64 * 1_000_000),
                    Op::Persist(r, k) => sim.persist(r, &format!("k{k}")),
                    // Refused on a non-integer value, as INCR is.
                    Op::Incr(r, k, by) => {
                        let key = format!("k{k}");
                        let mut t = sim.regions[r].txn_one(key.as_bytes());
                        let _ = t.incr_by(key.as_bytes(), by.into());
                    }
                    Op::Sadd(r, k, m) => sim.sadd(r, &format!("k{k}"), &format!("m{m}")),
                    Op::Srem(r, k, m) => {
                        let key = format!("k{k}");
                        let mut t = sim.regions[r].txn_one(key.as_bytes());
                        let _ = t.srem(key.as_bytes(), [format!("m{m}").as_bytes()]);
                    }
                    // Field values: numbers (HINCRBY adds to them) or not.
                    Op::Hset(r, k, f, v) => {
                        let key = format!("k{k}");
                        let value = if v == 2 { "x".to_string() } else { v.to_string() };
                        let mut t = sim.regions[r].txn_one(key.as_bytes());
                        let _ = t.hset(key.as_bytes(), [(format!("f{f}").as_bytes(), value.as_bytes())]);
                    }
                    Op::Zadd(r, k, m, score) => {
                        let key = format!("k{k}");
                        let mut t = sim.regions[r].txn_one(key.as_bytes());
                        let opts = crate::engine::zsets::ZAddOptions::default();
                        let _ = t.zadd(key.as_bytes(), &opts, &[(f64::from(score), format!("m{m}").as_bytes())]);
                    }
                    Op::Zincr(r, k, m, by) => {
                        let key = format!("k{k}");
                        let mut t = sim.regions[r].txn_one(key.as_bytes());
                        let _ = t.zincrby(key.as_bytes(), f64::from(by), format!("m{m}").as_bytes());
                    }
                    Op::Zrem(r, k, m) => {
                        let key = format!("k{k}");
                        let mut t = sim.regions[r].txn_one(key.as_bytes());
                        let _ = t.zrem(key.as_bytes(), [format!("m{m}").as_bytes()]);
                    }
                    Op::Hincr(r, k, f, by) => {
                        let key = format!("k{k}");
                        let mut t = sim.regions[r].txn_one(key.as_bytes());
                        let _ = t.hincrby(key.as_bytes(), format!("f{f}").as_bytes(), by.into());
                    }
                    Op::Flush(r) => sim.flushall(r),
                    Op::Step(a, b) => {
                        if a != b {
                            sim.step(a, b);
                        }
                    }
                    Op::Snapshot(a, b) => {
                        if a != b {
                            snapshot(&mut sim, a, b);
                        }
                    }
                    Op::Quiesce => {
                        sim.sync();
                        sim.report();
                        for e in &sim.regions {
                            e.collect_replica_garbage();
                        }
                    }
                    Op::Collect => {
                        sim.report_delivered();
                        let before: Vec<_> = (0..3).map(|i| sim.dump(i)).collect();
                        for e in &sim.regions {
                            e.collect_replica_garbage();
                        }
                        let after: Vec<_> = (0..3).map(|i| sim.dump(i)).collect();
                        prop_assert_eq!(before, after, "collecting changed what a region shows");
                    }
                    Op::List(r, k, kind, v) => {
                        use crate::engine::lists::{End, Side};
                        let key = format!("k{k}");
                        let other = format!("k{}", 21 - k);
                        let value = format!("e{v}");
                        let mut t = sim.regions[r].txn([key.as_bytes(), other.as_bytes()]);
                        let key = key.as_bytes();
                        let _ = match kind {
                            0 => t.list_push(key, End::Right, [value.as_bytes()], false).map(|_| ()),
                            1 => t.list_push(key, End::Left, [value.as_bytes(), b"z".as_slice()], false).map(|_| ()),
                            2 => t.list_pop(key, End::Left, 1).map(|_| ()),
                            3 => t.list_pop_one(key, End::Right).map(|_| ()),
                            4 => t.lset(key, i64::from(v) - 2, value.as_bytes()),
                            5 => t.linsert(key, Side::After, b"e1", value.as_bytes()).map(|_| ()),
                            6 => t.lrem(key, i64::from(v) - 2, b"e2").map(|_| ()),
                            7 => t.ltrim(key, i64::from(v % 2), -1),
                            8 => t.delete(key).map(|_| ()),
                            9 => {
                                let at = t.now_ms() + u64::from(v) * 1_000_000;
                                t.expire_at(key, at, ExpireCondition::Always).map(|_| ())
                            }
                            _ => t.lmove(key, other.as_bytes(), End::Left, End::Right).map(|_| ()),
                        };
                    }
                }
            }
            sim.assert_views_match_replays();
            sim.sync();
            sim.assert_converged();
            sim.assert_views_match_replays();
            sim.report();
            for e in &sim.regions {
                e.collect_replica_garbage();
            }
            sim.assert_converged();
        }
    }

    /// A FLUSHALL removed a key that region 1 never held; a snapshot from
    /// region 1 stands for the FLUSHALL (the stream resumes after it), so
    /// it must carry that removal to the key's writer. (Found by
    /// `any_interleaving_converges`: the writer kept the key for good.)
    #[test]
    fn a_snapshot_carries_what_a_flushall_removed_beyond_its_base() {
        let mut sim = Sim::new(3);
        sim.set(0, "k0", "0");
        sim.incr(2, "k1", 5);
        snapshot(&mut sim, 2, 0);
        sim.flushall(0);
        sim.deliver(0, 1);
        snapshot(&mut sim, 1, 2);
        assert_eq!(sim.get(2, "k1"), None);
        sim.sync();
        sim.assert_converged();
        assert_eq!(sim.get(0, "k1"), None);
    }

    /// A FLUSHALL removes what it observed even where it shows nothing: a
    /// pop that arrived without the list it popped from is a key of the side
    /// table only, and a flush covering it removes it there too. (Found by
    /// `any_interleaving_converges`: one region kept the pop and showed a
    /// concurrent EXPIRE's list without its head, the others with it.)
    #[test]
    fn a_flushall_removes_what_it_observed_from_keys_that_show_nothing() {
        use crate::engine::lists::End;
        let mut sim = Sim::new(3);
        sim.push(1, "q", End::Left, &["e0", "z"]);
        sim.step(1, 0);
        sim.step(1, 2);
        assert_eq!(sim.lpop(0, "q").as_deref(), Some("z"));
        sim.flushall(1);
        sim.flushall(0);
        // Concurrent with both flushes and the pop: the list as region 2
        // saw it, written whole.
        sim.expire_in(2, "q", 1_000_000);
        sim.sync();
        sim.assert_converged();
        sim.assert_views_match_replays();
        assert_eq!(sim.list(1, "q"), ["z", "e0"]);
    }
}

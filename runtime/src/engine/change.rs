//! What one region tells the others: a [`Change`] (every key one transaction
//! wrote, under one dot and one causal context) and the [`KeyState`]s of a
//! snapshot, in the form they take on the wire.
//!
//! These are plain data with conversions to and from keyspace [`Value`]s;
//! deciding what a change does to a key is `replica`'s job, and framing and
//! encoding is the replication transport's.

use std::cell::RefCell;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::clock::{RegionId, Stamp};
use crate::crdt::{Pos, SeqOp, VersionVector};
use crate::docs::Document;
use crate::keyspace::{HashValue, ListValue, SetValue, SortedSet, Value, blob};

/// Every key one transaction wrote in region `origin`, tagged with the dot
/// `(origin, stamp)`.
///
/// `ctx` is what the writer had seen when it wrote: the version vector of
/// changes applied in its region (its own included, up to `stamp`). A change
/// replaces, on each key it names, exactly the versions `ctx` covers and
/// nothing else — that is what makes DEL and SET observed-remove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The writing region.
    pub origin: RegionId,
    /// Its HLC stamp: the change's position in `origin`'s log and the
    /// last-writer-wins order of the versions it creates.
    pub stamp: Stamp,
    /// What the writer had seen.
    pub ctx: VersionVector,
    /// One operation per key (or a flush, or a publish).
    pub ops: Vec<KeyOp>,
}

/// One thing a [`Change`] does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KeyOp {
    /// The key now holds `value` (expiring at `expire_at`, Unix ms, 0 = never).
    Put {
        /// The key.
        key: ByteBuf,
        /// Its new value.
        value: WireValue,
        /// Its absolute expiry.
        expire_at: u64,
    },
    /// Additive updates (INCRBY, SADD, HSET, HINCRBY…), applied in order.
    /// Unlike a put a delta replaces nothing, so concurrent ones all take
    /// effect; `expire_at` is the key's expiry when it was made (these
    /// commands keep the TTL).
    Delta {
        /// The key.
        key: ByteBuf,
        /// What was done, in order.
        ops: Vec<DeltaOp>,
        /// The key's absolute expiry at the time.
        expire_at: u64,
    },
    /// The key was deleted.
    Del {
        /// The key.
        key: ByteBuf,
    },
    /// FLUSHALL: every key's versions covered by the context go.
    Flush,
    /// PUBLISH: delivered to the receiving region's subscribers.
    Publish {
        /// The channel.
        channel: ByteBuf,
        /// The message.
        message: ByteBuf,
    },
}

impl Change {
    /// The change in its wire and log form (MessagePack), in one allocation
    /// of its exact size: every local write pays for this, and a growing
    /// `Vec` would reallocate several times for a small one.
    pub fn encode(&self) -> Result<Bytes, rmp_serde::encode::Error> {
        thread_local! {
            static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        SCRATCH.with_borrow_mut(|buf| {
            buf.clear();
            rmp_serde::encode::write(buf, self)?;
            let bytes = Bytes::copy_from_slice(buf);
            // A huge change (a large value) does not pin its buffer.
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            Ok(bytes)
        })
    }
}

impl KeyOp {
    /// The key this op writes, if it writes one.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            KeyOp::Put { key, .. } | KeyOp::Delta { key, .. } | KeyOp::Del { key } => Some(key),
            KeyOp::Flush | KeyOp::Publish { .. } => None,
        }
    }
}

/// One additive update (see [`KeyOp::Delta`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeltaOp {
    /// INCRBY/DECRBY on a string holding an integer.
    Incr(i64),
    /// SADD of these members.
    SetAdd(Vec<ByteBuf>),
    /// HSET/HSETNX of these fields.
    HashSet(Vec<(ByteBuf, ByteBuf)>),
    /// HINCRBY of a field.
    HashIncr(ByteBuf, i64),
    /// ZADD: these members now have these scores.
    ZSetScore(Vec<(ByteBuf, f64)>),
    /// ZINCRBY (or ZADD INCR) of a member.
    ZIncr(ByteBuf, f64),
    /// A `DOC.*` edit: one automerge change. Merged by automerge, which is
    /// commutative and idempotent, so the order deltas are applied in does
    /// not matter for documents.
    DocChange(ByteBuf),
    /// INCRBYFLOAT on a string holding a number.
    IncrFloat(f64),
    /// HINCRBYFLOAT of a field.
    HashIncrFloat(ByteBuf, f64),
    /// A list edit (push, pop, LINSERT, LSET, LREM, LTRIM, LMOVE…) as
    /// element operations addressed by position (`crdt::sequence`).
    List(SeqOp),
}

/// A key's value on the wire. Collections travel whole: a write to a
/// collection makes the key's new version, as a string write does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireValue {
    /// A string.
    Str(ByteBuf),
    /// Field-value pairs.
    Hash(Vec<(ByteBuf, ByteBuf)>),
    /// Members.
    Set(Vec<ByteBuf>),
    /// Member-score pairs.
    ZSet(Vec<(ByteBuf, f64)>),
    /// Elements, head first.
    List(Vec<ByteBuf>),
    /// A document: automerge's save format (content and history).
    Doc(ByteBuf),
    /// A list whose elements carry explicit positions (a replicated list's
    /// collapsed base), head first. Only versions travel in this form.
    PosList(Vec<(Pos, ByteBuf)>),
}

fn buf(b: &[u8]) -> ByteBuf {
    ByteBuf::from(b.to_vec())
}

impl WireValue {
    /// The wire form of `value`.
    pub fn of(value: &Value) -> WireValue {
        match value {
            Value::Str(s) => WireValue::Str(buf(s)),
            Value::Hash(h) => {
                WireValue::Hash(h.iter().map(|f| (buf(&f.name), buf(&f.value))).collect())
            }
            Value::Set(s) => WireValue::Set(s.iter().map(|m| buf(m)).collect()),
            Value::ZSet(z) => WireValue::ZSet(z.iter().map(|(m, s)| (buf(m), s)).collect()),
            Value::List(l) => WireValue::List(l.iter().map(|e| buf(e)).collect()),
            Value::Doc(d) => WireValue::Doc(ByteBuf::from(d.save())),
        }
    }

    /// The keyspace value this stands for. NaN scores (which no region can
    /// produce) are dropped rather than stored.
    pub fn into_value(self) -> Value {
        match self {
            WireValue::Str(s) => Value::Str(blob(&s)),
            WireValue::Hash(fields) => {
                let mut h = HashValue::default();
                for (name, value) in fields {
                    h.set(&name, &value);
                }
                Value::Hash(Box::new(h))
            }
            WireValue::Set(members) => {
                let mut s = SetValue::default();
                for m in members {
                    s.insert(&m);
                }
                Value::Set(Box::new(s))
            }
            WireValue::ZSet(members) => {
                let mut z = SortedSet::default();
                for (m, score) in members {
                    if !score.is_nan() {
                        z.insert(&m, score);
                    }
                }
                Value::ZSet(Box::new(z))
            }
            WireValue::List(elements) => {
                let mut l = ListValue::default();
                for e in elements {
                    l.push_back(&e);
                }
                Value::List(Box::new(l))
            }
            WireValue::PosList(elements) => {
                let mut l = ListValue::default();
                for (_, e) in elements {
                    l.push_back(&e);
                }
                Value::List(Box::new(l))
            }
            WireValue::Doc(bytes) => {
                Value::Doc(Box::new(Document::load(&bytes).unwrap_or_else(|e| {
                    // A peer runs the same code; only a bug or a damaged
                    // frame gets here. The key stays a (empty) document.
                    tracing::error!(error = %e, "undecodable document from a peer");
                    Document::new()
                })))
            }
        }
    }
}

/// One version of a key: a value written by the dot `(region, stamp)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireVersion {
    /// Writing region.
    pub region: RegionId,
    /// Its stamp.
    pub stamp: Stamp,
    /// The value.
    pub value: WireValue,
    /// Absolute expiry of this version (0 = never).
    pub expire_at: u64,
    /// Set when the version is a delta (`value` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Vec<DeltaOp>>,
}

/// A key's whole replicated state, as a snapshot sends it: its live versions
/// (usually one) and what its region knows was removed beyond the
/// snapshot's version vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// The key.
    pub key: ByteBuf,
    /// Live versions; empty if only removals are known.
    pub versions: Vec<WireVersion>,
    /// Removals known beyond the snapshot's vector.
    pub cloud: VersionVector,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_survives_the_wire_form() {
        let mut h = HashValue::default();
        h.set(b"f", b"v");
        let mut s = SetValue::default();
        s.insert(b"m");
        let mut z = SortedSet::default();
        z.insert(b"a", 1.5);
        let mut l = ListValue::default();
        l.push_back(b"x");
        l.push_back(b"y");
        let mut d = Document::new();
        d.edit(&crate::docs::Edit::Set {
            path: crate::docs::Path::root(),
            value: serde_json::json!({"a": [1, "x"], "b": {"c": null}}),
        })
        .expect("edit");
        for v in [
            Value::Str(blob(b"hello")),
            Value::Hash(Box::new(h)),
            Value::Set(Box::new(s)),
            Value::ZSet(Box::new(z)),
            Value::List(Box::new(l)),
            Value::Doc(Box::new(d)),
        ] {
            let wire = WireValue::of(&v);
            let bytes = rmp_serde::to_vec(&wire).expect("encode");
            let back: WireValue = rmp_serde::from_slice(&bytes).expect("decode");
            assert_eq!(back, wire);
            let again = back.into_value();
            match (&again, &v) {
                // A document's bytes need not repeat (actors differ), its
                // content must.
                (Value::Doc(a), Value::Doc(b)) => assert_eq!(a.to_json(), b.to_json()),
                _ => assert_eq!(WireValue::of(&again), wire),
            }
        }
    }
}

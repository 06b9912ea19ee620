//! Keyspace fingerprints (DEBUG DIGEST, DEBUG DIGEST-VALUE): one SHA-1 value
//! that two regions can compare to tell whether they hold the same data,
//! without shipping the data itself.
//!
//! A key's digest covers its name, its value's kind, the value's contents in
//! canonical form, and its absolute expiry (`expire_at`, 0 when it has none).
//! It leaves out what differs between regions holding the same data: the
//! per-write metadata kept for conflict resolution and eviction (`stamp`,
//! `region`, `lfu`, `lru`), and the order in which a dict happens to keep
//! keys, fields or members.
//!
//! The construction follows Redis's (`debug.c`), built from two steps:
//! - *xor*: `d ^= SHA1(part)` — order-independent, so keys, hash fields, set
//!   members and sorted-set members are each digested alone and XORed in;
//! - *mix*: `d = SHA1(d ^ SHA1(part))` — order-dependent, for the parts of one
//!   element and for list elements. Each part is hashed on its own, so
//!   `("ab", "c")` and `("a", "bc")` differ.
//!
//! Sorted-set scores enter as the shortest text that reads back to the same
//! `f64` (as ZSCORE replies; `-0` is already stored as `0`), so equal scores
//! always digest alike. The values are not Redis's own digests (Redis mixes in
//! numeric type codes and the database number, and marks only *whether* a key
//! expires): compare Meridian with Meridian.
//!
//! Keys whose TTL has passed count as absent even before they are collected,
//! as every read sees them. Outside MULTI the walk locks one shard at a time,
//! so writes landing meanwhile may be seen in some shards and not in others:
//! compare quiescent regions, or digest inside MULTI/EXEC, which holds every
//! shard.

use std::fmt;
use std::ops::BitXorAssign;

use sha1::{Digest as _, Sha1};

use super::number::format_f64;
use super::{EngineResult, Txn};
use crate::keyspace::{Entry, Value};

/// A 20-byte SHA-1 fingerprint; shown as 40 lowercase hex digits, as Redis
/// replies it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Digest(pub [u8; 20]);

impl Digest {
    /// The digest of nothing: an empty keyspace, a missing key.
    pub const ZERO: Digest = Digest([0; 20]);

    /// `self ^= SHA1(part)`: order-independent, for keys and for the
    /// elements of unordered collections.
    fn xor(&mut self, part: &[u8]) {
        *self ^= Digest(Sha1::digest(part).into());
    }

    /// `self = SHA1(self ^ SHA1(part))`: order-dependent, for the parts of
    /// one element and for list elements.
    fn mix(&mut self, part: &[u8]) {
        self.xor(part);
        self.0 = Sha1::digest(self.0).into();
    }
}

impl BitXorAssign for Digest {
    fn bitxor_assign(&mut self, other: Digest) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a ^= b;
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Hex, like `Display`: a byte array in a failed assertion is unreadable.
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// The digest of one element made of ordered parts (a hash field and its
/// value, a member and its score), ready to be XORed into its collection's.
fn element(parts: &[&[u8]]) -> Digest {
    let mut d = Digest::ZERO;
    for p in parts {
        d.mix(p);
    }
    d
}

/// The digest of a value and its expiry, without the key's name (DEBUG
/// DIGEST-VALUE: the same value under two names digests alike).
fn value_digest(value: &Value, expire_at: u64) -> Digest {
    let mut d = Digest::ZERO;
    // The kind keeps a one-member set apart from a one-element list.
    d.mix(value.kind().name().as_bytes());
    match value {
        Value::Str(s) => d.mix(s),
        Value::Hash(h) => {
            let mut fields = Digest::ZERO;
            for f in h.iter() {
                fields ^= element(&[&f.name[..], &f.value[..]]);
            }
            d.mix(&fields.0);
        }
        Value::Set(s) => {
            let mut members = Digest::ZERO;
            for m in s.iter() {
                members.xor(m);
            }
            d.mix(&members.0);
        }
        Value::ZSet(z) => {
            let mut members = Digest::ZERO;
            for (m, score) in z.iter() {
                members ^= element(&[m, format_f64(score).as_bytes()]);
            }
            d.mix(&members.0);
        }
        Value::List(l) => {
            for e in l.iter() {
                d.mix(e);
            }
        }
        // The content, not the history: regions that merged the same
        // changes hold them under different actors and in different orders.
        Value::Doc(doc) => d.mix(doc.to_json().to_string().as_bytes()),
    }
    d.mix(&expire_at.to_be_bytes());
    d
}

/// The digest of a stored key: its name, then its value and expiry. Reads
/// no other field of the entry (see the module docs).
fn entry_digest(entry: &Entry) -> Digest {
    let mut d = Digest::ZERO;
    d.mix(&entry.key);
    d.mix(&value_digest(&entry.value, entry.expire_at).0);
    d
}

impl Txn<'_> {
    /// DEBUG DIGEST: the XOR of the digests of every live key (name, value,
    /// expiry); [`Digest::ZERO`] for an empty keyspace. Walks the shards
    /// through the transaction, so it also works inside one that holds them
    /// all, where locking a shard again would deadlock.
    pub fn digest(&mut self) -> EngineResult<Digest> {
        let now = self.now_ms();
        let mut total = Digest::ZERO;
        self.for_each_shard(|_, s| {
            for e in s.dict().iter().filter(|e| !e.is_expired(now)) {
                total ^= entry_digest(e);
            }
        })?;
        Ok(total)
    }

    /// DEBUG DIGEST-VALUE: the digest of the value and expiry of `key`
    /// (not its name), or [`Digest::ZERO`] if it is missing. Looks without
    /// touching, so comparing regions does not change what eviction picks.
    pub fn digest_value(&mut self, key: &[u8]) -> EngineResult<Digest> {
        Ok(self
            .peek(key)?
            .map_or(Digest::ZERO, |e| value_digest(&e.value, e.expire_at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{RegionId, Stamp};
    use crate::engine::Engine;
    use crate::engine::lists::End;
    use crate::engine::zsets::ZAddOptions;
    use crate::keyspace::{Blob, blob};

    /// Far enough ahead that no test sees it pass.
    const LATER: u64 = 4_000_000_000_000;

    fn engine(region: u16) -> Engine {
        Engine::new(RegionId(region), 4)
    }

    fn digest(e: &Engine) -> Digest {
        e.txn_none().digest().unwrap()
    }

    /// One key of each kind, written field by field in the given order.
    fn fill(e: &Engine, order: &[usize]) {
        let mut t = e.txn_all();
        for &i in order {
            match i {
                0 => t.put(b"s", Value::Str(blob(b"v")), 0).unwrap(),
                1 => {
                    t.hset(b"h", [(&b"f1"[..], &b"a"[..])]).unwrap();
                }
                2 => {
                    t.hset(b"h", [(&b"f2"[..], &b"b"[..])]).unwrap();
                }
                3 => {
                    t.sadd(b"set", [&b"x"[..]]).unwrap();
                }
                4 => {
                    t.sadd(b"set", [&b"y"[..], &b"z"[..]]).unwrap();
                }
                5 => {
                    let opts = ZAddOptions::default();
                    t.zadd(b"z", &opts, &[(1.5, &b"m"[..])]).unwrap();
                }
                6 => {
                    let opts = ZAddOptions::default();
                    t.zadd(b"z", &opts, &[(-2.0, &b"n"[..])]).unwrap();
                }
                7 => {
                    t.list_push(b"l", End::Right, [&b"1"[..], &b"2"[..]], false)
                        .unwrap();
                }
                8 => {
                    t.put(b"ttl", Value::Str(blob(b"t")), LATER).unwrap();
                }
                _ => unreachable!(),
            }
        }
    }

    #[test]
    fn an_empty_keyspace_digests_to_zero() {
        let e = engine(1);
        assert_eq!(digest(&e), Digest::ZERO);
        assert_eq!(digest(&e).to_string(), "0".repeat(40));
        assert_eq!(
            e.txn_one(b"nope").digest_value(b"nope").unwrap(),
            Digest::ZERO
        );
    }

    #[test]
    fn insertion_order_and_region_do_not_matter() {
        let (a, b) = (engine(1), engine(2));
        fill(&a, &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        fill(&b, &[8, 7, 6, 5, 4, 3, 2, 1, 0]);
        let d = digest(&a);
        assert_ne!(d, Digest::ZERO);
        assert_eq!(d, digest(&b));
        assert_eq!(d.to_string().len(), 40);
        // Reads refresh LRU/LFU stats; the digest must not see them.
        let mut t = a.txn_all();
        for k in [&b"s"[..], b"h", b"set", b"z", b"l"] {
            t.touch(k).unwrap();
        }
        drop(t);
        assert_eq!(digest(&a), d);
    }

    #[test]
    fn element_order_does_not_matter() {
        let (a, b) = (engine(1), engine(1));
        let names: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        let (mut ta, mut tb) = (a.txn_all(), b.txn_all());
        for n in &names {
            ta.sadd(b"set", [n.as_bytes()]).unwrap();
            ta.hset(b"h", [(n.as_bytes(), &b"v"[..])]).unwrap();
        }
        for n in names.iter().rev() {
            tb.sadd(b"set", [n.as_bytes()]).unwrap();
            tb.hset(b"h", [(n.as_bytes(), &b"v"[..])]).unwrap();
        }
        let order = |t: &mut Txn<'_>| -> Vec<Blob> {
            let Some(Value::Set(s)) = t.peek(b"set").unwrap().map(|e| &e.value) else {
                panic!("no set");
            };
            s.iter().cloned().collect()
        };
        // Otherwise this test would prove nothing.
        assert_ne!(order(&mut ta), order(&mut tb));
        assert_eq!(ta.digest().unwrap(), tb.digest().unwrap());
    }

    #[test]
    fn write_metadata_is_left_out() {
        let value = Value::Str(blob(b"v"));
        let one = Entry::new(blob(b"k"), value.clone(), Stamp(1), RegionId(1), 0);
        let mut other = Entry::new(blob(b"k"), value, Stamp(99 << 16), RegionId(7), 5_000);
        other.lfu = 200;
        other.lru = 12_345;
        assert_eq!(entry_digest(&one), entry_digest(&other));
    }

    #[test]
    fn values_names_kinds_and_expiry_all_count() {
        let str_value = |v: &[u8]| Value::Str(blob(v));
        let base = value_digest(&str_value(b"v"), 0);
        assert_ne!(base, value_digest(&str_value(b"w"), 0));
        assert_ne!(base, value_digest(&str_value(b"v"), LATER));
        assert_ne!(
            value_digest(&str_value(b"v"), LATER),
            value_digest(&str_value(b"v"), LATER + 1)
        );
        let entry = |k: &[u8]| Entry::new(blob(k), str_value(b"v"), Stamp(1), RegionId(1), 0);
        assert_ne!(entry_digest(&entry(b"a")), entry_digest(&entry(b"b")));

        // The same bytes as a string, a set and a list.
        let e = engine(1);
        let mut t = e.txn_all();
        t.put(b"s", str_value(b"x"), 0).unwrap();
        t.sadd(b"set", [&b"x"[..]]).unwrap();
        t.list_push(b"l", End::Left, [&b"x"[..]], false).unwrap();
        let kinds = [&b"s"[..], b"set", b"l"].map(|k| t.digest_value(k).unwrap());
        assert_ne!(kinds[0], kinds[1]);
        assert_ne!(kinds[1], kinds[2]);
        assert_ne!(kinds[0], kinds[2]);
    }

    #[test]
    fn element_boundaries_list_order_and_scores_count() {
        let e = engine(1);
        let mut t = e.txn_all();
        let opts = ZAddOptions::default();
        t.hset(b"h1", [(&b"ab"[..], &b"c"[..])]).unwrap();
        t.hset(b"h2", [(&b"a"[..], &b"bc"[..])]).unwrap();
        t.list_push(b"l1", End::Right, [&b"a"[..], &b"b"[..]], false)
            .unwrap();
        t.list_push(b"l2", End::Right, [&b"b"[..], &b"a"[..]], false)
            .unwrap();
        t.zadd(b"z1", &opts, &[(1.0, &b"m"[..])]).unwrap();
        t.zadd(b"z2", &opts, &[(1.000_000_000_000_000_2, &b"m"[..])])
            .unwrap();
        t.zadd(b"z3", &opts, &[(-0.0, &b"m"[..])]).unwrap();
        t.zadd(b"z4", &opts, &[(0.0, &b"m"[..])]).unwrap();
        let mut d = |k: &[u8]| t.digest_value(k).unwrap();
        assert_ne!(d(b"h1"), d(b"h2"));
        assert_ne!(d(b"l1"), d(b"l2"));
        assert_ne!(d(b"z1"), d(b"z2"));
        // -0 is stored as 0 (see SortedSet), so they are one score.
        assert_eq!(d(b"z3"), d(b"z4"));
    }

    #[test]
    fn expired_keys_are_absent() {
        let e = engine(1);
        let mut t = e.txn_all();
        t.put(b"live", Value::Str(blob(b"v")), 0).unwrap();
        let alone = t.digest().unwrap();
        // Past its deadline but not yet collected.
        t.put(b"gone", Value::Str(blob(b"v")), 1).unwrap();
        assert_eq!(t.digest().unwrap(), alone);
        assert_eq!(t.digest_value(b"gone").unwrap(), Digest::ZERO);
    }

    #[test]
    fn the_keyspace_digest_is_the_xor_of_its_keys() {
        let e = engine(1);
        fill(&e, &[0, 3, 7]);
        let mut t = e.txn_all();
        let mut expected = Digest::ZERO;
        for key in [&b"s"[..], b"set", b"l"] {
            let entry = t.peek(key).unwrap().unwrap().clone();
            expected ^= entry_digest(&entry);
        }
        assert_eq!(t.digest().unwrap(), expected);
    }
}

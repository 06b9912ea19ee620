//! Keyspace digests: compare two servers' (two regions') data through RESP.
//!
//! [`keyspace_dump`] reads every key of the connection's database with SCAN
//! and a canonical dump of its value, in which the order a server happens to
//! keep elements in does not show (hash fields and set members are sorted;
//! sorted sets and lists are already ordered by their definition). Of a key's
//! expiry it keeps only whether there is one, because the remaining
//! milliseconds differ between any two reads. [`keyspace_digest`] hashes that
//! dump in key order into one `u64`, so a convergence test can compare regions
//! cheaply and print the dumps only when they differ.
//!
//! The dump is meant for a quiescent keyspace: a key that disappears while it
//! is read (expired, deleted) is left out rather than reported half-read.

use std::collections::{BTreeMap, BTreeSet};

use redis::{Connection, ErrorKind, RedisResult};

/// A key's value in canonical form.
#[derive(Clone, Debug, PartialEq)]
pub enum Dump {
    /// GET.
    String(Vec<u8>),
    /// HGETALL, sorted by field.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// SMEMBERS, sorted.
    Set(Vec<Vec<u8>>),
    /// ZRANGE 0 -1 WITHSCORES: by score, then member.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// LRANGE 0 -1.
    List(Vec<Vec<u8>>),
    /// DOC.GET: the document's JSON (keys sorted by the server).
    Document(Vec<u8>),
}

/// A key's value and whether it has an expiry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Dump,
    pub expiring: bool,
}

/// Every key of the connection's current database, dumped canonically.
pub fn keyspace_dump(conn: &mut Connection) -> RedisResult<BTreeMap<Vec<u8>, Entry>> {
    // SCAN may return a key more than once; a set both dedupes and sorts.
    let mut keys = BTreeSet::new();
    let mut cursor = String::from("0");
    loop {
        let (next, batch): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(1000)
            .query(conn)?;
        keys.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let mut dump = BTreeMap::new();
    for key in keys {
        if let Some(entry) = dump_key(conn, &key)? {
            dump.insert(key, entry);
        }
    }
    Ok(dump)
}

/// One key's entry, or `None` if it is gone.
fn dump_key(conn: &mut Connection, key: &[u8]) -> RedisResult<Option<Entry>> {
    let kind: String = redis::cmd("TYPE").arg(key).query(conn)?;
    // Servers delete a collection when its last element goes, so an empty
    // one read here means the key vanished between TYPE and the read.
    let value = match kind.as_str() {
        "none" => return Ok(None),
        "string" => {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(key).query(conn)?;
            match v {
                Some(v) => Dump::String(v),
                None => return Ok(None),
            }
        }
        "hash" => {
            let mut v: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL").arg(key).query(conn)?;
            if v.is_empty() {
                return Ok(None);
            }
            v.sort();
            Dump::Hash(v)
        }
        "set" => {
            let mut v: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(key).query(conn)?;
            if v.is_empty() {
                return Ok(None);
            }
            v.sort();
            Dump::Set(v)
        }
        "zset" => {
            let v: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(conn)?;
            if v.is_empty() {
                return Ok(None);
            }
            Dump::ZSet(v)
        }
        "list" => {
            let v: Vec<Vec<u8>> = redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(conn)?;
            if v.is_empty() {
                return Ok(None);
            }
            Dump::List(v)
        }
        "document" => {
            let v: Option<Vec<u8>> = redis::cmd("DOC.GET").arg(key).query(conn)?;
            match v {
                Some(v) => Dump::Document(v),
                None => return Ok(None),
            }
        }
        // Refuse rather than skip: a digest that ignored a type would let
        // diverged regions compare equal.
        other => {
            return Err((
                ErrorKind::UnexpectedReturnType,
                "keyspace_dump cannot dump this type",
                other.to_string(),
            )
                .into());
        }
    };
    let pttl: i64 = redis::cmd("PTTL").arg(key).query(conn)?;
    if pttl == -2 {
        return Ok(None);
    }
    Ok(Some(Entry {
        value,
        expiring: pttl >= 0,
    }))
}

/// A digest of the connection's current database; equal keyspaces give equal
/// digests whatever order their writes came in. Panics if the server cannot
/// be read (see [`try_keyspace_digest`]).
pub fn keyspace_digest(conn: &mut Connection) -> u64 {
    match try_keyspace_digest(conn) {
        Ok(d) => d,
        Err(e) => panic!("keyspace digest: {e}"),
    }
}

/// [`keyspace_digest`], reporting errors instead of panicking.
pub fn try_keyspace_digest(conn: &mut Connection) -> RedisResult<u64> {
    Ok(digest_of(&keyspace_dump(conn)?))
}

/// The digest of a dump from [`keyspace_dump`].
///
/// FNV-1a over a length-prefixed encoding: stable across runs, builds and
/// platforms (unlike `DefaultHasher`), so a digest can be logged and compared
/// with one from another process; the prefixes keep `["ab"]` and `["a","b"]`
/// apart.
pub fn digest_of(dump: &BTreeMap<Vec<u8>, Entry>) -> u64 {
    let mut h = Fnv::new();
    for (key, entry) in dump {
        h.bytes(key);
        h.write(&[u8::from(entry.expiring)]);
        match &entry.value {
            Dump::String(v) => {
                h.write(b"s");
                h.bytes(v);
            }
            Dump::Hash(pairs) => {
                h.write(b"h");
                h.len(pairs.len());
                for (f, v) in pairs {
                    h.bytes(f);
                    h.bytes(v);
                }
            }
            Dump::Set(members) => {
                h.write(b"S");
                h.len(members.len());
                for m in members {
                    h.bytes(m);
                }
            }
            Dump::ZSet(pairs) => {
                h.write(b"z");
                h.len(pairs.len());
                for (m, score) in pairs {
                    h.bytes(m);
                    h.write(&score.to_bits().to_le_bytes());
                }
            }
            Dump::List(items) => {
                h.write(b"l");
                h.len(items.len());
                for i in items {
                    h.bytes(i);
                }
            }
            Dump::Document(json) => {
                h.write(b"d");
                h.bytes(json);
            }
        }
    }
    h.0
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn len(&mut self, n: usize) {
        self.write(&(n as u64).to_le_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.write(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TestServer;

    /// The same data on both servers, written in different orders (keys,
    /// hash fields, set and zset members), plus an expiring key.
    fn write_forward(conn: &mut Connection) {
        let _: () = redis::cmd("SET").arg("s").arg("v").query(conn).unwrap();
        let _: () = redis::cmd("HSET")
            .arg("h")
            .arg("f1")
            .arg("a")
            .arg("f2")
            .arg("b")
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("SADD")
            .arg("set")
            .arg("x")
            .arg("y")
            .arg("z")
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("ZADD")
            .arg("z")
            .arg(1.5)
            .arg("m1")
            .arg(2)
            .arg("m2")
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("RPUSH")
            .arg("l")
            .arg("1")
            .arg("2")
            .arg("3")
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg("exp")
            .arg("e")
            .arg("EX")
            .arg(1000)
            .query(conn)
            .unwrap();
    }

    fn write_backward(conn: &mut Connection) {
        let _: () = redis::cmd("SET")
            .arg("exp")
            .arg("e")
            .arg("PX")
            .arg(999_000)
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("LPUSH")
            .arg("l")
            .arg("3")
            .arg("2")
            .arg("1")
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("ZADD")
            .arg("z")
            .arg(2)
            .arg("m2")
            .arg(1.5)
            .arg("m1")
            .query(conn)
            .unwrap();
        for m in ["z", "y", "x"] {
            let _: () = redis::cmd("SADD").arg("set").arg(m).query(conn).unwrap();
        }
        let _: () = redis::cmd("HSET")
            .arg("h")
            .arg("f2")
            .arg("b")
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("HSET")
            .arg("h")
            .arg("f1")
            .arg("a")
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("SET").arg("s").arg("old").query(conn).unwrap();
        let _: () = redis::cmd("SET").arg("s").arg("v").query(conn).unwrap();
    }

    #[test]
    fn same_writes_in_different_orders_digest_equal() {
        let a = TestServer::start();
        let b = TestServer::start();
        let (mut ca, mut cb) = (a.conn(), b.conn());
        write_forward(&mut ca);
        write_backward(&mut cb);
        let dump = keyspace_dump(&mut ca).unwrap();
        assert_eq!(dump, keyspace_dump(&mut cb).unwrap());
        assert_eq!(dump.len(), 6);
        assert!(dump[&b"exp"[..]].expiring);
        assert!(!dump[&b"s"[..]].expiring);
        assert_eq!(keyspace_digest(&mut ca), keyspace_digest(&mut cb));
        // RESP3 replies (maps, sets, doubles) dump the same as RESP2 ones.
        assert_eq!(keyspace_digest(&mut a.conn3()), keyspace_digest(&mut ca));
    }

    #[test]
    fn a_differing_value_changes_the_digest() {
        let a = TestServer::start();
        let b = TestServer::start();
        let (mut ca, mut cb) = (a.conn(), b.conn());
        write_forward(&mut ca);
        write_forward(&mut cb);
        let same = keyspace_digest(&mut ca);
        assert_eq!(same, keyspace_digest(&mut cb));

        // One score of one member: a different digest; put back: equal.
        let zadd = |conn: &mut Connection, score: f64| {
            let _: () = redis::cmd("ZADD")
                .arg("z")
                .arg(score)
                .arg("m1")
                .query(conn)
                .unwrap();
        };
        zadd(&mut cb, 3.0);
        assert_ne!(keyspace_digest(&mut ca), keyspace_digest(&mut cb));
        zadd(&mut cb, 1.5);
        assert_eq!(keyspace_digest(&mut ca), keyspace_digest(&mut cb));

        // Losing an expiry is a difference too, and so is an extra key,
        // even an empty string.
        let _: () = redis::cmd("PERSIST").arg("exp").query(&mut ca).unwrap();
        assert_ne!(keyspace_digest(&mut ca), keyspace_digest(&mut cb));
        let _: () = redis::cmd("PERSIST").arg("exp").query(&mut cb).unwrap();
        assert_eq!(keyspace_digest(&mut ca), keyspace_digest(&mut cb));
        let _: () = redis::cmd("SET")
            .arg("extra")
            .arg("")
            .query(&mut ca)
            .unwrap();
        assert_ne!(keyspace_digest(&mut ca), keyspace_digest(&mut cb));
    }

    #[test]
    fn empty_keyspaces_digest_equal() {
        let a = TestServer::start();
        let b = TestServer::start();
        assert_eq!(
            keyspace_digest(&mut a.conn()),
            keyspace_digest(&mut b.conn())
        );
        assert!(keyspace_dump(&mut a.conn()).unwrap().is_empty());
    }
}

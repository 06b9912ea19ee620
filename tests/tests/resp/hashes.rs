//! Hash commands against Redis 7 behaviour: replies (RESP2 and RESP3), exact
//! error lines, random fields, HSCAN, and keys deleted when emptied.

use std::collections::{HashMap, HashSet};

use meridian_tests::TestServer;
use meridian_tests::call::{WRONGTYPE, err, ok};
use redis::{Connection, Value};

/// True if `key` no longer exists: GET answers nil (a hash would be WRONGTYPE).
fn gone(c: &mut Connection, key: &str) -> bool {
    ok::<Option<String>>(c, &["GET", key]).is_none()
}

#[test]
fn hset_hget_and_friends() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(ok::<i64>(&mut c, &["HSET", "h", "a", "1", "b", "2"]), 2);
    // Overwrites count as not added; new fields do.
    assert_eq!(ok::<i64>(&mut c, &["HSET", "h", "a", "10", "c", "3"]), 1);
    assert_eq!(ok::<String>(&mut c, &["HGET", "h", "a"]), "10");
    assert_eq!(ok::<Option<String>>(&mut c, &["HGET", "h", "zz"]), None);
    assert_eq!(ok::<Option<String>>(&mut c, &["HGET", "nokey", "a"]), None);
    assert_eq!(
        ok::<String>(&mut c, &["HMSET", "h", "d", "4", "e", "5"]),
        "OK"
    );
    assert_eq!(ok::<i64>(&mut c, &["HLEN", "h"]), 5);
    assert_eq!(ok::<i64>(&mut c, &["HLEN", "nokey"]), 0);
    assert_eq!(ok::<i64>(&mut c, &["HSETNX", "h", "a", "x"]), 0);
    assert_eq!(ok::<String>(&mut c, &["HGET", "h", "a"]), "10");
    assert_eq!(ok::<i64>(&mut c, &["HSETNX", "h", "f", "6"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["HSETNX", "new", "f", "v"]), 1);
    assert_eq!(ok::<String>(&mut c, &["HGET", "new", "f"]), "v");
    assert_eq!(ok::<i64>(&mut c, &["HEXISTS", "h", "a"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["HEXISTS", "h", "zz"]), 0);
    assert_eq!(ok::<i64>(&mut c, &["HEXISTS", "nokey", "a"]), 0);
    assert_eq!(ok::<i64>(&mut c, &["HSTRLEN", "h", "a"]), 2);
    assert_eq!(ok::<i64>(&mut c, &["HSTRLEN", "h", "zz"]), 0);
    assert_eq!(ok::<i64>(&mut c, &["HSTRLEN", "nokey", "a"]), 0);
    assert_eq!(
        ok::<Vec<Option<String>>>(&mut c, &["HMGET", "h", "a", "zz", "b"]),
        vec![Some("10".into()), None, Some("2".into())]
    );
    assert_eq!(
        ok::<Vec<Option<String>>>(&mut c, &["HMGET", "nokey", "a", "b"]),
        vec![None, None]
    );
    // Binary-safe fields and values, and values longer than the inline size.
    let long = "x".repeat(100);
    assert_eq!(ok::<i64>(&mut c, &["HSET", "h", "", &long]), 1);
    assert_eq!(ok::<String>(&mut c, &["HGET", "h", ""]), long);
    assert_eq!(ok::<i64>(&mut c, &["HSTRLEN", "h", ""]), 100);
}

#[test]
fn hgetall_hkeys_hvals() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<i64>(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    let all: HashMap<String, String> = ok(&mut c, &["HGETALL", "h"]);
    let want: HashMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(all, want);
    // RESP2: a flat array of field, value, … with each value after its field.
    let flat: Vec<String> = ok(&mut c, &["HGETALL", "h"]);
    assert_eq!(flat.len(), 6);
    for pair in flat.chunks(2) {
        assert_eq!(want[&pair[0]], pair[1]);
    }
    let mut keys: Vec<String> = ok(&mut c, &["HKEYS", "h"]);
    keys.sort();
    assert_eq!(keys, ["a", "b", "c"]);
    let mut vals: Vec<String> = ok(&mut c, &["HVALS", "h"]);
    vals.sort();
    assert_eq!(vals, ["1", "2", "3"]);
    // HKEYS and HVALS walk the hash in the same order.
    let keys: Vec<String> = ok(&mut c, &["HKEYS", "h"]);
    let vals: Vec<String> = ok(&mut c, &["HVALS", "h"]);
    for (k, v) in keys.iter().zip(&vals) {
        assert_eq!(&want[k], v);
    }
    assert!(ok::<Vec<String>>(&mut c, &["HKEYS", "nokey"]).is_empty());
    assert!(ok::<Vec<String>>(&mut c, &["HVALS", "nokey"]).is_empty());
    assert!(ok::<Vec<String>>(&mut c, &["HGETALL", "nokey"]).is_empty());
}

#[test]
fn resp3_reply_types() {
    let s = TestServer::start();
    let mut c = s.conn3();
    ok::<i64>(&mut c, &["HSET", "h", "a", "1"]);
    match ok::<Value>(&mut c, &["HGETALL", "h"]) {
        Value::Map(m) => {
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].0, Value::BulkString(b"a".to_vec()));
            assert_eq!(m[0].1, Value::BulkString(b"1".to_vec()));
        }
        other => panic!("HGETALL should be a map: {other:?}"),
    }
    assert_eq!(
        ok::<Value>(&mut c, &["HGETALL", "nokey"]),
        Value::Map(vec![])
    );
    assert_eq!(ok::<Value>(&mut c, &["HGET", "h", "zz"]), Value::Nil);
    assert_eq!(
        ok::<Value>(&mut c, &["HMGET", "h", "a", "zz"]),
        Value::Array(vec![Value::BulkString(b"1".to_vec()), Value::Nil])
    );
    // WITHVALUES in RESP3 is an array of [field, value] pairs.
    let pair = Value::Array(vec![
        Value::BulkString(b"a".to_vec()),
        Value::BulkString(b"1".to_vec()),
    ]);
    assert_eq!(
        ok::<Value>(&mut c, &["HRANDFIELD", "h", "-2", "WITHVALUES"]),
        Value::Array(vec![pair.clone(), pair])
    );
    assert_eq!(ok::<Value>(&mut c, &["HRANDFIELD", "nokey"]), Value::Nil);
    assert_eq!(
        ok::<Value>(&mut c, &["HRANDFIELD", "nokey", "3"]),
        Value::Array(vec![])
    );
    assert_eq!(
        ok::<Value>(&mut c, &["HINCRBYFLOAT", "h", "f", "1.5"]),
        Value::BulkString(b"1.5".to_vec())
    );
    assert_eq!(
        ok::<Value>(&mut c, &["HSCAN", "h", "0", "MATCH", "a"]),
        Value::Array(vec![
            Value::BulkString(b"0".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"a".to_vec()),
                Value::BulkString(b"1".to_vec()),
            ]),
        ])
    );
}

#[test]
fn hdel_deletes_the_key_with_its_last_field() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<i64>(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(ok::<i64>(&mut c, &["HDEL", "h", "a", "zz"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["HDEL", "h", "a"]), 0);
    assert_eq!(ok::<i64>(&mut c, &["HDEL", "nokey", "a"]), 0);
    assert_eq!(ok::<i64>(&mut c, &["HLEN", "h"]), 2);
    assert_eq!(ok::<i64>(&mut c, &["HDEL", "h", "b", "c", "b"]), 2);
    assert_eq!(ok::<i64>(&mut c, &["HLEN", "h"]), 0);
    assert!(gone(&mut c, "h"));
    // The name is free for another type.
    assert_eq!(ok::<i64>(&mut c, &["SADD", "h", "m"]), 1);
    assert_eq!(err(&mut c, &["HGET", "h", "a"]), WRONGTYPE);
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(ok::<i64>(&mut c, &["HINCRBY", "h", "n", "5"]), 5);
    assert_eq!(ok::<i64>(&mut c, &["HINCRBY", "h", "n", "-7"]), -2);
    assert_eq!(ok::<String>(&mut c, &["HGET", "h", "n"]), "-2");
    ok::<i64>(&mut c, &["HSET", "h", "s", "abc", "f", "1.5", "sp", " 1"]);
    ok::<i64>(&mut c, &["HSET", "h", "max", "9223372036854775807"]);
    for field in ["s", "f", "sp"] {
        assert_eq!(
            err(&mut c, &["HINCRBY", "h", field, "1"]),
            "ERR hash value is not an integer"
        );
    }
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "max", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "n", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "n", "1.5"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        ok::<String>(&mut c, &["HINCRBYFLOAT", "h", "f", "1"]),
        "2.5"
    );
    assert_eq!(
        ok::<String>(&mut c, &["HINCRBYFLOAT", "h", "f", "1.0e3"]),
        "1002.5"
    );
    assert_eq!(
        ok::<String>(&mut c, &["HINCRBYFLOAT", "h", "n", "0.5"]),
        "-1.5"
    );
    assert_eq!(ok::<String>(&mut c, &["HINCRBYFLOAT", "h", "g", "3"]), "3");
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "s", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "sp", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "x"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "nan"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "inf"]),
        "ERR value is NaN or Infinity"
    );
    ok::<i64>(&mut c, &["HSET", "h", "inf", "inf"]);
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "inf", "1"]),
        "ERR increment would produce NaN or Infinity"
    );
    // A failed increment leaves the value alone and creates nothing.
    assert_eq!(ok::<String>(&mut c, &["HGET", "h", "s"]), "abc");
    assert_eq!(
        err(&mut c, &["HINCRBY", "fresh", "n", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert!(gone(&mut c, "fresh"));
}

#[test]
fn hrandfield_counts() {
    let s = TestServer::start();
    let mut c = s.conn();
    let fields: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    for f in &fields {
        ok::<i64>(&mut c, &["HSET", "h", f, &format!("v{}", &f[1..])]);
    }
    let all: HashSet<String> = fields.iter().cloned().collect();
    let one: String = ok(&mut c, &["HRANDFIELD", "h"]);
    assert!(all.contains(&one));
    assert_eq!(ok::<Option<String>>(&mut c, &["HRANDFIELD", "nokey"]), None);
    // Positive counts: distinct fields, at most all of them (small and large
    // fractions of the hash take different paths).
    for n in [1usize, 5, 15, 20, 50] {
        let got: Vec<String> = ok(&mut c, &["HRANDFIELD", "h", &n.to_string()]);
        assert_eq!(got.len(), n.min(20), "count {n}");
        let uniq: HashSet<String> = got.iter().cloned().collect();
        assert_eq!(uniq.len(), got.len(), "count {n} repeated a field");
        assert!(uniq.is_subset(&all));
    }
    assert!(ok::<Vec<String>>(&mut c, &["HRANDFIELD", "h", "0"]).is_empty());
    // Negative counts: exactly |count| draws, repeats allowed.
    let got: Vec<String> = ok(&mut c, &["HRANDFIELD", "h", "-100"]);
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|f| all.contains(f)));
    assert!(got.iter().collect::<HashSet<_>>().len() < 100);
    // WITHVALUES in RESP2: flat field, value pairs that belong together.
    let got: Vec<String> = ok(&mut c, &["HRANDFIELD", "h", "-7", "withvalues"]);
    assert_eq!(got.len(), 14);
    for p in got.chunks(2) {
        assert_eq!(p[1], format!("v{}", &p[0][1..]));
    }
    let got: Vec<String> = ok(&mut c, &["HRANDFIELD", "h", "30", "WITHVALUES"]);
    assert_eq!(got.len(), 40);
    assert!(ok::<Vec<String>>(&mut c, &["HRANDFIELD", "nokey", "-5", "WITHVALUES"]).is_empty());
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "1", "foo"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(
            &mut c,
            &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
    assert_eq!(
        err(
            &mut c,
            &["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
    // A count that would build an absurd reply is refused, not attempted.
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "-9223372036854775807"]),
        "ERR value is out of range"
    );
    assert_eq!(ok::<String>(&mut c, &["PING"]), "PONG");
}

#[test]
fn hscan_walks_every_field() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..500 {
        ok::<i64>(&mut c, &["HSET", "h", &format!("f{i}"), &i.to_string()]);
    }
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) =
            ok(&mut c, &["HSCAN", "h", &cursor, "COUNT", "20"]);
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        calls += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1, "COUNT should page the walk");
    assert_eq!(seen.len(), 500);
    assert!(seen.iter().all(|(f, v)| f[1..] == **v));

    // MATCH filters fields; NOVALUES drops the values.
    let mut matched = HashSet::new();
    let mut novalues = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) = ok(
            &mut c,
            &["HSCAN", "h", &cursor, "MATCH", "f4?", "COUNT", "50"],
        );
        assert_eq!(items.len() % 2, 0);
        matched.extend(items.chunks(2).map(|p| p[0].clone()));
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    loop {
        let (next, items): (String, Vec<String>) =
            ok(&mut c, &["HSCAN", "h", &cursor, "NOVALUES", "MATCH", "f4?"]);
        novalues.extend(items);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    let want: HashSet<String> = (40..50).map(|i| format!("f{i}")).collect();
    assert_eq!(matched, want);
    assert_eq!(novalues, want);

    // A huge COUNT returns everything in one step.
    let (next, items): (String, Vec<String>) =
        ok(&mut c, &["HSCAN", "h", "0", "COUNT", "9223372036854775807"]);
    assert_eq!((next.as_str(), items.len()), ("0", 1000));
    let empty: (String, Vec<String>) = ok(&mut c, &["HSCAN", "nokey", "0"]);
    assert_eq!(empty, ("0".to_string(), vec![]));
    assert_eq!(err(&mut c, &["HSCAN", "h", "x"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "18446744073709551616"]),
        "ERR invalid cursor"
    );
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "COUNT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "MATCH"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "FOO", "1"]),
        "ERR syntax error"
    );
    // As Redis: the key is looked up before the options are read.
    let empty: (String, Vec<String>) = ok(&mut c, &["HSCAN", "nokey", "0", "FOO"]);
    assert_eq!(empty, ("0".to_string(), vec![]));
}

#[test]
fn wrong_type_and_arity() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<String>(&mut c, &["SET", "str", "v"]);
    let cmds: &[&[&str]] = &[
        &["HSET", "str", "a", "1"],
        &["HMSET", "str", "a", "1"],
        &["HSETNX", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HGETALL", "str"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HDEL", "str", "a"],
        &["HEXISTS", "str", "a"],
        &["HLEN", "str"],
        &["HSTRLEN", "str", "a"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2", "WITHVALUES"],
        &["HSCAN", "str", "0"],
        &["HSCAN", "str", "0", "FOO"],
    ];
    for cmd in cmds {
        assert_eq!(err(&mut c, cmd), WRONGTYPE, "{cmd:?}");
    }
    assert_eq!(ok::<String>(&mut c, &["GET", "str"]), "v");

    let arity = |name: &str| format!("ERR wrong number of arguments for '{name}' command");
    assert_eq!(err(&mut c, &["HSET", "h", "a"]), arity("hset"));
    assert_eq!(err(&mut c, &["HSET", "h", "a", "1", "b"]), arity("hset"));
    assert_eq!(err(&mut c, &["HMSET", "h", "a", "1", "b"]), arity("hmset"));
    assert_eq!(err(&mut c, &["HSETNX", "h", "a"]), arity("hsetnx"));
    assert_eq!(err(&mut c, &["HGET", "h"]), arity("hget"));
    assert_eq!(err(&mut c, &["HMGET", "h"]), arity("hmget"));
    assert_eq!(err(&mut c, &["HGETALL", "h", "x"]), arity("hgetall"));
    assert_eq!(err(&mut c, &["HDEL", "h"]), arity("hdel"));
    assert_eq!(err(&mut c, &["HLEN"]), arity("hlen"));
    assert_eq!(err(&mut c, &["HINCRBY", "h", "a"]), arity("hincrby"));
    assert_eq!(err(&mut c, &["HRANDFIELD"]), arity("hrandfield"));
    assert_eq!(err(&mut c, &["HSCAN", "h"]), arity("hscan"));
    // A rejected HSET created nothing.
    assert!(gone(&mut c, "h"));
}

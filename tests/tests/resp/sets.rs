//! Set commands against Redis 7 behaviour: membership, random members, SMOVE,
//! the set algebra and its STORE forms, SINTERCARD, SSCAN, RESP3 reply types,
//! exact error lines, and keys deleted when emptied.

use std::collections::HashSet;

use meridian_tests::TestServer;
use meridian_tests::call::{WRONGTYPE, err, ok};
use redis::{Connection, Value};

/// The members of `key`, as a set.
fn members(c: &mut Connection, key: &str) -> HashSet<String> {
    ok(c, &["SMEMBERS", key])
}

fn set_of(items: &[&str]) -> HashSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// True if `key` no longer exists: GET answers nil (a set would be WRONGTYPE).
fn gone(c: &mut Connection, key: &str) -> bool {
    ok::<Option<String>>(c, &["GET", key]).is_none()
}

#[test]
fn membership() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(ok::<i64>(&mut c, &["SADD", "s", "a", "b", "c", "a"]), 3);
    assert_eq!(ok::<i64>(&mut c, &["SADD", "s", "a", "d"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["SCARD", "s"]), 4);
    assert_eq!(ok::<i64>(&mut c, &["SCARD", "nokey"]), 0);
    assert_eq!(members(&mut c, "s"), set_of(&["a", "b", "c", "d"]));
    assert!(members(&mut c, "nokey").is_empty());
    assert_eq!(ok::<i64>(&mut c, &["SISMEMBER", "s", "a"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["SISMEMBER", "s", "zz"]), 0);
    assert_eq!(ok::<i64>(&mut c, &["SISMEMBER", "nokey", "a"]), 0);
    assert_eq!(
        ok::<Vec<i64>>(&mut c, &["SMISMEMBER", "s", "a", "zz", "d"]),
        [1, 0, 1]
    );
    assert_eq!(
        ok::<Vec<i64>>(&mut c, &["SMISMEMBER", "nokey", "a", "b"]),
        [0, 0]
    );
    assert_eq!(ok::<i64>(&mut c, &["SREM", "s", "a", "zz", "a"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["SREM", "nokey", "a"]), 0);
    assert_eq!(members(&mut c, "s"), set_of(&["b", "c", "d"]));
    // Binary-safe, long members.
    let long = "m".repeat(200);
    assert_eq!(ok::<i64>(&mut c, &["SADD", "s", "", &long]), 2);
    assert_eq!(ok::<i64>(&mut c, &["SISMEMBER", "s", &long]), 1);
    assert_eq!(ok::<i64>(&mut c, &["SISMEMBER", "s", ""]), 1);
}

#[test]
fn emptied_sets_disappear() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<i64>(&mut c, &["SADD", "s", "a", "b"]);
    assert_eq!(ok::<i64>(&mut c, &["SREM", "s", "a", "b"]), 2);
    assert!(gone(&mut c, "s"));
    assert_eq!(ok::<i64>(&mut c, &["HSET", "s", "f", "v"]), 1);

    ok::<i64>(&mut c, &["SADD", "p", "a"]);
    assert_eq!(ok::<String>(&mut c, &["SPOP", "p"]), "a");
    assert!(gone(&mut c, "p"));
    assert_eq!(ok::<Option<String>>(&mut c, &["SPOP", "p"]), None);

    ok::<i64>(&mut c, &["SADD", "pc", "a", "b", "c"]);
    let popped: HashSet<String> = ok(&mut c, &["SPOP", "pc", "10"]);
    assert_eq!(popped, set_of(&["a", "b", "c"]));
    assert!(gone(&mut c, "pc"));

    ok::<i64>(&mut c, &["SADD", "m", "a"]);
    assert_eq!(ok::<i64>(&mut c, &["SMOVE", "m", "dst", "a"]), 1);
    assert!(gone(&mut c, "m"));
    assert_eq!(members(&mut c, "dst"), set_of(&["a"]));
    assert_eq!(ok::<String>(&mut c, &["SET", "m", "now a string"]), "OK");
}

#[test]
fn spop_and_srandmember() {
    let s = TestServer::start();
    let mut c = s.conn();
    let all: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    let mut add = vec!["SADD", "s"];
    add.extend(all.iter().map(|s| s.as_str()));
    ok::<i64>(&mut c, &add);
    let all: HashSet<String> = all.into_iter().collect();

    let one: String = ok(&mut c, &["SRANDMEMBER", "s"]);
    assert!(all.contains(&one));
    assert_eq!(ok::<i64>(&mut c, &["SCARD", "s"]), 30);
    assert_eq!(
        ok::<Option<String>>(&mut c, &["SRANDMEMBER", "nokey"]),
        None
    );
    for n in [1usize, 5, 20, 30, 100] {
        let got: Vec<String> = ok(&mut c, &["SRANDMEMBER", "s", &n.to_string()]);
        assert_eq!(got.len(), n.min(30), "count {n}");
        let uniq: HashSet<String> = got.iter().cloned().collect();
        assert_eq!(uniq.len(), got.len(), "count {n} repeated a member");
        assert!(uniq.is_subset(&all));
    }
    assert!(ok::<Vec<String>>(&mut c, &["SRANDMEMBER", "s", "0"]).is_empty());
    let got: Vec<String> = ok(&mut c, &["SRANDMEMBER", "s", "-200"]);
    assert_eq!(got.len(), 200);
    assert!(got.iter().all(|m| all.contains(m)));
    assert!(ok::<Vec<String>>(&mut c, &["SRANDMEMBER", "nokey", "-3"]).is_empty());

    let popped: Vec<String> = ok(&mut c, &["SPOP", "s", "4"]);
    assert_eq!(popped.len(), 4);
    assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 4);
    assert_eq!(ok::<i64>(&mut c, &["SCARD", "s"]), 26);
    for m in &popped {
        assert_eq!(ok::<i64>(&mut c, &["SISMEMBER", "s", m]), 0);
    }
    let single: String = ok(&mut c, &["SPOP", "s"]);
    assert!(all.contains(&single) && !popped.contains(&single));
    assert_eq!(ok::<i64>(&mut c, &["SCARD", "s"]), 25);
    assert!(ok::<Vec<String>>(&mut c, &["SPOP", "s", "0"]).is_empty());
    assert!(ok::<Vec<String>>(&mut c, &["SPOP", "nokey", "3"]).is_empty());

    let must_be_positive = "ERR value is out of range, must be positive";
    assert_eq!(err(&mut c, &["SPOP", "s", "-1"]), must_be_positive);
    assert_eq!(err(&mut c, &["SPOP", "s", "x"]), must_be_positive);
    assert_eq!(err(&mut c, &["SPOP", "s", "1", "2"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "1", "2"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775807"]),
        "ERR value is out of range"
    );
}

#[test]
fn smove_semantics() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<i64>(&mut c, &["SADD", "src", "a", "b"]);
    ok::<i64>(&mut c, &["SADD", "dst", "b"]);
    assert_eq!(ok::<i64>(&mut c, &["SMOVE", "src", "dst", "a"]), 1);
    assert_eq!(members(&mut c, "src"), set_of(&["b"]));
    assert_eq!(members(&mut c, "dst"), set_of(&["a", "b"]));
    // Already in the destination: still moved out of the source.
    assert_eq!(ok::<i64>(&mut c, &["SMOVE", "src", "dst", "b"]), 1);
    assert!(gone(&mut c, "src"));
    assert_eq!(ok::<i64>(&mut c, &["SMOVE", "dst", "dst", "a"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["SMOVE", "dst", "dst", "zz"]), 0);
    assert_eq!(members(&mut c, "dst"), set_of(&["a", "b"]));
    assert_eq!(ok::<i64>(&mut c, &["SMOVE", "dst", "other", "zz"]), 0);
    assert!(gone(&mut c, "other"));
    assert_eq!(ok::<i64>(&mut c, &["SMOVE", "nokey", "dst", "a"]), 0);

    ok::<String>(&mut c, &["SET", "str", "v"]);
    assert_eq!(err(&mut c, &["SMOVE", "dst", "str", "a"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SMOVE", "dst", "str", "zz"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SMOVE", "str", "dst", "a"]), WRONGTYPE);
    // A missing source answers 0 before the destination's type is checked.
    assert_eq!(ok::<i64>(&mut c, &["SMOVE", "nokey", "str", "a"]), 0);
    assert_eq!(members(&mut c, "dst"), set_of(&["a", "b"]));
}

#[test]
fn set_algebra() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<i64>(&mut c, &["SADD", "x", "1", "2", "3", "4"]);
    ok::<i64>(&mut c, &["SADD", "y", "3", "4", "5"]);
    ok::<i64>(&mut c, &["SADD", "z", "4", "5", "6"]);
    let q3 = |c: &mut Connection, w: &[&str]| -> HashSet<String> { ok(c, w) };
    assert_eq!(q3(&mut c, &["SINTER", "x", "y"]), set_of(&["3", "4"]));
    assert_eq!(q3(&mut c, &["SINTER", "x", "y", "z"]), set_of(&["4"]));
    assert_eq!(q3(&mut c, &["SINTER", "x"]), set_of(&["1", "2", "3", "4"]));
    assert_eq!(
        q3(&mut c, &["SINTER", "x", "x"]),
        set_of(&["1", "2", "3", "4"])
    );
    assert!(q3(&mut c, &["SINTER", "x", "nokey"]).is_empty());
    assert_eq!(
        q3(&mut c, &["SUNION", "x", "y", "nokey", "z"]),
        set_of(&["1", "2", "3", "4", "5", "6"])
    );
    assert!(q3(&mut c, &["SUNION", "nokey"]).is_empty());
    assert_eq!(q3(&mut c, &["SDIFF", "x", "y"]), set_of(&["1", "2"]));
    assert_eq!(q3(&mut c, &["SDIFF", "x", "y", "z"]), set_of(&["1", "2"]));
    assert_eq!(
        q3(&mut c, &["SDIFF", "x", "nokey"]),
        set_of(&["1", "2", "3", "4"])
    );
    assert!(q3(&mut c, &["SDIFF", "nokey", "x"]).is_empty());
    assert!(q3(&mut c, &["SDIFF", "x", "x"]).is_empty());
    // The sources are untouched.
    assert_eq!(members(&mut c, "x"), set_of(&["1", "2", "3", "4"]));

    assert_eq!(ok::<i64>(&mut c, &["SINTERCARD", "2", "x", "y"]), 2);
    assert_eq!(ok::<i64>(&mut c, &["SINTERCARD", "3", "x", "y", "z"]), 1);
    assert_eq!(
        ok::<i64>(&mut c, &["SINTERCARD", "2", "x", "y", "LIMIT", "1"]),
        1
    );
    assert_eq!(
        ok::<i64>(&mut c, &["SINTERCARD", "2", "x", "y", "limit", "0"]),
        2
    );
    assert_eq!(
        ok::<i64>(&mut c, &["SINTERCARD", "2", "x", "y", "LIMIT", "9"]),
        2
    );
    assert_eq!(ok::<i64>(&mut c, &["SINTERCARD", "1", "x"]), 4);
    assert_eq!(ok::<i64>(&mut c, &["SINTERCARD", "2", "x", "nokey"]), 0);
    // The last LIMIT wins, as in Redis.
    assert_eq!(
        ok::<i64>(
            &mut c,
            &["SINTERCARD", "1", "x", "LIMIT", "1", "LIMIT", "3"]
        ),
        3
    );
}

#[test]
fn store_forms() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<i64>(&mut c, &["SADD", "x", "1", "2", "3"]);
    ok::<i64>(&mut c, &["SADD", "y", "2", "3", "4"]);
    assert_eq!(ok::<i64>(&mut c, &["SINTERSTORE", "d", "x", "y"]), 2);
    assert_eq!(members(&mut c, "d"), set_of(&["2", "3"]));
    assert_eq!(ok::<i64>(&mut c, &["SUNIONSTORE", "d", "x", "y"]), 4);
    assert_eq!(members(&mut c, "d"), set_of(&["1", "2", "3", "4"]));
    assert_eq!(ok::<i64>(&mut c, &["SDIFFSTORE", "d", "x", "y"]), 1);
    assert_eq!(members(&mut c, "d"), set_of(&["1"]));
    // The destination may be a source.
    assert_eq!(ok::<i64>(&mut c, &["SUNIONSTORE", "x", "x", "y"]), 4);
    assert_eq!(members(&mut c, "x"), set_of(&["1", "2", "3", "4"]));
    assert_eq!(ok::<i64>(&mut c, &["SDIFFSTORE", "x", "x", "y"]), 1);
    assert_eq!(members(&mut c, "x"), set_of(&["1"]));

    // A destination of another type, with a TTL, is replaced outright.
    ok::<String>(&mut c, &["SET", "str", "v", "PX", "200"]);
    assert_eq!(ok::<i64>(&mut c, &["SUNIONSTORE", "str", "y"]), 3);
    assert_eq!(members(&mut c, "str"), set_of(&["2", "3", "4"]));
    // The old TTL went with the old value.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(members(&mut c, "str"), set_of(&["2", "3", "4"]));

    // An empty result deletes the destination.
    ok::<String>(&mut c, &["SET", "s2", "v"]);
    assert_eq!(ok::<i64>(&mut c, &["SINTERSTORE", "s2", "x", "nokey"]), 0);
    assert!(gone(&mut c, "s2"));
    ok::<i64>(&mut c, &["SADD", "d", "q"]);
    assert_eq!(ok::<i64>(&mut c, &["SDIFFSTORE", "d", "y", "y"]), 0);
    assert!(gone(&mut c, "d"));
    assert_eq!(ok::<i64>(&mut c, &["SUNIONSTORE", "d", "nokey"]), 0);
    assert!(gone(&mut c, "d"));

    // A wrong-typed source fails and leaves the destination alone.
    ok::<i64>(&mut c, &["SADD", "keep", "k"]);
    ok::<i64>(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(
        err(&mut c, &["SINTERSTORE", "keep", "nokey", "h"]),
        WRONGTYPE
    );
    assert_eq!(err(&mut c, &["SUNIONSTORE", "keep", "y", "h"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SDIFFSTORE", "keep", "y", "h"]), WRONGTYPE);
    assert_eq!(members(&mut c, "keep"), set_of(&["k"]));
}

#[test]
fn sintercard_argument_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<i64>(&mut c, &["SADD", "s", "a", "b", "c"]);
    let positive = "ERR numkeys should be greater than 0";
    assert_eq!(err(&mut c, &["SINTERCARD", "0", "s"]), positive);
    assert_eq!(err(&mut c, &["SINTERCARD", "-1", "s"]), positive);
    assert_eq!(err(&mut c, &["SINTERCARD", "x", "s"]), positive);
    assert_eq!(
        err(&mut c, &["SINTERCARD", "3", "s"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "9223372036854775807", "s"]),
        "ERR Number of keys can't be greater than number of args"
    );
    let negative = "ERR LIMIT can't be negative";
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1", "s", "LIMIT", "-1"]),
        negative
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1", "s", "LIMIT", "x"]),
        negative
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1", "s", "LIMIT"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1", "s", "foo"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1"]),
        "ERR wrong number of arguments for 'sintercard' command"
    );
}

#[test]
fn sscan_walks_every_member() {
    let s = TestServer::start();
    let mut c = s.conn();
    for chunk in (0..600).collect::<Vec<_>>().chunks(100) {
        let names: Vec<String> = chunk.iter().map(|i| format!("m{i}")).collect();
        let mut cmd = vec!["SADD", "s"];
        cmd.extend(names.iter().map(|s| s.as_str()));
        ok::<i64>(&mut c, &cmd);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) =
            ok(&mut c, &["SSCAN", "s", &cursor, "COUNT", "25"]);
        seen.extend(items);
        calls += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1);
    assert_eq!(seen.len(), 600);

    let mut matched = HashSet::new();
    loop {
        let (next, items): (String, Vec<String>) =
            ok(&mut c, &["SSCAN", "s", &cursor, "MATCH", "m1?"]);
        matched.extend(items);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(matched, (10..20).map(|i| format!("m{i}")).collect());

    let empty: (String, Vec<String>) = ok(&mut c, &["SSCAN", "nokey", "0"]);
    assert_eq!(empty, ("0".to_string(), vec![]));
    assert_eq!(err(&mut c, &["SSCAN", "s", "x"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["SSCAN", "s", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    // NOVALUES belongs to HSCAN only.
    assert_eq!(
        err(&mut c, &["SSCAN", "s", "0", "NOVALUES"]),
        "ERR syntax error"
    );
}

#[test]
fn resp3_reply_types() {
    let s = TestServer::start();
    let mut c = s.conn3();
    ok::<i64>(&mut c, &["SADD", "s", "a"]);
    ok::<i64>(&mut c, &["SADD", "t", "a", "b"]);
    let one = Value::Set(vec![Value::BulkString(b"a".to_vec())]);
    assert_eq!(ok::<Value>(&mut c, &["SMEMBERS", "s"]), one);
    assert_eq!(
        ok::<Value>(&mut c, &["SMEMBERS", "nokey"]),
        Value::Set(vec![])
    );
    assert_eq!(ok::<Value>(&mut c, &["SINTER", "s", "t"]), one);
    assert_eq!(
        ok::<Value>(&mut c, &["SDIFF", "t", "nokey", "t"]),
        Value::Set(vec![])
    );
    assert!(matches!(ok::<Value>(&mut c, &["SUNION", "s", "t"]), Value::Set(v) if v.len() == 2));
    // SRANDMEMBER with a count may repeat, so it is an array; SPOP's is a set.
    assert_eq!(
        ok::<Value>(&mut c, &["SRANDMEMBER", "s", "-2"]),
        Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"a".to_vec())
        ])
    );
    assert_eq!(
        ok::<Value>(&mut c, &["SRANDMEMBER", "nokey", "2"]),
        Value::Array(vec![])
    );
    assert_eq!(
        ok::<Value>(&mut c, &["SPOP", "nokey", "2"]),
        Value::Set(vec![])
    );
    assert_eq!(ok::<Value>(&mut c, &["SPOP", "s", "5"]), one);
    assert_eq!(ok::<Value>(&mut c, &["SPOP", "s"]), Value::Nil);
    assert_eq!(
        ok::<Value>(&mut c, &["SMISMEMBER", "t", "a", "z"]),
        Value::Array(vec![Value::Int(1), Value::Int(0)])
    );
}

#[test]
fn wrong_type_and_arity() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok::<String>(&mut c, &["SET", "str", "v"]);
    ok::<i64>(&mut c, &["SADD", "s", "a"]);
    let cmds: &[&[&str]] = &[
        &["SADD", "str", "a"],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "0"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "-3"],
        &["SINTER", "s", "str"],
        // Every key is type-checked, even after a missing one.
        &["SINTER", "nokey", "str"],
        &["SUNION", "s", "str"],
        &["SDIFF", "s", "str"],
        &["SDIFF", "nokey", "str"],
        &["SDIFF", "str", "nokey"],
        &["SINTERCARD", "2", "nokey", "str"],
        &["SSCAN", "str", "0"],
        &["SSCAN", "str", "0", "FOO"],
    ];
    for cmd in cmds {
        assert_eq!(err(&mut c, cmd), WRONGTYPE, "{cmd:?}");
    }
    assert_eq!(ok::<String>(&mut c, &["GET", "str"]), "v");

    let arity = |name: &str| format!("ERR wrong number of arguments for '{name}' command");
    assert_eq!(err(&mut c, &["SADD", "s"]), arity("sadd"));
    assert_eq!(err(&mut c, &["SREM", "s"]), arity("srem"));
    assert_eq!(err(&mut c, &["SMEMBERS"]), arity("smembers"));
    assert_eq!(err(&mut c, &["SISMEMBER", "s"]), arity("sismember"));
    assert_eq!(err(&mut c, &["SMISMEMBER", "s"]), arity("smismember"));
    assert_eq!(err(&mut c, &["SCARD", "s", "x"]), arity("scard"));
    assert_eq!(err(&mut c, &["SPOP"]), arity("spop"));
    assert_eq!(err(&mut c, &["SMOVE", "s", "d"]), arity("smove"));
    assert_eq!(err(&mut c, &["SINTER"]), arity("sinter"));
    assert_eq!(err(&mut c, &["SINTERSTORE", "d"]), arity("sinterstore"));
    assert_eq!(err(&mut c, &["SSCAN", "s"]), arity("sscan"));
}

#[test]
fn stored_results_stay_editable() {
    // Results of the algebra are built by copying members; removing those
    // copies later must keep the memory accounting sound.
    let s = TestServer::start();
    let mut c = s.conn();
    let long: Vec<String> = (0..40).map(|i| format!("{i:0>40}")).collect();
    let mut add = vec!["SADD", "x"];
    add.extend(long.iter().map(|m| m.as_str()));
    ok::<i64>(&mut c, &add);
    ok::<i64>(&mut c, &["SADD", "y", &long[0], &long[1]]);
    for (cmd, n) in [("SINTERSTORE", 2), ("SUNIONSTORE", 40), ("SDIFFSTORE", 38)] {
        assert_eq!(ok::<i64>(&mut c, &[cmd, "d", "x", "y"]), n);
        let members: Vec<String> = ok(&mut c, &["SMEMBERS", "d"]);
        for m in &members {
            assert_eq!(ok::<i64>(&mut c, &["SREM", "d", m]), 1);
        }
        assert!(gone(&mut c, "d"));
    }
    ok::<i64>(&mut c, &["SADD", "z", "1"]);
    assert_eq!(ok::<i64>(&mut c, &["SUNIONSTORE", "d", "x", "z"]), 41);
    assert_eq!(ok::<Vec<String>>(&mut c, &["SPOP", "d", "40"]).len(), 40);
    assert_eq!(ok::<i64>(&mut c, &["SCARD", "d"]), 1);
}

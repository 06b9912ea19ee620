//! OBJECT, MEMORY USAGE and COPY. Expected values are what Redis 7.0
//! answers for the same values (encodings under its default thresholds).

use meridian_tests::TestServer;
use meridian_tests::call::{err, ok};
use redis::Connection;

fn encoding(c: &mut Connection, key: &str) -> Option<String> {
    ok(c, &["OBJECT", "ENCODING", key])
}

#[test]
fn object_encoding_names_redis_encodings() {
    let s = TestServer::start();
    let mut c = s.conn();
    let x44 = "x".repeat(44);
    let x45 = "x".repeat(45);
    let x65 = "x".repeat(65);
    for (k, v, want) in [
        ("a", "123", "int"),
        ("b", "abc", "embstr"),
        ("c", x45.as_str(), "raw"),
        ("d", "00123", "embstr"),
        ("e", "-0", "embstr"),
        ("f", "12345678901234567890", "embstr"),
        ("g", x44.as_str(), "embstr"),
    ] {
        let _: () = ok(&mut c, &["SET", k, v]);
        assert_eq!(encoding(&mut c, k).as_deref(), Some(want), "{k}={v}");
    }
    let _: i64 = ok(&mut c, &["RPUSH", "l", "a"]);
    let _: i64 = ok(&mut c, &["SADD", "s", "1", "2"]);
    let _: i64 = ok(&mut c, &["SADD", "s2", "a"]);
    let _: i64 = ok(&mut c, &["HSET", "h", "a", "b"]);
    let _: i64 = ok(&mut c, &["HSET", "h2", "f", &x65]);
    let _: i64 = ok(&mut c, &["ZADD", "z", "1", "a"]);
    for (k, want) in [
        ("l", "quicklist"),
        ("s", "intset"),
        ("s2", "hashtable"),
        ("h", "listpack"),
        ("h2", "hashtable"),
        ("z", "listpack"),
    ] {
        assert_eq!(encoding(&mut c, k).as_deref(), Some(want), "{k}");
    }
    // Past 128 members a sorted set is a skiplist, past 512 a set of
    // integers a hashtable.
    let mut zadd = vec!["ZADD".to_string(), "bigz".into()];
    let mut sadd = vec!["SADD".to_string(), "bigs".into()];
    for i in 0..513 {
        zadd.extend([i.to_string(), format!("m{i}")]);
        sadd.push(i.to_string());
    }
    let mut cmd = redis::cmd("ZADD");
    cmd.arg(&zadd[1..]);
    let _: i64 = cmd.query(&mut c).unwrap();
    let mut cmd = redis::cmd("SADD");
    cmd.arg(&sadd[1..]);
    let _: i64 = cmd.query(&mut c).unwrap();
    assert_eq!(encoding(&mut c, "bigz").as_deref(), Some("skiplist"));
    assert_eq!(encoding(&mut c, "bigs").as_deref(), Some("hashtable"));
    assert_eq!(encoding(&mut c, "nope"), None);
}

#[test]
fn object_refcount_idletime_freq_and_help() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["SET", "n", "5000"]);
    let _: () = ok(&mut c, &["SET", "n2", "10000"]);
    let _: () = ok(&mut c, &["SET", "b", "abc"]);
    // Redis shares the integers below 10000.
    assert_eq!(ok::<i64>(&mut c, &["OBJECT", "REFCOUNT", "n"]), 2147483647);
    assert_eq!(ok::<i64>(&mut c, &["OBJECT", "REFCOUNT", "n2"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["OBJECT", "REFCOUNT", "b"]), 1);
    assert_eq!(ok::<i64>(&mut c, &["OBJECT", "IDLETIME", "b"]), 0);
    assert_eq!(
        ok::<Option<i64>>(&mut c, &["OBJECT", "IDLETIME", "nope"]),
        None
    );
    assert_eq!(
        err(&mut c, &["OBJECT", "FREQ", "b"]),
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
    let _: () = ok(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    // New keys start at Redis's initial LFU counter.
    let _: () = ok(&mut c, &["SET", "fresh", "v"]);
    assert_eq!(ok::<i64>(&mut c, &["OBJECT", "FREQ", "fresh"]), 5);
    assert_eq!(
        err(&mut c, &["OBJECT", "IDLETIME", "b"]),
        "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
    let help: Vec<String> = ok(&mut c, &["OBJECT", "HELP"]);
    assert_eq!(
        help[0],
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert_eq!(help.len(), 15);
    assert_eq!(
        err(&mut c, &["OBJECT", "foo", "b"]),
        "ERR unknown subcommand 'foo'. Try OBJECT HELP."
    );
    assert_eq!(
        err(&mut c, &["OBJECT", "ENCODING"]),
        "ERR wrong number of arguments for 'object|encoding' command"
    );
}

#[test]
fn memory_usage_reports_accounted_bytes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["SET", "small", "v"]);
    let _: () = ok(&mut c, &["SET", "big", &"x".repeat(10_000)]);
    let small: i64 = ok(&mut c, &["MEMORY", "USAGE", "small"]);
    let big: i64 = ok(&mut c, &["MEMORY", "USAGE", "big", "SAMPLES", "0"]);
    assert!(small > 0);
    assert!((10_000..10_000 + 1024).contains(&big), "{big}");
    // Growing a value grows its usage.
    let _: i64 = ok(&mut c, &["RPUSH", "l", "a"]);
    let one: i64 = ok(&mut c, &["MEMORY", "USAGE", "l"]);
    let _: i64 = ok(&mut c, &["RPUSH", "l", &"y".repeat(1000)]);
    let two: i64 = ok(&mut c, &["MEMORY", "USAGE", "l"]);
    assert!(two >= one + 1000, "{one} -> {two}");
    assert_eq!(
        ok::<Option<i64>>(&mut c, &["MEMORY", "USAGE", "nope"]),
        None
    );
    assert_eq!(
        err(&mut c, &["MEMORY", "USAGE", "small", "SAMPLES", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["MEMORY", "USAGE", "small", "foo"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["MEMORY", "foo"]),
        "ERR unknown subcommand 'foo'. Try MEMORY HELP."
    );
    assert_eq!(
        err(&mut c, &["MEMORY", "USAGE"]),
        "ERR wrong number of arguments for 'memory|usage' command"
    );
}

#[test]
fn copy_duplicates_values_and_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["SET", "a", "123"]);
    let _: () = ok(&mut c, &["SET", "b", "abc"]);
    assert_eq!(ok::<i64>(&mut c, &["COPY", "a", "a2"]), 1);
    assert_eq!(ok::<String>(&mut c, &["GET", "a2"]), "123");
    assert_eq!(ok::<i64>(&mut c, &["COPY", "a", "b"]), 0);
    assert_eq!(ok::<String>(&mut c, &["GET", "b"]), "abc");
    assert_eq!(
        ok::<i64>(&mut c, &["COPY", "a", "b", "DB", "0", "REPLACE"]),
        1
    );
    assert_eq!(ok::<String>(&mut c, &["GET", "b"]), "123");
    assert_eq!(ok::<i64>(&mut c, &["COPY", "nope", "x"]), 0);
    // A deep copy: changing the copy leaves the source alone.
    let _: i64 = ok(&mut c, &["RPUSH", "l", "1", "2"]);
    let _: () = ok(&mut c, &["PEXPIRE", "l", "100000"]);
    assert_eq!(ok::<i64>(&mut c, &["COPY", "l", "l2"]), 1);
    let _: i64 = ok(&mut c, &["RPUSH", "l2", "3"]);
    assert_eq!(
        ok::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]),
        ["1", "2"]
    );
    assert_eq!(
        ok::<Vec<String>>(&mut c, &["LRANGE", "l2", "0", "-1"]),
        ["1", "2", "3"]
    );
    let ttl: i64 = ok(&mut c, &["PTTL", "l2"]);
    assert!((90_001..=100_000).contains(&ttl), "{ttl}");
    for (words, want) in [
        (
            &["COPY", "a", "a"][..],
            "ERR source and destination objects are the same",
        ),
        (
            &["COPY", "a", "x", "DB", "1"],
            "ERR DB index is out of range",
        ),
        (
            &["COPY", "a", "x", "DB", "x"],
            "ERR value is not an integer or out of range",
        ),
        (&["COPY", "a", "x", "foo"], "ERR syntax error"),
        (&["COPY", "a", "x", "DB"], "ERR syntax error"),
        (
            &["COPY", "a"],
            "ERR wrong number of arguments for 'copy' command",
        ),
    ] {
        assert_eq!(err(&mut c, words), want, "{words:?}");
    }
}

#[test]
fn writes_reset_the_idle_time_as_in_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: i64 = ok(&mut c, &["SADD", "src", "a"]);
    let _: () = ok(&mut c, &["SET", "str", "v"]);
    for (key, write) in [
        ("src", &["SADD", "s", "b"][..]),
        ("str", &["SET", "s", "v2"][..]),
    ] {
        let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut c).unwrap();
        let _: () = redis::cmd("RESTORE")
            .arg("s")
            .arg(0)
            .arg(payload)
            .arg("REPLACE")
            .arg("IDLETIME")
            .arg(1000)
            .query(&mut c)
            .unwrap();
        assert!(ok::<i64>(&mut c, &["OBJECT", "IDLETIME", "s"]) >= 1000);
        let _: redis::Value = ok(&mut c, write);
        assert_eq!(
            ok::<i64>(&mut c, &["OBJECT", "IDLETIME", "s"]),
            0,
            "{write:?}"
        );
    }
}

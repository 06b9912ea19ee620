//! List commands against Redis 7 behaviour, including the blocking pops
//! (served by pushes from other connections, FIFO among waiters, timeouts,
//! disconnects).

use std::thread;
use std::time::{Duration, Instant};

use meridian_tests::{TestServer, eventually};
use redis::{Connection, FromRedisValue, Value};

/// Runs a command given as words; panics with the command on error.
fn run<T: FromRedisValue>(c: &mut Connection, words: &[&str]) -> T {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{words:?} failed: {e}"))
}

/// Runs a command that must fail; returns the whole error line.
fn err(c: &mut Connection, words: &[&str]) -> String {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => panic!("{words:?} succeeded with {v:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

fn strings(c: &mut Connection, words: &[&str]) -> Vec<String> {
    run(c, words)
}

fn all(c: &mut Connection, key: &str) -> Vec<String> {
    strings(c, &["LRANGE", key, "0", "-1"])
}

/// True if `key` does not exist (GET on a list would be WRONGTYPE).
fn gone(c: &mut Connection, key: &str) -> bool {
    run::<Option<String>>(c, &["GET", key]).is_none()
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Number of clients CLIENT LIST shows as blocked (flag `b`).
fn blocked(c: &mut Connection) -> usize {
    let list: String = run(c, &["CLIENT", "LIST"]);
    list.lines().filter(|l| l.contains(" flags=b ")).count()
}

/// Waits until `n` clients are blocked.
fn wait_blocked(c: &mut Connection, n: usize) {
    assert!(
        eventually(Duration::from_secs(10), || blocked(c) == n),
        "expected {n} blocked clients, have {}",
        blocked(c)
    );
}

#[test]
fn push_pop_and_lengths() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(run::<i64>(&mut c, &["LPUSH", "l", "a", "b", "c"]), 3);
    assert_eq!(all(&mut c, "l"), ["c", "b", "a"]);
    assert_eq!(run::<i64>(&mut c, &["RPUSH", "l", "x", "y"]), 5);
    assert_eq!(all(&mut c, "l"), ["c", "b", "a", "x", "y"]);
    assert_eq!(run::<i64>(&mut c, &["LLEN", "l"]), 5);
    assert_eq!(run::<i64>(&mut c, &["LLEN", "missing"]), 0);
    assert_eq!(run::<String>(&mut c, &["LPOP", "l"]), "c");
    assert_eq!(run::<String>(&mut c, &["RPOP", "l"]), "y");
    assert_eq!(strings(&mut c, &["LPOP", "l", "2"]), ["b", "a"]);
    assert_eq!(strings(&mut c, &["RPOP", "l", "10"]), ["x"]);
    // The emptied list is gone.
    assert!(gone(&mut c, "l"));
    assert_eq!(run::<i64>(&mut c, &["LLEN", "l"]), 0);

    // LPUSHX/RPUSHX only touch existing lists.
    assert_eq!(run::<i64>(&mut c, &["LPUSHX", "l", "a"]), 0);
    assert_eq!(run::<i64>(&mut c, &["RPUSHX", "l", "a"]), 0);
    assert!(gone(&mut c, "l"));
    run::<i64>(&mut c, &["RPUSH", "l", "m"]);
    assert_eq!(run::<i64>(&mut c, &["LPUSHX", "l", "a", "b"]), 3);
    assert_eq!(run::<i64>(&mut c, &["RPUSHX", "l", "z"]), 4);
    assert_eq!(all(&mut c, "l"), ["b", "a", "m", "z"]);
}

#[test]
fn pop_count_nil_versus_empty() {
    let s = TestServer::start();
    let mut c = s.conn();
    // No count: nil bulk on a missing key.
    assert_eq!(run::<Value>(&mut c, &["LPOP", "missing"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["RPOP", "missing"]), Value::Nil);
    // A count on a missing key: null array (even count 0).
    assert_eq!(run::<Value>(&mut c, &["LPOP", "missing", "2"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["RPOP", "missing", "0"]), Value::Nil);
    // Count 0 on an existing list: empty array, nothing popped.
    run::<i64>(&mut c, &["RPUSH", "l", "a"]);
    assert_eq!(
        run::<Value>(&mut c, &["LPOP", "l", "0"]),
        Value::Array(vec![])
    );
    assert_eq!(all(&mut c, "l"), ["a"]);
    let msg = "ERR value is out of range, must be positive";
    assert_eq!(err(&mut c, &["LPOP", "l", "-1"]), msg);
    assert_eq!(err(&mut c, &["RPOP", "l", "x"]), msg);
    assert_eq!(
        err(&mut c, &["LPOP", "l", "1", "2"]),
        "ERR wrong number of arguments for 'lpop' command"
    );

    // RESP3: the null array is `_`.
    let mut c3 = s.conn3();
    assert_eq!(run::<Value>(&mut c3, &["LPOP", "missing", "1"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c3, &["LPOP", "missing"]), Value::Nil);
}

#[test]
fn ranges_and_indexes() {
    let s = TestServer::start();
    let mut c = s.conn();
    run::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c", "d", "e"]);
    assert_eq!(strings(&mut c, &["LRANGE", "l", "1", "2"]), ["b", "c"]);
    assert_eq!(strings(&mut c, &["LRANGE", "l", "-2", "-1"]), ["d", "e"]);
    assert_eq!(strings(&mut c, &["LRANGE", "l", "-100", "100"]).len(), 5);
    assert!(strings(&mut c, &["LRANGE", "l", "3", "1"]).is_empty());
    assert!(strings(&mut c, &["LRANGE", "l", "5", "10"]).is_empty());
    assert!(strings(&mut c, &["LRANGE", "l", "-1", "-100"]).is_empty());
    assert!(strings(&mut c, &["LRANGE", "missing", "0", "-1"]).is_empty());
    assert_eq!(
        err(&mut c, &["LRANGE", "l", "x", "1"]),
        "ERR value is not an integer or out of range"
    );

    assert_eq!(run::<String>(&mut c, &["LINDEX", "l", "0"]), "a");
    assert_eq!(run::<String>(&mut c, &["LINDEX", "l", "-1"]), "e");
    assert_eq!(run::<Option<String>>(&mut c, &["LINDEX", "l", "5"]), None);
    assert_eq!(run::<Option<String>>(&mut c, &["LINDEX", "l", "-6"]), None);
    assert_eq!(
        run::<Option<String>>(&mut c, &["LINDEX", "missing", "0"]),
        None
    );
    // Redis looks the key up before the index.
    assert_eq!(
        run::<Option<String>>(&mut c, &["LINDEX", "missing", "x"]),
        None
    );
    assert_eq!(
        err(&mut c, &["LINDEX", "l", "x"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn lset_errors_and_updates() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["LSET", "missing", "0", "x"]),
        "ERR no such key"
    );
    assert_eq!(
        err(&mut c, &["LSET", "missing", "x", "x"]),
        "ERR no such key"
    );
    run::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(run::<String>(&mut c, &["LSET", "l", "0", "A"]), "OK");
    assert_eq!(run::<String>(&mut c, &["LSET", "l", "-1", "C"]), "OK");
    assert_eq!(all(&mut c, "l"), ["A", "b", "C"]);
    assert_eq!(
        err(&mut c, &["LSET", "l", "3", "x"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut c, &["LSET", "l", "-4", "x"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut c, &["LSET", "l", "x", "y"]),
        "ERR value is not an integer or out of range"
    );
    // A long value replaces a short one and back (memory accounting paths).
    let long = "x".repeat(100);
    assert_eq!(run::<String>(&mut c, &["LSET", "l", "1", &long]), "OK");
    assert_eq!(run::<String>(&mut c, &["LINDEX", "l", "1"]), long);
    assert_eq!(run::<String>(&mut c, &["LSET", "l", "1", "b"]), "OK");
    assert_eq!(all(&mut c, "l"), ["A", "b", "C"]);
}

#[test]
fn lrem_counts_both_ways() {
    let s = TestServer::start();
    let mut c = s.conn();
    run::<i64>(&mut c, &["RPUSH", "l", "a", "b", "a", "c", "a"]);
    assert_eq!(run::<i64>(&mut c, &["LREM", "l", "-1", "a"]), 1);
    assert_eq!(all(&mut c, "l"), ["a", "b", "a", "c"]);
    assert_eq!(run::<i64>(&mut c, &["LREM", "l", "1", "a"]), 1);
    assert_eq!(all(&mut c, "l"), ["b", "a", "c"]);
    assert_eq!(run::<i64>(&mut c, &["LREM", "l", "0", "zz"]), 0);
    run::<i64>(&mut c, &["RPUSH", "l", "a", "a"]);
    assert_eq!(run::<i64>(&mut c, &["LREM", "l", "0", "a"]), 3);
    assert_eq!(all(&mut c, "l"), ["b", "c"]);
    assert_eq!(run::<i64>(&mut c, &["LREM", "l", "-5", "b"]), 1);
    assert_eq!(run::<i64>(&mut c, &["LREM", "l", "5", "c"]), 1);
    assert!(gone(&mut c, "l"));
    assert_eq!(run::<i64>(&mut c, &["LREM", "missing", "0", "a"]), 0);
    assert_eq!(
        err(&mut c, &["LREM", "missing", "x", "a"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn ltrim_keeps_a_range() {
    let s = TestServer::start();
    let mut c = s.conn();
    run::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c", "d", "e"]);
    assert_eq!(run::<String>(&mut c, &["LTRIM", "l", "1", "-2"]), "OK");
    assert_eq!(all(&mut c, "l"), ["b", "c", "d"]);
    assert_eq!(run::<String>(&mut c, &["LTRIM", "l", "-100", "1"]), "OK");
    assert_eq!(all(&mut c, "l"), ["b", "c"]);
    assert_eq!(run::<String>(&mut c, &["LTRIM", "l", "0", "100"]), "OK");
    assert_eq!(all(&mut c, "l"), ["b", "c"]);
    // An empty range deletes the key.
    assert_eq!(run::<String>(&mut c, &["LTRIM", "l", "5", "10"]), "OK");
    assert!(gone(&mut c, "l"));
    run::<i64>(&mut c, &["RPUSH", "l", "a", "b"]);
    assert_eq!(run::<String>(&mut c, &["LTRIM", "l", "1", "0"]), "OK");
    assert!(gone(&mut c, "l"));
    assert_eq!(run::<String>(&mut c, &["LTRIM", "missing", "0", "1"]), "OK");
    assert_eq!(
        err(&mut c, &["LTRIM", "missing", "x", "1"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn linsert_before_and_after() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        run::<i64>(&mut c, &["LINSERT", "missing", "BEFORE", "a", "x"]),
        0
    );
    assert!(gone(&mut c, "missing"));
    run::<i64>(&mut c, &["RPUSH", "l", "a", "b", "a"]);
    assert_eq!(run::<i64>(&mut c, &["LINSERT", "l", "before", "a", "x"]), 4);
    assert_eq!(run::<i64>(&mut c, &["LINSERT", "l", "AFTER", "b", "y"]), 5);
    assert_eq!(all(&mut c, "l"), ["x", "a", "b", "y", "a"]);
    assert_eq!(run::<i64>(&mut c, &["LINSERT", "l", "after", "a", "z"]), 6);
    assert_eq!(all(&mut c, "l"), ["x", "a", "z", "b", "y", "a"]);
    assert_eq!(
        run::<i64>(&mut c, &["LINSERT", "l", "before", "nope", "q"]),
        -1
    );
    assert_eq!(
        err(&mut c, &["LINSERT", "l", "middle", "a", "q"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["LINSERT", "missing", "middle", "a", "q"]),
        "ERR syntax error"
    );
}

#[test]
fn lpos_options_and_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    run::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c", "a", "b", "c", "a"]);
    assert_eq!(run::<i64>(&mut c, &["LPOS", "l", "a"]), 0);
    assert_eq!(run::<i64>(&mut c, &["LPOS", "l", "c"]), 2);
    assert_eq!(run::<i64>(&mut c, &["LPOS", "l", "a", "RANK", "2"]), 3);
    assert_eq!(run::<i64>(&mut c, &["LPOS", "l", "a", "RANK", "-1"]), 6);
    assert_eq!(run::<i64>(&mut c, &["LPOS", "l", "b", "RANK", "-2"]), 1);
    assert_eq!(
        run::<Option<i64>>(&mut c, &["LPOS", "l", "a", "RANK", "4"]),
        None
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["LPOS", "l", "a", "COUNT", "0"]),
        [0, 3, 6]
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["LPOS", "l", "a", "COUNT", "2"]),
        [0, 3]
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["LPOS", "l", "a", "COUNT", "2", "RANK", "-1"]),
        [6, 3]
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["LPOS", "l", "a", "RANK", "2", "COUNT", "0"]),
        [3, 6]
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "4"]),
        [0, 3]
    );
    assert_eq!(
        run::<Vec<i64>>(
            &mut c,
            &["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "2", "RANK", "-1"]
        ),
        [6]
    );
    assert_eq!(
        run::<Option<i64>>(&mut c, &["LPOS", "l", "c", "MAXLEN", "2"]),
        None
    );
    assert_eq!(run::<i64>(&mut c, &["LPOS", "l", "c", "MAXLEN", "0"]), 2);
    assert_eq!(run::<Option<i64>>(&mut c, &["LPOS", "l", "zz"]), None);
    assert_eq!(
        run::<Value>(&mut c, &["LPOS", "l", "zz", "COUNT", "0"]),
        Value::Array(vec![])
    );
    assert_eq!(run::<Option<i64>>(&mut c, &["LPOS", "missing", "a"]), None);
    assert_eq!(
        run::<Value>(&mut c, &["LPOS", "missing", "a", "COUNT", "1"]),
        Value::Array(vec![])
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "RANK", "0"]),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "RANK", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        run::<Option<i64>>(&mut c, &["LPOS", "l", "a", "RANK", "-9223372036854775807"]),
        None
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "RANK", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "COUNT", "-1"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "COUNT", "x"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "MAXLEN", "-1"]),
        "ERR MAXLEN can't be negative"
    );
    assert_eq!(err(&mut c, &["LPOS", "l", "a", "RANK"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "FOO", "1"]),
        "ERR syntax error"
    );
    // Options are checked before the key.
    assert_eq!(
        err(&mut c, &["LPOS", "missing", "a", "COUNT", "-1"]),
        "ERR COUNT can't be negative"
    );
}

#[test]
fn lmove_and_rpoplpush() {
    let s = TestServer::start();
    let mut c = s.conn();
    run::<i64>(&mut c, &["RPUSH", "src", "a", "b", "c"]);
    assert_eq!(
        run::<String>(&mut c, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]),
        "a"
    );
    assert_eq!(
        run::<String>(&mut c, &["LMOVE", "src", "dst", "right", "left"]),
        "c"
    );
    assert_eq!(all(&mut c, "dst"), ["c", "a"]);
    assert_eq!(run::<String>(&mut c, &["RPOPLPUSH", "src", "dst"]), "b");
    assert_eq!(all(&mut c, "dst"), ["b", "c", "a"]);
    assert!(gone(&mut c, "src"));
    assert_eq!(
        run::<Option<String>>(&mut c, &["LMOVE", "src", "dst", "LEFT", "LEFT"]),
        None
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["RPOPLPUSH", "src", "dst"]),
        None
    );
    assert!(gone(&mut c, "src"));

    // Same key: rotation.
    assert_eq!(
        run::<String>(&mut c, &["LMOVE", "dst", "dst", "LEFT", "RIGHT"]),
        "b"
    );
    assert_eq!(all(&mut c, "dst"), ["c", "a", "b"]);
    assert_eq!(run::<String>(&mut c, &["RPOPLPUSH", "dst", "dst"]), "b");
    assert_eq!(all(&mut c, "dst"), ["b", "c", "a"]);
    run::<i64>(&mut c, &["RPUSH", "one", "x"]);
    assert_eq!(
        run::<String>(&mut c, &["LMOVE", "one", "one", "LEFT", "LEFT"]),
        "x"
    );
    assert_eq!(all(&mut c, "one"), ["x"]);

    // Type errors leave the source alone; a missing source wins over them.
    run::<String>(&mut c, &["SET", "str", "v"]);
    assert_eq!(
        err(&mut c, &["LMOVE", "one", "str", "LEFT", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(err(&mut c, &["RPOPLPUSH", "one", "str"]), WRONGTYPE);
    assert_eq!(all(&mut c, "one"), ["x"]);
    assert_eq!(
        err(&mut c, &["LMOVE", "str", "one", "LEFT", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["LMOVE", "missing", "str", "LEFT", "LEFT"]),
        None
    );
    assert_eq!(
        err(&mut c, &["LMOVE", "one", "dst", "UP", "LEFT"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["LMOVE", "one", "dst", "LEFT", "DOWN"]),
        "ERR syntax error"
    );
}

#[test]
fn lmpop_pops_from_the_first_non_empty() {
    let s = TestServer::start();
    let mut c = s.conn();
    run::<i64>(&mut c, &["RPUSH", "b", "1", "2", "3"]);
    let v: (String, Vec<String>) = run(&mut c, &["LMPOP", "2", "a", "b", "LEFT"]);
    assert_eq!(v, ("b".into(), vec!["1".into()]));
    let v: (String, Vec<String>) = run(&mut c, &["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5"]);
    assert_eq!(v, ("b".into(), vec!["3".into(), "2".into()]));
    assert!(gone(&mut c, "b"));
    assert_eq!(
        run::<Value>(&mut c, &["LMPOP", "2", "a", "b", "LEFT"]),
        Value::Nil
    );
    let count_msg = "ERR count should be greater than 0";
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "a", "LEFT", "COUNT", "0"]),
        count_msg
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "a", "LEFT", "COUNT", "x"]),
        count_msg
    );
    assert_eq!(
        err(
            &mut c,
            &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "2"]
        ),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "a", "LEFT", "COUNT"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "a", "MIDDLE"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "2", "a", "LEFT"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "99999999999", "a", "LEFT"]),
        "ERR syntax error"
    );
    let numkeys_msg = "ERR numkeys should be greater than 0";
    assert_eq!(err(&mut c, &["LMPOP", "0", "a", "LEFT"]), numkeys_msg);
    assert_eq!(err(&mut c, &["LMPOP", "x", "a", "LEFT"]), numkeys_msg);
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "a"]),
        "ERR wrong number of arguments for 'lmpop' command"
    );
    // A wrong type before a non-empty list is an error; after it, never seen.
    run::<String>(&mut c, &["SET", "s", "v"]);
    run::<i64>(&mut c, &["RPUSH", "l", "x", "y"]);
    assert_eq!(err(&mut c, &["LMPOP", "2", "s", "l", "LEFT"]), WRONGTYPE);
    let v: (String, Vec<String>) = run(&mut c, &["LMPOP", "2", "l", "s", "LEFT"]);
    assert_eq!(v, ("l".into(), vec!["x".into()]));
}

#[test]
fn wrong_type_everywhere() {
    let s = TestServer::start();
    let mut c = s.conn();
    run::<String>(&mut c, &["SET", "s", "v"]);
    let cases: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "0", "a"],
        &["LSET", "s", "x", "a"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "d"],
        &["LMPOP", "1", "s", "LEFT"],
        &["BLPOP", "s", "0"],
        &["BRPOP", "missing", "s", "0"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "s", "d", "0"],
        &["BLMPOP", "0", "1", "s", "LEFT"],
    ];
    for words in cases {
        assert_eq!(err(&mut c, words), WRONGTYPE, "{words:?}");
    }
    assert_eq!(run::<String>(&mut c, &["GET", "s"]), "v");
    assert!(gone(&mut c, "d"));
}

#[test]
fn arity_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    for (words, name) in [
        (&["LPUSH", "k"][..], "lpush"),
        (&["RPUSHX", "k"][..], "rpushx"),
        (&["LLEN"][..], "llen"),
        (&["LINSERT", "k", "BEFORE", "a"][..], "linsert"),
        (&["LMOVE", "a", "b", "LEFT"][..], "lmove"),
        (&["BLPOP", "k"][..], "blpop"),
        (&["BRPOPLPUSH", "a", "b"][..], "brpoplpush"),
        (&["BLMOVE", "a", "b", "LEFT", "LEFT"][..], "blmove"),
        (&["BLMPOP", "0", "1", "a"][..], "blmpop"),
    ] {
        assert_eq!(
            err(&mut c, words),
            format!("ERR wrong number of arguments for '{name}' command")
        );
    }
}

#[test]
fn blocking_argument_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    let bad = "ERR timeout is not a float or out of range";
    assert_eq!(err(&mut c, &["BLPOP", "k", "abc"]), bad);
    assert_eq!(err(&mut c, &["BRPOP", "k", "nan"]), bad);
    assert_eq!(err(&mut c, &["BLMOVE", "a", "b", "LEFT", "LEFT", "x"]), bad);
    assert_eq!(err(&mut c, &["BRPOPLPUSH", "a", "b", "x"]), bad);
    assert_eq!(err(&mut c, &["BLMPOP", "x", "1", "a", "LEFT"]), bad);
    let neg = "ERR timeout is negative";
    assert_eq!(err(&mut c, &["BLPOP", "k", "-1"]), neg);
    assert_eq!(err(&mut c, &["BLMPOP", "-0.5", "1", "a", "LEFT"]), neg);
    assert_eq!(
        err(&mut c, &["BLPOP", "k", "1e30"]),
        "ERR timeout is out of range"
    );
    assert_eq!(
        err(&mut c, &["BLMOVE", "a", "b", "UP", "LEFT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["BLMPOP", "0", "0", "a", "LEFT"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["BLMPOP", "0", "1", "a", "LEFT", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    // The connection is still usable (nothing was left blocked).
    assert_eq!(run::<String>(&mut c, &["PING"]), "PONG");
}

#[test]
fn blocking_pops_serve_at_once_when_data_is_there() {
    let s = TestServer::start();
    let mut c = s.conn();
    run::<i64>(&mut c, &["RPUSH", "b", "1", "2", "3"]);
    let v: (String, String) = run(&mut c, &["BLPOP", "a", "b", "0"]);
    assert_eq!(v, ("b".into(), "1".into()));
    let v: (String, String) = run(&mut c, &["BRPOP", "a", "b", "0"]);
    assert_eq!(v, ("b".into(), "3".into()));
    assert_eq!(run::<String>(&mut c, &["BRPOPLPUSH", "b", "d", "0"]), "2");
    assert!(gone(&mut c, "b"));
    assert_eq!(
        run::<String>(&mut c, &["BLMOVE", "d", "b", "LEFT", "RIGHT", "0"]),
        "2"
    );
    let v: (String, Vec<String>) = run(
        &mut c,
        &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "9"],
    );
    assert_eq!(v, ("b".into(), vec!["2".into()]));
    assert!(gone(&mut c, "b") && gone(&mut c, "d"));
}

#[test]
fn blpop_is_served_by_a_push_from_another_connection() {
    let s = TestServer::start();
    let mut c = s.conn();
    thread::scope(|t| {
        t.spawn(|| {
            let mut p = s.conn();
            thread::sleep(Duration::from_millis(100));
            run::<i64>(&mut p, &["RPUSH", "q", "hello"]);
        });
        let v: (String, String) = run(&mut c, &["BLPOP", "q", "0"]);
        assert_eq!(v, ("q".into(), "hello".into()));
    });
    assert!(gone(&mut c, "q"));
    assert_eq!(blocked(&mut c), 0);
}

#[test]
fn blocking_pops_time_out_with_nil() {
    let s = TestServer::start();
    let mut c = s.conn();
    let started = Instant::now();
    assert_eq!(run::<Value>(&mut c, &["BLPOP", "q", "0.2"]), Value::Nil);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(
        run::<Value>(&mut c, &["BRPOP", "q", "r", "0.05"]),
        Value::Nil
    );
    assert_eq!(
        run::<Value>(&mut c, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0.05"]),
        Value::Nil
    );
    assert_eq!(
        run::<Value>(&mut c, &["BRPOPLPUSH", "q", "d", "0.05"]),
        Value::Nil
    );
    assert_eq!(
        run::<Value>(&mut c, &["BLMPOP", "0.05", "1", "q", "LEFT"]),
        Value::Nil
    );
    assert!(gone(&mut c, "d"));
    // The connection keeps working after a timeout, and RESP3 gets `_` too.
    assert_eq!(run::<String>(&mut c, &["PING"]), "PONG");
    let mut c3 = s.conn3();
    assert_eq!(run::<Value>(&mut c3, &["BLPOP", "q", "0.05"]), Value::Nil);
    assert_eq!(blocked(&mut c), 0);
}

#[test]
fn blocked_clients_are_served_in_fifo_order() {
    let s = TestServer::start();
    let mut admin = s.conn();
    thread::scope(|t| {
        let mut first = s.conn();
        let a = t.spawn(move || run::<(String, String)>(&mut first, &["BLPOP", "q", "0"]));
        wait_blocked(&mut admin, 1);
        let mut second = s.conn();
        let b = t.spawn(move || run::<(String, String)>(&mut second, &["BLPOP", "q", "0"]));
        wait_blocked(&mut admin, 2);
        run::<i64>(&mut admin, &["RPUSH", "q", "one"]);
        run::<i64>(&mut admin, &["RPUSH", "q", "two"]);
        assert_eq!(a.join().unwrap().1, "one");
        assert_eq!(b.join().unwrap().1, "two");
    });
    assert!(gone(&mut admin, "q"));
}

#[test]
fn pushing_n_elements_wakes_n_waiters() {
    let s = TestServer::start();
    let mut admin = s.conn();
    const N: usize = 4;
    thread::scope(|t| {
        let waiters: Vec<_> = (0..N)
            .map(|_| {
                let mut c = s.conn();
                t.spawn(move || run::<(String, String)>(&mut c, &["BRPOP", "q", "0"]).1)
            })
            .collect();
        wait_blocked(&mut admin, N);
        run::<i64>(&mut admin, &["LPUSH", "q", "a", "b", "c", "d", "e"]);
        let mut got: Vec<String> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        got.sort();
        // BRPOP takes from the tail: the first four pushed.
        assert_eq!(got, ["a", "b", "c", "d"]);
    });
    assert_eq!(all(&mut admin, "q"), ["e"]);
    assert_eq!(blocked(&mut admin), 0);
}

#[test]
fn blpop_on_several_keys_takes_the_first_non_empty() {
    let s = TestServer::start();
    let mut admin = s.conn();
    thread::scope(|t| {
        let mut c = s.conn();
        let w = t.spawn(move || run::<(String, String)>(&mut c, &["BLPOP", "k1", "k2", "k3", "0"]));
        wait_blocked(&mut admin, 1);
        run::<i64>(&mut admin, &["RPUSH", "k2", "from-k2"]);
        assert_eq!(w.join().unwrap(), ("k2".into(), "from-k2".into()));
    });
    // With several non-empty keys, key order decides.
    run::<i64>(&mut admin, &["RPUSH", "k3", "x"]);
    run::<i64>(&mut admin, &["RPUSH", "k2", "y"]);
    let v: (String, String) = run(&mut admin, &["BLPOP", "k1", "k2", "k3", "0"]);
    assert_eq!(v, ("k2".into(), "y".into()));
    let v: (String, String) = run(&mut admin, &["BLPOP", "k1", "k2", "k3", "0"]);
    assert_eq!(v, ("k3".into(), "x".into()));
}

#[test]
fn blmove_blocks_until_the_source_gets_an_element() {
    let s = TestServer::start();
    let mut admin = s.conn();
    run::<i64>(&mut admin, &["RPUSH", "dst", "old"]);
    thread::scope(|t| {
        let mut c = s.conn();
        let w =
            t.spawn(move || run::<String>(&mut c, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]));
        wait_blocked(&mut admin, 1);
        run::<i64>(&mut admin, &["RPUSH", "src", "a", "b"]);
        assert_eq!(w.join().unwrap(), "b");
    });
    assert_eq!(all(&mut admin, "src"), ["a"]);
    assert_eq!(all(&mut admin, "dst"), ["b", "old"]);

    // BRPOPLPUSH the same way.
    thread::scope(|t| {
        let mut c = s.conn();
        let w = t.spawn(move || run::<String>(&mut c, &["BRPOPLPUSH", "empty", "dst", "0"]));
        wait_blocked(&mut admin, 1);
        run::<i64>(&mut admin, &["LPUSH", "empty", "z"]);
        assert_eq!(w.join().unwrap(), "z");
    });
    assert!(gone(&mut admin, "empty"));
    assert_eq!(all(&mut admin, "dst"), ["z", "b", "old"]);
}

#[test]
fn a_blmove_waiter_does_not_swallow_pushes_to_its_destination() {
    // BLMOVE waits on its source only: a push to its destination is for the
    // destination's own waiters.
    let s = TestServer::start();
    let mut admin = s.conn();
    thread::scope(|t| {
        let mut m = s.conn();
        let mover =
            t.spawn(move || run::<String>(&mut m, &["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]));
        wait_blocked(&mut admin, 1);
        let mut p = s.conn();
        let popper = t.spawn(move || run::<(String, String)>(&mut p, &["BLPOP", "dst", "0"]));
        wait_blocked(&mut admin, 2);
        run::<i64>(&mut admin, &["RPUSH", "dst", "for-popper"]);
        assert_eq!(popper.join().unwrap().1, "for-popper");
        run::<i64>(&mut admin, &["RPUSH", "src", "for-mover"]);
        assert_eq!(mover.join().unwrap(), "for-mover");
    });
    assert_eq!(all(&mut admin, "dst"), ["for-mover"]);
}

#[test]
fn blocked_client_that_disconnects_does_not_swallow_a_push() {
    let s = TestServer::start();
    let mut admin = s.conn();
    // The first waiter blocks on a raw connection and goes away.
    let mut quitter = s.raw();
    quitter.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n");
    wait_blocked(&mut admin, 1);
    thread::scope(|t| {
        let mut c = s.conn();
        let w = t.spawn(move || run::<(String, String)>(&mut c, &["BLPOP", "q", "0"]));
        wait_blocked(&mut admin, 2);
        drop(quitter);
        wait_blocked(&mut admin, 1);
        run::<i64>(&mut admin, &["RPUSH", "q", "x"]);
        assert_eq!(w.join().unwrap(), ("q".into(), "x".into()));
    });
    assert!(gone(&mut admin, "q"));
}

#[test]
fn a_timed_out_waiter_passes_its_turn_on() {
    let s = TestServer::start();
    let mut admin = s.conn();
    thread::scope(|t| {
        let mut a = s.conn();
        let short = t.spawn(move || run::<Value>(&mut a, &["BLPOP", "q", "0.2"]));
        wait_blocked(&mut admin, 1);
        let mut b = s.conn();
        let long = t.spawn(move || run::<(String, String)>(&mut b, &["BLPOP", "q", "0"]));
        wait_blocked(&mut admin, 2);
        assert_eq!(short.join().unwrap(), Value::Nil);
        run::<i64>(&mut admin, &["RPUSH", "q", "x"]);
        assert_eq!(long.join().unwrap().1, "x");
    });
}

#[test]
fn blmpop_blocks_and_pops_with_count() {
    let s = TestServer::start();
    let mut admin = s.conn();
    thread::scope(|t| {
        let mut c = s.conn();
        let w = t.spawn(move || {
            run::<(String, Vec<String>)>(
                &mut c,
                &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"],
            )
        });
        wait_blocked(&mut admin, 1);
        run::<i64>(&mut admin, &["RPUSH", "b", "1", "2", "3"]);
        assert_eq!(
            w.join().unwrap(),
            ("b".into(), vec!["3".into(), "2".into()])
        );
    });
    assert_eq!(all(&mut admin, "b"), ["1"]);
}

#[test]
fn commands_pipelined_behind_a_blocked_one_wait_for_it() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let mut raw = s.raw();
    raw.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n");
    wait_blocked(&mut admin, 1);
    run::<i64>(&mut admin, &["RPUSH", "q", "v"]);
    let want = b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n+PONG\r\n";
    assert_eq!(raw.read_at_least(want.len()), want);
}

#[test]
fn concurrent_pushes_and_waiters_lose_no_wake_up() {
    // Waiters on two keys in different orders, pushers racing them: any
    // element can serve any waiter, so every element pushed is popped by
    // exactly one waiter and nobody is left blocked.
    let s = TestServer::start();
    let mut admin = s.conn();
    const WAITERS: usize = 12;
    thread::scope(|t| {
        let waiters: Vec<_> = (0..WAITERS)
            .map(|i| {
                let mut c = s.conn();
                t.spawn(move || {
                    let words: &[&str] = match i % 3 {
                        0 => &["BLPOP", "a", "b", "0"],
                        1 => &["BRPOP", "b", "a", "0"],
                        _ => &["BLMPOP", "0", "2", "b", "a", "LEFT"],
                    };
                    match run::<Value>(&mut c, words) {
                        Value::Array(v) => match &v[1] {
                            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                            Value::Array(e) => match &e[0] {
                                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                                other => panic!("{other:?}"),
                            },
                            other => panic!("{other:?}"),
                        },
                        other => panic!("{other:?}"),
                    }
                })
            })
            .collect();
        let pushers: Vec<_> = (0..WAITERS)
            .map(|i| {
                let mut c = s.conn();
                t.spawn(move || {
                    let key = if i % 2 == 0 { "a" } else { "b" };
                    run::<i64>(&mut c, &["RPUSH", key, &format!("e{i}")]);
                })
            })
            .collect();
        for p in pushers {
            p.join().unwrap();
        }
        let mut got: Vec<String> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        got.sort();
        let mut want: Vec<String> = (0..WAITERS).map(|i| format!("e{i}")).collect();
        want.sort();
        assert_eq!(got, want);
    });
    assert!(gone(&mut admin, "a") && gone(&mut admin, "b"));
    assert_eq!(blocked(&mut admin), 0);
}

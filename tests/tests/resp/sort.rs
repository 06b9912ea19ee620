//! SORT and SORT_RO. Every expected value is what Redis 7.0 answers to the
//! same commands on the same data.

use meridian_tests::TestServer;
use meridian_tests::call::{WRONGTYPE, err, ok};
use redis::Connection;

fn list(c: &mut Connection, words: &[&str]) -> Vec<Option<String>> {
    ok(c, words)
}

fn strs(c: &mut Connection, words: &[&str]) -> Vec<String> {
    ok(c, words)
}

fn data(c: &mut Connection) {
    let _: i64 = ok(c, &["RPUSH", "l", "3", "1", "2", "10", "-5", "2.5"]);
    let _: () = ok(
        c,
        &[
            "MSET", "w_3", "30", "w_1", "10", "w_2", "20", "w_10", "5", "o_3", "three", "o_1",
            "one", "o_2", "two",
        ],
    );
    let _: i64 = ok(c, &["HSET", "h_1", "f", "x1"]);
    let _: i64 = ok(c, &["HSET", "h_2", "f", "x2"]);
    let _: i64 = ok(c, &["SADD", "s", "b", "a", "c"]);
    let _: i64 = ok(c, &["ZADD", "z", "1", "c", "2", "b", "3", "a"]);
}

#[test]
fn sort_orders_numbers_and_text_as_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    data(&mut c);
    for (words, want) in [
        (&["SORT", "l"][..], &["-5", "1", "2", "2.5", "3", "10"][..]),
        (&["SORT", "l", "DESC"], &["10", "3", "2.5", "2", "1", "-5"]),
        (&["SORT", "l", "LIMIT", "1", "3"], &["1", "2", "2.5"]),
        (&["SORT", "l", "ALPHA"], &["-5", "1", "10", "2", "2.5", "3"]),
        (
            &["SORT", "l", "LIMIT", "2", "-1", "DESC"],
            &["2.5", "2", "1", "-5"],
        ),
        (&["SORT", "l", "LIMIT", "-3", "2"], &["-5", "1"]),
        (&["SORT", "l", "LIMIT", "10", "5"], &[]),
        (
            &[
                "SORT",
                "l",
                "LIMIT",
                "9223372036854775807",
                "9223372036854775807",
            ],
            &[],
        ),
        (
            &["SORT", "l", "LIMIT", "4", "9223372036854775807"],
            &["3", "10"],
        ),
        (&["SORT", "s", "ALPHA"], &["a", "b", "c"]),
        (&["SORT", "z", "ALPHA", "DESC"], &["c", "b", "a"]),
        (&["SORT_RO", "l", "DESC", "LIMIT", "0", "2"], &["10", "3"]),
        (&["SORT", "missing"], &[]),
    ] {
        assert_eq!(strs(&mut c, words), want, "{words:?}");
    }
    // Equal scores fall back to byte order.
    let _: i64 = ok(&mut c, &["RPUSH", "ints", "10", "9", "09"]);
    assert_eq!(strs(&mut c, &["SORT", "ints"]), ["09", "9", "10"]);
}

#[test]
fn by_and_get_patterns_read_other_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    data(&mut c);
    let some = |v: &[&str]| -> Vec<Option<String>> {
        v.iter()
            .map(|s| (!s.is_empty()).then(|| s.to_string()))
            .collect()
    };
    assert_eq!(
        list(
            &mut c,
            &[
                "SORT", "l", "BY", "w_*", "GET", "#", "GET", "o_*", "GET", "h_*->f"
            ]
        ),
        some(&[
            "-5", "", "", "2.5", "", "", "10", "", "", "1", "one", "x1", "2", "two", "x2", "3",
            "three", ""
        ])
    );
    // Missing weights sort first; ALPHA by weight text.
    assert_eq!(
        strs(&mut c, &["SORT", "l", "BY", "w_*", "ALPHA"]),
        ["-5", "2.5", "1", "2", "3", "10"]
    );
    assert_eq!(
        strs(&mut c, &["SORT", "l", "BY", "h_*->f", "ALPHA", "DESC"]),
        ["2", "1", "3", "10", "-5", "2.5"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["SORT", "l", "BY", "w_*", "LIMIT", "0", "2", "DESC"]
        ),
        ["3", "2"]
    );
    // A GET pattern without '*' finds nothing.
    assert_eq!(list(&mut c, &["SORT", "l", "GET", "nostar"]), vec![None; 6]);
}

#[test]
fn by_constant_keeps_native_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    data(&mut c);
    assert_eq!(
        strs(&mut c, &["SORT", "l", "BY", "nosort"]),
        ["3", "1", "2", "10", "-5", "2.5"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"]
        ),
        ["-5", "10"]
    );
    assert_eq!(
        strs(&mut c, &["SORT", "z", "BY", "nosort"]),
        ["c", "b", "a"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "0", "2"]
        ),
        ["a", "b"]
    );
    // A stored set is sorted anyway, so it is the same everywhere.
    assert_eq!(
        ok::<i64>(&mut c, &["SORT", "s", "BY", "nosort", "STORE", "dst"]),
        3
    );
    assert_eq!(strs(&mut c, &["LRANGE", "dst", "0", "-1"]), ["a", "b", "c"]);
}

#[test]
fn store_writes_a_list() {
    let s = TestServer::start();
    let mut c = s.conn();
    data(&mut c);
    assert_eq!(
        ok::<i64>(&mut c, &["SORT", "l", "GET", "o_*", "STORE", "dst2"]),
        6
    );
    assert_eq!(
        strs(&mut c, &["LRANGE", "dst2", "0", "-1"]),
        ["", "one", "two", "", "three", ""]
    );
    let _: () = ok(&mut c, &["SET", "dst", "x"]);
    assert_eq!(ok::<i64>(&mut c, &["SORT", "missing", "STORE", "dst"]), 0);
    assert_eq!(ok::<i64>(&mut c, &["EXISTS", "dst"]), 0);
}

#[test]
fn sort_errors_are_redis_lines() {
    let s = TestServer::start();
    let mut c = s.conn();
    data(&mut c);
    let _: () = ok(&mut c, &["SET", "str", "x"]);
    for (words, want) in [
        (
            &["SORT", "s"][..],
            "ERR One or more scores can't be converted into double",
        ),
        (
            &["SORT", "l", "LIMIT", "x", "1"],
            "ERR value is not an integer or out of range",
        ),
        (&["SORT", "l", "foo"], "ERR syntax error"),
        (&["SORT_RO", "l", "STORE", "x"], "ERR syntax error"),
        (&["SORT", "str"], WRONGTYPE),
        (
            &["SORT"],
            "ERR wrong number of arguments for 'sort' command",
        ),
    ] {
        assert_eq!(err(&mut c, words), want, "{words:?}");
    }
}

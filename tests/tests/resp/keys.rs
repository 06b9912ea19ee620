//! Generic key commands (DEL EXISTS TYPE RENAME, the TTL family, KEYS SCAN
//! RANDOMKEY) and active expiry, against Redis 7 behaviour.

use std::collections::HashSet;
use std::time::Duration;

use meridian_tests::call::{err, ok as q};
use meridian_tests::{TestServer, eventually};
use redis::{Connection, Value};

fn info_field(c: &mut Connection, section: &str, name: &str) -> u64 {
    let text: String = q(c, &["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}: {text}"))
}

#[test]
fn del_exists_unlink_touch_count_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    q::<()>(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a", "a", "b", "nope"]), 3);
    assert_eq!(q::<i64>(&mut c, &["TOUCH", "a", "b", "nope"]), 2);
    assert_eq!(q::<i64>(&mut c, &["DEL", "a", "a", "nope"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a"]), 0);
    assert_eq!(q::<i64>(&mut c, &["UNLINK", "b", "c"]), 2);
    assert_eq!(q::<i64>(&mut c, &["DEL", "b"]), 0);
    assert!(err(&mut c, &["DEL"]).contains("wrong number of arguments for 'del' command"));
}

#[test]
fn type_reports_none_for_missing_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    q::<()>(&mut c, &["SET", "s", "v"]);
    let t: String = q(&mut c, &["TYPE", "s"]);
    assert_eq!(t, "string");
    let t: String = q(&mut c, &["TYPE", "missing"]);
    assert_eq!(t, "none");
    let mut raw = s.raw();
    assert_eq!(raw.roundtrip(b"TYPE missing\r\n", 7), b"+none\r\n");
}

#[test]
fn rename_keeps_ttl_and_reports_missing_source() {
    let s = TestServer::start();
    let mut c = s.conn();
    q::<()>(&mut c, &["SET", "src", "v", "EX", "100"]);
    q::<()>(&mut c, &["SET", "dst", "old"]);
    let ok: String = q(&mut c, &["RENAME", "src", "dst"]);
    assert_eq!(ok, "OK");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "src"]), None);
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]), "v");
    let ttl: i64 = q(&mut c, &["TTL", "dst"]);
    assert!((99..=100).contains(&ttl), "{ttl}");
    let mut raw = s.raw();
    assert_eq!(
        raw.roundtrip(b"RENAME nope x\r\n", 17),
        b"-ERR no such key\r\n"
    );
    assert_eq!(
        raw.roundtrip(b"RENAMENX nope x\r\n", 17),
        b"-ERR no such key\r\n"
    );
    q::<()>(&mut c, &["SET", "other", "x"]);
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "dst", "other"]), 0);
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "dst", "fresh"]), 1);
    assert_eq!(q::<String>(&mut c, &["GET", "fresh"]), "v");
    // Renaming onto itself succeeds for RENAME, does nothing for RENAMENX.
    assert_eq!(q::<String>(&mut c, &["RENAME", "fresh", "fresh"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "fresh", "fresh"]), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "fresh"]), "v");
}

#[test]
fn ttl_and_pttl_report_missing_and_persistent_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(q::<i64>(&mut c, &["TTL", "nope"]), -2);
    assert_eq!(q::<i64>(&mut c, &["PTTL", "nope"]), -2);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "nope"]), -2);
    q::<()>(&mut c, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(q::<i64>(&mut c, &["PTTL", "k"]), -1);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "k"]), -1);
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "k"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100"]), 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), 100);
    let pttl: i64 = q(&mut c, &["PTTL", "k"]);
    assert!(pttl > 99_000 && pttl <= 100_000, "{pttl}");
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "k"]), 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "nope"]), 0);
}

#[test]
fn expireat_and_expiretime_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    q::<()>(&mut c, &["SET", "k", "v"]);
    let at = 4_000_000_000i64;
    assert_eq!(q::<i64>(&mut c, &["EXPIREAT", "k", &at.to_string()]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "k"]), at);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "k"]), at * 1000);
    let pat = at * 1000 + 123;
    assert_eq!(q::<i64>(&mut c, &["PEXPIREAT", "k", &pat.to_string()]), 1);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "k"]), pat);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "k"]), at);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "missing", "10"]), 0);
    // A millisecond deadline as large as Redis allows is accepted.
    assert_eq!(
        q::<i64>(&mut c, &["PEXPIREAT", "k", "9223372036854775807"]),
        1
    );
}

#[test]
fn expire_conditions_follow_redis_7() {
    let s = TestServer::start();
    let mut c = s.conn();
    q::<()>(&mut c, &["SET", "k", "v"]);
    // No TTL yet: XX and GT refuse (no TTL is infinite), NX and LT set.
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "XX"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "GT"]), 0);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "NX"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "200", "NX"]), 0);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), 100);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "50", "GT"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "200", "GT"]), 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), 200);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "300", "LT"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "150", "LT"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "120", "XX", "LT"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "500", "XX"]), 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), 500);
    q::<()>(&mut c, &["SET", "p", "v"]);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "p", "100", "LT"]), 1);
    q::<()>(&mut c, &["SET", "p", "v"]);
    // XX LT needs an existing TTL even though LT alone would not.
    assert_eq!(q::<i64>(&mut c, &["PEXPIRE", "p", "100000", "XX", "LT"]), 0);
    assert_eq!(q::<i64>(&mut c, &["TTL", "p"]), -1);

    let mut raw = s.raw();
    let cases: [(&[u8], &str); 6] = [
        (
            b"EXPIRE k 10 NX XX\r\n",
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        (
            b"EXPIRE k 10 NX GT\r\n",
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        (
            b"EXPIRE k 10 GT LT\r\n",
            "-ERR GT and LT options at the same time are not compatible\r\n",
        ),
        (b"EXPIRE k 10 FOO\r\n", "-ERR Unsupported option FOO\r\n"),
        (
            b"EXPIRE k 9223372036854775807\r\n",
            "-ERR invalid expire time in 'expire' command\r\n",
        ),
        (
            b"PEXPIRE k 9223372036854775807\r\n",
            "-ERR invalid expire time in 'pexpire' command\r\n",
        ),
    ];
    for (input, want) in cases {
        let got = raw.roundtrip(input, want.len());
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
    let got = raw.roundtrip(b"EXPIREAT k 9223372036854775807\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR invalid expire time in 'expireat' command\r\n"
    );
    let got = raw.roundtrip(b"EXPIRE k abc\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR value is not an integer or out of range\r\n"
    );
    // The key survived every rejected command.
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), 500);
}

#[test]
fn negative_or_past_expire_deletes_the_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    for (i, args) in [
        ["EXPIRE", "-1"],
        ["PEXPIRE", "0"],
        ["EXPIREAT", "1"],
        ["PEXPIREAT", "-5"],
    ]
    .iter()
    .enumerate()
    {
        let key = format!("k{i}");
        q::<()>(&mut c, &["SET", &key, "v"]);
        assert_eq!(q::<i64>(&mut c, &[args[0], &key, args[1]]), 1, "{args:?}");
        assert_eq!(q::<i64>(&mut c, &["EXISTS", &key]), 0, "{args:?}");
        assert_eq!(q::<i64>(&mut c, &["TTL", &key]), -2);
    }
    // GT with a past time cannot beat a future TTL, so the key stays.
    q::<()>(&mut c, &["SET", "g", "v", "EX", "100"]);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "g", "-1", "GT"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "g"]), 1);
}

#[test]
fn keys_matches_glob_patterns() {
    let s = TestServer::start();
    let mut c = s.conn();
    q::<()>(
        &mut c,
        &[
            "MSET", "user:1", "a", "user:2", "b", "user:10", "c", "order:1", "d", "u[x]", "e",
        ],
    );
    let mut all: Vec<String> = q(&mut c, &["KEYS", "*"]);
    all.sort();
    assert_eq!(all, ["order:1", "u[x]", "user:1", "user:10", "user:2"]);
    let mut users: Vec<String> = q(&mut c, &["KEYS", "user:*"]);
    users.sort();
    assert_eq!(users, ["user:1", "user:10", "user:2"]);
    let one: Vec<String> = q(&mut c, &["KEYS", "user:?"]);
    assert_eq!(one.len(), 2);
    let class: Vec<String> = q(&mut c, &["KEYS", "user:[^2]"]);
    assert_eq!(class, ["user:1"]);
    let escaped: Vec<String> = q(&mut c, &["KEYS", "u\\[x\\]"]);
    assert_eq!(escaped, ["u[x]"]);
    let none: Vec<String> = q(&mut c, &["KEYS", "nothing*"]);
    assert!(none.is_empty());
}

/// Walks SCAN to the end with extra arguments; returns every key seen, with
/// duplicates, and checks the reply shape (cursor as a bulk string).
fn scan_all(c: &mut Connection, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for _ in 0..100_000 {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(&cursor);
        for a in extra {
            cmd.arg(*a);
        }
        let v: Value = cmd.query(c).unwrap();
        let Value::Array(parts) = v else {
            panic!("SCAN reply not an array: {v:?}")
        };
        assert_eq!(parts.len(), 2);
        let Value::BulkString(next) = &parts[0] else {
            panic!("cursor not a bulk string: {:?}", parts[0])
        };
        let keys: Vec<String> = redis::from_redis_value_ref(&parts[1]).unwrap();
        seen.extend(keys);
        cursor = String::from_utf8(next.clone()).unwrap();
        cursor.parse::<u64>().expect("numeric cursor");
        if cursor == "0" {
            return seen;
        }
    }
    panic!("SCAN did not finish");
}

#[test]
fn scan_visits_every_key_with_count_match_and_type() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..1000 {
        q::<()>(&mut c, &["SET", &format!("key:{i}"), "v"]);
    }
    q::<()>(&mut c, &["SET", "other", "v"]);
    let want: HashSet<String> = (0..1000).map(|i| format!("key:{i}")).collect();

    let all = scan_all(&mut c, &[]);
    let distinct: HashSet<String> = all.iter().cloned().collect();
    assert!(all.len() >= 1001);
    assert_eq!(distinct.len(), 1001);

    for count in ["1", "7", "100", "5000"] {
        let seen: HashSet<String> = scan_all(&mut c, &["COUNT", count]).into_iter().collect();
        assert_eq!(seen.len(), 1001, "COUNT {count}");
    }

    let matched = scan_all(&mut c, &["MATCH", "key:*", "COUNT", "50"]);
    let matched_set: HashSet<String> = matched.iter().cloned().collect();
    assert!(matched.len() >= 1000);
    assert_eq!(matched_set, want);

    let typed: HashSet<String> = scan_all(&mut c, &["TYPE", "string"]).into_iter().collect();
    assert_eq!(typed.len(), 1001);
    assert!(scan_all(&mut c, &["TYPE", "list"]).is_empty());
    assert!(scan_all(&mut c, &["TYPE", "nosuchtype"]).is_empty());

    // COUNT bounds the work, so a selective MATCH may return short pages.
    let v: Value = redis::cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("other")
        .arg("COUNT")
        .arg(10)
        .query(&mut c)
        .unwrap();
    let Value::Array(parts) = v else { panic!() };
    let page: Vec<String> = redis::from_redis_value_ref(&parts[1]).unwrap();
    assert!(page.len() <= 1);

    assert!(err(&mut c, &["SCAN", "abc"]).contains("invalid cursor"));
    assert!(err(&mut c, &["SCAN", "0", "COUNT", "0"]).contains("syntax error"));
    assert!(err(&mut c, &["SCAN", "0", "COUNT", "x"]).contains("not an integer"));
    assert!(err(&mut c, &["SCAN", "0", "MATCH"]).contains("syntax error"));
    assert!(err(&mut c, &["SCAN", "0", "FOO", "bar"]).contains("syntax error"));
}

#[test]
fn scan_survives_writes_during_the_walk() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..300 {
        q::<()>(&mut c, &["SET", &format!("old:{i}"), "v"]);
    }
    let mut cursor = 0u64;
    let mut seen = HashSet::new();
    let mut added = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query(&mut c)
            .unwrap();
        seen.extend(keys);
        // Grow the keyspace mid-walk (forces table resizes).
        for _ in 0..50 {
            q::<()>(&mut c, &["SET", &format!("new:{added}"), "v"]);
            added += 1;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in 0..300 {
        assert!(seen.contains(&format!("old:{i}")), "old:{i} missed");
    }
}

#[test]
fn randomkey_returns_existing_keys_or_nil() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(q::<Option<String>>(&mut c, &["RANDOMKEY"]), None);
    q::<()>(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let k: String = q(&mut c, &["RANDOMKEY"]);
        assert!(["a", "b", "c"].contains(&k.as_str()), "{k}");
        seen.insert(k);
    }
    assert!(seen.len() >= 2, "{seen:?}");
}

#[test]
fn redis_cli_renders_key_commands() {
    let s = TestServer::start();
    assert_eq!(s.cli(&["SET", "k", "v"]), "OK");
    assert_eq!(s.cli(&["TYPE", "k"]), "string");
    assert_eq!(s.cli(&["EXISTS", "k", "k"]), "2");
    assert_eq!(s.cli(&["--no-raw", "TTL", "k"]), "(integer) -1");
    let scan = s.cli(&["--no-raw", "SCAN", "0", "COUNT", "1000"]);
    assert!(scan.starts_with("1) \"0\"\n2) 1) \"k\""), "{scan}");
    assert_eq!(s.cli(&["DEL", "k"]), "1");
}

#[test]
fn active_expiry_collects_unread_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    let before = info_field(&mut c, "stats", "expired_keys");
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET")
            .arg(format!("e:{i}"))
            .arg("v")
            .arg("PX")
            .arg(50)
            .ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    q::<()>(&mut c, &["SET", "keeper", "v"]);
    assert!(q::<i64>(&mut c, &["DBSIZE"]) > 1000);
    // Nobody reads the keys: only the background sweep can remove them.
    let collected = eventually(Duration::from_secs(2), || {
        q::<i64>(&mut c, &["DBSIZE"]) <= 1
    });
    assert!(collected, "DBSIZE still {}", q::<i64>(&mut c, &["DBSIZE"]));
    let after = info_field(&mut c, "stats", "expired_keys");
    assert!(after >= before + 2000, "expired_keys {before} -> {after}");
    assert_eq!(q::<String>(&mut c, &["GET", "keeper"]), "v");
}

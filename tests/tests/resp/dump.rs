//! DUMP and RESTORE: payloads round-trip every type with TTL and access
//! stats; option errors are Redis 7.0's lines.

use meridian_tests::TestServer;
use meridian_tests::call::{err, ok};
use redis::Connection;

fn dump(c: &mut Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("DUMP").arg(key).query(c).unwrap()
}

fn restore(c: &mut Connection, key: &str, ttl: &str, payload: &[u8], opts: &[&str]) -> String {
    let mut cmd = redis::cmd("RESTORE");
    cmd.arg(key).arg(ttl).arg(payload).arg(opts);
    match cmd.query::<String>(c) {
        Ok(s) => s,
        Err(e) => meridian_tests::call::line(&e),
    }
}

#[test]
fn dump_and_restore_round_trip_every_type() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["SET", "str", "hello"]);
    let _: i64 = ok(&mut c, &["RPUSH", "l", "a", "b", "a"]);
    let _: i64 = ok(&mut c, &["SADD", "s", "x", "y"]);
    let _: i64 = ok(&mut c, &["HSET", "h", "f", "v", "g", "w"]);
    let _: i64 = ok(&mut c, &["ZADD", "z", "1.5", "m", "-2", "n"]);
    for key in ["str", "l", "s", "h", "z"] {
        let payload = dump(&mut c, key).unwrap();
        let copy = format!("{key}-copy");
        assert_eq!(restore(&mut c, &copy, "0", &payload, &[]), "OK");
        let digests: Vec<String> = ok(&mut c, &["DEBUG", "DIGEST-VALUE", key, &copy]);
        assert_eq!(digests[0], digests[1], "{key}");
    }
    assert_eq!(dump(&mut c, "nope"), None);

    // TTLs: relative, absolute, and already past (nothing is created).
    let payload = dump(&mut c, "str").unwrap();
    assert_eq!(restore(&mut c, "t1", "100000", &payload, &[]), "OK");
    let pttl: i64 = ok(&mut c, &["PTTL", "t1"]);
    assert!((90_001..=100_000).contains(&pttl), "{pttl}");
    let far = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 50_000)
        .to_string();
    assert_eq!(restore(&mut c, "t2", &far, &payload, &["ABSTTL"]), "OK");
    let pttl: i64 = ok(&mut c, &["PTTL", "t2"]);
    assert!((40_001..=50_000).contains(&pttl), "{pttl}");
    assert_eq!(restore(&mut c, "t3", "1", &payload, &["ABSTTL"]), "OK");
    assert_eq!(ok::<i64>(&mut c, &["EXISTS", "t3"]), 0);

    // REPLACE, IDLETIME.
    assert_eq!(
        restore(&mut c, "l", "0", &payload, &[]),
        "BUSYKEY Target key name already exists."
    );
    assert_eq!(
        restore(&mut c, "l", "0", &payload, &["REPLACE", "IDLETIME", "1000"]),
        "OK"
    );
    let idle: i64 = ok(&mut c, &["OBJECT", "IDLETIME", "l"]);
    assert!((1000..1010).contains(&idle), "{idle}");
    assert_eq!(ok::<String>(&mut c, &["GET", "l"]), "hello");
}

#[test]
fn restore_errors_are_redis_lines() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["SET", "a", "v"]);
    let good = dump(&mut c, "a").unwrap();
    let mut damaged = good.clone();
    damaged[0] ^= 0xff;
    assert_eq!(
        restore(&mut c, "b", "0", &damaged, &[]),
        "ERR DUMP payload version or checksum are wrong"
    );
    for (words, want) in [
        (
            &["RESTORE", "b", "-1", "x"][..],
            "ERR Invalid TTL value, must be >= 0",
        ),
        (
            &["RESTORE", "b", "x", "x"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["RESTORE", "b", "0", "x"],
            "ERR DUMP payload version or checksum are wrong",
        ),
        (
            &["RESTORE", "b", "0", "x", "IDLETIME", "1", "FREQ", "2"],
            "ERR syntax error",
        ),
        (
            &["RESTORE", "b", "0", "x", "IDLETIME", "-1"],
            "ERR Invalid IDLETIME value, must be >= 0",
        ),
        (
            &["RESTORE", "b", "0", "x", "FREQ", "256"],
            "ERR Invalid FREQ value, must be >= 0 and <= 255",
        ),
        (&["RESTORE", "b", "0", "x", "foo"], "ERR syntax error"),
        (
            &["RESTORE", "a", "0", "x"],
            "BUSYKEY Target key name already exists.",
        ),
    ] {
        assert_eq!(err(&mut c, words), want, "{words:?}");
    }
}

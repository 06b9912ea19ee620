//! HyperLogLog commands. Counts are compared with what Redis 7.0 answers for
//! the same elements: the sketch format, hashing and estimator are Redis's.

use meridian_tests::TestServer;
use redis::Connection;

fn pfadd_range(c: &mut Connection, key: &str, n: usize) {
    for chunk in (1..=n).collect::<Vec<_>>().chunks(500) {
        let mut cmd = redis::cmd("PFADD");
        cmd.arg(key);
        for i in chunk {
            cmd.arg(format!("e{i}"));
        }
        let _: i64 = cmd.query(c).expect("pfadd");
    }
}

fn pfcount(c: &mut Connection, keys: &[&str]) -> i64 {
    redis::cmd("PFCOUNT").arg(keys).query(c).expect("pfcount")
}

#[test]
fn counts_match_redis_for_the_same_elements() {
    let s = TestServer::start();
    let mut c = s.conn();
    // Redis 7.0: `PFADD x e1 … eN` then `PFCOUNT x`.
    for (n, redis_count) in [(100, 100), (1000, 1008), (20000, 19899)] {
        let key = format!("x{n}");
        pfadd_range(&mut c, &key, n);
        assert_eq!(pfcount(&mut c, &[&key]), redis_count, "{n} elements");
    }
    assert_eq!(pfcount(&mut c, &["missing"]), 0);
}

#[test]
fn a_million_distinct_elements_count_within_two_percent() {
    let s = TestServer::start();
    let mut c = s.conn();
    let n = 1_000_000;
    pfadd_range(&mut c, "big", n);
    let count = pfcount(&mut c, &["big"]);
    let error = (count as f64 - n as f64).abs() / n as f64;
    assert!(
        error < 0.02,
        "{count} for {n} distinct elements ({:.2}%)",
        error * 100.0
    );
}

#[test]
fn pfadd_reports_changes_and_pfmerge_unions() {
    let s = TestServer::start();
    let mut c = s.conn();
    let added: i64 = redis::cmd("PFADD")
        .arg("h")
        .arg(&["a", "b", "c"])
        .query(&mut c)
        .unwrap();
    assert_eq!(added, 1);
    let again: i64 = redis::cmd("PFADD")
        .arg("h")
        .arg(&["a", "b"])
        .query(&mut c)
        .unwrap();
    assert_eq!(again, 0, "no register rose");
    let created: i64 = redis::cmd("PFADD").arg("empty").query(&mut c).unwrap();
    assert_eq!(created, 1);
    assert_eq!(pfcount(&mut c, &["empty"]), 0);
    let _: i64 = redis::cmd("PFADD")
        .arg("g")
        .arg(&["c", "d", "e"])
        .query(&mut c)
        .unwrap();
    assert_eq!(pfcount(&mut c, &["h", "g"]), 5);
    let _: () = redis::cmd("PFMERGE")
        .arg(&["u", "h", "g"])
        .query(&mut c)
        .unwrap();
    assert_eq!(pfcount(&mut c, &["u"]), 5);
    // The sketch is an ordinary string in Redis's format.
    let raw: Vec<u8> = redis::cmd("GET").arg("u").query(&mut c).unwrap();
    assert_eq!(&raw[..4], b"HYLL");
}

#[test]
fn a_sketch_copied_from_redis_keeps_working() {
    let s = TestServer::start();
    let mut c = s.conn();
    // What Redis 7.0 stores for `PFADD h a b c d e f g` (sparse encoding).
    let from_redis: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80Fm\x80V\x0c\x80D<\x848\x80P\xb1\x84I\x8c\x80Bm\x80BZ";
    let _: () = redis::cmd("SET")
        .arg("r")
        .arg(from_redis)
        .query(&mut c)
        .unwrap();
    assert_eq!(pfcount(&mut c, &["r"]), 7);
    let added: i64 = redis::cmd("PFADD")
        .arg("r")
        .arg(&["a", "h"])
        .query(&mut c)
        .unwrap();
    assert_eq!(added, 1);
    assert_eq!(pfcount(&mut c, &["r"]), 8);
}

#[test]
fn non_sketches_are_refused_with_redis_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("foobar")
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("LPUSH").arg("l").arg("x").query(&mut c).unwrap();
    let e = redis::cmd("PFADD")
        .arg("s")
        .arg("x")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Key is not a valid HyperLogLog string value."),
        "{e}"
    );
    let e = redis::cmd("PFADD")
        .arg("l")
        .arg("x")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Operation against a key holding the wrong kind"),
        "{e}"
    );
    let e = redis::cmd("PFCOUNT")
        .arg("s")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("HyperLogLog"), "{e}");
    // A sparse sketch whose runs do not cover every register.
    let broken: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80Fm";
    let _: () = redis::cmd("SET")
        .arg("bad")
        .arg(broken)
        .query(&mut c)
        .unwrap();
    let e = redis::cmd("PFCOUNT")
        .arg("bad")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string().contains("Corrupted HLL object detected"),
        "{e}"
    );
    // The failed commands changed nothing.
    let v: String = redis::cmd("GET").arg("s").query(&mut c).unwrap();
    assert_eq!(v, "foobar");
}

//! String commands against Redis 7 behaviour.

use meridian_tests::TestServer;
use redis::{Commands, RedisResult};

#[test]
fn set_get_and_options() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = c.set("k", "v").unwrap();
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
    let nx: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("w")
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(nx, None);
    let xx: String = redis::cmd("SET")
        .arg("k")
        .arg("w")
        .arg("XX")
        .query(&mut c)
        .unwrap();
    assert_eq!(xx, "OK");
    let old: String = redis::cmd("SET")
        .arg("k")
        .arg("z")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(old, "w");
    let missing: Option<String> = c.get("nope").unwrap();
    assert_eq!(missing, None);
    let err: RedisResult<()> = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("NX")
        .arg("XX")
        .query(&mut c);
    assert!(err.unwrap_err().to_string().contains("syntax error"));
    let err: RedisResult<()> = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg("0")
        .query(&mut c);
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("invalid expire time in 'set' command")
    );
}

#[test]
fn ttl_options_expire_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("PX")
        .arg("100")
        .query(&mut c)
        .unwrap();
    let pttl: i64 = c.pttl("t").unwrap();
    assert!(pttl > 0 && pttl <= 100, "{pttl}");
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(c.get::<_, Option<String>>("t").unwrap(), None);
    let _: () = c.set_ex("t2", "v", 100).unwrap();
    let _: () = redis::cmd("SET")
        .arg("t2")
        .arg("w")
        .arg("KEEPTTL")
        .query(&mut c)
        .unwrap();
    assert!(c.ttl::<_, i64>("t2").unwrap() > 90);
    let _: () = c.set("t2", "x").unwrap();
    assert_eq!(c.ttl::<_, i64>("t2").unwrap(), -1);
}

#[test]
fn counters_and_their_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(c.incr::<_, _, i64>("n", 1).unwrap(), 1);
    assert_eq!(c.incr::<_, _, i64>("n", 10).unwrap(), 11);
    assert_eq!(c.decr::<_, _, i64>("n", 20).unwrap(), -9);
    let _: () = c.set("s", "abc").unwrap();
    let e = c.incr::<_, _, i64>("s", 1).unwrap_err();
    assert!(
        e.to_string()
            .contains("value is not an integer or out of range"),
        "{e}"
    );
    let _: () = c.set("big", i64::MAX).unwrap();
    let e = c.incr::<_, _, i64>("big", 1).unwrap_err();
    assert!(
        e.to_string()
            .contains("increment or decrement would overflow"),
        "{e}"
    );
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("10.5")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "10.5");
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("0.1")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "10.6");
    let _: () = c.hset("h", "f", "v").unwrap();
    let e = c.incr::<_, _, i64>("h", 1).unwrap_err();
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
}

#[test]
fn multi_key_and_ranges() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut c)
        .unwrap();
    let v: Vec<Option<String>> = redis::cmd("MGET")
        .arg("a")
        .arg("b")
        .arg("c")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec![Some("1".into()), Some("2".into()), None]);
    let n: i64 = redis::cmd("MSETNX")
        .arg("c")
        .arg("3")
        .arg("a")
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(c.get::<_, Option<String>>("c").unwrap(), None);
    assert_eq!(c.append::<_, _, i64>("s", "Hello").unwrap(), 5);
    assert_eq!(c.append::<_, _, i64>("s", " World").unwrap(), 11);
    assert_eq!(c.getrange::<_, String>("s", 0, 4).unwrap(), "Hello");
    assert_eq!(c.getrange::<_, String>("s", -5, -1).unwrap(), "World");
    assert_eq!(c.strlen::<_, i64>("s").unwrap(), 11);
    assert_eq!(c.setrange::<_, _, i64>("pad", 3, "x").unwrap(), 4);
    assert_eq!(c.get::<_, Vec<u8>>("pad").unwrap(), b"\0\0\0x");
    let v: Option<String> = redis::cmd("GETDEL").arg("a").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("1"));
    assert!(!c.exists::<_, bool>("a").unwrap());
    let e: RedisResult<()> = redis::cmd("MSET").arg("a").query(&mut c);
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("wrong number of arguments for 'mset' command")
    );
}

#[test]
fn redis_cli_round_trip() {
    let s = TestServer::start();
    assert_eq!(s.cli(&["SET", "greeting", "hello world"]), "OK");
    assert_eq!(s.cli(&["GET", "greeting"]), "hello world");
    assert_eq!(s.cli(&["INCR", "visits"]), "1");
    assert_eq!(s.cli(&["GET", "missing"]), "");
}

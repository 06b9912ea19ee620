//! `maxmemory` and the eviction policies: OOM refusals under `noeviction`,
//! memory kept under the limit by the evicting policies, and which keys each
//! policy may take. Memory here is the keyspace estimate INFO reports as
//! `used_memory_dataset`, the figure `maxmemory` is compared against.

use std::time::Duration;

use meridian_tests::TestServer;
use redis::{Connection, RedisResult};

const LIMIT: u64 = 2 * 1024 * 1024;
/// Slack over the limit: the last write before eviction may overshoot by one
/// value (plus its entry overhead).
const SLACK: u64 = 4 * 1024;

fn value() -> String {
    "x".repeat(1000)
}

fn info_u64(c: &mut Connection, section: &str, name: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

fn dataset(c: &mut Connection) -> u64 {
    info_u64(c, "memory", "used_memory_dataset")
}

fn evicted(c: &mut Connection) -> u64 {
    info_u64(c, "stats", "evicted_keys")
}

fn limited(policy: &str) -> (TestServer, Connection) {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("2mb")
        .arg("maxmemory-policy")
        .arg(policy)
        .query(&mut c)
        .unwrap();
    (s, c)
}

/// Writes `n` keys `prefix:i` (with `EX ttl` if given), pipelined in batches.
fn fill(c: &mut Connection, prefix: &str, range: std::ops::Range<usize>, ttl: Option<u64>) {
    let v = value();
    let keys: Vec<usize> = range.collect();
    for chunk in keys.chunks(100) {
        let mut pipe = redis::pipe();
        for i in chunk {
            let cmd = pipe.cmd("SET").arg(format!("{prefix}:{i}")).arg(&v);
            if let Some(t) = ttl {
                cmd.arg("EX").arg(t + *i as u64);
            }
            cmd.ignore();
        }
        let _: () = pipe.query(c).unwrap();
    }
}

/// How many of `prefix:0..n` still exist.
fn surviving(c: &mut Connection, prefix: &str, n: usize) -> usize {
    let mut cmd = redis::cmd("EXISTS");
    for i in 0..n {
        cmd.arg(format!("{prefix}:{i}"));
    }
    let k: i64 = cmd.query(c).unwrap();
    k as usize
}

#[test]
fn noeviction_refuses_writes_but_serves_reads_and_deletes() {
    let (s, mut c) = limited("noeviction");
    let v = value();
    let mut written = 0;
    let mut refused = None;
    for i in 0..10_000 {
        let r: RedisResult<()> = redis::cmd("SET")
            .arg(format!("k:{i}"))
            .arg(&v)
            .query(&mut c);
        match r {
            Ok(()) => written += 1,
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        }
    }
    let refused = refused.expect("writes past maxmemory must be refused");
    assert!(refused.contains("OOM"), "{refused}");
    assert!(written > 1000, "only {written} writes fit in 2mb");
    assert!(dataset(&mut c) <= LIMIT + SLACK);
    // The exact line, as Redis sends it.
    let mut raw = s.raw();
    let want = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    let got = raw.roundtrip(b"SET another v\r\n", want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    let got = raw.roundtrip(b"INCR counter\r\n", want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    // Reads and deletes still work, and deleting makes room again.
    let first: String = redis::cmd("GET").arg("k:0").query(&mut c).unwrap();
    assert_eq!(first.len(), 1000);
    let mut del = redis::cmd("DEL");
    for i in 0..100 {
        del.arg(format!("k:{i}"));
    }
    let n: i64 = del.query(&mut c).unwrap();
    assert_eq!(n, 100);
    let _: () = redis::cmd("SET")
        .arg("again")
        .arg("v")
        .query(&mut c)
        .unwrap();
    assert_eq!(evicted(&mut c), 0);
}

#[test]
fn allkeys_lru_keeps_memory_under_the_limit_and_keeps_hot_keys() {
    let (_s, mut c) = limited("allkeys-lru");
    // Cold and hot keys together fit; then three times the limit is written
    // while the hot keys keep being read.
    fill(&mut c, "cold", 0..750, None);
    fill(&mut c, "hot", 0..500, None);
    let hot_reads = |c: &mut Connection| {
        let mut pipe = redis::pipe();
        for i in 0..500 {
            pipe.cmd("GET").arg(format!("hot:{i}")).ignore();
        }
        let _: () = pipe.query(c).unwrap();
    };
    std::thread::sleep(Duration::from_millis(30));
    hot_reads(&mut c);
    for round in 0..60 {
        std::thread::sleep(Duration::from_millis(15));
        fill(&mut c, "new", round * 100..(round + 1) * 100, None);
        hot_reads(&mut c);
        assert!(dataset(&mut c) <= LIMIT + SLACK);
    }
    assert!(dataset(&mut c) <= LIMIT + SLACK);
    assert!(evicted(&mut c) > 1000);
    let hot = surviving(&mut c, "hot", 500) as f64 / 500.0;
    let cold = surviving(&mut c, "cold", 750) as f64 / 750.0;
    assert!(hot > 0.5, "hot survival {hot:.2}, cold {cold:.2}");
    assert!(hot > cold + 0.3, "hot survival {hot:.2}, cold {cold:.2}");
}

#[test]
fn volatile_policies_only_evict_keys_with_a_ttl() {
    for policy in [
        "volatile-ttl",
        "volatile-lru",
        "volatile-random",
        "volatile-lfu",
    ] {
        let (_s, mut c) = limited(policy);
        fill(&mut c, "keep", 0..800, None);
        fill(&mut c, "tmp", 0..4000, Some(1000));
        assert_eq!(surviving(&mut c, "keep", 800), 800, "{policy}");
        assert!(evicted(&mut c) > 1000, "{policy}");
        assert!(dataset(&mut c) <= LIMIT + SLACK, "{policy}");
    }
}

#[test]
fn volatile_ttl_evicts_the_soonest_expiring_first() {
    let (_s, mut c) = limited("volatile-ttl");
    // tmp:i expires after 1000+i seconds: later keys live longer.
    fill(&mut c, "tmp", 0..4000, Some(1000));
    let early = (0..1000)
        .filter(|i| {
            let n: i64 = redis::cmd("EXISTS")
                .arg(format!("tmp:{i}"))
                .query(&mut c)
                .unwrap();
            n == 1
        })
        .count();
    let late = (3000..4000)
        .filter(|i| {
            let n: i64 = redis::cmd("EXISTS")
                .arg(format!("tmp:{i}"))
                .query(&mut c)
                .unwrap();
            n == 1
        })
        .count();
    assert!(late > early, "early {early}, late {late}");
}

#[test]
fn volatile_policy_without_volatile_keys_answers_oom() {
    let (_s, mut c) = limited("volatile-lru");
    let v = value();
    let mut refused = false;
    for i in 0..10_000 {
        let r: RedisResult<()> = redis::cmd("SET")
            .arg(format!("k:{i}"))
            .arg(&v)
            .query(&mut c);
        if let Err(e) = r {
            assert!(e.to_string().contains("OOM"), "{e}");
            refused = true;
            break;
        }
    }
    assert!(refused);
    assert_eq!(evicted(&mut c), 0);
}

#[test]
fn allkeys_random_and_lfu_evict() {
    for policy in ["allkeys-random", "allkeys-lfu"] {
        let (_s, mut c) = limited(policy);
        fill(&mut c, "k", 0..6000, None);
        assert!(evicted(&mut c) > 2000, "{policy}");
        assert!(dataset(&mut c) <= LIMIT + SLACK, "{policy}");
        let kept: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert!(kept > 1000 && kept < 6000, "{policy}: {kept}");
    }
}

#[test]
fn raising_the_limit_stops_eviction_and_zero_disables_it() {
    let (_s, mut c) = limited("allkeys-random");
    fill(&mut c, "k", 0..3000, None);
    let before = evicted(&mut c);
    assert!(before > 0);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query(&mut c)
        .unwrap();
    fill(&mut c, "m", 0..3000, None);
    assert_eq!(evicted(&mut c), before);
    assert!(dataset(&mut c) > LIMIT);
}

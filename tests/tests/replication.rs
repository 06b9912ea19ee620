//! Active-active replication end to end: three regions in this process,
//! every replication link behind a partition proxy, driven over RESP with the
//! `redis` crate. Each test asserts something users rely on: writes show up
//! everywhere, conflicts resolve the same way everywhere, nothing acknowledged
//! is lost to a partition, a restarted region catches up, and a bad peer or a
//! broken link never takes a region down.
//!
//! Every wait polls (`eventually`, `TestCluster::wait_converged`) with
//! generous timeouts; the only sleeps separate clock readings or pace the
//! chaos, and nothing is asserted from a sleep.
//!
//! The soak test draws its choices from `MERIDIAN_SOAK_SEED` if set (it
//! prints the seed it used); thread timing still varies between runs.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_tests::cluster::info_field;
use meridian_tests::{Mode, TestCluster, eventually};
use redis::{Connection, RedisResult};

/// How long anything that should happen may take.
const PATIENCE: Duration = Duration::from_secs(30);
/// Convergence after heavy chaos: links may sit in reconnect backoff (up to
/// 5 s) or a handshake timeout (5 s) when healed, then catch up on a debug
/// build that shares two cores with the other tests (it has taken over 45 s
/// while a build ran alongside).
const SOAK_PATIENCE: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn set(c: &mut Connection, key: &str, value: &str) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(c)
        .unwrap_or_else(|e| panic!("SET {key}: {e}"));
}

fn get(c: &mut Connection, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(c)
        .unwrap_or_else(|e| panic!("GET {key}: {e}"))
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

/// Runs a command given as words and returns its reply.
fn run<T: redis::FromRedisValue>(c: &mut Connection, words: &[&str]) -> T {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{words:?}: {e}"))
}

/// Polls `check` against every region (fresh connection per attempt) until
/// it holds in all of them; panics naming the first region where it never
/// did.
fn everywhere(cluster: &TestCluster, what: &str, check: impl Fn(&mut Connection) -> bool) {
    for i in 0..cluster.len() {
        let ok = eventually(PATIENCE, || {
            cluster.try_conn(i).is_ok_and(|mut c| check(&mut c))
        });
        assert!(ok, "region {i} never showed {what}\n{}", cluster.infos());
    }
}

/// A write to a key nobody else writes: once acknowledged it must be
/// present in every region at the end.
#[derive(Clone, Debug)]
struct Written {
    key: String,
    kind: Kind,
    value: String,
    region: usize,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `SET key value` (read back with GET).
    Str,
    /// `HSET key f value` (HGET key f).
    Hash,
    /// `SADD key value` (SRANDMEMBER: the only member).
    Set,
}

impl Written {
    fn new(key: String, kind: Kind, value: String, region: usize) -> Written {
        Written {
            key,
            kind,
            value,
            region,
        }
    }

    /// Performs the write on `c`.
    fn write(&self, c: &mut Connection) -> RedisResult<()> {
        match self.kind {
            Kind::Str => redis::cmd("SET").arg(&self.key).arg(&self.value).exec(c),
            Kind::Hash => redis::cmd("HSET")
                .arg(&self.key)
                .arg("f")
                .arg(&self.value)
                .exec(c),
            Kind::Set => redis::cmd("SADD").arg(&self.key).arg(&self.value).exec(c),
        }
    }

    fn read(&self, p: &mut redis::Pipeline) {
        match self.kind {
            Kind::Str => p.cmd("GET").arg(&self.key),
            Kind::Hash => p.cmd("HGET").arg(&self.key).arg("f"),
            Kind::Set => p.cmd("SRANDMEMBER").arg(&self.key),
        };
    }
}

/// Writes `n` unique string keys `{prefix}:{i}` to region `region`.
fn write_unique(
    cluster: &TestCluster,
    region: usize,
    prefix: &str,
    n: usize,
    out: &mut Vec<Written>,
) {
    let mut c = cluster.conn(region);
    for i in 0..n {
        let kind = match i % 3 {
            0 => Kind::Str,
            1 => Kind::Hash,
            _ => Kind::Set,
        };
        let w = Written::new(
            format!("{prefix}:{region}:{i}"),
            kind,
            format!("v{i}"),
            region,
        );
        w.write(&mut c)
            .unwrap_or_else(|e| panic!("write {}: {e}", w.key));
        out.push(w);
    }
}

/// Asserts that every write in `written` is visible in every region.
fn assert_present(cluster: &TestCluster, written: &[Written]) {
    let mut missing = Vec::new();
    let mut count = 0;
    for i in 0..cluster.len() {
        let mut c = cluster.conn(i);
        for chunk in written.chunks(500) {
            let mut p = redis::pipe();
            for w in chunk {
                w.read(&mut p);
            }
            let got: Vec<Option<String>> = p
                .query(&mut c)
                .unwrap_or_else(|e| panic!("reading back from region {i}: {e}"));
            for (w, got) in chunk.iter().zip(got) {
                if got.as_deref() != Some(w.value.as_str()) {
                    count += 1;
                    if missing.len() < 30 {
                        missing.push(format!(
                            "region {i}: {:?} {} (written to region {} as {:?}) reads {:?}",
                            w.kind, w.key, w.region, w.value, got
                        ));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{count} acknowledged writes (of {} × {} regions) are missing:\n{}\n{}",
        written.len(),
        cluster.len(),
        missing.join("\n"),
        cluster.divergence_report()
    );
}

/// A small deterministic generator (splitmix64), so a seed reproduces the
/// soak's choices without another dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}

/// The peers' snapshot counters of region `i`, summed.
fn snapshots_in(cluster: &TestCluster, i: usize) -> u64 {
    cluster.peers(i).iter().map(|p| p.snapshots_in).sum()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// Every kind of write made in one region shows up in every other, with its
/// TTL as the same absolute deadline.
#[test]
fn writes_of_every_type_reach_every_region() {
    let cluster = TestCluster::start(3);
    for i in 0..3 {
        let info = cluster.info_replication(i);
        assert_eq!(info_field(&info, "replication_mode"), Some("active-active"));
        assert_eq!(info_field(&info, "connected_regions"), Some("2"), "{info}");
        let peers = cluster.peers(i);
        assert_eq!(peers.len(), 2, "{info}");
        for p in &peers {
            assert_eq!(p.state, "up", "{info}");
            assert_ne!(p.index(), i);
            assert_eq!(p.name, cluster.name(p.index()));
        }
    }

    for w in 0..3 {
        let mut c = cluster.conn(w);
        let _: () = run(&mut c, &["SET", &format!("s{w}"), &format!("v{w}")]);
        let _: () = run(&mut c, &["SET", &format!("ex{w}"), "e", "EX", "100"]);
        let _: () = run(&mut c, &["HSET", &format!("h{w}"), "f1", "a", "f2", "b"]);
        let _: () = run(&mut c, &["SADD", &format!("set{w}"), "x", "y", "z"]);
        let _: () = run(&mut c, &["ZADD", &format!("z{w}"), "1", "m1", "2.5", "m2"]);
        let _: () = run(&mut c, &["RPUSH", &format!("l{w}"), "1", "2", "3"]);
        let _: () = run(&mut c, &["INCR", &format!("n{w}")]);
        let _: () = run(&mut c, &["INCR", &format!("n{w}")]);
    }
    for w in 0..3 {
        everywhere(&cluster, &format!("region {w}'s writes"), |c| {
            get(c, &format!("s{w}")) == Some(format!("v{w}"))
                && get(c, &format!("ex{w}")).as_deref() == Some("e")
                && get(c, &format!("n{w}")).as_deref() == Some("2")
                && run::<Vec<(String, String)>>(c, &["HGETALL", &format!("h{w}")]).len() == 2
                && run::<Vec<String>>(c, &["SMEMBERS", &format!("set{w}")]).len() == 3
                && run::<Vec<String>>(c, &["LRANGE", &format!("l{w}"), "0", "-1"])
                    == ["1", "2", "3"]
        });
    }
    // Exact contents, and the deadline of `ex*` is one absolute time.
    for w in 0..3 {
        let mut deadlines = Vec::new();
        for i in 0..3 {
            let mut c = cluster.conn(i);
            let mut h: Vec<(String, String)> = run(&mut c, &["HGETALL", &format!("h{w}")]);
            h.sort();
            assert_eq!(h, [pair("f1", "a"), pair("f2", "b")]);
            let mut s: Vec<String> = run(&mut c, &["SMEMBERS", &format!("set{w}")]);
            s.sort();
            assert_eq!(s, ["x", "y", "z"]);
            let z: Vec<(String, f64)> = run(
                &mut c,
                &["ZRANGE", &format!("z{w}"), "0", "-1", "WITHSCORES"],
            );
            assert_eq!(z, [("m1".to_string(), 1.0), ("m2".to_string(), 2.5)]);
            let ttl: i64 = run(&mut c, &["TTL", &format!("ex{w}")]);
            assert!((90..=100).contains(&ttl), "region {i}: TTL ex{w} = {ttl}");
            let at: i64 = run(&mut c, &["PEXPIRETIME", &format!("ex{w}")]);
            deadlines.push(at);
            let ttl: i64 = run(&mut c, &["TTL", &format!("s{w}")]);
            assert_eq!(ttl, -1, "region {i}: s{w} has no TTL");
        }
        assert!(
            deadlines.iter().all(|d| *d == deadlines[0] && *d > 0),
            "ex{w} expires at different times: {deadlines:?}"
        );
    }

    // Changes to another region's keys: EXPIRE, INCR, DEL, an overwrite.
    let mut c1 = cluster.conn(1);
    let _: () = run(&mut c1, &["EXPIRE", "s0", "500"]);
    let _: () = run(&mut c1, &["INCR", "n0"]);
    let _: () = run(&mut c1, &["DEL", "h2", "set0", "l2"]);
    let _: () = run(&mut c1, &["SET", "z1", "now a string"]);
    let at: i64 = run(&mut c1, &["PEXPIRETIME", "s0"]);
    everywhere(&cluster, "region 1's changes", |c| {
        run::<i64>(c, &["PEXPIRETIME", "s0"]) == at
            && get(c, "n0").as_deref() == Some("3")
            && run::<i64>(c, &["EXISTS", "h2", "set0", "l2"]) == 0
            // Still a sorted set until the SET arrives: WRONGTYPE till then.
            && redis::cmd("GET")
                .arg("z1")
                .query::<Option<String>>(c)
                .is_ok_and(|v| v.as_deref() == Some("now a string"))
    });
    // PERSIST replicates too.
    let _: () = run(&mut cluster.conn(2), &["PERSIST", "ex1"]);
    everywhere(&cluster, "PERSIST ex1", |c| {
        run::<i64>(c, &["TTL", "ex1"]) == -1
    });
    // A short TTL expires everywhere and nothing brings the key back.
    let _: () = run(&mut cluster.conn(0), &["SET", "brief", "x", "PX", "300"]);
    everywhere(&cluster, "brief expired", |c| get(c, "brief").is_none());
    cluster.wait_converged(PATIENCE);
}

/// Counters: 7, then +3 in one region and +5 in another while they cannot
/// talk → 15 everywhere; a DEL cancels only the increments it saw.
#[test]
fn concurrent_increments_all_count_and_a_delete_cancels_only_what_it_saw() {
    let cluster = TestCluster::start(3);
    set(&mut cluster.conn(0), "k", "7");
    set(&mut cluster.conn(0), "d", "7");
    cluster.wait_converged(PATIENCE);
    for ((_, _), p) in cluster.all_links() {
        p.hold();
    }
    let n: i64 = run(&mut cluster.conn(1), &["INCRBY", "k", "3"]);
    assert_eq!(n, 10);
    let n: i64 = run(&mut cluster.conn(2), &["INCRBY", "k", "5"]);
    assert_eq!(n, 12);
    let _: i64 = run(&mut cluster.conn(0), &["DEL", "d"]);
    let _: i64 = run(&mut cluster.conn(1), &["INCRBY", "d", "3"]);
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    for i in 0..3 {
        let mut c = cluster.conn(i);
        assert_eq!(get(&mut c, "k").as_deref(), Some("15"), "region {i}");
        assert_eq!(get(&mut c, "d").as_deref(), Some("3"), "region {i}");
    }
    // Increments made after seeing each other simply add.
    let n: i64 = run(&mut cluster.conn(2), &["DECRBY", "k", "20"]);
    assert_eq!(n, -5);
    cluster.wait_converged(PATIENCE);
    assert_eq!(get(&mut cluster.conn(0), "k").as_deref(), Some("-5"));
}

/// Regions writing one key at once end up agreeing on one of the values,
/// and the last write (by time) wins.
#[test]
fn concurrent_conflicting_sets_converge_on_one_value() {
    let cluster = TestCluster::start(3);
    const N: usize = 200;
    thread::scope(|s| {
        for i in 0..3 {
            let cluster = &cluster;
            s.spawn(move || {
                let mut c = cluster.conn(i);
                for n in 0..N {
                    set(&mut c, "hot", &format!("r{i}-{n}"));
                    // A second key, written in MULTI with the first.
                    let _: () = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg("hot2")
                        .arg(format!("r{i}-{n}"))
                        .cmd("HSET")
                        .arg("hot-h")
                        .arg("f")
                        .arg(format!("r{i}-{n}"))
                        .query(&mut c)
                        .unwrap_or_else(|e| panic!("MULTI: {e}"));
                }
            });
        }
    });
    cluster.wait_converged(PATIENCE);
    let values: Vec<Option<String>> = (0..3).map(|i| get(&mut cluster.conn(i), "hot")).collect();
    assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
    let last: Vec<String> = (0..3).map(|i| format!("r{i}-{}", N - 1)).collect();
    let v = values[0].clone().unwrap_or_default();
    assert!(
        last.contains(&v),
        "the winner must be some region's last write, got {v}"
    );

    // With every link stalled, each region writes in turn; the regions'
    // clocks are one clock here, and writes 2 ms apart have different
    // milliseconds, so the last write must win everywhere once they talk.
    for ((_, _), p) in cluster.all_links() {
        p.hold();
    }
    for (i, v) in ["first", "second", "third"].iter().enumerate() {
        set(&mut cluster.conn(i), "lww", v);
        thread::sleep(Duration::from_millis(2));
    }
    for (i, v) in ["first", "second", "third"].iter().enumerate() {
        assert_eq!(get(&mut cluster.conn(i), "lww").as_deref(), Some(*v));
    }
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    for i in 0..3 {
        assert_eq!(
            get(&mut cluster.conn(i), "lww").as_deref(),
            Some("third"),
            "region {i}"
        );
    }
}

/// A DEL only removes what its region had seen: a SET made concurrently
/// elsewhere survives it in every region, and so does a concurrent HSET's
/// field (not the fields the DEL saw), whatever order the third region
/// hears of them. A DEL that has seen the write removes it everywhere.
#[test]
fn a_delete_concurrent_with_a_write_does_not_remove_it() {
    let cluster = TestCluster::start(3);
    // Which links stall while region 1 deletes and region 0 writes: only
    // theirs; also 0–2 (region 2 hears of the delete first); also 1–2 (it
    // hears of the write first).
    let cases: [&[(usize, usize)]; 3] = [&[(0, 1)], &[(0, 1), (0, 2)], &[(0, 1), (1, 2)]];
    for (n, held) in cases.iter().enumerate() {
        let (k, h) = (format!("k{n}"), format!("h{n}"));
        let mut c0 = cluster.conn(0);
        set(&mut c0, &k, "old");
        let _: () = run(&mut c0, &["HSET", &h, "a", "1"]);
        everywhere(&cluster, "the old values", |c| {
            get(c, &k).as_deref() == Some("old") && run::<i64>(c, &["EXISTS", &h]) == 1
        });

        for &(i, j) in held.iter() {
            cluster.link(i, j).hold();
        }
        let deleted: i64 = run(&mut cluster.conn(1), &["DEL", &k, &h]);
        assert_eq!(deleted, 2);
        set(&mut c0, &k, "new");
        let _: () = run(&mut c0, &["HSET", &h, "b", "2"]);
        cluster.heal_all();
        cluster.wait_converged(PATIENCE);
        for i in 0..3 {
            let mut c = cluster.conn(i);
            assert_eq!(
                get(&mut c, &k).as_deref(),
                Some("new"),
                "case {n}: region {i} lost the concurrent SET"
            );
            let mut fields: Vec<(String, String)> = run(&mut c, &["HGETALL", &h]);
            fields.sort();
            // The DEL removed the field it saw; the concurrent HSET's field
            // survives it.
            assert_eq!(fields, [pair("b", "2")], "case {n}: region {i}");
        }

        // Now region 1 has seen the write: its DEL removes it everywhere.
        let deleted: i64 = run(&mut cluster.conn(1), &["DEL", &k, &h]);
        assert_eq!(deleted, 2);
        cluster.wait_converged(PATIENCE);
        everywhere(&cluster, "the delete", |c| {
            run::<i64>(c, &["EXISTS", &k, &h]) == 0
        });
    }
}

/// Two regions write one key concurrently, the later write with a short
/// TTL that runs out before the regions talk again: once they do, every
/// region shows the same thing — the other write, which is still live.
#[test]
fn a_concurrent_version_that_expires_during_a_partition_still_converges() {
    let cluster = TestCluster::start(3);
    let mut failures = Vec::new();
    // The other version without a TTL, then with a long one.
    for (n, other_ttl) in [None, Some("100000")].into_iter().enumerate() {
        let key = format!("k{n}");
        set(&mut cluster.conn(0), &key, "base");
        everywhere(&cluster, "the base value", |c| {
            get(c, &key).as_deref() == Some("base")
        });
        for ((_, _), p) in cluster.all_links() {
            p.hold();
        }
        let mut c1 = cluster.conn(1);
        match other_ttl {
            None => set(&mut c1, &key, "lasting"),
            Some(ms) => {
                let _: () = run(&mut c1, &["SET", &key, "lasting", "PX", ms]);
            }
        }
        // Later by the clock, so it is the last writer.
        thread::sleep(Duration::from_millis(2));
        let mut c0 = cluster.conn(0);
        let _: () = run(&mut c0, &["SET", &key, "brief", "PX", "200"]);
        assert!(
            eventually(PATIENCE, || get(&mut c0, &key).is_none()),
            "{key} never expired in region 0"
        );
        cluster.heal_all();
        // Nothing is left to reconnect (the links were only held), so a
        // healthy cluster agrees at once; 15 s is generous.
        let converged = cluster.try_wait_converged(Duration::from_secs(15));
        let shown: Vec<(Option<String>, i64)> = (0..3)
            .map(|i| {
                let mut c = cluster.conn(i);
                (get(&mut c, &key), run(&mut c, &["PEXPIRETIME", &key]))
            })
            .collect();
        if let Err(report) = converged {
            failures.push(format!(
                "case {n} (the other version's TTL: {other_ttl:?} ms): regions disagree on \
                 {key}; (value, PEXPIRETIME) per region: {shown:?}\n{report}"
            ));
            // Start the next case from agreement.
            let _: () = run(&mut cluster.conn(0), &["DEL", &key]);
            cluster.wait_converged(PATIENCE);
        } else if shown.iter().any(|(v, _)| v.as_deref() != Some("lasting")) {
            // Each version lives until its own deadline: the expired one is
            // dead everywhere, so the concurrent one it beat is shown.
            failures.push(format!(
                "case {n}: converged, but not on the live version: {shown:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// PUBLISH in one region reaches subscribers in every region, once each.
#[test]
fn publish_reaches_subscribers_in_every_region() {
    let cluster = TestCluster::start(3);
    let mut conns: Vec<Connection> = (0..3).map(|i| cluster.conn(i)).collect();
    let mut subs: Vec<redis::PubSub<'_>> = conns.iter_mut().map(|c| c.as_pubsub()).collect();
    for s in &mut subs {
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
        s.subscribe("news").expect("subscribe");
    }
    let mut publisher = cluster.conn(0);
    // PUBLISH counts the receivers in its own region only.
    let local: i64 = run(&mut publisher, &["PUBLISH", "news", "hello"]);
    assert_eq!(local, 1);
    let _: i64 = run(&mut cluster.conn(2), &["PUBLISH", "news", "from 2"]);
    for (i, s) in subs.iter_mut().enumerate() {
        let mut got = Vec::new();
        for _ in 0..2 {
            let m = s
                .get_message()
                .unwrap_or_else(|e| panic!("region {i}: no message: {e}"));
            assert_eq!(m.get_channel_name(), "news");
            got.push(m.get_payload::<String>().expect("payload"));
        }
        got.sort();
        assert_eq!(got, ["from 2", "hello"], "region {i}");
    }
    // No duplicates: the next message each subscriber gets is the next one
    // published.
    let _: i64 = run(&mut cluster.conn(1), &["PUBLISH", "news", "last"]);
    for (i, s) in subs.iter_mut().enumerate() {
        let m = s
            .get_message()
            .unwrap_or_else(|e| panic!("region {i}: no message: {e}"));
        assert_eq!(m.get_payload::<String>().expect("payload"), "last");
    }
}

/// One region cut off (its traffic dropped, stalled or cut) while every
/// region keeps writing, conflicting keys included: once healed, all agree
/// and every acknowledged write is everywhere.
#[test]
fn a_partitioned_region_catches_up_and_no_acknowledged_write_is_lost() {
    let cluster = TestCluster::start(3);
    let mut written = Vec::new();
    let phases = [(2, Mode::Drop), (0, Mode::Hold), (1, Mode::Cut)];
    for (phase, (isolated, mode)) in phases.into_iter().enumerate() {
        cluster.isolate(isolated, mode);
        let prefix = format!("p{phase}");
        for r in 0..3 {
            write_unique(&cluster, r, &prefix, 60, &mut written);
            let mut c = cluster.conn(r);
            set(&mut c, "conflict", &format!("{prefix}-r{r}"));
            let _: () = run(&mut c, &["HSET", "shared-h", &format!("f{r}"), &prefix]);
            let _: () = run(&mut c, &["INCR", "counter"]);
            let _: () = run(&mut c, &["SADD", "shared-s", &format!("{prefix}-{r}")]);
        }
        // The partition holds: the others replicate among themselves, the
        // isolated region hears nothing of them.
        let others: Vec<usize> = (0..3).filter(|&r| r != isolated).collect();
        let (a, b) = (others[0], others[1]);
        let last_of_a = format!("{prefix}:{a}:59");
        everywhere_of(&cluster, &[b], &last_of_a);
        let mut ci = cluster.conn(isolated);
        assert_eq!(
            run::<i64>(&mut ci, &["EXISTS", &last_of_a]),
            0,
            "phase {phase}: region {isolated} is isolated ({mode:?}) but got {last_of_a}"
        );

        cluster.heal(isolated);
        cluster.wait_converged(PATIENCE);
        assert_present(&cluster, &written);
        // Concurrent INCRs on both sides of the partition all count.
        for r in 0..3 {
            let n: i64 = run(&mut cluster.conn(r), &["GET", "counter"]);
            assert_eq!(n, 3 * (phase as i64 + 1), "phase {phase}: region {r}");
        }
    }
}

/// A path that swallows traffic without closing the connection (a black
/// hole) is noticed after `repl-timeout`: both ends drop the link and dial
/// again, rather than showing it up while nothing flows. Once the path
/// heals, the regions converge.
#[test]
fn a_silent_link_is_dropped_after_repl_timeout_and_redialled() {
    let cluster = TestCluster::start_with(2, |c| c.repl_timeout = 1);
    let shown: Vec<String> = run(&mut cluster.conn(0), &["CONFIG", "GET", "repl-timeout"]);
    assert_eq!(shown, ["repl-timeout", "1"]);
    set(&mut cluster.conn(0), "before", "1");
    everywhere(&cluster, "before", |c| {
        get(c, "before").as_deref() == Some("1")
    });
    let link = cluster.link(0, 1);
    let dialled = link.accepted();

    link.drop_traffic();
    set(&mut cluster.conn(0), "during", "1");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let states: Vec<String> = (0..2).map(|i| cluster.peers(i)[0].state.clone()).collect();
        if states.iter().all(|s| s != "up") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a link that carried nothing for 15 s (repl-timeout 1 s) still shows {states:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    // The dialling region tries again (into the same black hole).
    let deadline = Instant::now() + Duration::from_secs(15);
    while link.accepted() == dialled {
        assert!(
            Instant::now() < deadline,
            "no new dial after the link went silent"
        );
        thread::sleep(Duration::from_millis(100));
    }

    link.pass();
    cluster.wait_converged(PATIENCE);
    assert_eq!(get(&mut cluster.conn(1), "during").as_deref(), Some("1"));
    for i in 0..2 {
        assert_eq!(cluster.peers(i)[0].state, "up", "region {i} after healing");
    }
}

/// WAIT counts the regions that applied this region's writes: both others
/// while all links are up, only the reachable one while a region is cut off
/// (after the timeout), and both again once the link heals.
#[test]
fn wait_counts_the_regions_that_applied_our_writes() {
    let cluster = TestCluster::start(3);
    let mut c = cluster.conn(0);
    set(&mut c, "w1", "v");
    assert_eq!(run::<i64>(&mut c, &["WAIT", "2", "0"]), 2);
    assert_eq!(get(&mut cluster.conn(2), "w1").as_deref(), Some("v"));

    cluster.partition(2);
    set(&mut c, "w2", "v");
    assert_eq!(run::<i64>(&mut c, &["WAIT", "1", "0"]), 1);
    assert_eq!(run::<i64>(&mut c, &["WAIT", "2", "300"]), 1);
    cluster.heal(2);
    assert_eq!(run::<i64>(&mut c, &["WAIT", "2", "0"]), 2);
    assert_eq!(get(&mut cluster.conn(2), "w2").as_deref(), Some("v"));
    // Inside MULTI it answers at once with the current count.
    let _: () = run(&mut c, &["MULTI"]);
    let _: () = run(&mut c, &["WAIT", "5", "0"]);
    let replies: Vec<i64> = run(&mut c, &["EXEC"]);
    assert_eq!(replies, vec![2]);
}

/// Polls until `key` exists in each of `regions`.
fn everywhere_of(cluster: &TestCluster, regions: &[usize], key: &str) {
    for &i in regions {
        let ok = eventually(PATIENCE, || {
            cluster
                .try_conn(i)
                .is_ok_and(|mut c| run::<i64>(&mut c, &["EXISTS", key]) == 1)
        });
        assert!(ok, "region {i} never got {key}\n{}", cluster.infos());
    }
}

/// A region restarted empty is caught up by a snapshot, including what
/// changed while it was down, and goes on replicating both ways; the region
/// that dials (lowest id) as well as one that is dialled.
#[test]
fn a_restarted_region_catches_up_by_snapshot() {
    let cluster = TestCluster::start(3);
    let mut written = Vec::new();
    for r in 0..3 {
        write_unique(&cluster, r, "before", 30, &mut written);
    }
    let mut c0 = cluster.conn(0);
    set(&mut c0, "doomed", "x");
    set(&mut c0, "changed", "old");
    let _: () = run(&mut c0, &["SET", "ttl", "t", "EX", "1000"]);
    let _: () = run(&mut c0, &["ZADD", "zs", "1", "a", "2", "b"]);
    let _: () = run(&mut c0, &["RPUSH", "list", "a", "b"]);
    cluster.wait_converged(PATIENCE);

    cluster.stop(2);
    assert!(cluster.try_conn(2).is_err());
    let mut c0 = cluster.conn(0);
    for r in [0, 1] {
        write_unique(&cluster, r, "while-down", 30, &mut written);
    }
    let _: () = run(&mut c0, &["DEL", "doomed"]);
    set(&mut cluster.conn(1), "changed", "new");
    cluster.start_region(2);
    assert_eq!(
        info_field(&cluster.info_replication(2), "connected_regions"),
        Some("2")
    );
    let digest = cluster.wait_converged(PATIENCE);
    assert!(
        snapshots_in(&cluster, 2) >= 1,
        "region 2 came back empty but took no snapshot\n{}",
        cluster.info_replication(2)
    );
    assert_present(&cluster, &written);
    let mut c2 = cluster.conn(2);
    assert_eq!(get(&mut c2, "doomed"), None);
    assert_eq!(get(&mut c2, "changed").as_deref(), Some("new"));
    let ttl: i64 = run(&mut c2, &["TTL", "ttl"]);
    assert!((900..=1000).contains(&ttl), "TTL after snapshot: {ttl}");
    let list: Vec<String> = run(&mut c2, &["LRANGE", "list", "0", "-1"]);
    assert_eq!(list, ["a", "b"]);
    assert_ne!(digest, "0".repeat(40));

    // It replicates its own writes again.
    write_unique(&cluster, 2, "after", 30, &mut written);
    cluster.wait_converged(PATIENCE);
    assert_present(&cluster, &written);

    // The region that dials both others.
    cluster.restart(0);
    let mut c1 = cluster.conn(1);
    let _: () = run(&mut c1, &["DEL", "changed"]);
    cluster.wait_converged(PATIENCE);
    assert!(
        snapshots_in(&cluster, 0) >= 1,
        "region 0 came back empty but took no snapshot\n{}",
        cluster.info_replication(0)
    );
    write_unique(&cluster, 0, "after-0", 30, &mut written);
    cluster.wait_converged(PATIENCE);
    assert_present(&cluster, &written);
    assert_eq!(get(&mut cluster.conn(0), "changed"), None);
}

/// Garbage on a replication listener, and a link cut or corrupted while
/// changes stream over it, never stop a region: it keeps serving RESP and
/// replication recovers with nothing acknowledged lost.
#[test]
fn garbage_and_broken_links_do_not_take_a_region_down() {
    let cluster = TestCluster::start(3);
    set(&mut cluster.conn(0), "before", "x");
    cluster.wait_converged(PATIENCE);

    // Straight to every region's replication listener, past the proxies.
    let mut silent = Vec::new();
    for i in 0..3 {
        let addr = cluster.repl_addr(i);
        let garbage: [&[u8]; 4] = [
            b"GET / HTTP/1.1\r\nHost: meridian\r\n\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            &[0xff; 4096],
            // A TLS handshake record announcing more than it sends.
            &[
                0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ],
        ];
        for bytes in garbage {
            let mut s = TcpStream::connect(addr).expect("connect to the replication port");
            s.set_read_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let _ = s.write_all(bytes);
            let mut sink = [0u8; 1024];
            // Whatever comes back (a TLS alert, nothing); the region may
            // also keep the connection open until its handshake timeout.
            let _ = s.read(&mut sink);
        }
        // Half a frame, then silence, kept open for the rest of the test.
        let mut half = TcpStream::connect(addr).expect("connect to the replication port");
        let _ = half.write_all(&[0x16, 0x03, 0x01]);
        silent.push(half);
        silent.push(TcpStream::connect(addr).expect("connect to the replication port"));
    }
    let mut written = Vec::new();
    for i in 0..3 {
        let pong: String = run(&mut cluster.conn(i), &["PING"]);
        assert_eq!(pong, "PONG", "region {i}");
        write_unique(&cluster, i, "after-garbage", 20, &mut written);
    }
    cluster.wait_converged(PATIENCE);
    assert_present(&cluster, &written);

    // Links broken mid-stream while big changes flow from regions 0 and 2.
    let stop = AtomicBool::new(false);
    let streamed = Mutex::new(Vec::new());
    thread::scope(|s| {
        let _stop_writers = StopOnDrop(&stop);
        for r in [0, 2] {
            let (cluster, stop, streamed) = (&cluster, &stop, &streamed);
            s.spawn(move || {
                let mut c = cluster.conn(r);
                let big = "x".repeat(32 << 10);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let w = Written::new(format!("big:{r}:{n}"), Kind::Str, format!("{n}{big}"), r);
                    w.write(&mut c)
                        .unwrap_or_else(|e| panic!("region {r} refused a write: {e}"));
                    streamed.lock().expect("lock").push(w);
                    n += 1;
                }
            });
        }
        let flowing = |p: &meridian_tests::Proxy| {
            let before = p.bytes_to_upstream() + p.bytes_to_client();
            eventually(PATIENCE, || {
                p.bytes_to_upstream() + p.bytes_to_client() > before + (256 << 10)
            })
        };
        for round in 0..6 {
            // Alternately the link 0–1 (cut) and 1–2 (garbled: bytes dropped,
            // then the stream goes on without them).
            let (link, garble) = if round % 2 == 0 {
                (cluster.link(0, 1), false)
            } else {
                (cluster.link(1, 2), true)
            };
            assert!(
                flowing(link),
                "round {round}: nothing flows\n{}",
                cluster.infos()
            );
            let accepted = link.accepted();
            if garble {
                let dropped = link.bytes_dropped();
                link.drop_traffic();
                assert!(
                    eventually(PATIENCE, || link.bytes_dropped() > dropped),
                    "round {round}: nothing to drop"
                );
            } else {
                link.cut();
            }
            link.pass();
            // The link is dialled again (a garbled one once it notices).
            let redialled = eventually(PATIENCE, || link.accepted() > accepted);
            assert!(
                redialled,
                "round {round}: link not redialled\n{}",
                cluster.infos()
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    for i in 0..3 {
        let pong: String = run(&mut cluster.conn(i), &["PING"]);
        assert_eq!(pong, "PONG", "region {i}");
    }
    cluster.wait_converged(PATIENCE);
    let streamed = streamed.into_inner().expect("lock");
    assert!(
        streamed.len() > 10,
        "only {} writes streamed",
        streamed.len()
    );
    written.extend(streamed);
    assert_present(&cluster, &written);
    drop(silent);
}

// ---------------------------------------------------------------------------
// Soak
// ---------------------------------------------------------------------------

/// How long the soak writes and breaks links.
const SOAK: Duration = Duration::from_secs(8);
/// Client threads.
const WRITERS: usize = 3;
/// Shared keys per type (conflicts are the point).
const SHARED: u64 = 6;

/// What one writer did.
#[derive(Default)]
struct WriterReport {
    unique: Vec<Written>,
    ops: u64,
    io_errors: u64,
    /// Errors the server sent (none expected).
    server_errors: Vec<String>,
    /// The short TTLs this writer set.
    short_ttls: ShortTtls,
    /// Per tally key (written only by INCR): increments acknowledged, and
    /// increments whose reply was lost (they may or may not have counted).
    tallies: HashMap<String, (i64, i64)>,
    /// Acknowledged SADDs to bag keys (written only by SADD): (key, member).
    bags: Vec<(String, String)>,
    /// Queue keys (written only by RPUSH of unique elements and LPOP):
    /// acknowledged pushes as (key, element).
    pushed: Vec<(String, String)>,
    /// Per queue key: elements LPOP returned, and pops whose reply was lost
    /// (each may have taken an element nobody saw).
    popped: HashMap<String, (Vec<String>, usize)>,
}

/// One random write to `c` (region `r`); returns the unique write it made,
/// if any, once acknowledged.
fn random_write(
    rng: &mut Rng,
    c: &mut Connection,
    t: usize,
    seq: u64,
    r: usize,
    report: &mut WriterReport,
) -> RedisResult<Option<Written>> {
    let WriterReport {
        short_ttls: ttls,
        tallies,
        bags,
        pushed,
        popped,
        ..
    } = report;
    let k = rng.below(SHARED);
    let roll = rng.below(100);
    let unique = |prefix: &str, kind| {
        Written::new(format!("{prefix}:{t}:{seq}"), kind, format!("v{seq}"), r)
    };
    match roll {
        0..=24 => {
            let w = unique("u", Kind::Str);
            if rng.below(2) == 0 {
                w.write(c)?;
            } else {
                redis::cmd("SET")
                    .arg(&w.key)
                    .arg(&w.value)
                    .arg("EX")
                    .arg(3600)
                    .exec(c)?;
            }
            Ok(Some(w))
        }
        25..=31 => {
            let w = unique("uh", Kind::Hash);
            w.write(c)?;
            Ok(Some(w))
        }
        32..=37 => {
            let w = unique("us", Kind::Set);
            w.write(c)?;
            Ok(Some(w))
        }
        38..=39 => {
            // A unique key and a shared one in one transaction.
            let w = unique("ut", Kind::Str);
            redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&w.key)
                .arg(&w.value)
                .cmd("SET")
                .arg(format!("c:{k}"))
                .arg(format!("tx-r{r}-{t}-{seq}"))
                .exec(c)?;
            Ok(Some(w))
        }
        40..=49 => {
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("c:{k}")).arg(format!("r{r}-{t}-{seq}"));
            if rng.below(4) == 0 {
                cmd.arg("PX").arg(ttls.pick(rng));
            }
            cmd.exec(c)?;
            Ok(None)
        }
        50..=52 => {
            redis::cmd("INCR").arg(format!("n:{k}")).exec(c)?;
            Ok(None)
        }
        53..=55 => {
            // Only INCR touches tally keys: concurrent increments in every
            // region must all count.
            let tally = tallies.entry(format!("tally:{k}")).or_default();
            tally.1 += 1;
            redis::cmd("INCR").arg(format!("tally:{k}")).exec(c)?;
            tally.1 -= 1;
            tally.0 += 1;
            Ok(None)
        }
        56..=61 => {
            redis::cmd("HSET")
                .arg(format!("h:{k}"))
                .arg(format!("f{}", rng.below(10)))
                .arg(seq)
                .exec(c)?;
            Ok(None)
        }
        62..=64 => {
            // Only SADD touches bag keys: members added concurrently in
            // every region must all be there.
            let (key, member) = (format!("bag:{k}"), format!("t{t}-{seq}"));
            redis::cmd("SADD").arg(&key).arg(&member).exec(c)?;
            bags.push((key, member));
            Ok(None)
        }
        65..=67 => {
            let cmd = if rng.below(4) == 0 { "SREM" } else { "SADD" };
            redis::cmd(cmd)
                .arg(format!("s:{k}"))
                .arg(format!("m{}", rng.below(20)))
                .exec(c)?;
            Ok(None)
        }
        68..=73 => {
            redis::cmd("ZADD")
                .arg(format!("z:{k}"))
                .arg(rng.below(1000))
                .arg(format!("m{}", rng.below(20)))
                .exec(c)?;
            Ok(None)
        }
        77..=78 => {
            // Concurrent pushes in every region must all land.
            let (key, element) = (format!("q:{k}"), format!("t{t}-{seq}"));
            redis::cmd("RPUSH").arg(&key).arg(&element).exec(c)?;
            pushed.push((key, element));
            Ok(None)
        }
        79 => {
            let key = format!("q:{k}");
            let pops = popped.entry(key.clone()).or_default();
            pops.1 += 1;
            let got: Option<String> = redis::cmd("LPOP").arg(&key).query(c)?;
            pops.1 -= 1;
            pops.0.extend(got);
            Ok(None)
        }
        74..=76 => {
            redis::pipe()
                .atomic()
                .cmd("RPUSH")
                .arg(format!("l:{k}"))
                .arg(seq)
                .cmd("LTRIM")
                .arg(format!("l:{k}"))
                .arg(-20)
                .arg(-1)
                .exec(c)?;
            Ok(None)
        }
        80..=87 => {
            redis::cmd("DEL").arg(shared_key(rng, k)).exec(c)?;
            Ok(None)
        }
        88..=94 => {
            let key = shared_key(rng, k);
            if rng.below(3) == 0 {
                redis::cmd("PEXPIRE").arg(key).arg(ttls.pick(rng)).exec(c)?;
            } else {
                redis::cmd("EXPIRE").arg(key).arg(1000).exec(c)?;
            }
            Ok(None)
        }
        _ => {
            redis::cmd("PERSIST").arg(shared_key(rng, k)).exec(c)?;
            Ok(None)
        }
    }
}

/// The TTLs the soak sets on shared keys: short ones (that run out during
/// the soak, partitions included) unless `MERIDIAN_SOAK_SHORT_TTLS=0`, which
/// leaves them out to look for faults that do not involve expiry.
struct ShortTtls {
    enabled: bool,
    /// When the last short TTL set runs out.
    until: Option<Instant>,
}

impl Default for ShortTtls {
    fn default() -> ShortTtls {
        ShortTtls {
            enabled: std::env::var("MERIDIAN_SOAK_SHORT_TTLS").map_or(true, |v| v != "0"),
            until: None,
        }
    }
}

impl ShortTtls {
    /// A TTL in ms for a write made now.
    fn pick(&mut self, rng: &mut Rng) -> u64 {
        let ms = 100 + rng.below(1500);
        if !self.enabled {
            return 1_000_000 + ms;
        }
        let at = Instant::now() + Duration::from_millis(ms);
        if self.until.is_none_or(|u| u < at) {
            self.until = Some(at);
        }
        ms
    }
}

/// A shared key of a random type.
fn shared_key(rng: &mut Rng, k: u64) -> String {
    let prefix = ["c", "n", "h", "s", "z", "l"][rng.index(6)];
    format!("{prefix}:{k}")
}

/// Writes random commands to random regions until `stop`. A region whose
/// gate is held (being restarted) is skipped; a connection that fails is
/// dropped and dialled again.
fn writer(
    t: usize,
    seed: u64,
    cluster: &TestCluster,
    stop: &AtomicBool,
    gates: &[RwLock<()>],
) -> WriterReport {
    let mut rng = Rng::new(seed ^ (t as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut conns: Vec<Option<Connection>> = (0..cluster.len()).map(|_| None).collect();
    let mut report = WriterReport::default();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let r = rng.index(cluster.len());
        let Ok(_gate) = gates[r].try_read() else {
            thread::yield_now();
            continue;
        };
        if conns[r].is_none() {
            conns[r] = cluster.try_conn(r).ok();
        }
        let Some(c) = conns[r].as_mut() else {
            continue;
        };
        seq += 1;
        report.ops += 1;
        match random_write(&mut rng, c, t, seq, r, &mut report) {
            Ok(Some(w)) => report.unique.push(w),
            Ok(None) => {}
            Err(e) if e.code().is_some() => {
                report.server_errors.push(format!("region {r}: {e}"));
            }
            Err(_) => {
                report.io_errors += 1;
                conns[r] = None;
            }
        }
    }
    report
}

/// Raises its flag when dropped, panicking included.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Random writes of every type from several threads to all regions while
/// links are stalled, garbled, cut and healed at random and one region is
/// restarted: once healed, every region holds the same data and every
/// acknowledged unique-key write.
#[test]
fn randomized_soak_converges_without_losing_acknowledged_writes() {
    let seed = std::env::var("MERIDIAN_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("soak seed: MERIDIAN_SOAK_SEED={seed}");
    // The test harness shows that line only once the test ends; a soak that
    // hangs (it has once, at ~190 % CPU) would never show its seed. Well past
    // its budget (8 s of load, then patience), name the seed on stderr
    // directly, around the capture.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(300));
        let _ = writeln!(
            std::io::stderr(),
            "soak still running after 300 s: MERIDIAN_SOAK_SEED={seed}"
        );
    });
    let cluster = TestCluster::start(3);
    let stop = AtomicBool::new(false);
    let gates: Vec<RwLock<()>> = (0..3).map(|_| RwLock::new(())).collect();
    let mut chaos = Vec::new();
    let mut restarted = None;
    let reports: Vec<WriterReport> = thread::scope(|s| {
        // A panic in the chaos loop below (a region that does not catch up
        // in time) must stop the writers too, or the scope waits for them
        // forever and the test hangs instead of failing.
        let _stop_writers = StopOnDrop(&stop);
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (cluster, stop, gates) = (&cluster, &stop, &gates[..]);
                s.spawn(move || writer(t, seed, cluster, stop, gates))
            })
            .collect();
        let mut rng = Rng::new(seed);
        let links: Vec<(usize, usize)> = cluster.all_links().map(|(k, _)| k).collect();
        let started = Instant::now();
        while started.elapsed() < SOAK {
            thread::sleep(Duration::from_millis(100 + rng.below(400)));
            if restarted.is_none() && started.elapsed() > SOAK / 2 {
                let r = rng.index(3);
                restarted = Some(r);
                // Nothing new goes to r, and what it acknowledged reaches
                // its peers before it stops (replication is asynchronous:
                // a region that dies loses what it had not shipped).
                let gate = gates[r].write().expect("gate");
                cluster.heal(r);
                cluster.wait_shipped(r, SOAK_PATIENCE);
                chaos.push(format!("{:?}: restart region {r}", started.elapsed()));
                cluster.restart(r);
                drop(gate);
                continue;
            }
            let (i, j) = links[rng.index(links.len())];
            let mode = match rng.below(10) {
                0..=1 => Mode::Hold,
                2..=3 => Mode::Drop,
                4..=5 => Mode::Cut,
                6 => Mode::Delay(Duration::from_millis(20)),
                7..=8 => Mode::Pass,
                _ => {
                    chaos.push(format!("{:?}: heal all", started.elapsed()));
                    cluster.heal_all();
                    continue;
                }
            };
            chaos.push(format!("{:?}: link {i}-{j} {mode:?}", started.elapsed()));
            cluster.link(i, j).set_mode(mode);
        }
        stop.store(true, Ordering::Relaxed);
        writers
            .into_iter()
            .map(|w| w.join().expect("writer panicked"))
            .collect()
    });
    eprintln!("chaos:\n  {}", chaos.join("\n  "));
    let ops: u64 = reports.iter().map(|r| r.ops).sum();
    let io: u64 = reports.iter().map(|r| r.io_errors).sum();
    let short_ttls_until = reports.iter().filter_map(|r| r.short_ttls.until).max();
    let server_errors: Vec<String> = reports
        .iter()
        .flat_map(|r| r.server_errors.iter().cloned())
        .collect();
    let mut tallies: HashMap<String, (i64, i64)> = HashMap::new();
    for r in &reports {
        for (k, (acked, unsure)) in &r.tallies {
            let t = tallies.entry(k.clone()).or_default();
            t.0 += acked;
            t.1 += unsure;
        }
    }
    let bags: Vec<(String, String)> = reports.iter().flat_map(|r| r.bags.clone()).collect();
    let pushed: Vec<(String, String)> = reports.iter().flat_map(|r| r.pushed.clone()).collect();
    let mut popped: HashMap<String, (HashSet<String>, usize)> = HashMap::new();
    for r in &reports {
        for (k, (got, unsure)) in &r.popped {
            let p = popped.entry(k.clone()).or_default();
            p.0.extend(got.iter().cloned());
            p.1 += unsure;
        }
    }
    eprintln!(
        "soak: {} acknowledged queue pushes, {} pops answered",
        pushed.len(),
        popped.values().map(|p| p.0.len()).sum::<usize>()
    );
    let unique: Vec<Written> = reports.into_iter().flat_map(|r| r.unique).collect();
    eprintln!(
        "soak: {ops} writes, {} unique keys, {io} connection errors",
        unique.len()
    );
    assert!(
        server_errors.is_empty(),
        "the servers refused writes: {server_errors:?}"
    );
    assert!(unique.len() > 100, "too few writes: {}", unique.len());

    // Regions compare keys that expire between two regions' reads as
    // different: let the short TTLs run out before comparing (the rest are
    // at least 1000 s).
    if let Some(until) = short_ttls_until {
        thread::sleep(until.saturating_duration_since(Instant::now()));
    }
    cluster.heal_all();
    let healed = Instant::now();
    if let Err(report) = cluster.try_wait_converged(SOAK_PATIENCE) {
        panic!(
            "soak seed {seed}\nchaos:\n  {}\n{report}",
            chaos.join("\n  ")
        );
    }
    eprintln!("soak: converged {:?} after healing", healed.elapsed());
    let digests = cluster.digests();
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "digests differ after convergence: {digests:?}"
    );
    assert_present(&cluster, &unique);
    // Every acknowledged SADD to a bag is there, in every region.
    for i in 0..3 {
        let mut c = cluster.conn(i);
        for chunk in bags.chunks(500) {
            let mut p = redis::pipe();
            for (key, member) in chunk {
                p.cmd("SISMEMBER").arg(key).arg(member);
            }
            let got: Vec<i64> = p
                .query(&mut c)
                .unwrap_or_else(|e| panic!("reading bags from region {i}: {e}"));
            for ((key, member), n) in chunk.iter().zip(got) {
                assert_eq!(n, 1, "region {i}: {member} missing from {key}");
            }
        }
    }
    // Every acknowledged push to a queue is still there or was handed out
    // by a pop (a pop whose reply was lost may account for one more), in
    // every region; concurrent pops may hand one element out twice.
    for i in 0..3 {
        let mut c = cluster.conn(i);
        let mut missing: HashMap<&str, Vec<&str>> = HashMap::new();
        let lists: HashMap<&str, HashSet<String>> = pushed
            .iter()
            .map(|(key, _)| key.as_str())
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|key| {
                let l: Vec<String> = run(&mut c, &["LRANGE", key, "0", "-1"]);
                (key, l.into_iter().collect())
            })
            .collect();
        for (key, element) in &pushed {
            let handed_out = popped.get(key).is_some_and(|p| p.0.contains(element));
            if !lists[key.as_str()].contains(element) && !handed_out {
                missing.entry(key).or_default().push(element);
            }
        }
        for (key, lost) in &missing {
            let unsure = popped.get(*key).map_or(0, |p| p.1);
            assert!(
                lost.len() <= unsure,
                "region {i}: acknowledged pushes {lost:?} to {key} are gone, \
                 but only {unsure} pops went unanswered"
            );
        }
    }
    // Every acknowledged increment counted, in every region.
    for i in 0..3 {
        let mut c = cluster.conn(i);
        for (key, (acked, unsure)) in &tallies {
            let got: Option<i64> = run(&mut c, &["GET", key]);
            let got = got.unwrap_or(0);
            assert!(
                (*acked..=acked + unsure).contains(&got),
                "region {i}: {key} = {got}, but {acked} increments were acknowledged \
                 ({unsure} more unsure)"
            );
        }
    }

    let snapshots: Vec<Vec<(usize, u64)>> = (0..3)
        .map(|i| {
            cluster
                .peers(i)
                .iter()
                .map(|p| (p.index(), p.snapshots_in))
                .collect()
        })
        .collect();
    eprintln!(
        "restarted region {restarted:?}; snapshots taken per region, as (from, count): {snapshots:?}"
    );
    // The restarted region came back empty: it was caught up by snapshot.
    if let Some(r) = restarted {
        assert!(
            snapshots_in(&cluster, r) >= 1,
            "region {r} restarted but took no snapshot\n{}",
            cluster.info_replication(r)
        );
    }
}

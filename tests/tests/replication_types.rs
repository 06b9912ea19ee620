//! How geo indexes, bitmaps, HyperLogLogs and stored results (SORT STORE,
//! GEOSEARCHSTORE, COPY, RESTORE) replicate today, as docs/semantics.md
//! states: each is an ordinary value, so it reaches every region whole,
//! and of two concurrent writes to one key every region keeps the same one.
//! And how lists merge element by element (a sequence CRDT) across a
//! partition: pushes all land in one order, DEL and pops take only what
//! they saw, a concurrent pop may return an element twice, LSETs converge.

use std::time::Duration;

use meridian_tests::{TestCluster, eventually};
use redis::Connection;

const PATIENCE: Duration = Duration::from_secs(30);

fn run<T: redis::FromRedisValue>(c: &mut Connection, words: &[&str]) -> T {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{words:?}: {e}"))
}

/// Polls `check` in every region until it holds there.
fn everywhere(cluster: &TestCluster, what: &str, check: impl Fn(&mut Connection) -> bool) {
    for i in 0..cluster.len() {
        let ok = eventually(PATIENCE, || {
            cluster.try_conn(i).is_ok_and(|mut c| check(&mut c))
        });
        assert!(ok, "region {i} never showed {what}\n{}", cluster.infos());
    }
}

#[test]
fn new_types_reach_every_region() {
    let cluster = TestCluster::start(3);
    let mut c0 = cluster.conn(0);
    let mut c1 = cluster.conn(1);
    let mut c2 = cluster.conn(2);
    let _: i64 = run(
        &mut c0,
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
    );
    let _: i64 = run(
        &mut c0,
        &[
            "GEOSEARCHSTORE",
            "near",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "100",
            "km",
        ],
    );
    let _: i64 = run(&mut c1, &["SETBIT", "bm", "7", "1"]);
    let _: Vec<Option<i64>> = run(&mut c1, &["BITFIELD", "bm", "SET", "u8", "8", "200"]);
    let _: i64 = run(&mut c2, &["PFADD", "hll", "a", "b", "c"]);
    let _: i64 = run(&mut c2, &["RPUSH", "l", "3", "1", "2"]);
    let _: i64 = run(&mut c2, &["SORT", "l", "STORE", "sorted"]);
    let _: i64 = run(&mut c2, &["COPY", "sorted", "copied"]);
    let payload: Vec<u8> = run(&mut c2, &["DUMP", "hll"]);
    let _: () = redis::cmd("RESTORE")
        .arg("restored")
        .arg(0)
        .arg(payload)
        .query(&mut c2)
        .unwrap();
    everywhere(&cluster, "every write", |c| {
        run::<Option<String>>(c, &["GEODIST", "Sicily", "Palermo", "Catania", "km"]).as_deref()
            == Some("166.2742")
            && run::<Vec<String>>(c, &["ZRANGE", "near", "0", "-1"]) == ["Catania"]
            && run::<i64>(c, &["GETBIT", "bm", "7"]) == 1
            && run::<Vec<i64>>(c, &["BITFIELD_RO", "bm", "GET", "u8", "8"]) == [200]
            && run::<i64>(c, &["PFCOUNT", "hll", "restored"]) == 3
            && run::<Vec<String>>(c, &["LRANGE", "copied", "0", "-1"]) == ["1", "2", "3"]
    });
    cluster.wait_converged(PATIENCE);
}

#[test]
fn concurrent_setbits_keep_one_string_and_concurrent_geoadds_both_land() {
    let cluster = TestCluster::start(3);
    cluster.partition(1);
    let _: i64 = run(&mut cluster.conn(0), &["SETBIT", "bm", "1", "1"]);
    let _: i64 = run(&mut cluster.conn(1), &["SETBIT", "bm", "2", "1"]);
    let _: i64 = run(&mut cluster.conn(0), &["GEOADD", "g", "1", "1", "from0"]);
    let _: i64 = run(&mut cluster.conn(1), &["GEOADD", "g", "2", "2", "from1"]);
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    let mut seen = Vec::new();
    for i in 0..3 {
        let mut c = cluster.conn(i);
        let bits: (i64, i64) = (
            run(&mut c, &["GETBIT", "bm", "1"]),
            run(&mut c, &["GETBIT", "bm", "2"]),
        );
        let members: Vec<String> = run(&mut c, &["ZRANGE", "g", "0", "-1"]);
        seen.push((bits, members));
    }
    // Bitmaps are whole strings, last writer wins: one region's bit
    // survives, and every region agrees which. A geo index is a sorted set,
    // whose ZADDs replicate as deltas: both members land.
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
    let ((b1, b2), members) = &seen[0];
    assert_eq!(b1 + b2, 1, "{seen:?}");
    assert_eq!(members, &["from0", "from1"], "{seen:?}");
}

/// INCRBYFLOAT and HINCRBYFLOAT are counters: concurrent increments in
/// different regions all count (docs/semantics.md), and every region shows
/// the same float, rounding included.
#[test]
fn concurrent_float_increments_all_count() {
    let cluster = TestCluster::start(3);
    let mut c0 = cluster.conn(0);
    let _: () = run(&mut c0, &["SET", "price", "10.5"]);
    let _: i64 = run(&mut c0, &["HSET", "cart", "total", "1.25"]);
    cluster.wait_converged(PATIENCE);
    cluster.partition(1);
    cluster.partition(2);
    let _: String = run(&mut cluster.conn(0), &["INCRBYFLOAT", "price", "0.1"]);
    let _: String = run(&mut cluster.conn(1), &["INCRBYFLOAT", "price", "2.2"]);
    let _: String = run(&mut cluster.conn(2), &["INCRBYFLOAT", "price", "-0.3"]);
    let _: i64 = run(&mut cluster.conn(1), &["INCRBY", "hits", "2"]);
    let _: String = run(&mut cluster.conn(2), &["INCRBYFLOAT", "hits", "0.5"]);
    let _: String = run(
        &mut cluster.conn(0),
        &["HINCRBYFLOAT", "cart", "total", "2.5"],
    );
    let _: String = run(
        &mut cluster.conn(1),
        &["HINCRBYFLOAT", "cart", "total", "0.25"],
    );
    let _: String = run(
        &mut cluster.conn(2),
        &["HINCRBYFLOAT", "cart", "tax", "0.75"],
    );
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    let mut seen = Vec::new();
    for i in 0..3 {
        let mut c = cluster.conn(i);
        let price: String = run(&mut c, &["GET", "price"]);
        let hits: String = run(&mut c, &["GET", "hits"]);
        let total: String = run(&mut c, &["HGET", "cart", "total"]);
        let tax: String = run(&mut c, &["HGET", "cart", "tax"]);
        seen.push((price, hits, total, tax));
    }
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
    let (price, hits, total, tax) = &seen[0];
    let close = |text: &str, want: f64| text.parse::<f64>().is_ok_and(|v| (v - want).abs() < 1e-9);
    assert!(close(price, 12.5), "price {price}: 10.5 + 0.1 + 2.2 - 0.3");
    assert!(
        close(hits, 2.5),
        "hits {hits}: INCRBY 2 and INCRBYFLOAT 0.5"
    );
    assert!(close(total, 4.0), "total {total}: 1.25 + 2.5 + 0.25");
    assert_eq!(tax, "0.75");
    // A SET resets what it saw; increments it did not see still count.
    cluster.partition(2);
    let _: () = run(&mut cluster.conn(0), &["SET", "price", "1"]);
    let _: String = run(&mut cluster.conn(2), &["INCRBYFLOAT", "price", "0.5"]);
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    everywhere(&cluster, "SET 1 plus the unseen 0.5", |c| {
        run::<String>(c, &["GET", "price"]) == "1.5"
    });
}

fn lrange(c: &mut Connection, key: &str) -> Vec<String> {
    run(c, &["LRANGE", key, "0", "-1"])
}

/// Writes `words` in region `i` and waits until every region shows `key`
/// as `want`, so what follows is concurrent with nothing before it.
fn seed_list(cluster: &TestCluster, key: &str, want: &[&str]) {
    let mut words = vec!["RPUSH", key];
    words.extend_from_slice(want);
    let _: i64 = run(&mut cluster.conn(0), &words);
    everywhere(cluster, key, |c| lrange(c, key) == want);
}

#[test]
fn concurrent_pushes_across_a_partition_all_land_in_one_order() {
    let cluster = TestCluster::start(3);
    seed_list(&cluster, "l", &["m"]);
    cluster.partition(1);
    // Region 1 cut off; regions 0 and 2 still talk to each other.
    let _: i64 = run(&mut cluster.conn(0), &["RPUSH", "l", "a1", "a2"]);
    let _: i64 = run(&mut cluster.conn(0), &["LPUSH", "l", "h0"]);
    let _: i64 = run(&mut cluster.conn(1), &["RPUSH", "l", "b1", "b2"]);
    let _: i64 = run(&mut cluster.conn(1), &["LPUSH", "l", "h1", "h2"]);
    let _: i64 = run(&mut cluster.conn(2), &["RPUSH", "l", "c1"]);
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    let lists: Vec<Vec<String>> = (0..3).map(|i| lrange(&mut cluster.conn(i), "l")).collect();
    assert!(lists.iter().all(|l| *l == lists[0]), "{lists:?}");
    let l = &lists[0];
    let mut sorted = l.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["a1", "a2", "b1", "b2", "c1", "h0", "h1", "h2", "m"],
        "every acknowledged push is there once: {l:?}"
    );
    let at = |v: &str| l.iter().position(|x| x == v).unwrap_or(usize::MAX);
    // Heads before the old element, tails after it; a multi-element push
    // stays together in its own order.
    for h in ["h0", "h1", "h2"] {
        assert!(at(h) < at("m"), "{l:?}");
    }
    for t in ["a1", "a2", "b1", "b2", "c1"] {
        assert!(at(t) > at("m"), "{l:?}");
    }
    assert_eq!(at("a2"), at("a1") + 1, "{l:?}");
    assert_eq!(at("b2"), at("b1") + 1, "{l:?}");
    assert_eq!(at("h1"), at("h2") + 1, "LPUSH h1 h2 puts h2 first: {l:?}");
}

#[test]
fn a_list_del_concurrent_with_a_push_keeps_the_pushed_element() {
    let cluster = TestCluster::start(3);
    seed_list(&cluster, "l", &["old1", "old2"]);
    cluster.partition(1);
    let _: i64 = run(&mut cluster.conn(0), &["DEL", "l"]);
    let _: i64 = run(&mut cluster.conn(1), &["RPUSH", "l", "new"]);
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    for i in 0..3 {
        assert_eq!(lrange(&mut cluster.conn(i), "l"), ["new"], "region {i}");
    }
}

#[test]
fn concurrent_pops_of_one_element_return_it_in_both_regions() {
    let cluster = TestCluster::start(3);
    seed_list(&cluster, "q", &["j1", "j2", "j3"]);
    cluster.partition(1);
    let p0: Option<String> = run(&mut cluster.conn(0), &["LPOP", "q"]);
    let p1: Option<String> = run(&mut cluster.conn(1), &["LPOP", "q"]);
    // At-least-once: both regions hand out j1 (documented).
    assert_eq!(p0.as_deref(), Some("j1"));
    assert_eq!(p1.as_deref(), Some("j1"));
    let moved: Option<String> = run(
        &mut cluster.conn(2),
        &["LMOVE", "q", "done", "RIGHT", "LEFT"],
    );
    assert_eq!(moved.as_deref(), Some("j3"));
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    for i in 0..3 {
        let mut c = cluster.conn(i);
        assert_eq!(
            lrange(&mut c, "q"),
            ["j2"],
            "region {i}: j1 gone once, j3 moved"
        );
        assert_eq!(lrange(&mut c, "done"), ["j3"], "region {i}");
    }
}

#[test]
fn concurrent_lsets_of_one_element_converge() {
    let cluster = TestCluster::start(3);
    seed_list(&cluster, "l", &["a", "b", "c"]);
    cluster.partition(1);
    let _: () = run(&mut cluster.conn(0), &["LSET", "l", "1", "x"]);
    let _: () = run(&mut cluster.conn(1), &["LSET", "l", "1", "y"]);
    let _: i64 = run(&mut cluster.conn(2), &["LINSERT", "l", "BEFORE", "c", "i"]);
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    let lists: Vec<Vec<String>> = (0..3).map(|i| lrange(&mut cluster.conn(i), "l")).collect();
    assert!(lists.iter().all(|l| *l == lists[0]), "{lists:?}");
    let l = &lists[0];
    assert!(
        *l == ["a", "x", "i", "c"] || *l == ["a", "y", "i", "c"],
        "one LSET wins, the insert lands: {l:?}"
    );
}

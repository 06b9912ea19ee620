//! Session documents across regions (docs/semantics.md, "Documents"):
//! concurrent `DOC.*` edits in three regions, made while links are cut and
//! healed, merge into the same JSON everywhere — no acknowledged field lost,
//! counter increments added, pushes all present in one agreed order — and a
//! region restarted empty gets documents back by snapshot and can edit them.

use std::collections::BTreeMap;
use std::time::Duration;

use meridian_tests::call::{ok, q};
use meridian_tests::{TestCluster, eventually};
use redis::Connection;
use serde_json::Value as Json;

const PATIENCE: Duration = Duration::from_secs(60);

fn doc(c: &mut Connection, key: &str) -> Option<String> {
    ok(c, &["DOC.GET", key])
}

/// Waits until region `i` shows `want` at `key`.
fn wait_for(cluster: &TestCluster, i: usize, key: &str, want: &str) {
    let seen = eventually(PATIENCE, || {
        cluster
            .try_conn(i)
            .is_ok_and(|mut c| doc(&mut c, key).as_deref() == Some(want))
    });
    assert!(seen, "region {i} never showed {want}\n{}", cluster.infos());
}

/// A small deterministic generator (the run is the same every time; the
/// seed is printed on failure).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn concurrent_edits_in_three_partitioned_regions_merge_without_loss() {
    let cluster = TestCluster::start(3);
    let key = "session:1";
    {
        let mut c0 = cluster.conn(0);
        let _: () = ok(
            &mut c0,
            &["DOC.SET", key, "$", r#"{"user":"ann","cart":[],"seen":{}}"#],
        );
        // Counters must exist before regions increment them concurrently:
        // two regions creating one counter concurrently make two counters,
        // and one of them wins (docs/semantics.md).
        let _: i64 = ok(&mut c0, &["DOC.INCR", key, "$.views", "0"]);
    }
    let base: Option<String> = doc(&mut cluster.conn(0), key);
    let base = base.expect("document written");
    for i in 0..3 {
        wait_for(&cluster, i, key, &base);
    }

    let seed = 0x5eed_d0c5;
    let mut rng = Lcg(seed);
    // What each region acknowledged.
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut pushed: Vec<String> = Vec::new();
    let mut views = 0i64;
    for round in 0..6 {
        // Cut a random subset of regions off (round 0: all of them).
        cluster.heal_all();
        for r in 0..3 {
            if round == 0 || rng.next().is_multiple_of(2) {
                cluster.partition(r);
            }
        }
        for r in 0..3 {
            let Ok(mut c) = cluster.try_conn(r) else {
                panic!("region {r} unreachable");
            };
            for k in 0..4 {
                let field = format!("f{r}_{round}_{k}");
                let value = format!("\"v{}\"", rng.next() % 1000);
                let _: () = ok(
                    &mut c,
                    &["DOC.SET", key, &format!("$.seen.{field}"), &value],
                );
                fields.insert(field, value);
                let by = (rng.next() % 10) as i64 + 1;
                let _: i64 = ok(&mut c, &["DOC.INCR", key, "$.views", &by.to_string()]);
                views += by;
                let item = format!("\"r{r}-{round}-{k}\"");
                let _: i64 = ok(&mut c, &["DOC.PUSH", key, "$.cart", &item]);
                pushed.push(item);
            }
        }
    }
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);

    let docs: Vec<String> = (0..3)
        .map(|i| doc(&mut cluster.conn(i), key).expect("document present"))
        .collect();
    assert!(
        docs.iter().all(|d| *d == docs[0]),
        "regions differ (seed {seed:#x}): {docs:#?}"
    );
    let j: Json = serde_json::from_str(&docs[0]).expect("JSON");
    assert_eq!(j["user"], "ann");
    for (field, value) in &fields {
        let want: Json = serde_json::from_str(value).expect("JSON");
        assert_eq!(
            j["seen"][field], want,
            "field {field} lost (seed {seed:#x})"
        );
    }
    assert_eq!(j["views"], views, "increments lost (seed {seed:#x})");
    let mut cart: Vec<String> = j["cart"]
        .as_array()
        .expect("cart is an array")
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(cart.len(), pushed.len(), "pushes lost or doubled");
    cart.sort();
    pushed.sort();
    assert_eq!(cart, pushed);
}

#[test]
fn concurrent_sets_of_one_field_agree_and_a_delete_ends_the_document_everywhere() {
    let cluster = TestCluster::start(3);
    let _: () = ok(&mut cluster.conn(0), &["DOC.SET", "d", "$", r#"{"k":0}"#]);
    for i in 0..3 {
        wait_for(&cluster, i, "d", r#"{"k":0}"#);
    }
    for r in 0..3 {
        cluster.partition(r);
    }
    for r in 0..3 {
        let _: () = ok(
            &mut cluster.conn(r),
            &["DOC.SET", "d", "$.k", &r.to_string()],
        );
    }
    cluster.heal_all();
    cluster.wait_converged(PATIENCE);
    let seen: Vec<Option<String>> = (0..3).map(|i| doc(&mut cluster.conn(i), "d")).collect();
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");

    // DEL (not concurrent with anything) removes the document and its
    // history in every region; a new one under the name starts empty.
    let _: i64 = ok(&mut cluster.conn(1), &["DEL", "d"]);
    cluster.wait_converged(PATIENCE);
    for i in 0..3 {
        assert_eq!(doc(&mut cluster.conn(i), "d"), None);
    }
    let _: () = ok(&mut cluster.conn(2), &["DOC.SET", "d", "$.fresh", "true"]);
    for i in 0..3 {
        wait_for(&cluster, i, "d", r#"{"fresh":true}"#);
    }
}

#[test]
fn a_restarted_region_gets_documents_by_snapshot_and_edits_them() {
    let cluster = TestCluster::start(3);
    {
        let mut c0 = cluster.conn(0);
        let _: () = ok(&mut c0, &["DOC.SET", "s", "$", r#"{"items":[],"n":1}"#]);
        for i in 0..20 {
            let _: i64 = ok(&mut c0, &["DOC.PUSH", "s", "$.items", &i.to_string()]);
        }
        let _: i64 = ok(&mut c0, &["DOC.INCR", "s", "$.hits", "3"]);
        let _: i64 = ok(&mut c0, &["PEXPIRE", "s", "600000"]);
    }
    cluster.wait_converged(PATIENCE);
    let want = doc(&mut cluster.conn(0), "s").expect("document");
    cluster.restart(2);
    wait_for(&cluster, 2, "s", &want);
    let ttl: i64 = ok(&mut cluster.conn(2), &["PTTL", "s"]);
    assert!(ttl > 0, "the TTL came with the snapshot: {ttl}");
    // The restored document edits under a new actor, and the edit merges
    // into the others' copies (its history is theirs).
    // (A restarted region accepts writes once it has caught up.)
    let wrote = eventually(PATIENCE, || {
        q::<i64>(&mut cluster.conn(2), &["DOC.INCR", "s", "$.hits", "4"]).is_ok()
    });
    assert!(
        wrote,
        "region 2 never accepted the edit\n{}",
        cluster.infos()
    );
    let _: i64 = ok(&mut cluster.conn(1), &["DOC.INCR", "s", "$.hits", "5"]);
    cluster.wait_converged(PATIENCE);
    for i in 0..3 {
        let j: Json =
            serde_json::from_str(&doc(&mut cluster.conn(i), "s").expect("document")).expect("JSON");
        assert_eq!(j["hits"], 12, "region {i}: {j}");
        assert_eq!(j["items"].as_array().map(Vec::len), Some(20));
    }
}

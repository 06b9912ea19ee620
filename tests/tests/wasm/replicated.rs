//! Deployed modules across regions: a library loaded in one region is
//! callable in every region, a delete anywhere removes it everywhere, and a
//! region restarted empty gets the modules back from its peers.

use std::time::Duration;

use meridian_tests::call::{line, q};
use meridian_tests::{TestCluster, eventually};
use redis::Value;

use crate::guests::{load_example, wasm};

const WAIT: Duration = Duration::from_secs(30);

/// FCALL lb_add in region `i`: the score, or the error line.
fn lb_add(cluster: &TestCluster, i: usize, player: &str) -> Result<f64, String> {
    let mut c = cluster.conn(i);
    q::<f64>(&mut c, &["FCALL", "lb_add", "1", "g", player, "1"]).map_err(|e| line(&e))
}

fn callable_everywhere(cluster: &TestCluster) -> bool {
    (0..cluster.len()).all(|i| lb_add(cluster, i, &format!("p{i}")).is_ok())
}

fn gone_everywhere(cluster: &TestCluster) -> bool {
    (0..cluster.len()).all(|i| lb_add(cluster, i, "x") == Err("ERR Function not found".into()))
}

fn libraries(cluster: &TestCluster, i: usize) -> usize {
    let mut c = cluster.conn(i);
    match q::<Value>(&mut c, &["FUNCTION", "LIST"]) {
        Ok(Value::Array(libs)) => libs.len(),
        other => panic!("FUNCTION LIST: {other:?}"),
    }
}

#[test]
fn a_library_loaded_in_one_region_runs_in_all_and_a_delete_anywhere_removes_it() {
    let cluster = TestCluster::start(3);
    let mut a = cluster.conn(0);
    let name = load_example(&mut a, "leaderboard");
    assert_eq!(name, "leaderboard");
    assert!(
        eventually(WAIT, || callable_everywhere(&cluster)),
        "lb_add not callable in every region: {:?}",
        (0..3).map(|i| lb_add(&cluster, i, "y")).collect::<Vec<_>>()
    );
    // Deleted in region 1: gone everywhere, the origin included.
    let mut b = cluster.conn(1);
    let _: () = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("leaderboard")
        .query(&mut b)
        .expect("delete");
    assert!(eventually(WAIT, || gone_everywhere(&cluster)));
    // Loaded again later (a newer write than the delete), it comes back.
    load_example(&mut b, "leaderboard");
    assert!(eventually(WAIT, || callable_everywhere(&cluster)));
    // FUNCTION FLUSH in region 2 flushes every region.
    let mut c = cluster.conn(2);
    let _: () = redis::cmd("FUNCTION")
        .arg("FLUSH")
        .query(&mut c)
        .expect("flush");
    assert!(eventually(WAIT, || gone_everywhere(&cluster)));
    assert!((0..3).all(|i| libraries(&cluster, i) == 0));
}

#[test]
fn a_region_restarted_empty_gets_the_modules_back_from_its_peers() {
    let cluster = TestCluster::start(3);
    let mut a = cluster.conn(0);
    load_example(&mut a, "leaderboard");
    assert!(eventually(WAIT, || callable_everywhere(&cluster)));
    cluster.restart(2);
    assert!(
        eventually(WAIT, || lb_add(&cluster, 2, "back").is_ok()),
        "region 2 did not get the library back: {:?}",
        lb_add(&cluster, 2, "back")
    );
    // And a delete made while a region was down reaches it when it returns.
    cluster.stop(1);
    let _: () = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("leaderboard")
        .query(&mut a)
        .expect("delete");
    cluster.start_region(1);
    assert!(eventually(WAIT, || gone_everywhere(&cluster)));
}

#[test]
fn a_component_a_peer_cannot_load_does_not_break_the_link() {
    let cluster = TestCluster::start(2);
    let shared = cluster.shared(1);
    let mut b = cluster.conn(1);
    load_example(&mut b, "leaderboard");
    // Region 0 deploys an edge module; region 1 loads it.
    let a0 = cluster.shared(0);
    a0.wasm
        .deploy(meridian::wasm::deploy::DeployRequest {
            name: Some("hello"),
            kind: None,
            route: None,
            code: &wasm("hello-edge"),
            replace: true,
        })
        .expect("deploy hello");
    assert!(eventually(WAIT, || shared
        .wasm
        .registry()
        .edge("hello")
        .is_some()));
    // Now a broken entry arrives from region 0: an edge module whose bytes
    // are not a component. Region 0 never accepts that itself, so it is
    // written into its table directly, as a faulty or hostile peer would.
    let before = shared
        .wasm
        .deploys()
        .failures
        .load(std::sync::atomic::Ordering::Relaxed);
    a0.wasm
        .deploys()
        .catalog()
        .merge(meridian::wasm::catalog::Entry {
            name: "broken".into(),
            stamp: a0.engine.clock().now(),
            region: a0.engine.region(),
            at_ms: 0,
            module: Some(meridian::wasm::catalog::Deployed {
                kind: meridian::wasm::catalog::ModuleKind::Edge,
                route: Some("/broken".into()),
                code: meridian::wasm::catalog::Code(std::sync::Arc::from(&b"not wasm"[..])),
            }),
        });
    assert!(eventually(WAIT, || shared
        .wasm
        .deploys()
        .failures
        .load(std::sync::atomic::Ordering::Relaxed)
        > before));
    // The link is still up and carries what comes next: data, and a
    // delete made in region 1 reaching region 0.
    let mut a = cluster.conn(0);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut a)
        .expect("set");
    assert!(eventually(WAIT, || {
        let v: Option<String> = redis::cmd("GET").arg("k").query(&mut b).unwrap_or(None);
        v.as_deref() == Some("v")
    }));
    let _: () = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("leaderboard")
        .query(&mut b)
        .expect("delete");
    assert!(eventually(WAIT, || cluster
        .shared(0)
        .wasm
        .registry()
        .library("leaderboard")
        .is_none()));
    assert!(shared.wasm.registry().edge("hello").is_some());
}

fn function(cluster: &TestCluster, i: usize, words: &[&str]) {
    let mut c = cluster.conn(i);
    let mut cmd = redis::cmd("FUNCTION");
    for w in words {
        cmd.arg(*w);
    }
    let _: Value = cmd
        .query(&mut c)
        .unwrap_or_else(|e| panic!("{words:?}: {e}"));
}

fn load_replace(cluster: &TestCluster, i: usize) {
    let mut c = cluster.conn(i);
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(wasm("leaderboard"))
        .query(&mut c)
        .expect("load");
}

#[test]
fn concurrent_load_and_delete_resolve_to_the_later_write_in_every_region() {
    let cluster = TestCluster::start(2);
    load_replace(&cluster, 0);
    assert!(eventually(WAIT, || callable_everywhere(&cluster)));

    // Region 0 deletes, then region 1 — cut off, not knowing — loads again:
    // the later load wins on both sides once the link is back.
    cluster.partition(0);
    function(&cluster, 0, &["DELETE", "leaderboard"]);
    std::thread::sleep(Duration::from_millis(5));
    load_replace(&cluster, 1);
    cluster.heal(0);
    assert!(
        eventually(WAIT, || callable_everywhere(&cluster)),
        "the later load should win: {:?}",
        (0..2).map(|i| lb_add(&cluster, i, "z")).collect::<Vec<_>>()
    );

    // Region 1 loads, then region 0 — cut off — deletes: the older load
    // arriving after the delete does not bring the library back.
    cluster.partition(0);
    load_replace(&cluster, 1);
    std::thread::sleep(Duration::from_millis(5));
    function(&cluster, 0, &["DELETE", "leaderboard"]);
    cluster.heal(0);
    assert!(
        eventually(WAIT, || gone_everywhere(&cluster)),
        "the later delete should win: {:?}",
        (0..2).map(|i| lb_add(&cluster, i, "z")).collect::<Vec<_>>()
    );
    // And it stays gone (no late message resurrects it).
    std::thread::sleep(Duration::from_millis(300));
    assert!(gone_everywhere(&cluster));
}

//! One region sharded over three nodes, driven as Redis Cluster clients
//! drive a cluster: keys land on the node that owns their slot, a node
//! redirects (MOVED) what it does not own and refuses (CROSSSLOT) what spans
//! slots, CLUSTER SLOTS/SHARDS/NODES describe the map, and cluster-aware
//! clients (the `redis` crate, redis-py's RedisCluster, `redis-cli -c`)
//! route by themselves.

use std::path::Path;
use std::process::Command;

use meridian::cluster::key_slot;
use meridian_tests::call::{err, ok};
use meridian_tests::{ShardedRegion, TestServer};
use redis::Value;

/// Which node owns `key` (nodes own equal contiguous thirds).
fn owner_of(key: &str, nodes: usize) -> usize {
    key_slot(key.as_bytes()) as usize * nodes / 16384
}

#[test]
fn a_cluster_client_spreads_keys_over_their_owners() {
    let region = ShardedRegion::start(3);
    let client = redis::cluster::ClusterClient::new(region.urls()).expect("cluster client");
    let mut c = client.get_connection().expect("cluster connection");
    for i in 0..600 {
        let key = format!("user:{i}");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(i)
            .query(&mut c)
            .expect("set");
    }
    for i in (0..600).step_by(7) {
        let v: i64 = redis::cmd("GET")
            .arg(format!("user:{i}"))
            .query(&mut c)
            .expect("get");
        assert_eq!(v, i);
    }
    // Multi-key commands work within a hash tag.
    let _: () = redis::cmd("MSET")
        .arg("{cart:7}:items")
        .arg("3")
        .arg("{cart:7}:total")
        .arg("42")
        .query(&mut c)
        .expect("mset in one slot");
    let both: Vec<String> = redis::cmd("MGET")
        .arg("{cart:7}:items")
        .arg("{cart:7}:total")
        .query(&mut c)
        .expect("mget");
    assert_eq!(both, ["3", "42"]);

    // Every key is stored on its owner and nowhere else.
    let mut total = 0;
    for (n, node) in region.nodes.iter().enumerate() {
        let mut direct = node.conn();
        let keys: Vec<String> = ok(&mut direct, &["KEYS", "*"]);
        assert!(!keys.is_empty(), "node {n} holds nothing");
        for k in &keys {
            assert_eq!(owner_of(k, 3), n, "{k} is on node {n}");
        }
        total += keys.len();
    }
    assert_eq!(total, 602);
}

#[test]
fn nodes_redirect_and_refuse_as_redis_cluster_does() {
    let region = ShardedRegion::start(3);
    let mut c0 = region.nodes[0].conn();
    // foo: slot 12182, the third node's.
    let moved = err(&mut c0, &["GET", "foo"]);
    assert_eq!(
        moved,
        format!("MOVED 12182 127.0.0.1:{}", region.nodes[2].port())
    );
    let mut c2 = region.nodes[2].conn();
    let _: () = ok(&mut c2, &["SET", "foo", "here"]);
    assert_eq!(ok::<String>(&mut c2, &["GET", "foo"]), "here");
    // Keys in different slots, even all owned here: CROSSSLOT.
    assert_eq!(
        err(&mut c0, &["MSET", "a{x}", "1", "b{y}", "2"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    // EVAL's keys are routed like any command's.
    let script_err = err(&mut c0, &["EVAL", "return 1", "1", "foo"]);
    assert!(script_err.starts_with("MOVED 12182 "), "{script_err}");
    // Keyless commands run on the node asked.
    assert_eq!(ok::<i64>(&mut c0, &["DBSIZE"]), 0);

    // A transaction that names a key elsewhere fails as a whole.
    let _: () = ok(&mut c0, &["MULTI"]);
    let queued_err = err(&mut c0, &["SET", "foo", "x"]);
    assert!(queued_err.starts_with("MOVED"), "{queued_err}");
    let aborted = err(&mut c0, &["EXEC"]);
    assert!(aborted.starts_with("EXECABORT"), "{aborted}");
    // One whose commands each run here but in two slots: CROSSSLOT at EXEC.
    let bar = "bar"; // slot 5061, the first node's
    let other = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| owner_of(k, 3) == 0 && key_slot(k.as_bytes()) != key_slot(bar.as_bytes()))
        .expect("a key");
    let _: () = ok(&mut c0, &["MULTI"]);
    let _: String = ok(&mut c0, &["SET", bar, "1"]);
    let _: String = ok(&mut c0, &["SET", &other, "2"]);
    assert_eq!(
        err(&mut c0, &["EXEC"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(
        ok::<Option<String>>(&mut c0, &["GET", bar]),
        None,
        "nothing ran"
    );
    // ... and in one slot it runs.
    let _: () = ok(&mut c0, &["MULTI"]);
    let _: String = ok(&mut c0, &["SET", "{bar}1", "1"]);
    let _: String = ok(&mut c0, &["INCR", "{bar}2"]);
    let done: Vec<Value> = ok(&mut c0, &["EXEC"]);
    assert_eq!(done.len(), 2);
}

#[test]
fn cluster_commands_describe_the_map() {
    let region = ShardedRegion::start(3);
    let mut c1 = region.nodes[1].conn();
    assert_eq!(ok::<i64>(&mut c1, &["CLUSTER", "KEYSLOT", "foo"]), 12182);
    assert_eq!(
        ok::<i64>(&mut c1, &["CLUSTER", "KEYSLOT", "{user1000}.following"]),
        ok::<i64>(&mut c1, &["CLUSTER", "KEYSLOT", "user1000"])
    );
    let myid: String = ok(&mut c1, &["CLUSTER", "MYID"]);
    assert_eq!(myid.len(), 40);

    let info: String = ok(&mut c1, &["CLUSTER", "INFO"]);
    for line in [
        "cluster_state:ok",
        "cluster_slots_assigned:16384",
        "cluster_known_nodes:3",
        "cluster_size:3",
    ] {
        assert!(info.contains(line), "{line} missing from\n{info}");
    }
    let server_info: String = ok(&mut c1, &["INFO", "cluster"]);
    assert!(server_info.contains("cluster_enabled:1"), "{server_info}");

    let nodes: String = ok(&mut c1, &["CLUSTER", "NODES"]);
    let lines: Vec<&str> = nodes.lines().collect();
    assert_eq!(lines.len(), 3, "{nodes}");
    let me = lines
        .iter()
        .find(|l| l.contains("myself"))
        .expect("myself line");
    assert!(me.starts_with(&myid), "{me}");
    assert!(me.ends_with(" 5461-10921"), "{me}");
    assert!(
        me.contains(&format!("127.0.0.1:{}@", region.nodes[1].port())),
        "{me}"
    );

    // CLUSTER SLOTS: [start, end, [ip, port, id, {}]] per range.
    let slots: Vec<(i64, i64, (String, i64, String))> = {
        let raw: Vec<Vec<Value>> = ok(&mut c1, &["CLUSTER", "SLOTS"]);
        raw.into_iter()
            .map(|r| {
                let start: i64 = redis::from_redis_value(r[0].clone()).expect("start");
                let end: i64 = redis::from_redis_value(r[1].clone()).expect("end");
                let node: Vec<Value> = redis::from_redis_value(r[2].clone()).expect("node");
                let ip: String = redis::from_redis_value(node[0].clone()).expect("ip");
                let port: i64 = redis::from_redis_value(node[1].clone()).expect("port");
                let id: String = redis::from_redis_value(node[2].clone()).expect("id");
                (start, end, (ip, port, id))
            })
            .collect()
    };
    let ranges: Vec<(i64, i64)> = slots.iter().map(|(s, e, _)| (*s, *e)).collect();
    assert_eq!(ranges, [(0, 5460), (5461, 10921), (10922, 16383)]);
    assert_eq!(slots[1].2.1, i64::from(region.nodes[1].port()));
    assert_eq!(slots[1].2.2, myid);

    let shards: Vec<Value> = ok(&mut c1, &["CLUSTER", "SHARDS"]);
    assert_eq!(shards.len(), 3);
    assert_eq!(ok::<String>(&mut c1, &["READONLY"]), "OK");
    assert_eq!(ok::<String>(&mut c1, &["READWRITE"]), "OK");
    assert_eq!(ok::<i64>(&mut c1, &["CLUSTER", "COUNTKEYSINSLOT", "0"]), 0);

    let mut c2 = region.nodes[2].conn();
    let _: () = ok(&mut c2, &["SET", "foo", "1"]);
    let _: () = ok(&mut c2, &["SET", "{foo}2", "2"]);
    assert_eq!(
        ok::<i64>(&mut c2, &["CLUSTER", "COUNTKEYSINSLOT", "12182"]),
        2
    );
    let mut in_slot: Vec<String> = ok(&mut c2, &["CLUSTER", "GETKEYSINSLOT", "12182", "10"]);
    in_slot.sort();
    assert_eq!(in_slot, ["foo", "{foo}2"]);
    assert_eq!(
        err(&mut c2, &["CLUSTER", "COUNTKEYSINSLOT", "16384"]),
        "ERR Invalid or out of range slot"
    );
    assert!(err(&mut c2, &["CLUSTER", "FAILOVER"]).starts_with("ERR unknown subcommand"));

    // A standalone node says cluster support is off, as Redis does.
    let alone = TestServer::start();
    let mut c = alone.conn();
    assert_eq!(
        err(&mut c, &["CLUSTER", "SLOTS"]),
        "ERR This instance has cluster support disabled"
    );
    let info: String = ok(&mut c, &["INFO", "cluster"]);
    assert!(info.contains("cluster_enabled:0"), "{info}");
}

#[test]
fn redis_cli_follows_redirects() {
    let region = ShardedRegion::start(3);
    let cli = |port: u16, args: &[&str]| -> String {
        let out = Command::new("redis-cli")
            .arg("-c")
            .arg("-p")
            .arg(port.to_string())
            .args(args)
            .output()
            .expect("redis-cli (scripts/test.sh installs redis-tools)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let p0 = region.nodes[0].port();
    let p1 = region.nodes[1].port();
    assert_eq!(cli(p0, &["SET", "foo", "bar"]), "OK");
    assert_eq!(cli(p1, &["GET", "foo"]), "bar");
    let mut c2 = region.nodes[2].conn();
    assert_eq!(
        ok::<String>(&mut c2, &["GET", "foo"]),
        "bar",
        "stored on its owner"
    );
}

#[test]
fn redis_py_cluster_client_routes_by_itself() {
    let region = ShardedRegion::start(3);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/redis_py_cluster.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(region.nodes[1].port().to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "redis-py RedisCluster flows failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let total: usize = region
        .nodes
        .iter()
        .map(|n| ok::<usize>(&mut n.conn(), &["DBSIZE"]))
        .sum();
    assert_eq!(total, 302, "200 strings, 100 hashes and a tagged pair");
}

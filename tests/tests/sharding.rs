//! One region sharded over three nodes, driven as Redis Cluster clients
//! drive a cluster: keys land on the node that owns their slot, a node
//! redirects (MOVED) what it does not own and refuses (CROSSSLOT) what spans
//! slots, CLUSTER SLOTS/SHARDS/NODES describe the map, and cluster-aware
//! clients (the `redis` crate, redis-py's RedisCluster, ioredis's Cluster,
//! `redis-cli -c`) route by themselves. Slots move between nodes under load
//! (`redis-cli --cluster reshard` too), and sharded regions replicate shard
//! to shard.

use std::path::Path;
use std::process::Command;

use meridian::cluster::key_slot;
use meridian_tests::call::{err, ok};
use meridian_tests::{ShardedRegion, TestServer};
use redis::Value;

/// Keys held by all of `region`'s nodes together.
fn total_keys(region: &ShardedRegion) -> usize {
    region
        .nodes
        .iter()
        .map(|n| ok::<usize>(&mut n.conn(), &["DBSIZE"]))
        .sum()
}

/// Runs a client library's script (under `tests/`) against the node on
/// `port`; it exits non-zero with the failed check on stderr.
fn run_client_script(program: &str, script: &str, port: u16) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new(program)
        .arg(&path)
        .arg(port.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

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
    run_client_script(
        "python3",
        "python/redis_py_cluster.py",
        region.nodes[1].port(),
    );
    let total = total_keys(&region);
    assert_eq!(total, 302, "200 strings, 100 hashes and a tagged pair");
}

/// Moves `slot` from node `from` to node `to` as `redis-cli --cluster
/// reshard` does: IMPORTING on the target, MIGRATING on the source, MIGRATE
/// the keys in batches, then NODE on every node.
fn move_slot(region: &ShardedRegion, slot: u16, from: usize, to: usize) -> usize {
    let id = |n: usize| -> String { ok(&mut region.nodes[n].conn(), &["CLUSTER", "MYID"]) };
    let (from_id, to_id) = (id(from), id(to));
    let slot_arg = slot.to_string();
    let mut src = region.nodes[from].conn();
    let mut dst = region.nodes[to].conn();
    let _: () = ok(
        &mut dst,
        &["CLUSTER", "SETSLOT", &slot_arg, "IMPORTING", &from_id],
    );
    let _: () = ok(
        &mut src,
        &["CLUSTER", "SETSLOT", &slot_arg, "MIGRATING", &to_id],
    );
    let port = region.nodes[to].port().to_string();
    let mut moved = 0;
    loop {
        let batch: Vec<String> = ok(&mut src, &["CLUSTER", "GETKEYSINSLOT", &slot_arg, "20"]);
        if batch.is_empty() {
            break;
        }
        let mut words = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
        words.extend(batch.iter().map(String::as_str));
        let _: () = ok(&mut src, &words);
        moved += batch.len();
    }
    for n in [to, from]
        .into_iter()
        .chain((0..region.nodes.len()).filter(|&n| n != from && n != to))
    {
        let _: () = ok(
            &mut region.nodes[n].conn(),
            &["CLUSTER", "SETSLOT", &slot_arg, "NODE", &to_id],
        );
    }
    moved
}

/// A slot moves from one node to another while a cluster client keeps
/// incrementing a counter and creating keys in it: every acknowledged write
/// is on the new owner afterwards and nothing of the slot is left behind.
#[test]
fn a_slot_moves_under_write_load_without_losing_writes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let region = ShardedRegion::start(3);
    let slot = key_slot(b"{moving}");
    let from = owner_of("{moving}", 3);
    let to = (from + 1) % 3;
    let client = redis::cluster::ClusterClient::new(region.urls()).expect("cluster client");
    let mut c = client.get_connection().expect("connection");
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("{{moving}}:old{i}"))
            .arg(i)
            .query(&mut c)
            .expect("preload");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let client = client.clone();
        std::thread::spawn(move || {
            let mut c = client.get_connection().expect("writer connection");
            let (mut increments, mut created) = (0i64, Vec::new());
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) || i < 200 {
                let _: i64 = redis::cmd("INCR")
                    .arg("{moving}:counter")
                    .query(&mut c)
                    .expect("INCR during the move");
                increments += 1;
                let key = format!("{{moving}}:new{i}");
                let _: () = redis::cmd("SET")
                    .arg(&key)
                    .arg(i)
                    .query(&mut c)
                    .expect("SET during the move");
                created.push(key);
                i += 1;
            }
            (increments, created)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let moved = move_slot(&region, slot, from, to);
    stop.store(true, Ordering::Relaxed);
    let (increments, created) = writer.join().expect("writer");
    assert!(moved >= 300, "only {moved} keys were migrated");

    let mut new_owner = region.nodes[to].conn();
    let count: i64 = ok(&mut new_owner, &["GET", "{moving}:counter"]);
    assert_eq!(
        count, increments,
        "acknowledged increments lost in the move"
    );
    for key in &created {
        assert_eq!(ok::<i64>(&mut new_owner, &["EXISTS", key]), 1, "{key} lost");
    }
    let left: i64 = ok(
        &mut region.nodes[from].conn(),
        &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()],
    );
    assert_eq!(left, 0);
    let on_new: i64 = ok(
        &mut new_owner,
        &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()],
    );
    assert_eq!(on_new as usize, 300 + created.len() + 1);
    // Every node now sends the slot's keys to the new owner.
    let mut old = region.nodes[from].conn();
    assert_eq!(
        err(&mut old, &["GET", "{moving}:counter"]),
        format!("MOVED {slot} 127.0.0.1:{}", region.nodes[to].port())
    );
    let nodes: String = ok(&mut new_owner, &["CLUSTER", "NODES"]);
    assert!(!nodes.contains("->-") && !nodes.contains("-<-"), "{nodes}");
}

/// The slot-moving commands refuse what would lose keys or make no sense,
/// with Redis's errors.
#[test]
fn setslot_and_migrate_refuse_unsafe_moves() {
    let region = ShardedRegion::start(2);
    let mut c0 = region.nodes[0].conn();
    let mut c1 = region.nodes[1].conn();
    let id1: String = ok(&mut c1, &["CLUSTER", "MYID"]);
    // bar: slot 5061, node 0's.
    let _: () = ok(&mut c0, &["SET", "bar", "1"]);
    assert_eq!(
        err(&mut c0, &["CLUSTER", "SETSLOT", "5061", "NODE", &id1]),
        "ERR Can't assign hashslot 5061 to a different node while I still hold keys for this hash slot."
    );
    assert_eq!(
        err(&mut c1, &["CLUSTER", "SETSLOT", "5061", "MIGRATING", &id1]),
        "ERR I'm not the owner of hash slot 5061"
    );
    assert_eq!(
        err(&mut c0, &["CLUSTER", "SETSLOT", "5061", "IMPORTING", &id1]),
        "ERR I'm already the owner of hash slot 5061"
    );
    assert!(
        err(
            &mut c0,
            &["CLUSTER", "SETSLOT", "5061", "MIGRATING", "nobody"]
        )
        .starts_with("ERR I don't know about node")
    );
    // While migrating: present keys are served here, missing ones asked for.
    let _: () = ok(&mut c0, &["CLUSTER", "SETSLOT", "5061", "MIGRATING", &id1]);
    assert_eq!(ok::<String>(&mut c0, &["GET", "bar"]), "1");
    let asked = err(&mut c0, &["GET", "{bar}missing"]);
    assert_eq!(
        asked,
        format!("ASK 5061 127.0.0.1:{}", region.nodes[1].port())
    );
    assert!(
        err(&mut c0, &["MGET", "bar", "{bar}missing"]).starts_with("TRYAGAIN"),
        "some keys here, some gone"
    );
    // The importing side serves the slot only after ASKING.
    let _: () = ok(
        &mut c1,
        &[
            "CLUSTER",
            "SETSLOT",
            "5061",
            "IMPORTING",
            &ok::<String>(&mut c0, &["CLUSTER", "MYID"]),
        ],
    );
    assert!(err(&mut c1, &["GET", "{bar}missing"]).starts_with("MOVED 5061"));
    let _: () = ok(&mut c1, &["ASKING"]);
    assert_eq!(
        ok::<Option<String>>(&mut c1, &["GET", "{bar}missing"]),
        None
    );
    assert!(
        err(&mut c1, &["GET", "{bar}missing"]).starts_with("MOVED"),
        "ASKING lasts one command"
    );
    // MIGRATE of nothing, and to a node that is not there.
    assert_eq!(
        ok::<String>(
            &mut c0,
            &[
                "MIGRATE",
                "127.0.0.1",
                &region.nodes[1].port().to_string(),
                "{bar}missing",
                "0",
                "1000"
            ]
        ),
        "NOKEY"
    );
    let unreachable = err(&mut c0, &["MIGRATE", "127.0.0.1", "1", "bar", "0", "200"]);
    assert!(unreachable.starts_with("IOERR"), "{unreachable}");
    assert_eq!(
        ok::<String>(&mut c0, &["GET", "bar"]),
        "1",
        "kept after a failed MIGRATE"
    );
    let _: () = ok(&mut c0, &["CLUSTER", "SETSLOT", "5061", "STABLE"]);
    assert_eq!(ok::<String>(&mut c0, &["GET", "bar"]), "1");
}

/// The stock operator tool works on a Meridian region: `redis-cli --cluster
/// check` finds the map consistent, and `redis-cli --cluster reshard` moves
/// slots (SETSLOT, GETKEYSINSLOT, MIGRATE) without losing a key.
#[test]
fn redis_cli_cluster_reshard_moves_slots_without_losing_keys() {
    let region = ShardedRegion::start(3);
    let client = redis::cluster::ClusterClient::new(region.urls()).expect("cluster client");
    let mut c = client.get_connection().expect("connection");
    for i in 0..1000 {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .query(&mut c)
            .expect("set");
    }
    let id = |n: usize| -> String { ok(&mut region.nodes[n].conn(), &["CLUSTER", "MYID"]) };
    let seed = format!("127.0.0.1:{}", region.nodes[0].port());
    let cli = |args: &[&str]| -> String {
        let out = Command::new("redis-cli")
            .args(args)
            .output()
            .expect("redis-cli (scripts/test.sh installs redis-tools)");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let check = cli(&["--cluster", "check", &seed]);
    assert!(
        check.contains("All nodes agree about slots configuration"),
        "{check}"
    );
    let reshard = cli(&[
        "--cluster",
        "reshard",
        &seed,
        "--cluster-from",
        &id(0),
        "--cluster-to",
        &id(1),
        "--cluster-slots",
        "300",
        "--cluster-yes",
    ]);
    assert!(reshard.contains("Moving slot 299"), "{reshard}");
    let check = cli(&["--cluster", "check", &seed]);
    assert!(
        check.contains("All nodes agree about slots configuration")
            && check.contains("All 16384 slots covered")
            && !check.contains("[WARNING]"),
        "{check}"
    );
    let total = total_keys(&region);
    assert_eq!(total, 1000);
    for i in (0..1000).step_by(3) {
        let v: i64 = redis::cmd("GET")
            .arg(format!("key:{i}"))
            .query(&mut c)
            .expect("get after reshard");
        assert_eq!(v, i);
    }
    // Slots 0-299 are node 1's now, on every node.
    let slots: String = ok(&mut region.nodes[2].conn(), &["CLUSTER", "NODES"]);
    let line = slots
        .lines()
        .find(|l| l.starts_with(&id(1)))
        .expect("node 1");
    assert!(line.contains(" 0-299"), "{line}");
}

/// A node that gave a slot away and restarts does not claim it again: the
/// ownership it saved when the slot moved wins over the `[cluster]` table.
#[test]
fn moved_slots_stay_moved_across_a_restart() {
    let dir = meridian_tests::TempDir::new("sharding-state");
    let state = |i: usize| dir.path().join(format!("node{i}-slots.json"));
    let mut region = ShardedRegion::start_with(2, |i, c| {
        if let Some(table) = c.cluster.as_mut() {
            table.state_file = Some(state(i));
        }
    });
    let _: () = ok(&mut region.nodes[0].conn(), &["SET", "bar", "kept"]);
    // bar: slot 5061, node 0's.
    assert_eq!(move_slot(&region, 5061, 0, 1), 1);
    // Without a data directory node 0 comes back empty; what matters is
    // that it still knows the slot is node 1's.
    region.restart(0);
    let moved = err(&mut region.nodes[0].conn(), &["GET", "bar"]);
    assert_eq!(
        moved,
        format!("MOVED 5061 127.0.0.1:{}", region.nodes[1].port())
    );
    assert_eq!(
        ok::<String>(&mut region.nodes[1].conn(), &["GET", "bar"]),
        "kept"
    );
    let nodes: String = ok(&mut region.nodes[0].conn(), &["CLUSTER", "NODES"]);
    let mine = nodes
        .lines()
        .find(|l| l.contains("myself"))
        .expect("myself");
    assert!(mine.ends_with(" 0-5060 5062-8191"), "{mine}");
    // A state file that contradicts the table is refused at start.
    std::fs::write(
        state(0),
        r#"{"format":1,"slots":{"node0":["0-100"],"ghost":["101-16383"]}}"#,
    )
    .expect("write");
    let refused = meridian_tests::TestServer::try_start_with(|c| {
        c.cluster = Some(meridian::config::ClusterConfig {
            me: "node0".into(),
            nodes: vec![
                meridian::config::ClusterNodeConfig {
                    name: "node0".into(),
                    addr: "127.0.0.1:1".into(),
                    slots: vec!["0-8191".into()],
                },
                meridian::config::ClusterNodeConfig {
                    name: "node1".into(),
                    addr: "127.0.0.1:2".into(),
                    slots: vec!["8192-16383".into()],
                },
            ],
            state_file: Some(state(0)),
        });
    });
    let e = refused
        .err()
        .expect("a contradicting state file is refused");
    assert!(e.contains("ghost"), "{e}");
}

/// Two regions, each sharded over two nodes with the same slot layout, and
/// each shard replicating active-active with its counterpart: writes made
/// through either region's cluster client reach the other region, and each
/// shard pair converges to the same state.
#[test]
fn regions_replicate_shard_to_shard() {
    use meridian::config::{PeerConfig, ReplicationConfig};
    use meridian::replication::RegionCertificates;
    use std::time::{Duration, Instant};

    let dir = meridian_tests::TempDir::new("sharding-regions");
    let names = ["eu-0", "eu-1", "us-0", "us-1"];
    let certs = RegionCertificates::issue("test CA", &names, &["localhost", "127.0.0.1"])
        .expect("certificates");
    certs.write(dir.path(), &names).expect("write certificates");
    let repl: Vec<u16> = (0..4).map(|_| meridian_tests::free_port()).collect();
    // Region r's node i is names[2r + i]; its counterpart is in region 1 - r.
    let start = |r: usize| {
        ShardedRegion::start_with(2, |i, c| {
            let me = 2 * r + i;
            let peer = 2 * (1 - r) + i;
            c.region_id = r as u16 + 1;
            c.region_name = names[me].into();
            c.replication = Some(ReplicationConfig {
                listen: format!("127.0.0.1:{}", repl[me]).parse().expect("addr"),
                ca: dir.path().join("ca.pem"),
                cert: dir.path().join(format!("{}.pem", names[me])),
                key: dir.path().join(format!("{}-key.pem", names[me])),
                log_size: meridian::config::DEFAULT_LOG_SIZE,
                peers: vec![PeerConfig {
                    id: (1 - r) as u16 + 1,
                    name: names[peer].into(),
                    addr: format!("127.0.0.1:{}", repl[peer]),
                }],
            });
        })
    };
    let (eu, us) = (start(0), start(1));
    let cluster = |region: &ShardedRegion| {
        redis::cluster::ClusterClient::new(region.urls())
            .expect("client")
            .get_connection()
            .expect("connection")
    };
    let (mut ceu, mut cus) = (cluster(&eu), cluster(&us));
    // A fresh region takes writes once it has heard from its peers.
    let deadline = Instant::now() + Duration::from_secs(20);
    for c in [&mut ceu, &mut cus] {
        for k in ["{a}", "{b}", "{c}", "{d}"] {
            while redis::cmd("SET").arg(k).arg(0).query::<()>(c).is_err() {
                assert!(Instant::now() < deadline, "regions never became writable");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("eu:{i}"))
            .arg(i)
            .query(&mut ceu)
            .expect("set");
        let _: () = redis::cmd("SET")
            .arg(format!("us:{i}"))
            .arg(i)
            .query(&mut cus)
            .expect("set");
        let _: i64 = redis::cmd("INCR")
            .arg("visits")
            .query(&mut ceu)
            .expect("incr");
        let _: i64 = redis::cmd("INCR")
            .arg("visits")
            .query(&mut cus)
            .expect("incr");
    }
    // Each shard pair converges to the same keyspace.
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0..2 {
        loop {
            let a = meridian_tests::keyspace_digest(&mut eu.nodes[i].conn());
            let b = meridian_tests::keyspace_digest(&mut us.nodes[i].conn());
            if a == b {
                break;
            }
            assert!(Instant::now() < deadline, "shard {i} did not converge");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for i in (0..100).step_by(9) {
        let v: i64 = redis::cmd("GET")
            .arg(format!("eu:{i}"))
            .query(&mut cus)
            .expect("get");
        assert_eq!(v, i);
        let v: i64 = redis::cmd("GET")
            .arg(format!("us:{i}"))
            .query(&mut ceu)
            .expect("get");
        assert_eq!(v, i);
    }
    let visits: i64 = redis::cmd("GET")
        .arg("visits")
        .query(&mut ceu)
        .expect("get");
    assert_eq!(visits, 200, "increments from both regions all count");
    let keys = total_keys(&eu);
    assert_eq!(keys, 205);
}

#[test]
fn ioredis_cluster_client_routes_by_itself() {
    let region = ShardedRegion::start(3);
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("node/node_modules/ioredis")
            .is_dir(),
        "ioredis is not installed: npm ci --prefix tests/node (scripts/test.sh does)"
    );
    run_client_script("node", "node/ioredis_cluster.js", region.nodes[0].port());
    let total = total_keys(&region);
    assert_eq!(total, 202, "150 items, a tagged pair, 50 feed entries");
}

//! Persistence as users rely on it: the real binary killed with SIGKILL
//! under write load comes back with every acknowledged write (`always`) or
//! all but about the last second (`everysec`); a torn or corrupt log tail
//! is cut off with a warning instead of stopping the server; SAVE, BGSAVE,
//! LASTSAVE and BGREWRITEAOF behave as in Redis; and a replicated region
//! restarted with persistence has its own writes back from disk.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_tests::call::{err, ok, q};
use meridian_tests::cluster::info_field;
use meridian_tests::{Config, ServerProcess, TempDir, TestCluster, TestServer, eventually};

/// A seed that differs per run (printed, so a failure can be replayed).
fn seed() -> u64 {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("seed {s}");
    s
}

/// xorshift64: enough randomness for kill points.
fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn info_of(c: &mut redis::Connection, section: &str) -> String {
    ok(c, &["INFO", section])
}

/// What one writer had acknowledged: `key -> (value, when acknowledged)`.
type Acked = HashMap<String, (u64, Instant)>;

/// Runs `writers` clients against `port`, each SETting its own keys with
/// increasing values, until `stop`; returns every acknowledged write.
fn write_load(
    port: u16,
    prefix: &str,
    writers: usize,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<Acked>> {
    (0..writers)
        .map(|w| {
            let stop = stop.clone();
            let prefix = prefix.to_string();
            thread::spawn(move || {
                let mut acked = Acked::new();
                let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
                    return acked;
                };
                let Ok(mut c) = client.get_connection() else {
                    return acked;
                };
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    // A few keys rewritten over and over, and a new key
                    // every write: both kinds must survive.
                    let key = format!("{prefix}w{w}:k{}", i % 16);
                    let fresh = format!("{prefix}w{w}:n{i}");
                    let r: redis::RedisResult<()> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(&key)
                        .arg(i)
                        .ignore()
                        .cmd("SET")
                        .arg(&fresh)
                        .arg(i)
                        .ignore()
                        .query(&mut c);
                    match r {
                        Ok(()) => {
                            let now = Instant::now();
                            acked.insert(key, (i, now));
                            acked.insert(fresh, (i, now));
                        }
                        Err(_) => break,
                    }
                }
                acked
            })
        })
        .collect()
}

/// Kills a loaded server at a random point `rounds` times, restarting it on
/// the same data each time; returns, per round, the acknowledged writes (of
/// that round and every earlier one) missing after the restart, and how
/// long before that kill each was acknowledged. With `rewrites`, another
/// client keeps asking for BGREWRITEAOF, so kills also land while a
/// snapshot is written, the log rotates and old segments are deleted.
fn crash_rounds(fsync: &str, rounds: usize, rewrites: bool) -> Vec<Vec<(String, Duration)>> {
    let dir = TempDir::new("meridian-crash");
    let dir_s = dir.path().to_str().expect("utf-8 path").to_string();
    let args = [
        "--dir",
        dir_s.as_str(),
        "--appendfsync",
        fsync,
        "--log",
        "warn",
    ];
    let mut rng = seed();
    let mut all_acked = Acked::new();
    let mut report = Vec::new();
    for round in 0..rounds {
        let server = ServerProcess::serve(&args);
        let stop = Arc::new(AtomicBool::new(false));
        let load = write_load(server.port(), &format!("r{round}:"), 4, stop.clone());
        let rewriter = rewrites.then(|| rewrite_load(server.port(), stop.clone()));
        thread::sleep(Duration::from_millis(150 + next(&mut rng) % 700));
        let killed_at = Instant::now();
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for h in load {
            all_acked.extend(h.join().expect("writer"));
        }
        if let Some(r) = rewriter {
            let started = r.join().expect("rewriter");
            assert!(started > 0, "no rewrite was started before the kill");
        }
        assert!(
            all_acked.len() > 10,
            "the load made too few writes to test anything"
        );
        let back = ServerProcess::serve(&args);
        let mut c = back.conn();
        let mut missing = Vec::new();
        for (key, (value, when)) in &all_acked {
            let got: Option<u64> = ok(&mut c, &["GET", key]);
            // A later write of the same key may have been applied without
            // being acknowledged; an older value means the acknowledged one
            // was lost.
            if got.is_none_or(|g| g < *value) {
                missing.push((key.clone(), killed_at.saturating_duration_since(*when)));
            }
        }
        // Judged in this round; later rounds only check what came back.
        for (k, _) in &missing {
            all_acked.remove(k);
        }
        report.push(missing);
        drop(c);
        assert!(back.terminate().success());
    }
    report
}

/// Asks for BGREWRITEAOF over and over until `stop` (or the server dies);
/// returns how many were started.
fn rewrite_load(port: u16, stop: Arc<AtomicBool>) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let mut started = 0;
        let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
            return started;
        };
        let Ok(mut c) = client.get_connection() else {
            return started;
        };
        while !stop.load(Ordering::Relaxed) {
            match redis::cmd("BGREWRITEAOF").query::<String>(&mut c) {
                Ok(_) => started += 1,
                // Gone (killed): done.
                Err(e) if e.is_io_error() => break,
                // Refused while one runs: ask again.
                Err(_) => {}
            }
            thread::sleep(Duration::from_millis(10));
        }
        started
    })
}

/// Fails naming the first crash round that lost acknowledged writes.
fn assert_nothing_lost(rounds: Vec<Vec<(String, Duration)>>) {
    for (round, missing) in rounds.into_iter().enumerate() {
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged writes lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
}

#[test]
fn sigkill_with_appendfsync_always_loses_no_acknowledged_write() {
    assert_nothing_lost(crash_rounds("always", 3, false));
}

/// `everysec` replies once the kernel has the write (it syncs only once a
/// second): a crash of the process alone loses nothing acknowledged, only
/// a crash of the machine can lose the last second.
#[test]
fn sigkill_with_appendfsync_everysec_loses_no_acknowledged_write() {
    assert_nothing_lost(crash_rounds("everysec", 2, false));
}

/// Kills that land during log rewrites (snapshot written, log rotated, old
/// segments deleted) lose nothing acknowledged either.
#[test]
fn sigkill_during_log_rewrites_loses_no_acknowledged_write() {
    assert_nothing_lost(crash_rounds("always", 3, true));
}

/// The newest append-log segment in `dir`.
fn last_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut segs: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let n = name.strip_prefix("appendonly.maof.")?.parse().ok()?;
            let len = e.metadata().ok()?.len();
            // Segments holding only their header carry no records.
            (len > 12).then(|| (n, e.path()))
        })
        .collect();
    segs.sort();
    segs.pop().expect("a segment with records").1
}

/// Writes keys, stops the server cleanly, damages the log's last record
/// with `damage`, and checks the server starts, warns, and keeps every
/// record before the damaged one.
fn recovers_from(damage: impl FnOnce(&mut Vec<u8>)) {
    let dir = TempDir::new("meridian-torn");
    let dir_s = dir.path().to_str().expect("utf-8 path").to_string();
    let args = ["--dir", dir_s.as_str(), "--appendfsync", "always"];
    let server = ServerProcess::serve(&args);
    let mut c = server.conn();
    for i in 0..50 {
        let _: () = ok(&mut c, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    let _: () = ok(&mut c, &["SET", "last", "x"]);
    drop(c);
    assert!(server.terminate().success());
    let seg = last_segment(dir.path());
    let mut bytes = std::fs::read(&seg).expect("read segment");
    let before = bytes.len();
    damage(&mut bytes);
    std::fs::write(&seg, &bytes).expect("write segment");

    let server = ServerProcess::serve(&args);
    let mut c = server.conn();
    for i in 0..50 {
        let v: Option<String> = ok(&mut c, &["GET", &format!("k{i}")]);
        assert_eq!(v, Some(i.to_string()), "k{i}");
    }
    let last: Option<String> = ok(&mut c, &["GET", "last"]);
    assert_eq!(last, None, "the damaged last record is not applied");
    let info = info_of(&mut c, "persistence");
    assert_eq!(info_field(&info, "loaded_torn_tails"), Some("1"), "{info}");
    // Writes after recovery persist too.
    let _: () = ok(&mut c, &["SET", "after", "1"]);
    drop(c);
    let out = server.output();
    assert!(
        out.contains("torn or corrupt record"),
        "no warning logged:\n{out}"
    );
    assert!(std::fs::metadata(&seg).expect("segment").len() < before as u64);
    assert!(server.terminate().success());
    let server = ServerProcess::serve(&args);
    let mut c = server.conn();
    let after: Option<String> = ok(&mut c, &["GET", "after"]);
    assert_eq!(after.as_deref(), Some("1"));
    let k0: Option<String> = ok(&mut c, &["GET", "k0"]);
    assert_eq!(k0.as_deref(), Some("0"));
}

#[test]
fn a_half_written_last_record_is_cut_off_with_a_warning() {
    recovers_from(|b| {
        let n = b.len();
        b.truncate(n - 3);
    });
}

#[test]
fn a_corrupt_last_record_is_cut_off_with_a_warning() {
    recovers_from(|b| {
        let n = b.len();
        b[n - 2] ^= 0x5a;
    });
}

fn persistent_server(dir: &TempDir) -> TestServer {
    let d = dir.path().to_path_buf();
    TestServer::start_with(move |c: &mut Config| {
        c.dir = Some(d);
    })
}

fn wait_job_done(c: &mut redis::Connection) -> String {
    let mut info = String::new();
    let done = eventually(Duration::from_secs(20), || {
        info = info_of(c, "persistence");
        info_field(&info, "rdb_bgsave_in_progress") == Some("0")
            && info_field(&info, "aof_rewrite_in_progress") == Some("0")
            && info_field(&info, "aof_rewrite_scheduled") == Some("0")
    });
    assert!(done, "job did not finish: {info}");
    info
}

#[test]
fn save_bgsave_lastsave_and_bgrewriteaof_behave_as_in_redis() {
    let dir = TempDir::new("meridian-save");
    let server = persistent_server(&dir);
    let mut c = server.conn();
    let first: u64 = ok(&mut c, &["LASTSAVE"]);
    for i in 0..200 {
        let _: () = ok(&mut c, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    let _: () = ok(&mut c, &["HSET", "h", "f", "v"]);
    let _: i64 = ok(&mut c, &["INCRBY", "counter", "7"]);
    let info = info_of(&mut c, "persistence");
    assert_eq!(info_field(&info, "aof_enabled"), Some("1"));
    assert_eq!(
        info_field(&info, "rdb_changes_since_last_save"),
        Some("202")
    );

    assert_eq!(q::<String>(&mut c, &["SAVE"]).expect("save"), "OK");
    let after: u64 = ok(&mut c, &["LASTSAVE"]);
    assert!(after >= first, "LASTSAVE {after} before {first}");
    let info = info_of(&mut c, "persistence");
    assert_eq!(info_field(&info, "rdb_saves"), Some("1"));
    assert_eq!(info_field(&info, "rdb_changes_since_last_save"), Some("0"));
    assert_eq!(info_field(&info, "rdb_last_bgsave_status"), Some("ok"));
    assert!(dir.path().join("dump.msnap").exists());

    let _: () = ok(&mut c, &["SET", "k0", "changed"]);
    let started: String = ok(&mut c, &["BGSAVE"]);
    assert_eq!(started, "Background saving started");
    wait_job_done(&mut c);
    let started: String = ok(&mut c, &["BGREWRITEAOF"]);
    assert!(
        started.starts_with("Background append only file rewriting"),
        "{started}"
    );
    let info = wait_job_done(&mut c);
    assert_eq!(info_field(&info, "aof_last_bgrewrite_status"), Some("ok"));
    assert_eq!(info_field(&info, "aof_rewrites"), Some("1"));
    // The rewrite left one segment: the snapshot holds the rest.
    let segments = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("appendonly.maof.")
        })
        .count();
    assert_eq!(segments, 1);
    let _: () = ok(&mut c, &["SET", "after-rewrite", "yes"]);

    // Not inside MULTI: a snapshot visits the shards EXEC holds.
    let _: () = ok(&mut c, &["MULTI"]);
    assert_eq!(
        err(&mut c, &["SAVE"]),
        "ERR Command not allowed inside a transaction"
    );
    let _: () = ok(&mut c, &["DISCARD"]);
    let get = |c: &mut redis::Connection| ok::<Vec<String>>(c, &["CONFIG", "GET", "app*"]);
    let cfg = get(&mut c);
    assert!(
        cfg.windows(2).any(|w| w == ["appendonly", "yes"]),
        "{cfg:?}"
    );
    assert!(
        cfg.windows(2).any(|w| w == ["appendfsync", "everysec"]),
        "{cfg:?}"
    );
    let _: () = ok(&mut c, &["CONFIG", "SET", "appendfsync", "always"]);
    assert!(
        get(&mut c)
            .windows(2)
            .any(|w| w == ["appendfsync", "always"])
    );
    let dbfile: Vec<String> = ok(&mut c, &["CONFIG", "GET", "dbfilename"]);
    assert_eq!(dbfile, vec!["dbfilename", "dump.msnap"]);
    drop(c);
    drop(server);

    // Snapshot plus log give everything back.
    let server = persistent_server(&dir);
    let mut c = server.conn();
    let k0: String = ok(&mut c, &["GET", "k0"]);
    assert_eq!(k0, "changed");
    let k199: String = ok(&mut c, &["GET", "k199"]);
    assert_eq!(k199, "199");
    let f: String = ok(&mut c, &["HGET", "h", "f"]);
    assert_eq!(f, "v");
    let n: i64 = ok(&mut c, &["GET", "counter"]);
    assert_eq!(n, 7);
    let a: String = ok(&mut c, &["GET", "after-rewrite"]);
    assert_eq!(a, "yes");
    let dbsize: i64 = ok(&mut c, &["DBSIZE"]);
    assert_eq!(dbsize, 203);
}

#[test]
fn without_a_data_dir_save_says_persistence_is_off() {
    let server = TestServer::start();
    let mut c = server.conn();
    assert!(err(&mut c, &["SAVE"]).starts_with("ERR persistence is off"));
    assert!(err(&mut c, &["BGSAVE"]).starts_with("ERR persistence is off"));
    let _: u64 = ok(&mut c, &["LASTSAVE"]);
    let info = info_of(&mut c, "persistence");
    assert_eq!(info_field(&info, "aof_enabled"), Some("0"));
    let cfg: Vec<String> = ok(&mut c, &["CONFIG", "GET", "appendonly"]);
    assert_eq!(cfg, vec!["appendonly", "no"]);
}

#[test]
fn a_replicated_region_restarted_with_persistence_has_its_own_writes_back() {
    let dir = TempDir::new("meridian-cluster");
    let d = dir.path().to_path_buf();
    let cluster = TestCluster::start_with(2, move |c| {
        c.dir = Some(d);
    });
    let mut a = cluster.conn(0);
    let _: () = ok(&mut a, &["SET", "shared", "before"]);
    // Region 0's log records what it applies from its peer as well (a
    // record it could not replay would stop it from starting).
    let mut b = cluster.conn(1);
    let _: () = ok(&mut b, &["SET", "theirs", "from-1"]);
    let _: i64 = ok(&mut b, &["RPUSH", "their-list", "x", "y"]);
    drop(b);
    cluster.wait_converged(Duration::from_secs(20));
    // Written while cut off: only region 0's disk has these.
    cluster.partition(0);
    for i in 0..20 {
        let _: () = ok(&mut a, &["SET", &format!("mine{i}"), &i.to_string()]);
    }
    let _: i64 = ok(&mut a, &["INCRBY", "count", "5"]);
    drop(a);
    cluster.stop(0);
    cluster.heal(0);
    // Its log replays the peer's changes as they arrived on the wire.
    cluster.start_region(0);
    let mut a = cluster.conn(0);
    for i in 0..20 {
        let v: Option<String> = ok(&mut a, &["GET", &format!("mine{i}")]);
        assert_eq!(v, Some(i.to_string()), "mine{i} lost on restart");
    }
    let v: Option<String> = ok(&mut a, &["GET", "theirs"]);
    assert_eq!(
        v.as_deref(),
        Some("from-1"),
        "a peer's write lost on restart"
    );
    let l: Vec<String> = ok(&mut a, &["LRANGE", "their-list", "0", "-1"]);
    assert_eq!(l, ["x", "y"]);
    let n: i64 = ok(&mut a, &["GET", "count"]);
    assert_eq!(n, 5);
    // The restarted region accepts writes and its peer gets what it kept.
    let _: () = ok(&mut a, &["SET", "after", "1"]);
    cluster.wait_converged(Duration::from_secs(30));
    let mut b = cluster.conn(1);
    let v: Option<String> = ok(&mut b, &["GET", "mine7"]);
    assert_eq!(v.as_deref(), Some("7"));
    let n: i64 = ok(&mut b, &["GET", "count"]);
    assert_eq!(n, 5);
}

//! Locks through RESP: local leases (tokens, renew, release by token, fair
//! waiting, disconnects), fenced writes, the classic `SET NX PX` pattern,
//! and global leases across three regions — including the safety test that
//! hammers one global lock while links are cut and stalled at random and
//! then checks every grant against the others.
//!
//! Timing is only ever a lower bound or a generous upper bound on waits, so
//! a loaded machine cannot make these flaky; what the safety checker
//! compares are intervals all measured on this process's one clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use meridian::locks::drift_margin;
use meridian_tests::call::{err, ok, q};
use meridian_tests::{Mode, TestCluster, TestServer, eventually};
use redis::Value;

const PATIENCE: Duration = Duration::from_secs(10);

fn token(c: &mut redis::Connection, words: &[&str]) -> Option<i64> {
    ok(c, words)
}

fn info(c: &mut redis::Connection, name: &str, scope: &str) -> BTreeMap<String, Value> {
    let v: Value = ok(c, &["LOCK.INFO", name, scope]);
    let mut out = BTreeMap::new();
    let items = match v {
        Value::Array(items) => items,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("LOCK.INFO: {other:?}"),
    };
    for pair in items.chunks(2) {
        if let [Value::BulkString(k), v] = pair {
            out.insert(String::from_utf8_lossy(k).into_owned(), v.clone());
        }
    }
    out
}

fn int_field(i: &BTreeMap<String, Value>, f: &str) -> i64 {
    match i.get(f) {
        Some(Value::Int(n)) => *n,
        other => panic!("{f}: {other:?}"),
    }
}

#[test]
fn local_leases_grant_increasing_tokens_and_release_by_token() {
    let s = TestServer::start();
    let mut a = s.conn();
    let mut b = s.conn();
    assert_eq!(token(&mut a, &["LOCK.ACQUIRE", "l", "10000"]), Some(1));
    assert_eq!(token(&mut b, &["LOCK.ACQUIRE", "l", "10000"]), None);
    // Only the holder's token releases or renews.
    assert_eq!(ok::<i64>(&mut b, &["LOCK.RELEASE", "l", "2"]), 0);
    assert_eq!(ok::<i64>(&mut b, &["LOCK.RENEW", "l", "2", "10000"]), 0);
    assert_eq!(ok::<i64>(&mut a, &["LOCK.RENEW", "l", "1", "20000"]), 1);
    let i = info(&mut a, "l", "LOCAL");
    assert_eq!(int_field(&i, "token"), 1);
    assert!(int_field(&i, "ttl-ms") > 10000, "{i:?}");
    assert_eq!(ok::<i64>(&mut a, &["LOCK.RELEASE", "l", "1"]), 1);
    assert_eq!(ok::<i64>(&mut a, &["LOCK.RELEASE", "l", "1"]), 0);
    assert_eq!(info(&mut a, "l", "LOCAL").get("token"), Some(&Value::Nil));
    assert_eq!(token(&mut b, &["LOCK.ACQUIRE", "l", "10000"]), Some(2));
    // Lapsed leases are free again, with a greater token.
    assert_eq!(token(&mut a, &["LOCK.ACQUIRE", "short", "50"]), Some(1));
    thread::sleep(Duration::from_millis(80));
    assert_eq!(ok::<i64>(&mut a, &["LOCK.RENEW", "short", "1", "50"]), 0);
    assert_eq!(token(&mut b, &["LOCK.ACQUIRE", "short", "50"]), Some(2));
    // Argument errors.
    assert_eq!(
        err(&mut a, &["LOCK.ACQUIRE", "l", "0"]),
        "ERR invalid lock ttl: must be a positive integer"
    );
    assert_eq!(
        err(&mut a, &["LOCK.ACQUIRE", "l", "100", "WAIT"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut a, &["LOCK.ACQUIRE", "l", "100", "WAIT", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut a, &["LOCK.ACQUIRE", "l", "999999999999"]),
        "ERR lock ttl must be between 1 and 86400000 milliseconds"
    );
    assert_eq!(
        err(&mut a, &["LOCK.RELEASE", "l", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut a, &["LOCK.ACQUIRE"]),
        "ERR wrong number of arguments for 'lock.acquire' command"
    );
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = TestServer::start();
    let mut holder = s.conn();
    let first = token(&mut holder, &["LOCK.ACQUIRE", "q", "30000"]).expect("free");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for who in 0..3 {
        let mut c = s.conn();
        let order = order.clone();
        threads.push(thread::spawn(move || {
            let t = token(&mut c, &["LOCK.ACQUIRE", "q", "30000", "WAIT", "20000"])
                .expect("served before the wait ends");
            order.lock().unwrap().push((who, t));
            // Hold briefly, then pass it on.
            thread::sleep(Duration::from_millis(20));
            assert_eq!(ok::<i64>(&mut c, &["LOCK.RELEASE", "q", &t.to_string()]), 1);
        }));
        // Each waiter is queued before the next one arrives.
        let mut probe = s.conn();
        assert!(
            eventually(PATIENCE, || int_field(
                &info(&mut probe, "q", "LOCAL"),
                "waiters"
            ) == who + 1),
            "waiter {who} did not queue"
        );
    }
    // A newcomer without WAIT does not jump the queue.
    let mut newcomer = s.conn();
    assert_eq!(token(&mut newcomer, &["LOCK.ACQUIRE", "q", "100"]), None);
    assert_eq!(
        ok::<i64>(&mut holder, &["LOCK.RELEASE", "q", &first.to_string()]),
        1
    );
    for t in threads {
        t.join().expect("waiter");
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(
        order.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
        [0, 1, 2],
        "{order:?}"
    );
    assert!(
        order.windows(2).all(|w| w[0].1 < w[1].1),
        "tokens grow: {order:?}"
    );
}

#[test]
fn a_lapse_wakes_a_waiter_and_a_wait_times_out_with_nil() {
    let s = TestServer::start();
    let mut a = s.conn();
    let mut b = s.conn();
    token(&mut a, &["LOCK.ACQUIRE", "e", "300"]).expect("free");
    let t = token(&mut b, &["LOCK.ACQUIRE", "e", "30000", "WAIT", "20000"]);
    assert_eq!(t, Some(2), "the lapse of lease 1 served the waiter");
    // Held for longer than the wait: nil, and the queue is empty after.
    assert_eq!(
        token(&mut a, &["LOCK.ACQUIRE", "e", "1000", "WAIT", "100"]),
        None
    );
    assert_eq!(int_field(&info(&mut a, "e", "LOCAL"), "waiters"), 0);
    assert_eq!(int_field(&info(&mut a, "e", "LOCAL"), "token"), 2);
}

#[test]
fn a_client_that_disconnects_while_waiting_leaves_the_queue() {
    let s = TestServer::start();
    let mut holder = s.conn();
    let t = token(&mut holder, &["LOCK.ACQUIRE", "d", "30000"]).expect("free");
    let mut raw = s.raw();
    raw.send(b"*5\r\n$12\r\nLOCK.ACQUIRE\r\n$1\r\nd\r\n$4\r\n1000\r\n$4\r\nWAIT\r\n$1\r\n0\r\n");
    let mut probe = s.conn();
    assert!(eventually(PATIENCE, || int_field(
        &info(&mut probe, "d", "LOCAL"),
        "waiters"
    ) == 1));
    drop(raw);
    assert!(
        eventually(PATIENCE, || int_field(
            &info(&mut probe, "d", "LOCAL"),
            "waiters"
        ) == 0),
        "the disconnected waiter is still queued"
    );
    // Nobody took the lock on its behalf: a release lets the next in at once.
    assert_eq!(
        ok::<i64>(&mut holder, &["LOCK.RELEASE", "d", &t.to_string()]),
        1
    );
    assert_eq!(token(&mut probe, &["LOCK.ACQUIRE", "d", "1000"]), Some(2));
    let blocked: String = ok(&mut probe, &["INFO", "clients"]);
    assert!(blocked.contains("blocked_clients:0"), "{blocked}");
}

#[test]
fn a_waiting_client_of_a_deleted_user_is_closed_and_leaves_the_queue() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(
        &mut admin,
        &["ACL", "SETUSER", "tmp", "on", ">pw", "~*", "+@all"],
    );
    let t = token(&mut admin, &["LOCK.ACQUIRE", "u", "30000"]).expect("free");
    let mut c = s.conn();
    c.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let _: () = ok(&mut c, &["AUTH", "tmp", "pw"]);
    let waiter = thread::spawn(move || {
        q::<Option<i64>>(&mut c, &["LOCK.ACQUIRE", "u", "1000", "WAIT", "0"])
    });
    assert!(eventually(PATIENCE, || int_field(
        &info(&mut admin, "u", "LOCAL"),
        "waiters"
    ) == 1));
    let _: i64 = ok(&mut admin, &["ACL", "DELUSER", "tmp"]);
    assert!(
        eventually(PATIENCE, || int_field(
            &info(&mut admin, "u", "LOCAL"),
            "waiters"
        ) == 0),
        "the deleted user's waiter is still queued"
    );
    let r = waiter.join().expect("waiter");
    assert!(r.is_err(), "the connection was closed: {r:?}");
    // The lock is untouched: still the admin's.
    assert_eq!(int_field(&info(&mut admin, "u", "LOCAL"), "token"), t);
}

#[test]
fn the_classic_set_nx_px_and_compare_and_delete_pattern_works() {
    let s = TestServer::start();
    let mut c = s.conn();
    let release = "if redis.call('get', KEYS[1]) == ARGV[1] then \
                   return redis.call('del', KEYS[1]) else return 0 end";
    let set: Option<String> = ok(&mut c, &["SET", "lock:x", "me", "NX", "PX", "10000"]);
    assert_eq!(set.as_deref(), Some("OK"));
    let again: Option<String> = ok(&mut c, &["SET", "lock:x", "you", "NX", "PX", "10000"]);
    assert_eq!(again, None);
    assert_eq!(
        ok::<i64>(&mut c, &["EVAL", release, "1", "lock:x", "you"]),
        0
    );
    assert_eq!(
        ok::<i64>(&mut c, &["EVAL", release, "1", "lock:x", "me"]),
        1
    );
    let set: Option<String> = ok(&mut c, &["SET", "lock:x", "you", "NX", "PX", "10000"]);
    assert_eq!(set.as_deref(), Some("OK"));
    let pttl: i64 = ok(&mut c, &["PTTL", "lock:x"]);
    assert!(pttl > 0 && pttl <= 10000);
}

#[test]
fn fenced_writes_refuse_tokens_older_than_the_newest_seen() {
    let s = TestServer::start();
    let mut c = s.conn();
    let t1 = token(&mut c, &["LOCK.ACQUIRE", "f", "30000"]).expect("free");
    let _: () = ok(&mut c, &["SET", "res", "a", "FENCE", "f", &t1.to_string()]);
    ok::<i64>(&mut c, &["LOCK.RELEASE", "f", &t1.to_string()]);
    let t2 = token(&mut c, &["LOCK.ACQUIRE", "f", "30000"]).expect("free");
    // The old holder's write is refused even before the new holder wrote.
    assert_eq!(
        err(
            &mut c,
            &["SET", "res", "late", "FENCE", "f", &t1.to_string()]
        ),
        format!("FENCED token {t1} is older than {t2}, the newest seen for this lock")
    );
    let v: String = ok(&mut c, &["GET", "res"]);
    assert_eq!(v, "a");
    let _: () = ok(&mut c, &["SET", "res", "b", "FENCE", "f", &t2.to_string()]);
    let _: () = ok(&mut c, &["SET", "res", "c", "FENCE", "f", &t2.to_string()]);
    // A fenced write of a newer token raises the bar by itself.
    let _: () = ok(&mut c, &["SET", "other", "x", "FENCE", "g", "9"]);
    assert!(err(&mut c, &["SET", "other", "y", "FENCE", "g", "8"]).starts_with("FENCED"));
    assert_eq!(int_field(&info(&mut c, "g", "LOCAL"), "fence-token"), 9);
    // Fenced writes combine with the other options.
    let r: Option<String> = ok(&mut c, &["SET", "res", "d", "NX", "FENCE", "f", "2"]);
    assert_eq!(r, None);
    assert_eq!(
        err(&mut c, &["SET", "res", "d", "FENCE", "f"]),
        "ERR syntax error"
    );
}

#[test]
fn waiting_lock_commands_are_refused_in_transactions_and_scripts() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["MULTI"]);
    assert_eq!(
        err(&mut c, &["LOCK.ACQUIRE", "m", "1000"]),
        "ERR Command not allowed inside a transaction"
    );
    let _: () = ok(&mut c, &["DISCARD"]);
    let e = err(
        &mut c,
        &["EVAL", "return redis.call('lock.acquire', 'm', 1000)", "0"],
    );
    assert!(
        e.contains("This Redis command is not allowed from script"),
        "{e}"
    );
    // LOCK.INFO is a plain read, allowed anywhere.
    let v: Value = ok(
        &mut c,
        &["EVAL", "return redis.call('lock.info', 'm')", "0"],
    );
    assert!(matches!(v, Value::Array(_)), "{v:?}");
}

#[test]
fn a_global_lock_needs_a_majority_of_regions() {
    let cluster = TestCluster::start(3);
    let mut r0 = cluster.conn(0);
    let mut r1 = cluster.conn(1);
    let mut r2 = cluster.conn(2);
    let t1 = token(&mut r0, &["LOCK.ACQUIRE", "g", "30000", "GLOBAL"]).expect("free");
    // Every region sees it held.
    assert_eq!(
        token(&mut r1, &["LOCK.ACQUIRE", "g", "30000", "GLOBAL"]),
        None
    );
    assert_eq!(
        token(&mut r2, &["LOCK.ACQUIRE", "g", "30000", "GLOBAL"]),
        None
    );
    // A waiter in another region is served when the holder releases.
    let waiter = {
        let mut c = cluster.conn(1);
        thread::spawn(move || {
            token(
                &mut c,
                &["LOCK.ACQUIRE", "g", "30000", "GLOBAL", "WAIT", "20000"],
            )
        })
    };
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        ok::<i64>(&mut r0, &["LOCK.RELEASE", "g", &t1.to_string(), "GLOBAL"]),
        1
    );
    let t2 = waiter.join().expect("waiter").expect("granted");
    assert!(t2 > t1, "{t2} > {t1}");
    assert_eq!(
        ok::<i64>(
            &mut r1,
            &["LOCK.RENEW", "g", &t2.to_string(), "30000", "GLOBAL"]
        ),
        1
    );
    assert_eq!(
        ok::<i64>(&mut r1, &["LOCK.RELEASE", "g", &t2.to_string(), "GLOBAL"]),
        1
    );
    // The release reaches every region (a majority answered; the third
    // still gets it), so region 2 will not see lease t2 after the partition.
    assert!(eventually(PATIENCE, || info(&mut r2, "g", "GLOBAL")
        .get("token")
        == Some(&Value::Nil)));

    // Region 2 alone cannot grant; the other two still can.
    cluster.partition(2);
    assert!(eventually(PATIENCE, || {
        q::<Option<i64>>(&mut r2, &["LOCK.ACQUIRE", "g", "30000", "GLOBAL"])
            .is_err_and(|e| e.code() == Some("NOQUORUM"))
    }));
    assert_eq!(
        err(&mut r2, &["LOCK.ACQUIRE", "g", "30000", "GLOBAL"]),
        "NOQUORUM a global lock needs 2 of 3 regions; only 1 answered"
    );
    let t3 = token(&mut r1, &["LOCK.ACQUIRE", "g", "500", "GLOBAL"]).expect("majority side grants");
    assert!(t3 > t2);
    // A stalled (not cut) link fails the same way, after the round timeout.
    cluster.heal(2);
    cluster.hold(2);
    assert!(err(&mut r2, &["LOCK.ACQUIRE", "h", "30000", "GLOBAL"]).starts_with("NOQUORUM"));
    cluster.heal(2);
    // Healed: region 2 grants again, above everything granted meanwhile.
    let granted = eventually(PATIENCE, || {
        matches!(
            q::<Option<i64>>(
                &mut r2,
                &["LOCK.ACQUIRE", "g", "30000", "GLOBAL", "WAIT", "2000"]
            ),
            Ok(Some(_))
        )
    });
    assert!(granted, "region 2 did not grant after healing");
    let i = info(&mut r2, "g", "GLOBAL");
    assert!(int_field(&i, "token") > t3, "{i:?}");
}

/// One grant as a client saw it, on the test's clock.
#[derive(Debug, Clone)]
struct Held {
    region: usize,
    token: i64,
    /// When the ACQUIRE was sent.
    sent: Instant,
    /// When the token arrived.
    got: Instant,
    /// End of validity: `sent + ttl − margin`, extended by renewals and
    /// cut short by a release.
    until: Instant,
}

/// One fenced write as a client saw it.
#[derive(Debug, Clone)]
struct Fenced {
    region: usize,
    token: i64,
    sent: Instant,
    done: Instant,
    admitted: bool,
}

/// Region `i` was cut off from every other between these instants.
#[derive(Debug, Clone)]
struct Isolated {
    region: usize,
    from: Instant,
    to: Instant,
}

/// A small deterministic generator (no test dependency on `rand`).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn a_global_lock_stays_exclusive_and_fenced_under_random_partitions() {
    const TTL_MS: u64 = 150;
    const CLIENTS_PER_REGION: usize = 3;
    const RUN: Duration = Duration::from_secs(12);
    let ttl = Duration::from_millis(TTL_MS);
    let valid_for = ttl - drift_margin(ttl);

    let cluster = Arc::new(TestCluster::start(3));
    let stop = Arc::new(AtomicBool::new(false));
    let grants = Arc::new(Mutex::new(Vec::<Held>::new()));
    let writes = Arc::new(Mutex::new(Vec::<Fenced>::new()));
    let isolated = Arc::new(Mutex::new(Vec::<Isolated>::new()));
    let no_quorum = Arc::new(Mutex::new(0usize));

    let mut clients = Vec::new();
    for region in 0..3 {
        for k in 0..CLIENTS_PER_REGION {
            let (cluster, stop, grants, writes, no_quorum) = (
                cluster.clone(),
                stop.clone(),
                grants.clone(),
                writes.clone(),
                no_quorum.clone(),
            );
            clients.push(thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((region * 8 + k + 1) as u64));
                let mut c = cluster.conn(region);
                let fenced = |c: &mut redis::Connection, token: i64| {
                    let sent = Instant::now();
                    let r = q::<Value>(
                        c,
                        &[
                            "SET",
                            "resource",
                            &token.to_string(),
                            "FENCE",
                            "the-lock",
                            &token.to_string(),
                        ],
                    );
                    let done = Instant::now();
                    let admitted = match r {
                        Ok(_) => true,
                        Err(e) if e.code() == Some("FENCED") => false,
                        Err(e) => panic!("fenced write: {e}"),
                    };
                    Fenced {
                        region,
                        token,
                        sent,
                        done,
                        admitted,
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let mut words = vec!["LOCK.ACQUIRE", "the-lock", "150", "GLOBAL"];
                    if rng.below(2) == 0 {
                        words.extend(["WAIT", "300"]);
                    }
                    let sent = Instant::now();
                    let token = match q::<Option<i64>>(&mut c, &words) {
                        Ok(Some(t)) => t,
                        Ok(None) => continue,
                        Err(e) if e.code() == Some("NOQUORUM") => {
                            *no_quorum.lock().unwrap() += 1;
                            thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                        Err(e) => panic!("acquire in region {region}: {e}"),
                    };
                    let got = Instant::now();
                    let mut held = Held {
                        region,
                        token,
                        sent,
                        got,
                        until: sent + valid_for,
                    };
                    // Use the resource while valid, sometimes renew.
                    let w = fenced(&mut c, token);
                    writes.lock().unwrap().push(w);
                    thread::sleep(Duration::from_millis(rng.below(40)));
                    if rng.below(3) == 0 {
                        let renew_sent = Instant::now();
                        let r = q::<i64>(
                            &mut c,
                            &[
                                "LOCK.RENEW",
                                "the-lock",
                                &token.to_string(),
                                "150",
                                "GLOBAL",
                            ],
                        );
                        if let Ok(1) = r {
                            held.until = held.until.max(renew_sent + valid_for);
                        }
                    }
                    // Release, or let it lapse.
                    if rng.below(4) != 0 {
                        let release_sent = Instant::now();
                        let _ = q::<i64>(
                            &mut c,
                            &["LOCK.RELEASE", "the-lock", &token.to_string(), "GLOBAL"],
                        );
                        held.until = held.until.min(release_sent);
                    }
                    grants.lock().unwrap().push(held);
                    // Now a stale holder: its late write must not pass where
                    // a newer token was seen.
                    if rng.below(2) == 0 {
                        thread::sleep(Duration::from_millis(rng.below(200)));
                        let w = fenced(&mut c, token);
                        writes.lock().unwrap().push(w);
                    }
                }
            }));
        }
    }

    // Chaos: cut or stall one region (a minority of one), or one link.
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let started = Instant::now();
    while started.elapsed() < RUN {
        let region = rng.below(3) as usize;
        let hold_for = Duration::from_millis(200 + rng.below(600));
        match rng.below(3) {
            0 => {
                cluster.partition(region);
                let from = Instant::now();
                thread::sleep(hold_for);
                let to = Instant::now();
                cluster.heal(region);
                isolated.lock().unwrap().push(Isolated { region, from, to });
            }
            1 => {
                cluster.hold(region);
                thread::sleep(hold_for);
                cluster.heal(region);
            }
            _ => {
                let other = (region + 1 + rng.below(2) as usize) % 3;
                cluster.link(region, other).set_mode(Mode::Cut);
                thread::sleep(hold_for);
                cluster.link(region, other).pass();
            }
        }
        thread::sleep(Duration::from_millis(100 + rng.below(300)));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    cluster.heal_all();

    let mut grants = grants.lock().unwrap().clone();
    let writes = writes.lock().unwrap().clone();
    let isolated = isolated.lock().unwrap().clone();
    assert!(
        grants.len() >= 20,
        "too few grants to judge: {}",
        grants.len()
    );

    // 1. Tokens are unique, and a grant that completed before another was
    //    even asked for has the smaller token.
    grants.sort_by_key(|g| g.token);
    for w in grants.windows(2) {
        assert!(w[0].token < w[1].token, "token granted twice: {w:?}");
    }
    for a in &grants {
        for b in grants.iter().filter(|b| a.got < b.sent) {
            assert!(
                a.token < b.token,
                "token {} granted after {} had completed: {a:?} {b:?}",
                b.token,
                a.token
            );
        }
    }
    // 2. Validity windows [got, until] follow token order without overlap:
    //    a holder's window ends before any greater token's window starts.
    //    (A grant that reached its client after its validity ended has an
    //    empty window and constrains nothing.)
    let valid: Vec<&Held> = grants.iter().filter(|g| g.got < g.until).collect();
    for a in &valid {
        for b in valid.iter().filter(|b| b.token > a.token) {
            assert!(
                a.until <= b.got,
                "validity windows overlap: {a:?} still valid {:?} after {b:?} was granted",
                a.until.saturating_duration_since(b.got)
            );
        }
    }
    // 3. The minority side never grants: no grant's whole round lies inside
    //    a time its region was cut off.
    for g in &grants {
        for iso in isolated.iter().filter(|i| i.region == g.region) {
            assert!(
                !(iso.from <= g.sent && g.got <= iso.to),
                "region {} granted {} while cut off: {g:?} {iso:?}",
                g.region,
                g.token
            );
        }
    }
    // 4. Fencing: in each region, a write admitted after another finished
    //    carries a token at least as new.
    for region in 0..3 {
        let admitted: Vec<&Fenced> = writes
            .iter()
            .filter(|w| w.region == region && w.admitted)
            .collect();
        for a in &admitted {
            for b in &admitted {
                if a.done < b.sent {
                    assert!(
                        b.token >= a.token,
                        "region {region} admitted token {} after {}",
                        b.token,
                        a.token
                    );
                }
            }
        }
    }
    // The cut-off side was asked, and refused.
    let no_quorum_answers = *no_quorum.lock().unwrap();
    assert!(
        no_quorum_answers > 0,
        "no region was ever cut off from a majority while asked"
    );
    let refused = writes.iter().filter(|w| !w.admitted).count();
    assert!(refused > 0, "no stale write was ever refused");
    // And now, deterministically: the newest grant's region refuses every
    // older token.
    let last = grants.last().expect("grants");
    let mut c = cluster.conn(last.region);
    let e = err(
        &mut c,
        &[
            "SET",
            "resource",
            "stale",
            "FENCE",
            "the-lock",
            &(last.token - 1).to_string(),
        ],
    );
    assert!(e.starts_with("FENCED"), "{e}");
    eprintln!(
        "{} grants, {} fenced writes ({} refused), {} NOQUORUM answers, {} isolations",
        grants.len(),
        writes.len(),
        refused,
        no_quorum_answers,
        isolated.len()
    );
}

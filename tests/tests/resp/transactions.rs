//! Transactions: MULTI/EXEC/DISCARD queueing and results, EXECABORT, WATCH
//! optimistic locking (also under real concurrency), and the `redis` crate's
//! atomic pipelines.

use std::thread;
use std::time::Duration;

use meridian_tests::{RawConn, TestServer};
use redis::Commands;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sends `cmd` and asserts the answer is exactly `expected`.
fn expect(raw: &mut RawConn, cmd: &str, expected: &str) {
    let got = raw.roundtrip(cmd.as_bytes(), expected.len());
    assert_eq!(text(&got), expected, "answer to {cmd:?}");
}

#[test]
fn multi_exec_returns_every_result_in_order() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "SET k 1\r\n", "+QUEUED\r\n");
    expect(&mut raw, "INCR k\r\n", "+QUEUED\r\n");
    expect(&mut raw, "GET k\r\n", "+QUEUED\r\n");
    expect(&mut raw, "PING\r\n", "+QUEUED\r\n");
    expect(&mut raw, "ECHO e\r\n", "+QUEUED\r\n");
    expect(
        &mut raw,
        "EXEC\r\n",
        "*5\r\n+OK\r\n:2\r\n$1\r\n2\r\n+PONG\r\n$1\r\ne\r\n",
    );
    // The transaction is over: commands run at once again.
    expect(&mut raw, "GET k\r\n", "$1\r\n2\r\n");
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "EXEC\r\n", "*0\r\n");
}

#[test]
fn queueing_errors_abort_the_transaction() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "SET k 1\r\n", "+QUEUED\r\n");
    expect(
        &mut raw,
        "NOSUCHCMD a\r\n",
        "-ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' \r\n",
    );
    expect(&mut raw, "SET k 2\r\n", "+QUEUED\r\n");
    expect(
        &mut raw,
        "EXEC\r\n",
        "-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    // Nothing ran.
    expect(&mut raw, "GET k\r\n", "$-1\r\n");

    // Arity errors abort too.
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(
        &mut raw,
        "GET\r\n",
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    expect(
        &mut raw,
        "EXEC\r\n",
        "-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    expect(&mut raw, "EXEC\r\n", "-ERR EXEC without MULTI\r\n");
}

#[test]
fn runtime_errors_inside_exec_do_not_stop_the_others() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect(&mut raw, "SET s abc\r\n", "+OK\r\n");
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "INCR s\r\n", "+QUEUED\r\n");
    expect(&mut raw, "SET t 1\r\n", "+QUEUED\r\n");
    expect(&mut raw, "SET t 2 EX 0\r\n", "+QUEUED\r\n");
    expect(&mut raw, "INCR t\r\n", "+QUEUED\r\n");
    expect(
        &mut raw,
        "EXEC\r\n",
        "*4\r\n-ERR value is not an integer or out of range\r\n+OK\r\n\
         -ERR invalid expire time in 'set' command\r\n:2\r\n",
    );
    expect(&mut raw, "GET t\r\n", "$1\r\n2\r\n");
}

#[test]
fn multi_exec_discard_misuse_errors() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect(&mut raw, "EXEC\r\n", "-ERR EXEC without MULTI\r\n");
    expect(&mut raw, "DISCARD\r\n", "-ERR DISCARD without MULTI\r\n");
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    // Neither answer dooms the open transaction (as Redis).
    expect(
        &mut raw,
        "MULTI\r\n",
        "-ERR MULTI calls can not be nested\r\n",
    );
    expect(
        &mut raw,
        "WATCH k\r\n",
        "-ERR WATCH inside MULTI is not allowed\r\n",
    );
    expect(&mut raw, "SET k v\r\n", "+QUEUED\r\n");
    expect(&mut raw, "EXEC\r\n", "*1\r\n+OK\r\n");
    expect(
        &mut raw,
        "MULTI extra\r\n",
        "-ERR wrong number of arguments for 'multi' command\r\n",
    );
}

#[test]
fn discard_drops_the_queue() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "SET k 1\r\n", "+QUEUED\r\n");
    expect(&mut raw, "DISCARD\r\n", "+OK\r\n");
    expect(&mut raw, "GET k\r\n", "$-1\r\n");
    expect(&mut raw, "EXEC\r\n", "-ERR EXEC without MULTI\r\n");
}

#[test]
fn watched_key_changed_by_another_client_aborts_exec() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.conn();
    expect(&mut a, "SET k 1\r\n", "+OK\r\n");
    expect(&mut a, "WATCH k other\r\n", "+OK\r\n");
    let _: () = b.set("k", "from-b").unwrap();
    expect(&mut a, "MULTI\r\n", "+OK\r\n");
    expect(&mut a, "SET k from-a\r\n", "+QUEUED\r\n");
    expect(&mut a, "EXEC\r\n", "*-1\r\n");
    assert_eq!(b.get::<_, String>("k").unwrap(), "from-b");

    // EXEC unwatched everything: the next transaction runs regardless.
    let _: () = b.set("k", "again").unwrap();
    expect(&mut a, "MULTI\r\n", "+OK\r\n");
    expect(&mut a, "SET k from-a\r\n", "+QUEUED\r\n");
    expect(&mut a, "EXEC\r\n", "*1\r\n+OK\r\n");
    assert_eq!(b.get::<_, String>("k").unwrap(), "from-a");

    // RESP3 answers the aborted EXEC with a null.
    let mut a3 = s.raw();
    let _ = a3.roundtrip(b"HELLO 3\r\n", 100);
    expect(&mut a3, "WATCH k\r\n", "+OK\r\n");
    let _: () = b.set("k", "changed").unwrap();
    expect(&mut a3, "MULTI\r\n", "+OK\r\n");
    expect(&mut a3, "GET k\r\n", "+QUEUED\r\n");
    expect(&mut a3, "EXEC\r\n", "_\r\n");
}

#[test]
fn watch_without_changes_lets_exec_run() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.conn();
    expect(&mut a, "SET k 1\r\n", "+OK\r\n");
    expect(&mut a, "WATCH k\r\n", "+OK\r\n");
    // Reads and writes of other keys do not count.
    let _: Option<String> = b.get("k").unwrap();
    let _: () = b.set("unrelated", "x").unwrap();
    expect(&mut a, "MULTI\r\n", "+OK\r\n");
    expect(&mut a, "INCR k\r\n", "+QUEUED\r\n");
    expect(&mut a, "EXEC\r\n", "*1\r\n:2\r\n");
}

#[test]
fn unwatch_and_discard_forget_watched_keys() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.conn();
    expect(&mut a, "WATCH k\r\n", "+OK\r\n");
    expect(&mut a, "UNWATCH\r\n", "+OK\r\n");
    let _: () = b.set("k", "1").unwrap();
    expect(&mut a, "MULTI\r\n", "+OK\r\n");
    expect(&mut a, "GET k\r\n", "+QUEUED\r\n");
    expect(&mut a, "EXEC\r\n", "*1\r\n$1\r\n1\r\n");

    expect(&mut a, "WATCH k\r\n", "+OK\r\n");
    expect(&mut a, "MULTI\r\n", "+OK\r\n");
    expect(&mut a, "DISCARD\r\n", "+OK\r\n");
    let _: () = b.set("k", "2").unwrap();
    expect(&mut a, "MULTI\r\n", "+OK\r\n");
    expect(&mut a, "GET k\r\n", "+QUEUED\r\n");
    expect(&mut a, "EXEC\r\n", "*1\r\n$1\r\n2\r\n");

    // A client's own write to a watched key also aborts its EXEC.
    expect(&mut a, "WATCH k\r\n", "+OK\r\n");
    expect(&mut a, "SET k mine\r\n", "+OK\r\n");
    expect(&mut a, "MULTI\r\n", "+OK\r\n");
    expect(&mut a, "GET k\r\n", "+QUEUED\r\n");
    expect(&mut a, "EXEC\r\n", "*-1\r\n");
    expect(
        &mut a,
        "WATCH\r\n",
        "-ERR wrong number of arguments for 'watch' command\r\n",
    );
}

#[test]
fn redis_crate_atomic_pipeline() {
    let s = TestServer::start();
    let mut c = s.conn();
    let (set, n, v): (String, i64, String) = redis::pipe()
        .atomic()
        .set("counter", 10)
        .incr("counter", 5)
        .get("counter")
        .query(&mut c)
        .unwrap();
    assert_eq!((set.as_str(), n, v.as_str()), ("OK", 15, "15"));
    // A failing command inside surfaces as that command's error.
    let _: () = c.set("str", "abc").unwrap();
    let r: redis::RedisResult<(i64,)> = redis::pipe().atomic().incr("str", 1).query(&mut c);
    let e = r.unwrap_err();
    assert!(
        e.to_string().contains("not an integer"),
        "unexpected error: {e}"
    );
    // The connection is usable after it.
    assert_eq!(c.get::<_, i64>("counter").unwrap(), 15);
}

/// Two clients increment one counter with WATCH/GET/MULTI/SET/EXEC retries
/// (`redis::transaction`). Optimistic locking must never lose an update.
#[test]
fn concurrent_watch_transactions_never_lose_updates() {
    let s = TestServer::start();
    let per_client = 200;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let client = s.client();
            thread::spawn(move || {
                let mut c = client.get_connection().unwrap();
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                for _ in 0..per_client {
                    let _: () = redis::transaction(&mut c, &["ctr"], |c, pipe| {
                        let v: Option<i64> = c.get("ctr")?;
                        pipe.set("ctr", v.unwrap_or(0) + 1).ignore().query(c)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut c = s.conn();
    assert_eq!(c.get::<_, i64>("ctr").unwrap(), 2 * per_client);
}

#[test]
fn client_list_shows_queued_count() {
    let s = TestServer::start();
    let mut a = s.raw();
    let id_reply = a.roundtrip(b"CLIENT ID\r\n", 4);
    let id = text(&id_reply)
        .trim()
        .trim_start_matches(':')
        .parse::<u64>()
        .unwrap();
    let mut b = s.conn();
    let line = |b: &mut redis::Connection| -> String {
        redis::cmd("CLIENT")
            .arg("LIST")
            .arg("ID")
            .arg(id)
            .query(b)
            .unwrap()
    };
    assert!(line(&mut b).contains(" multi=-1 "), "{}", line(&mut b));
    expect(&mut a, "MULTI\r\n", "+OK\r\n");
    assert!(line(&mut b).contains(" multi=0 "), "{}", line(&mut b));
    expect(&mut a, "PING\r\n", "+QUEUED\r\n");
    expect(&mut a, "PING\r\n", "+QUEUED\r\n");
    assert!(line(&mut b).contains(" multi=2 "), "{}", line(&mut b));
    expect(&mut a, "EXEC\r\n", "*2\r\n+PONG\r\n+PONG\r\n");
    assert!(line(&mut b).contains(" multi=-1 "), "{}", line(&mut b));
}

#[test]
fn connection_commands_inside_multi_do_not_deadlock() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "PING\r\n", "+QUEUED\r\n");
    expect(&mut raw, "CLIENT SETNAME tx\r\n", "+QUEUED\r\n");
    expect(&mut raw, "CLIENT GETNAME\r\n", "+QUEUED\r\n");
    expect(&mut raw, "PUBLISH ch m\r\n", "+QUEUED\r\n");
    expect(&mut raw, "PUBSUB NUMPAT\r\n", "+QUEUED\r\n");
    expect(
        &mut raw,
        "EXEC\r\n",
        "*5\r\n+PONG\r\n+OK\r\n$2\r\ntx\r\n:0\r\n:0\r\n",
    );
    // Other clients were never blocked out for good.
    let mut c = s.conn();
    let _: () = c.set("after", "1").unwrap();
}

#[test]
fn subscribe_inside_multi_enters_subscriber_mode_after_exec() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "SUBSCRIBE z\r\n", "+QUEUED\r\n");
    expect(&mut raw, "PING\r\n", "+QUEUED\r\n");
    // PING runs after SUBSCRIBE inside EXEC, so it already answers in the
    // pub/sub shape (as Redis).
    expect(
        &mut raw,
        "EXEC\r\n",
        "*2\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nz\r\n:1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n",
    );
    expect(
        &mut raw,
        "MULTI\r\n",
        "-ERR Can't execute 'multi': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
}

#[test]
fn exec_over_maxmemory_is_aborted_with_oom() {
    let s = TestServer::start_with(|cfg| cfg.maxmemory = 1);
    let mut raw = s.raw();
    // The first write is admitted (nothing is used yet), then memory is over.
    expect(&mut raw, "SET a x\r\n", "+OK\r\n");
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "SET b y\r\n", "+QUEUED\r\n");
    expect(
        &mut raw,
        "EXEC\r\n",
        "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    expect(&mut raw, "GET b\r\n", "$-1\r\n");
    // Transactions without memory-growing commands still run.
    expect(&mut raw, "MULTI\r\n", "+OK\r\n");
    expect(&mut raw, "GET a\r\n", "+QUEUED\r\n");
    expect(&mut raw, "EXEC\r\n", "*1\r\n$1\r\nx\r\n");
}

/// Other clients never observe a transaction half applied.
#[test]
fn exec_is_atomic_for_other_clients() {
    let s = TestServer::start();
    let writer = {
        let client = s.client();
        thread::spawn(move || {
            let mut c = client.get_connection().unwrap();
            for _ in 0..300 {
                let _: (i64, i64) = redis::pipe()
                    .atomic()
                    .incr("left", 1)
                    .incr("right", 1)
                    .query(&mut c)
                    .unwrap();
            }
        })
    };
    let mut c = s.conn();
    let mut checks = 0;
    while !writer.is_finished() || checks == 0 {
        let (l, r): (Option<i64>, Option<i64>) = redis::cmd("MGET")
            .arg("left")
            .arg("right")
            .query(&mut c)
            .unwrap();
        assert_eq!(l, r, "saw a transaction half applied");
        checks += 1;
    }
    writer.join().unwrap();
    let (l, r): (i64, i64) = redis::cmd("MGET")
        .arg("left")
        .arg("right")
        .query(&mut c)
        .unwrap();
    assert_eq!((l, r), (300, 300));
}

#[test]
fn writes_that_change_nothing_on_a_missing_key_keep_the_watch() {
    let s = TestServer::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let _: () = redis::cmd("WATCH").arg("absent").query(&mut a).unwrap();
    // Pops, removals and expiry changes on a key that does not exist modify nothing.
    let _: Option<String> = redis::cmd("LPOP").arg("absent").query(&mut b).unwrap();
    let _: i64 = redis::cmd("HDEL")
        .arg("absent")
        .arg("f")
        .query(&mut b)
        .unwrap();
    let _: i64 = redis::cmd("EXPIRE")
        .arg("absent")
        .arg("10")
        .query(&mut b)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut a).unwrap();
    let _: () = redis::cmd("SET")
        .arg("absent")
        .arg("v")
        .query(&mut a)
        .unwrap();
    let r: Option<Vec<String>> = redis::cmd("EXEC").query(&mut a).unwrap();
    assert_eq!(r, Some(vec!["OK".to_string()]));
}

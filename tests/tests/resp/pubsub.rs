//! Pub/sub: SUBSCRIBE/PSUBSCRIBE delivery, PUBLISH receiver counts, PUBSUB
//! introspection, the RESP2 subscriber context and RESP3 push frames.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use meridian_tests::{RawConn, TestServer, eventually, redis_cli};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sends `cmd` and returns exactly `expected.len()` bytes of answer, asserting
/// they are `expected`.
fn expect(raw: &mut RawConn, cmd: &str, expected: &str) {
    let got = raw.roundtrip(cmd.as_bytes(), expected.len());
    assert_eq!(text(&got), expected, "answer to {cmd:?}");
}

fn publish(c: &mut redis::Connection, channel: &str, msg: &str) -> i64 {
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(msg)
        .query(c)
        .unwrap()
}

#[test]
fn channel_and_pattern_subscribers_receive_messages() {
    let s = TestServer::start();
    let mut sub_conn = s.conn();
    let mut publisher = s.conn();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sub.subscribe("news").unwrap();
    sub.psubscribe("n*").unwrap();
    sub.psubscribe("x?z").unwrap();

    // The channel subscription and the matching pattern both count.
    assert_eq!(publish(&mut publisher, "news", "hello"), 2);
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "news");
    assert_eq!(m.get_payload::<String>().unwrap(), "hello");
    assert!(!m.from_pattern());
    let m = sub.get_message().unwrap();
    assert!(m.from_pattern());
    assert_eq!(m.get_pattern::<String>().unwrap(), "n*");
    assert_eq!(m.get_channel_name(), "news");
    assert_eq!(m.get_payload::<String>().unwrap(), "hello");

    assert_eq!(publish(&mut publisher, "xyz", "p"), 1);
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_pattern::<String>().unwrap(), "x?z");
    assert_eq!(m.get_channel_name(), "xyz");

    assert_eq!(publish(&mut publisher, "other", "nobody"), 0);

    // Binary payloads arrive untouched.
    let payload: &[u8] = b"\x00\r\n\xff";
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg(payload)
        .query(&mut publisher)
        .unwrap();
    assert_eq!(n, 2);
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_payload_bytes(), payload);
    let _ = sub.get_message().unwrap();

    sub.unsubscribe("news").unwrap();
    sub.punsubscribe("n*").unwrap();
    assert_eq!(publish(&mut publisher, "news", "gone"), 0);
}

#[test]
fn subscribe_replies_carry_running_counts() {
    let s = TestServer::start();
    let mut raw = s.raw();
    // Duplicates are confirmed again without counting twice.
    expect(
        &mut raw,
        "SUBSCRIBE a b a\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n\
         *3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n\
         *3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n",
    );
    expect(
        &mut raw,
        "PSUBSCRIBE p*\r\n",
        "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n",
    );
    // Unsubscribing something never subscribed still answers, with the count.
    expect(
        &mut raw,
        "UNSUBSCRIBE zz\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$2\r\nzz\r\n:3\r\n",
    );
    // Without arguments: every channel, the count going down; patterns stay.
    expect(
        &mut raw,
        "UNSUBSCRIBE\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n\
         *3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n",
    );
    expect(
        &mut raw,
        "UNSUBSCRIBE\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n",
    );
    expect(
        &mut raw,
        "PUNSUBSCRIBE\r\n",
        "*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n",
    );
    expect(
        &mut raw,
        "PUNSUBSCRIBE\r\n",
        "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n",
    );
    // Out of subscriber mode again: ordinary commands work.
    expect(&mut raw, "SET k v\r\n", "+OK\r\n");

    // A client that never subscribed gets the same answers.
    let mut fresh = s.raw();
    expect(
        &mut fresh,
        "UNSUBSCRIBE\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
    );
    expect(
        &mut fresh,
        "PUNSUBSCRIBE a b\r\n",
        "*3\r\n$12\r\npunsubscribe\r\n$1\r\na\r\n:0\r\n\
         *3\r\n$12\r\npunsubscribe\r\n$1\r\nb\r\n:0\r\n",
    );
    expect(
        &mut fresh,
        "SUBSCRIBE\r\n",
        "-ERR wrong number of arguments for 'subscribe' command\r\n",
    );
}

#[test]
fn resp2_subscriber_context_allows_only_pubsub_commands() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect(
        &mut raw,
        "SUBSCRIBE ch\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    expect(
        &mut raw,
        "GET k\r\n",
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    expect(
        &mut raw,
        "PUBLISH ch x\r\n",
        "-ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    // PING answers in the pub/sub shape.
    expect(&mut raw, "PING\r\n", "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    expect(&mut raw, "PING hi\r\n", "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    // RESET leaves subscriber mode.
    expect(&mut raw, "RESET\r\n", "+RESET\r\n");
    expect(&mut raw, "GET k\r\n", "$-1\r\n");
    expect(&mut raw, "PING\r\n", "+PONG\r\n");
    let mut p = s.conn();
    assert_eq!(publish(&mut p, "ch", "x"), 0);
}

#[test]
fn resp3_subscribers_get_push_frames_and_keep_full_command_access() {
    let s = TestServer::start();
    let mut sub = s.raw();
    let hello = sub.roundtrip(b"HELLO 3\r\n", 100);
    assert!(hello.starts_with(b"%7\r\n"), "{}", text(&hello));
    expect(
        &mut sub,
        "SUBSCRIBE ch\r\n",
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    // RESP3 has no subscriber context: anything goes, PING is plain.
    expect(&mut sub, "PING\r\n", "+PONG\r\n");
    expect(&mut sub, "GET missing\r\n", "_\r\n");

    let mut publisher = s.raw();
    expect(&mut publisher, "PUBLISH ch hello\r\n", ":1\r\n");
    let msg = ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
    assert_eq!(text(&sub.read_at_least(msg.len())), msg);

    expect(
        &mut sub,
        "PSUBSCRIBE c*\r\n",
        ">3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n",
    );
    expect(&mut publisher, "PUBLISH ch x\r\n", ":2\r\n");
    let both = ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n\
                >4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\nx\r\n";
    assert_eq!(text(&sub.read_at_least(both.len())), both);

    // A subscriber can publish itself in RESP3, and hears its own message
    // before the reply (as Redis).
    let own = ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\ny\r\n\
               >4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\ny\r\n:2\r\n";
    let got = sub.roundtrip(b"PUBLISH ch y\r\n", own.len());
    assert_eq!(text(&got), own);

    // Unsubscribed in the same batch as a self-publish: the pattern message
    // still arrives, the channel one no longer can (as Redis).
    let mixed = ">3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n\
                 >4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\nw\r\n:1\r\n";
    let got = sub.roundtrip(b"UNSUBSCRIBE ch\r\nPUBLISH ch w\r\n", mixed.len());
    assert_eq!(text(&got), mixed);
    expect(
        &mut sub,
        "UNSUBSCRIBE\r\n",
        ">3\r\n$11\r\nunsubscribe\r\n_\r\n:1\r\n",
    );
}

#[test]
fn pubsub_introspection() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.raw();
    // Waiting for the confirmations (exact lengths) makes the subscriptions
    // visible to the other connection below.
    let _ = a.roundtrip(b"SUBSCRIBE news.tech news.art\r\n", 38 + 37);
    let _ = b.roundtrip(b"SUBSCRIBE news.tech\r\n", 38);
    let _ = a.roundtrip(b"PSUBSCRIBE news.* other\r\n", 37 + 36);
    let _ = b.roundtrip(b"PSUBSCRIBE news.*\r\n", 37);

    let mut c = s.conn();
    let mut channels: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
    channels.sort();
    assert_eq!(channels, ["news.art", "news.tech"]);
    let tech: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("*tech")
        .query(&mut c)
        .unwrap();
    assert_eq!(tech, ["news.tech"]);
    let none: Vec<String> = redis::cmd("PUBSUB")
        .arg("channels")
        .arg("zzz*")
        .query(&mut c)
        .unwrap();
    assert!(none.is_empty());

    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news.tech")
        .arg("news.art")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    let bulk = |s: &str| redis::Value::BulkString(s.as_bytes().to_vec());
    assert_eq!(
        numsub,
        [
            bulk("news.tech"),
            redis::Value::Int(2),
            bulk("news.art"),
            redis::Value::Int(1),
            bulk("nope"),
            redis::Value::Int(0),
        ]
    );
    let empty: Vec<String> = redis::cmd("PUBSUB").arg("NUMSUB").query(&mut c).unwrap();
    assert!(empty.is_empty());
    // Distinct patterns (Redis 7): `news.*` counts once for two clients.
    let numpat: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut c).unwrap();
    assert_eq!(numpat, 2);
    // Two channel subscribers plus two pattern subscriptions.
    assert_eq!(publish(&mut c, "news.tech", "x"), 4);

    let mut raw = s.raw();
    expect(&mut raw, "PUBSUB SHARDCHANNELS\r\n", "*0\r\n");
    expect(
        &mut raw,
        "PUBSUB SHARDNUMSUB a\r\n",
        "*2\r\n$1\r\na\r\n:0\r\n",
    );
    expect(
        &mut raw,
        "PUBSUB FOO\r\n",
        "-ERR unknown subcommand 'FOO'. Try PUBSUB HELP.\r\n",
    );
    expect(
        &mut raw,
        "PUBSUB CHANNELS a b\r\n",
        "-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n",
    );
    expect(
        &mut raw,
        "PUBSUB NUMPAT x\r\n",
        "-ERR wrong number of arguments for 'pubsub|numpat' command\r\n",
    );
    expect(
        &mut raw,
        "PUBSUB\r\n",
        "-ERR wrong number of arguments for 'pubsub' command\r\n",
    );
    let help = raw.roundtrip(b"PUBSUB HELP\r\n", 40);
    assert!(
        text(&help).starts_with("*14\r\n+PUBSUB <subcommand>"),
        "{}",
        text(&help)
    );

    // A disconnecting subscriber leaves no trace.
    drop(a);
    drop(b);
    assert!(eventually(Duration::from_secs(5), || {
        let n: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut c).unwrap();
        let ch: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
        n == 0 && ch.is_empty()
    }));
}

#[test]
fn client_list_shows_subscription_counts() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let _ = raw.roundtrip(b"SUBSCRIBE a b\r\n", 2 * 30);
    let _ = raw.roundtrip(b"PSUBSCRIBE p*\r\n", 33);
    let mut c = s.conn();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains(" sub=2 ") && l.contains(" psub=1 ")),
        "{list}"
    );
}

#[test]
fn slow_publish_burst_arrives_in_order() {
    let s = TestServer::start();
    let mut sub_conn = s.conn();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sub.subscribe("burst").unwrap();
    let mut p = s.conn();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("PUBLISH").arg("burst").arg(i).ignore();
    }
    let _: () = pipe.query(&mut p).unwrap();
    for i in 0..500 {
        let m = sub.get_message().unwrap();
        assert_eq!(m.get_payload::<i64>().unwrap(), i);
    }
}

#[test]
fn redis_cli_subscriber_receives_a_publish() {
    let s = TestServer::start();
    let mut child = Command::new(redis_cli())
        .arg("-p")
        .arg(s.port().to_string())
        .args(["SUBSCRIBE", "cli-ch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run redis-cli");
    let mut c = s.conn();
    assert!(
        eventually(Duration::from_secs(10), || {
            let n: Vec<redis::Value> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg("cli-ch")
                .query(&mut c)
                .unwrap();
            n.get(1) == Some(&redis::Value::Int(1))
        }),
        "redis-cli never subscribed"
    );
    assert_eq!(publish(&mut c, "cli-ch", "from-test"), 1);
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    while seen.len() < 6 {
        match lines.next() {
            Some(Ok(l)) => seen.push(l),
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen,
        ["subscribe", "cli-ch", "1", "message", "cli-ch", "from-test"]
    );
}

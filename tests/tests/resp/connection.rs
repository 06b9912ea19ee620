//! Connection handling: handshake, protocol errors, pipelining.

use meridian_tests::TestServer;

#[test]
fn ping_echo_and_hello() {
    let s = TestServer::start();
    let mut c = s.conn();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let echo: String = redis::cmd("ECHO").arg("hi").query(&mut c).unwrap();
    assert_eq!(echo, "hi");
    let mut raw = s.raw();
    let hello = raw.roundtrip(b"HELLO 3\r\n", 100);
    assert!(
        hello.starts_with(b"%7\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    let r = raw.roundtrip(b"HELLO 4\r\n", 10);
    assert_eq!(r, b"-NOPROTO unsupported protocol version\r\n");
    let mut c3 = s.conn3();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c3).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c3).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn unknown_commands_and_arity_errors_use_redis_wording() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let r = raw.roundtrip(b"*2\r\n$6\r\nFOOBAR\r\n$1\r\nx\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR unknown command 'FOOBAR', with args beginning with: 'x' \r\n"
    );
    let r = raw.roundtrip(b"*1\r\n$3\r\nGET\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
}

#[test]
fn pipelined_commands_answer_in_order() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let mut batch = Vec::new();
    for i in 0..100 {
        batch.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{}\r\n",
                i.to_string().len(),
                i
            )
            .as_bytes(),
        );
        batch.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
    let mut expected = Vec::new();
    for i in 0..100 {
        expected.extend_from_slice(b"+OK\r\n");
        expected.extend_from_slice(format!("${}\r\n{}\r\n", i.to_string().len(), i).as_bytes());
    }
    let got = raw.roundtrip(&batch, expected.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn protocol_errors_close_only_that_connection() {
    let s = TestServer::start();
    let mut bad = s.raw();
    let r = bad.roundtrip(b"*1\r\n$abc\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(bad.is_closed());
    let mut quotes = s.raw();
    let r = quotes.roundtrip(b"SET k \"unterminated\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    let mut good = s.conn();
    let pong: String = redis::cmd("PING").query(&mut good).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn inline_commands_work() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let r = raw.roundtrip(b"SET greeting \"hello world\"\r\nGET greeting\r\n", 23);
    assert_eq!(String::from_utf8_lossy(&r), "+OK\r\n$11\r\nhello world\r\n");
}

#[test]
fn a_long_pipeline_of_large_replies_is_answered_completely() {
    let s = TestServer::start();
    let mut c = s.conn();
    let big = "v".repeat(256 * 1024);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .unwrap();
    let mut p = redis::pipe();
    for _ in 0..40 {
        p.cmd("GET").arg("big");
    }
    let replies: Vec<String> = p.query(&mut c).unwrap();
    assert_eq!(replies.len(), 40);
    assert!(replies.iter().all(|r| r.len() == big.len()));
}

#[test]
fn protocol_limits_are_configurable() {
    let s = TestServer::start_with(|c| {
        c.max_multibulk_len = 4;
        c.proto_max_bulk_len = 1024;
    });
    let mut raw = s.raw();
    let r = raw.roundtrip(b"*5\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR Protocol error: invalid multibulk length\r\n"
    );
    assert!(raw.is_closed());
    let mut raw = s.raw();
    let r = raw.roundtrip(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    let mut ok = s.conn();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v".repeat(1000))
        .query(&mut ok)
        .unwrap();
}

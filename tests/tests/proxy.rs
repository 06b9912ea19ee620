//! The partition proxy: each mode against a plain echo server (byte-exact) and
//! against a real Meridian server through the `redis` crate and raw RESP.
//!
//! Timing assertions are lower bounds only ("nothing arrived for 300 ms",
//! "the round trip took at least the delay"), and every wait for something
//! that should happen is generous, so a loaded 2-core machine cannot make
//! them flaky.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use meridian_tests::{Mode, Proxy, TestServer, eventually};

const PATIENCE: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);

/// An echo server on a free port: every connection gets its bytes back and is
/// closed when the client closes. Its threads live until the test binary ends.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let Ok(mut reader) = stream.try_clone() else {
                    return;
                };
                let _ = std::io::copy(&mut reader, &mut stream);
            });
        }
    });
    addr
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Asserts that nothing arrives for [`QUIET`] and the connection stays open.
fn assert_quiet(s: &mut TcpStream) {
    s.set_read_timeout(Some(QUIET)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Ok(0) => panic!("connection closed"),
        Ok(n) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => panic!("read failed: {e}"),
    }
    s.set_read_timeout(Some(PATIENCE)).unwrap();
}

/// True once the peer has closed (EOF or reset) within [`PATIENCE`].
fn is_closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn roundtrip(s: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    s.write_all(bytes).unwrap();
    read_n(s, bytes.len())
}

fn redis_conn(proxy: &Proxy) -> redis::Connection {
    let c = redis::Client::open(proxy.url())
        .unwrap()
        .get_connection()
        .unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    c
}

fn ping(conn: &mut redis::Connection) -> redis::RedisResult<String> {
    redis::cmd("PING").query(conn)
}

fn exists(server: &TestServer, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query::<i64>(&mut server.conn())
        .unwrap()
        == 1
}

#[test]
fn pass_forwards_both_ways_and_counts() {
    let proxy = Proxy::start(echo_server());
    assert_eq!(proxy.mode(), Mode::Pass);
    let mut c = connect(proxy.addr());
    assert_eq!(roundtrip(&mut c, b"hello"), b"hello");
    assert_eq!(roundtrip(&mut c, b" world"), b" world");
    assert_eq!(proxy.accepted(), 1);
    assert_eq!(proxy.connections(), 1);
    assert!(eventually(PATIENCE, || proxy.bytes_to_upstream() == 11
        && proxy.bytes_to_client() == 11));
    assert_eq!(proxy.bytes_dropped(), 0);

    // A client close travels to the server, whose close travels back.
    drop(c);
    assert!(eventually(PATIENCE, || proxy.connections() == 0));
}

#[test]
fn pass_forwards_redis_commands() {
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr());
    assert_eq!(proxy.upstream(), server.addr());
    let mut conn = redis_conn(&proxy);
    assert_eq!(ping(&mut conn).unwrap(), "PONG");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let got: String = redis::cmd("GET")
        .arg("k")
        .query(&mut server.conn())
        .unwrap();
    assert_eq!(got, "v");
    assert!(proxy.bytes_to_upstream() > 0 && proxy.bytes_to_client() > 0);
}

#[test]
fn cut_closes_connections_until_pass() {
    let proxy = Proxy::start(echo_server());
    let mut c = connect(proxy.addr());
    assert_eq!(roundtrip(&mut c, b"ping"), b"ping");

    proxy.cut();
    assert_eq!(proxy.connections(), 0);
    assert!(is_closed(&mut c), "an open connection is closed by cut");
    // New connections are accepted and closed at once.
    let mut refused = connect(proxy.addr());
    assert!(
        is_closed(&mut refused),
        "a new connection is closed under cut"
    );
    assert!(eventually(PATIENCE, || proxy.accepted() == 2));

    proxy.pass();
    let mut again = connect(proxy.addr());
    assert_eq!(roundtrip(&mut again, b"back"), b"back");
}

#[test]
fn cut_fails_redis_client_and_reconnect_works_after_pass() {
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr());
    let mut conn = redis_conn(&proxy);
    assert_eq!(ping(&mut conn).unwrap(), "PONG");

    proxy.cut();
    assert!(ping(&mut conn).is_err(), "the cut connection errors");
    let client = redis::Client::open(proxy.url()).unwrap();
    let during = client.get_connection().and_then(|mut c| ping(&mut c));
    assert!(during.is_err(), "a new connection fails under cut");

    proxy.pass();
    let mut conn = redis_conn(&proxy);
    assert_eq!(ping(&mut conn).unwrap(), "PONG");
}

#[test]
fn hold_stalls_both_ways_then_releases_in_order() {
    let proxy = Proxy::start(echo_server());
    let mut c = connect(proxy.addr());
    assert_eq!(roundtrip(&mut c, b"warm"), b"warm");
    // The proxy counts a write once it returns, which may be just after the
    // client has read it.
    assert!(eventually(PATIENCE, || proxy.bytes_to_client() == 4));
    let before = (proxy.bytes_to_upstream(), proxy.bytes_to_client());

    proxy.hold();
    c.write_all(b"one").unwrap();
    assert_quiet(&mut c);
    c.write_all(b"two").unwrap();
    assert_quiet(&mut c);
    assert_eq!(
        (proxy.bytes_to_upstream(), proxy.bytes_to_client()),
        before,
        "nothing is forwarded while held"
    );

    proxy.pass();
    assert_eq!(read_n(&mut c, 6), b"onetwo");
}

#[test]
fn hold_delays_a_redis_request_and_pass_delivers_it_and_its_reply() {
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr());

    // Raw RESP, byte-exact: both requests are held (the server never sees
    // them), then arrive and are answered in order.
    let mut raw = connect(proxy.addr());
    proxy.hold();
    raw.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n")
        .unwrap();
    raw.write_all(b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n").unwrap();
    assert_quiet(&mut raw);
    assert!(!exists(&server, "k"), "the held request reached the server");
    proxy.pass();
    assert_eq!(read_n(&mut raw, 9), b"+OK\r\n:2\r\n");

    // The redis crate: a short read timeout expires while held; after
    // `pass` the held INCR runs, and the client skips its late reply and
    // reads the next one in order.
    let mut conn = redis_conn(&proxy);
    assert_eq!(ping(&mut conn).unwrap(), "PONG");
    proxy.hold();
    conn.set_read_timeout(Some(QUIET)).unwrap();
    let held = redis::cmd("INCR").arg("k").query::<i64>(&mut conn);
    assert!(held.is_err_and(|e| e.is_timeout()), "the request stalls");
    let now: String = redis::cmd("GET")
        .arg("k")
        .query(&mut server.conn())
        .unwrap();
    assert_eq!(now, "2", "the held INCR has not run");
    proxy.pass();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    let after: String = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    assert_eq!(after, "3");
}

/// A BLPOP sent through the proxy and known to have reached the server, so
/// that its reply is the only traffic left: it tests the way back alone.
fn blpop_in_flight(proxy: &Proxy) -> TcpStream {
    let mut raw = connect(proxy.addr());
    let blpop = b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n";
    raw.write_all(blpop).unwrap();
    assert!(eventually(PATIENCE, || proxy.bytes_to_upstream() == blpop.len() as u64));
    raw
}

fn lpush(server: &TestServer) {
    let _: () = redis::cmd("LPUSH")
        .arg("q")
        .arg("v")
        .query(&mut server.conn())
        .unwrap();
}

const BLPOP_REPLY: &[u8] = b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n";

#[test]
fn hold_stalls_a_reply_until_pass() {
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr());
    let mut raw = blpop_in_flight(&proxy);
    proxy.hold();
    lpush(&server);
    assert!(
        eventually(PATIENCE, || !exists(&server, "q")),
        "BLPOP served"
    );
    assert_quiet(&mut raw);
    assert_eq!(proxy.bytes_to_client(), 0);
    proxy.pass();
    assert_eq!(read_n(&mut raw, BLPOP_REPLY.len()), BLPOP_REPLY);
}

#[test]
fn drop_traffic_loses_a_reply() {
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr());
    let mut raw = blpop_in_flight(&proxy);
    proxy.drop_traffic();
    lpush(&server);
    assert!(eventually(PATIENCE, || proxy.bytes_dropped()
        == BLPOP_REPLY.len() as u64));
    assert_quiet(&mut raw);
    proxy.pass();
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    assert_eq!(read_n(&mut raw, 7), b"+PONG\r\n");
}

#[test]
fn drop_traffic_loses_bytes_but_keeps_the_connection() {
    let proxy = Proxy::start(echo_server());
    let mut c = connect(proxy.addr());
    assert_eq!(roundtrip(&mut c, b"warm"), b"warm");

    proxy.drop_traffic();
    c.write_all(b"lost").unwrap();
    assert_quiet(&mut c);
    assert!(eventually(PATIENCE, || proxy.bytes_dropped() == 4));
    assert_eq!(proxy.connections(), 1);

    proxy.pass();
    // Only what was sent after `pass` comes back.
    assert_eq!(roundtrip(&mut c, b"kept"), b"kept");
    assert_quiet(&mut c);
}

#[test]
fn drop_traffic_loses_a_redis_request() {
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr());
    let mut raw = connect(proxy.addr());
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    assert_eq!(read_n(&mut raw, 7), b"+PONG\r\n");

    proxy.drop_traffic();
    let incr = b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n";
    raw.write_all(incr).unwrap();
    assert_quiet(&mut raw);
    assert!(eventually(PATIENCE, || proxy.bytes_dropped() == incr.len() as u64));

    proxy.pass();
    // Same socket: the INCR is never answered, the next request is.
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    assert_eq!(read_n(&mut raw, 7), b"+PONG\r\n");
    assert!(
        !exists(&server, "k"),
        "the dropped request reached the server"
    );
}

#[test]
fn delay_adds_at_least_the_delay_each_way_and_keeps_order() {
    let delay = Duration::from_millis(200);
    let proxy = Proxy::start(echo_server());
    let mut c = connect(proxy.addr());
    assert_eq!(roundtrip(&mut c, b"warm"), b"warm");

    proxy.delay(delay);
    assert_eq!(proxy.mode(), Mode::Delay(delay));
    let start = Instant::now();
    assert_eq!(roundtrip(&mut c, b"x"), b"x");
    // Delayed on the way there and on the way back.
    assert!(start.elapsed() >= 2 * delay, "took {:?}", start.elapsed());

    for part in [&b"a"[..], b"b", b"c", b"d"] {
        c.write_all(part).unwrap();
    }
    assert_eq!(read_n(&mut c, 4), b"abcd");

    let server = TestServer::start();
    let proxy = Proxy::start(server.addr());
    let mut conn = redis_conn(&proxy);
    assert_eq!(ping(&mut conn).unwrap(), "PONG");
    proxy.delay(delay);
    let start = Instant::now();
    assert_eq!(ping(&mut conn).unwrap(), "PONG");
    assert!(start.elapsed() >= 2 * delay, "took {:?}", start.elapsed());
    proxy.pass();
    assert_eq!(ping(&mut conn).unwrap(), "PONG");
}

#[test]
fn hold_buffers_a_large_transfer_and_releases_it_intact() {
    // More than the proxy keeps while held, so its reads stop at the bound
    // and resume on `pass` (how far the sender gets meanwhile depends on the
    // kernel's socket buffers, so it is not asserted).
    const LEN: usize = 8 << 20;
    let proxy = Proxy::start(echo_server());
    let mut c = connect(proxy.addr());
    proxy.hold();
    let mut writer = c.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        writer.write_all(&data).unwrap();
    });
    assert_quiet(&mut c);
    assert_eq!(proxy.bytes_to_upstream(), 0);

    proxy.pass();
    let got = read_n(&mut c, LEN);
    sender.join().unwrap();
    let first_bad = got.iter().enumerate().find(|&(i, &b)| b != (i % 251) as u8);
    assert_eq!(first_bad, None, "bytes arrive intact and in order");
}

#[test]
fn dropping_the_proxy_closes_its_connections() {
    let proxy = Proxy::start(echo_server());
    let mut c = connect(proxy.addr());
    assert_eq!(roundtrip(&mut c, b"ping"), b"ping");
    proxy.hold();
    drop(proxy);
    assert!(is_closed(&mut c));
}

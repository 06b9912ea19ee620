//! The test harness: start real Meridian servers on free loopback ports and
//! talk to them with real clients (the `redis` crate, `redis-cli`, raw TCP).
//!
//! Each [`TestServer`] runs on its own thread with its own tokio runtime, so a
//! test can use blocking clients freely, and dropping it shuts the server down.
//! [`Proxy`] sits between a client and a server (or two regions) and can hold,
//! drop, delay or cut their traffic; [`keyspace_digest`] compares servers'
//! data through RESP. [`TestCluster`] runs several replicating regions with a
//! proxy on every link, for partition, restart and convergence tests.
//! [`ServerProcess`] runs the real binary as a child, for crash tests that
//! kill it. [`ShardedRegion`] runs one region sharded over several nodes
//! that own hash slots, for Redis Cluster clients.

pub mod call;
pub mod certs;
pub mod cluster;
pub mod console;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

pub mod digest;
pub mod examples;
pub mod http;
pub mod process;
pub mod proxy;
pub mod sharded;

pub use certs::TestCerts;
pub use cluster::{PeerInfo, TestCluster};
pub use digest::{keyspace_digest, keyspace_dump, try_keyspace_digest};
pub use meridian::config::Config;
pub use meridian::server::Shared;
pub use process::{ServerProcess, TempDir, meridian_bin};
pub use proxy::{Mode, Proxy};
pub use sharded::ShardedRegion;

/// A loopback port nobody listens on right now (someone may take it before
/// the caller binds it: callers that must know ports in advance retry).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A server running in this process on a free loopback port.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    http_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    /// A server with default settings.
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    /// A server with settings adjusted by `configure`.
    pub fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        Self::try_start_with(configure).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`TestServer::start_with`], returning why the server did not
    /// start instead of panicking (a chosen port may have been taken).
    pub fn try_start_with(configure: impl FnOnce(&mut Config)) -> Result<TestServer, String> {
        let mut config = Config {
            port: 0,
            ..Config::default()
        };
        configure(&mut config);
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async move {
                let server = match meridian::server::start(config).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok((
                    server.addr(),
                    server.shared().clone(),
                    server.http_addr(),
                    server.metrics_addr(),
                )));
                let _ = stop_rx.await;
                server.shutdown().await;
            });
        });
        let (addr, shared, http_addr, metrics_addr) =
            match ready_rx.recv_timeout(Duration::from_secs(30)) {
                Ok(Ok(started)) => started,
                Ok(Err(e)) => return Err(format!("server failed to start: {e}")),
                Err(e) => return Err(format!("server did not start: {e}")),
            };
        Ok(TestServer {
            addr,
            shared,
            http_addr,
            metrics_addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The RESP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's shared state (engine, counters) for white-box checks.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The edge HTTP address, when the config sets `http_port`.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The admin HTTP address, when the config sets `metrics_port`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The RESP port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A `redis://` URL for this server.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A `redis` crate client.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("client")
    }

    /// A synchronous connection (RESP2).
    pub fn conn(&self) -> redis::Connection {
        let c = self.client().get_connection().expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        c
    }

    /// A synchronous RESP3 connection.
    pub fn conn3(&self) -> redis::Connection {
        let url = format!("redis://{}/?protocol=resp3", self.addr);
        redis::Client::open(url)
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// An async multiplexed connection.
    pub async fn async_conn(&self) -> redis::aio::MultiplexedConnection {
        self.client()
            .get_multiplexed_async_connection()
            .await
            .expect("async connect")
    }

    /// A raw TCP connection for protocol-level tests.
    pub fn raw(&self) -> RawConn {
        let s = TcpStream::connect(self.addr).expect("tcp connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        RawConn { stream: s }
    }

    /// Runs `redis-cli -p <port> args…` and returns its stdout (trimmed).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(redis_cli())
            .arg("-p")
            .arg(self.port().to_string())
            .args(args)
            .output()
            .expect("run redis-cli (the test command installs redis-tools)");
        assert!(
            out.status.success(),
            "redis-cli failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Runs redis-cli with `input` on stdin (pipe mode / interactive scripts).
    pub fn cli_stdin(&self, args: &[&str], input: &str) -> String {
        use std::process::Stdio;
        let mut child = Command::new(redis_cli())
            .arg("-p")
            .arg(self.port().to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run redis-cli");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("redis-cli output");
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Path of the redis-cli binary (`REDIS_CLI` overrides).
pub fn redis_cli() -> String {
    std::env::var("REDIS_CLI").unwrap_or_else(|_| "redis-cli".into())
}

/// A raw protocol connection.
pub struct RawConn {
    stream: TcpStream,
}

impl RawConn {
    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads until at least `n` bytes arrived or the peer closed; returns them.
    pub fn read_at_least(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.len() < n && Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(_) => break,
            }
        }
        out
    }

    /// Sends `bytes` and returns what arrives until `expect_len` bytes came.
    pub fn roundtrip(&mut self, bytes: &[u8], expect_len: usize) -> Vec<u8> {
        self.send(bytes);
        self.read_at_least(expect_len)
    }

    /// True if the server closed the connection (reads EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// Polls `check` until it is true or `timeout` passes; returns the last result.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

//! A TCP proxy for partition tests: put one between two regions (or between a
//! client and a server) and make the network misbehave on demand.
//!
//! A [`Proxy`] listens on a free loopback port and forwards every connection it
//! accepts to one upstream address, in both directions. Its [`Mode`] can be
//! switched at any time from a synchronous test and applies at once to the
//! connections already open as well as to new ones:
//!
//! - [`Proxy::pass`]: forward bytes as they come.
//! - [`Proxy::hold`]: forward nothing, but keep the bytes (up to
//!   [`BUFFER_LIMIT`] per direction and connection, after which the proxy stops
//!   reading and TCP back-pressure stalls the sender) and release them in order
//!   on `pass` — a network that stalls.
//! - [`Proxy::drop_traffic`]: read and discard every byte while the
//!   connections stay open — a black hole.
//! - [`Proxy::cut`]: close every connection and close new ones as soon as they
//!   are accepted, until `pass` — a hard partition.
//! - [`Proxy::delay`]: forward each chunk once it has waited the delay, in
//!   order — a slow link.
//!
//! The proxy runs on its own thread with its own tokio runtime (like
//! [`crate::TestServer`]), so tests can stay blocking; dropping it shuts it down
//! and closes every connection.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// How many bytes a connection keeps per direction while held or delayed
/// before it stops reading from the sender. Bounded so that a test which holds
/// a busy link does not grow the proxy without limit; past it the sender sees
/// ordinary TCP back-pressure, as it would behind a stalled network.
pub const BUFFER_LIMIT: usize = 4 << 20;

/// How much one read takes from a socket.
const CHUNK: usize = 16 << 10;

/// How long [`Proxy::cut`] waits for open connections to close. They close as
/// soon as their task sees the new mode, so this only matters if the proxy
/// thread is starved; the wait is a convenience, not a guarantee tests rely on
/// for correctness.
const CUT_WAIT: Duration = Duration::from_secs(10);

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Buffer everything and forward nothing until the mode changes.
    Hold,
    /// Discard everything; connections stay open. A side that closes
    /// meanwhile has its close forwarded on the next `Pass` or `Delay`.
    Drop,
    /// Close every connection, including new ones.
    Cut,
    /// Forward each chunk after it has waited this long.
    Delay(Duration),
}

/// Counters shared by the proxy thread and the handle.
#[derive(Default)]
struct Counters {
    to_upstream: AtomicU64,
    to_client: AtomicU64,
    dropped: AtomicU64,
    accepted: AtomicU64,
    open: AtomicUsize,
}

/// A running proxy. See the module docs.
pub struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    mode: watch::Sender<Mode>,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    /// A proxy on a free `127.0.0.1` port forwarding to `upstream`, in
    /// [`Mode::Pass`].
    pub fn start(upstream: SocketAddr) -> Proxy {
        // Bind and build the runtime here rather than on the proxy thread so
        // that a failure panics in the test that asked for the proxy, and
        // `addr()` is known before any client connects.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy: bind loopback");
        listener
            .set_nonblocking(true)
            .expect("proxy: non-blocking listener");
        let addr = listener.local_addr().expect("proxy: local address");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = {
            let _enter = rt.enter();
            TcpListener::from_std(listener).expect("proxy: register listener")
        };
        let (mode, mode_rx) = watch::channel(Mode::Pass);
        let counters = Arc::new(Counters::default());
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = {
            let counters = counters.clone();
            thread::spawn(move || {
                rt.block_on(accept_loop(listener, upstream, mode_rx, counters, stop_rx));
                // Dropping the runtime here drops every connection task, which
                // closes their sockets: that is how `Drop` closes everything.
                drop(rt);
            })
        };
        Proxy {
            addr,
            upstream,
            mode,
            counters,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address every connection is forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// A `redis://` URL for the proxy (for `redis::Client::open`).
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    /// Switches to `mode`; see the `pass`, `hold`, … shorthands.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
        if mode == Mode::Cut {
            // Wait for the closes so that a test can go straight on to check
            // what a partitioned client sees.
            let deadline = Instant::now() + CUT_WAIT;
            while self.connections() > 0 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Forwards traffic again, releasing anything held, in order.
    pub fn pass(&self) {
        self.set_mode(Mode::Pass);
    }

    /// Stops forwarding and buffers traffic in both directions (up to
    /// [`BUFFER_LIMIT`] per direction and connection) until the next mode.
    pub fn hold(&self) {
        self.set_mode(Mode::Hold);
    }

    /// Discards traffic in both directions, including anything held, while
    /// connections stay open.
    pub fn drop_traffic(&self) {
        self.set_mode(Mode::Drop);
    }

    /// Closes every open connection (both sides) and closes new ones until
    /// the next mode. Returns once the open connections are closed.
    pub fn cut(&self) {
        self.set_mode(Mode::Cut);
    }

    /// Forwards each chunk `delay` after the proxy read it, in order.
    pub fn delay(&self, delay: Duration) {
        self.set_mode(Mode::Delay(delay));
    }

    /// Bytes written to upstream (client → upstream).
    pub fn bytes_to_upstream(&self) -> u64 {
        self.counters.to_upstream.load(Ordering::Relaxed)
    }

    /// Bytes written to clients (upstream → client).
    pub fn bytes_to_client(&self) -> u64 {
        self.counters.to_client.load(Ordering::Relaxed)
    }

    /// Bytes discarded by [`Mode::Drop`], both directions together.
    pub fn bytes_dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Connections accepted so far, including those closed at once by a cut.
    pub fn accepted(&self) -> u64 {
        self.counters.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now (a connection counts until both of its sides are
    /// closed).
    pub fn connections(&self) -> usize {
        self.counters.open.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accepts connections until told to stop.
async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                    if *mode.borrow() == Mode::Cut {
                        // Closing at once is as close to "refused" as we can
                        // get without giving up the port, which another test
                        // could take before `pass` binds it again.
                        drop(client);
                        continue;
                    }
                    let open = OpenGuard::new(counters.clone());
                    tokio::spawn(connection(client, upstream, mode.clone(), counters.clone(), open));
                }
                // Usually out of file descriptors: wait a little rather than
                // spin, and keep serving the connections already open.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// Counts a connection as open for as long as it lives (its task may also be
/// dropped with the runtime, which runs this too).
struct OpenGuard(Arc<Counters>);

impl OpenGuard {
    fn new(counters: Arc<Counters>) -> OpenGuard {
        counters.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(counters)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How a pump ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// The sender closed its side and that close was forwarded: the other
    /// direction may still be in use (a half-closed connection).
    Finished,
    /// Cut, an I/O error or the proxy shutting down: close the connection.
    TearDown,
}

/// One proxied connection: two pumps, one per direction.
async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
    _open: OpenGuard,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        // The upstream is down: the client sees its connection closed, as it
        // would if it had tried the upstream itself.
        return;
    };
    // Small writes (a RESP request) should leave at once; the proxy is meant
    // to add only the latency a test asks for.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(
        client_read,
        server_write,
        mode.clone(),
        &counters.to_upstream,
        &counters.dropped,
    );
    let down = pump(
        server_read,
        client_write,
        mode,
        &counters.to_client,
        &counters.dropped,
    );
    tokio::pin!(up, down);
    // Returning drops both pumps and with them every half of both sockets,
    // which closes them.
    tokio::select! {
        flow = &mut up => if flow == Flow::Finished { down.await; },
        flow = &mut down => if flow == Flow::Finished { up.await; },
    }
}

/// Bytes read but not yet written, and when they may be written.
struct Chunk {
    due: Instant,
    bytes: Bytes,
}

/// Moves bytes from `src` to `dst` according to the current mode until the
/// sender closes (forwarded as a close) or the connection must be torn down.
///
/// Everything read goes through one queue, so a mode change applies to bytes
/// already read but not yet written too, and order is kept across changes.
async fn pump(
    mut src: OwnedReadHalf,
    mut dst: OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    forwarded: &AtomicU64,
    dropped: &AtomicU64,
) -> Flow {
    let mut queue: VecDeque<Chunk> = VecDeque::new();
    let mut queued = 0usize;
    let mut eof = false;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let now_mode = *mode.borrow_and_update();
        match now_mode {
            Mode::Cut => return Flow::TearDown,
            Mode::Drop if !queue.is_empty() => {
                dropped.fetch_add(queued as u64, Ordering::Relaxed);
                queue.clear();
                queued = 0;
            }
            _ => {}
        }
        let forwarding = matches!(now_mode, Mode::Pass | Mode::Delay(_));
        if forwarding && eof && queue.is_empty() {
            // The close travels behind the data, like a FIN.
            let _ = dst.shutdown().await;
            return Flow::Finished;
        }
        // A black hole swallows everything, so it never needs to stop
        // reading; the other modes keep what they read, so they stop at the
        // bound.
        let can_read = !eof && (now_mode == Mode::Drop || queued < BUFFER_LIMIT);
        let next = match (now_mode, queue.front()) {
            (Mode::Pass, Some(c)) => Some((None, c.bytes.clone())),
            (Mode::Delay(_), Some(c)) => Some((Some(c.due), c.bytes.clone())),
            _ => None,
        };
        // Biased: a mode change wins over data that is ready at the same
        // time, so bytes sent after `hold()` returns are never forwarded.
        tokio::select! {
            biased;
            changed = mode.changed() => {
                if changed.is_err() {
                    // The `Proxy` is gone.
                    return Flow::TearDown;
                }
            }
            written = write_when_due(&mut dst, next.clone()), if next.is_some() => match written {
                Ok(n) => {
                    forwarded.fetch_add(n as u64, Ordering::Relaxed);
                    queued -= n;
                    if let Some(front) = queue.front_mut() {
                        front.bytes.advance(n);
                        if front.bytes.is_empty() {
                            queue.pop_front();
                        }
                    }
                }
                Err(_) => return Flow::TearDown,
            },
            read = src.read(&mut buf), if can_read => match read {
                Ok(0) => eof = true,
                Ok(n) => match now_mode {
                    Mode::Drop => {
                        dropped.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    _ => {
                        let wait = match now_mode {
                            Mode::Delay(d) => d,
                            _ => Duration::ZERO,
                        };
                        queue.push_back(Chunk {
                            due: Instant::now() + wait,
                            bytes: Bytes::copy_from_slice(&buf[..n]),
                        });
                        queued += n;
                    }
                },
                Err(_) => return Flow::TearDown,
            },
        }
    }
}

/// Waits until `due` (if any), then writes what it can of `bytes`.
///
/// A single `write` rather than `write_all`: the pump cancels this future when
/// the mode changes, and a cancelled `write` has written nothing, so the queue
/// stays exact.
async fn write_when_due(
    dst: &mut OwnedWriteHalf,
    next: Option<(Option<Instant>, Bytes)>,
) -> io::Result<usize> {
    let Some((due, bytes)) = next else {
        return Ok(0);
    };
    if let Some(due) = due {
        tokio::time::sleep_until(due.into()).await;
    }
    match dst.write(&bytes).await? {
        0 => Err(io::ErrorKind::WriteZero.into()),
        n => Ok(n),
    }
}

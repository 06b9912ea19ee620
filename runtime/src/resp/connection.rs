//! The connection loop: read what the client sent, run every complete command
//! in it, flush all replies with one write. Pipelining therefore costs one
//! read and one write per batch, as in Redis.
//!
//! A slow reader only slows its own connection (we stop reading it while its
//! replies wait to be written); a client that closes ends its task; malformed
//! input gets a protocol error and the connection closes, nobody else notices.
//!
//! Between commands the loop also honours what other clients asked of it:
//! CLIENT KILL (close), CLIENT PAUSE (hold the next command), and MONITOR
//! (it feeds every command to the monitors; a monitoring connection writes
//! the feed out).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::debug;

use super::clients::ClientInfo;
use super::command::{self, Blocked, CmdError, Flow, RegionWait, flags};
use super::parser::{self, Limits};
use super::{Proto, Reply, Request, Session};
use crate::server::Shared;

/// Pub/sub output gathered into one write before the socket is flushed.
pub(crate) const DRAIN_BYTES: usize = 256 * 1024;

/// Serves one client until it disconnects, QUITs or the server shuts down.
pub async fn serve<S>(
    shared: &Shared,
    stream: S,
    peer: std::net::SocketAddr,
    local: std::net::SocketAddr,
) where
    S: Transport,
{
    let client = shared.clients.register(peer, local);
    let id = client.id;
    let mut conn = Connection {
        session: Session::new(shared, client),
        out: Reply::new(Proto::Resp2),
        buf: BytesMut::with_capacity(16 * 1024),
        batch_commands: 0,
        batch_last: None,
        unsynced: 0,
    };
    let result = conn.run(stream).await;
    if let Err(e) = result {
        debug!(client = id, error = %e, "connection closed with error");
    }
    drop(conn);
    shared.clients.unregister(id);
}

/// Pending output that is written before parsing further requests.
const FLUSH_AT: usize = 1 << 20;

/// A byte stream a RESP connection runs over (TCP now, TLS later).
///
/// There is deliberately no "socket drained" hint here: clearing a socket's
/// readiness after a short read loses the wake-up for bytes that arrived
/// between that read and the clear, and the connection stalls (seen as a
/// 10 s client timeout under load). Tokio already clears readiness on short
/// reads itself, race-free, with the readiness event it read under.
pub trait Transport: AsyncRead + AsyncWrite + Unpin {}

impl Transport for tokio::net::TcpStream {}

impl Transport for tokio_rustls::server::TlsStream<tokio::net::TcpStream> {}

/// The console's in-process connections (`console::resp_link`).
impl Transport for tokio::io::DuplexStream {}

struct Connection<'e> {
    session: Session<'e>,
    out: Reply,
    buf: BytesMut,
    /// Commands seen in the current batch (added to the shared counter once).
    batch_commands: u64,
    /// Name of the last command of the batch (for CLIENT LIST).
    batch_last: Option<&'static str>,
    /// The append-log record of the last write in the pending replies
    /// (0: none): with `appendfsync always` they go out once it is synced.
    unsynced: u64,
}

enum Step {
    Continue,
    Close,
}

impl<'e> Connection<'e> {
    async fn run<S: Transport>(&mut self, mut stream: S) -> std::io::Result<()> {
        let mut shutdown = self.session.shared().shutdown_signal();
        let mut acl_changes = self.session.shared().acl.subscribe();
        loop {
            // Process everything already buffered, then flush once.
            let step = self.process_buffer(&mut stream).await?;
            self.end_batch();
            self.write_out(&mut stream).await?;
            if let Step::Close = step {
                let _ = stream.shutdown().await;
                return Ok(());
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            let subscribed = self.session.subs.is_some();
            let monitoring = self.session.monitor.is_some();
            let client = self.session.client.clone();
            tokio::select! {
                n = stream.read_buf(&mut self.buf) => {
                    let n = n?;
                    if n == 0 {
                        return Ok(());
                    }
                }
                msg = recv_message(&mut self.session.subs), if subscribed => {
                    match msg {
                        Some(m) => self.write_message(m),
                        None => return Ok(()),
                    }
                }
                line = recv_monitor_line(&mut self.session.monitor), if monitoring => {
                    match line {
                        Some(l) => self.write_monitor_lines(l),
                        None => {
                            debug!(client = client.id, "closing a monitor that fell behind");
                            return Ok(());
                        }
                    }
                }
                _ = client.killed() => {
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
                _ = shutdown.changed() => {
                    return Ok(());
                }
                Ok(()) = acl_changes.changed() => {
                    // Redis disconnects the clients of a deleted user, and
                    // subscribers to channels their user may no longer use.
                    if !self.session.identity.refresh(&self.session.shared().acl)
                        || !self.session.subscriptions_allowed()
                    {
                        let _ = stream.shutdown().await;
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Notes the append-log record of a write the command just made on this
    /// thread, if any.
    fn note_queued(&mut self) {
        let seq = crate::persist::aof::take_last_queued();
        self.unsynced = self.unsynced.max(seq);
    }

    /// Writes the pending replies — once the writes they acknowledge are
    /// durable (`appendfsync always`: group commit with every other
    /// connection's writes).
    async fn write_out<S: AsyncWrite + Unpin>(&mut self, stream: &mut S) -> std::io::Result<()> {
        if self.unsynced > 0 {
            if let Some(p) = &self.session.shared().persist {
                p.wait_durable(self.unsynced).await;
            }
            self.unsynced = 0;
        }
        if !self.out.is_empty() {
            stream.write_all(self.out.bytes()).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Publishes the batch's counters to the shared stats and client registry.
    fn end_batch(&mut self) {
        if self.batch_commands > 0 {
            let stats = &self.session.shared().stats;
            stats
                .commands
                .fetch_add(self.batch_commands, Ordering::Relaxed);
            self.batch_commands = 0;
        }
        if let Some(name) = self.batch_last.take() {
            self.session.client.note_command(name);
        }
    }

    /// Writes a delivered message, then whatever else is already queued so a
    /// burst goes out in one write (up to [`DRAIN_BYTES`], so a flood cannot
    /// grow the buffer without bound or starve the socket).
    fn write_message(&mut self, first: crate::engine::Message) {
        if let Some(s) = self.session.subs.as_mut() {
            s.drain_into(Some(first), &mut self.out, DRAIN_BYTES);
        }
    }

    /// Writes monitor lines: `first`, then those already waiting (up to
    /// [`DRAIN_BYTES`]).
    fn write_monitor_lines(&mut self, first: crate::resp::monitor::MonitorLine) {
        self.out.simple(&first);
        while self.out.len() < DRAIN_BYTES {
            let Some(next) = self.session.monitor.as_mut().and_then(|m| m.try_recv()) else {
                break;
            };
            self.out.simple(&next);
        }
    }

    async fn process_buffer<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> std::io::Result<Step> {
        loop {
            if self.session.closing || self.session.client.is_killed() {
                return Ok(Step::Close);
            }
            if self
                .session
                .subs
                .as_ref()
                .is_some_and(|s| s.overflow.load(Ordering::Relaxed))
            {
                debug!(
                    client = self.session.client.id,
                    "closing subscriber over its output limit"
                );
                return Ok(Step::Close);
            }
            // Until it authenticates, a client may only send small frames,
            // so a stranger cannot make us buffer large requests.
            let authenticated = !self
                .session
                .identity
                .auth_required(&self.session.shared().acl);
            let limits = if authenticated {
                Limits {
                    max_bulk: self.session.engine().settings().proto_max_bulk_len(),
                    max_args: self.session.shared().config.max_multibulk_len,
                }
            } else {
                Limits::UNAUTHENTICATED
            };
            let req = match parser::parse(&mut self.buf, &limits, authenticated) {
                Ok(Some(req)) => req,
                Ok(None) => return Ok(Step::Continue),
                Err(e) => {
                    self.out.error(&format!("ERR {e}"));
                    self.session.shared().stats.count_error("ERR");
                    return Ok(Step::Close);
                }
            };
            if self.busy_script_refuses(stream, &req).await? {
                continue;
            }
            if !self.wait_out_pause(stream, &req).await? {
                return Ok(Step::Close);
            }
            let flow = self.dispatch(&req);
            self.note_queued();
            if !matches!(flow, Flow::Done) {
                // Replies before a waiting command go out now.
                self.write_out(stream).await?;
            }
            if let Flow::Block(b) = flow {
                if !self.block(stream, &req, b).await? {
                    return Ok(Step::Close);
                }
            } else if let Flow::WaitRegions(w) = flow {
                if !self.wait_regions(stream, w).await? {
                    return Ok(Step::Close);
                }
            } else if let Flow::Lock(call) = flow {
                if !self.await_lock(stream, *call).await? {
                    return Ok(Step::Close);
                }
            } else if self.out.len() >= FLUSH_AT {
                // A pipeline of large replies is written as it goes, so one
                // connection's pending output stays bounded by about FLUSH_AT
                // plus one reply.
                self.write_out(stream).await?;
            }
        }
    }

    /// While a Lua script runs, waits behind it as Redis clients do; past
    /// `busy-reply-threshold` answers BUSY instead (true: `req` was answered).
    async fn busy_script_refuses<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        req: &Request,
    ) -> std::io::Result<bool> {
        let control = self.session.shared().scripts.control();
        if !control.running() || req.is_empty() {
            return Ok(false);
        }
        // Replies already made go out before we wait.
        self.write_out(stream).await?;
        match control.wait_gate(req.arg(0), req.get(1)).await {
            None => Ok(false),
            Some(busy) => {
                self.batch_commands += 1;
                self.fail(&CmdError::msg(busy));
                Ok(true)
            }
        }
    }

    /// Holds `req` while a CLIENT PAUSE covers it, as Redis postpones paused
    /// clients: input keeps arriving into the buffer meanwhile. Returns
    /// false if the client went away, was killed, or the server is stopping.
    async fn wait_out_pause<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        req: &Request,
    ) -> std::io::Result<bool> {
        let shared = self.session.shared();
        let pause = &shared.clients.pause;
        if pause.current().is_none() || req.is_empty() {
            return Ok(true);
        }
        let Some(spec) = command::table().get(req.arg(0)) else {
            return Ok(true);
        };
        // CLIENT PAUSE/UNPAUSE themselves are never held, so a pause of
        // every command can still be lifted (Redis would hold UNPAUSE too).
        if spec.name == "client" && req.get(1).is_some_and(is_pause_control) {
            return Ok(true);
        }
        let writes = self.may_write(spec, req);
        if !pause.holds(writes) {
            return Ok(true);
        }
        self.write_out(stream).await?;
        let _blocked = BlockedMark::new(self.session.client.clone());
        while pause.holds(writes) {
            if self
                .wait_watching(stream, pause.changed_or_ended())
                .await?
                .is_none()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// True if `req` may change data or reach other regions: what a
    /// `CLIENT PAUSE … WRITE` holds. Commands queued inside MULTI are not
    /// held (their EXEC is, if any of them writes).
    fn may_write(&self, spec: &command::CommandSpec, req: &Request) -> bool {
        if let Some(multi) = &self.session.multi {
            return spec.name == "exec" && multi.queued.iter().any(|(s, _)| s.has(flags::WRITE));
        }
        spec.has(flags::WRITE)
            || matches!(
                spec.name,
                "publish" | "spublish" | "eval" | "evalsha" | "fcall" | "pfcount"
            )
            || (spec.name == "script"
                && req
                    .get(1)
                    .is_some_and(|s| !s.eq_ignore_ascii_case(b"exists")))
    }

    /// WAIT: answers once `w.regions` regions have applied this region's
    /// changes up to `w.position`, or at the timeout with how many had.
    /// Returns false if the client went away.
    async fn wait_regions<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        w: RegionWait,
    ) -> std::io::Result<bool> {
        // Acknowledgements come with every batch and every idle status
        // (replication's STATUS_EVERY), so polling a little faster than
        // that costs nothing and adds no latency worth a wake-up channel.
        const POLL: std::time::Duration = std::time::Duration::from_millis(5);
        let engine = self.session.engine();
        let Some(replica) = engine.replica() else {
            self.out.int(0);
            return Ok(true);
        };
        let deadline = w
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        let _blocked = BlockedMark::new(self.session.client.clone());
        loop {
            let acked = replica.regions_acked(w.position);
            if acked >= w.regions || deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                self.out.int(acked as i64);
                return Ok(true);
            }
            if self
                .wait_watching(stream, tokio::time::sleep(POLL))
                .await?
                .is_none()
            {
                return Ok(false);
            }
        }
    }

    /// Routes one request: MULTI queueing, subscriber-mode checks, execution.
    fn dispatch(&mut self, req: &Request) -> Flow {
        if req.is_empty() {
            return Flow::Done;
        }
        let shared = self.session.shared();
        if !self.session.identity.refresh(&shared.acl) {
            // Its user was deleted: Redis disconnects such clients.
            self.session.closing = true;
            return Flow::Done;
        }
        self.batch_commands += 1;
        let Some((index, spec)) = command::table().lookup(req.arg(0)) else {
            let e = command::unknown_command(req);
            self.fail(&e);
            return Flow::Done;
        };
        if self.batch_commands == 1 {
            // The first command of a batch is visible at once (CLIENT LIST
            // shows itself); later ones are published when the batch ends.
            self.session.client.note_command(spec.name);
        } else {
            self.batch_last = Some(spec.name);
        }
        if !spec.arity_ok(req.len()) {
            let e = CmdError::Arity(req.name_lower());
            self.fail(&e);
            return Flow::Done;
        }
        if let Err(e) = self.session.authorize(spec, index, req) {
            self.fail(&e);
            return Flow::Done;
        }
        let monitors = &shared.clients.monitors;
        if monitors.active() && !spec.has(flags::ADMIN) {
            feed_monitors(monitors, &self.session.client, spec.name, req);
        }
        let resp3 = self.out.proto() == Proto::Resp3;
        if self.session.in_subscriber_context(resp3) && !spec.has(flags::SUBSCRIBED_OK) {
            let e = CmdError::msg(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                req.name_lower()
            ));
            self.fail(&e);
            return Flow::Done;
        }
        // A sharded region: keys another node owns are redirected (checked
        // when queued too, so a transaction with one fails at EXEC).
        if let Some(cluster) = &shared.cluster {
            let asking = std::mem::take(&mut self.session.asking);
            match command::cluster::route(cluster, spec, req, asking) {
                Err(e) => {
                    self.fail(&e);
                    return Flow::Done;
                }
                // Checked by EXEC for the whole queue inside MULTI.
                Ok(check) if self.session.multi.is_none() => self.session.ask_if_missing = check,
                Ok(_) => {}
            }
        }
        if let Some(multi) = self.session.multi.as_mut()
            && !spec.has(flags::NO_QUEUE)
        {
            if spec.has(flags::NO_MULTI) {
                let e = CmdError::msg("ERR Command not allowed inside a transaction");
                self.fail(&e);
                return Flow::Done;
            }
            multi.queued.push((spec, req.clone()));
            let n = multi.queued.len();
            self.session.client.multi.store(n + 1, Ordering::Relaxed);
            self.out.simple("QUEUED");
            return Flow::Done;
        }
        // A record queued on this thread by someone else (a peer's change)
        // is not this command's.
        crate::persist::aof::take_last_queued();
        let started = Instant::now();
        let flow = command::execute(spec, &mut self.session, &mut self.out, req);
        let took = started.elapsed();
        shared.stats.record_latency(index, took);
        let client = &self.session.client;
        shared.stats.slowlog.record(req, took, || {
            (client.addr.to_string(), client.name.lock().clone())
        });
        let event = if spec.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        shared.stats.latency.record(event, took);
        flow
    }

    /// Answers an error; inside MULTI it also dooms the transaction.
    fn fail(&mut self, e: &CmdError) {
        if let Some(m) = self.session.multi.as_mut() {
            m.failed = true;
        }
        self.session.count_error(e);
        self.out.error(&e.to_string());
    }

    /// Waits for a blocked command's keys, retrying it when woken. Returns
    /// false if the client went away or the server is shutting down.
    async fn block<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        req: &Request,
        blocked: Blocked,
    ) -> std::io::Result<bool> {
        let Some(spec) = command::table().get(req.arg(0)) else {
            return Ok(true);
        };
        let mut keys: Vec<Vec<u8>> = match spec.keys.indices(req) {
            Ok(idx) => idx.iter().map(|&i| req.arg(i).to_vec()).collect(),
            Err(_) => Vec::new(),
        };
        if spec.has(flags::BLOCKS_ON_FIRST_KEY) {
            // Waiting in a destination's queue would swallow wake-ups meant
            // for that key's own waiters.
            keys.truncate(1);
        }
        let engine = self.session.engine();
        let handle = engine.blocking().register(&keys);
        let _blocked = BlockedMark::new(self.session.client.clone());
        // A deadline too far to represent is as good as none.
        let deadline = blocked
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        // Try first: a push may have landed between the first attempt and
        // our registration (it saw no waiter, so it signalled nobody). Then
        // try again only when signalled, not on input (`wait_watching` keeps
        // that for later): a waiter that is not at the head of its queue
        // must not take elements ahead of the one that was woken (FIFO).
        loop {
            crate::persist::aof::take_last_queued();
            let flow = command::execute(spec, &mut self.session, &mut self.out, req);
            self.note_queued();
            if let Flow::Done = flow {
                return Ok(true);
            }
            // Woken (true) or timed out (false).
            let woken = async {
                let sleep = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = handle.wait() => true,
                    _ = sleep => false,
                }
            };
            match self.wait_watching(stream, woken).await? {
                Some(true) => {}
                Some(false) => {
                    blocked.on_timeout.write(&mut self.out);
                    return Ok(true);
                }
                None => return Ok(false),
            }
        }
    }

    /// Waits for `event` as every waiting command does (a blocking pop,
    /// WAIT, a CLIENT PAUSE, a lock queue): what the client sends meanwhile
    /// is kept for after; its EOF, CLIENT KILL, server shutdown and the
    /// deletion of its ACL user (Redis disconnects such clients) end the
    /// wait. `None`: the connection must close.
    async fn wait_watching<S: AsyncRead + Unpin, T>(
        &mut self,
        stream: &mut S,
        event: impl std::future::Future<Output = T>,
    ) -> std::io::Result<Option<T>> {
        let shared = self.session.shared();
        let mut shutdown = shared.shutdown_signal();
        let mut acl_changes = shared.acl.subscribe();
        let client = self.session.client.clone();
        // A change made before we subscribed (while the command ran).
        if !self.session.identity.refresh(&shared.acl) {
            return Ok(None);
        }
        tokio::pin!(event);
        loop {
            tokio::select! {
                v = &mut event => return Ok(Some(v)),
                n = stream.read_buf(&mut self.buf) => {
                    if n? == 0 {
                        return Ok(None);
                    }
                }
                _ = client.killed() => return Ok(None),
                _ = shutdown.changed() => return Ok(None),
                Ok(()) = acl_changes.changed() => {
                    if !self.session.identity.refresh(&shared.acl) {
                        return Ok(None);
                    }
                }
            }
        }
    }
}

impl Connection<'_> {
    /// Runs a lock command that may wait, watching the client meanwhile:
    /// if it disconnects (or is killed, or the server shuts down, or its
    /// user is deleted) the call is dropped, which takes it out of the lock's queue and releases a lease whose
    /// round was under way. Returns false in that case.
    async fn await_lock<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        call: command::locks::LockCall,
    ) -> std::io::Result<bool> {
        let engine = self.session.engine();
        let _blocked = BlockedMark::new(self.session.client.clone());
        let call = command::locks::run(call, engine.locks());
        match self.wait_watching(stream, call).await? {
            Some(Ok(command::locks::LockReply::Int(v))) => self.out.int(v),
            Some(Ok(command::locks::LockReply::Nil)) => self.out.null(),
            Some(Err(e)) => {
                self.session.count_error(&e);
                self.out.error(&e.to_string());
            }
            None => return Ok(false),
        }
        Ok(true)
    }
}

/// Shows the client as blocked (CLIENT LIST flag `b`) while it lives.
struct BlockedMark(Arc<ClientInfo>);

impl BlockedMark {
    fn new(client: Arc<ClientInfo>) -> BlockedMark {
        client.blocked.store(true, Ordering::Relaxed);
        BlockedMark(client)
    }
}

impl Drop for BlockedMark {
    fn drop(&mut self) {
        self.0.blocked.store(false, Ordering::Relaxed);
    }
}

/// True for the CLIENT subcommands a pause never holds.
fn is_pause_control(sub: &[u8]) -> bool {
    sub.eq_ignore_ascii_case(b"pause") || sub.eq_ignore_ascii_case(b"unpause")
}

/// Feeds `req` to the monitors, with secrets redacted as Redis does:
/// AUTH's arguments, and HELLO's after its AUTH option.
fn feed_monitors(
    feed: &crate::resp::monitor::MonitorFeed,
    client: &ClientInfo,
    name: &str,
    req: &Request,
) {
    const REDACTED: &[u8] = b"(redacted)";
    let source = client.addr.to_string();
    let mut secret = false;
    let args = (0..req.len()).map(|i| {
        let a = req.arg(i);
        let shown = if secret { REDACTED } else { a };
        if (name == "auth" && i == 0) || (name == "hello" && a.eq_ignore_ascii_case(b"auth")) {
            secret = true;
        }
        shown
    });
    feed.feed(&source, args);
}

async fn recv_monitor_line(
    monitor: &mut Option<crate::resp::monitor::MonitorReceiver<'_>>,
) -> Option<crate::resp::monitor::MonitorLine> {
    match monitor.as_mut() {
        Some(m) => m.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_message(subs: &mut Option<super::Subscriptions>) -> Option<crate::engine::Message> {
    match subs.as_mut() {
        Some(s) => s.rx.recv().await,
        None => std::future::pending().await,
    }
}

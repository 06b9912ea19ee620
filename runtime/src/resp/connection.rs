//! The connection loop: read what the client sent, run every complete command
//! in it, flush all replies with one write. Pipelining therefore costs one
//! read and one write per batch, as in Redis.
//!
//! A slow reader only slows its own connection (we stop reading it while its
//! replies wait to be written); a client that closes ends its task; malformed
//! input gets a protocol error and the connection closes, nobody else notices.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::debug;

use super::clients::ClientInfo;
use super::command::{self, Blocked, CmdError, Flow, flags};
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
            tokio::select! {
                n = stream.read_buf(&mut self.buf) => {
                    let n = n?;
                    if n == 0 {
                        return Ok(());
                    }
                }
                msg = recv_message(&mut self.session), if subscribed => {
                    match msg {
                        Some(m) => self.write_message(m),
                        None => return Ok(()),
                    }
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

    async fn process_buffer<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> std::io::Result<Step> {
        loop {
            if self.session.closing {
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
            let flow = self.dispatch(&req);
            self.note_queued();
            if let Flow::Block(b) = flow {
                // Replies before the blocking command go out now.
                self.write_out(stream).await?;
                if !self.block(stream, &req, b).await? {
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
        let resp3 = self.out.proto() == Proto::Resp3;
        if self.session.in_subscriber_context(resp3) && !spec.has(flags::SUBSCRIBED_OK) {
            let e = CmdError::msg(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                req.name_lower()
            ));
            self.fail(&e);
            return Flow::Done;
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
        let mut shutdown = self.session.shared().shutdown_signal();
        let mut acl_changes = self.session.shared().acl.subscribe();
        // Retry first: a push may have landed between the first attempt and
        // our registration (it saw no waiter, so it signalled nobody).
        let mut retry = true;
        loop {
            // Retry only when signalled, not on every input: a waiter that is
            // not at the head of its queue must not take elements ahead of the
            // one that was woken (FIFO).
            if retry {
                crate::persist::aof::take_last_queued();
                let flow = command::execute(spec, &mut self.session, &mut self.out, req);
                self.note_queued();
                if let Flow::Done = flow {
                    return Ok(true);
                }
                retry = false;
            }
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = handle.wait() => retry = true,
                _ = sleep => {
                    blocked.on_timeout.write(&mut self.out);
                    return Ok(true);
                }
                n = stream.read_buf(&mut self.buf) => {
                    // Input while blocked is kept for after the wake-up; EOF ends it.
                    if n? == 0 {
                        return Ok(false);
                    }
                }
                _ = shutdown.changed() => return Ok(false),
                Ok(()) = acl_changes.changed() => {
                    // A deleted user's blocked clients close too.
                    if !self.session.identity.refresh(&self.session.shared().acl) {
                        return Ok(false);
                    }
                }
            }
        }
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

async fn recv_message(session: &mut Session<'_>) -> Option<crate::engine::Message> {
    match session.subs.as_mut() {
        Some(s) => s.rx.recv().await,
        None => std::future::pending().await,
    }
}

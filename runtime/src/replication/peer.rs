//! The replication protocol between two regions and the tasks that run it:
//! one link per pair of regions (the region with the lower id dials), over
//! which each side streams its own change log to the other, catches it up
//! with a snapshot when it has fallen off the log, and reports what it has
//! applied.
//!
//! # Protocol
//!
//! After the transport's `Hello`, each side sends [`PeerMsg::Resume`]: the
//! position in the other's log it has applied, and its whole applied
//! vector. Each side then streams [`PeerMsg::Changes`] from that position.
//! It first sends a snapshot instead if the position is no longer in its
//! log, or if the peer has forgotten changes of its own (it restarted
//! empty): `SnapshotBegin`, `SnapshotKeys`…, `SnapshotEnd`, then the stream
//! resumes after the snapshot's base. When idle it sends `Status` every
//! [`STATUS_EVERY`].
//!
//! An applied vector travels with a batch only when the batch reaches the
//! sender's own mark in it, and `Status` only when the stream has caught up:
//! so the receiver knows that every change still to come on this link was
//! written after the sender had applied that vector — what causal stability
//! (garbage collection) needs.
//!
//! Applied batches are acknowledged at once with [`PeerMsg::Ack`] on the
//! link's urgent lane, so acknowledgements do not queue behind a catch-up
//! stream flowing the other way (that stream's own `ack` fields are as old as
//! its queue). Acknowledgements free the log and tell a region its writes
//! are safe elsewhere. The receiver only records the newest position; a
//! separate task sends it, so a receiver never waits on its own link's
//! writer — two regions catching each other up over full sockets would
//! otherwise each wait for the other to read.
//!
//! A sender keeps at most [`WINDOW_BYTES`] of changes unacknowledged on the
//! wire. Without that bound a catch-up stream fills every buffer between
//! the regions (queue, sockets, proxies) and whatever the other side sends
//! back — acknowledgements included — waits behind seconds of work. While
//! its window is full a sender still sends an `Ack` every [`STATUS_EVERY`],
//! so the stream never falls silent (see `send_loop`).
//!
//! Global locks' votes ([`PeerMsg::Lock`]) share the link: while a session
//! runs, the region's lock service may queue votes and answers for this peer,
//! and received ones go straight to it, whatever the change stream is doing.
//!
//! Deployed WASM modules ([`PeerMsg::Module`]) share it too: the session
//! sends the region's whole module table when it starts, then each entry
//! that changes, and merges what it receives (see `crate::wasm::catalog` for
//! why a table and not a queue). The table is applied to the registry
//! elsewhere, so a component that does not load here never touches the link.
//!
//! Anything unexpected from a peer ends that link (logged) and it is dialled
//! again; the process never stops for a peer.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{
    BackoffPolicy, FrameCodec, LinkConfig, LinkError, LinkReceiver, LinkSender, PeerLink,
    TlsMaterial, connect_with_backoff, serve_peers,
};
use crate::clock::RegionId;
use crate::crdt::VersionVector;
use crate::engine::Engine;
use crate::engine::change::KeyState;
use crate::engine::replica::{LinkState, Replica};
use crate::locks::LockMsg;
use crate::locks::ports::PORT_QUEUE;

/// How often an idle link reports its applied vector.
pub const STATUS_EVERY: Duration = Duration::from_millis(100);
/// How long an acknowledgement may wait for more batches to cover. Under
/// load a link applies thousands of small batches a second; acknowledging
/// each cost both regions a frame, a syscall and a wake-up. This delay is
/// small beside [`WINDOW_BYTES`]' worth of transfer, so the window never
/// waits for it long.
const ACK_DELAY: Duration = Duration::from_millis(2);
/// How long changes may wait to join a batch when the link sent one just
/// before (see `send_loop`); an idle link sends at once.
const LINGER: Duration = Duration::from_millis(1);
/// Changes that make a batch worth sending without lingering.
const LINGER_CHANGES: usize = 512;
/// Bytes of changes per batch.
const BATCH_BYTES: usize = 256 << 10;
/// Frames queued per link: with [`BATCH_BYTES`], a few MiB at most wait for a
/// slow peer, and an urgent frame overtakes them (see `LinkSender`).
const SEND_QUEUE: usize = 16;
/// Bytes of changes sent and not yet acknowledged, at most (flow control):
/// on a 100 ms round trip this still carries ~20 MB/s.
pub const WINDOW_BYTES: usize = 2 << 20;
/// Keys per snapshot message.
const SNAPSHOT_KEYS: usize = 256;
/// Largest frame on a replication link: whole collections travel in one.
pub const MAX_FRAME: u32 = 64 * 1024 * 1024;

/// An encoded [`Change`](crate::engine::change::Change), passed through
/// as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawChange(pub Bytes);

impl Serialize for RawChange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for RawChange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let b = serde_bytes::ByteBuf::deserialize(d)?;
        Ok(RawChange(Bytes::from(b.into_vec())))
    }
}

/// What regions say to each other after `Hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PeerMsg {
    /// Where to start: the last of your changes I applied, and everything
    /// I have applied.
    Resume {
        /// Position in the receiver's log.
        yours: u64,
        /// The sender's applied vector.
        applied: VersionVector,
        /// Random per process start: a new one means the sender lost its
        /// memory (regions keep the keyspace in memory only).
        incarnation: u64,
    },
    /// Changes of the sender's own, in log order.
    Changes {
        /// The changes.
        changes: Vec<RawChange>,
        /// The sender's applied vector, when this batch reaches its own mark
        /// in it (see the module docs).
        applied: Option<VersionVector>,
        /// The last of the receiver's changes the sender has applied.
        ack: u64,
    },
    /// A snapshot follows; its sender had applied `base` before reading it.
    SnapshotBegin {
        /// What the snapshot reflects at least.
        base: VersionVector,
        /// What FLUSHALLs it applied removed beyond `base`: the receiver
        /// may hold such versions, and no key of the snapshot would say so.
        flushed: VersionVector,
    },
    /// Some keys of the snapshot.
    SnapshotKeys(Vec<KeyState>),
    /// The snapshot is complete.
    SnapshotEnd,
    /// The last of the receiver's changes the sender has applied, sent as
    /// soon as it applied them (urgent lane).
    Ack {
        /// The position in the receiver's log.
        ack: u64,
    },
    /// The sender's applied vector (sent only when its stream has caught up).
    Status {
        /// The vector.
        applied: VersionVector,
        /// The last of the receiver's changes the sender has applied.
        ack: u64,
    },
    /// A global lock's vote request or answer (see `crate::locks`). Sent
    /// at any point after `Resume`, independent of the change stream.
    Lock(LockMsg),
    /// An entry of the sender's deployed-module table (a module or a
    /// tombstone). Sent at any point after `Resume`.
    Module(crate::wasm::catalog::Entry),
}

/// One other region, as configured.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// Its id.
    pub id: RegionId,
    /// Its name (its certificate's identity).
    pub name: String,
    /// Its replication address (`host:port`).
    pub addr: String,
}

/// What a region needs to replicate.
pub struct ReplicationSetup {
    /// This region's name (its certificate's identity).
    pub name: String,
    /// The bound replication listener.
    pub listener: TcpListener,
    /// Certificates.
    pub material: TlsMaterial,
    /// The other regions.
    pub peers: Vec<PeerSpec>,
    /// Bound of the change log in bytes.
    pub log_bytes: usize,
    /// A link that receives nothing for this long is dropped and dialled
    /// again (`repl-timeout`).
    pub idle_timeout: Duration,
}

/// Anything that gives access to the region's engine (the server's shared
/// state, or an engine alone in tests).
pub trait EngineRef: Send + Sync + 'static {
    /// The engine.
    fn engine(&self) -> &Engine;

    /// The deployed WASM modules, if this region runs them (a server does;
    /// an engine alone does not).
    fn modules(&self) -> Option<&crate::wasm::catalog::Catalog> {
        None
    }
}

impl EngineRef for Engine {
    fn engine(&self) -> &Engine {
        self
    }
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("peer sent a change of region {0} on its own link")]
    ForeignChange(RegionId),
    #[error("peer protocol violation: {0}")]
    Protocol(&'static str),
    #[error(transparent)]
    Apply(#[from] crate::engine::replica::ApplyError),
}

/// Starts replication for the region behind `shared`: the listener for
/// lower-id peers and a dialler for each higher-id one. Tasks end when
/// `stop` turns true.
pub fn spawn<E: EngineRef>(
    shared: Arc<E>,
    setup: ReplicationSetup,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, super::TlsError> {
    let me = match shared.engine().replica() {
        Some(r) => r.me(),
        None => return Ok(Vec::new()),
    };
    let mut cfg = LinkConfig::new(me.0, setup.name.clone());
    cfg.codec = FrameCodec::new(MAX_FRAME);
    cfg.send_queue = SEND_QUEUE;
    cfg.idle_timeout = setup.idle_timeout;
    let server = setup.material.server_config()?;
    let client = setup.material.client_config()?;
    let mut tasks = Vec::new();

    let (links_tx, mut links_rx) = mpsc::channel::<PeerLink<PeerMsg>>(16);
    tasks.push(tokio::spawn(serve_peers(
        setup.listener,
        server,
        cfg.clone(),
        links_tx,
        stop.clone(),
    )));
    let lower: Vec<PeerSpec> = setup.peers.iter().filter(|p| p.id < me).cloned().collect();
    {
        let shared = shared.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            // One session per accepted peer; a new link from the same peer
            // replaces the old one (it reconnected).
            let mut sessions: Vec<(RegionId, JoinHandle<()>)> = Vec::new();
            while let Some(link) = links_rx.recv().await {
                let hello = link.peer().clone();
                let Some(spec) = lower
                    .iter()
                    .find(|p| p.id.0 == hello.region_id && p.name == hello.region_name)
                else {
                    warn!(peer = %hello.region_name, id = hello.region_id,
                        "replication link from a region that should not dial us; dropped");
                    continue;
                };
                let id = spec.id;
                if let Some(pos) = sessions.iter().position(|(r, _)| *r == id) {
                    sessions.swap_remove(pos).1.abort();
                }
                let (shared, stop) = (shared.clone(), stop.clone());
                sessions.push((
                    id,
                    tokio::spawn(async move { run_session(shared, link, id, stop).await }),
                ));
            }
            for (_, s) in sessions {
                s.abort();
            }
        }));
    }
    for spec in setup.peers.iter().filter(|p| p.id > me).cloned() {
        let (shared, client, cfg, mut stop) =
            (shared.clone(), client.clone(), cfg.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let policy = BackoffPolicy {
                initial: Duration::from_millis(50),
                max: Duration::from_secs(5),
            };
            loop {
                let link = match connect_with_backoff::<PeerMsg>(
                    &spec.addr,
                    &spec.name,
                    client.clone(),
                    &cfg,
                    &policy,
                    &mut stop,
                )
                .await
                {
                    Ok(link) => link,
                    Err(_) => return, // cancelled
                };
                if link.peer().region_id != spec.id.0 {
                    warn!(addr = %spec.addr, expected = %spec.id, got = link.peer().region_id,
                        "replication peer answered with another region id");
                    tokio::time::sleep(policy.max).await;
                    continue;
                }
                run_session(shared.clone(), link, spec.id, stop.clone()).await;
                if *stop.borrow() {
                    return;
                }
                tokio::time::sleep(policy.initial).await;
            }
        }));
    }
    Ok(tasks)
}

fn set_state(replica: &Replica, peer: RegionId, state: LinkState) {
    if let Some(p) = replica.peer(peer) {
        p.lock().state = state;
    }
}

/// Runs one established link until it fails or `stop` turns true.
async fn run_session<E: EngineRef>(
    shared: Arc<E>,
    link: PeerLink<PeerMsg>,
    peer: RegionId,
    mut stop: watch::Receiver<bool>,
) {
    let Some(replica) = shared.engine().replica() else {
        return;
    };
    let name = link.peer().region_name.clone();
    info!(peer = %name, "replication session started");
    set_state(replica, peer, LinkState::Up);
    let (sender, receiver) = link.split();
    let (resume_tx, resume_rx) = oneshot::channel();
    let hello = PeerMsg::Resume {
        yours: replica.applied_of(peer),
        applied: replica.applied(),
        incarnation: replica.incarnation(),
    };
    let result = async {
        sender.send(&hello).await?;
        // Lock votes ride this link while it is up; the attachment ends
        // with the session, so a region without a link counts as silent.
        let (lock_tx, mut lock_rx) = mpsc::channel::<LockMsg>(PORT_QUEUE);
        let _attached = shared.engine().locks().attach(peer, lock_tx);
        let lock_sender = sender.clone();
        let forward = async move {
            while let Some(m) = lock_rx.recv().await {
                lock_sender.send_urgent(&PeerMsg::Lock(m)).await?;
            }
            Ok::<(), SessionError>(())
        };
        let modules = send_modules(shared.clone(), sender.clone());
        // Theirs we applied (to acknowledge), ours they acknowledged (to
        // open the window).
        let (applied_tx, applied_rx) = watch::channel(0);
        let (acked_tx, acked_rx) = watch::channel(0);
        let acks = send_acks(applied_rx, sender.clone());
        let recv = recv_loop(
            shared.clone(),
            receiver,
            Acks {
                applied: applied_tx,
                acked: acked_tx,
            },
            peer,
            resume_tx,
        );
        let send = send_loop(shared.clone(), sender, peer, resume_rx, acked_rx);
        tokio::select! {
            r = send => r,
            r = recv => r,
            r = forward => r,
            r = modules => r,
            r = acks => r,
            _ = stop.wait_for(|s| *s) => Ok(()),
        }
    }
    .await;
    if let Err(e) = result {
        warn!(peer = %name, error = %e, "replication session ended");
    }
    set_state(replica, peer, LinkState::Down);
}

/// Sends the newest applied position of the peer's changes once it moves,
/// at most once per [`ACK_DELAY`]: one acknowledgement covers every batch
/// applied meanwhile.
async fn send_acks(
    mut applied: watch::Receiver<u64>,
    sender: LinkSender<PeerMsg>,
) -> Result<(), SessionError> {
    while applied.changed().await.is_ok() {
        tokio::time::sleep(ACK_DELAY).await;
        let ack = *applied.borrow_and_update();
        sender.send_urgent(&PeerMsg::Ack { ack }).await?;
    }
    // The receiver ended; the session ends with it.
    std::future::pending().await
}

/// Sends the whole module table, then every entry that changes, for as long
/// as the link is up.
async fn send_modules<E: EngineRef>(
    shared: Arc<E>,
    sender: LinkSender<PeerMsg>,
) -> Result<(), SessionError> {
    let Some(catalog) = shared.modules() else {
        return std::future::pending().await;
    };
    let mut changed = catalog.subscribe();
    let mut sent = 0;
    loop {
        changed.borrow_and_update();
        let (entries, upto) = catalog.since(sent);
        for e in entries {
            sender.send(&PeerMsg::Module(e)).await?;
        }
        sent = upto;
        if changed.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// What the receiving side of a session tells the rest of it.
struct Acks {
    /// The newest of the peer's changes applied here.
    applied: watch::Sender<u64>,
    /// The newest of our changes the peer acknowledged.
    acked: watch::Sender<u64>,
}

/// Batches sent and not yet acknowledged, oldest first.
#[derive(Default)]
struct Window {
    batches: std::collections::VecDeque<(u64, usize)>,
    bytes: usize,
}

impl Window {
    fn sent(&mut self, last: u64, bytes: usize) {
        self.batches.push_back((last, bytes));
        self.bytes += bytes;
    }

    fn acked(&mut self, through: u64) {
        while let Some(&(last, bytes)) = self.batches.front() {
            if last > through {
                break;
            }
            self.batches.pop_front();
            self.bytes -= bytes;
        }
    }

    fn is_full(&self) -> bool {
        self.bytes >= WINDOW_BYTES
    }
}

async fn send_loop<E: EngineRef>(
    shared: Arc<E>,
    sender: LinkSender<PeerMsg>,
    peer: RegionId,
    resume: oneshot::Receiver<(u64, VersionVector, u64)>,
    mut acked: watch::Receiver<u64>,
) -> Result<(), SessionError> {
    let (mut pos, theirs, incarnation) = resume
        .await
        .map_err(|_| SessionError::Protocol("link ended before Resume"))?;
    let engine = shared.engine();
    let Some(replica) = engine.replica() else {
        return Ok(());
    };
    let me = replica.me();
    let log = replica.log();
    // A peer that restarted has lost everything, its own changes included;
    // only a snapshot gives those back. So does one that fell off our log.
    let restarted = match replica.peer(peer) {
        Some(p) => {
            let mut p = p.lock();
            p.acked = pos;
            let before = p.incarnation.replace(incarnation);
            before.is_some_and(|b| b != incarnation)
        }
        None => false,
    };
    let forgot = replica.applied_of(peer) > theirs.get(peer);
    let mut snapshot = log.fell_behind(pos) || restarted || forgot;
    let mut last_status = Instant::now() - STATUS_EVERY;
    let mut window = Window::default();
    let mut last_batch = Instant::now() - LINGER;
    loop {
        window.acked(*acked.borrow_and_update());
        if window.is_full() {
            tokio::select! {
                changed = acked.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                // The stream must not fall silent while we wait: a peer
                // stuck inside a frame that was garbled on the way can
                // never acknowledge, and only more bytes let it see the
                // garbage and drop the link (two such peers would otherwise
                // wait for each other for good).
                _ = tokio::time::sleep(STATUS_EVERY) => {
                    sender
                        .send_urgent(&PeerMsg::Ack {
                            ack: replica.applied_of(peer),
                        })
                        .await?;
                }
            }
            continue;
        }
        if snapshot {
            pos = send_snapshot(engine, &sender, peer).await?;
            snapshot = false;
        }
        // Under load, a link sends at most one small batch per LINGER: each
        // frame costs both regions a syscall and a wake-up, and thousands
        // of frames of a few changes each cost more than the changes.
        if let Some(rest) = LINGER.checked_sub(last_batch.elapsed())
            && (1..LINGER_CHANGES).contains(&log.pending_after(pos).0)
        {
            tokio::time::sleep(rest).await;
        }
        let applied = replica.applied();
        match log.read_after(pos, BATCH_BYTES) {
            Err(behind) => {
                warn!(peer = %peer, error = %behind, "peer fell off the replication log; sending a snapshot");
                snapshot = true;
                continue;
            }
            Ok(batch) if !batch.is_empty() => {
                let last = batch.last().map_or(pos, |(p, _)| *p);
                let caught_up = last >= applied.get(me);
                pos = last;
                window.sent(last, batch.iter().map(|(_, b)| b.len()).sum());
                last_batch = Instant::now();
                sender
                    .send(&PeerMsg::Changes {
                        changes: batch.into_iter().map(|(_, b)| RawChange(b)).collect(),
                        applied: caught_up.then_some(applied),
                        ack: replica.applied_of(peer),
                    })
                    .await?;
                if caught_up {
                    last_status = Instant::now();
                }
                continue;
            }
            Ok(_) => {
                if pos >= applied.get(me) && last_status.elapsed() >= STATUS_EVERY {
                    sender
                        .send(&PeerMsg::Status {
                            applied,
                            ack: replica.applied_of(peer),
                        })
                        .await?;
                    last_status = Instant::now();
                }
            }
        }
        tokio::select! {
            () = log.appended_after(pos) => {
                // Let the clients that are ready run first: their writes
                // then leave in this one batch instead of a frame (and a
                // syscall) each. On an idle server this returns at once.
                tokio::task::yield_now().await;
            }
            _ = tokio::time::sleep(STATUS_EVERY) => {}
        }
    }
}

/// Sends the whole keyspace; returns the position in our log it reflects.
async fn send_snapshot(
    engine: &Engine,
    sender: &LinkSender<PeerMsg>,
    peer: RegionId,
) -> Result<u64, SessionError> {
    let Some(replica) = engine.replica() else {
        return Ok(0);
    };
    set_state(replica, peer, LinkState::Syncing);
    let started = Instant::now();
    let base = replica.applied();
    sender
        .send(&PeerMsg::SnapshotBegin {
            base: base.clone(),
            flushed: replica.flushed_beyond(),
        })
        .await?;
    let mut keys = 0usize;
    for shard in 0..engine.keyspace().shard_count() {
        let mut cursor = 0;
        loop {
            let (chunk, next) = engine.export_chunk(shard, cursor, SNAPSHOT_KEYS);
            if !chunk.is_empty() {
                keys += chunk.len();
                sender.send(&PeerMsg::SnapshotKeys(chunk)).await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    sender.send(&PeerMsg::SnapshotEnd).await?;
    if let Some(p) = replica.peer(peer) {
        let mut p = p.lock();
        p.snapshots_out += 1;
        p.state = LinkState::Up;
    }
    info!(peer = %peer, keys, took_ms = started.elapsed().as_millis() as u64, "snapshot sent");
    Ok(base.get(replica.me()))
}

async fn recv_loop<E: EngineRef>(
    shared: Arc<E>,
    mut receiver: LinkReceiver<PeerMsg>,
    acks: Acks,
    peer: RegionId,
    resume: oneshot::Sender<(u64, VersionVector, u64)>,
) -> Result<(), SessionError> {
    let engine = shared.engine();
    let Some(replica) = engine.replica() else {
        return Ok(());
    };
    let mut resume = Some(resume);
    let mut snapshot: Option<(VersionVector, HashSet<crate::keyspace::Blob>)> = None;
    while let Some(msg) = receiver.recv().await? {
        let mut report = None;
        let mut acked = None;
        match msg {
            PeerMsg::Resume {
                yours,
                applied,
                incarnation,
            } => {
                let tx = resume
                    .take()
                    .ok_or(SessionError::Protocol("second Resume"))?;
                // Our own changes it holds must not be re-stamped below it.
                engine
                    .clock()
                    .observe(crate::clock::Stamp(applied.get(replica.me())));
                replica.note_peer_knowledge(peer, applied.get(replica.me()));
                let _ = tx.send((yours, applied, incarnation));
            }
            PeerMsg::Changes {
                changes,
                applied,
                ack,
            } => {
                acked = Some(ack);
                let n = changes.len() as u64;
                let now = crate::clock::unix_ms();
                for raw in changes {
                    let change = crate::engine::replica::Replica::decode(&raw.0)?;
                    if change.origin != peer {
                        return Err(SessionError::ForeignChange(change.origin));
                    }
                    engine.apply_received(&change, Some(&raw.0), now)?;
                }
                if let Some(p) = replica.peer(peer) {
                    p.lock().changes_in += n;
                }
                report = applied;
                acks.applied.send_replace(replica.applied_of(peer));
            }
            PeerMsg::SnapshotBegin { base, flushed } => {
                set_state(replica, peer, LinkState::Syncing);
                engine.import_flushed(&flushed);
                snapshot = Some((base, HashSet::new()));
            }
            PeerMsg::SnapshotKeys(keys) => {
                let (base, seen) = snapshot
                    .as_mut()
                    .ok_or(SessionError::Protocol("snapshot keys outside a snapshot"))?;
                engine.import_chunk(keys, base, seen);
            }
            PeerMsg::SnapshotEnd => {
                let (base, seen) = snapshot
                    .take()
                    .ok_or(SessionError::Protocol("snapshot end outside a snapshot"))?;
                engine.finish_import(&base, &seen);
                if let Some(p) = replica.peer(peer) {
                    let mut p = p.lock();
                    p.snapshots_in += 1;
                    p.state = LinkState::Up;
                }
                acks.applied.send_replace(replica.applied_of(peer));
                info!(peer = %peer, keys = seen.len(), "snapshot applied");
            }
            PeerMsg::Ack { ack } => acked = Some(ack),
            PeerMsg::Status { applied, ack } => {
                acked = Some(ack);
                report = Some(applied);
            }
            PeerMsg::Lock(m) => engine.locks().on_message(peer, m),
            PeerMsg::Module(entry) => {
                // A delete made here after seeing this entry must win over it.
                engine.clock().observe(entry.stamp);
                if let Some(catalog) = shared.modules() {
                    catalog.merge(entry);
                }
            }
        }
        if let Some(p) = replica.peer(peer) {
            let mut p = p.lock();
            p.last_contact = Some(Instant::now());
            if let Some(r) = report {
                p.reported = Some(r);
            }
            if let Some(a) = acked {
                p.acked = p.acked.max(a);
                acks.acked.send_replace(p.acked);
            }
        }
    }
    Ok(())
}

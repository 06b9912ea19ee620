//! The registry of connected RESP clients, for CLIENT LIST/INFO/KILL and INFO
//! `clients`. Each connection registers a [`ClientInfo`] and updates it as it
//! runs; readers take a consistent-enough snapshot without stopping anyone.
//! The registry also holds what every connection consults between commands:
//! the [`PauseGate`] (CLIENT PAUSE) and the [`MonitorFeed`] (MONITOR).
//!
//! It must not run commands or touch the keyspace: a kill is a request the
//! connection carries out itself at its next step.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::monitor::MonitorFeed;
use super::pause::PauseGate;

/// What is known about one connected client.
#[derive(Debug)]
pub struct ClientInfo {
    /// Unique, increasing id (CLIENT ID).
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// When it connected.
    pub created: Instant,
    /// CLIENT SETNAME.
    pub name: Mutex<String>,
    /// CLIENT SETINFO LIB-NAME / LIB-VER.
    pub lib: Mutex<(String, String)>,
    /// Last command name.
    pub last_cmd: Mutex<&'static str>,
    /// Milliseconds since `created` at the last command.
    pub last_active_ms: AtomicU64,
    /// Channel subscriptions.
    pub subs: AtomicUsize,
    /// Pattern subscriptions.
    pub psubs: AtomicUsize,
    /// Negotiated protocol (2 or 3).
    pub resp: AtomicUsize,
    /// Commands queued in MULTI, or -1 (stored +1).
    pub multi: AtomicUsize,
    /// Waiting in a blocking command (flag `b`).
    pub blocked: AtomicBool,
    /// The ACL user it is authenticated as.
    pub user: Mutex<String>,
    /// CLIENT NO-EVICT (flag `e`).
    pub no_evict: AtomicBool,
    /// In MONITOR mode (flag `O`).
    pub monitoring: AtomicBool,
    /// Set by CLIENT KILL; the connection closes at its next step.
    killed: AtomicBool,
    /// Wakes the connection when it is killed while it waits for input.
    kill_signal: Notify,
}

impl ClientInfo {
    /// Seconds since connect.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000
    }

    /// Asks the connection to close (CLIENT KILL). It finishes the command
    /// it is running, if any, and closes before reading another.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        // A stored permit wakes the connection even if it is not waiting yet.
        self.kill_signal.notify_one();
    }

    /// True once [`ClientInfo::kill`] was called.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// Completes when the client is killed.
    pub async fn killed(&self) {
        if self.is_killed() {
            return;
        }
        self.kill_signal.notified().await;
    }

    /// True if the client is subscribed to any channel or pattern (CLIENT
    /// KILL/LIST `TYPE pubsub`).
    pub fn is_pubsub(&self) -> bool {
        self.subs.load(Ordering::Relaxed) + self.psubs.load(Ordering::Relaxed) > 0
    }

    /// Records that a command ran. Called once per batch of commands, not
    /// per command, to keep the pipelined hot path free of shared writes.
    pub fn note_command(&self, name: &'static str) {
        self.last_active_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
        *self.last_cmd.lock() = name;
    }

    /// One line of CLIENT LIST, in Redis's field order.
    pub fn describe(&self) -> String {
        let multi = match self.multi.load(Ordering::Relaxed) {
            0 => -1,
            n => n as i64 - 1,
        };
        let subs = self.subs.load(Ordering::Relaxed);
        let psubs = self.psubs.load(Ordering::Relaxed);
        let mut flags = String::new();
        if self.monitoring.load(Ordering::Relaxed) {
            flags.push('O');
        }
        if subs + psubs > 0 {
            flags.push('P');
        }
        if multi >= 0 {
            flags.push('x');
        }
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let lib = self.lib.lock();
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub={} psub={} ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.name.lock(),
            self.age_secs(),
            self.idle_secs(),
            flags,
            subs,
            psubs,
            multi,
            self.last_cmd.lock(),
            self.user.lock(),
            self.resp.load(Ordering::Relaxed),
            lib.0,
            lib.1,
        )
    }
}

/// All connected clients.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// CLIENT PAUSE / UNPAUSE.
    pub pause: PauseGate,
    /// Where MONITOR clients read every command from.
    pub monitors: MonitorFeed,
}

impl ClientRegistry {
    /// Registers a new connection.
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(String::new()),
            lib: Mutex::new((String::new(), String::new())),
            last_cmd: Mutex::new("NULL"),
            last_active_ms: AtomicU64::new(0),
            subs: AtomicUsize::new(0),
            psubs: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            multi: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            user: Mutex::new(crate::acl::DEFAULT_USER.to_string()),
            no_evict: AtomicBool::new(false),
            monitoring: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        });
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        self.clients.lock().insert(id, info.clone());
        info
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// Snapshot of all clients, by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// True if no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

//! The server of one region: binds the RESP listener, accepts connections (one
//! task each), runs background maintenance (active expiry, ops/sec sampling),
//! and shuts down gracefully.
//!
//! It owns [`Shared`], the state every connection borrows. It must not contain
//! command logic.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::clock::RegionId;
use crate::config::Config;
use crate::engine::Engine;
use crate::engine::replica::ReplicaConfig;
use crate::replication::TlsMaterial;
use crate::replication::peer::{EngineRef, PeerSpec, ReplicationSetup};
use crate::resp::clients::ClientRegistry;

/// Per-command call counts and time (INFO `commandstats`).
#[derive(Debug, Default)]
pub struct CommandStat {
    /// Calls.
    pub calls: AtomicU64,
    /// Total microseconds.
    pub usec: AtomicU64,
}

/// Server-wide counters behind INFO.
#[derive(Debug)]
pub struct ServerStats {
    /// Commands processed.
    pub commands: AtomicU64,
    /// Indexed like [`crate::resp::command::CommandTable::all`].
    per_command: Vec<CommandStat>,
    errors: Mutex<HashMap<String, u64>>,
    ops_samples: Mutex<(u64, [u64; 16], usize)>,
    /// SLOWLOG.
    pub slowlog: crate::resp::slowlog::SlowLog,
    /// LATENCY.
    pub latency: crate::resp::slowlog::LatencyMonitor,
}

impl Default for ServerStats {
    fn default() -> Self {
        let per_command = crate::resp::command::table()
            .all()
            .iter()
            .map(|_| CommandStat::default())
            .collect();
        ServerStats {
            commands: AtomicU64::new(0),
            per_command,
            errors: Mutex::new(HashMap::new()),
            ops_samples: Mutex::new((0, [0; 16], 0)),
            slowlog: Default::default(),
            latency: Default::default(),
        }
    }
}

impl ServerStats {
    /// Records one call of the command at `index` in the table taking `took`.
    pub fn record_latency(&self, index: usize, took: Duration) {
        if let Some(s) = self.per_command.get(index) {
            s.calls.fetch_add(1, Ordering::Relaxed);
            s.usec.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        }
    }

    /// Per-command stats for commands called at least once.
    pub fn command_stats(&self) -> Vec<(&'static str, u64, u64)> {
        let names = crate::resp::command::table().all();
        let mut v: Vec<_> = self
            .per_command
            .iter()
            .zip(names)
            .map(|(s, c)| {
                (
                    c.name,
                    s.calls.load(Ordering::Relaxed),
                    s.usec.load(Ordering::Relaxed),
                )
            })
            .filter(|(_, calls, _)| *calls > 0)
            .collect();
        v.sort();
        v
    }

    /// Counts an error reply by its code (first word).
    pub fn count_error(&self, line: &str) {
        let code = line.split(' ').next().unwrap_or("ERR").to_string();
        *self.errors.lock().entry(code).or_default() += 1;
    }

    /// Error counts by code.
    pub fn error_stats(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .errors
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort();
        v
    }

    /// Total error replies.
    pub fn total_errors(&self) -> u64 {
        self.errors.lock().values().sum()
    }

    /// Zeroes every counter (CONFIG RESETSTAT).
    pub fn reset(&self) {
        // Under the samples lock, so a concurrent sample sees both or neither.
        let mut s = self.ops_samples.lock();
        self.commands.store(0, Ordering::Relaxed);
        *s = (0, [0; 16], 0);
        drop(s);
        for c in &self.per_command {
            c.calls.store(0, Ordering::Relaxed);
            c.usec.store(0, Ordering::Relaxed);
        }
        self.errors.lock().clear();
    }

    fn sample_ops(&self, interval: Duration) {
        let total = self.commands.load(Ordering::Relaxed);
        let mut s = self.ops_samples.lock();
        // Saturating: a RESETSTAT between the load and the lock lowers the total.
        let per_sec = (total.saturating_sub(s.0) as f64 / interval.as_secs_f64()) as u64;
        s.0 = total;
        let i = s.2 % 16;
        s.1[i] = per_sec;
        s.2 += 1;
    }

    /// Average ops/sec over the last samples.
    pub fn instantaneous_ops(&self) -> u64 {
        let s = self.ops_samples.lock();
        let n = s.2.min(16);
        if n == 0 {
            0
        } else {
            s.1[..n].iter().sum::<u64>() / n as u64
        }
    }
}

/// State shared by every connection of one region.
pub struct Shared {
    /// The engine.
    pub engine: Engine,
    /// Connected clients.
    pub clients: ClientRegistry,
    /// Counters.
    pub stats: ServerStats,
    /// The configuration the server started with (CONFIG GET of static settings).
    pub config: Config,
    /// The RESP address actually bound.
    pub addr: SocketAddr,
    /// Random id of this process (INFO run_id).
    pub run_id: String,
    /// ACL users and their checks.
    pub acl: crate::acl::Acl,
    /// TLS of the RESP TLS listener, if `tls-port` is set.
    pub tls: Option<Arc<crate::client_tls::ListenerTls>>,
    /// The RESP TLS address actually bound.
    pub tls_addr: Option<SocketAddr>,
    /// Loaded WASM modules (edge functions and plugin libraries).
    pub wasm: crate::wasm::WasmHost,
    /// Lua scripting (EVAL, SCRIPT).
    pub scripts: crate::scripting::Scripts,
    /// Snapshots and the append log, if persistence is on.
    pub persist: Option<Arc<crate::persist::Persistence>>,
    /// The region's slot map, if it is sharded over several nodes.
    pub cluster: Option<crate::cluster::Cluster>,
    shutdown: watch::Receiver<bool>,
}

impl EngineRef for Shared {
    fn engine(&self) -> &Engine {
        &self.engine
    }

    fn modules(&self) -> Option<&crate::wasm::catalog::Catalog> {
        Some(self.wasm.deploys().catalog())
    }
}

impl Shared {
    /// A receiver that changes when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The replication certificates could not be used.
    #[error("replication TLS: {0}")]
    Tls(#[from] crate::replication::TlsError),
    /// The RESP TLS certificate, key or CA files could not be used.
    #[error("RESP TLS: {0}")]
    ClientTls(crate::replication::TlsError),
    /// The ACL file or `user` lines could not be used.
    #[error("ACL: {0}")]
    Acl(#[from] crate::acl::AclError),
    /// Listening beyond loopback while anyone may run commands.
    #[error(
        "refusing to listen on {bind} without authentication: set `requirepass` (or ACL users with passwords and a default user that is off or has a password), or set `allow-unauthenticated = true` to serve unauthenticated clients on purpose"
    )]
    Unprotected {
        /// The bind address.
        bind: std::net::IpAddr,
    },
    /// The admin endpoint beyond loopback without a token.
    #[error(
        "refusing to serve the admin endpoint on {bind} without `admin-token`: set a bearer token, or bind to loopback"
    )]
    AdminUnprotected {
        /// The bind address.
        bind: std::net::IpAddr,
    },
    /// The persisted state could not be loaded or the log opened.
    #[error("persistence: {0}")]
    Persist(#[from] crate::persist::PersistError),
    /// A configured WASM module could not be loaded.
    #[error(transparent)]
    Wasm(#[from] crate::wasm::WasmError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A running server.
pub struct RunningServer {
    shared: Arc<Shared>,
    metrics_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// The RESP address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The RESP TLS address, if `tls-port` is set.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.shared.tls_addr
    }

    /// The admin HTTP address (`/metrics`), if enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The shared state (tests and the admin API read it).
    /// The edge HTTP address, if `http-port` is set.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, closes every connection, and waits for the tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // Connections are gone: write and sync what the log holds (and the
        // last snapshot, in snapshot-only mode).
        if let Some(p) = self.shared.persist.clone() {
            let shared = self.shared.clone();
            let _ = tokio::task::spawn_blocking(move || p.shutdown(&shared.engine)).await;
        }
    }
}

async fn bind(config: &Config) -> Result<TcpListener, ServerError> {
    let tries = if config.port_fallback && config.port != 0 {
        20
    } else {
        1
    };
    let mut last_err = None;
    for offset in 0..tries {
        let addr = SocketAddr::new(config.bind, config.port.saturating_add(offset));
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last_err = Some((addr, e)),
        }
    }
    let (addr, source) = last_err.unwrap_or_else(|| {
        (
            SocketAddr::new(config.bind, config.port),
            std::io::Error::other("no port tried"),
        )
    });
    Err(ServerError::Bind { addr, source })
}

/// What start-up reads and refuses before it binds anything.
struct Preflight {
    acl: crate::acl::Acl,
    tls: Option<Arc<crate::client_tls::ListenerTls>>,
    cluster: Option<(
        crate::cluster::SlotMap,
        Option<crate::cluster::SlotStateFile>,
    )>,
}

/// Validates `config`, loads its ACL and RESP TLS files, and applies the
/// safe-by-default rules (no unauthenticated listener or admin endpoint
/// beyond loopback). Shared by [`start_with`] and [`check_files`], so a
/// configuration that passes the check is one that starts.
fn preflight(config: &Config) -> Result<Preflight, ServerError> {
    config.validate()?;
    let acl = crate::acl::Acl::configured(
        config.aclfile.clone(),
        &config.user,
        config.requirepass.as_deref(),
    )?;
    if !config.bind.is_loopback() && !config.allow_unauthenticated {
        if acl.default_open() {
            return Err(ServerError::Unprotected { bind: config.bind });
        }
        // And it stays so: no later change may open the default user.
        acl.keep_closed();
    }
    if config.metrics_port.is_some() && !config.bind.is_loopback() && config.admin_token.is_none() {
        return Err(ServerError::AdminUnprotected { bind: config.bind });
    }
    let tls = crate::client_tls::ListenerTls::from_config(config)
        .map_err(ServerError::ClientTls)?
        .map(Arc::new);
    let cluster = match &config.cluster {
        None => None,
        Some(c) => {
            let state = config
                .cluster_state_file()
                .map(crate::cluster::SlotStateFile::new);
            let invalid = |reason| crate::config::ConfigError::Invalid {
                setting: "cluster",
                reason,
            };
            let map = match &state {
                Some(file) => file.load(c).map_err(invalid)?,
                None => crate::cluster::SlotMap::from_config(c).map_err(invalid)?,
            };
            Some((map, state))
        }
    };
    Ok(Preflight { acl, tls, cluster })
}

/// Everything [`start`] checks before serving, without binding, loading
/// data or compiling modules: settings, ACL and TLS files, replication
/// certificates, and that configured module files are readable
/// (`meridian serve --check`).
pub fn check_files(config: &Config) -> Result<(), ServerError> {
    preflight(config)?;
    if let Some(r) = &config.replication {
        TlsMaterial::from_files(&r.ca, &r.cert, &r.key)?;
    }
    for m in &config.modules {
        std::fs::File::open(&m.path).map_err(|e| crate::wasm::WasmError::Module {
            path: m.path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// Binds and starts serving `config` on the current tokio runtime, with the
/// replication its `[replication]` table describes, if any.
pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    config.validate()?;
    let setup = match &config.replication {
        None => None,
        Some(r) => {
            let material = TlsMaterial::from_files(&r.ca, &r.cert, &r.key)?;
            let listener =
                TcpListener::bind(r.listen)
                    .await
                    .map_err(|source| ServerError::Bind {
                        addr: r.listen,
                        source,
                    })?;
            Some(ReplicationSetup {
                name: config.region_name.clone(),
                listener,
                material,
                peers: r
                    .peers
                    .iter()
                    .map(|p| PeerSpec {
                        id: RegionId(p.id),
                        name: p.name.clone(),
                        addr: p.addr.clone(),
                    })
                    .collect(),
                log_bytes: r.log_size as usize,
                idle_timeout: Duration::from_secs(config.repl_timeout),
            })
        }
    };
    start_with(config, setup).await
}

/// Like [`start`], with replication set up by the caller (`meridian dev`
/// and tests generate certificates and bind listeners themselves).
pub async fn start_with(
    config: Config,
    replication: Option<ReplicationSetup>,
) -> Result<RunningServer, ServerError> {
    let Preflight { acl, tls, cluster } = preflight(&config)?;
    let listener = bind(&config).await?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: SocketAddr::new(config.bind, config.port),
        source,
    })?;
    let tls_listener = match config.tls_port {
        Some(port) if tls.is_some() => {
            let want = SocketAddr::new(config.bind, port);
            Some(
                TcpListener::bind(want)
                    .await
                    .map_err(|source| ServerError::Bind { addr: want, source })?,
            )
        }
        _ => None,
    };
    let tls_addr = tls_listener.as_ref().and_then(|l| l.local_addr().ok());
    let persist_config = config.persistence();
    let engine = match &replication {
        // Persistence records the replication layer's changes, so a single
        // region that persists keeps replication metadata, with no peers.
        None if persist_config.is_some() => Engine::replicated(
            config.shard_bits,
            ReplicaConfig {
                me: RegionId(config.region_id),
                peers: Vec::new(),
                log_bytes: PEERLESS_LOG_BYTES,
            },
        ),
        None => Engine::new(RegionId(config.region_id), config.shard_bits),
        Some(r) => Engine::replicated(
            config.shard_bits,
            ReplicaConfig {
                me: RegionId(config.region_id),
                peers: r
                    .peers
                    .iter()
                    .map(|p| (p.id, p.name.clone(), p.addr.clone()))
                    .collect(),
                log_bytes: r.log_bytes,
            },
        ),
    };
    {
        let s = engine.settings();
        s.set_maxmemory(config.maxmemory as usize);
        s.set_policy(config.eviction_policy().unwrap_or_default());
        s.set_samples(config.maxmemory_samples);
        s.set_proto_max_bulk_len(config.proto_max_bulk_len as usize);
    }
    let persist = match persist_config {
        Some(pc) => {
            info!(
                dir = %pc.dir.display(),
                appendonly = pc.appendonly,
                appendfsync = pc.appendfsync.name(),
                save = %save_points_text(&pc.save),
                "persistence on"
            );
            Some(crate::persist::Persistence::start(pc, &engine)?)
        }
        None => {
            info!("persistence off: the data lives in memory only (set `dir` to keep it)");
            None
        }
    };
    let (tx, rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        persist,
        engine,
        clients: ClientRegistry::default(),
        stats: ServerStats::default(),
        run_id: format!(
            "{:032x}{:08x}",
            rand::random::<u128>(),
            rand::random::<u32>()
        ),
        scripts: crate::scripting::Scripts::new(config.busy_reply_threshold),
        config,
        addr,
        acl,
        tls: tls.clone(),
        tls_addr,
        wasm: crate::wasm::WasmHost::new(),
        cluster: cluster.map(|(map, state)| {
            if state.is_none() {
                warn!("sharded node without a data directory or cluster.state-file: slots moved by CLUSTER SETSLOT go back to the [cluster] table on restart");
            }
            crate::cluster::Cluster::new(map, state)
        }),
        shutdown: rx,
    });
    shared.wasm.attach(&shared);
    if let Some(p) = &shared.persist {
        let weak: std::sync::Weak<dyn EngineRef> = Arc::downgrade(&shared) as _;
        p.attach(weak);
    }
    shared.wasm.load_configured(&shared.config.modules)?;
    shared.wasm.restore(&shared)?;
    crate::wasm::trigger::start(&shared, &shared.config.triggers)?;
    let mut tasks = vec![
        tokio::spawn(accept_loop(shared.clone(), listener, None)),
        tokio::spawn(maintenance_loop(shared.clone())),
        tokio::spawn(crate::wasm::deploy::run(shared.clone())),
    ];
    if let (Some(l), Some(t)) = (tls_listener, tls) {
        tasks.push(tokio::spawn(accept_loop(shared.clone(), l, Some(t))));
        info!(addr = ?tls_addr, "RESP TLS listener ready");
    }
    if let Some(setup) = replication {
        let repl_addr = setup.listener.local_addr().ok();
        tasks.extend(crate::replication::peer::spawn(
            shared.clone(),
            setup,
            shared.shutdown_signal(),
        )?);
        info!(addr = ?repl_addr, "replication listener ready");
    }
    let mut metrics_addr = None;
    if let Some(port) = shared.config.metrics_port {
        let want = SocketAddr::new(shared.config.bind, port);
        let l = crate::admin::bind(want, shared.config.port_fallback)
            .await
            .map_err(|source| ServerError::Bind { addr: want, source })?;
        metrics_addr = l.local_addr().ok();
        tasks.push(tokio::spawn(crate::admin::serve(shared.clone(), l)));
        info!(addr = ?metrics_addr, "admin endpoint ready (/metrics, /digest, console at /ui)");
    }
    let mut http_addr = None;
    if let Some(port) = shared.config.http_port {
        let want = SocketAddr::new(shared.config.bind, port);
        let l = crate::wasm::http::bind(want, shared.config.port_fallback)
            .await
            .map_err(|source| ServerError::Bind { addr: want, source })?;
        http_addr = l.local_addr().ok();
        tasks.push(tokio::spawn(crate::wasm::http::serve(shared.clone(), l)));
        info!(addr = ?http_addr, "edge HTTP listener ready");
    }
    info!(%addr, region = %shared.engine.region(), "RESP listener ready");
    Ok(RunningServer {
        shared,
        metrics_addr,
        http_addr,
        shutdown: tx,
        tasks,
    })
}

/// Bound of the in-memory change log of a region without peers (nobody
/// reads it; persistence keeps its own log).
const PEERLESS_LOG_BYTES: usize = 64 * 1024;

fn save_points_text(points: &[(u64, u64)]) -> String {
    points
        .iter()
        .map(|(s, c)| format!("{s} {c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<Arc<crate::client_tls::ListenerTls>>,
) {
    let mut shutdown = shared.shutdown_signal();
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().unwrap_or(shared.addr);
                    let shared = shared.clone();
                    let acceptor = tls.as_ref().map(|t| t.acceptor());
                    conns.spawn(async move {
                        let Some(acceptor) = acceptor else {
                            crate::resp::connection::serve(&shared, stream, peer, local).await;
                            return;
                        };
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                crate::resp::connection::serve(&shared, tls, peer, local).await;
                            }
                            Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => debug!(%peer, "TLS handshake timed out"),
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    // Connections see the same signal and close; wait for them briefly.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
}

/// The next connection on `listener` for a listener that spawns one task
/// per connection (admin, edge HTTP); `None` once `shutdown` fires. A failed
/// accept (out of file descriptors and the like) is logged as `what` and
/// retried after a short pause: the listener keeps serving.
pub(crate) async fn accept_next(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
    what: &str,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => return Some(a),
                Err(e) => {
                    warn!(error = %e, listener = what, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return None,
        }
    }
}

async fn maintenance_loop(shared: Arc<Shared>) {
    let hz = shared.config.hz.max(1);
    let period = Duration::from_millis(1000 / hz as u64);
    // Like Redis's ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC: at most 25% of a period.
    let budget = period / 4;
    let mut tick = tokio::time::interval(period);
    let mut shutdown = shared.shutdown_signal();
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                ticks += 1;
                if let Some(p) = &shared.persist
                    && ticks.is_multiple_of(hz as u64)
                {
                    p.tick();
                }
                // Replication metadata is collected about once a second.
                if shared.engine.replica().is_some() && ticks.is_multiple_of(hz as u64) {
                    let collector = shared.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        collector.engine.collect_replica_garbage()
                    })
                    .await;
                }
                // The sweep takes shard locks for up to `budget`; run it off the
                // connection workers so it never stalls a worker thread.
                let sweeper = shared.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    sweeper.engine.expire_cycle(crate::clock::unix_ms(), budget)
                })
                .await;
                shared.stats.sample_ops(period);
            }
            _ = shutdown.changed() => break,
        }
    }
}

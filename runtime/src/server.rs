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
use tracing::{info, warn};

use crate::clock::RegionId;
use crate::config::Config;
use crate::engine::Engine;
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
    shutdown: watch::Receiver<bool>,
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
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// The RESP address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The shared state (tests and the admin API read it).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, closes every connection, and waits for the tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
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

/// Binds and starts serving `config` on the current tokio runtime.
pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    config.validate()?;
    let listener = bind(&config).await?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: SocketAddr::new(config.bind, config.port),
        source,
    })?;
    let engine = Engine::new(RegionId(config.region_id), config.shard_bits);
    {
        let s = engine.settings();
        s.set_maxmemory(config.maxmemory as usize);
        s.set_policy(config.eviction_policy().unwrap_or_default());
        s.set_samples(config.maxmemory_samples);
        s.set_proto_max_bulk_len(config.proto_max_bulk_len as usize);
    }
    let (tx, rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        engine,
        clients: ClientRegistry::default(),
        stats: ServerStats::default(),
        run_id: format!(
            "{:032x}{:08x}",
            rand::random::<u128>(),
            rand::random::<u32>()
        ),
        config,
        addr,
        shutdown: rx,
    });
    let tasks = vec![
        tokio::spawn(accept_loop(shared.clone(), listener)),
        tokio::spawn(maintenance_loop(shared.clone())),
    ];
    info!(%addr, region = %shared.engine.region(), "RESP listener ready");
    Ok(RunningServer {
        shared,
        shutdown: tx,
        tasks,
    })
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown_signal();
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().unwrap_or(shared.addr);
                    let shared = shared.clone();
                    conns.spawn(async move {
                        crate::resp::connection::serve(&shared, stream, peer, local).await;
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

async fn maintenance_loop(shared: Arc<Shared>) {
    let hz = shared.config.hz.max(1);
    let period = Duration::from_millis(1000 / hz as u64);
    // Like Redis's ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC: at most 25% of a period.
    let budget = period / 4;
    let mut tick = tokio::time::interval(period);
    let mut shutdown = shared.shutdown_signal();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // The sweep takes shard locks for up to `budget`; run it off the
                // connection workers so it never stalls a worker thread.
                let sweeper = shared.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    sweeper.engine.keyspace().expire_cycle(crate::clock::unix_ms(), budget)
                })
                .await;
                shared.stats.sample_ops(period);
            }
            _ = shutdown.changed() => break,
        }
    }
}

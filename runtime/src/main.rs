//! The `meridian` command: `meridian dev` for a ready-to-use local server,
//! `meridian serve --config meridian.toml` for one region in production.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use meridian::config::{Config, parse_memory};
use tracing::{error, info, warn};

#[derive(Parser)]
#[command(
    name = "meridian",
    version,
    about = "Multi-region active-active edge cache"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a local development server on 127.0.0.1 (port 6379 or the next free one).
    Dev(Settings),
    /// Run one region from a TOML config file; flags override the file.
    Serve {
        /// Path to the TOML configuration.
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
}

/// Every setting of the config file, as a flag.
#[derive(Args, Default)]
struct Settings {
    /// Address to bind.
    #[arg(long)]
    bind: Option<IpAddr>,
    /// RESP port (0 = any free port).
    #[arg(long)]
    port: Option<u16>,
    /// This region's numeric id.
    #[arg(long)]
    region_id: Option<u16>,
    /// This region's name.
    #[arg(long)]
    region_name: Option<String>,
    /// log2 of the number of keyspace shards.
    #[arg(long)]
    shard_bits: Option<u32>,
    /// Memory limit, e.g. 100mb (0 = none).
    #[arg(long, value_parser = memory_arg)]
    maxmemory: Option<u64>,
    /// Eviction policy (noeviction, allkeys-lru, allkeys-lfu, allkeys-random,
    /// volatile-lru, volatile-lfu, volatile-random, volatile-ttl).
    #[arg(long)]
    maxmemory_policy: Option<String>,
    /// Keys sampled per eviction.
    #[arg(long)]
    maxmemory_samples: Option<usize>,
    /// Largest bulk string accepted, e.g. 512mb.
    #[arg(long, value_parser = memory_arg)]
    proto_max_bulk_len: Option<u64>,
    /// Most arguments one command may have.
    #[arg(long)]
    max_multibulk_len: Option<usize>,
    /// Background maintenance frequency per second.
    #[arg(long)]
    hz: Option<u32>,
    /// Log filter, e.g. info, debug, meridian=trace.
    #[arg(long)]
    log: Option<String>,
    /// Worker threads serving connections (0 = half the CPU cores, at least 1).
    #[arg(long)]
    threads: Option<usize>,
}

fn memory_arg(s: &str) -> Result<u64, String> {
    parse_memory(s).ok_or_else(|| format!("invalid memory size '{s}'"))
}

impl Settings {
    fn apply(self, c: &mut Config) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { c.$f = v; } )* };
        }
        set!(
            bind,
            port,
            region_id,
            region_name,
            shard_bits,
            maxmemory,
            maxmemory_policy,
            maxmemory_samples,
            proto_max_bulk_len,
            max_multibulk_len,
            hz,
            log,
            threads
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, dev) = match cli.command {
        Command::Dev(settings) => {
            let mut c = Config {
                port_fallback: true,
                region_name: "dev".into(),
                ..Config::default()
            };
            settings.apply(&mut c);
            (c, true)
        }
        Command::Serve { config, settings } => {
            let mut c = match config {
                Some(path) => match Config::from_file(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("meridian: {e}");
                        return ExitCode::from(2);
                    }
                },
                None => Config::default(),
            };
            settings.apply(&mut c);
            (c, false)
        }
    };
    if let Err(e) = config.validate() {
        eprintln!("meridian: {e}");
        return ExitCode::from(2);
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(worker_threads(config.threads));
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meridian: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let signals = ShutdownSignals::install();
        if dev && !config.bind.is_loopback() {
            warn!(bind = %config.bind, "dev mode is meant for loopback only");
        }
        let server = match meridian::server::start(config).await {
            Ok(s) => s,
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = server.addr();
        // Written without `println!`: if whoever reads our stdout goes away
        // (`meridian dev | head -3`), the server keeps running instead of
        // panicking on a broken pipe.
        let banner = if dev {
            format!(
                "\n  Meridian dev server ready (single region, no password: loopback only).\n  Connect with:  redis-cli -p {}\n  Stop with Ctrl-C.\n\n",
                addr.port()
            )
        } else {
            format!("meridian: serving RESP on {addr}\n")
        };
        let mut stdout = std::io::stdout();
        let _ = stdout.write_all(banner.as_bytes()).and_then(|_| stdout.flush());
        signals.wait().await;
        info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Connection worker threads: as configured, else half the cores (at least
/// one). Measured on 2 cores: one worker serves ~30% more requests than two,
/// because the clients and the kernel's network stack need the other core.
fn worker_threads(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).max(1)
}

/// SIGINT and SIGTERM, registered before the server announces itself so a
/// signal sent right after start-up still shuts down gracefully.
struct ShutdownSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignals {
    fn install() -> ShutdownSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(i), Ok(t)) => Some((i, t)),
                _ => {
                    warn!("cannot install signal handlers; falling back to Ctrl-C only");
                    None
                }
            };
            ShutdownSignals { streams }
        }
        #[cfg(not(unix))]
        ShutdownSignals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

//! The `meridian` command: `meridian dev` for a ready-to-use local server,
//! `meridian serve --config meridian.toml` for one region in production.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use meridian::config::{Config, TlsAuthClients, parse_memory};
use meridian::persist::AppendFsync;
use meridian::replication::RegionCertificates;
use meridian::wasm::ModuleConfig;
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
    Dev {
        /// Regions to run in this process, replicating to each other on
        /// loopback (RESP ports 6379, 6380, … or the next free ones).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        regions: u16,
        #[command(flatten)]
        settings: Settings,
    },
    /// Run one region from a TOML config file; flags override the file.
    Serve {
        /// Path to the TOML configuration.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Check the configuration (file, flags and the TLS and ACL files it
        /// names), print what would run, and exit without serving.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Issue a new deployment CA and one replication certificate per
    /// region (mutual TLS between regions), as PEM files.
    Certs {
        /// Region names, as the `name` of `[[replication.peers]]` entries.
        #[arg(long, value_delimiter = ',', required = true)]
        regions: Vec<String>,
        /// Directory to write into (created if missing; existing files are
        /// never replaced).
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// Another DNS name or IP address every certificate carries
        /// (repeatable).
        #[arg(long = "san")]
        extra_names: Vec<String>,
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
    /// Port of the admin HTTP endpoint (/metrics, /digest) on the bind
    /// address; off unless given (with several dev regions: port, port+1, …).
    #[arg(long)]
    metrics_port: Option<u16>,
    /// Password of the default user (prefer the environment variable: flags
    /// show in `ps`).
    #[arg(long, env = "MERIDIAN_REQUIREPASS", hide_env_values = true)]
    requirepass: Option<String>,
    /// An ACL user, `"<name> <rules...>"` (repeatable), e.g.
    /// `--user "app on >secret ~app:* +@read +@write"`.
    #[arg(long = "user")]
    users: Vec<String>,
    /// ACL file, loaded at start and by ACL LOAD, written by ACL SAVE.
    #[arg(long)]
    aclfile: Option<PathBuf>,
    /// Serve clients without authentication on a non-loopback address.
    #[arg(long)]
    allow_unauthenticated: bool,
    /// TLS port for RESP (needs --tls-cert-file and --tls-key-file).
    #[arg(long)]
    tls_port: Option<u16>,
    /// PEM certificate chain for the TLS port.
    #[arg(long)]
    tls_cert_file: Option<PathBuf>,
    /// PEM private key for the TLS port.
    #[arg(long)]
    tls_key_file: Option<PathBuf>,
    /// PEM CA certificates that sign client certificates.
    #[arg(long)]
    tls_ca_cert_file: Option<PathBuf>,
    /// Client certificates: yes, optional or no.
    #[arg(long, value_parser = tls_auth_arg)]
    tls_auth_clients: Option<TlsAuthClients>,
    /// Bearer token of the admin endpoint (all paths but /healthz).
    #[arg(long, env = "MERIDIAN_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Port of the edge HTTP listener serving WASM edge modules (dev: 8080
    /// or the next free one).
    #[arg(long)]
    http_port: Option<u16>,
    /// A WASM component to load at start: an edge module (served at
    /// /<file name>) or a plugin library (called with FCALL). Repeatable.
    #[arg(long = "module")]
    modules: Vec<PathBuf>,
    /// Milliseconds a Lua script runs before other clients get BUSY and
    /// SCRIPT KILL is accepted (Redis's lua-time-limit).
    #[arg(long, alias = "lua-time-limit")]
    busy_reply_threshold: Option<u64>,
    /// Seconds a replication link may receive nothing before it is dropped
    /// and dialled again (Redis's repl-timeout)
    #[arg(long)]
    repl_timeout: Option<u64>,
    /// Data directory for the snapshot and append log; persistence is off
    /// unless it is set.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Snapshot file name in the data directory.
    #[arg(long)]
    dbfilename: Option<String>,
    /// Base name of the append-log segments in the data directory.
    #[arg(long)]
    appendfilename: Option<String>,
    /// Keep the append-only log: yes or no.
    #[arg(long, value_parser = yes_no_arg)]
    appendonly: Option<bool>,
    /// When the append log is synced: always, everysec or no.
    #[arg(long, value_parser = appendfsync_arg)]
    appendfsync: Option<AppendFsync>,
    /// Save points, "<seconds> <changes> ..." ("" = none).
    #[arg(long)]
    save: Option<String>,
}

fn yes_no_arg(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("'{s}' is not yes or no")),
    }
}

fn appendfsync_arg(s: &str) -> Result<AppendFsync, String> {
    AppendFsync::from_name(s).ok_or_else(|| format!("'{s}' is not one of always, everysec, no"))
}

fn tls_auth_arg(s: &str) -> Result<TlsAuthClients, String> {
    TlsAuthClients::from_name(s).ok_or_else(|| format!("'{s}' is not one of yes, optional, no"))
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
            threads,
            busy_reply_threshold,
            repl_timeout,
            dbfilename,
            appendfilename,
            appendonly,
            appendfsync,
            save
        );
        if let Some(p) = self.metrics_port {
            c.metrics_port = Some(p);
        }
        macro_rules! set_some {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { c.$f = Some(v); } )* };
        }
        set_some!(
            requirepass,
            aclfile,
            tls_port,
            tls_cert_file,
            tls_key_file,
            tls_ca_cert_file,
            tls_auth_clients,
            admin_token
        );
        if !self.users.is_empty() {
            c.user = self.users;
        }
        if self.allow_unauthenticated {
            c.allow_unauthenticated = true;
        }
        if let Some(p) = self.http_port {
            c.http_port = Some(p);
        }
        if let Some(d) = self.dir {
            c.dir = Some(d);
        }
        c.modules
            .extend(self.modules.into_iter().map(ModuleConfig::new));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, dev, regions) = match cli.command {
        Command::Dev { regions, settings } => {
            let mut c = Config {
                port_fallback: true,
                region_name: "dev".into(),
                http_port: Some(8080),
                metrics_port: Some(DEV_ADMIN_PORT),
                ..Config::default()
            };
            let explicit_modules = !settings.modules.is_empty();
            settings.apply(&mut c);
            if !explicit_modules {
                c.modules = dev_example_modules();
            }
            (c, true, regions as usize)
        }
        Command::Certs {
            regions,
            out,
            extra_names,
        } => return issue_certificates(&regions, &out, &extra_names),
        Command::Serve {
            config,
            check,
            settings,
        } => {
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
            if check {
                return check_config(&c);
            }
            (c, false, 1)
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
            // Dev mode relaxes authentication, which is only safe when
            // nobody else can connect.
            error!(
                bind = %config.bind,
                "dev mode binds loopback only; use `meridian serve` with a password to listen on the network"
            );
            return ExitCode::from(2);
        }
        if regions > 1 {
            let servers = match start_dev_cluster(config, regions).await {
                Ok(s) => s,
                Err(e) => {
                    error!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let auth = if servers.iter().all(|s| s.shared().acl.default_open()) {
                "Authentication relaxed (no password) because dev mode is loopback-only"
            } else {
                "Password required"
            };
            let mut banner = format!(
                "\n  Meridian dev cluster ready: {regions} regions replicating active-active on loopback.\n  {auth}; throw-away TLS certificates between regions.\n"
            );
            for s in &servers {
                banner.push_str(&format!(
                    "  region {} ({}):  redis-cli -p {}\n",
                    s.shared().config.region_id,
                    s.shared().config.region_name,
                    s.addr().port()
                ));
                if let Some(m) = s.metrics_addr() {
                    banner.push_str(&format!(
                        "      console:  http://{m}/ui   metrics:  http://{m}/metrics\n"
                    ));
                }
                banner.push_str(&edge_banner(s));
            }
            if let Some(s) = servers.first() {
                banner.push_str(&persistence_banner(s));
            }
            banner.push_str("  Stop with Ctrl-C.\n\n");
            write_banner(&banner);
            signals.wait().await;
            info!("shutting down");
            for s in servers {
                s.shutdown().await;
            }
            return ExitCode::SUCCESS;
        }
        let server = match meridian::server::start(config).await {
            Ok(s) => s,
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = server.addr();
        let metrics = server
            .metrics_addr()
            .map(|m| format!("  Console:  http://{m}/ui\n  Metrics:  http://{m}/metrics\n"))
            .unwrap_or_default();
        let tls = server
            .tls_addr()
            .map(|t| format!("meridian: serving RESP over TLS on {t}\n"))
            .unwrap_or_default();
        let edge = edge_banner(&server);
        let banner = if dev {
            let auth = if server.shared().acl.default_open() {
                "authentication relaxed (no password) because dev mode is loopback-only"
            } else {
                "password required"
            };
            format!(
                "\n  Meridian dev server ready (single region, {auth}).\n  Connect with:  redis-cli -p {}\n{tls}{metrics}{edge}{}  Stop with Ctrl-C.\n\n",
                addr.port(),
                persistence_banner(&server)
            )
        } else {
            format!(
                "meridian: serving RESP on {addr}\n{tls}{metrics}{edge}{}",
                persistence_banner(&server).trim_start()
            )
        };
        write_banner(&banner);
        let reloader = tokio::spawn(reload_tls_on_sighup(server.shared().clone()));
        signals.wait().await;
        reloader.abort();
        info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// `meridian certs`: writes a CA and the regions' certificates.
fn issue_certificates(regions: &[String], out: &std::path::Path, extra: &[String]) -> ExitCode {
    let names: Vec<&str> = regions.iter().map(String::as_str).collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    if let Some(dup) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
    {
        eprintln!("meridian: region '{}' is named twice", dup.1);
        return ExitCode::from(2);
    }
    let issued = match RegionCertificates::issue("meridian deployment CA", &names, &extra) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("meridian: {e}");
            return ExitCode::from(2);
        }
    };
    match issued.write(out, &names) {
        Ok(files) => {
            let mut text = String::new();
            for f in files {
                text.push_str(&format!("wrote {}\n", f.display()));
            }
            text.push_str("Keep ca-key.pem offline: it can sign a certificate for any region.\n");
            write_banner(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meridian: {e}");
            ExitCode::from(2)
        }
    }
}

/// `meridian serve --check`: validates everything `serve` would read
/// before listening, so a bad ConfigMap or Secret is caught before rollout.
fn check_config(config: &Config) -> ExitCode {
    if let Err(e) = config.validate() {
        eprintln!("meridian: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = meridian::server::check_files(config) {
        eprintln!("meridian: {e}");
        return ExitCode::from(2);
    }
    let replication = match &config.replication {
        Some(r) => format!(
            "replication on {} with {} peer(s): {}",
            r.listen,
            r.peers.len(),
            r.peers
                .iter()
                .map(|p| format!("{}={}", p.name, p.addr))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "no replication (single region)".to_string(),
    };
    write_banner(&format!(
        "configuration OK: region {} ({}), RESP on {}:{}, {replication}\n",
        config.region_id, config.region_name, config.bind, config.port
    ));
    ExitCode::SUCCESS
}

/// One line saying where the data is kept, or that it is not.
fn persistence_banner(server: &meridian::server::RunningServer) -> String {
    match &server.shared().persist {
        Some(p) => {
            let c = p.config();
            let log = if c.appendonly {
                format!("append log (appendfsync {})", p.appendfsync().name())
            } else {
                "snapshots only".to_string()
            };
            format!("  Persistence: {} in {}\n", log, c.dir.display())
        }
        None => "  Persistence off: data lives in memory only (--dir to keep it).\n".to_string(),
    }
}

/// Re-reads the RESP TLS files on every SIGHUP (certificate renewal).
async fn reload_tls_on_sighup(shared: std::sync::Arc<meridian::server::Shared>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Some(tls) = shared.tls.clone() else {
            return;
        };
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot install the SIGHUP handler; TLS files will not reload");
                return;
            }
        };
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => info!("SIGHUP: reloaded the RESP TLS certificate and key"),
                Err(e) => {
                    error!(error = %e, "SIGHUP: TLS reload failed; keeping the current certificate")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = shared;
}

/// Where `meridian dev` serves the admin endpoint and console (the next
/// free port if taken; region `i` of a dev cluster from this port + `i`).
const DEV_ADMIN_PORT: u16 = 9379;

/// The example guests `meridian dev` loads when run from a checkout where
/// they were built (`scripts/test.sh` builds them): file, name, route.
const DEV_EXAMPLES: &[(&str, &str, Option<&str>)] = &[
    ("edge_cache.wasm", "edge-cache", Some("/cache")),
    ("rate_limiter.wasm", "rate-limiter", Some("/limited")),
    ("leaderboard.wasm", "leaderboard", None),
];

/// Where `cargo build --release --target wasm32-wasip2` puts guests.
const DEV_EXAMPLES_DIR: &str = "target/wasm32-wasip2/release";

fn dev_example_modules() -> Vec<ModuleConfig> {
    let dir = std::path::Path::new(DEV_EXAMPLES_DIR);
    let found: Vec<ModuleConfig> = DEV_EXAMPLES
        .iter()
        .filter(|(file, _, _)| dir.join(file).exists())
        .map(|(file, name, route)| ModuleConfig {
            name: Some(name.to_string()),
            route: route.map(str::to_string),
            ..ModuleConfig::new(dir.join(file))
        })
        .collect();
    if found.is_empty() {
        warn!(
            "no example guests in {DEV_EXAMPLES_DIR}; build them with: cargo build --release --target wasm32-wasip2 -p edge-cache -p rate-limiter -p leaderboard"
        );
    }
    found
}

/// The banner lines about the edge HTTP listener and loaded modules.
fn edge_banner(server: &meridian::server::RunningServer) -> String {
    let mut out = String::new();
    let wasm = &server.shared().wasm;
    if let Some(h) = server.http_addr() {
        out.push_str(&format!("  Edge HTTP:  http://{h}\n"));
        for m in wasm.registry().edges() {
            out.push_str(&format!(
                "      curl -i http://{h}{}   ({})\n",
                m.route, m.name
            ));
        }
    }
    for l in wasm.registry().libraries() {
        let names: Vec<&str> = l.functions.iter().map(|f| f.name.as_str()).collect();
        out.push_str(&format!(
            "  Plugin {}:  FCALL {}\n",
            l.name,
            names.join(" | ")
        ));
    }
    out
}

/// Writes the start-up banner without `println!`: if whoever reads our
/// stdout goes away (`meridian dev | head -3`), the server keeps running
/// instead of panicking on a broken pipe.
fn write_banner(banner: &str) {
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|_| stdout.flush());
}

/// `meridian dev --regions N`: N regions in this process, RESP on
/// consecutive ports, replication on free loopback ports.
async fn start_dev_cluster(
    config: Config,
    regions: usize,
) -> Result<Vec<meridian::server::RunningServer>, meridian::server::ServerError> {
    warn!("dev cluster: throw-away certificates, no client authentication; do not expose");
    let (cluster, listeners) = meridian::local_cluster::LocalCluster::bind(config, regions).await?;
    // Each region binds its RESP port before the next tries, so fallback
    // ports never collide.
    cluster.start_all(listeners).await
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

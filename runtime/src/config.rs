//! Configuration: the TOML file of `meridian serve`, the same settings as
//! command-line flags, and the defaults of `meridian dev`.
//!
//! This module only describes and validates settings; applying them belongs to
//! `server` (listeners) and `engine` (live settings changed by CONFIG SET).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::keyspace::EvictionPolicy;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for our settings.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The parse error.
        source: Box<toml::de::Error>,
    },
    /// A setting has an invalid value.
    #[error("invalid value for {setting}: {reason}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// Why.
        reason: String,
    },
}

/// All settings of one region's server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Address the RESP listener binds.
    pub bind: IpAddr,
    /// RESP port (0 = any free port).
    pub port: u16,
    /// In `dev` mode: if `port` is taken, try the next ones.
    pub port_fallback: bool,
    /// This region's numeric id (unique in the deployment).
    pub region_id: u16,
    /// This region's name, for logs and INFO.
    pub region_name: String,
    /// log2 of the number of keyspace shards.
    pub shard_bits: u32,
    /// Memory limit in bytes (0 = none); accepts units like `100mb` in TOML.
    #[serde(deserialize_with = "de_memory")]
    pub maxmemory: u64,
    /// Eviction policy name (`noeviction`, `allkeys-lru`, …).
    pub maxmemory_policy: String,
    /// Keys sampled per eviction.
    pub maxmemory_samples: usize,
    /// Largest bulk string accepted, in bytes.
    #[serde(deserialize_with = "de_memory")]
    pub proto_max_bulk_len: u64,
    /// Most arguments one command may have (Redis: `INT_MAX`).
    pub max_multibulk_len: usize,
    /// Background maintenance frequency (active expiry), per second.
    pub hz: u32,
    /// Log filter (`info`, `debug`, `meridian=trace`, …).
    pub log: String,
    /// Worker threads serving connections (0 = half the CPU cores, at least 1).
    pub threads: usize,
    /// Port of the admin HTTP endpoint (`/metrics`, `/digest`) on `bind`;
    /// absent = off, 0 = any free port.
    pub metrics_port: Option<u16>,
    /// Active-active replication with other regions; absent = one region.
    pub replication: Option<ReplicationConfig>,
    /// Seconds a replication link may receive nothing before it is dropped
    /// and dialled again (Redis's `repl-timeout`). A live peer sends at
    /// least a status every 100 ms, so this much silence means a stopped
    /// peer or a path that swallows traffic without resetting the
    /// connection, which TCP alone notices only after many minutes.
    pub repl_timeout: u64,
    /// In-region sharding: this region's nodes and their hash slots;
    /// absent = this node holds every key.
    pub cluster: Option<ClusterConfig>,

    // Security (docs/security.md).
    /// Password of the `default` user; absent or empty = none (`nopass`).
    pub requirepass: Option<String>,
    /// ACL users, one `<name> <rules…>` line each (Redis's `user` directive).
    pub user: Vec<String>,
    /// ACL file read at start and by ACL LOAD, written by ACL SAVE.
    pub aclfile: Option<PathBuf>,
    /// Serve clients that have not authenticated on a non-loopback address.
    /// Off: `serve` refuses to listen beyond loopback while the default user
    /// needs no password.
    pub allow_unauthenticated: bool,
    /// TLS port for RESP on `bind` (0 = any free port); absent = no TLS.
    pub tls_port: Option<u16>,
    /// PEM certificate chain of the TLS listener.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the TLS listener.
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificates that sign client certificates.
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Client certificates: `yes` (required), `optional`, `no`. Default:
    /// `yes` when `tls-ca-cert-file` is set, else `no`.
    pub tls_auth_clients: Option<TlsAuthClients>,
    /// Bearer token the admin HTTP endpoint requires (all but `/healthz`).
    pub admin_token: Option<String>,
    /// Port of the edge HTTP listener serving WASM edge modules on `bind`;
    /// absent = off, 0 = any free port.
    pub http_port: Option<u16>,
    /// WASM modules loaded at start (`[[modules]]`).
    pub modules: Vec<crate::wasm::ModuleConfig>,
    /// Largest component the admin API accepts (`PUT /v1/modules/{name}`),
    /// in bytes; larger bodies get 413.
    #[serde(deserialize_with = "de_memory")]
    pub max_module_size: u64,
    /// Plugin functions called for messages on matching channels
    /// (`[[triggers]]`).
    pub triggers: Vec<crate::wasm::TriggerConfig>,
    /// Milliseconds a Lua script runs before other clients get BUSY and
    /// SCRIPT KILL is accepted (Redis's `busy-reply-threshold`, alias
    /// `lua-time-limit`).
    #[serde(alias = "lua-time-limit")]
    pub busy_reply_threshold: u64,

    // Persistence (docs/operations.md).
    /// Data directory for the snapshot and the append log; absent =
    /// persistence off (the default everywhere: data is kept only where
    /// an operator chose a directory).
    pub dir: Option<PathBuf>,
    /// Snapshot file name in `dir`.
    pub dbfilename: String,
    /// Base name of the append-log segments in `dir`.
    pub appendfilename: String,
    /// Keep the append-only log.
    #[serde(deserialize_with = "de_yes_no")]
    pub appendonly: bool,
    /// When the log is synced: `always`, `everysec` or `no`.
    pub appendfsync: crate::persist::AppendFsync,
    /// Save points, Redis's `save` syntax: `"<seconds> <changes> …"`;
    /// empty = none.
    pub save: String,
    /// Rewrite the log once it grew by this percentage of the last
    /// snapshot (0 = only on BGREWRITEAOF).
    pub auto_aof_rewrite_percentage: u64,
    /// … and is at least this large (accepts units).
    #[serde(deserialize_with = "de_memory")]
    pub auto_aof_rewrite_min_size: u64,
}

/// Whether TLS clients must present a certificate signed by the CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsAuthClients {
    /// Required.
    Yes,
    /// Checked if presented.
    Optional,
    /// Not asked for.
    No,
}

impl TlsAuthClients {
    /// Parses `yes`, `no` or `optional` (any case).
    pub fn from_name(s: &str) -> Option<TlsAuthClients> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Some(TlsAuthClients::Yes),
            "optional" => Some(TlsAuthClients::Optional),
            "no" => Some(TlsAuthClients::No),
            _ => None,
        }
    }

    /// The name CONFIG GET shows.
    pub fn name(self) -> &'static str {
        match self {
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::Optional => "optional",
            TlsAuthClients::No => "no",
        }
    }
}

/// The `[replication]` table: this region's replication listener, its
/// certificates, and the other regions (`[[replication.peers]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReplicationConfig {
    /// Address the replication listener binds (mutual TLS).
    pub listen: SocketAddr,
    /// PEM of the CA that signs every region's certificate.
    pub ca: PathBuf,
    /// PEM of this region's certificate (its name as common name / DNS name).
    pub cert: PathBuf,
    /// PEM of this region's private key.
    pub key: PathBuf,
    /// Bound of the in-memory change log; a peer further behind is caught up
    /// by a snapshot. Accepts units (`64mb`).
    #[serde(default = "default_log_size", deserialize_with = "de_memory")]
    pub log_size: u64,
    /// The other regions.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
}

/// One other region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PeerConfig {
    /// Its region id.
    pub id: u16,
    /// Its name, which its certificate must carry.
    pub name: String,
    /// Its replication address (`host:port`).
    pub addr: String,
}

/// The `[cluster]` table: the nodes one region is sharded over. Every node
/// of the region is given the same table, with its own `me`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterConfig {
    /// This node's name (one of `nodes`).
    pub me: String,
    /// Every node of the region (`[[cluster.nodes]]`).
    pub nodes: Vec<ClusterNodeConfig>,
    /// Where this node keeps slot ownership once slots have moved
    /// (default: `cluster-state.json` in `dir`; absent with no `dir` =
    /// moves are forgotten on restart).
    #[serde(default)]
    pub state_file: Option<PathBuf>,
}

/// One node of a sharded region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterNodeConfig {
    /// Its name, unique in the region.
    pub name: String,
    /// The RESP address clients are redirected to (`host:port`).
    pub addr: String,
    /// The hash slots it owns: `"0-5460"`, `"5461"`, …
    pub slots: Vec<String>,
}

/// Default `repl-timeout`, in seconds: a hundred status intervals.
pub const DEFAULT_REPL_TIMEOUT_SECS: u64 = 10;

/// Default bound of the change log.
pub const DEFAULT_LOG_SIZE: u64 = 64 * 1024 * 1024;

fn default_log_size() -> u64 {
    DEFAULT_LOG_SIZE
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 6379,
            port_fallback: false,
            region_id: 1,
            region_name: "local".into(),
            shard_bits: 6,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            proto_max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            hz: 10,
            log: "info".into(),
            threads: 0,
            metrics_port: None,
            replication: None,
            cluster: None,
            requirepass: None,
            user: Vec::new(),
            aclfile: None,
            allow_unauthenticated: false,
            tls_port: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_cert_file: None,
            tls_auth_clients: None,
            admin_token: None,
            http_port: None,
            modules: Vec::new(),
            max_module_size: 32 * 1024 * 1024,
            triggers: Vec::new(),
            busy_reply_threshold: crate::scripting::control::DEFAULT_BUSY_REPLY_THRESHOLD_MS,
            repl_timeout: DEFAULT_REPL_TIMEOUT_SECS,
            dir: None,
            dbfilename: "dump.msnap".into(),
            appendfilename: "appendonly.maof".into(),
            appendonly: true,
            appendfsync: crate::persist::AppendFsync::Everysec,
            save: "3600 1 300 100 60 10000".into(),
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Where a sharded node keeps its slot ownership, if anywhere.
    pub fn cluster_state_file(&self) -> Option<PathBuf> {
        let c = self.cluster.as_ref()?;
        c.state_file
            .clone()
            .or_else(|| self.dir.as_ref().map(|d| d.join("cluster-state.json")))
    }

    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source: Box::new(source),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.eviction_policy().is_none() {
            return Err(ConfigError::Invalid {
                setting: "maxmemory-policy",
                reason: format!("unknown policy '{}'", self.maxmemory_policy),
            });
        }
        if !(1..=10).contains(&self.shard_bits) {
            return Err(ConfigError::Invalid {
                setting: "shard-bits",
                reason: "must be between 1 and 10".into(),
            });
        }
        if self.hz == 0 || self.hz > 500 {
            return Err(ConfigError::Invalid {
                setting: "hz",
                reason: "must be between 1 and 500".into(),
            });
        }
        self.validate_security()?;
        parse_save(&self.save).map_err(|reason| ConfigError::Invalid {
            setting: "save",
            reason,
        })?;
        for (setting, name) in [
            ("dbfilename", &self.dbfilename),
            ("appendfilename", &self.appendfilename),
        ] {
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(ConfigError::Invalid {
                    setting,
                    reason: "must be a plain file name".into(),
                });
            }
        }
        if let Some(c) = &self.cluster {
            crate::cluster::SlotMap::from_config(c).map_err(|reason| ConfigError::Invalid {
                setting: "cluster",
                reason,
            })?;
        }
        if let Some(r) = &self.replication {
            let mut ids = vec![self.region_id];
            for p in &r.peers {
                if ids.contains(&p.id) {
                    return Err(ConfigError::Invalid {
                        setting: "replication.peers",
                        reason: format!("region id {} appears twice", p.id),
                    });
                }
                ids.push(p.id);
            }
        }
        Ok(())
    }

    fn validate_security(&self) -> Result<(), ConfigError> {
        let invalid = |setting, reason: &str| ConfigError::Invalid {
            setting,
            reason: reason.into(),
        };
        if self.aclfile.is_some() && self.requirepass.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(invalid(
                "aclfile",
                "set the default user's password in the ACL file, not with requirepass as well",
            ));
        }
        if self.aclfile.is_some() && !self.user.is_empty() {
            return Err(invalid(
                "aclfile",
                "define users either in the ACL file or with `user`, not both",
            ));
        }
        if self.tls_port.is_some() && (self.tls_cert_file.is_none() || self.tls_key_file.is_none())
        {
            return Err(invalid("tls-port", "needs tls-cert-file and tls-key-file"));
        }
        if self.tls_auth_clients() != TlsAuthClients::No && self.tls_ca_cert_file.is_none() {
            return Err(invalid(
                "tls-auth-clients",
                "checking client certificates needs tls-ca-cert-file",
            ));
        }
        if self.admin_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(invalid("admin-token", "must be at least 16 characters"));
        }
        let most = crate::wasm::catalog::MAX_MODULE_BYTES as u64;
        if self.max_module_size == 0 || self.max_module_size > most {
            return Err(invalid(
                "max-module-size",
                &format!(
                    "must be between 1 and {most} bytes (modules travel in one replication frame)"
                ),
            ));
        }
        Ok(())
    }

    /// Whether TLS clients must present certificates, defaults applied.
    pub fn tls_auth_clients(&self) -> TlsAuthClients {
        self.tls_auth_clients
            .unwrap_or(if self.tls_ca_cert_file.is_some() {
                TlsAuthClients::Yes
            } else {
                TlsAuthClients::No
            })
    }

    /// Persistence settings, if a data directory is set and there is
    /// something to persist (a log or save points).
    pub fn persistence(&self) -> Option<crate::persist::PersistConfig> {
        let dir = self.dir.clone()?;
        let save = parse_save(&self.save).ok()?;
        if !self.appendonly && save.is_empty() {
            return None;
        }
        Some(crate::persist::PersistConfig {
            dir,
            dbfilename: self.dbfilename.clone(),
            appendfilename: self.appendfilename.clone(),
            appendonly: self.appendonly,
            appendfsync: self.appendfsync,
            save,
            auto_aof_rewrite_percentage: self.auto_aof_rewrite_percentage,
            auto_aof_rewrite_min_size: self.auto_aof_rewrite_min_size,
        })
    }

    /// The parsed eviction policy.
    pub fn eviction_policy(&self) -> Option<EvictionPolicy> {
        EvictionPolicy::from_name(&self.maxmemory_policy)
    }
}

/// Parses a memory size as Redis does: `1024`, `1k` (1000), `1kb` (1024),
/// `5mb`, `2gb`; case-insensitive.
pub fn parse_memory(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let units: [(&str, u64); 6] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
    ];
    for (suffix, mult) in units {
        if let Some(n) = t.strip_suffix(suffix) {
            return n.parse::<u64>().ok()?.checked_mul(mult);
        }
    }
    t.parse().ok()
}

/// Parses Redis's `save` value: pairs of `<seconds> <changes>`; empty or
/// `""` = no save points.
pub fn parse_save(text: &str) -> Result<Vec<(u64, u64)>, String> {
    let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "\"\"").collect();
    if !words.len().is_multiple_of(2) {
        return Err("save points are pairs of <seconds> <changes>".into());
    }
    words
        .chunks(2)
        .map(|p| match (p[0].parse::<u64>(), p[1].parse::<u64>()) {
            (Ok(s), Ok(c)) => Ok((s, c)),
            _ => Err(format!("invalid save point '{} {}'", p[0], p[1])),
        })
        .collect()
}

fn de_yes_no<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        B(bool),
        S(String),
    }
    match B::deserialize(d)? {
        B::B(b) => Ok(b),
        B::S(s) => match s.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "expected yes or no, not '{s}'"
            ))),
        },
    }
}

fn de_memory<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Mem {
        N(u64),
        S(String),
    }
    match Mem::deserialize(d)? {
        Mem::N(n) => Ok(n),
        Mem::S(s) => parse_memory(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid memory size '{s}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("100MB"), Some(100 * 1024 * 1024));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn toml_settings_parse_and_validate() {
        let c: Config =
            toml::from_str("port = 7000\nmaxmemory = \"10mb\"\nmaxmemory-policy = \"allkeys-lru\"")
                .unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.maxmemory, 10 * 1024 * 1024);
        assert!(c.validate().is_ok());
        let bad: Config = toml::from_str("maxmemory-policy = \"sometimes\"").unwrap();
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<Config>("no-such-setting = 1").is_err());
        let modules: Config = toml::from_str("max-module-size = \"8mb\"").unwrap();
        assert_eq!(modules.max_module_size, 8 * 1024 * 1024);
        assert!(modules.validate().is_ok());
        // A module must fit one replication frame.
        let huge: Config = toml::from_str("max-module-size = \"100mb\"").unwrap();
        assert!(huge.validate().is_err());
    }

    #[test]
    fn security_settings_parse_and_conflicts_are_refused() {
        let c: Config = toml::from_str(
            r#"
            requirepass = "pw"
            user = ["app on >x ~app:* +@read"]
            allow-unauthenticated = true
            tls-port = 6380
            tls-cert-file = "server.pem"
            tls-key-file = "server.key"
            tls-ca-cert-file = "ca.pem"
            admin-token = "0123456789abcdef"
            "#,
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.tls_auth_clients(), TlsAuthClients::Yes);
        assert_eq!(c.user.len(), 1);
        let optional: Config =
            toml::from_str("tls-auth-clients = \"optional\"\ntls-ca-cert-file = \"ca.pem\"")
                .unwrap();
        assert_eq!(optional.tls_auth_clients(), TlsAuthClients::Optional);
        for bad in [
            "aclfile = \"users.acl\"\nrequirepass = \"pw\"",
            "aclfile = \"users.acl\"\nuser = [\"a on\"]",
            "tls-port = 6380",
            "tls-auth-clients = \"yes\"",
            "admin-token = \"short\"",
        ] {
            let c: Config = toml::from_str(bad).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        assert!(toml::from_str::<Config>("tls-auth-clients = \"maybe\"").is_err());
    }

    #[test]
    fn persistence_settings_parse_like_redis() {
        let c: Config = toml::from_str(
            "dir = \"data\"\nappendonly = \"yes\"\nappendfsync = \"always\"\nsave = \"900 1 60 100\"\nauto-aof-rewrite-min-size = \"1mb\"",
        )
        .unwrap();
        assert!(c.validate().is_ok());
        let p = c.persistence().unwrap();
        assert_eq!(p.appendfsync, crate::persist::AppendFsync::Always);
        assert_eq!(p.save, vec![(900, 1), (60, 100)]);
        assert_eq!(p.auto_aof_rewrite_min_size, 1024 * 1024);
        assert!(
            Config::default().persistence().is_none(),
            "off without a dir"
        );
        let off: Config = toml::from_str("dir = \"d\"\nappendonly = false\nsave = \"\"").unwrap();
        assert!(off.persistence().is_none());
        for bad in ["save = \"10\"", "save = \"a b\"", "dbfilename = \"../x\""] {
            let c: Config = toml::from_str(bad).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        assert!(toml::from_str::<Config>("appendfsync = \"sometimes\"").is_err());
    }

    #[test]
    fn replication_peers_parse_and_ids_must_be_unique() {
        let text = r#"
            region-id = 1
            region-name = "us"
            [replication]
            listen = "0.0.0.0:7379"
            ca = "ca.pem"
            cert = "us.pem"
            key = "us.key"
            log-size = "16mb"
            [[replication.peers]]
            id = 2
            name = "eu"
            addr = "eu.example:7379"
        "#;
        let c: Config = toml::from_str(text).unwrap();
        let r = c.replication.as_ref().unwrap();
        assert_eq!(r.log_size, 16 * 1024 * 1024);
        assert_eq!(r.peers[0].name, "eu");
        assert!(c.validate().is_ok());
        let dup: Config = toml::from_str(&text.replace("id = 2", "id = 1")).unwrap();
        assert!(dup.validate().is_err());
    }
}

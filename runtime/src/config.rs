//! Configuration: the TOML file of `meridian serve`, the same settings as
//! command-line flags, and the defaults of `meridian dev`.
//!
//! This module only describes and validates settings; applying them belongs to
//! `server` (listeners) and `engine` (live settings changed by CONFIG SET).

use std::net::IpAddr;
use std::path::Path;

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
        }
    }
}

impl Config {
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
        Ok(())
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
    }
}

//! Snapshot files: the whole keyspace with its replication metadata, as the
//! engine exports it for replication catch-up ([`KeyState`]s), under the
//! applied vector it reflects at least.
//!
//! Layout (framed by `record`): a header record ([`SnapshotHeader`]), key
//! records of up to [`KEYS_PER_RECORD`] states, an end record with the key
//! count. A snapshot is written to a temporary file, synced, and renamed
//! over the old one, so the file of that name is always whole; one without
//! its end record, or with a bad checksum, is refused.
//!
//! Writing visits one shard at a time (`Engine::export_chunk` holds a shard
//! only while it copies a few keys), so the world never stops. The result
//! is fuzzy — keys may reflect changes after `applied` — which is harmless:
//! loading merges the states, and records replayed after it are merged
//! again idempotently.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::record::{self, Records, Tail};
use crate::clock::RegionId;
use crate::crdt::VersionVector;
use crate::engine::Engine;
use crate::engine::change::KeyState;

/// Magic of a snapshot file.
pub const MAGIC: &[u8; 8] = b"MRDNSNP\0";
/// Format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Keys exported per shard visit and per key record.
pub const KEYS_PER_RECORD: usize = 512;

const TAG_HEADER: u8 = 1;
const TAG_KEYS: u8 = 2;
const TAG_END: u8 = 3;

/// What a snapshot says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// The region that wrote it.
    pub region: RegionId,
    /// Every change up to this vector is in its keys.
    pub applied: VersionVector,
    /// The first append-log segment holding transitions after it.
    pub next_segment: u64,
    /// When writing started (Unix ms).
    pub created_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SnapshotEnd {
    keys: u64,
}

/// Why a snapshot could not be written or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a whole, valid snapshot.
    #[error("{path}: corrupt snapshot: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// What writing a snapshot did.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// Keys written.
    pub keys: u64,
    /// Size of the file.
    pub bytes: u64,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether `name` is a snapshot temporary ([`write`] names them
/// `temp-<pid>-<n>.snap`).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with("temp-") && name.ends_with(".snap")
}

/// Writes a snapshot of `engine` under `header` to `path` (through a
/// temporary file in the same directory, renamed into place).
pub fn write(
    engine: &Engine,
    path: &Path,
    header: &SnapshotHeader,
) -> Result<Written, SnapshotError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        "temp-{}-{}.snap",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_to(engine, &temp, header).and_then(|w| {
        let io = |source| SnapshotError::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::rename(&temp, path).map_err(io)?;
        super::sync_dir(dir).map_err(io)?;
        Ok(w)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn write_to(
    engine: &Engine,
    temp: &Path,
    header: &SnapshotHeader,
) -> Result<Written, SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: temp.to_path_buf(),
        source,
    };
    let encode = |v: &dyn erased::Encode| {
        v.encode().map_err(|e| SnapshotError::Corrupt {
            path: temp.to_path_buf(),
            why: format!("cannot encode: {e}"),
        })
    };
    let file = std::fs::File::create(temp).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(64 * 1024);
    buf.extend_from_slice(&record::header(MAGIC, VERSION));
    record::encode(&mut buf, TAG_HEADER, &encode(header)?);
    let mut keys = 0u64;
    let mut bytes = 0u64;
    for shard in 0..engine.keyspace().shard_count() {
        let mut cursor = 0;
        loop {
            let (chunk, next) = engine.export_chunk(shard, cursor, KEYS_PER_RECORD);
            if !chunk.is_empty() {
                keys += chunk.len() as u64;
                record::encode(&mut buf, TAG_KEYS, &encode(&chunk)?);
                out.write_all(&buf).map_err(io)?;
                bytes += buf.len() as u64;
                buf.clear();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    record::encode(&mut buf, TAG_END, &encode(&SnapshotEnd { keys })?);
    out.write_all(&buf).map_err(io)?;
    bytes += buf.len() as u64;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(Written { keys, bytes })
}

/// Object-safe rmp-serde encoding, so one closure encodes every record type.
mod erased {
    pub trait Encode {
        fn encode(&self) -> Result<Vec<u8>, rmp_serde::encode::Error>;
    }
    impl<T: serde::Serialize> Encode for T {
        fn encode(&self) -> Result<Vec<u8>, rmp_serde::encode::Error> {
            rmp_serde::to_vec(self)
        }
    }
}

/// What loading a snapshot found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its header.
    pub header: SnapshotHeader,
    /// Keys merged.
    pub keys: u64,
}

/// How often a long load logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Loads the snapshot at `path` into `engine` (which must be empty and
/// recovering), if the file exists.
pub fn load(engine: &Engine, path: &Path) -> Result<Option<Loaded>, SnapshotError> {
    let file = match std::fs::read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SnapshotError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let corrupt = |why: String| SnapshotError::Corrupt {
        path: path.to_path_buf(),
        why,
    };
    let body = record::check_header(&file, MAGIC, VERSION, "snapshot")
        .map_err(|e| corrupt(e.to_string()))?;
    let mut records = Records::new(body);
    let header: SnapshotHeader = match records.next() {
        Some((TAG_HEADER, p)) => {
            rmp_serde::from_slice(p).map_err(|e| corrupt(format!("header: {e}")))?
        }
        _ => return Err(corrupt("no header record".into())),
    };
    if header.region != engine.region() {
        return Err(corrupt(format!(
            "written by region {}, this is region {}",
            header.region,
            engine.region()
        )));
    }
    let started = Instant::now();
    let mut last_progress = started;
    let mut seen = HashSet::new();
    let mut keys = 0u64;
    let mut end = None;
    for (tag, payload) in records.by_ref() {
        match tag {
            TAG_KEYS if end.is_none() => {
                let states: Vec<KeyState> = rmp_serde::from_slice(payload)
                    .map_err(|e| corrupt(format!("keys after {keys}: {e}")))?;
                keys += states.len() as u64;
                engine.import_chunk(states, &header.applied, &mut seen);
            }
            TAG_END if end.is_none() => {
                let e: SnapshotEnd =
                    rmp_serde::from_slice(payload).map_err(|e| corrupt(format!("end: {e}")))?;
                end = Some(e.keys);
            }
            _ => {
                return Err(corrupt(format!(
                    "unexpected record (tag {tag}) after {keys} keys"
                )));
            }
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            tracing::info!(keys, "loading the snapshot");
        }
    }
    if let Some(Tail::Torn { at, why }) = records.tail() {
        return Err(corrupt(format!(
            "{why} at byte {}",
            at + record::HEADER_LEN
        )));
    }
    match end {
        Some(n) if n == keys => {}
        Some(n) => {
            return Err(corrupt(format!(
                "end record counts {n} keys, file holds {keys}"
            )));
        }
        None => return Err(corrupt("no end record (file cut short)".into())),
    }
    engine.finish_import(&header.applied, &seen);
    tracing::info!(
        keys,
        took_ms = started.elapsed().as_millis() as u64,
        "snapshot loaded"
    );
    Ok(Some(Loaded { header, keys }))
}

//! Start-up recovery: load the snapshot, replay the append-log segments
//! written after it through the engine's own apply paths, and cut a torn
//! tail off with a warning — a record half-written when the process died
//! never stops the server from starting.

use std::path::Path;
use std::time::{Duration, Instant};

use super::PersistError;
use super::aof::{self, segment_name, segment_number};
use super::record::{self, HeaderError, Records, Tail};
use super::snapshot;
use crate::engine::Engine;
use crate::engine::sink::Transition;

/// What recovery found.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Keys the snapshot held (0 without one).
    pub snapshot_keys: u64,
    /// When the snapshot was written (Unix ms), if there was one.
    pub snapshot_ms: Option<u64>,
    /// Records replayed from the log.
    pub records: u64,
    /// Records that could not be applied (logged and skipped).
    pub skipped: u64,
    /// Torn tails cut off.
    pub torn: u64,
    /// The segment the log continues in.
    pub next_segment: u64,
    /// How long it took.
    pub took: Duration,
}

/// Recovers `engine` from `dir`: the snapshot `dbfilename`, then (if
/// `replay_log`) the segments of `appendfilename` from the snapshot's on.
pub fn recover(
    engine: &Engine,
    dir: &Path,
    dbfilename: &str,
    appendfilename: &str,
    replay_log: bool,
) -> Result<Recovered, PersistError> {
    let started = Instant::now();
    let mut out = Recovered::default();
    engine.begin_recovery();
    let first = match snapshot::load(engine, &dir.join(dbfilename))? {
        Some(l) => {
            out.snapshot_keys = l.keys;
            out.snapshot_ms = Some(l.header.created_ms);
            l.header.next_segment
        }
        None => 0,
    };
    remove_stale_temps(dir);
    let mut segments = list_segments(dir, appendfilename)?;
    segments.sort_unstable();
    for &n in segments.iter().filter(|&&n| n < first) {
        // Covered by the snapshot; left by a cleanup that did not finish.
        let _ = std::fs::remove_file(dir.join(segment_name(appendfilename, n)));
    }
    segments.retain(|&n| n >= first);
    if replay_log {
        for &n in &segments {
            replay_segment(engine, &dir.join(segment_name(appendfilename, n)), &mut out)?;
        }
    } else if !segments.is_empty() {
        tracing::warn!(
            segments = segments.len(),
            "appendonly is off: append-log segments newer than the snapshot are not replayed (and are removed by the next snapshot)"
        );
    }
    engine.end_recovery();
    out.next_segment = segments.last().map_or(first, |l| l + 1).max(first).max(1);
    out.took = started.elapsed();
    Ok(out)
}

/// Every segment number of `base` in `dir`.
pub fn list_segments(dir: &Path, base: &str) -> Result<Vec<u64>, PersistError> {
    let io = |source| PersistError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|f| segment_number(base, f))
        {
            out.push(n);
        }
    }
    Ok(out)
}

/// Removes snapshot temporaries a crash left half-written (a snapshot is
/// only ever read under its final name).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if snapshot::is_temp_name(&name.to_string_lossy()) {
            tracing::info!(file = %entry.path().display(), "removing a snapshot temporary left by a crash");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

const PROGRESS_EVERY: Duration = Duration::from_secs(1);

fn replay_segment(engine: &Engine, path: &Path, out: &mut Recovered) -> Result<(), PersistError> {
    let io = |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::read(path).map_err(io)?;
    let body = match record::check_header(&file, aof::MAGIC, aof::VERSION, "append-log segment") {
        Ok(b) => b,
        Err(HeaderError::Short) => {
            tracing::warn!(file = %path.display(), "append-log segment shorter than its header (created just before a crash); ignoring it");
            return Ok(());
        }
        Err(e) => {
            return Err(PersistError::Corrupt {
                path: path.to_path_buf(),
                why: e.to_string(),
            });
        }
    };
    let mut records = Records::new(body);
    let mut last_progress = Instant::now();
    for (tag, payload) in records.by_ref() {
        out.records += 1;
        let result = match Transition::from_tag(tag) {
            Some(kind) => engine.replay(kind, payload),
            None => Err(crate::engine::replica::ApplyError::Decode(format!(
                "unknown record tag {tag}"
            ))),
        };
        if let Err(e) = result {
            out.skipped += 1;
            tracing::warn!(file = %path.display(), error = %e, "skipping an append-log record that cannot be applied");
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            tracing::info!(file = %path.display(), records = out.records, "replaying the append log");
        }
    }
    if let Some(Tail::Torn { at, why }) = records.tail() {
        let keep = (record::HEADER_LEN + at) as u64;
        tracing::warn!(
            file = %path.display(),
            offset = keep,
            cut_bytes = file.len() as u64 - keep,
            reason = why,
            "append log ends in a torn or corrupt record (a write cut short by a crash); cutting it off and starting"
        );
        out.torn += 1;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        f.set_len(keep).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    Ok(())
}

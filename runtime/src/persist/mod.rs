//! Persistence: a region's state survives a restart.
//!
//! One mechanism, the one replication already uses: what is persisted are
//! the engine's own transitions, encoded as peers receive them.
//! - `aof`: the append-only log of every transition applied (local changes,
//!   peers' changes, snapshot imports), fed by the engine's
//!   [`ChangeSink`] and synced per `appendfsync` with group commit.
//! - `snapshot`: the whole keyspace with its replication metadata, exported
//!   shard by shard as for replication catch-up, with the applied vector.
//! - `recovery`: snapshot, then the log segments after it, replayed through
//!   the engine's apply paths; a torn tail is cut off with a warning.
//! - `record`: the checksummed framing both file kinds use.
//! - `modules`: the WASM modules deployed at run time (`modules/`), which
//!   are not keys: one file per component and a manifest.
//!
//! Because the applied vector is restored, a restarted region knows its own
//! changes again: replication's catch-up gate only waits for what peers
//! have beyond it.
//!
//! This module owns the files in the data directory and the background
//! jobs that write them (SAVE, BGSAVE, BGREWRITEAOF, automatic rewrites and
//! save points). It must not know RESP: commands call it and format its
//! answers.

pub mod aof;
pub mod modules;
pub mod record;
pub mod recovery;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use parking_lot::Mutex;

use crate::engine::Engine;
use crate::engine::sink::{ChangeSink, Transition};
use crate::replication::peer::EngineRef;

pub use aof::{AppendFsync, AppendLog};

/// Why persistence failed.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// A file or directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{path}: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The snapshot could not be written or read.
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    /// Persistence needs the engine's replication metadata.
    #[error("the engine keeps no replication metadata to persist")]
    NoMetadata,
}

/// Why a snapshot job did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JobRefused {
    /// One is running.
    #[error("Background save already in progress")]
    InProgress,
    /// The server is going away.
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// Why SAVE did not save.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another job runs.
    #[error(transparent)]
    Refused(#[from] JobRefused),
    /// Writing failed.
    #[error(transparent)]
    Failed(PersistError),
}

/// The claimed job slot; released when dropped.
struct JobSlot<'a>(&'a AtomicBool);

impl Drop for JobSlot<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Persistence settings (the config file's `dir`, `dbfilename`, …).
#[derive(Debug, Clone)]
pub struct PersistConfig {
    /// The data directory.
    pub dir: PathBuf,
    /// Snapshot file name in `dir`.
    pub dbfilename: String,
    /// Base name of the log segments in `dir`.
    pub appendfilename: String,
    /// Whether the append log is kept.
    pub appendonly: bool,
    /// When the log is synced.
    pub appendfsync: AppendFsync,
    /// Save points: snapshot after `secs` seconds if at least `changes`
    /// changes were made.
    pub save: Vec<(u64, u64)>,
    /// Rewrite the log when it grew by this percentage of the last
    /// snapshot's size (0 = never automatically).
    pub auto_aof_rewrite_percentage: u64,
    /// … and is at least this many bytes.
    pub auto_aof_rewrite_min_size: u64,
}

/// Which command (or trigger) a snapshot job serves; they differ only in
/// the status INFO shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// SAVE, BGSAVE, save points, shutdown.
    Save,
    /// BGREWRITEAOF and automatic rewrites.
    Rewrite,
}

/// What INFO persistence shows.
#[derive(Debug, Default)]
struct Status {
    dirty: AtomicU64,
    dirty_at_job_start: AtomicU64,
    last_save_unix: AtomicU64,
    bgsave_in_progress: AtomicBool,
    rewrite_in_progress: AtomicBool,
    rewrite_scheduled: AtomicBool,
    last_bgsave_ok: AtomicBool,
    last_rewrite_ok: AtomicBool,
    saves: AtomicU64,
    rewrites: AtomicU64,
    last_bgsave_secs: AtomicI64,
    last_rewrite_secs: AtomicI64,
    job_started: Mutex<Option<Instant>>,
    /// Snapshot size after the last job (auto-rewrite base).
    base_size: AtomicU64,
    loaded_keys: AtomicU64,
    loaded_records: AtomicU64,
    load_ms: AtomicU64,
    torn_tails: AtomicU64,
    stopping: AtomicBool,
}

/// Persistence of one region (see the module docs).
pub struct Persistence {
    config: PersistConfig,
    log: Option<AppendLog>,
    /// The log segment a snapshot written now would point after (used when
    /// no log is kept, so stale segments are never replayed over a newer
    /// snapshot).
    next_segment: AtomicU64,
    status: Status,
    /// Set while a snapshot job runs (see [`JobSlot`]).
    busy: AtomicBool,
    engine: OnceLock<Weak<dyn EngineRef>>,
    policy_name: Mutex<AppendFsync>,
}

impl std::fmt::Debug for Persistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistence")
            .field("config", &self.config)
            .finish()
    }
}

/// Syncs a directory, so renames and new files in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn unix_secs() -> u64 {
    crate::clock::unix_ms() / 1000
}

impl Persistence {
    /// Recovers `engine` from the data directory (creating it if needed),
    /// opens the log, and makes the engine record every later transition.
    pub fn start(config: PersistConfig, engine: &Engine) -> Result<Arc<Persistence>, PersistError> {
        let Some(replica) = engine.replica() else {
            return Err(PersistError::NoMetadata);
        };
        std::fs::create_dir_all(&config.dir).map_err(|source| PersistError::Io {
            path: config.dir.clone(),
            source,
        })?;
        tracing::info!(dir = %config.dir.display(), appendonly = config.appendonly, "loading persisted state");
        let found = recovery::recover(
            engine,
            &config.dir,
            &config.dbfilename,
            &config.appendfilename,
            config.appendonly,
        )?;
        tracing::info!(
            snapshot_keys = found.snapshot_keys,
            log_records = found.records,
            skipped = found.skipped,
            torn_tails = found.torn,
            took_ms = found.took.as_millis() as u64,
            "persisted state loaded"
        );
        let log = if config.appendonly {
            let log = AppendLog::open(
                &config.dir,
                &config.appendfilename,
                found.next_segment,
                config.appendfsync,
            )
            .map_err(|source| PersistError::Io {
                path: config.dir.clone(),
                source,
            })?;
            Some(log)
        } else {
            None
        };
        let status = Status {
            last_bgsave_ok: AtomicBool::new(true),
            last_rewrite_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_rewrite_secs: AtomicI64::new(-1),
            last_save_unix: AtomicU64::new(
                found.snapshot_ms.map_or_else(unix_secs, |ms| ms / 1000),
            ),
            base_size: AtomicU64::new(
                std::fs::metadata(config.dir.join(&config.dbfilename)).map_or(0, |m| m.len()),
            ),
            loaded_keys: AtomicU64::new(found.snapshot_keys),
            loaded_records: AtomicU64::new(found.records),
            load_ms: AtomicU64::new(found.took.as_millis() as u64),
            torn_tails: AtomicU64::new(found.torn),
            ..Status::default()
        };
        let p = Arc::new(Persistence {
            policy_name: Mutex::new(config.appendfsync),
            config,
            log,
            next_segment: AtomicU64::new(found.next_segment),
            status,
            busy: AtomicBool::new(false),
            engine: OnceLock::new(),
        });
        replica.set_sink(p.clone());
        Ok(p)
    }

    /// Lets background jobs reach the engine (the server's shared state).
    pub fn attach(&self, engine: Weak<dyn EngineRef>) {
        let _ = self.engine.set(engine);
    }

    /// The settings.
    pub fn config(&self) -> &PersistConfig {
        &self.config
    }

    /// The append log, if kept.
    pub fn log(&self) -> Option<&AppendLog> {
        self.log.as_ref()
    }

    /// Waits until the record `seq` is durable per `appendfsync` (a
    /// connection calls this before replying to writes).
    pub async fn wait_durable(&self, seq: u64) {
        if let Some(log) = &self.log {
            log.wait_durable(seq).await;
        }
    }

    /// The sync policy (as set, even without a log).
    pub fn appendfsync(&self) -> AppendFsync {
        *self.policy_name.lock()
    }

    /// Changes the sync policy (CONFIG SET appendfsync).
    pub fn set_appendfsync(&self, p: AppendFsync) {
        *self.policy_name.lock() = p;
        if let Some(log) = &self.log {
            log.set_policy(p);
        }
    }

    /// Claims the one job slot, or says why not.
    fn claim(&self) -> Result<JobSlot<'_>, JobRefused> {
        self.busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| JobSlot(&self.busy))
            .map_err(|_| JobRefused::InProgress)
    }

    /// Writes a snapshot now, on this thread (SAVE, shutdown). Refused
    /// while another job runs.
    pub fn save(&self, engine: &Engine) -> Result<(), SaveError> {
        let _slot = self.claim()?;
        self.run_job(engine, Job::Save).map_err(SaveError::Failed)
    }

    /// Starts a snapshot job on a background thread.
    pub fn start_job(self: &Arc<Self>, job: Job) -> Result<(), JobRefused> {
        if self.status.stopping.load(Ordering::Acquire) {
            return Err(JobRefused::ShuttingDown);
        }
        let Some(shared) = self.engine.get().and_then(Weak::upgrade) else {
            return Err(JobRefused::ShuttingDown);
        };
        // Claimed here, so a second request is refused at once; the thread
        // releases it.
        std::mem::forget(self.claim()?);
        let flag = match job {
            Job::Save => &self.status.bgsave_in_progress,
            Job::Rewrite => &self.status.rewrite_in_progress,
        };
        flag.store(true, Ordering::Release);
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("meridian-snapshot".into())
            .spawn(move || {
                let _slot = JobSlot(&me.busy);
                if let Err(e) = me.run_job(shared.engine(), job) {
                    tracing::error!(error = %e, "background snapshot failed");
                }
            });
        if spawned.is_err() {
            flag.store(false, Ordering::Release);
            self.busy.store(false, Ordering::Release);
            return Err(JobRefused::ShuttingDown);
        }
        Ok(())
    }

    /// Asks for a log rewrite once the running job ends (BGREWRITEAOF
    /// during a BGSAVE).
    pub fn schedule_rewrite(&self) {
        self.status.rewrite_scheduled.store(true, Ordering::Release);
    }

    /// Whether a snapshot job runs.
    pub fn job_running(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// The one snapshot job: rotate the log, write the snapshot, drop the
    /// segments it covers. The caller holds the job slot.
    fn run_job(&self, engine: &Engine, job: Job) -> Result<(), PersistError> {
        let Some(replica) = engine.replica() else {
            return Err(PersistError::NoMetadata);
        };
        let started = Instant::now();
        *self.status.job_started.lock() = Some(started);
        let dirty = self.status.dirty.load(Ordering::Acquire);
        let (segment, applied) = match &self.log {
            Some(log) => log.rotate(|| replica.applied()),
            None => (self.next_segment.load(Ordering::Acquire), replica.applied()),
        };
        let result = (|| {
            if let Some(log) = &self.log
                && !log.wait_rotated(segment)
            {
                return Err(PersistError::Corrupt {
                    path: self.config.dir.clone(),
                    why: "the append log could not start a new segment".into(),
                });
            }
            let header = snapshot::SnapshotHeader {
                region: engine.region(),
                applied,
                next_segment: segment,
                created_ms: crate::clock::unix_ms(),
            };
            let written = snapshot::write(
                engine,
                &self.config.dir.join(&self.config.dbfilename),
                &header,
            )?;
            // Segments before the rotation are in the snapshot now.
            let old = recovery::list_segments(&self.config.dir, &self.config.appendfilename)?;
            for n in old.into_iter().filter(|&n| n < segment) {
                let _ = std::fs::remove_file(
                    self.config
                        .dir
                        .join(aof::segment_name(&self.config.appendfilename, n)),
                );
            }
            Ok(written)
        })();
        let secs = started.elapsed().as_secs() as i64;
        let st = &self.status;
        let ok = result.is_ok();
        match job {
            Job::Save => {
                st.last_bgsave_ok.store(ok, Ordering::Release);
                st.last_bgsave_secs.store(secs, Ordering::Release);
            }
            Job::Rewrite => {
                st.last_rewrite_ok.store(ok, Ordering::Release);
                st.last_rewrite_secs.store(secs, Ordering::Release);
            }
        }
        match &result {
            Ok(w) => {
                // Changes made while writing may or may not be in it; like
                // Redis, count only those made before it started as saved.
                st.dirty.fetch_sub(
                    dirty.min(st.dirty.load(Ordering::Acquire)),
                    Ordering::AcqRel,
                );
                st.last_save_unix.store(unix_secs(), Ordering::Release);
                st.base_size.store(w.bytes, Ordering::Release);
                match job {
                    Job::Save => st.saves.fetch_add(1, Ordering::Relaxed),
                    Job::Rewrite => st.rewrites.fetch_add(1, Ordering::Relaxed),
                };
                tracing::info!(
                    keys = w.keys,
                    bytes = w.bytes,
                    took_ms = started.elapsed().as_millis() as u64,
                    "snapshot written"
                );
            }
            Err(e) => tracing::error!(error = %e, "snapshot failed"),
        }
        st.dirty_at_job_start.store(dirty, Ordering::Release);
        *st.job_started.lock() = None;
        st.bgsave_in_progress.store(false, Ordering::Release);
        st.rewrite_in_progress.store(false, Ordering::Release);
        result.map(|_| ())
    }

    /// Once a second: a scheduled rewrite, an automatic log rewrite when
    /// the log outgrew the last snapshot, or a save point that is due.
    pub fn tick(self: &Arc<Self>) {
        if self.job_running() {
            return;
        }
        let st = &self.status;
        if st.rewrite_scheduled.swap(false, Ordering::AcqRel) {
            let _ = self.start_job(Job::Rewrite);
            return;
        }
        if let Some(log) = &self.log {
            let grown = log.bytes_since_rotation();
            let base = st.base_size.load(Ordering::Acquire).max(1);
            let pct = self.config.auto_aof_rewrite_percentage;
            if pct > 0
                && grown >= self.config.auto_aof_rewrite_min_size
                && grown.saturating_mul(100) / base >= pct
            {
                tracing::info!(
                    log_bytes = grown,
                    snapshot_bytes = base,
                    "the append log outgrew the snapshot; rewriting"
                );
                let _ = self.start_job(Job::Rewrite);
                return;
            }
        }
        let dirty = st.dirty.load(Ordering::Acquire);
        let since = unix_secs().saturating_sub(st.last_save_unix.load(Ordering::Acquire));
        let last_ok = st.last_bgsave_ok.load(Ordering::Acquire);
        for &(secs, changes) in &self.config.save {
            // After a failure, retry no sooner than Redis does (5 s).
            if dirty >= changes && since >= secs && (last_ok || since >= 5) {
                tracing::info!(
                    changes = dirty,
                    seconds = since,
                    "save point reached; saving"
                );
                let _ = self.start_job(Job::Save);
                return;
            }
        }
    }

    /// Shutdown: with save points and no log, a last snapshot (as Redis
    /// does); then the log is written and synced, and closed.
    pub fn shutdown(&self, engine: &Engine) {
        self.status.stopping.store(true, Ordering::Release);
        // A background job finishes first.
        while self.job_running() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if self.log.is_none()
            && !self.config.save.is_empty()
            && let Err(e) = self.save(engine)
        {
            tracing::error!(error = %e, "cannot save the snapshot at shutdown");
        }
        if let Some(log) = &self.log {
            log.close();
        }
    }

    /// INFO persistence fields, in Redis's order and names.
    pub fn info_fields(&self) -> Vec<(&'static str, String)> {
        let st = &self.status;
        let b = |x: bool| if x { "1" } else { "0" }.to_string();
        let ok = |x: bool| if x { "ok" } else { "err" }.to_string();
        let current = st
            .job_started
            .lock()
            .map_or(-1, |s| s.elapsed().as_secs() as i64);
        let bgsave = st.bgsave_in_progress.load(Ordering::Acquire);
        let rewrite = st.rewrite_in_progress.load(Ordering::Acquire);
        let mut v = vec![
            ("loading", "0".to_string()),
            ("async_loading", "0".into()),
            (
                "rdb_changes_since_last_save",
                st.dirty.load(Ordering::Acquire).to_string(),
            ),
            ("rdb_bgsave_in_progress", b(bgsave)),
            (
                "rdb_last_save_time",
                st.last_save_unix.load(Ordering::Acquire).to_string(),
            ),
            (
                "rdb_last_bgsave_status",
                ok(st.last_bgsave_ok.load(Ordering::Acquire)),
            ),
            (
                "rdb_last_bgsave_time_sec",
                st.last_bgsave_secs.load(Ordering::Acquire).to_string(),
            ),
            (
                "rdb_current_bgsave_time_sec",
                if bgsave { current } else { -1 }.to_string(),
            ),
            ("rdb_saves", st.saves.load(Ordering::Relaxed).to_string()),
            (
                "rdb_last_load_keys_loaded",
                st.loaded_keys.load(Ordering::Relaxed).to_string(),
            ),
            ("aof_enabled", b(self.log.is_some())),
            ("aof_rewrite_in_progress", b(rewrite)),
            (
                "aof_rewrite_scheduled",
                b(st.rewrite_scheduled.load(Ordering::Acquire)),
            ),
            (
                "aof_last_rewrite_time_sec",
                st.last_rewrite_secs.load(Ordering::Acquire).to_string(),
            ),
            (
                "aof_current_rewrite_time_sec",
                if rewrite { current } else { -1 }.to_string(),
            ),
            (
                "aof_last_bgrewrite_status",
                ok(st.last_rewrite_ok.load(Ordering::Acquire)),
            ),
            (
                "aof_rewrites",
                st.rewrites.load(Ordering::Relaxed).to_string(),
            ),
            (
                "aof_last_write_status",
                ok(self.log.as_ref().is_none_or(AppendLog::write_ok)),
            ),
            ("module_fork_in_progress", "0".into()),
        ];
        if let Some(log) = &self.log {
            v.push(("aof_current_size", log.bytes_since_rotation().to_string()));
            v.push((
                "aof_base_size",
                st.base_size.load(Ordering::Acquire).to_string(),
            ));
            v.push(("aof_fsync_policy", log.policy().name().to_string()));
            v.push(("aof_current_segment", log.segment().to_string()));
        }
        v.push((
            "loaded_log_records",
            st.loaded_records.load(Ordering::Relaxed).to_string(),
        ));
        v.push((
            "loaded_torn_tails",
            st.torn_tails.load(Ordering::Relaxed).to_string(),
        ));
        v.push((
            "load_time_ms",
            st.load_ms.load(Ordering::Relaxed).to_string(),
        ));
        v
    }

    /// When the last snapshot was written (Unix seconds; LASTSAVE).
    pub fn last_save(&self) -> u64 {
        self.status.last_save_unix.load(Ordering::Acquire)
    }
}

impl ChangeSink for Persistence {
    fn record(&self, kind: Transition, encoded: &[u8]) {
        self.status.dirty.fetch_add(1, Ordering::Relaxed);
        if let Some(log) = &self.log {
            log.append(kind as u8, encoded);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Round trips through the files with engines in one process: what a
    //! region wrote, it has again after recovery, whether it comes from the
    //! log, the snapshot, or both.

    use super::*;
    use crate::clock::RegionId;
    use crate::engine::replica::ReplicaConfig;
    use crate::engine::strings::SetOptions;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            static N: AtomicU64 = AtomicU64::new(0);
            let p = std::env::temp_dir().join(format!(
                "meridian-persist-{name}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            Dir(p)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn config(dir: &Dir, fsync: AppendFsync) -> PersistConfig {
        PersistConfig {
            dir: dir.0.clone(),
            dbfilename: "dump.msnap".into(),
            appendfilename: "log".into(),
            appendonly: true,
            appendfsync: fsync,
            save: Vec::new(),
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
        }
    }

    fn engine() -> Engine {
        Engine::replicated(
            2,
            ReplicaConfig {
                me: RegionId(1),
                peers: Vec::new(),
                log_bytes: 1 << 16,
            },
        )
    }

    fn digest(e: &Engine) -> String {
        e.txn_none().digest().expect("digest").to_string()
    }

    fn write(e: &Engine, from: usize, to: usize) {
        for i in from..to {
            let k = format!("k{i}");
            e.txn_one(k.as_bytes())
                .set(
                    k.as_bytes(),
                    i.to_string().as_bytes(),
                    &SetOptions::default(),
                )
                .expect("set");
        }
        e.txn_one(b"n").incr_by(b"n", 3).expect("incr");
        e.txn_one(b"s")
            .sadd(b"s", [format!("m{from}").as_bytes()])
            .expect("sadd");
    }

    #[test]
    fn log_then_snapshot_then_log_recover_the_same_keyspace() {
        let dir = Dir::new("roundtrip");
        let first = engine();
        let p = Persistence::start(config(&dir, AppendFsync::Always), &first).expect("start");
        write(&first, 0, 100);
        p.save(&first).expect("save");
        write(&first, 100, 150);
        first.txn_one(b"k3").delete(b"k3").expect("del");
        let want = digest(&first);
        let mine = first.replica().expect("replica").applied_of(RegionId(1));
        p.shutdown(&first);

        let second = engine();
        let p2 = Persistence::start(config(&dir, AppendFsync::Always), &second).expect("recover");
        assert_eq!(digest(&second), want);
        let mut t = second.txn_one(b"n");
        let n = t.get(b"n").expect("get").map(<[u8]>::to_vec);
        drop(t);
        assert_eq!(
            n.as_deref(),
            Some(&b"6"[..]),
            "both increments are back once"
        );
        let r = second.replica().expect("replica");
        assert_eq!(r.applied_of(RegionId(1)), mine, "the applied mark is back");
        // New stamps follow the recovered ones (peers would drop older ones).
        write(&second, 150, 151);
        assert!(r.applied_of(RegionId(1)) > mine);
        let want = digest(&second);
        p2.shutdown(&second);

        let third = engine();
        let _p3 = Persistence::start(config(&dir, AppendFsync::No), &third).expect("recover");
        assert_eq!(digest(&third), want);
    }

    #[test]
    fn flushall_and_expiries_come_back_as_they_were() {
        use crate::engine::keys::{ExpireCondition, TtlState};
        let dir = Dir::new("flush");
        let first = engine();
        let p = Persistence::start(config(&dir, AppendFsync::Everysec), &first).expect("start");
        write(&first, 0, 30);
        p.save(&first).expect("save");
        // After the snapshot: a FLUSHALL, new keys, an expiry.
        first.txn_all().flush().expect("flushall");
        write(&first, 30, 40);
        let at = crate::clock::unix_ms() + 3_600_000;
        assert!(
            first
                .txn_one(b"k31")
                .expire_at(b"k31", at, ExpireCondition::Always)
                .expect("expire")
        );
        let want = digest(&first);
        p.shutdown(&first);

        let second = engine();
        let _p2 =
            Persistence::start(config(&dir, AppendFsync::Everysec), &second).expect("recover");
        assert_eq!(digest(&second), want);
        assert_eq!(
            second.txn_one(b"k5").ttl(b"k5").expect("ttl"),
            TtlState::Missing,
            "flushed"
        );
        assert_eq!(
            second.txn_one(b"k31").ttl(b"k31").expect("ttl"),
            TtlState::ExpiresAt(at)
        );
    }

    fn info(p: &Persistence, field: &str) -> String {
        p.info_fields()
            .into_iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// Polls until no snapshot job runs (no time limit: a hang fails the
    /// test run, not a clock).
    fn wait_idle(p: &Persistence) {
        while p.job_running() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_save_point_and_a_grown_log_start_background_jobs() {
        let dir = Dir::new("auto");
        let engine: Arc<Engine> = Arc::new(engine());
        let mut c = config(&dir, AppendFsync::Everysec);
        // Save after 0 s once 5 changes were made.
        c.save = vec![(0, 5)];
        let p = Persistence::start(c, &engine).expect("start");
        let weak: Weak<dyn EngineRef> = Arc::downgrade(&engine) as _;
        p.attach(weak);
        write(&engine, 0, 2);
        p.tick();
        wait_idle(&p);
        assert_eq!(info(&p, "rdb_saves"), "0", "4 changes: not yet");
        write(&engine, 2, 3);
        p.tick();
        wait_idle(&p);
        assert_eq!(info(&p, "rdb_saves"), "1");
        assert_eq!(info(&p, "rdb_changes_since_last_save"), "0");
        assert!(dir.0.join("dump.msnap").exists());
        p.shutdown(&engine);

        // The log outgrew the snapshot: an automatic rewrite.
        let second: Arc<Engine> = Arc::new(super::tests::engine());
        let mut c = config(&dir, AppendFsync::Everysec);
        c.auto_aof_rewrite_percentage = 100;
        c.auto_aof_rewrite_min_size = 1;
        let p = Persistence::start(c, &second).expect("recover");
        let weak: Weak<dyn EngineRef> = Arc::downgrade(&second) as _;
        p.attach(weak);
        // Records reach the file through the writer thread: wait until the
        // log is larger than the snapshot, then tick.
        let base: u64 = info(&p, "aof_base_size").parse().expect("base");
        let mut i = 3;
        while info(&p, "aof_current_size").parse::<u64>().expect("size") <= base {
            write(&second, i, i + 50);
            i += 50;
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        p.tick();
        wait_idle(&p);
        assert_eq!(info(&p, "aof_rewrites"), "1");
        assert_eq!(info(&p, "aof_last_bgrewrite_status"), "ok");
        let want = digest(&second);
        p.shutdown(&second);
        let third = super::tests::engine();
        let _p = Persistence::start(config(&dir, AppendFsync::Everysec), &third).expect("recover");
        assert_eq!(digest(&third), want);
    }

    /// The newest segment holding records, and its length.
    fn last_segment(dir: &Dir) -> (PathBuf, u64) {
        let mut segs = recovery::list_segments(&dir.0, "log").expect("list");
        segs.sort_unstable();
        segs.iter()
            .rev()
            .map(|&n| dir.0.join(aof::segment_name("log", n)))
            .map(|p| {
                let len = std::fs::metadata(&p).expect("segment").len();
                (p, len)
            })
            .find(|(_, len)| *len > record::HEADER_LEN as u64)
            .expect("a segment with records")
    }

    #[test]
    fn a_torn_last_record_is_cut_off_and_the_rest_recovered() {
        let dir = Dir::new("torn");
        let first = engine();
        let p = Persistence::start(config(&dir, AppendFsync::Always), &first).expect("start");
        write(&first, 0, 20);
        let want = digest(&first);
        first
            .txn_one(b"last")
            .set(b"last", b"x", &SetOptions::default())
            .expect("set");
        p.shutdown(&first);
        let (seg, len) = last_segment(&dir);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .expect("open");
        f.set_len(len - 2).expect("tear");
        drop(f);

        let second = engine();
        let p2 = Persistence::start(config(&dir, AppendFsync::Always), &second).expect("recover");
        assert_eq!(digest(&second), want, "everything but the torn record");
        assert!(
            p2.info_fields()
                .contains(&("loaded_torn_tails", "1".to_string())),
            "the cut is reported"
        );
        let cut = std::fs::metadata(&seg).expect("segment").len();
        assert!(cut < len - 2, "the torn bytes are cut off the file");
        p2.shutdown(&second);

        // The cut file reads cleanly now.
        let third = engine();
        let p3 = Persistence::start(config(&dir, AppendFsync::Always), &third).expect("recover");
        assert_eq!(digest(&third), want);
        assert!(
            p3.info_fields()
                .contains(&("loaded_torn_tails", "0".to_string()))
        );
    }

    #[test]
    fn a_damaged_snapshot_is_a_clear_error_not_a_panic() {
        let dir = Dir::new("badsnap");
        let first = engine();
        let p = Persistence::start(config(&dir, AppendFsync::Everysec), &first).expect("start");
        write(&first, 0, 50);
        p.save(&first).expect("save");
        p.shutdown(&first);
        let path = dir.0.join("dump.msnap");
        let good = std::fs::read(&path).expect("snapshot");
        for (what, bytes) in [
            ("cut short", good[..good.len() - 5].to_vec()),
            ("bit flipped", {
                let mut b = good.clone();
                let mid = b.len() / 2;
                b[mid] ^= 0x40;
                b
            }),
            ("not a snapshot", b"REDIS0011 and so on".to_vec()),
            ("empty", Vec::new()),
        ] {
            std::fs::write(&path, &bytes).expect("damage");
            let e =
                Persistence::start(config(&dir, AppendFsync::Everysec), &engine()).expect_err(what);
            assert!(e.to_string().contains("dump.msnap"), "{what}: {e}");
        }
    }

    #[test]
    fn a_snapshot_of_another_region_is_refused() {
        let dir = Dir::new("region");
        let first = engine();
        let p = Persistence::start(config(&dir, AppendFsync::Everysec), &first).expect("start");
        write(&first, 0, 3);
        p.save(&first).expect("save");
        p.shutdown(&first);
        let other = Engine::replicated(
            2,
            ReplicaConfig {
                me: RegionId(2),
                peers: Vec::new(),
                log_bytes: 1 << 16,
            },
        );
        let e = Persistence::start(config(&dir, AppendFsync::Everysec), &other)
            .expect_err("another region's snapshot");
        assert!(e.to_string().contains("written by region"), "{e}");
    }
}

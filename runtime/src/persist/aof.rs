//! `AppendLog`: the append-only log of applied transitions, as numbered
//! segment files `<appendfilename>.<n>` in the data directory.
//!
//! Writers (the engine's sink, under its shard locks) only copy a framed
//! record into an in-memory queue and get a sequence number. The queue is
//! drained with one `write` for everything in it, and per `appendfsync`
//! synced — after every drain (`always`), once a second on a syncer thread
//! of its own so writes never wait behind it (`everysec`), or never (`no`,
//! the kernel decides). A sync covers every record queued before it,
//! however many clients wrote them (group commit). A client's reply waits
//! for the write that covers its records, and with `always` for the sync
//! ([`AppendLog::wait_durable`]).
//!
//! Who drains: with `everysec` and `no`, a waiting client lets the other
//! ready connections queue their records first, then writes the whole queue
//! itself — as Redis writes its log once per event-loop turn — so a reply
//! costs no hand-off to another thread and back. The writer thread drains
//! what nobody else did, and alone carries out `always`, rotations, retries
//! after a failed write and the everysec cadence. Whoever drains holds the
//! writer state lock while it takes records from the queue and writes them,
//! so records reach the file in sequence order.
//!
//! A snapshot [`AppendLog::rotate`]s the log: later records go to a new
//! segment, so the snapshot plus the segments from that one on hold every
//! transition, and older segments can go.
//!
//! This module must not interpret records; recovery reads the segments.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::record;

/// Magic of a log segment.
pub const MAGIC: &[u8; 8] = b"MRDNAOF\0";
/// Format version of log segments this build writes and reads.
pub const VERSION: u32 = 1;

/// When the log is synced to disk (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppendFsync {
    /// Before any write is acknowledged: nothing acknowledged is lost.
    Always,
    /// Once a second: a crash of the machine loses at most about a second
    /// (a crash of the process alone loses nothing acknowledged).
    Everysec,
    /// Never explicitly; the kernel writes back when it likes.
    No,
}

impl AppendFsync {
    /// Parses `always`, `everysec` or `no` (any case).
    pub fn from_name(s: &str) -> Option<AppendFsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(AppendFsync::Always),
            "everysec" => Some(AppendFsync::Everysec),
            "no" => Some(AppendFsync::No),
            _ => None,
        }
    }

    /// The name CONFIG GET shows.
    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::Everysec => "everysec",
            AppendFsync::No => "no",
        }
    }

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(c: u8) -> AppendFsync {
        match c {
            0 => AppendFsync::Always,
            1 => AppendFsync::Everysec,
            _ => AppendFsync::No,
        }
    }
}

/// The name of segment `n` of the log `base`.
pub fn segment_name(base: &str, n: u64) -> String {
    format!("{base}.{n}")
}

/// The segment number of `file` if it is a segment of `base`.
pub fn segment_number(base: &str, file: &str) -> Option<u64> {
    file.strip_prefix(base)?.strip_prefix('.')?.parse().ok()
}

enum Item {
    Data(Vec<u8>),
    Rotate(u64),
}

struct Queue {
    items: Vec<Item>,
    /// Records queued so far (the last one's sequence number).
    seq: u64,
    /// The segment records are queued for now.
    segment: u64,
    /// The writer is waiting for work.
    idle: bool,
    /// When the queue last went from empty to holding records.
    filled_at: Option<Instant>,
    stop: bool,
}

/// What draining the queue needs; locked by whoever drains (lock order:
/// this, then the queue).
struct WriterState {
    seg: Segment,
    /// Sequence number of the last record written.
    written_seq: u64,
    /// Bytes a failed write left to retry (already cut off the file).
    failed: Option<Vec<u8>>,
}

struct Inner {
    dir: PathBuf,
    base: String,
    queue: Mutex<Queue>,
    state: Mutex<WriterState>,
    /// Written since the last sync (set under the queue lock, so the writer
    /// thread cannot miss it when it decides how long to sleep).
    unsynced: AtomicBool,
    /// A write failed and waits in `WriterState::failed` for the writer
    /// thread's retry (set under the queue lock, as `unsynced`).
    failed_pending: AtomicBool,
    wake: Condvar,
    policy: AtomicU8,
    /// Sequence number of the last record synced (`always`) or written
    /// (otherwise): what replies wait for.
    durable: watch::Sender<u64>,
    /// Bytes in segments since the last rotation.
    bytes_since_rotation: AtomicU64,
    write_ok: AtomicBool,
    /// The last rotation the writer carried out: (segment, whether that
    /// segment is now the one written).
    rotated: Mutex<(u64, bool)>,
    rotated_cv: Condvar,
    /// `everysec`: the segment the syncer thread is asked to sync.
    sync_request: Mutex<SyncRequest>,
    sync_cv: Condvar,
    /// A sync was asked of the syncer and has not finished.
    sync_busy: AtomicBool,
    /// The syncer's last sync failed: the writer asks again (set under the
    /// queue lock, so the writer cannot miss it).
    sync_failed: AtomicBool,
}

/// What the syncer thread is asked to do.
#[derive(Default)]
struct SyncRequest {
    file: Option<Arc<File>>,
    stop: bool,
}

/// The append-only log (see the module docs).
pub struct AppendLog {
    inner: Arc<Inner>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for AppendLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendLog")
            .field("dir", &self.inner.dir)
            .field("base", &self.inner.base)
            .finish()
    }
}

thread_local! {
    /// The sequence number of the last record this thread queued, until
    /// taken (see [`take_last_queued`]).
    static LAST_QUEUED: Cell<u64> = const { Cell::new(0) };
}

/// The sequence number of the last record the current thread queued since
/// the last call (0 if none). A connection asks right after running a
/// command on this thread, to know which sync its reply waits for.
pub fn take_last_queued() -> u64 {
    LAST_QUEUED.with(|c| c.replace(0))
}

/// Counts the record `seq`, queued by another thread working for this one
/// (a WASM plugin thread), as queued by this thread.
pub fn adopt_queued(seq: u64) {
    LAST_QUEUED.with(|c| c.set(c.get().max(seq)));
}

impl AppendLog {
    /// Opens segment `segment` of `base` in `dir` (created, or cut to its
    /// header if it exists) and starts the writer thread.
    pub fn open(
        dir: &Path,
        base: &str,
        segment: u64,
        policy: AppendFsync,
    ) -> std::io::Result<AppendLog> {
        let file = create_segment(dir, base, segment)?;
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            base: base.to_string(),
            queue: Mutex::new(Queue {
                items: Vec::new(),
                seq: 0,
                segment,
                idle: false,
                filled_at: None,
                stop: false,
            }),
            state: Mutex::new(WriterState {
                seg: Segment {
                    file: Arc::new(file),
                    len: record::HEADER_LEN as u64,
                },
                written_seq: 0,
                failed: None,
            }),
            unsynced: AtomicBool::new(false),
            failed_pending: AtomicBool::new(false),
            wake: Condvar::new(),
            policy: AtomicU8::new(policy.code()),
            durable: watch::Sender::new(0),
            bytes_since_rotation: AtomicU64::new(0),
            write_ok: AtomicBool::new(true),
            rotated: Mutex::new((segment, true)),
            rotated_cv: Condvar::new(),
            sync_request: Mutex::new(SyncRequest::default()),
            sync_cv: Condvar::new(),
            sync_busy: AtomicBool::new(false),
            sync_failed: AtomicBool::new(false),
        });
        let syncer = inner.clone();
        let syncer = std::thread::Builder::new()
            .name("meridian-aof-sync".into())
            .spawn(move || syncer.run_syncer())?;
        let worker = inner.clone();
        let writer = std::thread::Builder::new()
            .name("meridian-aof".into())
            .spawn(move || {
                worker.run();
                worker.sync_request.lock().stop = true;
                worker.sync_cv.notify_one();
                let _ = syncer.join();
            })?;
        Ok(AppendLog {
            inner,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues one record; returns its sequence number.
    pub fn append(&self, tag: u8, payload: &[u8]) -> u64 {
        let mut q = self.inner.queue.lock();
        if q.items.is_empty() {
            q.filled_at = Some(Instant::now());
        }
        if !matches!(q.items.last(), Some(Item::Data(_))) {
            q.items.push(Item::Data(Vec::with_capacity(4096)));
        }
        if let Some(Item::Data(buf)) = q.items.last_mut() {
            record::encode(buf, tag, payload);
        }
        q.seq += 1;
        let seq = q.seq;
        // Without `always`, the client waiting for this record writes it
        // itself (see the module docs); the writer thread only picks up
        // records nobody waits for, on its own rounds. Waking it for every
        // record would cost a thread switch per reply.
        let wake = q.idle && self.policy() == AppendFsync::Always;
        if wake {
            q.idle = false;
        }
        drop(q);
        if wake {
            self.inner.wake.notify_one();
        }
        LAST_QUEUED.with(|c| c.set(seq));
        seq
    }

    /// Starts a new segment: records queued after this go to it. `read`
    /// runs while no record can be queued, so what it reads (the applied
    /// vector) is exactly what the records before the rotation made.
    /// Returns the new segment's number and what `read` returned.
    pub fn rotate<T>(&self, read: impl FnOnce() -> T) -> (u64, T) {
        let mut q = self.inner.queue.lock();
        q.segment += 1;
        let n = q.segment;
        q.items.push(Item::Rotate(n));
        let value = read();
        q.idle = false;
        drop(q);
        self.inner.wake.notify_one();
        (n, value)
    }

    /// Blocks until the writer has carried out the rotation to `segment`;
    /// false if it could not (records after the rotation are then still in
    /// the previous segment).
    pub fn wait_rotated(&self, segment: u64) -> bool {
        let mut r = self.inner.rotated.lock();
        while r.0 < segment {
            self.inner.rotated_cv.wait(&mut r);
        }
        r.0 == segment && r.1
    }

    /// The segment records are queued for now.
    pub fn segment(&self) -> u64 {
        self.inner.queue.lock().segment
    }

    /// Waits until the record `seq` is durable per the policy: synced with
    /// `always`; written to the file (the kernel holds it, so it survives
    /// a crash of the process) with `everysec` and `no`, as Redis writes
    /// its log before it replies.
    pub async fn wait_durable(&self, seq: u64) {
        if seq == 0 || *self.inner.durable.borrow() >= seq {
            return;
        }
        if self.policy() != AppendFsync::Always {
            // Let the other ready connections queue their records, then
            // write them all from here (see the module docs).
            tokio::task::yield_now().await;
            if *self.inner.durable.borrow() < seq {
                self.inner.drain_here();
            }
        }
        let mut rx = self.inner.durable.subscribe();
        let _ = rx.wait_for(|d| *d >= seq).await;
    }

    /// The sync policy.
    pub fn policy(&self) -> AppendFsync {
        AppendFsync::from_code(self.inner.policy.load(Ordering::Relaxed))
    }

    /// Changes the sync policy (CONFIG SET appendfsync).
    pub fn set_policy(&self, p: AppendFsync) {
        self.inner.policy.store(p.code(), Ordering::Relaxed);
        self.inner.wake.notify_one();
    }

    /// Bytes written to segments since the last rotation.
    pub fn bytes_since_rotation(&self) -> u64 {
        self.inner.bytes_since_rotation.load(Ordering::Relaxed)
    }

    /// Whether the last write (and sync) succeeded.
    pub fn write_ok(&self) -> bool {
        self.inner.write_ok.load(Ordering::Relaxed)
    }

    /// Writes and syncs everything queued, then stops the writer.
    pub fn close(&self) {
        self.inner.queue.lock().stop = true;
        self.inner.wake.notify_one();
        if let Some(w) = self.writer.lock().take() {
            let _ = w.join();
        }
    }
}

impl Drop for AppendLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// Creates (or cuts to its header) segment `n` and syncs the directory so
/// the file's name survives a crash.
fn create_segment(dir: &Path, base: &str, n: u64) -> std::io::Result<File> {
    let path = dir.join(segment_name(base, n));
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    f.write_all(&record::header(MAGIC, VERSION))?;
    f.sync_all()?;
    super::sync_dir(dir)?;
    Ok(f)
}

/// The open segment and how many of its bytes are whole records.
struct Segment {
    file: Arc<File>,
    len: u64,
}

/// How often `everysec` syncs, and how soon the writer looks again when the
/// previous background sync is still running.
const SYNC_EVERY: Duration = Duration::from_secs(1);
const SYNC_RECHECK: Duration = Duration::from_millis(100);
/// Without `always`, how long records may wait in the queue for a client
/// to drain them before the writer thread writes them (records of changes
/// from other regions and other writes no reply waits for).
const ORPHAN_AFTER: Duration = Duration::from_millis(5);

impl Inner {
    /// Writes what is queued from the calling thread (`everysec`, `no`),
    /// unless another thread is draining right now (its write covers ours or
    /// it will drain again) or a rotation, retry or shutdown is pending: the
    /// writer thread does those.
    fn drain_here(&self) {
        let Some(mut st) = self.state.try_lock() else {
            return;
        };
        if self.failed_pending.load(Ordering::Acquire) {
            return;
        }
        let (items, seq) = {
            let mut q = self.queue.lock();
            if q.stop || q.items.iter().any(|i| matches!(i, Item::Rotate(_))) {
                return;
            }
            (std::mem::take(&mut q.items), q.seq)
        };
        let mut pending = Vec::new();
        for item in items {
            if let Item::Data(bytes) = item {
                if pending.is_empty() {
                    pending = bytes;
                } else {
                    pending.extend_from_slice(&bytes);
                }
            }
        }
        let had_data = !pending.is_empty();
        let ok = self.write(&mut st.seg, &pending);
        if ok {
            st.written_seq = seq;
            // Under the state lock, so `durable` never goes back.
            if self.policy.load(Ordering::Relaxed) != AppendFsync::Always.code() {
                self.durable.send_replace(seq);
            }
        } else {
            st.failed = Some(pending);
        }
        if had_data {
            // Tell the writer thread, still under the state lock so no
            // other drain writes ahead of a failed write's retry: a sync is
            // now due in a second, or a retry.
            // Only a change of what the writer sleeps on wakes it: once
            // unsynced, it already sleeps until the sync is due.
            let q = self.queue.lock();
            let changed = if ok {
                !self.unsynced.swap(true, Ordering::AcqRel)
            } else {
                !self.failed_pending.swap(true, Ordering::AcqRel)
            };
            let idle = q.idle;
            drop(q);
            if idle && changed {
                self.wake.notify_one();
            }
        }
    }

    /// The `everysec` syncer: syncs the segment it is handed, off the
    /// writer thread, so writes (and the replies waiting for them) never
    /// queue behind an fsync.
    fn run_syncer(self: Arc<Self>) {
        loop {
            let file = {
                let mut r = self.sync_request.lock();
                loop {
                    if let Some(f) = r.file.take() {
                        break f;
                    }
                    if r.stop {
                        return;
                    }
                    self.sync_cv.wait(&mut r);
                }
            };
            if let Err(e) = file.sync_data() {
                if self.write_ok.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, "cannot sync the append log; retrying");
                }
                let _q = self.queue.lock();
                self.sync_failed.store(true, Ordering::Release);
                self.wake.notify_one();
            }
            self.sync_busy.store(false, Ordering::Release);
        }
    }

    /// Hands `file` to the syncer; false if it is still busy with the last.
    fn sync_in_background(&self, file: &Arc<File>) -> bool {
        if self.sync_busy.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.sync_request.lock().file = Some(file.clone());
        self.sync_cv.notify_one();
        true
    }

    fn run(&self) {
        // When the next sync (everysec) or retry is due.
        let mut sync_due = Instant::now() + SYNC_EVERY;
        loop {
            let stop = {
                let mut q = self.queue.lock();
                loop {
                    if self.sync_failed.swap(false, Ordering::AcqRel) {
                        self.unsynced.store(true, Ordering::Release);
                    }
                    let policy = AppendFsync::from_code(self.policy.load(Ordering::Relaxed));
                    if q.stop
                        || (!q.items.is_empty()
                            && (policy == AppendFsync::Always
                                || q.items.iter().any(|i| matches!(i, Item::Rotate(_)))
                                || q.filled_at.is_none_or(|t| t.elapsed() >= ORPHAN_AFTER)))
                    {
                        break;
                    }
                    if !q.items.is_empty() {
                        // Records a client will drain itself, most likely:
                        // look again once they would count as orphans.
                        q.idle = true;
                        self.wake.wait_for(&mut q, ORPHAN_AFTER);
                        continue;
                    }
                    // A sync is due: the everysec cadence, or a retry after
                    // a failed write or sync.
                    let unsynced = self.unsynced.load(Ordering::Acquire);
                    let retry = self.failed_pending.load(Ordering::Acquire)
                        || (unsynced && policy != AppendFsync::No);
                    if !retry {
                        q.idle = true;
                        if policy == AppendFsync::Always {
                            self.wake.wait(&mut q);
                        } else {
                            // Nobody wakes us for records without `always`.
                            self.wake.wait_for(&mut q, ORPHAN_AFTER);
                        }
                        continue;
                    }
                    let now = Instant::now();
                    if now >= sync_due {
                        break;
                    }
                    q.idle = true;
                    self.wake.wait_for(&mut q, sync_due - now);
                }
                q.idle = false;
                q.stop
            };
            // The state lock first, then the records (see the module docs).
            let mut guard = self.state.lock();
            let st = &mut *guard;
            let (items, seq) = {
                let mut q = self.queue.lock();
                self.failed_pending.store(false, Ordering::Release);
                (std::mem::take(&mut q.items), q.seq)
            };
            let seg = &mut st.seg;
            let mut unsynced = self.unsynced.load(Ordering::Acquire);
            let policy = AppendFsync::from_code(self.policy.load(Ordering::Relaxed));
            let mut pending = st.failed.take().unwrap_or_default();
            for item in items {
                match item {
                    Item::Data(bytes) => pending.extend_from_slice(&bytes),
                    Item::Rotate(n) => {
                        // The old segment is complete and synced before a
                        // snapshot counts on the new one; if it cannot be,
                        // records stay in the old one (the snapshot then
                        // keeps the old segments: see `Persistence`).
                        let mut done = false;
                        let written = self.write(seg, &pending);
                        if written {
                            pending.clear();
                        }
                        if written && self.sync(seg) {
                            match create_segment(&self.dir, &self.base, n) {
                                Ok(f) => {
                                    *seg = Segment {
                                        file: Arc::new(f),
                                        len: record::HEADER_LEN as u64,
                                    };
                                    self.bytes_since_rotation.store(0, Ordering::Relaxed);
                                    unsynced = false;
                                    done = true;
                                }
                                Err(e) => {
                                    tracing::error!(error = %e, segment = n, "cannot create the next append-log segment; writing on in the current one");
                                    self.write_ok.store(false, Ordering::Relaxed);
                                }
                            }
                        }
                        *self.rotated.lock() = (n, done);
                        self.rotated_cv.notify_all();
                    }
                }
            }
            let ok = self.write(seg, &pending);
            if ok {
                st.written_seq = seq;
                unsynced |= !pending.is_empty();
            } else {
                st.failed = Some(pending);
                self.failed_pending.store(true, Ordering::Release);
            }
            let written_seq = st.written_seq;
            // Without `always`, replies wait only for the write.
            if ok && policy != AppendFsync::Always {
                self.durable.send_replace(written_seq);
            }
            let now = Instant::now();
            if unsynced && policy == AppendFsync::Everysec && ok && !stop {
                if now >= sync_due {
                    if self.sync_in_background(&seg.file) {
                        unsynced = false;
                        sync_due = now + SYNC_EVERY;
                    } else {
                        // The last sync still runs (a slow disk): look again
                        // soon rather than queue syncs up.
                        sync_due = now + SYNC_RECHECK;
                    }
                }
            } else if unsynced && (policy == AppendFsync::Always || stop || !ok) {
                sync_due = now + SYNC_EVERY;
                if self.sync(seg) {
                    unsynced = false;
                }
            }
            self.unsynced.store(unsynced, Ordering::Release);
            if ok && !unsynced {
                self.durable.send_replace(written_seq);
            }
            if stop {
                if st.failed.is_some() || unsynced {
                    tracing::error!("append log not fully written at shutdown");
                }
                // Nobody waits for a rotation that will not come.
                *self.rotated.lock() = (u64::MAX, false);
                self.rotated_cv.notify_all();
                return;
            }
        }
    }

    /// Appends `bytes` to the segment. A failed write is cut off again, so
    /// the file never holds part of a record the writer will retry.
    fn write(&self, seg: &mut Segment, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true;
        }
        match (&*seg.file).write_all(bytes) {
            Ok(()) => {
                seg.len += bytes.len() as u64;
                self.bytes_since_rotation
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.write_ok.store(true, Ordering::Relaxed);
                true
            }
            Err(e) => {
                if self.write_ok.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, "cannot write the append log; retrying every second");
                }
                let _ = seg.file.set_len(seg.len);
                let _ = (&*seg.file).seek(SeekFrom::Start(seg.len));
                false
            }
        }
    }

    fn sync(&self, seg: &Segment) -> bool {
        match seg.file.sync_data() {
            Ok(()) => true,
            Err(e) => {
                if self.write_ok.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, "cannot sync the append log");
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records_in(path: &Path) -> Vec<(u8, Vec<u8>)> {
        let bytes = std::fs::read(path).expect("read segment");
        let body = record::check_header(&bytes, MAGIC, VERSION, "segment").expect("header");
        let mut r = record::Records::new(body);
        let out = r.by_ref().map(|(t, p)| (t, p.to_vec())).collect();
        assert_eq!(r.tail(), Some(record::Tail::Clean));
        out
    }

    #[test]
    fn with_everysec_a_record_is_in_the_file_once_its_wait_returns() {
        let dir = std::env::temp_dir().join(format!("meridian-aof-es-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let log = AppendLog::open(&dir, "log", 1, AppendFsync::Everysec).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        for round in 0..3u8 {
            let seq = (0..50u8)
                .map(|i| log.append(1, &[round, i]))
                .last()
                .expect("seq");
            rt.block_on(log.wait_durable(seq));
            // Written (the kernel has it: a crash of the process keeps it),
            // whether or not the once-a-second sync ran yet.
            let got = records_in(&dir.join(segment_name("log", 1)));
            assert_eq!(got.len(), 50 * (usize::from(round) + 1));
            assert_eq!(got.last(), Some(&(1, vec![round, 49])));
        }
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_nobody_waits_for_are_written_by_the_writer_thread() {
        let dir = std::env::temp_dir().join(format!("meridian-aof-orphan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let log = AppendLog::open(&dir, "log", 1, AppendFsync::Everysec).expect("open");
        log.append(1, b"orphan");
        let path = dir.join(segment_name("log", 1));
        let deadline = Instant::now() + Duration::from_secs(30);
        while records_in(&path).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(records_in(&path), vec![(1, b"orphan".to_vec())]);
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn clients_draining_the_queue_themselves_keep_every_record_in_order() {
        let dir = std::env::temp_dir().join(format!("meridian-aof-drain-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let log = Arc::new(AppendLog::open(&dir, "log", 1, AppendFsync::No).expect("open"));
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("runtime");
                    for i in 0..500u16 {
                        let [a, b] = i.to_be_bytes();
                        let seq = log.append(t, &[a, b]);
                        rt.block_on(log.wait_durable(seq));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let got = records_in(&dir.join(segment_name("log", 1)));
        assert_eq!(got.len(), 4 * 500);
        for t in 0..4u8 {
            let mine: Vec<u16> = got
                .iter()
                .filter(|(tag, _)| *tag == t)
                .map(|(_, p)| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            assert_eq!(mine, (0..500).collect::<Vec<_>>(), "thread {t}'s records");
        }
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_land_in_order_and_a_rotation_starts_a_new_segment() {
        let dir = std::env::temp_dir().join(format!("meridian-aof-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let log = AppendLog::open(&dir, "log", 7, AppendFsync::Always).expect("open");
        let seqs: Vec<u64> = (0..3u8).map(|i| log.append(1, &[i; 5])).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert_eq!(take_last_queued(), 3, "this thread queued record 3 last");
        assert_eq!(take_last_queued(), 0, "taken once");
        let (n, read) = log.rotate(|| "read under the queue lock");
        assert_eq!((n, read), (8, "read under the queue lock"));
        assert!(log.wait_rotated(8));
        log.append(2, b"after");
        log.close();
        assert_eq!(*log.inner.durable.borrow(), 4, "every record synced");
        assert_eq!(
            records_in(&dir.join(segment_name("log", 7))),
            (0..3u8).map(|i| (1, vec![i; 5])).collect::<Vec<_>>()
        );
        assert_eq!(
            records_in(&dir.join(segment_name("log", 8))),
            vec![(2, b"after".to_vec())]
        );
        assert_eq!(segment_number("log", "log.8"), Some(8));
        assert_eq!(segment_number("log", "logx.8"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

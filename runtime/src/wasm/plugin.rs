//! Plugin calls: running a library's `describe` (FUNCTION LOAD) and `call`
//! (FCALL, FCALL_RO) exports.
//!
//! The RESP command handlers are synchronous while WASI is asynchronous, so
//! calls run on a few dedicated threads, each with its own single-threaded
//! tokio runtime; the handler waits for the answer (inside
//! `block_in_place`, so the connection worker's other tasks move to another
//! thread). The wait is bounded by the module's deadline (epoch interruption
//! stops the guest), so a plugin call occupies its connection — as a Redis
//! function does — but not the server. Each call gets a fresh instance from the module's `InstancePre`
//! (pooled memory, copy-on-write initialisation), so no state leaks between
//! calls and a trapped instance is simply dropped.

use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tracing::warn;
use wasmtime::Store;

use super::bindings::{Manifest, PluginPre, Reply};
use super::registry::{Failure, Library};
use super::runtime::GuestRuntime;
use super::state::GuestState;
use super::{Sandbox, WasmHost};
use crate::server::Shared;

/// Threads running plugin calls.
const THREADS: usize = 2;
/// Slack over a module's deadline before a waiting handler gives up.
const WAIT_SLACK: Duration = Duration::from_secs(2);

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime) + Send>;

/// Why a plugin call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The function returned an error (its text).
    Guest(String),
    /// The guest trapped, timed out or broke the ABI.
    Failed(Failure),
    /// The runtime could not run the call.
    Unavailable(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Guest(m) => {
                let coded = m
                    .split(' ')
                    .next()
                    .is_some_and(|w| w.len() > 1 && w.bytes().all(|b| b.is_ascii_uppercase()));
                if coded {
                    f.write_str(m)
                } else {
                    write!(f, "ERR {m}")
                }
            }
            CallError::Failed(Failure::Timeout) => {
                f.write_str("ERR Function killed: it ran past its deadline")
            }
            CallError::Failed(Failure::Trap) => {
                f.write_str("ERR Function failed: the module trapped")
            }
            CallError::Failed(Failure::Error) => {
                f.write_str("ERR Function failed: the module misbehaved")
            }
            CallError::Unavailable(m) => write!(f, "ERR WASM runtime unavailable: {m}"),
        }
    }
}

/// The threads plugin calls run on, started on first use.
#[derive(Default)]
pub struct PluginRunner {
    jobs: OnceLock<Mutex<mpsc::Sender<Job>>>,
}

impl PluginRunner {
    /// A runner with no threads yet.
    pub fn new() -> PluginRunner {
        PluginRunner::default()
    }

    fn submit(&self, job: Job) -> Result<(), String> {
        let jobs = self.jobs.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..THREADS {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("wasm-plugin-{i}"))
                    .spawn(move || {
                        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        else {
                            return;
                        };
                        loop {
                            let job = rx.lock().recv();
                            match job {
                                Ok(job) => job(&rt),
                                Err(_) => break,
                            }
                        }
                    });
                if let Err(e) = spawned {
                    warn!(error = %e, "cannot start a plugin thread");
                }
            }
            Mutex::new(tx)
        });
        jobs.lock()
            .send(job)
            .map_err(|_| "plugin threads stopped".to_string())
    }

    /// Runs the future `work` makes on a plugin thread and waits up to
    /// `wait` for its answer.
    fn run<R, F, Fut>(&self, wait: Duration, work: F) -> Result<R, String>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
        R: Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(Box::new(move |rt| {
            // Append-log records the call queues are the caller's: its
            // reply waits for them (see `persist::aof::take_last_queued`).
            crate::persist::aof::take_last_queued();
            let answer = rt.block_on(work());
            let _ = tx.send((answer, crate::persist::aof::take_last_queued()));
        }))?;
        let wait_for_answer = || {
            rx.recv_timeout(wait)
                .map_err(|_| "no answer from the plugin thread".to_string())
        };
        // On a multi-threaded tokio runtime, hand this worker's other tasks
        // to another thread while waiting, so a slow plugin call holds up
        // only its own connection.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let (answer, queued) = if multi_thread {
            tokio::task::block_in_place(wait_for_answer)
        } else {
            wait_for_answer()
        }?;
        crate::persist::aof::adopt_queued(queued);
        Ok(answer)
    }

    /// Runs the library's `describe` export (FUNCTION LOAD).
    pub fn describe(
        &self,
        host: &WasmHost,
        pre: PluginPre<GuestState>,
        sandbox: Arc<Sandbox>,
    ) -> Result<Manifest, String> {
        let shared = host.shared().ok_or("server not running")?;
        let wait = sandbox.deadline + WAIT_SLACK;
        let answer = self.run(wait, move || describe_in(shared, sandbox, pre))?;
        answer.map_err(|e| match Failure::of(&e) {
            Failure::Timeout => "it ran past its deadline".to_string(),
            _ => format!("{e:#}"),
        })
    }

    /// Runs `function` of `library` (FCALL / FCALL_RO with `read_only`).
    pub fn call(
        &self,
        shared: Arc<Shared>,
        library: Arc<Library>,
        function: String,
        keys: Vec<String>,
        args: Vec<Vec<u8>>,
        read_only: bool,
    ) -> Result<Reply, CallError> {
        library
            .stats
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let wait = library.sandbox.deadline + WAIT_SLACK;
        let lib = library.clone();
        let f = function.clone();
        let started = std::time::Instant::now();
        let answer = self
            .run(wait, move || call_in(shared, lib, f, keys, args, read_only))
            .map_err(CallError::Unavailable)?;
        library.stats.latency.record(started.elapsed());
        match answer {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(message)) => {
                library.stats.fail(Failure::Error);
                Err(CallError::Guest(message))
            }
            Err(e) => {
                let failure = Failure::of(&e);
                library.stats.fail(failure);
                warn!(
                    library = %library.name,
                    function = %function,
                    failure = failure.label(),
                    error = %format!("{e:#}"),
                    "plugin call failed"
                );
                Err(CallError::Failed(failure))
            }
        }
    }
}

/// Runs `call` for at most `limit` of wall-clock time. Epoch interruption
/// stops a guest that computes too long; this stops one that waits too long
/// inside the host (a stream nobody reads, a sleep), so its instance is
/// freed either way. Running out of time is reported as the epoch deadline
/// trap, so both count as timeouts.
pub async fn within<T>(
    limit: Duration,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r,
        Err(_) => Err(wasmtime::Error::new(wasmtime::Trap::Interrupt)),
    }
}

/// Wall-clock allowance over a module's deadline (see [`within`]).
pub const WALL_SLACK: Duration = Duration::from_millis(500);

async fn describe_in(
    shared: Arc<Shared>,
    sandbox: Arc<Sandbox>,
    pre: PluginPre<GuestState>,
) -> wasmtime::Result<Manifest> {
    let limit = sandbox.deadline + WALL_SLACK;
    let mut store = new_store(shared, sandbox, true)?;
    within(limit, async {
        let plugin = pre.instantiate_async(&mut store).await?;
        plugin
            .meridian_cache_library()
            .call_describe(&mut store)
            .await
    })
    .await
}

async fn call_in(
    shared: Arc<Shared>,
    library: Arc<Library>,
    function: String,
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
    read_only: bool,
) -> wasmtime::Result<Result<Reply, String>> {
    let limit = library.sandbox.deadline + WALL_SLACK;
    let mut store = new_store(shared, library.sandbox.clone(), read_only)?;
    within(limit, async {
        let plugin = library.pre.instantiate_async(&mut store).await?;
        plugin
            .meridian_cache_library()
            .call_call(&mut store, &function, &keys, &args)
            .await
    })
    .await
}

/// A store for one call under `sandbox`: its memory limit and its deadline.
pub fn new_store(
    shared: Arc<Shared>,
    sandbox: Arc<Sandbox>,
    read_only: bool,
) -> wasmtime::Result<Store<GuestState>> {
    let rt = GuestRuntime::global().map_err(wasmtime::Error::msg)?;
    let ticks = sandbox.deadline_ticks();
    let mut store = Store::new(rt.engine(), GuestState::new(shared, sandbox, read_only));
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();
    Ok(store)
}

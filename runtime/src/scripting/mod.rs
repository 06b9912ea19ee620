//! Lua scripting for legacy Redis clients: EVAL, EVALSHA and SCRIPT, with the
//! semantics of Redis 7 (Lua 5.1, its sandbox, its conversion rules and
//! error texts).
//!
//! A script is a front end like the RESP gateway itself: it runs inside one
//! all-shards [`Txn`](crate::engine::Txn), so no other command interleaves and
//! its writes replicate as one change (effects replication); every
//! `redis.call` goes through the RESP command table against that
//! transaction ([`call`]), so commands behave exactly as they do for
//! clients. This module must not implement any command itself.
//!
//! One Lua interpreter serves the whole server ([`Vm`], created on first
//! use): scripts hold every shard, so they run one at a time anyway.
//! [`ScriptControl`] is what other connections see of a running script
//! (BUSY, SCRIPT KILL).

mod bit;
pub mod call;
mod cjson;
mod cmsgpack;
pub mod control;
pub mod convert;
mod luastruct;
mod shebang;
mod vm;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use sha1::Digest;

pub use control::{KillOutcome, ScriptControl};
pub use vm::{Dispatch, Vm};

use crate::resp::Reply;

/// The SHA1 of a script's source as 40 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha([u8; 40]);

impl Sha {
    /// The SHA1 of `source`.
    pub fn of(source: &[u8]) -> Sha {
        let digest = sha1::Sha1::digest(source);
        let mut out = [0u8; 40];
        for (i, b) in digest.iter().enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 15) as usize];
        }
        Sha(out)
    }

    /// Parses a client-given SHA1 (any case); `None` if it cannot be one.
    pub fn parse(text: &[u8]) -> Option<Sha> {
        if text.len() != 40 || !text.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut out = [0u8; 40];
        for (d, s) in out.iter_mut().zip(text) {
            *d = s.to_ascii_lowercase();
        }
        Some(Sha(out))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `redis.sha1hex`: the SHA1 of `data` in lowercase hex.
pub fn sha1_hex(data: &[u8]) -> String {
    Sha::of(data).as_str().to_string()
}

/// Why a script did not run.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// EVALSHA of an unknown SHA1.
    #[error("NOSCRIPT No matching script. Please use EVAL.")]
    NoScript,
    /// The source does not compile (the message is Redis's line).
    #[error("{0}")]
    Compile(String),
    /// The script may not run this way (a writing script under EVAL_RO).
    #[error("{0}")]
    Refused(&'static str),
    /// The interpreter itself failed (out of memory, a broken sandbox).
    #[error("ERR Error running script: {0}")]
    Lua(#[from] mlua::Error),
}

/// Which script EVAL-like commands name.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// EVAL: the source itself.
    Text(&'a [u8]),
    /// EVALSHA: a SHA1 given by the client.
    Sha(&'a [u8]),
}

/// The scripting state of one server: its interpreter and the running
/// script's control.
pub struct Scripts {
    control: Arc<ScriptControl>,
    vm: Mutex<Option<Vm>>,
    /// Bytes the interpreter holds, as of the last script or load (INFO
    /// reads it without waiting for a running script).
    lua_bytes: AtomicUsize,
    /// Scripts in the cache, likewise.
    cached: AtomicUsize,
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts")
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

impl Scripts {
    /// Scripting with a `busy-reply-threshold` of `threshold_ms`.
    pub fn new(threshold_ms: u64) -> Scripts {
        Scripts {
            control: Arc::new(ScriptControl::new(threshold_ms)),
            vm: Mutex::new(None),
            lua_bytes: AtomicUsize::new(0),
            cached: AtomicUsize::new(0),
        }
    }

    /// The running script's control (BUSY gate, SCRIPT KILL, threshold).
    pub fn control(&self) -> &ScriptControl {
        &self.control
    }

    fn with_vm<R>(
        &self,
        f: impl FnOnce(&mut Vm) -> Result<R, ScriptError>,
    ) -> Result<R, ScriptError> {
        let mut guard = self.vm.lock();
        let vm = match guard.as_mut() {
            Some(vm) => vm,
            None => guard.insert(Vm::new(self.control.clone())?),
        };
        let result = f(vm);
        self.lua_bytes.store(vm.used_memory(), Ordering::Relaxed);
        self.cached.store(vm.cached(), Ordering::Relaxed);
        result
    }

    /// INFO figures: bytes the Lua interpreter holds and scripts cached.
    pub fn stats(&self) -> (usize, usize) {
        (
            self.lua_bytes.load(Ordering::Relaxed),
            self.cached.load(Ordering::Relaxed),
        )
    }

    /// SCRIPT LOAD: compiles and keeps `source`; returns its SHA1.
    pub fn load(&self, source: &[u8]) -> Result<Sha, ScriptError> {
        let sha = Sha::of(source);
        self.with_vm(|vm| vm.load(sha, source))?;
        Ok(sha)
    }

    /// SCRIPT EXISTS for one SHA1.
    pub fn exists(&self, sha: &[u8]) -> bool {
        let Some(sha) = Sha::parse(sha) else {
            return false;
        };
        self.vm.lock().as_ref().is_some_and(|vm| vm.exists(&sha))
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh interpreter, as
    /// Redis does.
    pub fn flush(&self) {
        *self.vm.lock() = None;
        self.lua_bytes.store(0, Ordering::Relaxed);
        self.cached.store(0, Ordering::Relaxed);
    }

    /// Runs a script. The caller holds every shard (through `dispatch`), so
    /// the script is atomic; its answer goes to `out`.
    pub fn run(
        &self,
        source: Source<'_>,
        keys: &[&[u8]],
        argv: &[&[u8]],
        dispatch: &mut dyn Dispatch,
        out: &mut Reply,
    ) -> Result<(), ScriptError> {
        self.with_vm(|vm| {
            let sha = match source {
                Source::Text(text) => {
                    let sha = Sha::of(text);
                    vm.load(sha, text)?;
                    sha
                }
                Source::Sha(given) => match Sha::parse(given) {
                    Some(sha) if vm.exists(&sha) => sha,
                    _ => return Err(ScriptError::NoScript),
                },
            };
            let _running = Running::begin(&self.control);
            let result = off_the_runtime(|| vm.run(&sha, keys, argv, &self.control, dispatch, out));
            vm.collect();
            result
        })
    }
}

/// Marks the script as running for other connections until dropped (also
/// when the run fails).
struct Running<'a>(&'a ScriptControl);

impl<'a> Running<'a> {
    fn begin(control: &'a ScriptControl) -> Running<'a> {
        control.begin();
        Running(control)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Runs `f` after handing this worker's other tasks to another thread, so a
/// long script never stalls the connections that share its worker (they must
/// stay able to send SCRIPT KILL). Outside a multi-threaded runtime it just
/// runs `f`.
fn off_the_runtime<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_matches_redis() {
        // SCRIPT LOAD "return 1" on redis-server 7.0.
        assert_eq!(
            Sha::of(b"return 1").as_str(),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            Sha::parse(b"E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"),
            Some(Sha::of(b"return 1"))
        );
        assert_eq!(Sha::parse(b"fff"), None);
    }
}

//! `redis.call` against the command table: a script's command is checked as
//! Redis checks commands called from scripts (unknown, arity, not allowed in
//! scripts, writes from read-only scripts, OOM), then run by the same handler
//! a client's command runs, inside the script's all-shards transaction; its
//! reply is decoded back into a [`Frame`] for conversion to Lua.
//!
//! This is the only place scripts reach the keyspace, and it adds no command
//! logic of its own.

use crate::acl::permission::Denied;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::ScriptControl;
use super::vm::Dispatch;
use crate::engine::Txn;
use crate::resp::command::{self, CommandSpec, flags};
use crate::resp::frame::{self, Frame, FrameLimits};
use crate::resp::{Proto, Reply, Request, Session};

/// Commands a script may not call (Redis's `noscript` flag, by name, plus
/// every blocking command, and the lock commands that wait for other
/// regions).
const NOT_IN_SCRIPTS: &[&str] = &[
    "acl",
    "auth",
    "bgrewriteaof",
    "bgsave",
    "client",
    "config",
    "debug",
    "discard",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "exec",
    "failover",
    "fcall",
    "fcall_ro",
    "function",
    "hello",
    "latency",
    "lock.acquire",
    "lock.release",
    "lock.renew",
    "module",
    "monitor",
    "multi",
    "psubscribe",
    "psync",
    "punsubscribe",
    "quit",
    "replconf",
    "replicaof",
    "reset",
    "role",
    "save",
    "script",
    "shutdown",
    "slaveof",
    "ssubscribe",
    "subscribe",
    "sunsubscribe",
    "sync",
    "unsubscribe",
    "unwatch",
    "wait",
    "watch",
];

/// True if scripts may not call `spec`.
pub fn denied_in_scripts(spec: &CommandSpec) -> bool {
    spec.has(flags::BLOCKING) || NOT_IN_SCRIPTS.contains(&spec.name)
}

/// The script's caller: its transaction (holding every shard) and session.
pub struct ScriptCaller<'a, 'e> {
    txn: &'a mut Txn<'e>,
    session: &'a mut Session<'e>,
    control: &'a ScriptControl,
    read_only: bool,
    /// Set if memory could not be made under `maxmemory` before the script:
    /// commands that may grow memory then fail with this error line.
    oom: Option<String>,
    buf: Reply,
}

impl<'a, 'e> ScriptCaller<'a, 'e> {
    /// A caller for a script run in `txn` (which must hold every shard).
    pub fn new(
        txn: &'a mut Txn<'e>,
        session: &'a mut Session<'e>,
        control: &'a ScriptControl,
        read_only: bool,
        oom: Option<String>,
    ) -> ScriptCaller<'a, 'e> {
        ScriptCaller {
            txn,
            session,
            control,
            read_only,
            oom,
            buf: Reply::new(Proto::Resp2),
        }
    }
}

impl Dispatch for ScriptCaller<'_, '_> {
    fn call(&mut self, args: Vec<Vec<u8>>, resp3: bool) -> Result<Frame, String> {
        let req = Request::from_args(&args);
        let Some((index, spec)) = command::table().lookup(req.arg(0)) else {
            return Err("ERR Unknown Redis command called from script".into());
        };
        if !spec.arity_ok(req.len()) {
            return Err("ERR Wrong number of args calling Redis command from script".into());
        }
        if denied_in_scripts(spec) {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        // A script runs with its caller's permissions (Redis 7's texts).
        if !self.session.identity.unrestricted()
            && let Err(denied) = self.session.identity.user().check(spec, index, &req)
        {
            let stats = &self.session.shared().acl.stats;
            let (counter, line) = match denied {
                Denied::Command => (
                    &stats.denied_cmd,
                    "ERR The user executing the script can't run this command or subcommand",
                ),
                Denied::Key(_) => (
                    &stats.denied_key,
                    "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments",
                ),
                Denied::Channel(_) => (
                    &stats.denied_channel,
                    "ERR The user executing the script can't publish to the channel mentioned in the command",
                ),
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(line.into());
        }
        if spec.has(flags::WRITE) {
            if self.read_only {
                return Err("ERR Write commands are not allowed from read-only scripts.".into());
            }
            if spec.has(flags::DENYOOM)
                && let Some(oom) = &self.oom
            {
                return Err(oom.clone());
            }
            // A region catching up after a restart takes no writes, from
            // scripts either (see `Engine::check_writable`).
            if let Err(e) = self.session.engine().check_writable() {
                return Err(e.to_string());
            }
            // From here on SCRIPT KILL would leave a half-done script.
            self.control.note_write();
        }
        // Commands with computed keys validate their arguments there.
        if let Err(e) = spec.keys.indices(&req) {
            return Err(e.to_string());
        }
        self.buf.clear();
        self.buf
            .set_proto(if resp3 { Proto::Resp3 } else { Proto::Resp2 });
        let started = Instant::now();
        command::run_in(spec, self.txn, self.session, &mut self.buf, &req)
            .answer_now(&mut self.buf);
        // Counted in INFO commandstats and total_commands_processed, as Redis
        // counts the commands scripts call.
        let stats = &self.session.shared().stats;
        stats.record_latency(index, started.elapsed());
        stats.commands.fetch_add(1, Ordering::Relaxed);
        match frame::decode(self.buf.bytes(), &FrameLimits::DEFAULT) {
            Ok(Some((frame, _))) => Ok(frame),
            // A handler always writes one complete reply.
            _ => Err("ERR command produced no valid reply".into()),
        }
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn deny_writes(&mut self) {
        self.read_only = true;
    }
}

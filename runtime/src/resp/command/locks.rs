//! Lock commands: LOCK.ACQUIRE, LOCK.RENEW, LOCK.RELEASE and LOCK.INFO
//! (leases with fencing tokens, see `crate::locks` and docs/locks.md).
//!
//! Handlers only parse. The three that may wait — for a turn in a lock's
//! queue or for other regions' votes — return [`Flow::Lock`] with the
//! parsed [`LockCall`]; the connection awaits [`run`] while it watches the
//! client, so a client that disconnects leaves the queue at once. These
//! commands are refused inside MULTI and scripts: a transaction must not
//! wait on other regions.

use std::time::Duration;

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::locks::{Locks, Scope};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// A parsed lock command that may wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockCall {
    /// LOCK.ACQUIRE.
    Acquire {
        /// Scope.
        scope: Scope,
        /// Lock name.
        name: Vec<u8>,
        /// Lease length.
        ttl: Duration,
        /// How long to queue; `None`: do not wait.
        wait: Option<Duration>,
    },
    /// LOCK.RENEW.
    Renew {
        /// Scope.
        scope: Scope,
        /// Lock name.
        name: Vec<u8>,
        /// The holder's token.
        token: u64,
        /// New lease length.
        ttl: Duration,
    },
    /// LOCK.RELEASE.
    Release {
        /// Scope.
        scope: Scope,
        /// Lock name.
        name: Vec<u8>,
        /// The holder's token.
        token: u64,
    },
}

/// What a lock command answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockReply {
    /// An integer (a token, or 1/0).
    Int(i64),
    /// Nil: the lock stayed busy.
    Nil,
}

/// Runs a lock call to its end.
pub async fn run(call: LockCall, locks: &Locks) -> Result<LockReply, CmdError> {
    let fail = |e: crate::locks::LockError| CmdError::msg(e.to_string());
    Ok(match call {
        LockCall::Acquire {
            scope,
            name,
            ttl,
            wait,
        } => match locks.acquire(scope, &name, ttl, wait).await.map_err(fail)? {
            Some(g) => LockReply::Int(token_reply(g.token)),
            None => LockReply::Nil,
        },
        LockCall::Renew {
            scope,
            name,
            token,
            ttl,
        } => {
            let renewed = locks.renew(scope, &name, token, ttl).await.map_err(fail)?;
            LockReply::Int(i64::from(renewed.is_some()))
        }
        LockCall::Release { scope, name, token } => {
            LockReply::Int(i64::from(locks.release(scope, &name, token).await))
        }
    })
}

/// Tokens count grants, far below `i64::MAX`; saturate rather than wrap.
fn token_reply(token: u64) -> i64 {
    i64::try_from(token).unwrap_or(i64::MAX)
}

/// A lease length in milliseconds: a positive integer.
fn ttl_arg(arg: &[u8]) -> Result<Duration, CmdError> {
    match args::int(arg)? {
        ms if ms > 0 => Ok(Duration::from_millis(ms as u64)),
        _ => Err(CmdError::msg(
            "ERR invalid lock ttl: must be a positive integer",
        )),
    }
}

/// A fencing token: a non-negative integer.
fn token_arg(arg: &[u8]) -> Result<u64, CmdError> {
    args::uint(arg)
}

/// `[GLOBAL|LOCAL]` alone, from argument `from` on.
fn scope_only(req: &Request, from: usize) -> Result<Scope, CmdError> {
    match req.len() - from {
        0 => Ok(Scope::Local),
        1 if is(req.arg(from), "global") => Ok(Scope::Global),
        1 if is(req.arg(from), "local") => Ok(Scope::Local),
        _ => Err(CmdError::Syntax),
    }
}

fn validate(scope: Scope, ttl: Duration) -> Result<(), CmdError> {
    crate::locks::check_ttl(scope, ttl).map_err(|e| CmdError::msg(e.to_string()))
}

/// LOCK.ACQUIRE name ttl-ms [GLOBAL|LOCAL] [WAIT ms]
fn acquire(_ctx: &mut Ctx, req: &Request) -> R {
    let ttl = ttl_arg(req.arg(2))?;
    let mut scope = None;
    let mut wait = None;
    let mut i = 3;
    while i < req.len() {
        let a = req.arg(i);
        if is(a, "global") && scope.is_none() {
            scope = Some(Scope::Global);
        } else if is(a, "local") && scope.is_none() {
            scope = Some(Scope::Local);
        } else if is(a, "wait") && wait.is_none() && i + 1 < req.len() {
            let ms = args::int(req.arg(i + 1))?;
            if ms < 0 {
                return Err(CmdError::msg("ERR timeout is negative"));
            }
            // As BLPOP's timeout: 0 waits without limit.
            wait = Some(match ms {
                0 => Duration::MAX,
                ms => Duration::from_millis(ms as u64),
            });
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let scope = scope.unwrap_or(Scope::Local);
    validate(scope, ttl)?;
    Ok(Flow::Lock(Box::new(LockCall::Acquire {
        scope,
        name: req.arg(1).to_vec(),
        ttl,
        wait,
    })))
}

/// LOCK.RENEW name token ttl-ms [GLOBAL|LOCAL]
fn renew(_ctx: &mut Ctx, req: &Request) -> R {
    let token = token_arg(req.arg(2))?;
    let ttl = ttl_arg(req.arg(3))?;
    let scope = scope_only(req, 4)?;
    validate(scope, ttl)?;
    Ok(Flow::Lock(Box::new(LockCall::Renew {
        scope,
        name: req.arg(1).to_vec(),
        token,
        ttl,
    })))
}

/// LOCK.RELEASE name token [GLOBAL|LOCAL]
fn release(_ctx: &mut Ctx, req: &Request) -> R {
    let token = token_arg(req.arg(2))?;
    let scope = scope_only(req, 3)?;
    Ok(Flow::Lock(Box::new(LockCall::Release {
        scope,
        name: req.arg(1).to_vec(),
        token,
    })))
}

/// LOCK.INFO name [GLOBAL|LOCAL]
fn info(ctx: &mut Ctx, req: &Request) -> R {
    let scope = scope_only(req, 2)?;
    let engine = ctx.txn.engine();
    let locks = engine.locks();
    let i = locks.info(scope, req.arg(1));
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"scope");
    out.bulk(match scope {
        Scope::Local => b"local",
        Scope::Global => b"global",
    });
    out.bulk(b"token");
    match i.token {
        Some(t) => out.int(token_reply(t)),
        None => out.null(),
    }
    out.bulk(b"ttl-ms");
    out.int(
        i.remaining
            .map_or(-2, |d| d.as_millis().min(i64::MAX as u128) as i64),
    );
    out.bulk(b"last-token");
    out.int(token_reply(i.last_token));
    out.bulk(b"fence-token");
    out.int(token_reply(i.fence));
    out.bulk(b"waiters");
    out.int(i.waiters as i64);
    Ok(Flow::Done)
}

/// The lock commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lock.acquire", -3, WRITE | BLOCKING | NO_MULTI, KeySpec::FIRST, acquire).doc(
        "lock",
        "Acquires a lease on a lock (local or global) and returns its fencing token; nil if it stays held.",
    ),
    CommandSpec::new("lock.renew", -4, WRITE | NO_MULTI, KeySpec::FIRST, renew).doc(
        "lock",
        "Extends a lease still held with the given token. Returns 1, or 0 if it is not held.",
    ),
    CommandSpec::new("lock.release", -3, WRITE | NO_MULTI, KeySpec::FIRST, release).doc(
        "lock",
        "Releases the lease held with the given token. Returns 1, or 0 if it was not held.",
    ),
    CommandSpec::new("lock.info", -2, READONLY | FAST, KeySpec::FIRST, info).doc(
        "lock",
        "Returns what this region knows about a lock: live token, remaining ttl, last token, fence token, waiters.",
    ),
];

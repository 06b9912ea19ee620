//! MIGRATE: moves keys to another node, as Redis does when a slot moves
//! between the nodes of a sharded region (`redis-cli --cluster reshard`
//! calls it for each batch of a slot's keys).
//!
//! The command holds its keys' shards for the whole exchange: the keys are
//! serialized (DUMP's format), sent as `RESTORE-ASKING` to the target over a
//! fresh connection, and deleted here only once the target answered OK for
//! them. No write to those keys can land here in between and be lost; a
//! command that arrives afterwards finds them gone and is sent to the target
//! (`ASK`, see `command::cluster`). Like Redis's, it blocks its caller (and
//! the shards it holds) for the round trip, bounded by its timeout.

use std::time::Duration;

use redis::{ConnectionAddr, Value};
use smallvec::SmallVec;

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::keys::TtlState;
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// MIGRATE's options, after `destination-db timeout`.
#[derive(Default)]
struct Options {
    copy: bool,
    replace: bool,
    auth: Option<(Option<String>, String)>,
    /// Index of the first key after `KEYS`, if given.
    keys_from: Option<usize>,
}

fn options(req: &Request) -> Result<Options, CmdError> {
    let mut o = Options::default();
    let mut i = 6;
    let text = |i: usize| String::from_utf8_lossy(req.arg(i)).into_owned();
    while i < req.len() {
        let a = req.arg(i);
        if is(a, "copy") {
            o.copy = true;
        } else if is(a, "replace") {
            o.replace = true;
        } else if is(a, "auth") && i + 1 < req.len() {
            o.auth = Some((None, text(i + 1)));
            i += 1;
        } else if is(a, "auth2") && i + 2 < req.len() {
            o.auth = Some((Some(text(i + 1)), text(i + 2)));
            i += 2;
        } else if is(a, "keys") {
            if !req.arg(3).is_empty() {
                return Err(CmdError::msg(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to an empty string",
                ));
            }
            o.keys_from = Some(i + 1);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// The key arguments: the third, or everything after `KEYS`.
fn migrate_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    if req.len() < 6 {
        return Err(CmdError::Arity("migrate".into()));
    }
    let o = options(req)?;
    Ok(match o.keys_from {
        Some(first) => (first..req.len()).collect(),
        None if req.arg(3).is_empty() => SmallVec::new(),
        None => smallvec::smallvec![3],
    })
}

fn migrate(ctx: &mut Ctx, req: &Request) -> R {
    let host = String::from_utf8_lossy(req.arg(1)).into_owned();
    let port = u16::try_from(args::int(req.arg(2))?).map_err(|_| CmdError::NotInteger)?;
    if args::int(req.arg(4))? != 0 {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    let timeout = match args::int(req.arg(5))? {
        t if t <= 0 => Duration::from_secs(1),
        t => Duration::from_millis(t as u64),
    };
    let o = options(req)?;
    let now = ctx.txn.now_ms();
    // (key, TTL left in ms or 0, payload) of each key still here.
    let mut moving = Vec::new();
    for i in migrate_keys(req)? {
        let key = req.arg(i);
        let Some(payload) = ctx.txn.dump(key)? else {
            continue;
        };
        let ttl = match ctx.txn.ttl(key)? {
            TtlState::ExpiresAt(at) => at.saturating_sub(now).max(1),
            _ => 0,
        };
        moving.push((key, ttl, payload));
    }
    if moving.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(Flow::Done);
    }

    let target = ConnectionAddr::Tcp(host, port);
    fn io(what: &'static str) -> impl Fn(redis::RedisError) -> CmdError {
        move |e| {
            CmdError::msg(format!(
                "IOERR error or timeout {what} target instance: {e}"
            ))
        }
    }
    let client = redis::Client::open(target).map_err(io("connecting to"))?;
    let mut conn = client
        .get_connection_with_timeout(timeout)
        .map_err(io("connecting to"))?;
    conn.set_read_timeout(Some(timeout))
        .and_then(|_| conn.set_write_timeout(Some(timeout)))
        .map_err(io("connecting to"))?;
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    if let Some((user, password)) = &o.auth {
        let mut auth = redis::cmd("AUTH");
        if let Some(u) = user {
            auth.arg(u);
        }
        pipe.add_command(auth.arg(password).clone());
    }
    for (key, ttl, payload) in &moving {
        let mut restore = redis::cmd("RESTORE-ASKING");
        restore.arg(*key).arg(*ttl).arg(payload.as_slice());
        if o.replace {
            restore.arg("REPLACE");
        }
        pipe.add_command(restore);
    }
    let replies: Vec<redis::RedisResult<Value>> =
        pipe.query(&mut conn).map_err(io("reading from"))?;
    let mut replies = replies.into_iter();
    if o.auth.is_some()
        && let Some(Err(e)) = replies.next()
    {
        return Err(CmdError::msg(format!(
            "ERR Target instance replied with error: {e}"
        )));
    }
    let mut failed = None;
    for ((key, _, _), reply) in moving.iter().zip(replies) {
        match reply {
            // Moved: gone from here, unless asked to copy.
            Ok(_) if !o.copy => {
                ctx.txn.delete(key)?;
            }
            Ok(_) => {}
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    match failed {
        Some(e) => Err(CmdError::msg(format!(
            "ERR Target instance replied with error: {e}"
        ))),
        None => {
            ctx.out.ok();
            Ok(Flow::Done)
        }
    }
}

/// MIGRATE.
pub const COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("migrate", -6, WRITE, KeySpec::Custom(migrate_keys), migrate).doc(
            "generic",
            "Atomically transfers a key from one Redis instance to another.",
        ),
    ];

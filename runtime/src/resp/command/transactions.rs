//! Transaction commands: MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! The connection queues commands while `session.multi` is set (see
//! `Connection::dispatch`); EXEC runs the queue in one [`Engine::txn_all`], so
//! no other client observes the transaction half done. WATCH registers keys in
//! the engine's [`WatchRegistry`]; any write to them raises the client's dirty
//! flag and EXEC then answers a null array instead of running.
//!
//! [`Engine::txn_all`]: crate::engine::Engine::txn_all
//! [`WatchRegistry`]: crate::engine::WatchRegistry

use std::sync::atomic::Ordering;

use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::{MultiState, Request};

type R = Result<Flow, CmdError>;

fn multi(ctx: &mut Ctx, _req: &Request) -> R {
    if ctx.session.multi.is_some() {
        // Answered, not queued: the open transaction stays valid (as Redis).
        return Err(CmdError::msg("ERR MULTI calls can not be nested"));
    }
    ctx.session.multi = Some(MultiState::default());
    // CLIENT LIST shows `multi=<queued>`; stored +1 so 0 means "none".
    ctx.session.client.multi.store(1, Ordering::Relaxed);
    ctx.out.ok();
    Ok(Flow::Done)
}

fn exec(ctx: &mut Ctx, _req: &Request) -> R {
    let Some(multi) = ctx.session.multi.take() else {
        return Err(CmdError::msg("ERR EXEC without MULTI"));
    };
    // EXEC always unwatches, whatever the outcome.
    let watch = ctx.session.watch.take();
    let result = run_queue(ctx, multi, watch);
    ctx.session.client.multi.store(0, Ordering::Relaxed);
    result
}

fn run_queue<'e>(
    ctx: &mut Ctx<'_, 'e>,
    multi: MultiState,
    watch: Option<crate::engine::WatchSet<'e>>,
) -> R {
    if multi.failed {
        return Err(CmdError::msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    // Each command was routed when queued; together they must share a slot.
    let moving = match &ctx.session.shared().cluster {
        Some(c) => super::cluster::route_queue(c, multi.queued.iter().map(|(s, r)| (*s, r)))?,
        None => None,
    };
    let engine = ctx.session.engine();
    if multi.queued.iter().any(|(spec, _)| spec.has(WRITE))
        && let Err(e) = engine.check_writable()
    {
        return Err(CmdError::msg(format!(
            "EXECABORT Transaction discarded because of: {e}"
        )));
    }
    // Evict before taking every shard: make_room locks shards itself.
    if multi.queued.iter().any(|(spec, _)| spec.has(DENYOOM))
        && let Err(e) = engine.make_room()
    {
        return Err(CmdError::msg(format!(
            "EXECABORT Transaction discarded because of: {e}"
        )));
    }
    // The handler's own `ctx.txn` is keyless (EXEC declares no keys) and holds
    // no lock, so taking every shard here cannot deadlock.
    let mut all = engine.txn_all();
    // Checked under every shard lock: a write to a watched key raises the flag
    // before it releases its shard, so a write that already happened is seen
    // here, and none can happen until the transaction ends.
    if watch.as_ref().is_some_and(|w| w.is_dirty()) {
        drop(all);
        drop(watch);
        ctx.out.null_array();
        return Ok(Flow::Done);
    }
    drop(watch);
    if let Some(route) = moving {
        let keys = multi.queued.iter().flat_map(|(spec, req)| {
            let idx = spec.keys.indices(req).unwrap_or_default();
            idx.into_iter().map(move |i| req.arg(i))
        });
        super::cluster::check_present(&mut all, &route, keys)?;
    }
    ctx.out.array(multi.queued.len());
    for (spec, req) in &multi.queued {
        // Commands with computed keys validate their arguments there; keep
        // that check so their handlers see what they expect.
        if let Err(e) = spec.keys.indices(req) {
            ctx.session.count_error(&e);
            ctx.out.error(&e.to_string());
            continue;
        }
        // Permissions may have changed since the command was queued.
        if let Some((index, _)) = super::table().lookup(spec.name.as_bytes())
            && let Err(e) = ctx.session.authorize_queued(spec, index, req)
        {
            ctx.session.count_error(&e);
            ctx.out.error(&e.to_string());
            continue;
        }
        // Blocking commands (and WAIT) do not wait inside a transaction.
        super::run_in(spec, &mut all, ctx.session, ctx.out, req).answer_now(ctx.out);
    }
    Ok(Flow::Done)
}

fn discard(ctx: &mut Ctx, _req: &Request) -> R {
    if ctx.session.multi.take().is_none() {
        return Err(CmdError::msg("ERR DISCARD without MULTI"));
    }
    ctx.session.watch = None;
    ctx.session.client.multi.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(Flow::Done)
}

fn watch(ctx: &mut Ctx, req: &Request) -> R {
    if ctx.session.multi.is_some() {
        return Err(CmdError::msg("ERR WATCH inside MULTI is not allowed"));
    }
    let engine = ctx.session.engine();
    let set = ctx
        .session
        .watch
        .get_or_insert_with(|| engine.watches().watch_set());
    for key in req.args_from(1) {
        set.watch(key);
    }
    ctx.out.ok();
    Ok(Flow::Done)
}

fn unwatch(ctx: &mut Ctx, _req: &Request) -> R {
    ctx.session.watch = None;
    ctx.out.ok();
    Ok(Flow::Done)
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $h:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            handler: $h,
            group: "transactions",
            summary: $summary,
        }
    };
}

/// The transactions commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "multi",
        1,
        FAST | NO_QUEUE,
        KeySpec::None,
        multi,
        "Starts a transaction."
    ),
    cmd!(
        "exec",
        1,
        NO_QUEUE,
        KeySpec::None,
        exec,
        "Executes all commands in a transaction."
    ),
    cmd!(
        "discard",
        1,
        FAST | NO_QUEUE,
        KeySpec::None,
        discard,
        "Discards a transaction."
    ),
    cmd!(
        "watch",
        -2,
        FAST | NO_QUEUE,
        KeySpec::ALL_FROM_1,
        watch,
        "Monitors changes to keys to determine the execution of a transaction."
    ),
    cmd!(
        "unwatch",
        1,
        FAST,
        KeySpec::None,
        unwatch,
        "Forgets about watched keys of a transaction."
    ),
];

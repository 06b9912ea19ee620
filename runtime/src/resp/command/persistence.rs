//! Persistence commands: SAVE BGSAVE LASTSAVE BGREWRITEAOF.
//!
//! All are keyless and hold no shard: a snapshot visits the shards one at a
//! time itself, so these must never run inside MULTI or a script (which
//! hold every shard). The work is `persist`'s; this file only maps its
//! answers to Redis's replies.

use super::args::is;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::persist::{Job, JobRefused, Persistence, SaveError};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// Persistence is off (no `dir`): there is nowhere to save.
fn persistence_off() -> CmdError {
    CmdError::msg("ERR persistence is off: start the server with a data dir (`dir`) to save")
}

fn persistence<'a>(ctx: &'a Ctx) -> Result<&'a std::sync::Arc<Persistence>, CmdError> {
    ctx.session
        .shared()
        .persist
        .as_ref()
        .ok_or_else(persistence_off)
}

fn refused(e: JobRefused) -> CmdError {
    match e {
        JobRefused::InProgress => CmdError::msg("ERR Background save already in progress"),
        JobRefused::ShuttingDown => CmdError::msg("ERR the server is shutting down"),
    }
}

fn save(ctx: &mut Ctx, _req: &Request) -> R {
    let p = persistence(ctx)?.clone();
    match p.save(&ctx.session.shared().engine) {
        Ok(()) => {
            ctx.out.ok();
            Ok(Flow::Done)
        }
        Err(SaveError::Refused(e)) => Err(refused(e)),
        Err(SaveError::Failed(e)) => {
            tracing::error!(error = %e, "SAVE failed");
            Err(CmdError::msg("ERR"))
        }
    }
}

/// BGSAVE [SCHEDULE]: with SCHEDULE, a running rewrite defers it instead
/// of failing it (it then runs as the scheduled rewrite, which writes the
/// same snapshot).
fn bgsave(ctx: &mut Ctx, req: &Request) -> R {
    let schedule = match req.len() {
        1 => false,
        2 if is(req.arg(1), "schedule") => true,
        _ => return Err(CmdError::Syntax),
    };
    let p = persistence(ctx)?.clone();
    match p.start_job(Job::Save) {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(JobRefused::InProgress) if schedule => {
            p.schedule_rewrite();
            ctx.out.simple("Background saving scheduled");
        }
        Err(e) => return Err(refused(e)),
    }
    Ok(Flow::Done)
}

fn lastsave(ctx: &mut Ctx, _req: &Request) -> R {
    let when = match &ctx.session.shared().persist {
        Some(p) => p.last_save(),
        // Never saved: like Redis, the start time.
        None => {
            let up = ctx.session.shared().engine.started().elapsed().as_secs();
            (crate::clock::unix_ms() / 1000).saturating_sub(up)
        }
    };
    ctx.out.int(when as i64);
    Ok(Flow::Done)
}

/// BGREWRITEAOF: a snapshot, after which the log starts over. During
/// another job it is scheduled to run right after, as in Redis.
fn bgrewriteaof(ctx: &mut Ctx, _req: &Request) -> R {
    let p = persistence(ctx)?.clone();
    match p.start_job(Job::Rewrite) {
        Ok(()) => ctx
            .out
            .simple("Background append only file rewriting started"),
        Err(JobRefused::InProgress) => {
            p.schedule_rewrite();
            ctx.out
                .simple("Background append only file rewriting scheduled");
        }
        Err(e) => return Err(refused(e)),
    }
    Ok(Flow::Done)
}

/// The persistence commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, ADMIN | NO_MULTI, KeySpec::None, save)
        .doc("server", "Synchronously saves the database(s) to disk."),
    CommandSpec::new("bgsave", -1, ADMIN | NO_MULTI, KeySpec::None, bgsave)
        .doc("server", "Asynchronously saves the database(s) to disk."),
    CommandSpec::new("lastsave", 1, FAST, KeySpec::None, lastsave).doc(
        "server",
        "Returns the Unix timestamp of the last successful save to disk.",
    ),
    CommandSpec::new(
        "bgrewriteaof",
        1,
        ADMIN | NO_MULTI,
        KeySpec::None,
        bgrewriteaof,
    )
    .doc(
        "server",
        "Asynchronously rewrites the append-only file to disk.",
    ),
];

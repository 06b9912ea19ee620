//! DEBUG: only the subcommands that compare data — DIGEST and DIGEST-VALUE,
//! so operators and tests can check that two regions converged with one
//! command each — and HELP. Redis's other DEBUG subcommands crash, stall or
//! reload the server, or report encodings Meridian does not have, so they
//! answer as unknown.
//!
//! The digests are computed in the engine (`engine::digest`); this file only
//! parses and replies. Replies are status lines, as Redis's.

use smallvec::SmallVec;

use super::args::is;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "HELP",
    "    Prints this help.",
];

/// The keys of DIGEST-VALUE, so the dispatcher locks their shards; the
/// other subcommands have none (DIGEST walks the shards itself).
fn debug_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    Ok(if is(req.arg(1), "digest-value") {
        (2..req.len()).collect()
    } else {
        SmallVec::new()
    })
}

fn debug(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let n = req.len();
    if is(sub, "digest") && n == 2 {
        let d = ctx.txn.digest()?;
        ctx.out.simple(&d.to_string());
    } else if is(sub, "digest-value") {
        ctx.out.array(n - 2);
        for key in req.args_from(2) {
            let d = ctx.txn.digest_value(key)?;
            ctx.out.simple(&d.to_string());
        }
    } else if is(sub, "help") && n == 2 {
        ctx.out.help(DEBUG_HELP);
    } else {
        // Redis's DEBUG has no subcommand table, so a known subcommand with
        // the wrong arity gets this same line.
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(sub)
        )));
    }
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
            group: "server",
            summary: $summary,
        }
    };
}

/// The DEBUG command.
pub const COMMANDS: &[CommandSpec] = &[cmd!(
    "debug",
    -2,
    ADMIN,
    KeySpec::Custom(debug_keys),
    debug,
    "A container for debugging commands."
)];

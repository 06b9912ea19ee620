//! Scripting commands: EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT.
//!
//! Handlers parse arguments and hand the script to [`crate::scripting`],
//! which runs it in one all-shards transaction and dispatches its
//! `redis.call`s back through this command table. Like EXEC, a script
//! declares its keys (numkeys) but runs holding every shard.

use super::args::is;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::Request;
use crate::scripting::call::ScriptCaller;
use crate::scripting::{ScriptError, Source};
use smallvec::SmallVec;

type R = Result<Flow, CmdError>;

/// The key arguments of EVAL-like commands (`script numkeys key… arg…`),
/// with Redis's errors for a bad numkeys.
fn eval_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    let n = crate::engine::number::parse_i64(req.arg(2)).ok_or(CmdError::NotInteger)?;
    if n < 0 {
        return Err(CmdError::msg("ERR Number of keys can't be negative"));
    }
    if n as u64 > (req.len() - 3) as u64 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok((3..3 + n as usize).collect())
}

fn run_script(ctx: &mut Ctx, req: &Request, by_sha: bool, read_only: bool) -> R {
    let numkeys = eval_keys(req)?.len();
    let keys: Vec<&[u8]> = req.args_from(3).take(numkeys).collect();
    let argv: Vec<&[u8]> = req.args_from(3 + numkeys).collect();
    let source = if by_sha {
        Source::Sha(req.arg(1))
    } else {
        Source::Text(req.arg(1))
    };
    let shared = ctx.session.shared();
    let engine = ctx.session.engine();
    let scripts = &shared.scripts;
    let result = if ctx.txn.holds_all() {
        // Inside EXEC: the transaction already holds every shard.
        let mut caller =
            ScriptCaller::new(ctx.txn, ctx.session, scripts.control(), read_only, None);
        scripts.run(source, &keys, &argv, &mut caller, ctx.out)
    } else {
        // The dispatcher locked the declared keys' shards; let them go (nothing
        // was done under them) and take every shard, as EXEC does.
        drop(std::mem::replace(ctx.txn, engine.txn_none()));
        let oom = if read_only {
            None
        } else {
            engine.make_room().err().map(|e| e.to_string())
        };
        let mut all = engine.txn_all();
        let mut caller =
            ScriptCaller::new(&mut all, ctx.session, scripts.control(), read_only, oom);
        scripts.run(source, &keys, &argv, &mut caller, ctx.out)
    };
    // EVAL and EVALSHA carry neither `write` nor `denyoom` (as in Redis): a
    // script's own commands are checked one by one.
    result
        .map(|()| Flow::Done)
        .map_err(|e: ScriptError| CmdError::msg(e.to_string()))
}

fn eval(ctx: &mut Ctx, req: &Request) -> R {
    run_script(ctx, req, false, false)
}

fn evalsha(ctx: &mut Ctx, req: &Request) -> R {
    run_script(ctx, req, true, false)
}

fn eval_ro(ctx: &mut Ctx, req: &Request) -> R {
    run_script(ctx, req, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, req: &Request) -> R {
    run_script(ctx, req, true, true)
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn sub_arity(sub: &[u8]) -> CmdError {
    CmdError::Arity(format!(
        "script|{}",
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    ))
}

fn script(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let n = req.len();
    let scripts = &ctx.session.shared().scripts;
    if is(sub, "load") {
        if n != 3 {
            return Err(sub_arity(sub));
        }
        let sha = scripts
            .load(req.arg(2))
            .map_err(|e| CmdError::msg(e.to_string()))?;
        ctx.out.bulk(sha.as_str().as_bytes());
    } else if is(sub, "exists") {
        if n < 3 {
            return Err(sub_arity(sub));
        }
        ctx.out.array(n - 2);
        for sha in req.args_from(2) {
            ctx.out.int(scripts.exists(sha) as i64);
        }
    } else if is(sub, "flush") {
        if n > 3 || (n == 3 && !is(req.arg(2), "sync") && !is(req.arg(2), "async")) {
            return Err(CmdError::msg(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ));
        }
        scripts.flush();
        ctx.out.ok();
    } else if is(sub, "kill") {
        if n != 2 {
            return Err(sub_arity(sub));
        }
        match scripts.control().kill().error() {
            None => ctx.out.ok(),
            Some(e) => return Err(CmdError::msg(e)),
        }
    } else if is(sub, "help") {
        if n != 2 {
            return Err(sub_arity(sub));
        }
        ctx.out.help(SCRIPT_HELP);
    } else if is(sub, "debug") {
        return Err(CmdError::msg(
            "ERR SCRIPT DEBUG is not supported: Meridian has no Lua debugger",
        ));
    } else {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand '{}'. Try SCRIPT HELP.",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(Flow::Done)
}

/// The scripting commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, 0, KeySpec::Custom(eval_keys), eval)
        .doc("scripting", "Executes a server-side Lua script."),
    CommandSpec::new("evalsha", -3, 0, KeySpec::Custom(eval_keys), evalsha).doc(
        "scripting",
        "Executes a server-side Lua script by SHA1 digest.",
    ),
    CommandSpec::new("eval_ro", -3, READONLY, KeySpec::Custom(eval_keys), eval_ro)
        .doc("scripting", "Executes a read-only server-side Lua script."),
    CommandSpec::new(
        "evalsha_ro",
        -3,
        READONLY,
        KeySpec::Custom(eval_keys),
        evalsha_ro,
    )
    .doc(
        "scripting",
        "Executes a read-only server-side Lua script by SHA1 digest.",
    ),
    CommandSpec::new("script", -2, 0, KeySpec::None, script).doc(
        "scripting",
        "A container for Lua scripts management commands.",
    ),
];

//! OBJECT (ENCODING, FREQ, IDLETIME, REFCOUNT, HELP) and MEMORY (USAGE,
//! HELP): subcommand syntax, Redis's policy errors and reply shapes. What is
//! reported comes from `engine::object`.

use smallvec::SmallVec;

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// Redis's line for a known subcommand given the wrong number of arguments.
fn sub_arity(cmd: &str, sub: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "ERR wrong number of arguments for '{cmd}|{}' command",
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    ))
}

fn unknown_sub(cmd: &str, sub: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

fn object(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let keyed = ["encoding", "freq", "idletime", "refcount"]
        .into_iter()
        .find(|s| is(sub, s));
    if is(sub, "help") {
        if req.len() != 2 {
            return Err(sub_arity("object", sub));
        }
        ctx.out.help(OBJECT_HELP);
        return Ok(Flow::Done);
    }
    let Some(which) = keyed else {
        return Err(unknown_sub("OBJECT", sub));
    };
    if req.len() != 3 {
        return Err(sub_arity("object", sub));
    }
    let Some(info) = ctx.txn.object_info(req.arg(2))? else {
        ctx.out.null();
        return Ok(Flow::Done);
    };
    let lfu = ctx.txn.engine().settings().policy().is_lfu();
    match which {
        "encoding" => ctx.out.bulk(info.encoding.as_bytes()),
        "refcount" => ctx.out.int(info.refcount),
        "freq" if !lfu => {
            return Err(CmdError::msg(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ));
        }
        "freq" => ctx.out.int(i64::from(info.freq)),
        _ if lfu => {
            return Err(CmdError::msg(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ));
        }
        _ => ctx.out.int(info.idle_secs as i64),
    }
    Ok(Flow::Done)
}

fn memory(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    if is(sub, "help") && req.len() == 2 {
        ctx.out.help(MEMORY_HELP);
        return Ok(Flow::Done);
    }
    if !is(sub, "usage") {
        return Err(unknown_sub("MEMORY", sub));
    }
    if req.len() < 3 {
        return Err(sub_arity("memory", sub));
    }
    let mut j = 3;
    while j < req.len() {
        if is(req.arg(j), "samples") && j + 1 < req.len() {
            // The size is exact, so the sample count only has to parse.
            args::int(req.arg(j + 1))?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    match ctx.txn.memory_usage(req.arg(2))? {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
    Ok(Flow::Done)
}

/// The key of OBJECT/MEMORY subcommands that take one (argument 2).
fn sub_key(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    let mut keys = SmallVec::new();
    if req.len() > 2 {
        keys.push(2);
    }
    Ok(keys)
}

/// OBJECT and MEMORY.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("object", -2, READONLY, KeySpec::Custom(sub_key), object)
        .doc("generic", "A container for object introspection commands."),
    CommandSpec::new("memory", -2, READONLY, KeySpec::Custom(sub_key), memory)
        .doc("server", "A container for memory diagnostics commands."),
];

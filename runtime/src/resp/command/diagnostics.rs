//! SLOWLOG (GET, LEN, RESET, HELP) and LATENCY (LATEST, HISTORY, RESET,
//! HELP): subcommand syntax and Redis's reply shapes over what the
//! connection loop records in `resp::slowlog`.

use super::args::is;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HELP",
    "    Prints this help.",
];

fn unknown(cmd: &str, sub: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

fn wrong_args(cmd: &str, sub: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

fn slowlog(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let n = req.len();
    let log = &ctx.session.shared().stats.slowlog;
    if is(sub, "help") && n == 2 {
        ctx.out.help(SLOWLOG_HELP);
    } else if is(sub, "len") && n == 2 {
        ctx.out.int(log.len() as i64);
    } else if is(sub, "reset") && n == 2 {
        log.reset();
        ctx.out.ok();
    } else if is(sub, "get") && (n == 2 || n == 3) {
        let count = if n == 3 {
            match crate::engine::number::parse_i64(req.arg(2)) {
                Some(-1) => None,
                Some(c) if c >= 0 => Some(c as usize),
                _ => {
                    return Err(CmdError::msg(
                        "ERR count should be greater than or equal to -1",
                    ));
                }
            }
        } else {
            Some(10)
        };
        let entries = log.newest(count);
        ctx.out.array(entries.len());
        for e in &entries {
            ctx.out.array(6);
            ctx.out.int(e.id as i64);
            ctx.out.int(e.unix_secs as i64);
            ctx.out.int(e.micros as i64);
            ctx.out.array(e.args.len());
            for a in &e.args {
                ctx.out.bulk(a);
            }
            ctx.out.bulk(e.client_addr.as_bytes());
            ctx.out.bulk(e.client_name.as_bytes());
        }
    } else if ["help", "len", "reset", "get"].iter().any(|s| is(sub, s)) {
        return Err(wrong_args("SLOWLOG", sub));
    } else {
        return Err(unknown("SLOWLOG", sub));
    }
    Ok(Flow::Done)
}

fn latency(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let n = req.len();
    let mon = &ctx.session.shared().stats.latency;
    if is(sub, "help") && n == 2 {
        ctx.out.help(LATENCY_HELP);
    } else if is(sub, "latest") && n == 2 {
        let events = mon.events();
        ctx.out.array(events.len());
        for (name, e) in &events {
            let last = e
                .samples
                .back()
                .copied()
                .unwrap_or(crate::resp::slowlog::LatencySample {
                    unix_secs: 0,
                    millis: 0,
                });
            ctx.out.array(4);
            ctx.out.bulk(name.as_bytes());
            ctx.out.int(last.unix_secs as i64);
            ctx.out.int(last.millis as i64);
            ctx.out.int(e.max_millis as i64);
        }
    } else if is(sub, "history") && n == 3 {
        let events = mon.events();
        let samples = events
            .iter()
            .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(req.arg(2)))
            .map(|(_, e)| e.samples.clone())
            .unwrap_or_default();
        ctx.out.array(samples.len());
        for s in &samples {
            ctx.out.array(2);
            ctx.out.int(s.unix_secs as i64);
            ctx.out.int(s.millis as i64);
        }
    } else if is(sub, "reset") {
        let names: Vec<&[u8]> = req.args_from(2).collect();
        ctx.out.int(mon.reset(&names) as i64);
    } else if ["help", "latest", "history"].iter().any(|s| is(sub, s)) {
        return Err(wrong_args("LATENCY", sub));
    } else {
        return Err(unknown("LATENCY", sub));
    }
    Ok(Flow::Done)
}

/// SLOWLOG and LATENCY.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("slowlog", -2, ADMIN, KeySpec::None, slowlog)
        .doc("server", "A container for slow log commands."),
    CommandSpec::new("latency", -2, ADMIN, KeySpec::None, latency)
        .doc("server", "A container for latency diagnostics commands."),
];

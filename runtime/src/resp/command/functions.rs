//! Plugins over RESP, mirroring Redis functions: FUNCTION LOAD / LIST /
//! DELETE / FLUSH / HELP and FCALL / FCALL_RO.
//!
//! The payload of FUNCTION LOAD is a WebAssembly component of the `plugin`
//! world; the library names itself through its `describe` export (as a Redis
//! library names itself in its `#!lua name=…` line). Function calls run in
//! [`crate::wasm`]; this file only parses arguments and shapes replies.
//!
//! LOAD, DELETE and FLUSH are replicated to every region and persisted with
//! the data (see `crate::wasm::deploy`).
//!
//! Deviations from Redis (documented in docs/wit.md): FCALL does not lock
//! the keys it names for the whole call — each host call the function makes
//! is atomic on its own — and FUNCTION/FCALL are refused inside MULTI.

use super::args::{int, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::glob_match;
use crate::resp::{Reply, Request};
use crate::wasm::bindings::{Reply as GuestReply, Value as GuestValue};
use crate::wasm::catalog::ModuleKind;
use crate::wasm::deploy::DeployRequest;

type R = Result<Flow, CmdError>;

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <COMPONENT>",
    "    Load a WebAssembly component (world meridian:cache/plugin) as a library.",
    "    The library's name comes from its describe export.",
    "DELETE <LIBRARY NAME>",
    "    Delete a library and all its functions.",
    "LIST [LIBRARYNAME PATTERN]",
    "    List libraries and their functions.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all libraries.",
    "HELP",
    "    Print this help.",
];

fn unknown_subcommand(sub: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(sub)
    ))
}

fn function(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let n = req.len();
    let wasm = &ctx.session.shared().wasm;
    if is(sub, "load") {
        let (replace, payload) = match n {
            3 => (false, req.arg(2)),
            4 if is(req.arg(2), "replace") => (true, req.arg(3)),
            4 => {
                return Err(CmdError::msg(format!(
                    "ERR Unknown option given: {}",
                    String::from_utf8_lossy(req.arg(2))
                )));
            }
            _ => return Err(CmdError::Arity("function|load".into())),
        };
        let deployed = wasm
            .deploy(DeployRequest {
                name: None,
                kind: Some(ModuleKind::Plugin),
                route: None,
                code: payload,
                replace,
            })
            .map_err(|e| CmdError::msg(e.to_string()))?;
        ctx.out.bulk(deployed.name.as_bytes());
    } else if is(sub, "delete") {
        if n != 3 {
            return Err(CmdError::Arity("function|delete".into()));
        }
        let name = String::from_utf8_lossy(req.arg(2));
        wasm.undeploy(&name, Some(ModuleKind::Plugin))
            .map_err(|e| CmdError::msg(e.to_string()))?;
        ctx.out.ok();
    } else if is(sub, "flush") {
        if n > 3 || (n == 3 && !is(req.arg(2), "async") && !is(req.arg(2), "sync")) {
            return Err(CmdError::msg(
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            ));
        }
        wasm.flush_libraries()
            .map_err(|e| CmdError::msg(e.to_string()))?;
        ctx.out.ok();
    } else if is(sub, "list") {
        let mut pattern = None;
        let mut i = 2;
        while i < n {
            if is(req.arg(i), "libraryname") && i + 1 < n {
                pattern = Some(req.arg(i + 1).to_vec());
                i += 2;
            } else if is(req.arg(i), "withcode") {
                return Err(CmdError::msg(
                    "ERR WITHCODE is not supported: libraries are compiled components",
                ));
            } else {
                return Err(CmdError::msg(format!(
                    "ERR Unknown argument {}",
                    String::from_utf8_lossy(req.arg(i))
                )));
            }
        }
        let libs: Vec<_> = wasm
            .registry()
            .libraries()
            .into_iter()
            .filter(|l| {
                pattern
                    .as_deref()
                    .is_none_or(|p| glob_match(p, l.name.as_bytes()))
            })
            .collect();
        let out = &mut *ctx.out;
        out.array(libs.len());
        for l in libs {
            out.map(3);
            out.bulk(b"library_name");
            out.bulk(l.name.as_bytes());
            out.bulk(b"engine");
            out.bulk(b"WASM");
            out.bulk(b"functions");
            out.array(l.functions.len());
            for f in &l.functions {
                out.map(3);
                out.bulk(b"name");
                out.bulk(f.name.as_bytes());
                out.bulk(b"description");
                out.null();
                out.bulk(b"flags");
                if f.read_only {
                    out.set(1);
                    out.bulk(b"no-writes");
                } else {
                    out.set(0);
                }
            }
        }
    } else if is(sub, "help") && n == 2 {
        ctx.out.help(FUNCTION_HELP);
    } else {
        return Err(unknown_subcommand(sub));
    }
    Ok(Flow::Done)
}

fn write_value(out: &mut Reply, v: &GuestValue) {
    match v {
        GuestValue::Nil => out.null(),
        GuestValue::Integer(i) => out.int(*i),
        GuestValue::Double(d) => out.double(*d),
        GuestValue::Bulk(b) => out.bulk(b),
        GuestValue::Text(t) => out.bulk(t.as_bytes()),
    }
}

fn write_reply(out: &mut Reply, r: &GuestReply) {
    match r {
        GuestReply::Nil => out.null(),
        GuestReply::Ok => out.ok(),
        GuestReply::Status(s) => {
            // A status line cannot carry a line break.
            let line: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            out.simple(&line)
        }
        GuestReply::Integer(i) => out.int(*i),
        GuestReply::Double(d) => out.double(*d),
        GuestReply::Bulk(b) => out.bulk(b),
        GuestReply::Text(t) => out.bulk(t.as_bytes()),
        GuestReply::Array(items) => {
            out.array(items.len());
            for v in items {
                write_value(out, v);
            }
        }
    }
}

fn fcall_with(ctx: &mut Ctx, req: &Request, read_only: bool) -> R {
    let name = String::from_utf8_lossy(req.arg(1)).into_owned();
    let numkeys = int(req.arg(2)).map_err(|_| CmdError::msg("ERR Bad number of keys provided"))?;
    if numkeys < 0 {
        return Err(CmdError::msg("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;
    if numkeys > req.len() - 3 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let shared = ctx.session.shared();
    let Some(library) = shared.wasm.registry().function(&name) else {
        return Err(CmdError::msg("ERR Function not found"));
    };
    if read_only
        && !library
            .functions
            .iter()
            .any(|f| f.name == name && f.read_only)
    {
        return Err(CmdError::msg(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let mut keys = Vec::with_capacity(numkeys);
    for k in req.args_from(3).take(numkeys) {
        match std::str::from_utf8(k) {
            Ok(s) => keys.push(s.to_string()),
            Err(_) => return Err(CmdError::msg("ERR Plugin keys must be UTF-8")),
        }
    }
    let args = req.args_from(3 + numkeys).map(<[u8]>::to_vec).collect();
    let Some(owner) = shared.wasm.shared() else {
        return Err(CmdError::msg("ERR server is shutting down"));
    };
    let reply = shared
        .wasm
        .plugins()
        .call(owner, library, name, keys, args, read_only)
        .map_err(|e| CmdError::msg(e.to_string()))?;
    write_reply(ctx.out, &reply);
    Ok(Flow::Done)
}

fn fcall(ctx: &mut Ctx, req: &Request) -> R {
    fcall_with(ctx, req, false)
}

fn fcall_ro(ctx: &mut Ctx, req: &Request) -> R {
    fcall_with(ctx, req, true)
}

/// The function commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "function",
        arity: -2,
        flags: NO_MULTI,
        keys: KeySpec::None,
        handler: function,
        group: "scripting",
        summary: "A container for function commands (WebAssembly libraries).",
    },
    CommandSpec {
        name: "fcall",
        arity: -3,
        flags: NO_MULTI,
        keys: KeySpec::None,
        handler: fcall,
        group: "scripting",
        summary: "Invokes a function.",
    },
    CommandSpec {
        name: "fcall_ro",
        arity: -3,
        flags: NO_MULTI | READONLY,
        keys: KeySpec::None,
        handler: fcall_ro,
        group: "scripting",
        summary: "Invokes a read-only function.",
    },
];

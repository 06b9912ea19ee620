//! DUMP and RESTORE (REPLACE, ABSTTL, IDLETIME, FREQ), with Redis's
//! option checks in Redis's order. The payload format is Meridian's own
//! (see `engine::dump`).

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::dump::RestoreOptions;
use crate::resp::Request;

type R = Result<Flow, CmdError>;

fn dump(ctx: &mut Ctx, req: &Request) -> R {
    match ctx.txn.dump(req.arg(1))? {
        Some(p) => ctx.out.bulk(&p),
        None => ctx.out.null(),
    }
    Ok(Flow::Done)
}

fn restore(ctx: &mut Ctx, req: &Request) -> R {
    let mut o = RestoreOptions::default();
    let mut j = 4;
    while j < req.len() {
        let a = req.arg(j);
        let more = j + 1 < req.len();
        if is(a, "replace") {
            o.replace = true;
        } else if is(a, "absttl") {
            o.abs_ttl = true;
        } else if is(a, "idletime") && more && o.freq.is_none() {
            let v = args::int(req.arg(j + 1))?;
            if v < 0 {
                return Err(CmdError::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            o.idle_secs = Some(v as u64);
            j += 1;
        } else if is(a, "freq") && more && o.idle_secs.is_none() {
            let v = args::int(req.arg(j + 1))?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::msg(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            o.freq = Some(v as u8);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let key = req.arg(1);
    if !o.replace && ctx.txn.peek(key)?.is_some() {
        return Err(CmdError::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = args::int(req.arg(2))?;
    if ttl < 0 {
        return Err(CmdError::msg("ERR Invalid TTL value, must be >= 0"));
    }
    o.ttl_ms = ttl as u64;
    ctx.txn.restore(key, req.arg(3), &o)?;
    ctx.out.ok();
    Ok(Flow::Done)
}

/// DUMP and RESTORE.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, READONLY, KeySpec::FIRST, dump).doc(
        "generic",
        "Returns a serialized representation of the value stored at a key.",
    ),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, KeySpec::FIRST, restore).doc(
        "generic",
        "Creates a key from the serialized representation of a value.",
    ),
    // What MIGRATE sends: RESTORE that may use a slot importing here.
    CommandSpec::new(
        "restore-asking",
        -4,
        WRITE | DENYOOM,
        KeySpec::FIRST,
        restore,
    )
    .doc(
        "server",
        "An internal command for migrating keys in a cluster.",
    ),
];

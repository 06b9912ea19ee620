//! COPY source destination [DB destination-db] [REPLACE]. Meridian has one
//! database, so DB accepts only 0, with Redis's out-of-range error otherwise.

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

fn copy(ctx: &mut Ctx, req: &Request) -> R {
    let mut replace = false;
    let mut j = 3;
    while j < req.len() {
        let a = req.arg(j);
        if is(a, "replace") {
            replace = true;
        } else if is(a, "db") && j + 1 < req.len() {
            if args::int(req.arg(j + 1))? != 0 {
                return Err(CmdError::msg("ERR DB index is out of range"));
            }
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let (src, dst) = (req.arg(1), req.arg(2));
    if src == dst {
        return Err(CmdError::msg(
            "ERR source and destination objects are the same",
        ));
    }
    let copied = ctx.txn.copy(src, dst, replace)?;
    ctx.out.int(copied as i64);
    Ok(Flow::Done)
}

/// COPY.
pub const COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("copy", -3, WRITE | DENYOOM, KeySpec::FIRST_TWO, copy)
            .doc("generic", "Copies the value of a key to a new key."),
    ];

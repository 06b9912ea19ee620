//! WAIT numregions timeout: blocks the client until at least `numregions`
//! other regions have applied every change this region had made when WAIT
//! ran (Redis counts replicas; Meridian's peers are regions), or until the
//! timeout. The answer is how many had. It makes a write durable against the
//! loss of this region, not linearizable: other regions may already have
//! written over it concurrently (docs/semantics.md).
//!
//! The handler only takes the measure; the connection loop does the waiting
//! ([`Flow::WaitRegions`]), and EXEC or a script answers at once.

use std::time::Duration;

use super::args;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec, RegionWait};
use crate::resp::Request;

fn wait(ctx: &mut Ctx, req: &Request) -> Result<Flow, CmdError> {
    let regions = args::int(req.arg(1))?;
    let timeout = args::int(req.arg(2))
        .map_err(|_| CmdError::msg("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    let Some(replica) = ctx.session.engine().replica().filter(|r| r.regions() > 0) else {
        // A single region has no one to wait for.
        ctx.out.int(0);
        return Ok(Flow::Done);
    };
    let position = replica.log().head();
    let acked_now = replica.regions_acked(position);
    if regions <= acked_now as i64 {
        ctx.out.int(acked_now as i64);
        return Ok(Flow::Done);
    }
    Ok(Flow::WaitRegions(RegionWait {
        position,
        regions: usize::try_from(regions).unwrap_or(usize::MAX),
        timeout: (timeout > 0).then(|| Duration::from_millis(timeout as u64)),
        acked_now,
    }))
}

/// WAIT.
pub const COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("wait", 3, CONNECTION, KeySpec::None, wait).doc(
            "generic",
            "Blocks until the changes made so far reach the given number of other regions.",
        ),
    ];

//! MONITOR: the connection starts streaming every command the server runs
//! (see [`crate::resp::monitor`] for the format and what is left out). The
//! stream itself is written by the connection loop; this only switches the
//! connection into monitor mode.

use std::sync::atomic::Ordering;

use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::Request;

fn monitor(ctx: &mut Ctx, _req: &Request) -> Result<Flow, CmdError> {
    if ctx.session.monitor.is_none() {
        let feed = &ctx.session.shared().clients.monitors;
        ctx.session.monitor = Some(feed.subscribe());
        ctx.session.client.monitoring.store(true, Ordering::Relaxed);
    }
    ctx.out.ok();
    Ok(Flow::Done)
}

/// MONITOR.
pub const COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("monitor", 1, ADMIN | NO_MULTI, KeySpec::None, monitor).doc(
            "server",
            "Listens for all requests received by the server in real-time.",
        ),
    ];

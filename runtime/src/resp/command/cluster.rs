//! Redis Cluster's client-facing commands, for a region sharded over several
//! nodes ([`crate::cluster`]): CLUSTER KEYSLOT/SLOTS/SHARDS/NODES/INFO/MYID/
//! COUNTKEYSINSLOT/GETKEYSINSLOT, READONLY, READWRITE and ASKING.
//!
//! Redirection itself (MOVED, CROSSSLOT) happens before a command runs, in
//! `Connection::dispatch`, through [`route`]. On a node without a
//! `[cluster]` table every command here answers Redis's "cluster support
//! disabled" error, as a standalone Redis does.

use super::args;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::cluster::{SLOTS, SlotMap, key_slot};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// Where `spec` with `req` must run, given the region's slot map: `Ok` to
/// run here, or the error line (MOVED, CROSSSLOT) to answer instead. An
/// error computing the keys is left for the command to report.
pub fn route(map: &SlotMap, spec: &CommandSpec, req: &Request) -> Result<(), CmdError> {
    let Ok(keys) = spec.keys.indices(req) else {
        return Ok(());
    };
    match map.route(keys.iter().map(|&i| req.arg(i))).error_line() {
        None => Ok(()),
        Some(line) => Err(CmdError::msg(line)),
    }
}

/// Where a whole MULTI/EXEC queue must run: every key of every command in
/// one slot, owned here.
pub fn route_queue<'r>(
    map: &SlotMap,
    queued: impl IntoIterator<Item = (&'static CommandSpec, &'r Request)>,
) -> Result<(), CmdError> {
    let mut keys: Vec<&[u8]> = Vec::new();
    for (spec, req) in queued {
        if let Ok(idx) = spec.keys.indices(req) {
            keys.extend(idx.iter().map(|&i| req.arg(i)));
        }
    }
    match map.route(keys).error_line() {
        None => Ok(()),
        Some(line) => Err(CmdError::msg(line)),
    }
}

fn map<'s>(ctx: &Ctx<'_, 's>) -> Result<&'s SlotMap, CmdError> {
    ctx.session
        .shared()
        .cluster
        .as_ref()
        .ok_or_else(|| CmdError::msg("ERR This instance has cluster support disabled"))
}

fn slot_arg(arg: &[u8]) -> Result<usize, CmdError> {
    match args::int(arg) {
        Ok(n) if (0..SLOTS as i64).contains(&n) => Ok(n as usize),
        _ => Err(CmdError::msg("ERR Invalid or out of range slot")),
    }
}

fn cluster(ctx: &mut Ctx, req: &Request) -> R {
    let sub = String::from_utf8_lossy(req.arg(1)).to_ascii_lowercase();
    if sub == "help" {
        let lines = [
            "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MYID",
            "    Return the node id.",
            "NODES",
            "    Return cluster configuration seen by node.",
            "SHARDS",
            "    Return information about slot range mappings and the nodes.",
            "SLOTS",
            "    Return information about slots range mappings.",
        ];
        ctx.out.array(lines.len());
        for l in lines {
            ctx.out.simple(l);
        }
        return Ok(Flow::Done);
    }
    let map = map(ctx)?;
    let arity = |n: usize| -> Result<(), CmdError> {
        if req.len() == n {
            Ok(())
        } else {
            Err(CmdError::msg(format!(
                "ERR wrong number of arguments for 'cluster|{sub}' command"
            )))
        }
    };
    match sub.as_str() {
        "keyslot" => {
            arity(3)?;
            ctx.out.int(i64::from(key_slot(req.arg(2))));
        }
        "myid" => {
            arity(2)?;
            ctx.out.bulk(map.me().id.as_bytes());
        }
        "info" => {
            arity(2)?;
            ctx.out.verbatim(&map.info_text());
        }
        "nodes" => {
            arity(2)?;
            ctx.out.verbatim(&map.nodes_text());
        }
        "slots" => {
            arity(2)?;
            let ranges = map.ranges();
            ctx.out.array(ranges.len());
            for (r, owner) in ranges {
                let n = &map.nodes()[owner];
                ctx.out.array(3);
                ctx.out.int(i64::from(r.start));
                ctx.out.int(i64::from(r.end));
                // ip, port, id, and (Redis 7) the node's extra networking
                // metadata, of which there is none.
                ctx.out.array(4);
                ctx.out.bulk(n.host.as_bytes());
                ctx.out.int(i64::from(n.port));
                ctx.out.bulk(n.id.as_bytes());
                ctx.out.map(0);
            }
        }
        "shards" => {
            arity(2)?;
            ctx.out.array(map.nodes().len());
            for (i, n) in map.nodes().iter().enumerate() {
                let ranges = map.ranges_of(i);
                ctx.out.map(2);
                ctx.out.bulk(b"slots");
                ctx.out.array(ranges.len() * 2);
                for r in &ranges {
                    ctx.out.int(i64::from(r.start));
                    ctx.out.int(i64::from(r.end));
                }
                ctx.out.bulk(b"nodes");
                ctx.out.array(1);
                ctx.out.map(7);
                ctx.out.bulk(b"id");
                ctx.out.bulk(n.id.as_bytes());
                ctx.out.bulk(b"port");
                ctx.out.int(i64::from(n.port));
                ctx.out.bulk(b"ip");
                ctx.out.bulk(n.host.as_bytes());
                ctx.out.bulk(b"endpoint");
                ctx.out.bulk(n.host.as_bytes());
                ctx.out.bulk(b"role");
                ctx.out.bulk(b"master");
                ctx.out.bulk(b"replication-offset");
                ctx.out.int(0);
                ctx.out.bulk(b"health");
                ctx.out.bulk(b"online");
            }
        }
        "countkeysinslot" => {
            arity(3)?;
            let slot = slot_arg(req.arg(2))?;
            let keys = ctx.txn.keys(b"*")?;
            let n = keys.iter().filter(|k| key_slot(k) as usize == slot).count();
            ctx.out.int(n as i64);
        }
        "getkeysinslot" => {
            arity(4)?;
            let slot = slot_arg(req.arg(2))?;
            let count = match args::int(req.arg(3)) {
                Ok(c) if c >= 0 => c as usize,
                _ => return Err(CmdError::msg("ERR Invalid number of keys")),
            };
            let keys = ctx.txn.keys(b"*")?;
            let found: Vec<&[u8]> = keys
                .iter()
                .map(|k| &k[..])
                .filter(|k| key_slot(k) as usize == slot)
                .take(count)
                .collect();
            ctx.out.bulk_array(found.into_iter());
        }
        _ => {
            return Err(CmdError::msg(format!(
                "ERR unknown subcommand '{}'. Try CLUSTER HELP.",
                String::from_utf8_lossy(req.arg(1))
            )));
        }
    }
    Ok(Flow::Done)
}

/// READONLY, READWRITE and ASKING: accepted on a cluster node. Every node
/// owns its slots (there are no replica nodes to read from, and slots do
/// not move between nodes at run time), so none changes where a command
/// runs.
fn accepted(ctx: &mut Ctx, _req: &Request) -> R {
    map(ctx)?;
    ctx.out.ok();
    Ok(Flow::Done)
}

/// The cluster commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cluster", -2, 0, KeySpec::None, cluster)
        .doc("cluster", "A container for Redis Cluster commands."),
    CommandSpec::new("readonly", 1, FAST | CONNECTION, KeySpec::None, accepted).doc(
        "cluster",
        "Enables read-only queries for a connection to a Redis Cluster replica node.",
    ),
    CommandSpec::new("readwrite", 1, FAST | CONNECTION, KeySpec::None, accepted).doc(
        "cluster",
        "Enables read-write queries for a connection to a Redis Cluster replica node.",
    ),
    CommandSpec::new("asking", 1, FAST, KeySpec::None, accepted).doc(
        "cluster",
        "Signals that a cluster client is following an -ASK redirect.",
    ),
];

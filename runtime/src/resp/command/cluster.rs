//! Redis Cluster's commands, for a region sharded over several nodes
//! ([`crate::cluster`]): CLUSTER KEYSLOT/SLOTS/SHARDS/NODES/INFO/MYID/
//! COUNTKEYSINSLOT/GETKEYSINSLOT/SETSLOT, READONLY, READWRITE and ASKING.
//!
//! Redirection itself (MOVED, CROSSSLOT) happens before a command runs, in
//! `Connection::dispatch`, through [`route`]; a command on a slot migrating
//! away is checked once its keys are locked ([`check_present`]: ASK,
//! TRYAGAIN), so a concurrent MIGRATE cannot move a key between the check
//! and the command. CLUSTER SETSLOT moves slots node by node. On a node without a
//! `[cluster]` table every command here answers Redis's "cluster support
//! disabled" error, as a standalone Redis does.

use super::args;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::cluster::{Cluster, Route, SLOTS, Slot, SlotMap, key_slot};
use crate::engine::Txn;
use crate::keyspace::Blob;
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// Where `spec` with `req` must run, given the node's cluster state: `Ok`
/// to run here — with [`Route::IfPresent`] when that depends on its keys
/// still being here ([`check_present`] decides once they are locked) — or
/// the error line (MOVED, CROSSSLOT) to answer instead. An error computing
/// the keys is left for the command to report.
pub fn route(
    cluster: &Cluster,
    spec: &CommandSpec,
    req: &Request,
    asking: bool,
) -> Result<Option<Route>, CmdError> {
    let Ok(keys) = spec.keys.indices(req) else {
        return Ok(None);
    };
    // RESTORE-ASKING is what MIGRATE sends: it carries its own ASKING.
    let asking = asking || spec.name == "restore-asking";
    let route = cluster
        .map()
        .route(keys.iter().map(|&i| req.arg(i)), asking);
    match route {
        // MIGRATE moves whatever of a migrating slot is still here (Redis
        // exempts it too): nothing to ask for.
        Route::IfPresent { .. } if spec.name == "migrate" => Ok(None),
        route => decide(route),
    }
}

/// Where a whole MULTI/EXEC queue must run: every key of every command in
/// one slot, owned here (or migrating, see [`route`]).
pub fn route_queue<'r>(
    cluster: &Cluster,
    queued: impl IntoIterator<Item = (&'static CommandSpec, &'r Request)>,
) -> Result<Option<Route>, CmdError> {
    let mut keys: Vec<&[u8]> = Vec::new();
    for (spec, req) in queued {
        if let Ok(idx) = spec.keys.indices(req) {
            keys.extend(idx.iter().map(|&i| req.arg(i)));
        }
    }
    decide(cluster.map().route(keys, false))
}

fn decide(route: Route) -> Result<Option<Route>, CmdError> {
    match route {
        Route::Local => Ok(None),
        r @ Route::IfPresent { .. } => Ok(Some(r)),
        other => Err(CmdError::msg(other.error_line().unwrap_or_default())),
    }
}

/// For a command on a migrating slot, with its keys' shards locked (so no
/// MIGRATE can move them meanwhile): runs here if every key is still here,
/// is sent to the importing node (`ASK`) if none is, and is refused
/// (`TRYAGAIN`) if only some are, as Redis Cluster does.
pub fn check_present<'k>(
    txn: &mut Txn<'_>,
    route: &Route,
    keys: impl IntoIterator<Item = &'k [u8]>,
) -> Result<(), CmdError> {
    let Route::IfPresent { slot, endpoint } = route else {
        return Ok(());
    };
    let (mut here, mut gone) = (0, 0);
    for k in keys {
        if txn.exists(k)? {
            here += 1;
        } else {
            gone += 1;
        }
    }
    match (here, gone) {
        (_, 0) => Ok(()),
        (0, _) => Err(CmdError::msg(format!("ASK {slot} {endpoint}"))),
        _ => Err(CmdError::msg(
            "TRYAGAIN Multiple keys request during rehashing of slot",
        )),
    }
}

fn cluster_of<'s>(ctx: &Ctx<'_, 's>) -> Result<&'s Cluster, CmdError> {
    ctx.session
        .shared()
        .cluster
        .as_ref()
        .ok_or_else(|| CmdError::msg("ERR This instance has cluster support disabled"))
}

/// Keys of `slot` held here.
fn keys_in_slot(txn: &mut Txn<'_>, slot: usize) -> Result<Vec<Blob>, CmdError> {
    let mut keys = txn.keys(b"*")?;
    keys.retain(|k| key_slot(k) as usize == slot);
    Ok(keys)
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
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "SHARDS",
            "    Return information about slot range mappings and the nodes.",
            "SLOTS",
            "    Return information about slots range mappings.",
        ];
        ctx.out.help(&lines);
        return Ok(Flow::Done);
    }
    let cluster = cluster_of(ctx)?;
    if sub == "setslot" {
        return setslot(ctx, cluster, req);
    }
    let map = cluster.map();
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
            drop(map);
            let keys = keys_in_slot(ctx.txn, slot)?;
            ctx.out.bulk_array(
                keys.iter()
                    .take(count)
                    .map(|k| &k[..])
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
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

/// `CLUSTER SETSLOT <slot> IMPORTING|MIGRATING|NODE <node-id>` and
/// `CLUSTER SETSLOT <slot> STABLE`: how a slot moves, node by node.
fn setslot(ctx: &mut Ctx, cluster: &Cluster, req: &Request) -> R {
    if req.len() < 4 {
        return Err(CmdError::msg(
            "ERR wrong number of arguments for 'cluster|setslot' command",
        ));
    }
    let slot = slot_arg(req.arg(2))? as Slot;
    let action = String::from_utf8_lossy(req.arg(3)).to_ascii_lowercase();
    let node = |map: &SlotMap| -> Result<usize, CmdError> {
        if req.len() != 5 {
            return Err(CmdError::Syntax);
        }
        let id = String::from_utf8_lossy(req.arg(4));
        map.node_index(&id)
            .ok_or_else(|| CmdError::msg(format!("ERR I don't know about node {id}")))
    };
    match action.as_str() {
        "migrating" => {
            let mut map = cluster.map_mut();
            let to = node(&map)?;
            map.set_migrating(slot, to).map_err(CmdError::msg)?;
        }
        "importing" => {
            let mut map = cluster.map_mut();
            let from = node(&map)?;
            map.set_importing(slot, from).map_err(CmdError::msg)?;
        }
        "stable" if req.len() == 4 => cluster.map_mut().set_stable(slot),
        "node" => {
            let to = node(&cluster.map())?;
            // Giving away a slot whose keys are still here would strand
            // them: refused, as Redis does. The map lock is not held while
            // the keyspace is read.
            let mine = cluster.map().is_mine(slot);
            if mine
                && to != cluster.map().me_index()
                && !keys_in_slot(ctx.txn, slot as usize)?.is_empty()
            {
                return Err(CmdError::msg(format!(
                    "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
                )));
            }
            cluster.assign(slot, to).map_err(|e| {
                CmdError::msg(format!(
                    "ERR the slot moved but its new owner could not be saved: {e}"
                ))
            })?;
        }
        _ => return Err(CmdError::Syntax),
    }
    ctx.out.ok();
    Ok(Flow::Done)
}

/// ASKING: the next command follows an ASK redirection, so it may use a
/// slot importing into this node.
fn asking(ctx: &mut Ctx, _req: &Request) -> R {
    cluster_of(ctx)?;
    ctx.session.asking = true;
    ctx.out.ok();
    Ok(Flow::Done)
}

/// READONLY and READWRITE: accepted on a cluster node. Every node is a
/// primary for its slots (there are no replica nodes to read from), so
/// neither changes where a command runs.
fn accepted(ctx: &mut Ctx, _req: &Request) -> R {
    cluster_of(ctx)?;
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
    CommandSpec::new("asking", 1, FAST, KeySpec::None, asking).doc(
        "cluster",
        "Signals that a cluster client is following an -ASK redirect.",
    ),
];

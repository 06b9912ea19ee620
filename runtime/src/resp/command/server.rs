//! Server commands: DBSIZE FLUSHDB FLUSHALL TIME INFO COMMAND CONFIG.
//!
//! All are keyless. Those that count or clear keys go through the command's
//! `Txn` (`for_each_shard`), never through `Keyspace` directly: inside
//! MULTI/EXEC the transaction already holds every shard lock, and locking one
//! again would deadlock.
//!
//! Memory figures in INFO: `used_memory` and `used_memory_rss` come from
//! jemalloc (the whole process), while `used_memory_dataset` is the keyspace's
//! own byte estimate (`Keyspace::used_bytes`). The estimate is what
//! `maxmemory` is compared against: it tracks only data, so connection buffers
//! and allocator slack never trigger eviction.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use super::args::is;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec, table};
use crate::config::parse_memory;
use crate::engine::replica::LinkState;
use crate::engine::{glob_match, number};
use crate::keyspace::EvictionPolicy;
use crate::persist::AppendFsync;
use crate::resp::{Reply, Request};
use crate::server::Shared;

type R = Result<Flow, CmdError>;

fn dbsize(ctx: &mut Ctx, _req: &Request) -> R {
    let n = ctx.txn.dbsize()?;
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

/// FLUSHALL and FLUSHDB (one database). ASYNC and SYNC are accepted; both
/// free at once.
fn flushall(ctx: &mut Ctx, req: &Request) -> R {
    match req.len() {
        1 => {}
        2 if is(req.arg(1), "async") || is(req.arg(1), "sync") => {}
        _ => return Err(CmdError::Syntax),
    }
    ctx.txn.flush()?;
    ctx.out.ok();
    Ok(Flow::Done)
}

fn time(ctx: &mut Ctx, _req: &Request) -> R {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut b = itoa::Buffer::new();
    ctx.out.array(2);
    ctx.out.bulk(b.format(now.as_secs()).as_bytes());
    ctx.out.bulk(b.format(now.subsec_micros()).as_bytes());
    Ok(Flow::Done)
}

// ---------------------------------------------------------------------------
// INFO

/// A section writer: appends its `key:value\r\n` lines.
type SectionFn = fn(&mut Ctx, &mut String) -> Result<(), CmdError>;

/// INFO sections in Redis's order: (name, header, in the default set, writer).
const SECTIONS: &[(&str, &str, bool, SectionFn)] = &[
    ("server", "Server", true, info_server),
    ("clients", "Clients", true, info_clients),
    ("memory", "Memory", true, info_memory),
    ("persistence", "Persistence", true, info_persistence),
    ("stats", "Stats", true, info_stats),
    ("replication", "Replication", true, info_replication),
    ("cpu", "CPU", true, info_cpu),
    ("modules", "Modules", true, info_nothing),
    ("commandstats", "Commandstats", false, info_commandstats),
    ("errorstats", "Errorstats", true, info_errorstats),
    ("cluster", "Cluster", true, info_cluster),
    ("keyspace", "Keyspace", true, info_keyspace),
];

/// Appends `key:value\r\n`.
fn field(s: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = write!(s, "{key}:{value}\r\n");
}

/// Bytes as Redis's `bytesToHuman` prints them (`895.41K`, `2.00M`).
fn human_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, unit) in UNITS {
        if n >= size {
            return format!("{:.2}{unit}", n as f64 / size as f64);
        }
    }
    format!("{n}B")
}

fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// `uname -s -r -m`, as Redis's `os` field (Linux reads it from /proc).
fn os_name() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Some(t), Some(r)) => format!("{t} {r} {}", std::env::consts::ARCH),
        _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

fn info_server(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    let shared = ctx.session.shared();
    let uptime = shared.engine.started().elapsed().as_secs();
    field(s, "redis_version", super::connection::COMPAT_VERSION);
    field(s, "redis_git_sha1", "00000000");
    field(s, "redis_git_dirty", 0);
    field(s, "redis_mode", "standalone");
    field(s, "os", os_name());
    field(s, "arch_bits", usize::BITS);
    field(s, "process_id", std::process::id());
    field(s, "process_supervised", "no");
    field(s, "run_id", &shared.run_id);
    field(s, "tcp_port", shared.addr.port());
    field(s, "server_time_usec", unix_now().as_micros());
    field(s, "uptime_in_seconds", uptime);
    field(s, "uptime_in_days", uptime / 86_400);
    field(s, "hz", shared.config.hz);
    field(s, "configured_hz", shared.config.hz);
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    field(s, "executable", exe);
    field(s, "config_file", "");
    field(s, "meridian_version", env!("CARGO_PKG_VERSION"));
    field(s, "meridian_region", &shared.config.region_name);
    field(s, "meridian_region_id", shared.engine.region().0);
    Ok(())
}

fn info_clients(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    let shared = ctx.session.shared();
    let clients = shared.clients.snapshot();
    let pubsub = clients
        .iter()
        .filter(|c| c.subs.load(Ordering::Relaxed) + c.psubs.load(Ordering::Relaxed) > 0)
        .count();
    field(s, "connected_clients", clients.len());
    field(s, "cluster_connections", 0);
    field(
        s,
        "blocked_clients",
        shared.engine.blocking().blocked_clients() + shared.engine.locks().waiting_clients(),
    );
    field(s, "tracking_clients", 0);
    field(s, "pubsub_clients", pubsub);
    Ok(())
}

/// jemalloc's (allocated, resident) bytes, refreshed.
pub(crate) fn allocator_stats() -> (u64, u64) {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The statistics are cached until the epoch advances.
    let _ = epoch::advance();
    (
        stats::allocated::read().unwrap_or(0) as u64,
        stats::resident::read().unwrap_or(0) as u64,
    )
}

fn info_memory(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    let engine = &ctx.session.shared().engine;
    let (allocated, resident) = allocator_stats();
    let dataset = engine.keyspace().used_bytes() as u64;
    let maxmemory = engine.settings().maxmemory() as u64;
    field(s, "used_memory", allocated);
    field(s, "used_memory_human", human_bytes(allocated));
    field(s, "used_memory_rss", resident);
    field(s, "used_memory_rss_human", human_bytes(resident));
    // The keyspace estimate `maxmemory` is compared against (module docs).
    field(s, "used_memory_dataset", dataset);
    field(s, "used_memory_dataset_human", human_bytes(dataset));
    field(s, "maxmemory", maxmemory);
    field(s, "maxmemory_human", human_bytes(maxmemory));
    field(s, "maxmemory_policy", engine.settings().policy().name());
    field(s, "mem_allocator", "jemalloc");
    let (lua_bytes, cached_scripts) = ctx.session.shared().scripts.stats();
    field(s, "used_memory_lua", lua_bytes);
    field(s, "used_memory_lua_human", human_bytes(lua_bytes as u64));
    field(s, "number_of_cached_scripts", cached_scripts);
    Ok(())
}

/// Redis's persistence fields (see `persist::Persistence::info_fields`);
/// with persistence off, the values of a Redis that never saved.
fn info_persistence(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    let shared = ctx.session.shared();
    if let Some(p) = &shared.persist {
        for (k, v) in p.info_fields() {
            field(s, k, v);
        }
        return Ok(());
    }
    let started = unix_now()
        .as_secs()
        .saturating_sub(shared.engine.started().elapsed().as_secs());
    for (k, v) in [
        ("loading", "0"),
        ("async_loading", "0"),
        ("rdb_changes_since_last_save", "0"),
        ("rdb_bgsave_in_progress", "0"),
    ] {
        field(s, k, v);
    }
    field(s, "rdb_last_save_time", started);
    for (k, v) in [
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", "-1"),
        ("rdb_current_bgsave_time_sec", "-1"),
        ("rdb_saves", "0"),
        ("aof_enabled", "0"),
        ("aof_rewrite_in_progress", "0"),
        ("aof_rewrite_scheduled", "0"),
        ("aof_last_rewrite_time_sec", "-1"),
        ("aof_current_rewrite_time_sec", "-1"),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", "0"),
        ("aof_last_write_status", "ok"),
        ("module_fork_in_progress", "0"),
    ] {
        field(s, k, v);
    }
    Ok(())
}

fn info_stats(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    let shared = ctx.session.shared();
    let engine = &shared.engine;
    let counters = engine.keyspace().counters();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    field(
        s,
        "total_connections_received",
        load(&shared.clients.total_connections),
    );
    field(s, "total_commands_processed", load(&shared.stats.commands));
    field(
        s,
        "instantaneous_ops_per_sec",
        shared.stats.instantaneous_ops(),
    );
    field(s, "rejected_connections", 0);
    field(s, "expired_keys", load(&counters.expired));
    field(s, "evicted_keys", load(&counters.evicted));
    field(s, "keyspace_hits", load(&engine.stats().hits));
    field(s, "keyspace_misses", load(&engine.stats().misses));
    field(s, "pubsub_channels", engine.broker().channels(None).len());
    field(s, "pubsub_patterns", engine.broker().numpat());
    field(s, "total_error_replies", shared.stats.total_errors());
    let acl = &shared.acl.stats;
    field(s, "acl_access_denied_auth", load(&acl.denied_auth));
    field(s, "acl_access_denied_cmd", load(&acl.denied_cmd));
    field(s, "acl_access_denied_key", load(&acl.denied_key));
    field(s, "acl_access_denied_channel", load(&acl.denied_channel));
    Ok(())
}

fn info_replication(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    let shared = ctx.session.shared();
    field(s, "role", "master");
    field(s, "connected_slaves", 0);
    field(s, "master_failover_state", "no-failover");
    field(s, "master_replid", &shared.run_id);
    field(s, "master_replid2", "0".repeat(40));
    field(s, "master_repl_offset", 0);
    field(s, "second_repl_offset", -1);
    field(s, "repl_backlog_active", 0);
    let Some(replica) = shared.engine.replica() else {
        return Ok(());
    };
    // Active-active: every region is writable; these lines describe the
    // links to the other regions (docs/operations.md explains each field).
    field(s, "replication_mode", "active-active");
    field(s, "region_id", replica.me().0);
    field(s, "region_name", &shared.config.region_name);
    let peers = replica.peers();
    field(
        s,
        "connected_regions",
        peers.iter().filter(|p| p.state != LinkState::Down).count(),
    );
    field(s, "repl_log_bytes", replica.log().bytes());
    field(
        s,
        "repl_changes_logged",
        replica.changes_logged.load(Ordering::Relaxed),
    );
    field(
        s,
        "repl_changes_applied",
        replica.changes_applied.load(Ordering::Relaxed),
    );
    field(s, "repl_pending_keys", replica.side_table_len());
    field(s, "repl_pending_versions", replica.side_table_versions());
    field(s, "catching_up", u8::from(replica.catching_up()));
    for (i, p) in peers.iter().enumerate() {
        let lag = replica.peer_lag(p);
        let contact = p
            .last_contact
            .map_or(-1, |t| t.elapsed().as_millis() as i64);
        field(
            s,
            &format!("region{i}"),
            format_args!(
                "id={},name={},addr={},state={},ops_lag={},ms_lag={},last_contact_ms={},changes_in={},snapshots_in={},snapshots_out={}",
                p.region.0,
                p.name,
                p.addr,
                p.state.name(),
                lag.ops,
                lag.ms,
                contact,
                p.changes_in,
                p.snapshots_in,
                p.snapshots_out
            ),
        );
    }
    Ok(())
}

/// Process CPU time from /proc/self/stat (Linux), as getrusage reports it.
/// The kernel reports it in USER_HZ ticks, which is 100 on every Linux ABI.
fn cpu_times() -> Option<[f64; 4]> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is parenthesised and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) is index 11.
    let tick =
        |i: usize| -> Option<f64> { Some(fields.get(i)?.parse::<u64>().ok()? as f64 / 100.0) };
    Some([tick(12)?, tick(11)?, tick(14)?, tick(13)?])
}

fn info_cpu(_ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    if let Some([sys, user, sys_children, user_children]) = cpu_times() {
        let _ = write!(
            s,
            "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{sys_children:.6}\r\nused_cpu_user_children:{user_children:.6}\r\n"
        );
    }
    Ok(())
}

fn info_nothing(_ctx: &mut Ctx, _s: &mut String) -> Result<(), CmdError> {
    Ok(())
}

fn info_commandstats(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    for (name, calls, usec) in ctx.session.shared().stats.command_stats() {
        let per_call = usec as f64 / calls.max(1) as f64;
        let _ = write!(
            s,
            "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2}\r\n"
        );
    }
    Ok(())
}

fn info_errorstats(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    for (code, count) in ctx.session.shared().stats.error_stats() {
        let _ = write!(s, "errorstat_{code}:count={count}\r\n");
    }
    Ok(())
}

fn info_cluster(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    field(
        s,
        "cluster_enabled",
        u8::from(ctx.session.shared().cluster.is_some()),
    );
    Ok(())
}

fn info_keyspace(ctx: &mut Ctx, s: &mut String) -> Result<(), CmdError> {
    // Through the transaction: see the module docs on MULTI/EXEC.
    let (keys, expires) = ctx.txn.key_counts()?;
    if keys > 0 {
        let _ = write!(s, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
    }
    Ok(())
}

/// INFO [section ...]: no argument is the default set; `all` adds
/// commandstats, `everything` is the same here; unknown sections are ignored.
fn info(ctx: &mut Ctx, req: &Request) -> R {
    let mut wanted = [false; SECTIONS.len()];
    if req.len() == 1 {
        for (w, sec) in wanted.iter_mut().zip(SECTIONS) {
            *w = sec.2;
        }
    }
    for a in req.args_from(1) {
        for (w, sec) in wanted.iter_mut().zip(SECTIONS) {
            if is(a, "all") || is(a, "everything") || (is(a, "default") && sec.2) || is(a, sec.0) {
                *w = true;
            }
        }
    }
    let mut text = String::with_capacity(2048);
    for (w, (_, header, _, write)) in wanted.iter().zip(SECTIONS) {
        if !*w {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let _ = write!(text, "# {header}\r\n");
        write(ctx, &mut text)?;
    }
    ctx.out.verbatim(&text);
    Ok(Flow::Done)
}

// ---------------------------------------------------------------------------
// COMMAND

/// Redis's names for our flags, in Redis's order.
fn flag_names(c: &CommandSpec) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (BLOCKING, "blocking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
    ]
    .iter()
    .filter(|(f, _)| c.has(*f))
    .map(|(_, n)| *n)
    .collect();
    if matches!(c.keys, KeySpec::Custom(_)) {
        v.push("movablekeys");
    }
    v
}

/// ACL categories, as the ACL checks use them.
fn acl_categories(c: &CommandSpec) -> Vec<&'static str> {
    crate::acl::category::of(c).tagged().collect()
}

/// The legacy (first, last, step) key positions.
fn legacy_keys(c: &CommandSpec) -> (i64, i64, i64) {
    match c.keys {
        KeySpec::Range { first, last, step } => (first as i64, last as i64, step as i64),
        KeySpec::None | KeySpec::Custom(_) => (0, 0, 0),
    }
}

/// The key-spec access flags of a command's keys.
fn key_flags(c: &CommandSpec) -> [&'static str; 2] {
    if c.has(WRITE) {
        ["RW", "update"]
    } else {
        ["RO", "access"]
    }
}

fn write_key_specs(out: &mut Reply, c: &CommandSpec) {
    let KeySpec::Range { first, last, step } = c.keys else {
        // Keyless, or positions computed from the arguments (numkeys): we do
        // not describe those declaratively; COMMAND GETKEYS answers them.
        out.set(0);
        return;
    };
    out.set(1);
    out.map(3);
    out.bulk(b"flags");
    let flags = key_flags(c);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"index");
    out.bulk(b"spec");
    out.map(1);
    out.bulk(b"index");
    out.int(first as i64);
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"range");
    out.bulk(b"spec");
    out.map(3);
    out.bulk(b"lastkey");
    out.int(if last < 0 {
        last as i64
    } else {
        last as i64 - first as i64
    });
    out.bulk(b"keystep");
    out.int(step as i64);
    out.bulk(b"limit");
    out.int(0);
}

/// One COMMAND INFO entry, Redis 7's ten fields.
fn write_info(out: &mut Reply, c: &CommandSpec) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    let flags = flag_names(c);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let (first, last, step) = legacy_keys(c);
    out.int(first);
    out.int(last);
    out.int(step);
    let cats = acl_categories(c);
    out.set(cats.len());
    for cat in cats {
        out.simple(cat);
    }
    out.set(0); // tips
    write_key_specs(out, c);
    out.set(0); // subcommands
}

/// One COMMAND DOCS entry.
fn write_docs(out: &mut Reply, c: &CommandSpec) {
    out.bulk(c.name.as_bytes());
    out.map(3);
    out.bulk(b"summary");
    out.bulk(c.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(b"1.0.0");
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
}

fn sub_arity(name: &str, sub: &str) -> CmdError {
    CmdError::Arity(format!("{name}|{}", sub.to_ascii_lowercase()))
}

fn unknown_sub(req: &Request, help: &str) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand '{}'. Try {help} HELP.",
        String::from_utf8_lossy(req.arg(1))
    ))
}

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// COMMAND GETKEYS / GETKEYSANDFLAGS: the keys of the command in `req[2..]`,
/// with Redis's checks in Redis's order.
fn command_getkeys(ctx: &mut Ctx, req: &Request, with_flags: bool) -> R {
    let sub = req.arg(1);
    if req.len() < 4 {
        return Err(sub_arity("command", &String::from_utf8_lossy(sub)));
    }
    let inner = Request::from_args(&req.args_from(2).collect::<Vec<_>>());
    let spec = table()
        .get(inner.arg(0))
        .ok_or_else(|| CmdError::msg("ERR Invalid command specified"))?;
    if matches!(spec.keys, KeySpec::None) {
        return Err(CmdError::msg("ERR The command has no key arguments"));
    }
    if !spec.arity_ok(inner.len()) {
        return Err(CmdError::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = spec.keys.indices(&inner)?;
    if keys.is_empty() {
        return Err(CmdError::msg("ERR Invalid arguments specified for command"));
    }
    ctx.out.array(keys.len());
    for i in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(inner.arg(i));
            let flags = key_flags(spec);
            ctx.out.set(flags.len());
            for f in flags {
                ctx.out.simple(f);
            }
        } else {
            ctx.out.bulk(inner.arg(i));
        }
    }
    Ok(Flow::Done)
}

/// A COMMAND LIST FILTERBY predicate.
type ListFilter = Box<dyn Fn(&CommandSpec) -> bool>;

fn command(ctx: &mut Ctx, req: &Request) -> R {
    let all = table().all();
    if req.len() == 1 {
        ctx.out.array(all.len());
        for c in all {
            write_info(ctx.out, c);
        }
        return Ok(Flow::Done);
    }
    let sub = req.arg(1);
    let sub_name = String::from_utf8_lossy(sub).into_owned();
    if is(sub, "count") {
        if req.len() != 2 {
            return Err(sub_arity("command", &sub_name));
        }
        ctx.out.int(all.len() as i64);
    } else if is(sub, "info") {
        if req.len() == 2 {
            ctx.out.array(all.len());
            for c in all {
                write_info(ctx.out, c);
            }
        } else {
            ctx.out.array(req.len() - 2);
            for name in req.args_from(2) {
                match table().get(name) {
                    Some(c) => write_info(ctx.out, c),
                    None => ctx.out.null(),
                }
            }
        }
    } else if is(sub, "docs") {
        if req.len() == 2 {
            ctx.out.map(all.len());
            for c in all {
                write_docs(ctx.out, c);
            }
        } else {
            let mut found: Vec<&CommandSpec> = Vec::new();
            for name in req.args_from(2) {
                if let Some(c) = table().get(name)
                    && !found.iter().any(|f| f.name == c.name)
                {
                    found.push(c);
                }
            }
            ctx.out.map(found.len());
            for c in found {
                write_docs(ctx.out, c);
            }
        }
    } else if is(sub, "list") {
        let filter: Option<ListFilter> = match req.len() {
            2 => None,
            5 if is(req.arg(2), "filterby") => {
                let (kind, value) = (req.arg(3), req.arg(4).to_vec());
                if is(kind, "pattern") {
                    Some(Box::new(move |c: &CommandSpec| {
                        glob_match(&value.to_ascii_lowercase(), c.name.as_bytes())
                    }))
                } else if is(kind, "aclcat") {
                    let cat = format!("@{}", String::from_utf8_lossy(&value)).to_ascii_lowercase();
                    Some(Box::new(move |c: &CommandSpec| {
                        acl_categories(c).contains(&cat.as_str())
                    }))
                } else if is(kind, "module") {
                    Some(Box::new(|_: &CommandSpec| false))
                } else {
                    return Err(CmdError::Syntax);
                }
            }
            _ => return Err(CmdError::Syntax),
        };
        let names: Vec<&str> = all
            .iter()
            .filter(|c| filter.as_ref().is_none_or(|f| f(c)))
            .map(|c| c.name)
            .collect();
        ctx.out.array(names.len());
        for n in names {
            ctx.out.bulk(n.as_bytes());
        }
    } else if is(sub, "getkeys") {
        return command_getkeys(ctx, req, false);
    } else if is(sub, "getkeysandflags") {
        return command_getkeys(ctx, req, true);
    } else if is(sub, "help") && req.len() == 2 {
        ctx.out.help(COMMAND_HELP);
    } else {
        return Err(unknown_sub(req, "COMMAND"));
    }
    Ok(Flow::Done)
}

// ---------------------------------------------------------------------------
// CONFIG

/// A parsed, validated CONFIG SET value, applied only once all are valid.
enum Setting {
    MaxMemory(usize),
    Policy(EvictionPolicy),
    Samples(usize),
    LfuLogFactor(u64),
    LfuDecayTime(u64),
    ProtoMaxBulkLen(usize),
    /// The default user's password (empty: none).
    RequirePass(Vec<u8>),
    SlowlogSlowerThan(i64),
    SlowlogMaxLen(usize),
    LatencyThreshold(u64),
    NotifyKeyspaceEvents(u32),
    /// `busy-reply-threshold` / `lua-time-limit` in milliseconds.
    BusyReplyThreshold(u64),
    /// When the append log is synced.
    AppendFsync(AppendFsync),
    /// `save` or `appendonly`: fixed at start-up, so only their current
    /// value is accepted (checked against the server in `config_set`).
    Fixed(&'static str, String),
    /// Accepted and nothing to do.
    Nothing,
}

type Getter = fn(&Shared) -> String;
type Parser = fn(&str) -> Result<Setting, String>;

/// The parameters CONFIG knows: name, current value, and how to parse a new
/// one (`None`: cannot be changed at run time).
const PARAMS: &[(&str, Getter, Option<Parser>)] = &[
    (
        "maxmemory",
        |s| s.engine.settings().maxmemory().to_string(),
        Some(|v| memory(v).map(|n| Setting::MaxMemory(n as usize))),
    ),
    (
        "maxmemory-policy",
        |s| s.engine.settings().policy().name().to_string(),
        Some(|v| {
            EvictionPolicy::from_name(v).map(Setting::Policy).ok_or_else(|| {
                "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction".to_string()
            })
        }),
    ),
    (
        "maxmemory-samples",
        |s| s.engine.settings().samples().to_string(),
        Some(|v| integer(v, 1, i32::MAX as i64).map(|n| Setting::Samples(n as usize))),
    ),
    (
        "lfu-log-factor",
        |s| s.engine.settings().lfu_log_factor().to_string(),
        Some(|v| integer(v, 0, i32::MAX as i64).map(|n| Setting::LfuLogFactor(n as u64))),
    ),
    (
        "lfu-decay-time",
        |s| s.engine.settings().lfu_decay_time().to_string(),
        Some(|v| integer(v, 0, i32::MAX as i64).map(|n| Setting::LfuDecayTime(n as u64))),
    ),
    (
        "proto-max-bulk-len",
        |s| s.engine.settings().proto_max_bulk_len().to_string(),
        Some(|v| {
            let n = memory(v)?;
            if n < 1024 * 1024 || n > i64::MAX as u64 {
                return Err(
                    "argument must be between 1048576 and 9223372036854775807 inclusive".into(),
                );
            }
            Ok(Setting::ProtoMaxBulkLen(n as usize))
        }),
    ),
    (
        // Never shown: only hashes are kept (docs/security.md).
        "requirepass",
        |s| secret_shown(s.acl.requirepass_set()),
        Some(|v| Ok(Setting::RequirePass(v.as_bytes().to_vec()))),
    ),
    ("aclfile", |s| path_shown(s.config.aclfile.as_deref()), None),
    (
        "allow-unauthenticated",
        |s| yes_no(s.config.allow_unauthenticated),
        None,
    ),
    (
        "tls-port",
        |s| s.tls_addr.map_or(0, |a| a.port()).to_string(),
        None,
    ),
    (
        "tls-cert-file",
        |s| path_shown(s.config.tls_cert_file.as_deref()),
        None,
    ),
    (
        "tls-key-file",
        |s| path_shown(s.config.tls_key_file.as_deref()),
        None,
    ),
    (
        "tls-ca-cert-file",
        |s| path_shown(s.config.tls_ca_cert_file.as_deref()),
        None,
    ),
    (
        "tls-auth-clients",
        |s| s.config.tls_auth_clients().name().to_string(),
        None,
    ),
    (
        "admin-token",
        |s| secret_shown(s.config.admin_token.is_some()),
        None,
    ),
    (
        "slowlog-log-slower-than",
        |s| s.stats.slowlog.threshold_us().to_string(),
        Some(|v| integer(v, -1, i64::MAX).map(Setting::SlowlogSlowerThan)),
    ),
    (
        "slowlog-max-len",
        |s| s.stats.slowlog.max_len().to_string(),
        Some(|v| integer(v, 0, i64::MAX).map(|n| Setting::SlowlogMaxLen(n as usize))),
    ),
    (
        "latency-monitor-threshold",
        |s| s.stats.latency.threshold_ms().to_string(),
        Some(|v| integer(v, 0, i64::MAX).map(|n| Setting::LatencyThreshold(n as u64))),
    ),
    (
        "notify-keyspace-events",
        |s| crate::engine::notify::format_flags(s.engine.notifier().flags()),
        Some(|v| {
            crate::engine::notify::parse_flags(v)
                .map(Setting::NotifyKeyspaceEvents)
                .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())
        }),
    ),
    (
        "busy-reply-threshold",
        |s| s.scripts.control().threshold_ms().to_string(),
        Some(|v| integer(v, 0, i64::MAX).map(|n| Setting::BusyReplyThreshold(n as u64))),
    ),
    (
        "lua-time-limit",
        |s| s.scripts.control().threshold_ms().to_string(),
        Some(|v| integer(v, 0, i64::MAX).map(|n| Setting::BusyReplyThreshold(n as u64))),
    ),
    ("port", |s| s.addr.port().to_string(), None),
    ("bind", |s| s.config.bind.to_string(), None),
    ("hz", |s| s.config.hz.to_string(), None),
    ("repl-timeout", |s| s.config.repl_timeout.to_string(), None),
    ("databases", |_| "1".into(), None),
    (
        "save",
        |s| {
            s.persist.as_ref().map_or(String::new(), |p| {
                p.config()
                    .save
                    .iter()
                    .map(|(secs, n)| format!("{secs} {n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        },
        Some(|v| Ok(Setting::Fixed("save", v.to_string()))),
    ),
    (
        "appendonly",
        |s| yes_no(s.persist.as_ref().is_some_and(|p| p.log().is_some())),
        Some(|v| match v.to_ascii_lowercase().as_str() {
            b @ ("yes" | "no") => Ok(Setting::Fixed("appendonly", b.to_string())),
            _ => Err("argument must be 'yes' or 'no'".into()),
        }),
    ),
    (
        "appendfsync",
        |s| {
            s.persist
                .as_ref()
                .map_or(s.config.appendfsync, |p| p.appendfsync())
                .name()
                .to_string()
        },
        Some(|v| {
            AppendFsync::from_name(v)
                .map(Setting::AppendFsync)
                .ok_or_else(|| {
                    "argument(s) must be one of the following: always, everysec, no".to_string()
                })
        }),
    ),
    ("dir", |s| path_shown(s.config.dir.as_deref()), None),
    ("dbfilename", |s| s.config.dbfilename.clone(), None),
    ("appendfilename", |s| s.config.appendfilename.clone(), None),
    (
        "auto-aof-rewrite-percentage",
        |s| s.config.auto_aof_rewrite_percentage.to_string(),
        None,
    ),
    (
        "auto-aof-rewrite-min-size",
        |s| s.config.auto_aof_rewrite_min_size.to_string(),
        None,
    ),
];

/// How CONFIG GET shows a secret: never its value, only whether it is set.
fn secret_shown(set: bool) -> String {
    if set { "(hidden)" } else { "" }.to_string()
}

fn path_shown(p: Option<&std::path::Path>) -> String {
    p.map(|p| p.display().to_string()).unwrap_or_default()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn memory(v: &str) -> Result<u64, String> {
    parse_memory(v).ok_or_else(|| "argument must be a memory value".to_string())
}

fn integer(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n = number::parse_i64(v.as_bytes())
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

fn apply(shared: &Shared, s: Setting) {
    let settings = shared.engine.settings();
    match s {
        Setting::MaxMemory(n) => settings.set_maxmemory(n),
        Setting::Policy(p) => settings.set_policy(p),
        Setting::Samples(n) => settings.set_samples(n),
        Setting::LfuLogFactor(n) => settings.set_lfu_log_factor(n),
        Setting::LfuDecayTime(n) => settings.set_lfu_decay_time(n),
        Setting::ProtoMaxBulkLen(n) => settings.set_proto_max_bulk_len(n),
        // Checked in config_set before anything was applied.
        Setting::RequirePass(p) => {
            let _ = shared.acl.set_requirepass(&p);
        }
        Setting::SlowlogSlowerThan(n) => shared.stats.slowlog.set_threshold_us(n),
        Setting::SlowlogMaxLen(n) => shared.stats.slowlog.set_max_len(n),
        Setting::LatencyThreshold(n) => shared.stats.latency.set_threshold_ms(n),
        Setting::NotifyKeyspaceEvents(f) => shared.engine.set_notify_flags(f),
        Setting::BusyReplyThreshold(n) => shared.scripts.control().set_threshold_ms(n),
        Setting::AppendFsync(p) => {
            if let Some(persist) = &shared.persist {
                persist.set_appendfsync(p);
            }
        }
        Setting::Fixed(..) | Setting::Nothing => {}
    }
}

/// Whether `value` is what the fixed setting `name` is now (`save` points
/// compare parsed, so spacing does not matter).
fn fixed_matches(shared: &Shared, name: &str, value: &str) -> bool {
    let Some((_, get, _)) = PARAMS.iter().find(|(n, _, _)| *n == name) else {
        return false;
    };
    let now = get(shared);
    match name {
        "save" => {
            crate::config::parse_save(value).is_ok_and(|v| Ok(v) == crate::config::parse_save(&now))
        }
        _ => now.eq_ignore_ascii_case(value),
    }
}

fn config_get(ctx: &mut Ctx, req: &Request) -> R {
    let shared = ctx.session.shared();
    let mut hits: Vec<usize> = Vec::new();
    for pattern in req.args_from(2) {
        let pattern = pattern.to_ascii_lowercase();
        for (i, (name, _, _)) in PARAMS.iter().enumerate() {
            if !hits.contains(&i) && glob_match(&pattern, name.as_bytes()) {
                hits.push(i);
            }
        }
    }
    ctx.out.map(hits.len());
    for i in hits {
        let (name, get, _) = PARAMS[i];
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(get(shared).as_bytes());
    }
    Ok(Flow::Done)
}

/// CONFIG SET p v [p v ...]: all or nothing, with Redis's checks in Redis's
/// order (names first, then values).
fn config_set(ctx: &mut Ctx, req: &Request) -> R {
    let mut chosen: Vec<(usize, &[u8])> = Vec::new();
    for pair in req.args_from(2).collect::<Vec<_>>().chunks(2) {
        let (name, value) = (pair[0], pair[1]);
        let shown = String::from_utf8_lossy(name);
        let Some(i) = PARAMS.iter().position(|(n, _, _)| is(name, n)) else {
            return Err(CmdError::msg(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{shown}'"
            )));
        };
        let reason = if PARAMS[i].2.is_none() {
            Some("can't set immutable config")
        } else if chosen.iter().any(|(j, _)| *j == i) {
            Some("duplicate parameter")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(CmdError::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{shown}') - {reason}"
            )));
        }
        chosen.push((i, value));
    }
    let mut parsed = Vec::with_capacity(chosen.len());
    for (i, value) in chosen {
        let (name, _, parse) = PARAMS[i];
        let value = String::from_utf8_lossy(value);
        let setting = parse
            .map_or(Ok(Setting::Nothing), |p| p(&value))
            .map_err(|reason| {
                CmdError::msg(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                ))
            })?;
        parsed.push(setting);
    }
    let shared = ctx.session.shared();
    if parsed
        .iter()
        .any(|s| matches!(s, Setting::RequirePass(p) if p.is_empty()))
        && shared.acl.kept_closed()
    {
        return Err(CmdError::msg(format!(
            "ERR CONFIG SET failed (possibly related to argument 'requirepass') - {}",
            crate::acl::AclError::WouldOpen
        )));
    }
    for s in &parsed {
        if let Setting::Fixed(name, value) = s
            && !fixed_matches(shared, name, value)
        {
            return Err(CmdError::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - \
                 persistence is configured at start-up (config file or flags); \
                 only the current value is accepted"
            )));
        }
    }
    for s in parsed {
        apply(shared, s);
    }
    ctx.out.ok();
    Ok(Flow::Done)
}

/// CONFIG RESETSTAT: zeroes what INFO counts (commands, errors, hits, misses,
/// expired and evicted keys, connections).
fn config_resetstat(ctx: &mut Ctx) -> R {
    let shared = ctx.session.shared();
    shared.stats.reset();
    shared.clients.total_connections.store(0, Ordering::Relaxed);
    let engine = &shared.engine;
    engine.stats().hits.store(0, Ordering::Relaxed);
    engine.stats().misses.store(0, Ordering::Relaxed);
    let counters = engine.keyspace().counters();
    counters.expired.store(0, Ordering::Relaxed);
    counters.evicted.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(Flow::Done)
}

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

fn config(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let sub_name = String::from_utf8_lossy(sub).into_owned();
    let n = req.len();
    if is(sub, "get") {
        if n < 3 {
            return Err(sub_arity("config", &sub_name));
        }
        config_get(ctx, req)
    } else if is(sub, "set") {
        if n < 4 {
            return Err(sub_arity("config", &sub_name));
        }
        if !n.is_multiple_of(2) {
            return Err(CmdError::Syntax);
        }
        config_set(ctx, req)
    } else if is(sub, "resetstat") {
        if n != 2 {
            return Err(sub_arity("config", &sub_name));
        }
        config_resetstat(ctx)
    } else if is(sub, "rewrite") {
        if n != 2 {
            return Err(sub_arity("config", &sub_name));
        }
        // Settings come from a TOML file or flags; we never rewrite either.
        Err(CmdError::msg(
            "ERR The server is running without a config file",
        ))
    } else if is(sub, "help") && n == 2 {
        ctx.out.help(CONFIG_HELP);
        Ok(Flow::Done)
    } else {
        Err(unknown_sub(req, "CONFIG"))
    }
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $h:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: KeySpec::None,
            handler: $h,
            group: "server",
            summary: $summary,
        }
    };
}

/// The server commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "dbsize",
        1,
        READONLY | FAST,
        dbsize,
        "Returns the number of keys in the database."
    ),
    cmd!(
        "flushall",
        -1,
        WRITE,
        flushall,
        "Removes all keys from all databases."
    ),
    cmd!(
        "flushdb",
        -1,
        WRITE,
        flushall,
        "Remove all keys from the current database."
    ),
    cmd!("time", 1, FAST, time, "Returns the server time."),
    cmd!(
        "info",
        -1,
        0,
        info,
        "Returns information and statistics about the server."
    ),
    cmd!(
        "command",
        -1,
        0,
        command,
        "Returns detailed information about all commands."
    ),
    cmd!(
        "config",
        -2,
        ADMIN,
        config,
        "A container for server configuration commands."
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_matches_redis() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(916_904), "895.41K");
        assert_eq!(human_bytes(2 * 1024 * 1024), "2.00M");
        assert_eq!(human_bytes(3 << 30), "3.00G");
    }

    #[test]
    fn config_values_are_validated_like_redis() {
        let parse = |name: &str, v: &str| {
            let (_, _, p) = PARAMS.iter().find(|(n, _, _)| *n == name).unwrap();
            p.unwrap()(v).map(|_| ())
        };
        assert!(parse("maxmemory", "2mb").is_ok());
        assert_eq!(
            parse("maxmemory", "1.5mb").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(
            parse("maxmemory-samples", "0").unwrap_err(),
            "argument must be between 1 and 2147483647 inclusive"
        );
        assert_eq!(
            parse("lfu-log-factor", "x").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert!(parse("maxmemory-policy", "ALLKEYS-LRU").is_ok());
        assert!(parse("appendfsync", "ALWAYS").is_ok());
        assert_eq!(
            parse("appendfsync", "sometimes").unwrap_err(),
            "argument(s) must be one of the following: always, everysec, no"
        );
    }

    #[test]
    fn every_command_has_a_consistent_info_entry() {
        for c in table().all() {
            let (first, last, step) = legacy_keys(c);
            if first > 0 {
                assert!(step > 0, "{}", c.name);
                assert!(last < 0 || last >= first, "{}", c.name);
            }
            assert!(!acl_categories(c).is_empty(), "{}", c.name);
        }
    }
}

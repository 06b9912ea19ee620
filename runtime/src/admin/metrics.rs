//! `GET /metrics`: the figures INFO shows, in the Prometheus text format.
//! Only reads counters; it must never hold a shard lock longer than one
//! shard's count takes.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::engine::replica::LinkState;
use crate::server::Shared;

/// One metric family: `# HELP`, `# TYPE` and its samples.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, v) in samples {
        let _ = writeln!(out, "{name}{labels} {v}");
    }
}

fn one(v: impl Into<f64>) -> Vec<(String, f64)> {
    vec![(String::new(), v.into())]
}

/// Label values escaped as the text format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics page: the figures INFO shows, in Prometheus form.
pub fn metrics(shared: &Shared) -> String {
    let engine = &shared.engine;
    let ks = engine.keyspace();
    let (keys, volatile) = ks.key_counts();
    let c = ks.counters();
    let mut out = String::new();
    family(
        &mut out,
        "meridian_keys",
        "gauge",
        "Keys held.",
        &one(keys as f64),
    );
    family(
        &mut out,
        "meridian_keys_with_ttl",
        "gauge",
        "Keys with a TTL.",
        &one(volatile as f64),
    );
    family(
        &mut out,
        "meridian_dataset_bytes",
        "gauge",
        "Estimated bytes of all keys and values (what maxmemory is compared to).",
        &one(ks.used_bytes() as f64),
    );
    family(
        &mut out,
        "meridian_connected_clients",
        "gauge",
        "RESP client connections.",
        &one(shared.clients.len() as f64),
    );
    family(
        &mut out,
        "meridian_commands_total",
        "counter",
        "Commands processed.",
        &one(shared.stats.commands.load(Ordering::Relaxed) as f64),
    );
    family(
        &mut out,
        "meridian_expired_keys_total",
        "counter",
        "Keys deleted because their TTL passed.",
        &one(c.expired.load(Ordering::Relaxed) as f64),
    );
    family(
        &mut out,
        "meridian_evicted_keys_total",
        "counter",
        "Keys evicted to stay under maxmemory.",
        &one(c.evicted.load(Ordering::Relaxed) as f64),
    );
    wasm_metrics(shared, &mut out);
    let Some(replica) = engine.replica() else {
        return out;
    };
    family(
        &mut out,
        "meridian_repl_changes_logged_total",
        "counter",
        "Changes committed in this region.",
        &one(replica.changes_logged.load(Ordering::Relaxed) as f64),
    );
    family(
        &mut out,
        "meridian_repl_changes_applied_total",
        "counter",
        "Changes applied from other regions.",
        &one(replica.changes_applied.load(Ordering::Relaxed) as f64),
    );
    family(
        &mut out,
        "meridian_repl_log_bytes",
        "gauge",
        "Bytes held by the change log.",
        &one(replica.log().bytes() as f64),
    );
    family(
        &mut out,
        "meridian_repl_pending_keys",
        "gauge",
        "Keys carrying replication metadata (concurrent versions, early removals).",
        &one(replica.side_table_len() as f64),
    );
    family(
        &mut out,
        "meridian_repl_pending_versions",
        "gauge",
        "Versions held beside the keyspace until every region has seen them.",
        &one(replica.side_table_versions() as f64),
    );
    let peers = replica.peers();
    let mut up = Vec::new();
    let mut ops = Vec::new();
    let mut ms = Vec::new();
    let mut contact = Vec::new();
    let mut applied = Vec::new();
    for p in &peers {
        let l = format!("{{peer=\"{}\",peer_id=\"{}\"}}", label(&p.name), p.region.0);
        let lag = replica.peer_lag(p);
        up.push((l.clone(), f64::from(u8::from(p.state != LinkState::Down))));
        ops.push((l.clone(), lag.ops as f64));
        ms.push((l.clone(), lag.ms as f64));
        if let Some(t) = p.last_contact {
            contact.push((l.clone(), t.elapsed().as_secs_f64()));
        }
        applied.push((l, p.changes_in as f64));
    }
    family(
        &mut out,
        "meridian_repl_peer_up",
        "gauge",
        "1 if the link to the peer region is up.",
        &up,
    );
    family(
        &mut out,
        "meridian_repl_peer_ops_lag",
        "gauge",
        "Our changes the peer has not acknowledged.",
        &ops,
    );
    family(
        &mut out,
        "meridian_repl_peer_lag_ms",
        "gauge",
        "Age in ms of the oldest change the peer has not acknowledged.",
        &ms,
    );
    family(
        &mut out,
        "meridian_repl_peer_last_contact_seconds",
        "gauge",
        "Seconds since the peer was last heard from.",
        &contact,
    );
    family(
        &mut out,
        "meridian_repl_peer_changes_in_total",
        "counter",
        "Changes of the peer applied here.",
        &applied,
    );
    out
}

/// Guest calls and failures per WASM module.
fn wasm_metrics(shared: &Shared, out: &mut String) {
    let reg = shared.wasm.registry();
    let mut calls = Vec::new();
    let mut failures = Vec::new();
    let mut add = |kind: &str, name: &str, s: &crate::wasm::registry::ModuleStats| {
        let l = format!("module=\"{}\",kind=\"{kind}\"", label(name));
        calls.push((format!("{{{l}}}"), s.calls.load(Ordering::Relaxed) as f64));
        for (reason, c) in [
            ("trap", &s.traps),
            ("timeout", &s.timeouts),
            ("error", &s.errors),
        ] {
            failures.push((
                format!("{{{l},reason=\"{reason}\"}}"),
                c.load(Ordering::Relaxed) as f64,
            ));
        }
    };
    for m in reg.edges() {
        add("edge", &m.name, &m.stats);
    }
    for l in reg.libraries() {
        add("plugin", &l.name, &l.stats);
    }
    family(
        out,
        "meridian_wasm_calls_total",
        "counter",
        "Guest calls started, per module.",
        &calls,
    );
    family(
        out,
        "meridian_wasm_deploy_failures_total",
        "counter",
        "Modules deployed in another region (or restored from disk) that could not be loaded here.",
        &one({
            let d = shared.wasm.deploys();
            (d.failures.load(Ordering::Relaxed) + d.catalog().refused.load(Ordering::Relaxed))
                as f64
        }),
    );
    family(
        out,
        "meridian_wasm_failures_total",
        "counter",
        "Guest calls that trapped, ran past their deadline or answered an error.",
        &failures,
    );
}

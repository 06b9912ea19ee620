//! The regions view: this region and every link to another region, with
//! the figures INFO's replication section shows (state, lag in changes and
//! milliseconds, last contact) plus throughput from the timeline. A region
//! knows only its own links, so each region's console shows the mesh as
//! that region sees it. It only reads.

use std::sync::atomic::Ordering;

use serde::Serialize;

use super::timeline::Point;
use crate::engine::replica::LinkState;
use crate::server::Shared;

/// This region.
#[derive(Debug, Serialize)]
pub struct Region {
    /// Numeric id.
    pub id: u16,
    /// Name.
    pub name: String,
    /// True if it replicates with other regions.
    pub replicated: bool,
    /// Commands per second (INFO `instantaneous_ops_per_sec`).
    pub ops_per_sec: u64,
    /// Keys held.
    pub keys: usize,
    /// RESP clients connected.
    pub clients: usize,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Changes committed here (replicated regions).
    pub changes_logged: u64,
}

/// One link to another region.
#[derive(Debug, Serialize)]
pub struct Link {
    /// The peer's id.
    pub id: u16,
    /// Its name.
    pub name: String,
    /// Where we reach it ("accept" if it dials us).
    pub addr: String,
    /// `up`, `sync` or `down`.
    pub state: &'static str,
    /// Our changes it has not acknowledged.
    pub ops_lag: usize,
    /// Age in ms of the oldest of them.
    pub ms_lag: u64,
    /// Milliseconds since we last heard from it; `None` if never.
    pub last_contact_ms: Option<u64>,
    /// Its changes applied here.
    pub changes_in: u64,
    /// Its changes applied here per second (last second).
    pub changes_in_per_sec: f64,
    /// Snapshots received from it.
    pub snapshots_in: u64,
    /// Snapshots sent to it.
    pub snapshots_out: u64,
}

/// The whole view.
#[derive(Debug, Serialize)]
pub struct RegionsView {
    /// This region.
    pub region: Region,
    /// Its links, by peer id.
    pub links: Vec<Link>,
    /// True if any link is down: a partition as seen from here.
    pub partitioned: bool,
}

/// Reads the view now; `latest` gives the per-second rates.
pub fn view(shared: &Shared, latest: Option<&Point>) -> RegionsView {
    let engine = &shared.engine;
    let replica = engine.replica();
    let mut links: Vec<Link> = replica
        .map(|r| {
            r.peers()
                .into_iter()
                .map(|p| {
                    let lag = r.peer_lag(&p);
                    Link {
                        id: p.region.0,
                        state: p.state.name(),
                        ops_lag: lag.ops,
                        ms_lag: lag.ms,
                        last_contact_ms: p.last_contact.map(|t| t.elapsed().as_millis() as u64),
                        changes_in: p.changes_in,
                        changes_in_per_sec: latest
                            .and_then(|l| l.changes_in.get(&p.name).copied())
                            .unwrap_or(0.0),
                        snapshots_in: p.snapshots_in,
                        snapshots_out: p.snapshots_out,
                        addr: p.addr,
                        name: p.name,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    links.sort_by_key(|l| l.id);
    let partitioned = links.iter().any(|l| l.state == LinkState::Down.name());
    RegionsView {
        region: Region {
            id: engine.region().0,
            name: shared.config.region_name.clone(),
            replicated: replica.is_some(),
            ops_per_sec: shared.stats.instantaneous_ops(),
            keys: engine.keyspace().key_counts().0,
            clients: shared.clients.len(),
            uptime_secs: engine.started().elapsed().as_secs(),
            changes_logged: replica.map_or(0, |r| r.changes_logged.load(Ordering::Relaxed)),
        },
        links,
        partitioned,
    }
}

//! Multi-region tests: [`TestCluster`] runs `n` replicating regions in this
//! process, with every replication link routed through a [`Proxy`] the test
//! controls, so it can partition, stall, corrupt or cut links, restart a
//! region empty, and check that every region ends up with the same data.
//!
//! ```no_run
//! use std::time::Duration;
//! use meridian_tests::TestCluster;
//! use meridian_tests::call::ok;
//!
//! let cluster = TestCluster::start(3); // returns once every link is up
//! let _: () = ok(&mut cluster.conn(0), &["SET", "k", "v"]);
//!
//! // Region 2 stops hearing from (and talking to) the others.
//! cluster.partition(2);
//! let _: () = ok(&mut cluster.conn(2), &["SET", "k", "other"]);
//! cluster.heal(2);
//!
//! // Polls DEBUG DIGEST until all regions agree (and every change has been
//! // acknowledged); on timeout it panics with the keys that differ.
//! cluster.wait_converged(Duration::from_secs(30));
//!
//! // Region 1 comes back empty on the same replication port and is caught
//! // up by a snapshot.
//! cluster.restart(1);
//! cluster.wait_converged(Duration::from_secs(30));
//! ```
//!
//! # Layout
//!
//! Regions are numbered from 0 (their region ids are `i + 1`, their names
//! `region-{i+1}`). All of them run on one thread with one multi-thread tokio
//! runtime (like [`crate::TestServer`]), so tests stay blocking. The region
//! with the lower id dials the higher one, so the pair `(i, j)` has one
//! proxy, in front of the higher region's replication listener;
//! [`TestCluster::link`] returns it (either order of `i`, `j`). Switching it
//! to `hold`, `drop_traffic`, `cut`, `delay` or `pass` acts on that link at
//! once; [`TestCluster::partition`], [`TestCluster::isolate`] and
//! [`TestCluster::heal`] do it for every link of one region.
//!
//! # Restarts
//!
//! [`TestCluster::stop`] shuts a region down (its RESP port and replication
//! listener close); [`TestCluster::start_region`] starts it again *empty* (no
//! persistence) on the same replication port, which the proxies still point
//! at, and a fresh RESP port: always ask [`TestCluster::conn`] for a new
//! connection afterwards. [`TestCluster::restart`] does both. Acknowledged
//! writes a region had not yet shipped when it stops are lost with it (the
//! replication is asynchronous): a test that counts writes should let the
//! region's `ops_lag` reach 0 first ([`TestCluster::wait_shipped`]).
//!
//! # Checking convergence
//!
//! [`TestCluster::wait_converged`] polls DEBUG DIGEST (key, type, value,
//! absolute expiry) until every region agrees and every change has been
//! acknowledged (`ops_lag=0` on every link). When they do not agree in time
//! it panics with [`TestCluster::divergence_report`]: each differing key's
//! value, expiry and winning dot (region id, HLC stamp) per region, the
//! history of the first few (every logged change to them: origin, stamp,
//! context, value), and each region's INFO replication — usually enough to
//! tell which merge went wrong. [`TestCluster::try_wait_converged`] returns
//! the report instead. Compare quiescent regions: a key whose TTL runs out
//! between two regions' reads looks like a difference.
//!
//! [`TestCluster::shared`] gives a region's engine for white-box checks.
//! Dropping the cluster shuts every region and proxy down.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use meridian::config::Config;
use meridian::local_cluster::LocalCluster;
use meridian::server::{RunningServer, Shared};
use redis::{Connection, RedisResult};

use crate::digest::{Dump, Entry, keyspace_dump};
use crate::proxy::{Mode, Proxy};

/// How long start-up, stops and starts may take before the harness gives up.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Client timeouts on the connections the harness hands out.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often convergence and link states are polled.
const POLL: Duration = Duration::from_millis(50);
/// Keys listed per region when a convergence check fails.
const REPORT_KEYS: usize = 40;
/// Keys whose change history a failed convergence check prints.
const HISTORY_KEYS: usize = 4;
/// Changes of each such key printed (the newest).
const HISTORY_CHANGES: usize = 16;

/// A region that started: its RESP address and shared state.
/// A running region: its RESP address, state, and admin (console) and edge
/// HTTP addresses if configured.
#[derive(Clone)]
struct Started {
    addr: SocketAddr,
    shared: Arc<Shared>,
    admin: Option<SocketAddr>,
    http: Option<SocketAddr>,
}

impl Started {
    fn of(s: &RunningServer) -> Started {
        Started {
            addr: s.addr(),
            shared: s.shared().clone(),
            admin: s.metrics_addr(),
            http: s.http_addr(),
        }
    }
}

/// What the test thread asks the cluster thread to do.
enum Control {
    Stop(usize, mpsc::Sender<()>),
    Start(usize, mpsc::Sender<Result<Started, String>>),
}

/// One line `region<k>:id=..,name=..,…` of INFO replication: what a region
/// knows about one peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's region id (its index is `id - 1`).
    pub id: u16,
    /// Its name.
    pub name: String,
    /// The address dialled (or shown) for it.
    pub addr: String,
    /// `up`, `down` or `sync`.
    pub state: String,
    /// Our changes it has not acknowledged.
    pub ops_lag: u64,
    /// Age of the oldest of them, ms.
    pub ms_lag: u64,
    /// Since we last heard from it, ms (-1: never).
    pub last_contact_ms: i64,
    /// Its changes we applied.
    pub changes_in: u64,
    /// Snapshots received from it.
    pub snapshots_in: u64,
    /// Snapshots sent to it.
    pub snapshots_out: u64,
}

impl PeerInfo {
    /// The peer's region index.
    pub fn index(&self) -> usize {
        usize::from(self.id).saturating_sub(1)
    }
}

/// The `region<k>:` lines of an INFO replication reply.
pub fn parse_peers(info: &str) -> Vec<PeerInfo> {
    let mut out = Vec::new();
    for line in info.lines() {
        let Some((name, rest)) = line.trim_end().split_once(':') else {
            continue;
        };
        let is_peer = name
            .strip_prefix("region")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !is_peer {
            continue;
        }
        let mut p = PeerInfo::default();
        for pair in rest.split(',') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            match k {
                "id" => p.id = v.parse().unwrap_or(0),
                "name" => p.name = v.to_string(),
                "addr" => p.addr = v.to_string(),
                "state" => p.state = v.to_string(),
                "ops_lag" => p.ops_lag = v.parse().unwrap_or(u64::MAX),
                "ms_lag" => p.ms_lag = v.parse().unwrap_or(u64::MAX),
                "last_contact_ms" => p.last_contact_ms = v.parse().unwrap_or(-1),
                "changes_in" => p.changes_in = v.parse().unwrap_or(0),
                "snapshots_in" => p.snapshots_in = v.parse().unwrap_or(0),
                "snapshots_out" => p.snapshots_out = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        out.push(p);
    }
    out
}

/// The value of `field:` in an INFO reply.
pub fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|l| {
        l.trim_end()
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
    })
}

/// `n` regions replicating through proxies. See the module docs.
pub struct TestCluster {
    n: usize,
    names: Vec<String>,
    repl_addrs: Vec<SocketAddr>,
    /// RESP address and state of each region; `None` while it is stopped.
    addrs: Mutex<Vec<Option<Started>>>,
    /// The proxy of each pair `(i, j)`, `i < j`.
    links: BTreeMap<(usize, usize), Proxy>,
    /// Serialises stops and starts (and the address bookkeeping).
    control: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Control>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestCluster {
    /// `n` regions with default settings; returns once every link is up.
    pub fn start(n: usize) -> TestCluster {
        Self::start_with(n, |_| {})
    }

    /// `n` regions whose common configuration `configure` adjusts (the RESP
    /// port stays free-choice; ids and names are the cluster's).
    pub fn start_with(n: usize, configure: impl FnOnce(&mut Config)) -> TestCluster {
        assert!(n >= 1, "a cluster needs a region");
        let mut base = Config {
            port: 0,
            region_name: "region".into(),
            ..Config::default()
        };
        configure(&mut base);
        base.port = 0;
        base.port_fallback = false;

        type Plan = (Vec<SocketAddr>, Vec<String>);
        let (plan_tx, plan_rx) = mpsc::channel::<Result<Plan, String>>();
        let (route_tx, route_rx) = mpsc::channel::<BTreeMap<(usize, usize), SocketAddr>>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Vec<Started>, String>>();
        let (control_tx, control_rx) = tokio::sync::mpsc::unbounded_channel::<Control>();
        let thread = thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = plan_tx.send(Err(format!("cluster runtime: {e}")));
                    return;
                }
            };
            let (plan, listeners) = match rt.block_on(LocalCluster::bind(base, n)) {
                Ok(bound) => bound,
                Err(e) => {
                    let _ = plan_tx.send(Err(format!("binding the cluster: {e}")));
                    return;
                }
            };
            let repl = (0..n).map(|i| plan.repl_addr(i)).collect();
            let names = (0..n).map(|i| plan.name(i).to_string()).collect();
            if plan_tx.send(Ok((repl, names))).is_err() {
                return;
            }
            // The test thread starts the proxies (they need the listener
            // addresses) and tells us where they are.
            let Ok(proxies) = route_rx.recv() else {
                return;
            };
            rt.block_on(run_cluster(plan, listeners, proxies, ready_tx, control_rx));
        });

        let fail = |what: String| -> ! { panic!("cluster did not start: {what}") };
        let (repl_addrs, names) = match plan_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(plan)) => plan,
            Ok(Err(e)) => fail(e),
            Err(e) => fail(e.to_string()),
        };
        let mut links = BTreeMap::new();
        for (j, upstream) in repl_addrs.iter().enumerate() {
            // One proxy per pair, in front of the higher region's listener.
            for i in 0..j {
                links.insert((i, j), Proxy::start(*upstream));
            }
        }
        let routes = links.iter().map(|(k, p)| (*k, p.addr())).collect();
        if route_tx.send(routes).is_err() {
            fail("the cluster thread ended".into());
        }
        let addrs = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(addrs)) => addrs,
            Ok(Err(e)) => fail(e),
            Err(e) => fail(e.to_string()),
        };
        let cluster = TestCluster {
            n,
            names,
            repl_addrs,
            addrs: Mutex::new(addrs.into_iter().map(Some).collect()),
            links,
            control: Mutex::new(Some(control_tx)),
            thread: Some(thread),
        };
        cluster.wait_connected(START_TIMEOUT);
        // Connected is not yet writable: a region refuses writes until every
        // peer has said what it holds of the region's changes.
        cluster.wait_links_up(START_TIMEOUT);
        cluster
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True for a cluster of no regions (never: `start` refuses).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Region `i`'s name (`region-{i+1}`).
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Region `i`'s RESP address; panics while it is stopped.
    pub fn addr(&self, i: usize) -> SocketAddr {
        match self.try_addr(i) {
            Some(a) => a,
            None => panic!("region {i} is stopped"),
        }
    }

    /// Region `i`'s RESP address, `None` while it is stopped.
    pub fn try_addr(&self, i: usize) -> Option<SocketAddr> {
        self.lock_addrs()[i].as_ref().map(|s| s.addr)
    }

    /// Region `i`'s shared state (engine, counters), for white-box checks
    /// and failure reports; panics while it is stopped.
    pub fn shared(&self, i: usize) -> Arc<Shared> {
        match self.try_shared(i) {
            Some(s) => s,
            None => panic!("region {i} is stopped"),
        }
    }

    /// Region `i`'s shared state, `None` while it is stopped.
    pub fn try_shared(&self, i: usize) -> Option<Arc<Shared>> {
        self.lock_addrs()[i].as_ref().map(|s| s.shared.clone())
    }

    /// Region `i`'s admin HTTP address (metrics, console), if the cluster
    /// was configured with a `metrics_port`; panics while it is stopped.
    pub fn admin_addr(&self, i: usize) -> Option<SocketAddr> {
        match self.lock_addrs()[i].as_ref() {
            Some(s) => s.admin,
            None => panic!("region {i} is stopped"),
        }
    }

    /// Region `i`'s edge HTTP address, if the cluster was configured with an
    /// `http_port`; panics while it is stopped.
    pub fn http_addr(&self, i: usize) -> Option<SocketAddr> {
        match self.lock_addrs()[i].as_ref() {
            Some(s) => s.http,
            None => panic!("region {i} is stopped"),
        }
    }

    /// Region `i`'s RESP port (a new one after each restart).
    pub fn port(&self, i: usize) -> u16 {
        self.addr(i).port()
    }

    /// Region `i`'s replication listener, as the proxies reach it (the same
    /// across restarts). Connecting here bypasses every proxy.
    pub fn repl_addr(&self, i: usize) -> SocketAddr {
        self.repl_addrs[i]
    }

    /// A `redis` client for region `i`.
    pub fn client(&self, i: usize) -> redis::Client {
        match redis::Client::open(format!("redis://{}/", self.addr(i))) {
            Ok(c) => c,
            Err(e) => panic!("client for region {i}: {e}"),
        }
    }

    /// A synchronous RESP2 connection to region `i`, with 10 s timeouts.
    pub fn conn(&self, i: usize) -> Connection {
        match self.try_conn(i) {
            Ok(c) => c,
            Err(e) => panic!("connect to region {i}: {e}"),
        }
    }

    /// [`TestCluster::conn`], reporting failure (a stopped region, a
    /// restart in progress) instead of panicking.
    pub fn try_conn(&self, i: usize) -> RedisResult<Connection> {
        let Some(addr) = self.try_addr(i) else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "region is stopped",
            )));
        };
        let client = redis::Client::open(format!("redis://{addr}/"))?;
        let c = client.get_connection_with_timeout(IO_TIMEOUT)?;
        c.set_read_timeout(Some(IO_TIMEOUT))?;
        c.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(c)
    }

    /// The proxy on the link between regions `i` and `j` (either order).
    pub fn link(&self, i: usize, j: usize) -> &Proxy {
        assert_ne!(i, j, "no link from a region to itself");
        &self.links[&(i.min(j), i.max(j))]
    }

    /// The regions `i` has a link to, each with its proxy.
    pub fn links_of(&self, i: usize) -> impl Iterator<Item = (usize, &Proxy)> {
        (0..self.n)
            .filter(move |&j| j != i)
            .map(move |j| (j, self.link(i, j)))
    }

    /// Every link, as `((i, j), proxy)` with `i < j`.
    pub fn all_links(&self) -> impl Iterator<Item = ((usize, usize), &Proxy)> {
        self.links.iter().map(|(k, p)| (*k, p))
    }

    /// Puts every link of region `i` in `mode`.
    pub fn isolate(&self, i: usize, mode: Mode) {
        for (_, p) in self.links_of(i) {
            p.set_mode(mode);
        }
    }

    /// Cuts every link of region `i`: a hard partition (links go down and
    /// are redialled, in vain, until [`TestCluster::heal`]).
    pub fn partition(&self, i: usize) {
        self.isolate(i, Mode::Cut);
    }

    /// Holds every link of region `i`: a stalled network (links stay up,
    /// nothing flows; released in order by [`TestCluster::heal`]).
    pub fn hold(&self, i: usize) {
        self.isolate(i, Mode::Hold);
    }

    /// Lets every link of region `i` pass again.
    pub fn heal(&self, i: usize) {
        self.isolate(i, Mode::Pass);
    }

    /// Lets every link pass again.
    pub fn heal_all(&self) {
        for p in self.links.values() {
            p.pass();
        }
    }

    /// INFO replication of region `i`.
    pub fn info_replication(&self, i: usize) -> String {
        match self.try_info_replication(i) {
            Ok(s) => s,
            Err(e) => panic!("INFO replication of region {i}: {e}"),
        }
    }

    /// [`TestCluster::info_replication`], reporting errors.
    pub fn try_info_replication(&self, i: usize) -> RedisResult<String> {
        let mut c = self.try_conn(i)?;
        redis::cmd("INFO").arg("replication").query(&mut c)
    }

    /// What region `i` reports about each peer.
    pub fn peers(&self, i: usize) -> Vec<PeerInfo> {
        parse_peers(&self.info_replication(i))
    }

    /// DEBUG DIGEST of every region, in order; panics if one cannot answer.
    pub fn digests(&self) -> Vec<String> {
        match self.try_digests() {
            Ok(d) => d,
            Err(e) => panic!("DEBUG DIGEST: {e}"),
        }
    }

    /// [`TestCluster::digests`], reporting errors.
    pub fn try_digests(&self) -> RedisResult<Vec<String>> {
        (0..self.n)
            .map(|i| {
                let mut c = self.try_conn(i)?;
                redis::cmd("DEBUG").arg("DIGEST").query(&mut c)
            })
            .collect()
    }

    /// Polls until every region reports the same DEBUG DIGEST *and* every
    /// region has had all its changes acknowledged by every peer
    /// (`ops_lag=0`), so nothing is still on its way. Returns the common
    /// digest. Heal the links first: a partitioned region cannot catch up.
    ///
    /// On timeout it panics with what differs: for each key whose DEBUG
    /// DIGEST-VALUE is not the same everywhere, its dump (value, TTL) in every
    /// region, and each region's INFO replication.
    pub fn wait_converged(&self, timeout: Duration) -> String {
        match self.try_wait_converged(timeout) {
            Ok(digest) => digest,
            Err(report) => panic!("{report}"),
        }
    }

    /// [`TestCluster::wait_converged`], returning the failure report
    /// instead of panicking.
    pub fn try_wait_converged(&self, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.converged_now() {
                Ok(digest) => return Ok(digest),
                Err(why) => why,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "regions did not converge within {timeout:?}: {last}\n{}",
                    self.divergence_report()
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// `Ok(digest)` if the regions agree and nothing is in flight now, else
    /// why not.
    pub fn converged_now(&self) -> Result<String, String> {
        let digests = self.try_digests().map_err(|e| format!("digest: {e}"))?;
        if digests.iter().any(|d| *d != digests[0]) {
            return Err(format!("digests differ: {digests:?}"));
        }
        for i in 0..self.n {
            let info = self
                .try_info_replication(i)
                .map_err(|e| format!("INFO of region {i}: {e}"))?;
            for p in parse_peers(&info) {
                if p.ops_lag != 0 {
                    return Err(format!(
                        "equal digests, but region {i} has {} changes not acknowledged by region {} (state {})",
                        p.ops_lag,
                        p.index(),
                        p.state
                    ));
                }
            }
        }
        // Confirm nothing moved while INFO was read.
        let again = self.try_digests().map_err(|e| format!("digest: {e}"))?;
        if again != digests {
            return Err(format!("digests still moving: {again:?}"));
        }
        Ok(digests[0].clone())
    }

    /// A human-readable account of how the regions differ: the keys whose
    /// DEBUG DIGEST-VALUE differs between regions (up to a limit), with each
    /// region's value and PTTL, then every region's INFO replication.
    pub fn divergence_report(&self) -> String {
        let mut out = String::new();
        let mut dumps = Vec::new();
        for i in 0..self.n {
            let dump = self
                .try_conn(i)
                .and_then(|mut c| keyspace_dump(&mut c))
                .map_err(|e| e.to_string());
            match &dump {
                Ok(d) => {
                    let _ = writeln!(out, "region {i}: {} keys", d.len());
                }
                Err(e) => {
                    let _ = writeln!(out, "region {i}: cannot dump: {e}");
                }
            }
            dumps.push(dump.unwrap_or_default());
        }
        let keys: Vec<Vec<u8>> = dumps
            .iter()
            .flat_map(|d| d.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .cloned()
            .collect();
        let differing_keys = self.differing(&keys);
        let differing = differing_keys.len();
        for key in differing_keys.iter().take(REPORT_KEYS) {
            let _ = writeln!(out, "key {}:", show(key));
            for (i, dump) in dumps.iter().enumerate() {
                let pttl: Option<i64> = self
                    .try_conn(i)
                    .ok()
                    .and_then(|mut c| redis::cmd("PEXPIRETIME").arg(key).query::<i64>(&mut c).ok());
                let _ = writeln!(
                    out,
                    "  region {i}: {} (pexpiretime {}, written by {})\n    side table: {}",
                    dump.get(key).map_or("(absent)".to_string(), show_entry),
                    pttl.map_or("?".into(), |t| t.to_string()),
                    self.writer_of(i, key),
                    self.side_table_of(i, key)
                );
            }
        }
        for key in differing_keys.iter().take(HISTORY_KEYS) {
            out.push_str(&self.history(key, HISTORY_CHANGES));
        }
        if differing > REPORT_KEYS {
            let _ = writeln!(out, "… and {} more differing keys", differing - REPORT_KEYS);
        }
        let _ = writeln!(out, "{differing} keys differ");
        for i in 0..self.n {
            let info = self
                .try_info_replication(i)
                .unwrap_or_else(|e| format!("(no INFO: {e})"));
            let _ = writeln!(
                out,
                "--- INFO replication, region {i}:\n{}",
                info.trim_end()
            );
        }
        out
    }

    /// What region `i`'s replica holds beside its entry for `key`.
    fn side_table_of(&self, i: usize, key: &[u8]) -> String {
        let Some(shared) = self.try_shared(i) else {
            return "(region down)".into();
        };
        let Some(replica) = shared.engine.replica() else {
            return "(not replicated)".into();
        };
        let ks = shared.engine.keyspace();
        let index = ks.shard_of(meridian::keyspace::hash_key(key));
        replica.describe_key(index, key)
    }

    /// The changes touching `key` that are still in the regions' logs (each
    /// region logs only its own), oldest first, at most `last` of them: the
    /// causal history of a key that diverged.
    pub fn history(&self, key: &[u8], last: usize) -> String {
        use meridian::engine::change::{KeyOp, WireValue};
        use meridian::engine::replica::Replica;
        let mut changes = Vec::new();
        for i in 0..self.n {
            let Some(shared) = self.try_shared(i) else {
                continue;
            };
            let Some(replica) = shared.engine.replica() else {
                continue;
            };
            let Ok(log) = replica.log().read_after(0, usize::MAX) else {
                continue;
            };
            for (_, bytes) in log {
                let Ok(change) = Replica::decode(&bytes) else {
                    continue;
                };
                for op in &change.ops {
                    if op.key() != Some(key) {
                        continue;
                    }
                    let what = match op {
                        KeyOp::Put {
                            value, expire_at, ..
                        } => {
                            let v = match value {
                                WireValue::Str(b) => format!("string {}", show(b)),
                                other => {
                                    let mut d = format!("{other:?}");
                                    d.truncate(120);
                                    d
                                }
                            };
                            format!("PUT {v} expire_at={expire_at}")
                        }
                        KeyOp::Del { .. } => "DEL".to_string(),
                        _ => continue,
                    };
                    let ctx: Vec<String> = change
                        .ctx
                        .iter()
                        .map(|(r, s)| format!("{}:{}", r.0, show_stamp(s)))
                        .collect();
                    changes.push((
                        change.stamp,
                        format!(
                            "  {} by region id {} ctx {{{}}}: {what}",
                            show_stamp(change.stamp.0),
                            change.origin.0,
                            ctx.join(", ")
                        ),
                    ));
                }
            }
        }
        changes.sort_by_key(|c| c.0);
        let skip = changes.len().saturating_sub(last);
        let mut out = format!(
            "history of {} ({} changes logged):\n",
            show(key),
            changes.len()
        );
        for (_, line) in changes.into_iter().skip(skip) {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The keys of any region whose DEBUG DIGEST-VALUE (value and absolute
    /// expiry) is not the same in every region.
    pub fn differing_keys(&self) -> Vec<Vec<u8>> {
        let mut keys = BTreeSet::new();
        for i in 0..self.n {
            if let Ok(d) = self.try_conn(i).and_then(|mut c| keyspace_dump(&mut c)) {
                keys.extend(d.into_keys());
            }
        }
        self.differing(&keys.into_iter().collect::<Vec<_>>())
    }

    /// Those of `keys` whose DIGEST-VALUE differs between regions.
    fn differing(&self, keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut conns: Vec<Option<Connection>> =
            (0..self.n).map(|i| self.try_conn(i).ok()).collect();
        let mut out = Vec::new();
        for chunk in keys.chunks(500) {
            let per_region: Vec<Vec<Option<String>>> = conns
                .iter_mut()
                .map(|c| {
                    let got = c.as_mut().and_then(|c| {
                        let mut cmd = redis::cmd("DEBUG");
                        cmd.arg("DIGEST-VALUE");
                        for k in chunk {
                            cmd.arg(k);
                        }
                        cmd.query::<Vec<String>>(c).ok()
                    });
                    match got {
                        Some(v) => v.into_iter().map(Some).collect(),
                        None => vec![None; chunk.len()],
                    }
                })
                .collect();
            for (k, key) in chunk.iter().enumerate() {
                let first = &per_region[0][k];
                if per_region.iter().any(|r| r.get(k) != Some(first)) {
                    out.push(key.clone());
                }
            }
        }
        out
    }

    /// The dot (region id, HLC stamp as `ms.logical`) of the version of
    /// `key` region `i` shows, read from its engine.
    pub fn writer_of(&self, i: usize, key: &[u8]) -> String {
        let Some(shared) = self.try_shared(i) else {
            return "(stopped)".into();
        };
        let mut txn = shared.engine.txn_one(key);
        match txn.peek(key) {
            Ok(Some(e)) => format!(
                "region id {} at {}.{}",
                e.region.0,
                e.stamp.physical_ms(),
                e.stamp.logical()
            ),
            Ok(None) => "(absent)".into(),
            Err(e) => format!("(error {e})"),
        }
    }

    /// Waits until every region reports `connected_regions:{n-1}`.
    pub fn wait_connected(&self, timeout: Duration) {
        let want = (self.n - 1).to_string();
        let ok = crate::eventually(timeout, || {
            (0..self.n).all(|i| {
                self.try_info_replication(i)
                    .is_ok_and(|info| info_field(&info, "connected_regions") == Some(want.as_str()))
            })
        });
        if !ok {
            panic!("links did not come up within {timeout:?}\n{}", self.infos());
        }
    }

    /// Waits until every link whose proxy passes traffic, between running
    /// regions, shows `state=up` on both sides, and every running region
    /// has caught up (accepts writes).
    pub fn wait_links_up(&self, timeout: Duration) {
        let ok = crate::eventually(timeout, || self.links_up_now());
        if !ok {
            panic!("links did not come up within {timeout:?}\n{}", self.infos());
        }
    }

    fn links_up_now(&self) -> bool {
        let running: Vec<bool> = (0..self.n).map(|i| self.try_addr(i).is_some()).collect();
        for i in 0..self.n {
            if !running[i] {
                continue;
            }
            let Ok(info) = self.try_info_replication(i) else {
                return false;
            };
            // A region that (re)started accepts writes once caught up.
            if info_field(&info, "catching_up") == Some("1") {
                return false;
            }
            for p in parse_peers(&info) {
                let j = p.index();
                if j >= self.n || j == i || !running[j] {
                    continue;
                }
                let passing = matches!(self.link(i, j).mode(), Mode::Pass | Mode::Delay(_));
                if passing && p.state != "up" {
                    return false;
                }
            }
        }
        true
    }

    /// Waits until every peer of region `i` whose link passes has
    /// acknowledged all of `i`'s changes (`ops_lag=0`): after this, stopping
    /// `i` loses nothing it acknowledged.
    pub fn wait_shipped(&self, i: usize, timeout: Duration) {
        let ok = crate::eventually(timeout, || {
            self.try_info_replication(i).is_ok_and(|info| {
                parse_peers(&info).iter().all(|p| {
                    p.ops_lag == 0
                        || p.index() >= self.n
                        || !matches!(self.link(i, p.index()).mode(), Mode::Pass)
                })
            })
        });
        if !ok {
            panic!(
                "region {i}'s changes were not acknowledged within {timeout:?}\n{}",
                self.infos()
            );
        }
    }

    /// Shuts region `i` down (RESP and replication listeners close, its
    /// links drop). Its data is gone, unless it persists (`dir`).
    pub fn stop(&self, i: usize) {
        let control = self.lock_control();
        let Some(tx) = control.as_ref() else {
            panic!("cluster is shut down");
        };
        // No new connections to a region on its way down.
        self.lock_addrs()[i] = None;
        let (reply_tx, reply_rx) = mpsc::channel();
        if tx.send(Control::Stop(i, reply_tx)).is_err() {
            panic!("the cluster thread ended");
        }
        if reply_rx.recv_timeout(START_TIMEOUT).is_err() {
            panic!("region {i} did not stop");
        }
    }

    /// Starts stopped region `i` again — empty, or with what it persisted
    /// if the configuration sets `dir` — on its replication port (and
    /// a new RESP port), and waits until its passing links are up.
    pub fn start_region(&self, i: usize) {
        {
            let control = self.lock_control();
            let Some(tx) = control.as_ref() else {
                panic!("cluster is shut down");
            };
            let (reply_tx, reply_rx) = mpsc::channel();
            if tx.send(Control::Start(i, reply_tx)).is_err() {
                panic!("the cluster thread ended");
            }
            match reply_rx.recv_timeout(START_TIMEOUT) {
                Ok(Ok(started)) => self.lock_addrs()[i] = Some(started),
                Ok(Err(e)) => panic!("region {i} did not start: {e}"),
                Err(e) => panic!("region {i} did not start: {e}"),
            }
        }
        self.wait_links_up(START_TIMEOUT);
    }

    /// [`TestCluster::stop`] then [`TestCluster::start_region`]: region `i`
    /// comes back empty and is caught up by its peers.
    pub fn restart(&self, i: usize) {
        self.stop(i);
        self.start_region(i);
    }

    /// Every running region's INFO replication, for failure messages.
    pub fn infos(&self) -> String {
        let mut out = String::new();
        for i in 0..self.n {
            let info = self
                .try_info_replication(i)
                .unwrap_or_else(|e| format!("(no INFO: {e})"));
            let _ = writeln!(out, "--- region {i}:\n{}", info.trim_end());
        }
        out
    }

    fn lock_addrs(&self) -> std::sync::MutexGuard<'_, Vec<Option<Started>>> {
        self.addrs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_control(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<tokio::sync::mpsc::UnboundedSender<Control>>> {
        self.control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Closing the control channel makes the cluster thread shut every
        // region down; the proxies go after it, with the struct's fields.
        self.lock_control().take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The cluster thread: starts every region, then serves stops and starts
/// until the control channel closes, then shuts everything down.
async fn run_cluster(
    plan: LocalCluster,
    listeners: Vec<tokio::net::TcpListener>,
    proxies: BTreeMap<(usize, usize), SocketAddr>,
    ready: mpsc::Sender<Result<Vec<Started>, String>>,
    mut control: tokio::sync::mpsc::UnboundedReceiver<Control>,
) {
    // The lower id dials the higher one through the pair's proxy; the
    // address shown for a peer that dials us is its own listener.
    let route = move |from: usize, to: usize, direct: SocketAddr| -> String {
        match proxies.get(&(from, to)) {
            Some(p) if from < to => p.to_string(),
            _ => direct.to_string(),
        }
    };
    let mut servers: Vec<Option<RunningServer>> = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        match plan.start_region(i, l, &route).await {
            Ok(s) => servers.push(Some(s)),
            Err(e) => {
                let _ = ready.send(Err(format!("region {i}: {e}")));
                for s in servers.into_iter().flatten() {
                    s.shutdown().await;
                }
                return;
            }
        }
    }
    let addrs = servers.iter().flatten().map(Started::of).collect();
    if ready.send(Ok(addrs)).is_err() {
        for s in servers.into_iter().flatten() {
            s.shutdown().await;
        }
        return;
    }
    while let Some(cmd) = control.recv().await {
        match cmd {
            Control::Stop(i, reply) => {
                if let Some(s) = servers[i].take() {
                    s.shutdown().await;
                }
                let _ = reply.send(());
            }
            Control::Start(i, reply) => {
                if servers[i].is_some() {
                    let _ = reply.send(Err("already running".into()));
                    continue;
                }
                let result = match rebind(plan.repl_addr(i)).await {
                    Ok(l) => plan
                        .start_region(i, l, &route)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                let _ = reply.send(result.map(|s| {
                    let started = Started::of(&s);
                    servers[i] = Some(s);
                    started
                }));
            }
        }
    }
    for s in servers.into_iter().flatten() {
        s.shutdown().await;
    }
}

/// Binds `addr` again after its listener closed, retrying briefly (tokio
/// sets SO_REUSEADDR, so only a listener not yet dropped can be in the way).
async fn rebind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("rebinding {addr}: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// An HLC stamp as `physical_ms.logical`.
fn show_stamp(s: u64) -> String {
    format!("{}.{}", s >> 16, s & 0xffff)
}

/// Bytes as text where they are printable, escaped elsewhere.
fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

fn show_entry(e: &Entry) -> String {
    let value = match &e.value {
        Dump::String(v) => format!("string {}", show(v)),
        Dump::Hash(pairs) => {
            let fields: Vec<String> = pairs
                .iter()
                .map(|(f, v)| format!("{}={}", show(f), show(v)))
                .collect();
            format!("hash {{{}}}", fields.join(", "))
        }
        Dump::Set(members) => {
            let m: Vec<String> = members.iter().map(|m| show(m)).collect();
            format!("set {{{}}}", m.join(", "))
        }
        Dump::ZSet(pairs) => {
            let m: Vec<String> = pairs
                .iter()
                .map(|(m, s)| format!("{}:{s}", show(m)))
                .collect();
            format!("zset [{}]", m.join(", "))
        }
        Dump::List(items) => {
            let m: Vec<String> = items.iter().map(|m| show(m)).collect();
            format!("list [{}]", m.join(", "))
        }
        Dump::Document(json) => format!("document {}", show(json)),
    };
    if e.expiring {
        format!("{value} (expiring)")
    } else {
        value
    }
}

//! `repl-load`: sustained SETs into every region of a Meridian cluster at
//! once, at a target rate, timing how long a write acknowledged in one region
//! takes to become visible in the others. Driven by
//! `scripts/bench-replication.sh`; not a test, and it asserts nothing about
//! speed (it fails only when writes error or probes never arrive).
//!
//! Load: each region gets `rate / regions` SETs per second from `lanes`
//! concurrent writers sharing `conns` multiplexed connections. Writers follow
//! a fixed schedule (write `n` of a region is due at `n / region_rate`), so a
//! slow server lowers the achieved rate instead of hiding behind it.
//!
//! Convergence: one write in `sample` is a probe, a SET of a key written
//! nowhere else with a unique value. When its SET is acknowledged in region A
//! the probe goes to one poller per other region; each poller owns a
//! dedicated connection and, while it has probes outstanding, loops
//! pipelining a GET for each of them. A probe's latency in region B is the
//! time from A's acknowledgement to the reply in which B first returns the
//! value: an upper bound, coarse by at most one poll round trip.
//!
//! Replication throughput: the sum of every region's INFO
//! `repl_changes_applied` before, right after and after draining the load.
//!
//! The last line of output is `RESULT key=value ...` for scripts.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

#[derive(Parser, Clone)]
#[command(
    name = "repl-load",
    about = "Sustained writes to every region; convergence latency and replication throughput"
)]
struct Args {
    /// RESP ports of the regions, comma-separated (at least two).
    #[arg(long, value_delimiter = ',', required = true)]
    ports: Vec<u16>,
    /// Host every region listens on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Target writes per second, in total over all regions.
    #[arg(long, default_value_t = 50_000)]
    rate: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// One write in this many (per region) is a convergence probe.
    #[arg(long, default_value_t = 100)]
    sample: u64,
    /// Concurrent writers per region.
    #[arg(long, default_value_t = 64)]
    lanes: usize,
    /// Multiplexed write connections per region (the writers share them).
    #[arg(long, default_value_t = 2)]
    conns: usize,
    /// Distinct non-probe keys written per region.
    #[arg(long, default_value_t = 100_000)]
    keyspace: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 16)]
    value_size: usize,
    /// Seconds after which an unseen probe counts as lost, and the longest
    /// wait for replication to drain after the load.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Most GETs a poller sends in one round.
const POLL_BATCH: usize = 256;
/// How often INFO is sampled during the load for peak lag.
const INFO_EVERY: Duration = Duration::from_millis(250);

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.ports.len() < 2 {
        eprintln!("repl-load: need the ports of at least two regions");
        return ExitCode::from(2);
    }
    if args.rate == 0 || args.sample == 0 || args.lanes == 0 || args.conns == 0 {
        eprintln!("repl-load: --rate, --sample, --lanes and --conns must be positive");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("repl-load: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("repl-load: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A probe write, acknowledged by its region.
struct Probe {
    id: u64,
    key: String,
    value: Vec<u8>,
    acked: Instant,
}

/// The shared write schedule.
struct Plan {
    start: Instant,
    end: Instant,
    region_rate: f64,
    lanes: usize,
    sample: u64,
    keyspace: u64,
    regions: usize,
    value: Vec<u8>,
}

#[derive(Default)]
struct LaneResult {
    /// SET round trips, microseconds.
    latency_us: Vec<u32>,
    acked: u64,
    errors: u64,
    first_error: Option<String>,
}

#[derive(Default)]
struct PollResult {
    /// (probe id, ms from acknowledgement to visibility).
    seen: Vec<(u64, f64)>,
    /// Probes never seen within the timeout.
    lost: Vec<u64>,
    rounds: u64,
}

/// What INFO replication says about one region.
#[derive(Debug, Default, Clone, Copy)]
struct ReplInfo {
    applied: u64,
    logged: u64,
    pending_keys: u64,
    links: usize,
    links_up: usize,
    max_ops_lag: u64,
    max_ms_lag: u64,
}

async fn connect(host: &str, port: u16) -> Res<MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{host}:{port}/"))
        .map_err(|e| format!("bad address {host}:{port}: {e}"))?;
    // No response timeout: under load a reply may legitimately take longer
    // than the client's default half second, and that is what we measure.
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))
}

async fn repl_info(conn: &mut MultiplexedConnection, port: u16) -> Res<ReplInfo> {
    let text: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(conn)
        .await
        .map_err(|e| format!("INFO replication on port {port}: {e}"))?;
    let mut info = ReplInfo::default();
    let mut active_active = false;
    for line in text.lines() {
        let Some((k, v)) = line.trim_end().split_once(':') else {
            continue;
        };
        let num = || v.parse::<u64>().unwrap_or(0);
        match k {
            "replication_mode" => active_active = v == "active-active",
            "repl_changes_applied" => info.applied = num(),
            "repl_changes_logged" => info.logged = num(),
            "repl_pending_keys" => info.pending_keys = num(),
            _ if k.starts_with("region") && k[6..].bytes().all(|b| b.is_ascii_digit()) => {
                info.links += 1;
                for kv in v.split(',') {
                    match kv.split_once('=') {
                        Some(("state", s)) => info.links_up += usize::from(s == "up"),
                        Some(("ops_lag", n)) => {
                            info.max_ops_lag = info.max_ops_lag.max(n.parse().unwrap_or(0))
                        }
                        Some(("ms_lag", n)) => {
                            info.max_ms_lag = info.max_ms_lag.max(n.parse().unwrap_or(0))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if !active_active {
        return Err(format!(
            "port {port} does not replicate (no replication_mode:active-active in INFO replication)"
        ));
    }
    Ok(info)
}

async fn all_info(conns: &mut [MultiplexedConnection], ports: &[u16]) -> Res<Vec<ReplInfo>> {
    let mut out = Vec::with_capacity(conns.len());
    for (c, &p) in conns.iter_mut().zip(ports) {
        out.push(repl_info(c, p).await?);
    }
    Ok(out)
}

fn total_applied(infos: &[ReplInfo]) -> u64 {
    infos.iter().map(|i| i.applied).sum()
}

async fn writer(
    region: usize,
    lane: usize,
    mut conn: MultiplexedConnection,
    plan: Arc<Plan>,
    pollers: Vec<mpsc::UnboundedSender<Arc<Probe>>>,
) -> LaneResult {
    let mut r = LaneResult::default();
    let mut n = lane as u64;
    loop {
        let due = plan.start + Duration::from_secs_f64(n as f64 / plan.region_rate);
        if due >= plan.end || Instant::now() >= plan.end {
            break;
        }
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let probe = n.is_multiple_of(plan.sample);
        let (key, value) = if probe {
            let mut v = format!("{region}:{n}:").into_bytes();
            if v.len() < plan.value.len() {
                v.extend_from_slice(&plan.value[v.len()..]);
            }
            (format!("probe:{region}:{n}"), v)
        } else {
            (
                format!("rl:{region}:{}", n % plan.keyspace),
                plan.value.clone(),
            )
        };
        let sent = Instant::now();
        match redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .query_async::<()>(&mut conn)
            .await
        {
            Ok(()) => {
                let acked = Instant::now();
                r.acked += 1;
                r.latency_us
                    .push(acked.duration_since(sent).as_micros().min(u32::MAX as u128) as u32);
                if probe {
                    let p = Arc::new(Probe {
                        id: n * plan.regions as u64 + region as u64,
                        key,
                        value,
                        acked,
                    });
                    for tx in &pollers {
                        let _ = tx.send(p.clone());
                    }
                }
            }
            Err(e) => {
                r.errors += 1;
                if r.first_error.is_none() {
                    r.first_error = Some(format!("SET {key} in region {}: {e}", region + 1));
                }
            }
        }
        n += plan.lanes as u64;
    }
    r
}

async fn poller(
    mut conn: MultiplexedConnection,
    mut rx: mpsc::UnboundedReceiver<Arc<Probe>>,
    timeout: Duration,
    port: u16,
) -> Res<PollResult> {
    let mut r = PollResult::default();
    let mut pending: Vec<Arc<Probe>> = Vec::new();
    let mut open = true;
    loop {
        if pending.is_empty() {
            if !open {
                break;
            }
            match rx.recv().await {
                Some(p) => pending.push(p),
                None => break,
            }
        }
        while open {
            match rx.try_recv() {
                Ok(p) => pending.push(p),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        let rest = pending.split_off(pending.len().min(POLL_BATCH));
        let mut pipe = redis::pipe();
        for p in &pending {
            pipe.cmd("GET").arg(&p.key);
        }
        let values: Vec<Option<Vec<u8>>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("polling GETs on port {port}: {e}"))?;
        let now = Instant::now();
        r.rounds += 1;
        let mut keep = rest;
        for (p, v) in pending.drain(..).zip(values) {
            let waited = now.duration_since(p.acked);
            if v.as_deref() == Some(&p.value[..]) {
                r.seen.push((p.id, waited.as_secs_f64() * 1e3));
            } else if waited > timeout {
                r.lost.push(p.id);
            } else {
                keep.push(p);
            }
        }
        pending = keep;
    }
    Ok(r)
}

/// Nearest-rank percentile of sorted `v`.
fn pct<T: Copy + Default>(v: &[T], p: f64) -> T {
    if v.is_empty() {
        return T::default();
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn sorted_f64(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

async fn run(args: Args) -> Res<()> {
    let regions = args.ports.len();
    let host = args.host.as_str();
    let mut info_conns = Vec::with_capacity(regions);
    let mut write_conns = Vec::with_capacity(regions);
    let mut poll_conns = Vec::with_capacity(regions);
    for &port in &args.ports {
        info_conns.push(connect(host, port).await?);
        let mut w = Vec::with_capacity(args.conns);
        for _ in 0..args.conns {
            w.push(connect(host, port).await?);
        }
        write_conns.push(w);
        poll_conns.push(connect(host, port).await?);
    }
    let before = all_info(&mut info_conns, &args.ports).await?;
    for (i, info) in before.iter().enumerate() {
        if info.links != regions - 1 || info.links_up != regions - 1 {
            return Err(format!(
                "region on port {} has {} of {} links up ({} configured): start the load once the cluster is connected",
                args.ports[i],
                info.links_up,
                regions - 1,
                info.links
            ));
        }
    }

    println!(
        "repl-load: {regions} regions (ports {}), target {} writes/s in total for {} s, 1 write in {} probed, {} writers x {} connections per region",
        args.ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.rate,
        args.duration,
        args.sample,
        args.lanes,
        args.conns
    );

    let timeout = Duration::from_secs_f64(args.timeout);
    let mut senders = Vec::with_capacity(regions);
    let mut pollers = Vec::with_capacity(regions);
    for (i, conn) in poll_conns.into_iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        pollers.push(tokio::spawn(poller(conn, rx, timeout, args.ports[i])));
    }

    let start = Instant::now() + Duration::from_millis(50);
    let plan = Arc::new(Plan {
        start,
        end: start + Duration::from_secs_f64(args.duration),
        region_rate: args.rate as f64 / regions as f64,
        lanes: args.lanes,
        sample: args.sample,
        keyspace: args.keyspace.max(1),
        regions,
        value: vec![b'x'; args.value_size],
    });
    let mut writers = Vec::new();
    for (region, conns) in write_conns.iter().enumerate() {
        let others: Vec<_> = (0..regions)
            .filter(|&j| j != region)
            .map(|j| senders[j].clone())
            .collect();
        for lane in 0..args.lanes {
            writers.push(tokio::spawn(writer(
                region,
                lane,
                conns[lane % conns.len()].clone(),
                plan.clone(),
                others.clone(),
            )));
        }
    }
    drop(senders);

    // Peak lag while loading, sampled on connections of their own.
    let mut sample_conns = Vec::with_capacity(regions);
    for &port in &args.ports {
        sample_conns.push(connect(host, port).await?);
    }
    let sampler_ports = args.ports.clone();
    let sampler_plan = plan.clone();
    let sampler = tokio::spawn(async move {
        let (mut ops, mut ms) = (0u64, 0u64);
        let mut next = Instant::now();
        while Instant::now() < sampler_plan.end {
            next += INFO_EVERY;
            tokio::time::sleep_until(next.into()).await;
            if let Ok(infos) = all_info(&mut sample_conns, &sampler_ports).await {
                for i in infos {
                    ops = ops.max(i.max_ops_lag);
                    ms = ms.max(i.max_ms_lag);
                }
            }
        }
        (ops, ms)
    });

    let applied_start = total_applied(&all_info(&mut info_conns, &args.ports).await?);
    let mut lanes = LaneResult::default();
    for w in writers {
        let r = w.await.map_err(|e| format!("writer task: {e}"))?;
        lanes.acked += r.acked;
        lanes.errors += r.errors;
        lanes.latency_us.extend(r.latency_us);
        if lanes.first_error.is_none() {
            lanes.first_error = r.first_error;
        }
    }
    let load_end = Instant::now();
    let load_secs = load_end.duration_since(plan.start).as_secs_f64();
    let applied_end = total_applied(&all_info(&mut info_conns, &args.ports).await?);

    // Drain: every link's ops_lag back to 0.
    let drained = loop {
        let infos = all_info(&mut info_conns, &args.ports).await?;
        if infos.iter().all(|i| i.max_ops_lag == 0) {
            break Some(load_end.elapsed());
        }
        if load_end.elapsed() > timeout {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let after = all_info(&mut info_conns, &args.ports).await?;
    let (peak_ops_lag, peak_ms_lag) = sampler.await.map_err(|e| format!("sampler: {e}"))?;

    let mut per_peer = Vec::new();
    let mut lost_ids = HashSet::new();
    let mut rounds = 0;
    let mut everywhere: HashMap<u64, (usize, f64)> = HashMap::new();
    for p in pollers {
        let r = p.await.map_err(|e| format!("poller task: {e}"))??;
        lost_ids.extend(r.lost);
        rounds += r.rounds;
        for (id, ms) in r.seen {
            per_peer.push(ms);
            let e = everywhere.entry(id).or_insert((0, 0.0));
            e.0 += 1;
            e.1 = e.1.max(ms);
        }
    }
    let lost = lost_ids.len() as u64;
    let probes = everywhere
        .keys()
        .filter(|id| !lost_ids.contains(*id))
        .count() as u64
        + lost;
    let all: Vec<f64> = everywhere
        .values()
        .filter(|(n, _)| *n == regions - 1)
        .map(|(_, ms)| *ms)
        .collect();
    let all = sorted_f64(all);
    let per_peer = sorted_f64(per_peer);
    lanes.latency_us.sort_unstable();
    let wl = |p: f64| pct(&lanes.latency_us, p) as f64 / 1e3;

    let write_rate = lanes.acked as f64 / load_secs;
    let applied_rate = (applied_end - applied_start) as f64 / load_secs;
    let applied_total = total_applied(&after) - total_applied(&before);
    let expected_applied = lanes.acked * (regions as u64 - 1);
    let pending_keys: u64 = after.iter().map(|i| i.pending_keys).sum();
    let drain_ms = drained.map_or(-1.0, |d| d.as_secs_f64() * 1e3);

    println!(
        "writes:       {} acknowledged in {:.2} s = {:.0}/s (target {}), {} errors",
        lanes.acked, load_secs, write_rate, args.rate, lanes.errors
    );
    println!(
        "SET latency:  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        wl(50.0),
        wl(99.0),
        wl(100.0)
    );
    println!(
        "convergence:  {} probes, ack in one region -> visible in all {} others: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  ({} lost)",
        probes,
        regions - 1,
        pct(&all, 50.0),
        pct(&all, 99.0),
        pct(&all, 100.0),
        lost
    );
    println!(
        "              per peer ({} observations): p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms; {} poll rounds",
        per_peer.len(),
        pct(&per_peer, 50.0),
        pct(&per_peer, 99.0),
        pct(&per_peer, 100.0),
        rounds
    );
    println!(
        "replication:  {:.0} changes applied/s during the load (sum of repl_changes_applied deltas), peak ops_lag {} / ms_lag {} (INFO every {} ms)",
        applied_rate,
        peak_ops_lag,
        peak_ms_lag,
        INFO_EVERY.as_millis()
    );
    println!(
        "              {} changes applied in all vs {} expected ({} writes x {} peers); drained {} after the load; repl_pending_keys {}",
        applied_total,
        expected_applied,
        lanes.acked,
        regions - 1,
        drained.map_or_else(
            || format!("NOT within {} s", args.timeout),
            |d| format!("in {:.1} ms", d.as_secs_f64() * 1e3)
        ),
        pending_keys
    );
    println!(
        "RESULT target_rate={} write_rate={:.0} writes={} write_errors={} set_p50_ms={:.3} set_p99_ms={:.3} probes={} lost={} conv_p50_ms={:.3} conv_p99_ms={:.3} conv_max_ms={:.3} peer_p50_ms={:.3} peer_p99_ms={:.3} applied_rate={:.0} applied_total={} applied_expected={} drain_ms={:.1} peak_ops_lag={} peak_ms_lag={} pending_keys={}",
        args.rate,
        write_rate,
        lanes.acked,
        lanes.errors,
        wl(50.0),
        wl(99.0),
        probes,
        lost,
        pct(&all, 50.0),
        pct(&all, 99.0),
        pct(&all, 100.0),
        pct(&per_peer, 50.0),
        pct(&per_peer, 99.0),
        applied_rate,
        applied_total,
        expected_applied,
        drain_ms,
        peak_ops_lag,
        peak_ms_lag,
        pending_keys
    );

    if let Some(e) = lanes.first_error {
        return Err(format!("{} writes failed; first: {e}", lanes.errors));
    }
    if lost > 0 {
        return Err(format!(
            "{lost} of {probes} probes never became visible in every region within {} s",
            args.timeout
        ));
    }
    if probes == 0 {
        return Err("no probe was written (duration too short or sample too large?)".into());
    }
    if drained.is_none() {
        return Err(format!(
            "replication did not drain (ops_lag > 0) within {} s of the load",
            args.timeout
        ));
    }
    Ok(())
}

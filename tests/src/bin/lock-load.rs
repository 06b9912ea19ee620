//! `lock-load`: acquire/release round trips of LOCK.ACQUIRE and LOCK.RELEASE
//! through RESP, one at a time on one connection, timing each, next to
//! PINGs on the same connection (the loopback round trip the lock latency
//! is compared with). Driven by `scripts/bench-locks.sh`; not a test, and it
//! asserts nothing about speed (it fails only when a command errors or a
//! free lock is not granted).
//!
//! The last line of output is `RESULT key=value ...` for scripts.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "lock-load",
    about = "Latency of LOCK.ACQUIRE / LOCK.RELEASE pairs through RESP"
)]
struct Args {
    /// RESP port of the region to ask.
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Acquire/release pairs to time.
    #[arg(long, default_value_t = 20000)]
    n: usize,
    /// Untimed pairs first.
    #[arg(long, default_value_t = 1000)]
    warmup: usize,
    /// Use GLOBAL locks.
    #[arg(long)]
    global: bool,
    /// Lease TTL in milliseconds.
    #[arg(long, default_value_t = 10000)]
    ttl: u64,
    /// Distinct lock names cycled through.
    #[arg(long, default_value_t = 64)]
    names: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn summary(label: &str, mut v: Vec<Duration>) -> String {
    v.sort_unstable();
    let (p50, p99, p999) = (
        percentile(&v, 0.50),
        percentile(&v, 0.99),
        percentile(&v, 0.999),
    );
    println!(
        "{label:<8} n={} p50={}us p99={}us p99.9={}us max={}us",
        v.len(),
        us(p50),
        us(p99),
        us(p999),
        us(v.last().copied().unwrap_or_default())
    );
    format!("{label}_p50_us={} {label}_p99_us={}", us(p50), us(p99))
}

fn run(args: &Args) -> redis::RedisResult<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", args.port))?;
    let mut c = client.get_connection()?;
    let ttl = args.ttl.to_string();
    let (mut acquire, mut release, mut ping) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..args.warmup + args.n {
        let name = format!("bench-lock-{}", i % args.names.max(1));
        let mut cmd = redis::cmd("LOCK.ACQUIRE");
        cmd.arg(&name).arg(&ttl);
        if args.global {
            cmd.arg("GLOBAL");
        }
        let t0 = Instant::now();
        let token: Option<i64> = cmd.query(&mut c)?;
        let t1 = Instant::now();
        let Some(token) = token else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "a free lock was not granted",
            )));
        };
        let mut cmd = redis::cmd("LOCK.RELEASE");
        cmd.arg(&name).arg(token);
        if args.global {
            cmd.arg("GLOBAL");
        }
        let released: i64 = cmd.query(&mut c)?;
        let t2 = Instant::now();
        let _: String = redis::cmd("PING").query(&mut c)?;
        let t3 = Instant::now();
        if released != 1 {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "a held lock was not released",
            )));
        }
        if i >= args.warmup {
            acquire.push(t1 - t0);
            release.push(t2 - t1);
            ping.push(t3 - t2);
        }
    }
    let scope = if args.global { "global" } else { "local" };
    println!("scope={scope} port={} ttl_ms={}", args.port, args.ttl);
    let a = summary("acquire", acquire);
    let r = summary("release", release);
    let p = summary("ping", ping);
    Ok(format!("RESULT scope={scope} {a} {r} {p}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(result) => {
            println!("{result}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lock-load: {e}");
            ExitCode::FAILURE
        }
    }
}

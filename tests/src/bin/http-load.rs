//! `http-load`: a closed-loop HTTP/1.1 load generator for the edge
//! benchmarks. `connections` keep-alive connections each send `GET path`,
//! wait for the whole response, and send the next, for `duration` seconds.
//! Prints requests/s and latency percentiles; the last line is
//! `RESULT rps=… p50_us=… p99_us=… errors=…` for scripts. Driven by
//! `scripts/bench-wasm.sh`; not a test.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Clone)]
#[command(name = "http-load", about = "Closed-loop HTTP/1.1 GET load")]
struct Args {
    /// `host:port` of the server.
    #[arg(long)]
    addr: String,
    /// Request path.
    #[arg(long, default_value = "/")]
    path: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Client threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Reads one response from `s` (head + content-length or chunked body);
/// `false` if the connection broke or the status was not 2xx.
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
            let ok = head
                .split(' ')
                .nth(1)
                .is_some_and(|code| code.starts_with('2'));
            let body = &buf[head_end + 4..];
            let done = if let Some(len) = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
            {
                body.len() >= len
            } else if head.contains("transfer-encoding: chunked") {
                body.ends_with(b"0\r\n\r\n")
            } else {
                true
            };
            if done {
                return Ok(ok);
            }
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn worker(args: Args, until: Instant) -> (Vec<u32>, u64) {
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: bench\r\nx-client-id: bench\r\n\r\n",
        args.path
    );
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut conn: Option<TcpStream> = None;
    while Instant::now() < until {
        let s = match conn.as_mut() {
            Some(s) => s,
            None => match TcpStream::connect(&args.addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn.insert(s)
                }
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let start = Instant::now();
        let result = match s.write_all(req.as_bytes()).await {
            Ok(()) => read_response(s, &mut buf).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(true) => lat.push(start.elapsed().as_micros().min(u32::MAX as u128) as u32),
            Ok(false) => errors += 1,
            Err(_) => {
                errors += 1;
                conn = None;
            }
        }
    }
    (lat, errors)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut lat, errors, elapsed) = rt.block_on(async {
        let started = Instant::now();
        let until = started + Duration::from_secs_f64(args.duration);
        let tasks: Vec<_> = (0..args.connections)
            .map(|_| tokio::spawn(worker(args.clone(), until)))
            .collect();
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            if let Ok((l, e)) = t.await {
                all.extend(l);
                errors += e;
            }
        }
        (all, errors, started.elapsed())
    });
    if lat.is_empty() {
        eprintln!("http-load: no successful request ({errors} errors)");
        return ExitCode::FAILURE;
    }
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let rps = lat.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{} requests in {:.1}s over {} connections: {rps:.0} req/s, p50 {} us, p99 {} us, {errors} errors",
        lat.len(),
        elapsed.as_secs_f64(),
        args.connections,
        pct(0.50),
        pct(0.99)
    );
    println!(
        "RESULT rps={rps:.0} p50_us={} p99_us={} errors={errors}",
        pct(0.50),
        pct(0.99)
    );
    ExitCode::SUCCESS
}

//! The admin HTTP endpoint: `GET /metrics` in the Prometheus text format and
//! `GET /digest` (the keyspace digest `DEBUG DIGEST` returns), for monitoring
//! systems and scripts that compare regions.
//!
//! Off unless `metrics-port` is set; it binds the same address as RESP
//! (loopback by default). With `admin-token` set, every path but `/healthz`
//! requires `Authorization: Bearer <token>`; the server refuses to serve it
//! beyond loopback without one. It only reads: nothing here changes data, and
//! it must never hold a shard lock longer than one shard's digest takes.
//! Paths under `/ui` go to the web [`console`](crate::console), which
//! authenticates ACL users itself.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::debug;

use crate::engine::replica::LinkState;
use crate::server::Shared;

/// Serves the admin endpoint on `listener` until shutdown.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown_signal();
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::new(shared.config.bind, 0));
    let console = crate::console::Console::start(shared.clone(), local);
    while let Some((stream, peer)) =
        crate::server::accept_next(&listener, &mut shutdown, "admin").await
    {
        let shared = shared.clone();
        let console = console.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                let console = console.clone();
                async move {
                    // The console logs users in itself (ACL users, like
                    // AUTH), so the bearer token does not apply to it.
                    if crate::console::is_console_path(req.uri().path()) {
                        return Ok::<_, Infallible>(console.handle(req, peer).await);
                    }
                    Ok::<_, Infallible>(route(&shared, req))
                }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(%peer, error = %e, "admin connection ended");
            }
        });
    }
}

/// True if `req` carries the admin bearer token (or none is configured).
fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(token) = &shared.config.admin_token else {
        return true;
    };
    req.headers()
        .get_all(hyper::header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .any(|given| crate::acl::password::constant_time_eq(given.trim_ascii(), token.as_bytes()))
}

fn route(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() == "/healthz" {
        // Liveness probes carry no credentials and learn nothing else.
        return text(StatusCode::OK, "ok\n".into());
    }
    if !authorized(shared, &req) {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token\n".into(),
        );
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer realm=\"meridian-admin\""),
        );
        return r;
    }
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
    }
    match req.uri().path() {
        "/metrics" => {
            let mut r = text(StatusCode::OK, metrics(shared));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        "/digest" => match shared.engine.txn_none().digest() {
            Ok(d) => text(StatusCode::OK, format!("{d}\n")),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        },
        _ => text(StatusCode::NOT_FOUND, "try /metrics or /digest\n".into()),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

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
        "meridian_wasm_failures_total",
        "counter",
        "Guest calls that trapped, ran past their deadline or answered an error.",
        &failures,
    );
}

/// Binds the admin listener next to RESP; with `fallback`, on the next free
/// port if `addr`'s is taken (as `meridian dev` does for every listener).
pub async fn bind(addr: SocketAddr, fallback: bool) -> std::io::Result<TcpListener> {
    crate::wasm::http::bind(addr, fallback).await
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn metrics_and_digest_are_served_over_http() {
        let config = crate::config::Config {
            port: 0,
            metrics_port: Some(0),
            ..Default::default()
        };
        let server = crate::server::start(config).await.expect("start");
        let addr = server.metrics_addr().expect("admin endpoint enabled");
        {
            let mut t = server.shared().engine.txn_one(b"k");
            t.put(
                b"k",
                crate::keyspace::Value::Str(crate::keyspace::blob(b"v")),
                0,
            )
            .expect("put");
        }
        let page = get(addr, "/metrics").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("# TYPE meridian_keys gauge"), "{page}");
        assert!(page.contains("\nmeridian_keys 1\n"), "{page}");
        let digest = get(addr, "/digest").await;
        let expected = server
            .shared()
            .engine
            .txn_none()
            .digest()
            .expect("digest")
            .to_string();
        assert!(digest.contains(&expected), "{digest}");
        assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        server.shutdown().await;
    }

    async fn get_with(addr: std::net::SocketAddr, path: &str, auth: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn a_configured_token_guards_everything_but_healthz() {
        let token = "0123456789abcdef-token";
        let config = crate::config::Config {
            port: 0,
            metrics_port: Some(0),
            admin_token: Some(token.into()),
            ..Default::default()
        };
        let server = crate::server::start(config).await.expect("start");
        let addr = server.metrics_addr().expect("admin endpoint enabled");
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
        for path in ["/metrics", "/digest"] {
            let none = get(addr, path).await;
            assert!(none.starts_with("HTTP/1.1 401"), "{none}");
            assert!(none.contains("www-authenticate: Bearer"), "{none}");
            let wrong = get_with(addr, path, "Authorization: Bearer nope\r\n").await;
            assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
            let right = get_with(addr, path, &format!("Authorization: Bearer {token}\r\n")).await;
            assert!(right.starts_with("HTTP/1.1 200"), "{right}");
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn admin_beyond_loopback_needs_a_token() {
        let config = crate::config::Config {
            bind: std::net::IpAddr::from([0, 0, 0, 0]),
            port: 0,
            metrics_port: Some(0),
            requirepass: Some("a password".into()),
            ..Default::default()
        };
        let err = crate::server::start(config).await.err().expect("refused");
        assert!(err.to_string().contains("admin-token"), "{err}");
    }
}

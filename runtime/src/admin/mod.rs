//! The admin HTTP endpoint, for monitoring systems, scripts and operators:
//! - `GET /healthz`: liveness, and `GET /readyz`: whether the region takes
//!   writes (503 while it catches up after a restart), both without
//!   credentials;
//! - `GET /metrics`: the Prometheus text format ([`metrics`]);
//! - `GET /digest`: the keyspace digest `DEBUG DIGEST` returns, to compare
//!   regions;
//! - `/v1/modules[/{name}]`: deploying, listing and deleting WASM modules
//!   ([`modules`]);
//! - `/ui`: the web [`console`](crate::console), which logs ACL users in
//!   itself (the bearer token does not apply to it).
//!
//! Off unless `metrics-port` is set; it binds the same address as RESP
//! (loopback by default). With `admin-token` set, every path but the probes
//! requires `Authorization: Bearer <token>`; the server refuses to serve it
//! beyond loopback without one.
//!
//! This file owns the listener, authentication and dispatch by path prefix
//! ([`route`]); each concern lives in its own file and answers
//! [`AdminResponse`]. It must never hold a shard lock longer than one
//! shard's digest takes.

pub mod metrics;
pub mod modules;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::debug;

use crate::server::Shared;

/// What every admin handler answers.
pub type AdminResponse = Response<Full<Bytes>>;

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
                    Ok::<_, Infallible>(route(shared, req).await)
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

/// Reads and drops what is left of a request body the answer does not need
/// (an early 401, 400 or 413), up to `max-module-size` plus 1 MiB and for at
/// most 10 s. Closing a connection with request bytes still unread makes the
/// kernel reset it, and the reset can destroy the answer before the client
/// reads it; a client sending more than the cap, or stalling, gets that
/// reset anyway.
pub async fn discard_body(shared: &Shared, body: Incoming) {
    use http_body_util::BodyExt as _;
    let cap = shared.config.max_module_size.saturating_add(1 << 20);
    let drain = async move {
        let mut body = body;
        let mut read = 0u64;
        while read <= cap {
            match body.frame().await {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), drain).await;
}

/// True if `req` carries the admin bearer token (or none is configured).
pub fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(token) = &shared.config.admin_token else {
        return true;
    };
    req.headers()
        .get_all(hyper::header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .any(|given| crate::acl::password::constant_time_eq(given.trim_ascii(), token.as_bytes()))
}

/// Dispatches one request: the probes first, then authentication, then the
/// handler owning the path's prefix. A new concern adds one arm here (and a
/// file beside this one).
pub async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> AdminResponse {
    let path = req.uri().path();
    match path {
        // Probes carry no credentials and learn nothing else.
        "/healthz" => return text(StatusCode::OK, "ok\n".into()),
        // Ready once the region takes writes: a region restarted empty is
        // not, until its peers gave back what it had acknowledged.
        "/readyz" => {
            return match shared.engine.check_writable() {
                Ok(()) => text(StatusCode::OK, "ready\n".into()),
                Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
            };
        }
        _ => {}
    }
    if !authorized(&shared, &req) {
        discard_body(&shared, req.into_body()).await;
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token\n".into(),
        );
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"meridian-admin\""),
        );
        return r;
    }
    // Handlers by path prefix. Another concern (say a console under `/ui`
    // and `/api/`) is a file beside this one with `owns(path) -> bool` and
    // `async handle(Arc<Shared>, Request<Incoming>) -> AdminResponse`, and
    // one more `if` here (above the token check only for what must be
    // public).
    if modules::owns(path) {
        return modules::handle(shared, req).await;
    }
    let (is_get, path) = (req.method() == Method::GET, req.uri().path());
    match path {
        "/metrics" | "/digest" if !is_get => {
            text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into())
        }
        "/metrics" => {
            let mut r = text(StatusCode::OK, metrics::metrics(&shared));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        "/digest" => match shared.engine.txn_none().digest() {
            Ok(d) => text(StatusCode::OK, format!("{d}\n")),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "try /metrics, /digest or /v1/modules\n".into(),
        ),
    }
}

/// True if `path` is `prefix` itself or a path below it (`prefix/…`), not
/// merely one that starts with the same letters.
pub(crate) fn path_is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A plain-text answer.
pub fn text(status: StatusCode, body: String) -> AdminResponse {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

/// A JSON answer.
pub fn json(status: StatusCode, body: &serde_json::Value) -> AdminResponse {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
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
        get_with(addr, path, "").await
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
        let ready = get(addr, "/readyz").await;
        assert!(
            ready.starts_with("HTTP/1.1 200") && ready.ends_with("ready\n"),
            "{ready}"
        );
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

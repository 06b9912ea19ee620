//! The edge HTTP trigger: a hyper HTTP/1.1 server that routes each request
//! by path prefix to an `edge` module and runs the module's
//! `wasi:http/incoming-handler` export through wasmtime-wasi-http.
//!
//! Every request gets a fresh instance from the module's `InstancePre`
//! (pooling allocator, so this costs microseconds) under the module's
//! sandbox: its epoch deadline stops a guest that computes too long, and a
//! wall-clock limit (deadline + 500 ms) one that waits too long, e.g. on a
//! client that stops reading its streamed body. Status, headers and a streamed body pass through as the guest
//! sets them. A guest that traps, runs past its deadline or never answers
//! gets a 500 (504 for the deadline) for that request only; the failure is
//! counted per module and logged, and the server keeps serving.
//!
//! The guest sees the full request path; the route it matched is in the
//! `x-meridian-route` request header.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::{debug, warn};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::plugin::{WALL_SLACK, new_store, within};
use super::registry::{EdgeModule, Failure};
use crate::server::Shared;

/// Request header naming the route prefix that selected the module.
pub const ROUTE_HEADER: &str = "x-meridian-route";

/// Binds the HTTP listener at `addr`; with `fallback`, tries the next ports
/// if it is taken (as `meridian dev` does).
pub async fn bind(addr: SocketAddr, fallback: bool) -> std::io::Result<TcpListener> {
    let tries = if fallback && addr.port() != 0 { 20 } else { 1 };
    let mut last = None;
    for offset in 0..tries {
        let a = SocketAddr::new(addr.ip(), addr.port().saturating_add(offset));
        match TcpListener::bind(a).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no port tried")))
}

/// Serves edge requests on `listener` until shutdown.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown_signal();
    while let Some((stream, peer)) =
        crate::server::accept_next(&listener, &mut shutdown, "http").await
    {
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(%peer, error = %e, "http connection ended");
            }
        });
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(body.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}

/// Answers one request.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<HyperOutgoingBody> {
    let Some(module) = shared.wasm.registry().route(req.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "no module serves this path\n");
    };
    module.stats.calls.fetch_add(1, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let answer = run(shared, module.clone(), req).await;
    // Until the module answered (the response head): a streamed body may
    // take as long as its reader.
    module.stats.latency.record(started.elapsed());
    match answer {
        Ok(r) => r,
        Err(Failure::Timeout) => text(
            StatusCode::GATEWAY_TIMEOUT,
            "the module ran past its deadline\n",
        ),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the module failed\n"),
    }
}

async fn run(
    shared: Arc<Shared>,
    module: Arc<EdgeModule>,
    mut req: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>, Failure> {
    if let Ok(v) = hyper::header::HeaderValue::from_str(&module.route) {
        req.headers_mut().insert(ROUTE_HEADER, v);
    }
    if req.uri().authority().is_none() && !req.headers().contains_key(hyper::header::HOST) {
        req.headers_mut().insert(
            hyper::header::HOST,
            hyper::header::HeaderValue::from_static("localhost"),
        );
    }
    let mut store = match new_store(shared, module.sandbox.clone(), false) {
        Ok(s) => s,
        Err(e) => return Err(failed(&module, e)),
    };
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let resources = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)
        .and_then(|r| Ok((r, store.data_mut().http().new_response_outparam(sender)?)));
    let (req, out) = match resources {
        Ok(r) => r,
        Err(e) => return Err(failed(&module, e)),
    };
    let pre = module.pre.clone();
    let m = module.clone();
    // The handler keeps running after it sets the response, to stream the
    // body; it reports its own failure.
    let limit = module.sandbox.deadline + WALL_SLACK;
    let task = tokio::spawn(async move {
        let result = within(limit, async {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        })
        .await;
        result.map_err(|e| failed(&m, e))
    });
    match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(code)) => {
            module.stats.fail(Failure::Error);
            warn!(module = %module.name, error = ?code, "edge module answered an error");
            Err(Failure::Error)
        }
        Err(_) => match task.await {
            Ok(Err(f)) => Err(f),
            Ok(Ok(())) => {
                module.stats.fail(Failure::Error);
                warn!(module = %module.name, "edge module never set a response");
                Err(Failure::Error)
            }
            Err(_) => Err(Failure::Trap),
        },
    }
}

/// Counts and logs a failed edge call.
fn failed(module: &EdgeModule, e: wasmtime::Error) -> Failure {
    let f = Failure::of(&e);
    module.stats.fail(f);
    warn!(module = %module.name, failure = f.label(), error = %format!("{e:#}"), "edge call failed");
    f
}

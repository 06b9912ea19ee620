//! The module API of the admin endpoint, for deploy tools and the console:
//!
//! - `PUT /v1/modules/{name}[?kind=edge|plugin][&route=/prefix]`, body =
//!   the component: deploys it here and in every region, replacing a module
//!   of that name. Without `kind`, a component exporting
//!   `wasi:http/incoming-handler` is an edge module (served at `route`,
//!   default `/{name}`), one exporting `meridian:cache/library` a plugin
//!   (whose own name must be `{name}`). 201 when new, 200 when replaced.
//! - `GET /v1/modules`: a JSON array of every module, deployed or configured.
//! - `GET /v1/modules/{name}`: one module's JSON.
//! - `DELETE /v1/modules/{name}`: removes it here and in every region (204).
//!
//! Errors are JSON `{"error": …, "code": …}`: 400 for a component that does
//! not compile or link (with the reason), 404, 409 for a name or route
//! conflict, 413 above `max-module-size`. This file only translates HTTP;
//! deploying is `wasm::deploy`'s.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};

use super::{AdminResponse, json as json_response};
use crate::server::Shared;
use crate::wasm::catalog::ModuleKind;
use crate::wasm::deploy::{DeployRequest, valid_module_name};
use crate::wasm::registry::{LoadError, ModuleStats};

/// The path prefix this file serves.
pub const PREFIX: &str = "/v1/modules";

/// True if `path` is this API's.
pub fn owns(path: &str) -> bool {
    super::path_is_under(path, PREFIX)
}

/// A JSON error with a stable `code` for programs and a message for people.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> AdminResponse {
    json_response(status, &json!({ "error": message.into(), "code": code }))
}

/// The HTTP form of a deploy error.
fn load_error(e: &LoadError) -> AdminResponse {
    let (status, code) = match e {
        LoadError::Invalid(_) | LoadError::Describe(_) => {
            (StatusCode::BAD_REQUEST, "invalid_component")
        }
        LoadError::NotAModule | LoadError::NotAPlugin => (StatusCode::BAD_REQUEST, "wrong_world"),
        LoadError::BadLibraryName
        | LoadError::BadFunctionName
        | LoadError::NoFunctions
        | LoadError::BadRoute(_)
        | LoadError::NameMismatch { .. }
        | LoadError::BadModuleName => (StatusCode::BAD_REQUEST, "invalid_module"),
        LoadError::LibraryExists(_)
        | LoadError::FunctionExists(_)
        | LoadError::RouteTaken { .. } => (StatusCode::CONFLICT, "conflict"),
        LoadError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        LoadError::LibraryNotFound | LoadError::ModuleNotFound => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        LoadError::Runtime(_) | LoadError::NotRunning => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let text = e.to_string();
    let message = text.strip_prefix("ERR ").unwrap_or(&text);
    error(status, code, message)
}

fn method_not_allowed(allowed: &str) -> AdminResponse {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("use {allowed}"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(allowed) {
        r.headers_mut().insert(hyper::header::ALLOW, v);
    }
    r
}

/// Serves one request under [`PREFIX`] (already authenticated).
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> AdminResponse {
    if req.method() != Method::PUT {
        // Only a deploy reads its body; read whatever came anyway (see
        // `discard_body`).
        let (parts, body) = req.into_parts();
        super::discard_body(&shared, body).await;
        return handle_bodyless(shared, &parts.method, parts.uri.path()).await;
    }
    let path = req.uri().path().to_string();
    let Some(name) = path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|n| !n.is_empty())
    else {
        super::discard_body(&shared, req.into_body()).await;
        return method_not_allowed("GET");
    };
    if !valid_module_name(name) {
        super::discard_body(&shared, req.into_body()).await;
        return load_error(&LoadError::BadModuleName);
    }
    put(shared, name.to_string(), req).await
}

/// Every module request but a deploy.
async fn handle_bodyless(shared: Arc<Shared>, method: &Method, path: &str) -> AdminResponse {
    let Some(name) = path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|n| !n.is_empty())
    else {
        return match *method {
            Method::GET => json_response(StatusCode::OK, &Value::Array(list(&shared))),
            _ => method_not_allowed("GET"),
        };
    };
    if !valid_module_name(name) {
        return load_error(&LoadError::BadModuleName);
    }
    let name = name.to_string();
    match *method {
        Method::GET => match find(&shared, &name) {
            Some(m) => json_response(StatusCode::OK, &m),
            None => load_error(&LoadError::ModuleNotFound),
        },
        Method::DELETE => {
            let s = shared.clone();
            let n = name.clone();
            match tokio::task::spawn_blocking(move || s.wasm.undeploy(&n, None)).await {
                Ok(Ok(())) => {
                    let mut r = json_response(StatusCode::NO_CONTENT, &Value::Null);
                    *r.body_mut() = Default::default();
                    r.headers_mut().remove(hyper::header::CONTENT_TYPE);
                    r
                }
                Ok(Err(e)) => load_error(&e),
                Err(_) => load_error(&LoadError::NotRunning),
            }
        }
        _ => method_not_allowed("GET, PUT, DELETE"),
    }
}

/// `kind` and `route` from the query string.
fn deploy_options(query: Option<&str>) -> Result<(Option<ModuleKind>, Option<String>), String> {
    let mut kind = None;
    let mut route = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "kind" => {
                kind = Some(match &*v {
                    "edge" => ModuleKind::Edge,
                    "plugin" => ModuleKind::Plugin,
                    other => return Err(format!("kind must be edge or plugin, not '{other}'")),
                })
            }
            "route" => route = Some(v.into_owned()),
            other => return Err(format!("unknown parameter '{other}' (use kind, route)")),
        }
    }
    if route.is_some() && kind == Some(ModuleKind::Plugin) {
        return Err("a plugin has no route".into());
    }
    Ok((kind, route))
}

async fn put(shared: Arc<Shared>, name: String, req: Request<Incoming>) -> AdminResponse {
    let (kind, route) = match deploy_options(req.uri().query()) {
        Ok(o) => o,
        Err(e) => {
            super::discard_body(&shared, req.into_body()).await;
            return error(StatusCode::BAD_REQUEST, "bad_parameter", e);
        }
    };
    let limit = usize::try_from(shared.config.max_module_size).unwrap_or(usize::MAX);
    let too_large = |len: Option<usize>| {
        let size = len.map_or_else(|| "more than".to_string(), |n| format!("{n} bytes,"));
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the component is {size} over max-module-size ({limit} bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Read up to the cap so the answer reaches the client; a body far
        // beyond it gets a reset, as `discard_body` says.
        super::discard_body(&shared, req.into_body()).await;
        return too_large(declared);
    }
    let code = match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(None),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                format!("could not read the body: {e}"),
            );
        }
    };
    if code.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_component",
            "the body must be the component's bytes",
        );
    }
    let s = shared.clone();
    // Compiling takes a while (and a plugin's describe runs a guest).
    let deployed = tokio::task::spawn_blocking(move || {
        s.wasm.deploy(DeployRequest {
            name: Some(&name),
            kind,
            route,
            code: &code,
            replace: true,
        })
    })
    .await;
    match deployed {
        Ok(Ok(d)) => {
            let status = if d.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            match find(&shared, &d.name) {
                Some(m) => json_response(status, &m),
                None => load_error(&LoadError::ModuleNotFound),
            }
        }
        Ok(Err(e)) => load_error(&e),
        Err(_) => load_error(&LoadError::NotRunning),
    }
}

fn stats_json(stats: &ModuleStats) -> (u64, u64, Value, Option<f64>) {
    let [trap, timeout, error] =
        [&stats.traps, &stats.timeouts, &stats.errors].map(|c| c.load(Ordering::Relaxed));
    (
        stats.calls.load(Ordering::Relaxed),
        trap + timeout + error,
        json!({ "trap": trap, "timeout": timeout, "error": error }),
        // Over the last one to two minutes; null without calls.
        stats.latency.quantile_ms(0.99),
    )
}

/// Every module: those deployed at run time (from the catalog, with how
/// they stand here), then configured ones no deployment replaced.
fn list(shared: &Shared) -> Vec<Value> {
    let wasm = &shared.wasm;
    let registry = wasm.registry();
    let mut out = Vec::new();
    let mut named = std::collections::HashSet::new();
    for record in wasm.deployed() {
        let e = &record.entry;
        let Some(d) = &e.module else { continue };
        named.insert(e.name.clone());
        let sha256 = d.code.sha256();
        let mut m = json!({
            "name": e.name,
            "kind": d.kind.label(),
            "source": "deployed",
            "size": d.code.0.len(),
            "sha256": sha256,
            "deployed_at_ms": e.at_ms,
            "deployed_by_region": e.region.0,
        });
        let loaded = match d.kind {
            ModuleKind::Edge => {
                m["route"] = json!(d.route);
                registry
                    .edge(&e.name)
                    .filter(|x| x.sha256 == sha256)
                    .map(|x| {
                        m["route"] = json!(x.route);
                        stats_json(&x.stats)
                    })
            }
            ModuleKind::Plugin => registry
                .library(&e.name)
                .filter(|x| x.sha256 == sha256)
                .map(|x| {
                    m["functions"] = functions_json(&x);
                    stats_json(&x.stats)
                }),
        };
        m["loaded"] = json!(loaded.is_some());
        if let Some((calls, errors, failures, p99)) = loaded {
            m["invocations"] = json!(calls);
            m["errors"] = json!(errors);
            m["failures"] = failures;
            m["p99_ms"] = json!(p99);
        }
        if let Some(err) = record.error {
            m["error"] = json!(err.strip_prefix("ERR ").unwrap_or(&err));
        }
        out.push(m);
    }
    for x in registry.edges() {
        if named.contains(&x.name) {
            continue;
        }
        let (calls, errors, failures, p99) = stats_json(&x.stats);
        out.push(json!({
            "name": x.name, "kind": "edge", "source": "config", "route": x.route,
            "size": x.code_len, "sha256": x.sha256, "loaded": true,
            "invocations": calls, "errors": errors, "failures": failures, "p99_ms": p99,
        }));
    }
    for x in registry.libraries() {
        if named.contains(&x.name) {
            continue;
        }
        let (calls, errors, failures, p99) = stats_json(&x.stats);
        out.push(json!({
            "name": x.name, "kind": "plugin", "source": "config",
            "functions": functions_json(&x),
            "size": x.code_len, "sha256": x.sha256, "loaded": true,
            "invocations": calls, "errors": errors, "failures": failures, "p99_ms": p99,
        }));
    }
    out
}

fn functions_json(library: &crate::wasm::Library) -> Value {
    library
        .functions
        .iter()
        .map(|f| json!({ "name": f.name, "read_only": f.read_only }))
        .collect()
}

fn find(shared: &Shared, name: &str) -> Option<Value> {
    list(shared).into_iter().find(|m| m["name"] == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_owns_only_its_paths() {
        assert!(owns("/v1/modules"));
        assert!(owns("/v1/modules/edge"));
        assert!(!owns("/v1/modulesx"));
        assert!(!owns("/metrics"));
    }

    #[test]
    fn query_parameters_are_checked() {
        assert_eq!(deploy_options(None), Ok((None, None)));
        assert_eq!(
            deploy_options(Some("kind=edge&route=%2Fapi%2Fv2")),
            Ok((Some(ModuleKind::Edge), Some("/api/v2".into())))
        );
        assert!(deploy_options(Some("kind=lambda")).is_err());
        assert!(deploy_options(Some("kind=plugin&route=/x")).is_err());
        assert!(deploy_options(Some("colour=red")).is_err());
    }
}

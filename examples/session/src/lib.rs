//! `session`: an edge function keeping each user session as a document
//! (`meridian:cache/document`), so edits made in different regions at once
//! merge instead of overwriting each other: cart items pushed in two regions
//! both stay, page views counted in both add up.
//!
//! Under its route (e.g. `/session`):
//! - `POST /{id}` starts the session `{"cart":[],"views":0}` (views is a
//!   counter, created here so later increments in any region all count);
//! - `GET /{id}` answers the session as JSON (404 if there is none);
//! - `POST /{id}/view` counts a page view, answering `{"views":n}`;
//! - `POST /{id}/cart` appends the JSON body to the cart, answering
//!   `{"cart_len":n}`;
//! - `PUT /{id}/user` stores the JSON body as the session's user;
//! - `DELETE /{id}` ends the session.
//!
//! Every write renews the session's TTL (`?ttl=` seconds, default 1800).

use std::time::Duration;

use meridian_guest::http::{Handler, Request, Response};
use meridian_guest::{Error, cache, document};
use serde_json::{Value, json};

const DEFAULT_TTL_SECS: u64 = 1800;

struct Session;

fn failed(e: Error) -> Response {
    match e {
        Error::NotFound => Response::text(404, "no such session\n"),
        Error::Other(m) => Response::text(400, format!("{m}\n")),
        other => Response::text(503, format!("sessions unavailable: {other}\n")),
    }
}

/// The session must exist before it is edited (see the module docs).
fn existing(key: &str) -> Result<(), Error> {
    match document::get_json(key, "$")? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound),
    }
}

fn body_json(req: &Request) -> Result<Value, Response> {
    serde_json::from_slice(&req.body).map_err(|e| Response::text(400, format!("bad JSON: {e}\n")))
}

fn handle(req: &Request, id: &str, action: Option<&str>) -> Result<Response, Error> {
    let key = format!("session:{id}");
    let ttl = Duration::from_secs(
        req.query_param("ttl")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_TTL_SECS)
            .max(1),
    );
    let answer = match (req.method.as_str(), action) {
        ("GET", None) => {
            return Ok(match document::get_json(&key, "$")? {
                Some(doc) => Response::new(200)
                    .header("content-type", "application/json")
                    .body(doc),
                None => Response::text(404, "no such session\n"),
            });
        }
        ("DELETE", None) => {
            let existed = document::delete(&key, "$")?;
            return Ok(Response::new(if existed { 204 } else { 404 }));
        }
        ("POST", None) => {
            document::set(&key, "$", &json!({"cart": []}))?;
            document::incr(&key, "$.views", 0)?;
            Response::json(201, &json!({"session": id}))
        }
        ("POST", Some("view")) => {
            existing(&key)?;
            let views = document::incr(&key, "$.views", 1)?;
            Response::json(200, &json!({ "views": views }))
        }
        ("POST", Some("cart")) => {
            existing(&key)?;
            let item = match body_json(req) {
                Ok(v) => v,
                Err(r) => return Ok(r),
            };
            let len = document::push(&key, "$.cart", &[item])?;
            Response::json(200, &json!({ "cart_len": len }))
        }
        ("PUT", Some("user")) => {
            existing(&key)?;
            let user = match body_json(req) {
                Ok(v) => v,
                Err(r) => return Ok(r),
            };
            document::set(&key, "$.user", &user)?;
            Response::new(204)
        }
        _ => return Ok(Response::text(404, "unknown route\n")),
    };
    cache::expire(&key, ttl)?;
    Ok(answer)
}

impl Handler for Session {
    fn handle(req: Request) -> Response {
        let path = req.path_in_route().trim_matches('/').to_string();
        let mut parts = path.splitn(2, '/');
        let id = parts.next().unwrap_or("");
        if id.is_empty() {
            return Response::text(404, "usage: /{id}[/view|/cart|/user]\n");
        }
        handle(&req, id, parts.next()).unwrap_or_else(failed)
    }
}

meridian_guest::edge_handler!(Session);

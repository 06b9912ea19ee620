//! The built-in web console, served by the admin HTTP server under `/ui`:
//! a page (embedded in the binary, see [`assets`]) that shows the regions
//! and their links, live charts, a keys browser and the loaded WASM
//! modules, and the JSON endpoints under `/ui/api/` behind it (which tests
//! and scripts may read too).
//!
//! The console authenticates like any client: a login is an ACL user's
//! name and password ([`sessions`]), and every key it reads or changes is a
//! RESP command on that user's own connection ([`resp_link`]). It reads the
//! same counters as INFO and /metrics and must not grow a second way to
//! reach data or check permissions.

pub mod assets;
pub mod edits;
pub mod http;
pub mod keys;
pub mod modules;
pub mod regions;
pub mod resp_link;
pub mod sessions;
pub mod timeline;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;

use self::http::{Reply, error, json, param, query};
use self::keys::{KeyRef, KeysError};
use self::sessions::{LoginError, Session, Sessions};
use self::timeline::Timeline;
use crate::server::Shared;

/// True for the paths the console serves.
pub fn is_console_path(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The console of one server.
pub struct Console {
    shared: Arc<Shared>,
    local: SocketAddr,
    sessions: Sessions,
    timeline: Arc<Timeline>,
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

impl Console {
    /// The console of `shared`, served on the admin listener at `local`;
    /// starts sampling the charts' figures.
    pub fn start(shared: Arc<Shared>, local: SocketAddr) -> Arc<Console> {
        let timeline = Arc::new(Timeline::default());
        tokio::spawn(timeline.clone().run(shared.clone()));
        Arc::new(Console {
            shared,
            local,
            sessions: Sessions::default(),
            timeline,
        })
    }

    /// Answers one console request from `peer`.
    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Reply {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        match (&method, path.as_str()) {
            (&Method::GET, "/ui" | "/ui/") => return assets::page(),
            (&Method::GET, p) if p.starts_with(assets::PREFIX) => {
                return assets::get(&p[assets::PREFIX.len()..]);
            }
            (&Method::GET, "/ui/api/session") => return self.current(&req, peer).await,
            (&Method::POST, "/ui/api/login") => return self.login(req, peer).await,
            (&Method::POST, "/ui/api/logout") => {
                if let Some(t) = http::cookie(&req, sessions::COOKIE) {
                    self.sessions.remove(t);
                }
                let mut r = json(StatusCode::OK, &serde_json::json!({ "ok": true }));
                set_cookie(&mut r, &Sessions::clear_cookie());
                return r;
            }
            _ => {}
        }
        if modules::owns(&path) {
            let Some((_, session)) = self.session_of(&req) else {
                return error(StatusCode::UNAUTHORIZED, "login required");
            };
            return modules::handle(self.shared.clone(), &session.user, req).await;
        }
        let known = matches!(
            (&method, path.as_str()),
            (&Method::GET, "/ui/api/regions")
                | (&Method::GET, "/ui/api/stats")
                | (&Method::GET, "/ui/api/keys")
                | (&Method::GET, "/ui/api/key")
                | (&Method::POST, "/ui/api/key")
        );
        if !known {
            return error(
                StatusCode::NOT_FOUND,
                format!("no console page {method} {path}"),
            );
        }
        let Some((token, session)) = self.session_of(&req) else {
            return error(StatusCode::UNAUTHORIZED, "login required");
        };
        let q = query(&req);
        let reply = match path.as_str() {
            "/ui/api/regions" => json(
                StatusCode::OK,
                &regions::view(&self.shared, self.timeline.latest().as_ref()),
            ),
            "/ui/api/stats" => {
                let since = param(&q, "since").and_then(|s| s.parse().ok()).unwrap_or(0);
                json(
                    StatusCode::OK,
                    &serde_json::json!({
                        "interval_ms": timeline::INTERVAL.as_millis() as u64,
                        "points": self.timeline.since(since),
                    }),
                )
            }
            "/ui/api/keys" => {
                let pattern = param(&q, "pattern")
                    .filter(|p| !p.is_empty())
                    .unwrap_or("*");
                let cursor = param(&q, "cursor").unwrap_or("0");
                let count = param(&q, "count")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(100);
                let mut link = session.link.lock().await;
                keys_reply(keys::browse(&mut link, pattern, cursor, count).await)
            }
            _ if method == Method::GET => {
                let key = KeyRef {
                    key: param(&q, "key").map(str::to_string),
                    key_hex: param(&q, "key_hex").map(str::to_string),
                };
                match key.bytes() {
                    Ok(k) => {
                        let mut link = session.link.lock().await;
                        keys_reply(keys::detail(&self.shared, &mut link, &k).await)
                    }
                    Err(e) => keys_reply::<()>(Err(e)),
                }
            }
            _ => self.edit(req, &session).await,
        };
        if !session.link.lock().await.is_usable() {
            // The server closed the connection (shutdown, CLIENT KILL, the
            // user was deleted) or it stopped answering: log out.
            self.sessions.remove(&token);
        }
        reply
    }

    async fn edit(&self, req: Request<Incoming>, session: &Session) -> Reply {
        let body: edits::EditRequest = match http::read_json(req).await {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        };
        let key = match body.key.bytes() {
            Ok(k) => k,
            Err(e) => return keys_reply::<()>(Err(e)),
        };
        let mut link = session.link.lock().await;
        keys_reply(
            edits::apply(&mut link, &key, &body.edit)
                .await
                .map(|reply| serde_json::json!({ "ok": true, "reply": reply })),
        )
    }

    fn session_of(&self, req: &Request<Incoming>) -> Option<(String, Arc<Session>)> {
        let token = http::cookie(req, sessions::COOKIE)?;
        let s = self.sessions.get(token)?;
        Some((token.to_string(), s))
    }

    /// Who is logged in; with no session and a default user that needs no
    /// password, a session as that user (as a new RESP connection is).
    async fn current(&self, req: &Request<Incoming>, peer: SocketAddr) -> Reply {
        if let Some((_, s)) = self.session_of(req) {
            return json(StatusCode::OK, &whoami(&self.shared, &s.user));
        }
        let outcome = self
            .sessions
            .login(&self.shared, peer, self.local, None)
            .await;
        login_reply(&self.shared, outcome)
    }

    async fn login(&self, req: Request<Incoming>, peer: SocketAddr) -> Reply {
        let body: Login = match http::read_json(req).await {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        };
        let creds = Some((body.username.as_str(), body.password.as_str()));
        let outcome = self
            .sessions
            .login(&self.shared, peer, self.local, creds)
            .await;
        login_reply(&self.shared, outcome)
    }
}

fn whoami(shared: &Shared, user: &str) -> serde_json::Value {
    serde_json::json!({
        "user": user,
        "region": shared.config.region_name,
        "region_id": shared.engine.region().0,
    })
}

fn set_cookie(r: &mut Reply, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(SET_COOKIE, v);
    }
}

/// A login's answer: who is logged in with the session's cookie, or why not.
fn login_reply(shared: &Shared, outcome: Result<(String, Arc<Session>), LoginError>) -> Reply {
    let e = match outcome {
        Ok((token, s)) => {
            let mut r = json(StatusCode::OK, &whoami(shared, &s.user));
            set_cookie(&mut r, &Sessions::cookie(&token));
            return r;
        }
        Err(e) => e,
    };
    let status = match &e {
        LoginError::Refused(_) | LoginError::Required => StatusCode::UNAUTHORIZED,
        LoginError::Full => StatusCode::SERVICE_UNAVAILABLE,
        LoginError::Link(_) => StatusCode::BAD_GATEWAY,
    };
    error(status, e.to_string())
}

/// A keys result as JSON: refusals as 403, bad requests as 400.
fn keys_reply<T: serde::Serialize>(r: Result<T, KeysError>) -> Reply {
    match r {
        Ok(v) => json(StatusCode::OK, &v),
        Err(KeysError::Command(line)) => {
            let status = if line.starts_with("NOPERM") {
                StatusCode::FORBIDDEN
            } else if line.starts_with("NOAUTH") {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            };
            error(status, line)
        }
        Err(KeysError::NotFound) => error(StatusCode::NOT_FOUND, "no such key"),
        Err(KeysError::BadRequest(m)) => error(StatusCode::BAD_REQUEST, m),
        Err(KeysError::Link(e)) => error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

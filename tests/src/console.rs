//! A client of the web console's JSON API (`/ui/api/…` on the admin
//! port), keeping the session cookie as a browser would.

use std::net::SocketAddr;

use serde_json::Value;

use crate::http::{Answer, try_request};

/// One console user agent.
pub struct ConsoleClient {
    addr: SocketAddr,
    cookie: Option<String>,
}

impl ConsoleClient {
    /// A client of the console at admin address `addr`, not logged in.
    pub fn new(addr: SocketAddr) -> ConsoleClient {
        ConsoleClient { addr, cookie: None }
    }

    /// The session cookie it holds, as `name=value`.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// Sends a request with the session cookie and keeps any new one.
    pub fn send(&mut self, method: &str, path: &str, json: Option<&Value>) -> Answer {
        let body = json.map(|j| j.to_string().into_bytes()).unwrap_or_default();
        let mut headers: Vec<(&str, &str)> = Vec::new();
        let cookie = self.cookie.clone();
        if let Some(c) = &cookie {
            headers.push(("Cookie", c));
        }
        if json.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let a = try_request(self.addr, method, path, &headers, &body)
            .unwrap_or_else(|| panic!("{method} {path}: no response"));
        if let Some(set) = a.header("set-cookie") {
            let pair = set.split(';').next().unwrap_or("").to_string();
            self.cookie = (!pair.ends_with('=')).then_some(pair);
        }
        a
    }

    /// `GET path`: status and JSON body.
    pub fn get(&mut self, path: &str) -> (u16, Value) {
        let a = self.send("GET", path, None);
        (a.status, json_of(&a))
    }

    /// `POST path` with a JSON body: status and JSON body.
    pub fn post(&mut self, path: &str, body: &Value) -> (u16, Value) {
        let a = self.send("POST", path, Some(body));
        (a.status, json_of(&a))
    }

    /// Logs in; the status and answer.
    pub fn login(&mut self, user: &str, password: &str) -> (u16, Value) {
        self.post(
            "/ui/api/login",
            &serde_json::json!({ "username": user, "password": password }),
        )
    }

    /// `GET path`, which must answer 200.
    pub fn ok(&mut self, path: &str) -> Value {
        let (status, v) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }
}

/// The body as JSON (`Null` if it is not).
pub fn json_of(a: &Answer) -> Value {
    serde_json::from_slice(&a.body).unwrap_or(Value::Null)
}

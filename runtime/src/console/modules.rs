//! The modules view: the WASM modules of this region (deployed or
//! configured, with their invocations and errors), and deploying,
//! replacing or deleting one from the page. The listing and the deploys are
//! the admin module API's (`admin::modules`) — this file adds only what the
//! console needs in front of it: the logged-in user must be allowed
//! `FUNCTION LOAD` (deploy, replace) or `FUNCTION DELETE` (delete) by its
//! ACL rules, checked as RESP checks those commands.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode, Uri};

use super::http::{Reply, error};
use crate::resp::Request as Command;
use crate::server::Shared;

/// Where the console serves the module API.
pub const PREFIX: &str = "/ui/api/modules";

/// True if `path` is the console's module API.
pub fn owns(path: &str) -> bool {
    crate::admin::path_is_under(path, PREFIX)
}

/// The RESP command whose permission a console request needs: listing
/// needs none beyond a session; a deploy `FUNCTION LOAD REPLACE`, a delete
/// `FUNCTION DELETE name`.
fn equivalent(method: &Method, name: &str) -> Option<Vec<Vec<u8>>> {
    let words: &[&[u8]] = match *method {
        Method::PUT => &[b"FUNCTION", b"LOAD", b"REPLACE", b"<component>"],
        Method::DELETE => &[b"FUNCTION", b"DELETE", name.as_bytes()],
        _ => return None,
    };
    Some(words.iter().map(|w| w.to_vec()).collect())
}

/// Checks that `user` may run `words` (its ACL rules, as RESP applies them).
fn permitted(shared: &Shared, user: &str, words: &[Vec<u8>]) -> Result<(), String> {
    let Some(u) = shared.acl.get(user) else {
        return Err(format!("NOPERM User {user} no longer exists"));
    };
    let req = Command::from_args(words);
    let Some((index, spec)) = crate::resp::command::table().lookup(req.arg(0)) else {
        return Err("ERR unknown command".into());
    };
    u.check(spec, index, &req).map_err(|denied| {
        let name = crate::acl::permission::full_name(spec, &req);
        denied.error_line(user, &name)
    })
}

/// Serves `req` (under [`PREFIX`]) for `user` through the admin module API.
pub async fn handle(shared: Arc<Shared>, user: &str, mut req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    let rest = &path[PREFIX.len()..];
    let name = rest.trim_start_matches('/');
    if let Some(words) = equivalent(req.method(), name) {
        if let Err(line) = permitted(&shared, user, &words) {
            return error(StatusCode::FORBIDDEN, line);
        }
        // The component is sent raw; a cross-site form cannot set this
        // type (one more guard besides the SameSite cookie).
        let wasm = req
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"application/wasm"));
        if *req.method() == Method::PUT && !wasm {
            return error(
                StatusCode::BAD_REQUEST,
                "send the component as application/wasm",
            );
        }
    }
    let target = match req.uri().query() {
        Some(q) => format!("{}{rest}?{q}", crate::admin::modules::PREFIX),
        None => format!("{}{rest}", crate::admin::modules::PREFIX),
    };
    match target.parse::<Uri>() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad module path: {e}")),
    }
    let mut r = crate::admin::modules::handle(shared, req).await;
    super::http::harden(&mut r);
    r
}

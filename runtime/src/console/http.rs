//! The console's HTTP plumbing: JSON and error responses with the security
//! headers every console response carries, bounded request bodies, cookies
//! and query strings. It knows nothing of sessions, keys or metrics.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;

/// Every console response.
pub type Reply = Response<Full<Bytes>>;

/// Largest request body the console reads (a key's new value).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// What the pages may load: only what the binary serves, no inline code,
/// no framing by other sites.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A response with the headers every console response carries.
pub fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    harden(&mut r);
    r
}

/// Adds the headers every console response carries to `r` (made here or
/// by the admin API the console forwards to).
pub fn harden(r: &mut Reply) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// A JSON response; never cached (it holds data and session state).
pub fn json(status: StatusCode, value: &impl Serialize) -> Reply {
    let body = serde_json::to_vec(value).unwrap_or_else(|e| {
        format!("{{\"error\":\"cannot encode the answer: {e}\"}}").into_bytes()
    });
    let mut r = reply(status, "application/json", body);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    json(status, &serde_json::json!({ "error": message.into() }))
}

/// Why a request body could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Mutating requests must say they send JSON: a cross-site form cannot
    /// (one more guard besides the SameSite cookie).
    #[error("send the request as application/json")]
    NotJson,
    /// Larger than [`MAX_BODY`] or cut off.
    #[error("request body unreadable or larger than {MAX_BODY} bytes")]
    Unreadable,
    /// Not the JSON the endpoint expects.
    #[error("bad request body: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// Reads and parses a JSON body of at most [`MAX_BODY`] bytes.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
) -> Result<T, BodyError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(BodyError::NotJson);
    }
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| BodyError::Unreadable)?
        .to_bytes();
    Ok(serde_json::from_slice(&body)?)
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'r, B>(req: &'r Request<B>, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The query string's parameters, decoded.
pub fn query<B>(req: &Request<B>) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The first parameter called `name`.
pub fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(v: &str) -> Request<()> {
        Request::builder()
            .header(header::COOKIE, v)
            .body(())
            .expect("request")
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let req = with_cookie("a=1; meridian_console=abc; b=2");
        assert_eq!(cookie(&req, "meridian_console"), Some("abc"));
        assert_eq!(
            cookie(&with_cookie("meridian_consolex=abc"), "meridian_console"),
            None
        );
        assert_eq!(cookie(&with_cookie("garbage"), "meridian_console"), None);
    }

    #[test]
    fn query_parameters_are_decoded() {
        let req = Request::builder()
            .uri("/ui/api/keys?pattern=user%3A*&cursor=0&key=a+b")
            .body(())
            .expect("request");
        let q = query(&req);
        assert_eq!(param(&q, "pattern"), Some("user:*"));
        assert_eq!(param(&q, "key"), Some("a b"));
        assert_eq!(param(&q, "count"), None);
    }
}

//! Edge HTTP functions in a few lines: implement [`Handler`] and export it
//! with [`crate::edge_handler!`]. The request body is read whole before the
//! handler runs; the response is written after it returns, its body either
//! whole or streamed chunk by chunk ([`Response::stream`]).
//!
//! ```no_run
//! use meridian_guest::http::{Handler, Request, Response};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     fn handle(req: Request) -> Response {
//!         Response::text(200, format!("hello from {}\n", req.path()))
//!     }
//! }
//!
//! meridian_guest::edge_handler!(Hello);
//! ```

use serde::Serialize;

use crate::bindings::edge::wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::bindings::edge::wasi::io::streams::StreamError;

/// Largest request body read (bigger requests get a 413).
pub const MAX_REQUEST_BODY: usize = 8 << 20;

/// An HTTP request, read whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Method (`GET`, `POST`, …).
    pub method: String,
    /// Path and query (`/cache/x?y=1`).
    pub path_with_query: String,
    /// Headers, names lower-case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Request {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_with_query
            .split('?')
            .next()
            .unwrap_or(&self.path_with_query)
    }

    /// The query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.path_with_query.split_once('?').map(|(_, q)| q)
    }

    /// The value of query parameter `name` (not percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()?
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The first value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The route prefix the host matched for this module.
    pub fn route(&self) -> &str {
        self.header("x-meridian-route").unwrap_or("")
    }

    /// The path after the route prefix (`/cache/a/b` under `/cache` is `/a/b`).
    pub fn path_in_route(&self) -> &str {
        let route = self.route().trim_end_matches('/');
        self.path().strip_prefix(route).unwrap_or(self.path())
    }
}

/// An HTTP response. The body is `body`, followed by whatever `stream`
/// yields (see [`Response::stream`]).
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body (or its first part, when streaming).
    pub body: Vec<u8>,
    /// Chunks written after `body`, one at a time, as the client reads them.
    pub stream: Option<Box<dyn Iterator<Item = Vec<u8>>>>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("streaming", &self.stream.is_some())
            .finish()
    }
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            stream: None,
        }
    }

    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(body.into().into_bytes())
    }

    /// An `application/json` response of `value`.
    pub fn json<T: Serialize>(status: u16, value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(b) => Response::new(status)
                .header("content-type", "application/json")
                .body(b),
            Err(e) => Response::text(500, format!("cannot encode the response: {e}\n")),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Response {
        self.headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// Streams the body: the headers go out first, then each chunk `chunks`
    /// yields, without holding the whole body in memory.
    pub fn stream(mut self, chunks: impl Iterator<Item = Vec<u8>> + 'static) -> Response {
        self.stream = Some(Box::new(chunks));
        self
    }
}

/// An edge function.
pub trait Handler {
    /// Answers one request.
    fn handle(req: Request) -> Response;
}

fn method_name(m: Method) -> String {
    match m {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(s) => s,
    }
}

enum ReadError {
    TooLarge,
    Broken,
}

fn read(request: IncomingRequest) -> Result<Request, ReadError> {
    let method = method_name(request.method());
    let path_with_query = request.path_with_query().unwrap_or_else(|| "/".into());
    let headers = request.headers().entries();
    let body = request.consume().map_err(|_| ReadError::Broken)?;
    let mut bytes = Vec::new();
    {
        let stream = body.stream().map_err(|_| ReadError::Broken)?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > MAX_REQUEST_BODY {
                        return Err(ReadError::TooLarge);
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(_)) => return Err(ReadError::Broken),
            }
        }
    }
    let _ = IncomingBody::finish(body);
    Ok(Request {
        method,
        path_with_query,
        headers,
        body: bytes,
    })
}

fn write(resp: Response, out: ResponseOutparam) {
    let headers = Fields::new();
    for (name, value) in &resp.headers {
        // A header the host forbids (e.g. `connection`) is dropped.
        let _ = headers.append(name, value);
    }
    let outgoing = OutgoingResponse::new(headers);
    let _ = outgoing.set_status_code(resp.status);
    let Ok(body) = outgoing.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(stream) = body.write() {
        let chunks = std::iter::once(resp.body).chain(resp.stream.into_iter().flatten());
        'write: for chunk in chunks {
            // The host accepts at most 4096 bytes per blocking write.
            for part in chunk.chunks(4096) {
                if stream.blocking_write_and_flush(part).is_err() {
                    break 'write;
                }
            }
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

/// Runs handler `H` for one incoming request (what [`crate::edge_handler!`]
/// exports).
pub fn serve<H: Handler>(request: IncomingRequest, out: ResponseOutparam) {
    let resp = match read(request) {
        Ok(req) => H::handle(req),
        Err(ReadError::TooLarge) => Response::text(413, "request body too large\n"),
        Err(ReadError::Broken) => Response::text(400, "cannot read the request\n"),
    };
    write(resp, out);
}

/// Exports a [`Handler`] as the component's `wasi:http/incoming-handler`.
#[macro_export]
macro_rules! edge_handler {
    ($handler:ty) => {
        #[doc(hidden)]
        pub struct __MeridianEdgeExport;

        impl $crate::bindings::edge::exports::wasi::http::incoming_handler::Guest
            for __MeridianEdgeExport
        {
            fn handle(
                request: $crate::bindings::edge::wasi::http::types::IncomingRequest,
                response_out: $crate::bindings::edge::wasi::http::types::ResponseOutparam,
            ) {
                $crate::http::serve::<$handler>(request, response_out)
            }
        }

        $crate::bindings::edge::export_edge!(__MeridianEdgeExport with_types_in $crate::bindings::edge);
    };
}

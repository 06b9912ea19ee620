//! The console's page and static files, embedded in the binary at build
//! time (no CDN, no separate install): the HTML shell, its script and
//! style, and uPlot (MIT, vendored with its licence under
//! `runtime/console-assets/vendor/`). It serves nothing else.

use hyper::StatusCode;

use super::http::{Reply, error, reply};

/// Where the files are served.
pub const PREFIX: &str = "/ui/assets/";

const INDEX: &str = include_str!("../../console-assets/index.html");

/// Name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console-assets/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console-assets/console.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console-assets/vendor/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console-assets/vendor/uPlot.min.css"),
    ),
    (
        "uPlot.LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../console-assets/vendor/uPlot.LICENSE"),
    ),
];

/// The console page.
pub fn page() -> Reply {
    reply(StatusCode::OK, "text/html; charset=utf-8", INDEX)
}

/// The file called `name`, or 404.
pub fn get(name: &str) -> Reply {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => {
            let mut r = reply(StatusCode::OK, kind, *bytes);
            r.headers_mut().insert(
                hyper::header::CACHE_CONTROL,
                hyper::header::HeaderValue::from_static("no-cache"),
            );
            r
        }
        None => error(StatusCode::NOT_FOUND, format!("no console file {name}")),
    }
}

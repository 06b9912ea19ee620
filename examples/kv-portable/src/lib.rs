//! `kv-portable`: an edge function that uses nothing Meridian-specific — only
//! `wasi:keyvalue@0.2.0-draft` (store, atomics, batch) and `wasi:http` — so
//! the same component runs on any host serving those interfaces. It counts
//! visits per name:
//!
//! - `GET <route>/<name>`: increments the counter `visits:<name>` and answers
//!   `<name>: <count>`;
//! - `GET <route>`: lists every counter (`list-keys` + `get-many`).
//!
//! It opens the default bucket (`""`), which Meridian maps to the module's
//! namespace.

wit_bindgen::generate!({
    path: "../../wit",
    world: "meridian:cache/portable-edge",
    generate_all,
});

use exports::wasi::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::keyvalue::{atomics, batch, store};

struct KvPortable;

fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let headers = Fields::new();
    let _ = headers.append("content-type", b"text/plain; charset=utf-8");
    let resp = OutgoingResponse::new(headers);
    let _ = resp.set_status_code(status);
    let Ok(body_handle) = resp.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(resp));
    if let Ok(stream) = body_handle.write() {
        for chunk in body.as_bytes().chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(body_handle, None);
}

fn describe(e: store::Error) -> String {
    match e {
        store::Error::NoSuchStore => "no such store".into(),
        store::Error::AccessDenied => "access denied".into(),
        store::Error::Other(m) => m,
    }
}

fn all_counters(bucket: &store::Bucket) -> Result<String, store::Error> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = bucket.list_keys(cursor)?;
        keys.extend(page.keys.into_iter().filter(|k| k.starts_with("visits:")));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    keys.sort();
    keys.dedup();
    let values = batch::get_many(bucket, &keys)?;
    let mut out = String::new();
    for (key, value) in values.into_iter().flatten() {
        let name = key.trim_start_matches("visits:");
        out.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(&value)));
    }
    Ok(out)
}

impl Guest for KvPortable {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default().to_string();
        let route = request
            .headers()
            .get("x-meridian-route")
            .into_iter()
            .next()
            .and_then(|v| String::from_utf8(v).ok())
            .unwrap_or_default();
        let name = path
            .strip_prefix(route.trim_end_matches('/'))
            .unwrap_or(&path)
            .trim_matches('/')
            .to_string();
        let bucket = match store::open("") {
            Ok(b) => b,
            Err(e) => return respond(out, 503, &format!("{}\n", describe(e))),
        };
        if name.is_empty() {
            return match all_counters(&bucket) {
                Ok(text) => respond(out, 200, &text),
                Err(e) => respond(out, 503, &format!("{}\n", describe(e))),
            };
        }
        match atomics::increment(&bucket, &format!("visits:{name}"), 1) {
            Ok(n) => respond(out, 200, &format!("{name}: {n}\n")),
            Err(e) => respond(out, 503, &format!("{}\n", describe(e))),
        }
    }
}

export!(KvPortable);

//! The keys browser's reads: SCAN by pattern, and one key's type, value,
//! TTL and metadata (edits are in [`super::edits`]). Every read is a RESP
//! command on the session's own connection, so the logged-in user's ACL
//! permissions apply exactly as they would in redis-cli; this file only
//! chooses the commands and shapes their replies as JSON. The one thing
//! read outside a command — which region last wrote the key, and when — is
//! read only after the user's own TYPE of that key succeeded.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::resp_link::{Command, LinkError, RespLink};
use super::sessions::error_line;
use crate::resp::frame::Frame;
use crate::server::Shared;

/// Most elements of a collection shown at once.
pub const MAX_ELEMENTS: usize = 1000;

/// Most keys one browse request returns.
pub const MAX_PAGE: usize = 1000;

/// SCAN calls one browse request makes at most while filling a page.
const SCAN_ROUNDS: usize = 64;

/// Why a keys request failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The server answered an error (its line: NOPERM, WRONGTYPE, …).
    #[error("{0}")]
    Command(String),
    /// No key of that name.
    #[error("no such key")]
    NotFound,
    /// The request named no usable key.
    #[error("{0}")]
    BadRequest(String),
    /// The connection failed.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// A key as the API names it: `key` for UTF-8 names, `key_hex` for any.
#[derive(Debug, Default, Deserialize)]
pub struct KeyRef {
    /// The name as text.
    pub key: Option<String>,
    /// The name's bytes in hex.
    pub key_hex: Option<String>,
}

impl KeyRef {
    /// The key's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, KeysError> {
        match (&self.key, &self.key_hex) {
            (_, Some(h)) => hex::decode(h)
                .map_err(|e| KeysError::BadRequest(format!("key_hex is not hex: {e}"))),
            (Some(k), None) => Ok(k.clone().into_bytes()),
            (None, None) => Err(KeysError::BadRequest(
                "name a key with key or key_hex".into(),
            )),
        }
    }
}

/// A key name for display, with its exact bytes when it is not UTF-8.
#[derive(Debug, Serialize)]
pub struct KeyName {
    /// The name (invalid UTF-8 replaced).
    pub name: String,
    /// The exact bytes in hex, for names that are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
}

impl KeyName {
    fn of(bytes: &[u8]) -> KeyName {
        match std::str::from_utf8(bytes) {
            Ok(s) => KeyName {
                name: s.to_string(),
                hex: None,
            },
            Err(_) => KeyName {
                name: String::from_utf8_lossy(bytes).into_owned(),
                hex: Some(hex::encode(bytes)),
            },
        }
    }
}

/// Text of a string-like frame.
pub(super) fn text(f: &Frame) -> Option<String> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Frame::Verbatim { text, .. } => Some(String::from_utf8_lossy(text).into_owned()),
        _ => None,
    }
}

fn int(f: &Frame) -> Option<i64> {
    match f {
        Frame::Integer(n) => Some(*n),
        _ => None,
    }
}

/// Elements of an aggregate frame.
fn items(f: &Frame) -> &[Frame] {
    match f {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => v,
        _ => &[],
    }
}

/// `f`, or the error it carries.
pub(super) fn ok(f: Frame) -> Result<Frame, KeysError> {
    match error_line(&f) {
        Some(e) => Err(KeysError::Command(e)),
        None => Ok(f),
    }
}

fn cmd(words: &[&[u8]]) -> Command {
    words.iter().map(|w| w.to_vec()).collect()
}

/// One page of keys matching `pattern` from `cursor`, each with its type
/// (`None` where the user may not read it).
#[derive(Debug, Serialize)]
pub struct Page {
    /// Where the next page starts; `"0"` when the scan is complete.
    pub cursor: String,
    /// The keys found.
    pub keys: Vec<Listed>,
}

/// A key in a page.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// Its name.
    #[serde(flatten)]
    pub name: KeyName,
    /// Its type, if the user may see it.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// SCANs from `cursor` until `count` keys are found, the scan completes,
/// or [`SCAN_ROUNDS`] calls were made.
pub async fn browse(
    link: &mut RespLink,
    pattern: &str,
    cursor: &str,
    count: usize,
) -> Result<Page, KeysError> {
    let count = count.clamp(1, MAX_PAGE);
    let mut cursor = cursor.to_string();
    let mut found: Vec<Vec<u8>> = Vec::new();
    for _ in 0..SCAN_ROUNDS {
        let want = (count - found.len()).to_string();
        let reply = ok(link
            .call(&[
                b"SCAN",
                cursor.as_bytes(),
                b"MATCH",
                pattern.as_bytes(),
                b"COUNT",
                want.as_bytes(),
            ])
            .await?)?;
        let parts = items(&reply);
        cursor = parts.first().and_then(text).unwrap_or_else(|| "0".into());
        for k in parts.get(1).map(items).unwrap_or_default() {
            if let Frame::Bulk(b) = k {
                found.push(b.to_vec());
            }
        }
        if cursor == "0" || found.len() >= count {
            break;
        }
    }
    let types = link
        .pipeline(&found.iter().map(|k| cmd(&[b"TYPE", k])).collect::<Vec<_>>())
        .await?;
    let keys = found
        .iter()
        .zip(types)
        .map(|(k, t)| Listed {
            name: KeyName::of(k),
            kind: text(&t),
        })
        .collect();
    Ok(Page { cursor, keys })
}

/// Who last wrote a key, as this region knows it.
#[derive(Debug, Serialize)]
pub struct Origin {
    /// The region that made the last write.
    pub region_id: u16,
    /// Its name.
    pub region_name: String,
    /// Unix milliseconds of that write (its HLC stamp's physical part).
    pub written_at_ms: u64,
    /// The region this view comes from.
    pub seen_in: String,
}

/// One key, as the detail view shows it.
#[derive(Debug, Serialize)]
pub struct Detail {
    /// Its name.
    #[serde(flatten)]
    pub name: KeyName,
    /// Its type (`string`, `hash`, `list`, `set`, `zset`, `document`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Milliseconds to live; `None` if it does not expire.
    pub ttl_ms: Option<i64>,
    /// Length: bytes of a string, elements of a collection.
    pub length: Option<i64>,
    /// The value: text, `[[field, value]]`, `[member]`, `[[member, score]]`,
    /// `[item]`, or a document's JSON.
    pub value: Json,
    /// True if only the first [`MAX_ELEMENTS`] elements are shown.
    pub truncated: bool,
    /// OBJECT ENCODING.
    pub encoding: Option<String>,
    /// MEMORY USAGE in bytes.
    pub memory_bytes: Option<i64>,
    /// The last write.
    pub origin: Option<Origin>,
}

/// A collection of `len` elements: whole (`whole key`) if it has at most
/// [`MAX_ELEMENTS`], else the first page of `scan key 0 COUNT limit`.
async fn whole_or_first_page(
    link: &mut RespLink,
    len: i64,
    whole: &[u8],
    scan: &[u8],
    key: &[u8],
    limit: &[u8],
) -> Result<Frame, KeysError> {
    if len as usize <= MAX_ELEMENTS {
        return ok(link.call(&[whole, key]).await?);
    }
    let r = ok(link.call(&[scan, key, b"0", b"COUNT", limit]).await?)?;
    Ok(items(&r)
        .get(1)
        .cloned()
        .unwrap_or(Frame::Array(Vec::new())))
}

/// Reads `key` through `link`.
pub async fn detail(shared: &Shared, link: &mut RespLink, key: &[u8]) -> Result<Detail, KeysError> {
    let first = link
        .pipeline(&[
            cmd(&[b"TYPE", key]),
            cmd(&[b"PTTL", key]),
            cmd(&[b"OBJECT", b"ENCODING", key]),
            cmd(&[b"MEMORY", b"USAGE", key]),
        ])
        .await?;
    let mut first = first.into_iter();
    let kind = text(&ok(first.next().ok_or(LinkError::Closed)?)?).unwrap_or_default();
    if kind == "none" {
        return Err(KeysError::NotFound);
    }
    // PTTL, OBJECT and MEMORY may be denied to a user who may read the key:
    // the view then goes without them.
    let ttl_ms = first.next().and_then(|f| int(&f)).filter(|t| *t >= 0);
    let encoding = first.next().and_then(|f| text(&f));
    let memory_bytes = first.next().and_then(|f| int(&f));
    let limit = MAX_ELEMENTS.to_string();
    let last = (MAX_ELEMENTS - 1).to_string();
    let limit = limit.as_bytes();
    let (length, value, truncated) = match kind.as_str() {
        "string" => {
            let v = ok(link.call(&[b"GET", key]).await?)?;
            let s = text(&v).unwrap_or_default();
            let len = match &v {
                Frame::Bulk(b) => b.len() as i64,
                _ => 0,
            };
            (Some(len), json!(s), false)
        }
        "hash" => {
            let len = int(&ok(link.call(&[b"HLEN", key]).await?)?).unwrap_or(0);
            let fields = whole_or_first_page(link, len, b"HGETALL", b"HSCAN", key, limit).await?;
            let pairs: Vec<Json> = match &fields {
                Frame::Map(m) => m.iter().map(|(f, v)| json!([text(f), text(v)])).collect(),
                other => items(other)
                    .chunks(2)
                    .map(|p| json!([p.first().and_then(text), p.get(1).and_then(text)]))
                    .collect(),
            };
            let shown = pairs.len();
            (Some(len), Json::Array(pairs), (shown as i64) < len)
        }
        "set" => {
            let len = int(&ok(link.call(&[b"SCARD", key]).await?)?).unwrap_or(0);
            let members = whole_or_first_page(link, len, b"SMEMBERS", b"SSCAN", key, limit).await?;
            let mut v: Vec<String> = items(&members).iter().filter_map(text).collect();
            v.sort();
            let shown = v.len();
            (Some(len), json!(v), (shown as i64) < len)
        }
        "zset" => {
            let len = int(&ok(link.call(&[b"ZCARD", key]).await?)?).unwrap_or(0);
            let r = ok(link
                .call(&[b"ZRANGE", key, b"0", last.as_bytes(), b"WITHSCORES"])
                .await?)?;
            let pairs: Vec<Json> = items(&r)
                .iter()
                .map(|p| {
                    let p = items(p);
                    let score = match p.get(1) {
                        Some(Frame::Double(d)) => json!(d),
                        Some(other) => json!(text(other)),
                        None => Json::Null,
                    };
                    json!([p.first().and_then(text), score])
                })
                .collect();
            let shown = pairs.len();
            (Some(len), Json::Array(pairs), (shown as i64) < len)
        }
        "list" => {
            let len = int(&ok(link.call(&[b"LLEN", key]).await?)?).unwrap_or(0);
            let r = ok(link.call(&[b"LRANGE", key, b"0", last.as_bytes()]).await?)?;
            let v: Vec<String> = items(&r).iter().filter_map(text).collect();
            let shown = v.len();
            (Some(len), json!(v), (shown as i64) < len)
        }
        "document" => {
            let r = ok(link.call(&[b"DOC.GET", key]).await?)?;
            let doc = text(&r)
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Json::Null);
            (None, doc, false)
        }
        _ => (None, Json::Null, false),
    };
    let origin = {
        let mut txn = shared.engine.txn_one(key);
        txn.peek(key).ok().flatten().map(|e| (e.region, e.stamp))
    };
    let origin = origin.map(|(region, stamp)| Origin {
        region_id: region.0,
        region_name: region_name(shared, region),
        written_at_ms: stamp.physical_ms(),
        seen_in: shared.config.region_name.clone(),
    });
    Ok(Detail {
        name: KeyName::of(key),
        kind,
        ttl_ms,
        length,
        value,
        truncated,
        encoding,
        memory_bytes,
        origin,
    })
}

/// The name of region `id`: ours, a peer's, or its number.
fn region_name(shared: &Shared, id: crate::clock::RegionId) -> String {
    if id == shared.engine.region() {
        return shared.config.region_name.clone();
    }
    shared
        .engine
        .replica()
        .and_then(|r| r.peers().into_iter().find(|p| p.region == id))
        .map_or_else(|| format!("region {}", id.0), |p| p.name)
}

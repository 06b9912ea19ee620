//! The keys browser's edits: set a string or document, set or delete a hash
//! field, add or remove a member or item, set or remove the TTL, delete the
//! key. Each is the one RESP command a user would type, run on the
//! session's own connection (so ACLs, notifications, WATCH and replication
//! apply); this file only maps the page's request to that command and its
//! reply to JSON.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::keys::{KeyRef, KeysError, ok, text};
use super::resp_link::{Command, RespLink};
use crate::resp::frame::Frame;

/// A reply as JSON, for showing what an edit answered.
pub fn frame_json(f: &Frame) -> Json {
    match f {
        Frame::Simple(_) | Frame::Bulk(_) | Frame::Verbatim { .. } => {
            json!(text(f).unwrap_or_default())
        }
        Frame::BigNumber(digits) => json!(String::from_utf8_lossy(digits)),
        Frame::Error(e) | Frame::BulkError(e) => json!({ "error": String::from_utf8_lossy(e) }),
        Frame::Integer(n) => json!(n),
        Frame::Double(d) => json!(d),
        Frame::Boolean(b) => json!(b),
        Frame::NullBulk | Frame::NullArray | Frame::Null => Json::Null,
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => {
            Json::Array(v.iter().map(frame_json).collect())
        }
        Frame::Map(pairs) | Frame::Attribute { attrs: pairs, .. } => Json::Array(
            pairs
                .iter()
                .map(|(k, v)| json!([frame_json(k), frame_json(v)]))
                .collect(),
        ),
    }
}

/// A change to one key, as the page asks for it.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Edit {
    /// SET, keeping the TTL.
    Set {
        /// The new value.
        value: String,
    },
    /// HSET one field.
    Hset {
        /// Field.
        field: String,
        /// Value.
        value: String,
    },
    /// HDEL one field.
    Hdel {
        /// Field.
        field: String,
    },
    /// SADD one member.
    Sadd {
        /// Member.
        member: String,
    },
    /// SREM one member.
    Srem {
        /// Member.
        member: String,
    },
    /// ZADD one member.
    Zadd {
        /// Member.
        member: String,
        /// Score.
        score: f64,
    },
    /// ZREM one member.
    Zrem {
        /// Member.
        member: String,
    },
    /// RPUSH one item.
    Rpush {
        /// Item.
        value: String,
    },
    /// LSET the item at an index.
    Lset {
        /// Index (negative from the end).
        index: i64,
        /// New item.
        value: String,
    },
    /// LREM the first occurrence of an item.
    Lrem {
        /// Item.
        value: String,
    },
    /// DOC.SET a path (the root by default) to JSON.
    DocSet {
        /// Path, `$` if absent.
        path: Option<String>,
        /// The JSON text.
        json: String,
    },
    /// PEXPIRE.
    Expire {
        /// Milliseconds to live.
        ttl_ms: u64,
    },
    /// PERSIST.
    Persist,
    /// DEL.
    Delete,
}

impl Edit {
    /// The command that makes this change to `key`.
    pub fn command(&self, key: &[u8]) -> Command {
        let k = key.to_vec();
        let w = |s: &str| s.as_bytes().to_vec();
        match self {
            Edit::Set { value } => vec![w("SET"), k, w(value), w("KEEPTTL")],
            Edit::Hset { field, value } => vec![w("HSET"), k, w(field), w(value)],
            Edit::Hdel { field } => vec![w("HDEL"), k, w(field)],
            Edit::Sadd { member } => vec![w("SADD"), k, w(member)],
            Edit::Srem { member } => vec![w("SREM"), k, w(member)],
            Edit::Zadd { member, score } => vec![w("ZADD"), k, w(&score.to_string()), w(member)],
            Edit::Zrem { member } => vec![w("ZREM"), k, w(member)],
            Edit::Rpush { value } => vec![w("RPUSH"), k, w(value)],
            Edit::Lset { index, value } => vec![w("LSET"), k, w(&index.to_string()), w(value)],
            Edit::Lrem { value } => vec![w("LREM"), k, w("1"), w(value)],
            Edit::DocSet { path, json } => {
                vec![w("DOC.SET"), k, w(path.as_deref().unwrap_or("$")), w(json)]
            }
            Edit::Expire { ttl_ms } => vec![w("PEXPIRE"), k, w(&ttl_ms.to_string())],
            Edit::Persist => vec![w("PERSIST"), k],
            Edit::Delete => vec![w("DEL"), k],
        }
    }
}

/// An edit request: the key and the change.
#[derive(Debug, Deserialize)]
pub struct EditRequest {
    /// The key.
    #[serde(flatten)]
    pub key: KeyRef,
    /// The change.
    #[serde(flatten)]
    pub edit: Edit,
}

/// Runs `edit` on `key`; returns the command's reply.
pub async fn apply(link: &mut RespLink, key: &[u8], edit: &Edit) -> Result<Json, KeysError> {
    let c = edit.command(key);
    let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
    let reply = ok(link.call(&args).await?)?;
    Ok(frame_json(&reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(c: Command) -> Vec<String> {
        c.into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect()
    }

    #[test]
    fn edits_are_the_commands_a_user_would_type() {
        let parse = |j: serde_json::Value| -> EditRequest {
            serde_json::from_value(j).expect("edit request")
        };
        let e = parse(json!({"key": "k", "op": "set", "value": "v"}));
        assert_eq!(
            words(e.edit.command(&e.key.bytes().expect("key"))),
            ["SET", "k", "v", "KEEPTTL"]
        );
        let e = parse(json!({"key_hex": "6bff", "op": "zadd", "member": "m", "score": 1.5}));
        assert_eq!(e.key.bytes().expect("key"), b"k\xff");
        assert_eq!(words(e.edit.command(b"z")), ["ZADD", "z", "1.5", "m"]);
        let e = parse(json!({"key": "d", "op": "doc_set", "json": "{}"}));
        assert_eq!(words(e.edit.command(b"d")), ["DOC.SET", "d", "$", "{}"]);
        let e = parse(json!({"key": "k", "op": "delete"}));
        assert_eq!(words(e.edit.command(b"k")), ["DEL", "k"]);
        // Unknown operations and missing fields are refused when parsed.
        assert!(
            serde_json::from_value::<EditRequest>(json!({"key": "k", "op": "flushall"})).is_err()
        );
        assert!(serde_json::from_value::<EditRequest>(json!({"key": "k", "op": "hset"})).is_err());
        assert!(KeyRef::default().bytes().is_err());
        let bad = KeyRef {
            key: None,
            key_hex: Some("zz".into()),
        };
        assert!(bad.bytes().is_err());
    }

    #[test]
    fn replies_become_json() {
        assert_eq!(frame_json(&Frame::Integer(3)), json!(3));
        assert_eq!(frame_json(&Frame::simple("OK")), json!("OK"));
        assert_eq!(frame_json(&Frame::Null), Json::Null);
        assert_eq!(
            frame_json(&Frame::Map(vec![(Frame::bulk("f"), Frame::bulk("v"))])),
            json!([["f", "v"]])
        );
        assert_eq!(
            frame_json(&Frame::error("ERR no")),
            json!({"error": "ERR no"})
        );
    }
}

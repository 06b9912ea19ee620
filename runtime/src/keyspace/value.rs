//! The typed values a key can hold, and what each costs in memory.
//!
//! Collections keep a running estimate of their heap bytes, so accounting a write
//! is O(1) however large the value is.

use super::blob::{Blob, heap_bytes};
use super::{HashValue, ListValue, SetValue, SortedSet};
use crate::docs::Document;

/// A key's value. Collections are boxed so that a string key — the common case —
/// keeps the whole entry in one small allocation.
#[derive(Debug, Clone)]
pub enum Value {
    /// A byte string (also integers and floats, stored in decimal like Redis).
    Str(Blob),
    /// Field → value map.
    Hash(Box<HashValue>),
    /// Unordered set of members.
    Set(Box<SetValue>),
    /// Members ordered by score.
    ZSet(Box<SortedSet>),
    /// Doubly-ended sequence.
    List(Box<ListValue>),
    /// A JSON-like automerge document (`DOC.*`).
    Doc(Box<Document>),
}

/// The name `TYPE` reports for each kind of value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `string`
    Str,
    /// `hash`
    Hash,
    /// `set`
    Set,
    /// `zset`
    ZSet,
    /// `list`
    List,
    /// `document`
    Doc,
}

impl Kind {
    /// The Redis type name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::List => "list",
            Kind::Doc => "document",
        }
    }

    /// Parses a `TYPE` name (as SCAN's TYPE option takes it).
    pub fn from_name(name: &[u8]) -> Option<Kind> {
        Some(match name.to_ascii_lowercase().as_slice() {
            b"string" => Kind::Str,
            b"hash" => Kind::Hash,
            b"set" => Kind::Set,
            b"zset" => Kind::ZSet,
            b"list" => Kind::List,
            b"document" => Kind::Doc,
            _ => return None,
        })
    }
}

impl Value {
    /// Which kind of value this is.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::Str,
            Value::Hash(_) => Kind::Hash,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::List(_) => Kind::List,
            Value::Doc(_) => Kind::Doc,
        }
    }

    /// Heap bytes owned by the value beyond the entry that holds it.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(b) => heap_bytes(b),
            Value::Hash(h) => std::mem::size_of::<HashValue>() + h.bytes(),
            Value::Set(s) => std::mem::size_of::<SetValue>() + s.bytes(),
            Value::ZSet(z) => std::mem::size_of::<SortedSet>() + z.bytes(),
            Value::List(l) => std::mem::size_of::<ListValue>() + l.bytes(),
            Value::Doc(d) => std::mem::size_of::<Document>() + d.heap_bytes(),
        }
    }

    /// Elements a collection holds (fields, members, list elements); 1 for
    /// a string or a document.
    pub fn elements(&self) -> usize {
        match self {
            Value::Str(_) | Value::Doc(_) => 1,
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::List(l) => l.len(),
        }
    }

    /// True for a collection with no elements (Redis deletes such keys).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::List(l) => l.is_empty(),
            // An empty document is still a document (`{}`), as in RedisJSON.
            Value::Doc(_) => false,
        }
    }
}

//! Session documents: a key that holds an automerge document (JSON-like:
//! maps, lists, text, counters) whose concurrent edits in different regions
//! merge instead of replacing each other.
//!
//! This module owns the document value ([`Document`]), the path syntax
//! ([`Path`]), the conversion between documents and JSON, and the edits the
//! `DOC.*` commands and the WIT `document` interface make ([`Edit`]). It must
//! not touch the keyspace, the replication log or any wire protocol: the
//! engine (`engine::documents`) stores documents in keys and ships each edit's
//! automerge change as a replication delta; `engine::replica` merges those
//! changes with automerge's own merge (commutative and idempotent).
//!
//! The folder is named `docs` as the issue asked; it has nothing to do with
//! the repository's `docs/` (user documentation).

mod document;
mod edit;
mod error;
mod json;
mod path;

pub use document::{COMPACT_AFTER_CHANGES, Document};
pub use edit::{Edit, EditOutcome};
pub use error::DocError;
pub use path::{Path, Step};

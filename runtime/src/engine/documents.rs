//! Document operations (`DOC.*`, the WIT `document` interface): reading a
//! path of the document a key holds, and editing it so that the edit
//! replicates as its automerge change — a delta, so concurrent edits in
//! other regions merge with it instead of replacing it.
//!
//! What an edit does to a document is `crate::docs`'s business; this file
//! only stores documents in keys, records deltas and compacts long
//! histories.

use serde_bytes::ByteBuf;

use super::change::DeltaOp;
use super::{EngineError, EngineResult, Txn};
use crate::docs::{COMPACT_AFTER_CHANGES, Edit, EditOutcome, Path};
use crate::keyspace::{Kind, Value, hash_key};

impl Txn<'_> {
    /// DOC.GET: the JSON at `path` of the document at `key`; `None` if the
    /// key or the path is missing.
    pub fn doc_get(&mut self, key: &[u8], path: &Path) -> EngineResult<Option<String>> {
        let Some(Value::Doc(d)) = self.read_kind(key, Kind::Doc)? else {
            return Ok(None);
        };
        Ok(d.get(path)?.map(|json| json.to_string()))
    }

    /// Carries out `edit` on the document at `key`, creating an empty one
    /// if the key is missing (and the edit succeeds). Deleting the root
    /// deletes the key (`Removed(true)` if it existed).
    pub fn doc_edit(&mut self, key: &[u8], edit: &Edit) -> EngineResult<EditOutcome> {
        if let Edit::Del { path } = edit
            && path.is_root()
        {
            return match self.peek(key)?.map(|e| e.value.kind()) {
                Some(Kind::Doc) => self.delete(key).map(EditOutcome::Removed),
                Some(_) => Err(EngineError::WrongType),
                None => Ok(EditOutcome::Removed(false)),
            };
        }
        let before = self.delta_base(key)?;
        let mut change = None;
        let outcome = self.edit_kind(
            key,
            Kind::Doc,
            || Value::Doc(Box::default()),
            |value| {
                let Value::Doc(doc) = value else {
                    return Err(EngineError::WrongType);
                };
                let (outcome, bytes) = doc.edit(edit)?;
                let changed = bytes.is_some();
                change = bytes;
                Ok((outcome, changed))
            },
        )?;
        if let Some(bytes) = change {
            self.note_delta(key, || DeltaOp::DocChange(ByteBuf::from(bytes)), before);
            self.compact_if_long(key)?;
        }
        Ok(outcome)
    }

    /// Replaces the document at `key` by a copy saved afresh from its
    /// current state once its history holds more than
    /// [`COMPACT_AFTER_CHANGES`] changes. With replication only while the
    /// region holds no unmerged concurrent versions of the key; the new
    /// document replicates as a replacing write (see `docs/semantics.md`
    /// for what that costs an edit made concurrently elsewhere).
    fn compact_if_long(&mut self, key: &[u8]) -> EngineResult<()> {
        if let Some(replica) = self.engine.replica() {
            // `needs_base` is true while the key shows no derived view: every
            // version of it this region knows was merged before this edit.
            let index = self.engine.keyspace().shard_of(hash_key(key));
            if !replica.needs_base(index, key) {
                return Ok(());
            }
        }
        let long = match self.peek(key)? {
            Some(e) => match &e.value {
                Value::Doc(d) if d.change_count() > COMPACT_AFTER_CHANGES => {
                    Some((d.compacted()?, e.expire_at))
                }
                _ => None,
            },
            None => None,
        };
        let Some((fresh, expire_at)) = long else {
            return Ok(());
        };
        self.put(key, Value::Doc(Box::new(fresh)), expire_at)
    }
}

//! `meridian:cache/document`: session documents, mirroring DOC.GET,
//! DOC.SET, DOC.DEL, DOC.INCR and DOC.PUSH (JSON in and out).

use super::super::bindings::meridian::cache::document::Host;
use super::super::sandbox::guest_error;
use super::super::state::GuestState;
use super::{HostResult, count};
use crate::docs::{DocError, Edit, EditOutcome, Path};
use crate::engine::EngineError;

fn path(text: &str) -> HostResult<Path> {
    Path::parse(text).map_err(|e| guest_error(e.into()))
}

fn json(text: &str) -> HostResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| guest_error(DocError::BadJson(e.to_string()).into()))
}

impl GuestState {
    fn doc_edit(&self, key: &str, edit: Edit) -> HostResult<EditOutcome> {
        let k = self.key(key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        t.doc_edit(&k, &edit).map_err(guest_error)
    }
}

fn unexpected() -> super::super::bindings::GuestError {
    guest_error(EngineError::Invalid(
        "internal error: unexpected edit outcome".into(),
    ))
}

impl Host for GuestState {
    fn get(&mut self, key: String, path_text: String) -> HostResult<Option<String>> {
        let p = path(&path_text)?;
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        t.doc_get(&k, &p).map_err(guest_error)
    }

    fn set(&mut self, key: String, path_text: String, value: String) -> HostResult<()> {
        let edit = Edit::Set {
            path: path(&path_text)?,
            value: json(&value)?,
        };
        self.doc_edit(&key, edit).map(|_| ())
    }

    fn delete(&mut self, key: String, path_text: String) -> HostResult<bool> {
        let edit = Edit::Del {
            path: path(&path_text)?,
        };
        Ok(matches!(
            self.doc_edit(&key, edit)?,
            EditOutcome::Removed(true)
        ))
    }

    fn incr(&mut self, key: String, path_text: String, delta: i64) -> HostResult<i64> {
        let edit = Edit::Incr {
            path: path(&path_text)?,
            by: delta,
        };
        match self.doc_edit(&key, edit)? {
            EditOutcome::Counter(n) => Ok(n),
            _ => Err(unexpected()),
        }
    }

    fn push(&mut self, key: String, path_text: String, values: Vec<String>) -> HostResult<u32> {
        let edit = Edit::Push {
            path: path(&path_text)?,
            values: values.iter().map(|v| json(v)).collect::<HostResult<_>>()?,
        };
        match self.doc_edit(&key, edit)? {
            EditOutcome::Length(n) => Ok(count(n)),
            _ => Err(unexpected()),
        }
    }
}

//! The edits `DOC.SET`, `DOC.DEL`, `DOC.INCR` and `DOC.PUSH` (and the WIT
//! `document` interface) make, carried out inside one automerge transaction.
//!
//! How each merges with a concurrent edit in another region (automerge's
//! rules, which `docs/semantics.md` states for users):
//! - SET of a scalar, a list, or an object where no object is: replaces the
//!   value at the path; of two concurrent SETs of one path, one wins
//!   (deterministically, the same in every region). SETs of different paths
//!   all land.
//! - SET of an object over an object updates it key by key (keys missing
//!   from the new object are deleted, equal scalars are left alone), so a
//!   concurrent edit of a key the SET did not change survives.
//! - INCR of a counter adds: concurrent increments all count. INCR of a
//!   missing key creates the counter; of a plain integer, turns it into a
//!   counter (both are writes of the key, racing like a SET).
//! - PUSH inserts at the end of a list; concurrent pushes all land, in an
//!   order every region agrees on.
//! - DEL removes the value; an edit inside it made concurrently is lost
//!   with it.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value};
use serde_json::Value as Json;

use super::json::{self, Slot};
use super::{DocError, Path, Step};

/// One edit of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Writes `value` at `path` (whose parent must exist).
    Set {
        /// Where.
        path: Path,
        /// What.
        value: Json,
    },
    /// Removes the value at `path` (not the root).
    Del {
        /// Where.
        path: Path,
    },
    /// Adds `by` to the counter at `path`.
    Incr {
        /// Where.
        path: Path,
        /// How much.
        by: i64,
    },
    /// Appends `values` to the list at `path`.
    Push {
        /// Where.
        path: Path,
        /// What, in order.
        values: Vec<Json>,
    },
}

/// What an edit reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditOutcome {
    /// SET wrote.
    Written,
    /// DEL: whether there was a value to remove.
    Removed(bool),
    /// INCR: the counter's new value.
    Counter(i64),
    /// PUSH: the list's new length.
    Length(usize),
}

fn internal(e: automerge::AutomergeError) -> DocError {
    DocError::Corrupt(e.to_string())
}

/// What sits at one place of a document.
pub(super) enum Found<'a> {
    /// An object of this type.
    Object(ObjId, ObjType),
    /// A scalar.
    Scalar(std::borrow::Cow<'a, ScalarValue>),
}

/// The prop a step names inside `obj` (of type `typ`), with negative list
/// indices resolved. `None` if the index is outside the list.
pub(super) fn prop_of<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    typ: ObjType,
    step: &Step,
) -> Result<Option<Prop>, DocError> {
    match (step, typ) {
        (Step::Key(k), ObjType::Map | ObjType::Table) => Ok(Some(Prop::Map(k.clone()))),
        (Step::Index(i), ObjType::List) => {
            let len = doc.length(obj) as i64;
            let i = if *i < 0 { len + i } else { *i };
            Ok((0..len).contains(&i).then_some(Prop::Seq(i as usize)))
        }
        (Step::Key(_), _) => Err(DocError::WrongShape("path names a key of a non-object")),
        (Step::Index(_), _) => Err(DocError::WrongShape("path indexes a non-array")),
    }
}

/// What is at `steps` from the root, `None` if nothing is.
pub(super) fn find<'a, R: ReadDoc>(
    doc: &'a R,
    steps: &[Step],
) -> Result<Option<Found<'a>>, DocError> {
    let mut here = Found::Object(automerge::ROOT, ObjType::Map);
    for step in steps {
        let Found::Object(obj, typ) = here else {
            return Err(DocError::WrongShape("path goes through a scalar"));
        };
        let Some(prop) = prop_of(doc, &obj, typ, step)? else {
            return Ok(None);
        };
        here = match doc.get(&obj, prop).map_err(internal)? {
            None => return Ok(None),
            Some((Value::Object(t), id)) => Found::Object(id, t),
            Some((Value::Scalar(s), _)) => Found::Scalar(s),
        };
    }
    Ok(Some(here))
}

/// The object at `steps`, which must exist.
fn object_at<R: ReadDoc>(doc: &R, steps: &[Step]) -> Result<(ObjId, ObjType), DocError> {
    match find(doc, steps)? {
        Some(Found::Object(id, typ)) => Ok((id, typ)),
        Some(Found::Scalar(_)) => Err(DocError::WrongShape("path goes through a scalar")),
        None => Err(DocError::NoPath),
    }
}

impl Edit {
    /// Carries the edit out in `tx`.
    pub(super) fn apply<T: Transactable>(&self, tx: &mut T) -> Result<EditOutcome, DocError> {
        match self {
            Edit::Set { path, value } => set(tx, path, value).map(|()| EditOutcome::Written),
            Edit::Del { path } => del(tx, path).map(EditOutcome::Removed),
            Edit::Incr { path, by } => incr(tx, path, *by).map(EditOutcome::Counter),
            Edit::Push { path, values } => push(tx, path, values).map(EditOutcome::Length),
        }
    }
}

fn set<T: Transactable>(tx: &mut T, path: &Path, value: &Json) -> Result<(), DocError> {
    let Some((parent, last)) = path.split_last() else {
        if !value.is_object() {
            return Err(DocError::WrongShape(
                "the root of a document must be an object",
            ));
        }
        return update(tx, &automerge::ROOT, value);
    };
    let (obj, typ) = object_at(&*tx, parent)?;
    let prop = match (prop_of(&*tx, &obj, typ, last)?, last) {
        (Some(p), _) => p,
        // Setting one past the end of a list appends.
        (None, Step::Index(i)) if *i == tx.length(&obj) as i64 => {
            return json::write(tx, &obj, Slot::Insert(*i as usize), value);
        }
        (None, _) => return Err(DocError::WrongShape("array index out of range")),
    };
    match current(&*tx, &obj, prop.clone(), value)? {
        Current::Map(id) => update(tx, &id, value),
        // Unchanged: writing it again would only compete with concurrent
        // edits of the same value.
        Current::Same => Ok(()),
        Current::Other => json::write(tx, &obj, Slot::Put(prop), value),
    }
}

/// What a SET finds where it writes.
enum Current {
    /// A map, and the new value is an object: update it in place.
    Map(ObjId),
    /// An equal scalar (not a counter).
    Same,
    /// Anything else, or nothing.
    Other,
}

fn current<R: ReadDoc>(doc: &R, obj: &ObjId, prop: Prop, new: &Json) -> Result<Current, DocError> {
    Ok(match doc.get(obj, prop).map_err(internal)? {
        Some((Value::Object(ObjType::Map), id)) if new.is_object() => Current::Map(id),
        Some((Value::Scalar(old), _)) if !is_counter(&old) && json::scalar_json(&old) == *new => {
            Current::Same
        }
        _ => Current::Other,
    })
}

fn is_counter(s: &ScalarValue) -> bool {
    matches!(s, ScalarValue::Counter(_))
}

/// Makes the map `obj` hold exactly the object `value`, touching only the
/// keys that differ.
fn update<T: Transactable>(tx: &mut T, obj: &ObjId, value: &Json) -> Result<(), DocError> {
    let Json::Object(fields) = value else {
        return Ok(());
    };
    let gone: Vec<String> = tx
        .keys(obj)
        .filter(|k| !fields.contains_key(k.as_str()))
        .collect();
    for k in gone {
        tx.delete(obj, k.as_str()).map_err(internal)?;
    }
    for (k, v) in fields {
        match current(&*tx, obj, k.as_str().into(), v)? {
            Current::Map(id) => update(tx, &id, v)?,
            Current::Same => {}
            Current::Other => json::write(tx, obj, Slot::Put(k.as_str().into()), v)?,
        }
    }
    Ok(())
}

fn del<T: Transactable>(tx: &mut T, path: &Path) -> Result<bool, DocError> {
    let Some((parent, last)) = path.split_last() else {
        return Err(DocError::WrongShape(
            "the root cannot be removed (DEL the key instead)",
        ));
    };
    let (obj, typ) = match find(&*tx, parent)? {
        Some(Found::Object(id, typ)) => (id, typ),
        _ => return Ok(false),
    };
    let Some(prop) = prop_of(&*tx, &obj, typ, last)? else {
        return Ok(false);
    };
    if tx.get(&obj, prop.clone()).map_err(internal)?.is_none() {
        return Ok(false);
    }
    tx.delete(&obj, prop).map_err(internal)?;
    Ok(true)
}

fn incr<T: Transactable>(tx: &mut T, path: &Path, by: i64) -> Result<i64, DocError> {
    let Some((parent, last)) = path.split_last() else {
        return Err(DocError::WrongShape("the root is not a number"));
    };
    let (obj, typ) = object_at(&*tx, parent)?;
    let prop =
        prop_of(&*tx, &obj, typ, last)?.ok_or(DocError::WrongShape("array index out of range"))?;
    let here = match tx.get(&obj, prop.clone()).map_err(internal)? {
        Some((Value::Scalar(s), _)) => Some(Some(s.into_owned())),
        Some((Value::Object(_), _)) => Some(None),
        None => None,
    };
    let not_integer = DocError::WrongShape("value at path is not an integer");
    match here {
        Some(Some(ScalarValue::Counter(c))) => {
            let next = i64::from(&c).checked_add(by).ok_or(DocError::Overflow)?;
            tx.increment(&obj, prop, by).map_err(internal)?;
            Ok(next)
        }
        Some(Some(ScalarValue::Int(n))) => {
            let next = n.checked_add(by).ok_or(DocError::Overflow)?;
            tx.put(&obj, prop, ScalarValue::counter(next))
                .map_err(internal)?;
            Ok(next)
        }
        Some(Some(ScalarValue::Uint(n))) => {
            let next = i64::try_from(n)
                .ok()
                .and_then(|n| n.checked_add(by))
                .ok_or(DocError::Overflow)?;
            tx.put(&obj, prop, ScalarValue::counter(next))
                .map_err(internal)?;
            Ok(next)
        }
        Some(_) => Err(not_integer),
        None => {
            tx.put(&obj, prop, ScalarValue::counter(by))
                .map_err(internal)?;
            Ok(by)
        }
    }
}

fn push<T: Transactable>(tx: &mut T, path: &Path, values: &[Json]) -> Result<usize, DocError> {
    let not_array = DocError::WrongShape("value at path is not an array");
    let (obj, typ) = match find(&*tx, &path.steps)? {
        Some(Found::Object(id, typ)) => (id, typ),
        Some(Found::Scalar(_)) => return Err(not_array),
        None => return Err(DocError::NoPath),
    };
    if typ != ObjType::List {
        return Err(not_array);
    }
    let mut len = tx.length(&obj);
    for v in values {
        json::write(tx, &obj, Slot::Insert(len), v)?;
        len += 1;
    }
    Ok(len)
}

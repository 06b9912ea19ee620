//! JSON in and out of automerge: writing a JSON value into a document
//! (objects become maps, arrays lists, strings plain string scalars) and
//! reading any document value back as JSON (counters read as numbers, text
//! objects as strings).
//!
//! Map keys come out sorted (`serde_json`'s map is ordered), so regions
//! holding the same document print the same bytes.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, hydrate};
use serde_json::Value as Json;

use super::DocError;

/// Where a value goes: a map key or list slot to overwrite, or a list
/// position to insert at.
pub(super) enum Slot {
    /// Replace the value at this map key or list index.
    Put(automerge::Prop),
    /// Insert before this list index.
    Insert(usize),
}

fn internal(e: automerge::AutomergeError) -> DocError {
    DocError::Corrupt(e.to_string())
}

/// The scalar a JSON leaf becomes, or `None` for an object or array.
fn scalar(json: &Json) -> Option<ScalarValue> {
    Some(match json {
        Json::Null => ScalarValue::Null,
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => ScalarValue::Int(i),
            (None, Some(u), _) => ScalarValue::Uint(u),
            (_, _, Some(f)) => ScalarValue::F64(f),
            _ => ScalarValue::Null,
        },
        Json::String(s) => ScalarValue::Str(s.as_str().into()),
        Json::Array(_) | Json::Object(_) => return None,
    })
}

/// Writes `json` into `obj` at `slot`.
pub(super) fn write<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    slot: Slot,
    json: &Json,
) -> Result<(), DocError> {
    if let Some(s) = scalar(json) {
        return match slot {
            Slot::Put(prop) => tx.put(obj, prop, s),
            Slot::Insert(i) => tx.insert(obj, i, s),
        }
        .map_err(internal);
    }
    let kind = if json.is_array() {
        ObjType::List
    } else {
        ObjType::Map
    };
    let child = match slot {
        Slot::Put(prop) => tx.put_object(obj, prop, kind),
        Slot::Insert(i) => tx.insert_object(obj, i, kind),
    }
    .map_err(internal)?;
    fill(tx, &child, json)
}

/// Fills the empty object `obj` (of the kind `json` is) with `json`'s
/// contents.
pub(super) fn fill<T: Transactable>(tx: &mut T, obj: &ObjId, json: &Json) -> Result<(), DocError> {
    match json {
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                write(tx, obj, Slot::Insert(i), item)?;
            }
        }
        Json::Object(fields) => {
            for (k, v) in fields {
                write(tx, obj, Slot::Put(k.as_str().into()), v)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The JSON form of a scalar.
pub(super) fn scalar_json(s: &ScalarValue) -> Json {
    match s {
        ScalarValue::Str(s) => Json::String(s.to_string()),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        ScalarValue::Counter(c) => Json::from(i64::from(c)),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        ScalarValue::Null | ScalarValue::Unknown { .. } => Json::Null,
    }
}

/// The JSON form of a hydrated value.
pub(super) fn hydrated_json(v: &hydrate::Value) -> Json {
    match v {
        hydrate::Value::Scalar(s) => scalar_json(s),
        hydrate::Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, mv)| (k.clone(), hydrated_json(&mv.value)))
                .collect(),
        ),
        hydrate::Value::List(l) => {
            Json::Array(l.iter().map(|lv| hydrated_json(&lv.value)).collect())
        }
        hydrate::Value::Text(t) => Json::String(t.to_string()),
    }
}

/// The JSON form of the object `obj` of `doc`.
pub(super) fn object_json<R: ReadDoc>(doc: &R, obj: &ObjId) -> Result<Json, DocError> {
    doc.hydrate(obj, None)
        .map(|h| hydrated_json(&h))
        .map_err(internal)
}

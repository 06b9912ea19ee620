//! [`Document`]: the value of a document key — an automerge document, its
//! edits as automerge changes, and its history's compaction.
//!
//! Every `Document` value gets a fresh random actor when it is made, loaded
//! or cloned, so no two documents that may ever merge share an actor: a key
//! deleted and recreated, a copy, a compacted document, or a region's view
//! rebuilt from versions it holds all edit under actors of their own. (An
//! actor's changes must be numbered 1, 2, 3… without gaps or repeats; two
//! documents editing under one actor would both number a change 5.)

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, Change, ReadDoc};
use serde_json::Value as Json;

use super::edit::{Edit, EditOutcome, Found, find};
use super::json;
use super::{DocError, Path};

/// A document whose history holds more changes than this is compacted after
/// an edit: saved afresh from its current state (see `docs/semantics.md`
/// for what that costs concurrent edits).
pub const COMPACT_AFTER_CHANGES: usize = 1000;

/// Estimated heap bytes per operation and per change of a loaded document
/// (automerge does not report its memory; these are measured averages of
/// small session documents, rounded up).
const OP_BYTES: usize = 48;
const CHANGE_BYTES: usize = 160;
const BASE_BYTES: usize = 2048;

/// A document value.
pub struct Document {
    doc: Automerge,
}

impl Clone for Document {
    fn clone(&self) -> Self {
        Document {
            doc: self.doc.clone().with_actor(ActorId::random()),
        }
    }
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.doc.stats();
        f.debug_struct("Document")
            .field("changes", &s.num_changes)
            .field("ops", &s.num_ops)
            .finish()
    }
}

impl Default for Document {
    fn default() -> Self {
        Document::new()
    }
}

impl Document {
    /// An empty document (an empty root object).
    pub fn new() -> Document {
        Document {
            doc: Automerge::new().with_actor(ActorId::random()),
        }
    }

    /// The document `bytes` (from [`Document::save`]) hold.
    pub fn load(bytes: &[u8]) -> Result<Document, DocError> {
        let doc = Automerge::load(bytes).map_err(|e| DocError::Corrupt(e.to_string()))?;
        Ok(Document {
            doc: doc.with_actor(ActorId::random()),
        })
    }

    /// The whole document with its history, compressed.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes in the document's history.
    pub fn change_count(&self) -> usize {
        self.doc.stats().num_changes as usize
    }

    /// Estimated heap bytes, O(1).
    pub fn heap_bytes(&self) -> usize {
        let s = self.doc.stats();
        BASE_BYTES + s.num_ops as usize * OP_BYTES + s.num_changes as usize * CHANGE_BYTES
    }

    /// The whole document as JSON.
    pub fn to_json(&self) -> Json {
        json::object_json(&self.doc, &automerge::ROOT).unwrap_or(Json::Null)
    }

    /// The value at `path` as JSON, `None` if there is none.
    pub fn get(&self, path: &Path) -> Result<Option<Json>, DocError> {
        Ok(match find(&self.doc, &path.steps)? {
            None => None,
            Some(Found::Scalar(s)) => Some(json::scalar_json(&s)),
            Some(Found::Object(id, _)) => Some(json::object_json(&self.doc, &id)?),
        })
    }

    /// Carries out `edit` as one automerge change. Returns what it reports
    /// and the change's bytes (`None` if it changed nothing). On error the
    /// document is unchanged.
    pub fn edit(&mut self, edit: &Edit) -> Result<(EditOutcome, Option<Vec<u8>>), DocError> {
        let done = self
            .doc
            .transact_with(
                |_| CommitOptions::default().with_time(unix_seconds()),
                |tx| edit.apply(tx),
            )
            .map_err(|f| f.error)?;
        let bytes = done
            .hash
            .and_then(|h| self.doc.get_change_by_hash(&h))
            .map(|c| c.raw_bytes().to_vec());
        Ok((done.result, bytes))
    }

    /// Merges changes (from [`Document::edit`] here or in another region).
    /// Idempotent and order-free: a change already held is skipped, and one
    /// whose dependencies are missing waits inside the document until they
    /// arrive. Returns how many could not be decoded or applied.
    pub fn merge_changes<'a>(&mut self, changes: impl IntoIterator<Item = &'a [u8]>) -> usize {
        let mut bad = 0;
        let decoded: Vec<Change> = changes
            .into_iter()
            .filter_map(|b| match Change::from_bytes(b.to_vec()) {
                Ok(c) => Some(c),
                Err(_) => {
                    bad += 1;
                    None
                }
            })
            .collect();
        if decoded.is_empty() {
            return bad;
        }
        if self.doc.apply_changes(decoded.clone()).is_err() {
            // One bad change must not keep the others out: retry one by one.
            bad += decoded
                .into_iter()
                .filter(|c| self.doc.apply_changes([c.clone()]).is_err())
                .count();
        }
        bad
    }

    /// Changes held back because a change they depend on is missing.
    pub fn waiting_changes(&self) -> usize {
        // `get_missing_deps` lists what queued changes wait for.
        self.doc.get_missing_deps(&[]).len()
    }

    /// A document with the same content and a history of one change: what
    /// compaction stores. Edits made concurrently against the old history
    /// cannot merge into it (see `docs/semantics.md`).
    pub fn compacted(&self) -> Result<Document, DocError> {
        let corrupt = |e: automerge::AutomergeError| DocError::Corrupt(e.to_string());
        // Hydrated (not JSON) content keeps counters counters.
        let automerge::hydrate::Value::Map(root) = self.doc.hydrate(None) else {
            return Err(DocError::Corrupt("root is not a map".into()));
        };
        let mut fresh = Document::new();
        fresh
            .doc
            .transact_with(
                |_| CommitOptions::default().with_time(unix_seconds()),
                |tx| tx.init_root_from_hydrate(&root),
            )
            .map_err(|f| corrupt(f.error))?;
        Ok(fresh)
    }
}

fn unix_seconds() -> i64 {
    (crate::clock::unix_ms() / 1000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> Path {
        Path::parse(p).expect("path")
    }

    fn set(doc: &mut Document, p: &str, v: Json) -> Vec<u8> {
        doc.edit(&Edit::Set {
            path: path(p),
            value: v,
        })
        .expect("set")
        .1
        .expect("a change")
    }

    fn incr(doc: &mut Document, p: &str, by: i64) -> (i64, Vec<u8>) {
        match doc.edit(&Edit::Incr { path: path(p), by }).expect("incr") {
            (EditOutcome::Counter(n), Some(c)) => (n, c),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn push(doc: &mut Document, p: &str, v: Json) -> Vec<u8> {
        doc.edit(&Edit::Push {
            path: path(p),
            values: vec![v],
        })
        .expect("push")
        .1
        .expect("a change")
    }

    /// Three copies of one document, as three regions hold it.
    fn three(base: &Document) -> [Document; 3] {
        let bytes = base.save();
        [0, 1, 2].map(|_| Document::load(&bytes).expect("load"))
    }

    fn merge_all(docs: &mut [Document; 3], changes: &[Vec<u8>]) {
        for d in docs.iter_mut() {
            assert_eq!(d.merge_changes(changes.iter().map(Vec::as_slice)), 0);
        }
    }

    #[test]
    fn set_get_del_on_paths() {
        let mut d = Document::new();
        set(&mut d, "$", json!({"user": {"name": "ann"}, "cart": []}));
        assert_eq!(
            d.get(&path("$.user.name")).expect("get"),
            Some(json!("ann"))
        );
        set(&mut d, "$.user.age", json!(41));
        push(&mut d, "$.cart", json!({"sku": "a"}));
        push(&mut d, "cart", json!({"sku": "b"}));
        assert_eq!(
            d.get(&path("$.cart[-1].sku")).expect("get"),
            Some(json!("b"))
        );
        assert_eq!(d.get(&path("$.nope")).expect("get"), None);
        assert_eq!(d.get(&path("$.cart[9]")).expect("get"), None);
        let (out, change) = d
            .edit(&Edit::Del {
                path: path("$.cart[0]"),
            })
            .expect("del");
        assert_eq!(out, EditOutcome::Removed(true));
        assert!(change.is_some());
        let (out, change) = d
            .edit(&Edit::Del {
                path: path("$.cart[5]"),
            })
            .expect("del");
        assert_eq!((out, change), (EditOutcome::Removed(false), None));
        assert_eq!(
            d.to_json(),
            json!({"user": {"name": "ann", "age": 41}, "cart": [{"sku": "b"}]})
        );
    }

    #[test]
    fn errors_leave_the_document_unchanged() {
        let mut d = Document::new();
        set(&mut d, "$", json!({"n": "x", "l": [1]}));
        let before = d.to_json();
        let changes = d.change_count();
        for (edit, want) in [
            (
                Edit::Set {
                    path: path("$.a.b"),
                    value: json!(1),
                },
                DocError::NoPath,
            ),
            (
                Edit::Set {
                    path: path("$"),
                    value: json!([1]),
                },
                DocError::WrongShape("the root of a document must be an object"),
            ),
            (
                Edit::Incr {
                    path: path("$.n"),
                    by: 1,
                },
                DocError::WrongShape("value at path is not an integer"),
            ),
            (
                Edit::Push {
                    path: path("$.n"),
                    values: vec![json!(1)],
                },
                DocError::WrongShape("value at path is not an array"),
            ),
            (
                Edit::Set {
                    path: path("$.n.x"),
                    value: json!(1),
                },
                DocError::WrongShape("path goes through a scalar"),
            ),
            (
                Edit::Set {
                    path: path("$.l.x"),
                    value: json!(1),
                },
                DocError::WrongShape("path names a key of a non-object"),
            ),
        ] {
            assert_eq!(d.edit(&edit).map(|_| ()), Err(want), "{edit:?}");
        }
        assert_eq!(d.to_json(), before);
        assert_eq!(d.change_count(), changes);
    }

    #[test]
    fn incr_makes_and_adds_counters_and_checks_overflow() {
        let mut d = Document::new();
        assert_eq!(incr(&mut d, "$.hits", 5).0, 5);
        assert_eq!(incr(&mut d, "$.hits", -2).0, 3);
        set(&mut d, "$.plain", json!(10));
        assert_eq!(incr(&mut d, "$.plain", 1).0, 11);
        assert_eq!(incr(&mut d, "$.plain", 1).0, 12);
        assert_eq!(
            d.edit(&Edit::Incr {
                path: path("$.hits"),
                by: i64::MAX
            })
            .map(|_| ()),
            Err(DocError::Overflow)
        );
        assert_eq!(d.to_json(), json!({"hits": 3, "plain": 12}));
    }

    #[test]
    fn setting_an_equal_value_makes_no_change() {
        let mut d = Document::new();
        set(&mut d, "$", json!({"a": 1, "b": {"c": true}}));
        let (_, change) = d
            .edit(&Edit::Set {
                path: path("$"),
                value: json!({"a": 1, "b": {"c": true}}),
            })
            .expect("set");
        assert_eq!(change, None);
    }

    #[test]
    fn concurrent_edits_of_different_fields_all_land_in_any_order() {
        let mut base = Document::new();
        set(&mut base, "$", json!({"cart": [], "hits": 0}));
        incr(&mut base, "$.hits", 0);
        let mut r = three(&base);
        let mut changes = vec![
            set(&mut r[0], "$.a", json!("from 0")),
            set(&mut r[1], "$.b", json!("from 1")),
            set(&mut r[2], "$.c", json!({"deep": [1, 2]})),
        ];
        for (i, d) in r.iter_mut().enumerate() {
            changes.push(incr(d, "$.hits", 10 + i as i64).1);
            changes.push(push(d, "$.cart", json!(i)));
        }
        // Each region gets the others' changes in a different order, and
        // some twice.
        let mut rev = changes.clone();
        rev.reverse();
        for (i, d) in r.iter_mut().enumerate() {
            let order = if i == 1 { &rev } else { &changes };
            assert_eq!(d.merge_changes(order.iter().map(Vec::as_slice)), 0);
            assert_eq!(d.merge_changes(order.iter().map(Vec::as_slice)), 0);
        }
        let j = r[0].to_json();
        assert_eq!(r[1].to_json(), j);
        assert_eq!(r[2].to_json(), j);
        assert_eq!(j["a"], json!("from 0"));
        assert_eq!(j["b"], json!("from 1"));
        assert_eq!(j["c"], json!({"deep": [1, 2]}));
        assert_eq!(j["hits"], json!(33));
        let mut cart: Vec<i64> = j["cart"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(Json::as_i64)
            .collect();
        assert_eq!(cart.len(), 3);
        cart.sort();
        assert_eq!(cart, vec![0, 1, 2]);
    }

    #[test]
    fn concurrent_sets_of_one_field_pick_the_same_winner_everywhere() {
        let base = Document::new();
        let mut r = three(&base);
        let changes: Vec<Vec<u8>> = r
            .iter_mut()
            .enumerate()
            .map(|(i, d)| set(d, "$.who", json!(i)))
            .collect();
        merge_all(&mut r, &changes);
        let j = r[0].to_json();
        assert_eq!(r[1].to_json(), j);
        assert_eq!(r[2].to_json(), j);
    }

    #[test]
    fn a_change_waits_for_the_change_it_builds_on() {
        let mut a = Document::new();
        let first = set(&mut a, "$.x", json!(1));
        let second = set(&mut a, "$.y", json!(2));
        let mut b = Document::new();
        assert_eq!(b.merge_changes([second.as_slice()]), 0);
        assert_eq!(b.to_json(), json!({}));
        assert!(b.waiting_changes() > 0);
        assert_eq!(b.merge_changes([first.as_slice()]), 0);
        assert_eq!(b.to_json(), json!({"x": 1, "y": 2}));
        assert_eq!(b.waiting_changes(), 0);
    }

    #[test]
    fn garbage_changes_are_counted_not_applied() {
        let mut d = Document::new();
        let good = set(&mut Document::new(), "$.k", json!("v"));
        assert_eq!(d.merge_changes([b"junk".as_slice(), good.as_slice()]), 1);
        assert_eq!(d.to_json(), json!({"k": "v"}));
        assert!(Document::load(b"not a document").is_err());
    }

    #[test]
    fn save_load_and_compaction_keep_the_content() {
        let mut d = Document::new();
        for i in 0..50 {
            set(&mut d, "$.n", json!(i));
        }
        incr(&mut d, "$.c", 7);
        let loaded = Document::load(&d.save()).expect("load");
        assert_eq!(loaded.to_json(), d.to_json());
        assert_eq!(loaded.change_count(), d.change_count());
        let small = d.compacted().expect("compact");
        assert_eq!(small.to_json(), d.to_json());
        assert_eq!(small.change_count(), 1);
        assert!(small.save().len() < d.save().len());
        // Counters stay counters: increments after compaction still add.
        let mut small = small;
        assert_eq!(incr(&mut small, "$.c", 1).0, 8);
        assert_eq!(small.to_json()["c"], json!(8));
    }
}

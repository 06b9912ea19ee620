//! SORT and SORT_RO over lists, sets and sorted sets, with Redis's rules:
//! numeric order by default (ties broken by the element's bytes), ALPHA
//! for byte order, BY patterns that weigh each element by another key (or
//! a hash field with `->`), a BY pattern without `*` that skips sorting
//! (lists and sorted sets keep their own order), GET patterns (`#` is the
//! element itself), LIMIT, and STORE into a list.
//!
//! BY and GET patterns with `*` name arbitrary keys, so a SORT that uses
//! them must run in a transaction holding every shard (the command is
//! flagged for it); this
//! module reads such keys through the ordinary `Txn` lookups and must not
//! lock anything itself.

use std::cmp::Ordering;

use super::number::parse_f64;
use super::{EngineError, EngineResult, Txn};
use crate::keyspace::{Blob, ListValue, Value, blob};

/// A parsed SORT.
#[derive(Debug, Clone, Default)]
pub struct SortSpec<'a> {
    /// BY pattern.
    pub by: Option<&'a [u8]>,
    /// LIMIT offset count.
    pub limit: Option<(i64, i64)>,
    /// GET patterns, in order.
    pub gets: Vec<&'a [u8]>,
    /// DESC.
    pub desc: bool,
    /// ALPHA.
    pub alpha: bool,
    /// STORE destination.
    pub store: Option<&'a [u8]>,
}

/// What SORT produced.
#[derive(Debug, Clone, PartialEq)]
pub enum SortResult {
    /// The reply items (`None` where a GET found nothing).
    Items(Vec<Option<Blob>>),
    /// With STORE: the length of the stored list.
    Stored(usize),
}

/// True if `pattern` names other keys (contains `*`), so the SORT needs
/// every shard.
pub fn pattern_reads_keys(pattern: &[u8]) -> bool {
    pattern.contains(&b'*')
}

/// Sort weight of one element.
enum Weight {
    Score(f64),
    Text(Option<Blob>),
    Own,
}

impl Txn<'_> {
    /// Redis's `lookupKeyByPattern`: `#` is the element; otherwise the first
    /// `*` is replaced by the element and the key's string value (or, with
    /// `->field` after the `*`, that hash field) is returned.
    fn by_pattern(&mut self, pattern: &[u8], elem: &[u8]) -> EngineResult<Option<Blob>> {
        if pattern == b"#" {
            return Ok(Some(blob(elem)));
        }
        let Some(star) = pattern.iter().position(|&b| b == b'*') else {
            return Ok(None);
        };
        let after = &pattern[star + 1..];
        let arrow = after
            .windows(2)
            .position(|w| w == b"->")
            .filter(|&i| i + 2 < after.len());
        let (postfix, field) = match arrow {
            Some(i) => (&after[..i], Some(&after[i + 2..])),
            None => (after, None),
        };
        let mut key = Vec::with_capacity(pattern.len() + elem.len());
        key.extend_from_slice(&pattern[..star]);
        key.extend_from_slice(elem);
        key.extend_from_slice(postfix);
        Ok(match (self.read(&key)?.map(|e| &e.value), field) {
            (Some(Value::Hash(h)), Some(f)) => h.get(f).cloned(),
            (Some(Value::Str(s)), None) => Some(s.clone()),
            _ => None,
        })
    }

    /// SORT / SORT_RO.
    pub fn sort(&mut self, key: &[u8], spec: &SortSpec<'_>) -> EngineResult<SortResult> {
        enum Source {
            List,
            Set,
            ZSet,
        }
        let mut by = spec.by;
        let mut alpha = spec.alpha;
        let mut dont_sort = by.is_some_and(|p| !pattern_reads_keys(p));
        let (source, elems): (Source, Vec<Blob>) = match self.read(key)?.map(|e| &e.value) {
            None => (Source::List, Vec::new()),
            Some(Value::List(l)) => (Source::List, l.iter().cloned().collect()),
            Some(Value::Set(s)) => (Source::Set, s.iter().cloned().collect()),
            Some(Value::ZSet(z)) => (Source::ZSet, z.iter().map(|(m, _)| blob(m)).collect()),
            Some(_) => return Err(EngineError::WrongType),
        };
        // A set has no order of its own: a stored result is sorted so it
        // is the same everywhere.
        if dont_sort && matches!(source, Source::Set) && spec.store.is_some() {
            dont_sort = false;
            alpha = true;
            by = None;
        }
        let len = elems.len() as i64;
        let (offset, count) = spec.limit.unwrap_or((0, -1));
        let mut start = offset.max(0);
        let mut end = if count < 0 {
            len - 1
        } else {
            // Saturating: LIMIT takes any 64-bit offset and count.
            start.saturating_add(count) - 1
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        end = end.min(len - 1);

        let mut elems = elems;
        if dont_sort {
            if spec.desc && !matches!(source, Source::Set) {
                elems.reverse();
            }
        } else {
            let mut weighted = Vec::with_capacity(elems.len());
            let mut bad_score = false;
            for e in elems {
                let byval = match by {
                    Some(p) => self.by_pattern(p, &e)?,
                    None => None,
                };
                let w = if alpha {
                    if by.is_some() {
                        Weight::Text(byval)
                    } else {
                        Weight::Own
                    }
                } else {
                    let text = match (&byval, by) {
                        (Some(v), _) => Some(v.as_slice()),
                        (None, None) => Some(e.as_slice()),
                        (None, Some(_)) => None,
                    };
                    match text {
                        None => Weight::Score(0.0),
                        Some([]) => Weight::Score(0.0),
                        Some(t) => match parse_f64(t) {
                            Some(v) => Weight::Score(v),
                            None => {
                                bad_score = true;
                                Weight::Score(0.0)
                            }
                        },
                    }
                };
                weighted.push((e, w));
            }
            if bad_score {
                return Err(EngineError::Invalid(
                    "One or more scores can't be converted into double".into(),
                ));
            }
            weighted.sort_by(|(ea, wa), (eb, wb)| {
                let c = match (wa, wb) {
                    (Weight::Score(a), Weight::Score(b)) => {
                        a.partial_cmp(b).unwrap_or(Ordering::Equal).then(ea.cmp(eb))
                    }
                    (Weight::Text(a), Weight::Text(b)) => a.cmp(b),
                    _ => ea.cmp(eb),
                };
                if spec.desc { c.reverse() } else { c }
            });
            elems = weighted.into_iter().map(|(e, _)| e).collect();
        }

        let picked: &[Blob] = if end >= start && start >= 0 {
            &elems[start as usize..=end as usize]
        } else {
            &[]
        };
        let mut out = Vec::with_capacity(picked.len() * spec.gets.len().max(1));
        for e in picked {
            if spec.gets.is_empty() {
                out.push(Some(e.clone()));
            }
            for g in &spec.gets {
                out.push(self.by_pattern(g, e)?);
            }
        }
        let Some(dst) = spec.store else {
            return Ok(SortResult::Items(out));
        };
        let n = out.len();
        if n == 0 {
            self.delete(dst)?;
        } else {
            let mut list = ListValue::default();
            for item in out {
                list.push_back_blob(item.unwrap_or_default());
            }
            self.put(dst, Value::List(Box::new(list)), 0)?;
        }
        Ok(SortResult::Stored(n))
    }
}

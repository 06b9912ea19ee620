//! The path syntax of `DOC.*` commands: where in a document an edit or a
//! read applies.
//!
//! ```text
//! $                 the root (also "." or the empty path)
//! $.user.name       map keys, dot-separated
//! $.cart[2]         list element 2 (0-based); [-1] is the last element
//! $["a.b"]          a key that contains '.', '[' or ']' (JSON string quoting)
//! user.name         the leading "$." may be left out
//! ```
//!
//! A key may not be empty after a dot; any other character is taken as is.

use super::DocError;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A map key.
    Key(String),
    /// A list index; negative counts from the end (-1 = last).
    Index(i64),
}

/// A parsed path: the steps from the root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path {
    /// The steps, root first; empty for the root itself.
    pub steps: Vec<Step>,
}

impl Path {
    /// The root.
    pub fn root() -> Path {
        Path::default()
    }

    /// True for the root.
    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// The path without its last step, and that step (`None` for the root).
    pub fn split_last(&self) -> Option<(&[Step], &Step)> {
        self.steps.split_last().map(|(last, parent)| (parent, last))
    }

    /// Parses `text` (see the module docs).
    pub fn parse(text: &str) -> Result<Path, DocError> {
        let bad = |why: &str| DocError::BadPath(format!("{why} in '{text}'"));
        let mut rest = match text {
            "" | "$" | "." => return Ok(Path::root()),
            t if t.starts_with('$') => &t[1..],
            t if t.starts_with('[') || t.starts_with('.') => t,
            // A bare path starts with a key.
            t => {
                let (key, after) = take_key(t);
                if key.is_empty() {
                    return Err(bad("empty key"));
                }
                let mut path = Path::parse(&format!("${after}"))?;
                path.steps.insert(0, Step::Key(key.to_owned()));
                return Ok(path);
            }
        };
        let mut steps = Vec::new();
        while let Some(c) = rest.chars().next() {
            match c {
                '.' => {
                    let (key, after) = take_key(&rest[1..]);
                    if key.is_empty() {
                        return Err(bad("empty key"));
                    }
                    steps.push(Step::Key(key.to_owned()));
                    rest = after;
                }
                '[' => {
                    let close = if rest[1..].starts_with('"') {
                        closing_quote(&rest[1..]).map(|q| q + 2)
                    } else {
                        rest.find(']')
                    }
                    .ok_or_else(|| bad("unclosed '['"))?;
                    let inner = &rest[1..close];
                    if !rest[close..].starts_with(']') {
                        return Err(bad("expected ']'"));
                    }
                    if inner.starts_with('"') {
                        let key: String =
                            serde_json::from_str(inner).map_err(|_| bad("bad quoted key"))?;
                        steps.push(Step::Key(key));
                    } else {
                        let index: i64 = inner.trim().parse().map_err(|_| bad("bad index"))?;
                        steps.push(Step::Index(index));
                    }
                    rest = &rest[close + 1..];
                }
                _ => return Err(bad("expected '.' or '['")),
            }
        }
        Ok(Path { steps })
    }
}

/// A key up to the next '.' or '[' (or the end), and what follows it.
fn take_key(s: &str) -> (&str, &str) {
    let end = s.find(['.', '[', ']']).unwrap_or(s.len());
    s.split_at(end)
}

/// The byte offset of the quote closing the JSON string `s` starts with.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return Some(i),
            _ => {}
        }
    }
    None
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("$")?;
        for s in &self.steps {
            match s {
                Step::Key(k) if !k.is_empty() && !k.contains(['.', '[', ']', '"']) => {
                    write!(f, ".{k}")?
                }
                Step::Key(k) => write!(
                    f,
                    "[{}]",
                    serde_json::to_string(k).map_err(|_| std::fmt::Error)?
                )?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &str) -> Vec<Step> {
        Path::parse(p).expect("parses").steps
    }

    #[test]
    fn root_has_several_spellings() {
        for p in ["", "$", "."] {
            assert!(Path::parse(p).expect("parses").is_root(), "{p}");
        }
    }

    #[test]
    fn keys_and_indices() {
        let want = vec![
            Step::Key("cart".into()),
            Step::Index(2),
            Step::Key("sku".into()),
        ];
        assert_eq!(keys("$.cart[2].sku"), want);
        assert_eq!(keys("cart[2].sku"), want);
        assert_eq!(
            keys("$.a[-1]"),
            vec![Step::Key("a".into()), Step::Index(-1)]
        );
        assert_eq!(keys("$[0]"), vec![Step::Index(0)]);
    }

    #[test]
    fn quoted_keys_may_hold_separators() {
        assert_eq!(
            keys(r#"$["a.b"]["x]\"y"].c"#),
            vec![
                Step::Key("a.b".into()),
                Step::Key("x]\"y".into()),
                Step::Key("c".into())
            ]
        );
    }

    #[test]
    fn malformed_paths_are_errors_not_panics() {
        for p in [
            "$.", "$..a", "$[", "$[x]", "$[1", "$a", "a..b", "$[\"a]", "$.a]", "]", "$[1]x",
            "$[\"é",
        ] {
            assert!(
                matches!(Path::parse(p), Err(DocError::BadPath(_))),
                "{p} should not parse"
            );
        }
    }

    #[test]
    fn display_parses_back() {
        for p in ["$", "$.a.b[3]", r#"$["a.b"][-1]"#, "$.é"] {
            let path = Path::parse(p).expect("parses");
            assert_eq!(Path::parse(&path.to_string()).expect("reparses"), path);
        }
    }
}

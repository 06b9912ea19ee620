//! Glob-style matching with Redis's rules (`*`, `?`, `[a-z]`, `[^x]`, `\x`),
//! used by KEYS, SCAN MATCH, PSUBSCRIBE and PUBSUB CHANNELS.

/// True if `text` matches the glob `pattern`.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match_from(pattern, text, 0)
}

fn match_from(mut p: &[u8], mut t: &[u8], depth: usize) -> bool {
    // Redis bounds recursion the same way, so `*` floods cannot blow the stack.
    if depth > 1000 {
        return false;
    }
    while let Some(&c) = p.first() {
        match c {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for skip in 0..=t.len() {
                    if match_from(&p[1..], &t[skip..], depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if t.is_empty() {
                    return false;
                }
                t = &t[1..];
                p = &p[1..];
            }
            b'[' => {
                let Some(&ch) = t.first() else { return false };
                let mut i = 1;
                let negate = p.get(i) == Some(&b'^');
                if negate {
                    i += 1;
                }
                let mut matched = false;
                loop {
                    match p.get(i) {
                        None => {
                            // Unterminated class: Redis treats the end as closing it.
                            break;
                        }
                        Some(b']') => {
                            break;
                        }
                        Some(b'\\') if i + 1 < p.len() => {
                            if p[i + 1] == ch {
                                matched = true;
                            }
                            i += 2;
                        }
                        Some(&lo)
                            if p.get(i + 1) == Some(&b'-')
                                && i + 2 < p.len()
                                && p[i + 2] != b']' =>
                        {
                            let hi = p[i + 2];
                            let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                            if (lo..=hi).contains(&ch) {
                                matched = true;
                            }
                            i += 3;
                        }
                        Some(&x) => {
                            if x == ch {
                                matched = true;
                            }
                            i += 1;
                        }
                    }
                }
                if matched == negate {
                    return false;
                }
                p = if i < p.len() {
                    &p[i + 1..]
                } else {
                    &p[p.len()..]
                };
                t = &t[1..];
            }
            b'\\' if p.len() >= 2 => {
                if t.first() != Some(&p[1]) {
                    return false;
                }
                p = &p[2..];
                t = &t[1..];
            }
            _ => {
                if t.first() != Some(&c) {
                    return false;
                }
                p = &p[1..];
                t = &t[1..];
            }
        }
    }
    t.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn redis_glob_rules() {
        assert!(glob_match(b"*", b"anything"));
        assert!(glob_match(b"h?llo", b"hello"));
        assert!(glob_match(b"h*llo", b"heeeello"));
        assert!(glob_match(b"h[ae]llo", b"hallo"));
        assert!(!glob_match(b"h[ae]llo", b"hillo"));
        assert!(glob_match(b"h[^e]llo", b"hallo"));
        assert!(!glob_match(b"h[^e]llo", b"hello"));
        assert!(glob_match(b"h[a-b]llo", b"hbllo"));
        assert!(glob_match(b"h\\*llo", b"h*llo"));
        assert!(!glob_match(b"h\\*llo", b"hello"));
        assert!(glob_match(b"user:*:name", b"user:42:name"));
        assert!(!glob_match(b"user:*:name", b"user:42:age"));
        assert!(!glob_match(b"", b"x"));
        assert!(glob_match(b"", b""));
    }
}

//! Redis 7's script shebang: a first line `#!lua [flags=f1,f2,…]` that
//! declares what a script may do. Only `no-writes` changes behaviour here
//! (the script runs read-only, and may be run with EVAL_RO); the other
//! flags Redis knows are accepted. A script with a shebang but without
//! `no-writes` is a writing script, which EVAL_RO refuses.
//!
//! This module only parses.

/// Flags Redis accepts in a shebang.
const KNOWN_FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// What a script's shebang declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shebang {
    /// `flags=no-writes`.
    pub no_writes: bool,
}

/// Parses the shebang of `source`: `Ok(None)` without one, else the flags
/// and the length of the line to skip (its newline stays, so line numbers
/// in errors are the user's). `Err` is Redis's error line.
pub fn parse(source: &[u8]) -> Result<Option<(Shebang, usize)>, String> {
    if !source.starts_with(b"#!") {
        return Ok(None);
    }
    let Some(len) = source.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&source[..len]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut shebang = Shebang::default();
    for part in parts {
        let Some(flags) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for flag in flags.split(',').filter(|f| !f.is_empty()) {
            if !KNOWN_FLAGS.contains(&flag) {
                return Err(format!("ERR Unexpected flag in script shebang: {flag}"));
            }
            shebang.no_writes |= flag == "no-writes";
        }
    }
    Ok(Some((shebang, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_redis() {
        // Error lines: redis-server 7.0's answers to the same scripts.
        assert_eq!(parse(b"return 1"), Ok(None));
        assert_eq!(
            parse(b"#!lua flags=no-writes,allow-oom\nreturn 1"),
            Ok(Some((Shebang { no_writes: true }, 31)))
        );
        assert_eq!(parse(b"#!lua\nreturn 1"), Ok(Some((Shebang::default(), 5))));
        assert_eq!(parse(b"#!lua"), Err("ERR Invalid script shebang".into()));
        assert_eq!(
            parse(b"#!python\nreturn 1"),
            Err("ERR Unexpected engine in script shebang: #!python".into())
        );
        assert_eq!(
            parse(b"#!lua name=x\nreturn 1"),
            Err("ERR Unknown lua shebang option: name=x".into())
        );
        assert_eq!(
            parse(b"#!lua flags=foo\nreturn 1"),
            Err("ERR Unexpected flag in script shebang: foo".into())
        );
    }
}

//! The ACL file (`aclfile`): one `user <name> <rules…>` line per user, the
//! format of Redis's ACL file and of `ACL LIST`. Reading parses every line
//! before anything is used (all or nothing); writing goes to a temporary file
//! renamed over the old one, so a crash never leaves half a file.

use std::path::Path;

use super::rules::apply_all;
use super::user::User;
use crate::resp::parser::split_args;

/// Why an ACL file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AclFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is wrong; `line` counts from 1.
    #[error("{path}:{line}: {reason}")]
    Line {
        /// The file.
        path: String,
        /// Line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Parses ACL file text into users, in file order. `path` names the file
/// in errors.
pub fn parse(text: &str, path: &str) -> Result<Vec<User>, AclFileError> {
    let mut users: Vec<User> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line_err = |reason: String| AclFileError::Line {
            path: path.to_string(),
            line: n + 1,
            reason,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let args =
            split_args(line.as_bytes()).ok_or_else(|| line_err("unbalanced quotes".into()))?;
        if args.len() < 2 || !args[0].eq_ignore_ascii_case(b"user") {
            return Err(line_err("should start with user keyword".into()));
        }
        let name = String::from_utf8(args[1].clone())
            .map_err(|_| line_err("user names must be UTF-8".into()))?;
        if !valid_name(&name) {
            return Err(line_err(format!("invalid user name '{name}'")));
        }
        if users.iter().any(|u| u.name() == name) {
            return Err(line_err(format!("duplicate user '{name}' found")));
        }
        let user = apply_all(&User::new(&name), args[2..].iter().map(Vec::as_slice)).map_err(
            |(rule, e)| {
                line_err(format!(
                    "Error in applying operation '{}': {e}",
                    String::from_utf8_lossy(&rule)
                ))
            },
        )?;
        users.push(user);
    }
    Ok(users)
}

/// The file text for `users`, one `user` line each.
pub fn render(users: &[std::sync::Arc<User>]) -> String {
    let mut out = String::new();
    for u in users {
        out.push_str("user ");
        out.push_str(u.name());
        out.push(' ');
        out.push_str(&u.describe());
        out.push('\n');
    }
    out
}

/// Reads and parses an ACL file.
pub fn load(path: &Path) -> Result<Vec<User>, AclFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AclFileError::Io {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn save(path: &Path, text: &str) -> Result<(), AclFileError> {
    let io = |source| AclFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // Password hashes of weak passwords can be brute-forced: only the
        // owner may read the file.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// User names are printable and contain no spaces (they share lines with
/// rules).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c > b' ' && c < 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_and_reports_bad_lines_by_number() {
        let users = parse(
            "user default on nopass ~* &* +@all\n\n# comment\nuser alice on >p ~a:* +get\n",
            "users.acl",
        )
        .expect("valid");
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].describe_keys(), "~a:*");
        let e = parse("user a on\nbob on\n", "users.acl").expect_err("bad");
        assert_eq!(e.to_string(), "users.acl:2: should start with user keyword");
        let e = parse("user a on +nosuch\n", "users.acl").expect_err("bad");
        assert_eq!(
            e.to_string(),
            "users.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL"
        );
        assert!(parse("user a on\nuser a off\n", "f").is_err());
        let users = parse("user s on ~a* +get (~b* +set)\n", "f").expect("selector");
        assert_eq!(users[0].selectors().len(), 1);
        assert_eq!(
            render(&[std::sync::Arc::new(users[0].clone())]),
            "user s on ~a* resetchannels -@all +get (~b* resetchannels -@all +set)\n"
        );
    }
}

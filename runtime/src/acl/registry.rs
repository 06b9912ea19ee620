//! `Acl`: the users of one server, shared by every connection, and the
//! operations on them as a whole — create/change/delete, authenticate,
//! load and save the ACL file.
//!
//! Users are immutable values behind `Arc`; every change publishes new
//! values and bumps a version number, which connections compare (one atomic
//! load per command) to notice that their user changed or was deleted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::RwLock;

use super::DEFAULT_USER;
use super::file::{self, AclFileError};
use super::rules::{RuleError, apply_all};
use super::user::User;

/// Why an ACL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AclError {
    /// The ACL file could not be read, parsed or written.
    #[error(transparent)]
    File(#[from] AclFileError),
    /// A rule was refused (`ACL SETUSER`, `user` config lines).
    #[error("Error in ACL SETUSER modifier '{rule}': {error}")]
    Rule {
        /// The rule as given.
        rule: String,
        /// Why.
        error: RuleError,
    },
    /// `ACL DELUSER default`.
    #[error("The 'default' user cannot be removed")]
    DeleteDefault,
    /// A user name with spaces or control characters.
    #[error("Usernames can't contain spaces or null characters")]
    BadName,
    /// A change would let clients in without a password on a server that
    /// listens beyond loopback.
    #[error(
        "refusing to let clients in without a password: this server listens beyond loopback (set allow-unauthenticated = true to allow it)"
    )]
    WouldOpen,
    /// ACL LOAD / SAVE without an `aclfile`.
    #[error(
        "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."
    )]
    NoFile,
}

/// Refusals counted for INFO `stats` (`acl_access_denied_*`).
#[derive(Debug, Default)]
pub struct AclStats {
    /// Failed AUTH / HELLO AUTH.
    pub denied_auth: AtomicU64,
    /// Commands refused.
    pub denied_cmd: AtomicU64,
    /// Keys refused.
    pub denied_key: AtomicU64,
    /// Channels refused.
    pub denied_channel: AtomicU64,
}

/// The users of one server.
pub struct Acl {
    /// Refusal counters.
    pub stats: AclStats,
    /// Recent refusals (ACL LOG).
    pub log: super::log::AclLog,
    users: RwLock<BTreeMap<String, Arc<User>>>,
    version: AtomicU64,
    /// The default user is `on` and `nopass`: connections start authenticated.
    default_open: AtomicBool,
    /// Set when the server listens beyond loopback without
    /// `allow-unauthenticated`: no change may open the default user again.
    keep_closed: AtomicBool,
    file: Option<PathBuf>,
    /// Carries the version to connections waiting for input, so a deleted
    /// user's idle connections close at once.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Acl {
    /// Only the default user (`on nopass ~* &* +@all`); `file` is where
    /// ACL LOAD / ACL SAVE read and write.
    pub fn new(file: Option<PathBuf>) -> Acl {
        let acl = Acl {
            stats: AclStats::default(),
            log: super::log::AclLog::default(),
            users: RwLock::new(BTreeMap::new()),
            version: AtomicU64::new(0),
            default_open: AtomicBool::new(true),
            keep_closed: AtomicBool::new(false),
            file,
            changes: tokio::sync::watch::Sender::new(0),
        };
        // Never refused: keep_closed is not set yet.
        let _ = acl.install(vec![User::default_user()]);
        acl
    }

    /// From now on, refuse every change that would leave the default user
    /// `on` and `nopass` (CONFIG SET requirepass "", ACL SETUSER default
    /// nopass, ACL LOAD of a file without a password for it).
    pub fn keep_closed(&self) {
        self.keep_closed.store(true, Ordering::Release);
    }

    /// True once [`Acl::keep_closed`] was called.
    pub fn kept_closed(&self) -> bool {
        self.keep_closed.load(Ordering::Acquire)
    }

    fn refuses(&self, default: &User) -> bool {
        self.kept_closed() && default.enabled() && default.nopass()
    }

    /// The users a server starts with: those of the ACL file if there is
    /// one, else `user_lines` (`<name> <rules…>` each, like Redis's `user`
    /// directive) and `requirepass` for the default user.
    pub fn configured(
        file: Option<PathBuf>,
        user_lines: &[String],
        requirepass: Option<&str>,
    ) -> Result<Acl, AclError> {
        let acl = Acl::new(file);
        if acl.file.is_some() {
            acl.load_file()?;
        }
        if !user_lines.is_empty() {
            let text: String = user_lines.iter().map(|l| format!("user {l}\n")).collect();
            acl.install(file::parse(&text, "user setting")?)?;
        }
        if let Some(p) = requirepass {
            acl.set_requirepass(p.as_bytes())?;
        }
        Ok(acl)
    }

    /// Bumped by every change.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// True while the default user is `on` and `nopass`: anyone who can
    /// connect can run commands without AUTH.
    #[inline]
    pub fn default_open(&self) -> bool {
        self.default_open.load(Ordering::Acquire)
    }

    /// The user called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Creates `name` or changes it by `rules`, all or nothing.
    pub fn set_user<'a>(
        &self,
        name: &str,
        rules: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), AclError> {
        if !file::valid_name(name) {
            return Err(AclError::BadName);
        }
        let mut users = self.users.write();
        let current = users
            .get(name)
            .map_or_else(|| User::new(name), |u| (**u).clone());
        let next = apply_all(&current, rules).map_err(|(rule, error)| AclError::Rule {
            rule: String::from_utf8_lossy(&rule).into_owned(),
            error,
        })?;
        if name == DEFAULT_USER && self.refuses(&next) {
            return Err(AclError::WouldOpen);
        }
        users.insert(name.to_string(), Arc::new(next));
        self.published(&users);
        Ok(())
    }

    /// Deletes the named users; returns how many existed.
    pub fn delete<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<usize, AclError> {
        let names: Vec<&str> = names.into_iter().collect();
        if names.contains(&DEFAULT_USER) {
            return Err(AclError::DeleteDefault);
        }
        let mut users = self.users.write();
        let removed = names.iter().filter(|n| users.remove(**n).is_some()).count();
        self.published(&users);
        Ok(removed)
    }

    /// The user `name` if `password` authenticates it (it exists, is `on`,
    /// and the password matches one of its hashes or it is `nopass`).
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let user = std::str::from_utf8(name).ok().and_then(|n| self.get(n));
        let Some(user) = user else {
            // Hash anyway, so an unknown user answers as slowly as a known
            // one and timing does not tell which names exist.
            let _ = super::password::PasswordHash::of(password);
            return None;
        };
        user.accepts(password).then_some(user)
    }

    /// `requirepass`: the default user's only password becomes `password`;
    /// empty means `nopass`, as in Redis.
    pub fn set_requirepass(&self, password: &[u8]) -> Result<(), AclError> {
        let mut rule = b">".to_vec();
        rule.extend_from_slice(password);
        let rules: [&[u8]; 2] = if password.is_empty() {
            [b"nopass", b"on"]
        } else {
            [b"resetpass", &rule]
        };
        self.set_user(DEFAULT_USER, rules)
    }

    /// True if the default user needs a password (what `requirepass` set).
    pub fn requirepass_set(&self) -> bool {
        self.get(DEFAULT_USER)
            .is_some_and(|u| !u.nopass() && !u.passwords().is_empty())
    }

    /// Replaces every user with the ACL file's, all or nothing. A file
    /// without a `default` user gets the fresh default.
    pub fn load_file(&self) -> Result<(), AclError> {
        let path = self.file.as_ref().ok_or(AclError::NoFile)?;
        let users = file::load(path)?;
        self.install(users)
    }

    /// Writes every user to the ACL file.
    pub fn save_file(&self) -> Result<(), AclError> {
        let path = self.file.as_ref().ok_or(AclError::NoFile)?;
        file::save(path, &file::render(&self.users()))?;
        Ok(())
    }

    /// Replaces every user, all or nothing.
    pub fn install(&self, new: Vec<User>) -> Result<(), AclError> {
        let mut next: BTreeMap<String, Arc<User>> = new
            .into_iter()
            .map(|u| (u.name().to_string(), Arc::new(u)))
            .collect();
        let default = next
            .entry(DEFAULT_USER.to_string())
            .or_insert_with(|| Arc::new(User::default_user()));
        if self.refuses(default) {
            return Err(AclError::WouldOpen);
        }
        let mut users = self.users.write();
        *users = next;
        self.published(&users);
        Ok(())
    }

    /// Called with the write lock held, after a change.
    fn published(&self, users: &BTreeMap<String, Arc<User>>) {
        let open = users
            .get(DEFAULT_USER)
            .is_some_and(|u| u.enabled() && u.nopass());
        self.default_open.store(open, Ordering::Release);
        let version = self.version.fetch_add(1, Ordering::AcqRel) + 1;
        self.changes.send_replace(version);
    }

    /// A receiver that changes whenever any user changes.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirepass_closes_and_reopens_the_default_user() {
        let acl = Acl::new(None);
        assert!(acl.default_open());
        acl.set_requirepass(b"secret").expect("set");
        assert!(!acl.default_open());
        assert!(acl.requirepass_set());
        assert!(acl.authenticate(b"default", b"secret").is_some());
        assert!(acl.authenticate(b"default", b"wrong").is_none());
        acl.set_requirepass(b"").expect("unset");
        assert!(acl.default_open());
    }

    #[test]
    fn a_closed_server_stays_closed() {
        let acl = Acl::new(None);
        acl.set_requirepass(b"pw").expect("password");
        acl.keep_closed();
        assert!(matches!(acl.set_requirepass(b""), Err(AclError::WouldOpen)));
        let nopass = acl.set_user("default", [b"nopass".as_slice()]);
        assert!(matches!(nopass, Err(AclError::WouldOpen)));
        // Turning the default user off or changing its password is fine.
        acl.set_user("default", [b"off".as_slice(), b"nopass"])
            .expect("off and nopass is closed");
        acl.set_requirepass(b"other").expect("new password");
        let without_default = file::parse("user app on >x +@all", "f").expect("parse");
        assert!(matches!(
            acl.install(without_default),
            Err(AclError::WouldOpen)
        ));
        assert!(!acl.default_open());
        acl.set_user("default", [b"on".as_slice()])
            .expect("on with a password");
        assert!(acl.authenticate(b"default", b"other").is_some());
    }

    #[test]
    fn changes_are_all_or_nothing_and_bump_the_version() {
        let acl = Acl::new(None);
        let v = acl.version();
        let err = acl
            .set_user("bob", [b"on".as_slice(), b"+nosuch"])
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
        );
        assert!(acl.get("bob").is_none());
        assert_eq!(acl.version(), v);
        acl.set_user("bob", [b"on".as_slice(), b">pw"]).expect("ok");
        assert!(acl.version() > v);
        assert!(acl.authenticate(b"bob", b"pw").is_some());
        assert!(matches!(
            acl.delete(["default"]),
            Err(AclError::DeleteDefault)
        ));
        assert_eq!(acl.delete(["bob", "nobody"]).expect("delete"), 1);
    }

    #[test]
    fn save_then_load_restores_the_same_users() {
        let dir = std::env::temp_dir().join(format!("meridian-acl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("users.acl");
        let acl = Acl::new(Some(path.clone()));
        acl.set_user(
            "alice",
            ["on", ">pw", "%R~r:*", "&news", "+@read"].map(str::as_bytes),
        )
        .expect("alice");
        acl.set_requirepass(b"root").expect("set");
        acl.save_file().expect("save");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("saved")
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "only the owner may read password hashes"
            );
        }
        let before: Vec<String> = acl.users().iter().map(|u| u.describe()).collect();
        let other = Acl::new(Some(path.clone()));
        other.load_file().expect("load");
        let after: Vec<String> = other.users().iter().map(|u| u.describe()).collect();
        assert_eq!(before, after);
        assert!(other.authenticate(b"alice", b"pw").is_some());
        std::fs::remove_dir_all(&dir).ok();
    }
}

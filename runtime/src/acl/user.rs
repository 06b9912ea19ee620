//! `User`: one ACL user — enabled or not, its password hashes, its root
//! selector (commands, keys, channels) and any further selectors — and how
//! Redis describes it (`ACL LIST`, `ACL GETUSER`).
//!
//! A `User` is a value: changing one (`rules`) produces the new state, and
//! the registry publishes it whole, so a connection never sees half a change.

use super::command_set::CommandSet;
use super::password::PasswordHash;
use super::selector::Selector;

/// One ACL user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub(super) name: String,
    pub(super) enabled: bool,
    pub(super) nopass: bool,
    pub(super) passwords: Vec<PasswordHash>,
    /// The permissions set by rules outside parentheses.
    pub(super) root: Selector,
    /// Further permissions, each from one `(…)` rule.
    pub(super) selectors: Vec<Selector>,
}

impl User {
    /// A new user as `ACL SETUSER` creates it: off, no passwords, no
    /// commands, no keys, no channels.
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            root: Selector::none(),
            selectors: Vec::new(),
        }
    }

    /// The `default` user of a fresh server: `on nopass ~* &* +@all`.
    pub fn default_user() -> User {
        User {
            enabled: true,
            nopass: true,
            root: Selector::all(),
            ..User::new(super::DEFAULT_USER)
        }
    }

    /// The user's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `on` (true) or `off`.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// `nopass`: any password authenticates.
    pub fn nopass(&self) -> bool {
        self.nopass
    }

    /// The password hashes, in the order they were added.
    pub fn passwords(&self) -> &[PasswordHash] {
        &self.passwords
    }

    /// The commands the root selector allows.
    pub fn commands(&self) -> &CommandSet {
        &self.root.commands
    }

    /// The selectors added with `(…)`, in order.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// True if `password` authenticates this user (it must be enabled).
    pub fn accepts(&self, password: &[u8]) -> bool {
        // Hash first, so a disabled user answers as slowly as an enabled one.
        let h = PasswordHash::of(password);
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        // Check every hash, not only until the first match.
        self.passwords
            .iter()
            .fold(false, |ok, p| p.matches(&h) | ok)
    }

    /// True if nothing is restricted: every command, key and channel.
    pub fn unrestricted(&self) -> bool {
        self.root.unrestricted()
    }

    /// The `flags` of ACL GETUSER.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        v
    }

    /// The `keys` field of ACL GETUSER (root selector).
    pub fn describe_keys(&self) -> String {
        self.root.describe_keys()
    }

    /// The `channels` field of ACL GETUSER (root selector).
    pub fn describe_channels(&self) -> String {
        self.root.describe_channels()
    }

    /// The rules that rebuild this user, as one ACL LIST line without the
    /// leading `user <name>` (the ACL file holds the same).
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = vec![if self.enabled { "on" } else { "off" }.into()];
        if self.nopass {
            parts.push("nopass".into());
        }
        parts.extend(self.passwords.iter().map(|p| format!("#{}", p.to_hex())));
        parts.push(self.root.describe());
        for s in &self.selectors {
            parts.push(format!("({})", s.describe()));
        }
        parts.join(" ")
    }
}

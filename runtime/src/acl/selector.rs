//! `Selector`: one set of permissions — commands, key patterns, channel
//! patterns. A user has a root selector and may have more (`(…)` rules, as
//! in Redis 7); a command is allowed if any one of them allows all of it.
//! The checks themselves are in `permission`.

use super::command_set::CommandSet;

/// A key pattern and what it grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    /// The glob.
    pub pattern: Vec<u8>,
    /// Reading values of matching keys (`%R~`).
    pub read: bool,
    /// Changing matching keys (`%W~`).
    pub write: bool,
}

/// Commands, keys and channels that go together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub(super) commands: CommandSet,
    pub(super) keys: Vec<KeyPattern>,
    pub(super) all_keys: bool,
    pub(super) channels: Vec<Vec<u8>>,
    pub(super) all_channels: bool,
}

impl Selector {
    /// Nothing allowed: no commands, keys or channels.
    pub fn none() -> Selector {
        Selector {
            commands: CommandSet::sized(false),
            keys: Vec::new(),
            all_keys: false,
            channels: Vec::new(),
            all_channels: false,
        }
    }

    /// Everything allowed: `~* &* +@all`.
    pub fn all() -> Selector {
        Selector {
            commands: CommandSet::sized(true),
            keys: Vec::new(),
            all_keys: true,
            channels: Vec::new(),
            all_channels: true,
        }
    }

    /// The commands it allows.
    pub fn commands(&self) -> &CommandSet {
        &self.commands
    }

    /// True if nothing is restricted: every command, key and channel.
    pub fn unrestricted(&self) -> bool {
        self.all_keys && self.all_channels && self.commands.everything()
    }

    /// The `keys` field of ACL GETUSER (`~*`, `~app:* %R~shared:*`).
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let prefix = match (k.read, k.write) {
                    (true, false) => "%R~",
                    (false, true) => "%W~",
                    _ => "~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(&k.pattern))
            })
            .collect();
        parts.join(" ")
    }

    /// The `channels` field of ACL GETUSER (`&*`, `&news:*`).
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        parts.join(" ")
    }

    /// The rules that rebuild it from nothing: keys, channels, commands.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if !self.all_channels {
            parts.push("resetchannels".into());
        }
        let channels = self.describe_channels();
        if !channels.is_empty() {
            parts.push(channels);
        }
        parts.push(self.commands.describe());
        parts.join(" ")
    }
}

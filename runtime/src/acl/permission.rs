//! The ACL check of one command: may this user run it, with these keys and
//! these channels? Answers with the reason, worded as Redis 7 words its
//! `NOPERM` errors.
//!
//! It reads the command table's key specs (which arguments are keys) and
//! `access` (read or write); it must not run or change anything.

use super::access::{channels, key_access};
use super::selector::Selector;
use super::user::User;
use crate::engine::glob_match;
use crate::resp::Request;
use crate::resp::command::CommandSpec;

/// Commands whose first argument is a subcommand: Redis names them
/// `name|sub` in permission errors.
const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "command", "config", "debug", "function", "latency", "memory",
    "module", "object", "pubsub", "script", "slowlog", "xinfo",
];

/// The name Redis gives `req` in permission errors: `get`, `config|set`.
pub fn full_name(spec: &CommandSpec, req: &Request) -> String {
    match req.get(1) {
        Some(sub) if CONTAINERS.contains(&spec.name) => format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        ),
        _ => spec.name.to_string(),
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The command (or this first argument of it) is not allowed.
    Command,
    /// The key at this argument position is not allowed.
    Key(usize),
    /// The channel at this argument position is not allowed.
    Channel(usize),
}

impl Denied {
    /// The error line a client gets (`NOPERM …`).
    pub fn error_line(&self, user: &str, command: &str) -> String {
        match self {
            Denied::Command => {
                format!("NOPERM User {user} has no permissions to run the '{command}' command")
            }
            Denied::Key(_) => "NOPERM No permissions to access a key".into(),
            Denied::Channel(_) => "NOPERM No permissions to access a channel".into(),
        }
    }

    /// The verbose reason ACL DRYRUN gives, naming the key or channel.
    pub fn verbose(&self, user: &str, command: &str, req: &Request) -> String {
        let arg = |i: &usize| String::from_utf8_lossy(req.get(*i).unwrap_or_default()).into_owned();
        match self {
            Denied::Command => {
                format!("User {user} has no permissions to run the '{command}' command")
            }
            Denied::Key(i) => format!("No permissions to access the '{}' key", arg(i)),
            Denied::Channel(i) => format!("No permissions to access the '{}' channel", arg(i)),
        }
    }
}

impl Denied {
    /// How telling a refusal is, as Redis ranks them when every selector
    /// refuses: a channel beats a key beats the command, and a later
    /// argument beats an earlier one.
    fn rank(&self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, *i),
            Denied::Channel(i) => (4, *i),
        }
    }
}

impl Selector {
    /// Checks `req`, a call of `spec` (at `index` in the command table).
    pub fn check(&self, spec: &CommandSpec, index: usize, req: &Request) -> Result<(), Denied> {
        if !self.commands.allows(index, req.get(1)) {
            return Err(Denied::Command);
        }
        if !self.all_keys {
            // Arguments that do not parse (bad numkeys) name no keys here;
            // the command then fails with its own error.
            let keys = spec.keys.indices(req).unwrap_or_default();
            for (nth, &i) in keys.iter().enumerate() {
                let Some(key) = req.get(i) else { continue };
                let want = key_access(index, spec, req, nth);
                let ok = self.keys.iter().any(|p| {
                    (p.read || !want.read)
                        && (p.write || !want.write)
                        && glob_match(&p.pattern, key)
                });
                if !ok {
                    return Err(Denied::Key(i));
                }
            }
        }
        if !self.all_channels {
            let ch = channels(spec, req);
            for &i in &ch.args {
                let Some(channel) = req.get(i) else { continue };
                if !self.channel_allowed(channel, ch.patterns) {
                    return Err(Denied::Channel(i));
                }
            }
        }
        Ok(())
    }

    /// True if the selector allows `channel` — or, for a `pattern`
    /// subscription, if that pattern is literally one of its patterns.
    pub fn channel_allowed(&self, channel: &[u8], pattern: bool) -> bool {
        if self.all_channels {
            return true;
        }
        if pattern {
            self.channels.iter().any(|p| p == channel)
        } else {
            self.channels.iter().any(|p| glob_match(p, channel))
        }
    }
}

impl User {
    /// Checks `req`, a call of `spec` (at `index` in the command table):
    /// allowed if the root selector or any other one allows all of it.
    pub fn check(&self, spec: &CommandSpec, index: usize, req: &Request) -> Result<(), Denied> {
        let mut worst = match self.root.check(spec, index, req) {
            Ok(()) => return Ok(()),
            Err(d) => d,
        };
        for s in &self.selectors {
            match s.check(spec, index, req) {
                Ok(()) => return Ok(()),
                Err(d) if d.rank() > worst.rank() => worst = d,
                Err(_) => {}
            }
        }
        Err(worst)
    }

    /// True if any of the user's selectors allows `channel` (see
    /// [`Selector::channel_allowed`]).
    pub fn channel_allowed(&self, channel: &[u8], pattern: bool) -> bool {
        self.root.channel_allowed(channel, pattern)
            || self
                .selectors
                .iter()
                .any(|s| s.channel_allowed(channel, pattern))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::rules::apply_all;
    use crate::resp::command::table;

    fn check(rules: &str, args: &[&str]) -> Result<(), Denied> {
        let user =
            apply_all(&User::new("u"), rules.split_whitespace().map(str::as_bytes)).expect("rules");
        let req = Request::from_args(args);
        let (index, spec) = table().lookup(args[0].as_bytes()).expect("command");
        user.check(spec, index, &req)
    }

    #[test]
    fn commands_and_categories() {
        assert_eq!(check("+@read allkeys", &["get", "k"]), Ok(()));
        assert_eq!(
            check("+@read allkeys", &["set", "k", "v"]),
            Err(Denied::Command)
        );
        assert_eq!(
            check("+@all -get allkeys", &["get", "k"]),
            Err(Denied::Command)
        );
    }

    #[test]
    fn keys_by_read_and_write_patterns() {
        let rules = "+@all %R~r:* %W~w:* ~rw:*";
        assert_eq!(check(rules, &["get", "r:1"]), Ok(()));
        assert_eq!(check(rules, &["set", "r:1", "v"]), Err(Denied::Key(1)));
        assert_eq!(check(rules, &["set", "w:1", "v"]), Ok(()));
        assert_eq!(check(rules, &["get", "w:1"]), Err(Denied::Key(1)));
        assert_eq!(check(rules, &["incr", "w:1"]), Err(Denied::Key(1)));
        assert_eq!(check(rules, &["incr", "rw:1"]), Ok(()));
        assert_eq!(check(rules, &["mget", "r:1", "x"]), Err(Denied::Key(2)));
        assert_eq!(check(rules, &["sinterstore", "w:d", "r:a", "rw:b"]), Ok(()));
        assert_eq!(
            check(rules, &["sinterstore", "r:d", "r:a"]),
            Err(Denied::Key(1))
        );
        assert_eq!(check(rules, &["exists", "w:1"]), Ok(()));
        assert_eq!(check(rules, &["exists", "other"]), Err(Denied::Key(1)));
    }

    #[test]
    fn any_selector_may_allow_a_command() {
        let rules = "~a* +get (~b* +set) (&news +publish)";
        assert_eq!(check(rules, &["get", "a1"]), Ok(()));
        assert_eq!(check(rules, &["set", "b1", "v"]), Ok(()));
        assert_eq!(check(rules, &["publish", "news", "m"]), Ok(()));
        // Every selector refuses: the most telling reason is given (the
        // second selector's key beats the root's command).
        assert_eq!(check(rules, &["set", "a1", "v"]), Err(Denied::Key(1)));
        assert_eq!(check(rules, &["get", "b1"]), Err(Denied::Key(1)));
        assert_eq!(check(rules, &["del", "a1"]), Err(Denied::Command));
        assert_eq!(
            check(rules, &["publish", "sport", "m"]),
            Err(Denied::Channel(1))
        );
    }

    #[test]
    fn channels_and_patterns() {
        let rules = "+@all &news:* &exact";
        assert_eq!(check(rules, &["publish", "news:1", "m"]), Ok(()));
        assert_eq!(
            check(rules, &["publish", "sport", "m"]),
            Err(Denied::Channel(1))
        );
        assert_eq!(
            check(rules, &["subscribe", "exact", "sport"]),
            Err(Denied::Channel(2))
        );
        assert_eq!(check(rules, &["psubscribe", "news:*"]), Ok(()));
        assert_eq!(
            check(rules, &["psubscribe", "news:1*"]),
            Err(Denied::Channel(1))
        );
        assert_eq!(check(rules, &["unsubscribe", "sport"]), Ok(()));
        assert_eq!(
            Denied::Command.error_line("bob", "get"),
            "NOPERM User bob has no permissions to run the 'get' command"
        );
    }
}

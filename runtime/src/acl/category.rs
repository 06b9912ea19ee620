//! ACL command categories (`@read`, `@write`, `@string`, …): the names
//! Redis 7 defines plus `@document` (Meridian's `DOC.*`), and which of them each command of our table belongs to.
//!
//! Categories are derived from what the command table already says — flags
//! (`WRITE`, `READONLY`, `ADMIN`, `FAST`, …) and the family group — plus the
//! few commands Redis files under `@dangerous` or `@keyspace` although their
//! flags do not say so. Nothing here decides permissions; `user` does.

use crate::resp::command::{CommandSpec, flags, table};

/// Every category, in Redis's `ACL CAT` order, then Meridian's own
/// (`document`: the DOC.* commands; `lock`: the LOCK.* commands).
pub const CATEGORIES: [&str; 23] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
    "document",
    "lock",
];

/// The same names with their `@` (COMMAND INFO shows them this way).
const TAGGED: [&str; 23] = [
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
    "@document",
    "@lock",
];

/// A set of categories, bit `i` = `CATEGORIES[i]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Categories(u32);

impl Categories {
    /// True if the set holds category `index`.
    pub fn contains(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    /// The categories' names with `@`, in `ACL CAT` order.
    pub fn tagged(self) -> impl Iterator<Item = &'static str> {
        TAGGED
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.contains(*i))
            .map(|(_, t)| *t)
    }

    fn add(&mut self, name: &str) {
        if let Some(i) = index(name) {
            self.0 |= 1 << i;
        }
    }
}

/// The position of a category name (without `@`, any case).
pub fn index(name: &str) -> Option<usize> {
    CATEGORIES.iter().position(|c| c.eq_ignore_ascii_case(name))
}

/// Server commands that read or change the whole keyspace.
const KEYSPACE_EXTRA: &[&str] = &["dbsize", "flushall", "flushdb", "keys", "randomkey", "scan"];

/// Commands Redis marks `@dangerous` without being administrative.
const DANGEROUS_EXTRA: &[&str] = &[
    "flushall", "flushdb", "keys", "info", "sort", "sort_ro", "restore", "lastsave",
];

/// The categories of `spec`.
pub fn of(spec: &CommandSpec) -> Categories {
    let mut c = Categories::default();
    if spec.has(flags::WRITE) {
        c.add("write");
    }
    if spec.has(flags::READONLY) {
        c.add("read");
    }
    let group = match spec.group {
        "generic" => Some("keyspace"),
        "string" => Some("string"),
        "hash" => Some("hash"),
        "list" => Some("list"),
        "set" => Some("set"),
        "sorted-set" | "sorted_set" | "sortedset" | "zset" => Some("sortedset"),
        "connection" => Some("connection"),
        "transactions" => Some("transaction"),
        "pubsub" => Some("pubsub"),
        "hyperloglog" => Some("hyperloglog"),
        "bitmap" => Some("bitmap"),
        "geo" => Some("geo"),
        "stream" => Some("stream"),
        "scripting" | "functions" => Some("scripting"),
        // Meridian's own: `DOC.*`.
        "document" => Some("document"),
        "lock" => Some("lock"),
        _ => None,
    };
    if let Some(g) = group {
        c.add(g);
    }
    if KEYSPACE_EXTRA.contains(&spec.name) {
        c.add("keyspace");
    }
    if spec.name == "command" {
        // Clients run COMMAND as part of their handshake (redis-cli's hints).
        c.add("connection");
    }
    if spec.has(flags::PUBSUB) {
        c.add("pubsub");
    }
    if spec.has(flags::ADMIN) {
        c.add("admin");
        c.add("dangerous");
    }
    if DANGEROUS_EXTRA.contains(&spec.name) {
        c.add("dangerous");
    }
    c.add(if spec.has(flags::FAST) {
        "fast"
    } else {
        "slow"
    });
    if spec.has(flags::BLOCKING) {
        c.add("blocking");
    }
    c
}

/// Subcommands Redis 7 files under other categories than their container:
/// anyone may ask who they are (`acl|whoami`), while listing every client
/// (`client|list`) is administrative.
const SUBCOMMANDS: &[(&str, &str, &[&str])] = &[
    ("acl", "whoami", &["slow"]),
    ("acl", "cat", &["slow"]),
    ("acl", "genpass", &["slow"]),
    ("acl", "help", &["slow"]),
    (
        "client",
        "list",
        &["admin", "slow", "dangerous", "connection"],
    ),
    (
        "client",
        "kill",
        &["admin", "slow", "dangerous", "connection"],
    ),
    (
        "client",
        "pause",
        &["admin", "slow", "dangerous", "connection"],
    ),
    (
        "client",
        "unpause",
        &["admin", "slow", "dangerous", "connection"],
    ),
    (
        "client",
        "no-evict",
        &["admin", "slow", "dangerous", "connection"],
    ),
];

/// A subcommand with categories of its own.
#[derive(Clone, Copy, Debug)]
pub struct Subcommand {
    /// Its container's position in the command table.
    pub command: usize,
    /// Its name (lowercase), the container's first argument.
    pub name: &'static str,
    /// Its categories.
    pub categories: Categories,
}

/// The subcommands with categories of their own, for commands in the table.
pub fn subcommands() -> impl Iterator<Item = Subcommand> {
    SUBCOMMANDS.iter().filter_map(|(container, name, cats)| {
        let (command, _) = table().lookup(container.as_bytes())?;
        let mut categories = Categories::default();
        for c in *cats {
            categories.add(c);
        }
        Some(Subcommand {
            command,
            name,
            categories,
        })
    })
}

/// The commands of category `index`, as positions in the command table.
pub fn members(index: usize) -> impl Iterator<Item = usize> {
    table()
        .all()
        .iter()
        .enumerate()
        .filter(move |(_, spec)| of(spec).contains(index))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats(name: &str) -> Vec<&'static str> {
        of(table().get(name.as_bytes()).expect("command"))
            .tagged()
            .collect()
    }

    #[test]
    fn categories_follow_flags_and_groups() {
        assert_eq!(cats("get"), ["@read", "@string", "@fast"]);
        assert_eq!(cats("lpush"), ["@write", "@list", "@fast"]);
        assert_eq!(
            cats("flushall"),
            ["@keyspace", "@write", "@slow", "@dangerous"]
        );
        assert_eq!(cats("config"), ["@admin", "@slow", "@dangerous"]);
        assert_eq!(cats("blpop"), ["@write", "@list", "@slow", "@blocking"]);
        assert_eq!(cats("publish"), ["@pubsub", "@fast"]);
        assert_eq!(
            cats("lock.acquire"),
            ["@write", "@slow", "@blocking", "@lock"]
        );
        assert_eq!(cats("lock.info"), ["@read", "@fast", "@lock"]);
        assert_eq!(index("READ"), Some(1));
        assert!(members(index("hash").expect("hash")).count() > 10);
        let whoami = subcommands()
            .find(|s| s.name == "whoami")
            .expect("acl|whoami");
        assert!(!whoami.categories.contains(index("admin").expect("admin")));
    }
}

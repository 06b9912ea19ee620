//! What a command touches, as ACLs see it: for each key argument whether the
//! command reads its value, writes it, or both; and which arguments are pub/sub
//! channels or channel patterns.
//!
//! Key positions come from the command table's key specs; this module only
//! adds the read/write split Redis's key-spec flags express (`ACCESS` means
//! the reply carries data from the key, `INSERT`/`UPDATE`/`DELETE` mean the
//! key changes). It must not decide whether an access is allowed.

use std::sync::LazyLock;

use smallvec::SmallVec;

use crate::resp::Request;
use crate::resp::command::{CommandSpec, flags, table};

/// How a command uses one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyAccess {
    /// The reply carries data read from the key.
    pub read: bool,
    /// The key may change.
    pub write: bool,
}

/// Read-only commands that reply with metadata only (existence, type,
/// length, TTL), never the value: Redis's `RO` keys without `ACCESS`.
const METADATA_ONLY: &[&str] = &[
    "exists",
    "type",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "touch",
    "strlen",
    "llen",
    "scard",
    "hlen",
    "zcard",
    "hstrlen",
    "hexists",
];

/// Writing commands whose reply also carries the value they change
/// (`RW ACCESS`): pops, GETSET, INCR and friends.
const WRITE_AND_READ: &[&str] = &[
    "getset",
    "getdel",
    "getex",
    "incr",
    "incrby",
    "decr",
    "decrby",
    "incrbyfloat",
    "hincrby",
    "hincrbyfloat",
    "zincrby",
    "lpop",
    "rpop",
    "blpop",
    "brpop",
    "lmpop",
    "blmpop",
    "spop",
    "zpopmin",
    "zpopmax",
    "bzpopmin",
    "bzpopmax",
    "setbit",
];

/// Commands whose first key is a destination written from the other keys,
/// which are only read (the `*STORE` family, BITOP, PFMERGE).
const STORE_INTO_FIRST: &[&str] = &[
    "sinterstore",
    "sunionstore",
    "sdiffstore",
    "zunionstore",
    "zinterstore",
    "zdiffstore",
    "zrangestore",
    "bitop",
    "pfmerge",
];

/// Commands that move a value from their first key (read and changed) to
/// their second (written).
const MOVE_FIRST_TO_SECOND: &[&str] = &[
    "lmove",
    "blmove",
    "rpoplpush",
    "brpoplpush",
    "smove",
    "rename",
    "renamenx",
];

/// How a command uses its keys, whatever its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Writes its first key from the others, which it only reads.
    StoreIntoFirst,
    /// Moves from its first key to its second; the reply may carry the value.
    MoveFirstToSecond { returns_value: bool },
    /// Changes its keys; the reply may carry their values.
    Write { reads: bool },
    /// Replies with its keys' values.
    Read,
    /// Looks at existence, type, length or TTL only.
    Metadata,
}

fn shape(spec: &CommandSpec) -> Shape {
    let name = spec.name;
    if STORE_INTO_FIRST.contains(&name) {
        Shape::StoreIntoFirst
    } else if MOVE_FIRST_TO_SECOND.contains(&name) {
        // SMOVE and RENAME do not return the value; the list moves do.
        Shape::MoveFirstToSecond {
            returns_value: !matches!(name, "smove" | "rename" | "renamenx"),
        }
    } else if spec.has(flags::WRITE) {
        Shape::Write {
            reads: WRITE_AND_READ.contains(&name),
        }
    } else if spec.has(flags::READONLY) && !METADATA_ONLY.contains(&name) {
        Shape::Read
    } else {
        // WATCH, EXISTS and the like: the key must only match some pattern.
        Shape::Metadata
    }
}

/// Shapes by command-table position, so a check compares no names.
static SHAPES: LazyLock<Vec<Shape>> =
    LazyLock::new(|| table().all().iter().map(|s| shape(s)).collect());

/// How `spec` (at `index` in the command table) uses its `nth` key (0 = first
/// key argument) in `req`.
pub fn key_access(index: usize, spec: &CommandSpec, req: &Request, nth: usize) -> KeyAccess {
    let access = |read, write| KeyAccess { read, write };
    match SHAPES.get(index).copied().unwrap_or_else(|| shape(spec)) {
        // ZRANGESTORE dst src: the destination comes first too.
        Shape::StoreIntoFirst => access(nth != 0, nth == 0),
        Shape::MoveFirstToSecond { returns_value } => access(nth == 0 && returns_value, true),
        Shape::Write { reads } => {
            // SET ... GET returns the old value.
            let get_option =
                spec.name == "set" && req.args_from(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            access(reads || get_option, true)
        }
        Shape::Read => access(true, false),
        Shape::Metadata => access(false, false),
    }
}

/// The channel arguments of a command.
pub struct Channels {
    /// Argument positions.
    pub args: SmallVec<[usize; 4]>,
    /// The arguments are patterns (PSUBSCRIBE): a user may subscribe to a
    /// pattern only if it is literally one of theirs.
    pub patterns: bool,
}

/// The channels `req` publishes or subscribes to. Unsubscribing and
/// introspection (PUBSUB) need no channel permission, as in Redis.
pub fn channels(spec: &CommandSpec, req: &Request) -> Channels {
    let (args, patterns): (SmallVec<[usize; 4]>, bool) = match spec.name {
        "publish" | "spublish" => ((1..req.len().min(2)).collect(), false),
        "subscribe" | "ssubscribe" => ((1..req.len()).collect(), false),
        "psubscribe" => ((1..req.len()).collect(), true),
        _ => (SmallVec::new(), false),
    };
    Channels { args, patterns }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(args: &[&str], nth: usize) -> (bool, bool) {
        let req = Request::from_args(args);
        let (index, spec) = table().lookup(args[0].as_bytes()).expect("command");
        let a = key_access(index, spec, &req, nth);
        (a.read, a.write)
    }

    #[test]
    fn reads_writes_and_both() {
        assert_eq!(access(&["get", "k"], 0), (true, false));
        assert_eq!(access(&["set", "k", "v"], 0), (false, true));
        assert_eq!(access(&["set", "k", "v", "GET"], 0), (true, true));
        assert_eq!(access(&["incr", "k"], 0), (true, true));
        assert_eq!(access(&["lpush", "k", "v"], 0), (false, true));
        assert_eq!(access(&["exists", "k"], 0), (false, false));
        assert_eq!(access(&["sinterstore", "d", "a", "b"], 0), (false, true));
        assert_eq!(access(&["sinterstore", "d", "a", "b"], 2), (true, false));
        assert_eq!(
            access(&["lmove", "s", "d", "left", "right"], 0),
            (true, true)
        );
        assert_eq!(
            access(&["lmove", "s", "d", "left", "right"], 1),
            (false, true)
        );
    }

    #[test]
    fn channel_arguments() {
        let req = Request::from_args(&["subscribe", "a", "b"]);
        let spec = table().get(b"subscribe").expect("subscribe");
        let c = channels(spec, &req);
        assert_eq!(c.args.as_slice(), &[1, 2]);
        assert!(!c.patterns);
        let req = Request::from_args(&["publish", "a", "m"]);
        let spec = table().get(b"publish").expect("publish");
        assert_eq!(channels(spec, &req).args.as_slice(), &[1]);
    }
}

//! Which keyspace notification each write command raises, as Redis names
//! them, and raising them after a command succeeded.
//!
//! The engine reports the keys a command wrote (`Txn::take_written`); this
//! file turns each into Redis's event: the command's event when the key
//! still exists, that event and then `del` when a pop or removal emptied
//! it (just `del` for DEL and an EXPIRE in the past), and the two-sided
//! events of RENAME, LMOVE, SMOVE and their kin. A command whose reply
//! says it changed nothing raises nothing, and a command missing from the
//! table raises nothing rather than a wrongly named event.

use super::CommandSpec;
use super::args::is;
use crate::engine::Txn;
use crate::engine::notify::class::*;
use crate::keyspace::Blob;
use crate::resp::Request;

/// The event a write of `key` by `req` raises while the key exists.
fn event_for(name: &str, req: &Request, key: &[u8]) -> Option<(u32, &'static str)> {
    let is_src = req.get(1) == Some(key);
    let end_of = |i: usize| -> Option<&'static str> {
        match req.get(i) {
            Some(a) if is(a, "left") => Some("l"),
            Some(a) if is(a, "right") => Some("r"),
            _ => None,
        }
    };
    Some(match name {
        "set" | "setnx" | "setex" | "psetex" | "getset" | "mset" | "msetnx" | "bitop" => {
            (STRING, "set")
        }
        "append" => (STRING, "append"),
        "incr" | "incrby" => (STRING, "incrby"),
        "decr" | "decrby" => (STRING, "decrby"),
        "incrbyfloat" => (STRING, "incrbyfloat"),
        "setrange" => (STRING, "setrange"),
        "setbit" | "bitfield" => (STRING, "setbit"),
        "pfadd" | "pfmerge" => (STRING, "pfadd"),
        "lpush" | "lpushx" => (LIST, "lpush"),
        "rpush" | "rpushx" => (LIST, "rpush"),
        "lpop" | "blpop" => (LIST, "lpop"),
        "rpop" | "brpop" => (LIST, "rpop"),
        "linsert" => (LIST, "linsert"),
        "lset" => (LIST, "lset"),
        "ltrim" => (LIST, "ltrim"),
        "lrem" => (LIST, "lrem"),
        "rpoplpush" | "brpoplpush" => (LIST, if is_src { "rpop" } else { "lpush" }),
        "lmove" | "blmove" => {
            let (from, to) = (end_of(3)?, end_of(4)?);
            (
                LIST,
                match (is_src, from, to) {
                    (true, "l", _) => "lpop",
                    (true, _, _) => "rpop",
                    (false, _, "l") => "lpush",
                    (false, _, _) => "rpush",
                },
            )
        }
        "sort" => (LIST, "sortstore"),
        "hset" | "hmset" | "hsetnx" => (HASH, "hset"),
        "hdel" => (HASH, "hdel"),
        "hincrby" => (HASH, "hincrby"),
        "hincrbyfloat" => (HASH, "hincrbyfloat"),
        "sadd" => (SET, "sadd"),
        "srem" => (SET, "srem"),
        "spop" => (SET, "spop"),
        "smove" => (SET, if is_src { "srem" } else { "sadd" }),
        "sinterstore" => (SET, "sinterstore"),
        "sunionstore" => (SET, "sunionstore"),
        "sdiffstore" => (SET, "sdiffstore"),
        "zadd" if req.args_from(2).any(|a| is(a, "incr")) => (ZSET, "zincr"),
        "zadd" | "geoadd" => (ZSET, "zadd"),
        "zincrby" => (ZSET, "zincr"),
        "zrem" => (ZSET, "zrem"),
        "zremrangebyrank" => (ZSET, "zremrangebyrank"),
        "zremrangebyscore" => (ZSET, "zremrangebyscore"),
        "zremrangebylex" => (ZSET, "zremrangebylex"),
        "zpopmin" | "bzpopmin" => (ZSET, "zpopmin"),
        "zpopmax" | "bzpopmax" => (ZSET, "zpopmax"),
        "zunionstore" => (ZSET, "zunionstore"),
        "zinterstore" => (ZSET, "zinterstore"),
        "zdiffstore" => (ZSET, "zdiffstore"),
        "zrangestore" => (ZSET, "zrangestore"),
        "geosearchstore" => (ZSET, "geosearchstore"),
        "georadius" | "georadiusbymember" => (ZSET, "georadiusstore"),
        "expire" | "pexpire" | "expireat" | "pexpireat" => (GENERIC, "expire"),
        "persist" => (GENERIC, "persist"),
        "rename" | "renamenx" => (GENERIC, "rename_to"),
        "copy" => (GENERIC, "copy_to"),
        "restore" => (GENERIC, "restore"),
        _ => return None,
    })
}

/// True if a SET-family command also set a TTL (Redis then raises `expire`
/// after `set`).
fn sets_ttl(name: &str, req: &Request) -> bool {
    match name {
        "setex" | "psetex" => true,
        "set" => req
            .args_from(3)
            .any(|a| ["ex", "px", "exat", "pxat"].iter().any(|o| is(a, o))),
        _ => false,
    }
}

/// Commands whose integer reply counts what they changed: Redis raises
/// nothing when it is 0 (SADD of present members, SREM of absent ones…),
/// though the key was opened for writing.
const COUNTED: &[&str] = &[
    "sadd",
    "srem",
    "smove",
    "hdel",
    "zrem",
    "zremrangebyrank",
    "zremrangebyscore",
    "zremrangebylex",
    "lrem",
];

/// Raises the events of `spec` having run `req` and answered `reply`, for
/// the keys it wrote.
pub fn after_command(spec: &CommandSpec, req: &Request, txn: &mut Txn<'_>, reply: &[u8]) {
    let mut written = txn.take_written();
    if written.is_empty() || (reply == b":0\r\n" && COUNTED.contains(&spec.name)) {
        return;
    }
    // Redis pushes to the destination before it reports the pop.
    if matches!(spec.name, "lmove" | "blmove" | "rpoplpush" | "brpoplpush") {
        let dst = req.get(2).unwrap_or_default();
        written.sort_by_key(|k| k.as_slice() != dst);
    }
    let engine = txn.engine();
    let (notifier, broker) = (engine.notifier(), engine.broker());
    let mut seen: Vec<Blob> = Vec::with_capacity(written.len());
    for key in written {
        if seen.contains(&key) {
            continue;
        }
        let exists = matches!(txn.peek(&key), Ok(Some(_)));
        match (exists, spec.name) {
            (false, "rename" | "renamenx") => {
                notifier.publish(broker, GENERIC, "rename_from", &key);
            }
            (false, name) => {
                // A pop or removal that emptied the key reports itself,
                // then the deletion (DEL and EXPIRE report only `del`).
                if let Some((class, event)) = event_for(name, req, &key)
                    && class != GENERIC
                {
                    notifier.publish(broker, class, event, &key);
                }
                notifier.publish(broker, GENERIC, "del", &key);
            }
            (true, name) => {
                if let Some((class, event)) = event_for(name, req, &key) {
                    notifier.publish(broker, class, event, &key);
                }
                if sets_ttl(name, req) {
                    notifier.publish(broker, GENERIC, "expire", &key);
                }
            }
        }
        seen.push(key);
    }
}

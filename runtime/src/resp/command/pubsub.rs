//! Pub/sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH and
//! PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB / HELP.
//!
//! A connection's subscriptions live in its [`Session`](crate::resp::Session)
//! (`Subscriptions`); the broker ([`crate::engine::pubsub`]) keeps the global
//! index and fans published messages out to mailboxes, which the connection
//! loop drains onto the socket. (Un)subscribe confirmations are push frames in
//! RESP3 and plain arrays in RESP2, one per channel, carrying the client's
//! remaining channel + pattern count, as Redis.
//!
//! Shard channels (SSUBSCRIBE & co.) are not implemented; PUBSUB SHARDCHANNELS
//! and SHARDNUMSUB answer truthfully that no shard channel has subscribers.

use bytes::Bytes;

use super::args::is;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::connection::DRAIN_BYTES;
use crate::resp::{Proto, Reply, Request};

type R = Result<Flow, CmdError>;

/// Payloads up to this size are copied out of the request buffer when
/// published. A `Bytes` slice of the request would pin the whole read buffer
/// it came from for as long as the message waits in a slow subscriber's
/// mailbox — kilobytes per tiny message. Bigger payloads are shared: the
/// buffer they pin is then mostly the payload itself.
const COPY_PAYLOAD_MAX: usize = 16 * 1024;

/// One (un)subscribe confirmation: `[kind, name, count]`.
fn confirm(out: &mut Reply, kind: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(kind);
    out.bulk_opt(name);
    out.int(count as i64);
}

fn subscribe(ctx: &mut Ctx, req: &Request) -> R {
    let broker = ctx.session.engine().broker();
    let subs = ctx.session.subscriptions();
    for ch in req.args_from(1) {
        if !subs.channels.contains(ch) {
            // Copied: a slice of the request would keep its read buffer alive
            // for the lifetime of the subscription.
            let ch = Bytes::copy_from_slice(ch);
            broker.subscribe(subs.id, &subs.mailbox, &ch);
            subs.channels.insert(ch);
        }
        confirm(ctx.out, b"subscribe", Some(ch), subs.count());
    }
    ctx.session.publish_sub_counts();
    Ok(Flow::Done)
}

fn psubscribe(ctx: &mut Ctx, req: &Request) -> R {
    let broker = ctx.session.engine().broker();
    let subs = ctx.session.subscriptions();
    for p in req.args_from(1) {
        if !subs.patterns.contains(p) {
            let p = Bytes::copy_from_slice(p);
            broker.psubscribe(subs.id, &subs.mailbox, &p);
            subs.patterns.insert(p);
        }
        confirm(ctx.out, b"psubscribe", Some(p), subs.count());
    }
    ctx.session.publish_sub_counts();
    Ok(Flow::Done)
}

fn unsubscribe(ctx: &mut Ctx, req: &Request) -> R {
    let broker = ctx.session.engine().broker();
    let out = &mut *ctx.out;
    let Some(subs) = ctx.session.subs.as_mut() else {
        // Never subscribed: answer as Redis does, without creating a mailbox.
        if req.len() == 1 {
            confirm(out, b"unsubscribe", None, 0);
        }
        for ch in req.args_from(1) {
            confirm(out, b"unsubscribe", Some(ch), 0);
        }
        return Ok(Flow::Done);
    };
    if req.len() == 1 {
        if subs.channels.is_empty() {
            confirm(out, b"unsubscribe", None, subs.count());
        }
        while let Some(ch) = subs.channels.pop_first() {
            broker.unsubscribe(subs.id, &ch);
            confirm(out, b"unsubscribe", Some(&ch), subs.count());
        }
    } else {
        for ch in req.args_from(1) {
            if subs.channels.remove(ch) {
                broker.unsubscribe(subs.id, ch);
            }
            confirm(out, b"unsubscribe", Some(ch), subs.count());
        }
    }
    ctx.session.publish_sub_counts();
    Ok(Flow::Done)
}

fn punsubscribe(ctx: &mut Ctx, req: &Request) -> R {
    let broker = ctx.session.engine().broker();
    let out = &mut *ctx.out;
    let Some(subs) = ctx.session.subs.as_mut() else {
        if req.len() == 1 {
            confirm(out, b"punsubscribe", None, 0);
        }
        for p in req.args_from(1) {
            confirm(out, b"punsubscribe", Some(p), 0);
        }
        return Ok(Flow::Done);
    };
    if req.len() == 1 {
        if subs.patterns.is_empty() {
            confirm(out, b"punsubscribe", None, subs.count());
        }
        while let Some(p) = subs.patterns.pop_first() {
            broker.punsubscribe(subs.id, &p);
            confirm(out, b"punsubscribe", Some(&p), subs.count());
        }
    } else {
        for p in req.args_from(1) {
            if subs.patterns.remove(p) {
                broker.punsubscribe(subs.id, p);
            }
            confirm(out, b"punsubscribe", Some(p), subs.count());
        }
    }
    ctx.session.publish_sub_counts();
    Ok(Flow::Done)
}

fn publish(ctx: &mut Ctx, req: &Request) -> R {
    let channel = Bytes::copy_from_slice(req.arg(1));
    let payload = if req.arg(2).len() <= COPY_PAYLOAD_MAX {
        Bytes::copy_from_slice(req.arg(2))
    } else {
        req.arg_bytes(2)
    };
    let n = ctx.txn.publish(&channel, &payload);
    // A RESP3 subscriber publishing to itself hears its message before the
    // reply, as with Redis (push frames may come anywhere in RESP3).
    if ctx.out.proto() == Proto::Resp3
        && let Some(s) = ctx.session.subs.as_mut()
    {
        s.drain_into(None, ctx.out, DRAIN_BYTES);
    }
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn pubsub(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let n = req.len();
    let broker = ctx.session.engine().broker();
    let out = &mut *ctx.out;
    // Subcommands with a fixed arity fail Redis's table arity check, worded
    // with the `pubsub|sub` full name.
    let fixed_arity = |name: &str| {
        CmdError::msg(format!(
            "ERR wrong number of arguments for 'pubsub|{name}' command"
        ))
    };
    if is(sub, "channels") && n <= 3 {
        let channels = broker.channels(req.get(2));
        out.array(channels.len());
        for c in &channels {
            out.bulk(c);
        }
    } else if is(sub, "numsub") {
        out.array(2 * (n - 2));
        for ch in req.args_from(2) {
            out.bulk(ch);
            out.int(broker.numsub(ch) as i64);
        }
    } else if is(sub, "numpat") {
        if n != 2 {
            return Err(fixed_arity("numpat"));
        }
        out.int(broker.numpat() as i64);
    } else if is(sub, "shardchannels") && n <= 3 {
        out.array(0);
    } else if is(sub, "shardnumsub") {
        out.array(2 * (n - 2));
        for ch in req.args_from(2) {
            out.bulk(ch);
            out.int(0);
        }
    } else if is(sub, "help") {
        if n != 2 {
            return Err(fixed_arity("help"));
        }
        out.help(PUBSUB_HELP);
    } else {
        let name = String::from_utf8_lossy(sub);
        return Err(CmdError::msg(
            if is(sub, "channels") || is(sub, "shardchannels") {
                format!(
                    "ERR unknown subcommand or wrong number of arguments for '{name}'. Try PUBSUB HELP."
                )
            } else {
                format!("ERR unknown subcommand '{name}'. Try PUBSUB HELP.")
            },
        ));
    }
    Ok(Flow::Done)
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $h:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags | PUBSUB,
            keys: KeySpec::None,
            handler: $h,
            group: "pubsub",
            summary: $summary,
        }
    };
}

/// The pubsub commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "subscribe",
        -2,
        SUBSCRIBED_OK,
        subscribe,
        "Listens for messages published to channels."
    ),
    cmd!(
        "unsubscribe",
        -1,
        SUBSCRIBED_OK,
        unsubscribe,
        "Stops listening to messages posted to channels."
    ),
    cmd!(
        "psubscribe",
        -2,
        SUBSCRIBED_OK,
        psubscribe,
        "Listens for messages published to channels that match one or more patterns."
    ),
    cmd!(
        "punsubscribe",
        -1,
        SUBSCRIBED_OK,
        punsubscribe,
        "Stops listening to messages published to channels that match one or more patterns."
    ),
    cmd!("publish", 3, FAST, publish, "Posts a message to a channel."),
    cmd!("pubsub", -2, 0, pubsub, "A container for Pub/Sub commands."),
];

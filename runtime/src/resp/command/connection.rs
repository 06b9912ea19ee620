//! Connection commands: PING ECHO HELLO QUIT SELECT RESET CLIENT.
//!
//! CLIENT KILL and CLIENT PAUSE only ask: the connections concerned carry
//! them out at their next step (see [`crate::resp::clients`] and
//! [`crate::resp::pause`]).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::resp::clients::ClientInfo;
use crate::resp::pause::PauseMode;
use crate::resp::{Proto, Request};

type R = Result<Flow, CmdError>;

/// The Redis version we are compatible with (clients gate features on it).
pub const COMPAT_VERSION: &str = "7.0.15";

fn ping(ctx: &mut Ctx, req: &Request) -> R {
    if req.len() > 2 {
        return Err(CmdError::Arity(req.name_lower()));
    }
    let resp3 = ctx.out.proto() == Proto::Resp3;
    if ctx.session.in_subscriber_context(resp3) {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(req.get(1).unwrap_or_default());
    } else if let Some(msg) = req.get(1) {
        ctx.out.bulk(msg);
    } else {
        ctx.out.simple("PONG");
    }
    Ok(Flow::Done)
}

fn echo(ctx: &mut Ctx, req: &Request) -> R {
    ctx.out.bulk(req.arg(1));
    Ok(Flow::Done)
}

fn quit(ctx: &mut Ctx, _req: &Request) -> R {
    ctx.out.ok();
    ctx.session.closing = true;
    Ok(Flow::Done)
}

fn select(ctx: &mut Ctx, req: &Request) -> R {
    let db = args::int(req.arg(1))?;
    if db != 0 {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    ctx.out.ok();
    Ok(Flow::Done)
}

fn valid_name(name: &[u8]) -> Result<String, CmdError> {
    if name.iter().any(|&c| c <= b' ' || c > b'~') {
        return Err(CmdError::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

fn hello(ctx: &mut Ctx, req: &Request) -> R {
    let mut proto = ctx.out.proto();
    let mut i = 1;
    if req.len() > 1 {
        proto = match args::int(req.arg(1)) {
            Ok(2) => Proto::Resp2,
            Ok(3) => Proto::Resp3,
            _ => return Err(CmdError::msg("NOPROTO unsupported protocol version")),
        };
        i = 2;
    }
    let mut name = None;
    let mut auth = None;
    while i < req.len() {
        let a = req.arg(i);
        if is(a, "auth") && i + 2 < req.len() {
            auth = Some((req.arg(i + 1), req.arg(i + 2)));
            i += 3;
        } else if is(a, "setname") && i + 1 < req.len() {
            name = Some(valid_name(req.arg(i + 1))?);
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if let Some((user, password)) = auth {
        super::security::authenticate(ctx, user, password)?;
    } else if ctx
        .session
        .identity
        .auth_required(&ctx.session.shared().acl)
    {
        return Err(CmdError::msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        *ctx.session.client.name.lock() = n;
    }
    ctx.out.set_proto(proto);
    let version = if proto == Proto::Resp3 { 3 } else { 2 };
    ctx.session.client.resp.store(version, Ordering::Relaxed);
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(COMPAT_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(version as i64);
    out.bulk(b"id");
    out.int(ctx.session.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(Flow::Done)
}

fn reset(ctx: &mut Ctx, _req: &Request) -> R {
    ctx.session.multi = None;
    ctx.session.watch = None;
    ctx.session.unsubscribe_all();
    ctx.session.monitor = None;
    ctx.session
        .client
        .monitoring
        .store(false, Ordering::Relaxed);
    ctx.session.client.no_evict.store(false, Ordering::Relaxed);
    ctx.session.client.multi.store(0, Ordering::Relaxed);
    ctx.session.client.name.lock().clear();
    // RESET also logs out: back to the default user, as a new connection.
    let acl = &ctx.session.shared().acl;
    ctx.session.identity.reset(acl);
    *ctx.session.client.user.lock() = ctx.session.identity.user().name().to_string();
    ctx.out.set_proto(Proto::Resp2);
    ctx.session.client.resp.store(2, Ordering::Relaxed);
    ctx.out.simple("RESET");
    Ok(Flow::Done)
}

fn client(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let n = req.len();
    if is(sub, "id") && n == 2 {
        ctx.out.int(ctx.session.client.id as i64);
    } else if is(sub, "getname") && n == 2 {
        let name = ctx.session.client.name.lock().clone();
        if name.is_empty() {
            ctx.out.null();
        } else {
            ctx.out.bulk(name.as_bytes());
        }
    } else if is(sub, "setname") && n == 3 {
        let name = valid_name(req.arg(2))?;
        *ctx.session.client.name.lock() = name;
        ctx.out.ok();
    } else if is(sub, "setinfo") && n == 4 {
        let value = valid_name(req.arg(3))?;
        let mut lib = ctx.session.client.lib.lock();
        if is(req.arg(2), "lib-name") {
            lib.0 = value;
        } else if is(req.arg(2), "lib-ver") {
            lib.1 = value;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized option '{}'",
                String::from_utf8_lossy(req.arg(2))
            )));
        }
        drop(lib);
        ctx.out.ok();
    } else if is(sub, "info") && n == 2 {
        let line = ctx.session.client.describe() + "\n";
        ctx.out.verbatim(&line);
    } else if is(sub, "list") {
        let mut ids = None;
        if n > 2 {
            if is(req.arg(2), "type") && n == 4 {
                if !is(req.arg(3), "normal") && !is(req.arg(3), "pubsub") {
                    return Err(CmdError::msg(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(req.arg(3))
                    )));
                }
            } else if is(req.arg(2), "id") && n > 3 {
                let mut v = Vec::new();
                for a in req.args_from(3) {
                    v.push(args::uint(a).map_err(|_| CmdError::msg("ERR Invalid client ID"))?);
                }
                ids = Some(v);
            } else {
                return Err(CmdError::Syntax);
            }
        }
        let mut text = String::new();
        for c in ctx.session.shared().clients.snapshot() {
            if ids.as_ref().is_none_or(|ids| ids.contains(&c.id)) {
                text.push_str(&c.describe());
                text.push('\n');
            }
        }
        ctx.out.verbatim(&text);
    } else if is(sub, "kill") && n >= 3 {
        return client_kill(ctx, req);
    } else if is(sub, "pause") && (n == 3 || n == 4) {
        let ms = args::int(req.arg(2))
            .ok()
            .filter(|&ms| ms >= 0)
            .ok_or_else(|| CmdError::msg("ERR timeout is not an integer or out of range"))?;
        let mode = match req.get(3) {
            None => PauseMode::All,
            Some(m) if is(m, "all") => PauseMode::All,
            Some(m) if is(m, "write") => PauseMode::Write,
            Some(_) => return Err(CmdError::Syntax),
        };
        let pause = &ctx.session.shared().clients.pause;
        pause.pause(Duration::from_millis(ms as u64), mode);
        ctx.out.ok();
    } else if is(sub, "unpause") && n == 2 {
        ctx.session.shared().clients.pause.unpause();
        ctx.out.ok();
    } else if is(sub, "no-evict") && n == 3 {
        let on = if is(req.arg(2), "on") {
            true
        } else if is(req.arg(2), "off") {
            false
        } else {
            return Err(CmdError::Syntax);
        };
        ctx.session.client.no_evict.store(on, Ordering::Relaxed);
        ctx.out.ok();
    } else if is(sub, "help") {
        let lines = [
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "    * MAXAGE <maxage>",
            "      Kill connections older than the specified age.",
            "LIST [TYPE <normal|pubsub>] [ID <id> [id ...]]",
            "    Return information about client connections.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <LIB-NAME|LIB-VER> <value>",
            "    Set client library name or version.",
        ];
        ctx.out.help(&lines);
    } else {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(Flow::Done)
}

/// Which clients a CLIENT KILL filter matches.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    user: Option<String>,
    /// `Some(true)`: pub/sub clients only; `Some(false)`: normal only.
    pubsub: Option<bool>,
    /// A type no client of ours has (master, replica).
    no_such_type: bool,
    max_age: Option<u64>,
    skip_me: bool,
}

impl KillFilter {
    fn matches(&self, c: &ClientInfo, me: u64) -> bool {
        !(self.no_such_type
            || (self.skip_me && c.id == me)
            || self.id.is_some_and(|id| id != c.id)
            || self.addr.as_ref().is_some_and(|a| *a != c.addr.to_string())
            || self
                .laddr
                .as_ref()
                .is_some_and(|a| *a != c.laddr.to_string())
            || self.user.as_ref().is_some_and(|u| *u != *c.user.lock())
            || self.pubsub.is_some_and(|p| p != c.is_pubsub())
            || self.max_age.is_some_and(|age| c.age_secs() < age))
    }
}

/// CLIENT KILL, in the old form (`CLIENT KILL ip:port` → OK) and the
/// filter form (→ how many clients were killed).
fn client_kill(ctx: &mut Ctx, req: &Request) -> R {
    let me = ctx.session.client.id;
    let clients = &ctx.session.shared().clients;
    if req.len() == 3 {
        let addr = String::from_utf8_lossy(req.arg(2));
        let target = clients
            .snapshot()
            .into_iter()
            .find(|c| c.addr.to_string() == addr)
            .ok_or_else(|| CmdError::msg("ERR No such client"))?;
        kill(ctx, &target);
        ctx.out.ok();
        return Ok(Flow::Done);
    }
    if !req.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut f = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    let mut i = 2;
    while i + 1 < req.len() {
        let (opt, v) = (req.arg(i), req.arg(i + 1));
        let text = String::from_utf8_lossy(v).into_owned();
        if is(opt, "id") {
            f.id = Some(
                args::uint(v)
                    .ok()
                    .filter(|&id| id > 0)
                    .ok_or_else(|| CmdError::msg("ERR client-id should be greater than 0"))?,
            );
        } else if is(opt, "type") {
            if is(v, "normal") {
                f.pubsub = Some(false);
            } else if is(v, "pubsub") {
                f.pubsub = Some(true);
            } else if is(v, "master") || is(v, "replica") || is(v, "slave") {
                f.no_such_type = true;
            } else {
                return Err(CmdError::msg(format!("ERR Unknown client type '{text}'")));
            }
        } else if is(opt, "user") {
            if ctx.session.shared().acl.get(&text).is_none() {
                return Err(CmdError::msg(format!("ERR No such user '{text}'")));
            }
            f.user = Some(text);
        } else if is(opt, "addr") {
            f.addr = Some(text);
        } else if is(opt, "laddr") {
            f.laddr = Some(text);
        } else if is(opt, "skipme") {
            f.skip_me = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else if is(opt, "maxage") {
            f.max_age = Some(args::uint(v)?);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut killed = 0;
    for c in clients.snapshot() {
        if f.matches(&c, me) {
            kill(ctx, &c);
            killed += 1;
        }
    }
    ctx.out.int(killed);
    Ok(Flow::Done)
}

/// Kills `target`; killing oneself closes after this reply, as in Redis.
fn kill(ctx: &mut Ctx, target: &ClientInfo) {
    if target.id == ctx.session.client.id {
        ctx.session.closing = true;
    } else {
        target.kill();
    }
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $h:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags | CONNECTION,
            keys: KeySpec::None,
            handler: $h,
            group: "connection",
            summary: $summary,
        }
    };
}

/// The connection commands.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "ping",
        -1,
        FAST | SUBSCRIBED_OK,
        ping,
        "Returns the server's liveliness response."
    ),
    cmd!("echo", 2, FAST, echo, "Returns the given string."),
    cmd!(
        "quit",
        -1,
        FAST | SUBSCRIBED_OK | NO_AUTH | NO_QUEUE,
        quit,
        "Closes the connection."
    ),
    cmd!(
        "select",
        2,
        FAST,
        select,
        "Changes the selected database (only database 0 exists)."
    ),
    cmd!(
        "hello",
        -1,
        FAST | NO_AUTH,
        hello,
        "Handshakes with the server."
    ),
    cmd!(
        "reset",
        1,
        FAST | SUBSCRIBED_OK | NO_AUTH | NO_QUEUE,
        reset,
        "Resets the connection."
    ),
    cmd!(
        "client",
        -2,
        0,
        client,
        "A container for client connection commands."
    ),
];

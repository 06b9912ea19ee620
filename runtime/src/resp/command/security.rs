//! Security commands: AUTH and ACL (SETUSER GETUSER DELUSER LIST USERS
//! WHOAMI CAT DRYRUN LOG GENPASS LOAD SAVE HELP), with Redis 7's replies and
//! error texts.
//!
//! These handlers only parse arguments and shape replies; the user model,
//! rules and checks are in [`crate::acl`].

use std::fmt::Write as _;

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec, table};
use crate::acl::log::Reason;
use crate::acl::permission::full_name;
use crate::acl::{self, DEFAULT_USER};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

/// The reply to a failed AUTH (wrong password, unknown or disabled user).
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Authenticates the connection as `name`, or answers WRONGPASS. Shared by
/// AUTH and HELLO … AUTH.
pub fn authenticate(ctx: &mut Ctx, name: &[u8], password: &[u8]) -> Result<(), CmdError> {
    let acl = &ctx.session.shared().acl;
    match acl.authenticate(name, password) {
        Some(user) => {
            *ctx.session.client.user.lock() = user.name().to_string();
            ctx.session.identity.login(acl, user);
            Ok(())
        }
        None => {
            acl.stats
                .denied_auth
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let context = if ctx.session.multi.is_some() {
                "multi"
            } else {
                "toplevel"
            };
            acl.log.record(
                Reason::Auth,
                context,
                "AUTH",
                &String::from_utf8_lossy(name),
                ctx.session.client.describe(),
            );
            Err(CmdError::msg(WRONGPASS))
        }
    }
}

fn auth(ctx: &mut Ctx, req: &Request) -> R {
    let (name, password): (&[u8], &[u8]) = match req.len() {
        2 => {
            let open = ctx
                .session
                .shared()
                .acl
                .get(DEFAULT_USER)
                .is_some_and(|u| u.nopass());
            if open {
                return Err(CmdError::msg(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (DEFAULT_USER.as_bytes(), req.arg(1))
        }
        3 => (req.arg(1), req.arg(2)),
        _ => return Err(CmdError::Syntax),
    };
    authenticate(ctx, name, password)?;
    ctx.out.ok();
    Ok(Flow::Done)
}

fn sub_arity(sub: &str) -> CmdError {
    CmdError::Arity(format!("acl|{}", sub.to_ascii_lowercase()))
}

fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

fn acl_error(e: acl::AclError) -> CmdError {
    CmdError::msg(format!("ERR {e}"))
}

fn getuser(ctx: &mut Ctx, name: &[u8]) -> R {
    let Some(user) = ctx.session.shared().acl.get(&text(name)) else {
        ctx.out.null();
        return Ok(Flow::Done);
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = user.flags();
    out.array(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(user.passwords().len());
    for p in user.passwords() {
        out.bulk(p.to_hex().as_bytes());
    }
    out.bulk(b"commands");
    out.bulk(user.commands().describe().as_bytes());
    out.bulk(b"keys");
    out.bulk(user.describe_keys().as_bytes());
    out.bulk(b"channels");
    out.bulk(user.describe_channels().as_bytes());
    out.bulk(b"selectors");
    out.array(user.selectors().len());
    for sel in user.selectors() {
        out.map(3);
        out.bulk(b"commands");
        out.bulk(sel.commands().describe().as_bytes());
        out.bulk(b"keys");
        out.bulk(sel.describe_keys().as_bytes());
        out.bulk(b"channels");
        out.bulk(sel.describe_channels().as_bytes());
    }
    Ok(Flow::Done)
}

fn cat(ctx: &mut Ctx, req: &Request) -> R {
    if req.len() == 2 {
        ctx.out.array(acl::category::CATEGORIES.len());
        for c in acl::category::CATEGORIES {
            ctx.out.bulk(c.as_bytes());
        }
        return Ok(Flow::Done);
    }
    let name = text(req.arg(2));
    let Some(index) = acl::category::index(&name) else {
        return Err(CmdError::msg(format!("ERR Unknown category '{name}'")));
    };
    let names: Vec<&str> = acl::category::members(index)
        .map(|i| table().all()[i].name)
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(Flow::Done)
}

fn dryrun(ctx: &mut Ctx, req: &Request) -> R {
    let name = text(req.arg(2));
    let Some(user) = ctx.session.shared().acl.get(&name) else {
        return Err(CmdError::msg(format!("ERR User '{name}' not found")));
    };
    let inner = Request::from_args(&req.args_from(3).collect::<Vec<_>>());
    let Some((index, spec)) = table().lookup(inner.arg(0)) else {
        return Err(CmdError::msg(format!(
            "ERR Command '{}' not found",
            text(inner.arg(0))
        )));
    };
    if !spec.arity_ok(inner.len()) {
        return Err(CmdError::Arity(spec.name.to_string()));
    }
    if spec.has(NO_AUTH) {
        ctx.out.ok();
        return Ok(Flow::Done);
    }
    match user.check(spec, index, &inner) {
        Ok(()) => ctx.out.ok(),
        Err(denied) => ctx.out.bulk(
            denied
                .verbose(user.name(), &full_name(spec, &inner), &inner)
                .as_bytes(),
        ),
    }
    Ok(Flow::Done)
}

fn log(ctx: &mut Ctx, req: &Request) -> R {
    let log = &ctx.session.shared().acl.log;
    let count = match req.get(2) {
        None => 10,
        Some(a) if is(a, "reset") => {
            log.reset();
            ctx.out.ok();
            return Ok(Flow::Done);
        }
        Some(a) => match args::int(a) {
            Ok(n) if n >= 0 => n as usize,
            _ => {
                return Err(CmdError::msg("ERR value is out of range, must be positive"));
            }
        },
    };
    let entries = log.newest(count);
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.map(10);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.name().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.as_bytes());
        out.bulk(b"object");
        out.bulk(e.object.as_bytes());
        out.bulk(b"username");
        out.bulk(e.username.as_bytes());
        out.bulk(b"age-seconds");
        out.bulk(format!("{:.3}", e.age_secs()).as_bytes());
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
        out.bulk(b"entry-id");
        out.int(e.id as i64);
        out.bulk(b"timestamp-created");
        out.int(e.created_ms as i64);
        out.bulk(b"timestamp-last-updated");
        out.int(e.updated_ms as i64);
    }
    Ok(Flow::Done)
}

fn genpass(ctx: &mut Ctx, req: &Request) -> R {
    let bits = match req.get(2) {
        None => 256,
        Some(a) => match args::int(a) {
            Ok(n) if (1..=4096).contains(&n) => n as usize,
            _ => {
                return Err(CmdError::msg(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                ));
            }
        },
    };
    let chars = bits.div_ceil(4);
    let mut s = String::with_capacity(chars + 1);
    while s.len() < chars {
        let _ = write!(s, "{:02x}", rand::random::<u8>());
    }
    s.truncate(chars);
    ctx.out.bulk(s.as_bytes());
    Ok(Flow::Done)
}

const ACL_HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "LOAD",
    "    Reload users from the ACL file.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

fn acl_cmd(ctx: &mut Ctx, req: &Request) -> R {
    let sub = req.arg(1);
    let sub_name = text(sub);
    let n = req.len();
    let acl = &ctx.session.shared().acl;
    if is(sub, "setuser") {
        if n < 3 {
            return Err(sub_arity(&sub_name));
        }
        acl.set_user(&text(req.arg(2)), req.args_from(3))
            .map_err(acl_error)?;
        ctx.out.ok();
    } else if is(sub, "getuser") {
        if n != 3 {
            return Err(sub_arity(&sub_name));
        }
        return getuser(ctx, req.arg(2));
    } else if is(sub, "deluser") {
        if n < 3 {
            return Err(sub_arity(&sub_name));
        }
        let names: Vec<String> = req.args_from(2).map(text).collect();
        let removed = acl
            .delete(names.iter().map(String::as_str))
            .map_err(acl_error)?;
        ctx.out.int(removed as i64);
    } else if is(sub, "list") || is(sub, "users") {
        if n != 2 {
            return Err(sub_arity(&sub_name));
        }
        let users = acl.users();
        ctx.out.array(users.len());
        for u in users {
            if is(sub, "list") {
                ctx.out
                    .bulk(format!("user {} {}", u.name(), u.describe()).as_bytes());
            } else {
                ctx.out.bulk(u.name().as_bytes());
            }
        }
    } else if is(sub, "whoami") {
        if n != 2 {
            return Err(sub_arity(&sub_name));
        }
        let name = ctx.session.identity.user().name().to_string();
        ctx.out.bulk(name.as_bytes());
    } else if is(sub, "cat") {
        if n > 3 {
            return Err(sub_arity(&sub_name));
        }
        return cat(ctx, req);
    } else if is(sub, "dryrun") {
        if n < 4 {
            return Err(sub_arity(&sub_name));
        }
        return dryrun(ctx, req);
    } else if is(sub, "log") {
        if n > 3 {
            return Err(sub_arity(&sub_name));
        }
        return log(ctx, req);
    } else if is(sub, "genpass") {
        if n > 3 {
            return Err(sub_arity(&sub_name));
        }
        return genpass(ctx, req);
    } else if is(sub, "load") || is(sub, "save") {
        if n != 2 {
            return Err(sub_arity(&sub_name));
        }
        let result = if is(sub, "load") {
            acl.load_file()
        } else {
            acl.save_file()
        };
        result.map_err(acl_error)?;
        ctx.out.ok();
    } else if is(sub, "help") && n == 2 {
        ctx.out.help(ACL_HELP);
    } else {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand '{sub_name}'. Try ACL HELP."
        )));
    }
    Ok(Flow::Done)
}

/// The security commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: FAST | NO_AUTH | CONNECTION,
        keys: KeySpec::None,
        handler: auth,
        group: "connection",
        summary: "Authenticates the connection.",
    },
    CommandSpec {
        name: "acl",
        arity: -2,
        flags: ADMIN,
        keys: KeySpec::None,
        handler: acl_cmd,
        group: "server",
        summary: "A container for Access List Control commands.",
    },
];

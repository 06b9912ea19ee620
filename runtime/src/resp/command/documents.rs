//! Document commands: DOC.SET, DOC.GET, DOC.DEL, DOC.INCR, DOC.PUSH — JSON
//! in and out of the automerge document a key holds (`crate::docs` has the
//! path syntax and what each edit does; TTLs are the usual EXPIRE).

use super::args;
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::docs::{DocError, Edit, EditOutcome, Path};
use crate::resp::Request;

type R = Result<Flow, CmdError>;

fn path(arg: &[u8]) -> Result<Path, CmdError> {
    let text = std::str::from_utf8(arg)
        .map_err(|_| DocError::BadPath("a path must be UTF-8".into()))
        .map_err(crate::engine::EngineError::from)?;
    Ok(Path::parse(text).map_err(crate::engine::EngineError::from)?)
}

fn json(arg: &[u8]) -> Result<serde_json::Value, CmdError> {
    serde_json::from_slice(arg)
        .map_err(|e| crate::engine::EngineError::from(DocError::BadJson(e.to_string())).into())
}

fn edit(ctx: &mut Ctx, req: &Request, edit: &Edit) -> Result<EditOutcome, CmdError> {
    Ok(ctx.txn.doc_edit(req.arg(1), edit)?)
}

fn doc_set(ctx: &mut Ctx, req: &Request) -> R {
    let e = Edit::Set {
        path: path(req.arg(2))?,
        value: json(req.arg(3))?,
    };
    edit(ctx, req, &e)?;
    ctx.out.ok();
    Ok(Flow::Done)
}

fn doc_get(ctx: &mut Ctx, req: &Request) -> R {
    let p = match req.get(2) {
        Some(a) => path(a)?,
        None => Path::root(),
    };
    let found = ctx.txn.doc_get(req.arg(1), &p)?;
    ctx.out.bulk_opt(found.as_deref().map(str::as_bytes));
    Ok(Flow::Done)
}

fn doc_del(ctx: &mut Ctx, req: &Request) -> R {
    let e = Edit::Del {
        path: path(req.arg(2))?,
    };
    let removed = matches!(edit(ctx, req, &e)?, EditOutcome::Removed(true));
    ctx.out.int(i64::from(removed));
    Ok(Flow::Done)
}

fn doc_incr(ctx: &mut Ctx, req: &Request) -> R {
    let e = Edit::Incr {
        path: path(req.arg(2))?,
        by: args::int(req.arg(3))?,
    };
    match edit(ctx, req, &e)? {
        EditOutcome::Counter(n) => ctx.out.int(n),
        _ => return Err(CmdError::msg("ERR internal error: unexpected edit outcome")),
    }
    Ok(Flow::Done)
}

fn doc_push(ctx: &mut Ctx, req: &Request) -> R {
    let values = (3..req.len())
        .map(|i| json(req.arg(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let e = Edit::Push {
        path: path(req.arg(2))?,
        values,
    };
    match edit(ctx, req, &e)? {
        EditOutcome::Length(n) => ctx.out.int(n as i64),
        _ => return Err(CmdError::msg("ERR internal error: unexpected edit outcome")),
    }
    Ok(Flow::Done)
}

/// The document commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doc.set", 4, WRITE | DENYOOM, KeySpec::FIRST, doc_set).doc(
        "document",
        "Sets the JSON value at a path of a document, creating the document if the key doesn't exist.",
    ),
    CommandSpec::new("doc.get", -2, READONLY, KeySpec::FIRST, doc_get).doc(
        "document",
        "Returns the JSON value at a path of a document (the whole document by default).",
    ),
    CommandSpec::new("doc.del", 3, WRITE, KeySpec::FIRST, doc_del).doc(
        "document",
        "Removes the value at a path of a document; the root path deletes the key.",
    ),
    CommandSpec::new("doc.incr", 4, WRITE | DENYOOM, KeySpec::FIRST, doc_incr).doc(
        "document",
        "Adds to the counter at a path of a document; concurrent increments in different regions all count.",
    ),
    CommandSpec::new("doc.push", -4, WRITE | DENYOOM, KeySpec::FIRST, doc_push).doc(
        "document",
        "Appends JSON values to the array at a path of a document.",
    ),
];

//! The command table and the dispatcher.
//!
//! Every command is a [`CommandSpec`] in its family's file (`strings.rs`,
//! `hashes.rs`, …): name, arity, flags, which arguments are keys, and a
//! handler. A handler parses its arguments, calls typed operations on the
//! engine's [`Txn`], and writes the answer to [`Reply`]. Handlers hold no
//! command logic beyond argument parsing and reply shaping — semantics live in
//! the engine, so WASM guests get exactly the same behaviour.
//!
//! The dispatcher checks arity, the connection's mode (MULTI queueing, RESP2
//! pub/sub context) and memory, locks the shards of the declared keys, and runs
//! the handler.

pub mod args;
mod bitmaps;
pub mod cluster;
mod connection;
mod copy;
mod debug;
mod diagnostics;
mod documents;
mod dump;
mod functions;
mod geo;
mod hashes;
mod hyperloglog;
mod introspection;
mod keys;
mod lists;
pub mod locks;
mod migrate;
mod monitor;
mod notify;
mod persistence;
mod pubsub;
mod scripting;
mod security;
mod server;
mod sets;
mod sort;
mod strings;
mod transactions;
mod wait;
mod zsets;

pub(crate) use server::allocator_stats;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use smallvec::SmallVec;

pub use connection::COMPAT_VERSION;

use super::{Reply, Request, Session};
use crate::engine::{EngineError, Txn};

/// Command flags (as in Redis's command table).
pub mod flags {
    /// Modifies the keyspace.
    pub const WRITE: u32 = 1 << 0;
    /// Reads only.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory: refused with OOM over `maxmemory`.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Pub/sub command.
    pub const PUBSUB: u32 = 1 << 4;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 5;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 6;
    /// Executes immediately even inside MULTI (EXEC, DISCARD, MULTI, WATCH…).
    pub const NO_QUEUE: u32 = 1 << 7;
    /// Allowed in RESP2 subscriber mode.
    pub const SUBSCRIBED_OK: u32 = 1 << 8;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 9;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u32 = 1 << 10;
    /// Connection-level command (no keyspace access).
    pub const CONNECTION: u32 = 1 << 11;
    /// A blocking command that waits on its first key only; its other keys
    /// are destinations (BLMOVE, BRPOPLPUSH), so pushes there must not wake it.
    pub const BLOCKS_ON_FIRST_KEY: u32 = 1 << 12;
    /// May read keys named by patterns in its arguments (SORT BY/GET): when
    /// a BY or GET pattern contains `*` it runs holding every shard, as
    /// MULTI/EXEC does.
    pub const PATTERN_KEYS: u32 = 1 << 13;
}

/// Which arguments of a command are keys.
#[derive(Clone, Copy)]
pub enum KeySpec {
    /// No keys (or visits shards one at a time itself).
    None,
    /// Arguments `first..=last` every `step`; a negative `last` counts from the
    /// end (-1 = last argument).
    Range {
        /// First key index.
        first: usize,
        /// Last key index (negative: from the end).
        last: i32,
        /// Step between keys.
        step: usize,
    },
    /// Computed from the arguments (numkeys-style commands).
    Custom(fn(&Request) -> Result<SmallVec<[usize; 4]>, CmdError>),
}

impl KeySpec {
    /// Key at argument 1 only (the common case).
    pub const FIRST: KeySpec = KeySpec::Range {
        first: 1,
        last: 1,
        step: 1,
    };
    /// Every argument from 1 on.
    pub const ALL_FROM_1: KeySpec = KeySpec::Range {
        first: 1,
        last: -1,
        step: 1,
    };
    /// Arguments 1 and 2 (source and destination: LMOVE, SMOVE, RENAME, ZRANGESTORE…).
    pub const FIRST_TWO: KeySpec = KeySpec::Range {
        first: 1,
        last: 2,
        step: 1,
    };
    /// Every argument from 1 on but the last, a timeout (BLPOP, BZPOPMIN…).
    pub const ALL_BUT_LAST: KeySpec = KeySpec::Range {
        first: 1,
        last: -2,
        step: 1,
    };

    /// Indices of the key arguments of `req`.
    pub fn indices(&self, req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
        match *self {
            KeySpec::None => Ok(SmallVec::new()),
            KeySpec::Range { first, last, step } => {
                let n = req.len() as i32;
                let last = if last < 0 { n + last } else { last.min(n - 1) };
                let mut out = SmallVec::new();
                let mut i = first as i32;
                while i <= last {
                    out.push(i as usize);
                    i += step as i32;
                }
                Ok(out)
            }
            KeySpec::Custom(f) => f(req),
        }
    }
}

/// What a handler asks the connection to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// The reply is written.
    Done,
    /// Nothing was available: block on the command's keys and retry. Nothing
    /// was written.
    Block(Blocked),
    /// WAIT: the answer waits until enough regions have applied this
    /// region's changes. Nothing was written.
    WaitRegions(RegionWait),
    /// A lock command that may wait (for its turn or for other regions'
    /// votes): the connection awaits [`locks::run`] and writes its answer.
    /// Nothing was written. Only outside MULTI and scripts (the commands
    /// are `NO_MULTI` and refused in scripts).
    Lock(Box<locks::LockCall>),
}

impl Flow {
    /// Where a command cannot wait (inside EXEC or a script), writes the
    /// answer it would give now: a blocking command's timeout reply, WAIT's
    /// current count. Writes nothing for [`Flow::Done`].
    pub fn answer_now(self, out: &mut Reply) {
        match self {
            Flow::Done => {}
            Flow::Block(b) => b.on_timeout.write(out),
            Flow::WaitRegions(w) => out.int(w.acked_now as i64),
            // LOCK.* commands are NO_MULTI and refused in scripts, so they
            // never get here; answer rather than leave the caller without
            // a reply if that ever changes.
            Flow::Lock(_) => out.error("ERR this lock command cannot wait here"),
        }
    }
}

/// What WAIT waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionWait {
    /// This region's change-log position every counted region must have
    /// applied.
    pub position: u64,
    /// How many regions are wanted.
    pub regions: usize,
    /// Longest wait; `None` = forever.
    pub timeout: Option<Duration>,
    /// How many had applied it when WAIT ran.
    pub acked_now: usize,
}

/// How a blocked command waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// Longest wait; `None` = forever.
    pub timeout: Option<Duration>,
    /// Answer on timeout (or at once inside MULTI).
    pub on_timeout: TimeoutReply,
}

/// The answer of a blocking command that timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// Null array (BLPOP, BRPOP, BZPOPMIN…).
    NullArray,
    /// Null bulk string (BLMOVE, BRPOPLPUSH).
    NullBulk,
}

impl TimeoutReply {
    /// Writes the answer.
    pub fn write(self, out: &mut Reply) {
        match self {
            TimeoutReply::NullArray => out.null_array(),
            TimeoutReply::NullBulk => out.null(),
        }
    }
}

/// Everything a handler may touch.
pub struct Ctx<'a, 'e> {
    /// The transaction over the command's keys (or all shards in EXEC).
    pub txn: &'a mut Txn<'e>,
    /// The connection's state.
    pub session: &'a mut Session<'e>,
    /// Where the answer goes.
    pub out: &'a mut Reply,
}

/// A command handler.
pub type Handler = fn(&mut Ctx<'_, '_>, &Request) -> Result<Flow, CmdError>;

/// One command.
pub struct CommandSpec {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum count if negative
    /// (the name counts).
    pub arity: i32,
    /// [`flags`] bits.
    pub flags: u32,
    /// Which arguments are keys.
    pub keys: KeySpec,
    /// The handler.
    pub handler: Handler,
    /// Command group for COMMAND DOCS (`string`, `hash`, …).
    pub group: &'static str,
    /// One-line summary for COMMAND DOCS.
    pub summary: &'static str,
}

impl CommandSpec {
    /// A spec with no COMMAND DOCS text yet (see [`CommandSpec::doc`]).
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        keys: KeySpec,
        handler: Handler,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            keys,
            handler,
            group: "",
            summary: "",
        }
    }

    /// Sets the COMMAND DOCS group and summary.
    pub const fn doc(mut self, group: &'static str, summary: &'static str) -> CommandSpec {
        self.group = group;
        self.summary = summary;
        self
    }

    /// True if the argument count fits the arity.
    pub fn arity_ok(&self, n: usize) -> bool {
        let n = n as i32;
        if self.arity >= 0 {
            n == self.arity
        } else {
            n >= -self.arity
        }
    }
    /// True if `flag` is set.
    #[inline]
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// A command's failure, rendered as a Redis error line.
#[derive(Debug, Clone, PartialEq)]
pub enum CmdError {
    /// An engine error (WRONGTYPE, OOM, …).
    Engine(EngineError),
    /// `ERR syntax error`.
    Syntax,
    /// `ERR value is not an integer or out of range`.
    NotInteger,
    /// `ERR value is not a valid float`.
    NotFloat,
    /// `ERR wrong number of arguments for '<cmd>' command`.
    Arity(String),
    /// Any other error line, verbatim (starting with its code, e.g. `ERR …`).
    Line(Cow<'static, str>),
}

impl CmdError {
    /// An error line given verbatim.
    pub fn msg(line: impl Into<Cow<'static, str>>) -> CmdError {
        CmdError::Line(line.into())
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CmdError::Engine(e) => write!(f, "{e}"),
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Arity(name) => {
                write!(f, "ERR wrong number of arguments for '{name}' command")
            }
            CmdError::Line(l) => f.write_str(l),
        }
    }
}

impl From<EngineError> for CmdError {
    fn from(e: EngineError) -> Self {
        CmdError::Engine(e)
    }
}

/// The command table, looked up by lowercase name.
pub struct CommandTable {
    by_name: HashMap<&'static str, usize>,
    all: Vec<&'static CommandSpec>,
}

impl CommandTable {
    /// The spec of `name` (any case).
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.lookup(name).map(|(_, spec)| spec)
    }

    /// The spec of `name` (any case) and its position in [`CommandTable::all`].
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let index = *std::str::from_utf8(lower)
            .ok()
            .and_then(|n| self.by_name.get(n))?;
        Some((index, self.all[index]))
    }

    /// Every command, sorted by name.
    pub fn all(&self) -> &[&'static CommandSpec] {
        &self.all
    }
}

static TABLE: LazyLock<CommandTable> = LazyLock::new(|| {
    let families: &[&'static [CommandSpec]] = &[
        connection::COMMANDS,
        server::COMMANDS,
        persistence::COMMANDS,
        debug::COMMANDS,
        keys::COMMANDS,
        strings::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        lists::COMMANDS,
        pubsub::COMMANDS,
        transactions::COMMANDS,
        bitmaps::COMMANDS,
        hyperloglog::COMMANDS,
        security::COMMANDS,
        functions::COMMANDS,
        geo::COMMANDS,
        sort::COMMANDS,
        introspection::COMMANDS,
        copy::COMMANDS,
        diagnostics::COMMANDS,
        dump::COMMANDS,
        scripting::COMMANDS,
        documents::COMMANDS,
        monitor::COMMANDS,
        wait::COMMANDS,
        locks::COMMANDS,
        cluster::COMMANDS,
        migrate::COMMANDS,
    ];
    let mut all: Vec<&'static CommandSpec> = families.iter().flat_map(|f| f.iter()).collect();
    all.sort_by_key(|c| c.name);
    let by_name = all.iter().enumerate().map(|(i, c)| (c.name, i)).collect();
    CommandTable { by_name, all }
});

/// The process-wide command table.
pub fn table() -> &'static CommandTable {
    &TABLE
}

/// The error for an unknown command, worded as Redis.
pub fn unknown_command(req: &Request) -> CmdError {
    let name = String::from_utf8_lossy(req.get(0).unwrap_or_default()).into_owned();
    let mut args = String::new();
    for a in req.args_from(1).take(20) {
        args.push('\'');
        args.push_str(&String::from_utf8_lossy(a));
        args.push_str("' ");
    }
    CmdError::msg(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        truncate(&name, 128),
        truncate(&args, 128)
    ))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Runs `spec` for `req` inside an existing transaction (EXEC, and the second
/// half of [`execute`]).
pub fn run_in<'e>(
    spec: &'static CommandSpec,
    txn: &mut Txn<'e>,
    session: &mut Session<'e>,
    out: &mut Reply,
    req: &Request,
) -> Flow {
    let mark = out.len();
    let mut ctx = Ctx { txn, session, out };
    let result = (spec.handler)(&mut ctx, req);
    if spec.has(flags::WRITE) && txn.engine().notifier().active() {
        if result.is_ok() {
            let reply = out.bytes().get(mark..).unwrap_or_default();
            notify::after_command(spec, req, txn, reply);
        } else {
            txn.take_written();
        }
    }
    match result {
        Ok(flow) => flow,
        Err(e) => {
            // A handler may have written part of an aggregate before failing.
            out.truncate(mark);
            session.count_error(&e);
            out.error(&e.to_string());
            Flow::Done
        }
    }
}

/// True if `req` has a BY or GET argument whose pattern names other keys.
fn names_pattern_keys(req: &Request) -> bool {
    (2..req.len().saturating_sub(1)).any(|i| {
        (args::is(req.arg(i), "by") || args::is(req.arg(i), "get"))
            && req.arg(i + 1).contains(&b'*')
    })
}

/// Executes one command outside MULTI: locks its keys' shards and runs it.
pub fn execute<'e>(
    spec: &'static CommandSpec,
    session: &mut Session<'e>,
    out: &mut Reply,
    req: &Request,
) -> Flow {
    let engine = session.engine();
    if spec.has(flags::WRITE)
        && let Err(e) = engine.check_writable()
    {
        let e = CmdError::from(e);
        session.count_error(&e);
        out.error(&e.to_string());
        return Flow::Done;
    }
    if spec.has(flags::DENYOOM)
        && let Err(e) = engine.make_room()
    {
        let e = CmdError::from(e);
        session.count_error(&e);
        out.error(&e.to_string());
        return Flow::Done;
    }
    let keys = match spec.keys.indices(req) {
        Ok(k) => k,
        Err(e) => {
            session.count_error(&e);
            out.error(&e.to_string());
            return Flow::Done;
        }
    };
    let mut txn = match keys.len() {
        _ if spec.has(flags::PATTERN_KEYS) && names_pattern_keys(req) => engine.txn_all(),
        0 => engine.txn_none(),
        1 => engine.txn_one(req.arg(keys[0])),
        _ => engine.txn(keys.iter().map(|&i| req.arg(i))),
    };
    if let Some(route) = session.ask_if_missing.take()
        && let Err(e) = cluster::check_present(&mut txn, &route, keys.iter().map(|&i| req.arg(i)))
    {
        session.count_error(&e);
        out.error(&e.to_string());
        return Flow::Done;
    }
    run_in(spec, &mut txn, session, out, req)
}

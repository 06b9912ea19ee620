//! `Vm`: the one Lua 5.1 interpreter scripts run in, its sandbox, the
//! compiled scripts by SHA1, and one run of a script from start to reply.
//!
//! It owns Lua-side concerns only (sandbox, hooks, error shaping). Commands a
//! script calls go through [`super::call`], which dispatches them through the
//! RESP command table against the caller's transaction; it must not touch
//! the keyspace in any other way.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use mlua::{
    Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic, VmState,
};

use mlua::chunk::ChunkMode;

use super::control::ScriptControl;
use super::shebang::{self, Shebang};
use super::{ScriptError, Sha, convert};
use crate::resp::Reply;
use crate::resp::frame::Frame;

/// The chunk name Redis gives scripts (errors read `user_script:1: …`).
const CHUNK_NAME: &str = "@user_script";

/// The chunk name of the sandbox's own Lua code.
const SANDBOX_NAME: &str = "=sandbox";

/// Lua instructions between two checks of the kill flag (as Redis).
const HOOK_EVERY: u32 = 100_000;

/// The message a killed script ends with.
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// What `redis.call` needs from the script's caller for one run.
pub trait Dispatch {
    /// Runs one command for the script: `Ok(frame)` is its reply, decoded.
    fn call(&mut self, args: Vec<Vec<u8>>, resp3: bool) -> Result<Frame, String>;
    /// True if the script runs read-only (EVAL_RO, EVALSHA_RO).
    fn read_only(&self) -> bool;
    /// Makes the script read-only (shebang `flags=no-writes`).
    fn deny_writes(&mut self);
}

/// Per-run settings the static callbacks read.
#[derive(Debug, Default)]
struct RunState {
    /// `redis.setresp`: 2 or 3.
    resp: AtomicU8,
}

/// A Lua interpreter with Redis's sandbox and the scripts loaded so far.
pub struct Vm {
    lua: Lua,
    /// The real `redis` table (scripts see it through a read-only proxy).
    redis: Table,
    globals: Table,
    env: Table,
    xpcall: Function,
    handler: Function,
    run: Arc<RunState>,
    /// Compiled scripts and their shebang, if they have one.
    scripts: HashMap<Sha, (Function, Option<Shebang>)>,
}

impl Vm {
    /// A fresh interpreter whose scripts answer to `control`'s kill flag.
    pub fn new(control: Arc<ScriptControl>) -> Result<Vm, mlua::Error> {
        // Lua 5.1's base library includes `coroutine`.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        let run = Arc::new(RunState {
            resp: AtomicU8::new(2),
        });
        let bridge = lua.create_table()?;
        let killer = control.clone();
        bridge.set(
            "killed",
            lua.create_function(move |_, ()| Ok(killer.killed()))?,
        )?;
        let resp = run.clone();
        bridge.set(
            "setresp",
            lua.create_function(move |_, args: Variadic<Value>| {
                if args.len() != 1 {
                    return raise("ERR redis.setresp() requires one argument.");
                }
                match number(&args[0]) {
                    Some(v) if v == 2.0 || v == 3.0 => {
                        resp.resp.store(v as u8, Ordering::Relaxed);
                        Ok(())
                    }
                    _ => raise("ERR RESP version must be 2 or 3."),
                }
            })?,
        )?;
        bridge.set("log", lua.create_function(log)?)?;
        bridge.set(
            "sha1hex",
            lua.create_function(|lua, args: Variadic<Value>| {
                if args.len() != 1 {
                    return raise("ERR wrong number of arguments");
                }
                let text = text_of(lua, &args[0])?.unwrap_or_default();
                Ok(super::sha1_hex(&text))
            })?,
        )?;
        bridge.set(
            "set_repl",
            lua.create_function(|_, args: Variadic<Value>| {
                if args.len() != 1 {
                    return raise("ERR redis.set_repl() requires one argument.");
                }
                // Every write replicates as its effect; the flags are checked
                // as Redis checks them and otherwise change nothing.
                match number(&args[0]) {
                    Some(f) if (0.0..=3.0).contains(&f) && f.fract() == 0.0 => Ok(()),
                    _ => raise(
                        "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                    ),
                }
            })?,
        )?;
        bridge.set(
            "message",
            lua.create_function(|_, e: Value| {
                Ok(match e {
                    Value::Error(e) => Some(runtime_message(&e)),
                    _ => None,
                })
            })?,
        )?;
        bridge.set(
            "raised",
            lua.create_function(|_, e: Value| {
                Ok(match e {
                    Value::Error(e) => raised_message(&e).map(str::to_string),
                    _ => None,
                })
            })?,
        )?;
        bridge.set("bit", super::bit::library(&lua)?)?;
        bridge.set("cjson", super::cjson::library(&lua)?)?;
        bridge.set("cmsgpack", super::cmsgpack::library(&lua)?)?;
        bridge.set("struct", super::luastruct::library(&lua)?)?;
        let version = crate::resp::command::COMPAT_VERSION;
        bridge.set("version", version)?;
        bridge.set("version_num", version_num(version))?;
        let (globals, env, redis): (Table, Table, Table) = lua
            .load(include_str!("sandbox.lua"))
            .set_name(SANDBOX_NAME)
            .call(bridge.clone())?;
        let xpcall: Function = lua.globals().get("xpcall")?;
        let handler = lua.create_function(error_handler)?;
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if control.killed() {
                    Err(mlua::Error::runtime(KILLED))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )?;
        Ok(Vm {
            lua,
            redis,
            globals,
            env,
            xpcall,
            handler,
            run,
            scripts: HashMap::new(),
        })
    }

    /// True if a script with this SHA1 is loaded.
    pub fn exists(&self, sha: &Sha) -> bool {
        self.scripts.contains_key(sha)
    }

    /// Compiles `source` (if not loaded yet) and remembers it by `sha`.
    pub fn load(&mut self, sha: Sha, source: &[u8]) -> Result<(), ScriptError> {
        if self.scripts.contains_key(&sha) {
            return Ok(());
        }
        let (flags, body) = match shebang::parse(source).map_err(ScriptError::Compile)? {
            Some((flags, skip)) => (Some(flags), &source[skip..]),
            None => (None, source),
        };
        let f = self
            .lua
            .load(body)
            .set_name(CHUNK_NAME)
            .set_mode(ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| ScriptError::Compile(compile_message(&e)))?;
        self.scripts.insert(sha, (f, flags));
        Ok(())
    }

    /// Runs the loaded script `sha` with `keys` and `argv`, dispatching its
    /// commands to `dispatch`, and writes its answer to `out`.
    pub fn run(
        &mut self,
        sha: &Sha,
        keys: &[&[u8]],
        argv: &[&[u8]],
        control: &ScriptControl,
        dispatch: &mut dyn Dispatch,
        out: &mut Reply,
    ) -> Result<(), ScriptError> {
        let Some((f, flags)) = self.scripts.get(sha).cloned() else {
            return Err(ScriptError::NoScript);
        };
        match flags {
            Some(f) if f.no_writes => dispatch.deny_writes(),
            // A shebang without `no-writes` declares a writing script.
            Some(_) if dispatch.read_only() => {
                return Err(ScriptError::Refused(
                    "ERR Can not execute a script with write flag using *_ro command.",
                ));
            }
            _ => {}
        }
        self.run.resp.store(2, Ordering::Relaxed);
        self.globals.raw_set("KEYS", self.string_array(keys)?)?;
        self.globals.raw_set("ARGV", self.string_array(argv)?)?;
        let run = self.run.clone();
        let dispatch = RefCell::new(dispatch);
        let resp3 = || run.resp.load(Ordering::Relaxed) == 3;
        let result = self.lua.scope(|scope| {
            let call = scope.create_function(|lua, args: Variadic<Value>| {
                match call_command(lua, args, resp3(), &dispatch)? {
                    Ok(v) => Ok(v),
                    Err(line) => raise(line),
                }
            })?;
            let pcall =
                scope.create_function(|lua, args: Variadic<Value>| {
                    match call_command(lua, args, resp3(), &dispatch)? {
                        Ok(v) => Ok(v),
                        Err(line) => convert::error_table(lua, line.as_bytes()),
                    }
                })?;
            self.redis.raw_set("call", call)?;
            self.redis.raw_set("pcall", pcall)?;
            let result = self.xpcall.call::<MultiValue>((f, self.handler.clone()));
            self.redis.raw_set("call", Value::Nil)?;
            self.redis.raw_set("pcall", Value::Nil)?;
            result
        });
        let resp3 = self.run.resp.load(Ordering::Relaxed) == 3;
        let mut values = result?.into_iter();
        let ok = matches!(values.next(), Some(Value::Boolean(true)));
        let value = values.next().unwrap_or(Value::Nil);
        if ok {
            convert::lua_to_reply(&value, resp3, out)?;
            return Ok(());
        }
        let (msg, position) = error_parts(&value);
        let msg = if control.killed() {
            KILLED.to_string()
        } else {
            msg
        };
        let line = match position {
            Some((source, line)) => format!("{msg} script: {}, on {source}:{line}.", sha.as_str()),
            None => msg,
        };
        out.error(&line);
        Ok(())
    }

    fn string_array(&self, items: &[&[u8]]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }

    /// Bytes the interpreter holds.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Scripts in the cache.
    pub fn cached(&self) -> usize {
        self.scripts.len()
    }

    /// Reclaims memory after a script (Redis runs a GC step per call too).
    pub fn collect(&self) {
        let _ = self.lua.gc_step();
    }
}

/// Runs one `redis.call`: `Ok(Ok(reply))`, or `Ok(Err(error line))` for
/// `redis.call` to raise and `redis.pcall` to return as `{err = …}`.
fn call_command(
    lua: &Lua,
    args: Variadic<Value>,
    resp3: bool,
    dispatch: &RefCell<&mut dyn Dispatch>,
) -> mlua::Result<Result<Value, String>> {
    if args.is_empty() {
        return Ok(Err(
            "ERR Please specify at least one argument for this redis lib call".into(),
        ));
    }
    let mut argv = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            Value::String(_) | Value::Integer(_) | Value::Number(_) => {
                argv.push(text_of(lua, a)?.unwrap_or_default());
            }
            _ => {
                return Ok(Err(
                    "ERR Lua redis lib command arguments must be strings or integers".into(),
                ));
            }
        }
    }
    let Ok(mut dispatch) = dispatch.try_borrow_mut() else {
        return Ok(Err("ERR redis.call cannot be called from itself".into()));
    };
    Ok(match dispatch.call(argv, resp3) {
        Ok(Frame::Error(e)) | Ok(Frame::BulkError(e)) => {
            Err(String::from_utf8_lossy(&e).into_owned())
        }
        Ok(frame) => Ok(convert::frame_to_lua(lua, frame, resp3)?),
        Err(line) => Err(line),
    })
}

/// An error line raised from Rust into the script, as Redis raises
/// `{err = line}`: the handler and pcall turn it back into that.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Raised(String);

fn raise<T>(line: impl Into<String>) -> mlua::Result<T> {
    Err(mlua::Error::external(Raised(line.into())))
}

/// The line of a [`Raised`] error, however mlua wrapped it.
fn raised_message(e: &mlua::Error) -> Option<&str> {
    match e {
        mlua::Error::CallbackError { cause, .. } => raised_message(cause),
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<Raised>().map(|r| r.0.as_str()),
        _ => None,
    }
}

/// An error from a library function (cjson…) as Lua's `luaL_error` words
/// it: prefixed with the calling script's position (`user_script:1: …`).
pub(super) fn located_error(lua: &Lua, msg: &str) -> mlua::Error {
    let position = lua
        .inspect_stack(1, |d| {
            let short = d.source().short_src.map(|s| s.into_owned());
            short.zip(d.current_line())
        })
        .flatten();
    match position {
        Some((src, line)) => mlua::Error::runtime(format!("{src}:{line}: {msg}")),
        None => mlua::Error::runtime(msg),
    }
}

/// A string or number argument as the bytes Lua would convert it to
/// (numbers as `%.14g`); `None` for other types.
fn text_of(lua: &Lua, v: &Value) -> mlua::Result<Option<Vec<u8>>> {
    Ok(match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => {
            lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
        }
        _ => None,
    })
}

/// A number or numeric string as Lua's `tonumber` reads it.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// `redis.log(level, message…)`: to the server log, Redis's checks first.
fn log(lua: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    if args.len() < 2 {
        return raise("ERR redis.log() requires two arguments or more.");
    }
    let level = match &args[0] {
        Value::Integer(_) | Value::Number(_) => number(&args[0]).unwrap_or(-1.0),
        _ => return raise("ERR First argument must be a number"),
    };
    if !(0.0..=3.0).contains(&level) {
        return raise("ERR Invalid debug level.");
    }
    let mut parts = Vec::new();
    for a in &args[1..] {
        if let Some(t) = text_of(lua, a)? {
            parts.push(String::from_utf8_lossy(&t).into_owned());
        }
    }
    let msg = parts.join(" ");
    match level as u8 {
        0 | 1 => tracing::debug!(target: "meridian::lua", "{msg}"),
        2 => tracing::info!(target: "meridian::lua", "{msg}"),
        _ => tracing::warn!(target: "meridian::lua", "{msg}"),
    }
    Ok(())
}

/// The xpcall handler, as Redis 7's `__redis__err__handler`: turns any error
/// into `{err = …}` (a non-table error becomes `ERR <text>`) and records
/// where in the user's script it happened.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let table = match err {
        Value::Table(t) => t,
        other => {
            let msg = match &other {
                Value::Error(e) => raised_message(e).map(str::to_string),
                _ => None,
            }
            .unwrap_or_else(|| format!("ERR {}", describe(lua, &other)));
            let t = lua.create_table()?;
            t.raw_set("err", msg)?;
            t
        }
    };
    // Where it happened: the innermost Lua frame, as Redis's handler finds
    // it, past C functions, tail calls and the sandbox's own wrappers.
    for level in 1.. {
        let Some(frame) = lua.inspect_stack(level, |d| {
            let src = d.source();
            let source = src.source.map(|s| s.into_owned());
            (src.what, source, d.current_line())
        }) else {
            break;
        };
        if let (what, Some(source), Some(line)) = frame
            && what != "C"
            && what != "tail"
            && source != SANDBOX_NAME
        {
            table.raw_set("source", source)?;
            table.raw_set("line", line)?;
            break;
        }
    }
    Ok(Value::Table(table))
}

/// `tostring` of an error value as Lua would print it.
fn describe(lua: &Lua, v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default(),
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Error(e) => runtime_message(e),
        other => other.type_name().to_string(),
    }
}

/// The message of an error raised in Rust code (a hook or a callback), without
/// mlua's wrapping.
fn runtime_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => runtime_message(cause),
        other => other.to_string(),
    }
}

/// The message and position of a failed script's error table.
fn error_parts(v: &Value) -> (String, Option<(String, i64)>) {
    let Value::Table(t) = v else {
        return ("ERR unknown error".into(), None);
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR unknown error".into(),
    };
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    (msg, source.zip(line))
}

/// Redis's wording of a compile error.
fn compile_message(e: &mlua::Error) -> String {
    let detail = match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => runtime_message(other),
    };
    format!("ERR Error compiling script (new function): {detail}")
}

/// `7.0.15` → `0x00070f`, as `redis.REDIS_VERSION_NUM`.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0, |acc, p| (acc << 8) | p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_number_packs_like_redis() {
        assert_eq!(version_num("7.0.15"), 0x07000f);
    }
}

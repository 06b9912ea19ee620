//! Redis's conversion rules between RESP replies and Lua values, both ways.
//!
//! RESP → Lua (what `redis.call` returns): integers become numbers, bulk
//! strings strings, arrays tables, a status `{ok=…}`, an error `{err=…}`, a
//! RESP2 null `false`. With `redis.setresp(3)` the RESP3 types come through as
//! Redis gives them: null → `nil`, booleans, `{double=…}`, `{map=…}`,
//! `{set=…}`, `{big_number=…}`, `{verbatim_string={format=…, string=…}}`.
//!
//! Lua → RESP (what the script returns): numbers are truncated to integers,
//! `false` and `nil` are null, `true` is 1 (or a RESP3 boolean under
//! `setresp(3)`), a table with a string `err`/`ok` field is an error/status,
//! `double`/`map`/`set`/`big_number`/`verbatim_string` tables are the RESP3
//! types, and any other table is an array that stops at its first `nil`.
//!
//! This module only converts; it runs nothing.

use mlua::{Lua, Table, Value};

use crate::resp::frame::Frame;
use crate::resp::{Proto, Reply};

/// Deepest table nesting a script may return (Redis stops at the Lua stack
/// limit; a table containing itself would otherwise never end). The same
/// bound as replies decoded for `redis.call`, and shallow enough for a
/// worker thread's stack.
const MAX_DEPTH: usize = crate::resp::frame::FrameLimits::DEFAULT.max_depth;

/// Error for a reply nested deeper than [`MAX_DEPTH`] (Redis's wording).
const STACK_LIMIT: &str = "ERR reached lua stack limit";

/// A C cast of a double to `long long` as Redis does it on x86-64: NaN and
/// out-of-range values give `i64::MIN`, others truncate toward zero.
pub fn truncate_number(n: f64) -> i64 {
    // 2^63 exactly: every double at or past it does not fit (nor NaN,
    // which is in no range).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Converts a command's reply, decoded from what its handler wrote, into the
/// Lua value `redis.call` returns. `resp3` is the script's `redis.setresp`.
pub fn frame_to_lua(lua: &Lua, frame: Frame, resp3: bool) -> mlua::Result<Value> {
    Ok(match frame {
        Frame::Simple(s) => single_field(lua, "ok", Value::String(lua.create_string(&s)?))?,
        Frame::Error(s) | Frame::BulkError(s) => error_table(lua, &s)?,
        Frame::Integer(i) => Value::Number(i as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
        Frame::NullBulk | Frame::NullArray => Value::Boolean(false),
        Frame::Null => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua(lua, item, resp3)?)?;
            }
            Value::Table(t)
        }
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::Double(d) => single_field(lua, "double", Value::Number(d))?,
        Frame::BigNumber(n) => {
            single_field(lua, "big_number", Value::String(lua.create_string(&n)?))?
        }
        Frame::Verbatim { format, text } => {
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(&text)?)?;
            single_field(lua, "verbatim_string", Value::Table(inner))?
        }
        Frame::Map(pairs) => {
            let inner = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                inner.raw_set(frame_to_lua(lua, k, resp3)?, frame_to_lua(lua, v, resp3)?)?;
            }
            single_field(lua, "map", Value::Table(inner))?
        }
        Frame::Set(members) => {
            let inner = lua.create_table_with_capacity(0, members.len())?;
            for m in members {
                inner.raw_set(frame_to_lua(lua, m, resp3)?, true)?;
            }
            single_field(lua, "set", Value::Table(inner))?
        }
        Frame::Attribute { data, .. } => frame_to_lua(lua, *data, resp3)?,
    })
}

/// `{err = msg}`: how Redis hands a command error to Lua.
pub fn error_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Value> {
    single_field(lua, "err", Value::String(lua.create_string(msg)?))
}

fn single_field(lua: &Lua, name: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, v)?;
    Ok(Value::Table(t))
}

/// Writes the script's return value to the client. `resp3` is the script's
/// `redis.setresp` (it decides how booleans are written); null and the
/// aggregates follow the client's own protocol, as in Redis.
pub fn lua_to_reply(v: &Value, resp3: bool, out: &mut Reply) -> mlua::Result<()> {
    let mark = out.len();
    if let Err(e) = write_value(v, resp3, out, 0) {
        out.truncate(mark);
        match e {
            Nested::TooDeep => out.error(STACK_LIMIT),
            Nested::Lua(e) => return Err(e),
        }
    }
    Ok(())
}

enum Nested {
    TooDeep,
    Lua(mlua::Error),
}

impl From<mlua::Error> for Nested {
    fn from(e: mlua::Error) -> Self {
        Nested::Lua(e)
    }
}

fn write_value(v: &Value, resp3: bool, out: &mut Reply, depth: usize) -> Result<(), Nested> {
    if depth > MAX_DEPTH {
        return Err(Nested::TooDeep);
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(truncate_number(*n)),
        Value::Table(t) => write_table(t, resp3, out, depth)?,
        // nil, functions, userdata…: Redis answers null for anything else.
        _ => out.null(),
    }
    Ok(())
}

fn write_table(t: &Table, resp3: bool, out: &mut Reply, depth: usize) -> Result<(), Nested> {
    if let Value::String(e) = t.raw_get::<Value>("err")? {
        let msg = e.as_bytes();
        out.error(&String::from_utf8_lossy(&msg));
        return Ok(());
    }
    if let Value::String(s) = t.raw_get::<Value>("ok")? {
        out.simple(&status_text(&s.as_bytes()));
        return Ok(());
    }
    if let Value::Number(d) = t.raw_get::<Value>("double")? {
        out.double(d);
        return Ok(());
    }
    if let Value::Integer(d) = t.raw_get::<Value>("double")? {
        out.double(d as f64);
        return Ok(());
    }
    if let Value::String(n) = t.raw_get::<Value>("big_number")? {
        let text = status_text(&n.as_bytes());
        match out.proto() {
            Proto::Resp2 => out.bulk(text.as_bytes()),
            Proto::Resp3 => out.big_number(&text),
        }
        return Ok(());
    }
    if let Value::Table(m) = t.raw_get::<Value>("map")? {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().collect::<Result<_, _>>()?;
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(k, resp3, out, depth + 1)?;
            write_value(v, resp3, out, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(s) = t.raw_get::<Value>("set")? {
        let members: Vec<Value> = s
            .pairs::<Value, Value>()
            .map(|p| p.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        out.set(members.len());
        for m in &members {
            write_value(m, resp3, out, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(v) = t.raw_get::<Value>("verbatim_string")?
        && let (Value::String(format), Value::String(text)) =
            (v.raw_get::<Value>("format")?, v.raw_get::<Value>("string")?)
    {
        out.verbatim_with(&format.as_bytes(), &text.as_bytes());
        return Ok(());
    }
    // An array: elements 1, 2, … up to the first nil.
    let mut items = Vec::new();
    loop {
        let item = t.raw_get::<Value>(items.len() + 1)?;
        if item.is_nil() {
            break;
        }
        items.push(item);
    }
    out.array(items.len());
    for item in &items {
        write_value(item, resp3, out, depth + 1)?;
    }
    Ok(())
}

/// A status or big-number line with CR and LF turned into spaces, as Redis
/// does, so the reply stays one line.
fn status_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lua: &Lua, code: &str, resp3: bool, proto: Proto) -> String {
        let v: Value = lua.load(code).eval().expect("script");
        let mut out = Reply::new(proto);
        lua_to_reply(&v, resp3, &mut out).expect("convert");
        String::from_utf8_lossy(out.bytes()).into_owned()
    }

    #[test]
    fn numbers_truncate_like_a_c_cast() {
        assert_eq!(truncate_number(3.99), 3);
        assert_eq!(truncate_number(-3.99), -3);
        assert_eq!(truncate_number(-0.5), 0);
        assert_eq!(truncate_number(1e20), i64::MIN);
        assert_eq!(truncate_number(f64::NAN), i64::MIN);
        assert_eq!(truncate_number(f64::INFINITY), i64::MIN);
    }

    #[test]
    fn lua_values_become_redis_replies() {
        let lua = Lua::new();
        let r2 = Proto::Resp2;
        // Expected bytes as redis-server 7.0 answers the same scripts.
        assert_eq!(reply(&lua, "return 3.99", false, r2), ":3\r\n");
        assert_eq!(reply(&lua, "return true", false, r2), ":1\r\n");
        assert_eq!(reply(&lua, "return false", false, r2), "$-1\r\n");
        assert_eq!(
            reply(&lua, "return {1,2,nil,4}", false, r2),
            "*2\r\n:1\r\n:2\r\n"
        );
        assert_eq!(
            reply(&lua, "return {1,false,3}", false, r2),
            "*3\r\n:1\r\n$-1\r\n:3\r\n"
        );
        assert_eq!(
            reply(&lua, "return {err='My Error'}", false, r2),
            "-My Error\r\n"
        );
        assert_eq!(reply(&lua, "return {ok='FINE'}", false, r2), "+FINE\r\n");
        assert_eq!(reply(&lua, "return {err=5}", false, r2), "*0\r\n");
        assert_eq!(
            reply(&lua, "return {double=3.5}", false, r2),
            "$3\r\n3.5\r\n"
        );
        assert_eq!(
            reply(&lua, "return {map={a=1}}", false, r2),
            "*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            reply(
                &lua,
                "return {verbatim_string={format='txt', string='hello'}}",
                false,
                r2
            ),
            "$5\r\nhello\r\n"
        );
        assert_eq!(
            reply(&lua, "local t = {} t[1] = t return t", false, r2),
            "-ERR reached lua stack limit\r\n"
        );
    }

    #[test]
    fn resp3_types_follow_setresp_and_the_client_protocol() {
        let lua = Lua::new();
        let r3 = Proto::Resp3;
        assert_eq!(reply(&lua, "return false", false, r3), "_\r\n");
        assert_eq!(reply(&lua, "return true", false, r3), ":1\r\n");
        assert_eq!(reply(&lua, "return false", true, r3), "#f\r\n");
        assert_eq!(reply(&lua, "return true", true, Proto::Resp2), ":1\r\n");
        assert_eq!(reply(&lua, "return false", true, Proto::Resp2), ":0\r\n");
        assert_eq!(reply(&lua, "return {double=3.5}", false, r3), ",3.5\r\n");
        assert_eq!(
            reply(&lua, "return {map={a=1}}", false, r3),
            "%1\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            reply(&lua, "return {set={a=true}}", false, r3),
            "~1\r\n$1\r\na\r\n"
        );
        assert_eq!(
            reply(
                &lua,
                "return {big_number='123456789012345678901234567890'}",
                false,
                r3
            ),
            "(123456789012345678901234567890\r\n"
        );
        assert_eq!(
            reply(
                &lua,
                "return {verbatim_string={format='txt', string='hello'}}",
                false,
                r3
            ),
            "=9\r\ntxt:hello\r\n"
        );
    }

    #[test]
    fn replies_become_lua_values() {
        let lua = Lua::new();
        let f = |frame: Frame, resp3: bool| -> String {
            let v = frame_to_lua(&lua, frame, resp3).expect("convert");
            let show: mlua::Function = lua
                .load(
                    "local function show(v) if type(v) ~= 'table' then return type(v) .. ':' .. tostring(v) end \
                     local keys = {} for k in pairs(v) do keys[#keys + 1] = tostring(k) end table.sort(keys) \
                     local parts = {} for _, k in ipairs(keys) do local key = tonumber(k) or k \
                     parts[#parts + 1] = k .. '=' .. show(v[key]) end return '{' .. table.concat(parts, ',') .. '}' end \
                     return show",
                )
                .eval()
                .expect("show");
            show.call::<String>(v).expect("show")
        };
        assert_eq!(f(Frame::Integer(7), false), "number:7");
        assert_eq!(f(Frame::NullBulk, false), "boolean:false");
        assert_eq!(f(Frame::Null, true), "nil:nil");
        assert_eq!(f(Frame::simple("OK"), false), "{ok=string:OK}");
        assert_eq!(f(Frame::error("ERR x"), false), "{err=string:ERR x}");
        assert_eq!(
            f(Frame::Array(vec![Frame::bulk("a"), Frame::NullBulk]), false),
            "{1=string:a,2=boolean:false}"
        );
        assert_eq!(f(Frame::Double(1.5), true), "{double=number:1.5}");
        assert_eq!(f(Frame::Boolean(true), true), "boolean:true");
        assert_eq!(
            f(Frame::Map(vec![(Frame::bulk("a"), Frame::bulk("1"))]), true),
            "{map={a=string:1}}"
        );
        assert_eq!(
            f(Frame::Set(vec![Frame::bulk("m")]), true),
            "{set={m=boolean:true}}"
        );
    }
}

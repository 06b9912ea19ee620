//! The `cjson` library Redis scripts get: `cjson.encode`, `cjson.decode` and
//! `cjson.null`, with lua-cjson 2.1's default behaviour as Redis ships it —
//! numbers as `%.14g`, `/` escaped, a table is an array when its keys are
//! 1..n (holes become `null`, unless the array is "excessively sparse"), an
//! empty table is `{}`, nesting stops at 1000.
//!
//! Decoding parses with `serde_json`; its error messages, not lua-cjson's,
//! describe malformed input. This module only converts values.

use mlua::{LightUserData, Lua, Table, Value};

/// Deepest nesting encoded or decoded. lua-cjson allows 1000; we stop at
/// serde_json's own decoding limit, which also keeps the recursion within a
/// worker thread's stack.
const MAX_DEPTH: usize = 128;

/// lua-cjson's default sparse-array settings: an array whose largest index
/// exceeds both `ratio` times its element count and `safe` is refused.
const SPARSE_RATIO: usize = 2;
const SPARSE_SAFE: usize = 10;

/// Builds the `cjson` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            match encode(lua, &v, 0, &mut out) {
                Ok(()) => lua.create_string(&out),
                Err(msg) => Err(super::vm::located_error(lua, &msg)),
            }
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, text: mlua::LuaString| {
            let bytes = text.as_bytes();
            let parsed: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                super::vm::located_error(
                    lua,
                    &format!("Expected value but found invalid token: {e}"),
                )
            })?;
            decode(lua, parsed, 0)
        })?,
    )?;
    t.set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn encode(lua: &Lua, v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(_) | Value::Number(_) => encode_number(lua, v, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => encode_table(lua, t, depth + 1, out)?,
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn encode_number(lua: &Lua, v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    if number_of(v).is_some_and(|n| !n.is_finite()) {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    // Lua's own number formatting is `%.14g`, lua-cjson's default precision.
    let text = lua
        .coerce_string(v.clone())
        .map_err(|e| e.to_string())?
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_default();
    out.extend_from_slice(&text);
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// `Some(n)`: an array of length n; `None`: an object.
fn array_length(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        match number_of(&k) {
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => {
                max = max.max(n as usize);
                items += 1;
            }
            _ => return Ok(None),
        }
    }
    if max > items * SPARSE_RATIO && max > SPARSE_SAFE {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn encode_table(lua: &Lua, t: &Table, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("Cannot serialise, excessive nesting ({depth})"));
    }
    match array_length(t)? {
        Some(n) if n > 0 => {
            out.push(b'[');
            for i in 1..=n {
                if i > 1 {
                    out.push(b',');
                }
                let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                encode(lua, &v, depth, out)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|e| e.to_string())?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &k {
                    Value::String(s) => encode_string(&s.as_bytes(), out),
                    Value::Integer(_) | Value::Number(_) => {
                        out.push(b'"');
                        encode_number(lua, &k, out)?;
                        out.push(b'"');
                    }
                    other => {
                        return Err(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            other.type_name()
                        ));
                    }
                }
                out.push(b':');
                encode(lua, &v, depth, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn decode(lua: &Lua, v: serde_json::Value, depth: usize) -> mlua::Result<Value> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err(super::vm::located_error(
            lua,
            &format!("Found too many nested data structures ({depth})"),
        ));
    }
    Ok(match v {
        J::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
        J::Bool(b) => Value::Boolean(b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(lua.create_string(&s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, decode(lua, item, depth + 1)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(k, decode(lua, item, depth + 1)?)?;
            }
            Value::Table(t)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        let lua = Lua::new();
        lua.globals()
            .set("cjson", library(&lua).expect("cjson"))
            .expect("set");
        match lua.load(code).eval::<String>() {
            Ok(s) => s,
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn encodes_like_lua_cjson_in_redis() {
        // Expected values: redis-server 7.0 answering the same scripts.
        assert_eq!(
            eval(r#"return cjson.encode({1,2,3,"a/b",{x=1}})"#),
            r#"[1,2,3,"a\/b",{"x":1}]"#
        );
        assert_eq!(eval("return cjson.encode({})"), "{}");
        assert_eq!(eval("return cjson.encode({[1]=1,[3]=3})"), "[1,null,3]");
        assert_eq!(eval("return cjson.encode({[1]=1,x=2})"), r#"{"1":1,"x":2}"#);
        assert_eq!(eval("return cjson.encode({[1.5]=1})"), r#"{"1.5":1}"#);
        assert_eq!(
            eval("return cjson.encode(123456789012345)"),
            "1.2345678901234e+14"
        );
        assert_eq!(eval("return cjson.encode(1e20)"), "1e+20");
        assert_eq!(
            eval(r#"return cjson.encode("a\"\n\1é")"#),
            "\"a\\\"\\n\\u0001é\""
        );
        assert_eq!(eval("return cjson.encode({a=cjson.null})"), r#"{"a":null}"#);
        for (code, msg) in [
            (
                "return cjson.encode({[1]=1,[20]=3})",
                "Cannot serialise table: excessively sparse array",
            ),
            (
                "return cjson.encode(function() end)",
                "Cannot serialise function: type not supported",
            ),
            (
                "return cjson.encode(0/0)",
                "Cannot serialise number: must not be NaN or Inf",
            ),
            (
                "local t = {} t[1] = t return cjson.encode(t)",
                "Cannot serialise, excessive nesting (129)",
            ),
            (
                "return cjson.encode({[true]=1})",
                "Cannot serialise boolean: table key must be a number or string",
            ),
        ] {
            let got = eval(code);
            assert!(got.contains(msg), "{code}: {got}");
        }
    }

    #[test]
    fn decodes_into_lua_values() {
        assert_eq!(
            eval(
                r#"local t = cjson.decode('{"a":[1,2,{"b":null}],"c":1.5}')
                   return t.a[1] .. ',' .. t.a[2] .. ',' .. tostring(t.a[3].b == cjson.null) .. ',' .. t.c"#
            ),
            "1,2,true,1.5"
        );
        assert_eq!(eval(r#"return cjson.decode('"\\u00e9"')"#), "é");
        assert!(eval("return cjson.decode('[1,')").starts_with("error:"));
    }
}

//! The `cmsgpack` library Redis scripts get (lua-cmsgpack 0.4's API):
//! `pack(...)`, `unpack(s)`, `unpack_one(s [, offset])`,
//! `unpack_limit(s, limit [, offset])`, encoding as lua-cmsgpack does —
//! integral numbers in the smallest integer form, others as float32 when
//! exact, else float64; a table is an array when its keys are exactly 1..n,
//! else a map; tables nested deeper than 16 levels are packed as nil.
//!
//! It only converts between Lua values and MessagePack bytes.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`.
const MAX_NESTING: usize = 16;

/// Builds the `cmsgpack` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(super::vm::located_error(
                    lua,
                    "MessagePack pack needs input.",
                ));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                pack(a, 0, &mut out).map_err(|e| super::vm::located_error(lua, &e))?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let (values, _) = unpack_many(lua, &bytes, 0, usize::MAX)?;
            Ok(MultiValue::from_iter(values))
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::LuaString, Option<i64>)| {
            limited(lua, &s.as_bytes(), 1, offset)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::LuaString, i64, Option<i64>)| {
                let limit = if limit <= 0 {
                    usize::MAX
                } else {
                    limit as usize
                };
                limited(lua, &s.as_bytes(), limit, offset)
            },
        )?,
    )?;
    t.set("_NAME", "lua-cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}

/// `unpack_limit`: the offset after what was read (-1 at the end), then the
/// values.
fn limited(lua: &Lua, bytes: &[u8], limit: usize, offset: Option<i64>) -> mlua::Result<MultiValue> {
    let start = offset.unwrap_or(0);
    if start < 0 || start as usize > bytes.len() {
        return Err(super::vm::located_error(
            lua,
            "Start offset greater than input length.",
        ));
    }
    let (values, end) = unpack_many(lua, bytes, start as usize, limit)?;
    let next = if end >= bytes.len() { -1 } else { end as i64 };
    let mut out = vec![Value::Number(next as f64)];
    out.extend(values);
    Ok(MultiValue::from_iter(out))
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn pack(v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => pack_number(number_of(v).unwrap_or(0.0), out),
        Value::String(s) => pack_str(&s.as_bytes(), out),
        Value::Table(t) if depth < MAX_NESTING => pack_table(t, depth + 1, out)?,
        // nil, too-deep tables, functions, userdata: nil, as lua-cmsgpack.
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack_number(n: f64, out: &mut Vec<u8>) {
    // Integral values that fit an int64 or a uint64 (-2^63 ..< 2^64).
    const INTEGRAL: std::ops::Range<f64> =
        -9_223_372_036_854_775_808.0..18_446_744_073_709_551_616.0;
    if n.fract() == 0.0 && INTEGRAL.contains(&n) {
        if n >= 0.0 {
            pack_uint(n as u64, out);
        } else {
            pack_int(n as i64, out);
        }
    } else if (n as f32) as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_uint(v: u64, out: &mut Vec<u8>) {
    if v < 128 {
        out.push(v as u8);
    } else if v <= u8::MAX as u64 {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u16::MAX as u64 {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u32::MAX as u64 {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn pack_int(v: i64, out: &mut Vec<u8>) {
    if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= i8::MIN as i64 {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn pack_str(s: &[u8], out: &mut Vec<u8>) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= u8::MAX as usize {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= u16::MAX as usize {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn pack_len(n: usize, fix: u8, fix_max: usize, tag16: u8, out: &mut Vec<u8>) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(tag16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(tag16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack_table(t: &Table, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let pairs: Vec<(Value, Value)> = t
        .pairs::<Value, Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    // An array if the keys are exactly 1..n.
    let mut max = 0.0f64;
    let is_array = pairs.iter().all(|(k, _)| match number_of(k) {
        Some(n) if n >= 1.0 && n.fract() == 0.0 => {
            max = max.max(n);
            true
        }
        _ => false,
    }) && max as usize == pairs.len();
    if is_array {
        pack_len(pairs.len(), 0x90, 15, 0xdc, out);
        for i in 1..=pairs.len() {
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            pack(&v, depth, out)?;
        }
    } else {
        pack_len(pairs.len(), 0x80, 15, 0xde, out);
        for (k, v) in &pairs {
            pack(k, depth, out)?;
            pack(v, depth, out)?;
        }
    }
    Ok(())
}

/// Decodes up to `limit` objects from `bytes[at..]`.
fn unpack_many(
    lua: &Lua,
    bytes: &[u8],
    mut at: usize,
    limit: usize,
) -> mlua::Result<(Vec<Value>, usize)> {
    let mut values = Vec::new();
    while at < bytes.len() && values.len() < limit {
        let mut r = Reader { bytes, at };
        let v = r
            .value(lua, 0)?
            .map_err(|e| super::vm::located_error(lua, e))?;
        values.push(v);
        at = r.at;
    }
    Ok((values, at))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

const MISSING: &str = "Missing bytes in input.";
const BAD: &str = "Bad data format in input.";

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        let end = self.at.checked_add(n).ok_or(MISSING)?;
        let s = self.bytes.get(self.at..end).ok_or(MISSING)?;
        self.at = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, &'static str> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    /// `Ok(Err(msg))` for malformed input; `Err` only for Lua failures.
    fn value(&mut self, lua: &Lua, depth: usize) -> mlua::Result<Result<Value, &'static str>> {
        if depth > 128 {
            return Ok(Err(BAD));
        }
        let tag = match self.take(1) {
            Ok(t) => t[0],
            Err(e) => return Ok(Err(e)),
        };
        let num = |r: Result<f64, &'static str>| r.map(Value::Number);
        Ok(match tag {
            0x00..=0x7f => Ok(Value::Number(tag as f64)),
            0xe0..=0xff => Ok(Value::Number(tag as i8 as f64)),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xcc => num(self.be(1).map(|v| v as f64)),
            0xcd => num(self.be(2).map(|v| v as f64)),
            0xce => num(self.be(4).map(|v| v as f64)),
            0xcf => num(self.be(8).map(|v| v as f64)),
            0xd0 => num(self.be(1).map(|v| v as u8 as i8 as f64)),
            0xd1 => num(self.be(2).map(|v| v as u16 as i16 as f64)),
            0xd2 => num(self.be(4).map(|v| v as u32 as i32 as f64)),
            0xd3 => num(self.be(8).map(|v| v as i64 as f64)),
            0xca => num(self.be(4).map(|v| f32::from_bits(v as u32) as f64)),
            0xcb => num(self.be(8).map(f64::from_bits)),
            0xa0..=0xbf => self.string(lua, (tag & 0x1f) as usize)?,
            0xd9 | 0xc4 => match self.be(1) {
                Ok(n) => self.string(lua, n as usize)?,
                Err(e) => Err(e),
            },
            0xda | 0xc5 => match self.be(2) {
                Ok(n) => self.string(lua, n as usize)?,
                Err(e) => Err(e),
            },
            0xdb | 0xc6 => match self.be(4) {
                Ok(n) => self.string(lua, n as usize)?,
                Err(e) => Err(e),
            },
            0x90..=0x9f => self.array(lua, (tag & 0x0f) as usize, depth)?,
            0xdc => match self.be(2) {
                Ok(n) => self.array(lua, n as usize, depth)?,
                Err(e) => Err(e),
            },
            0xdd => match self.be(4) {
                Ok(n) => self.array(lua, n as usize, depth)?,
                Err(e) => Err(e),
            },
            0x80..=0x8f => self.map(lua, (tag & 0x0f) as usize, depth)?,
            0xde => match self.be(2) {
                Ok(n) => self.map(lua, n as usize, depth)?,
                Err(e) => Err(e),
            },
            0xdf => match self.be(4) {
                Ok(n) => self.map(lua, n as usize, depth)?,
                Err(e) => Err(e),
            },
            _ => Err(BAD),
        })
    }

    fn string(&mut self, lua: &Lua, n: usize) -> mlua::Result<Result<Value, &'static str>> {
        Ok(match self.take(n) {
            Ok(s) => Ok(Value::String(lua.create_string(s)?)),
            Err(e) => Err(e),
        })
    }

    fn array(
        &mut self,
        lua: &Lua,
        n: usize,
        depth: usize,
    ) -> mlua::Result<Result<Value, &'static str>> {
        // Each element takes at least a byte: a count beyond the input is a lie.
        if n > self.bytes.len() - self.at {
            return Ok(Err(MISSING));
        }
        let t = lua.create_table_with_capacity(n, 0)?;
        for i in 1..=n {
            match self.value(lua, depth + 1)? {
                Ok(v) => t.raw_set(i, v)?,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(Value::Table(t)))
    }

    fn map(
        &mut self,
        lua: &Lua,
        n: usize,
        depth: usize,
    ) -> mlua::Result<Result<Value, &'static str>> {
        if n > self.bytes.len() - self.at {
            return Ok(Err(MISSING));
        }
        let t = lua.create_table_with_capacity(0, n)?;
        for _ in 0..n {
            let k = match self.value(lua, depth + 1)? {
                Ok(k) => k,
                Err(e) => return Ok(Err(e)),
            };
            let v = match self.value(lua, depth + 1)? {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            // A nil key cannot be stored; lua-cmsgpack drops the pair too.
            if !k.is_nil() {
                t.raw_set(k, v)?;
            }
        }
        Ok(Ok(Value::Table(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(code: &str) -> String {
        let lua = Lua::new();
        lua.globals()
            .set("cmsgpack", library(&lua).expect("cmsgpack"))
            .expect("set");
        let s: mlua::LuaString = lua.load(code).eval().expect("eval");
        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn packs_like_redis() {
        // Expected bytes: redis-server 7.0 answering the same scripts.
        for (code, expected) in [
            ("cmsgpack.pack({1,2,3})", "93010203"),
            ("cmsgpack.pack({a=1})", "81a16101"),
            ("cmsgpack.pack(1.5)", "ca3fc00000"),
            ("cmsgpack.pack(0.1)", "cb3fb999999999999a"),
            ("cmsgpack.pack(-1)", "ff"),
            ("cmsgpack.pack(2^40)", "cf0000010000000000"),
            ("cmsgpack.pack(-2^40)", "d3ffffff0000000000"),
            ("cmsgpack.pack('abc')", "a3616263"),
            ("cmsgpack.pack(true, false)", "c3c2"),
            ("cmsgpack.pack(nil)", "c0"),
            ("cmsgpack.pack({})", "90"),
            ("cmsgpack.pack({1,nil,3})", "8201010303"),
            ("cmsgpack.pack(200)", "ccc8"),
            ("cmsgpack.pack(70000)", "ce00011170"),
            ("cmsgpack.pack(-200)", "d1ff38"),
            ("cmsgpack.pack(1e300)", "cb7e37e43c8800759c"),
        ] {
            assert_eq!(hex(&format!("return {code}")), expected, "{code}");
        }
        assert_eq!(
            hex("return cmsgpack.pack(string.rep('x', 40))"),
            format!("d928{}", "78".repeat(40))
        );
    }

    #[test]
    fn unpacks_what_it_packs() {
        let lua = Lua::new();
        lua.globals()
            .set("cmsgpack", library(&lua).expect("cmsgpack"))
            .expect("set");
        let v: String = lua
            .load(
                "local a, b, c = cmsgpack.unpack(cmsgpack.pack(1, 'x', {k={1,2}}, -3.25, 2^40))
                 local d, e = select(4, cmsgpack.unpack(cmsgpack.pack(1, 'x', {k={1,2}}, -3.25, 2^40)))
                 local off, one = cmsgpack.unpack_one(cmsgpack.pack(7, 8))
                 return a .. b .. c.k[2] .. d .. string.format('%.0f', e) .. off .. one",
            )
            .eval()
            .expect("eval");
        assert_eq!(v, "1x2-3.25109951162777617");
        let bad: mlua::Result<Value> = lua.load("return cmsgpack.unpack('\\146\\1')").eval();
        assert!(bad.is_err_and(|e| e.to_string().contains("Missing bytes in input.")));
    }
}

//! The `struct` library Redis scripts get (lua-struct 0.9's API):
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, pos])` and
//! `struct.size(fmt)`, converting between Lua values and C-like binary
//! records. Format: `<` `>` `=` endianness, `!n` alignment, `x` padding byte,
//! `b`/`B` char, `h`/`H` short, `l`/`L` long, `T` size_t, `in`/`In` n-byte
//! int (default 4), `cn` char[n] (`c0`: the whole string, or a length read
//! just before when unpacking), `s` zero-terminated string, `f` float,
//! `d` double; spaces are ignored.
//!
//! It only converts values; it has no other access.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// lua-struct's `MAXINTSIZE`.
const MAX_INT_SIZE: usize = 32;
/// lua-struct's default alignment for `!` without a number.
const MAX_ALIGN: usize = 8;

#[derive(Clone, Copy)]
struct Options {
    little: bool,
    align: usize,
}

/// One parsed format item.
#[derive(Clone, Copy)]
enum Item {
    Pad,
    Int { size: usize, signed: bool },
    Float,
    Double,
    Chars(usize),
    ZString,
}

struct Format<'a> {
    fmt: &'a [u8],
    /// The Lua function parsing it, for error messages.
    func: &'static str,
    at: usize,
    opts: Options,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8], func: &'static str) -> Format<'a> {
        Format {
            fmt,
            func,
            at: 0,
            opts: Options {
                little: cfg!(target_endian = "little"),
                align: 1,
            },
        }
    }

    fn number(&mut self, default: usize) -> usize {
        let start = self.at;
        let mut n = 0usize;
        while let Some(d) = self.fmt.get(self.at).filter(|c| c.is_ascii_digit()) {
            n = n.saturating_mul(10).saturating_add((d - b'0') as usize);
            self.at += 1;
        }
        if self.at == start { default } else { n }
    }

    /// The next item with its alignment padding before it, given the bytes
    /// written so far; `None` at the end.
    fn next(&mut self, len: usize) -> Result<Option<(Item, usize)>, String> {
        loop {
            let Some(&c) = self.fmt.get(self.at) else {
                return Ok(None);
            };
            self.at += 1;
            let item = match c {
                b' ' => continue,
                b'>' => {
                    self.opts.little = false;
                    continue;
                }
                b'<' => {
                    self.opts.little = true;
                    continue;
                }
                b'=' => {
                    self.opts.little = cfg!(target_endian = "little");
                    continue;
                }
                b'!' => {
                    let a = self.number(MAX_ALIGN);
                    if !a.is_power_of_two() {
                        return Err(format!("alignment {a} is not a power of 2"));
                    }
                    self.opts.align = a;
                    continue;
                }
                b'x' => Item::Pad,
                b'b' => Item::Int {
                    size: 1,
                    signed: true,
                },
                b'B' => Item::Int {
                    size: 1,
                    signed: false,
                },
                b'h' => Item::Int {
                    size: 2,
                    signed: true,
                },
                b'H' => Item::Int {
                    size: 2,
                    signed: false,
                },
                b'l' => Item::Int {
                    size: 8,
                    signed: true,
                },
                b'L' | b'T' => Item::Int {
                    size: 8,
                    signed: false,
                },
                b'i' | b'I' => {
                    let size = self.number(4);
                    if size > MAX_INT_SIZE {
                        return Err(format!(
                            "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                        ));
                    }
                    Item::Int {
                        size,
                        signed: c == b'i',
                    }
                }
                b'f' => Item::Float,
                b'd' => Item::Double,
                b'c' => Item::Chars(self.number(1)),
                b's' => Item::ZString,
                other => {
                    return Err(format!(
                        "bad argument #1 to '{}' (invalid format option '{}')",
                        self.func, other as char
                    ));
                }
            };
            let size = match item {
                Item::Int { size, .. } => size,
                Item::Float => 4,
                Item::Double => 8,
                _ => 1,
            };
            let align = size.min(self.opts.align);
            let pad = if size <= 1 || !align.is_power_of_two() {
                0
            } else {
                (align - (len & (align - 1))) & (align - 1)
            };
            return Ok(Some((item, pad)));
        }
    }
}

fn int_bytes(v: f64, size: usize, little: bool, out: &mut Vec<u8>) {
    // Two's complement of the integral part, sign-extended past 8 bytes.
    let n = if v < 0.0 { v as i64 as u64 } else { v as u64 };
    let fill = if v < 0.0 { 0xff } else { 0 };
    let mut bytes: Vec<u8> = (0..size)
        .map(|i| if i < 8 { (n >> (8 * i)) as u8 } else { fill })
        .collect();
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::LuaString> {
    let fail = |m: String| super::vm::located_error(lua, &m);
    let Some(Value::String(fmt)) = args.first() else {
        return Err(fail("bad argument #1 to 'pack' (string expected)".into()));
    };
    let fmt = fmt.as_bytes().to_vec();
    let mut f = Format::new(&fmt, "pack");
    let mut out = Vec::new();
    let mut arg = 1;
    let mut next_arg = || -> mlua::Result<Value> {
        let v = args.get(arg).cloned().unwrap_or(Value::Nil);
        arg += 1;
        Ok(v)
    };
    while let Some((item, pad)) = f.next(out.len()).map_err(fail)? {
        out.resize(out.len() + pad, 0);
        match item {
            Item::Pad => out.push(0),
            Item::Int { size, .. } => {
                let v = next_arg()?;
                let n = number(lua, &v, "pack")?;
                int_bytes(n, size, f.opts.little, &mut out);
            }
            Item::Float | Item::Double => {
                let v = next_arg()?;
                let n = number(lua, &v, "pack")?;
                let mut bytes = if matches!(item, Item::Float) {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if !f.opts.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            Item::Chars(n) => {
                let v = next_arg()?;
                let s = string(lua, &v, "pack")?;
                let n = if n == 0 { s.len() } else { n };
                if s.len() < n {
                    return Err(fail("bad argument to 'pack' (string too short)".into()));
                }
                out.extend_from_slice(&s[..n]);
            }
            Item::ZString => {
                let v = next_arg()?;
                let s = string(lua, &v, "pack")?;
                if s.contains(&0) {
                    return Err(fail(
                        "bad argument to 'pack' (string contains zeros)".into(),
                    ));
                }
                out.extend_from_slice(&s);
                out.push(0);
            }
        }
    }
    lua.create_string(&out)
}

fn number(lua: &Lua, v: &Value, func: &str) -> mlua::Result<f64> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| {
                super::vm::located_error(
                    lua,
                    &format!("bad argument to '{func}' (number expected, got string)"),
                )
            }),
        other => Err(super::vm::located_error(
            lua,
            &format!(
                "bad argument to '{func}' (number expected, got {})",
                other.type_name()
            ),
        )),
    }
}

fn string(lua: &Lua, v: &Value, func: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => Ok(lua
            .coerce_string(v.clone())?
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default()),
        other => Err(super::vm::located_error(
            lua,
            &format!(
                "bad argument to '{func}' (string expected, got {})",
                other.type_name()
            ),
        )),
    }
}

fn unpack(
    lua: &Lua,
    (fmt, data, pos): (mlua::LuaString, mlua::LuaString, Option<i64>),
) -> mlua::Result<MultiValue> {
    let fail = |m: &str| super::vm::located_error(lua, m);
    let fmt = fmt.as_bytes().to_vec();
    let data = data.as_bytes().to_vec();
    let start = pos.unwrap_or(1);
    if start < 1 {
        return Err(fail(
            "bad argument #3 to 'unpack' (offset must be 1 or greater)",
        ));
    }
    let mut at = (start - 1) as usize;
    let mut f = Format::new(&fmt, "unpack");
    let mut values: Vec<Value> = Vec::new();
    let short = || fail("bad argument #2 to 'unpack' (data string too short)");
    while let Some((item, pad)) = f.next(at).map_err(|m| fail(&m))? {
        at += pad;
        let take = |at: usize, n: usize| -> mlua::Result<&[u8]> {
            at.checked_add(n)
                .and_then(|end| data.get(at..end))
                .ok_or_else(short)
        };
        match item {
            Item::Pad => at += 1,
            Item::Int { size, signed } => {
                let raw = take(at, size)?;
                let mut bytes = raw.to_vec();
                if !f.opts.little {
                    bytes.reverse();
                }
                let mut n: u64 = 0;
                for (i, b) in bytes.iter().take(8).enumerate() {
                    n |= (*b as u64) << (8 * i);
                }
                let v = if signed && size < 8 && size > 0 {
                    let shift = 64 - 8 * size as u32;
                    ((n << shift) as i64 >> shift) as f64
                } else if signed {
                    n as i64 as f64
                } else {
                    n as f64
                };
                values.push(Value::Number(v));
                at += size;
            }
            Item::Float | Item::Double => {
                let size = if matches!(item, Item::Float) { 4 } else { 8 };
                let mut bytes = take(at, size)?.to_vec();
                if !f.opts.little {
                    bytes.reverse();
                }
                let v = if size == 4 {
                    f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as f64
                } else {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&bytes);
                    f64::from_le_bytes(b)
                };
                values.push(Value::Number(v));
                at += size;
            }
            Item::Chars(n) => {
                let n = if n == 0 {
                    // The length is the value just read.
                    match values.pop() {
                        Some(Value::Number(len)) if len >= 0.0 => len as usize,
                        _ => return Err(fail("format 'c0' needs a previous size")),
                    }
                } else {
                    n
                };
                let s = take(at, n)?;
                values.push(Value::String(lua.create_string(s)?));
                at += n;
            }
            Item::ZString => {
                let rest = data.get(at..).ok_or_else(short)?;
                let Some(end) = rest.iter().position(|&b| b == 0) else {
                    return Err(fail("unfinished string in data"));
                };
                values.push(Value::String(lua.create_string(&rest[..end])?));
                at += end + 1;
            }
        }
    }
    values.push(Value::Number((at + 1) as f64));
    Ok(MultiValue::from_iter(values))
}

fn size(lua: &Lua, fmt: mlua::LuaString) -> mlua::Result<usize> {
    let fmt = fmt.as_bytes().to_vec();
    let mut f = Format::new(&fmt, "size");
    let mut len = 0usize;
    while let Some((item, pad)) = f.next(len).map_err(|m| super::vm::located_error(lua, &m))? {
        len += pad;
        len += match item {
            Item::Pad => 1,
            Item::Int { size, .. } => size,
            Item::Float => 4,
            Item::Double => 8,
            Item::Chars(n) if n > 0 => n,
            Item::Chars(_) => return Err(no_fixed_size(lua, "c0")),
            Item::ZString => return Err(no_fixed_size(lua, "s")),
        };
    }
    Ok(len)
}

fn no_fixed_size(lua: &Lua, option: &str) -> mlua::Error {
    super::vm::located_error(
        lua,
        &format!("bad argument #1 to 'size' (option '{option}' has no fixed size)"),
    )
}

/// Builds the `struct` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        let lua = Lua::new();
        lua.globals()
            .set("struct", library(&lua).expect("struct"))
            .expect("set");
        match lua.load(code).eval::<String>() {
            Ok(s) => s,
            Err(e) => format!("error: {e}"),
        }
    }

    const HEX: &str = "local function hex(s) local t = {} for i = 1, #s do t[i] = string.format('%02x', s:byte(i)) end return table.concat(t) end ";

    #[test]
    fn packs_like_redis() {
        // Expected bytes: redis-server 7.0 answering the same scripts.
        for (code, expected) in [
            ("struct.pack('>I2', 258)", "0102"),
            ("struct.pack('<i4', -2)", "feffffff"),
            ("struct.pack('>bBhH', -1, 255, -2, 65535)", "ffff fffeffff"),
            ("struct.pack('>d', 1.5)", "3ff8000000000000"),
            ("struct.pack('>f', 1.5)", "3fc00000"),
            ("struct.pack('s', 'ab')", "616200"),
            ("struct.pack('c3', 'abcdef')", "616263"),
            ("struct.pack('!4>bi4', 1, 2)", "0100000000000002"),
        ] {
            let got = eval(&format!("{HEX} return hex({code})"));
            assert_eq!(got, expected.replace(' ', ""), "{code}");
        }
    }

    #[test]
    fn unpacks_and_sizes() {
        assert_eq!(
            eval(
                "local a, b, n = struct.unpack('>I2h', '\\1\\2\\255\\254') return a .. ' ' .. b .. ' ' .. n"
            ),
            "258 -2 5"
        );
        assert_eq!(
            eval("local s, n = struct.unpack('Bc0', '\\3abcd') return s .. ' ' .. n"),
            "abc 5"
        );
        assert_eq!(eval("return tostring(struct.size('>I2hd'))"), "12");
        assert_eq!(eval("return tostring(struct.size('!8bd'))"), "16");
        assert!(eval("return struct.unpack('>I4', 'ab')").contains("data string too short"));
        assert!(
            eval("return struct.size('s')")
                .contains("bad argument #1 to 'size' (option 's' has no fixed size)")
        );
        assert!(
            eval("return struct.pack('q', 1)")
                .contains("bad argument #1 to 'pack' (invalid format option 'q')")
        );
        assert!(
            eval("return struct.size('i40')")
                .contains("integral size 40 is larger than limit of 32")
        );
    }
}

//! The `bit` library Redis scripts get (LuaBitOp's API): 32-bit operations on
//! Lua numbers. Every argument is first normalised as `bit.tobit` does —
//! rounded to an integer and wrapped into a signed 32-bit value — so results
//! match LuaBitOp on any number a script passes.
//!
//! It only computes; it has no access to anything else.

use mlua::{Lua, Table, Variadic};

/// LuaBitOp's normalisation: round to nearest (ties to even, as its
/// 2^52+2^51 addition trick does), then keep the low 32 bits, signed.
pub fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let r = n.round_ties_even().rem_euclid(4_294_967_296.0);
    r as u64 as u32 as i32
}

fn fold(args: Variadic<f64>, first: f64, op: fn(i32, i32) -> i32) -> i32 {
    args.iter().fold(tobit(first), |acc, &n| op(acc, tobit(n)))
}

/// `bit.tohex(x [, n])`: the low `n` hex digits (default 8); a negative `n`
/// gives upper-case digits.
pub fn tohex(x: f64, n: Option<f64>) -> String {
    let n = n.map(tobit).unwrap_or(8);
    let upper = n < 0;
    let digits = n.unsigned_abs().min(8) as usize;
    let v = tobit(x) as u32 as u64;
    let text = if upper {
        format!("{v:08X}")
    } else {
        format!("{v:08x}")
    };
    text[8 - digits..].to_string()
}

/// Builds the `bit` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("tobit", lua.create_function(|_, x: f64| Ok(tobit(x)))?)?;
    t.set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| Ok(tohex(x, n)))?,
    )?;
    t.set("bnot", lua.create_function(|_, x: f64| Ok(!tobit(x)))?)?;
    t.set(
        "band",
        lua.create_function(|_, (x, rest): (f64, Variadic<f64>)| Ok(fold(rest, x, |a, b| a & b)))?,
    )?;
    t.set(
        "bor",
        lua.create_function(|_, (x, rest): (f64, Variadic<f64>)| Ok(fold(rest, x, |a, b| a | b)))?,
    )?;
    t.set(
        "bxor",
        lua.create_function(|_, (x, rest): (f64, Variadic<f64>)| Ok(fold(rest, x, |a, b| a ^ b)))?,
    )?;
    let shift = |f: fn(u32, u32) -> u32| {
        move |_: &Lua, (x, n): (f64, f64)| Ok(f(tobit(x) as u32, tobit(n) as u32 & 31) as i32)
    };
    t.set("lshift", lua.create_function(shift(|x, n| x << n))?)?;
    t.set("rshift", lua.create_function(shift(|x, n| x >> n))?)?;
    t.set(
        "arshift",
        lua.create_function(shift(|x, n| ((x as i32) >> n) as u32))?,
    )?;
    t.set("rol", lua.create_function(shift(|x, n| x.rotate_left(n)))?)?;
    t.set("ror", lua.create_function(shift(|x, n| x.rotate_right(n)))?)?;
    t.set(
        "bswap",
        lua.create_function(|_, x: f64| Ok((tobit(x) as u32).swap_bytes() as i32))?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        let lua = Lua::new();
        lua.globals()
            .set("bit", library(&lua).expect("bit"))
            .expect("set");
        lua.load(code).eval::<String>().expect("eval")
    }

    #[test]
    fn matches_luabitop() {
        // Expected values from LuaBitOp's documentation and test suite.
        assert_eq!(eval("return tostring(bit.tobit(0xffffffff))"), "-1");
        assert_eq!(eval("return tostring(bit.tobit(0xffffffff + 1))"), "0");
        assert_eq!(eval("return tostring(bit.tobit(2^40 + 1234))"), "1234");
        assert_eq!(eval("return bit.tohex(1)"), "00000001");
        assert_eq!(eval("return bit.tohex(-1)"), "ffffffff");
        assert_eq!(eval("return bit.tohex(0xffffffff)"), "ffffffff");
        assert_eq!(eval("return bit.tohex(-1, -4)"), "FFFF");
        assert_eq!(eval("return bit.tohex(0x21, 4)"), "0021");
        assert_eq!(eval("return bit.tohex(0x87654321, 4)"), "4321");
        assert_eq!(eval("return tostring(bit.bnot(0))"), "-1");
        assert_eq!(eval("return bit.tohex(bit.bnot(0x12345678))"), "edcba987");
        assert_eq!(eval("return tostring(bit.bor(1, 2, 4, 8))"), "15");
        assert_eq!(
            eval("return bit.tohex(bit.band(0x12345678, 0xff))"),
            "00000078"
        );
        assert_eq!(
            eval("return bit.tohex(bit.bxor(0xa5a5f0f0, 0xaa55ff00))"),
            "0ff00ff0"
        );
        assert_eq!(eval("return tostring(bit.lshift(1, 0))"), "1");
        assert_eq!(eval("return tostring(bit.lshift(1, 8))"), "256");
        assert_eq!(eval("return tostring(bit.lshift(1, 40))"), "256");
        assert_eq!(eval("return tostring(bit.rshift(256, 8))"), "1");
        assert_eq!(eval("return tostring(bit.rshift(-256, 8))"), "16777215");
        assert_eq!(eval("return tostring(bit.arshift(-256, 8))"), "-1");
        assert_eq!(
            eval("return bit.tohex(bit.lshift(0x87654321, 12))"),
            "54321000"
        );
        assert_eq!(
            eval("return bit.tohex(bit.rol(0x12345678, 12))"),
            "45678123"
        );
        assert_eq!(
            eval("return bit.tohex(bit.ror(0x12345678, 12))"),
            "67812345"
        );
        assert_eq!(eval("return bit.tohex(bit.bswap(0x12345678))"), "78563412");
    }
}

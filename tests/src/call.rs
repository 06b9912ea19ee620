//! Calling commands given as words (`&["HSET", "h", "f", "v"]`) with the
//! `redis` crate, and reading an error as the exact line Redis sent — so tests
//! compare error texts with Redis's own.

use redis::{Connection, FromRedisValue, RedisError, RedisResult, Value};

/// Redis's error line for an operation on a key of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Runs a command given as words.
pub fn q<T: FromRedisValue>(c: &mut Connection, words: &[&str]) -> RedisResult<T> {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(c)
}

/// Runs a command that must succeed.
pub fn ok<T: FromRedisValue>(c: &mut Connection, words: &[&str]) -> T {
    q(c, words).unwrap_or_else(|e| panic!("{words:?}: {e}"))
}

/// The full error line of a command that must fail, e.g. `ERR syntax error`.
pub fn err(c: &mut Connection, words: &[&str]) -> String {
    match q::<Value>(c, words) {
        Ok(v) => panic!("{words:?} should fail, got {v:?}"),
        Err(e) => line(&e),
    }
}

/// An error as the line Redis sent.
pub fn line(e: &RedisError) -> String {
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

//! Argument parsing shared by all command families, with Redis's error texts.

use super::CmdError;
use crate::engine::number;

/// True if `arg` equals `word` ignoring ASCII case (`word` is lowercase).
#[inline]
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A signed 64-bit integer argument.
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    number::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// A non-negative integer argument (COUNT and friends).
pub fn uint(arg: &[u8]) -> Result<u64, CmdError> {
    match number::parse_i64(arg) {
        Some(v) if v >= 0 => Ok(v as u64),
        _ => Err(CmdError::NotInteger),
    }
}

/// A positive count, with Redis's "must be positive" message.
pub fn positive_count(arg: &[u8]) -> Result<usize, CmdError> {
    match number::parse_i64(arg) {
        Some(v) if v > 0 => Ok(v as usize),
        Some(_) => Err(CmdError::msg("ERR value is out of range, must be positive")),
        None => Err(CmdError::NotInteger),
    }
}

/// A float argument (rejects NaN).
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    number::parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// A blocking-command timeout in seconds (may be fractional); `None` = forever.
pub fn timeout(arg: &[u8]) -> Result<Option<std::time::Duration>, CmdError> {
    let secs = number::parse_f64(arg)
        .filter(|v| v.is_finite())
        .ok_or_else(|| CmdError::msg("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    // Redis keeps deadlines as i64 Unix milliseconds and refuses timeouts
    // whose deadline would overflow; the check also keeps `from_secs_f64`
    // (which panics on huge values) in range.
    let ms = (secs * 1000.0).ceil();
    let room = (i64::MAX as u64).saturating_sub(crate::clock::unix_ms()) as f64;
    if ms >= room {
        return Err(CmdError::msg("ERR timeout is out of range"));
    }
    Ok(Some(std::time::Duration::from_millis(ms as u64)))
}

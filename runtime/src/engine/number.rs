//! Numbers as Redis reads and writes them in strings: strict integer parsing
//! (`string2ll`), float parsing that accepts `inf` but never NaN, and the
//! human-readable float format of INCRBYFLOAT and scores.

/// Parses a strict decimal `i64`: optional `-`, no `+`, no spaces, no leading
/// zeros.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = (d - b'0') as i64;
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(digit)?
        } else {
            v.checked_add(digit)?
        };
    }
    Some(v)
}

/// Parses a float as Redis does: decimal or exponent forms and `inf`/`-inf`;
/// rejects NaN, empty strings and surrounding spaces.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty() || text.trim() != text {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => lower.parse::<f64>().ok()?,
    };
    if v.is_nan() { None } else { Some(v) }
}

/// Formats a float the way Redis replies with doubles: the shortest text that
/// reads back to the same value, `inf`/`-inf`, and exponent form only for very
/// large or small magnitudes.
pub fn format_f64(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let a = v.abs();
    if (1e-5..1e17).contains(&a) {
        format!("{v}")
    } else {
        let s = format!("{v:e}");
        // Rust writes `1e300`; Redis writes `1e+300`.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    }
}

/// Formats the result of INCRBYFLOAT / HINCRBYFLOAT.
///
/// Redis computes these in `long double` and prints 17 decimals with trailing
/// zeros trimmed, so `0.1 + 0.2` reads back as `0.3`. We compute in `f64`; to
/// give users the same text we round to 15 significant digits (the precision an
/// `f64` carries exactly for decimal input) before printing the shortest form.
pub fn format_f64_incr(v: f64) -> String {
    if !v.is_finite() {
        return format_f64(v);
    }
    let rounded: f64 = format!("{v:.14e}").parse().unwrap_or(v);
    // Plain decimal, never exponent form, as Redis prints these.
    if rounded == 0.0 {
        "0".into()
    } else {
        format!("{rounded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_i64(b"42"), Some(42));
        assert_eq!(parse_i64(b"-42"), Some(-42));
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"+1"[..],
            b" 1",
            b"01",
            b"-0",
            b"1.0",
            b"",
            b"-",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn floats_accept_inf_not_nan() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"3e2"), Some(300.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(format_f64(10.5 + 0.1), "10.6");
        assert_eq!(format_f64(3.0), "3");
        assert_eq!(format_f64(1e300), "1e+300");
        assert_eq!(format_f64(f64::INFINITY), "inf");
        assert_eq!(format_f64_incr(0.1 + 0.2), "0.3");
        assert_eq!(format_f64_incr(10.5 + 0.1), "10.6");
        assert_eq!(format_f64_incr(-1.25), "-1.25");
        assert_eq!(format_f64_incr(5e20), "500000000000000000000");
    }
}

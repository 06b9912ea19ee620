//! Password hashes: what a user's `>password` becomes, as Redis stores it
//! (SHA-256, shown as 64 lowercase hex digits), and the comparison that
//! checks a password without leaking through timing where it differs.
//!
//! Clear-text passwords never live longer than the call that hashes them.

use sha2::{Digest, Sha256};

/// The SHA-256 of a password.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PasswordHash([u8; 32]);

impl PasswordHash {
    /// Hashes a clear-text password.
    pub fn of(password: &[u8]) -> PasswordHash {
        PasswordHash(Sha256::digest(password).into())
    }

    /// Parses the `#<hash>` form: exactly 64 lowercase hex digits.
    pub fn from_hex(hex: &[u8]) -> Option<PasswordHash> {
        if hex.len() != 64 {
            return None;
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
        }
        Some(PasswordHash(out))
    }

    /// The 64-digit lowercase hex form.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s
    }

    /// True if `other` is the same hash, comparing every byte whatever the
    /// first difference (as Redis's `time_independent_strcmp`).
    pub fn matches(&self, other: &PasswordHash) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.to_hex())
    }
}

/// Compares two byte strings in time that depends only on their lengths
/// (bearer tokens and the like).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_in_lowercase_hex() {
        // The hash Redis 7 shows for `>p1` in ACL GETUSER.
        let h = PasswordHash::of(b"p1");
        assert_eq!(
            h.to_hex(),
            "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"
        );
        assert_eq!(PasswordHash::from_hex(h.to_hex().as_bytes()), Some(h));
        assert!(h.matches(&PasswordHash::of(b"p1")));
        assert!(!h.matches(&PasswordHash::of(b"p2")));
    }

    #[test]
    fn hex_form_must_be_64_lowercase_digits() {
        let upper = "F64551FCD6F07823CB87971CFB91446425DA18286B3AB1EF935E0CBD7A69F68A";
        assert_eq!(PasswordHash::from_hex(upper.as_bytes()), None);
        assert_eq!(PasswordHash::from_hex(b"abc"), None);
        assert!(constant_time_eq(b"tok", b"tok"));
        assert!(!constant_time_eq(b"tok", b"toK"));
        assert!(!constant_time_eq(b"tok", b"token"));
    }
}

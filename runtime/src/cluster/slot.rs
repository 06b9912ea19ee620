//! Hash slots as Redis Cluster defines them: a key belongs to slot
//! `CRC16(key) mod 16384`, where only the key's hash tag is hashed if it has
//! one (`{user:42}:cart` and `{user:42}:profile` share a slot).
//!
//! This file only computes slots and parses slot ranges; who owns a slot is
//! the [`SlotMap`](super::SlotMap)'s business.

use std::fmt;
use std::ops::RangeInclusive;

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// A hash slot, `0..16384`.
pub type Slot = u16;

/// The slot of `key`.
pub fn key_slot(key: &[u8]) -> Slot {
    let tagged = hash_tag(key).unwrap_or(key);
    (crc16::State::<crc16::XMODEM>::calculate(tagged) as usize % SLOTS) as Slot
}

/// The part of `key` between the first `{` and the next `}`, if that part is
/// not empty (Redis's rule: `{}` or an unclosed `{` means the whole key).
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &rest[..close])
}

/// A range of slots as written in configuration: `"5461"` or `"0-5460"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot.
    pub start: Slot,
    /// Last slot (inclusive).
    pub end: Slot,
}

impl SlotRange {
    /// Parses `"a-b"` or `"a"`.
    pub fn parse(text: &str) -> Result<SlotRange, String> {
        let slot = |s: &str| -> Result<Slot, String> {
            let n: usize = s
                .trim()
                .parse()
                .map_err(|_| format!("'{s}' is not a slot number"))?;
            if n >= SLOTS {
                return Err(format!("slot {n} is out of range (0-{})", SLOTS - 1));
            }
            Ok(n as Slot)
        };
        let (start, end) = match text.split_once('-') {
            Some((a, b)) => (slot(a)?, slot(b)?),
            None => {
                let s = slot(text)?;
                (s, s)
            }
        };
        if start > end {
            return Err(format!("slot range '{text}' ends before it starts"));
        }
        Ok(SlotRange { start, end })
    }

    /// The slots, as a range.
    pub fn slots(self) -> RangeInclusive<Slot> {
        self.start..=self.end
    }
}

impl fmt::Display for SlotRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from the Redis Cluster specification and `CLUSTER KEYSLOT`
    /// of a real Redis 7.
    #[test]
    fn slots_match_redis() {
        // The specification's CRC16 check value, 0x31C3, is below 16384.
        assert_eq!(key_slot(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"somekey"), 11058);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn hash_tags_follow_the_first_brace_pair() {
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(
            key_slot(b"foo{}{bar}"),
            key_slot(b"bar"),
            "{{}} means no tag"
        );
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{unclosed"), key_slot(b"{unclosed"));
    }

    #[test]
    fn ranges_parse_and_refuse_nonsense() {
        assert_eq!(
            SlotRange::parse("0-5460"),
            Ok(SlotRange {
                start: 0,
                end: 5460
            })
        );
        assert_eq!(SlotRange::parse("7").map(|r| r.to_string()), Ok("7".into()));
        assert!(SlotRange::parse("5-4").is_err());
        assert!(SlotRange::parse("0-16384").is_err());
        assert!(SlotRange::parse("x").is_err());
    }
}

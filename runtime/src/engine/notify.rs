//! Keyspace notifications (`notify-keyspace-events`): which classes of
//! events are on, Redis's flag letters, and publishing an event on the
//! `__keyspace@0__:<key>` and `__keyevent@0__:<event>` channels through the
//! pub/sub broker.
//!
//! Events are published in the region where the write (or expiry) happened
//! and are not replicated. This module decides nothing about which command
//! raises which event; the front end names the events.

use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;

use super::Broker;

/// Event classes, with Redis's bit values.
pub mod class {
    /// `K`: publish on `__keyspace@0__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@0__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: DEL, EXPIRE, RENAME, COPY…
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted-set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: a key expired.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: a key was evicted.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: a read missed.
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module events.
    pub const MODULE: u32 = 1 << 13;
    /// `n`: a key was created.
    pub const NEW: u32 = 1 << 14;
    /// `A`: `g$lshzxetd`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

const LETTERS: [(char, u32); 10] = [
    ('g', class::GENERIC),
    ('$', class::STRING),
    ('l', class::LIST),
    ('s', class::SET),
    ('h', class::HASH),
    ('z', class::ZSET),
    ('x', class::EXPIRED),
    ('e', class::EVICTED),
    ('t', class::STREAM),
    ('d', class::MODULE),
];

/// Parses a `notify-keyspace-events` value; `None` on an unknown letter.
pub fn parse_flags(s: &str) -> Option<u32> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => class::ALL,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            'm' => class::KEY_MISS,
            'n' => class::NEW,
            c => LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(flags)
}

/// The value CONFIG GET shows, spelled as Redis 7.0 spells it.
pub fn format_flags(flags: u32) -> String {
    let mut s = String::new();
    if flags & class::ALL == class::ALL {
        s.push('A');
    } else {
        s.extend(
            LETTERS
                .iter()
                .filter(|(_, f)| flags & f != 0)
                .map(|(l, _)| l),
        );
    }
    for (c, f) in [
        ('K', class::KEYSPACE),
        ('E', class::KEYEVENT),
        ('m', class::KEY_MISS),
    ] {
        if flags & f != 0 {
            s.push(c);
        }
    }
    s
}

/// The live `notify-keyspace-events` setting.
#[derive(Debug, Default)]
pub struct Notifier {
    flags: AtomicU32,
}

impl Notifier {
    /// The flags.
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    pub(super) fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// True if some event would be published (a channel kind and a class
    /// are on), so writers should remember what they touched.
    #[inline]
    pub fn active(&self) -> bool {
        let f = self.flags();
        f & (class::KEYSPACE | class::KEYEVENT) != 0
            && f & !(class::KEYSPACE | class::KEYEVENT) != 0
    }

    /// True if events of `class` are published.
    pub fn wants(&self, class: u32) -> bool {
        let f = self.flags();
        f & class != 0 && f & (class::KEYSPACE | class::KEYEVENT) != 0
    }

    /// Publishes `event` about `key` if its class is on.
    pub fn publish(&self, broker: &Broker, class: u32, event: &str, key: &[u8]) {
        let f = self.flags();
        if f & class == 0 {
            return;
        }
        if f & class::KEYSPACE != 0 {
            let mut ch = b"__keyspace@0__:".to_vec();
            ch.extend_from_slice(key);
            broker.publish(&Bytes::from(ch), &Bytes::copy_from_slice(event.as_bytes()));
        }
        if f & class::KEYEVENT != 0 {
            let ch = format!("__keyevent@0__:{event}");
            broker.publish(&Bytes::from(ch), &Bytes::copy_from_slice(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_and_print_as_redis() {
        assert_eq!(parse_flags("KEA").map(format_flags).as_deref(), Some("AKE"));
        assert_eq!(parse_flags("Kx").map(format_flags).as_deref(), Some("xK"));
        assert_eq!(
            parse_flags("Eg$lshzxetdm").map(format_flags).as_deref(),
            Some("AEm")
        );
        assert_eq!(parse_flags("").map(format_flags).as_deref(), Some(""));
        assert_eq!(parse_flags("Q"), None);
    }
}

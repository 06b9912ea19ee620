//! Fencing: per lock name, the newest token this region has seen — granted
//! here, accepted by this region's acceptor, or carried by a fenced write —
//! and the check a fenced write (`SET … FENCE lock token`) must pass.
//!
//! Entries are never dropped: forgetting one would let an old token pass
//! again. This module must not know about scopes or regions.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::keyspace::{Blob, blob};

/// A fenced write carried a token older than the newest seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FENCED token {token} is older than {newest}, the newest seen for this lock")]
pub struct Stale {
    /// The write's token.
    pub token: u64,
    /// The newest token seen for the lock.
    pub newest: u64,
}

/// The newest token seen per lock.
#[derive(Debug, Default)]
pub struct FenceTable {
    newest: Mutex<HashMap<Blob, u64>>,
}

impl FenceTable {
    /// Notes that `token` was granted or accepted for `name`.
    pub fn observe(&self, name: &[u8], token: u64) {
        let mut m = self.newest.lock();
        match m.get_mut(name) {
            Some(t) => *t = (*t).max(token),
            None => {
                m.insert(blob(name), token);
            }
        }
    }

    /// Admits a write carrying `token` if no newer token was seen, and
    /// raises the newest to it (check and raise are one step, so two fenced
    /// writes cannot both pass the check against each other's tokens).
    pub fn admit(&self, name: &[u8], token: u64) -> Result<(), Stale> {
        let mut m = self.newest.lock();
        let newest = m.get(name).copied().unwrap_or(0);
        if token < newest {
            return Err(Stale { token, newest });
        }
        if token > newest {
            m.insert(blob(name), token);
        }
        Ok(())
    }

    /// The newest token seen for `name` (0: none).
    pub fn newest(&self, name: &[u8]) -> u64 {
        self.newest.lock().get(name).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_tokens_are_refused_equal_and_newer_pass() {
        let f = FenceTable::default();
        assert_eq!(f.admit(b"l", 3), Ok(()));
        assert_eq!(f.admit(b"l", 3), Ok(()), "the holder writes again");
        assert_eq!(
            f.admit(b"l", 2),
            Err(Stale {
                token: 2,
                newest: 3
            })
        );
        f.observe(b"l", 5);
        f.observe(b"l", 4);
        assert_eq!(f.newest(b"l"), 5);
        assert!(f.admit(b"l", 4).is_err());
        assert_eq!(f.admit(b"other", 1), Ok(()));
    }
}

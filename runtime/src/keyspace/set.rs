//! Set values: unordered unique members.

use super::blob::{Blob, blob, heap_bytes};
use super::dict::{Dict, DictItem};

impl DictItem for Blob {
    fn key(&self) -> &[u8] {
        self
    }
}

const MEMBER_OVERHEAD: usize = std::mem::size_of::<Blob>() + 8;

/// A set with a running byte estimate.
#[derive(Debug, Clone, Default)]
pub struct SetValue {
    members: Dict<Blob>,
    bytes: usize,
}

impl SetValue {
    /// Estimated heap bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }
    /// True if there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    /// True if `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        self.members.get(m).is_some()
    }
    /// Adds `m`; returns true if it was not a member.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if self.contains(m) {
            return false;
        }
        let b = blob(m);
        self.bytes += MEMBER_OVERHEAD + heap_bytes(&b);
        self.members.insert(b);
        true
    }
    /// Removes `m`; returns true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.members.remove(m) {
            Some(old) => {
                self.bytes -= MEMBER_OVERHEAD + heap_bytes(&old);
                true
            }
            None => false,
        }
    }
    /// Removes and returns a random member.
    pub fn pop_random(&mut self) -> Option<Blob> {
        let i = self.members.random_index()?;
        let old = self.members.remove_at(i)?;
        self.bytes -= MEMBER_OVERHEAD + heap_bytes(&old);
        Some(old)
    }
    /// All members, in table order.
    pub fn iter(&self) -> impl Iterator<Item = &Blob> {
        self.members.iter()
    }
    /// The underlying dict (for scans and random sampling).
    pub fn dict(&self) -> &Dict<Blob> {
        &self.members
    }
}

//! Set values: unordered unique members.

use super::blob::{Blob, blob, heap_bytes};
use super::dict::{Dict, DictItem, hash_key};

impl DictItem for Blob {
    fn key(&self) -> &[u8] {
        self
    }
}

const MEMBER_OVERHEAD: usize = std::mem::size_of::<Blob>() + 8;

/// A set with a running byte estimate.
#[derive(Debug, Default)]
pub struct SetValue {
    members: Dict<Blob>,
    bytes: usize,
}

/// Copies every member with [`blob`], as `insert` makes them. A derived clone
/// would copy each `Blob` with `SmallVec::clone`, which rounds a spilled
/// capacity up to a power of two, so the copy's real bytes would no longer
/// match `bytes` (and removing a member could underflow it).
impl Clone for SetValue {
    fn clone(&self) -> Self {
        let mut members = Dict::new();
        for m in self.members.iter() {
            members.insert_new_hashed(hash_key(m), blob(m));
        }
        SetValue {
            members,
            bytes: self.bytes,
        }
    }
}

impl SetValue {
    /// Estimated heap bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// [`SetValue::bytes`] recomputed from scratch (for invariant checks).
    pub fn recount_bytes(&self) -> usize {
        self.members
            .iter()
            .map(|m| MEMBER_OVERHEAD + heap_bytes(m))
            .sum()
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
    /// Keeps only the members for which `keep` returns true (set algebra).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let mut freed = 0;
        self.members.retain(|m| {
            let k = keep(m);
            if !k {
                freed += MEMBER_OVERHEAD + heap_bytes(m);
            }
            k
        });
        self.bytes -= freed;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &SetValue) -> usize {
        s.iter().map(|m| MEMBER_OVERHEAD + heap_bytes(m)).sum()
    }

    #[test]
    fn bytes_stay_exact_through_clone_and_retain() {
        let mut s = SetValue::default();
        for i in 0..100u32 {
            s.insert(format!("{i:0>30}").as_bytes());
            s.insert(&i.to_be_bytes());
        }
        assert_eq!(s.bytes(), exact(&s));
        let mut c = s.clone();
        assert_eq!(c.bytes(), exact(&c));
        c.retain(|m| m.len() > 4);
        assert_eq!(c.len(), 100);
        assert_eq!(c.bytes(), exact(&c));
        let all: Vec<Blob> = c.iter().cloned().collect();
        for m in &all {
            assert!(c.remove(m));
        }
        assert_eq!(c.bytes(), 0);
        assert_eq!(s.len(), 200);
    }
}

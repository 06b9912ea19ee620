//! List values: a double-ended sequence of elements with a running byte
//! estimate. Every mutation goes through a method here so `bytes` stays the
//! exact sum of the elements' costs.

use std::collections::VecDeque;
use std::collections::vec_deque;

use super::blob::{Blob, blob, heap_bytes};

const ELEMENT_OVERHEAD: usize = std::mem::size_of::<Blob>();

/// A list with a running byte estimate.
#[derive(Debug, Clone, Default)]
pub struct ListValue {
    items: VecDeque<Blob>,
    bytes: usize,
}

fn cost(b: &Blob) -> usize {
    ELEMENT_OVERHEAD + heap_bytes(b)
}

impl ListValue {
    /// Estimated heap bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True if there are no elements.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Pushes at the head.
    pub fn push_front(&mut self, v: &[u8]) {
        self.push_front_blob(blob(v));
    }
    /// Pushes at the tail.
    pub fn push_back(&mut self, v: &[u8]) {
        self.push_back_blob(blob(v));
    }
    /// Pushes an owned element at the head (LMOVE moves it without a copy).
    pub fn push_front_blob(&mut self, b: Blob) {
        self.bytes += cost(&b);
        self.items.push_front(b);
    }
    /// Pushes an owned element at the tail.
    pub fn push_back_blob(&mut self, b: Blob) {
        self.bytes += cost(&b);
        self.items.push_back(b);
    }
    /// Pops from the head.
    pub fn pop_front(&mut self) -> Option<Blob> {
        let b = self.items.pop_front()?;
        self.bytes -= cost(&b);
        Some(b)
    }
    /// Pops from the tail.
    pub fn pop_back(&mut self) -> Option<Blob> {
        let b = self.items.pop_back()?;
        self.bytes -= cost(&b);
        Some(b)
    }
    /// Element at `index` (0-based from the head).
    pub fn get(&self, index: usize) -> Option<&Blob> {
        self.items.get(index)
    }
    /// Replaces the element at `index`; false if out of range.
    pub fn set(&mut self, index: usize, v: &[u8]) -> bool {
        match self.items.get_mut(index) {
            Some(slot) => {
                let b = blob(v);
                let added = cost(&b);
                let old = std::mem::replace(slot, b);
                self.bytes = self.bytes + added - cost(&old);
                true
            }
            None => false,
        }
    }
    /// Inserts before `index` (index == len appends).
    pub fn insert(&mut self, index: usize, v: &[u8]) {
        let b = blob(v);
        self.bytes += cost(&b);
        self.items.insert(index, b);
    }
    /// Removes the element at `index`.
    pub fn remove(&mut self, index: usize) -> Option<Blob> {
        let b = self.items.remove(index)?;
        self.bytes -= cost(&b);
        Some(b)
    }
    /// Keeps only elements `start..stop_exclusive` (already clamped by the
    /// caller; an empty or inverted range empties the list).
    pub fn keep_range(&mut self, start: usize, stop_exclusive: usize) {
        let stop = stop_exclusive.min(self.items.len());
        let start = start.min(stop);
        // Subtract what goes rather than re-summing what stays: LTRIM that
        // drops a few elements of a long list stays proportional to the drop.
        let removed: usize = self.items.range(stop..).map(cost).sum::<usize>()
            + self.items.range(..start).map(cost).sum::<usize>();
        self.items.truncate(stop);
        self.items.drain(..start);
        self.bytes -= removed;
    }
    /// Removes up to `limit` elements equal to `v` (0 = all), scanning from
    /// the tail if `from_tail`; returns how many were removed. O(len).
    pub fn remove_matching(&mut self, v: &[u8], limit: usize, from_tail: bool) -> usize {
        let total = self.items.iter().filter(|b| b.as_slice() == v).count();
        let n = if limit == 0 { total } else { total.min(limit) };
        if n == 0 {
            return 0;
        }
        // From the tail, the removed matches are the last `n`: skip the others.
        let mut skip = if from_tail { total - n } else { 0 };
        let mut left = n;
        let mut freed = 0;
        self.items.retain(|b| {
            if left == 0 || b.as_slice() != v {
                return true;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            left -= 1;
            freed += cost(b);
            false
        });
        self.bytes -= freed;
        n
    }
    /// Index of the first element equal to `v`, from the head.
    pub fn position(&self, v: &[u8]) -> Option<usize> {
        self.items.iter().position(|b| b.as_slice() == v)
    }
    /// Iterates from head to tail.
    pub fn iter(&self) -> vec_deque::Iter<'_, Blob> {
        self.items.iter()
    }
    /// Iterates elements `start..stop_exclusive` (clamped to the list).
    pub fn range(&self, start: usize, stop_exclusive: usize) -> vec_deque::Iter<'_, Blob> {
        let stop = stop_exclusive.min(self.items.len());
        self.items.range(start.min(stop)..stop)
    }
}

/// A list of exactly these elements, head first: no spare capacity, which a
/// list built by pushes keeps (a replicated list's base holds a second copy
/// of its elements for as long as it lives).
impl From<Vec<Blob>> for ListValue {
    fn from(items: Vec<Blob>) -> ListValue {
        let bytes = items.iter().map(cost).sum();
        ListValue {
            items: VecDeque::from(items),
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(l: &ListValue) -> usize {
        l.iter().map(cost).sum()
    }

    fn contents(l: &ListValue) -> Vec<&[u8]> {
        l.iter().map(|b| b.as_slice()).collect()
    }

    const LONG: &[u8] = b"an element long enough to live on the heap";

    #[test]
    fn byte_estimate_stays_exact() {
        let mut l = ListValue::default();
        for i in 0..20 {
            if i % 3 == 0 {
                l.push_front(LONG);
            } else {
                l.push_back(format!("e{i}").as_bytes());
            }
            assert_eq!(l.bytes(), exact(&l));
        }
        assert!(l.set(2, LONG));
        assert!(l.set(0, b"short"));
        assert!(!l.set(100, b"x"));
        assert_eq!(l.bytes(), exact(&l));
        l.insert(5, LONG);
        l.remove(1);
        assert_eq!(l.bytes(), exact(&l));
        l.push_back_blob(blob(LONG));
        l.push_front_blob(blob(b"x"));
        assert_eq!(l.bytes(), exact(&l));
        assert_eq!(l.remove_matching(LONG, 2, true), 2);
        assert_eq!(l.bytes(), exact(&l));
        l.keep_range(2, 10);
        assert_eq!(l.len(), 8);
        assert_eq!(l.bytes(), exact(&l));
        l.keep_range(5, 3);
        assert!(l.is_empty());
        assert_eq!(l.bytes(), 0);
    }

    #[test]
    fn remove_matching_respects_direction_and_limit() {
        let mut l = ListValue::default();
        for e in ["a", "b", "a", "c", "a"] {
            l.push_back(e.as_bytes());
        }
        assert_eq!(l.remove_matching(b"a", 1, true), 1);
        assert_eq!(contents(&l), [b"a" as &[u8], b"b", b"a", b"c"]);
        assert_eq!(l.remove_matching(b"a", 1, false), 1);
        assert_eq!(contents(&l), [b"b" as &[u8], b"a", b"c"]);
        assert_eq!(l.remove_matching(b"z", 0, false), 0);
        assert_eq!(l.remove_matching(b"a", 0, false), 1);
        assert_eq!(contents(&l), [b"b" as &[u8], b"c"]);
        assert_eq!(l.bytes(), exact(&l));
    }

    #[test]
    fn range_clamps() {
        let mut l = ListValue::default();
        for e in ["a", "b", "c"] {
            l.push_back(e.as_bytes());
        }
        assert_eq!(l.range(1, 10).len(), 2);
        assert_eq!(l.range(5, 10).len(), 0);
        assert_eq!(l.range(2, 1).len(), 0);
        assert_eq!(l.position(b"c"), Some(2));
        assert_eq!(l.position(b"z"), None);
    }
}

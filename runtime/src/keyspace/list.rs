//! List values: a double-ended sequence of elements.

use std::collections::VecDeque;

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
        let b = blob(v);
        self.bytes += cost(&b);
        self.items.push_front(b);
    }
    /// Pushes at the tail.
    pub fn push_back(&mut self, v: &[u8]) {
        let b = blob(v);
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
        let b = blob(v);
        let added = cost(&b);
        match self.items.get_mut(index) {
            Some(slot) => {
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
    /// Keeps only elements `start..=stop` (already clamped by the caller).
    pub fn keep_range(&mut self, start: usize, stop_exclusive: usize) {
        self.items.truncate(stop_exclusive);
        self.items.drain(..start.min(self.items.len()));
        self.bytes = self.items.iter().map(cost).sum();
    }
    /// Iterates from head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Blob> + ExactSizeIterator {
        self.items.iter()
    }
}

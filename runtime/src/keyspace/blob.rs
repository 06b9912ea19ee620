//! The byte container used for keys, string values and collection elements.

use smallvec::SmallVec;

/// Bytes stored inline up to 16 bytes, on the heap beyond.
///
/// Most cache keys and small values fit inline, so a key plus a short value costs
/// one allocation (the entry) instead of three. Size: 24 bytes.
pub type Blob = SmallVec<[u8; 16]>;

/// Copies a byte slice into a [`Blob`].
#[inline]
pub fn blob(bytes: &[u8]) -> Blob {
    SmallVec::from_slice(bytes)
}

/// Bytes a blob's content occupies outside its inline header, for memory
/// accounting.
///
/// A pure function of the content (length), not of the allocation's capacity:
/// collections add an element's cost when it is inserted and subtract it when
/// it is removed, so the cost must not change in between — and `clone`,
/// `shrink_to_fit` or growth change capacity but not content.
#[inline]
pub fn heap_bytes(b: &Blob) -> usize {
    if b.len() > b.inline_size() {
        b.len()
    } else {
        0
    }
}

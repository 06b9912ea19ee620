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

/// Bytes a blob occupies outside its inline header (what memory accounting adds).
#[inline]
pub fn heap_bytes(b: &Blob) -> usize {
    if b.spilled() { b.capacity() } else { 0 }
}

//! Hash values: field → value.

use super::blob::{Blob, blob, heap_bytes};
use super::dict::{Dict, DictItem, hash_key};

/// One field of a hash.
#[derive(Debug, Clone)]
pub struct Field {
    /// Field name.
    pub name: Blob,
    /// Field value.
    pub value: Blob,
}

impl DictItem for Field {
    fn key(&self) -> &[u8] {
        &self.name
    }
}

const FIELD_OVERHEAD: usize = std::mem::size_of::<Field>() + 8;

fn field_bytes(f: &Field) -> usize {
    FIELD_OVERHEAD + heap_bytes(&f.name) + heap_bytes(&f.value)
}

/// A hash with a running byte estimate.
#[derive(Debug, Default)]
pub struct HashValue {
    fields: Dict<Field>,
    bytes: usize,
}

/// Copies every field with [`blob`], as `set` makes them: a derived clone
/// would use `SmallVec::clone`, which rounds spilled capacities up to a power
/// of two and so breaks the exact `bytes` estimate (see `SetValue`'s clone).
impl Clone for HashValue {
    fn clone(&self) -> Self {
        let mut fields = Dict::new();
        for f in self.fields.iter() {
            let copy = Field {
                name: blob(&f.name),
                value: blob(&f.value),
            };
            fields.insert_new_hashed(hash_key(&f.name), copy);
        }
        HashValue {
            fields,
            bytes: self.bytes,
        }
    }
}

impl HashValue {
    /// Estimated heap bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// [`HashValue::bytes`] recomputed from scratch (for invariant checks).
    pub fn recount_bytes(&self) -> usize {
        self.fields.iter().map(field_bytes).sum()
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }
    /// True if there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
    /// The value of `name`.
    pub fn get(&self, name: &[u8]) -> Option<&Blob> {
        self.fields.get(name).map(|f| &f.value)
    }
    /// Sets `name` to `value`; returns true if the field is new.
    pub fn set(&mut self, name: &[u8], value: &[u8]) -> bool {
        let field = Field {
            name: blob(name),
            value: blob(value),
        };
        self.bytes += field_bytes(&field);
        match self.fields.insert(field) {
            Some(old) => {
                self.bytes -= field_bytes(&old);
                false
            }
            None => true,
        }
    }
    /// Removes `name`; returns true if it existed.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        match self.fields.remove(name) {
            Some(old) => {
                self.bytes -= field_bytes(&old);
                true
            }
            None => false,
        }
    }
    /// All fields, in table order.
    pub fn iter(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter()
    }
    /// The underlying dict (for scans and random sampling).
    pub fn dict(&self) -> &Dict<Field> {
        &self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(h: &HashValue) -> usize {
        h.iter().map(field_bytes).sum()
    }

    #[test]
    fn bytes_stay_exact_through_overwrite_clone_and_remove() {
        let mut h = HashValue::default();
        for i in 0..50u32 {
            let long = format!("{i:0>30}");
            h.set(long.as_bytes(), b"v");
            h.set(&i.to_be_bytes(), long.as_bytes());
        }
        h.set(b"\0\0\0\x01", b"short again");
        assert_eq!(h.bytes(), exact(&h));
        let mut c = h.clone();
        assert_eq!(c.bytes(), exact(&c));
        let names: Vec<Blob> = c.iter().map(|f| f.name.clone()).collect();
        for n in &names {
            assert!(c.remove(n));
        }
        assert_eq!(c.bytes(), 0);
        assert_eq!(h.len(), 100);
    }
}

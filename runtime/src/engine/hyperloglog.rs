//! HyperLogLog commands on a [`Txn`]: PFADD, PFCOUNT, PFMERGE. A sketch is a
//! string in Redis's format (see `hll_format`), so it can be read with GET and
//! moved to or from Redis with GET/SET.
//!
//! With replication a sketch is one string value, so concurrent PFADDs to
//! one key in two regions keep one region's sketch (last writer wins), like
//! every other value today; the register-wise-max CRDT in `crdt::Hll` is the
//! element-level rule still to be wired in (see docs/semantics.md).

use super::hll_format::{self, FormatError};
use super::{EngineError, EngineResult, Txn};
use crate::keyspace::{Blob, Kind, Value, blob};

impl From<FormatError> for EngineError {
    fn from(e: FormatError) -> EngineError {
        match e {
            FormatError::NotHll => EngineError::NotHll,
            FormatError::Corrupt => EngineError::CorruptHll,
        }
    }
}

impl Txn<'_> {
    /// The registers of the sketch at `key`; `None` if the key is missing.
    fn hll_registers(&mut self, key: &[u8]) -> EngineResult<Option<Vec<u8>>> {
        match self.read_kind(key, Kind::Str)? {
            Some(Value::Str(b)) => Ok(Some(hll_format::registers(b)?)),
            _ => Ok(None),
        }
    }

    /// PFADD: true if the sketch was created or a register rose. A dense
    /// sketch is updated in place; nothing is written (or replicated) when
    /// no register rises.
    pub fn pfadd(&mut self, key: &[u8], elements: &[&[u8]]) -> EngineResult<bool> {
        let rebuilt = match self.peek(key)? {
            None => Some(hll_format::empty_dense()),
            Some(e) => match &e.value {
                Value::Str(b) if hll_format::check(b)? => {
                    if !elements.iter().any(|el| hll_format::would_raise(b, el)) {
                        return Ok(false);
                    }
                    None
                }
                // Sparse (from Redis): written back dense.
                Value::Str(b) => {
                    let mut v = b.to_vec();
                    hll_format::make_dense(&mut v)?;
                    Some(v)
                }
                _ => return Err(EngineError::WrongType),
            },
        };
        let created = rebuilt.is_some();
        let mut entry = self.write_kind(key, Kind::Str, || Value::Str(Blob::new()))?;
        if let Some(v) = rebuilt {
            entry.value = Value::Str(blob(&v));
        }
        let mut changed = created;
        if let Value::Str(b) = &mut entry.value {
            for el in elements {
                changed |= hll_format::dense_add(b, el);
            }
        }
        Ok(changed)
    }

    /// PFCOUNT of one key, or of the union of several.
    pub fn pfcount(&mut self, keys: &[&[u8]]) -> EngineResult<u64> {
        let mut union: Option<Vec<u8>> = None;
        for key in keys {
            if let Some(regs) = self.hll_registers(key)? {
                match &mut union {
                    Some(u) => hll_format::max_into(u, &regs),
                    None => union = Some(regs),
                }
            }
        }
        Ok(union.map_or(0, |u| hll_format::count(&u)))
    }

    /// PFMERGE: `dest` becomes the union of itself and `sources`.
    pub fn pfmerge(&mut self, dest: &[u8], sources: &[&[u8]]) -> EngineResult<()> {
        let mut union = self
            .hll_registers(dest)?
            .unwrap_or_else(|| vec![0; crate::crdt::HLL_REGISTERS]);
        for key in sources {
            if let Some(regs) = self.hll_registers(key)? {
                hll_format::max_into(&mut union, &regs);
            }
        }
        let sketch = hll_format::dense_from(&union);
        let mut entry = self.write_kind(dest, Kind::Str, || Value::Str(Blob::new()))?;
        entry.value = Value::Str(blob(&sketch));
        Ok(())
    }
}

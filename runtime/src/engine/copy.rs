//! COPY: duplicates a key's value and expiry under another name. The copy is
//! a deep clone, so later writes to either key never show in the other.
//! Only database 0 exists, so the choice of database is the front end's.

use super::{EngineResult, Txn};
use crate::keyspace::Value;

impl Txn<'_> {
    /// COPY `src` to `dst`; false if `src` is missing or `dst` exists and
    /// `replace` is false. `src` and `dst` must differ.
    pub fn copy(&mut self, src: &[u8], dst: &[u8], replace: bool) -> EngineResult<bool> {
        let Some((value, expire_at)) = self.read(src)?.map(|e| (e.value.clone(), e.expire_at))
        else {
            return Ok(false);
        };
        if !replace && self.peek(dst)?.is_some() {
            return Ok(false);
        }
        let fills_waiters = matches!(value, Value::ZSet(_));
        self.put(dst, value, expire_at)?;
        if fills_waiters {
            self.signal_ready(dst);
        }
        Ok(true)
    }
}

//! DUMP and RESTORE in Meridian's own serialization format: the value as
//! the replication wire form (`WireValue`, MessagePack), then a 2-byte
//! format version and an 8-byte checksum (the first bytes of SHA-1 over
//! everything before it) — the same layout as Redis's DUMP payload
//! (body, version, checksum), but not Redis's RDB body, so payloads move
//! between Meridian servers, not to or from Redis.
//!
//! This module must not parse RESP options; RESTORE's options arrive
//! typed in [`RestoreOptions`].

use sha1::{Digest, Sha1};

use super::change::WireValue;
use super::{EngineError, EngineResult, Txn};
use crate::keyspace::{Value, lru_clock};

/// The payload format this build writes and reads.
const FORMAT_VERSION: u16 = 1;
const TRAILER: usize = 2 + 8;

fn checksum(bytes: &[u8]) -> [u8; 8] {
    let digest = Sha1::digest(bytes);
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// The DUMP payload of `value`.
pub fn encode(value: &Value) -> EngineResult<Vec<u8>> {
    let mut out = rmp_serde::to_vec(&WireValue::of(value))
        .map_err(|_| EngineError::Invalid("DUMP could not encode the value".into()))?;
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let sum = checksum(&out);
    out.extend_from_slice(&sum);
    Ok(out)
}

/// The value in a DUMP payload, with Redis's errors for a payload that is
/// damaged or from another format.
pub fn decode(payload: &[u8]) -> EngineResult<Value> {
    let wrong = || EngineError::Invalid("DUMP payload version or checksum are wrong".into());
    if payload.len() < TRAILER {
        return Err(wrong());
    }
    let (signed, sum) = payload.split_at(payload.len() - 8);
    let (body, version) = signed.split_at(signed.len() - 2);
    if u16::from_le_bytes([version[0], version[1]]) != FORMAT_VERSION || checksum(signed) != sum {
        return Err(wrong());
    }
    let wire: WireValue =
        rmp_serde::from_slice(body).map_err(|_| EngineError::Invalid("Bad data format".into()))?;
    let value = match wire {
        // A document's bytes are checked here, not trusted as a peer's are.
        WireValue::Doc(bytes) => Value::Doc(Box::new(
            crate::docs::Document::load(&bytes)
                .map_err(|_| EngineError::Invalid("Bad data format".into()))?,
        )),
        other => other.into_value(),
    };
    if value.is_empty_collection() {
        return Err(EngineError::Invalid("Bad data format".into()));
    }
    Ok(value)
}

/// RESTORE's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Milliseconds to live (0 = no TTL), or an absolute Unix-ms deadline
    /// with `abs_ttl`.
    pub ttl_ms: u64,
    /// ABSTTL.
    pub abs_ttl: bool,
    /// REPLACE an existing key.
    pub replace: bool,
    /// IDLETIME, in seconds.
    pub idle_secs: Option<u64>,
    /// FREQ (LFU counter).
    pub freq: Option<u8>,
}

impl Txn<'_> {
    /// DUMP: the payload of `key`, or `None` if it does not exist.
    pub fn dump(&mut self, key: &[u8]) -> EngineResult<Option<Vec<u8>>> {
        match self.read(key)? {
            Some(e) => encode(&e.value).map(Some),
            None => Ok(None),
        }
    }

    /// RESTORE: stores the payload's value at `key`. The caller has
    /// checked that `key` may be written (BUSYKEY without REPLACE). A
    /// deadline already past only deletes the key, as in Redis.
    pub fn restore(&mut self, key: &[u8], payload: &[u8], o: &RestoreOptions) -> EngineResult<()> {
        let value = decode(payload)?;
        let now = self.now_ms();
        let expire_at = match (o.ttl_ms, o.abs_ttl) {
            (0, _) => 0,
            (t, true) => t,
            (t, false) => now.saturating_add(t),
        };
        if expire_at != 0 && expire_at <= now {
            if o.replace {
                self.delete(key)?;
            }
            return Ok(());
        }
        self.put(key, value, expire_at)?;
        if let Some(mut e) = self.write(key)? {
            if let Some(idle) = o.idle_secs {
                e.lru = lru_clock(now.saturating_sub(idle.saturating_mul(1000)));
            }
            if let Some(freq) = o.freq {
                e.lfu = freq;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{SortedSet, blob};

    #[test]
    fn payloads_round_trip_and_detect_damage() {
        let mut z = SortedSet::default();
        z.insert(b"a", 1.5);
        z.insert(b"b", -2.0);
        let p = encode(&Value::ZSet(Box::new(z))).unwrap();
        let Value::ZSet(back) = decode(&p).unwrap() else {
            panic!("not a zset")
        };
        assert_eq!(back.score(b"a"), Some(1.5));
        assert_eq!(back.score(b"b"), Some(-2.0));
        let mut bad = p.clone();
        bad[0] ^= 1;
        assert!(decode(&bad).is_err());
        assert!(decode(b"short").is_err());
        let s = encode(&Value::Str(blob(b"hello"))).unwrap();
        assert!(matches!(decode(&s), Ok(Value::Str(v)) if v.as_slice() == b"hello"));
    }
}

//! `meridian:cache/cache`: byte values with TTLs, mirroring GET/SET (NX, XX,
//! PX, KEEPTTL), MGET/MSET, DEL, EXISTS, PEXPIRE, PTTL, PERSIST and SCAN
//! MATCH, plus compare-and-swap and get-or-set, each atomic in one `Txn`.

use super::super::bindings::meridian::cache::cache::{
    Condition, Host, ScanPage, SetOptions, TimeToLive,
};
use super::super::sandbox::guest_error;
use super::super::state::GuestState;
use super::{HostResult, deadline};
use crate::engine::keys::{ExpireCondition, ScanOptions, TtlState};
use crate::engine::strings::{Expiry, SetCondition, SetOptions as EngineSetOptions};
use crate::keyspace::Blob;

/// Escapes glob metacharacters so a prefix matches only itself.
fn glob_escape(text: &[u8], out: &mut Vec<u8>) {
    for &b in text {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn expiry(now_ms: u64, ttl_ms: Option<u64>, keep: bool) -> HostResult<Expiry> {
    match (ttl_ms, keep) {
        (Some(_), true) => Err(super::types::Error::Other(
            "keep-ttl and ttl-ms are exclusive".into(),
        )),
        (None, true) => Ok(Expiry::Keep),
        (Some(ms), false) => Ok(Expiry::At(deadline(now_ms, ms)?)),
        (None, false) => Ok(Expiry::Clear),
    }
}

impl Host for GuestState {
    fn get(&mut self, key: String) -> HostResult<Option<Vec<u8>>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(t.get(&k).map_err(guest_error)?.map(<[u8]>::to_vec))
    }

    fn set(&mut self, key: String, value: Vec<u8>, options: SetOptions) -> HostResult<bool> {
        let k = self.key(&key)?;
        self.check_value(&value)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let opts = EngineSetOptions {
            condition: match options.condition {
                Condition::Always => SetCondition::Always,
                Condition::OnlyIfAbsent => SetCondition::IfAbsent,
                Condition::OnlyIfPresent => SetCondition::IfPresent,
            },
            expiry: expiry(t.now_ms(), options.ttl_ms, options.keep_ttl)?,
            get: false,
        };
        Ok(t.set(&k, &value, &opts).map_err(guest_error)?.written)
    }

    fn get_many(&mut self, keys: Vec<String>) -> HostResult<Vec<Option<Vec<u8>>>> {
        let ks = keys
            .iter()
            .map(|k| self.key(k))
            .collect::<Result<Vec<_>, _>>()?;
        let mut t = self.txn(ks.iter().map(Vec::as_slice));
        ks.iter()
            .map(|k| Ok(t.get(k).map_err(guest_error)?.map(<[u8]>::to_vec)))
            .collect()
    }

    fn set_many(&mut self, entries: Vec<(String, Vec<u8>)>, ttl_ms: Option<u64>) -> HostResult<()> {
        let ks = entries
            .iter()
            .map(|(k, _)| self.key(k))
            .collect::<Result<Vec<_>, _>>()?;
        for (_, v) in &entries {
            self.check_value(v)?;
        }
        self.writable()?;
        let mut t = self.txn(ks.iter().map(Vec::as_slice));
        let opts = EngineSetOptions {
            expiry: expiry(t.now_ms(), ttl_ms, false)?,
            ..EngineSetOptions::default()
        };
        for (k, (_, v)) in ks.iter().zip(&entries) {
            t.set(k, v, &opts).map_err(guest_error)?;
        }
        Ok(())
    }

    fn delete(&mut self, key: String) -> HostResult<bool> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        t.delete(&k).map_err(guest_error)
    }

    fn exists(&mut self, key: String) -> HostResult<bool> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        t.exists(&k).map_err(guest_error)
    }

    fn expire(&mut self, key: String, ttl_ms: u64) -> HostResult<bool> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let at = deadline(t.now_ms(), ttl_ms)?;
        t.expire_at(&k, at, ExpireCondition::Always)
            .map_err(guest_error)
    }

    fn ttl(&mut self, key: String) -> HostResult<TimeToLive> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        let now = t.now_ms();
        Ok(match t.ttl(&k).map_err(guest_error)? {
            TtlState::Missing => TimeToLive::Missing,
            TtlState::Persistent => TimeToLive::Persistent,
            TtlState::ExpiresAt(at) => TimeToLive::ExpiresIn(at.saturating_sub(now)),
        })
    }

    fn persist(&mut self, key: String) -> HostResult<bool> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        t.persist(&k).map_err(guest_error)
    }

    fn scan(&mut self, prefix: String, cursor: u64, count: u32) -> HostResult<ScanPage> {
        // An absolute prefix scans a granted namespace; its keys come back
        // absolute too.
        let scoped = self.key(&prefix)?;
        let mut pattern = Vec::with_capacity(scoped.len() + 1);
        glob_escape(&scoped, &mut pattern);
        pattern.push(b'*');
        let mut t = self.engine().txn_none();
        let opts = ScanOptions {
            pattern: Some(&pattern),
            count: count.clamp(1, 100_000) as usize,
            kind: None,
        };
        let (next, found) = t.scan(cursor, &opts).map_err(guest_error)?;
        let absolute = prefix.starts_with('/');
        let keys = found
            .iter()
            .filter_map(|k: &Blob| {
                let name = if absolute {
                    let mut s = String::from("/");
                    s.push_str(std::str::from_utf8(k).ok()?);
                    return Some(s);
                } else {
                    self.sandbox().unscope(k)?
                };
                std::str::from_utf8(name).ok().map(str::to_string)
            })
            .collect();
        Ok(ScanPage {
            keys,
            next_cursor: next,
        })
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> HostResult<bool> {
        let k = self.key(&key)?;
        self.check_value(&new)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let current = t.get(&k).map_err(guest_error)?;
        if current != expected.as_deref() {
            return Ok(false);
        }
        let opts = EngineSetOptions {
            expiry: expiry(t.now_ms(), ttl_ms, false)?,
            ..EngineSetOptions::default()
        };
        t.set(&k, &new, &opts).map_err(guest_error)?;
        Ok(true)
    }

    fn get_or_set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> HostResult<Option<Vec<u8>>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        if let Some(v) = t.get(&k).map_err(guest_error)? {
            return Ok(Some(v.to_vec()));
        }
        drop(t);
        self.check_value(&value)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let opts = EngineSetOptions {
            condition: SetCondition::IfAbsent,
            expiry: expiry(t.now_ms(), ttl_ms, false)?,
            get: false,
        };
        if t.set(&k, &value, &opts).map_err(guest_error)?.written {
            return Ok(None);
        }
        // Another writer filled it between the two transactions: theirs wins.
        Ok(t.get(&k).map_err(guest_error)?.map(<[u8]>::to_vec))
    }
}

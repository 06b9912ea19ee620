//! `wasi:keyvalue@0.2.0-draft` (store, atomics, batch) over the engine, so
//! components written for other hosts run unchanged. A bucket is a key
//! namespace: `open("")` (or the module's own namespace) opens the module's
//! namespace; a granted namespace opens that one; anything else is
//! `access-denied`. Keys are stored as `namespace:key`, exactly as the
//! `meridian:cache` interfaces store them, so both views share data.

use wasmtime::component::Resource;

use super::super::sandbox::guest_error;
use super::super::state::GuestState;
use crate::engine::EngineError;
use crate::engine::keys::ScanOptions;
use crate::engine::strings::SetOptions;

/// The generated host bindings of the three interfaces.
pub mod bindings {
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../wit",
        interfaces: "
            import wasi:keyvalue/store@0.2.0-draft;
            import wasi:keyvalue/atomics@0.2.0-draft;
            import wasi:keyvalue/batch@0.2.0-draft;
        ",
        imports: { default: trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
        },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// An open bucket: the namespace its keys live in.
pub struct Bucket {
    namespace: String,
}

type KvResult<T> = wasmtime::Result<Result<T, store::Error>>;

fn kv_error(e: EngineError) -> store::Error {
    use super::super::bindings::GuestError as G;
    match guest_error(e) {
        G::AccessDenied => store::Error::AccessDenied,
        G::Other(m) => store::Error::Other(m),
        other => store::Error::Other(format!("{other:?}").to_lowercase()),
    }
}

impl GuestState {
    fn bucket_key(&mut self, bucket: &Resource<Bucket>, key: &str) -> wasmtime::Result<Vec<u8>> {
        let b = self.table().get(bucket)?;
        let mut k = Vec::with_capacity(b.namespace.len() + 1 + key.len());
        k.extend_from_slice(b.namespace.as_bytes());
        k.push(b':');
        k.extend_from_slice(key.as_bytes());
        Ok(k)
    }

    fn kv_writable(&self) -> Result<(), store::Error> {
        self.writable().map_err(|e| match e {
            super::super::bindings::GuestError::AccessDenied => store::Error::AccessDenied,
            other => store::Error::Other(format!("{other:?}").to_lowercase()),
        })
    }
}

impl store::Host for GuestState {
    fn open(&mut self, identifier: String) -> KvResult<Resource<Bucket>> {
        let sandbox = self.sandbox();
        let namespace = if identifier.is_empty() || identifier == sandbox.namespace {
            sandbox.namespace.clone()
        } else if sandbox.grants.contains(&identifier) {
            identifier
        } else {
            return Ok(Err(store::Error::AccessDenied));
        };
        Ok(Ok(self.table().push(Bucket { namespace })?))
    }
}

impl store::HostBucket for GuestState {
    fn get(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<Option<Vec<u8>>> {
        let k = self.bucket_key(&bucket, &key)?;
        let mut t = self.txn_one(&k);
        Ok(t.get(&k).map(|v| v.map(<[u8]>::to_vec)).map_err(kv_error))
    }

    fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> KvResult<()> {
        let k = self.bucket_key(&bucket, &key)?;
        if let Err(e) = self.kv_writable() {
            return Ok(Err(e));
        }
        let mut t = self.txn_one(&k);
        Ok(t.set(&k, &value, &SetOptions::default())
            .map(|_| ())
            .map_err(kv_error))
    }

    fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<()> {
        let k = self.bucket_key(&bucket, &key)?;
        if let Err(e) = self.kv_writable() {
            return Ok(Err(e));
        }
        let mut t = self.txn_one(&k);
        Ok(t.delete(&k).map(|_| ()).map_err(kv_error))
    }

    fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<bool> {
        let k = self.bucket_key(&bucket, &key)?;
        let mut t = self.txn_one(&k);
        Ok(t.exists(&k).map_err(kv_error))
    }

    fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> KvResult<store::KeyResponse> {
        let ns = self.table().get(&bucket)?.namespace.clone();
        let mut pattern = Vec::with_capacity(ns.len() + 2);
        for &b in ns.as_bytes() {
            if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
                pattern.push(b'\\');
            }
            pattern.push(b);
        }
        pattern.extend_from_slice(b":*");
        let opts = ScanOptions {
            pattern: Some(&pattern),
            count: 256,
            kind: None,
        };
        let mut t = self.engine().txn_none();
        let (next, found) = match t.scan(cursor.unwrap_or(0), &opts) {
            Ok(r) => r,
            Err(e) => return Ok(Err(kv_error(e))),
        };
        let prefix_len = ns.len() + 1;
        let keys = found
            .iter()
            .filter_map(|k| std::str::from_utf8(k.get(prefix_len..)?).ok())
            .map(str::to_string)
            .collect();
        Ok(Ok(store::KeyResponse {
            keys,
            cursor: (next != 0).then_some(next),
        }))
    }

    fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table().delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for GuestState {
    fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: u64) -> KvResult<u64> {
        let k = self.bucket_key(&bucket, &key)?;
        if let Err(e) = self.kv_writable() {
            return Ok(Err(e));
        }
        let Ok(delta) = i64::try_from(delta) else {
            return Ok(Err(kv_error(EngineError::Overflow)));
        };
        let mut t = self.txn_one(&k);
        Ok(t.incr_by(&k, delta)
            .map_err(kv_error)
            .and_then(|v| u64::try_from(v).map_err(|_| kv_error(EngineError::NotInteger))))
    }
}

impl batch::Host for GuestState {
    fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> KvResult<Vec<Option<(String, Vec<u8>)>>> {
        let ks = keys
            .iter()
            .map(|k| self.bucket_key(&bucket, k))
            .collect::<wasmtime::Result<Vec<_>>>()?;
        let mut t = self.txn(ks.iter().map(Vec::as_slice));
        let mut out = Vec::with_capacity(ks.len());
        for (k, name) in ks.iter().zip(keys) {
            match t.get(k) {
                Ok(v) => out.push(v.map(|v| (name, v.to_vec()))),
                Err(e) => return Ok(Err(kv_error(e))),
            }
        }
        Ok(Ok(out))
    }

    fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> KvResult<()> {
        let ks = key_values
            .iter()
            .map(|(k, _)| self.bucket_key(&bucket, k))
            .collect::<wasmtime::Result<Vec<_>>>()?;
        if let Err(e) = self.kv_writable() {
            return Ok(Err(e));
        }
        let mut t = self.txn(ks.iter().map(Vec::as_slice));
        for (k, (_, v)) in ks.iter().zip(&key_values) {
            if let Err(e) = t.set(k, v, &SetOptions::default()) {
                return Ok(Err(kv_error(e)));
            }
        }
        Ok(Ok(()))
    }

    fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> KvResult<()> {
        let ks = keys
            .iter()
            .map(|k| self.bucket_key(&bucket, k))
            .collect::<wasmtime::Result<Vec<_>>>()?;
        if let Err(e) = self.kv_writable() {
            return Ok(Err(e));
        }
        let mut t = self.txn(ks.iter().map(Vec::as_slice));
        for k in &ks {
            if let Err(e) = t.delete(k) {
                return Ok(Err(kv_error(e)));
            }
        }
        Ok(Ok(()))
    }
}

//! `meridian:cache/counter`: integer and float counters stored as decimal
//! strings, mirroring INCRBY, DECRBY, GET and INCRBYFLOAT.

use super::super::bindings::meridian::cache::counter::Host;
use super::super::sandbox::guest_error;
use super::super::state::GuestState;
use super::HostResult;
use crate::engine::EngineError;
use crate::engine::number::{parse_f64, parse_i64};

impl Host for GuestState {
    fn incr(&mut self, key: String, delta: i64) -> HostResult<i64> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        t.incr_by(&k, delta).map_err(guest_error)
    }

    fn decr(&mut self, key: String, delta: i64) -> HostResult<i64> {
        let delta = delta
            .checked_neg()
            .ok_or_else(|| guest_error(EngineError::Overflow))?;
        self.incr(key, delta)
    }

    fn get(&mut self, key: String) -> HostResult<i64> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        match t.get(&k).map_err(guest_error)? {
            None => Ok(0),
            Some(v) => parse_i64(v).ok_or_else(|| guest_error(EngineError::NotInteger)),
        }
    }

    fn incr_float(&mut self, key: String, delta: f64) -> HostResult<f64> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let v = t.incr_by_float(&k, delta).map_err(guest_error)?;
        parse_f64(&v).ok_or_else(|| guest_error(EngineError::NotFloat))
    }
}

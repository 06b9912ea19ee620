//! `meridian:cache/hash`, `set`, `sorted-set`, `list` and `pubsub`: the
//! collection types guests need for sessions, leaderboards and queues,
//! mirroring HSET/HGET/HDEL/HGETALL/HINCRBY/HLEN, SADD/SREM/SISMEMBER/
//! SMEMBERS/SCARD, ZADD/ZINCRBY/ZREM/ZSCORE/ZRANK/ZRANGE/ZCARD,
//! LPUSH/RPUSH/LPOP/RPOP/LRANGE/LTRIM/LLEN and PUBLISH.

use bytes::Bytes;

use super::super::bindings::meridian::cache::list::End;
use super::super::bindings::meridian::cache::sorted_set::Scored;
use super::super::bindings::meridian::cache::{hash, list, pubsub, set, sorted_set};
use super::super::sandbox::guest_error;
use super::super::state::GuestState;
use super::{HostResult, count};
use crate::engine::lists::End as EngineEnd;
use crate::engine::zsets::{ZAddOptions, ZRange, ZRangeSpec};

impl hash::Host for GuestState {
    fn get(&mut self, key: String, field: String) -> HostResult<Option<Vec<u8>>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(t.hget(&k, field.as_bytes())
            .map_err(guest_error)?
            .map(<[u8]>::to_vec))
    }

    fn set(&mut self, key: String, fields: Vec<(String, Vec<u8>)>) -> HostResult<u32> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let n = t
            .hset(&k, fields.iter().map(|(f, v)| (f.as_bytes(), v.as_slice())))
            .map_err(guest_error)?;
        Ok(count(n))
    }

    fn delete(&mut self, key: String, fields: Vec<String>) -> HostResult<u32> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let n = t
            .hdel(&k, fields.iter().map(String::as_bytes))
            .map_err(guest_error)?;
        Ok(count(n))
    }

    fn get_all(&mut self, key: String) -> HostResult<Vec<(String, Vec<u8>)>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(match t.hash(&k).map_err(guest_error)? {
            None => Vec::new(),
            Some(h) => h
                .iter()
                .map(|f| {
                    (
                        String::from_utf8_lossy(&f.name).into_owned(),
                        f.value.to_vec(),
                    )
                })
                .collect(),
        })
    }

    fn incr(&mut self, key: String, field: String, delta: i64) -> HostResult<i64> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        t.hincrby(&k, field.as_bytes(), delta).map_err(guest_error)
    }

    fn len(&mut self, key: String) -> HostResult<u32> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(count(t.hlen(&k).map_err(guest_error)?))
    }
}

impl set::Host for GuestState {
    fn add(&mut self, key: String, members: Vec<Vec<u8>>) -> HostResult<u32> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let n = t
            .sadd(&k, members.iter().map(Vec::as_slice))
            .map_err(guest_error)?;
        Ok(count(n))
    }

    fn remove(&mut self, key: String, members: Vec<Vec<u8>>) -> HostResult<u32> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let n = t
            .srem(&k, members.iter().map(Vec::as_slice))
            .map_err(guest_error)?;
        Ok(count(n))
    }

    fn contains(&mut self, key: String, member: Vec<u8>) -> HostResult<bool> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        t.sismember(&k, &member).map_err(guest_error)
    }

    fn members(&mut self, key: String) -> HostResult<Vec<Vec<u8>>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(match t.set_members(&k).map_err(guest_error)? {
            None => Vec::new(),
            Some(s) => s.iter().map(|m| m.to_vec()).collect(),
        })
    }

    fn len(&mut self, key: String) -> HostResult<u32> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(count(t.scard(&k).map_err(guest_error)?))
    }
}

impl sorted_set::Host for GuestState {
    fn add(&mut self, key: String, members: Vec<Scored>) -> HostResult<u32> {
        let k = self.key(&key)?;
        self.writable()?;
        let pairs: Vec<(f64, &[u8])> = members
            .iter()
            .map(|m| (m.score, m.member.as_slice()))
            .collect();
        let mut t = self.txn_one(&k);
        let counts = t
            .zadd(&k, &ZAddOptions::default(), &pairs)
            .map_err(guest_error)?;
        Ok(count(counts.added))
    }

    fn incr(&mut self, key: String, member: Vec<u8>, delta: f64) -> HostResult<f64> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        t.zincrby(&k, delta, &member).map_err(guest_error)
    }

    fn remove(&mut self, key: String, members: Vec<Vec<u8>>) -> HostResult<u32> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let n = t
            .zrem(&k, members.iter().map(Vec::as_slice))
            .map_err(guest_error)?;
        Ok(count(n))
    }

    fn score(&mut self, key: String, member: Vec<u8>) -> HostResult<Option<f64>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        t.zscore(&k, &member).map_err(guest_error)
    }

    fn rank(&mut self, key: String, member: Vec<u8>, descending: bool) -> HostResult<Option<u64>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(t.zrank(&k, &member, descending)
            .map_err(guest_error)?
            .map(|(r, _)| r as u64))
    }

    fn range_by_rank(
        &mut self,
        key: String,
        start: i64,
        stop: i64,
        descending: bool,
    ) -> HostResult<Vec<Scored>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        let spec = ZRangeSpec {
            range: ZRange::Rank { start, stop },
            rev: descending,
            limit: None,
        };
        Ok(t.zrange(&k, &spec)
            .map_err(guest_error)?
            .into_iter()
            .map(|(m, score)| Scored {
                member: m.to_vec(),
                score,
            })
            .collect())
    }

    fn len(&mut self, key: String) -> HostResult<u32> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(count(t.zcard(&k).map_err(guest_error)?))
    }
}

fn end(e: End) -> EngineEnd {
    match e {
        End::Front => EngineEnd::Left,
        End::Back => EngineEnd::Right,
    }
}

impl list::Host for GuestState {
    fn push(&mut self, key: String, at: End, values: Vec<Vec<u8>>) -> HostResult<u32> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        let n = t
            .list_push(&k, end(at), values.iter().map(Vec::as_slice), false)
            .map_err(guest_error)?;
        Ok(count(n))
    }

    fn pop(&mut self, key: String, at: End, n: u32) -> HostResult<Vec<Vec<u8>>> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        Ok(t.list_pop(&k, end(at), n as usize)
            .map_err(guest_error)?
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.to_vec())
            .collect())
    }

    fn range(&mut self, key: String, start: i64, stop: i64) -> HostResult<Vec<Vec<u8>>> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(t.lrange(&k, start, stop)
            .map_err(guest_error)?
            .map(<[u8]>::to_vec)
            .collect())
    }

    fn trim(&mut self, key: String, start: i64, stop: i64) -> HostResult<()> {
        let k = self.key(&key)?;
        self.writable()?;
        let mut t = self.txn_one(&k);
        t.ltrim(&k, start, stop).map_err(guest_error)
    }

    fn len(&mut self, key: String) -> HostResult<u32> {
        let k = self.key(&key)?;
        let mut t = self.txn_one(&k);
        Ok(count(t.llen(&k).map_err(guest_error)?))
    }
}

impl pubsub::Host for GuestState {
    fn publish(&mut self, channel: String, message: Vec<u8>) -> HostResult<u32> {
        let c = Bytes::from(self.key(&channel)?);
        Ok(count(
            self.engine().broker().publish(&c, &Bytes::from(message)),
        ))
    }
}

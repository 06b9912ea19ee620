//! Memory accounting stays exact under a random mix of writes of every type:
//! after the workload, the incrementally maintained counters equal a full
//! recount of every entry (the invariant `maxmemory` relies on).

use meridian_tests::TestServer;

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn counters_match_a_recount_after_random_writes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut rng = Lcg(42);
    let long = "x".repeat(100);
    for i in 0..4000u64 {
        let key = format!("k{}", rng.next(60));
        let member = format!("m{}", rng.next(30));
        let value = if rng.next(4) == 0 {
            long.clone()
        } else {
            format!("v{i}")
        };
        let cmd = match rng.next(22) {
            0 => redis::cmd("SET").arg(&key).arg(&value).clone(),
            1 => redis::cmd("APPEND").arg(&key).arg(&value).clone(),
            2 => redis::cmd("SETRANGE")
                .arg(&key)
                .arg(rng.next(40))
                .arg(&value)
                .clone(),
            3 => redis::cmd("HSET")
                .arg(&key)
                .arg(&member)
                .arg(&value)
                .clone(),
            4 => redis::cmd("HDEL").arg(&key).arg(&member).clone(),
            5 => redis::cmd("HINCRBY").arg(&key).arg(&member).arg(3).clone(),
            6 => redis::cmd("SADD")
                .arg(&key)
                .arg(&member)
                .arg(&value)
                .clone(),
            7 => redis::cmd("SREM").arg(&key).arg(&member).clone(),
            8 => redis::cmd("SPOP").arg(&key).arg(2).clone(),
            9 => redis::cmd("ZADD")
                .arg(&key)
                .arg(rng.next(100))
                .arg(&member)
                .clone(),
            10 => redis::cmd("ZINCRBY").arg(&key).arg(1).arg(&member).clone(),
            11 => redis::cmd("ZREM").arg(&key).arg(&member).clone(),
            12 => redis::cmd("ZPOPMIN").arg(&key).clone(),
            13 => redis::cmd("DEL").arg(&key).clone(),
            14 => redis::cmd("EXPIRE").arg(&key).arg(100).clone(),
            15 => redis::cmd("PERSIST").arg(&key).clone(),
            16 => redis::cmd("RENAME")
                .arg(&key)
                .arg(format!("k{}", rng.next(60)))
                .clone(),
            17 => redis::cmd("SUNIONSTORE")
                .arg(&key)
                .arg(format!("k{}", rng.next(60)))
                .arg(&key)
                .clone(),
            18 => redis::cmd("ZUNIONSTORE")
                .arg(&key)
                .arg(2)
                .arg(&key)
                .arg(format!("k{}", rng.next(60)))
                .clone(),
            19 => redis::cmd("INCR").arg(&key).clone(),
            20 => redis::cmd("PEXPIRE").arg(&key).arg(1 + rng.next(5)).clone(),
            _ => redis::cmd("HINCRBYFLOAT")
                .arg(&key)
                .arg(&member)
                .arg("0.5")
                .clone(),
        };
        // Wrong-type and no-such-key errors are expected in a random mix.
        let _: redis::RedisResult<redis::Value> = cmd.query(&mut c);
        if i % 500 == 0 {
            s.shared().engine.keyspace().verify_accounting().unwrap();
        }
    }
    s.shared().engine.keyspace().verify_accounting().unwrap();
}

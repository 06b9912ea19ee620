//! Every `meridian:cache` import, called from a guest (the api-check plugin)
//! and checked against the Redis command it mirrors; then the keys it left
//! are read back over RESP, in the plugin's namespace.

use meridian_tests::TestServer;
use meridian_tests::call::ok;
use redis::Value;

use crate::guests::load_example;

#[test]
fn every_interface_answers_as_the_redis_command_it_mirrors() {
    let s = TestServer::start();
    let mut c = s.conn();
    let name = load_example(&mut c, "api-check");
    assert_eq!(name, "api_check");
    for f in [
        "check_cache",
        "check_counter",
        "check_hash",
        "check_set",
        "check_sorted_set",
        "check_list",
        "check_pubsub",
        "check_document",
        "check_lock",
        "check_call_instant",
    ] {
        let r: redis::RedisResult<String> = redis::cmd("FCALL").arg(f).arg(0).query(&mut c);
        assert_eq!(r.as_deref(), Ok("OK"), "{f}");
    }
    // What the guest wrote is plain data under `api_check:`.
    let v: String = ok(&mut c, &["GET", "api_check:c:a"]);
    assert_eq!(v, "4");
    let ttl: i64 = ok(&mut c, &["TTL", "api_check:c:filled"]);
    assert!(ttl > 40 && ttl <= 50, "ttl {ttl}");
    let n: i64 = ok(&mut c, &["GET", "api_check:n:hits"]);
    assert_eq!(n, 3);
    let h: Vec<String> = ok(&mut c, &["HMGET", "api_check:h:s", "b", "n"]);
    assert_eq!(h, vec!["2", "4"]);
    let z: Vec<String> = ok(&mut c, &["ZRANGE", "api_check:z:b", "0", "-1"]);
    assert_eq!(z, vec!["c", "a"]);
    let l: Vec<String> = ok(&mut c, &["LRANGE", "api_check:l:q", "0", "-1"]);
    assert_eq!(l, vec!["1", "4"]);
    let d: String = ok(&mut c, &["DOC.GET", "api_check:d:s", "$.views"]);
    assert_eq!(d, "5");
    let none: Value = ok(&mut c, &["GET", "c:a"]);
    assert_eq!(none, Value::Nil);
    // Outside the call, time moved on.
    let left: i64 = ok(&mut c, &["PTTL", "api_check:t:second"]);
    assert!(left > 0 && left < 1000, "pttl {left}");
    // Guest locks are LOCK.* locks under the namespace; the one the guest
    // forgot was released when its call ended.
    let v: String = ok(&mut c, &["GET", "api_check:l:res"]);
    assert_eq!(v, "one");
    let info: Vec<Value> = ok(&mut c, &["LOCK.INFO", "api_check:l:kept"]);
    assert_eq!(info.get(3), Some(&Value::Nil), "{info:?}");
    let t: Option<i64> = ok(&mut c, &["LOCK.ACQUIRE", "api_check:l:local", "1000"]);
    assert_eq!(t, Some(3));
}

#[test]
fn guests_publish_to_resp_subscribers_on_namespaced_channels() {
    let s = TestServer::start();
    let mut c = s.conn();
    load_example(&mut c, "api-check");
    let mut sub = s.conn();
    let mut pubsub = sub.as_pubsub();
    pubsub.subscribe("api_check:news").expect("subscribe");
    let receivers: i64 = ok(&mut c, &["FCALL", "publish", "0", "hello"]);
    assert_eq!(receivers, 1);
    let msg = pubsub.get_message().expect("message");
    assert_eq!(msg.get_channel_name(), "api_check:news");
    let payload: String = msg.get_payload().expect("payload");
    assert_eq!(payload, "hello");
}

//! Keyspace notifications (`notify-keyspace-events`): the events and their
//! order are what Redis 7.0 publishes for the same commands.

use std::time::Duration;

use meridian_tests::TestServer;
use meridian_tests::call::{err, ok};
use redis::Connection;

fn run(c: &mut Connection, words: &[&str]) {
    let _: redis::Value = ok(c, words);
}

#[test]
fn write_commands_publish_redis_events_in_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    assert_eq!(
        ok::<Vec<String>>(&mut c, &["CONFIG", "GET", "notify-keyspace-events"]),
        ["notify-keyspace-events", "AKE"]
    );
    let mut sub_conn = s.conn();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sub.psubscribe("__keyevent*").unwrap();
    for words in [
        &["SET", "a", "1"][..],
        &["SET", "a", "2", "EX", "100"],
        &["SETNX", "a", "3"],
        &["INCR", "a"],
        &["INCRBYFLOAT", "a", "1.5"],
        &["DEL", "a", "nope"],
        &["RPUSH", "l", "x", "y"],
        &["LPOP", "l"],
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &["HSET", "h", "f", "v"],
        &["HDEL", "h", "f"],
        &["SADD", "s", "a", "b"],
        &["SMOVE", "s", "s2", "a"],
        &["ZADD", "z", "1", "m"],
        &["ZADD", "z", "INCR", "2", "m"],
        &["ZINCRBY", "z", "1", "m"],
        &["RENAME", "z", "z2"],
        &["EXPIRE", "s", "100"],
        &["PERSIST", "s"],
        &["COPY", "s2", "s3"],
        &["GEOADD", "g", "1", "1", "p"],
        &["SORT", "l2", "ALPHA", "STORE", "st"],
        &["SETEX", "k", "10", "v"],
        &["PEXPIRE", "k", "1"],
    ] {
        run(&mut c, words);
    }
    let want = [
        ("set", "a"),
        ("set", "a"),
        ("expire", "a"),
        ("incrby", "a"),
        ("incrbyfloat", "a"),
        ("del", "a"),
        ("rpush", "l"),
        ("lpop", "l"),
        ("rpush", "l2"),
        ("lpop", "l"),
        ("del", "l"),
        ("hset", "h"),
        ("hdel", "h"),
        ("del", "h"),
        ("sadd", "s"),
        ("srem", "s"),
        ("sadd", "s2"),
        ("zadd", "z"),
        ("zincr", "z"),
        ("zincr", "z"),
        ("rename_from", "z"),
        ("rename_to", "z2"),
        ("expire", "s"),
        ("persist", "s"),
        ("copy_to", "s3"),
        ("zadd", "g"),
        ("sortstore", "st"),
        ("set", "k"),
        ("expire", "k"),
        ("expire", "k"),
        // Published by the expiry sweep, without anyone reading the key.
        ("expired", "k"),
    ];
    for (event, key) in want {
        let m = sub.get_message().unwrap();
        assert_eq!(
            (
                m.get_channel_name().to_string(),
                m.get_payload::<String>().unwrap()
            ),
            (format!("__keyevent@0__:{event}"), key.to_string())
        );
    }
    run(&mut c, &["SADD", "s2", "a"]);
    run(&mut c, &["SREM", "s2", "zz"]);
    run(&mut c, &["HDEL", "nohash", "f"]);
    run(&mut c, &["SADD", "s2", "q"]);
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "__keyevent@0__:sadd");
    assert_eq!(m.get_payload::<String>().unwrap(), "s2");
}

#[test]
fn keyspace_channel_and_class_filter() {
    let s = TestServer::start();
    let mut c = s.conn();
    // Only string events, only on the keyspace channel.
    let _: () = ok(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "K$"]);
    let mut sub_conn = s.conn();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sub.psubscribe("__key*__:*").unwrap();
    run(&mut c, &["SADD", "s", "x"]);
    run(&mut c, &["DEL", "s"]);
    run(&mut c, &["APPEND", "str", "x"]);
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "__keyspace@0__:str");
    assert_eq!(m.get_payload::<String>().unwrap(), "append");
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Q"]),
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    );
}

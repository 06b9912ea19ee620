//! SLOWLOG and LATENCY: entry shapes, limits and errors as Redis 7.0's.

use meridian_tests::TestServer;
use meridian_tests::call::{err, ok};
use redis::Value;

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

#[test]
fn slowlog_records_commands_over_the_threshold() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(ok::<i64>(&mut c, &["SLOWLOG", "LEN"]), 0);
    let _: () = ok(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let _: () = ok(&mut c, &["CLIENT", "SETNAME", "tester"]);
    let long = "x".repeat(130);
    let _: () = ok(&mut c, &["SET", "k", &long]);
    let entries: Vec<Value> = ok(&mut c, &["SLOWLOG", "GET", "1"]);
    assert_eq!(entries.len(), 1);
    let Value::Array(e) = &entries[0] else {
        panic!("{entries:?}")
    };
    assert_eq!(e.len(), 6);
    assert!(int(&e[1]) > 1_600_000_000, "a Unix timestamp");
    assert!(int(&e[2]) >= 0);
    let Value::Array(args) = &e[3] else {
        panic!("{e:?}")
    };
    let args: Vec<String> = args.iter().map(text).collect();
    assert_eq!(args[0], "SET");
    assert_eq!(args[1], "k");
    // Arguments over 128 bytes are cut, as Redis cuts them.
    assert_eq!(args[2], format!("{}... (2 more bytes)", "x".repeat(128)));
    assert!(text(&e[4]).starts_with("127.0.0.1:"));
    assert_eq!(text(&e[5]), "tester");
    // Newest first, ids increasing.
    let _: () = ok(&mut c, &["SET", "k2", "v"]);
    let entries: Vec<Value> = ok(&mut c, &["SLOWLOG", "GET", "2"]);
    let id = |v: &Value| match v {
        Value::Array(e) => int(&e[0]),
        _ => panic!(),
    };
    assert!(id(&entries[0]) > id(&entries[1]));
    // More than 32 arguments: the last kept one says how many more.
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("l");
    for i in 0..40 {
        cmd.arg(i);
    }
    let _: i64 = cmd.query(&mut c).unwrap();
    let entries: Vec<Value> = ok(&mut c, &["SLOWLOG", "GET", "1"]);
    let Value::Array(e) = &entries[0] else {
        panic!()
    };
    let Value::Array(args) = &e[3] else { panic!() };
    assert_eq!(args.len(), 32);
    assert_eq!(text(&args[31]), "... (11 more arguments)");
    let _: () = ok(&mut c, &["CONFIG", "SET", "slowlog-max-len", "2"]);
    assert_eq!(ok::<i64>(&mut c, &["SLOWLOG", "LEN"]), 2);
    assert_eq!(
        ok::<Vec<String>>(&mut c, &["CONFIG", "GET", "slowlog-max-len"]),
        ["slowlog-max-len", "2"]
    );
    let _: () = ok(&mut c, &["SLOWLOG", "RESET"]);
    let _: () = ok(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let _: () = ok(&mut c, &["SET", "k", "v"]);
    // As in Redis, the RESET itself is logged (it ran under the old
    // threshold); nothing after the threshold went negative is.
    let entries: Vec<Value> = ok(&mut c, &["SLOWLOG", "GET", "-1"]);
    assert_eq!(entries.len(), 1);
    let Value::Array(e) = &entries[0] else {
        panic!()
    };
    let Value::Array(args) = &e[3] else { panic!() };
    assert_eq!(
        args.iter().map(text).collect::<Vec<_>>(),
        ["SLOWLOG", "RESET"]
    );
    assert_eq!(
        err(&mut c, &["SLOWLOG", "GET", "-2"]),
        "ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        err(&mut c, &["SLOWLOG", "foo"]),
        "ERR unknown subcommand 'foo'. Try SLOWLOG HELP."
    );
    assert_eq!(
        err(&mut c, &["SLOWLOG", "GET", "1", "2"]),
        "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
    );
    let help: Vec<String> = ok(&mut c, &["SLOWLOG", "HELP"]);
    assert_eq!(help.len(), 12);
}

#[test]
fn latency_monitor_is_off_until_a_threshold_is_set() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        ok::<Vec<String>>(&mut c, &["CONFIG", "GET", "latency-monitor-threshold"]),
        ["latency-monitor-threshold", "0"]
    );
    assert_eq!(ok::<Vec<Value>>(&mut c, &["LATENCY", "LATEST"]), vec![]);
    assert_eq!(
        ok::<Vec<Value>>(&mut c, &["LATENCY", "HISTORY", "command"]),
        vec![]
    );
    assert_eq!(ok::<i64>(&mut c, &["LATENCY", "RESET"]), 0);
    assert_eq!(
        err(&mut c, &["LATENCY", "foo"]),
        "ERR unknown subcommand 'foo'. Try LATENCY HELP."
    );
}

//! Plugins over RESP: FUNCTION LOAD / LIST / DELETE and FCALL / FCALL_RO with
//! the leaderboard example, and Redis's error lines.

use meridian_tests::TestServer;
use meridian_tests::call::{err, line, ok, q};
use redis::Value;

use crate::guests::{function_load as load, wasm};

#[test]
fn leaderboard_scores_and_ranks_players_through_fcall() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(load(&mut c, &wasm("leaderboard")).unwrap(), "leaderboard");
    let score: f64 = ok(&mut c, &["FCALL", "lb_add", "1", "games", "ann", "10"]);
    assert_eq!(score, 10.0);
    ok::<f64>(&mut c, &["FCALL", "lb_add", "1", "games", "bob", "25"]);
    ok::<f64>(&mut c, &["FCALL", "lb_add", "1", "games", "cid", "5"]);
    let score: f64 = ok(&mut c, &["FCALL", "lb_add", "1", "games", "ann", "20.5"]);
    assert_eq!(score, 30.5);
    let top: Vec<String> = ok(&mut c, &["FCALL_RO", "lb_top", "1", "games", "2"]);
    assert_eq!(top, vec!["ann", "30.5", "bob", "25"]);
    let rank: i64 = ok(&mut c, &["FCALL_RO", "lb_rank", "1", "games", "cid"]);
    assert_eq!(rank, 3);
    let none: Value = ok(&mut c, &["FCALL_RO", "lb_rank", "1", "games", "zed"]);
    assert_eq!(none, Value::Nil);
    // The board is an ordinary sorted set in the library's namespace.
    let z: Vec<String> = ok(
        &mut c,
        &["ZRANGE", "leaderboard:games", "0", "-1", "WITHSCORES"],
    );
    assert_eq!(z, vec!["cid", "5", "bob", "25", "ann", "30.5"]);
    // Guest errors come back as error replies.
    assert_eq!(
        err(&mut c, &["FCALL", "lb_add", "1", "games", "ann", "lots"]),
        "ERR argument 2 is not a valid number"
    );
}

#[test]
fn function_list_delete_and_redis_error_lines() {
    let s = TestServer::start();
    let mut c = s.conn();
    let bytes = wasm("leaderboard");
    load(&mut c, &bytes).unwrap();
    let e = load(&mut c, &bytes).unwrap_err();
    assert_eq!(line(&e), "ERR Library 'leaderboard' already exists");
    let replaced: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(&bytes)
        .query(&mut c)
        .unwrap();
    assert_eq!(replaced, "leaderboard");

    let list: Value = ok(&mut c, &["FUNCTION", "LIST"]);
    let text = format!("{list:?}");
    for want in [
        "library_name",
        "leaderboard",
        "WASM",
        "lb_add",
        "lb_top",
        "no-writes",
    ] {
        assert!(text.contains(want), "{want} missing from {text}");
    }
    let none: Vec<Value> = ok(&mut c, &["FUNCTION", "LIST", "LIBRARYNAME", "nope*"]);
    assert!(none.is_empty());

    assert_eq!(
        err(&mut c, &["FCALL", "lb_add", "2", "games"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err(&mut c, &["FCALL", "lb_add", "-1"]),
        "ERR Number of keys can't be negative"
    );
    assert_eq!(
        err(&mut c, &["FCALL", "lb_add", "x"]),
        "ERR Bad number of keys provided"
    );
    assert_eq!(
        err(&mut c, &["FCALL_RO", "lb_add", "1", "games", "a", "1"]),
        "ERR Can not execute a script with write flag using *_ro command."
    );
    assert_eq!(
        err(&mut c, &["FCALL", "nosuch", "0"]),
        "ERR Function not found"
    );
    assert_eq!(
        err(&mut c, &["FUNCTION", "FROB"]),
        "ERR unknown subcommand 'FROB'. Try FUNCTION HELP."
    );
    let e = load(&mut c, b"not a component").unwrap_err();
    assert!(line(&e).starts_with("ERR Invalid WASM component"), "{e}");

    assert_eq!(
        ok::<String>(&mut c, &["FUNCTION", "DELETE", "leaderboard"]),
        "OK"
    );
    assert_eq!(
        err(&mut c, &["FUNCTION", "DELETE", "leaderboard"]),
        "ERR Library not found"
    );
    assert_eq!(
        err(&mut c, &["FCALL", "lb_top", "1", "games", "3"]),
        "ERR Function not found"
    );
    // An edge module is not a plugin.
    let e = load(&mut c, &wasm("edge-cache")).unwrap_err();
    assert!(line(&e).contains("not a plugin"), "{e}");
    let _ = q::<Value>(&mut c, &["PING"]).unwrap();
}

/// A plugin's writes go through the same log as any write: with a data
/// directory they are back after a restart (the library itself is loaded
/// again from the configuration, not from the log).
#[test]
fn fcall_writes_come_back_after_a_restart_with_persistence() {
    let dir = meridian_tests::TempDir::new("meridian-fcall");
    let start = || {
        let d = dir.path().to_path_buf();
        TestServer::start_with(move |c| {
            c.dir = Some(d);
            c.appendfsync = meridian::persist::AppendFsync::Always;
        })
    };
    let s = start();
    let mut c = s.conn();
    assert_eq!(load(&mut c, &wasm("leaderboard")).unwrap(), "leaderboard");
    ok::<f64>(&mut c, &["FCALL", "lb_add", "1", "games", "ann", "10"]);
    ok::<f64>(&mut c, &["FCALL", "lb_add", "1", "games", "bob", "25"]);
    drop(c);
    drop(s);
    let s = start();
    let mut c = s.conn();
    let ann: f64 = ok(&mut c, &["ZSCORE", "leaderboard:games", "ann"]);
    assert_eq!(ann, 10.0);
    let n: i64 = ok(&mut c, &["ZCARD", "leaderboard:games"]);
    assert_eq!(n, 2);
}

//! Document commands (DOC.SET, DOC.GET, DOC.DEL, DOC.INCR, DOC.PUSH) on one
//! server: paths, replies, errors, TTLs and how the key behaves to the
//! generic commands (TYPE, OBJECT, DUMP/RESTORE, COPY, DEL).

use meridian_tests::TestServer;
use meridian_tests::call::{WRONGTYPE, err, ok};
use redis::Connection;

fn get(c: &mut Connection, key: &str, path: &str) -> Option<String> {
    ok(c, &["DOC.GET", key, path])
}

#[test]
fn set_get_push_incr_del_on_paths() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(
        &mut c,
        &[
            "DOC.SET",
            "sess",
            "$",
            r#"{"user":{"name":"ann"},"cart":[],"flags":{"a.b":true}}"#,
        ],
    );
    assert_eq!(
        get(&mut c, "sess", "$.user.name").as_deref(),
        Some(r#""ann""#)
    );
    assert_eq!(
        get(&mut c, "sess", "user").as_deref(),
        Some(r#"{"name":"ann"}"#)
    );
    assert_eq!(
        get(&mut c, "sess", r#"$.flags["a.b"]"#).as_deref(),
        Some("true")
    );
    let n: i64 = ok(&mut c, &["DOC.PUSH", "sess", "$.cart", r#"{"sku":"a"}"#]);
    assert_eq!(n, 1);
    let n: i64 = ok(&mut c, &["DOC.PUSH", "sess", "$.cart", r#""b""#, "3"]);
    assert_eq!(n, 3);
    assert_eq!(get(&mut c, "sess", "$.cart[-1]").as_deref(), Some("3"));
    assert_eq!(
        get(&mut c, "sess", "$.cart[0].sku").as_deref(),
        Some(r#""a""#)
    );
    let v: i64 = ok(&mut c, &["DOC.INCR", "sess", "$.views", "5"]);
    assert_eq!(v, 5);
    let v: i64 = ok(&mut c, &["DOC.INCR", "sess", "$.views", "-2"]);
    assert_eq!(v, 3);
    let gone: i64 = ok(&mut c, &["DOC.DEL", "sess", "$.cart[1]"]);
    assert_eq!(gone, 1);
    let gone: i64 = ok(&mut c, &["DOC.DEL", "sess", "$.nothing"]);
    assert_eq!(gone, 0);
    // The whole document, keys sorted (every region prints the same bytes).
    let whole: String = ok(&mut c, &["DOC.GET", "sess"]);
    assert_eq!(
        whole,
        r#"{"cart":[{"sku":"a"},3],"flags":{"a.b":true},"user":{"name":"ann"},"views":3}"#
    );
    assert_eq!(get(&mut c, "sess", "$.missing"), None);
    assert_eq!(get(&mut c, "nokey", "$"), None);
}

#[test]
fn a_write_to_a_missing_key_creates_the_document() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["DOC.SET", "d", "$.a", "1"]);
    assert_eq!(get(&mut c, "d", "$").as_deref(), Some(r#"{"a":1}"#));
    let v: i64 = ok(&mut c, &["DOC.INCR", "e", "n", "2"]);
    assert_eq!(v, 2);
    let t: String = ok(&mut c, &["TYPE", "d"]);
    assert_eq!(t, "document");
    let enc: String = ok(&mut c, &["OBJECT", "ENCODING", "d"]);
    assert_eq!(enc, "automerge");
}

#[test]
fn failed_edits_leave_no_key_behind() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["DOC.SET", "d", "$.a.b", "1"]),
        "ERR path does not exist"
    );
    assert_eq!(
        err(&mut c, &["DOC.PUSH", "d", "$.list", "1"]),
        "ERR path does not exist"
    );
    let n: i64 = ok(&mut c, &["EXISTS", "d"]);
    assert_eq!(n, 0, "a failed edit must not create the key");
}

#[test]
fn errors_are_redis_style() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["SET", "str", "x"]);
    for words in [
        &["DOC.SET", "str", "$.a", "1"][..],
        &["DOC.GET", "str"],
        &["DOC.DEL", "str", "$.a"],
        &["DOC.DEL", "str", "$"],
        &["DOC.INCR", "str", "$.a", "1"],
        &["DOC.PUSH", "str", "$.a", "1"],
    ] {
        assert_eq!(err(&mut c, words), WRONGTYPE, "{words:?}");
    }
    let _: () = ok(&mut c, &["DOC.SET", "d", "$", r#"{"s":"x","l":[1]}"#]);
    assert!(
        err(&mut c, &["DOC.SET", "d", "$.a", "{nope"]).starts_with("ERR invalid JSON: "),
        "bad JSON"
    );
    assert!(
        err(&mut c, &["DOC.GET", "d", "$..a"]).starts_with("ERR invalid path: "),
        "bad path"
    );
    assert_eq!(
        err(&mut c, &["DOC.SET", "d", "$", "[1]"]),
        "ERR the root of a document must be an object"
    );
    assert_eq!(
        err(&mut c, &["DOC.INCR", "d", "$.s", "1"]),
        "ERR value at path is not an integer"
    );
    assert_eq!(
        err(&mut c, &["DOC.INCR", "d", "$.n", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["DOC.PUSH", "d", "$.s", "1"]),
        "ERR value at path is not an array"
    );
    assert_eq!(
        err(&mut c, &["DOC.GET", "d", "$.s.x"]),
        "ERR path goes through a scalar"
    );
    let _: i64 = ok(&mut c, &["DOC.INCR", "d", "$.n", "9223372036854775807"]);
    assert_eq!(
        err(&mut c, &["DOC.INCR", "d", "$.n", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err(&mut c, &["DOC.SET", "d", "$"]),
        "ERR wrong number of arguments for 'doc.set' command"
    );
}

#[test]
fn ttl_del_and_the_root_path_remove_the_document_with_its_history() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["DOC.SET", "d", "$", r#"{"a":1}"#]);
    let set: i64 = ok(&mut c, &["PEXPIRE", "d", "60000"]);
    assert_eq!(set, 1);
    // Edits keep the TTL, as HSET does.
    let _: () = ok(&mut c, &["DOC.SET", "d", "$.b", "2"]);
    let ttl: i64 = ok(&mut c, &["PTTL", "d"]);
    assert!(ttl > 0 && ttl <= 60000, "{ttl}");
    let gone: i64 = ok(&mut c, &["DOC.DEL", "d", "$"]);
    assert_eq!(gone, 1);
    assert_eq!(get(&mut c, "d", "$"), None);
    // A new document under the same name starts empty.
    let _: () = ok(&mut c, &["DOC.SET", "d", "$.c", "3"]);
    assert_eq!(get(&mut c, "d", "$").as_deref(), Some(r#"{"c":3}"#));
    let _: () = ok(&mut c, &["DOC.SET", "t", "$.a", "1"]);
    let _: i64 = ok(&mut c, &["PEXPIRE", "t", "30"]);
    std::thread::sleep(std::time::Duration::from_millis(80));
    assert_eq!(get(&mut c, "t", "$"), None);
}

#[test]
fn dump_restore_and_copy_keep_the_document() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["DOC.SET", "d", "$", r#"{"a":[1,{"b":null}]}"#]);
    let _: i64 = ok(&mut c, &["DOC.INCR", "d", "$.n", "4"]);
    let payload: Vec<u8> = ok(&mut c, &["DUMP", "d"]);
    let _: () = redis::cmd("RESTORE")
        .arg("r")
        .arg(0)
        .arg(&payload)
        .query(&mut c)
        .expect("restore");
    let copied: i64 = ok(&mut c, &["COPY", "d", "k"]);
    assert_eq!(copied, 1);
    let want = get(&mut c, "d", "$");
    assert_eq!(get(&mut c, "r", "$"), want);
    assert_eq!(get(&mut c, "k", "$"), want);
    // The counter is still a counter in the copies.
    let n: i64 = ok(&mut c, &["DOC.INCR", "r", "$.n", "1"]);
    assert_eq!(n, 5);
    // A damaged document body is refused, not stored.
    let mut bad = payload.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let e: redis::RedisResult<()> = redis::cmd("RESTORE")
        .arg("bad")
        .arg(0)
        .arg(&bad)
        .query(&mut c);
    assert!(e.is_err());
}

#[test]
fn doc_commands_have_their_acl_category() {
    let s = TestServer::start();
    let mut c = s.conn();
    let cmds: Vec<String> = ok(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "document"],
    );
    let mut cmds = cmds;
    cmds.sort();
    assert_eq!(
        cmds,
        ["doc.del", "doc.get", "doc.incr", "doc.push", "doc.set"]
    );
    let _: () = ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "reader",
            "on",
            "nopass",
            "~*",
            "+@document",
            "-@write",
        ],
    );
    let _: () = ok(&mut c, &["AUTH", "reader", "x"]);
    let _: Option<String> = ok(&mut c, &["DOC.GET", "d"]);
    assert!(err(&mut c, &["DOC.SET", "d", "$.a", "1"]).starts_with("NOPERM"));
}

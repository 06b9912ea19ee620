//! AUTH and ACLs as Redis 7 clients see them: what an unauthenticated client
//! may do, passwords, per-user rules over commands, categories, keys and
//! channels, ACL SETUSER/GETUSER/LIST/SAVE/LOAD, and the frame limits before
//! authentication.

use meridian::resp::command::{flags, table};
use meridian_tests::call::{err, ok, q};
use meridian_tests::{RawConn, TestServer};
use redis::Value;

const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

fn with_password() -> TestServer {
    TestServer::start_with(|c| c.requirepass = Some("secret".into()))
}

/// A RESP multibulk request.
fn resp(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
    }
    out
}

/// Sends one request and reads the reply, which must be `expected` long.
fn exchange(raw: &mut RawConn, words: &[&str], expected: &str) -> String {
    String::from_utf8_lossy(&raw.roundtrip(&resp(words), expected.len())).into_owned()
}

/// A connection authenticated as `user`.
fn conn_as(s: &TestServer, user: &str, password: &str) -> redis::Connection {
    let url = format!("redis://{user}:{password}@{}/", s.addr());
    redis::Client::open(url)
        .expect("client")
        .get_connection()
        .expect("authenticated connection")
}

#[test]
fn every_command_is_refused_before_auth() {
    let s = with_password();
    let mut raw = s.raw();
    let mut checked = 0;
    for spec in table().all() {
        if spec.has(flags::NO_AUTH) {
            continue;
        }
        // The smallest argument list the arity allows, so the refusal is
        // about authentication and not arity.
        let n = spec.arity.unsigned_abs() as usize;
        let mut words = vec![spec.name];
        words.extend(std::iter::repeat_n("x", n.saturating_sub(1)));
        assert_eq!(exchange(&mut raw, &words, NOAUTH), NOAUTH, "{}", spec.name);
        checked += 1;
    }
    assert!(checked > 100, "only {checked} commands checked");
    // The connection is still usable for AUTH, and then for everything.
    assert_eq!(
        exchange(&mut raw, &["AUTH", "secret"], "+OK\r\n"),
        "+OK\r\n"
    );
    assert_eq!(exchange(&mut raw, &["PING"], "+PONG\r\n"), "+PONG\r\n");
}

#[test]
fn auth_success_and_failure_wording() {
    let s = with_password();
    let mut raw = s.raw();
    assert_eq!(exchange(&mut raw, &["AUTH", "wrong"], WRONGPASS), WRONGPASS);
    assert_eq!(
        exchange(&mut raw, &["AUTH", "nobody", "secret"], WRONGPASS),
        WRONGPASS
    );
    let syntax = "-ERR syntax error\r\n";
    assert_eq!(exchange(&mut raw, &["AUTH", "a", "b", "c"], syntax), syntax);
    let hello = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n";
    assert_eq!(exchange(&mut raw, &["HELLO", "3"], hello), hello);
    assert_eq!(
        exchange(
            &mut raw,
            &["HELLO", "3", "AUTH", "default", "nope"],
            WRONGPASS
        ),
        WRONGPASS
    );
    let reply = raw.roundtrip(&resp(&["HELLO", "3", "AUTH", "default", "secret"]), 100);
    assert!(
        reply.starts_with(b"%7\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(
        exchange(&mut raw, &["ACL", "WHOAMI"], "$7\r\ndefault\r\n"),
        "$7\r\ndefault\r\n"
    );

    // Clients that send the password themselves.
    let mut c = conn_as(&s, "default", "secret");
    let _: () = ok(&mut c, &["SET", "k", "v"]);
    let v: String = ok(&mut c, &["GET", "k"]);
    assert_eq!(v, "v");
    assert_eq!(
        s.cli(&["-a", "secret", "--no-auth-warning", "GET", "k"]),
        "v"
    );
    assert_eq!(s.cli(&["GET", "k"]), "NOAUTH Authentication required.");

    // Without a password, AUTH <password> is a configuration mistake.
    let open = TestServer::start();
    let mut c = open.conn();
    assert_eq!(
        err(&mut c, &["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
}

#[test]
fn requirepass_can_change_at_run_time_and_is_never_shown() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(&mut admin, &["CONFIG", "SET", "requirepass", "pw2"]);
    let shown: Vec<String> = ok(&mut admin, &["CONFIG", "GET", "requirepass"]);
    assert_eq!(shown, ["requirepass", "(hidden)"]);
    // The open connection stays authenticated; new ones must AUTH.
    let pong: String = ok(&mut admin, &["PING"]);
    assert_eq!(pong, "PONG");
    let mut raw = s.raw();
    assert_eq!(exchange(&mut raw, &["PING"], NOAUTH), NOAUTH);
    assert_eq!(exchange(&mut raw, &["AUTH", "pw2"], "+OK\r\n"), "+OK\r\n");
    let _: () = ok(&mut admin, &["CONFIG", "SET", "requirepass", ""]);
    let mut raw = s.raw();
    assert_eq!(exchange(&mut raw, &["PING"], "+PONG\r\n"), "+PONG\r\n");
}

#[test]
fn acl_rules_per_command_and_category() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">pw",
            "allkeys",
            "+@read",
            "+@write",
            "-flushall",
            "+config|get",
            "+@transaction",
        ],
    );
    let mut c = conn_as(&s, "app", "pw");
    let _: () = ok(&mut c, &["SET", "k", "v"]);
    let v: String = ok(&mut c, &["GET", "k"]);
    assert_eq!(v, "v");
    assert_eq!(
        err(&mut c, &["FLUSHALL"]),
        "NOPERM User app has no permissions to run the 'flushall' command"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "maxmemory", "0"]),
        "NOPERM User app has no permissions to run the 'config|set' command"
    );
    let _: Vec<String> = ok(&mut c, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "app", "+@all"]),
        "NOPERM User app has no permissions to run the 'acl|setuser' command"
    );
    // Rules changed by someone else apply to open connections at once.
    let _: () = ok(&mut admin, &["ACL", "SETUSER", "app", "-get"]);
    assert_eq!(
        err(&mut c, &["GET", "k"]),
        "NOPERM User app has no permissions to run the 'get' command"
    );
    // Also inside MULTI: refused when queued, and EXEC checks again.
    let _: () = ok(&mut admin, &["ACL", "SETUSER", "app", "+get"]);
    let mut raw = s.raw();
    assert_eq!(
        exchange(&mut raw, &["AUTH", "app", "pw"], "+OK\r\n"),
        "+OK\r\n"
    );
    assert_eq!(exchange(&mut raw, &["MULTI"], "+OK\r\n"), "+OK\r\n");
    assert_eq!(
        exchange(&mut raw, &["GET", "k"], "+QUEUED\r\n"),
        "+QUEUED\r\n"
    );
    let _: () = ok(&mut admin, &["ACL", "SETUSER", "app", "-get"]);
    let denied = "*1\r\n-NOPERM User app has no permissions to run the 'get' command\r\n";
    assert_eq!(exchange(&mut raw, &["EXEC"], denied), denied);
    let info: String = ok(&mut admin, &["INFO", "stats"]);
    assert!(info.contains("acl_access_denied_cmd:"), "{info}");
    assert!(!info.contains("acl_access_denied_cmd:0\r"), "{info}");
}

#[test]
fn acl_key_patterns_separate_reads_from_writes() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "kv",
            "on",
            ">pw",
            "+@all",
            "~app:*",
            "%R~shared:*",
            "%W~inbox:*",
        ],
    );
    let _: () = ok(&mut admin, &["SET", "shared:1", "s"]);
    let mut c = conn_as(&s, "kv", "pw");
    let key_denied = "NOPERM No permissions to access a key";
    let _: () = ok(&mut c, &["SET", "app:1", "a"]);
    let v: String = ok(&mut c, &["GET", "shared:1"]);
    assert_eq!(v, "s");
    assert_eq!(err(&mut c, &["SET", "shared:1", "x"]), key_denied);
    assert_eq!(err(&mut c, &["DEL", "shared:1"]), key_denied);
    let _: () = ok(&mut c, &["LPUSH", "inbox:1", "m"]);
    assert_eq!(err(&mut c, &["LRANGE", "inbox:1", "0", "-1"]), key_denied);
    assert_eq!(err(&mut c, &["LPOP", "inbox:1"]), key_denied);
    assert_eq!(err(&mut c, &["GET", "other"]), key_denied);
    assert_eq!(err(&mut c, &["MGET", "app:1", "other"]), key_denied);
    // Copy from a readable key into a writable one.
    let _: () = ok(&mut admin, &["SADD", "shared:set", "x"]);
    let n: i64 = ok(&mut c, &["SUNIONSTORE", "inbox:set", "shared:set"]);
    assert_eq!(n, 1);
    assert_eq!(
        err(&mut c, &["SUNIONSTORE", "shared:set", "inbox:set"]),
        key_denied
    );
    let info: String = ok(&mut admin, &["INFO", "stats"]);
    assert!(!info.contains("acl_access_denied_key:0\r"), "{info}");
}

#[test]
fn acl_channel_patterns() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(
        &mut admin,
        &[
            "ACL", "SETUSER", "sub", "on", ">pw", "+@all", "allkeys", "&news:*",
        ],
    );
    let mut c = conn_as(&s, "sub", "pw");
    let n: i64 = ok(&mut c, &["PUBLISH", "news:1", "m"]);
    assert_eq!(n, 0);
    let denied = "NOPERM No permissions to access a channel";
    assert_eq!(err(&mut c, &["PUBLISH", "sport", "m"]), denied);
    let mut raw = s.raw();
    assert_eq!(
        exchange(&mut raw, &["AUTH", "sub", "pw"], "+OK\r\n"),
        "+OK\r\n"
    );
    let line = format!("-{denied}\r\n");
    assert_eq!(
        exchange(&mut raw, &["SUBSCRIBE", "news:1", "sport"], &line),
        line
    );
    assert_eq!(exchange(&mut raw, &["PSUBSCRIBE", "news:1*"], &line), line);
    let ok_sub = "*3\r\n$10\r\npsubscribe\r\n$6\r\nnews:*\r\n:1\r\n";
    assert_eq!(
        exchange(&mut raw, &["PSUBSCRIBE", "news:*"], ok_sub),
        ok_sub
    );
    // Other channel changes leave the subscriber alone; taking its pattern
    // away disconnects it.
    let _: () = ok(&mut admin, &["ACL", "SETUSER", "sub", "&more"]);
    let n: i64 = ok(&mut admin, &["PUBLISH", "news:2", "hi"]);
    assert_eq!(n, 1);
    let message = "*4\r\n$8\r\npmessage\r\n$6\r\nnews:*\r\n$6\r\nnews:2\r\n$2\r\nhi\r\n";
    assert_eq!(
        String::from_utf8_lossy(&raw.read_at_least(message.len())),
        message
    );
    let _: () = ok(
        &mut admin,
        &["ACL", "SETUSER", "sub", "resetchannels", "&more"],
    );
    assert!(raw.is_closed());
}

#[test]
fn setuser_getuser_and_list_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "alice",
            "on",
            ">p1",
            "~cached:*",
            "%R~r*",
            "&ch*",
            "+get",
            "-@all",
            "+set",
            "+@hash",
            "-hget",
        ],
    );
    let user: Value = ok(&mut c, &["ACL", "GETUSER", "alice"]);
    let fields: Vec<(String, Value)> = redis::from_redis_value(user).expect("map");
    let text = |name: &str| -> String {
        let v = fields
            .iter()
            .find(|(k, _)| k == name)
            .expect(name)
            .1
            .clone();
        redis::from_redis_value(v).expect("string")
    };
    let list = |name: &str| -> Vec<String> {
        let v = fields
            .iter()
            .find(|(k, _)| k == name)
            .expect(name)
            .1
            .clone();
        redis::from_redis_value(v).expect("list")
    };
    assert_eq!(list("flags"), ["on"]);
    assert_eq!(
        list("passwords"),
        ["f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"]
    );
    assert_eq!(text("commands"), "-@all +@hash -hget +set");
    assert_eq!(text("keys"), "~cached:* %R~r*");
    assert_eq!(text("channels"), "&ch*");
    let lines: Vec<String> = ok(&mut c, &["ACL", "LIST"]);
    let alice = "user alice on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~cached:* %R~r* resetchannels &ch* -@all +@hash -hget +set";
    assert_eq!(lines, [alice, "user default on nopass ~* &* +@all"]);
    // The listed rules rebuild the same user.
    let mut words = vec!["ACL", "SETUSER", "copy"];
    words.extend(alice.split(' ').skip(2));
    let _: () = ok(&mut c, &words);
    let lines: Vec<String> = ok(&mut c, &["ACL", "LIST"]);
    assert_eq!(lines[1], alice.replace("user alice", "user copy"));
    let users: Vec<String> = ok(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["alice", "copy", "default"]);
    let missing: Value = ok(&mut c, &["ACL", "GETUSER", "nobody"]);
    assert_eq!(missing, Value::Nil);
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "bob", "+nosuch"]),
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
    );
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "bob", "foo"]),
        "ERR Error in ACL SETUSER modifier 'foo': Syntax error"
    );
    assert_eq!(
        err(&mut c, &["ACL", "DELUSER", "default"]),
        "ERR The 'default' user cannot be removed"
    );
    let n: i64 = ok(&mut c, &["ACL", "DELUSER", "copy", "nobody"]);
    assert_eq!(n, 1);
    assert_eq!(
        err(&mut c, &["ACL", "WHOAMI", "x"]),
        "ERR wrong number of arguments for 'acl|whoami' command"
    );
}

#[test]
fn acl_cat_dryrun_and_genpass() {
    let s = TestServer::start();
    let mut c = s.conn();
    let cats: Vec<String> = ok(&mut c, &["ACL", "CAT"]);
    assert_eq!(cats[..3], ["keyspace", "read", "write"]);
    let reads: Vec<String> = ok(&mut c, &["ACL", "CAT", "read"]);
    assert!(reads.contains(&"get".to_string()) && !reads.contains(&"set".to_string()));
    assert_eq!(
        err(&mut c, &["ACL", "CAT", "nope"]),
        "ERR Unknown category 'nope'"
    );
    let _: () = ok(
        &mut c,
        &["ACL", "SETUSER", "ro", "on", "nopass", "~k*", "+@read"],
    );
    let yes: String = ok(&mut c, &["ACL", "DRYRUN", "ro", "GET", "k1"]);
    assert_eq!(yes, "OK");
    let no: String = ok(&mut c, &["ACL", "DRYRUN", "ro", "SET", "k1", "v"]);
    assert_eq!(no, "User ro has no permissions to run the 'set' command");
    let no: String = ok(&mut c, &["ACL", "DRYRUN", "ro", "GET", "zzz"]);
    assert_eq!(no, "No permissions to access the 'zzz' key");
    let pass: String = ok(&mut c, &["ACL", "GENPASS"]);
    assert_eq!(pass.len(), 64);
    let short: String = ok(&mut c, &["ACL", "GENPASS", "5"]);
    assert_eq!(short.len(), 2);
}

#[test]
fn deleted_and_disabled_users() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(
        &mut admin,
        &["ACL", "SETUSER", "tmp", "on", ">pw", "+@all", "allkeys"],
    );
    let mut raw = s.raw();
    assert_eq!(
        exchange(&mut raw, &["AUTH", "tmp", "pw"], "+OK\r\n"),
        "+OK\r\n"
    );
    let list: String = ok(&mut admin, &["CLIENT", "LIST"]);
    assert!(list.contains("user=tmp"), "{list}");
    let mut blocked = s.raw();
    assert_eq!(
        exchange(&mut blocked, &["AUTH", "tmp", "pw"], "+OK\r\n"),
        "+OK\r\n"
    );
    blocked.send(&resp(&["BLPOP", "nothing", "0"]));

    // Disabled: no new logins, the open connection keeps working.
    let _: () = ok(&mut admin, &["ACL", "SETUSER", "tmp", "off"]);
    assert_eq!(exchange(&mut raw, &["PING"], "+PONG\r\n"), "+PONG\r\n");
    let mut other = s.raw();
    assert_eq!(
        exchange(&mut other, &["AUTH", "tmp", "pw"], WRONGPASS),
        WRONGPASS
    );
    // Deleted: its connections are closed at once, idle or blocked.
    assert!(meridian_tests::eventually(
        std::time::Duration::from_secs(5),
        || {
            let list: String = ok(&mut admin, &["CLIENT", "LIST"]);
            list.lines()
                .any(|l| l.contains("user=tmp") && l.contains("flags=b"))
        }
    ));
    let _: i64 = ok(&mut admin, &["ACL", "DELUSER", "tmp"]);
    assert!(raw.is_closed());
    assert!(blocked.is_closed());
}

#[test]
fn acl_save_and_load_use_the_acl_file() {
    let dir = std::env::temp_dir().join(format!("meridian-aclfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("users.acl");
    std::fs::write(
        &path,
        "user default on nopass ~* &* +@all\nuser ops on >ops ~* +@all\n",
    )
    .expect("write");
    let file = path.clone();
    let s = TestServer::start_with(move |c| c.aclfile = Some(file));
    let mut c = s.conn();
    let users: Vec<String> = ok(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["default", "ops"]);
    let _: () = ok(
        &mut c,
        &["ACL", "SETUSER", "app", "on", ">pw", "%R~r:*", "+get"],
    );
    let _: () = ok(&mut c, &["ACL", "SAVE"]);
    let saved = std::fs::read_to_string(&path).expect("read");
    let listed: Vec<String> = ok(&mut c, &["ACL", "LIST"]);
    assert_eq!(saved, listed.join("\n") + "\n");
    assert!(saved.contains("user app on #"), "{saved}");
    assert!(
        !saved.contains(">pw"),
        "passwords are stored hashed: {saved}"
    );

    // Edit the file: LOAD replaces every user.
    std::fs::write(
        &path,
        "user default on nopass ~* &* +@all\nuser other on >o +@all\n",
    )
    .expect("write");
    let _: () = ok(&mut c, &["ACL", "LOAD"]);
    let users: Vec<String> = ok(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["default", "other"]);
    // A broken file changes nothing.
    std::fs::write(&path, "user a on\nnot a user line\n").expect("write");
    let e = err(&mut c, &["ACL", "LOAD"]);
    assert!(
        e.contains("users.acl:2: should start with user keyword"),
        "{e}"
    );
    let users: Vec<String> = ok(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["default", "other"]);
    let shown: Vec<String> = ok(&mut c, &["CONFIG", "GET", "aclfile"]);
    assert_eq!(shown[1], path.display().to_string());
    std::fs::remove_dir_all(&dir).ok();

    let open = TestServer::start();
    let mut c = open.conn();
    let e = err(&mut c, &["ACL", "SAVE"]);
    assert!(
        e.starts_with("ERR This Redis instance is not configured to use an ACL file"),
        "{e}"
    );
}

#[test]
fn unauthenticated_oversized_frames_are_dropped() {
    let s = with_password();
    let mut raw = s.raw();
    let mut eleven = b"*11\r\n".to_vec();
    for _ in 0..11 {
        eleven.extend_from_slice(b"$1\r\na\r\n");
    }
    let expected = "-ERR Protocol error: unauthenticated multibulk length\r\n";
    assert_eq!(
        String::from_utf8_lossy(&raw.roundtrip(&eleven, expected.len())),
        expected
    );
    assert!(raw.is_closed());

    let mut raw = s.raw();
    let big = "a".repeat(16385);
    let expected = "-ERR Protocol error: unauthenticated bulk length\r\n";
    let reply = raw.roundtrip(&resp(&["AUTH", &big]), expected.len());
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    assert!(raw.is_closed());

    // 16384 bytes are still a frame AUTH may get; after AUTH the limits go.
    let mut raw = s.raw();
    let fits = "a".repeat(16384);
    assert_eq!(exchange(&mut raw, &["AUTH", &fits], WRONGPASS), WRONGPASS);
    assert_eq!(
        exchange(&mut raw, &["AUTH", "secret"], "+OK\r\n"),
        "+OK\r\n"
    );
    assert_eq!(
        exchange(&mut raw, &["SET", "k", &big], "+OK\r\n"),
        "+OK\r\n"
    );
    let mut words = vec!["MSET"];
    words.extend(std::iter::repeat_n("x", 20));
    assert_eq!(exchange(&mut raw, &words, "+OK\r\n"), "+OK\r\n");

    // Without a password nobody is unauthenticated.
    let open = TestServer::start();
    let mut raw = open.raw();
    assert_eq!(
        exchange(&mut raw, &["SET", "k", &big], "+OK\r\n"),
        "+OK\r\n"
    );
}

#[test]
fn users_from_config_lines() {
    let s = TestServer::start_with(|c| {
        c.user = vec!["default off".into(), "app on >pw ~app:* +@all".into()]
    });
    let mut raw = s.raw();
    assert_eq!(exchange(&mut raw, &["GET", "app:1"], NOAUTH), NOAUTH);
    let mut c = conn_as(&s, "app", "pw");
    let _: () = ok(&mut c, &["SET", "app:1", "v"]);
    assert_eq!(
        q::<Value>(&mut c, &["SET", "x", "v"]).map_err(|e| meridian_tests::call::line(&e)),
        Err("NOPERM No permissions to access a key".to_string())
    );
}

#[test]
fn acl_log_records_refusals_newest_first() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "lim",
            "on",
            ">pw",
            "+@all",
            "-flushall",
            "~k*",
        ],
    );
    let mut raw = s.raw();
    assert_eq!(
        exchange(&mut raw, &["AUTH", "lim", "bad"], WRONGPASS),
        WRONGPASS
    );
    let mut c = conn_as(&s, "lim", "pw");
    let _ = err(&mut c, &["FLUSHALL"]);
    let _ = err(&mut c, &["FLUSHALL"]);
    let _ = err(&mut c, &["GET", "x"]);
    type Entry = std::collections::HashMap<String, Value>;
    let field = |e: &Entry, name: &str| -> String {
        redis::from_redis_value(e.get(name).expect(name).clone()).expect("text")
    };
    let entries: Vec<Entry> = ok(&mut admin, &["ACL", "LOG"]);
    let summary: Vec<[String; 5]> = entries
        .iter()
        .map(|e| ["reason", "object", "username", "context", "count"].map(|f| field(e, f)))
        .collect();
    assert_eq!(
        summary,
        [
            ["key", "x", "lim", "toplevel", "1"].map(String::from),
            ["command", "flushall", "lim", "toplevel", "2"].map(String::from),
            ["auth", "AUTH", "lim", "toplevel", "1"].map(String::from),
        ]
    );
    assert!(field(&entries[0], "client-info").contains("user=lim"));
    let one: Vec<Entry> = ok(&mut admin, &["ACL", "LOG", "1"]);
    assert_eq!(one.len(), 1);
    let _: () = ok(&mut admin, &["ACL", "LOG", "RESET"]);
    let none: Vec<Entry> = ok(&mut admin, &["ACL", "LOG"]);
    assert!(none.is_empty());
}

#[test]
fn subcommands_have_their_own_categories() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "dev",
            "on",
            ">pw",
            "allkeys",
            "allchannels",
            "+@all",
            "-@admin",
        ],
    );
    let mut c = conn_as(&s, "dev", "pw");
    let me: String = ok(&mut c, &["ACL", "WHOAMI"]);
    assert_eq!(me, "dev");
    let id: i64 = ok(&mut c, &["CLIENT", "ID"]);
    assert!(id > 0);
    assert_eq!(
        err(&mut c, &["CLIENT", "LIST"]),
        "NOPERM User dev has no permissions to run the 'client|list' command"
    );
    assert_eq!(
        err(&mut c, &["ACL", "LIST"]),
        "NOPERM User dev has no permissions to run the 'acl|list' command"
    );
    let user: Value = ok(&mut admin, &["ACL", "GETUSER", "dev"]);
    let fields: Vec<(String, Value)> = redis::from_redis_value(user).expect("map");
    let commands = fields
        .iter()
        .find(|(k, _)| k == "commands")
        .expect("commands");
    let commands: String = redis::from_redis_value(commands.1.clone()).expect("text");
    assert_eq!(commands, "+@all -@admin");
}

#[test]
fn selectors_grant_further_permission_sets() {
    let s = TestServer::start();
    let mut admin = s.conn();
    // Clients send a selector as several arguments.
    let _: () = ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "multi",
            "on",
            ">pw",
            "~app:*",
            "+get",
            "(~cache:*",
            "+set",
            "+get)",
        ],
    );
    let lines: Vec<String> = ok(&mut admin, &["ACL", "LIST"]);
    let line = "user multi on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~app:* resetchannels -@all +get (~cache:* resetchannels -@all +get +set)";
    assert_eq!(lines[1], line);
    let user: Value = ok(&mut admin, &["ACL", "GETUSER", "multi"]);
    let fields: Vec<(String, Value)> = redis::from_redis_value(user).expect("map");
    let selectors = fields
        .iter()
        .find(|(k, _)| k == "selectors")
        .expect("selectors");
    let selectors: Vec<Vec<(String, String)>> =
        redis::from_redis_value(selectors.1.clone()).expect("list of maps");
    assert_eq!(
        selectors,
        [vec![
            ("commands".to_string(), "-@all +get +set".to_string()),
            ("keys".to_string(), "~cache:*".to_string()),
            ("channels".to_string(), String::new()),
        ]]
    );
    let mut c = conn_as(&s, "multi", "pw");
    let _: () = ok(&mut c, &["SET", "cache:1", "v"]);
    let v: String = ok(&mut c, &["GET", "cache:1"]);
    assert_eq!(v, "v");
    let none: Option<String> = ok(&mut c, &["GET", "app:1"]);
    assert_eq!(none, None);
    // SET on app:* is allowed by no selector: the key is the telling reason.
    assert_eq!(
        err(&mut c, &["SET", "app:1", "v"]),
        "NOPERM No permissions to access a key"
    );
    assert_eq!(
        err(&mut c, &["DEL", "cache:1"]),
        "NOPERM User multi has no permissions to run the 'del' command"
    );
    let _: () = ok(&mut admin, &["ACL", "SETUSER", "multi", "clearselectors"]);
    assert_eq!(
        err(&mut c, &["SET", "cache:1", "v"]),
        "NOPERM User multi has no permissions to run the 'set' command"
    );
    assert_eq!(
        err(&mut admin, &["ACL", "SETUSER", "multi", "(+get"]),
        "ERR Error in ACL SETUSER modifier '(+get': Unmatched parenthesis in acl selector"
    );
}

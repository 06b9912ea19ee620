//! DEBUG DIGEST / DIGEST-VALUE / HELP: digests that two servers holding the
//! same data agree on however the data got there, and Redis's reply shapes
//! and error texts.

use meridian_tests::TestServer;
use meridian_tests::call::{err, ok as q};
use redis::Connection;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// An expiry far enough ahead that no test sees it pass, as an absolute
/// PEXPIREAT time so both servers store the very same deadline.
const LATER_MS: &str = "4000000000000";

fn digest(c: &mut Connection) -> String {
    q(c, &["DEBUG", "DIGEST"])
}

fn digest_values(c: &mut Connection, keys: &[&str]) -> Vec<String> {
    let mut words = vec!["DEBUG", "DIGEST-VALUE"];
    words.extend_from_slice(keys);
    q(c, &words)
}

fn is_hex40(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Groups of writes that leave the same data in whatever order the groups
/// run: each touches its own key, or adds distinct fields or members to a
/// shared one. Within a group order matters (PEXPIREAT needs its key).
const WRITES: &[&[&[&str]]] = &[
    &[&["SET", "s", "hello"]],
    &[&["SET", "n", "42"]],
    &[&["HSET", "h", "f1", "a"]],
    &[&["HSET", "h", "f2", "b", "f3", "c"]],
    &[&["SADD", "set", "x", "y"]],
    &[&["SADD", "set", "z"]],
    &[&["ZADD", "z", "1.5", "m1"]],
    &[&["ZADD", "z", "-3", "m2", "0.1", "m3"]],
    &[&["RPUSH", "l", "1", "2", "3"]],
    &[&["SET", "t", "expiring"], &["PEXPIREAT", "t", LATER_MS]],
    &[&["HSET", "ht", "f", "v"], &["PEXPIREAT", "ht", LATER_MS]],
];

const KEYS: &[&str] = &["s", "n", "h", "set", "z", "l", "t", "ht"];

fn apply<'a>(c: &mut Connection, groups: impl IntoIterator<Item = &'a &'a [&'a [&'a str]]>) {
    for group in groups {
        for w in group.iter() {
            q::<redis::Value>(c, w);
        }
    }
}

#[test]
fn same_writes_in_another_order_give_the_same_digest() {
    let (a, b) = (TestServer::start(), TestServer::start());
    let (mut ca, mut cb) = (a.conn(), b.conn());
    apply(&mut ca, WRITES);
    apply(&mut cb, WRITES.iter().rev());

    let da = digest(&mut ca);
    assert!(is_hex40(&da), "{da}");
    assert_ne!(da, ZERO);
    assert_eq!(da, digest(&mut cb));
    assert_eq!(digest_values(&mut ca, KEYS), digest_values(&mut cb, KEYS));

    // Reads change access statistics, never the digest.
    for k in KEYS {
        q::<i64>(&mut cb, &["TOUCH", k]);
    }
    assert_eq!(digest(&mut cb), da);

    // One differing value, or expiry, shows.
    q::<()>(&mut cb, &["HSET", "h", "f1", "changed"]);
    assert_ne!(digest(&mut cb), da);
    q::<()>(&mut cb, &["HSET", "h", "f1", "a"]);
    assert_eq!(digest(&mut cb), da);
    q::<i64>(&mut cb, &["PEXPIREAT", "t", "4000000000001"]);
    assert_ne!(digest(&mut cb), da);
    assert_ne!(
        digest_values(&mut ca, &["t"]),
        digest_values(&mut cb, &["t"])
    );
}

/// Guards the test above: it only means something if the two servers keep
/// elements in different orders.
#[test]
fn digests_do_not_depend_on_element_order() {
    let (a, b) = (TestServer::start(), TestServer::start());
    let (mut ca, mut cb) = (a.conn(), b.conn());
    let members: Vec<String> = (0..200).map(|i| format!("member:{i}")).collect();
    for m in &members {
        q::<i64>(&mut ca, &["SADD", "big", m]);
    }
    for m in members.iter().rev() {
        q::<i64>(&mut cb, &["SADD", "big", m]);
    }
    let order = |c: &mut Connection| q::<Vec<String>>(c, &["SMEMBERS", "big"]);
    assert_ne!(
        order(&mut ca),
        order(&mut cb),
        "same order: test proves nothing"
    );
    assert_eq!(digest(&mut ca), digest(&mut cb));
    assert_eq!(
        digest_values(&mut ca, &["big"]),
        digest_values(&mut cb, &["big"])
    );
}

#[test]
fn an_empty_keyspace_digests_to_zeros() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(digest(&mut c), ZERO);
    // A status line, as Redis replies.
    let mut raw = s.raw();
    let want = format!("+{ZERO}\r\n");
    assert_eq!(
        raw.roundtrip(b"DEBUG DIGEST\r\n", want.len()),
        want.as_bytes()
    );

    apply(&mut c, WRITES);
    assert_ne!(digest(&mut c), ZERO);
    assert_eq!(q::<String>(&mut c, &["FLUSHALL"]), "OK");
    assert_eq!(digest(&mut c), ZERO);

    // Deleting the last key is as good as never writing it.
    q::<()>(&mut c, &["SET", "k", "v"]);
    q::<i64>(&mut c, &["DEL", "k"]);
    assert_eq!(digest(&mut c), ZERO);
}

#[test]
fn digest_value_answers_one_digest_per_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(digest_values(&mut c, &["missing"]), vec![ZERO.to_string()]);
    assert_eq!(digest_values(&mut c, &[]), Vec::<String>::new());

    q::<()>(&mut c, &["SET", "a", "same"]);
    q::<()>(&mut c, &["SET", "b", "same"]);
    q::<()>(&mut c, &["SET", "c", "other"]);
    let d = digest_values(&mut c, &["a", "b", "c", "missing", "a"]);
    assert_eq!(d.len(), 5);
    assert!(d.iter().all(|x| is_hex40(x)), "{d:?}");
    // The key's name is not part of its value's digest.
    assert_eq!(d[0], d[1]);
    assert_ne!(d[0], d[2]);
    assert_eq!(d[3], ZERO);
    assert_eq!(d[4], d[0]);
    // But it is part of the keyspace's.
    let one_name = digest(&mut c);
    q::<()>(&mut c, &["RENAME", "c", "c2"]);
    assert_ne!(digest(&mut c), one_name);

    // Any kind digests, kind included: the same bytes in a list differ.
    q::<i64>(&mut c, &["RPUSH", "l", "same"]);
    let d = digest_values(&mut c, &["a", "l"]);
    assert_ne!(d[0], d[1]);
}

#[test]
fn expired_keys_do_not_count() {
    let s = TestServer::start();
    let mut c = s.conn();
    q::<()>(&mut c, &["SET", "live", "v"]);
    let before = digest(&mut c);
    q::<()>(&mut c, &["SET", "brief", "v", "PX", "20"]);
    assert_ne!(digest(&mut c), before);
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(digest(&mut c), before);
    assert_eq!(digest_values(&mut c, &["brief"]), vec![ZERO.to_string()]);
}

#[test]
fn digests_inside_multi_exec() {
    let s = TestServer::start();
    let mut c = s.conn();
    apply(&mut c, WRITES);
    let outside = digest(&mut c);
    let values = digest_values(&mut c, &["s", "missing"]);
    // EXEC holds every shard: the digest must walk them through it.
    let (inside, inside_values): (String, Vec<String>) = redis::pipe()
        .atomic()
        .cmd("DEBUG")
        .arg("DIGEST")
        .cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("s")
        .arg("missing")
        .query(&mut c)
        .expect("MULTI/EXEC");
    assert_eq!(inside, outside);
    assert_eq!(inside_values, values);
}

#[test]
fn help_and_errors_follow_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    let help: Vec<String> = q(&mut c, &["DEBUG", "HELP"]);
    assert!(help[0].starts_with("DEBUG <subcommand>"), "{help:?}");
    for sub in ["DIGEST", "DIGEST-VALUE <key> [<key> ...]", "HELP"] {
        assert!(help.iter().any(|l| l == sub), "{sub} missing: {help:?}");
    }
    let lower: Vec<String> = q(&mut c, &["debug", "help"]);
    assert_eq!(lower, help);

    assert_eq!(
        err(&mut c, &["DEBUG", "x"]),
        "ERR unknown subcommand or wrong number of arguments for 'x'. Try DEBUG HELP."
    );
    // Not implemented here, so unknown.
    assert_eq!(
        err(&mut c, &["DEBUG", "SLEEP", "0"]),
        "ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP."
    );
    // DEBUG has no subcommand table: a wrong arity reads the same.
    assert_eq!(
        err(&mut c, &["DEBUG", "DIGEST", "extra"]),
        "ERR unknown subcommand or wrong number of arguments for 'DIGEST'. Try DEBUG HELP."
    );
    assert_eq!(
        err(&mut c, &["DEBUG"]),
        "ERR wrong number of arguments for 'debug' command"
    );
    // Case does not matter for the subcommand.
    assert_eq!(q::<String>(&mut c, &["debug", "digest"]), ZERO);
}

#[test]
fn debug_is_in_the_command_table() {
    let s = TestServer::start();
    let mut c = s.conn();
    let names: Vec<String> = q(&mut c, &["COMMAND", "LIST"]);
    assert!(names.iter().any(|n| n == "debug"));
    // The keys of DIGEST-VALUE are declared, so the dispatcher locks their
    // shards (Redis declares none).
    let keys: Vec<String> = q(
        &mut c,
        &["COMMAND", "GETKEYS", "DEBUG", "DIGEST-VALUE", "a", "b"],
    );
    assert_eq!(keys, ["a", "b"]);
}

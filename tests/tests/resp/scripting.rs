//! Lua scripting (EVAL, EVALSHA, SCRIPT): the scripts client libraries and
//! applications rely on (lock release, rate limiter, reliable queue,
//! `redis::Script`'s EVALSHA-then-EVAL), Redis's conversion rules and error
//! texts (expected values are redis-server 7.0's answers to the same
//! commands), the sandbox, atomicity, and a runaway script stopped by SCRIPT
//! KILL while the server keeps answering.

use std::thread;
use std::time::{Duration, Instant};

use meridian_tests::call::{err, ok, q};
use meridian_tests::cluster::info_field;
use meridian_tests::{RawConn, TestCluster, TestServer};
use redis::{Commands, Value};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sends `cmd` and asserts the answer is exactly `expected`.
fn expect(raw: &mut RawConn, cmd: &[&str], expected: &str) {
    let mut wire = format!("*{}\r\n", cmd.len());
    for a in cmd {
        wire.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    let got = raw.roundtrip(wire.as_bytes(), expected.len());
    assert_eq!(text(&got), expected, "answer to {cmd:?}");
}

/// The lock helper every client library ships: delete the key only if it
/// still holds our token.
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
                       return redis.call('del', KEYS[1]) else return 0 end";

#[test]
fn lock_release_deletes_only_our_own_lock() {
    let s = TestServer::start();
    let mut c = s.conn();
    let set: Option<String> = ok(&mut c, &["SET", "lock", "token-a", "NX", "PX", "30000"]);
    assert_eq!(set.as_deref(), Some("OK"));
    // Someone else's token: the lock stays.
    let n: i64 = ok(&mut c, &["EVAL", RELEASE, "1", "lock", "token-b"]);
    assert_eq!(n, 0);
    let held: Option<String> = c.get("lock").unwrap();
    assert_eq!(held.as_deref(), Some("token-a"));
    // Ours: released.
    let n: i64 = ok(&mut c, &["EVAL", RELEASE, "1", "lock", "token-a"]);
    assert_eq!(n, 1);
    let exists: i64 = c.exists("lock").unwrap();
    assert_eq!(exists, 0);
    // No lock at all: nothing to release.
    let n: i64 = ok(&mut c, &["EVAL", RELEASE, "1", "lock", "token-a"]);
    assert_eq!(n, 0);
}

/// A token bucket: `capacity` tokens, refilled at `rate` per second; each
/// call takes one if it can. Answers {allowed, tokens left}.
const TOKEN_BUCKET: &str = r#"
local key, capacity, rate, now = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens, ts = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, ts = capacity, now end
tokens = math.min(capacity, tokens + (now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', key, 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', key, math.ceil(capacity / rate * 1000))
return {allowed, tokens}
"#;

#[test]
fn token_bucket_rate_limiter_allows_the_burst_then_refills() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut take = |now: &str| -> (i64, i64) {
        let r: Vec<i64> = ok(
            &mut c,
            &["EVAL", TOKEN_BUCKET, "1", "bucket:u1", "3", "1", now],
        );
        (r[0], r[1])
    };
    // A burst of three at t=100 passes, the fourth is refused.
    assert_eq!(take("100"), (1, 2));
    assert_eq!(take("100"), (1, 1));
    assert_eq!(take("100"), (1, 0));
    assert_eq!(take("100"), (0, 0));
    // Two seconds later two tokens came back.
    assert_eq!(take("102"), (1, 1));
    assert_eq!(take("102"), (1, 0));
    assert_eq!(take("102"), (0, 0));
    let mut c = s.conn();
    let ttl: i64 = c.pttl("bucket:u1").unwrap();
    assert!(ttl > 0 && ttl <= 3000, "bucket expires: {ttl}");
}

/// Reliable queue: move the oldest job to the processing list and stamp it,
/// all or nothing.
const CLAIM: &str = r#"
local job = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
if not job then return false end
redis.call('HSET', KEYS[3], job, ARGV[1])
return job
"#;

#[test]
fn reliable_queue_moves_jobs_to_processing_atomically() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: i64 = c.lpush("queue", &["job1", "job2"]).unwrap();
    let job: Option<String> = ok(
        &mut c,
        &["EVAL", CLAIM, "3", "queue", "processing", "claimed", "1000"],
    );
    assert_eq!(job.as_deref(), Some("job1"));
    let job: Option<String> = ok(
        &mut c,
        &["EVAL", CLAIM, "3", "queue", "processing", "claimed", "1001"],
    );
    assert_eq!(job.as_deref(), Some("job2"));
    // Empty queue: `false` comes back as a null reply.
    let job: Option<String> = ok(
        &mut c,
        &["EVAL", CLAIM, "3", "queue", "processing", "claimed", "1002"],
    );
    assert_eq!(job, None);
    let processing: Vec<String> = c.lrange("processing", 0, -1).unwrap();
    assert_eq!(processing, vec!["job2", "job1"]);
    let stamp: String = c.hget("claimed", "job1").unwrap();
    assert_eq!(stamp, "1000");
    // A wrong-type destination fails the script with Redis's error and
    // leaves the queue alone.
    let _: i64 = c.lpush("queue", "job3").unwrap();
    let _: () = c.set("busted", "x").unwrap();
    let e = err(
        &mut c,
        &["EVAL", CLAIM, "3", "queue", "busted", "claimed", "1"],
    );
    assert!(
        e.starts_with("WRONGTYPE Operation against a key holding the wrong kind of value script: "),
        "{e}"
    );
    let left: Vec<String> = c.lrange("queue", 0, -1).unwrap();
    assert_eq!(left, vec!["job3"]);
}

#[test]
fn script_load_then_evalsha_from_another_connection() {
    let s = TestServer::start();
    let mut a = s.conn();
    let sha: String = ok(&mut a, &["SCRIPT", "LOAD", "return 1"]);
    assert_eq!(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    drop(a);
    // A new connection (a restarted client) finds the script by its SHA1, in
    // any case.
    let mut b = s.conn();
    let one: i64 = ok(&mut b, &["EVALSHA", &sha, "0"]);
    assert_eq!(one, 1);
    let one: i64 = ok(&mut b, &["EVALSHA", &sha.to_uppercase(), "0"]);
    assert_eq!(one, 1);
    let one: i64 = ok(&mut b, &["EVALSHA_RO", &sha, "0"]);
    assert_eq!(one, 1);
    let exists: Vec<i64> = ok(
        &mut b,
        &[
            "SCRIPT",
            "EXISTS",
            &sha,
            "ffffffffffffffffffffffffffffffffffffffff",
        ],
    );
    assert_eq!(exists, vec![1, 0]);
    // EVAL caches its script too.
    let _: i64 = ok(&mut b, &["EVAL", "return 2", "0"]);
    let sha2: String = ok(&mut b, &["EVAL", "return redis.sha1hex('return 2')", "0"]);
    let two: i64 = ok(&mut b, &["EVALSHA", &sha2, "0"]);
    assert_eq!(two, 2);
    let info: String = ok(&mut b, &["INFO", "memory"]);
    assert_eq!(info_field(&info, "number_of_cached_scripts"), Some("3"));
    // Commands scripts call count in commandstats, as in Redis.
    let _: i64 = ok(
        &mut b,
        &[
            "EVAL",
            "redis.call('incr', 'calls') return redis.call('incr', 'calls')",
            "0",
        ],
    );
    let stats: String = ok(&mut b, &["INFO", "commandstats"]);
    assert!(
        info_field(&stats, "cmdstat_incr").is_some_and(|v| v.starts_with("calls=2,")),
        "{stats}"
    );
    let lua_bytes: u64 = info_field(&info, "used_memory_lua")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(lua_bytes > 0, "{info}");
    // SCRIPT FLUSH forgets them all.
    let flushed: String = ok(&mut b, &["SCRIPT", "FLUSH"]);
    assert_eq!(flushed, "OK");
    let info: String = ok(&mut b, &["INFO", "memory"]);
    assert_eq!(info_field(&info, "number_of_cached_scripts"), Some("0"));
    let exists: Vec<i64> = ok(&mut b, &["SCRIPT", "EXISTS", &sha, &sha2]);
    assert_eq!(exists, vec![0, 0]);
}

#[test]
fn unknown_sha_answers_noscript() {
    let s = TestServer::start();
    let mut c = s.conn();
    let noscript = "NOSCRIPT No matching script. Please use EVAL.";
    assert_eq!(
        err(
            &mut c,
            &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]
        ),
        noscript
    );
    assert_eq!(err(&mut c, &["EVALSHA", "fff", "0"]), noscript);
    assert_eq!(
        err(
            &mut c,
            &[
                "EVALSHA_RO",
                "ffffffffffffffffffffffffffffffffffffffff",
                "0"
            ]
        ),
        noscript
    );
}

#[test]
fn redis_script_object_falls_back_to_eval_and_then_uses_evalsha() {
    let s = TestServer::start();
    let mut c = s.conn();
    let script = redis::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    // The server has never seen it: EVALSHA answers NOSCRIPT, the client
    // loads it and retries.
    let n: i64 = script.key("counter").arg(5).invoke(&mut c).unwrap();
    assert_eq!(n, 5);
    let exists: Vec<i64> = ok(&mut c, &["SCRIPT", "EXISTS", script.get_hash()]);
    assert_eq!(exists, vec![1]);
    let n: i64 = script.key("counter").arg(2).invoke(&mut c).unwrap();
    assert_eq!(n, 7);
    // After SCRIPT FLUSH it falls back again.
    let _: String = ok(&mut c, &["SCRIPT", "FLUSH"]);
    let n: i64 = script.key("counter").arg(1).invoke(&mut c).unwrap();
    assert_eq!(n, 8);
}

#[test]
fn numkeys_splits_keys_from_args_and_is_checked() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Vec<String> = ok(
        &mut c,
        &[
            "EVAL",
            "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}",
            "2",
            "a",
            "b",
            "c",
            "d",
        ],
    );
    assert_eq!(v, vec!["a", "b", "c", "d"]);
    let n: i64 = ok(
        &mut c,
        &["EVAL", "return #KEYS + 10 * #ARGV", "1", "k", "x", "y"],
    );
    assert_eq!(n, 21);
    assert_eq!(
        err(&mut c, &["EVAL", "return 1", "-1"]),
        "ERR Number of keys can't be negative"
    );
    assert_eq!(
        err(&mut c, &["EVAL", "return 1", "3", "a"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err(&mut c, &["EVAL", "return 1", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["EVAL", "return 1"]),
        "ERR wrong number of arguments for 'eval' command"
    );
}

#[test]
fn globals_and_unsafe_libraries_are_out_of_reach() {
    let s = TestServer::start();
    let mut c = s.conn();
    let sha = |src: &str| -> String {
        ok(
            &mut s.conn(),
            &["EVAL", &format!("return redis.sha1hex({src:?})"), "0"],
        )
    };
    let cases = [
        (
            "a = 5",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "return a",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'a'",
        ),
        (
            "return os",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'os'",
        ),
        (
            "return io",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'io'",
        ),
        (
            "return loadfile",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'loadfile'",
        ),
        (
            "return dofile",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'dofile'",
        ),
        (
            "return print",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'print'",
        ),
        (
            "string.x = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "redis.call = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "rawset(_G, 'x', 1)",
            "ERR Attempt to modify a readonly table",
        ),
        (
            "setmetatable(_G, nil)",
            "ERR user_script:1: cannot change a protected metatable",
        ),
    ];
    for (src, msg) in cases {
        let expected = format!("{msg} script: {}, on @user_script:1.", sha(src));
        assert_eq!(err(&mut c, &["EVAL", src, "0"]), expected, "{src}");
    }
    // Locals, and the libraries Redis offers, work.
    let v: i64 = ok(
        &mut c,
        &["EVAL", "local t = {} t.x = 41 return t.x + 1", "0"],
    );
    assert_eq!(v, 42);
    let v: String = ok(
        &mut c,
        &[
            "EVAL",
            "return type(string) .. type(table) .. type(math) .. type(bit) .. type(coroutine) .. _VERSION",
            "0",
        ],
    );
    assert_eq!(v, "tabletabletabletabletableLua 5.1");
    let v: String = ok(
        &mut c,
        &["EVAL", "return bit.tohex(bit.band(0x12345678, 0xff))", "0"],
    );
    assert_eq!(v, "00000078");
    let v: i64 = ok(
        &mut c,
        &[
            "EVAL",
            "local n = 0 for _ in pairs(math) do n = n + 1 end return n",
            "0",
        ],
    );
    assert!(v > 20, "pairs sees the library: {v}");
    // Code loaded at run time is sandboxed the same way.
    let e = err(&mut c, &["EVAL", "return loadstring('x = 1')()", "0"]);
    assert!(
        e.starts_with("ERR [string \"x = 1\"]:1: Attempt to modify a readonly table script: "),
        "{e}"
    );
    // And nothing a script did leaks into the next one.
    let v: String = ok(&mut c, &["EVAL", "return type(string.upper)", "0"]);
    assert_eq!(v, "function");
}

#[test]
fn errors_read_as_redis_7_writes_them() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = c.set("s", "abc").unwrap();
    let sha = |src: &str| -> String {
        ok(
            &mut s.conn(),
            &["EVAL", &format!("return redis.sha1hex({src:?})"), "0"],
        )
    };
    let trailer = |src: &str| format!(" script: {}, on @user_script:1.", sha(src));
    let raised = [
        (
            "return redis.call('incr','s')",
            "ERR value is not an integer or out of range",
        ),
        (
            "return redis.call('nosuch')",
            "ERR Unknown Redis command called from script",
        ),
        (
            "return redis.call('get')",
            "ERR Wrong number of args calling Redis command from script",
        ),
        (
            "return redis.call()",
            "ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "return redis.call('get', {})",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        (
            "return redis.call('multi')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('blpop','l',0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('eval','return 1',0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('set', 'n', true)",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        ("error('boom')", "ERR user_script:1: boom"),
        ("error({err='X boom'})", "X boom"),
        ("error(5)", "ERR user_script:1: 5"),
        ("redis.setresp(4)", "ERR RESP version must be 2 or 3."),
        (
            "redis.setresp()",
            "ERR redis.setresp() requires one argument.",
        ),
        ("redis.log(99, 'hi')", "ERR Invalid debug level."),
        (
            "redis.log(redis.LOG_WARNING)",
            "ERR redis.log() requires two arguments or more.",
        ),
        ("return redis.sha1hex()", "ERR wrong number of arguments"),
    ];
    for (src, msg) in raised {
        assert_eq!(
            err(&mut c, &["EVAL", src, "0"]),
            format!("{msg}{}", trailer(src)),
            "{src}"
        );
    }
    let wrongtype = "local function f() return redis.call('lpush', KEYS[1], 'x') end\nreturn f()";
    assert_eq!(
        err(&mut c, &["EVAL", wrongtype, "1", "s"]),
        format!(
            "WRONGTYPE Operation against a key holding the wrong kind of value script: {}, on @user_script:1.",
            sha(wrongtype)
        )
    );
    // Returned (not raised) errors carry no trailer.
    let returned = [
        (
            "return redis.pcall('incr','s')",
            "ERR value is not an integer or out of range",
        ),
        (
            "return redis.pcall('nosuch')",
            "ERR Unknown Redis command called from script",
        ),
        ("return redis.error_reply('My Error')", "My Error"),
        ("return redis.error_reply('-My Error')", "My Error"),
        ("return {err='My Error'}", "My Error"),
        (
            "return redis.error_reply()",
            "ERR wrong number or type of arguments",
        ),
    ];
    for (src, msg) in returned {
        assert_eq!(err(&mut c, &["EVAL", src, "0"]), msg, "{src}");
    }
    // pcall hands the script Redis's error table; Lua's pcall its message.
    let v: String = ok(
        &mut c,
        &[
            "EVAL",
            "local r = redis.pcall('incr','s'); return type(r)..r.err",
            "0",
        ],
    );
    assert_eq!(v, "tableERR value is not an integer or out of range");
    let v: String = ok(
        &mut c,
        &[
            "EVAL",
            "local ok, e = pcall(function() redis.call('nosuch') end) return tostring(ok) .. ' ' .. e",
            "0",
        ],
    );
    assert_eq!(v, "false ERR Unknown Redis command called from script");
    assert_eq!(
        err(&mut c, &["EVAL", "return x +", "0"]),
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    );
    assert_eq!(
        err(&mut c, &["SCRIPT", "LOAD", "return +"]),
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'"
    );
    let v: Option<String> = ok(
        &mut c,
        &["EVAL", "redis.debug('x') return redis.breakpoint()", "0"],
    );
    assert_eq!(v, None);
    let status: String = ok(&mut c, &["EVAL", "return redis.status_reply('FINE')", "0"]);
    assert_eq!(status, "FINE");
    // The error line is on the line the script failed on.
    let two_lines = "local x = 1\nerror('late')";
    assert_eq!(
        err(&mut c, &["EVAL", two_lines, "0"]),
        format!(
            "ERR user_script:2: late script: {}, on @user_script:2.",
            sha(two_lines)
        )
    );
}

#[test]
fn read_only_scripts_refuse_writes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let src = "return redis.call('set','x','1')";
    let sha: String = ok(&mut c, &["SCRIPT", "LOAD", src]);
    let expected = format!(
        "ERR Write commands are not allowed from read-only scripts. script: {sha}, on @user_script:1."
    );
    assert_eq!(err(&mut c, &["EVAL_RO", src, "0"]), expected);
    assert_eq!(err(&mut c, &["EVALSHA_RO", &sha, "0"]), expected);
    let v: Option<String> = ok(&mut c, &["EVAL_RO", "return redis.call('get','x')", "0"]);
    assert_eq!(v, None);
    let v: String = ok(&mut c, &["EVALSHA", &sha, "0"]);
    assert_eq!(v, "OK");
}

#[test]
fn resp2_conversions_match_redis() {
    let s = TestServer::start();
    let mut raw = s.raw();
    // Expected bytes are redis-server 7.0's answers on a RESP2 connection.
    let cases: &[(&str, &str)] = &[
        ("return 3.99", ":3\r\n"),
        ("return -3.99", ":-3\r\n"),
        ("return 1e20", ":-9223372036854775808\r\n"),
        ("return true", ":1\r\n"),
        ("return false", "$-1\r\n"),
        ("return nil", "$-1\r\n"),
        ("return {1,2,nil,4}", "*2\r\n:1\r\n:2\r\n"),
        ("return {1,false,3}", "*3\r\n:1\r\n$-1\r\n:3\r\n"),
        ("return {1,{err='x y'},3}", "*3\r\n:1\r\n-x y\r\n:3\r\n"),
        (
            "return {1,2,{3,'x'},{}}",
            "*4\r\n:1\r\n:2\r\n*2\r\n:3\r\n$1\r\nx\r\n*0\r\n",
        ),
        ("return {a=1}", "*0\r\n"),
        ("return {ok='FINE'}", "+FINE\r\n"),
        ("return {err=5}", "*0\r\n"),
        ("return {double=3.5}", "$3\r\n3.5\r\n"),
        ("return {map={a=1}}", "*2\r\n$1\r\na\r\n:1\r\n"),
        ("return {big_number='123'}", "$3\r\n123\r\n"),
        ("return 'a'..'\\0'..'b'", "$3\r\na\0b\r\n"),
        ("return redis.call('get','nokey')", "$-1\r\n"),
        (
            "return type(redis.call('get','nokey'))",
            "$7\r\nboolean\r\n",
        ),
        ("return redis.call('set','k','v')", "+OK\r\n"),
        ("return redis.call('set','n', 3.5)", "+OK\r\n"),
        ("return redis.call('get','n')", "$3\r\n3.5\r\n"),
        (
            "local r = redis.call('set','k','v'); return r.ok",
            "$2\r\nOK\r\n",
        ),
        (
            "redis.call('hset','h','a','1'); return redis.call('hgetall','h')",
            "*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        ("return redis.call('hgetall','nohash')", "*0\r\n"),
        (
            "redis.setresp(3); return redis.call('hgetall','h')",
            "*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        ("redis.setresp(3); return true", ":1\r\n"),
        ("redis.setresp(3); return false", ":0\r\n"),
        (
            "redis.setresp(3); return redis.call('get','nokey')",
            "$-1\r\n",
        ),
        ("return redis.setresp(3)", "$-1\r\n"),
        (
            "return redis.log(redis.LOG_WARNING, 'from a test')",
            "$-1\r\n",
        ),
        (
            "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
            "*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n",
        ),
        (
            "return redis.sha1hex('')",
            "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n",
        ),
        ("return tostring(1e15)", "$5\r\n1e+15\r\n"),
        (
            "local t = {} t[1] = t return t",
            "-ERR reached lua stack limit\r\n",
        ),
    ];
    for (src, expected) in cases {
        expect(&mut raw, &["EVAL", src, "0"], expected);
    }
}

#[test]
fn resp3_conversions_match_redis() {
    let s = TestServer::start();
    let mut raw = s.raw();
    // Switch to RESP3 and skip HELLO's answer (up to the PONG after it).
    raw.send(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n");
    let mut hello = Vec::new();
    while !hello.ends_with(b"+PONG\r\n") {
        let more = raw.read_at_least(1);
        assert!(!more.is_empty(), "no answer to HELLO 3");
        hello.extend_from_slice(&more);
    }
    expect(&mut raw, &["ZADD", "z", "1.5", "a"], ":1\r\n");
    expect(&mut raw, &["HSET", "h", "a", "1"], ":1\r\n");
    // Expected bytes are redis-server 7.0's answers on a RESP3 connection.
    let cases: &[(&str, &str)] = &[
        ("return true", ":1\r\n"),
        ("return false", "_\r\n"),
        ("return nil", "_\r\n"),
        ("return {1,false,3}", "*3\r\n:1\r\n_\r\n:3\r\n"),
        ("return {double=3.5}", ",3.5\r\n"),
        ("return {map={a=1}}", "%1\r\n$1\r\na\r\n:1\r\n"),
        ("return {set={a=true}}", "~1\r\n$1\r\na\r\n"),
        (
            "return {big_number='123456789012345678901234567890'}",
            "(123456789012345678901234567890\r\n",
        ),
        (
            "return {verbatim_string={format='txt', string='hello'}}",
            "=9\r\ntxt:hello\r\n",
        ),
        (
            "return {map={a={1,2}}}",
            "%1\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n",
        ),
        ("redis.setresp(3); return false", "#f\r\n"),
        ("redis.setresp(3); return true", "#t\r\n"),
        ("redis.setresp(3); return {false, nil}", "*1\r\n#f\r\n"),
        (
            "redis.setresp(3); return redis.call('hgetall','h')",
            "%1\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        (
            "redis.setresp(3); local r = redis.call('hgetall','h'); return type(r.map)",
            "$5\r\ntable\r\n",
        ),
        (
            "redis.setresp(3); return redis.call('get','nokey')",
            "_\r\n",
        ),
        (
            "redis.setresp(3); return type(redis.call('get','nokey'))",
            "$3\r\nnil\r\n",
        ),
        (
            "redis.setresp(3); return redis.call('hgetall','nohash')",
            "%0\r\n",
        ),
        (
            "redis.setresp(3); return redis.call('zscore','z','a')",
            ",1.5\r\n",
        ),
        (
            "redis.setresp(3); local r = redis.call('zscore','z','a'); return type(r) .. tostring(r.double)",
            "$8\r\ntable1.5\r\n",
        ),
        (
            "redis.setresp(3); return redis.call('exists','z') == 1",
            "#t\r\n",
        ),
        (
            "redis.setresp(2); return redis.call('hgetall','h')",
            "*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        ("return redis.call('zscore','z','a')", "$3\r\n1.5\r\n"),
    ];
    for (src, expected) in cases {
        expect(&mut raw, &["EVAL", src, "0"], expected);
    }
}

#[test]
fn scripts_run_atomically() {
    let s = TestServer::start();
    // Read-modify-write in two commands: only atomic because it is a script.
    let src = "local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1) return v + 1";
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = s.conn();
            thread::spawn(move || {
                for _ in 0..200 {
                    let _: i64 = ok(&mut c, &["EVAL", src, "1", "counter"]);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut c = s.conn();
    let v: i64 = c.get("counter").unwrap();
    assert_eq!(v, 800);
}

#[test]
fn scripts_run_inside_multi_exec() {
    let s = TestServer::start();
    let mut c = s.conn();
    let (a, b): (i64, String) = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("return redis.call('incr', KEYS[1])")
        .arg(1)
        .arg("k")
        .cmd("EVAL")
        .arg("return redis.call('get', KEYS[1])")
        .arg(1)
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b.as_str()), (1, "1"));
}

#[test]
fn script_kill_stops_a_runaway_script_while_the_server_keeps_serving() {
    let s = TestServer::start_with(|c| c.busy_reply_threshold = 200);
    let mut runner = s.conn();
    runner
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let src = "while true do end";
    let handle = thread::spawn(move || q::<Value>(&mut runner, &["EVAL", src, "0"]));
    let mut other = s.conn();
    // Not running yet: SCRIPT KILL has nothing to kill.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match q::<String>(&mut other, &["PING"]) {
            Err(e) if e.code() == Some("BUSY") => break,
            _ if Instant::now() > deadline => panic!("never saw BUSY"),
            _ => thread::sleep(Duration::from_millis(20)),
        }
    }
    assert_eq!(
        err(&mut other, &["GET", "x"]),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    let killed: String = ok(&mut other, &["SCRIPT", "KILL"]);
    assert_eq!(killed, "OK");
    let answer = handle.join().unwrap();
    let e = answer.expect_err("the killed script fails");
    let sha: String = ok(
        &mut other,
        &["EVAL", &format!("return redis.sha1hex({src:?})"), "0"],
    );
    assert_eq!(
        meridian_tests::call::line(&e),
        format!("ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.")
    );
    let pong: String = ok(&mut other, &["PING"]);
    assert_eq!(pong, "PONG");
    assert_eq!(
        err(&mut other, &["SCRIPT", "KILL"]),
        "NOTBUSY No scripts in execution right now."
    );
}

#[test]
fn a_killed_script_cannot_catch_its_end() {
    let s = TestServer::start_with(|c| c.busy_reply_threshold = 100);
    let mut runner = s.conn();
    runner
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let src = "while true do pcall(function() while true do end end) end";
    let handle = thread::spawn(move || q::<Value>(&mut runner, &["EVAL", src, "0"]));
    let mut other = s.conn();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match q::<String>(&mut other, &["SCRIPT", "KILL"]) {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("SCRIPT KILL never succeeded: {e}"),
        }
    }
    let e = handle.join().unwrap().expect_err("killed");
    assert!(
        meridian_tests::call::line(&e).starts_with("ERR Script killed by user with SCRIPT KILL...")
    );
    let pong: String = ok(&mut other, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn a_script_that_wrote_cannot_be_killed() {
    let s = TestServer::start_with(|c| c.busy_reply_threshold = 100);
    let mut runner = s.conn();
    runner
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Writes, then spins for two seconds of server time (long enough for a
    // loaded machine to get SCRIPT KILL in).
    let src = "redis.call('set', KEYS[1], 'v') local t = redis.call('time') local stop = tonumber(t[1]) * 1e6 + tonumber(t[2]) + 2e6 \
               while true do t = redis.call('time') if tonumber(t[1]) * 1e6 + tonumber(t[2]) > stop then break end end return 'done'";
    let handle = thread::spawn(move || q::<String>(&mut runner, &["EVAL", src, "1", "w"]));
    let mut other = s.conn();
    let deadline = Instant::now() + Duration::from_secs(10);
    let refusal = loop {
        match q::<String>(&mut other, &["SCRIPT", "KILL"]) {
            Err(e) if e.code() == Some("UNKILLABLE") => break meridian_tests::call::line(&e),
            _ if Instant::now() > deadline => panic!("never saw UNKILLABLE"),
            _ => thread::sleep(Duration::from_millis(20)),
        }
    };
    assert_eq!(
        refusal,
        "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
    );
    assert_eq!(handle.join().unwrap().unwrap(), "done");
    let v: String = other.get("w").unwrap();
    assert_eq!(v, "v");
}

#[test]
fn busy_threshold_is_a_config_setting() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Vec<String> = ok(&mut c, &["CONFIG", "GET", "busy-reply-threshold"]);
    assert_eq!(v, vec!["busy-reply-threshold", "5000"]);
    let _: String = ok(&mut c, &["CONFIG", "SET", "lua-time-limit", "250"]);
    let v: Vec<String> = ok(&mut c, &["CONFIG", "GET", "busy-reply-threshold"]);
    assert_eq!(v, vec!["busy-reply-threshold", "250"]);
}

#[test]
fn script_writes_replicate_to_every_region() {
    let cluster = TestCluster::start(2);
    let mut c = cluster.conn(0);
    let n: i64 = ok(
        &mut c,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]) redis.call('rpush', KEYS[2], 'a', 'b') return redis.call('incr', KEYS[3])",
            "3",
            "s",
            "l",
            "n",
            "v",
        ],
    );
    assert_eq!(n, 1);
    cluster.wait_converged(Duration::from_secs(20));
    let mut r = cluster.conn(1);
    let v: String = r.get("s").unwrap();
    assert_eq!(v, "v");
    let l: Vec<String> = r.lrange("l", 0, -1).unwrap();
    assert_eq!(l, vec!["a", "b"]);
    let n: i64 = r.get("n").unwrap();
    assert_eq!(n, 1);
}

#[test]
fn script_subcommands_answer_like_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["SCRIPT", "FLUSH", "x"]),
        "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    );
    let _: String = ok(&mut c, &["SCRIPT", "FLUSH", "ASYNC"]);
    let _: String = ok(&mut c, &["SCRIPT", "FLUSH", "sync"]);
    assert_eq!(
        err(&mut c, &["SCRIPT"]),
        "ERR wrong number of arguments for 'script' command"
    );
    assert_eq!(
        err(&mut c, &["SCRIPT", "foo"]),
        "ERR unknown subcommand 'foo'. Try SCRIPT HELP."
    );
    assert_eq!(
        err(&mut c, &["SCRIPT", "LOAD"]),
        "ERR wrong number of arguments for 'script|load' command"
    );
    assert_eq!(
        err(&mut c, &["SCRIPT", "EXISTS"]),
        "ERR wrong number of arguments for 'script|exists' command"
    );
    let help: Vec<String> = ok(&mut c, &["SCRIPT", "HELP"]);
    assert_eq!(
        help[0],
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
}

#[test]
fn cjson_encodes_and_decodes_as_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    // Expected values: redis-server 7.0 answering the same scripts.
    let v: String = ok(
        &mut c,
        &["EVAL", "return cjson.encode({1,2,3,'a/b',{x=1}})", "0"],
    );
    assert_eq!(v, r#"[1,2,3,"a\/b",{"x":1}]"#);
    let v: Vec<Value> = ok(
        &mut c,
        &[
            "EVAL",
            "local t = cjson.decode(ARGV[1]) return {t.a[1], t.a[2], tostring(t.a[3].b == cjson.null), tostring(t.c)}",
            "0",
            r#"{"a":[1,2,{"b":null}],"c":1.5}"#,
        ],
    );
    assert_eq!(
        v,
        vec![
            Value::Int(1),
            Value::Int(2),
            Value::BulkString(b"true".to_vec()),
            Value::BulkString(b"1.5".to_vec())
        ]
    );
    // Caught with pcall, a library error is its message, as in Lua.
    let v: String = ok(
        &mut c,
        &[
            "EVAL",
            "local ok, e = pcall(function() local x = cjson.encode(function() end) return x end) return e",
            "0",
        ],
    );
    assert_eq!(
        v,
        "user_script:1: Cannot serialise function: type not supported"
    );
    let src = "return cjson.encode(function() end)";
    let sha: String = ok(&mut c, &["SCRIPT", "LOAD", src]);
    assert_eq!(
        err(&mut c, &["EVAL", src, "0"]),
        format!(
            "ERR user_script:1: Cannot serialise function: type not supported script: {sha}, on @user_script:1."
        )
    );
}

#[test]
fn cmsgpack_and_struct_pack_as_redis_and_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    // Expected bytes: redis-server 7.0 answering the same script.
    let hex = "local s = cmsgpack.pack({1,2,3}, {a=1}, 1.5, -200, 'abc') local t = {} \
               for i = 1, #s do t[i] = string.format('%02x', s:byte(i)) end return table.concat(t)";
    let v: String = ok(&mut c, &["EVAL", hex, "0"]);
    assert_eq!(v, "9301020381a16101ca3fc00000d1ff38a3616263");
    // What a job queue stores and reads back through a key.
    let v: Vec<Value> = ok(
        &mut c,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], cmsgpack.pack({id = ARGV[1], tries = 3})) \
             local job = cmsgpack.unpack(redis.call('get', KEYS[1])) return {job.id, job.tries}",
            "1",
            "job:1",
            "abc",
        ],
    );
    assert_eq!(v, vec![Value::BulkString(b"abc".to_vec()), Value::Int(3)]);
    // struct, too (redis-server 7.0's bytes and values).
    let v: Vec<Value> = ok(
        &mut c,
        &[
            "EVAL",
            "local s = struct.pack('>I2h', 258, -2) return {#s, struct.unpack('>I2h', s)}",
            "0",
        ],
    );
    assert_eq!(
        v,
        vec![
            Value::Int(4),
            Value::Int(258),
            Value::Int(-2),
            Value::Int(5)
        ]
    );
}

#[test]
fn shebang_flags_are_honoured_like_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    let sha = |src: &str| -> String {
        ok(
            &mut s.conn(),
            &["EVAL", &format!("return redis.sha1hex({src:?})"), "0"],
        )
    };
    // Expected texts: redis-server 7.0's answers to the same scripts.
    let no_writes = "#!lua flags=no-writes\nreturn redis.call('set','x','1')";
    assert_eq!(
        err(&mut c, &["EVAL", no_writes, "0"]),
        format!(
            "ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:2.",
            sha(no_writes)
        )
    );
    let fails = "#!lua\nerror('x')";
    assert_eq!(
        err(&mut c, &["EVAL", fails, "0"]),
        format!(
            "ERR user_script:2: x script: {}, on @user_script:2.",
            sha(fails)
        )
    );
    assert_eq!(
        err(&mut c, &["EVAL", "#!lua flags=foo\nreturn 1", "0"]),
        "ERR Unexpected flag in script shebang: foo"
    );
    assert_eq!(
        err(&mut c, &["EVAL", "#!python\nreturn 1", "0"]),
        "ERR Unexpected engine in script shebang: #!python"
    );
    assert_eq!(
        err(&mut c, &["EVAL_RO", "#!lua\nreturn 1", "0"]),
        "ERR Can not execute a script with write flag using *_ro command."
    );
    let v: i64 = ok(&mut c, &["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"]);
    assert_eq!(v, 1);
    let v: i64 = ok(
        &mut c,
        &["EVAL", "#!lua\nreturn redis.call('incr', 'n')", "0"],
    );
    assert_eq!(v, 1);
}

/// A script runs with its caller's ACL permissions: commands and keys the
/// user may not touch directly are refused inside `redis.call` too, with
/// Redis 7's texts.
#[test]
fn scripts_run_with_the_callers_permissions() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: Value = q(
        &mut admin,
        &[
            "ACL", "SETUSER", "app", "on", ">pw", "+eval", "+get", "~app:*",
        ],
    )
    .expect("setuser");
    let _: () = admin.set("app:k", "v").expect("set");
    let _: () = admin.set("secret", "s").expect("set");
    let mut c = s.conn();
    let _: Value = q(&mut c, &["AUTH", "app", "pw"]).expect("auth");
    let got: String = q(
        &mut c,
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "app:k"],
    )
    .expect("allowed read");
    assert_eq!(got, "v");
    let e = err(
        &mut c,
        &["EVAL", "return redis.call('set', 'app:k', 'w')", "0"],
    );
    assert!(
        e.contains("The user executing the script can't run this command or subcommand"),
        "{e}"
    );
    let e = err(&mut c, &["EVAL", "return redis.call('get', 'secret')", "0"]);
    assert!(
        e.contains("can't access at least one of the keys mentioned in the command arguments"),
        "{e}"
    );
    // Nothing was written.
    let v: String = admin.get("app:k").expect("get");
    assert_eq!(v, "v");
}

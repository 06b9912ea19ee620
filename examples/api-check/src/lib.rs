//! `api-check`: a plugin (library `api_check`) whose functions each run a
//! script of calls against one `meridian:cache` interface, through the SDK,
//! and compare every answer with what the Redis command it mirrors would
//! give. A function answers `OK`, or an error naming the first mismatch.
//! The WASM integration tests call them with FCALL and then look at the keys
//! they left over RESP.

use std::time::Duration;

use meridian_guest::cache::{self, SetOptions, Ttl};
use meridian_guest::list::End;
use meridian_guest::lock::{self, Scope};
use meridian_guest::plugin::{Function, Plugin, Reply};
use meridian_guest::{Error, counter, hash, list, pubsub, set, sorted_set};

/// Fails with `what` unless `got == want`.
fn expect<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn ok<T>(what: &str, r: meridian_guest::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// Time stands still inside a call: 20 ms after setting a key to live one
/// second, the same call still sees exactly one second left.
fn check_call_instant() -> Result<(), String> {
    let second = SetOptions {
        ttl: Some(Duration::from_secs(1)),
        ..SetOptions::default()
    };
    ok("set", cache::set_with("t:second", b"1", second))?;
    std::thread::sleep(Duration::from_millis(20));
    expect(
        "ttl 20 ms later, same call",
        ok("ttl", cache::ttl("t:second"))?,
        Ttl::ExpiresIn(Duration::from_secs(1)),
    )
}

fn check_cache() -> Result<(), String> {
    expect("get missing", ok("get", cache::get("c:a"))?, None)?;
    ok("set", cache::set("c:a", b"1"))?;
    expect("get", ok("get", cache::get("c:a"))?, Some(b"1".to_vec()))?;
    let nx = SetOptions {
        only_if_absent: true,
        ..SetOptions::default()
    };
    expect(
        "set nx on existing",
        ok("set", cache::set_with("c:a", b"2", nx))?,
        false,
    )?;
    let xx = SetOptions {
        only_if_present: true,
        ..SetOptions::default()
    };
    expect(
        "set xx on missing",
        ok("set", cache::set_with("c:b", b"2", xx))?,
        false,
    )?;
    expect("exists", ok("exists", cache::exists("c:b"))?, false)?;
    expect(
        "ttl persistent",
        ok("ttl", cache::ttl("c:a"))?,
        Ttl::Persistent,
    )?;
    expect("ttl missing", ok("ttl", cache::ttl("c:zz"))?, Ttl::Missing)?;
    expect(
        "expire",
        ok("expire", cache::expire("c:a", Duration::from_secs(100)))?,
        true,
    )?;
    match ok("ttl", cache::ttl("c:a"))? {
        Ttl::ExpiresIn(d) if d <= Duration::from_secs(100) && d > Duration::from_secs(90) => {}
        other => return Err(format!("ttl after expire: {other:?}")),
    }
    let keep = SetOptions {
        keep_ttl: true,
        ..SetOptions::default()
    };
    ok("set keepttl", cache::set_with("c:a", b"3", keep))?;
    if !matches!(ok("ttl", cache::ttl("c:a"))?, Ttl::ExpiresIn(_)) {
        return Err("keep-ttl lost the ttl".into());
    }
    expect("persist", ok("persist", cache::persist("c:a"))?, true)?;
    expect(
        "persist again",
        ok("persist", cache::persist("c:a"))?,
        false,
    )?;
    ok(
        "set_many",
        cache::set_many(&[("c:m1", b"x"), ("c:m2", b"y")], None),
    )?;
    expect(
        "get_many",
        ok("get_many", cache::get_many(&["c:m1", "c:nope", "c:m2"]))?,
        vec![Some(b"x".to_vec()), None, Some(b"y".to_vec())],
    )?;
    expect(
        "keys_with_prefix",
        ok("scan", cache::keys_with_prefix("c:m"))?,
        vec!["c:m1".to_string(), "c:m2".to_string()],
    )?;
    expect(
        "cas wrong",
        ok(
            "cas",
            cache::compare_and_swap("c:a", Some(b"9"), b"4", None),
        )?,
        false,
    )?;
    expect(
        "cas right",
        ok(
            "cas",
            cache::compare_and_swap("c:a", Some(b"3"), b"4", None),
        )?,
        true,
    )?;
    expect(
        "cas absent",
        ok("cas", cache::compare_and_swap("c:new", None, b"n", None))?,
        true,
    )?;
    expect(
        "get after cas",
        ok("get", cache::get("c:a"))?,
        Some(b"4".to_vec()),
    )?;
    let (v, hit) = ok(
        "get_or_insert",
        cache::get_or_insert_with("c:a", None, || b"zz".to_vec()),
    )?;
    expect("get_or_insert hit", (v, hit), (b"4".to_vec(), true))?;
    let (v, hit) = ok(
        "get_or_insert",
        cache::get_or_insert_with("c:filled", Some(Duration::from_secs(50)), || b"f".to_vec()),
    )?;
    expect("get_or_insert miss", (v, hit), (b"f".to_vec(), false))?;
    ok("set_json", cache::set_json("c:json", &vec![1, 2, 3], None))?;
    expect(
        "get_json",
        ok("get_json", cache::get_json::<Vec<i32>>("c:json"))?,
        Some(vec![1, 2, 3]),
    )?;
    expect("delete", ok("delete", cache::delete("c:m1"))?, true)?;
    expect(
        "delete missing",
        ok("delete", cache::delete("c:m1"))?,
        false,
    )?;
    expect(
        "zero ttl",
        cache::set_ex("c:z", b"z", Duration::ZERO).is_ok(),
        true,
    )?;
    Ok(())
}

fn check_counter() -> Result<(), String> {
    expect("get missing", ok("get", counter::get("n:hits"))?, 0)?;
    expect("incr", ok("incr", counter::incr("n:hits", 5))?, 5)?;
    expect("decr", ok("decr", counter::decr("n:hits", 2))?, 3)?;
    expect("get", ok("get", counter::get("n:hits"))?, 3)?;
    expect(
        "incr_float",
        ok("incr_float", counter::incr_float("n:f", 1.5))?,
        1.5,
    )?;
    ok("set", cache::set("n:text", b"abc"))?;
    match counter::incr("n:text", 1) {
        Err(Error::Other(m)) if m == "value is not an integer or out of range" => {}
        other => return Err(format!("incr of text: {other:?}")),
    }
    ok("hash", hash::set("n:hash", &[("f", b"1")]))?;
    expect(
        "incr of a hash",
        counter::incr("n:hash", 1),
        Err(Error::WrongType),
    )?;
    Ok(())
}

fn check_hash() -> Result<(), String> {
    expect(
        "set",
        ok("set", hash::set("h:s", &[("a", b"1"), ("b", b"2")]))?,
        2,
    )?;
    expect("set again", ok("set", hash::set("h:s", &[("a", b"9")]))?, 0)?;
    expect(
        "get",
        ok("get", hash::get("h:s", "a"))?,
        Some(b"9".to_vec()),
    )?;
    expect("incr", ok("incr", hash::incr("h:s", "n", 4))?, 4)?;
    expect("len", ok("len", hash::len("h:s"))?, 3)?;
    let mut all = ok("get_all", hash::get_all("h:s"))?;
    all.sort();
    expect(
        "get_all",
        all,
        vec![
            ("a".to_string(), b"9".to_vec()),
            ("b".to_string(), b"2".to_vec()),
            ("n".to_string(), b"4".to_vec()),
        ],
    )?;
    expect(
        "delete",
        ok("delete", hash::delete("h:s", &["a", "zz"]))?,
        1,
    )?;
    Ok(())
}

fn check_set() -> Result<(), String> {
    expect("add", ok("add", set::add("s:t", &[b"x", b"y", b"x"]))?, 2)?;
    expect(
        "contains",
        ok("contains", set::contains("s:t", b"x"))?,
        true,
    )?;
    expect(
        "remove",
        ok("remove", set::remove("s:t", &[b"x", b"q"]))?,
        1,
    )?;
    expect("len", ok("len", set::len("s:t"))?, 1)?;
    expect(
        "members",
        ok("members", set::members("s:t"))?,
        vec![b"y".to_vec()],
    )?;
    Ok(())
}

fn check_sorted_set() -> Result<(), String> {
    expect(
        "add",
        ok(
            "add",
            sorted_set::add("z:b", &[(b"a", 1.0), (b"b", 2.0), (b"c", 3.0)]),
        )?,
        3,
    )?;
    expect("incr", ok("incr", sorted_set::incr("z:b", b"a", 5.0))?, 6.0)?;
    expect(
        "score",
        ok("score", sorted_set::score("z:b", b"b"))?,
        Some(2.0),
    )?;
    expect(
        "rank",
        ok("rank", sorted_set::rank("z:b", b"a", false))?,
        Some(2),
    )?;
    expect(
        "rank desc",
        ok("rank", sorted_set::rank("z:b", b"a", true))?,
        Some(0),
    )?;
    expect(
        "top",
        ok("top", sorted_set::top("z:b", 2))?,
        vec![(b"a".to_vec(), 6.0), (b"c".to_vec(), 3.0)],
    )?;
    expect(
        "range",
        ok("range", sorted_set::range("z:b", 0, -1, false))?,
        vec![
            (b"b".to_vec(), 2.0),
            (b"c".to_vec(), 3.0),
            (b"a".to_vec(), 6.0),
        ],
    )?;
    expect(
        "remove",
        ok("remove", sorted_set::remove("z:b", &[b"b"]))?,
        1,
    )?;
    expect("len", ok("len", sorted_set::len("z:b"))?, 2)?;
    Ok(())
}

fn check_list() -> Result<(), String> {
    expect(
        "push back",
        ok("push", list::push("l:q", End::Back, &[b"1", b"2", b"3"]))?,
        3,
    )?;
    expect(
        "push front",
        ok("push", list::push("l:q", End::Front, &[b"0"]))?,
        4,
    )?;
    expect(
        "range",
        ok("range", list::range("l:q", 0, -1))?,
        vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec(), b"3".to_vec()],
    )?;
    expect(
        "pop front",
        ok("pop", list::pop("l:q", End::Front, 1))?,
        vec![b"0".to_vec()],
    )?;
    expect(
        "pop back 2",
        ok("pop", list::pop("l:q", End::Back, 2))?,
        vec![b"3".to_vec(), b"2".to_vec()],
    )?;
    ok("push", list::push("l:q", End::Back, &[b"4", b"5"]))?;
    ok("trim", list::trim("l:q", 0, 1))?;
    expect("len", ok("len", list::len("l:q"))?, 2)?;
    expect(
        "pop missing",
        ok("pop", list::pop("l:none", End::Back, 3))?,
        Vec::<Vec<u8>>::new(),
    )?;
    Ok(())
}

/// Leases as LOCK.ACQUIRE grants them: tokens grow, a held lock is not
/// granted twice, dropping a lease releases it, and fenced writes refuse
/// older tokens. Leaves `l:kept` held (forgotten by the guest) for the test
/// to see released when the call's store went away.
fn check_lock() -> Result<(), String> {
    let ttl = Duration::from_secs(10);
    for scope in [Scope::Local, Scope::Global] {
        let name = match scope {
            Scope::Local => "l:local",
            Scope::Global => "l:global",
        };
        let first = ok("acquire", lock::acquire(name, ttl, scope, None))?
            .ok_or("a free lock was not granted")?;
        expect("first token", first.token(), 1)?;
        if first.remaining() > ttl || first.remaining().is_zero() {
            return Err(format!("remaining {:?}", first.remaining()));
        }
        expect(
            "acquire held",
            ok("acquire", lock::acquire(name, ttl, scope, None))?.is_none(),
            true,
        )?;
        expect("renew", ok("renew", first.renew(ttl))?, true)?;
        ok(
            "fenced set",
            lock::fenced_set("l:res", b"one", name, first.token()),
        )?;
        drop(first);
        let second = ok("acquire", lock::acquire(name, ttl, scope, Some(ttl)))?
            .ok_or("a dropped lease was not released")?;
        // Local tokens count grants; global ones are ballots, so a busy
        // try (a prepare round) may skip some: only growth is promised.
        if second.token() <= 1 || (matches!(scope, Scope::Local) && second.token() != 2) {
            return Err(format!("second token {}", second.token()));
        }
        match lock::fenced_set("l:res", b"stale", name, 1) {
            Err(Error::Other(m)) if m.starts_with("FENCED") => {}
            other => return Err(format!("stale fenced set: {other:?}")),
        }
        expect("release", second.release(), true)?;
    }
    let kept = ok("acquire", lock::acquire("l:kept", ttl, Scope::Local, None))?
        .ok_or("l:kept not granted")?;
    std::mem::forget(kept);
    Ok(())
}

fn check_pubsub() -> Result<(), String> {
    expect("publish", ok("publish", pubsub::publish("news", b"hi"))?, 0)?;
    Ok(())
}

fn check_document() -> Result<(), String> {
    use meridian_guest::document;
    expect(
        "get missing",
        ok("get", document::get_json("d:s", "$"))?,
        None,
    )?;
    let start = std::collections::BTreeMap::from([("cart", Vec::<String>::new())]);
    ok("set", document::set("d:s", "$", &start))?;
    expect(
        "push",
        ok("push", document::push("d:s", "$.cart", &["a", "b"]))?,
        2,
    )?;
    expect("incr", ok("incr", document::incr("d:s", "$.views", 3))?, 3)?;
    expect("incr", ok("incr", document::incr("d:s", "$.views", 2))?, 5)?;
    ok("set", document::set("d:s", "$.user", "ann"))?;
    expect(
        "get user",
        ok("get", document::get::<String>("d:s", "$.user"))?,
        Some("ann".to_string()),
    )?;
    expect(
        "delete",
        ok("delete", document::delete("d:s", "$.cart[0]"))?,
        true,
    )?;
    expect(
        "delete missing",
        ok("delete", document::delete("d:s", "$.nope"))?,
        false,
    )?;
    expect(
        "whole",
        ok("get", document::get_json("d:s", "$"))?,
        Some(r#"{"cart":["b"],"user":"ann","views":5}"#.to_string()),
    )?;
    expect(
        "bad path",
        document::get_json("d:s", "$..x").map_err(|e| e.to_string()),
        Err("invalid path: empty key in '$..x'".to_string()),
    )?;
    ok("set string", cache::set("d:str", b"x"))?;
    expect(
        "wrong type",
        document::incr("d:str", "$.n", 1),
        Err(Error::WrongType),
    )?;
    Ok(())
}

struct ApiCheck;

impl Plugin for ApiCheck {
    const NAME: &'static str = "api_check";
    const FUNCTIONS: &'static [Function] = &[
        Function::write("check_cache"),
        Function::write("check_counter"),
        Function::write("check_hash"),
        Function::write("check_set"),
        Function::write("check_sorted_set"),
        Function::write("check_list"),
        Function::write("check_pubsub"),
        Function::write("check_document"),
        Function::write("check_lock"),
        Function::write("check_call_instant"),
        Function::write("publish"),
        Function::write("on_message"),
        Function::write("bench_get"),
    ];

    fn call(function: &str, _keys: Vec<String>, args: Vec<Vec<u8>>) -> Result<Reply, String> {
        match function {
            "check_cache" => check_cache(),
            "check_counter" => check_counter(),
            "check_hash" => check_hash(),
            "check_set" => check_set(),
            "check_sorted_set" => check_sorted_set(),
            "check_list" => check_list(),
            "check_pubsub" => check_pubsub(),
            "check_document" => check_document(),
            "check_lock" => check_lock(),
            "check_call_instant" => check_call_instant(),
            // One small write, then `n` reads of it: the host-call benchmark
            // compares n = 0 with n = 1000.
            "bench_get" => {
                let n: u32 = meridian_guest::plugin::num_arg(&args, 0)?;
                ok("set", cache::set("bench:k", b"small value"))?;
                for _ in 0..n {
                    std::hint::black_box(ok("get", cache::get("bench:k"))?);
                }
                return Ok(Reply::Integer(i64::from(n)));
            }
            // A pub/sub trigger: `[channel, payload]` appended to `msgs`.
            "on_message" => {
                let [channel, payload] = args.as_slice() else {
                    return Err("on_message takes a channel and a payload".into());
                };
                let mut entry = channel.clone();
                entry.push(b'=');
                entry.extend_from_slice(payload);
                ok("push", list::push("msgs", End::Back, &[entry.as_slice()]))?;
                Ok(())
            }
            "publish" => {
                let n = ok(
                    "publish",
                    pubsub::publish("news", args.first().map_or(&b""[..], Vec::as_slice)),
                )?;
                return Ok(Reply::Integer(i64::from(n)));
            }
            other => Err(format!("unknown function {other}")),
        }
        .map(|()| Reply::Ok)
    }
}

meridian_guest::plugin!(ApiCheck);

//! Edge HTTP: the edge-cache and rate-limiter examples behind the server's
//! HTTP listener, routed by path prefix, sharing the keyspace with RESP.

use meridian_tests::call::ok;

use crate::guests::{get, http, module, request, server_with};

#[test]
fn edge_cache_misses_then_hits_and_expires_with_its_ttl() {
    let s = server_with(vec![module("edge-cache", Some("/cache"))]);
    let h = http(&s);
    let first = get(h, "/cache/primes?n=1000&ttl=1", &[]);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-cache"), Some("miss"));
    assert_eq!(first.text(), "{\"n\":1000,\"primes\":168}\n");
    let second = get(h, "/cache/primes?n=1000&ttl=1", &[]);
    assert_eq!(second.header("x-cache"), Some("hit"));
    assert_eq!(second.body, first.body);
    // Another URL is another entry.
    let other = get(h, "/cache/primes?n=100&ttl=1", &[]);
    assert_eq!(other.header("x-cache"), Some("miss"));
    assert_eq!(other.text(), "{\"n\":100,\"primes\":25}\n");

    // The entry is an ordinary key in the module's namespace, with its TTL.
    let mut c = s.conn();
    let cached: String = ok(
        &mut c,
        &["GET", "edge-cache:page:/cache/primes?n=1000&ttl=1"],
    );
    assert_eq!(cached, "{\"n\":1000,\"primes\":168}\n");
    let pttl: i64 = ok(
        &mut c,
        &["PTTL", "edge-cache:page:/cache/primes?n=1000&ttl=1"],
    );
    assert!(pttl > 0 && pttl <= 1000, "pttl {pttl}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = get(h, "/cache/primes?n=1000&ttl=1", &[]);
    assert_eq!(again.header("x-cache"), Some("miss"));
}

#[test]
fn routes_pick_the_longest_prefix_and_unknown_paths_get_404() {
    let s = server_with(vec![
        module("edge-cache", Some("/cache")),
        module("rate-limiter", Some("/cache/limited")),
    ]);
    let h = http(&s);
    let limited = get(h, "/cache/limited", &[("x-client-id", "r")]);
    assert_eq!(limited.status, 200, "{}", limited.text());
    assert!(limited.header("x-ratelimit-remaining").is_some());
    let cached = get(h, "/cache/x?n=10", &[]);
    assert!(cached.header("x-cache").is_some());
    // `/cachex` is not under `/cache`.
    assert_eq!(get(h, "/cachex", &[]).status, 404);
    assert_eq!(get(h, "/", &[]).status, 404);
}

#[test]
fn rate_limiter_answers_429_over_the_limit_per_client() {
    let s = server_with(vec![module("rate-limiter", Some("/api"))]);
    let h = http(&s);
    let path = "/api/thing?limit=3&window=60";
    for i in 1..=3 {
        let a = get(h, path, &[("x-client-id", "alice")]);
        assert_eq!(a.status, 200, "request {i}: {}", a.text());
        assert_eq!(
            a.header("x-ratelimit-remaining"),
            Some(&*(3 - i).to_string())
        );
    }
    let over = get(h, path, &[("x-client-id", "alice")]);
    assert_eq!(over.status, 429);
    assert!(over.header("retry-after").is_some());
    // Another client has its own window.
    assert_eq!(get(h, path, &[("x-client-id", "bob")]).status, 200);
    // The window's counter expires with the window.
    let mut c = s.conn();
    let keys: Vec<String> = ok(&mut c, &["KEYS", "rate-limiter:rl:alice:*"]);
    assert_eq!(keys.len(), 1);
    let ttl: i64 = ok(&mut c, &["TTL", &keys[0]]);
    assert!(ttl > 0 && ttl <= 60, "ttl {ttl}");
}

#[test]
fn a_guest_written_only_against_wasi_keyvalue_runs_unchanged() {
    let s = server_with(vec![module("kv-portable", Some("/visits"))]);
    let h = http(&s);
    assert_eq!(get(h, "/visits/ann", &[]).text(), "ann: 1\n");
    assert_eq!(get(h, "/visits/ann", &[]).text(), "ann: 2\n");
    assert_eq!(get(h, "/visits/bob", &[]).text(), "bob: 1\n");
    assert_eq!(get(h, "/visits", &[]).text(), "ann: 2\nbob: 1\n");
    // The bucket is the module's namespace: the same keys RESP sees.
    let mut c = s.conn();
    let n: i64 = ok(&mut c, &["GET", "kv-portable:visits:ann"]);
    assert_eq!(n, 2);
    ok::<String>(&mut c, &["SET", "kv-portable:visits:cid", "41"]);
    assert_eq!(get(h, "/visits/cid", &[]).text(), "cid: 42\n");
}

#[test]
fn session_keeps_a_document_per_user_that_resp_reads_too() {
    let s = server_with(vec![module("session", Some("/session"))]);
    let h = http(&s);
    assert_eq!(get(h, "/session/u1", &[]).status, 404);
    assert_eq!(request(h, "POST", "/session/u1/view", b"").status, 404);
    let made = request(h, "POST", "/session/u1?ttl=60", b"");
    assert_eq!(made.status, 201, "{}", made.text());
    let view = request(h, "POST", "/session/u1/view", b"");
    assert_eq!(view.text(), r#"{"views":1}"#);
    let cart = request(h, "POST", "/session/u1/cart", br#"{"sku":"a1","qty":2}"#);
    assert_eq!(cart.text(), r#"{"cart_len":1}"#);
    assert_eq!(
        request(h, "PUT", "/session/u1/user", br#""ann""#).status,
        204
    );
    assert_eq!(request(h, "POST", "/session/u1/cart", b"{nope").status, 400);
    let whole = get(h, "/session/u1", &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(
        whole.text(),
        r#"{"cart":[{"qty":2,"sku":"a1"}],"user":"ann","views":1}"#
    );
    // The session is a document key in the module's namespace, with a TTL.
    let mut c = s.conn();
    let kind: String = ok(&mut c, &["TYPE", "session:session:u1"]);
    assert_eq!(kind, "document");
    let views: i64 = ok(&mut c, &["DOC.INCR", "session:session:u1", "$.views", "1"]);
    assert_eq!(views, 2);
    let ttl: i64 = ok(&mut c, &["TTL", "session:session:u1"]);
    assert!(ttl > 0 && ttl <= 1800, "ttl {ttl}");
    assert_eq!(request(h, "DELETE", "/session/u1", b"").status, 204);
    assert_eq!(get(h, "/session/u1", &[]).status, 404);
}

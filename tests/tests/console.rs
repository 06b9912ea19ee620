//! The web console's JSON endpoints (`/ui/api/…` on the admin port), as the
//! page and scripts use them: logging in as an ACL user, the keys browser
//! reading and editing through that user's own RESP connection (ACLs,
//! WATCH and replication apply), the regions view showing a cut link, the
//! live figures, the modules list, and the page's security headers.

use std::time::Duration;

use meridian_tests::call::ok;
use meridian_tests::console::ConsoleClient;
use meridian_tests::http::get;
use meridian_tests::{TestCluster, TestServer, eventually};
use serde_json::{Value, json};

const PATIENCE: Duration = Duration::from_secs(30);

fn admin(s: &TestServer) -> std::net::SocketAddr {
    s.metrics_addr().expect("admin endpoint")
}

/// A server whose default user is off, with an `admin` user and a `viewer`
/// that may only read `app:*` keys.
fn secured() -> TestServer {
    TestServer::start_with(|c| {
        c.metrics_port = Some(0);
        c.user = vec![
            "default off".into(),
            "admin on >admin-pw ~* &* +@all".into(),
            "viewer on >viewer-pw ~app:* +@read +scan +type +pttl +object +memory".into(),
        ];
    })
}

fn conn_as(s: &TestServer, user: &str, pw: &str) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{user}:{pw}@{}/", s.addr())).expect("client");
    client.get_connection().expect("connect")
}

#[test]
fn login_is_an_acl_login_and_the_session_is_a_strict_cookie() {
    let s = secured();
    let mut c = ConsoleClient::new(admin(&s));
    // The default user is off: nothing without logging in.
    let (status, v) = c.get("/ui/api/session");
    assert_eq!(status, 401, "{v}");
    assert_eq!(c.get("/ui/api/regions").0, 401);
    assert_eq!(c.get("/ui/api/keys").0, 401);
    // Wrong password: the RESP error line, and counted as INFO counts it.
    let (status, v) = c.login("admin", "nope");
    assert_eq!(status, 401);
    assert!(
        v["error"].as_str().unwrap_or("").starts_with("WRONGPASS"),
        "{v}"
    );
    let a = c.send(
        "POST",
        "/ui/api/login",
        Some(&json!({ "username": "admin", "password": "admin-pw" })),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let cookie = a.header("set-cookie").expect("cookie").to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age="] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert_eq!(c.ok("/ui/api/session")["user"], "admin");
    let mut r = conn_as(&s, "admin", "admin-pw");
    let info: String = ok(&mut r, &["INFO", "stats"]);
    assert!(info.contains("acl_access_denied_auth:1"), "{info}");
    // The console's connection is a client like any other.
    assert!(eventually(PATIENCE, || {
        let clients: String = ok(&mut r, &["CLIENT", "LIST"]);
        clients.matches("user=admin").count() == 2
            && clients.lines().count() == 2
            && clients.contains("name=meridian-console")
    }));
    // A forged token is no session.
    let forged = meridian_tests::http::try_request(
        admin(&s),
        "GET",
        "/ui/api/regions",
        &[(
            "Cookie",
            "meridian_console=00112233445566778899aabbccddeeff",
        )],
        b"",
    )
    .expect("answer");
    assert_eq!(forged.status, 401);
    // Logging out ends it (and its connection).
    assert_eq!(c.post("/ui/api/logout", &json!({})).0, 200);
    assert_eq!(c.get("/ui/api/regions").0, 401);
    assert!(eventually(PATIENCE, || {
        let l: String = ok(&mut r, &["CLIENT", "LIST"]);
        l.lines().count() == 1
    }));
}

#[test]
fn a_deleted_user_loses_its_console_session() {
    let s = secured();
    let mut c = ConsoleClient::new(admin(&s));
    assert_eq!(c.login("viewer", "viewer-pw").0, 200);
    assert_eq!(c.get("/ui/api/keys").0, 200);
    let mut r = conn_as(&s, "admin", "admin-pw");
    let _: i64 = ok(&mut r, &["ACL", "DELUSER", "viewer"]);
    // The server closes the user's connections, as for any client.
    assert!(eventually(PATIENCE, || c.get("/ui/api/keys").0 == 401));
}

#[test]
fn the_keys_browser_reads_and_edits_as_the_logged_in_user() {
    let s = secured();
    let mut r = conn_as(&s, "admin", "admin-pw");
    let _: () = ok(&mut r, &["SET", "app:greeting", "hello"]);
    let _: i64 = ok(&mut r, &["HSET", "app:user:1", "name", "ann", "age", "41"]);
    let _: i64 = ok(&mut r, &["SADD", "app:tags", "b", "a"]);
    let _: i64 = ok(&mut r, &["ZADD", "app:board", "2", "bo", "1", "al"]);
    let _: i64 = ok(&mut r, &["RPUSH", "app:queue", "x", "y"]);
    let _: () = ok(
        &mut r,
        &["DOC.SET", "app:doc", "$", r#"{"n":1,"tags":["a"]}"#],
    );
    let _: () = ok(&mut r, &["SET", "secret:token", "s3"]);
    let _: i64 = ok(&mut r, &["PEXPIRE", "app:greeting", "600000"]);

    let mut viewer = ConsoleClient::new(admin(&s));
    assert_eq!(viewer.login("viewer", "viewer-pw").0, 200);
    let page = viewer.ok("/ui/api/keys?pattern=app:*&count=100");
    assert_eq!(page["cursor"], "0");
    let mut names: Vec<&str> = page["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["name"].as_str().expect("name"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "app:board",
            "app:doc",
            "app:greeting",
            "app:queue",
            "app:tags",
            "app:user:1"
        ]
    );
    let string = viewer.ok("/ui/api/key?key=app:greeting");
    assert_eq!(string["type"], "string");
    assert_eq!(string["value"], "hello");
    let ttl = string["ttl_ms"].as_i64().expect("ttl");
    assert!(ttl > 0 && ttl <= 600_000, "{string}");
    assert_eq!(string["origin"]["region_id"], 1);
    let hash = viewer.ok("/ui/api/key?key=app:user:1");
    assert_eq!(hash["type"], "hash");
    let mut fields = hash["value"].as_array().expect("pairs").clone();
    fields.sort_by_key(|p| p[0].as_str().map(str::to_string));
    assert_eq!(
        Value::Array(fields),
        json!([["age", "41"], ["name", "ann"]])
    );
    assert_eq!(
        viewer.ok("/ui/api/key?key=app:tags")["value"],
        json!(["a", "b"])
    );
    assert_eq!(
        viewer.ok("/ui/api/key?key=app:board")["value"],
        json!([["al", 1.0], ["bo", 2.0]])
    );
    assert_eq!(
        viewer.ok("/ui/api/key?key=app:queue")["value"],
        json!(["x", "y"])
    );
    assert_eq!(
        viewer.ok("/ui/api/key?key=app:doc")["value"],
        json!({"n": 1, "tags": ["a"]})
    );
    // Outside its key pattern, and any write: refused as RESP refuses them.
    let (status, v) = viewer.get("/ui/api/key?key=secret:token");
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").starts_with("NOPERM"),
        "{v}"
    );
    let (status, v) = viewer.post(
        "/ui/api/key",
        &json!({ "key": "app:greeting", "op": "set", "value": "hacked" }),
    );
    assert_eq!(status, 403, "{v}");
    let still: String = ok(&mut r, &["GET", "app:greeting"]);
    assert_eq!(still, "hello");
    let log: Vec<redis::Value> = ok(&mut r, &["ACL", "LOG"]);
    assert!(log.len() >= 2, "{log:?}");

    // The admin edits; a RESP client's WATCH on the key sees it.
    let mut admin_ui = ConsoleClient::new(admin(&s));
    assert_eq!(admin_ui.login("admin", "admin-pw").0, 200);
    let _: () = ok(&mut r, &["WATCH", "app:user:1"]);
    let (status, v) = admin_ui.post(
        "/ui/api/key",
        &json!({ "key": "app:user:1", "op": "hset", "field": "age", "value": "42" }),
    );
    assert_eq!(status, 200, "{v}");
    let _: () = ok(&mut r, &["MULTI"]);
    let _: String = ok(&mut r, &["SET", "app:x", "1"]);
    let exec: Option<Vec<String>> = ok(&mut r, &["EXEC"]);
    assert_eq!(exec, None, "the console's write must invalidate the WATCH");
    let age: String = ok(&mut r, &["HGET", "app:user:1", "age"]);
    assert_eq!(age, "42");
    for (edit, check) in [
        (
            json!({"key": "app:tags", "op": "srem", "member": "a"}),
            ["SISMEMBER", "app:tags", "a"],
        ),
        (
            json!({"key": "app:board", "op": "zrem", "member": "al"}),
            ["ZSCORE", "app:board", "al"],
        ),
        (
            json!({"key": "app:queue", "op": "lrem", "value": "x"}),
            ["LPOS", "app:queue", "x"],
        ),
    ] {
        assert_eq!(admin_ui.post("/ui/api/key", &edit).0, 200, "{edit}");
        let v: redis::Value = ok(&mut r, &check);
        assert!(
            matches!(v, redis::Value::Nil | redis::Value::Int(0)),
            "{edit}: {v:?}"
        );
    }
    let (status, _) = admin_ui.post(
        "/ui/api/key",
        &json!({"key": "app:doc", "op": "doc_set", "json": "{\"n\":2}"}),
    );
    assert_eq!(status, 200);
    let doc: String = ok(&mut r, &["DOC.GET", "app:doc"]);
    assert_eq!(doc, r#"{"n":2}"#);
    assert_eq!(
        admin_ui
            .post(
                "/ui/api/key",
                &json!({"key": "app:greeting", "op": "persist"})
            )
            .0,
        200
    );
    let ttl: i64 = ok(&mut r, &["PTTL", "app:greeting"]);
    assert_eq!(ttl, -1);
    // A bad edit is an error line, and nothing changes.
    let (status, v) = admin_ui.post(
        "/ui/api/key",
        &json!({"key": "app:greeting", "op": "hset", "field": "f", "value": "v"}),
    );
    assert_eq!(status, 400);
    assert!(
        v["error"].as_str().unwrap_or("").starts_with("WRONGTYPE"),
        "{v}"
    );
    assert_eq!(
        admin_ui
            .post(
                "/ui/api/key",
                &json!({"key": "secret:token", "op": "delete"})
            )
            .0,
        200
    );
    let gone: i64 = ok(&mut r, &["EXISTS", "secret:token"]);
    assert_eq!(gone, 0);
    assert_eq!(admin_ui.get("/ui/api/key?key=secret:token").0, 404);
    // Binary key names travel as hex.
    let _: () = redis::cmd("SET")
        .arg(&b"bin\xff"[..])
        .arg("v")
        .query(&mut r)
        .expect("set");
    let page = admin_ui.ok("/ui/api/keys?pattern=bin*");
    assert_eq!(page["keys"][0]["hex"], "62696eff");
    assert_eq!(admin_ui.ok("/ui/api/key?key_hex=62696eff")["value"], "v");
}

#[test]
fn mutations_must_be_json_and_pages_carry_a_strict_policy() {
    let s = TestServer::start_with(|c| {
        c.metrics_port = Some(0);
        c.admin_token = Some("0123456789abcdef-token".into());
    });
    let addr = admin(&s);
    // The console logs users in itself; the bearer token still guards /metrics.
    assert_eq!(get(addr, "/metrics", &[]).status, 401);
    let page = get(addr, "/ui", &[]);
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("csp");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let html = page.text();
    assert!(
        !html.contains("<script>"),
        "inline scripts would need 'unsafe-inline'"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    for asset in [
        "console.js",
        "console.css",
        "uPlot.iife.min.js",
        "uPlot.min.css",
    ] {
        let a = get(addr, &format!("/ui/assets/{asset}"), &[]);
        assert_eq!(a.status, 200, "{asset}");
        assert!(!a.body.is_empty());
    }
    assert_eq!(get(addr, "/ui/assets/nope.js", &[]).status, 404);
    // Dev-style open default user: a session without logging in.
    let mut c = ConsoleClient::new(addr);
    assert_eq!(c.ok("/ui/api/session")["user"], "default");
    // A form post (not JSON) changes nothing.
    let form = c.send("POST", "/ui/api/key", None);
    assert_eq!(form.status, 400, "{}", form.text());
    let mut r = s.conn();
    let _: () = ok(&mut r, &["SET", "k", "v"]);
    let a = meridian_tests::http::try_request(
        addr,
        "POST",
        "/ui/api/key",
        &[
            ("Cookie", c.cookie().expect("cookie")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"key=k&op=delete",
    )
    .expect("answer");
    assert_eq!(a.status, 400);
    let still: i64 = ok(&mut r, &["EXISTS", "k"]);
    assert_eq!(still, 1);
}

#[test]
fn stats_report_commands_hits_and_lock_grants_per_second() {
    let s = TestServer::start_with(|c| c.metrics_port = Some(0));
    let mut c = ConsoleClient::new(admin(&s));
    c.ok("/ui/api/session");
    let mut r = s.conn();
    let mut seen = false;
    let found = eventually(PATIENCE, || {
        let _: () = ok(&mut r, &["SET", "k", "v"]);
        let _: String = ok(&mut r, &["GET", "k"]);
        let _: Option<String> = ok(&mut r, &["GET", "missing"]);
        let _: i64 = ok(&mut r, &["HSET", "h", "f", "v"]);
        let _: Option<i64> = ok(&mut r, &["LOCK.ACQUIRE", "l", "1"]);
        let v = c.ok("/ui/api/stats?since=0");
        let points = v["points"].as_array().cloned().unwrap_or_default();
        seen = points.iter().any(|p| {
            p["ops"]["string"].as_f64().unwrap_or(0.0) > 0.0
                && p["ops"]["hash"].as_f64().unwrap_or(0.0) > 0.0
                && p["hit_ratio"].as_f64().is_some_and(|h| h > 0.0 && h < 1.0)
                && p["lock_grants"].as_f64().unwrap_or(0.0) > 0.0
                && p["used_memory"].as_u64().unwrap_or(0) > 0
        });
        seen
    });
    assert!(found, "no point showed the traffic");
    // `since` returns only newer points.
    let v = c.ok("/ui/api/stats?since=0");
    let last = v["points"]
        .as_array()
        .and_then(|p| p.last())
        .and_then(|p| p["t"].as_u64())
        .expect("a point");
    let newer = c.ok(&format!("/ui/api/stats?since={last}"));
    assert!(
        newer["points"]
            .as_array()
            .expect("points")
            .iter()
            .all(|p| p["t"].as_u64().unwrap_or(0) > last)
    );
}

#[test]
fn the_regions_view_shows_a_cut_link_and_the_lag_it_builds() {
    let cluster = TestCluster::start_with(3, |c| c.metrics_port = Some(0));
    let addr = cluster.admin_addr(0).expect("admin endpoint");
    let mut c = ConsoleClient::new(addr);
    c.ok("/ui/api/session");
    let v = c.ok("/ui/api/regions");
    assert_eq!(v["region"]["name"], cluster.name(0));
    let links = v["links"].as_array().expect("links");
    assert_eq!(links.len(), 2);
    for (l, j) in links.iter().zip([1, 2]) {
        assert_eq!(l["name"], cluster.name(j));
        assert_eq!(l["state"], "up");
    }
    assert_eq!(v["partitioned"], false);

    cluster.link(0, 1).set_mode(meridian_tests::Mode::Cut);
    let mut r = cluster.conn(0);
    let mut last = Value::Null;
    let shown = eventually(PATIENCE, || {
        let _: () = ok(&mut r, &["SET", "during-partition", "1"]);
        last = c.ok("/ui/api/regions");
        let cut = &last["links"][0];
        last["partitioned"] == true
            && cut["state"] == "down"
            && cut["ops_lag"].as_u64().unwrap_or(0) > 0
            && last["links"][1]["state"] == "up"
    });
    assert!(shown, "{last}");
    // The charts' figures show the lag building up too.
    let cut_peer = cluster.name(1).to_string();
    let charted = eventually(PATIENCE, || {
        let _: () = ok(&mut r, &["SET", "during-partition", "2"]);
        last = c.ok("/ui/api/stats");
        last["points"]
            .as_array()
            .and_then(|p| p.last())
            .and_then(|p| p["lag_ms"][&cut_peer].as_u64())
            .is_some_and(|ms| ms > 0)
    });
    assert!(charted, "{last}");
    cluster.link(0, 1).set_mode(meridian_tests::Mode::Pass);
    let healed = eventually(PATIENCE, || {
        last = c.ok("/ui/api/regions");
        last["partitioned"] == false && last["links"][0]["ops_lag"] == 0
    });
    assert!(healed, "{last}");
}

#[test]
fn modules_deploy_from_the_console_as_a_user_allowed_function_load() {
    let s = TestServer::start_with(|c| {
        c.metrics_port = Some(0);
        c.http_port = Some(0);
        c.user = vec![
            "default off".into(),
            "ops on >ops-pw ~* &* +@all".into(),
            "reader on >reader-pw ~* +@read".into(),
        ];
    });
    let hello = std::fs::read(meridian_tests::examples::wasm_path("hello-edge")).expect("wasm");
    let addr = admin(&s);
    let edge = s.http_addr().expect("edge listener");
    let put = |c: &ConsoleClient, path: &str, content_type: &str| {
        meridian_tests::http::try_request(
            addr,
            "PUT",
            path,
            &[
                ("Cookie", c.cookie().expect("cookie")),
                ("Content-Type", content_type),
            ],
            &hello,
        )
        .expect("answer")
    };
    let mut reader = ConsoleClient::new(addr);
    assert_eq!(reader.login("reader", "reader-pw").0, 200);
    // Listing needs only a session; deploying needs FUNCTION LOAD.
    assert_eq!(reader.ok("/ui/api/modules"), json!([]));
    let denied = put(
        &reader,
        "/ui/api/modules/hello?route=/hi",
        "application/wasm",
    );
    assert_eq!(denied.status, 403, "{}", denied.text());
    assert!(denied.text().contains("NOPERM"), "{}", denied.text());
    assert_eq!(get(edge, "/hi", &[]).status, 404);

    let mut ops = ConsoleClient::new(addr);
    assert_eq!(ops.login("ops", "ops-pw").0, 200);
    // Not sent as a component: refused before anything is read.
    assert_eq!(put(&ops, "/ui/api/modules/hello", "text/plain").status, 400);
    let made = put(&ops, "/ui/api/modules/hello?route=/hi", "application/wasm");
    assert_eq!(made.status, 201, "{}", made.text());
    let listed = ops.ok("/ui/api/modules");
    assert_eq!(listed[0]["name"], "hello");
    assert_eq!(listed[0]["route"], "/hi");
    assert_eq!(listed[0]["p99_ms"], Value::Null, "no calls yet");
    assert_eq!(get(edge, "/hi", &[]).status, 200);
    let after = ops.ok("/ui/api/modules");
    assert_eq!(after[0]["invocations"], 1);
    assert!(
        after[0]["p99_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{after}"
    );
    // Only a user allowed FUNCTION DELETE removes it.
    assert_eq!(
        reader.send("DELETE", "/ui/api/modules/hello", None).status,
        403
    );
    assert_eq!(
        ops.send("DELETE", "/ui/api/modules/hello", None).status,
        204
    );
    assert_eq!(get(edge, "/hi", &[]).status, 404);
}

//! The admin module API (`PUT/GET/DELETE /v1/modules/{name}`): deploying an
//! edge module and a plugin, calling them over HTTP and RESP, listing and
//! deleting them, its errors; and deployed modules surviving a restart when
//! persistence is on.

use std::net::SocketAddr;

use meridian_tests::call::{err, ok};
use meridian_tests::{TempDir, TestServer};
use serde_json::Value;

use crate::guests::{Answer, get, http, load_example, try_request, wasm};

const TOKEN: &str = "module-api-token-0123";

fn admin_server(max_module_size: u64) -> TestServer {
    TestServer::start_with(move |c| {
        c.http_port = Some(0);
        c.metrics_port = Some(0);
        c.admin_token = Some(TOKEN.into());
        c.max_module_size = max_module_size;
    })
}

/// `method path` on the admin endpoint with the bearer token.
fn admin(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Answer {
    let auth = format!("Bearer {TOKEN}");
    try_request(addr, method, path, &[("authorization", &auth)], body)
        .unwrap_or_else(|| panic!("{method} {path}: no response"))
}

fn json(a: &Answer) -> Value {
    serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", a.text()))
}

#[test]
fn modules_deploy_list_serve_and_delete_through_the_admin_api() {
    let hello = wasm("hello-edge");
    let lb = wasm("leaderboard");
    let s = admin_server(32 << 20);
    let a = s.metrics_addr().expect("admin endpoint");
    let h = http(&s);

    // Same bearer token as every admin path.
    let anonymous = try_request(a, "PUT", "/v1/modules/hello", &[], &hello).expect("answer");
    assert_eq!(anonymous.status, 401);
    assert_eq!(get(h, "/hi", &[]).status, 404);

    // An edge module, told apart by its exports, at the route asked for.
    let put = admin(a, "PUT", "/v1/modules/hello?route=/hi", &hello);
    assert_eq!(put.status, 201, "{}", put.text());
    let m = json(&put);
    assert_eq!(m["name"], "hello");
    assert_eq!(m["kind"], "edge");
    assert_eq!(m["route"], "/hi");
    assert_eq!(m["size"], hello.len());
    assert_eq!(m["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(m["loaded"], true);
    let answer = get(h, "/hi/there", &[]);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), "hello from meridian\n");
    // PUT again replaces it: 200, not 201, with counters of its own.
    assert_eq!(
        admin(a, "PUT", "/v1/modules/hello?route=/hi", &hello).status,
        200
    );
    assert_eq!(get(h, "/hi", &[]).status, 200);

    // A plugin, named by itself, called with FCALL.
    let put = admin(a, "PUT", "/v1/modules/leaderboard", &lb);
    assert_eq!(put.status, 201, "{}", put.text());
    let m = json(&put);
    assert_eq!(m["kind"], "plugin");
    let functions = m["functions"].to_string();
    assert!(functions.contains("\"lb_add\""), "{functions}");
    let mut c = s.conn();
    let score: f64 = ok(&mut c, &["FCALL", "lb_add", "1", "g", "ann", "3"]);
    assert_eq!(score, 3.0);

    let list = admin(a, "GET", "/v1/modules", b"");
    assert_eq!(list.status, 200);
    assert_eq!(list.header("content-type"), Some("application/json"));
    let list = json(&list);
    let names: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["hello", "leaderboard"]);
    let one = json(&admin(a, "GET", "/v1/modules/hello", b""));
    assert_eq!(one["invocations"], 1, "{one}");
    assert_eq!(one["errors"], 0);
    let lb_json = json(&admin(a, "GET", "/v1/modules/leaderboard", b""));
    assert_eq!(lb_json["invocations"], 1, "{lb_json}");

    let gone = admin(a, "DELETE", "/v1/modules/hello", b"");
    assert_eq!(gone.status, 204);
    assert_eq!(get(h, "/hi", &[]).status, 404);
    assert_eq!(admin(a, "GET", "/v1/modules/hello", b"").status, 404);
    let again = admin(a, "DELETE", "/v1/modules/hello", b"");
    assert_eq!(again.status, 404);
    assert_eq!(json(&again)["code"], "not_found");
    assert_eq!(
        admin(a, "DELETE", "/v1/modules/leaderboard", b"").status,
        204
    );
    assert_eq!(
        err(&mut c, &["FCALL", "lb_add", "1", "g", "ann", "3"]),
        "ERR Function not found"
    );
    assert_eq!(
        json(&admin(a, "GET", "/v1/modules", b"")),
        Value::Array(vec![])
    );
}

#[test]
fn the_module_api_answers_clear_json_errors() {
    let hello = wasm("hello-edge");
    let lb = wasm("leaderboard");
    let limit = hello.len().max(lb.len()) as u64 + 16;
    let s = admin_server(limit);
    let a = s.metrics_addr().expect("admin endpoint");

    let garbage = admin(a, "PUT", "/v1/modules/junk", b"\0asm not really");
    assert_eq!(garbage.status, 400);
    let e = json(&garbage);
    assert_eq!(e["code"], "invalid_component");
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|m| m.starts_with("Invalid WASM component: ") && m.len() > 30),
        "{e}"
    );
    // A plugin must be deployed under its own name.
    let wrong = admin(a, "PUT", "/v1/modules/board", &lb);
    assert_eq!(wrong.status, 400);
    assert_eq!(
        json(&wrong)["error"],
        "The library names itself 'leaderboard', not 'board'"
    );
    // An edge module is not a plugin.
    let kind = admin(a, "PUT", "/v1/modules/hello?kind=plugin", &hello);
    assert_eq!(kind.status, 400);
    assert_eq!(json(&kind)["code"], "wrong_world");
    let bad = admin(a, "PUT", "/v1/modules/hello?kind=lambda", &hello);
    assert_eq!(bad.status, 400);
    assert_eq!(json(&bad)["code"], "bad_parameter");
    assert_eq!(
        admin(a, "PUT", "/v1/modules/bad%20name", &hello).status,
        400
    );
    // Routes are not shared between modules.
    assert_eq!(
        admin(a, "PUT", "/v1/modules/one?route=/x", &hello).status,
        201
    );
    let taken = admin(a, "PUT", "/v1/modules/two?route=/x", &hello);
    assert_eq!(taken.status, 409);
    assert_eq!(
        json(&taken)["error"],
        "Route '/x' is served by module 'one'"
    );

    let big = vec![0u8; limit as usize + 1];
    let too_big = admin(a, "PUT", "/v1/modules/big", &big);
    assert_eq!(too_big.status, 413);
    assert_eq!(json(&too_big)["code"], "too_large");

    assert_eq!(admin(a, "GET", "/v1/modules/nope", b"").status, 404);
    assert_eq!(admin(a, "POST", "/v1/modules/one", b"x").status, 405);
    assert_eq!(admin(a, "DELETE", "/v1/modules", b"").status, 405);
    // Nothing failed half-way: only the one good deploy is there.
    let list = json(&admin(a, "GET", "/v1/modules", b""));
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    // The server still serves.
    assert_eq!(get(http(&s), "/x", &[]).status, 200);
}

#[test]
fn deployed_modules_and_deletes_survive_a_restart_with_persistence() {
    let dir = TempDir::new("meridian-modules");
    let start = || {
        let d = dir.path().to_path_buf();
        TestServer::start_with(move |c| {
            c.dir = Some(d);
            c.http_port = Some(0);
            c.metrics_port = Some(0);
        })
    };
    {
        let s = start();
        let mut c = s.conn();
        let name = load_example(&mut c, "leaderboard");
        assert_eq!(name, "leaderboard");
        let a = s.metrics_addr().expect("admin");
        let hello = wasm("hello-edge");
        assert_eq!(
            try_request(a, "PUT", "/v1/modules/hi", &[], &hello)
                .expect("answer")
                .status,
            201
        );
        assert_eq!(
            try_request(a, "PUT", "/v1/modules/bye", &[], &hello)
                .expect("answer")
                .status,
            201
        );
        assert_eq!(
            try_request(a, "DELETE", "/v1/modules/bye", &[], b"")
                .expect("answer")
                .status,
            204
        );
    }
    let s = start();
    let mut c = s.conn();
    let score: f64 = ok(&mut c, &["FCALL", "lb_add", "1", "g", "bob", "2"]);
    assert_eq!(score, 2.0);
    let h = http(&s);
    assert_eq!(get(h, "/hi", &[]).text(), "hello from meridian\n");
    assert_eq!(get(h, "/bye", &[]).status, 404, "a delete stays deleted");
    // A delete after the restart is stamped after the restored load.
    let _: () = ok(&mut c, &["FUNCTION", "DELETE", "leaderboard"]);
    drop(s);
    let s = start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["FCALL", "lb_add", "1", "g", "bob", "2"]),
        "ERR Function not found"
    );
}

//! Hostile guests are contained: a loop is stopped at its deadline, a memory
//! bomb at its memory limit, a sleep inside the host at the wall-clock
//! limit, a trap fails only its own call, keys outside
//! the namespace are refused, FCALL_RO refuses writes, a flood of response
//! bytes is cut — and after each, the server and the same module keep
//! serving. Failures are counted in /metrics. No guest memory survives a
//! call: the next one (which may reuse the same pooled slot) finds the
//! module's initial image.

use meridian::wasm::ModuleConfig;
use meridian_tests::TestServer;
use meridian_tests::call::{err, ok};
use redis::Value;

use crate::guests::{get, http, load_example, module, server_with, try_get};

fn hostile_server() -> TestServer {
    let mut m: ModuleConfig = module("hostile-guest", Some("/hostile"));
    m.memory = Some(32 << 20);
    m.deadline_ms = Some(100);
    TestServer::start_with(move |c| {
        c.http_port = Some(0);
        c.metrics_port = Some(0);
        c.modules = vec![m];
    })
}

fn load_plugin(c: &mut redis::Connection) {
    let name = load_example(c, "hostile-guest");
    assert_eq!(name, "hostile");
}

fn alive(c: &mut redis::Connection) {
    let v: String = ok(c, &["FCALL_RO", "ok", "0"]);
    assert_eq!(v, "alive");
    let pong: String = ok(c, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn plugin_loop_memory_bomb_and_trap_fail_only_their_call() {
    let s = hostile_server();
    let mut c = s.conn();
    load_plugin(&mut c);
    ok::<String>(&mut c, &["SET", "bystander", "safe"]);
    alive(&mut c);

    let started = std::time::Instant::now();
    assert_eq!(
        err(&mut c, &["FCALL", "spin", "0"]),
        "ERR Function killed: it ran past its deadline"
    );
    // Default deadline is 50 ms; allow for a loaded machine.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    alive(&mut c);

    assert_eq!(
        err(&mut c, &["FCALL", "bomb", "0"]),
        "ERR Function failed: the module trapped"
    );
    alive(&mut c);

    assert_eq!(
        err(&mut c, &["FCALL", "boom", "0"]),
        "ERR Function failed: the module trapped"
    );
    alive(&mut c);

    // Sleeping in the host burns no epoch; the wall-clock limit ends it.
    assert_eq!(
        err(&mut c, &["FCALL", "nap", "0"]),
        "ERR Function killed: it ran past its deadline"
    );
    alive(&mut c);
    let v: String = ok(&mut c, &["GET", "bystander"]);
    assert_eq!(v, "safe");
}

#[test]
fn guests_cannot_reach_other_namespaces_or_write_from_fcall_ro() {
    let s = hostile_server();
    let mut c = s.conn();
    load_plugin(&mut c);
    ok::<String>(&mut c, &["SET", "victim:secret", "original"]);
    let said: String = ok(&mut c, &["FCALL", "escape", "0"]);
    assert_eq!(
        said,
        "absolute write refused: access denied; plain write stayed in own namespace"
    );
    let v: String = ok(&mut c, &["GET", "victim:secret"]);
    assert_eq!(v, "original");
    let own: String = ok(&mut c, &["GET", "hostile:victim:secret"]);
    assert_eq!(own, "pwned");

    assert_eq!(
        err(&mut c, &["FCALL_RO", "sneaky_write", "0"]),
        "ERR write refused: access denied"
    );
    let none: Value = ok(&mut c, &["GET", "hostile:x"]);
    assert_eq!(none, Value::Nil);
}

#[test]
fn edge_guests_that_loop_bomb_trap_or_flood_get_errors_and_the_server_serves_on() {
    let s = hostile_server();
    let h = http(&s);
    assert_eq!(get(h, "/hostile/ok", &[]).text(), "alive\n");

    assert_eq!(get(h, "/hostile/spin", &[]).status, 504);
    assert_eq!(get(h, "/hostile/ok", &[]).status, 200);
    assert_eq!(get(h, "/hostile/bomb", &[]).status, 500);
    assert_eq!(get(h, "/hostile/boom", &[]).status, 500);
    assert_eq!(get(h, "/hostile/nap", &[]).status, 504);
    // An endless streamed body: the headers went out, then the deadline cut
    // the stream and the connection closed.
    let flood = try_get(h, "/hostile/huge", &[]).expect("response head");
    assert_eq!(flood.status, 200);
    assert!(!flood.body.is_empty(), "some of the stream arrived");
    let escape = get(h, "/hostile/escape", &[]);
    assert_eq!(
        escape.text(),
        "absolute write refused: access denied; plain write stayed in own namespace"
    );
    assert_eq!(get(h, "/hostile/ok", &[]).text(), "alive\n");
    let mut c = s.conn();
    let pong: String = ok(&mut c, &["PING"]);
    assert_eq!(pong, "PONG");

    // Failures are counted per module and kind.
    let admin = s.metrics_addr().expect("admin endpoint");
    let metrics = get(admin, "/metrics", &[]).text();
    let failures = |reason: &str| -> f64 {
        let prefix = format!(
            "meridian_wasm_failures_total{{module=\"hostile-guest\",kind=\"edge\",reason=\"{reason}\"}} "
        );
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{prefix} missing in\n{metrics}"))
    };
    assert!(
        failures("timeout") >= 3.0,
        "the loop, the nap and the flood"
    );
    assert!(failures("trap") >= 2.0);
}

#[test]
fn every_call_starts_from_the_module_image_with_nothing_left_by_earlier_calls() {
    const FRESH: &str = "calls before this one: 0; mark: 7";
    let s = hostile_server();
    let mut c = s.conn();
    load_plugin(&mut c);
    for _ in 0..3 {
        let said: String = ok(&mut c, &["FCALL_RO", "remember", "0"]);
        assert_eq!(said, FRESH);
    }
    // A trapped or killed instance leaves nothing behind either.
    err(&mut c, &["FCALL", "boom", "0"]);
    err(&mut c, &["FCALL", "bomb", "0"]);
    let said: String = ok(&mut c, &["FCALL_RO", "remember", "0"]);
    assert_eq!(said, FRESH);

    let h = http(&s);
    for _ in 0..3 {
        assert_eq!(get(h, "/hostile/remember", &[]).text(), FRESH);
    }
    assert_eq!(get(h, "/hostile/boom", &[]).status, 500);
    assert_eq!(get(h, "/hostile/remember", &[]).text(), FRESH);
}

#[test]
fn a_configured_edge_module_is_not_loaded_when_its_file_is_missing() {
    let missing = ModuleConfig::new("no/such/module.wasm");
    let started = std::panic::catch_unwind(|| server_with(vec![missing]));
    assert!(
        started.is_err(),
        "a server with a missing module must not start"
    );
}

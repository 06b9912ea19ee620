//! Pub/sub triggers (`[[triggers]]`): a plugin function runs for every
//! message on a matching channel, with `[channel, payload]` as arguments,
//! in publish order; a trigger whose call fails does not stop the others,
//! and the server serves on.

use std::time::Duration;

use meridian::wasm::TriggerConfig;
use meridian_tests::call::ok;
use meridian_tests::{TestServer, eventually};

use crate::guests::load_example;

fn trigger(channel: &str, function: &str) -> TriggerConfig {
    TriggerConfig {
        channel: channel.to_string(),
        library: "api_check".to_string(),
        function: function.to_string(),
    }
}

#[test]
fn a_trigger_calls_its_function_for_each_matching_message_in_order() {
    let s = TestServer::start_with(|c| {
        c.triggers = vec![
            trigger("orders.*", "on_message"),
            // Fails for every message (no such function): counted and
            // logged, and the other trigger still runs.
            trigger("orders.*", "no_such_function"),
        ];
    });
    let mut c = s.conn();
    // The library arrives after start: triggers look it up per message.
    let name = load_example(&mut c, "api-check");
    assert_eq!(name, "api_check");

    for (channel, payload) in [
        ("orders.1", "a"),
        ("other", "x"),
        ("orders.2", "b"),
        ("orders.1", "c"),
    ] {
        let _: i64 = ok(&mut c, &["PUBLISH", channel, payload]);
    }
    let want = vec!["orders.1=a", "orders.2=b", "orders.1=c"];
    let mut got: Vec<String> = Vec::new();
    let arrived = eventually(Duration::from_secs(30), || {
        got = ok(&mut c, &["LRANGE", "api_check:msgs", "0", "-1"]);
        got.len() >= want.len()
    });
    assert!(arrived, "trigger calls seen: {got:?}");
    assert_eq!(got, want);
    assert_eq!(ok::<String>(&mut c, &["PING"]), "PONG");
}

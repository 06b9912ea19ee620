//! Pub/sub triggers: a plugin function called for every message published
//! on channels matching a pattern (`[[triggers]]` in the configuration), as
//! a Redis keyspace or stream trigger runs library code on events.
//!
//! Each trigger is a pattern subscriber of this region's broker with a
//! thread of its own that calls `library.function` with no keys and the
//! arguments `[channel, payload]`, one message at a time in the order they
//! were delivered, through the same plugin runner (sandbox, deadline,
//! memory limit) as FCALL. A message published in another region reaches
//! this region's triggers too, as it reaches its subscribers; triggers are
//! configured per region, so a trigger that must run once per message is
//! configured in one region only.
//!
//! This must not interpret messages or retry calls: a failed call is
//! counted in the library's statistics and logged, and the next message is
//! served.

use std::sync::Weak;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use serde::Deserialize;
use tracing::{debug, warn};

use super::WasmError;
use crate::engine::Mailbox;
use crate::server::Shared;

/// Messages a trigger may have waiting before new ones are dropped (and a
/// warning logged).
const BACKLOG: usize = 16 * 1024;

/// One `[[triggers]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TriggerConfig {
    /// Channel pattern, as PSUBSCRIBE takes it (`orders.*`).
    pub channel: String,
    /// The plugin library (loaded at start or later with FUNCTION LOAD).
    pub library: String,
    /// The library's function to call.
    pub function: String,
}

/// Subscribes every trigger of `triggers` and starts its thread.
pub fn start(shared: &std::sync::Arc<Shared>, triggers: &[TriggerConfig]) -> Result<(), WasmError> {
    for t in triggers {
        let (mailbox, mut rx, overflow) = Mailbox::new(BACKLOG);
        let broker = shared.engine.broker();
        broker.psubscribe(broker.next_id(), &mailbox, &Bytes::from(t.channel.clone()));
        let weak: Weak<Shared> = std::sync::Arc::downgrade(shared);
        let channel = t.channel.clone();
        let t = t.clone();
        std::thread::Builder::new()
            .name(format!("meridian-trigger-{}", t.function))
            .spawn(move || {
                // Ends when the server (and its broker, holding the
                // mailbox) is gone.
                while let Some(m) = rx.blocking_recv() {
                    if overflow.swap(false, Ordering::Relaxed) {
                        warn!(channel = %t.channel, function = %t.function,
                            "trigger fell behind; messages were dropped");
                    }
                    let Some(shared) = weak.upgrade() else {
                        return;
                    };
                    fire(&shared, &t, m.channel.to_vec(), m.payload.to_vec());
                }
            })
            .map_err(|e| WasmError::Trigger {
                channel,
                reason: e.to_string(),
            })?;
    }
    Ok(())
}

/// Calls the trigger's function for one message.
fn fire(shared: &std::sync::Arc<Shared>, t: &TriggerConfig, channel: Vec<u8>, payload: Vec<u8>) {
    let Some(library) = shared.wasm.registry().library(&t.library) else {
        warn!(library = %t.library, "trigger's library is not loaded; message skipped");
        return;
    };
    let args = vec![channel, payload];
    match shared.wasm.plugins().call(
        shared.clone(),
        library,
        t.function.clone(),
        Vec::new(),
        args,
        false,
    ) {
        Ok(_) => debug!(function = %t.function, "trigger ran"),
        // The runner counted and logged guest failures already.
        Err(e) => warn!(library = %t.library, function = %t.function, error = %e, "trigger failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse_from_toml_and_refuse_unknown_keys() {
        #[derive(Deserialize)]
        struct T {
            triggers: Vec<TriggerConfig>,
        }
        let t: T = toml::from_str(
            r#"
            [[triggers]]
            channel = "orders.*"
            library = "shop"
            function = "on_order"
            "#,
        )
        .expect("parse");
        assert_eq!(
            t.triggers,
            vec![TriggerConfig {
                channel: "orders.*".into(),
                library: "shop".into(),
                function: "on_order".into(),
            }]
        );
        let bad = toml::from_str::<T>(
            "[[triggers]]\nchannel = \"a\"\nlibrary = \"b\"\nfunction = \"c\"\nretries = 3\n",
        );
        assert!(bad.is_err());
    }
}

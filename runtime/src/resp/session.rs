//! `Session`: the state of one RESP connection — protocol, MULTI queue, WATCHed
//! keys, subscriptions — and the shared server it belongs to.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::Request;
use super::clients::ClientInfo;
use super::command::{CmdError, CommandSpec};
use crate::engine::{Engine, Mailbox, Message, SubscriberId, WatchSet};
use crate::server::Shared;

/// Messages a subscriber may have queued before it counts as too slow.
const MAILBOX_CAPACITY: usize = 64 * 1024;

/// Commands queued between MULTI and EXEC.
#[derive(Default)]
pub struct MultiState {
    /// The queue.
    pub queued: Vec<(&'static CommandSpec, Request)>,
    /// An error while queueing: EXEC will answer EXECABORT.
    pub failed: bool,
}

/// Pub/sub state of a connection.
pub struct Subscriptions {
    /// This connection's subscriber id.
    pub id: SubscriberId,
    /// Where the broker delivers.
    pub mailbox: Mailbox,
    /// Receiving end of the mailbox.
    pub rx: mpsc::Receiver<Message>,
    /// Raised when the mailbox overflowed.
    pub overflow: Arc<AtomicBool>,
    /// Subscribed channels.
    pub channels: BTreeSet<Bytes>,
    /// Subscribed patterns.
    pub patterns: BTreeSet<Bytes>,
}

impl Subscriptions {
    /// Channel plus pattern subscriptions.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// One connection's state.
pub struct Session<'e> {
    shared: &'e Shared,
    /// Registry entry (CLIENT LIST).
    pub client: Arc<ClientInfo>,
    /// MULTI in progress.
    pub multi: Option<MultiState>,
    /// WATCHed keys.
    pub watch: Option<WatchSet<'e>>,
    /// Subscriptions, once the client subscribed to anything.
    pub subs: Option<Subscriptions>,
    /// QUIT was received: close after flushing.
    pub closing: bool,
}

impl<'e> Session<'e> {
    /// A session for a registered client.
    pub fn new(shared: &'e Shared, client: Arc<ClientInfo>) -> Session<'e> {
        Session {
            shared,
            client,
            multi: None,
            watch: None,
            subs: None,
            closing: false,
        }
    }

    /// The server this session belongs to.
    pub fn shared(&self) -> &'e Shared {
        self.shared
    }

    /// The engine.
    pub fn engine(&self) -> &'e Engine {
        &self.shared.engine
    }

    /// True in RESP2 subscriber mode, where only pub/sub commands are allowed.
    pub fn in_subscriber_context(&self, resp3: bool) -> bool {
        !resp3 && self.subs.as_ref().is_some_and(|s| s.count() > 0)
    }

    /// The subscription state, created on first use.
    pub fn subscriptions(&mut self) -> &mut Subscriptions {
        let broker = self.shared.engine.broker();
        self.subs.get_or_insert_with(|| {
            let (mailbox, rx, overflow) = Mailbox::new(MAILBOX_CAPACITY);
            Subscriptions {
                id: broker.next_id(),
                mailbox,
                rx,
                overflow,
                channels: BTreeSet::new(),
                patterns: BTreeSet::new(),
            }
        })
    }

    /// Updates the subscription counters CLIENT LIST shows.
    pub fn publish_sub_counts(&self) {
        let (c, p) = self
            .subs
            .as_ref()
            .map_or((0, 0), |s| (s.channels.len(), s.patterns.len()));
        self.client.subs.store(c, Ordering::Relaxed);
        self.client.psubs.store(p, Ordering::Relaxed);
    }

    /// Counts an error reply for INFO `errorstats`.
    pub fn count_error(&self, e: &CmdError) {
        self.shared.stats.count_error(&e.to_string());
    }

    /// Drops every subscription (RESET, disconnect).
    pub fn unsubscribe_all(&mut self) {
        if let Some(s) = self.subs.take() {
            let broker = self.shared.engine.broker();
            for c in &s.channels {
                broker.unsubscribe(s.id, c);
            }
            for p in &s.patterns {
                broker.punsubscribe(s.id, p);
            }
        }
        self.publish_sub_counts();
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.unsubscribe_all();
    }
}

//! `Session`: the state of one RESP connection — protocol, MULTI queue, WATCHed
//! keys, subscriptions — and the shared server it belongs to.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::clients::ClientInfo;
use super::command::{CmdError, CommandSpec, flags};
use super::monitor::MonitorReceiver;
use super::{Reply, Request};
use crate::acl::log::Reason;
use crate::acl::permission::full_name;
use crate::acl::{Denied, Identity};
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

    /// Writes `first` (if any) and then the messages already waiting in the
    /// mailbox as `message`/`pmessage` pushes, until the mailbox is empty or
    /// `out` holds `max_bytes` (the rest stays queued for the next call).
    ///
    /// Messages for a channel or pattern unsubscribed since they were
    /// published are dropped: Redis never sends one after the unsubscribe
    /// confirmation, and a RESP2 client back in normal mode would take it for
    /// the reply to its next command.
    pub fn drain_into(&mut self, first: Option<Message>, out: &mut Reply, max_bytes: usize) {
        let mut next = first.or_else(|| self.rx.try_recv().ok());
        while let Some(m) = next {
            match &m.pattern {
                None if self.channels.contains(&m.channel) => {
                    out.push(3);
                    out.bulk(b"message");
                    out.bulk(&m.channel);
                    out.bulk(&m.payload);
                }
                Some(p) if self.patterns.contains(p) => {
                    out.push(4);
                    out.bulk(b"pmessage");
                    out.bulk(p);
                    out.bulk(&m.channel);
                    out.bulk(&m.payload);
                }
                _ => {}
            }
            if out.len() >= max_bytes {
                break;
            }
            next = self.rx.try_recv().ok();
        }
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
    /// The command feed, once the client ran MONITOR.
    pub monitor: Option<MonitorReceiver<'e>>,
    /// QUIT was received: close after flushing.
    pub closing: bool,
    /// The ACL user this connection acts as.
    pub identity: Identity,
    /// ASKING was the previous command: the next one may use a slot
    /// importing into this node (sharded regions only).
    pub asking: bool,
    /// The next command's slot is migrating away: it runs here only if its
    /// keys are still here (see `command::cluster`).
    pub ask_if_missing: Option<crate::cluster::Route>,
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
            monitor: None,
            closing: false,
            asking: false,
            ask_if_missing: None,
            identity: Identity::new(&shared.acl),
        }
    }

    /// NOAUTH and ACL checks before `spec` (at `index` in the command
    /// table) runs or is queued: the error to answer, if refused.
    #[inline]
    pub fn authorize(
        &mut self,
        spec: &CommandSpec,
        index: usize,
        req: &Request,
    ) -> Result<(), CmdError> {
        let in_multi = self.multi.is_some();
        self.authorize_in(spec, index, req, in_multi)
    }

    /// [`Session::authorize`] for a command run by EXEC.
    pub fn authorize_queued(
        &mut self,
        spec: &CommandSpec,
        index: usize,
        req: &Request,
    ) -> Result<(), CmdError> {
        self.authorize_in(spec, index, req, true)
    }

    #[inline]
    fn authorize_in(
        &mut self,
        spec: &CommandSpec,
        index: usize,
        req: &Request,
        in_multi: bool,
    ) -> Result<(), CmdError> {
        let acl = &self.shared.acl;
        if spec.has(flags::NO_AUTH) {
            // AUTH, HELLO, QUIT and RESET run before authentication and are
            // never restricted by ACLs (as in Redis).
            return Ok(());
        }
        if self.identity.auth_required(acl) {
            return Err(CmdError::msg("NOAUTH Authentication required."));
        }
        if self.identity.unrestricted() {
            return Ok(());
        }
        let user = self.identity.user();
        user.check(spec, index, req).map_err(|denied| {
            let name = full_name(spec, req);
            let arg =
                |i: usize| String::from_utf8_lossy(req.get(i).unwrap_or_default()).into_owned();
            let (counter, reason, object) = match denied {
                Denied::Command => (&acl.stats.denied_cmd, Reason::Command, name.clone()),
                Denied::Key(i) => (&acl.stats.denied_key, Reason::Key, arg(i)),
                Denied::Channel(i) => (&acl.stats.denied_channel, Reason::Channel, arg(i)),
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let context = if in_multi { "multi" } else { "toplevel" };
            acl.log.record(
                reason,
                context,
                &object,
                user.name(),
                self.client.describe(),
            );
            CmdError::msg(denied.error_line(user.name(), &name))
        })
    }

    /// True if every current subscription is still allowed to this
    /// connection's user (Redis disconnects subscribers whose channel
    /// permissions were taken away).
    pub fn subscriptions_allowed(&self) -> bool {
        let user = self.identity.user();
        self.subs.as_ref().is_none_or(|s| {
            s.channels.iter().all(|c| user.channel_allowed(c, false))
                && s.patterns.iter().all(|p| user.channel_allowed(p, true))
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Broker;
    use crate::resp::Proto;

    fn subs(broker: &Broker) -> Subscriptions {
        let (mailbox, rx, overflow) = Mailbox::new(16);
        Subscriptions {
            id: broker.next_id(),
            mailbox,
            rx,
            overflow,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
        }
    }

    #[test]
    fn drain_writes_current_messages_and_drops_stale_ones() {
        let broker = Broker::default();
        let mut s = subs(&broker);
        let (c, p) = (Bytes::from_static(b"c"), Bytes::from_static(b"c*"));
        broker.subscribe(s.id, &s.mailbox, &c);
        broker.psubscribe(s.id, &s.mailbox, &p);
        s.channels.insert(c.clone());
        s.patterns.insert(p.clone());
        assert_eq!(broker.publish(&c, &Bytes::from_static(b"1")), 2);
        // Unsubscribed from the channel while its message was in flight.
        broker.unsubscribe(s.id, &c);
        s.channels.remove(&c);
        let mut out = Reply::new(Proto::Resp3);
        s.drain_into(None, &mut out, usize::MAX);
        assert_eq!(
            String::from_utf8_lossy(out.bytes()),
            ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$1\r\nc\r\n$1\r\n1\r\n"
        );
        assert!(s.rx.try_recv().is_err());
    }

    #[test]
    fn drain_stops_at_the_byte_budget() {
        let broker = Broker::default();
        let mut s = subs(&broker);
        let c = Bytes::from_static(b"c");
        broker.subscribe(s.id, &s.mailbox, &c);
        s.channels.insert(c.clone());
        for _ in 0..3 {
            broker.publish(&c, &Bytes::from_static(b"x"));
        }
        let one: &[u8] = b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n";
        let mut out = Reply::new(Proto::Resp2);
        s.drain_into(None, &mut out, 1);
        assert_eq!(out.bytes(), one);
        out.clear();
        s.drain_into(None, &mut out, usize::MAX);
        assert_eq!(out.bytes(), one.repeat(2));
    }
}

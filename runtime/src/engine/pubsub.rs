//! The pub/sub broker: channel and pattern subscriptions, and fan-out of
//! published messages to subscribers' bounded queues.
//!
//! A subscriber that stops reading fills its queue; the broker then marks it
//! overflowed and its connection closes it, as Redis does when a pub/sub client
//! exceeds its output buffer limit. Publishing never blocks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::mpsc;

use super::glob_match;

/// Identifies one subscribing client.
pub type SubscriberId = u64;

/// A message delivered to a subscriber.
#[derive(Debug, Clone)]
pub struct Message {
    /// Channel it was published to.
    pub channel: Bytes,
    /// Pattern that matched, for pattern subscriptions.
    pub pattern: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
}

/// Where a subscriber receives messages.
#[derive(Debug, Clone)]
pub struct Mailbox {
    tx: mpsc::Sender<Message>,
    overflow: Arc<AtomicBool>,
}

impl Mailbox {
    /// A mailbox of `capacity` messages, its receiving end, and the flag raised
    /// when it overflows.
    pub fn new(capacity: usize) -> (Mailbox, mpsc::Receiver<Message>, Arc<AtomicBool>) {
        let (tx, rx) = mpsc::channel(capacity);
        let overflow = Arc::new(AtomicBool::new(false));
        (
            Mailbox {
                tx,
                overflow: overflow.clone(),
            },
            rx,
            overflow,
        )
    }

    fn deliver(&self, m: Message) {
        if self.tx.try_send(m).is_err() {
            self.overflow.store(true, Ordering::Relaxed);
        }
    }
}

/// Subscriptions of all clients.
#[derive(Debug, Default)]
pub struct Broker {
    channels: RwLock<HashMap<Bytes, HashMap<SubscriberId, Mailbox>>>,
    patterns: RwLock<Vec<(Bytes, SubscriberId, Mailbox)>>,
    next_id: AtomicU64,
    published: AtomicU64,
}

impl Broker {
    /// A fresh subscriber id.
    pub fn next_id(&self) -> SubscriberId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Subscribes `id` to `channel`; false if it already was.
    pub fn subscribe(&self, id: SubscriberId, mailbox: &Mailbox, channel: &Bytes) -> bool {
        self.channels
            .write()
            .entry(channel.clone())
            .or_default()
            .insert(id, mailbox.clone())
            .is_none()
    }

    /// Unsubscribes `id` from `channel`; false if it was not subscribed.
    pub fn unsubscribe(&self, id: SubscriberId, channel: &[u8]) -> bool {
        let mut channels = self.channels.write();
        let Some(subs) = channels.get_mut(channel) else {
            return false;
        };
        let removed = subs.remove(&id).is_some();
        if subs.is_empty() {
            channels.remove(channel);
        }
        removed
    }

    /// Subscribes `id` to `pattern`; false if it already was.
    pub fn psubscribe(&self, id: SubscriberId, mailbox: &Mailbox, pattern: &Bytes) -> bool {
        let mut patterns = self.patterns.write();
        if patterns.iter().any(|(p, s, _)| *s == id && p == pattern) {
            return false;
        }
        patterns.push((pattern.clone(), id, mailbox.clone()));
        true
    }

    /// Unsubscribes `id` from `pattern`; false if it was not subscribed.
    pub fn punsubscribe(&self, id: SubscriberId, pattern: &[u8]) -> bool {
        let mut patterns = self.patterns.write();
        let before = patterns.len();
        patterns.retain(|(p, s, _)| !(*s == id && p.as_ref() == pattern));
        patterns.len() != before
    }

    /// Delivers `payload` to every subscriber of `channel` and every matching
    /// pattern; returns how many received it.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        self.published.fetch_add(1, Ordering::Relaxed);
        let mut receivers = 0;
        if let Some(subs) = self.channels.read().get(channel) {
            for mb in subs.values() {
                mb.deliver(Message {
                    channel: channel.clone(),
                    pattern: None,
                    payload: payload.clone(),
                });
                receivers += 1;
            }
        }
        for (pattern, _, mb) in self.patterns.read().iter() {
            if glob_match(pattern, channel) {
                mb.deliver(Message {
                    channel: channel.clone(),
                    pattern: Some(pattern.clone()),
                    payload: payload.clone(),
                });
                receivers += 1;
            }
        }
        receivers
    }

    /// Active channels (with at least one subscriber), optionally filtered.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c)))
            .cloned()
            .collect()
    }

    /// Subscribers of `channel`.
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.read().get(channel).map_or(0, |s| s.len())
    }

    /// Number of distinct subscribed patterns (PUBSUB NUMPAT: Redis 7 counts a
    /// pattern once however many clients subscribed to it).
    pub fn numpat(&self) -> usize {
        let patterns = self.patterns.read();
        let distinct: std::collections::HashSet<&Bytes> =
            patterns.iter().map(|(p, _, _)| p).collect();
        distinct.len()
    }

    /// Messages published since start.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

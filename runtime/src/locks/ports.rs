//! The lock messages' way to other regions: per peer, the queue of the
//! replication session that currently links us to it, and the open voting
//! rounds waiting for answers.
//!
//! A session attaches its queue when it starts and detaches it when it
//! ends, so a region reachable right now is exactly one with a queue here.
//! Sending never waits: a full queue drops the message, which the protocol
//! treats like any lost message (the round times out or is decided without
//! it). This module must not interpret votes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::message::{Answer, LockMsg, Vote};
use crate::clock::RegionId;

/// Lock messages that may wait for one peer's link.
pub const PORT_QUEUE: usize = 4096;

/// Where lock messages go and where answers come back.
#[derive(Debug, Default)]
pub struct Ports {
    ports: Mutex<HashMap<RegionId, (u64, mpsc::Sender<LockMsg>)>>,
    rounds: Mutex<HashMap<u64, mpsc::UnboundedSender<Answer>>>,
    next: AtomicU64,
}

/// A session's attachment; detaches when dropped.
#[derive(Debug)]
pub struct Attachment<'p> {
    ports: &'p Ports,
    peer: RegionId,
    id: u64,
}

impl Drop for Attachment<'_> {
    fn drop(&mut self) {
        let mut ports = self.ports.ports.lock();
        // A newer session of the same peer may have attached meanwhile.
        if ports.get(&self.peer).is_some_and(|(id, _)| *id == self.id) {
            ports.remove(&self.peer);
        }
    }
}

/// One open round: answers arrive on `answers` until it is dropped.
#[derive(Debug)]
pub struct Round<'p> {
    ports: &'p Ports,
    id: u64,
    /// How many peers the ask was queued for.
    pub sent: usize,
    answers: mpsc::UnboundedReceiver<Answer>,
}

impl Round<'_> {
    /// The next answer; `None` never comes while the round is open.
    pub async fn next(&mut self) -> Option<Answer> {
        self.answers.recv().await
    }
}

impl Drop for Round<'_> {
    fn drop(&mut self) {
        self.ports.rounds.lock().remove(&self.id);
    }
}

impl Ports {
    /// Routes messages for `peer` to `tx` until the attachment is dropped.
    pub fn attach(&self, peer: RegionId, tx: mpsc::Sender<LockMsg>) -> Attachment<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.ports.lock().insert(peer, (id, tx));
        Attachment {
            ports: self,
            peer,
            id,
        }
    }

    /// Peers reachable now.
    pub fn reachable(&self) -> usize {
        self.ports.lock().len()
    }

    /// Asks every reachable peer for `vote`; answers arrive on the round.
    pub fn ask(&self, vote: &Vote) -> Round<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, answers) = mpsc::unbounded_channel();
        self.rounds.lock().insert(id, tx);
        let msg = LockMsg::Ask {
            id,
            vote: vote.clone(),
        };
        let sent = self
            .ports
            .lock()
            .values()
            .filter(|(_, port)| port.try_send(msg.clone()).is_ok())
            .count();
        Round {
            ports: self,
            id,
            sent,
            answers,
        }
    }

    /// Sends `msg` to `peer` if it is reachable and its queue has room.
    pub fn send(&self, peer: RegionId, msg: LockMsg) {
        if let Some((_, port)) = self.ports.lock().get(&peer) {
            let _ = port.try_send(msg);
        }
    }

    /// Hands an answer to its round; late answers (round closed) are dropped.
    pub fn deliver(&self, id: u64, answer: Answer) {
        if let Some(tx) = self.rounds.lock().get(&id) {
            let _ = tx.send(answer);
        }
    }
}

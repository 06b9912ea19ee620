//! What regions say to each other about global locks: a vote request and
//! its answer, carried inside the replication protocol's `PeerMsg::Lock`.
//!
//! This module owns the wire shapes only; what an acceptor does with a vote
//! is `acceptor.rs`, how a proposer counts answers is `quorum.rs`.

use serde::{Deserialize, Serialize};

/// One lock message between two regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMsg {
    /// A request for a vote; `id` is echoed by the answer.
    Ask {
        /// Chosen by the asking region, unique among its open rounds.
        id: u64,
        /// What is asked.
        vote: Vote,
    },
    /// The answer to the `Ask` with this `id`.
    Answer {
        /// The request's id.
        id: u64,
        /// The acceptor's answer.
        answer: Answer,
    },
}

/// What a proposer asks an acceptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Vote {
    /// Promise to accept nothing below `token`; report any live lease.
    Prepare {
        /// The lock.
        #[serde(with = "serde_bytes")]
        name: Vec<u8>,
        /// The proposed token (the round's ballot).
        token: u64,
    },
    /// Hold the lease `token` for `ttl_ms` from receipt.
    Accept {
        /// The lock.
        #[serde(with = "serde_bytes")]
        name: Vec<u8>,
        /// The token promised in the prepare phase.
        token: u64,
        /// Lease length, timed by the acceptor from receipt.
        ttl_ms: u64,
    },
    /// Extend the live lease `token` to `ttl_ms` from receipt.
    Renew {
        /// The lock.
        #[serde(with = "serde_bytes")]
        name: Vec<u8>,
        /// The holder's token.
        token: u64,
        /// New lease length from receipt.
        ttl_ms: u64,
    },
    /// End the live lease `token`.
    Release {
        /// The lock.
        #[serde(with = "serde_bytes")]
        name: Vec<u8>,
        /// The holder's token.
        token: u64,
    },
}

impl Vote {
    /// The lock the vote is about.
    pub fn name(&self) -> &[u8] {
        match self {
            Vote::Prepare { name, .. }
            | Vote::Accept { name, .. }
            | Vote::Renew { name, .. }
            | Vote::Release { name, .. } => name,
        }
    }
}

/// A live lease as an acceptor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// Its token.
    pub token: u64,
    /// Milliseconds until it lapses at this acceptor (rounded up).
    pub remaining_ms: u64,
}

/// An acceptor's answer, the same shape for every kind of vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Whether the vote was granted (promised, accepted, renewed, released).
    pub ok: bool,
    /// The highest token this acceptor has promised, after the vote.
    pub promised: u64,
    /// The lease live at this acceptor after the vote, if any.
    pub live: Option<Live>,
}

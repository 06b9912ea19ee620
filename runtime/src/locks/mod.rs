//! Distributed locks: leases with fencing tokens, in two scopes.
//!
//! - `local`: a lease held in this region only ([`lease`]), granted without
//!   any cross-region round trip.
//! - `global`: a lease granted only when a majority of regions accept it,
//!   by a prepare/accept round per grant ([`acceptor`], [`quorum`]) over
//!   the replication links ([`message`], [`ports`]). Every grant's token is
//!   strictly greater than every earlier grant's, in any region; the
//!   minority side of a partition cannot grant.
//!
//! Tokens protect real data through [`fence`]: a fenced write carrying a
//! token older than the newest seen is refused. [`service`] joins it all
//! into the API front ends call (RESP's LOCK.*, WIT's `lock` interface).
//!
//! This module owns lease state and the voting protocol. It must not touch
//! the keyspace, and must not know any wire protocol other than its own
//! messages; the replication session only carries them. The protocol, its
//! safety argument and the clock assumptions are in docs/locks.md.

pub mod acceptor;
pub mod fence;
pub mod lease;
pub mod message;
pub mod ports;
pub mod quorum;
mod service;

pub use fence::Stale;
pub use message::LockMsg;
pub use service::{
    DRIFT_BOUND, Grant, LockError, LockInfo, Locks, MARGIN_FLOOR, MIN_GLOBAL_TTL, ROUND_TIMEOUT,
    Scope, check_ttl, drift_margin,
};

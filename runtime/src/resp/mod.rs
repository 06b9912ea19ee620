//! The RESP gateway: lets existing Redis clients talk to Meridian unchanged.
//!
//! Vocabulary (after mini-redis): [`Request`] is a parsed command, [`Reply`] the
//! output buffer, [`Session`] a connection's state, [`command`] the table of
//! commands. This module owns the wire protocol and connection handling only;
//! command semantics live in [`crate::engine`].

pub mod clients;
pub mod command;
pub mod connection;
pub mod frame;
pub mod monitor;
pub mod parser;
pub mod pause;
mod reply;
mod request;
mod session;
pub mod slowlog;

pub use reply::{Proto, Reply};
pub use request::Request;
pub use session::{MultiState, Session, Subscriptions};

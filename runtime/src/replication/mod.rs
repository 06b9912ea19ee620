//! Replication between regions. So far only the transport, generic over the
//! message type: length-prefixed frames on the wire, mutual TLS, and peer
//! links that exchange `Hello`s and queue frames with backpressure.
//!
//! This module must not reach into the engine or keyspace: the delta log and
//! version vectors that will ride on these links are fed to it, never read by
//! it.

mod error;
mod frame;
mod link;
mod tls;

pub use error::LinkError;
pub use frame::{DEFAULT_MAX_FRAME, FrameCodec};
pub use link::{
    BackoffPolicy, Hello, LinkConfig, LinkReceiver, LinkSender, PROTOCOL_VERSION, PeerLink, accept,
    connect, connect_with_backoff, serve_peers,
};
pub use tls::{PeerIdentity, TlsError, TlsMaterial};

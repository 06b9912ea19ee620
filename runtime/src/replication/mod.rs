//! Replication between regions.
//!
//! - `frame`, `tls`, `link`: the transport, generic over the message type —
//!   length-prefixed frames, mutual TLS, peer links that exchange `Hello`s
//!   and queue frames with backpressure.
//! - `log`: the bounded log of a region's own encoded changes.
//! - `peer`: the protocol between two regions and the tasks that run it;
//!   the one place that joins links to the engine's replica.
//!
//! What a change *does* to a key (the merge rules) is the engine's
//! (`engine::replica`); nothing here reads or writes the keyspace directly.

mod error;
mod frame;
mod link;
mod log;
pub mod peer;
pub(crate) mod tls;

pub use error::LinkError;
pub use frame::{DEFAULT_MAX_FRAME, FrameCodec};
pub use link::{
    BackoffPolicy, Hello, LinkConfig, LinkReceiver, LinkSender, PROTOCOL_VERSION, PeerLink, accept,
    connect, connect_with_backoff, serve_peers,
};
pub(crate) use log::slack_to_release;
pub use log::{DeltaLog, FellBehind};
pub use tls::{PeerIdentity, RegionCertificates, TlsError, TlsMaterial};

//! Why a replication link could not be set up or had to be dropped.
//!
//! One error type for every layer of a link (framing, TLS, handshake,
//! connecting) so the code that owns links can log one thing and decide one
//! thing: drop the link, and reconnect if it is the dialling side.

/// Why a link failed. Every variant ends that link only, never the process.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The socket failed (reset, refused, broken pipe, …).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS handshake failed: no client certificate, a certificate from
    /// another CA, a server name the certificate does not cover, …
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    /// A frame length over the codec's limit (from the wire, or a message we
    /// were asked to send). Refused before any buffer of that size exists.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The length claimed or needed.
        len: u64,
        /// The codec's limit.
        max: u32,
    },
    /// The stream ended inside a frame (in its length prefix or its body).
    #[error("stream ended mid-frame: got {got} of {expected} bytes")]
    Truncated {
        /// Bytes the frame part needed.
        expected: u64,
        /// Bytes that arrived before the end.
        got: u64,
    },
    /// A frame body is not a valid encoding of the expected message.
    #[error("undecodable frame: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    /// A frame body decoded but left bytes over: the peer speaks another
    /// format, so nothing after it can be trusted either.
    #[error("frame has {0} trailing bytes after the message")]
    TrailingBytes(u64),
    /// A message could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// The peer closed the link before finishing the `Hello` exchange.
    #[error("peer closed the link during the handshake")]
    HandshakeClosed,
    /// TLS handshake plus `Hello` exchange took too long.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The peer speaks another version of the replication protocol.
    #[error("protocol mismatch: we speak {ours}, peer speaks {theirs}")]
    ProtocolMismatch {
        /// Our version.
        ours: u32,
        /// The peer's version.
        theirs: u32,
    },
    /// The peer's certificate carries no usable identity.
    #[error("peer certificate has no usable identity: {0}")]
    PeerCertificate(String),
    /// The region the peer claims in its `Hello` is not the one its
    /// certificate was issued to.
    #[error("peer claims region {claimed:?} but its certificate is for {certified:?}")]
    IdentityMismatch {
        /// The name in the peer's `Hello`.
        claimed: String,
        /// The name in the peer's certificate.
        certified: String,
    },
    /// The name to dial is not a valid TLS server name (DNS name or IP).
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    /// Nothing arrived for this long: the peer stopped, or the path drops
    /// traffic without closing the connection.
    #[error("peer silent for {0:?}")]
    Silent(std::time::Duration),
    /// The link's writer has stopped (the link failed or was closed).
    #[error("link closed")]
    Closed,
    /// Connecting was cancelled by shutdown.
    #[error("cancelled")]
    Cancelled,
}

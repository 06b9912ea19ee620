//! `RespLink`: one console session's connection to its own server, over an
//! in-process pipe served by the very `resp::connection::serve` every RESP
//! client gets. So whatever the console does with keys passes the same ACL
//! checks, fires the same keyspace notifications, invalidates the same
//! WATCHes, replicates, shows in CLIENT LIST (and can be CLIENT KILLed), is
//! fed to MONITOR and counted in INFO — with no second mechanism.
//!
//! It must not run commands any other way, and it never interprets replies:
//! callers get the RESP3 frames.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

use crate::resp::frame::{Frame, FrameError, FrameLimits, decode};
use crate::server::Shared;

/// Bytes buffered in each direction of the pipe.
const PIPE_BYTES: usize = 256 * 1024;

/// How long one exchange may take before the link is given up: the console
/// sends no blocking commands, so only a paused or overloaded server waits.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an exchange failed. After any of these the link is closed: replies
/// could no longer be matched to requests.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The server closed the connection (shutdown, CLIENT KILL, user deleted).
    #[error("the console's connection to the server closed")]
    Closed,
    /// No complete reply within [`REPLY_TIMEOUT`].
    #[error("the server did not answer within {0:?}")]
    Timeout(Duration),
    /// The reply could not be decoded.
    #[error("unreadable reply: {0}")]
    Protocol(#[from] FrameError),
    /// The pipe failed.
    #[error("console connection: {0}")]
    Io(#[from] std::io::Error),
}

/// A RESP connection of this process to its own server.
pub struct RespLink {
    reader: ReadHalf<DuplexStream>,
    writer: WriteHalf<DuplexStream>,
    buf: BytesMut,
    broken: bool,
}

/// One command as its arguments.
pub type Command = Vec<Vec<u8>>;

impl RespLink {
    /// Opens a connection served as if `peer` had connected to `local`.
    pub fn open(shared: Arc<Shared>, peer: SocketAddr, local: SocketAddr) -> RespLink {
        let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
        tokio::spawn(async move {
            crate::resp::connection::serve(&shared, theirs, peer, local).await;
        });
        let (reader, writer) = tokio::io::split(ours);
        RespLink {
            reader,
            writer,
            buf: BytesMut::with_capacity(16 * 1024),
            broken: false,
        }
    }

    /// False once an exchange failed: the session must open a new link.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    /// Runs one command and returns its reply (an error reply is a frame,
    /// not an `Err`).
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<Frame, LinkError> {
        let cmd: Command = args.iter().map(|a| a.to_vec()).collect();
        let mut replies = self.pipeline(std::slice::from_ref(&cmd)).await?;
        replies.pop().ok_or(LinkError::Closed)
    }

    /// Sends every command at once and returns one reply per command, in
    /// order. Writing and reading overlap, so large pipelines cannot fill
    /// both directions of the pipe and stall.
    pub async fn pipeline(&mut self, cmds: &[Command]) -> Result<Vec<Frame>, LinkError> {
        if self.broken {
            return Err(LinkError::Closed);
        }
        let result = tokio::time::timeout(REPLY_TIMEOUT, self.exchange(cmds)).await;
        let result = result.unwrap_or(Err(LinkError::Timeout(REPLY_TIMEOUT)));
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    async fn exchange(&mut self, cmds: &[Command]) -> Result<Vec<Frame>, LinkError> {
        let mut out = Vec::new();
        for c in cmds {
            Frame::Array(c.iter().map(Frame::bulk).collect()).encode(&mut out);
        }
        let writer = &mut self.writer;
        let write = async move {
            writer.write_all(&out).await?;
            writer.flush().await?;
            Ok::<(), LinkError>(())
        };
        let reader = &mut self.reader;
        let buf = &mut self.buf;
        let read = async move {
            let mut replies = Vec::with_capacity(cmds.len());
            while replies.len() < cmds.len() {
                match decode(buf, &FrameLimits::DEFAULT)? {
                    Some((frame, used)) => {
                        buf.advance(used);
                        // Out-of-band pushes answer no request.
                        if !matches!(frame, Frame::Push(_)) {
                            replies.push(frame);
                        }
                    }
                    None => {
                        if reader.read_buf(buf).await? == 0 {
                            return Err(LinkError::Closed);
                        }
                    }
                }
            }
            Ok(replies)
        };
        let (written, replies) = tokio::join!(write, read);
        written?;
        replies
    }
}

//! One authenticated replication link to one peer region: the TLS stream, the
//! `Hello` exchange that opens it, a bounded send queue drained by a writer
//! task (with a small urgent lane that overtakes it, for messages that must
//! not wait behind a backlog), and the two ways a link comes up — dialling
//! with backoff, or accepting on the replication listener.
//!
//! This module owns transport only: it is generic over the message type and
//! must not know about deltas, logs or version vectors. A failure of any kind
//! (garbage, a hang-up mid-frame, a refused identity) ends that one link with a
//! logged error; nothing here may panic the process.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWriteExt, BufWriter, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};
use tracing::{debug, info, warn};

use super::{FrameCodec, LinkError, PeerIdentity};

/// The replication protocol version this build speaks (the default in
/// [`LinkConfig::new`]). Peers must match exactly: there is one version so
/// far, and no negotiation.
pub const PROTOCOL_VERSION: u32 = 2;

/// A `Hello` is a few dozen bytes; anything near this is not one.
const HELLO_MAX_FRAME: u32 = 4096;
/// Frames that may wait in the urgent lane. Urgent messages are small and
/// written before anything queued, so this rarely fills.
const URGENT_QUEUE: usize = 64;

type Stream = TlsStream<TcpStream>;

/// Bytes of small frames gathered before they go to TLS (a TLS record holds
/// at most 16 KiB).
const WRITE_BUFFER: usize = 16 * 1024;

/// The first frame each side sends: who it is and what it speaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The sender's region id.
    pub region_id: u16,
    /// The sender's region name; must match its certificate's identity.
    pub region_name: String,
    /// The sender's [`PROTOCOL_VERSION`].
    pub protocol: u32,
}

/// How links are set up, the same for every peer of a region.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// What we announce.
    pub hello: Hello,
    /// Frame limits.
    pub codec: FrameCodec,
    /// Frames that may wait to be written; a full queue makes `send` wait,
    /// so a slow peer slows its producer instead of growing memory.
    pub send_queue: usize,
    /// Limit on TCP connect + TLS handshake + `Hello` exchange, so a peer
    /// that connects and goes silent cannot hold a slot forever.
    pub handshake_timeout: Duration,
    /// A link that receives no frame for this long fails with
    /// [`LinkError::Silent`]. The protocol above must send something more
    /// often than this (replication sends a status every 100 ms).
    pub idle_timeout: Duration,
}

impl LinkConfig {
    /// Defaults for the region `region_id` named `region_name`.
    pub fn new(region_id: u16, region_name: impl Into<String>) -> Self {
        LinkConfig {
            hello: Hello {
                region_id,
                region_name: region_name.into(),
                protocol: PROTOCOL_VERSION,
            },
            codec: FrameCodec::default(),
            send_queue: 1024,
            // A few round trips even between continents; a dial that hangs
            // (a black-holed path) is retried this much sooner once healed.
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(crate::config::DEFAULT_REPL_TIMEOUT_SECS),
        }
    }
}

/// Delays between connection attempts: exponential from `initial`, capped at
/// `max`, each with jitter so regions restarted together do not retry in
/// lockstep.
#[derive(Clone, Debug)]
pub struct BackoffPolicy {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

impl BackoffPolicy {
    /// The delay after `failures` consecutive failures (0-based): a random
    /// value in [d/2, d] where d = min(initial·2^failures, max).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
        let full = self.initial.saturating_mul(factor).min(self.max);
        let half = full / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// An established link: `Hello`s exchanged and the peer's identity checked.
///
/// A rejection by the peer (it refused our certificate or our `Hello`)
/// shows up as the link closing right away: the first `recv` fails or ends.
pub struct PeerLink<M> {
    peer: Hello,
    identity: PeerIdentity,
    sender: LinkSender<M>,
    receiver: LinkReceiver<M>,
}

impl<M> std::fmt::Debug for PeerLink<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink")
            .field("peer", &self.peer)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl<M> PeerLink<M>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    /// The peer's `Hello`.
    pub fn peer(&self) -> &Hello {
        &self.peer
    }

    /// The identity in the peer's certificate.
    pub fn identity(&self) -> &PeerIdentity {
        &self.identity
    }

    /// Queues `msg`; waits while the queue is full.
    pub async fn send(&self, msg: &M) -> Result<(), LinkError> {
        self.sender.send(msg).await
    }

    /// The next message; `Ok(None)` when the peer closed the link cleanly.
    pub async fn recv(&mut self) -> Result<Option<M>, LinkError> {
        self.receiver.recv().await
    }

    /// Another handle on the send queue.
    pub fn sender(&self) -> LinkSender<M> {
        self.sender.clone()
    }

    /// Separates sending and receiving, for a writer and a reader task.
    pub fn split(self) -> (LinkSender<M>, LinkReceiver<M>) {
        (self.sender, self.receiver)
    }

    /// Runs the `Hello` exchange on a TLS stream whose handshake is done,
    /// then starts the writer task.
    async fn establish(mut stream: Stream, cfg: &LinkConfig) -> Result<Self, LinkError> {
        let der = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .ok_or_else(|| LinkError::PeerCertificate("no certificate presented".into()))?;
        let identity = PeerIdentity::from_der(der)?;

        // Both sides write first, then read: the frame is tiny, so neither
        // blocks on the other.
        cfg.codec.write_frame(&mut stream, &cfg.hello).await?;
        stream.flush().await?;
        let peer: Hello = FrameCodec::new(HELLO_MAX_FRAME)
            .read_frame(&mut stream)
            .await?
            .ok_or(LinkError::HandshakeClosed)?;
        if peer.protocol != cfg.hello.protocol {
            return Err(LinkError::ProtocolMismatch {
                ours: cfg.hello.protocol,
                theirs: peer.protocol,
            });
        }
        if peer.region_name != identity.name {
            return Err(LinkError::IdentityMismatch {
                claimed: peer.region_name,
                certified: identity.name,
            });
        }

        let (read, write) = tokio::io::split(stream);
        let (tx, rx) = mpsc::channel(cfg.send_queue.max(1));
        let (urgent, urgent_rx) = mpsc::channel(URGENT_QUEUE);
        tokio::spawn(write_loop(write, urgent_rx, rx, peer.region_name.clone()));
        Ok(PeerLink {
            sender: LinkSender {
                tx,
                urgent,
                codec: cfg.codec,
                _msg: PhantomData,
            },
            receiver: LinkReceiver {
                read,
                idle_timeout: cfg.idle_timeout,
                codec: cfg.codec,
                peer: peer.region_name.clone(),
                _msg: PhantomData,
            },
            peer,
            identity,
        })
    }
}

/// The sending half of a link. Clones share one bounded queue (and one
/// urgent lane).
pub struct LinkSender<M> {
    tx: mpsc::Sender<Vec<u8>>,
    urgent: mpsc::Sender<Vec<u8>>,
    codec: FrameCodec,
    _msg: PhantomData<fn(M)>,
}

impl<M> Clone for LinkSender<M> {
    fn clone(&self) -> Self {
        LinkSender {
            tx: self.tx.clone(),
            urgent: self.urgent.clone(),
            codec: self.codec,
            _msg: PhantomData,
        }
    }
}

impl<M: Serialize> LinkSender<M> {
    /// Encodes `msg` here, so an oversized message is the caller's error and
    /// not the link's, and queues the frame; waits while the queue is full.
    /// [`LinkError::Closed`] once the link has failed or closed.
    pub async fn send(&self, msg: &M) -> Result<(), LinkError> {
        let frame = self.codec.encode(msg)?;
        self.tx.send(frame).await.map_err(|_| LinkError::Closed)
    }

    /// Like [`send`](Self::send), but the frame overtakes everything waiting
    /// in the queue (not what is already written). For small messages whose
    /// delay would cost more than their bytes: acknowledgements, lock votes.
    /// Urgent frames keep their order among themselves.
    pub async fn send_urgent(&self, msg: &M) -> Result<(), LinkError> {
        let frame = self.codec.encode(msg)?;
        self.urgent.send(frame).await.map_err(|_| LinkError::Closed)
    }

    /// Whether the writer has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The receiving half of a link. After an error the stream is out of step:
/// drop the link.
pub struct LinkReceiver<M> {
    read: ReadHalf<Stream>,
    idle_timeout: Duration,
    codec: FrameCodec,
    peer: String,
    _msg: PhantomData<fn() -> M>,
}

impl<M: DeserializeOwned> LinkReceiver<M> {
    /// The next message; `Ok(None)` when the peer closed the link cleanly.
    /// [`LinkError::Silent`] if nothing arrives within the idle timeout (the
    /// stream is then out of step, like after any error).
    pub async fn recv(&mut self) -> Result<Option<M>, LinkError> {
        let result =
            match tokio::time::timeout(self.idle_timeout, self.codec.read_frame(&mut self.read))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(LinkError::Silent(self.idle_timeout)),
            };
        match &result {
            Err(e) => warn!(peer = %self.peer, error = %e, "replication link dropped"),
            Ok(None) => debug!(peer = %self.peer, "replication link closed by peer"),
            Ok(Some(_)) => {}
        }
        result
    }
}

/// Writes queued frames, urgent ones first, flushing once per burst rather
/// than per frame. Ends when every sender is gone (closing TLS cleanly) or on
/// a write error.
async fn write_loop(
    w: WriteHalf<Stream>,
    mut urgent: mpsc::Receiver<Vec<u8>>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    peer: String,
) {
    // Small frames of one burst share TLS records and syscalls; a frame
    // larger than the buffer goes straight through.
    let mut w = BufWriter::with_capacity(WRITE_BUFFER, w);
    let result: std::io::Result<()> = async {
        loop {
            let frame = tokio::select! {
                biased;
                Some(f) = urgent.recv() => f,
                Some(f) = queue.recv() => f,
                else => break,
            };
            w.write_all(&frame).await?;
            while let Ok(frame) = urgent.try_recv().or_else(|_| queue.try_recv()) {
                w.write_all(&frame).await?;
            }
            w.flush().await?;
        }
        w.shutdown().await
    }
    .await;
    if let Err(e) = result {
        warn!(%peer, error = %e, "replication link write failed; dropping link");
    }
}

/// One attempt: TCP connect to `addr`, TLS as a client verifying the server
/// for `server_name`, then the `Hello` exchange.
pub async fn connect<M>(
    addr: &str,
    server_name: &str,
    client: Arc<ClientConfig>,
    cfg: &LinkConfig,
) -> Result<PeerLink<M>, LinkError>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|_| LinkError::InvalidServerName(server_name.to_string()))?;
    let attempt = async {
        let tcp = TcpStream::connect(addr).await?;
        // Replication batches are already sized; Nagle would only add delay.
        tcp.set_nodelay(true)?;
        let tls = TlsConnector::from(client)
            .connect(name, tcp)
            .await
            .map_err(LinkError::Tls)?;
        PeerLink::establish(tls.into(), cfg).await
    };
    tokio::time::timeout(cfg.handshake_timeout, attempt)
        .await
        .map_err(|_| LinkError::HandshakeTimeout)?
}

/// Dials until a link is up, waiting [`BackoffPolicy::delay`] after each
/// failure (logged). Every failure is retried, handshake rejections
/// included, because a misconfigured or older peer may be fixed while we
/// wait. Returns [`LinkError::Cancelled`] as soon as `cancel` turns true or
/// its sender is dropped, even mid-attempt.
pub async fn connect_with_backoff<M>(
    addr: &str,
    server_name: &str,
    client: Arc<ClientConfig>,
    cfg: &LinkConfig,
    policy: &BackoffPolicy,
    cancel: &mut watch::Receiver<bool>,
) -> Result<PeerLink<M>, LinkError>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    let mut failures = 0u32;
    loop {
        let result = tokio::select! {
            r = connect(addr, server_name, client.clone(), cfg) => r,
            _ = stopped(cancel) => return Err(LinkError::Cancelled),
        };
        match result {
            Ok(link) => {
                info!(%addr, peer = %link.peer.region_name, "replication link up");
                return Ok(link);
            }
            Err(e @ LinkError::InvalidServerName(_)) => return Err(e),
            Err(e) => {
                let delay = policy.delay(failures);
                warn!(%addr, peer = server_name, failures, error = %e, retry_in = ?delay,
                    "replication connect failed");
                failures = failures.saturating_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stopped(cancel) => return Err(LinkError::Cancelled),
                }
            }
        }
    }
}

/// Resolves once `stop` turns true or its sender is dropped.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, not held across an await.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The listener side of one connection: TLS as a server (requiring a client
/// certificate), then the `Hello` exchange.
pub async fn accept<M>(
    tcp: TcpStream,
    acceptor: &TlsAcceptor,
    cfg: &LinkConfig,
) -> Result<PeerLink<M>, LinkError>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    let attempt = async {
        tcp.set_nodelay(true)?;
        let tls = acceptor.accept(tcp).await.map_err(LinkError::Tls)?;
        PeerLink::establish(tls.into(), cfg).await
    };
    tokio::time::timeout(cfg.handshake_timeout, attempt)
        .await
        .map_err(|_| LinkError::HandshakeTimeout)?
}

/// Accepts peers on `listener` until `shutdown` turns true (or its sender
/// is dropped) or `links` is closed, handing each established link to
/// `links`. Each handshake runs in its own task, so a slow or hostile peer
/// cannot delay the others; failures are logged and end only that
/// connection.
pub async fn serve_peers<M>(
    listener: TcpListener,
    server: Arc<ServerConfig>,
    cfg: LinkConfig,
    links: mpsc::Sender<PeerLink<M>>,
    mut shutdown: watch::Receiver<bool>,
) where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    let acceptor = TlsAcceptor::from(server);
    let cfg = Arc::new(cfg);
    loop {
        let (tcp, from) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Typically out of file descriptors: wait rather than spin.
                    warn!(error = %e, "replication accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => return,
            _ = links.closed() => return,
        };
        let (acceptor, cfg, links) = (acceptor.clone(), cfg.clone(), links.clone());
        tokio::spawn(async move {
            match accept::<M>(tcp, &acceptor, &cfg).await {
                Ok(link) => {
                    info!(%from, peer = %link.peer.region_name, "replication peer accepted");
                    // A closed receiver means we are shutting down: the link
                    // is dropped, which closes it.
                    let _ = links.send(link).await;
                }
                Err(e) => warn!(%from, error = %e, "replication peer refused"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use rustls::RootCertStore;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::replication::TlsMaterial;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Msg {
        n: u32,
        payload: Vec<u8>,
    }

    fn msg(n: u32) -> Msg {
        Msg {
            n,
            payload: vec![n as u8; (n % 300) as usize],
        }
    }

    /// Dev material for regions "a" (id 1) and "b" (id 2).
    fn dev() -> Vec<TlsMaterial> {
        TlsMaterial::generate_dev(&["a", "b"])
            .expect("dev material")
            .1
    }

    fn cfg(id: u16, name: &str) -> LinkConfig {
        LinkConfig {
            handshake_timeout: Duration::from_secs(5),
            ..LinkConfig::new(id, name)
        }
    }

    async fn listen() -> (TcpListener, String) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        (l, addr)
    }

    /// One accept on a fresh listener against one connect, run together.
    async fn pair(
        server: &TlsMaterial,
        server_cfg: LinkConfig,
        client: Arc<ClientConfig>,
        client_cfg: LinkConfig,
    ) -> (
        Result<PeerLink<Msg>, LinkError>,
        Result<PeerLink<Msg>, LinkError>,
    ) {
        let (l, addr) = listen().await;
        let acceptor = TlsAcceptor::from(server.server_config().expect("server config"));
        let accepting = async {
            let (tcp, _) = l.accept().await.expect("accept");
            accept::<Msg>(tcp, &acceptor, &server_cfg).await
        };
        tokio::join!(accepting, connect::<Msg>(&addr, "a", client, &client_cfg))
    }

    fn ring_client(
        roots_pem: &str,
    ) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(roots_pem.as_bytes()) {
            roots.add(cert.expect("pem")).expect("root");
        }
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
    }

    #[tokio::test]
    async fn many_frames_round_trip_both_ways_over_mtls() {
        let m = dev();
        let client_config = m[1].client_config().expect("client config");
        let (server, client) = pair(&m[0], cfg(1, "a"), client_config, cfg(2, "b")).await;
        let mut server = server.expect("server side");
        let mut client = client.expect("client side");
        assert_eq!(server.peer().region_id, 2);
        assert_eq!(server.identity().name, "b");
        assert_eq!(client.peer().region_name, "a");

        const N: u32 = 3000;
        let (to_server, to_client) = (client.sender(), server.sender());
        let c = tokio::spawn(async move {
            for n in 0..N {
                to_server.send(&msg(n)).await.expect("send to server");
            }
        });
        let s = tokio::spawn(async move {
            for n in 0..N {
                to_client.send(&msg(n)).await.expect("send to client");
            }
        });
        for n in 0..N {
            assert_eq!(server.recv().await.expect("server recv"), Some(msg(n)));
        }
        for n in 0..N {
            assert_eq!(client.recv().await.expect("client recv"), Some(msg(n)));
        }
        c.await.expect("client sender");
        s.await.expect("server sender");

        // Dropping every sender closes TLS cleanly: the peer sees a clean end.
        drop(client);
        assert!(matches!(server.recv().await, Ok(None)));
    }

    #[tokio::test]
    async fn a_client_without_a_certificate_is_refused() {
        let m = dev();
        let no_cert = Arc::new(ring_client(&m[0].ca_cert_pem).with_no_client_auth());
        let (server, client) = pair(&m[0], cfg(1, "a"), no_cert, cfg(2, "b")).await;
        assert!(matches!(server, Err(LinkError::Tls(_))), "{server:?}");
        assert!(client.is_err());
    }

    #[tokio::test]
    async fn a_certificate_from_another_ca_is_refused() {
        let m = dev();
        let (_, other) = TlsMaterial::generate_dev(&["b"]).expect("other CA");
        // Trusts our CA, but its own certificate comes from the other one.
        let foreign = TlsMaterial {
            ca_cert_pem: m[0].ca_cert_pem.clone(),
            ..other[0].clone()
        };
        let client_config = foreign.client_config().expect("client config");
        let (server, client) = pair(&m[0], cfg(1, "a"), client_config, cfg(2, "b")).await;
        assert!(matches!(server, Err(LinkError::Tls(_))), "{server:?}");
        assert!(client.is_err());

        // And a client that trusts only the other CA refuses our server.
        let client_config = other[0].client_config().expect("client config");
        let (server, client) = pair(&m[0], cfg(1, "a"), client_config, cfg(2, "b")).await;
        assert!(matches!(client, Err(LinkError::Tls(_))), "{client:?}");
        assert!(server.is_err());
    }

    #[tokio::test]
    async fn a_region_claiming_another_identity_is_refused() {
        let m = dev();
        // Certificate "b", Hello "c".
        let client_config = m[1].client_config().expect("client config");
        let (server, _) = pair(&m[0], cfg(1, "a"), client_config, cfg(3, "c")).await;
        match server {
            Err(LinkError::IdentityMismatch { claimed, certified }) => {
                assert_eq!((claimed.as_str(), certified.as_str()), ("c", "b"));
            }
            other => panic!("expected IdentityMismatch, got {other:?}"),
        }
        // The dialler checks the listener the same way.
        let client_config = m[1].client_config().expect("client config");
        let (_, client) = pair(&m[0], cfg(1, "z"), client_config, cfg(2, "b")).await;
        assert!(
            matches!(client, Err(LinkError::IdentityMismatch { .. })),
            "{client:?}"
        );
    }

    #[tokio::test]
    async fn a_protocol_mismatch_is_refused() {
        let m = dev();
        let mut newer = cfg(2, "b");
        newer.hello.protocol = PROTOCOL_VERSION + 1;
        let client_config = m[1].client_config().expect("client config");
        let (server, client) = pair(&m[0], cfg(1, "a"), client_config, newer).await;
        let (ours, newer) = (PROTOCOL_VERSION, PROTOCOL_VERSION + 1);
        assert!(
            matches!(server, Err(LinkError::ProtocolMismatch { ours: o, theirs: t }) if (o, t) == (ours, newer)),
            "{server:?}"
        );
        assert!(
            matches!(client, Err(LinkError::ProtocolMismatch { ours: o, theirs: t }) if (o, t) == (newer, ours)),
            "{client:?}"
        );
    }

    /// A hand-driven authenticated peer "b" that has sent and read `Hello`s,
    /// and the server's link to it.
    async fn raw_peer() -> (tokio_rustls::client::TlsStream<TcpStream>, PeerLink<Msg>) {
        let m = dev();
        let (l, addr) = listen().await;
        let acceptor = TlsAcceptor::from(m[0].server_config().expect("server config"));
        let server_cfg = cfg(1, "a");
        let accepting = async {
            let (tcp, _) = l.accept().await.expect("accept");
            accept::<Msg>(tcp, &acceptor, &server_cfg).await
        };
        let dialling = async {
            let tcp = TcpStream::connect(&addr).await.expect("connect");
            let connector = TlsConnector::from(m[1].client_config().expect("client config"));
            let name = ServerName::try_from("a").expect("name");
            let mut tls = connector.connect(name, tcp).await.expect("tls");
            let codec = FrameCodec::default();
            codec
                .write_frame(&mut tls, &cfg(2, "b").hello)
                .await
                .expect("hello");
            tls.flush().await.expect("flush");
            let _: Option<Hello> = codec.read_frame(&mut tls).await.expect("their hello");
            tls
        };
        let (server, tls) = tokio::join!(accepting, dialling);
        (tls, server.expect("server link"))
    }

    #[tokio::test]
    async fn garbage_from_an_authenticated_peer_is_a_typed_error() {
        // An oversized length prefix.
        let (mut tls, mut server) = raw_peer().await;
        tls.write_all(&[0xff; 4]).await.expect("write");
        tls.flush().await.expect("flush");
        assert!(matches!(
            server.recv().await,
            Err(LinkError::FrameTooLarge { .. })
        ));

        // A length (under the limit) whose body never comes: hang-up mid-frame.
        let (mut tls, mut server) = raw_peer().await;
        tls.write_all(&[0, 0x10, 0, 0, 1, 2, 3])
            .await
            .expect("write");
        tls.shutdown().await.expect("shutdown");
        assert!(matches!(
            server.recv().await,
            Err(LinkError::Truncated {
                expected: 0x10_0000,
                got: 3
            })
        ));

        // Half a length prefix, then a hang-up.
        let (mut tls, mut server) = raw_peer().await;
        tls.write_all(&[0, 0]).await.expect("write");
        tls.shutdown().await.expect("shutdown");
        assert!(matches!(
            server.recv().await,
            Err(LinkError::Truncated {
                expected: 4,
                got: 2
            })
        ));

        // A well-framed body that is not a message.
        let (mut tls, mut server) = raw_peer().await;
        tls.write_all(&[0, 0, 0, 2, 0xc1, 0xc1])
            .await
            .expect("write");
        tls.flush().await.expect("flush");
        assert!(matches!(server.recv().await, Err(LinkError::Decode(_))));

        // A TCP close without TLS close_notify could be a truncation attack:
        // an error, not a clean end.
        let (tls, mut server) = raw_peer().await;
        drop(tls.into_inner().0);
        assert!(server.recv().await.is_err());
    }

    #[tokio::test]
    async fn a_silent_connection_times_out_the_handshake() {
        let m = dev();
        let (l, addr) = listen().await;
        let acceptor = TlsAcceptor::from(m[0].server_config().expect("server config"));
        let mut quick = cfg(1, "a");
        quick.handshake_timeout = Duration::from_millis(200);
        let _silent = TcpStream::connect(&addr).await.expect("connect");
        let (tcp, _) = l.accept().await.expect("accept");
        let r = accept::<Msg>(tcp, &acceptor, &quick).await;
        assert!(matches!(r, Err(LinkError::HandshakeTimeout)), "{r:?}");
    }

    fn quick_backoff() -> BackoffPolicy {
        BackoffPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
        }
    }

    #[tokio::test]
    async fn reconnect_with_backoff_succeeds_once_the_listener_appears() {
        let m = dev();
        // A free port, with nobody listening on it yet.
        let (l, addr) = listen().await;
        drop(l);
        let (_stop, mut cancel) = watch::channel(false);
        let client_config = m[1].client_config().expect("client config");
        let dial_addr = addr.clone();
        let dialling = tokio::spawn(async move {
            connect_with_backoff::<Msg>(
                &dial_addr,
                "a",
                client_config,
                &cfg(2, "b"),
                &quick_backoff(),
                &mut cancel,
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let l = TcpListener::bind(&addr).await.expect("rebind");
        let acceptor = TlsAcceptor::from(m[0].server_config().expect("server config"));
        let (tcp, _) = l.accept().await.expect("accept");
        let mut server = accept::<Msg>(tcp, &acceptor, &cfg(1, "a"))
            .await
            .expect("server link");
        let client = dialling.await.expect("task").expect("client link");
        client.send(&msg(7)).await.expect("send");
        assert_eq!(server.recv().await.expect("recv"), Some(msg(7)));
    }

    #[tokio::test]
    async fn backoff_is_cancellable() {
        let m = dev();
        let (l, addr) = listen().await;
        drop(l);
        let (stop, mut cancel) = watch::channel(false);
        let client_config = m[1].client_config().expect("client config");
        let dialling = tokio::spawn(async move {
            connect_with_backoff::<Msg>(
                &addr,
                "a",
                client_config,
                &cfg(2, "b"),
                &quick_backoff(),
                &mut cancel,
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(true).expect("cancel");
        let r = tokio::time::timeout(Duration::from_secs(2), dialling)
            .await
            .expect("cancelled promptly")
            .expect("task");
        assert!(matches!(r, Err(LinkError::Cancelled)), "{r:?}");
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for (failures, full) in [(0, 100), (1, 200), (3, 800), (4, 1000), (40, 1000)] {
            let d = p.delay(failures);
            let full = Duration::from_millis(full);
            assert!(d >= full / 2 && d <= full, "{failures}: {d:?}");
        }
    }

    #[tokio::test]
    async fn serve_peers_hands_over_links_and_survives_bad_peers() {
        let m = dev();
        let (l, addr) = listen().await;
        let (links_tx, mut links) = mpsc::channel::<PeerLink<Msg>>(4);
        let (stop, shutdown) = watch::channel(false);
        let server_config = m[0].server_config().expect("server config");
        let serving = tokio::spawn(serve_peers(
            l,
            server_config,
            cfg(1, "a"),
            links_tx,
            shutdown,
        ));

        let no_cert = Arc::new(ring_client(&m[0].ca_cert_pem).with_no_client_auth());
        assert!(
            connect::<Msg>(&addr, "a", no_cert, &cfg(2, "b"))
                .await
                .is_err()
        );
        let mut garbage = TcpStream::connect(&addr).await.expect("connect");
        garbage.write_all(b"PING\r\n").await.expect("write");
        let mut sink = Vec::new();
        let _ = garbage.read_to_end(&mut sink).await;

        let client_config = m[1].client_config().expect("client config");
        let mut client = connect::<Msg>(&addr, "a", client_config, &cfg(2, "b"))
            .await
            .expect("client link");
        let server = links.recv().await.expect("a link");
        assert_eq!(server.peer().region_name, "b");
        server.send(&msg(1)).await.expect("send");
        assert_eq!(client.recv().await.expect("recv"), Some(msg(1)));

        stop.send(true).expect("shutdown");
        tokio::time::timeout(Duration::from_secs(2), serving)
            .await
            .expect("stops on shutdown")
            .expect("task");
    }

    #[tokio::test]
    async fn a_peer_that_does_not_read_slows_the_sender() {
        let m = dev();
        let mut link_cfg = cfg(2, "b");
        link_cfg.send_queue = 2;
        let client_config = m[1].client_config().expect("client config");
        let (server, client) = pair(&m[0], cfg(1, "a"), client_config, link_cfg).await;
        let _server = server.expect("server link"); // never reads
        let client = client.expect("client link");
        let big = Msg {
            n: 0,
            payload: vec![0; 1 << 20],
        };
        // Socket buffers absorb a few MiB; after that `send` must wait.
        let mut blocked = false;
        for _ in 0..64 {
            if tokio::time::timeout(Duration::from_millis(300), client.send(&big))
                .await
                .is_err()
            {
                blocked = true;
                break;
            }
        }
        assert!(blocked, "64 MiB queued without backpressure");
    }

    #[tokio::test]
    async fn an_urgent_message_overtakes_the_queue() {
        let m = dev();
        let mut link_cfg = cfg(2, "b");
        link_cfg.send_queue = 32;
        let client_config = m[1].client_config().expect("client config");
        let (server, client) = pair(&m[0], cfg(1, "a"), client_config, link_cfg).await;
        let mut server = server.expect("server link");
        let client = client.expect("client link");
        // More than socket buffers hold, while nobody reads: most of these
        // wait in the queue.
        for n in 0..24 {
            let big = Msg {
                n,
                payload: vec![0; 1 << 20],
            };
            client.send(&big).await.expect("queued");
        }
        client.sender().send_urgent(&msg(99)).await.expect("urgent");
        let mut order = Vec::new();
        while order.len() < 25 {
            let got = tokio::time::timeout(Duration::from_secs(10), server.recv())
                .await
                .expect("read in time")
                .expect("frame")
                .expect("not closed");
            order.push(got.n);
        }
        let urgent_at = order.iter().position(|n| *n == 99).expect("urgent arrived");
        assert!(
            urgent_at < 20,
            "the urgent message came after {urgent_at} queued ones: {order:?}"
        );
        // Queued messages keep their order.
        let queued: Vec<u32> = order.into_iter().filter(|n| *n != 99).collect();
        assert_eq!(queued, (0..24).collect::<Vec<_>>());
    }
}

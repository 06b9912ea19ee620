//! Length-prefixed frames: a `u32` big-endian body length, then the
//! MessagePack (rmp-serde, named fields) encoding of one message.
//!
//! This module owns framing only. It must not know what messages mean, and it
//! must never trust a length from the wire: a length over the limit is refused
//! before any buffer is allocated, and a body is buffered only as fast as its
//! bytes actually arrive, so a peer that claims a large frame and then stalls
//! or hangs up costs nothing.

use std::io::Cursor;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::LinkError;

/// Default frame limit: 16 MiB, far above a replication batch (~64 KiB) yet
/// small enough that a hostile length cannot exhaust memory.
pub const DEFAULT_MAX_FRAME: u32 = 16 * 1024 * 1024;

const LEN_BYTES: usize = 4;

/// First allocation for a body. The buffer grows as data arrives, never to a
/// size the peer merely claimed.
const INITIAL_BODY_CAPACITY: usize = 64 * 1024;

/// Encodes and decodes frames under a size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCodec {
    max_frame: u32,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameCodec {
    /// A codec refusing bodies longer than `max_frame` bytes.
    pub fn new(max_frame: u32) -> Self {
        FrameCodec { max_frame }
    }

    /// The largest body accepted or produced.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// One whole frame (prefix + body) for `msg`, in one buffer so that it
    /// becomes one write (and one TLS record when small).
    pub fn encode<M: Serialize>(&self, msg: &M) -> Result<Vec<u8>, LinkError> {
        let mut buf = vec![0u8; LEN_BYTES];
        rmp_serde::encode::write_named(&mut buf, msg)?;
        let body = buf.len() - LEN_BYTES;
        let len = u32::try_from(body)
            .ok()
            .filter(|len| *len <= self.max_frame)
            .ok_or(LinkError::FrameTooLarge {
                len: body as u64,
                max: self.max_frame,
            })?;
        buf[..LEN_BYTES].copy_from_slice(&len.to_be_bytes());
        Ok(buf)
    }

    /// Decodes one frame body (without its prefix). The whole body must be
    /// one message.
    pub fn decode<M: DeserializeOwned>(&self, body: &[u8]) -> Result<M, LinkError> {
        let mut de = rmp_serde::Deserializer::new(Cursor::new(body));
        let msg = M::deserialize(&mut de)?;
        let rest = body.len() as u64 - de.position();
        if rest != 0 {
            return Err(LinkError::TrailingBytes(rest));
        }
        Ok(msg)
    }

    /// Reads one frame. `Ok(None)` is a clean end of stream at a frame
    /// boundary; an end anywhere else is [`LinkError::Truncated`].
    pub async fn read_frame<M, R>(&self, r: &mut R) -> Result<Option<M>, LinkError>
    where
        M: DeserializeOwned,
        R: AsyncRead + Unpin,
    {
        // Byte by byte rather than read_exact: EOF before the first byte is a
        // clean close, EOF after it is not.
        let mut prefix = [0u8; LEN_BYTES];
        let mut got = 0;
        while got < LEN_BYTES {
            let n = r.read(&mut prefix[got..]).await?;
            if n == 0 {
                if got == 0 {
                    return Ok(None);
                }
                return Err(LinkError::Truncated {
                    expected: LEN_BYTES as u64,
                    got: got as u64,
                });
            }
            got += n;
        }
        let len = u32::from_be_bytes(prefix);
        if len > self.max_frame {
            return Err(LinkError::FrameTooLarge {
                len: u64::from(len),
                max: self.max_frame,
            });
        }
        let mut body = Vec::with_capacity((len as usize).min(INITIAL_BODY_CAPACITY));
        let read = (&mut *r)
            .take(u64::from(len))
            .read_to_end(&mut body)
            .await?;
        if read < len as usize {
            return Err(LinkError::Truncated {
                expected: u64::from(len),
                got: read as u64,
            });
        }
        self.decode(&body).map(Some)
    }

    /// Writes one frame. Does not flush: the caller flushes once per batch.
    pub async fn write_frame<M, W>(&self, w: &mut W, msg: &M) -> Result<(), LinkError>
    where
        M: Serialize,
        W: AsyncWrite + Unpin,
    {
        let frame = self.encode(msg)?;
        w.write_all(&frame).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Msg {
        Ping,
        Blob(Vec<u8>),
        Counts(Vec<i64>),
        Fields(BTreeMap<String, Vec<u8>>),
        Batch {
            origin: u16,
            seq: u64,
            items: Vec<(String, Option<Vec<u8>>)>,
        },
    }

    fn msg() -> impl Strategy<Value = Msg> {
        prop_oneof![
            Just(Msg::Ping),
            proptest::collection::vec(any::<u8>(), 0..512).prop_map(Msg::Blob),
            proptest::collection::vec(any::<i64>(), 0..64).prop_map(Msg::Counts),
            proptest::collection::btree_map(
                ".{0,12}",
                proptest::collection::vec(any::<u8>(), 0..32),
                0..16
            )
            .prop_map(Msg::Fields),
            (
                any::<u16>(),
                any::<u64>(),
                proptest::collection::vec(
                    (
                        ".{0,8}",
                        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16))
                    ),
                    0..8
                )
            )
                .prop_map(|(origin, seq, items)| Msg::Batch { origin, seq, items }),
        ]
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("test runtime")
    }

    /// Reads every frame of `bytes` until the end or the first error.
    fn read_all(codec: FrameCodec, bytes: &[u8]) -> (Vec<Msg>, Option<LinkError>) {
        rt().block_on(async {
            let mut r = bytes;
            let mut out = Vec::new();
            loop {
                match codec.read_frame::<Msg, _>(&mut r).await {
                    Ok(Some(m)) => out.push(m),
                    Ok(None) => return (out, None),
                    Err(e) => return (out, Some(e)),
                }
            }
        })
    }

    #[test]
    fn frames_round_trip_back_to_back() {
        let codec = FrameCodec::default();
        let msgs = vec![
            Msg::Ping,
            Msg::Blob(vec![1, 2, 3]),
            Msg::Fields(BTreeMap::from([("f".into(), b"v".to_vec())])),
        ];
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend(codec.encode(m).expect("encode"));
        }
        let (got, err) = read_all(codec, &wire);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, msgs);
    }

    #[test]
    fn empty_stream_is_a_clean_end() {
        let (got, err) = read_all(FrameCodec::default(), &[]);
        assert!(got.is_empty() && err.is_none());
    }

    #[test]
    fn eof_inside_the_prefix_is_truncated() {
        let (_, err) = read_all(FrameCodec::default(), &[0, 0]);
        assert!(matches!(
            err,
            Some(LinkError::Truncated {
                expected: 4,
                got: 2
            })
        ));
    }

    #[test]
    fn eof_inside_the_body_is_truncated() {
        let mut wire = FrameCodec::default()
            .encode(&Msg::Blob(vec![7; 100]))
            .expect("encode");
        wire.truncate(50);
        let (_, err) = read_all(FrameCodec::default(), &wire);
        assert!(matches!(err, Some(LinkError::Truncated { got: 46, .. })));
    }

    #[test]
    fn oversized_length_is_refused() {
        // "GET " read as a length is ~1.2 GB: a peer speaking another protocol.
        let (_, err) = read_all(FrameCodec::default(), b"GET / HTTP/1.1\r\n");
        assert!(matches!(
            err,
            Some(LinkError::FrameTooLarge {
                len: 0x4745_5420,
                ..
            })
        ));
        let (_, err) = read_all(FrameCodec::new(10), &[0, 0, 0, 11]);
        assert!(matches!(
            err,
            Some(LinkError::FrameTooLarge { len: 11, max: 10 })
        ));
    }

    #[test]
    fn sending_an_oversized_message_is_refused() {
        let err = FrameCodec::new(8).encode(&Msg::Blob(vec![0; 64]));
        assert!(matches!(err, Err(LinkError::FrameTooLarge { max: 8, .. })));
    }

    #[test]
    fn garbage_body_and_trailing_bytes_are_typed_errors() {
        let (_, err) = read_all(FrameCodec::default(), &[0, 0, 0, 3, 0xc1, 0xc1, 0xc1]);
        assert!(matches!(err, Some(LinkError::Decode(_))), "{err:?}");
        let mut body = rmp_serde::to_vec_named(&Msg::Ping).expect("encode");
        body.push(0);
        let mut wire = (body.len() as u32).to_be_bytes().to_vec();
        wire.extend(body);
        let (_, err) = read_all(FrameCodec::default(), &wire);
        assert!(matches!(err, Some(LinkError::TrailingBytes(1))), "{err:?}");
    }

    #[test]
    fn a_claimed_length_is_not_allocated_up_front() {
        // A peer claims a frame just under the limit, sends 10 bytes and
        // hangs up. The reader must fail having allocated about what arrived.
        use tikv_jemalloc_ctl::thread::allocatedp;
        let mut wire = (DEFAULT_MAX_FRAME).to_be_bytes().to_vec();
        wire.extend([0u8; 10]);
        let allocated = allocatedp::read().expect("jemalloc stats");
        let rt = rt();
        let before = allocated.get();
        let err = rt.block_on(async {
            FrameCodec::default()
                .read_frame::<Msg, _>(&mut &wire[..])
                .await
        });
        let grew = allocated.get() - before;
        assert!(matches!(err, Err(LinkError::Truncated { got: 10, .. })));
        assert!(grew < 1024 * 1024, "allocated {grew} bytes");
    }

    proptest! {
        #[test]
        fn any_message_round_trips(msgs in proptest::collection::vec(msg(), 0..8)) {
            let codec = FrameCodec::default();
            let mut wire = Vec::new();
            for m in &msgs {
                wire.extend(codec.encode(m).expect("encode"));
            }
            let (got, err) = read_all(codec, &wire);
            prop_assert!(err.is_none());
            prop_assert_eq!(got, msgs);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let codec = FrameCodec::new(1024);
            let _ = codec.decode::<Msg>(&bytes);
            let _ = read_all(codec, &bytes);
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            // A well-formed prefix with a random body reaches the decoder.
            let mut wire = (body.len() as u32).to_be_bytes().to_vec();
            wire.extend(&body);
            let _ = read_all(FrameCodec::default(), &wire);
        }
    }
}

//! General RESP2/RESP3 frames: one [`Frame`] type for every value either
//! protocol can carry, with an encoder and a decoder.
//!
//! The server's hot path does not use this: requests go through the
//! zero-copy [`parser`](super::parser) and replies are written straight into
//! [`Reply`](super::Reply). Frames are for everything that must read RESP back
//! — tests checking what `Reply` writes, and clients (replication links,
//! tooling) reading a server's answers.
//!
//! The decoder is defensive: an incomplete frame answers `Ok(None)` (read more,
//! call again), nesting is bounded by [`FrameLimits::max_depth`], declared
//! lengths are checked against the limits before anything is reserved, and no
//! aggregate preallocates more elements than the bytes left could possibly
//! hold.

use bytes::Bytes;

/// One RESP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text` status line (never contains CR or LF).
    Simple(Bytes),
    /// `-ERR text` error line (never contains CR or LF).
    Error(Bytes),
    /// `:n`.
    Integer(i64),
    /// `$len` bulk string.
    Bulk(Bytes),
    /// RESP2 null bulk string, `$-1`.
    NullBulk,
    /// RESP2 null array, `*-1`.
    NullArray,
    /// `*n` array.
    Array(Vec<Frame>),
    /// RESP3 null, `_`.
    Null,
    /// RESP3 double, `,1.5` (also `inf`, `-inf`, `nan`).
    Double(f64),
    /// RESP3 boolean, `#t` / `#f`.
    Boolean(bool),
    /// RESP3 bulk error, `!len`.
    BulkError(Bytes),
    /// RESP3 verbatim string, `=len` then `fmt:text` (`fmt` is 3 bytes).
    Verbatim {
        /// Format, e.g. `txt` or `mkd`.
        format: [u8; 3],
        /// The text.
        text: Bytes,
    },
    /// RESP3 big number, `(digits` (optional leading `-`).
    BigNumber(Bytes),
    /// RESP3 map, `%n` then n key/value pairs.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 set, `~n`.
    Set(Vec<Frame>),
    /// RESP3 attribute, `|n` pairs, followed by the frame they describe.
    Attribute {
        /// The attribute pairs.
        attrs: Vec<(Frame, Frame)>,
        /// The value they are attached to.
        data: Box<Frame>,
    },
    /// RESP3 push, `>n` (out-of-band data such as pub/sub messages).
    Push(Vec<Frame>),
}

impl Frame {
    /// A status line frame.
    pub fn simple(s: &str) -> Frame {
        Frame::Simple(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// An error line frame.
    pub fn error(s: &str) -> Frame {
        Frame::Error(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// A bulk string frame.
    pub fn bulk(b: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(b.as_ref()))
    }

    /// Appends the wire form of this frame to `out`. Status and error lines
    /// have CR and LF replaced by spaces, so no frame can break the framing.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            Frame::Error(s) => line(out, b'-', s),
            Frame::Integer(v) => {
                out.push(b':');
                out.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Frame::Bulk(b) => blob(out, b'$', b),
            Frame::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(items) => aggregate(out, b'*', items),
            Frame::Null => out.extend_from_slice(b"_\r\n"),
            Frame::Double(v) => {
                out.push(b',');
                if v.is_nan() {
                    out.extend_from_slice(b"nan");
                } else if v.is_infinite() {
                    out.extend_from_slice(if *v > 0.0 { b"inf" } else { b"-inf" });
                } else {
                    // Shortest text that reads back to the same value.
                    out.extend_from_slice(ryu::Buffer::new().format_finite(*v).as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
            Frame::Boolean(v) => out.extend_from_slice(if *v { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BulkError(b) => blob(out, b'!', b),
            Frame::Verbatim { format, text } => {
                header(out, b'=', text.len() + 4);
                out.extend_from_slice(format);
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Frame::BigNumber(n) => line(out, b'(', n),
            Frame::Map(pairs) => pairs_aggregate(out, b'%', pairs),
            Frame::Set(items) => aggregate(out, b'~', items),
            Frame::Attribute { attrs, data } => {
                pairs_aggregate(out, b'|', attrs);
                data.encode(out);
            }
            Frame::Push(items) => aggregate(out, b'>', items),
        }
    }

    /// The encoded frame as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

fn header(out: &mut Vec<u8>, tag: u8, n: usize) {
    out.push(tag);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, tag: u8, text: &[u8]) {
    out.push(tag);
    out.extend(
        text.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

fn blob(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    header(out, tag, b.len());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn aggregate(out: &mut Vec<u8>, tag: u8, items: &[Frame]) {
    header(out, tag, items.len());
    for i in items {
        i.encode(out);
    }
}

fn pairs_aggregate(out: &mut Vec<u8>, tag: u8, pairs: &[(Frame, Frame)]) {
    header(out, tag, pairs.len());
    for (k, v) in pairs {
        k.encode(out);
        v.encode(out);
    }
}

/// Bounds on what [`decode`] accepts.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Deepest nesting of aggregates (a scalar at top level is depth 0).
    pub max_depth: usize,
    /// Longest bulk string, bulk error or verbatim string.
    pub max_bulk: usize,
    /// Most elements (pairs, for maps and attributes) in one aggregate.
    pub max_elements: usize,
    /// Longest line: a header, a status, error, double or big number line.
    pub max_line: usize,
}

impl FrameLimits {
    /// Generous limits matching the server's own (512 MB bulks, 64 KB lines).
    pub const DEFAULT: FrameLimits = FrameLimits {
        max_depth: 128,
        max_bulk: 512 * 1024 * 1024,
        max_elements: i32::MAX as usize,
        max_line: 64 * 1024,
    };
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits::DEFAULT
    }
}

/// Malformed or over-limit input. The stream cannot be resynchronised after
/// one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first byte is not a RESP type.
    #[error("invalid frame type byte {0:#04x}")]
    InvalidType(u8),
    /// A line does not end with CRLF, or a bulk is not followed by CRLF.
    #[error("missing CRLF terminator")]
    BadTerminator,
    /// A length or count is not a valid number.
    #[error("invalid length")]
    InvalidLength,
    /// An integer frame is not a valid `i64`.
    #[error("invalid integer")]
    InvalidInteger,
    /// A double frame is not a valid number.
    #[error("invalid double")]
    InvalidDouble,
    /// A boolean frame is neither `t` nor `f`.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// A big number is not an optionally signed run of digits.
    #[error("invalid big number")]
    InvalidBigNumber,
    /// A verbatim string lacks its `fmt:` prefix.
    #[error("invalid verbatim string")]
    InvalidVerbatim,
    /// A null frame carries data.
    #[error("invalid null")]
    InvalidNull,
    /// Streamed strings/aggregates (`$?`, `*?`) are not supported.
    #[error("streamed frames are not supported")]
    Streamed,
    /// Nesting deeper than [`FrameLimits::max_depth`].
    #[error("frame nested too deeply")]
    TooDeep,
    /// A declared length or count exceeds the limits.
    #[error("frame exceeds size limits")]
    TooLarge,
    /// A line longer than [`FrameLimits::max_line`].
    #[error("line too long")]
    LineTooLong,
}

/// Decodes one frame from the front of `buf`: `Ok(Some((frame, consumed)))`,
/// `Ok(None)` if `buf` holds only a prefix of a frame.
pub fn decode(buf: &[u8], limits: &FrameLimits) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut d = Decoder {
        buf,
        pos: 0,
        limits,
    };
    match d.frame(0)? {
        Some(f) => Ok(Some((f, d.pos))),
        None => Ok(None),
    }
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a FrameLimits,
}

/// Smallest encoded frame (`_\r\n`, `+\r\n`): bounds how many elements the
/// remaining bytes can hold.
const MIN_FRAME: usize = 3;

/// `Ok(None)` = need more input.
type Step<T> = Result<Option<T>, FrameError>;

macro_rules! need {
    ($e:expr) => {
        match $e? {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

impl<'a> Decoder<'a> {
    /// The line after the type byte (without CRLF); advances past it.
    fn line(&mut self) -> Step<&'a [u8]> {
        let start = self.pos;
        let rest = &self.buf[start..];
        match rest.iter().position(|&c| c == b'\r') {
            None => {
                if rest.len() > self.limits.max_line {
                    return Err(FrameError::LineTooLong);
                }
                Ok(None)
            }
            Some(cr) => {
                if cr > self.limits.max_line {
                    return Err(FrameError::LineTooLong);
                }
                match rest.get(cr + 1) {
                    None => Ok(None),
                    Some(b'\n') => {
                        self.pos = start + cr + 2;
                        Ok(Some(&rest[..cr]))
                    }
                    Some(_) => Err(FrameError::BadTerminator),
                }
            }
        }
    }

    /// A length header: `-1` for RESP2 nulls, else `0..=max`.
    fn length(&mut self, max: usize) -> Step<i64> {
        let l = need!(self.line());
        if l == b"?" {
            return Err(FrameError::Streamed);
        }
        let n = parse_int(l).ok_or(FrameError::InvalidLength)?;
        if n < -1 {
            return Err(FrameError::InvalidLength);
        }
        if n > 0 && n as u64 > max as u64 {
            return Err(FrameError::TooLarge);
        }
        Ok(Some(n))
    }

    /// `len` bytes of payload plus CRLF.
    fn payload(&mut self, len: usize) -> Step<&'a [u8]> {
        let start = self.pos;
        let Some(end) = start.checked_add(len) else {
            return Err(FrameError::TooLarge);
        };
        if self.buf.len() < end.saturating_add(2) {
            return Ok(None);
        }
        if &self.buf[end..end + 2] != b"\r\n" {
            return Err(FrameError::BadTerminator);
        }
        self.pos = end + 2;
        Ok(Some(&self.buf[start..end]))
    }

    /// A blob (`$`, `!`, `=`) body; `None` inside for a `-1` length.
    fn blob(&mut self) -> Step<Option<&'a [u8]>> {
        let n = need!(self.length(self.limits.max_bulk));
        if n < 0 {
            return Ok(Some(None));
        }
        Ok(Some(Some(need!(self.payload(n as usize)))))
    }

    /// Room for at most `n` elements of at least `per` bytes each in what is
    /// left of the buffer — never more, whatever `n` claims.
    fn capacity(&self, n: usize, per: usize) -> usize {
        n.min((self.buf.len() - self.pos) / per)
    }

    fn items(&mut self, n: usize, depth: usize) -> Step<Vec<Frame>> {
        let mut v = Vec::with_capacity(self.capacity(n, MIN_FRAME));
        for _ in 0..n {
            v.push(need!(self.frame(depth + 1)));
        }
        Ok(Some(v))
    }

    fn pairs(&mut self, n: usize, depth: usize) -> Step<Vec<(Frame, Frame)>> {
        let mut v = Vec::with_capacity(self.capacity(n, 2 * MIN_FRAME));
        for _ in 0..n {
            let k = need!(self.frame(depth + 1));
            let val = need!(self.frame(depth + 1));
            v.push((k, val));
        }
        Ok(Some(v))
    }

    /// An aggregate's count (`-1` only where RESP2 allows a null array).
    fn count(&mut self, null_ok: bool) -> Step<Option<usize>> {
        let n = need!(self.length(self.limits.max_elements));
        if n < 0 {
            return if null_ok {
                Ok(Some(None))
            } else {
                Err(FrameError::InvalidLength)
            };
        }
        Ok(Some(Some(n as usize)))
    }

    fn frame(&mut self, depth: usize) -> Step<Frame> {
        let Some(&tag) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        let aggregate = matches!(tag, b'*' | b'%' | b'~' | b'|' | b'>');
        if aggregate && depth >= self.limits.max_depth {
            return Err(FrameError::TooDeep);
        }
        self.pos += 1;
        let frame = match tag {
            b'+' => Frame::Simple(Bytes::copy_from_slice(need!(self.line()))),
            b'-' => Frame::Error(Bytes::copy_from_slice(need!(self.line()))),
            b':' => {
                Frame::Integer(parse_int(need!(self.line())).ok_or(FrameError::InvalidInteger)?)
            }
            b'$' => match need!(self.blob()) {
                Some(b) => Frame::Bulk(Bytes::copy_from_slice(b)),
                None => Frame::NullBulk,
            },
            b'!' => match need!(self.blob()) {
                Some(b) => Frame::BulkError(Bytes::copy_from_slice(b)),
                None => return Err(FrameError::InvalidLength),
            },
            b'=' => {
                let Some(b) = need!(self.blob()) else {
                    return Err(FrameError::InvalidLength);
                };
                if b.len() < 4 || b[3] != b':' {
                    return Err(FrameError::InvalidVerbatim);
                }
                Frame::Verbatim {
                    format: [b[0], b[1], b[2]],
                    text: Bytes::copy_from_slice(&b[4..]),
                }
            }
            b'_' => {
                if !need!(self.line()).is_empty() {
                    return Err(FrameError::InvalidNull);
                }
                Frame::Null
            }
            b',' => {
                Frame::Double(parse_double(need!(self.line())).ok_or(FrameError::InvalidDouble)?)
            }
            b'#' => match need!(self.line()) {
                b"t" => Frame::Boolean(true),
                b"f" => Frame::Boolean(false),
                _ => return Err(FrameError::InvalidBoolean),
            },
            b'(' => {
                let l = need!(self.line());
                let digits = l.strip_prefix(b"-").unwrap_or(l);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(FrameError::InvalidBigNumber);
                }
                Frame::BigNumber(Bytes::copy_from_slice(l))
            }
            b'*' => match need!(self.count(true)) {
                Some(n) => Frame::Array(need!(self.items(n, depth))),
                None => Frame::NullArray,
            },
            b'~' => match need!(self.count(false)) {
                Some(n) => Frame::Set(need!(self.items(n, depth))),
                None => return Err(FrameError::InvalidLength),
            },
            b'>' => match need!(self.count(false)) {
                Some(n) => Frame::Push(need!(self.items(n, depth))),
                None => return Err(FrameError::InvalidLength),
            },
            b'%' => match need!(self.count(false)) {
                Some(n) => Frame::Map(need!(self.pairs(n, depth))),
                None => return Err(FrameError::InvalidLength),
            },
            b'|' => {
                let Some(n) = need!(self.count(false)) else {
                    return Err(FrameError::InvalidLength);
                };
                let attrs = need!(self.pairs(n, depth));
                let data = need!(self.frame(depth + 1));
                Frame::Attribute {
                    attrs,
                    data: Box::new(data),
                }
            }
            other => return Err(FrameError::InvalidType(other)),
        };
        Ok(Some(frame))
    }
}

/// An optionally signed decimal `i64` (RESP allows a leading `+` or `-`).
fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = (d - b'0') as i64;
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

fn parse_double(s: &[u8]) -> Option<f64> {
    match s {
        b"inf" | b"+inf" => return Some(f64::INFINITY),
        b"-inf" => return Some(f64::NEG_INFINITY),
        b"nan" | b"-nan" => return Some(f64::NAN),
        _ => {}
    }
    // Only the characters of a decimal/exponent number: Rust's parser would
    // also take spellings like "infinity" that RESP does not use.
    if s.is_empty()
        || !s
            .iter()
            .all(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::{Proto, Reply};
    use proptest::prelude::*;

    fn dec(b: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        decode(b, &FrameLimits::DEFAULT)
    }

    fn one(b: &[u8]) -> Frame {
        match dec(b) {
            Ok(Some((f, n))) => {
                assert_eq!(n, b.len(), "trailing bytes after {f:?}");
                f
            }
            other => panic!("{:?} decoded to {other:?}", String::from_utf8_lossy(b)),
        }
    }

    fn bytes_no_crlf() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(
            any::<u8>().prop_filter("no CR/LF", |c| *c != b'\r' && *c != b'\n'),
            0..12,
        )
        .prop_map(Bytes::from)
    }

    fn any_bytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
    }

    fn big_number() -> impl Strategy<Value = Bytes> {
        "-?[0-9]{1,40}".prop_map(|s| Bytes::from(s.into_bytes()))
    }

    fn double() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("NaN never equals itself", |v| !v.is_nan()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
        ]
    }

    fn scalar() -> impl Strategy<Value = Frame> {
        prop_oneof![
            bytes_no_crlf().prop_map(Frame::Simple),
            bytes_no_crlf().prop_map(Frame::Error),
            any::<i64>().prop_map(Frame::Integer),
            any_bytes().prop_map(Frame::Bulk),
            Just(Frame::NullBulk),
            Just(Frame::NullArray),
            Just(Frame::Null),
            double().prop_map(Frame::Double),
            any::<bool>().prop_map(Frame::Boolean),
            any_bytes().prop_map(Frame::BulkError),
            ("[a-z]{3}", any_bytes()).prop_map(|(f, text)| {
                let f = f.as_bytes();
                Frame::Verbatim {
                    format: [f[0], f[1], f[2]],
                    text,
                }
            }),
            big_number().prop_map(Frame::BigNumber),
        ]
    }

    fn frame() -> impl Strategy<Value = Frame> {
        scalar().prop_recursive(4, 48, 6, |inner| {
            let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
                pairs.clone().prop_map(Frame::Map),
                (pairs, inner).prop_map(|(attrs, data)| Frame::Attribute {
                    attrs,
                    data: Box::new(data),
                }),
            ]
        })
    }

    /// Pieces that glue into RESP-looking input.
    const RESP_PIECES: &[&[u8]] = &[
        b"*",
        b"%",
        b"~",
        b">",
        b"|",
        b"$",
        b"=",
        b"!",
        b"(",
        b",",
        b"#",
        b"_",
        b":",
        b"+",
        b"-",
        b"\r\n",
        b"\r",
        b"1",
        b"3",
        b"-1",
        b"?",
        b"999999999999",
        b"txt:",
        b"t",
        b"x",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// (a) Every frame decodes back to itself, consuming exactly its bytes,
        /// and every strict prefix of it is reported incomplete.
        #[test]
        fn frames_round_trip(f in frame()) {
            let wire = f.to_vec();
            let (back, used) = dec(&wire).unwrap().unwrap();
            prop_assert_eq!(&back, &f);
            prop_assert_eq!(used, wire.len());
            for cut in 0..wire.len() {
                prop_assert_eq!(dec(&wire[..cut]), Ok(None), "prefix {}", cut);
            }
        }

        /// Two frames back to back decode one at a time.
        #[test]
        fn frames_concatenate(a in frame(), b in frame()) {
            let mut wire = a.to_vec();
            let first = wire.len();
            b.encode(&mut wire);
            let (fa, na) = dec(&wire).unwrap().unwrap();
            prop_assert_eq!(na, first);
            prop_assert_eq!(fa, a);
            let (fb, nb) = dec(&wire[na..]).unwrap().unwrap();
            prop_assert_eq!(na + nb, wire.len());
            prop_assert_eq!(fb, b);
        }

        /// (b) Arbitrary bytes never panic the decoder.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = dec(&data);
            let small = FrameLimits { max_depth: 3, max_bulk: 16, max_elements: 8, max_line: 16 };
            let _ = decode(&data, &small);
        }

        /// (b) Bytes that look like RESP (type bytes, digits, CRLF) never panic
        /// it either — they reach far deeper than uniform noise.
        #[test]
        fn resp_like_bytes_never_panic(parts in proptest::collection::vec(
            proptest::sample::select(RESP_PIECES), 0..64)) {
            let data: Vec<u8> = parts.concat();
            let _ = dec(&data);
        }
    }

    #[test]
    fn depth_is_limited() {
        let deep = b"*1\r\n".repeat(1000);
        assert_eq!(dec(&deep), Err(FrameError::TooDeep));
        let limits = FrameLimits {
            max_depth: 2,
            ..FrameLimits::DEFAULT
        };
        assert!(decode(b"*1\r\n*1\r\n:1\r\n", &limits).unwrap().is_some());
        assert_eq!(
            decode(b"*1\r\n*1\r\n*1\r\n:1\r\n", &limits),
            Err(FrameError::TooDeep)
        );
        // Attributes nest too.
        assert_eq!(dec(&b"|1\r\n".repeat(1000)), Err(FrameError::TooDeep));
    }

    #[test]
    fn huge_declared_sizes_do_not_allocate() {
        // A claimed billion elements is just "incomplete": nothing is reserved
        // beyond what the few bytes present could hold.
        assert_eq!(dec(b"*999999999\r\n"), Ok(None));
        assert_eq!(dec(b"%999999999\r\n:1\r\n"), Ok(None));
        assert_eq!(dec(b"$999999999\r\n"), Err(FrameError::TooLarge));
        assert_eq!(dec(b"*99999999999999\r\n"), Err(FrameError::TooLarge));
        assert_eq!(dec(b"$9223372036854775807\r\n"), Err(FrameError::TooLarge));
        let unlimited = FrameLimits {
            max_bulk: usize::MAX,
            max_elements: usize::MAX,
            ..FrameLimits::DEFAULT
        };
        assert_eq!(decode(b"$9223372036854775807\r\nab", &unlimited), Ok(None));
        assert_eq!(
            decode(b"*9223372036854775807\r\n:1\r\n", &unlimited),
            Ok(None)
        );
    }

    #[test]
    fn malformed_input_errors() {
        assert_eq!(dec(b"@x\r\n"), Err(FrameError::InvalidType(b'@')));
        assert_eq!(dec(b":12a\r\n"), Err(FrameError::InvalidInteger));
        assert_eq!(
            dec(b":99999999999999999999\r\n"),
            Err(FrameError::InvalidInteger)
        );
        assert_eq!(dec(b"$3\r\nabcd\r\n"), Err(FrameError::BadTerminator));
        assert_eq!(dec(b"+OK\rX"), Err(FrameError::BadTerminator));
        assert_eq!(dec(b"$-2\r\n"), Err(FrameError::InvalidLength));
        assert_eq!(dec(b"%-1\r\n"), Err(FrameError::InvalidLength));
        assert_eq!(dec(b"#x\r\n"), Err(FrameError::InvalidBoolean));
        assert_eq!(dec(b",1.5x\r\n"), Err(FrameError::InvalidDouble));
        assert_eq!(dec(b",infinity\r\n"), Err(FrameError::InvalidDouble));
        assert_eq!(dec(b"(12x\r\n"), Err(FrameError::InvalidBigNumber));
        assert_eq!(dec(b"=3\r\ntxt\r\n"), Err(FrameError::InvalidVerbatim));
        assert_eq!(dec(b"_x\r\n"), Err(FrameError::InvalidNull));
        assert_eq!(dec(b"$?\r\n"), Err(FrameError::Streamed));
        let long = [b"+".as_slice(), &[b'a'; 70_000]].concat();
        assert_eq!(dec(&long), Err(FrameError::LineTooLong));
    }

    #[test]
    fn wire_forms() {
        assert_eq!(one(b"+OK\r\n"), Frame::simple("OK"));
        assert_eq!(one(b":-42\r\n"), Frame::Integer(-42));
        assert_eq!(one(b":+7\r\n"), Frame::Integer(7));
        assert_eq!(one(b"$0\r\n\r\n"), Frame::bulk(""));
        assert_eq!(one(b",1e+300\r\n"), Frame::Double(1e300));
        assert!(matches!(one(b",nan\r\n"), Frame::Double(v) if v.is_nan()));
        assert_eq!(Frame::Double(f64::NAN).to_vec(), b",nan\r\n");
        assert_eq!(Frame::Double(f64::NEG_INFINITY).to_vec(), b",-inf\r\n");
        assert_eq!(Frame::simple("a\r\nb").to_vec(), b"+a  b\r\n");
        assert_eq!(
            one(b"=8\r\ntxt:abcd\r\n"),
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"abcd")
            }
        );
    }

    /// What a reply model writes, and the frame it must decode to in each
    /// protocol.
    #[derive(Debug, Clone)]
    enum Model {
        Simple(String),
        Ok,
        Error(String),
        Int(i64),
        Bulk(Vec<u8>),
        BulkOpt(Option<Vec<u8>>),
        BulkInt(i64),
        Null,
        NullArray,
        Double(f64),
        Boolean(bool),
        Verbatim(String),
        BulkArray(Vec<Vec<u8>>),
        Array(Vec<Model>),
        Map(Vec<(Model, Model)>),
        Set(Vec<Model>),
        Push(Vec<Model>),
    }

    fn write(m: &Model, out: &mut Reply) {
        match m {
            Model::Simple(s) => out.simple(s),
            Model::Ok => out.ok(),
            Model::Error(s) => out.error(s),
            Model::Int(v) => out.int(*v),
            Model::Bulk(b) => out.bulk(b),
            Model::BulkOpt(b) => out.bulk_opt(b.as_deref()),
            Model::BulkInt(v) => out.bulk_int(*v),
            Model::Null => out.null(),
            Model::NullArray => out.null_array(),
            Model::Double(v) => out.double(*v),
            Model::Boolean(v) => out.boolean(*v),
            Model::Verbatim(t) => out.verbatim(t),
            Model::BulkArray(items) => out.bulk_array(items.iter().map(|i| i.as_slice())),
            Model::Array(items) => {
                out.array(items.len());
                items.iter().for_each(|i| write(i, out));
            }
            Model::Map(pairs) => {
                out.map(pairs.len());
                for (k, v) in pairs {
                    write(k, out);
                    write(v, out);
                }
            }
            Model::Set(items) => {
                out.set(items.len());
                items.iter().for_each(|i| write(i, out));
            }
            Model::Push(items) => {
                out.push(items.len());
                items.iter().for_each(|i| write(i, out));
            }
        }
    }

    fn expected(m: &Model, p: Proto) -> Frame {
        let r3 = p == Proto::Resp3;
        let all = |items: &[Model]| items.iter().map(|i| expected(i, p)).collect::<Vec<_>>();
        match m {
            Model::Simple(s) => Frame::simple(s),
            Model::Ok => Frame::simple("OK"),
            Model::Error(s) => Frame::error(&s.replace(['\r', '\n'], " ")),
            Model::Int(v) => Frame::Integer(*v),
            Model::Bulk(b) => Frame::bulk(b),
            Model::BulkOpt(Some(b)) => Frame::bulk(b),
            Model::BulkOpt(None) | Model::Null if r3 => Frame::Null,
            Model::BulkOpt(None) | Model::Null => Frame::NullBulk,
            Model::BulkInt(v) => Frame::bulk(v.to_string()),
            Model::NullArray if r3 => Frame::Null,
            Model::NullArray => Frame::NullArray,
            Model::Double(v) if r3 => Frame::Double(*v),
            Model::Double(v) => Frame::bulk(crate::engine::number::format_f64(*v)),
            Model::Boolean(v) if r3 => Frame::Boolean(*v),
            Model::Boolean(v) => Frame::Integer(*v as i64),
            Model::Verbatim(t) if r3 => Frame::Verbatim {
                format: *b"txt",
                text: Bytes::copy_from_slice(t.as_bytes()),
            },
            Model::Verbatim(t) => Frame::bulk(t),
            Model::BulkArray(items) => Frame::Array(items.iter().map(Frame::bulk).collect()),
            Model::Array(items) => Frame::Array(all(items)),
            Model::Map(pairs) if r3 => Frame::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (expected(k, p), expected(v, p)))
                    .collect(),
            ),
            Model::Map(pairs) => Frame::Array(
                pairs
                    .iter()
                    .flat_map(|(k, v)| [expected(k, p), expected(v, p)])
                    .collect(),
            ),
            Model::Set(items) if r3 => Frame::Set(all(items)),
            Model::Push(items) if r3 => Frame::Push(all(items)),
            Model::Set(items) | Model::Push(items) => Frame::Array(all(items)),
        }
    }

    fn model() -> impl Strategy<Value = Model> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..16);
        let leaf = prop_oneof![
            "[ -~]{0,12}".prop_map(Model::Simple),
            Just(Model::Ok),
            // Errors may contain newlines: Reply must flatten them.
            "[ -~\r\n]{0,12}".prop_map(Model::Error),
            any::<i64>().prop_map(Model::Int),
            bytes().prop_map(Model::Bulk),
            proptest::option::of(bytes()).prop_map(Model::BulkOpt),
            any::<i64>().prop_map(Model::BulkInt),
            Just(Model::Null),
            Just(Model::NullArray),
            double().prop_map(Model::Double),
            any::<bool>().prop_map(Model::Boolean),
            "(?s).{0,16}".prop_map(Model::Verbatim),
            proptest::collection::vec(bytes(), 0..4).prop_map(Model::BulkArray),
        ];
        leaf.prop_recursive(3, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Model::Array),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..3)
                    .prop_map(Model::Map),
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Model::Set),
                proptest::collection::vec(inner, 0..5).prop_map(Model::Push),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// (e) Whatever `Reply` writes is one well-formed frame of the expected
        /// shape, in RESP2 and in RESP3.
        #[test]
        fn reply_writes_expected_frames(m in model()) {
            for p in [Proto::Resp2, Proto::Resp3] {
                let mut out = Reply::new(p);
                write(&m, &mut out);
                let got = dec(out.bytes());
                let (frame, used) = got.unwrap().unwrap();
                prop_assert_eq!(used, out.len());
                prop_assert_eq!(frame, expected(&m, p), "{:?}", p);
            }
        }
    }

    #[test]
    fn reply_examples() {
        let cases: &[(Model, &[u8], &[u8])] = &[
            (Model::Null, b"$-1\r\n", b"_\r\n"),
            (Model::NullArray, b"*-1\r\n", b"_\r\n"),
            (Model::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n"),
            (Model::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n"),
            (Model::Boolean(true), b":1\r\n", b"#t\r\n"),
            (
                Model::Verbatim("hi".into()),
                b"$2\r\nhi\r\n",
                b"=6\r\ntxt:hi\r\n",
            ),
            (
                Model::Map(vec![(Model::Int(1), Model::Ok)]),
                b"*2\r\n:1\r\n+OK\r\n",
                b"%1\r\n:1\r\n+OK\r\n",
            ),
            (Model::Set(vec![]), b"*0\r\n", b"~0\r\n"),
            (
                Model::Push(vec![Model::Int(0)]),
                b"*1\r\n:0\r\n",
                b">1\r\n:0\r\n",
            ),
            (
                Model::Error("ERR a\nb".into()),
                b"-ERR a b\r\n",
                b"-ERR a b\r\n",
            ),
        ];
        for (m, r2, r3) in cases {
            for (p, want) in [(Proto::Resp2, r2), (Proto::Resp3, r3)] {
                let mut out = Reply::new(p);
                write(m, &mut out);
                assert_eq!(
                    String::from_utf8_lossy(out.bytes()),
                    String::from_utf8_lossy(want),
                    "{m:?} in {p:?}"
                );
                assert_eq!(one(out.bytes()), expected(m, p));
            }
        }
    }
}

//! The request parser: RESP multibulk (`*N\r\n$len\r\n…`) and inline commands
//! (`PING\r\n`, with Redis's quoting rules), with the limits Redis enforces.
//!
//! The parser never allocates more than a complete frame needs: counts and
//! lengths are checked against [`Limits`] before anything is reserved, and an
//! incomplete frame leaves the buffer untouched.

use bytes::BytesMut;
use smallvec::SmallVec;

use super::Request;

/// Longest inline command or header line (Redis's PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;

/// Size limits for incoming requests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest bulk argument (`proto-max-bulk-len`).
    pub max_bulk: usize,
    /// Most arguments in one command.
    pub max_args: usize,
}

impl Limits {
    /// Redis's defaults: 512 MB bulks, `INT_MAX` arguments.
    pub const DEFAULT: Limits = Limits {
        max_bulk: 512 * 1024 * 1024,
        max_args: i32::MAX as usize,
    };

    /// What an unauthenticated client may send (as Redis: 10 args, 16 KB).
    pub const UNAUTHENTICATED: Limits = Limits {
        max_bulk: 16 * 1024,
        max_args: 10,
    };
}

/// A malformed request. The connection answers `-ERR Protocol error: <msg>`
/// and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub &'static str);

/// Parses one request from the front of `buf`; `Ok(None)` if incomplete.
/// On success the request's bytes are split off the buffer.
pub fn parse(
    buf: &mut BytesMut,
    limits: &Limits,
    authenticated: bool,
) -> Result<Option<Request>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits, authenticated)
    } else {
        parse_inline(buf)
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    memchr_cr(&buf[from..]).map(|i| from + i)
}

#[inline]
fn memchr_cr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\r')
}

/// Parses the integer of a header line like `*3` or `$5` at `buf[start..end]`.
fn header_int(line: &[u8]) -> Option<i64> {
    if line.is_empty() || line.len() > 20 {
        return None;
    }
    crate::engine::number::parse_i64(line)
}

fn parse_multibulk(
    buf: &mut BytesMut,
    limits: &Limits,
    authenticated: bool,
) -> Result<Option<Request>, ProtocolError> {
    let Some(eol) = find_crlf(buf, 1) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError("too big mbulk count string"));
        }
        return Ok(None);
    };
    if buf.len() <= eol + 1 {
        return Ok(None);
    }
    let count = header_int(&buf[1..eol]).ok_or(ProtocolError("invalid multibulk length"))?;
    // Compared as u64: `max_args as i64` would wrap for limits above i64::MAX.
    if count > 0 && count as u64 > limits.max_args as u64 {
        return Err(ProtocolError(if authenticated {
            "invalid multibulk length"
        } else {
            "unauthenticated multibulk length"
        }));
    }
    let mut pos = eol + 2;
    if count <= 0 {
        // `*0` and `*-1` are empty requests; skip them.
        let _ = buf.split_to(pos);
        return Ok(Some(Request::new(bytes::Bytes::new(), SmallVec::new())));
    }
    let mut spans: SmallVec<[(u32, u32); 6]> = SmallVec::with_capacity((count as usize).min(1024));
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(None);
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError("expected '$'"));
        }
        let Some(eol) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > INLINE_MAX {
                return Err(ProtocolError("too big bulk count string"));
            }
            return Ok(None);
        };
        let len = header_int(&buf[pos + 1..eol]).ok_or(ProtocolError("invalid bulk length"))?;
        if len < 0 || len as u64 > limits.max_bulk as u64 {
            return Err(ProtocolError(if authenticated || len < 0 {
                "invalid bulk length"
            } else {
                "unauthenticated bulk length"
            }));
        }
        let start = eol + 2;
        let end = start + len as usize;
        if buf.len() < end + 2 {
            // Make room for the rest of a large argument ahead of the reads,
            // but never more than the client has already sent (at least
            // 64 KB): a declared length is only a claim, and reserving it whole
            // would let a few bytes pin `max_bulk` of memory. Growing by at
            // most the buffered amount still doubles, so a large argument
            // costs O(log n) reallocations.
            let need = end + 2 - buf.len();
            if need > 64 * 1024 {
                buf.reserve(need.min(buf.len().max(64 * 1024)));
            }
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError("invalid bulk length"));
        }
        if end > u32::MAX as usize {
            return Err(ProtocolError("invalid bulk length"));
        }
        spans.push((start as u32, end as u32));
        pos = end + 2;
    }
    let frame = buf.split_to(pos).freeze();
    Ok(Some(Request::new(frame, spans)))
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&c| c == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError("too big inline request"));
        }
        return Ok(None);
    };
    if nl > INLINE_MAX {
        return Err(ProtocolError("too big inline request"));
    }
    let line = buf.split_to(nl + 1);
    let mut text = &line[..nl];
    if text.last() == Some(&b'\r') {
        text = &text[..text.len() - 1];
    }
    let args = split_args(text).ok_or(ProtocolError("unbalanced quotes in request"))?;
    Ok(Some(Request::from_args(&args)))
}

/// Splits an inline command line like Redis's `sdssplitargs`: whitespace
/// separates arguments; "double quotes" allow `\n \r \t \b \a \\ \" \xHH`
/// escapes; 'single quotes' allow `\'`. A closing quote must be followed by
/// whitespace or the end. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok()?;
                    cur.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 4;
                    continue;
                }
                if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
                i += 1;
            } else if in_sq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                }
                if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(line[i]);
                i += 1;
            } else {
                if i >= n || line[i].is_ascii_whitespace() {
                    break;
                }
                match line[i] {
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        parse(&mut buf, &Limits::DEFAULT, true)
            .map(|r| r.map(|r| r.args_from(0).map(|a| a.to_vec()).collect()))
    }

    #[test]
    fn multibulk_and_inline() {
        assert_eq!(
            one(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap().unwrap(),
            vec![b"GET".to_vec(), b"k".to_vec()]
        );
        assert_eq!(one(b"*2\r\n$3\r\nGET\r\n$1\r\n").unwrap(), None);
        assert_eq!(
            one(b"set k \"a b\\x41\"\r\n").unwrap().unwrap(),
            vec![b"set".to_vec(), b"k".to_vec(), b"a bA".to_vec()]
        );
        assert_eq!(
            one(b"set k \"oops\r\n"),
            Err(ProtocolError("unbalanced quotes in request"))
        );
        assert_eq!(
            one(b"*1\r\n$x\r\n"),
            Err(ProtocolError("invalid bulk length"))
        );
        assert_eq!(one(b"*1\r\n+x\r\n"), Err(ProtocolError("expected '$'")));
    }

    #[test]
    fn unauthenticated_limits() {
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parse(&mut buf, &Limits::UNAUTHENTICATED, false).unwrap_err(),
            ProtocolError("unauthenticated multibulk length")
        );
        let mut buf = BytesMut::from(&b"*1\r\n$20000\r\n"[..]);
        assert_eq!(
            parse(&mut buf, &Limits::UNAUTHENTICATED, false).unwrap_err(),
            ProtocolError("unauthenticated bulk length")
        );
    }

    fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            v.extend_from_slice(a);
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    fn args_of(r: &Request) -> Vec<Vec<u8>> {
        r.args_from(0).map(|a| a.to_vec()).collect()
    }

    /// Parses requests off `buf` until it is empty, incomplete or broken,
    /// checking that nothing ever panics or loops.
    fn drain(buf: &mut BytesMut, limits: &Limits, authenticated: bool) {
        for _ in 0..=buf.len() {
            match parse(buf, limits, authenticated) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return,
            }
        }
        panic!("parser made no progress");
    }

    use proptest::prelude::*;

    fn arg_vectors() -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// (c) Any argument vector, encoded as a multibulk, parses back to
        /// itself and consumes exactly its bytes.
        #[test]
        fn multibulk_round_trips(args in arg_vectors(), trailing in proptest::collection::vec(any::<u8>(), 0..8)) {
            let wire = multibulk(&args);
            let mut buf = BytesMut::from(&wire[..]);
            buf.extend_from_slice(&trailing);
            let req = parse(&mut buf, &Limits::DEFAULT, true).unwrap().unwrap();
            prop_assert_eq!(args_of(&req), args);
            prop_assert_eq!(&buf[..], &trailing[..]);
        }

        /// (c) Split anywhere, a multibulk is incomplete (and the buffer
        /// untouched) until its last byte arrives, then parses whole.
        #[test]
        fn multibulk_split_anywhere(args in arg_vectors()) {
            let wire = multibulk(&args);
            for cut in 0..wire.len() {
                let mut buf = BytesMut::from(&wire[..cut]);
                prop_assert!(matches!(parse(&mut buf, &Limits::DEFAULT, true), Ok(None)), "cut {}", cut);
                prop_assert_eq!(&buf[..], &wire[..cut]);
                buf.extend_from_slice(&wire[cut..]);
                let req = parse(&mut buf, &Limits::DEFAULT, true).unwrap().unwrap();
                prop_assert_eq!(args_of(&req), args.clone());
                prop_assert!(buf.is_empty());
            }
        }

        /// (b) Arbitrary bytes never panic the parser, with any limits.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256), auth in any::<bool>()) {
            drain(&mut BytesMut::from(&data[..]), &Limits::DEFAULT, auth);
            drain(&mut BytesMut::from(&data[..]), &Limits::UNAUTHENTICATED, auth);
            let unlimited = Limits { max_bulk: usize::MAX, max_args: usize::MAX };
            drain(&mut BytesMut::from(&data[..]), &unlimited, auth);
        }

        /// (b) RESP-looking noise (headers, digits, CRLF, quotes) reaches the
        /// deep paths uniform noise rarely does; it must not panic either.
        #[test]
        fn resp_like_bytes_never_panic(parts in proptest::collection::vec(
            proptest::sample::select(PIECES), 0..48)) {
            let data = parts.concat();
            drain(&mut BytesMut::from(&data[..]), &Limits::DEFAULT, true);
            let unlimited = Limits { max_bulk: usize::MAX, max_args: usize::MAX };
            drain(&mut BytesMut::from(&data[..]), &unlimited, true);
        }
    }

    const PIECES: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"\r",
        b"\n",
        b"0",
        b"1",
        b"3",
        b"-1",
        b"-",
        b"x",
        b" ",
        b"\"",
        b"'",
        b"\\",
        b"\\x4",
        b"\\x41",
        b"99999999999",
        b"9223372036854775807",
    ];

    /// (d) Huge declared counts and lengths are refused or wait for data, but
    /// never make the parser reserve what the client merely claims.
    #[test]
    fn huge_declared_lengths_do_not_allocate() {
        const SMALL: usize = 256 * 1024;
        let cases: &[(&[u8], bool)] = &[
            (b"*999999999\r\n", true),
            (b"*999999999\r\n$3\r\nGET\r\n", true),
            (b"*1\r\n$999999999\r\n", false),
            (b"*2147483647\r\n$536870912\r\n", true),
            (b"*1\r\n$536870911\r\nabc", true),
            (b"*99999999999\r\n", false),
        ];
        for &(input, ok) in cases {
            let mut buf = BytesMut::from(input);
            let r = parse(&mut buf, &Limits::DEFAULT, true);
            assert_eq!(r.is_ok(), ok, "{}: {r:?}", String::from_utf8_lossy(input));
            if ok {
                assert!(r.unwrap().is_none());
                assert_eq!(&buf[..], input, "incomplete input must stay buffered");
            }
            assert!(
                buf.capacity() < SMALL,
                "{} reserved {} bytes",
                String::from_utf8_lossy(input),
                buf.capacity()
            );
        }
        // Even with no bulk limit at all (a misconfigured proto-max-bulk-len):
        // no overflow, no giant reservation.
        let unlimited = Limits {
            max_bulk: usize::MAX,
            max_args: usize::MAX,
        };
        let mut buf = BytesMut::from(&b"*1\r\n$9223372036854775807\r\nabc"[..]);
        let r = parse(&mut buf, &unlimited, true);
        assert!(matches!(r, Ok(None)), "{r:?}");
        assert!(buf.capacity() < SMALL);
    }

    /// A large argument arriving in pieces is reassembled with geometric,
    /// bounded growth of the buffer.
    #[test]
    fn large_argument_in_pieces() {
        let arg = vec![b'v'; 3 * 1024 * 1024 + 5];
        let wire = multibulk(&[b"SET".to_vec(), b"k".to_vec(), arg.clone()]);
        let mut buf = BytesMut::new();
        let mut got = None;
        for chunk in wire.chunks(16 * 1024) {
            assert!(got.is_none());
            buf.extend_from_slice(chunk);
            got = parse(&mut buf, &Limits::DEFAULT, true).unwrap();
            assert!(buf.capacity() <= 2 * wire.len() + 64 * 1024);
        }
        let req = got.expect("complete");
        assert_eq!(req.arg(2), &arg[..]);
    }
}

//! `Reply`: the output buffer of one connection. Commands write their answer
//! straight into it in the connection's protocol (RESP2 or RESP3), so a
//! pipelined batch is encoded into one buffer and flushed with one write.
//!
//! Each method writes one complete value or the header of an aggregate; the
//! caller then writes exactly the announced number of elements (twice that for
//! maps — key, value, key, value).

/// Protocol version negotiated with HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    /// RESP2 (the default for new connections).
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// A connection's output buffer.
#[derive(Debug, Default)]
pub struct Reply {
    out: Vec<u8>,
    proto: Proto,
}

impl Reply {
    /// An empty buffer for `proto`.
    pub fn new(proto: Proto) -> Reply {
        Reply {
            out: Vec::with_capacity(16 * 1024),
            proto,
        }
    }

    /// The protocol in use.
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// Switches protocol (HELLO).
    pub fn set_proto(&mut self, proto: Proto) {
        self.proto = proto;
    }

    /// Encoded bytes not yet sent.
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }

    /// Bytes pending.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True if nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Forgets pending bytes (after they were written to the socket).
    pub fn clear(&mut self) {
        self.out.clear();
        if self.out.capacity() > 1024 * 1024 {
            // Do not keep a huge buffer around after one large reply.
            self.out.shrink_to(16 * 1024);
        }
    }

    /// Truncates to `len` bytes (undo a partial reply).
    pub fn truncate(&mut self, len: usize) {
        self.out.truncate(len);
    }

    fn header(&mut self, tag: u8, n: usize) {
        self.out.push(tag);
        let mut b = itoa::Buffer::new();
        self.out.extend_from_slice(b.format(n).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// `+OK`-style status line. `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An array of status lines: what every `… HELP` subcommand answers.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for l in lines {
            self.simple(l);
        }
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// An error line, e.g. `ERR syntax error`. Newlines are replaced by spaces
    /// so an error can never break the framing.
    pub fn error(&mut self, s: &str) {
        self.out.push(b'-');
        self.out.extend(
            s.bytes()
                .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    /// An integer.
    pub fn int(&mut self, v: i64) {
        self.out.push(b':');
        let mut b = itoa::Buffer::new();
        self.out.extend_from_slice(b.format(v).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string.
    pub fn bulk(&mut self, v: &[u8]) {
        self.header(b'$', v.len());
        self.out.extend_from_slice(v);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string, or null for `None`.
    pub fn bulk_opt(&mut self, v: Option<&[u8]>) {
        match v {
            Some(v) => self.bulk(v),
            None => self.null(),
        }
    }

    /// The decimal text of an integer as a bulk string.
    pub fn bulk_int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// Null bulk string (`$-1` in RESP2, `_` in RESP3).
    pub fn null(&mut self) {
        match self.proto {
            Proto::Resp2 => self.out.extend_from_slice(b"$-1\r\n"),
            Proto::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// Null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        match self.proto {
            Proto::Resp2 => self.out.extend_from_slice(b"*-1\r\n"),
            Proto::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// Array header of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// Map header of `n` pairs (a flat array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', 2 * n),
            Proto::Resp3 => self.header(b'%', n),
        }
    }

    /// Set header of `n` members (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n),
            Proto::Resp3 => self.header(b'~', n),
        }
    }

    /// Push header (pub/sub messages; an array in RESP2).
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n),
            Proto::Resp3 => self.header(b'>', n),
        }
    }

    /// A double (RESP3 `,`; a bulk string in RESP2).
    pub fn double(&mut self, v: f64) {
        let text = crate::engine::number::format_f64(v);
        match self.proto {
            Proto::Resp2 => self.bulk(text.as_bytes()),
            Proto::Resp3 => {
                self.out.push(b',');
                self.out.extend_from_slice(text.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A double already formatted as `text` (RESP3 `,`; a bulk string in
    /// RESP2), for replies whose number format differs from [`Reply::double`].
    pub fn double_text(&mut self, text: &str) {
        match self.proto {
            Proto::Resp2 => self.bulk(text.as_bytes()),
            Proto::Resp3 => {
                self.out.push(b',');
                self.out.extend_from_slice(text.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean (RESP3 `#t`/`#f`; integer 1/0 in RESP2).
    pub fn boolean(&mut self, v: bool) {
        match self.proto {
            Proto::Resp2 => self.int(v as i64),
            Proto::Resp3 => self
                .out
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// Verbatim text (RESP3 `=` with format `txt`; a bulk string in RESP2).
    pub fn verbatim(&mut self, text: &str) {
        match self.proto {
            Proto::Resp2 => self.bulk(text.as_bytes()),
            Proto::Resp3 => {
                self.header(b'=', text.len() + 4);
                self.out.extend_from_slice(b"txt:");
                self.out.extend_from_slice(text.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A big number (RESP3 `(`; a bulk string in RESP2). `digits` must not
    /// contain CR or LF.
    pub fn big_number(&mut self, digits: &str) {
        match self.proto {
            Proto::Resp2 => self.bulk(digits.as_bytes()),
            Proto::Resp3 => {
                self.out.push(b'(');
                self.out.extend_from_slice(digits.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Verbatim text with its 3-byte format (padded or cut to 3 bytes, as
    /// Redis copies exactly 3); a bulk string of `text` in RESP2.
    pub fn verbatim_with(&mut self, format: &[u8], text: &[u8]) {
        match self.proto {
            Proto::Resp2 => self.bulk(text),
            Proto::Resp3 => {
                let mut fmt = [b' '; 3];
                for (d, s) in fmt.iter_mut().zip(format) {
                    *d = *s;
                }
                self.header(b'=', text.len() + 4);
                self.out.extend_from_slice(&fmt);
                self.out.push(b':');
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// An array of bulk strings.
    pub fn bulk_array<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.array(items.len());
        for i in items {
            self.bulk(i);
        }
    }
}

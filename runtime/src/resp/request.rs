//! `Request`: one parsed command — its arguments as ranges of one shared,
//! immutable buffer, so parsing copies nothing and a handler can keep an
//! argument (`arg_bytes`) without copying either.

use bytes::Bytes;
use smallvec::SmallVec;

/// A parsed command and its arguments (argument 0 is the command name).
#[derive(Debug, Clone)]
pub struct Request {
    buf: Bytes,
    spans: SmallVec<[(u32, u32); 6]>,
}

impl Request {
    /// A request over `buf` whose arguments are at `spans` (start, end).
    pub fn new(buf: Bytes, spans: SmallVec<[(u32, u32); 6]>) -> Request {
        Request { buf, spans }
    }

    /// A request from owned arguments (tests, MULTI queues, internal calls).
    pub fn from_args<A: AsRef<[u8]>>(args: &[A]) -> Request {
        let mut buf = Vec::new();
        let mut spans = SmallVec::new();
        for a in args {
            let start = buf.len() as u32;
            buf.extend_from_slice(a.as_ref());
            spans.push((start, buf.len() as u32));
        }
        Request {
            buf: Bytes::from(buf),
            spans,
        }
    }

    /// Number of arguments, including the command name.
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True if there are no arguments at all (an empty inline line).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i` (0 = command name). Panics if out of range: handlers only
    /// index within the arity the command table has already checked.
    #[inline]
    pub fn arg(&self, i: usize) -> &[u8] {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }

    /// Argument `i` if present.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.spans
            .get(i)
            .map(|&(s, e)| &self.buf[s as usize..e as usize])
    }

    /// Argument `i` as a shared buffer (no copy).
    pub fn arg_bytes(&self, i: usize) -> Bytes {
        let (s, e) = self.spans[i];
        self.buf.slice(s as usize..e as usize)
    }

    /// Arguments from `from` on.
    pub fn args_from(&self, from: usize) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.spans[from.min(self.spans.len())..]
            .iter()
            .map(|&(s, e)| &self.buf[s as usize..e as usize])
    }

    /// The command name, lowercased (for messages and lookups).
    pub fn name_lower(&self) -> String {
        String::from_utf8_lossy(self.get(0).unwrap_or_default()).to_ascii_lowercase()
    }
}

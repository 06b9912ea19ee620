//! The record framing of every persistence file: a file header (magic and
//! format version), then records of `length (u32 LE) | CRC-32 (u32 LE) |
//! tag (u8) | payload`, where the length counts the payload and the CRC
//! covers tag and payload.
//!
//! Reading stops at the first record that is cut short or fails its
//! checksum and reports where the valid prefix ends, so a caller can cut a
//! torn tail off. This module knows nothing about what payloads mean.

/// Bytes before the first record: 8 of magic, 4 of format version.
pub const HEADER_LEN: usize = 12;

/// Bytes before a record's tag.
const FRAME_LEN: usize = 8;

/// The largest payload accepted; a length beyond it is corruption.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// A file header: which kind of file, in which format version.
pub fn header(magic: &[u8; 8], version: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(magic);
    h[8..].copy_from_slice(&version.to_le_bytes());
    h
}

/// Why a file's header cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Shorter than a header (a file created just before a crash).
    #[error("file shorter than its header")]
    Short,
    /// Not a file of this kind.
    #[error("not a {expected} file")]
    Magic {
        /// The kind expected.
        expected: &'static str,
    },
    /// Written by a newer (or unknown) format version.
    #[error("format version {found} is not supported (this build reads version {supported})")]
    Version {
        /// The version in the file.
        found: u32,
        /// The version this build writes.
        supported: u32,
    },
}

/// Checks `file` starts with the header of `magic` at `version`; returns the
/// bytes after it.
pub fn check_header<'a>(
    file: &'a [u8],
    magic: &[u8; 8],
    version: u32,
    kind: &'static str,
) -> Result<&'a [u8], HeaderError> {
    if file.len() < HEADER_LEN {
        return Err(HeaderError::Short);
    }
    if &file[..8] != magic {
        return Err(HeaderError::Magic { expected: kind });
    }
    let found = u32::from_le_bytes([file[8], file[9], file[10], file[11]]);
    if found != version {
        return Err(HeaderError::Version {
            found,
            supported: version,
        });
    }
    Ok(&file[HEADER_LEN..])
}

/// Appends one record to `out`.
pub fn encode(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[tag]);
    crc.update(payload);
    out.reserve(FRAME_LEN + 1 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.push(tag);
    out.extend_from_slice(payload);
}

/// How a run of records ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Every byte belonged to a whole, valid record.
    Clean,
    /// The record at `at` (offset in the records' bytes) is cut short or
    /// corrupt; nothing from there on is used.
    Torn {
        /// Where the valid prefix ends.
        at: usize,
        /// What was wrong.
        why: &'static str,
    },
}

/// The records of a byte run, in order, up to the first bad one.
#[derive(Debug)]
pub struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
    tail: Option<Tail>,
}

impl<'a> Records<'a> {
    /// Reads the records in `buf` (the bytes after a file header).
    pub fn new(buf: &'a [u8]) -> Records<'a> {
        Records {
            buf,
            pos: 0,
            tail: None,
        }
    }

    /// How the run ended; `None` until the iterator has returned `None`.
    pub fn tail(&self) -> Option<Tail> {
        self.tail
    }

    /// The offset just past the last whole record read.
    pub fn valid_len(&self) -> usize {
        self.pos
    }

    fn torn(&mut self, why: &'static str) -> Option<(u8, &'a [u8])> {
        self.tail = Some(Tail::Torn { at: self.pos, why });
        None
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        if self.tail.is_some() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            self.tail = Some(Tail::Clean);
            return None;
        }
        if rest.len() < FRAME_LEN + 1 {
            return self.torn("record header cut short");
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_PAYLOAD {
            return self.torn("record length out of range");
        }
        let Some(body) = rest.get(FRAME_LEN..FRAME_LEN + 1 + len) else {
            return self.torn("record cut short");
        };
        if crc32fast::hash(body) != crc {
            return self.torn("record checksum mismatch");
        }
        self.pos += FRAME_LEN + 1 + len;
        Some((body[0], &body[1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(records: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, p) in records {
            encode(&mut out, *tag, p);
        }
        out
    }

    #[test]
    fn headers_are_checked() {
        let h = header(b"TESTFILE", 3);
        let mut f = h.to_vec();
        f.extend_from_slice(b"rest");
        assert_eq!(check_header(&f, b"TESTFILE", 3, "test"), Ok(&b"rest"[..]));
        assert_eq!(
            check_header(&f, b"OTHERFIL", 3, "other"),
            Err(HeaderError::Magic { expected: "other" })
        );
        assert!(matches!(
            check_header(&f, b"TESTFILE", 4, "test"),
            Err(HeaderError::Version { found: 3, .. })
        ));
        assert_eq!(
            check_header(&f[..5], b"TESTFILE", 3, "test"),
            Err(HeaderError::Short)
        );
    }

    #[test]
    fn a_flipped_bit_stops_the_read_at_that_record() {
        let recs = vec![
            (1, b"one".to_vec()),
            (2, b"two".to_vec()),
            (3, b"3".to_vec()),
        ];
        let mut f = file(&recs);
        let second = FRAME_LEN + 1 + 3;
        f[second + FRAME_LEN + 2] ^= 0x10;
        let mut r = Records::new(&f);
        assert_eq!(r.next(), Some((1, &b"one"[..])));
        assert_eq!(r.next(), None);
        assert_eq!(
            r.tail(),
            Some(Tail::Torn {
                at: second,
                why: "record checksum mismatch"
            })
        );
        assert_eq!(r.valid_len(), second);
    }

    #[test]
    fn an_absurd_length_is_corruption_not_an_allocation() {
        let mut f = file(&[(1, b"x".to_vec())]);
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        let mut r = Records::new(&f);
        assert!(r.next().is_some());
        assert!(r.next().is_none());
        assert!(matches!(
            r.tail(),
            Some(Tail::Torn {
                why: "record length out of range",
                ..
            })
        ));
    }

    proptest! {
        /// Cutting a file anywhere yields exactly the records wholly before
        /// the cut, and reports the cut unless it fell between records.
        #[test]
        fn any_cut_keeps_the_whole_records_before_it(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..12),
            cut in any::<prop::sample::Index>(),
        ) {
            let recs: Vec<(u8, Vec<u8>)> =
                payloads.into_iter().enumerate().map(|(i, p)| (i as u8, p)).collect();
            let f = file(&recs);
            let cut = cut.index(f.len() + 1);
            let mut ends = vec![0usize];
            for (_, p) in &recs {
                ends.push(ends.last().copied().unwrap_or(0) + FRAME_LEN + 1 + p.len());
            }
            let whole = ends.iter().filter(|&&e| e <= cut).count() - 1;
            let mut r = Records::new(&f[..cut]);
            let got: Vec<(u8, Vec<u8>)> = r.by_ref().map(|(t, p)| (t, p.to_vec())).collect();
            prop_assert_eq!(&got[..], &recs[..whole]);
            prop_assert_eq!(r.valid_len(), ends[whole]);
            if ends.contains(&cut) {
                prop_assert_eq!(r.tail(), Some(Tail::Clean));
            } else {
                prop_assert!(matches!(r.tail(), Some(Tail::Torn { .. })), "{:?}", r.tail());
            }
        }

        /// Any single corrupted byte is noticed: the records read are a
        /// prefix of the written ones and the run does not end cleanly
        /// past the damage.
        #[test]
        fn any_corrupted_byte_is_detected(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..8),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let recs: Vec<(u8, Vec<u8>)> =
                payloads.into_iter().enumerate().map(|(i, p)| (i as u8, p)).collect();
            let mut f = file(&recs);
            let at = at.index(f.len());
            f[at] ^= flip;
            let mut r = Records::new(&f);
            let got: Vec<(u8, Vec<u8>)> = r.by_ref().map(|(t, p)| (t, p.to_vec())).collect();
            prop_assert!(got.len() < recs.len());
            prop_assert_eq!(&got[..], &recs[..got.len()]);
            prop_assert!(matches!(r.tail(), Some(Tail::Torn { .. })), "{:?}", r.tail());
        }
    }
}

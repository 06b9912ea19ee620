//! Why a document operation failed. `Display` is the Redis error line, so
//! the RESP gateway forwards it verbatim and guests get the same text.

/// A document operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    /// The path does not parse.
    #[error("ERR invalid path: {0}")]
    BadPath(String),
    /// The argument is not JSON.
    #[error("ERR invalid JSON: {0}")]
    BadJson(String),
    /// A step of the path names something that is not there.
    #[error("ERR path does not exist")]
    NoPath,
    /// The path leads through (or to) a value of the wrong shape.
    #[error("ERR {0}")]
    WrongShape(&'static str),
    /// An increment would leave the 64-bit range.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// The stored document cannot be read (corrupt bytes).
    #[error("ERR corrupt document: {0}")]
    Corrupt(String),
}

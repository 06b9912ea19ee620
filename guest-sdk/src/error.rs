//! [`Error`]: why a host call failed, with `Result<T>` as the crate's result.

use crate::bindings::meridian::cache::types::Error as WitError;

/// Why a call to the cache failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The operation needs an existing key and there is none.
    NotFound,
    /// The key holds another kind of value.
    WrongType,
    /// A key, value or argument is larger than the host accepts.
    TooLarge,
    /// The cache is over its memory limit.
    QuotaExceeded,
    /// The sandbox forbids this (a write from `FCALL_RO`, a key outside the
    /// module's namespace and grants).
    AccessDenied,
    /// The host cannot serve the call right now.
    Unavailable,
    /// The call ran out of time.
    Timeout,
    /// Any other host error, with its message.
    Other(String),
    /// A value could not be (de)serialized by the serde helpers.
    Codec(String),
}

/// Result of an SDK call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotFound => f.write_str("not found"),
            Error::WrongType => f.write_str("the key holds another kind of value"),
            Error::TooLarge => f.write_str("too large"),
            Error::QuotaExceeded => f.write_str("memory quota exceeded"),
            Error::AccessDenied => f.write_str("access denied"),
            Error::Unavailable => f.write_str("unavailable"),
            Error::Timeout => f.write_str("timeout"),
            Error::Other(m) => f.write_str(m),
            Error::Codec(m) => write!(f, "codec: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<WitError> for Error {
    fn from(e: WitError) -> Error {
        match e {
            WitError::NotFound => Error::NotFound,
            WitError::WrongType => Error::WrongType,
            WitError::TooLarge => Error::TooLarge,
            WitError::QuotaExceeded => Error::QuotaExceeded,
            WitError::AccessDenied => Error::AccessDenied,
            WitError::Unavailable => Error::Unavailable,
            WitError::Timeout => Error::Timeout,
            WitError::Other(m) => Error::Other(m),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Codec(e.to_string())
    }
}

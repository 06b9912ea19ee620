//! Errors of typed engine operations. Their `Display` is the exact Redis error
//! line, so the RESP gateway forwards them verbatim and WASM guests map them to
//! their WIT error variant.

/// Why an engine operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The key holds another type of value.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// A string that should be an integer is not one (or is out of range).
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// A string that should be a float is not one.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// A hash field that should be an integer is not one.
    #[error("ERR hash value is not an integer")]
    HashNotInteger,
    /// A hash field that should be a float is not one.
    #[error("ERR hash value is not a float")]
    HashNotFloat,
    /// An integer operation would overflow.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// A float operation would produce NaN or infinity.
    #[error("ERR increment would produce NaN or Infinity")]
    NotFinite,
    /// The key does not exist (RENAME, LSET).
    #[error("ERR no such key")]
    NoSuchKey,
    /// An index is outside the list.
    #[error("ERR index out of range")]
    IndexOutOfRange,
    /// Memory is over `maxmemory` and the policy forbids evicting.
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    OutOfMemory,
    /// A value would exceed the size limit (`proto-max-bulk-len`).
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    TooLarge,
    /// A string that should hold a HyperLogLog sketch does not.
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    NotHll,
    /// A HyperLogLog sketch whose encoding is damaged.
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    CorruptHll,
    /// A restarted region has not caught up with its peers yet: writes wait.
    #[error("LOADING this region is catching up with its peers after a restart")]
    CatchingUp,
    /// A document operation failed (bad path or JSON, wrong shape…).
    #[error(transparent)]
    Doc(#[from] crate::docs::DocError),
    /// An argument was invalid; the text follows `ERR `.
    #[error("ERR {0}")]
    Invalid(String),
    /// The operation touched a key whose shard the transaction did not lock.
    /// This is a bug in a command's key specification, never user error.
    #[error("ERR internal error: key outside the command's declared keys")]
    UndeclaredKey,
}

/// Result of an engine operation.
pub type EngineResult<T> = Result<T, EngineError>;

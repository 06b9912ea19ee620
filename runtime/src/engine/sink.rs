//! `ChangeSink`: where a replicated engine hands every state transition it
//! commits or applies — local changes, peers' changes, snapshot imports — in
//! the order it made them, each already encoded, so something outside the
//! engine (persistence) can record them and give them back to
//! [`Engine::replay`](super::Engine::replay) after a restart.
//!
//! The engine calls a sink after the transition took effect and raised the
//! applied vector, while still holding the shards it wrote: a sink must only
//! buffer (no I/O, no blocking, no engine calls).

/// What kind of transition an encoded record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Transition {
    /// A [`Change`](super::change::Change) (local, or a peer's), encoded
    /// exactly as peers receive it.
    Change = 1,
    /// Snapshot keys merged from a region: `(base, Vec<KeyState>)`.
    ImportKeys = 2,
    /// The end of a snapshot from a region: `(base, every key it held)`.
    ImportEnd = 3,
    /// What FLUSHALLs had removed beyond a snapshot's base, as its sender
    /// knew: a `VersionVector`.
    ImportFlushed = 4,
}

impl Transition {
    /// The kind a stored tag names.
    pub fn from_tag(tag: u8) -> Option<Transition> {
        match tag {
            1 => Some(Transition::Change),
            2 => Some(Transition::ImportKeys),
            3 => Some(Transition::ImportEnd),
            4 => Some(Transition::ImportFlushed),
            _ => None,
        }
    }
}

/// Receives the engine's transitions in the order they were made.
pub trait ChangeSink: Send + Sync + std::fmt::Debug {
    /// One transition of kind `kind`, encoded.
    fn record(&self, kind: Transition, encoded: &[u8]);
}

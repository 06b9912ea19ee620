//! Region identity.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A small integer naming one region of a deployment.
///
/// Region ids are assigned in configuration and must be unique across the
/// deployment; they break ties between writes with equal HLC stamps, so every
/// region orders concurrent writes the same way. Serialized as the bare `u16`
/// (replicated deltas carry region ids).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct RegionId(pub u16);

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

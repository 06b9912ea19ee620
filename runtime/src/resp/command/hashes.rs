//! hashes commands.

use super::CommandSpec;

/// The hashes commands.
pub const COMMANDS: &[CommandSpec] = &[];

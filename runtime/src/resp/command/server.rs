//! server commands.

use super::CommandSpec;

/// The server commands.
pub const COMMANDS: &[CommandSpec] = &[];

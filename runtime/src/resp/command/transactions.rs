//! transactions commands.

use super::CommandSpec;

/// The transactions commands.
pub const COMMANDS: &[CommandSpec] = &[];

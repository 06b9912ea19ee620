//! sets commands.

use super::CommandSpec;

/// The sets commands.
pub const COMMANDS: &[CommandSpec] = &[];

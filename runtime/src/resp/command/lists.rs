//! lists commands.

use super::CommandSpec;

/// The lists commands.
pub const COMMANDS: &[CommandSpec] = &[];

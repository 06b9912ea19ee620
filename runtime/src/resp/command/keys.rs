//! keys commands.

use super::CommandSpec;

/// The keys commands.
pub const COMMANDS: &[CommandSpec] = &[];

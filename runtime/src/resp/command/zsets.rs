//! zsets commands.

use super::CommandSpec;

/// The zsets commands.
pub const COMMANDS: &[CommandSpec] = &[];

//! pubsub commands.

use super::CommandSpec;

/// The pubsub commands.
pub const COMMANDS: &[CommandSpec] = &[];

//! Access control as Redis 7 has it: users with passwords (stored as SHA-256
//! hashes), rules over commands, categories, keys and channels, the ACL file,
//! and the identity of each connection.
//!
//! This module holds the model and the checks; the RESP commands that expose
//! it (AUTH, HELLO AUTH, ACL …) live in `resp::command`, and the connection
//! loop asks [`Identity`] and [`User::check`] before running a command. It
//! must not know about sockets or the keyspace.

pub mod access;
pub mod category;
pub mod command_set;
pub mod file;
pub mod identity;
pub mod log;
pub mod password;
pub mod permission;
pub mod registry;
pub mod rules;
pub mod selector;
pub mod user;

pub use identity::Identity;
pub use permission::Denied;
pub use registry::{Acl, AclError};
pub use user::User;

/// The user every connection starts as.
pub const DEFAULT_USER: &str = "default";

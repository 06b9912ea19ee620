//! `Identity`: who one connection is — its user and whether it has
//! authenticated — kept current with the registry without locking on every
//! command.

use std::sync::Arc;

use super::DEFAULT_USER;
use super::registry::Acl;
use super::user::User;

/// The user a connection acts as.
pub struct Identity {
    user: Arc<User>,
    version: u64,
    authenticated: bool,
    /// The user may run anything on any key and channel: the per-command
    /// check is skipped (the common case, kept off the hot path).
    unrestricted: bool,
}

impl Identity {
    /// A new connection: the default user, authenticated only if the default
    /// user needs no password (as Redis).
    pub fn new(acl: &Acl) -> Identity {
        let version = acl.version();
        let user = acl
            .get(DEFAULT_USER)
            .unwrap_or_else(|| Arc::new(User::default_user()));
        Identity {
            authenticated: acl.default_open(),
            unrestricted: user.unrestricted(),
            user,
            version,
        }
    }

    /// The current user.
    #[inline]
    pub fn user(&self) -> &Arc<User> {
        &self.user
    }

    /// True if the user may run anything on any key and channel.
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.unrestricted
    }

    /// True if the connection must AUTH before running anything but AUTH,
    /// HELLO and QUIT.
    #[inline]
    pub fn auth_required(&self, acl: &Acl) -> bool {
        !self.authenticated && !acl.default_open()
    }

    /// Picks up changes to this connection's user. Returns false if the user
    /// was deleted: the connection must close (as Redis kills them).
    #[inline]
    pub fn refresh(&mut self, acl: &Acl) -> bool {
        let version = acl.version();
        if version == self.version {
            return true;
        }
        match acl.get(self.user.name()) {
            Some(u) => {
                self.unrestricted = u.unrestricted();
                self.user = u;
                self.version = version;
                true
            }
            None => false,
        }
    }

    /// AUTH succeeded as `user`.
    pub fn login(&mut self, acl: &Acl, user: Arc<User>) {
        self.version = acl.version();
        self.unrestricted = user.unrestricted();
        self.user = user;
        self.authenticated = true;
    }

    /// RESET: back to the default user, as a new connection.
    pub fn reset(&mut self, acl: &Acl) {
        *self = Identity::new(acl);
    }
}

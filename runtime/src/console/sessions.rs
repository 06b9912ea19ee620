//! Console sessions: who is logged in to the console, and the RESP
//! connection each acts through. A login is `HELLO 3 AUTH user password` on
//! a new in-process connection, so it succeeds or fails exactly as a RESP
//! client's would (and is counted and ACL-logged the same way); the session
//! is a random token in an HttpOnly, SameSite=Strict cookie that expires
//! when idle and, at the latest, some hours after login.
//!
//! It must not check passwords or permissions itself: the connection does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::resp_link::{LinkError, RespLink};
use crate::resp::frame::Frame;
use crate::server::Shared;

/// The cookie that carries the session token.
pub const COOKIE: &str = "meridian_console";

/// A session unused this long ends.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// No session lives longer than this, used or not.
pub const MAX_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The name the console's connections show in CLIENT LIST.
pub const CLIENT_NAME: &str = "meridian-console";

/// Sessions held at once: each holds a connection.
pub const MAX_SESSIONS: usize = 256;

/// One logged-in console user.
pub struct Session {
    /// The ACL user it acts as.
    pub user: String,
    /// Its connection; one request at a time uses it.
    pub link: tokio::sync::Mutex<RespLink>,
    created: Instant,
    last_used: Mutex<Instant>,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.created) >= MAX_LIFETIME
            || now.duration_since(*self.last_used.lock()) >= IDLE_TIMEOUT
    }
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The server refused the credentials (its error line, e.g. WRONGPASS).
    #[error("{0}")]
    Refused(String),
    /// The default user needs a password: log in first.
    #[error("login required")]
    Required,
    /// [`MAX_SESSIONS`] sessions are open.
    #[error("too many console sessions; log out elsewhere or wait for one to expire")]
    Full,
    /// The connection failed.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// The sessions of one server's console.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    /// The live session of `token`, marked used; expired or broken
    /// sessions are removed.
    pub fn get(&self, token: &str) -> Option<Arc<Session>> {
        let now = Instant::now();
        let mut map = self.map.lock();
        let s = map.get(token)?.clone();
        if s.expired(now) {
            map.remove(token);
            return None;
        }
        *s.last_used.lock() = now;
        Some(s)
    }

    /// Ends the session of `token`, closing its connection.
    pub fn remove(&self, token: &str) {
        self.map.lock().remove(token);
    }

    /// Logs `user` in with `password` (`None`: as the default user without
    /// a password, which only works while the default user needs none —
    /// as a new RESP connection is authenticated). Returns the new token.
    pub async fn login(
        &self,
        shared: &Arc<Shared>,
        peer: SocketAddr,
        local: SocketAddr,
        credentials: Option<(&str, &str)>,
    ) -> Result<(String, Arc<Session>), LoginError> {
        self.make_room()?;
        let mut link = RespLink::open(shared.clone(), peer, local);
        let user = match credentials {
            Some((user, password)) => {
                let reply = link
                    .call(&[
                        b"HELLO",
                        b"3",
                        b"AUTH",
                        user.as_bytes(),
                        password.as_bytes(),
                        b"SETNAME",
                        CLIENT_NAME.as_bytes(),
                    ])
                    .await?;
                if let Some(e) = error_line(&reply) {
                    return Err(LoginError::Refused(e));
                }
                user.to_string()
            }
            None => {
                if !shared.acl.default_open() {
                    return Err(LoginError::Required);
                }
                let reply = link
                    .call(&[b"HELLO", b"3", b"SETNAME", CLIENT_NAME.as_bytes()])
                    .await?;
                if let Some(e) = error_line(&reply) {
                    return Err(LoginError::Refused(e));
                }
                crate::acl::DEFAULT_USER.to_string()
            }
        };
        let now = Instant::now();
        let session = Arc::new(Session {
            user,
            link: tokio::sync::Mutex::new(link),
            created: now,
            last_used: Mutex::new(now),
        });
        let token = format!(
            "{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        let mut map = self.map.lock();
        if map.len() >= MAX_SESSIONS {
            return Err(LoginError::Full);
        }
        map.insert(token.clone(), session.clone());
        Ok((token, session))
    }

    /// Drops expired sessions; fails if none is free after that.
    fn make_room(&self) -> Result<(), LoginError> {
        let now = Instant::now();
        let mut map = self.map.lock();
        map.retain(|_, s| !s.expired(now));
        if map.len() >= MAX_SESSIONS {
            return Err(LoginError::Full);
        }
        Ok(())
    }

    /// The `Set-Cookie` value that carries `token`.
    pub fn cookie(token: &str) -> String {
        format!(
            "{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
            IDLE_TIMEOUT.as_secs()
        )
    }

    /// The `Set-Cookie` value that clears the cookie.
    pub fn clear_cookie() -> String {
        format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
    }
}

/// The text of an error reply, if `f` is one.
pub fn error_line(f: &Frame) -> Option<String> {
    match f {
        Frame::Error(e) | Frame::BulkError(e) => Some(String::from_utf8_lossy(e).into_owned()),
        _ => None,
    }
}

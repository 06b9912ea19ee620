//! The ACL log (`ACL LOG`): recent refusals — failed AUTH, denied commands,
//! keys and channels — newest first, with similar refusals within a minute
//! folded into one entry that counts them, as Redis 7 does.
//!
//! Bounded (`MAX_ENTRIES`); recording takes one short lock and happens only
//! on refusals, never on the allowed path.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Entries kept (Redis's `acllog-max-len` default).
pub const MAX_ENTRIES: usize = 128;

/// Similar refusals closer together than this share an entry.
const GROUPING_WINDOW: Duration = Duration::from_secs(60);

/// What was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A failed AUTH / HELLO AUTH.
    Auth,
    /// A command the user may not run.
    Command,
    /// A key the user may not touch.
    Key,
    /// A channel the user may not use.
    Channel,
}

impl Reason {
    /// Redis's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Auth => "auth",
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
        }
    }
}

/// One entry of the log.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Increasing id.
    pub id: u64,
    /// Refusals folded into this entry.
    pub count: u64,
    /// What was refused.
    pub reason: Reason,
    /// `toplevel` or `multi`.
    pub context: &'static str,
    /// The command, key or channel refused (`AUTH` for failed logins).
    pub object: String,
    /// The user (for failed logins: the name tried).
    pub username: String,
    /// CLIENT INFO of the connection, at the last refusal.
    pub client_info: String,
    /// First refusal, as Unix milliseconds.
    pub created_ms: u64,
    /// Last refusal, as Unix milliseconds.
    pub updated_ms: u64,
    updated: Instant,
}

impl Entry {
    /// Seconds since the last refusal of this entry.
    pub fn age_secs(&self) -> f64 {
        self.updated.elapsed().as_secs_f64()
    }
}

/// The log, newest entry first.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<Entry>>,
    next_id: Mutex<u64>,
}

impl AclLog {
    /// Records one refusal.
    pub fn record(
        &self,
        reason: Reason,
        context: &'static str,
        object: &str,
        username: &str,
        client_info: String,
    ) {
        let now_ms = crate::clock::unix_ms();
        let mut entries = self.entries.lock();
        if let Some(e) = entries.iter_mut().find(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && e.updated.elapsed() < GROUPING_WINDOW
        }) {
            e.count += 1;
            e.updated = Instant::now();
            e.updated_ms = now_ms;
            e.client_info = client_info;
            return;
        }
        let id = {
            let mut n = self.next_id.lock();
            let id = *n;
            *n += 1;
            id
        };
        entries.push_front(Entry {
            id,
            count: 1,
            reason,
            context,
            object: object.to_string(),
            username: username.to_string(),
            client_info,
            created_ms: now_ms,
            updated_ms: now_ms,
            updated: Instant::now(),
        });
        entries.truncate(MAX_ENTRIES);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    /// ACL LOG RESET.
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_refusals_fold_and_the_newest_come_first() {
        let log = AclLog::default();
        log.record(Reason::Command, "toplevel", "get", "u", "id=1".into());
        log.record(Reason::Command, "toplevel", "get", "u", "id=2".into());
        log.record(Reason::Key, "multi", "k", "u", "id=2".into());
        let e = log.newest(10);
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].reason, e[0].object.as_str()), (Reason::Key, "k"));
        assert_eq!((e[1].count, e[1].client_info.as_str()), (2, "id=2"));
        assert!(e[0].id > e[1].id);
        for i in 0..(MAX_ENTRIES + 5) {
            log.record(
                Reason::Auth,
                "toplevel",
                "AUTH",
                &i.to_string(),
                String::new(),
            );
        }
        assert_eq!(log.newest(usize::MAX).len(), MAX_ENTRIES);
        log.reset();
        assert!(log.newest(10).is_empty());
    }
}

//! `MonitorFeed`: the stream of commands MONITOR clients read, one line per
//! command in Redis's format:
//! `1339518083.107412 [0 127.0.0.1:60866] "set" "k" "v"`.
//!
//! Formatting costs nothing while nobody monitors (one atomic load per
//! command). A monitor that cannot keep up loses its connection (as a Redis
//! client over its output buffer limit) rather than growing memory.
//!
//! This must not decide what is fed: the connection skips administrative
//! commands and redacts secrets before calling [`MonitorFeed::feed`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

/// Lines a monitor may fall behind by before it is disconnected.
const BACKLOG: usize = 16 * 1024;

/// One fed command, formatted.
pub type MonitorLine = Arc<str>;

/// The feed every MONITOR client subscribes to.
#[derive(Debug)]
pub struct MonitorFeed {
    tx: broadcast::Sender<MonitorLine>,
    watchers: AtomicUsize,
}

impl Default for MonitorFeed {
    fn default() -> MonitorFeed {
        MonitorFeed {
            tx: broadcast::channel(BACKLOG).0,
            watchers: AtomicUsize::new(0),
        }
    }
}

/// A MONITOR client's end of the feed; dropping it stops the feed when it
/// was the last.
#[derive(Debug)]
pub struct MonitorReceiver<'f> {
    feed: &'f MonitorFeed,
    rx: broadcast::Receiver<MonitorLine>,
}

impl MonitorReceiver<'_> {
    /// The next line, or `None` if this monitor fell too far behind.
    pub async fn recv(&mut self) -> Option<MonitorLine> {
        self.rx.recv().await.ok()
    }

    /// A line already waiting, if any.
    pub fn try_recv(&mut self) -> Option<MonitorLine> {
        self.rx.try_recv().ok()
    }
}

impl Drop for MonitorReceiver<'_> {
    fn drop(&mut self) {
        self.feed.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl MonitorFeed {
    /// True if some client monitors (so a command must be fed).
    pub fn active(&self) -> bool {
        self.watchers.load(Ordering::Relaxed) > 0
    }

    /// Starts monitoring.
    pub fn subscribe(&self) -> MonitorReceiver<'_> {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        MonitorReceiver {
            feed: self,
            rx: self.tx.subscribe(),
        }
    }

    /// Feeds one command: `source` is the client's address (or `lua`),
    /// `args` its arguments as they will be shown.
    pub fn feed<'a>(&self, source: &str, args: impl IntoIterator<Item = &'a [u8]>) {
        if !self.active() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "{}.{:06} [0 {}]",
            now.as_secs(),
            now.subsec_micros(),
            source
        );
        for a in args {
            line.push(' ');
            quote_into(&mut line, a);
        }
        // No receiver left (a monitor just went away) is not an error.
        let _ = self.tx.send(line.into());
    }
}

/// Appends `bytes` as Redis shows an argument: in double quotes, with `\\`,
/// `\"`, `\n`, `\r`, `\t`, `\a`, `\b` escaped and other unprintable bytes as
/// `\xHH`.
fn quote_into(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_reach_monitors_quoted_as_redis_shows_them() {
        let feed = MonitorFeed::default();
        feed.feed("127.0.0.1:1", [&b"nobody"[..]]);
        let mut m = feed.subscribe();
        assert!(feed.active());
        feed.feed("127.0.0.1:5000", [&b"set"[..], b"k\"ey", b"a\nb\\\x01\xff"]);
        let line = m.recv().await.expect("line");
        let (ts, rest) = line.split_once(' ').expect("timestamp");
        let (secs, micros) = ts.split_once('.').expect("seconds.micros");
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6);
        assert_eq!(rest, r#"[0 127.0.0.1:5000] "set" "k\"ey" "a\nb\\\x01\xff""#);
        drop(m);
        assert!(!feed.active());
    }

    #[tokio::test]
    async fn a_monitor_that_falls_behind_is_told_so() {
        let feed = MonitorFeed::default();
        let mut m = feed.subscribe();
        for _ in 0..BACKLOG + 10 {
            feed.feed("x", [&b"ping"[..]]);
        }
        assert!(m.recv().await.is_none());
    }
}

//! The deployed-module table of one region, replicated to every region: per
//! module name a last-writer-wins register ordered by (HLC stamp, region id),
//! with deletes kept as timestamped tombstones.
//!
//! # Why a state-based table and not a queue of operations
//!
//! Locks send messages through per-peer queues (`locks::ports`) because a
//! vote is only meaningful now. A deployment is state: what counts is the
//! latest version of each name, and the whole table is small (a few modules
//! of at most [`MAX_MODULE_BYTES`]). So each replication session sends the
//! whole table when it starts, then every entry that changed here since it
//! last sent (each entry remembers the local sequence number of its last
//! change; [`Catalog::since`]). Nothing is ever dropped for a full queue, a
//! region that links up — or restarted empty — gets every module back, and
//! receiving an entry twice (directly and through a third region) is a
//! no-op, because merging keeps the entry with the greater `(stamp, region)`.
//! A delete is an entry without code (a tombstone) with a newer stamp, so a
//! concurrent older load arriving later loses to it instead of resurrecting
//! the module; tombstones are kept (they are a few bytes each).
//!
//! This module only holds and merges entries. It must not compile or run
//! components (the host applies the table to its registry: `deploy`), and
//! must not know the wire protocol (the replication session carries
//! [`Entry`] values as they are).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::clock::{RegionId, Stamp};

/// Largest component the table accepts: it must fit one replication frame
/// (`replication::peer::MAX_FRAME`, 64 MiB) with room for the entry around it.
pub const MAX_MODULE_BYTES: usize = 48 << 20;

/// What a module is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    /// An edge HTTP function (`edge` world).
    Edge,
    /// A plugin library called with FCALL (`plugin` world).
    Plugin,
}

impl ModuleKind {
    /// The name used in JSON, metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            ModuleKind::Edge => "edge",
            ModuleKind::Plugin => "plugin",
        }
    }
}

/// Component bytes, shared between the table, the sessions sending them and
/// the registry; serialized as one byte string.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(pub Arc<[u8]>);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Code({} bytes)", self.0.len())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let b = serde_bytes::ByteBuf::deserialize(d)?;
        Ok(Code(Arc::from(b.into_vec())))
    }
}

/// The lowercase hex SHA-256 of `bytes`: the content hash the admin API
/// shows and persistence names component files by.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl Code {
    /// The content hash of the bytes ([`sha256_hex`]).
    pub fn sha256(&self) -> String {
        sha256_hex(&self.0)
    }
}

/// A deployed module's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    /// Edge or plugin.
    pub kind: ModuleKind,
    /// The path prefix of an edge module.
    pub route: Option<String>,
    /// The component.
    pub code: Code,
}

/// One name's register: its latest deployment, or a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The module name (a plugin's library name).
    pub name: String,
    /// When it was written (the writing region's clock).
    pub stamp: Stamp,
    /// Which region wrote it; breaks ties between equal stamps.
    pub region: RegionId,
    /// Wall-clock milliseconds of the write, for people reading listings.
    pub at_ms: u64,
    /// The module, or `None` for a delete.
    pub module: Option<Deployed>,
}

impl Entry {
    /// The order of writes: stamp, then region.
    pub fn version(&self) -> (Stamp, RegionId) {
        (self.stamp, self.region)
    }
}

/// An entry and the local sequence number of its last change.
#[derive(Debug)]
struct Slot {
    entry: Entry,
    seq: u64,
}

/// The table of one region.
#[derive(Debug)]
pub struct Catalog {
    slots: Mutex<(BTreeMap<String, Slot>, u64)>,
    changed: watch::Sender<u64>,
    /// Entries refused by [`Catalog::merge`] because they are too large.
    pub refused: AtomicU64,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            slots: Mutex::new((BTreeMap::new(), 0)),
            changed: watch::channel(0).0,
            refused: AtomicU64::new(0),
        }
    }
}

impl Catalog {
    /// Merges `entry`: it replaces the name's entry if its version is
    /// greater. Returns true if it did.
    pub fn merge(&self, entry: Entry) -> bool {
        if entry
            .module
            .as_ref()
            .is_some_and(|m| m.code.0.len() > MAX_MODULE_BYTES)
        {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let mut guard = self.slots.lock();
        let (slots, seq) = &mut *guard;
        if slots
            .get(&entry.name)
            .is_some_and(|s| s.entry.version() >= entry.version())
        {
            return false;
        }
        *seq += 1;
        let now = *seq;
        slots.insert(entry.name.clone(), Slot { entry, seq: now });
        drop(guard);
        self.changed.send_replace(now);
        true
    }

    /// The entry of `name` (a tombstone included).
    pub fn get(&self, name: &str) -> Option<Entry> {
        self.slots.lock().0.get(name).map(|s| s.entry.clone())
    }

    /// Every entry, tombstones included, by name.
    pub fn entries(&self) -> Vec<Entry> {
        self.slots
            .lock()
            .0
            .values()
            .map(|s| s.entry.clone())
            .collect()
    }

    /// Entries changed after local sequence number `seq`, and the sequence
    /// number they reach (pass it next time). `since(0)` is the whole table.
    pub fn since(&self, seq: u64) -> (Vec<Entry>, u64) {
        let guard = self.slots.lock();
        let (slots, now) = &*guard;
        let changed = slots
            .values()
            .filter(|s| s.seq > seq)
            .map(|s| s.entry.clone())
            .collect();
        (changed, *now)
    }

    /// Changes whenever an entry does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The greatest stamp in the table (a restarted region's clock must
    /// stamp later writes above it).
    pub fn max_stamp(&self) -> Stamp {
        self.slots
            .lock()
            .0
            .values()
            .map(|s| s.entry.stamp)
            .max()
            .unwrap_or(Stamp::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, stamp: u64, region: u16, code: Option<&[u8]>) -> Entry {
        Entry {
            name: name.into(),
            stamp: Stamp(stamp),
            region: RegionId(region),
            at_ms: 0,
            module: code.map(|c| Deployed {
                kind: ModuleKind::Plugin,
                route: None,
                code: Code(Arc::from(c)),
            }),
        }
    }

    #[test]
    fn the_greater_stamp_wins_in_any_order_and_region_breaks_ties() {
        let writes = [
            entry("m", 5, 1, Some(b"a")),
            entry("m", 7, 0, Some(b"b")),
            entry("m", 7, 2, Some(b"c")),
            entry("m", 6, 3, None),
        ];
        let orders: [[usize; 4]; 3] = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]];
        for order in orders {
            let c = Catalog::default();
            for i in order {
                c.merge(writes[i].clone());
            }
            assert_eq!(c.get("m"), Some(writes[2].clone()), "order {order:?}");
        }
    }

    #[test]
    fn a_newer_tombstone_keeps_an_older_load_from_resurrecting() {
        let c = Catalog::default();
        assert!(c.merge(entry("m", 10, 0, None)));
        assert!(!c.merge(entry("m", 9, 1, Some(b"old"))));
        assert_eq!(c.get("m").and_then(|e| e.module), None);
        assert!(c.merge(entry("m", 11, 1, Some(b"new"))));
        assert!(c.get("m").and_then(|e| e.module).is_some());
    }

    #[test]
    fn since_returns_what_changed_after_a_sequence_number() {
        let c = Catalog::default();
        c.merge(entry("a", 1, 0, Some(b"a")));
        let (all, seq) = c.since(0);
        assert_eq!(all.len(), 1);
        c.merge(entry("b", 2, 0, Some(b"b")));
        // Merging the same version again changes nothing.
        assert!(!c.merge(entry("a", 1, 0, Some(b"a"))));
        let (changed, seq2) = c.since(seq);
        assert_eq!(
            changed.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        assert_eq!(c.since(seq2).0, Vec::new());
        assert_eq!(c.since(0).0.len(), 2);
        assert_eq!(c.max_stamp(), Stamp(2));
    }

    #[test]
    fn oversized_entries_are_refused_and_counted() {
        let c = Catalog::default();
        let big = vec![0u8; MAX_MODULE_BYTES + 1];
        assert!(!c.merge(entry("m", 1, 0, Some(&big))));
        assert_eq!(c.get("m"), None);
        assert_eq!(c.refused.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn content_hash_is_hex_sha256() {
        let code = Code(Arc::from(&b"abc"[..]));
        assert_eq!(
            code.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

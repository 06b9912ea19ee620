//! The slot ownership a node keeps on disk once slots have moved
//! (`CLUSTER SETSLOT … NODE`), so that a restarted node does not go back to
//! the `[cluster]` table's layout and claim slots it gave away. This is
//! Redis Cluster's `nodes.conf` for Meridian's static node list: the table
//! names the nodes, this file says who owns what.
//!
//! The file is small JSON (`{"format":1,"slots":{"node-a":["0-99"],…}}`),
//! replaced atomically on every change. This file must not decide routing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::SlotMap;
use crate::config::ClusterConfig;

const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Saved {
    format: u32,
    /// Node name → the slot ranges it owns.
    slots: BTreeMap<String, Vec<String>>,
}

/// Where a node's slot ownership is kept, and the lock that orders writes
/// to it.
#[derive(Debug)]
pub struct SlotStateFile {
    path: PathBuf,
    writing: Mutex<()>,
}

impl SlotStateFile {
    /// The file at `path` (not read or created yet).
    pub fn new(path: PathBuf) -> SlotStateFile {
        SlotStateFile {
            path,
            writing: Mutex::new(()),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The map `table` describes, with the ownership saved in the file if
    /// there is one. A file naming nodes the table lacks, or leaving slots
    /// unowned, is refused: the operator must reconcile them.
    pub fn load(&self, table: &ClusterConfig) -> Result<SlotMap, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return SlotMap::from_config(table);
            }
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        };
        let bad = |why: String| format!("{}: {why}", self.path.display());
        let saved: Saved = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if saved.format != FORMAT {
            return Err(bad(format!("unknown format {}", saved.format)));
        }
        let mut merged = table.clone();
        for node in &mut merged.nodes {
            node.slots = saved.slots.get(&node.name).cloned().unwrap_or_default();
        }
        if let Some(stranger) = saved
            .slots
            .keys()
            .find(|n| !table.nodes.iter().any(|t| &t.name == *n))
        {
            return Err(bad(format!(
                "node '{stranger}' owns slots but is not in the [cluster] table"
            )));
        }
        SlotMap::from_config(&merged).map_err(bad)
    }

    /// Replaces the file with `map`'s ownership. `map` is read by the
    /// caller after it changed and under this file's lock (see
    /// [`SlotStateFile::save_with`]), so the last write is the latest map.
    fn write(&self, map: &SlotMap) -> std::io::Result<()> {
        let slots = map
            .nodes()
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let ranges = map.ranges_of(i).iter().map(|r| r.to_string()).collect();
                (n.name.clone(), ranges)
            })
            .collect();
        let json = serde_json::to_vec_pretty(&Saved {
            format: FORMAT,
            slots,
        })
        .map_err(std::io::Error::other)?;
        crate::persist::write_file_atomically(&self.path, &json)
    }

    /// Saves the map `read` returns, read while holding the file's lock.
    pub fn save_with(&self, read: impl FnOnce() -> SlotMap) -> std::io::Result<()> {
        let _order = self.writing.lock();
        self.write(&read())
    }
}

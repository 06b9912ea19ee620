//! The slot map of one region: its nodes, which node owns each of the 16384
//! hash slots, and where a command for a slot this node does not own must
//! go instead.
//!
//! The map starts from the `[cluster]` table every node of the region is
//! given, so all nodes agree on it without a cluster bus; a slot moves
//! between nodes as Redis Cluster moves it, by `CLUSTER SETSLOT` sent to
//! every node (`redis-cli --cluster reshard` does that). Invariants: every
//! slot has exactly one owner; a slot is migrating only from its owner and
//! importing only into another node. This file must not write replies or
//! touch the keyspace.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha1::{Digest, Sha1};

use super::slot::{SLOTS, Slot, SlotRange, key_slot};
use crate::config::ClusterConfig;

/// One node of the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// Its configured name.
    pub name: String,
    /// Its node id: 40 hex characters, as Redis Cluster clients expect
    /// (derived from the name, so every node computes the same id).
    pub id: String,
    /// Host clients reach it at.
    pub host: String,
    /// RESP port clients reach it at.
    pub port: u16,
}

impl ClusterNode {
    /// `host:port`, as MOVED names it.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Where a command goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// No keys, or every key's slot is this node's: run it here.
    Local,
    /// Every key is in `slot`, owned by another node.
    Moved {
        /// The slot.
        slot: Slot,
        /// The owner's `host:port`.
        endpoint: String,
    },
    /// The keys are in different slots: refused (`CROSSSLOT`).
    CrossSlot,
    /// The slot is migrating from this node: run here the keys that are
    /// still here; a command whose keys are gone is sent on (`ASK`), one
    /// with some gone is refused until the move is done (`TRYAGAIN`).
    IfPresent {
        /// The slot.
        slot: Slot,
        /// The importing node's `host:port`.
        endpoint: String,
    },
}

impl Route {
    /// The Redis error line for a command that cannot run here, if any.
    pub fn error_line(&self) -> Option<String> {
        match self {
            Route::Local | Route::IfPresent { .. } => None,
            Route::Moved { slot, endpoint } => Some(format!("MOVED {slot} {endpoint}")),
            Route::CrossSlot => {
                Some("CROSSSLOT Keys in request don't hash to the same slot".to_string())
            }
        }
    }
}

/// Which node owns each slot.
#[derive(Debug, Clone)]
pub struct SlotMap {
    nodes: Vec<ClusterNode>,
    me: usize,
    /// Node index per slot; `SLOTS` entries.
    owner: Vec<u16>,
    /// Slots this node owns that are moving to another node (its index).
    migrating: BTreeMap<Slot, usize>,
    /// Slots another node owns that are moving here, from that node.
    importing: BTreeMap<Slot, usize>,
}

impl SlotMap {
    /// Builds the map from the `[cluster]` table; the error says what is
    /// wrong with it.
    pub fn from_config(c: &ClusterConfig) -> Result<SlotMap, String> {
        if c.nodes.is_empty() {
            return Err("no nodes".into());
        }
        if c.nodes.len() > SLOTS {
            return Err("more nodes than slots".into());
        }
        let mut nodes = Vec::with_capacity(c.nodes.len());
        let mut owner = vec![u16::MAX; SLOTS];
        for (i, n) in c.nodes.iter().enumerate() {
            if nodes.iter().any(|m: &ClusterNode| m.name == n.name) {
                return Err(format!("node '{}' appears twice", n.name));
            }
            let (host, port) = n
                .addr
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
                .filter(|(h, _)| !h.is_empty())
                .ok_or_else(|| format!("node '{}': addr '{}' is not host:port", n.name, n.addr))?;
            for text in &n.slots {
                let range =
                    SlotRange::parse(text).map_err(|e| format!("node '{}': {e}", n.name))?;
                for s in range.slots() {
                    let o = &mut owner[s as usize];
                    if *o != u16::MAX {
                        return Err(format!(
                            "slot {s} is assigned to both '{}' and '{}'",
                            c.nodes[*o as usize].name, n.name
                        ));
                    }
                    *o = i as u16;
                }
            }
            nodes.push(ClusterNode {
                name: n.name.clone(),
                id: node_id(&n.name),
                host: host.to_string(),
                port,
            });
        }
        if let Some(s) = owner.iter().position(|&o| o == u16::MAX) {
            return Err(format!("slot {s} is assigned to no node"));
        }
        let me = nodes
            .iter()
            .position(|n| n.name == c.me)
            .ok_or_else(|| format!("'me' = '{}' is not one of the nodes", c.me))?;
        Ok(SlotMap {
            nodes,
            me,
            owner,
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
        })
    }

    /// Every node, in configuration order.
    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// This node.
    pub fn me(&self) -> &ClusterNode {
        &self.nodes[self.me]
    }

    /// This node's index in [`SlotMap::nodes`].
    pub fn me_index(&self) -> usize {
        self.me
    }

    /// The owner of `slot`.
    pub fn owner(&self, slot: Slot) -> &ClusterNode {
        &self.nodes[self.owner[slot as usize % SLOTS] as usize]
    }

    /// True if this node owns `slot`.
    pub fn is_mine(&self, slot: Slot) -> bool {
        self.owner[slot as usize % SLOTS] as usize == self.me
    }

    /// The index of the node with id `id`.
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// `CLUSTER SETSLOT <slot> MIGRATING <node>`.
    pub fn set_migrating(&mut self, slot: Slot, to: usize) -> Result<(), String> {
        if !self.is_mine(slot) {
            return Err(format!("ERR I'm not the owner of hash slot {slot}"));
        }
        if to == self.me {
            return Err("ERR Can't MIGRATE to myself".into());
        }
        self.importing.remove(&slot);
        self.migrating.insert(slot, to);
        Ok(())
    }

    /// `CLUSTER SETSLOT <slot> IMPORTING <node>`.
    pub fn set_importing(&mut self, slot: Slot, from: usize) -> Result<(), String> {
        if self.is_mine(slot) {
            return Err(format!("ERR I'm already the owner of hash slot {slot}"));
        }
        if from == self.me {
            return Err("ERR Can't import from myself".into());
        }
        self.migrating.remove(&slot);
        self.importing.insert(slot, from);
        Ok(())
    }

    /// `CLUSTER SETSLOT <slot> STABLE`: the slot is neither migrating nor
    /// importing any more.
    pub fn set_stable(&mut self, slot: Slot) {
        self.migrating.remove(&slot);
        self.importing.remove(&slot);
    }

    /// `CLUSTER SETSLOT <slot> NODE <node>`: `node` owns the slot now. The
    /// caller has checked that no key of the slot would be stranded here.
    pub fn assign(&mut self, slot: Slot, node: usize) {
        self.owner[slot as usize % SLOTS] = node as u16;
        self.set_stable(slot);
    }

    /// Slots migrating from here, and slots importing into here, with the
    /// other node's index.
    pub fn open_slots(&self) -> (&BTreeMap<Slot, usize>, &BTreeMap<Slot, usize>) {
        (&self.migrating, &self.importing)
    }

    /// Where a command with these keys goes. `asking`: the client sent
    /// ASKING just before (it follows an ASK redirection), which lets it use
    /// a slot importing here.
    pub fn route<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>, asking: bool) -> Route {
        let mut slot = None;
        for k in keys {
            let s = key_slot(k);
            match slot {
                None => slot = Some(s),
                Some(first) if first != s => return Route::CrossSlot,
                Some(_) => {}
            }
        }
        let Some(s) = slot else {
            return Route::Local;
        };
        if self.is_mine(s) {
            return match self.migrating.get(&s) {
                Some(&to) => Route::IfPresent {
                    slot: s,
                    endpoint: self.nodes[to].endpoint(),
                },
                None => Route::Local,
            };
        }
        if asking && self.importing.contains_key(&s) {
            return Route::Local;
        }
        Route::Moved {
            slot: s,
            endpoint: self.owner(s).endpoint(),
        }
    }

    /// The slot ranges `node` (an index into [`SlotMap::nodes`]) owns,
    /// merged and in order.
    pub fn ranges_of(&self, node: usize) -> Vec<SlotRange> {
        self.ranges()
            .into_iter()
            .filter(|&(_, owner)| owner == node)
            .map(|(r, _)| r)
            .collect()
    }

    /// Every slot range with its owner's index, in slot order (CLUSTER
    /// SLOTS).
    pub fn ranges(&self) -> Vec<(SlotRange, usize)> {
        let mut out: Vec<(SlotRange, usize)> = Vec::new();
        for (s, &o) in self.owner.iter().enumerate() {
            let s = s as Slot;
            match out.last_mut() {
                Some((r, n)) if *n == o as usize && r.end + 1 == s => r.end = s,
                _ => out.push((SlotRange { start: s, end: s }, o as usize)),
            }
        }
        out
    }

    /// `CLUSTER NODES`: one line per node in Redis's format.
    pub fn nodes_text(&self) -> String {
        let mut out = String::new();
        let ranges = self.ranges();
        for (i, n) in self.nodes.iter().enumerate() {
            let flags = if i == self.me {
                "myself,master"
            } else {
                "master"
            };
            // No cluster bus: its port is reported as 0.
            let _ = write!(out, "{} {}@0 {flags} - 0 0 0 connected", n.id, n.endpoint());
            for (r, _) in ranges.iter().filter(|&&(_, owner)| owner == i) {
                let _ = write!(out, " {r}");
            }
            if i == self.me {
                for (slot, to) in &self.migrating {
                    let _ = write!(out, " [{slot}->-{}]", self.nodes[*to].id);
                }
                for (slot, from) in &self.importing {
                    let _ = write!(out, " [{slot}-<-{}]", self.nodes[*from].id);
                }
            }
            out.push('\n');
        }
        out
    }

    /// `CLUSTER INFO`.
    pub fn info_text(&self) -> String {
        let mut owners: Vec<usize> = self.ranges().into_iter().map(|(_, o)| o).collect();
        owners.sort_unstable();
        owners.dedup();
        let serving = owners.len();
        format!(
            "cluster_state:ok\r\ncluster_slots_assigned:{SLOTS}\r\ncluster_slots_ok:{SLOTS}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{}\r\ncluster_size:{serving}\r\ncluster_current_epoch:0\r\ncluster_my_epoch:0\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
            self.nodes.len()
        )
    }
}

/// A node's id: the SHA-1 of its name in hex (stable across restarts and
/// the same on every node).
fn node_id(name: &str) -> String {
    let digest = Sha1::digest(name.as_bytes());
    let mut s = String::with_capacity(40);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterNodeConfig;

    fn three(me: &str) -> ClusterConfig {
        let node = |name: &str, port: u16, slots: &[&str]| ClusterNodeConfig {
            name: name.into(),
            addr: format!("127.0.0.1:{port}"),
            slots: slots.iter().map(|s| s.to_string()).collect(),
        };
        ClusterConfig {
            me: me.into(),
            nodes: vec![
                node("a", 7001, &["0-5460"]),
                node("b", 7002, &["5461-10922"]),
                node("c", 7003, &["10923-16383"]),
            ],
            state_file: None,
        }
    }

    #[test]
    fn keys_route_to_their_owner() {
        let map = SlotMap::from_config(&three("b")).expect("valid");
        assert_eq!(map.me().name, "b");
        for i in 0..1000 {
            let key = format!("key:{i}");
            let slot = key_slot(key.as_bytes());
            let owner = map.owner(slot).name.clone();
            let route = map.route([key.as_bytes()], false);
            assert_eq!(owner == "b", route == Route::Local, "{key} slot {slot}");
            if owner != "b" {
                let port = if owner == "a" { 7001 } else { 7003 };
                assert_eq!(
                    route,
                    Route::Moved {
                        slot,
                        endpoint: format!("127.0.0.1:{port}")
                    }
                );
            }
        }
    }

    #[test]
    fn moved_names_the_owner_and_crossslot_mixed_slots() {
        let map = SlotMap::from_config(&three("a")).expect("valid");
        // foo is slot 12182 (node c), bar 5061 (node a).
        assert_eq!(map.route([&b"bar"[..]], false), Route::Local);
        assert_eq!(
            map.route([&b"foo"[..]], false),
            Route::Moved {
                slot: 12182,
                endpoint: "127.0.0.1:7003".into()
            }
        );
        assert_eq!(map.route([&b"foo"[..], b"bar"], false), Route::CrossSlot);
        assert_eq!(map.route([&b"{bar}1"[..], b"{bar}2"], false), Route::Local);
        assert_eq!(map.route(std::iter::empty(), false), Route::Local);
        assert_eq!(
            map.route([&b"foo"[..]], false).error_line().as_deref(),
            Some("MOVED 12182 127.0.0.1:7003")
        );
    }

    #[test]
    fn a_moving_slot_is_asked_for_and_then_owned_by_its_new_node() {
        let mut a = SlotMap::from_config(&three("a")).expect("valid");
        let mut c = SlotMap::from_config(&three("c")).expect("valid");
        let (ia, ic) = (0, 2);
        // bar: slot 5061, a's.
        assert!(c.set_migrating(5061, ia).is_err(), "c does not own it");
        assert!(a.set_importing(5061, ic).is_err(), "a already owns it");
        a.set_migrating(5061, ic).expect("migrating");
        c.set_importing(5061, ia).expect("importing");
        assert_eq!(
            a.route([&b"bar"[..]], false),
            Route::IfPresent {
                slot: 5061,
                endpoint: "127.0.0.1:7003".into()
            }
        );
        assert!(matches!(c.route([&b"bar"[..]], false), Route::Moved { .. }));
        assert_eq!(c.route([&b"bar"[..]], true), Route::Local, "after ASKING");
        let mine = a.nodes_text();
        assert!(
            mine.contains(&format!("[5061->-{}]", a.nodes()[ic].id)),
            "{mine}"
        );
        for map in [&mut a, &mut c] {
            map.assign(5061, ic);
        }
        assert!(matches!(
            a.route([&b"bar"[..]], false),
            Route::Moved { slot: 5061, .. }
        ));
        assert_eq!(c.route([&b"bar"[..]], false), Route::Local);
        assert!(a.open_slots().0.is_empty() && c.open_slots().1.is_empty());
    }

    #[test]
    fn bad_maps_are_refused_with_the_reason() {
        let mut gap = three("a");
        gap.nodes[2].slots = vec!["10923-16382".into()];
        assert!(SlotMap::from_config(&gap).unwrap_err().contains("16383"));
        let mut twice = three("a");
        twice.nodes[1].slots.push("0".into());
        assert!(SlotMap::from_config(&twice).unwrap_err().contains("both"));
        assert!(
            SlotMap::from_config(&three("z"))
                .unwrap_err()
                .contains("'z'")
        );
        let mut addr = three("a");
        addr.nodes[0].addr = "nowhere".into();
        assert!(
            SlotMap::from_config(&addr)
                .unwrap_err()
                .contains("host:port")
        );
    }

    #[test]
    fn ranges_and_nodes_text_describe_the_map() {
        let mut c = three("a");
        c.nodes[0].slots = vec!["0-100".into(), "101-5460".into(), "16383".into()];
        c.nodes[2].slots = vec!["10923-16382".into()];
        let map = SlotMap::from_config(&c).expect("valid");
        assert_eq!(
            map.ranges_of(0)
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>(),
            ["0-5460", "16383"]
        );
        assert_eq!(map.ranges().len(), 4);
        let text = map.nodes_text();
        let mine = text.lines().next().expect("line");
        assert!(
            mine.contains("myself,master") && mine.ends_with(" 0-5460 16383"),
            "{mine}"
        );
        assert_eq!(map.me().id.len(), 40);
        assert_ne!(map.nodes()[0].id, map.nodes()[1].id);
    }
}

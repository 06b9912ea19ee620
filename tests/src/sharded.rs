//! [`ShardedRegion`]: one region sharded over several nodes on loopback,
//! each a [`TestServer`] owning an even share of the hash slots, all given
//! the same `[cluster]` table.

use meridian::cluster::SLOTS;
use meridian::config::{ClusterConfig, ClusterNodeConfig, Config};

use crate::{TestServer, free_port};

/// Nodes of one sharded region; dropping it stops them.
pub struct ShardedRegion {
    /// The nodes, in slot order: node `i` owns the `i`-th share of slots.
    pub nodes: Vec<TestServer>,
    configs: Vec<Config>,
}

impl ShardedRegion {
    /// `n` nodes named `node0`, `node1`, … with contiguous equal slot
    /// ranges.
    pub fn start(n: usize) -> ShardedRegion {
        Self::start_with(n, |_, _| {})
    }

    /// Like [`ShardedRegion::start`], with each node's settings adjusted by
    /// `configure` (called with the node's index).
    pub fn start_with(n: usize, configure: impl Fn(usize, &mut Config)) -> ShardedRegion {
        assert!(n >= 1);
        // Ports must be known before any node starts (every node's table
        // names them all); one taken meanwhile by someone else means retry.
        for _attempt in 0..5 {
            let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
            let table = |me: usize| ClusterConfig {
                me: format!("node{me}"),
                nodes: (0..n)
                    .map(|i| ClusterNodeConfig {
                        name: format!("node{i}"),
                        addr: format!("127.0.0.1:{}", ports[i]),
                        slots: vec![format!("{}-{}", SLOTS * i / n, SLOTS * (i + 1) / n - 1)],
                    })
                    .collect(),
                state_file: None,
            };
            let mut nodes = Vec::with_capacity(n);
            let mut configs = Vec::with_capacity(n);
            for (i, &port) in ports.iter().enumerate() {
                let mut config = Config {
                    port,
                    cluster: Some(table(i)),
                    ..Config::default()
                };
                configure(i, &mut config);
                let start = config.clone();
                match TestServer::try_start_with(move |c| *c = start) {
                    Ok(s) => nodes.push(s),
                    Err(_) => break,
                }
                configs.push(config);
            }
            if nodes.len() == n {
                return ShardedRegion { nodes, configs };
            }
        }
        panic!("could not start {n} sharded nodes on free ports");
    }

    /// Stops node `i` and starts it again with the same settings (and
    /// port).
    pub fn restart(&mut self, i: usize) {
        let config = self.configs[i].clone();
        // The old node must be gone before the new one binds its port.
        drop(self.nodes.remove(i));
        self.nodes
            .insert(i, TestServer::start_with(move |c| *c = config));
    }

    /// `redis://` URLs of every node (a cluster client's seed list).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|s| s.url()).collect()
    }
}

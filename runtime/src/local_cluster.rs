//! `LocalCluster`: several regions in one process on loopback, replicating
//! to each other over mutual TLS with throw-away certificates — what
//! `meridian dev --regions N` runs, and what the multi-region tests build
//! on (they route links through partition proxies and restart regions).
//!
//! Nothing here is for production: certificates are generated at start and
//! forgotten at exit, and everything binds to the configured (loopback)
//! address.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::clock::RegionId;
use crate::config::{Config, DEFAULT_LOG_SIZE};
use crate::replication::TlsMaterial;
use crate::replication::peer::{PeerSpec, ReplicationSetup};
use crate::server::{RunningServer, ServerError};

/// The plan of a local cluster: names, certificates and replication
/// addresses of its regions. Region `i` (0-based) has id `i + 1`.
pub struct LocalCluster {
    base: Config,
    names: Vec<String>,
    materials: Vec<TlsMaterial>,
    repl_addrs: Vec<SocketAddr>,
}

impl LocalCluster {
    /// Generates certificates for `n` regions and binds their replication
    /// listeners on `base.bind` (any free port). `base` is every region's
    /// configuration; each gets its own id, name and RESP port.
    pub async fn bind(
        base: Config,
        n: usize,
    ) -> Result<(LocalCluster, Vec<TcpListener>), ServerError> {
        let names: Vec<String> = (1..=n)
            .map(|i| format!("{}-{i}", base.region_name))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (_, materials) = TlsMaterial::generate_dev(&refs)?;
        let mut listeners = Vec::with_capacity(n);
        let mut repl_addrs = Vec::with_capacity(n);
        for _ in 0..n {
            let addr = SocketAddr::new(base.bind, 0);
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind { addr, source })?;
            repl_addrs.push(
                l.local_addr()
                    .map_err(|source| ServerError::Bind { addr, source })?,
            );
            listeners.push(l);
        }
        Ok((
            LocalCluster {
                base,
                names,
                materials,
                repl_addrs,
            },
            listeners,
        ))
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True for a cluster of no regions.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Region `i`'s name.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Region `i`'s replication listener address.
    pub fn repl_addr(&self, i: usize) -> SocketAddr {
        self.repl_addrs[i]
    }

    /// Region `i`'s configuration: the base with its id, name, and RESP port
    /// `base.port + i` (or any free port if the base asks for 0).
    pub fn config(&self, i: usize) -> Config {
        let mut c = self.base.clone();
        c.region_id = i as u16 + 1;
        c.region_name = self.names[i].clone();
        if c.port != 0 {
            c.port = c.port.saturating_add(i as u16);
        }
        if let Some(p) = c.metrics_port.filter(|&p| p != 0) {
            c.metrics_port = Some(p.saturating_add(i as u16));
        }
        if let Some(p) = c.http_port.filter(|&p| p != 0) {
            c.http_port = Some(p.saturating_add(i as u16));
        }
        // Each region persists its own state, in a directory of its own.
        if let Some(d) = &c.dir {
            c.dir = Some(d.join(&c.region_name));
        }
        c
    }

    /// Starts region `i` on `listener` (its replication address). `route`
    /// gives the address region `from` dials to reach region `to`, normally
    /// `to`'s listener itself.
    pub async fn start_region(
        &self,
        i: usize,
        listener: TcpListener,
        route: &dyn Fn(usize, usize, SocketAddr) -> String,
    ) -> Result<RunningServer, ServerError> {
        let peers = (0..self.len())
            .filter(|&j| j != i)
            .map(|j| PeerSpec {
                id: RegionId(j as u16 + 1),
                name: self.names[j].clone(),
                addr: route(i, j, self.repl_addrs[j]),
            })
            .collect();
        let setup = ReplicationSetup {
            name: self.names[i].clone(),
            listener,
            material: self.materials[i].clone(),
            peers,
            log_bytes: DEFAULT_LOG_SIZE as usize,
            idle_timeout: std::time::Duration::from_secs(self.config(i).repl_timeout),
        };
        crate::server::start_with(self.config(i), Some(setup)).await
    }

    /// Starts every region, each dialling the others directly.
    pub async fn start_all(
        &self,
        listeners: Vec<TcpListener>,
    ) -> Result<Vec<RunningServer>, ServerError> {
        let mut servers = Vec::with_capacity(listeners.len());
        for (i, l) in listeners.into_iter().enumerate() {
            servers.push(
                self.start_region(i, l, &|_, _, addr| addr.to_string())
                    .await?,
            );
        }
        Ok(servers)
    }
}

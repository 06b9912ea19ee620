//! Deploying modules while the server runs: FUNCTION LOAD / DELETE / FLUSH
//! and the admin API's `PUT`/`DELETE /v1/modules/{name}` write the region's
//! [`Catalog`] (which replication spreads to every region and persistence
//! keeps on disk), and every entry of the catalog — written here, received
//! from a peer or restored from disk — is applied to the [`Registry`].
//!
//! A local deploy compiles and installs the module before it is recorded,
//! so its caller gets the compile error; an entry from elsewhere is applied
//! by [`WasmHost::reconcile`], where a failure is logged and counted and the
//! region keeps serving what it had. Both compile outside the one mutex that
//! serialises installing and recording, and install only what is still the
//! catalog's newest entry, so the registry ends up reflecting the catalog.
//!
//! This module must not parse RESP or HTTP, and must not know how entries
//! travel between regions.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tracing::{info, warn};

use super::WasmHost;
use super::catalog::{Catalog, Code, Deployed, Entry, MAX_MODULE_BYTES, ModuleKind};
use super::registry::{EdgeModule, Library, LoadError, Registry};
use crate::clock::{RegionId, Stamp};
use crate::server::Shared;

/// Longest module name.
pub const MAX_NAME: usize = 128;

/// What the registry reflects of one catalog entry.
#[derive(Debug, Clone)]
struct Applied {
    version: (Stamp, RegionId),
    error: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    applied: HashMap<String, Applied>,
    /// The catalog sequence number last written to disk.
    persisted: u64,
}

/// The deployed modules of one region and how far they are applied.
#[derive(Debug, Default)]
pub struct Deploys {
    catalog: Catalog,
    state: Mutex<State>,
    /// Entries from peers or disk that could not be loaded here.
    pub failures: AtomicU64,
}

/// A module to deploy.
#[derive(Debug, Clone)]
pub struct DeployRequest<'a> {
    /// Its name; a plugin names itself (FUNCTION LOAD passes `None`), and a
    /// name given for one must match.
    pub name: Option<&'a str>,
    /// Edge or plugin; `None` tells them apart by what the component exports.
    pub kind: Option<ModuleKind>,
    /// An edge module's path prefix (default `/<name>`).
    pub route: Option<String>,
    /// The component.
    pub code: &'a [u8],
    /// Replace a plugin library of the same name (FUNCTION LOAD REPLACE).
    pub replace: bool,
}

/// A deployed module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Its name.
    pub name: String,
    /// Edge or plugin.
    pub kind: ModuleKind,
    /// True if no module of that name was deployed before.
    pub created: bool,
}

/// How a deployed module stands in this region, for listings.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its catalog entry.
    pub entry: Entry,
    /// Why it could not be loaded here, if it could not.
    pub error: Option<String>,
}

enum Prepared {
    Edge(EdgeModule),
    Plugin(Library),
}

/// True for a name the admin API accepts: `[A-Za-z0-9_-]`, 1 to
/// [`MAX_NAME`] characters (plugins further exclude `-`).
pub fn valid_module_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Deploys {
    /// The catalog (replication sends and merges its entries).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}

impl WasmHost {
    /// The deployed modules.
    pub fn deploys(&self) -> &Deploys {
        &self.deploys
    }

    fn running(&self) -> Result<Arc<Shared>, LoadError> {
        self.shared().ok_or(LoadError::NotRunning)
    }

    /// Compiles `code` as `kind` (or whichever it is) under `name`.
    fn prepare(
        &self,
        name: Option<&str>,
        kind: Option<ModuleKind>,
        route: Option<String>,
        code: &[u8],
    ) -> Result<Prepared, LoadError> {
        let edge = |name: &str| {
            let route = route.clone().unwrap_or_else(|| format!("/{name}"));
            Registry::prepare_edge(name.to_string(), route, code, None).map(Prepared::Edge)
        };
        let plugin = || {
            let library = Registry::prepare_library(self, code, None)?;
            match name {
                Some(given) if given != library.name => Err(LoadError::NameMismatch {
                    given: given.to_string(),
                    library: library.name,
                }),
                _ => Ok(Prepared::Plugin(library)),
            }
        };
        match (kind, name) {
            (Some(ModuleKind::Plugin), _) => plugin(),
            (Some(ModuleKind::Edge), Some(name)) => edge(name),
            (None, Some(name)) => match edge(name) {
                // Not an HTTP handler: it must be a plugin (or nothing).
                Err(LoadError::NotAModule) => match plugin() {
                    Err(LoadError::NotAPlugin) => Err(LoadError::NotAModule),
                    other => other,
                },
                other => other,
            },
            (_, None) => Err(LoadError::BadModuleName),
        }
    }

    /// Installs a prepared module in the registry, removing a module of the
    /// other kind under the same name. A local deploy (`strict`) may not
    /// take another module's route; an entry from elsewhere may.
    fn install(&self, prepared: Prepared, replace: bool, strict: bool) -> Result<(), LoadError> {
        let registry = &self.registry;
        match prepared {
            Prepared::Edge(module) => {
                if strict
                    && let Some(owner) = registry
                        .edges()
                        .into_iter()
                        .find(|m| m.route == module.route && m.name != module.name)
                {
                    return Err(LoadError::RouteTaken {
                        route: module.route,
                        owner: owner.name.clone(),
                    });
                }
                let _ = registry.delete_library(&module.name);
                registry.install_edge(module);
            }
            Prepared::Plugin(library) => {
                let name = library.name.clone();
                registry.install_library(library, replace)?;
                registry.delete_edge(&name);
            }
        }
        Ok(())
    }

    /// Deploys a module here and records it for every region: FUNCTION LOAD
    /// and the admin API's PUT.
    pub fn deploy(&self, req: DeployRequest<'_>) -> Result<Deployment, LoadError> {
        if req.code.len() > MAX_MODULE_BYTES {
            return Err(LoadError::TooLarge(req.code.len()));
        }
        if let Some(name) = req.name
            && !valid_module_name(name)
        {
            return Err(LoadError::BadModuleName);
        }
        let shared = self.running()?;
        let prepared = self.prepare(req.name, req.kind, req.route, req.code)?;
        let (name, kind, route) = match &prepared {
            Prepared::Edge(m) => (m.name.clone(), ModuleKind::Edge, Some(m.route.clone())),
            Prepared::Plugin(l) => (l.name.clone(), ModuleKind::Plugin, None),
        };
        let mut state = self.deploys.state.lock();
        let created = self.registry.edge(&name).is_none()
            && self.registry.library(&name).is_none()
            && self.live(&name).is_none();
        self.install(prepared, req.replace, true)?;
        let entry = Entry {
            name: name.clone(),
            stamp: shared.engine.clock().now(),
            region: shared.engine.region(),
            at_ms: crate::clock::unix_ms(),
            module: Some(Deployed {
                kind,
                route,
                code: Code(Arc::from(req.code)),
            }),
        };
        self.record_local(&shared, &mut state, entry);
        Ok(Deployment {
            name,
            kind,
            created,
        })
    }

    /// Removes module `name` (of `kind` only, if given) here and in every
    /// region: FUNCTION DELETE and the admin API's DELETE.
    pub fn undeploy(&self, name: &str, kind: Option<ModuleKind>) -> Result<(), LoadError> {
        let shared = self.running()?;
        let mut state = self.deploys.state.lock();
        let recorded = self.live(name).map(|d| d.kind);
        let edge = self.registry.edge(name).is_some() || recorded == Some(ModuleKind::Edge);
        let plugin = self.registry.library(name).is_some() || recorded == Some(ModuleKind::Plugin);
        let found = match kind {
            Some(ModuleKind::Edge) => edge,
            Some(ModuleKind::Plugin) => plugin,
            None => edge || plugin,
        };
        if !found {
            return Err(match kind {
                Some(ModuleKind::Plugin) => LoadError::LibraryNotFound,
                _ => LoadError::ModuleNotFound,
            });
        }
        self.registry.delete_edge(name);
        let _ = self.registry.delete_library(name);
        self.tombstone(&shared, &mut state, name);
        Ok(())
    }

    /// Removes every plugin library here and in every region (FUNCTION
    /// FLUSH). A library loaded concurrently elsewhere, not yet seen here,
    /// survives: a flush deletes what it saw.
    pub fn flush_libraries(&self) -> Result<(), LoadError> {
        let shared = self.running()?;
        let mut state = self.deploys.state.lock();
        let mut names: Vec<String> = self
            .registry
            .libraries()
            .into_iter()
            .map(|l| l.name.clone())
            .collect();
        names.extend(
            self.deploys
                .catalog
                .entries()
                .into_iter()
                .filter(|e| {
                    e.module
                        .as_ref()
                        .is_some_and(|m| m.kind == ModuleKind::Plugin)
                })
                .map(|e| e.name),
        );
        names.sort();
        names.dedup();
        self.registry.flush_libraries();
        for name in names {
            self.tombstone(&shared, &mut state, &name);
        }
        Ok(())
    }

    fn tombstone(&self, shared: &Shared, state: &mut State, name: &str) {
        let entry = Entry {
            name: name.to_string(),
            stamp: shared.engine.clock().now(),
            region: shared.engine.region(),
            at_ms: crate::clock::unix_ms(),
            module: None,
        };
        self.record_local(shared, state, entry);
    }

    /// Records an entry this region wrote (and already applied).
    fn record_local(&self, shared: &Shared, state: &mut State, entry: Entry) {
        let version = entry.version();
        let name = entry.name.clone();
        self.deploys.catalog.merge(entry);
        state.applied.insert(
            name,
            Applied {
                version,
                error: None,
            },
        );
        self.persist(shared, state);
    }

    /// The live (not deleted) deployment of `name` in the catalog.
    fn live(&self, name: &str) -> Option<Deployed> {
        self.deploys.catalog.get(name).and_then(|e| e.module)
    }

    /// Every deployed module (not the configured ones), with its state here.
    pub fn deployed(&self) -> Vec<Record> {
        let state = self.deploys.state.lock();
        self.deploys
            .catalog
            .entries()
            .into_iter()
            .filter(|e| e.module.is_some())
            .map(|entry| Record {
                error: state
                    .applied
                    .get(&entry.name)
                    .filter(|a| a.version == entry.version())
                    .and_then(|a| a.error.clone()),
                entry,
            })
            .collect()
    }

    /// Applies every catalog entry the registry does not reflect yet
    /// (received from a peer, or restored from disk), and writes the
    /// catalog to disk if persistence is on. A module that fails to load is
    /// logged and counted; the region keeps what it had.
    pub fn reconcile(&self) {
        let Some(shared) = self.shared() else {
            return;
        };
        let pending: Vec<Entry> = {
            let state = self.deploys.state.lock();
            self.deploys
                .catalog
                .entries()
                .into_iter()
                .filter(|e| {
                    state
                        .applied
                        .get(&e.name)
                        .is_none_or(|a| a.version != e.version())
                })
                .collect()
        };
        for entry in pending {
            let version = entry.version();
            // Compiling takes long: a local deploy must not wait for it.
            let prepared = entry
                .module
                .as_ref()
                .map(|d| self.prepare(Some(&entry.name), Some(d.kind), d.route.clone(), &d.code.0));
            let mut state = self.deploys.state.lock();
            let current = self.deploys.catalog.get(&entry.name).map(|e| e.version());
            let applied = state.applied.get(&entry.name).map(|a| a.version);
            if current != Some(version) || applied == Some(version) {
                // Superseded meanwhile: the newer entry woke the next pass
                // (or a local deploy applied it).
                continue;
            }
            let result = match prepared {
                None => {
                    self.registry.delete_edge(&entry.name);
                    let _ = self.registry.delete_library(&entry.name);
                    info!(module = %entry.name, from = %entry.region, "module deleted by another region");
                    Ok(())
                }
                Some(p) => p.and_then(|p| self.install(p, true, false)),
            };
            let error = match result {
                Ok(()) => None,
                Err(e) => {
                    self.deploys.failures.fetch_add(1, Ordering::Relaxed);
                    warn!(module = %entry.name, from = %entry.region, error = %e,
                        "a deployed module could not be loaded here; keeping what was loaded before");
                    Some(e.to_string())
                }
            };
            state.applied.insert(entry.name, Applied { version, error });
        }
        let mut state = self.deploys.state.lock();
        self.persist(&shared, &mut state);
    }

    /// Writes the catalog to the data directory if it changed since the last
    /// write (persistence on only).
    fn persist(&self, shared: &Shared, state: &mut State) {
        let Some(p) = &shared.persist else {
            return;
        };
        let (entries, seq) = self.deploys.catalog.since(0);
        if seq == state.persisted {
            return;
        }
        match crate::persist::modules::save(&p.config().dir, &entries) {
            Ok(()) => state.persisted = seq,
            Err(e) => warn!(error = %e, "deployed modules could not be written to disk"),
        }
    }

    /// Loads the modules persisted in the data directory (at start, after
    /// the configured ones, so a deployed module of the same name wins).
    pub fn restore(&self, shared: &Shared) -> Result<(), crate::persist::PersistError> {
        let Some(p) = &shared.persist else {
            return Ok(());
        };
        let entries = crate::persist::modules::load(&p.config().dir)?;
        let n = entries.len();
        for e in entries {
            self.deploys.catalog.merge(e);
        }
        // Deletes made after the restart must be stamped above every entry.
        shared
            .engine
            .clock()
            .observe(self.deploys.catalog.max_stamp());
        self.deploys.state.lock().persisted = self.deploys.catalog.since(0).1;
        if n > 0 {
            info!(entries = n, "deployed modules restored from disk");
        }
        self.reconcile();
        Ok(())
    }
}

/// Applies catalog changes (from peers) to the registry until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let mut changed = shared.wasm.deploys.catalog.subscribe();
    let mut shutdown = shared.shutdown_signal();
    loop {
        changed.borrow_and_update();
        let s = shared.clone();
        // Compiling a component takes a while: not on a connection worker.
        if tokio::task::spawn_blocking(move || s.wasm.reconcile())
            .await
            .is_err()
        {
            warn!("applying deployed modules failed");
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

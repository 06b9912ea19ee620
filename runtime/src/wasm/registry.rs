//! Loaded modules: plugin libraries by name (and their functions by name, as
//! Redis keeps them), edge modules by route, and each module's counters.
//!
//! Loading compiles the component (once per distinct bytes), links it
//! against the host's imports into an `InstancePre`, and — for a plugin —
//! runs its `describe` export once to learn its name and functions. Nothing
//! here runs a request.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use tracing::info;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::bindings::{FunctionInfo, PluginPre};
use super::runtime::{GuestRuntime, POOL_MAX_MEMORY};
use super::{ModuleConfig, Sandbox, WasmHost};

/// Why a module could not be loaded or deleted. `Display` is the RESP error
/// line FUNCTION LOAD / FUNCTION DELETE answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The payload is not a component this host can run.
    #[error("ERR Invalid WASM component: {0}")]
    Invalid(String),
    /// The component exports neither `wasi:http/incoming-handler` nor the
    /// `library` interface.
    #[error("ERR Component exports neither meridian:cache/library nor wasi:http/incoming-handler")]
    NotAModule,
    /// FUNCTION LOAD of an edge module.
    #[error("ERR Component is not a plugin (it does not export meridian:cache/library)")]
    NotAPlugin,
    /// The library's `describe` trapped or timed out.
    #[error("ERR Library failed to describe itself: {0}")]
    Describe(String),
    /// A library of that name exists and REPLACE was not given.
    #[error("ERR Library '{0}' already exists")]
    LibraryExists(String),
    /// A function name is taken by another library.
    #[error("ERR Function {0} already exists")]
    FunctionExists(String),
    /// Names must be non-empty `[A-Za-z0-9_]` (as Redis requires).
    #[error(
        "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
    )]
    BadLibraryName,
    /// Function names follow the same rule.
    #[error(
        "ERR Function names can only contain letters, numbers, or underscores(_) and must be at least one character long"
    )]
    BadFunctionName,
    /// A library exports no function.
    #[error("ERR No functions registered")]
    NoFunctions,
    /// FUNCTION DELETE of an unknown library.
    #[error("ERR Library not found")]
    LibraryNotFound,
    /// The WASM runtime could not start.
    #[error("ERR WASM runtime unavailable: {0}")]
    Runtime(String),
    /// An edge route that does not start with `/`.
    #[error("ERR Invalid route '{0}'")]
    BadRoute(String),
    /// A deployed edge module's route is served by another module.
    #[error("ERR Route '{route}' is served by module '{owner}'")]
    RouteTaken {
        /// The route.
        route: String,
        /// The module serving it.
        owner: String,
    },
    /// A component larger than a module may be.
    #[error("ERR Component is {0} bytes, more than the {max} a module may have", max = super::catalog::MAX_MODULE_BYTES)]
    TooLarge(usize),
    /// A plugin deployed under a name other than the one it gives itself.
    #[error("ERR The library names itself '{library}', not '{given}'")]
    NameMismatch {
        /// The name asked for.
        given: String,
        /// The name in its `describe` manifest.
        library: String,
    },
    /// A module name outside `[A-Za-z0-9_-]`, empty or too long.
    #[error(
        "ERR Module names can only contain letters, numbers, '-' or '_' and must be 1 to 128 characters long"
    )]
    BadModuleName,
    /// No module of that name.
    #[error("ERR Module not found")]
    ModuleNotFound,
    /// The server is shutting down.
    #[error("ERR The server is shutting down")]
    NotRunning,
}

/// Per-module counters (calls and failures by kind, recent latency), for
/// /metrics, the module API and the console.
#[derive(Debug, Default)]
pub struct ModuleStats {
    /// Calls started.
    pub calls: AtomicU64,
    /// Calls that trapped (including out-of-memory aborts).
    pub traps: AtomicU64,
    /// Calls stopped at their deadline.
    pub timeouts: AtomicU64,
    /// Calls whose guest answered an error or garbage.
    pub errors: AtomicU64,
    /// How long recent calls took (the console's p99).
    pub latency: super::latency::RecentLatency,
}

/// How a guest call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The guest trapped (bad instruction, abort, out of memory).
    Trap,
    /// The guest ran past its deadline.
    Timeout,
    /// The guest returned an error or an unusable answer.
    Error,
}

impl Failure {
    /// Classifies a wasmtime error.
    pub fn of(e: &wasmtime::Error) -> Failure {
        match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => Failure::Timeout,
            Some(_) => Failure::Trap,
            None => Failure::Error,
        }
    }

    /// The label used in logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Trap => "trap",
            Failure::Timeout => "timeout",
            Failure::Error => "error",
        }
    }
}

impl ModuleStats {
    /// Counts a failure.
    pub fn fail(&self, f: Failure) {
        let c = match f {
            Failure::Trap => &self.traps,
            Failure::Timeout => &self.timeouts,
            Failure::Error => &self.errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A plugin library.
pub struct Library {
    /// Library name (also its key namespace unless configured otherwise).
    pub name: String,
    /// Its functions.
    pub functions: Vec<FunctionInfo>,
    /// Pre-linked instance.
    pub pre: PluginPre<super::state::GuestState>,
    /// Its limits.
    pub sandbox: Arc<Sandbox>,
    /// Size of the component in bytes.
    pub code_len: usize,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// Counters.
    pub stats: ModuleStats,
}

/// An edge HTTP module.
pub struct EdgeModule {
    /// Module name.
    pub name: String,
    /// Path prefix it serves.
    pub route: String,
    /// Pre-linked instance.
    pub pre: ProxyPre<super::state::GuestState>,
    /// Its limits.
    pub sandbox: Arc<Sandbox>,
    /// Size of the component in bytes.
    pub code_len: usize,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// Counters.
    pub stats: ModuleStats,
}

/// Every module loaded into one region.
#[derive(Default)]
pub struct Registry {
    libraries: RwLock<BTreeMap<String, Arc<Library>>>,
    functions: RwLock<HashMap<String, Arc<Library>>>,
    /// Longest route first, so the most specific prefix wins.
    edges: RwLock<Vec<Arc<EdgeModule>>>,
}

/// True if `route` serves `path`: the path is the route itself or continues
/// it after a `/` (`/cache` serves `/cache/x`, not `/cachex`).
fn serves(route: &str, path: &str) -> bool {
    let r = route.trim_end_matches('/');
    r.is_empty()
        || path == r
        || path
            .strip_prefix(r)
            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The sandbox a module gets from its configuration.
fn sandbox_of(namespace: String, config: Option<&ModuleConfig>) -> Sandbox {
    let mut s = Sandbox::new(namespace);
    if let Some(c) = config {
        s.grants = c.grants.clone();
        if let Some(m) = c.memory {
            s.memory = (m as usize).min(POOL_MAX_MEMORY);
        }
        if let Some(ms) = c.deadline_ms {
            s.deadline = Duration::from_millis(ms.max(1));
        }
    }
    s
}

impl Registry {
    /// The library `name`.
    pub fn library(&self, name: &str) -> Option<Arc<Library>> {
        self.libraries.read().get(name).cloned()
    }

    /// The library exporting function `name`.
    pub fn function(&self, name: &str) -> Option<Arc<Library>> {
        self.functions.read().get(name).cloned()
    }

    /// Every library, by name.
    pub fn libraries(&self) -> Vec<Arc<Library>> {
        self.libraries.read().values().cloned().collect()
    }

    /// Every edge module, most specific route first.
    pub fn edges(&self) -> Vec<Arc<EdgeModule>> {
        self.edges.read().clone()
    }

    /// The edge module serving `path`: the longest route that is `path`
    /// itself or a prefix of it ending at a `/`.
    pub fn route(&self, path: &str) -> Option<Arc<EdgeModule>> {
        self.edges
            .read()
            .iter()
            .find(|m| serves(&m.route, path))
            .cloned()
    }

    /// The edge module named `name`.
    pub fn edge(&self, name: &str) -> Option<Arc<EdgeModule>> {
        self.edges.read().iter().find(|m| m.name == name).cloned()
    }

    /// FUNCTION LOAD: loads a plugin library from component `bytes`; its name.
    pub fn load_library(
        &self,
        host: &WasmHost,
        bytes: &[u8],
        replace: bool,
        config: Option<&ModuleConfig>,
    ) -> Result<String, LoadError> {
        let library = Self::prepare_library(host, bytes, config)?;
        self.install_library(library, replace)
    }

    /// Compiles and links a plugin library and learns its manifest, without
    /// installing it.
    pub fn prepare_library(
        host: &WasmHost,
        bytes: &[u8],
        config: Option<&ModuleConfig>,
    ) -> Result<Library, LoadError> {
        let rt = GuestRuntime::global().map_err(LoadError::Runtime)?;
        let component = rt
            .compile(bytes)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let pre = rt
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let pre = PluginPre::new(pre).map_err(|_| LoadError::NotAPlugin)?;
        // Describe runs with the defaults of an unnamed module: it must not
        // touch keys, and its namespace is not known yet.
        let probe = Arc::new(sandbox_of("\u{0}describe".into(), config));
        let manifest = host
            .plugins()
            .describe(host, pre.clone(), probe)
            .map_err(LoadError::Describe)?;
        if !valid_name(&manifest.name) {
            return Err(LoadError::BadLibraryName);
        }
        if manifest.functions.is_empty() {
            return Err(LoadError::NoFunctions);
        }
        if manifest.functions.iter().any(|f| !valid_name(&f.name)) {
            return Err(LoadError::BadFunctionName);
        }
        let namespace = config
            .and_then(|c| c.namespace.clone())
            .unwrap_or_else(|| manifest.name.clone());
        Ok(Library {
            name: manifest.name,
            functions: manifest.functions,
            pre,
            sandbox: Arc::new(sandbox_of(namespace, config)),
            code_len: bytes.len(),
            sha256: super::catalog::sha256_hex(bytes),
            stats: ModuleStats::default(),
        })
    }

    /// Installs a prepared library; its name.
    pub fn install_library(&self, library: Library, replace: bool) -> Result<String, LoadError> {
        let library = Arc::new(library);
        let mut libs = self.libraries.write();
        let mut funcs = self.functions.write();
        if libs.contains_key(&library.name) && !replace {
            return Err(LoadError::LibraryExists(library.name.clone()));
        }
        for f in &library.functions {
            if let Some(owner) = funcs.get(&f.name)
                && owner.name != library.name
            {
                return Err(LoadError::FunctionExists(f.name.clone()));
            }
        }
        funcs.retain(|_, owner| owner.name != library.name);
        for f in &library.functions {
            funcs.insert(f.name.clone(), library.clone());
        }
        libs.insert(library.name.clone(), library.clone());
        info!(library = %library.name, functions = library.functions.len(), "plugin library loaded");
        Ok(library.name.clone())
    }

    /// FUNCTION DELETE.
    pub fn delete_library(&self, name: &str) -> Result<(), LoadError> {
        let mut libs = self.libraries.write();
        let mut funcs = self.functions.write();
        libs.remove(name).ok_or(LoadError::LibraryNotFound)?;
        funcs.retain(|_, owner| owner.name != name);
        Ok(())
    }

    /// FUNCTION FLUSH: removes every library.
    pub fn flush_libraries(&self) {
        let mut libs = self.libraries.write();
        let mut funcs = self.functions.write();
        libs.clear();
        funcs.clear();
    }

    /// Loads an edge module serving `route` (replacing one on the same route).
    pub fn load_edge(
        &self,
        name: String,
        route: String,
        bytes: &[u8],
        config: Option<&ModuleConfig>,
    ) -> Result<(), LoadError> {
        let module = Self::prepare_edge(name, route, bytes, config)?;
        self.install_edge(module);
        Ok(())
    }

    /// Compiles and links an edge module, without installing it.
    pub fn prepare_edge(
        name: String,
        route: String,
        bytes: &[u8],
        config: Option<&ModuleConfig>,
    ) -> Result<EdgeModule, LoadError> {
        if !route.starts_with('/') {
            return Err(LoadError::BadRoute(route));
        }
        let rt = GuestRuntime::global().map_err(LoadError::Runtime)?;
        let component = rt
            .compile(bytes)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let pre = rt
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let pre = ProxyPre::new(pre).map_err(|_| LoadError::NotAModule)?;
        let namespace = config
            .and_then(|c| c.namespace.clone())
            .unwrap_or_else(|| name.clone());
        Ok(EdgeModule {
            name,
            route,
            pre,
            sandbox: Arc::new(sandbox_of(namespace, config)),
            code_len: bytes.len(),
            sha256: super::catalog::sha256_hex(bytes),
            stats: ModuleStats::default(),
        })
    }

    /// Installs a prepared edge module, replacing the module of the same
    /// name and the one on the same route.
    pub fn install_edge(&self, module: EdgeModule) {
        let module = Arc::new(module);
        let mut edges = self.edges.write();
        edges.retain(|m| m.route != module.route && m.name != module.name);
        edges.push(module.clone());
        edges.sort_by_key(|m| std::cmp::Reverse(m.route.trim_end_matches('/').len()));
        info!(module = %module.name, route = %module.route, "edge module loaded");
    }

    /// Removes the edge module `name`; true if there was one.
    pub fn delete_edge(&self, name: &str) -> bool {
        let mut edges = self.edges.write();
        let before = edges.len();
        edges.retain(|m| m.name != name);
        edges.len() != before
    }

    /// Loads a configured module: an edge module if it exports
    /// `wasi:http/incoming-handler`, else a plugin library.
    pub fn load_configured(
        &self,
        host: &WasmHost,
        config: &ModuleConfig,
        bytes: &[u8],
    ) -> Result<(), LoadError> {
        let name = config.module_name();
        let route = config.route.clone().unwrap_or_else(|| format!("/{name}"));
        match self.load_edge(name, route, bytes, Some(config)) {
            Err(LoadError::NotAModule) => self
                .load_library(host, bytes, true, Some(config))
                .map(|_| ()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_whole_path_segments() {
        assert!(serves("/cache", "/cache"));
        assert!(serves("/cache", "/cache/a/b"));
        assert!(serves("/cache/", "/cache/a"));
        assert!(!serves("/cache", "/cachex"));
        assert!(!serves("/cache", "/"));
        assert!(serves("/", "/anything"));
    }

    #[test]
    fn names_follow_redis_rules() {
        assert!(valid_name("lb_add2"));
        assert!(!valid_name(""));
        assert!(!valid_name("bad-name"));
    }

    #[test]
    fn configured_limits_shape_the_sandbox() {
        let mut c = ModuleConfig::new("m.wasm");
        c.memory = Some(u64::MAX);
        c.deadline_ms = Some(0);
        c.grants = vec!["shared".into()];
        let s = sandbox_of("m".into(), Some(&c));
        assert_eq!(s.memory, POOL_MAX_MEMORY);
        assert_eq!(s.deadline, Duration::from_millis(1));
        assert_eq!(s.grants, vec!["shared".to_string()]);
    }
}

//! The modules view: every WASM module loaded in this region — edge modules
//! by route, plugin libraries with their functions — and its call and
//! failure counters (the figures /metrics exports). It only reads the
//! registry; deploying goes through the admin module API.

use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::server::Shared;
use crate::wasm::registry::ModuleStats;

/// One loaded module.
#[derive(Debug, Serialize)]
pub struct Module {
    /// Its name.
    pub name: String,
    /// `edge` (serves HTTP) or `plugin` (FCALL functions).
    pub kind: &'static str,
    /// The route an edge module serves.
    pub route: Option<String>,
    /// A plugin's functions.
    pub functions: Vec<String>,
    /// Size of the component in bytes (plugins; edge modules do not keep it).
    pub code_bytes: Option<usize>,
    /// Calls started.
    pub calls: u64,
    /// Calls that trapped.
    pub traps: u64,
    /// Calls stopped at their deadline.
    pub timeouts: u64,
    /// Calls whose guest answered an error.
    pub errors: u64,
}

fn counters(m: &mut Module, s: &ModuleStats) {
    m.calls = s.calls.load(Ordering::Relaxed);
    m.traps = s.traps.load(Ordering::Relaxed);
    m.timeouts = s.timeouts.load(Ordering::Relaxed);
    m.errors = s.errors.load(Ordering::Relaxed);
}

/// The modules of this region, edge modules first, each kind by name.
pub fn list(shared: &Shared) -> Vec<Module> {
    let reg = shared.wasm.registry();
    let mut out = Vec::new();
    let mut edges = reg.edges();
    edges.sort_by(|a, b| a.name.cmp(&b.name));
    for e in edges {
        let mut m = Module {
            name: e.name.clone(),
            kind: "edge",
            route: Some(e.route.clone()),
            functions: Vec::new(),
            code_bytes: None,
            calls: 0,
            traps: 0,
            timeouts: 0,
            errors: 0,
        };
        counters(&mut m, &e.stats);
        out.push(m);
    }
    let mut libs = reg.libraries();
    libs.sort_by(|a, b| a.name.cmp(&b.name));
    for l in libs {
        let mut m = Module {
            name: l.name.clone(),
            kind: "plugin",
            route: None,
            functions: l.functions.iter().map(|f| f.name.clone()).collect(),
            code_bytes: Some(l.code_len),
            calls: 0,
            traps: 0,
            timeouts: 0,
            errors: 0,
        };
        counters(&mut m, &l.stats);
        out.push(m);
    }
    out
}

//! The `[[modules]]` settings: which component files a server loads at start,
//! and each one's sandbox. Only describes settings; loading is the registry's.

use std::path::PathBuf;

use serde::Deserialize;

/// One module to load at start-up.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ModuleConfig {
    /// The component file (`.wasm`).
    pub path: PathBuf,
    /// Name of an edge module (default: the file name without `.wasm`, `-`
    /// and `_` kept). Plugins are named by their own manifest.
    #[serde(default)]
    pub name: Option<String>,
    /// Key namespace (default: the module's name).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Path prefix an edge module serves (default: `/<name>`).
    #[serde(default)]
    pub route: Option<String>,
    /// Other namespaces the module may reach with absolute keys (`/ns:key`).
    #[serde(default)]
    pub grants: Vec<String>,
    /// Linear-memory limit in bytes (default 64 MiB).
    #[serde(default)]
    pub memory: Option<u64>,
    /// Deadline of one call in milliseconds (default 50).
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

impl ModuleConfig {
    /// A module from `path` with default settings.
    pub fn new(path: impl Into<PathBuf>) -> ModuleConfig {
        ModuleConfig {
            path: path.into(),
            name: None,
            namespace: None,
            route: None,
            grants: Vec::new(),
            memory: None,
            deadline_ms: None,
        }
    }

    /// The edge module's name: as configured, else from the file name.
    pub fn module_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "module".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_parse_from_toml_with_defaults() {
        #[derive(Deserialize)]
        struct T {
            modules: Vec<ModuleConfig>,
        }
        let t: T = toml::from_str(
            r#"
            [[modules]]
            path = "target/edge_cache.wasm"
            route = "/cache"
            deadline-ms = 20
            [[modules]]
            path = "lb.wasm"
            grants = ["shared"]
            "#,
        )
        .unwrap();
        assert_eq!(t.modules[0].module_name(), "edge_cache");
        assert_eq!(t.modules[0].route.as_deref(), Some("/cache"));
        assert_eq!(t.modules[0].deadline_ms, Some(20));
        assert_eq!(t.modules[1].grants, vec!["shared".to_string()]);
        assert!(toml::from_str::<T>("[[modules]]\npath = \"x\"\nnope = 1").is_err());
    }
}

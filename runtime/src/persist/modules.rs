//! The deployed-module table on disk, in `<dir>/modules/`: one file per
//! component, named by the SHA-256 of its bytes (`<hash>.wasm`), and
//! `manifest.json` listing every entry (tombstones included, so a delete
//! survives a restart) with the hash of its component.
//!
//! Every file is written to a temporary name, synced and renamed into place,
//! components before the manifest that names them; so a crash leaves the
//! previous manifest with all its components, or the new one with all of
//! its. Components no manifest names any more are removed afterwards.
//!
//! This module only reads and writes files; which entries win and what they
//! load is `wasm::catalog`'s and `wasm::deploy`'s business.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::PersistError;
use crate::clock::{RegionId, Stamp};
use crate::wasm::catalog::{Code, Deployed, Entry, ModuleKind, sha256_hex};

/// The folder in the data directory.
pub const FOLDER: &str = "modules";
const MANIFEST: &str = "manifest.json";
const FORMAT: u32 = 1;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: u32,
    entries: Vec<ManifestEntry>,
}

#[derive(Serialize, Deserialize)]
struct ManifestEntry {
    name: String,
    stamp: u64,
    region: u16,
    at_ms: u64,
    /// Absent for a tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    module: Option<ManifestModule>,
}

#[derive(Serialize, Deserialize)]
struct ManifestModule {
    kind: ModuleKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    route: Option<String>,
    sha256: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` through a synced temporary file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".temp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io(path)(e)
    })
}

fn component_path(folder: &Path, sha256: &str) -> PathBuf {
    folder.join(format!("{sha256}.wasm"))
}

/// Writes the table `entries` under data directory `dir`.
pub fn save(dir: &Path, entries: &[Entry]) -> Result<(), PersistError> {
    let folder = dir.join(FOLDER);
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    let mut keep = HashSet::new();
    let mut manifest = Manifest {
        format: FORMAT,
        entries: Vec::with_capacity(entries.len()),
    };
    for e in entries {
        let module = match &e.module {
            None => None,
            Some(d) => {
                let sha256 = d.code.sha256();
                let path = component_path(&folder, &sha256);
                if !path.exists() {
                    write_atomically(&path, &d.code.0)?;
                }
                keep.insert(format!("{sha256}.wasm"));
                Some(ManifestModule {
                    kind: d.kind,
                    route: d.route.clone(),
                    sha256,
                })
            }
        };
        manifest.entries.push(ManifestEntry {
            name: e.name.clone(),
            stamp: e.stamp.0,
            region: e.region.0,
            at_ms: e.at_ms,
            module,
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| PersistError::Corrupt {
        path: folder.join(MANIFEST),
        why: e.to_string(),
    })?;
    write_atomically(&folder.join(MANIFEST), &json)?;
    super::sync_dir(&folder).map_err(io(&folder))?;
    // Only now may components the old manifest named go.
    if let Ok(files) = std::fs::read_dir(&folder) {
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".wasm") && !keep.contains(&name) {
                let _ = std::fs::remove_file(f.path());
            }
        }
    }
    Ok(())
}

/// Reads the table persisted under data directory `dir` (empty if none).
pub fn load(dir: &Path) -> Result<Vec<Entry>, PersistError> {
    let folder = dir.join(FOLDER);
    let path = folder.join(MANIFEST);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    let corrupt = |why: String| PersistError::Corrupt {
        path: path.clone(),
        why,
    };
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(corrupt(format!("unknown format {}", manifest.format)));
    }
    let mut entries = Vec::with_capacity(manifest.entries.len());
    for e in manifest.entries {
        let module = match e.module {
            None => None,
            Some(m) => {
                let file = component_path(&folder, &m.sha256);
                let bytes = std::fs::read(&file).map_err(io(&file))?;
                if sha256_hex(&bytes) != m.sha256 {
                    return Err(PersistError::Corrupt {
                        path: file,
                        why: "content does not match its hash".into(),
                    });
                }
                Some(Deployed {
                    kind: m.kind,
                    route: m.route,
                    code: Code(Arc::from(bytes)),
                })
            }
        };
        entries.push(Entry {
            name: e.name,
            stamp: Stamp(e.stamp),
            region: RegionId(e.region),
            at_ms: e.at_ms,
            module,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn entry(name: &str, stamp: u64, code: Option<&[u8]>) -> Entry {
        Entry {
            name: name.into(),
            stamp: Stamp(stamp),
            region: RegionId(2),
            at_ms: 99,
            module: code.map(|c| Deployed {
                kind: ModuleKind::Edge,
                route: Some("/r".into()),
                code: Code(Arc::from(c)),
            }),
        }
    }

    #[test]
    fn entries_and_tombstones_round_trip_and_unused_components_go() {
        let dir = Dir(std::env::temp_dir().join(format!(
            "meridian-modules-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        )));
        assert!(load(&dir.0).expect("empty").is_empty());
        let first = vec![entry("a", 1, Some(b"one")), entry("b", 2, None)];
        save(&dir.0, &first).expect("save");
        assert_eq!(load(&dir.0).expect("load"), first);
        let second = vec![entry("a", 3, Some(b"two")), entry("b", 2, None)];
        save(&dir.0, &second).expect("save");
        assert_eq!(load(&dir.0).expect("load"), second);
        let wasm: Vec<_> = std::fs::read_dir(dir.0.join(FOLDER))
            .expect("folder")
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().ends_with(".wasm"))
            .collect();
        assert_eq!(wasm.len(), 1, "the replaced component is removed");
        // A damaged component is reported, not loaded.
        std::fs::write(wasm[0].path(), b"tampered").expect("write");
        assert!(matches!(load(&dir.0), Err(PersistError::Corrupt { .. })));
    }
}

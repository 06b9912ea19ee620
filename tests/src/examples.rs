//! Where the example guests are once built for wasm32-wasip2.

use std::path::PathBuf;

/// The command that builds every guest this suite loads.
pub const BUILD: &str = "cargo build --release --target wasm32-wasip2 -p edge-cache -p rate-limiter -p leaderboard -p hostile-guest -p api-check -p kv-portable -p hello-edge -p session";

/// The component file of example crate `name` (`edge-cache` → `edge_cache.wasm`).
pub fn wasm_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/<test> → target
    let target = exe.ancestors().nth(3).expect("target dir").to_path_buf();
    let path = target
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(
        path.exists(),
        "{} is missing: build the guest examples first with `{BUILD}` (scripts/test.sh does)",
        path.display()
    );
    path
}

//! Real client libraries other than the `redis` crate, driven through their
//! everyday flows against a running server: redis-py (connect with RESP2
//! and RESP3, pipelines, transactions, scan iterators, blocking pops, the
//! `Script` and `Lock` helpers, pub/sub). `scripts/test.sh` installs
//! redis-py with pip before the tests run.

use std::path::Path;
use std::process::Command;

use meridian_tests::TestServer;

#[test]
fn redis_py_everyday_flows_work() {
    let s = TestServer::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/redis_py_flows.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(s.port().to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): scripts/test.sh installs it"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'redis'"),
        "redis-py is not installed: python3 -m pip install redis (scripts/test.sh does)"
    );
    assert!(
        out.status.success(),
        "redis-py flows failed:\n{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

//! Real client libraries driven through their everyday flows against a
//! running server: redis-py (connect with RESP2 and RESP3, pipelines,
//! transactions, scan iterators, blocking pops, the `Script` and `Lock`
//! helpers, pub/sub), ioredis (pipelines, MULTI and WATCH, scan streams,
//! blocking pops, `defineCommand` scripts, pub/sub) and the `redis` crate's
//! async API (multiplexed connection, pipelines, pub/sub). `scripts/test.sh`
//! installs redis-py with pip and ioredis with npm before the tests run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use meridian_tests::TestServer;
use redis::AsyncCommands;

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

#[test]
fn ioredis_everyday_flows_work() {
    let s = TestServer::start();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    assert!(
        dir.join("node_modules/ioredis").is_dir(),
        "ioredis is not installed: npm ci --prefix tests/node (scripts/test.sh does)"
    );
    let out = Command::new("node")
        .arg(dir.join("ioredis_flows.js"))
        .arg(s.port().to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "ioredis flows failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn redis_crate_async_flows_work() {
    let s = TestServer::start();
    let client = s.client();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let _: () = c.set_ex("greeting", "hello", 60).await.expect("SET");
        let v: String = c.get("greeting").await.expect("GET");
        assert_eq!(v, "hello");

        // Requests from clones of one multiplexed connection interleave.
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let mut c = c.clone();
                tokio::spawn(async move { c.incr::<_, _, i64>("n", 1).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("INCR");
        }
        assert_eq!(c.get::<_, i64>("n").await.expect("GET"), 20);

        let (a, b): (i64, String) = redis::pipe()
            .atomic()
            .incr("n", 5)
            .set("k", "v")
            .ignore()
            .get("k")
            .query_async(&mut c)
            .await
            .expect("MULTI pipeline");
        assert_eq!((a, b.as_str()), (25, "v"));

        let mut sub = client.get_async_pubsub().await.expect("pubsub");
        sub.subscribe("news").await.expect("SUBSCRIBE");
        let n: i64 = c.publish("news", "hi").await.expect("PUBLISH");
        assert_eq!(n, 1);
        let mut messages = sub.on_message();
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("message in time")
            .expect("stream open");
        assert_eq!(msg.get_channel_name(), "news");
        assert_eq!(msg.get_payload::<String>().expect("payload"), "hi");
    });
}

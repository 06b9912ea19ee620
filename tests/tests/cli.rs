//! The `meridian` binary as users run it: `dev` picks a free port and says
//! which, `serve` reads a TOML file (flags override it) and refuses a bad one
//! with a clear message, and SIGTERM shuts down cleanly.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary built next to this test (`scripts/test.sh` builds it first).
fn meridian() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("meridian");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p meridian` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Starts the binary and waits for the line that names its port.
fn start(args: &[&str]) -> (Child, u16) {
    let mut child = Command::new(meridian())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn meridian");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(p) = line.split("redis-cli -p ").nth(1) {
            return (child, p.trim().parse().expect("port"));
        }
        if let Some(a) = line.split("serving RESP on ").nth(1) {
            let port = a
                .trim()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port");
            return (child, port);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("meridian did not report its port");
}

fn ping(port: u16) -> String {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let mut c = client.get_connection().expect("connect");
    redis::cmd("PING").query(&mut c).expect("ping")
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("meridian did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn dev_takes_the_next_free_port_and_stops_on_sigterm() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (child, got) = start(&["dev", "--port", &port.to_string()]);
    assert_ne!(got, port, "the taken port must be skipped");
    assert!(got > port && got < port + 20);
    assert_eq!(ping(got), "PONG");
    let status = terminate(child);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[test]
fn serve_reads_the_config_file_and_flags_override_it() {
    let dir = std::env::temp_dir().join(format!("meridian-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("meridian.toml");
    std::fs::write(
        &file,
        "port = 0\nmaxmemory = \"10mb\"\nmaxmemory-policy = \"allkeys-lru\"\n",
    )
    .expect("write");
    let (child, port) = start(&[
        "serve",
        "--config",
        file.to_str().expect("path"),
        "--maxmemory-policy",
        "volatile-ttl",
    ]);
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let mut c = client.get_connection().expect("connect");
    let mem: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut c)
        .expect("config");
    assert_eq!(
        mem,
        vec!["maxmemory".to_string(), (10 * 1024 * 1024).to_string()]
    );
    let policy: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query(&mut c)
        .expect("config");
    assert_eq!(policy[1], "volatile-ttl");
    let status = terminate(child);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[test]
fn serve_refuses_a_bad_config_with_a_clear_message() {
    let dir = std::env::temp_dir().join(format!("meridian-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "port = 0\nmaxmemroy = 5\n").expect("write");
    let out = Command::new(meridian())
        .args(["serve", "--config", file.to_str().expect("path")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("maxmemroy"),
        "{err}"
    );
}

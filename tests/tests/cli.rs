//! The `meridian` binary as users run it: `dev` picks a free port and says
//! which, `serve` reads a TOML file (flags override it) and refuses a bad one
//! with a clear message, and SIGTERM shuts down cleanly.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use meridian_tests::{TempDir, free_port, meridian_bin};

/// Starts the binary and waits for the line that names its port.
fn start(args: &[&str]) -> (Child, u16) {
    let mut child = Command::new(meridian_bin())
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
    let out = Command::new(meridian_bin())
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

/// Runs the binary expecting it to exit on its own within 20 s; returns its
/// exit code and everything it printed.
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(meridian_bin())
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn meridian");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("meridian {args:?} kept running; it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn serve_refuses_a_network_address_without_a_password() {
    let (code, text) = run_to_exit(&["serve", "--bind", "0.0.0.0", "--port", "0"], &[]);
    assert_ne!(code, Some(0));
    assert!(
        text.contains("refusing to listen on 0.0.0.0 without authentication")
            && text.contains("allow-unauthenticated"),
        "{text}"
    );
    // The admin endpoint needs its own token beyond loopback.
    let (code, text) = run_to_exit(
        &[
            "serve",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--metrics-port",
            "0",
        ],
        &[("MERIDIAN_REQUIREPASS", "a password")],
    );
    assert_ne!(code, Some(0));
    assert!(text.contains("admin-token"), "{text}");
}

#[test]
fn dev_is_loopback_only_and_says_auth_is_relaxed() {
    let (code, text) = run_to_exit(&["dev", "--bind", "0.0.0.0", "--port", "0"], &[]);
    assert_eq!(code, Some(2));
    assert!(text.contains("dev mode binds loopback only"), "{text}");

    let mut child = Command::new(meridian_bin())
        .args(["dev", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn meridian");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    while let Some(Ok(line)) = lines.next() {
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("redis-cli -p") {
            break;
        }
    }
    assert!(
        banner.contains("authentication relaxed (no password) because dev mode is loopback-only"),
        "{banner}"
    );
    let status = terminate(child);
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_takes_the_password_from_the_environment() {
    let mut child = Command::new(meridian_bin())
        .args(["serve", "--port", "0"])
        .env("MERIDIAN_REQUIREPASS", "from-env")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn meridian");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut port = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(a) = line.split("serving RESP on ").nth(1) {
            port = a
                .trim()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok());
            break;
        }
    }
    let port = port.expect("port");
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let mut c = client.get_connection().expect("connect");
    let e = redis::cmd("PING")
        .query::<String>(&mut c)
        .expect_err("needs AUTH");
    assert_eq!(e.code(), Some("NOAUTH"));
    let client =
        redis::Client::open(format!("redis://:from-env@127.0.0.1:{port}/")).expect("client");
    let mut c = client.get_connection().expect("connect with password");
    let pong: String = redis::cmd("PING").query(&mut c).expect("ping");
    assert_eq!(pong, "PONG");
    let status = terminate(child);
    assert!(status.success(), "{status:?}");
}

#[test]
fn sighup_reloads_the_tls_certificate() {
    let certs = meridian_tests::TestCerts::generate();
    let path = |n: &str| certs.path(n).display().to_string();
    let mut child = Command::new(meridian_bin())
        .args(["serve", "--port", "0", "--tls-port", "0"])
        .args(["--tls-cert-file", &path("server.pem")])
        .args(["--tls-key-file", &path("server.key")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn meridian");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut tls_port = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(a) = line.split("serving RESP over TLS on ").nth(1) {
            tls_port = a
                .trim()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok());
            break;
        }
    }
    let tls_port = tls_port.expect("TLS port in the banner");
    let ping = |ca: &str| -> redis::RedisResult<String> {
        let client = redis::Client::build_with_tls(
            format!("rediss://127.0.0.1:{tls_port}/"),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.as_bytes().to_vec()),
            },
        )?;
        let mut c = client.get_connection_with_timeout(Duration::from_secs(5))?;
        redis::cmd("PING").query(&mut c)
    };
    let old_ca = certs.read("ca.pem");
    assert_eq!(ping(&old_ca).expect("TLS ping"), "PONG");
    certs.renew_server();
    let new_ca = certs.read("ca.pem").trim_start_matches(&old_ca).to_string();
    assert!(ping(&new_ca).is_err(), "not reloaded yet");
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-HUP", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ping(&new_ca).is_err() {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the certificate"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = terminate(child);
    assert!(status.success(), "{status:?}");
}

/// A port `p` such that `p` and `p + 1` are both free right now.
fn free_pair() -> u16 {
    loop {
        let p = free_port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

/// The status line of `GET path` on the admin port.
fn admin_status(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return "unreachable".into();
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    if s.write_all(req.as_bytes()).is_err() || s.read_to_string(&mut out).is_err() {
        return "unreachable".into();
    }
    out.lines().next().unwrap_or_default().to_string()
}

/// The TOML of one region of a two-region deployment using the files
/// `meridian certs` wrote into `certs`.
fn region_toml(certs: &std::path::Path, me: (u16, &str, u16), peer: (u16, &str, u16)) -> String {
    let file = |n: &str| certs.join(n).display().to_string().replace('\\', "/");
    format!(
        "port = 0\nmetrics-port = {}\nregion-id = {}\nregion-name = \"{}\"\n\n[replication]\nlisten = \"127.0.0.1:{}\"\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\n[[replication.peers]]\nid = {}\nname = \"{}\"\naddr = \"127.0.0.1:{}\"\n",
        me.2 + 1,
        me.0,
        me.1,
        me.2,
        file("ca.pem"),
        file(&format!("{}.pem", me.1)),
        file(&format!("{}-key.pem", me.1)),
        peer.0,
        peer.1,
        peer.2
    )
}

/// What an operator does before a deployment: `meridian certs` issues the
/// regions' mutual-TLS material (never overwriting it), `serve --check`
/// accepts a configuration using it and names what is wrong otherwise, and
/// two regions started from those files replicate to each other.
#[test]
fn certs_issue_working_replication_material_and_check_validates_configs() {
    let temp = TempDir::new("meridian-cli-certs");
    let dir = temp.path();
    let certs = dir.join("certs");
    let certs_arg = certs.to_str().expect("path");
    let (code, text) = run_to_exit(&["certs", "--regions", "eu,us", "--out", certs_arg], &[]);
    assert_eq!(code, Some(0), "{text}");
    for f in [
        "ca.pem",
        "ca-key.pem",
        "eu.pem",
        "eu-key.pem",
        "us.pem",
        "us-key.pem",
    ] {
        assert!(certs.join(f).exists(), "{f} missing; output: {text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(certs.join("eu-key.pem"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "a private key is readable by others");
    }
    let ca_before = std::fs::read(certs.join("ca.pem")).expect("ca");
    let (code, text) = run_to_exit(&["certs", "--regions", "ap", "--out", certs_arg], &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("refusing to overwrite"), "{text}");
    assert_eq!(std::fs::read(certs.join("ca.pem")).expect("ca"), ca_before);

    // Each region's admin port is its replication port + 1.
    let (eu_repl, us_repl) = (free_pair(), free_pair());
    let eu = dir.join("eu.toml");
    let us = dir.join("us.toml");
    std::fs::write(
        &eu,
        region_toml(&certs, (1, "eu", eu_repl), (2, "us", us_repl)),
    )
    .expect("eu");
    std::fs::write(
        &us,
        region_toml(&certs, (2, "us", us_repl), (1, "eu", eu_repl)),
    )
    .expect("us");
    let (code, text) = run_to_exit(
        &["serve", "--config", eu.to_str().expect("p"), "--check"],
        &[],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("configuration OK") && text.contains("us=127.0.0.1"),
        "{text}"
    );
    let broken = dir.join("broken.toml");
    std::fs::write(
        &broken,
        region_toml(&certs, (1, "nowhere", eu_repl), (2, "us", us_repl)),
    )
    .expect("broken");
    let (code, text) = run_to_exit(
        &["serve", "--config", broken.to_str().expect("p"), "--check"],
        &[],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("nowhere.pem"), "{text}");

    let (eu_child, eu_port) = start(&["serve", "--config", eu.to_str().expect("p")]);
    let mut leftovers = KillOnDrop(vec![eu_child.id()]);
    // Alone, a fresh region cannot know whether it lost acknowledged data:
    // it is alive but not ready (so Kubernetes sends it no traffic).
    assert!(admin_status(eu_repl + 1, "/healthz").contains("200"));
    assert!(admin_status(eu_repl + 1, "/readyz").contains("503"));
    let (us_child, us_port) = start(&["serve", "--config", us.to_str().expect("p")]);
    leftovers.0.push(us_child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !admin_status(eu_repl + 1, "/readyz").contains("200") {
        assert!(
            Instant::now() < deadline,
            "eu never became ready once us was up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let client = |port: u16| {
        redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
            .expect("connect")
    };
    let mut c_eu = client(eu_port);
    let _: () = redis::cmd("SET")
        .arg("greeting")
        .arg("from eu")
        .query(&mut c_eu)
        .expect("set");
    let mut c_us = client(us_port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen: Option<String> = None;
    while Instant::now() < deadline && seen.is_none() {
        seen = redis::cmd("GET")
            .arg("greeting")
            .query(&mut c_us)
            .expect("get");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        seen.as_deref(),
        Some("from eu"),
        "no replication over the issued certificates"
    );
    leftovers.0.clear();
    assert!(terminate(eu_child).success());
    assert!(terminate(us_child).success());
}

/// Kills the listed processes when a test fails half-way, so a failed run
/// leaves no server behind.
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

#[test]
fn dev_serves_the_web_console_for_every_region() {
    let mut child = Command::new(meridian_bin())
        .args(["dev", "--regions", "3", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn meridian");
    let stdout = child.stdout.take().expect("stdout");
    let mut consoles: Vec<std::net::SocketAddr> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(url) = line.split("console:  http://").nth(1) {
            let addr = url.split("/ui").next().unwrap_or_default();
            consoles.push(addr.parse().expect("console address"));
        }
        if line.contains("Stop with Ctrl-C") {
            break;
        }
    }
    assert_eq!(consoles.len(), 3, "one console per region: {consoles:?}");
    let page = meridian_tests::http::get(consoles[0], "/ui", &[]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Meridian console"));
    // No login in dev mode: the default user needs no password.
    let mut c = meridian_tests::console::ConsoleClient::new(consoles[0]);
    assert_eq!(c.ok("/ui/api/session")["user"], "default");
    let mut links = serde_json::Value::Null;
    let up = meridian_tests::eventually(Duration::from_secs(20), || {
        links = c.ok("/ui/api/regions")["links"].clone();
        links
            .as_array()
            .is_some_and(|l| l.len() == 2 && l.iter().all(|p| p["state"] == "up"))
    });
    assert!(up, "{links}");
    let status = terminate(child);
    assert!(status.success(), "{status:?}");
}

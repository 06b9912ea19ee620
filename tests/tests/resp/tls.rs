//! RESP over TLS (`tls-port`): the `redis` crate and redis-cli connect with
//! the CA's certificate, client certificates are required when
//! `tls-auth-clients` says so, and a reload picks up renewed files.

use std::process::Command;

use meridian::config::TlsAuthClients;
use meridian_tests::call::ok;
use meridian_tests::{TestCerts, TestServer, redis_cli};
use redis::{ClientTlsConfig, TlsCertificates};

fn tls_server(certs: &TestCerts, auth: TlsAuthClients) -> TestServer {
    let (cert, key, ca) = (
        certs.path("server.pem"),
        certs.path("server.key"),
        certs.path("ca.pem"),
    );
    TestServer::start_with(move |c| {
        c.tls_port = Some(0);
        c.tls_cert_file = Some(cert);
        c.tls_key_file = Some(key);
        if auth != TlsAuthClients::No {
            c.tls_ca_cert_file = Some(ca);
        }
        c.tls_auth_clients = Some(auth);
    })
}

fn tls_port(s: &TestServer) -> u16 {
    s.shared().tls_addr.expect("TLS listener").port()
}

/// A TLS connection trusting `ca_pem`, presenting `client` (cert, key) if given.
fn connect(
    s: &TestServer,
    ca_pem: String,
    client: Option<(String, String)>,
) -> redis::RedisResult<redis::Connection> {
    let url = format!("rediss://127.0.0.1:{}/", tls_port(s));
    let client = redis::Client::build_with_tls(
        url,
        TlsCertificates {
            client_tls: client.map(|(cert, key)| ClientTlsConfig {
                client_cert: cert.into_bytes(),
                client_key: key.into_bytes(),
            }),
            root_cert: Some(ca_pem.into_bytes()),
        },
    )?;
    let mut c = client.get_connection_with_timeout(std::time::Duration::from_secs(5))?;
    // A refused client certificate may only show at the first exchange.
    redis::cmd("PING").query::<String>(&mut c)?;
    Ok(c)
}

#[test]
fn tls_port_serves_resp_to_the_redis_crate() {
    let certs = TestCerts::generate();
    let s = tls_server(&certs, TlsAuthClients::No);
    let mut c = connect(&s, certs.read("ca.pem"), None).expect("TLS connection");
    let _: () = ok(&mut c, &["SET", "k", "over tls"]);
    let mut plain = s.conn();
    let v: String = ok(&mut plain, &["GET", "k"]);
    assert_eq!(v, "over tls");
    let port: Vec<String> = ok(&mut plain, &["CONFIG", "GET", "tls-port"]);
    assert_eq!(port[1], tls_port(&s).to_string());
    // A client that does not trust the server's CA refuses it.
    let other = TestCerts::generate();
    assert!(connect(&s, other.read("ca.pem"), None).is_err());
}

#[test]
fn client_certificates_are_checked_when_required() {
    let certs = TestCerts::generate();
    let s = tls_server(&certs, TlsAuthClients::Yes);
    let ca = certs.read("ca.pem");
    let good = (certs.read("client.pem"), certs.read("client.key"));
    let rogue = (certs.read("rogue.pem"), certs.read("rogue.key"));
    let mut c = connect(&s, ca.clone(), Some(good)).expect("trusted client certificate");
    let pong: String = ok(&mut c, &["PING"]);
    assert_eq!(pong, "PONG");
    assert!(
        connect(&s, ca.clone(), None).is_err(),
        "no client certificate must be refused"
    );
    assert!(
        connect(&s, ca, Some(rogue)).is_err(),
        "a certificate from another CA must be refused"
    );
}

#[test]
fn optional_client_certificates() {
    let certs = TestCerts::generate();
    let s = tls_server(&certs, TlsAuthClients::Optional);
    let ca = certs.read("ca.pem");
    assert!(connect(&s, ca.clone(), None).is_ok());
    let rogue = (certs.read("rogue.pem"), certs.read("rogue.key"));
    assert!(connect(&s, ca, Some(rogue)).is_err());
}

#[test]
fn redis_cli_speaks_tls() {
    let certs = TestCerts::generate();
    let s = tls_server(&certs, TlsAuthClients::Yes);
    let path = |n: &str| certs.path(n).display().to_string();
    let run = |extra: &[String]| {
        Command::new(redis_cli())
            .args(["--tls", "--cacert", &path("ca.pem"), "-h", "127.0.0.1"])
            .args(["-p", &tls_port(&s).to_string()])
            .args(extra)
            .args(["SET", "cli", "tls"])
            .output()
            .expect("run redis-cli")
    };
    let out = run(&[
        "--cert".into(),
        path("client.pem"),
        "--key".into(),
        path("client.key"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK", "{out:?}");
    let out = run(&[]);
    assert_ne!(String::from_utf8_lossy(&out.stdout).trim(), "OK", "{out:?}");
    let mut plain = s.conn();
    let v: String = ok(&mut plain, &["GET", "cli"]);
    assert_eq!(v, "tls");
}

#[test]
fn reload_picks_up_a_renewed_certificate() {
    let certs = TestCerts::generate();
    let s = tls_server(&certs, TlsAuthClients::No);
    let old_ca = certs.read("ca.pem");
    let mut before = connect(&s, old_ca.clone(), None).expect("connect");
    let new_cert = certs.renew_server();
    // The renewed chain is trusted only through the new CA (last in ca.pem).
    let both = certs.read("ca.pem");
    let new_ca = both.trim_start_matches(&old_ca).to_string();
    assert!(!new_cert.is_empty());
    assert!(
        connect(&s, new_ca.clone(), None).is_err(),
        "still the old certificate"
    );
    s.shared()
        .tls
        .as_ref()
        .expect("tls")
        .reload()
        .expect("reload");
    connect(&s, new_ca, None).expect("the renewed certificate is served");
    // Open connections are not touched.
    let pong: String = ok(&mut before, &["PING"]);
    assert_eq!(pong, "PONG");
    // A broken file keeps the current certificate.
    std::fs::write(certs.path("server.key"), "garbage").expect("write");
    assert!(s.shared().tls.as_ref().expect("tls").reload().is_err());
    connect(&s, both, None).expect("still serving");
}

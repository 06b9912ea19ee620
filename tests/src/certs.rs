//! Throw-away TLS material for tests: a CA, a server certificate for
//! `localhost` / `127.0.0.1`, a client certificate from the same CA and one
//! from a stranger's CA, written as PEM files into a temporary directory.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// PEM files in a directory removed on drop.
pub struct TestCerts {
    dir: PathBuf,
}

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA cert");
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

fn leaf(ca: &Ca, name: &str, purpose: ExtendedKeyUsagePurpose) -> (String, String) {
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![purpose];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca.issuer).expect("sign");
    (cert.pem(), key.serialize_pem())
}

impl TestCerts {
    /// Generates everything into a fresh directory.
    pub fn generate() -> TestCerts {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "meridian-certs-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("cert dir");
        let good = ca("meridian test CA");
        let stranger = ca("someone else's CA");
        let (server, server_key) = leaf(&good, "server", ExtendedKeyUsagePurpose::ServerAuth);
        let (client, client_key) = leaf(&good, "client", ExtendedKeyUsagePurpose::ClientAuth);
        let (rogue, rogue_key) = leaf(&stranger, "rogue", ExtendedKeyUsagePurpose::ClientAuth);
        for (name, pem) in [
            ("ca.pem", &good.pem),
            ("server.pem", &server),
            ("server.key", &server_key),
            ("client.pem", &client),
            ("client.key", &client_key),
            ("rogue.pem", &rogue),
            ("rogue.key", &rogue_key),
        ] {
            std::fs::write(dir.join(name), pem).expect("write PEM");
        }
        TestCerts { dir }
    }

    /// Replaces the server certificate and key with new ones from the same
    /// CA (for reload tests); returns the new certificate's PEM.
    pub fn renew_server(&self) -> String {
        let ca_pem = self.read("ca.pem");
        // The CA key is gone; a renewal here comes from a new CA whose PEM is
        // appended to ca.pem, which is what a client trusting both sees.
        let next = ca("meridian test CA (renewed)");
        let (server, key) = leaf(&next, "server", ExtendedKeyUsagePurpose::ServerAuth);
        std::fs::write(self.path("ca.pem"), format!("{ca_pem}{}", next.pem)).expect("ca");
        std::fs::write(self.path("server.pem"), &server).expect("cert");
        std::fs::write(self.path("server.key"), key).expect("key");
        server
    }

    /// Path of one of the files (`ca.pem`, `server.key`, `client.pem`, …).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Contents of one of the files.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read PEM")
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

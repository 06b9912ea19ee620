//! Mutual TLS for replication links: loading PEM material, throw-away dev
//! material, the rustls configs of both ends, and the identity in a peer's
//! certificate.
//!
//! Every link is authenticated both ways against one deployment CA: the
//! listener requires a client certificate signed by it, the dialler verifies
//! the listener against it and presents its own. A region is named by its
//! certificate's subject common name (or, without one, its first DNS name), and
//! the link layer checks that name against the region a peer claims.
//!
//! This module must not open sockets or know about frames; it uses the `ring`
//! provider explicitly so no process-wide default provider is needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tracing::warn;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::LinkError;

/// Why TLS material or a TLS config could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A PEM file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A PEM file or string holds no valid item of the kind expected.
    #[error("invalid PEM in {what}: {source}")]
    Pem {
        /// The file, or the field of [`TlsMaterial`].
        what: String,
        /// The parse error.
        source: rustls::pki_types::pem::Error,
    },
    /// The CA certificate was refused as a trust anchor.
    #[error("CA certificate in {what} is not usable: {source}")]
    BadCa {
        /// The file, or the field of [`TlsMaterial`].
        what: String,
        /// Why.
        source: rustls::Error,
    },
    /// rustls refused the certificate, key or verifier combination.
    #[error("TLS configuration refused: {0}")]
    Config(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// Generating certificates failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The PEM material of one region: the deployment CA, its own certificate
/// (chain, leaf first) and its private key.
#[derive(Clone)]
pub struct TlsMaterial {
    /// The CA every peer's certificate must be signed by.
    pub ca_cert_pem: String,
    /// This region's certificate, optionally followed by intermediates.
    pub cert_pem: String,
    /// This region's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    // Never print the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

/// A new deployment CA and one certificate per region signed by it: what
/// `meridian certs` writes for a production deployment and what
/// `meridian dev` generates and forgets.
pub struct RegionCertificates {
    /// The CA certificate every region trusts.
    pub ca_cert_pem: String,
    /// The CA's private key: keep it offline; it signs any future region.
    pub ca_key_pem: String,
    /// Each region's material, in the order the regions were given.
    pub regions: Vec<TlsMaterial>,
}

impl std::fmt::Debug for RegionCertificates {
    // Never print private keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionCertificates")
            .field("regions", &self.regions.len())
            .finish_non_exhaustive()
    }
}

impl RegionCertificates {
    /// Issues a CA named `ca_name` and, per region, a certificate whose
    /// common name and first DNS name are the region name (what the link
    /// layer checks), followed by `extra_names` (DNS names or IP addresses
    /// the region is also reached by). Every certificate may act as client
    /// and server, since links are dialled both ways.
    pub fn issue(
        ca_name: &str,
        regions: &[&str],
        extra_names: &[&str],
    ) -> Result<RegionCertificates, TlsError> {
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca_cert_pem = ca_cert.pem();
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(ca_params, ca_key);

        let mut out = Vec::with_capacity(regions.len());
        for region in regions {
            let names: Vec<String> = std::iter::once(*region)
                .chain(extra_names.iter().copied())
                .map(str::to_string)
                .collect();
            let mut params = CertificateParams::new(names)?;
            params.distinguished_name.push(DnType::CommonName, *region);
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &issuer)?;
            out.push(TlsMaterial {
                ca_cert_pem: ca_cert_pem.clone(),
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            });
        }
        Ok(RegionCertificates {
            ca_cert_pem,
            ca_key_pem,
            regions: out,
        })
    }

    /// Writes `ca.pem`, `ca-key.pem` and, per region, `<region>.pem` and
    /// `<region>-key.pem` into `dir` (created if missing). Private keys are
    /// readable by the owner only. Refuses to replace an existing file: a
    /// deployment's CA overwritten by accident cannot be recovered. Returns
    /// the files written.
    pub fn write(&self, dir: &Path, regions: &[&str]) -> Result<Vec<PathBuf>, TlsError> {
        let io = |path: &Path, source| TlsError::Write {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut files = vec![
            (dir.join("ca.pem"), self.ca_cert_pem.as_str(), false),
            (dir.join("ca-key.pem"), self.ca_key_pem.as_str(), true),
        ];
        for (region, m) in regions.iter().zip(&self.regions) {
            files.push((dir.join(format!("{region}.pem")), &m.cert_pem, false));
            files.push((dir.join(format!("{region}-key.pem")), &m.key_pem, true));
        }
        if let Some((path, _, _)) = files.iter().find(|(p, _, _)| p.exists()) {
            return Err(io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "already exists; refusing to overwrite",
                ),
            ));
        }
        for (path, pem, secret) in &files {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            if *secret {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            #[cfg(not(unix))]
            let _ = secret;
            let mut file = options.open(path).map_err(|e| io(path, e))?;
            std::io::Write::write_all(&mut file, pem.as_bytes()).map_err(|e| io(path, e))?;
        }
        Ok(files.into_iter().map(|(p, _, _)| p).collect())
    }
}

impl TlsMaterial {
    /// Reads the three PEM files and checks that each parses, so a bad file
    /// is reported by name at startup rather than at the first connection.
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| TlsError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        let material = TlsMaterial {
            ca_cert_pem: read(ca)?,
            cert_pem: read(cert)?,
            key_pem: read(key)?,
        };
        roots(&material.ca_cert_pem, &ca.display().to_string())?;
        certs(&material.cert_pem, &cert.display().to_string())?;
        private_key(&material.key_pem, &key.display().to_string())?;
        Ok(material)
    }

    /// A throw-away CA and one certificate per region, for `meridian dev`
    /// and tests. Each certificate has the region name as common name and
    /// DNS name, plus `localhost` and `127.0.0.1`, and may act as both client
    /// and server. Returns the CA certificate PEM and the regions' material
    /// in the order given. The CA key is dropped: nothing else can be issued.
    pub fn generate_dev(regions: &[&str]) -> Result<(String, Vec<TlsMaterial>), TlsError> {
        warn!(
            ?regions,
            "generating throw-away TLS certificates for replication (dev only)"
        );
        let issued = RegionCertificates::issue(
            "meridian dev CA (throw-away)",
            regions,
            &["localhost", "127.0.0.1"],
        )?;
        Ok((issued.ca_cert_pem, issued.regions))
    }

    /// The listener's config: presents our certificate and *requires* a
    /// client certificate signed by the CA.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = provider();
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots(&self.ca_cert_pem, "ca_cert_pem")?),
            provider.clone(),
        )
        .build()?;
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                certs(&self.cert_pem, "cert_pem")?,
                private_key(&self.key_pem, "key_pem")?,
            )?;
        Ok(Arc::new(config))
    }

    /// The dialler's config: verifies the listener against the CA and
    /// presents our certificate.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(&self.ca_cert_pem, "ca_cert_pem")?)
            .with_client_auth_cert(
                certs(&self.cert_pem, "cert_pem")?,
                private_key(&self.key_pem, "key_pem")?,
            )?;
        Ok(Arc::new(config))
    }
}

/// Who is at the other end of a verified TLS connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The region name: the subject common name, or the first DNS name when
    /// the certificate has no common name.
    pub name: String,
    /// Every DNS name in the certificate's subject alternative names.
    pub dns_names: Vec<String>,
}

impl PeerIdentity {
    /// The identity in a peer's end-entity certificate (already verified by
    /// rustls against the CA; this only reads names from it).
    pub fn from_der(der: &[u8]) -> Result<Self, LinkError> {
        let bad = |why: String| LinkError::PeerCertificate(why);
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        let dns_names: Vec<String> = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some(dns.to_string()),
                    _ => None,
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(e) => return Err(bad(format!("bad subject alternative names: {e}"))),
        };
        let name = common_name
            .or_else(|| dns_names.first().cloned())
            .ok_or_else(|| bad("neither a common name nor a DNS name".into()))?;
        Ok(PeerIdentity { name, dns_names })
    }
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_err = |source| TlsError::Pem {
        what: what.to_string(),
        source,
    };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err)?;
    if certs.is_empty() {
        return Err(pem_err(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certs)
}

pub(crate) fn private_key(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|source| TlsError::Pem {
        what: what.to_string(),
        source,
    })
}

pub(crate) fn roots(pem: &str, what: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(pem, what)? {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            what: what.to_string(),
            source,
        })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_material_builds_both_configs_and_names_the_region() {
        let (ca, material) = TlsMaterial::generate_dev(&["us-east", "eu-west"]).expect("dev");
        assert_eq!(material.len(), 2);
        for m in &material {
            assert_eq!(m.ca_cert_pem, ca);
            m.server_config().expect("server config");
            m.client_config().expect("client config");
        }
        let der = certs(&material[1].cert_pem, "test").expect("cert");
        let id = PeerIdentity::from_der(&der[0]).expect("identity");
        assert_eq!(id.name, "eu-west");
        assert_eq!(id.dns_names, ["eu-west", "localhost"]);
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("meridian-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let (_, material) = TlsMaterial::generate_dev(&["a"]).expect("dev");
        let ca = dir.join("ca.pem");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&ca, &material[0].ca_cert_pem).expect("write");
        std::fs::write(&cert, &material[0].cert_pem).expect("write");
        std::fs::write(&key, "not a key").expect("write");

        let err = TlsMaterial::from_files(&ca, &cert, &key).expect_err("bad key");
        assert!(err.to_string().contains("key.pem"), "{err}");
        let missing = dir.join("missing.pem");
        let err = TlsMaterial::from_files(&missing, &cert, &key).expect_err("missing");
        assert!(err.to_string().contains("missing.pem"), "{err}");

        std::fs::write(&key, &material[0].key_pem).expect("write");
        let loaded = TlsMaterial::from_files(&ca, &cert, &key).expect("valid files");
        loaded.server_config().expect("server config");
        std::fs::remove_dir_all(&dir).ok();
    }
}

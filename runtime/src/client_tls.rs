//! TLS for the client-facing RESP listener (`tls-port`): the server
//! certificate and key from files, client certificates checked against
//! `tls-ca-cert-file` when `tls-auth-clients` asks for them, and a reload
//! that picks up renewed files (SIGHUP) without dropping connections.
//!
//! PEM parsing is shared with the replication links
//! ([`crate::replication::tls`]); this module must not accept sockets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, TlsAuthClients};
use crate::replication::TlsError;
use crate::replication::tls::{certs, private_key, provider, roots};

/// The TLS settings of a listener and the acceptor built from them.
pub struct ListenerTls {
    cert: PathBuf,
    key: PathBuf,
    ca: Option<PathBuf>,
    auth_clients: TlsAuthClients,
    acceptor: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerTls")
            .field("cert", &self.cert)
            .field("ca", &self.ca)
            .field("auth_clients", &self.auth_clients)
            .finish_non_exhaustive()
    }
}

impl ListenerTls {
    /// The TLS of `config`'s RESP listener, or `None` without `tls-port`.
    /// Files are read now, so a bad one stops the start with its name.
    pub fn from_config(config: &Config) -> Result<Option<ListenerTls>, TlsError> {
        if config.tls_port.is_none() {
            return Ok(None);
        }
        let (Some(cert), Some(key)) = (&config.tls_cert_file, &config.tls_key_file) else {
            // `Config::validate` refuses this; keep the listener off anyway.
            return Ok(None);
        };
        let auth_clients = config.tls_auth_clients();
        let ca = config.tls_ca_cert_file.clone();
        let server = build(cert, key, ca.as_deref(), auth_clients)?;
        Ok(Some(ListenerTls {
            cert: cert.clone(),
            key: key.clone(),
            ca,
            auth_clients,
            acceptor: RwLock::new(TlsAcceptor::from(server)),
        }))
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.read().clone()
    }

    /// Re-reads the certificate, key and CA files. On error the current
    /// ones stay in use; connections already open are not touched.
    pub fn reload(&self) -> Result<(), TlsError> {
        let server = build(&self.cert, &self.key, self.ca.as_deref(), self.auth_clients)?;
        *self.acceptor.write() = TlsAcceptor::from(server);
        Ok(())
    }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn build(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
    auth_clients: TlsAuthClients,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certs(&read(cert)?, &cert.display().to_string())?;
    let key_der = private_key(&read(key)?, &key.display().to_string())?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match (auth_clients, ca) {
        (TlsAuthClients::No, _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let store = roots(&read(ca)?, &ca.display().to_string())?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider);
            let verifier = if mode == TlsAuthClients::Optional {
                verifier.allow_unauthenticated().build()?
            } else {
                verifier.build()?
            };
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(Arc::new(builder.with_single_cert(chain, key_der)?))
}

//! rustls server configurations from the `[tls]` certificate, and the self-signed
//! development certificate generated when `generate_dev_cert` is set and none exists.
//! The certificate is read again on demand (SIGHUP): connections already open keep
//! theirs, new handshakes get the new one.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsConfig;

/// Names the development certificate is valid for.
const DEV_CERT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why no TLS configuration could be built; names the key and the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing and no development certificate may be generated.
    #[error(
        "tls.{key} = {path}: no such file (set tls.generate_dev_cert = true for a development certificate)"
    )]
    Missing {
        /// `cert` or `key`.
        key: &'static str,
        /// The configured path.
        path: String,
    },
    /// A file does not hold what it should.
    #[error("tls.{key} = {path}: {message}")]
    Invalid {
        /// `cert` or `key`.
        key: &'static str,
        /// The configured path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The development certificate could not be generated or written.
    #[error("tls: cannot generate the development certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate and key.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// What [`server_config`] did about the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertSource {
    /// The configured files were read.
    Files,
    /// A self-signed development certificate was generated into the configured paths.
    GeneratedDev,
}

/// The certificate and key in service, replaced whole by [`Certificates::reload`].
#[derive(Debug)]
pub struct Certificates {
    tls: TlsConfig,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

impl Certificates {
    /// Reads the certificate and key files again; on any problem the one in service
    /// stays and the error says what is wrong.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = certified_key(&self.tls)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    /// A rustls configuration serving these certificates (TLS 1.2 and 1.3), offering
    /// the given ALPN protocols.
    pub fn server_config(self: &Arc<Self>, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

fn certified_key(tls: &TlsConfig) -> Result<CertifiedKey, TlsError> {
    let certs = read_certs(&tls.cert)?;
    let key = read_key(&tls.key)?;
    Ok(CertifiedKey::from_der(
        certs,
        key,
        &rustls::crypto::ring::default_provider(),
    )?)
}

/// Loads the `[tls]` certificate, generating a self-signed development certificate
/// first when allowed and none exists.
pub fn certificates(tls: &TlsConfig) -> Result<(Arc<Certificates>, CertSource), TlsError> {
    let source = if !tls.cert.exists() && !tls.key.exists() && tls.generate_dev_cert {
        generate_dev_cert(&tls.cert, &tls.key)?;
        tracing::warn!(
            cert = %tls.cert.display(),
            key = %tls.key.display(),
            "generated a SELF-SIGNED DEVELOPMENT certificate (tls.generate_dev_cert = true); \
             clients cannot verify it: install a real certificate and key for production"
        );
        CertSource::GeneratedDev
    } else {
        CertSource::Files
    };
    let current = RwLock::new(Arc::new(certified_key(tls)?));
    let certificates = Certificates {
        tls: tls.clone(),
        current,
    };
    Ok((Arc::new(certificates), source))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(TlsError::Missing {
            key: "cert",
            path: shown,
        });
    }
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Invalid {
            key: "cert",
            path: shown.clone(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Invalid {
            key: "cert",
            path: shown,
            message: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(TlsError::Missing {
            key: "key",
            path: shown,
        });
    }
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Invalid {
        key: "key",
        path: shown,
        message: e.to_string(),
    })
}

/// Writes a self-signed certificate for localhost into `cert` and its key into `key`.
fn generate_dev_cert(cert: &Path, key: &Path) -> Result<(), TlsError> {
    let names: Vec<String> = DEV_CERT_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    for path in [cert, key] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| TlsError::Generate(format!("{}: {e}", dir.display())))?;
        }
    }
    write_private(key, certified.signing_key.serialize_pem().as_bytes())?;
    write_private(cert, certified.cert.pem().as_bytes())
}

/// Writes a file readable by its owner only (a private key).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    crate::store::private::create_private_file(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .map_err(|e| TlsError::Generate(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_certificate_is_generated_once_then_read() {
        crate::server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let tls = TlsConfig {
            cert: dir.path().join("certs/server.pem"),
            key: dir.path().join("certs/server-key.pem"),
            generate_dev_cert: true,
        };
        let (_, source) = certificates(&tls).unwrap();
        assert_eq!(source, CertSource::GeneratedDev);
        let first = std::fs::read(&tls.cert).unwrap();
        let (_, source) = certificates(&tls).unwrap();
        assert_eq!(source, CertSource::Files);
        assert_eq!(std::fs::read(&tls.cert).unwrap(), first, "not regenerated");
    }

    #[test]
    fn a_missing_certificate_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let tls = TlsConfig {
            cert: dir.path().join("nope.pem"),
            key: dir.path().join("nope-key.pem"),
            generate_dev_cert: false,
        };
        let err = certificates(&tls).unwrap_err().to_string();
        assert!(err.contains("tls.cert"), "{err}");
    }
}

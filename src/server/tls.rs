//! HTTPS on natter's own port: `--tls-cert` and `--tls-key`, PEM files, read with rustls (no
//! OpenSSL) and reloaded on SIGHUP.
//!
//! The certificate file holds the server's certificate first, then any intermediates (what
//! Let's Encrypt calls `fullchain.pem`); the key file a PKCS#8, PKCS#1 (RSA) or SEC1 (EC)
//! private key. Loading checks that the key belongs to the first certificate, so a renewal that
//! replaced only one of the two files is refused with a sentence instead of failing every
//! handshake.
//!
//! The rustls configuration is built once; its certificate comes from a [`Resolver`] whose
//! current chain and key a reload swaps, so connections already open keep the certificate they
//! were made with and new ones get the new one. A reload that fails keeps the old pair.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The TLS side of the listener: the acceptor for new connections and the files to reload.
pub struct Tls {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    resolver: Arc<Resolver>,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("cert_path", &self.cert_path).field("key_path", &self.key_path).finish()
    }
}

/// Hands every handshake the current certificate chain and key.
#[derive(Debug)]
struct Resolver(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock still holds a complete pair (a swap is one assignment).
        Some(self.0.read().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

impl Tls {
    /// Read and check both files; one sentence naming the flag and the file when they are
    /// missing, unreadable, not PEM, or do not belong together. Blocking (reads files).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Tls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pair = load_pair(cert_path, key_path, &provider)?;
        let resolver = Arc::new(Resolver(RwLock::new(Arc::new(pair))));
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        // HTTP/1.1 only: natter's server speaks HTTP/1.1, WebSocket upgrades included.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Read both files again and use them for new connections; on any error the current pair
    /// stays. Blocking (reads files).
    pub fn reload(&self) -> Result<(), String> {
        let pair = load_pair(&self.cert_path, &self.key_path, &self.provider)?;
        *self.resolver.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
        Ok(())
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {flag} {}: {e}", path.display()))
}

fn load_pair(cert_path: &Path, key_path: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let cert_pem = read("--tls-cert", cert_path)?;
    let key_pem = read("--tls-key", key_path)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {} is not a PEM certificate chain: {e}", cert_path.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("--tls-key {} holds no PEM private key (PKCS#8, RSA or EC): {e}", key_path.display()))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("--tls-key {}: unsupported private key: {e}", key_path.display()))?;
    let pair = CertifiedKey::new(chain, signing_key);
    match pair.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(pair),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => Err(format!(
            "the private key in --tls-key {} does not belong to the certificate in --tls-cert {}",
            key_path.display(),
            cert_path.display()
        )),
        Err(e) => Err(format!("--tls-cert {}: unusable certificate: {e}", cert_path.display())),
    }
}

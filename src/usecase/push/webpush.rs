//! The two RFCs a Web Push message needs, over small RustCrypto crates: RFC 8291 (the message is
//! encrypted to the browser's key with ECDH on P-256, HKDF-SHA-256 and AES-128-GCM, in RFC 8188's
//! `aes128gcm` coding) and RFC 8292 (VAPID: the server signs an ES256 JWT for the push service's
//! origin with its own P-256 key, so a push service can tell which server subscribed).
//!
//! Why not a crate: `web-push` sends with isahc (libcurl) or hyper-tls (OpenSSL), and `ece`
//! encrypts with OpenSSL; both would put C builds back into a tree that has none. The encryption
//! is about sixty lines over `p256`, `hkdf` and `aes-gcm`, checked in tests/it/push.rs against an
//! independent decryption.

use std::path::Path;

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

use crate::storage::file_modes;

/// The record size written in the header: one record holds any payload natter sends (at most
/// 3,000 bytes, plus the delimiter and the 16-byte tag).
const RECORD_SIZE: u32 = 4096;

/// A fresh P-256 secret key from the operating system's randomness.
fn random_secret() -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
        // Fails only for zero or a value past the group order (odds of about 2^-32).
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// This server's VAPID key pair.
pub struct VapidKey {
    /// The PKCS#8 DER of the secret key, as jsonwebtoken signs with it.
    der: Vec<u8>,
    /// The public key, an uncompressed P-256 point in base64url: what browsers subscribe with
    /// (`applicationServerKey`) and what `k=` carries.
    public: String,
}

impl VapidKey {
    /// The key pair in `path` (PKCS#8 PEM), made there with mode 0600 if the file is missing.
    pub fn load_or_create(path: &Path) -> Result<VapidKey, String> {
        let secret = match std::fs::read_to_string(path) {
            Ok(pem) => {
                SecretKey::from_pkcs8_pem(&pem).map_err(|e| format!("{} is not a P-256 key: {e}", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = random_secret();
                let pem = secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?;
                let mut file =
                    file_modes::create_new_file(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                std::io::Write::write_all(&mut file, pem.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                secret
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        file_modes::tighten(path, file_modes::FILE_MODE);
        Ok(VapidKey::from_secret(&secret))
    }

    fn from_secret(secret: &SecretKey) -> VapidKey {
        let der = secret.to_pkcs8_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
        let public = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
        VapidKey { der, public }
    }

    /// A throwaway key (benchmarks and unit tests).
    pub fn ephemeral() -> VapidKey {
        VapidKey::from_secret(&random_secret())
    }

    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header for a push service at `audience` (its origin): an ES256 JWT
    /// valid until `expires` (seconds since the epoch), with `subject` as the contact.
    pub fn authorization(&self, audience: &str, subject: &str, expires: u64) -> Result<String, String> {
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            exp: u64,
            sub: &'a str,
        }
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        let key = jsonwebtoken::EncodingKey::from_ec_der(&self.der);
        let token = jsonwebtoken::encode(&header, &Claims { aud: audience, exp: expires, sub: subject }, &key)
            .map_err(|e| e.to_string())?;
        Ok(format!("vapid t={token}, k={}", self.public))
    }
}

/// A browser's keys, checked: its P-256 public key (`p256dh`) and its 16-byte secret (`auth`).
#[derive(Clone)]
pub struct BrowserKeys {
    public: PublicKey,
    auth: [u8; 16],
}

/// Why a subscription's keys cannot be used: the field and the problem.
pub type KeyProblem = (&'static str, &'static str);

impl BrowserKeys {
    /// The keys as the browser's `PushSubscription.toJSON()` gives them (base64url, padding
    /// tolerated).
    pub fn parse(p256dh: &str, auth: &str) -> Result<BrowserKeys, KeyProblem> {
        let public = decode(p256dh)
            .and_then(|bytes| PublicKey::from_sec1_bytes(&bytes).ok())
            .ok_or(("keys.p256dh", "must be a P-256 public key (an uncompressed point in base64url)"))?;
        let auth = decode(auth)
            .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
            .ok_or(("keys.auth", "must be 16 bytes in base64url"))?;
        Ok(BrowserKeys { public, auth })
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// `payload` encrypted to `keys` as one `aes128gcm` record (RFC 8291 §3.4, RFC 8188 §2): the
/// body of the push message.
pub fn encrypt(keys: &BrowserKeys, payload: &[u8]) -> Result<Vec<u8>, &'static str> {
    let ours = random_secret();
    let our_public = ours.public_key().to_encoded_point(false);
    let their_public = keys.public.to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), keys.public.as_affine());
    // IKM = HKDF(salt = auth secret, ECDH secret, "WebPush: info" || 0 || ua_public || as_public)
    let mut info = Vec::with_capacity(14 + 65 + 65);
    info.extend_from_slice(b"WebPush: info\0");
    info.extend_from_slice(their_public.as_bytes());
    info.extend_from_slice(our_public.as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&keys.auth), shared.raw_secret_bytes()).expand(&info, &mut ikm).map_err(|_| "hkdf")?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| "random")?;
    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).map_err(|_| "hkdf")?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).map_err(|_| "hkdf")?;
    // One record, the last: the payload, then the delimiter 2, no padding.
    let mut plain = Vec::with_capacity(payload.len() + 1);
    plain.extend_from_slice(payload);
    plain.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| "key")?;
    let sealed = cipher.encrypt(&aes_gcm::Nonce::from(nonce), plain.as_slice()).map_err(|_| "aead")?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(our_public.as_bytes());
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_name_their_field() {
        let browser = random_secret().public_key().to_encoded_point(false);
        let p256dh = URL_SAFE_NO_PAD.encode(browser.as_bytes());
        let auth = URL_SAFE_NO_PAD.encode([7u8; 16]);
        assert!(BrowserKeys::parse(&p256dh, &auth).is_ok());
        assert_eq!(BrowserKeys::parse("AAAA", &auth).err().map(|p| p.0), Some("keys.p256dh"));
        assert_eq!(BrowserKeys::parse(&p256dh, "AAAA").err().map(|p| p.0), Some("keys.auth"));
        let body = encrypt(&BrowserKeys::parse(&p256dh, &auth).unwrap(), b"{}").unwrap();
        // salt, record size, key id length, key id, then payload + delimiter + tag.
        assert_eq!(body.len(), 16 + 4 + 1 + 65 + 2 + 1 + 16);
    }

    #[test]
    fn the_key_file_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid-key.pem");
        let first = VapidKey::load_or_create(&path).unwrap();
        let again = VapidKey::load_or_create(&path).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}

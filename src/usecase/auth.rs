//! Credentials: access tokens (JWT HS256), the password hasher they go with, and [`Caller`],
//! what a token says about who is calling. The transports turn requests into a `Caller`
//! (`api::extract`, the Socket.IO connect handler); the use cases check it against the account.
//!
//! - Password hashing (argon2id, bounded memory and concurrency) is [`crate::usecase::password`]'s.
//! - Tokens are HS256 only (`alg` pinned: `none` or anything else is refused), with `sub`, `iat`,
//!   `exp`. The secret is 64 random bytes generated on first start into `DATA_DIR/jwt-secret`
//!   (mode 0600), so tokens survive restarts. A token issued before the user's last password
//!   change, or for a disabled user, is refused: every authenticated request reads the user row.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::model::Token;
use crate::storage::db::users::{self, UserRecord};
pub use crate::storage::random_hex;
use crate::usecase::password::Passwords;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    checked: CheckedTokens,
    /// Shared with the accounts use case, which hashes new passwords.
    pub passwords: Arc<Passwords>,
}

/// Tokens whose signature was already checked, with what they say.
///
/// Checking an HS256 token with jsonwebtoken (keying the HMAC, two base64 decodes, two JSON
/// parses) took ~52k instructions of every authenticated request, 6% of a history page's
/// (callgrind, `cargo bench --bench history`). A client sends the same string with every
/// request, so the signature is checked once: a token is found here only by its exact text
/// (keyed hash, so a guess learns nothing from the time a lookup takes), it is trusted only
/// until its `exp`, and everything else (a disabled account, a changed password) is still
/// checked against the database on every request ([`Caller::verify`]). At most
/// [`CheckedTokens::KEPT`] tokens (~70 KB); past that, expired ones go, then all.
#[derive(Default)]
struct CheckedTokens(Mutex<HashMap<Box<str>, Caller>>);

impl CheckedTokens {
    const KEPT: usize = 256;

    fn get(&self, token: &str, now: i64) -> Option<Caller> {
        crate::runtime::mutexes::lock(&self.0).get(token).copied().filter(|caller| !caller.expired(now))
    }

    fn keep(&self, token: &str, caller: Caller, now: i64) {
        let mut checked = crate::runtime::mutexes::lock(&self.0);
        if checked.len() >= Self::KEPT {
            checked.retain(|_, caller| !caller.expired(now));
            if checked.len() >= Self::KEPT {
                checked.clear();
            }
        }
        checked.insert(token.into(), caller);
    }
}

/// Read the JWT secret, or create it (mode 0600) on first start.
pub fn load_or_create_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(secret) if secret.len() >= 32 => return Ok(secret),
        Ok(_) => {
            return Err(std::io::Error::other(format!("{} is shorter than 32 bytes", path.display())));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let secret = hex(&bytes).into_bytes();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(&secret)?;
    file.sync_all()?;
    Ok(secret)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Auth {
    pub fn new(secret: &[u8], ttl: Duration, hash_concurrency: usize, hash_queue: usize) -> Result<Auth, String> {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Ok(Auth {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
            checked: CheckedTokens::default(),
            passwords: Arc::new(Passwords::new(hash_concurrency, hash_queue)?),
        })
    }

    /// A fresh access token for `user`.
    pub fn issue_token(&self, user: &UserRecord) -> ApiResult<Token> {
        let iat = crate::storage::db::unix_now();
        let claims = Claims { sub: user.id.to_string(), iat, exp: iat + self.ttl.as_secs() as i64 };
        let token = jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok(Token { access_token: token, token_type: "bearer", expires_in: self.ttl.as_secs(), user: user.to_user() })
    }

    /// Signature, algorithm and expiry; says nothing yet about the user.
    pub fn decode(&self, token: &str) -> ApiResult<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| ApiError::unauthorized())
    }

    /// The caller a token names, if its signature, algorithm and expiry are good (checked once
    /// per token, see [`CheckedTokens`]).
    pub fn caller(&self, token: &str) -> ApiResult<Caller> {
        let now = crate::storage::db::unix_now();
        if let Some(caller) = self.checked.get(token, now) {
            return Ok(caller);
        }
        let claims = self.decode(token)?;
        let id: i64 = claims.sub.parse().map_err(|_| ApiError::unauthorized())?;
        let caller = Caller { id, issued_at: claims.iat, expires_at: claims.exp };
        self.checked.keep(token, caller, now);
        Ok(caller)
    }
}

/// The `Bearer` token of an `Authorization` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// A caller whose token checked out: signature, algorithm, expiry. Whether the account is
/// still enabled and the token still current (issued after the last password change) is checked
/// by [`Caller::verify`] inside the database call the request makes anyway, so an authenticated
/// request costs one hand-off to a blocking thread instead of two (measured: the second
/// hand-off was most of the scheduler time in the history benchmark's profile).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub id: i64,
    pub issued_at: i64,
    pub expires_at: i64,
}

impl Caller {
    /// The caller's account, if the token still speaks for it.
    pub fn verify(&self, conn: &rusqlite::Connection) -> ApiResult<UserRecord> {
        match users::by_id(conn, self.id)? {
            Some(user) if self.speaks_for(&user) => Ok(user),
            // Still 401 (SPEC §1), but saying why: the web UI tells a disabled person so
            // instead of "your session has expired".
            Some(user) if user.id == self.id && user.disabled => {
                Err(ApiError::Unauthorized("This account has been disabled by an administrator."))
            }
            _ => Err(ApiError::unauthorized()),
        }
    }

    /// Whether the token still speaks for `account`: not disabled, and the token was issued no
    /// earlier than the account's last password change. (Expiry is checked when the token is
    /// decoded, and by long-lived connections with [`Caller::expired`].)
    pub fn speaks_for(&self, account: &UserRecord) -> bool {
        account.id == self.id && !account.disabled && self.issued_at >= account.password_changed_at
    }

    /// Whether the token's `exp` has passed at `now` (unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// Whether the token's `exp` has passed now.
    pub fn has_expired(&self) -> bool {
        self.expired(crate::storage::db::unix_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::db::unix_now;

    fn auth() -> Auth {
        Auth::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(3600), 1, 1).unwrap()
    }

    fn token(auth: &Auth, sub: &str, exp: i64) -> String {
        let claims = Claims { sub: sub.into(), iat: unix_now(), exp };
        jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &auth.encoding).unwrap()
    }

    #[test]
    fn a_checked_token_is_found_by_its_exact_text_only() {
        let auth = auth();
        let good = token(&auth, "7", unix_now() + 60);
        assert_eq!(auth.caller(&good).unwrap().id, 7);
        assert!(auth.checked.get(&good, unix_now()).is_some());
        assert_eq!(auth.caller(&good).unwrap().id, 7);
        // One character of the signature changed: checked again, and refused.
        let mut forged: Vec<char> = good.chars().collect();
        let at = forged.len() - 10;
        forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
        let forged: String = forged.into_iter().collect();
        assert!(auth.caller(&forged).is_err());
        assert!(auth.checked.get(&forged, unix_now()).is_none());
    }

    #[test]
    fn a_checked_token_is_not_trusted_past_its_expiry() {
        let auth = auth();
        let now = unix_now();
        // Kept as if checked, but expired: checked again, and "not a token" fails the check.
        auth.checked.keep("not a token", Caller { id: 1, issued_at: now - 60, expires_at: now - 1 }, now);
        assert!(auth.caller("not a token").is_err());
        // Unexpired, the kept answer is the one given (the signature is not checked again).
        auth.checked.keep("not a token", Caller { id: 1, issued_at: now - 60, expires_at: now + 60 }, now);
        assert_eq!(auth.caller("not a token").unwrap().id, 1);
    }

    #[test]
    fn at_most_kept_tokens_are_kept() {
        let auth = auth();
        let now = unix_now();
        for i in 0..3 * CheckedTokens::KEPT {
            auth.checked.keep(&format!("t{i}"), Caller { id: 1, issued_at: now, expires_at: now + 60 }, now);
            assert!(crate::runtime::mutexes::lock(&auth.checked.0).len() <= CheckedTokens::KEPT);
        }
    }
}

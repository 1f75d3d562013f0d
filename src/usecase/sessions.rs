//! Sessions: logging in, and turning an access token back into a caller.
//!
//! Login attempts are bounded three times (SPEC §5), the way well-known services do it (OWASP's
//! "device cookie" idea, with the client address standing for the device):
//! - every signup and login attempt per client address (`--auth-rate`), counted before the body
//!   is even read, so malformed attempts count too;
//! - failed logins per account *and* client address (`--login-fail-rate`, 10 per 15 minutes):
//!   a stranger guessing at `carol` from one address is stopped there, while carol's own device
//!   (another address) logs in as usual;
//! - failed logins per account over all addresses together (`--login-fail-account-rate`, 100
//!   per 15 minutes), against guessing spread over many addresses. Once it is reached, the
//!   account accepts logins only from addresses that logged into it successfully before
//!   (remembered for 30 days, in memory): the owner's usual devices keep working, a new
//!   address waits.
//!
//! Failures count against the account however it was named (email or username, any case);
//! logins that name no account count against the text typed. An unknown account costs the same
//! password hash as a known one. A successful login clears its address's failures, not the
//! account-wide count (the attack from elsewhere goes on).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::auth::{Auth, Caller};
use crate::config::Rate;
use crate::db::{Db, DbError, users};
use crate::error::{ApiError, ApiResult};
use crate::input::Login;
use crate::limits::RateLimiter;
use crate::model::{Token, User, UserPublic};

/// The login bounds, from the flags.
#[derive(Debug, Clone, Copy)]
pub struct LoginRules {
    pub auth_rate: Rate,
    pub fail_rate: Rate,
    pub fail_account_rate: Rate,
}

/// How long an address that logged into an account stays known to it.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Known (account, address) pairs kept at most; past it, expired ones are swept, then all.
const MAX_KNOWN: usize = 100_000;

pub struct Sessions {
    db: Db,
    auth: Arc<Auth>,
    attempts_per_address: RateLimiter,
    failed_logins_per_account_address: RateLimiter,
    failed_logins_per_account: RateLimiter,
    /// `account|address` pairs with a successful login, and when.
    known_addresses: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    pub fn new(db: Db, auth: Arc<Auth>, rules: LoginRules) -> Sessions {
        Sessions {
            db,
            auth,
            attempts_per_address: RateLimiter::new(rules.auth_rate),
            failed_logins_per_account_address: RateLimiter::new(rules.fail_rate),
            failed_logins_per_account: RateLimiter::new(rules.fail_account_rate),
            known_addresses: Mutex::default(),
        }
    }

    /// Count one signup or login attempt from `address` (`--auth-rate`).
    pub fn count_attempt(&self, address: IpAddr) -> ApiResult<()> {
        self.attempts_per_address.hit(&address.to_string()).map_err(|retry_after| ApiError::RateLimited { retry_after })
    }

    /// A token for the account `login` names, if the password is right and the account enabled.
    /// Wrong email and wrong password get the same 401 after the same work.
    pub async fn login(&self, login: Login, address: IpAddr) -> ApiResult<Token> {
        let lookup = login.login.clone();
        let user = self.db.read(move |conn| users::by_login(conn, &lookup)).await?;
        let account_key = match &user {
            Some(user) => format!("user:{}", user.id),
            None => format!("login:{}", login.login.to_lowercase()),
        };
        let pair_key = format!("{account_key}|{address}");
        let limited = |retry_after| ApiError::RateLimited { retry_after };
        self.failed_logins_per_account_address.check(&pair_key).map_err(limited)?;
        if !self.is_known(&pair_key) {
            self.failed_logins_per_account.check(&account_key).map_err(limited)?;
        }
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let password_ok = self.auth.passwords.verify(login.password, hash).await?;
        match user {
            Some(user) if password_ok && !user.disabled => {
                self.failed_logins_per_account_address.reset(&pair_key);
                self.remember(pair_key);
                self.auth.issue_token(&user)
            }
            // The right password: whoever typed it owns the account and should hear why it is
            // refused, not be told their password is wrong.
            Some(_) if password_ok => Err(ApiError::Forbidden(
                "This account is disabled. Ask an administrator of this server to enable it.".into(),
            )),
            _ => {
                // Already over a bound is answered above; this failure only counts.
                let _ = self.failed_logins_per_account_address.hit(&pair_key);
                let _ = self.failed_logins_per_account.hit(&account_key);
                Err(ApiError::Unauthorized("Incorrect email or password."))
            }
        }
    }

    fn is_known(&self, pair_key: &str) -> bool {
        crate::sync::lock(&self.known_addresses).get(pair_key).is_some_and(|at| at.elapsed() < KNOWN_FOR)
    }

    fn remember(&self, pair_key: String) {
        let mut known = crate::sync::lock(&self.known_addresses);
        if known.len() >= MAX_KNOWN {
            known.retain(|_, at| at.elapsed() < KNOWN_FOR);
            if known.len() >= MAX_KNOWN {
                known.clear();
            }
        }
        known.insert(pair_key, Instant::now());
    }

    /// The caller a token names, if its signature, algorithm and expiry are good. Whether the
    /// account still accepts it is checked by the use case the caller goes on to call.
    pub fn caller(&self, token: &str) -> ApiResult<Caller> {
        self.auth.caller(token)
    }

    /// The caller's account, checked now.
    pub async fn account(&self, caller: Caller) -> ApiResult<User> {
        let user = self.db.read(move |conn| caller.verify(conn)).await?;
        Ok(user.to_user())
    }

    /// For each of `callers` (the open sockets), whether its token still speaks for its account:
    /// not expired, the account not disabled, no password change since the token was issued.
    /// One read of the distinct accounts.
    pub async fn still_valid(&self, callers: Vec<Caller>) -> ApiResult<Vec<bool>> {
        let mut ids: Vec<i64> = callers.iter().map(|caller| caller.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let accounts = self
            .db
            .read(move |conn| {
                let mut found = HashMap::with_capacity(ids.len());
                for id in ids {
                    if let Some(account) = users::by_id(conn, id)? {
                        found.insert(id, account);
                    }
                }
                Ok::<_, DbError>(found)
            })
            .await?;
        Ok(callers
            .iter()
            .map(|caller| {
                !caller.has_expired() && accounts.get(&caller.id).is_some_and(|account| caller.speaks_for(account))
            })
            .collect())
    }

    /// A socket's identity: the token's caller and the account as others see it (its name and
    /// when it was last online), checked once when the socket connects.
    pub async fn connect(&self, token: &str) -> ApiResult<(Caller, UserPublic)> {
        let caller = self.auth.caller(token)?;
        let user = self.db.read(move |conn| caller.verify(conn)).await?;
        Ok((caller, user.to_public()))
    }
}

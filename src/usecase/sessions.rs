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
//!   account accepts logins only from addresses that logged into it successfully before: the
//!   owner's usual devices keep working, a new address waits.
//!
//! Failures count against the account however it was named (email or username, any case);
//! logins that name no account count against the text typed. An unknown account costs the same
//! password hash as a known one. A successful login clears its address's failures, not the
//! account-wide count (the attack from elsewhere goes on).
//!
//! The known addresses are stored (`db::known_addresses`): kept in memory they were forgotten by
//! a restart, and the next burst of strangers' failures locked the owner out with everyone else.
//! Each account keeps its 20 newest, for 30 days; the lookup shares the read that finds the
//! account, and a successful login writes only when its address is new or its row more than a
//! day old, so the usual login adds no commit. The failure counts stay in memory on purpose: a
//! restart forgets at most one window of them (15 minutes of guesses), while storing them would
//! turn every wrong password, the one thing an attacker can send without limit from many
//! addresses, into a write on the single writer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ApiError, ApiResult, Chain};
use crate::input::Login;
use crate::model::{Token, User, UserPublic};
use crate::storage::db::{self, Db, DbError, known_addresses, users};
use crate::usecase::auth::{Auth, Caller};
use crate::usecase::limits::Rate;
use crate::usecase::limits::RateLimiter;

/// The login bounds, from the flags.
#[derive(Debug, Clone, Copy)]
pub struct LoginRules {
    pub auth_rate: Rate,
    pub fail_rate: Rate,
    pub fail_account_rate: Rate,
}

/// How long an address that logged into an account stays known to it.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Addresses one account keeps: a phone, a laptop, a few networks each, with room to spare.
const KNOWN_PER_ACCOUNT: usize = 20;
/// A known address's login time is rewritten at most this often: a day's precision is plenty
/// against 30 days, and most logins then write nothing.
const REFRESH_AFTER: Duration = Duration::from_secs(24 * 3600);

pub struct Sessions {
    db: Db,
    auth: Arc<Auth>,
    attempts_per_address: RateLimiter,
    failed_logins_per_account_address: RateLimiter,
    failed_logins_per_account: RateLimiter,
}

impl Sessions {
    pub fn new(db: Db, auth: Arc<Auth>, rules: LoginRules) -> Sessions {
        Sessions {
            db,
            auth,
            attempts_per_address: RateLimiter::new(rules.auth_rate),
            failed_logins_per_account_address: RateLimiter::new(rules.fail_rate),
            failed_logins_per_account: RateLimiter::new(rules.fail_account_rate),
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
        let ip = address.to_string();
        let (user, last_login) = self
            .db
            .read(move |conn| {
                let user = users::by_login(conn, &lookup)?;
                let last_login = match &user {
                    Some(user) => known_addresses::last_login(conn, user.id, &ip)?,
                    None => None,
                };
                Ok::<_, DbError>((user, last_login))
            })
            .await?;
        let account_key = match &user {
            Some(user) => format!("user:{}", user.id),
            None => format!("login:{}", login.login.to_lowercase()),
        };
        let pair_key = format!("{account_key}|{address}");
        let limited = |retry_after| ApiError::RateLimited { retry_after };
        self.failed_logins_per_account_address.check(&pair_key).map_err(limited)?;
        let now = time::OffsetDateTime::now_utc();
        let known = last_login.as_deref().is_some_and(|at| at >= db::format_time(now - KNOWN_FOR).as_str());
        if !known {
            self.failed_logins_per_account.check(&account_key).map_err(limited)?;
        }
        // A bot has no password: it is checked like an unknown name (the same work, the same
        // 401), so it never gets a token, and with none it can open no socket either.
        let user = user.filter(|u| !u.is_bot);
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let password_ok = self.auth.passwords.verify(login.password, hash).await?;
        match user {
            Some(user) if password_ok && !user.disabled => {
                self.failed_logins_per_account_address.reset(&pair_key);
                self.remember(user.id, address, last_login, now).await;
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

    /// `address` just logged into `user_id`: store it as known, unless it already is with a
    /// login time less than a day old (`last_login`, as read before the password check). A
    /// failed write costs the login nothing; the address is only not remembered this time.
    async fn remember(&self, user_id: i64, address: IpAddr, last_login: Option<String>, now: time::OffsetDateTime) {
        if last_login.is_some_and(|at| at >= db::format_time(now - REFRESH_AFTER)) {
            return;
        }
        let (at, forget_before) = (db::format_time(now), db::format_time(now - KNOWN_FOR));
        let ip = address.to_string();
        let stored = self
            .db
            .write(move |conn| known_addresses::remember(conn, user_id, &ip, &at, &forget_before, KNOWN_PER_ACCOUNT))
            .await;
        if let Err(e) = stored {
            tracing::warn!(error = %Chain(&e), user = user_id, "could not remember the address of a login");
        }
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

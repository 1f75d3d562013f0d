//! Sessions: logging in, and turning an access token back into a caller.
//!
//! Login attempts are bounded twice (SPEC §5): every signup and login attempt per client address
//! (`--auth-rate`, counted before the body is even read, so malformed attempts count too), and
//! failed logins per account (`--login-fail-rate`), counted against the account however it was
//! named, so a stranger's wrong guesses from elsewhere cannot lock the owner out of their own
//! device beyond that bound. An unknown account costs the same password hash as a known one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::{Auth, Caller};
use crate::config::Rate;
use crate::db::{Db, DbError, users};
use crate::error::{ApiError, ApiResult};
use crate::input::Login;
use crate::limits::RateLimiter;
use crate::model::{Token, User, UserPublic};

pub struct Sessions {
    db: Db,
    auth: Arc<Auth>,
    attempts_per_address: RateLimiter,
    failed_logins_per_account: RateLimiter,
}

impl Sessions {
    pub fn new(db: Db, auth: Arc<Auth>, auth_rate: Rate, login_fail_rate: Rate) -> Sessions {
        Sessions {
            db,
            auth,
            attempts_per_address: RateLimiter::new(auth_rate),
            failed_logins_per_account: RateLimiter::new(login_fail_rate),
        }
    }

    /// Count one signup or login attempt from `address` (`--auth-rate`).
    pub fn count_attempt(&self, address: IpAddr) -> ApiResult<()> {
        self.attempts_per_address.hit(&address.to_string()).map_err(|retry_after| ApiError::RateLimited { retry_after })
    }

    /// A token for the account `login` names, if the password is right and the account enabled.
    /// Wrong email and wrong password get the same 401 after the same work.
    pub async fn login(&self, login: Login) -> ApiResult<Token> {
        let lookup = login.login.clone();
        let user = self.db.read(move |conn| users::by_login(conn, &lookup)).await?;
        // Failures count against the account, however it was named (email or username, any
        // case); logins that name no account count against the text typed.
        let account_key = match &user {
            Some(user) => format!("user:{}", user.id),
            None => format!("login:{}", login.login.to_lowercase()),
        };
        self.failed_logins_per_account
            .check(&account_key)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let password_ok = self.auth.passwords.verify(login.password, hash).await?;
        match user {
            Some(user) if password_ok && !user.disabled => {
                self.failed_logins_per_account.reset(&account_key);
                self.auth.issue_token(&user)
            }
            _ => {
                // Already over the bound is answered above; this failure only counts.
                let _ = self.failed_logins_per_account.hit(&account_key);
                Err(ApiError::Unauthorized("Incorrect email or password."))
            }
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

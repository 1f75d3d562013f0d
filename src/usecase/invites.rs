//! Invite codes: created by an administrator (`POST /admin/invites`) or by the operator
//! (`natter invite`), used up by signups while `--registration invite` (see `accounts`), listed
//! and revoked by administrators.
//!
//! An invite's link is `<public URL>/#invite=<code>`. The public URL is the caller's to give
//! (the REST transport knows `--public-url`, the request's host and the server's address); the
//! server also records, when it starts, the address it tells people to open (its `--public-url`,
//! else its LAN address, else its own loopback address with the port it listens on), so that
//! `natter invite`, run beside it on the same data, prints a link that works.

use crate::error::{ApiError, ApiResult};
use crate::input::NewInvite;
use crate::model::{Invite, User};
use crate::storage::db::invites::{self, InviteRecord};
use crate::storage::db::{Db, format_time, settings};
use crate::usecase::auth::random_hex;

/// The `settings` key under which the server records the address people open.
const ADDRESS_SETTING: &str = "public_url";

pub struct Invites {
    db: Db,
}

/// Who creates an invite.
pub enum Issuer<'a> {
    /// A signed-in user, who must be an administrator.
    User(&'a User),
    /// Whoever runs `natter invite` on the data folder.
    Operator,
}

/// The 403 for anyone but an administrator.
pub fn ensure_admin(user: &User) -> ApiResult<()> {
    if user.is_admin { Ok(()) } else { Err(ApiError::Forbidden("Only administrators can do that.".into())) }
}

fn with_link(record: InviteRecord, public_url: &str) -> Invite {
    Invite::new(record.code, record.uses_left, record.expires_at, public_url)
}

impl Invites {
    pub fn new(db: Db) -> Invites {
        Invites { db }
    }

    /// A new random code for `uses` signups, valid for `expires_in`, with its link under
    /// `public_url`. Only administrators may; that is checked before the request's numbers are.
    pub async fn create(&self, by: Issuer<'_>, request: NewInvite, public_url: &str) -> ApiResult<Invite> {
        let created_by = match by {
            Issuer::User(user) => {
                ensure_admin(user)?;
                Some(user.id)
            }
            Issuer::Operator => None,
        };
        let uses = request.uses()?;
        let expires_at = format_time(time::OffsetDateTime::now_utc() + request.ttl()?);
        let code = random_hex(16);
        let record =
            self.db.write(move |conn| invites::insert(conn, &code, created_by, i64::from(uses), &expires_at)).await?;
        Ok(with_link(record, public_url))
    }

    /// The codes that can still sign someone up, newest first (administrators only).
    pub async fn list(&self, by: &User, public_url: &str) -> ApiResult<Vec<Invite>> {
        ensure_admin(by)?;
        let records = self.db.read(invites::usable).await?;
        Ok(records.into_iter().map(|record| with_link(record, public_url)).collect())
    }

    /// Withdraw a code (administrators only); 404 when there is none such.
    pub async fn revoke(&self, by: &User, code: String) -> ApiResult<()> {
        ensure_admin(by)?;
        let removed = self.db.write(move |conn| invites::delete(conn, &code)).await?;
        if removed { Ok(()) } else { Err(ApiError::not_found("Invite")) }
    }

    /// Record the address the server tells people to open, for `natter invite`.
    pub async fn record_address(&self, address: String) -> ApiResult<()> {
        Ok(self.db.write(move |conn| settings::set(conn, ADDRESS_SETTING, &address)).await?)
    }

    /// The address the server last started with, if it ever started.
    pub async fn recorded_address(&self) -> ApiResult<Option<String>> {
        Ok(self.db.read(|conn| settings::get(conn, ADDRESS_SETTING)).await?)
    }
}

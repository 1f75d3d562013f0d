//! Invite codes: created by an administrator (`POST /admin/invites`) or by the operator
//! (`natter invite`), used up by signups while `--registration invite` (see `accounts`).

use crate::auth::random_hex;
use crate::db::{Db, format_time, invites};
use crate::error::{ApiError, ApiResult};
use crate::input::NewInvite;
use crate::model::{Invite, User};

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

impl Invites {
    pub fn new(db: Db) -> Invites {
        Invites { db }
    }

    /// A new random code for `uses` signups, valid for `expires_in`. Only administrators may;
    /// that is checked before the request's numbers are.
    pub async fn create(&self, by: Issuer<'_>, request: NewInvite) -> ApiResult<Invite> {
        let created_by = match by {
            Issuer::User(user) if !user.is_admin => {
                return Err(ApiError::Forbidden("Only administrators can create invites.".into()));
            }
            Issuer::User(user) => Some(user.id),
            Issuer::Operator => None,
        };
        let uses = request.uses()?;
        let expires_at = format_time(time::OffsetDateTime::now_utc() + request.ttl()?);
        let code = random_hex(16);
        let invite =
            self.db.write(move |conn| invites::insert(conn, &code, created_by, i64::from(uses), &expires_at)).await?;
        Ok(invite)
    }
}

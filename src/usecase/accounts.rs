//! Accounts: creating them (signup, or an operator's `natter user add`), and what an operator
//! does to them afterwards (new password, disable, enable, promote, list).
//!
//! Signup and `user add` share `Accounts::create`: the same validation, the same argon2id hash,
//! the same insert and the same answer to a taken username or email. What differs is who lets
//! the account in: the server's `--registration` mode (and an invite code) for a signup, the
//! operator's shell for the CLI.

use std::sync::Arc;

use crate::error::{ApiError, ApiResult};
use crate::input::validate;
use crate::input::{AccountChange, NewAccount};
use crate::model::{User, UserAccount};
use crate::storage::db::users::{self, NewUser, UserRecord};
use crate::storage::db::{Db, DbError, invites};
use crate::usecase::chat::{ChatEvent, Events};
use crate::usecase::first_room;
use crate::usecase::invites::ensure_admin;
use crate::usecase::password::Passwords;

/// Who may sign up (`--registration`); `GET /healthz` says which, for the web UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone who reaches the server.
    Open,
    /// Only with an invite code.
    Invite,
    /// Nobody: accounts are made by the operator (`natter user add`).
    Closed,
}

pub struct Accounts {
    db: Db,
    passwords: Arc<Passwords>,
    registration: Registration,
    /// Where a disabled account's sockets are told to close; `None` in the CLI, whose process
    /// has no sockets (the server's `--socket-recheck` finds them).
    events: Option<Events>,
}

impl Accounts {
    pub fn new(db: Db, passwords: Arc<Passwords>, registration: Registration, events: Option<Events>) -> Accounts {
        Accounts { db, passwords, registration, events }
    }

    /// `POST /auth/signup`. The registration mode comes first: a closed server says so whatever
    /// was sent; an invite-only one needs a code, used up only if the account is created.
    pub async fn signup(&self, new: NewAccount) -> ApiResult<User> {
        let invite = match self.registration {
            Registration::Open => None,
            Registration::Closed => return Err(ApiError::Forbidden("Registration is closed on this server.".into())),
            Registration::Invite => Some(
                new.invite
                    .clone()
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| ApiError::Forbidden("Registration needs an invite code on this server.".into()))?,
            ),
        };
        self.create(NewAccount { invite, ..new }, false).await
    }

    /// `natter user add`: in any registration mode and without an invite, optionally an
    /// administrator.
    pub async fn add(&self, new: NewAccount, admin: bool) -> ApiResult<User> {
        self.create(NewAccount { invite: None, ..new }, admin).await
    }

    /// Username and email of a new account, checked before anything else is asked for (the CLI
    /// checks them before it prompts for the password).
    pub fn check_names(&self, username: &str, email: &str) -> ApiResult<()> {
        let mut fields = validate::Fields::default();
        fields.check("username", validate::username(username));
        fields.check("email", validate::email(email));
        fields.finish()
    }

    /// Validate, hash, then store (using up its invite, if any, in the same transaction). The
    /// first account ever created is an admin; a taken username or email is a 409 naming the
    /// field.
    async fn create(&self, new: NewAccount, admin: bool) -> ApiResult<User> {
        let mut fields = validate::Fields::default();
        fields.check("username", validate::username(&new.username));
        fields.check("email", validate::email(&new.email));
        fields.check("password", validate::password(&new.password));
        if let Some(name) = &new.full_name {
            fields.check("full_name", validate::text_length(name, 0, validate::MAX_FULL_NAME_CHARS));
        }
        fields.finish()?;

        let hash = self.passwords.hash(new.password).await?;
        let email = new.email.trim().to_lowercase();
        let events = self.events.clone();
        let (user, _) = self
            .db
            .write_then(
                move |conn| {
                    if let Some(code) = new.invite
                        && !invites::consume(conn, &code)?
                    {
                        return Err(ApiError::Forbidden("That invite code is unknown, used up or expired.".into()));
                    }
                    let new = NewUser {
                        username: &new.username,
                        email: &email,
                        full_name: new.full_name.as_deref(),
                        password_hash: &hash,
                        admin,
                    };
                    let user = users::insert(conn, &new).map_err(taken_field)?;
                    let first_room = first_room::admit(conn, user.id)?;
                    Ok::<_, ApiError>((user, first_room))
                },
                move |(user, first_room)| {
                    if let (Some(events), Some(room_id)) = (events, *first_room) {
                        events.publish(ChatEvent::MembersAdded { room_id, user_ids: vec![user.id] });
                    }
                },
            )
            .await?;
        Ok(user.to_user())
    }

    /// Every account, in id order.
    pub async fn list(&self) -> ApiResult<Vec<UserAccount>> {
        let all = self.db.read(users::list).await?;
        Ok(all.iter().map(UserRecord::to_account).collect())
    }

    /// A new password for the account named `name` (email or username); tokens issued before it
    /// stop working.
    pub async fn set_password(&self, name: &str, password: String) -> ApiResult<User> {
        validate::password(&password).map_err(|p| ApiError::invalid("password", p))?;
        let user = self.find(name).await?;
        let hash = self.passwords.hash(password).await?;
        let id = user.id;
        self.db.write(move |conn| users::set_password(conn, id, &hash)).await?;
        Ok(user.to_user())
    }

    /// Disable (its tokens stop working, it cannot log in) or enable the account named `name`.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> ApiResult<User> {
        let user = self.find(name).await?;
        let id = user.id;
        self.db.write(move |conn| users::set_disabled(conn, id, disabled)).await?;
        Ok(user.to_user())
    }

    /// Make the account named `name` an administrator.
    pub async fn promote(&self, name: &str) -> ApiResult<User> {
        let user = self.find(name).await?;
        let id = user.id;
        self.db.write(move |conn| users::set_admin(conn, id, true)).await?;
        Ok(user.to_user())
    }

    /// `GET /admin/users`: every account as an administrator sees it, in id order.
    pub async fn list_for(&self, admin: &User) -> ApiResult<Vec<UserAccount>> {
        ensure_admin(admin)?;
        self.list().await
    }

    /// `PATCH /admin/users/{id}`: an administrator disables or enables an account, or makes it
    /// an administrator or not. Nobody disables or demotes themself (422: the server would be
    /// left without its administrator, or the caller locked out). A disabled account's tokens
    /// are refused from the commit on (every request reads the account), and its open sockets
    /// are closed by the fan-out right after it.
    pub async fn change(&self, admin: &User, id: i64, change: AccountChange) -> ApiResult<UserAccount> {
        ensure_admin(admin)?;
        if id == admin.id {
            let mut fields = validate::Fields::default();
            if change.disabled == Some(true) {
                fields.add("disabled", "you cannot disable your own account");
            }
            if change.is_admin == Some(false) {
                fields.add("is_admin", "you cannot take away your own administrator rights");
            }
            fields.finish()?;
        }
        let events = self.events.clone();
        self.db
            .write_then(
                move |conn| {
                    users::by_id(conn, id)?.ok_or_else(|| ApiError::not_found("User"))?;
                    if let Some(disabled) = change.disabled {
                        users::set_disabled(conn, id, disabled)?;
                    }
                    if let Some(admin) = change.is_admin {
                        users::set_admin(conn, id, admin)?;
                    }
                    let changed = users::by_id(conn, id)?.ok_or_else(|| ApiError::not_found("User"))?;
                    Ok::<_, ApiError>(changed.to_account())
                },
                move |account| {
                    if let Some(events) = events.filter(|_| account.disabled && change.disabled == Some(true)) {
                        events.publish(ChatEvent::AccountDisabled { user_id: account.user.id });
                    }
                },
            )
            .await
    }

    /// The account `name` names: its email (any case) or its username (any case).
    async fn find(&self, name: &str) -> ApiResult<UserRecord> {
        let lookup = name.to_string();
        self.db
            .read(move |conn| users::by_login(conn, &lookup))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("There is no user named {name}.")))
    }
}

/// A UNIQUE violation on insert is a 409 naming the field.
fn taken_field(e: DbError) -> ApiError {
    match e.unique_violation() {
        Some("users.username") => {
            ApiError::Conflict { detail: "That username is already taken.".into(), field: "username" }
        }
        Some("users.email") => {
            ApiError::Conflict { detail: "That email is already registered.".into(), field: "email" }
        }
        _ => ApiError::from(e),
    }
}

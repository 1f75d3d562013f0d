//! SPEC §3 Authentication: signup, login, the OAuth2 token endpoint, me, user search.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::Value;

use super::extract::{JsonBody, JsonOrForm, QueryParams};
use crate::AppState;
use crate::auth::AuthUser;
use crate::config::Registration;
use crate::db::users::{self, NewUser};
use crate::db::{DbError, invites};
use crate::error::{ApiError, ApiResult};
use crate::model::{User, UserPublic};
use crate::validate;

#[derive(Deserialize)]
pub struct SignupInput {
    username: String,
    email: String,
    password: String,
    full_name: Option<String>,
    invite: Option<String>,
}

pub async fn signup(
    State(state): State<AppState>,
    _counted: AuthAttempt,
    JsonBody(input): JsonBody<SignupInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    // The server's registration mode comes first: a closed server says so whatever was sent.
    let invite = match state.config.registration {
        Registration::Open => None,
        Registration::Closed => return Err(ApiError::Forbidden("Registration is closed on this server.".into())),
        Registration::Invite => Some(
            input
                .invite
                .clone()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| ApiError::Forbidden("Registration needs an invite code on this server.".into()))?,
        ),
    };
    let mut fields = validate::Fields::default();
    fields.check("username", validate::username(&input.username));
    fields.check("email", validate::email(&input.email));
    fields.check("password", validate::password(&input.password));
    if let Some(name) = &input.full_name {
        fields.check("full_name", validate::text_length(name, 0, 200));
    }
    fields.finish()?;

    let hash = state.auth.passwords.hash(input.password).await?;
    let email = input.email.trim().to_lowercase();
    let user = state
        .db
        .write(move |conn| {
            if let Some(code) = invite
                && !invites::consume(conn, &code)?
            {
                return Err(ApiError::Forbidden("That invite code is unknown, used up or expired.".into()));
            }
            let new = NewUser {
                username: &input.username,
                email: &email,
                full_name: input.full_name.as_deref(),
                password_hash: &hash,
                admin: false,
            };
            users::insert(conn, &new).map_err(taken_field)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user.to_user())))
}

/// A UNIQUE violation on signup is a 409 naming the field.
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

/// Both login forms: JSON `{"email","password"}` (email may hold the username) and the OAuth2
/// form `username=&password=` (extra OAuth2 fields ignored).
#[derive(Deserialize)]
pub struct LoginInput {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    _counted: AuthAttempt,
    JsonOrForm(input): JsonOrForm<LoginInput>,
) -> ApiResult<Json<Value>> {
    // OAuth2 form clients name the login `username`; JSON clients `email`.
    let login_field = if input.email.is_none() && input.username.is_some() { "username" } else { "email" };
    let login = input.email.or(input.username).map(|l| l.trim().to_string()).unwrap_or_default();
    let mut fields = validate::Fields::default();
    if login.is_empty() {
        fields.add(login_field, "is required");
    }
    let password = input.password.unwrap_or_default();
    if password.is_empty() {
        fields.add("password", "is required");
    }
    fields.finish()?;

    let lookup = login.clone();
    let user = state.db.read(move |conn| users::by_login(conn, &lookup)).await.map_err(ApiError::from)?;
    // Failures count against the account, however it was named (email or username, any case);
    // logins that name no account count against the text typed.
    let account_key = match &user {
        Some(user) => format!("user:{}", user.id),
        None => format!("login:{}", login.to_lowercase()),
    };
    state
        .limits
        .failed_logins_per_account
        .check(&account_key)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = state.auth.passwords.verify(password, hash).await?;
    match user {
        Some(user) if password_ok && !user.disabled => {
            state.limits.failed_logins_per_account.reset(&account_key);
            Ok(Json(state.auth.issue_token(&user)?))
        }
        _ => {
            let _ = state.limits.failed_logins_per_account.hit(&account_key);
            Err(ApiError::Unauthorized("Incorrect email or password."))
        }
    }
}

/// One signup or login attempt, counted against `--auth-rate` for the client's address. An
/// extractor that runs before the body is read, so malformed attempts count too.
pub struct AuthAttempt;

impl FromRequestParts<AppState> for AuthAttempt {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::Internal(format!("no peer address: {e}")))?;
        state
            .limits
            .auth_per_address
            .hit(&peer.ip().to_string())
            .map(|()| AuthAttempt)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })
    }
}

pub async fn me(AuthUser(user): AuthUser) -> Json<User> {
    Json(user.to_user())
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// Users whose name starts with `q` (any case), the caller left out, at most 20.
pub async fn search(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    QueryParams(query): QueryParams<SearchQuery>,
) -> ApiResult<Json<Vec<UserPublic>>> {
    let prefix = query.q.unwrap_or_default().trim().to_string();
    let found = state.db.read(move |conn| users::search_prefix(conn, &prefix, 21)).await.map_err(ApiError::from)?;
    let users = found.iter().filter(|u| u.id != me.id).take(20).map(|u| state.presence.public(u.to_public())).collect();
    Ok(Json(users))
}

//! SPEC §3 Operations, for administrators: invites (create, list, revoke) and accounts (list,
//! disable or enable, make an administrator or not). Every rule, the 403 for everyone else
//! included, is the use cases'.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{AuthUser, JsonBody, PublicUrl};
use crate::AppState;
use crate::error::ApiResult;
use crate::input::{AccountChange, NewInvite, path_id};
use crate::model::{Invite, UserAccount};
use crate::usecase::invites::Issuer;

pub async fn create_invite(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    PublicUrl(public_url): PublicUrl,
    JsonBody(input): JsonBody<NewInvite>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    let invite = state.invites.create(Issuer::User(&user), input, &public_url).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

pub async fn list_invites(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    PublicUrl(public_url): PublicUrl,
) -> ApiResult<Json<Vec<Invite>>> {
    state.invites.list(&user, &public_url).await.map(Json)
}

pub async fn revoke_invite(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    state.invites.revoke(&user, code).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_users(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<Vec<UserAccount>>> {
    state.accounts.list_for(&user).await.map(Json)
}

pub async fn change_user(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<AccountChange>,
) -> ApiResult<Json<UserAccount>> {
    state.accounts.change(&user, path_id(&id, "User")?, change).await.map(Json)
}

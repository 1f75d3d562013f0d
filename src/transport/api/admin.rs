//! SPEC §3 Operations, for administrators: invites (create, list, revoke) and accounts (list,
//! disable or enable, make an administrator or not). Every rule, the 403 for everyone else
//! included, is the use cases'.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{AuthUser, JsonBody, PublicUrl};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{AccountChange, NewInvite, path_id};
use crate::model::{Invite, UserAccount};
use crate::usecase::invites::Issuer;

/// A new invite code for `uses` signups (1–10,000, default 1), valid for `expires_in` (seconds
/// or a duration such as `7d`; default 7 days). Its `url` is `<public URL>/#invite=<code>`.
#[utoipa::path(post, path = "/admin/invites", tag = "admin", security(("bearer" = []), ("oauth2" = [])), request_body = Option<NewInvite>,
    responses((status = 201, description = "The invite.", body = Invite), (status = 403, body = ErrorBody)))]
pub async fn create_invite(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    PublicUrl(public_url): PublicUrl,
    JsonBody(input): JsonBody<NewInvite>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    let invite = state.invites.create(Issuer::User(&user), input, &public_url).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

/// The invites that can still sign someone up, newest first.
#[utoipa::path(get, path = "/admin/invites", tag = "admin", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, description = "Usable invites.", body = Vec<Invite>), (status = 403, body = ErrorBody)))]
pub async fn list_invites(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    PublicUrl(public_url): PublicUrl,
) -> ApiResult<Json<Vec<Invite>>> {
    state.invites.list(&user, &public_url).await.map(Json)
}

/// Withdraw an invite.
#[utoipa::path(delete, path = "/admin/invites/{code}", tag = "admin", security(("bearer" = []), ("oauth2" = [])),
    params(("code" = String, Path, description = "The invite's code.")),
    responses((status = 204, description = "Revoked."), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_invite(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    state.invites.revoke(&user, code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every account, in id order, with whether it is disabled and when it was last online.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, description = "Every account.", body = Vec<UserAccount>), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<Vec<UserAccount>>> {
    state.accounts.list_for(&user).await.map(Json)
}

/// Disable or enable an account, or make it an administrator or not. Disabling refuses its
/// tokens at once and closes its sockets; disabling or demoting yourself is 422.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", security(("bearer" = []), ("oauth2" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The account's id.")), request_body = Option<AccountChange>,
    responses((status = 200, description = "The account, as GET /admin/users lists it.", body = UserAccount),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_user(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<AccountChange>,
) -> ApiResult<Json<UserAccount>> {
    state.accounts.change(&user, path_id(&id, "User")?, change).await.map(Json)
}

//! SPEC §3 Operations, for administrators: invites (create, list, revoke), accounts (list,
//! disable or enable, make an administrator or not) and bots (create, list, change, rotate the
//! token, delete). Every rule, the 403 for everyone else
//! included, is the use cases'.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{AuthUser, JsonBody, PublicUrl};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{AccountChange, BotChange, NewBot, NewInvite, path_id};
use crate::model::{Bot, Invite, UserAccount};
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

/// A new bot: an account with `is_bot` that posts through its hook URL (`POST /hooks/{token}`)
/// and cannot log in. It is in no room until added like anyone; `room_id` only names where
/// `/hooks/{token}` posts without a `channel`.
#[utoipa::path(post, path = "/admin/bots", tag = "admin", security(("bearer" = []), ("oauth2" = [])), request_body = NewBot,
    responses((status = 201, description = "The bot, with its token and hook URL.", body = Bot),
        (status = 403, body = ErrorBody), (status = 409, description = "The name is taken (people and bots share names).", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_bot(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    PublicUrl(public_url): PublicUrl,
    JsonBody(input): JsonBody<NewBot>,
) -> ApiResult<(StatusCode, Json<Bot>)> {
    let bot = state.bots.create(Issuer::User(&user), input, &public_url).await?;
    Ok((StatusCode::CREATED, Json(bot)))
}

/// Every bot, in id order.
#[utoipa::path(get, path = "/admin/bots", tag = "admin", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, description = "Every bot.", body = Vec<Bot>), (status = 403, body = ErrorBody)))]
pub async fn list_bots(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    PublicUrl(public_url): PublicUrl,
) -> ApiResult<Json<Vec<Bot>>> {
    state.bots.list(Issuer::User(&user), &public_url).await.map(Json)
}

/// Change a bot's outgoing webhook or default room (`null` clears either).
#[utoipa::path(patch, path = "/admin/bots/{id}", tag = "admin", security(("bearer" = []), ("oauth2" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The bot's id (its account's).")), request_body = Option<BotChange>,
    responses((status = 200, description = "The bot.", body = Bot),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_bot(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    PublicUrl(public_url): PublicUrl,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<BotChange>,
) -> ApiResult<Json<Bot>> {
    state.bots.change(&user, path_id(&id, "Bot")?, change, &public_url).await.map(Json)
}

/// A new token for the bot; the old one stops working at once.
#[utoipa::path(post, path = "/admin/bots/{id}/token", tag = "admin", security(("bearer" = []), ("oauth2" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The bot's id (its account's).")),
    responses((status = 200, description = "The bot with its new token and hook URL.", body = Bot),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_bot_token(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    PublicUrl(public_url): PublicUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Bot>> {
    state.bots.rotate_token(Issuer::User(&user), path_id(&id, "Bot")?, &public_url).await.map(Json)
}

/// Delete a bot: its token stops working; its messages stay.
#[utoipa::path(delete, path = "/admin/bots/{id}", tag = "admin", security(("bearer" = []), ("oauth2" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The bot's id (its account's).")),
    responses((status = 204, description = "Deleted."), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_bot(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.bots.delete(Issuer::User(&user), path_id(&id, "Bot")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! SPEC §3 Authentication: signup, login, the OAuth2 token endpoint, me, user search.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{AuthAttempt, AuthUser, JsonBody, JsonOrForm, QueryParams};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{LoginForm, NewAccount, ProfileChange, SearchQuery};
use crate::model::{Token, User, UserPublic};
use crate::usecase::auth::Caller;

/// Create an account. The first account created is an administrator. `--registration closed`
/// refuses every signup (403); `--registration invite` needs a valid `invite` code (else 403).
/// Counts against `--auth-rate`.
#[utoipa::path(
    post,
    path = "/auth/signup",
    tag = "auth",
    request_body = NewAccount,
    responses(
        (status = 201, description = "The new account.", body = User),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn signup(
    State(state): State<AppState>,
    _counted: AuthAttempt,
    JsonBody(input): JsonBody<NewAccount>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let user = state.accounts.signup(input).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Log in by email or username (`email` may hold either), as JSON or as a form. An unknown
/// account and a wrong password get the same 401. Counts against `--auth-rate` and, when it
/// fails, `--login-fail-rate`.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body(content(
        (LoginForm = "application/json"),
        (LoginForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "An access token and its account.", body = Token),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    counted: AuthAttempt,
    JsonOrForm(form): JsonOrForm<LoginForm>,
) -> ApiResult<Json<Token>> {
    log_in(&state, counted, form).await
}

/// The OAuth2 password flow: `username` (email or username) and `password` as a form (or the
/// JSON of `/auth/login`); other OAuth2 fields (`grant_type`, `scope`, ...) are ignored.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    request_body(content(
        (LoginForm = "application/x-www-form-urlencoded"),
        (LoginForm = "application/json"),
    )),
    responses(
        (status = 200, description = "An access token and its account.", body = Token),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    counted: AuthAttempt,
    JsonOrForm(form): JsonOrForm<LoginForm>,
) -> ApiResult<Json<Token>> {
    log_in(&state, counted, form).await
}

async fn log_in(state: &AppState, AuthAttempt(address): AuthAttempt, form: LoginForm) -> ApiResult<Json<Token>> {
    state.sessions.login(form.into_login()?, address).await.map(Json)
}

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/auth/users/me",
    tag = "auth",
    security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, description = "The caller's account.", body = User))
)]
pub async fn me(AuthUser(user): AuthUser) -> Json<User> {
    Json(user)
}

/// The caller changes their display name and/or avatar (each optional, `null` clears it);
/// everyone who shares a room with them gets `user_updated`.
#[utoipa::path(
    patch,
    path = "/auth/users/me",
    tag = "auth",
    security(("bearer" = []), ("oauth2" = [])),
    request_body = Option<ProfileChange>,
    responses(
        (status = 200, description = "The caller's account as it is now.", body = User),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(change): JsonBody<ProfileChange>,
) -> ApiResult<Json<User>> {
    state.profiles.update(caller, change).await.map(Json)
}

/// Users whose name starts with `q` (any case), the caller and disabled accounts left out, at
/// most 20: to start a chat with.
#[utoipa::path(
    get,
    path = "/auth/users",
    tag = "auth",
    security(("bearer" = []), ("oauth2" = [])),
    params(("q" = Option<String>, Query, description = "Username prefix (empty: everyone).")),
    responses((status = 200, description = "Matching users, by name.", body = Vec<UserPublic>))
)]
pub async fn search(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    QueryParams(query): QueryParams<SearchQuery>,
) -> ApiResult<Json<Vec<UserPublic>>> {
    state.chat.search_users(me.id, query.prefix()).await.map(Json)
}

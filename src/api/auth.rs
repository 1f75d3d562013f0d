//! SPEC §3 Authentication: signup, login, the OAuth2 token endpoint, me, user search.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{AuthAttempt, AuthUser, JsonBody, JsonOrForm, QueryParams};
use crate::AppState;
use crate::error::ApiResult;
use crate::input::{LoginForm, NewAccount, SearchQuery};
use crate::model::{Token, User, UserPublic};

pub async fn signup(
    State(state): State<AppState>,
    _counted: AuthAttempt,
    JsonBody(input): JsonBody<NewAccount>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let user = state.accounts.signup(input).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `POST /auth/login` and `POST /auth/token`: JSON or the OAuth2 form.
pub async fn login(
    State(state): State<AppState>,
    _counted: AuthAttempt,
    JsonOrForm(form): JsonOrForm<LoginForm>,
) -> ApiResult<Json<Token>> {
    state.sessions.login(form.into_login()?).await.map(Json)
}

pub async fn me(AuthUser(user): AuthUser) -> Json<User> {
    Json(user)
}

/// Users whose name starts with `q` (any case), the caller left out, at most 20.
pub async fn search(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    QueryParams(query): QueryParams<SearchQuery>,
) -> ApiResult<Json<Vec<UserPublic>>> {
    state.chat.search_users(me.id, query.prefix()).await.map(Json)
}

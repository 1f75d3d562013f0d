//! SPEC §3 Authentication: signup, login, the OAuth2 token endpoint, me, user search.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{AuthAttempt, AuthUser, JsonBody, JsonOrForm, QueryParams};
use crate::AppState;
use crate::db::users;
use crate::error::{ApiError, ApiResult};
use crate::input::{LoginForm, Signup};
use crate::model::{Token, User, UserPublic};

pub async fn signup(
    State(state): State<AppState>,
    _counted: AuthAttempt,
    JsonBody(input): JsonBody<Signup>,
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

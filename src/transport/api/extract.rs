//! The request extractors: bodies and query strings decoded by [`crate::input`], and who is
//! calling. Every rejection is an `ApiError`, so malformed input gets the SPEC's error body: not
//! JSON → 400 `invalid_json`; JSON of the wrong shape → 422 naming the field; a body over the
//! limit → 413; a non-JSON content type → 415; a bad query → 422; no or a bad token → 401.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;
use crate::input;
use crate::model::User;
use crate::server::client::{Client, ClientAddr};
use crate::usecase::auth::{Caller, bearer_token};

/// A JSON body. A request without a Content-Type is read as JSON too (curl, small scripts).
pub struct JsonBody<T>(pub T);

/// A JSON body, or an `application/x-www-form-urlencoded` one (the OAuth2 password flow).
pub struct JsonOrForm<T>(pub T);

pub(super) fn content_type(req: &Request) -> Option<String> {
    req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.to_ascii_lowercase())
}

pub(super) fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub(super) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("The request body is too large.".into())
        } else {
            ApiError::InvalidJson(format!("The request body could not be read: {rejection}."))
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = content_type(&req).filter(|ct| !is_json(ct)) {
            return Err(ApiError::UnsupportedMediaType(format!("Expected an application/json body, got {ct}.")));
        }
        let bytes = body_bytes(req, state).await?;
        input::parse_json(&bytes).map(JsonBody)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match content_type(&req) {
            Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => {
                let bytes = body_bytes(req, state).await?;
                input::from_form(&bytes).map(JsonOrForm)
            }
            Some(ct) if !is_json(&ct) => {
                Err(ApiError::UnsupportedMediaType(format!("Expected a JSON or form-encoded body, got {ct}.")))
            }
            _ => {
                let bytes = body_bytes(req, state).await?;
                input::parse_json(&bytes).map(JsonOrForm)
            }
        }
    }
}

/// Query string parameters, every value a string; handlers parse numbers with
/// [`input::int_param`].
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        input::from_form(parts.uri.query().unwrap_or("").as_bytes()).map(QueryParams)
    }
}

/// The caller named by the `Authorization: Bearer` token, its signature, algorithm and expiry
/// checked. Chat endpoints take this and let the use case check the account inside the database
/// call it makes anyway (one hand-off to a blocking thread instead of two).
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(ApiError::unauthorized)?;
        state.sessions.caller(token)
    }
}

/// The caller with their account loaded and checked up front: for endpoints where a second
/// blocking hand-off does not matter (profile, search, invites, uploads), and whose 401 must
/// come before anything about the body.
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        state.sessions.account(caller).await.map(AuthUser)
    }
}

/// Where people reach this server, for the links it hands out (invites): `--public-url`, else
/// the scheme the client used (`https://` over natter's TLS or when a `--trust-proxy` says so)
/// and the host the request was sent to (when it is a plain `host[:port]`). A request sent to a
/// loopback host (`localhost`, `127.0.0.1`: the administrator at the server's own keyboard) gets
/// the LAN address natter printed at start instead, since no phone can open a loopback link;
/// without a host, that address or this machine's.
pub struct PublicUrl(pub String);

impl FromRequestParts<AppState> for PublicUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(url) = &state.config.public_url {
            return Ok(PublicUrl(url.clone()));
        }
        let reach = state.reach.get();
        let https = parts.extensions.get::<Client>().is_some_and(|client| client.https);
        let scheme = if https { "https" } else { "http" };
        let asked =
            crate::transport::web::request_host(&parts.uri, &parts.headers).map(|host| format!("{scheme}://{host}"));
        let shared = reach.and_then(|r| r.share_url.clone());
        Ok(PublicUrl(match asked {
            Some(url) if !crate::transport::web::is_loopback_host(&url) => url,
            Some(url) => shared.unwrap_or(url),
            None => shared
                .or_else(|| reach.map(|r| r.this_machine.clone()))
                .unwrap_or_else(|| format!("{scheme}://localhost:{}", state.config.bind.port())),
        }))
    }
}

/// One signup or login attempt, counted against `--auth-rate` for the client's address (behind
/// a `--trust-proxy`, the address the proxy names; see [`ClientAddr`]). An
/// extractor that runs before the body is read, so malformed attempts count too.
pub struct AuthAttempt(pub std::net::IpAddr);

impl FromRequestParts<AppState> for AuthAttempt {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientAddr(address) = ClientAddr::from_request_parts(parts, state).await?;
        state.sessions.count_attempt(address).map(|()| AuthAttempt(address))
    }
}

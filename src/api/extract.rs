//! Request extractors whose rejections are `ApiError`s, so malformed input gets the SPEC's error
//! body: not JSON → 400 `invalid_json`; JSON of the wrong shape → 422 naming the field; a body
//! over the limit → 413; a non-JSON content type → 415; a bad query → 422; a bad path id → 404.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. A request without a Content-Type is read as JSON too (curl, small scripts).
pub struct JsonBody<T>(pub T);

/// A JSON body, or an `application/x-www-form-urlencoded` one (the OAuth2 password flow).
pub struct JsonOrForm<T>(pub T);

fn content_type(req: &Request) -> Option<String> {
    req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.to_ascii_lowercase())
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("The request body is too large.".into())
        } else {
            ApiError::InvalidJson(format!("The request body could not be read: {rejection}."))
        }
    })
}

/// Parse JSON text into `T`, naming the offending field on a shape error. An empty body is
/// `{}`: endpoints whose fields are all optional need none, the others name what is missing.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return from_value(serde_json::Value::Object(serde_json::Map::new()));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidJson(format!("The request body is not valid JSON: {e}.")))?;
    from_value(value)
}

/// Shape a JSON value into `T`; the error names the field (`members[2]`, `content`, ...).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        let path = e.path().to_string();
        if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            let field = if path == "." { field.to_string() } else { format!("{path}.{field}") };
            ApiError::invalid(&field, "is required")
        } else {
            let field = if path == "." { "body".to_string() } else { path };
            ApiError::invalid(&field, message)
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
        parse_json(&bytes).map(JsonBody)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match content_type(&req) {
            Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => {
                let bytes = body_bytes(req, state).await?;
                let pairs: serde_json::Map<String, serde_json::Value> =
                    url_decoded_pairs(&bytes).into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
                from_value(serde_json::Value::Object(pairs)).map(JsonOrForm)
            }
            Some(ct) if !is_json(&ct) => {
                Err(ApiError::UnsupportedMediaType(format!("Expected a JSON or form-encoded body, got {ct}.")))
            }
            _ => {
                let bytes = body_bytes(req, state).await?;
                parse_json(&bytes).map(JsonOrForm)
            }
        }
    }
}

/// `a=1&b=x%20y` → pairs; the last of repeated keys wins.
fn url_decoded_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    fn decode(part: &[u8]) -> String {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < part.len() => {
                    let hex = std::str::from_utf8(&part[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(byte) => {
                            out.push(byte);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                other => out.push(other),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    bytes
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let key = decode(it.next().unwrap_or_default());
            let value = decode(it.next().unwrap_or_default());
            (key, value)
        })
        .collect()
}

/// Query string parameters, every value a string; handlers parse numbers with [`int_param`].
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: serde_json::Map<String, serde_json::Value> =
            url_decoded_pairs(query.as_bytes()).into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        from_value(serde_json::Value::Object(pairs)).map(QueryParams)
    }
}

/// An optional integer query parameter within `min..=max`; anything else is a 422 naming it.
pub fn int_param(value: Option<&str>, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
    let Some(text) = value else { return Ok(None) };
    match text.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::invalid(name, format!("must be an integer from {min} to {max}"))),
    }
}

/// An id from the path: anything that is not a positive integer is an unknown resource (404).
pub fn path_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| ApiError::not_found(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let pairs = url_decoded_pairs(b"username=a%40b.c&password=p+w%21&grant_type=password&x=%zz");
        assert_eq!(pairs[0], ("username".into(), "a@b.c".into()));
        assert_eq!(pairs[1], ("password".into(), "p w!".into()));
        assert_eq!(pairs[3], ("x".into(), "%zz".into()));
    }
}

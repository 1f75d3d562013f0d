//! The OpenAPI document (`GET /openapi.json`) and its viewer (`GET /docs`).
//!
//! The document is generated from the code, so it cannot drift from it: each handler carries a
//! `#[utoipa::path]` annotation (method, path, parameters, bodies, responses), the types it
//! takes and returns derive `ToSchema`, and [`super::router`] registers every REST route through
//! utoipa-axum's `routes!`, which adds the route to the axum router and its annotation to the
//! document in one call. What is the same everywhere is added here once ([`Conventions`]): the
//! bearer token and the OAuth2 password flow (`/auth/token`, for the viewer's "Authorize"), and
//! the error responses every operation can give (401 where a token is needed; 400, 413, 415
//! and 422 where a body is read; 500 and 503 everywhere), each with the SPEC's error body.
//! `tests/it/openapi.rs` checks the document against the router both ways and validates real
//! responses against its schemas.
//!
//! The viewer is swagger-ui-dist, vendored in `docs-viewer/` (see its README for the version
//! and licence) and embedded here; `/docs` works offline like the rest of natter.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, Response as DocResponse, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema};

use crate::error::{ApiError, ErrorBody};

/// The parts of the document no handler annotation gives.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "natter",
        description = "A self-hosted chat server in one binary: this REST API, Socket.IO realtime at \
            `/socket.io/` (see docs/api.md in the source), SQLite storage and an embedded web UI.\n\n\
            Every path answers with and without a trailing slash. Times are RFC 3339 UTC with \
            milliseconds. Every error has the body `{\"detail\", \"code\"}` (`ErrorBody`); 422s add \
            `fields`. To try the API here, sign up or log in (`POST /auth/login`), then \"Authorize\" \
            with the `access_token`, or log in through the OAuth2 password form."
    ),
    components(schemas(ErrorBody, crate::error::ErrorCode)),
    tags(
        (name = "auth", description = "Accounts and tokens."),
        (name = "chats", description = "Group rooms, members and private chats."),
        (name = "messages", description = "History, posting, edits, deletes, read markers, reactions and search."),
        (name = "media", description = "Uploads and the files they are served as."),
        (name = "notifications", description = "Notification levels per room and Web Push subscriptions."),
        (name = "admin", description = "Invites, accounts and bots, for administrators."),
        (name = "bots", description = "Incoming webhooks: scripts post as a bot with its token, no login."),
        (name = "operations", description = "Health, metrics and this document."),
    )
)]
pub struct ApiDoc;

/// The security scheme names operations refer to (`security(("bearer" = []), ("oauth2" = []))`).
pub const BEARER: &str = "bearer";
pub const OAUTH2: &str = "oauth2";

/// Shared error responses, by status: the name under `#/components/responses` and what it says.
const ERRORS: &[(&str, &str, &str)] = &[
    ("400", "InvalidJson", "`invalid_json`: the body is not JSON."),
    (
        "401",
        "Unauthorized",
        "`unauthorized`: no token, or one that is malformed, expired, wrongly signed, older than the last password change, or for a disabled account.",
    ),
    ("403", "Forbidden", "`forbidden`: the caller may not do this."),
    ("404", "NotFound", "`not_found`: no such thing, or the caller may not know it exists."),
    ("409", "Conflict", "`conflict`: the username or email is taken (`fields` names it)."),
    (
        "413",
        "PayloadTooLarge",
        "`payload_too_large`: the body is over `--max-body` (uploads: `--max-upload`, `--media-quota`).",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "`unsupported_media_type`: the body's content type (or an upload's detected type) is not accepted.",
    ),
    ("422", "ValidationError", "`validation_error`: `fields` names each offending field and its problem."),
    ("429", "RateLimited", "`rate_limited`: too many attempts; `Retry-After` says when to try again."),
    ("500", "Internal", "`internal`: something failed on the server (nothing about it is shown)."),
    (
        "503",
        "Unavailable",
        "`unavailable`: the storage engine cannot take the request now; `Retry-After` says when to try again. \
         `storage_read_only`: the database or media folder is on read-only storage; nothing was stored.",
    ),
    (
        "507",
        "StorageFull",
        "`storage_full`: the server's disk is full; nothing was stored. `Retry-After` says when to try again.",
    ),
];

fn error_response(description: &str) -> DocResponse {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(ErrorBody::schema())).build())
        .build()
}

fn error_ref(status: &str) -> RefOr<DocResponse> {
    let name = ERRORS.iter().find(|(s, _, _)| *s == status).map(|(_, name, _)| *name).unwrap_or("Internal");
    RefOr::Ref(utoipa::openapi::Ref::from_response_name(name))
}

/// Adds what every operation shares; see the module doc.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut Document) {
        openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The `access_token` of POST /auth/login or /auth/token."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            OAUTH2,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new("/auth/token", Scopes::new()))],
                "The OAuth2 password flow of POST /auth/token (email or username, and password).",
            )),
        );
        for (_, name, description) in ERRORS {
            components.responses.insert(name.to_string(), RefOr::T(error_response(description)));
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                add_common_errors(operation);
                optional_body_is_absent_not_null(operation);
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head]
        .into_iter()
        .filter_map(Option::as_mut)
}

fn add_common_errors(operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let reads_body = operation.request_body.is_some();
    let mut statuses = vec!["500", "503", "507"];
    if secured {
        statuses.push("401");
    }
    if reads_body {
        statuses.extend(["400", "413", "415", "422"]);
    }
    for status in statuses {
        operation.responses.responses.entry(status.to_string()).or_insert_with(|| error_ref(status));
    }
    // Annotations name other shared errors (403, 404, ...) by body only: point them at the
    // shared responses too, so each code is described once.
    for (status, response) in operation.responses.responses.iter_mut() {
        let shared = ERRORS.iter().any(|(s, _, _)| s == status);
        if shared && matches!(response, RefOr::T(r) if r.description.is_empty()) {
            *response = error_ref(status);
        }
    }
}

/// utoipa writes an optional body (`request_body = Option<T>`) as `oneOf: [T, null]`, which
/// says that the JSON `null` is a valid body. It is not (a body is a JSON object; an empty one
/// counts as `{}`): an optional body is one that may be left out, which `required: false`
/// already says, so the body's schema is `T` alone.
fn optional_body_is_absent_not_null(operation: &mut Operation) {
    use utoipa::openapi::Required;
    use utoipa::openapi::schema::{Schema, Type};
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else { return };
    if matches!(body.required, Some(Required::True)) {
        return;
    }
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else { continue };
        let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else { continue };
        let is_null =
            |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == Type::Null.into());
        if let [schema, null] = one_of.items.as_slice()
            && is_null(null)
        {
            content.schema = Some(schema.clone());
        }
    }
}

/// The document, generated once from the route table.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        // The upload limit changes nothing in the document.
        let (_, mut document) = super::router(0).split_for_parts();
        // After the routes are in: the conventions apply to every operation.
        Conventions.modify(&mut document);
        document
    })
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json", body = Object))
)]
pub async fn openapi() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| document().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));
    ([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response()
}

/// The API reference viewer's files (swagger-ui-dist and natter's page around it).
/// The viewer's files, gzipped by build.rs (the bundle is 1.9 MB raw, 0.5 MB gzipped) and sent
/// gzipped to browsers (see `web::embedded_body`).
#[derive(RustEmbed)]
#[folder = "$OUT_DIR/viewer/"]
struct Viewer;

/// The viewer's policy: the UI's, less what it does not use (no inline script or style; the
/// styles Swagger UI sets from its code go through the CSSOM, which the policy allows).
const VIEWER_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

fn viewer_file(name: &str, request: &HeaderMap) -> Response {
    let Some(file) = Viewer::get(name) else {
        return ApiError::not_found("File").into_response();
    };
    let body = crate::transport::web::embedded_body(file.data, request);
    let gzip = body.gzip;
    let mut response = body.body.into_response();
    let mime = file.metadata.mimetype();
    let mime = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(VIEWER_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// `GET /docs`: the API reference, built from `/openapi.json`.
pub async fn viewer(request: HeaderMap) -> Response {
    viewer_file("index.html", &request)
}

/// `GET /docs/{file}`: the viewer's scripts and styles.
/// The page links its files as `docs/NAME`, so that it works at `/docs` and at `/docs/` (where
/// they resolve to `/docs/docs/NAME`): the last path segment names the file.
pub async fn viewer_asset(Path(path): Path<String>, request: HeaderMap) -> Response {
    let name = path.rsplit('/').next().unwrap_or("");
    if name == "index.html" || name == "README.md" {
        return ApiError::not_found("File").into_response();
    }
    viewer_file(name, &request)
}

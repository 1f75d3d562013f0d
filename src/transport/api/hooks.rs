//! SPEC §3 "Bots and webhooks", the incoming side: `POST /hooks/{token}` (the body Slack and
//! Mattermost take, so tools written for them post here unchanged, answered with their `ok`) and
//! `POST /hooks/{token}/rooms/{room_id}` (plain text, or a file with optional text). The token in
//! the path is the bot's credential; every rule is the hooks use case's.

use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::timeout_at;

use super::extract::{body_bytes, content_type, is_json};
use super::media::{UploadRefused, multipart_error};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{HookBody, HookForm, path_id, schemas};
use crate::model::Message;

/// A message from a script, in the body Slack and Mattermost incoming webhooks take: JSON
/// `{"text", "channel"?}`, or a form whose `payload` field holds it. `channel` is a room id or
/// name (a leading `#` ignored) among the bot's rooms; without it, the bot's `room_id`. Other
/// fields (`username`, `icon_url`, `attachments`, `blocks`, ...) are ignored. Answers `ok`
/// (text/plain) once the message is stored.
#[utoipa::path(post, path = "/hooks/{token}", tag = "bots",
    params(("token" = String, Path, description = "The bot's token (its hook URL's secret).")),
    request_body(content((HookBody = "application/json"), (HookForm = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Stored and sent.", body = String, content_type = "text/plain"),
        (status = 400, body = ErrorBody), (status = 404, description = "No bot has that token.", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "Past `--message-rate` for this bot (`Retry-After`).", body = ErrorBody)))]
pub async fn post(State(state): State<AppState>, Path(token): Path<String>, request: Request) -> ApiResult<Response> {
    let bot = state.hooks.admit_hook(token).await?;
    let form = match content_type(&request) {
        Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => true,
        Some(ct) if !is_json(&ct) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Expected a JSON body or a form with a payload field, got {ct}."
            )));
        }
        _ => false,
    };
    let bytes = body_bytes(request, &state).await?;
    let body = HookBody::decode(form, &bytes)?;
    state.hooks.post_hook(bot, body).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response())
}

/// The text of a message (`text/plain`): 1–4000 characters after trimming, stored as sent.
pub struct HookText;

impl utoipa::PartialSchema for HookText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::RefOr::T(schemas::hook_text())
    }
}

impl utoipa::ToSchema for HookText {}

/// A file from a script, with optional text: the multipart body of the room hook.
pub struct HookUpload;

impl utoipa::PartialSchema for HookUpload {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schemas::multipart_with_file(
            "The file, as for `POST /chat/upload_media`.",
            "The part `file`, and optionally `text` (at most 4000 characters after trimming).",
        )
        .property("text", schemas::hook_edit_text())
        .into()
    }
}

impl utoipa::ToSchema for HookUpload {}

/// A message from a script to one of the bot's rooms (else 404): a `text/plain` body, or a
/// multipart body with the part `file` (as `POST /chat/upload_media` takes it) and an optional
/// part `text`.
#[utoipa::path(post, path = "/hooks/{token}/rooms/{room_id}", tag = "bots",
    params(("token" = String, Path, description = "The bot's token (its hook URL's secret)."),
        ("room_id" = i64, Path, minimum = 1, description = "A room the bot is a member of.")),
    request_body(content((HookText = "text/plain"), (HookUpload = "multipart/form-data"))),
    responses((status = 201, description = "The stored message.", body = Message),
        (status = 404, description = "No bot has that token, or it is not in that room.", body = ErrorBody),
        (status = 408, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, description = "Past `--message-rate` for this bot (`Retry-After`).", body = ErrorBody)))]
pub async fn post_to_room(
    State(state): State<AppState>,
    Path((token, room_id)): Path<(String, String)>,
    request: Request,
) -> Result<(StatusCode, Json<Message>), UploadRefused> {
    let bot = state.hooks.admit_hook(token).await?;
    let room_id = path_id(&room_id, "Room")?;
    let (text, attachment_id) = match content_type(&request) {
        Some(ct) if ct.starts_with("multipart/form-data") => receive_upload(&state, bot, request).await?,
        Some(ct) if !ct.starts_with("text/plain") => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Expected a text/plain body, or multipart/form-data with a part named file, got {ct}."
            ))
            .into());
        }
        _ => {
            let bytes = body_bytes(request, &state).await?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::invalid("text", "must be UTF-8"))?;
            (text, None)
        }
    };
    let message = state.hooks.post(bot, room_id, text, attachment_id).await.map_err(|e| match e {
        // The text/plain body is `text`, whatever the chat use case calls it.
        ApiError::Validation { fields, .. } if fields.contains_key("content") => {
            ApiError::invalid("text", fields.get("content").cloned().unwrap_or_default())
        }
        other => other,
    })?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// The parts `text` and `file` of a multipart body, the file stored as the bot's upload (every
/// rule of `POST /chat/upload_media`: size, quota, type, pace).
async fn receive_upload(state: &AppState, bot: i64, request: Request) -> Result<(String, Option<i64>), UploadRefused> {
    let media = &state.media;
    let mut multipart = Multipart::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            media.file_too_large()
        } else {
            ApiError::UnsupportedMediaType("Expected a multipart/form-data body.".into())
        }
    })?;
    let allowance = media.begin(bot).await?;
    let mut allowance = Some(allowance);
    let mut pace = media.pace(Instant::now());
    let (mut text, mut attachment) = (String::new(), None);
    loop {
        let next = timeout_at(pace.deadline().into(), multipart.next_field()).await.map_err(|_| pace.expired())?;
        pace.received(0, Instant::now());
        let Some(mut field) = next.map_err(|e| multipart_error(e, media))? else { break };
        match field.name() {
            Some("text") => {
                let value = timeout_at(pace.deadline().into(), field.text()).await.map_err(|_| pace.expired())?;
                text = value.map_err(|e| multipart_error(e, media))?;
            }
            Some("file") if attachment.is_none() => {
                let Some(allowance) = allowance.take() else { continue };
                let mut upload = media.start(allowance, field.file_name().unwrap_or("")).await?;
                loop {
                    let next = timeout_at(pace.deadline().into(), field.chunk()).await.map_err(|_| pace.expired())?;
                    let Some(chunk) = next.map_err(|e| multipart_error(e, media))? else { break };
                    pace.received(chunk.len() as u64, Instant::now());
                    upload.push(&chunk).await?;
                }
                attachment = Some(media.finish(upload).await?);
            }
            _ => {}
        }
    }
    let Some(attachment) = attachment else {
        return Err(ApiError::invalid("file", "is required: send the file as a multipart part named `file`").into());
    };
    Ok((text, Some(attachment.id)))
}

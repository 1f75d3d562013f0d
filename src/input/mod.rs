//! Decoding what clients send, shared by every transport: REST bodies and query strings, and
//! Socket.IO event payloads, become the input types the use cases take.
//!
//! Malformed input gets the SPEC's error body whatever carried it: text that is not JSON is 400
//! `invalid_json`; JSON of the wrong shape is 422 naming the field (`members[2]`, `content`, …);
//! a bad query parameter is 422 naming it; a path id that is not a positive integer is 404, as
//! an unknown resource would be. The axum extractors that apply these to a request are in
//! `api::extract`; the Socket.IO handlers call [`event_payload`] and the `*_event` functions.

pub mod patterns;
pub mod schemas;
pub mod units;
pub mod validate;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::model::Visibility;

/// Parse JSON text into `T`, naming the offending field on a shape error. An empty body is
/// `{}`: endpoints whose fields are all optional need none, the others name what is missing.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return from_value(Value::Object(Map::new()));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidJson(format!("The request body is not valid JSON: {e}.")))?;
    from_value(value)
}

/// Shape a JSON value into `T`; the error names the field (`members[2]`, `content`, ...).
pub fn from_value<T: DeserializeOwned>(mut value: Value) -> ApiResult<T> {
    if !value.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    integral_numbers(&mut value);
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

/// Numbers written with a zero fraction (`5.0`, `1e3`) become the integers they are: JSON has
/// one number type, JSON Schema's `integer` (the OpenAPI document's type for ids and counts)
/// counts them as integers, and some encoders (Python's for a float) write them so. serde's
/// integer types would refuse them. Only values an `i64` or `u64` holds exactly are turned.
fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0) else { return };
            // -2^63 exactly, and 2^63 and 2^64: the first values past each type's range.
            let (i64_low, past_i64) = (i64::MIN as f64, -(i64::MIN as f64));
            let turned = if (i64_low..past_i64).contains(&f) {
                Some(serde_json::Number::from(f as i64))
            } else if (0.0..2.0 * past_i64).contains(&f) {
                Some(serde_json::Number::from(f as u64))
            } else {
                None
            };
            if let Some(turned) = turned {
                *n = turned;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// `a=1&b=x%20y` (a form body or a query string) shaped into `T`, every value a string.
pub fn from_form<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let pairs: Map<String, Value> = url_decoded_pairs(bytes).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    from_value(Value::Object(pairs))
}

/// `a=1&b=x%20y` → pairs (`+` is a space, `%XX` a byte, a bad escape stays as written, bytes
/// that are not UTF-8 become U+FFFD); the last of repeated keys wins where they are collected.
fn url_decoded_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A number written the one way natter writes it: decimal digits, no sign, no leading zero (but
/// `0` itself), no blanks, no fraction, within `i64`. `01`, `+1`, ` 1`, `1.0`, `0x1` and `1e0`
/// are not numbers here: an id has one spelling, so two URLs never name the same thing.
pub fn canonical_int(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let digits = !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit);
    if !digits || (bytes.len() > 1 && bytes[0] == b'0') {
        return None;
    }
    text.parse().ok()
}

/// An optional integer query parameter within `min..=max`, in canonical form
/// ([`canonical_int`]); anything else is a 422 naming it.
pub fn int_param(value: Option<&str>, name: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
    let Some(text) = value else { return Ok(None) };
    match canonical_int(text) {
        Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::invalid(name, format!("must be an integer from {min} to {max}"))),
    }
}

/// An id from the path: anything that is not a positive integer in canonical form
/// ([`canonical_int`]) is an unknown resource (404), before anything is looked up or changed.
pub fn path_id(text: &str, what: &str) -> ApiResult<i64> {
    canonical_int(text).filter(|id| *id > 0).ok_or_else(|| ApiError::not_found(what))
}

// ---- accounts ----

/// A new account: `POST /auth/signup`, or `natter user add`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAccount {
    #[schema(schema_with = schemas::signup_username)]
    pub username: String,
    #[schema(schema_with = schemas::email)]
    pub email: String,
    #[schema(schema_with = schemas::password)]
    pub password: String,
    #[schema(schema_with = schemas::full_name)]
    pub full_name: Option<String>,
    /// The invite code a signup needs under `--registration invite`.
    pub invite: Option<String>,
}

/// Both login forms as sent: JSON `{"email","password"}` (email may hold the username) and the
/// OAuth2 form `username=&password=` (extra OAuth2 fields ignored). Its schema is
/// [`schemas`]'s: which field names the account depends on the other.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The email or the username (JSON clients).
    email: Option<String>,
    /// The email or the username (the OAuth2 form).
    username: Option<String>,
    password: Option<String>,
}

/// A login attempt: what was typed to name the account, and the password.
#[derive(Debug)]
pub struct Login {
    pub login: String,
    pub password: String,
}

impl LoginForm {
    /// Both fields present and non-empty, else one 422 naming each missing one (as the client
    /// named it: OAuth2 form clients say `username`, JSON clients `email`).
    pub fn into_login(self) -> ApiResult<Login> {
        let login_field = if self.email.is_none() && self.username.is_some() { "username" } else { "email" };
        let login = self.email.or(self.username).map(|l| l.trim().to_string()).unwrap_or_default();
        let password = self.password.unwrap_or_default();
        let mut fields = validate::Fields::default();
        if login.is_empty() {
            fields.add(login_field, "is required");
        }
        if password.is_empty() {
            fields.add("password", "is required");
        }
        fields.finish()?;
        Ok(Login { login, password })
    }
}

// ---- rooms and messages ----

/// `POST /chat/chat_rooms/`: a name and the other members' usernames (may be left out), who
/// may find it (default `private`) and a topic.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRoom {
    #[schema(schema_with = schemas::new_room_name)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = schemas::members)]
    pub members: Vec<String>,
    pub visibility: Option<Visibility>,
    #[schema(schema_with = schemas::topic)]
    pub topic: Option<String>,
}

/// `PATCH /chat/chat_rooms/{room_id}`: what to change, each optional. `topic: null` (or `""`)
/// clears the topic; a missing field leaves it as it is.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RoomChange {
    #[schema(schema_with = schemas::room_name_change)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::topic)]
    pub topic: Option<Option<String>>,
    pub visibility: Option<Visibility>,
}

/// A field that may be present with `null`: `Some(None)`, while a missing one (with
/// `#[serde(default)]`) stays `None`.
fn present<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// `GET /chat/directory?q=`, as sent.
#[derive(Debug, Deserialize)]
pub struct DirectoryQuery {
    q: Option<String>,
}

impl DirectoryQuery {
    /// The text a room's name must contain, trimmed; `None` lists every open room.
    pub fn filter(self) -> Option<String> {
        self.q.map(|q| q.trim().to_string()).filter(|q| !q.is_empty())
    }
}

// ---- notifications and Web Push ----

/// `PUT /chat/chat_rooms/{room_id}/notifications`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NotifyChange {
    pub level: crate::model::NotifyLevel,
}

/// The longest push endpoint accepted (the browsers' are a few hundred characters).
pub const MAX_PUSH_ENDPOINT_CHARS: usize = 2048;

/// `POST /push/subscriptions`: the browser's `PushSubscription.toJSON()` (its
/// `expirationTime` and anything else are ignored).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushSubscriptionBody {
    #[schema(schema_with = schemas::push_endpoint)]
    pub endpoint: String,
    pub keys: PushKeys,
}

/// The keys of a push subscription, base64url as the browser gives them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushKeys {
    #[schema(schema_with = schemas::push_p256dh)]
    pub p256dh: String,
    #[schema(schema_with = schemas::push_auth)]
    pub auth: String,
}

impl PushSubscriptionBody {
    pub fn into_subscription(self) -> ApiResult<crate::usecase::push::NewSubscription> {
        check_endpoint(&self.endpoint)?;
        Ok(crate::usecase::push::NewSubscription {
            endpoint: self.endpoint,
            p256dh: self.keys.p256dh,
            auth: self.keys.auth,
        })
    }
}

/// `DELETE /push/subscriptions`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushEndpoint {
    #[schema(schema_with = schemas::push_endpoint)]
    pub endpoint: String,
}

impl PushEndpoint {
    pub fn into_endpoint(self) -> ApiResult<String> {
        check_endpoint(&self.endpoint)?;
        Ok(self.endpoint)
    }
}

fn check_endpoint(endpoint: &str) -> ApiResult<()> {
    let chars = endpoint.chars().count();
    if chars == 0 || chars > MAX_PUSH_ENDPOINT_CHARS {
        return Err(ApiError::invalid("endpoint", format!("must be 1–{MAX_PUSH_ENDPOINT_CHARS} characters")));
    }
    Ok(())
}

/// A body naming one user: adding a member, opening a private chat.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Username {
    #[schema(schema_with = schemas::existing_username)]
    pub username: String,
}

/// `POST /chat/chat_rooms/{room_id}/messages`. Older clients also send `sender` and
/// `timestamp`; unknown fields are ignored. `content` may be left out when an attachment is
/// given (it is then empty). Its schema is [`schemas`]'s: whether `content` may be blank
/// depends on `attachment_id`.
#[derive(Debug, Deserialize)]
pub struct PostBody {
    #[serde(default)]
    content: String,
    attachment_id: Option<i64>,
    client_id: Option<String>,
    reply_to: Option<i64>,
}

/// A message to post, from REST or Socket.IO.
#[derive(Debug, Clone)]
pub struct Post {
    pub room_id: i64,
    pub content: String,
    pub attachment_id: Option<i64>,
    pub client_id: Option<String>,
    /// The id of the message this one answers.
    pub reply_to: Option<i64>,
}

impl PostBody {
    pub fn into_post(self, room_id: i64) -> Post {
        Post {
            room_id,
            content: self.content,
            attachment_id: self.attachment_id,
            client_id: self.client_id,
            reply_to: self.reply_to,
        }
    }
}

/// `PATCH /chat/messages/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Edit {
    #[schema(schema_with = schemas::edited_content)]
    pub content: String,
}

/// Move a read marker: REST `/read` and the `mark_read` event.
#[derive(Debug, Clone, Copy)]
pub struct ReadMarker {
    pub room_id: i64,
    pub message_id: i64,
}

/// `POST /chat/chat_rooms/{room_id}/read`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadBody {
    #[schema(schema_with = schemas::positive_id)]
    message_id: i64,
}

impl ReadBody {
    pub fn message_id(&self) -> ApiResult<i64> {
        if self.message_id < 1 {
            return Err(ApiError::invalid("message_id", "must be a positive integer"));
        }
        Ok(self.message_id)
    }
}

/// A history page's size (SPEC §3: `limit` 1–200, default 50).
pub const MAX_HISTORY_PAGE: i64 = 200;
pub const DEFAULT_HISTORY_PAGE: i64 = 50;
/// A search page's size (SPEC §3: `limit` 1–50, default 20).
pub const MAX_SEARCH_PAGE: i64 = 50;
pub const DEFAULT_SEARCH_PAGE: i64 = 20;

/// `GET /chat/chat_rooms/{room_id}/messages?limit=&before=&after=`, as sent (query values are
/// strings until checked).
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    limit: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

/// A window of history: the newest `limit` (no cursor), the newest `limit` before an id, the
/// oldest `limit` after one, or with both cursors the oldest `limit` between them (a gap in a
/// client's copy, paged forward; the SPEC's query names `before` and `after` together).
#[derive(Debug, Clone, Copy)]
pub struct History {
    pub limit: i64,
    pub before: Option<i64>,
    pub after: Option<i64>,
}

impl HistoryQuery {
    pub fn into_history(self) -> ApiResult<History> {
        let limit = int_param(self.limit.as_deref(), "limit", 1, MAX_HISTORY_PAGE)?.unwrap_or(DEFAULT_HISTORY_PAGE);
        let before = int_param(self.before.as_deref(), "before", 1, i64::MAX)?;
        let after = int_param(self.after.as_deref(), "after", 0, i64::MAX)?;
        Ok(History { limit, before, after })
    }
}

/// `GET /chat/search?q=&room_id=&before=&limit=`, as sent.
#[derive(Debug, Deserialize)]
pub struct MessageSearchQuery {
    q: Option<String>,
    room_id: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// A search of the caller's messages: the words as typed, and where and how far to look.
#[derive(Debug, Clone)]
pub struct MessageSearch {
    pub text: String,
    pub room_id: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
}

impl MessageSearchQuery {
    pub fn into_search(self) -> ApiResult<MessageSearch> {
        let text = self.q.ok_or_else(|| ApiError::invalid("q", "is required"))?;
        let limit = int_param(self.limit.as_deref(), "limit", 1, MAX_SEARCH_PAGE)?.unwrap_or(DEFAULT_SEARCH_PAGE);
        let room_id = int_param(self.room_id.as_deref(), "room_id", 1, i64::MAX)?;
        let before = int_param(self.before.as_deref(), "before", 1, i64::MAX)?;
        Ok(MessageSearch { text, room_id, before, limit })
    }
}

/// `GET /auth/users/?q=prefix`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

impl SearchQuery {
    /// The prefix to search for, trimmed (empty matches everyone).
    pub fn prefix(self) -> String {
        self.q.unwrap_or_default().trim().to_string()
    }
}

// ---- Socket.IO events ----

/// An event's payload as an object; anything else is a validation error.
pub fn event_payload(data: Result<Value, impl std::fmt::Display>) -> ApiResult<Map<String, Value>> {
    match data {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("payload", "must be a JSON object")),
        Err(e) => Err(ApiError::invalid("payload", format!("could not be read: {e}"))),
    }
}

/// A positive integer field under the first of `names` present (numbers, or canonical digit
/// strings from lenient clients).
fn id_field(map: &Map<String, Value>, names: &[&str]) -> ApiResult<i64> {
    let value = names.iter().find_map(|n| map.get(*n)).ok_or_else(|| ApiError::invalid(names[0], "is required"))?;
    let id = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => canonical_int(s),
        _ => None,
    };
    id.filter(|id| *id > 0).ok_or_else(|| ApiError::invalid(names[0], "must be a positive integer"))
}

/// The room an event names: `room_id`, or `room`, its older name.
pub fn event_room(map: &Map<String, Value>) -> ApiResult<i64> {
    id_field(map, &["room_id", "room"])
}

/// `chat_message`: `{"room_id", "content", "attachment_id"?, "client_id"?, "reply_to"?}`, with
/// `room` and `message` accepted as older names of `room_id` and `content` (read only when the
/// newer name is absent).
pub fn chat_message_event(mut map: Map<String, Value>) -> ApiResult<Post> {
    #[derive(Deserialize)]
    struct Fields {
        #[serde(alias = "message")]
        content: Option<String>,
        attachment_id: Option<i64>,
        client_id: Option<String>,
        reply_to: Option<i64>,
    }
    let room_id = event_room(&map)?;
    if map.contains_key("content") {
        map.remove("message");
    }
    let fields: Fields = from_value(Value::Object(map))?;
    Ok(Post {
        room_id,
        // May be left out when an attachment is given; empty content is refused without one.
        content: fields.content.unwrap_or_default(),
        attachment_id: fields.attachment_id,
        client_id: fields.client_id,
        reply_to: fields.reply_to,
    })
}

/// `mark_read`: `{"room_id", "message_id"}`.
pub fn mark_read_event(map: &Map<String, Value>) -> ApiResult<ReadMarker> {
    Ok(ReadMarker { room_id: event_room(map)?, message_id: id_field(map, &["message_id"])? })
}

/// `typing`: `{"room_id", "typing"}` (`typing` defaults to true).
pub fn typing_event(map: &Map<String, Value>) -> ApiResult<(i64, bool)> {
    Ok((event_room(map)?, map.get("typing").and_then(Value::as_bool).unwrap_or(true)))
}

// ---- administration ----

/// `PATCH /admin/users/{id}`: what to change, each optional.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub struct AccountChange {
    pub disabled: Option<bool>,
    pub is_admin: Option<bool>,
}

/// `PATCH /auth/users/me`: the caller's display name and avatar, each optional; `null` clears
/// one, a missing field leaves it as it is.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProfileChange {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::display_name)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::avatar_attachment_id)]
    pub avatar_attachment_id: Option<Option<i64>>,
}

// ---- bots ----

/// `POST /admin/bots`, or `natter bot add`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewBot {
    /// The bot's username: the same rules and namespace as people's.
    #[schema(schema_with = schemas::signup_username)]
    pub name: String,
    #[schema(schema_with = schemas::webhook_url)]
    pub webhook_url: Option<String>,
    #[schema(schema_with = schemas::bot_room)]
    pub room_id: Option<i64>,
}

/// `PATCH /admin/bots/{id}`: a missing field stays as it is, `null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BotChange {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::webhook_url)]
    pub webhook_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::bot_room)]
    pub room_id: Option<Option<i64>>,
}

/// An incoming webhook's body as Slack and Mattermost take it: `text` and an optional
/// `channel`. Everything else they accept (`username`, `icon_url`, `attachments`, `blocks`, ...)
/// is ignored rather than refused, so that tools written for them post here unchanged.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HookBody {
    #[serde(default)]
    #[schema(schema_with = schemas::hook_text)]
    pub text: Option<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::hook_channel)]
    pub channel: Option<Value>,
}

impl HookBody {
    /// The body of `POST /hooks/{token}`: JSON, or a form whose `payload` holds that JSON (what
    /// Slack's older clients and Mattermost's `curl` examples send).
    pub fn decode(form: bool, bytes: &[u8]) -> ApiResult<HookBody> {
        if !form {
            return parse_json(bytes);
        }
        // `curl -d '{"text": ...}'` without a Content-Type header sends JSON labelled as a form:
        // taken as the JSON it is, as the services these tools were written for take it.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            return parse_json(bytes);
        }
        let payload = url_decoded_pairs(bytes).into_iter().rev().find(|(k, _)| k == "payload").map(|(_, v)| v);
        match payload {
            Some(json) => parse_json(json.as_bytes()),
            None => Err(ApiError::invalid("payload", "is required: the message as JSON in a form field named payload")),
        }
    }

    /// The room the body names, as text (`#` and blanks around it dropped); `None` when absent.
    pub fn channel(&self) -> ApiResult<Option<String>> {
        match &self.channel {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::String(s)) => {
                let name = s.trim();
                let name = name.strip_prefix('#').unwrap_or(name).trim();
                Ok((!name.is_empty()).then(|| name.to_string()))
            }
            Some(_) => Err(ApiError::invalid("channel", "must be a room name or id")),
        }
    }
}

/// A form with a `payload` field: the other body `POST /hooks/{token}` takes.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HookForm {
    /// The JSON of the body above, as text.
    pub payload: String,
}

// ---- invites ----

/// `POST /admin/invites` (all optional), or `natter invite`'s flags.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewInvite {
    /// How many signups the code allows (default 1).
    #[schema(schema_with = schemas::invite_uses)]
    pub uses: Option<u32>,
    /// Seconds as a number, or a duration string such as "7d" (default 7 days).
    #[schema(schema_with = schemas::invite_expiry)]
    pub expires_in: Option<Value>,
}

/// Signups one invite code allows.
pub const MIN_INVITE_USES: u32 = 1;
pub const MAX_INVITE_USES: u32 = 10_000;

impl NewInvite {
    /// 1 to 10,000 signups.
    pub fn uses(&self) -> ApiResult<u32> {
        match self.uses.unwrap_or(1) {
            uses @ MIN_INVITE_USES..=MAX_INVITE_USES => Ok(uses),
            _ => Err(ApiError::invalid("uses", format!("must be from {MIN_INVITE_USES} to {MAX_INVITE_USES}"))),
        }
    }

    /// How long the code stays valid: 1 second to 100 years.
    pub fn ttl(&self) -> ApiResult<std::time::Duration> {
        let max = units::MAX_DURATION_SECS;
        match &self.expires_in {
            None | Some(Value::Null) => Ok(std::time::Duration::from_secs(7 * 86400)),
            Some(Value::Number(n)) => n
                .as_u64()
                .filter(|s| (1..=max).contains(s))
                .map(std::time::Duration::from_secs)
                .ok_or_else(|| ApiError::invalid("expires_in", "must be a number of seconds from 1 to 100 years")),
            Some(Value::String(s)) => match units::parse_duration(s) {
                Ok(ttl) if ttl.as_secs() >= 1 => Ok(ttl),
                Ok(_) => Err(ApiError::invalid("expires_in", "must be at least one second")),
                Err(e) => Err(ApiError::invalid("expires_in", e)),
            },
            Some(_) => Err(ApiError::invalid("expires_in", "must be seconds or a duration such as 7d")),
        }
    }
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

    #[test]
    fn integral_floats_are_integers() {
        #[derive(Deserialize, Debug)]
        struct Counts {
            id: i64,
            uses: u32,
            nested: Vec<u64>,
        }
        let counts: Counts =
            from_value(serde_json::json!({"id": 4194305.0, "uses": 1e2, "nested": [1.0, 18446744073709549568.0]}))
                .unwrap();
        assert_eq!((counts.id, counts.uses, counts.nested), (4194305, 100, vec![1, 18446744073709549568]));
        for fractional in [
            serde_json::json!({"id": 1.5, "uses": 1, "nested": []}),
            serde_json::json!({"id": 1e19, "uses": 1, "nested": []}),
        ] {
            assert!(from_value::<Counts>(fractional).is_err());
        }
    }

    #[test]
    fn ids_have_one_spelling() {
        assert_eq!(canonical_int("1"), Some(1));
        assert_eq!(canonical_int("0"), Some(0));
        assert_eq!(canonical_int("9223372036854775807"), Some(i64::MAX));
        for loose in ["01", "+1", " 1", "1 ", "1.0", "0x1", "1e0", "-1", "", "00", "9223372036854775808", "١"] {
            assert_eq!(canonical_int(loose), None, "{loose:?}");
        }
        assert!(path_id("01", "Message").is_err());
        assert!(path_id("0", "Message").is_err());
        assert_eq!(path_id("7", "Message").ok(), Some(7));
    }
}

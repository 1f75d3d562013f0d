//! The OpenAPI schemas of what clients send, with every bound the server checks: lengths and
//! patterns from [`super::validate`] and [`super::patterns`], ranges, and the one rule that
//! spans two fields (a message needs content unless it has an attachment; a login names the
//! account by `email`, else by `username`). The input types' `ToSchema` derives take their
//! fields from here (`schema_with`), so a bound is written once, as the constant the check
//! uses. Rules that depend on what is stored (a `reply_to` of the same room, an upload of the
//! caller's, a username that exists) are in the descriptions: no schema can know them.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::{PartialSchema, ToSchema};

use super::patterns;
use super::units::MAX_DURATION_SECS;
use super::validate::{
    MAX_CLIENT_ID_CHARS, MAX_CONTENT_CHARS, MAX_DISPLAY_NAME_CHARS, MAX_EMAIL_CHARS, MAX_EMAIL_LOCAL_CHARS,
    MAX_FULL_NAME_CHARS, MAX_PASSWORD_CHARS, MAX_ROOM_NAME_CHARS, MAX_SEARCH_CHARS, MAX_TOPIC_CHARS,
    MAX_USERNAME_CHARS, MAX_WEBHOOK_URL_CHARS, MIN_PASSWORD_CHARS, MIN_USERNAME_CHARS,
};
use super::{MAX_INVITE_USES, MIN_INVITE_USES};

fn typed(kind: Type, description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(kind).description(Some(description))
}

/// `kind` or `null` (an optional field that may also be sent as `null`).
fn typed_or_null(kind: Type, description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Array(vec![kind, Type::Null])).description(Some(description))
}

fn id(builder: ObjectBuilder) -> ObjectBuilder {
    builder.format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))).minimum(Some(1))
}

// ---- accounts ----

const USERNAME: &str = "3–32 of letters, digits, `_`, `.` and `-`.";

pub fn username() -> Schema {
    typed(Type::String, USERNAME)
        .min_length(Some(MIN_USERNAME_CHARS))
        .max_length(Some(MAX_USERNAME_CHARS))
        .pattern(Some(patterns::username()))
        .into()
}

/// A username in a body that names someone (members, private chats): the alphabet is a bound,
/// since no other name can exist; an unknown one is 404 (or 422 where the SPEC says so).
pub fn existing_username() -> Schema {
    typed(Type::String, "The username of an account (any case): 3–32 of letters, digits, `_`, `.` and `-`.")
        .min_length(Some(MIN_USERNAME_CHARS))
        .max_length(Some(MAX_USERNAME_CHARS))
        .pattern(Some(patterns::username()))
        .into()
}

pub fn signup_username() -> Schema {
    typed(Type::String, &format!("{USERNAME} Unique whatever the case."))
        .min_length(Some(MIN_USERNAME_CHARS))
        .max_length(Some(MAX_USERNAME_CHARS))
        .pattern(Some(patterns::username()))
        .into()
}

pub fn email() -> Schema {
    let description = format!(
        "An email address: at most {MAX_EMAIL_CHARS} characters as sent, blanks around it ignored; \
         1–{MAX_EMAIL_LOCAL_CHARS} characters before its one `@`, a dotted domain, no blanks or control \
         characters. Unique, stored lower-case."
    );
    typed(Type::String, &description)
        .min_length(Some(3))
        .max_length(Some(MAX_EMAIL_CHARS))
        .pattern(Some(patterns::email()))
        .into()
}

pub fn password() -> Schema {
    typed(Type::String, &format!("{MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} characters."))
        .min_length(Some(MIN_PASSWORD_CHARS))
        .max_length(Some(MAX_PASSWORD_CHARS))
        .into()
}

pub fn full_name() -> Schema {
    typed_or_null(Type::String, &format!("At most {MAX_FULL_NAME_CHARS} characters."))
        .max_length(Some(MAX_FULL_NAME_CHARS))
        .into()
}

/// `LoginForm`'s schema: `password`, and the account named by `email` when it is there (it may
/// hold the username), else by `username` (the OAuth2 form); whichever names it must not be
/// blank. Extra fields (OAuth2's `grant_type`, `scope`, ...) are ignored.
impl PartialSchema for super::LoginForm {
    fn schema() -> RefOr<Schema> {
        let not_blank = || Some(patterns::not_blank());
        let fields = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Both login forms: JSON `{\"email\",\"password\"}` (`email` may hold the username) and the \
                 OAuth2 form `username=&password=` (other OAuth2 fields are ignored). The account is named \
                 by `email` when it is sent, else by `username`; blanks around it are ignored.",
            ))
            .property("email", typed(Type::String, "The email or the username (JSON clients).").pattern(not_blank()))
            .property("username", typed(Type::String, "The email or the username (the OAuth2 form)."))
            .property("password", typed(Type::String, "The password.").min_length(Some(1)))
            .required("password");
        let named = AnyOfBuilder::new().item(ObjectBuilder::new().required("email")).item(
            ObjectBuilder::new()
                .required("username")
                .property("username", typed(Type::String, "Not blank.").pattern(not_blank())),
        );
        AllOfBuilder::new().item(fields).item(named).into()
    }
}

impl ToSchema for super::LoginForm {}

// ---- rooms and messages ----

fn room_name(nullable: bool) -> ObjectBuilder {
    let description = format!(
        "1–{MAX_ROOM_NAME_CHARS} characters as sent, at least one of them visible (not blank, not a \
         control or zero-width character); stored without blanks around it or hidden control characters."
    );
    let builder = if nullable {
        typed_or_null(Type::String, &format!("{description} `null` or absent: unchanged."))
    } else {
        typed(Type::String, &description)
    };
    builder.min_length(Some(1)).max_length(Some(MAX_ROOM_NAME_CHARS)).pattern(Some(patterns::visible()))
}

pub fn new_room_name() -> Schema {
    room_name(false).into()
}

pub fn room_name_change() -> Schema {
    room_name(true).into()
}

pub fn topic() -> Schema {
    typed_or_null(
        Type::String,
        &format!(
            "A line under the name: at most {MAX_TOPIC_CHARS} characters as sent, stored without blanks \
             around it or hidden control characters. `\"\"`, blanks or `null` clear it."
        ),
    )
    .max_length(Some(MAX_TOPIC_CHARS))
    .into()
}

pub fn members() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(existing_username()))
        .description(Some("The other members' usernames (any case); unknown ones are a 422 listing them."))
        .into()
}

/// Content of 1–4000 characters after trimming (`min` 1), or 0–4000 (`min` 0).
fn content(min: usize, description: &str) -> ObjectBuilder {
    let builder = typed(Type::String, description).pattern(Some(patterns::trimmed_length(min, MAX_CONTENT_CHARS)));
    if min > 0 { builder.min_length(Some(min)) } else { builder }
}

/// An edit's content: blank is refused unless the message has an attachment, which the
/// schema cannot know, so it states the bound every edit has.
pub fn edited_content() -> Schema {
    content(
        0,
        &format!(
            "At most {MAX_CONTENT_CHARS} characters after trimming (blanks around it do not count; it is \
             stored as sent), and not blank unless the message has an attachment (else 422)."
        ),
    )
    .into()
}

/// `PostBody`'s schema: `content` of 0–4000 characters after trimming, at least 1 unless
/// `attachment_id` names a file.
impl PartialSchema for super::PostBody {
    fn schema() -> RefOr<Schema> {
        let fields = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A message. `content` is 1–4000 characters after trimming, or may be blank (or left out) \
                 when `attachment_id` is given. Unknown fields (older clients send `sender` and \
                 `timestamp`) are ignored.",
            ))
            .property(
                "content",
                content(
                    0,
                    &format!(
                        "The text, stored as sent: at most {MAX_CONTENT_CHARS} characters after trimming, and \
                         not blank without an attachment."
                    ),
                ),
            )
            .property(
                "attachment_id",
                id(typed_or_null(
                    Type::Integer,
                    "A file the caller uploaded (`POST /chat/upload_media`), not yet sent.",
                )),
            )
            .property(
                "client_id",
                typed_or_null(
                    Type::String,
                    &format!(
                        "An idempotency key of at most {MAX_CLIENT_ID_CHARS} characters: the same sender sending \
                         the same key to the same room gets the first message back (200). `\"\"`: none."
                    ),
                )
                .max_length(Some(MAX_CLIENT_ID_CHARS)),
            )
            .property(
                "reply_to",
                id(typed_or_null(Type::Integer, "The id of a message of the same room this one answers.")),
            );
        let something = AnyOfBuilder::new()
            .item(ObjectBuilder::new().required("content").property(
                "content",
                typed(Type::String, "Not blank.").pattern(Some(patterns::trimmed_length(1, MAX_CONTENT_CHARS))),
            ))
            .item(
                ObjectBuilder::new()
                    .required("attachment_id")
                    .property("attachment_id", ObjectBuilder::new().schema_type(Type::Integer)),
            );
        AllOfBuilder::new().item(fields).item(something).into()
    }
}

impl ToSchema for super::PostBody {}

pub fn push_endpoint() -> Schema {
    typed(
        Type::String,
        &format!(
            "The push service's URL for this browser: https (plain http only on a loopback host), on a \
             host of the server's --push-service list; at most {} characters.",
            super::MAX_PUSH_ENDPOINT_CHARS
        ),
    )
    .min_length(Some(1))
    .max_length(Some(super::MAX_PUSH_ENDPOINT_CHARS))
    .into()
}

pub fn push_p256dh() -> Schema {
    typed(Type::String, "The browser's P-256 public key: an uncompressed point (65 bytes) in base64url.")
        .pattern(Some("^[A-Za-z0-9_-]{87}=?$".to_string()))
        .into()
}

pub fn push_auth() -> Schema {
    typed(Type::String, "The browser's authentication secret: 16 bytes in base64url.")
        .pattern(Some("^[A-Za-z0-9_-]{22}(==)?$".to_string()))
        .into()
}

/// A person's display name: 0–64 characters after trimming.
pub fn display_name() -> Schema {
    typed_or_null(
        Type::String,
        &format!(
            "The name shown for the caller: at most {MAX_DISPLAY_NAME_CHARS} characters after trimming, stored \
             without blanks around it or hidden control characters. `\"\"`, blanks or `null` clear it (the \
             username is shown). It need not be unique and never replaces the username for mentions or logins."
        ),
    )
    .pattern(Some(patterns::trimmed_length(0, MAX_DISPLAY_NAME_CHARS)))
    .into()
}

/// An upload of the caller's that becomes their avatar.
pub fn avatar_attachment_id() -> Schema {
    id(typed_or_null(
        Type::Integer,
        "An image the caller uploaded (`POST /chat/upload_media`): its centre square, 256 × 256, becomes \
         the avatar. `null` removes the avatar. Another file, or one that does not decode, is a 422.",
    ))
    .into()
}

pub fn positive_id() -> Schema {
    id(typed(Type::Integer, "A message id.")).into()
}

/// A reaction in a path: 1–32 characters, none blank or a control character.
pub struct Emoji;

impl PartialSchema for Emoji {
    fn schema() -> RefOr<Schema> {
        typed(Type::String, "The reaction: 1–32 characters, none of them blank or a control character.")
            .min_length(Some(1))
            .max_length(Some(super::validate::MAX_EMOJI_CHARS))
            .pattern(Some(patterns::emoji()))
            .into()
    }
}

/// A message search's text: 1–200 characters after trimming.
pub struct SearchText;

impl PartialSchema for SearchText {
    fn schema() -> RefOr<Schema> {
        typed(Type::String, &format!("1–{MAX_SEARCH_CHARS} characters after trimming; any text is a valid query."))
            .min_length(Some(1))
            .pattern(Some(patterns::trimmed_length(1, MAX_SEARCH_CHARS)))
            .into()
    }
}

// ---- invites ----

pub fn invite_uses() -> Schema {
    typed_or_null(
        Type::Integer,
        &format!("How many signups the code allows: {MIN_INVITE_USES}–{MAX_INVITE_USES} (default 1)."),
    )
    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
    .minimum(Some(MIN_INVITE_USES))
    .maximum(Some(MAX_INVITE_USES))
    .into()
}

/// `expires_in`: seconds as a number, or a duration string such as `7d`; from one second to 100
/// years (default 7 days).
pub fn invite_expiry() -> Schema {
    let seconds = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(MAX_DURATION_SECS))
        .description(Some("Seconds."));
    let duration = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(patterns::duration()))
        .description(Some(
            "A number and a unit: `ms`, `s` (or none), `sec`, `m`, `min`, `h` or `d`, such as `7d` or `90m`.",
        ))
        .examples([serde_json::json!("7d")]);
    OneOfBuilder::new()
        .description(Some("How long the code stays valid: one second to 100 years (default 7 days)."))
        .item(seconds)
        .item(duration)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

// ---- bots ----

pub fn webhook_url() -> Schema {
    typed_or_null(
        Type::String,
        &format!(
            "The URL natter POSTs to when a message mentions the bot or is sent to a private chat with it: \
             `http://` or `https://` (loopback and LAN hosts included), at most {MAX_WEBHOOK_URL_CHARS} \
             characters, no blanks. `null`: none."
        ),
    )
    .max_length(Some(MAX_WEBHOOK_URL_CHARS))
    .pattern(Some(patterns::webhook_url()))
    .into()
}

pub fn bot_room() -> Schema {
    id(typed_or_null(
        Type::Integer,
        "The room `POST /hooks/{token}` posts to when the body names no `channel` (it does not make the bot a \
         member). An existing room, else 422. `null`: none.",
    ))
    .into()
}

/// A hook message's text: what `content` is for any message.
pub fn hook_text() -> Schema {
    content(1, &format!("The message: 1–{MAX_CONTENT_CHARS} characters after trimming, stored as sent.")).into()
}

pub fn hook_channel() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Integer, Type::Null]))
        .description(Some(
            "A room the bot is a member of: its id (a number or a string of digits) or its name (a leading `#` \
             ignored; several of that name: the one with the newest message). Absent: the bot's `room_id`.",
        ))
        .into()
}

/// The optional text beside a hook's file: at most 4000 characters after trimming.
pub fn hook_edit_text() -> Schema {
    content(0, &format!("At most {MAX_CONTENT_CHARS} characters after trimming, stored as sent.")).into()
}

// ---- multipart bodies ----

/// A multipart body with a non-empty part `file` (`file_description` says what it is), and
/// `description` for the whole. Each part's name is a header parameter, so it cannot hold a
/// control character other than tab, CR and LF (encoders write those as `%0D` and `%0A`, as
/// browsers do): the part headers of such a body cannot be read (422). Callers add their other
/// parts.
pub fn multipart_with_file(file_description: &str, description: &str) -> ObjectBuilder {
    let file = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .min_length(Some(1))
        .description(Some(file_description));
    let part_name = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$"));
    typed(Type::Object, description).property("file", file).required("file").property_names(Some(part_name))
}

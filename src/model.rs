//! The JSON objects of SPEC §2, built in exactly one place each.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// An account as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub is_admin: bool,
    /// The name shown for them (null: none, the username is shown).
    pub display_name: Option<String>,
    /// Their picture, 256 × 256, under `/media/` (null: none).
    pub avatar_url: Option<String>,
}

/// The URL of an avatar kept under the stored name `name`.
pub fn avatar_url(name: Option<&str>) -> Option<String> {
    name.map(|name| format!("/media/{name}"))
}

/// `user_status`: a user came online (first socket) or went offline (last socket).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserStatus {
    pub user_id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub online: bool,
    #[schema(format = DateTime)]
    pub last_seen: Option<String>,
}

/// `typing`: a member started or stopped typing in a room.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Typing {
    pub room_id: i64,
    pub user_id: i64,
    pub username: String,
    pub typing: bool,
}

/// What a successful login returns: an access token and the account it speaks for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Token {
    pub access_token: String,
    /// Always `"bearer"`.
    pub token_type: &'static str,
    /// The token's lifetime in seconds (`--token-ttl`).
    pub expires_in: u64,
    pub user: User,
}

/// An account as an administrator sees it: the user, whether it is disabled, when it was last
/// online (SPEC §3 Operations; `natter user list` prints it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserAccount {
    #[serde(flatten)]
    pub user: User,
    pub disabled: bool,
    #[schema(format = DateTime)]
    pub last_seen: Option<String>,
}

/// An invite code for `--registration invite` (SPEC §3 Operations).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invite {
    pub code: String,
    /// Where to sign up with it.
    pub url: String,
    pub uses_left: i64,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

impl Invite {
    /// The invite with its link: `public_url` (the server's address, no trailing slash) +
    /// `/#invite=CODE`, which opens the web UI's sign-up with the code filled in.
    pub fn new(code: String, uses_left: i64, expires_at: String, public_url: &str) -> Self {
        Invite { url: format!("{public_url}/#invite={code}"), code, uses_left, expires_at }
    }
}

/// A bot as administrators see it (SPEC §3 "Bots and webhooks"). `id` is its account's.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bot {
    pub id: i64,
    pub username: String,
    /// The secret of its hook URL and the key of its webhook signatures.
    pub token: String,
    /// `<public URL>/hooks/<token>`: where scripts post as this bot.
    pub hook_url: String,
    pub webhook_url: Option<String>,
    pub room_id: Option<i64>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl Bot {
    /// The bot with its hook URL under `public_url` (the server's address, no trailing slash).
    pub fn new(
        id: i64,
        username: String,
        token: String,
        webhook_url: Option<String>,
        room_id: Option<i64>,
        created_at: String,
        public_url: &str,
    ) -> Self {
        Bot { hook_url: format!("{public_url}/hooks/{token}"), id, username, token, webhook_url, room_id, created_at }
    }
}

/// Another user as anyone sees them.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct UserPublic {
    pub id: i64,
    pub username: String,
    pub online: bool,
    #[schema(format = DateTime)]
    pub last_seen: Option<String>,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    /// A bot's account (it posts through webhooks, never logs in).
    pub is_bot: bool,
}

/// `user_updated`: a user's display name or avatar changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserUpdated {
    pub user: UserPublic,
}

/// The sender of a message: `UserPublic` without `online`, which would go stale in history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sender {
    pub id: i64,
    pub username: String,
    #[schema(format = DateTime)]
    pub last_seen: Option<String>,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub is_bot: bool,
}

impl Sender {
    /// The name people see: the display name when there is one, else the username.
    pub fn shown_name(&self) -> &str {
        self.display_name.as_deref().filter(|name| !name.is_empty()).unwrap_or(&self.username)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment {
    pub id: i64,
    pub url: String,
    pub file_url: String,
    pub content_type: String,
    pub size: i64,
    pub filename: String,
    /// A picture's width as shown (orientation applied); null for other files and for pictures
    /// that do not decode or are larger than the server's bound.
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// Its thumbnail (at most 640 px on its longer side, JPEG or WebP), served a moment after
    /// the upload's answer; null when `width` is.
    pub thumbnail_url: Option<String>,
}

impl Attachment {
    /// `picture`: width, height and the thumbnail's stored name.
    pub fn new(
        id: i64,
        stored_name: &str,
        content_type: String,
        size: i64,
        filename: String,
        picture: Option<(i64, i64, &str)>,
    ) -> Self {
        let url = format!("/media/{stored_name}");
        Attachment {
            id,
            file_url: url.clone(),
            url,
            content_type,
            size,
            filename,
            width: picture.map(|p| p.0),
            height: picture.map(|p| p.1),
            thumbnail_url: picture.map(|p| format!("/media/{}", p.2)),
        }
    }
}

/// A Message (SPEC §2). Encoded as its [`MessageView`], the one encoder of a Message's JSON.
#[derive(Debug, Clone, ToSchema)]
pub struct Message {
    pub id: i64,
    pub room_id: i64,
    pub sender: Sender,
    pub content: String,
    pub attachment: Option<Attachment>,
    pub client_id: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub edited_at: Option<String>,
    /// The message this one answers.
    pub reply_to: Option<ReplyRef>,
    /// In order of first use.
    pub reactions: Vec<Reaction>,
    /// Ids of the room members the content names as `@username`, in order of appearance.
    pub mentions: Vec<i64>,
}

impl Message {
    /// This message as the encoder takes it.
    pub fn view(&self) -> MessageView<'_> {
        MessageView {
            id: self.id,
            room_id: self.room_id,
            sender: SenderView {
                id: self.sender.id,
                username: &self.sender.username,
                last_seen: self.sender.last_seen.as_deref(),
                display_name: self.sender.display_name.as_deref(),
                avatar_url: self.sender.avatar_url.as_deref(),
                is_bot: self.sender.is_bot,
            },
            content: &self.content,
            attachment: self.attachment.as_ref(),
            client_id: self.client_id.as_deref(),
            created_at: &self.created_at,
            edited_at: self.edited_at.as_deref(),
            reply_to: self.reply_to.as_ref().map(|reply| ReplyView {
                id: reply.id,
                sender: ReplySenderView { id: reply.sender.id, username: &reply.sender.username },
                excerpt: &reply.excerpt,
                deleted: reply.deleted,
            }),
            reactions: &self.reactions,
            mentions: Mentions::Ids(&self.mentions),
        }
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(serializer)
    }
}

/// A Message over borrowed parts: the fields of [`Message`], in its order, from wherever they
/// are kept. An owned Message is encoded through it, and so is a page of history straight from
/// the text storage read (`storage::db::messages::Page`), without a `Message` per row: building
/// 50 of them cost ~8 allocations each, which with their freeing was the largest share of a
/// page's CPU after SQLite itself (the history benchmark's profile).
#[derive(Debug, Serialize)]
pub struct MessageView<'a> {
    pub id: i64,
    pub room_id: i64,
    pub sender: SenderView<'a>,
    pub content: &'a str,
    pub attachment: Option<&'a Attachment>,
    pub client_id: Option<&'a str>,
    pub created_at: &'a str,
    pub edited_at: Option<&'a str>,
    pub reply_to: Option<ReplyView<'a>>,
    pub reactions: &'a [Reaction],
    pub mentions: Mentions<'a>,
}

/// [`Sender`], borrowed.
#[derive(Debug, Serialize)]
pub struct SenderView<'a> {
    pub id: i64,
    pub username: &'a str,
    pub last_seen: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    pub is_bot: bool,
}

/// [`ReplyRef`], borrowed.
#[derive(Debug, Serialize)]
pub struct ReplyView<'a> {
    pub id: i64,
    pub sender: ReplySenderView<'a>,
    pub excerpt: &'a str,
    pub deleted: bool,
}

/// [`ReplySender`], borrowed.
#[derive(Debug, Serialize)]
pub struct ReplySenderView<'a> {
    pub id: i64,
    pub username: &'a str,
}

/// A message's `mentions`: ids, or the JSON array of them as storage keeps it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Mentions<'a> {
    Ids(&'a [i64]),
    Json(&'a RawValue),
}

/// Messages as the JSON array the API answers with.
pub fn messages_json<'a>(messages: impl Iterator<Item = MessageView<'a>>, expected: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(expected * 400 + 2);
    out.push(b'[');
    for (i, message) in messages.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Into a Vec, with Serialize impls that cannot fail: an error here is a bug.
        if let Err(e) = serde_json::to_writer(&mut out, &message) {
            tracing::error!(error = %e, "a message could not be encoded");
        }
    }
    out.push(b']');
    out
}

/// The message a reply answers, as the reply shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplyRef {
    pub id: i64,
    pub sender: ReplySender,
    /// The first 200 characters of the original's content; empty once it is deleted.
    pub excerpt: String,
    pub deleted: bool,
}

/// Who wrote the message a reply answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplySender {
    pub id: i64,
    pub username: String,
}

/// One emoji on a message: who reacted with it, in the order they did.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Reaction {
    pub emoji: String,
    pub count: i64,
    pub user_ids: Vec<i64>,
}

/// `read`: a member's read marker moved forward.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ReadReceipt {
    pub room_id: i64,
    pub user_id: i64,
    pub message_id: i64,
}

/// `message_deleted`: which message went, from which room.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct MessageDeleted {
    pub id: i64,
    pub room_id: i64,
}

/// `room_removed`: the user is no longer a member of the room.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct RoomRemoved {
    pub room_id: i64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }
    pub fn parse(text: &str) -> Role {
        if text == "owner" { Role::Owner } else { Role::Member }
    }
}

/// Who may find and join a group room: anyone on the server (`open`, listed in the directory)
/// or only those its members add (`private`). Private chats are always `private`.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Open,
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Open => "open",
            Visibility::Private => "private",
        }
    }
    pub fn parse(text: &str) -> Visibility {
        if text == "open" { Visibility::Open } else { Visibility::Private }
    }
}

/// What of a room reaches a member who is not looking at it (Web Push; in the web UI also the
/// in-page notification and the tab-title count): every message, only those that mention them
/// (and every message of a private chat), or nothing. Each member's own; no unread count follows it.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotifyLevel {
    #[default]
    All,
    Mentions,
    None,
}

impl NotifyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::None => "none",
        }
    }
    pub fn parse(text: &str) -> NotifyLevel {
        match text {
            "mentions" => NotifyLevel::Mentions,
            "none" => NotifyLevel::None,
            _ => NotifyLevel::All,
        }
    }
    /// Whether a message reaches a member at this level: `mentioned` them, in a `private` chat.
    pub fn admits(self, mentioned: bool, private: bool) -> bool {
        match self {
            NotifyLevel::All => true,
            NotifyLevel::Mentions => mentioned || private,
            NotifyLevel::None => false,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    #[serde(flatten)]
    pub user: UserPublic,
    pub role: Role,
    /// The member's read marker: the newest message they have read (null: none yet).
    pub last_read_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Room {
    pub id: i64,
    pub name: Option<String>,
    pub is_private: bool,
    pub owner_id: Option<i64>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Who may find and join it: `open` (the directory) or `private`.
    pub visibility: Visibility,
    /// A line under the room's name (at most 250 characters); null when it has none.
    pub topic: Option<String>,
    pub members: Vec<Member>,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    /// Unread messages that mention the viewer.
    pub unread_mentions: i64,
    /// The viewer's own notification level for this room.
    pub notify: NotifyLevel,
    /// Only for private chats: the other member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<UserPublic>,
}

/// An open room as the directory lists it (`GET /chat/directory`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoomListing {
    pub id: i64,
    pub name: String,
    pub topic: Option<String>,
    pub member_count: i64,
    /// The time of its newest message, or of its creation when it has none.
    #[schema(format = DateTime)]
    pub last_activity_at: String,
    /// The caller is a member of it.
    pub joined: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrivateChat {
    pub id: i64,
    pub is_private: bool,
    pub peer: UserPublic,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub unread_mentions: i64,
}

//! Bots: accounts that scripts, home automation and CI talk through (SPEC §3 "Bots and
//! webhooks"). Administrators create them (`POST /admin/bots`, `natter bot add`), add them to
//! rooms like anyone, rotate or revoke their token. A bot cannot log in (`Sessions::login` skips
//! it) and so never holds a JWT to open a socket with.
//!
//! **Incoming.** A hook request names its bot by the token in its URL, read from the database on
//! every request, so a token rotated or deleted, also by `natter bot` on a running server's data,
//! fails from the next request on. The message then takes the same road as any other:
//! `--message-rate` per bot (`Chat::admit_message`), then `Chat::send_message` (stored,
//! broadcast, unread, searchable).
//!
//! **Outgoing.** `Chat::send_message` finds, in the transaction that stores a message, the bots
//! with a webhook that it mentions or whose private chat it is in, and offers each call to a
//! bounded queue ([`WebhookQueue`], `--webhook-queue`) without waiting: a full queue drops the
//! call (logged, counted), so a slow or dead webhook never delays a send or its ack. [`Webhooks`]
//! takes calls off the queue, at most `--webhook-concurrency` at a time, each bounded by
//! `--webhook-timeout` (7 s, SPEC) from connecting to the end of the answer, never retried. A
//! 2xx answer with text (text/plain, or JSON `{"text"}`) is posted by the bot as a reply.
//! Messages from bots call no webhook, so neither a bot's replies nor two bots mentioning each
//! other can loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};

use crate::error::{ApiError, ApiResult};
use crate::input::{BotChange, HookBody, NewBot, Post, validate};
use crate::model::{Bot, Message, User};
use crate::runtime::metrics::{Metrics, WebhookOutcome};
use crate::storage::db::bots::{self, BotRecord, WebhookTarget};
use crate::storage::db::{Db, DbError, rooms, unix_now};
use crate::usecase::auth::{Caller, random_hex};
use crate::usecase::chat::Chat;
use crate::usecase::invites::{Issuer, ensure_admin};

/// Random bytes in a token: 192 bits, as 48 hex digits (URL-safe as they are).
const TOKEN_BYTES: usize = 24;

/// The most of a webhook's answer that is read: a reply is one message (4,000 characters, at
/// most 16,000 bytes of UTF-8) plus its JSON.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the outgoing webhooks may use (from `--webhook-timeout`, `--webhook-queue`,
/// `--webhook-concurrency`).
#[derive(Debug, Clone, Copy)]
pub struct WebhookRules {
    pub timeout: Duration,
    pub queue: usize,
    pub concurrency: usize,
}

impl Default for WebhookRules {
    fn default() -> Self {
        WebhookRules { timeout: Duration::from_secs(7), queue: 256, concurrency: 4 }
    }
}

/// One outgoing webhook call: the bot, and the message with its room.
#[derive(Debug, Clone)]
pub struct WebhookCall {
    pub bot: WebhookTarget,
    pub room_name: Option<String>,
    pub message: Message,
}

/// Where `Chat::send_message` leaves webhook calls; never waits.
#[derive(Clone)]
pub struct WebhookQueue {
    tx: mpsc::Sender<WebhookCall>,
    metrics: Metrics,
}

impl WebhookQueue {
    /// A queue of `rules.queue` calls and the receiving end for [`Webhooks::run`].
    pub fn channel(rules: WebhookRules, metrics: Metrics) -> (WebhookQueue, mpsc::Receiver<WebhookCall>) {
        let (tx, rx) = mpsc::channel(rules.queue.max(1));
        (WebhookQueue { tx, metrics }, rx)
    }

    /// Offer a call; a full queue drops it (the webhooks are behind: one more call would only
    /// wait longer than anyone waits for an answer).
    pub fn offer(&self, call: WebhookCall) {
        let bot = call.bot.bot_id;
        if let Err(e) = self.tx.try_send(call) {
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "the webhook queue is full",
                mpsc::error::TrySendError::Closed(_) => "webhooks are not running",
            };
            tracing::warn!(bot, "outgoing webhook dropped: {reason}");
            self.metrics.webhook_call(WebhookOutcome::Dropped, None);
        }
    }
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the token>`: the
/// `X-Natter-Signature` of an outgoing webhook.
pub fn signature(token: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", crate::usecase::auth::hex(&mac.finalize().into_bytes()))
}

/// A bot posting now: its account checked by `Chat` like anyone's, in the same transaction.
fn bot_caller(id: i64) -> Caller {
    let now = unix_now();
    Caller { id, issued_at: now, expires_at: now + 60 }
}

fn bot_not_found() -> ApiError {
    ApiError::not_found("Bot")
}

/// What a hook answers for a token that names no bot.
fn unknown_token() -> ApiError {
    ApiError::NotFound("No bot has that token (it may have been rotated or the bot deleted).".into())
}

fn to_bot(record: BotRecord, public_url: &str) -> Bot {
    Bot::new(
        record.id,
        record.username,
        record.token,
        record.webhook_url,
        record.room_id,
        record.created_at,
        public_url,
    )
}

fn check_webhook_url(url: Option<&str>) -> ApiResult<()> {
    match url {
        Some(url) => validate::webhook_url(url).map_err(|p| ApiError::invalid("webhook_url", p)),
        None => Ok(()),
    }
}

/// A default room must exist (it need not hold the bot: SPEC §3).
fn check_room(conn: &rusqlite::Connection, room_id: Option<i64>) -> ApiResult<()> {
    match room_id {
        Some(id) if rooms::get(conn, id)?.is_none() => Err(ApiError::invalid("room_id", "no room has that id")),
        _ => Ok(()),
    }
}

/// The administration of bots: REST `/admin/bots` and `natter bot`.
pub struct Bots {
    db: Db,
}

impl Bots {
    pub fn new(db: Db) -> Bots {
        Bots { db }
    }

    fn issuer_ok(by: &Issuer<'_>) -> ApiResult<()> {
        match by {
            Issuer::User(user) => ensure_admin(user),
            Issuer::Operator => Ok(()),
        }
    }

    /// A new bot (administrators, or `natter bot add`): an account with `is_bot`, in no room.
    pub async fn create(&self, by: Issuer<'_>, new: NewBot, public_url: &str) -> ApiResult<Bot> {
        Self::issuer_ok(&by)?;
        let mut fields = validate::Fields::default();
        if let Err(p) = validate::username(&new.name) {
            fields.add("name", p);
        }
        if let Some(Err(p)) = new.webhook_url.as_deref().map(validate::webhook_url) {
            fields.add("webhook_url", p);
        }
        fields.finish()?;
        let token = random_hex(TOKEN_BYTES);
        let record = self
            .db
            .write(move |conn| {
                check_room(conn, new.room_id)?;
                bots::insert(conn, &new.name, &token, new.webhook_url.as_deref(), new.room_id).map_err(name_taken)
            })
            .await?;
        Ok(to_bot(record, public_url))
    }

    /// Every bot, in id order (administrators only).
    pub async fn list(&self, by: Issuer<'_>, public_url: &str) -> ApiResult<Vec<Bot>> {
        Self::issuer_ok(&by)?;
        let records = self.db.read(bots::list).await?;
        Ok(records.into_iter().map(|record| to_bot(record, public_url)).collect())
    }

    /// The id of the bot named `name` (any case), for `natter bot`.
    pub async fn find(&self, name: &str) -> ApiResult<i64> {
        let lookup = name.to_string();
        self.db
            .read(move |conn| bots::by_username(conn, &lookup))
            .await?
            .map(|bot| bot.id)
            .ok_or_else(|| ApiError::NotFound(format!("There is no bot named {name}.")))
    }

    /// Change a bot's webhook or default room (administrators only).
    pub async fn change(&self, by: &User, id: i64, change: BotChange, public_url: &str) -> ApiResult<Bot> {
        ensure_admin(by)?;
        check_webhook_url(change.webhook_url.as_ref().and_then(|u| u.as_deref()))?;
        let record = self
            .db
            .write(move |conn| {
                bots::by_id(conn, id)?.ok_or_else(bot_not_found)?;
                if let Some(room_id) = change.room_id {
                    check_room(conn, room_id)?;
                    bots::set_room(conn, id, room_id)?;
                }
                if let Some(url) = &change.webhook_url {
                    bots::set_webhook_url(conn, id, url.as_deref())?;
                }
                bots::by_id(conn, id)?.ok_or_else(bot_not_found)
            })
            .await?;
        Ok(to_bot(record, public_url))
    }

    /// A new token; the old one stops working with this commit.
    pub async fn rotate_token(&self, by: Issuer<'_>, id: i64, public_url: &str) -> ApiResult<Bot> {
        Self::issuer_ok(&by)?;
        let token = random_hex(TOKEN_BYTES);
        let record = self
            .db
            .write(move |conn| {
                if !bots::set_token(conn, id, &token)? {
                    return Err(bot_not_found());
                }
                bots::by_id(conn, id)?.ok_or_else(bot_not_found)
            })
            .await?;
        Ok(to_bot(record, public_url))
    }

    /// Delete a bot: its token stops working, its messages stay (its account is kept, disabled).
    pub async fn delete(&self, by: Issuer<'_>, id: i64) -> ApiResult<()> {
        Self::issuer_ok(&by)?;
        let removed = self.db.write(move |conn| bots::delete(conn, id)).await?;
        if removed { Ok(()) } else { Err(bot_not_found()) }
    }

    /// The room `ROOM` names for `natter bot add --room`: an id, or a group room's name (any
    /// case; several: the one with the newest message).
    pub async fn room_named(&self, room: &str) -> ApiResult<i64> {
        let lookup = room.trim().trim_start_matches('#').to_string();
        self.db
            .read(move |conn| bots::room_named(conn, &lookup))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("There is no room {room}.")))
    }
}

/// Incoming hooks: `POST /hooks/{token}` and `POST /hooks/{token}/rooms/{room_id}`, posted
/// through the chat use case like any message.
pub struct Hooks {
    db: Db,
    chat: Arc<Chat>,
}

impl Hooks {
    pub fn new(db: Db, chat: Arc<Chat>) -> Hooks {
        Hooks { db, chat }
    }

    /// The bot a hook URL's token names, with the message counted against `--message-rate`
    /// for it: called before the body is read, so that a flood costs a lookup each.
    pub async fn admit_hook(&self, token: String) -> ApiResult<i64> {
        let bot = self.db.read(move |conn| bots::by_token(conn, &token)).await?.ok_or_else(unknown_token)?;
        self.chat.admit_message(bot_caller(bot.id))?;
        Ok(bot.id)
    }

    /// `POST /hooks/{token}`: the message goes to `channel` among the bot's rooms, else to its
    /// default room; neither is 422 naming `channel`.
    pub async fn post_hook(&self, bot_id: i64, body: HookBody) -> ApiResult<Message> {
        let text = body.text.clone().unwrap_or_default();
        check_text(&text)?;
        let channel = body.channel()?;
        let room_id = self
            .db
            .read(move |conn| {
                if let Some(channel) = &channel {
                    return Ok::<_, DbError>(bots::room_for_channel(conn, bot_id, channel)?.ok_or(true));
                }
                Ok(bots::by_id(conn, bot_id)?.and_then(|bot| bot.room_id).ok_or(false))
            })
            .await?;
        let room_id = room_id.map_err(|named| {
            ApiError::invalid(
                "channel",
                if named {
                    "names no room this bot is a member of"
                } else {
                    "is required: this bot has no default room"
                },
            )
        })?;
        self.post(bot_id, room_id, text, None).await
    }

    /// `POST /hooks/{token}/rooms/{room_id}`: a room the bot is a member of (else 404), text
    /// and/or a file it uploaded (`attachment_id`).
    pub async fn post(
        &self,
        bot_id: i64,
        room_id: i64,
        text: String,
        attachment_id: Option<i64>,
    ) -> ApiResult<Message> {
        let post = Post { room_id, content: text, attachment_id, client_id: None, reply_to: None };
        let (message, _) = self.chat.send_message(bot_caller(bot_id), post).await?;
        Ok(message)
    }
}

/// A hook's text: what any message's content must be, named as the hook names it.
fn check_text(text: &str) -> ApiResult<()> {
    crate::usecase::chat::check_content(text, false).map_err(|e| match e {
        ApiError::Validation { mut fields, .. } => {
            let problem = fields.remove("content").unwrap_or_else(|| "is not a valid message".into());
            ApiError::invalid("text", problem)
        }
        other => other,
    })
}

/// A taken name is a 409 naming `name`.
fn name_taken(e: DbError) -> ApiError {
    match e.unique_violation() {
        // A bot's email is made from its name (`bot:<name>`), so a second bot of the same name
        // can fail on either index first.
        Some("users.username" | "users.email") => {
            ApiError::Conflict { detail: "That name is already taken by a person or a bot.".into(), field: "name" }
        }
        _ => ApiError::from(e),
    }
}

/// Calls the outgoing webhooks taken off the [`WebhookQueue`], and posts their answers.
pub struct Webhooks {
    client: reqwest::Client,
    rules: WebhookRules,
    chat: Arc<Chat>,
    metrics: Metrics,
}

impl Webhooks {
    pub fn new(rules: WebhookRules, chat: Arc<Chat>, metrics: Metrics) -> Result<Webhooks, String> {
        let client = crate::runtime::outbound::client(rules.timeout)
            .map_err(|e| format!("cannot set up the webhook client: {e}"))?;
        Ok(Webhooks { client, rules, chat, metrics })
    }

    /// Take calls off the queue until it closes, at most `--webhook-concurrency` at a time. While
    /// all are busy the queue fills and further calls are dropped (see [`WebhookQueue::offer`]).
    pub async fn run(self, mut calls: mpsc::Receiver<WebhookCall>) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.rules.concurrency.max(1)));
        while let Some(call) = calls.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let this = this.clone();
            tokio::spawn(async move {
                this.call(call).await;
                drop(slot);
            });
        }
    }

    /// One call: POST, read the answer (all within the timeout), post a reply if it has one.
    async fn call(&self, call: WebhookCall) {
        let WebhookCall { bot, room_name, message } = call;
        let body = json!({
            "type": "message",
            "bot": {"id": bot.bot_id, "username": bot.username},
            "room": {"id": message.room_id, "name": room_name},
            "message": message,
        });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let timestamp = unix_now();
        let started = Instant::now();
        let answer = self
            .client
            .post(&bot.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Natter-Timestamp", timestamp.to_string())
            .header("X-Natter-Signature", signature(&bot.token, timestamp, &body))
            .body(body)
            .send()
            .await;
        let reply = match answer {
            Ok(response) if response.status().is_success() => read_reply(response).await,
            Ok(response) => Err((WebhookOutcome::Failed, format!("answered {}", response.status()))),
            Err(e) if e.is_timeout() => {
                Err((WebhookOutcome::Timeout, format!("no answer within {:?}", self.rules.timeout)))
            }
            Err(e) => Err((WebhookOutcome::Failed, crate::error::Chain(&e).to_string())),
        };
        let took = started.elapsed();
        let outcome = match reply {
            Ok(None) => WebhookOutcome::Ok,
            Ok(Some(text)) => {
                let post = Post {
                    room_id: message.room_id,
                    content: text,
                    attachment_id: None,
                    client_id: None,
                    reply_to: Some(message.id),
                };
                let caller = bot_caller(bot.bot_id);
                match self.chat.admit_message(caller) {
                    Ok(()) => match self.chat.send_message(caller, post).await {
                        Ok(_) => WebhookOutcome::Replied,
                        Err(e) => {
                            tracing::warn!(bot = bot.bot_id, error = %e, "the webhook's reply could not be posted");
                            WebhookOutcome::Failed
                        }
                    },
                    Err(e) => {
                        tracing::warn!(bot = bot.bot_id, error = %e, "the webhook's reply is over --message-rate");
                        WebhookOutcome::Failed
                    }
                }
            }
            Err((outcome, why)) => {
                tracing::warn!(bot = bot.bot_id, url = %bot.url, ?took, "outgoing webhook failed: {why}");
                outcome
            }
        };
        self.metrics.webhook_call(outcome, Some(took));
    }
}

/// The reply in a 2xx answer: a non-empty text/plain body, or JSON with a non-empty `"text"`.
async fn read_reply(mut response: reqwest::Response) -> Result<Option<String>, (WebhookOutcome, String)> {
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err((WebhookOutcome::Failed, format!("answer over {MAX_ANSWER_BYTES} bytes")));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return Err((WebhookOutcome::Timeout, "the answer did not finish in time".into()));
            }
            Err(e) => return Err((WebhookOutcome::Failed, crate::error::Chain(&e).to_string())),
        }
    }
    let text = match kind.as_str() {
        "text/plain" => String::from_utf8(bytes).ok(),
        "application/json" => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string)),
        _ => None,
    };
    Ok(text.filter(|t| !t.trim().is_empty()))
}

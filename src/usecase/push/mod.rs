//! Web Push (SPEC §3, Notifications): subscriptions, and a push message to every member who is
//! not connected when a message is stored.
//!
//! **Off the message path.** The Socket.IO fan-out hands each stored message to
//! [`Push::message_stored`], which only appends it to an in-memory queue and returns: the send,
//! its ack and the broadcast never wait for a push service. A worker takes the queue in order,
//! reads who is to be told (members other than the sender, whose level admits the message, with
//! no connected socket at that moment) and their subscriptions, and starts one delivery per
//! subscription, at most `--push-concurrency` at a time, each bounded by `--push-timeout`.
//!
//! **Bounded.** The queue holds `--push-queue` messages; when a dead or slow push service keeps
//! every delivery slot busy and the queue fills, the oldest message is dropped (its pushes are
//! lost, the newer ones matter more) and counted in `natter_push_dropped_total`. Memory stays
//! bounded whatever the push services do.
//!
//! **Answers.** 201/2xx is sent; 404 and 410 mean the browser unsubscribed: the subscription is
//! deleted; 429 and 5xx are tried at most twice more, after `Retry-After` (capped) or a second;
//! anything else is final. Each outcome is counted in `natter_push_sent_total` or
//! `natter_push_failed_total{reason}`.

pub mod services;
pub mod webpush;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};

use crate::error::{ApiError, ApiResult, Chain};
use crate::model::Message;
use crate::runtime::metrics::Metrics;
use crate::storage::db::{self, Db, push as subscriptions, rooms};
use crate::usecase::auth::Caller;
use crate::usecase::presence::Presence;
pub use services::{PushServices, ServiceHost};
use webpush::{BrowserKeys, VapidKey};

/// The largest payload (its JSON) a push message carries (SPEC §3).
pub const MAX_PAYLOAD_BYTES: usize = 3000;
/// A push service is asked to keep an undelivered message this long (seconds).
const TTL_SECONDS: u64 = 86_400;
/// Tries after the first for a 429 or 5xx answer.
const RETRIES: u32 = 2;
/// The longest `Retry-After` honoured; a push service asking for more gets its last try then.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How long a VAPID JWT is valid (RFC 8292 allows at most 24 hours), and how long one is reused
/// for the same push service: signing costs more than the encryption of a message.
const JWT_LIFETIME_SECS: u64 = 12 * 3600;
const JWT_REUSE_SECS: u64 = 3600;

/// What the flags say about Web Push (built from `--push*` by `natter::build`).
#[derive(Debug, Clone)]
pub struct PushRules {
    /// Where the VAPID key pair is kept (`vapid-key.pem` in the data dir).
    pub key_path: PathBuf,
    /// The VAPID contact (`--push-subject`): a `mailto:` or `https:` URL.
    pub subject: String,
    pub services: PushServices,
    /// Messages waiting for the worker, at most (`--push-queue`).
    pub queue: usize,
    /// Deliveries in flight at once (`--push-concurrency`).
    pub concurrency: usize,
    /// One delivery's deadline, retries excluded (`--push-timeout`).
    pub timeout: Duration,
    /// Subscriptions kept per account; a new one beyond it replaces the oldest.
    pub per_user: usize,
}

/// A subscription as the browser gives it (`PushSubscription.toJSON()`), decoded.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// The decrypted body a service worker gets.
#[derive(Debug, Serialize)]
pub struct Payload {
    pub title: String,
    pub body: String,
    pub room_id: Option<i64>,
    pub message_id: Option<i64>,
    pub url: String,
}

enum Job {
    /// Boxed: a queue of thousands of small `Test` jobs should not each take a Message's size.
    Message(Box<Message>),
    Test {
        user_id: i64,
    },
}

/// One push to send: where, what, how urgent.
struct Delivery {
    subscription: subscriptions::SubscriptionRecord,
    payload: Arc<[u8]>,
    urgent: bool,
}

/// The Web Push use case. Cheap to clone.
#[derive(Clone)]
pub struct Push(Arc<Inner>);

struct Inner {
    db: Db,
    presence: Arc<Presence>,
    key: VapidKey,
    rules: PushRules,
    metrics: Metrics,
    queue: Mutex<VecDeque<Job>>,
    wake: Notify,
    slots: Arc<Semaphore>,
    client: reqwest::Client,
    /// A signed `Authorization` value per push service origin, and when it stops being reused.
    tokens: Mutex<HashMap<String, (Arc<str>, u64)>>,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Push {
    /// The use case with its key pair (made on the first start).
    pub fn new(db: Db, presence: Arc<Presence>, rules: PushRules, metrics: Metrics) -> Result<Push, String> {
        let key = VapidKey::load_or_create(&rules.key_path)?;
        Push::with_key(db, presence, rules, metrics, key)
    }

    /// The use case with a given key pair (benchmarks).
    pub fn with_key(
        db: Db,
        presence: Arc<Presence>,
        rules: PushRules,
        metrics: Metrics,
        key: VapidKey,
    ) -> Result<Push, String> {
        let client = crate::runtime::outbound::client(rules.timeout)
            .map_err(|e| format!("cannot set up the push client: {e}"))?;
        Ok(Push(Arc::new(Inner {
            db,
            presence,
            key,
            slots: Arc::new(Semaphore::new(rules.concurrency.max(1))),
            rules,
            metrics,
            queue: Mutex::default(),
            wake: Notify::new(),
            client,
            tokens: Mutex::default(),
        })))
    }

    /// The VAPID public key browsers subscribe with.
    pub fn public_key(&self) -> &str {
        self.0.key.public_key()
    }

    /// Store the caller's subscription (true: a new endpoint; false: its keys were replaced).
    pub async fn subscribe(&self, caller: Caller, subscription: NewSubscription) -> ApiResult<bool> {
        self.0
            .rules
            .services
            .check(&subscription.endpoint)
            .map_err(|problem| ApiError::invalid("endpoint", problem))?;
        BrowserKeys::parse(&subscription.p256dh, &subscription.auth)
            .map_err(|(field, problem)| ApiError::invalid(field, problem))?;
        let keep = self.0.rules.per_user;
        let created = self
            .0
            .db
            .write(move |conn| {
                caller.verify(conn)?;
                let at = db::now();
                Ok::<_, ApiError>(subscriptions::upsert(
                    conn,
                    caller.id,
                    &subscription.endpoint,
                    &subscription.p256dh,
                    &subscription.auth,
                    &at,
                    keep,
                )?)
            })
            .await?;
        Ok(created)
    }

    /// Forget the caller's subscription at `endpoint` (one that is not theirs, or unknown: nothing).
    pub async fn unsubscribe(&self, caller: Caller, endpoint: String) -> ApiResult<()> {
        self.0
            .db
            .write(move |conn| {
                caller.verify(conn)?;
                Ok::<_, ApiError>(subscriptions::remove(conn, caller.id, &endpoint)?)
            })
            .await
    }

    /// Queue a test notification to every subscription of the caller.
    pub async fn test(&self, caller: Caller) -> ApiResult<()> {
        self.0.db.read(move |conn| caller.verify(conn).map(drop)).await?;
        self.enqueue(Job::Test { user_id: caller.id });
        Ok(())
    }

    /// A message was stored (called by the fan-out, in commit order): queue it and return at once.
    pub fn message_stored(&self, message: &Message) {
        self.enqueue(Job::Message(Box::new(message.clone())));
    }

    fn enqueue(&self, job: Job) {
        let mut queue = crate::runtime::mutexes::lock(&self.0.queue);
        let mut dropped = 0;
        while queue.len() >= self.0.rules.queue.max(1) {
            queue.pop_front();
            dropped += 1;
        }
        queue.push_back(job);
        drop(queue);
        if dropped > 0 {
            self.0.metrics.push_dropped(dropped);
            tracing::warn!(dropped, "the push queue is full: dropped the oldest message's pushes");
        }
        self.0.wake.notify_one();
    }

    fn next_job(&self) -> Option<Job> {
        crate::runtime::mutexes::lock(&self.0.queue).pop_front()
    }

    /// The worker: runs until the process ends (`natter::serve` aborts it on shutdown).
    pub async fn run(self) {
        loop {
            let Some(job) = self.next_job() else {
                self.0.wake.notified().await;
                continue;
            };
            let deliveries = match self.deliveries(job).await {
                Ok(deliveries) => deliveries,
                Err(e) => {
                    tracing::warn!(error = %Chain(&e), "could not work out who gets a push message");
                    continue;
                }
            };
            for delivery in deliveries {
                // Waits while every slot is busy; meanwhile new messages queue (bounded) behind.
                let Ok(permit) = self.0.slots.clone().acquire_owned().await else { return };
                let push = self.clone();
                tokio::spawn(async move {
                    push.deliver(delivery).await;
                    drop(permit);
                });
            }
        }
    }

    /// Who gets `job`, each subscription with its payload.
    async fn deliveries(&self, job: Job) -> ApiResult<Vec<Delivery>> {
        match job {
            Job::Test { user_id } => {
                let payload = encode(&Payload {
                    title: "natter".into(),
                    body: "This is a test notification from natter: notifications reach this device.".into(),
                    room_id: None,
                    message_id: None,
                    url: "/".into(),
                });
                let subs = self.0.db.read(move |conn| subscriptions::of_users(conn, &[user_id])).await?;
                Ok(subs
                    .into_iter()
                    .map(|subscription| Delivery { subscription, payload: payload.clone(), urgent: false })
                    .collect())
            }
            Job::Message(message) => {
                let room_id = message.room_id;
                let sender = message.sender.id;
                let (room, levels) = self
                    .0
                    .db
                    .read(move |conn| {
                        Ok::<_, db::DbError>((rooms::get(conn, room_id)?, rooms::notify_levels(conn, room_id, sender)?))
                    })
                    .await?;
                let Some(room) = room else { return Ok(Vec::new()) };
                let mut told = Vec::new();
                let mut urgent_for = Vec::new();
                for (user_id, level) in levels {
                    let mentioned = message.mentions.contains(&user_id);
                    if level.admits(mentioned, room.is_private) && !self.0.presence.is_online(user_id) {
                        told.push(user_id);
                        if mentioned || room.is_private {
                            urgent_for.push(user_id);
                        }
                    }
                }
                if told.is_empty() {
                    return Ok(Vec::new());
                }
                let title = if room.is_private {
                    message.sender.shown_name().to_string()
                } else {
                    room.name.clone().unwrap_or_else(|| "natter".into())
                };
                let payload = message_payload(&message, title);
                let subs = self.0.db.read(move |conn| subscriptions::of_users(conn, &told)).await?;
                Ok(subs
                    .into_iter()
                    .map(|subscription| {
                        let urgent = urgent_for.contains(&subscription.user_id);
                        Delivery { subscription, payload: payload.clone(), urgent }
                    })
                    .collect())
            }
        }
    }

    /// The signed `Authorization` value for `origin`, reused for an hour.
    fn authorization(&self, origin: &str) -> Result<Arc<str>, String> {
        let now = unix_now();
        if let Some((value, until)) = crate::runtime::mutexes::lock(&self.0.tokens).get(origin)
            && *until > now
        {
            return Ok(value.clone());
        }
        let value: Arc<str> = self.0.key.authorization(origin, &self.0.rules.subject, now + JWT_LIFETIME_SECS)?.into();
        let mut tokens = crate::runtime::mutexes::lock(&self.0.tokens);
        // Origins are the few push services allowed; the map stays that small.
        tokens.insert(origin.to_string(), (value.clone(), now + JWT_REUSE_SECS));
        Ok(value)
    }

    async fn deliver(&self, delivery: Delivery) {
        let outcome = self.try_deliver(&delivery).await;
        match outcome {
            Ok(()) => self.0.metrics.push_sent(),
            Err(reason) => {
                self.0.metrics.push_failed(reason);
                tracing::debug!(reason, subscription = delivery.subscription.id, "a push message was not delivered");
            }
        }
    }

    async fn try_deliver(&self, delivery: &Delivery) -> Result<(), &'static str> {
        let sub = &delivery.subscription;
        // Checked again: `--push-service` may have changed since it was stored.
        let url = self.0.rules.services.check(&sub.endpoint).map_err(|_| "not_allowed")?;
        let origin = url.origin().ascii_serialization();
        let authorization = self.authorization(&origin).map_err(|_| "encrypt")?;
        let keys = BrowserKeys::parse(&sub.p256dh, &sub.auth).map_err(|_| "encrypt")?;
        let body = webpush::encrypt(&keys, &delivery.payload).map_err(|_| "encrypt")?;
        let mut tries = 0;
        loop {
            let sent = self
                .0
                .client
                .post(url.clone())
                .header("TTL", TTL_SECONDS)
                .header("Urgency", if delivery.urgent { "high" } else { "normal" })
                .header("Content-Encoding", "aes128gcm")
                .header("Content-Type", "application/octet-stream")
                .header("Authorization", &*authorization)
                .body(body.clone())
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) if e.is_timeout() => return Err("timeout"),
                Err(_) => return Err("network"),
            };
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
                let id = sub.id;
                if let Err(e) = self.0.db.write(move |conn| subscriptions::remove_gone(conn, id)).await {
                    tracing::warn!(error = %Chain(&e), "could not delete a subscription its push service says is gone");
                }
                return Err("gone");
            }
            let again = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if !again {
                return Err("rejected");
            }
            if tries == RETRIES {
                return Err(if status.is_server_error() { "server_error" } else { "throttled" });
            }
            tries += 1;
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs)
                .min(MAX_RETRY_AFTER);
            tokio::time::sleep(wait).await;
        }
    }
}

/// The payload of `message` under `title`: `sender: content` (the sender as people see them, the
/// attachment's file name when there is no text),
/// cut at a character boundary so that the JSON stays within [`MAX_PAYLOAD_BYTES`].
pub fn message_payload(message: &Message, title: String) -> Arc<[u8]> {
    let text = if message.content.trim().is_empty() {
        message.attachment.as_ref().map(|a| a.filename.clone()).unwrap_or_default()
    } else {
        message.content.clone()
    };
    let mut payload = Payload {
        title,
        body: format!("{}: {}", message.sender.shown_name(), text),
        room_id: Some(message.room_id),
        message_id: Some(message.id),
        url: format!("/#/chat/{}", message.room_id),
    };
    let encoded = encode(&payload);
    if encoded.len() <= MAX_PAYLOAD_BYTES {
        return encoded;
    }
    // Too long: the longest prefix of the body (cut at a character, then "…") that fits, found
    // by halving (JSON escapes make a character 1 to 6 bytes, so no single cut is exact).
    payload.title = payload.title.chars().take(200).collect();
    let full = std::mem::take(&mut payload.body);
    let boundaries: Vec<usize> = full.char_indices().map(|(i, _)| i).collect();
    let (mut fits, mut too_long) = (0, boundaries.len());
    let mut best = None;
    while fits < too_long {
        let middle = (fits + too_long).div_ceil(2);
        payload.body = format!("{}…", &full[..boundaries[middle - 1]]);
        let encoded = encode(&payload);
        if encoded.len() <= MAX_PAYLOAD_BYTES {
            fits = middle;
            best = Some(encoded);
        } else {
            too_long = middle - 1;
        }
    }
    best.unwrap_or_else(|| {
        payload.body = "…".into();
        encode(&payload)
    })
}

fn encode(payload: &Payload) -> Arc<[u8]> {
    serde_json::to_vec(payload).unwrap_or_default().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sender;

    #[test]
    fn a_long_message_is_cut_to_fit_the_payload() {
        let message = Message {
            id: 9,
            room_id: 3,
            sender: Sender {
                id: 1,
                username: "alice".into(),
                last_seen: None,
                display_name: None,
                avatar_url: None,
                is_bot: false,
            },
            content: "\u{1}é\"".repeat(2000),
            attachment: None,
            client_id: None,
            created_at: String::new(),
            edited_at: None,
            reply_to: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
        };
        let payload = message_payload(&message, "general".into());
        assert!(payload.len() <= MAX_PAYLOAD_BYTES && payload.len() > MAX_PAYLOAD_BYTES - 10, "{}", payload.len());
        let value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert!(value["body"].as_str().unwrap().starts_with("alice: \u{1}é"));
        assert_eq!(value["url"], "/#/chat/3");
    }
}

//! The crash scenario, shared by `tests/it/crash.rs` (3 cycles of the debug binary) and
//! `benches/crash.rs` (100 cycles of the release binary, which includes this file and the
//! tests' Socket.IO client, `common/sio.rs`): 20 Socket.IO senders (acked `chat_message` with a
//! `client_id`, each waiting for its ack before the next) and 5 REST uploaders run against a
//! natter process until it is killed with SIGKILL at a random moment. After the restart on the
//! same data, [`check`] proves what an acknowledgement promises:
//!
//! - `PRAGMA integrity_check` is `ok`;
//! - every acknowledged message is stored exactly once, under the id its ack gave, with its
//!   content, and each sender's messages are in the order they were acknowledged;
//! - the message a sender had in flight when the server died, sent again with the same
//!   `client_id` after the restart (as a client does), is acknowledged, stored once;
//! - every acknowledged upload has its attachment row and its file, with the bytes sent (less
//!   the PNG's `tEXt` chunk, which natter removes as image metadata);
//! - the media folder holds nothing else: no temporary file, no file that no row refers to.
//!
//! The module that includes this one has the Socket.IO client in scope as `sio`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::sio::{self, Client, SioError};

pub const SENDERS: usize = 20;
pub const UPLOADERS: usize = 5;
const PASSWORD: &str = "crash-password";
/// How long a sender waits for an ack while the server is up; far beyond any ack's latency.
const ACK_WAIT: Duration = Duration::from_secs(60);

/// One account of the scenario.
pub struct Account {
    pub id: i64,
    pub name: String,
    pub token: String,
}

/// The accounts and the room every sender posts to.
pub struct World {
    pub room_id: i64,
    pub senders: Vec<Account>,
    pub uploaders: Vec<Account>,
}

/// What was acknowledged over every cycle so far, and what was in flight at the last crash.
#[derive(Default)]
pub struct Ledger {
    /// Per sender, in the order the acks arrived.
    pub messages: Vec<Vec<Acked>>,
    /// Per sender: the message sent and not acknowledged when the server died.
    pub in_flight: Vec<Option<Outgoing>>,
    pub uploads: Vec<Upload>,
    /// Anything that broke a promise while driving the load (an error ack, a 5xx, ...).
    pub failures: Vec<String>,
}

#[derive(Clone)]
pub struct Outgoing {
    pub client_id: String,
    pub content: String,
}

pub struct Acked {
    pub id: i64,
    pub message: Outgoing,
}

/// An acknowledged upload: it sent [`upload_bytes`]`(seed, len)`, natter stores
/// [`stored_bytes`]`(seed, len)`.
pub struct Upload {
    pub id: i64,
    pub stored_name: String,
    pub seed: u64,
    pub len: usize,
}

/// What one cycle did.
#[derive(Debug, Default, Clone)]
pub struct Cycle {
    pub kill_after: Duration,
    pub acked_messages: usize,
    pub acked_uploads: usize,
    pub in_flight: usize,
}

/// What [`check`] looked at.
#[derive(Debug, Default, Clone)]
pub struct Checked {
    pub messages: usize,
    pub uploads: usize,
    pub files: usize,
}

/// A small deterministic generator (SplitMix64): the load needs varied sizes and moments, not
/// cryptographic randomness, and a printed seed must replay a failing run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

/// A seed from the clock, unless `CRASH_SEED` gives one.
pub fn seed() -> u64 {
    std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    })
}

/// The start of every upload: a PNG signature (so the server takes it as a PNG), a `tEXt`
/// chunk (metadata, which natter removes: every upload goes through that rewrite and its
/// rename, crash included) and the header of an IDAT chunk whose data is the noise that follows.
const UPLOAD_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x12tEXtComment\0crash test\0\0\0\0\0\0\0\0IDAT";

/// The bytes of an upload: [`UPLOAD_HEAD`], then noise, `len` bytes in all (at least the head).
pub fn upload_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = UPLOAD_HEAD.to_vec();
    let mut rng = Rng::new(seed);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes.truncate(len.max(UPLOAD_HEAD.len()));
    let data = (bytes.len() - UPLOAD_HEAD.len()) as u32;
    let idat_length = UPLOAD_HEAD.len() - 8;
    bytes[idat_length..idat_length + 4].copy_from_slice(&data.to_be_bytes());
    bytes
}

/// What natter stores for [`upload_bytes`]: the same without its `tEXt` chunk.
pub fn stored_bytes(seed: u64, len: usize) -> Vec<u8> {
    let sent = upload_bytes(seed, len);
    natter::storage::image_metadata::strip(natter::storage::image_metadata::Format::Png, &sent)
        .expect("a PNG in memory")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().expect("HTTP client")
}

/// Sign up and log in the 25 accounts and create the senders' room (on a fresh server).
pub async fn setup(addr: &str) -> World {
    let http = http();
    let mut accounts = Vec::new();
    for i in 0..SENDERS + UPLOADERS {
        let name = if i < SENDERS { format!("sender{i}") } else { format!("uploader{}", i - SENDERS) };
        let signup = json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
        let response = http.post(format!("http://{addr}/auth/signup")).json(&signup).send().await.expect("signup");
        assert_eq!(response.status().as_u16(), 201, "signup of {name}");
        let login = json!({"email": name, "password": PASSWORD});
        let token: Value = http
            .post(format!("http://{addr}/auth/login"))
            .json(&login)
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("token");
        accounts.push(Account {
            id: token["user"]["id"].as_i64().expect("user id"),
            name,
            token: token["access_token"].as_str().expect("access_token").to_string(),
        });
    }
    let uploaders = accounts.split_off(SENDERS);
    let senders = accounts;
    let members: Vec<&str> = senders[1..].iter().map(|a| a.name.as_str()).collect();
    let room: Value = http
        .post(format!("http://{addr}/chat/chat_rooms/"))
        .bearer_auth(&senders[0].token)
        .json(&json!({"name": "crash", "members": members}))
        .send()
        .await
        .expect("create the room")
        .json()
        .await
        .expect("room");
    World { room_id: room["id"].as_i64().expect("room id"), senders, uploaders }
}

/// Send one acked `chat_message` and wait for its ack: `Ok(Ok(id))` stored, `Ok(Err(ack))` an
/// error ack, `Err` the connection ended first (or no ack came within [`ACK_WAIT`]).
pub async fn send(client: &Client, room_id: i64, message: &Outgoing) -> Result<Result<i64, Value>, SioError> {
    let payload = json!({"room_id": room_id, "content": message.content, "client_id": message.client_id});
    let ack = client.request("chat_message", payload, ACK_WAIT).await?;
    Ok(match ack["message"]["id"].as_i64() {
        Some(id) if ack["ok"] == true => Ok(id),
        _ => Err(ack),
    })
}

/// One sender until its connection dies: what it got acknowledged, what was in flight, and any
/// refusal.
async fn sender_loop(
    client: Client,
    room_id: i64,
    cycle: usize,
    index: usize,
    seed: u64,
) -> (Vec<Acked>, Option<Outgoing>, Vec<String>) {
    let mut rng = Rng::new(seed);
    let mut acked = Vec::new();
    let mut failures = Vec::new();
    for seq in 0u64.. {
        let len = rng.between(1, 300) as usize;
        let filler: String = (0..len).map(|i| char::from(b'a' + ((seed as usize + i) % 26) as u8)).collect();
        let message = Outgoing {
            client_id: format!("c{cycle}-s{index}-{seq}"),
            content: format!("cycle {cycle} sender {index} #{seq} é€ {filler}"),
        };
        match send(&client, room_id, &message).await {
            Ok(Ok(id)) => acked.push(Acked { id, message }),
            Ok(Err(refusal)) => {
                failures.push(format!("sender {index}: error ack {refusal}"));
                return (acked, None, failures);
            }
            Err(SioError::Timeout) => {
                failures.push(format!("sender {index}: no ack within {ACK_WAIT:?} while the server was up"));
                return (acked, Some(message), failures);
            }
            Err(_) => return (acked, Some(message), failures),
        }
        // Every sender is in the room and is sent every message; none of them reads those.
        client.clear();
    }
    unreachable!("the loop only ends by returning")
}

/// One uploader until the server goes away.
async fn uploader_loop(addr: String, token: String, seed: u64) -> (Vec<Upload>, Vec<String>) {
    let http = http();
    let mut rng = Rng::new(seed);
    let mut uploads = Vec::new();
    loop {
        let file_seed = rng.next_u64();
        let len = rng.between(16, 64 * 1024) as usize;
        let part = reqwest::multipart::Part::bytes(upload_bytes(file_seed, len)).file_name("crash.png");
        let form = reqwest::multipart::Form::new().part("file", part);
        let response =
            http.post(format!("http://{addr}/chat/upload_media/")).bearer_auth(&token).multipart(form).send().await;
        let Ok(response) = response else { return (uploads, Vec::new()) };
        let status = response.status().as_u16();
        let Ok(body) = response.json::<Value>().await else { return (uploads, Vec::new()) };
        if status != 201 {
            return (uploads, vec![format!("upload answered {status} {body}")]);
        }
        let stored_name = body["url"].as_str().and_then(|u| u.rsplit('/').next()).unwrap_or_default().to_string();
        uploads.push(Upload { id: body["id"].as_i64().unwrap_or(0), stored_name, seed: file_seed, len });
    }
}

/// `sender` connected over Socket.IO; a refusal fails the run (there is nothing to measure).
async fn connect(addr: &str, sender: &Account) -> Client {
    sio::connect_token(addr, &sender.token).await.unwrap_or_else(|e| panic!("{} could not connect: {e}", sender.name))
}

/// Connect the senders, run the load, call `kill` after `kill_after`, and wait for every
/// sender and uploader to notice; the acknowledgements go into `ledger`.
pub async fn run_until_killed(
    addr: &str,
    world: &World,
    ledger: &mut Ledger,
    cycle: usize,
    rng: &mut Rng,
    kill_after: Duration,
    kill: impl FnOnce(),
) -> Cycle {
    if ledger.messages.is_empty() {
        ledger.messages = (0..SENDERS).map(|_| Vec::new()).collect();
        ledger.in_flight = vec![None; SENDERS];
    }
    let mut clients = Vec::new();
    for sender in &world.senders {
        clients.push(connect(addr, sender).await);
    }
    let senders: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| tokio::spawn(sender_loop(client, world.room_id, cycle, i, rng.next_u64())))
        .collect();
    let uploaders: Vec<_> = world
        .uploaders
        .iter()
        .map(|u| tokio::spawn(uploader_loop(addr.to_string(), u.token.clone(), rng.next_u64())))
        .collect();
    tokio::time::sleep(kill_after).await;
    kill();
    let mut result = Cycle { kill_after, ..Cycle::default() };
    for (i, task) in senders.into_iter().enumerate() {
        let (acked, in_flight, failures) = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("a sender noticed the crash")
            .expect("a sender task");
        result.acked_messages += acked.len();
        result.in_flight += usize::from(in_flight.is_some());
        ledger.messages[i].extend(acked);
        ledger.in_flight[i] = in_flight;
        ledger.failures.extend(failures);
    }
    for task in uploaders {
        let (uploads, failures) = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("an uploader noticed the crash")
            .expect("an uploader task");
        result.acked_uploads += uploads.len();
        ledger.uploads.extend(uploads);
        ledger.failures.extend(failures);
    }
    result
}

/// After the restart: send each message that was in flight at the crash again, with the same
/// `client_id`, and record its ack. Returns how many were sent.
pub async fn resend_in_flight(addr: &str, world: &World, ledger: &mut Ledger) -> usize {
    let mut resent = 0;
    for (i, sender) in world.senders.iter().enumerate() {
        let Some(message) = ledger.in_flight[i].take() else { continue };
        let client = connect(addr, sender).await;
        match send(&client, world.room_id, &message).await {
            Ok(Ok(id)) => ledger.messages[i].push(Acked { id, message }),
            Ok(Err(refusal)) => ledger.failures.push(format!("resend by sender {i}: error ack {refusal}")),
            Err(e) => ledger.failures.push(format!("resend by sender {i}: {e}")),
        }
        client.close().await;
        resent += 1;
    }
    resent
}

/// Check the data folder against `ledger` (the server may be running: WAL lets this read).
/// Every broken promise is returned as a sentence.
pub fn check(data_dir: &Path, world: &World, ledger: &Ledger) -> (Checked, Vec<String>) {
    let mut failures = ledger.failures.clone();
    let mut checked = Checked::default();
    let db_path = data_dir.join("natter.db");
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(&db_path, flags).expect("open the database");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("integrity_check");
    if integrity != ["ok"] {
        failures.push(format!("integrity_check: {integrity:?}"));
    }
    for (i, sender) in world.senders.iter().enumerate() {
        let mut stored: HashMap<String, Vec<(i64, String)>> = HashMap::new();
        let mut query = conn
            .prepare("SELECT id, content, client_id FROM messages WHERE room_id = ?1 AND sender_id = ?2")
            .expect("prepare");
        let rows = query
            .query_map([world.room_id, sender.id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?))
            })
            .expect("query messages");
        for row in rows {
            let (id, content, client_id) = row.expect("message row");
            stored.entry(client_id.unwrap_or_default()).or_default().push((id, content));
        }
        let mut last_id = 0;
        for acked in &ledger.messages[i] {
            checked.messages += 1;
            match stored.get(&acked.message.client_id).map(Vec::as_slice) {
                None | Some([]) => {
                    failures.push(format!("acknowledged message {} is missing", acked.message.client_id))
                }
                Some([(id, content)]) => {
                    if *id != acked.id {
                        failures.push(format!(
                            "message {} acked as {} is stored as {id}",
                            acked.message.client_id, acked.id
                        ));
                    }
                    if *content != acked.message.content {
                        failures.push(format!("message {} has other content", acked.message.client_id));
                    }
                }
                Some(many) => {
                    failures.push(format!("message {} is stored {} times", acked.message.client_id, many.len()))
                }
            }
            if acked.id <= last_id {
                failures.push(format!(
                    "sender {i}: message {} (id {}) after id {last_id}",
                    acked.message.client_id, acked.id
                ));
            }
            last_id = acked.id;
        }
    }
    let media = data_dir.join("media");
    let recorded: HashSet<String> = conn
        .prepare("SELECT stored_name FROM attachments")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("stored names");
    for upload in &ledger.uploads {
        checked.uploads += 1;
        let row: Option<String> =
            conn.query_row("SELECT stored_name FROM attachments WHERE id = ?1", [upload.id], |r| r.get(0)).ok();
        if row.as_deref() != Some(upload.stored_name.as_str()) {
            failures.push(format!("acknowledged upload {} has no row (found {row:?})", upload.id));
            continue;
        }
        match std::fs::read(media.join(&upload.stored_name)) {
            Ok(bytes) if bytes == stored_bytes(upload.seed, upload.len) => {}
            Ok(bytes) => {
                failures.push(format!("upload {}: {} bytes on disk differ from those stored", upload.id, bytes.len()))
            }
            Err(e) => failures.push(format!("upload {}: its file cannot be read: {e}", upload.id)),
        }
    }
    for entry in std::fs::read_dir(&media).expect("list the media folder").flatten() {
        checked.files += 1;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !recorded.contains(&name) {
            failures.push(format!("orphan file in the media folder: {name}"));
        }
    }
    (checked, failures)
}

/// When to kill in this cycle: uniform in `low..=high`.
pub fn kill_moment(rng: &mut Rng, low: Duration, high: Duration) -> Duration {
    Duration::from_millis(rng.between(low.as_millis() as u64, high.as_millis() as u64))
}

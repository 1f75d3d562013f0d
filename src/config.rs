//! Command line: every subcommand, every flag, its default and its help text (SPEC §5).
//!
//! Every limit, cap and timeout the server enforces is a flag here, so an operator can tune it
//! and a load test can lift it. Values with units (`24h`, `10MiB`, `30/min`) are parsed by the
//! small parsers at the bottom, whose errors are one sentence that clap prints on one line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::input::units::{MAX_DURATION_SECS, parse_duration, parse_nonzero_duration, parse_size};
pub use crate::usecase::accounts::Registration;
pub use crate::usecase::limits::{ByteRate, Rate};

#[derive(Debug, Parser)]
#[command(name = "natter", version, about = "A self-hosted chat server in one binary")]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve`, which is the default subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the chat server (the default).
    Serve(Box<ServeArgs>),
    /// Manage accounts on the same data as the server.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage bots (accounts that scripts post through) on the same data as the server;
    /// changes take effect on a running server at once.
    Bot {
        #[command(subcommand)]
        action: BotAction,
    },
    /// Create an invite code (for `--registration invite`).
    Invite {
        /// How many signups the code allows.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long the code stays valid, e.g. 7d, 12h.
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        expires: Duration,
        /// Where people reach the server, for the printed link [default: the address the server
        /// last running on this data printed (its --public-url, else its LAN address and port),
        /// else http://localhost:8000].
        #[arg(long, value_parser = parse_public_url)]
        public_url: Option<String>,
        /// Also print the link as a QR code, for a phone's camera.
        #[arg(long)]
        qr: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write a consistent copy of the database to FILE; the server may be running. Shows
    /// progress when standard error is a terminal.
    Backup {
        file: PathBuf,
        /// Overwrite FILE if it exists (and update FILE-media with --with-media).
        #[arg(long)]
        force: bool,
        /// Also copy the media files into the folder FILE-media (after the database, so every
        /// file it names is there).
        #[arg(long)]
        with_media: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Replace the database with FILE after checking its integrity; the server must be stopped.
    Restore {
        file: PathBuf,
        /// Also copy the media files of the folder FILE-media back into the media folder.
        #[arg(long)]
        with_media: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Exit 0 when a running server answers GET /healthz with 200.
    Healthcheck {
        /// Base URL of the server.
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
        /// Accepted like every subcommand's, so scripts can pass the same flags everywhere; the
        /// check itself goes through --url.
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum BotAction {
    /// Create a bot and print its hook URL.
    Add {
        name: String,
        /// The URL called when a message mentions the bot or is sent to a private chat with it.
        #[arg(long)]
        webhook: Option<String>,
        /// The room (id or name) `POST /hooks/<token>` posts to without a `channel`. It does not
        /// make the bot a member: add it to rooms like anyone.
        #[arg(long)]
        room: Option<String>,
        /// Where people reach the server, for the printed hook URL [default: as `natter invite`].
        #[arg(long, value_parser = parse_public_url)]
        public_url: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the bots with their hook URLs.
    List {
        #[arg(long, value_parser = parse_public_url)]
        public_url: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Delete a bot: its token stops working, its messages stay.
    Remove {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Give a bot a new token (the old one stops working at once) and print its hook URL.
    Token {
        name: String,
        #[arg(long, value_parser = parse_public_url)]
        public_url: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
}

impl BotAction {
    pub fn data(&self) -> &DataArgs {
        match self {
            BotAction::Add { data, .. }
            | BotAction::List { data, .. }
            | BotAction::Remove { data, .. }
            | BotAction::Token { data, .. } => data,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create an account. The password is read from --password or from standard input.
    Add {
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Set a new password (from --password or standard input); older tokens stop working.
    Passwd {
        name: String,
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Disable an account: its tokens stop working and it cannot log in.
    Disable {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Enable a disabled account.
    Enable {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Make an account an administrator.
    Promote {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

impl UserAction {
    /// The data folder the action works on.
    pub fn data(&self) -> &DataArgs {
        match self {
            UserAction::Add { data, .. }
            | UserAction::List { data }
            | UserAction::Passwd { data, .. }
            | UserAction::Disable { data, .. }
            | UserAction::Enable { data, .. }
            | UserAction::Promote { data, .. } => data,
        }
    }
}

/// Where the data lives; shared by `serve` and every subcommand that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Folder for the database, media and JWT secret.
    #[arg(long, default_value = "./natter-data")]
    pub data_dir: PathBuf,
    /// Database file [default: DATA_DIR/natter.db].
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Media folder [default: DATA_DIR/media].
    #[arg(long)]
    pub media_dir: Option<PathBuf>,
}

impl DataArgs {
    /// Where the data lives, as the rest of natter takes it.
    pub fn dir(&self) -> crate::storage::data_dir::DataDir {
        crate::storage::data_dir::DataDir { dir: self.data_dir.clone(), db: self.db_path(), media: self.media_path() }
    }
    pub fn db_path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(|| self.data_dir.join("natter.db"))
    }
    pub fn media_path(&self) -> PathBuf {
        self.media_dir.clone().unwrap_or_else(|| self.data_dir.join("media"))
    }
    pub fn secret_path(&self) -> PathBuf {
        self.data_dir.join("jwt-secret")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.data_dir.join("natter.lock")
    }
}

impl Default for DataArgs {
    fn default() -> Self {
        Self::at(Path::new("./natter-data"))
    }
}

impl DataArgs {
    /// Everything under one folder: what tests and benchmarks use.
    pub fn at(dir: &Path) -> Self {
        Self { data_dir: dir.to_path_buf(), db: None, media_dir: None }
    }
}

/// `--registration`'s values: the use case's own [`Registration`], named for the command line.
impl ValueEnum for Registration {
    fn value_variants<'a>() -> &'a [Self] {
        &[Registration::Open, Registration::Invite, Registration::Closed]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            Registration::Open => "open",
            Registration::Invite => "invite",
            Registration::Closed => "closed",
        }))
    }
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text per event; ANSI colours only when standard output is a terminal.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "0.0.0.0:8000")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub data: DataArgs,
    /// Lifetime of access tokens, e.g. 24h, 30m, 7d.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub token_ttl: Duration,
    /// Largest accepted upload, e.g. 10MiB, 500KiB, 1048576.
    #[arg(long, default_value = "10MiB", value_parser = parse_size)]
    pub max_upload: u64,
    /// Media bytes one user may have uploaded in total.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub media_quota: u64,
    /// Allowed upload types, comma-separated: png,jpeg,gif,webp,pdf,mp4,webm,mp3,ogg,text.
    #[arg(long, default_value = "png,jpeg,gif,webp,pdf,mp4,webm,mp3,ogg,text", value_parser = crate::storage::media_folder::AllowedMedia::parse)]
    pub allowed_media: crate::storage::media_folder::AllowedMedia,
    /// Store JPEG, PNG and WebP uploads with their EXIF and XMP metadata (where and when a photo
    /// was taken, the camera, the owner) as they were sent. By default it is removed, pixels
    /// untouched and orientation kept.
    #[arg(long)]
    pub keep_image_metadata: bool,
    /// Pictures with more pixels than this get no thumbnail and no size (they are still
    /// stored): the bound on what decoding one picture may hold in memory (~8 bytes a pixel).
    #[arg(long, default_value_t = 40_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub max_image_pixels: u64,
    /// Pictures decoded at once (thumbnails, avatars), each on a blocking thread of its own.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub thumbnail_concurrency: u32,
    /// Uploads never attached to a message are removed once this old.
    #[arg(long, default_value = "24h", value_parser = parse_nonzero_duration)]
    pub unattached_upload_age: Duration,
    /// How often uploads never attached to a message are looked for. 0 = never.
    #[arg(long, default_value = "10min", value_parser = parse_duration)]
    pub unattached_sweep_interval: Duration,
    /// Who may sign up: open, invite (needs an invite code) or closed.
    #[arg(long, value_enum, default_value_t = Registration::Open)]
    pub registration: Registration,
    /// Origin allowed for cross-origin browser requests; repeat for several, `*` for any.
    #[arg(long)]
    pub cors_origin: Vec<String>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive list (the access
    /// lines are `natter::access`, e.g. `info,natter::access=off`).
    #[arg(long, default_value = "info")]
    pub log: String,
    /// Log lines as plain text (coloured only on a terminal) or as one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Serve Prometheus metrics at GET /metrics.
    #[arg(long)]
    pub metrics: bool,
    /// Serve /metrics on this address instead of the public port (implies --metrics), e.g.
    /// 127.0.0.1:9100.
    #[arg(long)]
    pub metrics_bind: Option<SocketAddr>,
    /// The address people use to reach this server, for invite links, e.g.
    /// https://chat.example.org [default: http://<host of the request>].
    #[arg(long, value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// Serve HTTPS (and WSS) with this PEM certificate chain: the server's certificate first,
    /// then any intermediates (e.g. fullchain.pem). Needs --tls-key; both are read again on
    /// SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy's network, e.g. 127.0.0.1/32 or 10.0.0.0/8; repeat for several. Only
    /// requests from these addresses may name the client with Forwarded / X-Forwarded-For and
    /// the scheme with X-Forwarded-Proto.
    #[arg(long, value_name = "CIDR", value_parser = crate::server::client::Cidr::parse)]
    pub trust_proxy: Vec<crate::server::client::Cidr>,
    /// Signup and login attempts per client address, e.g. 30/min, 5/s; 0 turns the bound off.
    #[arg(long, default_value = "30/min", value_parser = parse_rate)]
    pub auth_rate: Rate,
    /// Failed logins per account from one client address, e.g. 10/15min; 0 turns the bound off.
    #[arg(long, default_value = "10/15min", value_parser = parse_rate)]
    pub login_fail_rate: Rate,
    /// Failed logins per account from all addresses together, e.g. 100/15min; 0 turns the bound
    /// off. Once reached, only addresses that logged into that account before still may.
    #[arg(long, default_value = "100/15min", value_parser = parse_rate)]
    pub login_fail_account_rate: Rate,
    /// The open room every new account joins, made on the first start of an empty database and
    /// owned by the first account; "" makes none. Later starts change nothing.
    #[arg(long, default_value = "general", value_parser = parse_room_name)]
    pub default_room: String,
    /// Messages one user may send, REST and Socket.IO together, e.g. 20/s; 0 turns the bound off.
    #[arg(long, default_value = "20/s", value_parser = parse_rate)]
    pub message_rate: Rate,
    /// Message searches one user may run, e.g. 10/s; 0 turns the bound off.
    #[arg(long, default_value = "10/s", value_parser = parse_rate)]
    pub search_rate: Rate,
    /// Message edits and deletions one user may make together, e.g. 10/s; 0 turns the bound off.
    #[arg(long, default_value = "10/s", value_parser = parse_rate)]
    pub edit_rate: Rate,
    /// Reactions one user may add or remove, e.g. 10/s; 0 turns the bound off.
    #[arg(long, default_value = "10/s", value_parser = parse_rate)]
    pub reaction_rate: Rate,
    /// Read markers one user may move, REST `/read` and Socket.IO `mark_read` together, e.g.
    /// 20/s; 0 turns the bound off.
    #[arg(long, default_value = "20/s", value_parser = parse_rate)]
    pub read_rate: Rate,
    /// Room changes one user may make: creating a room, opening a private chat, adding or
    /// removing a member (leaving too), joining, renaming; e.g. 30/min; 0 turns the bound off.
    #[arg(long, default_value = "30/min", value_parser = parse_rate)]
    pub room_rate: Rate,
    /// Group rooms one user may create (on top of --room-rate), e.g. 20/h; 0 turns the bound off.
    #[arg(long, default_value = "20/h", value_parser = parse_rate)]
    pub new_room_rate: Rate,
    /// Uploads one user may start, e.g. 60/min; 0 turns the bound off.
    #[arg(long, default_value = "60/min", value_parser = parse_rate)]
    pub upload_rate: Rate,
    /// Socket.IO `typing` events one user may send, e.g. 10/s; 0 turns the bound off.
    #[arg(long, default_value = "10/s", value_parser = parse_rate)]
    pub typing_rate: Rate,
    /// Socket.IO `get_online_users` requests one user may send, e.g. 10/s; 0 turns the bound off.
    #[arg(long, default_value = "10/s", value_parser = parse_rate)]
    pub online_users_rate: Rate,
    /// Socket.IO connections one user may have open at once (tabs and devices); 0 = no cap.
    #[arg(long, default_value_t = 50)]
    pub max_sockets_per_user: u32,
    /// Socket.IO connections one client address may have open at once, counted from the
    /// WebSocket upgrade or the first long-polling request (before any CONNECT); past it the
    /// handshake gets 429. 0 = no cap.
    #[arg(long, default_value_t = 500)]
    pub max_sockets_per_address: u32,
    /// How long a new Socket.IO connection (WebSocket or long-polling session) has to complete
    /// its Socket.IO CONNECT; one that has not by then is closed, so one that never
    /// authenticates holds its connection no longer than this.
    #[arg(long, default_value = "10s", value_parser = parse_nonzero_duration)]
    pub handshake_timeout: Duration,
    /// Largest JSON request body.
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    pub max_body: u64,
    /// Largest Socket.IO packet.
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    pub max_socket_payload: u64,
    /// Events queued for one Socket.IO connection that is not reading them. When it is full the
    /// server closes that connection (the client reconnects and catches up) rather than drop an
    /// event, and counts it in /metrics.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub socket_queue: u32,
    /// Password hashes computed at once (each takes 19 MiB for a few tens of milliseconds).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub hash_concurrency: u32,
    /// Password hashes that may wait for one of those slots (logins, signups, password
    /// changes); past it a request gets 503 `unavailable` with `Retry-After: 1` at once instead
    /// of queueing into --request-timeout. 0 = none wait.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub hash_queue: u32,
    /// Read connections to the database.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub db_readers: u32,
    /// SQLite page cache of all database connections together (shared out evenly).
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    pub db_cache: u64,
    /// Most writes that share one commit (group commit).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub commit_batch: u32,
    /// How often the write-ahead log is copied into the database file, when something was
    /// written (less often = fewer bytes written per message on an SD card).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub checkpoint_interval: Duration,
    /// A write-ahead log larger than this is copied into the database at once.
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    pub wal_limit: u64,
    /// How long a request may take, e.g. 30s: one whose body is still arriving then gets 408
    /// `request_timeout` (the connection is closed), one whose handler is still working 500.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// An upload whose body sends no byte for this long is cut off: 408, the connection closed,
    /// its temporary file removed (uploads are exempt from --request-timeout).
    #[arg(long, default_value = "30s", value_parser = parse_nonzero_duration)]
    pub upload_idle_timeout: Duration,
    /// The slowest an upload may arrive on average, e.g. 1KiB/s; one that falls further behind
    /// it than --upload-idle-timeout is cut off like a stalled one (408, its temporary file
    /// removed). 0 turns the bound off.
    #[arg(long, default_value = "1KiB/s", value_parser = parse_byte_rate)]
    pub upload_min_rate: ByteRate,
    /// Uploads one user may be sending at once; past it an upload gets 429 `rate_limited` before
    /// its body is read. 0 = no cap.
    #[arg(long, default_value_t = 8)]
    pub max_uploads_per_user: u32,
    /// How long a client has to send a request's headers (and finish a TLS handshake), counted
    /// from when the connection opens or its previous response was sent, so it also closes an
    /// idle keep-alive connection; slow-header (slowloris) connections are cut off. 0 = no bound.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Open connections at once (WebSockets included); beyond it new connections wait in the
    /// kernel's queue until one closes. Keep it under the open-file limit (ulimit -n).
    #[arg(long, default_value_t = 10000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// The part of --max-connections kept for plain HTTP requests (login, /healthz, the API,
    /// uploads): Socket.IO WebSockets and long-polling requests may use only the rest, and get
    /// 503 `unavailable` once it is taken. A count (500) or a share (10%); 0 keeps none.
    #[arg(long, default_value = "10%", value_parser = parse_connection_share)]
    pub http_reserve: ConnectionShare,
    /// How long shutdown waits for open connections before it closes them.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// How often open Socket.IO connections are checked again: one whose token has expired, or
    /// whose account was disabled or changed its password since, is disconnected. 0 = never.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub socket_recheck: Duration,
    /// Web Push to members who have no natter open (off: no key, no deliveries, every /push/*
    /// endpoint 404).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub push: Switch,
    /// The contact push services may write to about this server's pushes (VAPID `sub`), a
    /// mailto: or https: URL [default: --public-url when it is https, else
    /// mailto:natter@localhost.invalid].
    #[arg(long, value_name = "URL", value_parser = parse_push_subject)]
    pub push_subject: Option<String>,
    /// A push service's host natter delivers to: HOST (any port), HOST:PORT, or *.DOMAIN for its
    /// subdomains; repeat for several. Given ones replace the default list [default:
    /// fcm.googleapis.com, updates.push.services.mozilla.com, *.push.apple.com,
    /// *.notify.windows.com]. Plain http is accepted only for loopback hosts.
    #[arg(long, value_name = "HOST", value_parser = crate::usecase::push::ServiceHost::parse)]
    pub push_service: Vec<crate::usecase::push::ServiceHost>,
    /// Stored messages whose pushes may wait for a delivery slot; when full, the oldest are
    /// dropped (counted in natter_push_dropped_total).
    #[arg(long, default_value_t = 10000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub push_queue: u32,
    /// Push deliveries in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub push_concurrency: u32,
    /// How long one push delivery may take (connection included) before it counts as failed.
    #[arg(long, default_value = "10s", value_parser = parse_nonzero_duration)]
    pub push_timeout: Duration,
    /// Push subscriptions (browsers) kept per account; a new one beyond it replaces the oldest.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub push_subscriptions_per_user: u32,
    /// How often memory freed by closed connections is given back to the operating system
    /// (glibc keeps it otherwise). 0 = never.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub memory_trim: Duration,
    /// How long an outgoing webhook of a bot may take, connecting to the end of its answer; a
    /// reply that comes later is not posted.
    #[arg(long, default_value = "7s", value_parser = parse_nonzero_duration)]
    pub webhook_timeout: Duration,
    /// Outgoing webhook calls waiting for a free slot; beyond it a call is dropped (logged and
    /// counted), so a slow webhook never delays a message.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub webhook_queue: u32,
    /// Outgoing webhook calls in progress at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub webhook_concurrency: u32,
}

/// An on/off flag value (`--push`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl ServeArgs {
    /// Web Push as its use case takes it; `None` with `--push off`.
    pub fn push_rules(&self) -> Option<crate::usecase::push::PushRules> {
        if self.push == Switch::Off {
            return None;
        }
        let subject = self.push_subject.clone().unwrap_or_else(|| match &self.public_url {
            Some(url) if url.starts_with("https://") => url.clone(),
            _ => "mailto:natter@localhost.invalid".to_string(),
        });
        Some(crate::usecase::push::PushRules {
            key_path: self.data.data_dir.join("vapid-key.pem"),
            subject,
            services: crate::usecase::push::PushServices::new(self.push_service.clone()),
            queue: self.push_queue as usize,
            concurrency: self.push_concurrency as usize,
            timeout: self.push_timeout,
            per_user: self.push_subscriptions_per_user as usize,
        })
    }

    /// The outgoing webhooks' bounds, as the bots use case takes them.
    pub fn webhook_rules(&self) -> crate::usecase::bots::WebhookRules {
        crate::usecase::bots::WebhookRules {
            timeout: self.webhook_timeout,
            queue: self.webhook_queue as usize,
            concurrency: self.webhook_concurrency as usize,
        }
    }

    /// Whether metrics are recorded and served (`--metrics`, or `--metrics-bind`).
    pub fn metrics_enabled(&self) -> bool {
        self.metrics || self.metrics_bind.is_some()
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        // Parse an empty command line so the defaults live in exactly one place: the attributes.
        match Cli::try_parse_from(["natter"]) {
            Ok(cli) => cli.serve,
            Err(e) => unreachable!("default flags must parse: {e}"),
        }
    }
}

/// Part of a number of connections (`--http-reserve`): a count, or a percentage of the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionShare {
    Count(u32),
    Percent(u8),
}

impl ConnectionShare {
    /// The share of `total`: a percentage rounded up (10% of 15 is 2), never more than `total`.
    pub fn of(&self, total: usize) -> usize {
        match *self {
            ConnectionShare::Count(n) => usize::try_from(n).unwrap_or(usize::MAX).min(total),
            ConnectionShare::Percent(p) => (total.saturating_mul(usize::from(p))).div_ceil(100).min(total),
        }
    }
}

/// `--push-subject`: a `mailto:` address or an `https:` URL (RFC 8292 §2.1).
pub fn parse_push_subject(text: &str) -> Result<String, String> {
    let text = text.trim();
    let ok = (text.starts_with("mailto:") && text.len() > 7 && text.contains('@')) || text.starts_with("https://");
    if !ok || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{text}` must be a mailto: address or an https: URL, e.g. mailto:admin@example.org"));
    }
    Ok(text.to_string())
}

/// `http://host[:port][/path]` or `https://...`, without a trailing slash, query or fragment:
/// what invite links start with.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("`{text}` must start with http:// or https://"))?;
    let host = rest.split('/').next().unwrap_or("");
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~:[]%/".contains(c);
    if host.is_empty() || !rest.chars().all(plain) {
        return Err(format!("`{text}` is not a plain URL such as https://chat.example.org"));
    }
    Ok(url.to_string())
}

/// A room name as rooms are named (cleaned, 1–100 characters, something visible), or `""` for
/// none.
pub fn parse_room_name(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Ok(String::new());
    }
    crate::input::validate::display_name(text, crate::usecase::chat::MAX_ROOM_NAME_CHARS)
        .map_err(|problem| format!("`{text}` is not a room name: it {problem}"))
}

/// `1KiB/s`, `60KiB/min`, `512B/s`, `1MB/10s`; `0` for no bound.
pub fn parse_byte_rate(text: &str) -> Result<ByteRate, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(ByteRate::UNLIMITED);
    }
    let bad = || format!("`{text}` is not a byte rate; use e.g. 1KiB/s, 60KiB/min or 0");
    let (size, per) = text.split_once('/').ok_or_else(bad)?;
    let bytes = parse_size(size).map_err(|_| bad())?;
    let per = per.trim();
    let per = if per.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(per)?
    } else {
        parse_duration(&format!("1{per}"))?
    };
    if per.is_zero() {
        return Err(format!("`{text}` has a zero period"));
    }
    Ok(ByteRate { bytes, per })
}

/// `500` (connections) or `10%` (of --max-connections).
pub fn parse_connection_share(text: &str) -> Result<ConnectionShare, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a number of connections or a percentage; use e.g. 500 or 10%");
    match text.strip_suffix('%') {
        Some(percent) => {
            let percent: u8 = percent.trim().parse().map_err(|_| bad())?;
            if percent > 100 {
                return Err(format!("`{text}`: a share is at most 100%"));
            }
            Ok(ConnectionShare::Percent(percent))
        }
        None => text.parse().map(ConnectionShare::Count).map_err(|_| bad()),
    }
}

/// `30/min`, `5/s`, `10/15min`, `100/h`; `0` for no bound.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Rate::UNLIMITED);
    }
    let (count, per) =
        text.split_once('/').ok_or_else(|| format!("`{text}` is not a rate; use e.g. 30/min, 5/s or 0"))?;
    let count: u32 = count.trim().parse().map_err(|_| format!("`{text}` is not a rate; use e.g. 30/min, 5/s or 0"))?;
    let per = per.trim();
    let per = if per.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(per)?
    } else {
        parse_duration(&format!("1{per}"))?
    };
    if per.is_zero() {
        return Err(format!("`{text}` has a zero period"));
    }
    Ok(Rate { count, per })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("30/min"), Ok(Rate { count: 30, per: Duration::from_secs(60) }));
        assert_eq!(parse_rate("10/15min"), Ok(Rate { count: 10, per: Duration::from_secs(900) }));
        assert_eq!(parse_rate("0"), Ok(Rate::UNLIMITED));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("5/0s").is_err());
    }

    #[test]
    fn byte_rates() {
        assert_eq!(parse_byte_rate("1KiB/s"), Ok(ByteRate { bytes: 1024, per: Duration::from_secs(1) }));
        assert_eq!(parse_byte_rate("60KiB/min"), Ok(ByteRate { bytes: 60 * 1024, per: Duration::from_secs(60) }));
        assert_eq!(parse_byte_rate("1MB/10s"), Ok(ByteRate { bytes: 1_000_000, per: Duration::from_secs(10) }));
        assert_eq!(parse_byte_rate("0"), Ok(ByteRate::UNLIMITED));
        assert!(parse_byte_rate("0/s").is_ok_and(|r| r.is_unlimited()));
        assert!(parse_byte_rate("fast").is_err());
        assert!(parse_byte_rate("1KiB").is_err());
        assert!(parse_byte_rate("1KiB/0s").is_err());
    }

    #[test]
    fn connection_shares() {
        assert_eq!(parse_connection_share("10%"), Ok(ConnectionShare::Percent(10)));
        assert_eq!(parse_connection_share("500"), Ok(ConnectionShare::Count(500)));
        assert!(parse_connection_share("101%").is_err());
        assert!(parse_connection_share("-1").is_err());
        assert!(parse_connection_share("ten").is_err());
        assert_eq!(ConnectionShare::Percent(10).of(10_000), 1_000);
        assert_eq!(ConnectionShare::Percent(10).of(15), 2, "rounded up");
        assert_eq!(ConnectionShare::Percent(10).of(2), 1);
        assert_eq!(ConnectionShare::Percent(0).of(300), 0);
        assert_eq!(ConnectionShare::Count(500).of(300), 300, "never more than the total");
    }

    #[test]
    fn public_urls() {
        assert_eq!(parse_public_url("https://chat.example.org/"), Ok("https://chat.example.org".into()));
        assert_eq!(parse_public_url("http://10.0.0.5:8000/natter"), Ok("http://10.0.0.5:8000/natter".into()));
        assert!(parse_public_url("chat.example.org").is_err());
        assert!(parse_public_url("https://").is_err());
        assert!(parse_public_url("https://a.org/?x=<script>").is_err());
    }

    #[test]
    fn defaults_parse() {
        let args = ServeArgs::default();
        assert_eq!(args.bind.port(), 8000);
        assert_eq!(args.max_upload, 10 * 1024 * 1024);
    }
}

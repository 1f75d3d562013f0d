//! natter: a self-hosted chat server in one binary.
//!
//! `build` turns flags into an [`App`] (database open and migrated, secret loaded, every use
//! case built once, routes ready); `serve` runs it on a listener until a shutdown future
//! resolves, then drains the storage engine. Tests call both with a `127.0.0.1:0` listener;
//! `main` calls [`run`].
//!
//! The layers, one way (docs/architecture.md walks one message through them): a transport
//! (`transport::api` for REST, `transport::realtime` for Socket.IO, `transport::cli`) decodes the
//! input (`input`) and calls one use case (`usecase`), which applies the rules, talks to the
//! storage engine (`storage::db`) and publishes a domain event after the commit;
//! `transport::realtime::fan_out` turns those events into emits. Transports never touch storage;
//! use cases never see HTTP, sockets or the command line. `server` accepts connections (TLS,
//! client addresses, limits), `runtime` keeps the process in shape (metrics, logs, memory).

pub mod config;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod input;
pub mod model;
pub mod runtime;
pub mod server;
pub mod storage;
pub mod transport;
pub mod usecase;

use std::fs::File;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use tokio::net::TcpListener;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::config::ServeArgs;
use crate::runtime::memory::MemoryTrim;
use crate::runtime::metrics::Metrics;
use crate::server::addresses::{Place, Reach};
use crate::server::connections::Connections;
use crate::storage::db::{Db, DbOptions};
use crate::storage::{file_modes, media_folder};
use crate::transport::{api, realtime};
use crate::usecase::accounts::Accounts;
use crate::usecase::auth::Auth;
use crate::usecase::bots::{Bots, Hooks, WebhookCall, WebhookQueue, Webhooks};
use crate::usecase::chat::{Chat, ChatRates, EventStream, Events};
use crate::usecase::invites::Invites;
use crate::usecase::media::{Media, MediaRules};
use crate::usecase::operations::Operations;
use crate::usecase::presence::Presence;
use crate::usecase::sessions::{LoginRules, Sessions};

/// What the transports (REST handlers, Socket.IO handlers) may use: the flags and the use
/// cases, each built once here. No database handle: every rule is a use case's. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub config: ServeArgs,
    pub accounts: Accounts,
    pub sessions: Sessions,
    pub chat: Arc<Chat>,
    pub bots: Bots,
    pub hooks: Hooks,
    pub invites: Invites,
    pub media: Media,
    pub profiles: usecase::profiles::Profiles,
    pub pictures: usecase::pictures::Pictures,
    pub ops: Operations,
    pub presence: Arc<Presence>,
    /// Web Push; `None` with `--push off`.
    pub push: Option<usecase::push::Push>,
    pub memory: Arc<MemoryTrim>,
    /// Where the HTTP layer records requests (`--metrics`; the use cases hold their own handle).
    pub metrics: Metrics,
    /// Socket caps and the `typing` / `get_online_users` bounds.
    pub admission: usecase::admission::Admission,
    /// The open TCP connections, so that a Socket.IO socket whose queue overflowed can be cut.
    pub connections: Arc<Connections>,
    /// Where people reach this server, settled once the listener is bound (see [`settle_reach`]).
    pub reach: std::sync::OnceLock<Reach>,
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// A server ready to run: state, routes, and the lock that keeps other natters off its data.
pub struct App {
    pub state: AppState,
    /// The storage engine, drained by [`serve`] on shutdown (tests read it directly).
    pub db: Db,
    /// The whole HTTP stack: Router → CORS (only with `--cors-origin`) → Socket.IO admission
    /// → owned handshake copies → Socket.IO → trailing-slash normalisation → the REST router. Socket.IO sits outside the
    /// normalisation; the copies sit right in front of it, inside the outer Router, so that they
    /// can also drop the Router's `OriginalUri` (which would pin hyper's read buffer) and URL
    /// params. CORS covers the whole port, Socket.IO's long-polling included.
    service: axum::Router,
    io: socketioxide::SocketIo,
    events: EventStream,
    /// The outgoing webhooks of bots and the queue they take calls from, run by [`serve`].
    webhooks: (Webhooks, tokio::sync::mpsc::Receiver<WebhookCall>),
    /// `--metrics-bind`'s listener, bound by [`build`] so that a taken address stops the start.
    metrics_listener: Option<std::net::TcpListener>,
    /// How connections are accepted: TLS (loaded by [`build`], so bad files stop the start) and
    /// the trusted proxies.
    listen: server::Options,
    _data_lock: File,
}

impl App {
    /// Where `--metrics-bind` serves `/metrics`, once bound.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }
}

pub fn build(config: ServeArgs) -> Result<App, String> {
    let data = config.data.dir();
    let data_lock = storage::data_dir::lock(&data)?;
    let media = data.media.clone();
    file_modes::create_dir(&media).map_err(|e| format!("cannot create media folder {}: {e}", media.display()))?;
    media_folder::sweep_temp_files(&media);
    let secret_path = data.secret();
    file_modes::tighten(&secret_path, file_modes::FILE_MODE);
    let secret = usecase::auth::load_or_create_secret(&secret_path)
        .map_err(|e| format!("cannot read or create the JWT secret {}: {e}", secret_path.display()))?;
    let db_path = data.db.clone();
    let metrics = if config.metrics_enabled() { Metrics::on() } else { Metrics::off() };
    let db = Db::open(
        &db_path,
        DbOptions {
            readers: config.db_readers,
            commit_batch: config.commit_batch as usize,
            checkpoint_interval: config.checkpoint_interval,
            wal_limit: config.wal_limit,
            cache: config.db_cache,
            metrics: metrics.clone(),
            ..DbOptions::default()
        },
    )
    .map_err(|e| format!("cannot open the database {}: {}", db_path.display(), error::Chain(&e)))?;
    usecase::media::sweep_unrecorded_files(&db, &media);

    let auth = Auth::new(&secret, config.token_ttl, config.hash_concurrency as usize, config.hash_queue as usize)
        .map_err(|e| format!("cannot set up password hashing: {e}"))?;
    let auth = Arc::new(auth);
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(server::tls::Tls::load(cert, key)?)),
        _ => None,
    };
    let max_connections = config.max_connections as usize;
    let reserve = config.http_reserve.of(max_connections);
    if reserve >= max_connections {
        return Err(format!(
            "--http-reserve keeps all {max_connections} of --max-connections for plain HTTP and none for Socket.IO; \
             lower it or raise --max-connections"
        ));
    }
    let listen = server::Options {
        tls,
        trusted: server::client::TrustedProxies::new(config.trust_proxy.clone()),
        header_timeout: config.header_timeout,
        max_connections,
        long_lived: max_connections - reserve,
        connections: Arc::default(),
    };
    let (events, event_stream) = Events::channel();
    let presence = Arc::new(Presence::new(db.clone(), metrics.clone()));
    let push = match config.push_rules() {
        Some(rules) => Some(usecase::push::Push::new(db.clone(), presence.clone(), rules, metrics.clone())?),
        None => None,
    };
    let pictures = usecase::pictures::Pictures::new(
        db.clone(),
        usecase::pictures::PictureRules {
            dir: media.clone(),
            max_pixels: config.max_image_pixels,
            concurrency: config.thumbnail_concurrency as usize,
        },
    );
    let (webhook_queue, webhook_calls) = WebhookQueue::channel(config.webhook_rules(), metrics.clone());
    let chat = Arc::new(
        Chat::new(
            db.clone(),
            events.clone(),
            presence.clone(),
            ChatRates {
                message: config.message_rate,
                search: config.search_rate,
                edit: config.edit_rate,
                reaction: config.reaction_rate,
                read: config.read_rate,
                room: config.room_rate,
                new_room: config.new_room_rate,
            },
            metrics.clone(),
            pictures.clone(),
        )
        .with_webhooks(webhook_queue),
    );
    let webhooks = Webhooks::new(config.webhook_rules(), chat.clone(), metrics.clone())?;
    let state = AppState(Arc::new(AppInner {
        bots: Bots::new(db.clone()),
        hooks: Hooks::new(db.clone(), chat.clone()),
        chat,
        profiles: usecase::profiles::Profiles::new(db.clone(), events.clone(), pictures.clone()),
        accounts: Accounts::new(db.clone(), auth.passwords.clone(), config.registration, Some(events.clone())),
        sessions: Sessions::new(
            db.clone(),
            auth,
            LoginRules {
                auth_rate: config.auth_rate,
                fail_rate: config.login_fail_rate,
                fail_account_rate: config.login_fail_account_rate,
            },
        ),
        invites: Invites::new(db.clone()),
        media: Media::new(
            db.clone(),
            MediaRules {
                dir: media,
                max_upload: config.max_upload,
                quota: config.media_quota,
                allowed: config.allowed_media.clone(),
                keep_image_metadata: config.keep_image_metadata,
                upload_rate: config.upload_rate,
                max_uploads_per_user: config.max_uploads_per_user,
                idle_timeout: config.upload_idle_timeout,
                min_rate: config.upload_min_rate,
            },
            metrics.clone(),
            pictures.clone(),
        ),
        pictures,
        ops: Operations::new(db.clone(), presence.clone(), events, metrics.clone()),
        metrics,
        presence,
        push,
        memory: Arc::default(),
        connections: listen.connections.clone(),
        reach: std::sync::OnceLock::new(),
        admission: usecase::admission::Admission::new(usecase::admission::AdmissionRules {
            max_sockets_per_user: config.max_sockets_per_user,
            max_sockets_per_address: config.max_sockets_per_address,
            typing_rate: config.typing_rate,
            online_users_rate: config.online_users_rate,
        }),
        config,
    }));
    let (socket_layer, io) = realtime::layer(&state);
    let rest = NormalizePathLayer::trim_trailing_slash().layer(api::routes(state.clone()));
    let service = axum::Router::new()
        .fallback_service(rest)
        .layer(socket_layer)
        .layer(realtime::OwnedHandshakeLayer)
        .layer(axum::middleware::from_fn_with_state(state.clone(), realtime::admit));
    let service = match api::cors(&state.config.cors_origin) {
        Some(cors) => service.layer(cors),
        None => service,
    };
    // Outside everything, Socket.IO and CORS included: one access line (and with --metrics, the
    // request metrics) per request.
    let service = service
        .layer(axum::middleware::map_response(api::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), api::observe::observe));
    let metrics_listener = match state.config.metrics_bind {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|e| format!("cannot listen on {addr} (--metrics-bind): {e}"))?;
            Some(listener)
        }
        None => None,
    };
    Ok(App {
        state,
        db,
        service,
        io,
        events: event_stream,
        webhooks: (webhooks, webhook_calls),
        metrics_listener,
        listen,
        _data_lock: data_lock,
    })
}

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting, give open requests
/// `--shutdown-grace` to finish, and commit every queued write before returning.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let App { state, db, service, io, events, webhooks, metrics_listener, listen, _data_lock } = app;
    // Before the first request: a first signup must find the first room there.
    if let Err(e) = usecase::first_room::prepare(&db, state.config.default_room.clone()).await {
        tracing::error!(error = %error::Chain(&e), "could not make the first room");
    }
    if state.reach.get().is_none() {
        let scheme = if listen.tls.is_some() { "https" } else { "http" };
        settle_reach(&state, listener.local_addr()?, scheme).await;
    }
    let fan_out = tokio::spawn(realtime::fan_out(io.clone(), state.clone(), events));
    // Pictures recorded without a thumbnail until now; uploads from here on make their own.
    let upto = state.pictures.last_upload().await;
    let backfill = tokio::spawn(state.pictures.clone().backfill(upto));
    let sweep = tokio::spawn(
        state
            .media
            .clone()
            .sweep_unattached(state.config.unattached_upload_age, state.config.unattached_sweep_interval),
    );
    let (webhooks, webhook_calls) = webhooks;
    let webhooks = tokio::spawn(webhooks.run(webhook_calls));
    let recheck = tokio::spawn(realtime::recheck_sockets(io.clone(), state.clone()));
    let trim = tokio::spawn(state.memory.clone().run(state.config.memory_trim));
    let push = state.push.clone().map(|push| tokio::spawn(push.run()));
    let grace = state.config.shutdown_grace;
    let reload = listen.tls.clone().map(|tls| tokio::spawn(reload_on_sighup(tls)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let metrics_server = metrics_listener.map(|listener| {
        let mut stopped = stop_rx.clone();
        let router = api::operations::metrics_router(state.clone());
        tokio::spawn(async move {
            let listener = match TcpListener::from_std(listener) {
                Ok(listener) => listener,
                Err(e) => return tracing::error!(error = %e, "cannot serve --metrics-bind"),
            };
            let stop = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stop).await {
                tracing::error!(error = %e, "the --metrics-bind server failed");
            }
        })
    });
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down");
        // Open sockets would hold graceful shutdown forever: close them first.
        io.close().await;
        let _ = stop_tx.send(true);
    };
    let server = server::serve(listener, service, listen, signal);
    let mut stopped = stop_rx.clone();
    let forced = async move {
        let _ = stopped.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {}
        _ = forced => {
            tracing::warn!(?grace, "connections still open after the grace period; closing them");
        }
    };
    db.shutdown().await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    fan_out.abort();
    backfill.abort();
    sweep.abort();
    webhooks.abort();
    recheck.abort();
    trim.abort();
    if let Some(push) = push {
        push.abort();
    }
    if let Some(reload) = reload {
        reload.abort();
    }
    tracing::info!("storage engine drained; bye");
    Ok(())
}

/// Work out where people reach this server bound at `bound` (see [`server::addresses::work_out`]), keep it
/// for invite links and the web UI, and record it for `natter invite` run beside the server on
/// the same data. The start message's URLs back.
pub async fn settle_reach(state: &AppState, bound: SocketAddr, scheme: &str) -> Vec<Place> {
    let (places, found) = server::addresses::work_out(state.config.public_url.as_deref(), bound, scheme).await;
    if let Err(e) = state.invites.record_address(found.link_base().to_string()).await {
        tracing::warn!(error = %error::Chain(&e), "could not record this server's address for natter invite");
    }
    let _ = state.reach.set(found);
    places
}

/// `--tls-cert`/`--tls-key` are read again on every SIGHUP, so a renewed certificate needs no
/// restart (`systemctl reload natter`, or certbot's deploy hook). A file that cannot be used
/// leaves the current certificate in place and logs why.
async fn reload_on_sighup(tls: Arc<server::tls::Tls>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(e) => return tracing::warn!(error = %e, "cannot listen for SIGHUP; TLS files will not be reloaded"),
        };
        while hangups.recv().await.is_some() {
            let loading = tls.clone();
            match tokio::task::spawn_blocking(move || loading.reload()).await {
                Ok(Ok(())) => tracing::info!(cert = %tls.cert_path().display(), "reloaded the TLS certificate and key"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "SIGHUP: the TLS files cannot be used; keeping the current certificate")
                }
                Err(e) => tracing::error!(error = %e, "SIGHUP: reloading the TLS files failed"),
            }
        }
    }
    #[cfg(not(unix))]
    drop(tls);
}

/// What `natter serve` does: log, build, bind, serve until SIGINT or SIGTERM.
pub async fn run(config: ServeArgs) -> Result<(), String> {
    let bind = config.bind;
    let app = build(config)?;
    let listener = TcpListener::bind(bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if app.listen.tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %local, %scheme, data = %app.state.config.data.data_dir.display(), "natter is listening");
    if let Some(metrics) = app.metrics_addr() {
        tracing::info!(address = %metrics, "metrics are served at /metrics");
    }
    // Where people can reach it, and what to do next.
    let places = settle_reach(&app.state, local, scheme).await;
    transport::cli::start_message::announce(&app.state, local, &places).await;
    serve(listener, app, shutdown_signal()).await.map_err(|e| e.to_string())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

//! The subcommands of SPEC §5, thin: parse the flags, call a use case, print the answer. `user`
//! and `invite` call the same use cases as the REST API (`natter user add` is a signup by the
//! operator); every one works on the same data as a running server (see
//! [`crate::usecase::backups`]), and `restore` refuses to run while a server holds the folder.

pub mod start_message;

use std::future::Future;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::config::{BotAction, Cli, Command, DataArgs, LogFormat, ServeArgs, UserAction};
use crate::error::{ApiError, Chain};
use crate::input::{NewAccount, NewBot, NewInvite};
use crate::usecase::accounts::Accounts;
use crate::usecase::backups::{self, Operator};
use crate::usecase::bots::Bots;
use crate::usecase::invites::Issuer;

pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(*args),
        Some(Command::User { action }) => user(action),
        Some(Command::Bot { action }) => bot(action),
        Some(Command::Invite { uses, expires, public_url, qr, data }) => invite(uses, expires, public_url, qr, &data),
        Some(Command::Backup { file, force, with_media, data }) => backup(&file, force, with_media, &data),
        Some(Command::Restore { file, with_media, data }) => restore(&file, with_media, &data),
        Some(Command::Healthcheck { url, data: _ }) => healthcheck(&url),
    }
}

/// What must hold before anything starts, reported like a bad flag (one line, exit 2): the
/// `--tls-cert`/`--tls-key` files exist, are PEM, and belong together.
pub fn preflight(cli: &Cli) -> Result<(), String> {
    let args = match &cli.command {
        None => &cli.serve,
        Some(Command::Serve(args)) => args,
        Some(_) => return Ok(()),
    };
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        crate::server::tls::Tls::load(cert, key)?;
    }
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), String> {
    init_logging(&args.log, args.log_format)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let result = runtime.block_on(crate::run(args));
    crate::runtime::log_output::flush();
    result
}

/// Log to standard output (in batches, [`crate::runtime::log_output`]) with the `--log` filter: text with
/// colours only when standard output is a terminal (never in a file, a pipe or journald;
/// `NO_COLOR` turns them off there too), or one JSON object per line. Whatever the filter, the
/// libraries in [`SECRET_BEARING_TARGETS`] never log below `info`.
fn init_logging(filter: &str, format: LogFormat) -> Result<(), String> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt};

    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| format!("invalid value '{filter}' for '--log': {e}"))?;
    let cap = tracing_subscriber::filter::filter_fn(|meta| !holds_secrets(meta.target(), *meta.level()));
    let stdout = crate::runtime::log_output::start().map_err(|e| format!("cannot start logging: {e}"))?;
    let layer = match format {
        LogFormat::Text => {
            let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            fmt::layer().with_writer(stdout).with_ansi(colours).with_filter(cap).boxed()
        }
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_ansi(false)
            .with_writer(stdout)
            .with_filter(cap)
            .boxed(),
    };
    tracing_subscriber::registry().with(filter).with(layer).try_init().map_err(|e| format!("cannot start logging: {e}"))
}

/// Libraries whose `debug`/`trace` lines carry what must never reach a log:
/// tungstenite logs every WebSocket message and frame it receives or sends at `trace`, and those
/// include a Socket.IO client's CONNECT packet with its token (`40{"token":"…"}`) and every
/// `chat_response` with its attachment's `/media` capability name. natter's own lines never name
/// a token, password, secret or media file (`tests/it/input_hardening.rs` runs the server at `trace` to hold
/// every target to that); for these, only `info` and above (none of which carry a payload) pass.
pub const SECRET_BEARING_TARGETS: &[&str] = &["tungstenite", "tokio_tungstenite"];

/// Whether a log line from `target` at `level` is one of those never written.
pub fn holds_secrets(target: &str, level: tracing::Level) -> bool {
    level > tracing::Level::INFO
        && SECRET_BEARING_TARGETS
            .iter()
            .any(|t| target.strip_prefix(t).is_some_and(|rest| rest.is_empty() || rest.starts_with("::")))
}

/// The password from `--password`, else one line of standard input.
fn read_password(given: Option<String>) -> Result<String, String> {
    match given {
        Some(p) => Ok(p),
        None => {
            eprint!("password: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
            Ok(line.trim_end_matches(['\r', '\n']).to_string())
        }
    }
}

/// Run a use case to completion from this synchronous command.
fn block_on<T>(work: impl Future<Output = T>) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(work))
}

/// A use case's refusal as one line: `the username must be …`, `That email is already
/// registered.`; an internal error with its cause (this is the operator's own terminal).
fn say(e: ApiError) -> String {
    match &e {
        ApiError::Validation { fields, .. } => {
            fields.iter().map(|(field, problem)| format!("the {field} {problem}")).collect::<Vec<_>>().join("; ")
        }
        ApiError::Internal(_) | ApiError::Unavailable(_) | ApiError::StorageFull(_) | ApiError::StorageReadOnly(_) => {
            Chain(&e).to_string()
        }
        _ => e.detail(),
    }
}

fn user(action: UserAction) -> Result<(), String> {
    let operator = Operator::open(&action.data().dir())?;
    let result = operator.accounts().and_then(|accounts| block_on(user_action(&accounts, action))?);
    operator.close();
    result
}

async fn user_action(accounts: &Accounts, action: UserAction) -> Result<(), String> {
    match action {
        UserAction::Add { name, email, password, admin, .. } => {
            accounts.check_names(&name, &email).map_err(say)?;
            let password = read_password(password)?;
            let new = NewAccount { username: name, email, password, full_name: None, invite: None };
            let user = accounts.add(new, admin).await.map_err(say)?;
            println!("created user {} (id {}{})", user.username, user.id, if user.is_admin { ", admin" } else { "" });
        }
        UserAction::List { .. } => {
            println!("{:>6}  {:<32}  {:<40}  {:<14}  display name", "id", "username", "email", "flags");
            for account in accounts.list().await.map_err(say)? {
                let u = &account.user;
                let flags = [(u.is_admin, "admin"), (account.disabled, "disabled")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, f)| *f)
                    .collect::<Vec<_>>()
                    .join(",");
                // The display name last: it may hold spaces, and the avatar is shown as "(picture)".
                let shown = match (&u.display_name, &u.avatar_url) {
                    (Some(name), Some(_)) => format!("{name} (picture)"),
                    (Some(name), None) => name.clone(),
                    (None, Some(_)) => "(picture)".to_string(),
                    (None, None) => String::new(),
                };
                println!("{:>6}  {:<32}  {:<40}  {:<14}  {}", u.id, u.username, u.email, flags, shown);
            }
        }
        UserAction::Passwd { name, password, .. } => {
            let user = accounts.set_password(&name, read_password(password)?).await.map_err(say)?;
            println!("password of {} changed; its older tokens no longer work", user.username);
        }
        UserAction::Disable { name, .. } => {
            println!("{} disabled", accounts.set_disabled(&name, true).await.map_err(say)?.username);
        }
        UserAction::Enable { name, .. } => {
            println!("{} enabled", accounts.set_disabled(&name, false).await.map_err(say)?.username);
        }
        UserAction::Promote { name, .. } => {
            println!("{} is now an administrator", accounts.promote(&name).await.map_err(say)?.username);
        }
    }
    Ok(())
}

fn bot(action: BotAction) -> Result<(), String> {
    let operator = Operator::open(&action.data().dir())?;
    let bots = operator.bots();
    let invites = operator.invites();
    let result = block_on(async {
        // Hook URLs under the address the server last started with, as `natter invite` links.
        let public_url = |given: Option<String>| async {
            match given {
                Some(url) => url,
                None => {
                    invites.recorded_address().await.ok().flatten().unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_string())
                }
            }
        };
        bot_action(&bots, action, public_url).await
    });
    operator.close();
    result?
}

async fn bot_action<F, U>(bots: &Bots, action: BotAction, public_url: F) -> Result<(), String>
where
    F: Fn(Option<String>) -> U,
    U: Future<Output = String>,
{
    match action {
        BotAction::Add { name, webhook, room, public_url: url, .. } => {
            let room_id = match room {
                Some(room) => Some(bots.room_named(&room).await.map_err(say)?),
                None => None,
            };
            let new = NewBot { name, webhook_url: webhook, room_id };
            let bot = bots.create(Issuer::Operator, new, &public_url(url).await).await.map_err(say)?;
            println!("{}", bot.hook_url);
            eprintln!(
                "created bot {} (id {}); add it to rooms like anyone, then post to the URL above",
                bot.username, bot.id
            );
        }
        BotAction::List { public_url: url, .. } => {
            let url = public_url(url).await;
            println!("{:>6}  {:<32}  {:<8}  hook URL", "id", "name", "room");
            for bot in bots.list(Issuer::Operator, &url).await.map_err(say)? {
                let room = bot.room_id.map(|id| id.to_string()).unwrap_or_else(|| "-".into());
                println!("{:>6}  {:<32}  {:<8}  {}", bot.id, bot.username, room, bot.hook_url);
                if let Some(webhook) = &bot.webhook_url {
                    println!("{:>6}  {:<32}  {:<8}  webhook: {}", "", "", "", webhook);
                }
            }
        }
        BotAction::Remove { name, .. } => {
            let id = bots.find(&name).await.map_err(say)?;
            bots.delete(Issuer::Operator, id).await.map_err(say)?;
            println!("bot {name} deleted; its token no longer works, its messages stay");
        }
        BotAction::Token { name, public_url: url, .. } => {
            let id = bots.find(&name).await.map_err(say)?;
            let bot = bots.rotate_token(Issuer::Operator, id, &public_url(url).await).await.map_err(say)?;
            println!("{}", bot.hook_url);
            eprintln!("new token for {}; the old one no longer works", bot.username);
        }
    }
    Ok(())
}

/// Where `natter invite` links point when neither `--public-url` nor a server that ran on this
/// data says (the default port).
const DEFAULT_PUBLIC_URL: &str = "http://localhost:8000";

/// Create an invite and print its link (stdout), with `--qr` its QR code (stdout), and its
/// details (stderr).
fn invite(uses: u32, expires: Duration, public_url: Option<String>, qr: bool, data: &DataArgs) -> Result<(), String> {
    let request = NewInvite { uses: Some(uses), expires_in: Some(expires.as_secs().into()) };
    // Refused flags touch no data.
    request.uses().and(request.ttl()).map_err(say)?;
    let operator = Operator::open(&data.dir())?;
    let invites = operator.invites();
    let result = block_on(async {
        let public_url = match public_url {
            Some(url) => url,
            None => invites.recorded_address().await?.unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_string()),
        };
        invites.create(Issuer::Operator, request, &public_url).await
    });
    operator.close();
    let invite = result?.map_err(say)?;
    println!("{}", invite.url);
    if qr {
        // An invite link is far below a QR code's capacity (2,331 bytes at level M).
        let lines = crate::transport::cli::start_message::qr_lines(
            &invite.url,
            crate::transport::cli::start_message::QrStyle::for_stdout(),
        )
        .ok_or("the invite link is too long for a QR code")?;
        println!();
        for line in lines {
            println!("  {line}");
        }
        println!();
    }
    eprintln!(
        "code: {}, uses: {}, expires: {} (the link opens sign-up with the code filled in)",
        invite.code, invite.uses_left, invite.expires_at
    );
    Ok(())
}

fn backup(file: &Path, force: bool, with_media: bool, data: &DataArgs) -> Result<(), String> {
    let mut line = ProgressLine::on_terminal();
    let report = backups::backup(&data.dir(), file, force, with_media, &mut |p| line.show(p));
    line.finish();
    let report = report?;
    println!("backed up {} to {}", report.database.display(), file.display());
    if let Some((folder, copied)) = report.media {
        println!(
            "copied {} media files ({}) to {}{}",
            copied.copied + copied.kept,
            bytes(copied.bytes),
            folder.display(),
            if copied.kept > 0 { format!(" ({} were already there)", copied.kept) } else { String::new() }
        );
    }
    Ok(())
}

fn restore(file: &Path, with_media: bool, data: &DataArgs) -> Result<(), String> {
    let mut line = ProgressLine::on_terminal();
    let report = backups::restore(&data.dir(), file, with_media, &mut |p| line.show(p));
    line.finish();
    let report = report?;
    if let Some((folder, copied)) = report.media {
        println!(
            "restored {} media files ({}) from {}{}",
            copied.copied + copied.kept,
            bytes(copied.bytes),
            folder.display(),
            if copied.kept > 0 { format!(" ({} were already there)", copied.kept) } else { String::new() }
        );
    }
    println!("restored {} from {}", report.database.display(), file.display());
    Ok(())
}

/// `1.5 MiB`, `312 KiB`, `42 bytes`.
fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if f >= KIB * KIB * KIB {
        format!("{:.1} GiB", f / (KIB * KIB * KIB))
    } else if f >= KIB * KIB {
        format!("{:.1} MiB", f / (KIB * KIB))
    } else if f >= KIB {
        format!("{:.0} KiB", f / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// A progress line on standard error, rewritten in place (`\r`) at most ten times a second, only
/// when standard error is a terminal: in a file, a pipe or a cron mail there is nothing.
struct ProgressLine {
    on: bool,
    last: Option<(std::time::Instant, backups::Progress)>,
    width: usize,
}

impl ProgressLine {
    fn on_terminal() -> ProgressLine {
        ProgressLine { on: std::io::stderr().is_terminal(), last: None, width: 0 }
    }

    fn show(&mut self, progress: backups::Progress) {
        if !self.on {
            return;
        }
        let (done, total) = match progress {
            backups::Progress::Database { pages, total } | backups::Progress::Media { bytes: pages, total } => {
                (pages, total)
            }
        };
        let now = std::time::Instant::now();
        let same_stage =
            self.last.is_some_and(|(_, p)| std::mem::discriminant(&p) == std::mem::discriminant(&progress));
        let recent = self.last.is_some_and(|(at, _)| now.duration_since(at) < Duration::from_millis(100));
        if same_stage && recent && done < total {
            return;
        }
        if !same_stage && self.width > 0 {
            // The stage before ends on its own line.
            eprintln!();
            self.width = 0;
        }
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        let text = match progress {
            backups::Progress::Database { pages, total } => {
                format!("database: {percent:>3}% ({pages} of {total} pages)")
            }
            backups::Progress::Media { bytes: done, total } => {
                format!("media: {percent:>3}% ({} of {})", bytes(done), bytes(total))
            }
        };
        let pad = self.width.saturating_sub(text.len());
        eprint!("\r{text}{}", " ".repeat(pad));
        let _ = std::io::stderr().flush();
        self.width = text.len();
        self.last = Some((now, progress));
    }

    /// End the line, so that what follows starts on its own.
    fn finish(&mut self) {
        if self.on && self.width > 0 {
            eprintln!();
            self.width = 0;
        }
    }
}

/// GET URL/healthz; Ok when it answers 200.
fn healthcheck(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
    let (host, base) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let authority = if host.contains(':') { host.to_string() } else { format!("{host}:80") };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect to {url}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let path = format!("{}/healthz", base.trim_end_matches('/'));
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) == Some("200") {
        println!("ok");
        Ok(())
    } else {
        Err(format!("{url} answered: {}", if status.is_empty() { "nothing" } else { status }))
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::holds_secrets;

    #[test]
    fn websocket_payload_lines_are_never_logged() {
        assert!(holds_secrets("tungstenite::protocol", Level::TRACE));
        assert!(holds_secrets("tokio_tungstenite", Level::DEBUG));
        assert!(!holds_secrets("tungstenite::protocol", Level::WARN));
        assert!(!holds_secrets("tungstenite_extra", Level::TRACE));
        assert!(!holds_secrets("natter::access", Level::TRACE));
    }
}

//! The start message: where people can reach this server (the URLs of
//! [`crate::server::addresses`]), a QR code of the first one when standard output is a terminal,
//! and what to do next: who becomes the administrator, how to make an invite, and why nobody
//! else can reach it when it is bound to loopback.
//!
//! Everything but [`announce`] is a pure function of its inputs, so the rules are unit-tested
//! without touching the network configuration.

use std::io::IsTerminal;
use std::net::SocketAddr;

use crate::AppState;
use crate::config::{DataArgs, LogFormat, Registration};
use crate::server::addresses::{Kind, Place, qr_target};

/// Everything the start message depends on.
pub struct Start<'a> {
    pub version: &'a str,
    /// Where the listener is bound (the real port, after `:0`).
    pub bound: SocketAddr,
    pub public_url: Option<&'a str>,
    pub registration: Registration,
    /// No account exists yet.
    pub first_run: bool,
    pub data: &'a DataArgs,
}

/// A word for a shell: quoted only when it has to be.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain { text.to_string() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

/// `--data-dir DIR` (and `--db FILE` when it is elsewhere): so that a printed command works on
/// this server's data.
fn data_flags(data: &DataArgs) -> String {
    let mut flags = format!("--data-dir {}", shell_word(&data.data_dir.to_string_lossy()));
    if let Some(db) = &data.db {
        flags.push_str(&format!(" --db {}", shell_word(&db.to_string_lossy())));
    }
    flags
}

/// The sentences after the URLs: reachability, then who can join and how.
pub fn hints(start: &Start, places: &[Place]) -> Vec<String> {
    let mut hints = Vec::new();
    let ip = start.bound.ip();
    if start.public_url.is_none() && ip.is_loopback() {
        let any = if ip.is_ipv6() { "[::]" } else { "0.0.0.0" };
        hints.push(format!(
            "Only this machine can open it: natter is bound to {ip}, which other devices cannot reach. \
             To let phones and laptops on your network in, start it with --bind {any}:{}.",
            start.bound.port()
        ));
    } else if start.public_url.is_none() && ip.is_unspecified() && qr_target(places).is_none() {
        hints.push(
            "No network interface other than loopback is up: other devices cannot reach natter until this \
             machine joins a network (the addresses are read once, at start)."
                .to_string(),
        );
    }
    let invite = format!("natter invite --qr {}", data_flags(start.data));
    let add_user = format!("natter user add NAME --email EMAIL --admin {}", data_flags(start.data));
    let line = match (start.registration, start.first_run) {
        (Registration::Open, true) => {
            "Nobody has an account yet: the first person to sign up becomes the administrator, so sign up now. \
             Then people join by opening the address and creating an account."
                .to_string()
        }
        (Registration::Open, false) => "People join by opening the address and creating an account.".to_string(),
        (Registration::Invite, true) => format!(
            "Nobody has an account yet, and signing up needs an invite (--registration invite). Make one with \
             `{invite}` and open its link: the first account becomes the administrator."
        ),
        (Registration::Invite, false) => format!(
            "Signing up needs an invite (--registration invite): administrators create one in the web UI \
             (Administration, Create invite), or run `{invite}`."
        ),
        (Registration::Closed, true) => format!(
            "Nobody has an account yet and signing up is closed (--registration closed): create the first \
             account with `{add_user}`."
        ),
        (Registration::Closed, false) => format!(
            "Signing up is closed (--registration closed): add accounts with `natter user add NAME --email EMAIL {}`.",
            data_flags(start.data)
        ),
    };
    hints.push(line);
    hints
}

/// What each kind of URL is, in the start message.
fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::Public => "the public address (--public-url)",
        Kind::Lan => "other devices on this network",
        Kind::ThisMachine => "this machine",
        Kind::Bound => "the address natter is bound to",
    }
}

/// The start message as text; `qr` is the already rendered QR code of [`qr_target`], if any.
/// Its last line is always `Ctrl-C stops natter.`
pub fn message(start: &Start, places: &[Place], qr: Option<&[String]>) -> String {
    let mut out = format!("\nnatter {} is ready. Open it in a browser:\n\n", start.version);
    let width = places.iter().map(|p| p.url.chars().count()).max().unwrap_or(0);
    for place in places {
        out.push_str(&format!("  {:<width$}   {}\n", place.url, label(place.kind)));
    }
    if let (Some(lines), Some(target)) = (qr, qr_target(places)) {
        out.push('\n');
        for line in lines {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str(&format!("  Scan this with a phone's camera to open {target}\n"));
    }
    out.push('\n');
    for hint in hints(start, places) {
        out.push_str(&hint);
        out.push('\n');
    }
    out.push_str("Ctrl-C stops natter.\n");
    out
}

/// How a QR code is drawn in a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrStyle {
    /// Black modules on a white background set with ANSI colours: right on any terminal theme.
    Colours,
    /// No escape codes (a pipe, a file, `NO_COLOR`): the light modules and the quiet zone are
    /// drawn, the dark ones left blank, as `qrencode -t utf8` does; right on dark terminals,
    /// inverted on light ones (phone cameras read both).
    Plain,
}

impl QrStyle {
    /// Colours on a terminal without `NO_COLOR`, plain otherwise.
    pub fn for_stdout() -> QrStyle {
        let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        if colours { QrStyle::Colours } else { QrStyle::Plain }
    }
}

/// Modules of quiet zone around the code (the standard asks for 4; 2 reads fine on a screen and
/// keeps the code small enough for an 80×24 terminal).
pub const QR_QUIET_ZONE: usize = 2;

/// `text` as a QR code (error correction M) drawn with Unicode half blocks: each character is
/// one module wide and two high, so the code is about square. `None` if `text` is too long
/// for a QR code.
pub fn qr_lines(text: &str, style: QrStyle) -> Option<Vec<String>> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colours = code.to_colors();
    let size = width + 2 * QR_QUIET_ZONE;
    // Whether the cell at (x, y) of the drawing, quiet zone included, gets ink.
    let ink = |x: usize, y: usize| -> bool {
        if y >= size {
            return false;
        }
        let module = x
            .checked_sub(QR_QUIET_ZONE)
            .zip(y.checked_sub(QR_QUIET_ZONE))
            .filter(|&(mx, my)| mx < width && my < width)
            .map(|(mx, my)| colours[my * width + mx]);
        let dark = module == Some(qrcode::Color::Dark);
        match style {
            QrStyle::Colours => dark,
            QrStyle::Plain => !dark,
        }
    };
    let lines = (0..size)
        .step_by(2)
        .map(|y| {
            let cells: String = (0..size)
                .map(|x| match (ink(x, y), ink(x, y + 1)) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                })
                .collect();
            match style {
                // Black ink on a bright white background, reset at the end of every line.
                QrStyle::Colours => format!("\x1b[30;107m{cells}\x1b[0m"),
                QrStyle::Plain => cells,
            }
        })
        .collect();
    Some(lines)
}

/// Say where natter can be reached, once, right after it starts listening on `bound`: the
/// text message on standard output (with the QR code on a terminal), or with `--log-format
/// json` the same as log events, so that standard output stays one JSON object per line.
pub async fn announce(state: &AppState, bound: SocketAddr, places: &[Place]) {
    let config = &state.config;
    let first_run = match state.ops.health().await {
        Ok(health) => health.first_run,
        Err(e) => {
            tracing::warn!(error = %crate::error::Chain(&e), "cannot tell whether any account exists");
            false
        }
    };
    let start = Start {
        version: env!("CARGO_PKG_VERSION"),
        bound,
        public_url: config.public_url.as_deref(),
        registration: config.registration,
        first_run,
        data: &config.data,
    };
    match config.log_format {
        LogFormat::Json => {
            let urls = places.iter().map(|p| p.url.as_str()).collect::<Vec<_>>().join(" ");
            tracing::info!(urls = %urls, "natter can be reached at these addresses");
            for hint in hints(&start, places) {
                tracing::info!("{hint}");
            }
        }
        LogFormat::Text => {
            let qr = if std::io::stdout().is_terminal() {
                qr_target(places).and_then(|target| qr_lines(target, QrStyle::for_stdout()))
            } else {
                None
            };
            let text = message(&start, places, qr.as_deref());
            crate::runtime::log_output::write_now(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::addresses::fixtures::{all, urls};
    use crate::server::addresses::places;

    #[test]
    fn loopback_is_only_this_machine_and_says_how_to_open_up() {
        let bound = "127.0.0.1:8000".parse().unwrap();
        let places = places(bound, "http", None, &all());
        assert_eq!(urls(&places), ["http://127.0.0.1:8000"]);
        assert_eq!(qr_target(&places), None);
        let data = DataArgs::default();
        let start = Start {
            version: "1",
            bound,
            public_url: None,
            registration: Registration::Open,
            first_run: true,
            data: &data,
        };
        let text = message(&start, &places, None);
        assert!(text.contains("--bind 0.0.0.0:8000"), "{text}");
        assert!(text.contains("first person to sign up becomes the administrator"), "{text}");
        assert!(text.ends_with("Ctrl-C stops natter.\n"), "{text}");
    }

    #[test]
    fn invite_only_says_how_to_make_an_invite() {
        let data = DataArgs::at(std::path::Path::new("/srv/my data"));
        let bound = "0.0.0.0:8000".parse().unwrap();
        let places = places(bound, "http", None, &all());
        let start = Start {
            version: "1",
            bound,
            public_url: None,
            registration: Registration::Invite,
            first_run: true,
            data: &data,
        };
        let text = hints(&start, &places).join("\n");
        assert!(text.contains("`natter invite --qr --data-dir '/srv/my data'`"), "{text}");
        let start = Start { first_run: false, ..start };
        assert!(hints(&start, &places).join("\n").contains("Administration"));
    }

    #[test]
    fn qr_codes_are_square_half_blocks() {
        let lines = qr_lines("http://192.168.1.23:8000", QrStyle::Plain).unwrap();
        // 24 bytes: version 2 (25 modules) at level M, plus the quiet zone on both sides.
        let size = 25 + 2 * QR_QUIET_ZONE;
        assert_eq!(lines.len(), size.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == size));
        // The quiet zone is light: drawn in plain style.
        assert!(lines[0].chars().all(|c| c == '█'));
        let coloured = qr_lines("http://192.168.1.23:8000", QrStyle::Colours).unwrap();
        assert!(coloured[0].starts_with("\x1b[30;107m") && coloured[0].ends_with("\x1b[0m"));
    }
}

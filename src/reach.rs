//! Where people can reach this server: the start message (issue 15).
//!
//! natter is started on a Pi or a laptop at a LAN party and then everyone else has to be told
//! where it is; `0.0.0.0:8000` is no address a phone can open. So at start natter prints the
//! URLs it can be reached at, from the machine's own interface list (`getifaddrs`; nothing is
//! sent anywhere), a QR code of the first LAN URL when standard output is a terminal, and what
//! to do next: who becomes the administrator, how to make an invite, and why nobody else can
//! reach it when it is bound to loopback. `--public-url` wins over guessed addresses.
//!
//! Everything but [`interfaces`] and [`announce`] is a pure function of its inputs, so the
//! rules are unit-tested without touching the network configuration.

use std::ffi::CStr;
use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::AppState;
use crate::config::{DataArgs, LogFormat, Registration};

/// One address of one network interface that is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub ip: IpAddr,
}

/// The addresses of the interfaces that are up, as the kernel lists them (`getifaddrs(3)`);
/// empty if the list cannot be read.
pub fn interfaces() -> Vec<Interface> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: on success getifaddrs stores a linked list that stays valid, and is only read,
    // until the freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a non-null node of the list (see above).
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        let up = entry.ifa_flags & (libc::IFF_UP as libc::c_uint) != 0;
        if entry.ifa_addr.is_null() || entry.ifa_name.is_null() || !up {
            continue;
        }
        // SAFETY: `ifa_addr` is non-null and points to a sockaddr whose `sa_family` says which
        // sockaddr it really is; each cast below matches its family.
        let ip = unsafe {
            match i32::from((*entry.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*entry.ifa_addr.cast::<libc::sockaddr_in>();
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
                }
                libc::AF_INET6 => {
                    let sin6 = &*entry.ifa_addr.cast::<libc::sockaddr_in6>();
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
                }
                _ => continue,
            }
        };
        // SAFETY: `ifa_name` is a non-null NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(entry.ifa_name) }.to_string_lossy().into_owned();
        found.push(Interface { name, ip });
    }
    // SAFETY: `list` came from getifaddrs and nothing borrowed from it outlives this call.
    unsafe { libc::freeifaddrs(list) };
    found
}

/// What an address in the start message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--public-url`.
    Public,
    /// A guessed address of this machine on a network (from the interface list).
    Lan,
    /// `localhost`, or the loopback address natter is bound to.
    ThisMachine,
    /// The one non-loopback address natter is bound to.
    Bound,
}

/// One URL of the start message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub url: String,
    pub kind: Kind,
}

/// `scheme://host:port` with IPv6 in brackets.
fn url(scheme: &str, ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}"),
        IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}"),
    }
}

/// Whether a browser on another device could open `ip`: not loopback, not unspecified, not
/// link-local (an IPv6 link-local URL needs a zone id browsers do not take, and an IPv4 one is
/// what a machine gives itself when it found no network), not multicast.
fn reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_unspecified() || v4.is_link_local() || v4.is_multicast()),
        IpAddr::V6(v6) => {
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(v6.is_loopback()
                || v6.is_unspecified()
                || link_local
                || v6.is_multicast()
                || v6.to_ipv4_mapped().is_some())
        }
    }
}

/// Interfaces that usually are not the network people are on (containers, VMs, VPN bridges):
/// listed after the others, so that the QR code shows the Wi-Fi or Ethernet address.
fn virtual_interface(name: &str) -> bool {
    ["docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "lxc", "lxd", "podman", "cni", "flannel", "tun", "tap"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Home and office networks first (192.168/16, 10/8, 172.16/12), then other IPv4, then IPv6
/// (unique-local before global); virtual interfaces after real ones.
fn rank(interface: &Interface) -> (bool, u8) {
    let class = match interface.ip {
        IpAddr::V4(v4) => match v4.octets() {
            [192, 168, ..] => 0,
            [10, ..] => 1,
            [172, b, ..] if (16..32).contains(&b) => 2,
            _ => 3,
        },
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => 4,
        IpAddr::V6(_) => 5,
    };
    (virtual_interface(&interface.name), class)
}

/// The URLs of the start message, the one to put in the QR code first among them when there is
/// one (a public or LAN address; never loopback).
///
/// - `--public-url` given: it, then this machine's loopback URL. No guessing.
/// - Bound to every address (`0.0.0.0`, or `[::]`, which also takes IPv4): one URL per
///   reachable interface address (IPv6 ones only for `[::]`), then `http://localhost:PORT`.
/// - Bound to one address: that address only.
pub fn places(bind: SocketAddr, scheme: &str, public_url: Option<&str>, interfaces: &[Interface]) -> Vec<Place> {
    let port = bind.port();
    let this_machine =
        if bind.ip().is_loopback() { url(scheme, bind.ip(), port) } else { format!("{scheme}://localhost:{port}") };
    if let Some(public) = public_url {
        return vec![
            Place { url: public.to_string(), kind: Kind::Public },
            Place { url: this_machine, kind: Kind::ThisMachine },
        ];
    }
    if bind.ip().is_loopback() {
        return vec![Place { url: this_machine, kind: Kind::ThisMachine }];
    }
    if !bind.ip().is_unspecified() {
        return vec![Place { url: url(scheme, bind.ip(), port), kind: Kind::Bound }];
    }
    let with_v6 = bind.is_ipv6();
    let mut lan: Vec<&Interface> =
        interfaces.iter().filter(|i| reachable(i.ip) && (with_v6 || i.ip.is_ipv4())).collect();
    lan.sort_by_key(|i| rank(i));
    let mut places: Vec<Place> = Vec::new();
    for interface in lan {
        let url = url(scheme, interface.ip, port);
        if !places.iter().any(|p| p.url == url) {
            places.push(Place { url, kind: Kind::Lan });
        }
    }
    places.push(Place { url: this_machine, kind: Kind::ThisMachine });
    places
}

/// The URL the QR code shows: the first public, LAN or bound one (never loopback).
pub fn qr_target(places: &[Place]) -> Option<&str> {
    places.iter().find(|p| p.kind != Kind::ThisMachine).map(|p| p.url.as_str())
}

/// Where this server can be reached, worked out once its listener is bound: what invite links
/// and the web UI's "Invite people" hand out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The address other devices open: `--public-url`, else the first LAN (or bound) address;
    /// `None` when only this machine can reach natter (bound to loopback, or no network up).
    pub share_url: Option<String>,
    /// This machine's own address, with the port natter listens on.
    pub this_machine: String,
}

impl Reach {
    /// The address to print in invite links: the shared one, else this machine's.
    pub fn link_base(&self) -> &str {
        self.share_url.as_deref().unwrap_or(&self.this_machine)
    }
}

/// The start message's URLs for a server bound to `bound` (reading the interface list when it
/// is bound to every address), and the [`Reach`] they make.
pub async fn work_out(public_url: Option<&str>, bound: SocketAddr, scheme: &str) -> (Vec<Place>, Reach) {
    let interfaces = if public_url.is_none() && bound.ip().is_unspecified() {
        tokio::task::spawn_blocking(interfaces).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let places = places(bound, scheme, public_url, &interfaces);
    let this_machine = places
        .iter()
        .find(|p| p.kind == Kind::ThisMachine)
        .map_or_else(|| format!("{scheme}://localhost:{}", bound.port()), |p| p.url.clone());
    let reach = Reach { share_url: qr_target(&places).map(str::to_string), this_machine };
    (places, reach)
}

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
            crate::log_output::write_now(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, ip: &str) -> Interface {
        Interface { name: name.into(), ip: ip.parse().unwrap() }
    }

    fn urls(places: &[Place]) -> Vec<&str> {
        places.iter().map(|p| p.url.as_str()).collect()
    }

    fn all() -> Vec<Interface> {
        vec![
            iface("lo", "127.0.0.1"),
            iface("lo", "::1"),
            iface("docker0", "172.17.0.1"),
            iface("eth0", "203.0.113.7"),
            iface("wlan0", "192.168.1.23"),
            iface("wlan0", "fe80::1"),
            iface("wlan0", "fd00::23"),
            iface("wlan0", "2001:db8::23"),
            iface("eth1", "169.254.3.4"),
        ]
    }

    #[test]
    fn every_address_lists_the_lan_first_and_localhost_last() {
        let places = places("0.0.0.0:8000".parse().unwrap(), "http", None, &all());
        assert_eq!(
            urls(&places),
            ["http://192.168.1.23:8000", "http://203.0.113.7:8000", "http://172.17.0.1:8000", "http://localhost:8000"]
        );
        assert_eq!(qr_target(&places), Some("http://192.168.1.23:8000"));
        let places = places_v6();
        assert_eq!(
            urls(&places),
            [
                "http://192.168.1.23:8000",
                "http://203.0.113.7:8000",
                "http://[fd00::23]:8000",
                "http://[2001:db8::23]:8000",
                "http://172.17.0.1:8000",
                "http://localhost:8000"
            ]
        );
    }

    fn places_v6() -> Vec<Place> {
        places("[::]:8000".parse().unwrap(), "http", None, &all())
    }

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
    fn the_public_url_wins() {
        let places = places("0.0.0.0:8000".parse().unwrap(), "http", Some("https://chat.example.org"), &all());
        assert_eq!(urls(&places), ["https://chat.example.org", "http://localhost:8000"]);
        assert_eq!(qr_target(&places), Some("https://chat.example.org"));
    }

    #[test]
    fn one_bound_address_is_the_only_one() {
        let places = places("192.168.1.23:9000".parse().unwrap(), "https", None, &all());
        assert_eq!(urls(&places), ["https://192.168.1.23:9000"]);
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

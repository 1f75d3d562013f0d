//! The start message: where natter can be reached, the QR code of the first LAN URL
//! on a terminal only, the hints; and `natter invite --qr`. These run the built binary, read
//! what it prints, and compare the addresses with the machine's own list (read here from
//! `/proc/net/fib_trie`, not through natter's code).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common;

/// The last line of every start message.
const LAST_LINE: &str = "Ctrl-C stops natter.";

/// What a server printed on standard output up to the end of its start message, and the
/// address it logged. The process is killed when the test drops the returned child.
async fn start_message(mut command: tokio::process::Command) -> (String, SocketAddr, tokio::process::Child) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start natter");
    let stdout = child.stdout.take().expect("stdout");
    let read = async {
        let mut lines = BufReader::new(stdout).lines();
        let mut text = String::new();
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            let line = line.trim_end_matches('\r').to_string();
            text.push_str(&line);
            text.push('\n');
            if line.trim() == LAST_LINE {
                return text;
            }
        }
        panic!("natter exited before the end of its start message:\n{text}");
    };
    let text = tokio::time::timeout(common::TIMEOUT, read).await.expect("the start message in time");
    let plain = common::strip_ansi(&text);
    let addr = plain
        .lines()
        .find_map(|l| l.contains("natter is listening").then(|| l.split("address=").nth(1)).flatten())
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no `natter is listening address=` line in:\n{text}"));
    (text, addr, child)
}

/// Stops (SIGTERM) the processes `script` started, when dropped: killing `script` only hangs up
/// its pseudo-terminal, which natter takes as SIGHUP (reload the TLS certificate) and runs on.
struct StopChildrenOf(u32);

impl Drop for StopChildrenOf {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/proc") else { return };
        for entry in entries.flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (name) state ppid ...`: the fields after the name's closing parenthesis.
            let parent = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
            if parent == Some(self.0.to_string().as_str()) {
                let pid = entry.file_name().to_string_lossy().into_owned();
                let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
            }
        }
    }
}

fn serve(data: &Path, bind: &str, extra: &[&str]) -> tokio::process::Command {
    let mut args = vec!["serve", "--bind", bind, "--data-dir", data.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    common::natter_cmd(data, &args)
}

/// The URLs the message lists for a given label.
fn listed(text: &str, label: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.trim_end().ends_with(label))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn has_qr(text: &str) -> bool {
    text.contains(['█', '▀', '▄'])
}

/// This machine's IPv4 addresses as the kernel's routing table lists them (`host LOCAL`
/// entries), without loopback and link-local ones.
fn lan_ipv4_addresses() -> BTreeSet<Ipv4Addr> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").expect("read /proc/net/fib_trie");
    let lines: Vec<&str> = trie.lines().collect();
    let mut found = BTreeSet::new();
    for pair in lines.windows(2) {
        if pair[1].trim() == "/32 host LOCAL"
            && let Some(ip) = pair[0].trim().strip_prefix("|-- ").and_then(|ip| ip.parse::<Ipv4Addr>().ok())
            && !ip.is_loopback()
            && !ip.is_link_local()
        {
            found.insert(ip);
        }
    }
    found
}

#[tokio::test]
async fn bound_to_loopback_it_lists_127_0_0_1_and_says_how_to_open_up() {
    let dir = tempfile::tempdir().unwrap();
    let (text, addr, _child) = start_message(serve(dir.path(), "127.0.0.1:0", &[])).await;
    let port = addr.port();
    assert_eq!(listed(&text, "this machine"), BTreeSet::from([format!("http://127.0.0.1:{port}")]), "{text}");
    assert!(listed(&text, "other devices on this network").is_empty(), "{text}");
    assert!(text.contains("other devices cannot reach"), "{text}");
    assert!(text.contains(&format!("start it with --bind 0.0.0.0:{port}")), "{text}");
    assert!(text.contains("the first person to sign up becomes the administrator"), "{text}");
    // Standard output is a pipe here: no QR code, no colours.
    assert!(!has_qr(&text), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[tokio::test]
async fn bound_to_every_address_it_lists_each_lan_address() {
    let dir = tempfile::tempdir().unwrap();
    let (text, addr, _child) = start_message(serve(dir.path(), "0.0.0.0:0", &[])).await;
    let port = addr.port();
    let expected: BTreeSet<String> = lan_ipv4_addresses().iter().map(|ip| format!("http://{ip}:{port}")).collect();
    assert_eq!(listed(&text, "this machine"), BTreeSet::from([format!("http://localhost:{port}")]), "{text}");
    assert!(!text.contains("--bind 0.0.0.0"), "no loopback hint when bound to every address:\n{text}");
    assert!(!has_qr(&text), "{text}");
    if expected.is_empty() {
        // Not vacuous: with no network, natter must say so.
        eprintln!("this machine has no non-loopback IPv4 address: checking the no-network hint instead");
        assert!(text.contains("No network interface other than loopback is up"), "{text}");
        return;
    }
    assert_eq!(listed(&text, "other devices on this network"), expected, "{text}");
    // The LAN addresses come before localhost.
    let first_url = text.lines().find(|l| l.trim_start().starts_with("http://")).unwrap_or("");
    assert!(first_url.contains("other devices on this network"), "{text}");
}

#[tokio::test]
async fn the_public_url_wins_and_invite_only_says_how_to_invite() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--public-url", "https://chat.example.org/", "--registration", "invite"];
    let (text, addr, _child) = start_message(serve(dir.path(), "0.0.0.0:0", &extra)).await;
    assert_eq!(listed(&text, "the public address (--public-url)"), BTreeSet::from(["https://chat.example.org".into()]));
    assert_eq!(listed(&text, "this machine"), BTreeSet::from([format!("http://localhost:{}", addr.port())]));
    assert!(listed(&text, "other devices on this network").is_empty(), "no guessed addresses:\n{text}");
    let data_dir = dir.path().to_str().unwrap();
    assert!(text.contains(&format!("`natter invite --qr --data-dir {data_dir}`")), "{text}");
    assert!(text.contains("the first account becomes the administrator"), "{text}");
}

/// The modules drawn by a block of half-block lines, two rows per line: `true` where there is
/// ink. Each line must be exactly `width` characters.
fn cells(lines: &[String], width: usize) -> Vec<Vec<bool>> {
    let mut rows = Vec::new();
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        assert_eq!(chars.len(), width, "line {line:?} is {} wide, not {width}", chars.len());
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for c in chars {
            let (t, b) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("unexpected {other:?} in the QR code"),
            };
            top.push(t);
            bottom.push(b);
        }
        rows.push(top);
        rows.push(bottom);
    }
    rows
}

/// Check that `lines` draw `text`'s QR code (level M) with a 2-module quiet zone; `ink_is_dark`
/// says which modules are drawn. This is the code a camera decodes back to `text`.
fn assert_draws(lines: &[String], text: &str, ink_is_dark: bool) {
    let code = qrcode::QrCode::new(text.as_bytes()).expect("a QR code");
    let modules = code.width();
    let quiet = 2;
    let size = modules + 2 * quiet;
    assert_eq!(lines.len(), size.div_ceil(2), "{size} rows of modules in {} lines", lines.len());
    let drawn = cells(lines, size);
    let colours = code.to_colors();
    for y in 0..size {
        for x in 0..size {
            let inside = (quiet..quiet + modules).contains(&x) && (quiet..quiet + modules).contains(&y);
            let dark = inside && colours[(y - quiet) * modules + (x - quiet)] == qrcode::Color::Dark;
            assert_eq!(drawn[y][x], dark == ink_is_dark, "module ({x}, {y}) of the code of {text}");
        }
    }
    // An odd number of rows leaves the last line's lower half empty.
    assert!(drawn[size..].iter().flatten().all(|ink| !ink), "nothing below the code");
}

#[tokio::test]
async fn natter_invite_qr_prints_the_links_qr_code() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let out = common::run_natter_ok(
        dir.path(),
        &["invite", "--qr", "--data-dir", data_dir, "--public-url", "http://192.168.1.23:8000"],
    )
    .await;
    let mut lines = out.lines();
    let link = lines.next().expect("the link first");
    assert!(link.starts_with("http://192.168.1.23:8000/#invite="), "{out}");
    let block: Vec<String> =
        lines.filter(|l| !l.trim().is_empty()).map(|l| l.strip_prefix("  ").unwrap_or(l).to_string()).collect();
    // Not a terminal (and NO_COLOR): plain half blocks, the light modules drawn.
    assert!(!out.contains('\u{1b}'), "{out}");
    assert_draws(&block, link, false);

    // Without --qr, just the link.
    let out = common::run_natter_ok(dir.path(), &["invite", "--data-dir", data_dir]).await;
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!has_qr(&out), "{out}");
}

/// On a terminal (a pseudo-terminal from util-linux's `script`) the start message has the QR
/// code of the first URL other devices can open, in black on white.
#[tokio::test]
async fn on_a_terminal_the_start_message_has_the_qr_code() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let url = "http://chat.example.test:8000";
    let inner = format!(
        "exec '{}' serve --bind 127.0.0.1:0 --data-dir '{data_dir}' --public-url {url}",
        common::natter_bin().display()
    );
    let mut command = tokio::process::Command::new("script");
    command
        .args(["-qec", &inner, "/dev/null"])
        .current_dir(dir.path())
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let (text, _addr, child) = start_message(command).await;
    let _natter = StopChildrenOf(child.id().expect("script runs"));
    let block: Vec<String> = text
        .lines()
        .filter(|l| l.contains("\u{1b}[30;107m"))
        .map(|l| {
            let start = l.find("\u{1b}[30;107m").unwrap() + "\u{1b}[30;107m".len();
            let end = l[start..].find("\u{1b}[0m").map(|e| start + e).expect("the colours are reset on every line");
            l[start..end].to_string()
        })
        .collect();
    assert!(!block.is_empty(), "no QR code on a terminal:\n{text}");
    assert_draws(&block, url, true);
    assert!(text.contains(&format!("Scan this with a phone's camera to open {url}")), "{text}");
}

//! The web UI, embedded in the binary from `static/`, gzipped by `build.rs` (rust-embed of
//! `$OUT_DIR/ui`; cargo rebuilds when a file in `static/` changes). A browser gets the gzipped
//! bytes as they are, with `Content-Encoding: gzip` ([`embedded_body`]); the UI costs 80 KB of
//! the binary instead of 314 KB.
//!
//! Every file served from here carries the UI's security headers; `/media` and the API set
//! their own and never pass through here.
//! - `Content-Security-Policy`: scripts, styles, fonts and workers only from this origin and never
//!   inline (the UI imports its modules by relative paths, so it needs no import map and no
//!   hash); images from here, `blob:` (previews of files about to be uploaded) and `data:`;
//!   audio and video from here and `blob:`; connections to this origin plus `ws://` and `wss://`
//!   of the host the request named (Socket.IO; CSP Level 2 browsers do not count `ws:` as
//!   `'self'`); no plugins, no framing, no `<base>`, forms post only here.
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (a message's link never
//!   learns which room it was clicked in), `X-Frame-Options: DENY` for browsers without
//!   `frame-ancestors`.
//!
//! Caching: the files keep their names from release to release (there is no build step to put
//! a hash in them), so any `max-age` would let a browser mix an old module with a new one for
//! that long after an upgrade. Every UI file is therefore `Cache-Control: no-cache` with a
//! strong `ETag` (the first 128 bits of the file's SHA-256, which rust-embed computes at build
//! time): the browser keeps its copy and revalidates it, and an unchanged file costs one 304 with
//! no body. `index.html` links every module with `modulepreload`, so those revalidations run in
//! parallel instead of one import depth at a time. Where the browser has a service worker
//! (`sw.js`, secure contexts only), it serves the shell from its own cache; `sw.js` gets
//! [`ui_version`] (a digest of every embedded file) written into it, so any change to any UI
//! file changes `sw.js`, which makes the browser install the new worker and drop the old cache.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "$OUT_DIR/ui/"]
struct Assets;

/// The placeholder in `static/sw.js` that [`asset`] replaces with [`ui_version`].
const VERSION_PLACEHOLDER: &str = "__NATTER_UI_VERSION__";

/// `GET /` and the UI's files; anything else under no API prefix is a JSON 404.
pub async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let Some(file) = Assets::get(path) else {
        return ApiError::NotFound(format!("No route for {}.", uri.path())).into_response();
    };
    let mime = with_charset(file.metadata.mimetype());
    let (body, etag) = if path == "sw.js" {
        // Small, and rewritten per version: inflated and sent as text.
        let version = ui_version();
        let text = String::from_utf8_lossy(&inflate(&file.data)).replace(VERSION_PLACEHOLDER, &version);
        (Embedded { body: Body::from(text), gzip: false }, format!("\"{version}\""))
    } else {
        let tag = hex(&file.metadata.sha256_hash()[..16]);
        let body = embedded_body(file.data, &headers);
        // A strong ETag names one representation: the inflated one gets its own.
        let etag = if body.gzip { format!("\"{tag}\"") } else { format!("\"{tag}-i\"") };
        (body, etag)
    };
    let not_modified = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|list| {
        list.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag || tag.trim() == "*")
    });
    let gzip = body.gzip;
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = body.body.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, header_value(&mime));
        if gzip {
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let out = response.headers_mut();
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(header::ETAG, header_value(&etag));
    out.insert(header::CONTENT_SECURITY_POLICY, header_value(&content_security_policy(request_host(&uri, &headers))));
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// An embedded file's body, and whether it is the gzipped bytes.
pub(crate) struct Embedded {
    pub body: Body,
    pub gzip: bool,
}

/// The body for an embedded (gzipped) file: as it is when the request accepts gzip, else
/// inflated (a client that says nothing about encodings, curl without `--compressed`, …).
pub(crate) fn embedded_body(gzipped: std::borrow::Cow<'static, [u8]>, headers: &HeaderMap) -> Embedded {
    if accepts_gzip(headers) {
        Embedded { body: Body::from(gzipped), gzip: true }
    } else {
        Embedded { body: Body::from(inflate(&gzipped)), gzip: false }
    }
}

/// Whether `Accept-Encoding` names gzip (or `*`) without `q=0`.
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts
                .any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        },
    )
}

/// The bytes build.rs gzipped. They were made by this build, so they always inflate; an empty
/// body would be a bug, not input.
pub(crate) fn inflate(gzipped: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::with_capacity(gzipped.len() * 4);
    if let Err(e) = flate2::read::GzDecoder::new(gzipped).read_to_end(&mut out) {
        tracing::error!(error = %e, "an embedded file does not inflate");
    }
    out
}

/// The policy for the UI's files; `host` (already checked by [`request_host`]) adds its
/// WebSocket origins.
pub fn content_security_policy(host: Option<&str>) -> String {
    let sockets = host.map(|h| format!(" ws://{h} wss://{h}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         media-src 'self' blob:; font-src 'self'; connect-src 'self'{sockets}; worker-src 'self'; \
         manifest-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'self'"
    )
}

/// The `Host` the browser asked for (HTTP/2: the URI's authority), if it is a plain
/// `host[:port]` that can go into a header unescaped; anything else gets no WebSocket origins.
pub(crate) fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    let host =
        headers.get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()))?;
    let plain = !host.is_empty()
        && host.len() <= 261
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then_some(host)
}

/// Whether `url` (`scheme://host[:port]...`) names this machine only: `localhost` (or a name
/// under it), an IPv4 loopback address or `[::1]`.
pub fn is_loopback_host(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(host, _)| host)
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A digest of every embedded file (names and contents): it changes whenever any UI file does.
/// Release builds compute it once; debug builds, which read `static/` from disk, every time.
pub fn ui_version() -> String {
    #[cfg(not(debug_assertions))]
    {
        static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        VERSION.get_or_init(compute_ui_version).clone()
    }
    #[cfg(debug_assertions)]
    compute_ui_version()
}

fn compute_ui_version() -> String {
    // FNV-1a over each name and its SHA-256: a cache tag, not a security boundary.
    let mut names: Vec<_> = Assets::iter().collect();
    names.sort();
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for name in names {
        let Some(file) = Assets::get(&name) else { continue };
        for byte in name.as_bytes().iter().chain(file.metadata.sha256_hash().iter()) {
            digest ^= u64::from(*byte);
            digest = digest.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{digest:016x}")
}

/// Text types say they are UTF-8 (the files are), so no browser has to guess.
fn with_charset(mime: &str) -> String {
    let text = mime.starts_with("text/")
        || matches!(
            mime,
            "application/javascript" | "application/json" | "application/manifest+json" | "image/svg+xml"
        );
    if text && !mime.contains("charset") { format!("{mime}; charset=utf-8") } else { mime.to_string() }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every value passed here is built from checked ASCII; a failure would be a bug, not input.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_sent_when_accepted() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
        assert!(!with("br, zstd"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_embedded_file_inflates_to_its_source() {
        for name in Assets::iter() {
            let file = Assets::get(&name).unwrap();
            let source = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static").join(&*name));
            assert_eq!(inflate(&file.data), source.unwrap(), "{name}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for url in [
            "http://localhost:8000",
            "http://LOCALHOST",
            "http://127.0.0.1:8000/x",
            "http://127.1.2.3",
            "http://[::1]:8000",
            "http://app.localhost:8000",
        ] {
            assert!(is_loopback_host(url), "{url}");
        }
        for url in [
            "http://192.168.1.5:8000",
            "https://chat.example.org",
            "http://[fd00::1]:8000",
            "http://localhost.example.org",
        ] {
            assert!(!is_loopback_host(url), "{url}");
        }
    }

    #[test]
    fn hosts_that_could_inject_into_the_policy_are_dropped() {
        let uri: Uri = "/".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("192.168.1.5:8000"));
        assert_eq!(request_host(&uri, &headers), Some("192.168.1.5:8000"));
        headers.insert(header::HOST, HeaderValue::from_static("[::1]:8000"));
        assert_eq!(request_host(&uri, &headers), Some("[::1]:8000"));
        headers.insert(header::HOST, HeaderValue::from_static("evil; script-src *"));
        assert_eq!(request_host(&uri, &headers), None);
        assert!(!content_security_policy(None).contains("ws:"));
    }

    #[test]
    fn the_service_worker_has_its_placeholder() {
        let sw = Assets::get("sw.js").expect("static/sw.js exists");
        assert!(String::from_utf8_lossy(&inflate(&sw.data)).contains(VERSION_PLACEHOLDER));
    }
}

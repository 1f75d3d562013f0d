//! The web UI's files as the server serves them: security headers (only on the UI, not on
//! `/media` or the API), caching that revalidates, the service worker's version stamp, and the
//! shell's own rules (no inline code, every module preloaded and cached, no HTML from strings).

use std::path::{Path, PathBuf};

use reqwest::Method;
use reqwest::header::{self, HeaderMap};
use serde_json::Value;

use crate::common;
use crate::common::chat::upload_ok;

async fn fetch(server: &common::TestServer, path: &str) -> (u16, HeaderMap, Vec<u8>) {
    let response = server.request(Method::GET, path, None).send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.expect("body").to_vec())
}

fn get<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The policy's directives as (name, sources) pairs.
fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace().map(str::to_string);
            Some((words.next()?, words.collect()))
        })
        .collect()
}

fn sources<'a>(policy: &'a [(String, Vec<String>)], name: &str) -> &'a [String] {
    policy
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.as_slice())
        .unwrap_or_else(|| panic!("no {name} in the policy"))
}

#[tokio::test]
async fn ui_files_carry_a_strict_policy_and_safe_headers() {
    let server = common::spawn().await;
    let host = server.addr.to_string();
    for path in
        ["/", "/index.html", "/app.css", "/js/main.js", "/vendor/socket.io.esm.min.js", "/vendor/preact.mjs", "/sw.js"]
    {
        let (status, headers, _) = fetch(&server, path).await;
        assert_eq!(status, 200, "{path}");
        let csp = get(&headers, "content-security-policy");
        let policy = directives(csp);
        assert_eq!(sources(&policy, "default-src"), ["'self'"], "{path}: {csp}");
        assert_eq!(sources(&policy, "script-src"), ["'self'"], "{path}: no inline or eval'd scripts: {csp}");
        assert_eq!(sources(&policy, "style-src"), ["'self'"], "{path}: {csp}");
        assert_eq!(sources(&policy, "img-src"), ["'self'", "blob:", "data:"], "{path}: {csp}");
        assert_eq!(sources(&policy, "media-src"), ["'self'", "blob:"], "{path}: {csp}");
        let connect = sources(&policy, "connect-src");
        assert_eq!(connect, ["'self'".to_string(), format!("ws://{host}"), format!("wss://{host}")], "{path}: {csp}");
        assert_eq!(sources(&policy, "frame-ancestors"), ["'none'"], "{path}: {csp}");
        assert_eq!(sources(&policy, "base-uri"), ["'none'"], "{path}: {csp}");
        assert_eq!(sources(&policy, "form-action"), ["'self'"], "{path}: {csp}");
        assert_eq!(sources(&policy, "object-src"), ["'none'"], "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(get(&headers, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get(&headers, "referrer-policy"), "same-origin", "{path}");
        assert_eq!(get(&headers, "x-frame-options"), "DENY", "{path}");
        // Never stale after an upgrade: always revalidated, cheaply, by a strong ETag.
        assert_eq!(get(&headers, "cache-control"), "no-cache", "{path}");
        let etag = get(&headers, "etag");
        assert!(etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'), "{path}: ETag {etag:?}");
    }
    let (_, page, _) = fetch(&server, "/").await;
    assert_eq!(get(&page, "content-type"), "text/html; charset=utf-8");
    for module in ["/js/main.js", "/vendor/preact.mjs", "/vendor/socket.io.esm.min.js"] {
        let (_, headers, _) = fetch(&server, module).await;
        let kind = get(&headers, "content-type");
        assert!(kind.contains("javascript"), "{module} must be served as JavaScript for a module script: {kind}");
    }
}

#[tokio::test]
async fn an_unchanged_file_costs_a_304_without_a_body() {
    let server = common::spawn().await;
    for path in ["/", "/js/store.js", "/vendor/htm.mjs", "/sw.js"] {
        let (_, headers, body) = fetch(&server, path).await;
        assert!(!body.is_empty());
        let etag = get(&headers, "etag").to_string();
        let again = server
            .request(Method::GET, path, None)
            .header(header::IF_NONE_MATCH, format!("W/{etag}, \"something-else\""))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{path}");
        assert_eq!(get(again.headers(), "etag"), etag, "{path}");
        assert!(get(again.headers(), "content-security-policy").contains("default-src 'self'"), "{path}");
        assert!(again.bytes().await.unwrap().is_empty(), "{path}: a 304 has no body");
        let stale =
            server.request(Method::GET, path, None).header(header::IF_NONE_MATCH, "\"old\"").send().await.unwrap();
        assert_eq!(stale.status().as_u16(), 200, "{path}: another version gets the file");
    }
}

#[tokio::test]
async fn the_service_worker_carries_the_ui_version() {
    let server = common::spawn().await;
    let (_, headers, body) = fetch(&server, "/sw.js").await;
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("__NATTER_UI_VERSION__"), "the placeholder is replaced");
    let version = natter::transport::web::ui_version();
    assert_eq!(version.len(), 16);
    assert!(text.contains(&format!("const VERSION = '{version}';")), "sw.js names the UI version");
    assert_eq!(get(&headers, "etag"), format!("\"{version}\""));
}

#[tokio::test]
async fn a_host_that_is_not_a_plain_host_gets_no_socket_origins() {
    let server = common::spawn().await;
    let response =
        server.request(Method::GET, "/", None).header(header::HOST, "evil.example; script-src *").send().await.unwrap();
    let csp = get(response.headers(), "content-security-policy").to_string();
    let policy = directives(&csp);
    assert_eq!(sources(&policy, "connect-src"), ["'self'"], "{csp}");
    assert_eq!(sources(&policy, "script-src"), ["'self'"], "{csp}");
}

#[tokio::test]
async fn media_and_the_api_keep_their_own_headers() {
    let server = common::spawn().await;
    let (token, _) = server.signup("alice").await;
    let png = std::fs::read(static_dir().join("icons/icon-192.png")).unwrap();
    let attachment = upload_ok(&server, &token, png, "a.png").await;
    let (status, headers, _) = fetch(&server, attachment["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(get(&headers, "content-security-policy"), "sandbox", "media keeps its own policy");
    let (_, headers, _) = fetch(&server, "/healthz").await;
    assert!(headers.get("content-security-policy").is_none(), "the API is not the UI");
    let (status, headers, _) = fetch(&server, "/no-such-file.js").await;
    assert_eq!(status, 404);
    assert!(get(&headers, "content-type").starts_with("application/json"));
}

#[tokio::test]
async fn the_manifest_and_its_icons_are_served() {
    let server = common::spawn().await;
    let (status, headers, body) = fetch(&server, "/manifest.webmanifest").await;
    assert_eq!(status, 200);
    assert!(get(&headers, "content-type").starts_with("application/manifest+json"));
    let manifest: Value = serde_json::from_slice(&body).expect("the manifest is JSON");
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().expect("icons");
    assert!(icons.iter().any(|i| i["purpose"] == "maskable"), "a maskable icon for Android");
    for icon in icons {
        let (status, _, _) = fetch(&server, &format!("/{}", icon["src"].as_str().unwrap())).await;
        assert_eq!(status, 200, "{icon}");
    }
    let (status, _, _) = fetch(&server, "/favicon.ico").await;
    assert_eq!(status, 200);
}

fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
}

/// Every .js/.mjs file under `dir`, as paths relative to static/.
fn modules(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(&path, out);
        } else if path.extension().is_some_and(|e| e == "js" || e == "mjs") {
            out.push(path.strip_prefix(static_dir()).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn the_shell_has_no_inline_code_and_names_every_module() {
    let index = std::fs::read_to_string(static_dir().join("index.html")).unwrap();
    let sw = std::fs::read_to_string(static_dir().join("sw.js")).unwrap();
    for (at, _) in index.match_indices("<script") {
        let tag = &index[at..at + index[at..].find('>').unwrap()];
        assert!(tag.contains(" src="), "an inline script would break the policy: {tag}");
    }
    assert!(!index.contains(" style="), "no inline styles");
    let handlers = index.match_indices(" on").any(|(at, _)| {
        let rest = &index[at + 3..];
        let name = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        name > 0 && rest[name..].starts_with('=')
    });
    assert!(!handlers, "no inline event handlers");
    let mut all = Vec::new();
    modules(&static_dir().join("js"), &mut all);
    modules(&static_dir().join("vendor"), &mut all);
    assert!(all.len() > 10, "{all:?}");
    for module in &all {
        let preloaded = index.contains(&format!("<link rel=\"modulepreload\" href=\"{module}\">"));
        let entry = index.contains(&format!("<script type=\"module\" src=\"{module}\">"));
        assert!(preloaded || entry, "index.html loads or preloads {module}");
        assert!(sw.contains(&format!("'{module}'")), "sw.js caches {module}");
    }
}

#[test]
fn user_content_is_never_parsed_as_html() {
    let mut own = Vec::new();
    modules(&static_dir().join("js"), &mut own);
    for module in own {
        let code = std::fs::read_to_string(static_dir().join(&module)).unwrap();
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "dangerouslySetInnerHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!code.contains(banned), "{module} uses {banned}");
        }
    }
}

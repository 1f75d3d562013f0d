//! Decoder harnesses: one function per family of input decoders that feeds it arbitrary bytes
//! and checks what must hold whatever the input. A violated property panics (that is how a
//! fuzzer reports it).
//!
//! Shared by the property tests (`tests/it/fuzz_props.rs`, run in CI on stable) and the cargo-fuzz
//! targets (`fuzz/fuzz_targets/*.rs`, run by `benches/fuzz.sh` on nightly), so both check the
//! same properties, and the targets' bodies are compiled and exercised on stable with the
//! library itself. The properties:
//!
//! - **never panics** on any input;
//! - **accepted input satisfies the documented bounds** (a history `limit` within 1–200, ids
//!   positive, a byte range inside the file, a sanitized filename without separators or control
//!   characters, …);
//! - **rejected input gets the SPEC error**: text that is not JSON is 400 `invalid_json`, every
//!   other decoding error is 422 `validation_error` naming the offending field, and every
//!   rejection renders the SPEC body (`detail`, `code`, and `fields` for a 422).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::config;
use crate::error::ApiError;
use crate::input::{self, AccountChange, Edit, NewAccount, NewInvite, NewRoom, Username};
use crate::storage::media_folder::{self, AllowedMedia, MediaKind, TextCheck};
use crate::transport::api::errors::HttpStatus;
use crate::transport::api::media::{ByteRange, content_disposition, parse_range};

/// The longest a duration flag may be (100 years): longer ones overflow the clocks they are
/// added to (`Instant::now() + d`, a token's `iat + ttl`).
pub const MAX_DURATION_SECS: u64 = config::MAX_DURATION_SECS;

/// Check an error's rendering: one of `codes`, a 4xx status matching the code, and the SPEC body
/// (a non-empty `detail`; a 422 names at least one field).
#[track_caller]
pub fn assert_spec_error(error: &ApiError, codes: &[&str]) {
    let code = error.code();
    assert!(codes.contains(&code), "unexpected error code {code} (expected one of {codes:?}): {error:?}");
    let expected_status = match code {
        "invalid_json" => 400,
        "unauthorized" => 401,
        "forbidden" => 403,
        "not_found" => 404,
        "payload_too_large" => 413,
        "unsupported_media_type" => 415,
        "validation_error" => 422,
        other => panic!("a decoder produced the error code {other}: {error:?}"),
    };
    assert_eq!(error.status().as_u16(), expected_status, "{error:?}");
    let body = error.body();
    assert_eq!(body["code"], code);
    assert!(body["detail"].as_str().is_some_and(|d| !d.trim().is_empty()), "empty detail: {body}");
    if code == "validation_error" {
        let fields = body["fields"].as_object().expect("a 422 has `fields`");
        assert!(!fields.is_empty(), "a 422 names a field: {body}");
        assert!(fields.values().all(|p| p.as_str().is_some_and(|p| !p.is_empty())), "{body}");
    } else {
        assert!(body.get("fields").is_none(), "only 422 and 409 carry fields: {body}");
    }
}

/// Whether `bytes` is a body `input::parse_json` should call JSON (empty or blank is `{}`).
fn is_json_text(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace) || serde_json::from_slice::<Value>(bytes).is_ok()
}

/// One JSON request type: not JSON → 400 `invalid_json`; JSON → decoded or 422. What decodes is
/// handed to `then` (the checks that follow decoding: `into_login`, `uses`, …).
#[track_caller]
fn json_type<T: DeserializeOwned>(bytes: &[u8], then: impl FnOnce(T)) {
    match input::parse_json::<T>(bytes) {
        Ok(value) => {
            assert!(is_json_text(bytes), "accepted a body that is not JSON");
            then(value);
        }
        Err(e) if is_json_text(bytes) => assert_spec_error(&e, &["validation_error"]),
        Err(e) => assert_spec_error(&e, &["invalid_json"]),
    }
}

/// Every JSON request body natter decodes (signup, login, rooms, members, private chats,
/// messages, edits, read markers, invites, account changes), fed `bytes`.
pub fn json_bodies(bytes: &[u8]) {
    json_type::<NewAccount>(bytes, |account| {
        // The rules the accounts use case applies next: never a panic, on any text.
        let _ = crate::input::validate::username(&account.username);
        if crate::input::validate::email(&account.email).is_ok() {
            assert_eq!(account.email.trim().matches('@').count(), 1, "{:?}", account.email);
        }
        if crate::input::validate::password(&account.password).is_ok() {
            assert!((8..=128).contains(&account.password.chars().count()));
        }
    });
    json_type::<input::LoginForm>(bytes, |form| match form.into_login() {
        Ok(login) => assert!(!login.login.is_empty() && !login.password.is_empty()),
        Err(e) => assert_spec_error(&e, &["validation_error"]),
    });
    json_type::<NewRoom>(bytes, |room| {
        let _ = crate::input::validate::text_length(room.name.trim(), 1, 100);
    });
    json_type::<Username>(bytes, |_| {});
    json_type::<input::PostBody>(bytes, |body| {
        let post = body.into_post(1);
        assert_eq!(post.room_id, 1);
    });
    json_type::<Edit>(bytes, |_| {});
    json_type::<input::ReadBody>(bytes, |body| match body.message_id() {
        Ok(id) => assert!(id > 0),
        Err(e) => assert_spec_error(&e, &["validation_error"]),
    });
    json_type::<AccountChange>(bytes, |_| {});
    json_type::<NewInvite>(bytes, |invite| {
        match invite.uses() {
            Ok(uses) => assert!((1..=10_000).contains(&uses)),
            Err(e) => assert_spec_error(&e, &["validation_error"]),
        }
        match invite.ttl() {
            Ok(ttl) => assert!((1..=MAX_DURATION_SECS).contains(&ttl.as_secs()), "{ttl:?}"),
            Err(e) => assert_spec_error(&e, &["validation_error"]),
        }
    });
    // The OAuth2 form body of `/auth/token`: the same login, form-encoded.
    match input::from_form::<input::LoginForm>(bytes) {
        Ok(form) => match form.into_login() {
            Ok(login) => assert!(!login.login.is_empty() && !login.password.is_empty()),
            Err(e) => assert_spec_error(&e, &["validation_error"]),
        },
        Err(e) => assert_spec_error(&e, &["validation_error"]),
    }
}

/// The query strings: history (`limit`, `before`, `after`), message search (`q`, `room_id`,
/// `before`, `limit`), user search (`q`), and the path ids, fed `bytes`.
pub fn queries(bytes: &[u8]) {
    match input::from_form::<input::HistoryQuery>(bytes).and_then(input::HistoryQuery::into_history) {
        Ok(history) => {
            assert!((1..=crate::input::MAX_HISTORY_PAGE).contains(&history.limit), "{history:?}");
            assert!(history.before.is_none_or(|b| b >= 1), "{history:?}");
            assert!(history.after.is_none_or(|a| a >= 0), "{history:?}");
        }
        Err(e) => {
            assert_spec_error(&e, &["validation_error"]);
            let body = e.body();
            let field = body["fields"].as_object().and_then(|f| f.keys().next().cloned()).unwrap_or_default();
            assert!(["limit", "before", "after", "body"].contains(&field.as_str()), "{body}");
        }
    }
    match input::from_form::<input::MessageSearchQuery>(bytes).and_then(input::MessageSearchQuery::into_search) {
        Ok(search) => {
            assert!((1..=crate::input::MAX_SEARCH_PAGE).contains(&search.limit), "{search:?}");
            assert!(search.room_id.is_none_or(|r| r >= 1) && search.before.is_none_or(|b| b >= 1), "{search:?}");
        }
        Err(e) => {
            assert_spec_error(&e, &["validation_error"]);
            let body = e.body();
            let field = body["fields"].as_object().and_then(|f| f.keys().next().cloned()).unwrap_or_default();
            assert!(["q", "limit", "room_id", "before", "body"].contains(&field.as_str()), "{body}");
        }
    }
    match input::from_form::<input::SearchQuery>(bytes) {
        Ok(query) => {
            let prefix = query.prefix();
            assert_eq!(prefix.trim(), prefix);
        }
        Err(e) => assert_spec_error(&e, &["validation_error"]),
    }
    // The same bytes as a path segment (axum has percent-decoded it by then).
    let text = String::from_utf8_lossy(bytes);
    match input::path_id(&text, "Room") {
        Ok(id) => assert!(id > 0, "{text:?} → {id}"),
        Err(e) => assert_spec_error(&e, &["not_found"]),
    }
}

/// Canonical ids: a path id is accepted only as the decimal digits of a positive integer,
/// without sign, blanks or leading zeros (`01`, `+1`, ` 1` are unknown resources). Known to fail
/// before the issue-14 input branch; kept out of [`queries`] until then.
pub fn path_id_is_canonical(text: &str) {
    if let Ok(id) = input::path_id(text, "Room") {
        assert_eq!(id.to_string(), text, "a non-canonical id was accepted");
    }
}

/// Socket.IO event payloads: `bytes` as the JSON data of `chat_message`, `typing`, `mark_read`
/// and `get_online_users` (an undecodable payload included).
pub fn socket_events(bytes: &[u8]) {
    let data: Result<Value, String> = serde_json::from_slice(bytes).map_err(|e| e.to_string());
    socket_event_value(data);
}

/// The same, for a payload already decoded (or that failed to decode with the given error).
pub fn socket_event_value(data: Result<Value, String>) {
    let was_object = matches!(data, Ok(Value::Object(_)));
    let map = match input::event_payload(data) {
        Ok(map) => {
            assert!(was_object);
            map
        }
        Err(e) => {
            assert!(!was_object);
            return assert_spec_error(&e, &["validation_error"]);
        }
    };
    let named_room = || map.get("room_id").or_else(|| map.get("room"));
    match input::event_room(&map) {
        Ok(room) => {
            assert!(room > 0);
            assert!(named_room().is_some());
        }
        Err(e) => assert_spec_error(&e, &["validation_error"]),
    }
    match input::chat_message_event(map.clone()) {
        Ok(post) => {
            assert!(post.room_id > 0);
            // `content` wins over its older name `message`.
            let expected = map.get("content").or_else(|| map.get("message")).and_then(Value::as_str).unwrap_or("");
            assert_eq!(post.content, expected);
            assert_eq!(post.client_id.as_deref(), map.get("client_id").and_then(Value::as_str));
        }
        Err(e) => assert_spec_error(&e, &["validation_error"]),
    }
    match input::typing_event(&map) {
        Ok((room, typing)) => {
            assert!(room > 0);
            assert_eq!(typing, map.get("typing").and_then(Value::as_bool).unwrap_or(true));
        }
        Err(e) => assert_spec_error(&e, &["validation_error"]),
    }
    match input::mark_read_event(&map) {
        Ok(marker) => assert!(marker.room_id > 0 && marker.message_id > 0),
        Err(e) => assert_spec_error(&e, &["validation_error"]),
    }
}

/// `Range` against a file of `size` bytes: never panics; a part lies inside the file.
pub fn range(header: &str, size: u64) {
    match parse_range(header, size) {
        ByteRange::Part { start, end } => assert!(start <= end && end < size, "{header:?} of {size}: {start}-{end}"),
        ByteRange::Whole | ByteRange::Unsatisfiable => {}
    }
}

/// RFC 9110 §14.1.2 for one well-formed `bytes=FIRST-LAST` (digit strings of any length, LAST
/// may be empty, FIRST ≤ LAST): a last position past the end is clamped to it, and a first
/// position at or past the end is 416, however many digits either has. Known to fail before the
/// issue-14 input branch (numbers beyond u64 fall back to the whole file).
pub fn range_is_clamped(first: &str, last: &str, size: u64) {
    let header = format!("bytes={first}-{last}");
    // `None`: a number beyond u64, so past the end of every file.
    let value = |digits: &str| -> Option<u64> {
        let significant = digits.trim_start_matches('0');
        if significant.is_empty() { Some(0) } else { significant.parse().ok() }
    };
    let start = value(first);
    let expected = match start {
        Some(start) if start < size => {
            let end = if last.is_empty() { size - 1 } else { value(last).map_or(size - 1, |e| e.min(size - 1)) };
            ByteRange::Part { start, end }
        }
        _ => ByteRange::Unsatisfiable,
    };
    assert_eq!(parse_range(&header, size), expected, "{header} of a {size}-byte file");
}

/// An upload's bytes, `bytes`, as the upload decoder sees them: the type sniffed from the first
/// 8 KiB, and the plain-text check fed in the chunks `cuts` splits it into, which must agree
/// with checking the whole file at once. Also the client's filename `bytes` names.
pub fn upload(bytes: &[u8], cuts: &[usize]) {
    let head = &bytes[..bytes.len().min(media_folder::HEAD_LEN)];
    let _ = media_folder::sniff_binary(head);
    let _ = media_folder::describe_type(head);
    let mut check = TextCheck::default();
    let mut at = 0;
    for &cut in cuts {
        let cut = cut.min(bytes.len()).max(at);
        check.feed(&bytes[at..cut]);
        at = cut;
    }
    check.feed(&bytes[at..]);
    let whole = match std::str::from_utf8(bytes) {
        Err(_) => Err(media_folder::NotText::Binary),
        Ok(text) if text.contains('\0') => Err(media_folder::NotText::Binary),
        Ok(text) => match text.chars().find(|c| !c.is_whitespace() && *c != '\u{FEFF}') {
            Some('<') => Err(media_folder::NotText::Markup),
            _ => Ok(()),
        },
    };
    // Accepted or refused alike; the reason may differ (a `<` seen before an invalid byte in a
    // later chunk is `Markup`, the whole file at once `Binary`: both a 415, found by cargo-fuzz).
    assert_eq!(
        check.finish().is_ok(),
        whole.is_ok(),
        "chunked text check disagrees with the whole-file check; cuts {cuts:?}: {:?} vs {whole:?}",
        check.finish()
    );
    filename(&String::from_utf8_lossy(bytes));
}

/// Image bytes through the metadata removal, read as each of its formats, as they are and after
/// that format's signature (so the walk goes past it): never panics or spins; the result is no
/// larger than the input, has the size the first pass planned (reading through a 7-byte buffer
/// changes nothing), and has nothing left to remove (a second pass keeps it as it is, so no
/// metadata block survives). Bytes that do not start with the signature are kept as they are.
pub fn image_metadata(bytes: &[u8]) {
    use crate::storage::image_metadata::{self, Format};
    let riff = |bytes: &[u8]| {
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&u32::try_from(bytes.len() + 4).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(b"WEBP");
        out.extend_from_slice(bytes);
        out
    };
    for (format, signed) in [
        (Format::Jpeg, [&[0xFF, 0xD8][..], bytes].concat()),
        (Format::Png, [&b"\x89PNG\r\n\x1a\n"[..], bytes].concat()),
        (Format::Webp, riff(bytes)),
    ] {
        for image in [bytes, &signed[..]] {
            let plan = image_metadata::plan(format, image).expect("reading memory cannot fail");
            let mut out = Vec::new();
            let small = std::io::BufReader::with_capacity(7, image);
            image_metadata::write(format, &plan, small, &mut out).expect("the second pass writes the plan");
            assert_eq!(out.len() as u64, plan.size(), "{format:?}: planned size");
            assert!(out.len() <= image.len(), "{format:?}: the result grew: {image:?}");
            assert_eq!(plan.changed(), out != image, "{format:?}: `changed` is wrong for {image:?}");
            let again = image_metadata::plan(format, &out[..]).expect("reading memory cannot fail");
            assert!(!again.changed(), "{format:?}: a second pass changes {out:?} (from {image:?})");
        }
        let plain = image_metadata::strip(format, bytes).expect("reading memory cannot fail");
        let starts_signed = match format {
            Format::Jpeg => bytes.starts_with(&[0xFF, 0xD8]),
            Format::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            Format::Webp => bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
        };
        if !starts_signed {
            assert_eq!(plain, bytes, "{format:?}: bytes without its signature are kept as they are");
        }
    }
}

/// A client's upload filename: sanitized to a last path component without control characters,
/// at most 255 bytes, never empty, `.` or `..`; sanitizing again changes nothing; and its
/// `Content-Disposition` is always a valid header value.
pub fn filename(name: &str) {
    let clean = crate::input::validate::clean_filename(name);
    assert!(!clean.is_empty() && clean != "." && clean != "..", "{name:?} → {clean:?}");
    assert!(clean.len() <= 255, "{name:?} → {} bytes", clean.len());
    assert!(!clean.contains(['/', '\\']), "{name:?} → {clean:?}");
    assert!(!clean.chars().any(char::is_control), "{name:?} → {clean:?}");
    assert_eq!(clean.trim(), clean, "{name:?} → {clean:?}");
    assert_eq!(crate::input::validate::clean_filename(&clean), clean, "sanitizing is not idempotent for {name:?}");
    for inline in [true, false] {
        let header = content_disposition(inline, &clean);
        assert!(axum::http::HeaderValue::from_str(&header).is_ok(), "{header:?} is not a header value");
    }
    if let Some(kind) = media_folder::parse_stored_name(name) {
        assert_eq!(name.len(), 33 + kind.extension().len(), "{name:?}");
    }
}

/// Bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C) are stripped from filenames,
/// so `invoice\u{202E}fdp.exe` cannot pose as `invoiceexe.pdf`. Known to fail before the
/// issue-14 input branch.
pub fn filename_has_no_bidi_controls(name: &str) {
    let clean = crate::input::validate::clean_filename(name);
    let bidi =
        |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}');
    assert!(!clean.chars().any(bidi), "{name:?} → {clean:?} keeps a bidi control");
}

/// The value parsers of the flags, fed `text`: durations, sizes, rates, public URLs and the
/// media allow-list. Never a panic; an accepted value means what its text says and stays
/// usable (a duration at most [`MAX_DURATION_SECS`]).
pub fn flag_values(text: &str) {
    if let Ok(duration) = config::parse_duration(text) {
        assert!(duration.as_secs() <= MAX_DURATION_SECS, "{text:?} → {duration:?}");
        let digits: String = text.trim().chars().take_while(char::is_ascii_digit).collect();
        assert!(!digits.is_empty(), "{text:?} accepted without a number");
    }
    if let Ok(size) = config::parse_size(text) {
        let digits: String = text.trim().chars().take_while(char::is_ascii_digit).collect();
        let n: u64 = digits.parse().expect("an accepted size starts with its number");
        assert!(size >= n && (n == 0 || size % n == 0), "{text:?} → {size}");
    }
    if let Ok(rate) = config::parse_rate(text) {
        assert!(rate.is_unlimited() || !rate.per.is_zero(), "{text:?} → {rate:?}");
        assert!(rate.per.as_secs() <= MAX_DURATION_SECS, "{text:?} → {rate:?}");
    }
    if let Ok(url) = config::parse_public_url(text) {
        assert!(url.starts_with("http://") || url.starts_with("https://"), "{text:?} → {url}");
        assert!(!url.ends_with('/') && !url.contains(['?', '#', '"', '<', '>', ' ']), "{text:?} → {url}");
    }
    if let Ok(allowed) = AllowedMedia::parse(text) {
        for kind in MediaKind::ALL {
            let named = text.split(',').any(|n| n.trim().eq_ignore_ascii_case(kind.name()));
            assert_eq!(allowed.allows(kind), named, "{text:?}, {kind:?}");
        }
    }
    // Through clap, as `natter serve --FLAG text` would be: a clean error, never a panic.
    for flag in ["--token-ttl", "--max-upload", "--auth-rate", "--public-url", "--allowed-media", "--db-readers"] {
        let _ = <config::Cli as clap::Parser>::try_parse_from(["natter", flag, text]);
    }
}

/// A JSON value made of `bytes`, when they are JSON (for the fuzz targets' use).
pub fn json_value(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// A JSON object from pairs (for the property tests' use).
pub fn object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

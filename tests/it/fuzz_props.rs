//! Property tests over every input decoder (fuzzing): REST bodies, query strings and
//! path ids, Socket.IO event payloads, uploads (the type and text checks, filenames, multipart
//! through the live server), `Range` headers, and the values of the flags.
//!
//! The properties live in `natter::fuzzing`, shared with the cargo-fuzz targets in `fuzz/`;
//! here proptest feeds them both raw bytes and inputs shaped like what clients send (JSON with
//! the real field names, numbers around the bounds), and checks round trips. Then the live
//! server gets arbitrary JSON bodies, query strings, uploads and socket payloads: no 5xx, and
//! every error with the SPEC body and the code its status implies.
//!
//! Case counts are kept moderate (a few seconds per property in a debug build); set
//! `PROPTEST_CASES` to run more.

use std::time::Duration;

use natter::fuzzing;
use natter::input;
use natter::storage::image_metadata::{self, Format};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::common;
use crate::common::chat::{UPLOAD, upload_request};
use crate::common::{crc32, sio};

/// Cases per property: `PROPTEST_CASES`, else `default`.
fn cases(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default);
    Config { cases, failure_persistence: None, ..Config::default() }
}

// ---- generators ----

/// Every field name a natter decoder reads, so that generated objects hit real fields.
const FIELDS: &[&str] = &[
    "username",
    "email",
    "password",
    "full_name",
    "invite",
    "name",
    "members",
    "content",
    "message",
    "attachment_id",
    "client_id",
    "reply_to",
    "message_id",
    "room_id",
    "room",
    "typing",
    "uses",
    "expires_in",
    "disabled",
    "is_admin",
    "limit",
    "before",
    "after",
    "q",
];

/// Text with what breaks decoders: ASCII, blanks, controls, quotes, `%`, `+`, `&`, `=`, bidi
/// controls, a BOM, astral characters, and digits.
fn text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        6 => proptest::char::range('a', 'z'),
        3 => proptest::char::range('0', '9'),
        2 => prop::sample::select(vec![' ', '\t', '\n', '\0', '"', '\\', '%', '+', '-', '&', '=', '@', '.', '/', '<', ',', ':']),
        1 => prop::sample::select(vec!['\u{202E}', '\u{FEFF}', 'é', '日', '😀', '\u{7f}', '\u{2028}']),
        1 => any::<char>(),
    ];
    prop::collection::vec(chars, 0..24).prop_map(|c| c.into_iter().collect())
}

/// Numbers around every bound natter checks.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![-1i64, 0, 1, 2, 20, 49, 50, 51, 199, 200, 201, 10_000, 10_001, i64::MAX, i64::MIN])
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

/// Arbitrary JSON, objects keyed mostly by real field names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf =
        prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number(), text().prop_map(Value::String),];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..6).prop_map(fuzzing::object),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(FIELDS).prop_map(str::to_string), 1 => text()]
}

/// A JSON object of real fields with arbitrary values.
fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((field_name(), json_value()), 0..6).prop_map(fuzzing::object)
}

/// A query-string value: integers around the bounds as text, or arbitrary text.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["0", "1", "50", "200", "201", "-1", "+5", " 7", "1e3", "", "9223372036854775808"])
            .prop_map(str::to_string),
        any::<i64>().prop_map(|n| n.to_string()),
        text(),
    ]
}

/// `application/x-www-form-urlencoded` for `s`: everything but unreserved characters escaped.
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query_string(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect::<Vec<_>>().join("&")
}

/// Raw bytes, biased towards JSON-looking and header-looking text.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (json_value(), 0usize..64).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            text[..cut.min(text.len())].to_vec()
        }),
    ]
}

// ---- the decoders, called directly ----

proptest! {
    #![proptest_config(cases(512))]

    /// Every JSON request type on raw bytes and on arbitrary JSON: never a panic; not JSON →
    /// 400 `invalid_json`; JSON of the wrong shape → 422 naming a field; what decodes passes the
    /// checks that follow decoding or gets a 422.
    #[test]
    fn json_bodies_decode_or_get_the_spec_error(data in bytes()) {
        fuzzing::json_bodies(&data);
    }

    #[test]
    fn json_objects_of_real_fields_decode_or_get_a_422(body in json_object()) {
        fuzzing::json_bodies(body.to_string().as_bytes());
    }

    /// A signup body round-trips: every field arrives as sent, byte for byte.
    #[test]
    fn signup_bodies_round_trip(username in text(), email in text(), password in text(), full_name in proptest::option::of(text())) {
        let body = json!({"username": username, "email": email, "password": password, "full_name": full_name, "sender": 1});
        let account: input::NewAccount = input::parse_json(body.to_string().as_bytes()).expect("a well-typed signup decodes");
        prop_assert_eq!(account.username, username);
        prop_assert_eq!(account.email, email);
        prop_assert_eq!(account.password, password);
        prop_assert_eq!(account.full_name, full_name);
    }

    /// A message body round-trips into the post the use case gets.
    #[test]
    fn message_bodies_round_trip(content in text(), client_id in proptest::option::of(text()), reply_to in proptest::option::of(any::<i64>()), room in 1i64..) {
        let body = json!({"content": content, "client_id": client_id, "reply_to": reply_to, "timestamp": "x"});
        let post = input::parse_json::<input::PostBody>(body.to_string().as_bytes()).expect("decodes").into_post(room);
        prop_assert_eq!(post.content, content);
        prop_assert_eq!(post.client_id, client_id);
        prop_assert_eq!(post.reply_to, reply_to);
        prop_assert_eq!(post.room_id, room);
    }

    /// Query strings and path ids on raw bytes: decoded within bounds, or a 422 naming the
    /// parameter (a bad path id: 404).
    #[test]
    fn queries_decode_within_bounds_or_get_a_422(data in bytes()) {
        fuzzing::queries(&data);
    }

    #[test]
    fn query_parameters_decode_within_bounds_or_get_a_422(pairs in prop::collection::vec((field_name(), query_value()), 0..5)) {
        fuzzing::queries(query_string(&pairs).as_bytes());
    }

    /// Percent-encoding round-trips through the query/form decoder (the last repeated key wins).
    #[test]
    fn query_strings_round_trip(pairs in prop::collection::vec((text(), text()), 0..5)) {
        let decoded: Map<String, Value> = input::from_form(query_string(&pairs).as_bytes()).expect("any pairs decode");
        let mut expected = Map::new();
        for (k, v) in &pairs {
            expected.insert(k.clone(), Value::String(v.clone()));
        }
        // An empty pair (`=`, from an empty key and value) is skipped by neither side: both keep it.
        prop_assert_eq!(decoded, expected);
    }

    /// `limit` is accepted exactly from 1 to 200, `before` from 1, `after` from 0, alone or
    /// together.
    #[test]
    fn history_bounds_are_exact(limit in proptest::option::of(-5i64..300), before in proptest::option::of(-3i64..5), after in proptest::option::of(-3i64..5)) {
        let mut pairs = Vec::new();
        if let Some(l) = limit { pairs.push(("limit".to_string(), l.to_string())); }
        if let Some(b) = before { pairs.push(("before".to_string(), b.to_string())); }
        if let Some(a) = after { pairs.push(("after".to_string(), a.to_string())); }
        let result = input::from_form::<input::HistoryQuery>(query_string(&pairs).as_bytes()).and_then(input::HistoryQuery::into_history);
        let ok = limit.is_none_or(|l| (1..=200).contains(&l))
            && before.is_none_or(|b| b >= 1)
            && after.is_none_or(|a| a >= 0);
        match result {
            Ok(history) => {
                prop_assert!(ok, "accepted {pairs:?}");
                prop_assert_eq!(history.limit, limit.unwrap_or(50));
                prop_assert_eq!(history.before, before);
                prop_assert_eq!(history.after, after);
            }
            Err(e) => {
                prop_assert!(!ok, "refused {pairs:?}: {e:?}");
                fuzzing::assert_spec_error(&e, &["validation_error"]);
            }
        }
    }

    /// Socket.IO payloads: raw bytes (undecodable ones included) and arbitrary JSON.
    #[test]
    fn socket_payloads_decode_or_get_a_422(data in bytes()) {
        fuzzing::socket_events(&data);
    }

    #[test]
    fn socket_objects_decode_or_get_a_422(payload in json_value(), object in json_object()) {
        fuzzing::socket_event_value(Ok(payload));
        fuzzing::socket_event_value(Ok(object));
    }

    /// A `chat_message` payload round-trips, under either name of each field.
    #[test]
    fn chat_message_payloads_round_trip(room in 1i64.., as_text in any::<bool>(), old_names in any::<bool>(), content in text(), client_id in proptest::option::of(text())) {
        let room_value = if as_text { Value::from(room.to_string()) } else { Value::from(room) };
        let (room_key, content_key) = if old_names { ("room", "message") } else { ("room_id", "content") };
        let payload = json!({room_key: room_value, content_key: content, "client_id": client_id});
        let Value::Object(map) = payload else { unreachable!() };
        let post = input::chat_message_event(map).expect("a well-formed chat_message decodes");
        prop_assert_eq!(post.room_id, room);
        prop_assert_eq!(post.content, content);
        prop_assert_eq!(post.client_id, client_id);
    }

    /// `Range` on any header text and file size: never a panic, a part always inside the file.
    #[test]
    fn ranges_stay_inside_the_file(header in prop_oneof![text().prop_map(|t| format!("bytes={t}")), text()], size in prop_oneof![0u64..300, any::<u64>()]) {
        fuzzing::range(&header, size);
    }

    /// Well-formed single ranges whose numbers fit in 64 bits are answered exactly per RFC 9110.
    #[test]
    fn ranges_in_u64_follow_rfc_9110(first in prop_oneof![0u64..400, any::<u64>()], length in proptest::option::of(prop_oneof![0u64..400, any::<u64>()]), size in 0u64..300) {
        let last = length.map(|l| first.saturating_add(l).to_string()).unwrap_or_default();
        fuzzing::range_is_clamped(&first.to_string(), &last, size);
    }

    /// Uploads: the type sniffing and the chunked plain-text check (which must agree with
    /// checking the whole file), and filenames.
    #[test]
    fn uploads_decode_consistently(data in prop_oneof![bytes(), text().prop_map(String::into_bytes)], cuts in prop::collection::vec(0usize..200, 0..6)) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        fuzzing::upload(&data, &cuts);
    }

    #[test]
    fn filenames_are_sanitized(name in prop_oneof![text(), any::<String>(), text().prop_map(|t| t.repeat(20))]) {
        fuzzing::filename(&name);
    }

    /// Flag values: arbitrary text, and `<number><unit>` with every unit, round-tripping.
    #[test]
    fn flag_values_parse_cleanly(value in prop_oneof![text(), any::<String>(), (any::<u64>(), prop::sample::select(vec!["", "ms", "s", "m", "min", "h", "d", "k", "KiB", "MB", "GiB", "/s", "/min", "/15min"])).prop_map(|(n, u)| format!("{n}{u}"))]) {
        fuzzing::flag_values(&value);
    }

    #[test]
    fn durations_round_trip(n in prop_oneof![0u64..100_000, 36_400u64..36_600, any::<u64>()], unit in prop::sample::select(vec![("ms", 0u64), ("s", 1), ("", 1), ("m", 60), ("min", 60), ("h", 3600), ("d", 86400)])) {
        let (suffix, seconds) = unit;
        let parsed = natter::config::parse_duration(&format!("{n}{suffix}"));
        let expected = if seconds == 0 { Some(Duration::from_millis(n)) } else { n.checked_mul(seconds).map(Duration::from_secs) };
        if let Some(expected) = expected.filter(|e| e.as_secs() <= fuzzing::MAX_DURATION_SECS) {
            prop_assert_eq!(parsed, Ok(expected));
        } else {
            prop_assert!(parsed.is_err(), "{n}{suffix} is over 100 years");
        }
    }

    #[test]
    fn sizes_round_trip(n in 0u64..1_000_000, unit in prop::sample::select(vec![("", 1u64), ("B", 1), ("KiB", 1024), ("k", 1024), ("MiB", 1 << 20), ("GiB", 1 << 30), ("kB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000)])) {
        let (suffix, factor) = unit;
        prop_assert_eq!(natter::config::parse_size(&format!("{n}{suffix}")), Ok(n * factor));
    }
}

/// Regression: a duration too long for the clocks it is added to is refused, in flags
/// (`--socket-recheck 213503982334601d` panicked `Instant::now() + d`; `--token-ttl` that long
/// wrapped `iat + ttl` to a token that had always expired) and in `expires_in`.
#[test]
fn durations_past_100_years_are_refused() {
    for text in ["36501d", "213503982334601d", "18446744073709551615", "18446744073709551615ms"] {
        assert!(natter::config::parse_duration(text).is_err(), "{text}");
        let parsed = <natter::config::Cli as clap::Parser>::try_parse_from(["natter", "--token-ttl", text]);
        assert_eq!(parsed.err().map(|e| e.kind()), Some(clap::error::ErrorKind::ValueValidation), "{text}");
    }
    for expires_in in [json!(18446744073709551615u64), json!(3153600001u64), json!("36501d"), json!("0s"), json!("0")] {
        let invite: input::NewInvite = input::from_value(json!({ "expires_in": expires_in })).expect("decodes");
        let error = invite.ttl().expect_err("refused");
        fuzzing::assert_spec_error(&error, &["validation_error"]);
    }
}

// ---- what fuzzing found (loose ids, Range past 64 bits, bidi controls) ----

proptest! {
    #![proptest_config(cases(256))]

    /// `01`, `+1` and ` 1` must not name id 1.
    #[test]
    fn path_ids_are_canonical(prefix in prop::sample::select(vec!["", "0", "00", "+", " ", "-0"]), id in 1i64.., suffix in prop::sample::select(vec!["", " ", "\t"])) {
        fuzzing::path_id_is_canonical(&format!("{prefix}{id}{suffix}"));
    }

    /// Numbers beyond 64 bits in a Range are clamped (last) or 416 (first).
    #[test]
    fn huge_ranges_are_clamped(first in "[0-9]{1,30}", extra in "[0-9]{0,30}", size in 1u64..1000) {
        // LAST ≥ FIRST: FIRST followed by more digits is at least as large.
        fuzzing::range_is_clamped(&first, &format!("{first}{extra}"), size);
        fuzzing::range_is_clamped(&first, "", size);
    }

    /// U+202E and the other bidi controls are stripped from filenames.
    #[test]
    fn filenames_lose_bidi_controls(name in text()) {
        fuzzing::filename_has_no_bidi_controls(&format!("invoice\u{202E}{name}fdp.exe"));
    }
}

// ---- image metadata removal ----

/// A TIFF (EXIF) structure: IFD0 with an Orientation tag (valid or not) and a GPS IFD pointer,
/// in either byte order, possibly cut short.
fn exif_tiff() -> impl Strategy<Value = Vec<u8>> {
    (0u16..10, any::<bool>(), 0usize..50).prop_map(|(orientation, big, cut)| {
        let u16b = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut tiff = if big { b"MM\0*".to_vec() } else { b"II*\0".to_vec() };
        tiff.extend_from_slice(&u32b(8));
        tiff.extend_from_slice(&u16b(2));
        for (tag, kind, value) in
            [(0x0112u16, 3u16, u32::from(orientation) << if big { 16 } else { 0 }), (0x8825, 4, 38)]
        {
            tiff.extend_from_slice(&u16b(tag));
            tiff.extend_from_slice(&u16b(kind));
            tiff.extend_from_slice(&u32b(1));
            tiff.extend_from_slice(&u32b(value));
        }
        tiff.extend_from_slice(&u32b(0));
        tiff.extend_from_slice(b"\0\x01\0\x01\0\x02\0\0\0\x02N\0\0\0\0\0\0\0");
        tiff.truncate(tiff.len() - cut.min(tiff.len()));
        tiff
    })
}

/// Pieces joined, then cut anywhere.
fn joined_and_cut(pieces: impl Strategy<Value = Vec<u8>>, count: usize) -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(pieces, 0..count), any::<prop::sample::Index>()).prop_map(|(pieces, cut)| {
        let all = pieces.concat();
        all[..cut.index(all.len() + 1)].to_vec()
    })
}

/// What follows a JPEG's SOI: segments of every kind the walk tells apart (lengths right or
/// not), scans' data with stuffed bytes and markers, garbage.
fn jpeg_body() -> impl Strategy<Value = Vec<u8>> {
    let marker = prop::sample::select(vec![
        0xE0u8, 0xE1, 0xE1, 0xE2, 0xEC, 0xED, 0xEE, 0xFE, 0xDB, 0xC4, 0xC0, 0xC2, 0xDD, 0xDA,
    ]);
    let body = prop_oneof![
        exif_tiff().prop_map(|tiff| [&b"Exif\0\0"[..], &tiff].concat()),
        prop::sample::select(vec![
            &b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"[..],
            b"JFIF\0\x01\x02\0\0\x01\0\x01\x01\x01abc",
            b"ICC_PROFILE\0\x01\x01",
            b"Adobe\0d",
            b"http://ns.adobe.com/xap/1.0/\0<x/>",
            b"MPF\0II*\0",
        ])
        .prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    let piece = prop_oneof![
        4 => (marker, body, prop::sample::select(vec![0i32, 0, 0, -1, 1, -100])).prop_map(|(marker, body, skew)| {
            let length = (body.len() as i32 + 2 + skew).clamp(0, 0xFFFF) as u16;
            [&[0xFF, marker][..], &length.to_be_bytes(), &body].concat()
        }),
        1 => prop::sample::select(vec![vec![0xFF, 0xD9], vec![0xFF, 0xD0], vec![0xFF, 0xFF], vec![0xFF, 0x00], vec![0xFF, 0xD8], vec![0xFF]]),
        1 => prop::collection::vec(prop_oneof![any::<u8>(), Just(0xFF)], 0..30),
    ];
    joined_and_cut(piece, 10)
}

/// What follows a PNG's signature: chunks of kept, removed, critical and unknown types, lengths
/// right or not, CRCs right or not.
fn png_body() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop::sample::select(vec![
        *b"IHDR", *b"IDAT", *b"IEND", *b"eXIf", *b"eXIf", *b"tEXt", *b"iTXt", *b"tIME", *b"sRGB", *b"acTL", *b"caBX",
        *b"ZZZZ",
    ]);
    let data = prop_oneof![exif_tiff(), prop::collection::vec(any::<u8>(), 0..40)];
    let piece = (kind, data, prop::sample::select(vec![0i64, 0, 0, 1, -1, 1 << 31]), any::<bool>()).prop_map(
        |(kind, data, skew, good_crc)| {
            let length = (data.len() as i64 + skew).clamp(0, i64::from(u32::MAX)) as u32;
            let mut chunk = [&length.to_be_bytes()[..], &kind, &data].concat();
            let crc = if good_crc { crc32(&chunk[4..]) } else { 0 };
            chunk.extend_from_slice(&crc.to_be_bytes());
            chunk
        },
    );
    joined_and_cut(piece, 8)
}

/// A whole WebP file: RIFF size right or not, a VP8X with any flags, chunks of kept, removed and
/// unknown types with odd sizes and padding.
fn webp_file() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop::sample::select(vec![
        *b"VP8X", *b"VP8 ", *b"VP8L", *b"ALPH", *b"ANMF", *b"EXIF", *b"EXIF", *b"XMP ", *b"JUNK",
    ]);
    let data = prop_oneof![
        exif_tiff(),
        exif_tiff().prop_map(|tiff| [&b"Exif\0\0"[..], &tiff].concat()),
        prop::collection::vec(any::<u8>(), 0..31),
    ];
    let chunk = (kind, data).prop_map(|(kind, data)| {
        let mut chunk = [&kind[..], &(data.len() as u32).to_le_bytes(), &data].concat();
        if data.len() % 2 == 1 {
            chunk.push(0);
        }
        chunk
    });
    let vp8x = any::<u8>().prop_map(|flags| [&b"VP8X\x0a\0\0\0"[..], &[flags], &[0; 9]].concat());
    (vp8x, joined_and_cut(chunk, 6), prop::sample::select(vec![0i64, 0, 0, 1, -3, 1000])).prop_map(
        |(vp8x, chunks, skew)| {
            let body = [&b"WEBP"[..], &vp8x, &chunks].concat();
            let size = (body.len() as i64 + skew).clamp(0, i64::from(u32::MAX)) as u32;
            [&b"RIFF"[..], &size.to_le_bytes(), &body].concat()
        },
    )
}

proptest! {
    #![proptest_config(cases(512))]

    /// Removing image metadata never panics or spins, never grows a file, keeps to its plan, and
    /// leaves nothing for a second pass: on arbitrary bytes and on JPEG, PNG and WebP structures
    /// with EXIF (GPS and orientation), XMP and text blocks, damaged and cut anywhere.
    #[test]
    fn image_metadata_removal_is_total_and_idempotent(data in prop_oneof![bytes(), jpeg_body(), png_body(), webp_file()]) {
        fuzzing::image_metadata(&data);
    }
}

// ---- the live server ----

/// The SPEC code a status implies.
fn code_for(status: u16) -> &'static str {
    match status {
        400 => "invalid_json",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        416 => "validation_error",
        422 => "validation_error",
        429 => "rate_limited",
        _ => "(none)",
    }
}

/// A response is no 5xx, and an error carries the SPEC body with the code its status implies.
fn check_response(what: &str, status: reqwest::StatusCode, body: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(status.as_u16() < 500, "{what}: {status} {}", String::from_utf8_lossy(body));
    if status.is_client_error() {
        let body: Value = serde_json::from_slice(body)
            .map_err(|e| TestCaseError::fail(format!("{what}: {status} with a body that is not JSON: {e}")))?;
        prop_assert_eq!(body["code"].as_str(), Some(code_for(status.as_u16())), "{}: {} {}", what, status, body);
        prop_assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}: {}", what, body);
    }
    Ok(())
}

/// A server with an admin (`alice`) and a member (`bob`) sharing room `room` with one message.
struct World {
    server: common::TestServer,
    admin: String,
    member: String,
    room: i64,
    message: i64,
}

async fn world() -> World {
    let server = common::spawn().await;
    let (admin, _) = server.signup("alice").await;
    let (member, _) = server.signup("bob").await;
    let (_, room) = server.post("/chat/chat_rooms/", Some(&admin), &json!({"name": "fuzz", "members": ["bob"]})).await;
    let room = room["id"].as_i64().expect("room id");
    let path = format!("/chat/chat_rooms/{room}/messages");
    let (_, message) = server.post(&path, Some(&member), &json!({"content": "hello"})).await;
    let message = message["id"].as_i64().expect("message id");
    World { server, admin, member, room, message }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

/// Arbitrary JSON bodies (and a few that are not JSON) to every endpoint that reads one, as a
/// member and as the admin: never a 5xx, every error with the SPEC body.
#[test]
fn live_json_bodies_never_get_a_5xx() {
    let rt = runtime();
    let w = rt.block_on(world());
    let endpoints: Vec<(Method, String, bool)> = vec![
        (Method::POST, "/auth/signup".into(), false),
        (Method::POST, "/auth/login".into(), false),
        (Method::POST, "/auth/token".into(), false),
        (Method::POST, "/chat/chat_rooms/".into(), true),
        (Method::POST, format!("/chat/chat_rooms/{}/members", w.room), true),
        (Method::POST, "/chat/private_chats/".into(), true),
        (Method::POST, format!("/chat/chat_rooms/{}/messages", w.room), true),
        (Method::POST, format!("/chat/chat_rooms/{}/read", w.room), true),
        (Method::PATCH, format!("/chat/messages/{}", w.message), true),
        (Method::POST, "/admin/invites".into(), true),
        (Method::PATCH, "/admin/users/2".into(), true),
    ];
    let body = prop_oneof![
        6 => json_object().prop_map(|v| v.to_string().into_bytes()),
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => bytes(),
    ];
    let mut runner = TestRunner::new(cases(96));
    let strategy = (
        0..endpoints.len(),
        any::<bool>(),
        body,
        prop::sample::select(vec!["application/json", "application/x-www-form-urlencoded", "text/plain"]),
    );
    runner
        .run(&strategy, |(endpoint, as_admin, body, content_type)| {
            let (method, path, _) = &endpoints[endpoint];
            // PATCH /admin/users/2 as the admin may disable bob: only the admin does admin calls.
            let token = if as_admin || path.starts_with("/admin") { &w.admin } else { &w.member };
            rt.block_on(async {
                let request = w
                    .server
                    .request(method.clone(), path, Some(token))
                    .header("content-type", content_type)
                    .body(body.clone());
                let response = request.send().await.expect("send");
                let status = response.status();
                let bytes = response.bytes().await.expect("body");
                check_response(&format!("{method} {path} {}", String::from_utf8_lossy(&body)), status, &bytes)
            })
        })
        .unwrap();
}

/// Arbitrary query strings and path segments on the GET endpoints: never a 5xx.
#[test]
fn live_queries_and_paths_never_get_a_5xx() {
    let rt = runtime();
    let w = rt.block_on(world());
    let paths = [
        format!("/chat/chat_rooms/{}/messages", w.room),
        "/chat/search".to_string(),
        "/auth/users/".to_string(),
        "/chat/chat_rooms/{}".to_string(),
        "/chat/messages/{}".to_string(),
        "/media/{}".to_string(),
        "/chat/messages/{}/reactions/{}".to_string(),
    ];
    let mut runner = TestRunner::new(cases(96));
    let strategy =
        (0..paths.len(), prop::collection::vec((field_name(), query_value()), 0..4), text(), text(), any::<bool>());
    runner
        .run(&strategy, |(index, pairs, segment, emoji, put)| {
            let segment = form_encode(&segment);
            let emoji = form_encode(&emoji);
            let path = paths[index].replacen("{}", &segment, 1).replacen("{}", &emoji, 1);
            let method = if index == 6 && put { Method::PUT } else { Method::GET };
            let url = format!("{path}?{}", query_string(&pairs));
            rt.block_on(async {
                let response = w.server.request(method.clone(), &url, Some(&w.member)).send().await.expect("send");
                let status = response.status();
                let bytes = response.bytes().await.expect("body");
                if index == 5 && status.is_success() {
                    return Ok(());
                }
                check_response(&format!("{method} {url}"), status, &bytes)
            })
        })
        .unwrap();
}

/// Arbitrary files with arbitrary names through the real multipart upload: 201 (then the file
/// comes back byte for byte under its sanitized name, an image without its metadata), 415 (a type that is not accepted) or 422
/// (empty); never a 5xx.
#[test]
fn live_uploads_round_trip_or_get_the_spec_error() {
    let rt = runtime();
    let w = rt.block_on(world());
    let file = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        text().prop_map(String::into_bytes),
        (
            prop::sample::select(vec![
                &b"\x89PNG\r\n\x1a\n"[..],
                b"GIF89a",
                b"%PDF-1.4",
                b"\xff\xd8\xff",
                b"\xff\xd8\xff\xe1\x00\x30Exif\x00\x00MM\x00*",
                b"RIFF\x40\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x0c",
                b"<svg",
                b"OggS\0",
                b"ID3\x03"
            ]),
            prop::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(magic, rest)| [magic, &rest[..]].concat()),
    ];
    let mut runner = TestRunner::new(cases(48));
    runner
        .run(&(file, any::<String>()), |(file, name)| {
            rt.block_on(async {
                let part = reqwest::multipart::Part::bytes(file.clone()).file_name(name.clone());
                let response = upload_request(&w.server, Some(&w.member), part).send().await.expect("send");
                let status = response.status();
                let bytes = response.bytes().await.expect("body");
                check_response("upload", status, &bytes)?;
                prop_assert!([201, 415, 422].contains(&status.as_u16()), "{status}");
                if status == 201 {
                    let attachment: Value = serde_json::from_slice(&bytes).expect("Attachment");
                    let clean = natter::input::validate::clean_filename(&name);
                    prop_assert_eq!(attachment["filename"].as_str(), Some(clean.as_str()));
                    // JPEG, PNG and WebP lose their metadata (the walk over a damaged file
                    // drops what it cannot follow); everything else comes back as it was sent.
                    let format = match attachment["content_type"].as_str() {
                        Some("image/jpeg") => Some(Format::Jpeg),
                        Some("image/png") => Some(Format::Png),
                        Some("image/webp") => Some(Format::Webp),
                        _ => None,
                    };
                    let expected = match format {
                        Some(format) => image_metadata::strip(format, &file).expect("in memory"),
                        None => file.clone(),
                    };
                    prop_assert_eq!(attachment["size"].as_u64(), Some(expected.len() as u64));
                    let url = attachment["url"].as_str().expect("url");
                    let served = w.server.http.get(w.server.url(url)).send().await.expect("get");
                    prop_assert_eq!(served.status(), 200);
                    prop_assert_eq!(served.bytes().await.expect("file").to_vec(), expected);
                } else if status == 422 {
                    prop_assert!(file.is_empty(), "a 422 for a non-empty file");
                }
                Ok(())
            })
        })
        .unwrap();
}

/// Hand-made multipart bodies, framing broken in arbitrary ways: never a 5xx.
#[test]
fn live_raw_multipart_never_gets_a_5xx() {
    let rt = runtime();
    let w = rt.block_on(world());
    let piece = prop_oneof![
        Just(b"--B\r\n".to_vec()),
        Just(b"--B--\r\n".to_vec()),
        Just(b"Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n".to_vec()),
        Just(b"Content-Disposition: form-data; name=\"file\"\r\n".to_vec()),
        Just(b"Content-Type: text/plain\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        text().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    let mut runner = TestRunner::new(cases(64));
    let boundary = prop::sample::select(vec![
        "multipart/form-data; boundary=B",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/mixed; boundary=B",
    ]);
    runner
        .run(&(prop::collection::vec(piece, 0..12), boundary), |(pieces, content_type)| {
            let body = pieces.concat();
            rt.block_on(async {
                let request = w
                    .server
                    .request(Method::POST, UPLOAD, Some(&w.member))
                    .header("content-type", content_type)
                    .body(body.clone());
                let response = request.send().await.expect("send");
                let status = response.status();
                let bytes = response.bytes().await.expect("body");
                check_response(&format!("multipart {content_type} {}", String::from_utf8_lossy(&body)), status, &bytes)
            })
        })
        .unwrap();
}

/// Arbitrary payloads for every client event over a real Socket.IO connection: the ack is
/// `{"ok": true, ...}` or `{"ok": false, "error": {"code", "detail"}}` with a SPEC code, and the
/// socket stays connected.
#[test]
fn live_socket_payloads_get_an_ack_and_keep_the_socket() {
    let rt = runtime();
    let w = rt.block_on(world());
    let client = rt.block_on(sio::connect_token(&w.server.base, &w.member)).expect("connect");
    let room = w.room;
    let payload = prop_oneof![
        4 => json_object(),
        2 => json_value(),
        2 => (text(), any::<bool>()).prop_map(move |(content, typing)| json!({"room_id": room, "content": content, "typing": typing, "message_id": 1})),
    ];
    let event = prop::sample::select(vec!["chat_message", "typing", "mark_read", "get_online_users", "nonsense"]);
    let mut runner = TestRunner::new(cases(128));
    runner
        .run(&(event, payload), |(event, payload)| {
            rt.block_on(async {
                let ack = client.request(event, payload.clone(), sio::TIMEOUT).await;
                let ack = ack.map_err(|e| TestCaseError::fail(format!("{event} {payload}: no ack ({e})")))?;
                let ack = if let Value::Array(mut items) = ack { items.remove(0) } else { ack };
                match ack["ok"].as_bool() {
                    Some(true) => {}
                    Some(false) => {
                        let code = ack["error"]["code"].as_str().unwrap_or("");
                        prop_assert!(
                            ["validation_error", "not_found", "forbidden", "rate_limited"].contains(&code),
                            "{} {}: {}",
                            event,
                            payload,
                            ack
                        );
                        prop_assert!(ack["error"]["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", ack);
                    }
                    None => prop_assert!(false, "{} {}: an ack without ok: {}", event, payload, ack),
                }
                prop_assert!(!client.is_closed(), "{event} {payload} closed the socket");
                Ok(())
            })
        })
        .unwrap();
}

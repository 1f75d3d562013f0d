//! SPEC §3 "Profiles, avatars and thumbnails" and "Media": every picture's size as shown and
//! its thumbnail (sizes, orientation, no upscaling, decode limits, the concurrency flag), the
//! files of a deleted message, the sweep of uploads never attached, and the backfill of
//! pictures stored before thumbnails existed.

use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};

use crate::common::chat::{account, post_attachment, room, upload_ok};
use crate::common::process::ServerProcess;
use crate::common::{Api, TestServer, names_in, spawn, spawn_in, spawn_with};

/// A picture of `width` × `height` in `format`: a gradient, so a scaled copy still shows where
/// each part of it came from.
pub fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let rgb = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, 96])
    });
    encode(DynamicImage::ImageRgb8(rgb), format)
}

pub fn encode(picture: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let picture = if format == ImageFormat::Jpeg { DynamicImage::ImageRgb8(picture.to_rgb8()) } else { picture };
    picture.write_to(&mut out, format).expect("encode a test picture");
    out.into_inner()
}

/// GET `path`: status, headers, body.
pub async fn fetch(server: &Api, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = server.http.get(server.url(path)).send().await.expect("GET a media file");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.expect("the body").to_vec())
}

/// The thumbnail at `url` once it is served (it is made just after the upload's answer): polled
/// for at most 20 seconds.
pub async fn thumbnail(server: &Api, url: &str) -> (HeaderMap, DynamicImage) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, headers, body) = fetch(server, url).await;
        if status == StatusCode::OK {
            return (headers, image::load_from_memory(&body).expect("the thumbnail decodes"));
        }
        assert_eq!(status, StatusCode::NOT_FOUND, "a thumbnail not made yet is a 404");
        assert!(Instant::now() < deadline, "the thumbnail at {url} was not served within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll `path` until it answers 404 (at most `within`).
async fn until_gone(server: &Api, path: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while fetch(server, path).await.0 != StatusCode::NOT_FOUND {
        assert!(Instant::now() < deadline, "{path} still served after {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn media_dir(server: &TestServer) -> std::path::PathBuf {
    server.data_dir().join("media")
}

fn stored_name(url: &Value) -> String {
    url.as_str().and_then(|u| u.strip_prefix("/media/")).expect("a /media/ URL").to_string()
}

#[tokio::test]
async fn every_picture_format_gets_its_size_and_a_thumbnail_of_at_most_640_px() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    for (format, name) in [
        (ImageFormat::Png, "a.png"),
        (ImageFormat::Jpeg, "a.jpg"),
        (ImageFormat::Gif, "a.gif"),
        (ImageFormat::WebP, "a.webp"),
    ] {
        let attachment = upload_ok(&server, &token, picture(1000, 500, format), name).await;
        assert_eq!(
            (attachment["width"].as_i64(), attachment["height"].as_i64()),
            (Some(1000), Some(500)),
            "{attachment}"
        );
        let url = attachment["thumbnail_url"].as_str().expect("thumbnail_url in the upload's answer").to_string();
        assert_ne!(url, attachment["url"].as_str().unwrap());
        let (headers, small) = thumbnail(&server, &url).await;
        assert_eq!((small.width(), small.height()), (640, 320), "{name}");
        let kind = headers[CONTENT_TYPE].to_str().unwrap();
        assert!(kind == "image/jpeg" || kind == "image/webp", "{name}: {kind}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-security-policy"], "sandbox");
        assert!(headers["content-disposition"].to_str().unwrap().starts_with("inline"));
        assert!(headers.contains_key("etag"));
        // The gradient runs the same way: the left edge dark, the right edge red.
        let rgb = small.to_rgb8();
        assert!(rgb.get_pixel(5, 160)[0] < 40 && rgb.get_pixel(634, 160)[0] > 215, "{name}: not the same picture");
    }
}

#[tokio::test]
async fn a_portrait_and_a_small_picture_are_never_upscaled() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let tall = upload_ok(&server, &token, picture(300, 1200, ImageFormat::Png), "tall.png").await;
    let (_, small) = thumbnail(&server, tall["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!((small.width(), small.height()), (160, 640));
    let tiny = upload_ok(&server, &token, picture(120, 80, ImageFormat::Png), "tiny.png").await;
    assert_eq!((tiny["width"].as_i64(), tiny["height"].as_i64()), (Some(120), Some(80)));
    let (_, same) = thumbnail(&server, tiny["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!((same.width(), same.height()), (120, 80), "never upscaled");
}

#[tokio::test]
async fn the_exif_orientation_is_applied_to_the_size_and_the_thumbnail() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    // 64 × 48 stored, Orientation 6: shown upright as 48 × 64.
    for name in ["phone.jpg", "phone.png", "phone.webp"] {
        let stored = image::load_from_memory(&fixture(name)).expect("the fixture decodes");
        let attachment = upload_ok(&server, &token, fixture(name), name).await;
        assert_eq!(
            (attachment["width"].as_u64(), attachment["height"].as_u64()),
            (Some(u64::from(stored.height())), Some(u64::from(stored.width()))),
            "{name}: {attachment}"
        );
        let (_, small) = thumbnail(&server, attachment["thumbnail_url"].as_str().unwrap()).await;
        assert_eq!((small.width(), small.height()), (stored.height(), stored.width()), "{name}");
    }
}

#[tokio::test]
async fn files_that_are_not_pictures_have_the_three_fields_null() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let text = upload_ok(&server, &token, b"just some notes\n".to_vec(), "notes.txt").await;
    let pdf = upload_ok(&server, &token, b"%PDF-1.4\n%%EOF\n".to_vec(), "a.pdf").await;
    for attachment in [text, pdf] {
        for field in ["width", "height", "thumbnail_url"] {
            assert!(attachment.get(field).is_some_and(Value::is_null), "{field}: {attachment}");
        }
    }
}

#[tokio::test]
async fn a_picture_that_does_not_decode_is_stored_without_a_thumbnail() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let mut broken = picture(200, 100, ImageFormat::Png);
    broken.truncate(40);
    let (status, body) = crate::common::chat::upload(&server, &token, broken, "broken.png").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["thumbnail_url"].is_null() && body["width"].is_null(), "{body}");
}

#[tokio::test]
async fn max_image_pixels_bounds_which_pictures_are_decoded() {
    let server = spawn_with(|args| args.max_image_pixels = 10_000).await;
    let (token, _) = server.signup("alice").await;
    let big = upload_ok(&server, &token, picture(101, 100, ImageFormat::Png), "big.png").await;
    assert!(big["width"].is_null() && big["height"].is_null() && big["thumbnail_url"].is_null(), "{big}");
    let (status, _, _) = fetch(&server, big["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the original is still stored");
    let fits = upload_ok(&server, &token, picture(100, 100, ImageFormat::Png), "fits.png").await;
    assert_eq!(fits["width"], 100, "{fits}");
}

/// A PNG whose header claims `width` × `height` RGBA pixels, with almost no data after it.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crate::common::crc32(&[kind.as_slice(), data].concat()).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // A zlib stream of a few zero bytes (a stored block): what follows would be inflated on demand.
    chunk(&mut png, b"IDAT", &[0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0, 0x04, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the server's status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number of KiB")
}

#[tokio::test]
async fn a_decompression_bomb_is_stored_without_a_thumbnail_and_without_a_memory_spike() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]).await;
    let (token, _) = server.signup("alice").await;
    let before = peak_rss_kib(server.pid);
    // 100,000 × 100,000 RGBA would be 40 GB; 20,000 × 20,000 1.6 GB, still under what a naive
    // decoder would try to allocate at once.
    for (width, height) in [(100_000, 100_000), (20_000, 20_000)] {
        let attachment = upload_ok(&server, &token, png_bomb(width, height), "bomb.png").await;
        assert!(attachment["width"].is_null() && attachment["thumbnail_url"].is_null(), "{attachment}");
        let (status, _, body) = fetch(&server, attachment["url"].as_str().unwrap()).await;
        assert_eq!((status, body.len()), (StatusCode::OK, png_bomb(width, height).len()), "stored as sent");
    }
    let after = peak_rss_kib(server.pid);
    assert!(after < before + 64 * 1024, "peak RSS grew from {before} KiB to {after} KiB");
}

#[tokio::test]
async fn deleting_a_message_deletes_its_file_and_thumbnail() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let general = room(&server, &alice, "photos", &[]).await;
    let attachment = upload_ok(&server, &alice.token, picture(900, 600, ImageFormat::Jpeg), "photo.jpg").await;
    let url = attachment["url"].as_str().unwrap().to_string();
    let thumb = attachment["thumbnail_url"].as_str().unwrap().to_string();
    thumbnail(&server, &thumb).await;
    let message = post_attachment(&server, &alice, general, "", &attachment).await;
    let (status, _) = server.delete(&format!("/chat/messages/{}", message["id"]), alice.tok()).await;
    assert!(status.is_success(), "delete: {status}");
    for path in [&url, &thumb] {
        assert_eq!(fetch(&server, path).await.0, StatusCode::NOT_FOUND, "{path} after the delete");
    }
    let left = names_in(&media_dir(&server));
    for name in [stored_name(&attachment["url"]), stored_name(&attachment["thumbnail_url"])] {
        assert!(!left.contains(&name), "{name} still in the media folder: {left:?}");
    }
}

#[tokio::test]
async fn uploads_never_attached_are_swept_and_attached_ones_stay() {
    let server = spawn_with(|args| {
        args.unattached_upload_age = Duration::from_secs(1);
        args.unattached_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let alice = account(&server, "alice").await;
    let general = room(&server, &alice, "photos", &[]).await;
    let kept = upload_ok(&server, &alice.token, picture(64, 64, ImageFormat::Png), "kept.png").await;
    post_attachment(&server, &alice, general, "", &kept).await;
    let left = upload_ok(&server, &alice.token, picture(64, 64, ImageFormat::Png), "left.png").await;
    thumbnail(&server, left["thumbnail_url"].as_str().unwrap()).await;
    until_gone(&server, left["url"].as_str().unwrap(), Duration::from_secs(15)).await;
    until_gone(&server, left["thumbnail_url"].as_str().unwrap(), Duration::from_secs(5)).await;
    assert!(!names_in(&media_dir(&server)).contains(&stored_name(&left["url"])));
    // Sent in time: not an unattached upload.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fetch(&server, kept["url"].as_str().unwrap()).await.0, StatusCode::OK);
    let (status, body) = server
        .post(&format!("/chat/chat_rooms/{general}/messages"), alice.tok(), &json!({"attachment_id": left["id"]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a swept upload cannot be sent: {body}");
}

#[tokio::test]
async fn pictures_stored_before_thumbnails_get_them_in_the_background_after_a_restart() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let general = room(&server, &alice, "photos", &[]).await;
    let attachment = upload_ok(&server, &alice.token, picture(800, 400, ImageFormat::Png), "old.png").await;
    thumbnail(&server, attachment["thumbnail_url"].as_str().unwrap()).await;
    post_attachment(&server, &alice, general, "", &attachment).await;
    let dir = server.stop().await;
    // As an upload from before: no size, no thumbnail, pending (what the migration marks).
    let old_thumbnail = stored_name(&attachment["thumbnail_url"]);
    std::fs::remove_file(dir.path().join("media").join(&old_thumbnail)).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("natter.db")).unwrap();
    conn.execute_batch(
        "UPDATE attachments SET width = NULL, height = NULL, thumbnail_name = NULL, picture_pending = 1",
    )
    .unwrap();
    drop(conn);
    let server = spawn_in(dir, |_| {}).await;
    let alice = crate::common::chat::log_in(&server, "alice").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let message = loop {
        let page = crate::common::chat::history(&server, &alice, general, "").await;
        let message = page.last().cloned().expect("the message");
        if !message["attachment"]["thumbnail_url"].is_null() {
            break message;
        }
        assert!(Instant::now() < deadline, "no thumbnail after the restart: {message}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(message["attachment"]["width"], 800);
    let (_, small) = thumbnail(&server, message["attachment"]["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!((small.width(), small.height()), (640, 320));
}

/// Pictures with transparency keep it: their copies are WebP.
#[tokio::test]
async fn a_transparent_picture_gets_a_webp_thumbnail() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let rgba = RgbaImage::from_fn(700, 700, |x, _| Rgba([200, 0, 0, if x < 350 { 0 } else { 255 }]));
    let attachment =
        upload_ok(&server, &token, encode(DynamicImage::ImageRgba8(rgba), ImageFormat::Png), "t.png").await;
    let (headers, small) = thumbnail(&server, attachment["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!(headers[CONTENT_TYPE], "image/webp");
    assert_eq!(small.to_rgba8().get_pixel(10, 10)[3], 0, "still transparent");
}

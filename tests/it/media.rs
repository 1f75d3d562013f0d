//! SPEC §3 Media against a real server: real multipart uploads of tiny but genuine files, type
//! detection from the bytes, refusals that leave nothing on disk, size and quota limits, the
//! random stored names, and how files are served (headers, ranges, conditional requests, 404s).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, ETAG, HeaderMap, IF_NONE_MATCH, IF_RANGE, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::common;
use crate::common::chat::{UPLOAD, upload, upload_as, upload_ok, upload_request};
use crate::common::process::ServerProcess;
use crate::common::{TestServer, assert_error, crc32, names_in, read_json, spawn, spawn_in, spawn_with};

// ---- Tiny genuine files ----

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A 1×1 greyscale PNG: signature, IHDR, IDAT (one zlib stored block), IEND, real CRCs.
fn png() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
    // zlib header, stored block of 2 bytes (filter 0, pixel 0), adler32 of those bytes.
    png_chunk(&mut out, b"IDAT", &[0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// JPEG: SOI, a JFIF APP0 segment, EOI.
fn jpeg() -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    out.extend_from_slice(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// The classic 1×1 GIF89a.
fn gif() -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&[
        0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x21, 0xF9, 0x04, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x01, 0x44, 0x00, 0x3B,
    ]);
    out
}

/// RIFF container, WEBP form, one VP8 chunk.
fn webp() -> Vec<u8> {
    let vp8 = [0x30, 0x01, 0x00, 0x9D, 0x01, 0x2A, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00];
    let mut body = b"WEBPVP8 ".to_vec();
    body.extend_from_slice(&(vp8.len() as u32).to_le_bytes());
    body.extend_from_slice(&vp8);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// An ISO BMFF `ftyp` box (brand isom) and a `free` box.
fn mp4() -> Vec<u8> {
    let mut out = vec![0x00, 0x00, 0x00, 0x18];
    out.extend_from_slice(b"ftypisom\x00\x00\x02\x00isomiso2");
    out.extend_from_slice(&[0x00, 0x00, 0x00, 0x08]);
    out.extend_from_slice(b"free");
    out
}

/// An EBML header with DocType `webm`, a Segment of unknown size and a Void element padding the
/// file past the 256 bytes a WebM sniffer looks at.
fn webm() -> Vec<u8> {
    let mut header = Vec::new();
    for element in
        [&[0x42, 0x86, 0x81, 0x01][..], &[0x42, 0xF7, 0x81, 0x01], &[0x42, 0xF2, 0x81, 0x04], &[0x42, 0xF3, 0x81, 0x08]]
    {
        header.extend_from_slice(element);
    }
    header.extend_from_slice(b"\x42\x82\x84webm");
    header.extend_from_slice(&[0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02]);
    let mut out = vec![0x1A, 0x45, 0xDF, 0xA3, 0x80 | header.len() as u8];
    out.extend_from_slice(&header);
    out.extend_from_slice(&[0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(&[0xEC, 0x41, 0x00]);
    out.extend_from_slice(&[0u8; 256]);
    out
}

/// An ID3v2.4 tag header (no frames) and one silent MPEG-1 Layer III frame.
fn mp3() -> Vec<u8> {
    let mut out = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
    out.extend_from_slice(&[0u8; 413]);
    out
}

/// An Ogg page (version 0, beginning of stream) carrying a Vorbis identification header.
fn ogg() -> Vec<u8> {
    let mut out = b"OggS\x00\x02".to_vec();
    out.extend_from_slice(&[0u8; 8]); // granule position
    out.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]); // serial
    out.extend_from_slice(&[0u8; 4]); // page sequence
    out.extend_from_slice(&[0u8; 4]); // checksum
    out.extend_from_slice(&[0x01, 0x1E]); // one segment of 30 bytes
    out.extend_from_slice(
        b"\x01vorbis\x00\x00\x00\x00\x01\x44\xAC\x00\x00\x00\x00\x00\x00\x00\xEE\x02\x00\x00\x00\x00\x00\xB8\x01",
    );
    out
}

fn text() -> Vec<u8> {
    "héllo, wörld — plain text ✓\n".as_bytes().to_vec()
}

/// A 64-bit ELF header (x86-64 executable).
fn elf() -> Vec<u8> {
    let mut out = vec![0x7F, b'E', b'L', b'F', 0x02, 0x01, 0x01, 0x00];
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&[0x02, 0x00, 0x3E, 0x00, 0x01, 0x00, 0x00, 0x00]);
    out.resize(64, 0);
    out
}

/// A ZIP holding one stored file `a.txt` with "hi".
fn zip() -> Vec<u8> {
    let mut out = b"PK\x03\x04\x0A\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    out.extend_from_slice(&crc32(b"hi").to_le_bytes());
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00]);
    out.extend_from_slice(b"a.txthi");
    out
}

// ---- Helpers ----

/// A multipart body written by hand, for filenames exactly as a browser would send them.
async fn upload_raw(server: &TestServer, token: &str, disposition: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let boundary = "natter-test-boundary-7d1e";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\nContent-Type: text/plain\r\n\r\n")
            .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = server
        .request(Method::POST, UPLOAD, Some(token))
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .expect("send the upload");
    read_json(response).await
}

fn media_dir(server: &TestServer) -> PathBuf {
    server.state.config.data.media_path()
}

/// The files of the media folder that are not thumbnails, once every thumbnail is made (they
/// are made just after an upload, through a temporary file of their own).
async fn uploads_in(server: &TestServer) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending: i64 = server
            .db
            .read(|c| {
                let n = c.query_row("SELECT count(*) FROM attachments WHERE picture_pending = 1", [], |r| r.get(0))?;
                Ok::<_, natter::storage::db::DbError>(n)
            })
            .await
            .expect("count the pictures without a thumbnail yet");
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} thumbnails still not made after 20 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let thumbnails: BTreeSet<String> = server
        .db
        .read(|c| {
            let mut stmt = c.prepare("SELECT thumbnail_name FROM attachments WHERE thumbnail_name IS NOT NULL")?;
            let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<BTreeSet<String>, _>>()?;
            Ok::<_, natter::storage::db::DbError>(names)
        })
        .await
        .expect("read the thumbnails' names");
    names_in(&media_dir(server)).difference(&thumbnails).cloned().collect()
}

/// The stored name of an Attachment, checked to be `/media/<32 hex>.<ext>`.
#[track_caller]
fn stored_name(attachment: &Value, extension: &str) -> String {
    let url = attachment["url"].as_str().unwrap_or_else(|| panic!("no url: {attachment}"));
    assert_eq!(attachment["file_url"], attachment["url"], "{attachment}");
    let name = url.strip_prefix("/media/").unwrap_or_else(|| panic!("url outside /media/: {url}"));
    let (stem, ext) = name.split_once('.').unwrap_or_else(|| panic!("no extension: {name}"));
    assert_eq!(ext, extension, "extension of {name}");
    assert!(stem.len() == 32 && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "not 32 hex: {name}");
    name.to_string()
}

async fn fetch(server: &TestServer, path: &str, headers: &[(reqwest::header::HeaderName, &str)]) -> reqwest::Response {
    let mut request = server.request(Method::GET, path, None);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    request.send().await.expect("send the GET")
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> &str {
    headers.get(&name).map(|v| v.to_str().expect("an ASCII header")).unwrap_or_else(|| panic!("no {name} header"))
}

/// An upload sent by hand on a connection of its own, a piece at a time: for what happens while
/// a file is still arriving.
struct RawUpload {
    stream: tokio::net::TcpStream,
}

const RAW_BOUNDARY: &str = "natter-raw-upload";

impl RawUpload {
    /// Send the request head and the `file` part's headers for a file of `size` bytes.
    async fn start(server: &TestServer, token: &str, size: usize) -> RawUpload {
        let part =
            format!("--{RAW_BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n");
        let length = part.len() + size + Self::closing().len();
        let head = format!(
            "POST {UPLOAD} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\
             Content-Type: multipart/form-data; boundary={RAW_BOUNDARY}\r\nContent-Length: {length}\r\n\r\n{part}",
            server.addr
        );
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("send the head");
        RawUpload { stream }
    }

    fn closing() -> String {
        format!("\r\n--{RAW_BOUNDARY}--\r\n")
    }

    /// The next bytes of the file.
    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send part of the file");
        self.stream.flush().await.expect("flush");
    }

    /// End the body; the answer's status and JSON body.
    async fn finish(mut self) -> (StatusCode, Value) {
        self.send(Self::closing().as_bytes()).await;
        let mut answer = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut self.stream, &mut answer).await.expect("read the answer");
        let text = String::from_utf8(answer).expect("a UTF-8 answer");
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
        let status = head.split_whitespace().nth(1).and_then(|code| code.parse::<u16>().ok()).expect("a status line");
        let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {body}"));
        (StatusCode::from_u16(status).expect("a status"), body)
    }
}

/// Wait (bounded) until `condition` holds: for effects that no response announces.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- Uploads ----

#[tokio::test]
async fn every_allowed_type_is_recognised_from_its_bytes() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let cases: [(&str, Vec<u8>, &str, &str); 10] = [
        ("png", png(), "image/png", "png"),
        ("jpeg", jpeg(), "image/jpeg", "jpg"),
        ("gif", gif(), "image/gif", "gif"),
        ("webp", webp(), "image/webp", "webp"),
        ("pdf", pdf(), "application/pdf", "pdf"),
        ("mp4", mp4(), "video/mp4", "mp4"),
        ("webm", webm(), "video/webm", "webm"),
        ("mp3", mp3(), "audio/mpeg", "mp3"),
        ("ogg", ogg(), "audio/ogg", "ogg"),
        ("text", text(), "text/plain; charset=utf-8", "txt"),
    ];
    let mut ids = BTreeSet::new();
    for (label, bytes, content_type, extension) in cases {
        // A misleading name and Content-Type: only the bytes count.
        let filename = format!("{label} sample.bin");
        let (status, attachment) = upload_as(&server, Some(&token), bytes.clone(), &filename, "text/html").await;
        assert_eq!(status, StatusCode::CREATED, "{label}: {attachment}");
        let keys: BTreeSet<&str> = attachment.as_object().expect("an object").keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "id",
                "url",
                "file_url",
                "content_type",
                "size",
                "filename",
                "width",
                "height",
                "thumbnail_url",
            ]),
            "{attachment}"
        );
        assert!(attachment["id"].as_i64().is_some_and(|id| id > 0), "{attachment}");
        assert!(ids.insert(attachment["id"].as_i64()), "ids are distinct: {attachment}");
        assert_eq!(attachment["content_type"], content_type, "{label}");
        assert_eq!(attachment["size"], bytes.len(), "{label}");
        assert_eq!(attachment["filename"], filename, "{label}");
        let name = stored_name(&attachment, extension);
        assert_eq!(std::fs::read(media_dir(&server).join(&name)).expect("the stored file"), bytes, "{label}");

        let response = fetch(&server, &format!("/media/{name}"), &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{label}");
        assert_eq!(header(response.headers(), CONTENT_TYPE), content_type, "{label}");
        assert_eq!(response.bytes().await.expect("the body").as_ref(), &bytes[..], "{label}");
    }
    assert_eq!(uploads_in(&server).await.len(), 10, "one file per upload, no leftovers");
}

#[tokio::test]
async fn refused_types_get_415_and_leave_no_file() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let dir = media_dir(&server);
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "HTML named .png",
            b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>".to_vec(),
            "cat.png",
            "image/png",
        ),
        (
            "SVG",
            br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>"#.to_vec(),
            "pic.svg",
            "image/svg+xml",
        ),
        ("XML as text", b"<?xml version=\"1.0\"?>\n<note>hi</note>\n".to_vec(), "note.txt", "text/plain"),
        ("markup after blanks and a BOM", "\u{FEFF}\n   \t<p>hi</p>".as_bytes().to_vec(), "a.txt", "text/plain"),
        ("ELF", elf(), "program.txt", "text/plain"),
        ("ZIP", zip(), "archive.png", "image/png"),
        ("invalid UTF-8", b"caf\xE9 au lait".to_vec(), "latin1.txt", "text/plain"),
        ("text with NUL", b"abc\0def".to_vec(), "nul.txt", "text/plain"),
        ("UTF-16 text", b"\xFF\xFEh\0i\0".to_vec(), "utf16.txt", "text/plain"),
        ("UTF-8 cut short", "€".as_bytes()[..2].to_vec(), "cut.txt", "text/plain"),
    ];
    for (label, bytes, filename, mime) in cases {
        let (status, body) = upload_as(&server, Some(&token), bytes, filename, mime).await;
        assert_error(status, &body, 415, "unsupported_media_type");
        assert_eq!(names_in(&dir), BTreeSet::new(), "{label}: nothing stays in the media folder");
    }
}

#[tokio::test]
async fn a_large_refused_file_gets_415_naming_its_type() {
    let server = spawn_with(|args| args.max_upload = 8 * 1024 * 1024).await;
    let (token, _) = server.signup("alice").await;
    // 4 MiB of zeros after an ELF header: refused from its first 8 KiB.
    let mut bytes = elf();
    bytes.resize(4 * 1024 * 1024, 0);
    let (status, body) = upload(&server, &token, bytes, "big.bin").await;
    assert_error(status, &body, 415, "unsupported_media_type");
    assert!(body["detail"].as_str().unwrap_or_default().contains("application/x-executable"), "{body}");
    // Text that turns binary after 1 MiB is refused too.
    let mut bytes = vec![b'a'; 1024 * 1024];
    bytes.extend_from_slice(&[0xFF; 16]);
    let (status, body) = upload(&server, &token, bytes, "late.txt").await;
    assert_error(status, &body, 415, "unsupported_media_type");
    assert_eq!(names_in(&media_dir(&server)), BTreeSet::new());
}

#[tokio::test]
async fn text_is_checked_across_chunk_boundaries() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    // 3 MiB of multi-byte characters: many network chunks, each likely to cut one in half.
    let bytes = "日本語のテキスト — ✓ ".repeat(100_000).into_bytes();
    let size = bytes.len();
    let attachment = upload_ok(&server, &token, bytes.clone(), "long.txt").await;
    assert_eq!(attachment["content_type"], "text/plain; charset=utf-8");
    assert_eq!(attachment["size"], size);
    let name = stored_name(&attachment, "txt");
    let served = fetch(&server, &format!("/media/{name}"), &[]).await.bytes().await.expect("the body");
    assert_eq!(served.len(), size);
    assert!(served.as_ref() == bytes.as_slice(), "served bytes differ from the upload");
}

#[tokio::test]
async fn the_allow_list_flag_narrows_what_is_accepted() {
    let server =
        spawn_with(|args| args.allowed_media = natter::storage::media_folder::AllowedMedia::parse("png,gif").unwrap())
            .await;
    let (token, _) = server.signup("alice").await;
    upload_ok(&server, &token, png(), "a.png").await;
    upload_ok(&server, &token, gif(), "a.gif").await;
    for (label, bytes) in [("jpeg", jpeg()), ("text", text()), ("pdf", pdf())] {
        let (status, body) = upload(&server, &token, bytes, "x").await;
        assert_error(status, &body, 415, "unsupported_media_type");
        assert!(body["detail"].as_str().unwrap_or_default().contains("png, gif"), "{label}: {body}");
    }
    assert_eq!(uploads_in(&server).await.len(), 2);
}

#[tokio::test]
async fn upload_limit_is_exact_and_leaves_nothing_behind() {
    let server = spawn_with(|args| args.max_upload = 1024).await;
    let (token, _) = server.signup("alice").await;
    let dir = media_dir(&server);

    let (status, body) = upload(&server, &token, vec![b'x'; 1025], "over.txt").await;
    assert_error(status, &body, 413, "payload_too_large");
    assert!(body["detail"].as_str().unwrap_or_default().contains("1024"), "{body}");
    assert_eq!(names_in(&dir), BTreeSet::new());

    let mut big_png = png();
    big_png.resize(64 * 1024, 0);
    let (status, body) = upload(&server, &token, big_png, "big.png").await;
    assert_error(status, &body, 413, "payload_too_large");
    assert_eq!(names_in(&dir), BTreeSet::new());

    let attachment = upload_ok(&server, &token, vec![b'x'; 1024], "exact.txt").await;
    assert_eq!(attachment["size"], 1024);
    let name = stored_name(&attachment, "txt");
    assert_eq!(names_in(&dir), BTreeSet::from([name]));
}

#[tokio::test]
async fn a_file_far_over_the_limit_gets_413_while_it_is_still_being_sent() {
    let server = spawn_with(|args| args.max_upload = 1024 * 1024).await;
    let (token, _) = server.signup("alice").await;
    // 6 MiB against a 1 MiB limit: the server answers without reading the rest, whether its own
    // count or the route's body limit stops it first.
    for bytes in [vec![b'x'; 6 * 1024 * 1024], {
        let mut v = png();
        v.resize(6 * 1024 * 1024, 0);
        v
    }] {
        let (status, body) = upload(&server, &token, bytes, "huge").await;
        assert_error(status, &body, 413, "payload_too_large");
        assert!(body["detail"].as_str().unwrap_or_default().contains("1048576 bytes"), "{body}");
    }
    assert_eq!(names_in(&media_dir(&server)), BTreeSet::new());
}

#[tokio::test]
async fn a_body_over_the_route_limit_gets_the_spec_413() {
    let server = spawn_with(|args| args.max_upload = 1024).await;
    let (token, _) = server.signup("alice").await;
    // The file itself is tiny, but a 200 KiB part before it blows the body limit
    // (--max-upload + 64 KiB of framing).
    let form = Form::new()
        .part("padding", Part::bytes(vec![b'p'; 200 * 1024]))
        .part("file", Part::bytes(text()).file_name("a.txt"));
    let response = server.request(Method::POST, UPLOAD, Some(&token)).multipart(form).send().await.expect("send");
    let (status, body) = read_json(response).await;
    assert_error(status, &body, 413, "payload_too_large");
    assert_eq!(names_in(&media_dir(&server)), BTreeSet::new());
}

#[tokio::test]
async fn files_larger_than_the_json_limit_upload_with_the_default_flags() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let mut bytes = mp4();
    bytes.resize(3 * 1024 * 1024 + 17, 0xAB);
    let attachment = upload_ok(&server, &token, bytes.clone(), "clip.mp4").await;
    assert_eq!(attachment["size"], bytes.len());
    let name = stored_name(&attachment, "mp4");
    assert!(std::fs::read(media_dir(&server).join(name)).expect("the stored file") == bytes);
}

#[tokio::test]
async fn a_missing_or_empty_file_part_is_422_and_a_non_multipart_body_is_415() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;

    let form = Form::new().text("note", "no file here").part("upload", Part::bytes(text()).file_name("a.txt"));
    let response = server.request(Method::POST, UPLOAD, Some(&token)).multipart(form).send().await.expect("send");
    let (status, body) = read_json(response).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["file"].is_string(), "{body}");

    let (status, body) = upload(&server, &token, Vec::new(), "empty.txt").await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["file"].is_string(), "{body}");

    let (status, body) = server.post(UPLOAD, Some(&token), &json!({"file": "aGVsbG8="})).await;
    assert_error(status, &body, 415, "unsupported_media_type");

    // Parts before `file` are skipped; the file is still found, and the path works without
    // its trailing slash.
    let form = Form::new().text("caption", "hi").part("file", Part::bytes(png()).file_name("a.png"));
    let response =
        server.request(Method::POST, "/chat/upload_media", Some(&token)).multipart(form).send().await.expect("send");
    let (status, body) = read_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["content_type"], "image/png");
    assert_eq!(uploads_in(&server).await.len(), 1);
}

#[tokio::test]
async fn uploading_needs_a_valid_token() {
    let server = spawn().await;
    let (status, body) = upload_as(&server, None, png(), "a.png", "image/png").await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = upload_as(&server, Some("not-a-jwt"), png(), "a.png", "image/png").await;
    assert_error(status, &body, 401, "unauthorized");
    assert_eq!(names_in(&media_dir(&server)), BTreeSet::new());
}

#[tokio::test]
async fn client_filenames_are_metadata_only() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let dir = media_dir(&server);
    let escape = server.data_dir().join("etc");
    assert!(!escape.exists());

    let cases = [
        (r#"name="file"; filename="../../etc/passwd.txt""#, "passwd.txt"),
        (r#"name="file"; filename="..\..\x.txt""#, "x.txt"),
        (r#"name="file"; filename="C:\Users\bob\My Notes.txt""#, "My Notes.txt"),
        (r#"name="file"; filename="../""#, "file"),
        (r#"name="file""#, "file"),
    ];
    let mut names = BTreeSet::new();
    for (disposition, expected) in cases {
        let (status, attachment) = upload_raw(&server, &token, disposition, b"just text\n").await;
        assert_eq!(status, StatusCode::CREATED, "{disposition}: {attachment}");
        assert_eq!(attachment["filename"], expected, "{disposition}");
        let name = stored_name(&attachment, "txt");
        assert!(dir.join(&name).is_file(), "{name} is in the media folder");
        names.insert(name);
    }
    assert_eq!(names_in(&dir), names, "only the random names are in the media folder");
    assert!(!escape.exists(), "nothing was written outside the media folder");
    assert!(!server.data_dir().join("passwd.txt").exists() && !server.data_dir().join("x.txt").exists());

    // Control characters go (a tab is the one a multipart header can carry raw), and the name is
    // cut to 255 bytes on a character boundary.
    let (status, attachment) = upload_raw(&server, &token, "name=\"file\"; filename=\"a\tb.txt\"", b"x").await;
    assert_eq!(status, StatusCode::CREATED, "{attachment}");
    assert_eq!(attachment["filename"], "ab.txt");
    let long = format!("ab{}.txt", "é".repeat(300));
    let attachment = upload_ok(&server, &token, text(), &long).await;
    let filename = attachment["filename"].as_str().expect("a filename");
    assert!(filename.len() <= 255 && filename.starts_with("abé"), "{filename:?}");
}

#[tokio::test]
async fn the_media_quota_counts_every_upload_of_a_user() {
    let server = spawn_with(|args| args.media_quota = 2000).await;
    let (alice, _) = server.signup("alice").await;
    let (bob, _) = server.signup("bob").await;
    let dir = media_dir(&server);

    let first = upload_ok(&server, &alice, vec![b'a'; 1500], "a.txt").await;
    let (status, body) = upload(&server, &alice, vec![b'b'; 1000], "b.txt").await;
    assert_error(status, &body, 413, "payload_too_large");
    assert!(body["detail"].as_str().unwrap_or_default().to_lowercase().contains("quota exceeded"), "{body}");
    assert_eq!(names_in(&dir), BTreeSet::from([stored_name(&first, "txt")]));

    // Exactly up to the quota is fine; after that even one byte is refused before streaming.
    upload_ok(&server, &alice, vec![b'c'; 500], "c.txt").await;
    let (status, body) = upload(&server, &alice, b"d".to_vec(), "d.txt").await;
    assert_error(status, &body, 413, "payload_too_large");
    assert!(body["detail"].as_str().unwrap_or_default().to_lowercase().contains("quota exceeded"), "{body}");

    // Bob has his own quota.
    upload_ok(&server, &bob, vec![b'e'; 1500], "e.txt").await;
    assert_eq!(names_in(&dir).len(), 3);
}

#[tokio::test]
async fn concurrent_uploads_cannot_both_slip_under_the_quota() {
    let server = spawn_with(|args| args.media_quota = 2000).await;
    let (alice, _) = server.signup("alice").await;
    let dir = media_dir(&server);
    // Both uploads get past the check before streaming (nothing is used yet) and are streaming,
    // each into its temporary file, before either has sent its last byte. Only the check inside
    // the database write can then keep one of them out.
    let mut one = RawUpload::start(&server, &alice, 1500).await;
    let mut two = RawUpload::start(&server, &alice, 1500).await;
    one.send(&[b'a'; 1000]).await;
    two.send(&[b'b'; 1000]).await;
    let streaming = || names_in(&dir).iter().filter(|name| name.starts_with(".upload-")).count();
    eventually("both uploads are streaming", || streaming() == 2).await;
    one.send(&[b'a'; 500]).await;
    two.send(&[b'b'; 500]).await;
    let (one, two) = tokio::join!(one.finish(), two.finish());

    let statuses = BTreeSet::from([one.0.as_u16(), two.0.as_u16()]);
    assert_eq!(statuses, BTreeSet::from([201, 413]), "{} / {}", one.1, two.1);
    let refused = if one.0 == StatusCode::CREATED { &two.1 } else { &one.1 };
    assert!(refused["detail"].as_str().unwrap_or_default().contains("quota exceeded"), "{refused}");
    let stored = if one.0 == StatusCode::CREATED { &one.1 } else { &two.1 };
    assert_eq!(names_in(&dir), BTreeSet::from([stored_name(stored, "txt")]), "only the accepted file stays");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_nothing() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let dir = media_dir(&server);
    let mut upload = RawUpload::start(&server, &token, 5_000_000).await;
    upload.send(&vec![b'x'; 200 * 1024]).await;
    // The server is streaming the upload into a temporary file...
    eventually("the partial upload appears", || names_in(&dir).iter().any(|n| n.starts_with(".upload-"))).await;
    // ...until the client goes away.
    drop(upload);
    eventually("the partial upload is removed", || names_in(&dir).is_empty()).await;
}

#[tokio::test]
async fn partial_uploads_left_by_a_crash_are_swept_at_start() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let uploaded = upload_ok(&server, &token, png(), "a.png").await;
    let kept = stored_name(&uploaded, "png");
    // Its thumbnail is made just after the answer: wait for it, so the folder is settled.
    let thumb_url = uploaded["thumbnail_url"].as_str().expect("a PNG gets a thumbnail").to_string();
    crate::thumbnails::thumbnail(&server, &thumb_url).await;
    let thumb = thumb_url.rsplit('/').next().expect("a file name").to_string();
    let dir = server.stop().await;
    let media = dir.path().join("media");
    std::fs::write(media.join(".upload-0123456789abcdef0123456789abcdef.tmp"), b"half an upload").expect("write");
    std::fs::write(media.join("notes.txt"), b"not ours, not a temp file").expect("write");

    let server = spawn_in(dir, |_| {}).await;
    assert_eq!(names_in(&media_dir(&server)), BTreeSet::from([kept.clone(), thumb, "notes.txt".to_string()]));
    let response = fetch(&server, &format!("/media/{kept}"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

// ---- Image metadata ----

/// The phone-style images of `tests/it/fixtures/` (made by `make_fixtures.py` there): EXIF with a
/// camera, an owner, a time, a GPS position and Orientation 6, XMP with the position again.
fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A JPEG's segments before its first scan (marker, body), and the offset where its tables and
/// frame begin (the first DQT): from there on is what decodes to pixels.
fn jpeg_segments(jpeg: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    assert_eq!(&jpeg[..2], b"\xFF\xD8", "a JPEG");
    let (mut at, mut segments, mut tables) = (2, Vec::new(), None);
    while jpeg[at] == 0xFF && jpeg[at + 1] != 0xDA {
        let marker = jpeg[at + 1];
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker == 0xDB && tables.is_none() {
            tables = Some(at);
        }
        segments.push((marker, jpeg[at + 4..at + 2 + length].to_vec()));
        at += 2 + length;
    }
    (segments, tables.expect("a DQT segment"))
}

/// The tags of a TIFF structure's IFD0, each with its value's first 16 bits.
fn ifd0_tags(tiff: &[u8]) -> Vec<(u16, u16)> {
    let tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    let big = &tiff[..2] == b"MM";
    let u16_at = |at: usize| {
        let bytes = [tiff[at], tiff[at + 1]];
        if big { u16::from_be_bytes(bytes) } else { u16::from_le_bytes(bytes) }
    };
    let ifd0 = usize::from(u16_at(if big { 6 } else { 4 }));
    (0..usize::from(u16_at(ifd0))).map(|i| ifd0 + 2 + 12 * i).map(|entry| (u16_at(entry), u16_at(entry + 8))).collect()
}

const GPS_IFD_TAG: u16 = 0x8825;
const ORIENTATION_TAG: u16 = 0x0112;

/// The chunks of a PNG (type, data).
fn png_chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let (mut at, mut chunks) = (8, Vec::new());
    while at < png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().expect("4 bytes");
        let data = png[at + 8..at + 8 + length].to_vec();
        let crc = &png[at + 8 + length..at + 12 + length];
        assert_eq!(
            crc,
            crc32(&png[at + 4..at + 8 + length]).to_be_bytes(),
            "CRC of {}",
            String::from_utf8_lossy(&kind)
        );
        chunks.push((kind, data));
        at += 12 + length;
    }
    chunks
}

/// The chunks of a WebP (type, data), after checking the RIFF size.
fn riff_chunks(webp: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!(u32::from_le_bytes(webp[4..8].try_into().expect("4 bytes")) as usize, webp.len() - 8, "RIFF size");
    let (mut at, mut chunks) = (12, Vec::new());
    while at < webp.len() {
        let kind: [u8; 4] = webp[at..at + 4].try_into().expect("4 bytes");
        let size = u32::from_le_bytes(webp[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        chunks.push((kind, webp[at + 8..at + 8 + size].to_vec()));
        at += 8 + size + size % 2;
    }
    chunks
}

/// Upload `bytes`; the Attachment and the file as served.
async fn upload_and_fetch(server: &TestServer, token: &str, bytes: Vec<u8>, filename: &str) -> (Value, Vec<u8>) {
    let attachment = upload_ok(server, token, bytes, filename).await;
    let response = fetch(server, attachment["url"].as_str().expect("url"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let served = response.bytes().await.expect("the file").to_vec();
    assert_eq!(attachment["size"], served.len(), "the Attachment's size is the stored file's");
    (attachment, served)
}

#[tokio::test]
async fn a_phone_photo_is_stored_without_its_location_and_with_its_pixels_and_orientation() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let photo = fixture("phone.jpg");
    let (segments, tables) = jpeg_segments(&photo);
    let exif = |segments: &[(u8, Vec<u8>)]| -> Vec<Vec<u8>> {
        segments.iter().filter(|(m, b)| *m == 0xE1 && b.starts_with(b"Exif\0")).map(|(_, b)| b.clone()).collect()
    };
    let sent_tags = ifd0_tags(&exif(&segments)[0]);
    assert!(sent_tags.iter().any(|(tag, _)| *tag == GPS_IFD_TAG), "the fixture has a GPS position: {sent_tags:?}");
    assert!(contains(&photo, b"http://ns.adobe.com/xap/1.0/") && contains(&photo, b"NatterPhone"));

    let (_, served) = upload_and_fetch(&server, &token, photo.clone(), "IMG_0042.jpg").await;
    let (kept, served_tables) = jpeg_segments(&served);
    let served_exif = exif(&kept);
    assert_eq!(served_exif.len(), 1, "one EXIF block, for the orientation");
    let tags = ifd0_tags(&served_exif[0]);
    assert!(!tags.iter().any(|(tag, _)| *tag == GPS_IFD_TAG), "the photo's GPS position was served back: {tags:?}");
    assert_eq!(tags, [(ORIENTATION_TAG, 6)], "only the orientation is left, still 6 (shown turned upright)");
    for private in [&b"http://ns.adobe.com/xap/1.0/"[..], b"NatterPhone", b"Alice Example", b"2026:05:01"] {
        assert!(!contains(&served, private), "{} was served back", String::from_utf8_lossy(private));
    }
    let markers: Vec<u8> = kept.iter().map(|(marker, _)| *marker).collect();
    assert_eq!(markers, [0xE0, 0xE1, 0xE2, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4], "JFIF, EXIF, ICC, tables, frame");
    let icc = |segments: &[(u8, Vec<u8>)]| segments.iter().find(|(m, _)| *m == 0xE2).cloned();
    assert_eq!(icc(&kept), icc(&segments), "the colour profile is kept");
    // Tables, frame, scan and entropy-coded data byte for byte: the same pixels, not re-encoded.
    assert_eq!(served[served_tables..], photo[tables..]);
    assert_eq!(uploads_in(&server).await.len(), 1, "no temporary file is left");
}

#[tokio::test]
async fn png_and_webp_lose_their_exif_xmp_and_text_and_keep_their_image_data() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;

    let png = fixture("phone.png");
    let sent = png_chunks(&png);
    let kinds = |chunks: &[([u8; 4], Vec<u8>)]| -> Vec<String> {
        chunks.iter().map(|(kind, _)| String::from_utf8_lossy(kind).into_owned()).collect()
    };
    assert!(
        kinds(&sent).contains(&"iTXt".to_string()) && kinds(&sent).contains(&"eXIf".to_string()),
        "{:?}",
        kinds(&sent)
    );
    let (_, served) = upload_and_fetch(&server, &token, png.clone(), "screenshot.png").await;
    let kept = png_chunks(&served);
    let expected: Vec<String> =
        kinds(&sent).into_iter().filter(|k| !["tEXt", "zTXt", "iTXt", "tIME"].contains(&k.as_str())).collect();
    assert_eq!(kinds(&kept), expected, "text chunks (XMP among them) are gone, eXIf stays for the orientation");
    let exif = kept.iter().find(|(kind, _)| kind == b"eXIf").map(|(_, data)| data.clone()).expect("eXIf");
    assert_eq!(ifd0_tags(&exif), [(ORIENTATION_TAG, 6)], "the GPS position was served back");
    let image_data = |chunks: &[([u8; 4], Vec<u8>)]| -> Vec<Vec<u8>> {
        chunks.iter().filter(|(kind, _)| [b"IHDR", b"IDAT", b"pHYs"].contains(&kind)).map(|(_, d)| d.clone()).collect()
    };
    assert_eq!(image_data(&kept), image_data(&sent));
    assert!(!contains(&served, b"Alice Example") && !contains(&served, b"adobe:ns:meta"));

    let webp = fixture("phone.webp");
    let sent = riff_chunks(&webp);
    assert_eq!(kinds(&sent), ["VP8X", "VP8L", "EXIF", "XMP "]);
    let (_, served) = upload_and_fetch(&server, &token, webp.clone(), "sticker.webp").await;
    let kept = riff_chunks(&served);
    assert_eq!(kinds(&kept), ["VP8X", "VP8L", "EXIF"]);
    assert_eq!(kept[0].1[0], sent[0].1[0] & !0x04, "VP8X says there is EXIF (the orientation) and no XMP");
    assert_eq!(kept[0].1[1..], sent[0].1[1..]);
    assert_eq!(kept[1], sent[1], "the bitstream is untouched");
    assert_eq!(ifd0_tags(&kept[2].1), [(ORIENTATION_TAG, 6)], "the GPS position was served back");
    assert!(!contains(&served, b"Alice Example") && !contains(&served, b"adobe:ns:meta"));
}

#[tokio::test]
async fn keep_image_metadata_stores_images_as_they_were_sent() {
    let server = spawn_with(|args| args.keep_image_metadata = true).await;
    let (token, _) = server.signup("alice").await;
    for name in ["phone.jpg", "phone.png", "phone.webp"] {
        let image = fixture(name);
        let (_, served) = upload_and_fetch(&server, &token, image.clone(), name).await;
        assert!(served == image, "{name} must be stored byte for byte with --keep-image-metadata");
    }
}

// ---- Serving ----

#[tokio::test]
async fn served_files_carry_the_safety_and_cache_headers() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;

    let image = upload_ok(&server, &token, png(), "my cat.png").await;
    let name = stored_name(&image, "png");
    let response = fetch(&server, &format!("/media/{name}"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, CONTENT_TYPE), "image/png");
    assert_eq!(header(&headers, X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header(&headers, CONTENT_SECURITY_POLICY), "sandbox");
    assert_eq!(header(&headers, CONTENT_DISPOSITION), "inline; filename=\"my cat.png\"; filename*=UTF-8''my%20cat.png");
    assert_eq!(header(&headers, ETAG), format!("\"{name}\""));
    assert_eq!(header(&headers, CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert_eq!(header(&headers, ACCEPT_RANGES), "bytes");
    assert_eq!(header(&headers, CONTENT_LENGTH), png().len().to_string());
    assert_eq!(response.bytes().await.expect("body").as_ref(), png().as_slice());

    // Documents are downloaded, with an ASCII fallback name and the exact UTF-8 one.
    let document = upload_ok(&server, &token, pdf(), "Résumé \"final\".pdf").await;
    let response = fetch(&server, document["url"].as_str().expect("url"), &[]).await;
    assert_eq!(header(response.headers(), CONTENT_TYPE), "application/pdf");
    assert_eq!(
        header(response.headers(), CONTENT_DISPOSITION),
        "attachment; filename=\"R_sum_ _final_.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf"
    );
    let note = upload_ok(&server, &token, text(), "note.txt").await;
    let response = fetch(&server, note["url"].as_str().expect("url"), &[]).await;
    assert_eq!(header(response.headers(), CONTENT_TYPE), "text/plain; charset=utf-8");
    assert!(header(response.headers(), CONTENT_DISPOSITION).starts_with("attachment;"));
    assert_eq!(header(response.headers(), CONTENT_SECURITY_POLICY), "sandbox");
    let audio = upload_ok(&server, &token, ogg(), "song.ogg").await;
    let response = fetch(&server, audio["url"].as_str().expect("url"), &[]).await;
    assert!(header(response.headers(), CONTENT_DISPOSITION).starts_with("inline;"));

    // HEAD: the same headers, no body.
    let response = server.request(Method::HEAD, &format!("/media/{name}"), None).send().await.expect("send the HEAD");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), ETAG), format!("\"{name}\""));
    assert_eq!(header(response.headers(), CONTENT_LENGTH), png().len().to_string());
    assert!(response.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn byte_ranges_are_served_with_206_and_416() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let bytes = b"0123456789abcdefghij".to_vec();
    let size = bytes.len();
    let path = upload_ok(&server, &token, bytes.clone(), "digits.txt").await["url"].as_str().expect("url").to_string();

    for (range, expected, content_range) in [
        ("bytes=2-5", &bytes[2..=5], "bytes 2-5/20"),
        ("bytes=15-", &bytes[15..], "bytes 15-19/20"),
        ("bytes=-3", &bytes[17..], "bytes 17-19/20"),
        ("bytes=18-1000", &bytes[18..], "bytes 18-19/20"),
        ("bytes=-50", &bytes[..], "bytes 0-19/20"),
    ] {
        let response = fetch(&server, &path, &[(RANGE, range)]).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(header(response.headers(), CONTENT_RANGE), content_range, "{range}");
        assert_eq!(header(response.headers(), CONTENT_LENGTH), expected.len().to_string(), "{range}");
        assert_eq!(header(response.headers(), X_CONTENT_TYPE_OPTIONS), "nosniff", "{range}");
        assert_eq!(response.bytes().await.expect("body").as_ref(), expected, "{range}");
    }

    for range in ["bytes=20-", "bytes=100-200", "bytes=-0"] {
        let response = fetch(&server, &path, &[(RANGE, range)]).await;
        assert_eq!(header(response.headers(), CONTENT_RANGE), format!("bytes */{size}"), "{range}");
        let (status, body) = read_json(response).await;
        assert_error(status, &body, 416, "validation_error");
    }

    // Several ranges, a malformed one, or an If-Range for another version: the whole file.
    for headers in [
        vec![(RANGE, "bytes=0-1,4-5")],
        vec![(RANGE, "bytes=5-2")],
        vec![(RANGE, "bytes=2-5"), (IF_RANGE, "\"someone-else\"")],
    ] {
        let response = fetch(&server, &path, &headers).await;
        assert_eq!(response.status(), StatusCode::OK, "{headers:?}");
        assert!(response.headers().get(CONTENT_RANGE).is_none());
        assert_eq!(response.bytes().await.expect("body").as_ref(), &bytes[..], "{headers:?}");
    }
    let etag = format!("\"{}\"", path.trim_start_matches("/media/"));
    let response = fetch(&server, &path, &[(RANGE, "bytes=2-5"), (IF_RANGE, &etag)]).await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let path = upload_ok(&server, &token, gif(), "a.gif").await["url"].as_str().expect("url").to_string();
    let etag = header(fetch(&server, &path, &[]).await.headers(), ETAG).to_string();

    for tag in [etag.clone(), format!("W/{etag}"), format!("\"other\", {etag}"), "*".to_string()] {
        let response = fetch(&server, &path, &[(IF_NONE_MATCH, &tag)]).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tag}");
        assert_eq!(header(response.headers(), ETAG), etag);
        assert_eq!(header(response.headers(), CACHE_CONTROL), "public, max-age=31536000, immutable");
        assert!(response.bytes().await.expect("body").is_empty());
    }
    let response = fetch(&server, &path, &[(IF_NONE_MATCH, "\"something-else\"")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.expect("body").as_ref(), gif().as_slice());
}

#[tokio::test]
async fn unknown_and_malformed_names_are_404() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let name = stored_name(&upload_ok(&server, &token, png(), "a.png").await, "png");
    let stem = name.trim_end_matches(".png");
    // The database and the JWT secret sit right next to the media folder.
    assert!(server.data_dir().join("natter.db").is_file());

    for path in [
        "/media/0123456789abcdef0123456789abcdef.png".to_string(),
        format!("/media/{stem}.txt"),
        format!("/media/{}", name.to_uppercase()),
        format!("/media/{name}.png"),
        "/media/..%2F..%2Fnatter.db".to_string(),
        "/media/..%2fjwt-secret".to_string(),
        "/media/%2e%2e%2fnatter.db".to_string(),
        "/media/natter.db".to_string(),
        "/media/".to_string(),
        "/media".to_string(),
    ] {
        let response = fetch(&server, &path, &[]).await;
        let (status, body) = read_json(response).await;
        assert_error(status, &body, 404, "not_found");
    }
    // Still there for the right name, without a token.
    assert_eq!(fetch(&server, &format!("/media/{name}"), &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_file_missing_from_disk_is_404_not_500() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let name = stored_name(&upload_ok(&server, &token, png(), "a.png").await, "png");
    std::fs::remove_file(media_dir(&server).join(&name)).expect("remove the file behind the server's back");
    let (status, body) = read_json(fetch(&server, &format!("/media/{name}"), &[]).await).await;
    assert_error(status, &body, 404, "not_found");
}

// ---- Attachments in messages ----

#[tokio::test]
async fn an_uploaded_file_can_be_attached_to_a_message_by_its_uploader_only() {
    let server = spawn().await;
    let (alice, _) = server.signup("alice").await;
    let (bob, _) = server.signup("bob").await;
    let (status, room) =
        server.post("/chat/chat_rooms/", Some(&alice), &json!({"name": "r", "members": ["bob"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    let messages = format!("/chat/chat_rooms/{}/messages", room["id"]);

    let attachment = upload_ok(&server, &alice, jpeg(), "photo.jpg").await;
    let (status, message) =
        server.post(&messages, Some(&alice), &json!({"content": "", "attachment_id": attachment["id"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["attachment"], attachment);

    let (status, history) = server.get(&messages, Some(&bob)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let history = history.as_array().expect("a list");
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["attachment"], attachment);
    assert_eq!(history[0]["id"], message["id"]);

    // With an attachment, `content` may also be left out altogether: it is then empty.
    let second = upload_ok(&server, &alice, png(), "plan.png").await;
    let (status, message) = server.post(&messages, Some(&alice), &json!({"attachment_id": second["id"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!((message["content"].as_str(), &message["attachment"]), (Some(""), &second));

    // Bob is in the room but did not upload it.
    let (status, body) =
        server.post(&messages, Some(&bob), &json!({"content": "mine now", "attachment_id": attachment["id"]})).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["attachment_id"].is_string(), "{body}");

    // And Bob, like anyone with the URL, can fetch the file without a token.
    let response = fetch(&server, attachment["url"].as_str().expect("url"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.expect("body").as_ref(), jpeg().as_slice());
}

// ---- Memory ----

/// Peak RSS of a `natter serve` process while a 100 MiB file is uploaded: it must not grow with
/// the file. Run with `cargo test --test media -- --ignored --nocapture` (Linux only).
#[tokio::test]
#[ignore = "uploads 100 MiB through the built binary; run by hand to measure memory"]
async fn peak_memory_does_not_grow_with_the_upload() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = ServerProcess::start(dir.path(), &["--max-upload", "200MiB"]).await;
    let (token, _) = server.signup("big").await;
    let vm_hwm = || server.status_kb("VmHWM");
    upload_ok(&server, &token, text(), "small.txt").await;
    let before = vm_hwm();

    // 100 MiB of mp4: held by this test process, streamed by reqwest, never held by the server.
    let mut big = mp4();
    big.resize(100 * 1024 * 1024, 0x5A);
    let size = big.len() as u64;
    let body = upload_ok(&server, &token, big, "big.mp4").await;
    assert_eq!(body["size"], size);
    let after_upload = vm_hwm();

    let mut served = server.request(Method::GET, body["url"].as_str().unwrap(), None).send().await.unwrap();
    let mut total = 0u64;
    while let Some(chunk) = served.chunk().await.expect("a chunk") {
        total += chunk.len() as u64;
    }
    assert_eq!(total, size);
    let after_download = vm_hwm();
    println!(
        "natter VmHWM: {before} kB before, {after_upload} kB after a {} MiB upload, {after_download} kB after \
         downloading it",
        size >> 20
    );
    server.kill().await;
    assert!(after_upload < before + 32 * 1024, "peak RSS grew by more than 32 MiB during a 100 MiB upload");
    assert!(after_download < before + 32 * 1024, "peak RSS grew by more than 32 MiB during a 100 MiB download");
}

// ---- Uploads in progress: how many, and how slow ----

/// One account cannot hold more than `--max-uploads-per-user` uploads open: each holds a
/// connection and a temporary file, and 9,990 of them, a byte every 20 s, took 19,998 of the
/// server's 20,000 file descriptors.
#[tokio::test]
async fn uploads_in_progress_are_capped_per_user() {
    let server = spawn_with(|args| {
        args.max_uploads_per_user = 2;
        // The held uploads must not be cut off while the test looks at them.
        args.upload_idle_timeout = Duration::from_secs(600);
    })
    .await;
    let (alice, _) = server.signup("alice").await;
    let (bob, _) = server.signup("bob").await;
    let dir = media_dir(&server);
    let mut one = RawUpload::start(&server, &alice, 2000).await;
    let mut two = RawUpload::start(&server, &alice, 2000).await;
    one.send(&[b'a'; 1000]).await;
    two.send(&[b'b'; 1000]).await;
    let streaming = || names_in(&dir).iter().filter(|name| name.starts_with(".upload-")).count();
    eventually("both uploads are streaming", || streaming() == 2).await;

    // A third, complete and small, is refused before its body is read.
    let request = upload_request(&server, Some(&alice), Part::bytes(text()).file_name("third.txt"));
    let (status, headers, body) = common::send(request).await;
    assert_error(status, &body, 429, "rate_limited");
    let retry_after: u64 = header(&headers, reqwest::header::RETRY_AFTER).parse().expect("Retry-After in seconds");
    assert!(retry_after >= 1, "{retry_after}");
    assert_eq!(streaming(), 2, "the refused upload left no file");
    // Per user: bob uploads.
    upload_ok(&server, &bob, text(), "bob.txt").await;

    // Once one of alice's is stored, she may start another.
    one.send(&[b'a'; 1000]).await;
    let (status, stored) = one.finish().await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    upload_ok(&server, &alice, text(), "after.txt").await;
    two.send(&[b'b'; 1000]).await;
    let (status, body) = two.finish().await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// An upload that keeps sending, but too little (a byte every 250 ms, never idle for the
/// `--upload-idle-timeout` of 2 s), is cut off once it falls 2 s behind `--upload-min-rate`.
#[tokio::test]
async fn an_upload_slower_than_the_minimum_rate_is_cut_off() {
    let server = spawn_with(|args| {
        args.upload_idle_timeout = Duration::from_secs(2);
        args.upload_min_rate = natter::config::ByteRate { bytes: 1024, per: Duration::from_secs(1) };
    })
    .await;
    let (token, _) = server.signup("alice").await;
    let dir = media_dir(&server);
    let mut upload = RawUpload::start(&server, &token, 10_000).await;
    let started = Instant::now();
    // More than the rate at first, so that the temporary file exists (the multipart reader
    // holds back a boundary's length), then a trickle.
    upload.send(&[b'a'; 200]).await;
    eventually("the upload is streaming", || names_in(&dir).iter().any(|n| n.starts_with(".upload-"))).await;
    let (mut read, mut write) = upload.stream.split();
    let trickle = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if write.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    let mut answer = Vec::new();
    let answered = async {
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut read, &mut answer).await;
    };
    tokio::select! {
        () = answered => {}
        () = trickle => panic!("an upload at 4 bytes a second was still being received after 10 s"),
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&answer).to_string();
    println!("an upload at 4 B/s (minimum 1 KiB/s, idle timeout 2 s) was cut off after {elapsed:?}");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(head.to_ascii_lowercase().contains("\r\nconnection: close"), "{head}");
    let body: Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(body["code"], "request_timeout", "{body}");
    assert!(body["detail"].as_str().unwrap_or_default().contains("slower than"), "{body}");
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    eventually("the temporary file is removed", || names_in(&dir).is_empty()).await;
}

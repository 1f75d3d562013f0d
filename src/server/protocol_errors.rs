//! The SPEC's error body on the answers hyper writes itself.
//!
//! A request hyper cannot parse never reaches natter's router: hyper answers it directly
//! (`400` for a bad request line, method, header or version, `414` for a request target past
//! its buffer, `431` for headers past it) with an empty body and closes the connection, and
//! offers no hook to change that answer. SPEC §1 wants every error in the JSON body, whatever
//! produced it, so [`SpecErrors`] sits between hyper and the connection (above TLS) and replaces
//! exactly those heads as hyper writes them.
//!
//! What is recognised: a write that starts with `HTTP/1.1 400 `, `414 ` or `431 `, says
//! `content-length: 0`, and lacks `x-content-type-options`. Every response the router produces
//! carries that header (`api::security_headers`), so only hyper's own automatic answers match;
//! after one of them hyper writes nothing more and closes the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::PROTOCOL_ERRORS;

/// A connection's I/O as hyper sees it, with hyper's own error answers rewritten.
pub struct SpecErrors<I> {
    io: I,
    /// `Strict-Transport-Security` belongs on the rewritten answer too.
    tls: bool,
    /// A rewritten answer still being written, how much of it is written, and how many bytes of
    /// hyper's original to report as written once it is all out.
    pending: Option<Pending>,
}

struct Pending {
    bytes: Vec<u8>,
    written: usize,
    claimed: usize,
}

impl<I> SpecErrors<I> {
    pub fn new(io: I, tls: bool) -> Self {
        SpecErrors { io, tls, pending: None }
    }
}

/// The replacement for `head` if it is one of hyper's automatic error answers.
fn rewrite(head: &[u8], tls: bool) -> Option<Vec<u8>> {
    // Every write passes here (WebSocket frames included): the cheap test first.
    if !head.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let prefix = head.get(..13)?;
    let &(status, reason, code, detail) =
        PROTOCOL_ERRORS.iter().find(|(status, ..)| prefix == format!("HTTP/1.1 {status} ").as_bytes())?;
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&head[..end]).ok()?.to_ascii_lowercase();
    if !text.contains("\r\ncontent-length: 0\r\n") || text.contains("\r\nx-content-type-options:") {
        return None;
    }
    let body = serde_json::json!({ "detail": detail, "code": code }).to_string();
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nx-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n",
        body.len()
    );
    if tls {
        out.push_str("strict-transport-security: max-age=31536000\r\n");
    }
    // hyper's own `date` line, as it wrote it.
    if let Some(start) = text.find("\r\ndate: ") {
        let line = &head[start + 2..end - 2];
        let line = &line[..line.windows(2).position(|w| w == b"\r\n").unwrap_or(line.len())];
        out.push_str(std::str::from_utf8(line).ok()?);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

impl<I: AsyncWrite + Unpin> SpecErrors<I> {
    /// Write what is pending; `Ready(Ok(claimed))` once it is all out.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(pending) = &mut self.pending else { return Poll::Ready(Ok(0)) };
        while pending.written < pending.bytes.len() {
            match Pin::new(&mut self.io).poll_write(cx, &pending.bytes[pending.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => pending.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let claimed = pending.claimed;
        self.pending = None;
        Poll::Ready(Ok(claimed))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for SpecErrors<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for SpecErrors<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.pending.is_none() {
            match rewrite(buf, self.tls) {
                Some(bytes) => self.pending = Some(Pending { bytes, written: 0, claimed: buf.len() }),
                None => return Pin::new(&mut self.io).poll_write(cx, buf),
            }
        }
        self.drain(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.pending.is_none() {
            // hyper queues its head as the first slice; an automatic answer has nothing after it.
            let first = bufs.iter().find(|b| !b.is_empty());
            match first.and_then(|head| rewrite(head, self.tls)) {
                Some(bytes) => {
                    let claimed = bufs.iter().map(|b| b.len()).sum();
                    self.pending = Some(Pending { bytes, written: 0, claimed });
                }
                None => return Pin::new(&mut self.io).poll_write_vectored(cx, bufs),
            }
        }
        self.drain(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_some() {
            match self.drain(cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 03:03:03 GMT\r\n\r\n";

    #[test]
    fn hyper_answers_get_the_spec_body() {
        let out = String::from_utf8(rewrite(HYPER_431, false).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\ndate: Fri, 04 Dec 2026 03:03:03 GMT"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        assert!(!head.contains("strict-transport-security"));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "headers_too_large");
        let tls = String::from_utf8(rewrite(HYPER_431, true).unwrap()).unwrap();
        assert!(tls.contains("\r\nstrict-transport-security: max-age=31536000\r\n"));
    }

    #[test]
    fn natter_responses_pass_unchanged() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-content-type-options: nosniff\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite(ours, false).is_none());
        let body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n";
        assert!(rewrite(body, false).is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).is_none());
        assert!(rewrite(b"{\"a\":1}", false).is_none());
    }
}

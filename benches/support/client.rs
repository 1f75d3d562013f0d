//! The load generator's client: Engine.IO v4 / Socket.IO v5 over WebSocket, spoken straight on a
//! TCP stream.
//!
//! A generator that shares the machine with the server takes CPU from it, and a slow one puts
//! its own queueing into the latencies, so it has to cost less per delivery than the server
//! does. The tokio-tungstenite client this replaces cost 11–12 µs of CPU per delivery in the
//! fan-out scenario (more than the server) and its lag showed as delivery p99 of 30–50 ms; this
//! one costs 4–7 µs, and the same scenario's p99 is 11–22 ms. It reads into one buffer per
//! connection and looks at each frame in place: no allocation or future per frame, and a
//! connection's reader wakes only when bytes arrive (no per-connection timer).
//!
//! Only what the benchmarks need: the upgrade, unfragmented frames from the server (which
//! never masks), masked text frames to it (with a zero key: the mask is required, its value is
//! not checked), and Engine.IO pongs.

use std::io;
use std::ops::Range;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connected Socket.IO client on the default namespace.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Where the next unread frame starts in `buf`.
    start: usize,
    /// An Engine.IO ping was read and is not answered yet (see [`Client::answer_ping`]).
    ping_due: bool,
}

/// WebSocket opcodes the reader tells apart.
pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;

impl Client {
    /// Upgrade, wait for Engine.IO's open packet, send the Socket.IO CONNECT with `token` and
    /// wait for its answer. Panics when refused: a benchmark has nothing to measure then.
    pub async fn connect(addr: &str, token: &str) -> Client {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let request = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("upgrade request");
        let mut client = Client { stream, buf: Vec::with_capacity(2048), start: 0, ping_due: false };
        let head_end = loop {
            if let Some(at) = client.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            assert!(client.read_more().await.expect("upgrade answer"), "closed during the upgrade");
        };
        assert!(client.buf.starts_with(b"HTTP/1.1 101"), "upgrade refused: {}", String::from_utf8_lossy(&client.buf));
        client.start = head_end;
        client.wait_for_text(|t| t.starts_with('0')).await;
        client.send_text(&format!("40{{\"token\":\"{token}\"}}")).await.expect("connect packet");
        let answer = client.wait_for_text(|t| t.starts_with("40") || t.starts_with("44")).await;
        assert!(answer.starts_with("40"), "refused: {answer}");
        client
    }

    /// Read frames until one is a text frame that `wanted` accepts; its text.
    async fn wait_for_text(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            while let Some((opcode, range)) = self.next_frame() {
                let text = self.text(range);
                if opcode == TEXT && wanted(text) {
                    return text.to_string();
                }
            }
            assert!(self.read_more().await.expect("read"), "closed during the handshake");
        }
    }

    /// Read whatever the socket has into the buffer; false at end of stream. Cancel-safe.
    pub async fn read_more(&mut self) -> io::Result<bool> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 16 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(8 * 1024);
        }
        Ok(self.stream.read_buf(&mut self.buf).await? > 0)
    }

    /// The next complete frame in the buffer: its opcode and where its payload is. An Engine.IO
    /// ping (`2`) is noted for [`Client::answer_ping`] and returned like any other frame.
    pub fn next_frame(&mut self) -> Option<(u8, Range<usize>)> {
        let b = &self.buf[self.start..];
        if b.len() < 2 {
            return None;
        }
        let (len, mut at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")) as usize, 10),
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if b[1] & 0x80 != 0 {
            at += 4;
        }
        if b.len() < at + len {
            return None;
        }
        let opcode = b[0] & 0x0f;
        let payload = self.start + at..self.start + at + len;
        self.start += at + len;
        if opcode == TEXT && &self.buf[payload.clone()] == b"2" {
            self.ping_due = true;
        }
        Some((opcode, payload))
    }

    /// Send the pong for a ping read since the last call, if any. Callers run it after taking
    /// the frames they read (it is not cancel-safe, so not inside a `select!`).
    pub async fn answer_ping(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.ping_due) {
            self.send_text("3").await?;
        }
        Ok(())
    }

    /// A frame's payload as text (the benchmarks only read ASCII; anything else reads as "").
    pub fn text(&self, payload: Range<usize>) -> &str {
        std::str::from_utf8(&self.buf[payload]).unwrap_or("")
    }

    /// One masked text frame.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        let len = text.len();
        let mut frame = Vec::with_capacity(len + 14);
        frame.push(0x81);
        match len {
            0..=125 => frame.push(0x80 | len as u8),
            126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(text.as_bytes());
        self.stream.write_all(&frame).await
    }

    /// A masked close frame; the server then ends the session.
    pub async fn close(mut self) {
        let _ = self.stream.write_all(&[0x88, 0x80, 0, 0, 0, 0]).await;
    }
}

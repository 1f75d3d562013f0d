//! The fan-out floor: the least a server can do per delivery, measured the same way as natter.
//!
//! A stand-in server process that speaks just enough Engine.IO v4 / Socket.IO v5 over WebSocket
//! for the load generator (open packet, connect answer, acks) and fans a `chat_message` out as
//! one pre-built frame written straight to every connection: one non-blocking `send` per
//! delivery, no per-socket queue, no task wake-up, no storage, no JSON. Whatever it costs per
//! delivery is the kernel's price of a loopback TCP send on this machine, which any server
//! that writes each delivery to its own TCP connection pays too.
//!
//! It runs as the benchmark binary itself, re-executed with `NATTER_BENCH_ROLE=floor-server`,
//! and prints `address=…` like natter so the generator finds it the same way.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

pub const ROLE_VAR: &str = "NATTER_BENCH_ROLE";
pub const ROLE: &str = "floor-server";

/// Every connection's write half, in connection order.
type Peers = Arc<Mutex<Vec<OwnedWriteHalf>>>;

/// Run the floor server until killed (two tokio workers, like natter's default on this machine).
pub fn serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("floor server listening address={}", listener.local_addr().expect("address"));
        let peers: Peers = Arc::default();
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let peers = peers.clone();
            tokio::spawn(async move {
                let (read, write) = stream.into_split();
                let _ = connection(BufReader::new(read), write, peers).await;
            });
        }
    });
}

async fn connection(
    mut read: BufReader<OwnedReadHalf>,
    mut write: OwnedWriteHalf,
    peers: Peers,
) -> std::io::Result<()> {
    let key = upgrade_request_key(&mut read).await?;
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    write.write_all(answer.as_bytes()).await?;
    let open = r#"0{"sid":"floor","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}"#;
    write.write_all(&text_frame(open)).await?;
    // Until the Socket.IO connect packet arrives the connection writes for itself; after it, its
    // write half lives in `peers` and everything it is sent goes through there.
    while !read_text_frame(&mut read).await?.starts_with("40") {}
    write.write_all(&text_frame(r#"40{"sid":"floor"}"#)).await?;
    let me = {
        let mut list = peers.lock().expect("peers");
        list.push(write);
        list.len() - 1
    };
    let mut next_id = 1u64;
    loop {
        let text = read_text_frame(&mut read).await?;
        let Some(rest) = text.strip_prefix("42") else { continue };
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (ack_id, event) = rest.split_at(digits);
        if !event.starts_with("[\"chat_message\"") {
            continue;
        }
        let stamp = event.split("\"content\":\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("t0");
        let delivery = text_frame(&format!(
            r#"42["chat_response",{{"id":{next_id},"room_id":1,"sender_id":1,"sender_username":"user0","sender_full_name":null,"content":"{stamp}","client_id":null,"attachment":null,"created_at":"2026-11-25T12:00:00.000Z","edited_at":null}}]"#
        ));
        let ack = text_frame(&format!(r#"43{ack_id}[{{"ok":true,"message":{{"id":{next_id}}}}}]"#));
        next_id += 1;
        let list = peers.lock().expect("peers");
        for peer in list.iter() {
            send_now(peer, &delivery);
        }
        send_now(&list[me], &ack);
    }
}

/// One non-blocking send of a whole frame. The frames are small and every receiver keeps up, so
/// a full socket buffer means the generator fell behind: counted as lost by the generator.
fn send_now(peer: &OwnedWriteHalf, frame: &[u8]) {
    let _ = peer.try_write(frame);
}

/// Read the HTTP upgrade request; its `Sec-WebSocket-Key`.
async fn upgrade_request_key(read: &mut BufReader<OwnedReadHalf>) -> std::io::Result<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(read.read_u8().await?);
    }
    let head = String::from_utf8_lossy(&head);
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key").then(|| value.trim().to_string())
        })
        .ok_or_else(|| std::io::Error::other("no Sec-WebSocket-Key"))
}

/// An unmasked server-to-client text frame.
fn text_frame(text: &str) -> Vec<u8> {
    let len = text.len();
    let mut frame = Vec::with_capacity(len + 10);
    frame.push(0x81);
    match len {
        0..=125 => frame.push(len as u8),
        126..=65535 => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// The next client-to-server (masked) frame's text; control frames come back as empty text.
async fn read_text_frame(read: &mut BufReader<OwnedReadHalf>) -> std::io::Result<String> {
    let mut head = [0u8; 2];
    read.read_exact(&mut head).await?;
    if head[0] & 0x0f == 0x8 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "close frame"));
    }
    let len = match head[1] & 0x7f {
        126 => read.read_u16().await? as usize,
        127 => read.read_u64().await? as usize,
        n => n as usize,
    };
    let mut mask = [0u8; 4];
    if head[1] & 0x80 != 0 {
        read.read_exact(&mut mask).await?;
    }
    let mut payload = vec![0u8; len];
    read.read_exact(&mut payload).await?;
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Ok(String::from_utf8_lossy(&payload).into_owned())
}

//! A keep-alive HTTP/1.1 client in a few lines over a TcpStream, for the benchmarks that measure
//! REST reads (history, search): reqwest costs more CPU per request than the server under test,
//! which would measure the client instead of natter. Plus the account and rooms they read.
#![allow(dead_code)]

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive HTTP/1.1 connection.
pub struct Http {
    stream: tokio::io::BufReader<TcpStream>,
    host: String,
    line: String,
    pub body: Vec<u8>,
}

impl Http {
    pub async fn connect(addr: &str) -> Http {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Http {
            stream: tokio::io::BufReader::new(stream),
            host: addr.to_string(),
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// Send one request; returns the status, the body is left in `self.body`.
    pub async fn request(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> u16 {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        if body.is_some() {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", payload.len()));
        }
        head.push_str("\r\n");
        head.push_str(&payload);
        self.stream.get_mut().write_all(head.as_bytes()).await.expect("write");
        self.line.clear();
        self.stream.read_line(&mut self.line).await.expect("status line");
        let status: u16 = self.line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
        let mut length = 0usize;
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line).await.expect("header");
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await.expect("body");
        status
    }

    pub async fn json(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let status = self.request(method, path, token, body).await;
        (status, serde_json::from_slice(&self.body).unwrap_or(Value::Null))
    }
}

/// What a benchmark reads as: one account and its rooms.
pub struct Reader {
    pub token: String,
    pub user_id: i64,
    pub rooms: Vec<i64>,
}

/// Sign up and log in `reader`, and create one group room per name: through the API, so the rows
/// are exactly what natter writes.
pub async fn reader_with_rooms(addr: &str, names: &[&str]) -> Reader {
    let mut http = Http::connect(addr).await;
    let body = json!({"username": "reader", "email": "reader@example.com", "password": "password123"});
    let (status, user) = http.json("POST", "/auth/signup", None, Some(&body)).await;
    assert_eq!(status, 201, "signup: {user}");
    let login = json!({"email": "reader", "password": "password123"});
    let (_, token) = http.json("POST", "/auth/login", None, Some(&login)).await;
    let token = token["access_token"].as_str().expect("token").to_string();
    let mut rooms = Vec::new();
    for name in names {
        let (_, room) = http.json("POST", "/chat/chat_rooms", Some(&token), Some(&json!({"name": name}))).await;
        rooms.push(room["id"].as_i64().expect("room"));
    }
    Reader { token, user_id: user["id"].as_i64().expect("id"), rooms }
}

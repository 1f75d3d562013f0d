//! `natter serve` as a separate process, for tests that must see the process itself: its memory
//! (`/proc/PID/status`), a `kill -9`, a restart on the same data.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Notify;

use super::{Api, TIMEOUT, natter_cmd, strip_ansi};

/// A running `natter serve` child process and the address it logged; its HTTP helpers are
/// [`Api`]'s. Killed when dropped.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    pub api: Api,
    pub pid: u32,
    /// Every line it has logged so far (ANSI colours stripped), for [`ServerProcess::wait_for_log`].
    log: Arc<(Mutex<Vec<String>>, Notify)>,
}

impl Deref for ServerProcess {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl ServerProcess {
    /// `natter serve --bind 127.0.0.1:0 --data-dir DATA --auth-rate 0 EXTRA...` (and the caps and
    /// bounds below at 0 unless EXTRA names them), started in `data`,
    /// once it has logged `natter is listening address=...`.
    pub async fn start(data: &Path, extra: &[&str]) -> ServerProcess {
        Self::start_with(data, extra, |_| {}).await
    }

    /// [`ServerProcess::start`], with `tweak` applied to the command first (a umask, the
    /// environment).
    pub async fn start_with(
        data: &Path,
        extra: &[&str],
        tweak: impl FnOnce(&mut tokio::process::Command),
    ) -> ServerProcess {
        let data_dir = data.to_str().expect("UTF-8 temp path");
        let mut args = vec!["serve", "--bind", "127.0.0.1:0", "--auth-rate", "0", "--data-dir", data_dir];
        // Tests open many sockets from 127.0.0.1 and write as fast as they can: no socket caps
        // and no bounds on uploads and room changes unless a test sets them.
        for cap in [
            "--max-sockets-per-address",
            "--max-sockets-per-user",
            "--upload-rate",
            "--room-rate",
            "--new-room-rate",
            "--edit-rate",
            "--reaction-rate",
            "--read-rate",
        ] {
            if !extra.contains(&cap) {
                args.extend_from_slice(&[cap, "0"]);
            }
        }
        args.extend_from_slice(extra);
        let mut command = natter_cmd(data, &args);
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        tweak(&mut command);
        let mut child = command.spawn().expect("start natter serve");
        let pid = child.id().expect("the child's pid");
        let (found, address) = tokio::sync::oneshot::channel::<SocketAddr>();
        // Logs go to stdout (tracing_subscriber's fmt default); read both streams in case that
        // changes, and keep draining them so the server never blocks on a full pipe.
        let mut found = Some(found);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for stream in [Box::new(out) as Box<dyn tokio::io::AsyncRead + Unpin + Send>, Box::new(err)] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let log = Arc::new((Mutex::new(Vec::new()), Notify::new()));
        let keep = log.clone();
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                let line = strip_ansi(&line);
                keep.0.lock().unwrap().push(line.clone());
                keep.1.notify_waiters();
                if let Some(addr) = line
                    .contains("natter is listening")
                    .then(|| line.split("address=").nth(1))
                    .flatten()
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|a| a.parse::<SocketAddr>().ok())
                    && let Some(found) = found.take()
                {
                    let _ = found.send(addr);
                }
            }
        });
        let addr = tokio::time::timeout(TIMEOUT, address)
            .await
            .expect("natter logs its address in time")
            .expect("natter logged `natter is listening address=...` before exiting");
        ServerProcess { child, addr, api: Api::new(addr), pid, log }
    }

    /// The lines logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.log.0.lock().unwrap().clone()
    }

    /// The first logged line (past or future) that contains every one of `needles`; fails the
    /// test after [`TIMEOUT`].
    pub async fn wait_for_log(&self, needles: &[&str]) -> String {
        let find = || self.logs().into_iter().find(|line| needles.iter().all(|n| line.contains(n)));
        let wait = async {
            loop {
                let notified = self.log.1.notified();
                if let Some(line) = find() {
                    return line;
                }
                notified.await;
            }
        };
        tokio::time::timeout(TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("no log line with {needles:?} within {TIMEOUT:?}; logged: {:#?}", self.logs()))
    }

    /// A figure of `/proc/PID/status` in kB (`VmRSS`, `VmHWM`, `Threads`, ...).
    pub fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).expect("read /proc/PID/status");
        let prefix = format!("{field}:");
        let line = status.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {field} in status"));
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("bad line {line:?}"))
    }

    /// Resident memory now, in kB.
    pub fn rss_kb(&self) -> u64 {
        self.status_kb("VmRSS")
    }

    /// How many sockets it has open (the listener, connections; not database files, whose
    /// number grows with the read pool).
    pub fn open_sockets(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .expect("read /proc/PID/fd")
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }

    /// `kill -9` and reap it.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill -9 natter");
    }
}

//! What the benchmarks share: the natter release binary as a separate process (so its CPU and
//! memory are measured apart from the load generator's), /proc readers, percentiles.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The natter release binary, running on `data`.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    /// Start with extra flags (after the benchmark defaults and `BENCH_SERVER_ARGS`).
    ///
    /// `BENCH_NATTER_BIN` runs another natter binary (e.g. a build of an older commit, for A/B
    /// figures); `BENCH_SERVER_CPUS` confines the server to those cores with `taskset -c`
    /// (e.g. `0`, a stand-in for a small board).
    pub fn start_with(data: &Path, flags: &[&str]) -> Server {
        Server::start_binary(&natter_binary(), data, flags)
    }

    /// [`Server::start_with`] for the natter binary at `binary`.
    pub fn start_binary(binary: &str, data: &Path, flags: &[&str]) -> Server {
        let mut natter = match std::env::var("BENCH_SERVER_CPUS") {
            Ok(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", &cpus]).arg(binary);
                taskset
            }
            Err(_) => Command::new(binary),
        };
        natter.args(["serve", "--bind", "127.0.0.1:0", "--log", "warn,natter=info"]);
        // No bound on signups and logins from the generator's one address, unless a scenario
        // sets its own.
        if !flags.contains(&"--auth-rate") {
            natter.args(["--auth-rate", "0"]);
        }
        // Every simulated client comes from 127.0.0.1, often thousands of sockets per user.
        if !flags.contains(&"--max-sockets-per-address") {
            natter.args(["--max-sockets-per-address", "0"]);
        }
        if !flags.contains(&"--max-sockets-per-user") {
            natter.args(["--max-sockets-per-user", "0"]);
        }
        // One account makes every room of a scenario and its uploaders send as fast as they can.
        for bound in
            ["--room-rate", "--new-room-rate", "--upload-rate", "--edit-rate", "--reaction-rate", "--read-rate"]
        {
            if !flags.contains(&bound) {
                natter.args([bound, "0"]);
            }
        }
        natter
            // Extra server flags for experiments, e.g. BENCH_SERVER_ARGS="--db-readers 2".
            .args(std::env::var("BENCH_SERVER_ARGS").unwrap_or_default().split_whitespace())
            .args(flags)
            .arg("--data-dir")
            .arg(data)
            .env("NO_COLOR", "1");
        Server::spawn(natter)
    }

    /// Run `command` as the server: it must print `address=HOST:PORT` on stdout once listening.
    pub fn spawn(mut command: Command) -> Server {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines.next().expect("natter exited").expect("read log");
            if let Some(rest) = line.split("address=").nth(1) {
                break rest.split_whitespace().next().expect("address").to_string();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    pub fn cpu_split(&self) -> (f64, f64) {
        process_cpu_split(&format!("/proc/{}/stat", self.child.id()))
    }

    pub fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib_of(&format!("/proc/{}/status", self.child.id()))
    }

    /// Bytes this process has caused to be written to storage (`write_bytes` of /proc/PID/io:
    /// what reaches the block layer, so WAL appends and checkpoints both count, page-cache
    /// hits do not).
    pub fn write_bytes(&self) -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).unwrap_or_default();
        io.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }

    /// How many file descriptors it has open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).map(|d| d.count()).unwrap_or(0)
    }

    /// `/proc/PID/status` field in kB (`VmHWM`, `Threads`, ...).
    pub fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let prefix = format!("{field}:");
        status
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Stop it (SIGTERM: it commits and checkpoints everything) and return [`Server::write_bytes`]
    /// as of its exit, read from the exited process before it is reaped.
    pub fn stop_counting_writes(mut self) -> u64 {
        let pid = self.child.id();
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let exited = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'))
        };
        while !exited() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let written = self.write_bytes();
        let _ = self.child.wait();
        written
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// The natter binary the benchmarks run: `BENCH_NATTER_BIN`, else this build's.
pub fn natter_binary() -> String {
    std::env::var("BENCH_NATTER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_natter").to_string())
}

/// Whether `natter serve` knows `flag`, so one benchmark can run builds from before and after
/// the flag was added.
pub fn serve_has_flag(flag: &str) -> bool {
    Command::new(natter_binary())
        .args(["serve", "--help"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(flag))
}

/// A server the benchmark did not stop (it panicked, or a scenario just ended) is killed, so
/// no natter keeps running, and keeps the benchmark's output pipe open, after it.
impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// utime + stime of a process, from /proc/PID/stat.
pub fn process_cpu_seconds(stat_path: &str) -> f64 {
    let (user, kernel) = process_cpu_split(stat_path);
    user + kernel
}

/// (utime, stime) of a process in seconds, from /proc/PID/stat.
pub fn process_cpu_split(stat_path: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (ticks(11), ticks(12))
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Resident memory of this process in KiB.
pub fn self_rss_kib() -> u64 {
    rss_kib_of("/proc/self/status")
}

pub fn rss_kib_of(status_path: &str) -> u64 {
    let status = std::fs::read_to_string(status_path).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

//! What `/metrics` reports (`--metrics`): Prometheus families recorded where things happen, and
//! the process's own figures read from `/proc` when scraped.
//!
//! [`Metrics`] is a cheap handle held by whoever records: the storage engine's writer thread
//! (commit latency and batch size), the chat use case (stored messages), media (upload bytes),
//! presence (open sockets) and the HTTP layer (requests by route). Without `--metrics` it is
//! [`Metrics::off`] and every recording call is one branch on `None`, so the hot paths (the
//! writer, the Socket.IO fan-out) pay nothing for an unused feature. With it, each call is an
//! atomic add, or for labelled families a read-locked map lookup (see `benches/socketio.rs`
//! figures in docs/benchmarks.md).
//!
//! Labels never carry ids or raw paths: HTTP requests are labelled with the matched route
//! template (`/chat/chat_rooms/{room_id}/messages`), so the number of series stays bounded by the
//! route table, and no `/media` capability name or query string (which may hold a token) ever
//! reaches the output.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text (OpenMetrics, which Prometheus scrapes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Recording handle; `Metrics::off()` records nothing. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Families>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_on() { "Metrics(on)" } else { "Metrics(off)" })
    }
}

/// Labels of `natter_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Arc<str>,
    status: u16,
}

/// Labels of `natter_push_failed_total`: why a push message was not delivered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PushFailLabels {
    reason: &'static str,
}

/// How an outgoing webhook call ended (`natter_webhook_calls_total{outcome}`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// A 2xx answer without a reply.
    Ok,
    /// A 2xx answer whose text the bot posted.
    Replied,
    /// No answer within `--webhook-timeout`.
    Timeout,
    /// Any other failure: connection refused, a non-2xx status, a reply that could not be posted.
    Failed,
    /// Never made: the queue was full.
    Dropped,
}

impl WebhookOutcome {
    fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Ok => "ok",
            WebhookOutcome::Replied => "replied",
            WebhookOutcome::Timeout => "timeout",
            WebhookOutcome::Failed => "failed",
            WebhookOutcome::Dropped => "dropped",
        }
    }
}

/// Labels of `natter_webhook_calls_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    outcome: &'static str,
}

/// Labels of `natter_http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Arc<str>,
}

struct Families {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    socketio_connections: Gauge,
    socketio_slow_disconnects: Counter,
    online_users: Gauge,
    messages: Counter,
    db_commits: Counter,
    db_commit_duration: Histogram,
    db_commit_batch: Histogram,
    upload_bytes: Counter,
    webhook_calls: Family<WebhookLabels, Counter>,
    webhook_duration: Histogram,
    events_queued: Gauge,
    sqlite_memory: Gauge,
    uptime: Gauge<f64, AtomicU64>,
    push_sent: Counter,
    push_failed: Family<PushFailLabels, Counter>,
    push_dropped: Counter,
    push_subscriptions: Gauge,
}

/// Figures that are read, not counted, when `/metrics` is scraped.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    /// Users with at least one connected socket.
    pub online_users: usize,
    /// Domain events waiting for the Socket.IO fan-out.
    pub events_queued: usize,
    /// Write transactions committed since start.
    pub commits: u64,
    /// Bytes SQLite holds on the heap (page caches above all).
    pub sqlite_memory: u64,
    pub uptime: Duration,
    /// Web Push subscriptions stored.
    pub push_subscriptions: i64,
}

/// 0.5 ms to ~4 s: an HTTP request, or a commit with its fsync (0.3 ms on the dev VM's disk,
/// tens of ms on an SD card).
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0005, 2.0, 14)
}

fn request_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

impl Metrics {
    /// Records nothing (natter without `--metrics`).
    pub fn off() -> Metrics {
        Metrics(None)
    }

    /// Every family registered, each at zero.
    pub fn on() -> Metrics {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "natter_http_requests",
            "HTTP requests answered, by method, matched route template and status.",
            http_requests.clone(),
        );
        let http_duration =
            Family::<RouteLabels, Histogram>::new_with_constructor(request_histogram as fn() -> Histogram);
        registry.register(
            "natter_http_request_duration_seconds",
            "Time from receiving an HTTP request to its response, by method and matched route template.",
            http_duration.clone(),
        );
        let socketio_connections = Gauge::default();
        registry.register(
            "natter_socketio_connections",
            "Authenticated Socket.IO connections open now.",
            socketio_connections.clone(),
        );
        let socketio_slow_disconnects = Counter::default();
        registry.register(
            "natter_socketio_slow_disconnects",
            "Socket.IO connections closed because their outgoing queue was full (a client that stopped reading).",
            socketio_slow_disconnects.clone(),
        );
        let online_users = Gauge::default();
        registry.register("natter_online_users", "Users with at least one connected socket.", online_users.clone());
        let messages = Counter::default();
        registry.register("natter_messages", "Messages stored (REST and Socket.IO).", messages.clone());
        let db_commits = Counter::default();
        registry.register("natter_db_commits", "Write transactions committed.", db_commits.clone());
        let db_commit_duration = Histogram::new(latency_buckets());
        registry.register(
            "natter_db_commit_duration_seconds",
            "Time the writer spends on one transaction, BEGIN to the end of its COMMIT (fsync included).",
            db_commit_duration.clone(),
        );
        let db_commit_batch = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        registry.register(
            "natter_db_commit_batch_size",
            "Writes that shared one commit (group commit).",
            db_commit_batch.clone(),
        );
        let upload_bytes = Counter::default();
        registry.register("natter_upload_bytes", "Bytes of uploaded files stored.", upload_bytes.clone());
        let webhook_calls = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "natter_webhook_calls",
            "Outgoing webhook calls of bots, by outcome: ok, replied, timeout, failed, dropped (queue full). Never retried.",
            webhook_calls.clone(),
        );
        let webhook_duration = Histogram::new(latency_buckets());
        registry.register(
            "natter_webhook_duration_seconds",
            "Time from sending an outgoing webhook call to the end of its answer (or its failure).",
            webhook_duration.clone(),
        );
        let events_queued = Gauge::default();
        registry.register(
            "natter_events_queued",
            "Domain events waiting for the Socket.IO fan-out (the queue holds 4096; when full, the writer waits).",
            events_queued.clone(),
        );
        let sqlite_memory = Gauge::default();
        registry.register(
            "natter_sqlite_memory_bytes",
            "Heap memory SQLite holds now, page caches included (bounded by --db-cache plus statements).",
            sqlite_memory.clone(),
        );
        let uptime = Gauge::<f64, AtomicU64>::default();
        registry.register("natter_uptime_seconds", "Seconds since the server started.", uptime.clone());
        let push_sent = Counter::default();
        registry.register("natter_push_sent", "Web Push messages a push service accepted.", push_sent.clone());
        let push_failed = Family::<PushFailLabels, Counter>::default();
        registry.register(
            "natter_push_failed",
            "Web Push messages not delivered, by reason (gone, rejected, throttled, server_error, timeout, network, encrypt).",
            push_failed.clone(),
        );
        let push_dropped = Counter::default();
        registry.register(
            "natter_push_dropped",
            "Web Push messages dropped unsent because the push queue was full (the oldest go first).",
            push_dropped.clone(),
        );
        let push_subscriptions = Gauge::default();
        registry.register(
            "natter_push_subscriptions",
            "Web Push subscriptions stored (read when scraped).",
            push_subscriptions.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        registry.register_collector(Box::new(HeapCollector));
        Metrics(Some(Arc::new(Families {
            registry,
            http_requests,
            http_duration,
            socketio_connections,
            socketio_slow_disconnects,
            online_users,
            messages,
            db_commits,
            db_commit_duration,
            db_commit_batch,
            upload_bytes,
            webhook_calls,
            webhook_duration,
            events_queued,
            sqlite_memory,
            uptime,
            push_sent,
            push_failed,
            push_dropped,
            push_subscriptions,
        })))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// One HTTP request answered. `method` is one of the standard methods or `"other"`; `route`
    /// the matched template, or a fixed word for what matched none.
    pub fn http_request(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        let Some(m) = &self.0 else { return };
        let route: Arc<str> = Arc::from(route);
        m.http_requests.get_or_create(&RequestLabels { method, route: route.clone(), status }).inc();
        m.http_duration.get_or_create(&RouteLabels { method, route }).observe(took.as_secs_f64());
    }

    /// A transaction of `writes` writes committed after `took` (on the writer thread).
    pub fn commit(&self, writes: usize, took: Duration) {
        let Some(m) = &self.0 else { return };
        m.db_commit_duration.observe(took.as_secs_f64());
        m.db_commit_batch.observe(writes as f64);
    }

    /// A message was stored.
    pub fn message_stored(&self) {
        if let Some(m) = &self.0 {
            m.messages.inc();
        }
    }

    /// An upload of `bytes` was stored.
    pub fn upload_stored(&self, bytes: u64) {
        if let Some(m) = &self.0 {
            m.upload_bytes.inc_by(bytes);
        }
    }

    /// An outgoing webhook call ended with `outcome` after `took` (`None`: never made).
    pub fn webhook_call(&self, outcome: WebhookOutcome, took: Option<Duration>) {
        let Some(m) = &self.0 else { return };
        m.webhook_calls.get_or_create(&WebhookLabels { outcome: outcome.as_str() }).inc();
        if let Some(took) = took {
            m.webhook_duration.observe(took.as_secs_f64());
        }
    }

    /// A Socket.IO connection was authenticated (`true`) or closed (`false`); `online` users
    /// have at least one open now.
    pub fn socket(&self, opened: bool, online: usize) {
        let Some(m) = &self.0 else { return };
        if opened {
            m.socketio_connections.inc();
        } else {
            m.socketio_connections.dec();
        }
        m.online_users.set(i64::try_from(online).unwrap_or(i64::MAX));
    }

    /// A Socket.IO connection was closed because its outgoing queue was full.
    pub fn slow_disconnect(&self) {
        if let Some(m) = &self.0 {
            m.socketio_slow_disconnects.inc();
        }
    }

    /// A push service accepted a Web Push message.
    pub fn push_sent(&self) {
        if let Some(m) = &self.0 {
            m.push_sent.inc();
        }
    }

    /// A Web Push message was not delivered, for `reason` (a fixed word).
    pub fn push_failed(&self, reason: &'static str) {
        if let Some(m) = &self.0 {
            m.push_failed.get_or_create(&PushFailLabels { reason }).inc();
        }
    }

    /// `count` Web Push messages were dropped from the full queue.
    pub fn push_dropped(&self, count: u64) {
        if let Some(m) = &self.0 {
            m.push_dropped.inc_by(count);
        }
    }

    /// The Prometheus (OpenMetrics) text of every family, with `live` figures; `None` when off.
    pub fn render(&self, live: Live) -> Option<String> {
        let m = self.0.as_ref()?;
        m.online_users.set(i64::try_from(live.online_users).unwrap_or(i64::MAX));
        m.events_queued.set(i64::try_from(live.events_queued).unwrap_or(i64::MAX));
        m.sqlite_memory.set(i64::try_from(live.sqlite_memory).unwrap_or(i64::MAX));
        m.uptime.set(live.uptime.as_secs_f64());
        m.push_subscriptions.set(live.push_subscriptions);
        // The writer counts commits since the engine opened, metrics or not: take its figure.
        let counted = m.db_commits.get();
        if live.commits > counted {
            m.db_commits.inc_by(live.commits - counted);
        }
        let mut text = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &m.registry);
        Some(text)
    }
}

/// The allocator's `natter_heap_*` figures (glibc; elsewhere they are left out).
#[derive(Debug)]
struct HeapCollector;

impl prometheus_client::collector::Collector for HeapCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(heap) = crate::runtime::memory::heap_stats() else { return Ok(()) };
        for (name, help, value) in [
            ("natter_heap_in_use_bytes", "Bytes the allocator has handed out and not had back.", heap.in_use),
            ("natter_heap_free_bytes", "Bytes freed but kept in the allocator's arenas.", heap.free),
        ] {
            ConstGauge::new(value as f64).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)?;
        }
        Ok(())
    }
}

/// The standard `process_*` families, read from `/proc/self` at each scrape (Linux; elsewhere
/// they are left out).
#[derive(Debug)]
struct ProcessCollector;

/// What `/proc/self` says about this process.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    pub start_time_seconds: f64,
    pub threads: u64,
}

impl ProcessStats {
    /// This process's figures, or `None` where `/proc` cannot be read.
    pub fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let mut stats = parse_stat(&stat, clock_ticks(), page_size())?;
        stats.open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        stats.max_fds = std::fs::read_to_string("/proc/self/limits").ok().and_then(|l| parse_max_fds(&l));
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse::<f64>().ok())
        })?;
        stats.start_time_seconds += boot;
        Some(stats)
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|s| *s > 0).unwrap_or(4096)
}

/// `/proc/self/stat`: utime + stime (fields 14, 15), threads (20), start time since boot (22),
/// virtual size (23) and resident pages (24). The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from its closing parenthesis.
fn parse_stat(stat: &str, ticks: f64, page: u64) -> Option<ProcessStats> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 (state).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(ProcessStats {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        threads: field(20)?,
        start_time_seconds: field(22)? as f64 / ticks,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page,
        open_fds: 0,
        max_fds: None,
    })
}

/// The soft limit on open files from `/proc/self/limits`.
fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

impl prometheus_client::collector::Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(stats) = ProcessStats::read() else { return Ok(()) };
        let counter = |encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64| {
            ConstCounter::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)
        };
        let gauge = |encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64| {
            ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
        };
        counter(&mut encoder, "process_cpu_seconds", "User and system CPU time spent in seconds.", stats.cpu_seconds)?;
        gauge(
            &mut encoder,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            stats.resident_bytes as f64,
        )?;
        gauge(
            &mut encoder,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            stats.virtual_bytes as f64,
        )?;
        gauge(&mut encoder, "process_open_fds", "Number of open file descriptors.", stats.open_fds as f64)?;
        if let Some(max) = stats.max_fds {
            gauge(&mut encoder, "process_max_fds", "Maximum number of open file descriptors.", max as f64)?;
        }
        gauge(
            &mut encoder,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds.",
            stats.start_time_seconds,
        )?;
        gauge(&mut encoder, "process_threads", "Number of OS threads in the process.", stats.threads as f64)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        // A name with a space and a parenthesis, as `comm` may be.
        let stat = "4242 (nat ter)) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 7 0 12345 \
                    104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let stats = parse_stat(stat, 100.0, 4096).expect("parses");
        assert_eq!(stats.cpu_seconds, 3.0);
        assert_eq!(stats.threads, 7);
        assert_eq!(stats.start_time_seconds, 123.45);
        assert_eq!(stats.virtual_bytes, 104_857_600);
        assert_eq!(stats.resident_bytes, 2560 * 4096);
    }

    #[test]
    fn max_open_files_is_the_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
    }

    #[test]
    fn off_records_nothing_and_renders_nothing() {
        let off = Metrics::off();
        off.message_stored();
        off.commit(3, Duration::from_millis(1));
        let live = Live {
            online_users: 0,
            events_queued: 0,
            commits: 0,
            sqlite_memory: 0,
            uptime: Duration::ZERO,
            push_subscriptions: 0,
        };
        assert!(off.render(live).is_none());
    }

    #[test]
    fn families_render_with_their_fixed_names() {
        let on = Metrics::on();
        on.message_stored();
        on.commit(4, Duration::from_millis(2));
        on.http_request("GET", "/healthz", 200, Duration::from_millis(1));
        let live = Live {
            online_users: 2,
            events_queued: 1,
            commits: 7,
            sqlite_memory: 4096,
            uptime: Duration::from_secs(3),
            push_subscriptions: 0,
        };
        let text = on.render(live).expect("on");
        for line in [
            "natter_messages_total 1",
            "natter_db_commits_total 7",
            "natter_online_users 2",
            "natter_events_queued 1",
            "natter_sqlite_memory_bytes 4096",
            "natter_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1",
            "natter_db_commit_batch_size_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
        }
    }
}

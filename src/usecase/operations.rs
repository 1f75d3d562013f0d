//! Operations: whether the server can serve (`/healthz`) and what it is doing (`/metrics`).

use std::sync::Arc;
use std::time::Instant;

use crate::error::ApiResult;
use crate::runtime::metrics::{Live, Metrics};
use crate::storage::db::{self, Db};
use crate::usecase::chat::Events;
use crate::usecase::presence::Presence;

/// What [`Operations::health`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// No account exists yet: the first one to sign up becomes the administrator.
    pub first_run: bool,
}

pub struct Operations {
    db: Db,
    presence: Arc<Presence>,
    events: Events,
    metrics: Metrics,
    started: Instant,
}

impl Operations {
    pub fn new(db: Db, presence: Arc<Presence>, events: Events, metrics: Metrics) -> Operations {
        Operations { db, presence, events, metrics, started: Instant::now() }
    }

    /// Ok when the database answers a query; the answer says whether this is a first run (no
    /// account yet), which the web UI uses to open on sign-up and the start message to say who
    /// becomes the administrator.
    pub async fn health(&self) -> ApiResult<Health> {
        let any_account = self.db.read(db::any_account).await?;
        Ok(Health { first_run: !any_account })
    }

    /// The Prometheus text of every family (see [`crate::runtime::metrics`]); `None` without `--metrics`.
    pub fn metrics_text(&self) -> Option<String> {
        self.metrics.render(Live {
            online_users: self.presence.online_count(),
            events_queued: self.events.depth(),
            commits: self.db.commit_count(),
            sqlite_memory: db::sqlite_memory_bytes(),
            uptime: self.started.elapsed(),
            // Scrapes are rare; a count over a small indexed table costs microseconds.
            push_subscriptions: self.db.read_blocking(db::push::count).unwrap_or(0),
        })
    }
}

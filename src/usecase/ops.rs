//! Operations: whether the server can serve (`/healthz`) and what it is doing (`/metrics`).

use std::sync::Arc;
use std::time::Instant;

use crate::db::{self, Db};
use crate::error::ApiResult;
use crate::metrics::{Live, Metrics};
use crate::usecase::chat::Events;
use crate::usecase::presence::Presence;

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

    /// Ok when the database answers a query.
    pub async fn health(&self) -> ApiResult<()> {
        Ok(self.db.read(db::ping).await?)
    }

    /// The Prometheus text of every family (see [`crate::metrics`]); `None` without `--metrics`.
    pub fn metrics_text(&self) -> Option<String> {
        self.metrics.render(Live {
            online_users: self.presence.online_count(),
            events_queued: self.events.depth(),
            commits: self.db.commit_count(),
            uptime: self.started.elapsed(),
        })
    }
}

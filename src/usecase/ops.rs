//! Operations: whether the server can serve (`/healthz`) and what it is doing (`/metrics`).

use std::sync::Arc;
use std::time::Instant;

use crate::db::{self, Db};
use crate::error::ApiResult;
use crate::usecase::chat::Events;
use crate::usecase::presence::Presence;

pub struct Operations {
    db: Db,
    presence: Arc<Presence>,
    events: Events,
    started: Instant,
}

/// The figures `/metrics` reports.
#[derive(Debug, Clone, Copy)]
pub struct Metrics {
    /// Write transactions committed (each may hold many writes).
    pub commits: u64,
    /// Users with at least one connected socket.
    pub online_users: usize,
    /// Domain events waiting for the realtime fan-out.
    pub events_queued: usize,
    pub uptime_secs: u64,
}

impl Operations {
    pub fn new(db: Db, presence: Arc<Presence>, events: Events) -> Operations {
        Operations { db, presence, events, started: Instant::now() }
    }

    /// Ok when the database answers a query.
    pub async fn health(&self) -> ApiResult<()> {
        Ok(self.db.read(db::ping).await?)
    }

    pub fn metrics(&self) -> Metrics {
        Metrics {
            commits: self.db.commit_count(),
            online_users: self.presence.online_count(),
            events_queued: self.events.depth(),
            uptime_secs: self.started.elapsed().as_secs(),
        }
    }
}

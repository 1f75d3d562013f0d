//! Operations: whether the server can serve (`/healthz`) and what it is doing (`/metrics`).

use std::sync::Arc;
use std::time::Instant;

use crate::db::{self, Db};
use crate::error::ApiResult;
use crate::presence::Presence;

pub struct Operations {
    db: Db,
    presence: Arc<Presence>,
    started: Instant,
}

/// The figures `/metrics` reports.
#[derive(Debug, Clone, Copy)]
pub struct Metrics {
    /// Write transactions committed (each may hold many writes).
    pub commits: u64,
    /// Users with at least one connected socket.
    pub online_users: usize,
    pub uptime_secs: u64,
}

impl Operations {
    pub fn new(db: Db, presence: Arc<Presence>) -> Operations {
        Operations { db, presence, started: Instant::now() }
    }

    /// Ok when the database answers a query.
    pub async fn health(&self) -> ApiResult<()> {
        Ok(self.db.read(db::ping).await?)
    }

    pub fn metrics(&self) -> Metrics {
        Metrics {
            commits: self.db.commit_count(),
            online_users: self.presence.online_count(),
            uptime_secs: self.started.elapsed().as_secs(),
        }
    }
}

//! The service's own health: readiness for load balancers and figures for `/metrics`.

use domain::job::JobStatus;
use serde::Serialize;

use crate::{App, Result};

/// Whether this server can take traffic.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Readiness {
    pub ready: bool,
    pub database: String,
    pub migrations: String,
    /// The realtime bus between nodes: `ok`, or why it is down (the node still serves;
    /// other nodes' events reach its clients on the hub's poll instead of at once).
    pub bus: String,
    pub bus_kind: &'static str,
    /// The NATS event publisher: `off`, `ok (lag N)` or `degraded: <why> (lag N)` (the
    /// node still serves; the events wait in the log).
    pub events_publisher: String,
}

/// Checks the database answers and its schema matches this binary.
pub async fn readiness(app: &App) -> Readiness {
    let bus = app.hub().bus();
    let mut readiness = database_readiness(app).await;
    readiness.bus_kind = bus.kind;
    readiness.bus = bus
        .down
        .map_or_else(|| "ok".into(), |why| format!("degraded: {why}"));
    readiness.events_publisher = app.nats_publisher().report().describe();
    readiness
}

async fn database_readiness(app: &App) -> Readiness {
    if let Err(error) = app.db().ping().await {
        return Readiness {
            ready: false,
            database: format!("unreachable: {error}"),
            migrations: "unknown".into(),
            ..Readiness::default()
        };
    }
    match store::migrations::status(app.db()).await {
        Ok(status) if status.is_current() => Readiness {
            ready: true,
            database: "ok".into(),
            migrations: "current".into(),
            ..Readiness::default()
        },
        Ok(status) => Readiness {
            ready: false,
            database: "ok".into(),
            migrations: if status.unknown.is_empty() {
                format!("pending: {:?}", status.pending)
            } else {
                format!("database is newer than this binary: {:?}", status.unknown)
            },
            ..Readiness::default()
        },
        Err(error) => Readiness {
            ready: false,
            database: "ok".into(),
            migrations: format!("cannot read: {error}"),
            ..Readiness::default()
        },
    }
}

/// Jobs per status, every status present (zero when empty).
pub async fn job_counts(app: &App) -> Result<Vec<(JobStatus, i64)>> {
    let counts = store::jobs::counts(app.db()).await?;
    Ok([
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Dead,
    ]
    .into_iter()
    .map(|status| {
        let n = counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n);
        (status, n)
    })
    .collect())
}

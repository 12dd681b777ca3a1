//! The error log: every 5xx the server answers, kept for platform staff (issue 18). The web
//! layer describes each failure once, after the response is built, and hands it to the
//! [`Recorder`] without waiting; one writer task ([`run`]) stores the entries. When the
//! database is slow or down (often the very cause of the 5xx) the writes back up, the
//! bounded queue fills and further entries are dropped and counted
//! (`error_log_dropped_total{reason}`) instead of piling up tasks or slowing requests.
//! Retention (`error_log_retention_days`, `error_log_max_rows`) is a sweep of the job
//! workers ([`sweep`]).

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use domain::ErrorLogId;
use domain::auth::Actor;
use domain::error_log::{ErrorEntry, Failure};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{App, Result, access};

/// Failures waiting for the writer; past this they are dropped.
const QUEUE: usize = 256;
/// How long the writer may keep writing what is queued once the server stops.
const DRAIN_FOR: Duration = Duration::from_secs(5);

/// Hands failures to the writer task; cheap to call from any request.
pub struct Recorder {
    sender: mpsc::Sender<Failure>,
    /// Taken by the one writer ([`run`]).
    receiver: Mutex<Option<mpsc::Receiver<Failure>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl Recorder {
    /// Queues `failure` for the writer, or drops and counts it when the queue is full (or
    /// no writer runs).
    pub fn record(&self, failure: Failure) {
        if let Err(error) = self.sender.try_send(failure) {
            let reason = match error {
                mpsc::error::TrySendError::Full(_) => "queue_full",
                mpsc::error::TrySendError::Closed(_) => "stopped",
            };
            metrics::counter!("error_log_dropped_total", "reason" => reason).increment(1);
        }
    }
}

/// Writes queued failures until `shutdown`, then what is still queued (for a few seconds at
/// most). Only the first call on an [`App`] writes; another returns at once.
pub async fn run(app: App, shutdown: CancellationToken) {
    let receiver = app
        .error_log()
        .receiver
        .lock()
        .ok()
        .and_then(|mut slot| slot.take());
    let Some(mut receiver) = receiver else {
        return;
    };
    let mut failing = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            failure = receiver.recv() => match failure {
                Some(failure) => store_one(&app, failure, &mut failing).await,
                None => return,
            },
        }
    }
    receiver.close();
    let draining = async {
        while let Some(failure) = receiver.recv().await {
            store_one(&app, failure, &mut failing).await;
        }
    };
    if tokio::time::timeout(DRAIN_FOR, draining).await.is_err() {
        tracing::warn!("the error log could not write every queued entry before stopping");
    }
}

/// Writes one entry; a failed write drops it, counted, and warns once per outage.
async fn store_one(app: &App, failure: Failure, failing: &mut bool) {
    match write(app, failure).await {
        Ok(_) if *failing => {
            *failing = false;
            tracing::info!("the error log is written again");
        }
        Ok(_) => {}
        Err(error) => {
            metrics::counter!("error_log_dropped_total", "reason" => "write_failed").increment(1);
            if !*failing {
                *failing = true;
                tracing::warn!(%error, "cannot write the error log; entries are dropped");
            }
        }
    }
}

/// Stores one failure now. The writer's one write; tests use it to plant entries.
pub async fn write(app: &App, failure: Failure) -> Result<ErrorLogId> {
    Ok(store::error_log::insert(app.db(), failure).await?)
}

/// A page of entries, newest first, and how many there are in all (platform staff).
pub async fn list(
    app: &App,
    actor: &Actor,
    after: Option<ErrorLogId>,
    limit: u32,
) -> Result<(Vec<ErrorEntry>, i64)> {
    access::require_staff(actor)?;
    let total = store::error_log::count(app.db()).await?;
    let entries = store::error_log::list(app.db(), after, limit).await?;
    Ok((entries, total))
}

/// How many entries there are (platform staff).
pub async fn count(app: &App, actor: &Actor) -> Result<i64> {
    access::require_staff(actor)?;
    Ok(store::error_log::count(app.db()).await?)
}

/// One entry (platform staff).
pub async fn get(app: &App, actor: &Actor, id: ErrorLogId) -> Result<ErrorEntry> {
    access::require_staff(actor)?;
    Ok(store::error_log::get(app.db(), id).await?)
}

/// Deletes one entry (platform staff).
pub async fn delete(app: &App, actor: &Actor, id: ErrorLogId) -> Result<()> {
    access::require_staff(actor)?;
    Ok(store::error_log::delete(app.db(), id).await?)
}

/// Deletes every entry (platform staff); returns how many there were.
pub async fn clear(app: &App, actor: &Actor) -> Result<u64> {
    access::require_staff(actor)?;
    Ok(store::error_log::clear(app.db()).await?)
}

/// Applies the retention settings: deletes entries older than `error_log_retention_days`,
/// then the oldest beyond `error_log_max_rows`. Returns how many went.
pub async fn sweep(app: &App) -> Result<u64> {
    let settings = app.settings();
    let before = Utc::now() - chrono::Duration::days(i64::from(settings.error_log_retention_days));
    let aged = store::error_log::delete_older_than(app.db(), before).await?;
    let over = store::error_log::keep_newest(app.db(), settings.error_log_max_rows).await?;
    Ok(aged + over)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_rather_than_waits() {
        let recorder = Recorder::default();
        let failure = Failure {
            at: Utc::now(),
            method: "GET".into(),
            route: "/".into(),
            status: 500,
            request_id: "r".into(),
            company_id: None,
            user_id: None,
            kind: domain::error_log::FailureKind::Status,
            summary: "s".into(),
        };
        // No writer runs: the queue fills and every further entry returns at once.
        for _ in 0..QUEUE + 10 {
            recorder.record(failure.clone());
        }
        assert_eq!(recorder.sender.capacity(), 0);
    }
}

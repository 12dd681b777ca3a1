//! The job worker loop that `serve` runs, and the registry of job handlers.
//!
//! Workers claim due jobs under a lease, run the handler for the job's kind with a time
//! limit, and record the outcome: done, retry later with exponential back-off and jitter,
//! or a dead letter once `max_attempts` is used up. On shutdown a worker stops claiming
//! and finishes the job in hand.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::backoff::Backoff;
use domain::job::Job;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::App;

/// How a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (network error, 5xx, timeout).
    #[error("{0}")]
    Retry(String),
    /// Trying again cannot help (bad payload, 4xx): dead letter now.
    #[error("{0}")]
    Permanent(String),
    /// Worth trying again at `at`: the handler keeps its own schedule.
    #[error("{error}")]
    RetryAt {
        at: chrono::DateTime<Utc>,
        error: String,
    },
    /// Not now (an open circuit breaker, a paused endpoint): run again at `at`, and this
    /// run does not count as an attempt.
    #[error("{why}")]
    Defer {
        at: chrono::DateTime<Utc>,
        why: String,
    },
}

/// Longest a remote service's `Retry-After` may hold a job back: a bogus one must not park
/// it for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

impl JobError {
    /// Try again when the remote service asked (`Retry-After`, capped at
    /// [`MAX_RETRY_AFTER`]), else on the queue's back-off.
    pub fn retry_after(pause: Option<Duration>, error: String) -> Self {
        match pause {
            Some(pause) => JobError::RetryAt {
                at: Utc::now()
                    + chrono::Duration::from_std(pause.min(MAX_RETRY_AFTER)).unwrap_or_default(),
                error,
            },
            None => JobError::Retry(error),
        }
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs one kind of job.
pub trait JobHandler: Send + Sync + 'static {
    fn run(&self, app: App, job: Job) -> JobFuture;
}

impl<F, Fut> JobHandler for F
where
    F: Fn(App, Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn run(&self, app: App, job: Job) -> JobFuture {
        Box::pin(self(app, job))
    }
}

/// One periodic piece of upkeep (see [`JobRegistry::sweep`]).
pub trait Sweep: Send + Sync + 'static {
    fn run(&self, app: App) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

impl<F, Fut> Sweep for F
where
    F: Fn(App) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn run(&self, app: App) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self(app))
    }
}

/// Job kinds and their handlers, and the periodic sweeps. This module knows no handler:
/// [`crate::registry`] assembles TicketFlower's own, so the queue depends on nothing above it.
#[derive(Clone)]
pub struct JobRegistry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    sweeps: Vec<Arc<dyn Sweep>>,
    /// Longest a single run may take before it counts as a failed attempt.
    pub timeout: Duration,
    pub backoff: Backoff,
}

impl Default for JobRegistry {
    fn default() -> Self {
        Self {
            handlers: HashMap::new(),
            sweeps: Vec::new(),
            timeout: Duration::from_secs(60),
            backoff: Backoff::default(),
        }
    }
}

impl JobRegistry {
    /// Adds a sweep the workers run once a minute.
    pub fn sweep(mut self, sweep: impl Sweep) -> Self {
        self.sweeps.push(Arc::new(sweep));
        self
    }

    /// Adds (or replaces) the handler for `kind`.
    pub fn register(mut self, kind: &str, handler: impl JobHandler) -> Self {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }
}

/// Runs `count` workers until `shutdown` is cancelled; resolves when all have stopped.
pub async fn run_workers(app: App, count: usize, shutdown: CancellationToken) {
    let mut workers = tokio::task::JoinSet::new();
    let host = std::process::id();
    for n in 0..count {
        let app = app.clone();
        let shutdown = shutdown.clone();
        let name = format!("worker-{host}-{n}-{}", uuid::Uuid::now_v7().simple());
        workers.spawn(async move { worker_loop(app, name, shutdown).await });
    }
    let sweeper = app.clone();
    workers.spawn(async move { sweep_loop(sweeper, shutdown).await });
    while workers.join_next().await.is_some() {}
}

/// Runs the registry's sweeps once a minute.
async fn sweep_loop(app: App, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = every.tick() => {
                for sweep in app.job_registry().sweeps.clone() {
                    sweep.run(app.clone()).await;
                }
            }
        }
    }
}

async fn worker_loop(app: App, name: String, shutdown: CancellationToken) {
    let poll = Duration::from_millis(app.settings().job_poll_ms.max(10));
    tracing::debug!(worker = %name, "job worker started");
    while !shutdown.is_cancelled() {
        let ran = match run_one(&app, &name).await {
            Ok(ran) => ran,
            Err(error) => {
                tracing::error!(worker = %name, %error, "job queue unavailable");
                false
            }
        };
        if !ran {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = app.job_wakeup() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
    tracing::debug!(worker = %name, "job worker stopped");
}

/// Claims and runs at most one due job; returns whether there was one.
pub async fn run_one(app: &App, worker: &str) -> crate::Result<bool> {
    let registry = app.job_registry();
    // The margin lets a slow handler record its outcome; a dead worker's job is taken up
    // again after the lease.
    let margin = registry.timeout.min(Duration::from_secs(30));
    let lease =
        chrono::Duration::from_std(registry.timeout + margin).map_err(crate::AppError::internal)?;
    let Some(job) = store::jobs::claim(app.db(), worker, 1, Utc::now() + lease)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(false);
    };
    run_job(app, worker, job).await?;
    Ok(true)
}

/// Runs one claimed job and records its outcome. The span names the job by kind, id and
/// attempt only: payloads may hold personal data.
#[tracing::instrument(name = "job", skip_all,
    fields(job.kind = %job.kind, job.id = %job.id, job.attempt = job.attempts, worker = %worker))]
async fn run_job(app: &App, worker: &str, job: Job) -> crate::Result<()> {
    let registry = app.job_registry();
    let outcome = match registry.handler(&job.kind) {
        None => Err(JobError::Permanent(format!(
            "no handler for job kind `{}`",
            job.kind
        ))),
        Some(handler) => {
            match tokio::time::timeout(registry.timeout, handler.run(app.clone(), job.clone()))
                .await
            {
                Ok(result) => result,
                Err(_) => Err(JobError::Retry(format!(
                    "timed out after {}s",
                    registry.timeout.as_secs()
                ))),
            }
        }
    };
    let kind = job.kind.clone();
    match outcome {
        Ok(()) => {
            store::jobs::complete(app.db(), job.id, worker).await?;
            metrics_outcome(&kind, "done");
        }
        Err(JobError::Defer { at, why }) => {
            store::jobs::defer(app.db(), job.id, worker, &why, at).await?;
            metrics_outcome(&kind, "deferred");
        }
        Err(error) => {
            let retry_at = match &error {
                JobError::RetryAt { at, .. } if job.attempts < job.max_attempts => Some(*at),
                JobError::Retry(_) if job.attempts < job.max_attempts => {
                    let jitter: f64 = rand::rng().random();
                    let delay = registry.backoff.delay(job.attempts, jitter);
                    chrono::Duration::from_std(delay)
                        .ok()
                        .map(|delay| Utc::now() + delay)
                }
                _ => None,
            };
            let outcome = if retry_at.is_some() { "retry" } else { "dead" };
            tracing::warn!(%error, outcome, "job failed");
            store::jobs::fail(app.db(), job.id, worker, &error.to_string(), retry_at).await?;
            metrics_outcome(&kind, outcome);
        }
    }
    Ok(())
}

fn metrics_outcome(kind: &str, outcome: &'static str) {
    metrics::counter!("ticketflower_jobs_finished_total", "kind" => kind.to_owned(), "outcome" => outcome)
        .increment(1);
}

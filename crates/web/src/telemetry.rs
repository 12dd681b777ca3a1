//! The metrics listener: Prometheus text at `/metrics` on its own address
//! (`metrics_bind`), so the scrape endpoint is never exposed with the public port.
//!
//! A scrape only renders what is already recorded; it never queries the database. The job
//! queue's depth (`ticketflower_jobs{status}`) is counted by a background task every
//! `metrics_refresh_secs` instead, so scrapes cost the database nothing and still answer
//! while it is down, with the last counts and their time
//! (`ticketflower_jobs_refreshed_timestamp_seconds`). The same task copies the
//! authentication cache's counts (`ticketflower_auth_lookups_total{source}`). Those live in
//! a recorder of this server's own: they describe this server, and one process may run
//! several servers (the tests do), each of which would overwrite the others' in the global
//! one.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use app::App;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use tokio_util::sync::CancellationToken;

/// The process-wide Prometheus recorder of request, job and throttle metrics (the
/// `metrics` facade allows exactly one).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &buckets,
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                Err(error) => {
                    tracing::warn!(%error, "metrics recorder already installed elsewhere");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// This server's job queue gauges, as of the last refresh.
#[derive(Clone)]
pub struct JobGauges {
    recorder: Arc<PrometheusRecorder>,
}

impl Default for JobGauges {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_gauge!(
                "ticketflower_jobs",
                "Jobs in the queue by status, as of the last refresh"
            );
            metrics::describe_gauge!(
                "ticketflower_jobs_refreshed_timestamp_seconds",
                "When ticketflower_jobs was last counted (Unix time)"
            );
            metrics::describe_counter!(
                "ticketflower_sqlite_commits_total",
                "Durable commits of SQLite's writer (group commit: one carries many changes)"
            );
            metrics::describe_counter!(
                "ticketflower_sqlite_changes_total",
                "Changes committed by SQLite's writer"
            );
            metrics::describe_counter!(
                "ticketflower_sqlite_statements_total",
                "Statements run by changes on SQLite's writer"
            );
            metrics::describe_counter!(
                "ticketflower_auth_lookups_total",
                "Requests authenticated from this server's memory or by reading the database"
            );
        });
        Self {
            recorder: Arc::new(recorder),
        }
    }
}

impl JobGauges {
    /// Counts the jobs by status; on failure the previous counts stay, and their timestamp
    /// shows their age.
    async fn refresh(&self, app: &App) -> Result<(), app::AppError> {
        // Counted by the cache itself, so that a request pays no registry look-up for it.
        let auth = app.auth_cache().stats();
        metrics::with_local_recorder(self.recorder.as_ref(), || {
            metrics::counter!("ticketflower_auth_lookups_total", "source" => "memory")
                .absolute(auth.hits);
            metrics::counter!("ticketflower_auth_lookups_total", "source" => "database")
                .absolute(auth.loads);
        });
        let counts = app::infra::system::job_counts(app).await?;
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        metrics::with_local_recorder(self.recorder.as_ref(), || {
            for (status, n) in counts {
                metrics::gauge!("ticketflower_jobs", "status" => status.as_str()).set(n as f64);
            }
            metrics::gauge!("ticketflower_jobs_refreshed_timestamp_seconds").set(now);
            if let Some(writer) = app.db().commit_stats() {
                metrics::counter!("ticketflower_sqlite_commits_total").absolute(writer.commits);
                metrics::counter!("ticketflower_sqlite_changes_total").absolute(writer.changes);
                metrics::counter!("ticketflower_sqlite_statements_total")
                    .absolute(writer.statements);
            }
        });
        Ok(())
    }

    fn render(&self) -> String {
        self.recorder.handle().render()
    }
}

/// Refreshes `gauges` at once and then every `every` until `shutdown` is cancelled.
pub async fn refresh_job_gauges(
    app: App,
    gauges: JobGauges,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let refreshing = async {
        loop {
            ticks.tick().await;
            match gauges.refresh(&app).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("job gauges are counted again");
                }
                Ok(()) => {}
                // Once per outage: the database being down is reported by /readyz too.
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "cannot count jobs; the metrics keep the last counts");
                }
                Err(_) => {}
            }
        }
    };
    shutdown.run_until_cancelled(refreshing).await;
}

/// How often the request histograms are drained into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Drains the global recorder's histograms every few seconds until `shutdown` is cancelled.
/// The recorder keeps every recorded latency until it is drained (a scrape does that too),
/// so without this a server nobody scrapes grows by 8 bytes a request, without bound.
pub async fn keep_up(shutdown: CancellationToken) {
    let handle = metrics_handle();
    let mut ticks = tokio::time::interval(UPKEEP_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let upkeep = async {
        loop {
            ticks.tick().await;
            handle.run_upkeep();
        }
    };
    shutdown.run_until_cancelled(upkeep).await;
}

#[derive(Clone)]
struct Scrape {
    global: PrometheusHandle,
    jobs: JobGauges,
}

/// The metrics listener's routes: `GET /metrics`, nothing else.
pub fn router(jobs: JobGauges) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(Scrape {
            global: metrics_handle(),
            jobs,
        })
}

/// Prometheus text: request counts and latency histograms by route, jobs finished by kind
/// and outcome, throttles, and the job queue's depth by status.
async fn metrics(State(scrape): State<Scrape>) -> impl IntoResponse {
    let mut text = scrape.global.render();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&scrape.jobs.render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

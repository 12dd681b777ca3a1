//! Prometheus metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::WebState;

/// Prometheus text: request counts and latency histograms by route, and the job queue's
/// depth by status (read from the database at scrape time, so every server reports it).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<WebState>) -> impl IntoResponse {
    match app::infra::system::job_counts(&state.app).await {
        Ok(counts) => {
            for (status, n) in counts {
                metrics::gauge!("ticketflower_jobs", "status" => status.as_str()).set(n as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "cannot count jobs for /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// This module's operations, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

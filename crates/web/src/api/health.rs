//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::Problem;
use crate::state::WebState;

/// Liveness answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    pub status: &'static str,
    pub version: &'static str,
}

/// Readiness answer.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `ok`, or why the database cannot be used.
    pub database: String,
    /// `current`, or which migrations are pending.
    pub migrations: String,
    /// The realtime bus between nodes and its state: `local: ok`, `postgres: ok`, or
    /// `nats: degraded: <why>` (the node stays ready: its hub polls the log meanwhile).
    pub bus: String,
    /// The NATS JetStream event publisher: `off` (no `TICKETFLOWER_NATS_URL`), `ok (lag N)`,
    /// or `degraded: <why> (lag N)` while the broker is away (the node stays ready: events
    /// wait in the log and are published when it returns). `N`: events not yet published.
    pub events_publisher: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The database is reachable and its schema is current.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready for traffic", body = Ready),
        (status = 503, description = "Not ready: the report; or the check did not finish in time: a problem", content(
            (Ready = "application/json"),
            (Problem = "application/problem+json"),
        )),
    ))]
pub async fn readyz(State(state): State<WebState>) -> impl IntoResponse {
    let readiness = app::infra::system::readiness(&state.app).await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Ready {
            status: if readiness.ready {
                "ready"
            } else {
                "not_ready"
            },
            database: readiness.database,
            migrations: readiness.migrations,
            bus: format!("{}: {}", readiness.bus_kind, readiness.bus),
            events_publisher: readiness.events_publisher,
        }),
    )
}

/// This module's operations, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

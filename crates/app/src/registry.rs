//! TicketFlower's own job handlers and periodic sweeps, assembled in one place above the
//! contexts that define them, so the job queue (`infra::jobs`) depends on none of them.

use crate::App;
use crate::infra::jobs::JobRegistry;
use crate::{
    conversations, deliveries, identity, infra, mobile_push, notifications, runtime, web_push,
};

/// Every job kind TicketFlower enqueues, with its handler, and the minute sweeps.
pub fn standard() -> JobRegistry {
    JobRegistry::default()
        .register(infra::mail::JOB_KIND, infra::mail::send)
        .register(runtime::engine::ACTION_JOB, runtime::actions::run)
        .register(deliveries::JOB_KIND, deliveries::run)
        .register(notifications::email::JOB_KIND, notifications::email::send)
        .register(mobile_push::JOB_KIND, mobile_push::deliver)
        .register(web_push::JOB_KIND, web_push::deliver)
        .register(
            identity::accounts::RESET_JOB,
            identity::accounts::start_password_reset,
        )
        .sweep(stalled_workflows)
        .sweep(search_index)
        .sweep(message_search_index)
        .sweep(deliveries::measure_sweep)
        .sweep(error_log_retention)
}

/// Reports workflows that stopped moving (see [`runtime::engine::sweep_stalled`]).
async fn stalled_workflows(app: App) {
    if let Err(error) = runtime::engine::sweep_stalled(&app).await {
        tracing::warn!(%error, "stalled-workflow sweep failed");
    }
}

/// Indexes tickets that have no search text yet (see [`runtime::data::reindex_missing`]).
async fn search_index(app: App) {
    match runtime::data::reindex_missing(&app).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "tickets indexed for search"),
        Err(error) => tracing::warn!(%error, "search re-indexing failed"),
    }
}

/// Indexes conversation messages that have no search words yet (see
/// [`conversations::search::index_missing`]).
async fn message_search_index(app: App) {
    match conversations::search::index_missing(&app).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "messages indexed for search"),
        Err(error) => tracing::warn!(%error, "message search indexing failed"),
    }
}

/// Keeps the error log within its retention (see [`infra::error_log::sweep`]).
async fn error_log_retention(app: App) {
    match infra::error_log::sweep(&app).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "error log entries past retention deleted"),
        Err(error) => tracing::warn!(%error, "error log retention failed"),
    }
}

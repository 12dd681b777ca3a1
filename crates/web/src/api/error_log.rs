//! The error log for platform staff (issue 18): every 5xx the server answered, newest
//! first. What is recorded, and how, is `middleware::finish_response` and
//! `app::infra::error_log`; these operations only read and clear it.

use app::infra::error_log;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ErrorLogId;
use domain::error_log::ErrorEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{AppPath, AppQuery};
use crate::problem::ApiResult;
use crate::state::WebState;

/// Where a list of the error log goes on.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ErrorLogQuery {
    /// The `next_cursor` of the page before.
    cursor: Option<uuid::Uuid>,
    /// Entries per page, 1 to 200 (default 50).
    limit: Option<u32>,
    /// Only the count: `items` is left empty.
    #[serde(default)]
    count_only: bool,
}

/// A page of the error log, and how many entries it holds in all.
#[derive(Serialize, ToSchema)]
pub struct ErrorLogPage {
    pub items: Vec<ErrorEntry>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Entries in the whole log.
    pub count: i64,
}

/// What clearing the error log deleted.
#[derive(Serialize, ToSchema)]
pub struct ErrorLogCleared {
    pub deleted: u64,
}

/// Every 5xx the server answered, newest first (platform staff).
#[utoipa::path(get, operation_id = "platform_error_list", path = "/api/v1/platform/errors", tag = "platform", params(ErrorLogQuery),
    responses((status = 200, description = "A page of the error log", body = ErrorLogPage)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<ErrorLogQuery>,
) -> ApiResult<Json<ErrorLogPage>> {
    if query.count_only {
        let count = error_log::count(&state.app, &actor).await?;
        return Ok(Json(ErrorLogPage {
            items: Vec::new(),
            next_cursor: None,
            count,
        }));
    }
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let after = query.cursor.map(ErrorLogId);
    let (items, count) = error_log::list(&state.app, &actor, after, limit).await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(ErrorLogPage {
        items,
        next_cursor,
        count,
    }))
}

/// Deletes every entry of the error log (platform staff).
#[utoipa::path(delete, operation_id = "platform_error_clear", path = "/api/v1/platform/errors", tag = "platform",
    responses((status = 200, description = "How many entries were deleted", body = ErrorLogCleared)),
    security(("bearer" = [])))]
pub async fn clear(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<ErrorLogCleared>> {
    let deleted = error_log::clear(&state.app, &actor).await?;
    Ok(Json(ErrorLogCleared { deleted }))
}

/// One entry of the error log (platform staff).
#[utoipa::path(get, operation_id = "platform_error_get", path = "/api/v1/platform/errors/{id}", tag = "platform",
    params(("id" = Uuid, Path, description = "The entry")),
    responses((status = 200, description = "The entry", body = ErrorEntry)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ErrorLogId>,
) -> ApiResult<Json<ErrorEntry>> {
    Ok(Json(error_log::get(&state.app, &actor, id).await?))
}

/// Deletes one entry of the error log (platform staff).
#[utoipa::path(delete, operation_id = "platform_error_delete", path = "/api/v1/platform/errors/{id}", tag = "platform",
    params(("id" = Uuid, Path, description = "The entry")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ErrorLogId>,
) -> ApiResult<StatusCode> {
    error_log::delete(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's operations, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(list, clear))
        .routes(routes!(get, delete))
}

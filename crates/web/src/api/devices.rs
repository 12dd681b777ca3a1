//! The device registry of mobile push (issue 19): a phone's app registers its FCM token
//! for the person signed in, lists and removes that person's devices, and asks for a test
//! push. The rules are in `app::mobile_push`.

use app::mobile_push::DeviceView;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::DeviceId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Items;
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath};
use crate::problem::ApiResult;
use crate::state::WebState;

/// `POST /devices` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceBody {
    /// `android`, `ios` or `web`.
    platform: String,
    /// The registration token FCM gave the app on this device (at most 4096 characters).
    token: String,
    /// A name the person recognises the device by (at most 200 characters).
    name: Option<String>,
}

/// The person's devices, newest first.
#[utoipa::path(get, operation_id = "device_list", path = "/api/v1/devices", tag = "devices",
    responses((status = 200, description = "The person's devices", body = Items<DeviceView>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Items<DeviceView>>> {
    let items = app::mobile_push::list(&state.app, &actor).await?;
    Ok(Json(Items { items }))
}

/// Registers this device's FCM token for the person signed in (not for an API token). A
/// token the person registered before is updated (200); a token registered by someone else
/// moves to this person, as a phone changes hands (201).
#[utoipa::path(post, operation_id = "device_register", path = "/api/v1/devices", tag = "devices", request_body = DeviceBody,
    responses(
        (status = 201, description = "Registered", body = DeviceView),
        (status = 200, description = "Already registered by this person: updated", body = DeviceView),
        (status = 409, description = "The same token was registered at the same moment; try again", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<DeviceBody>,
) -> ApiResult<(StatusCode, Json<DeviceView>)> {
    let registered = app::mobile_push::register(
        &state.app,
        &actor,
        &body.platform,
        &body.token,
        body.name.as_deref(),
    )
    .await?;
    let status = if registered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(registered.device)))
}

/// Removes one of the person's devices; it gets no more pushes.
#[utoipa::path(delete, operation_id = "device_delete", path = "/api/v1/devices/{id}", tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device")),
    responses((status = 204, description = "Removed")),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<DeviceId>,
) -> ApiResult<StatusCode> {
    app::mobile_push::delete(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a test push to one of the person's devices; how it went shows on the device
/// (`last_success_at`, `last_error`).
#[utoipa::path(post, operation_id = "device_test", path = "/api/v1/devices/{id}/test", tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device")),
    responses((status = 202, description = "Queued")),
    security(("bearer" = [])))]
pub async fn test(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<DeviceId>,
) -> ApiResult<StatusCode> {
    app::mobile_push::send_test(&state.app, &actor, id).await?;
    Ok(StatusCode::ACCEPTED)
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(delete))
        .routes(routes!(test))
}

//! Web Push: the server's VAPID key and the browsers a person subscribed to their pushes.
//! The sending is in `app::web_push`; every signed-in company user manages only their own.

use app::web_push::{PushKey, PushSubscriptionView, SubscribeInput};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::PushSubscriptionId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Items;
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::WebState;

/// The answer while the server has no VAPID key (`TICKETFLOWER_VAPID_PRIVATE_KEY`).
fn not_configured() -> ApiError {
    ApiError::Request(
        Problem::new(
            StatusCode::NOT_FOUND,
            "web-push-off",
            "Web Push is not configured",
        )
        .detail("web push is not configured on this server"),
    )
}

/// The server's VAPID public key: what `pushManager.subscribe({applicationServerKey})` takes.
#[utoipa::path(get, operation_id = "push_key", path = "/api/v1/push/key", tag = "push",
    responses(
        (status = 200, description = "The VAPID public key", body = PushKey),
        (status = 404, description = "Web Push is not configured on this server", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn key(State(state): State<WebState>, Authed(actor): Authed) -> ApiResult<Json<PushKey>> {
    app::access::company_of(&actor)?;
    app::web_push::public_key(&state.app)
        .map(Json)
        .ok_or_else(not_configured)
}

/// A browser's keys, as `PushSubscription.toJSON().keys` gives them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's ECDH key: base64url of an uncompressed P-256 point (65 bytes).
    p256dh: String,
    /// The browser's authentication secret: base64url of 16 bytes.
    auth: String,
}

/// `POST /push-subscriptions` body: `PushSubscription.toJSON()`, with a name if wanted.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeBody {
    /// The push service's URL: https (http only to a loopback host).
    endpoint: String,
    keys: SubscriptionKeys,
    /// What to call this browser in the list, at most 100 characters.
    name: Option<String>,
    /// Sent by `toJSON()`; ignored (an expired subscription is removed when its push
    /// service says so).
    #[serde(rename = "expirationTime")]
    #[allow(dead_code)]
    expiration_time: Option<f64>,
}

/// Subscribes a browser to the caller's pushes. An endpoint already subscribed becomes the
/// caller's, with the keys sent now.
#[utoipa::path(post, operation_id = "push_subscription_create", path = "/api/v1/push-subscriptions", tag = "push", request_body = SubscribeBody,
    responses(
        (status = 201, description = "Subscribed", body = PushSubscriptionView),
        (status = 200, description = "It was the caller's already; its keys are renewed", body = PushSubscriptionView),
        (status = 404, description = "Web Push is not configured on this server", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn subscribe(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<SubscribeBody>,
) -> ApiResult<(StatusCode, Json<PushSubscriptionView>)> {
    if !app::web_push::enabled(&state.app) {
        return Err(not_configured());
    }
    let input = SubscribeInput {
        endpoint: body.endpoint,
        p256dh: body.keys.p256dh,
        auth: body.keys.auth,
        name: body.name,
    };
    let subscribed = app::web_push::subscribe(&state.app, &actor, input).await?;
    let status = if subscribed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(subscribed.subscription)))
}

/// The caller's subscribed browsers, oldest first, with how their last pushes went.
#[utoipa::path(get, operation_id = "push_subscription_list", path = "/api/v1/push-subscriptions", tag = "push",
    responses((status = 200, description = "The caller's subscriptions", body = Items<PushSubscriptionView>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Items<PushSubscriptionView>>> {
    let items = app::web_push::list(&state.app, &actor).await?;
    Ok(Json(Items { items }))
}

/// Unsubscribes one of the caller's browsers (the browser's own subscription stays until
/// its page unsubscribes it; pushes stop at once).
#[utoipa::path(delete, operation_id = "push_subscription_delete", path = "/api/v1/push-subscriptions/{id}", tag = "push",
    params(("id" = uuid::Uuid, Path, description = "The subscription")),
    responses((status = 204, description = "Unsubscribed")),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<PushSubscriptionId>,
) -> ApiResult<StatusCode> {
    app::web_push::delete(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a test push (`kind: "test"`, opening `/profile`) to one of the caller's browsers;
/// the list shows how it went.
#[utoipa::path(post, operation_id = "push_subscription_test", path = "/api/v1/push-subscriptions/{id}/test", tag = "push",
    params(("id" = uuid::Uuid, Path, description = "The subscription")),
    responses((status = 202, description = "The test push is queued")),
    security(("bearer" = [])))]
pub async fn send_test(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<PushSubscriptionId>,
) -> ApiResult<StatusCode> {
    if !app::web_push::enabled(&state.app) {
        return Err(not_configured());
    }
    app::web_push::send_test(&state.app, &actor, id).await?;
    Ok(StatusCode::ACCEPTED)
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(key))
        .routes(routes!(list, subscribe))
        .routes(routes!(delete))
        .routes(routes!(send_test))
}

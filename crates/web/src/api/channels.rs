//! Channels and their deliveries, the inbound webhook endpoint, contacts, and event
//! webhook subscriptions (issue 18). The rules are in `app::channels`, `app::deliveries`
//! and `app::webhooks`.

use app::channels::{
    Accepted, ChannelPatch, ChannelView, ContactView, CreatedChannel, NewChannel, RotatedSecret,
    TestInbound,
};
use app::deliveries::Target;
use app::deliveries::{DeliveryDetail, DeliveryView, ListQuery};
use app::webhooks::{CreatedSubscription, SubscriptionInput, SubscriptionView};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use domain::{ChannelId, ContactId, DeliveryId, MessageId, SubscriptionId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Items;
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath, AppQuery, RawBody};
use crate::problem::ApiResult;
use crate::state::WebState;

/// Receives a provider's webhook. No login: the signature (by the channel's verification
/// scheme) is the credential, checked on the raw bytes before the body is read. A repeat
/// of a provider message id answers `duplicate` and creates nothing.
#[utoipa::path(post, operation_id = "hook_receive", path = "/api/v1/hooks/{public_id}", tag = "channels",
    params(("public_id" = uuid::Uuid, Path, description = "The channel's public id")),
    request_body(content = app::channels::InboundBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Accepted (or a duplicate)", body = Accepted),
        (status = 401, description = "A bad or missing signature, or a signed timestamp more than 5 minutes off", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such channel, or it is paused", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn receive(
    State(state): State<WebState>,
    AppPath(public_id): AppPath<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Accepted>> {
    Ok(Json(
        app::channels::receive(&state.app, &public_id, &headers, &body).await?,
    ))
}

/// The company's channels (agents read them; admins manage them).
#[utoipa::path(get, operation_id = "channel_list", path = "/api/v1/channels", tag = "channels",
    responses((status = 200, description = "The channels", body = Items<ChannelView>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Items<ChannelView>>> {
    Ok(Json(Items {
        items: app::channels::list(&state.app, &actor).await?,
    }))
}

/// Creates an API or test channel (company admins). The answer holds its inbound and
/// signing secrets, shown this once.
#[utoipa::path(post, operation_id = "channel_create", path = "/api/v1/channels", tag = "channels", request_body = NewChannel,
    responses((status = 201, description = "The channel with its secrets", body = CreatedChannel)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<NewChannel>,
) -> ApiResult<(StatusCode, Json<CreatedChannel>)> {
    let created = app::channels::create(&state.app, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, operation_id = "channel_get", path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel")),
    responses((status = 200, description = "The channel", body = ChannelView)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ChannelId>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(app::channels::get(&state.app, &actor, id).await?))
}

#[utoipa::path(patch, operation_id = "channel_update", path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel")), request_body = ChannelPatch,
    responses((status = 200, description = "The channel", body = ChannelView)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ChannelId>,
    AppJson(body): AppJson<ChannelPatch>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(
        app::channels::update(&state.app, &actor, id, body).await?,
    ))
}

/// Pauses the channel: inbound webhooks answer 404 and deliveries wait.
#[utoipa::path(post, operation_id = "channel_pause", path = "/api/v1/channels/{id}/pause", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel")),
    responses((status = 200, description = "The channel", body = ChannelView)),
    security(("bearer" = [])))]
pub async fn pause(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ChannelId>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(
        app::channels::set_active(&state.app, &actor, id, false).await?,
    ))
}

/// Resumes the channel; waiting deliveries go on with a closed circuit breaker.
#[utoipa::path(post, operation_id = "channel_resume", path = "/api/v1/channels/{id}/resume", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel")),
    responses((status = 200, description = "The channel", body = ChannelView)),
    security(("bearer" = [])))]
pub async fn resume(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ChannelId>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(
        app::channels::set_active(&state.app, &actor, id, true).await?,
    ))
}

/// `POST …/signing-secret` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// Hours the previous secret keeps signing alongside (0 to 168, default 24).
    overlap_hours: Option<u32>,
}

/// Rotates the outbound signing secret; the new one is shown this once.
#[utoipa::path(post, operation_id = "channel_rotate_signing", path = "/api/v1/channels/{id}/signing-secret", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel")), request_body = RotateBody,
    responses((status = 200, description = "The new secret", body = RotatedSecret)),
    security(("bearer" = [])))]
pub async fn rotate(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ChannelId>,
    AppJson(body): AppJson<RotateBody>,
) -> ApiResult<Json<RotatedSecret>> {
    Ok(Json(
        app::channels::rotate_signing(&state.app, &actor, id, body.overlap_hours).await?,
    ))
}

/// Sends an inbound message through a test channel, as its provider would.
#[utoipa::path(post, operation_id = "channel_test_message", path = "/api/v1/channels/{id}/test-messages", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The test channel")), request_body = TestInbound,
    responses((status = 200, description = "Accepted", body = Accepted)),
    security(("bearer" = [])))]
pub async fn test_message(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ChannelId>,
    AppJson(body): AppJson<TestInbound>,
) -> ApiResult<Json<Accepted>> {
    Ok(Json(
        app::channels::send_test(&state.app, &actor, id, body).await?,
    ))
}

/// Which deliveries a list shows.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead`.
    state: Option<String>,
    /// Created at or after.
    from: Option<DateTime<Utc>>,
    /// Created before.
    to: Option<DateTime<Utc>>,
    message_id: Option<MessageId>,
    /// 1 to 200 (default 50).
    limit: Option<u32>,
}

impl From<DeliveryQuery> for ListQuery {
    fn from(q: DeliveryQuery) -> Self {
        Self {
            state: q.state,
            from: q.from,
            to: q.to,
            message: q.message_id,
            limit: q.limit,
        }
    }
}

/// The channel's deliveries (its replies), newest first; `state=dead` lists dead letters.
#[utoipa::path(get, operation_id = "channel_deliveries", path = "/api/v1/channels/{id}/deliveries", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel"), DeliveryQuery),
    responses((status = 200, description = "The deliveries", body = Items<DeliveryView>)),
    security(("bearer" = [])))]
pub async fn channel_deliveries(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ChannelId>,
    AppQuery(query): AppQuery<DeliveryQuery>,
) -> ApiResult<Json<Items<DeliveryView>>> {
    let items =
        app::deliveries::list(&state.app, &actor, Target::Channel(id), query.into()).await?;
    Ok(Json(Items { items }))
}

/// One delivery with every attempt (time, status, latency, error, the answer's start).
#[utoipa::path(get, operation_id = "channel_delivery", path = "/api/v1/channels/{id}/deliveries/{delivery_id}", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel"), ("delivery_id" = uuid::Uuid, Path, description = "The delivery")),
    responses((status = 200, description = "The delivery", body = DeliveryDetail)),
    security(("bearer" = [])))]
pub async fn channel_delivery(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, delivery)): AppPath<(ChannelId, DeliveryId)>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(
        app::deliveries::detail(&state.app, &actor, Target::Channel(id), delivery).await?,
    ))
}

/// How many dead letters were put back on their way.
#[derive(Serialize, ToSchema)]
pub struct Replayed {
    pub replayed: u64,
}

/// Sends one dead letter again with a fresh schedule.
#[utoipa::path(post, operation_id = "channel_delivery_replay", path = "/api/v1/channels/{id}/deliveries/{delivery_id}/replay", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel"), ("delivery_id" = uuid::Uuid, Path, description = "The dead letter")),
    responses((status = 200, description = "Replayed", body = Replayed)),
    security(("bearer" = [])))]
pub async fn channel_replay_one(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, delivery)): AppPath<(ChannelId, DeliveryId)>,
) -> ApiResult<Json<Replayed>> {
    let replayed = app::deliveries::replay(
        &state.app,
        &actor,
        Target::Channel(id),
        Some(delivery),
        None,
        None,
    )
    .await?;
    Ok(Json(Replayed { replayed }))
}

/// `POST …/deliveries/replay` body: the dead letters created in a time range (all when
/// both are left out).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplayRange {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// Sends every dead letter of the channel created in the range again.
#[utoipa::path(post, operation_id = "channel_replay_range", path = "/api/v1/channels/{id}/deliveries/replay", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The channel")), request_body = ReplayRange,
    responses((status = 200, description = "Replayed", body = Replayed)),
    security(("bearer" = [])))]
pub async fn channel_replay_range(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ChannelId>,
    AppJson(range): AppJson<ReplayRange>,
) -> ApiResult<Json<Replayed>> {
    let replayed = app::deliveries::replay(
        &state.app,
        &actor,
        Target::Channel(id),
        None,
        range.from,
        range.to,
    )
    .await?;
    Ok(Json(Replayed { replayed }))
}

/// A channel conversation's contact.
#[utoipa::path(get, operation_id = "contact_get", path = "/api/v1/contacts/{id}", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The contact")),
    responses((status = 200, description = "The contact", body = ContactView)),
    security(("bearer" = [])))]
pub async fn contact(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ContactId>,
) -> ApiResult<Json<ContactView>> {
    Ok(Json(app::channels::contact(&state.app, &actor, id).await?))
}

/// The company's event webhook subscriptions (company admins).
#[utoipa::path(get, operation_id = "subscription_list", path = "/api/v1/webhook-subscriptions", tag = "channels",
    responses((status = 200, description = "The subscriptions", body = Items<SubscriptionView>)),
    security(("bearer" = [])))]
pub async fn subscriptions(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Items<SubscriptionView>>> {
    Ok(Json(Items {
        items: app::webhooks::list(&state.app, &actor).await?,
    }))
}

/// Subscribes an endpoint to event kinds (`ticket.*`, `task.completed`, `message.posted`,
/// `*`); the signing secret is in the answer this once.
#[utoipa::path(post, operation_id = "subscription_create", path = "/api/v1/webhook-subscriptions", tag = "channels", request_body = SubscriptionInput,
    responses((status = 201, description = "The subscription with its secret", body = CreatedSubscription)),
    security(("bearer" = [])))]
pub async fn subscribe(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<SubscriptionInput>,
) -> ApiResult<(StatusCode, Json<CreatedSubscription>)> {
    let created = app::webhooks::create(&state.app, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, operation_id = "subscription_get", path = "/api/v1/webhook-subscriptions/{id}", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription")),
    responses((status = 200, description = "The subscription", body = SubscriptionView)),
    security(("bearer" = [])))]
pub async fn subscription(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
) -> ApiResult<Json<SubscriptionView>> {
    Ok(Json(app::webhooks::get(&state.app, &actor, id).await?))
}

#[utoipa::path(patch, operation_id = "subscription_update", path = "/api/v1/webhook-subscriptions/{id}", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription")), request_body = SubscriptionInput,
    responses((status = 200, description = "The subscription", body = SubscriptionView)),
    security(("bearer" = [])))]
pub async fn update_subscription(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
    AppJson(body): AppJson<SubscriptionInput>,
) -> ApiResult<Json<SubscriptionView>> {
    Ok(Json(
        app::webhooks::update(&state.app, &actor, id, body).await?,
    ))
}

#[utoipa::path(delete, operation_id = "subscription_delete", path = "/api/v1/webhook-subscriptions/{id}", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = [])))]
pub async fn delete_subscription(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
) -> ApiResult<StatusCode> {
    app::webhooks::delete(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, operation_id = "subscription_pause", path = "/api/v1/webhook-subscriptions/{id}/pause", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription")),
    responses((status = 200, description = "The subscription", body = SubscriptionView)),
    security(("bearer" = [])))]
pub async fn pause_subscription(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
) -> ApiResult<Json<SubscriptionView>> {
    Ok(Json(
        app::webhooks::set_active(&state.app, &actor, id, false).await?,
    ))
}

#[utoipa::path(post, operation_id = "subscription_resume", path = "/api/v1/webhook-subscriptions/{id}/resume", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription")),
    responses((status = 200, description = "The subscription", body = SubscriptionView)),
    security(("bearer" = [])))]
pub async fn resume_subscription(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
) -> ApiResult<Json<SubscriptionView>> {
    Ok(Json(
        app::webhooks::set_active(&state.app, &actor, id, true).await?,
    ))
}

#[utoipa::path(post, operation_id = "subscription_rotate_signing", path = "/api/v1/webhook-subscriptions/{id}/signing-secret", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription")), request_body = RotateBody,
    responses((status = 200, description = "The new secret", body = RotatedSecret)),
    security(("bearer" = [])))]
pub async fn rotate_subscription(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
    AppJson(body): AppJson<RotateBody>,
) -> ApiResult<Json<RotatedSecret>> {
    Ok(Json(
        app::webhooks::rotate_signing(&state.app, &actor, id, body.overlap_hours).await?,
    ))
}

/// Sends a `webhook.test` event to the endpoint now (its attempts are logged).
#[utoipa::path(post, operation_id = "subscription_test", path = "/api/v1/webhook-subscriptions/{id}/test", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription")),
    responses((status = 202, description = "Queued", body = DeliveryView)),
    security(("bearer" = [])))]
pub async fn test_subscription(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let delivery = app::webhooks::send_test(&state.app, &actor, id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

#[utoipa::path(get, operation_id = "subscription_deliveries", path = "/api/v1/webhook-subscriptions/{id}/deliveries", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription"), DeliveryQuery),
    responses((status = 200, description = "The deliveries", body = Items<DeliveryView>)),
    security(("bearer" = [])))]
pub async fn subscription_deliveries(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
    AppQuery(query): AppQuery<DeliveryQuery>,
) -> ApiResult<Json<Items<DeliveryView>>> {
    let items =
        app::deliveries::list(&state.app, &actor, Target::Subscription(id), query.into()).await?;
    Ok(Json(Items { items }))
}

#[utoipa::path(get, operation_id = "subscription_delivery", path = "/api/v1/webhook-subscriptions/{id}/deliveries/{delivery_id}", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription"), ("delivery_id" = uuid::Uuid, Path, description = "The delivery")),
    responses((status = 200, description = "The delivery", body = DeliveryDetail)),
    security(("bearer" = [])))]
pub async fn subscription_delivery(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, delivery)): AppPath<(SubscriptionId, DeliveryId)>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(
        app::deliveries::detail(&state.app, &actor, Target::Subscription(id), delivery).await?,
    ))
}

#[utoipa::path(post, operation_id = "subscription_delivery_replay", path = "/api/v1/webhook-subscriptions/{id}/deliveries/{delivery_id}/replay", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription"), ("delivery_id" = uuid::Uuid, Path, description = "The dead letter")),
    responses((status = 200, description = "Replayed", body = Replayed)),
    security(("bearer" = [])))]
pub async fn subscription_replay_one(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, delivery)): AppPath<(SubscriptionId, DeliveryId)>,
) -> ApiResult<Json<Replayed>> {
    let replayed = app::deliveries::replay(
        &state.app,
        &actor,
        Target::Subscription(id),
        Some(delivery),
        None,
        None,
    )
    .await?;
    Ok(Json(Replayed { replayed }))
}

#[utoipa::path(post, operation_id = "subscription_replay_range", path = "/api/v1/webhook-subscriptions/{id}/deliveries/replay", tag = "channels",
    params(("id" = uuid::Uuid, Path, description = "The subscription")), request_body = ReplayRange,
    responses((status = 200, description = "Replayed", body = Replayed)),
    security(("bearer" = [])))]
pub async fn subscription_replay_range(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<SubscriptionId>,
    AppJson(range): AppJson<ReplayRange>,
) -> ApiResult<Json<Replayed>> {
    let replayed = app::deliveries::replay(
        &state.app,
        &actor,
        Target::Subscription(id),
        None,
        range.from,
        range.to,
    )
    .await?;
    Ok(Json(Replayed { replayed }))
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(receive))
        .routes(routes!(list, create))
        .routes(routes!(get, update))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(rotate))
        .routes(routes!(test_message))
        .routes(routes!(channel_deliveries))
        .routes(routes!(channel_delivery))
        .routes(routes!(channel_replay_one))
        .routes(routes!(channel_replay_range))
        .routes(routes!(contact))
        .routes(routes!(subscriptions, subscribe))
        .routes(routes!(
            subscription,
            update_subscription,
            delete_subscription
        ))
        .routes(routes!(pause_subscription))
        .routes(routes!(resume_subscription))
        .routes(routes!(rotate_subscription))
        .routes(routes!(test_subscription))
        .routes(routes!(subscription_deliveries))
        .routes(routes!(subscription_delivery))
        .routes(routes!(subscription_replay_one))
        .routes(routes!(subscription_replay_range))
}

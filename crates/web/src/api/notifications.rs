//! Notifications (issue 19): a person's own notifications (the bell), their preferences,
//! the company's defaults, and following tickets. The rules are in `app::notifications`.

use std::collections::BTreeMap;

use app::notifications::{
    FollowView, NotificationPage, PreferencesInput, PreferencesView, SnoozeInput, TypeChoice,
    Unread,
};
use axum::Json;
use axum::extract::State;
use domain::notification::Channels;
use domain::{NotificationId, TicketId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Items;
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::problem::ApiResult;
use crate::state::WebState;

/// `GET /notifications` query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only those unread and not snoozed.
    #[serde(default)]
    unread: bool,
    /// The `next_before` of the previous page.
    before: Option<uuid::Uuid>,
    /// At most this many (1 to 100, default 50).
    limit: Option<u32>,
}

/// One's own notifications, newest first, with the unread count. Live: each new one is a
/// `notification.created` event on the stream `user:<own id>`.
#[utoipa::path(get, operation_id = "notification_list", path = "/api/v1/notifications", tag = "notifications",
    params(NotificationQuery),
    responses((status = 200, description = "The notifications", body = NotificationPage)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<NotificationQuery>,
) -> ApiResult<Json<NotificationPage>> {
    Ok(Json(
        app::notifications::list(
            &state.app,
            &actor,
            query.unread,
            query.before.map(NotificationId),
            query.limit.unwrap_or(50),
        )
        .await?,
    ))
}

/// Marks one of one's notifications read.
#[utoipa::path(post, operation_id = "notification_read", path = "/api/v1/notifications/{id}/read", tag = "notifications",
    params(("id" = uuid::Uuid, Path, description = "The notification")),
    responses((status = 200, description = "The unread count now", body = Unread)),
    security(("bearer" = [])))]
pub async fn read(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<NotificationId>,
) -> ApiResult<Json<Unread>> {
    Ok(Json(
        app::notifications::read(&state.app, &actor, id).await?,
    ))
}

/// `POST /notifications/read-all` query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadAllQuery {
    /// Only those of this subject (`ticket:<id>`, `conversation:<id>`): a group.
    subject: Option<String>,
}

/// Marks all of one's notifications read, or those of one subject.
#[utoipa::path(post, operation_id = "notification_read_all", path = "/api/v1/notifications/read-all", tag = "notifications",
    params(ReadAllQuery),
    responses((status = 200, description = "The unread count now", body = Unread)),
    security(("bearer" = [])))]
pub async fn read_all(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<ReadAllQuery>,
) -> ApiResult<Json<Unread>> {
    Ok(Json(
        app::notifications::read_all(&state.app, &actor, query.subject.as_deref()).await?,
    ))
}

/// Snoozes a notification with the other unread ones of its subject: they leave the unread
/// count until the time is up.
#[utoipa::path(post, operation_id = "notification_snooze", path = "/api/v1/notifications/{id}/snooze", tag = "notifications",
    request_body = SnoozeInput,
    params(("id" = uuid::Uuid, Path, description = "The notification")),
    responses((status = 200, description = "The unread count now", body = Unread)),
    security(("bearer" = [])))]
pub async fn snooze(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<NotificationId>,
    AppJson(body): AppJson<SnoozeInput>,
) -> ApiResult<Json<Unread>> {
    Ok(Json(
        app::notifications::snooze(&state.app, &actor, id, &body).await?,
    ))
}

/// What reaches one where: per type the channels (in the app, e-mail, web push, mobile)
/// and the company's default, and quiet hours.
#[utoipa::path(get, operation_id = "notification_preferences_get", path = "/api/v1/notification-preferences", tag = "notifications",
    responses((status = 200, description = "The preferences", body = PreferencesView)),
    security(("bearer" = [])))]
pub async fn preferences(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<PreferencesView>> {
    Ok(Json(
        app::notifications::preferences(&state.app, &actor).await?,
    ))
}

/// Changes one's preferences: `types` maps type names to their channels (types left out
/// stay); `quiet_hours` `{start, end, time_zone}` (`HH:MM`, an IANA zone) or `null`.
#[utoipa::path(put, operation_id = "notification_preferences_set", path = "/api/v1/notification-preferences", tag = "notifications",
    request_body = PreferencesInput,
    responses((status = 200, description = "The preferences", body = PreferencesView)),
    security(("bearer" = [])))]
pub async fn set_preferences(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<PreferencesInput>,
) -> ApiResult<Json<PreferencesView>> {
    Ok(Json(
        app::notifications::set_preferences(&state.app, &actor, &body).await?,
    ))
}

/// The company's defaults per type (admins): what its people receive until they choose.
#[utoipa::path(get, operation_id = "notification_defaults_get", path = "/api/v1/company/notification-defaults", tag = "notifications",
    responses((status = 200, description = "The defaults", body = Items<TypeChoice>)),
    security(("bearer" = [])))]
pub async fn defaults(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Items<TypeChoice>>> {
    Ok(Json(Items {
        items: app::notifications::company_defaults(&state.app, &actor).await?,
    }))
}

/// `PUT /company/notification-defaults` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsBody {
    /// Type names to their channels; types left out stay.
    types: BTreeMap<String, Channels>,
}

/// Changes the company's defaults (admins).
#[utoipa::path(put, operation_id = "notification_defaults_set", path = "/api/v1/company/notification-defaults", tag = "notifications",
    request_body = DefaultsBody,
    responses((status = 200, description = "The defaults", body = Items<TypeChoice>)),
    security(("bearer" = [])))]
pub async fn set_defaults(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<DefaultsBody>,
) -> ApiResult<Json<Items<TypeChoice>>> {
    Ok(Json(Items {
        items: app::notifications::set_company_defaults(&state.app, &actor, &body.types).await?,
    }))
}

/// Whether one follows a ticket: by choice, or by being its requester or a worker of it.
#[utoipa::path(get, operation_id = "ticket_follow_get", path = "/api/v1/tickets/{id}/follow", tag = "notifications",
    params(("id" = uuid::Uuid, Path, description = "The ticket")),
    responses((status = 200, description = "Following or not", body = FollowView)),
    security(("bearer" = [])))]
pub async fn following(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
) -> ApiResult<Json<FollowView>> {
    Ok(Json(
        app::notifications::following(&state.app, &actor, id).await?,
    ))
}

/// Follows a ticket one may see: its comments, end and cancellation reach one.
#[utoipa::path(put, operation_id = "ticket_follow", path = "/api/v1/tickets/{id}/follow", tag = "notifications",
    params(("id" = uuid::Uuid, Path, description = "The ticket")),
    responses((status = 200, description = "Following", body = FollowView)),
    security(("bearer" = [])))]
pub async fn follow(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
) -> ApiResult<Json<FollowView>> {
    Ok(Json(
        app::notifications::follow(&state.app, &actor, id, true).await?,
    ))
}

/// Stops following a ticket, also one's own or one worked on: nothing more of it reaches one.
#[utoipa::path(delete, operation_id = "ticket_unfollow", path = "/api/v1/tickets/{id}/follow", tag = "notifications",
    params(("id" = uuid::Uuid, Path, description = "The ticket")),
    responses((status = 200, description = "Not following", body = FollowView)),
    security(("bearer" = [])))]
pub async fn unfollow(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
) -> ApiResult<Json<FollowView>> {
    Ok(Json(
        app::notifications::follow(&state.app, &actor, id, false).await?,
    ))
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read))
        .routes(routes!(read_all))
        .routes(routes!(snooze))
        .routes(routes!(preferences, set_preferences))
        .routes(routes!(defaults, set_defaults))
        .routes(routes!(following, follow, unfollow))
}

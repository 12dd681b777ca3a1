//! Canned replies (issue 18): the texts agents insert into a reply with `/shortcut`. The
//! rules (agents read, company admins change) are in `app::canned_replies`.

use app::canned_replies::{CannedReplyInput, CannedReplyView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::CannedReplyId;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Items;
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::problem::ApiResult;
use crate::state::WebState;

/// `GET /canned-replies` query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CannedReplyQuery {
    /// Keeps the replies whose shortcut or title holds this text (any case).
    q: Option<String>,
}

/// The company's canned replies, by sort order and title (agents and admins).
#[utoipa::path(get, operation_id = "canned_reply_list", path = "/api/v1/canned-replies", tag = "conversations",
    params(CannedReplyQuery),
    responses((status = 200, description = "The canned replies", body = Items<CannedReplyView>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<CannedReplyQuery>,
) -> ApiResult<Json<Items<CannedReplyView>>> {
    let items = app::canned_replies::list(&state.app, &actor, query.q.as_deref()).await?;
    Ok(Json(Items { items }))
}

/// `POST /canned-replies` and `PATCH /canned-replies/{id}` body; a change names only the
/// fields it changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedReplyBody {
    /// What agents type after `/`: lower-case letters, digits, `-` and `_`, at most 32;
    /// unique in the company. Required when creating.
    shortcut: Option<String>,
    /// At most 120 characters. Required when creating.
    title: Option<String>,
    /// The text inserted, at most the company's longest message. Required when creating.
    body: Option<String>,
    /// Lower numbers are listed first (default 0).
    sort_order: Option<i32>,
}

impl From<CannedReplyBody> for CannedReplyInput {
    fn from(body: CannedReplyBody) -> Self {
        Self {
            shortcut: body.shortcut,
            title: body.title,
            body: body.body,
            sort_order: body.sort_order,
        }
    }
}

/// Creates a canned reply of the company (admins).
#[utoipa::path(post, operation_id = "canned_reply_create", path = "/api/v1/canned-replies", tag = "conversations", request_body = CannedReplyBody,
    responses(
        (status = 201, description = "The canned reply", body = CannedReplyView),
        (status = 409, description = "The shortcut is taken", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<CannedReplyBody>,
) -> ApiResult<(StatusCode, Json<CannedReplyView>)> {
    let created = app::canned_replies::create(&state.app, &actor, body.into()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One canned reply (agents and admins).
#[utoipa::path(get, operation_id = "canned_reply_get", path = "/api/v1/canned-replies/{id}", tag = "conversations",
    params(("id" = uuid::Uuid, Path, description = "The canned reply")),
    responses((status = 200, description = "The canned reply", body = CannedReplyView)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<CannedReplyId>,
) -> ApiResult<Json<CannedReplyView>> {
    Ok(Json(
        app::canned_replies::get(&state.app, &actor, id).await?,
    ))
}

/// Changes the fields given of a canned reply (admins).
#[utoipa::path(patch, operation_id = "canned_reply_update", path = "/api/v1/canned-replies/{id}", tag = "conversations", request_body = CannedReplyBody,
    params(("id" = uuid::Uuid, Path, description = "The canned reply")),
    responses(
        (status = 200, description = "The canned reply", body = CannedReplyView),
        (status = 409, description = "The shortcut is taken", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<CannedReplyId>,
    AppJson(body): AppJson<CannedReplyBody>,
) -> ApiResult<Json<CannedReplyView>> {
    Ok(Json(
        app::canned_replies::update(&state.app, &actor, id, body.into()).await?,
    ))
}

/// Deletes a canned reply (admins); messages it was inserted into keep their text.
#[utoipa::path(delete, operation_id = "canned_reply_delete", path = "/api/v1/canned-replies/{id}", tag = "conversations",
    params(("id" = uuid::Uuid, Path, description = "The canned reply")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<CannedReplyId>,
) -> ApiResult<StatusCode> {
    app::canned_replies::delete(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

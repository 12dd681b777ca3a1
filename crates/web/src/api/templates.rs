//! Question templates (issue 17): the texts agents send with the form of the requester's
//! structured answer. The rules are in `app::templates`.

use app::templates::{NewTemplate, TemplateView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::Items;
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath};
use crate::problem::ApiResult;
use crate::state::WebState;

/// The templates the company may use: its own and the platform's, by title.
#[utoipa::path(get, operation_id = "template_list", path = "/api/v1/templates", tag = "conversations",
    responses((status = 200, description = "The templates", body = Items<TemplateView>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Items<TemplateView>>> {
    let items = app::templates::list(&state.app, &actor).await?;
    Ok(Json(Items { items }))
}

/// `POST /templates` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    title: String,
    /// May hold `{{subject}}`, `{{reference}}` and `{{requester.name}}`.
    text: String,
    /// JSON Schema of the answer: an object with properties (text, choices with `enum`,
    /// numbers, dates with `format: date`, booleans).
    schema: serde_json::Value,
}

/// Creates a template: an admin's for their company; platform staff's for every company.
#[utoipa::path(post, operation_id = "template_create", path = "/api/v1/templates", tag = "conversations", request_body = TemplateBody,
    responses((status = 201, description = "The template", body = TemplateView)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<TemplateBody>,
) -> ApiResult<(StatusCode, Json<TemplateView>)> {
    let created = app::templates::create(
        &state.app,
        &actor,
        NewTemplate {
            title: body.title,
            text: body.text,
            schema: body.schema,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, operation_id = "template_get", path = "/api/v1/templates/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The template")),
    responses((status = 200, description = "The template", body = TemplateView)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<Json<TemplateView>> {
    Ok(Json(app::templates::get(&state.app, &actor, id).await?))
}

/// Deletes one of the company's templates (admins); messages that used it stay as they are.
#[utoipa::path(delete, operation_id = "template_delete", path = "/api/v1/templates/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The template")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<StatusCode> {
    app::templates::delete(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, delete))
}

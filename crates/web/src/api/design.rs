//! Workflow design API under `/api/v1/design`: workflows, tasks, transitions and ticket
//! types (list, create, get, patch, delete), the workflow life cycle, versions, bundles
//! (JSON or YAML) and the workflow graph as SVG or Mermaid.

use app::design::{
    Bundle, DesignFilter, DesignTask, DesignTaskChange, DesignTicketType, DesignTicketTypeChange,
    DesignTransition, DesignTransitionChange, DesignView, DesignWorkflow, DesignWorkflowChange,
    ImportOutcome, NewDesignTask, NewDesignTicketType, NewDesignTransition, NewDesignWorkflow,
    VersionEntry, WorkflowDetail,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::ids::{DesignObjectId, WorkflowId};
use domain::workflow::WorkflowStatus;
use domain::workflow::order::InOrder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::design::Kind;

use crate::api::Items;
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::WebState;

/// Filters of the design lists.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DesignQuery {
    /// `DRAFT`, `ACTIVE`, `DEPRECATED` or `ARCHIVED`.
    pub status: Option<String>,
    /// Only objects of this workflow.
    pub workflow: Option<WorkflowId>,
    /// Substring of the title, name or key.
    pub q: Option<String>,
    pub limit: Option<u32>,
}

fn filter(query: DesignQuery) -> Result<DesignFilter, ApiError> {
    let mut errors = domain::ValidationErrors::new();
    let status = query
        .status
        .as_deref()
        .and_then(|s| errors.check("status", s.parse::<WorkflowStatus>()))
        .map(|s| s.as_str().to_owned());
    errors.into_result()?;
    Ok(DesignFilter {
        status,
        workflow: query.workflow,
        q: query.q.filter(|q| !q.trim().is_empty()),
        after: None,
        limit: query.limit.unwrap_or(200).clamp(1, 1000),
    })
}

async fn list(
    state: &WebState,
    actor: &domain::auth::Actor,
    kind: Kind,
    query: DesignQuery,
) -> ApiResult<Json<Items<DesignView>>> {
    let items = app::design::list(&state.app, actor, kind, filter(query)?).await?;
    Ok(Json(Items { items }))
}

async fn create(
    state: &WebState,
    actor: &domain::auth::Actor,
    kind: Kind,
    body: Value,
) -> ApiResult<Response> {
    let created = app::design::create(&state.app, actor, kind, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The five handlers of one kind of design object, documented for OpenAPI: `$object` is
/// how the kind's `DesignView` is documented, `$detail` what `GET` of one answers, `$new`
/// and `$change` the bodies of `POST` and `PATCH` (the app reads them per kind).
macro_rules! design_crud {
    ($kind:expr, $tag:literal, $collection:literal, $item:literal,
     $object:ty, $detail:ty, $new:ty, $change:ty,
     $list:ident, $create:ident, $get:ident, $update:ident, $delete:ident) => {
        #[doc = concat!("Lists ", $tag, " of the company.")]
        #[utoipa::path(get, path = $collection, tag = "design", params(DesignQuery),
            responses((status = 200, description = "The objects", body = Items<$object>)),
            security(("bearer" = [])))]
        pub async fn $list(
            State(state): State<WebState>,
            Authed(actor): Authed,
            AppQuery(query): AppQuery<DesignQuery>,
        ) -> ApiResult<Json<Items<DesignView>>> {
            list(&state, &actor, $kind, query).await
        }

        #[doc = concat!("Creates one of the ", $tag, ".")]
        #[utoipa::path(post, path = $collection, tag = "design", request_body = $new,
            responses(
                (status = 201, description = "The object", body = $object),
                (status = 409, description = "The key is taken in the workflow, or the workflow is archived", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $create(
            State(state): State<WebState>,
            Authed(actor): Authed,
            AppJson(InOrder(body)): AppJson<InOrder>,
        ) -> ApiResult<Response> {
            create(&state, &actor, $kind, body).await
        }

        #[doc = concat!("One of the ", $tag, ".")]
        #[utoipa::path(get, path = $item, tag = "design", params(("id" = Uuid, Path, description = "The object")),
            responses((status = 200, description = "The object", body = $detail)),
            security(("bearer" = [])))]
        pub async fn $get(
            State(state): State<WebState>,
            Authed(actor): Authed,
            AppPath(id): AppPath<DesignObjectId>,
        ) -> ApiResult<Response> {
            if $kind == Kind::Workflow {
                let detail =
                    app::design::workflow_detail(&state.app, &actor, id.as_workflow()).await?;
                return Ok(Json(detail).into_response());
            }
            let object = app::design::get(&state.app, &actor, $kind, id).await?;
            Ok(Json(object).into_response())
        }

        #[doc = concat!("Changes one of the ", $tag, ": given top-level fields replace the stored ones, `null` removes one. The workflow becomes a new DRAFT version.")]
        #[utoipa::path(patch, path = $item, tag = "design", params(("id" = Uuid, Path, description = "The object")), request_body = $change,
            responses(
                (status = 200, description = "The object", body = $object),
                (status = 409, description = "The key is taken in the workflow, or the workflow is archived", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $update(
            State(state): State<WebState>,
            Authed(actor): Authed,
            AppPath(id): AppPath<DesignObjectId>,
            AppJson(InOrder(body)): AppJson<InOrder>,
        ) -> ApiResult<Json<DesignView>> {
            Ok(Json(
                app::design::update(&state.app, &actor, $kind, id, body).await?,
            ))
        }

        #[doc = concat!("Deletes one of the ", $tag, " while it is a DRAFT and unused.")]
        #[utoipa::path(delete, path = $item, tag = "design", params(("id" = Uuid, Path, description = "The object")),
            responses(
                (status = 204, description = "Deleted"),
                (status = 409, description = "Not a DRAFT, published before, or still used", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $delete(
            State(state): State<WebState>,
            Authed(actor): Authed,
            AppPath(id): AppPath<DesignObjectId>,
        ) -> ApiResult<StatusCode> {
            app::design::delete(&state.app, &actor, $kind, id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

design_crud!(
    Kind::Workflow,
    "workflows",
    "/api/v1/design/workflows",
    "/api/v1/design/workflows/{id}",
    DesignWorkflow,
    WorkflowDetail,
    NewDesignWorkflow,
    DesignWorkflowChange,
    list_workflows,
    create_workflow,
    get_workflow,
    update_workflow,
    delete_workflow
);
design_crud!(
    Kind::Task,
    "tasks",
    "/api/v1/design/tasks",
    "/api/v1/design/tasks/{id}",
    DesignTask,
    DesignTask,
    NewDesignTask,
    DesignTaskChange,
    list_tasks,
    create_task,
    get_task,
    update_task,
    delete_task
);
design_crud!(
    Kind::Transition,
    "transitions",
    "/api/v1/design/transitions",
    "/api/v1/design/transitions/{id}",
    DesignTransition,
    DesignTransition,
    NewDesignTransition,
    DesignTransitionChange,
    list_transitions,
    create_transition,
    get_transition,
    update_transition,
    delete_transition
);
design_crud!(
    Kind::TicketType,
    "ticket types",
    "/api/v1/design/ticket-types",
    "/api/v1/design/ticket-types/{id}",
    DesignTicketType,
    DesignTicketType,
    NewDesignTicketType,
    DesignTicketTypeChange,
    list_ticket_types,
    create_ticket_type,
    get_ticket_type,
    update_ticket_type,
    delete_ticket_type
);

/// Validates the working copy and makes it the ACTIVE version.
#[utoipa::path(post, path = "/api/v1/design/workflows/{id}/publish", tag = "design", params(("id" = Uuid, Path, description = "The workflow")),
    responses(
        (status = 200, description = "The new version", body = VersionEntry),
        (status = 409, description = "The workflow is not a DRAFT", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem, located by JSON pointer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<WorkflowId>,
) -> ApiResult<Json<VersionEntry>> {
    Ok(Json(app::design::publish(&state.app, &actor, id).await?))
}

/// No new tickets start on the workflow; running ones finish.
#[utoipa::path(post, path = "/api/v1/design/workflows/{id}/deprecate", tag = "design", params(("id" = Uuid, Path, description = "The workflow")),
    responses(
        (status = 200, description = "The workflow", body = DesignWorkflow),
        (status = 409, description = "The workflow cannot go to this status from its own", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn deprecate(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<WorkflowId>,
) -> ApiResult<Json<DesignView>> {
    let workflow = app::design::retire(&state.app, &actor, id, WorkflowStatus::Deprecated).await?;
    Ok(Json(workflow))
}

/// Freezes the workflow and hides it from what can be used.
#[utoipa::path(post, path = "/api/v1/design/workflows/{id}/archive", tag = "design", params(("id" = Uuid, Path, description = "The workflow")),
    responses(
        (status = 200, description = "The workflow", body = DesignWorkflow),
        (status = 409, description = "The workflow cannot go to this status from its own", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn archive(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<WorkflowId>,
) -> ApiResult<Json<DesignView>> {
    let workflow = app::design::retire(&state.app, &actor, id, WorkflowStatus::Archived).await?;
    Ok(Json(workflow))
}

/// The published versions, newest first, after the working copy if it is a DRAFT.
#[utoipa::path(get, path = "/api/v1/design/workflows/{id}/versions", tag = "design", params(("id" = Uuid, Path, description = "The workflow")),
    responses((status = 200, description = "The versions", body = Items<VersionEntry>)),
    security(("bearer" = [])))]
pub async fn versions(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<WorkflowId>,
) -> ApiResult<Json<Items<VersionEntry>>> {
    let items = app::design::versions(&state.app, &actor, id).await?;
    Ok(Json(Items { items }))
}

/// Which version to read, and in which format.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A published version; the working copy when absent.
    pub version: Option<i32>,
    /// `json` (default) or `yaml`.
    pub format: Option<String>,
}

/// The workflow as a bundle document, the format `POST /design/bundles` reads.
#[utoipa::path(get, path = "/api/v1/design/workflows/{id}/bundle", tag = "design", params(("id" = Uuid, Path, description = "The workflow"), VersionQuery),
    responses(
        (status = 200, description = "The bundle, as JSON or (`format=yaml`) YAML", content(
            (Bundle = "application/json"),
            (Bundle = "application/yaml"),
        )),
        (status = 404, description = "No such workflow or version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn export_bundle(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<WorkflowId>,
    AppQuery(query): AppQuery<VersionQuery>,
) -> ApiResult<Response> {
    let bundle = app::design::bundle(&state.app, &actor, id, query.version).await?;
    match query.format.as_deref() {
        Some("yaml") => {
            let text = serde_yaml_ng::to_string(&bundle).map_err(app::AppError::internal)?;
            Ok(typed(text, "application/yaml"))
        }
        None | Some("json") => Ok(Json(bundle).into_response()),
        Some(_) => {
            Err(domain::ValidationErrors::single("format", "must be `json` or `yaml`").into())
        }
    }
}

fn typed(body: String, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The workflow drawn as SVG: start, tasks by type, transitions with their conditions, end
/// statuses.
#[utoipa::path(get, path = "/api/v1/design/workflows/{id}/graph.svg", tag = "design", params(("id" = Uuid, Path, description = "The workflow"), VersionQuery),
    responses(
        (status = 200, description = "The drawing", content_type = "image/svg+xml", body = String),
        (status = 404, description = "No such workflow or version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn graph_svg(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<WorkflowId>,
    AppQuery(query): AppQuery<VersionQuery>,
) -> ApiResult<Response> {
    let svg = app::design::graph(&state.app, &actor, id, query.version, false).await?;
    Ok(typed(svg, "image/svg+xml"))
}

/// The workflow graph as Mermaid flowchart text.
#[utoipa::path(get, path = "/api/v1/design/workflows/{id}/graph.mmd", tag = "design", params(("id" = Uuid, Path, description = "The workflow"), VersionQuery),
    responses(
        (status = 200, description = "Mermaid flowchart text", content_type = "text/plain", body = String),
        (status = 404, description = "No such workflow or version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn graph_mermaid(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<WorkflowId>,
    AppQuery(query): AppQuery<VersionQuery>,
) -> ApiResult<Response> {
    let text = app::design::graph(&state.app, &actor, id, query.version, true).await?;
    Ok(typed(text, "text/plain; charset=utf-8"))
}

/// Options of a bundle import.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BundleQuery {
    /// Validate only; nothing is written.
    #[serde(default)]
    pub dry_run: bool,
    /// Update this workflow's working copy instead of creating a new workflow.
    pub workflow_id: Option<WorkflowId>,
}

/// Reads a bundle body: JSON, or YAML (`application/yaml`, `text/yaml`).
pub fn bundle_document(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let malformed = |format: &str, detail: String| {
        ApiError::Request(
            Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-bundle",
                &format!("Malformed {format}"),
            )
            .detail(detail),
        )
    };
    match content_type.as_str() {
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|e| malformed("YAML", format!("the body is not UTF-8: {e}")))?;
            yaml_nesting_ok(text).map_err(|e| malformed("YAML", e))?;
            serde_yaml_ng::from_str::<InOrder>(text)
                .map(InOrder::into_inner)
                .map_err(|e| malformed("YAML", e.to_string()))
        }
        "application/json" | "" => {
            crate::extract::parse_json::<InOrder>(body).map(InOrder::into_inner)
        }
        _ => Err(ApiError::Request(
            Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            )
            .detail("Send the bundle as `application/json` or `application/yaml`."),
        )),
    }
}

/// Reads a bundle pasted into a page: YAML, of which JSON is a subset.
pub fn parse_bundle_text(text: &str) -> Result<Value, String> {
    yaml_nesting_ok(text)?;
    serde_yaml_ng::from_str::<InOrder>(text)
        .map(InOrder::into_inner)
        .map_err(|e| format!("The document cannot be read: {e}"))
}

/// The YAML parser loads a whole document before its own depth limit applies, and takes
/// superlinear time on deeply nested input; this cheap scan refuses such input first.
/// Flow collections (`[`/`{` outside quotes) may nest 64 deep and block indentation is
/// bounded to 256 columns, far beyond any real bundle.
fn yaml_nesting_ok(text: &str) -> Result<(), String> {
    const MAX_FLOW_DEPTH: usize = 64;
    const MAX_INDENT: usize = 256;
    let mut depth = 0usize;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        if indent > MAX_INDENT {
            return Err("the document is nested too deeply".into());
        }
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err("the document is nested too deeply".into());
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Imports a bundle (a workflow with its tasks, transitions and ticket types) in one
/// transaction, or with `dry_run=true` only validates it. Every problem is reported at
/// once, located by a JSON pointer into the document.
#[utoipa::path(post, path = "/api/v1/design/bundles", tag = "design", params(BundleQuery),
    request_body(description = "The bundle, as JSON or YAML", content(
        (Bundle = "application/json"),
        (Bundle = "application/yaml"),
    )),
    responses(
        (status = 201, description = "The new workflow, with the ids of its objects by key", body = ImportOutcome),
        (status = 200, description = "Dry run: `{valid: true}`; or the `workflow_id`'s working copy was updated", body = BundleAnswer),
        (status = 400, description = "The body is not JSON or YAML", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such `workflow_id`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The `workflow_id` is archived", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor YAML", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem, located by JSON pointer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn import_bundle(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<BundleQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let document = bundle_document(&headers, &body)?;
    let bundle = app::design::read_bundle(document)?;
    if query.dry_run {
        app::design::check_bundle(&state.app, &actor, &bundle, query.workflow_id).await?;
        let answer = BundleAnswer::Checked(BundleChecked { valid: true });
        return Ok(Json(answer).into_response());
    }
    let outcome = app::design::import_bundle(&state.app, &actor, bundle, query.workflow_id).await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(BundleAnswer::Imported(outcome))).into_response())
}

/// What a bundle import answers: a dry run's verdict, or what was written.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BundleAnswer {
    Checked(BundleChecked),
    Imported(ImportOutcome),
}

/// A dry run's verdict: a bundle with problems is answered 422 instead.
#[derive(Serialize, ToSchema)]
pub struct BundleChecked {
    /// Always `true`.
    pub valid: bool,
}

/// This module's operations, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(get_workflow, update_workflow, delete_workflow))
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, update_task, delete_task))
        .routes(routes!(list_transitions, create_transition))
        .routes(routes!(
            get_transition,
            update_transition,
            delete_transition
        ))
        .routes(routes!(list_ticket_types, create_ticket_type))
        .routes(routes!(
            get_ticket_type,
            update_ticket_type,
            delete_ticket_type
        ))
        .routes(routes!(publish))
        .routes(routes!(deprecate))
        .routes(routes!(archive))
        .routes(routes!(versions))
        .routes(routes!(export_bundle))
        .routes(routes!(graph_svg))
        .routes(routes!(graph_mermaid))
        .routes(routes!(import_bundle))
}

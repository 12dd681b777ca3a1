//! Tasks: the lists and the queue, claiming, assigning, releasing and completing, workflow
//! errors, and the callback of asynchronous action tasks.

use crate::api::Page;
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::problem::{ApiResult, Problem};
use crate::state::WebState;
use app::runtime::engine::ErrorView;
use app::runtime::tasks::{TaskQuery, TaskView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ids::{TaskId, TicketId, WorkflowErrorId};
use domain::workflow::WorkflowErrorStatus;
use domain::{UserId, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

// ---- Tasks

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TasksQuery {
    /// Tasks I hold.
    pub mine: Option<bool>,
    /// Unheld tasks I may claim.
    pub queue: Option<bool>,
    /// Comma-separated task statuses.
    pub status: Option<String>,
    pub cursor: Option<TaskId>,
    pub limit: Option<u32>,
}

/// Tasks: `mine=true`, `queue=true`, or (ticket admins) all.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TasksQuery),
    responses(
        (status = 200, description = "A page of tasks", body = Page<TaskView>),
    ),
    security(("bearer" = [])))]
pub async fn tasks(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<TasksQuery>,
) -> ApiResult<Json<Page<TaskView>>> {
    let mut errors = ValidationErrors::new();
    let statuses: Vec<domain::workflow::TaskStatus> = query
        .status
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| errors.check("status", s.parse()))
        .collect();
    errors.into_result()?;
    let query = TaskQuery {
        mine: query.mine.unwrap_or(false),
        queue: query.queue.unwrap_or(false),
        statuses,
        cursor: query.cursor,
        limit: query.limit.unwrap_or(50),
    };
    let (items, next) = app::runtime::tasks::list(&state.app, &actor, query).await?;
    Ok(Json(Page {
        items,
        next_cursor: next.map(|id| id.to_string()),
    }))
}

/// A task: its input, the form to fill (`output_schema`), and its state.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path, description = "The task")),
    responses(
        (status = 200, description = "The task", body = TaskView),
    ),
    security(("bearer" = [])))]
pub async fn task(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TaskId>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(
        app::runtime::tasks::get(&state.app, &actor, id).await?,
    ))
}

/// Takes an open task from the queue; of two at once exactly one wins (409 for the other).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/claim", tag = "tasks", params(("id" = Uuid, Path, description = "The task")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 409, description = "Already held, finished, or an action task", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn claim(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TaskId>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(
        app::runtime::tasks::claim(&state.app, &actor, id).await?,
    ))
}

/// `POST /tasks/{id}/assign` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    user_id: UserId,
}

/// A ticket admin assigns a task to an eligible worker.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/assign", tag = "tasks", params(("id" = Uuid, Path, description = "The task")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 409, description = "Finished, or an action task", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TaskId>,
    AppJson(body): AppJson<AssignBody>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(
        app::runtime::tasks::assign(&state.app, &actor, id, body.user_id).await?,
    ))
}

/// Gives a task back to the queue.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/release", tag = "tasks", params(("id" = Uuid, Path, description = "The task")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 409, description = "Not held, or finished", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn release(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TaskId>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(
        app::runtime::tasks::release(&state.app, &actor, id).await?,
    ))
}

/// `POST /tasks/{id}/complete` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// The form's output, checked against the task's `output_schema`.
    #[schema(value_type = Value)]
    output: Value,
}

/// The holder completes a form task; the output is checked against its schema.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "tasks", params(("id" = Uuid, Path, description = "The task")),
    request_body = CompleteBody,
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 409, description = "Already finished, or an action task", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The output does not match the task's schema; every violation is listed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TaskId>,
    AppJson(body): AppJson<CompleteBody>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(
        app::runtime::tasks::complete(&state.app, &actor, id, body.output).await?,
    ))
}

/// `PUT /tasks/{id}/allowed-users` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowedUsersBody {
    user_ids: Vec<UserId>,
}

/// Limits who may work this task instance (ticket admins; empty lifts the limit).
#[utoipa::path(put, path = "/api/v1/tasks/{id}/allowed-users", tag = "tasks", params(("id" = Uuid, Path, description = "The task")),
    request_body = AllowedUsersBody,
    responses(
        (status = 200, description = "The task", body = TaskView),
    ),
    security(("bearer" = [])))]
pub async fn allowed_users(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TaskId>,
    AppJson(body): AppJson<AllowedUsersBody>,
) -> ApiResult<Json<TaskView>> {
    let users = body.user_ids;
    Ok(Json(
        app::runtime::tasks::set_allowed_users(&state.app, &actor, id, users).await?,
    ))
}

// ---- Workflow errors

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErrorsQuery {
    /// Comma-separated `NEW`, `REVIEWED`, `RESOLVED`; default: the open ones.
    pub status: Option<String>,
    pub ticket: Option<TicketId>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<WorkflowErrorId>,
    /// Errors per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// Workflow errors of the company (ticket admins).
#[utoipa::path(get, path = "/api/v1/workflow-errors", tag = "tasks", params(ErrorsQuery),
    responses(
        (status = 200, description = "The workflow errors, newest first", body = Page<ErrorView>),
    ),
    security(("bearer" = [])))]
pub async fn workflow_errors(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<ErrorsQuery>,
) -> ApiResult<Json<Page<ErrorView>>> {
    let mut errors = ValidationErrors::new();
    let mut statuses: Vec<WorkflowErrorStatus> = query
        .status
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| errors.check("status", s.parse()))
        .collect();
    errors.into_result()?;
    if statuses.is_empty() {
        statuses = vec![WorkflowErrorStatus::New, WorkflowErrorStatus::Reviewed];
    }
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let found = app::runtime::engine::errors(
        &state.app,
        &actor,
        app::runtime::engine::ErrorQuery {
            statuses,
            with_retrying: false,
            ticket: query.ticket,
            after: query.cursor,
            limit,
        },
    )
    .await?;
    let next_cursor = (found.items.len() == limit as usize)
        .then(|| found.items.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: found.items,
        next_cursor,
    }))
}

macro_rules! error_action {
    ($name:ident, $path:literal, $doc:literal, $call:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "tasks",
            params(("id" = Uuid, Path, description = "The workflow error")),
            responses(
                (status = 200, description = "The workflow error", body = ErrorView),
                (status = 409, description = "The error is already resolved, or cannot be retried now", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $name(
            State(state): State<WebState>,
            Authed(actor): Authed,
            AppPath(id): AppPath<WorkflowErrorId>,
        ) -> ApiResult<Json<ErrorView>> {
            let call = $call;
            Ok(Json(call(&state.app, &actor, id).await?))
        }
    };
}

error_action!(
    review_error,
    "/api/v1/workflow-errors/{id}/review",
    "Marks an error REVIEWED.",
    |app, actor, id| app::runtime::engine::set_error_status(
        app,
        actor,
        id,
        WorkflowErrorStatus::Reviewed
    )
);
error_action!(
    resolve_error,
    "/api/v1/workflow-errors/{id}/resolve",
    "Marks an error RESOLVED without retrying.",
    |app, actor, id| app::runtime::engine::set_error_status(
        app,
        actor,
        id,
        WorkflowErrorStatus::Resolved
    )
);
error_action!(
    retry_error,
    "/api/v1/workflow-errors/{id}/retry",
    "Resolves an error and runs its step (or action) again.",
    app::runtime::engine::retry
);

// ---- Actions

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The single-use token from the callback URL.
    pub token: String,
}

/// Completes an async action task with its result (the body). No login: the single-use
/// token in the callback URL is the credential.
#[utoipa::path(post, path = "/api/v1/actions/{task_id}/callback", tag = "tasks",
    params(("task_id" = Uuid, Path, description = "The action task"), CallbackQuery),
    request_body(content = Object, description = "The action's result"),
    responses(
        (status = 204, description = "Accepted; the engine takes the next step"),
        (status = 404, description = "No such task, or a wrong token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task is not waiting for a callback", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn action_callback(
    State(state): State<WebState>,
    AppPath(task_id): AppPath<TaskId>,
    AppQuery(query): AppQuery<CallbackQuery>,
    AppJson(result): AppJson<Value>,
) -> ApiResult<StatusCode> {
    app::runtime::actions::callback(&state.app, task_id, &query.token, result).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The company's action signing secret (`whsec_...`), for verifying action calls.
#[utoipa::path(get, path = "/api/v1/company/action-secret", tag = "company",
    responses(
        (status = 200, description = "The signing secret", body = ActionSecret),
    ),
    security(("bearer" = [])))]
pub async fn action_secret(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<ActionSecret>> {
    let secret = app::runtime::actions::action_secret(&state.app, &actor).await?;
    Ok(Json(ActionSecret { secret }))
}

/// The answer of `GET /company/action-secret`.
#[derive(Serialize, ToSchema)]
pub struct ActionSecret {
    /// `whsec_...`: the key that signs every action call.
    pub secret: String,
}

/// This module's operations, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(tasks))
        .routes(routes!(task))
        .routes(routes!(claim))
        .routes(routes!(assign))
        .routes(routes!(release))
        .routes(routes!(complete))
        .routes(routes!(allowed_users))
        .routes(routes!(workflow_errors))
        .routes(routes!(review_error))
        .routes(routes!(resolve_error))
        .routes(routes!(retry_error))
        .routes(routes!(action_callback))
        .routes(routes!(action_secret))
}

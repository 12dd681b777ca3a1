//! The task pages: my tasks with the queue of tasks I may claim, every task for ticket
//! admins, a task's page (its input, the form generated from its output schema, claim,
//! release, assign, complete), and the workflow errors page for ticket admins.

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::ids::{TaskId, WorkflowErrorId};
use domain::workflow::{TaskStatus, WorkflowErrorStatus};
use domain::{SystemRole, UserId};
use serde::Deserialize;
use serde_json::Value;

use app::runtime::tasks::{TaskQuery, TaskView};

use crate::pages::kit::context::{CsrfForm, Flash, PageCtx, PagePath, PagePost, PageResult};
use crate::pages::kit::filters;
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::pager::{ERRORS, Pager, Place, TASKS, address};
use crate::pages::kit::schema_form::{FormErrors, FormField, Posted, SchemaForm};
use crate::pages::kit::when::{When, when};
use crate::pages::tickets::{DataRow, data_rows, display, label, name_of};
use crate::state::WebState;

pub struct TaskRow {
    pub id: String,
    pub ticket_id: String,
    pub ticket_number: i64,
    pub ticket_title: String,
    pub name: String,
    pub task_type: String,
    pub status: String,
    pub assignee: String,
    pub created: When,
}

pub async fn rows(
    state: &WebState,
    ctx: &PageCtx,
    tasks: Vec<TaskView>,
) -> Result<Vec<TaskRow>, Response> {
    // Collected first: a borrowing iterator held across the await makes the handler's
    // future fail the `Send` bound.
    let holders: Vec<UserId> = tasks.iter().filter_map(|t| t.assigned_to).collect();
    let names = ctx.load(app::runtime::tickets::names(&state.app, &ctx.actor, holders).await)?;
    Ok(tasks
        .into_iter()
        .map(|t| TaskRow {
            id: t.id.to_string(),
            ticket_id: t.ticket_id.to_string(),
            ticket_number: t.ticket_number,
            ticket_title: t.ticket_title,
            name: t.name,
            task_type: t.task_type.to_string(),
            status: t.status.to_string(),
            assignee: name_of(&names, t.assigned_to),
            created: when(t.created_at),
        })
        .collect())
}

// ---- My tasks

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    layout: Layout,
    /// Task workers have a queue to claim from; a requester only has the tasks given to them.
    worker: bool,
    mine: Vec<TaskRow>,
    queue: Vec<TaskRow>,
    done: Vec<TaskRow>,
}

pub async fn my_tasks(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    let ctx = ctx.titled("My tasks");
    let list = |query: TaskQuery| app::runtime::tasks::list(&state.app, &ctx.actor, query);
    let (mine, _) = ctx.load(
        list(TaskQuery {
            mine: true,
            statuses: TaskStatus::ACTIVE.to_vec(),
            limit: 100,
            ..Default::default()
        })
        .await,
    )?;
    let (queue, _) = ctx.load(
        list(TaskQuery {
            queue: true,
            limit: 100,
            ..Default::default()
        })
        .await,
    )?;
    let (done, _) = ctx.load(
        list(TaskQuery {
            mine: true,
            statuses: vec![TaskStatus::Completed],
            limit: 10,
            ..Default::default()
        })
        .await,
    )?;
    let mine = rows(&state, &ctx, mine).await?;
    let queue = rows(&state, &ctx, queue).await?;
    let done = rows(&state, &ctx, done).await?;
    Ok(ctx.render(&TasksPage {
        layout: {
            let mut layout = ctx.layout.clone();
            layout.live.extend(ctx.team_feed());
            layout
        },
        worker: ctx.actor.has(SystemRole::TaskWorker),
        mine,
        queue,
        done,
    }))
}

// ---- All tasks

#[derive(Template)]
#[template(path = "tasks_all.html")]
struct AllTasksPage {
    layout: Layout,
    rows: Vec<TaskRow>,
    status: String,
    statuses: Vec<&'static str>,
    pager: Pager,
}

#[derive(Deserialize, Default)]
pub struct AllTasksQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    trail: String,
}

/// Rows of the list of every task.
const ALL_TASKS_PAGE: u32 = 50;

pub async fn all_tasks(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<AllTasksQuery>,
) -> PageResult {
    let ctx = ctx.titled("All tasks");
    let status = query.status.parse::<TaskStatus>().ok();
    let place = Place::new(&query.cursor, &query.trail);
    let total = ctx.load(
        app::runtime::tasks::count(&state.app, &ctx.actor, status.into_iter().collect()).await,
    )?;
    let (tasks, next) = ctx.load(
        app::runtime::tasks::list(
            &state.app,
            &ctx.actor,
            TaskQuery {
                statuses: status.into_iter().collect(),
                cursor: place.cursor().and_then(|c| c.parse().ok()),
                limit: ALL_TASKS_PAGE,
                ..Default::default()
            },
        )
        .await,
    )?;
    let shown = tasks.len();
    let rows = rows(&state, &ctx, tasks).await?;
    let status = status.map(|s| s.as_str().to_owned()).unwrap_or_default();
    let next = next.map(|id| id.to_string());
    let pager = place.pager(
        shown,
        ALL_TASKS_PAGE,
        total,
        TASKS,
        next.as_deref(),
        |cursor, trail| {
            address(
                "/tasks/all",
                &[("status", &status), ("cursor", cursor), ("trail", trail)],
            )
        },
    );
    Ok(ctx.render(&AllTasksPage {
        layout: {
            let mut layout = ctx.layout.clone();
            layout.live.extend(ctx.team_feed());
            layout
        },
        rows,
        pager,
        status,
        statuses: TaskStatus::ALL.iter().map(|s| s.as_str()).collect(),
    }))
}

// ---- A task

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    layout: Layout,
    id: String,
    name: String,
    description: String,
    task_type: String,
    status: String,
    ticket_id: String,
    ticket_number: i64,
    ticket_title: String,
    assignee: String,
    created: When,
    completed: Option<When>,
    error: Option<String>,
    input: Vec<DataRow>,
    output: Vec<DataRow>,
    fields: Vec<FormField>,
    general: Vec<String>,
    can_complete: bool,
    /// Asked before any completion: it ends the ticket whatever is chosen.
    confirm_always: String,
    /// The choices that end the ticket, for the page's script to ask about: a JSON list of
    /// `{name, value, message}` (the input's name and posted value).
    confirm_choices: String,
    /// The server's own question after a completion that would end the ticket was posted
    /// without its confirmation (the page's script did not ask): the form comes back as
    /// typed, confirmed when sent again.
    confirm_posted: Option<String>,
    can_claim: bool,
    can_release: bool,
    /// Active workers as (id, name, currently assigned or chosen in a refused form), for a
    /// ticket admin.
    workers: Vec<(String, String, bool)>,
    /// Why an assignment was refused.
    assign_errors: FieldErrors,
}

/// A refused form of a task's page, to show again as it was posted.
enum TaskRefused {
    /// The completion, as typed, with the app's complaints sorted onto its fields.
    Complete(Posted, FormErrors),
    /// The assignment: the worker chosen, and why not.
    Assign { user_id: String, refusal: Refusal },
}

impl TaskPage {
    fn invalid(&self) -> bool {
        !self.general.is_empty() || self.fields.iter().any(|f| !f.error.is_empty())
    }
}

/// How a field's choice is posted by the generated form: text as it is, yes and no as
/// `true` and `false`, anything else as JSON (see `SchemaForm::read`).
fn posted_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The questions asked before completing `task`, from what the app forecasts: one for any
/// completion, or one per choice that ends the ticket (as `TaskPage::confirm_choices`).
fn ending_questions(task: &TaskView, schema: &Value) -> (String, String) {
    use app::runtime::tickets::status_words;
    let Some(ending) = &task.ending else {
        return (String::new(), String::new());
    };
    let number = task.ticket_number;
    if let Some(status) = &ending.always {
        return (
            format!(
                "Completing “{}” ends ticket #{number}: {}. Complete it?",
                task.name,
                status_words(status)
            ),
            String::new(),
        );
    }
    if ending.choices.is_empty() {
        return (String::new(), String::new());
    }
    let choices: Vec<Value> = ending
        .choices
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": format!("output.{}", c.field),
                "value": posted_text(&c.value),
                "message": format!(
                    "{} “{}” ends ticket #{number}: {}. Complete the task with it?",
                    label(&c.field, &[schema]),
                    display(&c.value),
                    status_words(&c.status)
                ),
            })
        })
        .collect();
    (String::new(), Value::Array(choices).to_string())
}

/// Renders a task's page; `refused` is a refused form to show again, or (with `confirm`,
/// the end status it would give the ticket) a completion waiting for its confirmation.
async fn task_page(
    state: &WebState,
    ctx: &PageCtx,
    task: TaskView,
    refused: Option<TaskRefused>,
    confirm: Option<String>,
) -> PageResult {
    let actor = &ctx.actor;
    let names =
        ctx.load(app::runtime::tickets::names(&state.app, actor, task.assigned_to).await)?;
    let actions = task.actions;
    let chosen = match &refused {
        Some(TaskRefused::Assign { user_id, .. }) => Some(user_id.clone()),
        _ => task.assigned_to.map(|id| id.0.to_string()),
    };
    let workers = if actions.assign {
        ctx.load(app::runtime::tasks::workers(&state.app, actor).await)?
            .into_iter()
            .map(|(id, name)| {
                let id = id.0.to_string();
                let selected = chosen.as_deref() == Some(id.as_str());
                (id, name, selected)
            })
            .collect()
    } else {
        Vec::new()
    };
    let schema = task.output_schema.clone().unwrap_or(Value::Null);
    let form = SchemaForm::new("output", &schema);
    let (fields, general, assign_errors, status) = match refused {
        Some(TaskRefused::Complete(typed, errors)) => (
            form.fields(Some(&typed), &errors),
            errors.general.clone(),
            FieldErrors::default(),
            // A completion waiting for its confirmation was not refused.
            if confirm.is_some() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
        ),
        Some(TaskRefused::Assign { refusal, .. }) => (
            form.fields(None, &FormErrors::default()),
            Vec::new(),
            refusal.errors,
            refusal.status,
        ),
        None => (
            form.fields(None, &FormErrors::default()),
            Vec::new(),
            FieldErrors::default(),
            StatusCode::OK,
        ),
    };
    let (confirm_always, confirm_choices) = match confirm {
        // Asked by the server already: the script does not ask again.
        Some(_) => (String::new(), String::new()),
        None => ending_questions(&task, &schema),
    };
    let confirm_posted = confirm.map(|status| {
        format!(
            "Completing “{}” with these answers ends ticket #{}: {}. Complete it again to confirm, or change your answers.",
            task.name,
            task.ticket_number,
            app::runtime::tickets::status_words(&status)
        )
    });
    let mut layout = ctx.layout.clone();
    layout.title = format!("{} — TicketFlower", task.name);
    layout.crumb("/tasks", "My tasks");
    layout.crumb(
        format!("/tickets/{}", task.ticket_id),
        format!("#{} {}", task.ticket_number, task.ticket_title),
    );
    let page = TaskPage {
        layout,
        id: task.id.to_string(),
        description: task.description.clone(),
        task_type: task.task_type.to_string(),
        ticket_id: task.ticket_id.to_string(),
        ticket_number: task.ticket_number,
        ticket_title: task.ticket_title.clone(),
        assignee: name_of(&names, task.assigned_to),
        created: when(task.created_at),
        completed: task.completed_at.map(when),
        error: task.error.clone(),
        input: data_rows(&task.input_data, &[], |_, _| false),
        output: task
            .output_data
            .as_ref()
            .map(|o| data_rows(o, &[&schema], |_, _| false))
            .unwrap_or_default(),
        fields,
        general,
        can_complete: actions.complete,
        confirm_always,
        confirm_choices,
        can_claim: actions.claim,
        can_release: actions.release,
        workers,
        assign_errors,
        name: task.name,
        status: task.status.to_string(),
        confirm_posted,
    };
    Ok(ctx.render_status(status, &page))
}

pub async fn task(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<TaskId>,
) -> PageResult {
    let ctx = ctx.titled("Task");
    let task = ctx.load(app::runtime::tasks::get(&state.app, &ctx.actor, id).await)?;
    task_page(&state, &ctx, task, None, None).await
}

pub async fn claim(
    State(state): State<WebState>,
    PagePath(id): PagePath<TaskId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    Ok(
        match app::runtime::tasks::claim(&state.app, &ctx.actor, id).await {
            Ok(task) => ctx.redirect(
                &format!("/tasks/{id}"),
                Flash::ok(format!("“{}” is yours now.", task.name)),
            ),
            Err(error) => ctx.failed("/tasks", error),
        },
    )
}

pub async fn release(
    State(state): State<WebState>,
    PagePath(id): PagePath<TaskId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let back = format!("/tasks/{id}");
    Ok(
        match app::runtime::tasks::release(&state.app, &ctx.actor, id).await {
            Ok(task) => ctx.redirect(
                "/tasks",
                Flash::ok(format!("“{}” is back in the queue.", task.name)),
            ),
            Err(error) => ctx.failed(&back, error),
        },
    )
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    user_id: String,
}

pub async fn assign(
    State(state): State<WebState>,
    PagePath(id): PagePath<TaskId>,
    PagePost { ctx, form }: PagePost<AssignForm>,
) -> PageResult {
    let back = format!("/tasks/{id}");
    let refusal = match form.user_id.parse::<UserId>() {
        Err(_) => Refusal::invalid("user_id", "choose who should do the task"),
        Ok(user) => match app::runtime::tasks::assign(&state.app, &ctx.actor, id, user).await {
            Ok(task) => {
                let done = format!("“{}” was assigned.", task.name);
                return Ok(ctx.redirect(&back, Flash::ok(done)));
            }
            Err(error) => match Refusal::of(error, &["user_id"]) {
                Ok(refusal) => refusal,
                Err(error) => return Ok(ctx.failed(&back, error)),
            },
        },
    };
    let task = ctx.load(app::runtime::tasks::get(&state.app, &ctx.actor, id).await)?;
    let refused = TaskRefused::Assign {
        user_id: form.user_id,
        refusal,
    };
    task_page(&state, &ctx, task, Some(refused), None).await
}

/// The form's fields are the task's output schema's, so they are read as pairs. A
/// completion that would end the ticket needs `confirmed=1`, which the page's script sets
/// once the person agreed; without it (no script) the page asks instead of completing.
pub async fn complete(
    State(state): State<WebState>,
    PagePath(id): PagePath<TaskId>,
    PagePost { ctx, form: pairs }: PagePost<Vec<(String, String)>>,
) -> PageResult {
    let back = format!("/tasks/{id}");
    let task = ctx.load(app::runtime::tasks::get(&state.app, &ctx.actor, id).await)?;
    let schema = task.output_schema.clone().unwrap_or(Value::Null);
    let form = SchemaForm::new("output", &schema);
    let (output, typed) = form.read(&pairs);
    let confirmed = pairs.iter().any(|(k, v)| k == "confirmed" && v == "1");
    if !confirmed {
        let ending = app::runtime::tasks::ending_of(&state.app, &ctx.actor, id, &output).await;
        if let Some(status) = ctx.load(ending)? {
            let unchanged = TaskRefused::Complete(typed, FormErrors::default());
            return task_page(&state, &ctx, task, Some(unchanged), Some(status)).await;
        }
    }
    match app::runtime::tasks::complete(&state.app, &ctx.actor, id, output).await {
        Ok(done) => {
            // A requester came from their ticket (they have no queue): back to it.
            let next = if ctx.actor.has(SystemRole::TaskWorker) {
                "/tasks".to_owned()
            } else {
                format!("/tickets/{}", done.ticket_id)
            };
            Ok(ctx.redirect(&next, Flash::ok(format!("“{}” is done.", done.name))))
        }
        Err(app::AppError::Validation(errors)) => {
            let errors = form.errors(&errors);
            task_page(
                &state,
                &ctx,
                task,
                Some(TaskRefused::Complete(typed, errors)),
                None,
            )
            .await
        }
        Err(error) => Ok(ctx.failed(&back, error)),
    }
}

// ---- Workflow errors

pub struct ErrorRow {
    pub id: String,
    pub ticket_id: String,
    pub ticket_number: String,
    pub error_type: String,
    pub status: String,
    pub message: String,
    pub created: When,
    pub can_review: bool,
    pub can_retry: bool,
    /// "retrying (attempt n of m)" while a retried action's job is at work.
    pub retrying: String,
}

#[derive(Template)]
#[template(path = "workflow_errors.html")]
struct ErrorsPage {
    layout: Layout,
    rows: Vec<ErrorRow>,
    show: String,
    pager: Pager,
}

#[derive(Deserialize, Default)]
pub struct ErrorsQuery {
    #[serde(default)]
    show: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    trail: String,
}

/// Rows of the workflow errors list.
const ERRORS_PAGE: u32 = 50;

pub async fn workflow_errors(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<ErrorsQuery>,
) -> PageResult {
    let ctx = ctx.titled("Workflow errors");
    use WorkflowErrorStatus::{New, Resolved, Reviewed};
    // Open: those waiting for someone, and those whose retried action is still at work.
    let (show, statuses, with_retrying): (&str, &[WorkflowErrorStatus], bool) =
        match query.show.as_str() {
            "resolved" => ("resolved", &[Resolved], false),
            "all" => ("all", &[New, Reviewed, Resolved], false),
            _ => ("open", &[New, Reviewed], true),
        };
    let place = Place::new(&query.cursor, &query.trail);
    let found = ctx.load(
        app::runtime::engine::errors(
            &state.app,
            &ctx.actor,
            app::runtime::engine::ErrorQuery {
                statuses: statuses.to_vec(),
                with_retrying,
                ticket: None,
                after: place.cursor().and_then(|c| c.parse().ok()),
                limit: ERRORS_PAGE,
            },
        )
        .await,
    )?;
    let next = (found.items.len() == ERRORS_PAGE as usize)
        .then(|| found.items.last().map(|e| e.id.to_string()))
        .flatten();
    let shown = if show == "open" { "" } else { show };
    let pager = place.pager(
        found.items.len(),
        ERRORS_PAGE,
        found.total,
        ERRORS,
        next.as_deref(),
        |cursor, trail| {
            address(
                "/workflow-errors",
                &[("show", shown), ("cursor", cursor), ("trail", trail)],
            )
        },
    );
    let rows = found
        .items
        .into_iter()
        .map(|e| {
            let status = e.error_status;
            ErrorRow {
                id: e.id.to_string(),
                ticket_id: e.ticket_id.to_string(),
                ticket_number: e
                    .ticket_number
                    .map_or_else(|| "?".into(), |n| n.to_string()),
                error_type: e.error_type.to_string(),
                message: e.message,
                created: when(e.created_at),
                can_review: status.can_change_to(Reviewed),
                can_retry: !status.is_final(),
                retrying: e.retrying.map_or_else(String::new, |r| {
                    format!("retrying (attempt {} of {})", r.attempt, r.max_attempts)
                }),
                status: status.to_string(),
            }
        })
        .collect();
    Ok(ctx.render(&ErrorsPage {
        layout: ctx.layout.clone(),
        rows,
        show: show.into(),
        pager,
    }))
}

pub async fn error_action(
    State(state): State<WebState>,
    PagePath((id, action)): PagePath<(WorkflowErrorId, String)>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let back = "/workflow-errors";
    let (app, actor) = (&state.app, &ctx.actor);
    let (result, done) = match action.as_str() {
        "review" => (
            app::runtime::engine::set_error_status(app, actor, id, WorkflowErrorStatus::Reviewed)
                .await,
            "The error is marked reviewed.",
        ),
        "resolve" => (
            app::runtime::engine::set_error_status(app, actor, id, WorkflowErrorStatus::Resolved)
                .await,
            "The error is resolved.",
        ),
        "retry" => (
            app::runtime::engine::retry(app, actor, id).await,
            "Retried. An action runs again in the background (its attempts are shown here); if the step fails again, a new error is listed.",
        ),
        _ => return Ok(ctx.failed(back, app::AppError::NotFound)),
    };
    Ok(ctx.outcome(back, result, |_| done.to_owned()))
}

/// This module's pages.
pub fn router() -> axum::Router<crate::state::WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/tasks", get(my_tasks))
        .route("/tasks/all", get(all_tasks))
        .route("/tasks/{id}", get(task))
        .route("/tasks/{id}/claim", post(claim))
        .route("/tasks/{id}/release", post(release))
        .route("/tasks/{id}/assign", post(assign))
        .route("/tasks/{id}/complete", post(complete))
        .route("/workflow-errors", get(workflow_errors))
        .route("/workflow-errors/{id}/{action}", post(error_action))
}

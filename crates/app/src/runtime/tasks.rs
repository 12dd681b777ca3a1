//! Working tasks: who may work one, the queues, claiming, assigning, releasing and
//! completing, and the automatic assignment by shortest queue.
//!
//! Who may work a task: an active user with system role `task_worker` who holds one of the
//! task definition's `company_role_access` roles (none listed: anyone) and, when the task
//! instance names allowed users, is one of them.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::event::Payload;
use domain::event::Stream;
use domain::ids::{TaskId, TicketId};
use domain::roles::SystemRole;
use domain::user::UserStatus;
use domain::validation::ValidationErrors;
use domain::workflow::{self as wf, TaskStatus, TaskType};
use domain::{CompanyId, UserId};
use serde::Serialize;
use serde_json::{Value, json};
use store::tasks::{TaskFilter, TaskInstance};

use super::versions::{Published, published};
use crate::{App, AppError, Result, audit};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: TaskId,
    pub ticket_id: TicketId,
    pub ticket_number: i64,
    pub ticket_title: String,
    pub task_key: String,
    pub name: String,
    pub description: String,
    pub task_type: TaskType,
    pub status: TaskStatus,
    pub assigned_to: Option<UserId>,
    pub allowed_users: Vec<UserId>,
    /// What the task reads: the workflow data, narrowed to its `input_schema`'s fields.
    #[schema(value_type = Object)]
    pub input_data: Value,
    /// What the task produced, once completed.
    #[schema(value_type = Option<Value>)]
    pub output_data: Option<Value>,
    /// The form to fill: the task's output schema.
    #[schema(value_type = Option<Value>)]
    pub output_schema: Option<Value>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// What the caller may do with the task now.
    pub actions: crate::access::TaskActions,
    /// In a form task's detail while it is open and its ticket runs: whether completing
    /// it ends the ticket, whatever is chosen or with which choices, as the workflow data
    /// stands now (see `domain::workflow::Ending`). Pages ask before such a completion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending: Option<wf::Ending>,
}

/// The task as `actor` sees it; `may_work` is [`actor_may_work`]'s answer and `personal`
/// [`held_by_design`]'s.
fn view(
    actor: &Actor,
    task: TaskInstance,
    ticket: &store::tickets::Ticket,
    version: &Published,
    may_work: bool,
    personal: bool,
) -> TaskView {
    let spec = version.task(&task.task_key);
    TaskView {
        actions: crate::access::task_actions(
            actor,
            task.task_type,
            task.status,
            task.assigned_to,
            may_work,
            personal,
        ),
        id: task.id,
        ticket_id: task.ticket_id,
        ticket_number: ticket.number,
        ticket_title: ticket.title.clone(),
        task_key: task.task_key,
        name: task.name,
        description: spec.map(|s| s.description.clone()).unwrap_or_default(),
        task_type: task.task_type,
        status: task.status,
        assigned_to: task.assigned_to,
        allowed_users: task.allowed_users,
        input_data: task.input_data,
        output_data: task.output_data,
        output_schema: spec.and_then(|s| s.output_schema.clone()),
        error: task.error,
        created_at: task.created_at,
        updated_at: task.updated_at,
        completed_at: task.completed_at,
        ending: None,
    }
}

async fn load(
    app: &App,
    company: CompanyId,
    id: TaskId,
) -> Result<(
    TaskInstance,
    store::tickets::Ticket,
    std::sync::Arc<Published>,
)> {
    let task = store::tasks::get(app.db(), company, id).await?;
    let ticket = store::tickets::get(app.db(), company, task.ticket_id).await?;
    let version = published(app, company, ticket.workflow_version_id).await?;
    Ok((task, ticket, version))
}

/// Whether the actor may work this task (see the module docs).
async fn actor_may_work(
    app: &App,
    actor: &Actor,
    company: CompanyId,
    task: &TaskInstance,
    version: &Published,
) -> Result<bool> {
    let Some(spec) = version.task(&task.task_key) else {
        return Ok(false);
    };
    let roles = if spec.company_role_access.is_empty() {
        Vec::new()
    } else {
        store::companies::user_role_names(app.db(), company, actor.user_id).await?
    };
    Ok(crate::access::may_work(
        actor.user_id,
        &actor.roles,
        &roles,
        spec,
        &task.allowed_users,
    ))
}

/// Whether the task, still to be done, is held by the person its design gives it to (the
/// ticket's requester, whoever completed an earlier task): then it is theirs, and never goes
/// to the queue.
async fn held_by_design(
    app: &App,
    company: CompanyId,
    task: &TaskInstance,
    ticket: &store::tickets::Ticket,
    version: &Published,
) -> Result<bool> {
    let Some(spec) = version.task(&task.task_key) else {
        return Ok(false);
    };
    let (Some(holder), true) = (task.assigned_to, spec.assignment.is_personal()) else {
        return Ok(false);
    };
    if !TaskStatus::QUEUED.contains(&task.status) {
        return Ok(false);
    }
    let tasks = match spec.assignment {
        wf::AssignmentStrategy::CompleterOf(_) => {
            store::tasks::of_ticket(app.db(), company, ticket.id).await?
        }
        _ => Vec::new(),
    };
    Ok(
        super::engine::wanted_person(&spec.assignment, ticket, &tasks)
            .is_some_and(|wanted| wanted == Ok(holder)),
    )
}

/// Why nobody but its holder may take a task the design gave to them.
fn theirs(spec: Option<&wf::TaskSpec>) -> String {
    match spec.map(|s| &s.assignment) {
        Some(wf::AssignmentStrategy::CompleterOf(key)) => format!(
            "this task is for whoever completed `{key}` on the ticket; nobody else can take it"
        ),
        _ => "this task is for the ticket's requester; nobody else can take it".into(),
    }
}

/// A task loaded for someone who sees it, with its ticket, its version and whether they
/// may work it.
struct Seen {
    company: CompanyId,
    task: TaskInstance,
    ticket: store::tickets::Ticket,
    version: std::sync::Arc<Published>,
    may_work: bool,
    /// Held by the person its design gives it to (see [`held_by_design`]).
    personal: bool,
}

/// Who sees a task: ticket admins, its holder, and workers who may work it.
async fn seen(app: &App, actor: &Actor, id: TaskId) -> Result<Seen> {
    let company = crate::access::company_of(actor)?;
    let (task, ticket, version) = load(app, company, id).await?;
    let may_work = actor_may_work(app, actor, company, &task, &version).await?;
    let ok = crate::access::is_ticket_admin(actor)
        || task.assigned_to == Some(actor.user_id)
        || may_work;
    if !ok {
        return Err(AppError::NotFound);
    }
    let personal = held_by_design(app, company, &task, &ticket, &version).await?;
    Ok(Seen {
        company,
        task,
        ticket,
        version,
        may_work,
        personal,
    })
}

async fn visible(app: &App, actor: &Actor, id: TaskId) -> Result<TaskView> {
    let seen = seen(app, actor, id).await?;
    Ok(view(
        actor,
        seen.task,
        &seen.ticket,
        &seen.version,
        seen.may_work,
        seen.personal,
    ))
}

/// A task with, for an open form, what completing it does to its ticket.
pub async fn get(app: &App, actor: &Actor, id: TaskId) -> Result<TaskView> {
    let seen = seen(app, actor, id).await?;
    let ending = match running_form(&seen) {
        Some(spec) => {
            let active = other_active(app, &seen).await?;
            let state = wf::RunState {
                data: &seen.ticket.workflow_data,
                active_tasks: &active,
                pending_end: seen.ticket.pending_end.as_deref(),
            };
            let limits = crate::design::limits(app);
            Some(wf::ending(&seen.version.spec, spec, &state, &limits))
        }
        None => None,
    };
    let mut view = view(
        actor,
        seen.task,
        &seen.ticket,
        &seen.version,
        seen.may_work,
        seen.personal,
    );
    view.ending = ending;
    Ok(view)
}

/// The definition of a form task someone may still complete, whose completion would take
/// its ticket's workflow a step.
fn running_form(seen: &Seen) -> Option<&wf::TaskSpec> {
    let task = &seen.task;
    (task.task_type == TaskType::Form
        && TaskStatus::QUEUED.contains(&task.status)
        && seen.ticket.workflow_status.can_step())
    .then(|| seen.version.task(&task.task_key))
    .flatten()
}

/// The keys of the other active tasks of a task's ticket.
async fn other_active(app: &App, seen: &Seen) -> Result<Vec<String>> {
    Ok(
        store::tasks::of_ticket(app.db(), seen.company, seen.task.ticket_id)
            .await?
            .into_iter()
            .filter(|t| t.status.is_active() && t.id != seen.task.id)
            .map(|t| t.task_key)
            .collect(),
    )
}

/// The end status completing this task with `output` would give its ticket now, if it
/// ends it: the step the completion runs, on the output merged into the workflow data.
/// `None` as well for an output the completion would refuse (it says why).
pub async fn ending_of(
    app: &App,
    actor: &Actor,
    id: TaskId,
    output: &Value,
) -> Result<Option<String>> {
    let seen = seen(app, actor, id).await?;
    if running_form(&seen).is_none() {
        return Ok(None);
    }
    let Ok(merged) = wf::apply_checked_output(
        seen.version.output_schema(&seen.task.task_key),
        &seen.ticket.workflow_data,
        output,
    ) else {
        return Ok(None);
    };
    let active = other_active(app, &seen).await?;
    let state = wf::RunState {
        data: &merged.data,
        active_tasks: &active,
        pending_end: seen.ticket.pending_end.as_deref(),
    };
    let limits = crate::design::limits(app);
    Ok(wf::end_after(
        &seen.version.spec,
        &seen.task.task_key,
        &state,
        &limits,
    ))
}

/// A list of tasks: `mine` = held by the actor; `queue` = unheld tasks the actor may claim;
/// otherwise every task (ticket admins only).
#[derive(Clone, Debug, Default)]
pub struct TaskQuery {
    pub mine: bool,
    pub queue: bool,
    pub statuses: Vec<TaskStatus>,
    pub cursor: Option<TaskId>,
    pub limit: u32,
}

pub async fn list(
    app: &App,
    actor: &Actor,
    query: TaskQuery,
) -> Result<(Vec<TaskView>, Option<TaskId>)> {
    let company = crate::access::company_of(actor)?;
    if !query.mine && !query.queue && !crate::access::is_ticket_admin(actor) {
        return Err(AppError::Forbidden(
            "all tasks are for ticket admins; ask for mine=true or queue=true".into(),
        ));
    }
    let limit = query.limit.clamp(1, 200);
    let filter = TaskFilter {
        assignee: query.mine.then_some(actor.user_id),
        unassigned: query.queue,
        statuses: if query.queue && query.statuses.is_empty() {
            vec![TaskStatus::Open]
        } else {
            query.statuses
        },
        task_types: if query.queue {
            vec![TaskType::Form]
        } else {
            Vec::new()
        },
        after: query.cursor,
        limit,
    };
    let rows = store::tasks::list(app.db(), company, &filter).await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|t| t.id))
        .flatten();
    let mut out = Vec::new();
    for task in rows {
        let ticket = store::tickets::get(app.db(), company, task.ticket_id).await?;
        let version = published(app, company, ticket.workflow_version_id).await?;
        let may_work = actor_may_work(app, actor, company, &task, &version).await?;
        if query.queue && !may_work {
            continue;
        }
        let personal = held_by_design(app, company, &task, &ticket, &version).await?;
        out.push(view(actor, task, &ticket, &version, may_work, personal));
    }
    Ok((out, next))
}

/// How many tasks of the company have one of `statuses` (all of them when empty): the
/// total of the ticket admins' list of every task.
pub async fn count(app: &App, actor: &Actor, statuses: Vec<TaskStatus>) -> Result<i64> {
    let company = crate::access::require_ticket_admin(actor)?;
    let filter = TaskFilter {
        statuses,
        ..Default::default()
    };
    Ok(store::tasks::count(app.db(), company, &filter).await?)
}

fn not_form(task: &TaskInstance) -> Option<AppError> {
    (task.task_type != TaskType::Form).then(|| AppError::Conflict {
        field: None,
        message: "action tasks are run by the engine, not by people".into(),
    })
}

/// Takes an unheld task from the queue. Of two workers claiming at once, exactly one wins;
/// the other gets a conflict.
pub async fn claim(app: &App, actor: &Actor, id: TaskId) -> Result<TaskView> {
    let company = crate::access::company_of(actor)?;
    let (task, ticket, version) = load(app, company, id).await?;
    if !actor_may_work(app, actor, company, &task, &version).await? {
        return Err(if task.assigned_to == Some(actor.user_id) {
            AppError::Forbidden("you may not work this task".into())
        } else {
            AppError::NotFound
        });
    }
    if let Some(error) = not_form(&task) {
        return Err(error);
    }
    if held_by_design(app, company, &task, &ticket, &version).await? {
        return Err(AppError::Conflict {
            field: None,
            message: theirs(version.task(&task.task_key)),
        });
    }
    let mut tx = app.db().begin().await?;
    if !store::tasks::claim(&mut tx, company, id, actor.user_id).await? {
        return Err(AppError::Conflict {
            field: None,
            message: "the task is no longer open: someone else has it or it is done".into(),
        });
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Ticket(task.ticket_id),
        Payload::TaskClaimed {
            task_id: id,
            assigned_to: actor.user_id,
        },
    )
    .await?;
    app.commit(tx).await?;
    get(app, actor, id).await
}

/// The company's active task workers as (id, name), for a ticket admin assigning tasks or
/// filtering by assignee.
pub async fn workers(app: &App, actor: &Actor) -> Result<Vec<(UserId, String)>> {
    let company = crate::access::company_of(actor)?;
    if !crate::access::is_ticket_admin(actor) {
        return Err(AppError::Forbidden(
            "the list of workers is for ticket admins".into(),
        ));
    }
    let filter = store::users::UserFilter {
        status: Some(UserStatus::Active),
        role: Some(SystemRole::TaskWorker),
        limit: 200,
        ..Default::default()
    };
    Ok(store::users::list(app.db(), company, &filter)
        .await?
        .into_iter()
        .map(|u| (u.id, format!("{} {}", u.first_name, u.last_name)))
        .collect())
}

/// A ticket admin gives a task to an eligible worker, or back to the person its design gives
/// it to (the requester, say), who need not be a worker.
pub async fn assign(app: &App, actor: &Actor, id: TaskId, user: UserId) -> Result<TaskView> {
    let company = crate::access::company_of(actor)?;
    if !crate::access::is_ticket_admin(actor) {
        return Err(AppError::Forbidden(
            "assigning tasks needs the ticket_admin role".into(),
        ));
    }
    let (task, ticket, version) = load(app, company, id).await?;
    if let Some(error) = not_form(&task) {
        return Err(error);
    }
    let spec = version.task(&task.task_key).ok_or(AppError::NotFound)?;
    let worker = store::users::get(app.db(), company, user)
        .await
        .map_err(|_| ValidationErrors::single("user_id", "is not a user of your company"))?;
    let roles = store::companies::user_role_names(app.db(), company, user).await?;
    let tasks = if spec.assignment.is_personal() {
        store::tasks::of_ticket(app.db(), company, ticket.id).await?
    } else {
        Vec::new()
    };
    let wanted = super::engine::wanted_person(&spec.assignment, &ticket, &tasks)
        .is_some_and(|wanted| wanted == Ok(user));
    if worker.status != UserStatus::Active
        || !(wanted
            || crate::access::may_work(
                user,
                &worker.system_roles,
                &roles,
                spec,
                &task.allowed_users,
            ))
    {
        return Err(ValidationErrors::single(
            "user_id",
            "may not work this task (needs to be active, a task_worker, and hold one of its roles)",
        )
        .into());
    }
    let mut tx = app.db().begin().await?;
    if !store::tasks::set_assignee(&mut tx, company, id, Some(user)).await? {
        return Err(AppError::Conflict {
            field: None,
            message: "the task is already finished".into(),
        });
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Ticket(task.ticket_id),
        Payload::TaskAssigned {
            task_id: id,
            assigned_to: user,
            by: "ticket_admin".into(),
        },
    )
    .await?;
    app.commit(tx).await?;
    get(app, actor, id).await
}

/// Gives a task back to the queue: its holder or a ticket admin.
pub async fn release(app: &App, actor: &Actor, id: TaskId) -> Result<TaskView> {
    let company = crate::access::company_of(actor)?;
    let (task, ticket, version) = load(app, company, id).await?;
    let admin = crate::access::is_ticket_admin(actor);
    if task.assigned_to != Some(actor.user_id) && !admin {
        return Err(if visible(app, actor, id).await.is_ok() {
            AppError::Forbidden("only the holder or a ticket admin can release a task".into())
        } else {
            AppError::NotFound
        });
    }
    if held_by_design(app, company, &task, &ticket, &version).await? {
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "{}: it cannot go back to the queue (a ticket admin may assign it to someone else)",
                theirs(version.task(&task.task_key))
            ),
        });
    }
    let mut tx = app.db().begin().await?;
    if task.assigned_to.is_none() || !store::tasks::set_assignee(&mut tx, company, id, None).await?
    {
        return Err(AppError::Conflict {
            field: None,
            message: "the task is not held, or already finished".into(),
        });
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Ticket(task.ticket_id),
        Payload::TaskReleased { task_id: id },
    )
    .await?;
    app.commit(tx).await?;
    get(app, actor, id).await
}

/// Sets the per-instance list of users allowed to work a task (ticket admins; empty: no
/// restriction beyond the definition's).
pub async fn set_allowed_users(
    app: &App,
    actor: &Actor,
    id: TaskId,
    users: Vec<UserId>,
) -> Result<TaskView> {
    let company = crate::access::company_of(actor)?;
    if !crate::access::is_ticket_admin(actor) {
        return Err(AppError::Forbidden(
            "this needs the ticket_admin role".into(),
        ));
    }
    let task = store::tasks::get(app.db(), company, id).await?;
    let mut errors = ValidationErrors::new();
    for (i, user) in users.iter().enumerate() {
        if store::users::get(app.db(), company, *user).await.is_err() {
            errors.add(format!("user_ids/{i}"), "is not a user of your company");
        }
    }
    errors.into_result()?;
    let ids: Vec<UserId> = users.to_vec();
    let mut tx = app.db().begin().await?;
    store::tasks::set_allowed_users(&mut tx, company, id, &ids).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Ticket(task.ticket_id),
        Payload::TaskAllowedUsersSet {
            task_id: id,
            user_ids: ids,
        },
    )
    .await?;
    app.commit(tx).await?;
    get(app, actor, id).await
}

/// The holder completes a form task with its output; the output is checked against the
/// task's output schema (every violation listed) and written into the workflow data, each
/// changed field recorded with its old and new value. Then the engine takes the next step.
pub async fn complete(app: &App, actor: &Actor, id: TaskId, output: Value) -> Result<TaskView> {
    let company = crate::access::company_of(actor)?;
    let (task, _, version) = load(app, company, id).await?;
    if task.assigned_to != Some(actor.user_id) {
        return Err(if visible(app, actor, id).await.is_ok() {
            AppError::Forbidden("only the task's holder can complete it; claim it first".into())
        } else {
            AppError::NotFound
        });
    }
    if let Some(error) = not_form(&task) {
        return Err(error);
    }
    // A person's output is bounded like a submission and holds only the declared fields;
    // an action's response is the service's own and is mapped by the design instead.
    super::data::check_size(app, company, "output", &output).await?;
    if let Some(schema) = version
        .task(&task.task_key)
        .and_then(|spec| spec.output_schema.as_ref())
    {
        let undeclared = wf::undeclared_fields(schema, &output);
        if !undeclared.is_empty() {
            return Err(ValidationErrors::from_problems(undeclared, "output").into());
        }
    }
    finish(
        app,
        Some(actor),
        company,
        &task,
        &version,
        output,
        Finish::Form,
    )
    .await?;
    get(app, actor, id).await
}

/// Where a task's result comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// A person's form output, checked against the output schema.
    Form,
    /// An action's response, mapped by the output transform first.
    Action,
}

/// Completes a task exactly once and runs the engine step after it. Returns false when the
/// task was already finished (a retried action, a repeated callback).
pub(crate) async fn finish(
    app: &App,
    actor: Option<&Actor>,
    company: CompanyId,
    task: &TaskInstance,
    version: &Published,
    result: Value,
    how: Finish,
) -> Result<bool> {
    let spec = version.task(&task.task_key).ok_or(AppError::NotFound)?;
    let limits = crate::design::limits(app);
    let mut tx = app.db().begin().await?;
    let ticket = store::tickets::lock(&mut tx, company, task.ticket_id).await?;
    let to_errors = |problems| ValidationErrors::from_problems(problems, "output");
    let output = match how {
        Finish::Form => result.clone(),
        Finish::Action => wf::action_output(spec, &result, &limits).map_err(to_errors)?,
    };
    let merged = wf::apply_checked_output(
        version.output_schema(&task.task_key),
        &ticket.workflow_data,
        &output,
    )
    .map_err(to_errors)?;
    // A form's output is what the person entered; an action keeps the raw response.
    let stored = match how {
        Finish::Form => result,
        Finish::Action => json!({ "response": result }),
    };
    if !store::tasks::complete(&mut tx, company, task.id, &stored).await? {
        return Ok(false);
    }
    store::tickets::update_run(
        &mut tx,
        company,
        ticket.id,
        store::tickets::RunChange {
            status: &ticket.status,
            workflow_status: ticket.workflow_status,
            workflow_data: &merged.data,
            pending_end: ticket.pending_end.as_deref(),
            closed: false,
        },
    )
    .await?;
    let mut updated = ticket.clone();
    updated.workflow_data = merged.data.clone();
    super::data::reindex(&mut tx, company, &updated).await?;
    audit::record(
        &mut tx,
        actor,
        Some(company),
        Stream::Ticket(ticket.id),
        Payload::TaskCompleted {
            task_id: task.id,
            task_key: task.task_key.clone(),
            changes: json!(merged.changes),
        },
    )
    .await?;
    crate::runtime::engine::step(
        app,
        &mut tx,
        company,
        ticket.id,
        Some(&task.task_key),
        Some(task.id),
    )
    .await?;
    app.commit(tx).await?;
    Ok(true)
}

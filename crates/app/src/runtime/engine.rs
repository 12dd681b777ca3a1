//! The workflow engine's side effects: a submission or a task completion runs the one engine
//! step it causes in its own transaction, so both commit together, with one durable commit
//! (see `domain::workflow::engine` for what a step decides). A step that cannot go on
//! records a workflow error and puts the ticket ON_HOLD; the user's change stands either
//! way. Ticket admins review, resolve and retry errors; a periodic sweep reports stalled
//! workflows.

use std::collections::HashMap;

use domain::CompanyId;
use domain::UserId;
use domain::auth::Actor;
use domain::event::Payload;
use domain::event::Stream;
use domain::ids::{TaskId, TicketId, WorkflowErrorId};
use domain::job::NewJob;
use domain::workflow::{
    self as wf, Step, TaskStatus, TaskType, WorkflowErrorStatus, WorkflowErrorType,
    WorkflowRunStatus,
};
use serde::Serialize;
use serde_json::{Value, json};
use store::Tx;
use store::tickets::{RunChange, Ticket};

use super::versions::published;
use crate::{App, AppError, Result, audit};

/// Job kind of an action task's HTTP call.
pub const ACTION_JOB: &str = "action.run";

/// Runs a step in a transaction of its own (a retried error). A failure of the step itself
/// (the database gone) is logged; the stall sweep finds the ticket later.
async fn advance(
    app: &App,
    company: CompanyId,
    ticket: TicketId,
    from: Option<String>,
    task: Option<TaskId>,
) {
    let run = async {
        let mut tx = app.db().begin().await?;
        step(app, &mut tx, company, ticket, from.as_deref(), task).await?;
        app.commit(tx).await?;
        Ok::<_, AppError>(())
    };
    if let Err(error) = run.await {
        tracing::error!(%ticket, %error, "engine step failed");
    }
}

/// Runs the step after the submission (`from = None`) or after task `from` completed, in
/// the caller's transaction (whose commit wakes the workers for any action it queued).
pub(crate) async fn step(
    app: &App,
    tx: &mut Tx,
    company: CompanyId,
    ticket_id: TicketId,
    from: Option<&str>,
    task: Option<TaskId>,
) -> Result<()> {
    let ticket = store::tickets::lock(tx, company, ticket_id).await?;
    if !matches!(
        ticket.workflow_status,
        WorkflowRunStatus::NotStarted | WorkflowRunStatus::InProgress
    ) {
        return Ok(());
    }
    let active: Vec<String> = store::tasks::of_ticket(&mut *tx, company, ticket_id)
        .await?
        .into_iter()
        .filter(|t| t.status.is_active())
        .filter(|t| Some(t.id) != task)
        .map(|t| t.task_key)
        .collect();
    run_step(app, tx, company, &ticket, &active, from, task).await
}

/// Starts the workflow of `ticket`, inserted in this same transaction: it has no tasks yet,
/// and nobody else can see or lock it, so the step needs neither to be read back.
pub(crate) async fn start(
    app: &App,
    tx: &mut Tx,
    company: CompanyId,
    ticket: &Ticket,
) -> Result<()> {
    run_step(app, tx, company, ticket, &[], None, None).await
}

/// The step itself, on the ticket as locked and the keys of its `active` tasks.
async fn run_step(
    app: &App,
    tx: &mut Tx,
    company: CompanyId,
    ticket: &Ticket,
    active: &[String],
    from: Option<&str>,
    task: Option<TaskId>,
) -> Result<()> {
    let limits = crate::design::limits(app);
    let ticket_id = ticket.id;
    let version = published(app, company, ticket.workflow_version_id).await?;
    let state = wf::RunState {
        data: &ticket.workflow_data,
        active_tasks: active,
        pending_end: ticket.pending_end.as_deref(),
    };
    let outcome = wf::step(&version.spec, from, &state, &limits);
    let run =
        |status: &'static str, workflow_status: WorkflowRunStatus, pending, closed| RunChange {
            status,
            workflow_status,
            workflow_data: &ticket.workflow_data,
            pending_end: pending,
            closed,
        };
    match outcome {
        Ok(Step::Tasks { create, joined }) => {
            for new in &create {
                let Some(spec) = version.task(&new.key) else {
                    continue;
                };
                create_task(app, tx, company, ticket, spec, new).await?;
            }
            store::tickets::update_run(
                tx,
                company,
                ticket_id,
                run(
                    store::tickets::OPEN,
                    WorkflowRunStatus::InProgress,
                    ticket.pending_end.as_deref(),
                    false,
                ),
            )
            .await?;
            if !joined.is_empty() {
                audit::record(
                    tx,
                    None,
                    Some(company),
                    Stream::Ticket(ticket_id),
                    Payload::WorkflowJoined {
                        from: from.map(str::to_owned),
                        into: joined,
                    },
                )
                .await?;
            }
        }
        Ok(Step::WaitForBranches { pending_end }) => {
            store::tickets::update_run(
                tx,
                company,
                ticket_id,
                run(
                    store::tickets::OPEN,
                    WorkflowRunStatus::InProgress,
                    Some(&pending_end),
                    false,
                ),
            )
            .await?;
            audit::record(
                tx,
                None,
                Some(company),
                Stream::Ticket(ticket_id),
                Payload::WorkflowBranchEnded {
                    from: from.map(str::to_owned),
                    status: pending_end,
                },
            )
            .await?;
        }
        Ok(Step::End { status }) => {
            store::tickets::update_run(
                tx,
                company,
                ticket_id,
                RunChange {
                    status: &status,
                    workflow_status: WorkflowRunStatus::Completed,
                    workflow_data: &ticket.workflow_data,
                    pending_end: None,
                    closed: true,
                },
            )
            .await?;
            audit::record(
                tx,
                None,
                Some(company),
                Stream::Ticket(ticket_id),
                Payload::WorkflowCompleted {
                    from: from.map(str::to_owned),
                    status,
                },
            )
            .await?;
        }
        Err(error) => {
            raise(
                tx,
                company,
                ticket_id,
                task,
                error.error_type,
                &error.message,
                json!({ "kind": "step", "from": from, "task_id": task }),
            )
            .await?;
        }
    }
    Ok(())
}

/// Records a workflow error and holds the ticket until an admin acts on it.
pub(crate) async fn raise(
    tx: &mut Tx,
    company: CompanyId,
    ticket: TicketId,
    task: Option<TaskId>,
    error_type: WorkflowErrorType,
    message: &str,
    step: Value,
) -> Result<()> {
    let current = store::tickets::lock(tx, company, ticket).await?;
    let error = store::tasks::insert_error(
        tx,
        store::tasks::NewWorkflowError {
            company_id: company,
            ticket_id: ticket,
            task_id: task,
            error_type,
            message,
            step: &step,
        },
    )
    .await?;
    store::tickets::update_run(
        tx,
        company,
        ticket,
        RunChange {
            status: store::tickets::OPEN,
            workflow_status: WorkflowRunStatus::OnHold,
            workflow_data: &current.workflow_data,
            pending_end: current.pending_end.as_deref(),
            closed: false,
        },
    )
    .await?;
    audit::record(
        tx,
        None,
        Some(company),
        Stream::Ticket(ticket),
        Payload::WorkflowErrorRaised {
            error_id: error.id,
            error_type,
            message: message.to_owned(),
            task_id: task,
        },
    )
    .await?;
    Ok(())
}

/// Creates one task instance: a form is assigned by its strategy, an action is queued as a
/// job. A form the design gives to a person (the requester, whoever completed an earlier
/// task) goes to them directly; if they cannot take it, it waits in the claim queue of the
/// workers who may work it, and an event says why (see docs/decisions.md).
async fn create_task(
    app: &App,
    tx: &mut Tx,
    company: CompanyId,
    ticket: &store::tickets::Ticket,
    spec: &wf::TaskSpec,
    new: &wf::NewTask,
) -> Result<()> {
    // Chosen before the insert, so the task is stored already assigned.
    let mut unavailable = None;
    let worker = match &spec.assignment {
        _ if spec.task_type != TaskType::Form => None,
        wf::AssignmentStrategy::AutoShortestQueue => pick_worker(tx, company, spec, &[]).await?,
        strategy if strategy.is_personal() => {
            let tasks = store::tasks::of_ticket(&mut *tx, company, ticket.id).await?;
            match wanted_person(strategy, ticket, &tasks) {
                Some(Ok(person)) => match unavailable_reason(&mut *tx, company, person).await? {
                    None => Some(person),
                    Some(reason) => {
                        unavailable = Some((Some(person), reason));
                        None
                    }
                },
                Some(Err(reason)) => {
                    unavailable = Some((None, reason));
                    None
                }
                None => None,
            }
        }
        _ => None,
    };
    let task = store::tasks::insert(
        tx,
        store::tasks::NewTask {
            company_id: company,
            ticket_id: ticket.id,
            task_key: &spec.key,
            name: &spec.name,
            task_type: spec.task_type,
            status: TaskStatus::Open,
            allowed_users: &[],
            input_data: &new.input_data,
            assigned_to: worker,
        },
    )
    .await?;
    audit::record(
        tx,
        None,
        Some(company),
        Stream::Ticket(ticket.id),
        Payload::TaskCreated {
            task_id: task.id,
            task_key: spec.key.clone(),
            name: spec.name.clone(),
            task_type: spec.task_type,
        },
    )
    .await?;
    if spec.task_type == TaskType::Form {
        if let Some(worker) = worker {
            audit::record(
                tx,
                None,
                Some(company),
                Stream::Ticket(ticket.id),
                Payload::TaskAssigned {
                    task_id: task.id,
                    assigned_to: worker,
                    by: spec.assignment.to_string(),
                },
            )
            .await?;
        }
        if let Some((user, reason)) = unavailable {
            tracing::info!(
                ticket = %ticket.id,
                task = %task.id,
                wanted = %spec.assignment,
                %reason,
                "a task for a person went to the claim queue"
            );
            audit::record(
                tx,
                None,
                Some(company),
                Stream::Ticket(ticket.id),
                Payload::TaskAssignmentUnavailable {
                    task_id: task.id,
                    wanted: spec.assignment.to_string(),
                    user_id: user,
                    reason,
                },
            )
            .await?;
        }
        return Ok(());
    }
    let body = new
        .action_body
        .clone()
        .unwrap_or_else(|| new.input_data.clone());
    store::jobs::enqueue(
        &mut *tx,
        NewJob::new(
            ACTION_JOB,
            json!({ "company_id": company, "task_id": task.id, "body": body }),
        )
        .company(company)
        .max_attempts(app.settings().action_max_attempts),
    )
    .await?;
    Ok(())
}

/// The person a personal strategy names on this ticket (`None` for the other strategies):
/// its requester, or whoever completed the latest round of the named task of `tasks` (the
/// ticket's). `Err` says why there is nobody.
pub(crate) fn wanted_person(
    strategy: &wf::AssignmentStrategy,
    ticket: &store::tickets::Ticket,
    tasks: &[store::tasks::TaskInstance],
) -> Option<std::result::Result<UserId, String>> {
    match strategy {
        wf::AssignmentStrategy::Requester => Some(Ok(ticket.requester_id)),
        wf::AssignmentStrategy::CompleterOf(key) => Some(
            tasks
                .iter()
                .filter(|t| &t.task_key == key && t.status == TaskStatus::Completed)
                .max_by_key(|t| (t.completed_at, t.id))
                .and_then(|t| t.assigned_to)
                .ok_or_else(|| format!("nobody has completed `{key}` on this ticket")),
        ),
        _ => None,
    }
}

/// Why `user` cannot be given a task now, if they cannot: gone from the company, or not
/// active (blocked, still pending).
pub(crate) async fn unavailable_reason(
    db: impl store::Exec,
    company: CompanyId,
    user: UserId,
) -> Result<Option<String>> {
    match store::users::get(db, company, user).await {
        Ok(found) if found.status == domain::user::UserStatus::Active => Ok(None),
        Ok(found) => Ok(Some(format!("their account is {}", found.status.as_str()))),
        Err(store::StoreError::NotFound) => {
            Ok(Some("they are no longer a user of the company".into()))
        }
        Err(other) => Err(other.into()),
    }
}

// ---- Workflow errors

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorView {
    pub id: WorkflowErrorId,
    pub ticket_id: TicketId,
    pub ticket_number: Option<i64>,
    pub task_id: Option<TaskId>,
    pub error_type: WorkflowErrorType,
    pub error_status: WorkflowErrorStatus,
    pub message: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// A retried action still at work: resolved by the retry, the error is not over until
    /// the action's job is.
    pub retrying: Option<Retrying>,
}

/// Where a retried action's job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Retrying {
    /// The attempt running or due next, counting from 1.
    pub attempt: u32,
    pub max_attempts: u32,
}

impl From<store::tasks::WorkflowError> for ErrorView {
    fn from(e: store::tasks::WorkflowError) -> Self {
        Self {
            id: e.id,
            ticket_id: e.ticket_id,
            ticket_number: None,
            task_id: e.task_id,
            error_type: e.error_type,
            error_status: e.error_status,
            message: e.message,
            created_at: e.created_at,
            updated_at: e.updated_at,
            retrying: None,
        }
    }
}

/// Which workflow errors a list shows, and which page of them.
#[derive(Clone, Debug, Default)]
pub struct ErrorQuery {
    pub statuses: Vec<WorkflowErrorStatus>,
    /// Also resolved errors whose retried action is still at work (the page's "open").
    pub with_retrying: bool,
    pub ticket: Option<TicketId>,
    pub after: Option<WorkflowErrorId>,
    pub limit: u32,
}

/// A page of workflow errors and how many the query finds over all pages.
#[derive(Clone, Debug)]
pub struct ErrorList {
    pub items: Vec<ErrorView>,
    pub total: i64,
}

/// The unfinished jobs of retried actions a list can show, at most: more than this many
/// retries at work at once would be a queue in trouble, and the list says "retrying" only
/// for these.
const RETRIES_SHOWN: u32 = 1_000;

/// Workflow errors of the company, newest first, with the ticket numbers and where each
/// retried action stands: four statements whatever the page's length.
pub async fn errors(app: &App, actor: &Actor, query: ErrorQuery) -> Result<ErrorList> {
    let company = crate::access::require_ticket_admin(actor)?;
    let mut retrying: HashMap<TaskId, Retrying> = HashMap::new();
    for job in store::jobs::pending(app.db(), company, ACTION_JOB, RETRIES_SHOWN).await? {
        let task = job
            .payload
            .get("task_id")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok());
        if let Some(task) = task {
            // Newest first: the first job of a task is the one at work.
            retrying.entry(task).or_insert(Retrying {
                attempt: job.attempts + u32::from(job.status == domain::job::JobStatus::Queued),
                max_attempts: job.max_attempts,
            });
        }
    }
    let filter = store::tasks::ErrorFilter {
        statuses: query.statuses,
        also_of_tasks: if query.with_retrying {
            retrying.keys().copied().collect()
        } else {
            Vec::new()
        },
        ticket: query.ticket,
        after: query.after,
        limit: query.limit,
    };
    let total = store::tasks::count_errors(app.db(), company, &filter).await?;
    let found = store::tasks::list_errors(app.db(), company, &filter).await?;
    let tickets: Vec<TicketId> = found.iter().map(|e| e.ticket_id).collect();
    let numbers = store::tickets::numbers(app.db(), company, &tickets).await?;
    let items = found
        .into_iter()
        .map(|error| {
            let retrying = match error.task_id {
                Some(task) if error.error_status == WorkflowErrorStatus::Resolved => {
                    retrying.get(&task).copied()
                }
                _ => None,
            };
            let mut view = ErrorView::from(error);
            view.ticket_number = numbers.get(&view.ticket_id).copied();
            view.retrying = retrying;
            view
        })
        .collect();
    Ok(ErrorList { items, total })
}

/// Moves an error to REVIEWED or RESOLVED without retrying.
pub async fn set_error_status(
    app: &App,
    actor: &Actor,
    id: WorkflowErrorId,
    to: wf::WorkflowErrorStatus,
) -> Result<ErrorView> {
    let company = crate::access::require_ticket_admin(actor)?;
    let error = store::tasks::get_error(app.db(), company, id).await?;
    let current = error.error_status;
    if !current.can_change_to(to) {
        return Err(AppError::Conflict {
            field: Some("status".into()),
            message: format!("a {} error cannot become {}", current.as_str(), to.as_str()),
        });
    }
    let mut tx = app.db().begin().await?;
    if !store::tasks::set_error_status(&mut tx, company, id, &[current], to, actor.user_id).await? {
        return Err(AppError::Conflict {
            field: Some("status".into()),
            message: "someone else changed the error meanwhile; reload it".into(),
        });
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Ticket(error.ticket_id),
        Payload::WorkflowErrorStatusChanged {
            error_id: id,
            status: to,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(store::tasks::get_error(app.db(), company, id).await?.into())
}

/// Resolves an error and runs its step again (for an action incident, the call). If it
/// fails again a new error is raised.
pub async fn retry(app: &App, actor: &Actor, id: WorkflowErrorId) -> Result<ErrorView> {
    let company = crate::access::require_ticket_admin(actor)?;
    let error = store::tasks::get_error(app.db(), company, id).await?;
    if error.error_status == WorkflowErrorStatus::Resolved {
        return Err(AppError::Conflict {
            field: None,
            message: "the error is already resolved".into(),
        });
    }
    let mut tx = app.db().begin().await?;
    let ticket = store::tickets::lock(&mut tx, company, error.ticket_id).await?;
    if !WorkflowRunStatus::ACTIVE.contains(&ticket.workflow_status) {
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "the ticket has ended ({}); there is nothing to retry",
                ticket.status
            ),
        });
    }
    // Of two admins retrying at once only one may run the step (or call the action) again.
    if !store::tasks::set_error_status(
        &mut tx,
        company,
        id,
        &[WorkflowErrorStatus::New, WorkflowErrorStatus::Reviewed],
        WorkflowErrorStatus::Resolved,
        actor.user_id,
    )
    .await?
    {
        return Err(AppError::Conflict {
            field: None,
            message: "the error is already resolved".into(),
        });
    }
    if ticket.workflow_status == WorkflowRunStatus::OnHold {
        store::tickets::update_run(
            &mut tx,
            company,
            ticket.id,
            RunChange {
                status: store::tickets::OPEN,
                workflow_status: WorkflowRunStatus::InProgress,
                workflow_data: &ticket.workflow_data,
                pending_end: ticket.pending_end.as_deref(),
                closed: false,
            },
        )
        .await?;
    }
    let action = error.step["kind"] == "action";
    if let (true, Some(task_id)) = (action, error.task_id) {
        let task = store::tasks::get(&mut tx, company, task_id).await?;
        store::tasks::transition(
            &mut tx,
            company,
            task_id,
            &[TaskStatus::Error],
            TaskStatus::Open,
            None,
        )
        .await?;
        let version = published(app, company, ticket.workflow_version_id).await?;
        let spec = version.task(&task.task_key).ok_or(AppError::NotFound)?;
        let limits = crate::design::limits(app);
        let body = wf::action_body(spec, &ticket.workflow_data, &limits)
            .unwrap_or_else(|_| task.input_data.clone());
        store::jobs::enqueue(
            &mut tx,
            NewJob::new(
                ACTION_JOB,
                json!({ "company_id": company, "task_id": task_id, "body": body }),
            )
            .company(company)
            .max_attempts(app.settings().action_max_attempts),
        )
        .await?;
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Ticket(error.ticket_id),
        Payload::WorkflowErrorRetried { error_id: id },
    )
    .await?;
    app.commit(tx).await?;
    if !action {
        let (from, task) = if error.step["kind"] == "stalled" {
            // Go on from the task that finished last (or the start, if none ever ran).
            let last = store::tasks::of_ticket(app.db(), company, error.ticket_id)
                .await?
                .into_iter()
                .filter(|t| t.status == TaskStatus::Completed)
                .max_by_key(|t| t.completed_at);
            (
                last.as_ref().map(|t| t.task_key.clone()),
                last.map(|t| t.id),
            )
        } else {
            (
                error.step["from"].as_str().map(str::to_owned),
                error.step["task_id"]
                    .as_str()
                    .and_then(|s| s.parse::<TaskId>().ok()),
            )
        };
        advance(app, company, error.ticket_id, from, task).await;
    }
    Ok(store::tasks::get_error(app.db(), company, id).await?.into())
}

/// Reports running workflows that have no unfinished task and no open error: nothing would
/// ever move them. Returns how many were found.
pub async fn sweep_stalled(app: &App) -> Result<usize> {
    let quiet = chrono::Utc::now() - chrono::Duration::seconds(30);
    let stalled = store::tasks::stalled(app.db(), quiet).await?;
    for (company, ticket) in &stalled {
        let mut tx = app.db().begin().await?;
        raise(
            &mut tx,
            *company,
            *ticket,
            None,
            WorkflowErrorType::WorkflowTransition,
            "the workflow is stalled: it is running but has no unfinished task",
            json!({ "kind": "stalled" }),
        )
        .await?;
        app.commit(tx).await?;
    }
    Ok(stalled.len())
}

/// The eligible worker with the fewest open tasks; ties go to whoever was given a task
/// longest ago (never: first), then by id, so equal workers take turns.
pub(crate) async fn pick_worker(
    tx: &mut Tx,
    company: CompanyId,
    spec: &wf::TaskSpec,
    allowed: &[UserId],
) -> Result<Option<UserId>> {
    // The rule of `eligible`, asked of the whole company at once.
    let loads =
        store::tasks::worker_loads(&mut *tx, company, &spec.company_role_access, allowed).await?;
    let best = loads
        .into_iter()
        .map(|l| (l.open_tasks, l.last_assigned_at, l.user_id))
        .min();
    Ok(best.map(|(_, _, id)| id))
}

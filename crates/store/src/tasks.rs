//! Task instances of running workflows and the workflow errors the engine raises. State
//! changes that people race for (claiming, completing) are single conditional UPDATEs, so
//! exactly one of two concurrent attempts wins on either backend.

use chrono::{DateTime, Utc};
use domain::ids::{TaskId, TicketId, WorkflowErrorId};
use domain::user::UserStatus;
use domain::workflow::{
    TaskStatus, TaskType, WorkflowErrorStatus, WorkflowErrorType, WorkflowRunStatus,
};
use domain::{CompanyId, SystemRole, UserId};
use sea_query::{Expr, ExprTrait, Func, Order, Query};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::{TaskInstances, Tickets, Users, WorkflowErrors};

/// The stored names of statuses, for `IN (...)` filters.
fn names<const N: usize>(statuses: [TaskStatus; N]) -> [&'static str; N] {
    statuses.map(TaskStatus::as_str)
}

#[derive(Clone, Debug)]
pub struct TaskInstance {
    pub id: TaskId,
    pub company_id: CompanyId,
    pub ticket_id: TicketId,
    pub task_key: String,
    pub name: String,
    pub task_type: TaskType,
    pub status: TaskStatus,
    pub assigned_to: Option<UserId>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub allowed_users: Vec<UserId>,
    pub input_data: Value,
    pub output_data: Option<Value>,
    pub callback_token_hash: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: TaskId,
    company_id: CompanyId,
    ticket_id: TicketId,
    task_key: String,
    name: String,
    task_type: String,
    status: String,
    assigned_to: Option<UserId>,
    assigned_at: Option<DateTime<Utc>>,
    allowed_users: Json<Vec<UserId>>,
    input_data: Json<Value>,
    output_data: Option<Json<Value>>,
    callback_token_hash: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl TryFrom<TaskRow> for TaskInstance {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            company_id: r.company_id,
            ticket_id: r.ticket_id,
            task_key: r.task_key,
            name: r.name,
            task_type: r.task_type.parse().map_err(|_| corrupt(&r.task_type))?,
            status: r.status.parse().map_err(|_| corrupt(&r.status))?,
            assigned_to: r.assigned_to,
            assigned_at: r.assigned_at,
            allowed_users: r.allowed_users.0,
            input_data: r.input_data.0,
            output_data: r.output_data.map(|j| j.0),
            callback_token_hash: r.callback_token_hash,
            error: r.error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
        })
    }
}

const COLUMNS: [TaskInstances; 17] = [
    TaskInstances::Id,
    TaskInstances::CompanyId,
    TaskInstances::TicketId,
    TaskInstances::TaskKey,
    TaskInstances::Name,
    TaskInstances::TaskType,
    TaskInstances::Status,
    TaskInstances::AssignedTo,
    TaskInstances::AssignedAt,
    TaskInstances::AllowedUsers,
    TaskInstances::InputData,
    TaskInstances::OutputData,
    TaskInstances::CallbackTokenHash,
    TaskInstances::Error,
    TaskInstances::CreatedAt,
    TaskInstances::UpdatedAt,
    TaskInstances::CompletedAt,
];

pub struct NewTask<'a> {
    pub company_id: CompanyId,
    pub ticket_id: TicketId,
    pub task_key: &'a str,
    pub name: &'a str,
    pub task_type: TaskType,
    pub status: TaskStatus,
    pub allowed_users: &'a [UserId],
    pub input_data: &'a Value,
    /// Given to this worker from the start (auto-assignment): the task is IN_PROGRESS.
    pub assigned_to: Option<UserId>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, new: NewTask<'_>) -> Result<TaskInstance> {
    let now = Utc::now();
    let allowed = serde_json::to_value(new.allowed_users).unwrap_or(Value::Array(Vec::new()));
    let insert = Query::insert()
        .into_table(TaskInstances::Table)
        .columns(COLUMNS)
        .values_panic([
            Uuid::now_v7().into(),
            new.company_id.0.into(),
            new.ticket_id.into(),
            new.task_key.into(),
            new.name.into(),
            new.task_type.as_str().into(),
            if new.assigned_to.is_some() {
                TaskStatus::InProgress
            } else {
                new.status
            }
            .as_str()
            .into(),
            new.assigned_to.map(|u| u.0).into(),
            new.assigned_to.map(|_| now).into(),
            allowed.into(),
            new.input_data.clone().into(),
            Option::<Value>::None.into(),
            Option::<String>::None.into(),
            Option::<String>::None.into(),
            now.into(),
            now.into(),
            Option::<DateTime<Utc>>::None.into(),
        ])
        .returning(Query::returning().columns(COLUMNS))
        .to_owned();
    let row: Option<TaskRow> = tx.fetch_optional(&insert).await?;
    if let Some(user) = new.assigned_to {
        note_assignment(tx, new.company_id, user, now);
    }
    row.ok_or(StoreError::NotFound)?.try_into()
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get(db: impl Exec, company: CompanyId, id: TaskId) -> Result<TaskInstance> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(TaskInstances::Table)
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::Id).eq(id))
        .to_owned();
    let row: Option<TaskRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// A task found by id alone: for the action callback, which proves itself with a token
/// rather than a login and so has no company to scope by until the task is read.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_any_company(db: impl Exec, id: TaskId) -> Result<TaskInstance> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(TaskInstances::Table)
        .and_where(Expr::col(TaskInstances::Id).eq(id))
        .to_owned();
    let row: Option<TaskRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// A ticket's tasks in the order they were created.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn of_ticket(
    db: impl Exec,
    company: CompanyId,
    ticket: TicketId,
) -> Result<Vec<TaskInstance>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(TaskInstances::Table)
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::TicketId).eq(ticket))
        .order_by(TaskInstances::CreatedAt, Order::Asc)
        .order_by(TaskInstances::Id, Order::Asc)
        .to_owned();
    let rows: Vec<TaskRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// The unfinished tasks of several tickets in one query, oldest first: a list's "current
/// step" column.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn active_of_tickets(
    db: impl Exec,
    company: CompanyId,
    tickets: &[TicketId],
) -> Result<Vec<TaskInstance>> {
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    let select = Query::select()
        .columns(COLUMNS)
        .from(TaskInstances::Table)
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::TicketId).is_in(tickets.iter().copied()))
        .and_where(Expr::col(TaskInstances::Status).is_in(names(TaskStatus::ACTIVE)))
        .order_by(TaskInstances::CreatedAt, Order::Asc)
        .order_by(TaskInstances::Id, Order::Asc)
        .limit(1_000)
        .to_owned();
    let rows: Vec<TaskRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub assignee: Option<UserId>,
    /// Only tasks nobody holds (a claim queue).
    pub unassigned: bool,
    pub statuses: Vec<TaskStatus>,
    pub task_types: Vec<TaskType>,
    /// Continue after this id (UUIDv7, so newest first is id order).
    pub after: Option<TaskId>,
    pub limit: u32,
}

/// Tasks of the company, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(
    db: impl Exec,
    company: CompanyId,
    filter: &TaskFilter,
) -> Result<Vec<TaskInstance>> {
    let mut select = Query::select()
        .columns(COLUMNS)
        .from(TaskInstances::Table)
        .order_by(TaskInstances::Id, Order::Desc)
        .limit(u64::from(filter.limit.clamp(1, 500)))
        .to_owned();
    filtered(&mut select, company, filter);
    if let Some(after) = filter.after {
        select.and_where(Expr::col(TaskInstances::Id).lt(after));
    }
    let rows: Vec<TaskRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// How many tasks a list's filter finds, over all its pages.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn count(db: impl Exec, company: CompanyId, filter: &TaskFilter) -> Result<i64> {
    let mut select = Query::select().from(TaskInstances::Table).to_owned();
    filtered(&mut select, company, filter);
    crate::db::count(db, select, TaskInstances::Id).await
}

/// The conditions of a list's filter (not its page).
fn filtered(select: &mut sea_query::SelectStatement, company: CompanyId, filter: &TaskFilter) {
    select.and_where(Expr::col(TaskInstances::CompanyId).eq(company.0));
    if let Some(user) = filter.assignee {
        select.and_where(Expr::col(TaskInstances::AssignedTo).eq(user.0));
    }
    if filter.unassigned {
        select.and_where(Expr::col(TaskInstances::AssignedTo).is_null());
    }
    if !filter.statuses.is_empty() {
        select.and_where(
            Expr::col(TaskInstances::Status).is_in(filter.statuses.iter().map(|s| s.as_str())),
        );
    }
    if !filter.task_types.is_empty() {
        select.and_where(
            Expr::col(TaskInstances::TaskType).is_in(filter.task_types.iter().map(|t| t.as_str())),
        );
    }
}

/// Gives an OPEN, unheld task to `user`. Returns false when someone else got it first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn claim(tx: &mut Tx, company: CompanyId, id: TaskId, user: UserId) -> Result<bool> {
    let now = Utc::now();
    let update = Query::update()
        .table(TaskInstances::Table)
        .values([
            (TaskInstances::AssignedTo, user.0.into()),
            (TaskInstances::AssignedAt, now.into()),
            (
                TaskInstances::Status,
                TaskStatus::InProgress.as_str().into(),
            ),
            (TaskInstances::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::Id).eq(id))
        .and_where(Expr::col(TaskInstances::AssignedTo).is_null())
        .and_where(Expr::col(TaskInstances::Status).eq(TaskStatus::Open.as_str()))
        .to_owned();
    let claimed = tx.execute(&update).await? == 1;
    if claimed {
        note_assignment(tx, company, user, now);
    }
    Ok(claimed)
}

/// Sets or clears the holder of a task that is still to be done; `None` puts it back in
/// the queue (OPEN). Returns false when the task was already finished.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn set_assignee(
    tx: &mut Tx,
    company: CompanyId,
    id: TaskId,
    user: Option<UserId>,
) -> Result<bool> {
    let now = Utc::now();
    let update = Query::update()
        .table(TaskInstances::Table)
        .values([
            (TaskInstances::AssignedTo, user.map(|u| u.0).into()),
            (TaskInstances::AssignedAt, user.map(|_| now).into()),
            (
                TaskInstances::Status,
                if user.is_some() {
                    TaskStatus::InProgress
                } else {
                    TaskStatus::Open
                }
                .as_str()
                .into(),
            ),
            (TaskInstances::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::Id).eq(id))
        .and_where(Expr::col(TaskInstances::Status).is_in(names(TaskStatus::QUEUED)))
        .to_owned();
    let changed = tx.execute(&update).await? == 1;
    if let (true, Some(user)) = (changed, user) {
        note_assignment(tx, company, user, now);
    }
    Ok(changed)
}

/// Moves a task between statuses only if it is in one of `from`; returns whether it did.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn transition(
    tx: &mut Tx,
    company: CompanyId,
    id: TaskId,
    from: &[TaskStatus],
    to: TaskStatus,
    error: Option<&str>,
) -> Result<bool> {
    let now = Utc::now();
    let update = Query::update()
        .table(TaskInstances::Table)
        .values([
            (TaskInstances::Status, to.as_str().into()),
            (TaskInstances::Error, error.map(str::to_owned).into()),
            (TaskInstances::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::Id).eq(id))
        .and_where(Expr::col(TaskInstances::Status).is_in(from.iter().map(|s| s.as_str())))
        .to_owned();
    Ok(tx.execute(&update).await? == 1)
}

/// Completes a task that is still to be done, exactly once: a second attempt (a retried
/// action, a repeated callback, two clicks) changes nothing and returns false.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn complete(tx: &mut Tx, company: CompanyId, id: TaskId, output: &Value) -> Result<bool> {
    let now = Utc::now();
    let update = Query::update()
        .table(TaskInstances::Table)
        .values([
            (TaskInstances::Status, TaskStatus::Completed.as_str().into()),
            (TaskInstances::OutputData, output.clone().into()),
            (TaskInstances::Error, Option::<String>::None.into()),
            (
                TaskInstances::CallbackTokenHash,
                Option::<String>::None.into(),
            ),
            (TaskInstances::UpdatedAt, now.into()),
            (TaskInstances::CompletedAt, now.into()),
        ])
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::Id).eq(id))
        .and_where(Expr::col(TaskInstances::Status).is_in(names(TaskStatus::ACTIVE)))
        .to_owned();
    Ok(tx.execute(&update).await? == 1)
}

/// Cancels every unfinished task of a ticket.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn cancel_open(tx: &mut Tx, company: CompanyId, ticket: TicketId) -> Result<u64> {
    let now = Utc::now();
    let update = Query::update()
        .table(TaskInstances::Table)
        .values([
            (TaskInstances::Status, TaskStatus::Cancelled.as_str().into()),
            (
                TaskInstances::CallbackTokenHash,
                Option::<String>::None.into(),
            ),
            (TaskInstances::UpdatedAt, now.into()),
            (TaskInstances::CompletedAt, now.into()),
        ])
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::TicketId).eq(ticket))
        .and_where(Expr::col(TaskInstances::Status).is_in(names(TaskStatus::ACTIVE)))
        .to_owned();
    tx.execute(&update).await
}

/// Replaces the per-instance list of users allowed to work a task.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn set_allowed_users(
    tx: &mut Tx,
    company: CompanyId,
    id: TaskId,
    users: &[UserId],
) -> Result<()> {
    let allowed = serde_json::to_value(users).unwrap_or(Value::Array(Vec::new()));
    let update = Query::update()
        .table(TaskInstances::Table)
        .values([
            (TaskInstances::AllowedUsers, allowed.into()),
            (TaskInstances::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::Id).eq(id))
        .to_owned();
    match tx.execute(&update).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Stores the hash of an async action's single-use callback token.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn set_callback(
    tx: &mut Tx,
    company: CompanyId,
    id: TaskId,
    hash: Option<&str>,
) -> Result<()> {
    let update = Query::update()
        .table(TaskInstances::Table)
        .values([
            (
                TaskInstances::CallbackTokenHash,
                hash.map(str::to_owned).into(),
            ),
            (TaskInstances::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::Id).eq(id))
        .to_owned();
    tx.execute(&update).await?;
    Ok(())
}

/// A worker's queue length and when they were last given a task.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QueueLoad {
    pub user_id: UserId,
    pub open_tasks: i64,
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// Who may be given a task by auto-assignment, with their queues, in one query (it runs
/// under the write lock): active people of the company with the system role
/// `task_worker`, holding one of `roles` if any are named, among `allowed` if any are
/// given. Open tasks are counted through the `(company_id, assigned_to, status)` index and
/// the last assignment comes from the user row, so the cost follows the queues, not the
/// company's history.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn worker_loads(
    db: impl Exec,
    company: CompanyId,
    roles: &[String],
    allowed: &[UserId],
) -> Result<Vec<QueueLoad>> {
    // `COUNT(*)`, not `COUNT(id)`: the index holds every column the count needs, while
    // counting a column outside it made SQLite fetch each open task's row (a fifth of the
    // writer's time in the submission profile at 10,000 tickets).
    let open = Query::select()
        .expr(Func::cast_as(
            Func::count(Expr::col(sea_query::Asterisk)),
            "BIGINT",
        ))
        .from(TaskInstances::Table)
        .and_where(Expr::col((TaskInstances::Table, TaskInstances::CompanyId)).eq(company.0))
        .and_where(
            Expr::col((TaskInstances::Table, TaskInstances::AssignedTo))
                .equals((Users::Table, Users::Id)),
        )
        .and_where(
            Expr::col((TaskInstances::Table, TaskInstances::Status))
                .is_in(names(TaskStatus::QUEUED)),
        )
        .to_owned();
    let mut select = Query::select();
    select
        .expr_as(Expr::col((Users::Table, Users::Id)), "user_id")
        .expr_as(Expr::SubQuery(None, Box::new(open.into())), "open_tasks")
        .expr_as(
            Expr::col((Users::Table, Users::LastAssignedAt)),
            "last_assigned_at",
        )
        .from(Users::Table)
        .and_where(Expr::col((Users::Table, Users::CompanyId)).eq(company.0))
        .and_where(Expr::col((Users::Table, Users::Kind)).eq("person"))
        .and_where(Expr::col((Users::Table, Users::Status)).eq(UserStatus::Active.as_str()))
        .and_where(crate::users::has_system_role(SystemRole::TaskWorker))
        .limit(200);
    if !allowed.is_empty() {
        select.and_where(Expr::col((Users::Table, Users::Id)).is_in(allowed.iter().copied()));
    }
    if !roles.is_empty() {
        select.and_where(Expr::exists(crate::companies::holding_any(company, roles)));
    }
    db.fetch_all(&select).await
}

/// Remembers when `user` was last given a task; auto-assignment breaks ties with it. Kept
/// in the transaction and written by [`write_assignments`] at its commit: the row of a
/// company's least-loaded worker is what its concurrent submissions all update, and it
/// stays locked from that update to the commit. A second pick in the same transaction
/// does not need it: the first pick's new task already counts in that worker's load.
fn note_assignment(tx: &mut Tx, company: CompanyId, user: UserId, at: DateTime<Utc>) {
    match tx
        .pending_assignments
        .iter_mut()
        .find(|(c, u, _)| *c == company && *u == user)
    {
        Some((_, _, last)) => *last = Ord::max(*last, at),
        None => tx.pending_assignments.push((company, user, at)),
    }
}

/// Writes the assignment times kept by [`note_assignment`]; run by `Tx::commit` just
/// before the commit itself, in the order of the users' ids, so that two transactions
/// lock the same users' rows in the same order.
pub(crate) async fn write_assignments(tx: &mut Tx) -> Result<()> {
    let mut pending = std::mem::take(&mut tx.pending_assignments);
    pending.sort_by_key(|(company, user, _)| (company.0, user.0));
    for (company, user, at) in pending {
        let update = Query::update()
            .table(Users::Table)
            .value(Users::LastAssignedAt, at)
            .and_where(Expr::col(Users::CompanyId).eq(company.0))
            .and_where(Expr::col(Users::Id).eq(user.0))
            .to_owned();
        tx.execute(&update).await?;
    }
    Ok(())
}

/// Unfinished tasks of a ticket.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn active_count(db: impl Exec, company: CompanyId, ticket: TicketId) -> Result<i64> {
    let select = Query::select()
        .from(TaskInstances::Table)
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::TicketId).eq(ticket))
        .and_where(Expr::col(TaskInstances::Status).is_in(names(TaskStatus::ACTIVE)))
        .to_owned();
    crate::db::count(db, select, TaskInstances::Id).await
}

// ---- Workflow errors

#[derive(Clone, Debug)]
pub struct WorkflowError {
    pub id: WorkflowErrorId,
    pub company_id: CompanyId,
    pub ticket_id: TicketId,
    pub task_id: Option<TaskId>,
    pub error_type: WorkflowErrorType,
    pub error_status: WorkflowErrorStatus,
    pub message: String,
    pub step: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub reviewed_by: Option<UserId>,
    pub resolved_by: Option<UserId>,
}

#[derive(sqlx::FromRow)]
struct ErrorRow {
    id: WorkflowErrorId,
    company_id: CompanyId,
    ticket_id: TicketId,
    task_id: Option<TaskId>,
    error_type: String,
    error_status: String,
    message: String,
    step: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    reviewed_by: Option<UserId>,
    resolved_by: Option<UserId>,
}

impl TryFrom<ErrorRow> for WorkflowError {
    type Error = StoreError;
    fn try_from(r: ErrorRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            company_id: r.company_id,
            ticket_id: r.ticket_id,
            task_id: r.task_id,
            error_type: r.error_type.parse().map_err(|_| corrupt(&r.error_type))?,
            error_status: r
                .error_status
                .parse()
                .map_err(|_| corrupt(&r.error_status))?,
            message: r.message,
            step: r.step.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
            reviewed_by: r.reviewed_by,
            resolved_by: r.resolved_by,
        })
    }
}

const ERROR_COLUMNS: [WorkflowErrors; 12] = [
    WorkflowErrors::Id,
    WorkflowErrors::CompanyId,
    WorkflowErrors::TicketId,
    WorkflowErrors::TaskId,
    WorkflowErrors::ErrorType,
    WorkflowErrors::ErrorStatus,
    WorkflowErrors::Message,
    WorkflowErrors::Step,
    WorkflowErrors::CreatedAt,
    WorkflowErrors::UpdatedAt,
    WorkflowErrors::ReviewedBy,
    WorkflowErrors::ResolvedBy,
];

pub struct NewWorkflowError<'a> {
    pub company_id: CompanyId,
    pub ticket_id: TicketId,
    pub task_id: Option<TaskId>,
    pub error_type: WorkflowErrorType,
    pub message: &'a str,
    pub step: &'a Value,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_error(tx: &mut Tx, new: NewWorkflowError<'_>) -> Result<WorkflowError> {
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(WorkflowErrors::Table)
        .columns(ERROR_COLUMNS)
        .values_panic([
            Uuid::now_v7().into(),
            new.company_id.0.into(),
            new.ticket_id.into(),
            new.task_id.map(|t| t.0).into(),
            new.error_type.as_str().into(),
            WorkflowErrorStatus::New.as_str().into(),
            new.message.into(),
            new.step.clone().into(),
            now.into(),
            now.into(),
            Option::<Uuid>::None.into(),
            Option::<Uuid>::None.into(),
        ])
        .returning(Query::returning().columns(ERROR_COLUMNS))
        .to_owned();
    let row: Option<ErrorRow> = tx.fetch_optional(&insert).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get_error(
    db: impl Exec,
    company: CompanyId,
    id: WorkflowErrorId,
) -> Result<WorkflowError> {
    let select = Query::select()
        .columns(ERROR_COLUMNS)
        .from(WorkflowErrors::Table)
        .and_where(Expr::col(WorkflowErrors::CompanyId).eq(company.0))
        .and_where(Expr::col(WorkflowErrors::Id).eq(id))
        .to_owned();
    let row: Option<ErrorRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

#[derive(Clone, Debug, Default)]
pub struct ErrorFilter {
    pub statuses: Vec<WorkflowErrorStatus>,
    /// Errors of these tasks whatever their status (a resolved error whose retried action
    /// is still at work is open to the people watching it).
    pub also_of_tasks: Vec<TaskId>,
    pub ticket: Option<TicketId>,
    /// Continue after this error (ids are time-ordered UUIDv7).
    pub after: Option<WorkflowErrorId>,
    pub limit: u32,
}

/// Workflow errors, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list_errors(
    db: impl Exec,
    company: CompanyId,
    filter: &ErrorFilter,
) -> Result<Vec<WorkflowError>> {
    let mut select = Query::select()
        .columns(ERROR_COLUMNS)
        .from(WorkflowErrors::Table)
        .order_by(WorkflowErrors::Id, Order::Desc)
        .limit(u64::from(filter.limit.clamp(1, 500)))
        .to_owned();
    errors_filtered(&mut select, company, filter);
    if let Some(after) = filter.after {
        select.and_where(Expr::col(WorkflowErrors::Id).lt(after));
    }
    let rows: Vec<ErrorRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// How many workflow errors a filter finds, over all its pages.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn count_errors(db: impl Exec, company: CompanyId, filter: &ErrorFilter) -> Result<i64> {
    let mut select = Query::select().from(WorkflowErrors::Table).to_owned();
    errors_filtered(&mut select, company, filter);
    crate::db::count(db, select, WorkflowErrors::Id).await
}

/// The conditions of an error list's filter (not its page).
fn errors_filtered(
    select: &mut sea_query::SelectStatement,
    company: CompanyId,
    filter: &ErrorFilter,
) {
    select.and_where(Expr::col(WorkflowErrors::CompanyId).eq(company.0));
    if !filter.statuses.is_empty() {
        let statuses = Expr::col(WorkflowErrors::ErrorStatus)
            .is_in(filter.statuses.iter().map(|s| s.as_str()));
        if filter.also_of_tasks.is_empty() {
            select.and_where(statuses);
        } else {
            let tasks =
                Expr::col(WorkflowErrors::TaskId).is_in(filter.also_of_tasks.iter().map(|t| t.0));
            select.cond_where(statuses.or(tasks));
        }
    }
    if let Some(ticket) = filter.ticket {
        select.and_where(Expr::col(WorkflowErrors::TicketId).eq(ticket));
    }
}

/// Moves an error on (REVIEWED by, RESOLVED by); only from the statuses in `from`.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn set_error_status(
    tx: &mut Tx,
    company: CompanyId,
    id: WorkflowErrorId,
    from: &[WorkflowErrorStatus],
    to: WorkflowErrorStatus,
    by: UserId,
) -> Result<bool> {
    let by_column = if to == WorkflowErrorStatus::Resolved {
        WorkflowErrors::ResolvedBy
    } else {
        WorkflowErrors::ReviewedBy
    };
    let update = Query::update()
        .table(WorkflowErrors::Table)
        .values([
            (WorkflowErrors::ErrorStatus, to.as_str().into()),
            (by_column, by.0.into()),
            (WorkflowErrors::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(WorkflowErrors::CompanyId).eq(company.0))
        .and_where(Expr::col(WorkflowErrors::Id).eq(id))
        .and_where(Expr::col(WorkflowErrors::ErrorStatus).is_in(from.iter().map(|s| s.as_str())))
        .to_owned();
    Ok(tx.execute(&update).await? == 1)
}

/// Resolves every open (NEW or REVIEWED) error of a ticket, e.g. when it is cancelled;
/// returns how many.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn resolve_open_errors(
    tx: &mut Tx,
    company: CompanyId,
    ticket: TicketId,
    by: UserId,
) -> Result<u64> {
    let update = Query::update()
        .table(WorkflowErrors::Table)
        .values([
            (
                WorkflowErrors::ErrorStatus,
                WorkflowErrorStatus::Resolved.as_str().into(),
            ),
            (WorkflowErrors::ResolvedBy, by.0.into()),
            (WorkflowErrors::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(WorkflowErrors::CompanyId).eq(company.0))
        .and_where(Expr::col(WorkflowErrors::TicketId).eq(ticket))
        .and_where(Expr::col(WorkflowErrors::ErrorStatus).is_in([
            WorkflowErrorStatus::New.as_str(),
            WorkflowErrorStatus::Reviewed.as_str(),
        ]))
        .to_owned();
    tx.execute(&update).await
}

#[derive(sqlx::FromRow)]
struct StalledRow {
    company_id: CompanyId,
    id: TicketId,
}

/// Running workflows with no unfinished task and no open error: nothing will move them, so
/// the engine's sweep reports them. `older_than` leaves steps that are under way alone.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn stalled(
    db: impl Exec,
    older_than: DateTime<Utc>,
) -> Result<Vec<(CompanyId, TicketId)>> {
    let no_task = Query::select()
        .expr(Expr::val(1))
        .from(TaskInstances::Table)
        .and_where(
            Expr::col((TaskInstances::Table, TaskInstances::TicketId))
                .equals((Tickets::Table, Tickets::Id)),
        )
        .and_where(
            Expr::col((TaskInstances::Table, TaskInstances::Status))
                .is_in(names(TaskStatus::ACTIVE)),
        )
        .to_owned();
    let no_error = Query::select()
        .expr(Expr::val(1))
        .from(WorkflowErrors::Table)
        .and_where(
            Expr::col((WorkflowErrors::Table, WorkflowErrors::TicketId))
                .equals((Tickets::Table, Tickets::Id)),
        )
        .and_where(
            Expr::col((WorkflowErrors::Table, WorkflowErrors::ErrorStatus)).is_in(
                [WorkflowErrorStatus::New, WorkflowErrorStatus::Reviewed].map(|s| s.as_str()),
            ),
        )
        .to_owned();
    let select = Query::select()
        .column((Tickets::Table, Tickets::CompanyId))
        .column((Tickets::Table, Tickets::Id))
        .from(Tickets::Table)
        .and_where(Expr::col((Tickets::Table, Tickets::WorkflowStatus)).is_in(
            [WorkflowRunStatus::NotStarted, WorkflowRunStatus::InProgress].map(|s| s.as_str()),
        ))
        .and_where(Expr::col((Tickets::Table, Tickets::UpdatedAt)).lt(older_than))
        .and_where(Expr::exists(no_task).not())
        .and_where(Expr::exists(no_error).not())
        .limit(500)
        .to_owned();
    let rows: Vec<StalledRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(|r| (r.company_id, r.id)).collect())
}

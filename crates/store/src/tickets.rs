//! Tickets (each with its workflow instance), per-company numbers, idempotency keys,
//! comments, sealed attachments and the full-text index. Every function takes the company:
//! another tenant's ticket is `NotFound`.

use chrono::{DateTime, Utc};
use domain::ids::{AttachmentId, CommentId, TicketId, TicketTypeId, WorkflowId, WorkflowVersionId};
use domain::search::{SearchQuery, Term, index_words};
use domain::workflow::{TaskStatus, TaskType, WorkflowRunStatus};
use domain::{CompanyId, UserId};
use sea_query::{Cond, Expr, ExprTrait, Func, Order, Query, SelectStatement, Values};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::{Backend, Exec, Raw, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::{
    Attachments, Conversations, IdempotencyKeys, TaskInstances, TicketComments, Tickets,
};

/// A ticket and its workflow instance as stored. `D` is how its two JSON documents are held:
/// parsed (`Value`) for the use cases that read them, or as the stored text (`RawValue`) for
/// a list that only writes them out again.
#[derive(Clone, Debug)]
pub struct Ticket<D = Value> {
    pub id: TicketId,
    pub company_id: CompanyId,
    pub number: i64,
    pub ticket_type_id: TicketTypeId,
    pub ticket_type_key: String,
    pub title: String,
    pub workflow_id: WorkflowId,
    pub workflow_version_id: WorkflowVersionId,
    pub requester_id: UserId,
    /// `OPEN` while the workflow runs ([`OPEN`]), then the design's end status.
    pub status: String,
    pub workflow_status: WorkflowRunStatus,
    pub data: D,
    pub workflow_data: D,
    pub pending_end: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct TicketRow<D = Value> {
    id: TicketId,
    company_id: CompanyId,
    number: i64,
    ticket_type_id: TicketTypeId,
    ticket_type_key: String,
    title: String,
    workflow_id: WorkflowId,
    workflow_version_id: WorkflowVersionId,
    requester_id: UserId,
    status: String,
    workflow_status: String,
    data: Json<D>,
    workflow_data: Json<D>,
    pending_end: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

impl<D> TryFrom<TicketRow<D>> for Ticket<D> {
    type Error = StoreError;
    fn try_from(r: TicketRow<D>) -> Result<Self> {
        Ok(Self {
            id: r.id,
            company_id: r.company_id,
            number: r.number,
            ticket_type_id: r.ticket_type_id,
            ticket_type_key: r.ticket_type_key,
            title: r.title,
            workflow_id: r.workflow_id,
            workflow_version_id: r.workflow_version_id,
            requester_id: r.requester_id,
            status: r.status,
            workflow_status: r
                .workflow_status
                .parse()
                .map_err(|_| corrupt(&r.workflow_status))?,
            data: r.data.0,
            workflow_data: r.workflow_data.0,
            pending_end: r.pending_end,
            created_at: r.created_at,
            updated_at: r.updated_at,
            closed_at: r.closed_at,
        })
    }
}

/// A ticket's status while its workflow runs; a design's end status replaces it.
pub const OPEN: &str = "OPEN";
/// A ticket's status once someone cancelled it; the other end statuses are the design's.
pub const CANCELLED: &str = "CANCELLED";

const COLUMNS: [Tickets; 17] = [
    Tickets::Id,
    Tickets::CompanyId,
    Tickets::Number,
    Tickets::TicketTypeId,
    Tickets::TicketTypeKey,
    Tickets::Title,
    Tickets::WorkflowId,
    Tickets::WorkflowVersionId,
    Tickets::RequesterId,
    Tickets::Status,
    Tickets::WorkflowStatus,
    Tickets::Data,
    Tickets::WorkflowData,
    Tickets::PendingEnd,
    Tickets::CreatedAt,
    Tickets::UpdatedAt,
    Tickets::ClosedAt,
];

/// A number for a ticket from its insert until [`assign_number`] gives it the company's
/// next one, just before its transaction commits. Negative, so never a real number, and
/// drawn from the ticket's random id, so that submissions in flight at once do not wait on
/// each other in the `(company_id, number)` key. No other transaction ever sees it.
pub fn provisional_number(id: TicketId) -> i64 {
    let (_, random) = id.0.as_u64_pair();
    -1 - (random & (i64::MAX as u64)) as i64
}

#[derive(sqlx::FromRow)]
struct AssignedRow {
    number: i64,
    tickets: i64,
}

/// Gives the ticket stored under [`provisional_number`] the company's next number; the
/// caller sets the same on its `ticket.submitted` (still unwritten, see
/// [`crate::events::set_field`]).
///
/// Numbers are gap-free per company, so the company's counter row stays locked until the
/// transaction ends; taken last, the lock covers this statement and the commit rather than
/// the whole submission, and the company's submissions run side by side until here. On
/// PostgreSQL it is one statement; SQLite, whose one writer runs a change at a time
/// anyway, runs it as two.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn assign_number(tx: &mut Tx, company: CompanyId, ticket: TicketId) -> Result<i64> {
    let assigned = match tx.backend() {
        Backend::Postgres => {
            let raw = Raw {
                sqlite: "",
                postgres: "WITH n AS (\
                               INSERT INTO ticket_counters (company_id, last_number) VALUES ($1, 1) \
                               ON CONFLICT (company_id) DO UPDATE \
                               SET last_number = ticket_counters.last_number + 1 \
                               RETURNING last_number), \
                           t AS (\
                               UPDATE tickets SET number = (SELECT last_number FROM n) \
                               WHERE company_id = $1 AND id = $2 RETURNING number) \
                           SELECT n.last_number AS number, (SELECT count(*) FROM t) AS tickets \
                           FROM n",
                values: Values(vec![company.0.into(), ticket.into()]),
            };
            let row: Option<AssignedRow> = (&mut *tx).fetch_optional(&raw).await?;
            row.ok_or(StoreError::NotFound)?
        }
        Backend::Sqlite => {
            let counter = Raw {
                sqlite: "INSERT INTO ticket_counters (company_id, last_number) VALUES (?, 1) \
                         ON CONFLICT (company_id) DO UPDATE \
                         SET last_number = ticket_counters.last_number + 1 \
                         RETURNING last_number",
                postgres: "",
                values: Values(vec![company.0.into()]),
            };
            let row: Option<NumberRow> = (&mut *tx).fetch_optional(&counter).await?;
            let number = row.ok_or(StoreError::NotFound)?.last_number;
            let numbered = Raw {
                sqlite: "UPDATE tickets SET number = ? WHERE company_id = ? AND id = ?",
                postgres: "",
                values: Values(vec![number.into(), company.0.into(), ticket.into()]),
            };
            let tickets = (&mut *tx).execute(&numbered).await?;
            AssignedRow {
                number,
                tickets: tickets as i64,
            }
        }
    };
    if assigned.tickets != 1 {
        return Err(StoreError::NotFound);
    }
    Ok(assigned.number)
}

#[derive(sqlx::FromRow)]
struct NumberRow {
    last_number: i64,
}

pub struct NewTicket<'a> {
    pub id: TicketId,
    pub company_id: CompanyId,
    pub number: i64,
    pub ticket_type_id: TicketTypeId,
    pub ticket_type_key: &'a str,
    pub title: &'a str,
    pub workflow_id: WorkflowId,
    pub workflow_version_id: WorkflowVersionId,
    pub requester_id: UserId,
    pub status: &'a str,
    pub workflow_status: WorkflowRunStatus,
    pub data: &'a Value,
    pub workflow_data: &'a Value,
}

#[tracing::instrument(level = "debug", skip_all)]
/// Inserts the ticket and answers it as stored, built from what was written rather than
/// read back: in microseconds, as both databases keep times.
pub async fn insert(tx: &mut Tx, new: NewTicket<'_>) -> Result<Ticket> {
    use chrono::SubsecRound;
    let now = Utc::now().trunc_subsecs(6);
    let insert = Query::insert()
        .into_table(Tickets::Table)
        .columns(COLUMNS)
        .values_panic([
            new.id.into(),
            new.company_id.0.into(),
            new.number.into(),
            new.ticket_type_id.into(),
            new.ticket_type_key.into(),
            new.title.into(),
            new.workflow_id.into(),
            new.workflow_version_id.into(),
            new.requester_id.0.into(),
            new.status.into(),
            new.workflow_status.as_str().into(),
            new.data.clone().into(),
            new.workflow_data.clone().into(),
            Option::<String>::None.into(),
            now.into(),
            now.into(),
            Option::<DateTime<Utc>>::None.into(),
        ])
        .to_owned();
    (&mut *tx).execute(&insert).await?;
    Ok(Ticket {
        id: new.id,
        company_id: new.company_id,
        number: new.number,
        ticket_type_id: new.ticket_type_id,
        ticket_type_key: new.ticket_type_key.to_owned(),
        title: new.title.to_owned(),
        workflow_id: new.workflow_id,
        workflow_version_id: new.workflow_version_id,
        requester_id: new.requester_id,
        status: new.status.to_owned(),
        workflow_status: new.workflow_status,
        data: new.data.clone(),
        workflow_data: new.workflow_data.clone(),
        pending_end: None,
        created_at: now,
        updated_at: now,
        closed_at: None,
    })
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get(db: impl Exec, company: CompanyId, id: TicketId) -> Result<Ticket> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::CompanyId).eq(company.0))
        .and_where(Expr::col(Tickets::Id).eq(id))
        .to_owned();
    let row: Option<TicketRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// A ticket with its support conversation's id, if one is linked: one statement, since the
/// ticket's page and detail ask for both on every read.
pub async fn get_detail(
    db: impl Exec,
    company: CompanyId,
    id: TicketId,
) -> Result<(Ticket, Option<domain::ConversationId>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        ticket: TicketRow,
        conversation_id: Option<domain::ConversationId>,
    }
    let conversation = Query::select()
        .column((Conversations::Table, Conversations::Id))
        .from(Conversations::Table)
        .and_where(Expr::col((Conversations::Table, Conversations::CompanyId)).eq(company.0))
        .and_where(
            Expr::col((Conversations::Table, Conversations::TicketId))
                .equals((Tickets::Table, Tickets::Id)),
        )
        .to_owned();
    let mut select = Query::select();
    for column in COLUMNS {
        select.column((Tickets::Table, column));
    }
    select
        .expr_as(
            Expr::SubQuery(None, Box::new(conversation.into())),
            sea_query::Alias::new("conversation_id"),
        )
        .from(Tickets::Table)
        .and_where(Expr::col((Tickets::Table, Tickets::CompanyId)).eq(company.0))
        .and_where(Expr::col((Tickets::Table, Tickets::Id)).eq(id));
    let row: Option<Row> = db.fetch_optional(&select).await?;
    let row = row.ok_or(StoreError::NotFound)?;
    Ok((row.ticket.try_into()?, row.conversation_id))
}

/// The numbers of the company's tickets among `ids` (a list that names tickets by number).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn numbers(
    db: impl Exec,
    company: CompanyId,
    ids: &[TicketId],
) -> Result<std::collections::HashMap<TicketId, i64>> {
    #[derive(sqlx::FromRow)]
    struct NumberRow {
        id: Uuid,
        number: i64,
    }
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let select = Query::select()
        .columns([Tickets::Id, Tickets::Number])
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::CompanyId).eq(company.0))
        .and_where(Expr::col(Tickets::Id).is_in(ids.iter().map(|id| id.0)))
        .to_owned();
    let rows: Vec<NumberRow> = db.fetch_all(&select).await?;
    Ok(rows
        .into_iter()
        .map(|r| (TicketId(r.id), r.number))
        .collect())
}

/// The id of the company's ticket with this number, if there is one.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn id_by_number(
    db: impl Exec,
    company: CompanyId,
    number: i64,
) -> Result<Option<TicketId>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::CompanyId).eq(company.0))
        .and_where(Expr::col(Tickets::Number).eq(number))
        .to_owned();
    let row: Option<TicketRow> = db.fetch_optional(&select).await?;
    Ok(row.map(|r| r.id))
}

/// Reads a ticket for an engine step and holds it until the transaction ends, so two steps
/// of one ticket (parallel branches finishing together) run one after the other. SQLite's
/// `BEGIN IMMEDIATE` already serialises writers.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn lock(tx: &mut Tx, company: CompanyId, id: TicketId) -> Result<Ticket> {
    let mut select = Query::select()
        .columns(COLUMNS)
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::CompanyId).eq(company.0))
        .and_where(Expr::col(Tickets::Id).eq(id))
        .to_owned();
    if tx.backend() == Backend::Postgres {
        select.lock(sea_query::LockType::Update);
    }
    let row: Option<TicketRow> = tx.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// The runtime state of a ticket's workflow after an engine step or a task's output.
pub struct RunChange<'a> {
    pub status: &'a str,
    pub workflow_status: WorkflowRunStatus,
    pub workflow_data: &'a Value,
    pub pending_end: Option<&'a str>,
    pub closed: bool,
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn update_run(
    tx: &mut Tx,
    company: CompanyId,
    id: TicketId,
    change: RunChange<'_>,
) -> Result<()> {
    let now = Utc::now();
    let update = Query::update()
        .table(Tickets::Table)
        .values([
            (Tickets::Status, change.status.into()),
            (
                Tickets::WorkflowStatus,
                change.workflow_status.as_str().into(),
            ),
            (Tickets::WorkflowData, change.workflow_data.clone().into()),
            (
                Tickets::PendingEnd,
                change.pending_end.map(str::to_owned).into(),
            ),
            (Tickets::UpdatedAt, now.into()),
            // A closed ticket changed again (a data correction) keeps its closing time.
            (
                Tickets::ClosedAt,
                if change.closed {
                    Func::coalesce([Expr::col(Tickets::ClosedAt), Expr::val(now)]).into()
                } else {
                    Option::<DateTime<Utc>>::None.into()
                },
            ),
        ])
        .and_where(Expr::col(Tickets::CompanyId).eq(company.0))
        .and_where(Expr::col(Tickets::Id).eq(id))
        .to_owned();
    match tx.execute(&update).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Marks a ticket as changed (a comment, an attachment) for sorting by `updated`.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn touch(tx: &mut Tx, company: CompanyId, id: TicketId) -> Result<()> {
    let update = Query::update()
        .table(Tickets::Table)
        .value(Tickets::UpdatedAt, Utc::now())
        .and_where(Expr::col(Tickets::CompanyId).eq(company.0))
        .and_where(Expr::col(Tickets::Id).eq(id))
        .to_owned();
    tx.execute(&update).await?;
    Ok(())
}

/// How a ticket list is ordered; always newest / highest first, ties by id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TicketSort {
    #[default]
    Created,
    Updated,
    Number,
}

/// Where a page of a sorted list ends: the sort value and id of its last row.
#[derive(Clone, Debug, PartialEq)]
pub enum SortKey {
    Time(DateTime<Utc>),
    Number(i64),
}

#[derive(Clone, Debug, Default)]
pub struct TicketFilter {
    /// Only this requester's tickets (a requester without `ticket_admin`).
    pub requester: Option<UserId>,
    pub status: Option<String>,
    /// `true`: running workflows; `false`: the archive (ended or cancelled).
    pub active: Option<bool>,
    pub ticket_type: Option<String>,
    /// Tickets with a task assigned to this user.
    pub assignee: Option<UserId>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// A search: the ticket of its number first, then tickets with all of its words.
    pub q: Option<SearchQuery>,
    /// Whether `q` also searches internal notes (the ticket team only).
    pub search_notes: bool,
    /// Top-level workflow data field = value (compared as text).
    pub fields: Vec<(String, String)>,
    pub sort: TicketSort,
    pub after: Option<(SortKey, TicketId)>,
    pub limit: u32,
    /// Who reads the list: each row says whether it waits on them (they hold one of its
    /// unfinished form tasks), answered in the list's own statement.
    pub viewer: Option<UserId>,
}

/// A listed row with the data of the viewer's own. The JSON documents stay the text SQLite
/// or PostgreSQL returned: a list writes them out as they are, and parsing each into a
/// `Value` to serialize it again was a tenth of the list's CPU (docs/performance.md).
#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    ticket: TicketRow<Box<RawValue>>,
    waiting: bool,
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(
    db: impl Exec,
    company: CompanyId,
    filter: &TicketFilter,
) -> Result<Vec<(Ticket<Box<RawValue>>, bool)>> {
    let sort_col = match filter.sort {
        TicketSort::Created => Tickets::CreatedAt,
        TicketSort::Updated => Tickets::UpdatedAt,
        TicketSort::Number => Tickets::Number,
    };
    let waiting = match filter.viewer {
        // A subquery of the list's statement rather than a query of its own: a round trip
        // per list was a quarter of the list's throughput. Not correlated (`IN`, not
        // `EXISTS` per row): the database reads the viewer's few unfinished forms once per
        // list instead of once per listed ticket, which cost 15 % of the list at 10,000
        // tickets.
        Some(viewer) => Expr::col((Tickets::Table, Tickets::Id)).in_subquery(
            Query::select()
                .column((TaskInstances::Table, TaskInstances::TicketId))
                .from(TaskInstances::Table)
                .and_where(
                    Expr::col((TaskInstances::Table, TaskInstances::CompanyId)).eq(company.0),
                )
                .and_where(
                    Expr::col((TaskInstances::Table, TaskInstances::AssignedTo)).eq(viewer.0),
                )
                .and_where(
                    Expr::col((TaskInstances::Table, TaskInstances::Status))
                        .is_in(TaskStatus::QUEUED.map(TaskStatus::as_str)),
                )
                .and_where(
                    Expr::col((TaskInstances::Table, TaskInstances::TaskType))
                        .eq(TaskType::Form.as_str()),
                )
                .to_owned(),
        ),
        None => Expr::val(false),
    };
    let mut select = Query::select()
        .columns(COLUMNS.map(|c| (Tickets::Table, c)))
        .expr_as(waiting, "waiting")
        .from(Tickets::Table)
        .limit(u64::from(filter.limit.clamp(1, 200)))
        .to_owned();
    filtered(&mut select, db.backend(), company, filter);
    let number = filter.q.as_ref().and_then(|q| q.number);
    if let Some((key, id)) = &filter.after {
        let value: sea_query::Value = match key {
            SortKey::Time(t) => (*t).into(),
            SortKey::Number(n) => (*n).into(),
        };
        select.cond_where(
            Cond::any()
                .add(Expr::col((Tickets::Table, sort_col)).lt(value.clone()))
                .add(
                    Cond::all()
                        .add(Expr::col((Tickets::Table, sort_col)).eq(value))
                        .add(Expr::col((Tickets::Table, Tickets::Id)).lt(*id)),
                ),
        );
    }
    if let Some(number) = number {
        // The numbered ticket leads the first page; later pages leave it out.
        let numbered = Expr::col((Tickets::Table, Tickets::Number)).eq(number);
        if filter.after.is_some() {
            select.and_where(numbered.not());
        } else {
            select.order_by_expr(numbered, Order::Desc);
        }
    }
    select
        .order_by((Tickets::Table, sort_col), Order::Desc)
        .order_by((Tickets::Table, Tickets::Id), Order::Desc);
    let rows: Vec<ListedRow> = db.fetch_all(&select).await?;
    rows.into_iter()
        .map(|r| Ok((r.ticket.try_into()?, r.waiting)))
        .collect()
}

/// The statuses the company's tickets are in, in order.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn statuses(db: impl Exec, company: CompanyId) -> Result<Vec<String>> {
    let select = Query::select()
        .distinct()
        .expr_as(Expr::col(Tickets::Status), "status")
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::CompanyId).eq(company.0))
        .order_by(Tickets::Status, Order::Asc)
        .limit(200)
        .to_owned();
    let rows: Vec<StatusRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(|r| r.status).collect())
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    status: String,
}

/// How many tickets a list's filter finds, over all its pages.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn count(db: impl Exec, company: CompanyId, filter: &TicketFilter) -> Result<i64> {
    let mut select = Query::select().from(Tickets::Table).to_owned();
    filtered(&mut select, db.backend(), company, filter);
    crate::db::count(db, select, (Tickets::Table, Tickets::Id)).await
}

/// The conditions of a list's filter (not its page: sort, cursor and limit).
fn filtered(
    select: &mut SelectStatement,
    backend: Backend,
    company: CompanyId,
    filter: &TicketFilter,
) {
    select.and_where(Expr::col((Tickets::Table, Tickets::CompanyId)).eq(company.0));
    if let Some(requester) = filter.requester {
        select.and_where(Expr::col((Tickets::Table, Tickets::RequesterId)).eq(requester.0));
    }
    if let Some(status) = &filter.status {
        select.and_where(Expr::col((Tickets::Table, Tickets::Status)).eq(status.as_str()));
    }
    match filter.active {
        Some(true) => {
            select.and_where(
                Expr::col((Tickets::Table, Tickets::WorkflowStatus))
                    .is_in(WorkflowRunStatus::ACTIVE.map(WorkflowRunStatus::as_str)),
            );
        }
        Some(false) => {
            select.and_where(
                Expr::col((Tickets::Table, Tickets::WorkflowStatus))
                    .is_not_in(WorkflowRunStatus::ACTIVE.map(WorkflowRunStatus::as_str)),
            );
        }
        None => {}
    }
    if let Some(key) = &filter.ticket_type {
        select.and_where(Expr::col((Tickets::Table, Tickets::TicketTypeKey)).eq(key.as_str()));
    }
    if let Some(assignee) = filter.assignee {
        select.and_where(
            Expr::col((Tickets::Table, Tickets::Id)).in_subquery(
                Query::select()
                    .column(TaskInstances::TicketId)
                    .from(TaskInstances::Table)
                    .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
                    .and_where(Expr::col(TaskInstances::AssignedTo).eq(assignee.0))
                    .to_owned(),
            ),
        );
    }
    if let Some(from) = filter.created_from {
        select.and_where(Expr::col((Tickets::Table, Tickets::CreatedAt)).gte(from));
    }
    if let Some(to) = filter.created_to {
        select.and_where(Expr::col((Tickets::Table, Tickets::CreatedAt)).lt(to));
    }
    if let Some(q) = filter.q.as_ref().filter(|q| !q.is_empty()) {
        select.cond_where(search_condition(backend, company, q, filter.search_notes));
    }
    for (field, value) in &filter.fields {
        let path = format!("$.\"{}\"", field.replace('"', ""));
        let extracted = match backend {
            // json_extract gives SQL values (1 for true); json_type tells booleans apart so
            // both backends compare the same text: `true`, `42`, `text`.
            Backend::Sqlite => Expr::cust_with_values(
                "(CASE json_type(tickets.workflow_data, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                 ELSE CAST(json_extract(tickets.workflow_data, ?) AS TEXT) END) = ?",
                [
                    sea_query::Value::from(path.clone()),
                    path.into(),
                    value.as_str().into(),
                ],
            ),
            Backend::Postgres => Expr::cust_with_values(
                "(tickets.workflow_data ->> $1) = $2",
                [
                    sea_query::Value::from(field.as_str()),
                    value.as_str().into(),
                ],
            ),
        };
        select.and_where(extracted);
    }
}

/// Which tickets a search finds: the one of its number, and those with all of its words in
/// their public text (or, for the ticket team, in their internal notes). The query is built
/// from the search's tokens (letters and digits only) and bound, never spliced into the SQL.
fn search_condition(backend: Backend, company: CompanyId, q: &SearchQuery, notes: bool) -> Cond {
    let mut matching = Cond::any();
    if let Some(number) = q.number {
        matching = matching.add(Expr::col((Tickets::Table, Tickets::Number)).eq(number));
    }
    if q.reference || q.terms.is_empty() {
        return matching;
    }
    // Custom SQL takes `?` placeholders on SQLite and `$n` (numbered within it) on PostgreSQL.
    let (public_sql, notes_sql, text) = match backend {
        Backend::Sqlite => (
            "tickets.id IN (SELECT ticket_id FROM ticket_search WHERE ticket_search MATCH ? AND company_id = ?)",
            "tickets.id IN (SELECT ticket_id FROM ticket_note_search WHERE ticket_note_search MATCH ? AND company_id = ?)",
            fts5_query(&q.terms),
        ),
        Backend::Postgres => (
            "tickets.id IN (SELECT ticket_id FROM ticket_search WHERE tsv @@ to_tsquery('simple', $1) AND company_id = $2)",
            "tickets.id IN (SELECT ticket_id FROM ticket_note_search WHERE tsv @@ to_tsquery('simple', $1) AND company_id = $2)",
            tsquery(&q.terms),
        ),
    };
    let values = || [sea_query::Value::from(text.clone()), company.0.into()];
    matching = matching.add(Expr::cust_with_values(public_sql, values()));
    if notes {
        matching = matching.add(Expr::cust_with_values(notes_sql, values()));
    }
    matching
}

/// An FTS5 query: each term a quoted phrase whose last token is a prefix (`"north west"*`),
/// all of them required. Tokens hold letters and digits only, so no quote can end a phrase.
pub(crate) fn fts5_query(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"*", t.tokens().join(" ")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A PostgreSQL `tsquery`: each term its tokens one after the other, the last a prefix
/// (`'north' <-> 'west':*`), all of them required (`&`).
pub(crate) fn tsquery(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| {
            let phrase = t
                .tokens()
                .iter()
                .map(|token| format!("'{token}'"))
                .collect::<Vec<_>>()
                .join(" <-> ");
            format!("({phrase}:*)")
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

/// Whether [`index_text`] writes a ticket's text for the first time (its submission) or
/// replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indexing {
    First,
    Again,
}

/// Replaces the searchable text of a ticket: `public` (its data, public comments and
/// requester), which everyone who may see the ticket searches, and `notes` (its internal
/// notes), which only the ticket team searches. Both are stored cut into words by
/// [`index_words`], as the queries of [`list`] expect. Ids are bound as uuids on both backends so they compare equal
/// to the tickets' own ids.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn index_text(
    tx: &mut Tx,
    company: CompanyId,
    ticket: TicketId,
    public: &str,
    notes: &str,
    indexing: Indexing,
) -> Result<()> {
    // On SQLite the texts live at the ticket's row in `ticket_search_rows` (migration 7),
    // since FTS5 would find them by `ticket_id` only by scanning every ticket's text.
    let (public, notes) = (index_words(public), index_words(notes));
    let row_values = || Values(vec![ticket.into()]);
    let backend = tx.backend();
    let insert_values = |body: &str| {
        Values(match backend {
            Backend::Sqlite => vec![ticket.into(), ticket.into(), company.0.into(), body.into()],
            Backend::Postgres => vec![ticket.into(), company.0.into(), body.into()],
        })
    };
    let statements = [
        Raw {
            sqlite: "INSERT INTO ticket_search_rows (ticket_id) VALUES (?) ON CONFLICT DO NOTHING",
            // Nothing to do: PostgreSQL's tables are keyed by ticket.
            postgres: "",
            values: row_values(),
        },
        Raw {
            sqlite: "DELETE FROM ticket_search WHERE rowid = \
                     (SELECT id FROM ticket_search_rows WHERE ticket_id = ?)",
            postgres: "DELETE FROM ticket_search WHERE ticket_id = $1",
            values: row_values(),
        },
        Raw {
            sqlite: "DELETE FROM ticket_note_search WHERE rowid = \
                     (SELECT id FROM ticket_search_rows WHERE ticket_id = ?)",
            postgres: "DELETE FROM ticket_note_search WHERE ticket_id = $1",
            values: row_values(),
        },
        Raw {
            sqlite: "INSERT INTO ticket_search (rowid, ticket_id, company_id, body) VALUES \
                     ((SELECT id FROM ticket_search_rows WHERE ticket_id = ?), ?, ?, ?)",
            postgres: "INSERT INTO ticket_search (ticket_id, company_id, body) VALUES ($1, $2, $3)",
            values: insert_values(&public),
        },
    ];
    let [row, delete_public, delete_notes, insert_public] = &statements;
    // A ticket indexed for the first time has no text to delete: two statements fewer in
    // every submission (on SQLite, under the writer). SQLite tells it by the row it just
    // got.
    let fresh = match backend {
        Backend::Sqlite => tx.execute(row).await? == 1,
        Backend::Postgres => indexing == Indexing::First,
    };
    let steps = if fresh {
        vec![insert_public]
    } else {
        vec![delete_public, delete_notes, insert_public]
    };
    for statement in steps {
        tx.execute(statement).await?;
    }
    if !notes.is_empty() {
        let insert = Raw {
            sqlite: "INSERT INTO ticket_note_search (rowid, ticket_id, company_id, body) VALUES \
                     ((SELECT id FROM ticket_search_rows WHERE ticket_id = ?), ?, ?, ?)",
            postgres: "INSERT INTO ticket_note_search (ticket_id, company_id, body) \
                       VALUES ($1, $2, $3)",
            values: insert_values(&notes),
        };
        tx.execute(&insert).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct UnindexedRow {
    company_id: CompanyId,
    id: TicketId,
}

/// Tickets of any company without searchable text (migration 8 removed the text of those
/// with internal notes, which used to be searchable by everyone), at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unindexed(db: impl Exec, limit: i64) -> Result<Vec<(CompanyId, TicketId)>> {
    let select = Raw {
        sqlite: "SELECT t.company_id, t.id FROM tickets t WHERE NOT EXISTS \
                 (SELECT 1 FROM ticket_search_rows r JOIN ticket_search s ON s.rowid = r.id \
                  WHERE r.ticket_id = t.id) LIMIT ?",
        postgres: "SELECT t.company_id, t.id FROM tickets t WHERE NOT EXISTS \
                   (SELECT 1 FROM ticket_search s WHERE s.ticket_id = t.id) LIMIT $1",
        values: Values(vec![limit.into()]),
    };
    let rows: Vec<UnindexedRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(|r| (r.company_id, r.id)).collect())
}

// ---- Idempotency keys

#[derive(sqlx::FromRow)]
struct TicketIdRow {
    ticket_id: TicketId,
}

/// The ticket an earlier submission with this key created, if any.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn idempotent_ticket(
    db: impl Exec,
    company: CompanyId,
    user: UserId,
    key: &str,
) -> Result<Option<TicketId>> {
    let select = Query::select()
        .column(IdempotencyKeys::TicketId)
        .from(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::CompanyId).eq(company.0))
        .and_where(Expr::col(IdempotencyKeys::UserId).eq(user.0))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key))
        .to_owned();
    let row: Option<TicketIdRow> = db.fetch_optional(&select).await?;
    Ok(row.map(|r| r.ticket_id))
}

/// Records a key in the submission's transaction; a concurrent submission with the same key
/// fails on the primary key (`Conflict`) and rolls back.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn remember_key(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    key: &str,
    ticket: TicketId,
) -> Result<()> {
    let insert = Query::insert()
        .into_table(IdempotencyKeys::Table)
        .columns([
            IdempotencyKeys::CompanyId,
            IdempotencyKeys::UserId,
            IdempotencyKeys::Key,
            IdempotencyKeys::TicketId,
            IdempotencyKeys::CreatedAt,
        ])
        .values_panic([
            company.0.into(),
            user.0.into(),
            key.into(),
            ticket.into(),
            Utc::now().into(),
        ])
        .to_owned();
    (&mut *tx).execute(&insert).await?;
    Ok(())
}

// ---- Comments

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Comment {
    pub id: CommentId,
    pub ticket_id: TicketId,
    pub author_id: UserId,
    pub body: String,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
}

const COMMENT_COLUMNS: [TicketComments; 6] = [
    TicketComments::Id,
    TicketComments::TicketId,
    TicketComments::AuthorId,
    TicketComments::Body,
    TicketComments::Internal,
    TicketComments::CreatedAt,
];

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn add_comment(
    tx: &mut Tx,
    company: CompanyId,
    ticket: TicketId,
    author: UserId,
    body: &str,
    internal: bool,
) -> Result<Comment> {
    let insert = Query::insert()
        .into_table(TicketComments::Table)
        .columns([
            TicketComments::Id,
            TicketComments::CompanyId,
            TicketComments::TicketId,
            TicketComments::AuthorId,
            TicketComments::Body,
            TicketComments::Internal,
            TicketComments::CreatedAt,
        ])
        .values_panic([
            Uuid::now_v7().into(),
            company.0.into(),
            ticket.into(),
            author.0.into(),
            body.into(),
            internal.into(),
            Utc::now().into(),
        ])
        .returning(Query::returning().columns(COMMENT_COLUMNS))
        .to_owned();
    let row: Option<Comment> = tx.fetch_optional(&insert).await?;
    row.ok_or(StoreError::NotFound)
}

/// A ticket's comments, oldest first; internal notes only when asked for.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn comments(
    db: impl Exec,
    company: CompanyId,
    ticket: TicketId,
    with_internal: bool,
) -> Result<Vec<Comment>> {
    let mut select = Query::select()
        .columns(COMMENT_COLUMNS)
        .from(TicketComments::Table)
        .and_where(Expr::col(TicketComments::CompanyId).eq(company.0))
        .and_where(Expr::col(TicketComments::TicketId).eq(ticket))
        .order_by(TicketComments::CreatedAt, Order::Asc)
        .order_by(TicketComments::Id, Order::Asc)
        .to_owned();
    if !with_internal {
        select.and_where(Expr::col(TicketComments::Internal).eq(false));
    }
    db.fetch_all(&select).await
}

// ---- Attachments

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AttachmentMeta {
    pub id: AttachmentId,
    pub ticket_id: TicketId,
    pub uploaded_by: UserId,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: DateTime<Utc>,
}

const ATTACHMENT_COLUMNS: [Attachments; 7] = [
    Attachments::Id,
    Attachments::TicketId,
    Attachments::UploadedBy,
    Attachments::FileName,
    Attachments::ContentType,
    Attachments::Size,
    Attachments::CreatedAt,
];

pub struct NewAttachment<'a> {
    pub id: AttachmentId,
    pub company_id: CompanyId,
    pub ticket_id: TicketId,
    pub uploaded_by: UserId,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sealed: &'a [u8],
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_attachment(tx: &mut Tx, new: NewAttachment<'_>) -> Result<AttachmentMeta> {
    let insert = Query::insert()
        .into_table(Attachments::Table)
        .columns([
            Attachments::Id,
            Attachments::CompanyId,
            Attachments::TicketId,
            Attachments::UploadedBy,
            Attachments::FileName,
            Attachments::ContentType,
            Attachments::Size,
            Attachments::Sealed,
            Attachments::CreatedAt,
        ])
        .values_panic([
            new.id.into(),
            new.company_id.0.into(),
            new.ticket_id.into(),
            new.uploaded_by.0.into(),
            new.file_name.into(),
            new.content_type.into(),
            new.size.into(),
            new.sealed.to_vec().into(),
            Utc::now().into(),
        ])
        .returning(Query::returning().columns(ATTACHMENT_COLUMNS))
        .to_owned();
    let row: Option<AttachmentMeta> = tx.fetch_optional(&insert).await?;
    row.ok_or(StoreError::NotFound)
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn attachments(
    db: impl Exec,
    company: CompanyId,
    ticket: TicketId,
) -> Result<Vec<AttachmentMeta>> {
    let select = Query::select()
        .columns(ATTACHMENT_COLUMNS)
        .from(Attachments::Table)
        .and_where(Expr::col(Attachments::CompanyId).eq(company.0))
        .and_where(Expr::col(Attachments::TicketId).eq(ticket))
        .order_by(Attachments::CreatedAt, Order::Asc)
        .to_owned();
    db.fetch_all(&select).await
}

#[derive(sqlx::FromRow)]
struct FullAttachment {
    #[sqlx(flatten)]
    meta: AttachmentMeta,
    sealed: Vec<u8>,
}

/// One attachment's metadata and sealed bytes.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn attachment(
    db: impl Exec,
    company: CompanyId,
    ticket: TicketId,
    id: AttachmentId,
) -> Result<(AttachmentMeta, Vec<u8>)> {
    let select = Query::select()
        .columns(ATTACHMENT_COLUMNS)
        .column(Attachments::Sealed)
        .from(Attachments::Table)
        .and_where(Expr::col(Attachments::CompanyId).eq(company.0))
        .and_where(Expr::col(Attachments::TicketId).eq(ticket))
        .and_where(Expr::col(Attachments::Id).eq(id))
        .to_owned();
    let row: FullAttachment = db
        .fetch_optional(&select)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((row.meta, row.sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_phrases_of_tokens_with_a_prefix_last() {
        let q = SearchQuery::parse("North-West \"sales\" NEAR(x) 'a:*&b|!c'");
        assert_eq!(
            fts5_query(&q.terms),
            r#""north west"* "sales"* "near x"* "a b c"*"#
        );
        assert_eq!(
            tsquery(&q.terms),
            "('north' <-> 'west':*) & ('sales':*) & ('near' <-> 'x':*) & ('a' <-> 'b' <-> 'c':*)"
        );
    }
}

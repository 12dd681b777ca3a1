//! Tickets: what may be submitted, submission (idempotent, validated against the ticket
//! type's schema, pinned to the ACTIVE workflow version), the lists and the detail,
//! the timeline, comments, attachments, corrections by ticket admins, and cancelling.
//!
//! Who sees a ticket: its requester, ticket admins (and company admins), anyone who holds
//! or held one of its tasks, and agents when its requester has a support conversation or a
//! conversation is about it (they read it as its requester does). Everyone else gets
//! `NotFound`, as for another tenant's.

use domain::ids::{AttachmentId, TaskId, TicketId, TicketTypeId, WorkflowId};
use std::collections::HashMap;
use std::sync::Arc;
/// The statuses the system gives a ticket (a design adds its end statuses).
pub use store::tickets::{CANCELLED, OPEN};

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::event::Event;
use domain::event::{Payload, Stream};
use domain::search::SearchQuery;
use domain::validation::ValidationErrors;
use domain::workflow::{self as wf, TaskStatus, TaskType, WorkflowRunStatus};
use domain::{CompanyId, SystemRole, UserId};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use store::Tx;
pub use store::tickets::{AttachmentMeta, Comment, TicketSort};
use store::tickets::{NewAttachment, NewTicket, SortKey, Ticket, TicketFilter};

use super::data::{check_size, reindex, requester, search_text};
use super::versions::{Published, published};
use crate::{App, AppError, Result, audit};

/// Largest attachment accepted.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// Longest comment accepted.
pub(crate) const MAX_COMMENT_CHARS: usize = 20_000;
const MAX_IDEMPOTENCY_KEY: usize = 200;
/// Events shown of one ticket's history.
const MAX_TIMELINE: u32 = 10_000;

// ---- What may be submitted

/// A ticket type someone may submit now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AvailableType {
    pub id: TicketTypeId,
    pub key: String,
    pub title: String,
    pub description: String,
    /// JSON Schema of what the requester fills in.
    #[schema(value_type = Value)]
    pub fields: Value,
    pub workflow_id: WorkflowId,
    pub workflow_version: i32,
}

/// The ticket types of ACTIVE workflow versions this user may submit.
pub async fn available(app: &App, actor: &Actor) -> Result<Vec<AvailableType>> {
    let company = crate::access::company_of(actor)?;
    available_to(app, company, actor.user_id).await
}

/// The ticket types `user` may submit (an agent submits for a conversation's requester).
pub(crate) async fn available_to(
    app: &App,
    company: CompanyId,
    user: UserId,
) -> Result<Vec<AvailableType>> {
    let roles = store::companies::user_role_names(app.db(), company, user).await?;
    let objects = store::design::list(
        app.db(),
        company,
        "ticket_type",
        &store::design::DesignFilter {
            limit: 1000,
            ..Default::default()
        },
    )
    .await?;
    let mut out = Vec::new();
    for row in store::design::active_versions(app.db(), company).await? {
        let version = published(app, company, row.id).await?;
        for spec in &version.bundle.ticket_types {
            let Some(object) = objects
                .iter()
                .find(|o| o.workflow_id == version.workflow_id && o.key == spec.key)
            else {
                continue;
            };
            if crate::access::may_submit(spec, &roles) {
                out.push(AvailableType {
                    id: object.id.as_ticket_type(),
                    key: spec.key.clone(),
                    title: spec.title.clone(),
                    description: spec.description.clone(),
                    fields: spec.fields.clone(),
                    workflow_id: version.workflow_id,
                    workflow_version: version.version,
                });
            }
        }
    }
    out.sort_by(|a, b| a.title.cmp(&b.title));
    Ok(out)
}

/// One available ticket type, or `NotFound` (unknown, another tenant's, not ACTIVE, or not
/// for this user: the same answer, so nobody learns which types exist).
pub async fn available_type(
    app: &App,
    actor: &Actor,
    id: TicketTypeId,
) -> Result<(AvailableType, Arc<Published>)> {
    let company = crate::access::company_of(actor)?;
    available_type_to(app, company, actor.user_id, id).await
}

/// One ticket type `user` may submit, or `NotFound` (see [`available_type`]).
pub(crate) async fn available_type_to(
    app: &App,
    company: CompanyId,
    user: UserId,
    id: TicketTypeId,
) -> Result<(AvailableType, Arc<Published>)> {
    let object = store::design::get(app.db(), company, "ticket_type", id).await?;
    let active = store::design::active_versions(app.db(), company)
        .await?
        .into_iter()
        .find(|v| v.workflow_id == object.workflow_id)
        .ok_or(AppError::NotFound)?;
    let version = published(app, company, active.id).await?;
    let spec = version.ticket_type(&object.key).ok_or(AppError::NotFound)?;
    let roles = store::companies::user_role_names(app.db(), company, user).await?;
    if !crate::access::may_submit(spec, &roles) {
        return Err(AppError::NotFound);
    }
    let available = AvailableType {
        id: object.id.as_ticket_type(),
        key: spec.key.clone(),
        title: spec.title.clone(),
        description: spec.description.clone(),
        fields: spec.fields.clone(),
        workflow_id: version.workflow_id,
        workflow_version: version.version,
    };
    Ok((available, version))
}

// ---- Views

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TaskSummary {
    pub id: TaskId,
    pub task_key: String,
    pub name: String,
    pub task_type: TaskType,
    pub status: TaskStatus,
    /// `null` while unassigned.
    pub assigned_to: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&store::tasks::TaskInstance> for TaskSummary {
    fn from(t: &store::tasks::TaskInstance) -> Self {
        Self {
            id: t.id,
            task_key: t.task_key.clone(),
            name: t.name.clone(),
            task_type: t.task_type,
            status: t.status,
            assigned_to: t.assigned_to,
            created_at: t.created_at,
            completed_at: t.completed_at,
        }
    }
}

/// Where a ticket stands, as its requester reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProgressKind {
    /// Its workflow has not started yet.
    Submitted,
    /// The team works on it.
    BeingProcessed,
    /// A task of it is the caller's to do.
    WaitingOnYou,
    /// Its workflow stopped and waits for the team.
    OnHold,
    /// It reached an end of its workflow; the label says which.
    Ended,
    Cancelled,
}

/// A ticket's progress in plain words, the same for the API and the pages: what a
/// requester outside the ticket team is shown instead of the workflow's details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub kind: ProgressKind,
    /// E.g. "Being processed", "Waiting on you", or the end status in words ("Done",
    /// "Rejected").
    pub label: String,
}

/// An end status in words: `COMPLETED` is "Done", a design's `NEEDS_MORE_INFO` is "Needs
/// more info".
pub fn status_words(status: &str) -> String {
    match status {
        "COMPLETED" => "Done".into(),
        other => {
            let words = other.replace('_', " ").to_lowercase();
            let mut chars = words.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

impl Progress {
    /// `waiting` says whether one of the ticket's open form tasks is the caller's.
    pub fn of(run: WorkflowRunStatus, status: &str, waiting: bool) -> Self {
        let (kind, label) = match run {
            WorkflowRunStatus::Cancelled => (ProgressKind::Cancelled, "Cancelled".into()),
            WorkflowRunStatus::Completed => (ProgressKind::Ended, status_words(status)),
            _ if waiting => (ProgressKind::WaitingOnYou, "Waiting on you".into()),
            WorkflowRunStatus::OnHold => (
                ProgressKind::OnHold,
                "On hold — our team is looking into it".into(),
            ),
            WorkflowRunStatus::NotStarted => (ProgressKind::Submitted, "Submitted".into()),
            WorkflowRunStatus::InProgress => {
                (ProgressKind::BeingProcessed, "Being processed".into())
            }
        };
        Self { kind, label }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TicketView {
    pub id: TicketId,
    pub number: i64,
    pub title: String,
    pub ticket_type_id: TicketTypeId,
    pub ticket_type_key: String,
    /// `OPEN`, `CANCELLED`, or the end status the workflow reached.
    pub status: String,
    pub workflow_status: WorkflowRunStatus,
    /// Where the ticket stands in plain words, for the caller.
    pub progress: Progress,
    pub workflow_id: WorkflowId,
    pub workflow_version: Option<i32>,
    pub requester_id: UserId,
    /// What the requester submitted.
    #[schema(value_type = Object)]
    pub data: JsonText,
    /// The workflow data: the submission plus every task's output.
    #[schema(value_type = Object)]
    pub workflow_data: JsonText,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The ticket's tasks, in its detail only. A requester outside the ticket team gets
    /// the forms people work on, not the automated steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<TaskSummary>>,
    /// The ticket waits on the caller: they hold one of its unfinished form tasks (`OPEN` or
    /// `IN_PROGRESS`), e.g. a requester asked to revise their document. In the detail, those
    /// are the `tasks` assigned to them; `GET /tasks?mine=true` lists them too.
    pub waiting_on_you: bool,
    /// What the caller may do with the ticket now.
    pub actions: crate::access::TicketActions,
    /// The support conversation about the ticket, in its detail only, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<domain::ConversationId>,
}

/// A JSON document in a view: a list passes on the text the database returned without
/// parsing it; a detail keeps the document it parsed, which its page reads.
#[derive(Clone, Debug)]
pub enum JsonText {
    Parsed(Value),
    Stored(Box<RawValue>),
}

impl JsonText {
    /// The document's fields, for a page that reads them.
    pub fn parse(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Self::Parsed(value) => std::borrow::Cow::Borrowed(value),
            // The text is JSON the database returned and serde_json checked; it parses.
            Self::Stored(raw) => {
                std::borrow::Cow::Owned(serde_json::from_str(raw.get()).unwrap_or(Value::Null))
            }
        }
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> Self {
        Self::Parsed(value)
    }
}

impl From<Box<RawValue>> for JsonText {
    fn from(raw: Box<RawValue>) -> Self {
        Self::Stored(raw)
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Parsed(value) => value.serialize(serializer),
            Self::Stored(raw) => raw.serialize(serializer),
        }
    }
}

impl TicketView {
    /// `waiting`: see [`Progress::of`].
    fn of<D: Into<JsonText>>(ticket: Ticket<D>, actor: &Actor, waiting: bool) -> Self {
        Self {
            progress: Progress::of(ticket.workflow_status, &ticket.status, waiting),
            actions: crate::access::ticket_actions(
                actor,
                ticket.requester_id,
                ticket.workflow_status,
            ),
            id: ticket.id,
            number: ticket.number,
            title: ticket.title,
            ticket_type_id: ticket.ticket_type_id,
            ticket_type_key: ticket.ticket_type_key,
            status: ticket.status,
            workflow_status: ticket.workflow_status,
            workflow_id: ticket.workflow_id,
            workflow_version: None,
            requester_id: ticket.requester_id,
            data: ticket.data.into(),
            workflow_data: ticket.workflow_data.into(),
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
            closed_at: ticket.closed_at,
            tasks: None,
            waiting_on_you: waiting,
            conversation_id: None,
        }
    }
}

/// Whether a task of a ticket waits on `user`: an unfinished form they hold.
fn waits_on(task: &store::tasks::TaskInstance, user: UserId) -> bool {
    task.assigned_to == Some(user)
        && task.task_type == TaskType::Form
        && TaskStatus::QUEUED.contains(&task.status)
}

/// The ticket if this actor may see it.
pub(crate) async fn visible(app: &App, actor: &Actor, id: TicketId) -> Result<(CompanyId, Ticket)> {
    let company = crate::access::company_of(actor)?;
    let ticket = store::tickets::get(app.db(), company, id).await?;
    if may_see_as_requester_or_admin(actor, &ticket) {
        return Ok((company, ticket));
    }
    let tasks = store::tasks::of_ticket(app.db(), company, id).await?;
    may_see(app, actor, company, ticket, &tasks).await
}

fn may_see_as_requester_or_admin(actor: &Actor, ticket: &Ticket) -> bool {
    ticket.requester_id == actor.user_id || crate::access::is_ticket_admin(actor)
}

/// The ticket read, if this actor may see it; `tasks` are the ticket's.
async fn may_see(
    app: &App,
    actor: &Actor,
    company: CompanyId,
    ticket: Ticket,
    tasks: &[store::tasks::TaskInstance],
) -> Result<(CompanyId, Ticket)> {
    if may_see_as_requester_or_admin(actor, &ticket)
        || tasks.iter().any(|t| t.assigned_to == Some(actor.user_id))
    {
        return Ok((company, ticket));
    }
    // Agents read the tickets of the people they support, as those people do (the
    // workspace shows a requester's tickets beside their conversation).
    if crate::access::is_agent(actor)
        && store::conversations::supports(app.db(), company, ticket.id, ticket.requester_id).await?
    {
        return Ok((company, ticket));
    }
    Err(AppError::NotFound)
}

/// A ticket with its tasks. The tasks are read before the visibility check, which needs
/// them for a worker, so that the view does not read them again.
pub async fn get(app: &App, actor: &Actor, id: TicketId) -> Result<TicketView> {
    let company = crate::access::company_of(actor)?;
    let (ticket, conversation) = store::tickets::get_detail(app.db(), company, id).await?;
    let tasks = store::tasks::of_ticket(app.db(), company, id).await?;
    let (company, ticket) = may_see(app, actor, company, ticket, &tasks).await?;
    let version = published(app, company, ticket.workflow_version_id).await?;
    let waiting = tasks.iter().any(|t| waits_on(t, actor.user_id));
    let mut view = TicketView::of(ticket, actor, waiting);
    view.workflow_version = Some(version.version);
    view.conversation_id = conversation;
    let details = view.actions.details;
    view.tasks = Some(
        tasks
            .iter()
            .filter(|t| details || t.task_type == TaskType::Form)
            .map(TaskSummary::from)
            .collect(),
    );
    Ok(view)
}

/// The tickets waiting on the actor, newest task first, at most `limit`: those on which they
/// hold an unfinished form task (see [`TicketView::waiting_on_you`]). For a requester these
/// are their own tickets sent back to them; for a worker, the tickets they are working on.
/// Each ticket's tasks are left out, as in a list.
pub async fn waiting_on_you(app: &App, actor: &Actor, limit: u32) -> Result<Vec<TicketView>> {
    let company = crate::access::company_of(actor)?;
    let filter = store::tasks::TaskFilter {
        assignee: Some(actor.user_id),
        statuses: TaskStatus::QUEUED.to_vec(),
        task_types: vec![TaskType::Form],
        limit: 200,
        ..Default::default()
    };
    let mut out: Vec<TicketView> = Vec::new();
    for task in store::tasks::list(app.db(), company, &filter).await? {
        if out.len() >= limit as usize {
            break;
        }
        if out.iter().any(|t| t.id == task.ticket_id) {
            continue;
        }
        let ticket = store::tickets::get(app.db(), company, task.ticket_id).await?;
        out.push(TicketView::of(ticket, actor, true));
    }
    Ok(out)
}

/// The published version a ticket runs on (for drawing its progress).
pub async fn version_of(app: &App, actor: &Actor, id: TicketId) -> Result<Arc<Published>> {
    let (company, ticket) = visible(app, actor, id).await?;
    published(app, company, ticket.workflow_version_id).await
}

/// The ticket's workflow drawn with how far the ticket got: completed tasks and the end it
/// reached outlined green, running tasks purple.
/// For the ticket team only: the graph shows conditions and automated steps.
pub async fn graph_svg(app: &App, actor: &Actor, id: TicketId) -> Result<String> {
    let (company, ticket) = visible(app, actor, id).await?;
    if !crate::access::is_team(actor) {
        return Err(AppError::Forbidden(
            "the workflow's details are for the ticket team".into(),
        ));
    }
    let version = published(app, company, ticket.workflow_version_id).await?;
    let tasks = store::tasks::of_ticket(app.db(), company, id).await?;
    let keys = |keep: &dyn Fn(TaskStatus) -> bool| {
        tasks
            .iter()
            .filter(|t| keep(t.status))
            .map(|t| t.task_key.clone())
            .collect()
    };
    let progress = wf::Progress {
        done: keys(&|s| s == TaskStatus::Completed),
        active: keys(&TaskStatus::is_active),
        // A COMPLETED workflow's ticket status is the end status its design reached.
        ended: (ticket.workflow_status == WorkflowRunStatus::Completed)
            .then(|| ticket.status.clone()),
    };
    Ok(wf::to_svg_progress(&version.spec, &progress))
}

/// Every ticket type of the company's ACTIVE workflows as (key, title), for a ticket
/// admin's list filters.
pub async fn ticket_types(app: &App, actor: &Actor) -> Result<Vec<(String, String)>> {
    let company = crate::access::require_ticket_admin(actor)?;
    let mut out = Vec::new();
    for row in store::design::active_versions(app.db(), company).await? {
        let version = published(app, company, row.id).await?;
        for spec in &version.bundle.ticket_types {
            out.push((spec.key.clone(), spec.title.clone()));
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out.dedup();
    Ok(out)
}

/// Colleagues' names by id, for showing who did what on tickets and tasks. Ids of other
/// companies and deleted users are left out.
pub async fn names(
    app: &App,
    actor: &Actor,
    ids: impl IntoIterator<Item = UserId>,
) -> Result<HashMap<UserId, String>> {
    let company = crate::access::company_of(actor)?;
    let mut out = HashMap::new();
    let mut support = None;
    for id in ids {
        if out.contains_key(&id) {
            continue;
        }
        match store::users::get(app.db(), company, id).await {
            Ok(user) => {
                out.insert(id, format!("{} {}", user.first_name, user.last_name));
            }
            Err(store::StoreError::NotFound) => {
                // Platform staff act inside a company only by impersonating; its admins see
                // who it was, everyone else sees the company's support answering.
                let staff = store::users::get_any(app.db(), id).await.ok().filter(|u| {
                    u.company_id.is_none() && u.system_roles.contains(&SystemRole::Superadmin)
                });
                if let Some(staff) = staff {
                    let name = if crate::access::is_ticket_admin(actor) {
                        format!("{} {} (platform staff)", staff.first_name, staff.last_name)
                    } else {
                        if support.is_none() {
                            support = Some(store::companies::get(app.db(), company).await?.name);
                        }
                        format!("{} support", support.as_deref().unwrap_or_default())
                    };
                    out.insert(id, name);
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(out)
}

// ---- Submission

/// An attachment as uploaded.
pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The outcome of a submission: `created` is false when an idempotency key repeated.
pub struct Submitted {
    pub ticket: TicketView,
    pub created: bool,
}

/// Submits a ticket: validates the data against the ticket type's schema (every violation
/// listed), creates the ticket with the next number pinned to the ACTIVE version, and
/// then starts its workflow in a step of its own.
pub async fn submit(
    app: &App,
    actor: &Actor,
    ticket_type_id: TicketTypeId,
    data: Value,
    idempotency_key: Option<String>,
    uploads: Vec<Upload>,
) -> Result<Submitted> {
    let company = crate::access::company_of(actor)?;
    if let Some(key) = &idempotency_key {
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
            return Err(
                ValidationErrors::single("Idempotency-Key", "must be 1 to 200 characters").into(),
            );
        }
        if let Some(first) =
            store::tickets::idempotent_ticket(app.db(), company, actor.user_id, key).await?
        {
            return Ok(Submitted {
                ticket: get(app, actor, first).await?,
                created: false,
            });
        }
    }
    let checked = check_submission(app, company, actor.user_id, ticket_type_id, data).await?;
    check_uploads(&uploads)?;
    let mut tx = app.db().begin().await?;
    let ticket = insert_checked(&mut tx, company, actor.user_id, &checked).await?;
    let id = ticket.id;
    if let Some(key) = &idempotency_key {
        match store::tickets::remember_key(&mut tx, company, actor.user_id, key, id).await {
            Ok(()) => {}
            // Two requests with one key at once: the loser (rolled back here) answers with
            // the winner's ticket.
            Err(store::StoreError::Conflict { .. }) => {
                tx.rollback().await?;
                let first =
                    store::tickets::idempotent_ticket(app.db(), company, actor.user_id, key)
                        .await?
                        .ok_or(AppError::internal("idempotency key vanished"))?;
                return Ok(Submitted {
                    ticket: get(app, actor, first).await?,
                    created: false,
                });
            }
            Err(other) => return Err(other.into()),
        }
    }
    let mut names = Vec::new();
    for upload in uploads {
        names.push(
            store_upload(app, &mut tx, company, id, actor.user_id, upload)
                .await?
                .file_name,
        );
    }
    let unnumbered = announce_submitted(&mut tx, actor, company, id, &checked, names).await?;
    crate::runtime::engine::start(app, &mut tx, company, &ticket).await?;
    unnumbered.number(&mut tx, company).await?;
    app.commit(tx).await?;
    Ok(Submitted {
        ticket: get(app, actor, id).await?,
        created: true,
    })
}

/// A submission that passed its ticket type's schema, ready to be stored.
pub(crate) struct Checked {
    pub available: AvailableType,
    version: Arc<Published>,
    data: Value,
    title: String,
    requester_text: String,
}

/// Checks a submission by `requester` of `ticket_type_id` (a type they may submit) against
/// the type's schema, every violation listed under `data/…`, and titles it. Reads only, so
/// it runs before the write transaction, where it would hold SQLite's one writer.
pub(crate) async fn check_submission(
    app: &App,
    company: CompanyId,
    requester_id: UserId,
    ticket_type_id: TicketTypeId,
    data: Value,
) -> Result<Checked> {
    let (available, version) = available_type_to(app, company, requester_id, ticket_type_id)
        .await
        .map_err(|e| match e {
            AppError::NotFound => {
                ValidationErrors::single("ticket_type_id", "is not a ticket type you can submit")
                    .into()
            }
            other => other,
        })?;
    if !data.is_object() {
        return Err(ValidationErrors::single("data", "must be a JSON object").into());
    }
    check_size(app, company, "data", &data).await?;
    let problems = version.check_ticket_data(&available.key, &data);
    if !problems.is_empty() {
        return Err(ValidationErrors::from_problems(problems, "data").into());
    }
    let requester = requester(app.db(), company, requester_id).await?;
    let summary = version
        .ticket_type(&available.key)
        .map(|t| t.summary.as_str())
        .unwrap_or_default();
    let title = wf::summary::render(summary, &data, &requester.name, &available.title);
    Ok(Checked {
        available,
        version,
        data,
        title,
        requester_text: requester.text,
    })
}

/// Stores a checked submission as `requester_id`'s ticket, pinned to the version it was
/// checked against, and answers it; its workflow has not started. It has no number yet:
/// [`announce_submitted`] and then [`Unnumbered::number`] give it one.
pub(crate) async fn insert_checked(
    tx: &mut Tx,
    company: CompanyId,
    requester_id: UserId,
    checked: &Checked,
) -> Result<Ticket> {
    let id = TicketId::new();
    let ticket = store::tickets::insert(
        tx,
        NewTicket {
            id,
            company_id: company,
            number: store::tickets::provisional_number(id),
            ticket_type_id: checked.available.id,
            ticket_type_key: &checked.available.key,
            title: &checked.title,
            workflow_id: checked.version.workflow_id,
            workflow_version_id: checked.version.id,
            requester_id,
            status: store::tickets::OPEN,
            workflow_status: WorkflowRunStatus::NotStarted,
            data: &checked.data,
            // The workflow data starts as the submission: ticket fields fill the workflow
            // fields of the same name.
            workflow_data: &checked.data,
        },
    )
    .await?;
    Ok(ticket)
}

/// A new ticket and its `ticket.submitted` event, both under a provisional number until
/// [`Unnumbered::number`].
#[must_use = "a submitted ticket must be numbered before its transaction commits"]
pub(crate) struct Unnumbered {
    ticket: TicketId,
    submitted: store::events::Appended,
}

impl Unnumbered {
    /// Gives the ticket the company's next number. The company's counter stays locked from
    /// here to the commit (numbers have no gaps), so a submission calls this last, when the
    /// rest of its transaction is written: on PostgreSQL the company's other submissions
    /// wait only for this statement and the commit, not for the whole submission.
    pub(crate) async fn number(self, tx: &mut Tx, company: CompanyId) -> Result<i64> {
        let number = store::tickets::assign_number(tx, company, self.ticket).await?;
        store::events::set_field(tx, self.submitted, "number", number.into());
        Ok(number)
    }
}

/// Indexes a new ticket for the search and records its `ticket.submitted`; the caller then
/// starts its workflow with `engine::step` and numbers the ticket.
pub(crate) async fn announce_submitted(
    tx: &mut Tx,
    actor: &Actor,
    company: CompanyId,
    id: TicketId,
    checked: &Checked,
    attachments: Vec<String>,
) -> Result<Unnumbered> {
    let text = search_text(&checked.requester_text, &checked.data, &[]);
    store::tickets::index_text(tx, company, id, &text, "", store::tickets::Indexing::First).await?;
    // The data is on the ticket; the event names its fields rather than copying it.
    let fields: Vec<String> = checked
        .data
        .as_object()
        .map(|fields| fields.keys().cloned().collect())
        .unwrap_or_default();
    let submitted = audit::record(
        tx,
        Some(actor),
        Some(company),
        Stream::Ticket(id),
        Payload::TicketSubmitted {
            number: store::tickets::provisional_number(id),
            ticket_type: checked.available.key.clone(),
            fields,
            workflow_version: checked.version.version,
            attachments,
        },
    )
    .await?;
    Ok(Unnumbered {
        ticket: id,
        submitted,
    })
}

// ---- Lists

/// The list query, already parsed by the web layer.
#[derive(Clone, Debug, Default)]
pub struct TicketQuery {
    pub status: Option<String>,
    pub active: Option<bool>,
    pub ticket_type: Option<String>,
    pub assignee: Option<UserId>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// A search as typed (see [`SearchQuery::parse`]).
    pub q: Option<String>,
    pub fields: Vec<(String, String)>,
    pub sort: TicketSort,
    pub cursor: Option<String>,
    pub limit: u32,
    /// Only the actor's own tickets even for a ticket admin ("my tickets").
    pub mine: bool,
}

fn encode_cursor<D>(ticket: &Ticket<D>, sort: TicketSort) -> String {
    use base64::Engine;
    let value = match sort {
        TicketSort::Created => json!(ticket.created_at),
        TicketSort::Updated => json!(ticket.updated_at),
        TicketSort::Number => json!(ticket.number),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([value, ticket.id]).to_string())
}

/// A cursor before every ticket of the list.
fn top_cursor(id: TicketId, sort: TicketSort) -> String {
    use base64::Engine;
    let value = match sort {
        TicketSort::Created | TicketSort::Updated => json!(
            chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|t| t.and_utc())
        ),
        TicketSort::Number => json!(i64::MAX),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([value, id]).to_string())
}

fn decode_cursor(cursor: &str, sort: TicketSort) -> Result<(SortKey, TicketId)> {
    use base64::Engine;
    let bad = || {
        AppError::from(ValidationErrors::single(
            "cursor",
            "is not a cursor of this list",
        ))
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let (value, id): (Value, TicketId) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let key = match sort {
        TicketSort::Number => SortKey::Number(value.as_i64().ok_or_else(bad)?),
        TicketSort::Created | TicketSort::Updated => {
            SortKey::Time(serde_json::from_value(value).map_err(|_| bad())?)
        }
    };
    Ok((key, id))
}

/// `field.<name>` filters a list may carry at once.
pub const MAX_FIELD_FILTERS: usize = 10;

/// Field filters name top-level workflow fields: plain names, a few at a time.
fn check_field_filters(fields: &[(String, String)]) -> Result<()> {
    if fields.len() > MAX_FIELD_FILTERS {
        return Err(ValidationErrors::single(
            "field",
            format!("at most {MAX_FIELD_FILTERS} field filters at once"),
        )
        .into());
    }
    let mut errors = ValidationErrors::new();
    for (name, value) in fields {
        let plain = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !plain {
            errors.add(
                format!("field.{name}"),
                "must name a field: letters, digits, `_`, `-` or `.`, at most 100 characters",
            );
        }
        if value.len() > 1000 {
            errors.add(format!("field.{name}"), "must be at most 1000 characters");
        }
    }
    errors.into_result()?;
    Ok(())
}

/// A page of tickets and the cursor of the next page.
pub async fn list(
    app: &App,
    actor: &Actor,
    query: TicketQuery,
) -> Result<(Vec<TicketView>, Option<String>)> {
    let company = crate::access::company_of(actor)?;
    let limit = query.limit.clamp(1, 200);
    let sort = query.sort;
    let (filter, pinned) = filter_of(actor, query)?;
    let rows = store::tickets::list(app.db(), company, &filter).await?;
    let next = (rows.len() == limit as usize)
        .then(|| {
            rows.last().map(|(t, _)| match pinned {
                // The numbered ticket leads the first page whatever its sort key: the next
                // page starts from the top, without it.
                Some(number) if t.number == number => top_cursor(t.id, sort),
                _ => encode_cursor(t, sort),
            })
        })
        .flatten();
    Ok((
        rows.into_iter()
            .map(|(t, waits)| TicketView::of(t, actor, waits))
            .collect(),
        next,
    ))
}

/// The statuses the company's tickets are in, for a list's filter (ticket admins).
pub async fn statuses(app: &App, actor: &Actor) -> Result<Vec<String>> {
    let company = crate::access::require_ticket_admin(actor)?;
    Ok(store::tickets::statuses(app.db(), company).await?)
}

/// The unfinished tasks of listed tickets (the tickets `list` gave this actor), by ticket:
/// where each ticket stands and whom it waits on.
pub async fn current_steps(
    app: &App,
    actor: &Actor,
    tickets: &[TicketView],
) -> Result<std::collections::HashMap<TicketId, Vec<TaskSummary>>> {
    let company = crate::access::company_of(actor)?;
    let ids: Vec<TicketId> = tickets.iter().map(|t| t.id).collect();
    let mut steps: std::collections::HashMap<TicketId, Vec<TaskSummary>> =
        std::collections::HashMap::new();
    for task in store::tasks::active_of_tickets(app.db(), company, &ids).await? {
        steps
            .entry(task.ticket_id)
            .or_default()
            .push(TaskSummary::from(&task));
    }
    Ok(steps)
}

/// How many tickets the list of `query` holds over all its pages.
pub async fn count(app: &App, actor: &Actor, query: TicketQuery) -> Result<i64> {
    let company = crate::access::company_of(actor)?;
    let (filter, _) = filter_of(actor, query)?;
    Ok(store::tickets::count(app.db(), company, &filter).await?)
}

/// The store's filter for a list query as `actor` may see it, and the ticket number the
/// search names (which leads the first page).
fn filter_of(actor: &Actor, query: TicketQuery) -> Result<(TicketFilter, Option<i64>)> {
    let limit = query.limit.clamp(1, 200);
    let after = query
        .cursor
        .as_deref()
        .map(|c| decode_cursor(c, query.sort))
        .transpose()?;
    let q = query
        .q
        .as_deref()
        .map(SearchQuery::parse)
        .filter(|q| !q.is_empty());
    let pinned = q.as_ref().and_then(|q| q.number);
    check_field_filters(&query.fields)?;
    let filter = TicketFilter {
        search_notes: crate::access::is_team(actor),
        requester: (query.mine || !crate::access::is_ticket_admin(actor)).then_some(actor.user_id),
        status: query.status,
        active: query.active,
        ticket_type: query.ticket_type,
        assignee: query.assignee,
        created_from: query.created_from,
        created_to: query.created_to,
        q,
        fields: query.fields,
        sort: query.sort,
        after,
        limit,
        viewer: Some(actor.user_id),
    };
    Ok((filter, pinned))
}

/// The ticket a search for `#3` or `3` jumps to: the one of that number in the actor's
/// company, if the actor may see it.
pub async fn numbered(app: &App, actor: &Actor, q: &str) -> Result<Option<TicketId>> {
    let Some(number) = SearchQuery::parse(q).number else {
        return Ok(None);
    };
    let company = crate::access::company_of(actor)?;
    let Some(id) = store::tickets::id_by_number(app.db(), company, number).await? else {
        return Ok(None);
    };
    match visible(app, actor, id).await {
        Ok(_) => Ok(Some(id)),
        Err(AppError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

// ---- Timeline and comments

/// The ticket's events the actor may read in order, with the database's epoch (see
/// `store::events::epoch`): event ids are cursors only within one epoch. The ticket team
/// reads every event; a requester outside it reads [`for_requester`]'s plain ones.
pub async fn timeline(app: &App, actor: &Actor, id: TicketId) -> Result<(String, Vec<Event>)> {
    let (company, _) = visible(app, actor, id).await?;
    let team = crate::access::is_team(actor);
    let forms: std::collections::HashSet<TaskId> = if team {
        Default::default()
    } else {
        store::tasks::of_ticket(app.db(), company, id)
            .await?
            .into_iter()
            .filter(|t| t.task_type == TaskType::Form)
            .map(|t| t.id)
            .collect()
    };
    // Not the event feed's reader: that one holds back changes until every older
    // transaction in the database has ended, so the page after an action could miss it.
    let events = store::events::of_stream(
        app.db(),
        company,
        &Stream::Ticket(id).to_string(),
        MAX_TIMELINE,
    )
    .await?;
    let epoch = store::events::epoch(app.db()).await?;
    let events = if team {
        events
    } else {
        events
            .into_iter()
            .filter_map(|e| for_requester(e, &forms))
            .collect()
    };
    Ok((epoch, events))
}

/// An event as a requester outside the ticket team reads it, or `None` when it is the
/// team's: what people did on the ticket and its forms (`forms`: the ticket's form task
/// ids), and how it ended. Automated steps, errors and their handling, internal notes and
/// the workflow's inner keys (task keys, branches, who assigned how) are left out; each kept
/// event keeps only the payload fields listed here.
pub(crate) fn for_requester(
    mut event: Event,
    forms: &std::collections::HashSet<TaskId>,
) -> Option<Event> {
    use domain::event::EventKind as K;
    let kind: K = event.kind.parse().ok()?;
    let form = || {
        event.payload["task_id"]
            .as_str()
            .and_then(|id| id.parse::<TaskId>().ok())
            .is_some_and(|id| forms.contains(&id))
    };
    let keep: &[&str] = match kind {
        K::TicketSubmitted => &["number", "ticket_type", "fields", "attachments"],
        K::TicketCancelled => &["tasks_cancelled"],
        K::TicketDataCorrected => &["changes"],
        K::CommentAdded if event.payload["internal"] != Value::Bool(true) => {
            &["comment_id", "body", "internal"]
        }
        K::AttachmentAdded => &["attachment_id", "file_name", "size", "content_type"],
        K::TaskCreated if form() => &["task_id", "name", "task_type"],
        K::TaskAssigned | K::TaskClaimed if form() => &["task_id", "assigned_to"],
        K::TaskReleased if form() => &["task_id"],
        K::TaskCompleted if form() => &["task_id", "changes"],
        K::WorkflowCompleted => &["status"],
        K::TicketConversationLinked => &["conversation_id", "created_from"],
        _ => return None,
    };
    if let Value::Object(fields) = &mut event.payload {
        fields.retain(|key, _| keep.contains(&key.as_str()));
    }
    Some(event)
}

pub async fn comments(app: &App, actor: &Actor, id: TicketId) -> Result<Vec<Comment>> {
    let (company, _) = visible(app, actor, id).await?;
    Ok(store::tickets::comments(app.db(), company, id, crate::access::is_team(actor)).await?)
}

/// Adds a public comment or (ticket team only) an internal note.
pub async fn comment(
    app: &App,
    actor: &Actor,
    id: TicketId,
    body: &str,
    internal: bool,
) -> Result<Comment> {
    let (company, _) = visible(app, actor, id).await?;
    let body = body.trim();
    let mut errors = ValidationErrors::new();
    if body.is_empty() {
        errors.add("body", "must not be empty");
    } else if body.chars().count() > MAX_COMMENT_CHARS {
        errors.add("body", "must be at most 20000 characters");
    }
    if internal && !crate::access::is_team(actor) {
        errors.add("internal", "only the ticket team can write internal notes");
    }
    errors.into_result()?;
    let mut tx = app.db().begin().await?;
    let comment = add_comment_in(&mut tx, actor, company, id, body, internal).await?;
    app.commit(tx).await?;
    Ok(comment)
}

/// Adds a checked comment in the caller's transaction: stored, searchable, recorded.
pub(crate) async fn add_comment_in(
    tx: &mut Tx,
    actor: &Actor,
    company: CompanyId,
    id: TicketId,
    body: &str,
    internal: bool,
) -> Result<Comment> {
    let ticket = store::tickets::lock(tx, company, id).await?;
    let comment =
        store::tickets::add_comment(tx, company, id, actor.user_id, body, internal).await?;
    store::tickets::touch(tx, company, id).await?;
    reindex(tx, company, &ticket).await?;
    audit::record(
        tx,
        Some(actor),
        Some(company),
        Stream::Ticket(id),
        Payload::CommentAdded {
            comment_id: comment.id,
            body: body.to_owned(),
            internal,
        },
    )
    .await?;
    Ok(comment)
}

// ---- Attachments

fn check_uploads(uploads: &[Upload]) -> Result<()> {
    let mut errors = ValidationErrors::new();
    for (i, upload) in uploads.iter().enumerate() {
        if upload.bytes.is_empty() {
            errors.add(format!("attachments/{i}"), "is empty");
        } else if upload.bytes.len() > MAX_ATTACHMENT_BYTES {
            errors.add(format!("attachments/{i}"), "is larger than 10 MiB");
        }
        if upload.file_name.trim().is_empty() || upload.file_name.chars().count() > 255 {
            errors.add(
                format!("attachments/{i}"),
                "needs a file name of 1 to 255 characters",
            );
        }
    }
    Ok(errors.into_result()?)
}

/// A file name safe for a `Content-Disposition` header and a page: no path, no controls.
pub(crate) fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(255)
        .collect();
    if cleaned.trim().is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

fn aad(company: CompanyId, attachment: AttachmentId) -> Vec<u8> {
    format!("{}|{attachment}", company.0).into_bytes()
}

async fn store_upload(
    app: &App,
    tx: &mut Tx,
    company: CompanyId,
    ticket: TicketId,
    user: UserId,
    upload: Upload,
) -> Result<AttachmentMeta> {
    let id = AttachmentId::new();
    let file_name = clean_name(&upload.file_name);
    let content_type = crate::infra::vault::sniff(&upload.bytes, &file_name).mime;
    let sealed = app
        .vault()?
        .seal(&upload.bytes, &aad(company, id))
        .map_err(AppError::internal)?;
    Ok(store::tickets::add_attachment(
        tx,
        NewAttachment {
            id,
            company_id: company,
            ticket_id: ticket,
            uploaded_by: user,
            file_name: &file_name,
            content_type: &content_type,
            size: i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX),
            sealed: &sealed,
        },
    )
    .await?)
}

/// Stores files on a ticket, all or none.
pub async fn attach(
    app: &App,
    actor: &Actor,
    id: TicketId,
    uploads: Vec<Upload>,
) -> Result<Vec<AttachmentMeta>> {
    let (company, _) = visible(app, actor, id).await?;
    if uploads.is_empty() {
        return Err(ValidationErrors::single("attachments", "no file was sent").into());
    }
    check_uploads(&uploads)?;
    let mut tx = app.db().begin().await?;
    let mut stored = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let meta = store_upload(app, &mut tx, company, id, actor.user_id, upload).await?;
        audit::record(
            &mut tx,
            Some(actor),
            Some(company),
            Stream::Ticket(id),
            Payload::AttachmentAdded {
                attachment_id: meta.id,
                file_name: meta.file_name.clone(),
                size: meta.size,
                content_type: meta.content_type.clone(),
            },
        )
        .await?;
        stored.push(meta);
    }
    store::tickets::touch(&mut tx, company, id).await?;
    app.commit(tx).await?;
    Ok(stored)
}

pub async fn attachments(app: &App, actor: &Actor, id: TicketId) -> Result<Vec<AttachmentMeta>> {
    let (company, _) = visible(app, actor, id).await?;
    Ok(store::tickets::attachments(app.db(), company, id).await?)
}

/// An attachment's metadata and its decrypted bytes.
pub async fn download(
    app: &App,
    actor: &Actor,
    id: TicketId,
    attachment: AttachmentId,
) -> Result<(AttachmentMeta, Vec<u8>)> {
    let (company, _) = visible(app, actor, id).await?;
    let (meta, sealed) = store::tickets::attachment(app.db(), company, id, attachment).await?;
    let bytes = app
        .vault()?
        .open(&sealed, &aad(company, attachment))
        .map_err(AppError::internal)?;
    Ok((meta, bytes))
}

// ---- Corrections and cancelling

/// A ticket admin corrects workflow data (before retrying a failed step, say). Each changed
/// field is recorded with its old and new value.
pub async fn correct_data(
    app: &App,
    actor: &Actor,
    id: TicketId,
    patch: Value,
) -> Result<TicketView> {
    let company = crate::access::require_ticket_admin(actor)?;
    let Value::Object(patch) = patch else {
        return Err(ValidationErrors::single("data", "must be a JSON object").into());
    };
    let mut tx = app.db().begin().await?;
    let ticket = store::tickets::lock(&mut tx, company, id).await?;
    let mut data = match ticket.workflow_data.clone() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut changes = Vec::new();
    for (field, new) in patch {
        let old = data.get(&field).cloned();
        if old.as_ref() == Some(&new) {
            continue;
        }
        changes.push(json!({ "field": field, "old": old, "new": new }));
        if new.is_null() {
            data.remove(&field);
        } else {
            data.insert(field, new);
        }
    }
    let data = Value::Object(data);
    store::tickets::update_run(
        &mut tx,
        company,
        id,
        store::tickets::RunChange {
            status: &ticket.status,
            workflow_status: ticket.workflow_status,
            workflow_data: &data,
            pending_end: ticket.pending_end.as_deref(),
            closed: ticket.closed_at.is_some(),
        },
    )
    .await?;
    // The search must find the corrected values, not the old ones.
    let mut corrected = ticket.clone();
    corrected.workflow_data = data;
    reindex(&mut tx, company, &corrected).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Ticket(id),
        Payload::TicketDataCorrected {
            changes: json!(changes),
        },
    )
    .await?;
    app.commit(tx).await?;
    get(app, actor, id).await
}

/// Cancels a running ticket: its requester or a ticket admin. Unfinished tasks are cancelled.
pub async fn cancel(app: &App, actor: &Actor, id: TicketId) -> Result<TicketView> {
    let (company, ticket) = visible(app, actor, id).await?;
    if ticket.requester_id != actor.user_id && !crate::access::is_ticket_admin(actor) {
        return Err(AppError::Forbidden(
            "only the requester or a ticket admin can cancel a ticket".into(),
        ));
    }
    let mut tx = app.db().begin().await?;
    let ticket = store::tickets::lock(&mut tx, company, id).await?;
    if !WorkflowRunStatus::ACTIVE.contains(&ticket.workflow_status) {
        return Err(AppError::Conflict {
            field: None,
            message: format!("the ticket has already ended ({})", ticket.status),
        });
    }
    let cancelled = store::tasks::cancel_open(&mut tx, company, id).await?;
    // Nothing is left to retry on a cancelled ticket, so its errors end with it.
    let resolved = store::tasks::resolve_open_errors(&mut tx, company, id, actor.user_id).await?;
    store::tickets::update_run(
        &mut tx,
        company,
        id,
        store::tickets::RunChange {
            status: store::tickets::CANCELLED,
            workflow_status: WorkflowRunStatus::Cancelled,
            workflow_data: &ticket.workflow_data,
            pending_end: None,
            closed: true,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Ticket(id),
        Payload::TicketCancelled {
            tasks_cancelled: cancelled,
            errors_resolved: resolved,
        },
    )
    .await?;
    app.commit(tx).await?;
    get(app, actor, id).await
}

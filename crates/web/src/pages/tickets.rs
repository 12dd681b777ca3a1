//! The ticket pages: choosing a ticket type and submitting its generated form (with
//! attachments), my tickets (active / archive), every ticket for ticket admins, and a
//! ticket's page: its data, its progress drawn on the workflow graph, tasks, timeline,
//! comments and attachments.

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use domain::ConversationId;
use domain::TaskId;
use domain::ids::{AttachmentId, TicketId, TicketTypeId};
use domain::workflow::order::field_order;
use domain::workflow::{TaskStatus, WorkflowRunStatus};
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::UserId;
use domain::event::Event;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use app::runtime::tickets::{TicketQuery, TicketSort, TicketView};

use crate::pages::kit::context::{
    CsrfForm, Flash, PageCtx, PagePath, PagePost, PageResult, PageUpload, error_page,
};
use crate::pages::kit::filters;
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::pager::{Pager, Place, TICKETS};
use crate::pages::kit::schema_form::{FormErrors, FormField, SchemaForm};
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

const PAGE_SIZE: u32 = 25;

/// A workflow value as a person reads it.
pub(crate) fn display(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(display).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// A field's label from the schemas that may describe it (first `title` found), or its
/// name.
pub(crate) fn label(name: &str, schemas: &[&Value]) -> String {
    schemas
        .iter()
        .find_map(|s| {
            s.pointer(&format!(
                "/properties/{}/title",
                name.replace('~', "~0").replace('/', "~1")
            ))
        })
        .and_then(Value::as_str)
        .map_or_else(|| name.replace('_', " "), str::to_owned)
}

pub struct DataRow {
    pub name: String,
    pub label: String,
    pub value: String,
    /// The value as a link, when it is a web address (http or https only).
    pub link: Option<String>,
}

/// A value that is a web address, to be shown as a link.
fn web_link(value: &Value) -> Option<String> {
    let text = value.as_str()?.trim();
    let url = url::Url::parse(text).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// The rows of a ticket's data, in the order its schemas list their fields (the first
/// schema that names a field places it); fields no schema names come last, by name.
pub(crate) fn data_rows(
    data: &Value,
    schemas: &[&Value],
    skip: impl Fn(&str, &Value) -> bool,
) -> Vec<DataRow> {
    let order: Vec<&str> = schemas.iter().flat_map(|s| field_order(s)).collect();
    let place = |name: &str| order.iter().position(|n| *n == name).unwrap_or(usize::MAX);
    let Some(fields) = data.as_object() else {
        return Vec::new();
    };
    let mut fields: Vec<(&String, &Value)> = fields.iter().filter(|(k, v)| !skip(k, v)).collect();
    fields.sort_by_key(|(k, _)| place(k));
    fields
        .into_iter()
        .map(|(k, v)| DataRow {
            name: k.clone(),
            label: label(k, schemas),
            value: display(v),
            link: web_link(v),
        })
        .collect()
}

/// A name for a user id: the colleague's name, or a placeholder for someone deleted.
pub(crate) fn name_of(names: &HashMap<UserId, String>, id: Option<UserId>) -> String {
    match id {
        None => String::new(),
        Some(id) => names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "a former user".into()),
    }
}

// ---- Choosing a ticket type

pub struct TypeCard {
    pub id: String,
    pub title: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "tickets_new.html")]
struct NewTicketPage {
    layout: Layout,
    types: Vec<TypeCard>,
}

pub async fn new_ticket(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    let ctx = ctx.titled("New ticket");
    let types = ctx.load(app::runtime::tickets::available(&state.app, &ctx.actor).await)?;
    Ok(ctx.render(&NewTicketPage {
        layout: ctx.layout.clone(),
        types: types
            .into_iter()
            .map(|t| TypeCard {
                id: t.id.to_string(),
                title: t.title,
                description: t.description,
            })
            .collect(),
    }))
}

// ---- Submitting

#[derive(Template)]
#[template(path = "ticket_submit.html")]
struct SubmitPage {
    layout: Layout,
    type_id: String,
    title: String,
    description: String,
    fields: Vec<FormField>,
    general: Vec<String>,
    /// Sent back with the form so a double click or a reload makes one ticket.
    idempotency_key: String,
    /// Files cannot be kept across a rejected post; the page says so.
    had_files: bool,
}

impl SubmitPage {
    fn invalid(&self) -> bool {
        !self.general.is_empty() || self.fields.iter().any(|f| !f.error.is_empty())
    }
}

pub async fn submit_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<TicketTypeId>,
) -> PageResult {
    let ctx = ctx.titled("New ticket");
    let (available, _) =
        ctx.load(app::runtime::tickets::available_type(&state.app, &ctx.actor, id).await)?;
    let form = SchemaForm::new("data", &available.fields);
    let mut layout = ctx.layout.clone();
    layout.title = format!("{} — TicketFlower", available.title);
    layout.crumb("/tickets/new", "New ticket");
    Ok(ctx.render(&SubmitPage {
        layout,
        type_id: id.to_string(),
        fields: form.fields(None, &FormErrors::default()),
        title: available.title,
        description: available.description,
        general: Vec::new(),
        idempotency_key: Uuid::now_v7().to_string(),
        had_files: false,
    }))
}

pub async fn submit_ticket(
    State(state): State<WebState>,
    PagePath(id): PagePath<TicketTypeId>,
    PageUpload { ctx, form: posted }: PageUpload,
) -> PageResult {
    let back = format!("/tickets/new/{id}");
    let (available, _) =
        ctx.load(app::runtime::tickets::available_type(&state.app, &ctx.actor, id).await)?;
    let form = SchemaForm::new("data", &available.fields);
    let (data, typed) = form.read(&posted.fields);
    let key = Some(posted.value("idempotency_key").to_owned()).filter(|k| !k.is_empty());
    let had_files = !posted.files.is_empty();
    let uploads = posted.into_uploads();
    let submitted =
        app::runtime::tickets::submit(&state.app, &ctx.actor, id, data, key.clone(), uploads).await;
    match submitted {
        Ok(done) => {
            let number = done.ticket.number;
            let text = if done.created {
                format!("Ticket #{number} submitted.")
            } else {
                format!("Ticket #{number} was already submitted.")
            };
            Ok(ctx.redirect(&format!("/tickets/{}", done.ticket.id), Flash::ok(text)))
        }
        Err(app::AppError::Validation(errors)) => {
            let errors = form.errors(&errors);
            let mut layout = ctx.layout.clone();
            layout.title = format!("{} — TicketFlower", available.title);
            layout.crumb("/tickets/new", "New ticket");
            let page = SubmitPage {
                layout,
                type_id: id.to_string(),
                fields: form.fields(Some(&typed), &errors),
                title: available.title,
                description: available.description,
                general: errors.general,
                idempotency_key: key.unwrap_or_else(|| Uuid::now_v7().to_string()),
                had_files,
            };
            Ok(ctx.render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(error) => Ok(ctx.failed(&back, error)),
    }
}

// ---- Lists

/// How a ticket's standing is shown: the team reads its status (and whether a workflow
/// error holds it), a requester outside the team its progress in words.
pub struct Standing {
    pub text: String,
    /// The badge's class.
    pub class: String,
    /// Paused by a workflow error, said separately for the team.
    pub on_hold: bool,
}

impl Standing {
    fn of(view: &TicketView) -> Self {
        use app::runtime::tickets::ProgressKind as P;
        if view.actions.details {
            return Self {
                text: app::runtime::tickets::status_words(&view.status),
                class: view.status.to_lowercase(),
                on_hold: view.workflow_status == WorkflowRunStatus::OnHold,
            };
        }
        let class = match view.progress.kind {
            P::Submitted | P::BeingProcessed => "open".to_owned(),
            P::WaitingOnYou => "pending".to_owned(),
            P::OnHold => "on_hold".to_owned(),
            P::Ended => view.status.to_lowercase(),
            P::Cancelled => "cancelled".to_owned(),
        };
        Self {
            text: view.progress.label.clone(),
            class,
            on_hold: false,
        }
    }
}

pub struct TicketRow {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub standing: Standing,
    /// The viewer holds one of its unfinished tasks.
    pub waiting_on_you: bool,
    pub requester: String,
    /// Where the ticket stands: its open tasks and whom they wait on.
    pub step: String,
    pub created: When,
    pub updated: When,
}

/// A list's rows, with the requesters' names.
pub async fn rows(
    state: &WebState,
    ctx: &PageCtx,
    tickets: Vec<TicketView>,
) -> Result<Vec<TicketRow>, Response> {
    // Collected first: a borrowing iterator held across the await makes the handler's
    // future fail the `Send` bound.
    let steps =
        ctx.load(app::runtime::tickets::current_steps(&state.app, &ctx.actor, &tickets).await)?;
    let people: Vec<UserId> = tickets
        .iter()
        .map(|t| t.requester_id)
        .chain(steps.values().flatten().filter_map(|s| s.assigned_to))
        .collect();
    let names = ctx.load(app::runtime::tickets::names(&state.app, &ctx.actor, people).await)?;
    Ok(tickets
        .into_iter()
        .map(|t| TicketRow {
            standing: Standing::of(&t),
            waiting_on_you: t.waiting_on_you,
            // Those outside the team read where they stand (`standing`), not who works on it.
            step: steps
                .get(&t.id)
                .filter(|_| t.actions.details)
                .map(|tasks| {
                    tasks
                        .iter()
                        .map(|s| match s.assigned_to {
                            Some(_) => format!("{} · {}", s.name, name_of(&names, s.assigned_to)),
                            None if s.task_type.is_action() => format!("{} · automatic", s.name),
                            None => format!("{} · to be picked up", s.name),
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
            id: t.id.to_string(),
            number: t.number,
            title: t.title,
            requester: name_of(&names, Some(t.requester_id)),
            created: when(t.created_at),
            updated: when(t.updated_at),
        })
        .collect())
}

/// A link of a tab strip or a sortable column.
pub struct Tab {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct TicketsPage {
    layout: Layout,
    heading: &'static str,
    /// The ticket admins' page: filters and the requester column.
    all: bool,
    tab: &'static str,
    tabs: Vec<Tab>,
    sorts: Vec<Tab>,
    rows: Vec<TicketRow>,
    pager: Pager,
    /// The status filter's choices: the statuses the company's tickets have.
    statuses: Vec<String>,
    status: String,
    ticket_type: String,
    q: String,
    assignee: String,
    types: Vec<(String, String)>,
    workers: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    tab: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    cursor: String,
    /// The cursors of the pages before this one (see `Place`).
    #[serde(default)]
    trail: String,
    #[serde(default)]
    status: String,
    #[serde(default, rename = "type")]
    ticket_type: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    assignee: String,
}

impl ListQuery {
    fn href(&self, path: &str, tab: &str, sort: &str, cursor: &str, trail: &str) -> String {
        crate::pages::kit::pager::address(
            path,
            &[
                ("tab", tab),
                ("sort", sort),
                ("status", &self.status),
                ("type", &self.ticket_type),
                ("q", &self.q),
                ("assignee", &self.assignee),
                ("cursor", cursor),
                ("trail", trail),
            ],
        )
    }

    fn sort(&self) -> (TicketSort, &'static str) {
        match self.sort.as_str() {
            "updated" => (TicketSort::Updated, "updated"),
            "number" => (TicketSort::Number, "number"),
            _ => (TicketSort::Created, "created"),
        }
    }
}

async fn ticket_list(state: &WebState, ctx: PageCtx, query: ListQuery, all: bool) -> PageResult {
    let heading = if all { "All tickets" } else { "My tickets" };
    let ctx = ctx.titled(heading);
    let path = if all { "/tickets/all" } else { "/tickets" };
    let tabs: &[(&'static str, &'static str)] = if all {
        &[("active", "Active"), ("archive", "Archive"), ("any", "All")]
    } else {
        &[("active", "Active"), ("archive", "Archive")]
    };
    let tab = tabs
        .iter()
        .map(|(t, _)| *t)
        .find(|t| *t == query.tab)
        .unwrap_or("active");
    let (sort, sort_name) = query.sort();
    // The filters' choices are for ticket admins only, so loading them is also what keeps
    // everyone else out of this page (the list itself would show them their own tickets).
    let (types, workers, statuses) = if all {
        let types = ctx.load(app::runtime::tickets::ticket_types(&state.app, &ctx.actor).await)?;
        let workers = ctx.load(app::runtime::tasks::workers(&state.app, &ctx.actor).await)?;
        let statuses = ctx.load(app::runtime::tickets::statuses(&state.app, &ctx.actor).await)?;
        (
            types,
            workers
                .into_iter()
                .map(|(id, name)| (id.0.to_string(), name))
                .collect(),
            statuses,
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    // A ticket number (`#3`, `3`) opens that ticket when the actor may see it.
    let numbered = app::runtime::tickets::numbered(&state.app, &ctx.actor, &query.q).await;
    if let Some(id) = ctx.load(numbered)? {
        return Ok(ctx.send(Redirect::to(&format!("/tickets/{id}")).into_response()));
    }
    let place = Place::new(&query.cursor, &query.trail);
    let filter = TicketQuery {
        status: Some(query.status.trim().to_owned()).filter(|s| all && !s.is_empty()),
        active: match tab {
            "active" => Some(true),
            "archive" => Some(false),
            _ => None,
        },
        ticket_type: Some(query.ticket_type.clone()).filter(|t| all && !t.is_empty()),
        assignee: query.assignee.parse::<UserId>().ok().filter(|_| all),
        q: Some(query.q.clone()).filter(|q| !q.trim().is_empty()),
        sort,
        cursor: place.cursor().map(str::to_owned),
        limit: PAGE_SIZE,
        mine: !all,
        ..Default::default()
    };
    let filter_for_count = TicketQuery {
        cursor: None,
        ..filter.clone()
    };
    let (tickets, next) = match app::runtime::tickets::list(&state.app, &ctx.actor, filter).await {
        Ok(found) => found,
        // A stale cursor or a hand-made query: start over rather than fail.
        Err(app::AppError::Validation(_)) => {
            return Ok(ctx.redirect(
                path,
                Flash::error("That page of the list is gone; here is the first."),
            ));
        }
        Err(error) => return Ok(ctx.send(error_page(error))),
    };
    let total =
        ctx.load(app::runtime::tickets::count(&state.app, &ctx.actor, filter_for_count).await)?;
    let count = tickets.len();
    let mut layout = ctx.layout.clone();
    match ctx.team_feed().filter(|_| all) {
        Some(feed) => layout.live(feed),
        // One's own tickets: each listed one's stream.
        None => {
            for ticket in &tickets {
                layout.live(domain::event::Stream::Ticket(ticket.id).to_string());
            }
        }
    }
    let rows = rows(state, &ctx, tickets).await?;
    Ok(ctx.render(&TicketsPage {
        layout,
        heading,
        all,
        tab,
        tabs: tabs
            .iter()
            .map(|(t, label)| Tab {
                label,
                href: query.href(path, t, sort_name, "", ""),
                current: *t == tab,
            })
            .collect(),
        sorts: [
            ("number", "Number"),
            ("created", "Created"),
            ("updated", "Updated"),
        ]
        .into_iter()
        .map(|(s, label)| Tab {
            label,
            href: query.href(path, tab, s, "", ""),
            current: s == sort_name,
        })
        .collect(),
        rows,
        pager: place.pager(
            count,
            PAGE_SIZE,
            total,
            TICKETS,
            next.as_deref(),
            |cursor, trail| query.href(path, tab, sort_name, cursor, trail),
        ),
        statuses,
        status: query.status,
        ticket_type: query.ticket_type,
        q: query.q,
        assignee: query.assignee,
        types,
        workers,
    }))
}

pub async fn my_tickets(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<ListQuery>,
) -> PageResult {
    ticket_list(&state, ctx, query, false).await
}

pub async fn all_tickets(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<ListQuery>,
) -> PageResult {
    ticket_list(&state, ctx, query, true).await
}

// ---- A ticket

pub struct TaskLine {
    pub id: String,
    /// The viewer holds it: they may open it even outside the ticket team.
    pub mine: bool,
    pub name: String,
    pub status: String,
    pub assignee: String,
    pub created: When,
    pub completed: Option<When>,
}

pub struct TimelineItem {
    pub kind: String,
    pub when: When,
    pub who: String,
    pub text: String,
    pub details: Vec<String>,
    /// A page the event is about (the linked conversation).
    pub link: Option<(String, String)>,
}

pub struct CommentItem {
    pub who: String,
    pub when: When,
    pub body: String,
    pub internal: bool,
}

pub struct AttachmentItem {
    pub id: String,
    pub file_name: String,
    pub size: String,
    pub who: String,
    pub when: When,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    layout: Layout,
    id: String,
    number: i64,
    title: String,
    standing: Standing,
    requester: String,
    created: When,
    updated: When,
    closed: Option<When>,
    data: Vec<DataRow>,
    workflow: Vec<DataRow>,
    /// The workflow drawn by the domain, every text in it escaped there; for the ticket
    /// team only (it shows conditions and automated steps).
    graph: Option<String>,
    tasks: Vec<TaskLine>,
    /// The unfinished tasks the viewer holds, as (id, name): the ticket waits on them.
    waiting: Vec<(String, String)>,
    timeline: Vec<TimelineItem>,
    comments: Vec<CommentItem>,
    attachments: Vec<AttachmentItem>,
    /// Ticket team: task links and internal notes.
    team: bool,
    can_cancel: bool,
    /// Whether the viewer hears of this ticket (by choice, or as its requester or a worker
    /// of it, unless they stopped following it).
    following: bool,
    /// The comment form as typed when it was refused, and why.
    comment: CommentForm,
    comment_errors: FieldErrors,
    /// The support conversation about the ticket: its id when the viewer may open it.
    conversation: Option<String>,
    has_conversation: bool,
    /// The requester may start the conversation about the ticket.
    can_start_conversation: bool,
}

fn size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn id_in<T: std::str::FromStr>(payload: &Value, key: &str) -> Option<T> {
    payload.get(key)?.as_str()?.parse().ok()
}

/// What an event of the ticket's stream says, in words.
fn describe(
    event: &Event,
    tasks: &HashMap<TaskId, String>,
    names: &HashMap<UserId, String>,
) -> (String, Vec<String>) {
    let p = &event.payload;
    let task = || {
        id_in(p, "task_id")
            .and_then(|id| tasks.get(&id).cloned())
            .map_or_else(|| "a task".to_owned(), |n| format!("“{n}”"))
    };
    let changes = |key: &str| -> Vec<String> {
        p.get(key)
            .and_then(Value::as_array)
            .map(|changes| {
                changes
                    .iter()
                    .map(|c| {
                        let old = c.get("old").filter(|v| !v.is_null());
                        format!(
                            "{}: {} → {}",
                            c.get("field").and_then(Value::as_str).unwrap_or_default(),
                            old.map_or_else(|| "(none)".to_owned(), display),
                            display(c.get("new").unwrap_or(&Value::Null)),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let text = |key: &str| {
        p.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match event.kind.as_str() {
        "ticket.submitted" => {
            let files: Vec<String> = p
                .get("attachments")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(display).collect())
                .unwrap_or_default();
            let details = if files.is_empty() {
                Vec::new()
            } else {
                vec![format!("attached {}", files.join(", "))]
            };
            ("submitted the ticket".into(), details)
        }
        "task.created" => (
            format!(
                "task “{}” was created",
                p.get("name").and_then(Value::as_str).unwrap_or_default()
            ),
            Vec::new(),
        ),
        "task.claimed" => (format!("claimed {}", task()), Vec::new()),
        "task.assigned" => {
            let to = name_of(names, id_in(p, "assigned_to").map(UserId));
            let how = match text("by").as_str() {
                "requester" => " (the requester)".to_owned(),
                by => by
                    .strip_prefix("completer_of:")
                    .map(|key| format!(" (who completed `{key}`)"))
                    .unwrap_or_default(),
            };
            (format!("{} was assigned to {to}{how}", task()), Vec::new())
        }
        "task.assignment_unavailable" => {
            let who = match id_in(p, "user_id").map(UserId) {
                Some(id) => name_of(names, Some(id)),
                None => "its person".into(),
            };
            (
                format!(
                    "{} could not go to {who}; it waits for anyone who may work it",
                    task()
                ),
                vec![text("reason")],
            )
        }
        "task.released" => (format!("gave {} back to the queue", task()), Vec::new()),
        "task.completed" => (format!("completed {}", task()), changes("changes")),
        "task.allowed_users_set" => (format!("changed who may work on {}", task()), Vec::new()),
        "workflow.completed" => (
            format!("the workflow ended: {}", text("status")),
            Vec::new(),
        ),
        "workflow.error" => (
            "the workflow stopped with an error".into(),
            vec![text("message")],
        ),
        "workflow.joined" => ("parallel branches joined".into(), Vec::new()),
        "workflow.branch_ended" => ("a parallel branch ended".into(), Vec::new()),
        "workflow_error.retried" => ("retried the workflow".into(), Vec::new()),
        "workflow_error.status_changed" => (
            format!("marked a workflow error {}", text("status")),
            Vec::new(),
        ),
        "comment.added" if p["internal"] == Value::Bool(true) => {
            ("added an internal note".into(), Vec::new())
        }
        "comment.added" => ("commented".into(), Vec::new()),
        "attachment.added" => (format!("attached {}", text("file_name")), Vec::new()),
        "ticket.cancelled" => ("cancelled the ticket".into(), Vec::new()),
        "ticket.conversation_linked" if p["created_from"] == Value::Bool(true) => (
            "made the ticket from a support conversation".into(),
            Vec::new(),
        ),
        "ticket.conversation_linked" => (
            "linked a support conversation to the ticket".into(),
            Vec::new(),
        ),
        "ticket.data_corrected" => ("corrected the data".into(), changes("changes")),
        "action.accepted" => (
            format!("{} was accepted by its service", task()),
            Vec::new(),
        ),
        other => (other.replace(['.', '_'], " "), Vec::new()),
    }
}

pub async fn ticket(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<TicketId>,
) -> PageResult {
    ticket_page(&state, ctx, id, None).await
}

async fn ticket_page(
    state: &WebState,
    ctx: PageCtx,
    id: TicketId,
    refused: Option<(CommentForm, Refusal)>,
) -> PageResult {
    let ctx = ctx.titled("Ticket");
    let (app, actor) = (&state.app, &ctx.actor);
    let view: TicketView = ctx.load(app::runtime::tickets::get(app, actor, id).await)?;
    let version = ctx.load(app::runtime::tickets::version_of(app, actor, id).await)?;
    let graph = if view.actions.details {
        Some(ctx.load(app::runtime::tickets::graph_svg(app, actor, id).await)?)
    } else {
        None
    };
    let (_, events) = ctx.load(app::runtime::tickets::timeline(app, actor, id).await)?;
    let comments = ctx.load(app::runtime::tickets::comments(app, actor, id).await)?;
    let files = ctx.load(app::runtime::tickets::attachments(app, actor, id).await)?;
    let following = ctx
        .load(app::notifications::following(app, actor, id).await)?
        .following;
    let tasks = view.tasks.clone().unwrap_or_default();
    let mut people: Vec<UserId> = vec![view.requester_id];
    people.extend(tasks.iter().filter_map(|t| t.assigned_to));
    people.extend(events.iter().filter_map(|e| e.actor_id));
    people.extend(events.iter().flat_map(|e| {
        ["assigned_to", "user_id"]
            .into_iter()
            .filter_map(|key| id_in(&e.payload, key).map(UserId))
    }));
    people.extend(comments.iter().map(|c| c.author_id));
    people.extend(files.iter().map(|f| f.uploaded_by));
    let names = ctx.load(app::runtime::tickets::names(app, actor, people).await)?;
    // The conversation is linked when the viewer may open it (its requester, or agents).
    let conversation = match view.conversation_id {
        Some(c) => match app::conversations::get(app, actor, c).await {
            Ok(_) => Some(c),
            Err(app::AppError::NotFound) => None,
            Err(other) => ctx.load(Err(other))?,
        },
        None => None,
    };
    let task_names: HashMap<TaskId, String> =
        tasks.iter().map(|t| (t.id, t.name.clone())).collect();

    let type_fields = version
        .ticket_type(&view.ticket_type_key)
        .map(|t| t.fields.clone())
        .unwrap_or(Value::Null);
    let output_schemas: Vec<&Value> = version
        .spec
        .tasks
        .iter()
        .filter_map(|t| t.output_schema.as_ref())
        .collect();
    let mut schemas = vec![&type_fields, &version.spec.fields];
    schemas.extend(output_schemas);
    let submitted = view.data.parse();
    let data = data_rows(&submitted, &schemas, |_, _| false);
    let workflow = data_rows(&view.workflow_data.parse(), &schemas, |k, v| {
        submitted.get(k) == Some(v)
    });
    let mut page = TicketPage {
        layout: {
            let mut layout = ctx.layout.clone();
            layout.title = format!("#{} {} — TicketFlower", view.number, view.title);
            if app::access::is_ticket_admin(actor) {
                layout.crumb("/tickets/all", "All tickets");
            } else if let (Some(c), false) = (conversation, view.requester_id == actor.user_id) {
                // An agent came from the conversation about it, not from their own tickets.
                layout.crumb(format!("/conversations/{c}"), "Conversation");
            } else {
                layout.crumb("/tickets", "My tickets");
            }
            layout.live(domain::event::Stream::Ticket(view.id).to_string());
            layout
        },
        id: id.to_string(),
        number: view.number,
        requester: name_of(&names, Some(view.requester_id)),
        created: when(view.created_at),
        updated: when(view.updated_at),
        closed: view.closed_at.map(when),
        data,
        workflow,
        graph,
        waiting: tasks
            .iter()
            .filter(|t| {
                view.waiting_on_you
                    && t.assigned_to == Some(actor.user_id)
                    && TaskStatus::QUEUED.contains(&t.status)
            })
            .map(|t| (t.id.to_string(), t.name.clone()))
            .collect(),
        tasks: tasks
            .iter()
            .map(|t| TaskLine {
                id: t.id.to_string(),
                mine: t.assigned_to == Some(actor.user_id),
                name: t.name.clone(),
                status: t.status.to_string(),
                assignee: name_of(&names, t.assigned_to),
                created: when(t.created_at),
                completed: t.completed_at.map(when),
            })
            .collect(),
        timeline: events
            .iter()
            .map(|e| {
                let (text, details) = describe(e, &task_names, &names);
                TimelineItem {
                    kind: e.kind.clone(),
                    when: when(e.created_at),
                    who: match e.actor_id {
                        Some(id) => name_of(&names, Some(id)),
                        None => "TicketFlower".into(),
                    },
                    text,
                    details,
                    link: (e.kind == "ticket.conversation_linked")
                        .then(|| id_in::<ConversationId>(&e.payload, "conversation_id"))
                        .flatten()
                        .filter(|c| Some(*c) == conversation)
                        .map(|c| {
                            (
                                format!("/conversations/{c}"),
                                "Open the conversation".into(),
                            )
                        }),
                }
            })
            .collect(),
        comments: comments
            .into_iter()
            .map(|c| CommentItem {
                who: name_of(&names, Some(c.author_id)),
                when: when(c.created_at),
                body: c.body,
                internal: c.internal,
            })
            .collect(),
        attachments: files
            .into_iter()
            .map(|f| AttachmentItem {
                id: f.id.to_string(),
                file_name: f.file_name,
                size: size(f.size),
                who: name_of(&names, Some(f.uploaded_by)),
                when: when(f.created_at),
            })
            .collect(),
        team: view.actions.note,
        can_cancel: view.actions.cancel,
        following,
        standing: Standing::of(&view),
        title: view.title,
        comment: CommentForm::default(),
        comment_errors: FieldErrors::default(),
        conversation: conversation.map(|c| c.to_string()),
        has_conversation: view.conversation_id.is_some(),
        can_start_conversation: view.conversation_id.is_none()
            && view.requester_id == actor.user_id,
    };
    let mut status = StatusCode::OK;
    if let Some((comment, refusal)) = refused {
        page.comment = comment;
        page.comment_errors = refusal.errors;
        status = refusal.status;
    }
    Ok(ctx.render_status(status, &page))
}

#[derive(Deserialize, Default)]
pub struct CommentForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    internal: Option<String>,
}

pub async fn add_comment(
    State(state): State<WebState>,
    PagePath(id): PagePath<TicketId>,
    PagePost { ctx, form }: PagePost<CommentForm>,
) -> PageResult {
    let back = format!("/tickets/{id}#comments");
    let internal = form.internal.is_some();
    let result =
        app::runtime::tickets::comment(&state.app, &ctx.actor, id, &form.body, internal).await;
    let refusal = match result {
        Ok(_) => {
            let done = if internal {
                "Your internal note was added."
            } else {
                "Your comment was added."
            };
            return Ok(ctx.redirect(&back, Flash::ok(done)));
        }
        Err(error) => match Refusal::of(error, &["body", "internal"]) {
            Ok(refusal) => refusal,
            Err(error) => return Ok(ctx.failed(&back, error)),
        },
    };
    ticket_page(&state, ctx, id, Some((form, refusal))).await
}

pub async fn add_attachments(
    State(state): State<WebState>,
    PagePath(id): PagePath<TicketId>,
    PageUpload { ctx, form: posted }: PageUpload,
) -> PageResult {
    let back = format!("/tickets/{id}");
    if posted.files.is_empty() {
        return Ok(ctx.redirect(&back, Flash::error("Choose a file to attach.")));
    }
    let names: Vec<String> = match app::runtime::tickets::attach(
        &state.app,
        &ctx.actor,
        id,
        posted.into_uploads(),
    )
    .await
    {
        Ok(stored) => stored.into_iter().map(|meta| meta.file_name).collect(),
        Err(error) => return Ok(ctx.failed(&back, error)),
    };
    Ok(ctx.redirect(
        &format!("{back}#attachments"),
        Flash::ok(format!("Attached {}.", names.join(", "))),
    ))
}

pub async fn download(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath((id, aid)): PagePath<(TicketId, AttachmentId)>,
) -> PageResult {
    let ctx = ctx.titled("Attachment");
    let (meta, bytes) =
        ctx.load(app::runtime::tickets::download(&state.app, &ctx.actor, id, aid).await)?;
    Ok(ctx.send(crate::api::tickets::attachment_response(&meta, bytes)))
}

pub async fn cancel(
    State(state): State<WebState>,
    PagePath(id): PagePath<TicketId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let back = format!("/tickets/{id}");
    let result = app::runtime::tickets::cancel(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome(&back, result, |t| {
        format!("Ticket #{} was cancelled.", t.number)
    }))
}

/// `follow` or `unfollow`.
#[derive(serde::Deserialize)]
pub struct FollowForm {
    #[serde(default)]
    action: String,
}

pub async fn follow(
    State(state): State<WebState>,
    PagePath(id): PagePath<TicketId>,
    PagePost { ctx, form }: PagePost<FollowForm>,
) -> PageResult {
    let back = format!("/tickets/{id}");
    let following = form.action != "unfollow";
    let result = app::notifications::follow(&state.app, &ctx.actor, id, following).await;
    Ok(ctx.outcome(&back, result, |f| {
        if f.following {
            "You follow this ticket: its comments and its end reach you.".into()
        } else {
            "You no longer hear of this ticket.".into()
        }
    }))
}

/// This module's pages.
pub fn router() -> axum::Router<crate::state::WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/tickets", get(my_tickets))
        .route("/tickets/all", get(all_tickets))
        .route("/tickets/new", get(new_ticket))
        .route(
            "/tickets/new/{type_id}",
            get(submit_page).post(submit_ticket),
        )
        .route("/tickets/{id}", get(ticket))
        .route("/tickets/{id}/comments", post(add_comment))
        .route("/tickets/{id}/attachments", post(add_attachments))
        .route("/tickets/{id}/attachments/{aid}", get(download))
        .route("/tickets/{id}/cancel", post(cancel))
        .route("/tickets/{id}/follow", post(follow))
}

#[cfg(test)]
mod link_tests {
    use super::web_link;
    use serde_json::json;

    #[test]
    fn only_web_addresses_become_links() {
        assert_eq!(
            web_link(&json!(" https://example.com/a?b=1 ")).as_deref(),
            Some("https://example.com/a?b=1")
        );
        assert_eq!(
            web_link(&json!("http://intranet/")).as_deref(),
            Some("http://intranet/")
        );
        for not_a_link in [
            json!("javascript:alert(1)"),
            json!("mailto:a@b.c"),
            json!("see https://example.com"),
            json!(42),
        ] {
            assert_eq!(web_link(&not_a_link), None, "{not_a_link}");
        }
    }
}

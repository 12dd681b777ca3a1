//! The support chat pages (issue 17): a requester's support page (their conversation, or a
//! form to start one), the agents' workspace (the queue by view and status, unread counts),
//! and a conversation's page with its messages, composer, internal notes, status and
//! transfer. Every page is live: messages, typing and read receipts arrive without reload.
//! The list searches the messages its reader may read; a conversation's transcript has a
//! printable page of its own (and the API's JSON and CSV downloads).

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use app::conversations::{self, ConversationView, MessageView, OpenRequest, View};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use domain::event::Stream;
use domain::{ConversationId, UserId};
use serde::Deserialize;

use crate::pages::kit::context::{Flash, PageCtx, PagePath, PagePost, PageResult, PageUpload};
use crate::pages::kit::filters;
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::schema_form::{FormErrors, FormField, Posted, SchemaForm};
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

/// A conversation in a list.
pub struct Row {
    pub id: String,
    pub title: String,
    pub requester: String,
    pub status: String,
    pub assignee: String,
    pub unread: i64,
    pub last: When,
    pub current: bool,
    /// The channel it arrived through (the web chat's is empty).
    pub channel: String,
}

fn title_of(c: &ConversationView) -> String {
    conversations::title(
        c.subject.as_deref(),
        c.reference.as_deref(),
        &c.requester_name,
    )
}

fn row(c: &ConversationView, current: Option<ConversationId>) -> Row {
    Row {
        id: c.id.to_string(),
        title: title_of(c),
        requester: c.requester_name.clone(),
        status: c.status.clone(),
        assignee: c
            .assignee_name
            .clone()
            .unwrap_or_else(|| "Unassigned".into()),
        unread: c.unread,
        last: when(c.last_message_at.unwrap_or(c.updated_at)),
        current: current == Some(c.id),
        channel: String::new(),
    }
}

#[derive(Template)]
#[template(path = "conversations.html")]
pub struct ListPage {
    pub layout: Layout,
    pub agent: bool,
    pub view: &'static str,
    pub status: String,
    pub rows: Vec<Row>,
    pub total: i64,
    /// The teams to filter by (id, name), and the one chosen.
    pub teams: Vec<(String, String)>,
    pub team: String,
    /// The channels to filter by (id, name), and the choice (`web`, an id or empty).
    pub channels: Vec<(String, String)>,
    pub channel: String,
    pub unread_only: bool,
    /// The list as filtered, to come back to after a bulk action.
    pub back: String,
    /// The message search as typed, its hits, and why it was refused.
    pub q: String,
    pub hits: Vec<HitRow>,
    pub search_error: Option<String>,
    /// The next page of hits.
    pub more: Option<String>,
}

/// A message a search found, linking to its place in its conversation.
pub struct HitRow {
    pub href: String,
    pub title: String,
    pub author: String,
    /// Whose conversation it is, when someone else wrote the message.
    pub to: Option<String>,
    pub internal: bool,
    pub edited: bool,
    pub when: When,
    pub snippet: Vec<domain::search::Fragment>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    view: Option<String>,
    status: Option<String>,
    team: Option<String>,
    /// `web`, or a channel's id.
    channel: Option<String>,
    /// `1`: only conversations with unread messages.
    unread: Option<String>,
    /// Words to find in the messages.
    q: Option<String>,
    /// Where the page of hits starts (the last message of the previous page).
    cursor: Option<String>,
}

/// Hits of a message search as the list shows them.
fn hit_row(hit: conversations::search::MessageHit) -> HitRow {
    HitRow {
        href: format!("/conversations/{}#m{}", hit.conversation_id, hit.seq),
        title: hit.conversation_title,
        to: (hit.author_id != hit.requester_id).then_some(hit.requester_name),
        author: hit.author_name,
        internal: hit.internal,
        edited: hit.edited_at.is_some(),
        when: when(hit.created_at),
        snippet: hit.fragments,
    }
}

fn view_of(query: &ListQuery) -> (View, &'static str) {
    match query.view.as_deref() {
        Some("unassigned") => (View::Unassigned, "unassigned"),
        Some("all") => (View::All, "all"),
        _ => (View::Mine, "mine"),
    }
}

/// The queue for agents (mine, unassigned, all; by status), one's own for a requester.
pub async fn list(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let agent = app::access::is_agent(&ctx.actor);
    let ctx = ctx.titled(if agent {
        "Conversations"
    } else {
        "My conversations"
    });
    let (view, view_name) = view_of(&query);
    let status = query.status.clone().filter(|s| !s.is_empty());
    let q = query.q.clone().unwrap_or_default();
    let (mut hits, mut more, mut search_error) = (Vec::new(), None, None);
    if !q.trim().is_empty() {
        let cursor = query.cursor.as_deref().and_then(|c| c.parse().ok());
        let asked = conversations::search::MessageQuery {
            q: q.clone(),
            cursor,
            limit: 20,
        };
        match conversations::search::search(&state.app, &ctx.actor, asked).await {
            Ok((found, next)) => {
                hits = found.into_iter().map(hit_row).collect();
                more = next.map(|next| {
                    crate::pages::kit::pager::address(
                        "/conversations",
                        &[("q", &q), ("cursor", &next.to_string())],
                    )
                });
            }
            Err(app::AppError::Validation(errors)) => {
                search_error = Some(
                    errors
                        .0
                        .iter()
                        .map(|e| format!("The search {}.", e.message))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
            Err(error) => ctx.load::<()>(Err(error))?,
        }
    }
    let team = query
        .team
        .as_deref()
        .and_then(|t| t.parse::<domain::ids::CompanyRoleId>().ok());
    let teams = ctx.load(conversations::teams(&state.app, &ctx.actor).await)?;
    let channels = if agent {
        ctx.load(app::channels::list(&state.app, &ctx.actor).await)?
    } else {
        Vec::new()
    };
    let channel_choice = query.channel.clone().unwrap_or_default();
    let channel = match channel_choice.as_str() {
        "" => None,
        "web" => Some(None),
        text => text.parse::<domain::ChannelId>().ok().map(Some),
    };
    let unread_only = query.unread.as_deref() == Some("1");
    let channel_names: std::collections::HashMap<domain::ChannelId, String> =
        channels.iter().map(|c| (c.id, c.name.clone())).collect();
    let (items, total) = ctx.load(
        conversations::list_in(
            &state.app,
            &ctx.actor,
            view,
            status.clone(),
            conversations::Narrowing {
                team,
                channel,
                unread_only,
            },
            200,
        )
        .await,
    )?;
    let code = if search_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(ctx.render_status(
        code,
        &ListPage {
            layout: {
                let mut layout = ctx.layout.clone();
                layout.live.extend(feed(&ctx));
                layout
            },
            agent,
            view: view_name,
            status: status.clone().unwrap_or_default(),
            rows: items
                .iter()
                .map(|c| {
                    let mut row = row(c, None);
                    row.channel = match c.channel_id {
                        Some(id) => channel_names.get(&id).cloned().unwrap_or_default(),
                        None => "Web chat".into(),
                    };
                    row
                })
                .collect(),
            back: format!(
                "/conversations?view={view_name}&status={}&channel={}{}",
                status.clone().unwrap_or_default(),
                channel_choice,
                if unread_only { "&unread=1" } else { "" }
            ),
            total,
            q,
            hits,
            search_error,
            more,
            teams: teams
                .into_iter()
                .map(|(id, name)| (id.to_string(), name))
                .collect(),
            team: team.map(|t| t.to_string()).unwrap_or_default(),
            channels: channels
                .into_iter()
                .map(|c| (c.id.to_string(), c.name))
                .collect(),
            channel: channel_choice,
            unread_only,
        },
    ))
}

/// The company feed for an agent: the queue follows every conversation.
fn feed(ctx: &PageCtx) -> Option<String> {
    let company = ctx.actor.company_id?;
    app::access::is_agent(&ctx.actor).then(|| Stream::Company(company).to_string())
}

/// One message as the page shows it.
pub struct Line {
    pub seq: i64,
    pub author: String,
    pub mine: bool,
    pub body: String,
    pub internal: bool,
    pub when: When,
    pub edited: bool,
    pub deleted: bool,
    pub read: bool,
    pub files: Vec<conversations::MessageFile>,
    /// A channel reply's delivery state (`queued`, `sent`, ...; empty otherwise) and why it
    /// failed.
    pub delivery: String,
    pub delivery_error: String,
    /// Files an inbound message links to at its provider (URL, name).
    pub links: Vec<(String, String)>,
}

fn line(message: MessageView, me: UserId) -> Line {
    Line {
        files: message.attachments,
        seq: message.seq,
        author: message.author_name,
        mine: message.author_id == me,
        body: message.body,
        internal: message.internal,
        when: when(message.created_at),
        edited: message.edited_at.is_some(),
        deleted: message.deleted,
        read: message.read_by_other,
        delivery: message.delivery.unwrap_or_default(),
        delivery_error: message.delivery_error.unwrap_or_default(),
        links: message
            .external_files
            .and_then(|files| {
                serde_json::from_value::<Vec<app::channels::ExternalFile>>(files).ok()
            })
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f.url.starts_with("https://") || f.url.starts_with("http://"))
            .map(|f| {
                let name = f.name.unwrap_or_else(|| f.url.clone());
                (f.url, name)
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "conversation.html")]
pub struct ConversationPage {
    pub layout: Layout,
    pub agent: bool,
    pub id: String,
    pub title: String,
    pub requester: String,
    pub status: String,
    pub assignee_id: String,
    pub assignee: String,
    pub reference: String,
    pub lines: Vec<Line>,
    /// The agent's queue beside the conversation, and the requester's other conversations.
    pub queue: Vec<Row>,
    pub others: Vec<Row>,
    pub agents: Vec<(String, String)>,
    /// The teams it may be routed to (id, name), and its own.
    pub teams: Vec<(String, String)>,
    pub team_id: String,
    /// Who may appear typing: ids and names, for `app.js`.
    pub people: String,
    pub me: String,
    pub closed: bool,
    pub form: MessageForm,
    pub errors: FieldErrors,
    /// For agents: the templates they may send (id, title).
    pub templates: Vec<(String, String)>,
    /// For the requester: the question waiting for their answer.
    pub question: Option<Question>,
    /// `online` or `offline` when the page was made (live signals take over from there).
    pub requester_id: String,
    pub requester_presence: &'static str,
    pub assignee_presence: &'static str,
    /// The company's bounds, for the composer.
    pub max_chars: u32,
    pub may_attach: bool,
    /// The conversation's ticket; for agents the requester's tickets and "Create ticket".
    pub tickets: crate::pages::conversation_tickets::TicketPanel,
    /// For agents: the channel's contact it is with (none for the web chat).
    pub contact: Option<app::channels::ContactView>,
    /// The provider's thread id.
    pub thread: String,
}

/// A template sent to the requester and not answered yet, as a form.
pub struct Question {
    pub template_id: String,
    pub title: String,
    pub fields: Vec<FormField>,
    pub general: Vec<String>,
}

/// A refused answer: what was typed, and why.
pub struct RefusedAnswer {
    typed: Posted,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
pub struct MessageForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    internal: Option<String>,
}

pub async fn conversation(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<ConversationId>,
) -> PageResult {
    conversation_page(&state, ctx, id, None, None).await
}

async fn conversation_page(
    state: &WebState,
    ctx: PageCtx,
    id: ConversationId,
    refused: Option<(MessageForm, Refusal)>,
    refused_answer: Option<RefusedAnswer>,
) -> PageResult {
    let ctx = ctx.titled("Conversation");
    let (app, actor) = (&state.app, &ctx.actor);
    let agent = app::access::is_agent(actor);
    let view = ctx.load(conversations::get(app, actor, id).await)?;
    // Opening the conversation reads it: the other side sees the receipt.
    if view.unread > 0 {
        ctx.load(conversations::read(app, actor, id, None).await)?;
    }
    let messages = ctx.load(conversations::messages(app, actor, id, 0, 1000).await)?;
    let (queue, others) = if agent {
        let (mine, _) = ctx.load(conversations::list(app, actor, View::Mine, None, 50).await)?;
        let (all, _) = ctx.load(conversations::list(app, actor, View::All, None, 200).await)?;
        let others = all
            .iter()
            .filter(|c| c.requester_id == view.requester_id && c.id != id)
            .map(|c| row(c, None))
            .collect();
        (mine.iter().map(|c| row(c, Some(id))).collect(), others)
    } else {
        let (own, _) = ctx.load(conversations::list(app, actor, View::Mine, None, 50).await)?;
        let others = own
            .iter()
            .filter(|c| c.id != id)
            .map(|c| row(c, None))
            .collect();
        (Vec::new(), others)
    };
    let agents = ctx.load(conversations::assignable(app, actor).await)?;
    let settings = ctx.load(app::chat::settings(app, actor).await)?;
    let teams = ctx.load(conversations::teams(app, actor).await)?;
    let online = actor
        .company_id
        .map(|company| app.hub().online(company))
        .unwrap_or_default();
    let tickets = crate::pages::conversation_tickets::panel(state, &ctx, &view).await?;
    let contact = match (agent, view.contact_id) {
        (true, Some(contact)) => Some(ctx.load(app::channels::contact(app, actor, contact).await)?),
        _ => None,
    };
    let mut people: Vec<(String, String)> = messages
        .iter()
        .map(|m| (m.author_id.to_string(), m.author_name.clone()))
        .collect();
    people.push((view.requester_id.to_string(), view.requester_name.clone()));
    if let (Some(id), Some(name)) = (view.assignee_id, &view.assignee_name) {
        people.push((id.to_string(), name.clone()));
    }
    people.extend(
        agents
            .iter()
            .map(|(id, name)| (id.to_string(), name.clone())),
    );
    let people: serde_json::Map<String, serde_json::Value> = people
        .into_iter()
        .map(|(id, name)| (id, serde_json::Value::String(name)))
        .collect();
    let title = title_of(&view);
    let templates = if agent {
        ctx.load(app::templates::list(app, actor).await)?
            .into_iter()
            .map(|t| (t.id.to_string(), t.title))
            .collect()
    } else {
        Vec::new()
    };
    let question = if agent {
        None
    } else {
        match waiting_question(&messages, actor.user_id) {
            Some(template) => {
                let template = ctx.load(app::templates::get(app, actor, template).await)?;
                let form = SchemaForm::new("answers", &template.schema);
                let (fields, general) = match &refused_answer {
                    Some(refused) => (
                        form.fields(Some(&refused.typed), &refused.errors),
                        refused.errors.general.clone(),
                    ),
                    None => (form.fields(None, &FormErrors::default()), Vec::new()),
                };
                Some(Question {
                    template_id: template.id.to_string(),
                    title: template.title,
                    fields,
                    general,
                })
            }
            None => None,
        }
    };
    let mut page = ConversationPage {
        layout: {
            let mut layout = ctx.layout.clone();
            layout.title = format!("{title} — TicketFlower");
            if agent {
                layout.crumb("/conversations", "Conversations");
            } else {
                layout.crumb("/support", "Support chat");
            }
            layout.live(Stream::Conversation(id).to_string());
            layout.live.extend(feed(&ctx));
            layout
        },
        agent,
        id: id.to_string(),
        title,
        requester: view.requester_name.clone(),
        status: view.status.clone(),
        assignee_id: view.assignee_id.map(|a| a.to_string()).unwrap_or_default(),
        assignee: view
            .assignee_name
            .clone()
            .unwrap_or_else(|| "Nobody yet".into()),
        reference: view.reference.clone().unwrap_or_default(),
        lines: messages
            .into_iter()
            .map(|m| line(m, actor.user_id))
            .collect(),
        queue,
        others,
        agents: agents
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect(),
        people: serde_json::Value::Object(people).to_string(),
        me: actor.user_id.to_string(),
        closed: view.status == "closed",
        form: MessageForm::default(),
        errors: FieldErrors::default(),
        templates,
        question,
        teams: teams
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect(),
        team_id: view.team_id.map(|t| t.to_string()).unwrap_or_default(),
        requester_id: view.requester_id.to_string(),
        requester_presence: presence(&online, Some(view.requester_id)),
        assignee_presence: presence(&online, view.assignee_id),
        max_chars: settings.max_message_chars,
        may_attach: agent || settings.requester_attachments,
        tickets,
        contact,
        thread: view.external_thread.clone().unwrap_or_default(),
    };
    let mut status = if refused_answer.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    if let Some((form, refusal)) = refused {
        page.form = form;
        page.errors = refusal.errors;
        status = refusal.status;
    }
    Ok(ctx.render_status(status, &page))
}

/// The newest template an agent sent that `me` has not answered since.
fn waiting_question(messages: &[MessageView], me: UserId) -> Option<uuid::Uuid> {
    let asked = messages
        .iter()
        .rev()
        .find(|m| m.template_id.is_some() && m.answers.is_none() && m.author_id != me)?;
    let answered = messages
        .iter()
        .any(|m| m.seq > asked.seq && m.author_id == me && m.template_id == asked.template_id);
    if answered { None } else { asked.template_id }
}

#[derive(Deserialize)]
pub struct AskForm {
    #[serde(default)]
    template_id: String,
}

/// An agent sends a question template.
pub async fn ask(
    State(state): State<WebState>,
    PagePath(id): PagePath<ConversationId>,
    PagePost { ctx, form }: PagePost<AskForm>,
) -> PageResult {
    let back = format!("/conversations/{id}#composer");
    // Someone else's conversation is not found, whatever the form holds.
    ctx.load(conversations::get(&state.app, &ctx.actor, id).await)?;
    let Ok(template) = form.template_id.parse::<uuid::Uuid>() else {
        return Ok(ctx.redirect(&back, Flash::error("Choose a template from the list.")));
    };
    let draft = conversations::Draft {
        template_id: Some(template),
        ..conversations::Draft::default()
    };
    match conversations::post_draft(&state.app, &ctx.actor, id, draft).await {
        Ok(_) => Ok(ctx.go(&back)),
        Err(error) => Ok(ctx.failed(&back, error)),
    }
}

/// The requester answers the waiting question through its form.
pub async fn answer(
    State(state): State<WebState>,
    PagePath(id): PagePath<ConversationId>,
    PagePost { ctx, form: pairs }: PagePost<Vec<(String, String)>>,
) -> PageResult {
    let back = format!("/conversations/{id}#composer");
    ctx.load(conversations::get(&state.app, &ctx.actor, id).await)?;
    let Some(template) = pairs
        .iter()
        .find(|(k, _)| k == "template_id")
        .and_then(|(_, v)| v.parse::<uuid::Uuid>().ok())
    else {
        return Ok(ctx.redirect(&back, Flash::error("That question is no longer asked.")));
    };
    let found = ctx.load(app::templates::get(&state.app, &ctx.actor, template).await)?;
    let form = SchemaForm::new("answers", &found.schema);
    let (answers, typed) = form.read(&pairs);
    let draft = conversations::Draft {
        template_id: Some(template),
        answers: Some(answers),
        ..conversations::Draft::default()
    };
    match conversations::post_draft(&state.app, &ctx.actor, id, draft).await {
        Ok(_) => Ok(ctx.redirect(&back, Flash::ok("Thank you: your answer was sent."))),
        Err(app::AppError::Validation(errors)) => {
            let errors = form.errors(&errors);
            conversation_page(&state, ctx, id, None, Some(RefusedAnswer { typed, errors })).await
        }
        Err(error) => Ok(ctx.failed(&back, error)),
    }
}

/// Posts the composer: text, an internal note, files (the form is multipart).
pub async fn post_message(
    State(state): State<WebState>,
    PagePath(id): PagePath<ConversationId>,
    PageUpload { ctx, form: posted }: PageUpload,
) -> PageResult {
    let back = format!("/conversations/{id}#composer");
    let form = MessageForm {
        body: posted.value("body").to_owned(),
        internal: Some(posted.value("internal"))
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    };
    let draft = conversations::Draft {
        body: form.body.clone(),
        internal: form.internal.is_some(),
        uploads: posted.into_uploads(),
        ..conversations::Draft::default()
    };
    match conversations::post_draft(&state.app, &ctx.actor, id, draft).await {
        Ok(_) => Ok(ctx.go(&back)),
        Err(error) => match Refusal::of(error, &["body", "internal", "attachments"]) {
            Ok(refusal) => conversation_page(&state, ctx, id, Some((form, refusal)), None).await,
            Err(error) => Ok(ctx.failed(&back, error)),
        },
    }
}

fn presence(online: &std::collections::HashSet<UserId>, user: Option<UserId>) -> &'static str {
    if user.is_some_and(|user| online.contains(&user)) {
        "online"
    } else {
        "offline"
    }
}

/// A file of a message, downloaded from the page (checked against its SHA-256).
pub async fn download(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath((id, file)): PagePath<(ConversationId, uuid::Uuid)>,
) -> PageResult {
    let ctx = ctx.titled("File");
    let (meta, bytes) =
        ctx.load(conversations::download(&state.app, &ctx.actor, id, file).await)?;
    Ok(ctx.send(crate::api::conversations::file_download(&meta, bytes)))
}

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    ids: Vec<ConversationId>,
    action: String,
    /// Where to come back to (the list as it was filtered).
    #[serde(default)]
    back: String,
}

/// The list's bulk actions: assign to me, close, mark read or unread.
pub async fn bulk(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<BulkForm>,
) -> PageResult {
    let back = if form.back.starts_with("/conversations") {
        form.back.clone()
    } else {
        "/conversations".to_owned()
    };
    if form.ids.is_empty() {
        return Ok(ctx.redirect(
            &back,
            Flash::error("Tick the conversations to change first."),
        ));
    }
    let (action, assignee) = match form.action.as_str() {
        "assign_me" => (conversations::BulkAction::Assign, Some(ctx.actor.user_id)),
        "unassign" => (conversations::BulkAction::Assign, None),
        "close" => (conversations::BulkAction::Close, None),
        "read" => (conversations::BulkAction::MarkRead, None),
        "unread" => (conversations::BulkAction::MarkUnread, None),
        _ => return Ok(ctx.redirect(&back, Flash::error("Choose what to do with them."))),
    };
    match conversations::bulk(&state.app, &ctx.actor, &form.ids, action, assignee).await {
        Ok(outcome) => {
            let done = outcome.done.len();
            let text = if outcome.failed.is_empty() {
                format!("{done} conversation(s) changed.")
            } else {
                format!(
                    "{done} conversation(s) changed; {} could not be: {}.",
                    outcome.failed.len(),
                    outcome.failed[0].error
                )
            };
            Ok(ctx.redirect(&back, Flash::ok(text)))
        }
        Err(error) => Ok(ctx.failed(&back, error)),
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

pub async fn set_status(
    State(state): State<WebState>,
    PagePath(id): PagePath<ConversationId>,
    PagePost { ctx, form }: PagePost<StatusForm>,
) -> PageResult {
    let back = format!("/conversations/{id}");
    match conversations::set_status(&state.app, &ctx.actor, id, &form.status).await {
        Ok(view) => {
            let text = format!("The conversation is {} now.", view.status);
            Ok(ctx.redirect(&back, Flash::ok(text)))
        }
        Err(error) => Ok(ctx.failed(&back, error)),
    }
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee_id: String,
}

pub async fn assign(
    State(state): State<WebState>,
    PagePath(id): PagePath<ConversationId>,
    PagePost { ctx, form }: PagePost<AssignForm>,
) -> PageResult {
    let back = format!("/conversations/{id}");
    let assignee = match form.assignee_id.trim() {
        "" => None,
        text => match text.parse::<UserId>() {
            Ok(user) => Some(user),
            Err(_) => {
                return Ok(ctx.redirect(&back, Flash::error("Choose an agent from the list.")));
            }
        },
    };
    match conversations::assign(&state.app, &ctx.actor, id, assignee).await {
        Ok(view) => {
            let text = match view.assignee_name {
                Some(name) => format!("The conversation is {name}'s now."),
                None => "The conversation is back in the queue.".into(),
            };
            Ok(ctx.redirect(&back, Flash::ok(text)))
        }
        Err(error) => Ok(ctx.failed(&back, error)),
    }
}

#[derive(Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    team_id: String,
}

pub async fn set_team(
    State(state): State<WebState>,
    PagePath(id): PagePath<ConversationId>,
    PagePost { ctx, form }: PagePost<TeamForm>,
) -> PageResult {
    let back = format!("/conversations/{id}");
    let team = match form.team_id.trim() {
        "" => None,
        text => match text.parse::<domain::ids::CompanyRoleId>() {
            Ok(team) => Some(team),
            Err(_) => return Ok(ctx.redirect(&back, Flash::error("Choose a team from the list."))),
        },
    };
    match conversations::set_team(&state.app, &ctx.actor, id, team).await {
        Ok(view) => {
            let text = match (team, view.assignee_name) {
                (None, _) => "The conversation has no team now.".to_owned(),
                (Some(_), Some(name)) => format!("Routed to the team; {name} answers it."),
                (Some(_), None) => "Routed to the team; it waits in the queue.".to_owned(),
            };
            Ok(ctx.redirect(&back, Flash::ok(text)))
        }
        Err(error) => Ok(ctx.failed(&back, error)),
    }
}

#[derive(Template)]
#[template(path = "support.html")]
pub struct SupportPage {
    pub layout: Layout,
    pub others: Vec<Row>,
    pub form: StartForm,
    pub errors: FieldErrors,
}

#[derive(Deserialize, Default)]
pub struct StartForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
}

/// A requester's support: their open conversation, or a form to start one.
pub async fn support(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    if app::access::is_agent(&ctx.actor) {
        return Ok(ctx.go("/conversations"));
    }
    let ctx = ctx.titled("Support chat");
    let (own, _) =
        ctx.load(conversations::list(&state.app, &ctx.actor, View::Mine, None, 50).await)?;
    if let Some(open) = own
        .iter()
        .find(|c| c.status != "closed" && c.reference.is_none() && c.ticket_id.is_none())
    {
        return Ok(ctx.go(&format!("/conversations/{}", open.id)));
    }
    support_page(ctx, own, StartForm::default(), None)
}

fn support_page(
    ctx: PageCtx,
    own: Vec<ConversationView>,
    form: StartForm,
    refusal: Option<Refusal>,
) -> PageResult {
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(
        status,
        &SupportPage {
            layout: ctx.layout.clone(),
            others: own.iter().map(|c| row(c, None)).collect(),
            form,
            errors: refusal.map(|r| r.errors).unwrap_or_default(),
        },
    ))
}

/// Starts (or finds) the requester's conversation and posts its first message.
pub async fn start(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<StartForm>,
) -> PageResult {
    let opened = conversations::open(
        &state.app,
        &ctx.actor,
        OpenRequest {
            subject: Some(form.subject.clone()),
            ..OpenRequest::default()
        },
    )
    .await;
    let result = match opened {
        Ok((view, _)) => conversations::post(&state.app, &ctx.actor, view.id, &form.body, false)
            .await
            .map(|_| view.id),
        Err(error) => Err(error),
    };
    match result {
        Ok(id) => Ok(ctx.redirect(
            &format!("/conversations/{id}#composer"),
            Flash::ok("Your message was sent. An agent will answer here."),
        )),
        Err(error) => match Refusal::of(error, &["subject", "body"]) {
            Ok(refusal) => {
                let (own, _) = ctx.load(
                    conversations::list(&state.app, &ctx.actor, View::Mine, None, 50).await,
                )?;
                support_page(ctx, own, form, Some(refusal))
            }
            Err(error) => Ok(ctx.failed("/support", error)),
        },
    }
}

#[derive(Template)]
#[template(path = "conversation_transcript.html")]
pub struct TranscriptPage {
    pub layout: Layout,
    pub id: String,
    pub title: String,
    pub requester: String,
    pub status: String,
    pub assignee: String,
    pub reference: String,
    pub with_internal: bool,
    pub exported_at: String,
    pub entries: Vec<Entry>,
}

/// A message of the printable transcript.
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub author: String,
    pub body: String,
    pub internal: bool,
    pub edited_at: Option<String>,
    pub deleted: bool,
    pub hash: String,
}

/// A moment written out in full, as a printed page needs it.
fn exact(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A conversation's transcript as a printable page: every message the reader may read, in
/// order, with the downloads (JSON, CSV) beside it; printed, it is the transcript alone.
pub async fn transcript(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<ConversationId>,
) -> PageResult {
    let ctx = ctx.titled("Transcript");
    let transcript =
        ctx.load(conversations::transcript::transcript(&state.app, &ctx.actor, id).await)?;
    let view = &transcript.conversation;
    let mut layout = ctx.layout.clone();
    layout.title = format!("Transcript: {} — TicketFlower", transcript.title);
    if transcript.with_internal {
        layout.crumb("/conversations", "Conversations");
    } else {
        layout.crumb("/support", "Support chat");
    }
    layout.crumb(format!("/conversations/{id}"), transcript.title.clone());
    let page = TranscriptPage {
        layout,
        id: id.to_string(),
        title: transcript.title.clone(),
        requester: view.requester_name.clone(),
        status: view.status.clone(),
        assignee: view
            .assignee_name
            .clone()
            .unwrap_or_else(|| "Nobody".into()),
        reference: view.reference.clone().unwrap_or_default(),
        with_internal: transcript.with_internal,
        exported_at: exact(transcript.exported_at),
        entries: transcript
            .messages
            .iter()
            .map(|m| Entry {
                seq: m.seq,
                at: exact(m.created_at),
                author: m.author_name.clone(),
                body: m.body.clone(),
                internal: m.internal,
                edited_at: m.edited_at.map(exact),
                deleted: m.deleted,
                hash: m.hash.clone(),
            })
            .collect(),
    };
    Ok(ctx.render(&page))
}

pub fn router() -> axum::Router<WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/support", get(support).post(start))
        .route("/conversations", get(list))
        .route("/conversations/bulk", post(bulk))
        .route("/conversations/{id}", get(conversation))
        .route("/conversations/{id}/transcript", get(transcript))
        .route("/conversations/{id}/messages", post(post_message))
        .route("/conversations/{id}/files/{file_id}", get(download))
        .route("/conversations/{id}/status", post(set_status))
        .route("/conversations/{id}/assign", post(assign))
        .route("/conversations/{id}/team", post(set_team))
        .route("/conversations/{id}/ask", post(ask))
        .route("/conversations/{id}/answers", post(answer))
}

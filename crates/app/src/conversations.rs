//! Support conversations: a requester and the company's agents (issue 17). A requester has
//! one open general conversation at a time (get-or-create, safe under races), and may have
//! one per reference (an incident id) or ticket. New conversations go to the agent with the
//! shortest open queue (ties: the one given one least recently). Messages are numbered per
//! conversation and chained: each stores its predecessor's hash and its own over a canonical
//! form, so `verify` finds the first row changed behind the application's back.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::event::{Payload, Stream};
use domain::{ConversationId, MessageId, TicketId, UserId, ValidationErrors};
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::conversations::{self as stored, Filter, NewConversation};

use crate::{App, AppError, Result, audit};

pub mod search;
pub mod transcript;

/// Longest message accepted.
pub const MAX_MESSAGE_CHARS: usize = 5_000;
const MAX_SUBJECT_CHARS: usize = 200;
const MAX_REFERENCE_CHARS: usize = 100;
/// The hash the first message of a conversation follows.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The statuses a conversation moves through.
pub const STATUSES: [&str; 4] = ["open", "pending", "resolved", "closed"];

pub use crate::access::is_agent;

/// A conversation as its participants see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    pub id: ConversationId,
    pub requester_id: UserId,
    pub requester_name: String,
    pub subject: Option<String>,
    /// An incident id, unique in the company.
    pub reference: Option<String>,
    pub ticket_id: Option<TicketId>,
    /// `open`, `pending`, `resolved` or `closed`.
    pub status: String,
    pub assignee_id: Option<UserId>,
    pub assignee_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    /// Messages of the other side the caller has not read.
    pub unread: i64,
}

/// What a conversation is called: its subject, else its reference, else whose support it is.
pub fn title(subject: Option<&str>, reference: Option<&str>, requester_name: &str) -> String {
    subject
        .or(reference)
        .map_or_else(|| format!("Support for {requester_name}"), str::to_owned)
}

fn name(first: Option<String>, last: Option<String>) -> Option<String> {
    let name = format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default());
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// A message as its reader sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// 1, 2, 3… in the conversation.
    pub seq: i64,
    pub author_id: UserId,
    pub author_name: String,
    pub body: String,
    /// A note for agents only.
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub prev_hash: String,
    pub hash: String,
    /// Whether the other side has read it (their watermark passed it).
    pub read_by_other: bool,
    /// The question template it sends or answers.
    pub template_id: Option<uuid::Uuid>,
    /// The requester's structured answer to that template.
    pub answers: Option<serde_json::Value>,
}

/// A message to post: text, an internal note, a question template (agents), or a
/// requester's structured answer to a template sent in the conversation.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub body: String,
    pub internal: bool,
    pub template_id: Option<uuid::Uuid>,
    pub answers: Option<serde_json::Value>,
}

/// What `POST /conversations` asks for.
#[derive(Clone, Debug, Default)]
pub struct OpenRequest {
    pub subject: Option<String>,
    pub reference: Option<String>,
    pub ticket_id: Option<TicketId>,
}

/// Which conversations a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Mine,
    Unassigned,
    All,
}

/// The outcome of re-computing a conversation's chain.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ChainVerification {
    pub ok: bool,
    /// Messages checked.
    pub checked: i64,
    /// The first message whose stored hash, body or link does not match.
    pub broken_at: Option<i64>,
}

fn company_of(actor: &Actor) -> Result<domain::CompanyId> {
    crate::access::company_of(actor)
}

/// The conversation if the actor may read it: agents the company's, a requester their own.
/// Anything else is `NotFound`, whatever exists.
async fn visible(app: &App, actor: &Actor, id: ConversationId) -> Result<stored::Conversation> {
    let company = company_of(actor)?;
    let conversation = stored::get(app.db(), company, id).await?;
    if is_agent(actor) || conversation.requester_id == actor.user_id {
        Ok(conversation)
    } else {
        Err(AppError::NotFound)
    }
}

/// Checks the actor may read the conversation's stream; true for an agent (who also reads
/// internal notes).
pub async fn may_watch(app: &App, actor: &Actor, id: ConversationId) -> Result<bool> {
    visible(app, actor, id).await?;
    Ok(is_agent(actor))
}

async fn view(
    app: &App,
    actor: &Actor,
    conversation: stored::Conversation,
) -> Result<ConversationView> {
    let company = conversation.company_id;
    let agent = is_agent(actor);
    let marks = stored::read_marks(app.db(), company, conversation.id).await?;
    let up_to = marks
        .iter()
        .find(|m| m.user_id == actor.user_id)
        .map_or(0, |m| m.up_to);
    let unread = if up_to >= conversation.last_seq {
        0
    } else {
        stored::unread(
            app.db(),
            company,
            conversation.id,
            actor.user_id,
            agent,
            up_to,
        )
        .await?
    };
    Ok(ConversationView {
        id: conversation.id,
        requester_id: conversation.requester_id,
        requester_name: name(conversation.requester_first, conversation.requester_last)
            .unwrap_or_default(),
        subject: conversation.subject,
        reference: conversation.reference,
        ticket_id: conversation.ticket_id,
        status: conversation.status,
        assignee_id: conversation.assignee_id,
        assignee_name: conversation.assignee_id.and(name(
            conversation.assignee_first,
            conversation.assignee_last,
        )),
        created_at: conversation.created_at,
        updated_at: conversation.updated_at,
        last_message_at: conversation.last_message_at,
        unread,
    })
}

fn trimmed(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Returns the requester's conversation for the request, creating (and assigning) it when
/// there is none; `true` when it was created.
pub async fn open(
    app: &App,
    actor: &Actor,
    request: OpenRequest,
) -> Result<(ConversationView, bool)> {
    let company = company_of(actor)?;
    let subject = trimmed(request.subject);
    let reference = trimmed(request.reference);
    let mut errors = ValidationErrors::new();
    if subject
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUBJECT_CHARS)
    {
        errors.add("subject", "must be at most 200 characters");
    }
    if reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REFERENCE_CHARS)
    {
        errors.add("reference", "must be at most 100 characters");
    }
    errors.into_result()?;
    if let Some(ticket) = request.ticket_id {
        crate::runtime::tickets::visible(app, actor, ticket)
            .await
            .map_err(|_| {
                AppError::Validation(ValidationErrors::single(
                    "ticket_id",
                    "no such ticket, or you may not read it",
                ))
            })?;
    }
    let mut tx = app.db().begin().await?;
    let (conversation, created) = stored::get_or_insert(
        &mut tx,
        NewConversation {
            company,
            requester: actor.user_id,
            subject: subject.as_deref(),
            reference: reference.as_deref(),
            ticket: request.ticket_id,
        },
    )
    .await?;
    if !created {
        drop(tx);
        if !is_agent(actor) && conversation.requester_id != actor.user_id {
            // Another requester's reference or ticket: theirs to see.
            return Err(AppError::Conflict {
                field: Some(
                    if reference.is_some() {
                        "reference"
                    } else {
                        "ticket_id"
                    }
                    .into(),
                ),
                message: "another person's conversation has this reference".into(),
            });
        }
        return Ok((view(app, actor, conversation).await?, false));
    }
    let id = conversation.id;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Conversation(id),
        Payload::ConversationOpened {
            requester_id: actor.user_id,
            subject,
            reference,
            ticket_id: request.ticket_id,
        },
    )
    .await?;
    // Only agents take new conversations; an admin answers when they choose to (or holds
    // the agent role too).
    let agents = stored::agents(&mut tx, company, false).await?;
    if let Some(agent) = pick_agent(&agents, actor.user_id) {
        stored::set_assignee(&mut tx, company, id, Some(agent)).await?;
        audit::record(
            &mut tx,
            Some(actor),
            Some(company),
            Stream::Conversation(id),
            Payload::ConversationAssigned {
                assignee_id: Some(agent),
                by: "shortest_queue".into(),
            },
        )
        .await?;
    }
    app.commit(tx).await?;
    let conversation = stored::get(app.db(), company, id).await?;
    Ok((view(app, actor, conversation).await?, true))
}

/// The agent with the fewest open conversations; on a tie the one given one least recently
/// (never given one first): round robin among equals. Never the requester themselves.
fn pick_agent(agents: &[stored::Agent], requester: UserId) -> Option<UserId> {
    agents
        .iter()
        .filter(|a| a.id != requester)
        .min_by_key(|a| (a.open, a.last_assigned, a.id))
        .map(|a| a.id)
}

/// Conversations for a list: agents see the company's (by `view`), requesters their own.
pub async fn list(
    app: &App,
    actor: &Actor,
    view_of: View,
    status: Option<String>,
    limit: u32,
) -> Result<(Vec<ConversationView>, i64)> {
    let company = company_of(actor)?;
    if let Some(status) = &status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ValidationErrors::single(
            "status",
            "must be open, pending, resolved or closed",
        )
        .into());
    }
    let mut filter = Filter {
        status,
        ..Filter::default()
    };
    if is_agent(actor) {
        match view_of {
            View::Mine => filter.assignee = Some(Some(actor.user_id)),
            View::Unassigned => filter.assignee = Some(None),
            View::All => {}
        }
    } else {
        filter.requester = Some(actor.user_id);
    }
    let total = stored::count(app.db(), company, &filter).await?;
    let rows = stored::list(app.db(), company, &filter, limit).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(view(app, actor, row).await?);
    }
    Ok((items, total))
}

pub async fn get(app: &App, actor: &Actor, id: ConversationId) -> Result<ConversationView> {
    let conversation = visible(app, actor, id).await?;
    view(app, actor, conversation).await
}

/// Gives the conversation to another agent (a transfer), or back to the queue (`None`).
pub async fn assign(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    assignee: Option<UserId>,
) -> Result<ConversationView> {
    let company = company_of(actor)?;
    if !is_agent(actor) {
        visible(app, actor, id).await?;
        return Err(AppError::Forbidden(
            "only agents assign conversations".into(),
        ));
    }
    let conversation = visible(app, actor, id).await?;
    if let Some(assignee) = assignee {
        let agents = stored::agents(app.db(), company, true).await?;
        if !agents.iter().any(|a| a.id == assignee) {
            return Err(ValidationErrors::single(
                "assignee_id",
                "must be an active agent or admin of the company",
            )
            .into());
        }
    }
    if conversation.assignee_id != assignee {
        let mut tx = app.db().begin().await?;
        stored::lock(&mut tx, company, id).await?;
        stored::set_assignee(&mut tx, company, id, assignee).await?;
        audit::record(
            &mut tx,
            Some(actor),
            Some(company),
            Stream::Conversation(id),
            Payload::ConversationAssigned {
                assignee_id: assignee,
                by: "agent".into(),
            },
        )
        .await?;
        app.commit(tx).await?;
    }
    get(app, actor, id).await
}

/// Moves the conversation to another status. Agents move it anywhere; a requester may
/// resolve or close their own. Closing keeps everything.
pub async fn set_status(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    status: &str,
) -> Result<ConversationView> {
    let company = company_of(actor)?;
    if !STATUSES.contains(&status) {
        return Err(ValidationErrors::single(
            "status",
            "must be open, pending, resolved or closed",
        )
        .into());
    }
    let conversation = visible(app, actor, id).await?;
    if !is_agent(actor) && !matches!(status, "resolved" | "closed") {
        return Err(AppError::Forbidden(
            "a requester may resolve or close their conversation; an agent reopens it".into(),
        ));
    }
    if conversation.status != status {
        let mut tx = app.db().begin().await?;
        stored::lock(&mut tx, company, id).await?;
        change_status(&mut tx, actor, &conversation, status).await?;
        app.commit(tx).await.map_err(reopened_conflict)?;
    }
    get(app, actor, id).await
}

/// Reopening a closed general conversation collides with the requester's newer one.
fn reopened_conflict(error: AppError) -> AppError {
    match error {
        AppError::Conflict { .. } => AppError::Conflict {
            field: Some("status".into()),
            message: "the requester has opened another conversation since; use that one".into(),
        },
        other => other,
    }
}

async fn change_status(
    tx: &mut store::Tx,
    actor: &Actor,
    conversation: &stored::Conversation,
    status: &str,
) -> Result<()> {
    let general = conversation.reference.is_none() && conversation.ticket_id.is_none();
    stored::set_status(
        tx,
        conversation.company_id,
        conversation.id,
        conversation.requester_id,
        general,
        status,
    )
    .await
    .map_err(|e| reopened_conflict(e.into()))?;
    audit::record(
        tx,
        Some(actor),
        Some(conversation.company_id),
        Stream::Conversation(conversation.id),
        Payload::ConversationStatusChanged {
            from: conversation.status.clone(),
            to: status.to_owned(),
        },
    )
    .await?;
    Ok(())
}

/// The canonical form a message's hash covers: everything but its body, which enters by
/// its own hash (so a tombstone can keep the chain whole later).
fn link(
    prev: &str,
    conversation: ConversationId,
    seq: i64,
    author: UserId,
    internal: bool,
    at: DateTime<Utc>,
    body_hash: &str,
) -> String {
    let canonical = format!(
        "{prev}\n{conversation}\n{seq}\n{author}\n{internal}\n{}\n{body_hash}",
        at.timestamp_micros()
    );
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn body_hash(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// What a message's hash covers of its content: its body, and a structured answer's JSON
/// (keys in order, as stored and read back).
fn content_hash(body: &str, answers: Option<&serde_json::Value>) -> String {
    match answers {
        None => body_hash(body),
        Some(answers) => body_hash(&format!("{body}\u{0}{answers}")),
    }
}

/// Posts a message (agents may post internal notes). A requester's message reopens a
/// resolved or pending conversation; a closed one takes no messages.
pub async fn post(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    body: &str,
    internal: bool,
) -> Result<MessageView> {
    let draft = Draft {
        body: body.to_owned(),
        internal,
        ..Draft::default()
    };
    post_draft(app, actor, id, draft).await
}

/// Posts a message, a question template or an answer (see [`Draft`]).
pub async fn post_draft(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    draft: Draft,
) -> Result<MessageView> {
    let company = company_of(actor)?;
    let conversation = visible(app, actor, id).await?;
    let agent = is_agent(actor);
    let internal = draft.internal;
    let mut body = draft.body.trim().to_owned();
    let mut errors = ValidationErrors::new();
    if internal && !agent {
        errors.add("internal", "only agents write internal notes");
    }
    let template = match draft.template_id {
        Some(template) => Some(crate::templates::usable(app, company, template).await?),
        None => None,
    };
    let answers = match (&template, draft.answers) {
        (None, Some(_)) => {
            errors.add("template_id", "is required with answers");
            None
        }
        (Some(template), Some(answers)) => {
            if agent && conversation.requester_id != actor.user_id {
                errors.add("answers", "the requester answers a template");
            }
            if !stored::template_sent(app.db(), company, id, template.id).await? {
                errors.add("template_id", "was not sent in this conversation");
            }
            let problems =
                domain::workflow::validate(&template.schema, &answers, &crate::design::limits(app))
                    .unwrap_or_default();
            if !problems.is_empty() {
                return Err(ValidationErrors::from_problems(problems, "answers").into());
            }
            body = crate::templates::summary(&template.title, &template.schema, &answers);
            Some(answers)
        }
        (Some(template), None) => {
            if !agent {
                errors.add("answers", "answer the template with answers");
            } else if internal {
                errors.add("internal", "a template goes to the requester");
            }
            let requester = conversation.requester_first.clone().unwrap_or_default();
            let text = crate::templates::render(
                &template.text,
                conversation.subject.as_deref().unwrap_or(""),
                conversation.reference.as_deref().unwrap_or(""),
                &requester,
            );
            body = if body.is_empty() {
                text
            } else {
                format!("{text}\n\n{body}")
            };
            None
        }
        (None, None) => None,
    };
    if body.is_empty() {
        // Answers without a template are refused above, naming the template.
        if answers.is_none() && template.is_none() && errors.is_empty() {
            errors.add("body", "must not be empty");
        }
    } else if body.chars().count() > MAX_MESSAGE_CHARS && answers.is_none() {
        errors.add("body", "must be at most 5000 characters");
    }
    errors.into_result()?;
    let body = body.as_str();
    if conversation.status == "closed" {
        return Err(AppError::Conflict {
            field: Some("status".into()),
            message: "the conversation is closed: reopen it, or start a new one".into(),
        });
    }
    // Stored at the precision both databases keep, so the hash re-computes from the row.
    let now = Utc::now();
    let at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let mut tx = app.db().begin().await?;
    stored::lock(&mut tx, company, id).await?;
    let seq = stored::next_seq(&mut tx, company, id, at).await?;
    let prev = stored::hash_of(&mut tx, company, id, seq - 1)
        .await?
        .unwrap_or_else(|| GENESIS.to_owned());
    let body_hash = content_hash(body, answers.as_ref());
    let message = stored::Message {
        id: MessageId(uuid::Uuid::now_v7()),
        company_id: company,
        conversation_id: id,
        seq,
        author_id: actor.user_id,
        body: body.to_owned(),
        internal,
        hash: link(&prev, id, seq, actor.user_id, internal, at, &body_hash),
        body_hash,
        prev_hash: prev,
        version: 1,
        edited_at: None,
        deleted_at: None,
        created_at: at,
        template_id: template.as_ref().map(|t| t.id),
        answers: answers.map(store::Json),
    };
    stored::insert_message(&mut tx, &message).await?;
    search::index(&mut tx, &message).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Conversation(id),
        Payload::MessagePosted {
            message_id: message.id,
            seq,
            body: message.body.clone(),
            internal,
        },
    )
    .await?;
    // The author has read what they answered.
    stored::mark_read(&mut tx, company, id, actor.user_id, seq).await?;
    if !agent && !internal && matches!(conversation.status.as_str(), "pending" | "resolved") {
        change_status(&mut tx, actor, &conversation, "open").await?;
    }
    app.commit(tx).await?;
    let name = person_name(app, actor.user_id).await?;
    Ok(message_view(message, name, false))
}

async fn person_name(app: &App, user: UserId) -> Result<String> {
    let user = store::users::get_any(app.db(), user).await?;
    Ok(name(Some(user.first_name), Some(user.last_name)).unwrap_or_else(|| user.email.to_string()))
}

fn message_view(message: stored::Message, author_name: String, read: bool) -> MessageView {
    MessageView {
        id: message.id,
        conversation_id: message.conversation_id,
        seq: message.seq,
        author_id: message.author_id,
        author_name,
        body: message.body,
        internal: message.internal,
        created_at: message.created_at,
        edited_at: message.edited_at,
        deleted: message.deleted_at.is_some(),
        prev_hash: message.prev_hash,
        hash: message.hash,
        read_by_other: read,
        template_id: message.template_id,
        answers: message.answers.map(|a| a.0),
    }
}

/// The conversation's messages, oldest first (internal notes for agents only), after
/// `after_seq`, at most `limit`.
pub async fn messages(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<MessageView>> {
    let company = company_of(actor)?;
    let conversation = visible(app, actor, id).await?;
    let rows = stored::messages(
        app.db(),
        company,
        id,
        is_agent(actor),
        after_seq,
        limit.clamp(1, 1000),
    )
    .await?;
    let marks = stored::read_marks(app.db(), company, id).await?;
    let mut names = std::collections::HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for message in rows {
        if let std::collections::hash_map::Entry::Vacant(entry) = names.entry(message.author_id) {
            entry.insert(person_name(app, message.author_id).await?);
        }
        // The other side: the requester for an agent's message, any agent for the
        // requester's.
        let by_requester = message.author_id == conversation.requester_id;
        let read = marks.iter().any(|m| {
            m.user_id != message.author_id
                && (m.user_id == conversation.requester_id) != by_requester
                && m.up_to >= message.seq
        });
        let author = names.get(&message.author_id).cloned().unwrap_or_default();
        items.push(message_view(message, author, read));
    }
    Ok(items)
}

/// Raises the actor's read watermark (to the last message when `up_to` is absent); the
/// watermark and what stays unread.
pub async fn read(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    up_to: Option<i64>,
) -> Result<(i64, i64)> {
    let company = company_of(actor)?;
    let conversation = visible(app, actor, id).await?;
    let up_to = up_to.unwrap_or(conversation.last_seq);
    if up_to < 0 || up_to > conversation.last_seq {
        return Err(ValidationErrors::single(
            "up_to",
            "must be the number of a message of the conversation",
        )
        .into());
    }
    let mut tx = app.db().begin().await?;
    let before = stored::read_marks(&mut tx, company, id)
        .await?
        .into_iter()
        .find(|m| m.user_id == actor.user_id)
        .map_or(0, |m| m.up_to);
    let stands = stored::mark_read(&mut tx, company, id, actor.user_id, up_to).await?;
    if stands > before {
        audit::record(
            &mut tx,
            Some(actor),
            Some(company),
            Stream::Conversation(id),
            Payload::ConversationRead {
                user_id: actor.user_id,
                up_to: stands,
            },
        )
        .await?;
    }
    app.commit(tx).await?;
    let unread = stored::unread(
        app.db(),
        company,
        id,
        actor.user_id,
        is_agent(actor),
        stands,
    )
    .await?;
    Ok((stands, unread))
}

/// Re-computes the conversation's chain from its rows (agents only).
pub async fn verify(app: &App, actor: &Actor, id: ConversationId) -> Result<ChainVerification> {
    let company = company_of(actor)?;
    visible(app, actor, id).await?;
    if !is_agent(actor) {
        return Err(AppError::NotFound);
    }
    let mut prev = GENESIS.to_owned();
    let mut checked = 0;
    let mut after = 0;
    loop {
        let rows = stored::messages(app.db(), company, id, true, after, 500).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.seq;
        for message in rows {
            checked += 1;
            let expected = link(
                &prev,
                id,
                message.seq,
                message.author_id,
                message.internal,
                message.created_at,
                &message.body_hash,
            );
            // The chain covers the first body: an edited or deleted message keeps it as
            // its first version.
            let first = if message.version > 1 {
                stored::versions(app.db(), company, message.id)
                    .await?
                    .into_iter()
                    .find(|v| v.version == 1)
                    .map(|v| v.body)
            } else {
                Some(message.body.clone())
            };
            let intact = message.seq == checked
                && message.prev_hash == prev
                && first.is_some_and(|body| {
                    content_hash(&body, message.answers.as_ref().map(|a| &a.0)) == message.body_hash
                })
                && (message.deleted_at.is_none() || message.body.is_empty())
                && message.hash == expected;
            if !intact {
                return Ok(ChainVerification {
                    ok: false,
                    checked,
                    broken_at: Some(message.seq),
                });
            }
            prev = message.hash;
        }
    }
    Ok(ChainVerification {
        ok: true,
        checked,
        broken_at: None,
    })
}

/// A message its author may change: theirs, not deleted, in a conversation not closed.
async fn own_message(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    message: MessageId,
) -> Result<(stored::Conversation, stored::Message)> {
    let company = company_of(actor)?;
    let conversation = visible(app, actor, id).await?;
    let found = stored::message(app.db(), company, id, message).await?;
    if found.internal && !is_agent(actor) {
        return Err(AppError::NotFound);
    }
    if found.author_id != actor.user_id {
        return Err(AppError::Forbidden(
            "only its author changes a message".into(),
        ));
    }
    if found.deleted_at.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: "the message was deleted".into(),
        });
    }
    if found.answers.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: "a structured answer is kept as given; send another".into(),
        });
    }
    Ok((conversation, found))
}

/// Changes the body of one's own message; every earlier body is kept for agents.
pub async fn edit(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    message: MessageId,
    body: &str,
) -> Result<MessageView> {
    let body = body.trim();
    let mut errors = ValidationErrors::new();
    if body.is_empty() {
        errors.add("body", "must not be empty");
    } else if body.chars().count() > MAX_MESSAGE_CHARS {
        errors.add("body", "must be at most 5000 characters");
    }
    errors.into_result()?;
    let (_, found) = own_message(app, actor, id, message).await?;
    let company = found.company_id;
    let mut tx = app.db().begin().await?;
    stored::lock(&mut tx, company, id).await?;
    let changed = stored::replace_body(&mut tx, &found, actor.user_id, body, false).await?;
    search::index(&mut tx, &changed).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Conversation(id),
        Payload::MessageEdited {
            message_id: message,
            seq: changed.seq,
            body: body.to_owned(),
            internal: changed.internal,
            version: changed.version,
        },
    )
    .await?;
    app.commit(tx).await?;
    let name = person_name(app, actor.user_id).await?;
    Ok(message_view(changed, name, false))
}

/// Deletes one's own message: it stays, numbered and chained, as a tombstone without body.
pub async fn delete(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    message: MessageId,
) -> Result<()> {
    let (_, found) = own_message(app, actor, id, message).await?;
    let company = found.company_id;
    let mut tx = app.db().begin().await?;
    stored::lock(&mut tx, company, id).await?;
    let gone = stored::replace_body(&mut tx, &found, actor.user_id, "", true).await?;
    search::index(&mut tx, &gone).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Conversation(id),
        Payload::MessageDeleted {
            message_id: message,
            seq: gone.seq,
            internal: gone.internal,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

/// A message's earlier bodies, oldest first (agents).
pub async fn versions(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    message: MessageId,
) -> Result<Vec<stored::Version>> {
    let company = company_of(actor)?;
    visible(app, actor, id).await?;
    if !is_agent(actor) {
        return Err(AppError::NotFound);
    }
    stored::message(app.db(), company, id, message).await?;
    Ok(stored::versions(app.db(), company, message).await?)
}

/// The agents and admins a conversation may be given to, with their names (agents).
pub async fn assignable(app: &App, actor: &Actor) -> Result<Vec<(UserId, String)>> {
    let company = company_of(actor)?;
    if !is_agent(actor) {
        return Ok(Vec::new());
    }
    let mut people = Vec::new();
    for agent in stored::agents(app.db(), company, true).await? {
        people.push((agent.id, person_name(app, agent.id).await?));
    }
    people.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(people)
}

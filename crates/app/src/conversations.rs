//! Support conversations: a requester and the company's agents (issue 17). A requester has
//! one open general conversation at a time (get-or-create, safe under races), and may have
//! one per reference (an incident id) or ticket. New conversations go to the agent with the
//! shortest open queue (ties: the one given one least recently). Messages are numbered per
//! conversation and chained: each stores its predecessor's hash and its own over a canonical
//! form, so `verify` finds the first row changed behind the application's back.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::company::{Assignment, ChatSettings};
use domain::event::{Payload, Stream};
use domain::ids::CompanyRoleId;
use domain::{CompanyId, ConversationId, MessageId, TicketId, UserId, ValidationErrors};
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::conversations::{self as stored, Filter, NewConversation};

use crate::{App, AppError, Result, audit};

pub mod search;
pub mod transcript;
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
    /// The team (a company role of agents) it is routed to.
    pub team_id: Option<CompanyRoleId>,
    /// The channel it arrived through (`None`: the web chat).
    pub channel_id: Option<domain::ChannelId>,
    /// The channel's contact it is with.
    pub contact_id: Option<domain::ContactId>,
    /// The provider's thread id.
    pub external_thread: Option<String>,
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
    /// Files sent with it (none for a deleted message).
    pub attachments: Vec<MessageFile>,
    /// Files an inbound message from a channel links to at its provider.
    #[schema(value_type = Option<Vec<crate::channels::ExternalFile>>)]
    pub external_files: Option<serde_json::Value>,
    /// The provider's id of an inbound message.
    pub external_id: Option<String>,
    /// Where a reply to a channel's contact is: `queued`, `sent`, `delivered`, `read` or
    /// `failed` (`None`: not a channel reply).
    pub delivery: Option<String>,
    /// Why its delivery failed.
    pub delivery_error: Option<String>,
}

/// A file sent with a message; its bytes are downloaded from
/// `/api/v1/conversations/{id}/files/{file_id}`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MessageFile {
    pub id: uuid::Uuid,
    pub file_name: String,
    /// The type sniffed from the bytes when it was sent.
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the bytes, hex; checked again on every download.
    pub sha256: String,
}

impl From<store::chat::Attachment> for MessageFile {
    fn from(file: store::chat::Attachment) -> Self {
        Self {
            id: file.id,
            file_name: file.file_name,
            content_type: file.content_type,
            size: file.size,
            sha256: file.sha256,
        }
    }
}

/// A message to post: text, an internal note, a question template (agents), or a
/// requester's structured answer to a template sent in the conversation.
#[derive(Default)]
pub struct Draft {
    pub body: String,
    pub internal: bool,
    pub template_id: Option<uuid::Uuid>,
    pub answers: Option<serde_json::Value>,
    /// Files to send with it, sealed at rest.
    pub uploads: Vec<crate::runtime::tickets::Upload>,
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
        team_id: conversation.team_id,
        channel_id: conversation.channel_id,
        contact_id: conversation.contact_id,
        external_thread: conversation.external_thread,
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
    // Read before the transaction: a second connection taken inside it could wait for ever
    // on a pool its own transaction helps exhaust.
    let strategy = crate::chat::of(app, company).await?.assignment;
    let mut tx = app.db().begin().await?;
    let (conversation, created) = stored::get_or_insert(
        &mut tx,
        NewConversation {
            company,
            requester: actor.user_id,
            subject: subject.as_deref(),
            reference: reference.as_deref(),
            ticket: request.ticket_id,
            channel: None,
            thread: None,
        },
    )
    .await?;
    if !created {
        // The conversation found may be another change's of the same batch (SQLite's
        // group commit): answer with it once it is durable.
        tx.rollback().await?;
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
            channel_id: None,
        },
    )
    .await?;
    if let Some(ticket) = request.ticket_id {
        crate::conversation_tickets::record_opened_on_ticket(&mut tx, actor, company, id, ticket)
            .await?;
    }
    // Only agents take new conversations; an admin answers when they choose to (or holds
    // the agent role too).
    let agents = stored::agents(&mut tx, company, false).await?;
    let online = app.hub().online(company);
    if let Some(agent) = pick_agent(&agents, actor.user_id, strategy, &online) {
        hand_over(&mut tx, actor, company, id, Some(agent), strategy.as_str()).await?;
    }
    app.commit(tx).await?;
    let conversation = stored::get(app.db(), company, id).await?;
    Ok((view(app, actor, conversation).await?, true))
}

/// The agent a new conversation goes to, never the requester themselves, online agents
/// first (all agents when none is online). Shortest queue: the fewest open conversations,
/// on a tie the one given one least recently (never given one first). Round robin: the one
/// given one least recently, whatever their load. Manual: nobody.
fn pick_agent(
    agents: &[stored::Agent],
    requester: UserId,
    strategy: Assignment,
    online: &std::collections::HashSet<UserId>,
) -> Option<UserId> {
    let candidates: Vec<&stored::Agent> = agents.iter().filter(|a| a.id != requester).collect();
    let present: Vec<&stored::Agent> = candidates
        .iter()
        .copied()
        .filter(|a| online.contains(&a.id))
        .collect();
    let pool = if present.is_empty() {
        candidates
    } else {
        present
    };
    match strategy {
        Assignment::Manual => None,
        Assignment::ShortestQueue => pool
            .into_iter()
            .min_by_key(|a| (a.open, a.last_assigned, a.id))
            .map(|a| a.id),
        Assignment::RoundRobin => pool
            .into_iter()
            .min_by_key(|a| (a.last_assigned, a.id))
            .map(|a| a.id),
    }
}

/// Conversations for a list: agents see the company's (by `view`), requesters their own.
pub async fn list(
    app: &App,
    actor: &Actor,
    view_of: View,
    status: Option<String>,
    limit: u32,
) -> Result<(Vec<ConversationView>, i64)> {
    list_in(app, actor, view_of, status, Narrowing::default(), limit).await
}

/// Where an agent's list may be narrowed to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Narrowing {
    /// A team's conversations.
    pub team: Option<CompanyRoleId>,
    /// One channel's (`Some(None)`: the web chat's).
    pub channel: Option<Option<domain::ChannelId>>,
    /// Only those with messages the reader has not read.
    pub unread_only: bool,
}

/// [`list`], narrowed (agents).
pub async fn list_in(
    app: &App,
    actor: &Actor,
    view_of: View,
    status: Option<String>,
    narrowing: Narrowing,
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
    let mut filter = list_filter(actor, view_of, status, narrowing.team);
    if is_agent(actor) {
        filter.channel = narrowing.channel;
    }
    if narrowing.unread_only {
        filter.unread_by = Some(actor.user_id);
    }
    let total = stored::count(app.db(), company, &filter).await?;
    let rows = stored::list(app.db(), company, &filter, limit).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(view(app, actor, row).await?);
    }
    Ok((items, total))
}

/// Messages of others the actor has not read in the conversations of a list (`view` and
/// `status` as in [`list`]): an agent's in their own (`Mine`), a requester's in theirs.
pub async fn unread_total(
    app: &App,
    actor: &Actor,
    view_of: View,
    status: Option<String>,
    team: Option<CompanyRoleId>,
) -> Result<i64> {
    let company = company_of(actor)?;
    let filter = list_filter(actor, view_of, status, team);
    Ok(stored::unread_total(app.db(), company, &filter, actor.user_id, is_agent(actor)).await?)
}

/// What a list finds: agents the company's conversations by `view` (and team), requesters
/// their own whatever they ask.
fn list_filter(
    actor: &Actor,
    view_of: View,
    status: Option<String>,
    team: Option<CompanyRoleId>,
) -> Filter {
    let agent = is_agent(actor);
    let mut filter = Filter {
        status,
        team: team.filter(|_| agent),
        ..Filter::default()
    };
    if agent {
        match view_of {
            View::Mine => filter.assignee = Some(Some(actor.user_id)),
            View::Unassigned => filter.assignee = Some(None),
            View::All => {}
        }
    } else {
        filter.requester = Some(actor.user_id);
    }
    filter
}

pub async fn get(app: &App, actor: &Actor, id: ConversationId) -> Result<ConversationView> {
    let conversation = visible(app, actor, id).await?;
    view(app, actor, conversation).await
}

/// Routes the conversation to a team (a company role whose agents answer it), or to none
/// (agents). When its assignee is not one of the team's agents it goes to the team's agent
/// chosen by the company's strategy (online ones first), or back to the queue when the team
/// has none.
pub async fn set_team(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    team: Option<CompanyRoleId>,
) -> Result<ConversationView> {
    let company = company_of(actor)?;
    let conversation = visible(app, actor, id).await?;
    if !is_agent(actor) {
        return Err(AppError::Forbidden(
            "only agents route conversations".into(),
        ));
    }
    let team_name = match team {
        Some(team) => Some(
            store::companies::get_role(app.db(), company, team)
                .await
                .map_err(|_| ValidationErrors::single("team_id", "no such company role"))?
                .name,
        ),
        None => None,
    };
    let strategy = crate::chat::of(app, company).await?.assignment;
    let online = app.hub().online(company);
    let mut tx = app.db().begin().await?;
    stored::lock(&mut tx, company, id).await?;
    stored::set_team(&mut tx, company, id, team).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Conversation(id),
        Payload::ConversationTeamChanged {
            team_id: team,
            team_name,
        },
    )
    .await?;
    if team.is_some() {
        let members = stored::team_agents(&mut tx, company, true, team).await?;
        let keeps = conversation
            .assignee_id
            .is_some_and(|a| members.iter().any(|m| m.id == a));
        if !keeps {
            // The team's admins answer too once it is routed there by hand; a company that
            // assigns by hand finds it in the unassigned queue.
            let next = pick_agent(&members, conversation.requester_id, strategy, &online);
            if next != conversation.assignee_id {
                hand_over(&mut tx, actor, company, id, next, "team").await?;
            }
        }
    }
    app.commit(tx).await?;
    let conversation = stored::get(app.db(), company, id).await?;
    view(app, actor, conversation).await
}

/// Gives the conversation to `assignee` (or the queue) and records who decided it: the
/// company's strategy on opening, a team, or an agent.
async fn hand_over(
    tx: &mut store::Tx,
    actor: &Actor,
    company: CompanyId,
    id: ConversationId,
    assignee: Option<UserId>,
    by: &str,
) -> Result<()> {
    stored::set_assignee(tx, company, id, assignee).await?;
    audit::record(
        tx,
        Some(actor),
        Some(company),
        Stream::Conversation(id),
        Payload::ConversationAssigned {
            assignee_id: assignee,
            by: by.to_owned(),
        },
    )
    .await?;
    Ok(())
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
        hand_over(&mut tx, actor, company, id, assignee, "agent").await?;
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
    let general = conversation.reference.is_none()
        && conversation.ticket_id.is_none()
        && conversation.external_thread.is_none();
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

/// What a message's hash covers of its content: its body, a structured answer's JSON (keys
/// in order, as stored and read back) and its files' SHA-256, in the order sent.
fn content_hash(body: &str, answers: Option<&serde_json::Value>, files: &[&str]) -> String {
    let mut text = match answers {
        None => body.to_owned(),
        Some(answers) => format!("{body}\u{0}{answers}"),
    };
    for file in files {
        text.push_str("\u{0}file:");
        text.push_str(file);
    }
    body_hash(&text)
}

/// The additional data a sealed body is bound to: it opens only as this message's.
fn body_aad(company: CompanyId, message: MessageId) -> Vec<u8> {
    format!("{}|message|{message}", company.0).into_bytes()
}

/// A body as stored for a company that seals them: encrypted, base64.
fn seal_body(app: &App, company: CompanyId, message: MessageId, body: &str) -> Result<String> {
    use base64::Engine as _;
    let sealed = app
        .vault()?
        .seal(body.as_bytes(), &body_aad(company, message))
        .map_err(AppError::internal)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// The text of a stored body, sealed or not.
pub(crate) fn open_body(
    app: &App,
    company: CompanyId,
    message: MessageId,
    body: String,
    sealed: bool,
) -> Result<String> {
    use base64::Engine as _;
    if !sealed || body.is_empty() {
        return Ok(body);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(AppError::internal)?;
    let plain = app
        .vault()?
        .open(&bytes, &body_aad(company, message))
        .map_err(AppError::internal)?;
    String::from_utf8(plain).map_err(AppError::internal)
}

/// Refuses a message when its author already posted the company's allowance in the last
/// minute, saying when the oldest of them leaves the window. Counted from the stored
/// messages, so every server sees the same count.
async fn check_rate(app: &App, company: CompanyId, author: UserId, per_minute: u32) -> Result<()> {
    if per_minute == 0 {
        return Ok(());
    }
    let now = Utc::now();
    let window = chrono::Duration::seconds(60);
    let (posted, first) =
        store::chat::posted_since(app.db(), company, author, now - window).await?;
    if posted < i64::from(per_minute) {
        return Ok(());
    }
    let free_at = first.map_or(now + window, |first| first + window);
    Err(AppError::TooManyRequests {
        retry_after: (free_at - now).to_std().unwrap_or_default(),
    })
}

/// Checks files against the company's settings: requesters may be refused files, and a
/// file over the size bound is 413 naming it.
fn check_files(
    uploads: &[crate::runtime::tickets::Upload],
    settings: &ChatSettings,
    agent: bool,
) -> Result<()> {
    if uploads.is_empty() {
        return Ok(());
    }
    if !agent && !settings.requester_attachments {
        return Err(ValidationErrors::single(
            "attachments",
            "this company does not take files in its chat; describe it in words",
        )
        .into());
    }
    let mut errors = ValidationErrors::new();
    for (i, upload) in uploads.iter().enumerate() {
        if upload.bytes.len() as u64 > settings.max_attachment_bytes {
            return Err(AppError::TooLarge {
                field: format!("attachments/{i}"),
                message: format!(
                    "is {} bytes; this company takes files up to {} bytes",
                    upload.bytes.len(),
                    settings.max_attachment_bytes
                ),
            });
        }
        if upload.bytes.is_empty() {
            errors.add(format!("attachments/{i}"), "is empty");
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

fn too_long(settings: &ChatSettings) -> String {
    format!("must be at most {} characters", settings.max_message_chars)
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
    let settings = crate::chat::of(app, company).await?;
    let internal = draft.internal;
    let uploads = draft.uploads;
    check_files(&uploads, &settings, agent)?;
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
                conversation.subject.as_deref().unwrap_or("your request"),
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
        // Answers without a template are refused above, naming the template; files may
        // go without words.
        if answers.is_none() && template.is_none() && uploads.is_empty() && errors.is_empty() {
            errors.add("body", "must not be empty");
        }
    } else if body.chars().count() > settings.max_message_chars as usize && answers.is_none() {
        errors.add("body", too_long(&settings));
    }
    errors.into_result()?;
    let body = body.as_str();
    if conversation.status == "closed" {
        return Err(AppError::Conflict {
            field: Some("status".into()),
            message: "the conversation is closed: reopen it, or start a new one".into(),
        });
    }
    check_rate(app, company, actor.user_id, settings.messages_per_minute).await?;
    let files = uploads
        .into_iter()
        .map(|upload| seal_file(app, company, upload))
        .collect::<Result<Vec<_>>>()?;
    // A reply to a contact of a channel goes out as a delivery, written with the message.
    let delivery = (agent && !internal && conversation.channel_id.is_some())
        .then_some(domain::channel::DeliveryState::Queued);
    let ready = Ready {
        id: MessageId(uuid::Uuid::now_v7()),
        company,
        conversation: id,
        author: actor.user_id,
        body: body.to_owned(),
        internal,
        template_id: template.as_ref().map(|t| t.id),
        answers,
        files,
        external_id: None,
        external_files: None,
        delivery,
    };
    let mut tx = app.db().begin().await?;
    let (message, attachments) = write(app, &mut tx, actor, &settings, ready).await?;
    if delivery.is_some() {
        crate::deliveries::enqueue_reply(&mut tx, &conversation, &message).await?;
    }
    if !agent && !internal && matches!(conversation.status.as_str(), "pending" | "resolved") {
        change_status(&mut tx, actor, &conversation, "open").await?;
    }
    app.commit(tx).await?;
    let name = person_name(app, actor.user_id).await?;
    Ok(message_view(message, name, false, attachments))
}

/// A message ready to write: checked, with its files sealed.
pub(crate) struct Ready {
    pub id: MessageId,
    pub company: CompanyId,
    pub conversation: ConversationId,
    pub author: UserId,
    /// The text as written (sealed on the way in when the company seals bodies).
    pub body: String,
    pub internal: bool,
    pub template_id: Option<uuid::Uuid>,
    pub answers: Option<serde_json::Value>,
    pub files: Vec<SealedFile>,
    pub external_id: Option<String>,
    pub external_files: Option<serde_json::Value>,
    pub delivery: Option<domain::channel::DeliveryState>,
}

/// Writes a message inside the caller's transaction: numbered and chained under the
/// conversation's lock, with its files, its search words and its event; the author has
/// read up to it. Returns it with its body in the clear.
pub(crate) async fn write(
    app: &App,
    tx: &mut store::Tx,
    actor: &Actor,
    settings: &ChatSettings,
    ready: Ready,
) -> Result<(stored::Message, Vec<store::chat::Attachment>)> {
    let Ready {
        id: message_id,
        company,
        conversation: id,
        author,
        body,
        internal,
        template_id,
        answers,
        files,
        external_id,
        external_files,
        delivery,
    } = ready;
    // Stored at the precision both databases keep, so the hash re-computes from the row.
    let now = Utc::now();
    let at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let digests: Vec<&str> = files.iter().map(|f| f.sha256.as_str()).collect();
    let body_hash = content_hash(&body, answers.as_ref(), &digests);
    let stored_body = if settings.sealed {
        seal_body(app, company, message_id, &body)?
    } else {
        body.clone()
    };
    stored::lock(tx, company, id).await?;
    let seq = stored::next_seq(tx, company, id, at).await?;
    let prev = stored::hash_of(tx, company, id, seq - 1)
        .await?
        .unwrap_or_else(|| GENESIS.to_owned());
    let message = stored::Message {
        id: message_id,
        company_id: company,
        conversation_id: id,
        seq,
        author_id: author,
        body: stored_body,
        internal,
        hash: link(&prev, id, seq, author, internal, at, &body_hash),
        body_hash,
        prev_hash: prev,
        version: 1,
        edited_at: None,
        deleted_at: None,
        created_at: at,
        template_id,
        answers: answers.map(store::Json),
        sealed: settings.sealed,
        external_id,
        external_files: external_files.map(store::Json),
        delivery: delivery.map(|d| d.as_str().to_owned()),
        delivery_error: None,
    };
    stored::insert_message(tx, &message).await?;
    let mut attachments = Vec::with_capacity(files.len());
    for file in files {
        store::chat::insert_attachment(
            tx,
            store::chat::NewAttachment {
                id: file.id,
                company,
                conversation: id,
                message: message_id,
                file_name: &file.file_name,
                content_type: &file.content_type,
                size: file.size,
                sha256: &file.sha256,
                sealed: &file.sealed,
                at,
            },
        )
        .await?;
        attachments.push(store::chat::Attachment {
            id: file.id,
            message_id,
            file_name: file.file_name,
            content_type: file.content_type,
            size: file.size,
            sha256: file.sha256,
            created_at: at,
        });
    }
    search::index_as(tx, &message, !settings.sealed).await?;
    audit::record(
        tx,
        Some(actor),
        Some(company),
        Stream::Conversation(id),
        Payload::MessagePosted {
            message_id: message.id,
            seq,
            // A sealed body stays out of the event log too.
            body: (!settings.sealed).then(|| body.clone()),
            internal,
            attachments: attachments
                .iter()
                .map(|a| domain::event::FileNote {
                    id: a.id,
                    file_name: a.file_name.clone(),
                    size: a.size,
                    sha256: a.sha256.clone(),
                })
                .collect(),
        },
    )
    .await?;
    // The author has read what they answered.
    stored::mark_read(tx, company, id, author, seq).await?;
    Ok((
        stored::Message {
            body,
            sealed: false,
            ..message
        },
        attachments,
    ))
}

/// A file ready to store: its checksum taken and its bytes sealed.
pub(crate) struct SealedFile {
    id: uuid::Uuid,
    file_name: String,
    content_type: String,
    size: i64,
    sha256: String,
    sealed: Vec<u8>,
}

fn file_aad(company: CompanyId, file: uuid::Uuid) -> Vec<u8> {
    format!("{}|message-file|{file}", company.0).into_bytes()
}

fn seal_file(
    app: &App,
    company: CompanyId,
    upload: crate::runtime::tickets::Upload,
) -> Result<SealedFile> {
    let id = uuid::Uuid::now_v7();
    let file_name = crate::runtime::tickets::clean_name(&upload.file_name);
    let content_type = crate::infra::vault::sniff(&upload.bytes, &file_name).mime;
    let sha256 = hex::encode(Sha256::digest(&upload.bytes));
    let sealed = app
        .vault()?
        .seal(&upload.bytes, &file_aad(company, id))
        .map_err(AppError::internal)?;
    Ok(SealedFile {
        id,
        file_name,
        content_type,
        size: i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX),
        sha256,
        sealed,
    })
}

/// A file of a message the actor may read, its bytes opened and checked against the
/// checksum taken when it was sent (a mismatch is an error, never a wrong file served).
pub async fn download(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    file: uuid::Uuid,
) -> Result<(MessageFile, Vec<u8>)> {
    let company = company_of(actor)?;
    visible(app, actor, id).await?;
    let (meta, sealed) = store::chat::attachment(app.db(), company, id, file).await?;
    let message = stored::message(app.db(), company, id, meta.message_id).await?;
    if (message.internal && !is_agent(actor)) || message.deleted_at.is_some() {
        return Err(AppError::NotFound);
    }
    let bytes = app
        .vault()?
        .open(&sealed, &file_aad(company, file))
        .map_err(AppError::internal)?;
    if hex::encode(Sha256::digest(&bytes)) != meta.sha256 {
        return Err(AppError::internal(format!(
            "file {file} does not match its SHA-256"
        )));
    }
    Ok((meta.into(), bytes))
}

async fn person_name(app: &App, user: UserId) -> Result<String> {
    let user = store::users::get_any(app.db(), user).await?;
    Ok(name(Some(user.first_name), Some(user.last_name)).unwrap_or_else(|| user.email.to_string()))
}

fn message_view(
    message: stored::Message,
    author_name: String,
    read: bool,
    attachments: Vec<store::chat::Attachment>,
) -> MessageView {
    let deleted = message.deleted_at.is_some();
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
        attachments: if deleted {
            Vec::new()
        } else {
            attachments.into_iter().map(MessageFile::from).collect()
        },
        external_files: message.external_files.map(|f| f.0).filter(|_| !deleted),
        external_id: message.external_id,
        delivery: message.delivery,
        delivery_error: message.delivery_error,
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
    let mut files: std::collections::HashMap<MessageId, Vec<store::chat::Attachment>> =
        std::collections::HashMap::new();
    for file in store::chat::attachments(app.db(), company, id).await? {
        files.entry(file.message_id).or_default().push(file);
    }
    let mut names = std::collections::HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for mut message in rows {
        message.body = open_body(app, company, message.id, message.body, message.sealed)?;
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
        let attached = files.remove(&message.id).unwrap_or_default();
        items.push(message_view(message, author, read, attached));
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
    let mut files: std::collections::HashMap<MessageId, Vec<String>> =
        std::collections::HashMap::new();
    for file in store::chat::attachments(app.db(), company, id).await? {
        files.entry(file.message_id).or_default().push(file.sha256);
    }
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
                    .map(|v| (v.body, v.sealed))
            } else {
                Some((message.body.clone(), message.sealed))
            };
            // A sealed body that no longer opens was changed too.
            let first = first
                .and_then(|(body, sealed)| open_body(app, company, message.id, body, sealed).ok());
            let digests: Vec<&str> = files
                .get(&message.id)
                .map(|f| f.iter().map(String::as_str).collect())
                .unwrap_or_default();
            let intact = message.seq == checked
                && message.prev_hash == prev
                && first.is_some_and(|body| {
                    content_hash(&body, message.answers.as_ref().map(|a| &a.0), &digests)
                        == message.body_hash
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
    let settings = crate::chat::of(app, company_of(actor)?).await?;
    let mut errors = ValidationErrors::new();
    if body.is_empty() {
        errors.add("body", "must not be empty");
    } else if body.chars().count() > settings.max_message_chars as usize {
        errors.add("body", too_long(&settings));
    }
    errors.into_result()?;
    let (_, found) = own_message(app, actor, id, message).await?;
    let company = found.company_id;
    let stored_body = if settings.sealed {
        seal_body(app, company, message, body)?
    } else {
        body.to_owned()
    };
    let mut tx = app.db().begin().await?;
    stored::lock(&mut tx, company, id).await?;
    let changed = stored::replace_body(
        &mut tx,
        &found,
        actor.user_id,
        &stored_body,
        settings.sealed,
        false,
    )
    .await?;
    search::index_as(&mut tx, &changed, !settings.sealed).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Conversation(id),
        Payload::MessageEdited {
            message_id: message,
            seq: changed.seq,
            body: (!settings.sealed).then(|| body.to_owned()),
            internal: changed.internal,
            version: changed.version,
        },
    )
    .await?;
    app.commit(tx).await?;
    let name = person_name(app, actor.user_id).await?;
    let files = store::chat::attachments(app.db(), company, id)
        .await?
        .into_iter()
        .filter(|f| f.message_id == message)
        .collect();
    let changed = stored::Message {
        body: body.to_owned(),
        sealed: false,
        ..changed
    };
    Ok(message_view(changed, name, false, files))
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
    let gone = stored::replace_body(&mut tx, &found, actor.user_id, "", false, true).await?;
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
    stored::versions(app.db(), company, message)
        .await?
        .into_iter()
        .map(|v| {
            Ok(stored::Version {
                body: open_body(app, company, message, v.body, v.sealed)?,
                sealed: false,
                ..v
            })
        })
        .collect()
}

/// The teams a conversation may be routed to: the company's roles (agents).
pub async fn teams(app: &App, actor: &Actor) -> Result<Vec<(CompanyRoleId, String)>> {
    let company = company_of(actor)?;
    if !is_agent(actor) {
        return Ok(Vec::new());
    }
    Ok(store::companies::list_roles(app.db(), company)
        .await?
        .into_iter()
        // The default role is everyone: no team.
        .filter(|role| !role.is_default)
        .map(|role| (role.id, role.name))
        .collect())
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

/// A message that arrived through a channel, checked by the channel's inbound path.
pub(crate) struct Arrival {
    pub id: MessageId,
    pub channel: domain::ChannelId,
    pub contact: store::channels::Contact,
    pub thread: Option<String>,
    pub body: String,
    pub external_id: Option<String>,
    pub external_files: Option<serde_json::Value>,
}

/// Writes an inbound message inside the caller's transaction (which also holds the raw
/// webhook): into the conversation of its thread, else the contact's open one, else a new
/// one (assigned like any new conversation). A closed thread is reopened: the provider's
/// thread goes on. `strategy` and `settings` are read before the transaction.
pub(crate) async fn arrive(
    app: &App,
    tx: &mut store::Tx,
    company: CompanyId,
    arrival: Arrival,
    strategy: Assignment,
    settings: &ChatSettings,
) -> Result<(ConversationId, stored::Message)> {
    let actor = Actor {
        user_id: arrival.contact.user_id,
        company_id: Some(company),
        roles: Vec::new(),
        kind: domain::auth::ActorKind::Person,
        session_id: None,
        impersonator: None,
        api_token_id: None,
    };
    let (conversation, created) = stored::get_or_insert(
        tx,
        NewConversation {
            company,
            requester: actor.user_id,
            subject: None,
            reference: None,
            ticket: None,
            channel: Some((arrival.channel, arrival.contact.id)),
            thread: arrival.thread.as_deref(),
        },
    )
    .await?;
    let id = conversation.id;
    if created {
        audit::record(
            tx,
            Some(&actor),
            Some(company),
            Stream::Conversation(id),
            Payload::ConversationOpened {
                requester_id: actor.user_id,
                subject: None,
                reference: None,
                ticket_id: None,
                channel_id: Some(arrival.channel),
            },
        )
        .await?;
        let agents = stored::agents(&mut *tx, company, false).await?;
        let online = app.hub().online(company);
        if let Some(agent) = pick_agent(&agents, actor.user_id, strategy, &online) {
            hand_over(tx, &actor, company, id, Some(agent), strategy.as_str()).await?;
        }
    } else if conversation.status != "open" {
        change_status(tx, &actor, &conversation, "open").await?;
    }
    let ready = Ready {
        id: arrival.id,
        company,
        conversation: id,
        author: actor.user_id,
        body: arrival.body,
        internal: false,
        template_id: None,
        answers: None,
        files: Vec::new(),
        external_id: arrival.external_id,
        external_files: arrival.external_files,
        delivery: None,
    };
    let (message, _) = write(app, tx, &actor, settings, ready).await?;
    Ok((id, message))
}

/// Moves the reader's watermark back to before the conversation's last message, so it
/// shows as unread again.
pub async fn unread_again(app: &App, actor: &Actor, id: ConversationId) -> Result<()> {
    let company = company_of(actor)?;
    let conversation = visible(app, actor, id).await?;
    let mut tx = app.db().begin().await?;
    stored::reset_read(
        &mut tx,
        company,
        id,
        actor.user_id,
        (conversation.last_seq - 1).max(0),
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

/// What a bulk action does to every conversation it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// To `assignee_id`, or back to the queue without one.
    Assign,
    Close,
    MarkRead,
    MarkUnread,
}

/// A conversation a bulk action could not change, and why.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BulkFailure {
    pub id: ConversationId,
    pub error: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BulkOutcome {
    pub done: Vec<ConversationId>,
    pub failed: Vec<BulkFailure>,
}

/// Most conversations one bulk action takes.
pub const BULK_LIMIT: usize = 100;

/// Applies one action to many conversations (agents); each succeeds or fails on its own,
/// as if done one by one.
pub async fn bulk(
    app: &App,
    actor: &Actor,
    ids: &[ConversationId],
    action: BulkAction,
    assignee: Option<UserId>,
) -> Result<BulkOutcome> {
    company_of(actor)?;
    if !is_agent(actor) {
        return Err(AppError::Forbidden("bulk actions are for agents".into()));
    }
    if ids.is_empty() || ids.len() > BULK_LIMIT {
        return Err(ValidationErrors::single("ids", "name 1 to 100 conversations").into());
    }
    if action != BulkAction::Assign && assignee.is_some() {
        return Err(ValidationErrors::single("assignee_id", "applies to assign only").into());
    }
    let mut outcome = BulkOutcome {
        done: Vec::new(),
        failed: Vec::new(),
    };
    for id in ids {
        let result = match action {
            BulkAction::Assign => assign(app, actor, *id, assignee).await.map(|_| ()),
            BulkAction::Close => match visible(app, actor, *id).await {
                Ok(current) if current.status == "closed" => Ok(()),
                Ok(_) => set_status(app, actor, *id, "closed").await.map(|_| ()),
                Err(error) => Err(error),
            },
            BulkAction::MarkRead => read(app, actor, *id, None).await.map(|_| ()),
            BulkAction::MarkUnread => unread_again(app, actor, *id).await,
        };
        match result {
            Ok(()) => outcome.done.push(*id),
            // A validation error names a field of the whole request, not of one row.
            Err(AppError::Validation(errors)) => return Err(AppError::Validation(errors)),
            Err(error) => outcome.failed.push(BulkFailure {
                id: *id,
                error: match error {
                    AppError::NotFound => "not found".into(),
                    other => other.to_string(),
                },
            }),
        }
    }
    Ok(outcome)
}

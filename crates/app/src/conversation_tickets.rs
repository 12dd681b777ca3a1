//! Conversations and tickets (issue 17, linking): an agent turns a conversation into a
//! ticket, or links it to an existing one, and sees the requester's other tickets beside it.
//!
//! A ticket made from a conversation is the requester's, not the agent's: it is their problem,
//! they follow it on their ticket list and answer its forms, exactly as if they had submitted
//! it. So the ticket type must be one the requester may submit and its form is checked as for
//! them; the agent is the actor of the events (the timeline says who filed it). The
//! conversation's transcript (without internal notes) becomes the ticket's first comment, and
//! both streams record the link, all in one transaction.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::event::{Payload, Stream};
use domain::{CompanyId, ConversationId, TicketId, TicketTypeId, ValidationErrors};
use serde::Serialize;
use serde_json::Value;
use store::conversations as stored;

use crate::conversations::{self, ConversationView, MessageView, is_agent};
use crate::runtime::tickets::{self, AvailableType, Progress, TicketView};
use crate::{App, AppError, Result, audit};

/// What to link a conversation to.
#[derive(Clone, Debug)]
pub enum TicketLink {
    /// A new ticket of this type for the conversation's requester, with its form's fields.
    Create {
        ticket_type_id: TicketTypeId,
        data: Value,
    },
    /// A ticket that exists, which the agent may see.
    Existing(TicketId),
}

/// The conversation and its ticket after linking them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationTicket {
    pub conversation: ConversationView,
    pub ticket: TicketView,
    /// The ticket was made from the conversation (not an existing one linked).
    pub created: bool,
}

/// One of a requester's tickets as the agent's workspace lists it.
#[derive(Clone, Debug, Serialize)]
pub struct RequesterTicket {
    pub id: TicketId,
    pub number: i64,
    pub title: String,
    pub ticket_type_key: String,
    pub progress: Progress,
    pub updated_at: DateTime<Utc>,
}

/// Tickets shown beside a conversation.
const RECENT_TICKETS: u32 = 10;
/// Room kept in the transcript comment for the line saying what was left out.
const TAIL_ROOM: usize = 200;

/// The conversation for an agent; a requester who sees it is refused, anyone else finds
/// nothing.
async fn for_agent(app: &App, actor: &Actor, id: ConversationId) -> Result<ConversationView> {
    let conversation = conversations::get(app, actor, id).await?;
    if !is_agent(actor) {
        return Err(AppError::Forbidden(
            "only agents link a conversation to a ticket".into(),
        ));
    }
    Ok(conversation)
}

/// Makes a ticket from the conversation, or links it to an existing ticket (agents).
pub async fn link(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    link: TicketLink,
) -> Result<ConversationTicket> {
    let company = crate::access::company_of(actor)?;
    let conversation = for_agent(app, actor, id).await?;
    if conversation.ticket_id.is_some() {
        return Err(already_linked());
    }
    let (ticket, created) = match link {
        TicketLink::Create {
            ticket_type_id,
            data,
        } => (
            create(app, actor, company, &conversation, ticket_type_id, data).await?,
            true,
        ),
        TicketLink::Existing(ticket) => {
            link_existing(app, actor, company, &conversation, ticket).await?;
            (ticket, false)
        }
    };
    Ok(ConversationTicket {
        conversation: conversations::get(app, actor, id).await?,
        ticket: tickets::get(app, actor, ticket).await?,
        created,
    })
}

fn already_linked() -> AppError {
    AppError::Conflict {
        field: Some("ticket_id".into()),
        message: "the conversation is linked to a ticket already".into(),
    }
}

/// A link refused by the store: the conversation got a ticket meanwhile, or the ticket has
/// a conversation.
fn link_conflict(error: store::StoreError) -> AppError {
    match error {
        store::StoreError::Conflict { constraint } if constraint == "conversations_ticket_id" => {
            already_linked()
        }
        store::StoreError::Conflict { .. } => AppError::Conflict {
            field: Some("ticket_id".into()),
            message: "the ticket has a conversation already".into(),
        },
        other => other.into(),
    }
}

async fn create(
    app: &App,
    actor: &Actor,
    company: CompanyId,
    conversation: &ConversationView,
    ticket_type_id: TicketTypeId,
    data: Value,
) -> Result<TicketId> {
    let requester = conversation.requester_id;
    let checked = tickets::check_submission(app, company, requester, ticket_type_id, data)
        .await
        .map_err(|error| match error {
            AppError::Validation(errors)
                if errors.0.iter().any(|e| e.field == "ticket_type_id") =>
            {
                ValidationErrors::single(
                    "ticket_type_id",
                    "is not a ticket type the requester can submit",
                )
                .into()
            }
            other => other,
        })?;
    let lines = transcript_messages(app, actor, conversation.id).await?;
    let transcript = transcript(conversation, &lines);
    let mut tx = app.db().begin().await?;
    stored::lock(&mut tx, company, conversation.id).await?;
    let inserted = tickets::insert_checked(&mut tx, company, requester, &checked).await?;
    let ticket = inserted.id;
    // Numbered at once, not last as a plain submission is: the link's event names the
    // number. Tickets made from conversations are few next to submissions, so the
    // company's counter staying locked a little longer here costs little.
    let number = tickets::announce_submitted(&mut tx, actor, company, ticket, &checked, Vec::new())
        .await?
        .number(&mut tx, company)
        .await?;
    if let Some(text) = transcript {
        tickets::add_comment_in(&mut tx, actor, company, ticket, &text, false).await?;
    }
    record_link(
        &mut tx,
        actor,
        company,
        conversation.id,
        ticket,
        number,
        true,
    )
    .await?;
    crate::runtime::engine::start(app, &mut tx, company, &inserted).await?;
    app.commit(tx).await?;
    Ok(ticket)
}

async fn link_existing(
    app: &App,
    actor: &Actor,
    company: CompanyId,
    conversation: &ConversationView,
    ticket: TicketId,
) -> Result<()> {
    let (_, found) = tickets::visible(app, actor, ticket)
        .await
        .map_err(|error| match error {
            AppError::NotFound => AppError::Validation(ValidationErrors::single(
                "ticket_id",
                "no such ticket, or you may not read it",
            )),
            other => other,
        })?;
    let mut tx = app.db().begin().await?;
    stored::lock(&mut tx, company, conversation.id).await?;
    record_link(
        &mut tx,
        actor,
        company,
        conversation.id,
        ticket,
        found.number,
        false,
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

/// Links the conversation to the ticket and records it on both streams.
async fn record_link(
    tx: &mut store::Tx,
    actor: &Actor,
    company: CompanyId,
    conversation: ConversationId,
    ticket: TicketId,
    number: i64,
    created: bool,
) -> Result<()> {
    stored::link_ticket(tx, company, conversation, ticket)
        .await
        .map_err(link_conflict)?;
    audit::record(
        tx,
        Some(actor),
        Some(company),
        Stream::Ticket(ticket),
        Payload::TicketConversationLinked {
            conversation_id: conversation,
            created_from: created,
        },
    )
    .await?;
    audit::record(
        tx,
        Some(actor),
        Some(company),
        Stream::Conversation(conversation),
        Payload::ConversationTicketLinked {
            ticket_id: ticket,
            number,
            created,
        },
    )
    .await?;
    Ok(())
}

/// A conversation opened on a ticket (`POST /conversations {ticket_id}`) shows on the
/// ticket's timeline too; called in the opening transaction.
pub(crate) async fn record_opened_on_ticket(
    tx: &mut store::Tx,
    actor: &Actor,
    company: CompanyId,
    conversation: ConversationId,
    ticket: TicketId,
) -> Result<()> {
    audit::record(
        tx,
        Some(actor),
        Some(company),
        Stream::Ticket(ticket),
        Payload::TicketConversationLinked {
            conversation_id: conversation,
            created_from: false,
        },
    )
    .await?;
    Ok(())
}

/// The messages the requester has seen, oldest first: no internal notes, no tombstones.
async fn transcript_messages(
    app: &App,
    actor: &Actor,
    id: ConversationId,
) -> Result<Vec<MessageView>> {
    const PAGE: u32 = 1000;
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = conversations::messages(app, actor, id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == PAGE as usize;
        out.extend(page.into_iter().filter(|m| !m.internal && !m.deleted));
        if !full {
            break;
        }
    }
    Ok(out)
}

/// The transcript as a comment: who wrote what, when, oldest first, cut to the comment's
/// length with a line saying how many later messages stayed in the conversation. `None`
/// when nothing was said yet.
fn transcript(conversation: &ConversationView, messages: &[MessageView]) -> Option<String> {
    if messages.is_empty() {
        return None;
    }
    let about = conversation
        .subject
        .as_deref()
        .map(|s| format!(" “{s}”"))
        .unwrap_or_default();
    let mut text = format!(
        "Transcript of the support conversation{about} with {}:",
        conversation.requester_name
    );
    let limit = tickets::MAX_COMMENT_CHARS - TAIL_ROOM;
    let mut length = text.chars().count();
    for (i, message) in messages.iter().enumerate() {
        let entry = format!(
            "\n\n{}, {}:\n{}",
            message.author_name,
            message.created_at.format("%Y-%m-%d %H:%M UTC"),
            message.body
        );
        let entry_length = entry.chars().count();
        if length + entry_length > limit {
            let left = messages.len() - i;
            text.push_str(&format!(
                "\n\n… {left} later message{} in the conversation.",
                if left == 1 { " is" } else { "s are" }
            ));
            break;
        }
        length += entry_length;
        text.push_str(&entry);
    }
    Some(text)
}

/// The ticket types an agent may file for the conversation's requester (agents).
pub async fn ticket_types(
    app: &App,
    actor: &Actor,
    id: ConversationId,
) -> Result<Vec<AvailableType>> {
    let company = crate::access::company_of(actor)?;
    let conversation = for_agent(app, actor, id).await?;
    tickets::available_to(app, company, conversation.requester_id).await
}

/// One ticket type the requester may submit, for the agent's form (agents).
pub async fn ticket_type(
    app: &App,
    actor: &Actor,
    id: ConversationId,
    ticket_type_id: TicketTypeId,
) -> Result<AvailableType> {
    let company = crate::access::company_of(actor)?;
    let conversation = for_agent(app, actor, id).await?;
    let (available, _) =
        tickets::available_type_to(app, company, conversation.requester_id, ticket_type_id).await?;
    Ok(available)
}

/// The requester's most recent tickets, for the workspace beside their conversation
/// (agents; a requester gets none).
pub async fn requester_tickets(
    app: &App,
    actor: &Actor,
    id: ConversationId,
) -> Result<Vec<RequesterTicket>> {
    let company = crate::access::company_of(actor)?;
    let conversation = conversations::get(app, actor, id).await?;
    if !is_agent(actor) {
        return Ok(Vec::new());
    }
    let filter = store::tickets::TicketFilter {
        requester: Some(conversation.requester_id),
        sort: store::tickets::TicketSort::Updated,
        limit: RECENT_TICKETS,
        ..Default::default()
    };
    Ok(store::tickets::list(app.db(), company, &filter)
        .await?
        .into_iter()
        .map(|(ticket, _)| RequesterTicket {
            progress: Progress::of(ticket.workflow_status, &ticket.status, false),
            id: ticket.id,
            number: ticket.number,
            title: ticket.title,
            ticket_type_key: ticket.ticket_type_key,
            updated_at: ticket.updated_at,
        })
        .collect())
}

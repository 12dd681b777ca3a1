//! Full-text search over the messages of support conversations, for who may read them:
//! agents every conversation of their company with its internal notes, a requester their
//! own conversations without them. A message's words are indexed in the transaction that
//! writes, edits or deletes it ([`index`]), cut like ticket text (`domain::search`), so
//! SQLite and PostgreSQL find the same messages; a tombstone is found by nobody and an
//! edited message by its current text only.
//!
//! Whether a company's messages are searchable at all is decided in one place,
//! [`enabled`], which both [`index`] and [`search`] ask: a company that keeps message
//! bodies sealed at rest must have neither plaintext in the index nor a search.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::search::{Fragment, snippet, terms};
use domain::{CompanyId, ConversationId, MessageId, UserId, ValidationErrors};
use serde::Serialize;
use store::conversations::{self as stored, search::Search};

use super::{company_of, is_agent, name, title};
use crate::{App, Result};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// About how long a hit's snippet is, in characters.
const SNIPPET_CHARS: usize = 160;

/// A message a search found, with where it is and a snippet around the words found.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MessageHit {
    pub conversation_id: ConversationId,
    /// The conversation's subject, else its reference, else "Support for" its requester.
    pub conversation_title: String,
    pub requester_id: UserId,
    pub requester_name: String,
    pub message_id: MessageId,
    /// The message's number in its conversation.
    pub seq: i64,
    pub author_id: UserId,
    pub author_name: String,
    /// A note for agents only.
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    /// About 160 characters of the message around the first word found, as plain text
    /// (`…` where it is cut); escape it to show it.
    pub snippet: String,
    /// The snippet in pieces, those the search found marked (for the pages).
    #[serde(skip)]
    pub fragments: Vec<Fragment>,
}

/// A search as asked: the words, and where the page starts.
#[derive(Clone, Debug, Default)]
pub struct MessageQuery {
    pub q: String,
    /// The last message of the previous page.
    pub cursor: Option<MessageId>,
    pub limit: u32,
}

/// Whether the company's messages are indexed and searched. Every path that writes the
/// index or reads it asks here first.
pub(crate) async fn enabled(db: impl store::Exec, company: CompanyId) -> Result<bool> {
    // A company that seals its message bodies has them searched by nobody.
    Ok(!store::chat::settings(db, company).await?.sealed)
}

/// Keeps a message's searchable words in step with the message, inside the transaction
/// that changes it: its current body while it stands, nothing once it is deleted. When the
/// company's messages are not searchable the message gets a row without words, so the
/// index holds no plaintext and the sweep ([`index_missing`]) counts it as done.
pub(crate) async fn index(tx: &mut store::Tx, message: &stored::Message) -> Result<()> {
    let searchable = message.deleted_at.is_none() && enabled(&mut *tx, message.company_id).await?;
    index_as(tx, message, searchable).await
}

/// [`index`] for a caller that already knows whether the company's messages are
/// searchable (the one posting has its chat settings at hand): one read less per message.
pub(crate) async fn index_as(
    tx: &mut store::Tx,
    message: &stored::Message,
    searchable: bool,
) -> Result<()> {
    let company = message.company_id;
    if message.deleted_at.is_some() {
        stored::search::unindex(tx, company, message.id).await?;
    } else if !message.sealed && searchable {
        // (A body stored sealed is never indexed, even once the company stops sealing.)
        stored::search::index(tx, company, message.id, &message.body).await?;
    } else {
        stored::search::index(tx, company, message.id, "").await?;
    }
    Ok(())
}

/// Drops every searchable word of the company's messages, in the caller's transaction; the
/// sweep then indexes them again as [`enabled`] says (with their words, or none). For a
/// change of whether the company's messages are searchable.
pub async fn reset(tx: &mut store::Tx, company: CompanyId) -> Result<()> {
    stored::search::forget_company(tx, company).await?;
    Ok(())
}

/// Indexes messages that have no searchable words yet (those written before migration 16),
/// a batch at a time; returns how many. Run by the job workers' sweep.
pub async fn index_missing(app: &App) -> Result<usize> {
    let missing = stored::search::unindexed(app.db(), 200).await?;
    if missing.is_empty() {
        return Ok(0);
    }
    let mut tx = app.db().begin().await?;
    for (company, conversation, id) in &missing {
        let message = stored::message(&mut tx, *company, *conversation, *id).await?;
        index(&mut tx, &message).await?;
    }
    app.commit(tx).await?;
    Ok(missing.len())
}

/// The messages the actor may read that hold every word of the query, newest first, and
/// the cursor of the next page. An empty or over-long query is refused naming `q`.
pub async fn search(
    app: &App,
    actor: &Actor,
    query: MessageQuery,
) -> Result<(Vec<MessageHit>, Option<MessageId>)> {
    let company = company_of(actor)?;
    let words = terms(&query.q);
    if query.q.chars().count() > MAX_QUERY_CHARS {
        return Err(ValidationErrors::single("q", "must be at most 200 characters").into());
    }
    if words.is_empty() {
        return Err(ValidationErrors::single("q", "must hold a word to search for").into());
    }
    if !enabled(app.db(), company).await? {
        return Err(ValidationErrors::single(
            "q",
            "message search is off for this company: its messages are sealed at rest",
        )
        .into());
    }
    let agent = is_agent(actor);
    let limit = query.limit.clamp(1, 100);
    let found = stored::search::search(
        app.db(),
        company,
        &Search {
            terms: &words,
            requester: (!agent).then_some(actor.user_id),
            with_internal: agent,
            before: query.cursor,
            limit,
        },
    )
    .await?;
    let next = (found.len() == limit as usize)
        .then(|| found.last().map(|hit| hit.id))
        .flatten();
    let hits = found
        .into_iter()
        .map(|hit| {
            let fragments = snippet(&hit.body, &words, SNIPPET_CHARS);
            let requester_name = name(hit.requester_first, hit.requester_last).unwrap_or_default();
            MessageHit {
                conversation_id: hit.conversation_id,
                conversation_title: title(
                    hit.subject.as_deref(),
                    hit.reference.as_deref(),
                    &requester_name,
                ),
                requester_id: hit.requester_id,
                requester_name,
                message_id: hit.id,
                seq: hit.seq,
                author_id: hit.author_id,
                author_name: name(hit.author_first, hit.author_last)
                    .or(hit.author_email)
                    .unwrap_or_default(),
                internal: hit.internal,
                created_at: hit.created_at,
                edited_at: hit.edited_at,
                snippet: fragments.iter().map(|f| f.text.as_str()).collect(),
                fragments,
            }
        })
        .collect();
    Ok((hits, next))
}

//! A conversation's transcript, for export (JSON, CSV, a printable page): every message the
//! actor may read in order, deleted ones as tombstones and edited ones marked, each with
//! the hashes that chain it, so an exported transcript can be checked against the chain
//! (`verify`). A requester's transcript holds no internal note; there, a message's
//! `prev_hash` may name a note they do not see.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::{ConversationId, MessageId, UserId};
use serde::Serialize;
use store::conversations as stored;

use super::{ConversationView, company_of, get, is_agent, person_name, title};
use crate::{App, Result};

/// A conversation with every message its reader may read.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Transcript {
    pub conversation: ConversationView,
    /// The conversation's subject, else its reference, else "Support for" its requester.
    pub title: String,
    /// Whether internal notes are in it (an agent's transcript).
    pub with_internal: bool,
    pub exported_at: DateTime<Utc>,
    pub messages: Vec<TranscriptMessage>,
}

/// One message of a transcript.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TranscriptMessage {
    pub id: MessageId,
    /// 1, 2, 3… in the conversation.
    pub seq: i64,
    pub author_id: UserId,
    pub author_name: String,
    /// The current text; empty for a deleted message.
    pub body: String,
    /// A note for agents only.
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    /// When it was last edited; its earlier bodies are kept for agents.
    pub edited_at: Option<DateTime<Utc>>,
    /// A tombstone: the message was deleted; its place in the chain stays.
    pub deleted: bool,
    /// 1 for a message as written, one more for each edit or deletion.
    pub version: i32,
    /// The question template it sends or answers.
    pub template_id: Option<uuid::Uuid>,
    /// The requester's structured answer to that template.
    pub answers: Option<serde_json::Value>,
    /// Files sent with it, each with its SHA-256 (none for a deleted message).
    pub attachments: Vec<super::MessageFile>,
    /// SHA-256 (hex) of the message's first body (with its answers and its files' SHA-256):
    /// what the chain covers.
    pub body_hash: String,
    /// The hash of the message before it (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over the previous hash, the conversation, seq, author, internal flag, time
    /// (microseconds) and `body_hash`, one per line.
    pub hash: String,
}

/// The conversation's transcript as the actor may read it; a conversation they may not
/// read is `NotFound`.
pub async fn transcript(app: &App, actor: &Actor, id: ConversationId) -> Result<Transcript> {
    let company = company_of(actor)?;
    let conversation = get(app, actor, id).await?;
    let agent = is_agent(actor);
    let mut names: HashMap<UserId, String> = HashMap::new();
    let mut messages = Vec::new();
    let mut after = 0;
    let mut files: HashMap<MessageId, Vec<super::MessageFile>> = HashMap::new();
    for file in store::chat::attachments(app.db(), company, id).await? {
        files.entry(file.message_id).or_default().push(file.into());
    }
    loop {
        let rows = stored::messages(app.db(), company, id, agent, after, 500).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.seq;
        for message in rows {
            let author_name = match names.get(&message.author_id) {
                Some(known) => known.clone(),
                None => {
                    let found = person_name(app, message.author_id).await?;
                    names.insert(message.author_id, found.clone());
                    found
                }
            };
            messages.push(TranscriptMessage {
                id: message.id,
                seq: message.seq,
                author_id: message.author_id,
                author_name,
                body: super::open_body(app, company, message.id, message.body, message.sealed)?,
                internal: message.internal,
                created_at: message.created_at,
                edited_at: message.edited_at,
                deleted: message.deleted_at.is_some(),
                version: message.version,
                template_id: message.template_id,
                answers: message.answers.map(|a| a.0),
                attachments: if message.deleted_at.is_some() {
                    Vec::new()
                } else {
                    files.remove(&message.id).unwrap_or_default()
                },
                body_hash: message.body_hash,
                prev_hash: message.prev_hash,
                hash: message.hash,
            });
        }
    }
    Ok(Transcript {
        title: title(
            conversation.subject.as_deref(),
            conversation.reference.as_deref(),
            &conversation.requester_name,
        ),
        conversation,
        with_internal: agent,
        exported_at: Utc::now(),
        messages,
    })
}

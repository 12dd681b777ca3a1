//! A company's chat settings, the files sent with conversation messages, and the window a
//! person's message rate is counted over.

use chrono::{DateTime, Utc};
use domain::company::{Assignment, ChatSettings};
use domain::{CompanyId, ConversationId, MessageId, UserId};
use sea_query::{Expr, ExprTrait, Func, OnConflict, Order, Query};
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::{ChatSettings as S, ConversationMessages as M, MessageAttachments as A};

#[derive(sqlx::FromRow)]
struct SettingsRow {
    max_message_chars: i32,
    max_attachment_bytes: i64,
    requester_attachments: bool,
    assignment: String,
    sealed: bool,
    messages_per_minute: i32,
}

/// The company's chat settings, or the defaults when it never set them.
pub async fn settings(db: impl Exec, company: CompanyId) -> Result<ChatSettings> {
    let select = Query::select()
        .columns([
            S::MaxMessageChars,
            S::MaxAttachmentBytes,
            S::RequesterAttachments,
            S::Assignment,
            S::Sealed,
            S::MessagesPerMinute,
        ])
        .from(S::Table)
        .and_where(Expr::col(S::CompanyId).eq(company.0))
        .to_owned();
    let row: Option<SettingsRow> = db.fetch_optional(&select).await?;
    let Some(row) = row else {
        return Ok(ChatSettings::default());
    };
    Ok(ChatSettings {
        max_message_chars: u32::try_from(row.max_message_chars)
            .map_err(|_| corrupt(row.max_message_chars))?,
        max_attachment_bytes: u64::try_from(row.max_attachment_bytes)
            .map_err(|_| corrupt(row.max_attachment_bytes))?,
        requester_attachments: row.requester_attachments,
        assignment: Assignment::parse(&row.assignment).ok_or_else(|| corrupt(&row.assignment))?,
        sealed: row.sealed,
        messages_per_minute: u32::try_from(row.messages_per_minute)
            .map_err(|_| corrupt(row.messages_per_minute))?,
    })
}

pub async fn set_settings(tx: &mut Tx, company: CompanyId, settings: &ChatSettings) -> Result<()> {
    let as_int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let insert = Query::insert()
        .into_table(S::Table)
        .columns([
            S::CompanyId,
            S::MaxMessageChars,
            S::MaxAttachmentBytes,
            S::RequesterAttachments,
            S::Assignment,
            S::Sealed,
            S::MessagesPerMinute,
            S::UpdatedAt,
        ])
        .values_panic([
            company.0.into(),
            as_int(settings.max_message_chars).into(),
            i64::try_from(settings.max_attachment_bytes)
                .unwrap_or(i64::MAX)
                .into(),
            settings.requester_attachments.into(),
            settings.assignment.as_str().into(),
            settings.sealed.into(),
            as_int(settings.messages_per_minute).into(),
            Utc::now().into(),
        ])
        .on_conflict(
            OnConflict::column(S::CompanyId)
                .update_columns([
                    S::MaxMessageChars,
                    S::MaxAttachmentBytes,
                    S::RequesterAttachments,
                    S::Assignment,
                    S::Sealed,
                    S::MessagesPerMinute,
                    S::UpdatedAt,
                ])
                .to_owned(),
        )
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

/// How many messages `author` posted in the company since `since`, and the first of them:
/// the window a message rate is counted over, and when it next frees a place.
pub async fn posted_since(
    db: impl Exec,
    company: CompanyId,
    author: UserId,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        posted: i64,
        first: Option<DateTime<Utc>>,
    }
    let select = Query::select()
        .expr_as(Func::count(Expr::col(M::Id)), "posted")
        .expr_as(Func::min(Expr::col(M::CreatedAt)), "first")
        .from(M::Table)
        .and_where(Expr::col(M::CompanyId).eq(company.0))
        .and_where(Expr::col(M::AuthorId).eq(author.0))
        .and_where(Expr::col(M::CreatedAt).gt(since))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    Ok(row.map_or((0, None), |r| (r.posted, r.first)))
}

/// A file of a message, without its bytes.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct Attachment {
    pub id: Uuid,
    pub message_id: MessageId,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the plain bytes, lower-case hex.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: [A; 7] = [
    A::Id,
    A::MessageId,
    A::FileName,
    A::ContentType,
    A::Size,
    A::Sha256,
    A::CreatedAt,
];

pub struct NewAttachment<'a> {
    pub id: Uuid,
    pub company: CompanyId,
    pub conversation: ConversationId,
    pub message: MessageId,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub sealed: &'a [u8],
    pub at: DateTime<Utc>,
}

pub async fn insert_attachment(tx: &mut Tx, new: NewAttachment<'_>) -> Result<()> {
    let insert = Query::insert()
        .into_table(A::Table)
        .columns([
            A::Id,
            A::CompanyId,
            A::ConversationId,
            A::MessageId,
            A::FileName,
            A::ContentType,
            A::Size,
            A::Sha256,
            A::Sealed,
            A::CreatedAt,
        ])
        .values_panic([
            new.id.into(),
            new.company.0.into(),
            new.conversation.0.into(),
            new.message.0.into(),
            new.file_name.into(),
            new.content_type.into(),
            new.size.into(),
            new.sha256.into(),
            new.sealed.to_vec().into(),
            new.at.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

/// The files of a conversation's messages (all of them: the caller keeps internal notes'
/// files from those who may not read them), in the order they were sent.
pub async fn attachments(
    db: impl Exec,
    company: CompanyId,
    conversation: ConversationId,
) -> Result<Vec<Attachment>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(A::Table)
        .and_where(Expr::col(A::CompanyId).eq(company.0))
        .and_where(Expr::col(A::ConversationId).eq(conversation.0))
        .order_by(A::CreatedAt, Order::Asc)
        .order_by(A::Id, Order::Asc)
        .to_owned();
    db.fetch_all(&select).await
}

#[derive(sqlx::FromRow)]
struct Full {
    #[sqlx(flatten)]
    meta: Attachment,
    sealed: Vec<u8>,
}

/// One file and its sealed bytes.
pub async fn attachment(
    db: impl Exec,
    company: CompanyId,
    conversation: ConversationId,
    id: Uuid,
) -> Result<(Attachment, Vec<u8>)> {
    let select = Query::select()
        .columns(COLUMNS)
        .column(A::Sealed)
        .from(A::Table)
        .and_where(Expr::col(A::CompanyId).eq(company.0))
        .and_where(Expr::col(A::ConversationId).eq(conversation.0))
        .and_where(Expr::col(A::Id).eq(id))
        .to_owned();
    let row: Option<Full> = db.fetch_optional(&select).await?;
    let row = row.ok_or(StoreError::NotFound)?;
    Ok((row.meta, row.sealed))
}

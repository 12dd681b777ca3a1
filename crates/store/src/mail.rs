//! The mail outbox and single-use password-reset tokens. Mail is written here in the
//! transaction that causes it and delivered by the `mail.send` job.

use chrono::{DateTime, Utc};
use domain::ids::MailId;
use domain::{CompanyId, UserId};
use sea_query::{Expr, ExprTrait, Order, Query};
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::{MailOutbox, PasswordResets};

/// A message in the outbox.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct Mail {
    pub id: MailId,
    pub to_email: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// The HTML alternative of `body`, when the mail has one.
    pub html_body: Option<String>,
    /// Extra headers as a JSON object of names to values (`List-Unsubscribe`...).
    pub headers: Option<String>,
}

const MAIL_COLUMNS: [MailOutbox; 8] = [
    MailOutbox::Id,
    MailOutbox::ToEmail,
    MailOutbox::Subject,
    MailOutbox::Body,
    MailOutbox::Status,
    MailOutbox::CreatedAt,
    MailOutbox::HtmlBody,
    MailOutbox::Headers,
];

/// The parts of a mail beyond its plain text.
#[derive(Clone, Debug, Default)]
pub struct Extras<'a> {
    pub html: Option<&'a str>,
    pub headers: Vec<(&'static str, String)>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn enqueue(
    tx: &mut Tx,
    company: Option<CompanyId>,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<MailId> {
    enqueue_with(tx, company, to, subject, body, &Extras::default()).await
}

/// A mail with an HTML alternative and extra headers.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn enqueue_with(
    tx: &mut Tx,
    company: Option<CompanyId>,
    to: &str,
    subject: &str,
    body: &str,
    extras: &Extras<'_>,
) -> Result<MailId> {
    let id = Uuid::now_v7();
    let headers = (!extras.headers.is_empty()).then(|| {
        serde_json::Value::Object(
            extras
                .headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
                .collect(),
        )
        .to_string()
    });
    let insert = Query::insert()
        .into_table(MailOutbox::Table)
        .columns([
            MailOutbox::Id,
            MailOutbox::CompanyId,
            MailOutbox::ToEmail,
            MailOutbox::Subject,
            MailOutbox::Body,
            MailOutbox::Status,
            MailOutbox::CreatedAt,
            MailOutbox::HtmlBody,
            MailOutbox::Headers,
        ])
        .values_panic([
            id.into(),
            company.map(|c| c.0).into(),
            to.into(),
            subject.into(),
            body.into(),
            "queued".into(),
            Utc::now().into(),
            extras.html.map(str::to_owned).into(),
            headers.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(MailId(id))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(db: impl Exec, id: MailId) -> Result<Mail> {
    let select = Query::select()
        .columns(MAIL_COLUMNS)
        .from(MailOutbox::Table)
        .and_where(Expr::col(MailOutbox::Id).eq(id))
        .to_owned();
    let row: Option<Mail> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// Messages to one address, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn to_address(db: impl Exec, to: &str) -> Result<Vec<Mail>> {
    let select = Query::select()
        .columns(MAIL_COLUMNS)
        .from(MailOutbox::Table)
        .and_where(Expr::col(MailOutbox::ToEmail).eq(to))
        .order_by(MailOutbox::CreatedAt, Order::Desc)
        .to_owned();
    db.fetch_all(&select).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn mark(db: impl Exec, id: MailId, status: &str) -> Result<()> {
    let update = Query::update()
        .table(MailOutbox::Table)
        .values([
            (MailOutbox::Status, status.into()),
            (MailOutbox::SentAt, Utc::now().into()),
        ])
        .and_where(Expr::col(MailOutbox::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_reset(
    tx: &mut Tx,
    user: UserId,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let insert = Query::insert()
        .into_table(PasswordResets::Table)
        .columns([
            PasswordResets::TokenHash,
            PasswordResets::UserId,
            PasswordResets::ExpiresAt,
            PasswordResets::CreatedAt,
        ])
        .values_panic([
            token_hash.into(),
            user.0.into(),
            expires_at.into(),
            Utc::now().into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ResetRow {
    user_id: UserId,
}

/// Uses up a reset token that is unused and unexpired; returns its user.
/// The user of a reset token that is unused and unexpired, without using it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn pending_reset(db: impl Exec, token_hash: &str) -> Result<Option<UserId>> {
    let row: Option<ResetRow> = db.fetch_optional(&pending_reset_query(token_hash)).await?;
    Ok(row.map(|r| r.user_id))
}

fn pending_reset_query(token_hash: &str) -> sea_query::SelectStatement {
    Query::select()
        .column(PasswordResets::UserId)
        .from(PasswordResets::Table)
        .and_where(Expr::col(PasswordResets::TokenHash).eq(token_hash))
        .and_where(Expr::col(PasswordResets::UsedAt).is_null())
        .and_where(Expr::col(PasswordResets::ExpiresAt).gt(Utc::now()))
        .to_owned()
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn consume_reset(tx: &mut Tx, token_hash: &str) -> Result<Option<UserId>> {
    let now = Utc::now();
    let row: Option<ResetRow> = (&mut *tx)
        .fetch_optional(&pending_reset_query(token_hash))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let update = Query::update()
        .table(PasswordResets::Table)
        .value(PasswordResets::UsedAt, now)
        .and_where(Expr::col(PasswordResets::TokenHash).eq(token_hash))
        .and_where(Expr::col(PasswordResets::UsedAt).is_null())
        .to_owned();
    if tx.execute(&update).await? != 1 {
        return Ok(None);
    }
    Ok(Some(row.user_id))
}

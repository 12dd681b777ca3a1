//! Channels, their contacts and the raw inbound webhooks they accepted.

use chrono::{DateTime, Utc};
use domain::channel::{ChannelKind, Verification};
use domain::{ChannelId, CompanyId, ContactId, UserId};
use sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use serde_json::Value;
use uuid::Uuid;

use crate::Json;
use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::{Channels as Ch, Contacts as Co, InboundEvents as Ie, Users};

/// A channel as stored; its secrets are sealed (the application opens them).
#[derive(Clone, Debug)]
pub struct Channel {
    pub id: ChannelId,
    pub company_id: CompanyId,
    pub public_id: String,
    pub slug: String,
    pub name: String,
    pub kind: ChannelKind,
    pub verification: Verification,
    pub signature_header: Option<String>,
    pub inbound_secret: Vec<u8>,
    pub outbound_url: Option<String>,
    pub signing_secret: Vec<u8>,
    pub previous_signing_secret: Option<Vec<u8>>,
    pub previous_until: Option<DateTime<Utc>>,
    pub active: bool,
    pub paused_reason: Option<String>,
    pub consecutive_failures: i32,
    pub breaker_until: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: ChannelId,
    company_id: CompanyId,
    public_id: String,
    slug: String,
    name: String,
    kind: String,
    verification: String,
    signature_header: Option<String>,
    inbound_secret: Vec<u8>,
    outbound_url: Option<String>,
    signing_secret: Vec<u8>,
    previous_signing_secret: Option<Vec<u8>>,
    previous_until: Option<DateTime<Utc>>,
    active: bool,
    paused_reason: Option<String>,
    consecutive_failures: i32,
    breaker_until: Option<DateTime<Utc>>,
    last_success_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ChannelRow> for Channel {
    type Error = StoreError;
    fn try_from(row: ChannelRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            company_id: row.company_id,
            public_id: row.public_id,
            slug: row.slug,
            name: row.name,
            kind: row.kind.parse().map_err(|_| corrupt(&row.kind))?,
            verification: row
                .verification
                .parse()
                .map_err(|_| corrupt(&row.verification))?,
            signature_header: row.signature_header,
            inbound_secret: row.inbound_secret,
            outbound_url: row.outbound_url,
            signing_secret: row.signing_secret,
            previous_signing_secret: row.previous_signing_secret,
            previous_until: row.previous_until,
            active: row.active,
            paused_reason: row.paused_reason,
            consecutive_failures: row.consecutive_failures,
            breaker_until: row.breaker_until,
            last_success_at: row.last_success_at,
            last_error: row.last_error,
            last_error_at: row.last_error_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: [Ch; 22] = [
    Ch::Id,
    Ch::CompanyId,
    Ch::PublicId,
    Ch::Slug,
    Ch::Name,
    Ch::Kind,
    Ch::Verification,
    Ch::SignatureHeader,
    Ch::InboundSecret,
    Ch::OutboundUrl,
    Ch::SigningSecret,
    Ch::PreviousSigningSecret,
    Ch::PreviousUntil,
    Ch::Active,
    Ch::PausedReason,
    Ch::ConsecutiveFailures,
    Ch::BreakerUntil,
    Ch::LastSuccessAt,
    Ch::LastError,
    Ch::LastErrorAt,
    Ch::CreatedAt,
    Ch::UpdatedAt,
];

/// A channel to create; secrets already sealed.
pub struct NewChannel<'a> {
    pub company: CompanyId,
    pub public_id: &'a str,
    pub slug: &'a str,
    pub name: &'a str,
    pub kind: ChannelKind,
    pub verification: Verification,
    pub signature_header: Option<&'a str>,
    pub inbound_secret: &'a [u8],
    pub outbound_url: Option<&'a str>,
    pub signing_secret: &'a [u8],
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %new.company))]
pub async fn insert(tx: &mut Tx, new: NewChannel<'_>) -> Result<Channel> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let insert = Query::insert()
        .into_table(Ch::Table)
        .columns([
            Ch::Id,
            Ch::CompanyId,
            Ch::PublicId,
            Ch::Slug,
            Ch::Name,
            Ch::Kind,
            Ch::Verification,
            Ch::SignatureHeader,
            Ch::InboundSecret,
            Ch::OutboundUrl,
            Ch::SigningSecret,
            Ch::Active,
            Ch::ConsecutiveFailures,
            Ch::CreatedAt,
            Ch::UpdatedAt,
        ])
        .values_panic([
            id.into(),
            new.company.0.into(),
            new.public_id.into(),
            new.slug.into(),
            new.name.into(),
            new.kind.as_str().into(),
            new.verification.as_str().into(),
            new.signature_header.map(str::to_owned).into(),
            new.inbound_secret.to_vec().into(),
            new.outbound_url.map(str::to_owned).into(),
            new.signing_secret.to_vec().into(),
            true.into(),
            0i32.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    get(&mut *tx, new.company, ChannelId(id)).await
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get(db: impl Exec, company: CompanyId, id: ChannelId) -> Result<Channel> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Ch::Table)
        .and_where(Expr::col(Ch::CompanyId).eq(company.0))
        .and_where(Expr::col(Ch::Id).eq(id.0))
        .to_owned();
    let row: Option<ChannelRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// The channel an inbound URL names; the company comes from the row, since the caller is
/// not logged in (the signature is the credential).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_public_id(db: impl Exec, public_id: &str) -> Result<Option<Channel>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Ch::Table)
        .and_where(Expr::col(Ch::PublicId).eq(public_id))
        .to_owned();
    let row: Option<ChannelRow> = db.fetch_optional(&select).await?;
    row.map(Channel::try_from).transpose()
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(db: impl Exec, company: CompanyId) -> Result<Vec<Channel>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Ch::Table)
        .and_where(Expr::col(Ch::CompanyId).eq(company.0))
        .order_by(Ch::Name, Order::Asc)
        .to_owned();
    let rows: Vec<ChannelRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(Channel::try_from).collect()
}

/// What an update changes (`None`: unchanged).
#[derive(Default)]
pub struct ChannelChanges {
    pub name: Option<String>,
    pub outbound_url: Option<Option<String>>,
    pub signature_header: Option<Option<String>>,
    pub verification: Option<Verification>,
    pub inbound_secret: Option<Vec<u8>>,
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn update(
    tx: &mut Tx,
    company: CompanyId,
    id: ChannelId,
    changes: ChannelChanges,
) -> Result<()> {
    let mut update = Query::update();
    update
        .table(Ch::Table)
        .value(Ch::UpdatedAt, Utc::now())
        .and_where(Expr::col(Ch::CompanyId).eq(company.0))
        .and_where(Expr::col(Ch::Id).eq(id.0));
    if let Some(name) = changes.name {
        update.value(Ch::Name, name);
    }
    if let Some(url) = changes.outbound_url {
        update.value(Ch::OutboundUrl, url);
    }
    if let Some(header) = changes.signature_header {
        update.value(Ch::SignatureHeader, header);
    }
    if let Some(verification) = changes.verification {
        update.value(Ch::Verification, verification.as_str());
    }
    if let Some(secret) = changes.inbound_secret {
        update.value(Ch::InboundSecret, secret);
    }
    match tx.execute(&update).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Pauses (with why) or resumes a channel. Returns whether it changed.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn set_active(
    db: impl Exec,
    company: CompanyId,
    id: ChannelId,
    active: bool,
    reason: Option<&str>,
) -> Result<bool> {
    let mut update = Query::update();
    update
        .table(Ch::Table)
        .value(Ch::Active, active)
        .value(Ch::PausedReason, reason.map(str::to_owned))
        .value(Ch::UpdatedAt, Utc::now())
        .and_where(Expr::col(Ch::CompanyId).eq(company.0))
        .and_where(Expr::col(Ch::Id).eq(id.0))
        .and_where(Expr::col(Ch::Active).ne(active));
    if active {
        // A resumed channel starts with a closed breaker.
        update
            .value(Ch::BreakerUntil, Option::<DateTime<Utc>>::None)
            .value(Ch::ConsecutiveFailures, 0i32);
    }
    Ok(db.execute(&update).await? == 1)
}

/// Replaces the outbound signing secret; the old one keeps being sent alongside until
/// `previous_until`, so a receiver can switch without losing a delivery.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn rotate_signing(
    tx: &mut Tx,
    company: CompanyId,
    id: ChannelId,
    secret: &[u8],
    previous: Option<&[u8]>,
    previous_until: Option<DateTime<Utc>>,
) -> Result<()> {
    let update = Query::update()
        .table(Ch::Table)
        .value(Ch::SigningSecret, secret.to_vec())
        .value(Ch::PreviousSigningSecret, previous.map(<[u8]>::to_vec))
        .value(Ch::PreviousUntil, previous_until)
        .value(Ch::UpdatedAt, Utc::now())
        .and_where(Expr::col(Ch::CompanyId).eq(company.0))
        .and_where(Expr::col(Ch::Id).eq(id.0))
        .to_owned();
    match tx.execute(&update).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// A contact as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Contact {
    pub id: ContactId,
    pub company_id: CompanyId,
    pub channel_id: ChannelId,
    pub external_id: String,
    pub display_name: Option<String>,
    pub metadata: Json<Value>,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const CONTACT_COLUMNS: [Co; 9] = [
    Co::Id,
    Co::CompanyId,
    Co::ChannelId,
    Co::ExternalId,
    Co::DisplayName,
    Co::Metadata,
    Co::UserId,
    Co::CreatedAt,
    Co::UpdatedAt,
];

async fn find_contact(
    db: impl Exec,
    company: CompanyId,
    channel: ChannelId,
    external_id: &str,
) -> Result<Option<Contact>> {
    let select = Query::select()
        .columns(CONTACT_COLUMNS)
        .from(Co::Table)
        .and_where(Expr::col(Co::CompanyId).eq(company.0))
        .and_where(Expr::col(Co::ChannelId).eq(channel.0))
        .and_where(Expr::col(Co::ExternalId).eq(external_id))
        .to_owned();
    db.fetch_optional(&select).await
}

/// The channel's contact with this external id, created (with the user row that authors
/// their messages) when new; a newer display name replaces the stored one.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get_or_insert_contact(
    tx: &mut Tx,
    company: CompanyId,
    channel: ChannelId,
    external_id: &str,
    display_name: Option<&str>,
) -> Result<(Contact, bool)> {
    if let Some(found) = find_contact(&mut *tx, company, channel, external_id).await? {
        if display_name.is_some() && found.display_name.as_deref() != display_name {
            rename_contact(tx, &found, display_name.unwrap_or_default()).await?;
            let renamed = find_contact(&mut *tx, company, channel, external_id).await?;
            return Ok((renamed.ok_or(StoreError::NotFound)?, false));
        }
        return Ok((found, false));
    }
    let now = Utc::now();
    let user = Uuid::now_v7();
    let contact = Uuid::now_v7();
    let name = display_name.unwrap_or(external_id);
    let user_insert = Query::insert()
        .into_table(Users::Table)
        .columns([
            Users::Id,
            Users::CompanyId,
            Users::Email,
            Users::PasswordHash,
            Users::FirstName,
            Users::LastName,
            Users::Status,
            Users::SystemRoles,
            Users::Kind,
            Users::CreatedAt,
            Users::UpdatedAt,
        ])
        .values_panic([
            user.into(),
            company.0.into(),
            format!("contact-{}@contacts.ticketflower.invalid", user.simple()).into(),
            "!".into(),
            name.into(),
            "".into(),
            "active".into(),
            Value::Array(Vec::new()).into(),
            crate::users::UserKind::Contact.as_str().into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    let contact_insert = Query::insert()
        .into_table(Co::Table)
        .columns([
            Co::Id,
            Co::CompanyId,
            Co::ChannelId,
            Co::ExternalId,
            Co::DisplayName,
            Co::Metadata,
            Co::UserId,
            Co::CreatedAt,
            Co::UpdatedAt,
        ])
        .values_panic([
            contact.into(),
            company.0.into(),
            channel.0.into(),
            external_id.into(),
            display_name.map(str::to_owned).into(),
            Value::Object(serde_json::Map::new()).into(),
            user.into(),
            now.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([Co::ChannelId, Co::ExternalId])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    tx.execute(&user_insert).await?;
    let inserted = tx.execute(&contact_insert).await? == 1;
    let found = find_contact(&mut *tx, company, channel, external_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((found, inserted))
}

async fn rename_contact(tx: &mut Tx, contact: &Contact, name: &str) -> Result<()> {
    let now = Utc::now();
    let contact_update = Query::update()
        .table(Co::Table)
        .value(Co::DisplayName, name)
        .value(Co::UpdatedAt, now)
        .and_where(Expr::col(Co::Id).eq(contact.id.0))
        .to_owned();
    let user_update = Query::update()
        .table(Users::Table)
        .value(Users::FirstName, name)
        .value(Users::UpdatedAt, now)
        .and_where(Expr::col(Users::Id).eq(contact.user_id.0))
        .and_where(Expr::col(Users::CompanyId).eq(contact.company_id.0))
        .to_owned();
    tx.execute(&contact_update).await?;
    tx.execute(&user_update).await?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn contact(db: impl Exec, company: CompanyId, id: ContactId) -> Result<Contact> {
    let select = Query::select()
        .columns(CONTACT_COLUMNS)
        .from(Co::Table)
        .and_where(Expr::col(Co::CompanyId).eq(company.0))
        .and_where(Expr::col(Co::Id).eq(id.0))
        .to_owned();
    let row: Option<Contact> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// A raw inbound webhook to keep.
pub struct NewInbound<'a> {
    pub company: CompanyId,
    pub channel: ChannelId,
    pub external_message_id: Option<&'a str>,
    pub kind: &'a str,
    pub headers: Value,
    pub body: &'a str,
    pub message_id: Option<Uuid>,
}

/// Keeps the raw webhook; `false` when the channel already accepted one with this provider
/// message id (a repeat: the caller creates nothing). Under a race the unique index
/// decides: the loser waits for the winner's commit and then sees the conflict.
#[tracing::instrument(level = "debug", skip_all, fields(company = %new.company))]
pub async fn record_inbound(tx: &mut Tx, new: NewInbound<'_>) -> Result<bool> {
    let insert = Query::insert()
        .into_table(Ie::Table)
        .columns([
            Ie::Id,
            Ie::CompanyId,
            Ie::ChannelId,
            Ie::ExternalMessageId,
            Ie::Kind,
            Ie::Headers,
            Ie::Body,
            Ie::MessageId,
            Ie::ReceivedAt,
        ])
        .values_panic([
            Uuid::now_v7().into(),
            new.company.0.into(),
            new.channel.0.into(),
            new.external_message_id.map(str::to_owned).into(),
            new.kind.into(),
            new.headers.into(),
            new.body.into(),
            new.message_id.into(),
            Utc::now().into(),
        ])
        .on_conflict(
            OnConflict::columns([Ie::ChannelId, Ie::ExternalMessageId])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(tx.execute(&insert).await? == 1)
}

/// The message an earlier accepted webhook with this provider message id created.
pub async fn inbound_message(
    db: impl Exec,
    company: CompanyId,
    channel: ChannelId,
    external_message_id: &str,
) -> Result<Option<Uuid>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        message_id: Option<Uuid>,
    }
    let select = Query::select()
        .column(Ie::MessageId)
        .from(Ie::Table)
        .and_where(Expr::col(Ie::CompanyId).eq(company.0))
        .and_where(Expr::col(Ie::ChannelId).eq(channel.0))
        .and_where(Expr::col(Ie::ExternalMessageId).eq(external_message_id))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    Ok(row.and_then(|r| r.message_id))
}

/// A raw inbound webhook as kept.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Inbound {
    pub id: Uuid,
    pub external_message_id: Option<String>,
    pub kind: String,
    pub headers: Json<Value>,
    pub body: String,
    pub message_id: Option<Uuid>,
    pub received_at: DateTime<Utc>,
}

/// The channel's latest raw webhooks, newest first.
pub async fn recent_inbound(
    db: impl Exec,
    company: CompanyId,
    channel: ChannelId,
    limit: u64,
) -> Result<Vec<Inbound>> {
    let select = Query::select()
        .columns([
            Ie::Id,
            Ie::ExternalMessageId,
            Ie::Kind,
            Ie::Headers,
            Ie::Body,
            Ie::MessageId,
            Ie::ReceivedAt,
        ])
        .from(Ie::Table)
        .and_where(Expr::col(Ie::CompanyId).eq(company.0))
        .and_where(Expr::col(Ie::ChannelId).eq(channel.0))
        .order_by(Ie::ReceivedAt, Order::Desc)
        .limit(limit)
        .to_owned();
    db.fetch_all(&select).await
}

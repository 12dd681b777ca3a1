//! A company's event webhook subscriptions: an endpoint and the event kinds it wants.

use chrono::{DateTime, Utc};
use domain::{CompanyId, SubscriptionId};
use sea_query::{Expr, ExprTrait, Order, Query};
use uuid::Uuid;

use crate::Json;
use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::WebhookSubscriptions as S;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub company_id: CompanyId,
    pub url: String,
    pub description: Option<String>,
    /// Kinds (`ticket.submitted`) and families (`ticket.*`, `*`).
    pub kinds: Json<Vec<String>>,
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

const COLUMNS: [S; 17] = [
    S::Id,
    S::CompanyId,
    S::Url,
    S::Description,
    S::Kinds,
    S::SigningSecret,
    S::PreviousSigningSecret,
    S::PreviousUntil,
    S::Active,
    S::PausedReason,
    S::ConsecutiveFailures,
    S::BreakerUntil,
    S::LastSuccessAt,
    S::LastError,
    S::LastErrorAt,
    S::CreatedAt,
    S::UpdatedAt,
];

fn select() -> sea_query::SelectStatement {
    Query::select().columns(COLUMNS).from(S::Table).to_owned()
}

pub struct NewSubscription<'a> {
    pub company: CompanyId,
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub kinds: &'a [String],
    pub signing_secret: &'a [u8],
}

pub async fn insert(tx: &mut Tx, new: NewSubscription<'_>) -> Result<Subscription> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(S::Table)
        .columns([
            S::Id,
            S::CompanyId,
            S::Url,
            S::Description,
            S::Kinds,
            S::SigningSecret,
            S::Active,
            S::ConsecutiveFailures,
            S::CreatedAt,
            S::UpdatedAt,
        ])
        .values_panic([
            id.into(),
            new.company.0.into(),
            new.url.into(),
            new.description.map(str::to_owned).into(),
            serde_json::json!(new.kinds).into(),
            new.signing_secret.to_vec().into(),
            true.into(),
            0i32.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    get(&mut *tx, new.company, SubscriptionId(id)).await
}

pub async fn get(db: impl Exec, company: CompanyId, id: SubscriptionId) -> Result<Subscription> {
    let select = select()
        .and_where(Expr::col(S::CompanyId).eq(company.0))
        .and_where(Expr::col(S::Id).eq(id.0))
        .to_owned();
    let row: Option<Subscription> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

pub async fn list(db: impl Exec, company: CompanyId) -> Result<Vec<Subscription>> {
    let select = select()
        .and_where(Expr::col(S::CompanyId).eq(company.0))
        .order_by(S::CreatedAt, Order::Asc)
        .to_owned();
    db.fetch_all(&select).await
}

/// The active subscriptions of the companies named, for matching events to them.
pub async fn active_of(db: impl Exec, companies: &[CompanyId]) -> Result<Vec<Subscription>> {
    if companies.is_empty() {
        return Ok(Vec::new());
    }
    let select = select()
        .and_where(Expr::col(S::CompanyId).is_in(companies.iter().map(|c| c.0)))
        .and_where(Expr::col(S::Active).eq(true))
        .to_owned();
    db.fetch_all(&select).await
}

#[derive(Default)]
pub struct Changes {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub kinds: Option<Vec<String>>,
}

pub async fn update(
    tx: &mut Tx,
    company: CompanyId,
    id: SubscriptionId,
    changes: Changes,
) -> Result<()> {
    let mut update = Query::update();
    update
        .table(S::Table)
        .value(S::UpdatedAt, Utc::now())
        .and_where(Expr::col(S::CompanyId).eq(company.0))
        .and_where(Expr::col(S::Id).eq(id.0));
    if let Some(url) = changes.url {
        update.value(S::Url, url);
    }
    if let Some(description) = changes.description {
        update.value(S::Description, description);
    }
    if let Some(kinds) = changes.kinds {
        update.value(S::Kinds, serde_json::json!(kinds));
    }
    match tx.execute(&update).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

pub async fn set_active(
    db: impl Exec,
    company: CompanyId,
    id: SubscriptionId,
    active: bool,
    reason: Option<&str>,
) -> Result<bool> {
    let mut update = Query::update();
    update
        .table(S::Table)
        .value(S::Active, active)
        .value(S::PausedReason, reason.map(str::to_owned))
        .value(S::UpdatedAt, Utc::now())
        .and_where(Expr::col(S::CompanyId).eq(company.0))
        .and_where(Expr::col(S::Id).eq(id.0))
        .and_where(Expr::col(S::Active).ne(active));
    if active {
        update
            .value(S::BreakerUntil, Option::<DateTime<Utc>>::None)
            .value(S::ConsecutiveFailures, 0i32);
    }
    Ok(db.execute(&update).await? == 1)
}

pub async fn rotate_signing(
    tx: &mut Tx,
    company: CompanyId,
    id: SubscriptionId,
    secret: &[u8],
    previous: Option<&[u8]>,
    previous_until: Option<DateTime<Utc>>,
) -> Result<()> {
    let update = Query::update()
        .table(S::Table)
        .value(S::SigningSecret, secret.to_vec())
        .value(S::PreviousSigningSecret, previous.map(<[u8]>::to_vec))
        .value(S::PreviousUntil, previous_until)
        .value(S::UpdatedAt, Utc::now())
        .and_where(Expr::col(S::CompanyId).eq(company.0))
        .and_where(Expr::col(S::Id).eq(id.0))
        .to_owned();
    match tx.execute(&update).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

pub async fn delete(tx: &mut Tx, company: CompanyId, id: SubscriptionId) -> Result<()> {
    let delete = Query::delete()
        .from_table(S::Table)
        .and_where(Expr::col(S::CompanyId).eq(company.0))
        .and_where(Expr::col(S::Id).eq(id.0))
        .to_owned();
    match tx.execute(&delete).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

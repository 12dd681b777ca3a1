//! The browsers a person subscribed to Web Push: the push service's endpoint and the keys
//! that encrypt for it, with how the last delivery went. An endpoint is unique: the browser
//! that subscribes again (another person signed in on it) takes its row over.

use chrono::{DateTime, Utc};
use domain::{CompanyId, PushSubscriptionId, UserId};
use sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::PushSubscriptions as P;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PushSubscription {
    pub id: PushSubscriptionId,
    pub company_id: CompanyId,
    pub user_id: UserId,
    /// The push service's URL for this browser (a capability: whoever knows it may push).
    pub endpoint: String,
    /// The browser's ECDH public key (base64url of an uncompressed P-256 point).
    pub p256dh: String,
    /// The browser's authentication secret (base64url of 16 bytes).
    pub auth: String,
    /// What the person calls the browser ("Firefox on Linux").
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

const COLUMNS: [P; 11] = [
    P::Id,
    P::CompanyId,
    P::UserId,
    P::Endpoint,
    P::P256dh,
    P::Auth,
    P::Name,
    P::CreatedAt,
    P::LastSuccessAt,
    P::LastError,
    P::LastErrorAt,
];

fn select() -> sea_query::SelectStatement {
    Query::select().columns(COLUMNS).from(P::Table).to_owned()
}

/// A browser's subscription as it sent it.
pub struct NewPushSubscription<'a> {
    pub company: CompanyId,
    pub user: UserId,
    pub endpoint: &'a str,
    pub p256dh: &'a str,
    pub auth: &'a str,
    pub name: Option<&'a str>,
}

/// The row of `endpoint`, whoever's it is: the one lookup not scoped to a company, for
/// [`upsert`] to tell a renewal from a takeover.
pub async fn by_endpoint(db: impl Exec, endpoint: &str) -> Result<Option<PushSubscription>> {
    let select = select()
        .and_where(Expr::col(P::Endpoint).eq(endpoint))
        .to_owned();
    db.fetch_optional(&select).await
}

/// Stores a subscription by its endpoint: a new row, or the existing one given to this
/// person with the keys sent now (a browser renews its keys; a shared browser changes hands).
/// The delivery record starts over either way.
pub async fn upsert(tx: &mut Tx, new: NewPushSubscription<'_>) -> Result<PushSubscription> {
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(P::Table)
        .columns([
            P::Id,
            P::CompanyId,
            P::UserId,
            P::Endpoint,
            P::P256dh,
            P::Auth,
            P::Name,
            P::CreatedAt,
        ])
        .values_panic([
            Uuid::now_v7().into(),
            new.company.0.into(),
            new.user.0.into(),
            new.endpoint.into(),
            new.p256dh.into(),
            new.auth.into(),
            new.name.map(str::to_owned).into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::column(P::Endpoint)
                .update_columns([P::CompanyId, P::UserId, P::P256dh, P::Auth, P::Name])
                .value(P::LastSuccessAt, Option::<DateTime<Utc>>::None)
                .value(P::LastError, Option::<String>::None)
                .value(P::LastErrorAt, Option::<DateTime<Utc>>::None)
                .to_owned(),
        )
        .to_owned();
    tx.execute(&insert).await?;
    by_endpoint(&mut *tx, new.endpoint)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The subscriptions of one person, oldest first.
pub async fn list_of_user(
    db: impl Exec,
    company: CompanyId,
    user: UserId,
) -> Result<Vec<PushSubscription>> {
    let select = select()
        .and_where(Expr::col(P::CompanyId).eq(company.0))
        .and_where(Expr::col(P::UserId).eq(user.0))
        .order_by(P::CreatedAt, Order::Asc)
        .order_by(P::Id, Order::Asc)
        .to_owned();
    db.fetch_all(&select).await
}

/// One subscription of the company, whoever's it is (the delivery job's look-up).
pub async fn get(
    db: impl Exec,
    company: CompanyId,
    id: PushSubscriptionId,
) -> Result<PushSubscription> {
    let select = select()
        .and_where(Expr::col(P::CompanyId).eq(company.0))
        .and_where(Expr::col(P::Id).eq(id.0))
        .to_owned();
    let row: Option<PushSubscription> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// One subscription of one person; another person's is `NotFound`.
pub async fn get_of_user(
    db: impl Exec,
    company: CompanyId,
    user: UserId,
    id: PushSubscriptionId,
) -> Result<PushSubscription> {
    let select = select()
        .and_where(Expr::col(P::CompanyId).eq(company.0))
        .and_where(Expr::col(P::UserId).eq(user.0))
        .and_where(Expr::col(P::Id).eq(id.0))
        .to_owned();
    let row: Option<PushSubscription> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// Deletes one of a person's subscriptions; another person's is `NotFound`.
pub async fn delete_of_user(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    id: PushSubscriptionId,
) -> Result<()> {
    let delete = Query::delete()
        .from_table(P::Table)
        .and_where(Expr::col(P::CompanyId).eq(company.0))
        .and_where(Expr::col(P::UserId).eq(user.0))
        .and_where(Expr::col(P::Id).eq(id.0))
        .to_owned();
    match tx.execute(&delete).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Deletes a subscription its push service said is gone (404/410); whether it was there.
pub async fn remove_expired(
    db: impl Exec,
    company: CompanyId,
    id: PushSubscriptionId,
) -> Result<bool> {
    let delete = Query::delete()
        .from_table(P::Table)
        .and_where(Expr::col(P::CompanyId).eq(company.0))
        .and_where(Expr::col(P::Id).eq(id.0))
        .to_owned();
    Ok(db.execute(&delete).await? > 0)
}

/// Notes a push the push service accepted.
pub async fn record_success(
    db: impl Exec,
    company: CompanyId,
    id: PushSubscriptionId,
    at: DateTime<Utc>,
) -> Result<()> {
    let update = Query::update()
        .table(P::Table)
        .value(P::LastSuccessAt, at)
        .and_where(Expr::col(P::CompanyId).eq(company.0))
        .and_where(Expr::col(P::Id).eq(id.0))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Notes why a push failed, for the person's list of browsers.
pub async fn record_error(
    db: impl Exec,
    company: CompanyId,
    id: PushSubscriptionId,
    error: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let update = Query::update()
        .table(P::Table)
        .value(P::LastError, error)
        .value(P::LastErrorAt, at)
        .and_where(Expr::col(P::CompanyId).eq(company.0))
        .and_where(Expr::col(P::Id).eq(id.0))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

//! Devices registered for mobile push (migration 21). A device is one person's: the reads
//! and the removal a person asks for take the company and the user, so another person's
//! device is [`StoreError::NotFound`]. The token is unique across the server
//! (`devices_token_key`): registering a known token moves it to the new owner, as a phone
//! changes hands. The push job records each delivery's outcome on the row and prunes the
//! device once FCM says its token is dead.

use chrono::{DateTime, Utc};
use domain::device::{Device, Registration};
use domain::{CompanyId, DeviceId, UserId};
use sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::Devices as D;

#[derive(sqlx::FromRow)]
struct Row {
    id: DeviceId,
    company_id: CompanyId,
    user_id: UserId,
    platform: String,
    token: String,
    name: Option<String>,
    created_at: DateTime<Utc>,
    last_success_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for Device {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self> {
        Ok(Self {
            id: row.id,
            company_id: row.company_id,
            user_id: row.user_id,
            platform: row.platform.parse().map_err(corrupt)?,
            token: row.token,
            name: row.name,
            created_at: row.created_at,
            last_success_at: row.last_success_at,
            last_error: row.last_error,
            last_error_at: row.last_error_at,
        })
    }
}

const COLUMNS: [D; 10] = [
    D::Id,
    D::CompanyId,
    D::UserId,
    D::Platform,
    D::Token,
    D::Name,
    D::CreatedAt,
    D::LastSuccessAt,
    D::LastError,
    D::LastErrorAt,
];

fn select(company: CompanyId) -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(D::Table)
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .to_owned()
}

/// The longest error kept on a device: enough to say why, not a whole response body.
const ERROR_MAX_CHARS: usize = 500;

/// A person's devices, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(db: impl Exec, company: CompanyId, user: UserId) -> Result<Vec<Device>> {
    let select = select(company)
        .and_where(Expr::col(D::UserId).eq(user))
        .order_by(D::CreatedAt, Order::Desc)
        .order_by(D::Id, Order::Desc)
        .to_owned();
    let rows: Vec<Row> = db.fetch_all(&select).await?;
    rows.into_iter().map(Device::try_from).collect()
}

/// One of a person's devices.
pub async fn get(db: impl Exec, company: CompanyId, user: UserId, id: DeviceId) -> Result<Device> {
    let select = select(company)
        .and_where(Expr::col(D::UserId).eq(user))
        .and_where(Expr::col(D::Id).eq(id))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// A device of the company, whoever holds it: what the push job reads. `None` once it was
/// removed (or moved to another company).
pub async fn find(db: impl Exec, company: CompanyId, id: DeviceId) -> Result<Option<Device>> {
    let select = select(company)
        .and_where(Expr::col(D::Id).eq(id))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    row.map(Device::try_from).transpose()
}

/// Registers a token for a person. Theirs already: its platform and name are updated
/// (`false`: nothing new). Someone else's, in any company: that row goes and a new device
/// is made, so the old owner's id never names the new owner's phone (`true`). Unknown: a
/// new device (`true`).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn register(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    registration: &Registration,
) -> Result<(Device, bool)> {
    let existing = Query::select()
        .columns(COLUMNS)
        .from(D::Table)
        .and_where(Expr::col(D::Token).eq(registration.token.as_str()))
        .to_owned();
    let existing: Option<Row> = tx.fetch_optional(&existing).await?;
    if let Some(row) = existing {
        if row.company_id == company && row.user_id == user {
            let update = Query::update()
                .table(D::Table)
                .value(D::Platform, registration.platform.as_str())
                .value(D::Name, registration.name.clone())
                .and_where(Expr::col(D::Id).eq(row.id))
                .to_owned();
            tx.execute(&update).await?;
            return Ok((get(&mut *tx, company, user, row.id).await?, false));
        }
        let delete = Query::delete()
            .from_table(D::Table)
            .and_where(Expr::col(D::Id).eq(row.id))
            .to_owned();
        tx.execute(&delete).await?;
    }
    let id = DeviceId::new();
    let insert = Query::insert()
        .into_table(D::Table)
        .columns([
            D::Id,
            D::CompanyId,
            D::UserId,
            D::Platform,
            D::Token,
            D::Name,
            D::CreatedAt,
        ])
        .values_panic([
            id.into(),
            company.into(),
            user.into(),
            registration.platform.as_str().into(),
            registration.token.as_str().into(),
            registration.name.clone().into(),
            Utc::now().into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok((get(&mut *tx, company, user, id).await?, true))
}

/// Removes one of a person's devices.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn delete(tx: &mut Tx, company: CompanyId, user: UserId, id: DeviceId) -> Result<()> {
    let delete = Query::delete()
        .from_table(D::Table)
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .and_where(Expr::col(D::UserId).eq(user))
        .and_where(Expr::col(D::Id).eq(id))
        .to_owned();
    if tx.execute(&delete).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Prunes a device whose token FCM no longer knows, but only while it still holds `token`:
/// a phone registered again meanwhile keeps its new registration. Whether it went.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn remove(db: impl Exec, company: CompanyId, id: DeviceId, token: &str) -> Result<bool> {
    let delete = Query::delete()
        .from_table(D::Table)
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .and_where(Expr::col(D::Id).eq(id))
        .and_where(Expr::col(D::Token).eq(token))
        .to_owned();
    Ok(db.execute(&delete).await? > 0)
}

/// FCM accepted a push for the device.
pub async fn record_success(
    db: impl Exec,
    company: CompanyId,
    id: DeviceId,
    at: DateTime<Utc>,
) -> Result<()> {
    let update = Query::update()
        .table(D::Table)
        .value(D::LastSuccessAt, at)
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .and_where(Expr::col(D::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// A push to the device failed; `error` says why (cut to a few hundred characters).
pub async fn record_error(
    db: impl Exec,
    company: CompanyId,
    id: DeviceId,
    error: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let error: String = error.chars().take(ERROR_MAX_CHARS).collect();
    let update = Query::update()
        .table(D::Table)
        .value(D::LastError, error)
        .value(D::LastErrorAt, at)
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .and_where(Expr::col(D::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

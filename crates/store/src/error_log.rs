//! The error log's rows: one per 5xx answer, written off the request by the web layer's
//! recorder, read and cleared by platform staff, pruned by age and by count. Not owned by
//! a tenant (the company is a label, not a scope): only platform staff reach these, which
//! `app::infra::error_log` checks.

use chrono::{DateTime, Utc};
use domain::error_log::{ErrorEntry, Failure, FailureKind};
use domain::{CompanyId, ErrorLogId, UserId};
use sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};

use crate::db::Exec;
use crate::error::{Result, StoreError, corrupt};
use crate::schema::{Companies, ErrorLog};

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: ErrorLogId,
    created_at: DateTime<Utc>,
    method: String,
    route: String,
    status: i32,
    request_id: String,
    company_id: Option<CompanyId>,
    company_name: Option<String>,
    user_id: Option<UserId>,
    kind: String,
    summary: String,
}

impl TryFrom<EntryRow> for ErrorEntry {
    type Error = StoreError;
    fn try_from(row: EntryRow) -> Result<Self> {
        Ok(ErrorEntry {
            id: row.id,
            created_at: row.created_at,
            method: row.method,
            route: row.route,
            status: u16::try_from(row.status).map_err(|_| corrupt(row.status))?,
            request_id: row.request_id,
            company_id: row.company_id,
            company_name: row.company_name,
            user_id: row.user_id,
            kind: row.kind.parse::<FailureKind>().map_err(|e| corrupt(e.0))?,
            summary: row.summary,
        })
    }
}

/// Writes one entry (the failure is bounded first); returns its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(db: impl Exec, failure: Failure) -> Result<ErrorLogId> {
    let failure = failure.bounded();
    let id = ErrorLogId::new();
    let insert = Query::insert()
        .into_table(ErrorLog::Table)
        .columns([
            ErrorLog::Id,
            ErrorLog::CreatedAt,
            ErrorLog::Method,
            ErrorLog::Route,
            ErrorLog::Status,
            ErrorLog::RequestId,
            ErrorLog::CompanyId,
            ErrorLog::UserId,
            ErrorLog::Kind,
            ErrorLog::Summary,
        ])
        .values_panic([
            id.into(),
            failure.at.into(),
            failure.method.into(),
            failure.route.into(),
            i32::from(failure.status).into(),
            failure.request_id.into(),
            failure.company_id.map(|c| c.0).into(),
            failure.user_id.map(|u| u.0).into(),
            failure.kind.as_str().into(),
            failure.summary.into(),
        ])
        .to_owned();
    db.execute(&insert).await?;
    Ok(id)
}

/// Entries with their company's name.
fn select_entries() -> SelectStatement {
    Query::select()
        .columns([
            (ErrorLog::Table, ErrorLog::Id),
            (ErrorLog::Table, ErrorLog::CreatedAt),
            (ErrorLog::Table, ErrorLog::Method),
            (ErrorLog::Table, ErrorLog::Route),
            (ErrorLog::Table, ErrorLog::Status),
            (ErrorLog::Table, ErrorLog::RequestId),
            (ErrorLog::Table, ErrorLog::CompanyId),
            (ErrorLog::Table, ErrorLog::UserId),
            (ErrorLog::Table, ErrorLog::Kind),
            (ErrorLog::Table, ErrorLog::Summary),
        ])
        .expr_as(
            Expr::col((Companies::Table, Companies::Name)),
            "company_name",
        )
        .from(ErrorLog::Table)
        .left_join(
            Companies::Table,
            Expr::col((Companies::Table, Companies::Id))
                .equals((ErrorLog::Table, ErrorLog::CompanyId)),
        )
        .to_owned()
}

/// A page of entries, newest first, after the cursor `after`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(db: impl Exec, after: Option<ErrorLogId>, limit: u32) -> Result<Vec<ErrorEntry>> {
    let mut select = select_entries()
        .order_by((ErrorLog::Table, ErrorLog::Id), Order::Desc)
        .limit(u64::from(limit.clamp(1, 1000)))
        .to_owned();
    if let Some(after) = after {
        select.and_where(Expr::col((ErrorLog::Table, ErrorLog::Id)).lt(after.0));
    }
    let rows: Vec<EntryRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(ErrorEntry::try_from).collect()
}

/// How many entries there are.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn count(db: impl Exec) -> Result<i64> {
    let select = Query::select().from(ErrorLog::Table).to_owned();
    crate::db::count(db, select, ErrorLog::Id).await
}

/// One entry.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(db: impl Exec, id: ErrorLogId) -> Result<ErrorEntry> {
    let select = select_entries()
        .and_where(Expr::col((ErrorLog::Table, ErrorLog::Id)).eq(id.0))
        .to_owned();
    let row: Option<EntryRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// Deletes one entry; `NotFound` when there is none.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(db: impl Exec, id: ErrorLogId) -> Result<()> {
    let delete = Query::delete()
        .from_table(ErrorLog::Table)
        .and_where(Expr::col(ErrorLog::Id).eq(id.0))
        .to_owned();
    match db.execute(&delete).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Deletes every entry; returns how many there were.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn clear(db: impl Exec) -> Result<u64> {
    let delete = Query::delete().from_table(ErrorLog::Table).to_owned();
    db.execute(&delete).await
}

/// Deletes the entries written before `before`; returns how many.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_older_than(db: impl Exec, before: DateTime<Utc>) -> Result<u64> {
    let delete = Query::delete()
        .from_table(ErrorLog::Table)
        .and_where(Expr::col(ErrorLog::CreatedAt).lt(before))
        .to_owned();
    db.execute(&delete).await
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: ErrorLogId,
}

/// Keeps the newest `keep` entries and deletes the rest; returns how many went.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn keep_newest(db: impl Exec + Copy, keep: u64) -> Result<u64> {
    if keep == 0 {
        return clear(db).await;
    }
    // The oldest entry kept; everything older goes. Entries written between the two
    // statements are newer, so they stay.
    let oldest_kept = Query::select()
        .column(ErrorLog::Id)
        .from(ErrorLog::Table)
        .order_by(ErrorLog::Id, Order::Desc)
        .limit(1)
        .offset(keep.saturating_sub(1))
        .to_owned();
    let Some(IdRow { id }) = db.fetch_optional(&oldest_kept).await? else {
        return Ok(0);
    };
    let delete = Query::delete()
        .from_table(ErrorLog::Table)
        .and_where(Expr::col(ErrorLog::Id).lt(id.0))
        .to_owned();
    db.execute(&delete).await
}

//! The login log: every attempt, successful or not, with where it came from. It is also
//! the throttle's memory: failures are counted from it.

use chrono::{DateTime, Utc};
use domain::{CompanyId, UserId};
use sea_query::{Expr, ExprTrait, Order, Query};
use uuid::Uuid;

use crate::db::Exec;
use crate::error::Result;
use crate::schema::LoginAttempts;

pub struct NewAttempt<'a> {
    pub user_id: Option<UserId>,
    pub company_id: Option<CompanyId>,
    pub email: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub platform: Option<&'a str>,
    pub success: bool,
    pub failure_reason: Option<&'a str>,
}

/// Writes an attempt; returns its id, for [`set_outcome`].
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record(db: impl Exec, attempt: NewAttempt<'_>) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let insert = Query::insert()
        .into_table(LoginAttempts::Table)
        .columns([
            LoginAttempts::Id,
            LoginAttempts::UserId,
            LoginAttempts::CompanyId,
            LoginAttempts::Email,
            LoginAttempts::Ip,
            LoginAttempts::UserAgent,
            LoginAttempts::Platform,
            LoginAttempts::Success,
            LoginAttempts::FailureReason,
            LoginAttempts::CreatedAt,
        ])
        .values_panic([
            id.into(),
            attempt.user_id.map(|u| u.0).into(),
            attempt.company_id.map(|c| c.0).into(),
            attempt.email.into(),
            attempt.ip.into(),
            attempt.user_agent.into(),
            attempt.platform.map(str::to_owned).into(),
            attempt.success.into(),
            attempt.failure_reason.map(str::to_owned).into(),
            Utc::now().into(),
        ])
        .to_owned();
    db.execute(&insert).await?;
    Ok(id)
}

/// Changes the outcome of an attempt written before its password was checked.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_outcome(
    db: impl Exec,
    id: Uuid,
    success: bool,
    failure_reason: Option<&str>,
) -> Result<()> {
    let update = Query::update()
        .table(LoginAttempts::Table)
        .value(LoginAttempts::Success, success)
        .value(
            LoginAttempts::FailureReason,
            failure_reason.map(str::to_owned),
        )
        .and_where(Expr::col(LoginAttempts::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TimeRow {
    created_at: DateTime<Utc>,
}

/// Times of counted failures for an email since `since` and after its last success,
/// oldest first. Throttled attempts are not counted, so a lock cannot extend itself.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn failures_for_email(
    db: impl Exec + Copy,
    email: &str,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let last_success = Query::select()
        .column(LoginAttempts::CreatedAt)
        .from(LoginAttempts::Table)
        .and_where(Expr::col(LoginAttempts::Email).eq(email))
        .and_where(Expr::col(LoginAttempts::Success).eq(true))
        .order_by(LoginAttempts::CreatedAt, Order::Desc)
        .limit(1)
        .to_owned();
    let success: Option<TimeRow> = db.fetch_optional(&last_success).await?;
    let since = success.map_or(since, |s| Ord::max(s.created_at, since));
    failures(db, Expr::col(LoginAttempts::Email).eq(email), since).await
}

/// Times of counted failures from one IP address since `since`, oldest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn failures_for_ip(
    db: impl Exec,
    ip: &str,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    failures(db, Expr::col(LoginAttempts::Ip).eq(ip), since).await
}

async fn failures(
    db: impl Exec,
    filter: sea_query::Expr,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let select = Query::select()
        .column(LoginAttempts::CreatedAt)
        .from(LoginAttempts::Table)
        .and_where(filter)
        .and_where(Expr::col(LoginAttempts::Success).eq(false))
        .and_where(Expr::col(LoginAttempts::FailureReason).ne("throttled"))
        .and_where(Expr::col(LoginAttempts::CreatedAt).gt(since))
        .order_by(LoginAttempts::CreatedAt, Order::Asc)
        .to_owned();
    let rows: Vec<TimeRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(|r| r.created_at).collect())
}

/// One entry of a user's own login history.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct LoginEntry {
    pub created_at: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
    pub platform: Option<String>,
    pub success: bool,
    pub failure_reason: Option<String>,
}

/// A user's login history between two times, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn for_user(
    db: impl Exec,
    user: UserId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: u32,
) -> Result<Vec<LoginEntry>> {
    let mut select = Query::select();
    select
        .columns([
            LoginAttempts::CreatedAt,
            LoginAttempts::Ip,
            LoginAttempts::UserAgent,
            LoginAttempts::Platform,
            LoginAttempts::Success,
            LoginAttempts::FailureReason,
        ])
        .from(LoginAttempts::Table)
        .and_where(Expr::col(LoginAttempts::UserId).eq(user.0))
        .order_by(LoginAttempts::CreatedAt, Order::Desc)
        .limit(u64::from(limit.clamp(1, 500)));
    if let Some(from) = from {
        select.and_where(Expr::col(LoginAttempts::CreatedAt).gte(from));
    }
    if let Some(to) = to {
        select.and_where(Expr::col(LoginAttempts::CreatedAt).lte(to));
    }
    db.fetch_all(&select).await
}

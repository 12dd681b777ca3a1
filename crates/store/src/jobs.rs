//! The durable job queue. Jobs are enqueued in the transaction of the change that causes
//! them (transactional outbox) and claimed by workers under a lease: a worker that dies
//! mid-job loses its lease and another worker takes the job again after `locked_until`.
//! PostgreSQL claims with `FOR UPDATE SKIP LOCKED` so concurrent workers never block on
//! each other; SQLite's single writer makes the claim atomic by itself.

use chrono::{DateTime, Utc};
use domain::job::{Job, JobStatus, NewJob};
use domain::{CompanyId, JobId};
use sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use sqlx::types::Json;

use crate::db::{Backend, Db, Exec, Tx};
use crate::error::{Result, corrupt};
use crate::schema::Jobs;

#[derive(sqlx::FromRow)]
struct JobRow {
    id: JobId,
    company_id: Option<CompanyId>,
    kind: String,
    payload: Json<serde_json::Value>,
    status: String,
    attempts: i32,
    max_attempts: i32,
    run_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = crate::StoreError;
    fn try_from(row: JobRow) -> Result<Self> {
        Ok(Job {
            id: row.id,
            company_id: row.company_id,
            kind: row.kind,
            payload: row.payload.0,
            status: row.status.parse().map_err(corrupt)?,
            attempts: u32::try_from(row.attempts).map_err(corrupt)?,
            max_attempts: u32::try_from(row.max_attempts).map_err(corrupt)?,
            run_at: row.run_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: [Jobs; 11] = [
    Jobs::Id,
    Jobs::CompanyId,
    Jobs::Kind,
    Jobs::Payload,
    Jobs::Status,
    Jobs::Attempts,
    Jobs::MaxAttempts,
    Jobs::RunAt,
    Jobs::LastError,
    Jobs::CreatedAt,
    Jobs::UpdatedAt,
];

fn to_jobs(rows: Vec<JobRow>) -> Result<Vec<Job>> {
    rows.into_iter().map(Job::try_from).collect()
}

fn attempts_value(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Adds a job to the queue; call it inside the transaction of the change that causes it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn enqueue(tx: &mut Tx, job: NewJob) -> Result<JobId> {
    tx.noted_job();
    let id = JobId::new();
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(Jobs::Table)
        .columns([
            Jobs::Id,
            Jobs::CompanyId,
            Jobs::Kind,
            Jobs::Payload,
            Jobs::Status,
            Jobs::Attempts,
            Jobs::MaxAttempts,
            Jobs::RunAt,
            Jobs::CreatedAt,
            Jobs::UpdatedAt,
        ])
        .values_panic([
            id.0.into(),
            job.company_id.map(|c| c.0).into(),
            job.kind.into(),
            job.payload.into(),
            JobStatus::Queued.as_str().into(),
            0i32.into(),
            attempts_value(job.max_attempts).into(),
            job.run_at.unwrap_or(now).into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(id)
}

/// Claims up to `limit` due jobs for `worker` until `lease_until`, counting an attempt for
/// each. Jobs whose lease ran out after their last allowed attempt become dead letters.
#[tracing::instrument(skip(db))]
pub async fn claim(
    db: &Db,
    worker: &str,
    limit: u32,
    lease_until: DateTime<Utc>,
) -> Result<Vec<Job>> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let expire = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, JobStatus::Dead.as_str().into()),
            (
                Jobs::LastError,
                "lease expired during the final attempt".into(),
            ),
            (Jobs::LockedBy, Option::<String>::None.into()),
            (Jobs::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Jobs::Status).eq(JobStatus::Running.as_str()))
        .and_where(Expr::col(Jobs::LockedUntil).lt(now))
        .and_where(Expr::col(Jobs::Attempts).gte(Expr::col(Jobs::MaxAttempts)))
        .to_owned();
    (&mut tx).execute(&expire).await?;

    let mut due = Query::select();
    due.column(Jobs::Id)
        .from(Jobs::Table)
        .cond_where(
            Expr::col(Jobs::Status)
                .eq(JobStatus::Queued.as_str())
                .and(Expr::col(Jobs::RunAt).lte(now))
                .or(Expr::col(Jobs::Status)
                    .eq(JobStatus::Running.as_str())
                    .and(Expr::col(Jobs::LockedUntil).lt(now))),
        )
        .order_by(Jobs::RunAt, Order::Asc)
        .limit(u64::from(Ord::max(limit, 1)));
    if tx.backend() == Backend::Postgres {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let claim = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, JobStatus::Running.as_str().into()),
            (Jobs::Attempts, Expr::col(Jobs::Attempts).add(1)),
            (Jobs::LockedUntil, lease_until.into()),
            (Jobs::LockedBy, worker.into()),
            (Jobs::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Jobs::Id).in_subquery(due))
        .returning(Query::returning().columns(COLUMNS))
        .to_owned();
    let rows: Vec<JobRow> = (&mut tx).fetch_all(&claim).await?;
    tx.commit().await?;
    to_jobs(rows)
}

/// Marks a claimed job done. Returns false if `worker` no longer holds its lease.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn complete(db: &Db, id: JobId, worker: &str) -> Result<bool> {
    let update = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, JobStatus::Done.as_str().into()),
            (Jobs::LockedBy, Option::<String>::None.into()),
            (Jobs::LockedUntil, Option::<DateTime<Utc>>::None.into()),
            (Jobs::LastError, Option::<String>::None.into()),
            (Jobs::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(Jobs::Id).eq(id.0))
        .and_where(Expr::col(Jobs::LockedBy).eq(worker))
        .and_where(Expr::col(Jobs::Status).eq(JobStatus::Running.as_str()))
        .to_owned();
    Ok(db.execute(&update).await? == 1)
}

/// Records a failed attempt: back to the queue at `retry_at`, or a dead letter when
/// `retry_at` is `None` (permanent failure or attempts used up).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn fail(
    db: &Db,
    id: JobId,
    worker: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<bool> {
    let (status, run_at) = match retry_at {
        Some(at) => (JobStatus::Queued, Expr::val(at)),
        None => (JobStatus::Dead, Expr::col(Jobs::RunAt)),
    };
    let message: String = error.chars().take(2000).collect();
    let update = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, status.as_str().into()),
            (Jobs::RunAt, run_at),
            (Jobs::LastError, message.into()),
            (Jobs::LockedBy, Option::<String>::None.into()),
            (Jobs::LockedUntil, Option::<DateTime<Utc>>::None.into()),
            (Jobs::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(Jobs::Id).eq(id.0))
        .and_where(Expr::col(Jobs::LockedBy).eq(worker))
        .and_where(Expr::col(Jobs::Status).eq(JobStatus::Running.as_str()))
        .to_owned();
    Ok(db.execute(&update).await? == 1)
}

/// Puts a claimed job back for `at` without counting the attempt it was claimed for.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn defer(db: &Db, id: JobId, worker: &str, why: &str, at: DateTime<Utc>) -> Result<bool> {
    let message: String = why.chars().take(2000).collect();
    let update = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, JobStatus::Queued.as_str().into()),
            (Jobs::RunAt, at.into()),
            (Jobs::Attempts, Expr::col(Jobs::Attempts).sub(1)),
            (Jobs::LastError, message.into()),
            (Jobs::LockedBy, Option::<String>::None.into()),
            (Jobs::LockedUntil, Option::<DateTime<Utc>>::None.into()),
            (Jobs::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(Jobs::Id).eq(id.0))
        .and_where(Expr::col(Jobs::LockedBy).eq(worker))
        .and_where(Expr::col(Jobs::Status).eq(JobStatus::Running.as_str()))
        .to_owned();
    Ok(db.execute(&update).await? == 1)
}

/// Puts a dead letter back in the queue with a fresh set of attempts.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn retry_dead(db: &Db, id: JobId) -> Result<bool> {
    let now = Utc::now();
    let update = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, JobStatus::Queued.as_str().into()),
            (Jobs::Attempts, 0i32.into()),
            (Jobs::RunAt, now.into()),
            (Jobs::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Jobs::Id).eq(id.0))
        .and_where(Expr::col(Jobs::Status).eq(JobStatus::Dead.as_str()))
        .to_owned();
    Ok(db.execute(&update).await? == 1)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(db: impl Exec, id: JobId) -> Result<Job> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::Id).eq(id.0))
        .to_owned();
    let row: Option<JobRow> = db.fetch_optional(&select).await?;
    row.ok_or(crate::StoreError::NotFound)?.try_into()
}

/// Jobs in one status, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(db: impl Exec, status: JobStatus, limit: u32) -> Result<Vec<Job>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::Status).eq(status.as_str()))
        .order_by(Jobs::UpdatedAt, Order::Desc)
        .limit(u64::from(limit.clamp(1, 500)))
        .to_owned();
    to_jobs(db.fetch_all(&select).await?)
}

#[derive(sqlx::FromRow)]
struct CountRow {
    status: String,
    n: i64,
}

/// How many jobs are in each status (for `/metrics` and the operations page).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn counts(db: impl Exec) -> Result<Vec<(JobStatus, i64)>> {
    let select = Query::select()
        .column(Jobs::Status)
        .expr_as(Expr::col(Jobs::Id).count(), sea_query::Alias::new("n"))
        .from(Jobs::Table)
        .group_by_col(Jobs::Status)
        .to_owned();
    let rows: Vec<CountRow> = db.fetch_all(&select).await?;
    rows.into_iter()
        .map(|row| Ok((row.status.parse().map_err(corrupt)?, row.n)))
        .collect()
}

/// The company's jobs of `kind` still queued or running, newest first (at most `limit`).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn pending(
    db: impl Exec,
    company: CompanyId,
    kind: &str,
    limit: u32,
) -> Result<Vec<Job>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::CompanyId).eq(company.0))
        .and_where(Expr::col(Jobs::Kind).eq(kind))
        .and_where(
            Expr::col(Jobs::Status)
                .is_in([JobStatus::Queued.as_str(), JobStatus::Running.as_str()]),
        )
        .order_by(Jobs::CreatedAt, Order::Desc)
        .limit(u64::from(limit))
        .to_owned();
    let rows: Vec<JobRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

//! Workflow design objects (workflow, task, transition, ticket type) and the published,
//! immutable workflow versions. Every function takes the company: design objects of
//! another tenant are `NotFound`.

use chrono::{DateTime, Utc};
use domain::ids::{DesignObjectId, WorkflowId, WorkflowVersionId};
use domain::{CompanyId, UserId};
use sea_query::{Expr, ExprTrait, Func, Order, Query, SelectStatement};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::{DesignObjects, WorkflowVersions};

/// One design object as stored.
#[derive(Clone, Debug)]
pub struct DesignObject {
    pub id: DesignObjectId,
    pub company_id: CompanyId,
    /// The workflow it belongs to; a workflow's own id for a workflow.
    pub workflow_id: WorkflowId,
    pub kind: String,
    pub key: String,
    pub title: String,
    pub status: String,
    pub version: i32,
    pub spec: Value,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ObjectRow {
    id: DesignObjectId,
    company_id: CompanyId,
    workflow_id: WorkflowId,
    kind: String,
    key: String,
    title: String,
    status: String,
    version: i32,
    spec: Json<Value>,
    created_by: UserId,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ObjectRow> for DesignObject {
    fn from(row: ObjectRow) -> Self {
        Self {
            id: row.id,
            company_id: row.company_id,
            workflow_id: row.workflow_id,
            kind: row.kind,
            key: row.key,
            title: row.title,
            status: row.status,
            version: row.version,
            spec: row.spec.0,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const COLUMNS: [DesignObjects; 12] = [
    DesignObjects::Id,
    DesignObjects::CompanyId,
    DesignObjects::WorkflowId,
    DesignObjects::Kind,
    DesignObjects::Key,
    DesignObjects::Title,
    DesignObjects::Status,
    DesignObjects::Version,
    DesignObjects::Spec,
    DesignObjects::CreatedBy,
    DesignObjects::CreatedAt,
    DesignObjects::UpdatedAt,
];

pub struct NewDesignObject<'a> {
    pub id: DesignObjectId,
    pub company_id: CompanyId,
    pub workflow_id: WorkflowId,
    pub kind: &'a str,
    pub key: &'a str,
    pub title: &'a str,
    pub status: &'a str,
    pub spec: &'a Value,
    pub created_by: UserId,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, new: NewDesignObject<'_>) -> Result<DesignObject> {
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(DesignObjects::Table)
        .columns(COLUMNS)
        .values_panic([
            new.id.into(),
            new.company_id.0.into(),
            new.workflow_id.into(),
            new.kind.into(),
            new.key.into(),
            new.title.into(),
            new.status.into(),
            1.into(),
            new.spec.clone().into(),
            new.created_by.0.into(),
            now.into(),
            now.into(),
        ])
        .returning(Query::returning().columns(COLUMNS))
        .to_owned();
    let row: Option<ObjectRow> = tx.fetch_optional(&insert).await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get(
    db: impl Exec,
    company: CompanyId,
    kind: &str,
    id: impl Into<DesignObjectId>,
) -> Result<DesignObject> {
    let id: DesignObjectId = id.into();
    let select = Query::select()
        .columns(COLUMNS)
        .from(DesignObjects::Table)
        .and_where(Expr::col(DesignObjects::CompanyId).eq(company.0))
        .and_where(Expr::col(DesignObjects::Kind).eq(kind))
        .and_where(Expr::col(DesignObjects::Id).eq(id))
        .to_owned();
    let row: Option<ObjectRow> = db.fetch_optional(&select).await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// Filters of a design object list.
#[derive(Clone, Debug, Default)]
pub struct DesignFilter {
    pub status: Option<String>,
    pub workflow: Option<WorkflowId>,
    /// Case-insensitive substring of the title or key.
    pub q: Option<String>,
    /// Continue after this object (ids are time-ordered UUIDv7).
    pub after: Option<Uuid>,
    pub limit: u32,
}

/// A company's objects of one kind, oldest first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(
    db: impl Exec,
    company: CompanyId,
    kind: &str,
    filter: &DesignFilter,
) -> Result<Vec<DesignObject>> {
    let mut select = Query::select()
        .columns(COLUMNS)
        .from(DesignObjects::Table)
        .order_by(DesignObjects::Id, Order::Asc)
        .limit(u64::from(filter.limit.clamp(1, 1000)))
        .to_owned();
    filtered(&mut select, company, kind, filter);
    if let Some(after) = filter.after {
        select.and_where(Expr::col(DesignObjects::Id).gt(after));
    }
    let rows: Vec<ObjectRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// How many objects a list's filter finds, over all its pages.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn count(
    db: impl Exec,
    company: CompanyId,
    kind: &str,
    filter: &DesignFilter,
) -> Result<i64> {
    let mut select = Query::select().from(DesignObjects::Table).to_owned();
    filtered(&mut select, company, kind, filter);
    crate::db::count(db, select, DesignObjects::Id).await
}

/// The conditions of a list's filter (not its page).
fn filtered(select: &mut SelectStatement, company: CompanyId, kind: &str, filter: &DesignFilter) {
    select
        .and_where(Expr::col(DesignObjects::CompanyId).eq(company.0))
        .and_where(Expr::col(DesignObjects::Kind).eq(kind));
    if let Some(status) = &filter.status {
        select.and_where(Expr::col(DesignObjects::Status).eq(status.as_str()));
    }
    if let Some(workflow) = filter.workflow {
        select.and_where(Expr::col(DesignObjects::WorkflowId).eq(workflow));
    }
    if let Some(q) = &filter.q {
        // Wildcards typed by the user are dropped rather than escaped: one rule for both
        // backends, and a search for `50%` still finds `50% off`.
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        select.and_where(
            Expr::expr(Func::lower(Expr::col(DesignObjects::Title)))
                .like(pattern.clone())
                .or(Expr::expr(Func::lower(Expr::col(DesignObjects::Key))).like(pattern)),
        );
    }
}

/// Every object of one workflow (itself included), oldest first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn of_workflow(
    db: impl Exec,
    company: CompanyId,
    workflow: WorkflowId,
) -> Result<Vec<DesignObject>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(DesignObjects::Table)
        .and_where(Expr::col(DesignObjects::CompanyId).eq(company.0))
        .and_where(Expr::col(DesignObjects::WorkflowId).eq(workflow))
        .order_by(DesignObjects::CreatedAt, Order::Asc)
        .order_by(DesignObjects::Id, Order::Asc)
        .to_owned();
    let rows: Vec<ObjectRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// New content of an object; its version goes up by one.
pub struct DesignChange<'a> {
    pub key: &'a str,
    pub title: &'a str,
    pub status: &'a str,
    pub spec: &'a Value,
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn update(
    tx: &mut Tx,
    company: CompanyId,
    id: impl Into<DesignObjectId>,
    change: DesignChange<'_>,
) -> Result<DesignObject> {
    let id: DesignObjectId = id.into();
    let update = Query::update()
        .table(DesignObjects::Table)
        .value(DesignObjects::Key, change.key)
        .value(DesignObjects::Title, change.title)
        .value(DesignObjects::Status, change.status)
        .value(DesignObjects::Spec, change.spec.clone())
        .value(
            DesignObjects::Version,
            Expr::col(DesignObjects::Version).add(1),
        )
        .value(DesignObjects::UpdatedAt, Utc::now())
        .and_where(Expr::col(DesignObjects::CompanyId).eq(company.0))
        .and_where(Expr::col(DesignObjects::Id).eq(id))
        .returning(Query::returning().columns(COLUMNS))
        .to_owned();
    let row: Option<ObjectRow> = tx.fetch_optional(&update).await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// Sets the status of every object of a workflow (publishing, deprecating, archiving).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn set_workflow_status(
    tx: &mut Tx,
    company: CompanyId,
    workflow: WorkflowId,
    status: &str,
) -> Result<u64> {
    let update = Query::update()
        .table(DesignObjects::Table)
        .value(DesignObjects::Status, status)
        .value(DesignObjects::UpdatedAt, Utc::now())
        .and_where(Expr::col(DesignObjects::CompanyId).eq(company.0))
        .and_where(Expr::col(DesignObjects::WorkflowId).eq(workflow))
        .to_owned();
    tx.execute(&update).await
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn delete(tx: &mut Tx, company: CompanyId, id: impl Into<DesignObjectId>) -> Result<()> {
    let id: DesignObjectId = id.into();
    let delete = Query::delete()
        .from_table(DesignObjects::Table)
        .and_where(Expr::col(DesignObjects::CompanyId).eq(company.0))
        .and_where(Expr::col(DesignObjects::Id).eq(id))
        .to_owned();
    if tx.execute(&delete).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes a whole workflow with its tasks, transitions and ticket types.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn delete_workflow(tx: &mut Tx, company: CompanyId, workflow: WorkflowId) -> Result<()> {
    let delete = Query::delete()
        .from_table(DesignObjects::Table)
        .and_where(Expr::col(DesignObjects::CompanyId).eq(company.0))
        .and_where(Expr::col(DesignObjects::WorkflowId).eq(workflow))
        .to_owned();
    if tx.execute(&delete).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

// ---- Published versions

#[derive(Clone, Debug)]
pub struct WorkflowVersion {
    pub id: WorkflowVersionId,
    pub company_id: CompanyId,
    pub workflow_id: WorkflowId,
    pub version: i32,
    pub status: String,
    pub snapshot: Value,
    pub published_by: UserId,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: WorkflowVersionId,
    company_id: CompanyId,
    workflow_id: WorkflowId,
    version: i32,
    status: String,
    snapshot: Json<Value>,
    published_by: UserId,
    published_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<VersionRow> for WorkflowVersion {
    fn from(row: VersionRow) -> Self {
        Self {
            id: row.id,
            company_id: row.company_id,
            workflow_id: row.workflow_id,
            version: row.version,
            status: row.status,
            snapshot: row.snapshot.0,
            published_by: row.published_by,
            published_at: row.published_at,
            updated_at: row.updated_at,
        }
    }
}

const VERSION_COLUMNS: [WorkflowVersions; 9] = [
    WorkflowVersions::Id,
    WorkflowVersions::CompanyId,
    WorkflowVersions::WorkflowId,
    WorkflowVersions::Version,
    WorkflowVersions::Status,
    WorkflowVersions::Snapshot,
    WorkflowVersions::PublishedBy,
    WorkflowVersions::PublishedAt,
    WorkflowVersions::UpdatedAt,
];

pub struct NewVersion<'a> {
    pub company_id: CompanyId,
    pub workflow_id: WorkflowId,
    pub version: i32,
    pub status: &'a str,
    pub snapshot: &'a Value,
    pub published_by: UserId,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_version(tx: &mut Tx, new: NewVersion<'_>) -> Result<WorkflowVersion> {
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(WorkflowVersions::Table)
        .columns(VERSION_COLUMNS)
        .values_panic([
            Uuid::now_v7().into(),
            new.company_id.0.into(),
            new.workflow_id.into(),
            new.version.into(),
            new.status.into(),
            new.snapshot.clone().into(),
            new.published_by.0.into(),
            now.into(),
            now.into(),
        ])
        .returning(Query::returning().columns(VERSION_COLUMNS))
        .to_owned();
    let row: Option<VersionRow> = tx.fetch_optional(&insert).await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// The published versions of a workflow, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn versions(
    db: impl Exec,
    company: CompanyId,
    workflow: WorkflowId,
) -> Result<Vec<WorkflowVersion>> {
    let select = Query::select()
        .columns(VERSION_COLUMNS)
        .from(WorkflowVersions::Table)
        .and_where(Expr::col(WorkflowVersions::CompanyId).eq(company.0))
        .and_where(Expr::col(WorkflowVersions::WorkflowId).eq(workflow))
        .order_by(WorkflowVersions::Version, Order::Desc)
        .to_owned();
    let rows: Vec<VersionRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The company's ACTIVE published versions (at most one per workflow), for submission.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn active_versions(db: impl Exec, company: CompanyId) -> Result<Vec<WorkflowVersion>> {
    let select = Query::select()
        .columns(VERSION_COLUMNS)
        .from(WorkflowVersions::Table)
        .and_where(Expr::col(WorkflowVersions::CompanyId).eq(company.0))
        .and_where(Expr::col(WorkflowVersions::Status).eq("ACTIVE"))
        .order_by(WorkflowVersions::PublishedAt, Order::Asc)
        .to_owned();
    let rows: Vec<VersionRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One published version by id (a ticket's pinned version).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn version_by_id(
    db: impl Exec,
    company: CompanyId,
    id: WorkflowVersionId,
) -> Result<WorkflowVersion> {
    let select = Query::select()
        .columns(VERSION_COLUMNS)
        .from(WorkflowVersions::Table)
        .and_where(Expr::col(WorkflowVersions::CompanyId).eq(company.0))
        .and_where(Expr::col(WorkflowVersions::Id).eq(id))
        .to_owned();
    let row: Option<VersionRow> = db.fetch_optional(&select).await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// Changes the status of published versions of a workflow that are now `from`.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn set_version_status(
    tx: &mut Tx,
    company: CompanyId,
    workflow: WorkflowId,
    from: &[&str],
    to: &str,
) -> Result<u64> {
    let update = Query::update()
        .table(WorkflowVersions::Table)
        .value(WorkflowVersions::Status, to)
        .value(WorkflowVersions::UpdatedAt, Utc::now())
        .and_where(Expr::col(WorkflowVersions::CompanyId).eq(company.0))
        .and_where(Expr::col(WorkflowVersions::WorkflowId).eq(workflow))
        .and_where(Expr::col(WorkflowVersions::Status).is_in(from.iter().copied()))
        .to_owned();
    tx.execute(&update).await
}

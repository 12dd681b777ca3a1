//! Companies (tenants) and their company roles.

use chrono::{DateTime, Utc};
use domain::company::{Company, CompanyRole, CompanyStatus, DataLimits};
use domain::ids::CompanyRoleId;
use domain::{CompanyId, UserId};
use sea_query::{Expr, ExprTrait, Order, Query};
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::{Companies, CompanyRoles, UserCompanyRoles};

#[derive(sqlx::FromRow)]
struct CompanyRow {
    id: CompanyId,
    name: String,
    status: String,
    invite_code: String,
    data_max_bytes: Option<i64>,
    data_max_nodes: Option<i64>,
    created_at: DateTime<Utc>,
}

impl TryFrom<CompanyRow> for Company {
    type Error = StoreError;
    fn try_from(row: CompanyRow) -> Result<Self> {
        Ok(Company {
            id: row.id,
            name: row.name,
            status: CompanyStatus::parse(&row.status).ok_or_else(|| corrupt(&row.status))?,
            invite_code: row.invite_code,
            data_limits: DataLimits {
                max_bytes: row.data_max_bytes.and_then(|v| u64::try_from(v).ok()),
                max_nodes: row.data_max_nodes.and_then(|v| u64::try_from(v).ok()),
            },
            created_at: row.created_at,
        })
    }
}

const COMPANY_COLUMNS: [Companies; 7] = [
    Companies::Id,
    Companies::Name,
    Companies::Status,
    Companies::InviteCode,
    Companies::DataMaxBytes,
    Companies::DataMaxNodes,
    Companies::CreatedAt,
];

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, name: &str, invite_code: &str) -> Result<Company> {
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(Companies::Table)
        .columns([
            Companies::Id,
            Companies::Name,
            Companies::Status,
            Companies::InviteCode,
            Companies::CreatedAt,
            Companies::UpdatedAt,
        ])
        .values_panic([
            CompanyId::new().0.into(),
            name.into(),
            CompanyStatus::Active.as_str().into(),
            invite_code.into(),
            now.into(),
            now.into(),
        ])
        .returning(Query::returning().columns(COMPANY_COLUMNS))
        .to_owned();
    let row: Option<CompanyRow> = tx.fetch_optional(&insert).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(db: impl Exec, id: CompanyId) -> Result<Company> {
    let select = Query::select()
        .columns(COMPANY_COLUMNS)
        .from(Companies::Table)
        .and_where(Expr::col(Companies::Id).eq(id.0))
        .to_owned();
    let row: Option<CompanyRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_by_invite_code(db: impl Exec, code: &str) -> Result<Option<Company>> {
    let select = Query::select()
        .columns(COMPANY_COLUMNS)
        .from(Companies::Table)
        .and_where(Expr::col(Companies::InviteCode).eq(code))
        .to_owned();
    let row: Option<CompanyRow> = db.fetch_optional(&select).await?;
    row.map(Company::try_from).transpose()
}

/// Every company, newest first (platform staff only).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(db: impl Exec, after: Option<CompanyId>, limit: u32) -> Result<Vec<Company>> {
    let mut select = Query::select()
        .columns(COMPANY_COLUMNS)
        .from(Companies::Table)
        .order_by(Companies::Id, Order::Desc)
        .limit(u64::from(limit.clamp(1, 1000)))
        .to_owned();
    if let Some(after) = after {
        select.and_where(Expr::col(Companies::Id).lt(after.0));
    }
    let rows: Vec<CompanyRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(Company::try_from).collect()
}

/// How many companies there are.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn count(db: impl Exec) -> Result<i64> {
    let select = Query::select().from(Companies::Table).to_owned();
    crate::db::count(db, select, Companies::Id).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_status(tx: &mut Tx, id: CompanyId, status: CompanyStatus) -> Result<()> {
    let update = Query::update()
        .table(Companies::Table)
        .values([
            (Companies::Status, status.as_str().into()),
            (Companies::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(Companies::Id).eq(id.0))
        .to_owned();
    if tx.execute(&update).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Sets (or with `None` unsets) the company's own bounds of ticket data.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_data_limits(tx: &mut Tx, id: CompanyId, limits: DataLimits) -> Result<()> {
    let as_sql = |v: Option<u64>| v.and_then(|v| i64::try_from(v).ok());
    let update = Query::update()
        .table(Companies::Table)
        .values([
            (Companies::DataMaxBytes, as_sql(limits.max_bytes).into()),
            (Companies::DataMaxNodes, as_sql(limits.max_nodes).into()),
            (Companies::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(Companies::Id).eq(id.0))
        .to_owned();
    if tx.execute(&update).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_invite_code(tx: &mut Tx, id: CompanyId, code: &str) -> Result<()> {
    let update = Query::update()
        .table(Companies::Table)
        .values([
            (Companies::InviteCode, code.into()),
            (Companies::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(Companies::Id).eq(id.0))
        .to_owned();
    tx.execute(&update).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: CompanyRoleId,
    company_id: CompanyId,
    name: String,
    description: String,
    is_default: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<RoleRow> for CompanyRole {
    fn from(row: RoleRow) -> Self {
        CompanyRole {
            id: row.id,
            company_id: row.company_id,
            name: row.name,
            description: row.description,
            is_default: row.is_default,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const ROLE_COLUMNS: [CompanyRoles; 7] = [
    CompanyRoles::Id,
    CompanyRoles::CompanyId,
    CompanyRoles::Name,
    CompanyRoles::Description,
    CompanyRoles::IsDefault,
    CompanyRoles::CreatedAt,
    CompanyRoles::UpdatedAt,
];

/// Creates a company role; a duplicate name is `company_roles_company_id_name_key`.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn insert_role(
    tx: &mut Tx,
    company: CompanyId,
    name: &str,
    description: &str,
    is_default: bool,
) -> Result<CompanyRole> {
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(CompanyRoles::Table)
        .columns([
            CompanyRoles::Id,
            CompanyRoles::CompanyId,
            CompanyRoles::Name,
            CompanyRoles::Description,
            CompanyRoles::IsDefault,
            CompanyRoles::CreatedAt,
            CompanyRoles::UpdatedAt,
        ])
        .values_panic([
            Uuid::now_v7().into(),
            company.0.into(),
            name.into(),
            description.into(),
            is_default.into(),
            now.into(),
            now.into(),
        ])
        .returning(Query::returning().columns(ROLE_COLUMNS))
        .to_owned();
    let row: Option<RoleRow> = tx.fetch_optional(&insert).await?;
    Ok(row.ok_or(StoreError::NotFound)?.into())
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list_roles(db: impl Exec, company: CompanyId) -> Result<Vec<CompanyRole>> {
    let select = Query::select()
        .columns(ROLE_COLUMNS)
        .from(CompanyRoles::Table)
        .and_where(Expr::col(CompanyRoles::CompanyId).eq(company.0))
        .order_by(CompanyRoles::Name, Order::Asc)
        .to_owned();
    let rows: Vec<RoleRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(CompanyRole::from).collect())
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get_role(db: impl Exec, company: CompanyId, id: CompanyRoleId) -> Result<CompanyRole> {
    find_role(db, company, Expr::col(CompanyRoles::Id).eq(id)).await
}

/// The company's default role `user`.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn default_role(db: impl Exec, company: CompanyId) -> Result<CompanyRole> {
    find_role(db, company, Expr::col(CompanyRoles::IsDefault).eq(true)).await
}

async fn find_role(db: impl Exec, company: CompanyId, condition: Expr) -> Result<CompanyRole> {
    let select = Query::select()
        .columns(ROLE_COLUMNS)
        .from(CompanyRoles::Table)
        .and_where(Expr::col(CompanyRoles::CompanyId).eq(company.0))
        .and_where(condition)
        .to_owned();
    let row: Option<RoleRow> = db.fetch_optional(&select).await?;
    Ok(row.ok_or(StoreError::NotFound)?.into())
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn update_role(
    tx: &mut Tx,
    company: CompanyId,
    id: CompanyRoleId,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<()> {
    let mut update = Query::update();
    update
        .table(CompanyRoles::Table)
        .value(CompanyRoles::UpdatedAt, Utc::now())
        .and_where(Expr::col(CompanyRoles::CompanyId).eq(company.0))
        .and_where(Expr::col(CompanyRoles::Id).eq(id));
    if let Some(name) = name {
        update.value(CompanyRoles::Name, name);
    }
    if let Some(description) = description {
        update.value(CompanyRoles::Description, description);
    }
    if tx.execute(&update).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn delete_role(tx: &mut Tx, company: CompanyId, id: CompanyRoleId) -> Result<()> {
    let delete = Query::delete()
        .from_table(CompanyRoles::Table)
        .and_where(Expr::col(CompanyRoles::CompanyId).eq(company.0))
        .and_where(Expr::col(CompanyRoles::Id).eq(id))
        .to_owned();
    if tx.execute(&delete).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replaces the company roles a user holds.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn set_user_roles(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    roles: &[CompanyRoleId],
) -> Result<()> {
    let delete = Query::delete()
        .from_table(UserCompanyRoles::Table)
        .and_where(Expr::col(UserCompanyRoles::CompanyId).eq(company.0))
        .and_where(Expr::col(UserCompanyRoles::UserId).eq(user.0))
        .to_owned();
    tx.execute(&delete).await?;
    for role in roles {
        let insert = Query::insert()
            .into_table(UserCompanyRoles::Table)
            .columns([
                UserCompanyRoles::UserId,
                UserCompanyRoles::RoleId,
                UserCompanyRoles::CompanyId,
            ])
            .values_panic([user.0.into(), (*role).into(), company.0.into()])
            .to_owned();
        tx.execute(&insert).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct NameRow {
    name: String,
}

/// The company's role grants joined to the roles they grant.
fn held_roles(company: CompanyId) -> sea_query::SelectStatement {
    Query::select()
        .from(UserCompanyRoles::Table)
        .inner_join(
            CompanyRoles::Table,
            Expr::col((CompanyRoles::Table, CompanyRoles::Id))
                .equals((UserCompanyRoles::Table, UserCompanyRoles::RoleId)),
        )
        .and_where(Expr::col((UserCompanyRoles::Table, UserCompanyRoles::CompanyId)).eq(company.0))
        .and_where(Expr::col((CompanyRoles::Table, CompanyRoles::CompanyId)).eq(company.0))
        .to_owned()
}

/// A subquery for `EXISTS`: the user of the outer query's `users` row holds one of the
/// company roles named `names`.
pub(crate) fn holding_any(company: CompanyId, names: &[String]) -> sea_query::SelectStatement {
    held_roles(company)
        .expr(Expr::val(1))
        .and_where(
            Expr::col((UserCompanyRoles::Table, UserCompanyRoles::UserId))
                .equals((crate::schema::Users::Table, crate::schema::Users::Id)),
        )
        .and_where(
            Expr::col((CompanyRoles::Table, CompanyRoles::Name)).is_in(names.iter().cloned()),
        )
        .to_owned()
}

/// Names of the company roles a user holds.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn user_role_names(
    db: impl Exec,
    company: CompanyId,
    user: UserId,
) -> Result<Vec<String>> {
    let select = held_roles(company)
        .column((CompanyRoles::Table, CompanyRoles::Name))
        .and_where(Expr::col((UserCompanyRoles::Table, UserCompanyRoles::UserId)).eq(user.0))
        .order_by((CompanyRoles::Table, CompanyRoles::Name), Order::Asc)
        .to_owned();
    let rows: Vec<NameRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

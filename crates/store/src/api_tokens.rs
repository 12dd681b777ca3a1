//! API tokens for integrations. Each token has its own service user, so everything it does
//! is attributed like a person's actions.

use chrono::{DateTime, Utc};
use domain::ids::ApiTokenId;
use domain::{CompanyId, UserId};
use sea_query::{Expr, ExprTrait, Order, Query};
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::ApiTokens;

/// An API token as listed (never with its secret).
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub company_id: CompanyId,
    pub user_id: UserId,
    pub name: String,
    pub created_by: UserId,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: [ApiTokens; 9] = [
    ApiTokens::Id,
    ApiTokens::CompanyId,
    ApiTokens::UserId,
    ApiTokens::Name,
    ApiTokens::CreatedBy,
    ApiTokens::ExpiresAt,
    ApiTokens::RevokedAt,
    ApiTokens::LastUsedAt,
    ApiTokens::CreatedAt,
];

pub struct NewApiToken<'a> {
    pub company_id: CompanyId,
    pub user_id: UserId,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub created_by: UserId,
    pub expires_at: Option<DateTime<Utc>>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, token: NewApiToken<'_>) -> Result<ApiToken> {
    let insert = Query::insert()
        .into_table(ApiTokens::Table)
        .columns([
            ApiTokens::Id,
            ApiTokens::CompanyId,
            ApiTokens::UserId,
            ApiTokens::Name,
            ApiTokens::TokenHash,
            ApiTokens::CreatedBy,
            ApiTokens::ExpiresAt,
            ApiTokens::CreatedAt,
        ])
        .values_panic([
            Uuid::now_v7().into(),
            token.company_id.0.into(),
            token.user_id.0.into(),
            token.name.into(),
            token.token_hash.into(),
            token.created_by.0.into(),
            token.expires_at.into(),
            Utc::now().into(),
        ])
        .returning(Query::returning().columns(COLUMNS))
        .to_owned();
    let row: Option<ApiToken> = tx.fetch_optional(&insert).await?;
    row.ok_or(StoreError::NotFound)
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(
    db: impl Exec,
    company: CompanyId,
    after: Option<ApiTokenId>,
    limit: u32,
) -> Result<Vec<ApiToken>> {
    let mut select = Query::select()
        .columns(COLUMNS)
        .from(ApiTokens::Table)
        .and_where(Expr::col(ApiTokens::CompanyId).eq(company.0))
        .order_by(ApiTokens::Id, Order::Desc)
        .limit(u64::from(limit.clamp(1, 1000)))
        .to_owned();
    if let Some(after) = after {
        select.and_where(Expr::col(ApiTokens::Id).lt(after));
    }
    db.fetch_all(&select).await
}

/// How many API tokens the company has (revoked and expired ones included).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn count(db: impl Exec, company: CompanyId) -> Result<i64> {
    let select = Query::select()
        .from(ApiTokens::Table)
        .and_where(Expr::col(ApiTokens::CompanyId).eq(company.0))
        .to_owned();
    crate::db::count(db, select, ApiTokens::Id).await
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get(db: impl Exec, company: CompanyId, id: ApiTokenId) -> Result<ApiToken> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(ApiTokens::Table)
        .and_where(Expr::col(ApiTokens::CompanyId).eq(company.0))
        .and_where(Expr::col(ApiTokens::Id).eq(id))
        .to_owned();
    let row: Option<ApiToken> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_by_hash(db: impl Exec, token_hash: &str) -> Result<Option<ApiToken>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(ApiTokens::Table)
        .and_where(Expr::col(ApiTokens::TokenHash).eq(token_hash))
        .to_owned();
    db.fetch_optional(&select).await
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn revoke(tx: &mut Tx, company: CompanyId, id: ApiTokenId) -> Result<()> {
    let update = Query::update()
        .table(ApiTokens::Table)
        .value(ApiTokens::RevokedAt, Utc::now())
        .and_where(Expr::col(ApiTokens::CompanyId).eq(company.0))
        .and_where(Expr::col(ApiTokens::Id).eq(id))
        .and_where(Expr::col(ApiTokens::RevokedAt).is_null())
        .to_owned();
    if tx.execute(&update).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn touch(db: impl Exec, id: ApiTokenId) -> Result<()> {
    let update = Query::update()
        .table(ApiTokens::Table)
        .value(ApiTokens::LastUsedAt, Utc::now())
        .and_where(Expr::col(ApiTokens::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

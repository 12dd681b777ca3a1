//! Login sessions and their refresh tokens. A session is one refresh-token family: every
//! refresh uses up the presented token and issues the next one in the same session; a used
//! token presented again means it was stolen, and the whole session is revoked.

use chrono::{DateTime, Utc};
use domain::ids::SessionId;
use domain::{CompanyId, UserId};
use sea_query::{Expr, ExprTrait, Query};
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::{RefreshTokens, Sessions};

/// A session as stored.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub company_id: Option<CompanyId>,
    pub impersonator_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: [Sessions; 6] = [
    Sessions::Id,
    Sessions::UserId,
    Sessions::CompanyId,
    Sessions::ImpersonatorId,
    Sessions::CreatedAt,
    Sessions::RevokedAt,
];

pub struct NewSession<'a> {
    pub user_id: UserId,
    pub company_id: Option<CompanyId>,
    pub impersonator_id: Option<UserId>,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, session: NewSession<'_>) -> Result<SessionId> {
    let id = Uuid::now_v7();
    let insert = Query::insert()
        .into_table(Sessions::Table)
        .columns([
            Sessions::Id,
            Sessions::UserId,
            Sessions::CompanyId,
            Sessions::ImpersonatorId,
            Sessions::Ip,
            Sessions::UserAgent,
            Sessions::CreatedAt,
        ])
        .values_panic([
            id.into(),
            session.user_id.0.into(),
            session.company_id.map(|c| c.0).into(),
            session.impersonator_id.map(|u| u.0).into(),
            session.ip.into(),
            session.user_agent.into(),
            Utc::now().into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(SessionId(id))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(db: impl Exec, id: SessionId) -> Result<Session> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Sessions::Table)
        .and_where(Expr::col(Sessions::Id).eq(id))
        .to_owned();
    let row: Option<Session> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// Revokes one session (logout, token reuse).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke(db: impl Exec, id: SessionId) -> Result<()> {
    let update = Query::update()
        .table(Sessions::Table)
        .value(Sessions::RevokedAt, Utc::now())
        .and_where(Expr::col(Sessions::Id).eq(id))
        .and_where(Expr::col(Sessions::RevokedAt).is_null())
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Revokes every session of a user except `keep` (password change, block).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke_all_for_user(
    db: impl Exec,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<u64> {
    let mut update = Query::update();
    update
        .table(Sessions::Table)
        .value(Sessions::RevokedAt, Utc::now())
        .and_where(Expr::col(Sessions::UserId).eq(user.0))
        .and_where(Expr::col(Sessions::RevokedAt).is_null());
    if let Some(keep) = keep {
        update.and_where(Expr::col(Sessions::Id).ne(keep));
    }
    db.execute(&update).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_refresh_token(
    tx: &mut Tx,
    session: SessionId,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let insert = Query::insert()
        .into_table(RefreshTokens::Table)
        .columns([
            RefreshTokens::TokenHash,
            RefreshTokens::SessionId,
            RefreshTokens::ExpiresAt,
            RefreshTokens::CreatedAt,
        ])
        .values_panic([
            token_hash.into(),
            session.into(),
            expires_at.into(),
            Utc::now().into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

/// A refresh token as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RefreshToken {
    pub session_id: SessionId,
    pub used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_refresh_token(db: impl Exec, token_hash: &str) -> Result<Option<RefreshToken>> {
    let select = Query::select()
        .columns([
            RefreshTokens::SessionId,
            RefreshTokens::UsedAt,
            RefreshTokens::ExpiresAt,
        ])
        .from(RefreshTokens::Table)
        .and_where(Expr::col(RefreshTokens::TokenHash).eq(token_hash))
        .to_owned();
    db.fetch_optional(&select).await
}

/// Marks a refresh token used; false if it already was (a concurrent or replayed use).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn use_refresh_token(tx: &mut Tx, token_hash: &str) -> Result<bool> {
    let update = Query::update()
        .table(RefreshTokens::Table)
        .value(RefreshTokens::UsedAt, Utc::now())
        .and_where(Expr::col(RefreshTokens::TokenHash).eq(token_hash))
        .and_where(Expr::col(RefreshTokens::UsedAt).is_null())
        .to_owned();
    Ok(tx.execute(&update).await? == 1)
}

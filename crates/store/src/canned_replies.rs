//! A company's canned replies. Every query is scoped to the company; the shortcut is unique
//! per company by the index `canned_replies_company_id_shortcut_key`, so a taken one comes
//! back as [`StoreError::Conflict`] naming it.

use chrono::{DateTime, Utc};
use domain::canned::{CannedReply, Shortcut};
use domain::{CannedReplyId, CompanyId, UserId};
use sea_query::{Expr, ExprTrait, Func, LikeExpr, Order, Query, SelectStatement};

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::CannedReplies as C;

#[derive(sqlx::FromRow)]
struct Row {
    id: CannedReplyId,
    company_id: CompanyId,
    shortcut: String,
    title: String,
    body: String,
    sort_order: i32,
    created_at: DateTime<Utc>,
    created_by: UserId,
    updated_at: DateTime<Utc>,
    updated_by: UserId,
}

impl TryFrom<Row> for CannedReply {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self> {
        Ok(Self {
            id: row.id,
            company_id: row.company_id,
            shortcut: Shortcut::parse(&row.shortcut).map_err(|_| corrupt(&row.shortcut))?,
            title: row.title,
            body: row.body,
            sort_order: row.sort_order,
            created_at: row.created_at,
            created_by: row.created_by,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
        })
    }
}

const COLUMNS: [C; 10] = [
    C::Id,
    C::CompanyId,
    C::Shortcut,
    C::Title,
    C::Body,
    C::SortOrder,
    C::CreatedAt,
    C::CreatedBy,
    C::UpdatedAt,
    C::UpdatedBy,
];

fn select(company: CompanyId) -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(C::Table)
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .to_owned()
}

/// The company's canned replies in the order agents see them (sort order, then title),
/// those whose shortcut or title holds `q` (any case) when it is given.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(db: impl Exec, company: CompanyId, q: Option<&str>) -> Result<Vec<CannedReply>> {
    let mut select = select(company);
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        // Escaped rather than dropped: `_` is a character shortcuts are made of.
        let escaped = q
            .to_lowercase()
            .replace('!', "!!")
            .replace('%', "!%")
            .replace('_', "!_");
        let pattern = || LikeExpr::new(format!("%{escaped}%")).escape('!');
        select.and_where(
            Expr::col(C::Shortcut)
                .like(pattern())
                .or(Expr::expr(Func::lower(Expr::col(C::Title))).like(pattern())),
        );
    }
    select
        .order_by(C::SortOrder, Order::Asc)
        .order_by(C::Title, Order::Asc)
        .order_by(C::Id, Order::Asc);
    let rows: Vec<Row> = db.fetch_all(&select).await?;
    rows.into_iter().map(CannedReply::try_from).collect()
}

/// One of the company's canned replies.
pub async fn get(db: impl Exec, company: CompanyId, id: CannedReplyId) -> Result<CannedReply> {
    let select = select(company)
        .and_where(Expr::col(C::Id).eq(id))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// What a canned reply holds, checked by the caller.
pub struct Fields<'a> {
    pub shortcut: &'a Shortcut,
    pub title: &'a str,
    pub body: &'a str,
    pub sort_order: i32,
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn insert(
    tx: &mut Tx,
    company: CompanyId,
    fields: &Fields<'_>,
    by: UserId,
) -> Result<CannedReply> {
    let id = CannedReplyId::new();
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(C::Table)
        .columns(COLUMNS)
        .values_panic([
            id.into(),
            company.into(),
            fields.shortcut.as_str().into(),
            fields.title.into(),
            fields.body.into(),
            fields.sort_order.into(),
            now.into(),
            by.into(),
            now.into(),
            by.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    get(&mut *tx, company, id).await
}

/// Replaces what the canned reply holds and says who changed it.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn update(
    tx: &mut Tx,
    company: CompanyId,
    id: CannedReplyId,
    fields: &Fields<'_>,
    by: UserId,
) -> Result<CannedReply> {
    let update = Query::update()
        .table(C::Table)
        .value(C::Shortcut, fields.shortcut.as_str())
        .value(C::Title, fields.title)
        .value(C::Body, fields.body)
        .value(C::SortOrder, fields.sort_order)
        .value(C::UpdatedAt, Utc::now())
        .value(C::UpdatedBy, by)
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .and_where(Expr::col(C::Id).eq(id))
        .to_owned();
    if tx.execute(&update).await? == 0 {
        return Err(StoreError::NotFound);
    }
    get(&mut *tx, company, id).await
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn delete(tx: &mut Tx, company: CompanyId, id: CannedReplyId) -> Result<()> {
    let delete = Query::delete()
        .from_table(C::Table)
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .and_where(Expr::col(C::Id).eq(id))
        .to_owned();
    if tx.execute(&delete).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

//! Question templates: a text an agent sends into a conversation and the JSON Schema of the
//! requester's structured answer. Global templates (no company) serve every company.

use chrono::{DateTime, Utc};
use domain::CompanyId;
use sea_query::{Cond, Expr, ExprTrait, Order, Query};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::QuestionTemplates as T;

#[derive(Clone, Debug)]
pub struct Template {
    pub id: Uuid,
    /// `None` for a global template.
    pub company_id: Option<CompanyId>,
    pub title: String,
    pub text: String,
    pub schema: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    company_id: Option<CompanyId>,
    title: String,
    text: String,
    schema: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Template {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            company_id: row.company_id,
            title: row.title,
            text: row.text,
            schema: row.schema.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const COLUMNS: [T; 7] = [
    T::Id,
    T::CompanyId,
    T::Title,
    T::Text,
    T::Schema,
    T::CreatedAt,
    T::UpdatedAt,
];

/// The company's own templates and the global ones.
fn visible_to(company: CompanyId) -> Cond {
    Cond::any()
        .add(Expr::col(T::CompanyId).eq(company.0))
        .add(Expr::col(T::CompanyId).is_null())
}

/// The templates a company may use, by title.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(db: impl Exec, company: CompanyId) -> Result<Vec<Template>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(T::Table)
        .cond_where(visible_to(company))
        .order_by(T::Title, Order::Asc)
        .order_by(T::Id, Order::Asc)
        .to_owned();
    let rows: Vec<Row> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(Template::from).collect())
}

/// A template the company may use.
pub async fn get(db: impl Exec, company: CompanyId, id: Uuid) -> Result<Template> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(T::Table)
        .and_where(Expr::col(T::Id).eq(id))
        .cond_where(visible_to(company))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    row.map(Template::from).ok_or(StoreError::NotFound)
}

/// A global template with this title, if there is one (what `load-templates` keys on).
pub async fn global_by_title(db: impl Exec, title: &str) -> Result<Option<Template>> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(T::Table)
        .and_where(Expr::col(T::CompanyId).is_null())
        .and_where(Expr::col(T::Title).eq(title))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    Ok(row.map(Template::from))
}

pub async fn insert(
    tx: &mut Tx,
    company: Option<CompanyId>,
    title: &str,
    text: &str,
    schema: &Value,
) -> Result<Template> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(T::Table)
        .columns(COLUMNS)
        .values_panic([
            id.into(),
            company.map(|c| c.0).into(),
            title.into(),
            text.into(),
            schema.clone().into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    let select = Query::select()
        .columns(COLUMNS)
        .from(T::Table)
        .and_where(Expr::col(T::Id).eq(id))
        .to_owned();
    let row: Option<Row> = tx.fetch_optional(&select).await?;
    row.map(Template::from).ok_or(StoreError::NotFound)
}

/// Deletes one of the company's own templates (never a global one); whether it was there.
pub async fn delete(tx: &mut Tx, company: CompanyId, id: Uuid) -> Result<bool> {
    let delete = Query::delete()
        .from_table(T::Table)
        .and_where(Expr::col(T::CompanyId).eq(company.0))
        .and_where(Expr::col(T::Id).eq(id))
        .to_owned();
    Ok(tx.execute(&delete).await? == 1)
}

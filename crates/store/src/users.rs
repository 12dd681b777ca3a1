//! Users. Emails are unique across the whole platform because login is by email alone.

use chrono::{DateTime, Utc};
use domain::user::User;
use domain::{CompanyId, Email, SystemRole, UserId};
use sea_query::{Expr, ExprTrait, Query};
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::Users;

/// A user to insert; the password is already hashed by the caller.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub company_id: Option<CompanyId>,
    pub email: Email,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub status: domain::user::UserStatus,
    pub system_roles: Vec<SystemRole>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    company_id: Option<Uuid>,
    email: String,
    first_name: String,
    last_name: String,
    status: String,
    system_roles: Json<Vec<String>>,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self> {
        Ok(User {
            id: UserId(row.id),
            company_id: row.company_id.map(CompanyId),
            email: Email::parse(&row.email).map_err(corrupt)?,
            first_name: row.first_name,
            last_name: row.last_name,
            status: row.status.parse().map_err(corrupt)?,
            system_roles: row
                .system_roles
                .0
                .iter()
                .map(|r| r.parse().map_err(corrupt))
                .collect::<Result<_>>()?,
            last_login_at: row.last_login_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: [Users; 10] = [
    Users::Id,
    Users::CompanyId,
    Users::Email,
    Users::FirstName,
    Users::LastName,
    Users::Status,
    Users::SystemRoles,
    Users::LastLoginAt,
    Users::CreatedAt,
    Users::UpdatedAt,
];

fn roles_json(roles: &[SystemRole]) -> serde_json::Value {
    serde_json::Value::Array(
        roles
            .iter()
            .map(|r| serde_json::Value::String(r.as_str().to_owned()))
            .collect(),
    )
}

/// Inserts a user; a taken email is `Conflict { constraint: "users_email_key" }`.
pub async fn insert(tx: &mut Tx, user: NewUser) -> Result<User> {
    let id = UserId::new();
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(Users::Table)
        .columns([
            Users::Id,
            Users::CompanyId,
            Users::Email,
            Users::PasswordHash,
            Users::FirstName,
            Users::LastName,
            Users::Status,
            Users::SystemRoles,
            Users::CreatedAt,
            Users::UpdatedAt,
        ])
        .values_panic([
            id.0.into(),
            user.company_id.map(|c| c.0).into(),
            user.email.as_str().into(),
            user.password_hash.into(),
            user.first_name.into(),
            user.last_name.into(),
            user.status.as_str().into(),
            roles_json(&user.system_roles).into(),
            now.into(),
            now.into(),
        ])
        .returning(Query::returning().columns(COLUMNS))
        .to_owned();
    let row: Option<UserRow> = tx.fetch_optional(&insert).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// A user with the stored password hash, for checking a login.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

/// Finds a user by (normalised) email, with the password hash.
pub async fn find_credentials(db: impl Exec, email: &Email) -> Result<Option<Credentials>> {
    let select = Query::select()
        .columns(COLUMNS)
        .column(Users::PasswordHash)
        .from(Users::Table)
        .and_where(Expr::col(Users::Email).eq(email.as_str()))
        .to_owned();
    let row: Option<CredentialsRow> = db.fetch_optional(&select).await?;
    row.map(|row| {
        Ok(Credentials {
            user: row.user.try_into()?,
            password_hash: row.password_hash,
        })
    })
    .transpose()
}

/// A user of one company. Users of other companies are `NotFound`, like missing ones.
pub async fn get(db: impl Exec, company: CompanyId, id: UserId) -> Result<User> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::Id).eq(id.0))
        .and_where(Expr::col(Users::CompanyId).eq(company.0))
        .to_owned();
    let row: Option<UserRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// A platform staff account (no company) by id.
pub async fn get_staff(db: impl Exec, id: UserId) -> Result<User> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::Id).eq(id.0))
        .and_where(Expr::col(Users::CompanyId).is_null())
        .to_owned();
    let row: Option<UserRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// Replaces a user's password hash (e.g. `create-superuser` on an existing staff account).
pub async fn set_password_hash(tx: &mut Tx, id: UserId, hash: &str) -> Result<()> {
    let update = Query::update()
        .table(Users::Table)
        .values([
            (Users::PasswordHash, hash.into()),
            (Users::UpdatedAt, Utc::now().into()),
        ])
        .and_where(Expr::col(Users::Id).eq(id.0))
        .to_owned();
    tx.execute(&update).await?;
    Ok(())
}

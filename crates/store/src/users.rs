//! Users. Emails are unique across the whole platform because login is by email alone.

use chrono::{DateTime, Utc};
use domain::ids::SessionId;
use domain::user::User;
use domain::{CompanyId, Email, SystemRole, UserId};
use sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};
use sqlx::types::Json;

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
    pub kind: UserKind,
}

/// Who a user row stands for. Only people log in and appear in user lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserKind {
    Person,
    /// A service account behind an API token.
    Service,
    /// An external contact of a channel, so that their messages have an author like
    /// everyone else's.
    Contact,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Service => "service",
            Self::Contact => "contact",
        }
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: UserId,
    company_id: Option<CompanyId>,
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
            id: row.id,
            company_id: row.company_id,
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
#[tracing::instrument(level = "debug", skip_all)]
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
            Users::Kind,
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
            user.kind.as_str().into(),
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
#[tracing::instrument(level = "debug", skip_all)]
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
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
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
#[tracing::instrument(level = "debug", skip_all)]
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
#[tracing::instrument(level = "debug", skip_all)]
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

/// Any user by id, whatever the company (for resolving a token's subject; the caller then
/// checks the token's company matches).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_any(db: impl Exec, id: UserId) -> Result<User> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::Id).eq(id.0))
        .to_owned();
    let row: Option<UserRow> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// The person behind a session, with everything authentication checks on each request.
#[derive(Clone, Debug)]
pub struct SessionPrincipal {
    pub session: crate::sessions::Session,
    pub user: User,
    /// The status of the session's company; `None` for a staff session.
    pub company_status: Option<domain::company::CompanyStatus>,
}

#[derive(sqlx::FromRow)]
struct PrincipalRow {
    #[sqlx(flatten)]
    user: UserRow,
    session_id: SessionId,
    session_company_id: Option<CompanyId>,
    session_impersonator_id: Option<UserId>,
    session_created_at: DateTime<Utc>,
    session_revoked_at: Option<DateTime<Utc>>,
    company_status: Option<String>,
}

/// A session, its user and its company's status in one query: authentication runs on
/// every request, and three round trips to the database thread cost more than the list it
/// guards (docs/performance.md).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_session(db: impl Exec, session: SessionId) -> Result<SessionPrincipal> {
    use crate::schema::{Companies, Sessions};
    let select = Query::select()
        .columns(COLUMNS.map(|c| (Users::Table, c)))
        .expr_as(Expr::col((Sessions::Table, Sessions::Id)), "session_id")
        .expr_as(
            Expr::col((Sessions::Table, Sessions::CompanyId)),
            "session_company_id",
        )
        .expr_as(
            Expr::col((Sessions::Table, Sessions::ImpersonatorId)),
            "session_impersonator_id",
        )
        .expr_as(
            Expr::col((Sessions::Table, Sessions::CreatedAt)),
            "session_created_at",
        )
        .expr_as(
            Expr::col((Sessions::Table, Sessions::RevokedAt)),
            "session_revoked_at",
        )
        .expr_as(
            Expr::col((Companies::Table, Companies::Status)),
            "company_status",
        )
        .from(Sessions::Table)
        .inner_join(
            Users::Table,
            Expr::col((Users::Table, Users::Id)).equals((Sessions::Table, Sessions::UserId)),
        )
        .left_join(
            Companies::Table,
            Expr::col((Companies::Table, Companies::Id))
                .equals((Sessions::Table, Sessions::CompanyId)),
        )
        .and_where(Expr::col((Sessions::Table, Sessions::Id)).eq(session))
        .to_owned();
    let row: PrincipalRow = db
        .fetch_optional(&select)
        .await?
        .ok_or(StoreError::NotFound)?;
    let company_status = row
        .company_status
        .as_deref()
        .map(|s| domain::company::CompanyStatus::parse(s).ok_or_else(|| corrupt(s)))
        .transpose()?;
    let session = crate::sessions::Session {
        id: row.session_id,
        user_id: row.user.id,
        company_id: row.session_company_id,
        impersonator_id: row.session_impersonator_id,
        created_at: row.session_created_at,
        revoked_at: row.session_revoked_at,
    };
    Ok(SessionPrincipal {
        session,
        user: row.user.try_into()?,
        company_status,
    })
}

/// The stored password hash of a user of one company (or of staff when `company` is None).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn password_hash(db: impl Exec, id: UserId) -> Result<String> {
    #[derive(sqlx::FromRow)]
    struct HashRow {
        password_hash: String,
    }
    let select = Query::select()
        .column(Users::PasswordHash)
        .from(Users::Table)
        .and_where(Expr::col(Users::Id).eq(id.0))
        .to_owned();
    let row: Option<HashRow> = db.fetch_optional(&select).await?;
    Ok(row.ok_or(StoreError::NotFound)?.password_hash)
}

/// Filters for the user admin list.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub status: Option<domain::user::UserStatus>,
    pub role: Option<SystemRole>,
    /// Case-insensitive substring of email, first or last name.
    pub q: Option<String>,
    pub joined_from: Option<DateTime<Utc>>,
    pub joined_to: Option<DateTime<Utc>>,
    /// Continue after this user id (ids are time-ordered UUIDv7).
    pub after: Option<UserId>,
    pub limit: u32,
}

/// A company's people (not service accounts), newest first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(db: impl Exec, company: CompanyId, filter: &UserFilter) -> Result<Vec<User>> {
    let mut select = Query::select();
    select
        .columns(COLUMNS)
        .from(Users::Table)
        .order_by(Users::Id, Order::Desc)
        .limit(u64::from(filter.limit.clamp(1, 200)));
    filtered(&mut select, company, filter);
    if let Some(after) = filter.after {
        select.and_where(Expr::col(Users::Id).lt(after.0));
    }
    let rows: Vec<UserRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(User::try_from).collect()
}

/// How many people a list's filter finds, over all its pages.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn count(db: impl Exec, company: CompanyId, filter: &UserFilter) -> Result<i64> {
    let mut select = Query::select().from(Users::Table).to_owned();
    filtered(&mut select, company, filter);
    crate::db::count(db, select, Users::Id).await
}

/// A company's active people, or those of them among `ids` when given: whom notifications
/// are for (service accounts and channel contacts never log in to read them).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn active_people(
    db: impl Exec,
    company: CompanyId,
    ids: Option<&[UserId]>,
) -> Result<Vec<User>> {
    let mut select = Query::select();
    select
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::CompanyId).eq(company.0))
        .and_where(Expr::col(Users::Kind).eq("person"))
        .and_where(Expr::col(Users::Status).eq(domain::user::UserStatus::Active.as_str()))
        .order_by(Users::Id, Order::Asc)
        .limit(10_000);
    if let Some(ids) = ids {
        select.and_where(Expr::col(Users::Id).is_in(ids.iter().map(|u| u.0)));
    }
    let rows: Vec<UserRow> = db.fetch_all(&select).await?;
    rows.into_iter().map(User::try_from).collect()
}

/// The conditions of a list's filter (not its page).
fn filtered(select: &mut sea_query::SelectStatement, company: CompanyId, filter: &UserFilter) {
    select
        .and_where(Expr::col(Users::CompanyId).eq(company.0))
        .and_where(Expr::col(Users::Kind).eq("person"));
    if let Some(status) = filter.status {
        select.and_where(Expr::col(Users::Status).eq(status.as_str()));
    }
    if let Some(role) = filter.role {
        select.and_where(has_system_role(role));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        select.cond_where(
            Expr::expr(Func::lower(Expr::col(Users::Email)))
                .like(pattern.clone())
                .or(Expr::expr(Func::lower(Expr::col(Users::FirstName))).like(pattern.clone()))
                .or(Expr::expr(Func::lower(Expr::col(Users::LastName))).like(pattern)),
        );
    }
    if let Some(from) = filter.joined_from {
        select.and_where(Expr::col(Users::CreatedAt).gte(from));
    }
    if let Some(to) = filter.joined_to {
        select.and_where(Expr::col(Users::CreatedAt).lte(to));
    }
}

/// Whether a user row holds a system role (`system_roles` is a JSON array of names).
pub(crate) fn has_system_role(role: SystemRole) -> sea_query::Expr {
    Expr::col((Users::Table, Users::SystemRoles))
        .cast_as(Alias::new("TEXT"))
        .like(format!("%\"{}\"%", role.as_str()))
}

/// Changes of a user's own fields; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub status: Option<domain::user::UserStatus>,
    pub system_roles: Option<Vec<SystemRole>>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// Applies changes to a user of `company` (`None` = platform staff).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    db: impl Exec,
    company: Option<CompanyId>,
    id: UserId,
    changes: UserChanges,
) -> Result<()> {
    let mut update = Query::update();
    update
        .table(Users::Table)
        .value(Users::UpdatedAt, Utc::now())
        .and_where(Expr::col(Users::Id).eq(id.0));
    match company {
        Some(company) => update.and_where(Expr::col(Users::CompanyId).eq(company.0)),
        None => update.and_where(Expr::col(Users::CompanyId).is_null()),
    };
    if let Some(v) = changes.first_name {
        update.value(Users::FirstName, v);
    }
    if let Some(v) = changes.last_name {
        update.value(Users::LastName, v);
    }
    if let Some(v) = changes.status {
        update.value(Users::Status, v.as_str());
    }
    if let Some(v) = changes.system_roles {
        update.value(Users::SystemRoles, roles_json(&v));
    }
    if let Some(v) = changes.last_login_at {
        update.value(Users::LastLoginAt, v);
    }
    if db.execute(&update).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn delete(tx: &mut Tx, company: CompanyId, id: UserId) -> Result<()> {
    let delete = Query::delete()
        .from_table(Users::Table)
        .and_where(Expr::col(Users::Id).eq(id.0))
        .and_where(Expr::col(Users::CompanyId).eq(company.0))
        .to_owned();
    if tx.execute(&delete).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// How many active people of the company hold `admin`.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn count_active_admins(db: impl Exec, company: CompanyId) -> Result<i64> {
    #[derive(sqlx::FromRow)]
    struct CountRow {
        n: i64,
    }
    let select = Query::select()
        .expr_as(Expr::col(Users::Id).count(), Alias::new("n"))
        .from(Users::Table)
        .and_where(Expr::col(Users::CompanyId).eq(company.0))
        .and_where(Expr::col(Users::Kind).eq("person"))
        .and_where(Expr::col(Users::Status).eq("active"))
        .and_where(
            Expr::col(Users::SystemRoles)
                .cast_as(Alias::new("TEXT"))
                .like("%\"admin\"%"),
        )
        .to_owned();
    let row: Option<CountRow> = db.fetch_optional(&select).await?;
    Ok(row.map_or(0, |r| r.n))
}

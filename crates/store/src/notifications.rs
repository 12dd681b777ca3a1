//! Notifications: what each person was told, the pending e-mail digests, preferences and
//! quiet hours, and who follows which ticket. Every query names the company and the person.

use chrono::{DateTime, Utc};
use domain::notification::{Channels, Kind};
use domain::{CompanyId, NotificationId, TicketId, UserId};
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Order, Query, SelectStatement};
use uuid::Uuid;

use crate::db::{Exec, Tx};
use crate::error::{Result, StoreError, corrupt};
use crate::schema::{
    NotificationDefaults as D, NotificationDigests as G, NotificationPreferences as P,
    NotificationSettings as S, Notifications as N, TicketFollows as F,
};

/// A notification as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Notification {
    pub id: NotificationId,
    pub company_id: CompanyId,
    pub user_id: UserId,
    pub kind: String,
    pub subject: String,
    pub subject_label: String,
    pub title: String,
    pub body: Option<String>,
    pub link: String,
    pub event_id: i64,
    pub actor_id: Option<UserId>,
    pub in_app: bool,
    pub email: bool,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub emailed_at: Option<DateTime<Utc>>,
}

const COLUMNS: [N; 17] = [
    N::Id,
    N::CompanyId,
    N::UserId,
    N::Kind,
    N::Subject,
    N::SubjectLabel,
    N::Title,
    N::Body,
    N::Link,
    N::EventId,
    N::ActorId,
    N::InApp,
    N::Email,
    N::CreatedAt,
    N::ReadAt,
    N::SnoozedUntil,
    N::EmailedAt,
];

/// A notification to write.
#[derive(Clone, Debug)]
pub struct NewNotification<'a> {
    pub company: CompanyId,
    pub user: UserId,
    pub kind: Kind,
    /// What it is about, as a stream name (`ticket:<id>`, `conversation:<id>`, `user:<id>`).
    pub subject: &'a str,
    pub subject_label: &'a str,
    pub title: &'a str,
    pub body: Option<&'a str>,
    pub link: &'a str,
    pub event_id: i64,
    pub actor: Option<UserId>,
    pub in_app: bool,
    pub email: bool,
}

/// Writes a notification unless this person was already told of this event (a consumer
/// that reads an event again after a crash); the id when it is new.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, new: &NewNotification<'_>) -> Result<Option<NotificationId>> {
    let id = Uuid::now_v7();
    let insert = Query::insert()
        .into_table(N::Table)
        .columns([
            N::Id,
            N::CompanyId,
            N::UserId,
            N::Kind,
            N::Subject,
            N::SubjectLabel,
            N::Title,
            N::Body,
            N::Link,
            N::EventId,
            N::ActorId,
            N::InApp,
            N::Email,
            N::CreatedAt,
        ])
        .values_panic([
            id.into(),
            new.company.0.into(),
            new.user.0.into(),
            new.kind.as_str().into(),
            new.subject.into(),
            new.subject_label.into(),
            new.title.into(),
            new.body.map(str::to_owned).into(),
            new.link.into(),
            new.event_id.into(),
            new.actor.map(|a| a.0).into(),
            new.in_app.into(),
            new.email.into(),
            Utc::now().into(),
        ])
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .to_owned();
    Ok((tx.execute(&insert).await? == 1).then_some(NotificationId(id)))
}

fn of_user(company: CompanyId, user: UserId) -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(N::Table)
        .and_where(Expr::col(N::CompanyId).eq(company.0))
        .and_where(Expr::col(N::UserId).eq(user.0))
        .and_where(Expr::col(N::InApp).eq(true))
        .to_owned()
}

/// Whether a notification counts as unread now: not read and not snoozed.
fn unread_now(select: &mut SelectStatement, now: DateTime<Utc>) {
    select.and_where(Expr::col(N::ReadAt).is_null()).and_where(
        Expr::col(N::SnoozedUntil)
            .is_null()
            .or(Expr::col(N::SnoozedUntil).lte(now)),
    );
}

/// A person's notifications in the app, newest first, before `before` (an id: ids are
/// time-ordered UUIDv7).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: impl Exec,
    company: CompanyId,
    user: UserId,
    unread_only: bool,
    before: Option<NotificationId>,
    limit: u32,
) -> Result<Vec<Notification>> {
    let mut select = of_user(company, user);
    if unread_only {
        unread_now(&mut select, Utc::now());
    }
    if let Some(before) = before {
        select.and_where(Expr::col(N::Id).lt(before.0));
    }
    select
        .order_by(N::Id, Order::Desc)
        .limit(u64::from(limit.clamp(1, 200)));
    db.fetch_all(&select).await
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// The bell's number: unread, unsnoozed notifications in the app.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unread_count(db: impl Exec, company: CompanyId, user: UserId) -> Result<i64> {
    let mut select = Query::select()
        .expr_as(Expr::col(N::Id).count(), "n")
        .from(N::Table)
        .and_where(Expr::col(N::CompanyId).eq(company.0))
        .and_where(Expr::col(N::UserId).eq(user.0))
        .and_where(Expr::col(N::InApp).eq(true))
        .to_owned();
    unread_now(&mut select, Utc::now());
    let row: Option<Count> = db.fetch_optional(&select).await?;
    Ok(row.map_or(0, |r| r.n))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(
    db: impl Exec,
    company: CompanyId,
    user: UserId,
    id: NotificationId,
) -> Result<Notification> {
    let select = of_user(company, user)
        .and_where(Expr::col(N::Id).eq(id.0))
        .to_owned();
    let row: Option<Notification> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// Marks unread notifications of a person read: one, those of one subject, or all; how
/// many changed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn mark_read(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    id: Option<NotificationId>,
    subject: Option<&str>,
) -> Result<u64> {
    let mut update = Query::update();
    update
        .table(N::Table)
        .value(N::ReadAt, Utc::now())
        .and_where(Expr::col(N::CompanyId).eq(company.0))
        .and_where(Expr::col(N::UserId).eq(user.0))
        .and_where(Expr::col(N::ReadAt).is_null());
    if let Some(id) = id {
        update.and_where(Expr::col(N::Id).eq(id.0));
    }
    if let Some(subject) = subject {
        update.and_where(Expr::col(N::Subject).eq(subject));
    }
    tx.execute(&update).await
}

/// Hides one notification (and the unread others of its subject) from the unread ones
/// until `until`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn snooze(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    subject: &str,
    until: DateTime<Utc>,
) -> Result<u64> {
    let update = Query::update()
        .table(N::Table)
        .value(N::SnoozedUntil, until)
        .and_where(Expr::col(N::CompanyId).eq(company.0))
        .and_where(Expr::col(N::UserId).eq(user.0))
        .and_where(Expr::col(N::Subject).eq(subject))
        .and_where(Expr::col(N::ReadAt).is_null())
        .to_owned();
    tx.execute(&update).await
}

/// Notes that a person's notifications of `subject` are waiting for an e-mail digest due
/// at `due`; true when no digest was pending, so the caller enqueues its job.
///
/// A pending digest row is locked by the no-op update, so a digest job that takes it at the
/// same moment waits for this transaction and then reads the notification written in it
/// (PostgreSQL); a row the job already took is written again, with a new job.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_to_digest(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    subject: &str,
    due: DateTime<Utc>,
) -> Result<bool> {
    loop {
        let insert = Query::insert()
            .into_table(G::Table)
            .columns([G::UserId, G::Subject, G::CompanyId, G::DueAt])
            .values_panic([user.0.into(), subject.into(), company.0.into(), due.into()])
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .to_owned();
        if tx.execute(&insert).await? == 1 {
            return Ok(true);
        }
        let lock = Query::update()
            .table(G::Table)
            .value(G::DueAt, Expr::col(G::DueAt))
            .and_where(Expr::col(G::UserId).eq(user.0))
            .and_where(Expr::col(G::Subject).eq(subject))
            .to_owned();
        if tx.execute(&lock).await? == 1 {
            return Ok(false);
        }
    }
}

/// Takes a pending digest: the notifications of `subject` still unread and not yet
/// e-mailed that wanted e-mail, now marked e-mailed. Empty when everything was read.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn take_digest(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    subject: &str,
) -> Result<Vec<Notification>> {
    let delete = Query::delete()
        .from_table(G::Table)
        .and_where(Expr::col(G::UserId).eq(user.0))
        .and_where(Expr::col(G::Subject).eq(subject))
        .to_owned();
    tx.execute(&delete).await?;
    let select = Query::select()
        .columns(COLUMNS)
        .from(N::Table)
        .and_where(Expr::col(N::CompanyId).eq(company.0))
        .and_where(Expr::col(N::UserId).eq(user.0))
        .and_where(Expr::col(N::Subject).eq(subject))
        .and_where(Expr::col(N::Email).eq(true))
        .and_where(Expr::col(N::EmailedAt).is_null())
        .and_where(Expr::col(N::ReadAt).is_null())
        .order_by(N::Id, Order::Asc)
        .to_owned();
    let found: Vec<Notification> = (&mut *tx).fetch_all(&select).await?;
    if !found.is_empty() {
        let update = Query::update()
            .table(N::Table)
            .value(N::EmailedAt, Utc::now())
            .and_where(Expr::col(N::Id).is_in(found.iter().map(|n| n.id.0)))
            .to_owned();
        tx.execute(&update).await?;
    }
    Ok(found)
}

/// When a person's pending digest of `subject` is due, if one is pending.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn digest_due(
    db: impl Exec,
    user: UserId,
    subject: &str,
) -> Result<Option<DateTime<Utc>>> {
    #[derive(sqlx::FromRow)]
    struct Due {
        due_at: DateTime<Utc>,
    }
    let select = Query::select()
        .column(G::DueAt)
        .from(G::Table)
        .and_where(Expr::col(G::UserId).eq(user.0))
        .and_where(Expr::col(G::Subject).eq(subject))
        .to_owned();
    let row: Option<Due> = db.fetch_optional(&select).await?;
    Ok(row.map(|r| r.due_at))
}

#[derive(sqlx::FromRow)]
struct ChoiceRow {
    kind: String,
    in_app: bool,
    email: bool,
    web_push: bool,
    mobile: bool,
}

fn choices(rows: Vec<ChoiceRow>) -> Vec<(Kind, Channels)> {
    rows.into_iter()
        // A type this version no longer knows is left alone.
        .filter_map(|r| {
            Some((
                r.kind.parse().ok()?,
                Channels {
                    in_app: r.in_app,
                    email: r.email,
                    web_push: r.web_push,
                    mobile: r.mobile,
                },
            ))
        })
        .collect()
}

/// A company's own defaults (types it left alone are absent).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn company_defaults(db: impl Exec, company: CompanyId) -> Result<Vec<(Kind, Channels)>> {
    let select = Query::select()
        .columns([D::Kind, D::InApp, D::Email, D::WebPush, D::Mobile])
        .from(D::Table)
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .to_owned();
    Ok(choices(db.fetch_all(&select).await?))
}

/// A person's own choices (types they left alone are absent).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn preferences(
    db: impl Exec,
    company: CompanyId,
    user: UserId,
) -> Result<Vec<(Kind, Channels)>> {
    let select = Query::select()
        .columns([P::Kind, P::InApp, P::Email, P::WebPush, P::Mobile])
        .from(P::Table)
        .and_where(Expr::col(P::CompanyId).eq(company.0))
        .and_where(Expr::col(P::UserId).eq(user.0))
        .to_owned();
    Ok(choices(db.fetch_all(&select).await?))
}

/// Sets a company's defaults for the types given.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_company_defaults(
    tx: &mut Tx,
    company: CompanyId,
    set: &[(Kind, Channels)],
) -> Result<()> {
    let keys = [("company_id", company.0.into())];
    upsert_choices(tx, D::Table, &keys, &["company_id", "kind"], set).await
}

/// Sets a person's choices for the types given.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_preferences(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    set: &[(Kind, Channels)],
) -> Result<()> {
    let keys = [("user_id", user.0.into()), ("company_id", company.0.into())];
    upsert_choices(tx, P::Table, &keys, &["user_id", "kind"], set).await
}

/// The columns both choice tables share besides their keys.
const CHOICE_COLUMNS: [&str; 5] = ["in_app", "email", "web_push", "mobile", "updated_at"];

/// Writes choices per type into `table` (company defaults or a person's preferences), its
/// rows named by `keys` and the type, replacing those already there.
async fn upsert_choices(
    tx: &mut Tx,
    table: impl sea_query::IntoIden,
    keys: &[(&'static str, sea_query::Value)],
    unique: &[&'static str],
    set: &[(Kind, Channels)],
) -> Result<()> {
    let table = table.into_iden();
    let now = Utc::now();
    let mut columns: Vec<Alias> = keys.iter().map(|(name, _)| Alias::new(*name)).collect();
    columns.push(Alias::new("kind"));
    columns.extend(CHOICE_COLUMNS.map(Alias::new));
    for (kind, c) in set {
        let mut values: Vec<sea_query::Expr> =
            keys.iter().map(|(_, value)| value.clone().into()).collect();
        values.extend([
            kind.as_str().into(),
            c.in_app.into(),
            c.email.into(),
            c.web_push.into(),
            c.mobile.into(),
            now.into(),
        ]);
        let insert = Query::insert()
            .into_table(table.clone())
            .columns(columns.clone())
            .values_panic(values)
            .on_conflict(
                OnConflict::columns(unique.iter().map(|c| Alias::new(*c)))
                    .update_columns(CHOICE_COLUMNS.map(Alias::new))
                    .to_owned(),
            )
            .to_owned();
        tx.execute(&insert).await?;
    }
    Ok(())
}

/// A person's quiet hours as stored: start and end in minutes after midnight, time zone.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Quiet {
    pub quiet_start: Option<i32>,
    pub quiet_end: Option<i32>,
    pub time_zone: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn quiet_hours(db: impl Exec, company: CompanyId, user: UserId) -> Result<Option<Quiet>> {
    let select = Query::select()
        .columns([S::QuietStart, S::QuietEnd, S::TimeZone])
        .from(S::Table)
        .and_where(Expr::col(S::CompanyId).eq(company.0))
        .and_where(Expr::col(S::UserId).eq(user.0))
        .to_owned();
    db.fetch_optional(&select).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_quiet_hours(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    quiet: &Quiet,
) -> Result<()> {
    let insert = Query::insert()
        .into_table(S::Table)
        .columns([
            S::UserId,
            S::CompanyId,
            S::QuietStart,
            S::QuietEnd,
            S::TimeZone,
            S::UpdatedAt,
        ])
        .values_panic([
            user.0.into(),
            company.0.into(),
            quiet.quiet_start.into(),
            quiet.quiet_end.into(),
            quiet.time_zone.clone().into(),
            Utc::now().into(),
        ])
        .on_conflict(
            OnConflict::column(S::UserId)
                .update_columns([S::QuietStart, S::QuietEnd, S::TimeZone, S::UpdatedAt])
                .to_owned(),
        )
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

/// Follows a ticket (`true`) or mutes it (`false`: someone involved no longer hears of it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_follow(
    tx: &mut Tx,
    company: CompanyId,
    ticket: TicketId,
    user: UserId,
    following: bool,
) -> Result<()> {
    let insert = Query::insert()
        .into_table(F::Table)
        .columns([
            F::TicketId,
            F::UserId,
            F::CompanyId,
            F::Following,
            F::CreatedAt,
        ])
        .values_panic([
            ticket.0.into(),
            user.0.into(),
            company.0.into(),
            following.into(),
            Utc::now().into(),
        ])
        .on_conflict(
            OnConflict::columns([F::TicketId, F::UserId])
                .update_column(F::Following)
                .to_owned(),
        )
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct FollowRow {
    user_id: UserId,
    following: bool,
}

/// Who chose to follow a ticket (`true`) or to mute it (`false`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn follows(
    db: impl Exec,
    company: CompanyId,
    ticket: TicketId,
) -> Result<Vec<(UserId, bool)>> {
    let select = Query::select()
        .columns([F::UserId, F::Following])
        .from(F::Table)
        .and_where(Expr::col(F::CompanyId).eq(company.0))
        .and_where(Expr::col(F::TicketId).eq(ticket.0))
        .to_owned();
    let rows: Vec<FollowRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.following)).collect())
}

/// Checks a stored kind name, for the views.
pub fn kind_of(n: &Notification) -> Result<Kind> {
    n.kind.parse().map_err(corrupt)
}

//! Outbound deliveries (a reply to a channel, an event to a subscription), every attempt at
//! them, the health and circuit breaker of their endpoints, and event webhook
//! subscriptions.

use chrono::{DateTime, Utc};
use domain::{ChannelId, CompanyId, DeliveryId, MessageId, SubscriptionId};
use sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};
use serde_json::Value;
use uuid::Uuid;

use crate::Json;
use crate::db::{Db, Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::{Deliveries as D, DeliveryAttempts as A};

/// The endpoint a delivery goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Channel(ChannelId),
    Subscription(SubscriptionId),
}

impl Target {
    fn ids(self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            Self::Channel(id) => (Some(id.0), None),
            Self::Subscription(id) => (None, Some(id.0)),
        }
    }
}

/// A delivery as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Delivery {
    pub id: DeliveryId,
    pub company_id: CompanyId,
    pub channel_id: Option<ChannelId>,
    pub subscription_id: Option<SubscriptionId>,
    pub message_id: Option<MessageId>,
    pub event_id: Option<i64>,
    pub webhook_id: String,
    /// `reply`, `event` or `test`.
    pub kind: String,
    pub payload: Json<Value>,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Delivery {
    pub fn target(&self) -> Option<Target> {
        match (self.channel_id, self.subscription_id) {
            (Some(channel), _) => Some(Target::Channel(channel)),
            (None, Some(subscription)) => Some(Target::Subscription(subscription)),
            (None, None) => None,
        }
    }
}

const COLUMNS: [D; 18] = [
    D::Id,
    D::CompanyId,
    D::ChannelId,
    D::SubscriptionId,
    D::MessageId,
    D::EventId,
    D::WebhookId,
    D::Kind,
    D::Payload,
    D::State,
    D::Attempts,
    D::LastStatus,
    D::LastError,
    D::NextAttemptAt,
    D::JobId,
    D::CreatedAt,
    D::UpdatedAt,
    D::DeliveredAt,
];

fn select() -> sea_query::SelectStatement {
    let mut select = Query::select();
    for column in COLUMNS {
        select.column((D::Table, column));
    }
    select.from(D::Table).to_owned()
}

/// A delivery to create, with the job that will run it.
pub struct NewDelivery {
    pub company: CompanyId,
    pub target: Target,
    pub message_id: Option<MessageId>,
    pub event_id: Option<i64>,
    pub webhook_id: String,
    pub kind: &'static str,
    pub payload: Value,
    pub job_id: Uuid,
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %new.company))]
pub async fn insert(tx: &mut Tx, id: DeliveryId, new: NewDelivery) -> Result<()> {
    let now = Utc::now();
    let (channel, subscription) = new.target.ids();
    let insert = Query::insert()
        .into_table(D::Table)
        .columns([
            D::Id,
            D::CompanyId,
            D::ChannelId,
            D::SubscriptionId,
            D::MessageId,
            D::EventId,
            D::WebhookId,
            D::Kind,
            D::Payload,
            D::State,
            D::Attempts,
            D::NextAttemptAt,
            D::JobId,
            D::CreatedAt,
            D::UpdatedAt,
        ])
        .values_panic([
            id.0.into(),
            new.company.0.into(),
            channel.into(),
            subscription.into(),
            new.message_id.map(|m| m.0).into(),
            new.event_id.into(),
            new.webhook_id.into(),
            new.kind.into(),
            new.payload.into(),
            "pending".into(),
            0i32.into(),
            now.into(),
            new.job_id.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get(db: impl Exec, company: CompanyId, id: DeliveryId) -> Result<Delivery> {
    let select = select()
        .and_where(Expr::col((D::Table, D::CompanyId)).eq(company.0))
        .and_where(Expr::col((D::Table, D::Id)).eq(id.0))
        .to_owned();
    let row: Option<Delivery> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// How one attempt ended.
pub struct AttemptRecord<'a> {
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub response: Option<&'a str>,
}

/// Where the delivery goes after an attempt.
pub enum After {
    Delivered,
    Retry { at: DateTime<Utc> },
    Dead,
}

/// Records an attempt and the delivery's new state together.
#[tracing::instrument(level = "debug", skip_all, fields(company = %delivery.company_id))]
pub async fn record_attempt(
    tx: &mut Tx,
    delivery: &Delivery,
    attempt: AttemptRecord<'_>,
    after: After,
) -> Result<()> {
    let (channel, subscription) = (
        delivery.channel_id.map(|c| c.0),
        delivery.subscription_id.map(|s| s.0),
    );
    let clip = |text: Option<&str>, n: usize| text.map(|t| t.chars().take(n).collect::<String>());
    let status = attempt.status.map(i32::from);
    let insert = Query::insert()
        .into_table(A::Table)
        .columns([
            A::Id,
            A::DeliveryId,
            A::CompanyId,
            A::ChannelId,
            A::SubscriptionId,
            A::At,
            A::Status,
            A::LatencyMs,
            A::Error,
            A::Response,
        ])
        .values_panic([
            Uuid::now_v7().into(),
            delivery.id.0.into(),
            delivery.company_id.0.into(),
            channel.into(),
            subscription.into(),
            attempt.at.into(),
            status.into(),
            i32::try_from(attempt.latency_ms).unwrap_or(i32::MAX).into(),
            clip(attempt.error, 500).into(),
            clip(attempt.response, 500).into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    let mut update = Query::update();
    update
        .table(D::Table)
        .value(D::Attempts, Expr::col(D::Attempts).add(1))
        .value(D::LastStatus, status)
        .value(D::LastError, clip(attempt.error, 500))
        .value(D::UpdatedAt, attempt.at)
        .and_where(Expr::col(D::CompanyId).eq(delivery.company_id.0))
        .and_where(Expr::col(D::Id).eq(delivery.id.0));
    match after {
        After::Delivered => {
            update
                .value(D::State, "delivered")
                .value(D::DeliveredAt, attempt.at)
                .value(D::NextAttemptAt, Option::<DateTime<Utc>>::None);
        }
        After::Retry { at } => {
            update
                .value(D::State, "pending")
                .value(D::NextAttemptAt, at);
        }
        After::Dead => {
            update
                .value(D::State, "dead")
                .value(D::NextAttemptAt, Option::<DateTime<Utc>>::None);
        }
    }
    tx.execute(&update).await?;
    Ok(())
}

/// Marks a delivery dead without an attempt (its target is gone, or the job queue gave up
/// on it).
pub async fn mark_dead(
    db: impl Exec,
    company: CompanyId,
    id: DeliveryId,
    why: &str,
) -> Result<bool> {
    let update = Query::update()
        .table(D::Table)
        .value(D::State, "dead")
        .value(D::LastError, why)
        .value(D::NextAttemptAt, Option::<DateTime<Utc>>::None)
        .value(D::UpdatedAt, Utc::now())
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .and_where(Expr::col(D::Id).eq(id.0))
        .and_where(Expr::col(D::State).eq("pending"))
        .to_owned();
    Ok(db.execute(&update).await? == 1)
}

/// Moves the delivery's next attempt (an open circuit breaker defers it).
pub async fn defer(
    db: impl Exec,
    company: CompanyId,
    id: DeliveryId,
    at: DateTime<Utc>,
) -> Result<()> {
    let update = Query::update()
        .table(D::Table)
        .value(D::NextAttemptAt, at)
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .and_where(Expr::col(D::Id).eq(id.0))
        .and_where(Expr::col(D::State).eq("pending"))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Puts a dead delivery back on the way under a new job; `false` if it is not dead.
pub async fn requeue(tx: &mut Tx, company: CompanyId, id: DeliveryId, job: Uuid) -> Result<bool> {
    let now = Utc::now();
    let update = Query::update()
        .table(D::Table)
        .value(D::State, "pending")
        .value(D::JobId, job)
        .value(D::NextAttemptAt, now)
        .value(D::UpdatedAt, now)
        .and_where(Expr::col(D::CompanyId).eq(company.0))
        .and_where(Expr::col(D::Id).eq(id.0))
        .and_where(Expr::col(D::State).eq("dead"))
        .to_owned();
    Ok(tx.execute(&update).await? == 1)
}

/// Which deliveries a list shows.
#[derive(Default)]
pub struct Filter {
    pub target: Option<Target>,
    pub state: Option<String>,
    pub message: Option<MessageId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Deliveries, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(
    db: impl Exec,
    company: CompanyId,
    filter: &Filter,
    limit: u64,
) -> Result<Vec<Delivery>> {
    let mut select = select();
    select.and_where(Expr::col((D::Table, D::CompanyId)).eq(company.0));
    match filter.target {
        Some(Target::Channel(id)) => {
            select.and_where(Expr::col((D::Table, D::ChannelId)).eq(id.0));
        }
        Some(Target::Subscription(id)) => {
            select.and_where(Expr::col((D::Table, D::SubscriptionId)).eq(id.0));
        }
        None => {}
    }
    if let Some(state) = &filter.state {
        select.and_where(Expr::col((D::Table, D::State)).eq(state.as_str()));
    }
    if let Some(message) = filter.message {
        select.and_where(Expr::col((D::Table, D::MessageId)).eq(message.0));
    }
    if let Some(from) = filter.from {
        select.and_where(Expr::col((D::Table, D::CreatedAt)).gte(from));
    }
    if let Some(to) = filter.to {
        select.and_where(Expr::col((D::Table, D::CreatedAt)).lt(to));
    }
    select
        .order_by((D::Table, D::CreatedAt), Order::Desc)
        .order_by((D::Table, D::Id), Order::Desc)
        .limit(limit);
    db.fetch_all(&select).await
}

/// An attempt as recorded.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub status: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub response: Option<String>,
}

pub async fn attempts(db: impl Exec, company: CompanyId, id: DeliveryId) -> Result<Vec<Attempt>> {
    let select = Query::select()
        .columns([A::At, A::Status, A::LatencyMs, A::Error, A::Response])
        .from(A::Table)
        .and_where(Expr::col(A::CompanyId).eq(company.0))
        .and_where(Expr::col(A::DeliveryId).eq(id.0))
        .order_by(A::At, Order::Asc)
        .order_by(A::Id, Order::Asc)
        .to_owned();
    db.fetch_all(&select).await
}

/// Successful and failed attempts at the target since `since`, for its health.
pub async fn attempt_counts(
    db: impl Exec,
    company: CompanyId,
    target: Target,
    since: DateTime<Utc>,
) -> Result<(i64, i64)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        ok: Option<i64>,
        total: Option<i64>,
    }
    let mut select = Query::select();
    select
        .expr_as(
            Expr::cust(
                // An attempt without an error delivered (a test channel's have no status).
                "CAST(SUM(CASE WHEN error IS NULL THEN 1 ELSE 0 END) AS BIGINT)",
            ),
            Alias::new("ok"),
        )
        .expr_as(Func::count(Expr::col(A::Id)), Alias::new("total"))
        .from(A::Table)
        .and_where(Expr::col(A::CompanyId).eq(company.0))
        .and_where(Expr::col(A::At).gte(since));
    match target {
        Target::Channel(id) => select.and_where(Expr::col(A::ChannelId).eq(id.0)),
        Target::Subscription(id) => select.and_where(Expr::col(A::SubscriptionId).eq(id.0)),
    };
    let row: Option<Row> = db.fetch_optional(&select).await?;
    let row = row.unwrap_or(Row {
        ok: None,
        total: None,
    });
    let total = row.total.unwrap_or(0);
    let ok = row.ok.unwrap_or(0);
    Ok((ok, total - ok))
}

/// The oldest due delivery's scheduled time, for the "oldest due delivery age" metric.
pub async fn oldest_due(db: impl Exec) -> Result<Option<DateTime<Utc>>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        oldest: Option<DateTime<Utc>>,
    }
    let select = Query::select()
        .expr_as(Func::min(Expr::col(D::NextAttemptAt)), Alias::new("oldest"))
        .from(D::Table)
        .and_where(Expr::col(D::State).eq("pending"))
        .and_where(Expr::col(D::NextAttemptAt).lte(Utc::now()))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    Ok(row.and_then(|r| r.oldest))
}

/// The endpoint's table and id, for its health and breaker (channels and subscriptions
/// keep the same columns for them).
fn target_table(target: Target) -> (Alias, Uuid) {
    match target {
        Target::Channel(id) => (Alias::new("channels"), id.0),
        Target::Subscription(id) => (Alias::new("webhook_subscriptions"), id.0),
    }
}

fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// Whether an attempt may go to the endpoint now: `None` yes, else the time to try again.
/// While the breaker is open the answer is the time it half-opens; once that is due,
/// exactly one caller takes the probe (the update moves the breaker on by `probe_for`, so
/// the others wait for the probe's outcome).
pub async fn breaker_take(
    db: &Db,
    company: CompanyId,
    target: Target,
    now: DateTime<Utc>,
    probe_for: chrono::Duration,
) -> Result<Option<DateTime<Utc>>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        breaker_until: Option<DateTime<Utc>>,
    }
    let (table, id) = target_table(target);
    let select = Query::select()
        .column(col("breaker_until"))
        .from(table.clone())
        .and_where(Expr::col(col("company_id")).eq(company.0))
        .and_where(Expr::col(col("id")).eq(id))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    let Some(until) = row.ok_or(StoreError::NotFound)?.breaker_until else {
        return Ok(None);
    };
    if until > now {
        return Ok(Some(until));
    }
    let probe_until = now + probe_for;
    let take = Query::update()
        .table(table)
        .value(col("breaker_until"), probe_until)
        .and_where(Expr::col(col("company_id")).eq(company.0))
        .and_where(Expr::col(col("id")).eq(id))
        .and_where(Expr::col(col("breaker_until")).eq(until))
        .to_owned();
    Ok(match db.execute(&take).await? {
        1 => None,
        _ => Some(probe_until),
    })
}

/// A delivered attempt: the endpoint is healthy, its breaker closed.
pub async fn record_success(
    db: impl Exec,
    company: CompanyId,
    target: Target,
    at: DateTime<Utc>,
) -> Result<()> {
    let (table, id) = target_table(target);
    let update = Query::update()
        .table(table)
        .value(col("consecutive_failures"), 0i32)
        .value(col("breaker_until"), Option::<DateTime<Utc>>::None)
        .value(col("last_success_at"), at)
        .and_where(Expr::col(col("company_id")).eq(company.0))
        .and_where(Expr::col(col("id")).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// A failed attempt. After `threshold` failures in a row the breaker opens until
/// `open_until`; returns whether this failure opened (or kept open) it.
pub async fn record_failure(
    db: &Db,
    company: CompanyId,
    target: Target,
    at: DateTime<Utc>,
    error: &str,
    threshold: i32,
    open_until: DateTime<Utc>,
) -> Result<bool> {
    let (table, id) = target_table(target);
    let error: String = error.chars().take(500).collect();
    let update = Query::update()
        .table(table.clone())
        .value(
            col("consecutive_failures"),
            Expr::col(col("consecutive_failures")).add(1),
        )
        .value(col("last_error"), error)
        .value(col("last_error_at"), at)
        .and_where(Expr::col(col("company_id")).eq(company.0))
        .and_where(Expr::col(col("id")).eq(id))
        .to_owned();
    db.execute(&update).await?;
    let open = Query::update()
        .table(table)
        .value(col("breaker_until"), open_until)
        .and_where(Expr::col(col("company_id")).eq(company.0))
        .and_where(Expr::col(col("id")).eq(id))
        .and_where(Expr::col(col("consecutive_failures")).gte(threshold))
        .to_owned();
    Ok(db.execute(&open).await? == 1)
}

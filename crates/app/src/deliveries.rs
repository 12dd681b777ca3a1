//! Outbound deliveries (issue 18): an agent's reply to a channel's contact, or an event to
//! a company's webhook subscription. Each is a row written in the transaction of the change
//! that causes it, with a job that carries it out: signed with Standard Webhooks under a
//! `webhook-id` that never changes across attempts, retried on the configured schedule
//! (honouring `Retry-After`), every attempt recorded, held back by the endpoint's circuit
//! breaker while it keeps failing, and dead-lettered (replayable) when the schedule runs
//! out or the endpoint refuses for good.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::channel::{ChannelKind, DeliveryState, Outcome};
use domain::event::{Payload, Stream};
use domain::job::{Job, NewJob};
use domain::{
    ChannelId, CompanyId, ConversationId, DeliveryId, MessageId, SubscriptionId, ValidationErrors,
};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde_json::{Value, json};
pub use store::deliveries::Target;
use store::deliveries::{self as stored, After, AttemptRecord, Delivery};

use crate::infra::jobs::JobError;
use crate::infra::outbound::{OutboundError, WebhookSigner};
use crate::{App, AppError, Result, audit};

/// The job kind that carries out one delivery.
pub const JOB_KIND: &str = "delivery.send";
/// The delivery keeps its own count against the schedule; the job's bound only stops a
/// runaway.
const JOB_MAX_ATTEMPTS: u32 = 1_000;

/// Something to deliver to one endpoint.
pub(crate) struct Outgoing {
    pub company: CompanyId,
    pub target: Target,
    /// The reply's message.
    pub message: Option<MessageId>,
    /// The event delivered.
    pub event: Option<i64>,
    /// The `webhook-id` every attempt carries.
    pub webhook_id: String,
    /// `reply`, `event` or `test`.
    pub kind: &'static str,
    pub payload: Value,
}

/// Writes a delivery and its job inside the caller's transaction.
pub(crate) async fn enqueue(tx: &mut store::Tx, outgoing: Outgoing) -> Result<DeliveryId> {
    let Outgoing {
        company,
        target,
        message,
        event,
        webhook_id,
        kind,
        payload,
    } = outgoing;
    let id = DeliveryId(uuid::Uuid::now_v7());
    let job = NewJob::new(JOB_KIND, json!({ "delivery_id": id }))
        .company(company)
        .max_attempts(JOB_MAX_ATTEMPTS);
    let job_id = store::jobs::enqueue(tx, job).await?;
    stored::insert(
        tx,
        id,
        stored::NewDelivery {
            company,
            target,
            message_id: message,
            event_id: event,
            webhook_id,
            kind,
            payload,
            job_id: job_id.0,
        },
    )
    .await?;
    Ok(id)
}

/// Queues an agent's reply for the conversation's channel. The text is read when it is
/// sent (so a sealed body never sits in the queue in the clear).
pub(crate) async fn enqueue_reply(
    tx: &mut store::Tx,
    conversation: &store::conversations::Conversation,
    message: &store::conversations::Message,
) -> Result<()> {
    let Some(channel) = conversation.channel_id else {
        return Ok(());
    };
    enqueue(
        tx,
        Outgoing {
            company: conversation.company_id,
            target: Target::Channel(channel),
            message: Some(message.id),
            event: None,
            webhook_id: message.id.to_string(),
            kind: "reply",
            payload: json!({ "conversation_id": conversation.id }),
        },
    )
    .await?;
    Ok(())
}

/// Moves an outbound message's delivery state forward (never back: a late `sent` after
/// `read` changes nothing) and records `message.delivery_changed`.
pub(crate) async fn set_message_state(
    tx: &mut store::Tx,
    company: CompanyId,
    conversation: ConversationId,
    message: MessageId,
    state: DeliveryState,
    error: Option<&str>,
) -> Result<()> {
    let replaces: Vec<&str> = DeliveryState::ALL
        .iter()
        .filter(|s| match state {
            // A failure is final for what was still on its way; a replay starts it over.
            DeliveryState::Failed => matches!(s, DeliveryState::Queued | DeliveryState::Sent),
            DeliveryState::Queued => matches!(s, DeliveryState::Failed),
            _ => s.rank() < state.rank(),
        })
        .map(|s| s.as_str())
        .collect();
    let changed =
        store::conversations::set_delivery(tx, company, message, state.as_str(), error, &replaces)
            .await?;
    if changed {
        audit::record(
            tx,
            None,
            Some(company),
            Stream::Conversation(conversation),
            Payload::MessageDeliveryChanged {
                message_id: message,
                state,
                error: error.map(str::to_owned),
            },
        )
        .await?;
    }
    Ok(())
}

/// Where a delivery goes and how it is signed.
struct Endpoint {
    url: Option<String>,
    secrets: Vec<String>,
    active: bool,
    /// A test channel records instead of sending.
    records_only: bool,
    channel: Option<store::channels::Channel>,
}

async fn endpoint(app: &App, delivery: &Delivery) -> Result<Endpoint> {
    let company = delivery.company_id;
    match delivery.target() {
        Some(Target::Channel(id)) => {
            let channel = store::channels::get(app.db(), company, id).await?;
            Ok(Endpoint {
                url: channel.outbound_url.clone(),
                secrets: crate::channels::signing_secrets(app, &channel)?,
                active: channel.active,
                records_only: channel.kind == ChannelKind::Test,
                channel: Some(channel),
            })
        }
        Some(Target::Subscription(id)) => {
            let subscription = store::subscriptions::get(app.db(), company, id).await?;
            Ok(Endpoint {
                url: Some(subscription.url.clone()),
                secrets: crate::webhooks::signing_secrets(app, &subscription)?,
                active: subscription.active,
                records_only: false,
                channel: None,
            })
        }
        None => Err(AppError::internal("a delivery without a target")),
    }
}

/// The body a delivery sends: a reply is built from its message now.
async fn body(app: &App, delivery: &Delivery) -> Result<Value> {
    let company = delivery.company_id;
    let Some(message_id) = delivery.message_id.filter(|_| delivery.kind == "reply") else {
        return Ok(delivery.payload.0.clone());
    };
    let conversation: ConversationId = serde_json::from_value(
        delivery
            .payload
            .0
            .get("conversation_id")
            .cloned()
            .unwrap_or_default(),
    )
    .map_err(AppError::internal)?;
    let found = store::conversations::get(app.db(), company, conversation).await?;
    let message =
        store::conversations::message(app.db(), company, conversation, message_id).await?;
    let text =
        crate::conversations::open_body(app, company, message.id, message.body, message.sealed)?;
    let contact = match found.contact_id {
        Some(id) => Some(store::channels::contact(app.db(), company, id).await?),
        None => None,
    };
    let files: Vec<Value> = store::chat::attachments(app.db(), company, conversation)
        .await?
        .into_iter()
        .filter(|f| f.message_id == message.id)
        .map(|f| {
            json!({
                "id": f.id, "file_name": f.file_name, "content_type": f.content_type,
                "size": f.size, "sha256": f.sha256,
            })
        })
        .collect();
    Ok(json!({
        "type": "message",
        "conversation_id": conversation,
        "thread_id": found.external_thread,
        "contact": {
            "external_id": contact.as_ref().map(|c| c.external_id.clone()),
            "display_name": contact.as_ref().and_then(|c| c.display_name.clone()),
        },
        "message_id": message.id,
        "content": if message.deleted_at.is_some() { String::new() } else { text },
        "created_at": message.created_at,
        "attachments": files,
    }))
}

fn signed_headers(secrets: &[String], id: &str, body: &[u8]) -> Result<HeaderMap> {
    let timestamp = Utc::now().timestamp();
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signer = WebhookSigner::from_whsec(secret).map_err(AppError::internal)?;
        signatures.push(signer.sign(id, timestamp, body));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signatures.join(" ")),
    ] {
        headers.insert(
            name,
            HeaderValue::from_str(&value).map_err(AppError::internal)?,
        );
    }
    Ok(headers)
}

fn retry_job(error: impl std::fmt::Display) -> JobError {
    JobError::Retry(error.to_string())
}

/// The job handler: one attempt at one delivery.
pub async fn run(app: App, job: Job) -> std::result::Result<(), JobError> {
    let (Some(company), Some(id)) = (
        job.company_id,
        job.payload
            .get("delivery_id")
            .and_then(|v| serde_json::from_value::<DeliveryId>(v.clone()).ok()),
    ) else {
        return Err(JobError::Permanent("the job names no delivery".into()));
    };
    let delivery = match stored::get(app.db(), company, id).await {
        Ok(delivery) => delivery,
        Err(store::StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(retry_job(error)),
    };
    if delivery.state != "pending" {
        return Ok(());
    }
    attempt(&app, delivery).await
}

async fn attempt(app: &App, delivery: Delivery) -> std::result::Result<(), JobError> {
    let company = delivery.company_id;
    let Some(target) = delivery.target() else {
        return Err(JobError::Permanent("a delivery without a target".into()));
    };
    let endpoint = match endpoint(app, &delivery).await {
        Ok(endpoint) => endpoint,
        Err(AppError::NotFound) => {
            let _ =
                stored::mark_dead(app.db(), company, delivery.id, "its endpoint was deleted").await;
            return Err(JobError::Permanent("the endpoint was deleted".into()));
        }
        Err(error) => return Err(retry_job(error)),
    };
    let settings = app.settings();
    let now = Utc::now();
    let cooldown = chrono::Duration::seconds(
        i64::try_from(settings.delivery_breaker_secs)
            .unwrap_or(60)
            .max(1),
    );
    if !endpoint.active {
        // Held while paused; a resumed endpoint's deliveries go on from where they were.
        let at = now + cooldown;
        let _ = stored::defer(app.db(), company, delivery.id, at).await;
        return Err(JobError::Defer {
            at,
            why: "the endpoint is paused".into(),
        });
    }
    let body = body(app, &delivery).await.map_err(retry_job)?;
    let bytes = body.to_string().into_bytes();
    if endpoint.records_only {
        return finish(
            app,
            &delivery,
            target,
            Outcome::Delivered,
            Attempted {
                status: None,
                latency: Duration::ZERO,
                error: None,
                excerpt: Some("recorded by the test channel, not sent".into()),
                retry_after: None,
                reported: Some(DeliveryState::Delivered),
            },
        )
        .await;
    }
    let Some(url) = endpoint.url.clone() else {
        let at = now + cooldown;
        let _ = stored::defer(app.db(), company, delivery.id, at).await;
        return Err(JobError::Defer {
            at,
            why: "the channel has no outbound URL yet".into(),
        });
    };
    match stored::breaker_take(app.db(), company, target, now, cooldown).await {
        Ok(None) => {}
        Ok(Some(at)) => {
            let _ = stored::defer(app.db(), company, delivery.id, at).await;
            return Err(JobError::Defer {
                at,
                why: "the endpoint's circuit breaker is open".into(),
            });
        }
        Err(error) => return Err(retry_job(error)),
    }
    let headers =
        signed_headers(&endpoint.secrets, &delivery.webhook_id, &bytes).map_err(retry_job)?;
    let client = app.outbound().map_err(retry_job)?;
    let timeout = Duration::from_secs(settings.delivery_timeout_secs.max(1));
    let started = Instant::now();
    let answer = client.deliver(&url, bytes, headers, timeout).await;
    let latency = started.elapsed();
    let (outcome, attempted) = match answer {
        Ok(answer) => {
            let outcome = Outcome::of_status(Some(answer.status));
            // A receiver may say how far it got: `{"status": "delivered"}`.
            let reported = serde_json::from_str::<Value>(&answer.excerpt)
                .ok()
                .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned))
                .and_then(|s| s.parse::<DeliveryState>().ok())
                .filter(|s| matches!(s, DeliveryState::Delivered | DeliveryState::Read));
            let error =
                (outcome != Outcome::Delivered).then(|| format!("answered {}", answer.status));
            (
                outcome,
                Attempted {
                    status: Some(answer.status),
                    latency,
                    error,
                    excerpt: Some(answer.excerpt),
                    retry_after: answer.retry_after,
                    reported,
                },
            )
        }
        Err(error) => {
            let outcome = match &error {
                OutboundError::Forbidden { .. } | OutboundError::InvalidUrl { .. } => {
                    Outcome::Permanent
                }
                _ => Outcome::Retry,
            };
            (
                outcome,
                Attempted {
                    status: None,
                    latency,
                    error: Some(error.to_string()),
                    excerpt: None,
                    retry_after: None,
                    reported: None,
                },
            )
        }
    };
    if outcome == Outcome::Gone
        && let Some(channel) = &endpoint.channel
    {
        crate::channels::pause_gone(app, channel)
            .await
            .map_err(retry_job)?;
    }
    if outcome == Outcome::Gone
        && let Some(Target::Subscription(subscription)) = delivery.target()
    {
        crate::webhooks::pause_gone(app, company, subscription)
            .await
            .map_err(retry_job)?;
    }
    finish(app, &delivery, target, outcome, attempted).await
}

/// What one attempt found.
struct Attempted {
    status: Option<u16>,
    latency: Duration,
    error: Option<String>,
    excerpt: Option<String>,
    retry_after: Option<Duration>,
    reported: Option<DeliveryState>,
}

async fn finish(
    app: &App,
    delivery: &Delivery,
    target: Target,
    outcome: Outcome,
    attempted: Attempted,
) -> std::result::Result<(), JobError> {
    let company = delivery.company_id;
    let settings = app.settings();
    let now = Utc::now();
    let number = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
    let schedule = settings.retry_schedule().unwrap_or_default();
    let after = match outcome {
        Outcome::Delivered => After::Delivered,
        Outcome::Retry => {
            let jitter: f64 = rand::rng().random();
            match schedule.pause_after(number, jitter, attempted.retry_after) {
                Some(pause) => After::Retry {
                    at: now + chrono::Duration::from_std(pause).unwrap_or_default(),
                },
                None => After::Dead,
            }
        }
        Outcome::Permanent | Outcome::Gone => After::Dead,
    };
    let error_text = attempted.error.clone();
    let retry_at = match &after {
        After::Retry { at } => Some(*at),
        _ => None,
    };
    let dead = matches!(after, After::Dead);
    let run = async {
        let mut tx = app.db().begin().await?;
        stored::record_attempt(
            &mut tx,
            delivery,
            AttemptRecord {
                at: now,
                status: attempted.status,
                latency_ms: i64::try_from(attempted.latency.as_millis()).unwrap_or(i64::MAX),
                error: attempted.error.as_deref(),
                response: attempted.excerpt.as_deref(),
            },
            after,
        )
        .await?;
        if let Some(message) = delivery.message_id
            && let Some(conversation) =
                store::conversations::message_conversation(&mut tx, company, message).await?
        {
            let state = match outcome {
                Outcome::Delivered => Some(attempted.reported.unwrap_or(DeliveryState::Sent)),
                _ if dead => Some(DeliveryState::Failed),
                _ => None,
            };
            if let Some(state) = state {
                let reason = (state == DeliveryState::Failed).then(|| {
                    format!(
                        "{} after {number} attempt(s): {}",
                        if outcome == Outcome::Retry {
                            "gave up"
                        } else {
                            "refused"
                        },
                        error_text.as_deref().unwrap_or("no answer")
                    )
                });
                set_message_state(
                    &mut tx,
                    company,
                    conversation,
                    message,
                    state,
                    reason.as_deref(),
                )
                .await?;
            }
        }
        app.commit(tx).await?;
        Result::<()>::Ok(())
    };
    run.await.map_err(retry_job)?;
    let threshold = i32::try_from(settings.delivery_breaker_failures.max(1)).unwrap_or(5);
    let cooldown = chrono::Duration::seconds(
        i64::try_from(settings.delivery_breaker_secs)
            .unwrap_or(60)
            .max(1),
    );
    let health = match outcome {
        Outcome::Delivered => stored::record_success(app.db(), company, target, now)
            .await
            .map(|_| ()),
        _ => stored::record_failure(
            app.db(),
            company,
            target,
            now,
            attempted.error.as_deref().unwrap_or("failed"),
            threshold,
            now + cooldown,
        )
        .await
        .map(|_| ()),
    };
    if let Err(error) = health {
        tracing::warn!(%error, "could not record an endpoint's health");
    }
    metrics::counter!("ticketflower_deliveries_attempted_total", "outcome" => match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry => "retry",
        Outcome::Permanent => "refused",
        Outcome::Gone => "gone",
    })
    .increment(1);
    let error = attempted.error.unwrap_or_else(|| "failed".into());
    match (outcome, retry_at) {
        (Outcome::Delivered, _) => Ok(()),
        (_, Some(at)) => Err(JobError::RetryAt { at, error }),
        _ => Err(JobError::Permanent(error)),
    }
}

/// A delivery as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: DeliveryId,
    pub channel_id: Option<ChannelId>,
    pub subscription_id: Option<SubscriptionId>,
    pub message_id: Option<MessageId>,
    pub event_id: Option<i64>,
    /// The `webhook-id` every attempt carries.
    pub webhook_id: String,
    /// `reply`, `event` or `test`.
    pub kind: String,
    /// `pending`, `delivered` or `dead` (a dead letter, replayable).
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// What was (or will be) sent, for events and test channels; replies are built from
    /// their message when sent.
    pub payload: Value,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            channel_id: d.channel_id,
            subscription_id: d.subscription_id,
            message_id: d.message_id,
            event_id: d.event_id,
            webhook_id: d.webhook_id,
            kind: d.kind,
            state: d.state,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            payload: d.payload.0,
        }
    }
}

/// One recorded attempt.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub at: DateTime<Utc>,
    /// The HTTP status (none: no answer, or recorded by a test channel).
    pub status: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    /// The start of the answer's body.
    pub response: Option<String>,
}

/// A delivery with its attempts.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    pub attempt_log: Vec<AttemptView>,
}

/// Which deliveries to list.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub state: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub message: Option<MessageId>,
    pub limit: Option<u32>,
}

async fn check_target(app: &App, company: CompanyId, target: Target) -> Result<()> {
    match target {
        Target::Channel(id) => store::channels::get(app.db(), company, id)
            .await
            .map(|_| ()),
        Target::Subscription(id) => store::subscriptions::get(app.db(), company, id)
            .await
            .map(|_| ()),
    }
    .map_err(AppError::from)
}

fn check_state(state: Option<&str>) -> Result<()> {
    match state {
        None | Some("pending" | "delivered" | "dead") => Ok(()),
        Some(_) => {
            Err(ValidationErrors::single("state", "must be pending, delivered or dead").into())
        }
    }
}

/// An endpoint's deliveries, newest first (company admins).
pub async fn list(
    app: &App,
    actor: &Actor,
    target: Target,
    query: ListQuery,
) -> Result<Vec<DeliveryView>> {
    let company = crate::access::require_admin(actor)?;
    check_state(query.state.as_deref())?;
    check_target(app, company, target).await?;
    let filter = stored::Filter {
        target: Some(target),
        state: query.state,
        message: query.message,
        from: query.from,
        to: query.to,
    };
    let limit = u64::from(query.limit.unwrap_or(50).clamp(1, 200));
    Ok(stored::list(app.db(), company, &filter, limit)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect())
}

/// One delivery with its attempt log (company admins).
pub async fn detail(
    app: &App,
    actor: &Actor,
    target: Target,
    id: DeliveryId,
) -> Result<DeliveryDetail> {
    let company = crate::access::require_admin(actor)?;
    let delivery = stored::get(app.db(), company, id).await?;
    if delivery.target() != Some(target) {
        return Err(AppError::NotFound);
    }
    let attempt_log = stored::attempts(app.db(), company, id)
        .await?
        .into_iter()
        .map(|a| AttemptView {
            at: a.at,
            status: a.status,
            latency_ms: a.latency_ms,
            error: a.error,
            response: a.response,
        })
        .collect();
    Ok(DeliveryDetail {
        delivery: delivery.into(),
        attempt_log,
    })
}

/// What a delivery posts (or a test channel records), built as an attempt now would build
/// it (company admins): a reply's body is made from its message when sent, so its stored
/// payload alone does not show what the receiver gets.
pub async fn body_of(app: &App, actor: &Actor, target: Target, id: DeliveryId) -> Result<Value> {
    let company = crate::access::require_admin(actor)?;
    let delivery = stored::get(app.db(), company, id).await?;
    if delivery.target() != Some(target) {
        return Err(AppError::NotFound);
    }
    body(app, &delivery).await
}

/// Sends dead letters again with a fresh schedule: one, or every one of the endpoint in a
/// time range (company admins). Returns how many were put back.
pub async fn replay(
    app: &App,
    actor: &Actor,
    target: Target,
    one: Option<DeliveryId>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<u64> {
    let company = crate::access::require_admin(actor)?;
    check_target(app, company, target).await?;
    let dead = match one {
        Some(id) => {
            let delivery = stored::get(app.db(), company, id).await?;
            if delivery.target() != Some(target) {
                return Err(AppError::NotFound);
            }
            if delivery.state != "dead" {
                return Err(AppError::Conflict {
                    field: Some("state".into()),
                    message: format!(
                        "only a dead letter is replayed; this one is {}",
                        delivery.state
                    ),
                });
            }
            vec![delivery]
        }
        None => {
            let filter = stored::Filter {
                target: Some(target),
                state: Some("dead".into()),
                message: None,
                from,
                to,
            };
            stored::list(app.db(), company, &filter, 10_000).await?
        }
    };
    let mut tx = app.db().begin().await?;
    let mut count = 0u64;
    for delivery in &dead {
        let job = NewJob::new(JOB_KIND, json!({ "delivery_id": delivery.id }))
            .company(company)
            .max_attempts(JOB_MAX_ATTEMPTS);
        let job_id = store::jobs::enqueue(&mut tx, job).await?;
        if stored::requeue(&mut tx, company, delivery.id, job_id.0).await? {
            count += 1;
            if let Some(message) = delivery.message_id
                && let Some(conversation) =
                    store::conversations::message_conversation(&mut tx, company, message).await?
            {
                set_message_state(
                    &mut tx,
                    company,
                    conversation,
                    message,
                    DeliveryState::Queued,
                    None,
                )
                .await?;
            }
        }
    }
    let (channel_id, subscription_id) = match target {
        Target::Channel(c) => (Some(c), None),
        Target::Subscription(s) => (None, Some(s)),
    };
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::DeliveriesReplayed {
            channel_id,
            subscription_id,
            count,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(count)
}

/// Publishes the age of the oldest delivery that is due and not yet made: a queue that
/// stalls (workers down, a sweeper not re-queueing expired leases) shows as a growing age.
pub async fn measure(app: &App) {
    match stored::oldest_due(app.db()).await {
        Ok(oldest) => {
            #[allow(clippy::cast_precision_loss)]
            let age = oldest.map_or(0.0, |at| {
                (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("ticketflower_delivery_oldest_due_seconds").set(age);
        }
        Err(error) => tracing::warn!(%error, "could not measure the delivery queue"),
    }
}

/// [`measure`] as a minute sweep.
pub async fn measure_sweep(app: App) {
    measure(&app).await;
}

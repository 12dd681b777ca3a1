//! Outbound event webhooks (issue 18): a company subscribes an endpoint to event kinds,
//! and every committed event of those kinds is delivered to it, signed with Standard
//! Webhooks, through the same delivery engine as channel replies (see [`crate::deliveries`]).
//! Deliveries are taken from the event log behind a durable cursor: a rolled-back change
//! never reaches the log, and a committed one is never skipped.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::event::{Payload, Stream};
use domain::{CompanyId, SubscriptionId, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::deliveries::Target;
use store::subscriptions::{self as stored, Subscription};

use crate::infra::outbound::WebhookSigner;
use crate::{App, AppError, Result, audit};

const MAX_KINDS: usize = 50;
const MAX_SUBSCRIPTIONS: usize = 20;

/// A subscription as its admins see it (never its secret).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub id: SubscriptionId,
    pub url: String,
    pub description: Option<String>,
    /// Event kinds (`task.completed`), families (`ticket.*`) or `*`.
    pub kinds: Vec<String>,
    pub active: bool,
    pub paused_reason: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub health: crate::channels::Health,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new subscription with its signing secret, shown this once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    pub signing_secret: String,
}

/// What `POST /webhook-subscriptions` asks for, and `PATCH` changes.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    pub url: Option<String>,
    pub description: Option<String>,
    pub kinds: Option<Vec<String>>,
}

/// Whether an event kind is among a subscription's.
pub fn matches(kinds: &[String], kind: &str) -> bool {
    kinds.iter().any(|wanted| {
        wanted == "*"
            || wanted == kind
            || wanted
                .strip_suffix(".*")
                .is_some_and(|family| kind.split_once('.').is_some_and(|(f, _)| f == family))
    })
}

fn check_kinds(errors: &mut ValidationErrors, kinds: &[String]) {
    if kinds.is_empty() {
        errors.add(
            "kinds",
            "name at least one event kind, a family like ticket.* or *",
        );
    }
    if kinds.len() > MAX_KINDS {
        errors.add("kinds", "at most 50");
    }
    let known: Vec<&str> = domain::event::EventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    for (i, kind) in kinds.iter().enumerate() {
        let ok = kind == "*"
            || known.contains(&kind.as_str())
            || kind.strip_suffix(".*").is_some_and(|family| {
                known
                    .iter()
                    .any(|k| k.split_once('.').is_some_and(|(f, _)| f == family))
            });
        if !ok {
            errors.add(
                format!("kinds/{i}"),
                format!("`{kind}` is no event kind or family"),
            );
        }
    }
}

fn check_url(app: &App, errors: &mut ValidationErrors, url: &str) {
    if let Err(error) = app
        .outbound()
        .and_then(|c| c.check_url(url).map_err(AppError::internal))
    {
        errors.add("url", format!("is not a usable endpoint: {error}"));
    }
}

fn aad(company: CompanyId, id: SubscriptionId, which: &str) -> Vec<u8> {
    format!("{}|subscription-{which}|{id}", company.0).into_bytes()
}

fn seal(
    app: &App,
    company: CompanyId,
    id: SubscriptionId,
    which: &str,
    secret: &str,
) -> Result<Vec<u8>> {
    app.vault()?
        .seal(secret.as_bytes(), &aad(company, id, which))
        .map_err(AppError::internal)
}

fn open(app: &App, s: &Subscription, which: &str, sealed: &[u8]) -> Result<String> {
    let bytes = app
        .vault()?
        .open(sealed, &aad(s.company_id, s.id, which))
        .map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}

/// The secrets a delivery is signed with now (the previous one during its overlap).
pub(crate) fn signing_secrets(app: &App, s: &Subscription) -> Result<Vec<String>> {
    let mut secrets = vec![open(app, s, "signing", &s.signing_secret)?];
    if let (Some(previous), Some(until)) = (&s.previous_signing_secret, s.previous_until)
        && until > Utc::now()
    {
        secrets.push(open(app, s, "previous", previous)?);
    }
    Ok(secrets)
}

async fn view(app: &App, s: Subscription) -> Result<SubscriptionView> {
    let health = crate::channels::Health::measure(
        app,
        s.company_id,
        Target::Subscription(s.id),
        crate::channels::HealthRow {
            consecutive_failures: s.consecutive_failures,
            breaker_until: s.breaker_until,
            last_success_at: s.last_success_at,
            last_error: s.last_error,
            last_error_at: s.last_error_at,
        },
    )
    .await?;
    let now = Utc::now();
    Ok(SubscriptionView {
        id: s.id,
        url: s.url,
        description: s.description,
        kinds: s.kinds.0,
        active: s.active,
        paused_reason: s.paused_reason,
        previous_secret_until: s.previous_until.filter(|u| *u > now),
        health,
        created_at: s.created_at,
        updated_at: s.updated_at,
    })
}

fn description(errors: &mut ValidationErrors, text: Option<&str>) -> Option<String> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    if text.chars().count() > 200 {
        errors.add("description", "must be at most 200 characters");
    }
    Some(text.to_owned())
}

/// Subscribes an endpoint (company admins); the signing secret is in the answer this once.
pub async fn create(
    app: &App,
    actor: &Actor,
    input: SubscriptionInput,
) -> Result<CreatedSubscription> {
    let company = crate::access::require_admin(actor)?;
    let mut errors = ValidationErrors::new();
    let url = input
        .url
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if url.is_empty() {
        errors.add("url", "is required");
    } else {
        check_url(app, &mut errors, &url);
    }
    let kinds = input.kinds.unwrap_or_default();
    check_kinds(&mut errors, &kinds);
    let description = description(&mut errors, input.description.as_deref());
    errors.into_result()?;
    if stored::list(app.db(), company).await?.len() >= MAX_SUBSCRIPTIONS {
        return Err(AppError::Conflict {
            field: None,
            message: "a company has at most 20 subscriptions".into(),
        });
    }
    let secret = WebhookSigner::generate().to_whsec();
    let mut tx = app.db().begin().await?;
    // The id is part of the secret's sealing, so the row is written with a placeholder
    // first and sealed under its own id.
    let created = stored::insert(
        &mut tx,
        stored::NewSubscription {
            company,
            url: &url,
            description: description.as_deref(),
            kinds: &kinds,
            signing_secret: &[],
        },
    )
    .await?;
    let sealed = seal(app, company, created.id, "signing", &secret)?;
    stored::rotate_signing(&mut tx, company, created.id, &sealed, None, None).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::WebhookSubscriptionCreated {
            subscription_id: created.id,
            url: url.clone(),
            kinds,
        },
    )
    .await?;
    app.commit(tx).await?;
    let subscription = stored::get(app.db(), company, created.id).await?;
    Ok(CreatedSubscription {
        subscription: view(app, subscription).await?,
        signing_secret: secret,
    })
}

pub async fn list(app: &App, actor: &Actor) -> Result<Vec<SubscriptionView>> {
    let company = crate::access::require_admin(actor)?;
    let mut views = Vec::new();
    for s in stored::list(app.db(), company).await? {
        views.push(view(app, s).await?);
    }
    Ok(views)
}

pub async fn get(app: &App, actor: &Actor, id: SubscriptionId) -> Result<SubscriptionView> {
    let company = crate::access::require_admin(actor)?;
    view(app, stored::get(app.db(), company, id).await?).await
}

pub async fn update(
    app: &App,
    actor: &Actor,
    id: SubscriptionId,
    input: SubscriptionInput,
) -> Result<SubscriptionView> {
    let company = crate::access::require_admin(actor)?;
    stored::get(app.db(), company, id).await?;
    let mut errors = ValidationErrors::new();
    let mut changes = stored::Changes::default();
    let mut fields = Vec::new();
    if let Some(url) = input.url.as_deref().map(str::trim) {
        check_url(app, &mut errors, url);
        changes.url = Some(url.to_owned());
        fields.push("url".to_owned());
    }
    if let Some(kinds) = input.kinds {
        check_kinds(&mut errors, &kinds);
        changes.kinds = Some(kinds);
        fields.push("kinds".to_owned());
    }
    if input.description.is_some() {
        changes.description = Some(description(&mut errors, input.description.as_deref()));
        fields.push("description".to_owned());
    }
    errors.into_result()?;
    if !fields.is_empty() {
        let mut tx = app.db().begin().await?;
        stored::update(&mut tx, company, id, changes).await?;
        audit::record(
            &mut tx,
            Some(actor),
            Some(company),
            Stream::Company(company),
            Payload::WebhookSubscriptionUpdated {
                subscription_id: id,
                fields,
            },
        )
        .await?;
        app.commit(tx).await?;
    }
    get(app, actor, id).await
}

pub async fn set_active(
    app: &App,
    actor: &Actor,
    id: SubscriptionId,
    active: bool,
) -> Result<SubscriptionView> {
    let company = crate::access::require_admin(actor)?;
    stored::get(app.db(), company, id).await?;
    let reason = (!active).then_some("paused by an admin");
    if stored::set_active(app.db(), company, id, active, reason).await? {
        let mut tx = app.db().begin().await?;
        audit::record(
            &mut tx,
            Some(actor),
            Some(company),
            Stream::Company(company),
            Payload::WebhookSubscriptionUpdated {
                subscription_id: id,
                fields: vec![if active { "resumed" } else { "paused" }.to_owned()],
            },
        )
        .await?;
        app.commit(tx).await?;
    }
    get(app, actor, id).await
}

/// A 410 Gone pauses the subscription.
pub(crate) async fn pause_gone(app: &App, company: CompanyId, id: SubscriptionId) -> Result<()> {
    stored::set_active(
        app.db(),
        company,
        id,
        false,
        Some("the endpoint answered 410 Gone"),
    )
    .await?;
    Ok(())
}

pub async fn delete(app: &App, actor: &Actor, id: SubscriptionId) -> Result<()> {
    let company = crate::access::require_admin(actor)?;
    let s = stored::get(app.db(), company, id).await?;
    let mut tx = app.db().begin().await?;
    stored::delete(&mut tx, company, id).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::WebhookSubscriptionDeleted {
            subscription_id: id,
            url: s.url,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

pub async fn rotate_signing(
    app: &App,
    actor: &Actor,
    id: SubscriptionId,
    overlap_hours: Option<u32>,
) -> Result<crate::channels::RotatedSecret> {
    let company = crate::access::require_admin(actor)?;
    let hours = overlap_hours.unwrap_or(24);
    if hours > 168 {
        return Err(ValidationErrors::single("overlap_hours", "must be at most 168").into());
    }
    let s = stored::get(app.db(), company, id).await?;
    let secret = WebhookSigner::generate().to_whsec();
    let sealed = seal(app, company, id, "signing", &secret)?;
    let until = (hours > 0).then(|| Utc::now() + chrono::Duration::hours(i64::from(hours)));
    let previous = match until {
        Some(_) => Some(seal(
            app,
            company,
            id,
            "previous",
            &open(app, &s, "signing", &s.signing_secret)?,
        )?),
        None => None,
    };
    let mut tx = app.db().begin().await?;
    stored::rotate_signing(&mut tx, company, id, &sealed, previous.as_deref(), until).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::WebhookSubscriptionUpdated {
            subscription_id: id,
            fields: vec!["signing_secret".to_owned()],
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(crate::channels::RotatedSecret {
        secret,
        previous_valid_until: until,
    })
}

/// The body an event is delivered with.
pub(crate) fn event_body(event: &domain::event::Event) -> serde_json::Value {
    json!({
        "type": "event",
        "id": event.id,
        "company_id": event.company_id,
        "stream": event.stream,
        "kind": event.kind,
        "actor_id": event.actor_id,
        "payload": event.payload,
        "created_at": event.created_at,
    })
}

/// Sends a `webhook.test` event to the endpoint now, through the delivery engine (its
/// attempts are logged like any other).
pub async fn send_test(
    app: &App,
    actor: &Actor,
    id: SubscriptionId,
) -> Result<crate::deliveries::DeliveryView> {
    let company = crate::access::require_admin(actor)?;
    stored::get(app.db(), company, id).await?;
    let webhook_id = format!("test_{}", uuid::Uuid::now_v7().simple());
    let body = json!({
        "type": "event",
        "id": null,
        "company_id": company,
        "kind": "webhook.test",
        "payload": {"message": "a test event from TicketFlower"},
        "created_at": Utc::now(),
    });
    let mut tx = app.db().begin().await?;
    let delivery = crate::deliveries::enqueue(
        &mut tx,
        crate::deliveries::Outgoing {
            company,
            target: Target::Subscription(id),
            message: None,
            event: None,
            webhook_id,
            kind: "test",
            payload: body,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(store::deliveries::get(app.db(), company, delivery)
        .await?
        .into())
}

/// Event kinds never delivered to subscriptions: the engine's own bookkeeping, which would
/// otherwise feed back into itself, and a person's own notifications (the bell).
pub(crate) fn is_internal(kind: &str) -> bool {
    kind.starts_with("delivery.")
        || kind.starts_with("webhook_subscription.")
        || kind.starts_with("notification.")
}

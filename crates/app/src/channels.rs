//! Channels (issue 18): API channels whose provider posts signed webhooks and receives
//! our replies, and test channels that stand in for one. The built-in web chat is the
//! channel of conversations without one. Secrets are sealed at rest and shown once.

pub mod verify;

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::channel::{ChannelKind, DeliveryState, Verification};
use domain::event::{Payload, Stream};
use domain::{ChannelId, CompanyId, ConversationId, MessageId, ValidationErrors};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use store::channels::{self as stored, Channel};
use store::deliveries::Target;

use crate::{App, AppError, Result, audit};

const MAX_NAME_CHARS: usize = 100;
const MAX_EXTERNAL_CHARS: usize = 500;
const MAX_EXTERNAL_FILES: usize = 10;

/// A channel's health, from its deliveries.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Share of delivery attempts of the last 24 hours that succeeded (`None`: none made).
    pub success_rate: Option<f64>,
    pub attempts_24h: i64,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    /// `closed` (deliveries flow), `open` (held after repeated failures) or `half_open`
    /// (one probe may go).
    pub breaker: String,
    pub breaker_until: Option<DateTime<Utc>>,
}

/// A channel as its admins see it (never its secrets).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub id: ChannelId,
    /// Names the channel in its inbound URL.
    pub public_id: String,
    /// Where the provider posts: `/api/v1/hooks/{public_id}`.
    pub inbound_url: String,
    pub slug: String,
    pub name: String,
    pub kind: ChannelKind,
    pub verification: Verification,
    /// The header an `hmac_sha256` channel reads its signature from.
    pub signature_header: Option<String>,
    pub outbound_url: Option<String>,
    pub active: bool,
    pub paused_reason: Option<String>,
    /// Until when the previous signing secret is still sent alongside the new one.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub health: Health,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new channel with its secrets, shown this once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedChannel {
    #[serde(flatten)]
    pub channel: ChannelView,
    /// What the provider signs inbound webhooks with.
    pub inbound_secret: String,
    /// What our deliveries to `outbound_url` are signed with (Standard Webhooks).
    pub signing_secret: String,
}

/// What `POST /channels` asks for.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub kind: Option<ChannelKind>,
    /// Defaults to `standard_webhooks`.
    pub verification: Option<Verification>,
    /// For `hmac_sha256`: the header carrying `sha256=<hex>` (default
    /// `X-Hub-Signature-256`).
    pub signature_header: Option<String>,
    /// Where replies are POSTed (API channels).
    pub outbound_url: Option<String>,
    /// The provider's secret when it sets one (Slack's signing secret, the token given to
    /// Telegram); else one is generated.
    pub inbound_secret: Option<String>,
}

/// What `PATCH /channels/{id}` may change.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    pub name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "crate::channels::some_or_null")]
    #[schema(value_type = Option<String>)]
    pub outbound_url: Option<Option<String>>,
    pub signature_header: Option<String>,
    pub verification: Option<Verification>,
    /// A new inbound secret (the provider's); with `verification` it must fit the new
    /// scheme.
    pub inbound_secret: Option<String>,
}

/// Distinguishes a field sent as `null` from one left out.
pub(crate) fn some_or_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A rotated secret, shown once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    pub secret: String,
    /// Until when the previous one still signs (outbound) alongside.
    pub previous_valid_until: Option<DateTime<Utc>>,
}

fn secret_aad(company: CompanyId, public_id: &str, which: &str) -> Vec<u8> {
    format!("{}|channel-{which}|{public_id}", company.0).into_bytes()
}

fn seal(
    app: &App,
    company: CompanyId,
    public_id: &str,
    which: &str,
    secret: &str,
) -> Result<Vec<u8>> {
    app.vault()?
        .seal(secret.as_bytes(), &secret_aad(company, public_id, which))
        .map_err(AppError::internal)
}

pub(crate) fn open(app: &App, channel: &Channel, which: &str, sealed: &[u8]) -> Result<String> {
    let bytes = app
        .vault()?
        .open(
            sealed,
            &secret_aad(channel.company_id, &channel.public_id, which),
        )
        .map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}

fn valid_slug(slug: &str) -> bool {
    (1..=40).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && slug
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

fn valid_header(name: &str) -> bool {
    reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok() && name.len() <= 100
}

fn check_url(app: &App, errors: &mut ValidationErrors, field: &str, url: &str) {
    if let Err(error) = app
        .outbound()
        .and_then(|c| c.check_url(url).map_err(AppError::internal))
    {
        errors.add(field, format!("is not a usable endpoint: {error}"));
    }
}

/// The health columns every endpoint (a channel, a subscription) keeps.
pub(crate) struct HealthRow {
    pub consecutive_failures: i32,
    pub breaker_until: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

impl Health {
    /// The endpoint's health: its attempts of the last 24 hours and its breaker now.
    pub(crate) async fn measure(
        app: &App,
        company: CompanyId,
        target: Target,
        row: HealthRow,
    ) -> Result<Self> {
        let now = Utc::now();
        let (ok, failed) = store::deliveries::attempt_counts(
            app.db(),
            company,
            target,
            now - chrono::Duration::hours(24),
        )
        .await?;
        let total = ok + failed;
        let breaker = match row.breaker_until {
            None => "closed",
            Some(until) if until > now => "open",
            Some(_) => "half_open",
        };
        Ok(Self {
            #[allow(clippy::cast_precision_loss)]
            success_rate: (total > 0).then(|| ok as f64 / total as f64),
            attempts_24h: total,
            last_success_at: row.last_success_at,
            last_error: row.last_error,
            last_error_at: row.last_error_at,
            consecutive_failures: row.consecutive_failures,
            breaker: breaker.into(),
            breaker_until: row.breaker_until,
        })
    }
}

async fn view(app: &App, channel: Channel) -> Result<ChannelView> {
    let health = Health::measure(
        app,
        channel.company_id,
        Target::Channel(channel.id),
        HealthRow {
            consecutive_failures: channel.consecutive_failures,
            breaker_until: channel.breaker_until,
            last_success_at: channel.last_success_at,
            last_error: channel.last_error,
            last_error_at: channel.last_error_at,
        },
    )
    .await?;
    let now = Utc::now();
    Ok(ChannelView {
        id: channel.id,
        inbound_url: format!(
            "{}/api/v1/hooks/{}",
            app.settings().base_url(),
            channel.public_id
        ),
        public_id: channel.public_id,
        slug: channel.slug,
        name: channel.name,
        kind: channel.kind,
        verification: channel.verification,
        signature_header: channel.signature_header,
        outbound_url: channel.outbound_url,
        active: channel.active,
        paused_reason: channel.paused_reason,
        previous_secret_until: channel.previous_until.filter(|until| *until > now),
        health,
        created_at: channel.created_at,
        updated_at: channel.updated_at,
    })
}

/// Creates a channel (company admins); its secrets are in the answer this once.
pub async fn create(app: &App, actor: &Actor, new: NewChannel) -> Result<CreatedChannel> {
    let company = crate::access::require_admin(actor)?;
    let mut errors = ValidationErrors::new();
    let name = new
        .name
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        errors.add("name", "is required");
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.add("name", "must be at most 100 characters");
    }
    let slug = new
        .slug
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if !valid_slug(&slug) {
        errors.add(
            "slug",
            "must be 1 to 40 lower-case letters, digits, - or _, starting with a letter or digit",
        );
    }
    let kind = new.kind.unwrap_or(ChannelKind::Api);
    let verification = new.verification.unwrap_or(Verification::StandardWebhooks);
    let header = new
        .signature_header
        .as_deref()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty());
    if let Some(header) = &header {
        if verification != Verification::HmacSha256 {
            errors.add("signature_header", "applies to hmac_sha256 only");
        } else if !valid_header(header) {
            errors.add("signature_header", "is not a valid header name");
        }
    }
    let outbound = new
        .outbound_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    match (kind, outbound) {
        (ChannelKind::Api, Some(url)) => check_url(app, &mut errors, "outbound_url", url),
        (ChannelKind::Api, None) => {}
        (ChannelKind::Test, Some(_)) => errors.add(
            "outbound_url",
            "a test channel records its deliveries instead of sending them",
        ),
        (ChannelKind::Test, None) => {}
    }
    let inbound_secret = match new.inbound_secret.as_deref().map(str::trim) {
        Some(secret) => {
            if let Err(why) = verify::check_secret(verification, secret) {
                errors.add("inbound_secret", why);
            }
            secret.to_owned()
        }
        None => verify::generate(verification),
    };
    errors.into_result()?;
    // Random (not time-ordered): the inbound URL should not tell when it was made.
    let public_id = {
        let mut bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    };
    let signing = crate::infra::outbound::WebhookSigner::generate().to_whsec();
    let sealed_inbound = seal(app, company, &public_id, "inbound", &inbound_secret)?;
    let sealed_signing = seal(app, company, &public_id, "signing", &signing)?;
    let mut tx = app.db().begin().await?;
    let channel = stored::insert(
        &mut tx,
        stored::NewChannel {
            company,
            public_id: &public_id,
            slug: &slug,
            name: &name,
            kind,
            verification,
            signature_header: header.as_deref(),
            inbound_secret: &sealed_inbound,
            outbound_url: outbound,
            signing_secret: &sealed_signing,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::ChannelCreated {
            channel_id: channel.id,
            slug,
            name,
            channel_kind: kind,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(CreatedChannel {
        channel: view(app, channel).await?,
        inbound_secret,
        signing_secret: signing,
    })
}

/// The company's channels (agents see them, for the inbox's filter; admins manage them).
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<ChannelView>> {
    let company = agent_company(actor)?;
    let mut views = Vec::new();
    for channel in stored::list(app.db(), company).await? {
        views.push(view(app, channel).await?);
    }
    Ok(views)
}

fn agent_company(actor: &Actor) -> Result<CompanyId> {
    let company = crate::access::company_of(actor)?;
    if crate::access::is_agent(actor) {
        Ok(company)
    } else {
        Err(AppError::Forbidden(
            "channels are for the company's agents".into(),
        ))
    }
}

pub async fn get(app: &App, actor: &Actor, id: ChannelId) -> Result<ChannelView> {
    let company = agent_company(actor)?;
    view(app, stored::get(app.db(), company, id).await?).await
}

/// Changes a channel's name, endpoint or inbound verification (company admins).
pub async fn update(
    app: &App,
    actor: &Actor,
    id: ChannelId,
    patch: ChannelPatch,
) -> Result<ChannelView> {
    let company = crate::access::require_admin(actor)?;
    let channel = stored::get(app.db(), company, id).await?;
    let mut errors = ValidationErrors::new();
    let mut changes = stored::ChannelChanges::default();
    let mut fields = Vec::new();
    if let Some(name) = patch.name.as_deref().map(str::trim) {
        if name.is_empty() {
            errors.add("name", "must not be empty");
        } else if name.chars().count() > MAX_NAME_CHARS {
            errors.add("name", "must be at most 100 characters");
        }
        changes.name = Some(name.to_owned());
        fields.push("name".to_owned());
    }
    if let Some(url) = patch.outbound_url {
        let url = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        if let Some(url) = &url {
            if channel.kind == ChannelKind::Test {
                errors.add("outbound_url", "a test channel records its deliveries");
            } else {
                check_url(app, &mut errors, "outbound_url", url);
            }
        }
        changes.outbound_url = Some(url);
        fields.push("outbound_url".to_owned());
    }
    let verification = patch.verification.unwrap_or(channel.verification);
    if let Some(header) = patch.signature_header.as_deref().map(str::trim) {
        let header = header.to_ascii_lowercase();
        if verification != Verification::HmacSha256 {
            errors.add("signature_header", "applies to hmac_sha256 only");
        } else if !valid_header(&header) {
            errors.add("signature_header", "is not a valid header name");
        }
        changes.signature_header = Some(Some(header));
        fields.push("signature_header".to_owned());
    }
    if patch.verification.is_some() {
        if verification != Verification::HmacSha256 {
            changes.signature_header = Some(None);
        }
        changes.verification = Some(verification);
        fields.push("verification".to_owned());
        if patch.inbound_secret.is_none() {
            let current = open(app, &channel, "inbound", &channel.inbound_secret)?;
            if verify::check_secret(verification, &current).is_err() {
                errors.add(
                    "inbound_secret",
                    "the current secret does not fit the new scheme: send one",
                );
            }
        }
    }
    if let Some(secret) = patch.inbound_secret.as_deref().map(str::trim) {
        if let Err(why) = verify::check_secret(verification, secret) {
            errors.add("inbound_secret", why);
        }
        changes.inbound_secret = Some(seal(app, company, &channel.public_id, "inbound", secret)?);
        fields.push("inbound_secret".to_owned());
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
            Payload::ChannelUpdated {
                channel_id: id,
                fields,
            },
        )
        .await?;
        app.commit(tx).await?;
    }
    get(app, actor, id).await
}

/// Pauses (inbound answers 404, deliveries wait) or resumes a channel (company admins).
pub async fn set_active(
    app: &App,
    actor: &Actor,
    id: ChannelId,
    active: bool,
) -> Result<ChannelView> {
    let company = crate::access::require_admin(actor)?;
    stored::get(app.db(), company, id).await?;
    let reason = (!active).then_some("paused by an admin");
    let mut tx = app.db().begin().await?;
    if stored::set_active(&mut tx, company, id, active, reason).await? {
        let payload = if active {
            Payload::ChannelResumed { channel_id: id }
        } else {
            Payload::ChannelPaused {
                channel_id: id,
                reason: "paused by an admin".into(),
            }
        };
        audit::record(
            &mut tx,
            Some(actor),
            Some(company),
            Stream::Company(company),
            payload,
        )
        .await?;
    }
    app.commit(tx).await?;
    get(app, actor, id).await
}

/// Pauses a channel whose endpoint answered 410 Gone (from a delivery, no person).
pub(crate) async fn pause_gone(app: &App, channel: &Channel) -> Result<()> {
    let reason = "the endpoint answered 410 Gone";
    let mut tx = app.db().begin().await?;
    if stored::set_active(&mut tx, channel.company_id, channel.id, false, Some(reason)).await? {
        audit::record(
            &mut tx,
            None,
            Some(channel.company_id),
            Stream::Company(channel.company_id),
            Payload::ChannelPaused {
                channel_id: channel.id,
                reason: reason.into(),
            },
        )
        .await?;
    }
    app.commit(tx).await?;
    Ok(())
}

/// Longest overlap a rotated signing secret may keep signing.
const MAX_OVERLAP_HOURS: u32 = 24 * 7;

/// Replaces the outbound signing secret; for `overlap_hours` (default 24) deliveries carry
/// signatures under both, so the receiver can switch at its pace.
pub async fn rotate_signing(
    app: &App,
    actor: &Actor,
    id: ChannelId,
    overlap_hours: Option<u32>,
) -> Result<RotatedSecret> {
    let company = crate::access::require_admin(actor)?;
    let hours = overlap_hours.unwrap_or(24);
    if hours > MAX_OVERLAP_HOURS {
        return Err(ValidationErrors::single("overlap_hours", "must be at most 168").into());
    }
    let channel = stored::get(app.db(), company, id).await?;
    let secret = crate::infra::outbound::WebhookSigner::generate().to_whsec();
    let sealed = seal(app, company, &channel.public_id, "signing", &secret)?;
    let until = (hours > 0).then(|| Utc::now() + chrono::Duration::hours(i64::from(hours)));
    // The previous secret is re-sealed under its own purpose, so it cannot pass for the
    // current one.
    let previous = match until {
        Some(_) => {
            let current = open(app, &channel, "signing", &channel.signing_secret)?;
            Some(seal(
                app,
                company,
                &channel.public_id,
                "previous",
                &current,
            )?)
        }
        None => None,
    };
    let mut tx = app.db().begin().await?;
    stored::rotate_signing(&mut tx, company, id, &sealed, previous.as_deref(), until).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::ChannelSecretRotated {
            channel_id: id,
            which: "signing".into(),
            previous_valid_until: until,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(RotatedSecret {
        secret,
        previous_valid_until: until,
    })
}

/// The secrets a delivery is signed with now: the current one, and the previous one while
/// its overlap lasts.
pub(crate) fn signing_secrets(app: &App, channel: &Channel) -> Result<Vec<String>> {
    let mut secrets = vec![open(app, channel, "signing", &channel.signing_secret)?];
    if let (Some(previous), Some(until)) =
        (&channel.previous_signing_secret, channel.previous_until)
        && until > Utc::now()
    {
        secrets.push(open(app, channel, "previous", previous)?);
    }
    Ok(secrets)
}

/// A file an inbound message links to at its provider.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ExternalFile {
    pub url: String,
    pub name: Option<String>,
    pub content_type: Option<String>,
}

/// An inbound webhook's body, as the webhook hub took it, plus delivery receipts.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct InboundBody {
    /// `message` (the default) or `status` (a receipt for one of our messages).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub external_user_id: Option<String>,
    /// The provider's id of the message: a repeat is recognised by it.
    pub external_message_id: Option<String>,
    /// Messages with the same thread id form one conversation.
    pub thread_id: Option<String>,
    pub content: Option<String>,
    /// When the provider received it (informational).
    pub timestamp: Option<serde_json::Value>,
    pub attachments: Option<Vec<ExternalFile>>,
    /// The contact's name at the provider.
    pub display_name: Option<String>,
    /// Anything else the provider sends; kept with the raw event.
    pub raw: Option<serde_json::Value>,
    /// For `status`: our message id (the `webhook-id` of the delivery).
    pub message_id: Option<MessageId>,
    /// For `status`: `delivered`, `read` or `failed`.
    pub status: Option<String>,
    /// For a `failed` status: why.
    pub error: Option<String>,
}

/// What an accepted inbound webhook did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// `ok`, `duplicate` (nothing was created) or `recorded` (a receipt).
    pub status: String,
    pub message_id: Option<MessageId>,
    pub conversation_id: Option<ConversationId>,
}

/// Headers whose values are credentials, left out of the stored raw event.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "webhook-signature",
    "x-hub-signature-256",
    "x-hub-signature",
    "x-slack-signature",
    "x-telegram-bot-api-secret-token",
    "x-signature",
];

fn redacted(headers: &HeaderMap, channel: &Channel) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let secret =
            SECRET_HEADERS.contains(&name) || channel.signature_header.as_deref() == Some(name);
        let value = if secret {
            "[redacted]".to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes())
                .chars()
                .take(500)
                .collect()
        };
        map.insert(name.to_owned(), serde_json::Value::String(value));
    }
    serde_json::Value::Object(map)
}

/// Receives a provider's webhook: verified on the raw bytes before anything is parsed,
/// kept raw (credentials redacted), deduplicated on the provider's message id, and turned
/// into an inbound message in one transaction. Nothing is written when any check fails.
pub async fn receive(
    app: &App,
    public_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Accepted> {
    let channel = stored::by_public_id(app.db(), public_id)
        .await?
        .filter(|c| c.active)
        .ok_or(AppError::NotFound)?;
    let secret = open(app, &channel, "inbound", &channel.inbound_secret)?;
    verify::verify(
        channel.verification,
        channel.signature_header.as_deref(),
        &secret,
        headers,
        body,
        Utc::now().timestamp(),
    )
    .map_err(|refusal| AppError::Unauthorized(refusal.to_string()))?;
    let text = std::str::from_utf8(body)
        .map_err(|_| ValidationErrors::single("body", "is not UTF-8 text"))?;
    let parsed: InboundBody = serde_path_to_error::deserialize(
        &mut serde_json::Deserializer::from_str(text),
    )
    .map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ValidationErrors::single(&field, error.inner().to_string())
    })?;
    let headers = redacted(headers, &channel);
    match parsed.kind.as_deref().unwrap_or("message") {
        "message" => accept_message(app, &channel, parsed, headers, text).await,
        "status" => accept_receipt(app, &channel, parsed, headers, text).await,
        _ => Err(ValidationErrors::single("type", "must be message or status").into()),
    }
}

/// An inbound message a test channel's page sends (an admin stands in for the provider).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestInbound {
    pub external_user_id: Option<String>,
    pub display_name: Option<String>,
    pub thread_id: Option<String>,
    pub content: Option<String>,
}

/// Sends an inbound message through a test channel, as its provider would.
pub async fn send_test(
    app: &App,
    actor: &Actor,
    id: ChannelId,
    test: TestInbound,
) -> Result<Accepted> {
    let company = crate::access::require_admin(actor)?;
    let channel = stored::get(app.db(), company, id).await?;
    if channel.kind != ChannelKind::Test {
        return Err(AppError::Conflict {
            field: Some("kind".into()),
            message: "only a test channel takes messages from its page".into(),
        });
    }
    let body = InboundBody {
        kind: None,
        external_user_id: test.external_user_id,
        external_message_id: Some(format!("test-{}", uuid::Uuid::now_v7())),
        thread_id: test.thread_id,
        content: test.content,
        timestamp: None,
        attachments: None,
        display_name: test.display_name,
        raw: None,
        message_id: None,
        status: None,
        error: None,
    };
    let text = serde_json::json!({"sent_by": actor.user_id}).to_string();
    accept_message(app, &channel, body, serde_json::json!({}), &text).await
}

fn bounded(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    required: bool,
) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if required => {
            errors.add(field, "is required");
            None
        }
        Some(v) if v.chars().count() > MAX_EXTERNAL_CHARS => {
            errors.add(field, "must be at most 500 characters");
            None
        }
        Some(v) if v.contains('\0') => {
            errors.add(field, "must not contain NUL characters");
            None
        }
        v => v.map(str::to_owned),
    }
}

async fn accept_message(
    app: &App,
    channel: &Channel,
    body: InboundBody,
    headers: serde_json::Value,
    raw: &str,
) -> Result<Accepted> {
    let company = channel.company_id;
    let settings = crate::chat::of(app, company).await?;
    let mut errors = ValidationErrors::new();
    let user = bounded(
        &mut errors,
        "external_user_id",
        body.external_user_id.as_deref(),
        true,
    );
    let external_id = bounded(
        &mut errors,
        "external_message_id",
        body.external_message_id.as_deref(),
        false,
    );
    let thread = bounded(&mut errors, "thread_id", body.thread_id.as_deref(), false);
    let name = bounded(
        &mut errors,
        "display_name",
        body.display_name.as_deref(),
        false,
    );
    let content = body
        .content
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if content.contains('\0') {
        errors.add("content", "must not contain NUL characters");
    }
    if content.chars().count() > settings.max_message_chars as usize {
        errors.add(
            "content",
            format!("must be at most {} characters", settings.max_message_chars),
        );
    }
    let files = body.attachments.unwrap_or_default();
    if files.len() > MAX_EXTERNAL_FILES {
        errors.add("attachments", "at most 10 files");
    }
    for (i, file) in files.iter().enumerate() {
        let ok = url::Url::parse(&file.url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && file.url.len() <= 2000);
        if !ok {
            errors.add(format!("attachments/{i}/url"), "must be an http(s) URL");
        }
    }
    if content.is_empty() && files.is_empty() {
        errors.add("content", "is required (or attachments)");
    }
    errors.into_result()?;
    let (Some(user), body_text) = (user, content) else {
        return Err(AppError::internal("validated external_user_id is missing"));
    };
    // A repeat already stored is answered from a read, without taking the writer: a
    // provider retrying a burst must not queue behind new messages. A repeat racing its
    // first copy is caught by the unique index below.
    if let Some(external) = &external_id
        && let Some(earlier) =
            stored::inbound_message(app.db(), company, channel.id, external).await?
    {
        return Ok(Accepted {
            status: "duplicate".into(),
            message_id: Some(MessageId(earlier)),
            conversation_id: store::conversations::message_conversation(
                app.db(),
                company,
                MessageId(earlier),
            )
            .await?,
        });
    }
    let strategy = settings.assignment;
    let message_id = MessageId(uuid::Uuid::now_v7());
    let mut tx = app.db().begin().await?;
    let fresh = stored::record_inbound(
        &mut tx,
        stored::NewInbound {
            company,
            channel: channel.id,
            external_message_id: external_id.as_deref(),
            kind: "message",
            headers,
            body: raw,
            message_id: Some(message_id.0),
        },
    )
    .await?;
    if !fresh {
        // Waits for the first copy's commit when it raced this one (SQLite's group
        // commit), so the answer names it and is not given before it is durable.
        tx.rollback().await?;
        let earlier = match &external_id {
            Some(external) => {
                stored::inbound_message(app.db(), company, channel.id, external).await?
            }
            None => None,
        };
        let conversation = match earlier {
            Some(message) => {
                store::conversations::message_conversation(app.db(), company, MessageId(message))
                    .await?
            }
            None => None,
        };
        return Ok(Accepted {
            status: "duplicate".into(),
            message_id: earlier.map(MessageId),
            conversation_id: conversation,
        });
    }
    let (contact, _) =
        stored::get_or_insert_contact(&mut tx, company, channel.id, &user, name.as_deref()).await?;
    let external_files =
        (!files.is_empty()).then(|| serde_json::to_value(&files).unwrap_or_default());
    let (conversation, message) = crate::conversations::arrive(
        app,
        &mut tx,
        company,
        crate::conversations::Arrival {
            channel: channel.id,
            contact,
            thread,
            body: body_text,
            external_id,
            external_files,
            id: message_id,
        },
        strategy,
        &settings,
    )
    .await?;
    app.commit(tx).await?;
    Ok(Accepted {
        status: "ok".into(),
        message_id: Some(message.id),
        conversation_id: Some(conversation),
    })
}

async fn accept_receipt(
    app: &App,
    channel: &Channel,
    body: InboundBody,
    headers: serde_json::Value,
    raw: &str,
) -> Result<Accepted> {
    let company = channel.company_id;
    let mut errors = ValidationErrors::new();
    let state = match body.status.as_deref() {
        Some("delivered") => Some(DeliveryState::Delivered),
        Some("read") => Some(DeliveryState::Read),
        Some("failed") => Some(DeliveryState::Failed),
        _ => {
            errors.add("status", "must be delivered, read or failed");
            None
        }
    };
    if body.message_id.is_none() {
        errors.add(
            "message_id",
            "is required: our message id (the delivery's webhook-id)",
        );
    }
    let error = bounded(&mut errors, "error", body.error.as_deref(), false);
    errors.into_result()?;
    let (Some(state), Some(message_id)) = (state, body.message_id) else {
        return Err(AppError::internal("validated receipt fields are missing"));
    };
    let Some(conversation) =
        store::conversations::message_conversation(app.db(), company, message_id).await?
    else {
        return Err(
            ValidationErrors::single("message_id", "no such message of this channel").into(),
        );
    };
    let found = store::conversations::get(app.db(), company, conversation).await?;
    if found.channel_id != Some(channel.id) {
        return Err(
            ValidationErrors::single("message_id", "no such message of this channel").into(),
        );
    }
    let mut tx = app.db().begin().await?;
    stored::record_inbound(
        &mut tx,
        stored::NewInbound {
            company,
            channel: channel.id,
            external_message_id: None,
            kind: "status",
            headers,
            body: raw,
            message_id: Some(message_id.0),
        },
    )
    .await?;
    crate::deliveries::set_message_state(
        &mut tx,
        company,
        conversation,
        message_id,
        state,
        error.as_deref(),
    )
    .await?;
    app.commit(tx).await?;
    Ok(Accepted {
        status: "recorded".into(),
        message_id: Some(message_id),
        conversation_id: Some(conversation),
    })
}

/// A contact as agents see it, with their other conversations.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub id: domain::ContactId,
    pub channel_id: ChannelId,
    pub channel_name: String,
    pub external_id: String,
    pub display_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The contact of a channel conversation (agents).
pub async fn contact(app: &App, actor: &Actor, id: domain::ContactId) -> Result<ContactView> {
    let company = agent_company(actor)?;
    let contact = stored::contact(app.db(), company, id).await?;
    let channel = stored::get(app.db(), company, contact.channel_id).await?;
    Ok(ContactView {
        id: contact.id,
        channel_id: channel.id,
        channel_name: channel.name,
        external_id: contact.external_id,
        display_name: contact.display_name,
        created_at: contact.created_at,
    })
}

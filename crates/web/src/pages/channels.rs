//! The admin's pages of channels and event webhook subscriptions (issue 18): the list with
//! health and a form to add one (its secrets shown on that one answer), a detail page to
//! edit, pause, rotate the signing secret and, for a test channel, send a message as a
//! contact; and the deliveries of both with their attempt logs and the replay of dead
//! letters. Every decision is `app::channels`, `app::webhooks` and `app::deliveries`'s, as
//! for the API; these handlers translate forms into those use cases and back.

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use app::channels::{ChannelPatch, ChannelView, Health, NewChannel, RotatedSecret, TestInbound};
use app::deliveries::{DeliveryView, ListQuery, Target};
use app::webhooks::{SubscriptionInput, SubscriptionView};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use domain::channel::{ChannelKind, Verification};
use domain::{ChannelId, ConversationId, DeliveryId, SubscriptionId, SystemRole};
use serde::Deserialize;

use crate::pages::kit::context::{CsrfForm, Flash, PageCtx, PagePath, PagePost, PageResult};
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

const CHANNELS: &str = "/admin/channels";
const WEBHOOKS: &str = "/admin/webhooks";

/// Deliveries a detail page lists (the newest).
const DELIVERIES_SHOWN: u32 = 50;

/// The pages are the company admins'; others get the refusal the other admin pages give.
fn admins_only(ctx: &PageCtx) -> Result<(), Response> {
    if ctx.actor.has(SystemRole::Admin) {
        Ok(())
    } else {
        ctx.load(Err(app::AppError::Forbidden(
            "company admins manage channels and webhooks".into(),
        )))
    }
}

// ---- What the pages show

/// An inbound verification scheme, explained for the person choosing one.
pub struct Scheme {
    pub value: &'static str,
    pub title: &'static str,
    pub about: &'static str,
}

const SCHEMES: [Scheme; 5] = [
    Scheme {
        value: "standard_webhooks",
        title: "Standard Webhooks",
        about: "The provider signs each call with webhook-id, webhook-timestamp and webhook-signature (HMAC-SHA256); calls older than 5 minutes are refused. The best choice when the provider offers it.",
    },
    Scheme {
        value: "hmac_sha256",
        title: "HMAC-SHA256 of the body",
        about: "The provider sends sha256=<hex> of the body in a header of its choice, as GitHub does (X-Hub-Signature-256 unless you name another).",
    },
    Scheme {
        value: "slack",
        title: "Slack",
        about: "Slack's X-Slack-Signature over v0:{timestamp}:{body} with X-Slack-Request-Timestamp; give Slack's signing secret as the provider secret.",
    },
    Scheme {
        value: "telegram",
        title: "Telegram",
        about: "Telegram sends the secret token itself in X-Telegram-Bot-Api-Secret-Token; give the token you set with setWebhook as the provider secret.",
    },
    Scheme {
        value: "shared_secret",
        title: "Shared secret (compatibility)",
        about: "The old webhook hub's plain secret in X-Signature. It proves little: use it only for senders that cannot sign.",
    },
];

fn scheme_title(verification: Verification) -> &'static str {
    SCHEMES
        .iter()
        .find(|s| s.value == verification.as_str())
        .map_or("", |s| s.title)
}

/// A channel's or subscription's health, in words.
pub struct HealthRow {
    /// "75 % of 4 attempts", or that none were made.
    pub rate: String,
    pub last_success: Option<When>,
    pub last_error: Option<String>,
    pub last_error_at: Option<When>,
    pub failures: i32,
    /// `closed`, `open` or `half_open`, for the badge's colour.
    pub breaker: String,
    pub breaker_words: String,
}

impl HealthRow {
    fn of(health: Health) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        let rate = match health.success_rate {
            Some(rate) => format!(
                "{} % of {} attempt{}",
                (rate * 100.0).round() as i64,
                health.attempts_24h,
                if health.attempts_24h == 1 { "" } else { "s" }
            ),
            None => "no attempts".into(),
        };
        let breaker_words = match health.breaker.as_str() {
            "open" => match health.breaker_until {
                Some(until) => format!("open until {}: deliveries wait", exact(until)),
                None => "open: deliveries wait".into(),
            },
            "half_open" => "half open: one probe may go".into(),
            _ => "closed: deliveries flow".into(),
        };
        let breaker = match health.breaker.as_str() {
            "open" => "blocked",
            "half_open" => "pending",
            _ => "active",
        }
        .to_owned();
        Self {
            rate,
            last_success: health.last_success_at.map(when),
            last_error: health.last_error,
            last_error_at: health.last_error_at.map(when),
            failures: health.consecutive_failures,
            breaker,
            breaker_words,
        }
    }
}

fn exact(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A moment ahead: "in 5 s", "in 3 min", with the exact time.
fn ahead(at: DateTime<Utc>) -> String {
    let seconds = (at - Utc::now()).num_seconds();
    let relative = match seconds {
        ..1 => "due now".to_owned(),
        1..120 => format!("in {seconds} s"),
        120..7_200 => format!("in {} min", seconds / 60),
        _ => format!("in {} h", seconds / 3_600),
    };
    format!("{relative} ({})", exact(at))
}

/// A channel as its list and its page show it.
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub kind: &'static str,
    pub is_test: bool,
    pub verification: &'static str,
    pub signature_header: Option<String>,
    pub inbound_url: String,
    pub outbound_url: Option<String>,
    pub active: bool,
    pub paused_reason: Option<String>,
    pub previous_secret_until: Option<String>,
    pub health: HealthRow,
    pub created: When,
}

impl ChannelRow {
    fn of(c: ChannelView) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name,
            slug: c.slug,
            kind: c.kind.as_str(),
            is_test: c.kind == ChannelKind::Test,
            verification: scheme_title(c.verification),
            signature_header: c.signature_header,
            inbound_url: c.inbound_url,
            outbound_url: c.outbound_url,
            active: c.active,
            paused_reason: c.paused_reason,
            previous_secret_until: c.previous_secret_until.map(exact),
            health: HealthRow::of(c.health),
            created: when(c.created_at),
        }
    }
}

/// A delivery in a list, and at the top of its own page.
pub struct DeliveryRow {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub attempts: i32,
    pub last_status: String,
    pub last_error: String,
    pub next_attempt: String,
    pub created: When,
    pub delivered: Option<When>,
    pub webhook_id: String,
    /// What is (or was) posted, where the page shows it.
    pub body: Option<String>,
}

impl DeliveryRow {
    fn of(d: DeliveryView) -> Self {
        Self {
            id: d.id.to_string(),
            kind: d.kind,
            last_status: d.last_status.map_or_else(|| "—".into(), |s| s.to_string()),
            last_error: d.last_error.unwrap_or_default(),
            next_attempt: match (d.state.as_str(), d.next_attempt_at) {
                ("pending", Some(at)) => ahead(at),
                _ => String::new(),
            },
            state: d.state,
            attempts: d.attempts,
            created: when(d.created_at),
            delivered: d.delivered_at.map(when),
            webhook_id: d.webhook_id,
            body: None,
        }
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The deliveries of a channel or subscription with the forms that act on them, shared by
/// both detail pages (`deliveries_panel.html`).
pub struct DeliveriesPanel {
    /// The endpoint's page: the list's links and forms are below it.
    pub base: String,
    pub rows: Vec<DeliveryRow>,
    /// The state the list is filtered by (`""`: every state).
    pub filter: String,
    pub filter_error: String,
    /// A test channel's page: each row shows what would have been delivered.
    pub recorded: bool,
    pub replay_from: String,
    pub replay_to: String,
    pub replay_errors: FieldErrors,
}

/// The detail pages' query: the deliveries' filter, and a conversation a test message just
/// went to.
#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    sent: String,
}

async fn deliveries_panel(
    state: &WebState,
    ctx: &PageCtx,
    target: Target,
    base: String,
    query: &DetailQuery,
    recorded: bool,
) -> Result<DeliveriesPanel, Response> {
    let (filter, filter_error) = match query.state.trim() {
        "" => (String::new(), String::new()),
        s @ ("pending" | "delivered" | "dead") => (s.to_owned(), String::new()),
        other => (
            String::new(),
            format!("“{other}” is no delivery state: showing every delivery."),
        ),
    };
    let list = ListQuery {
        state: (!filter.is_empty()).then(|| filter.clone()),
        limit: Some(DELIVERIES_SHOWN),
        ..ListQuery::default()
    };
    let found = ctx.load(app::deliveries::list(&state.app, &ctx.actor, target, list).await)?;
    let mut rows = Vec::with_capacity(found.len());
    for delivery in found {
        let id = delivery.id;
        let mut row = DeliveryRow::of(delivery);
        if recorded {
            // A reply whose message is gone has nothing to show; the row still does.
            row.body = app::deliveries::body_of(&state.app, &ctx.actor, target, id)
                .await
                .ok()
                .map(|body| pretty(&body));
        }
        rows.push(row);
    }
    Ok(DeliveriesPanel {
        base,
        rows,
        filter,
        filter_error,
        recorded,
        replay_from: String::new(),
        replay_to: String::new(),
        replay_errors: FieldErrors::default(),
    })
}

// ---- Channels: the list and a new one

/// What was typed into the new-channel form.
#[derive(Deserialize, Default)]
pub struct ChannelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    verification: String,
    #[serde(default)]
    signature_header: String,
    #[serde(default)]
    outbound_url: String,
    #[serde(default)]
    inbound_secret: String,
}

impl ChannelForm {
    fn blank() -> Self {
        Self {
            kind: "api".into(),
            verification: "standard_webhooks".into(),
            ..Self::default()
        }
    }

    fn read(&self) -> Result<NewChannel, Refusal> {
        let kind = self
            .kind
            .parse::<ChannelKind>()
            .map_err(|_| Refusal::invalid("kind", "choose an API or a test channel"))?;
        let verification = self
            .verification
            .parse::<Verification>()
            .map_err(|_| Refusal::invalid("verification", "choose one of the schemes"))?;
        let filled = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        Ok(NewChannel {
            name: Some(self.name.clone()),
            slug: Some(self.slug.clone()),
            kind: Some(kind),
            verification: Some(verification),
            // The header input is there for every scheme; it means something for one.
            signature_header: filled(&self.signature_header)
                .filter(|_| verification == Verification::HmacSha256),
            outbound_url: filled(&self.outbound_url),
            inbound_secret: filled(&self.inbound_secret),
        })
    }
}

const CHANNEL_INPUTS: [&str; 7] = [
    "name",
    "slug",
    "kind",
    "verification",
    "signature_header",
    "outbound_url",
    "inbound_secret",
];

/// A channel made just now, with the secrets shown on this one answer.
pub struct CreatedRow {
    pub id: String,
    pub name: String,
    pub inbound_url: String,
    pub inbound_secret: String,
    pub signing_secret: String,
}

#[derive(Template)]
#[template(path = "admin_channels.html")]
struct ChannelsPage {
    layout: Layout,
    channels: Vec<ChannelRow>,
    created: Option<CreatedRow>,
    form: ChannelForm,
    errors: FieldErrors,
    schemes: &'static [Scheme],
}

async fn channels_page(
    state: &WebState,
    ctx: &PageCtx,
    created: Option<CreatedRow>,
    form: ChannelForm,
    refusal: Option<Refusal>,
) -> PageResult {
    let channels = ctx.load(app::channels::list(&state.app, &ctx.actor).await)?;
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(
        status,
        &ChannelsPage {
            layout: ctx.layout.clone(),
            channels: channels.into_iter().map(ChannelRow::of).collect(),
            created,
            form,
            errors: refusal.map(|r| r.errors).unwrap_or_default(),
            schemes: &SCHEMES,
        },
    ))
}

pub async fn channels(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    let ctx = ctx.titled("Channels");
    admins_only(&ctx)?;
    channels_page(&state, &ctx, None, ChannelForm::blank(), None).await
}

pub async fn create_channel(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<ChannelForm>,
) -> PageResult {
    let ctx = ctx.titled("Channels");
    let new = match form.read() {
        Ok(new) => new,
        Err(refusal) => return channels_page(&state, &ctx, None, form, Some(refusal)).await,
    };
    match app::channels::create(&state.app, &ctx.actor, new).await {
        Ok(made) => {
            let created = CreatedRow {
                id: made.channel.id.to_string(),
                name: made.channel.name.clone(),
                inbound_url: made.channel.inbound_url.clone(),
                inbound_secret: made.inbound_secret,
                signing_secret: made.signing_secret,
            };
            channels_page(&state, &ctx, Some(created), ChannelForm::blank(), None).await
        }
        Err(error) => match Refusal::of(error, &CHANNEL_INPUTS) {
            Ok(refusal) => channels_page(&state, &ctx, None, form, Some(refusal)).await,
            Err(error) => Ok(ctx.failed(CHANNELS, error)),
        },
    }
}

// ---- One channel

/// What was typed into a channel's edit form.
#[derive(Deserialize, Default)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    outbound_url: String,
    #[serde(default)]
    verification: String,
    #[serde(default)]
    signature_header: String,
    /// Left empty: the current one stays.
    #[serde(default)]
    inbound_secret: String,
}

impl EditForm {
    fn of(c: &ChannelView) -> Self {
        Self {
            name: c.name.clone(),
            outbound_url: c.outbound_url.clone().unwrap_or_default(),
            verification: c.verification.as_str().into(),
            signature_header: c.signature_header.clone().unwrap_or_default(),
            inbound_secret: String::new(),
        }
    }

    /// The changes against the channel as it is: what was left as it was is not sent, so
    /// the audit names only what changed.
    fn patch(&self, current: &ChannelView) -> Result<ChannelPatch, Refusal> {
        let verification = self
            .verification
            .parse::<Verification>()
            .map_err(|_| Refusal::invalid("verification", "choose one of the schemes"))?;
        let mut patch = ChannelPatch::default();
        if self.name.trim() != current.name {
            patch.name = Some(self.name.clone());
        }
        let url = Some(self.outbound_url.trim().to_owned()).filter(|u| !u.is_empty());
        if url != current.outbound_url {
            patch.outbound_url = Some(url);
        }
        if verification != current.verification {
            patch.verification = Some(verification);
        }
        let header = self.signature_header.trim();
        if verification == Verification::HmacSha256
            && !header.is_empty()
            && Some(header.to_ascii_lowercase()) != current.signature_header
        {
            patch.signature_header = Some(header.to_owned());
        }
        let secret = self.inbound_secret.trim();
        if !secret.is_empty() {
            patch.inbound_secret = Some(secret.to_owned());
        }
        Ok(patch)
    }
}

const EDIT_INPUTS: [&str; 5] = [
    "name",
    "outbound_url",
    "verification",
    "signature_header",
    "inbound_secret",
];

/// What was typed into a test channel's "send as a contact" form.
#[derive(Deserialize, Default)]
pub struct TestForm {
    #[serde(default)]
    external_user_id: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    thread_id: String,
    #[serde(default)]
    content: String,
}

const TEST_INPUTS: [&str; 4] = ["external_user_id", "display_name", "thread_id", "content"];

/// A rotated signing secret, shown on this one answer.
pub struct RotatedRow {
    pub secret: String,
    pub previous_until: Option<String>,
}

impl RotatedRow {
    fn of(rotated: RotatedSecret) -> Self {
        Self {
            secret: rotated.secret,
            previous_until: rotated.previous_valid_until.map(exact),
        }
    }
}

/// The forms of a detail page, as typed, with their complaints.
#[derive(Default)]
struct Forms<E> {
    edit: Option<(E, Refusal)>,
    rotate: Option<(String, Refusal)>,
    test: Option<(TestForm, Refusal)>,
    replay: Option<(String, String, Refusal)>,
    rotated: Option<RotatedRow>,
}

#[derive(Template)]
#[template(path = "admin_channel.html")]
struct ChannelPage {
    layout: Layout,
    channel: ChannelRow,
    /// The edit form (named as on the new-channel form, for the shared scheme choice).
    form: EditForm,
    errors: FieldErrors,
    overlap: String,
    rotate_errors: FieldErrors,
    rotated: Option<RotatedRow>,
    test: TestForm,
    test_errors: FieldErrors,
    /// The conversation a test message just went to.
    sent: Option<String>,
    panel: DeliveriesPanel,
    schemes: &'static [Scheme],
}

fn refusal_status<T>(refusal: &Option<(T, Refusal)>) -> Option<StatusCode> {
    refusal.as_ref().map(|(_, r)| r.status)
}

async fn channel_page(
    state: &WebState,
    ctx: &PageCtx,
    id: ChannelId,
    query: &DetailQuery,
    forms: Forms<EditForm>,
) -> PageResult {
    admins_only(ctx)?;
    let channel = ctx.load(app::channels::get(&state.app, &ctx.actor, id).await)?;
    let base = format!("{CHANNELS}/{id}");
    let is_test = channel.kind == ChannelKind::Test;
    let mut panel = deliveries_panel(
        state,
        ctx,
        Target::Channel(id),
        base.clone(),
        query,
        is_test,
    )
    .await?;
    let status = refusal_status(&forms.edit)
        .or(refusal_status(&forms.rotate))
        .or(refusal_status(&forms.test))
        .or(forms.replay.as_ref().map(|(_, _, r)| r.status))
        .unwrap_or(StatusCode::OK);
    if let Some((from, to, refusal)) = forms.replay {
        panel.replay_from = from;
        panel.replay_to = to;
        panel.replay_errors = refusal.errors;
    }
    let (edit, edit_errors) = match forms.edit {
        Some((form, refusal)) => (form, refusal.errors),
        None => (EditForm::of(&channel), FieldErrors::default()),
    };
    let (overlap, rotate_errors) = match forms.rotate {
        Some((overlap, refusal)) => (overlap, refusal.errors),
        None => ("24".to_owned(), FieldErrors::default()),
    };
    let (test, test_errors) = match forms.test {
        Some((form, refusal)) => (form, refusal.errors),
        None => (TestForm::default(), FieldErrors::default()),
    };
    let sent = query
        .sent
        .parse::<ConversationId>()
        .ok()
        .map(|c| c.to_string());
    let mut layout = ctx.layout.clone();
    layout.title = format!("{} — TicketFlower", channel.name);
    layout.crumb(CHANNELS, "Channels");
    Ok(ctx.render_status(
        status,
        &ChannelPage {
            layout,
            channel: ChannelRow::of(channel),
            form: edit,
            errors: edit_errors,
            overlap,
            rotate_errors,
            rotated: forms.rotated,
            test,
            test_errors,
            sent,
            panel,
            schemes: &SCHEMES,
        },
    ))
}

pub async fn channel(
    State(state): State<WebState>,
    PagePath(id): PagePath<ChannelId>,
    ctx: PageCtx,
    Query(query): Query<DetailQuery>,
) -> PageResult {
    channel_page(&state, &ctx, id, &query, Forms::default()).await
}

pub async fn update_channel(
    State(state): State<WebState>,
    PagePath(id): PagePath<ChannelId>,
    PagePost { ctx, form }: PagePost<EditForm>,
) -> PageResult {
    let back = format!("{CHANNELS}/{id}");
    let current = match app::channels::get(&state.app, &ctx.actor, id).await {
        Ok(current) => current,
        Err(error) => return Ok(ctx.failed(&back, error)),
    };
    let refused = |form, refusal| Forms {
        edit: Some((form, refusal)),
        ..Forms::default()
    };
    let patch = match form.patch(&current) {
        Ok(patch) => patch,
        Err(refusal) => {
            let forms = refused(form, refusal);
            return channel_page(&state, &ctx, id, &DetailQuery::default(), forms).await;
        }
    };
    match app::channels::update(&state.app, &ctx.actor, id, patch).await {
        Ok(_) => Ok(ctx.redirect(&back, Flash::ok("The channel was saved."))),
        Err(error) => match Refusal::of(error, &EDIT_INPUTS) {
            Ok(refusal) => {
                let forms = refused(form, refusal);
                channel_page(&state, &ctx, id, &DetailQuery::default(), forms).await
            }
            Err(error) => Ok(ctx.failed(&back, error)),
        },
    }
}

pub async fn pause_channel(
    State(state): State<WebState>,
    PagePath(id): PagePath<ChannelId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::channels::set_active(&state.app, &ctx.actor, id, false).await;
    Ok(ctx.outcome(&format!("{CHANNELS}/{id}"), result, |c| {
        format!(
            "{} is paused: its webhooks are refused and its deliveries wait.",
            c.name
        )
    }))
}

pub async fn resume_channel(
    State(state): State<WebState>,
    PagePath(id): PagePath<ChannelId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::channels::set_active(&state.app, &ctx.actor, id, true).await;
    Ok(ctx.outcome(&format!("{CHANNELS}/{id}"), result, |c| {
        format!("{} is active again.", c.name)
    }))
}

/// The rotate form: how long the previous secret keeps signing alongside the new one.
#[derive(Deserialize, Default)]
pub struct RotateForm {
    #[serde(default)]
    overlap_hours: String,
}

impl RotateForm {
    fn hours(&self) -> Result<Option<u32>, Refusal> {
        match self.overlap_hours.trim() {
            "" => Ok(None),
            text => text.parse::<u32>().map(Some).map_err(|_| {
                Refusal::invalid("overlap_hours", "must be a whole number of hours, 0 to 168")
            }),
        }
    }
}

pub async fn rotate_channel(
    State(state): State<WebState>,
    PagePath(id): PagePath<ChannelId>,
    PagePost { ctx, form }: PagePost<RotateForm>,
) -> PageResult {
    let query = DetailQuery::default();
    let result = match form.hours() {
        Ok(hours) => app::channels::rotate_signing(&state.app, &ctx.actor, id, hours).await,
        Err(refusal) => {
            let forms = Forms {
                rotate: Some((form.overlap_hours, refusal)),
                ..Forms::default()
            };
            return channel_page(&state, &ctx, id, &query, forms).await;
        }
    };
    match result {
        Ok(rotated) => {
            let forms = Forms {
                rotated: Some(RotatedRow::of(rotated)),
                ..Forms::default()
            };
            channel_page(&state, &ctx, id, &query, forms).await
        }
        Err(error) => match Refusal::of(error, &["overlap_hours"]) {
            Ok(refusal) => {
                let forms = Forms {
                    rotate: Some((form.overlap_hours, refusal)),
                    ..Forms::default()
                };
                channel_page(&state, &ctx, id, &query, forms).await
            }
            Err(error) => Ok(ctx.failed(&format!("{CHANNELS}/{id}"), error)),
        },
    }
}

pub async fn send_test(
    State(state): State<WebState>,
    PagePath(id): PagePath<ChannelId>,
    PagePost { ctx, form }: PagePost<TestForm>,
) -> PageResult {
    let filled = |text: &str| Some(text.to_owned()).filter(|t| !t.trim().is_empty());
    let inbound = TestInbound {
        external_user_id: filled(&form.external_user_id),
        display_name: filled(&form.display_name),
        thread_id: filled(&form.thread_id),
        content: filled(&form.content),
    };
    let back = format!("{CHANNELS}/{id}");
    match app::channels::send_test(&state.app, &ctx.actor, id, inbound).await {
        Ok(accepted) => {
            let to = match accepted.conversation_id {
                Some(conversation) => format!("{back}?sent={conversation}"),
                None => back,
            };
            Ok(ctx.redirect(
                &to,
                Flash::ok("The message arrived in the inbox as if the provider had sent it."),
            ))
        }
        Err(error) => match Refusal::of(error, &TEST_INPUTS) {
            Ok(refusal) => {
                let forms = Forms {
                    test: Some((form, refusal)),
                    ..Forms::default()
                };
                channel_page(&state, &ctx, id, &DetailQuery::default(), forms).await
            }
            Err(error) => Ok(ctx.failed(&back, error)),
        },
    }
}

// ---- Deliveries, for channels and subscriptions alike

/// A delivery's own page: its attempts, and what it posts.
#[derive(Template)]
#[template(path = "admin_delivery.html")]
struct DeliveryPage {
    layout: Layout,
    /// The channel's or subscription's page.
    base: String,
    endpoint: String,
    delivery: DeliveryRow,
    attempts: Vec<AttemptRow>,
}

/// One attempt of a delivery.
pub struct AttemptRow {
    pub at: When,
    pub status: String,
    pub latency: String,
    pub error: String,
    pub response: String,
}

async fn delivery_page(
    state: &WebState,
    ctx: &PageCtx,
    target: Target,
    id: DeliveryId,
    (base, endpoint, parent): (String, String, (&str, &str)),
) -> PageResult {
    admins_only(ctx)?;
    let detail = ctx.load(app::deliveries::detail(&state.app, &ctx.actor, target, id).await)?;
    let body = app::deliveries::body_of(&state.app, &ctx.actor, target, id)
        .await
        .ok()
        .map(|body| pretty(&body));
    let mut delivery = DeliveryRow::of(detail.delivery);
    delivery.body = body;
    let attempts = detail
        .attempt_log
        .into_iter()
        .map(|a| AttemptRow {
            at: when(a.at),
            status: a.status.map_or_else(|| "—".into(), |s| s.to_string()),
            latency: format!("{} ms", a.latency_ms),
            error: a.error.unwrap_or_default(),
            response: a.response.unwrap_or_default(),
        })
        .collect();
    let mut layout = ctx.layout.clone();
    layout.title = "Delivery — TicketFlower".into();
    layout.crumb(parent.0, parent.1);
    layout.crumb(base.clone(), endpoint.clone());
    Ok(ctx.render(&DeliveryPage {
        layout,
        base,
        endpoint,
        delivery,
        attempts,
    }))
}

pub async fn channel_delivery(
    State(state): State<WebState>,
    PagePath((id, delivery)): PagePath<(ChannelId, DeliveryId)>,
    ctx: PageCtx,
) -> PageResult {
    admins_only(&ctx)?;
    let channel = ctx.load(app::channels::get(&state.app, &ctx.actor, id).await)?;
    let names = (
        format!("{CHANNELS}/{id}"),
        channel.name,
        (CHANNELS, "Channels"),
    );
    delivery_page(&state, &ctx, Target::Channel(id), delivery, names).await
}

/// The replay-range form: dead letters created in this span (either end may stay open).
#[derive(Deserialize, Default)]
pub struct RangeForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// A moment typed into a `datetime-local` input (read as UTC, which the form says) or
/// written in RFC 3339.
fn moment(text: &str, field: &str) -> Result<Option<DateTime<Utc>>, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|at| Some(at.and_utc()))
        .ok_or_else(|| Refusal::invalid(field, "must be a date and time, like 2026-05-01T14:30"))
}

/// A span of time, either end open.
type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

impl RangeForm {
    fn read(&self) -> Result<Span, Refusal> {
        let from = moment(&self.from, "from")?;
        let to = moment(&self.to, "to")?;
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(Refusal::invalid("to", "must be after the start"));
        }
        Ok((from, to))
    }
}

fn replayed_words(count: u64) -> String {
    match count {
        0 => "There was no dead letter to replay.".into(),
        1 => "1 dead letter goes out again.".into(),
        n => format!("{n} dead letters go out again."),
    }
}

pub async fn replay_channel_delivery(
    State(state): State<WebState>,
    PagePath((id, delivery)): PagePath<(ChannelId, DeliveryId)>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let target = Target::Channel(id);
    let result =
        app::deliveries::replay(&state.app, &ctx.actor, target, Some(delivery), None, None).await;
    Ok(ctx.outcome(&format!("{CHANNELS}/{id}"), result, replayed_words))
}

pub async fn replay_channel_range(
    State(state): State<WebState>,
    PagePath(id): PagePath<ChannelId>,
    PagePost { ctx, form }: PagePost<RangeForm>,
) -> PageResult {
    let (from, to) = match form.read() {
        Ok(range) => range,
        Err(refusal) => {
            let forms = Forms {
                replay: Some((form.from, form.to, refusal)),
                ..Forms::default()
            };
            return channel_page(&state, &ctx, id, &DetailQuery::default(), forms).await;
        }
    };
    let target = Target::Channel(id);
    let result = app::deliveries::replay(&state.app, &ctx.actor, target, None, from, to).await;
    Ok(ctx.outcome(&format!("{CHANNELS}/{id}"), result, replayed_words))
}

// ---- Event webhook subscriptions

/// A subscription as its list and its page show it.
pub struct SubscriptionRow {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub kinds: String,
    pub active: bool,
    pub paused_reason: Option<String>,
    pub previous_secret_until: Option<String>,
    pub health: HealthRow,
    pub created: When,
}

impl SubscriptionRow {
    fn of(s: SubscriptionView) -> Self {
        Self {
            id: s.id.to_string(),
            url: s.url,
            description: s.description,
            kinds: s.kinds.join(", "),
            active: s.active,
            paused_reason: s.paused_reason,
            previous_secret_until: s.previous_secret_until.map(exact),
            health: HealthRow::of(s.health),
            created: when(s.created_at),
        }
    }
}

/// An event family and its kinds, as the help under the kinds input lists them.
pub struct Family {
    pub name: String,
    pub kinds: Vec<&'static str>,
}

/// The event kinds a subscription may name, by family. The delivery engine's own
/// bookkeeping is never delivered, so it is not offered.
fn families() -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    for kind in domain::event::EventKind::ALL {
        let kind = kind.as_str();
        let family = kind.split_once('.').map_or(kind, |(f, _)| f);
        if matches!(family, "delivery" | "webhook_subscription") {
            continue;
        }
        match families.iter_mut().find(|f| f.name == family) {
            Some(found) => found.kinds.push(kind),
            None => families.push(Family {
                name: family.to_owned(),
                kinds: vec![kind],
            }),
        }
    }
    families
}

/// What was typed into a subscription's form (new or edit).
#[derive(Deserialize, Default)]
pub struct SubscriptionForm {
    #[serde(default)]
    url: String,
    /// Kinds separated by commas or spaces.
    #[serde(default)]
    kinds: String,
    #[serde(default)]
    description: String,
}

impl SubscriptionForm {
    fn of(s: &SubscriptionRow) -> Self {
        Self {
            url: s.url.clone(),
            kinds: s.kinds.clone(),
            description: s.description.clone().unwrap_or_default(),
        }
    }

    fn input(&self) -> SubscriptionInput {
        SubscriptionInput {
            url: Some(self.url.clone()),
            description: Some(self.description.clone()),
            kinds: Some(
                self.kinds
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        }
    }
}

const SUBSCRIPTION_INPUTS: [&str; 3] = ["url", "kinds", "description"];

/// A subscription's complaint about one of its kinds (`/kinds/2`) belongs to the kinds
/// input; the message names the kind.
fn subscription_refusal(error: app::AppError) -> Result<Refusal, app::AppError> {
    let error = match error {
        app::AppError::Validation(mut errors) => {
            for e in &mut errors.0 {
                if e.field.starts_with("kinds/") {
                    e.field = "kinds".into();
                }
            }
            app::AppError::Validation(errors)
        }
        other => other,
    };
    Refusal::of(error, &SUBSCRIPTION_INPUTS)
}

/// A subscription made just now, with its signing secret shown on this one answer.
pub struct CreatedSubscriptionRow {
    pub id: String,
    pub url: String,
    pub signing_secret: String,
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    subscriptions: Vec<SubscriptionRow>,
    created: Option<CreatedSubscriptionRow>,
    form: SubscriptionForm,
    errors: FieldErrors,
    families: Vec<Family>,
}

async fn webhooks_page(
    state: &WebState,
    ctx: &PageCtx,
    created: Option<CreatedSubscriptionRow>,
    form: SubscriptionForm,
    refusal: Option<Refusal>,
) -> PageResult {
    let subscriptions = ctx.load(app::webhooks::list(&state.app, &ctx.actor).await)?;
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(
        status,
        &WebhooksPage {
            layout: ctx.layout.clone(),
            subscriptions: subscriptions.into_iter().map(SubscriptionRow::of).collect(),
            created,
            form,
            errors: refusal.map(|r| r.errors).unwrap_or_default(),
            families: families(),
        },
    ))
}

pub async fn webhooks(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    let ctx = ctx.titled("Event webhooks");
    admins_only(&ctx)?;
    webhooks_page(&state, &ctx, None, SubscriptionForm::default(), None).await
}

pub async fn create_webhook(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<SubscriptionForm>,
) -> PageResult {
    let ctx = ctx.titled("Event webhooks");
    match app::webhooks::create(&state.app, &ctx.actor, form.input()).await {
        Ok(made) => {
            let created = CreatedSubscriptionRow {
                id: made.subscription.id.to_string(),
                url: made.subscription.url.clone(),
                signing_secret: made.signing_secret,
            };
            let blank = SubscriptionForm::default();
            webhooks_page(&state, &ctx, Some(created), blank, None).await
        }
        Err(error) => match subscription_refusal(error) {
            Ok(refusal) => webhooks_page(&state, &ctx, None, form, Some(refusal)).await,
            Err(error) => Ok(ctx.failed(WEBHOOKS, error)),
        },
    }
}

#[derive(Template)]
#[template(path = "admin_webhook.html")]
struct WebhookPage {
    layout: Layout,
    subscription: SubscriptionRow,
    edit: SubscriptionForm,
    edit_errors: FieldErrors,
    overlap: String,
    rotate_errors: FieldErrors,
    rotated: Option<RotatedRow>,
    panel: DeliveriesPanel,
    families: Vec<Family>,
}

async fn webhook_page(
    state: &WebState,
    ctx: &PageCtx,
    id: SubscriptionId,
    query: &DetailQuery,
    forms: Forms<SubscriptionForm>,
) -> PageResult {
    admins_only(ctx)?;
    let found = ctx.load(app::webhooks::get(&state.app, &ctx.actor, id).await)?;
    let base = format!("{WEBHOOKS}/{id}");
    let target = Target::Subscription(id);
    let mut panel = deliveries_panel(state, ctx, target, base, query, false).await?;
    let status = refusal_status(&forms.edit)
        .or(refusal_status(&forms.rotate))
        .or(forms.replay.as_ref().map(|(_, _, r)| r.status))
        .unwrap_or(StatusCode::OK);
    if let Some((from, to, refusal)) = forms.replay {
        panel.replay_from = from;
        panel.replay_to = to;
        panel.replay_errors = refusal.errors;
    }
    let subscription = SubscriptionRow::of(found);
    let (edit, edit_errors) = match forms.edit {
        Some((form, refusal)) => (form, refusal.errors),
        None => (SubscriptionForm::of(&subscription), FieldErrors::default()),
    };
    let (overlap, rotate_errors) = match forms.rotate {
        Some((overlap, refusal)) => (overlap, refusal.errors),
        None => ("24".to_owned(), FieldErrors::default()),
    };
    let mut layout = ctx.layout.clone();
    layout.title = "Event webhook — TicketFlower".into();
    layout.crumb(WEBHOOKS, "Event webhooks");
    Ok(ctx.render_status(
        status,
        &WebhookPage {
            layout,
            subscription,
            edit,
            edit_errors,
            overlap,
            rotate_errors,
            rotated: forms.rotated,
            panel,
            families: families(),
        },
    ))
}

pub async fn webhook(
    State(state): State<WebState>,
    PagePath(id): PagePath<SubscriptionId>,
    ctx: PageCtx,
    Query(query): Query<DetailQuery>,
) -> PageResult {
    webhook_page(&state, &ctx, id, &query, Forms::default()).await
}

pub async fn update_webhook(
    State(state): State<WebState>,
    PagePath(id): PagePath<SubscriptionId>,
    PagePost { ctx, form }: PagePost<SubscriptionForm>,
) -> PageResult {
    let back = format!("{WEBHOOKS}/{id}");
    match app::webhooks::update(&state.app, &ctx.actor, id, form.input()).await {
        Ok(_) => Ok(ctx.redirect(&back, Flash::ok("The webhook was saved."))),
        Err(error) => match subscription_refusal(error) {
            Ok(refusal) => {
                let forms = Forms {
                    edit: Some((form, refusal)),
                    ..Forms::default()
                };
                webhook_page(&state, &ctx, id, &DetailQuery::default(), forms).await
            }
            Err(error) => Ok(ctx.failed(&back, error)),
        },
    }
}

pub async fn pause_webhook(
    State(state): State<WebState>,
    PagePath(id): PagePath<SubscriptionId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::webhooks::set_active(&state.app, &ctx.actor, id, false).await;
    Ok(ctx.outcome(&format!("{WEBHOOKS}/{id}"), result, |_| {
        "The webhook is paused: its events wait until it is resumed.".into()
    }))
}

pub async fn resume_webhook(
    State(state): State<WebState>,
    PagePath(id): PagePath<SubscriptionId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::webhooks::set_active(&state.app, &ctx.actor, id, true).await;
    Ok(ctx.outcome(&format!("{WEBHOOKS}/{id}"), result, |_| {
        "The webhook is active again.".into()
    }))
}

/// The delete form: a box to tick, so that a page without script asks too.
#[derive(Deserialize, Default)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

pub async fn delete_webhook(
    State(state): State<WebState>,
    PagePath(id): PagePath<SubscriptionId>,
    PagePost { ctx, form }: PagePost<DeleteForm>,
) -> PageResult {
    if form.confirm != "yes" {
        return Ok(ctx.redirect(
            &format!("{WEBHOOKS}/{id}"),
            Flash::error("Tick the box to confirm the deletion: nothing was deleted."),
        ));
    }
    let result = app::webhooks::delete(&state.app, &ctx.actor, id).await;
    match result {
        Ok(()) => Ok(ctx.redirect(WEBHOOKS, Flash::ok("The webhook was deleted."))),
        Err(error) => Ok(ctx.failed(&format!("{WEBHOOKS}/{id}"), error)),
    }
}

pub async fn rotate_webhook(
    State(state): State<WebState>,
    PagePath(id): PagePath<SubscriptionId>,
    PagePost { ctx, form }: PagePost<RotateForm>,
) -> PageResult {
    let query = DetailQuery::default();
    let result = match form.hours() {
        Ok(hours) => app::webhooks::rotate_signing(&state.app, &ctx.actor, id, hours).await,
        Err(refusal) => {
            let forms = Forms {
                rotate: Some((form.overlap_hours, refusal)),
                ..Forms::default()
            };
            return webhook_page(&state, &ctx, id, &query, forms).await;
        }
    };
    match result {
        Ok(rotated) => {
            let forms = Forms {
                rotated: Some(RotatedRow::of(rotated)),
                ..Forms::default()
            };
            webhook_page(&state, &ctx, id, &query, forms).await
        }
        Err(error) => match Refusal::of(error, &["overlap_hours"]) {
            Ok(refusal) => {
                let forms = Forms {
                    rotate: Some((form.overlap_hours, refusal)),
                    ..Forms::default()
                };
                webhook_page(&state, &ctx, id, &query, forms).await
            }
            Err(error) => Ok(ctx.failed(&format!("{WEBHOOKS}/{id}"), error)),
        },
    }
}

pub async fn test_webhook(
    State(state): State<WebState>,
    PagePath(id): PagePath<SubscriptionId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::webhooks::send_test(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome(&format!("{WEBHOOKS}/{id}"), result, |_| {
        "A webhook.test event is on its way: its attempts show below.".into()
    }))
}

pub async fn webhook_delivery(
    State(state): State<WebState>,
    PagePath((id, delivery)): PagePath<(SubscriptionId, DeliveryId)>,
    ctx: PageCtx,
) -> PageResult {
    admins_only(&ctx)?;
    let found = ctx.load(app::webhooks::get(&state.app, &ctx.actor, id).await)?;
    let names = (
        format!("{WEBHOOKS}/{id}"),
        found.url,
        (WEBHOOKS, "Event webhooks"),
    );
    delivery_page(&state, &ctx, Target::Subscription(id), delivery, names).await
}

pub async fn replay_webhook_delivery(
    State(state): State<WebState>,
    PagePath((id, delivery)): PagePath<(SubscriptionId, DeliveryId)>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let target = Target::Subscription(id);
    let result =
        app::deliveries::replay(&state.app, &ctx.actor, target, Some(delivery), None, None).await;
    Ok(ctx.outcome(&format!("{WEBHOOKS}/{id}"), result, replayed_words))
}

pub async fn replay_webhook_range(
    State(state): State<WebState>,
    PagePath(id): PagePath<SubscriptionId>,
    PagePost { ctx, form }: PagePost<RangeForm>,
) -> PageResult {
    let (from, to) = match form.read() {
        Ok(range) => range,
        Err(refusal) => {
            let forms = Forms {
                replay: Some((form.from, form.to, refusal)),
                ..Forms::default()
            };
            return webhook_page(&state, &ctx, id, &DetailQuery::default(), forms).await;
        }
    };
    let target = Target::Subscription(id);
    let result = app::deliveries::replay(&state.app, &ctx.actor, target, None, from, to).await;
    Ok(ctx.outcome(&format!("{WEBHOOKS}/{id}"), result, replayed_words))
}

/// This module's pages.
pub fn router() -> axum::Router<WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin/channels", get(channels).post(create_channel))
        .route("/admin/channels/{id}", get(channel).post(update_channel))
        .route("/admin/channels/{id}/pause", post(pause_channel))
        .route("/admin/channels/{id}/resume", post(resume_channel))
        .route("/admin/channels/{id}/signing-secret", post(rotate_channel))
        .route("/admin/channels/{id}/test-messages", post(send_test))
        .route(
            "/admin/channels/{id}/deliveries/replay",
            post(replay_channel_range),
        )
        .route(
            "/admin/channels/{id}/deliveries/{delivery_id}",
            get(channel_delivery),
        )
        .route(
            "/admin/channels/{id}/deliveries/{delivery_id}/replay",
            post(replay_channel_delivery),
        )
        .route("/admin/webhooks", get(webhooks).post(create_webhook))
        .route("/admin/webhooks/{id}", get(webhook).post(update_webhook))
        .route("/admin/webhooks/{id}/pause", post(pause_webhook))
        .route("/admin/webhooks/{id}/resume", post(resume_webhook))
        .route("/admin/webhooks/{id}/delete", post(delete_webhook))
        .route("/admin/webhooks/{id}/signing-secret", post(rotate_webhook))
        .route("/admin/webhooks/{id}/test", post(test_webhook))
        .route(
            "/admin/webhooks/{id}/deliveries/replay",
            post(replay_webhook_range),
        )
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery_id}",
            get(webhook_delivery),
        )
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery_id}/replay",
            post(replay_webhook_delivery),
        )
}

//! Notification pages (issue 19): all of one's notifications grouped per ticket or
//! conversation ("3 new comments on #42"), marking read and snoozing; opening one (read,
//! then on to its place); the preferences per type and channel with quiet hours; and the
//! unsubscribe link of a notification e-mail, which works without logging in.

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use app::notifications::{NotificationView, PreferencesInput, QuietHoursView, SnoozeInput};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::NotificationId;
use domain::notification::{Channel, Channels, Kind};
use serde::Deserialize;

use crate::pages::kit::context::{Flash, PageCtx, PagePath, PagePost, PageResult};
use crate::pages::kit::layout::{Layout, render};
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

const PAGE: &str = "/notifications";
const PREFERENCES: &str = "/notifications/preferences";

/// One ticket's or conversation's notifications.
pub struct Group {
    pub subject: String,
    pub label: String,
    /// "3 new comments", "1 update".
    pub summary: String,
    pub unread: usize,
    pub latest: When,
    pub link: String,
    /// The newest notification's id: snoozing it snoozes the group.
    pub newest: String,
    pub items: Vec<Item>,
}

pub struct Item {
    pub id: String,
    pub title: String,
    pub body: Option<String>,
    pub at: When,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    groups: Vec<Group>,
    unread_only: bool,
    unread: i64,
    more: Option<String>,
}

/// "3 new comments" for a group of the same type, "3 updates" otherwise.
fn summary(items: &[NotificationView], unread: usize) -> String {
    let n = if unread > 0 { unread } else { items.len() };
    let same = items
        .iter()
        .all(|i| Some(i.kind) == items.first().map(|f| f.kind));
    let (one, many) = match items.first().map(|i| i.kind) {
        Some(Kind::Comment) if same => ("comment", "comments"),
        Some(Kind::Message) if same => ("message", "messages"),
        Some(Kind::Mention) if same => ("mention", "mentions"),
        _ => ("update", "updates"),
    };
    let noun = if n == 1 { one } else { many };
    if unread > 0 {
        format!("{n} new {noun}")
    } else {
        format!("{n} {noun}")
    }
}

/// Groups newest first by subject, each group in the order of its newest notification.
fn grouped(items: Vec<NotificationView>) -> Vec<Group> {
    let mut order: Vec<String> = Vec::new();
    let mut by: HashMap<String, Vec<NotificationView>> = HashMap::new();
    for item in items {
        if !by.contains_key(&item.subject) {
            order.push(item.subject.clone());
        }
        by.entry(item.subject.clone()).or_default().push(item);
    }
    order
        .into_iter()
        .filter_map(|subject| {
            let items = by.remove(&subject)?;
            let first = items.first()?;
            let unread = items.iter().filter(|i| i.read_at.is_none()).count();
            Some(Group {
                label: first.subject_label.clone(),
                summary: summary(&items, unread),
                unread,
                latest: when(first.created_at),
                link: first.link.clone(),
                newest: first.id.to_string(),
                subject,
                items: items
                    .into_iter()
                    .map(|i| Item {
                        id: i.id.to_string(),
                        unread: i.read_at.is_none(),
                        at: when(i.created_at),
                        title: i.title,
                        body: i.body,
                    })
                    .collect(),
            })
        })
        .collect()
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    unread: bool,
    before: Option<uuid::Uuid>,
}

pub async fn list(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let ctx = ctx.titled("Notifications");
    let page = ctx.load(
        app::notifications::list(
            &state.app,
            &ctx.actor,
            query.unread,
            query.before.map(NotificationId),
            100,
        )
        .await,
    )?;
    let more = page.next_before.map(|before| {
        format!(
            "{PAGE}?before={before}{}",
            if query.unread { "&unread=true" } else { "" }
        )
    });
    Ok(ctx.render(&NotificationsPage {
        layout: ctx.layout.clone(),
        unread: page.unread,
        groups: grouped(page.items),
        unread_only: query.unread,
        more,
    }))
}

/// Opening a notification marks it read and goes where it leads.
pub async fn open(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<NotificationId>,
) -> PageResult {
    let found = ctx.load(app::notifications::get(&state.app, &ctx.actor, id).await)?;
    ctx.load(app::notifications::read(&state.app, &ctx.actor, id).await)?;
    Ok(ctx.go(&found.link))
}

/// Marks a group read (`subject`), or everything.
#[derive(Deserialize)]
pub struct ReadForm {
    #[serde(default)]
    subject: String,
}

pub async fn read(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<ReadForm>,
) -> PageResult {
    let subject = Some(form.subject.as_str()).filter(|s| !s.is_empty());
    let result = app::notifications::read_all(&state.app, &ctx.actor, subject).await;
    let back = back_to_list(&ctx);
    Ok(ctx.outcome(&back, result, |_| match subject {
        Some(_) => "Marked read.".into(),
        None => "All notifications are marked read.".into(),
    }))
}

/// Back to the notifications, or to the page the bell was used on.
fn back_to_list(_ctx: &PageCtx) -> String {
    PAGE.to_owned()
}

#[derive(Deserialize)]
pub struct SnoozeForm {
    #[serde(default)]
    minutes: String,
}

pub async fn snooze(
    State(state): State<WebState>,
    PagePath(id): PagePath<NotificationId>,
    PagePost { ctx, form }: PagePost<SnoozeForm>,
) -> PageResult {
    let Ok(minutes) = form.minutes.parse::<i64>() else {
        return Ok(ctx.redirect(PAGE, Flash::error("Choose how long to snooze.")));
    };
    let result =
        app::notifications::snooze(&state.app, &ctx.actor, id, &SnoozeInput { minutes }).await;
    Ok(ctx.outcome(PAGE, result, |_| {
        "Snoozed: it comes back among the unread when the time is up.".into()
    }))
}

/// One row of the preferences table.
pub struct PreferenceRow {
    pub kind: &'static str,
    pub label: &'static str,
    pub cells: Vec<Cell>,
}

pub struct Cell {
    pub name: String,
    pub checked: bool,
    pub default: bool,
    pub channel: &'static str,
}

#[derive(Template)]
#[template(path = "notification_preferences.html")]
struct PreferencesPage {
    layout: Layout,
    rows: Vec<PreferenceRow>,
    quiet_start: String,
    quiet_end: String,
    time_zone: String,
    errors: Vec<(String, String)>,
}

fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::InApp => "In the app",
        Channel::Email => "E-mail",
        Channel::WebPush => "Browser push",
        Channel::Mobile => "Mobile push",
    }
}

async fn preferences_page(
    state: &WebState,
    ctx: PageCtx,
    errors: Vec<(String, String)>,
    typed: Option<QuietHoursView>,
) -> PageResult {
    let mut ctx = ctx.titled("Notification settings");
    ctx.layout.crumb(PAGE, "Notifications");
    let prefs = ctx.load(app::notifications::preferences(&state.app, &ctx.actor).await)?;
    let rows = prefs
        .types
        .iter()
        .map(|t| PreferenceRow {
            kind: t.kind.as_str(),
            label: t.label,
            cells: Channel::ALL
                .iter()
                .map(|c| Cell {
                    name: format!("{}:{}", t.kind.as_str(), c.as_str()),
                    checked: t.channels.get(*c),
                    default: t.default.get(*c),
                    channel: channel_label(*c),
                })
                .collect(),
        })
        .collect();
    let quiet = typed.or(prefs.quiet_hours);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(ctx.render_status(
        status,
        &PreferencesPage {
            layout: ctx.layout.clone(),
            rows,
            quiet_start: quiet.as_ref().map(|q| q.start.clone()).unwrap_or_default(),
            quiet_end: quiet.as_ref().map(|q| q.end.clone()).unwrap_or_default(),
            time_zone: quiet
                .as_ref()
                .map(|q| q.time_zone.clone())
                .unwrap_or_default(),
            errors,
        },
    ))
}

pub async fn preferences(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    preferences_page(&state, ctx, Vec::new(), None).await
}

/// The preferences form: a checkbox per type and channel (`comment:email`), and quiet
/// hours (all three empty: none).
pub async fn save_preferences(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<HashMap<String, String>>,
) -> PageResult {
    let mut types = std::collections::BTreeMap::new();
    for kind in Kind::ALL {
        let on = |c: Channel| form.contains_key(&format!("{}:{}", kind.as_str(), c.as_str()));
        types.insert(
            kind.as_str().to_owned(),
            Channels {
                in_app: on(Channel::InApp),
                email: on(Channel::Email),
                web_push: on(Channel::WebPush),
                mobile: on(Channel::Mobile),
            },
        );
    }
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (start, end, zone) = (field("quiet_start"), field("quiet_end"), field("time_zone"));
    let quiet = if start.is_empty() && end.is_empty() {
        None
    } else {
        Some(QuietHoursView {
            start,
            end,
            time_zone: if zone.is_empty() { "UTC".into() } else { zone },
        })
    };
    let input = PreferencesInput {
        types: Some(types),
        quiet_hours: Some(quiet.clone()),
    };
    match app::notifications::set_preferences(&state.app, &ctx.actor, &input).await {
        Ok(_) => Ok(ctx.redirect(
            PREFERENCES,
            Flash::ok("Your notification settings are saved."),
        )),
        Err(app::AppError::Validation(errors)) => {
            let errors = errors
                .0
                .iter()
                .map(|e| (field_label(&e.field).to_owned(), e.message.clone()))
                .collect();
            preferences_page(&state, ctx, errors, quiet).await
        }
        Err(error) => Ok(ctx.failed(PREFERENCES, error)),
    }
}

/// The form's words for a field the use case names.
fn field_label(field: &str) -> &str {
    match field {
        "quiet_hours.start" => "Quiet hours from:",
        "quiet_hours.end" => "Quiet hours until:",
        "quiet_hours.time_zone" => "Time zone:",
        other => other,
    }
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    layout: Layout,
    email: String,
    kind: &'static str,
    token: String,
    done: bool,
}

/// The unsubscribe link from a notification e-mail: names what it stops and asks to
/// confirm (a mail scanner's GET changes nothing).
pub async fn unsubscribe_page(
    State(state): State<WebState>,
    Path(token): Path<String>,
) -> Response {
    match app::notifications::email::describe(&state.app, &token).await {
        Ok((email, kind)) => render(
            StatusCode::OK,
            &UnsubscribePage {
                layout: Layout::new("Stop e-mails — TicketFlower"),
                email,
                kind,
                token,
                done: false,
            },
        ),
        Err(_) => crate::pages::kit::layout::status_page(StatusCode::NOT_FOUND),
    }
}

/// Confirms the unsubscribe, from the page or as a mail client's one-click POST (RFC
/// 8058): no login and no form token, the link's signature is the proof.
pub async fn unsubscribe(State(state): State<WebState>, Path(token): Path<String>) -> Response {
    match app::notifications::email::unsubscribe(&state.app, &token).await {
        Ok((email, kind)) => render(
            StatusCode::OK,
            &UnsubscribePage {
                layout: Layout::new("E-mails stopped — TicketFlower"),
                email,
                kind,
                token,
                done: true,
            },
        ),
        Err(app::AppError::NotFound) => {
            crate::pages::kit::layout::status_page(StatusCode::NOT_FOUND)
        }
        Err(_) => {
            crate::pages::kit::layout::status_page(StatusCode::SERVICE_UNAVAILABLE).into_response()
        }
    }
}

pub fn router() -> axum::Router<WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(PAGE, get(list))
        .route("/notifications/read-all", post(read))
        .route("/notifications/{id}/open", get(open))
        .route("/notifications/{id}/snooze", post(snooze))
        .route(PREFERENCES, get(preferences).post(save_preferences))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
}

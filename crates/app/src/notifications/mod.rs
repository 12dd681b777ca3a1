//! Notifications (issue 19): one pipeline from the event log to people. [`derive`] reads
//! the committed log behind a durable cursor and writes, per person and event, what they
//! are told (in the app, and marked for e-mail and push by their preferences); [`email`]
//! sends the digests; `web_push` and `mobile_push` the pushes. This module holds what a
//! person does with their notifications: read them, mark them read, snooze them, choose
//! what reaches them where, and follow tickets.

pub mod derive;
pub mod email;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use domain::auth::Actor;
use domain::event::{Payload, Stream};
use domain::notification::{Channels, Kind, QuietHours};
use domain::{CompanyId, NotificationId, TicketId, UserId, ValidationErrors};
use serde::{Deserialize, Serialize};
use store::notifications::Notification;

use crate::{App, AppError, Result, audit};

/// A notification as the API and the pages show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    pub id: NotificationId,
    pub kind: Kind,
    /// What happened, e.g. "Anna commented on #42".
    pub title: String,
    /// An excerpt (a comment's first words), when there is one.
    pub body: Option<String>,
    /// Where it leads: a path of this server.
    pub link: String,
    /// What it is about, as a stream name (`ticket:<id>`, `conversation:<id>`, `user:<id>`):
    /// the pages group by it.
    pub subject: String,
    /// The subject as people read it, e.g. "#42 New laptop".
    pub subject_label: String,
    pub actor_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub snoozed_until: Option<DateTime<Utc>>,
}

impl NotificationView {
    fn of(n: Notification) -> Option<Self> {
        Some(Self {
            kind: n.kind.parse().ok()?,
            id: n.id,
            title: n.title,
            body: n.body,
            link: n.link,
            subject: n.subject,
            subject_label: n.subject_label,
            actor_id: n.actor_id,
            created_at: n.created_at,
            read_at: n.read_at,
            snoozed_until: n.snoozed_until,
        })
    }
}

/// A page of a person's notifications.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// Unread and not snoozed: the bell's number.
    pub unread: i64,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next_before: Option<NotificationId>,
}

/// The bell's number after a change.
#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct Unread {
    pub unread: i64,
}

fn person(actor: &Actor) -> Result<(CompanyId, UserId)> {
    Ok((crate::access::company_of(actor)?, actor.user_id))
}

/// A person's notifications in the app, newest first.
pub async fn list(
    app: &App,
    actor: &Actor,
    unread_only: bool,
    before: Option<NotificationId>,
    limit: u32,
) -> Result<NotificationPage> {
    let (company, user) = person(actor)?;
    let limit = limit.clamp(1, 100);
    let rows =
        store::notifications::list(app.db(), company, user, unread_only, before, limit).await?;
    let next_before = (rows.len() == limit as usize)
        .then(|| rows.last().map(|n| n.id))
        .flatten();
    Ok(NotificationPage {
        items: rows.into_iter().filter_map(NotificationView::of).collect(),
        unread: store::notifications::unread_count(app.db(), company, user).await?,
        next_before,
    })
}

/// One of a person's notifications; another person's is not found.
pub async fn get(app: &App, actor: &Actor, id: NotificationId) -> Result<NotificationView> {
    let (company, user) = person(actor)?;
    let found = store::notifications::get(app.db(), company, user, id).await?;
    NotificationView::of(found).ok_or(AppError::NotFound)
}

/// The bell's number.
pub async fn unread(app: &App, actor: &Actor) -> Result<i64> {
    let (company, user) = person(actor)?;
    Ok(store::notifications::unread_count(app.db(), company, user).await?)
}

/// Marks one notification read; another person's is not found.
pub async fn read(app: &App, actor: &Actor, id: NotificationId) -> Result<Unread> {
    let (company, user) = person(actor)?;
    store::notifications::get(app.db(), company, user, id).await?;
    mark(app, company, user, Some(id), None).await
}

/// Marks all of a person's notifications read, or those of one subject.
pub async fn read_all(app: &App, actor: &Actor, subject: Option<&str>) -> Result<Unread> {
    let (company, user) = person(actor)?;
    mark(app, company, user, None, subject).await
}

async fn mark(
    app: &App,
    company: CompanyId,
    user: UserId,
    id: Option<NotificationId>,
    subject: Option<&str>,
) -> Result<Unread> {
    let mut tx = app.db().begin().await?;
    let changed = store::notifications::mark_read(&mut tx, company, user, id, subject).await?;
    let unread = store::notifications::unread_count(&mut tx, company, user).await?;
    if changed > 0 {
        announce_read(&mut tx, company, user, id, subject, unread).await?;
    }
    app.commit(tx).await?;
    Ok(Unread { unread })
}

/// Tells the person's other pages (the bell) that the count changed.
async fn announce_read(
    tx: &mut store::Tx,
    company: CompanyId,
    user: UserId,
    id: Option<NotificationId>,
    subject: Option<&str>,
    unread: i64,
) -> Result<()> {
    audit::record(
        tx,
        None,
        Some(company),
        Stream::User(user),
        Payload::NotificationsRead {
            notification_id: id,
            subject: subject.map(str::to_owned),
            unread,
        },
    )
    .await?;
    Ok(())
}

/// How long to snooze: minutes from now (1 to 30 days).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct SnoozeInput {
    pub minutes: i64,
}

/// Snoozes a notification and the other unread ones of its subject: they leave the unread
/// count and come back when the time is up.
pub async fn snooze(
    app: &App,
    actor: &Actor,
    id: NotificationId,
    input: &SnoozeInput,
) -> Result<Unread> {
    let (company, user) = person(actor)?;
    if !(1..=30 * 24 * 60).contains(&input.minutes) {
        return Err(
            ValidationErrors::single("minutes", "must be from 1 to 43200 (30 days)").into(),
        );
    }
    let found = store::notifications::get(app.db(), company, user, id).await?;
    let until = Utc::now() + Duration::minutes(input.minutes);
    let mut tx = app.db().begin().await?;
    store::notifications::snooze(&mut tx, company, user, &found.subject, until).await?;
    let unread = store::notifications::unread_count(&mut tx, company, user).await?;
    announce_read(
        &mut tx,
        company,
        user,
        Some(id),
        Some(&found.subject),
        unread,
    )
    .await?;
    app.commit(tx).await?;
    Ok(Unread { unread })
}

/// One type's choices: the person's (or the company's, on the defaults page), and what
/// applies when they leave it alone.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TypeChoice {
    pub kind: Kind,
    pub label: &'static str,
    pub channels: Channels,
    /// What applies without a choice of one's own: the company's default, or the built-in.
    pub default: Channels,
}

/// Quiet hours: no push and no e-mail from `start` to `end` (`HH:MM`) in `time_zone`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuietHoursView {
    pub start: String,
    pub end: String,
    pub time_zone: String,
}

/// What a person receives where.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PreferencesView {
    pub types: Vec<TypeChoice>,
    pub quiet_hours: Option<QuietHoursView>,
}

/// Changes to preferences: the types named (by their names) get these channels; others
/// stay. `quiet_hours`: absent leaves them, `null` removes them.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PreferencesInput {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub types: Option<BTreeMap<String, Channels>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<QuietHoursView>)]
    pub quiet_hours: Option<Option<QuietHoursView>>,
}

/// `Some(None)` for an explicit `null`, so that it can mean "remove".
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn apply(base: &mut HashMap<Kind, Channels>, set: Vec<(Kind, Channels)>) {
    for (kind, channels) in set {
        base.insert(kind, channels);
    }
}

/// The built-in defaults overlaid with a company's.
async fn company_choices(app: &App, company: CompanyId) -> Result<HashMap<Kind, Channels>> {
    let mut choices: HashMap<Kind, Channels> =
        Kind::ALL.iter().map(|k| (*k, k.defaults())).collect();
    apply(
        &mut choices,
        store::notifications::company_defaults(app.db(), company).await?,
    );
    Ok(choices)
}

/// What reaches a person where: the company's defaults overlaid with their own choices.
pub(crate) async fn effective(
    app: &App,
    company: CompanyId,
    user: UserId,
) -> Result<HashMap<Kind, Channels>> {
    let mut choices = company_choices(app, company).await?;
    apply(
        &mut choices,
        store::notifications::preferences(app.db(), company, user).await?,
    );
    Ok(choices)
}

fn check_types(
    types: &BTreeMap<String, Channels>,
    errors: &mut ValidationErrors,
) -> Vec<(Kind, Channels)> {
    let mut set = Vec::new();
    for (name, channels) in types {
        match name.parse::<Kind>() {
            Ok(kind) => set.push((kind, *channels)),
            Err(_) => errors.add(
                format!("types.{name}"),
                format!(
                    "is not a notification type; the types are {}",
                    Kind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    set
}

fn check_quiet(
    quiet: &Option<QuietHoursView>,
    errors: &mut ValidationErrors,
) -> store::notifications::Quiet {
    let Some(q) = quiet else {
        return store::notifications::Quiet {
            quiet_start: None,
            quiet_end: None,
            time_zone: None,
        };
    };
    match QuietHours::parse(&q.start, &q.end, &q.time_zone) {
        Ok(hours) => store::notifications::Quiet {
            quiet_start: Some(QuietHours::minutes(hours.start)),
            quiet_end: Some(QuietHours::minutes(hours.end)),
            time_zone: Some(hours.time_zone.name().to_owned()),
        },
        Err((field, error)) => {
            errors.add(format!("quiet_hours.{field}"), error.to_string());
            store::notifications::Quiet {
                quiet_start: None,
                quiet_end: None,
                time_zone: None,
            }
        }
    }
}

fn quiet_view(quiet: Option<store::notifications::Quiet>) -> Option<QuietHoursView> {
    let q = quiet?;
    let hours = QuietHours::from_minutes(q.quiet_start?, q.quiet_end?, q.time_zone.as_deref()?)?;
    Some(QuietHoursView {
        start: hours.start.format("%H:%M").to_string(),
        end: hours.end.format("%H:%M").to_string(),
        time_zone: hours.time_zone.name().to_owned(),
    })
}

/// A person's preferences.
pub async fn preferences(app: &App, actor: &Actor) -> Result<PreferencesView> {
    let (company, user) = person(actor)?;
    let defaults = company_choices(app, company).await?;
    let mut mine = defaults.clone();
    apply(
        &mut mine,
        store::notifications::preferences(app.db(), company, user).await?,
    );
    Ok(PreferencesView {
        types: Kind::ALL
            .iter()
            .map(|k| TypeChoice {
                kind: *k,
                label: k.label(),
                channels: mine.get(k).copied().unwrap_or_else(|| k.defaults()),
                default: defaults.get(k).copied().unwrap_or_else(|| k.defaults()),
            })
            .collect(),
        quiet_hours: quiet_view(store::notifications::quiet_hours(app.db(), company, user).await?),
    })
}

/// Changes a person's preferences (all or nothing: a bad part changes nothing).
pub async fn set_preferences(
    app: &App,
    actor: &Actor,
    input: &PreferencesInput,
) -> Result<PreferencesView> {
    let (company, user) = person(actor)?;
    let mut errors = ValidationErrors::new();
    let set = input
        .types
        .as_ref()
        .map(|t| check_types(t, &mut errors))
        .unwrap_or_default();
    let quiet = input
        .quiet_hours
        .as_ref()
        .map(|q| check_quiet(q, &mut errors));
    errors.into_result()?;
    let mut tx = app.db().begin().await?;
    store::notifications::set_preferences(&mut tx, company, user, &set).await?;
    if let Some(quiet) = quiet {
        store::notifications::set_quiet_hours(&mut tx, company, user, &quiet).await?;
    }
    app.commit(tx).await?;
    preferences(app, actor).await
}

/// Turns one type's e-mail off for a person: what an unsubscribe link does.
pub(crate) async fn unsubscribe_email(
    app: &App,
    company: CompanyId,
    user: UserId,
    kind: Kind,
) -> Result<()> {
    let mut current = effective(app, company, user)
        .await?
        .get(&kind)
        .copied()
        .unwrap_or_else(|| kind.defaults());
    current.email = false;
    let mut tx = app.db().begin().await?;
    store::notifications::set_preferences(&mut tx, company, user, &[(kind, current)]).await?;
    app.commit(tx).await?;
    Ok(())
}

/// A company's defaults (company admins).
pub async fn company_defaults(app: &App, actor: &Actor) -> Result<Vec<TypeChoice>> {
    let company = crate::access::require_admin(actor)?;
    let choices = company_choices(app, company).await?;
    Ok(Kind::ALL
        .iter()
        .map(|k| TypeChoice {
            kind: *k,
            label: k.label(),
            channels: choices.get(k).copied().unwrap_or_else(|| k.defaults()),
            default: k.defaults(),
        })
        .collect())
}

/// Changes a company's defaults for the types named (company admins).
pub async fn set_company_defaults(
    app: &App,
    actor: &Actor,
    types: &BTreeMap<String, Channels>,
) -> Result<Vec<TypeChoice>> {
    let company = crate::access::require_admin(actor)?;
    let mut errors = ValidationErrors::new();
    let set = check_types(types, &mut errors);
    errors.into_result()?;
    let mut tx = app.db().begin().await?;
    store::notifications::set_company_defaults(&mut tx, company, &set).await?;
    app.commit(tx).await?;
    company_defaults(app, actor).await
}

/// Hands a notification to the push channels the person wants it on: one job per browser
/// subscription and per device.
pub(crate) async fn push(
    tx: &mut store::Tx,
    company: CompanyId,
    user: UserId,
    channels: Channels,
    push: &domain::notification::Push,
) -> Result<()> {
    if channels.web_push {
        crate::web_push::enqueue(tx, company, user, push).await?;
    }
    if channels.mobile {
        crate::mobile_push::enqueue(tx, company, user, push).await?;
    }
    Ok(())
}

/// Whether a person hears of a ticket.
#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct FollowView {
    pub following: bool,
}

/// Follows (or stops following) a ticket the actor may see. Someone involved who stops
/// following (its requester, a worker of it) no longer hears of its comments and changes.
pub async fn follow(
    app: &App,
    actor: &Actor,
    ticket: TicketId,
    following: bool,
) -> Result<FollowView> {
    let (company, _) = crate::runtime::tickets::visible(app, actor, ticket).await?;
    let mut tx = app.db().begin().await?;
    store::notifications::set_follow(&mut tx, company, ticket, actor.user_id, following).await?;
    app.commit(tx).await?;
    Ok(FollowView { following })
}

/// Whether the actor follows a ticket they see: by choice, or by being involved (its
/// requester, a holder of one of its tasks) without having muted it.
pub async fn following(app: &App, actor: &Actor, ticket: TicketId) -> Result<FollowView> {
    let (company, found) = crate::runtime::tickets::visible(app, actor, ticket).await?;
    let chosen = store::notifications::follows(app.db(), company, ticket)
        .await?
        .into_iter()
        .find(|(user, _)| *user == actor.user_id)
        .map(|(_, following)| following);
    let involved = found.requester_id == actor.user_id
        || store::tasks::of_ticket(app.db(), company, ticket)
            .await?
            .iter()
            .any(|t| t.assigned_to == Some(actor.user_id));
    Ok(FollowView {
        following: chosen.unwrap_or(involved),
    })
}

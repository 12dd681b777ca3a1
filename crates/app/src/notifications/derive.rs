//! From the event log to people: a durable consumer (cursor `notifications`) reads the
//! committed log, works out who is told of each event (the rules below), and writes one
//! notification per person and event in the same transaction that moves the cursor. So a
//! restart resumes where it stopped, an event read twice tells nobody twice (the unique
//! person and event), and nothing rolled back is ever announced.
//!
//! Who hears of what:
//! - a ticket's requester: its new steps, a step waiting for their input, its end
//!   (completed, rejected) or cancellation, comments (never internal notes);
//! - whoever holds or held one of its tasks, and its followers: comments (internal notes
//!   only for the ticket team), cancellation; followers also its end;
//! - a task's holder when it is assigned to them; the workers who may claim a task when it
//!   waits unassigned in their queue;
//! - `@name` in a comment, note or message: that person, if they may read it;
//! - a conversation's requester and assignee: its messages (internal notes only for the
//!   agent); an agent: a conversation assigned to them;
//! - company admins: a registration awaiting approval, a reply that could not be
//!   delivered; ticket admins: a failed workflow step.
//!
//! Nobody is told of what they did themselves; someone who muted a ticket hears nothing
//! more of it; blocked people, service accounts and channel contacts are never told.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use domain::auth::Actor;
use domain::channel::DeliveryState;
use domain::event::{Event, Payload, Stream};
use domain::job::NewJob;
use domain::notification::{Channels, Kind, Push, QuietHours};
use domain::user::User;
use domain::workflow::{TaskStatus, TaskType};
use domain::{CompanyId, ConversationId, SystemRole, TicketId, UserId};
use serde_json::json;
use store::events::Scope;
use tokio_util::sync::CancellationToken;

use crate::{App, Result, audit};

const CURSOR: &str = "notifications";
const BATCH: u32 = 200;
/// Longest excerpt of a comment or message kept in a notification.
const EXCERPT_CHARS: usize = 200;

/// Derives until `shutdown`; wakes on this server's commits and polls otherwise.
pub async fn run(app: App, shutdown: CancellationToken) {
    crate::relay::drive(
        app,
        shutdown,
        "notifications",
        BATCH as usize,
        |app| async move { derive_once(&app).await },
    )
    .await;
}

/// What one person is told of one event.
#[derive(Clone, Debug)]
struct Draft {
    user: UserId,
    kind: Kind,
    subject: String,
    label: String,
    /// The subject in a few words for a push: "#42", "a conversation".
    short: String,
    title: String,
    body: Option<String>,
    link: String,
}

/// One batch: returns how many events were read.
pub async fn derive_once(app: &App) -> Result<usize> {
    let Some(from) = store::relay_cursors::position(app.db(), CURSOR).await? else {
        // First run: start at the head of the log (history is not announced).
        let mut tx = app.db().begin().await?;
        store::relay_cursors::lock(&mut tx, CURSOR).await?;
        app.commit(tx).await?;
        return Ok(0);
    };
    let events = store::events::read_after(app.db(), &Scope::All, from, BATCH).await?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok(0);
    };
    // Who is told is worked out before the write transaction, so SQLite's single writer is
    // held only for the writes.
    let mut people = People::default();
    let mut drafts = Vec::new();
    let mut previous: Option<(&Event, Option<UserId>)> = None;
    for event in &events {
        // The engine's events (a new step, the workflow's end) name no actor; they follow
        // in the same transaction from the person's act that caused them (a submission, a
        // completed task), which is nobody's news to that person either.
        let cause = event.actor_id.or_else(|| {
            previous
                .filter(|(p, _)| {
                    p.stream == event.stream
                        && (event.created_at - p.created_at).num_milliseconds().abs() < 1000
                })
                .and_then(|(_, cause)| cause)
        });
        previous = Some((event, cause));
        let Some(company) = event.company_id else {
            continue;
        };
        let for_event = match drafts_of(app, &mut people, company, event).await {
            Ok(found) => found,
            // A ticket or conversation deleted since: nobody to tell.
            Err(crate::AppError::NotFound) => Vec::new(),
            Err(error) => return Err(error),
        };
        for draft in for_event {
            if Some(draft.user) != cause {
                drafts.push((event, company, draft));
            }
        }
    }
    let mut choices: HashMap<UserId, (HashMap<Kind, Channels>, Option<QuietHours>)> =
        HashMap::new();
    for (_, company, draft) in &drafts {
        if let std::collections::hash_map::Entry::Vacant(slot) = choices.entry(draft.user) {
            let mine = super::effective(app, *company, draft.user).await?;
            let quiet = store::notifications::quiet_hours(app.db(), *company, draft.user)
                .await?
                .and_then(|q| {
                    QuietHours::from_minutes(q.quiet_start?, q.quiet_end?, q.time_zone.as_deref()?)
                });
            slot.insert((mine, quiet));
        }
    }
    let now = Utc::now();
    let mut online: HashMap<CompanyId, HashSet<UserId>> = HashMap::new();
    let mut tx = app.db().begin().await?;
    if store::relay_cursors::lock(&mut tx, CURSOR).await? != Some(from) {
        // Another server moved the cursor meanwhile: it told these people.
        return Ok(0);
    }
    for (event, company, draft) in &drafts {
        let Some((mine, quiet)) = choices.get(&draft.user) else {
            continue;
        };
        let channels = mine
            .get(&draft.kind)
            .copied()
            .unwrap_or_else(|| draft.kind.defaults());
        if !channels.any() {
            continue;
        }
        let Some(id) = store::notifications::insert(
            &mut tx,
            &store::notifications::NewNotification {
                company: *company,
                user: draft.user,
                kind: draft.kind,
                subject: &draft.subject,
                subject_label: &draft.label,
                title: &draft.title,
                body: draft.body.as_deref(),
                link: &draft.link,
                event_id: event.id,
                actor: event.actor_id,
                in_app: channels.in_app,
                email: channels.email,
            },
        )
        .await?
        else {
            continue;
        };
        if channels.in_app {
            let unread = store::notifications::unread_count(&mut tx, *company, draft.user).await?;
            audit::record(
                &mut tx,
                None,
                Some(*company),
                Stream::User(draft.user),
                Payload::NotificationCreated {
                    notification_id: id,
                    notification_kind: draft.kind.as_str().to_owned(),
                    subject: draft.subject.clone(),
                    unread,
                },
            )
            .await?;
        }
        if channels.email {
            let here = online
                .entry(*company)
                .or_insert_with(|| app.hub().online(*company))
                .contains(&draft.user);
            let settings = app.settings();
            let wait = if here {
                settings.notify_email_delay_secs
            } else {
                settings.notify_email_coalesce_secs
            };
            let due = now + chrono::Duration::seconds(i64::try_from(wait).unwrap_or(i64::MAX / 2));
            if store::notifications::add_to_digest(
                &mut tx,
                *company,
                draft.user,
                &draft.subject,
                due,
            )
            .await?
            {
                let mut job = NewJob::new(
                    super::email::JOB_KIND,
                    json!({ "company_id": company, "user_id": draft.user, "subject": draft.subject }),
                )
                .company(*company);
                job.run_at = Some(due);
                store::jobs::enqueue(&mut tx, job).await?;
            }
        }
        let quiet_now = quiet.as_ref().is_some_and(|q| q.until(now).is_some());
        if !quiet_now && (channels.web_push || channels.mobile) {
            let push = Push {
                notification_id: Some(id),
                kind: draft.kind.as_str().to_owned(),
                title: push_title(draft),
                url: draft.link.clone(),
            };
            super::push(&mut tx, *company, draft.user, channels, &push).await?;
        }
    }
    store::relay_cursors::advance(&mut tx, CURSOR, from, last).await?;
    app.commit(tx).await?;
    Ok(events.len())
}

/// What a push says: the kind of news and where, never its text.
fn push_title(draft: &Draft) -> String {
    let short = &draft.short;
    match draft.kind {
        Kind::TaskAssigned => format!("A task on {short} is assigned to you"),
        Kind::TaskQueued => format!("A new task on {short} waits in your queue"),
        Kind::TicketStep => format!("{short} moved to a new step"),
        Kind::TicketInput => format!("{short} needs your input"),
        Kind::TicketCompleted => format!("{short} was completed"),
        Kind::TicketRejected => format!("{short} was rejected"),
        Kind::TicketCancelled => format!("{short} was cancelled"),
        Kind::Comment => format!("New comment on {short}"),
        Kind::Mention => format!("You were mentioned on {short}"),
        Kind::Message => format!("New message in {short}"),
        Kind::ConversationAssigned => "A conversation is assigned to you".to_owned(),
        Kind::Registration => "A registration awaits your approval".to_owned(),
        Kind::WorkflowError => format!("A step failed on {short}"),
        Kind::DeliveryFailed => format!("A reply in {short} could not be delivered"),
    }
}

/// The company's active people, read once per batch.
#[derive(Default)]
struct People {
    of: HashMap<CompanyId, Vec<User>>,
}

impl People {
    async fn all(&mut self, app: &App, company: CompanyId) -> Result<&[User]> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.of.entry(company) {
            slot.insert(store::users::active_people(app.db(), company, None).await?);
        }
        Ok(self.of.get(&company).map(Vec::as_slice).unwrap_or_default())
    }

    async fn get(&mut self, app: &App, company: CompanyId, user: UserId) -> Result<Option<User>> {
        Ok(self
            .all(app, company)
            .await?
            .iter()
            .find(|u| u.id == user)
            .cloned())
    }

    async fn name(
        &mut self,
        app: &App,
        company: CompanyId,
        user: Option<UserId>,
    ) -> Result<String> {
        let Some(user) = user else {
            return Ok("TicketFlower".to_owned());
        };
        Ok(match self.get(app, company, user).await? {
            Some(u) => format!("{} {}", u.first_name, u.last_name)
                .trim()
                .to_owned(),
            None => "Someone".to_owned(),
        })
    }

    async fn with_role(
        &mut self,
        app: &App,
        company: CompanyId,
        roles: &[SystemRole],
    ) -> Result<Vec<User>> {
        Ok(self
            .all(app, company)
            .await?
            .iter()
            .filter(|u| roles.iter().any(|r| u.has_role(*r)))
            .cloned()
            .collect())
    }

    /// The people `@name`s in a text stand for: first name, first.last, or the part of
    /// their address before `@`.
    async fn mentioned(&mut self, app: &App, company: CompanyId, text: &str) -> Result<Vec<User>> {
        let names = domain::notification::mentions(text);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .all(app, company)
            .await?
            .iter()
            .filter(|u| {
                let first = u.first_name.to_lowercase().replace(' ', "");
                let full = format!("{first}.{}", u.last_name.to_lowercase().replace(' ', ""));
                let local = u
                    .email
                    .as_str()
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_lowercase();
                names
                    .iter()
                    .any(|n| *n == first || *n == full || *n == local)
            })
            .cloned()
            .collect())
    }
}

fn excerpt(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut cut: String = text.chars().take(EXCERPT_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    Some(cut)
}

fn typed(event: &Event) -> Option<Payload> {
    serde_json::from_value(json!({ "kind": event.kind, "payload": event.payload })).ok()
}

async fn drafts_of(
    app: &App,
    people: &mut People,
    company: CompanyId,
    event: &Event,
) -> Result<Vec<Draft>> {
    let Some(payload) = typed(event) else {
        return Ok(Vec::new());
    };
    let Ok(stream) = event.stream.parse::<Stream>() else {
        return Ok(Vec::new());
    };
    match stream {
        Stream::Ticket(ticket) => ticket_drafts(app, people, company, event, ticket, payload).await,
        Stream::Conversation(conversation) => {
            conversation_drafts(app, people, company, event, conversation, payload).await
        }
        Stream::User(user) => match payload {
            Payload::UserRegistered { email } => Ok(people
                .with_role(app, company, &[SystemRole::Admin])
                .await?
                .into_iter()
                .map(|admin| Draft {
                    user: admin.id,
                    kind: Kind::Registration,
                    subject: format!("user:{user}"),
                    label: email.clone(),
                    short: email.clone(),
                    title: format!("{email} registered and awaits your approval"),
                    body: None,
                    link: format!("/admin/users/{user}"),
                })
                .collect()),
            _ => Ok(Vec::new()),
        },
        Stream::Company(_) | Stream::Workflow(_) => Ok(Vec::new()),
    }
}

/// Whether the end status a workflow reached says no.
fn rejected(status: &str) -> bool {
    let status = status.to_uppercase();
    ["REJECT", "DENIED", "DECLINED", "REFUSED"]
        .iter()
        .any(|word| status.contains(word))
}

async fn ticket_drafts(
    app: &App,
    people: &mut People,
    company: CompanyId,
    event: &Event,
    id: TicketId,
    payload: Payload,
) -> Result<Vec<Draft>> {
    let ticket = store::tickets::get(app.db(), company, id).await?;
    let short = format!("#{}", ticket.number);
    let label = format!("#{} {}", ticket.number, ticket.title);
    let draft =
        |user: UserId, kind: Kind, title: String, body: Option<String>, link: String| Draft {
            user,
            kind,
            subject: format!("ticket:{id}"),
            label: label.clone(),
            short: short.clone(),
            title,
            body,
            link,
        };
    let link = format!("/tickets/{id}");
    let tasks = store::tasks::of_ticket(app.db(), company, id).await?;
    let holders: HashSet<UserId> = tasks.iter().filter_map(|t| t.assigned_to).collect();
    let follows = store::notifications::follows(app.db(), company, id).await?;
    let muted: HashSet<UserId> = follows.iter().filter(|f| !f.1).map(|f| f.0).collect();
    let followers: Vec<UserId> = follows.iter().filter(|f| f.1).map(|f| f.0).collect();
    let requester = ticket.requester_id;
    let who = people.name(app, company, event.actor_id).await?;
    let mut out = Vec::new();
    match payload {
        Payload::TaskCreated {
            task_id,
            name,
            task_type,
            ..
        } => {
            let task = store::tasks::get(app.db(), company, task_id).await?;
            if task_type != TaskType::Form {
                return Ok(out);
            }
            let title = format!("New task in your queue: {name} on {label}");
            for user in waiting_queue(app, company, &ticket, &task).await? {
                out.push(draft(
                    user,
                    Kind::TaskQueued,
                    title.clone(),
                    None,
                    task_link(task_id),
                ));
            }
            if task.assigned_to != Some(requester) && !muted.contains(&requester) {
                out.push(draft(
                    requester,
                    Kind::TicketStep,
                    format!("{label} moved to: {name}"),
                    None,
                    link.clone(),
                ));
            }
        }
        Payload::TaskReleased { task_id } => {
            let task = store::tasks::get(app.db(), company, task_id).await?;
            let title = format!("A task waits in your queue again: {} on {label}", task.name);
            for user in waiting_queue(app, company, &ticket, &task).await? {
                out.push(draft(
                    user,
                    Kind::TaskQueued,
                    title.clone(),
                    None,
                    task_link(task_id),
                ));
            }
        }
        Payload::TaskAssigned {
            task_id,
            assigned_to,
            by,
        } => {
            let task = store::tasks::get(app.db(), company, task_id).await?;
            let name = &task.name;
            if assigned_to == requester && task.task_type == TaskType::Form {
                out.push(draft(
                    requester,
                    Kind::TicketInput,
                    format!("{label} needs your input: {name}"),
                    None,
                    task_link(task_id),
                ));
            } else {
                // Only a ticket admin's choice is a person's doing; otherwise the design
                // or the queue gave it.
                let title = if by == "ticket_admin" {
                    format!("{who} assigned you {name} on {label}")
                } else {
                    format!("{name} on {label} is assigned to you")
                };
                out.push(draft(
                    assigned_to,
                    Kind::TaskAssigned,
                    title,
                    None,
                    task_link(task_id),
                ));
            }
        }
        Payload::WorkflowCompleted { status, .. } => {
            let kind = if rejected(&status) {
                Kind::TicketRejected
            } else {
                Kind::TicketCompleted
            };
            let verb = if kind == Kind::TicketRejected {
                "was rejected"
            } else {
                "was completed"
            };
            let mut to = vec![requester];
            to.extend(followers.iter().copied());
            for user in seeing(app, people, company, &ticket, &holders, &to, false).await? {
                if !muted.contains(&user) {
                    out.push(draft(
                        user,
                        kind,
                        format!("{label} {verb} ({status})"),
                        None,
                        link.clone(),
                    ));
                }
            }
        }
        Payload::TicketCancelled { .. } => {
            let mut to = vec![requester];
            to.extend(holders.iter().copied());
            to.extend(followers.iter().copied());
            for user in seeing(app, people, company, &ticket, &holders, &to, false).await? {
                if !muted.contains(&user) {
                    out.push(draft(
                        user,
                        Kind::TicketCancelled,
                        format!("{who} cancelled {label}"),
                        None,
                        link.clone(),
                    ));
                }
            }
        }
        Payload::CommentAdded { body, internal, .. } => {
            let mentioned: Vec<UserId> = people
                .mentioned(app, company, &body)
                .await?
                .iter()
                .map(|u| u.id)
                .collect();
            let mentioned = seeing(
                app, people, company, &ticket, &holders, &mentioned, internal,
            )
            .await?;
            let (what, note) = if internal {
                ("an internal note", "wrote an internal note on")
            } else {
                ("a comment", "commented on")
            };
            for user in &mentioned {
                out.push(draft(
                    *user,
                    Kind::Mention,
                    format!("{who} mentioned you in {what} on {label}"),
                    excerpt(&body),
                    link.clone(),
                ));
            }
            let mut to = vec![requester];
            to.extend(holders.iter().copied());
            to.extend(followers.iter().copied());
            for user in seeing(app, people, company, &ticket, &holders, &to, internal).await? {
                if !muted.contains(&user) && !mentioned.contains(&user) {
                    out.push(draft(
                        user,
                        Kind::Comment,
                        format!("{who} {note} {label}"),
                        excerpt(&body),
                        link.clone(),
                    ));
                }
            }
        }
        Payload::WorkflowErrorRaised { message, .. } => {
            for admin in people
                .with_role(app, company, &[SystemRole::TicketAdmin, SystemRole::Admin])
                .await?
            {
                out.push(draft(
                    admin.id,
                    Kind::WorkflowError,
                    format!("A workflow step failed on {label}"),
                    excerpt(&message),
                    link.clone(),
                ));
            }
        }
        _ => {}
    }
    Ok(out)
}

fn task_link(task: domain::TaskId) -> String {
    format!("/tasks/{task}")
}

/// The workers who may claim a task, when it waits unassigned in their queue.
async fn waiting_queue(
    app: &App,
    company: CompanyId,
    ticket: &store::tickets::Ticket,
    task: &store::tasks::TaskInstance,
) -> Result<Vec<UserId>> {
    if task.assigned_to.is_some() || !TaskStatus::QUEUED.contains(&task.status) {
        return Ok(Vec::new());
    }
    let version =
        crate::runtime::versions::published(app, company, ticket.workflow_version_id).await?;
    let roles = version
        .task(&task.task_key)
        .map(|spec| spec.company_role_access.clone())
        .unwrap_or_default();
    Ok(
        store::tasks::worker_loads(app.db(), company, &roles, &task.allowed_users)
            .await?
            .into_iter()
            .map(|load| load.user_id)
            .collect(),
    )
}

/// Those of `candidates` who are active people and may read the ticket (its internal notes,
/// when `internal`): the rules of `runtime::tickets`, asked of each.
async fn seeing(
    app: &App,
    people: &mut People,
    company: CompanyId,
    ticket: &store::tickets::Ticket,
    holders: &HashSet<UserId>,
    candidates: &[UserId],
    internal: bool,
) -> Result<Vec<UserId>> {
    let mut out: Vec<UserId> = Vec::new();
    for user in candidates {
        if out.contains(user) {
            continue;
        }
        let Some(person) = people.get(app, company, *user).await? else {
            continue;
        };
        let actor: Actor = crate::identity::accounts::actor_for(&person);
        let sees = *user == ticket.requester_id
            || crate::access::is_ticket_admin(&actor)
            || holders.contains(user)
            || (crate::access::is_agent(&actor)
                && store::conversations::supports(
                    app.db(),
                    company,
                    ticket.id,
                    ticket.requester_id,
                )
                .await?);
        if sees && (!internal || crate::access::is_team(&actor)) {
            out.push(*user);
        }
    }
    Ok(out)
}

async fn conversation_drafts(
    app: &App,
    people: &mut People,
    company: CompanyId,
    event: &Event,
    id: ConversationId,
    payload: Payload,
) -> Result<Vec<Draft>> {
    let conversation = store::conversations::get(app.db(), company, id).await?;
    let label = conversation
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| conversation.reference.clone())
        .unwrap_or_else(|| "Support conversation".to_owned());
    let draft = |user: UserId, kind: Kind, title: String, body: Option<String>| Draft {
        user,
        kind,
        subject: format!("conversation:{id}"),
        label: label.clone(),
        short: "a conversation".to_owned(),
        title,
        body,
        link: format!("/conversations/{id}"),
    };
    let who = people.name(app, company, event.actor_id).await?;
    let mut out = Vec::new();
    match payload {
        Payload::MessagePosted { body, internal, .. } => {
            let text = body.unwrap_or_default();
            let mut mentioned = Vec::new();
            for person in people.mentioned(app, company, &text).await? {
                let actor = crate::identity::accounts::actor_for(&person);
                let reads = crate::access::is_agent(&actor)
                    || (!internal && person.id == conversation.requester_id);
                if reads {
                    mentioned.push(person.id);
                    out.push(draft(
                        person.id,
                        Kind::Mention,
                        format!("{who} mentioned you in {label}"),
                        excerpt(&text),
                    ));
                }
            }
            let mut to = Vec::new();
            if !internal {
                to.push(conversation.requester_id);
            }
            to.extend(conversation.assignee_id);
            for user in to {
                if mentioned.contains(&user) || people.get(app, company, user).await?.is_none() {
                    continue;
                }
                out.push(draft(
                    user,
                    Kind::Message,
                    format!("{who} wrote in {label}"),
                    excerpt(&text),
                ));
            }
        }
        Payload::ConversationAssigned {
            assignee_id: Some(assignee),
            ..
        } => {
            out.push(draft(
                assignee,
                Kind::ConversationAssigned,
                format!("{label} is assigned to you"),
                None,
            ));
        }
        Payload::MessageDeliveryChanged {
            state: DeliveryState::Failed,
            error,
            ..
        } => {
            for admin in people.with_role(app, company, &[SystemRole::Admin]).await? {
                out.push(draft(
                    admin.id,
                    Kind::DeliveryFailed,
                    format!("A reply in {label} could not be delivered"),
                    error.as_deref().and_then(excerpt),
                ));
            }
        }
        _ => {}
    }
    Ok(out)
}

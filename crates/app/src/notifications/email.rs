//! E-mail digests. The consumer marks a person's notification for e-mail and, if no
//! digest of its ticket or conversation is pending, enqueues one `notify.email` job, due
//! after a short wait when they are offline (more may come: a burst makes one mail) or after
//! the longer delay when they are online in the app (they may read it there first). The job
//! takes what is still unread and not yet mailed, and writes one mail to the outbox, in
//! plain text and HTML, with a one-click unsubscribe per type (RFC 8058) that works without
//! logging in through a signed token.

use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::Utc;
use domain::company::CompanyStatus;
use domain::job::{Job, NewJob};
use domain::notification::{Kind, QuietHours};
use domain::user::UserStatus;
use domain::{CompanyId, UserId};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use store::notifications::Notification;

use crate::infra::jobs::JobError;
use crate::{App, AppError, Result};

pub const JOB_KIND: &str = "notify.email";

#[derive(serde::Deserialize)]
struct Payload {
    company_id: CompanyId,
    user_id: UserId,
    subject: String,
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retry(e.to_string())
}

/// The `notify.email` job: one digest of one person's notifications of one subject.
#[tracing::instrument(name = "notify.email", skip_all, fields(job.id = %job.id))]
pub async fn send(app: App, job: Job) -> std::result::Result<(), JobError> {
    let payload: Payload = serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
    let (company_id, user_id) = (payload.company_id, payload.user_id);
    let user = match store::users::get(app.db(), company_id, user_id).await {
        Ok(user) => Some(user),
        Err(store::StoreError::NotFound) => None,
        Err(e) => return Err(retry(e)),
    };
    let company = store::companies::get(app.db(), company_id)
        .await
        .map_err(retry)?;
    let reachable = user
        .as_ref()
        .is_some_and(|u| u.status == UserStatus::Active)
        && company.status == CompanyStatus::Active;
    if reachable {
        let quiet = store::notifications::quiet_hours(app.db(), company_id, user_id)
            .await
            .map_err(retry)?
            .and_then(|q| {
                QuietHours::from_minutes(q.quiet_start?, q.quiet_end?, q.time_zone.as_deref()?)
            });
        if let Some(until) = quiet.and_then(|q| q.until(Utc::now())) {
            return Err(JobError::Defer {
                at: until,
                why: "the person's quiet hours".into(),
            });
        }
    }
    let mut tx = app.db().begin().await.map_err(retry)?;
    let notes = store::notifications::take_digest(&mut tx, company_id, user_id, &payload.subject)
        .await
        .map_err(retry)?;
    // Blocked people and suspended companies get nothing: the digest is dropped.
    if let (Some(user), true, false) = (user, reachable, notes.is_empty()) {
        let mail = compose(&app, &company.name, &user, &notes).map_err(retry)?;
        let extras = store::mail::Extras {
            html: Some(&mail.html),
            headers: vec![
                ("List-Unsubscribe", format!("<{}>", mail.one_click)),
                (
                    "List-Unsubscribe-Post",
                    "List-Unsubscribe=One-Click".to_owned(),
                ),
            ],
        };
        let id = store::mail::enqueue_with(
            &mut tx,
            Some(company_id),
            user.email.as_str(),
            &mail.subject,
            &mail.text,
            &extras,
        )
        .await
        .map_err(retry)?;
        store::jobs::enqueue(
            &mut tx,
            NewJob::new(crate::infra::mail::JOB_KIND, json!({ "mail_id": id })).company(company_id),
        )
        .await
        .map_err(retry)?;
    }
    app.commit(tx).await.map_err(retry)?;
    Ok(())
}

struct Mail {
    subject: String,
    text: String,
    html: String,
    /// The unsubscribe address of the digest's first type, for the headers.
    one_click: String,
}

struct Item {
    title: String,
    body: Option<String>,
}

struct Stop {
    label: &'static str,
    url: String,
}

/// What a digest says, rendered twice: as text and as HTML.
struct Digest<'a> {
    first_name: &'a str,
    headline: &'a str,
    items: &'a [Item],
    link: &'a str,
    company: &'a str,
    label: &'a str,
    unsubscribe: &'a [Stop],
    preferences: &'a str,
}

#[derive(Template)]
#[template(path = "notification_email.txt", escape = "none")]
struct Text<'a> {
    d: &'a Digest<'a>,
}

#[derive(Template)]
#[template(path = "notification_email.html")]
struct Html<'a> {
    d: &'a Digest<'a>,
}

/// "3 new comments on #42 New laptop", or the one notification's own title.
fn headline(notes: &[Notification]) -> String {
    let Some(first) = notes.first() else {
        return String::new();
    };
    if notes.len() == 1 {
        return first.title.clone();
    }
    let n = notes.len();
    let label = &first.subject_label;
    let same = notes.iter().all(|x| x.kind == first.kind);
    let what = match first.kind.parse::<Kind>() {
        Ok(Kind::Comment) if same => "new comments",
        Ok(Kind::Message) if same => "new messages",
        Ok(Kind::Mention) if same => "mentions of you",
        _ => "updates",
    };
    format!("{n} {what} on {label}")
}

fn compose(
    app: &App,
    company: &str,
    user: &domain::user::User,
    notes: &[Notification],
) -> std::result::Result<Mail, askama::Error> {
    let base = app.settings().base_url();
    let first = &notes[0];
    let headline = headline(notes);
    let items: Vec<Item> = notes
        .iter()
        .map(|n| Item {
            title: n.title.clone(),
            body: n.body.clone(),
        })
        .collect();
    let mut kinds: Vec<Kind> = notes.iter().filter_map(|n| n.kind.parse().ok()).collect();
    kinds.dedup();
    let unsubscribe: Vec<Stop> = kinds
        .iter()
        .map(|kind| Stop {
            label: kind.label(),
            url: format!(
                "{base}/unsubscribe/{}",
                token(app, first.company_id, user.id, *kind)
            ),
        })
        .collect();
    let one_click = unsubscribe
        .first()
        .map(|s| s.url.clone())
        .unwrap_or_else(|| format!("{base}/profile"));
    let link = format!("{base}{}", first.link);
    let preferences = format!("{base}/notifications/preferences");
    let digest = Digest {
        first_name: &user.first_name,
        headline: &headline,
        items: &items,
        link: &link,
        company,
        label: &first.subject_label,
        unsubscribe: &unsubscribe,
        preferences: &preferences,
    };
    let text = Text { d: &digest }.render()?;
    let html = Html { d: &digest }.render()?;
    Ok(Mail {
        subject: format!("[{company}] {headline}"),
        text,
        html,
        one_click,
    })
}

type HmacSha256 = Hmac<Sha256>;

fn mac(app: &App, body: &str) -> Option<HmacSha256> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(app.secrets().jwt_key()).ok()?;
    // Its own prefix, so that this signature can never pass for another use of the key.
    mac.update(b"ticketflower unsubscribe v1\0");
    mac.update(body.as_bytes());
    Some(mac)
}

/// The token of an unsubscribe link: who, which type, and a signature over both.
pub fn token(app: &App, company: CompanyId, user: UserId, kind: Kind) -> String {
    let body = format!("{company}.{user}.{kind}");
    let signature = mac(app, &body)
        .map(|m| B64.encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("{body}.{signature}")
}

/// Whose e-mail of which type a token stops, if its signature holds.
#[derive(Clone, Copy, Debug)]
pub struct Unsubscribe {
    pub company: CompanyId,
    pub user: UserId,
    pub kind: Kind,
}

/// Reads an unsubscribe token; a forged or mangled one is not found.
pub fn read_token(app: &App, token: &str) -> Result<Unsubscribe> {
    let mut parts = token.splitn(4, '.');
    let (Some(company), Some(user), Some(kind), Some(signature)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AppError::NotFound);
    };
    let signature = B64.decode(signature).map_err(|_| AppError::NotFound)?;
    mac(app, &format!("{company}.{user}.{kind}"))
        .ok_or(AppError::NotFound)?
        .verify_slice(&signature)
        .map_err(|_| AppError::NotFound)?;
    Ok(Unsubscribe {
        company: CompanyId(company.parse().map_err(|_| AppError::NotFound)?),
        user: UserId(user.parse().map_err(|_| AppError::NotFound)?),
        kind: kind.parse().map_err(|_| AppError::NotFound)?,
    })
}

/// What an unsubscribe link's page names: the person's address and the type.
pub async fn describe(app: &App, token: &str) -> Result<(String, &'static str)> {
    let found = read_token(app, token)?;
    let user = store::users::get(app.db(), found.company, found.user).await?;
    Ok((user.email.as_str().to_owned(), found.kind.label()))
}

/// Follows an unsubscribe link: that type's e-mail stops for that person. No login: the
/// signature is the proof; doing it twice is harmless.
pub async fn unsubscribe(app: &App, token: &str) -> Result<(String, &'static str)> {
    let found = read_token(app, token)?;
    let user = store::users::get(app.db(), found.company, found.user).await?;
    super::unsubscribe_email(app, found.company, found.user, found.kind).await?;
    Ok((user.email.as_str().to_owned(), found.kind.label()))
}

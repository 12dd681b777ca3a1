//! Canned replies (issue 18): texts a company keeps for its agents, who insert one into a
//! reply by typing `/` and its shortcut in the composer. Agents (and admins) read them;
//! company admins create, change and delete them, each change an event on the company's
//! stream.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::canned::{CannedReply, Shortcut, TITLE_MAX_CHARS};
use domain::event::{Payload, Stream};
use domain::validation::required_text;
use domain::{CannedReplyId, CompanyId, UserId, ValidationErrors};
use serde::Serialize;
use store::canned_replies::Fields;

use crate::{App, AppError, Result, audit};

/// A canned reply as the API and the pages show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CannedReplyView {
    pub id: CannedReplyId,
    /// What an agent types after `/` to insert it.
    pub shortcut: String,
    pub title: String,
    /// The text inserted into the reply.
    pub body: String,
    /// Lists show lower numbers first, then by title.
    pub sort_order: i32,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
    pub updated_at: DateTime<Utc>,
    pub updated_by: UserId,
}

impl From<CannedReply> for CannedReplyView {
    fn from(reply: CannedReply) -> Self {
        Self {
            id: reply.id,
            shortcut: reply.shortcut.into(),
            title: reply.title,
            body: reply.body,
            sort_order: reply.sort_order,
            created_at: reply.created_at,
            created_by: reply.created_by,
            updated_at: reply.updated_at,
            updated_by: reply.updated_by,
        }
    }
}

/// What a canned reply is made of, as typed: `None` keeps what is stored (a change), or
/// takes the default (a new one: `sort_order` 0; the others are required).
#[derive(Clone, Debug, Default)]
pub struct CannedReplyInput {
    pub shortcut: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub sort_order: Option<i32>,
}

/// The company's canned replies for an agent, by sort order and title; `q` keeps those
/// whose shortcut or title holds it.
pub async fn list(app: &App, actor: &Actor, q: Option<&str>) -> Result<Vec<CannedReplyView>> {
    let company = crate::access::require_agent(actor)?;
    if q.is_some_and(|q| q.chars().count() > 200) {
        return Err(ValidationErrors::single("q", "must be at most 200 characters").into());
    }
    Ok(store::canned_replies::list(app.db(), company, q)
        .await?
        .into_iter()
        .map(CannedReplyView::from)
        .collect())
}

pub async fn get(app: &App, actor: &Actor, id: CannedReplyId) -> Result<CannedReplyView> {
    let company = crate::access::require_agent(actor)?;
    Ok(store::canned_replies::get(app.db(), company, id)
        .await?
        .into())
}

/// A new canned reply of the admin's company.
pub async fn create(app: &App, actor: &Actor, input: CannedReplyInput) -> Result<CannedReplyView> {
    let company = crate::access::require_admin(actor)?;
    let checked = check(app, company, &input, None).await?;
    let mut tx = app.db().begin().await?;
    let created = store::canned_replies::insert(&mut tx, company, &checked.fields(), actor.user_id)
        .await
        .map_err(shortcut_conflict)?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::CannedReplyCreated {
            canned_reply_id: created.id,
            shortcut: created.shortcut.to_string(),
            title: created.title.clone(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(created.into())
}

/// Changes the fields given of one of the admin's company's canned replies.
pub async fn update(
    app: &App,
    actor: &Actor,
    id: CannedReplyId,
    input: CannedReplyInput,
) -> Result<CannedReplyView> {
    let company = crate::access::require_admin(actor)?;
    let stored = store::canned_replies::get(app.db(), company, id).await?;
    let checked = check(app, company, &input, Some(&stored)).await?;
    let mut tx = app.db().begin().await?;
    let updated =
        store::canned_replies::update(&mut tx, company, id, &checked.fields(), actor.user_id)
            .await
            .map_err(shortcut_conflict)?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::CannedReplyUpdated {
            canned_reply_id: id,
            shortcut: updated.shortcut.to_string(),
            title: updated.title.clone(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(updated.into())
}

pub async fn delete(app: &App, actor: &Actor, id: CannedReplyId) -> Result<()> {
    let company = crate::access::require_admin(actor)?;
    let stored = store::canned_replies::get(app.db(), company, id).await?;
    let mut tx = app.db().begin().await?;
    store::canned_replies::delete(&mut tx, company, id).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::CannedReplyDeleted {
            canned_reply_id: id,
            shortcut: stored.shortcut.to_string(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

/// A canned reply's fields once every one passed.
struct Checked {
    shortcut: Shortcut,
    title: String,
    body: String,
    sort_order: i32,
}

impl Checked {
    fn fields(&self) -> Fields<'_> {
        Fields {
            shortcut: &self.shortcut,
            title: &self.title,
            body: &self.body,
            sort_order: self.sort_order,
        }
    }
}

/// Checks the input over what is stored (if anything), reporting every bad field at once.
/// A body must fit in one message of the company's chat: a canned reply that could not be
/// sent would only fail in the composer.
async fn check(
    app: &App,
    company: CompanyId,
    input: &CannedReplyInput,
    stored: Option<&CannedReply>,
) -> Result<Checked> {
    let mut errors = ValidationErrors::new();
    let shortcut = match (&input.shortcut, stored) {
        (Some(text), _) => errors.check("shortcut", Shortcut::parse(text)),
        (None, Some(stored)) => Some(stored.shortcut.clone()),
        (None, None) => errors.check("shortcut", Shortcut::parse("")),
    };
    let title = match (&input.title, stored) {
        (Some(text), _) => required_text(&mut errors, "title", text, TITLE_MAX_CHARS),
        (None, Some(stored)) => Some(stored.title.clone()),
        (None, None) => required_text(&mut errors, "title", "", TITLE_MAX_CHARS),
    };
    let max_chars = crate::chat::of(app, company).await?.max_message_chars as usize;
    let body = match (&input.body, stored) {
        (Some(text), _) => {
            let text = text.trim();
            if text.is_empty() {
                errors.add("body", "is required");
                None
            } else if text.chars().count() > max_chars {
                errors.add(
                    "body",
                    format!(
                        "must be at most {max_chars} characters (the longest message your chat accepts)"
                    ),
                );
                None
            } else {
                Some(text.to_owned())
            }
        }
        (None, Some(stored)) => Some(stored.body.clone()),
        (None, None) => {
            errors.add("body", "is required");
            None
        }
    };
    let sort_order = input
        .sort_order
        .or(stored.map(|s| s.sort_order))
        .unwrap_or(0);
    match (shortcut, title, body) {
        (Some(shortcut), Some(title), Some(body)) if errors.is_empty() => Ok(Checked {
            shortcut,
            title,
            body,
            sort_order,
        }),
        _ => Err(errors.into()),
    }
}

fn shortcut_conflict(error: store::StoreError) -> AppError {
    match error {
        store::StoreError::Conflict { constraint }
            if constraint == "canned_replies_company_id_shortcut_key" =>
        {
            AppError::Conflict {
                field: Some("shortcut".into()),
                message: "another canned reply already has this shortcut".into(),
            }
        }
        other => other.into(),
    }
}

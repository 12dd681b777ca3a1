//! The event spine's vocabulary. Every state change appends one event in the same
//! transaction as the change; the timeline, the audit log, the real-time feed and outbound
//! webhooks all read these rows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{CompanyId, UserId};

/// An event about to be appended.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// `None` only for platform-level events (a company created by staff, a superuser made).
    pub company_id: Option<CompanyId>,
    /// What the event is about, e.g. `company:<id>` or `ticket:<id>`.
    pub stream: String,
    /// What happened, dotted: `company.created`, `user.login_succeeded`.
    pub kind: String,
    pub actor_id: Option<UserId>,
    pub payload: Value,
}

impl NewEvent {
    pub fn new(stream: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            company_id: None,
            stream: stream.into(),
            kind: kind.into(),
            actor_id: None,
            payload: Value::Object(Default::default()),
        }
    }

    pub fn company(mut self, company: CompanyId) -> Self {
        self.company_id = Some(company);
        self
    }

    pub fn actor(mut self, actor: Option<UserId>) -> Self {
        self.actor_id = actor;
        self
    }

    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
}

/// A committed event. `id` is the position in the log and the cursor clients resume from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub id: i64,
    pub company_id: Option<CompanyId>,
    pub stream: String,
    pub kind: String,
    pub actor_id: Option<UserId>,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

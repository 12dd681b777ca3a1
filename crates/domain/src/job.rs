//! Background jobs: side effects (mail, webhooks, HTTP actions) are enqueued in the same
//! transaction as the change that causes them and run later by the worker loop, so nothing
//! is sent for a rolled-back change and nothing committed is left unsent.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{CompanyId, JobId};

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker holding a lease until `locked_until`.
    Running,
    /// Finished successfully.
    Done,
    /// Failed `max_attempts` times, or failed permanently: a dead letter for people to see.
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not a job status.
#[derive(Debug, thiserror::Error)]
#[error("unknown job status `{0}`")]
pub struct UnknownJobStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownJobStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            other => Err(UnknownJobStatus(other.to_owned())),
        }
    }
}

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub company_id: Option<CompanyId>,
    /// Names the handler, e.g. `mail.send`.
    pub kind: String,
    pub payload: Value,
    pub max_attempts: u32,
    /// Earliest time to run; `None` = now.
    pub run_at: Option<DateTime<Utc>>,
}

impl NewJob {
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self {
            company_id: None,
            kind: kind.into(),
            payload,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            run_at: None,
        }
    }

    pub fn company(mut self, company: CompanyId) -> Self {
        self.company_id = Some(company);
        self
    }

    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Job {
    pub id: JobId,
    pub company_id: Option<CompanyId>,
    pub kind: String,
    pub payload: Value,
    pub status: JobStatus,
    /// How many times a worker has started it.
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

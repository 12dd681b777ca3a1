//! The error log's vocabulary: one entry per 5xx answer of the server, for platform staff.
//!
//! An entry says where and when the server failed and for whom (route template, request id,
//! company and user ids) and what failed, as a kind and a short summary. It never holds a
//! raw path or query, a request body or an error's full text: those may carry tokens,
//! passwords or a tenant's data, and the log is read by people outside the tenant.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{CompanyId, ErrorLogId, UserId};

/// The longest summary kept, in characters; longer ones are cut with an ellipsis.
pub const SUMMARY_MAX_CHARS: usize = 200;
/// The longest route template or request id kept, in characters (both come from outside:
/// a request id is whatever the client sent in `x-request-id`).
pub const LABEL_MAX_CHARS: usize = 200;

/// What kind of failure an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ErrorLogKind))]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A use case failed inside (a database error, a bug): 500.
    Internal,
    /// A dependency (the database) could not be reached: 503.
    Unavailable,
    /// The request took longer than the server allows: 503.
    Timeout,
    /// A handler panicked: 500.
    Panic,
    /// A 5xx answered without a typed error behind it.
    Status,
}

impl FailureKind {
    pub const ALL: [Self; 5] = [
        Self::Internal,
        Self::Unavailable,
        Self::Timeout,
        Self::Panic,
        Self::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Panic => "panic",
            Self::Status => "status",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not a failure kind.
#[derive(Debug, thiserror::Error)]
#[error("unknown failure kind `{0}`")]
pub struct UnknownFailureKind(pub String);

impl FromStr for FailureKind {
    type Err = UnknownFailureKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownFailureKind(s.to_owned()))
    }
}

/// A failure as the web layer saw it, before it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub at: DateTime<Utc>,
    pub method: String,
    /// The matched route template (`/api/v1/tickets/{id}`), `unmatched` when none matched.
    pub route: String,
    pub status: u16,
    pub request_id: String,
    pub company_id: Option<CompanyId>,
    pub user_id: Option<UserId>,
    pub kind: FailureKind,
    pub summary: String,
}

impl Failure {
    /// The failure with every text within its bound, so that no request can make an entry
    /// large.
    pub fn bounded(mut self) -> Self {
        self.method = cut(&self.method, 16);
        self.route = cut(&self.route, LABEL_MAX_CHARS);
        self.request_id = cut(&self.request_id, LABEL_MAX_CHARS);
        self.summary = cut(&self.summary, SUMMARY_MAX_CHARS);
        self
    }
}

/// A stored entry of the error log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ErrorLogEntry))]
pub struct ErrorEntry {
    pub id: ErrorLogId,
    /// When the server answered.
    pub created_at: DateTime<Utc>,
    pub method: String,
    /// The route template that matched (ids stay `{id}`; never the raw path or query).
    pub route: String,
    pub status: u16,
    /// The `x-request-id` the response carried, as in the server's log lines.
    pub request_id: String,
    /// The company of whoever was signed in, if anyone was.
    pub company_id: Option<CompanyId>,
    /// That company's name, while it exists.
    pub company_name: Option<String>,
    pub user_id: Option<UserId>,
    pub kind: FailureKind,
    /// What failed, in a few words: never a body, a token or a database error's values.
    pub summary: String,
}

/// `text` cut to at most `max` characters, the last of them an ellipsis when cut, and with
/// control characters (line breaks a log reader would trust) replaced by spaces.
pub fn cut(text: &str, max: usize) -> String {
    let clean = |c: char| if c.is_control() { ' ' } else { c };
    if text.chars().count() <= max {
        return text.chars().map(clean).collect();
    }
    let mut cut: String = text
        .chars()
        .take(max.saturating_sub(1))
        .map(clean)
        .collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in FailureKind::ALL {
            assert_eq!(kind.as_str().parse::<FailureKind>().unwrap(), kind);
        }
        assert!("fatal".parse::<FailureKind>().is_err());
    }

    #[test]
    fn texts_are_cut_on_characters_and_lose_control_characters() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("äöüäöü", 4), "äöü…");
        assert_eq!(cut("a\nb\tc", 10), "a b c");
        assert_eq!(cut("", 0), "");
    }

    #[test]
    fn a_failure_is_bounded_in_every_text() {
        let long = "x".repeat(10_000);
        let failure = Failure {
            at: Utc::now(),
            method: long.clone(),
            route: long.clone(),
            status: 500,
            request_id: long.clone(),
            company_id: None,
            user_id: None,
            kind: FailureKind::Internal,
            summary: long,
        }
        .bounded();
        assert_eq!(failure.summary.chars().count(), SUMMARY_MAX_CHARS);
        assert_eq!(failure.route.chars().count(), LABEL_MAX_CHARS);
        assert_eq!(failure.request_id.chars().count(), LABEL_MAX_CHARS);
        assert_eq!(failure.method.chars().count(), 16);
    }
}

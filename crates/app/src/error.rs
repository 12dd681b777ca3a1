//! The use cases' error type. The web layer maps each variant to one HTTP status in a
//! single place; internal errors carry their cause for the log but never show it.

use std::time::Duration;

use domain::ValidationErrors;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is wrong; every bad field is listed.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// The object does not exist, or belongs to another tenant (indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// The change collides with existing state, e.g. an email already taken.
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Something sent is larger than its bound (a file over the company's limit): 413.
    #[error("{field}: {message}")]
    TooLarge { field: String, message: String },
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    /// A dependency (the database) is not available right now.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

/// Unique indexes whose violation is the user's doing, with the field to blame.
const CONFLICTS: &[(&str, &str, &str)] = &[
    (
        "channels_company_id_slug_key",
        "slug",
        "another channel of the company has this slug",
    ),
    (
        "users_email_key",
        "email",
        "a user with this email already exists",
    ),
    (
        "design_objects_workflow_id_kind_key_key",
        "key",
        "is already used by another object of this kind in this workflow",
    ),
];

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict { constraint } => {
                match CONFLICTS.iter().find(|(name, _, _)| *name == constraint) {
                    Some((_, field, message)) => Self::Conflict {
                        field: Some((*field).to_owned()),
                        message: (*message).to_owned(),
                    },
                    None => Self::Conflict {
                        field: None,
                        message: format!("conflicts with existing data ({constraint})"),
                    },
                }
            }
            StoreError::Database(sqlx_error) if is_unavailable(&sqlx_error) => {
                Self::Unavailable(format!("database unavailable: {sqlx_error}"))
            }
            other => Self::Internal(cause_chain(&other)),
        }
    }
}

/// An error with every cause under it, `outer: inner: innermost`, for the log line of a
/// 500 (the client never sees it).
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

fn is_unavailable(error: &store::sqlx::Error) -> bool {
    use store::sqlx::Error;
    matches!(
        error,
        Error::PoolTimedOut | Error::PoolClosed | Error::Io(_)
    )
}

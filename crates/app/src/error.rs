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
    /// Something failed inside: the whole cause for the log, a summary for the error log.
    #[error("internal error: {0}")]
    Internal(Fault),
}

/// An internal failure in two forms: its whole cause, for the server's log only (it may
/// quote values: a database error can name the value it refused, a JSON error the text it
/// could not read), and a summary made from what the error is rather than from everything
/// it says, which the error log keeps and platform staff read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    summary: String,
    cause: String,
}

impl Fault {
    /// What failed, in a few words, without the values the cause may quote.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// Everything the error said, with its causes.
    pub fn cause(&self) -> &str {
        &self.cause
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cause)
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// An internal error caused by `cause`. Its summary is the error's type
    /// (`serde_json::Error`) rather than its text, which may quote what it failed on; a
    /// message of our own (a `&str` or `String`) is summarised by what comes before its
    /// first colon, after which our messages put the values they name.
    pub fn internal<E: std::fmt::Display>(cause: E) -> Self {
        let cause = cause.to_string();
        let name = std::any::type_name::<E>();
        let summary = if matches!(name, "&str" | "alloc::string::String") {
            cause
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        } else {
            short_type_name(name)
        };
        Self::Internal(Fault { summary, cause })
    }
}

/// `serde_json::error::Error` as `serde_json::Error`: the crate and the type.
fn short_type_name(name: &str) -> String {
    let name = name
        .split('<')
        .next()
        .unwrap_or(name)
        .trim_start_matches('&');
    match (name.split("::").next(), name.rsplit("::").next()) {
        (Some(krate), Some(last)) if krate != last => format!("{krate}::{last}"),
        _ => name.to_owned(),
    }
}

/// Words after which PostgreSQL quotes the name of a schema object, not a value.
const SCHEMA_NOUNS: &[&str] = &[
    "relation",
    "table",
    "column",
    "constraint",
    "index",
    "type",
    "function",
    "schema",
    "sequence",
    "operator",
];

/// A database's message without the values it may quote. PostgreSQL quotes a refused value
/// after a colon (`invalid input syntax for type uuid: "…"`) or after `value` (`value "…" is
/// out of range`), and the names of tables, columns, constraints and types after those
/// words; SQLite names only schema objects (our values are always bound parameters).
fn database_message(message: &str) -> String {
    let head = message.split(": \"").next().unwrap_or(message);
    let mut kept = String::new();
    let mut rest = head;
    while let Some(open) = rest.find('"') {
        let before = &rest[..open];
        kept.push_str(before);
        let Some(length) = rest[open + 1..].find('"') else {
            kept.push('…');
            return kept;
        };
        let quoted = &rest[open + 1..open + 1 + length];
        let noun = before.trim_end().rsplit(' ').next().unwrap_or_default();
        if SCHEMA_NOUNS.contains(&noun) {
            kept.push('"');
            kept.push_str(quoted);
            kept.push('"');
        } else {
            kept.push('…');
        }
        rest = &rest[open + 2 + length..];
    }
    kept.push_str(rest);
    kept
}

/// What a database error is, in a few words without values (see [`database_message`]).
fn database_summary(error: &store::sqlx::Error) -> String {
    use store::sqlx::Error;
    match error {
        Error::Database(db) => {
            let code = db.code().map(|c| format!(" {c}")).unwrap_or_default();
            format!("database error{code}: {}", database_message(db.message()))
        }
        Error::ColumnDecode { index, .. } => format!("database column {index} did not decode"),
        Error::ColumnNotFound(column) => format!("database column {column} not found"),
        Error::Decode(_) => "a database value did not decode".into(),
        Error::Protocol(_) => "database protocol error".into(),
        Error::WorkerCrashed => "database worker crashed".into(),
        _ => "database error".into(),
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
        "devices_token_key",
        "token",
        "was registered by another request at the same moment; try again",
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
            other => {
                let summary = match &other {
                    StoreError::Database(error) => database_summary(error),
                    StoreError::Corrupt(_) => "a stored row does not parse".into(),
                    StoreError::Commit(_) => "the commit failed".into(),
                    StoreError::NotFound | StoreError::Conflict { .. } => other.to_string(),
                };
                Self::Internal(Fault {
                    summary,
                    cause: cause_chain(&other),
                })
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_messages_keep_names_and_drop_values() {
        let cases = [
            (
                r#"relation "question_templates" does not exist"#,
                r#"relation "question_templates" does not exist"#,
            ),
            (
                r#"invalid input syntax for type uuid: "secret-token""#,
                "invalid input syntax for type uuid",
            ),
            (
                r#"value "4111111111111111" is out of range for type integer"#,
                "value … is out of range for type integer",
            ),
            (
                r#"null value in column "name" of relation "users" violates not-null constraint"#,
                r#"null value in column "name" of relation "users" violates not-null constraint"#,
            ),
            (
                "no such table: question_templates",
                "no such table: question_templates",
            ),
            (r#"unterminated "secret"#, "unterminated …"),
        ];
        for (message, kept) in cases {
            assert_eq!(database_message(message), kept, "{message}");
        }
    }

    #[test]
    fn internal_errors_are_summarised_by_type_or_by_our_own_words() {
        let json = serde_json::from_str::<u32>("\"secret\"").unwrap_err();
        let error = AppError::internal(json);
        let AppError::Internal(fault) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(fault.summary(), "serde_json::Error");
        assert!(fault.cause().contains("secret"), "{fault:?}");

        let AppError::Internal(fault) =
            AppError::internal(format!("published schema does not compile: {}", "secret"))
        else {
            panic!()
        };
        assert_eq!(fault.summary(), "published schema does not compile");
        let AppError::Internal(fault) = AppError::internal("idempotency key vanished") else {
            panic!()
        };
        assert_eq!(fault.summary(), "idempotency key vanished");
    }

    #[test]
    fn store_errors_are_summarised_without_their_text() {
        let AppError::Internal(fault) =
            AppError::from(StoreError::Corrupt("status `secret`".into()))
        else {
            panic!()
        };
        assert_eq!(fault.summary(), "a stored row does not parse");
        assert!(fault.cause().contains("secret"));
    }
}

//! RFC 9457 problem documents: the one place where every error becomes an HTTP response.
//!
//! Handlers return `Result<_, ApiError>`; an `ApiError` is an [`AppError`] or a rejection
//! of the request itself (bad JSON, wrong content type, body too large). Internal errors
//! are logged here with the request's id and shown only as a generic 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

use app::AppError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, with `errors` naming each bad field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One entry per bad input field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ProblemField>)]
    pub errors: Vec<FieldError>,
}

/// One bad field in a [`Problem`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// Field name, or a JSON pointer for nested input.
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Self {
        Self {
            kind: format!("https://ticketflower.dev/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    /// A generic problem for a bare status code (404 from the router, 405, 413 ...).
    pub fn for_status(status: StatusCode) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        let slug = title.to_lowercase().replace(' ', "-");
        Self::new(status, &slug, title)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AppError),
    /// The request could not be read (see [`crate::extract`]).
    #[error("{}", .0.title)]
    Request(Problem),
}

impl From<domain::ValidationErrors> for ApiError {
    fn from(errors: domain::ValidationErrors) -> Self {
        Self::App(AppError::Validation(errors))
    }
}

/// The internal cause of a 500, stashed in the response for the logging middleware.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

/// What the error log keeps of a 5xx, stashed in the response beside [`InternalCause`]:
/// the failure's kind and a summary without the values the cause may quote.
#[derive(Clone, Debug)]
pub struct FailureNote {
    pub kind: domain::error_log::FailureKind,
    pub summary: String,
}

impl FailureNote {
    pub fn new(kind: domain::error_log::FailureKind, summary: impl Into<String>) -> Self {
        Self {
            kind,
            summary: summary.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            ApiError::Request(problem) => problem,
            ApiError::App(error) => match error {
                AppError::Validation(errors) => {
                    let mut problem = Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "validation",
                        "The request has invalid fields",
                    )
                    .detail(errors.to_string());
                    problem.errors = errors.0;
                    problem
                }
                AppError::NotFound => Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
                    .detail("No such object, or you may not see it."),
                AppError::Conflict { field, message } => {
                    let problem = Problem::new(StatusCode::CONFLICT, "conflict", "Conflict")
                        .detail(message.clone());
                    match field {
                        Some(field) => problem.field(field, message),
                        None => problem,
                    }
                }
                AppError::Unauthorized(message) => Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Authentication required",
                )
                .detail(message),
                AppError::Forbidden(message) => {
                    Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").detail(message)
                }
                AppError::TooLarge { field, message } => {
                    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Too large")
                        .detail(message.clone())
                        .field(field, message)
                }
                AppError::TooManyRequests { retry_after } => {
                    let secs = retry_after.as_secs().max(1);
                    let mut response = Problem::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too-many-requests",
                        "Too many requests",
                    )
                    .detail(format!("Try again in {secs} seconds."))
                    .into_response();
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                    return response;
                }
                AppError::Unavailable(cause) => {
                    let mut response = Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "Service temporarily unavailable",
                    )
                    .into_response();
                    // By convention "what is unavailable: why"; the why may name addresses.
                    let what = cause
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    response.extensions_mut().insert(FailureNote::new(
                        domain::error_log::FailureKind::Unavailable,
                        what,
                    ));
                    response.extensions_mut().insert(InternalCause(cause));
                    return response;
                }
                AppError::Internal(fault) => {
                    let mut response = Problem::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "Internal server error",
                    )
                    .detail("Something went wrong on our side; it has been logged.")
                    .into_response();
                    response.extensions_mut().insert(FailureNote::new(
                        domain::error_log::FailureKind::Internal,
                        fault.summary(),
                    ));
                    response
                        .extensions_mut()
                        .insert(InternalCause(fault.cause().to_owned()));
                    return response;
                }
            },
        };
        problem.into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

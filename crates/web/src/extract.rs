//! Request extractors whose rejections are our problem documents, naming the bad field.

use axum::extract::multipart::MultipartError;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use app::runtime::tickets::Upload;

use crate::problem::{ApiError, Problem};

/// A posted `multipart/form-data` body: its text parts in order and its file parts with the
/// name of their field. A file input left empty arrives as a part without file name or bytes;
/// it is dropped.
pub struct MultipartForm {
    pub fields: Vec<(String, String)>,
    pub files: Vec<(String, Upload)>,
}

/// Why a multipart body could not be read.
pub enum MultipartFailure {
    /// Larger than the upload bound (`max_upload_bytes`).
    TooLarge,
    Unreadable(String),
    /// A field name or text field holding U+0000 (files may hold any byte).
    Nul(String),
}

impl MultipartFailure {
    fn of(error: &MultipartError) -> Self {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::TooLarge
        } else {
            Self::Unreadable(error.body_text())
        }
    }

    /// The sentence a page shows.
    pub fn message(&self) -> String {
        match self {
            Self::TooLarge => "The files are too large to send at once.".to_owned(),
            Self::Unreadable(why) => format!("The form could not be read: {why}"),
            Self::Nul(field) => format!("{field}: must not contain the character U+0000"),
        }
    }
}

impl From<MultipartFailure> for ApiError {
    fn from(failure: MultipartFailure) -> Self {
        match failure {
            MultipartFailure::TooLarge => too_large(),
            MultipartFailure::Unreadable(why) => {
                domain::ValidationErrors::single("body", format!("is not readable: {why}")).into()
            }
            MultipartFailure::Nul(field) => {
                domain::ValidationErrors::single(field, "must not contain the character U+0000")
                    .into()
            }
        }
    }
}

fn too_large() -> ApiError {
    ApiError::Request(
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
        )
        .detail("The request body is larger than this server accepts."),
    )
}

impl MultipartForm {
    pub async fn read(request: Request) -> Result<Self, MultipartFailure> {
        let failure = |e: MultipartError| MultipartFailure::of(&e);
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| MultipartFailure::Unreadable(e.body_text()))?;
        let mut out = Self {
            fields: Vec::new(),
            files: Vec::new(),
        };
        while let Some(field) = multipart.next_field().await.map_err(failure)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name.contains('\0') {
                return Err(MultipartFailure::Nul(name.replace('\0', "\\u0000")));
            }
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    if file_name.contains('\0') {
                        return Err(MultipartFailure::Nul(name));
                    }
                    let bytes = field.bytes().await.map_err(failure)?;
                    if !file_name.is_empty() || !bytes.is_empty() {
                        let bytes = bytes.to_vec();
                        out.files.push((name, Upload { file_name, bytes }));
                    }
                }
                None => {
                    let text = field.text().await.map_err(failure)?;
                    if text.contains('\0') {
                        return Err(MultipartFailure::Nul(name));
                    }
                    out.fields.push((name, text));
                }
            }
        }
        Ok(out)
    }

    /// The first text part of that name, or "".
    pub fn value(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The files, whatever their field.
    pub fn into_uploads(self) -> Vec<Upload> {
        self.files.into_iter().map(|(_, upload)| upload).collect()
    }
}

/// JSON body extractor: requires `Content-Type: application/json`, respects the body size
/// limit, and reports deserialisation errors with the path of the offending field.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::Request(
                Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "Unsupported media type",
                )
                .detail("Send the body as JSON with `Content-Type: application/json`."),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::Request(Problem::for_status(status).detail(rejection.body_text()))
            }
        })?;
        parse_json(&bytes).map(AppJson)
    }
}

/// The body as received, bytes untouched (a signature is checked over exactly them),
/// within the body size limit (413 past it).
pub struct RawBody(pub Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::Request(Problem::for_status(status).detail(rejection.body_text()))
                }
            })
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == "application"
                && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
        })
}

/// Parses JSON, turning serde's error into a problem that names the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        let syntax = inner.is_syntax() || inner.is_eof();
        if syntax {
            return ApiError::Request(
                Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
                    .detail(message),
            );
        }
        let (field, message) = domain::validation::name_serde_field(&path, &message);
        ApiError::Request(
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The request has invalid fields",
            )
            .detail(format!("{field}: {message}"))
            .field(field, message),
        )
    })
}

/// Query-string extractor with problem+json rejections.
pub struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| AppQuery(q.0))
            .map_err(|rejection: QueryRejection| {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_owned();
                let field = detail
                    .split(':')
                    .next()
                    .unwrap_or("query")
                    .trim()
                    .to_owned();
                ApiError::Request(
                    Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "validation",
                        "The request has invalid fields",
                    )
                    .detail(detail.clone())
                    .field(field, detail),
                )
            })
    }
}

/// Path extractor with problem+json rejections: a malformed id is a 404, like a missing one.
pub struct AppPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AppPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| AppPath(p.0))
            .map_err(|_: PathRejection| {
                ApiError::Request(
                    Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
                        .detail("No such object, or you may not see it."),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Signup {
        email: String,
        age: u32,
        nested: Option<Nested>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Nested {
        name: String,
    }

    fn field_of(body: &str) -> (u16, String) {
        match parse_json::<Signup>(body.as_bytes()) {
            Err(ApiError::Request(p)) => (
                p.status,
                p.errors
                    .first()
                    .map(|e| e.field.clone())
                    .unwrap_or_default(),
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names_missing_and_mistyped_fields() {
        assert_eq!(field_of(r#"{"age": 3}"#), (422, "email".into()));
        assert_eq!(
            field_of(r#"{"email": "a", "age": "x"}"#),
            (422, "age".into())
        );
        assert_eq!(
            field_of(r#"{"email": "a", "age": 1, "nested": {}}"#),
            (422, "nested.name".into())
        );
        assert_eq!(field_of(r#"{"email": "#), (400, String::new()));
    }
}

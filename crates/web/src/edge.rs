//! What every request must satisfy before any handler sees it, whichever extractor the
//! handler uses: no U+0000 in any text (PostgreSQL's `text` cannot hold it, so it would be a
//! 500 deep in a query, or worse, a write that silently failed), and no JSON body holding
//! more values than the server will parse (a 1 MB body of tiny objects is a tree of hundreds
//! of megabytes once parsed).
//!
//! Query strings and paths are checked here for every request; JSON and form bodies are read
//! here (they are bounded by `limit_body` already) and handed on unchanged. Multipart bodies
//! carry files, which may hold any byte: their field names and text fields are checked by
//! the one multipart reader, `extract::MultipartForm`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::problem::Problem;
use crate::state::WebState;

/// What a JSON body looks like without parsing it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JsonShape {
    /// Values, counted as containers plus separators: an upper bound of what a parser builds.
    pub nodes: usize,
    /// Whether a string (key or value) holds the escape `\u0000`.
    pub has_nul: bool,
}

/// Scans a JSON text once, without allocating. Stops counting past `limit` nodes.
pub fn json_shape(bytes: &[u8], limit: usize) -> JsonShape {
    let mut shape = JsonShape {
        nodes: 1,
        has_nul: false,
    };
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => {
                    if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000") {
                        shape.has_nul = true;
                    }
                    i += 1;
                }
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' | b',' => {
                    shape.nodes += 1;
                    if shape.nodes > limit {
                        return shape;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    shape
}

/// The JSON pointer of the first key or string holding U+0000.
pub fn nul_pointer(value: &Value) -> Option<String> {
    fn escape(token: &str) -> String {
        token.replace('~', "~0").replace('/', "~1")
    }
    match value {
        Value::String(s) => s.contains('\0').then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_pointer(item).map(|rest| format!("/{i}{rest}"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(format!("/{}", escape(&key.replace('\0', "\\u0000"))));
            }
            nul_pointer(item).map(|rest| format!("/{}{rest}", escape(key)))
        }),
        _ => None,
    }
}

/// The name of the first form or query pair whose name or value holds U+0000.
pub fn nul_in_form(encoded: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(encoded).find_map(|(name, value)| {
        (name.contains('\0') || value.contains('\0')).then(|| name.replace('\0', "\\u0000"))
    })
}

/// A refused input: a problem document for the API, a page for the pages.
fn refuse(api: bool, problem: Problem, field: &str, message: &str) -> Response {
    if api {
        problem.field(field, message).into_response()
    } else {
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        crate::pages::kit::layout::refused_input(status, &format!("{field}: {message}"))
    }
}

const NUL_MESSAGE: &str = "must not contain the character U+0000";

fn nul_problem(field: &str) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        "The request has invalid fields",
    )
    .detail(format!("{field}: {NUL_MESSAGE}"))
}

fn media_type(req: &Request) -> Option<mime::Mime> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
}

/// The middleware: refuses U+0000 in the path, the query, JSON and form bodies, and JSON
/// bodies with more values than `max_json_nodes`.
pub async fn inspect_input(State(state): State<WebState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let decoded_path = percent_decoded(req.uri().path());
    if decoded_path.contains('\0') {
        return refuse(api, nul_problem("path"), "path", NUL_MESSAGE);
    }
    if let Some(query) = req.uri().query()
        && let Some(name) = nul_in_form(query.as_bytes())
    {
        return refuse(api, nul_problem(&name), &name, NUL_MESSAGE);
    }
    let Some(kind) = media_type(&req) else {
        return next.run(req).await;
    };
    let json = kind.type_() == "application"
        && (kind.subtype() == "json" || kind.suffix().is_some_and(|s| s == "json"));
    let form = kind.type_() == "application" && kind.subtype() == "x-www-form-urlencoded";
    if !json && !form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => return body_failure(&error),
    };
    if json {
        let shape = json_shape(&bytes, state.max_json_nodes);
        if shape.nodes > state.max_json_nodes {
            let message = format!(
                "holds more than {} values (the server's max_json_nodes)",
                state.max_json_nodes
            );
            let problem = Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            )
            .detail(format!("body: {message}"));
            return refuse(api, problem, "body", &message);
        }
        if shape.has_nul
            && let Ok(value) = serde_json::from_slice::<Value>(&bytes)
            && let Some(at) = nul_pointer(&value)
        {
            // Named like the app's field errors: `platform`, `data/summary`.
            let field = match at.strip_prefix('/') {
                Some(path) => path.to_owned(),
                None => "body".to_owned(),
            };
            return refuse(api, nul_problem(&field), &field, NUL_MESSAGE);
        }
    } else if let Some(name) = nul_in_form(&bytes) {
        return refuse(api, nul_problem(&name), &name, NUL_MESSAGE);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A body that could not be read: too large (413), too slow (408) or broken (400).
fn body_failure(error: &axum::Error) -> Response {
    use std::error::Error as _;
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        }
        if cause.is::<tower_http::timeout::TimeoutError>() {
            return StatusCode::REQUEST_TIMEOUT.into_response();
        }
        source = cause.source();
    }
    StatusCode::BAD_REQUEST.into_response()
}

fn percent_decoded(path: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", path.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_values_and_finds_nul_escapes() {
        let shape = json_shape(br#"{"a": [1, 2, {"k": 3}], "b": "x,y{"}"#, 100);
        assert_eq!(shape.nodes, 7);
        assert!(!shape.has_nul);
        assert!(json_shape(br#"{"a": "x\u0000"}"#, 100).has_nul);
        // An escaped backslash followed by the text u0000 is not NUL.
        assert!(!json_shape(br#"{"a": "\\u0000"}"#, 100).has_nul);
        assert!(json_shape(br#"{"a\u0000": 1}"#, 100).has_nul);
        assert_eq!(json_shape(b"[1,2,3,4,5,6]", 3).nodes, 4);
    }

    #[test]
    fn locates_nul() {
        let value: Value = serde_json::from_str(r#"{"a": [1, {"b/c": "x\u0000"}]}"#).unwrap();
        assert_eq!(nul_pointer(&value).as_deref(), Some("/a/1/b~1c"));
        assert_eq!(
            nul_in_form(b"a=1&platform=web%00").as_deref(),
            Some("platform")
        );
        assert_eq!(nul_in_form(b"a=1&b=2"), None);
        assert!(percent_decoded("/x/%00/y").contains('\0'));
    }
}

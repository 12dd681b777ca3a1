//! Problems found in a design, and the bounded walk that keeps hostile JSON away from every
//! recursive check.
//!
//! Location convention: a problem's `location` is an RFC 6901 JSON pointer into the JSON
//! form of the thing that was checked. For [`super::validate_workflow`] that is the
//! [`super::WorkflowSpec`] (`/tasks/1/output_schema/properties/x`,
//! `/transitions/0/condition/$and/1/amount`), with ticket types rooted at
//! `/ticket_types/<index>` as if they were a `ticket_types` member of the workflow (which is
//! how an export file holds them). The empty string is the whole document.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validation::FieldError;

/// One thing wrong with a design, located so an editor can highlight it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
// `Problem` in the API document is the RFC 9457 error document.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = DesignProblem))]
pub struct Problem {
    /// JSON pointer into the checked document (see the module docs).
    pub location: String,
    /// A sentence a person can act on.
    pub message: String,
}

impl Problem {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }

    /// Re-roots a problem found in a part of a document under that part's pointer.
    pub fn under(mut self, prefix: &str) -> Self {
        self.location.insert_str(0, prefix);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = if self.location.is_empty() {
            "/"
        } else {
            &self.location
        };
        write!(f, "{location}: {}", self.message)
    }
}

impl crate::validation::ValidationErrors {
    /// Design or data problems as field errors, each location put under `prefix` (e.g.
    /// `data` for a submission, `output` for a task's output).
    pub fn from_problems(problems: Vec<Problem>, prefix: &str) -> Self {
        Self(
            problems
                .into_iter()
                .map(|p| FieldError {
                    field: format!("{prefix}{}", p.location),
                    message: p.message,
                })
                .collect(),
        )
    }
}

/// Lets the web layer report design problems through the same problem+json `errors` member
/// as form errors.
impl From<Problem> for FieldError {
    fn from(problem: Problem) -> Self {
        Self {
            field: problem.location,
            message: problem.message,
        }
    }
}

/// Appends one reference token to a JSON pointer, escaped per RFC 6901.
pub(crate) fn pointer(base: &str, token: impl fmt::Display) -> String {
    let token = token.to_string();
    let mut out = String::with_capacity(base.len() + token.len() + 1);
    out.push_str(base);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// Re-roots every problem under `prefix` and appends them to `into`.
pub(crate) fn extend_under(into: &mut Vec<Problem>, prefix: &str, problems: Vec<Problem>) {
    into.extend(problems.into_iter().map(|p| p.under(prefix)));
}

/// Checks nesting depth and value count of untrusted JSON without recursion, calling `visit`
/// on every value within bounds. Values are counted when queued, so the work done is bounded
/// by `max_nodes` even for one huge array. Reports the first value too deep and the count.
pub(crate) fn walk_bounded(
    value: &Value,
    max_depth: usize,
    max_nodes: usize,
    mut visit: impl FnMut(&str, &Value),
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut too_deep = false;
    let mut counted = 1usize;
    let mut stack = vec![(value, 1usize, String::new())];
    while let Some((value, depth, at)) = stack.pop() {
        if depth > max_depth {
            if !too_deep {
                too_deep = true;
                problems.push(Problem::new(
                    at,
                    format!("is nested more than {max_depth} levels deep"),
                ));
            }
            continue;
        }
        visit(&at, value);
        counted += match value {
            Value::Array(items) => items.len(),
            // A field's position is ours, stamped on import, not the designer's to count.
            Value::Object(map) => map.len() - usize::from(map.contains_key(super::order::ORDER)),
            _ => 0,
        };
        if counted > max_nodes {
            problems.push(Problem::new(
                "",
                format!("has more than {max_nodes} JSON values; make it smaller"),
            ));
            break;
        }
        match value {
            Value::Array(items) => stack.extend(
                items
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(i, item)| (item, depth + 1, pointer(&at, i))),
            ),
            Value::Object(map) => stack.extend(
                map.iter()
                    .rev()
                    .map(|(key, item)| (item, depth + 1, pointer(&at, key))),
            ),
            _ => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pointers_escape_tilde_and_slash() {
        assert_eq!(pointer("/a", "b/c~d"), "/a/b~1c~0d");
        assert_eq!(pointer("", 3), "/3");
    }

    #[test]
    fn walk_reports_depth_and_size_once() {
        let deep = json!({"a": {"b": {"c": [1, [2]]}}});
        let problems = walk_bounded(&deep, 3, 100, |_, _| {});
        assert_eq!(
            problems,
            [Problem::new("/a/b/c", "is nested more than 3 levels deep")]
        );
        assert!(walk_bounded(&deep, 6, 100, |_, _| {}).is_empty());

        let wide = json!([1, 2, 3, 4]);
        let problems = walk_bounded(&wide, 10, 3, |_, _| {});
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].location, "");
    }

    #[test]
    fn walk_visits_in_document_order() {
        let mut seen = Vec::new();
        walk_bounded(&json!({"a": [1], "b": 2}), 10, 10, |at, _| {
            seen.push(at.to_owned())
        });
        assert_eq!(seen, ["", "/a", "/a/0", "/b"]);
    }

    #[test]
    fn converts_to_a_field_error() {
        let error = FieldError::from(Problem::new("/title", "is required"));
        assert_eq!(error.field, "/title");
    }
}

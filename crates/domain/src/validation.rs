//! Field-level validation errors. Every check reports all of its problems at once, so a
//! person fixing a form sees every mistake in one round trip; the web layer turns these
//! into the `errors` member of an RFC 9457 problem document.

use serde::Serialize;

/// One problem with one input field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name, or a JSON pointer (`/data/amount`) for nested input.
    pub field: String,
    /// A sentence a person can act on.
    pub message: String,
}

/// Every problem found in one input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{} invalid field(s): {}", .0.len(), summary(.0))]
pub struct ValidationErrors(pub Vec<FieldError>);

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single-field error, for checks that stand alone.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Runs a parser and records its error under `field`, returning the value if it parsed.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was found, otherwise every problem.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// Checks a required free-text field: trimmed, non-empty, at most `max` characters.
pub fn required_text(
    errors: &mut ValidationErrors,
    field: &str,
    value: &str,
    max: usize,
) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.add(field, "is required");
        None
    } else if trimmed.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
        None
    } else {
        Some(trimmed.to_owned())
    }
}

/// Names the field of a serde error: serde reports a missing field at its parent's path,
/// and the message carries a position only useful to a parser.
pub fn name_serde_field(path: &str, message: &str) -> (String, String) {
    let without_position = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    if let Some(rest) = without_position.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        let field = if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return (field, "is required".into());
    }
    let field = if path == "." || path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    (field, without_position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem() {
        let mut errors = ValidationErrors::new();
        assert_eq!(required_text(&mut errors, "name", "  ", 10), None);
        assert_eq!(
            required_text(&mut errors, "title", "x".repeat(11).as_str(), 10),
            None
        );
        assert_eq!(
            required_text(&mut errors, "ok", " fine ", 10),
            Some("fine".into())
        );
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "title"]);
        assert!(errors.into_result().is_err());
    }
}

//! A refused form shown again: what the person typed stays in its inputs (a password never
//! does), and each complaint of the use case sits next to the input it is about, as a
//! sentence. Every page whose form can be refused renders it from its typed values and a
//! [`FieldErrors`]; `form_errors.html` draws the messages.

use std::collections::BTreeMap;

use axum::http::StatusCode;

/// A message as a sentence for a person: capitalised, with a full stop.
pub fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Why a form was refused, by the name of the input each complaint is about; `""` holds
/// what concerns no input of the form (shown at its top).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    /// One complaint about one input (`""`: the whole form).
    pub fn single(field: &str, message: &str) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    /// Adds a complaint, as a sentence, after any the input already has.
    pub fn add(&mut self, field: &str, message: &str) {
        let said = sentence(message);
        if said.is_empty() {
            return;
        }
        let entry = self.0.entry(field.to_owned()).or_default();
        if !entry.is_empty() {
            entry.push(' ');
        }
        entry.push_str(&said);
    }

    /// The complaints about `field`, or nothing.
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// What concerns no input of the form.
    pub fn general(&self) -> &str {
        self.get("")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes that tie an input to its message (` aria-invalid="true"
    /// aria-describedby="<id>-error"`), or nothing when it has none. `field` and `id` are
    /// the template's own literals, so the text is safe to insert unescaped.
    pub fn aria(&self, field: &str, id: &str) -> String {
        if self.has(field) {
            format!(r#" aria-invalid="true" aria-describedby="{id}-error""#)
        } else {
            String::new()
        }
    }
}

/// A refused form: the status to answer with (422 for invalid input, 409 for a clash with
/// what exists) and the complaints by input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub errors: FieldErrors,
}

impl Refusal {
    /// Input the page itself could not read (a date, a number, JSON), refused before any use
    /// case ran.
    pub fn invalid(field: &str, message: &str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: FieldErrors::single(field, message),
        }
    }

    /// Sorts a use case's error onto the form whose input names are `inputs`, when it is one
    /// the person answers by changing what they typed (invalid input, a clash with what
    /// exists); any other error is given back for the usual page.
    pub fn of(error: app::AppError, inputs: &[&str]) -> Result<Self, app::AppError> {
        Self::renamed(error, inputs, &[])
    }

    /// [`Refusal::of`] for a form whose inputs are named otherwise than the use case's
    /// fields: `renames` holds (the use case's field, the form's input).
    pub fn renamed(
        error: app::AppError,
        inputs: &[&str],
        renames: &[(&str, &str)],
    ) -> Result<Self, app::AppError> {
        let (status, complaints) = match error {
            app::AppError::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                errors.0.into_iter().map(|e| (e.field, e.message)).collect(),
            ),
            app::AppError::Conflict { field, message } => (
                StatusCode::CONFLICT,
                vec![(field.unwrap_or_default(), message)],
            ),
            app::AppError::TooLarge { field, message } => {
                (StatusCode::PAYLOAD_TOO_LARGE, vec![(field, message)])
            }
            other => return Err(other),
        };
        let mut errors = FieldErrors::default();
        for (field, message) in complaints {
            let (name, inside) = split_field(&field);
            let name = renames
                .iter()
                .find(|(from, _)| *from == name)
                .map_or(name.as_str(), |(_, to)| to);
            let message = match inside {
                Some(inside) => format!("at {inside}: {message}"),
                None => message,
            };
            if inputs.contains(&name) {
                errors.add(name, &message);
            } else if name.is_empty() {
                errors.add("", &message);
            } else {
                errors.add("", &format!("{}: {message}", name.replace('_', " ")));
            }
        }
        Ok(Self { status, errors })
    }
}

/// A use case's field (`email`) or JSON pointer (`/output_schema/properties/x`) as the input
/// it names (`output_schema`) and where inside that input, if deeper (`/properties/x`).
fn split_field(field: &str) -> (String, Option<String>) {
    let Some(pointer) = field.strip_prefix('/') else {
        return (field.to_owned(), None);
    };
    let unescape = |token: &str| token.replace("~1", "/").replace("~0", "~");
    match pointer.split_once('/') {
        Some((name, rest)) => (unescape(name), Some(format!("/{rest}"))),
        None => (unescape(pointer), None),
    }
}

#[cfg(test)]
mod tests {
    use domain::{FieldError, ValidationErrors};

    use super::*;

    fn invalid(pairs: &[(&str, &str)]) -> app::AppError {
        app::AppError::Validation(ValidationErrors(
            pairs
                .iter()
                .map(|(field, message)| FieldError {
                    field: (*field).to_owned(),
                    message: (*message).to_owned(),
                })
                .collect(),
        ))
    }

    #[test]
    fn sorts_complaints_onto_the_inputs_of_the_form() {
        let refusal = Refusal::renamed(
            invalid(&[
                ("name", "is required"),
                ("/output_schema/properties/x/type", "must be a known type"),
                ("/output_schema", "is required for forms"),
                ("expires_at", "must be in the future"),
                ("company_roles", "no company role named `x`"),
                ("", "is empty"),
            ]),
            &["name", "output_schema", "expires_on"],
            &[("expires_at", "expires_on")],
        )
        .unwrap();
        assert_eq!(refusal.status, StatusCode::UNPROCESSABLE_ENTITY);
        let errors = &refusal.errors;
        assert_eq!(errors.get("name"), "Is required.");
        assert_eq!(
            errors.get("output_schema"),
            "At /properties/x/type: must be a known type. Is required for forms."
        );
        assert_eq!(errors.get("expires_on"), "Must be in the future.");
        assert_eq!(
            errors.general(),
            "Company roles: no company role named `x`. Is empty."
        );
        assert_eq!(
            errors.aria("name", "add-role-name"),
            r#" aria-invalid="true" aria-describedby="add-role-name-error""#
        );
        assert_eq!(errors.aria("description", "add-role-description"), "");
    }

    #[test]
    fn a_conflict_is_a_409_on_its_field_and_other_errors_are_given_back() {
        let clash = app::AppError::Conflict {
            field: Some("name".into()),
            message: "a role with this name already exists".into(),
        };
        let refusal = Refusal::of(clash, &["name"]).unwrap();
        assert_eq!(refusal.status, StatusCode::CONFLICT);
        assert_eq!(
            refusal.errors.get("name"),
            "A role with this name already exists."
        );
        assert!(matches!(
            Refusal::of(app::AppError::NotFound, &["name"]),
            Err(app::AppError::NotFound)
        ));
        assert!(matches!(
            Refusal::of(app::AppError::Forbidden("no".into()), &[]),
            Err(app::AppError::Forbidden(_))
        ));
    }

    #[test]
    fn sentences_are_capitalised_and_end_once() {
        assert_eq!(sentence("is required"), "Is required.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence("  "), "");
        assert_eq!(
            sentence("“Approve?” is required"),
            "“Approve?” is required."
        );
    }
}

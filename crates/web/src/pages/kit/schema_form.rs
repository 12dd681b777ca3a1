//! Forms generated from a JSON Schema, for the ticket submission and the task pages: the
//! schema's top-level properties become inputs, the schema's limits become the browser's
//! validation hints, and the posted form is read back into typed JSON for the app to
//! validate. The app's checks are the real ones; the hints only save a round trip.
//!
//! Field order: JSON objects keep no order once stored, so the fields in `required` come
//! first in that list's order, then the optional ones by name.

use std::collections::HashMap;

use domain::ValidationErrors;
use domain::workflow::order::field_order;
use serde_json::{Map, Number, Value};

use crate::pages::kit::form::sentence;

/// Strings allowed more than this many characters get a text area.
const TEXTAREA_FROM: u64 = 200;

/// One option of a select or one of a group of check boxes.
pub struct FormChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One generated input, ready for `schema_form.html`.
pub struct FormField {
    /// The property's name.
    pub name: String,
    /// The input's name in the posted form: `<prefix>.<name>`.
    pub input_name: String,
    /// A DOM id for the label; property names may hold any character, so not derived
    /// from them.
    pub id: String,
    pub label: String,
    pub hint: String,
    /// `input`, `textarea`, `select`, `checkbox`, `yesno` (a required boolean: two radio
    /// buttons, neither chosen until the person chooses), `checkboxes` or `json`.
    pub control: &'static str,
    /// The `type` of an `input`: text, email, date, url or number.
    pub input_type: &'static str,
    pub required: bool,
    pub value: String,
    pub checked: bool,
    pub options: Vec<FormChoice>,
    /// Browser validation attributes (min, max, step, minlength, maxlength, pattern).
    pub attrs: Vec<(&'static str, String)>,
    /// The app's complaints about this field, joined.
    pub error: String,
}

/// What the person typed, by property name, to show again after a rejected post.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Posted(HashMap<String, Vec<String>>);

impl Posted {
    fn first(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The app's validation errors sorted onto the form: per field, and the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormErrors {
    pub fields: HashMap<String, Vec<String>>,
    /// Errors about the whole form or about other inputs (attachments, say), worded for
    /// the top of the page.
    pub general: Vec<String>,
}

/// The scalar kind a property is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    EnumOne,
    EnumMany,
    /// Anything else (objects, free arrays): edited as JSON text.
    Json,
}

/// A form for the top-level properties of `schema`; inputs are named `<prefix>.<name>`
/// and the app's error pointers `<prefix>/<name>/...` land on the field.
pub struct SchemaForm<'a> {
    prefix: &'a str,
    schema: &'a Value,
}

fn unescape_pointer(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn type_of(def: &Value) -> Option<&str> {
    match def.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

fn kind_of(def: &Value) -> Kind {
    if def.get("enum").is_some_and(Value::is_array) {
        return Kind::EnumOne;
    }
    match type_of(def) {
        Some("string") => Kind::String,
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        Some("array") if def.pointer("/items/enum").is_some_and(Value::is_array) => Kind::EnumMany,
        Some(_) => Kind::Json,
        // No type: most designers mean free text.
        None => Kind::String,
    }
}

/// How an enum member is written in an option's value: strings as they are, anything
/// else as JSON.
fn option_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn text(def: &Value, key: &str) -> String {
    def.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn number_attr(def: &Value, key: &str) -> Option<String> {
    def.get(key)
        .and_then(Value::as_number)
        .map(Number::to_string)
}

impl<'a> SchemaForm<'a> {
    pub fn new(prefix: &'a str, schema: &'a Value) -> Self {
        Self { prefix, schema }
    }

    fn required(&self) -> Vec<&str> {
        self.schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The properties in form order (see the module docs).
    /// The fields in the order the designer wrote them ([`field_order`]).
    fn properties(&self) -> Vec<(&'a str, &'a Value)> {
        let Some(props) = self.schema.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        field_order(self.schema)
            .into_iter()
            .filter_map(|name| props.get_key_value(name))
            .map(|(k, v)| (k.as_str(), v))
            .collect()
    }

    fn input_name(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    /// The inputs to render: with what was posted (after a rejected post) or the schema's
    /// defaults (a fresh form), and the errors next to their fields.
    pub fn fields(&self, posted: Option<&Posted>, errors: &FormErrors) -> Vec<FormField> {
        let required = self.required();
        self.properties()
            .into_iter()
            .enumerate()
            .map(|(i, (name, def))| {
                let kind = kind_of(def);
                let default = def.get("default");
                let value = match posted {
                    Some(p) => p.first(name).unwrap_or_default().to_owned(),
                    None => match (kind, default) {
                        (Kind::Json, Some(d)) => {
                            serde_json::to_string_pretty(d).unwrap_or_default()
                        }
                        (_, Some(d)) => option_text(d),
                        (_, None) => String::new(),
                    },
                };
                let chosen: Vec<String> = match posted {
                    Some(p) if kind == Kind::EnumMany => p.all(name).to_vec(),
                    Some(p) => p.first(name).map(str::to_owned).into_iter().collect(),
                    None => match default {
                        Some(Value::Array(items)) => items.iter().map(option_text).collect(),
                        Some(d) => vec![option_text(d)],
                        None => Vec::new(),
                    },
                };
                let members: &[Value] = match kind {
                    Kind::EnumOne => def.get("enum").and_then(Value::as_array),
                    Kind::EnumMany => def.pointer("/items/enum").and_then(Value::as_array),
                    _ => None,
                }
                .map_or(&[], Vec::as_slice);
                let options = members
                    .iter()
                    .map(|m| {
                        let text = option_text(m);
                        FormChoice {
                            selected: chosen.contains(&text),
                            label: text.clone(),
                            value: text,
                        }
                    })
                    .collect();
                let (mut control, input_type, attrs) = self.control(kind, def);
                // An unticked box would answer "no" for someone who did not answer; a
                // required yes-or-no question waits for an explicit choice.
                if kind == Kind::Boolean && required.contains(&name) {
                    control = "yesno";
                }
                let label = match text(def, "title") {
                    t if t.is_empty() => name.replace('_', " "),
                    t => t,
                };
                FormField {
                    name: name.to_owned(),
                    input_name: self.input_name(name),
                    id: format!("{}-field-{i}", self.prefix),
                    label,
                    hint: text(def, "description"),
                    control,
                    input_type,
                    required: required.contains(&name),
                    checked: match posted {
                        Some(p) => p.first(name).is_some(),
                        None => default == Some(&Value::Bool(true)),
                    },
                    value,
                    options,
                    attrs,
                    error: errors
                        .fields
                        .get(name)
                        .map(|e| e.join(" "))
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    fn control(
        &self,
        kind: Kind,
        def: &Value,
    ) -> (&'static str, &'static str, Vec<(&'static str, String)>) {
        let mut attrs = Vec::new();
        match kind {
            Kind::Integer | Kind::Number => {
                for (key, attr) in [("minimum", "min"), ("maximum", "max")] {
                    if let Some(v) = number_attr(def, key) {
                        attrs.push((attr, v));
                    }
                }
                let step = if kind == Kind::Integer { "1" } else { "any" };
                attrs.push((
                    "step",
                    number_attr(def, "multipleOf").unwrap_or(step.into()),
                ));
                ("input", "number", attrs)
            }
            Kind::String => {
                for (key, attr) in [("minLength", "minlength"), ("maxLength", "maxlength")] {
                    if let Some(v) = number_attr(def, key) {
                        attrs.push((attr, v));
                    }
                }
                let format = def.get("format").and_then(Value::as_str).unwrap_or("");
                let long = def
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|n| n > TEXTAREA_FROM);
                if long || matches!(format, "textarea" | "multiline") {
                    return ("textarea", "", attrs);
                }
                if let Some(pattern) = def.get("pattern").and_then(Value::as_str) {
                    // A schema pattern matches anywhere in the text; the browser's must
                    // match all of it.
                    attrs.push(("pattern", format!(".*(?:{pattern}).*")));
                }
                let input_type = match format {
                    "email" => "email",
                    "date" => "date",
                    "uri" => "url",
                    _ => "text",
                };
                ("input", input_type, attrs)
            }
            Kind::Boolean => ("checkbox", "", attrs),
            Kind::EnumOne => ("select", "", attrs),
            Kind::EnumMany => ("checkboxes", "", attrs),
            Kind::Json => ("json", "", attrs),
        }
    }

    /// Reads the posted form (every name/value pair, in order) back into a JSON object of
    /// the schema's properties, and keeps what was typed for showing the form again.
    /// Numbers are parsed, a check box is true or false, an empty optional field is left
    /// out; text that does not parse stays text, so the schema check names the field.
    pub fn read(&self, pairs: &[(String, String)]) -> (Value, Posted) {
        let mut posted = Posted::default();
        let marker = format!("{}.", self.prefix);
        for (key, value) in pairs {
            if let Some(name) = key.strip_prefix(&marker) {
                posted
                    .0
                    .entry(name.to_owned())
                    .or_default()
                    .push(value.clone());
            }
        }
        let required = self.required();
        let mut out = Map::new();
        for (name, def) in self.properties() {
            let kind = kind_of(def);
            let raw = posted.first(name).unwrap_or_default();
            let value = match kind {
                // A required yes-or-no left unanswered stays out, so the schema names it.
                Kind::Boolean if required.contains(&name) => match raw {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    _ => None,
                },
                Kind::Boolean => Some(Value::Bool(posted.first(name).is_some())),
                Kind::EnumMany => {
                    let members = def
                        .pointer("/items/enum")
                        .and_then(Value::as_array)
                        .map_or(&[][..], Vec::as_slice);
                    let chosen: Vec<Value> = posted
                        .all(name)
                        .iter()
                        .map(|text| {
                            members
                                .iter()
                                .find(|m| &option_text(m) == text)
                                .cloned()
                                .unwrap_or_else(|| Value::String(text.clone()))
                        })
                        .collect();
                    (!chosen.is_empty() || required.contains(&name)).then_some(Value::Array(chosen))
                }
                _ if raw.trim().is_empty() => None,
                Kind::EnumOne => Some(
                    def.get("enum")
                        .and_then(Value::as_array)
                        .and_then(|members| members.iter().find(|m| option_text(m) == raw))
                        .cloned()
                        .unwrap_or_else(|| Value::String(raw.to_owned())),
                ),
                Kind::Integer => Some(
                    raw.trim()
                        .parse::<i64>()
                        .map_or_else(|_| Value::String(raw.to_owned()), Value::from),
                ),
                Kind::Number => Some(
                    raw.trim()
                        .parse::<f64>()
                        .ok()
                        .and_then(Number::from_f64)
                        .map(|n| match n.as_f64() {
                            // 3.0 reads back as 3, so it still passes `"type": "integer"`
                            // checks elsewhere in the workflow.
                            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                                Value::from(f as i64)
                            }
                            _ => Value::Number(n),
                        })
                        .unwrap_or_else(|| Value::String(raw.to_owned())),
                ),
                Kind::Json => Some(
                    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned())),
                ),
                Kind::String => Some(Value::String(raw.to_owned())),
            };
            if let Some(value) = value {
                out.insert(name.to_owned(), value);
            }
        }
        (Value::Object(out), posted)
    }

    /// Sorts the app's validation errors onto the fields, as sentences: `<prefix>/<name>/...`
    /// belongs to field `<name>`; anything else is general, with its field named.
    pub fn errors(&self, errors: &ValidationErrors) -> FormErrors {
        let mut out = FormErrors::default();
        let marker = format!("{}/", self.prefix);
        let known: Vec<&str> = self.properties().into_iter().map(|(n, _)| n).collect();
        for error in &errors.0 {
            let field = error
                .field
                .strip_prefix(&marker)
                .map(|rest| unescape_pointer(rest.split('/').next().unwrap_or_default()))
                .filter(|name| known.contains(&name.as_str()));
            match field {
                Some(name) => out
                    .fields
                    .entry(name)
                    .or_default()
                    .push(sentence(&error.message)),
                None if error.field == self.prefix => out.general.push(sentence(&error.message)),
                None => out.general.push(sentence(&format!(
                    "{}: {}",
                    error.field.replace('_', " "),
                    error.message
                ))),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use domain::validation::FieldError;
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["reason", "amount"],
            "properties": {
                "amount": {"type": "integer", "title": "Amount", "minimum": 1, "maximum": 5000,
                           "description": "In euros"},
                "reason": {"type": "string", "title": "Reason", "minLength": 3, "maxLength": 100,
                           "pattern": "^[A-Za-z ]+$"},
                "details": {"type": "string", "maxLength": 2000},
                "due": {"type": "string", "format": "date"},
                "contact": {"type": "string", "format": "email"},
                "urgent": {"type": "boolean", "title": "Urgent?"},
                "level": {"enum": ["read", "write", 3]},
                "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}},
                "ratio": {"type": "number", "multipleOf": 0.5},
                "extra": {"type": "object", "default": {"k": 1}},
                "site": {"type": ["string", "null"], "format": "uri", "default": "https://x.io"}
            }
        })
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn field<'f>(fields: &'f [FormField], name: &str) -> &'f FormField {
        fields.iter().find(|f| f.name == name).unwrap()
    }

    #[test]
    fn renders_each_property_as_its_input() {
        let schema = schema();
        let form = SchemaForm::new("data", &schema);
        let fields = form.fields(None, &FormErrors::default());
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "reason", "amount", "contact", "details", "due", "extra", "level", "ratio", "site",
                "tags", "urgent"
            ]
        );

        let amount = field(&fields, "amount");
        assert_eq!(
            (amount.control, amount.input_type, amount.required),
            ("input", "number", true)
        );
        assert_eq!(amount.input_name, "data.amount");
        assert_eq!(
            (amount.label.as_str(), amount.hint.as_str()),
            ("Amount", "In euros")
        );
        assert_eq!(
            amount.attrs,
            [
                ("min", "1".to_owned()),
                ("max", "5000".to_owned()),
                ("step", "1".to_owned())
            ]
        );

        let reason = field(&fields, "reason");
        assert_eq!((reason.control, reason.input_type), ("input", "text"));
        assert_eq!(
            reason.attrs,
            [
                ("minlength", "3".to_owned()),
                ("maxlength", "100".to_owned()),
                ("pattern", ".*(?:^[A-Za-z ]+$).*".to_owned())
            ]
        );

        assert_eq!(field(&fields, "details").control, "textarea");
        assert_eq!(field(&fields, "details").label, "details");
        assert_eq!(field(&fields, "due").input_type, "date");
        assert_eq!(field(&fields, "contact").input_type, "email");
        assert_eq!(field(&fields, "site").input_type, "url");
        assert_eq!(field(&fields, "site").value, "https://x.io");
        assert_eq!(field(&fields, "urgent").control, "checkbox");
        assert!(!field(&fields, "urgent").checked);
        let level = field(&fields, "level");
        assert_eq!(level.control, "select");
        let options: Vec<&str> = level.options.iter().map(|o| o.value.as_str()).collect();
        assert_eq!(options, ["read", "write", "3"]);
        assert_eq!(field(&fields, "tags").control, "checkboxes");
        assert_eq!(field(&fields, "tags").options.len(), 3);
        assert_eq!(field(&fields, "ratio").attrs, [("step", "0.5".to_owned())]);
        let extra = field(&fields, "extra");
        assert_eq!(extra.control, "json");
        assert!(extra.value.contains("\"k\": 1"));
        assert!(fields.iter().all(|f| f.error.is_empty()));
    }

    #[test]
    fn reads_the_posted_form_back_into_typed_json() {
        let schema = schema();
        let form = SchemaForm::new("data", &schema);
        let (data, posted) = form.read(&pairs(&[
            ("csrf_token", "x"),
            ("data.amount", " 250 "),
            ("data.reason", "New laptop"),
            ("data.details", ""),
            ("data.urgent", "on"),
            ("data.level", "3"),
            ("data.tags", "a"),
            ("data.tags", "c"),
            ("data.ratio", "1.5"),
            ("data.extra", "{\"k\": [1, 2]}"),
            ("data.unknown", "ignored"),
            ("output.amount", "7"),
        ]));
        assert_eq!(
            data,
            json!({
                "amount": 250, "reason": "New laptop", "urgent": true, "level": 3,
                "tags": ["a", "c"], "ratio": 1.5, "extra": {"k": [1, 2]}
            })
        );
        // Shown again exactly as typed.
        let fields = form.fields(Some(&posted), &FormErrors::default());
        assert_eq!(field(&fields, "amount").value, " 250 ");
        assert!(field(&fields, "urgent").checked);
        assert!(field(&fields, "level").options[2].selected);
        let tags: Vec<bool> = field(&fields, "tags")
            .options
            .iter()
            .map(|o| o.selected)
            .collect();
        assert_eq!(tags, [true, false, true]);
        // Not the default once something was posted.
        assert_eq!(field(&fields, "site").value, "");
    }

    #[test]
    fn unchecked_is_false_empty_is_omitted_and_bad_numbers_stay_text() {
        let schema = schema();
        let form = SchemaForm::new("data", &schema);
        let (data, _) = form.read(&pairs(&[
            ("data.amount", "lots"),
            ("data.reason", ""),
            ("data.ratio", "2.0"),
            ("data.level", ""),
            ("data.extra", "{not json"),
        ]));
        assert_eq!(
            data,
            json!({"amount": "lots", "urgent": false, "ratio": 2, "extra": "{not json"})
        );
    }

    #[test]
    fn sorts_the_apps_errors_onto_the_fields() {
        let schema = schema();
        let form = SchemaForm::new("output", &schema);
        let errors = ValidationErrors(vec![
            FieldError {
                field: "output/reason".into(),
                message: "Reason is required".into(),
            },
            FieldError {
                field: "output/tags/1".into(),
                message: "must be one of: a, b, c".into(),
            },
            FieldError {
                field: "output/amount".into(),
                message: "Amount must be at least 1".into(),
            },
            FieldError {
                field: "output/amount".into(),
                message: "Amount must be a multiple of 2".into(),
            },
            FieldError {
                field: "output".into(),
                message: "must be a JSON object".into(),
            },
            FieldError {
                field: "attachments/0".into(),
                message: "is empty".into(),
            },
            FieldError {
                field: "output/nowhere".into(),
                message: "is not a field of this form".into(),
            },
        ]);
        let sorted = form.errors(&errors);
        assert_eq!(sorted.fields["reason"], ["Reason is required."]);
        assert_eq!(sorted.fields["tags"], ["Must be one of: a, b, c."]);
        assert_eq!(
            sorted.general,
            [
                "Must be a JSON object.",
                "Attachments/0: is empty.",
                "Output/nowhere: is not a field of this form."
            ]
        );
        let fields = form.fields(None, &sorted);
        assert_eq!(
            field(&fields, "amount").error,
            "Amount must be at least 1. Amount must be a multiple of 2."
        );
        assert_eq!(field(&fields, "due").error, "");
    }

    #[derive(askama::Template)]
    #[template(
        source = "{% import \"schema_form.html\" as schema %}{% call schema::fields(fields) %}{% endcall %}",
        ext = "html"
    )]
    struct Rendered {
        fields: Vec<FormField>,
    }

    #[test]
    fn renders_html_with_hints_values_and_errors() {
        use askama::Template;
        let schema = schema();
        let form = SchemaForm::new("data", &schema);
        let (_, posted) = form.read(&pairs(&[
            ("data.amount", "9999999"),
            ("data.reason", "<b>"),
            ("data.urgent", "true"),
            ("data.tags", "b"),
        ]));
        let errors = form.errors(&ValidationErrors(vec![FieldError {
            field: "data/amount".into(),
            message: "Amount must be at most 5000".into(),
        }]));
        let html = Rendered {
            fields: form.fields(Some(&posted), &errors),
        }
        .render()
        .unwrap();
        for expected in [
            r#"<input id="data-field-1" name="data.amount" type="number" value="9999999" min="1" max="5000" step="1" required aria-invalid="true" aria-describedby="data-field-1-error">"#,
            r#"<span class="field-error" id="data-field-1-error">Amount must be at most 5000.</span>"#,
            r#"<span class="hint">In euros</span>"#,
            r#"name="data.reason" type="text" value="&#60;b&#62;" minlength="3" maxlength="100" pattern=".*(?:^[A-Za-z ]+$).*" required>"#,
            r#"<textarea id="data-field-3" name="data.details" rows="4" maxlength="2000"></textarea>"#,
            r#"name="data.due" type="date" value="">"#,
            r#"<input type="checkbox" id="data-field-10" name="data.urgent" value="true" checked> Urgent?</label>"#,
            r#"<input type="checkbox" name="data.tags" value="b" checked> b</label>"#,
            r#"<option value="write">write</option>"#,
        ] {
            assert!(html.contains(expected), "{expected} in\n{html}");
        }
        assert_eq!(html.matches("class=\"field-error\"").count(), 1);
    }

    #[test]
    fn a_schema_without_properties_has_no_fields() {
        let empty = json!({"type": "object"});
        let form = SchemaForm::new("output", &empty);
        assert!(form.fields(None, &FormErrors::default()).is_empty());
        assert_eq!(form.read(&[]).0, json!({}));
        let none = Value::Null;
        assert!(SchemaForm::new("output", &none).read(&[]).0 == json!({}));
    }

    /// A required yes-or-no is two radio buttons with neither chosen: not answering is not
    /// "no" (issue 15, defect 1).
    #[test]
    fn a_required_boolean_waits_for_an_explicit_answer() {
        let schema = json!({
            "type": "object",
            "required": ["approved"],
            "properties": {
                "approved": {"type": "boolean", "title": "Approve?"},
                "urgent": {"type": "boolean"}
            }
        });
        let form = SchemaForm::new("output", &schema);
        let fields = form.fields(None, &FormErrors::default());
        let approved = fields.iter().find(|f| f.name == "approved").unwrap();
        assert_eq!(approved.control, "yesno");
        assert_eq!(approved.value, "");
        let urgent = fields.iter().find(|f| f.name == "urgent").unwrap();
        assert_eq!(urgent.control, "checkbox");

        let (unanswered, _) = form.read(&pairs(&[]));
        assert_eq!(
            unanswered,
            json!({"urgent": false}),
            "no answer is left out"
        );
        let (no, posted) = form.read(&pairs(&[("output.approved", "false")]));
        assert_eq!(no, json!({"approved": false, "urgent": false}));
        let again = form.fields(Some(&posted), &FormErrors::default());
        assert_eq!(
            again.iter().find(|f| f.name == "approved").unwrap().value,
            "false"
        );
        let (yes, _) = form.read(&pairs(&[("output.approved", "true")]));
        assert_eq!(yes["approved"], true);
    }
}

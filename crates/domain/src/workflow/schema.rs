//! JSON Schema 2020-12 for workflow fields, task inputs and outputs and ticket fields: checked
//! when a design is saved, compiled once and reused to validate data at run time.
//!
//! Designers are untrusted, so compilation is locked down:
//! - size and depth are bounded before the schema reaches any recursive code;
//! - `$schema`, when present, must name 2020-12; every draft-specific rule is 2020-12's;
//! - references resolve only inside the document: the `jsonschema` crate is built without its
//!   HTTP and file resolvers and the validator is `offline`, so an external `$ref` is a
//!   compile error, never a fetch;
//! - `pattern`s use the linear-time `regex` engine instead of the backtracking default, so a
//!   pattern cannot make validation of ticket data slow (lookaround and backreferences are
//!   refused);
//! - `format` is asserted (an `"email"` field must hold an email), as designers expect of forms.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, PatternOptions, Validator};
use serde_json::Value;

use super::Limits;
use super::problem::{Problem, pointer, walk_bounded};

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// A schema that passed [`check_schema`], ready to validate many instances.
#[derive(Clone, Debug)]
pub struct CompiledSchema {
    validator: Validator,
    /// The schema itself, for the `title`s that name fields in messages.
    schema: Value,
}

impl CompiledSchema {
    /// Checks and compiles a schema; the problems point into the schema.
    pub fn compile(schema: &Value, limits: &Limits) -> Result<Self, Vec<Problem>> {
        let problems = check_shape(schema, limits);
        if !problems.is_empty() {
            return Err(problems);
        }
        jsonschema::draft202012::options()
            .offline()
            .should_validate_formats(true)
            .with_pattern_options(PatternOptions::regex())
            .build(schema)
            .map(|validator| Self {
                validator,
                schema: schema.clone(),
            })
            .map_err(|error| {
                vec![Problem::new(
                    error.instance_path().as_str(),
                    error.masked().to_string(),
                )]
            })
    }

    /// Every way `instance` breaks the schema, located by JSON pointers into `instance`, in
    /// words for the person who filled the form in (see [`plain_message`]): "must be a web
    /// address (https://…)", not the schema's `value is not a "uri"`, led by the field's
    /// `title` when the schema gives one ("Justification must be at most 200 characters").
    /// Messages never quote the offending value, so they are safe to log and show.
    /// A missing required property, and a property the schema does not allow, is located at
    /// that property, not at the object holding it, so a form can show the message next to
    /// the field.
    pub fn validate(&self, instance: &Value) -> Vec<Problem> {
        let mut problems = Vec::new();
        for error in self.validator.iter_errors(instance) {
            let at = error.instance_path().as_str();
            let holder = parent(error.schema_path().as_str());
            match error.kind() {
                ValidationErrorKind::Required {
                    property: Value::String(property),
                } => {
                    let field = pointer(at, property);
                    let title = self
                        .title_at(&pointer(&pointer(holder, "properties"), property))
                        .or_else(|| self.top_level_title(&field));
                    problems.push(Problem::new(field, titled(title, "is required")));
                }
                ValidationErrorKind::AdditionalProperties { unexpected }
                | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                    problems.extend(
                        unexpected
                            .iter()
                            .map(|name| Problem::new(pointer(at, name), NOT_A_FIELD)),
                    );
                }
                kind => {
                    let message = plain_message(kind).unwrap_or_else(|| error.masked().to_string());
                    let title = self.title_at(holder).or_else(|| self.top_level_title(at));
                    problems.push(Problem::new(at, titled(title, &message)));
                }
            }
        }
        problems
    }

    /// The `title` of the subschema at `location` (a JSON pointer into the schema).
    fn title_at(&self, location: &str) -> Option<&str> {
        self.schema
            .pointer(location)
            .and_then(|s| s.get("title"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// The title of a top-level property when `at` is one (`/name`): a property whose
    /// schema is a `$ref` is judged at the referenced schema, which may have no title.
    fn top_level_title(&self, at: &str) -> Option<&str> {
        let name = at.strip_prefix('/').filter(|n| !n.contains('/'))?;
        self.title_at(&pointer("/properties", unescape(name)))
    }

    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }
}

/// Said of a member the schema does not allow.
const NOT_A_FIELD: &str = "is not a field of this form";

/// The pointer to what holds the last token of `location` (`/properties/a/format` →
/// `/properties/a`).
fn parent(location: &str) -> &str {
    location.rfind('/').map_or("", |at| &location[..at])
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// A message led by the field's title: "Justification must be …". A title that asks a
/// question ("Approve?") is quoted, so it still reads as a name.
fn titled(title: Option<&str>, message: &str) -> String {
    match title.map(|t| t.trim_end_matches([':', ' '])) {
        None | Some("") => message.to_owned(),
        Some(title) if title.ends_with(['?', '!', '.']) => format!("“{title}” {message}"),
        Some(title) => format!("{title} {message}"),
    }
}

/// `n` things, singular when one.
fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A value of the schema (a limit, a choice) as a person reads it: text as it is, anything
/// else as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a JSON type is called in a form.
fn type_name(kind: JsonType) -> &'static str {
    match kind {
        JsonType::Null => "empty",
        JsonType::Boolean => "yes or no",
        JsonType::Integer => "a whole number",
        JsonType::Number => "a number",
        JsonType::String => "text",
        JsonType::Array => "a list",
        JsonType::Object => "a group of fields",
    }
}

/// What a `format` asks for, in words, with an example where one helps.
fn format_message(format: &str) -> String {
    let wanted = match format {
        "uri" | "iri" => "a web address (https://…)",
        "uri-reference" | "iri-reference" => "a web address or a path",
        "uri-template" => "a web address template",
        "email" | "idn-email" => "an email address (name@example.com)",
        "date" => "a date (YYYY-MM-DD)",
        "date-time" => "a date and time (YYYY-MM-DDThh:mm:ssZ)",
        "time" => "a time with its offset (hh:mm:ssZ or hh:mm:ss+01:00)",
        "duration" => "a duration (such as P3D or PT2H30M)",
        "hostname" | "idn-hostname" => "a host name (such as example.com)",
        "ipv4" => "an IPv4 address (such as 192.0.2.1)",
        "ipv6" => "an IPv6 address (such as 2001:db8::1)",
        "uuid" => "a UUID (such as 123e4567-e89b-12d3-a456-426614174000)",
        "json-pointer" => "a JSON pointer (such as /a/b)",
        "relative-json-pointer" => "a relative JSON pointer (such as 0/a)",
        "regex" => "a regular expression",
        other => return format!("must be in the {other} format"),
    };
    format!("must be {wanted}")
}

/// Choices listed for a person: the first ten, then how many more.
fn choices(options: &Value) -> String {
    const SHOWN: usize = 10;
    let all = options.as_array().map_or(&[][..], Vec::as_slice);
    let mut listed: Vec<String> = all.iter().take(SHOWN).map(shown).collect();
    if all.len() > SHOWN {
        listed.push(format!("or {} more", all.len() - SHOWN));
    }
    listed.join(", ")
}

/// A schema rule's complaint in plain language, without the field's name ("must be at most
/// 200 characters"); `None` for the rules a form never meets (custom keywords, reference
/// failures), which keep the validator's own wording.
pub fn plain_message(kind: &ValidationErrorKind) -> Option<String> {
    use ValidationErrorKind as K;
    Some(match kind {
        K::Required { .. } => "is required".into(),
        K::Format { format } => format_message(format),
        K::MaxLength { limit } => format!(
            "must be at most {}",
            count(*limit, "character", "characters")
        ),
        K::MinLength { limit: 1 } => "must not be empty".into(),
        K::MinLength { limit } => format!(
            "must be at least {}",
            count(*limit, "character", "characters")
        ),
        K::Enum { options } => format!("must be one of: {}", choices(options)),
        K::Constant { expected_value } => format!("must be {}", shown(expected_value)),
        K::Type { kind } => {
            let names: Vec<&str> = match kind {
                TypeKind::Single(one) => vec![type_name(*one)],
                TypeKind::Multiple(set) => set.iter().map(type_name).collect(),
            };
            format!("must be {}", names.join(" or "))
        }
        K::Minimum { limit } => format!("must be at least {}", shown(limit)),
        K::Maximum { limit } => format!("must be at most {}", shown(limit)),
        K::ExclusiveMinimum { limit } => format!("must be more than {}", shown(limit)),
        K::ExclusiveMaximum { limit } => format!("must be less than {}", shown(limit)),
        K::MultipleOf { multiple_of } => format!("must be a multiple of {multiple_of}"),
        K::Pattern { .. } => "is not in the expected format".into(),
        K::MinItems { limit } => format!("must have at least {}", count(*limit, "item", "items")),
        K::MaxItems { limit } => format!("must have at most {}", count(*limit, "item", "items")),
        K::UniqueItems => "must not list the same item twice".into(),
        K::Contains => "must include at least one item of the expected kind".into(),
        K::AdditionalItems { .. } | K::UnevaluatedItems { .. } => {
            "has more items than allowed".into()
        }
        K::MinProperties { limit } => {
            format!("must have at least {}", count(*limit, "field", "fields"))
        }
        K::MaxProperties { limit } => {
            format!("must have at most {}", count(*limit, "field", "fields"))
        }
        K::AdditionalProperties { .. } | K::UnevaluatedProperties { .. } => {
            "has fields that are not part of this form".into()
        }
        K::PropertyNames { .. } => "has a field name that is not allowed".into(),
        K::AnyOf { .. } | K::OneOfNotValid { .. } => {
            "does not match any of the allowed forms".into()
        }
        K::OneOfMultipleValid { .. } => {
            "matches more than one of the allowed forms, where exactly one must match".into()
        }
        K::Not { .. } | K::FalseSchema => "is not allowed here".into(),
        K::ContentEncoding { content_encoding } => format!("must be encoded as {content_encoding}"),
        K::FromUtf8 { .. } => "must be text encoded as UTF-8".into(),
        K::ContentMediaType { content_media_type } => {
            format!("must be {content_media_type} content")
        }
        _ => return None,
    })
}

/// Every problem with a schema, located by JSON pointers into the schema.
pub fn check_schema(schema: &Value, limits: &Limits) -> Vec<Problem> {
    CompiledSchema::compile(schema, limits)
        .err()
        .unwrap_or_default()
}

/// Compiles `schema` and validates one instance: `Err` holds the schema's problems, `Ok` the
/// instance's. Compile once with [`CompiledSchema`] when validating many instances.
pub fn validate(
    schema: &Value,
    instance: &Value,
    limits: &Limits,
) -> Result<Vec<Problem>, Vec<Problem>> {
    CompiledSchema::compile(schema, limits).map(|compiled| compiled.validate(instance))
}

/// Whether a pointer lies inside a keyword whose value is instance data rather than a schema,
/// where a `$ref` member is just data. A property named like one of these keywords is skipped
/// too; the offline compiler still refuses an external reference there.
fn in_instance_data(at: &str) -> bool {
    at.split('/')
        .any(|token| matches!(token, "const" | "enum" | "default" | "examples"))
}

/// The names of the schema's top-level `properties`: the fields an object instance has.
pub fn top_level_fields(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every top-level member of `data` that the schema does not declare, when the schema says
/// nothing about other members (no `additionalProperties`, `unevaluatedProperties` or
/// `patternProperties`): JSON Schema would accept them, but a form's fields are what it
/// declares, and an undeclared member is at best a typo and at worst a payload to store,
/// copy and index. A schema that wants open data says so with `additionalProperties`.
pub fn undeclared_fields(schema: &Value, data: &Value) -> Vec<Problem> {
    let open = [
        "additionalProperties",
        "unevaluatedProperties",
        "patternProperties",
    ]
    .iter()
    .any(|keyword| schema.get(keyword).is_some());
    let Some(members) = data.as_object().filter(|_| !open) else {
        return Vec::new();
    };
    let declared = schema.get("properties").and_then(Value::as_object);
    members
        .keys()
        .filter(|key| !declared.is_some_and(|d| d.contains_key(*key)))
        .map(|key| Problem::new(pointer("", key), NOT_A_FIELD))
        .collect()
}

/// The checks that must pass before the meta-schema validator or the compiler see the schema.
fn check_shape(schema: &Value, limits: &Limits) -> Vec<Problem> {
    let mut found = Vec::new();
    let mut problems = walk_bounded(
        schema,
        limits.max_schema_depth,
        limits.max_schema_nodes,
        |at, value| {
            let properties = value.get("properties").and_then(Value::as_object);
            if properties.is_some_and(|p| p.len() > limits.max_schema_properties) {
                found.push(Problem::new(
                    pointer(at, "properties"),
                    format!("has more than {} properties", limits.max_schema_properties),
                ));
            }
            for keyword in ["$ref", "$dynamicRef"] {
                let target = value.get(keyword).and_then(Value::as_str);
                if target.is_some_and(|t| !t.starts_with('#')) && !in_instance_data(at) {
                    found.push(Problem::new(
                        pointer(at, keyword),
                        "must refer inside this schema (start with #): external schemas are never fetched",
                    ));
                }
            }
        },
    );
    if !problems.is_empty() {
        return problems;
    }
    problems.append(&mut found);
    let declared = schema
        .get("$schema")
        .map(|d| d.as_str().map(|s| s.trim_end_matches('#')));
    if declared.is_some_and(|d| d != Some(DRAFT_2020_12)) {
        problems.push(Problem::new(
            "/$schema",
            format!("only JSON Schema 2020-12 (\"{DRAFT_2020_12}\") is supported"),
        ));
    }
    let meta = jsonschema::draft202012::meta::validator();
    problems.extend(meta.iter_errors(schema).map(|error| {
        let at = error.instance_path().as_str();
        let message = match error.kind() {
            // The meta-schema's rule for `type` is an `anyOf` of a name and a list of names.
            ValidationErrorKind::AnyOf { .. } if at == "/type" || at.ends_with("/type") => {
                "must be one of the types string, number, integer, boolean, object, array or null, or a list of them".to_owned()
            }
            kind => plain_message(kind).unwrap_or_else(|| error.masked().to_string()),
        };
        Problem::new(at, message)
    }));
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn locations(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.location.as_str()).collect()
    }

    #[test]
    fn accepts_a_form_schema() {
        let schema = json!({
            "$schema": DRAFT_2020_12,
            "type": "object",
            "required": ["amount"],
            "properties": {
                "amount": {"type": "number", "minimum": 0},
                "email": {"type": "string", "format": "email"},
                "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}}
            },
            "$defs": {"line": {"type": "object", "properties": {"sku": {"pattern": "^[A-Z]+$"}}}}
        });
        assert_eq!(check_schema(&schema, &Limits::default()), []);
        assert_eq!(top_level_fields(&schema), ["amount", "email", "lines"]);
    }

    #[test]
    fn reports_every_meta_schema_problem() {
        let schema = json!({
            "type": "strin",
            "properties": {"a": {"minimum": "zero"}, "b": {"required": "yes"}}
        });
        let problems = check_schema(&schema, &Limits::default());
        let found = locations(&problems);
        for expected in ["/type", "/properties/a/minimum", "/properties/b/required"] {
            assert!(found.contains(&expected), "{expected} in {problems:?}");
        }
    }

    /// A designer's schema mistakes are said in words too.
    #[test]
    fn schema_mistakes_read_in_plain_language() {
        let schema = json!({
            "type": "strin",
            "properties": {"a": {"minimum": "zero"}, "b": {"required": "yes"}}
        });
        let mut problems = check_schema(&schema, &Limits::default());
        problems.sort_by(|a, b| a.location.cmp(&b.location));
        assert_eq!(
            problems,
            [
                Problem::new("/properties/a/minimum", "must be a number"),
                Problem::new("/properties/b/required", "must be a list"),
                Problem::new(
                    "/type",
                    "must be one of the types string, number, integer, boolean, object, array or null, or a list of them"
                ),
            ]
        );
    }

    #[test]
    fn refuses_external_references_and_other_drafts() {
        for reference in [
            "https://example.com/s.json",
            "file:///etc/passwd",
            "other.json",
        ] {
            let schema = json!({"properties": {"a": {"$ref": reference}}});
            let problems = check_schema(&schema, &Limits::default());
            assert_eq!(locations(&problems), ["/properties/a/$ref"], "{reference}");
            // The compiler refuses it too when the pre-check cannot see it.
            let hidden = json!({"properties": {"default": {"$ref": reference}}});
            assert!(!check_schema(&hidden, &Limits::default()).is_empty());
        }
        let data = json!({"const": {"$ref": "https://example.com"}});
        assert_eq!(check_schema(&data, &Limits::default()), []);
        let draft7 = json!({"$schema": "http://json-schema.org/draft-07/schema#"});
        assert_eq!(
            locations(&check_schema(&draft7, &Limits::default())),
            ["/$schema"]
        );
    }

    #[test]
    fn refuses_backtracking_patterns() {
        let schema = json!({"pattern": "^(a+)+(?=b)$"});
        assert!(!check_schema(&schema, &Limits::default()).is_empty());
    }

    #[test]
    fn bounds_size_depth_and_properties() {
        let limits = Limits {
            max_schema_depth: 4,
            max_schema_properties: 2,
            ..Limits::default()
        };
        let deep = json!({"properties": {"a": {"properties": {"b": {}}}}});
        assert_eq!(
            locations(&check_schema(&deep, &limits)),
            ["/properties/a/properties/b"]
        );
        let wide = json!({"properties": {"a": {}, "b": {}, "c": {}}});
        assert_eq!(locations(&check_schema(&wide, &limits)), ["/properties"]);
        let huge = json!({"enum": (0..10_000).collect::<Vec<_>>()});
        assert_eq!(locations(&check_schema(&huge, &Limits::default())), [""]);
    }

    /// The message for one field's schema and value (the only problem found).
    fn message_for(field: Value, value: Value) -> String {
        let schema = json!({"type": "object", "properties": {"f": field}});
        let compiled = CompiledSchema::compile(&schema, &Limits::default()).unwrap();
        let problems = compiled.validate(&json!({ "f": value }));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].location, "/f", "{problems:?}");
        problems[0].message.clone()
    }

    /// Every rule a form meets is said in words, never in the schema's terms (issue 15,
    /// defect 9): one case per keyword translated.
    #[test]
    fn each_rule_reads_in_plain_language() {
        // One line per case reads as the table it is.
        #[rustfmt::skip]
        let cases = [
            (json!({"format": "uri"}), json!("not a link"), "must be a web address (https://…)"),
            (json!({"format": "iri"}), json!("no"), "must be a web address (https://…)"),
            (json!({"format": "uri-reference"}), json!("a b\\c"), "must be a web address or a path"),
            (json!({"format": "email"}), json!("nobody"), "must be an email address (name@example.com)"),
            (json!({"format": "date"}), json!("31/12/2026"), "must be a date (YYYY-MM-DD)"),
            (json!({"format": "date-time"}), json!("today"), "must be a date and time (YYYY-MM-DDThh:mm:ssZ)"),
            (json!({"format": "time"}), json!("noon"), "must be a time with its offset (hh:mm:ssZ or hh:mm:ss+01:00)"),
            (json!({"format": "duration"}), json!("3 days"), "must be a duration (such as P3D or PT2H30M)"),
            (json!({"format": "hostname"}), json!("-bad-.example"), "must be a host name (such as example.com)"),
            (json!({"format": "ipv4"}), json!("300.1.1.1"), "must be an IPv4 address (such as 192.0.2.1)"),
            (json!({"format": "ipv6"}), json!("::g"), "must be an IPv6 address (such as 2001:db8::1)"),
            (json!({"format": "uuid"}), json!("123"), "must be a UUID (such as 123e4567-e89b-12d3-a456-426614174000)"),
            (json!({"format": "json-pointer"}), json!("a/b"), "must be a JSON pointer (such as /a/b)"),
            (json!({"format": "regex"}), json!("(unclosed"), "must be a regular expression"),
            (json!({"maxLength": 200}), json!("x".repeat(201)), "must be at most 200 characters"),
            (json!({"maxLength": 1}), json!("xy"), "must be at most 1 character"),
            (json!({"minLength": 5}), json!("ok"), "must be at least 5 characters"),
            (json!({"minLength": 1}), json!(""), "must not be empty"),
            (json!({"enum": ["a", "b", "c"]}), json!("d"), "must be one of: a, b, c"),
            (json!({"enum": (1..=12).collect::<Vec<_>>()}), json!(13), "must be one of: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, or 2 more"),
            (json!({"const": "yes"}), json!("no"), "must be yes"),
            (json!({"type": "integer"}), json!("lots"), "must be a whole number"),
            (json!({"type": "number"}), json!("lots"), "must be a number"),
            (json!({"type": "string"}), json!(3), "must be text"),
            (json!({"type": "boolean"}), json!("yes"), "must be yes or no"),
            (json!({"type": "array"}), json!("a"), "must be a list"),
            (json!({"type": "object"}), json!("a"), "must be a group of fields"),
            (json!({"type": ["string", "null"]}), json!(1), "must be empty or text"),
            (json!({"minimum": 1}), json!(0), "must be at least 1"),
            (json!({"maximum": 10000}), json!(10001), "must be at most 10000"),
            (json!({"exclusiveMinimum": 0}), json!(0), "must be more than 0"),
            (json!({"exclusiveMaximum": 1.5}), json!(1.5), "must be less than 1.5"),
            (json!({"multipleOf": 0.5}), json!(0.7), "must be a multiple of 0.5"),
            (json!({"pattern": "^[A-Z]+$"}), json!("abc"), "is not in the expected format"),
            (json!({"minItems": 1}), json!([]), "must have at least 1 item"),
            (json!({"maxItems": 2}), json!([1, 2, 3]), "must have at most 2 items"),
            (json!({"uniqueItems": true}), json!([1, 1]), "must not list the same item twice"),
            (json!({"contains": {"const": 1}}), json!([2]), "must include at least one item of the expected kind"),
            (json!({"prefixItems": [{}], "unevaluatedItems": false}), json!([1, 2]), "has more items than allowed"),
            (json!({"minProperties": 2}), json!({"a": 1}), "must have at least 2 fields"),
            (json!({"maxProperties": 1}), json!({"a": 1, "b": 2}), "must have at most 1 field"),
            (json!({"propertyNames": {"maxLength": 1}}), json!({"long": 1}), "has a field name that is not allowed"),
            (json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}), json!(1.5), "does not match any of the allowed forms"),
            (json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}), json!(1.5), "does not match any of the allowed forms"),
            (json!({"oneOf": [{"type": "number"}, {"type": "integer"}]}), json!(1), "matches more than one of the allowed forms, where exactly one must match"),
            (json!({"not": {"type": "string"}}), json!("a"), "is not allowed here"),
            (json!(false), json!("a"), "is not allowed here"),
        ];
        let mut wrong = Vec::new();
        for (field, value, expected) in cases {
            let got = message_for(field.clone(), value);
            if got != expected {
                wrong.push(format!("{field}: {got:?}, not {expected:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// A field's title leads the message; a title asking a question is quoted; the
    /// location stays the JSON pointer.
    #[test]
    fn messages_name_the_field_by_its_title() {
        let schema = json!({
            "type": "object",
            "required": ["justification", "approve", "code"],
            "properties": {
                "justification": {"type": "string", "title": "Justification", "maxLength": 5},
                "site": {"type": "string", "title": "Site", "format": "uri"},
                "approve": {"type": "boolean", "title": "Approve?"},
                "code": {"type": "string"},
                "lines": {"type": "array", "title": "Lines", "items": {"$ref": "#/$defs/line"}},
                "main": {"$ref": "#/$defs/line", "title": "Main line"}
            },
            "$defs": {"line": {"type": "integer", "minimum": 1}}
        });
        let compiled = CompiledSchema::compile(&schema, &Limits::default()).unwrap();
        let mut problems = compiled.validate(&json!({
            "justification": "far too long", "site": "nowhere", "lines": [1, 0], "main": 0
        }));
        problems.sort_by(|a, b| a.location.cmp(&b.location));
        let said: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.location.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                ("/approve", "“Approve?” is required"),
                ("/code", "is required"),
                (
                    "/justification",
                    "Justification must be at most 5 characters"
                ),
                ("/lines/1", "must be at least 1"),
                ("/main", "Main line must be at least 1"),
                ("/site", "Site must be a web address (https://…)"),
            ],
            "{problems:?}"
        );
        // A schema that says nothing of other members lets them through the validator;
        // `undeclared_fields` names them in the same words.
        let closed = json!({"type": "object", "properties": {}, "additionalProperties": false});
        let compiled = CompiledSchema::compile(&closed, &Limits::default()).unwrap();
        assert_eq!(
            compiled.validate(&json!({"a": 1, "b": 2})),
            [
                Problem::new("/a", "is not a field of this form"),
                Problem::new("/b", "is not a field of this form")
            ]
        );
    }

    #[test]
    fn validates_instances_with_pointers() {
        let schema = json!({
            "type": "object",
            "required": ["name"],
            "properties": {"age": {"type": "integer"}, "email": {"format": "email"}}
        });
        let compiled = CompiledSchema::compile(&schema, &Limits::default()).unwrap();
        let problems = compiled.validate(&json!({"age": "old", "email": "nope"}));
        let mut found = locations(&problems);
        found.sort();
        assert_eq!(found, ["/age", "/email", "/name"]);
        assert!(problems.contains(&Problem::new("/name", "is required")));
        assert!(compiled.is_valid(&json!({"name": "x", "age": 3})));
        assert_eq!(
            validate(&schema, &json!({"name": "x"}), &Limits::default()),
            Ok(vec![])
        );
        assert!(validate(&json!({"type": 3}), &json!(1), &Limits::default()).is_err());
    }
}

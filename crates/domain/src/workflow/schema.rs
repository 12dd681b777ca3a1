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

use jsonschema::error::ValidationErrorKind;
use jsonschema::{PatternOptions, Validator};
use serde_json::Value;

use super::Limits;
use super::problem::{Problem, pointer, walk_bounded};

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// A schema that passed [`check_schema`], ready to validate many instances.
#[derive(Clone, Debug)]
pub struct CompiledSchema {
    validator: Validator,
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
            .map(|validator| Self { validator })
            .map_err(|error| {
                vec![Problem::new(
                    error.instance_path().as_str(),
                    error.masked().to_string(),
                )]
            })
    }

    /// Every way `instance` breaks the schema, located by JSON pointers into `instance`.
    /// Messages name the rule, never the offending value, so they are safe to log and show.
    /// A missing required property is located at that property, not at the object holding
    /// it, so a form can show the message next to the field left empty.
    pub fn validate(&self, instance: &Value) -> Vec<Problem> {
        self.validator
            .iter_errors(instance)
            .map(|error| match error.kind() {
                ValidationErrorKind::Required {
                    property: Value::String(property),
                } => Problem::new(
                    pointer(error.instance_path().as_str(), property),
                    "is required",
                ),
                _ => Problem::new(error.instance_path().as_str(), error.masked().to_string()),
            })
            .collect()
    }

    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }
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
        .map(|key| {
            Problem::new(
                pointer("", key),
                "is not a field of this form (the schema does not declare it)",
            )
        })
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
    problems.extend(
        meta.iter_errors(schema)
            .map(|error| Problem::new(error.instance_path().as_str(), error.masked().to_string())),
    );
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

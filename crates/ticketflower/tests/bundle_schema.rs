#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `examples/bundles/bundle.schema.json` describes the bundle format truthfully: it is a schema
//! the domain itself accepts, the example bundles and what the server exports from them
//! validate against it, and what it refuses the server refuses too.

use app::design::{Bundle, read_bundle};
use domain::workflow::{CompiledSchema, Limits, check_schema};
use serde_json::{Value, json};

const SCHEMA: &str = include_str!("../../../examples/bundles/bundle.schema.json");
const EXAMPLES: [(&str, &str); 2] = [
    (
        "it-access-request.yaml",
        include_str!("../../../examples/bundles/it-access-request.yaml"),
    ),
    (
        "document-review.yaml",
        include_str!("../../../examples/bundles/document-review.yaml"),
    ),
];

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("bundle.schema.json is JSON")
}

fn compiled() -> CompiledSchema {
    CompiledSchema::compile(&schema(), &Limits::default()).expect("the schema compiles")
}

fn example(name: &str) -> Value {
    let (_, text) = EXAMPLES.iter().find(|(n, _)| *n == name).unwrap();
    serde_yaml_ng::from_str(text).expect("the example is YAML")
}

/// Where the schema finds problems in `document`.
fn schema_locations(schema: &CompiledSchema, document: &Value) -> Vec<String> {
    schema
        .validate(document)
        .into_iter()
        .map(|p| p.location)
        .collect()
}

/// Whether the server refuses `document`: serde cannot read it, or validation finds problems.
fn server_refuses(document: &Value) -> bool {
    match read_bundle(document.clone()) {
        Err(_) => true,
        Ok(bundle) => !bundle.problems(&Limits::default()).is_empty(),
    }
}

/// `document` with the member at `at` (a JSON pointer) set to `value`, or removed for `None`.
fn edited(document: &Value, at: &str, value: Option<Value>) -> Value {
    let mut document = document.clone();
    let (parent, name) = at.rsplit_once('/').unwrap();
    let parent = document.pointer_mut(parent).expect("the parent exists");
    match (parent, value) {
        (Value::Object(map), Some(value)) => {
            map.insert(name.to_owned(), value);
        }
        (Value::Object(map), None) => {
            map.remove(name).expect("the member exists");
        }
        (Value::Array(items), Some(value)) => items[name.parse::<usize>().unwrap()] = value,
        _ => panic!("cannot edit {at}"),
    }
    document
}

#[test]
fn the_schema_is_one_the_domain_accepts() {
    let schema = schema();
    assert_eq!(check_schema(&schema, &Limits::default()), []);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["$id"],
        "https://ticketflower.dev/schemas/bundle.schema.json"
    );
    for name in ["task", "transition", "ticket_type", "ext_ref"] {
        assert!(schema["$defs"][name].is_object(), "$defs/{name}");
    }
}

#[test]
fn every_property_is_described() {
    fn walk(at: &str, value: &Value, missing: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                // `properties` inside `if`/`then`/`oneOf` only restate a rule for the property.
                let conditional = ["/if", "/then", "/oneOf"]
                    .iter()
                    .any(|part| at.contains(part));
                if let Some(Value::Object(properties)) = map.get("properties")
                    && !conditional
                {
                    for (name, property) in properties {
                        if property.get("description").is_none() {
                            missing.push(format!("{at}/properties/{name}"));
                        }
                    }
                }
                for (key, child) in map {
                    walk(&format!("{at}/{key}"), child, missing);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(&format!("{at}/{i}"), child, missing);
                }
            }
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk("", &schema(), &mut missing);
    assert_eq!(missing, Vec::<String>::new());
}

#[test]
fn the_example_bundles_validate() {
    let schema = compiled();
    for (name, _) in EXAMPLES {
        let document = example(name);
        assert_eq!(schema.validate(&document), [], "{name}");
        // The server agrees.
        let bundle = read_bundle(document).unwrap();
        assert_eq!(bundle.problems(&Limits::default()), [], "{name}");
    }
}

#[test]
fn exported_bundles_validate() {
    let schema = compiled();
    for (name, _) in EXAMPLES {
        let bundle: Bundle = read_bundle(example(name)).unwrap();
        // The export writes every defaulted member, and `from_task: null` for start transitions.
        let exported = serde_json::to_value(&bundle).unwrap();
        assert!(exported["transitions"][0]["from_task"].is_null(), "{name}");
        assert_eq!(schema.validate(&exported), [], "{name} as JSON");
        let yaml = serde_yaml_ng::to_string(&bundle).unwrap();
        let reread: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(schema.validate(&reread), [], "{name} as YAML");
    }
}

#[test]
fn invalid_bundles_are_refused_like_the_server_refuses_them() {
    let schema = compiled();
    let base = example("it-access-request.yaml");
    // The edited document, and where the schema must report the problem.
    let cases = [
        (edited(&base, "/owner", Some(json!("me"))), ""),
        (
            edited(&base, "/tasks/0/task_type", Some(json!("MANUAL"))),
            "/tasks/0/task_type",
        ),
        (
            edited(&base, "/transitions/0/key", Some(json!("start here"))),
            "/transitions/0/key",
        ),
        (edited(&base, "/title", Some(json!("  "))), "/title"),
        (
            edited(&base, "/tasks/0/assignment", Some(json!("round_robin"))),
            "/tasks/0/assignment",
        ),
        (
            edited(
                &base,
                "/tasks/1/assignment",
                Some(json!({"completer_of": "manager_approval", "and": "me"})),
            ),
            "/tasks/1/assignment",
        ),
        (
            edited(
                &base,
                "/tasks/1/assignment",
                Some(json!({"completer_of": 7})),
            ),
            "/tasks/1/assignment",
        ),
        // A form is its output schema.
        (edited(&base, "/tasks/0/output_schema", None), "/tasks/0"),
        // Actions need a URL (http or https) and a timeout within the limits.
        (edited(&base, "/tasks/2/timeout_seconds", None), "/tasks/2"),
        (
            edited(&base, "/tasks/2/timeout_seconds", Some(json!(301))),
            "/tasks/2/timeout_seconds",
        ),
        (
            edited(
                &base,
                "/tasks/2/action_url",
                Some(json!("ftp://iam.example.com/grants")),
            ),
            "/tasks/2/action_url",
        ),
        (
            edited(&base, "/tasks/2/output_transform/grant_id", Some(json!(1))),
            "/tasks/2/output_transform/grant_id",
        ),
        // Exactly one of to_task and to_status.
        (
            edited(&base, "/transitions/0/to_status", Some(json!("DONE"))),
            "/transitions/0",
        ),
        (
            edited(&base, "/transitions/0/to_task", None),
            "/transitions/0",
        ),
        (
            edited(&base, "/transitions/3/to_status", Some(json!("rejected"))),
            "/transitions/3/to_status",
        ),
        (
            edited(&base, "/transitions/1/condition", Some(json!([]))),
            "/transitions/1/condition",
        ),
        (
            edited(&base, "/ticket_types/0/fields", None),
            "/ticket_types/0",
        ),
    ];
    for (i, (document, location)) in cases.iter().enumerate() {
        let found = schema_locations(&schema, document);
        assert!(
            // A missing member is located at the member itself, inside `location`.
            found
                .iter()
                .any(|at| at == location || at.starts_with(&format!("{location}/"))),
            "case {i}: expected a problem at `{location}`, found {found:?}"
        );
        assert!(server_refuses(document), "case {i}: the server accepts it");
    }
}

#[test]
fn what_serde_allows_the_schema_allows() {
    let schema = compiled();
    let base = example("document-review.yaml");
    // Optional members may be null.
    let lenient = [
        edited(&base, "/transitions/0/from_task", Some(Value::Null)),
        edited(&base, "/transitions/1/to_task", Some(Value::Null)),
        edited(&base, "/transitions/0/condition", Some(Value::Null)),
        edited(&base, "/tasks/0/action_url", Some(Value::Null)),
        edited(&base, "/tasks/0/input_schema", Some(Value::Null)),
        // The edit may go to whoever did the review instead of the requester.
        edited(
            &base,
            "/tasks/0/assignment",
            Some(json!({"completer_of": "review"})),
        ),
    ];
    // The author revises their own document.
    assert_eq!(base["tasks"][0]["key"], "edit");
    assert_eq!(base["tasks"][0]["assignment"], "requester");
    for (i, document) in lenient.iter().enumerate() {
        assert_eq!(schema.validate(document), [], "case {i}");
        let bundle = read_bundle(document.clone()).unwrap();
        assert_eq!(bundle.problems(&Limits::default()), [], "case {i}");
    }
    // A misspelt member is refused by both, not silently dropped.
    let typo = edited(
        &base,
        "/tasks/0/output_shema",
        Some(json!({"type": "object"})),
    );
    assert!(!schema.validate(&typo).is_empty());
    assert!(read_bundle(typo).is_err());
    // A minimal bundle: only the title is required (though publishing needs a graph).
    let minimal = json!({"title": "Empty"});
    assert_eq!(schema.validate(&minimal), []);
    assert!(read_bundle(minimal).is_ok());
}

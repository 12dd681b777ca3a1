//! The OpenAPI document (`ticketflower_web::openapi()`, served at `/api/openapi.json`) against the rules a
//! client or a fuzzer relies on: path templates and path parameters agree, query filters
//! are query parameters, and every operation documents the errors it answers, as problem
//! documents. `tests/api/fuzz_api.rs` (in the `ticketflower` crate) checks the document
//! against the running server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::collections::BTreeSet;

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "options", "head", "trace",
];

fn document() -> Value {
    serde_json::to_value(ticketflower_web::openapi()).expect("the document serializes")
}

/// Every operation as (`METHOD path`, path, the path item, the operation).
fn operations(doc: &Value) -> Vec<(String, String, Value, Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                out.push((
                    format!("{} {path}", method.to_uppercase()),
                    path.clone(),
                    item.clone(),
                    operation.clone(),
                ));
            }
        }
    }
    assert!(!out.is_empty(), "the document has no operations");
    out
}

/// The `{name}`s of a path template.
fn template_variables(path: &str) -> BTreeSet<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// The parameters of an operation, with those of its path item.
fn parameters(item: &Value, operation: &Value) -> Vec<Value> {
    [&item["parameters"], &operation["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .cloned()
        .collect()
}

fn statuses(operation: &Value) -> BTreeSet<u16> {
    operation["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .filter_map(|k| k.parse().ok())
        .collect()
}

fn is_secured(operation: &Value) -> bool {
    operation["security"]
        .as_array()
        .is_some_and(|s| !s.is_empty())
}

/// Fails with every offence at once, so one run shows the whole list.
fn assert_none(what: &str, offences: Vec<String>) {
    assert!(
        offences.is_empty(),
        "{what} ({}):\n  {}",
        offences.len(),
        offences.join("\n  ")
    );
}

#[test]
fn every_path_template_variable_is_a_required_path_parameter() {
    let doc = document();
    let mut offences = Vec::new();
    for (name, path, item, operation) in operations(&doc) {
        let declared: Vec<Value> = parameters(&item, &operation)
            .into_iter()
            .filter(|p| p["in"] == "path")
            .collect();
        for variable in template_variables(&path) {
            match declared.iter().find(|p| p["name"] == variable.as_str()) {
                None => offences.push(format!("{name}: `{{{variable}}}` is not declared")),
                Some(p) if p["required"] != true => {
                    offences.push(format!("{name}: `{variable}` is not required"));
                }
                Some(_) => {}
            }
        }
    }
    assert_none("undeclared path parameters", offences);
}

#[test]
fn only_template_variables_are_path_parameters() {
    let doc = document();
    let mut offences = Vec::new();
    for (name, path, item, operation) in operations(&doc) {
        let variables = template_variables(&path);
        for parameter in parameters(&item, &operation) {
            let pname = parameter["name"].as_str().unwrap_or_default();
            if parameter["in"] == "path" && !variables.contains(pname) {
                offences.push(format!(
                    "{name}: `{pname}` is `in: path` but not in the path"
                ));
            }
        }
    }
    assert_none("parameters wrongly in the path", offences);
}

#[test]
fn ids_in_paths_are_uuids() {
    let doc = document();
    let mut offences = Vec::new();
    for (name, _, item, operation) in operations(&doc) {
        for parameter in parameters(&item, &operation) {
            if parameter["in"] == "path"
                && (parameter["schema"]["type"] != "string"
                    || parameter["schema"]["format"] != "uuid")
            {
                offences.push(format!("{name}: `{}` is no uuid", parameter["name"]));
            }
        }
    }
    assert_none("path parameters that are not uuids", offences);
}

#[test]
fn every_operation_documents_a_client_error() {
    let doc = document();
    let offences = operations(&doc)
        .into_iter()
        .filter(|(_, _, _, operation)| !statuses(operation).iter().any(|s| (400..500).contains(s)))
        .map(|(name, ..)| name)
        .collect();
    assert_none("operations without a documented 4xx", offences);
}

#[test]
fn error_answers_are_problem_documents() {
    let doc = document();
    let mut offences = Vec::new();
    for (name, _, _, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let code: u16 = status.parse().unwrap_or(0);
            if code < 400 {
                continue;
            }
            let content = response["content"].as_object();
            let mut types: Vec<&String> = content.map(|c| c.keys().collect()).unwrap_or_default();
            // The readiness probe answers 503 with its own report too, by design.
            if name == "GET /readyz" && code == 503 {
                types.retain(|t| *t != "application/json");
            }
            let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
            if types.len() != 1 || schema != "#/components/schemas/Problem" {
                offences.push(format!("{name} {status}: {types:?}, schema {schema}"));
            }
        }
    }
    assert_none("error answers that are not problem documents", offences);
}

/// The answers every operation of its kind can give, whatever it does (see
/// `ErrorResponses` in `lib.rs`).
#[test]
fn the_common_errors_are_documented() {
    let doc = document();
    let mut offences = Vec::new();
    for (name, path, item, operation) in operations(&doc) {
        let have = statuses(&operation);
        let api = path.starts_with("/api/");
        let changes = !name.starts_with("GET ");
        let mut want = vec![413, 503];
        if api {
            want.push(422);
        }
        if is_secured(&operation) {
            want.push(401);
        }
        if is_secured(&operation) && !matches!(path.as_str(), "/api/v1/me" | "/api/v1/me/logins")
            || api && changes
        {
            want.push(403);
        }
        if parameters(&item, &operation)
            .iter()
            .any(|p| p["in"] == "path")
        {
            want.push(404);
        }
        if let Some(content) = operation["requestBody"]["content"].as_object() {
            want.push(408);
            if content.contains_key("application/json") {
                want.push(400);
                if path != "/api/v1/auth/logout" {
                    want.push(415);
                }
            }
        }
        let missing: Vec<u16> = want.into_iter().filter(|s| !have.contains(s)).collect();
        if !missing.is_empty() {
            offences.push(format!("{name}: {missing:?}"));
        }
    }
    assert_none("operations missing common errors", offences);
}

#[test]
fn throttled_operations_document_429() {
    let doc = document();
    let throttled = [
        "POST /api/v1/signup",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/password-reset",
        "POST /api/v1/auth/password-reset/confirm",
        "POST /api/v1/register",
    ];
    let ops = operations(&doc);
    let offences = throttled
        .iter()
        .filter(|wanted| {
            !ops.iter()
                .any(|(name, _, _, op)| name == *wanted && statuses(op).contains(&429))
        })
        .map(|s| (*s).to_owned())
        .collect();
    assert_none("throttled operations without 429", offences);
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = BTreeSet::new();
    let offences = operations(&doc)
        .into_iter()
        .filter_map(|(name, _, _, op)| {
            let id = op["operationId"].as_str()?.to_owned();
            (!seen.insert(id.clone())).then(|| format!("{name}: {id}"))
        })
        .collect();
    assert_none("repeated operation ids", offences);
}

#[test]
fn every_reference_names_a_schema_of_the_document() {
    let doc = document();
    let mut offences = Vec::new();
    fn walk(doc: &Value, value: &Value, at: &str, offences: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                    let name = target.trim_start_matches("#/components/");
                    let mut node = &doc["components"];
                    for part in name.split('/') {
                        node = &node[part];
                    }
                    if node.is_null() {
                        offences.push(format!("{at}: {target}"));
                    }
                }
                for (key, inner) in map {
                    walk(doc, inner, &format!("{at}/{key}"), offences);
                }
            }
            Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    walk(doc, inner, &format!("{at}/{i}"), offences);
                }
            }
            _ => {}
        }
    }
    walk(&doc, &doc, "", &mut offences);
    assert_none("references to schemas the document lacks", offences);
}

/// Whether a schema says what its object holds: a `$ref` to a named schema, an object with
/// properties, a list of such, or a non-object (a string, bytes).
fn describes_its_shape(doc: &Value, schema: &Value) -> bool {
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.trim_start_matches("#/components/schemas/");
        return describes_its_shape(doc, &doc["components"]["schemas"][name]);
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        if let Some(parts) = schema[combinator].as_array() {
            return parts.iter().all(|part| describes_its_shape(doc, part));
        }
    }
    match schema["type"].as_str() {
        Some("object") => {
            schema["properties"]
                .as_object()
                .is_some_and(|p| !p.is_empty())
                || schema["additionalProperties"].is_object()
        }
        Some("array") => describes_its_shape(doc, &schema["items"]),
        Some(_) => true,
        // No type: `{}` says nothing, a type list (`["object", "null"]`) is read as its parts.
        None => schema["type"].is_array() && schema["properties"].is_object(),
    }
}

#[test]
fn every_success_answer_has_a_typed_body() {
    let doc = document();
    let mut offences = Vec::new();
    for (name, _, _, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            if !status.starts_with('2') || status == "204" {
                continue;
            }
            let Some(content) = response["content"].as_object() else {
                // A 202 may acknowledge with nothing to say, as `POST /auth/password-reset`
                // does (an empty body, the same for every email); it has no body to describe.
                if status != "202" {
                    offences.push(format!("{name} {status}: no body described"));
                }
                continue;
            };
            for (media, body) in content {
                if !describes_its_shape(&doc, &body["schema"]) {
                    offences.push(format!("{name} {status} {media}: {}", body["schema"]));
                }
            }
        }
    }
    assert_none("2xx answers whose body is a bare object", offences);
}

/// The values serde writes for these variants.
fn spellings<T: serde::Serialize>(variants: &[T]) -> BTreeSet<String> {
    variants
        .iter()
        .map(|v| serde_json::to_string(v).expect("a variant serializes"))
        .collect()
}

/// Enums are documented as serde spells them: a rename the derive cannot see would document
/// the Rust names, and every real answer would break the document.
#[test]
fn enum_schemas_are_spelled_as_serialized() {
    use domain::company::CompanyStatus;
    use domain::user::UserStatus;
    use domain::workflow::{
        TaskStatus, TaskType, WorkflowErrorStatus, WorkflowErrorType, WorkflowRunStatus,
    };
    let doc = document();
    let expected = [
        ("TaskStatus", spellings(TaskStatus::ALL)),
        ("WorkflowRunStatus", spellings(WorkflowRunStatus::ALL)),
        ("WorkflowErrorType", spellings(WorkflowErrorType::ALL)),
        ("WorkflowErrorStatus", spellings(WorkflowErrorStatus::ALL)),
        ("SystemRole", spellings(&domain::SystemRole::ALL)),
        (
            "TaskType",
            spellings(&[TaskType::Form, TaskType::SyncAction, TaskType::AsyncAction]),
        ),
        (
            "UserStatus",
            spellings(&[UserStatus::Active, UserStatus::Pending, UserStatus::Blocked]),
        ),
        (
            "CompanyStatus",
            spellings(&[CompanyStatus::Active, CompanyStatus::Suspended]),
        ),
    ];
    let mut offences = Vec::new();
    for (name, serialized) in expected {
        let documented: BTreeSet<String> = doc["components"]["schemas"][name]["enum"]
            .as_array()
            .map(|values| values.iter().map(Value::to_string).collect())
            .unwrap_or_default();
        if documented != serialized {
            offences.push(format!(
                "{name}: documented {documented:?}, serialized {serialized:?}"
            ));
        }
    }
    assert_none("enums documented unlike their JSON", offences);
}

/// An assignment is a strategy's name or `{"completer_of": <task key>}`, and the document
/// says both, as serde writes them.
#[test]
fn assignment_strategies_are_documented_as_serialized() {
    use domain::workflow::AssignmentStrategy;
    let doc = document();
    let schema = &doc["components"]["schemas"]["AssignmentStrategy"];
    let members = schema["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("not a oneOf: {schema}"));
    let names: BTreeSet<String> = members
        .iter()
        .filter_map(|m| m["enum"].as_array())
        .flatten()
        .map(Value::to_string)
        .collect();
    assert_eq!(
        names,
        spellings(&[
            AssignmentStrategy::AutoShortestQueue,
            AssignmentStrategy::Claim,
            AssignmentStrategy::Manual,
            AssignmentStrategy::Requester,
        ]),
        "{schema}"
    );
    let completer = serde_json::to_value(AssignmentStrategy::CompleterOf("review".into()))
        .expect("a variant serializes");
    let object = members
        .iter()
        .find(|m| m["properties"]["completer_of"].is_object())
        .unwrap_or_else(|| panic!("no completer_of member: {schema}"));
    assert_eq!(
        object["properties"]["completer_of"]["type"], "string",
        "{schema}"
    );
    assert_eq!(
        object["required"],
        serde_json::json!(["completer_of"]),
        "{schema}"
    );
    assert_eq!(completer, serde_json::json!({"completer_of": "review"}));
}

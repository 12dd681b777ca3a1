//! Workflow design over HTTP: bundles (the two examples, round trips, mistakes, hostile
//! uploads), object CRUD with save-time checks, publishing and version pinning, roles, and
//! tenant isolation.

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{TestApp, json, spawn_app};

use crate::common::{
    Admin, EXAMPLE_ROLES, PASSWORD, add_roles, create_user, login_ok, send, signup,
};

const IT_ACCESS: &str = include_str!("../../../../examples/bundles/it-access-request.yaml");
const DOC_REVIEW: &str = include_str!("../../../../examples/bundles/document-review.yaml");

async fn post_yaml(app: &TestApp, path: &str, token: &str, yaml: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get_authed(path, token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    json(response).await
}

async fn import(app: &TestApp, token: &str, yaml: &str) -> Value {
    let response = post_yaml(app, "/api/v1/design/bundles", token, yaml).await;
    let status = response.status();
    let body = json(response).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// How many design objects the company has, of every kind.
async fn object_count(app: &TestApp, token: &str) -> usize {
    let mut total = 0;
    for kind in ["workflows", "tasks", "transitions", "ticket-types"] {
        total += get(app, &format!("/api/v1/design/{kind}"), token).await["items"]
            .as_array()
            .unwrap()
            .len();
    }
    total
}

fn fields_of(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn example_bundles_import_publish_and_round_trip() {
    let app = spawn_app().await;
    let admin = designer_company(&app, "Acme", "ada@acme.io").await;
    for yaml in [IT_ACCESS, DOC_REVIEW] {
        let dry = app
            .client
            .post(app.url("/api/v1/design/bundles?dry_run=true"))
            .bearer_auth(&admin.access)
            .header("content-type", "application/yaml")
            .body(yaml)
            .send()
            .await
            .unwrap();
        assert_eq!(dry.status(), 200);
        assert_eq!(json(dry).await["valid"], true);
        let before = object_count(&app, &admin.access).await;
        let created = import(&app, &admin.access, yaml).await;
        let id = created["workflow_id"].as_str().unwrap().to_owned();
        assert!(!created["task_ids"].as_object().unwrap().is_empty());
        assert_eq!(created["ticket_type_ids"].as_object().unwrap().len(), 1);
        assert!(object_count(&app, &admin.access).await > before);

        let exported = get(
            &app,
            &format!("/api/v1/design/workflows/{id}/bundle"),
            &admin.access,
        )
        .await;
        // Export → import → export is identical.
        let again = send(
            &app,
            Method::POST,
            "/api/v1/design/bundles",
            &admin.access,
            Some(exported.clone()),
        )
        .await;
        assert_eq!(again.status(), 201);
        let again_id = json(again).await["workflow_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let re_exported = get(
            &app,
            &format!("/api/v1/design/workflows/{again_id}/bundle"),
            &admin.access,
        )
        .await;
        assert_eq!(exported, re_exported);
        // YAML export reads back to the same document.
        let yaml = app
            .get_authed(
                &format!("/api/v1/design/workflows/{id}/bundle?format=yaml"),
                &admin.access,
            )
            .await
            .text()
            .await
            .unwrap();
        let from_yaml: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(from_yaml, exported);

        let published = send(
            &app,
            Method::POST,
            &format!("/api/v1/design/workflows/{id}/publish"),
            &admin.access,
            None,
        )
        .await;
        assert_eq!(published.status(), 200);
        let detail = get(
            &app,
            &format!("/api/v1/design/workflows/{id}"),
            &admin.access,
        )
        .await;
        assert_eq!(detail["status"], "ACTIVE");
        assert_eq!(detail["active_version"], detail["version"]);
        assert!(detail["problems"].as_array().unwrap().is_empty());
        for task in detail["tasks"].as_array().unwrap() {
            assert_eq!(task["status"], "ACTIVE");
        }

        let svg = app
            .get_authed(
                &format!("/api/v1/design/workflows/{id}/graph.svg"),
                &admin.access,
            )
            .await;
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        let svg = svg.text().await.unwrap();
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
        let mermaid = app
            .get_authed(
                &format!("/api/v1/design/workflows/{id}/graph.mmd"),
                &admin.access,
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(mermaid.contains("flowchart"), "{mermaid}");
    }
}

#[tokio::test]
async fn a_bundle_with_mistakes_reports_every_one_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = designer_company(&app, "Acme", "ada@acme.io").await;
    let broken = IT_ACCESS
        .replace("to_task: manager_approval", "to_task: manager_aproval")
        .replace(
            "level: { $in: [write, admin] }",
            "level: { $between: [write, admin] }",
        )
        .replace(
            "action_url: https://iam.example.com/grants",
            "action_url: ftp://iam.example.com/grants",
        );
    let response = post_yaml(&app, "/api/v1/design/bundles", &admin.access, &broken).await;
    assert_eq!(response.status(), 422);
    let problem = json(response).await;
    let fields = fields_of(&problem);
    assert!(
        fields.iter().any(|f| f == "/transitions/0/to_task"),
        "{fields:?}"
    );
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("/transitions/1/condition")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f == "/tasks/2/action_url"),
        "{fields:?}"
    );
    assert_eq!(object_count(&app, &admin.access).await, 0);

    // Unknown fields are named too, not silently dropped.
    let typo = DOC_REVIEW.replace("ticket_types:", "ticket_typos:");
    let response = post_yaml(&app, "/api/v1/design/bundles", &admin.access, &typo).await;
    assert_eq!(response.status(), 422);
    assert!(json(response).await.to_string().contains("ticket_typos"));
}

#[tokio::test]
async fn granting_a_role_the_company_lacks_is_refused_where_it_is_named() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let path = "/api/v1/design/bundles?dry_run=true";
    let response = post_yaml(&app, path, &admin.access, DOC_REVIEW).await;
    assert_eq!(response.status(), 422);
    let fields = fields_of(&json(response).await);
    assert_eq!(fields, ["/tasks/1/company_role_access/0"]);

    add_roles(&app, &admin.access, &["reviewers"]).await;
    let response = post_yaml(&app, path, &admin.access, DOC_REVIEW).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    // The same check on save, for a task and a ticket type.
    let created = import(&app, &admin.access, DOC_REVIEW).await;
    let workflow_id = created["workflow_id"].as_str().unwrap();
    for (kind, body) in [
        (
            "tasks",
            json!({"workflow_id": workflow_id, "name": "Sign", "task_type": "FORM",
                   "output_schema": {"type": "object"}, "company_role_access": ["reviewers", "legal"]}),
        ),
        (
            "ticket-types",
            json!({"workflow_id": workflow_id, "title": "Other", "fields": {"type": "object"},
                   "company_role_access": ["legal"]}),
        ),
    ] {
        let path = format!("/api/v1/design/{kind}");
        let response = send(&app, Method::POST, &path, &admin.access, Some(body.clone())).await;
        assert_eq!(response.status(), 422, "{kind}");
        let problem = json(response).await;
        let fields = fields_of(&problem);
        let bad = if kind == "tasks" { 1 } else { 0 };
        assert_eq!(fields, [format!("/company_role_access/{bad}")], "{kind}");
        assert!(
            problem
                .to_string()
                .contains("no company role named `legal`")
        );
    }
    add_roles(&app, &admin.access, &["legal"]).await;
    let body = json!({"workflow_id": workflow_id, "title": "Other", "fields": {"type": "object"},
                      "company_role_access": ["legal"]});
    let response = send(
        &app,
        Method::POST,
        "/api/v1/design/ticket-types",
        &admin.access,
        Some(body),
    )
    .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn hostile_bundles_get_4xx_and_leave_no_trace() {
    let app = spawn_app().await;
    let admin = designer_company(&app, "Acme", "ada@acme.io").await;
    let base: Value = serde_yaml_ng::from_str(IT_ACCESS).unwrap();
    let mut hostile: Vec<(String, Vec<u8>)> = Vec::new();
    for depth in [50, 200, 1_000] {
        let mut condition = json!({ "approved": true });
        for _ in 0..depth {
            condition = json!({ "$not": condition });
        }
        let mut doc = base.clone();
        doc["transitions"][1]["condition"] = condition;
        hostile.push((
            "application/json".into(),
            serde_json::to_vec(&doc).unwrap_or_default(),
        ));
        let mut schema = json!({ "type": "string" });
        for _ in 0..depth {
            schema = json!({ "type": "object", "properties": { "x": schema } });
        }
        let mut doc = base.clone();
        doc["fields"] = schema;
        hostile.push((
            "application/json".into(),
            serde_json::to_vec(&doc).unwrap_or_default(),
        ));
    }
    // Deeper than the test itself could build as a `Value`: written as text.
    for depth in [5_000, 20_000, 100_000] {
        let condition = format!(
            "{}{{\"approved\": true}}{}",
            "{\"$not\": ".repeat(depth),
            "}".repeat(depth)
        );
        let text = serde_json::to_string(&base).unwrap().replacen(
            "\"condition\":{\"approved\":true,\"level\":{\"$in\":[\"write\",\"admin\"]}}",
            &format!("\"condition\":{condition}"),
            1,
        );
        hostile.push(("application/json".into(), text.into_bytes()));
        let yaml = format!(
            "title: deep\nfields: {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        hostile.push(("application/yaml".into(), yaml.into_bytes()));
    }
    for size in [500, 5_000, 50_000] {
        let mut doc = base.clone();
        doc["tasks"] = Value::Array(vec![doc["tasks"][0].clone(); size]);
        hostile.push(("application/json".into(), serde_json::to_vec(&doc).unwrap()));
        let mut doc = base.clone();
        doc["transitions"][1]["condition"] =
            json!({ "level": { "$in": vec!["x"; size] }, "approved": true });
        doc["transitions"][1]["condition"]["$or"] =
            Value::Array(vec![json!({"approved": true}); size]);
        hostile.push(("application/json".into(), serde_json::to_vec(&doc).unwrap()));
    }
    for op in [
        "$where",
        "$regex",
        "$expr",
        "$function",
        "$text",
        "$mod",
        "$all",
        "$size",
        "$type",
        "$elemMatch",
    ] {
        for at in 1..=4 {
            let mut doc = base.clone();
            doc["transitions"][at]["condition"] = json!({ "level": { op: "x" } });
            hostile.push(("application/json".into(), serde_json::to_vec(&doc).unwrap()));
            let yaml = serde_yaml_ng::to_string(&doc).unwrap();
            hostile.push(("application/yaml".into(), yaml.into_bytes()));
        }
    }
    let mut invalid_utf8 = IT_ACCESS.as_bytes().to_vec();
    invalid_utf8.splice(10..10, [0xff, 0xfe, 0xc3]);
    for content_type in ["application/json", "application/yaml"] {
        hostile.push((content_type.into(), invalid_utf8.clone()));
        hostile.push((content_type.into(), vec![0x80; 64]));
        hostile.push((
            content_type.into(),
            b"{\"title\": \"\xed\xa0\x80\"}".to_vec(),
        ));
    }
    // YAML alias bombs and deep flow collections.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, next) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        bomb.push_str(&format!("{next}: &{next} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    hostile.push(("application/yaml".into(), bomb.into_bytes()));
    hostile.push(("application/yaml".into(), "[".repeat(10_000).into_bytes()));
    hostile.push(("application/json".into(), "[".repeat(10_000).into_bytes()));
    hostile.push(("application/json".into(), b"[]".to_vec()));
    hostile.push(("application/json".into(), b"null".to_vec()));
    hostile.push(("application/json".into(), b"{\"title\": 7}".to_vec()));
    hostile.push(("text/html".into(), b"<h1>hi</h1>".to_vec()));
    hostile.push(("application/json".into(), vec![b' '; 3 * 1024 * 1024]));
    while hostile.len() < 100 {
        let mut doc = base.clone();
        let n = hostile.len();
        doc["tasks"][n % 3]["key"] = json!(format!("bad key {n} / ~"));
        hostile.push(("application/json".into(), serde_json::to_vec(&doc).unwrap()));
    }
    assert!(hostile.len() >= 100);
    for (i, (content_type, body)) in hostile.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let response = app
            .client
            .post(app.url("/api/v1/design/bundles"))
            .bearer_auth(&admin.access)
            .header("content-type", content_type.clone())
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_client_error(),
            "hostile bundle {i} ({content_type}): {status}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "hostile bundle {i} was slow"
        );
    }
    assert_eq!(object_count(&app, &admin.access).await, 0);
}

/// A company signed up with the roles the example bundles name.
async fn designer_company(app: &TestApp, name: &str, email: &str) -> Admin {
    let admin = signup(app, name, email).await;
    add_roles(app, &admin.access, &EXAMPLE_ROLES).await;
    admin
}

async fn designer(app: &TestApp) -> Admin {
    designer_company(app, "Acme", "ada@acme.io").await
}

async fn create(app: &TestApp, token: &str, kind: &str, body: Value) -> Value {
    let response = send(
        app,
        Method::POST,
        &format!("/api/v1/design/{kind}"),
        token,
        Some(body),
    )
    .await;
    let status = response.status();
    let value = json(response).await;
    assert_eq!(status, 201, "{value}");
    value
}

#[tokio::test]
async fn objects_are_checked_on_save_and_the_graph_on_publish() {
    let app = spawn_app().await;
    let admin = designer(&app).await;
    let token = &admin.access;
    let workflow = create(&app, token, "workflows", json!({
        "title": "Laptop request",
        "fields": { "type": "object", "properties": { "model": { "type": "string" }, "ok": { "type": "boolean" } } }
    })).await;
    let wf = workflow["id"].as_str().unwrap().to_owned();
    assert_eq!(workflow["status"], "DRAFT");
    assert_eq!(workflow["version"], 1);

    // A bad schema is refused with the pointer of the problem.
    let bad = send(
        &app,
        Method::POST,
        "/api/v1/design/tasks",
        token,
        Some(json!({
            "workflow_id": wf, "name": "Approve", "task_type": "FORM",
            "output_schema": { "type": "object", "properties": { "ok": { "type": "nonsense" } } }
        })),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let fields = fields_of(&json(bad).await);
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("/output_schema/properties/ok")),
        "{fields:?}"
    );
    // A form needs an output schema; an action an http(s) URL and a bounded timeout.
    let bad = send(
        &app,
        Method::POST,
        "/api/v1/design/tasks",
        token,
        Some(json!({
            "workflow_id": wf, "name": "Approve", "task_type": "FORM"
        })),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let bad = send(
        &app,
        Method::POST,
        "/api/v1/design/tasks",
        token,
        Some(json!({
            "workflow_id": wf, "name": "Order", "task_type": "SYNC_ACTION",
            "action_url": "file:///etc/passwd", "timeout_seconds": 100000
        })),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let fields = fields_of(&json(bad).await);
    assert!(
        fields.contains(&"/action_url".to_owned())
            && fields.contains(&"/timeout_seconds".to_owned()),
        "{fields:?}"
    );
    // The server's fields cannot be set.
    let bad = send(&app, Method::POST, "/api/v1/design/tasks", token, Some(json!({
        "workflow_id": wf, "name": "Approve", "task_type": "FORM", "status": "ACTIVE", "company_id": admin.company_id,
        "output_schema": { "type": "object", "properties": { "ok": { "type": "boolean" } } }
    }))).await;
    assert_eq!(bad.status(), 422);

    let task = create(
        &app,
        token,
        "tasks",
        json!({
            "workflow_id": wf, "name": "Approve", "task_type": "FORM",
            "output_schema": { "type": "object", "properties": { "ok": { "type": "boolean" } } }
        }),
    )
    .await;
    assert_eq!(task["key"], "approve");
    let task_id = task["id"].as_str().unwrap().to_owned();

    // Publishing an incomplete graph lists every problem at once.
    let refused = send(
        &app,
        Method::POST,
        &format!("/api/v1/design/workflows/{wf}/publish"),
        token,
        None,
    )
    .await;
    assert_eq!(refused.status(), 422);
    let problems = fields_of(&json(refused).await);
    assert!(problems.len() >= 2, "{problems:?}");

    // A transition's condition must parse and use known fields.
    let bad = send(&app, Method::POST, "/api/v1/design/transitions", token, Some(json!({
        "workflow_id": wf, "from_task": task_id, "to_status": "DONE", "condition": { "ok": { "$near": 1 } }
    }))).await;
    assert_eq!(bad.status(), 422);
    let bad = send(&app, Method::POST, "/api/v1/design/transitions", token, Some(json!({
        "workflow_id": wf, "from_task": task_id, "to_status": "DONE", "condition": { "colour": "red" }
    }))).await;
    assert_eq!(bad.status(), 422);
    create(
        &app,
        token,
        "transitions",
        json!({ "workflow_id": wf, "to_task": task_id }),
    )
    .await;
    create(&app, token, "transitions", json!({
        "workflow_id": wf, "from_task": task_id, "to_status": "DONE", "condition": { "ok": true }
    })).await;
    create(&app, token, "transitions", json!({
        "workflow_id": wf, "from_task": task_id, "to_status": "REFUSED", "condition": { "ok": false }, "priority": 2
    })).await;
    create(
        &app,
        token,
        "ticket-types",
        json!({
            "workflow_id": wf, "title": "I need a laptop",
            "fields": { "type": "object", "properties": { "model": { "type": "string" } } }
        }),
    )
    .await;

    // A task in use by transitions cannot be deleted.
    let in_use = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/design/tasks/{task_id}"),
        token,
        None,
    )
    .await;
    assert_eq!(in_use.status(), 409);

    let published = send(
        &app,
        Method::POST,
        &format!("/api/v1/design/workflows/{wf}/publish"),
        token,
        None,
    )
    .await;
    assert_eq!(published.status(), 200);
    let v1 = json(published).await["version"].as_i64().unwrap();
    let again = send(
        &app,
        Method::POST,
        &format!("/api/v1/design/workflows/{wf}/publish"),
        token,
        None,
    )
    .await;
    assert_eq!(again.status(), 409);

    // An edit makes a new DRAFT; the published version stays as it was.
    let patched = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/design/tasks/{task_id}"),
        token,
        Some(json!({ "name": "Approve the laptop" })),
    )
    .await;
    assert_eq!(patched.status(), 200);
    let patched = json(patched).await;
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["status"], "DRAFT");
    let detail = get(&app, &format!("/api/v1/design/workflows/{wf}"), token).await;
    assert_eq!(detail["status"], "DRAFT");
    assert_eq!(detail["active_version"].as_i64(), Some(v1));
    assert!(detail["version"].as_i64().unwrap() > v1);
    let versions = get(
        &app,
        &format!("/api/v1/design/workflows/{wf}/versions"),
        token,
    )
    .await;
    let statuses: Vec<&str> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["DRAFT", "ACTIVE"]);
    let pinned = get(
        &app,
        &format!("/api/v1/design/workflows/{wf}/bundle?version={v1}"),
        token,
    )
    .await;
    assert_eq!(pinned["tasks"][0]["name"], "Approve");
    let draft = get(
        &app,
        &format!("/api/v1/design/workflows/{wf}/bundle"),
        token,
    )
    .await;
    assert_eq!(draft["tasks"][0]["name"], "Approve the laptop");

    // Publishing again deprecates the old version; then the life cycle moves on.
    let v2 = json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/design/workflows/{wf}/publish"),
            token,
            None,
        )
        .await,
    )
    .await;
    let versions = get(
        &app,
        &format!("/api/v1/design/workflows/{wf}/versions"),
        token,
    )
    .await;
    let statuses: Vec<&str> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ACTIVE", "DEPRECATED"], "{v2}");
    let deprecated = send(
        &app,
        Method::POST,
        &format!("/api/v1/design/workflows/{wf}/deprecate"),
        token,
        None,
    )
    .await;
    assert_eq!(deprecated.status(), 200);
    assert_eq!(json(deprecated).await["status"], "DEPRECATED");
    let archived = send(
        &app,
        Method::POST,
        &format!("/api/v1/design/workflows/{wf}/archive"),
        token,
        None,
    )
    .await;
    assert_eq!(archived.status(), 200);
    let frozen = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/design/workflows/{wf}"),
        token,
        Some(json!({ "title": "x" })),
    )
    .await;
    assert_eq!(frozen.status(), 409);
    let undeletable = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/design/workflows/{wf}"),
        token,
        None,
    )
    .await;
    assert_eq!(undeletable.status(), 409);

    // Filters.
    let archived = get(&app, "/api/v1/design/workflows?status=ARCHIVED", token).await;
    assert_eq!(archived["items"].as_array().unwrap().len(), 1);
    let none = get(&app, "/api/v1/design/workflows?q=nothing-like-it", token).await;
    assert!(none["items"].as_array().unwrap().is_empty());
    let by_workflow = get(
        &app,
        &format!("/api/v1/design/transitions?workflow={wf}"),
        token,
    )
    .await;
    assert_eq!(by_workflow["items"].as_array().unwrap().len(), 3);
    let bad_filter = app
        .get_authed("/api/v1/design/workflows?status=LIVE", token)
        .await;
    assert_eq!(bad_filter.status(), 422);
}

#[tokio::test]
async fn roles_decide_who_reads_and_who_changes_definitions() {
    let app = spawn_app().await;
    let admin = designer(&app).await;
    let created = import(&app, &admin.access, DOC_REVIEW).await;
    let wf = created["workflow_id"].as_str().unwrap().to_owned();
    for (email, roles, can_read, can_write) in [
        ("plain@acme.io", vec![], false, false),
        ("worker@acme.io", vec!["task_worker"], false, false),
        ("tadmin@acme.io", vec!["ticket_admin"], true, false),
        ("creator@acme.io", vec!["workflow_creator"], true, true),
    ] {
        create_user(&app, &admin.access, email, &roles).await;
        let token = login_ok(&app, email, PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let read = app
            .get_authed(&format!("/api/v1/design/workflows/{wf}"), &token)
            .await;
        assert_eq!(
            read.status() == 200,
            can_read,
            "{email} read: {}",
            read.status()
        );
        if !can_read {
            assert_eq!(read.status(), 403);
        }
        let write = send(
            &app,
            Method::PATCH,
            &format!("/api/v1/design/workflows/{wf}"),
            &token,
            Some(json!({ "description": email })),
        )
        .await;
        assert_eq!(
            write.status() == 200,
            can_write,
            "{email} write: {}",
            write.status()
        );
        let import = post_yaml(
            &app,
            "/api/v1/design/bundles?dry_run=true",
            &token,
            DOC_REVIEW,
        )
        .await;
        assert_eq!(import.status() == 200, can_write, "{email} import");
    }
}

#[tokio::test]
async fn another_companys_definitions_are_not_found_anywhere() {
    let app = spawn_app().await;
    let a = designer_company(&app, "Alpha", "admin@alpha.io").await;
    let b = designer_company(&app, "Beta", "admin@beta.io").await;
    let created = import(&app, &b.access, IT_ACCESS).await;
    let wf = created["workflow_id"].as_str().unwrap().to_owned();
    let task = created["task_ids"]["manager_approval"]
        .as_str()
        .unwrap()
        .to_owned();
    let transition = created["transition_ids"]["start"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket_type = created["ticket_type_ids"]["access_request"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut checks = vec![
        (
            Method::GET,
            format!("/api/v1/design/workflows/{wf}/versions"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/design/workflows/{wf}/bundle"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/design/workflows/{wf}/graph.svg"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/design/workflows/{wf}/graph.mmd"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/design/workflows/{wf}/publish"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/design/workflows/{wf}/deprecate"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/design/workflows/{wf}/archive"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/design/bundles?workflow_id={wf}"),
            Some(serde_yaml_ng::from_str::<Value>(DOC_REVIEW).unwrap()),
        ),
    ];
    for (kind, id) in [
        ("workflows", &wf),
        ("tasks", &task),
        ("transitions", &transition),
        ("ticket-types", &ticket_type),
    ] {
        checks.push((Method::GET, format!("/api/v1/design/{kind}/{id}"), None));
        checks.push((
            Method::PATCH,
            format!("/api/v1/design/{kind}/{id}"),
            Some(json!({ "description": "mine now" })),
        ));
        checks.push((Method::DELETE, format!("/api/v1/design/{kind}/{id}"), None));
    }
    for (method, path, body) in checks {
        let response = send(&app, method.clone(), &path, &a.access, body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    // Creating inside B's workflow is refused as if it did not exist.
    let response = send(
        &app,
        Method::POST,
        "/api/v1/design/tasks",
        &a.access,
        Some(json!({
            "workflow_id": wf, "name": "Sneak", "task_type": "FORM",
            "output_schema": { "type": "object", "properties": {} }
        })),
    )
    .await;
    assert_eq!(response.status(), 422);
    assert_eq!(object_count(&app, &a.access).await, 0);
    // B's objects are untouched.
    let detail = get(&app, &format!("/api/v1/design/workflows/{wf}"), &b.access).await;
    assert_eq!(detail["status"], "DRAFT");
    assert_eq!(detail["version"], 1);
}

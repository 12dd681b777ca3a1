//! Workflow design over HTTP: bundles (the two examples, round trips, mistakes, hostile
//! uploads), object CRUD with save-time checks, publishing and version pinning, and roles.
//! Another company's definitions are probed in `tenancy.rs`.

use reqwest::Method;
use serde_json::{Value, json};
use testkit::fixtures::{self, Company};
use testkit::{ApiClient, Body, DesignKind, TestApp, spawn_app};

use crate::common::EXAMPLE_ROLES;

const IT_ACCESS: &str = include_str!("../../../../examples/bundles/it-access-request.yaml");
const DOC_REVIEW: &str = include_str!("../../../../examples/bundles/document-review.yaml");

/// Acme, with the company roles the example bundles name.
async fn designer_company(app: &TestApp) -> Company {
    let acme = fixtures::sign_up(app, "Acme", "ada@acme.io").await;
    acme.add_roles(&EXAMPLE_ROLES).await;
    acme
}

/// How many design objects the company has, of every kind.
async fn object_count(admin: &ApiClient) -> usize {
    let mut total = 0;
    for kind in DesignKind::ALL {
        let listed = admin.design_objects(kind, "").await.expect(200);
        total += listed["items"].as_array().unwrap().len();
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

/// The item statuses of a `{items}` list, in order.
fn statuses(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap().to_owned())
        .collect()
}

fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

#[tokio::test]
async fn example_bundles_import_publish_and_round_trip() {
    let app = spawn_app().await;
    let admin = designer_company(&app).await.admin;
    for yaml in [IT_ACCESS, DOC_REVIEW] {
        let dry = admin.import_bundle_yaml(yaml, "dry_run=true").await;
        assert_eq!(dry.expect(200)["valid"], true);
        let before = object_count(&admin).await;
        let created = admin.import_bundle_yaml(yaml, "").await.expect(201);
        let id = text(&created, "workflow_id");
        assert!(!created["task_ids"].as_object().unwrap().is_empty());
        assert_eq!(created["ticket_type_ids"].as_object().unwrap().len(), 1);
        assert!(object_count(&admin).await > before);

        // Export → import → export is identical.
        let exported = admin.export_bundle(&id, "").await.expect(200);
        let again = admin.import_bundle(&exported, "").await.expect(201);
        let again = text(&again, "workflow_id");
        assert_eq!(admin.export_bundle(&again, "").await.expect(200), exported);
        // YAML export reads back to the same document.
        let yaml = admin.export_bundle(&id, "format=yaml").await;
        let from_yaml: Value = serde_yaml_ng::from_str(&yaml.expect_text(200)).unwrap();
        assert_eq!(from_yaml, exported);

        admin.publish_workflow(&id).await.expect(200);
        let detail = admin
            .design_object(DesignKind::Workflows, &id)
            .await
            .expect(200);
        assert_eq!(detail["status"], "ACTIVE");
        assert_eq!(detail["active_version"], detail["version"]);
        assert!(detail["problems"].as_array().unwrap().is_empty());
        for task in detail["tasks"].as_array().unwrap() {
            assert_eq!(task["status"], "ACTIVE");
        }

        let svg = admin.workflow_svg(&id, "").await;
        assert_eq!(svg.content_type(), "image/svg+xml");
        let svg = svg.expect_text(200);
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
        let mermaid = admin.workflow_mermaid(&id, "").await.expect_text(200);
        assert!(mermaid.contains("flowchart"), "{mermaid}");
    }
}

#[tokio::test]
async fn a_bundle_with_mistakes_reports_every_one_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = designer_company(&app).await.admin;
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
    let problem = admin.import_bundle_yaml(&broken, "").await.expect(422);
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
    assert_eq!(object_count(&admin).await, 0);

    // Unknown fields are named too, not silently dropped.
    let typo = DOC_REVIEW.replace("ticket_types:", "ticket_typos:");
    let problem = admin.import_bundle_yaml(&typo, "").await.expect(422);
    assert!(problem.to_string().contains("ticket_typos"), "{problem}");
}

#[tokio::test]
async fn granting_a_role_the_company_lacks_is_refused_where_it_is_named() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let admin = &acme.admin;
    let problem = admin
        .import_bundle_yaml(DOC_REVIEW, "dry_run=true")
        .await
        .expect(422);
    assert_eq!(fields_of(&problem), ["/tasks/1/company_role_access/0"]);

    acme.add_roles(&["reviewers"]).await;
    admin
        .import_bundle_yaml(DOC_REVIEW, "dry_run=true")
        .await
        .expect(200);

    // The same check on save, for a task and a ticket type.
    let created = admin.import_bundle_yaml(DOC_REVIEW, "").await.expect(201);
    let workflow_id = text(&created, "workflow_id");
    for (kind, body, bad) in [
        (
            DesignKind::Tasks,
            json!({"workflow_id": workflow_id, "name": "Sign", "task_type": "FORM",
                   "output_schema": {"type": "object"}, "company_role_access": ["reviewers", "legal"]}),
            1,
        ),
        (
            DesignKind::TicketTypes,
            json!({"workflow_id": workflow_id, "title": "Other", "fields": {"type": "object"},
                   "company_role_access": ["legal"]}),
            0,
        ),
    ] {
        let problem = admin.create_design_object(kind, body).await.expect(422);
        let expected = format!("/company_role_access/{bad}");
        assert_eq!(fields_of(&problem), [expected], "{kind:?}");
        assert!(
            problem
                .to_string()
                .contains("no company role named `legal`")
        );
    }
    acme.add_roles(&["legal"]).await;
    let body = json!({"workflow_id": workflow_id, "title": "Other", "fields": {"type": "object"},
                      "company_role_access": ["legal"]});
    admin
        .create_design_object(DesignKind::TicketTypes, body)
        .await
        .expect(201);
}

#[tokio::test]
async fn hostile_bundles_get_4xx_and_leave_no_trace() {
    let app = spawn_app().await;
    let admin = designer_company(&app).await.admin;
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
        let response = admin
            .send(
                Method::POST,
                "/api/v1/design/bundles",
                Body::raw(&content_type, body),
            )
            .await;
        assert!(
            response.status.is_client_error(),
            "hostile bundle {i} ({content_type}): {}",
            response.status
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "hostile bundle {i} was slow"
        );
    }
    assert_eq!(object_count(&admin).await, 0);
}

#[tokio::test]
async fn objects_are_checked_on_save_and_the_graph_on_publish() {
    let app = spawn_app().await;
    let acme = designer_company(&app).await;
    let admin = &acme.admin;
    let workflow = admin.create_design_object(DesignKind::Workflows, json!({
        "title": "Laptop request",
        "fields": { "type": "object", "properties": { "model": { "type": "string" }, "ok": { "type": "boolean" } } }
    })).await.expect(201);
    let wf = text(&workflow, "id");
    assert_eq!(workflow["status"], "DRAFT");
    assert_eq!(workflow["version"], 1);

    // A bad schema is refused with the pointer of the problem.
    let bad = admin.create_design_object(
        DesignKind::Tasks,
        json!({
            "workflow_id": wf, "name": "Approve", "task_type": "FORM",
            "output_schema": { "type": "object", "properties": { "ok": { "type": "nonsense" } } }
        }),
    );
    let fields = fields_of(&bad.await.expect(422));
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("/output_schema/properties/ok")),
        "{fields:?}"
    );
    // A form needs an output schema; an action an http(s) URL and a bounded timeout.
    let no_schema = json!({ "workflow_id": wf, "name": "Approve", "task_type": "FORM" });
    admin
        .create_design_object(DesignKind::Tasks, no_schema)
        .await
        .expect(422);
    let bad = admin.create_design_object(
        DesignKind::Tasks,
        json!({
            "workflow_id": wf, "name": "Order", "task_type": "SYNC_ACTION",
            "action_url": "file:///etc/passwd", "timeout_seconds": 100000
        }),
    );
    let fields = fields_of(&bad.await.expect(422));
    assert!(
        fields.contains(&"/action_url".to_owned())
            && fields.contains(&"/timeout_seconds".to_owned()),
        "{fields:?}"
    );
    // The server's fields cannot be set.
    admin.create_design_object(DesignKind::Tasks, json!({
        "workflow_id": wf, "name": "Approve", "task_type": "FORM", "status": "ACTIVE", "company_id": acme.id,
        "output_schema": { "type": "object", "properties": { "ok": { "type": "boolean" } } }
    })).await.expect(422);

    let task = admin
        .create_design_object(
            DesignKind::Tasks,
            json!({
                "workflow_id": wf, "name": "Approve", "task_type": "FORM",
                "output_schema": { "type": "object", "properties": { "ok": { "type": "boolean" } } }
            }),
        )
        .await
        .expect(201);
    assert_eq!(task["key"], "approve");
    let task_id = text(&task, "id");

    // Publishing an incomplete graph lists every problem at once.
    let problems = fields_of(&admin.publish_workflow(&wf).await.expect(422));
    assert!(problems.len() >= 2, "{problems:?}");

    // A transition's condition must parse and use known fields.
    for condition in [json!({ "ok": { "$near": 1 } }), json!({ "colour": "red" })] {
        let transition = json!({
            "workflow_id": wf, "from_task": task_id, "to_status": "DONE", "condition": condition
        });
        admin
            .create_design_object(DesignKind::Transitions, transition)
            .await
            .expect(422);
    }
    for transition in [
        json!({ "workflow_id": wf, "to_task": task_id }),
        json!({ "workflow_id": wf, "from_task": task_id, "to_status": "DONE", "condition": { "ok": true } }),
        json!({ "workflow_id": wf, "from_task": task_id, "to_status": "REFUSED", "condition": { "ok": false }, "priority": 2 }),
    ] {
        admin
            .create_design_object(DesignKind::Transitions, transition)
            .await
            .expect(201);
    }
    admin
        .create_design_object(
            DesignKind::TicketTypes,
            json!({
                "workflow_id": wf, "title": "I need a laptop",
                "fields": { "type": "object", "properties": { "model": { "type": "string" } } }
            }),
        )
        .await
        .expect(201);

    // A task in use by transitions cannot be deleted.
    admin
        .delete_design_object(DesignKind::Tasks, &task_id)
        .await
        .expect(409);

    let v1 = admin.publish_workflow(&wf).await.expect(200)["version"]
        .as_i64()
        .unwrap();
    admin.publish_workflow(&wf).await.expect(409);

    // An edit makes a new DRAFT; the published version stays as it was.
    let patched = admin
        .update_design_object(
            DesignKind::Tasks,
            &task_id,
            json!({ "name": "Approve the laptop" }),
        )
        .await
        .expect(200);
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["status"], "DRAFT");
    let detail = admin
        .design_object(DesignKind::Workflows, &wf)
        .await
        .expect(200);
    assert_eq!(detail["status"], "DRAFT");
    assert_eq!(detail["active_version"].as_i64(), Some(v1));
    assert!(detail["version"].as_i64().unwrap() > v1);
    let versions = admin.workflow_versions(&wf).await.expect(200);
    assert_eq!(statuses(&versions), ["DRAFT", "ACTIVE"]);
    let pinned = admin
        .export_bundle(&wf, &format!("version={v1}"))
        .await
        .expect(200);
    assert_eq!(pinned["tasks"][0]["name"], "Approve");
    let draft = admin.export_bundle(&wf, "").await.expect(200);
    assert_eq!(draft["tasks"][0]["name"], "Approve the laptop");

    // Publishing again deprecates the old version; then the life cycle moves on.
    let v2 = admin.publish_workflow(&wf).await.expect(200);
    let versions = admin.workflow_versions(&wf).await.expect(200);
    assert_eq!(statuses(&versions), ["ACTIVE", "DEPRECATED"], "{v2}");
    let deprecated = admin.deprecate_workflow(&wf).await.expect(200);
    assert_eq!(deprecated["status"], "DEPRECATED");
    admin.archive_workflow(&wf).await.expect(200);
    admin
        .update_design_object(DesignKind::Workflows, &wf, json!({ "title": "x" }))
        .await
        .expect(409);
    admin
        .delete_design_object(DesignKind::Workflows, &wf)
        .await
        .expect(409);

    // Filters.
    let workflows = DesignKind::Workflows;
    let archived = admin.design_objects(workflows, "status=ARCHIVED").await;
    assert_eq!(archived.expect(200)["items"].as_array().unwrap().len(), 1);
    let none = admin.design_objects(workflows, "q=nothing-like-it").await;
    assert_eq!(none.expect(200)["items"], json!([]));
    let by_workflow = admin
        .design_objects(DesignKind::Transitions, &format!("workflow={wf}"))
        .await;
    assert_eq!(
        by_workflow.expect(200)["items"].as_array().unwrap().len(),
        3
    );
    admin
        .design_objects(workflows, "status=LIVE")
        .await
        .expect(422);
}

#[tokio::test]
async fn roles_decide_who_reads_and_who_changes_definitions() {
    let app = spawn_app().await;
    let acme = designer_company(&app).await;
    let created = acme.admin.import_bundle_yaml(DOC_REVIEW, "").await;
    let wf = text(&created.expect(201), "workflow_id");
    for (email, roles, can_read, can_write) in [
        ("plain@acme.io", vec![], false, false),
        ("worker@acme.io", vec!["task_worker"], false, false),
        ("tadmin@acme.io", vec!["ticket_admin"], true, false),
        ("creator@acme.io", vec!["workflow_creator"], true, true),
    ] {
        let member = acme.add_member(email, "Uma", &roles, &[]).await.api;
        let read = member.design_object(DesignKind::Workflows, &wf).await;
        let expected = if can_read { 200 } else { 403 };
        assert_eq!(read.status, expected, "{email}: {read}");
        let write = member
            .update_design_object(DesignKind::Workflows, &wf, json!({ "description": email }))
            .await;
        assert_eq!(write.status == 200, can_write, "{email}: {write}");
        let import = member.import_bundle_yaml(DOC_REVIEW, "dry_run=true").await;
        assert_eq!(import.status == 200, can_write, "{email}: {import}");
    }
}

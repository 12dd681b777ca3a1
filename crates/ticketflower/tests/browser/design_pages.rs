//! The workflow designer in a browser: a bundle with two mistakes shows both next to their
//! locations; fixed, it imports, publishes, and its graph is drawn. A ticket admin sees the
//! same pages without the forms.

use fantoccini::{Client, Locator};
use testkit::browser::Browser;
use testkit::spawn_app;

use super::identity_pages::{click, company, fill_in, flash, log_in, log_out, submit_in};
use super::{text_of, text_with, value_of, wait_for_path};

const IT_ACCESS: &str = include_str!("../../../../examples/bundles/it-access-request.yaml");

async fn paste(client: &Client, text: &str) {
    // Typing a whole document key by key is slow and re-indents nothing; set the value.
    client
        .execute(
            "document.querySelector(\"textarea[name='document']\").value = arguments[0]",
            vec![serde_json::Value::String(text.to_owned())],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bundle_with_two_mistakes_is_reported_then_imported_published_and_drawn() {
    let app = spawn_app().await;
    let acme = company(&app, "Acme", "ada@acme.io").await;
    // The example grants tasks to these company roles.
    let token = acme["access_token"].as_str().unwrap();
    for role in ["managers", "security"] {
        let response = app
            .client
            .post(app.url("/api/v1/company-roles"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "name": role }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, "ada@acme.io", "correct horse 42").await;
    click(client, "//nav//a[text()='Workflows']").await;
    wait_for_path(client, "/design/workflows").await;
    click(client, "//a[text()='Upload a bundle']").await;
    wait_for_path(client, "/design/bundles/new").await;

    let broken = IT_ACCESS
        .replace(
            "level: { $in: [write, admin] }",
            "level: { $between: [write, admin] }",
        )
        .replace("timeout_seconds: 30", "timeout_seconds: 100000");
    paste(client, &broken).await;
    click(client, "//button[@value='import']").await;
    let report = text_of(client, "#bundle-problems").await;
    assert!(report.contains("2 problems found"), "{report}");
    assert!(
        report.contains("/transitions/1/condition/level/$between"),
        "{report}"
    );
    assert!(report.contains("/tasks/2/timeout_seconds"), "{report}");
    // The document is kept for fixing, and nothing was created.
    let kept = client
        .find(Locator::Css("textarea[name='document']"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(kept.contains("$between"));
    let listed = app
        .get_authed(
            "/api/v1/design/workflows",
            acme["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(testkit::json(listed).await["items"], serde_json::json!([]));

    paste(client, IT_ACCESS).await;
    click(client, "//button[@value='check']").await;
    assert!(text_of(client, "#bundle-valid").await.contains("valid"));
    click(client, "//button[@value='import']").await;
    assert_eq!(
        flash(client, "The bundle was imported.").await,
        "The bundle was imported."
    );
    assert_eq!(text_of(client, "h1").await, "IT access request");
    assert_eq!(text_of(client, "#workflow-status").await, "Draft");

    let tasks = text_of(client, "#tasks").await;
    assert!(
        tasks.contains("Manager approval") && tasks.contains("SYNC_ACTION"),
        "{tasks}"
    );
    let transitions = text_of(client, "#transitions").await;
    assert!(transitions.contains("ticket submitted"), "{transitions}");
    assert!(transitions.contains("end: REJECTED"), "{transitions}");
    let refs = text_of(client, "#ext-refs").await;
    assert!(
        refs.contains("Access policy: Who may hold which level of access - https://intranet.example.com/policies/access"),
        "{refs}"
    );

    click(client, "//button[@value='publish']").await;
    flash(client, "is published and ACTIVE").await;
    text_with(client, "#workflow-status", "Active").await;
    let versions = text_of(client, "#versions").await;
    assert!(versions.contains("Active"), "{versions}");

    // The graph image loaded (the browser sends the session cookie) and has a size.
    let graph = client
        .wait()
        .for_element(Locator::Css("#workflow-graph"))
        .await
        .unwrap();
    let mut width = 0.0;
    for _ in 0..50 {
        width = client
            .execute(
                "const i = document.getElementById('workflow-graph'); return i.complete ? i.naturalWidth : 0",
                vec![],
            )
            .await
            .unwrap()
            .as_f64()
            .unwrap_or(0.0);
        if width > 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(width > 100.0, "graph not drawn: width {width}");
    let src = graph.attr("src").await.unwrap().unwrap();
    let svg = app
        .get_authed(&src, acme["access_token"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert!(
        svg.contains("Manager approval") && svg.contains("COMPLETED"),
        "{svg}"
    );

    // A task's page, and an edit making a new draft.
    click(client, "//a[text()='Security review']").await;
    text_with(client, "h1", "Task: Security review").await;
    fill_in(client, "#edit-object", "name", "Security sign-off").await;
    click(
        client,
        "//form[@id='edit-object']//input[@value='managers']",
    )
    .await;
    click(client, "//form[@id='edit-object']//button[text()='Save']").await;
    flash(client, "version 2").await;
    text_with(client, "h1", "Task: Security sign-off").await;
    let fields = text_of(client, "#object-fields").await;
    assert!(
        fields.contains("managers") && fields.contains("security"),
        "{fields}"
    );
    click(client, "//a[text()='← Workflow']").await;
    text_with(client, "h1", "IT access request").await;
    assert_eq!(text_of(client, "#workflow-status").await, "Draft");

    assert!(
        text_of(client, "#active-version")
            .await
            .parse::<u32>()
            .is_ok()
    );

    // A new task from the field-by-field form; a bad schema is named next to it, not saved,
    // and the form comes back as typed.
    fill_in(client, "#add-task", "name", "Legal check").await;
    fill_in(client, "#add-task", "output_schema", "{\"type\": ").await;
    submit_in(client, "#add-task").await;
    let refused = text_of(client, "#add-task-output_schema-error").await;
    assert!(
        refused.starts_with("Is not JSON that can be read"),
        "{refused}"
    );
    assert_eq!(
        value_of(client, "#add-task [name='name']").await,
        "Legal check"
    );
    fill_in(
        client,
        "#add-task",
        "output_schema",
        "{\"type\": \"object\", \"properties\": {\"cleared\": {\"type\": \"boolean\"}}}",
    )
    .await;
    submit_in(client, "#add-task").await;
    flash(client, "Added `legal_check`").await;
    text_with(client, "#tasks", "Legal check").await;
    let tasks = app
        .get_authed(
            "/api/v1/design/tasks?q=legal",
            acme["access_token"].as_str().unwrap(),
        )
        .await;
    let tasks = testkit::json(tasks).await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 1, "{tasks}");

    // A ticket admin reads the same pages without the forms.
    log_out(client).await;
    let token = acme["access_token"].as_str().unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "email": "tina@acme.io", "password": "tina reads 2026", "first_name": "Tina",
            "last_name": "Admin", "system_roles": ["ticket_admin"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    log_in(client, &app, "tina@acme.io", "tina reads 2026").await;
    click(client, "//nav//a[text()='Workflows']").await;
    click(client, "//a[text()='IT access request']").await;
    text_of(client, "#tasks").await;
    assert!(client.find(Locator::Css("#life-cycle")).await.is_err());
    assert!(client.find(Locator::Css("#add-task")).await.is_err());

    browser.close().await;
    app.stop().await;
}

//! The platform staff's error log page: a real 5xx listed with its route, company and
//! summary, one entry deleted, then the whole log cleared after a confirmation; at a desk's
//! and a phone's width.

use std::time::Duration;

use fantoccini::Locator;
use reqwest::Method;
use serde_json::json;
use testkit::browser::Browser;
use testkit::fixtures::{self, PASSWORD, STAFF_EMAIL};
use testkit::{Body, TestApp, spawn_app};

use super::identity_pages::{click, flash, log_in};
use super::{text_of, text_with, wait_for_path};

async fn run_sql(app: &TestApp, sql: &str) {
    let mut tx = app.app.db().begin().await.unwrap();
    tx.execute_script(sql).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn staff_read_the_error_log_delete_an_entry_and_clear_it() {
    let app = spawn_app().await;
    let staff = fixtures::platform_staff(&app).await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    // A failure without anyone signed in, from an hour ago.
    app::infra::error_log::write(
        &app.app,
        domain::error_log::Failure {
            at: chrono::Utc::now() - chrono::Duration::hours(1),
            method: "GET".into(),
            route: "/api/v1/tickets/{id}".into(),
            status: 503,
            request_id: "0f6c1b7e-5d1a-4a57-9d0e-6a1f2b3c4d5e".into(),
            company_id: None,
            user_id: None,
            kind: domain::error_log::FailureKind::Unavailable,
            summary: "database unavailable".into(),
        },
    )
    .await
    .unwrap();
    // A real one: the table question templates live in is broken under the server.
    run_sql(
        &app,
        "ALTER TABLE question_templates RENAME TO question_templates_broken",
    )
    .await;
    let failed = acme
        .admin
        .send(
            Method::POST,
            "/api/v1/templates",
            Body::Json(json!({"title": "Printer", "text": "Which printer?",
                "schema": {"type": "object", "properties": {}}})),
        )
        .await;
    run_sql(
        &app,
        "ALTER TABLE question_templates_broken RENAME TO question_templates",
    )
    .await;
    assert_eq!(failed.status, 500, "{failed}");
    let request_id = failed.headers["x-request-id"].to_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while staff.platform_errors("").await.expect(200)["count"] != 2 {
        assert!(tokio::time::Instant::now() < deadline, "never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, STAFF_EMAIL, PASSWORD).await;
    click(client, "//nav//a[text()='Errors']").await;
    wait_for_path(client, "/staff/errors").await;
    let newest = text_of(client, "#error-log tbody tr:first-child").await;
    for shown in [
        "500",
        "POST /api/v1/templates",
        "Acme",
        "question_templates",
        request_id.as_str(),
    ] {
        assert!(newest.contains(shown), "{shown} not in {newest}");
    }
    let older = text_of(client, "#error-log tbody tr:nth-child(2)").await;
    assert!(
        older.contains("GET /api/v1/tickets/{id}") && older.contains("database unavailable"),
        "{older}"
    );
    assert_eq!(text_of(client, "#pager-count").await, "1–2 of 2 entries");
    browser.screenshot("error-log-desk").await.unwrap();
    browser.resize(390, 844).await.unwrap();
    client.refresh().await.unwrap();
    text_with(client, "#error-log", "question_templates").await;
    // At a phone's width the page itself does not scroll sideways: the table does.
    let overflow = client
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, false);
    browser.screenshot("error-log-phone").await.unwrap();
    browser.resize(1366, 900).await.unwrap();

    click(
        client,
        "//tr[contains(., 'database unavailable')]//button[text()='Delete']",
    )
    .await;
    flash(client, "The entry was deleted.").await;
    assert_eq!(text_of(client, "#pager-count").await, "1–1 of 1 entry");

    // Clearing asks first; dismissed, nothing happens.
    click(client, "//button[text()='Clear all']").await;
    assert_eq!(
        client.get_alert_text().await.unwrap(),
        "Delete every entry of the error log?"
    );
    client.dismiss_alert().await.unwrap();
    assert_eq!(text_of(client, "#pager-count").await, "1–1 of 1 entry");
    click(client, "//button[text()='Clear all']").await;
    client.accept_alert().await.unwrap();
    flash(client, "1 entry was deleted.").await;
    text_with(client, "#error-log", "No errors recorded.").await;
    assert!(
        client
            .find(Locator::XPath("//button[text()='Clear all']"))
            .await
            .is_err()
    );
    browser.close().await;
    app.stop().await;
}

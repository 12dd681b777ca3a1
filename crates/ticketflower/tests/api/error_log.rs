//! The error log (issue 18): a real 5xx is recorded with its route, status, request id,
//! company and a summary that holds nothing the request sent; 4xx are not; only platform
//! staff read or clear it; retention deletes by age and by count.

use std::time::Duration;

use chrono::Utc;
use domain::error_log::{Failure, FailureKind};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::fixtures::{self, Company};
use testkit::{ApiClient, Body, TestApp, spawn_app, spawn_app_with};

/// Runs `sql` on the test database as one transaction, the way an operator's mistake or
/// a failing disk would break a table under the server.
async fn run_sql(app: &TestApp, sql: &str) {
    let mut tx = app.app.db().begin().await.unwrap();
    tx.execute_script(sql).await.unwrap();
    tx.commit().await.unwrap();
}

/// The error log once it holds `count` entries (they are written off the request).
async fn wait_for_entries(staff: &ApiClient, count: i64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = staff.platform_errors("").await.expect(200);
        if page["count"].as_i64().unwrap() >= count || tokio::time::Instant::now() > deadline {
            assert_eq!(page["count"], count, "{page}");
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An entry as the web layer would hand it over, `age` ago.
fn failure(route: &str, age: chrono::Duration) -> Failure {
    Failure {
        at: Utc::now() - age,
        method: "GET".into(),
        route: route.into(),
        status: 500,
        request_id: format!("planted {route}"),
        company_id: None,
        user_id: None,
        kind: FailureKind::Internal,
        summary: "planted by the test".into(),
    }
}

async fn plant(app: &TestApp, route: &str, age: chrono::Duration) -> String {
    app::infra::error_log::write(&app.app, failure(route, age))
        .await
        .unwrap()
        .to_string()
}

/// Adds a question template with the secret in its title, text and query.
async fn post_template(admin: &ApiClient, secret: &str) -> testkit::ApiResponse {
    admin
        .send(
            Method::POST,
            &format!("/api/v1/templates?access_token={secret}"),
            Body::Json(json!({
                "title": secret,
                "text": secret,
                "schema": {"type": "object", "properties": {"answer": {"type": "string"}}}
            })),
        )
        .await
}

#[tokio::test]
async fn a_5xx_is_recorded_with_its_route_request_id_and_company_and_nothing_it_was_sent() {
    let app = spawn_app().await;
    let staff = fixtures::platform_staff(&app).await;
    let acme: Company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let admin = &acme.admin;
    let secret = "SECRET-7f3a9c";

    // 4xx are the caller's doing and are not recorded: a bad field, a missing object, no
    // credentials, a forbidden operation.
    let refused = admin
        .send(
            Method::POST,
            "/api/v1/templates",
            Body::Json(json!({"title": secret})),
        )
        .await;
    assert!([400, 422].contains(&refused.status.as_u16()), "{refused}");
    admin
        .send(
            Method::GET,
            &format!("/api/v1/templates/{}", uuid::Uuid::now_v7()),
            Body::Empty,
        )
        .await
        .expect(404);
    app.api().platform_errors("").await.expect(401);
    admin.platform_errors("").await.expect(403);

    // The table the endpoint needs is broken under the server, then restored.
    run_sql(
        &app,
        "ALTER TABLE question_templates RENAME TO question_templates_broken",
    )
    .await;
    let failed = post_template(admin, secret).await;
    run_sql(
        &app,
        "ALTER TABLE question_templates_broken RENAME TO question_templates",
    )
    .await;
    assert_eq!(failed.status, 500, "{failed}");
    assert!(!failed.text().contains("question_templates"), "{failed}");
    let request_id = failed.headers["x-request-id"].to_str().unwrap().to_owned();

    // Only the 5xx is there, although the 4xx were answered before it.
    let page = wait_for_entries(&staff, 1).await;
    let entry = &page["items"][0];
    assert_eq!(entry["method"], "POST");
    assert_eq!(entry["route"], "/api/v1/templates");
    assert_eq!(entry["status"], 500);
    assert_eq!(entry["request_id"], request_id.as_str());
    assert_eq!(entry["company_id"], acme.id.as_str());
    assert_eq!(entry["company_name"], "Acme");
    assert_eq!(entry["user_id"], acme.admin_id.as_str());
    assert_eq!(entry["kind"], "internal");
    let summary = entry["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("database error") && summary.contains("question_templates"),
        "{summary}"
    );
    assert!(!page.to_string().contains(secret), "{page}");
    assert!(!page.to_string().contains("access_token"), "{page}");

    // The server works again once the table is back, and that success is not recorded.
    post_template(admin, "Printer").await.expect(201);

    let id = entry["id"].as_str().unwrap();
    assert_eq!(&staff.platform_error(id).await.expect(200), entry);
    for refused in [
        admin.platform_error(id).await,
        admin.delete_platform_error(id).await,
        admin.clear_platform_errors().await,
    ] {
        assert_eq!(refused.status, 403, "{refused}");
        assert!(refused.is_problem(), "{refused}");
    }
    assert_eq!(
        staff.platform_errors("count_only=true").await.expect(200),
        json!({"items": [], "next_cursor": null, "count": 1})
    );

    staff.delete_platform_error(id).await.expect(204);
    staff.platform_error(id).await.expect(404);
    staff.delete_platform_error(id).await.expect(404);
    staff.platform_error("not-an-id").await.expect(404);
    app.stop().await;
}

#[tokio::test]
async fn the_log_pages_newest_first_and_clears_whole() {
    let app = spawn_app().await;
    let staff = fixtures::platform_staff(&app).await;
    let mut planted = Vec::new();
    for n in 0..5 {
        planted.push(plant(&app, &format!("/route/{n}"), chrono::Duration::zero()).await);
    }
    planted.reverse();

    let first = staff.platform_errors("limit=2").await.expect(200);
    assert_eq!(first["count"], 5);
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&first), planted[..2]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = staff
        .platform_errors(&format!("limit=2&cursor={cursor}"))
        .await
        .expect(200);
    assert_eq!(ids(&second), planted[2..4]);
    let cursor = second["next_cursor"].as_str().unwrap();
    let last = staff
        .platform_errors(&format!("limit=2&cursor={cursor}"))
        .await
        .expect(200);
    assert_eq!(ids(&last), planted[4..]);
    assert_eq!(last["next_cursor"], Value::Null);

    for bad in [
        "cursor=yesterday",
        "limit=many",
        "count_only=maybe",
        "sort=asc",
    ] {
        let problem = staff.platform_errors(bad).await;
        assert!(problem.status == 400 || problem.status == 422, "{problem}");
        assert!(problem.is_problem(), "{problem}");
    }

    assert_eq!(
        staff.clear_platform_errors().await.expect(200),
        json!({"deleted": 5})
    );
    assert_eq!(staff.platform_errors("").await.expect(200)["count"], 0);
    assert_eq!(
        staff.clear_platform_errors().await.expect(200),
        json!({"deleted": 0})
    );
    app.stop().await;
}

#[tokio::test]
async fn retention_deletes_entries_past_their_age_and_the_oldest_beyond_the_cap() {
    let app = spawn_app_with(|settings, jobs| {
        settings.error_log_retention_days = 30;
        settings.error_log_max_rows = 3;
        jobs
    })
    .await;
    let staff = fixtures::platform_staff(&app).await;
    let days = chrono::Duration::days;
    plant(&app, "/old/1", days(45)).await;
    plant(&app, "/old/2", days(31)).await;
    let recent = [
        plant(&app, "/recent/1", days(29)).await,
        plant(&app, "/recent/2", days(2)).await,
        plant(&app, "/recent/3", days(1)).await,
        plant(&app, "/recent/4", chrono::Duration::zero()).await,
    ];

    // What the job workers' minute sweep runs.
    assert_eq!(app::infra::error_log::sweep(&app.app).await.unwrap(), 3);
    let page = staff.platform_errors("").await.expect(200);
    let routes: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["route"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["/recent/4", "/recent/3", "/recent/2"], "{page}");
    staff.platform_error(&recent[0]).await.expect(404);
    assert_eq!(app::infra::error_log::sweep(&app.app).await.unwrap(), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_log_that_cannot_be_written_drops_the_entry_counts_it_and_recovers() {
    let app = spawn_app().await;
    let staff = fixtures::platform_staff(&app).await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;

    // The database refuses both the endpoint's table and the error log's own.
    run_sql(
        &app,
        "ALTER TABLE question_templates RENAME TO question_templates_broken",
    )
    .await;
    run_sql(&app, "ALTER TABLE error_log RENAME TO error_log_broken").await;
    // The failure is answered as ever, whatever becomes of its entry.
    post_template(&acme.admin, "lost").await.expect(500);
    app.scrape_until("error_log_dropped_total{reason=\"write_failed\"}")
        .await;
    run_sql(&app, "ALTER TABLE error_log_broken RENAME TO error_log").await;

    // The writer goes on with the next failure.
    let failed = post_template(&acme.admin, "kept").await;
    run_sql(
        &app,
        "ALTER TABLE question_templates_broken RENAME TO question_templates",
    )
    .await;
    assert_eq!(failed.status, 500, "{failed}");
    let page = wait_for_entries(&staff, 1).await;
    assert_eq!(
        page["items"][0]["request_id"],
        failed.headers["x-request-id"].to_str().unwrap()
    );
    app.stop().await;
}

//! Bad requests get RFC 9457 problems naming the field, never a 500 or a partial write.

use serde_json::json;
use testkit::{json, spawn_app, spawn_app_with};

async fn post_raw(app: &testkit::TestApp, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/signup"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn malformed_json_wrong_type_and_missing_fields_are_clear_4xx() {
    let app = spawn_app().await;

    let malformed = post_raw(&app, "application/json", b"{\"company_name\": ".to_vec()).await;
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(json(malformed).await["title"], "Malformed JSON");

    let wrong_type = post_raw(&app, "text/plain", b"{}".to_vec()).await;
    assert_eq!(wrong_type.status(), 415);
    assert_eq!(json(wrong_type).await["status"], 415);

    let missing = app
        .post_json("/api/v1/signup", &json!({ "company_name": "Acme" }))
        .await;
    assert_eq!(missing.status(), 422);
    let body = json(missing).await;
    assert_eq!(body["errors"][0]["field"], "admin_email", "{body}");

    let mistyped = app
        .post_json(
            "/api/v1/signup",
            &json!({ "company_name": 7, "admin_email": "a@b.co", "admin_password": "x",
                     "admin_first_name": "a", "admin_last_name": "b" }),
        )
        .await;
    assert_eq!(mistyped.status(), 422);
    assert_eq!(json(mistyped).await["errors"][0]["field"], "company_name");

    let smuggled = app
        .post_json(
            "/api/v1/signup",
            &json!({ "company_name": "Acme", "admin_email": "a@b.co", "admin_password": "long enough pw",
                     "admin_first_name": "a", "admin_last_name": "b", "company_id": "x" }),
        )
        .await;
    assert_eq!(smuggled.status(), 422);
    assert!(
        json(smuggled).await["detail"]
            .as_str()
            .unwrap()
            .contains("company_id")
    );
    app.stop().await;
}

#[tokio::test]
async fn every_invalid_field_is_listed_at_once_and_nothing_is_written() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/signup",
            &json!({ "company_name": " ", "admin_email": "not-an-email", "admin_password": "short",
                     "admin_first_name": "", "admin_last_name": "Lovelace" }),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body = json(response).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "company_name",
            "admin_email",
            "admin_password",
            "admin_first_name"
        ]
    );
    let companies = store::companies::list(app.app.db(), 10).await.unwrap();
    assert!(
        companies.is_empty(),
        "a rejected sign-up wrote {companies:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_413_problems() {
    let app = spawn_app_with(|settings, jobs| {
        settings.max_body_bytes = 1024;
        jobs
    })
    .await;
    let big = format!("{{\"company_name\": \"{}\"}}", "x".repeat(4096));
    let response = post_raw(&app, "application/json", big.into_bytes()).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(json(response).await["status"], 413);
    app.stop().await;
}

/// A page whose session cannot be checked (the database is gone) answers with the error
/// page, as the API answers 503; it does not pretend the person is signed out.
#[tokio::test]
async fn a_page_whose_session_cannot_be_checked_is_an_error_not_a_logout() {
    let app = testkit::spawn_app().await;
    let admin = crate::common::signup(&app, "Acme", "ada@acme.io").await;
    let page = |app: &testkit::TestApp| {
        app.client
            .get(app.url("/dashboard"))
            .header("cookie", format!("tf_access={}", admin.access))
            .send()
    };
    assert_eq!(page(&app).await.unwrap().status(), 200);
    app.app.db().close().await;
    let response = page(&app).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("<html"));
    app.stop().await;
}

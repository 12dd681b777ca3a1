//! Bad requests get RFC 9457 problems naming the field, never a 500 or a partial write.

use reqwest::Method;
use serde_json::{Value, json};
use testkit::fixtures;
use testkit::{ApiResponse, Body, TestApp, spawn_app, spawn_app_with};

/// A sign-up whose body is sent as it is.
async fn sign_up_raw(app: &TestApp, content_type: &str, body: impl Into<Vec<u8>>) -> ApiResponse {
    app.api()
        .send(
            Method::POST,
            "/api/v1/signup",
            Body::raw(content_type, body),
        )
        .await
}

/// The fields a problem names, in order.
fn fields_of(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn malformed_json_wrong_type_and_missing_fields_are_clear_4xx() {
    let app = spawn_app().await;
    let anyone = app.api();

    let malformed = sign_up_raw(&app, "application/json", "{\"company_name\": ").await;
    assert!(malformed.is_problem(), "{malformed}");
    assert_eq!(malformed.expect(400)["title"], "Malformed JSON");

    let wrong_type = sign_up_raw(&app, "text/plain", "{}").await;
    assert_eq!(wrong_type.expect(415)["status"], 415);

    let missing = anyone.signup(json!({ "company_name": "Acme" })).await;
    assert_eq!(fields_of(&missing.expect(422))[0], "admin_email");

    let mistyped = anyone
        .signup(
            json!({ "company_name": 7, "admin_email": "a@b.co", "admin_password": "x",
                        "admin_first_name": "a", "admin_last_name": "b" }),
        )
        .await;
    assert_eq!(fields_of(&mistyped.expect(422))[0], "company_name");

    let smuggled = anyone
        .signup(json!({ "company_name": "Acme", "admin_email": "a@b.co", "admin_password": "long enough pw",
                        "admin_first_name": "a", "admin_last_name": "b", "company_id": "x" }))
        .await
        .expect(422);
    let detail = smuggled["detail"].as_str().unwrap();
    assert!(detail.contains("company_id"), "{smuggled}");
    app.stop().await;
}

#[tokio::test]
async fn every_invalid_field_is_listed_at_once_and_nothing_is_written() {
    let app = spawn_app().await;
    let problem = app
        .api()
        .signup(
            json!({ "company_name": " ", "admin_email": "not-an-email", "admin_password": "short",
                        "admin_first_name": "", "admin_last_name": "Lovelace" }),
        )
        .await
        .expect(422);
    assert_eq!(
        fields_of(&problem),
        [
            "company_name",
            "admin_email",
            "admin_password",
            "admin_first_name"
        ]
    );
    let staff = fixtures::platform_staff(&app).await;
    let companies = staff.companies().await.expect(200);
    assert_eq!(
        companies["items"],
        json!([]),
        "a rejected sign-up wrote {companies}"
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
    let response = sign_up_raw(&app, "application/json", big).await;
    assert!(response.is_problem(), "{response}");
    assert_eq!(response.expect(413)["status"], 413);
    app.stop().await;
}

/// A page whose session cannot be checked (the database is gone) answers with the error
/// page, as the API answers 503; it does not pretend the person is signed out.
#[tokio::test]
async fn a_page_whose_session_cannot_be_checked_is_an_error_not_a_logout() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let page = |app: &TestApp| {
        app.client
            .get(app.url("/dashboard"))
            .header("cookie", format!("tf_access={}", acme.access_token()))
            .send()
    };
    assert_eq!(page(&app).await.unwrap().status(), 200);
    // No request can take the database away: the pool is closed under the server.
    app.app.db().close().await;
    let response = page(&app).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("<html"));
    // The API answers the same way.
    acme.admin.me().await.expect(503);
    app.stop().await;
}

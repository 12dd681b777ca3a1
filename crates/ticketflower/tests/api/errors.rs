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

/// The value of the page's first hidden `name` field.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    html[start..].split('"').next().unwrap().to_owned()
}

/// A page asked for before logging in is where the login leads back to (a page of this
/// site only); a page address that names nothing, or an id that does not parse, is the
/// not-found page inside the signed-in person's layout, never JSON.
#[tokio::test]
async fn deep_links_survive_the_login_and_pages_answer_with_pages() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;

    let asked = app.get("/tickets/all?tab=archive").await;
    assert_eq!(asked.status(), 303);
    let login = asked.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(login, "/login?next=%2Ftickets%2Fall%3Ftab%3Darchive");

    let page = app.get(&login).await;
    let nonce = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|c| c.to_str().unwrap().strip_prefix("tf_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let html = page.text().await.unwrap();
    assert_eq!(hidden(&html, "next"), "/tickets/all?tab=archive");
    let token = hidden(&html, "csrf_token");
    let log_in = |next: &str| {
        let body = format!(
            "csrf_token={token}&email=ada%40acme.io&password={}&next={}",
            fixtures::PASSWORD.replace(' ', "+"),
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        app.client
            .post(app.url("/login"))
            .header("cookie", format!("tf_csrf={nonce}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let back = log_in("/tickets/all?tab=archive").await.unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], "/tickets/all?tab=archive");
    // Another site is never where a login leads.
    for elsewhere in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let answer = log_in(elsewhere).await.unwrap();
        assert_eq!(answer.headers()["location"], "/dashboard", "{elsewhere}");
    }

    // Signed in: a malformed id and an unknown page are pages, with the person's header.
    let cookie = format!("tf_access={}", acme.access_token());
    for path in ["/tickets/abc", "/tasks/not-an-id", "/no/such/page"] {
        let response = app
            .client
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let html = response.text().await.unwrap();
        assert!(
            html.contains("Log out"),
            "{path} shows the signed-in header: {html}"
        );
    }
    // Signed out, an unknown page is still a page.
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

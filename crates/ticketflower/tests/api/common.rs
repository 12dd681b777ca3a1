//! Helpers shared by the API tests: sign-ups, logins and authenticated requests. The
//! typed client (`TestApp::api`) and the fixtures shared with the browser tests
//! (`testkit::fixtures`) are in the testkit; these serve the tests not yet written with them.

use reqwest::Response;
use serde_json::{Value, json};
use testkit::{TestApp, fixtures, json};

pub use testkit::fixtures::PASSWORD;

/// A company admin after sign-up.
pub struct Admin {
    pub access: String,
    pub refresh: String,
    pub company_id: String,
    pub user_id: String,
}

/// Signs a company up through [`fixtures::sign_up`].
pub async fn signup(app: &TestApp, company: &str, email: &str) -> Admin {
    let company = fixtures::sign_up(app, company, email).await;
    Admin {
        access: company.access_token().to_owned(),
        refresh: company.refresh_token,
        company_id: company.id,
        user_id: company.admin_id,
    }
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    app.post_json(
        "/api/v1/auth/login",
        &json!({ "email": email, "password": password, "platform": "tests" }),
    )
    .await
}

pub async fn login_ok(app: &TestApp, email: &str, password: &str) -> Value {
    let response = login(app, email, password).await;
    assert_eq!(response.status(), 200, "login of {email} failed");
    json(response).await
}

pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Creates a user through the admin API and returns its id.
pub async fn create_user(app: &TestApp, admin: &str, email: &str, roles: &[&str]) -> String {
    let response = send(
        app,
        reqwest::Method::POST,
        "/api/v1/users",
        admin,
        Some(json!({
            "email": email,
            "password": PASSWORD,
            "first_name": "Uma",
            "last_name": "User",
            "system_roles": roles,
        })),
    )
    .await;
    assert_eq!(response.status(), 201);
    json(response).await["id"].as_str().unwrap().to_owned()
}

/// Creates the platform staff account ([`fixtures::platform_staff`]) and returns its
/// access token.
pub async fn staff_token(app: &TestApp) -> String {
    let staff = fixtures::platform_staff(app).await;
    staff.token().unwrap_or_default().to_owned()
}

/// The company roles the example bundles grant tasks and ticket types to.
pub const EXAMPLE_ROLES: [&str; 3] = ["managers", "security", "reviewers"];

/// Creates company roles through the admin API.
pub async fn add_roles(app: &TestApp, admin: &str, names: &[&str]) {
    for name in names {
        let response = send(
            app,
            reqwest::Method::POST,
            "/api/v1/company-roles",
            admin,
            Some(json!({ "name": name, "description": format!("{name} (test)") })),
        )
        .await;
        assert_eq!(response.status(), 201, "creating company role {name}");
    }
}

/// The CSRF token of the first form on a page (bound to the browser's cookie and session).
pub fn form_token(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no form with a CSRF token on the page: {html}"))
        .to_owned()
}

/// The mail sent to `address`, waiting up to 10 s for the jobs that write it. Read from the
/// store: no endpoint shows the outbox.
pub async fn wait_for_mail(app: &TestApp, address: &str) -> Vec<store::mail::Mail> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mail = store::mail::to_address(app.app.db(), address)
            .await
            .unwrap();
        if !mail.is_empty() || std::time::Instant::now() > deadline {
            return mail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// The answer to a page request from a browser signed in with `token` (the access cookie).
pub async fn page_answer(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("cookie", format!("tf_access={token}"))
        .send()
        .await
        .unwrap()
}

/// A page as a signed-in browser gets it; it must answer 200.
pub async fn page(app: &TestApp, token: &str, path: &str) -> String {
    let response = page_answer(app, token, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

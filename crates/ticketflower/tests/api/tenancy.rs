//! Tenant isolation: a user of company A gets 404 for every object of company B on every
//! endpoint, and B's objects never show up in A's lists.

use reqwest::Method;
use serde_json::json;
use testkit::{json, spawn_app};

use crate::common::{create_user, form_token, send, signup};

#[tokio::test]
async fn every_identity_endpoint_hides_the_other_company() {
    let app = spawn_app().await;
    let a = signup(&app, "Alpha", "admin@alpha.io").await;
    let b = signup(&app, "Beta", "admin@beta.io").await;
    let b_user = create_user(&app, &b.access, "worker@beta.io", &["task_worker"]).await;
    let b_role = json(
        send(
            &app,
            Method::POST,
            "/api/v1/company-roles",
            &b.access,
            Some(json!({ "name": "Beta staff" })),
        )
        .await,
    )
    .await;
    let b_role = b_role["id"].as_str().unwrap().to_owned();
    let b_token = json(
        send(
            &app,
            Method::POST,
            "/api/v1/api-tokens",
            &b.access,
            Some(json!({ "name": "beta bot" })),
        )
        .await,
    )
    .await;
    let b_token = b_token["id"].as_str().unwrap().to_owned();

    let probes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/v1/users/{b_user}"), None),
        (
            Method::PATCH,
            format!("/api/v1/users/{b_user}"),
            Some(json!({ "first_name": "X" })),
        ),
        (Method::DELETE, format!("/api/v1/users/{b_user}"), None),
        (
            Method::POST,
            format!("/api/v1/users/{b_user}/approve"),
            None,
        ),
        (Method::POST, format!("/api/v1/users/{b_user}/block"), None),
        (
            Method::POST,
            format!("/api/v1/users/{b_user}/unblock"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{b_user}/roles"),
            Some(json!({ "system_roles": ["user"] })),
        ),
        (Method::GET, format!("/api/v1/users/{}", b.user_id), None),
        (Method::GET, format!("/api/v1/company-roles/{b_role}"), None),
        (
            Method::PATCH,
            format!("/api/v1/company-roles/{b_role}"),
            Some(json!({ "name": "X" })),
        ),
        (
            Method::DELETE,
            format!("/api/v1/company-roles/{b_role}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/api-tokens/{b_token}"),
            None,
        ),
    ];
    for (method, path, body) in probes {
        let response = send(&app, method.clone(), &path, &a.access, body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    // Nothing of B was touched by the attempts.
    let b_view = json(
        app.get_authed(&format!("/api/v1/users/{b_user}"), &b.access)
            .await,
    )
    .await;
    assert_eq!(b_view["status"], "active");
    assert_eq!(b_view["first_name"], "Uma");

    let users = app
        .get_authed("/api/v1/users", &a.access)
        .await
        .text()
        .await
        .unwrap();
    assert!(!users.contains("beta.io"), "{users}");
    let searched = app
        .get_authed("/api/v1/users?q=beta", &a.access)
        .await
        .text()
        .await
        .unwrap();
    assert!(json_items_len(&searched) == 0, "{searched}");
    let roles = app
        .get_authed("/api/v1/company-roles", &a.access)
        .await
        .text()
        .await
        .unwrap();
    assert!(!roles.contains("Beta staff"), "{roles}");
    let tokens = app
        .get_authed("/api/v1/api-tokens", &a.access)
        .await
        .text()
        .await
        .unwrap();
    assert!(!tokens.contains("beta bot"), "{tokens}");
    let company = json(app.get_authed("/api/v1/company", &a.access).await).await;
    assert_eq!(company["name"], "Alpha");
    app.stop().await;
}

fn json_items_len(text: &str) -> usize {
    serde_json::from_str::<serde_json::Value>(text).unwrap()["items"]
        .as_array()
        .unwrap()
        .len()
}

/// The pages take the same path through the app layer: A's admin, signed in with cookies,
/// gets the not-found page for B's user, and B's forms posted by A change nothing.
#[tokio::test]
async fn admin_pages_hide_the_other_company() {
    let app = spawn_app().await;
    let a = signup(&app, "Alpha", "admin@alpha.io").await;
    let b = signup(&app, "Beta", "admin@beta.io").await;
    let b_user = create_user(&app, &b.access, "worker@beta.io", &["task_worker"]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let nonce = "c".repeat(43);
    let cookies = format!("tf_access={}; tf_csrf={nonce}", a.access);
    let own = client
        .get(app.url("/admin/users"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = form_token(&own);

    let page = client
        .get(app.url(&format!("/admin/users/{b_user}")))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("<html"));

    let list = client
        .get(app.url("/admin/users?q=beta"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains("worker@beta.io") && !list.contains("admin@beta.io"));

    let post = client
        .post(app.url(&format!("/admin/users/{b_user}/status")))
        .header("cookie", &cookies)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={csrf}&action=block"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 303);
    let user = json(
        app.get_authed(&format!("/api/v1/users/{b_user}"), &b.access)
            .await,
    )
    .await;
    assert_eq!(user["status"], "active");
}

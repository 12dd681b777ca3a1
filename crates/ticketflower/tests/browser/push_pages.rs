//! Browser notifications (issue 19) on the profile: the section offers to subscribe this
//! browser (the browser's push permission is not granted headless, so the subscription
//! itself is made through the API), lists the subscribed browsers with how their last push
//! went, sends a test push and removes a browser. At a desk's width and a phone's.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::browser::Browser;
use testkit::fixtures::{self, PASSWORD};
use testkit::{ApiClient, Body, id, spawn_app_with};

use super::identity_pages::{flash, log_in};
use super::text_with;

/// A push service on loopback: `/push/ok` accepts, `/push/bad` refuses with 400.
async fn push_service() -> String {
    use axum::extract::Path;
    use axum::routing::post;
    let handler = |Path(token): Path<String>| async move {
        if token == "bad" {
            (axum::http::StatusCode::BAD_REQUEST, "invalid token")
        } else {
            (axum::http::StatusCode::CREATED, "")
        }
    };
    let router = axum::Router::new().route("/push/{token}", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

async fn subscribe(api: &ApiClient, endpoint: &str, name: &str) -> Value {
    api.send(
        Method::POST,
        "/api/v1/push-subscriptions",
        Body::Json(json!({
            "endpoint": endpoint,
            "keys": {
                "p256dh": "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY",
                "auth": "_ordMnz7uTCmrpBTeUV4Bw",
            },
            "name": name,
        })),
    )
    .await
    .expect(201)
}

async fn wait_for_error(api: &ApiClient) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = api
            .send(Method::GET, "/api/v1/push-subscriptions", Body::Empty)
            .await
            .expect(200);
        if list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| !s["last_error"].is_null())
        {
            return;
        }
        assert!(Instant::now() < deadline, "no push failed: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_profile_lists_tests_and_removes_the_browsers_that_get_notifications() {
    let app = spawn_app_with(|settings, jobs| {
        settings.outbound_allowlist = vec!["127.0.0.1/32".into()];
        jobs
    })
    .await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agnes = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let service = push_service().await;
    subscribe(
        &agnes.api,
        &format!("{service}/push/ok"),
        "Firefox on Linux",
    )
    .await;
    let phone = subscribe(
        &agnes.api,
        &format!("{service}/push/bad"),
        "Chrome on Android",
    )
    .await;
    agnes
        .api
        .send(
            Method::POST,
            &format!("/api/v1/push-subscriptions/{}/test", id(&phone)),
            Body::Empty,
        )
        .await
        .expect(202);
    wait_for_error(&agnes.api).await;

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, "agnes@acme.io", PASSWORD).await;
    client.goto(&app.url("/profile")).await.unwrap();
    let section = text_with(client, "#browser-notifications", "Browser notifications").await;
    assert!(section.contains("Firefox on Linux"), "{section}");
    assert!(section.contains("Chrome on Android"), "{section}");
    assert!(
        section.contains("the push service answered 400: invalid token"),
        "{section}"
    );
    // The button is there for a browser that can subscribe; one that cannot says why.
    let button = client.find(Locator::Css("#push-subscribe")).await.unwrap();
    let offered = button.is_displayed().await.unwrap();
    let status = client
        .find(Locator::Css("#push-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        offered || status.contains("cannot receive notifications"),
        "neither offered nor explained: {status:?}"
    );
    assert_eq!(button.text().await.unwrap_or_default().is_empty(), !offered);
    client
        .execute(
            "document.getElementById('browser-notifications').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("push-profile-desk").await.unwrap();

    // A test push to the laptop, then the phone removed.
    client
        .find(Locator::XPath(
            "//li[strong[text()='Firefox on Linux']]//button[text()='Send test']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    flash(client, "A test notification is on its way").await;
    client
        .find(Locator::XPath(
            "//li[strong[text()='Chrome on Android']]//button[text()='Remove']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    flash(client, "no longer receives your notifications").await;
    let section = text_with(client, "#browser-notifications", "Firefox on Linux").await;
    assert!(!section.contains("Chrome on Android"), "{section}");
    let left = agnes
        .api
        .send(Method::GET, "/api/v1/push-subscriptions", Body::Empty)
        .await
        .expect(200);
    assert_eq!(left["items"].as_array().unwrap().len(), 1);

    // The laptop's test push arrived: the page says when.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        client.refresh().await.unwrap();
        let row = text_with(client, "#push-subscriptions", "Firefox on Linux").await;
        if !row.contains("last delivered never") {
            break;
        }
        assert!(Instant::now() < deadline, "no success shown: {row}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.resize(390, 844).await.unwrap();
    client.refresh().await.unwrap();
    text_with(client, "#browser-notifications", "Firefox on Linux").await;
    client
        .execute(
            "document.getElementById('browser-notifications').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("push-profile-phone").await.unwrap();
    browser.close().await;
}

//! The inbox (issue 18) in a browser: a webhook from an external chat system appears in the
//! agent's open list without a reload, the agent answers from the conversation page, the
//! provider's endpoint receives the reply, and the message shows "Delivered".

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::browser::Browser;
use testkit::fixtures::{self, PASSWORD};
use testkit::{Body, spawn_app_with};

use super::identity_pages::log_in;
use super::live_pages::{LIVE, mark, not_reloaded, shows_within};
use super::text_with;

/// The provider's endpoint: records every call and reports the message delivered.
async fn provider() -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = seen.clone();
    let router = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                axum::Json(json!({"status": "delivered"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hook"), seen)
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_inbound_webhook_reaches_the_open_inbox_live_and_the_reply_is_delivered() {
    let app = spawn_app_with(|settings, jobs| {
        settings.outbound_allowlist = vec!["127.0.0.1/32".into()];
        jobs
    })
    .await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    company
        .add_member("alex@acme.io", "Alex", &["agent"], &[])
        .await;
    let (url, seen) = provider().await;
    let channel = company
        .admin
        .send(
            Method::POST,
            "/api/v1/channels",
            Body::Json(json!({"name": "Acme Messenger", "slug": "messenger", "outbound_url": url})),
        )
        .await
        .expect(201);

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let alex = &browser.client;
    log_in(alex, &app, "alex@acme.io", PASSWORD).await;
    alex.goto(&app.url("/conversations?view=all"))
        .await
        .unwrap();
    text_with(alex, "#live-status", "Live").await;
    mark(alex).await;

    // The provider posts a signed message.
    let body = json!({
        "external_user_id": "zed-42", "external_message_id": "ext-1", "thread_id": "T-9",
        "display_name": "Zed Zulu", "content": "My parcel never arrived",
    })
    .to_string();
    let signer = app::infra::outbound::WebhookSigner::from_whsec(
        channel["inbound_secret"].as_str().unwrap(),
    )
    .unwrap();
    let headers = signer.headers("msg_1", chrono::Utc::now().timestamp(), body.as_bytes());
    let answer = app
        .client
        .post(app.url(&format!(
            "/api/v1/hooks/{}",
            channel["public_id"].as_str().unwrap()
        )))
        .header("content-type", "application/json")
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    // It appears in the open list, with its channel, without a reload.
    shows_within(
        alex,
        "#conversation-list",
        "Zed Zulu",
        Duration::from_secs(3),
    )
    .await;
    shows_within(alex, "#conversation-list", "Acme Messenger", LIVE).await;
    not_reloaded(alex).await;
    browser.screenshot("inbox-desk").await.unwrap();

    // The agent opens it and answers.
    click(alex, "#conversation-list a").await;
    shows_within(
        alex,
        "#messages",
        "My parcel never arrived",
        Duration::from_secs(5),
    )
    .await;
    shows_within(alex, "#contact-card", "zed-42", LIVE).await;
    text_with(alex, "#live-status", "Live").await;
    mark(alex).await;
    let composer = alex.find(Locator::Css("#composer-body")).await.unwrap();
    composer
        .send_keys("We are sending a new one today")
        .await
        .unwrap();
    composer.send_keys("\u{E007}").await.unwrap();

    // The provider receives it, and the page shows it delivered.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the provider got nothing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = seen.lock().unwrap()[0].clone();
    assert_eq!(sent["content"], "We are sending a new one today");
    assert_eq!(sent["contact"]["external_id"], "zed-42");
    assert_eq!(sent["thread_id"], "T-9");
    shows_within(
        alex,
        "#messages [data-delivery]",
        "Delivered",
        Duration::from_secs(5),
    )
    .await;
    browser.screenshot("inbox-conversation-desk").await.unwrap();

    browser.resize(390, 844).await.unwrap();
    browser
        .screenshot("inbox-conversation-phone")
        .await
        .unwrap();
    alex.goto(&app.url("/conversations?view=all"))
        .await
        .unwrap();
    browser.screenshot("inbox-phone").await.unwrap();
    browser.close().await;
}

//! Canned replies (issue 18) in the browser: an admin keeps them on their page (a refused
//! form says why beside the field and keeps what was typed), and an agent types `/` and a
//! shortcut in the composer, picks a reply with the keyboard or the mouse, and sends it;
//! the message sent is the canned text. At a desk's width and a phone's.

use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::browser::Browser;
use testkit::fixtures::{self, PASSWORD};
use testkit::{ApiClient, Body, id, spawn_app};

use super::identity_pages::{fill_in, flash, log_in, submit_in};
use super::live_pages::shows_within;
use super::text_with;

const ARROW_DOWN: &str = "\u{E015}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

async fn composer_value(client: &Client) -> String {
    client
        .execute(
            "return document.getElementById('composer-body').value",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

async fn type_in_composer(client: &Client, keys: &str) {
    client
        .find(Locator::Css("#composer-body"))
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

/// The options the composer's list shows now (empty when it is closed).
async fn offered(client: &Client) -> Vec<String> {
    let shown = client
        .execute(
            "const menu = document.getElementById('canned-menu'); \
             return !menu || menu.hidden ? [] : [...menu.querySelectorAll('[role=option]')].map((o) => o.textContent);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(shown).unwrap()
}

/// Waits until the list offers `expected` (the replies are fetched once the page loaded).
async fn offers(client: &Client, expected: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = offered(client).await;
        if now == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the composer offers {now:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn messages(client: &ApiClient, conversation: &str) -> Vec<Value> {
    client
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Empty,
        )
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn an_admin_keeps_canned_replies_and_an_agent_inserts_one_by_its_shortcut() {
    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    company
        .add_member("alex@acme.io", "Alex", &["agent"], &[])
        .await;
    let rita = company
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;

    // The admin finds the page in the navigation and adds a reply; a bad shortcut is
    // refused beside its field, with what was typed kept.
    let admin = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let ada = &admin.client;
    log_in(ada, &app, "ada@acme.io", PASSWORD).await;
    ada.find(Locator::LinkText("Canned replies"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "h1", "Canned replies").await;
    let form = "#add-canned-reply";
    fill_in(ada, form, "shortcut", "Late refund").await;
    fill_in(ada, form, "title", "Late refund").await;
    fill_in(ada, form, "body", "Sorry, your refund is late.").await;
    submit_in(ada, form).await;
    let error = text_with(ada, "#canned-shortcut-error", "lower-case").await;
    assert!(error.contains("letters a-z"), "{error}");
    let kept = super::value_of(ada, "#canned-body").await;
    assert_eq!(kept, "Sorry, your refund is late.");
    admin.screenshot("canned-reply-refused-desk").await.unwrap();
    fill_in(ada, form, "shortcut", "refund-late").await;
    submit_in(ada, form).await;
    flash(ada, "/refund-late was added").await;
    for (shortcut, title, body, order) in [
        (
            "refund",
            "Refund on its way",
            "Your refund is on its way.",
            0,
        ),
        ("hello", "Greeting", "Hello, how can I help?", -1),
        ("bye", "Closing", "Glad to help; bye!", 9),
    ] {
        company
            .admin
            .send(
                Method::POST,
                "/api/v1/canned-replies",
                Body::Json(
                    json!({"shortcut": shortcut, "title": title, "body": body, "sort_order": order}),
                ),
            )
            .await
            .expect(201);
    }
    // Changed on its own page, and one deleted.
    ada.refresh().await.unwrap();
    ada.find(Locator::LinkText("Late refund"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "h1", "/refund-late").await;
    fill_in(ada, "#edit-canned-reply", "title", "Refund is late").await;
    submit_in(ada, "#edit-canned-reply").await;
    flash(ada, "/refund-late was saved").await;
    ada.find(Locator::LinkText("Closing"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "h1", "/bye").await;
    ada.execute("window.confirm = () => true", vec![])
        .await
        .unwrap();
    ada.find(Locator::Css("#delete-canned-reply button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    flash(ada, "was deleted").await;
    let listed = text_with(ada, "#canned-replies", "Refund is late").await;
    assert!(!listed.contains("/bye"), "{listed}");
    admin.screenshot("canned-replies-desk").await.unwrap();
    admin.resize(390, 844).await.unwrap();
    ada.refresh().await.unwrap();
    admin.screenshot("canned-replies-phone").await.unwrap();
    admin.close().await;

    // The agent answers Rita's conversation.
    let conversation = id(&rita
        .api
        .send(
            Method::POST,
            "/api/v1/conversations",
            Body::Json(json!({"subject": "Where is my refund?"})),
        )
        .await
        .expect(201));
    let agent = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let alex = &agent.client;
    log_in(alex, &app, "alex@acme.io", PASSWORD).await;
    // Agents read the company's replies; only admins get the forms.
    alex.goto(&app.url("/admin/canned-replies")).await.unwrap();
    text_with(alex, "#canned-replies", "/refund-late").await;
    assert!(
        alex.find(Locator::Css("#add-canned-reply")).await.is_err(),
        "an agent was offered the add form"
    );
    alex.goto(&app.url(&format!("/conversations/{conversation}")))
        .await
        .unwrap();
    text_with(alex, "#live-status", "Live").await;

    // `/` and letters list the matching replies, shortcut first; the arrow keys choose and
    // Enter inserts the text in place of `/ref`, without sending.
    type_in_composer(alex, "Hi Rita! /ref").await;
    offers(
        alex,
        &["/refund-late Refund is late", "/refund Refund on its way"],
    )
    .await;
    agent.screenshot("canned-composer-desk").await.unwrap();
    type_in_composer(alex, ARROW_DOWN).await;
    type_in_composer(alex, ENTER).await;
    assert_eq!(
        composer_value(alex).await,
        "Hi Rita! Your refund is on its way."
    );
    assert!(offered(alex).await.is_empty());
    assert_eq!(messages(&rita.api, &conversation).await.len(), 0);

    // A `/` inside a word is text; Escape closes the list and leaves what was typed.
    type_in_composer(alex, " and/or /he").await;
    offers(alex, &["/hello Greeting"]).await;
    type_in_composer(alex, ESCAPE).await;
    offers(alex, &[]).await;
    type_in_composer(alex, "l").await;
    offers(alex, &[]).await;
    assert_eq!(
        composer_value(alex).await,
        "Hi Rita! Your refund is on its way. and/or /hel"
    );

    // Enter then sends the reply as written.
    alex.execute(
        "const c = document.getElementById('composer-body'); c.value = 'Hi Rita! '; c.setSelectionRange(9, 9);",
        vec![],
    )
    .await
    .unwrap();
    type_in_composer(alex, "/refund-").await;
    offers(alex, &["/refund-late Refund is late"]).await;
    type_in_composer(alex, ENTER).await;
    type_in_composer(alex, ENTER).await;
    shows_within(
        alex,
        "#messages",
        "Hi Rita! Sorry, your refund is late.",
        Duration::from_secs(5),
    )
    .await;
    let sent = messages(&rita.api, &conversation).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["body"], "Hi Rita! Sorry, your refund is late.");

    // At a phone's width the list fits the screen and a tap inserts.
    agent.resize(390, 844).await.unwrap();
    alex.refresh().await.unwrap();
    text_with(alex, "#live-status", "Live").await;
    type_in_composer(alex, "/").await;
    offers(
        alex,
        &[
            "/hello Greeting",
            "/refund-late Refund is late",
            "/refund Refund on its way",
        ],
    )
    .await;
    let fits = alex
        .execute(
            "const box = document.getElementById('canned-menu').getBoundingClientRect(); \
             return box.left >= 0 && box.right <= window.innerWidth && box.top >= 0 && box.height > 0;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the list does not fit a phone's screen");
    agent.screenshot("canned-composer-phone").await.unwrap();
    alex.find(Locator::XPath(
        "//ul[@id='canned-menu']/li[contains(., '/hello')]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    assert_eq!(composer_value(alex).await, "Hello, how can I help?");
    type_in_composer(alex, ENTER).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let sent = messages(&rita.api, &conversation).await;
        if sent.len() == 2 {
            assert_eq!(sent[1]["body"], "Hello, how can I help?");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tapped reply was not sent: {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    agent.close().await;
    app.stop().await;
}

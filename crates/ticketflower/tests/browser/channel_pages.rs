//! The admin's channel pages (issue 18) in a browser at a desk's and a phone's width: a test
//! channel made through the form shows its secrets once, its page sends a message as a
//! contact, and the reply an agent writes shows as what would be delivered. Screenshots of
//! each page at both widths are saved for a person to look at.

use fantoccini::Locator;
use reqwest::Method;
use serde_json::json;
use testkit::browser::Browser;
use testkit::fixtures::{self, PASSWORD};
use testkit::{Body, spawn_app};

use crate::identity_pages::{fill_in, flash, log_in, submit_in};
use crate::shell::fits;
use crate::text_with;

#[tokio::test]
async fn an_admin_makes_a_test_channel_sends_through_it_and_reads_its_deliveries() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let ada = &browser.client;
    browser.resize(1366, 900).await.unwrap();
    log_in(ada, &app, "ada@acme.io", PASSWORD).await;
    ada.find(Locator::LinkText("Channels"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "h1", "Channels").await;

    // A wrong slug is said beside it; then the channel is made and its secrets shown.
    fill_in(ada, "#new-channel", "name", "Try the inbox").await;
    fill_in(ada, "#new-channel", "slug", "Try Inbox").await;
    ada.find(Locator::Css("#new-channel input[name=kind][value=test]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    submit_in(ada, "#new-channel").await;
    text_with(ada, "#channel-slug-error", "lower-case").await;
    browser.screenshot("channels-refused-desk").await.unwrap();
    fill_in(ada, "#new-channel", "slug", "try").await;
    submit_in(ada, "#new-channel").await;
    let secret = text_with(ada, "#inbound-secret", "whsec_").await;
    text_with(ada, "#channel-secrets", "shown only this once").await;
    fits(ada).await;
    browser.screenshot("channels-created-desk").await.unwrap();

    // Its page sends a message as a contact, which lands in the inbox.
    ada.find(Locator::Css("#channel-secrets a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "h1", "Try the inbox").await;
    let page = ada.current_url().await.unwrap();
    assert!(!ada.source().await.unwrap().contains(&secret), "shown once");
    fill_in(ada, "#send-test", "external_user_id", "visitor-42").await;
    fill_in(ada, "#send-test", "display_name", "Sam Visitor").await;
    fill_in(ada, "#send-test", "content", "Where is my parcel?").await;
    submit_in(ada, "#send-test").await;
    flash(ada, "The message arrived in the inbox").await;
    let link = ada
        .find(Locator::Css("#test-sent a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let conversation = link.trim_start_matches("/conversations/").to_owned();

    // The agent's reply is recorded as what would be delivered.
    acme.admin
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Json(json!({"body": "It left our warehouse this morning."})),
        )
        .await
        .expect(201);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        ada.goto(page.as_str()).await.unwrap();
        if ada
            .find(Locator::Css("tr[data-state='delivered']"))
            .await
            .is_ok()
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    ada.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    browser.screenshot("channel-desk").await.unwrap();
    ada.find(Locator::Css("#delivery-list details summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "#delivery-list pre", "It left our warehouse").await;
    fits(ada).await;
    ada.execute(
        "document.querySelector('#deliveries').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    browser.screenshot("channel-deliveries-desk").await.unwrap();
    ada.find(Locator::Css("#delivery-list td a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "#attempts", "recorded by the test channel").await;
    browser.screenshot("channel-delivery-desk").await.unwrap();

    // The same pages on a phone.
    browser.resize(390, 844).await.unwrap();
    ada.refresh().await.unwrap();
    fits(ada).await;
    browser.screenshot("channel-delivery-phone").await.unwrap();
    ada.goto(page.as_str()).await.unwrap();
    text_with(ada, "h1", "Try the inbox").await;
    fits(ada).await;
    browser.screenshot("channel-phone").await.unwrap();
    ada.goto(&app.url("/admin/channels")).await.unwrap();
    text_with(ada, "#channels", "Try the inbox").await;
    fits(ada).await;
    browser.screenshot("channels-phone").await.unwrap();
    ada.goto(&app.url("/admin/webhooks")).await.unwrap();
    text_with(ada, "h1", "Event webhooks").await;
    // No task is completed here: nothing is ever sent to this address.
    fill_in(
        ada,
        "#new-webhook",
        "url",
        "https://crm.example.invalid/events",
    )
    .await;
    fill_in(ada, "#new-webhook", "kinds", "task.completed").await;
    submit_in(ada, "#new-webhook").await;
    text_with(ada, "#webhook-secret", "shown only this once").await;
    fits(ada).await;
    browser.screenshot("webhooks-phone").await.unwrap();
    ada.find(Locator::Css("#webhook-secret a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "#webhook-summary", "crm.example.invalid").await;
    fits(ada).await;
    browser.screenshot("webhook-phone").await.unwrap();
    browser.close().await;
    app.stop().await;
}

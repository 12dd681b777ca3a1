//! The bell (issue 19): a worker completes a task in another session and the requester's
//! bell counts it without a reload; opening it from the bell lands on the ticket and marks it
//! read; the notifications page groups per ticket; the settings page saves a choice and
//! refuses a bad time zone; at a desk's and a phone's width.

use fantoccini::Locator;
use serde_json::json;
use testkit::browser::Browser;
use testkit::fixtures::{self, PASSWORD};
use testkit::{id, spawn_app};

use super::identity_pages::{click, flash, log_in};
use super::{text_of, text_with, wait_for_path};

async fn no_sideways_scroll(client: &fantoccini::Client) {
    let overflow = client
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, false, "the page scrolls sideways");
}

#[tokio::test]
async fn the_requesters_bell_counts_a_finished_step_live_and_opens_the_ticket() {
    let app = spawn_app().await;
    let desk = fixtures::purchase_desk(&app, fixtures::when_approved()).await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, &desk.requester.email, PASSWORD).await;
    client.goto(&app.url("/tickets")).await.unwrap();
    // Nothing yet: the bell shows no count.
    text_of(client, "#bell summary").await;
    assert!(client.find(Locator::Css("#bell-count")).await.is_err());

    let ticket = desk.request_purchase(250, "A standing desk").await;
    let ticket_id = id(&ticket);
    // The page is live before the worker acts (its stream is subscribed).
    text_with(client, "#live-status", "Live").await;
    let review = ticket["tasks"][0]["id"].as_str().unwrap().to_owned();
    desk.reviewer.api.claim_task(&review).await.expect(200);
    desk.reviewer
        .api
        .complete_task(&review, json!({"approved": true}))
        .await
        .expect(200);

    // Counted without a reload.
    assert_eq!(text_with(client, "#bell-count", "1").await, "1");
    click(client, "//details[@id='bell']/summary").await;
    let item = text_of(client, "#bell .bell-list li.unread").await;
    assert!(item.contains("#1") && item.contains("Buy it"), "{item}");
    browser.screenshot("bell-desk").await.unwrap();
    click(
        client,
        "//details[@id='bell']//li[contains(@class,'unread')]/a",
    )
    .await;
    wait_for_path(client, &format!("/tickets/{ticket_id}")).await;
    // Opened means read.
    text_of(client, "#bell summary").await;
    assert!(client.find(Locator::Css("#bell-count")).await.is_err());
    // The requester follows their ticket without asking, and may stop.
    click(
        client,
        "//form[@id='ticket-follow']/button[text()='Unfollow']",
    )
    .await;
    flash(client, "You no longer hear of this ticket.").await;
    text_with(client, "#ticket-follow", "Follow").await;

    // The notifications page: one group for the ticket.
    client.goto(&app.url("/notifications")).await.unwrap();
    let group = text_of(client, ".notification-group").await;
    assert!(
        group.contains("#1 ") && group.contains("1 update"),
        "{group}"
    );
    browser.screenshot("notifications-desk").await.unwrap();

    // Settings: a choice saved; a bad time zone refused with the field named.
    client
        .goto(&app.url("/notifications/preferences"))
        .await
        .unwrap();
    click(
        client,
        "//tr[@data-kind='ticket_step']//input[@name='ticket_step:email']",
    )
    .await;
    click(client, "//form[@id='preferences']//button[@type='submit']").await;
    flash(client, "Your notification settings are saved.").await;
    let email = client
        .find(Locator::Css("input[name='ticket_step:email']"))
        .await
        .unwrap();
    // Off by default for a new step; ticked, it is on now.
    assert_eq!(
        email.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    let zone = client.find(Locator::Css("#time-zone")).await.unwrap();
    zone.send_keys("Mars/Olympus").await.unwrap();
    for (name, value) in [("quiet_start", "22:00"), ("quiet_end", "07:00")] {
        // Time inputs take what a person types, in the browser's own format.
        client
            .execute(
                &format!("document.querySelector(\"input[name='{name}']\").value = '{value}'"),
                vec![],
            )
            .await
            .unwrap();
    }
    click(client, "//form[@id='preferences']//button[@type='submit']").await;
    let errors = text_of(client, "#form-errors").await;
    assert!(
        errors.contains("Time zone: must be an IANA time zone"),
        "{errors}"
    );
    browser
        .screenshot("notification-settings-desk")
        .await
        .unwrap();

    browser.resize(390, 844).await.unwrap();
    client.goto(&app.url("/notifications")).await.unwrap();
    text_of(client, ".notification-group").await;
    no_sideways_scroll(client).await;
    click(client, "//details[@id='bell']/summary").await;
    browser.screenshot("bell-phone").await.unwrap();
    client
        .goto(&app.url("/notifications/preferences"))
        .await
        .unwrap();
    text_of(client, "#preferences").await;
    no_sideways_scroll(client).await;
    browser
        .screenshot("notification-settings-phone")
        .await
        .unwrap();
    browser.close().await;
    app.stop().await;
}

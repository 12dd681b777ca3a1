//! Live pages (issue 16): a requester watches their ticket while a reviewer, in another
//! browser, claims and approves it; the requester's page shows each step within 2 s,
//! without a reload, and says it is live. A ticket admin's list of all tickets shows a new
//! ticket the same way.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;
use testkit::browser::Browser;
use testkit::fixtures::{PASSWORD, purchase_desk, when_approved};
use testkit::spawn_app;

use super::identity_pages::log_in;
use super::text_with;

/// Waits up to `within` for `css` to contain `needle`; fails with what it showed.
pub(super) async fn shows_within(client: &Client, css: &str, needle: &str, within: Duration) {
    let deadline = Instant::now() + within;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if text.contains(needle) {
                return;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{css} did not show {needle:?} within {within:?}; it showed {last:?}");
}

/// How long a page may take to show a change live. What the tests assert is that it comes
/// without a reload ([`mark`], [`not_reloaded`]); the time only bounds the wait. It is
/// generous because CI runs the suite's tests side by side on two cores, and on PostgreSQL
/// the log is read below the horizon of every transaction then running in the cluster,
/// other tests' included (`store::events`).
pub(super) const LIVE: Duration = Duration::from_secs(5);

/// Marks the page, so that a reload (which would drop the mark) is told apart from a live
/// update.
pub(super) async fn mark(client: &Client) {
    client
        .execute("window.__noReload = true", vec![])
        .await
        .unwrap();
}

pub(super) async fn not_reloaded(client: &Client) {
    let mark = client
        .execute("return window.__noReload === true", vec![])
        .await
        .unwrap();
    assert_eq!(mark, json!(true), "the page was reloaded");
}

#[tokio::test]
async fn a_requesters_open_ticket_shows_the_reviewers_work_without_a_reload() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let ticket = desk.request_purchase(120, "A standing desk").await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let task = ticket["tasks"][0]["id"].as_str().unwrap().to_owned();

    let requester = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let rita = &requester.client;
    log_in(rita, &app, "rita@acme.io", PASSWORD).await;
    rita.goto(&app.url(&format!("/tickets/{id}")))
        .await
        .unwrap();
    text_with(rita, "#live-status", "Live").await;
    mark(rita).await;

    let reviewer = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let victor = &reviewer.client;
    log_in(victor, &app, "victor@acme.io", PASSWORD).await;
    victor
        .goto(&app.url(&format!("/tasks/{task}")))
        .await
        .unwrap();
    // The reviewer claims the task in their browser...
    victor
        .find(Locator::Css("form[action$='/claim'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shows_within(rita, "#ticket-tasks", "Victor", Duration::from_secs(2)).await;
    // ...and approves it through the API, as an integration would.
    desk.reviewer
        .api
        .complete_task(&task, json!({"approved": true, "note": "fine"}))
        .await
        .expect(200);
    shows_within(rita, "#timeline", "Victor", Duration::from_secs(2)).await;
    shows_within(rita, "#ticket-tasks", "Buy it", Duration::from_secs(2)).await;
    not_reloaded(rita).await;
    requester.screenshot("live-ticket-desk").await.unwrap();

    // A ticket admin's list of every ticket takes in a new one.
    let admin = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let ada = &admin.client;
    log_in(ada, &app, "ada@acme.io", PASSWORD).await;
    ada.goto(&app.url("/tickets/all")).await.unwrap();
    text_with(ada, "#live-status", "Live").await;
    mark(ada).await;
    desk.request_purchase(35, "A second lamp").await;
    shows_within(ada, "#tickets", "A second lamp", Duration::from_secs(2)).await;
    shows_within(ada, "#pager-count", "of 2 tickets", Duration::from_secs(2)).await;
    not_reloaded(ada).await;

    admin.close().await;
    reviewer.close().await;
    requester.close().await;
    app.stop().await;
}

//! Browser tests: Debian's headless Chromium, driven over WebDriver, against the real
//! server on a loopback port. What is asserted is what a person sees on the page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use fantoccini::Locator;
use testkit::browser::Browser;
use testkit::spawn_app;

#[tokio::test]
async fn landing_page_shows_what_ticketflower_is() {
    let app = spawn_app().await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    client.goto(&app.url("/")).await.unwrap();

    assert_eq!(
        client.title().await.unwrap(),
        "TicketFlower — your service desk"
    );
    let heading = client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "Your service desk, your workflows");
    let cards = client.find_all(Locator::Css(".card h2")).await.unwrap();
    assert_eq!(cards.len(), 3);

    // The vendored stylesheet applied (not the browser's default serif font / margins).
    let margin = client
        .execute("return getComputedStyle(document.body).margin", vec![])
        .await
        .unwrap();
    assert_eq!(margin, "0px");

    client
        .find(Locator::LinkText("API reference"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let url = client.current_url().await.unwrap();
    assert!(url.path().starts_with("/api/docs"), "{url}");

    browser.close().await;
    app.stop().await;
}

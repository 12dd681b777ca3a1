//! Browser tests: Debian's headless Chromium, driven over WebDriver, against the real
//! server on a loopback port. What is asserted is what a person sees on the page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use fantoccini::Locator;
use testkit::browser::Browser;
use testkit::spawn_app;

mod canned_pages;
mod channel_pages;
mod chat_pages;
mod conversation_ticket_pages;
mod design_pages;
mod error_log_pages;
mod identity_pages;
mod inbox_pages;
mod live_pages;
mod notification_pages;
mod push_pages;
mod shell;
mod ticket_pages;

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

pub(crate) async fn fill(client: &fantoccini::Client, name: &str, value: &str) {
    let field = client
        .find(Locator::Css(&format!("input[name='{name}']")))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

pub(crate) async fn submit(client: &fantoccini::Client) {
    client
        .find(Locator::Css("main form button[type='submit']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The current value of an input (what a refused form kept).
pub(crate) async fn value_of(client: &fantoccini::Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Waits (form submissions navigate asynchronously) for the element, then reads its text;
/// an element that goes stale because the page navigated meanwhile is looked up again.
pub(crate) async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    text_with(client, css, "").await
}

/// Like [`text_of`], but waits until the text contains `needle`: for elements the page
/// before a navigation also had (a heading), so the old page's text is never returned.
pub(crate) async fn text_with(client: &fantoccini::Client, css: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if text.contains(needle) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no {css} containing {needle:?}; last seen {last:?}")
}

/// Waits until the browser is on `path`.
pub(crate) async fn wait_for_path(client: &fantoccini::Client, path: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let url = client.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stuck on {url}, expected {path}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sign_up_log_out_log_in_and_see_the_dashboard() {
    let app = spawn_app().await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;

    client.goto(&app.url("/signup")).await.unwrap();
    fill(client, "company_name", "Flower Shop").await;
    fill(client, "admin_first_name", "Rose").await;
    fill(client, "admin_last_name", "Petal").await;
    fill(client, "admin_email", "rose@flowers.io").await;
    fill(client, "admin_password", "short").await;
    submit(client).await;
    // The form comes back with the problem next to the field and the entries kept.
    assert!(
        text_of(client, ".alert.error")
            .await
            .contains("correct the fields")
    );
    let error = text_of(client, "input[name='admin_password'] + .field-error").await;
    assert!(error.contains("at least 8 characters"), "{error}");
    let kept = client
        .find(Locator::Css("input[name='company_name']"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("Flower Shop"));

    fill(client, "admin_password", "roses are red 42").await;
    submit(client).await;
    wait_for_path(client, "/dashboard").await;
    assert_eq!(text_of(client, "h1").await, "Welcome, Rose");
    let whoami = text_of(client, "#whoami").await;
    assert!(
        whoami.contains("rose@flowers.io") && whoami.contains("Flower Shop"),
        "{whoami}"
    );
    assert_eq!(text_of(client, "#signed-in-as").await, "Rose Petal");

    identity_pages::log_out(client).await;
    assert!(text_of(client, ".alert.ok").await.contains("logged out"));
    client.goto(&app.url("/dashboard")).await.unwrap();
    wait_for_path(client, "/login").await;

    fill(client, "email", "ROSE@flowers.io").await;
    fill(client, "password", "roses are red 42").await;
    submit(client).await;
    wait_for_path(client, "/dashboard").await;
    assert_eq!(text_of(client, "h1").await, "Welcome, Rose");

    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_failed_login_says_so() {
    let app = spawn_app().await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    client.goto(&app.url("/login")).await.unwrap();
    fill(client, "email", "nobody@flowers.io").await;
    fill(client, "password", "not my password").await;
    submit(client).await;
    assert_eq!(
        text_of(client, "#login-error").await,
        "Email or password is incorrect."
    );
    let email = client
        .find(Locator::Css("input[name='email']"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(email.as_deref(), Some("nobody@flowers.io"));
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_is_rejected() {
    let app = spawn_app().await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    client.goto(&app.url("/signup")).await.unwrap();
    client
        .execute(
            "document.querySelector(\"input[name='csrf_token']\").remove()",
            vec![],
        )
        .await
        .unwrap();
    fill(client, "company_name", "Forged Inc").await;
    fill(client, "admin_first_name", "Eve").await;
    fill(client, "admin_last_name", "Forger").await;
    fill(client, "admin_email", "eve@forged.io").await;
    fill(client, "admin_password", "forged but long 1").await;
    submit(client).await;
    assert_eq!(
        text_with(client, "h1", "could not be accepted").await,
        "This form could not be accepted"
    );
    let staff = testkit::fixtures::platform_staff(&app).await;
    let companies = staff.companies().await.expect(200);
    assert_eq!(
        companies["items"],
        serde_json::json!([]),
        "the forged form created {companies}"
    );
    browser.close().await;
    app.stop().await;
}

//! The app shell at a desk's and a phone's width: the navigation by area with what waits
//! there, the header's search and user menu, breadcrumbs, and no page wider than the
//! screen. Screenshots of the main pages at both widths are saved for a person to look at.

use fantoccini::{Client, Locator};
use serde_json::Value;
use testkit::browser::Browser;
use testkit::fixtures::{PASSWORD, purchase_desk, when_approved};
use testkit::spawn_app;

use crate::identity_pages::{click, log_in, log_out};
use crate::{text_with, wait_for_path};

const DESK: (u32, u32) = (1366, 900);
const PHONE: (u32, u32) = (390, 844);

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

/// Whether the element is laid out and visible.
async fn shown(client: &Client, css: &str) -> bool {
    js(
        client,
        &format!(
            "const e = document.querySelector({css:?}); return !!e && e.getClientRects().length > 0 \
             && getComputedStyle(e).visibility !== 'hidden';"
        ),
    )
    .await
        == Value::Bool(true)
}

/// The page is no wider than the window: nothing to scroll sideways but inside a table.
pub(crate) async fn fits(client: &Client) {
    let overflow = js(
        client,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
    )
    .await;
    if overflow != 0 {
        // Name what sticks out, to fix it.
        let wide = js(
            client,
            "const w = document.documentElement.clientWidth; return [...document.querySelectorAll('body *')] \
             .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('table')) \
             .slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + \
             Math.round(e.getBoundingClientRect().right)).join(', ');",
        )
        .await;
        let url = client.current_url().await.unwrap();
        panic!("{url} scrolls sideways by {overflow} px: {wide}");
    }
}

async fn nav_texts(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for link in client
        .find_all(Locator::Css("#nav .nav-group a"))
        .await
        .unwrap()
    {
        let text = link.text().await.unwrap();
        out.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    out
}

#[tokio::test]
async fn the_shell_serves_a_desk_and_a_phone() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let ticket = desk
        .request_purchase(240, "A standing desk for the office")
        .await;
    let task = ticket["tasks"][0]["id"].as_str().unwrap().to_owned();
    desk.reviewer.api.claim_task(&task).await.expect(200);

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    browser.resize(DESK.0, DESK.1).await.unwrap();

    // The reviewer: their work first, with what waits on them counted.
    log_in(client, &app, "victor@acme.io", PASSWORD).await;
    assert!(
        shown(client, "#nav").await,
        "the navigation is beside the page"
    );
    assert!(!shown(client, "#menu-toggle").await);
    let nav = nav_texts(client).await;
    assert!(nav.contains(&"My tasks 1".to_owned()), "{nav:?}");
    assert!(!nav.iter().any(|l| l.starts_with("Users")), "{nav:?}");
    let waiting = text_with(client, "#waiting-on-you", "Review the request").await;
    assert!(
        waiting.contains("A standing desk") || waiting.contains("Purchase"),
        "{waiting}"
    );
    browser.screenshot("home-reviewer-desk").await.unwrap();
    // One line of header at 1366 px: the brand, the search and the user menu side by side
    // (their middles at the same height).
    let spread = js(
        client,
        "const mids = ['.brand', '#global-search', '#user-menu'].map(s => { \
           const r = document.querySelector(s).getBoundingClientRect(); \
           return (r.top + r.bottom) / 2; }); \
         return Math.max(...mids) - Math.min(...mids);",
    )
    .await;
    assert!(spread.as_f64().unwrap() < 8.0, "the header wraps: {spread}");
    fits(client).await;

    // The task page names where it sits.
    click(
        client,
        "//section[@id='waiting-on-you']//a[text()='Review the request']",
    )
    .await;
    let crumbs = text_with(client, "nav.crumbs", "My tasks").await;
    assert!(
        crumbs.contains(&format!("#{}", ticket["number"])),
        "{crumbs}"
    );
    browser.screenshot("task-desk").await.unwrap();
    log_out(client).await;

    // The admin: every area, the open count of the team's lists, and the search box.
    log_in(client, &app, "ada@acme.io", PASSWORD).await;
    let nav = nav_texts(client).await;
    for link in [
        "Home",
        "My tickets",
        "New ticket",
        "All tickets",
        "All tasks",
        "Workflow errors",
        "Workflows",
        "Users",
        "Company roles",
        "API tokens",
    ] {
        assert!(nav.iter().any(|l| l == link), "no {link} in {nav:?}");
    }
    let search = client.find(Locator::Css("#global-q")).await.unwrap();
    search.send_keys("standing\u{E007}").await.unwrap();
    wait_for_path(client, "/tickets/all").await;
    let rows = text_with(client, "#tickets tbody", "standing").await;
    assert!(rows.contains("Review the request · Victor"), "{rows}");
    assert_eq!(
        text_with(client, "#pager-count", "of").await,
        "1–1 of 1 ticket"
    );
    let current = text_with(client, "#nav a[aria-current='page']", "All").await;
    assert_eq!(current, "All tickets");
    browser.screenshot("all-tickets-desk").await.unwrap();

    // A number jumps to its ticket.
    let search = client.find(Locator::Css("#global-q")).await.unwrap();
    search
        .send_keys(&format!("#{}\u{E007}", ticket["number"]))
        .await
        .unwrap();
    wait_for_path(
        client,
        &format!("/tickets/{}", ticket["id"].as_str().unwrap()),
    )
    .await;
    text_with(client, "nav.crumbs", "All tickets").await;
    browser.screenshot("ticket-desk").await.unwrap();

    // A phone: the navigation waits behind "Menu", and nothing is wider than the screen.
    browser.resize(PHONE.0, PHONE.1).await.unwrap();
    client.goto(&app.url("/dashboard")).await.unwrap();
    text_with(client, "h1", "Welcome").await;
    assert!(shown(client, "#menu-toggle").await);
    assert!(
        !shown(client, "#nav").await,
        "the navigation is folded away"
    );
    fits(client).await;
    browser.screenshot("home-admin-phone").await.unwrap();
    click(client, "//a[@id='menu-toggle']").await;
    assert!(shown(client, "#nav").await, "Menu opens the navigation");
    browser.screenshot("menu-phone").await.unwrap();
    click(
        client,
        "//nav[@id='nav']//a[starts-with(normalize-space(.), 'All tickets')]",
    )
    .await;
    wait_for_path(client, "/tickets/all").await;
    text_with(client, "#tickets", "standing").await;
    fits(client).await;
    browser.screenshot("all-tickets-phone").await.unwrap();
    client
        .goto(&app.url(&format!("/tickets/{}", ticket["id"].as_str().unwrap())))
        .await
        .unwrap();
    text_with(client, "h1", "").await;
    fits(client).await;
    browser.screenshot("ticket-phone").await.unwrap();

    // The other main pages fit both widths too.
    for (path, name) in [
        ("/tickets/new", "new-ticket"),
        ("/tasks/all", "all-tasks"),
        ("/design/workflows", "workflows"),
        ("/admin/users", "users"),
        ("/profile", "profile"),
    ] {
        for (width, height, label) in [(PHONE.0, PHONE.1, "phone"), (DESK.0, DESK.1, "desk")] {
            browser.resize(width, height).await.unwrap();
            client.goto(&app.url(path)).await.unwrap();
            let title = client.title().await.unwrap();
            assert!(title.ends_with("— TicketFlower"), "{path}: {title}");
            text_with(client, "h1", "").await;
            fits(client).await;
            browser
                .screenshot(&format!("{name}-{label}"))
                .await
                .unwrap();
        }
    }
    browser.resize(PHONE.0, PHONE.1).await.unwrap();

    // The user menu holds the profile and the way out.
    click(client, "//details[@id='user-menu']/summary").await;
    assert!(shown(client, ".user-menu-items a[href='/profile']").await);
    browser.screenshot("user-menu-phone").await.unwrap();
    click(client, "//button[text()='Log out']").await;
    wait_for_path(client, "/logout").await;

    browser.close().await;
    app.stop().await;
}

//! The support chat (issue 17) with two browsers: a requester and an agent. A message sent
//! by one appears in the other within 1 s without a reload, the typing indicator appears and
//! expires, the read receipt flips, and an internal note never reaches the requester.

use std::time::Duration;

use fantoccini::{Client, Locator};
use testkit::browser::Browser;
use testkit::fixtures::{self, PASSWORD};
use testkit::spawn_app;

use super::identity_pages::log_in;
use super::live_pages::{LIVE, mark, not_reloaded, shows_within};
use super::text_with;

async fn send(client: &Client, text: &str) {
    let composer = client.find(Locator::Css("#composer-body")).await.unwrap();
    composer.send_keys(text).await.unwrap();
    // Enter sends.
    composer.send_keys("\u{E007}").await.unwrap();
}

async fn hidden(client: &Client, css: &str) -> bool {
    client
        .execute(
            &format!("return document.querySelector({css:?}).hidden"),
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}

/// The presence shown for the other side in the conversation's header.
async fn presence(client: &Client) -> String {
    client
        .execute(
            "const dot = document.querySelector('#chat-head .presence'); return dot ? dot.dataset.state : 'none'",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_requester_and_an_agent_chat_live_with_typing_receipts_and_private_notes() {
    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    company
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    company
        .add_member("alex@acme.io", "Alex", &["agent"], &[])
        .await;

    // The requester starts a conversation from the support page.
    let requester = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let rita = &requester.client;
    log_in(rita, &app, "rita@acme.io", PASSWORD).await;
    rita.goto(&app.url("/support")).await.unwrap();
    rita.find(Locator::Css("#start-form textarea[name=body]"))
        .await
        .unwrap()
        .send_keys("My laptop will not start")
        .await
        .unwrap();
    rita.find(Locator::Css("#start-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shows_within(
        rita,
        "#messages",
        "My laptop will not start",
        Duration::from_secs(5),
    )
    .await;
    let conversation = rita.current_url().await.unwrap();
    text_with(rita, "#live-status", "Live").await;
    mark(rita).await;

    // The agent, who was given it, opens it from their queue.
    let agent = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let alex = &agent.client;
    log_in(alex, &app, "alex@acme.io", PASSWORD).await;
    alex.goto(&app.url("/conversations")).await.unwrap();
    alex.find(Locator::Css("#conversation-list a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shows_within(
        alex,
        "#messages",
        "My laptop will not start",
        Duration::from_secs(5),
    )
    .await;
    text_with(alex, "#live-status", "Live").await;
    mark(alex).await;
    // The requester sees the agent come online, without a reload.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while presence(rita).await != "online" {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never showed online: {}",
            presence(rita).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Opening it read it: the requester's message flips to "Read" on her page.
    shows_within(
        rita,
        "#messages .message.mine .receipt",
        "Read",
        Duration::from_secs(2),
    )
    .await;

    // The agent types: the requester sees it, and it goes away by itself.
    alex.find(Locator::Css("#composer-body"))
        .await
        .unwrap()
        .send_keys("Hel")
        .await
        .unwrap();
    shows_within(rita, "#typing", "Alex", Duration::from_secs(3)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while !hidden(rita, "#typing").await {
        assert!(
            std::time::Instant::now() < deadline,
            "the typing indicator did not expire"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A message reaches the other side live, without a reload.
    send(alex, "lo! Is it charging?").await;
    shows_within(rita, "#messages", "Hello! Is it charging?", LIVE).await;
    send(rita, "Yes, the light is on").await;
    shows_within(alex, "#messages", "Yes, the light is on", LIVE).await;

    // An internal note stays with the agents.
    alex.find(Locator::Css("#composer input[name=internal]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    send(alex, "Probably the battery; order one").await;
    shows_within(alex, "#messages", "order one", Duration::from_secs(2)).await;
    send(alex, "We will send you a new battery").await;
    shows_within(rita, "#messages", "new battery", LIVE).await;
    let seen = rita
        .find(Locator::Css("#messages"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!seen.contains("order one"), "{seen}");
    not_reloaded(rita).await;

    // A file and a link: the agent gets the file to download and the link to click, safely.
    let log = std::env::temp_dir().join(format!("boot-{}.log", std::process::id()));
    std::fs::write(&log, "boot failed: battery 0%\n").unwrap();
    rita.find(Locator::Css("#composer-files"))
        .await
        .unwrap()
        .send_keys(log.to_str().unwrap())
        .await
        .unwrap();
    send(rita, "The log, and see https://status.example.com/incident").await;
    shows_within(alex, "#messages .files", "boot-", Duration::from_secs(2)).await;
    // Read in one script: a live refresh may replace the list between two WebDriver calls.
    let found = alex
        .execute(
            "const link = document.querySelector(\"#messages a[href='https://status.example.com/incident']\"); \
             const file = document.querySelector('#messages .files a'); \
             return [link ? link.rel : '', file ? file.getAttribute('href') : ''];",
            vec![],
        )
        .await
        .unwrap();
    let rel = found[0].as_str().unwrap_or_default().to_owned();
    assert!(rel.contains("noopener") && rel.contains("ugc"), "{rel}");
    let href = found[1].as_str().unwrap_or_default().to_owned();
    assert!(href.contains("/files/"), "{href}");
    let _ = std::fs::remove_file(&log);

    // The agent asks with a template; the requester answers through its form, and a wrong
    // answer is refused beside its field.
    app::templates::load_defaults(&app.app).await.unwrap();
    alex.refresh().await.unwrap();
    let ask = alex.find(Locator::Css("#ask-form select")).await.unwrap();
    ask.select_by_label("User Experience Summary")
        .await
        .unwrap();
    alex.find(Locator::Css("#ask-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shows_within(
        rita,
        "#messages",
        "How was your experience",
        Duration::from_secs(2),
    )
    .await;
    rita.refresh().await.unwrap();
    let rating = rita
        .find(Locator::Css("#answer-form input[name='answers.rating']"))
        .await
        .unwrap();
    rating.send_keys("9").await.unwrap();
    rita.find(Locator::Css("#answer-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(rita, "#answer-form", "at most 5").await;
    let rating = rita
        .find(Locator::Css("#answer-form input[name='answers.rating']"))
        .await
        .unwrap();
    rating.clear().await.unwrap();
    rating.send_keys("5").await.unwrap();
    rita.find(Locator::Css("#answer-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shows_within(
        alex,
        "#messages",
        "Rating (1 to 5): 5",
        Duration::from_secs(2),
    )
    .await;
    requester.screenshot("chat-requester-desk").await.unwrap();
    agent.screenshot("chat-agent-desk").await.unwrap();
    requester.resize(390, 844).await.unwrap();
    rita.goto(conversation.as_str()).await.unwrap();
    requester.screenshot("chat-requester-phone").await.unwrap();
    agent.resize(390, 844).await.unwrap();
    alex.goto(&app.url("/conversations")).await.unwrap();
    agent.screenshot("chat-queue-phone").await.unwrap();

    agent.close().await;
    requester.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_admin_sets_the_chat_and_a_wrong_value_is_refused_beside_its_field() {
    let app = spawn_app().await;
    fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let ada = &browser.client;
    log_in(ada, &app, "ada@acme.io", PASSWORD).await;
    ada.goto(&app.url("/admin/chat")).await.unwrap();
    let field = ada.find(Locator::Css("#max-message-chars")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("0").await.unwrap();
    ada.find(Locator::Css("#chat-settings button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "#max-message-chars-error", "between 1 and 20000").await;
    let field = ada.find(Locator::Css("#max-message-chars")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("800").await.unwrap();
    ada.find(Locator::Css("input[name=assignment][value=round_robin]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    ada.find(Locator::Css("#chat-settings button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(ada, "main", "The chat settings were saved").await;
    let company = ada
        .execute(
            "return document.querySelector('#max-message-chars').value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(company, "800");
    browser.screenshot("chat-settings-desk").await.unwrap();
    browser.resize(390, 844).await.unwrap();
    ada.refresh().await.unwrap();
    browser.screenshot("chat-settings-phone").await.unwrap();
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_agent_finds_a_message_opens_it_in_its_conversation_and_reads_the_transcript() {
    use reqwest::Method;
    use serde_json::json;
    use testkit::Body;

    use super::identity_pages::{fill_in, submit_in};

    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let rita = company
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    company
        .add_member("alex@acme.io", "Alex", &["agent"], &[])
        .await;
    let opened = rita
        .api
        .send(
            Method::POST,
            "/api/v1/conversations",
            Body::Json(json!({"subject": "VPN drops"})),
        )
        .await
        .expect(201);
    let conversation = testkit::id(&opened);
    let path = format!("/api/v1/conversations/{conversation}/messages");
    // The message to find is early: the conversation opens at its newest message.
    for n in 1..=30 {
        let body = if n == 3 {
            "The VPN <client> drops every 10 minutes on the office wifi".to_owned()
        } else {
            format!("Line {n} of the log")
        };
        rita.api
            .send(Method::POST, &path, Body::Json(json!({"body": body})))
            .await
            .expect(201);
    }

    let agent = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let alex = &agent.client;
    log_in(alex, &app, "alex@acme.io", PASSWORD).await;
    alex.goto(&app.url("/conversations")).await.unwrap();
    fill_in(alex, "#message-search", "q", "office wi").await;
    submit_in(alex, "#message-search").await;
    let hits = text_with(alex, "#search-hits", "VPN drops").await;
    assert!(hits.contains("The VPN <client> drops"), "{hits}");
    let marked: Vec<String> = {
        let mut words = Vec::new();
        for mark in alex
            .find_all(Locator::Css("#search-hits mark"))
            .await
            .unwrap()
        {
            words.push(mark.text().await.unwrap());
        }
        words
    };
    assert_eq!(marked, ["office", "wifi"]);
    agent.screenshot("chat-search-desk").await.unwrap();

    alex.find(Locator::Css("#search-hits a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(alex, "#m3", "office wifi").await;
    let url = alex.current_url().await.unwrap();
    assert_eq!(url.fragment(), Some("m3"), "{url}");
    // The list shows that message, not the newest.
    let in_view = alex
        .execute(
            "const list = document.getElementById('messages').getBoundingClientRect();
             const hit = document.getElementById('m3').getBoundingClientRect();
             return hit.top >= list.top && hit.bottom <= list.bottom;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(in_view, true);

    alex.find(Locator::Css("#transcript-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let transcript = text_with(alex, "#transcript", "Line 30 of the log").await;
    assert!(
        transcript.contains("The VPN <client> drops"),
        "{transcript}"
    );
    // Printed, the page is the transcript alone.
    let printed = alex
        .execute(
            "const rules = [...document.styleSheets].flatMap((s) => [...s.cssRules]);
             const print = rules.find((r) => r.media && r.media.mediaText === 'print');
             return print ? print.cssText : '';",
            vec![],
        )
        .await
        .unwrap();
    let printed = printed.as_str().unwrap();
    for chrome in [".site-header", ".sidebar", ".site-footer", ".no-print"] {
        assert!(printed.contains(chrome), "{printed}");
    }
    agent.screenshot("chat-transcript-desk").await.unwrap();
    agent.resize(390, 844).await.unwrap();
    alex.refresh().await.unwrap();
    agent.screenshot("chat-transcript-phone").await.unwrap();
    alex.goto(&app.url("/conversations?q=office+wi"))
        .await
        .unwrap();
    agent.screenshot("chat-search-phone").await.unwrap();
    agent.close().await;
    app.stop().await;
}

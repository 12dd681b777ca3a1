//! A conversation and its ticket in the browser (issue 17, linking): the agent sees the
//! requester's tickets beside the conversation, makes a ticket from it through the type's
//! form (refused without its required fields), and the ticket page and the conversation page
//! then link to each other; another conversation is linked to an existing ticket from the
//! requester's list. A requester starts the conversation about a ticket from its page.

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::json;
use testkit::browser::Browser;
use testkit::fixtures::{self, PASSWORD};
use testkit::{Body, id, spawn_app};

use super::identity_pages::log_in;
use super::{text_with, wait_for_path};

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn href(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_agent_makes_a_ticket_from_a_conversation_and_both_pages_link_to_each_other() {
    let app = spawn_app().await;
    let desk = fixtures::purchase_desk(&app, fixtures::when_approved()).await;
    desk.company
        .add_member("alex@acme.io", "Alex", &["agent"], &[])
        .await;
    // Rita asked for pens before, and now writes to support.
    let pens = id(&desk.request_purchase(12, "Blue pens").await);
    let rita = &desk.requester.api;
    let chat = rita
        .send(
            Method::POST,
            "/api/v1/conversations",
            Body::Json(json!({"subject": "Broken laptop"})),
        )
        .await
        .expect(201);
    let chat = id(&chat);
    rita.send(
        Method::POST,
        &format!("/api/v1/conversations/{chat}/messages"),
        Body::Json(json!({"body": "My laptop fell and the screen is cracked."})),
    )
    .await
    .expect(201);

    let agent = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let alex = &agent.client;
    log_in(alex, &app, "alex@acme.io", PASSWORD).await;
    alex.goto(&app.url(&format!("/conversations/{chat}")))
        .await
        .unwrap();
    // Beside the conversation: Rita's tickets, her other conversations, and the action.
    let theirs = text_with(alex, "#requester-tickets", "Blue pens").await;
    assert!(theirs.contains("#1"), "{theirs}");
    assert_eq!(
        href(alex, "#requester-tickets a").await,
        format!("/tickets/{pens}")
    );
    text_with(alex, "#other-conversations", "None").await;
    agent
        .screenshot("conversation-ticket-panel-desk")
        .await
        .unwrap();
    alex.execute(
        "document.querySelector('#requester-tickets').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    agent
        .screenshot("conversation-requester-tickets-desk")
        .await
        .unwrap();

    // The purchase form asks for more: "Create ticket" opens it first.
    alex.find(Locator::Css("#create-ticket-form select"))
        .await
        .unwrap()
        .select_by_label("Purchase request")
        .await
        .unwrap();
    click(alex, "#create-ticket-form button").await;
    text_with(alex, "h1", "Purchase request").await;
    wait_for_path(alex, &format!("/conversations/{chat}/ticket")).await;
    // Sent without its required fields, the form comes back naming them.
    click(alex, "#conversation-ticket-form button[type='submit']").await;
    text_with(alex, "#form-errors", "correct the fields").await;
    let form = text_with(alex, "#conversation-ticket-form", "required").await;
    assert!(form.contains("Amount"), "{form}");
    agent
        .screenshot("conversation-ticket-form-desk")
        .await
        .unwrap();
    type_into(alex, "[name='data.amount']", "900").await;
    type_into(alex, "[name='data.reason']", "A new laptop").await;
    click(alex, "#conversation-ticket-form button[type='submit']").await;

    // The ticket page: Rita's ticket, the transcript, the way back to the conversation.
    text_with(alex, "h1", "A new laptop (900 EUR)").await;
    let page = alex.current_url().await.unwrap();
    let ticket = page.path().trim_start_matches("/tickets/").to_owned();
    text_with(alex, "body", "made from the conversation, for Rita Acme").await;
    text_with(alex, "#ticket-summary", "asked by Rita Acme").await;
    text_with(
        alex,
        "#comment-list",
        "My laptop fell and the screen is cracked.",
    )
    .await;
    assert_eq!(
        href(alex, "a#ticket-conversation").await,
        format!("/conversations/{chat}")
    );
    let linked = text_with(
        alex,
        "#timeline li[data-kind='ticket.conversation_linked']",
        "made the ticket from a support conversation",
    )
    .await;
    assert!(linked.contains("Alex Acme"), "{linked}");
    assert_eq!(
        href(
            alex,
            "#timeline li[data-kind='ticket.conversation_linked'] a"
        )
        .await,
        format!("/conversations/{chat}")
    );
    agent
        .screenshot("conversation-ticket-made-desk")
        .await
        .unwrap();

    // And back: the conversation shows its ticket; no second "Create ticket".
    click(alex, "a#ticket-conversation").await;
    wait_for_path(alex, &format!("/conversations/{chat}")).await;
    let panel = text_with(alex, "#conversation-ticket", "A new laptop (900 EUR)").await;
    assert!(panel.contains("#2"), "{panel}");
    assert_eq!(
        href(alex, "#conversation-ticket a").await,
        format!("/tickets/{ticket}")
    );
    assert!(
        alex.find(Locator::Css("#create-ticket-form"))
            .await
            .is_err(),
        "the conversation has its ticket"
    );
    agent
        .screenshot("conversation-with-ticket-desk")
        .await
        .unwrap();
    agent.resize(390, 844).await.unwrap();
    alex.refresh().await.unwrap();
    text_with(alex, "#conversation-ticket", "A new laptop").await;
    agent
        .screenshot("conversation-with-ticket-phone")
        .await
        .unwrap();
    alex.goto(&app.url(&format!("/tickets/{ticket}")))
        .await
        .unwrap();
    text_with(alex, "#ticket-conversation", "support conversation").await;
    agent
        .screenshot("conversation-ticket-made-phone")
        .await
        .unwrap();

    // Another conversation of Rita's is linked to a ticket she already has, from the list.
    let stapler = id(&desk.request_purchase(8, "A stapler").await);
    let incident = rita
        .send(
            Method::POST,
            "/api/v1/conversations",
            Body::Json(json!({"reference": "INC-7"})),
        )
        .await
        .expect(201);
    let incident = id(&incident);
    agent.resize(1280, 800).await.unwrap();
    alex.goto(&app.url(&format!("/conversations/{incident}")))
        .await
        .unwrap();
    text_with(alex, "#requester-tickets", "A stapler").await;
    alex.find(Locator::XPath(
        "//section[@id='requester-tickets']//li[contains(., 'A stapler')]//button",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    text_with(alex, "body", "linked to ticket #3").await;
    text_with(alex, "#conversation-ticket", "#3 A stapler").await;
    assert_eq!(
        href(alex, "#conversation-ticket a").await,
        format!("/tickets/{stapler}")
    );
    agent.close().await;

    // Rita, on her pens ticket, starts the conversation about it; its page links back.
    let requester = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let browser = &requester.client;
    log_in(browser, &app, "rita@acme.io", PASSWORD).await;
    browser
        .goto(&app.url(&format!("/tickets/{pens}")))
        .await
        .unwrap();
    text_with(browser, "#ticket-conversation", "Talk to support").await;
    click(browser, "#ticket-conversation button").await;
    let panel = text_with(browser, "#conversation-ticket", "Blue pens").await;
    assert!(panel.contains("#1"), "{panel}");
    browser
        .goto(&app.url(&format!("/tickets/{pens}")))
        .await
        .unwrap();
    text_with(
        browser,
        "#timeline li[data-kind='ticket.conversation_linked']",
        "linked a support conversation",
    )
    .await;
    requester.resize(390, 844).await.unwrap();
    requester
        .screenshot("ticket-conversation-requester-phone")
        .await
        .unwrap();
    requester.close().await;
    app.stop().await;
}

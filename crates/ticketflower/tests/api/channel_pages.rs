//! The admin's pages of channels and event webhooks (issue 18), read over HTTP from the real
//! server with a browser's session: secrets shown once, refused forms that say why next to
//! the input, a test channel's message arriving in the inbox with what its reply would post,
//! and a dead letter replayed from the page to a loopback receiver that came back.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{Body, fixtures, id};

use crate::channels::{create_channel, inbound, receiver, server};
use crate::common::page_answer;
use crate::pages::{Session, escaped, form_with, message_of};

/// The text between `start` (after its first occurrence) and the next `end`.
fn between<'p>(page: &'p str, start: &str, end: &str) -> &'p str {
    let at = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {page}"))
        + start.len();
    let stop = at + page[at..].find(end).unwrap();
    &page[at..stop]
}

/// Reads `path` until `done` holds of the page (deliveries are made by jobs).
async fn page_until(session: &Session<'_>, path: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = session.get(path).await;
        if done(&page) {
            return page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never showed what was awaited: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_channel_made_on_its_page_shows_its_secrets_once_and_refused_forms_say_why() {
    let app = server("100ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let session = Session::open(&app, acme.access_token()).await;
    let list = session.get("/admin/channels").await;
    assert!(
        list.contains("href=\"/admin/channels\""),
        "in the admin's navigation"
    );
    assert!(list.contains("No channels yet"), "{list}");

    // Every complaint at once, next to its input, with what was typed kept.
    let refused = session
        .post(
            "/admin/channels",
            &[
                ("name", " "),
                ("slug", "Bad Slug"),
                ("kind", "api"),
                ("verification", "slack"),
                ("signature_header", "x-ignored"),
                ("inbound_secret", "short"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    let form = form_with(&refused.page, "id=\"new-channel\"");
    assert!(form.contains("value=\"Bad Slug\""), "{form}");
    assert!(form.contains("value=\"slack\" checked"), "{form}");
    assert_eq!(message_of(&refused.page, "channel-name"), "Is required.");
    assert!(
        message_of(&refused.page, "channel-slug").contains("lower-case letters"),
        "{}",
        refused.page
    );
    assert!(
        !message_of(&refused.page, "channel-inbound-secret").is_empty(),
        "{}",
        refused.page
    );
    // The header input means something for HMAC-SHA256 only, so it was not held against Slack.
    assert!(!refused.page.contains("channel-signature-header-error"));

    let refused = session
        .post(
            "/admin/channels",
            &[
                ("name", "Try"),
                ("slug", "try"),
                ("kind", "test"),
                ("verification", "hmac_sha256"),
                ("signature_header", "bad header"),
                ("outbound_url", "https://example.com/hook"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert!(message_of(&refused.page, "channel-outbound-url").contains("test channel"));
    assert!(
        message_of(&refused.page, "channel-signature-header").contains("not a valid header"),
        "{}",
        refused.page
    );
    let unknown = session
        .post(
            "/admin/channels",
            &[
                ("name", "X"),
                ("slug", "x"),
                ("kind", "fax"),
                ("verification", "slack"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(message_of(&unknown.page, "channel-kind").contains("API or a test"));

    // Made: the inbound URL and both secrets, this once.
    let made = session
        .post(
            "/admin/channels",
            &[
                ("name", "Website widget"),
                ("slug", "widget"),
                ("kind", "api"),
                ("verification", "standard_webhooks"),
                ("outbound_url", ""),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.page);
    let shown = between(&made.page, "id=\"channel-secrets\"", "</section>");
    assert!(shown.contains("shown only this once"), "{shown}");
    let inbound_url = between(shown, "id=\"inbound-url\">", "<");
    let inbound_secret = between(shown, "id=\"inbound-secret\">", "<");
    let signing_secret = between(shown, "id=\"signing-secret\">", "<");
    let public_id = inbound_url
        .split("/api/v1/hooks/")
        .nth(1)
        .unwrap_or_default();
    assert!(public_id.parse::<uuid::Uuid>().is_ok(), "{inbound_url}");
    assert!(inbound_secret.starts_with("whsec_"), "{inbound_secret}");
    assert!(signing_secret.starts_with("whsec_"), "{signing_secret}");
    // The secret shown is the one the channel checks: a message signed with it arrives.
    let public_id = inbound_url.rsplit('/').next().unwrap();
    let channel = json!({"public_id": public_id, "inbound_secret": inbound_secret});
    let (status, accepted) = inbound(
        &app,
        &channel,
        json!({"external_user_id": "u-1", "content": "hello from the widget"}),
    )
    .await;
    assert_eq!(status, 200, "{accepted}");

    let again = session.get("/admin/channels").await;
    assert!(again.contains("Website widget"), "{again}");
    for secret in [inbound_secret, signing_secret] {
        assert!(!again.contains(secret), "a secret is shown only once");
    }
    let id = between(&made.page, "href=\"/admin/channels/", "\"");
    let one = session.get(&format!("/admin/channels/{id}")).await;
    for secret in [inbound_secret, signing_secret] {
        assert!(!one.contains(secret), "a secret is shown only once");
    }
    assert!(one.contains(inbound_url), "{one}");

    // A taken slug is a clash, said at the slug.
    let taken = session
        .post(
            "/admin/channels",
            &[
                ("name", "Two"),
                ("slug", "widget"),
                ("kind", "api"),
                ("verification", "slack"),
            ],
        )
        .await;
    assert_eq!(taken.status, 409, "{}", taken.page);
    assert!(!message_of(&taken.page, "channel-slug").is_empty());

    // An agent who is not an admin is refused the pages, as by the other admin pages.
    for path in [
        "/admin/channels".to_owned(),
        format!("/admin/channels/{id}"),
        "/admin/webhooks".to_owned(),
    ] {
        let answer = page_answer(&app, agent.api.token().unwrap(), &path).await;
        assert_eq!(answer.status(), 403, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_test_channels_page_sends_as_a_contact_and_shows_what_a_reply_would_post() {
    let app = server("100ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let session = Session::open(&app, acme.access_token()).await;
    let made = session
        .post(
            "/admin/channels",
            &[
                ("name", "Try it"),
                ("slug", "try"),
                ("kind", "test"),
                ("verification", "standard_webhooks"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.page);
    let id = between(&made.page, "href=\"/admin/channels/", "\"").to_owned();
    let page = format!("/admin/channels/{id}");
    let shown = session.get(&page).await;
    assert!(shown.contains("Send a message as a contact"), "{shown}");

    let refused = session
        .post(
            &format!("{page}/test-messages"),
            &[
                ("external_user_id", ""),
                ("display_name", "Sam"),
                ("content", " "),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert_eq!(message_of(&refused.page, "test-user"), "Is required.");
    assert!(message_of(&refused.page, "test-content").starts_with("Is required"));
    assert!(form_with(&refused.page, "id=\"send-test\"").contains("value=\"Sam\""));

    let sent = session
        .post(
            &format!("{page}/test-messages"),
            &[
                ("external_user_id", "visitor-42"),
                ("display_name", "Sam Visitor"),
                ("thread_id", "T-1"),
                ("content", "My order <b>never</b> came"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.page);
    let conversation = sent.location.split("sent=").nth(1).unwrap().to_owned();
    let after = session.get(&sent.location).await;
    assert!(
        after.contains(&format!("href=\"/conversations/{conversation}\"")),
        "{after}"
    );
    let messages = acme
        .admin
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Empty,
        )
        .await
        .expect(200);
    assert_eq!(
        messages["items"][0]["body"], "My order <b>never</b> came",
        "{messages}"
    );

    // An agent answers; the test channel records what it would have posted.
    acme.admin
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Json(json!({"body": "Sorry, Sam: it ships today"})),
        )
        .await
        .expect(201);
    // The delivery's state and its attempt are written one after the other: wait for both.
    let recorded = page_until(&session, &page, |p| {
        p.contains("data-state=\"delivered\"") && p.contains("100 % of 1 attempt")
    })
    .await;
    let body = between(
        &recorded,
        "What would be delivered</summary><pre class=\"code\">",
        "</pre>",
    );
    for part in ["Sorry, Sam: it ships today", "visitor-42", "T-1"] {
        assert!(body.contains(&escaped(part)), "{part} in {body}");
    }
    let health = between(&recorded, "id=\"channel-health\"", "</section>");
    assert!(health.contains("Success, last 24 h"), "{health}");
    let delivery = between(&recorded, "data-delivery=\"", "\"");
    let detail = session.get(&format!("{page}/deliveries/{delivery}")).await;
    let attempts = between(&detail, "id=\"attempts\"", "</table>");
    assert!(
        attempts.contains("recorded by the test channel, not sent"),
        "{attempts}"
    );

    // Edit: a refusal at its input; then saved.
    let refused = session
        .post(
            &page,
            &[("name", ""), ("verification", "standard_webhooks")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert_eq!(message_of(&refused.page, "edit-name"), "Must not be empty.");
    let saved = session
        .post(
            &page,
            &[
                ("name", "Try it out"),
                ("verification", "standard_webhooks"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    assert!(session.get(&page).await.contains("<h1>Try it out</h1>"));

    // Rotation: a wrong overlap is said at its input; a new secret is shown once.
    let refused = session
        .post(
            &format!("{page}/signing-secret"),
            &[("overlap_hours", "200")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert!(message_of(&refused.page, "overlap-hours").contains("168"));
    let rotated = session
        .post(&format!("{page}/signing-secret"), &[("overlap_hours", "2")])
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.page);
    let secret = between(&rotated.page, "id=\"new-signing-secret\">", "<").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let reread = session.get(&page).await;
    assert!(!reread.contains(&secret), "shown once");
    assert!(reread.contains("still signs until"), "{reread}");

    // Paused and resumed from the page.
    assert_eq!(
        session.post(&format!("{page}/pause"), &[]).await.status,
        303
    );
    let paused = session.get(&page).await;
    assert!(paused.contains("paused by an admin"), "{paused}");
    assert!(paused.contains("id=\"resume-channel\""));
    assert_eq!(
        session.post(&format!("{page}/resume"), &[]).await.status,
        303
    );
    assert!(session.get(&page).await.contains("id=\"pause-channel\""));
    app.stop().await;
}

/// The channel's reply deliveries, by the API.
async fn dead_letters(admin: &testkit::ApiClient, channel: &str) -> Vec<Value> {
    crate::channels::deliveries(admin, channel, "?state=dead").await
}

#[tokio::test]
async fn a_dead_letter_is_replayed_from_the_page_once_the_receiver_is_back() {
    let app = server("50ms,50ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    // Down for the whole schedule (three attempts), up afterwards.
    let (url, received) = receiver(vec![500, 502, 503], 200).await;
    let channel = create_channel(
        &acme.admin,
        json!({"name": "Std", "slug": "std", "outbound_url": url}),
    )
    .await;
    let channel_id = id(&channel);
    let (_, accepted) = inbound(
        &app,
        &channel,
        json!({"external_user_id": "zed", "content": "anyone?"}),
    )
    .await;
    let conversation = accepted["conversation_id"].as_str().unwrap();
    acme.admin
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Json(json!({"body": "here!"})),
        )
        .await
        .expect(201);
    let session = Session::open(&app, acme.access_token()).await;
    let page = format!("/admin/channels/{channel_id}");
    let dead = page_until(&session, &format!("{page}?state=dead"), |p| {
        p.contains("data-state=\"dead\"") && p.contains("0 % of 3 attempts")
    })
    .await;
    assert_eq!(dead_letters(&acme.admin, &channel_id).await.len(), 1);
    let delivery = between(&dead, "data-delivery=\"", "\"").to_owned();
    assert!(
        dead.contains(&format!("action=\"{page}/deliveries/{delivery}/replay\"")),
        "{dead}"
    );
    let health = between(&dead, "id=\"channel-health\"", "</section>");
    assert!(health.contains("0 % of 3 attempts"), "{health}");

    // Its attempt log: three answers, each with its status.
    let detail = session.get(&format!("{page}/deliveries/{delivery}")).await;
    let attempts = between(&detail, "<tbody>", "</tbody>");
    assert_eq!(attempts.matches("<tr>").count(), 3, "{attempts}");
    for status in ["500", "502", "503"] {
        assert!(
            attempts.contains(&format!("<td>{status}</td>")),
            "{attempts}"
        );
    }
    assert!(detail.contains("id=\"replay-delivery\""), "{detail}");

    // A wrong span is said at its input; nothing is replayed.
    let refused = session
        .post(
            &format!("{page}/deliveries/replay"),
            &[("from", "yesterday"), ("to", "")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert!(message_of(&refused.page, "replay-from").contains("date and time"));
    assert_eq!(received.calls().len(), 3);

    let replayed = session
        .post(&format!("{page}/deliveries/{delivery}/replay"), &[])
        .await;
    assert_eq!(replayed.status, 303, "{}", replayed.page);
    received.wait_for(4, Duration::from_secs(10)).await;
    let delivered = page_until(&session, &page, |p| p.contains("data-state=\"delivered\"")).await;
    assert!(!delivered.contains("data-state=\"dead\""), "{delivered}");
    assert!(dead_letters(&acme.admin, &channel_id).await.is_empty());
    let calls = received.calls();
    assert_eq!(calls[3].0["webhook-id"], calls[0].0["webhook-id"]);
    app.stop().await;
}

#[tokio::test]
async fn an_event_webhook_is_made_tested_edited_and_deleted_from_its_pages() {
    let app = server("100ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let session = Session::open(&app, acme.access_token()).await;
    let list = session.get("/admin/webhooks").await;
    assert!(
        list.contains("<code>ticket.*</code>"),
        "the families are listed as help"
    );

    let refused = session
        .post(
            "/admin/webhooks",
            &[("url", "ftp://nowhere"), ("kinds", "ticket.*, nope.*")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert!(message_of(&refused.page, "webhook-kinds").contains("`nope.*` is no event kind"));
    assert!(message_of(&refused.page, "webhook-url").contains("not a usable endpoint"));
    assert!(form_with(&refused.page, "id=\"new-webhook\"").contains("value=\"ticket.*, nope.*\""));

    let (url, received) = receiver(vec![], 200).await;
    let made = session
        .post(
            "/admin/webhooks",
            &[
                ("url", &url),
                ("kinds", "ticket.* task.completed"),
                ("description", "CRM"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.page);
    let secret = between(&made.page, "id=\"signing-secret\">", "<").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = between(&made.page, "href=\"/admin/webhooks/", "\"").to_owned();
    let page = format!("/admin/webhooks/{id}");
    let shown = session.get(&page).await;
    assert!(!shown.contains(&secret), "shown once");
    assert!(shown.contains("ticket.*, task.completed"), "{shown}");

    // A test event reaches the receiver, signed with the secret shown, and is listed.
    assert_eq!(session.post(&format!("{page}/test"), &[]).await.status, 303);
    let calls = received.wait_for(1, Duration::from_secs(10)).await;
    app::infra::outbound::WebhookSigner::from_whsec(&secret)
        .unwrap()
        .verify(&calls[0].0, calls[0].1.as_bytes(), Duration::from_secs(300))
        .unwrap();
    let listed = page_until(&session, &page, |p| p.contains("data-state=\"delivered\"")).await;
    assert!(listed.contains("<td>test</td>"), "{listed}");

    let refused = session
        .post(&page, &[("url", &url), ("kinds", ""), ("description", "")])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert!(message_of(&refused.page, "webhook-kinds").contains("at least one"));
    let saved = session
        .post(&page, &[("url", &url), ("kinds", "*"), ("description", "")])
        .await;
    assert_eq!(saved.status, 303);
    assert!(session.get(&page).await.contains("<code>*</code>"));

    // Deleting asks, on the page itself too.
    assert_eq!(
        session.post(&format!("{page}/delete"), &[]).await.status,
        303
    );
    assert_eq!(
        session
            .get("/admin/webhooks")
            .await
            .matches("data-webhook=")
            .count(),
        1
    );
    let deleted = session
        .post(&format!("{page}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(
        (deleted.status, deleted.location.as_str()),
        (303, "/admin/webhooks")
    );
    assert!(
        session
            .get("/admin/webhooks")
            .await
            .contains("No event webhooks yet")
    );
    app.stop().await;
}

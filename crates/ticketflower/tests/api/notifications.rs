//! Notifications (issue 19) end to end: each type reaches the right people and not others
//! (a requester never hears of internal notes), the bell's count and marking read,
//! preferences and their refusals, e-mail digests (offline people get one mail per burst,
//! online people none while they may still read it in the app), the one-click unsubscribe
//! link, and a restart in the middle of a burst that neither loses nor repeats anything.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use testkit::TestApp;
use testkit::smtp::SmtpReceiver;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::PASSWORD;
use crate::tickets::{Desk, call, desk, desk_with, task_of};

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, body) = call(app, Method::GET, path, token, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Waits until `token`'s notifications satisfy `done`, and returns them.
async fn notifications_until(
    app: &TestApp,
    token: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let page = get(app, token, "/api/v1/notifications?limit=100").await;
        let items = page["items"].as_array().unwrap().clone();
        if done(&items) {
            return items;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "notifications never matched: {items:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kinds(items: &[Value]) -> Vec<&str> {
    items.iter().map(|n| n["kind"].as_str().unwrap()).collect()
}

async fn comment(d: &Desk, token: &str, ticket: &str, body: &str, internal: bool) {
    let (status, answer) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/tickets/{ticket}/comments"),
        token,
        Some(json!({ "body": body, "internal": internal })),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
}

async fn complete(d: &Desk, token: &str, ticket: &str, key: &str, output: Value) {
    let task = task_of(&d.app, token, ticket, key).await;
    let (status, done) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/tasks/{}/complete", task["id"].as_str().unwrap()),
        token,
        Some(json!({ "output": output })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
}

/// Lets the consumer catch up: everything committed so far has been read.
async fn settle(d: &Desk) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = d;
}

#[tokio::test]
async fn each_type_reaches_the_people_it_concerns_and_no_one_else() {
    let d = desk().await;
    // The admin follows tickets they are not part of: here, by following this one.
    let ticket = d.submit_review().await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let (status, follow) = call(
        &d.app,
        Method::PUT,
        &format!("/api/v1/tickets/{id}/follow"),
        &d.admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{follow}");
    assert_eq!(follow["following"], true);

    // The reviewer was given the review by the engine on submission.
    let reviewer = notifications_until(&d.app, &d.reviewer, |n| !n.is_empty()).await;
    assert_eq!(kinds(&reviewer), ["task_assigned"], "{reviewer:#?}");
    assert!(
        reviewer[0]["link"].as_str().unwrap().starts_with("/tasks/"),
        "{reviewer:#?}"
    );
    // The requester submitted it: nothing of their own doing reaches them.
    assert_eq!(
        get(&d.app, &d.requester, "/api/v1/notifications").await["items"],
        json!([])
    );

    // A public comment mentioning the requester: a mention for them (not a comment too),
    // a comment for the follower.
    comment(
        &d,
        &d.reviewer,
        &id,
        "Nearly there, @rita: one number is missing",
        false,
    )
    .await;
    let requester =
        notifications_until(&d.app, &d.requester, |n| kinds(n).contains(&"mention")).await;
    assert_eq!(kinds(&requester), ["mention"], "{requester:#?}");
    assert_eq!(
        requester[0]["body"],
        "Nearly there, @rita: one number is missing"
    );
    assert_eq!(requester[0]["link"], format!("/tickets/{id}"));
    assert_eq!(requester[0]["subject"], format!("ticket:{id}"));
    let admin = notifications_until(&d.app, &d.admin, |n| kinds(n).contains(&"comment")).await;
    assert_eq!(kinds(&admin), ["comment"], "{admin:#?}");

    // An internal note: the team's follower hears of it, the requester never does.
    comment(
        &d,
        &d.reviewer,
        &id,
        "Between us: the numbers look made up",
        true,
    )
    .await;
    let admin = notifications_until(&d.app, &d.admin, |n| n.len() == 2).await;
    assert!(
        admin[0]["title"]
            .as_str()
            .unwrap()
            .contains("internal note"),
        "{admin:#?}"
    );
    // Sent back for revision: the edit is the requester's, so the ticket needs their input.
    complete(
        &d,
        &d.reviewer,
        &id,
        "review",
        json!({"decision": "revise", "review_comments": "More numbers"}),
    )
    .await;
    let requester =
        notifications_until(&d.app, &d.requester, |n| kinds(n).contains(&"ticket_input")).await;
    assert_eq!(
        kinds(&requester),
        ["ticket_input", "mention"],
        "{requester:#?}"
    );
    assert!(
        requester
            .iter()
            .all(|n| !n["body"].as_str().unwrap_or_default().contains("made up")),
        "{requester:#?}"
    );

    // The requester revises; the review comes back to the reviewer, who accepts.
    complete(
        &d,
        &d.requester,
        &id,
        "edit",
        json!({"revision_note": "Added them"}),
    )
    .await;
    let reviewer = notifications_until(&d.app, &d.reviewer, |n| n.len() == 2).await;
    assert_eq!(kinds(&reviewer), ["task_assigned", "task_assigned"]);
    complete(
        &d,
        &d.reviewer,
        &id,
        "review",
        json!({"decision": "accept"}),
    )
    .await;
    let requester = notifications_until(&d.app, &d.requester, |n| {
        kinds(n).contains(&"ticket_completed")
    })
    .await;
    assert_eq!(requester[0]["kind"], "ticket_completed", "{requester:#?}");
    let admin =
        notifications_until(&d.app, &d.admin, |n| kinds(n).contains(&"ticket_completed")).await;
    assert_eq!(admin.len(), 3, "{admin:#?}");

    // The bell: unread counts, one read, then all; another person's id is not found.
    let page = get(&d.app, &d.requester, "/api/v1/notifications").await;
    let unread = page["unread"].as_i64().unwrap();
    assert_eq!(unread, requester.len() as i64, "{page}");
    let first = requester[0]["id"].as_str().unwrap();
    let (status, _) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/notifications/{first}/read"),
        &d.reviewer,
        None,
    )
    .await;
    assert_eq!(status, 404, "another person's notification");
    let (status, after) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/notifications/{first}/read"),
        &d.requester,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(after["unread"], unread - 1);
    let unread_only = get(&d.app, &d.requester, "/api/v1/notifications?unread=true").await;
    assert_eq!(
        unread_only["items"].as_array().unwrap().len() as i64,
        unread - 1
    );
    let (status, after) = call(
        &d.app,
        Method::POST,
        "/api/v1/notifications/read-all",
        &d.requester,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(after["unread"], 0);

    // Unfollowing silences: the admin hears nothing of a later comment.
    let (status, _) = call(
        &d.app,
        Method::DELETE,
        &format!("/api/v1/tickets/{id}/follow"),
        &d.admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    comment(&d, &d.requester, &id, "Thanks @rob!", false).await;
    notifications_until(&d.app, &d.reviewer, |n| kinds(n).contains(&"mention")).await;
    settle(&d).await;
    assert_eq!(
        get(&d.app, &d.admin, "/api/v1/notifications").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    d.app.stop().await;
}

#[tokio::test]
async fn a_registration_reaches_the_company_admins() {
    let d = desk().await;
    let company = get(&d.app, &d.admin, "/api/v1/company").await;
    let registered = d
        .app
        .post_json(
            "/api/v1/register",
            &json!({ "company_invite_code": company["invite_code"], "email": "newton@acme.io",
                "password": PASSWORD, "first_name": "Isaac", "last_name": "Newton" }),
        )
        .await;
    assert_eq!(registered.status(), 202);
    let admin = notifications_until(&d.app, &d.admin, |n| !n.is_empty()).await;
    assert_eq!(kinds(&admin), ["registration"]);
    assert!(
        admin[0]["title"]
            .as_str()
            .unwrap()
            .contains("newton@acme.io")
    );
    assert!(
        admin[0]["link"]
            .as_str()
            .unwrap()
            .starts_with("/admin/users/")
    );
    settle(&d).await;
    for token in [&d.requester, &d.reviewer] {
        assert_eq!(
            get(&d.app, token, "/api/v1/notifications").await["items"],
            json!([])
        );
    }
    d.app.stop().await;
}

#[tokio::test]
async fn preferences_refuse_unknown_types_and_bad_quiet_hours_and_change_nothing() {
    let d = desk().await;
    let before = get(&d.app, &d.requester, "/api/v1/notification-preferences").await;
    let comment = before["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "comment")
        .unwrap()
        .clone();
    assert_eq!(
        comment["channels"],
        json!({"in_app": true, "email": true, "web_push": true, "mobile": true})
    );
    for (body, field) in [
        (
            json!({"types": {"gossip": {"in_app": true, "email": false, "web_push": false, "mobile": false}}}),
            "types.gossip",
        ),
        (
            json!({"types": {"comment": {"in_app": true, "email": false, "web_push": false, "mobile": false}},
                "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"}}),
            "quiet_hours.time_zone",
        ),
        (
            json!({"quiet_hours": {"start": "25:00", "end": "07:00", "time_zone": "UTC"}}),
            "quiet_hours.start",
        ),
    ] {
        let (status, problem) = call(
            &d.app,
            Method::PUT,
            "/api/v1/notification-preferences",
            &d.requester,
            Some(body),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    assert_eq!(
        get(&d.app, &d.requester, "/api/v1/notification-preferences").await,
        before,
        "a refused change changes nothing"
    );
    let (status, set) = call(
        &d.app,
        Method::PUT,
        "/api/v1/notification-preferences",
        &d.requester,
        Some(json!({"types": {"comment": {"in_app": true, "email": false, "web_push": false, "mobile": true}},
            "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Europe/Berlin"}})),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        set["quiet_hours"],
        json!({"start": "22:00", "end": "07:00", "time_zone": "Europe/Berlin"})
    );
    // The company's default stays what it was; the person's choice differs from it.
    let chosen = set["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "comment")
        .unwrap();
    assert_eq!(chosen["channels"]["email"], false);
    assert_eq!(chosen["default"]["email"], true);
    // Company defaults are the admins'.
    let (status, _) = call(
        &d.app,
        Method::PUT,
        "/api/v1/company/notification-defaults",
        &d.requester,
        Some(json!({"types": {}})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, defaults) = call(
        &d.app,
        Method::PUT,
        "/api/v1/company/notification-defaults",
        &d.admin,
        Some(json!({"types": {"ticket_step": {"in_app": true, "email": true, "web_push": false, "mobile": false}}})),
    )
    .await;
    assert_eq!(status, 200, "{defaults}");
    let step = get(&d.app, &d.reviewer, "/api/v1/notification-preferences").await["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "ticket_step")
        .unwrap()
        .clone();
    assert_eq!(
        step["channels"],
        json!({"in_app": true, "email": true, "web_push": false, "mobile": false})
    );
    // Snoozing needs a sensible length.
    let (status, problem) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/notifications/{}/snooze", uuid::Uuid::now_v7()),
        &d.requester,
        Some(json!({"minutes": 0})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "minutes");
    d.app.stop().await;
}

/// Opens the live stream as `token` and subscribes to the person's own stream: once the
/// server answers, the person counts as online in the app.
async fn go_online(app: &TestApp, token: &str, user: &str) -> tokio::task::JoinHandle<()> {
    use futures::{SinkExt, StreamExt};
    let mut request = format!("ws://{}/api/v1/stream", app.address)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut ws = tokio_tungstenite::connect_async(request).await.unwrap().0;
    let subscribe = json!({"type": "subscribe", "stream": format!("user:{user}")});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        subscribe.to_string().into(),
    ))
    .await
    .unwrap();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer to the subscription")
            .expect("the socket is open")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            let answer: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(answer["type"], "subscribed", "{answer}");
            // Kept read, so the server's pings are answered and it stays open (online).
            return tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
        }
    }
}

/// The received mails addressed to `to`.
async fn mails_to(receiver: &SmtpReceiver, to: &str) -> Vec<testkit::smtp::Received> {
    receiver
        .received()
        .await
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .collect()
}

/// Quoted-printable undone enough to read the text: soft breaks and escaped `=`.
fn readable(data: &str) -> String {
    data.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

#[tokio::test]
async fn offline_people_get_one_digest_per_burst_online_people_none_and_unsubscribe_works() {
    let receiver = SmtpReceiver::start(0).await;
    let url = receiver.url();
    let d = desk_with(|settings, jobs| {
        settings.smtp_url = Some(url.into());
        settings.notify_email_coalesce_secs = 2;
        settings.notify_email_delay_secs = 600;
        jobs
    })
    .await;
    // The reviewer keeps the app open; the requester is away.
    let online = go_online(&d.app, &d.reviewer, &d.reviewer_id).await;
    let ticket = d.submit_review().await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    for n in 1..=6 {
        comment(&d, &d.admin, &id, &format!("Update number {n}"), false).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mail = loop {
        let mails = mails_to(&receiver, "rita@acme.io").await;
        if !mails.is_empty() {
            break mails;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no digest reached rita"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Give a second digest the chance to (wrongly) arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = mails_to(&receiver, "rita@acme.io").await;
    assert_eq!(mails.len(), 1, "one digest for the burst: {mails:#?}");
    let data = readable(&mail[0].data);
    assert!(data.contains("[Acme] 6 new comments on #1"), "{data}");
    assert!(data.contains("Update number 6"), "{data}");
    assert!(data.contains("text/html"), "an HTML part: {data}");
    assert!(
        data.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{data}"
    );
    // The reviewer was online: their notifications wait in the app, no mail.
    assert!(mails_to(&receiver, "rob@acme.io").await.is_empty());
    let reviewer = get(&d.app, &d.reviewer, "/api/v1/notifications").await;
    assert_eq!(reviewer["unread"], 7, "{reviewer}");

    // The one-click link works without logging in, and stops that type's mail only.
    let link = data
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
        .and_then(|l| l.split('>').next())
        .unwrap_or_else(|| panic!("no unsubscribe header in {data}"))
        .to_owned();
    let path = link[link.find("/unsubscribe/").unwrap()..].to_owned();
    // A forged token is refused.
    let forged = d
        .app
        .client
        .post(d.app.url(&format!("{path}x")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    let done = d
        .app
        .client
        .post(d.app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let prefs = get(&d.app, &d.requester, "/api/v1/notification-preferences").await;
    let chosen = prefs["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "comment")
        .unwrap()
        .clone();
    assert_eq!(chosen["channels"]["email"], false, "{prefs}");
    assert_eq!(chosen["channels"]["in_app"], true, "{prefs}");
    comment(&d, &d.admin, &id, "One more", false).await;
    notifications_until(&d.app, &d.requester, |n| n.len() == 7).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(mails_to(&receiver, "rita@acme.io").await.len(), 1);
    online.abort();
    d.app.stop().await;
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_burst_loses_and_repeats_nothing() {
    let d = desk().await;
    let ticket = d.submit_review().await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    for n in 1..=40 {
        comment(&d, &d.admin, &id, &format!("Burst {n}"), false).await;
    }
    let Desk { app, requester, .. } = d;
    let app = app.restart().await;
    // Tokens stay valid across the restart (same keys).
    let items = {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let page = get(&app, &requester, "/api/v1/notifications?limit=100").await;
            let items = page["items"].as_array().unwrap().clone();
            if items.len() >= 40 {
                break items;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of 40",
                items.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = get(&app, &requester, "/api/v1/notifications?limit=100").await;
    assert_eq!(
        again["items"].as_array().unwrap().len(),
        40,
        "nothing told twice"
    );
    let bodies: HashSet<&str> = items.iter().map(|n| n["body"].as_str().unwrap()).collect();
    assert_eq!(bodies.len(), 40, "each comment once");
    app.stop().await;
}

/// The notifications of a member of the conversation desk, once `done` holds.
async fn member_notifications(
    client: &testkit::ApiClient,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let page = client
            .send(Method::GET, "/api/v1/notifications", testkit::Body::Empty)
            .await
            .expect(200);
        let items = page["items"].as_array().unwrap().clone();
        if done(&items) {
            return items;
        }
        assert!(std::time::Instant::now() < deadline, "{items:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post_message(client: &testkit::ApiClient, conversation: &str, body: &str, internal: bool) {
    client
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            testkit::Body::Json(json!({ "body": body, "internal": internal })),
        )
        .await
        .expect(201);
}

#[tokio::test]
async fn conversations_notify_their_requester_and_agent_and_notes_stay_with_the_agents() {
    let d = crate::conversations::desk().await;
    let opened = d
        .requester
        .api
        .send(
            Method::POST,
            "/api/v1/conversations",
            testkit::Body::Json(json!({"subject": "Broken laptop"})),
        )
        .await
        .expect(201);
    let conversation = opened["id"].as_str().unwrap().to_owned();
    assert_eq!(opened["assignee_id"], d.agent.id.as_str(), "{opened}");
    let agent = member_notifications(&d.agent.api, |n| !n.is_empty()).await;
    assert_eq!(kinds(&agent), ["conversation_assigned"], "{agent:#?}");
    assert_eq!(agent[0]["link"], format!("/conversations/{conversation}"));

    post_message(
        &d.requester.api,
        &conversation,
        "The screen stays black",
        false,
    )
    .await;
    let agent = member_notifications(&d.agent.api, |n| n.len() == 2).await;
    assert_eq!(kinds(&agent), ["message", "conversation_assigned"]);
    assert_eq!(agent[0]["body"], "The screen stays black");

    // An internal note mentioning the admin: the admin hears of it, the requester never.
    post_message(
        &d.agent.api,
        &conversation,
        "@ada have we seen this model before?",
        true,
    )
    .await;
    post_message(&d.agent.api, &conversation, "We are on it", false).await;
    let requester = member_notifications(&d.requester.api, |n| !n.is_empty()).await;
    let admin = member_notifications(&d.company.admin, |n| !n.is_empty()).await;
    assert_eq!(kinds(&admin), ["mention"], "{admin:#?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let requester_now = member_notifications(&d.requester.api, |_| true).await;
    assert_eq!(requester_now.len(), 1, "{requester_now:#?}");
    assert_eq!(kinds(&requester), ["message"]);
    assert_eq!(requester[0]["body"], "We are on it");
    assert!(
        requester_now
            .iter()
            .all(|n| !n.to_string().contains("seen this model")),
        "{requester_now:#?}"
    );
    d.app.stop().await;
}

#[tokio::test]
async fn a_person_blocked_before_the_digest_goes_gets_no_mail() {
    let receiver = SmtpReceiver::start(0).await;
    let url = receiver.url();
    let d = desk_with(|settings, jobs| {
        settings.smtp_url = Some(url.into());
        settings.notify_email_coalesce_secs = 2;
        jobs
    })
    .await;
    let ticket = d.submit_review().await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let rita = ticket["requester_id"].as_str().unwrap().to_owned();
    comment(&d, &d.admin, &id, "Please send the numbers", false).await;
    notifications_until(&d.app, &d.requester, |n| !n.is_empty()).await;
    let (status, blocked) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/users/{rita}/block"),
        &d.admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{blocked}");
    // The reviewer, still active, gets theirs; the blocked requester nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while mails_to(&receiver, "rob@acme.io").await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "no mail reached rob");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(mails_to(&receiver, "rita@acme.io").await.is_empty());
    d.app.stop().await;
}

#[tokio::test]
async fn a_waiting_task_reaches_its_queue_and_a_rejection_and_a_cancellation_their_people() {
    let app = testkit::spawn_app().await;
    let desk = testkit::fixtures::purchase_desk(&app, testkit::fixtures::when_approved()).await;
    // A task to claim: the reviewers' queue hears of it, the buyers' does not.
    let first = desk.request_purchase(300, "A monitor").await;
    let reviewer = member_notifications(&desk.reviewer.api, |n| !n.is_empty()).await;
    assert_eq!(kinds(&reviewer), ["task_queued"], "{reviewer:#?}");
    let review = first["tasks"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(reviewer[0]["link"], format!("/tasks/{review}"));
    // Rejected: the requester hears it.
    desk.reviewer.api.claim_task(&review).await.expect(200);
    desk.reviewer
        .api
        .complete_task(&review, json!({"approved": false}))
        .await
        .expect(200);
    let requester = member_notifications(&desk.requester.api, |n| !n.is_empty()).await;
    assert_eq!(kinds(&requester), ["ticket_rejected"], "{requester:#?}");

    // Cancelled by its requester: the reviewer holding its task hears it.
    let second = desk.request_purchase(400, "A chair").await;
    let task = second["tasks"][0]["id"].as_str().unwrap().to_owned();
    desk.reviewer.api.claim_task(&task).await.expect(200);
    desk.requester
        .api
        .cancel_ticket(testkit::id(&second))
        .await
        .expect(200);
    let reviewer = member_notifications(&desk.reviewer.api, |n| {
        kinds(n).contains(&"ticket_cancelled")
    })
    .await;
    assert_eq!(reviewer[0]["kind"], "ticket_cancelled", "{reviewer:#?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let buyer = member_notifications(&desk.buyer.api, |_| true).await;
    assert!(buyer.is_empty(), "{buyer:#?}");
    app.stop().await;
}

//! A conversation and its ticket over HTTP: an agent makes a ticket from a conversation (the
//! requester's, its form checked, the transcript its first comment) or links an existing
//! one; both sides show the link, both streams record it; nobody else may. The cross-company
//! probe of `POST /conversations/{id}/ticket` is in `tenancy.rs`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::fixtures::{self, Member, PurchaseDesk};
use testkit::{ApiClient, ApiResponse, Body, TestApp, id, spawn_app};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The purchase desk (Rita requests; Victor reviews) with Agnes, an agent.
struct Desk {
    app: TestApp,
    desk: PurchaseDesk,
    agent: Member,
}

async fn desk() -> Desk {
    let app = spawn_app().await;
    let desk = fixtures::purchase_desk(&app, fixtures::when_approved()).await;
    let agent = desk
        .company
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    Desk { app, desk, agent }
}

impl Desk {
    fn rita(&self) -> &ApiClient {
        &self.desk.requester.api
    }

    fn agnes(&self) -> &ApiClient {
        &self.agent.api
    }

    /// Rita's conversation (`body`: what `POST /conversations` gets), opened.
    async fn conversation(&self, client: &ApiClient, body: Value) -> String {
        let opened = client
            .send(Method::POST, "/api/v1/conversations", Body::Json(body))
            .await
            .ok();
        id(&opened)
    }
}

async fn say(client: &ApiClient, conversation: &str, body: Value) -> Value {
    client
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Json(body),
        )
        .await
        .expect(201)
}

/// `POST /api/v1/conversations/{id}/ticket`
async fn make_ticket(client: &ApiClient, conversation: &str, body: Value) -> ApiResponse {
    client
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/ticket"),
            Body::Json(body),
        )
        .await
}

async fn conversation(client: &ApiClient, conversation: &str) -> Value {
    client
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}"),
            Body::Empty,
        )
        .await
        .expect(200)
}

/// The fields a problem document names, asserting its status.
#[track_caller]
fn fields(answer: ApiResponse, status: u16) -> Vec<String> {
    assert!(answer.is_problem(), "not a problem document: {answer}");
    let problem = answer.expect(status);
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

/// The ticket's events (as `client` reads them) of `kind`.
async fn ticket_events(client: &ApiClient, ticket: &str, kind: &str) -> Vec<Value> {
    let timeline = client.ticket_timeline(ticket).await.expect(200);
    timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// The conversation's events replayed from the start over the live stream, up to the first
/// of `kind`.
async fn conversation_events_until(
    app: &TestApp,
    client: &ApiClient,
    conversation: &str,
    kind: &str,
) -> Vec<Value> {
    let url = format!("ws://{}/api/v1/stream", app.address);
    let mut request = url.into_client_request().unwrap();
    let token = client.token().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let subscribe =
        json!({"type": "subscribe", "stream": format!("conversation:{conversation}"), "since": 0});
    ws.send(Message::Text(subscribe.to_string().into()))
        .await
        .unwrap();
    let mut events = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} within 10 s; read {events:?}"))
            .expect("the socket is open")
            .expect("a frame");
        let Message::Text(text) = frame else { continue };
        let message: Value = serde_json::from_str(&text).unwrap();
        if message["type"] != "event" {
            continue;
        }
        let done = message["kind"] == kind;
        events.push(message);
        if done {
            return events;
        }
    }
}

#[tokio::test]
async fn a_ticket_made_from_a_conversation_holds_its_transcript_and_both_sides_link() {
    let d = desk().await;
    let rita_id = d.desk.requester.id.clone();
    let chat = d
        .conversation(d.rita(), json!({"subject": "My laptop"}))
        .await;
    say(
        d.rita(),
        &chat,
        json!({"body": "My laptop died this morning."}),
    )
    .await;
    say(
        d.agnes(),
        &chat,
        json!({"body": "Sorry! Let us order a new one."}),
    )
    .await;
    say(
        d.agnes(),
        &chat,
        json!({"body": "internal: check the budget", "internal": true}),
    )
    .await;

    let made = make_ticket(
        d.agnes(),
        &chat,
        json!({
            "ticket_type_id": d.desk.type_id,
            "data": {"amount": 900, "reason": "A new laptop"}
        }),
    )
    .await
    .expect(201);
    assert_eq!(made["created"], true, "{made}");
    let ticket = made["ticket"]["id"].as_str().unwrap().to_owned();
    // The ticket is Rita's, titled from her form, with the conversation; the conversation
    // names the ticket.
    assert_eq!(made["ticket"]["requester_id"], rita_id.as_str(), "{made}");
    assert_eq!(made["ticket"]["title"], "A new laptop (900 EUR)", "{made}");
    assert_eq!(made["ticket"]["conversation_id"], chat.as_str(), "{made}");
    assert_eq!(made["conversation"]["ticket_id"], ticket.as_str(), "{made}");

    // Both sides, as each person reads them.
    for client in [d.rita(), d.agnes()] {
        let seen = client.ticket(&ticket).await.expect(200);
        assert_eq!(seen["conversation_id"], chat.as_str(), "{seen}");
        assert_eq!(
            conversation(client, &chat).await["ticket_id"],
            ticket.as_str()
        );
    }
    let mine = d.rita().tickets("").await.expect(200);
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == ticket.as_str()),
        "Rita's list: {mine}"
    );

    // The transcript is the first comment: who said what, no internal note.
    let comments = d.rita().comments(&ticket).await.expect(200);
    let first = &comments["items"][0];
    let text = first["body"].as_str().unwrap();
    assert_eq!(first["author_id"], d.agent.id.as_str(), "{first}");
    assert_eq!(first["internal"], false, "{first}");
    for said in [
        "Rita Acme",
        "My laptop died this morning.",
        "Agnes Acme",
        "Sorry! Let us order a new one.",
        "“My laptop”",
    ] {
        assert!(text.contains(said), "{said:?} missing from {text}");
    }
    assert!(!text.contains("budget"), "an internal note leaked: {text}");
    assert!(
        text.find("My laptop died").unwrap() < text.find("Sorry!").unwrap(),
        "{text}"
    );

    // The ticket's stream: submitted, the transcript, the link (Rita reads them too).
    let kinds: Vec<String> = d.rita().ticket_timeline(&ticket).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    let at = |kind: &str| {
        kinds
            .iter()
            .position(|k| k == kind)
            .unwrap_or_else(|| panic!("no {kind} in {kinds:?}"))
    };
    assert!(at("ticket.submitted") < at("comment.added"), "{kinds:?}");
    assert!(
        at("comment.added") < at("ticket.conversation_linked"),
        "{kinds:?}"
    );
    let linked = ticket_events(d.rita(), &ticket, "ticket.conversation_linked").await;
    assert_eq!(
        linked[0]["payload"],
        json!({"conversation_id": chat, "created_from": true})
    );
    assert_eq!(linked[0]["actor_id"], d.agent.id.as_str());

    // The conversation's stream, as Rita receives it.
    let events =
        conversation_events_until(&d.app, d.rita(), &chat, "conversation.ticket_linked").await;
    let last = events.last().unwrap();
    assert_eq!(last["payload"]["ticket_id"], ticket.as_str(), "{last}");
    assert_eq!(
        last["payload"]["number"], made["ticket"]["number"],
        "{last}"
    );
    assert_eq!(last["payload"]["created"], true, "{last}");

    // Once linked, it stays: a second ticket, or linking another, is a conflict.
    let again = make_ticket(
        d.agnes(),
        &chat,
        json!({"ticket_type_id": d.desk.type_id, "data": {"amount": 5, "reason": "Again"}}),
    )
    .await;
    assert_eq!(fields(again, 409), ["ticket_id"]);
    let other = d.desk.request_purchase(30, "pens").await;
    let again = make_ticket(d.agnes(), &chat, json!({"ticket_id": id(&other)})).await;
    assert_eq!(fields(again, 409), ["ticket_id"]);
    let tickets = d.rita().tickets("").await.expect(200);
    assert_eq!(tickets["items"].as_array().unwrap().len(), 2, "{tickets}");
}

#[tokio::test]
async fn the_form_is_checked_and_only_agents_make_tickets_without_a_trace_when_refused() {
    let d = desk().await;
    let chat = d.conversation(d.rita(), json!({})).await;
    say(d.rita(), &chat, json!({"body": "Please buy me a chair."})).await;
    let type_id = d.desk.type_id.clone();

    // The required fields, named as for a submission.
    let missing = make_ticket(d.agnes(), &chat, json!({"ticket_type_id": type_id})).await;
    let named = fields(missing, 422);
    assert!(
        named.iter().any(|f| f.starts_with("data/amount")),
        "{named:?}"
    );
    assert!(
        named.iter().any(|f| f.starts_with("data/reason")),
        "{named:?}"
    );
    let invalid = make_ticket(
        d.agnes(),
        &chat,
        json!({"ticket_type_id": type_id, "data": {"amount": 0, "reason": "A chair"}}),
    )
    .await;
    assert_eq!(fields(invalid, 422), ["data/amount"]);
    // A type nobody has, or saying both or neither.
    let unknown = make_ticket(
        d.agnes(),
        &chat,
        json!({"ticket_type_id": uuid::Uuid::now_v7(), "data": {}}),
    )
    .await;
    assert_eq!(fields(unknown, 422), ["ticket_type_id"]);
    let neither = make_ticket(d.agnes(), &chat, json!({})).await;
    assert_eq!(fields(neither, 422), ["ticket_type_id"]);
    let both = make_ticket(
        d.agnes(),
        &chat,
        json!({"ticket_type_id": type_id, "ticket_id": uuid::Uuid::now_v7()}),
    )
    .await;
    assert_eq!(fields(both, 422), ["ticket_id"]);

    // The requester sees the conversation but may not: 403. Another requester, or another
    // company's agent, finds nothing: 404.
    let good = json!({"ticket_type_id": type_id, "data": {"amount": 80, "reason": "A chair"}});
    let rita = make_ticket(d.rita(), &chat, good.clone()).await;
    assert_eq!(rita.status, 403, "{rita}");
    assert!(rita.is_problem());
    let bob = d
        .desk
        .company
        .add_member("bob@acme.io", "Bob", &["user"], &[])
        .await;
    let bobs = make_ticket(&bob.api, &chat, good.clone()).await;
    assert_eq!(bobs.status, 404, "{bobs}");
    let globex = fixtures::sign_up(&d.app, "Globex", "gina@globex.io").await;
    let theirs = globex
        .add_member("gus@globex.io", "Gus", &["agent"], &[])
        .await;
    let cross = make_ticket(&theirs.api, &chat, good.clone()).await;
    assert_eq!(cross.status, 404, "{cross}");
    assert!(!cross.text().contains("chair"), "{cross}");

    // Nothing was made or linked by any of these.
    assert_eq!(
        conversation(d.agnes(), &chat).await["ticket_id"],
        Value::Null
    );
    let none = d.rita().tickets("").await.expect(200);
    assert_eq!(none["items"], json!([]), "{none}");

    // The agent then makes it.
    make_ticket(d.agnes(), &chat, good).await.expect(201);
}

#[tokio::test]
async fn an_existing_ticket_is_linked_once_and_agents_see_the_tickets_of_whom_they_support() {
    let d = desk().await;
    let ticket = id(&d.desk.request_purchase(250, "A monitor").await);
    // Bob's ticket: Bob never talked to support.
    let bob = d
        .desk
        .company
        .add_member("bob@acme.io", "Bob", &["user"], &[])
        .await;
    let bobs = bob
        .api
        .submit_ticket(&d.desk.type_id, json!({"amount": 10, "reason": "Paper"}))
        .await
        .expect(201);
    let bobs = id(&bobs);
    assert_eq!(d.agnes().ticket(&bobs).await.status, 404);
    assert_eq!(d.agnes().ticket(&ticket).await.status, 404);

    // Rita opens a conversation: her tickets are now the agents' to read, as she reads them.
    let chat = d.conversation(d.rita(), json!({})).await;
    let seen = d.agnes().ticket(&ticket).await.expect(200);
    assert_eq!(seen["actions"]["note"], false, "{seen}");
    assert_eq!(d.agnes().ticket(&bobs).await.status, 404);

    // A ticket the agent may not read is not linked.
    let hidden = make_ticket(d.agnes(), &chat, json!({"ticket_id": bobs})).await;
    assert_eq!(fields(hidden, 422), ["ticket_id"]);
    let unknown = make_ticket(d.agnes(), &chat, json!({"ticket_id": uuid::Uuid::now_v7()})).await;
    assert_eq!(fields(unknown, 422), ["ticket_id"]);

    let linked = make_ticket(d.agnes(), &chat, json!({"ticket_id": ticket}))
        .await
        .expect(200);
    assert_eq!(linked["created"], false, "{linked}");
    assert_eq!(linked["conversation"]["ticket_id"], ticket.as_str());
    assert_eq!(linked["ticket"]["conversation_id"], chat.as_str());
    // Linking adds no comment; both streams say so.
    assert_eq!(
        d.rita().comments(&ticket).await.expect(200)["items"],
        json!([])
    );
    let events = ticket_events(d.rita(), &ticket, "ticket.conversation_linked").await;
    assert_eq!(
        events[0]["payload"],
        json!({"conversation_id": chat, "created_from": false})
    );
    let events =
        conversation_events_until(&d.app, d.agnes(), &chat, "conversation.ticket_linked").await;
    assert_eq!(events.last().unwrap()["payload"]["created"], false);

    // The linked conversation is no longer Rita's general one: asking for support again
    // opens a new one, which cannot take the same ticket.
    let general = d.conversation(d.rita(), json!({})).await;
    assert_ne!(general, chat);
    let taken = make_ticket(d.agnes(), &general, json!({"ticket_id": ticket})).await;
    assert_eq!(fields(taken, 409), ["ticket_id"]);
}

#[tokio::test]
async fn a_conversation_opened_on_a_ticket_shows_on_its_timeline() {
    let d = desk().await;
    let ticket = id(&d.desk.request_purchase(120, "A keyboard").await);
    let chat = d.conversation(d.rita(), json!({"ticket_id": ticket})).await;
    let seen = d.rita().ticket(&ticket).await.expect(200);
    assert_eq!(seen["conversation_id"], chat.as_str(), "{seen}");
    let events = ticket_events(d.rita(), &ticket, "ticket.conversation_linked").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["payload"],
        json!({"conversation_id": chat, "created_from": false})
    );
    // Opening it again finds the same conversation and records nothing more.
    let again = d.conversation(d.rita(), json!({"ticket_id": ticket})).await;
    assert_eq!(again, chat);
    let events = ticket_events(d.rita(), &ticket, "ticket.conversation_linked").await;
    assert_eq!(events.len(), 1, "{events:?}");
    // A ticket without one leaves the field out.
    let other = d.desk.request_purchase(15, "Pens").await;
    assert!(other.get("conversation_id").is_none(), "{other}");
}

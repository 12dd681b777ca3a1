//! Support conversations over HTTP and the live stream: a requester opens (or gets back)
//! their conversation, agents are assigned by load, statuses move and reopen, messages are
//! numbered, hash-chained, edited with their versions kept, deleted as tombstones, read up
//! to a watermark; internal notes stay with the agents, live as well as read. Another
//! company's conversations are probed in `tenancy.rs` too.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::fixtures::{self, Company, Member};
use testkit::{ApiClient, ApiResponse, Body, TestApp, id, spawn_app};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const CONVERSATIONS: &str = "/api/v1/conversations";

/// Every member of a conversation's JSON.
const CONVERSATION_KEYS: [&str; 13] = [
    "id",
    "requester_id",
    "requester_name",
    "subject",
    "reference",
    "ticket_id",
    "status",
    "assignee_id",
    "assignee_name",
    "created_at",
    "updated_at",
    "last_message_at",
    "unread",
];

/// Every member of a message's JSON.
const MESSAGE_KEYS: [&str; 12] = [
    "id",
    "conversation_id",
    "seq",
    "author_id",
    "author_name",
    "body",
    "internal",
    "created_at",
    "edited_at",
    "deleted",
    "prev_hash",
    "hash",
];

/// Acme with its admin Ada, one agent (Agnes) and one requester (Rita, a plain user).
pub(crate) struct Desk {
    pub(crate) app: TestApp,
    pub(crate) company: Company,
    pub(crate) agent: Member,
    pub(crate) requester: Member,
}

pub(crate) async fn desk() -> Desk {
    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = company
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let requester = company
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    Desk {
        app,
        company,
        agent,
        requester,
    }
}

impl Desk {
    /// Another plain user of Acme, signed in.
    async fn another_requester(&self, first_name: &str) -> Member {
        let email = format!("{}@acme.io", first_name.to_lowercase());
        self.company
            .add_member(&email, first_name, &["user"], &[])
            .await
    }

    /// Rita's support conversation, opened (201).
    async fn opened(&self) -> Value {
        open(&self.requester.api, json!({})).await.expect(201)
    }
}

// ---- Calls

async fn call(client: &ApiClient, method: Method, path: &str, body: Option<Value>) -> ApiResponse {
    client
        .send(method, path, body.map_or(Body::Empty, Body::Json))
        .await
}

/// `POST /api/v1/conversations`
async fn open(client: &ApiClient, body: Value) -> ApiResponse {
    call(client, Method::POST, CONVERSATIONS, Some(body)).await
}

/// `GET /api/v1/conversations?query`
async fn list(client: &ApiClient, query: &str) -> ApiResponse {
    call(
        client,
        Method::GET,
        &format!("{CONVERSATIONS}?{query}"),
        None,
    )
    .await
}

/// `GET /api/v1/conversations/{id}`
async fn conversation(client: &ApiClient, conversation: &str) -> ApiResponse {
    call(
        client,
        Method::GET,
        &format!("{CONVERSATIONS}/{conversation}"),
        None,
    )
    .await
}

/// `POST /api/v1/conversations/{id}/assign`
async fn assign(client: &ApiClient, conversation: &str, assignee: Value) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/assign");
    call(
        client,
        Method::POST,
        &path,
        Some(json!({ "assignee_id": assignee })),
    )
    .await
}

/// `POST /api/v1/conversations/{id}/status`
async fn set_status(client: &ApiClient, conversation: &str, status: &str) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/status");
    call(
        client,
        Method::POST,
        &path,
        Some(json!({ "status": status })),
    )
    .await
}

/// `POST /api/v1/conversations/{id}/messages`
async fn send_message(
    client: &ApiClient,
    conversation: &str,
    body: &str,
    internal: bool,
) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/messages");
    let message = json!({ "body": body, "internal": internal });
    call(client, Method::POST, &path, Some(message)).await
}

/// A public message, posted (201).
async fn say(client: &ApiClient, conversation: &str, body: &str) -> Value {
    send_message(client, conversation, body, false)
        .await
        .expect(201)
}

/// An internal note, posted (201).
async fn note(client: &ApiClient, conversation: &str, body: &str) -> Value {
    send_message(client, conversation, body, true)
        .await
        .expect(201)
}

/// `GET /api/v1/conversations/{id}/messages`
async fn messages(client: &ApiClient, conversation: &str) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/messages");
    call(client, Method::GET, &path, None).await
}

/// The messages `client` reads, oldest first (200).
async fn message_list(client: &ApiClient, conversation: &str) -> Vec<Value> {
    let answer = messages(client, conversation).await.expect(200);
    answer["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {answer}"))
        .clone()
}

/// `PATCH /api/v1/conversations/{id}/messages/{message_id}`
async fn edit(client: &ApiClient, conversation: &str, message: &str, body: &str) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/messages/{message}");
    call(client, Method::PATCH, &path, Some(json!({ "body": body }))).await
}

/// `DELETE /api/v1/conversations/{id}/messages/{message_id}`
async fn delete(client: &ApiClient, conversation: &str, message: &str) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/messages/{message}");
    call(client, Method::DELETE, &path, None).await
}

/// `GET /api/v1/conversations/{id}/messages/{message_id}/versions`
async fn versions(client: &ApiClient, conversation: &str, message: &str) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/messages/{message}/versions");
    call(client, Method::GET, &path, None).await
}

/// `POST /api/v1/conversations/{id}/read`, up to a seq or everything.
async fn read(client: &ApiClient, conversation: &str, up_to: Option<i64>) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/read");
    let body = match up_to {
        Some(seq) => json!({ "up_to": seq }),
        None => json!({}),
    };
    call(client, Method::POST, &path, Some(body)).await
}

/// `GET /api/v1/conversations/{id}/verify`
async fn verify(client: &ApiClient, conversation: &str) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/verify");
    call(client, Method::GET, &path, None).await
}

// ---- Reading answers

/// The fields a 422 problem names.
#[track_caller]
fn fields(answer: ApiResponse) -> Vec<String> {
    assert!(answer.is_problem(), "not a problem document: {answer}");
    let problem = answer.expect(422);
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

/// Asserts a refusal: one of `statuses`, as a problem document.
#[track_caller]
fn refused(answer: &ApiResponse, statuses: &[u16]) {
    assert!(
        statuses.contains(&answer.status.as_u16()),
        "expected one of {statuses:?}: {answer}"
    );
    assert!(answer.is_problem(), "not a problem document: {answer}");
}

/// The ids of a list's items, in order; asserts `total` counts them.
#[track_caller]
fn listed(answer: ApiResponse) -> Vec<String> {
    let page = answer.expect(200);
    let items = page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"));
    assert_eq!(page["total"], items.len(), "{page}");
    items.iter().map(id).collect()
}

fn seqs(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

fn text_of(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
        .to_owned()
}

// ---- Opening

#[tokio::test]
async fn a_requester_opens_a_conversation_and_gets_the_same_one_back_while_it_is_open() {
    let d = desk().await;
    let rita = &d.requester.api;
    let created = open(rita, json!({"subject": "My printer"}))
        .await
        .expect(201);
    for key in CONVERSATION_KEYS {
        assert!(created.get(key).is_some(), "no {key} in {created}");
    }
    assert_eq!(
        created["requester_id"],
        d.requester.id.as_str(),
        "{created}"
    );
    assert_eq!(created["requester_name"], "Rita Acme", "{created}");
    assert_eq!(created["subject"], "My printer", "{created}");
    assert_eq!(created["status"], "open", "{created}");
    assert_eq!(created["reference"], Value::Null, "{created}");
    assert_eq!(created["ticket_id"], Value::Null, "{created}");
    assert_eq!(created["unread"], 0, "{created}");
    // Who takes it is the rotation's business (tested below); it shows who.
    assert_eq!(
        created["assignee_id"].is_null(),
        created["assignee_name"].is_null(),
        "{created}"
    );

    let again = open(rita, json!({})).await.expect(200);
    assert_eq!(again["id"], created["id"], "{again}");
    let read = conversation(rita, &id(&created)).await.expect(200);
    assert_eq!(read["id"], created["id"]);
    assert_eq!(read["subject"], "My printer");
    // The agent reads the same conversation.
    let seen = conversation(&d.agent.api, &id(&created)).await.expect(200);
    assert_eq!(seen["requester_id"], d.requester.id.as_str(), "{seen}");
    d.app.stop().await;
}

#[tokio::test]
async fn eight_concurrent_opens_by_one_requester_create_exactly_one_conversation() {
    let d = desk().await;
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let rita = d.requester.api.clone();
            tokio::spawn(async move { open(&rita, json!({})).await })
        })
        .collect();
    let mut statuses = Vec::new();
    let mut ids = Vec::new();
    for call in calls {
        let answer = call.await.unwrap();
        statuses.push(answer.status.as_u16());
        ids.push(id(&answer.ok()));
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 201]);
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let all = listed(list(&d.agent.api, "view=all").await);
    assert_eq!(all, [ids[0].clone()]);
    d.app.stop().await;
}

#[tokio::test]
async fn a_reference_gets_its_own_conversation_once_per_company() {
    let d = desk().await;
    let rita = &d.requester.api;
    let support = d.opened().await;
    let order = open(
        rita,
        json!({"reference": "order-1001", "subject": "Order 1001"}),
    )
    .await
    .expect(201);
    assert_ne!(order["id"], support["id"], "{order}");
    assert_eq!(order["reference"], "order-1001", "{order}");
    let again = open(rita, json!({"reference": "order-1001"}))
        .await
        .expect(200);
    assert_eq!(again["id"], order["id"], "{again}");
    // Without a reference the requester still gets the general conversation.
    assert_eq!(open(rita, json!({})).await.expect(200)["id"], support["id"]);
    let other = open(rita, json!({"reference": "order-1002"}))
        .await
        .expect(201);
    assert_ne!(other["id"], order["id"]);

    // The same reference in another company is that company's own.
    let globex = fixtures::sign_up(&d.app, "Globex", "gus@globex.io").await;
    globex
        .add_member("gina@globex.io", "Gina", &["agent"], &[])
        .await;
    let gary = globex
        .add_member("gary@globex.io", "Gary", &["user"], &[])
        .await;
    let theirs = open(&gary.api, json!({"reference": "order-1001"}))
        .await
        .expect(201);
    assert_ne!(theirs["id"], order["id"]);
    assert_eq!(theirs["requester_id"], gary.id.as_str(), "{theirs}");
    d.app.stop().await;
}

#[tokio::test]
async fn a_ticket_gets_its_own_conversation_once_and_another_companys_ticket_is_unknown() {
    let app = spawn_app().await;
    let desk = fixtures::purchase_desk(&app, fixtures::when_approved()).await;
    desk.company
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let ticket = id(&desk.request_purchase(250, "A laptop").await);
    let rita = &desk.requester.api;
    let about = open(rita, json!({"ticket_id": ticket})).await.expect(201);
    assert_eq!(about["ticket_id"], ticket.as_str(), "{about}");
    let again = open(rita, json!({"ticket_id": ticket})).await.expect(200);
    assert_eq!(again["id"], about["id"]);
    let general = open(rita, json!({})).await.expect(201);
    assert_ne!(general["id"], about["id"]);

    // Another company's requester cannot attach a conversation to Acme's ticket.
    let globex = fixtures::sign_up(&app, "Globex", "gus@globex.io").await;
    let gary = globex
        .add_member("gary@globex.io", "Gary", &["user"], &[])
        .await;
    let answer = open(&gary.api, json!({"ticket_id": ticket})).await;
    refused(&answer, &[404, 422]);
    assert!(!answer.text().contains(&id(&about)), "{answer}");
    app.stop().await;
}

// ---- Assignment

#[tokio::test]
async fn a_new_conversation_goes_to_the_agent_with_the_fewest_open_then_the_least_recently_assigned()
 {
    let d = desk().await;
    let second = d
        .company
        .add_member("arno@acme.io", "Arno", &["agent"], &[])
        .await;
    let agents = [d.agent.id.clone(), second.id.clone()];
    let mut requesters = vec![d.requester.api.clone()];
    for name in ["Rob", "Ria", "Ron"] {
        requesters.push(d.another_requester(name).await.api);
    }
    let mut opened = Vec::new();
    for requester in &requesters[..3] {
        opened.push(open(requester, json!({})).await.expect(201));
    }
    let assignees: Vec<String> = opened.iter().map(|c| text_of(c, "assignee_id")).collect();
    for assignee in &assignees {
        assert!(agents.contains(assignee), "{assignees:?} of {agents:?}");
    }
    // Both at zero: one; then the other (fewer open); then a tie at one each, broken by
    // the one assigned least recently: the first again.
    assert_ne!(assignees[0], assignees[1], "{assignees:?}");
    assert_eq!(assignees[2], assignees[0], "{assignees:?}");
    let busy = &assignees[0];
    let mut load: BTreeMap<&str, usize> = BTreeMap::new();
    for assignee in &assignees {
        *load.entry(assignee).or_default() += 1;
    }
    let mut counts: Vec<usize> = load.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2], "{load:?}");

    // The busier agent's two are closed by their requesters: now they have none open, and
    // the next goes to them though they were assigned most recently.
    for (requester, conversation) in requesters.iter().zip(&opened) {
        if text_of(conversation, "assignee_id") == *busy {
            set_status(requester, &id(conversation), "closed")
                .await
                .expect(200);
        }
    }
    let fourth = open(&requesters[3], json!({})).await.expect(201);
    assert_eq!(&text_of(&fourth, "assignee_id"), busy, "{fourth}");
    d.app.stop().await;
}

#[tokio::test]
async fn without_an_agent_a_new_conversation_is_unassigned() {
    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let rita = company
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    // A company's admin answers conversations but is not in the rotation.
    let created = open(&rita.api, json!({})).await.expect(201);
    assert_eq!(created["assignee_id"], Value::Null, "{created}");
    assert_eq!(created["assignee_name"], Value::Null, "{created}");
    let unassigned = listed(list(&company.admin, "view=unassigned").await);
    assert_eq!(unassigned, [id(&created)]);
    app.stop().await;
}

#[tokio::test]
async fn an_agent_or_an_admin_transfers_a_conversation_to_another_agent_or_unassigns_it() {
    let d = desk().await;
    let arno = d
        .company
        .add_member("arno@acme.io", "Arno", &["agent"], &[])
        .await;
    let created = d.opened().await;
    let conversation_id = id(&created);
    let first = text_of(&created, "assignee_id");
    let other = if first == d.agent.id { &arno } else { &d.agent };
    let moved = assign(&d.agent.api, &conversation_id, json!(other.id))
        .await
        .expect(200);
    assert_eq!(moved["assignee_id"], other.id.as_str(), "{moved}");
    let read = conversation(&d.requester.api, &conversation_id)
        .await
        .expect(200);
    assert_eq!(read["assignee_id"], other.id.as_str(), "{read}");

    let dropped = assign(&d.agent.api, &conversation_id, Value::Null)
        .await
        .expect(200);
    assert_eq!(dropped["assignee_id"], Value::Null, "{dropped}");
    assert_eq!(dropped["assignee_name"], Value::Null, "{dropped}");
    let unassigned = listed(list(&d.agent.api, "view=unassigned").await);
    assert_eq!(unassigned, [conversation_id.as_str()]);

    // The admin can do what an agent does, including taking it themself.
    let taken = assign(
        &d.company.admin,
        &conversation_id,
        json!(d.company.admin_id),
    )
    .await
    .expect(200);
    assert_eq!(taken["assignee_id"], d.company.admin_id.as_str(), "{taken}");
    assert_eq!(taken["assignee_name"], "Ada Admin", "{taken}");
    d.app.stop().await;
}

#[tokio::test]
async fn a_conversation_is_assigned_only_to_an_agent_and_only_by_agents() {
    let d = desk().await;
    let created = d.opened().await;
    let conversation_id = id(&created);
    let worker = d
        .company
        .add_member("walt@acme.io", "Walt", &["task_worker"], &[])
        .await;
    for not_an_agent in [&d.requester.id, &worker.id] {
        let answer = assign(&d.agent.api, &conversation_id, json!(not_an_agent)).await;
        assert_eq!(fields(answer), ["assignee_id"]);
    }
    let unknown = assign(
        &d.agent.api,
        &conversation_id,
        json!(uuid::Uuid::now_v7().to_string()),
    )
    .await;
    assert_eq!(fields(unknown), ["assignee_id"]);

    // The requester may not move it, not even to an agent.
    let answer = assign(&d.requester.api, &conversation_id, json!(d.agent.id)).await;
    refused(&answer, &[403, 404]);
    let answer = assign(&d.requester.api, &conversation_id, Value::Null).await;
    refused(&answer, &[403, 404]);
    let read = conversation(&d.agent.api, &conversation_id)
        .await
        .expect(200);
    assert_eq!(read["assignee_id"], created["assignee_id"], "{read}");
    d.app.stop().await;
}

// ---- Statuses

#[tokio::test]
async fn agents_move_a_conversation_open_pending_resolved_closed_and_reopen_it() {
    let d = desk().await;
    let conversation_id = id(&d.opened().await);
    for status in ["pending", "resolved", "closed", "open"] {
        let moved = set_status(&d.agent.api, &conversation_id, status)
            .await
            .expect(200);
        assert_eq!(moved["status"], status, "{moved}");
        let read = conversation(&d.requester.api, &conversation_id)
            .await
            .expect(200);
        assert_eq!(read["status"], status, "{read}");
    }
    // The admin too.
    let moved = set_status(&d.company.admin, &conversation_id, "pending")
        .await
        .expect(200);
    assert_eq!(moved["status"], "pending");
    d.app.stop().await;
}

#[tokio::test]
async fn an_unknown_status_is_refused_naming_status() {
    let d = desk().await;
    let conversation_id = id(&d.opened().await);
    for status in ["archived", "", "OPEN"] {
        let answer = set_status(&d.agent.api, &conversation_id, status).await;
        assert_eq!(fields(answer), ["status"], "{status:?}");
    }
    let read = conversation(&d.agent.api, &conversation_id)
        .await
        .expect(200);
    assert_eq!(read["status"], "open");
    d.app.stop().await;
}

#[tokio::test]
async fn a_requester_may_resolve_or_close_their_own_conversation_but_nothing_else() {
    let d = desk().await;
    let rita = &d.requester.api;
    let conversation_id = id(&d.opened().await);
    let answer = set_status(rita, &conversation_id, "pending").await;
    refused(&answer, &[403, 422]);
    let resolved = set_status(rita, &conversation_id, "resolved")
        .await
        .expect(200);
    assert_eq!(resolved["status"], "resolved");

    // Another requester may not touch it.
    let rob = d.another_requester("Rob").await;
    let answer = set_status(&rob.api, &conversation_id, "closed").await;
    refused(&answer, &[404]);
    let closed = set_status(rita, &conversation_id, "closed")
        .await
        .expect(200);
    assert_eq!(closed["status"], "closed");
    d.app.stop().await;
}

#[tokio::test]
async fn a_closed_conversation_keeps_its_messages_and_the_requester_opens_a_new_one() {
    let d = desk().await;
    let rita = &d.requester.api;
    let old = id(&d.opened().await);
    say(rita, &old, "The printer is on fire").await;
    say(&d.agent.api, &old, "Please step away from it").await;
    set_status(rita, &old, "closed").await.expect(200);

    let kept = conversation(rita, &old).await.expect(200);
    assert_eq!(kept["status"], "closed", "{kept}");
    let bodies: Vec<Value> = message_list(rita, &old)
        .await
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        [
            json!("The printer is on fire"),
            json!("Please step away from it")
        ]
    );

    let new = open(rita, json!({})).await.expect(201);
    assert_ne!(id(&new), old);
    assert_eq!(new["status"], "open");
    assert_eq!(message_list(rita, &id(&new)).await, Vec::<Value>::new());
    // Both are still listed; the old one is still there when filtered by its status.
    let closed = listed(list(&d.agent.api, "view=all&status=closed").await);
    assert_eq!(closed, [old.as_str()]);
    let mine = listed(list(rita, "view=all").await);
    assert_eq!(mine.len(), 2, "{mine:?}");
    d.app.stop().await;
}

// ---- Lists

#[tokio::test]
async fn an_agent_lists_mine_unassigned_and_all_filtered_by_status_most_recent_first() {
    let d = desk().await;
    let agnes = &d.agent.api;
    let rob = d.another_requester("Rob").await;
    let ria = d.another_requester("Ria").await;
    let first = id(&d.opened().await);
    let second = id(&open(&rob.api, json!({})).await.expect(201));
    let third = id(&open(&ria.api, json!({})).await.expect(201));
    // Whoever the rotation chose: two are Agnes's, one is nobody's.
    for mine in [&first, &second] {
        assign(agnes, mine, json!(d.agent.id)).await.expect(200);
    }
    assign(agnes, &third, Value::Null).await.expect(200);
    set_status(agnes, &second, "pending").await.expect(200);

    // Activity: a message to the oldest makes it the most recent.
    say(&d.requester.api, &first, "Any news?").await;
    let all = listed(list(agnes, "view=all").await);
    assert_eq!(all[0], first, "{all:?}");
    assert_eq!(all.len(), 3, "{all:?}");
    say(agnes, &second, "We are waiting for the part").await;
    let all = listed(list(agnes, "view=all").await);
    assert_eq!(all[..2], [second.clone(), first.clone()], "{all:?}");

    let mine = listed(list(agnes, "view=mine").await);
    assert_eq!(mine, [second.clone(), first.clone()]);
    let unassigned = listed(list(agnes, "view=unassigned").await);
    assert_eq!(unassigned, [third.as_str()]);
    let pending = listed(list(agnes, "view=all&status=pending").await);
    assert_eq!(pending, [second.as_str()]);
    let open_and_mine = listed(list(agnes, "view=mine&status=open").await);
    assert_eq!(open_and_mine, [first.as_str()]);
    // The admin's own queue is empty; the company's is not.
    assert_eq!(listed(list(&d.company.admin, "view=mine").await).len(), 0);
    assert_eq!(listed(list(&d.company.admin, "view=all").await).len(), 3);
    d.app.stop().await;
}

#[tokio::test]
async fn a_requester_lists_only_their_own_conversations_whatever_the_view() {
    let d = desk().await;
    let rob = d.another_requester("Rob").await;
    let own = id(&d.opened().await);
    let robs = id(&open(&rob.api, json!({})).await.expect(201));
    assign(&d.agent.api, &robs, Value::Null).await.expect(200);
    for view in ["view=mine", "view=all", "view=unassigned", ""] {
        let seen = listed(list(&d.requester.api, view).await);
        assert!(!seen.contains(&robs), "{view}: {seen:?}");
        if view != "view=unassigned" {
            assert_eq!(seen, [own.as_str()], "{view}");
        }
    }
    d.app.stop().await;
}

#[tokio::test]
async fn another_requesters_or_another_companys_conversation_is_not_found() {
    let d = desk().await;
    let conversation_id = id(&d.opened().await);
    let message = id(&say(&d.requester.api, &conversation_id, "acme-secret").await);
    let rob = d.another_requester("Rob").await;
    let globex = fixtures::sign_up(&d.app, "Globex", "gus@globex.io").await;
    let gina = globex
        .add_member("gina@globex.io", "Gina", &["agent"], &[])
        .await;
    for (who, client) in [
        ("another requester", &rob.api),
        ("another company's agent", &gina.api),
        ("another company's admin", &globex.admin),
    ] {
        for answer in [
            conversation(client, &conversation_id).await,
            messages(client, &conversation_id).await,
            send_message(client, &conversation_id, "hello", false).await,
            read(client, &conversation_id, None).await,
            edit(client, &conversation_id, &message, "mine").await,
        ] {
            assert_eq!(answer.status, 404, "{who}: {answer}");
            assert!(answer.is_problem(), "{who}: {answer}");
            assert!(!answer.text().contains("acme-secret"), "{who}: {answer}");
        }
    }
    let theirs = listed(list(&gina.api, "view=all").await);
    assert!(theirs.is_empty(), "{theirs:?}");
    // Nothing was changed.
    let all = message_list(&d.agent.api, &conversation_id).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["body"], "acme-secret");
    d.app.stop().await;
}

// ---- Messages

#[tokio::test]
async fn messages_are_numbered_per_conversation_hash_chained_and_read_oldest_first() {
    let d = desk().await;
    let rita = &d.requester.api;
    let agnes = &d.agent.api;
    let conversation_id = id(&d.opened().await);
    let first = say(rita, &conversation_id, "Hello").await;
    for key in MESSAGE_KEYS {
        assert!(first.get(key).is_some(), "no {key} in {first}");
    }
    assert_eq!(first["conversation_id"], conversation_id.as_str());
    assert_eq!(first["seq"], 1, "{first}");
    assert_eq!(first["author_id"], d.requester.id.as_str(), "{first}");
    assert_eq!(first["author_name"], "Rita Acme", "{first}");
    assert_eq!(first["body"], "Hello");
    assert_eq!(first["internal"], false);
    assert_eq!(first["deleted"], false);
    assert_eq!(first["edited_at"], Value::Null);
    let second = say(agnes, &conversation_id, "Hi Rita").await;
    assert_eq!(second["seq"], 2, "{second}");
    assert_eq!(second["author_name"], "Agnes Acme", "{second}");
    let third = say(rita, &conversation_id, "My printer").await;
    assert_eq!(third["seq"], 3, "{third}");

    // Each message's hash is the next one's previous hash; all differ.
    let all = message_list(agnes, &conversation_id).await;
    assert_eq!(seqs(&all), [1, 2, 3]);
    let bodies: Vec<&str> = all.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Hello", "Hi Rita", "My printer"]);
    for pair in all.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "{pair:?}");
        assert_ne!(pair[1]["hash"], pair[0]["hash"], "{pair:?}");
        assert!(pair[1]["hash"].as_str().is_some_and(|h| !h.is_empty()));
    }

    // Another conversation counts from 1.
    let rob = d.another_requester("Rob").await;
    let robs = id(&open(&rob.api, json!({})).await.expect(201));
    assert_eq!(say(&rob.api, &robs, "Hi").await["seq"], 1);
    // The conversation shows when it was last written to.
    let read = conversation(agnes, &conversation_id).await.expect(200);
    assert_eq!(read["last_message_at"], third["created_at"], "{read}");
    d.app.stop().await;
}

#[tokio::test]
async fn internal_notes_are_written_and_read_by_agents_only() {
    let d = desk().await;
    let rita = &d.requester.api;
    let agnes = &d.agent.api;
    let conversation_id = id(&d.opened().await);
    say(rita, &conversation_id, "Hello").await;
    let noted = note(agnes, &conversation_id, "She called twice").await;
    assert_eq!(noted["internal"], true, "{noted}");
    assert_eq!(noted["seq"], 2, "{noted}");
    let admin_note = note(&d.company.admin, &conversation_id, "Escalate").await;
    assert_eq!(admin_note["seq"], 3);
    say(agnes, &conversation_id, "On it").await;

    let answer = send_message(rita, &conversation_id, "psst", true).await;
    assert_eq!(fields(answer), ["internal"]);

    let seen = message_list(rita, &conversation_id).await;
    assert_eq!(seqs(&seen), [1, 4], "{seen:?}");
    assert!(seen.iter().all(|m| m["internal"] == false), "{seen:?}");
    let listed = messages(rita, &conversation_id).await.text();
    assert!(!listed.contains("She called twice"), "{listed}");
    assert!(!listed.contains("Escalate"), "{listed}");
    let all = message_list(agnes, &conversation_id).await;
    assert_eq!(seqs(&all), [1, 2, 3, 4]);
    assert_eq!(all[1]["internal"], true);
    assert_eq!(all[1]["body"], "She called twice");
    d.app.stop().await;
}

#[tokio::test]
async fn a_message_body_must_hold_between_one_and_five_thousand_characters() {
    let d = desk().await;
    let rita = &d.requester.api;
    let conversation_id = id(&d.opened().await);
    for body in [String::new(), "x".repeat(5_001), "é".repeat(5_001)] {
        let answer = send_message(rita, &conversation_id, &body, false).await;
        assert_eq!(
            fields(answer),
            ["body"],
            "{} characters",
            body.chars().count()
        );
    }
    let missing = call(
        rita,
        Method::POST,
        &format!("{CONVERSATIONS}/{conversation_id}/messages"),
        Some(json!({})),
    )
    .await;
    assert_eq!(fields(missing), ["body"]);
    assert_eq!(message_list(rita, &conversation_id).await.len(), 0);

    // Characters, not bytes: 5,000 two-byte characters are fine.
    let longest = say(rita, &conversation_id, &"é".repeat(5_000)).await;
    assert_eq!(longest["body"].as_str().unwrap().chars().count(), 5_000);
    assert_eq!(longest["seq"], 1, "{longest}");
    d.app.stop().await;
}

#[tokio::test]
async fn a_requesters_message_reopens_a_resolved_conversation() {
    let d = desk().await;
    let conversation_id = id(&d.opened().await);
    set_status(&d.agent.api, &conversation_id, "resolved")
        .await
        .expect(200);
    say(&d.requester.api, &conversation_id, "It broke again").await;
    let read = conversation(&d.agent.api, &conversation_id)
        .await
        .expect(200);
    assert_eq!(read["status"], "open", "{read}");
    let open_ones = listed(list(&d.agent.api, "view=all&status=open").await);
    assert_eq!(open_ones, [conversation_id]);
    d.app.stop().await;
}

#[tokio::test]
async fn an_author_edits_a_message_and_agents_read_every_earlier_version() {
    let d = desk().await;
    let rita = &d.requester.api;
    let conversation_id = id(&d.opened().await);
    let posted = say(rita, &conversation_id, "My pinter is broken").await;
    let message = id(&posted);
    let edited = edit(rita, &conversation_id, &message, "My printer is broken")
        .await
        .expect(200);
    assert_eq!(edited["body"], "My printer is broken", "{edited}");
    assert!(edited["edited_at"].is_string(), "{edited}");
    assert_eq!(edited["seq"], posted["seq"]);
    assert_eq!(edited["id"], posted["id"]);
    edit(
        rita,
        &conversation_id,
        &message,
        "My printer is broken (HP)",
    )
    .await
    .expect(200);

    let listed = message_list(rita, &conversation_id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["body"], "My printer is broken (HP)");
    assert!(listed[0]["edited_at"].is_string(), "{listed:?}");

    let history = versions(&d.agent.api, &conversation_id, &message)
        .await
        .expect(200);
    let text = history.to_string();
    for earlier in ["My pinter is broken", "My printer is broken"] {
        assert!(
            history["items"]
                .as_array()
                .unwrap_or_else(|| panic!("no items in {history}"))
                .iter()
                .any(|v| v["body"] == earlier),
            "no version {earlier:?} in {text}"
        );
    }
    assert_eq!(history["items"].as_array().unwrap().len(), 2, "{text}");
    // The requester does not read the history.
    refused(
        &versions(rita, &conversation_id, &message).await,
        &[403, 404],
    );
    d.app.stop().await;
}

#[tokio::test]
async fn only_the_author_edits_or_deletes_a_message_and_the_body_rules_hold_for_edits() {
    let d = desk().await;
    let rita = &d.requester.api;
    let agnes = &d.agent.api;
    let conversation_id = id(&d.opened().await);
    let hers = id(&say(rita, &conversation_id, "Hello").await);
    let agents = id(&say(agnes, &conversation_id, "Hi").await);
    for (client, message) in [(agnes, &hers), (&d.company.admin, &hers), (rita, &agents)] {
        refused(
            &edit(client, &conversation_id, message, "Rewritten").await,
            &[403, 404],
        );
        refused(
            &delete(client, &conversation_id, message).await,
            &[403, 404],
        );
    }
    assert_eq!(
        fields(edit(rita, &conversation_id, &hers, "").await),
        ["body"]
    );
    assert_eq!(
        fields(edit(rita, &conversation_id, &hers, &"x".repeat(5_001)).await),
        ["body"]
    );
    let all = message_list(agnes, &conversation_id).await;
    let bodies: Vec<&str> = all.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Hello", "Hi"]);
    assert!(
        all.iter()
            .all(|m| m["edited_at"].is_null() && m["deleted"] == false)
    );
    d.app.stop().await;
}

#[tokio::test]
async fn a_deleted_message_reads_as_a_tombstone_keeping_its_seq() {
    let d = desk().await;
    let rita = &d.requester.api;
    let conversation_id = id(&d.opened().await);
    say(rita, &conversation_id, "Hello").await;
    let oops = id(&say(rita, &conversation_id, "my password is hunter2").await);
    say(rita, &conversation_id, "Sorry").await;
    let answer = delete(rita, &conversation_id, &oops).await;
    assert_eq!(answer.status, 204, "{answer}");

    for client in [rita, &d.agent.api] {
        let all = message_list(client, &conversation_id).await;
        assert_eq!(seqs(&all), [1, 2, 3], "{all:?}");
        assert_eq!(all[1]["id"], oops.as_str());
        assert_eq!(all[1]["deleted"], true, "{all:?}");
        assert_eq!(all[1]["body"], "", "{all:?}");
        assert_eq!(all[0]["deleted"], false);
        let text = messages(client, &conversation_id).await.text();
        assert!(!text.contains("hunter2"), "{text}");
    }
    // The next message still counts on.
    assert_eq!(say(rita, &conversation_id, "Thanks").await["seq"], 4);
    d.app.stop().await;
}

// ---- Reading

#[tokio::test]
async fn unread_counts_the_other_sides_messages_after_the_read_watermark() {
    let d = desk().await;
    let rita = &d.requester.api;
    let agnes = &d.agent.api;
    let conversation_id = id(&d.opened().await);
    let unread = |client: ApiClient| {
        let conversation_id = conversation_id.clone();
        async move {
            let read = conversation(&client, &conversation_id).await.expect(200);
            read["unread"].as_i64().unwrap_or_else(|| panic!("{read}"))
        }
    };
    for n in 1..=3 {
        say(agnes, &conversation_id, &format!("Step {n}")).await;
    }
    note(agnes, &conversation_id, "internal: not for her").await;
    assert_eq!(unread(rita.clone()).await, 3);
    // The agent's own messages and notes are not unread for them.
    assert_eq!(unread(agnes.clone()).await, 0);

    let answer = read(rita, &conversation_id, Some(2)).await.expect(200);
    assert_eq!(
        (answer["up_to"].as_i64(), answer["unread"].as_i64()),
        (Some(2), Some(1)),
        "{answer}"
    );
    assert_eq!(unread(rita.clone()).await, 1);
    let listed = list(rita, "").await.expect(200);
    assert_eq!(listed["items"][0]["unread"], 1, "{listed}");

    let answer = read(rita, &conversation_id, None).await.expect(200);
    assert_eq!(answer["unread"], 0, "{answer}");
    assert_eq!(unread(rita.clone()).await, 0);

    // Her messages are unread for the agent, not for her.
    say(rita, &conversation_id, "Done step 3").await;
    say(rita, &conversation_id, "Now what?").await;
    assert_eq!(unread(rita.clone()).await, 0);
    assert_eq!(unread(agnes.clone()).await, 2);
    let answer = read(agnes, &conversation_id, None).await.expect(200);
    assert_eq!(answer["unread"], 0, "{answer}");
    assert_eq!(unread(agnes.clone()).await, 0);
    d.app.stop().await;
}

#[tokio::test]
async fn an_agent_sees_which_messages_the_requester_has_read() {
    let d = desk().await;
    let conversation_id = id(&d.opened().await);
    for n in 1..=3 {
        say(&d.agent.api, &conversation_id, &format!("Step {n}")).await;
    }
    let receipts =
        |all: &[Value]| -> Vec<Value> { all.iter().map(|m| m["read_by_other"].clone()).collect() };
    let before = message_list(&d.agent.api, &conversation_id).await;
    assert_eq!(
        receipts(&before),
        [json!(false), json!(false), json!(false)]
    );
    read(&d.requester.api, &conversation_id, Some(2))
        .await
        .expect(200);
    let after = message_list(&d.agent.api, &conversation_id).await;
    assert_eq!(
        receipts(&after),
        [json!(true), json!(true), json!(false)],
        "{after:?}"
    );
    read(&d.requester.api, &conversation_id, None)
        .await
        .expect(200);
    let after = message_list(&d.agent.api, &conversation_id).await;
    assert_eq!(receipts(&after), [json!(true), json!(true), json!(true)]);
    d.app.stop().await;
}

// ---- The hash chain

/// Overwrites a message's stored body behind the application's back.
async fn tamper(app: &TestApp, message: &str, body: &str) {
    let uuid = uuid::Uuid::parse_str(message).unwrap();
    let mut tx = app.app.db().begin().await.unwrap();
    let sql = match tx.backend() {
        store::Backend::Sqlite => format!(
            "UPDATE conversation_messages SET body = '{body}' WHERE id = x'{}'",
            uuid.simple()
        ),
        store::Backend::Postgres => {
            format!("UPDATE conversation_messages SET body = '{body}' WHERE id = '{uuid}'")
        }
    };
    tx.execute_script(&sql).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_hash_chain_verifies_until_a_stored_message_is_tampered_with() {
    let d = desk().await;
    let rita = &d.requester.api;
    let agnes = &d.agent.api;
    let conversation_id = id(&d.opened().await);
    say(rita, &conversation_id, "Hello").await;
    say(agnes, &conversation_id, "Hi").await;
    note(agnes, &conversation_id, "Keep an eye on this one").await;
    let edited = id(&say(rita, &conversation_id, "Refund 10 EUR").await);
    let removed = id(&say(rita, &conversation_id, "oops").await);
    say(agnes, &conversation_id, "Done").await;
    // Edits and deletions through the API keep the chain whole.
    edit(rita, &conversation_id, &edited, "Refund 20 EUR")
        .await
        .expect(200);
    assert_eq!(delete(rita, &conversation_id, &removed).await.status, 204);
    let whole = verify(agnes, &conversation_id).await.expect(200);
    assert_eq!(
        whole,
        json!({"ok": true, "checked": 6, "broken_at": null}),
        "{whole}"
    );
    refused(&verify(rita, &conversation_id).await, &[403, 404]);

    // A body changed in the database breaks the chain at its message.
    let target = message_list(agnes, &conversation_id).await[1].clone();
    assert_eq!(target["body"], "Hi");
    tamper(&d.app, &id(&target), "Hi, send me your password").await;
    let broken = verify(agnes, &conversation_id).await.expect(200);
    assert_eq!(broken["ok"], false, "{broken}");
    assert_eq!(broken["broken_at"], target["seq"], "{broken}");
    d.app.stop().await;
}

// ---- The live stream

/// How long a test waits for one message of the stream before it fails.
const WAIT: Duration = Duration::from_secs(10);

struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// Opens the stream with `Authorization: Bearer <token>`.
    async fn open(app: &TestApp, client: &ApiClient) -> Self {
        let url = format!("ws://{}/api/v1/stream", app.address);
        let mut request = url.into_client_request().unwrap();
        let token = client.token().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Self { ws }
    }

    async fn subscribe(&mut self, stream: &str) -> Value {
        self.subscribe_with(json!({"type": "subscribe", "stream": stream}))
            .await
    }

    async fn subscribe_with(&mut self, message: Value) -> Value {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
        self.next().await
    }

    /// The next protocol message (pings are answered by the client library).
    async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message within 10 s")
                .expect("the socket is open")
                .expect("a frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The `message.posted` events up to and including the one of `message`, in order;
    /// other events are skipped.
    async fn posted_until(&mut self, message: &str) -> Vec<Value> {
        let mut posted = Vec::new();
        loop {
            let event = self.next().await;
            assert_eq!(event["type"], "event", "{event}");
            if event["kind"] != "message.posted" {
                continue;
            }
            let done = event["payload"]["message_id"] == message;
            posted.push(event);
            if done {
                return posted;
            }
        }
    }

    /// Every event up to and including the `message.posted` of `message`.
    async fn events_until(&mut self, message: &str) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let event = self.next().await;
            assert_eq!(event["type"], "event", "{event}");
            let done =
                event["kind"] == "message.posted" && event["payload"]["message_id"] == message;
            events.push(event);
            if done {
                return events;
            }
        }
    }
}

fn posted_bodies(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["payload"]["body"].as_str().unwrap_or("<no body>"))
        .collect()
}

#[tokio::test]
async fn a_subscribed_requester_receives_public_messages_and_never_internal_notes() {
    let d = desk().await;
    let conversation_id = id(&d.opened().await);
    let stream = format!("conversation:{conversation_id}");
    let mut requester = Socket::open(&d.app, &d.requester.api).await;
    let subscribed = requester.subscribe(&stream).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    let mut agent = Socket::open(&d.app, &d.agent.api).await;
    let subscribed = agent.subscribe(&stream).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");

    let agnes = &d.agent.api;
    note(agnes, &conversation_id, "internal: refund approved").await;
    say(agnes, &conversation_id, "We will refund you").await;
    note(agnes, &conversation_id, "internal: done in the ledger").await;
    let last = id(&say(&d.requester.api, &conversation_id, "Thank you").await);

    // Events come in commit order: what the requester did not get before the last message,
    // they never get.
    let hers = requester.posted_until(&last).await;
    assert_eq!(
        posted_bodies(&hers),
        ["We will refund you", "Thank you"],
        "{hers:?}"
    );
    assert!(hers.iter().all(|e| e["payload"]["internal"] == false));
    let theirs = agent.posted_until(&last).await;
    assert_eq!(
        posted_bodies(&theirs),
        [
            "internal: refund approved",
            "We will refund you",
            "internal: done in the ledger",
            "Thank you"
        ],
        "{theirs:?}"
    );
    assert_eq!(theirs[0]["payload"]["internal"], true);
    d.app.stop().await;
}

#[tokio::test]
async fn nobody_outside_the_conversation_subscribes_to_it() {
    let d = desk().await;
    let conversation_id = id(&d.opened().await);
    say(&d.requester.api, &conversation_id, "acme-secret").await;
    let stream = format!("conversation:{conversation_id}");

    let globex = fixtures::sign_up(&d.app, "Globex", "gus@globex.io").await;
    let gina = globex
        .add_member("gina@globex.io", "Gina", &["agent"], &[])
        .await;
    for client in [&globex.admin, &gina.api] {
        let mut socket = Socket::open(&d.app, client).await;
        let refused = socket.subscribe(&stream).await;
        assert_eq!(
            (refused["type"].as_str(), refused["status"].as_i64()),
            (Some("error"), Some(404)),
            "{refused}"
        );
        assert!(!refused.to_string().contains("acme-secret"), "{refused}");
    }
    // Another requester of the same company may not listen in either.
    let rob = d.another_requester("Rob").await;
    let mut socket = Socket::open(&d.app, &rob.api).await;
    let answer = socket.subscribe(&stream).await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert!(
        [403, 404].contains(&answer["status"].as_i64().unwrap_or_default()),
        "{answer}"
    );
    d.app.stop().await;
}

#[tokio::test]
async fn a_requester_never_gets_internal_notes_or_their_edits_replayed_or_live() {
    let d = desk().await;
    let agnes = &d.agent.api;
    let conversation_id = id(&d.opened().await);
    let secret = id(&note(agnes, &conversation_id, "internal: acme-secret refund").await);
    edit(
        agnes,
        &conversation_id,
        &secret,
        "internal: acme-secret refund, approved",
    )
    .await
    .expect(200);
    let public = id(&say(agnes, &conversation_id, "We will refund you").await);

    // The replay from the start holds the public message, nothing of the note.
    let mut requester = Socket::open(&d.app, &d.requester.api).await;
    let stream = format!("conversation:{conversation_id}");
    let subscribed = requester
        .subscribe_with(json!({"type": "subscribe", "stream": stream, "since": 0}))
        .await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    let replayed = requester.events_until(&public).await;
    // Live: the note is edited again and deleted, then a public message follows.
    edit(
        agnes,
        &conversation_id,
        &secret,
        "internal: acme-secret, done",
    )
    .await
    .expect(200);
    assert_eq!(delete(agnes, &conversation_id, &secret).await.status, 204);
    let last = id(&say(agnes, &conversation_id, "Done").await);
    let live = requester.events_until(&last).await;
    for event in replayed.iter().chain(&live) {
        let text = event.to_string();
        assert!(!text.contains(&secret), "{text}");
        assert!(!text.contains("acme-secret"), "{text}");
    }
    let kinds: Vec<&str> = replayed
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"conversation.opened"), "{kinds:?}");

    // The agent's replay holds the note, its edit and its deletion.
    let mut agent = Socket::open(&d.app, agnes).await;
    agent
        .subscribe_with(json!({"type": "subscribe", "stream": stream, "since": 0}))
        .await;
    let theirs = agent.events_until(&last).await;
    let about_note: Vec<&str> = theirs
        .iter()
        .filter(|e| e["payload"]["message_id"] == secret.as_str())
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        about_note,
        [
            "message.posted",
            "message.edited",
            "message.edited",
            "message.deleted"
        ],
        "{theirs:?}"
    );
    d.app.stop().await;
}

// ---- Question templates

/// The global template titled `title`, after loading the defaults.
async fn default_template(desk: &Desk, title: &str) -> Value {
    app::templates::load_defaults(&desk.app.app).await.unwrap();
    let all = call(&desk.agent.api, Method::GET, "/api/v1/templates", None)
        .await
        .expect(200);
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == title)
        .unwrap_or_else(|| panic!("no {title} in {all}"))
        .clone()
}

async fn post(client: &ApiClient, conversation: &str, message: Value) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/{conversation}/messages");
    call(client, Method::POST, &path, Some(message)).await
}

#[tokio::test]
async fn the_default_templates_load_once_and_every_company_sees_them() {
    let desk = desk().await;
    assert_eq!(
        app::templates::load_defaults(&desk.app.app).await.unwrap(),
        10
    );
    assert_eq!(
        app::templates::load_defaults(&desk.app.app).await.unwrap(),
        0
    );
    let all = call(&desk.agent.api, Method::GET, "/api/v1/templates", None)
        .await
        .expect(200);
    let titles: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 10, "{titles:?}");
    for title in [
        "Anomaly Behavior Report",
        "IOC Hunting Request",
        "User Experience Summary",
    ] {
        assert!(titles.contains(&title), "{titles:?}");
    }
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["global"] == true)
    );
}

#[tokio::test]
async fn an_agent_sends_a_template_and_the_requester_answers_it_through_its_schema() {
    let desk = desk().await;
    let template = default_template(&desk, "Anomaly Behavior Report").await;
    let template_id = text_of(&template, "id");
    let conversation = open(
        &desk.requester.api,
        json!({"subject": "Odd logins", "reference": "INC-7"}),
    )
    .await
    .expect(201);
    let id = text_of(&conversation, "id");

    // The requester cannot answer what was not asked.
    let early = post(
        &desk.requester.api,
        &id,
        json!({"template_id": template_id, "answers": {"what": "x", "severity": "low"}}),
    )
    .await;
    assert_eq!(fields(early), ["template_id"]);

    // The agent sends it: its placeholders are filled from the conversation.
    let sent = post(&desk.agent.api, &id, json!({"template_id": template_id}))
        .await
        .expect(201);
    assert_eq!(sent["template_id"], template_id.as_str());
    let body = text_of(&sent, "body");
    assert!(
        body.contains("Hello Rita") && body.contains("(INC-7)"),
        "{body}"
    );

    // An answer that breaks the schema is refused naming the field; nothing is stored.
    let bad = post(
        &desk.requester.api,
        &id,
        json!({"template_id": template_id, "answers": {"what": "Logins at 3am", "severity": "apocalyptic"}}),
    )
    .await;
    assert_eq!(fields(bad), ["answers/severity"]);
    let missing = post(
        &desk.requester.api,
        &id,
        json!({"template_id": template_id, "answers": {"severity": "low"}}),
    )
    .await;
    assert_eq!(fields(missing), ["answers/what"]);
    assert_eq!(message_list(&desk.agent.api, &id).await.len(), 1);

    // A valid answer is a structured message, summarised as text.
    let answer = post(
        &desk.requester.api,
        &id,
        json!({"template_id": template_id, "answers": {"what": "Logins at 3am", "severity": "high", "first_seen": "2026-11-29"}}),
    )
    .await
    .expect(201);
    assert_eq!(answer["answers"]["severity"], "high");
    let summary = text_of(&answer, "body");
    assert!(
        summary.contains("Anomaly Behavior Report") && summary.contains("Severity: high"),
        "{summary}"
    );
    let seen = message_list(&desk.agent.api, &id).await;
    assert_eq!(seen[1]["answers"]["what"], "Logins at 3am");
    // Answers are covered by the chain too.
    let verified = verify(&desk.agent.api, &id).await.expect(200);
    assert_eq!(verified["ok"], true, "{verified}");

    // An unknown template, or answers without one, are refused naming the field.
    let unknown = post(
        &desk.agent.api,
        &id,
        json!({"template_id": uuid::Uuid::now_v7().to_string()}),
    )
    .await;
    assert_eq!(fields(unknown), ["template_id"]);
    let loose = post(&desk.requester.api, &id, json!({"answers": {"what": "x"}})).await;
    assert_eq!(fields(loose), ["template_id"]);
    desk.app.stop().await;
}

#[tokio::test]
async fn admins_keep_company_templates_that_other_companies_never_see() {
    let desk = desk().await;
    let bad = call(
        &desk.company.admin,
        Method::POST,
        "/api/v1/templates",
        Some(json!({"title": "Laptop", "text": "Hi {{name}}", "schema": {"type": "object", "properties": {}}})),
    )
    .await;
    assert_eq!(fields(bad), ["text"]);
    let not_object = call(
        &desk.company.admin,
        Method::POST,
        "/api/v1/templates",
        Some(json!({"title": "Laptop", "text": "Hi", "schema": {"type": "string"}})),
    )
    .await;
    assert_eq!(fields(not_object), ["schema"]);
    let created = call(
        &desk.company.admin,
        Method::POST,
        "/api/v1/templates",
        Some(json!({
            "title": "Laptop model",
            "text": "{{requester.name}}, which laptop do you use?",
            "schema": {"type": "object", "properties": {"model": {"type": "string", "enum": ["x1", "t14"]}}, "required": ["model"]}
        })),
    )
    .await
    .expect(201);
    assert_eq!(created["global"], false);
    let id = text_of(&created, "id");
    // An agent may not create one; another company does not see it.
    let by_agent = call(
        &desk.agent.api,
        Method::POST,
        "/api/v1/templates",
        Some(json!({"title": "x", "text": "y", "schema": {"type": "object", "properties": {}}})),
    )
    .await;
    refused(&by_agent, &[403]);
    let globex = fixtures::sign_up(&desk.app, "Globex", "gus@globex.io").await;
    let path = format!("/api/v1/templates/{id}");
    refused(&call(&globex.admin, Method::GET, &path, None).await, &[404]);
    refused(
        &call(&globex.admin, Method::DELETE, &path, None).await,
        &[404],
    );
    call(&desk.agent.api, Method::GET, &path, None)
        .await
        .expect(200);
    assert_eq!(
        call(&desk.company.admin, Method::DELETE, &path, None)
            .await
            .status
            .as_u16(),
        204
    );
    desk.app.stop().await;
}

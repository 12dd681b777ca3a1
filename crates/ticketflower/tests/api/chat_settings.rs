//! A company's chat settings at work: the message length, files on messages (sealed, with
//! their SHA-256, checked on download, 413 beyond the company's bound, refused from
//! requesters when the company says so), the per-person message rate (429 with
//! Retry-After), assignment by strategy, and message bodies sealed at rest.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::fixtures;
use testkit::{ApiClient, ApiResponse, Body, id};

use super::conversations::desk;

const SETTINGS: &str = "/api/v1/company/chat-settings";

fn defaults() -> Value {
    json!({
        "max_message_chars": 5000,
        "max_attachment_bytes": 10_485_760,
        "requester_attachments": true,
        "assignment": "shortest_queue",
        "sealed": false,
        "messages_per_minute": 30,
    })
}

async fn set(client: &ApiClient, changes: Value) -> ApiResponse {
    let mut settings = defaults();
    for (key, value) in changes.as_object().unwrap() {
        settings[key] = value.clone();
    }
    client
        .send(Method::PUT, SETTINGS, Body::Json(settings))
        .await
}

async fn open(client: &ApiClient) -> String {
    id(&client
        .send(Method::POST, "/api/v1/conversations", Body::Json(json!({})))
        .await
        .expect(201))
}

async fn post(client: &ApiClient, conversation: &str, body: Value) -> ApiResponse {
    client
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Json(body),
        )
        .await
}

async fn post_files(
    client: &ApiClient,
    conversation: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
) -> ApiResponse {
    client
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Multipart {
                fields: fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                files: files
                    .iter()
                    .map(|(name, bytes)| {
                        ("attachments".to_owned(), (*name).to_owned(), bytes.to_vec())
                    })
                    .collect(),
            },
        )
        .await
}

async fn messages(client: &ApiClient, conversation: &str) -> Vec<Value> {
    client
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Empty,
        )
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn verify(client: &ApiClient, conversation: &str) -> Value {
    client
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/verify"),
            Body::Empty,
        )
        .await
        .expect(200)
}

fn fields(answer: &ApiResponse) -> Vec<String> {
    answer.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn everyone_reads_the_defaults_and_only_an_admin_changes_them_within_bounds() {
    let d = desk().await;
    let got = d
        .requester
        .api
        .send(Method::GET, SETTINGS, Body::Empty)
        .await
        .expect(200);
    assert_eq!(got, defaults());
    let refused = set(&d.agent.api, json!({"max_message_chars": 100})).await;
    assert_eq!(refused.status, 403, "{}", refused.text());

    let wrong = set(
        &d.company.admin,
        json!({"max_message_chars": 0, "max_attachment_bytes": 0, "messages_per_minute": 601}),
    )
    .await;
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    let mut named = fields(&wrong);
    named.sort();
    assert_eq!(
        named,
        [
            "max_attachment_bytes",
            "max_message_chars",
            "messages_per_minute"
        ]
    );
    let unknown = set(&d.company.admin, json!({"assignment": "lottery"})).await;
    assert_eq!(unknown.status, 422, "{}", unknown.text());
    assert!(unknown.text().contains("assignment"), "{}", unknown.text());

    let saved = set(
        &d.company.admin,
        json!({"max_message_chars": 10, "assignment": "manual"}),
    )
    .await
    .expect(200);
    assert_eq!(saved["max_message_chars"], 10);
    let read = d
        .agent
        .api
        .send(Method::GET, SETTINGS, Body::Empty)
        .await
        .expect(200);
    assert_eq!(read, saved);
    d.app.stop().await;
}

#[tokio::test]
async fn the_message_length_and_assignment_follow_the_companys_settings() {
    let d = desk().await;
    set(
        &d.company.admin,
        json!({"max_message_chars": 10, "assignment": "manual"}),
    )
    .await
    .expect(200);
    let conversation = d
        .requester
        .api
        .send(Method::POST, "/api/v1/conversations", Body::Json(json!({})))
        .await
        .expect(201);
    // Manual: nobody gets it, though an agent exists.
    assert_eq!(conversation["assignee_id"], Value::Null, "{conversation}");
    let conversation = id(&conversation);
    post(
        &d.requester.api,
        &conversation,
        json!({"body": "0123456789"}),
    )
    .await
    .expect(201);
    let long = post(
        &d.requester.api,
        &conversation,
        json!({"body": "0123456789x"}),
    )
    .await;
    assert_eq!(long.status, 422, "{}", long.text());
    assert_eq!(fields(&long), ["body"]);
    assert!(
        long.text().contains("at most 10 characters"),
        "{}",
        long.text()
    );
    d.app.stop().await;
}

#[tokio::test]
async fn round_robin_gives_conversations_to_agents_in_turn_whatever_their_load() {
    let d = desk().await;
    let bert = d
        .company
        .add_member("bert@acme.io", "Bert", &["agent"], &[])
        .await;
    set(&d.company.admin, json!({"assignment": "round_robin"}))
        .await
        .expect(200);
    let mut assignees = Vec::new();
    for name in ["Ulla", "Vera", "Walt", "Xena"] {
        let requester = d
            .company
            .add_member(
                &format!("{}@acme.io", name.to_lowercase()),
                name,
                &["user"],
                &[],
            )
            .await;
        let opened = requester
            .api
            .send(Method::POST, "/api/v1/conversations", Body::Json(json!({})))
            .await
            .expect(201);
        assignees.push(opened["assignee_id"].as_str().unwrap().to_owned());
    }
    let (agnes, bert) = (d.agent.id.clone(), bert.id.clone());
    assert_ne!(assignees[0], assignees[1]);
    assert_eq!(assignees[0], assignees[2]);
    assert_eq!(assignees[1], assignees[3]);
    let mut two = vec![assignees[0].clone(), assignees[1].clone()];
    two.sort();
    let mut expected = vec![agnes, bert];
    expected.sort();
    assert_eq!(two, expected);
    d.app.stop().await;
}

#[tokio::test]
async fn files_are_sent_with_a_message_checksummed_chained_and_downloaded_whole() {
    let d = desk().await;
    let rita = &d.requester.api;
    let agnes = &d.agent.api;
    let conversation = open(rita).await;
    let log = b"2026-11-30 12:00:01 ERROR disk full\n".repeat(100);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    let sent = post_files(
        rita,
        &conversation,
        &[("body", "Here are the logs")],
        &[("server.log", &log), ("screen.png", png)],
    )
    .await
    .expect(201);
    let files = sent["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{sent}");
    assert_eq!(files[0]["file_name"], "server.log");
    assert_eq!(files[0]["size"], log.len());
    assert_eq!(files[0]["sha256"], sha256(&log));
    assert_eq!(files[1]["content_type"], "image/png");
    // Files alone are a message too.
    let only = post_files(rita, &conversation, &[], &[("again.log", b"again")])
        .await
        .expect(201);
    assert_eq!(only["body"], "");

    let listed = messages(agnes, &conversation).await;
    assert_eq!(listed[0]["attachments"], sent["attachments"]);
    let file_id = files[0]["id"].as_str().unwrap();
    let download = agnes
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/files/{file_id}"),
            Body::Empty,
        )
        .await;
    assert_eq!(download.status, 200);
    assert_eq!(download.bytes, log);
    let digest = download.headers["repr-digest"].to_str().unwrap().to_owned();
    use base64::Engine as _;
    assert_eq!(
        digest,
        format!(
            "sha-256=:{}:",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&log))
        )
    );
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(verify(agnes, &conversation).await["ok"], true);

    // A file's checksum changed behind the application's back breaks the chain and the
    // download.
    let mut tx = d.app.app.db().begin().await.unwrap();
    let uuid = uuid::Uuid::parse_str(file_id).unwrap();
    let sql = match tx.backend() {
        store::Backend::Sqlite => format!(
            "UPDATE message_attachments SET sha256 = '{}' WHERE id = x'{}'",
            sha256(b"forged"),
            uuid.simple()
        ),
        store::Backend::Postgres => format!(
            "UPDATE message_attachments SET sha256 = '{}' WHERE id = '{uuid}'",
            sha256(b"forged")
        ),
    };
    tx.execute_script(&sql).await.unwrap();
    tx.commit().await.unwrap();
    let broken = verify(agnes, &conversation).await;
    assert_eq!(broken["ok"], false, "{broken}");
    assert_eq!(broken["broken_at"], 1, "{broken}");
    let refused = agnes
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/files/{file_id}"),
            Body::Empty,
        )
        .await;
    assert_eq!(
        refused.status, 500,
        "a file that fails its checksum is never served"
    );
    d.app.stop().await;
}

#[tokio::test]
async fn a_file_over_the_companys_bound_is_413_and_requesters_may_be_refused_files() {
    let d = desk().await;
    let rita = &d.requester.api;
    let conversation = open(rita).await;
    set(&d.company.admin, json!({"max_attachment_bytes": 1000}))
        .await
        .expect(200);
    let big = post_files(
        rita,
        &conversation,
        &[("body", "big")],
        &[("big.bin", &[7u8; 1001])],
    )
    .await;
    assert_eq!(big.status, 413, "{}", big.text());
    assert!(big.is_problem());
    assert_eq!(fields(&big), ["attachments/0"]);
    post_files(rita, &conversation, &[], &[("fits.bin", &[7u8; 1000])])
        .await
        .expect(201);

    set(&d.company.admin, json!({"requester_attachments": false}))
        .await
        .expect(200);
    let refused = post_files(rita, &conversation, &[], &[("fits.bin", &[7u8; 10])]).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(fields(&refused), ["attachments"]);
    // Agents always may.
    post_files(&d.agent.api, &conversation, &[], &[("answer.txt", b"ok")])
        .await
        .expect(201);
    // Nothing of the refused messages was kept.
    assert_eq!(messages(rita, &conversation).await.len(), 2);
    d.app.stop().await;
}

#[tokio::test]
async fn an_internal_notes_file_is_the_agents_alone() {
    let d = desk().await;
    let conversation = open(&d.requester.api).await;
    let note = post_files(
        &d.agent.api,
        &conversation,
        &[("internal", "true"), ("body", "the customer's contract")],
        &[("contract.txt", b"secret terms")],
    )
    .await
    .expect(201);
    let file_id = note["attachments"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/conversations/{conversation}/files/{file_id}");
    let theirs = d.requester.api.send(Method::GET, &path, Body::Empty).await;
    assert_eq!(theirs.status, 404);
    let other = fixtures::sign_up(&d.app, "Globex", "gina@globex.io").await;
    assert_eq!(
        other
            .admin
            .send(Method::GET, &path, Body::Empty)
            .await
            .status,
        404
    );
    let ours = d.agent.api.send(Method::GET, &path, Body::Empty).await;
    assert_eq!(ours.bytes, b"secret terms");
    d.app.stop().await;
}

#[tokio::test]
async fn one_person_posts_at_most_the_companys_messages_per_minute() {
    let d = desk().await;
    set(&d.company.admin, json!({"messages_per_minute": 3}))
        .await
        .expect(200);
    let rita = &d.requester.api;
    let conversation = open(rita).await;
    for n in 0..3 {
        post(rita, &conversation, json!({"body": format!("message {n}")}))
            .await
            .expect(201);
    }
    let limited = post(rita, &conversation, json!({"body": "one too many"})).await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.is_problem());
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another person has an allowance of their own.
    post(&d.agent.api, &conversation, json!({"body": "I am here"}))
        .await
        .expect(201);
    assert_eq!(messages(rita, &conversation).await.len(), 4);
    d.app.stop().await;
}

#[tokio::test]
async fn sealed_bodies_are_stored_encrypted_kept_out_of_events_and_read_as_text() {
    let d = desk().await;
    set(&d.company.admin, json!({"sealed": true}))
        .await
        .expect(200);
    let rita = &d.requester.api;
    let conversation = open(rita).await;
    let sent = post(rita, &conversation, json!({"body": "my IBAN is DE89 3704"}))
        .await
        .expect(201);
    assert_eq!(sent["body"], "my IBAN is DE89 3704");
    let message = id(&sent);
    rita.send(
        Method::PATCH,
        &format!("/api/v1/conversations/{conversation}/messages/{message}"),
        Body::Json(json!({"body": "my IBAN is DE89 3705"})),
    )
    .await
    .expect(200);

    let company = domain::CompanyId(d.company.id.parse().unwrap());
    let conversation_id = domain::ConversationId(conversation.parse().unwrap());
    let rows =
        store::conversations::messages(d.app.app.db(), company, conversation_id, true, 0, 10)
            .await
            .unwrap();
    assert!(rows[0].sealed);
    assert!(!rows[0].body.contains("IBAN"), "stored as {}", rows[0].body);

    let read = messages(&d.agent.api, &conversation).await;
    assert_eq!(read[0]["body"], "my IBAN is DE89 3705");
    // Search is off: nothing may index what is sealed.
    let search = d
        .agent
        .api
        .send(
            Method::GET,
            "/api/v1/conversations/search?q=IBAN",
            Body::Empty,
        )
        .await;
    assert_eq!(search.status, 422, "{}", search.text());
    assert_eq!(fields(&search), ["q"]);
    // The transcript reads the text.
    let transcript = d
        .agent
        .api
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/transcript"),
            Body::Empty,
        )
        .await
        .expect(200);
    assert_eq!(transcript["messages"][0]["body"], "my IBAN is DE89 3705");
    let versions = d
        .agent
        .api
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/messages/{message}/versions"),
            Body::Empty,
        )
        .await
        .expect(200);
    assert_eq!(versions["items"][0]["body"], "my IBAN is DE89 3704");
    assert_eq!(verify(&d.agent.api, &conversation).await["ok"], true);

    // On PostgreSQL the log's reader holds events back while an older transaction is open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let events = loop {
        let events = store::events::read_after(
            d.app.app.db(),
            &store::events::Scope::Company(company),
            0,
            1000,
        )
        .await
        .unwrap();
        let edited = events.iter().any(|e| e.kind == "message.edited");
        if edited || std::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let posted: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "message.posted")
        .collect();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].payload["body"], Value::Null);
    assert!(
        !serde_json::to_string(&events.iter().map(|e| &e.payload).collect::<Vec<_>>())
            .unwrap()
            .contains("IBAN")
    );
    d.app.stop().await;
}

#[tokio::test]
async fn a_conversation_routed_to_a_team_goes_to_its_agent_and_lists_filter_by_team() {
    let d = desk().await;
    let teams = d.company.add_roles(&["billing", "hardware"]).await;
    let (billing, hardware) = (teams[0].clone(), teams[1].clone());
    let bill = d
        .company
        .add_member("bill@acme.io", "Bill", &["agent"], &["billing"])
        .await;
    // Agnes (no team) gets it first: the shortest queue.
    let opened = d
        .requester
        .api
        .send(Method::POST, "/api/v1/conversations", Body::Json(json!({})))
        .await
        .expect(201);
    let conversation = id(&opened);
    let agent = &d.agent.api;
    let route = |team: Value| {
        let path = format!("/api/v1/conversations/{conversation}/team");
        let body = json!({ "team_id": team });
        async move { agent.send(Method::POST, &path, Body::Json(body)).await }
    };
    let routed = route(json!(billing)).await.expect(200);
    assert_eq!(routed["team_id"], billing.as_str());
    assert_eq!(routed["assignee_id"], bill.id.as_str(), "{routed}");

    let listed = |team: String| {
        let path = format!("/api/v1/conversations?view=all&team={team}");
        async move {
            agent
                .send(Method::GET, &path, Body::Empty)
                .await
                .expect(200)
        }
    };
    assert_eq!(listed(billing.clone()).await["total"], 1);
    assert_eq!(listed(hardware.clone()).await["total"], 0);

    // A team without agents: back to the queue.
    let routed = route(json!(hardware)).await.expect(200);
    assert_eq!(routed["assignee_id"], Value::Null, "{routed}");
    // No team: it stays where it is.
    let unrouted = route(Value::Null).await.expect(200);
    assert_eq!(unrouted["team_id"], Value::Null);

    // A requester does not route; another company's role is no team of ours.
    let theirs = d
        .requester
        .api
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/team"),
            Body::Json(json!({ "team_id": billing })),
        )
        .await;
    assert_eq!(theirs.status, 403, "{}", theirs.text());
    let other = fixtures::sign_up(&d.app, "Globex", "gina@globex.io").await;
    let foreign = other.add_roles(&["billing"]).await;
    let wrong = route(json!(foreign[0])).await;
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    assert_eq!(fields(&wrong), ["team_id"]);
    d.app.stop().await;
}

#[tokio::test]
async fn a_list_says_how_many_messages_the_caller_has_not_read_in_all() {
    let d = desk().await;
    let rita = &d.requester.api;
    let first = open(rita).await;
    post(rita, &first, json!({"body": "one"})).await.expect(201);
    post(rita, &first, json!({"body": "two"})).await.expect(201);
    let vera = d
        .company
        .add_member("vera@acme.io", "Vera", &["user"], &[])
        .await;
    let second = open(&vera.api).await;
    post(&vera.api, &second, json!({"body": "three"}))
        .await
        .expect(201);
    let agnes = &d.agent.api;
    post(agnes, &first, json!({"body": "note", "internal": true}))
        .await
        .expect(201);
    post(agnes, &first, json!({"body": "answer"}))
        .await
        .expect(201);
    let mine = agnes
        .send(Method::GET, "/api/v1/conversations", Body::Empty)
        .await
        .expect(200);
    // Agnes has both; her own messages count for nobody's unread but the requester's, and
    // answering read the first (the author has read what they answered).
    assert_eq!(mine["unread"], 1, "{mine}");
    let hers = rita
        .send(Method::GET, "/api/v1/conversations", Body::Empty)
        .await
        .expect(200);
    // The answer, never the internal note.
    assert_eq!(hers["unread"], 1, "{hers}");
    d.app.stop().await;
}

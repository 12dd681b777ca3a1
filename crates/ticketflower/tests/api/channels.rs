//! Channels (issue 18): signed inbound webhooks under every scheme (nothing written when a
//! check fails), the dedupe of provider message ids under concurrency, grouping by thread,
//! and replies delivered to a loopback receiver: retried, logged per attempt, dead-lettered
//! and replayed, a 410 pausing the channel, and a `kill -9` in the middle of a delivery.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use testkit::{ApiClient, Body, TestApp, fixtures, id, spawn_app_with};

type HmacSha256 = Hmac<Sha256>;

/// What a loopback receiver got: the headers and body of each call.
#[derive(Clone, Default)]
pub(crate) struct Received(Arc<Mutex<Vec<(HeaderMap, String)>>>);

impl Received {
    pub(crate) fn calls(&self) -> Vec<(HeaderMap, String)> {
        self.0.lock().unwrap().clone()
    }

    pub(crate) async fn wait_for(&self, n: usize, within: Duration) -> Vec<(HeaderMap, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} call(s), not {n}, within {within:?}",
                calls.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A receiver on loopback answering with `statuses` in turn, then `then` for ever.
pub(crate) async fn receiver(statuses: Vec<u16>, then: u16) -> (String, Received) {
    use axum::routing::post;
    let received = Received::default();
    let sink = received.clone();
    let handler = move |headers: HeaderMap, body: String| {
        let sink = sink.clone();
        let statuses = statuses.clone();
        async move {
            let n = {
                let mut calls = sink.0.lock().unwrap();
                calls.push((headers, body));
                calls.len() - 1
            };
            let code = statuses.get(n).copied().unwrap_or(then);
            (
                axum::http::StatusCode::from_u16(code).unwrap(),
                axum::Json(json!({"ok": code < 300})),
            )
        }
    };
    let router = axum::Router::new().route("/hook", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hook"), received)
}

/// A server that may call loopback, with a compressed retry schedule.
pub(crate) async fn server(schedule: &str) -> TestApp {
    let schedule = schedule.to_owned();
    spawn_app_with(move |settings, jobs| {
        settings.outbound_allowlist = vec!["127.0.0.1/32".into()];
        settings.delivery_schedule = schedule;
        settings.delivery_breaker_failures = 100;
        jobs
    })
    .await
}

pub(crate) async fn create_channel(admin: &ApiClient, body: Value) -> Value {
    admin
        .send(Method::POST, "/api/v1/channels", Body::Json(body))
        .await
        .expect(201)
}

fn standard_headers(secret: &str, message_id: &str, at: i64, body: &[u8]) -> Vec<(String, String)> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = HmacSha256::new_from_slice(&key).unwrap();
    mac.update(format!("{message_id}.{at}.").as_bytes());
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    vec![
        ("webhook-id".into(), message_id.into()),
        ("webhook-timestamp".into(), at.to_string()),
        ("webhook-signature".into(), format!("v1,{signature}")),
    ]
}

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Posts `body` to the channel's inbound URL with `headers`.
async fn hook(
    app: &TestApp,
    channel: &Value,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url(&format!(
            "/api/v1/hooks/{}",
            channel["public_id"].as_str().unwrap()
        )))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Posts a message to a Standard Webhooks channel, signed now.
pub(crate) async fn inbound(app: &TestApp, channel: &Value, body: Value) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    let secret = channel["inbound_secret"].as_str().unwrap();
    let headers = standard_headers(
        secret,
        &format!("msg_{}", uuid::Uuid::now_v7().simple()),
        chrono::Utc::now().timestamp(),
        &bytes,
    );
    hook(app, channel, &headers, &bytes).await
}

async fn inbound_count(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) AS n FROM inbound_events").await
}

async fn message_count(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) AS n FROM conversation_messages").await
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    #[derive(store::sqlx::FromRow)]
    struct Count {
        n: i64,
    }
    let raw = store::Raw {
        sqlite: sql,
        postgres: sql,
        values: sea_query::Values(Vec::new()),
    };
    let row: Option<Count> = store::Exec::fetch_optional(app.app.db(), &raw)
        .await
        .unwrap();
    row.map_or(0, |r| r.n)
}

#[tokio::test]
async fn every_verification_scheme_accepts_its_signature_and_refusals_write_nothing() {
    let app = server("100ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let now = chrono::Utc::now().timestamp();
    let body = |n: &str| {
        json!({"external_user_id": "u-1", "external_message_id": n, "content": "hello"})
            .to_string()
            .into_bytes()
    };

    // Standard Webhooks, with the channel's generated secret.
    let standard = create_channel(
        &acme.admin,
        json!({"name": "Std", "slug": "std", "kind": "api"}),
    )
    .await;
    let secret = standard["inbound_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{standard}");
    let b = body("s1");
    let (status, answer) = hook(
        &app,
        &standard,
        &standard_headers(&secret, "m1", now, &b),
        &b,
    )
    .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ok")),
        "{answer}"
    );
    let before = (inbound_count(&app).await, message_count(&app).await);
    let b = body("s2");
    let tampered = [b.as_slice(), b" "].concat();
    let (status, problem) = hook(
        &app,
        &standard,
        &standard_headers(&secret, "m2", now, &b),
        &tampered,
    )
    .await;
    assert_eq!(status, 401, "{problem}");
    let (status, problem) = hook(
        &app,
        &standard,
        &standard_headers(&secret, "m3", chrono::Utc::now().timestamp() - 330, &b),
        &b,
    )
    .await;
    assert_eq!(status, 401, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("5 minutes"),
        "{problem}"
    );
    let (status, _) = hook(
        &app,
        &standard,
        &standard_headers(&secret, "m4", chrono::Utc::now().timestamp() + 330, &b),
        &b,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = hook(&app, &standard, &[], &b).await;
    assert_eq!(status, 401);

    // GitHub-style HMAC in a configured header, with the admin's own secret.
    let hmac_secret = "a-shared-hmac-secret-of-ours";
    let github = create_channel(
        &acme.admin,
        json!({
            "name": "Git", "slug": "git", "verification": "hmac_sha256",
            "signature_header": "X-Acme-Signature", "inbound_secret": hmac_secret,
        }),
    )
    .await;
    let b = body("g1");
    let good = vec![(
        "x-acme-signature".to_owned(),
        format!("sha256={}", hmac_hex(hmac_secret, &[&b])),
    )];
    assert_eq!(hook(&app, &github, &good, &b).await.0, 200);
    let wrong = vec![(
        "x-acme-signature".to_owned(),
        format!("sha256={}", hmac_hex("another-secret-entirely", &[&b])),
    )];
    assert_eq!(hook(&app, &github, &wrong, &body("g2")).await.0, 401);

    // Slack: v0:{ts}:{body}.
    let slack_secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let slack = create_channel(&acme.admin, json!({
        "name": "Slack", "slug": "slack", "verification": "slack", "inbound_secret": slack_secret,
    })).await;
    let b = body("k1");
    let signed = |at: i64, b: &[u8]| {
        vec![
            ("x-slack-request-timestamp".to_owned(), at.to_string()),
            (
                "x-slack-signature".to_owned(),
                format!(
                    "v0={}",
                    hmac_hex(slack_secret, &[b"v0:", at.to_string().as_bytes(), b":", b])
                ),
            ),
        ]
    };
    assert_eq!(hook(&app, &slack, &signed(now, &b), &b).await.0, 200);
    let b2 = body("k2");
    assert_eq!(
        hook(&app, &slack, &signed(now - 400, &b2), &b2).await.0,
        401
    );

    // Telegram's secret token and the webhook hub's plain shared secret.
    let telegram = create_channel(&acme.admin, json!({
        "name": "Tg", "slug": "tg", "verification": "telegram", "inbound_secret": "tg-secret_token-123",
    })).await;
    let b = body("t1");
    assert_eq!(
        hook(
            &app,
            &telegram,
            &[(
                "x-telegram-bot-api-secret-token".into(),
                "tg-secret_token-123".into()
            )],
            &b
        )
        .await
        .0,
        200
    );
    assert_eq!(
        hook(
            &app,
            &telegram,
            &[(
                "x-telegram-bot-api-secret-token".into(),
                "tg-secret_token-124".into()
            )],
            &body("t2")
        )
        .await
        .0,
        401
    );
    let plain = create_channel(&acme.admin, json!({
        "name": "Hub", "slug": "hub", "verification": "shared_secret", "inbound_secret": "the-hub-shared-secret",
    })).await;
    let b = body("p1");
    assert_eq!(
        hook(
            &app,
            &plain,
            &[("x-signature".into(), "the-hub-shared-secret".into())],
            &b
        )
        .await
        .0,
        200
    );
    assert_eq!(
        hook(
            &app,
            &plain,
            &[("x-signature".into(), "sha256=invalid".into())],
            &body("p2")
        )
        .await
        .0,
        401
    );

    // Refusals of every kind wrote nothing: 5 accepted webhooks, 5 messages.
    let after_refusals = (inbound_count(&app).await, message_count(&app).await);
    assert_eq!(
        after_refusals.0,
        before.0 + 4,
        "only the four later valid webhooks were kept"
    );
    assert_eq!(after_refusals.1, before.1 + 4);

    // The stored raw event keeps its headers without the credential.
    #[derive(store::sqlx::FromRow)]
    struct Raw {
        headers: String,
    }
    let raw = store::Raw {
        sqlite: "SELECT CAST(headers AS TEXT) AS headers FROM inbound_events WHERE external_message_id = 'p1'",
        postgres: "SELECT headers::text AS headers FROM inbound_events WHERE external_message_id = 'p1'",
        values: sea_query::Values(Vec::new()),
    };
    let kept: Option<Raw> = store::Exec::fetch_optional(app.app.db(), &raw)
        .await
        .unwrap();
    let kept = kept.unwrap().headers;
    assert!(
        kept.contains("[redacted]") && !kept.contains("the-hub-shared-secret"),
        "{kept}"
    );

    // Unknown and paused channels are 404; bad bodies name their field; nothing is written.
    let before = (inbound_count(&app).await, message_count(&app).await);
    let unknown = json!({"public_id": uuid::Uuid::now_v7().to_string(), "inbound_secret": secret});
    assert_eq!(
        inbound(
            &app,
            &unknown,
            json!({"external_user_id": "u", "content": "x"})
        )
        .await
        .0,
        404
    );
    let (status, problem) = inbound(&app, &standard, json!({"content": "no user"})).await;
    assert_eq!(status, 422);
    assert_eq!(
        problem["errors"][0]["field"], "external_user_id",
        "{problem}"
    );
    let (status, problem) = inbound(
        &app,
        &standard,
        json!({"external_user_id": "u", "content": 5}),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "content", "{problem}");
    let (status, problem) = inbound(
        &app,
        &standard,
        json!({"external_user_id": "u", "content": "nul \u{0} byte"}),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("content")),
        "{problem}"
    );
    let (status, problem) = inbound(
        &app,
        &standard,
        json!({"external_user_id": "u", "content": "x".repeat(5001)}),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("content")),
        "{problem}"
    );
    let garbage = b"{not json".to_vec();
    let headers = standard_headers(&secret, "m9", now, &garbage);
    let (status, problem) = hook(&app, &standard, &headers, &garbage).await;
    assert_eq!(status, 422, "{problem}");
    let huge = json!({"external_user_id": "u", "content": "x".repeat(3 * 1024 * 1024)})
        .to_string()
        .into_bytes();
    let headers = standard_headers(&secret, "m10", now, &huge);
    assert_eq!(hook(&app, &standard, &headers, &huge).await.0, 413);
    acme.admin
        .send(
            Method::POST,
            &format!("/api/v1/channels/{}/pause", id(&standard)),
            Body::Empty,
        )
        .await
        .expect(200);
    assert_eq!(
        inbound(
            &app,
            &standard,
            json!({"external_user_id": "u", "content": "x"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        (inbound_count(&app).await, message_count(&app).await),
        before
    );
}

#[tokio::test]
async fn sixteen_copies_at_once_make_one_message() {
    let app = server("100ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let channel = create_channel(&acme.admin, json!({"name": "Std", "slug": "std"})).await;
    let body =
        json!({"external_user_id": "u-7", "external_message_id": "dup-1", "content": "once"});
    let mut copies = Vec::new();
    for _ in 0..16 {
        let app_url = app.url("");
        let client = app.client.clone();
        let channel = channel.clone();
        let body = body.clone();
        copies.push(tokio::spawn(async move {
            let bytes = body.to_string().into_bytes();
            let secret = channel["inbound_secret"].as_str().unwrap();
            let headers = standard_headers(secret, "same", chrono::Utc::now().timestamp(), &bytes);
            let mut request = client
                .post(format!(
                    "{app_url}/api/v1/hooks/{}",
                    channel["public_id"].as_str().unwrap()
                ))
                .header("content-type", "application/json")
                .body(bytes);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }));
    }
    let mut statuses = Vec::new();
    let mut message_ids = std::collections::HashSet::new();
    for copy in copies {
        let (status, answer) = copy.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        statuses.push(answer["status"].as_str().unwrap().to_owned());
        message_ids.insert(answer["message_id"].as_str().unwrap_or("none").to_owned());
    }
    assert_eq!(
        statuses.iter().filter(|s| *s == "ok").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| *s == "duplicate").count(), 15);
    assert_eq!(
        message_ids.len(),
        1,
        "every copy names the one message: {message_ids:?}"
    );
    assert_eq!(message_count(&app).await, 1);
    assert_eq!(inbound_count(&app).await, 1);
}

#[tokio::test]
async fn messages_group_by_thread_else_the_contacts_open_conversation() {
    let app = server("100ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let channel = create_channel(&acme.admin, json!({"name": "Std", "slug": "std"})).await;
    let send = |user: &'static str, thread: Option<&'static str>, text: &'static str| {
        let mut body =
            json!({"external_user_id": user, "content": text, "display_name": "Zed Zulu"});
        if let Some(thread) = thread {
            body["thread_id"] = json!(thread);
        }
        body
    };
    let a1 = inbound(&app, &channel, send("zed", Some("T-1"), "first in T-1"))
        .await
        .1;
    let a2 = inbound(&app, &channel, send("zed", Some("T-1"), "second in T-1"))
        .await
        .1;
    let b1 = inbound(&app, &channel, send("zed", Some("T-2"), "first in T-2"))
        .await
        .1;
    let c1 = inbound(&app, &channel, send("zed", None, "no thread"))
        .await
        .1;
    let c2 = inbound(&app, &channel, send("zed", None, "no thread again"))
        .await
        .1;
    let d1 = inbound(&app, &channel, send("yan", None, "another contact"))
        .await
        .1;
    assert_eq!(a1["conversation_id"], a2["conversation_id"]);
    assert_ne!(a1["conversation_id"], b1["conversation_id"]);
    assert_eq!(c1["conversation_id"], c2["conversation_id"]);
    assert_ne!(c1["conversation_id"], a1["conversation_id"]);
    assert_ne!(d1["conversation_id"], c1["conversation_id"]);

    // The agent sees it with its channel, contact and messages; the contact is a person of
    // the channel, not a user of the company.
    let conversation = agent
        .api
        .send(
            Method::GET,
            &format!(
                "/api/v1/conversations/{}",
                a1["conversation_id"].as_str().unwrap()
            ),
            Body::Empty,
        )
        .await
        .expect(200);
    assert_eq!(conversation["channel_id"], channel["id"], "{conversation}");
    assert_eq!(conversation["external_thread"], "T-1");
    assert_eq!(conversation["requester_name"], "Zed Zulu");
    let contact = agent
        .api
        .send(
            Method::GET,
            &format!(
                "/api/v1/contacts/{}",
                conversation["contact_id"].as_str().unwrap()
            ),
            Body::Empty,
        )
        .await
        .expect(200);
    assert_eq!(contact["external_id"], "zed");
    let messages = agent
        .api
        .send(
            Method::GET,
            &format!(
                "/api/v1/conversations/{}/messages",
                a1["conversation_id"].as_str().unwrap()
            ),
            Body::Empty,
        )
        .await
        .expect(200);
    let bodies: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["first in T-1", "second in T-1"]);
    // The inbox narrows by channel and by what the agent has not read.
    let count = |query: &'static str| {
        let api = agent.api.clone();
        async move {
            api.send(
                Method::GET,
                &format!("/api/v1/conversations?view=all{query}"),
                Body::Empty,
            )
            .await
            .expect(200)["total"]
                .as_i64()
                .unwrap()
        }
    };
    let channel_id = channel["id"].as_str().unwrap().to_owned();
    assert_eq!(count("&unread=true").await, 4);
    assert_eq!(
        agent
            .api
            .send(
                Method::GET,
                &format!("/api/v1/conversations?view=all&channel={channel_id}"),
                Body::Empty
            )
            .await
            .expect(200)["total"],
        4
    );
    assert_eq!(count("&channel=web").await, 0);
    agent
        .api
        .send(
            Method::POST,
            &format!(
                "/api/v1/conversations/{}/read",
                a1["conversation_id"].as_str().unwrap()
            ),
            Body::Json(json!({})),
        )
        .await
        .expect(200);
    assert_eq!(count("&unread=true").await, 3);
    let users = acme.admin.users("").await.expect(200);
    assert!(
        !users.to_string().contains("Zed"),
        "contacts are not among the company's users: {users}"
    );
}

/// The channel's deliveries.
pub(crate) async fn deliveries(admin: &ApiClient, channel: &str, query: &str) -> Vec<Value> {
    admin
        .send(
            Method::GET,
            &format!("/api/v1/channels/{channel}/deliveries{query}"),
            Body::Empty,
        )
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn wait_for_message_state(
    agent: &ApiClient,
    conversation: &str,
    message: &str,
    state: &str,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let messages = agent
            .send(
                Method::GET,
                &format!("/api/v1/conversations/{conversation}/messages"),
                Body::Empty,
            )
            .await
            .expect(200);
        let found = messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == message)
            .cloned()
            .unwrap();
        if found["delivery"] == state {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message never became {state}: {found}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A conversation of `channel` with a reply from the agent; returns (conversation, message).
async fn reply(app: &TestApp, agent: &ApiClient, channel: &Value, text: &str) -> (String, String) {
    let (_, accepted) = inbound(
        app,
        channel,
        json!({"external_user_id": "zed", "thread_id": "T", "content": "help?"}),
    )
    .await;
    let conversation = accepted["conversation_id"].as_str().unwrap().to_owned();
    let message = agent
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Json(json!({"body": text})),
        )
        .await
        .expect(201);
    assert_eq!(message["delivery"], "queued", "{message}");
    (conversation, id(&message))
}

#[tokio::test]
async fn a_reply_is_delivered_once_after_three_failures_with_four_attempts_logged() {
    let app = server("50ms,50ms,50ms,50ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let (url, received) = receiver(vec![503, 500, 429], 200).await;
    let channel = create_channel(
        &acme.admin,
        json!({"name": "Std", "slug": "std", "outbound_url": url}),
    )
    .await;
    let (conversation, message) = reply(&app, &agent.api, &channel, "we are on it").await;
    let found = wait_for_message_state(&agent.api, &conversation, &message, "sent").await;
    assert_eq!(found["delivery_error"], Value::Null);
    let calls = received.calls();
    assert_eq!(calls.len(), 4, "delivered once, after three failures");
    // Every attempt carries the message id as webhook-id and a valid signature.
    let signing = channel["signing_secret"].as_str().unwrap();
    let signer = app::infra::outbound::WebhookSigner::from_whsec(signing).unwrap();
    for (headers, body) in &calls {
        assert_eq!(headers["webhook-id"], message.as_str());
        signer
            .verify(headers, body.as_bytes(), Duration::from_secs(300))
            .unwrap_or_else(|e| panic!("bad signature: {e}"));
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!(sent["content"], "we are on it");
        assert_eq!(sent["contact"]["external_id"], "zed");
        assert_eq!(sent["thread_id"], "T");
        assert_eq!(sent["message_id"], message.as_str());
    }
    let listed = deliveries(&acme.admin, &id(&channel), "").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "delivered");
    assert_eq!(listed[0]["attempts"], 4);
    let detail = acme
        .admin
        .send(
            Method::GET,
            &format!(
                "/api/v1/channels/{}/deliveries/{}",
                id(&channel),
                id(&listed[0])
            ),
            Body::Empty,
        )
        .await
        .expect(200);
    let statuses: Vec<Value> = detail["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [json!(503), json!(500), json!(429), json!(200)],
        "{detail}"
    );
    let health = acme
        .admin
        .send(
            Method::GET,
            &format!("/api/v1/channels/{}", id(&channel)),
            Body::Empty,
        )
        .await
        .expect(200)["health"]
        .clone();
    assert_eq!(health["attempts_24h"], 4, "{health}");
    assert_eq!(health["success_rate"], 0.25);
    assert_eq!(health["consecutive_failures"], 0);
    // The provider reports the contact read it; a late "delivered" does not move it back.
    let receipt = |status: &str| json!({"type": "status", "message_id": message, "status": status});
    assert_eq!(inbound(&app, &channel, receipt("read")).await.0, 200);
    assert_eq!(inbound(&app, &channel, receipt("delivered")).await.0, 200);
    wait_for_message_state(&agent.api, &conversation, &message, "read").await;
    let (status, problem) = inbound(
        &app,
        &channel,
        json!({"type": "status", "message_id": uuid::Uuid::now_v7(), "status": "read"}),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("message_id")),
        "{problem}"
    );
}

#[tokio::test]
async fn a_receiver_down_through_the_schedule_gets_a_dead_letter_replayed_when_it_is_back() {
    let app = server("50ms,50ms,50ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    // Down for its first four calls (the whole schedule), up afterwards.
    let (url, received) = receiver(vec![502, 503, 504, 500], 200).await;
    let channel = create_channel(
        &acme.admin,
        json!({"name": "Std", "slug": "std", "outbound_url": url}),
    )
    .await;
    let (conversation, message) = reply(&app, &agent.api, &channel, "are you there?").await;
    let failed = wait_for_message_state(&agent.api, &conversation, &message, "failed").await;
    assert!(
        failed["delivery_error"]
            .as_str()
            .unwrap()
            .contains("4 attempt"),
        "{failed}"
    );
    assert_eq!(received.calls().len(), 4);
    let dead = deliveries(&acme.admin, &id(&channel), "?state=dead").await;
    assert_eq!(dead.len(), 1);
    // Replaying a delivered or pending one is refused; the dead letter goes again.
    let replayed = acme
        .admin
        .send(
            Method::POST,
            &format!(
                "/api/v1/channels/{}/deliveries/{}/replay",
                id(&channel),
                id(&dead[0])
            ),
            Body::Empty,
        )
        .await
        .expect(200);
    assert_eq!(replayed["replayed"], 1);
    wait_for_message_state(&agent.api, &conversation, &message, "sent").await;
    let calls = received.calls();
    assert_eq!(calls.len(), 5);
    assert_eq!(
        calls[4].0["webhook-id"],
        message.as_str(),
        "the same webhook-id on the replay"
    );
    assert!(
        deliveries(&acme.admin, &id(&channel), "?state=dead")
            .await
            .is_empty()
    );
    let again = acme
        .admin
        .send(
            Method::POST,
            &format!(
                "/api/v1/channels/{}/deliveries/{}/replay",
                id(&channel),
                id(&dead[0])
            ),
            Body::Empty,
        )
        .await;
    assert_eq!(again.status, 409);

    // Replay by time range: two more dead letters, then all of the range at once.
    let (url, _) = receiver(vec![], 500).await;
    acme.admin
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{}", id(&channel)),
            Body::Json(json!({"outbound_url": url})),
        )
        .await
        .expect(200);
    let (c2, m2) = reply(&app, &agent.api, &channel, "one").await;
    let m3 = id(&agent
        .api
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{c2}/messages"),
            Body::Json(json!({"body": "two"})),
        )
        .await
        .expect(201));
    wait_for_message_state(&agent.api, &c2, &m2, "failed").await;
    wait_for_message_state(&agent.api, &c2, &m3, "failed").await;
    let (url, received) = receiver(vec![], 200).await;
    acme.admin
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{}", id(&channel)),
            Body::Json(json!({"outbound_url": url})),
        )
        .await
        .expect(200);
    let from = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let replayed = acme
        .admin
        .send(
            Method::POST,
            &format!("/api/v1/channels/{}/deliveries/replay", id(&channel)),
            Body::Json(json!({"from": from})),
        )
        .await
        .expect(200);
    assert_eq!(replayed["replayed"], 2);
    wait_for_message_state(&agent.api, &c2, &m2, "sent").await;
    wait_for_message_state(&agent.api, &c2, &m3, "sent").await;
    assert_eq!(received.wait_for(2, Duration::from_secs(5)).await.len(), 2);
}

#[tokio::test]
async fn gone_pauses_the_channel_and_a_refusal_fails_at_once() {
    let app = server("50ms,50ms,50ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let (url, received) = receiver(vec![410], 200).await;
    let channel = create_channel(
        &acme.admin,
        json!({"name": "Std", "slug": "std", "outbound_url": url}),
    )
    .await;
    let (conversation, message) = reply(&app, &agent.api, &channel, "hello").await;
    let failed = wait_for_message_state(&agent.api, &conversation, &message, "failed").await;
    assert!(
        failed["delivery_error"].as_str().unwrap().contains("410"),
        "{failed}"
    );
    assert_eq!(received.calls().len(), 1, "a 410 is not retried");
    let paused = acme
        .admin
        .send(
            Method::GET,
            &format!("/api/v1/channels/{}", id(&channel)),
            Body::Empty,
        )
        .await
        .expect(200);
    assert_eq!(paused["active"], false, "{paused}");
    assert!(paused["paused_reason"].as_str().unwrap().contains("410"));
    // Paused: inbound is refused.
    assert_eq!(
        inbound(
            &app,
            &channel,
            json!({"external_user_id": "zed", "content": "x"})
        )
        .await
        .0,
        404
    );

    // A 400 is a permanent refusal: one attempt, failed, no retry.
    let (url, received) = receiver(vec![400], 200).await;
    acme.admin
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{}", id(&channel)),
            Body::Json(json!({"outbound_url": url})),
        )
        .await
        .expect(200);
    acme.admin
        .send(
            Method::POST,
            &format!("/api/v1/channels/{}/resume", id(&channel)),
            Body::Empty,
        )
        .await
        .expect(200);
    let message = id(&agent
        .api
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Json(json!({"body": "again"})),
        )
        .await
        .expect(201));
    let failed = wait_for_message_state(&agent.api, &conversation, &message, "failed").await;
    assert!(
        failed["delivery_error"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{failed}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received.calls().len(), 1);
}

#[tokio::test]
async fn channel_admin_rules_secrets_and_a_test_channel() {
    let app = server("100ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let bad = acme.admin
        .send(Method::POST, "/api/v1/channels", Body::Json(json!({"name": "", "slug": "Bad Slug", "verification": "slack", "inbound_secret": "short"})))
        .await
        .expect(422);
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"slug") && fields.contains(&"inbound_secret"),
        "{bad}"
    );
    let unsafe_url = acme
        .admin
        .send(
            Method::POST,
            "/api/v1/channels",
            Body::Json(
                json!({"name": "X", "slug": "x", "outbound_url": "http://169.254.169.254/latest"}),
            ),
        )
        .await
        .expect(422);
    assert_eq!(
        unsafe_url["errors"][0]["field"], "outbound_url",
        "{unsafe_url}"
    );
    create_channel(&acme.admin, json!({"name": "One", "slug": "one"})).await;
    let taken = acme
        .admin
        .send(
            Method::POST,
            "/api/v1/channels",
            Body::Json(json!({"name": "Two", "slug": "one"})),
        )
        .await
        .expect(409);
    assert_eq!(
        taken["field"]
            .as_str()
            .or(taken["errors"][0]["field"].as_str()),
        Some("slug"),
        "{taken}"
    );
    // Agents read channels but do not manage them; secrets are never listed.
    let listed = agent
        .api
        .send(Method::GET, "/api/v1/channels", Body::Empty)
        .await
        .expect(200);
    assert!(!listed.to_string().contains("whsec_"), "{listed}");
    assert_eq!(
        agent
            .api
            .send(
                Method::POST,
                "/api/v1/channels",
                Body::Json(json!({"name": "A", "slug": "a"}))
            )
            .await
            .status,
        403
    );

    // Rotation: the new secret signs, the old one still does during the overlap.
    let (url, received) = receiver(vec![], 200).await;
    let channel = create_channel(
        &acme.admin,
        json!({"name": "Rot", "slug": "rot", "outbound_url": url}),
    )
    .await;
    let old = channel["signing_secret"].as_str().unwrap().to_owned();
    let rotated = acme
        .admin
        .send(
            Method::POST,
            &format!("/api/v1/channels/{}/signing-secret", id(&channel)),
            Body::Json(json!({"overlap_hours": 1})),
        )
        .await
        .expect(200);
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    reply(&app, &agent.api, &channel, "signed twice").await;
    let calls = received.wait_for(1, Duration::from_secs(10)).await;
    for secret in [&old, &new] {
        app::infra::outbound::WebhookSigner::from_whsec(secret)
            .unwrap()
            .verify(&calls[0].0, calls[0].1.as_bytes(), Duration::from_secs(300))
            .unwrap_or_else(|e| panic!("not signed by {secret}: {e}"));
    }

    // A test channel takes messages from its page and records the replies it would send.
    let test = create_channel(
        &acme.admin,
        json!({"name": "Try", "slug": "try", "kind": "test"}),
    )
    .await;
    let accepted = acme
        .admin
        .send(
            Method::POST,
            &format!("/api/v1/channels/{}/test-messages", id(&test)),
            Body::Json(
                json!({"external_user_id": "tester", "content": "hi from the test channel"}),
            ),
        )
        .await
        .expect(200);
    let conversation = accepted["conversation_id"].as_str().unwrap();
    let reply = agent
        .api
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Json(json!({"body": "recorded, not sent"})),
        )
        .await
        .expect(201);
    wait_for_message_state(&agent.api, conversation, &id(&reply), "delivered").await;
    let recorded = deliveries(&acme.admin, &id(&test), "").await;
    assert_eq!(recorded[0]["state"], "delivered");
    assert_eq!(
        acme.admin
            .send(
                Method::POST,
                &format!("/api/v1/channels/{}/test-messages", id(&channel)),
                Body::Json(json!({"external_user_id": "x", "content": "y"}))
            )
            .await
            .status,
        409
    );
}

/// A receiver whose first call never answers (the sender dies waiting), later calls 200.
async fn hanging_receiver() -> (String, Received) {
    use axum::routing::post;
    let received = Received::default();
    let sink = received.clone();
    let handler = move |headers: HeaderMap, body: String| {
        let sink = sink.clone();
        async move {
            let n = {
                let mut calls = sink.0.lock().unwrap();
                calls.push((headers, body));
                calls.len()
            };
            if n == 1 {
                tokio::time::sleep(Duration::from_secs(120)).await;
            }
            axum::http::StatusCode::NO_CONTENT
        }
    };
    let router = axum::Router::new().route("/hook", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hook"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_by_kill_9_goes_out_after_the_restart_under_the_same_webhook_id() {
    let db = testkit::TestDb::new().await;
    let configured = || {
        let mut command = crate::cli::command(&db);
        command
            .env("TICKETFLOWER_OUTBOUND_ALLOWLIST", "127.0.0.1/32")
            .env("TICKETFLOWER_DELIVERY_SCHEDULE", "200ms,200ms")
            .env("TICKETFLOWER_DELIVERY_TIMEOUT_SECS", "60")
            .env("TICKETFLOWER_JOB_TIMEOUT_SECS", "3");
        command
    };
    let mut server = crate::cli::start(configured()).await;
    app::infra::outbound::install_tls_provider();
    let http = reqwest::Client::new();
    let signed_up = server.sign_up(&http).await;
    let token = signed_up["access_token"].as_str().unwrap().to_owned();
    let (url, received) = hanging_receiver().await;
    let channel: Value = http
        .post(format!("{}/api/v1/channels", server.base_url))
        .bearer_auth(&token)
        .json(&json!({"name": "Std", "slug": "std", "outbound_url": url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({"external_user_id": "zed", "content": "hello?"})
        .to_string()
        .into_bytes();
    let headers = standard_headers(
        channel["inbound_secret"].as_str().unwrap(),
        "m1",
        chrono::Utc::now().timestamp(),
        &body,
    );
    let mut request = http
        .post(format!(
            "{}/api/v1/hooks/{}",
            server.base_url,
            channel["public_id"].as_str().unwrap()
        ))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let accepted: Value = request.send().await.unwrap().json().await.unwrap();
    let conversation = accepted["conversation_id"].as_str().unwrap().to_owned();
    let message: Value = http
        .post(format!(
            "{}/api/v1/conversations/{conversation}/messages",
            server.base_url
        ))
        .bearer_auth(&token)
        .json(&json!({"body": "on its way"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = id(&message);

    // The first attempt is in flight: the server dies without a word.
    received.wait_for(1, Duration::from_secs(15)).await;
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;
    let server = crate::cli::start(configured()).await;

    // After the dead worker's lease the job is taken up again, under the same webhook-id.
    let calls = received.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(calls[0].0["webhook-id"], message.as_str());
    assert_eq!(calls[1].0["webhook-id"], message.as_str());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let messages: Value = http
            .get(format!(
                "{}/api/v1/conversations/{conversation}/messages",
                server.base_url
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found = messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == message.as_str())
            .cloned()
            .unwrap();
        if found["delivery"] == "sent" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never sent after the restart: {found}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        received.calls().len(),
        2,
        "delivered once after the restart"
    );
}

#[tokio::test]
async fn event_webhooks_deliver_the_subscribed_kinds_once_each_across_a_restart() {
    let app = server("50ms,50ms").await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    acme.add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let rita = acme
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    let (url, received) = receiver(vec![503], 200).await;
    let bad = acme
        .admin
        .send(
            Method::POST,
            "/api/v1/webhook-subscriptions",
            Body::Json(json!({"url": url, "kinds": ["conversation.*", "nonsense.kind"]})),
        )
        .await
        .expect(422);
    assert_eq!(bad["errors"][0]["field"], "kinds/1", "{bad}");
    let subscription = acme
        .admin
        .send(
            Method::POST,
            "/api/v1/webhook-subscriptions",
            Body::Json(json!({"url": url, "kinds": ["conversation.*"]})),
        )
        .await
        .expect(201);
    let secret = subscription["signing_secret"].as_str().unwrap().to_owned();

    // Three conversations: each opened and assigned (two events), each with a message
    // (`message.posted`, not subscribed).
    let open = |n: usize| {
        let rita = rita.api.clone();
        async move {
            let c = rita
                .send(
                    Method::POST,
                    "/api/v1/conversations",
                    Body::Json(json!({"reference": format!("REF-{n}")})),
                )
                .await
                .expect(201);
            rita.send(
                Method::POST,
                &format!("/api/v1/conversations/{}/messages", id(&c)),
                Body::Json(json!({"body": "hi"})),
            )
            .await
            .expect(201);
        }
    };
    open(1).await;
    open(2).await;
    // Committed just before a restart: the relay may not have seen them yet.
    open(3).await;
    let token = acme.admin.token().unwrap().to_owned();
    let app = app.restart().await;
    let admin = app.api().as_user(token);

    // The first call failed (503) and was retried: every event arrives, and once.
    let calls = received.wait_for(7, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = if received.calls().len() > calls.len() {
        received.calls()
    } else {
        calls
    };
    let signer = app::infra::outbound::WebhookSigner::from_whsec(&secret).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for (headers, body) in &calls {
        signer
            .verify(headers, body.as_bytes(), Duration::from_secs(300))
            .unwrap();
        let event: Value = serde_json::from_str(body).unwrap();
        if ids.insert(headers["webhook-id"].to_str().unwrap().to_owned()) {
            *kinds
                .entry(event["kind"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        assert!(event["id"].as_i64().is_some(), "{event}");
    }
    assert_eq!(ids.len(), 6, "six distinct events: {kinds:?}");
    assert_eq!(calls.len(), 7, "six events, one of them twice (the 503)");
    assert_eq!(kinds.get("conversation.opened"), Some(&3), "{kinds:?}");
    assert_eq!(kinds.get("conversation.assigned"), Some(&3), "{kinds:?}");
    assert!(!kinds.contains_key("message.posted"));

    // "Send a test event" goes through the same engine and shows in the deliveries.
    admin
        .send(
            Method::POST,
            &format!("/api/v1/webhook-subscriptions/{}/test", id(&subscription)),
            Body::Empty,
        )
        .await
        .expect(202);
    let calls = received.wait_for(8, Duration::from_secs(10)).await;
    let test: Value = serde_json::from_str(&calls[7].1).unwrap();
    assert_eq!(test["kind"], "webhook.test");
    // The receiver has answered; the delivery records it just after.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let listed = loop {
        let listed = admin
            .send(
                Method::GET,
                &format!(
                    "/api/v1/webhook-subscriptions/{}/deliveries?state=delivered",
                    id(&subscription)
                ),
                Body::Empty,
            )
            .await
            .expect(200);
        if listed["items"].as_array().unwrap().len() >= 7 || std::time::Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(listed["items"].as_array().unwrap().len(), 7);
    // Paused, it receives nothing new.
    admin
        .send(
            Method::POST,
            &format!("/api/v1/webhook-subscriptions/{}/pause", id(&subscription)),
            Body::Empty,
        )
        .await
        .expect(200);
    let rita = app.api().as_user(rita.api.token().unwrap().to_owned());
    rita.send(
        Method::POST,
        "/api/v1/conversations",
        Body::Json(json!({"reference": "REF-4"})),
    )
    .await
    .expect(201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(received.calls().len(), 8);
}

#[tokio::test]
async fn a_failing_endpoint_opens_its_breaker_which_lets_one_probe_through_and_closes() {
    let app = spawn_app_with(|settings, jobs| {
        settings.outbound_allowlist = vec!["127.0.0.1/32".into()];
        settings.delivery_schedule = "50ms,50ms,50ms,50ms,50ms,50ms".into();
        settings.delivery_breaker_failures = 2;
        settings.delivery_breaker_secs = 2;
        jobs
    })
    .await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let (url, received) = receiver(vec![500, 500], 200).await;
    let channel = create_channel(
        &acme.admin,
        json!({"name": "Std", "slug": "std", "outbound_url": url}),
    )
    .await;
    let (conversation, message) = reply(&app, &agent.api, &channel, "hello").await;
    // Two failures in a row open the breaker: the next attempt waits for it.
    received.wait_for(2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(received.calls().len(), 2, "held while the breaker is open");
    let health = acme
        .admin
        .send(
            Method::GET,
            &format!("/api/v1/channels/{}", id(&channel)),
            Body::Empty,
        )
        .await
        .expect(200)["health"]
        .clone();
    assert_eq!(health["breaker"], "open", "{health}");
    assert_eq!(health["consecutive_failures"], 2);
    // After the cool-down one probe goes through, succeeds, and closes it.
    wait_for_message_state(&agent.api, &conversation, &message, "sent").await;
    assert_eq!(received.calls().len(), 3);
    // The endpoint's health is written just after the message's state, in a write of its
    // own: wait for it rather than race it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let health = loop {
        let health = acme
            .admin
            .send(
                Method::GET,
                &format!("/api/v1/channels/{}", id(&channel)),
                Body::Empty,
            )
            .await
            .expect(200)["health"]
            .clone();
        if health["breaker"] == "closed" || std::time::Instant::now() > deadline {
            break health;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health["breaker"], "closed", "{health}");
    assert_eq!(health["consecutive_failures"], 0);
}

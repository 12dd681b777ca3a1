//! Web Push (issue 19): pushes reach a loopback push service encrypted for the
//! subscription's keys (RFC 8291) and signed with the server's VAPID key (RFC 8292); a push
//! service that says the subscription is gone has it removed, one that is busy is tried
//! again when it asks; subscriptions are checked field by field and private to their owner;
//! a server without a VAPID key says Web Push is off.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use rand::RngCore;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::{ApiClient, Body, TestApp, fixtures, id, spawn_app_with, spawn_app_with_secrets};
use web_push_native::jwt_simple::prelude::{
    ECDSAP256PublicKeyLike, ES256PublicKey, NoCustomClaims, VerificationOptions,
};
use web_push_native::p256;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

/// One push the loopback push service got: the token of its path, headers, body and when.
type Received = (String, HeaderMap, Vec<u8>, Instant);

/// What the loopback push service got.
#[derive(Clone, Default)]
struct Pushes(Arc<Mutex<Vec<Received>>>);

impl Pushes {
    fn all(&self) -> Vec<Received> {
        self.0.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "the push service got {} push(es), not {n}",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A push service on loopback: `/push/{token}` answers the statuses `script` gives for the
/// token in turn (with `Retry-After: 1` on a 503), then 201.
async fn push_service(script: &[(&str, &[u16])]) -> (String, Pushes) {
    use axum::extract::Path;
    use axum::routing::post;
    let script: Arc<Vec<(String, Vec<u16>)>> = Arc::new(
        script
            .iter()
            .map(|(token, statuses)| ((*token).to_owned(), statuses.to_vec()))
            .collect(),
    );
    let pushes = Pushes::default();
    let sink = pushes.clone();
    let handler = move |Path(token): Path<String>, headers: HeaderMap, body: axum::body::Bytes| {
        let sink = sink.clone();
        let script = script.clone();
        async move {
            let n = {
                let mut all = sink.0.lock().unwrap();
                all.push((token.clone(), headers, body.to_vec(), Instant::now()));
                all.iter().filter(|(t, ..)| *t == token).count() - 1
            };
            let status = script
                .iter()
                .find(|(t, _)| *t == token)
                .and_then(|(_, statuses)| statuses.get(n).copied())
                .unwrap_or(201);
            let mut response = axum::http::Response::builder().status(status);
            if status == 503 {
                response = response.header("retry-after", "1");
            }
            response.body(axum::body::Body::from("busy")).unwrap()
        }
    };
    let router = axum::Router::new().route("/push/{token}", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}"), pushes)
}

/// A browser's side of a subscription: its ECDH key pair and auth secret.
struct Browser {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let mut auth = [0u8; 16];
        rand::rng().fill_bytes(&mut auth);
        Self { secret, auth }
    }

    fn p256dh(&self) -> String {
        BASE64URL.encode(self.secret.public_key().to_encoded_point(false).as_bytes())
    }

    /// What `PushSubscription.toJSON()` would give for `endpoint`.
    fn subscription(&self, endpoint: &str) -> Value {
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {"p256dh": self.p256dh(), "auth": BASE64URL.encode(self.auth)},
        })
    }

    fn decrypt(&self, body: &[u8]) -> Value {
        let plain = web_push_native::decrypt(
            body.to_vec(),
            &self.secret,
            &web_push_native::Auth::clone_from_slice(&self.auth),
        )
        .unwrap();
        serde_json::from_slice(&plain).unwrap()
    }
}

async fn server() -> TestApp {
    spawn_app_with(|settings, jobs| {
        settings.outbound_allowlist = vec!["127.0.0.1/32".into()];
        jobs
    })
    .await
}

async fn subscribe(api: &ApiClient, body: Value) -> testkit::ApiResponse {
    api.send(Method::POST, "/api/v1/push-subscriptions", Body::Json(body))
        .await
}

async fn subscriptions(api: &ApiClient) -> Vec<Value> {
    api.send(Method::GET, "/api/v1/push-subscriptions", Body::Empty)
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until the owner's list shows `check` true of the subscription `id` (or of the
/// list, when it is gone).
async fn wait_until(api: &ApiClient, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = subscriptions(api).await;
        if check(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "{what}: {list:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header: {headers:?}"))
}

#[tokio::test]
async fn a_push_reaches_the_push_service_encrypted_for_the_browser_and_signed_with_vapid() {
    let app = server().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let (service, pushes) = push_service(&[]).await;
    let key = agent
        .api
        .send(Method::GET, "/api/v1/push/key", Body::Empty)
        .await
        .expect(200)["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(BASE64URL.decode(&key).unwrap().len(), 65);

    let laptop = Browser::new();
    let phone = Browser::new();
    let endpoint = format!("{service}/push/laptop");
    let created = subscribe(
        &agent.api,
        json!({"endpoint": endpoint, "keys": laptop.subscription(&endpoint)["keys"], "name": "Firefox on Linux"}),
    )
    .await
    .expect(201);
    assert_eq!(created["name"], "Firefox on Linux");
    assert_eq!(created["last_success_at"], Value::Null);
    // The browser's own `toJSON()` is accepted as it is; sent again, it is the same one.
    let again = subscribe(&agent.api, laptop.subscription(&endpoint))
        .await
        .expect(200);
    assert_eq!(again["id"], created["id"]);
    let phone_endpoint = format!("{service}/push/phone");
    subscribe(&agent.api, phone.subscription(&phone_endpoint))
        .await
        .expect(201);
    assert_eq!(subscriptions(&agent.api).await.len(), 2);

    // A test push goes to the one browser named.
    agent
        .api
        .send(
            Method::POST,
            &format!("/api/v1/push-subscriptions/{}/test", id(&created)),
            Body::Empty,
        )
        .await
        .expect(202);
    let (path, headers, body, _) = pushes.wait_for(1).await.remove(0);
    assert_eq!(path, "laptop");
    assert_eq!(header(&headers, "content-encoding"), "aes128gcm");
    assert_eq!(header(&headers, "ttl"), "86400");
    assert_eq!(header(&headers, "urgency"), "normal");
    assert_eq!(header(&headers, "content-type"), "application/octet-stream");
    assert_eq!(
        laptop.decrypt(&body),
        json!({"notification_id": null, "kind": "test", "title": "Test notification from TicketFlower", "url": "/profile"})
    );
    // The phone's keys cannot read it.
    assert!(
        web_push_native::decrypt(
            body.clone(),
            &phone.secret,
            &web_push_native::Auth::clone_from_slice(&phone.auth)
        )
        .is_err()
    );

    // VAPID: a JWT for the push service's origin, signed by the key the API publishes.
    let authorization = header(&headers, "authorization");
    let fields = authorization
        .strip_prefix("vapid ")
        .unwrap_or_else(|| panic!("not a vapid authorization: {authorization}"));
    let mut token = "";
    let mut k = "";
    for field in fields.split(',').map(str::trim) {
        if let Some(value) = field.strip_prefix("t=") {
            token = value;
        } else if let Some(value) = field.strip_prefix("k=") {
            k = value;
        }
    }
    assert_eq!(k, key);
    let public = ES256PublicKey::from_bytes(&BASE64URL.decode(&key).unwrap()).unwrap();
    let claims = public
        .verify_token::<NoCustomClaims>(
            token,
            Some(VerificationOptions {
                allowed_audiences: Some(HashSet::from([service.clone()])),
                ..Default::default()
            }),
        )
        .unwrap();
    assert_eq!(claims.subject.as_deref(), Some("mailto:no-reply@localhost"));
    let expires = claims.expires_at.unwrap().as_secs();
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(
        expires > now && expires <= now + 24 * 3600,
        "exp {expires} now {now}"
    );
    let list = wait_until(&agent.api, "the laptop's success is shown", |list| {
        list.iter()
            .any(|s| s["id"] == created["id"] && !s["last_success_at"].is_null())
    })
    .await;
    assert!(list.iter().all(|s| s["last_error"].is_null()));

    // The notification pipeline queues one push per subscribed browser.
    let notification = uuid::Uuid::now_v7();
    let push = domain::notification::Push {
        notification_id: Some(domain::NotificationId(notification)),
        kind: "comment_added".into(),
        title: "New comment on #42".into(),
        url: "/tickets/42".into(),
    };
    let mut tx = app.app.db().begin().await.unwrap();
    let queued = app::web_push::enqueue(
        &mut tx,
        domain::CompanyId(acme.id.parse().unwrap()),
        domain::UserId(agent.id.parse().unwrap()),
        &push,
    )
    .await
    .unwrap();
    app.app.commit(tx).await.unwrap();
    assert_eq!(queued, 2);
    let all = pushes.wait_for(3).await;
    let expected = json!({"notification_id": notification, "kind": "comment_added", "title": "New comment on #42", "url": "/tickets/42"});
    for (path, _, body, _) in &all[1..] {
        let browser = if path == "laptop" { &laptop } else { &phone };
        assert_eq!(browser.decrypt(body), expected, "{path}");
    }
    let mut paths: Vec<&str> = all[1..].iter().map(|(p, ..)| p.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["laptop", "phone"]);
}

#[tokio::test]
async fn subscriptions_the_push_service_says_are_gone_are_removed() {
    let app = server().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let (service, pushes) = push_service(&[("gone", &[410]), ("unknown", &[404])]).await;
    let mut ids = Vec::new();
    for token in ["gone", "unknown", "kept"] {
        let endpoint = format!("{service}/push/{token}");
        let created = subscribe(&acme.admin, Browser::new().subscription(&endpoint))
            .await
            .expect(201);
        ids.push(id(&created));
    }
    for id in &ids {
        acme.admin
            .send(
                Method::POST,
                &format!("/api/v1/push-subscriptions/{id}/test"),
                Body::Empty,
            )
            .await
            .expect(202);
    }
    pushes.wait_for(3).await;
    let list = wait_until(&acme.admin, "410 and 404 remove theirs", |list| {
        list.len() == 1 && !list[0]["last_success_at"].is_null()
    })
    .await;
    assert_eq!(id(&list[0]), ids[2]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        pushes.all().len(),
        3,
        "a removed subscription is not tried again"
    );
    acme.admin
        .send(
            Method::POST,
            &format!("/api/v1/push-subscriptions/{}/test", ids[0]),
            Body::Empty,
        )
        .await
        .expect(404);
}

#[tokio::test]
async fn a_busy_push_service_is_tried_again_when_it_asks_and_the_error_shows_meanwhile() {
    let app = server().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let (service, pushes) = push_service(&[("busy", &[503])]).await;
    let endpoint = format!("{service}/push/busy");
    let browser = Browser::new();
    let created = subscribe(&acme.admin, browser.subscription(&endpoint))
        .await
        .expect(201);
    acme.admin
        .send(
            Method::POST,
            &format!("/api/v1/push-subscriptions/{}/test", id(&created)),
            Body::Empty,
        )
        .await
        .expect(202);
    pushes.wait_for(1).await;
    let list = wait_until(&acme.admin, "the 503 is shown", |list| {
        !list[0]["last_error"].is_null()
    })
    .await;
    assert_eq!(list[0]["last_error"], "the push service answered 503: busy");
    assert!(list[0]["last_error_at"].is_string());
    assert!(list[0]["last_success_at"].is_null());
    let all = pushes.wait_for(2).await;
    let pause = all[1].3.duration_since(all[0].3);
    assert!(
        pause >= Duration::from_millis(900),
        "tried again after {pause:?}, before its Retry-After of 1 s"
    );
    // The same push, encrypted afresh.
    assert_eq!(browser.decrypt(&all[0].2), browser.decrypt(&all[1].2));
    wait_until(&acme.admin, "the retry's success is shown", |list| {
        !list[0]["last_success_at"].is_null()
    })
    .await;
}

#[tokio::test]
async fn subscriptions_are_checked_field_by_field_and_private_to_their_owner() {
    let app = server().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let globex = fixtures::sign_up(&app, "Globex", "gil@globex.io").await;
    let browser = Browser::new();
    let good = browser.subscription("https://push.example.com/send/abc");
    let p256dh = good["keys"]["p256dh"].as_str().unwrap().to_owned();
    let auth = good["keys"]["auth"].as_str().unwrap().to_owned();
    let compressed = BASE64URL.encode(
        browser
            .secret
            .public_key()
            .to_encoded_point(true)
            .as_bytes(),
    );
    let cases = [
        (
            json!("http://push.example.com/x"),
            json!(p256dh),
            json!(auth),
            vec!["endpoint"],
        ),
        (
            json!("not a url"),
            json!(p256dh),
            json!(auth),
            vec!["endpoint"],
        ),
        (
            json!("https://push.example.com/x"),
            json!(compressed),
            json!(auth),
            vec!["keys.p256dh"],
        ),
        (
            json!("https://push.example.com/x"),
            json!("AAAA"),
            json!(auth),
            vec!["keys.p256dh"],
        ),
        (
            json!("https://push.example.com/x"),
            json!(p256dh),
            json!("c2hvcnQ"),
            vec!["keys.auth"],
        ),
        (
            json!("ftp://x"),
            json!("!"),
            json!(""),
            vec!["endpoint", "keys.p256dh", "keys.auth"],
        ),
    ];
    for (endpoint, p256dh, auth, fields) in cases {
        let body = json!({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}});
        let answer = subscribe(&agent.api, body.clone()).await;
        assert!(answer.is_problem(), "{answer}");
        let problem = answer.expect(422);
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{body}");
    }
    let answer = subscribe(
        &agent.api,
        json!({"endpoint": "https://push.example.com/x"}),
    )
    .await;
    assert_eq!(answer.status, 422, "{answer}");
    assert!(answer.text().contains("keys"), "{answer}");
    assert!(subscriptions(&agent.api).await.is_empty());

    let mine = subscribe(&agent.api, good.clone()).await.expect(201);
    let mine = id(&mine);
    // Ada (same company) and Gil (another) neither see nor touch Agnes's browser.
    for other in [&acme.admin, &globex.admin] {
        assert!(subscriptions(other).await.is_empty());
        other
            .send(
                Method::DELETE,
                &format!("/api/v1/push-subscriptions/{mine}"),
                Body::Empty,
            )
            .await
            .expect(404);
        other
            .send(
                Method::POST,
                &format!("/api/v1/push-subscriptions/{mine}/test"),
                Body::Empty,
            )
            .await
            .expect(404);
    }
    assert_eq!(subscriptions(&agent.api).await.len(), 1);
    // The same browser subscribing for Gil (a shared computer) becomes his.
    let taken = subscribe(&globex.admin, good).await.expect(201);
    assert_eq!(id(&taken), mine);
    assert!(subscriptions(&agent.api).await.is_empty());
    assert_eq!(subscriptions(&globex.admin).await.len(), 1);
    globex
        .admin
        .send(
            Method::DELETE,
            &format!("/api/v1/push-subscriptions/{mine}"),
            Body::Empty,
        )
        .await
        .expect(204);
    assert!(subscriptions(&globex.admin).await.is_empty());
}

#[tokio::test]
async fn a_server_without_a_vapid_key_says_web_push_is_not_configured() {
    let app =
        spawn_app_with_secrets(|_, jobs| jobs, app::Secrets::generate().without_web_push()).await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let answer = acme
        .admin
        .send(Method::GET, "/api/v1/push/key", Body::Empty)
        .await;
    assert!(answer.is_problem(), "{answer}");
    let problem = answer.expect(404);
    assert_eq!(
        problem["detail"],
        "web push is not configured on this server"
    );
    let answer = subscribe(
        &acme.admin,
        Browser::new().subscription("https://push.example.com/x"),
    )
    .await;
    assert_eq!(answer.status, 404, "{answer}");
    assert!(answer.text().contains("web push is not configured"));
    let page = crate::common::page(&app, acme.access_token(), "/profile").await;
    assert!(page.contains("Browser notifications are not set up on this server."));
    assert!(!page.contains("push-subscribe-form"));
}

#[tokio::test]
async fn the_service_worker_is_served_from_the_root_for_the_whole_site() {
    let app = server().await;
    let answer = app.api().send(Method::GET, "/sw.js", Body::Empty).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.content_type().starts_with("text/javascript"),
        "{}",
        answer.content_type()
    );
    assert_eq!(answer.headers.get("service-worker-allowed").unwrap(), "/");
    assert_eq!(answer.headers.get("cache-control").unwrap(), "no-cache");
    let text = answer.text();
    assert!(text.contains("showNotification") && text.contains("notificationclick"));
}

#[tokio::test]
async fn the_profile_subscribes_lists_tests_and_removes_browsers() {
    let app = server().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let (service, pushes) = push_service(&[]).await;
    let token = acme.access_token().to_owned();
    let key = acme
        .admin
        .send(Method::GET, "/api/v1/push/key", Body::Empty)
        .await
        .expect(200)["public_key"]
        .clone();
    let page = crate::common::page(&app, &token, "/profile").await;
    assert!(page.contains("<h2>Browser notifications</h2>"), "{page}");
    assert!(page.contains(&format!("data-vapid-key=\"{}\"", key.as_str().unwrap())));
    assert!(page.contains("id=\"push-subscribe\""));
    assert!(page.contains("/static/push.js"));
    assert!(page.contains("No browser receives your notifications yet."));

    let browser = Browser::new();
    let endpoint = format!("{service}/push/page");
    let form = format!(
        "endpoint={}&p256dh={}&auth={}&name=Chrome+on+Linux",
        url::form_urlencoded::byte_serialize(endpoint.as_bytes()).collect::<String>(),
        browser.p256dh(),
        BASE64URL.encode(browser.auth),
    );
    let answer = crate::pages::post_from(
        &app,
        &token,
        "/profile",
        "/profile/push-subscriptions",
        &form,
    )
    .await;
    assert_eq!(answer.status(), 303);
    let list = subscriptions(&acme.admin).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "Chrome on Linux");
    let id = id(&list[0]);

    // A refused subscription goes back with a message and stores nothing.
    let answer = crate::pages::post_from(
        &app,
        &token,
        "/profile",
        "/profile/push-subscriptions",
        "endpoint=http%3A%2F%2Fpush.example.com%2Fx&p256dh=x&auth=y",
    )
    .await;
    assert_eq!(answer.status(), 303);
    assert_eq!(subscriptions(&acme.admin).await.len(), 1);
    let page = crate::common::page(&app, &token, "/profile").await;
    assert!(page.contains("Chrome on Linux"));

    let answer = crate::pages::post_from(
        &app,
        &token,
        "/profile",
        &format!("/profile/push-subscriptions/{id}/test"),
        "",
    )
    .await;
    assert_eq!(answer.status(), 303);
    pushes.wait_for(1).await;
    wait_until(&acme.admin, "the page's test push is delivered", |list| {
        !list[0]["last_success_at"].is_null()
    })
    .await;
    let page = crate::common::page(&app, &token, "/profile").await;
    let row = crate::pages::form_with(&page, &format!("/profile/push-subscriptions/{id}/delete"));
    assert!(row.contains("data-push-remove"), "{row}");

    let answer = crate::pages::post_from(
        &app,
        &token,
        "/profile",
        &format!("/profile/push-subscriptions/{id}/delete"),
        "",
    )
    .await;
    assert_eq!(answer.status(), 303);
    assert!(subscriptions(&acme.admin).await.is_empty());
}

#[tokio::test]
async fn a_conversation_assigned_to_an_agent_reaches_their_browser_through_the_pipeline() {
    let app = server().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let requester = acme
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    let (service, pushes) = push_service(&[]).await;
    let laptop = Browser::new();
    let endpoint = format!("{service}/push/agnes");
    subscribe(&agent.api, laptop.subscription(&endpoint))
        .await
        .expect(201);
    let opened = requester
        .api
        .send(
            Method::POST,
            "/api/v1/conversations",
            Body::Json(json!({"subject": "My secret salary question"})),
        )
        .await
        .expect(201);
    let (path, _, body, _) = pushes.wait_for(1).await.remove(0);
    assert_eq!(path, "agnes");
    let push = laptop.decrypt(&body);
    assert_eq!(push["kind"], "conversation_assigned", "{push}");
    assert_eq!(push["title"], "A conversation is assigned to you", "{push}");
    assert_eq!(push["url"], format!("/conversations/{}", id(&opened)));
    // The notification it announces is the agent's to read; its subject stays out of the push.
    let notification = push["notification_id"].as_str().unwrap().to_owned();
    let mine = agent
        .api
        .send(Method::GET, "/api/v1/notifications", Body::Empty)
        .await
        .expect(200);
    assert_eq!(mine["items"][0]["id"], notification.as_str(), "{mine}");
    assert!(!push.to_string().contains("salary"), "{push}");
    app.stop().await;
}

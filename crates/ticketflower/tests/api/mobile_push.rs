//! Mobile push through FCM HTTP v1 and the device registry (issue 19). A fake Google (its
//! OAuth token endpoint and FCM's send endpoint, axum on a loopback port) stands in for
//! the real one: the server signs its assertion with the test service account's key,
//! mints one access token and reuses it, sends one thin message per device, prunes a device
//! whose token the fake calls `UNREGISTERED`, retries a 429 when `Retry-After` says and
//! shows the error on the device. People register, list and remove their own devices only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use testkit::fixtures::{self, Member};
use testkit::{ApiClient, ApiResponse, Body, TestApp, fcm, id, spawn_app, spawn_app_with};

use crate::pages::Session;

const DEVICES: &str = "/api/v1/devices";

/// One answer the fake FCM gives: status, `Retry-After`, body.
type Scripted = (u16, Option<&'static str>, Value);

/// What the fake Google saw, and what it is told to answer.
#[derive(Default)]
struct Seen {
    /// The `assertion` of each token request, in order.
    assertions: Vec<String>,
    /// Each send: its path, `Authorization` header, JSON body and when it came.
    sends: Vec<(String, String, Value, Instant)>,
    /// Answers by device token, used up in order; then 200.
    script: HashMap<String, VecDeque<Scripted>>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Seen>>);

impl Fake {
    /// Serves the fake on a loopback port; its base URL.
    async fn serve(&self) -> String {
        let router = axum::Router::new()
            .route("/token", axum::routing::post(token))
            .fallback(send)
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    fn script(&self, device_token: &str, answers: Vec<Scripted>) {
        self.0
            .lock()
            .unwrap()
            .script
            .insert(device_token.to_owned(), answers.into());
    }

    fn assertions(&self) -> Vec<String> {
        self.0.lock().unwrap().assertions.clone()
    }

    /// The sends to one device token.
    fn sends_to(&self, device_token: &str) -> Vec<(String, String, Value, Instant)> {
        self.0
            .lock()
            .unwrap()
            .sends
            .iter()
            .filter(|(_, _, body, _)| body["message"]["token"] == device_token)
            .cloned()
            .collect()
    }
}

async fn token(
    State(fake): State<Fake>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let mut seen = fake.0.lock().unwrap();
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    seen.assertions
        .push(form.get("assertion").cloned().unwrap_or_default());
    let n = seen.assertions.len();
    axum::Json(json!({"access_token": format!("fake-access-{n}"), "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

async fn send(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut seen = fake.0.lock().unwrap();
    seen.sends.push((
        uri.path().to_owned(),
        authorization.clone(),
        body.clone(),
        Instant::now(),
    ));
    let device = body["message"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // A token the fake did not mint is refused, as FCM refuses an expired one.
    let minted =
        (1..=seen.assertions.len()).any(|n| authorization == format!("Bearer fake-access-{n}"));
    if !minted {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let scripted = seen.script.get_mut(&device).and_then(VecDeque::pop_front);
    let (status, retry_after, answer) =
        scripted.unwrap_or((200, None, json!({"name": "projects/p/messages/1"})));
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response();
    if let Some(after) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    response
}

/// FCM's answer for a token it no longer knows.
fn unregistered() -> Scripted {
    (
        404,
        None,
        json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}),
    )
}

/// The server with mobile push pointed at the fake.
async fn spawn_with_fcm(fake: &Fake) -> (TestApp, String) {
    let base = fake.serve().await;
    let token_uri = format!("{base}/token");
    let account = fcm::service_account(&token_uri).to_string();
    let endpoint = base.clone();
    let app = spawn_app_with(move |settings, jobs| {
        settings.fcm_service_account = Some(SecretString::from(account));
        settings.fcm_endpoint = endpoint;
        jobs
    })
    .await;
    (app, token_uri)
}

async fn register(client: &ApiClient, body: Value) -> ApiResponse {
    client.send(Method::POST, DEVICES, Body::Json(body)).await
}

async fn devices(client: &ApiClient) -> Vec<Value> {
    client
        .send(Method::GET, DEVICES, Body::Empty)
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls the person's devices until `done` holds of them (10 s at most).
async fn devices_until(
    client: &ApiClient,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = devices(client).await;
        if done(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "never {what}: {list:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn named<'a>(list: &'a [Value], name: &str) -> Option<&'a Value> {
    list.iter().find(|d| d["name"] == name)
}

async fn person(app: &TestApp) -> (fixtures::Company, Member) {
    let company = fixtures::sign_up(app, "Acme", "ada@acme.io").await;
    let uma = company
        .add_member("uma@acme.io", "Uma", &["user"], &[])
        .await;
    (company, uma)
}

/// Queues a notification's push as the notification pipeline does.
async fn notify(
    app: &TestApp,
    company: &str,
    user: &str,
    push: &domain::notification::Push,
) -> usize {
    let mut tx = app.app.db().begin().await.unwrap();
    let queued = app::mobile_push::enqueue(
        &mut tx,
        domain::CompanyId(company.parse().unwrap()),
        domain::UserId(user.parse().unwrap()),
        push,
    )
    .await
    .unwrap();
    app.app.commit(tx).await.unwrap();
    queued
}

#[tokio::test]
async fn fcm_v1_gets_one_thin_message_per_device_with_one_cached_token_and_a_dead_token_is_pruned()
{
    let fake = Fake::default();
    let (app, token_uri) = spawn_with_fcm(&fake).await;
    let (company, uma) = person(&app).await;
    for (platform, token, name) in [
        ("android", "phone-token", "Pixel"),
        ("ios", "tablet-token", "iPad"),
        ("android", "dead-token", "Old phone"),
    ] {
        register(
            &uma.api,
            json!({"platform": platform, "token": token, "name": name}),
        )
        .await
        .expect(201);
    }
    fake.script("dead-token", vec![unregistered()]);

    let notification = domain::NotificationId::new();
    let push = domain::notification::Push {
        notification_id: Some(notification),
        kind: "ticket_commented".into(),
        title: "New comment on #42".into(),
        url: "/tickets/42".into(),
    };
    assert_eq!(notify(&app, &company.id, &uma.id, &push).await, 3);

    // The dead device goes; the others show their success.
    let list = devices_until(&uma.api, "pruned and delivered", |list| {
        list.len() == 2 && list.iter().all(|d| !d["last_success_at"].is_null())
    })
    .await;
    assert!(named(&list, "Old phone").is_none(), "{list:?}");
    for device in &list {
        assert!(device["last_error"].is_null(), "{device}");
        assert!(
            device.get("token").is_none(),
            "the token is not shown back: {device}"
        );
    }

    // One token for all three sends, from an assertion signed by the service account.
    let assertions = fake.assertions();
    assert_eq!(assertions.len(), 1, "one access token, minted once");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[token_uri.as_str()]);
    validation.set_issuer(&[fcm::CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let key = jsonwebtoken::DecodingKey::from_rsa_components(fcm::PUBLIC_KEY_N, fcm::PUBLIC_KEY_E)
        .unwrap();
    let verified = jsonwebtoken::decode::<Value>(&assertions[0], &key, &validation)
        .unwrap_or_else(|e| panic!("the assertion does not verify: {e}"));
    let claims = verified.claims;
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(claims["aud"], token_uri.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(verified.header.kid.as_deref(), Some(fcm::PRIVATE_KEY_ID));

    // Each message names its device's token and carries nothing but the title and links.
    for device_token in ["phone-token", "tablet-token", "dead-token"] {
        let sends = fake.sends_to(device_token);
        assert_eq!(sends.len(), 1, "{device_token}");
        let (path, authorization, body, _) = &sends[0];
        assert_eq!(
            path,
            &format!("/v1/projects/{}/messages:send", fcm::PROJECT_ID)
        );
        assert_eq!(authorization, "Bearer fake-access-1");
        assert_eq!(
            body,
            &json!({"message": {
                "token": device_token,
                "notification": {"title": "New comment on #42"},
                "data": {"kind": "ticket_commented", "url": "/tickets/42", "notification_id": notification.to_string()},
            }})
        );
    }

    // A test push reuses the cached token.
    let pixel = id(named(&list, "Pixel").unwrap());
    uma.api
        .send(
            Method::POST,
            &format!("{DEVICES}/{pixel}/test"),
            Body::Empty,
        )
        .await
        .expect(202);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.sends_to("phone-token").len() < 2 {
        assert!(Instant::now() < deadline, "the test push never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let test = &fake.sends_to("phone-token")[1].2;
    assert_eq!(test["message"]["data"]["kind"], "test");
    assert_eq!(test["message"]["data"]["notification_id"], "");
    assert_eq!(fake.assertions().len(), 1, "the cached token is reused");

    // An access token FCM refuses (401) is dropped, a new one minted, and the send tried again.
    fake.script(
        "tablet-token",
        vec![(
            401,
            None,
            json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
        )],
    );
    let ipad = id(named(&list, "iPad").unwrap());
    let before = devices(&uma.api).await;
    let ipad_success = named(&before, "iPad").unwrap()["last_success_at"].clone();
    uma.api
        .send(Method::POST, &format!("{DEVICES}/{ipad}/test"), Body::Empty)
        .await
        .expect(202);
    devices_until(&uma.api, "delivered after a new token", |list| {
        named(list, "iPad").is_some_and(|d| d["last_success_at"] != ipad_success)
    })
    .await;
    assert_eq!(fake.assertions().len(), 2, "a refused token is replaced");
    let sends = fake.sends_to("tablet-token");
    assert_eq!(sends.len(), 3);
    assert_eq!(sends[2].1, "Bearer fake-access-2");
    app.stop().await;
}

#[tokio::test]
async fn a_throttled_push_is_retried_when_retry_after_says_and_the_device_shows_the_error() {
    let fake = Fake::default();
    let (app, _) = spawn_with_fcm(&fake).await;
    let (_, uma) = person(&app).await;
    let busy = register(
        &uma.api,
        json!({"platform": "android", "token": "busy-token", "name": "Busy"}),
    )
    .await
    .expect(201);
    let refused = register(
        &uma.api,
        json!({"platform": "ios", "token": "refused-token", "name": "Refused"}),
    )
    .await
    .expect(201);
    fake.script(
        "busy-token",
        vec![(
            429,
            Some("1"),
            json!({"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED",
                "details": [{"errorCode": "QUOTA_EXCEEDED"}]}}),
        )],
    );
    fake.script(
        "refused-token",
        vec![(
            400,
            None,
            json!({"error": {"code": 400, "message": "Invalid JSON payload.", "status": "INVALID_ARGUMENT",
                "details": [{"errorCode": "INVALID_ARGUMENT"}]}}),
        )],
    );
    for device in [&busy, &refused] {
        uma.api
            .send(
                Method::POST,
                &format!("{DEVICES}/{}/test", id(device)),
                Body::Empty,
            )
            .await
            .expect(202);
    }

    // The throttled push shows its error, then goes through a second after.
    let failed = devices_until(&uma.api, "showing the 429", |list| {
        named(list, "Busy").is_some_and(|d| !d["last_error"].is_null())
    })
    .await;
    let shown = named(&failed, "Busy").unwrap();
    assert_eq!(
        shown["last_error"],
        "FCM answered 429 (QUOTA_EXCEEDED): Quota exceeded."
    );
    assert!(!shown["last_error_at"].is_null());
    devices_until(&uma.api, "retried", |list| {
        named(list, "Busy").is_some_and(|d| !d["last_success_at"].is_null())
    })
    .await;
    let sends = fake.sends_to("busy-token");
    assert_eq!(sends.len(), 2);
    assert!(
        sends[1].3 - sends[0].3 >= Duration::from_millis(900),
        "retried before Retry-After: {:?}",
        sends[1].3 - sends[0].3
    );

    // Any other refusal is shown and not tried again.
    let list = devices_until(&uma.api, "showing the 400", |list| {
        named(list, "Refused").is_some_and(|d| !d["last_error"].is_null())
    })
    .await;
    let refused = named(&list, "Refused").unwrap();
    assert_eq!(
        refused["last_error"],
        "FCM answered 400 (INVALID_ARGUMENT): Invalid JSON payload."
    );
    assert!(refused["last_success_at"].is_null());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.sends_to("refused-token").len(), 1);
    app.stop().await;
}

fn fields(answer: &ApiResponse) -> Vec<String> {
    let mut named: Vec<String> = answer.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    named.sort();
    named
}

#[tokio::test]
async fn people_register_list_and_remove_their_own_devices_only() {
    let app = spawn_app().await;
    let (company, uma) = person(&app).await;
    let vic = company
        .add_member("vic@acme.io", "Vic", &["user"], &[])
        .await;

    let made = register(
        &uma.api,
        json!({"platform": "android", "token": " fcm-token-1 ", "name": " Pixel "}),
    )
    .await
    .expect(201);
    assert_eq!(made["platform"], "android");
    let document = app.api().openapi().await.expect(200);
    assert_eq!(
        document["components"]["schemas"]["Platform"]["enum"],
        json!(["android", "ios", "web"]),
        "the document names platforms as the API writes them"
    );
    assert_eq!(made["name"], "Pixel");
    assert!(made["last_success_at"].is_null() && made["last_error"].is_null());
    // The same token again is the same device, updated.
    let again = register(
        &uma.api,
        json!({"platform": "android", "token": "fcm-token-1", "name": "Work phone"}),
    )
    .await
    .expect(200);
    assert_eq!(again["id"], made["id"]);
    assert_eq!(again["name"], "Work phone");
    assert_eq!(again["created_at"], made["created_at"]);
    let second = register(&uma.api, json!({"platform": "web", "token": "fcm-token-2"}))
        .await
        .expect(201);
    assert!(second["name"].is_null());
    let listed = devices(&uma.api).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], second["id"], "newest first");

    // Every bad field is named.
    let bad = register(
        &uma.api,
        json!({"platform": "blackberry", "token": "  ", "name": "n".repeat(201)}),
    )
    .await;
    assert_eq!(bad.status, 422, "{bad}");
    assert!(bad.is_problem());
    assert_eq!(fields(&bad), ["name", "platform", "token"]);
    let long = register(
        &uma.api,
        json!({"platform": "ios", "token": "t".repeat(4097)}),
    )
    .await;
    assert_eq!(long.status, 422, "{long}");
    assert_eq!(fields(&long), ["token"]);
    let missing = register(&uma.api, json!({"token": "t"})).await;
    assert_eq!(missing.status, 422, "{missing}");
    assert_eq!(fields(&missing), ["platform"]);
    register(
        &uma.api,
        json!({"platform": "ios", "token": "t".repeat(4096), "name": "n".repeat(200)}),
    )
    .await
    .expect(201);

    // Twenty devices at most; one already registered may still be registered again.
    for n in 3..20 {
        register(
            &uma.api,
            json!({"platform": "web", "token": format!("browser-{n}")}),
        )
        .await
        .expect(201);
    }
    let over = register(&uma.api, json!({"platform": "web", "token": "browser-20"})).await;
    assert_eq!(over.status, 422, "{over}");
    assert_eq!(fields(&over), ["token"]);
    register(&uma.api, json!({"platform": "web", "token": "browser-19"}))
        .await
        .expect(200);
    for n in 3..20 {
        let device = devices(&uma.api)
            .await
            .into_iter()
            .find(|d| d["platform"] == "web" && d["id"] != second["id"])
            .unwrap_or_else(|| panic!("browser-{n} is not listed"));
        uma.api
            .send(
                Method::DELETE,
                &format!("{DEVICES}/{}", id(&device)),
                Body::Empty,
            )
            .await
            .expect(204);
    }

    // Another person sees none of them and cannot touch them.
    assert!(devices(&vic.api).await.is_empty());
    let theirs = id(&made);
    for (method, path) in [
        (Method::DELETE, format!("{DEVICES}/{theirs}")),
        (Method::POST, format!("{DEVICES}/{theirs}/test")),
    ] {
        let answer = vic.api.send(method, &path, Body::Empty).await;
        assert_eq!(answer.status, 404, "{path}: {answer}");
        assert!(answer.is_problem());
    }
    assert_eq!(devices(&uma.api).await.len(), 3);

    // A phone that changes hands moves to whoever registers its token.
    let moved = register(
        &vic.api,
        json!({"platform": "android", "token": "fcm-token-1", "name": "Vic's phone"}),
    )
    .await
    .expect(201);
    assert_ne!(moved["id"], made["id"]);
    assert!(named(&devices(&uma.api).await, "Work phone").is_none());
    assert_eq!(devices(&vic.api).await.len(), 1);

    // An integration's token has no devices.
    let issued = company
        .admin
        .send(
            Method::POST,
            "/api/v1/api-tokens",
            Body::Json(json!({"name": "CRM", "roles": ["ticket_admin"]})),
        )
        .await
        .expect(201);
    let bot = app.api().as_user(issued["secret"].as_str().unwrap());
    assert_eq!(
        bot.send(Method::GET, DEVICES, Body::Empty).await.status,
        403
    );
    let refused = register(&bot, json!({"platform": "android", "token": "bot-token"})).await;
    assert_eq!(refused.status, 403, "{refused}");

    // Without FCM configured the test push is accepted and the job finishes without sending.
    let web = id(&second);
    uma.api
        .send(Method::POST, &format!("{DEVICES}/{web}/test"), Body::Empty)
        .await
        .expect(202);

    // Removing: 204, then gone.
    uma.api
        .send(Method::DELETE, &format!("{DEVICES}/{web}"), Body::Empty)
        .await
        .expect(204);
    let gone = uma
        .api
        .send(Method::DELETE, &format!("{DEVICES}/{web}"), Body::Empty)
        .await;
    assert_eq!(gone.status, 404, "{gone}");
    assert_eq!(devices(&uma.api).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_profile_lists_the_persons_devices_and_removes_one() {
    let app = spawn_app().await;
    let (_, uma) = person(&app).await;
    let pixel = register(
        &uma.api,
        json!({"platform": "android", "token": "fcm-token-1", "name": "Uma's Pixel"}),
    )
    .await
    .expect(201);
    let session = Session::open(&app, uma.api.token().unwrap()).await;
    let profile = session.get("/profile").await;
    assert!(profile.contains("Mobile devices"), "{profile}");
    assert!(profile.contains("Uma&#39;s Pixel"), "{profile}");
    assert!(profile.contains("Android"));
    let removed = session
        .post(&format!("/profile/devices/{}/remove", id(&pixel)), &[])
        .await;
    assert_eq!(removed.status, 303, "{}", removed.page);
    assert_eq!(removed.location, "/profile");
    assert!(devices(&uma.api).await.is_empty());
    let profile = session.get("/profile").await;
    assert!(profile.contains("No device registered"), "{profile}");
    // Removing it again says it no longer exists.
    let again = session
        .post(&format!("/profile/devices/{}/remove", id(&pixel)), &[])
        .await;
    assert_eq!(again.status, 303);
    app.stop().await;
}

/// The binary takes the service account's JSON itself from its environment variable and
/// pushes with it; a key it cannot use stops the start and names the variable.
#[tokio::test]
async fn the_binary_reads_the_service_account_from_its_variable_and_refuses_an_unusable_one() {
    let fake = Fake::default();
    let base = fake.serve().await;
    let db = testkit::TestDb::new().await;
    let account = fcm::service_account(&format!("{base}/token")).to_string();
    let mut command = crate::cli::command(&db);
    command
        .env("TICKETFLOWER_FCM_SERVICE_ACCOUNT", &account)
        .env("TICKETFLOWER_FCM_ENDPOINT", &base);
    let mut server = crate::cli::start(command).await;
    app::infra::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let signed_up = server.sign_up(&client).await;
    let access = signed_up["access_token"].as_str().unwrap();
    let url = |path: &str| format!("{}{path}", server.base_url);
    let phone: Value = client
        .post(url(DEVICES))
        .bearer_auth(access)
        .json(&json!({"platform": "ios", "token": "binary-token"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let queued = client
        .post(url(&format!("{DEVICES}/{}/test", id(&phone))))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.sends_to("binary-token").is_empty() {
        assert!(Instant::now() < deadline, "the binary never pushed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.sends_to("binary-token").len(), 1);
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;

    let broken_key = fcm::service_account("https://oauth2.googleapis.com/token");
    let mut broken_key = broken_key.as_object().unwrap().clone();
    broken_key.insert(
        "private_key".into(),
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n".into(),
    );
    for (value, says) in [
        ("/no/such/service-account.json".to_owned(), "cannot be read"),
        (
            Value::Object(broken_key).to_string(),
            "not an RSA private key",
        ),
        ("{\"project_id\": \"p\"}".to_owned(), "no client_email"),
    ] {
        let mut refused = crate::cli::command(&db);
        refused
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("TICKETFLOWER_FCM_SERVICE_ACCOUNT", &value);
        let out = refused.output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value}: {stderr}");
        assert!(
            stderr.contains("TICKETFLOWER_FCM_SERVICE_ACCOUNT"),
            "{stderr}"
        );
        assert!(stderr.contains(says), "{says}: {stderr}");
        assert!(
            !stderr.contains("bm90IGEga2V5"),
            "the key is never printed: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_comment_reaches_the_requesters_phone_through_the_notification_pipeline() {
    let fake = Fake::default();
    let (app, _) = spawn_with_fcm(&fake).await;
    let desk = fixtures::purchase_desk(&app, fixtures::when_approved()).await;
    register(
        &desk.requester.api,
        json!({"platform": "android", "token": "rita-phone", "name": "Pixel"}),
    )
    .await
    .expect(201);
    let ticket = desk.request_purchase(250, "A lamp").await;
    let ticket_id = id(&ticket);
    let task = ticket["tasks"][0]["id"].as_str().unwrap().to_owned();
    desk.reviewer.api.claim_task(&task).await.expect(200);
    desk.reviewer
        .api
        .add_comment(&ticket_id, "Which colour, the secret one?", false)
        .await
        .expect(201);
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        let found = fake
            .0
            .lock()
            .unwrap()
            .sends
            .iter()
            .map(|(_, _, body, _)| body.clone())
            .find(|b| b["message"]["token"] == "rita-phone");
        if let Some(body) = found {
            break body;
        }
        assert!(Instant::now() < deadline, "no push reached rita's phone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        body["message"]["notification"]["title"], "New comment on #1",
        "{body}"
    );
    assert_eq!(body["message"]["data"]["kind"], "comment", "{body}");
    assert_eq!(
        body["message"]["data"]["url"],
        format!("/tickets/{ticket_id}"),
        "{body}"
    );
    // Thin: the comment's words never travel through Google.
    assert!(!body.to_string().contains("secret"), "{body}");
    app.stop().await;
}

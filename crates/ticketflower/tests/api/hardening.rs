//! What an attack on the landed desk broke, each finding reproduced against the real server
//! (on SQLite, and on PostgreSQL with `TEST_DATABASE_URL`): memory amplification through
//! ticket data, U+0000 in any input, slow clients, the API driven by the page cookie, internal
//! notes found by search, unthrottled anonymous endpoints, look-alike emails, bad filters and
//! a bundle check that ignored its workflow.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{TestApp, json, spawn_app, spawn_app_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{PASSWORD, form_token, login, signup};
use crate::tickets::{call, desk, review_data, task_of};

/// The names of the fields a problem document's `errors` lists.
fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn ticket_data_is_bounded_and_holds_only_declared_fields() {
    let d = desk().await;
    let submit = |data: Value| {
        call(
            &d.app,
            Method::POST,
            "/api/v1/tickets",
            &d.requester,
            Some(json!({ "ticket_type_id": d.type_id, "data": data })),
        )
    };

    // An undeclared field is refused by name, however small.
    let mut data = review_data();
    data["extra"] = json!("x");
    let (status, problem) = submit(data).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["data/extra"], "{problem}");

    // The attack: 100,000 tiny objects in one 1.4 MB body never reach a parser.
    let mut data = review_data();
    data["blob"] = Value::Array((0..100_000).map(|i| json!({ "k": i })).collect());
    let (status, problem) = submit(data).await;
    assert_eq!(status, 413, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("max_json_nodes"),
        "{problem}"
    );

    // A company sets its own bound; data over it is refused naming the limit.
    let (status, problem) = call(
        &d.app,
        Method::PATCH,
        "/api/v1/company",
        &d.admin,
        Some(json!({ "ticket_data_max_nodes": 5 })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["ticket_data_max_nodes"]);
    let (status, problem) = call(
        &d.app,
        Method::PATCH,
        "/api/v1/company",
        &d.requester,
        Some(json!({ "ticket_data_max_bytes": 2048 })),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    let (status, company) = call(
        &d.app,
        Method::PATCH,
        "/api/v1/company",
        &d.admin,
        Some(json!({ "ticket_data_max_bytes": 2048 })),
    )
    .await;
    assert_eq!(status, 200, "{company}");
    assert_eq!(company["data_limits"]["max_bytes"], 2048);
    let mut data = review_data();
    data["summary"] = json!("z".repeat(3000));
    let (status, problem) = submit(data).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["data"]);
    assert!(
        problem.to_string().contains("2048 (ticket_data_max_bytes)"),
        "{problem}"
    );

    // Within bounds it is accepted, and the submission's event names the fields instead
    // of copying the data.
    let (status, ticket) = submit(review_data()).await;
    assert_eq!(status, 201, "{ticket}");
    let id = ticket["id"].as_str().unwrap();
    let (_, timeline) = call(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets/{id}/timeline"),
        &d.requester,
        None,
    )
    .await;
    let submitted = &timeline["items"][0];
    assert_eq!(submitted["kind"], "ticket.submitted", "{timeline}");
    assert!(submitted["payload"].get("data").is_none(), "{submitted}");
    assert_eq!(
        submitted["payload"]["fields"],
        json!(["document_url", "summary"])
    );

    // A person's task output is held to the same rules.
    let review = task_of(&d.app, &d.reviewer, id, "review").await;
    let path = format!("/api/v1/tasks/{}/complete", review["id"].as_str().unwrap());
    let (status, problem) = call(
        &d.app,
        Method::POST,
        &path,
        &d.reviewer,
        Some(json!({ "output": { "decision": "accept", "bonus": 1 } })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["output/bonus"]);
    let (status, problem) = call(
        &d.app,
        Method::POST,
        &path,
        &d.reviewer,
        Some(json!({ "output": { "decision": "accept", "review_comments": "y".repeat(3000) } })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["output"]);
    let (status, task) = call(
        &d.app,
        Method::POST,
        &path,
        &d.reviewer,
        Some(json!({ "output": { "decision": "accept" } })),
    )
    .await;
    assert_eq!(status, 200, "{task}");
    d.app.stop().await;
}

/// Sends one request and returns its status, content type and body.
async fn answer(request: reqwest::RequestBuilder) -> (u16, String, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

#[tokio::test]
async fn u0000_is_refused_in_every_kind_of_input_naming_the_field() {
    let d = desk().await;
    let app = &d.app;
    let ticket = d.submit_review().await;
    let comments = format!(
        "/api/v1/tickets/{}/comments",
        ticket["id"].as_str().unwrap()
    );
    let post = |path: &str, token: Option<&str>, body: Value| {
        let request = app.client.post(app.url(path)).json(&body);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "platform",
            post(
                "/api/v1/auth/login",
                None,
                json!({ "email": "ada@acme.io", "password": PASSWORD, "platform": "web\u{0}" }),
            ),
        ),
        (
            "company_name",
            post(
                "/api/v1/signup",
                None,
                json!({ "company_name": "Ev\u{0}il", "admin_email": "e@evil.io",
                        "admin_password": PASSWORD, "admin_first_name": "E", "admin_last_name": "V" }),
            ),
        ),
        (
            "email",
            post(
                "/api/v1/auth/password-reset",
                None,
                json!({ "email": "ada\u{0}@acme.io" }),
            ),
        ),
        (
            "token",
            post(
                "/api/v1/auth/password-reset/confirm",
                None,
                json!({ "token": "tfp_\u{0}", "new_password": "a long new passphrase" }),
            ),
        ),
        (
            "first_name",
            app.client
                .patch(app.url("/api/v1/me"))
                .bearer_auth(&d.requester)
                .json(&json!({ "first_name": "R\u{0}ita" })),
        ),
        (
            "body",
            post(&comments, Some(&d.requester), json!({ "body": "hi\u{0}" })),
        ),
        (
            "data/sum\\u0000mary",
            post(
                "/api/v1/tickets",
                Some(&d.requester),
                json!({ "ticket_type_id": d.type_id, "data": { "sum\u{0}mary": "x" } }),
            ),
        ),
        (
            "data/summary",
            post(
                "/api/v1/tickets",
                Some(&d.requester),
                json!({ "ticket_type_id": d.type_id,
                        "data": { "document_url": "https://x.example", "summary": "a\u{0}b" } }),
            ),
        ),
        (
            "q",
            app.client
                .get(app.url("/api/v1/tickets?q=a%00b"))
                .bearer_auth(&d.admin),
        ),
        (
            "field.summary\\u0000",
            app.client
                .get(app.url("/api/v1/tickets?field.summary%00=1"))
                .bearer_auth(&d.admin),
        ),
        (
            "data",
            app.client
                .post(app.url("/api/v1/tickets"))
                .bearer_auth(&d.requester)
                .multipart(
                    reqwest::multipart::Form::new()
                        .text("ticket_type_id", d.type_id.clone())
                        .text("data", "{\"summary\": \"a\u{0}\"}"),
                ),
        ),
    ];
    for (field, request) in cases {
        let (status, kind, body) = answer(request).await;
        assert_eq!(status, 422, "{field}: {body}");
        assert!(
            kind.starts_with("application/problem+json"),
            "{field}: {kind}"
        );
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(fields(&problem), [field], "{body}");
    }
    // A page gets a page.
    let (status, kind, body) = answer(
        app.client
            .post(app.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("csrf_token=x&email=ada%00%40acme.io&password=x"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(body.contains("U+0000"), "{body}");
    d.app.stop().await;
}

#[tokio::test]
async fn every_login_attempt_counts_and_a_lock_adds_no_rows() {
    let app = spawn_app().await;
    let ada = signup(&app, "Acme", "ada@acme.io").await;
    // A refused input never reaches the password check, so it cannot be used to guess.
    let response = app
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": "ada@acme.io", "password": PASSWORD, "platform": "web\u{0}" }),
        )
        .await;
    assert_eq!(response.status(), 422);
    for _ in 0..5 {
        assert_eq!(
            login(&app, "ada@acme.io", "wrong guess").await.status(),
            401
        );
    }
    // The right password no longer helps, and the locked attempts are counted, not stored.
    for _ in 0..3 {
        let locked = login(&app, "ada@acme.io", PASSWORD).await;
        assert_eq!(locked.status(), 429);
        assert!(locked.headers().contains_key("retry-after"));
    }
    let (_, metrics) = app.scrape().await;
    let throttled: f64 = metrics
        .lines()
        .find(|l| l.starts_with("login_attempts_throttled_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no throttle counter in {metrics}"));
    assert!(throttled >= 3.0, "{throttled}");
    // Ada's own login history holds the five checked passwords, and no row per lock.
    let history = app
        .api()
        .as_user(&ada.access)
        .my_logins("")
        .await
        .expect(200);
    let failures = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|login| login["success"] == false)
        .count();
    assert_eq!(failures, 5, "{history}");
    app.stop().await;
}

#[tokio::test]
async fn anonymous_endpoints_are_throttled_per_address() {
    let app = spawn_app_with(|settings, jobs| {
        settings.signup_per_ip_hour = 2;
        settings.register_per_ip_hour = 2;
        settings.password_reset_per_ip_hour = 2;
        jobs
    })
    .await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    signup(&app, "Beta", "bea@beta.io").await;
    let third = app
        .post_json(
            "/api/v1/signup",
            &json!({ "company_name": "Gamma", "admin_email": "gil@gamma.io",
                     "admin_password": PASSWORD, "admin_first_name": "G", "admin_last_name": "G" }),
        )
        .await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));

    let company = json(app.get_authed("/api/v1/company", &admin.access).await).await;
    let code = company["invite_code"].as_str().unwrap();
    for (n, expected) in [(1, 202), (2, 202), (3, 429)] {
        let response = app
            .post_json(
                "/api/v1/register",
                &json!({ "company_invite_code": code, "email": format!("r{n}@acme.io"),
                         "password": PASSWORD, "first_name": "R", "last_name": "R" }),
            )
            .await;
        assert_eq!(response.status(), expected);
    }

    for expected in [202, 202, 429] {
        let response = app
            .post_json(
                "/api/v1/auth/password-reset",
                &json!({ "email": "ada@acme.io" }),
            )
            .await;
        assert_eq!(response.status(), expected);
    }
    // The confirmation has its own allowance, and a wrong token is refused before any hashing.
    for expected in [422, 422, 429] {
        let response = app
            .post_json(
                "/api/v1/auth/password-reset/confirm",
                &json!({ "token": "tfp_guess", "new_password": "short" }),
            )
            .await;
        assert_eq!(response.status(), expected);
        if expected == 422 {
            let problem = json(response).await;
            assert_eq!(fields(&problem), ["token"], "{problem}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_cannot_exhaust_connections() {
    let app = spawn_app_with(|settings, jobs| {
        settings.header_timeout_secs = 1;
        settings.body_timeout_secs = 1;
        settings.max_connections = 8;
        jobs
    })
    .await;
    // A request head that never ends: the server closes the connection.
    let mut slow = TcpStream::connect(app.address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buffer))
        .await
        .expect("a half-sent request head kept its connection open")
        .ok();

    // A body that stops: 408.
    let mut stalled = TcpStream::connect(app.address).await.unwrap();
    stalled
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\"",
        )
        .await
        .unwrap();
    let mut head = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), stalled.read(&mut head))
        .await
        .expect("a stalled body was waited for without end")
        .unwrap();
    let head = String::from_utf8_lossy(&head[..read]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");

    drop((slow, stalled));
    // Slow-loris: the connections over the cap are closed at once, and once the slow ones
    // time out the server answers again.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = TcpStream::connect(app.address).await.unwrap();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_millis(500), over.read_to_end(&mut buffer))
        .await
        .is_ok();
    assert!(closed, "a connection over the cap was kept");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    drop(held);
    app.stop().await;
}

/// The page cookie alone cannot drive the API, a cross-site change is refused, and a page
/// form's token is bound to the session it was issued for.
#[tokio::test]
async fn the_api_and_the_pages_refuse_cross_site_requests() {
    let d = desk().await;
    let app = &d.app;
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = format!("tf_access={}", d.admin);
    // Changes need the bearer header; the cookie is for the pages' links (GET).
    let (status, _, body) = answer(
        no_redirect
            .post(app.url("/api/v1/company/invite-code"))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, _, _) = answer(
        no_redirect
            .get(app.url("/api/v1/company"))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(status, 200);
    // A browser's cross-site request is refused even with a token.
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let (status, _, body) = answer(
            no_redirect
                .post(app.url("/api/v1/company/invite-code"))
                .bearer_auth(&d.admin)
                .header(header, value),
        )
        .await;
        assert_eq!(status, 403, "{header}: {value}: {body}");
    }
    let own_origin = format!("http://{}", app.address);
    let (status, _, body) = answer(
        no_redirect
            .post(app.url("/api/v1/company/invite-code"))
            .bearer_auth(&d.admin)
            .header("origin", &own_origin),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Pages: an attacker's own cookie and field pair is refused; so is a token of another
    // session; the page's own token works.
    let nonce = "n".repeat(43);
    let cookies = format!("tf_access={}; tf_csrf={nonce}", d.admin);
    let post_code = |cookies: String, token: String| {
        no_redirect
            .post(app.url("/admin/invite-code"))
            .header("cookie", cookies)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf_token={token}"))
    };
    let (status, _, _) = answer(post_code(cookies.clone(), nonce.clone())).await;
    assert_eq!(status, 403);
    let other = login(app, "rob@acme.io", PASSWORD).await;
    let other = json(other).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_page = no_redirect
        .get(app.url("/dashboard"))
        .header("cookie", format!("tf_access={other}; tf_csrf={nonce}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (status, _, _) = answer(post_code(cookies.clone(), form_token(&other_page))).await;
    assert_eq!(status, 403);
    let own_page = no_redirect
        .get(app.url("/admin/users"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (status, _, body) = answer(post_code(cookies.clone(), form_token(&own_page))).await;
    assert_eq!(status, 303, "{body}");
    d.app.stop().await;
}

#[tokio::test]
async fn over_https_the_cookies_are_host_cookies() {
    let app = spawn_app_with(|settings, jobs| {
        settings.public_url = Some("https://desk.example".into());
        jobs
    })
    .await;
    let response = app.get("/login").await;
    let set: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(!set.is_empty());
    assert!(set.iter().all(|c| c.starts_with("__Host-tf_")), "{set:?}");
    assert!(
        set.iter()
            .all(|c| c.contains("Secure") && c.contains("Path=/"))
    );
    // A plain-named cookie (which a neighbouring host could plant) is ignored.
    let html = response.text().await.unwrap();
    let token = form_token(&html);
    let nonce = set[0]
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let post = |cookie: String| {
        app.client
            .post(app.url("/login"))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf_token={token}&email=nobody%40acme.io&password=x"
            ))
    };
    let (status, _, _) = answer(post(format!("tf_csrf={nonce}"))).await;
    assert_eq!(status, 403);
    let (status, _, _) = answer(post(format!("__Host-tf_csrf={nonce}"))).await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn search_finds_internal_notes_only_for_the_team() {
    let d = desk().await;
    let ticket = d.submit_review().await;
    let id = ticket["id"].as_str().unwrap();
    let (status, _) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/tickets/{id}/comments"),
        &d.admin,
        Some(json!({ "body": "escalate quietly to legal", "internal": true })),
    )
    .await;
    assert_eq!(status, 201);
    let found = |token: String, q: &'static str| {
        let app = &d.app;
        async move {
            let (_, page) = call(
                app,
                Method::GET,
                &format!("/api/v1/tickets?q={q}"),
                &token,
                None,
            )
            .await;
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(found(d.requester.clone(), "legal").await, 0);
    assert_eq!(found(d.requester.clone(), "zeppelin").await, 1);
    assert_eq!(found(d.admin.clone(), "legal").await, 1);
    assert_eq!(found(d.admin.clone(), "zeppelin").await, 1);
    d.app.stop().await;
}

#[tokio::test]
async fn look_alike_emails_bad_filters_and_foreign_bundle_targets_are_refused() {
    let d = desk().await;
    let app: &TestApp = &d.app;
    for email in [
        "z\u{200b}ed@acme.io",
        "ada@ac\u{202e}me.io",
        "p\u{0430}ypal@acme.io",
    ] {
        let response = app
            .post_json(
                "/api/v1/signup",
                &json!({ "company_name": "Look", "admin_email": email,
                         "admin_password": PASSWORD, "admin_first_name": "L", "admin_last_name": "A" }),
            )
            .await;
        assert_eq!(response.status(), 422, "{email:?}");
        assert_eq!(fields(&json(response).await), ["admin_email"]);
    }

    let (status, problem) = call(
        app,
        Method::GET,
        "/api/v1/tickets?field.a%5Cb=1",
        &d.admin,
        None,
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["field.a\\b"]);
    let many: Vec<String> = (0..1000).map(|i| format!("field.f{i}=1")).collect();
    let (status, problem) = call(
        app,
        Method::GET,
        &format!("/api/v1/tickets?{}", many.join("&")),
        &d.admin,
        None,
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["field"]);

    let bundle = include_str!("../../../../examples/bundles/document-review.yaml");
    let response = app
        .client
        .post(app.url(&format!(
            "/api/v1/design/bundles?dry_run=true&workflow_id={}",
            uuid::Uuid::now_v7()
        )))
        .bearer_auth(&d.admin)
        .header("content-type", "application/yaml")
        .body(bundle)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(fields(&json(response).await), ["workflow_id"]);
    d.app.stop().await;
}

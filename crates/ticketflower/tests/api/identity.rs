//! Identity rules: sign-up, login, throttling, tokens, sessions, profile, password reset,
//! registration, user and role administration, API tokens and platform staff.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{TestApp, json, spawn_app, spawn_app_with};

use crate::common::{PASSWORD, create_user, login, login_ok, send, signup, staff_token};

async fn status_of(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> u16 {
    send(app, method, path, token, body).await.status().as_u16()
}

/// The company's event kinds once all of `expected` are visible. (On PostgreSQL the
/// reader holds events back while any older transaction on the server is still open.)
/// Read from the store: no endpoint lists a company's events.
async fn event_kinds(app: &TestApp, company: &str, expected: &[&str]) -> Vec<String> {
    let company = domain::CompanyId(company.parse().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = store::events::read_after(
            app.app.db(),
            &store::events::Scope::Company(company),
            0,
            1000,
        )
        .await
        .unwrap();
        let kinds: Vec<String> = events.into_iter().map(|e| e.kind).collect();
        let complete = expected.iter().all(|k| kinds.iter().any(|have| have == k));
        if complete || std::time::Instant::now() > deadline {
            for kind in expected {
                assert!(
                    kinds.iter().any(|have| have == kind),
                    "{kind} missing from {kinds:?}"
                );
            }
            return kinds;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn signup_creates_company_admin_and_default_role() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/signup",
            &json!({ "company_name": "Acme", "admin_email": " Ada@Acme.io ", "admin_password": PASSWORD,
                     "admin_first_name": "Ada", "admin_last_name": "Lovelace" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["user"]["email"], "ada@acme.io");
    assert_eq!(body["user"]["system_roles"], json!(["admin", "user"]));
    assert_eq!(body["company"]["name"], "Acme");
    let token = body["access_token"].as_str().unwrap();
    let me = json(app.get_authed("/api/v1/me", token).await).await;
    assert_eq!(me["company_roles"], json!(["user"]));

    let duplicate = app
        .post_json(
            "/api/v1/signup",
            &json!({ "company_name": "Other", "admin_email": "ADA@acme.io", "admin_password": PASSWORD,
                     "admin_first_name": "A", "admin_last_name": "B" }),
        )
        .await;
    assert_eq!(duplicate.status(), 409);
    assert_eq!(json(duplicate).await["errors"][0]["field"], "admin_email");

    for weak in ["short", "password123"] {
        let response = app
            .post_json(
                "/api/v1/signup",
                &json!({ "company_name": "Weak", "admin_email": "w@acme.io", "admin_password": weak,
                         "admin_first_name": "A", "admin_last_name": "B" }),
            )
            .await;
        assert_eq!(response.status(), 422, "{weak}");
        assert_eq!(json(response).await["errors"][0]["field"], "admin_password");
    }
    event_kinds(
        &app,
        body["company"]["id"].as_str().unwrap(),
        &["company.created", "user.created"],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn login_is_case_insensitive_generic_on_failure_and_logged() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let ok = login_ok(&app, "  ADA@acme.IO ", PASSWORD).await;
    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 900);
    assert_eq!(ok["user"]["email"], "ada@acme.io");

    let unknown = login(&app, "nobody@acme.io", PASSWORD).await;
    let wrong = login(&app, "ada@acme.io", "not the password").await;
    assert_eq!(unknown.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(json(unknown).await, json(wrong).await);

    let logins = json(app.get_authed("/api/v1/me/logins", &admin.access).await).await;
    let items = logins["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|e| e["success"] == true && e["platform"] == "tests")
    );
    let failure = items.iter().find(|e| e["success"] == false).unwrap();
    assert_eq!(failure["failure_reason"], "wrong_password");
    assert_eq!(failure["ip"], "127.0.0.1");
    event_kinds(&app, &admin.company_id, &["user.logged_in"]).await;
    app.stop().await;
}

#[tokio::test]
async fn account_throttle_locks_after_five_failures_and_expires() {
    let app = spawn_app_with(|settings, jobs| {
        settings.login_account_window_secs = 2;
        jobs
    })
    .await;
    signup(&app, "Acme", "ada@acme.io").await;
    for _ in 0..5 {
        assert_eq!(
            login(&app, "ada@acme.io", "wrong password!").await.status(),
            401
        );
    }
    let locked = login(&app, "ada@acme.io", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(login(&app, "ada@acme.io", PASSWORD).await.status(), 200);

    // A success resets the count: four more failures do not lock.
    for _ in 0..4 {
        assert_eq!(
            login(&app, "ada@acme.io", "wrong password!").await.status(),
            401
        );
    }
    assert_eq!(login(&app, "ada@acme.io", PASSWORD).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn ip_throttle_blocks_many_failures_across_accounts() {
    let app = spawn_app_with(|settings, jobs| {
        settings.login_ip_max_failures = 6;
        jobs
    })
    .await;
    signup(&app, "Acme", "ada@acme.io").await;
    for n in 0..6 {
        let status = login(&app, &format!("guess{n}@acme.io"), "whatever pw")
            .await
            .status();
        assert_eq!(status, 401);
    }
    assert_eq!(login(&app, "ada@acme.io", PASSWORD).await.status(), 429);
    app.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let first = json(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": admin.refresh }),
        )
        .await,
    )
    .await;
    let second_refresh = first["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, admin.refresh);
    let new_access = first["access_token"].as_str().unwrap();
    assert_eq!(app.get_authed("/api/v1/me", new_access).await.status(), 200);

    // Replaying the used token: refused, and the whole session dies with it.
    let replay = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": admin.refresh }),
        )
        .await;
    assert_eq!(replay.status(), 401);
    let after = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": second_refresh }),
        )
        .await;
    assert_eq!(after.status(), 401);
    assert_eq!(app.get_authed("/api/v1/me", new_access).await.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_refresh_and_access_tokens() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let other = login_ok(&app, "ada@acme.io", PASSWORD).await;
    let response = app
        .post_json(
            "/api/v1/auth/logout",
            &json!({ "refresh_token": admin.refresh }),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.get_authed("/api/v1/me", &admin.access).await.status(),
        401
    );
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": admin.refresh }),
        )
        .await;
    assert_eq!(refresh.status(), 401);
    // Another session of the same user is untouched; logging it out by access token works.
    let other_access = other["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_authed("/api/v1/me", other_access).await.status(),
        200
    );
    let by_access = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(other_access)
        .send()
        .await
        .unwrap();
    assert_eq!(by_access.status(), 204);
    assert_eq!(
        app.get_authed("/api/v1/me", other_access).await.status(),
        401
    );
    app.stop().await;
}

fn forge(app: &TestApp, claims: &Value, alg: jsonwebtoken::Algorithm, key: &[u8]) -> String {
    let header = jsonwebtoken::Header::new(alg);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap_or_else(|_| {
        let _ = app;
        String::new()
    })
}

#[tokio::test]
async fn forged_expired_and_misdirected_tokens_are_401() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let verified = json(
        app.post_json("/api/v1/auth/verify", &json!({ "token": admin.access }))
            .await,
    )
    .await;
    assert_eq!(verified["valid"], true);
    let claims = verified["claims"].clone();
    assert_eq!(claims["iss"], "ticketflower");
    assert_eq!(claims["aud"], "ticketflower-api");
    assert_eq!(claims["roles"], json!(["admin", "user"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let key = app.app.secrets().jwt_key().to_vec();

    let mut bad = Vec::new();
    let parts: Vec<&str> = admin.access.split('.').collect();
    bad.push((
        "alg none",
        format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        ),
    ));
    let mut tampered = claims.clone();
    tampered["roles"] = json!(["superadmin"]);
    bad.push((
        "tampered",
        format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(tampered.to_string()),
            parts[2]
        ),
    ));
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    bad.push((
        "wrong aud",
        forge(&app, &wrong_aud, jsonwebtoken::Algorithm::HS256, &key),
    ));
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("evil");
    bad.push((
        "wrong iss",
        forge(&app, &wrong_iss, jsonwebtoken::Algorithm::HS256, &key),
    ));
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 60);
    bad.push((
        "expired",
        forge(&app, &expired, jsonwebtoken::Algorithm::HS256, &key),
    ));
    bad.push((
        "other alg",
        forge(&app, &claims, jsonwebtoken::Algorithm::HS512, &key),
    ));
    bad.push(("refresh as access", admin.refresh.clone()));
    bad.push(("garbage", "not.a.token".into()));
    for (what, token) in bad {
        assert_eq!(
            app.get_authed("/api/v1/me", &token).await.status(),
            401,
            "{what}"
        );
        let verified = json(
            app.post_json("/api/v1/auth/verify", &json!({ "token": token }))
                .await,
        )
        .await;
        assert_eq!(verified["valid"], false, "{what}");
    }
    assert_eq!(app.get("/api/v1/me").await.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn profile_password_change_and_mass_assignment() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let other = login_ok(&app, "ada@acme.io", PASSWORD).await;
    let patched = send(
        &app,
        Method::PATCH,
        "/api/v1/me",
        &admin.access,
        Some(json!({ "first_name": "Augusta" })),
    )
    .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(json(patched).await["first_name"], "Augusta");
    for smuggled in [
        json!({ "system_roles": ["superadmin"] }),
        json!({ "status": "active" }),
        json!({ "company_id": admin.company_id }),
    ] {
        let response = send(
            &app,
            Method::PATCH,
            "/api/v1/me",
            &admin.access,
            Some(smuggled.clone()),
        )
        .await;
        assert_eq!(response.status(), 422, "{smuggled}");
    }

    let wrong = send(&app, Method::POST, "/api/v1/me/password", &admin.access,
        Some(json!({ "current_password": "nope nope nope", "new_password": "a brand new passphrase" }))).await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(json(wrong).await["errors"][0]["field"], "current_password");
    let changed = send(
        &app,
        Method::POST,
        "/api/v1/me/password",
        &admin.access,
        Some(json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" })),
    )
    .await;
    assert_eq!(changed.status(), 204);
    assert_eq!(
        app.get_authed("/api/v1/me", &admin.access).await.status(),
        200
    );
    let other_access = other["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_authed("/api/v1/me", other_access).await.status(),
        401
    );
    assert_eq!(login(&app, "ada@acme.io", PASSWORD).await.status(), 401);
    login_ok(&app, "ada@acme.io", "a brand new passphrase").await;
    app.stop().await;
}

#[tokio::test]
async fn password_reset_by_mail_is_single_use() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let unknown = app
        .post_json(
            "/api/v1/auth/password-reset",
            &json!({ "email": "ghost@acme.io" }),
        )
        .await;
    assert_eq!(unknown.status(), 202);
    let known = app
        .post_json(
            "/api/v1/auth/password-reset",
            &json!({ "email": "ADA@acme.io" }),
        )
        .await;
    assert_eq!(known.status(), 202);
    // Read from the store: no endpoint shows the outbox.
    assert!(
        store::mail::to_address(app.app.db(), "ghost@acme.io")
            .await
            .unwrap()
            .is_empty()
    );
    // The request only queues the look-up (equal work for known and unknown addresses);
    // a job writes the mail.
    let mail = crate::common::wait_for_mail(&app, "ada@acme.io").await;
    assert_eq!(mail.len(), 1);
    let token = mail[0]
        .body
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    // The mail job delivers (logs) it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store::mail::get(app.app.db(), mail[0].id)
        .await
        .unwrap()
        .status
        != "logged"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "mail was never delivered"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let confirm = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({ "token": token, "new_password": "reset passphrase 42" }),
        )
        .await;
    assert_eq!(confirm.status(), 204);
    assert_eq!(
        app.get_authed("/api/v1/me", &admin.access).await.status(),
        401
    );
    login_ok(&app, "ada@acme.io", "reset passphrase 42").await;
    let again = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({ "token": token, "new_password": "another passphrase 9" }),
        )
        .await;
    assert_eq!(again.status(), 422);
    assert_eq!(json(again).await["errors"][0]["field"], "token");
    app.stop().await;
}

#[tokio::test]
async fn registration_with_invite_code_waits_for_approval() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let company = json(app.get_authed("/api/v1/company", &admin.access).await).await;
    let code = company["invite_code"].as_str().unwrap().to_owned();
    let bad = app
        .post_json(
            "/api/v1/register",
            &json!({ "company_invite_code": "nope", "email": "bob@acme.io",
        "password": PASSWORD, "first_name": "Bob", "last_name": "B" }),
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(json(bad).await["errors"][0]["field"], "company_invite_code");
    let registered = app
        .post_json(
            "/api/v1/register",
            &json!({ "company_invite_code": code, "email": "bob@acme.io",
        "password": PASSWORD, "first_name": "Bob", "last_name": "B" }),
        )
        .await;
    assert_eq!(registered.status(), 202);
    let bob = json(registered).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = login(&app, "bob@acme.io", PASSWORD).await;
    assert_eq!(pending.status(), 403);
    assert!(
        json(pending).await["detail"]
            .as_str()
            .unwrap()
            .contains("approval")
    );

    let listed = json(
        app.get_authed("/api/v1/users?status=pending", &admin.access)
            .await,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let approved = send(
        &app,
        Method::POST,
        &format!("/api/v1/users/{bob}/approve"),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(approved.status(), 200);
    login_ok(&app, "bob@acme.io", PASSWORD).await;

    let rotated = json(
        send(
            &app,
            Method::POST,
            "/api/v1/company/invite-code",
            &admin.access,
            None,
        )
        .await,
    )
    .await;
    assert_ne!(rotated["invite_code"], code);
    let stale = app
        .post_json(
            "/api/v1/register",
            &json!({ "company_invite_code": code, "email": "eve@acme.io",
        "password": PASSWORD, "first_name": "Eve", "last_name": "E" }),
        )
        .await;
    assert_eq!(stale.status(), 422);
    app.stop().await;
}

#[tokio::test]
async fn role_levels_own_roles_and_the_last_admin_are_protected() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let worker = create_user(&app, &admin.access, "wes@acme.io", &["task_worker"]).await;

    let grant_super = send(
        &app,
        Method::PUT,
        &format!("/api/v1/users/{worker}/roles"),
        &admin.access,
        Some(json!({ "system_roles": ["superadmin"] })),
    )
    .await;
    assert_eq!(grant_super.status(), 422);
    let own = send(
        &app,
        Method::PUT,
        &format!("/api/v1/users/{}/roles", admin.user_id),
        &admin.access,
        Some(json!({ "system_roles": ["user"] })),
    )
    .await;
    assert_eq!(own.status(), 403);
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            &format!("/api/v1/users/{}/block", admin.user_id),
            &admin.access,
            None
        )
        .await,
        403
    );

    // A second admin cannot demote or block the last active admin once it is alone.
    let second = create_user(&app, &admin.access, "sam@acme.io", &["admin"]).await;
    let sam = login_ok(&app, "sam@acme.io", PASSWORD).await;
    let sam_token = sam["access_token"].as_str().unwrap();
    let demote = send(
        &app,
        Method::PUT,
        &format!("/api/v1/users/{}/roles", admin.user_id),
        sam_token,
        Some(json!({ "system_roles": ["user"] })),
    )
    .await;
    assert_eq!(demote.status(), 200);
    let block_last = send(
        &app,
        Method::POST,
        &format!("/api/v1/users/{second}/block"),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(
        block_last.status(),
        403,
        "a demoted admin is no longer an admin"
    );
    // Ada is now a plain user: no admin endpoints.
    assert_eq!(
        status_of(&app, Method::GET, "/api/v1/users", &admin.access, None).await,
        403
    );
    let worker_token = login_ok(&app, "wes@acme.io", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        status_of(&app, Method::GET, "/api/v1/users", &worker_token, None).await,
        403
    );
    let delete_self_admin = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/users/{second}"),
        sam_token,
        None,
    )
    .await;
    assert_eq!(delete_self_admin.status(), 403);
    let grant = send(
        &app,
        Method::PUT,
        &format!("/api/v1/users/{worker}/roles"),
        sam_token,
        Some(json!({ "system_roles": ["ticket_admin", "no_such_role"] })),
    )
    .await;
    assert_eq!(grant.status(), 422);
    let promote = send(
        &app,
        Method::PUT,
        &format!("/api/v1/users/{worker}/roles"),
        sam_token,
        Some(json!({ "system_roles": ["ticket_admin"], "company_roles": [] })),
    )
    .await;
    assert_eq!(promote.status(), 200);
    assert_eq!(
        json(promote).await["system_roles"],
        json!(["ticket_admin", "user"])
    );
    let blocked = send(
        &app,
        Method::POST,
        &format!("/api/v1/users/{worker}/block"),
        sam_token,
        None,
    )
    .await;
    assert_eq!(blocked.status(), 200);
    assert_eq!(login(&app, "wes@acme.io", PASSWORD).await.status(), 403);
    assert_eq!(
        app.get_authed("/api/v1/me", &worker_token).await.status(),
        401
    );
    event_kinds(
        &app,
        &admin.company_id,
        &["user.roles_changed", "user.blocked", "user.created"],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn last_active_admin_cannot_be_blocked_demoted_or_deleted() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    // Platform staff impersonating act as an admin who is not the target themselves.
    let staff = staff_token(&app).await;
    let imp = json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/admin/companies/{}/impersonate", admin.company_id),
            &staff,
            None,
        )
        .await,
    )
    .await;
    let imp = imp["access_token"].as_str().unwrap().to_owned();
    let ada = &admin.user_id;
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            &format!("/api/v1/users/{ada}/block"),
            &imp,
            None
        )
        .await,
        409
    );
    assert_eq!(
        status_of(
            &app,
            Method::PUT,
            &format!("/api/v1/users/{ada}/roles"),
            &imp,
            Some(json!({ "system_roles": ["user"] }))
        )
        .await,
        409
    );
    assert_eq!(
        status_of(
            &app,
            Method::DELETE,
            &format!("/api/v1/users/{ada}"),
            &imp,
            None
        )
        .await,
        409
    );
    let bob = create_user(&app, &imp, "bob@acme.io", &["admin"]).await;
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            &format!("/api/v1/users/{ada}/block"),
            &imp,
            None
        )
        .await,
        200
    );
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            &format!("/api/v1/users/{bob}/block"),
            &imp,
            None
        )
        .await,
        409
    );
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            &format!("/api/v1/users/{ada}/unblock"),
            &imp,
            None
        )
        .await,
        200
    );
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            &format!("/api/v1/users/{bob}/block"),
            &imp,
            None
        )
        .await,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn company_roles_are_unique_and_the_default_stays() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let created = send(
        &app,
        Method::POST,
        "/api/v1/company-roles",
        &admin.access,
        Some(json!({ "name": "IT staff", "description": "Handles hardware" })),
    )
    .await;
    assert_eq!(created.status(), 201);
    let role = json(created).await;
    let duplicate = send(
        &app,
        Method::POST,
        "/api/v1/company-roles",
        &admin.access,
        Some(json!({ "name": "IT staff" })),
    )
    .await;
    assert_eq!(duplicate.status(), 409);
    assert_eq!(json(duplicate).await["errors"][0]["field"], "name");
    let empty = send(
        &app,
        Method::POST,
        "/api/v1/company-roles",
        &admin.access,
        Some(json!({ "name": " " })),
    )
    .await;
    assert_eq!(empty.status(), 422);
    let roles = json(app.get_authed("/api/v1/company-roles", &admin.access).await).await;
    let default = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["is_default"] == true)
        .unwrap()
        .clone();
    assert_eq!(default["name"], "user");
    let delete_default = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/company-roles/{}", default["id"].as_str().unwrap()),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(delete_default.status(), 409);
    let worker = create_user(&app, &admin.access, "wes@acme.io", &[]).await;
    let assigned = send(
        &app,
        Method::PUT,
        &format!("/api/v1/users/{worker}/roles"),
        &admin.access,
        Some(json!({ "system_roles": ["task_worker"], "company_roles": ["IT staff"] })),
    )
    .await;
    assert_eq!(assigned.status(), 200);
    assert_eq!(
        json(assigned).await["company_roles"],
        json!(["IT staff", "user"])
    );
    let id = role["id"].as_str().unwrap();
    let renamed = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/company-roles/{id}"),
        &admin.access,
        Some(json!({ "name": "IT" })),
    )
    .await;
    assert_eq!(json(renamed).await["name"], "IT");
    assert_eq!(
        status_of(
            &app,
            Method::DELETE,
            &format!("/api/v1/company-roles/{id}"),
            &admin.access,
            None
        )
        .await,
        204
    );
    assert_eq!(
        status_of(
            &app,
            Method::GET,
            &format!("/api/v1/company-roles/{id}"),
            &admin.access,
            None
        )
        .await,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn api_tokens_act_as_service_users_until_revoked() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let issued = send(
        &app,
        Method::POST,
        "/api/v1/api-tokens",
        &admin.access,
        Some(json!({ "name": "CRM sync", "roles": ["ticket_admin"] })),
    )
    .await;
    assert_eq!(issued.status(), 201);
    let issued = json(issued).await;
    let secret = issued["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tfk_"));
    let too_high = send(
        &app,
        Method::POST,
        "/api/v1/api-tokens",
        &admin.access,
        Some(json!({ "name": "root", "roles": ["superadmin"] })),
    )
    .await;
    assert_eq!(too_high.status(), 422);

    let me = json(app.get_authed("/api/v1/me", &secret).await).await;
    assert_eq!(me["system_roles"], json!(["ticket_admin", "user"]));
    assert_eq!(
        status_of(&app, Method::GET, "/api/v1/users", &secret, None).await,
        403
    );
    let list = app
        .get_authed("/api/v1/api-tokens", &admin.access)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !list.contains(&secret) && list.contains("CRM sync"),
        "{list}"
    );
    let users = json(app.get_authed("/api/v1/users", &admin.access).await).await;
    assert_eq!(
        users["items"].as_array().unwrap().len(),
        1,
        "service users are not listed"
    );
    let id = issued["id"].as_str().unwrap();
    assert_eq!(
        status_of(
            &app,
            Method::DELETE,
            &format!("/api/v1/api-tokens/{id}"),
            &admin.access,
            None
        )
        .await,
        204
    );
    assert_eq!(app.get_authed("/api/v1/me", &secret).await.status(), 401);
    event_kinds(
        &app,
        &admin.company_id,
        &["api_token.issued", "api_token.revoked"],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn platform_staff_suspend_and_impersonate() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await;
    let staff = staff_token(&app).await;
    assert_eq!(
        status_of(
            &app,
            Method::GET,
            "/api/v1/admin/companies",
            &admin.access,
            None
        )
        .await,
        403
    );
    let companies = json(app.get_authed("/api/v1/admin/companies", &staff).await).await;
    assert_eq!(companies["items"].as_array().unwrap().len(), 1);
    let token = json(app.post_json("/api/v1/api-tokens", &json!({})).await).await;
    assert_eq!(token["status"], 401);
    let secret = json(
        send(
            &app,
            Method::POST,
            "/api/v1/api-tokens",
            &admin.access,
            Some(json!({ "name": "bot" })),
        )
        .await,
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let company = &admin.company_id;
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            &format!("/api/v1/admin/companies/{company}/suspend"),
            &staff,
            None
        )
        .await,
        200
    );
    assert_eq!(login(&app, "ada@acme.io", PASSWORD).await.status(), 403);
    assert_eq!(
        app.get_authed("/api/v1/me", &admin.access).await.status(),
        401
    );
    assert_eq!(app.get_authed("/api/v1/me", &secret).await.status(), 401);
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            &format!("/api/v1/admin/companies/{company}/reactivate"),
            &staff,
            None
        )
        .await,
        200
    );
    let ada = login_ok(&app, "ada@acme.io", PASSWORD).await;
    assert_eq!(ada["user"]["email"], "ada@acme.io");

    let imp = json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/admin/companies/{company}/impersonate"),
            &staff,
            None,
        )
        .await,
    )
    .await;
    let imp_token = imp["access_token"].as_str().unwrap();
    let me = json(app.get_authed("/api/v1/me", imp_token).await).await;
    assert_eq!(me["company"]["name"], "Acme");
    assert!(me["impersonated_by"].is_string());
    let created = send(
        &app,
        Method::POST,
        "/api/v1/company-roles",
        imp_token,
        Some(json!({ "name": "Made by staff" })),
    )
    .await;
    assert_eq!(created.status(), 201);
    event_kinds(
        &app,
        company,
        &["company_role.created", "company.impersonation_started"],
    )
    .await;
    // Read from the store: no endpoint lists a company's events.
    let events = store::events::read_after(
        app.app.db(),
        &store::events::Scope::Company(domain::CompanyId(company.parse().unwrap())),
        0,
        1000,
    )
    .await
    .unwrap();
    let made = events
        .iter()
        .find(|e| e.kind == "company_role.created")
        .unwrap();
    assert!(
        made.payload["impersonated_by"].is_string(),
        "{:?}",
        made.payload
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == "company.impersonation_started")
    );
    app.stop().await;
}

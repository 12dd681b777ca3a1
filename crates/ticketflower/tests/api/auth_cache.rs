//! Authentication served from memory (`app::identity::cache`): requests after the first
//! read nothing to authenticate, and every change of who may act — a logout, a reused
//! refresh token, a password change or reset, a block, a deletion, a suspension, a revoked
//! API token, lost roles — applies to the very next request, on this server and, through
//! the bus, on another.
//!
//! Each case first has the person's authentication served from memory ([`remembered`]), so
//! what follows is the cache forgetting, not a cache that held nothing.

use std::time::Duration;

use serde_json::json;
use testkit::fixtures::{self, PASSWORD};
use testkit::{ApiClient, TestApp, spawn_app, spawn_app_with};

use crate::stream::{two_nodes, wait_for_bus};

/// Asks `/me` as `who` until `node` answers it from memory, for 2 s at most: a hint from
/// another node about an earlier change (the sign-up of the company, say) may still be on
/// its way and make the node read once more.
async fn remembered(node: &TestApp, who: &ApiClient) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        who.me().await.expect(200);
        let before = node.app.auth_cache().stats();
        who.me().await.expect(200);
        let after = node.app.auth_cache().stats();
        if (after.hits - before.hits, after.loads - before.loads) == (1, 0) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not answered from memory: {before:?} then {after:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Signs `email` in; the client and the session's refresh token.
async fn session(app: &TestApp, email: &str) -> (ApiClient, String) {
    let tokens = app.api().login(email, PASSWORD).await.expect(200);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    (app.api().as_user(access), refresh)
}

/// Issues an API token in the admin's company; its id and a client holding it.
async fn api_token(app: &TestApp, admin: &ApiClient, roles: &[&str]) -> (String, ApiClient) {
    let issued = admin
        .create_api_token(json!({ "name": "bot", "roles": roles }))
        .await
        .expect(201);
    let secret = issued["secret"].as_str().unwrap();
    (
        issued["id"].as_str().unwrap().to_owned(),
        app.api().as_user(secret),
    )
}

#[tokio::test]
async fn authentication_reads_the_database_once_then_serves_from_memory() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let (_, bot) = api_token(&app, &acme.admin, &["ticket_admin"]).await;
    for (name, who) in [("a session", &acme.admin), ("an API token", &bot)] {
        let before = app.app.auth_cache().stats();
        for _ in 0..20 {
            who.tickets("").await.expect(200);
        }
        let after = app.app.auth_cache().stats();
        assert_eq!(
            (after.loads - before.loads, after.hits - before.hits),
            (1, 19),
            "{name}"
        );
    }
    app.stop().await;

    // Turned off, every request reads: the counts above come from the cache.
    let app = spawn_app_with(|settings, jobs| {
        settings.auth_cache_secs = 0;
        jobs
    })
    .await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let before = app.app.auth_cache().stats();
    for _ in 0..5 {
        acme.admin.tickets("").await.expect(200);
    }
    let after = app.app.auth_cache().stats();
    assert_eq!((after.loads - before.loads, after.hits), (5, 0));
    app.stop().await;
}

#[tokio::test]
async fn logging_out_ends_the_session_on_its_next_request() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let (other, _) = session(&app, "ada@acme.io").await;
    remembered(&app, &acme.admin).await;
    remembered(&app, &other).await;
    acme.admin.logout(None).await.expect(204);
    acme.admin.me().await.expect(401);
    other.me().await.expect(200);

    // By its refresh token, as a browser's logout does.
    let (ada, refresh) = session(&app, "ada@acme.io").await;
    remembered(&app, &ada).await;
    app.api().logout(Some(&refresh)).await.expect(204);
    ada.me().await.expect(401);
    other.me().await.expect(200);
    app.stop().await;
}

#[tokio::test]
async fn a_reused_refresh_token_ends_its_session_on_the_next_request() {
    let app = spawn_app().await;
    fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let (first, refresh) = session(&app, "ada@acme.io").await;
    let pair = app.api().refresh(&refresh).await.expect(200);
    let second = app.api().as_user(pair["access_token"].as_str().unwrap());
    remembered(&app, &first).await;
    remembered(&app, &second).await;
    app.api().refresh(&refresh).await.expect(401);
    first.me().await.expect(401);
    second.me().await.expect(401);
    app.stop().await;
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_on_their_next_request() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let (other, _) = session(&app, "ada@acme.io").await;
    remembered(&app, &acme.admin).await;
    remembered(&app, &other).await;
    acme.admin
        .change_password(PASSWORD, "a much newer secret 7")
        .await
        .expect(204);
    other.me().await.expect(401);
    acme.admin.me().await.expect(200);
    app.stop().await;
}

#[tokio::test]
async fn a_password_reset_ends_every_session_on_its_next_request() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    remembered(&app, &acme.admin).await;
    app.api()
        .request_password_reset("ada@acme.io")
        .await
        .expect(202);
    let mail = crate::common::wait_for_mail(&app, "ada@acme.io").await;
    let token = mail[0]
        .body
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    // The reset request (a stranger may send one) leaves the session remembered.
    remembered(&app, &acme.admin).await;
    app.api()
        .confirm_password_reset(&token, "a much newer secret 7")
        .await
        .expect(204);
    acme.admin.me().await.expect(401);
    app.stop().await;
}

#[tokio::test]
async fn blocking_unblocking_and_deleting_apply_on_the_next_request() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let rita = acme
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    remembered(&app, &rita.api).await;
    remembered(&app, &acme.admin).await;
    acme.admin.block_user(&rita.id).await.expect(200);
    rita.api.me().await.expect(401);
    app.api().login("rita@acme.io", PASSWORD).await.expect(403);
    // The admin's own session, in the same company, is read again and still valid.
    acme.admin.me().await.expect(200);
    acme.admin.unblock_user(&rita.id).await.expect(200);
    let rita_again = fixtures::log_in(&app.api(), "rita@acme.io").await;
    remembered(&app, &rita_again).await;

    acme.admin.delete_user(&rita.id).await.expect(204);
    rita_again.me().await.expect(401);
    app.stop().await;
}

#[tokio::test]
async fn a_suspension_applies_to_the_companys_sessions_and_tokens_on_the_next_request() {
    let app = spawn_app().await;
    let staff = fixtures::platform_staff(&app).await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let beta = fixtures::sign_up(&app, "Beta", "bob@beta.io").await;
    let (_, bot) = api_token(&app, &acme.admin, &[]).await;
    remembered(&app, &acme.admin).await;
    remembered(&app, &bot).await;
    remembered(&app, &beta.admin).await;

    staff.suspend_company(&acme.id).await.expect(200);
    acme.admin.me().await.expect(401);
    bot.me().await.expect(401);
    // Another company's people are still served from memory.
    let before = app.app.auth_cache().stats();
    beta.admin.me().await.expect(200);
    let after = app.app.auth_cache().stats();
    assert_eq!(
        (after.hits - before.hits, after.loads - before.loads),
        (1, 0)
    );

    // A suspension ends no session: reactivated, the same tokens work again at once.
    staff.reactivate_company(&acme.id).await.expect(200);
    acme.admin.me().await.expect(200);
    bot.me().await.expect(200);
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_token_and_lost_roles_apply_on_the_next_request() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let (id, bot) = api_token(&app, &acme.admin, &["ticket_admin"]).await;
    remembered(&app, &bot).await;
    acme.admin.revoke_api_token(&id).await.expect(204);
    bot.me().await.expect(401);

    let max = acme.add_member("max@acme.io", "Max", &["admin"], &[]).await;
    max.api.users("").await.expect(200);
    remembered(&app, &max.api).await;
    acme.admin
        .set_roles(&max.id, &["user"], &[])
        .await
        .expect(200);
    max.api.users("").await.expect(403);
    app.stop().await;
}

#[tokio::test]
async fn staff_changing_their_password_while_impersonating_ends_their_own_session() {
    let app = spawn_app().await;
    let staff = fixtures::platform_staff(&app).await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let pair = staff.impersonate(&acme.id).await.expect(200);
    let inside = app.api().as_user(pair["access_token"].as_str().unwrap());
    remembered(&app, &staff).await;
    remembered(&app, &inside).await;
    // The change is recorded in Acme, but the staff member's own session lives outside
    // every company: it must be forgotten too.
    inside
        .change_password(PASSWORD, "a much newer secret 7")
        .await
        .expect(204);
    staff.me().await.expect(401);
    inside.me().await.expect(200);
    app.stop().await;
}

/// Blocks a person on node A whose authentication node B remembers; B refuses them within
/// 2 s (the hint's trip), A at once.
async fn a_block_reaches(a: &TestApp, b: &TestApp) {
    let acme = fixtures::sign_up(a, "Acme", "ada@acme.io").await;
    let rita = acme
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    let rita_on_b = b.api().as_user(rita.api.token().unwrap());
    remembered(b, &rita_on_b).await;
    acme.admin.block_user(&rita.id).await.expect(200);
    rita.api.me().await.expect(401);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let status = rita_on_b.me().await.status.as_u16();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            tokio::time::Instant::now() < deadline,
            "node B still lets a blocked person in after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_block_on_one_node_applies_on_another_over_postgres() {
    if testkit::TestDb::kind_from_env() != testkit::TestDbKind::Postgres {
        eprintln!("the postgres bus needs PostgreSQL: this test runs with TEST_DATABASE_URL");
        return;
    }
    let (a, b) = two_nodes(app::BusKind::Postgres, None).await;
    a_block_reaches(&a, &b).await;
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_block_on_one_node_applies_on_another_over_nats_and_a_deaf_node_reads() {
    let mut nats = testkit::nats::NatsServer::start();
    let (a, b) = two_nodes(app::BusKind::Nats, Some(nats.url())).await;
    a_block_reaches(&a, &b).await;

    // Without its bus, B could not hear A's changes: it reads every time until it is back.
    let bob = fixtures::sign_up(&a, "Beta", "bob@beta.io").await;
    let bob_on_b = b.api().as_user(bob.access_token());
    remembered(&b, &bob_on_b).await;
    nats.kill();
    wait_for_bus(&b, "degraded").await;
    let before = b.app.auth_cache().stats();
    bob_on_b.me().await.expect(200);
    bob_on_b.me().await.expect(200);
    let after = b.app.auth_cache().stats();
    assert_eq!(
        (after.hits - before.hits, after.loads - before.loads),
        (0, 2)
    );
    nats.resume();
    wait_for_bus(&b, "ok").await;
    remembered(&b, &bob_on_b).await;
    b.stop().await;
    a.stop().await;
}

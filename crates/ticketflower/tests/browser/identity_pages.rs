//! The identity pages a company and platform staff use: profile, password reset,
//! registration with an invite code and its approval, roles, API tokens, and the staff's
//! companies page with impersonation.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use testkit::browser::Browser;
use testkit::{TestApp, spawn_app};

use super::{fill, submit, text_of, value_of, wait_for_path};

/// Signs a company up through the API ([`testkit::fixtures::sign_up`]; its admin's password
/// is `correct horse 42`); returns its sign-up answer.
pub(crate) async fn company(app: &TestApp, name: &str, email: &str) -> Value {
    testkit::fixtures::sign_up(app, name, email).await.signed_up
}

pub(crate) async fn log_in(client: &Client, app: &TestApp, email: &str, password: &str) {
    client.goto(&app.url("/login")).await.unwrap();
    fill(client, "email", email).await;
    fill(client, "password", password).await;
    submit(client).await;
    wait_for_path(client, "/dashboard").await;
}

pub(crate) async fn log_out(client: &Client) {
    // Logging out is in the user menu.
    click(client, "//details[@id='user-menu']/summary").await;
    click(client, "//button[text()='Log out']").await;
    wait_for_path(client, "/logout").await;
}

pub(crate) async fn click(client: &Client, xpath: &str) {
    // The URL changes before the new page's DOM is complete: wait for the element.
    client
        .wait()
        .at_most(std::time::Duration::from_secs(10))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("no {xpath}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Fills a field of one form of a page with several.
pub(crate) async fn fill_in(client: &Client, form: &str, name: &str, value: &str) {
    let field = client
        .find(Locator::Css(&format!("{form} [name='{name}']")))
        .await
        .unwrap_or_else(|e| panic!("no {name} in {form}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

pub(crate) async fn submit_in(client: &Client, form: &str) {
    client
        .find(Locator::Css(&format!("{form} button[type='submit']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The flash message of the page reached after a form post. The page before may have had
/// one too, so wait for the expected words rather than read whichever is there.
pub(crate) async fn flash(client: &Client, expected: &str) -> String {
    super::text_with(client, "#flash", expected).await
}

#[tokio::test]
async fn profile_changes_the_password_and_lists_logins() {
    let app = spawn_app().await;
    company(&app, "Acme", "ada@acme.io").await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;

    // One failed attempt first, so the history has both kinds.
    client.goto(&app.url("/login")).await.unwrap();
    fill(client, "email", "ada@acme.io").await;
    fill(client, "password", "wrong password 1").await;
    submit(client).await;
    text_of(client, "#login-error").await;
    log_in(client, &app, "ada@acme.io", "correct horse 42").await;

    // The profile is in the user menu.
    click(client, "//details[@id='user-menu']/summary").await;
    click(client, "//details[@id='user-menu']//a[text()='Profile']").await;
    wait_for_path(client, "/profile").await;
    let history = text_of(client, "#login-history").await;
    assert!(history.contains("signed in"), "{history}");
    assert!(history.contains("wrong_password"), "{history}");
    assert!(history.contains("web"), "{history}");

    fill_in(client, "#names-form", "first_name", "Augusta").await;
    submit_in(client, "#names-form").await;
    assert_eq!(
        flash(client, "Your name was saved.").await,
        "Your name was saved."
    );
    assert_eq!(text_of(client, "#signed-in-as").await, "Augusta Admin");

    fill_in(
        client,
        "#password-form",
        "current_password",
        "not it at all",
    )
    .await;
    fill_in(
        client,
        "#password-form",
        "new_password",
        "a brand new passphrase",
    )
    .await;
    submit_in(client, "#password-form").await;
    // Refused next to the field; no password is sent back.
    let refused = text_of(client, "#profile-current-password-error").await;
    assert_eq!(refused, "Is not your current password.");
    assert_eq!(
        value_of(client, "#password-form [name='new_password']").await,
        ""
    );

    fill_in(
        client,
        "#password-form",
        "current_password",
        "correct horse 42",
    )
    .await;
    fill_in(
        client,
        "#password-form",
        "new_password",
        "a brand new passphrase",
    )
    .await;
    submit_in(client, "#password-form").await;
    flash(client, "Your password was changed").await;
    // The flash is shown once.
    client.refresh().await.unwrap();
    text_of(client, "#login-history").await;
    assert!(client.find(Locator::Css("#flash")).await.is_err());

    log_out(client).await;
    log_in(client, &app, "ada@acme.io", "a brand new passphrase").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link() {
    let app = spawn_app().await;
    company(&app, "Acme", "ada@acme.io").await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;

    client.goto(&app.url("/login")).await.unwrap();
    click(client, "//a[text()='Forgot your password?']").await;
    wait_for_path(client, "/forgot-password").await;
    fill(client, "email", "ada@acme.io").await;
    submit(client).await;
    assert!(text_of(client, "#reset-sent").await.contains("on its way"));

    // A job writes the mail after the page has answered (read from the store: no endpoint
    // shows the outbox).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mail = loop {
        let mail = store::mail::to_address(app.app.db(), "ada@acme.io")
            .await
            .unwrap();
        if !mail.is_empty() || std::time::Instant::now() > deadline {
            break mail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(mail.len(), 1);
    let link = mail[0]
        .body
        .split_whitespace()
        .find(|w| w.contains("/reset-password?token="))
        .unwrap();
    let path = &link[link.find("/reset-password").unwrap()..];
    client.goto(&app.url(path)).await.unwrap();
    fill(client, "new_password", "password").await;
    submit(client).await;
    assert!(
        text_of(client, "#reset-error")
            .await
            .contains("correct the fields")
    );
    let weak = text_of(client, "#reset-password-error").await;
    assert!(weak.contains("common"), "{weak}");
    fill(client, "new_password", "reset by mail 2026").await;
    submit(client).await;
    assert!(text_of(client, "#reset-done").await.contains("was changed"));

    // The link works once.
    client.goto(&app.url(path)).await.unwrap();
    fill(client, "new_password", "another one 2026").await;
    submit(client).await;
    assert!(
        text_of(client, "#reset-token-error")
            .await
            .contains("invalid, used or expired")
    );

    log_in(client, &app, "ada@acme.io", "reset by mail 2026").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_invited_person_registers_and_an_admin_approves_them_and_sets_roles() {
    let app = spawn_app().await;
    let acme = company(&app, "Acme", "ada@acme.io").await;
    let token = acme["access_token"].as_str().unwrap();
    let code = testkit::json(app.get_authed("/api/v1/company", token).await).await["invite_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;

    client.goto(&app.url("/register")).await.unwrap();
    fill(client, "company_invite_code", "not-a-code").await;
    fill(client, "email", "bo@acme.io").await;
    fill(client, "first_name", "Bo").await;
    fill(client, "last_name", "Worker").await;
    fill(client, "password", "bo works hard 7").await;
    submit(client).await;
    assert!(
        text_of(client, "#register-code-error")
            .await
            .contains("not a valid invite code")
    );
    assert_eq!(value_of(client, "input[name='email']").await, "bo@acme.io");
    assert_eq!(value_of(client, "input[name='password']").await, "");
    fill(client, "company_invite_code", &code).await;
    fill(client, "password", "bo works hard 7").await;
    submit(client).await;
    assert!(text_of(client, "#register-done").await.contains("approve"));

    client.goto(&app.url("/login")).await.unwrap();
    fill(client, "email", "bo@acme.io").await;
    fill(client, "password", "bo works hard 7").await;
    submit(client).await;
    assert!(text_of(client, "#login-error").await.contains("approval"));

    log_in(client, &app, "ada@acme.io", "correct horse 42").await;
    client.goto(&app.url("/admin/company-roles")).await.unwrap();
    fill_in(client, "#add-role", "name", "finance").await;
    submit_in(client, "#add-role").await;
    assert_eq!(
        flash(client, "The role `finance` was added.").await,
        "The role `finance` was added."
    );

    client
        .goto(&app.url("/admin/users?status=pending"))
        .await
        .unwrap();
    let rows = client
        .find_all(Locator::Css("#users tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(text_of(client, "#users tbody").await.contains("bo@acme.io"));
    click(
        client,
        "//tr[@data-email='bo@acme.io']//button[text()='approve']",
    )
    .await;
    assert_eq!(
        flash(client, "bo@acme.io was approved.").await,
        "bo@acme.io was approved."
    );
    let row = text_of(client, "tr[data-email='bo@acme.io']").await;
    assert!(row.contains("Active"), "{row}");

    click(client, "//a[text()='Bo Worker']").await;
    click(
        client,
        "//input[@name='system_roles' and @value='task_worker']",
    )
    .await;
    click(
        client,
        "//input[@name='company_roles' and @value='finance']",
    )
    .await;
    submit_in(client, "#roles-form").await;
    assert_eq!(
        flash(client, "The roles were saved.").await,
        "The roles were saved."
    );
    let checked = client
        .find(Locator::Css("input[name='company_roles'][value='finance']"))
        .await
        .unwrap()
        .prop("checked")
        .await
        .unwrap();
    assert_eq!(checked.as_deref(), Some("true"));

    // The roles are the app's, whichever door they came through.
    let bo = testkit::json(app.get_authed("/api/v1/users?q=bo%40acme", token).await).await;
    let roles = &bo["items"][0]["system_roles"];
    assert!(
        roles.as_array().unwrap().contains(&json!("task_worker")),
        "{bo}"
    );

    // Filters narrow the list.
    client
        .goto(&app.url("/admin/users?role=task_worker"))
        .await
        .unwrap();
    let listed = text_of(client, "#users tbody").await;
    assert!(
        listed.contains("bo@acme.io") && !listed.contains("ada@acme.io"),
        "{listed}"
    );

    log_out(client).await;
    log_in(client, &app, "bo@acme.io", "bo works hard 7").await;
    // Not an admin: the admin pages are refused.
    client.goto(&app.url("/admin/users")).await.unwrap();
    super::text_with(client, "h1", "Forbidden").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_api_token_is_shown_once_works_and_is_revoked() {
    let app = spawn_app().await;
    company(&app, "Acme", "ada@acme.io").await;
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, "ada@acme.io", "correct horse 42").await;

    client.goto(&app.url("/admin/api-tokens")).await.unwrap();
    fill_in(client, "#new-token", "name", "CRM sync").await;
    click(client, "//input[@name='roles' and @value='ticket_admin']").await;
    submit_in(client, "#new-token").await;
    let secret = text_of(client, "#token-secret").await;
    assert!(secret.starts_with("tfk_"), "{secret}");
    let me = app.get_authed("/api/v1/me", &secret).await;
    assert_eq!(me.status(), 200);

    client.goto(&app.url("/admin/api-tokens")).await.unwrap();
    assert!(client.find(Locator::Css("#token-secret")).await.is_err());
    click(
        client,
        "//tr[@data-token='CRM sync']//button[text()='Revoke']",
    )
    .await;
    client.accept_alert().await.unwrap();
    assert_eq!(
        flash(client, "The token was revoked.").await,
        "The token was revoked."
    );
    assert!(
        text_of(client, "tr[data-token='CRM sync']")
            .await
            .contains("revoked")
    );
    let me = app.get_authed("/api/v1/me", &secret).await;
    assert_eq!(me.status(), 401);
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn staff_impersonate_a_company_whose_name_shows_on_every_page_and_suspend_it() {
    let app = spawn_app().await;
    company(&app, "Acme", "ada@acme.io").await;
    app::identity::platform::create_superuser(
        &app.app,
        "staff@ticketflower.dev",
        "staff passphrase 1",
    )
    .await
    .unwrap();
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, "staff@ticketflower.dev", "staff passphrase 1").await;
    click(client, "//nav//a[text()='Companies']").await;
    wait_for_path(client, "/staff/companies").await;
    assert!(client.find(Locator::Css("#impersonation")).await.is_err());

    click(
        client,
        "//tr[@data-company='Acme']//button[text()='Impersonate']",
    )
    .await;
    wait_for_path(client, "/dashboard").await;
    for path in [
        "/dashboard",
        "/profile",
        "/admin/users",
        "/admin/api-tokens",
    ] {
        client.goto(&app.url(path)).await.unwrap();
        let banner = text_of(client, "#impersonation").await;
        assert!(banner.contains("Acme"), "{path}: {banner}");
    }
    // What staff do inside is marked as impersonated.
    client.goto(&app.url("/admin/company-roles")).await.unwrap();
    fill_in(client, "#add-role", "name", "auditors").await;
    submit_in(client, "#add-role").await;
    flash(client, "was added").await;
    // On PostgreSQL the event reader holds back rows until every older transaction has
    // ended, and other tests' transactions run alongside: wait for the horizon to pass.
    // Read from the store: no endpoint lists a company's events.
    let mut created = None;
    for _ in 0..100 {
        let events = store::events::read_after(app.app.db(), &store::events::Scope::All, 0, 1000)
            .await
            .unwrap();
        created = events
            .into_iter()
            .find(|e| e.kind == "company_role.created");
        if created.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let created = created.expect("role creation event");
    assert!(
        created.payload.get("impersonated_by").is_some(),
        "{created:?}"
    );

    log_out(client).await;
    log_in(client, &app, "staff@ticketflower.dev", "staff passphrase 1").await;
    client.goto(&app.url("/staff/companies")).await.unwrap();
    // Suspending asks first; dismissed, nothing happens.
    let suspend = "//tr[@data-company='Acme']//button[text()='Suspend']";
    click(client, suspend).await;
    assert!(
        client
            .get_alert_text()
            .await
            .unwrap()
            .starts_with("Suspend Acme?"),
        "a confirmation is asked"
    );
    client.dismiss_alert().await.unwrap();
    assert!(client.find(Locator::Css("#flash")).await.is_err());
    click(client, suspend).await;
    client.accept_alert().await.unwrap();
    assert_eq!(
        flash(client, "Acme is now suspended.").await,
        "Acme is now suspended."
    );
    assert!(
        client
            .find(Locator::XPath(
                "//tr[@data-company='Acme']//button[text()='Impersonate']"
            ))
            .await
            .is_err()
    );
    log_out(client).await;

    client.goto(&app.url("/login")).await.unwrap();
    fill(client, "email", "ada@acme.io").await;
    fill(client, "password", "correct horse 42").await;
    submit(client).await;
    assert!(text_of(client, "#login-error").await.contains("suspended"));
    tokio::time::sleep(Duration::from_millis(1)).await;
    browser.close().await;
    app.stop().await;
}

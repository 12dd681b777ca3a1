//! Pages as their users meet them, read over HTTP from the real server: what asks before it
//! acts, and what is not offered at all.

use testkit::{TestApp, fixtures, spawn_app};

async fn page(app: &TestApp, token: &str, path: &str) -> String {
    let response = app
        .client
        .get(app.url(path))
        .header("cookie", format!("tf_access={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The form around the first occurrence of `marker`.
fn form_with<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let start = html[..at].rfind("<form").unwrap();
    let end = at + html[at..].find("</form>").unwrap();
    &html[start..end]
}

/// Blocking a person, making a new invite code and suspending a company ask first and look
/// dangerous; an admin is not offered to block themselves (issue 15, defect 11).
#[tokio::test]
async fn harmful_actions_ask_first_and_nobody_blocks_themselves() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let kim = acme.add_member("kim@acme.io", "Kim", &["user"], &[]).await;

    let users = page(&app, acme.access_token(), "/admin/users").await;
    let block = form_with(&users, &format!("/admin/users/{}/status", kim.id));
    assert!(
        block.contains("data-confirm=\"Block kim@acme.io?"),
        "{block}"
    );
    assert!(block.contains("class=\"danger\""), "{block}");
    let blocks = users.matches("value=\"block\"").count();
    assert_eq!(
        blocks, 1,
        "only Kim can be blocked, not Ada herself: {users}"
    );
    let invite = form_with(&users, "action=\"/admin/invite-code\"");
    assert!(
        invite.contains("data-confirm=\"Make a new code?"),
        "{invite}"
    );

    let one = page(
        &app,
        acme.access_token(),
        &format!("/admin/users/{}", kim.id),
    )
    .await;
    let block = form_with(&one, "id=\"user-block\"");
    assert!(
        block.contains("data-confirm=\"Block kim@acme.io?"),
        "{block}"
    );
    let me = acme.admin.me().await.expect(200);
    let own = page(
        &app,
        acme.access_token(),
        &format!("/admin/users/{}", me["id"].as_str().unwrap()),
    )
    .await;
    assert!(!own.contains("id=\"user-block\""), "{own}");

    let staff = fixtures::platform_staff(&app).await;
    let companies = page(&app, staff.token().unwrap(), "/staff/companies").await;
    let suspend = form_with(&companies, "value=\"suspend\"");
    assert!(
        suspend.contains("data-confirm=\"Suspend Acme?"),
        "{suspend}"
    );
    assert!(suspend.contains("class=\"danger\""), "{suspend}");
}

/// What platform staff do while impersonating a company is theirs, said so: the company's
/// ticket admins see the staff member, requesters see the company's support, and nobody
/// sees "a former user" (issue 15, defect 3).
#[tokio::test]
async fn impersonating_staff_are_named_for_admins_and_support_for_requesters() {
    let app = spawn_app().await;
    let desk = fixtures::purchase_desk(&app, fixtures::when_approved()).await;
    let ticket = desk.request_purchase(120, "Standing desk").await;
    let id = ticket["id"].as_str().unwrap();
    let staff = fixtures::platform_staff(&app).await;
    let tokens = staff.impersonate(&desk.company.id).await.expect(200);
    let acting = staff.as_user(tokens["access_token"].as_str().unwrap());
    acting
        .add_comment(id, "We looked into it: the order is placed.", false)
        .await
        .expect(201);

    let requester = desk.requester.api.token().unwrap().to_owned();
    let seen = page(&app, &requester, &format!("/tickets/{id}")).await;
    assert!(seen.contains("Acme support"), "{seen}");
    assert!(
        !seen.contains("a former user") && !seen.contains("Platform Staff"),
        "{seen}"
    );
    let admin = page(&app, desk.company.access_token(), &format!("/tickets/{id}")).await;
    assert!(admin.contains("Platform Staff (platform staff)"), "{admin}");
    assert!(!admin.contains("a former user"), "{admin}");
}

/// A refused add-user form comes back as it was typed (never the password), with the reason
/// next to its field in words, not a redirect that loses everything (issue 15, defect 9).
#[tokio::test]
async fn a_refused_add_user_form_keeps_what_was_typed() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    acme.add_member("kim@acme.io", "Kim", &["user"], &[]).await;
    let access = format!("tf_access={}", acme.access_token());
    let form = app
        .client
        .get(app.url("/admin/users"))
        .header("cookie", &access)
        .send()
        .await
        .unwrap();
    let nonce = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|c| c.to_str().unwrap().strip_prefix("tf_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let html = form.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let token = html[at..].split('"').next().unwrap().to_owned();
    let refused = app
        .client
        .post(app.url("/admin/users"))
        .header("cookie", format!("{access}; tf_csrf={nonce}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf_token={token}&email=kim%40acme.io&first_name=Kimberly&last_name=Again\
             &password=a+secret+passphrase&system_roles=task_worker"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let page = refused.text().await.unwrap();
    assert!(page.contains("value=\"Kimberly\""), "{page}");
    assert!(page.contains("value=\"kim@acme.io\""), "{page}");
    assert!(page.contains("value=\"task_worker\" checked"), "{page}");
    assert!(
        !page.contains("a secret passphrase"),
        "the password is never sent back"
    );
    assert!(page.contains("id=\"add-user-email-error\""), "{page}");
}

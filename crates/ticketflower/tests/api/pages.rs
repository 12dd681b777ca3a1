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

/// Posts a form of the page at `page` (its CSRF token and cookie taken from there) to
/// `action`; `fields` are URL-encoded.
async fn post_from(
    app: &TestApp,
    token: &str,
    page: &str,
    action: &str,
    fields: &str,
) -> reqwest::Response {
    let access = format!("tf_access={token}");
    let shown = app
        .client
        .get(app.url(page))
        .header("cookie", &access)
        .send()
        .await
        .unwrap();
    let nonce = shown
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|c| c.to_str().unwrap().strip_prefix("tf_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let csrf = crate::common::form_token(&shown.text().await.unwrap());
    app.client
        .post(app.url(action))
        .header("cookie", format!("{access}; tf_csrf={nonce}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={csrf}&{fields}"))
        .send()
        .await
        .unwrap()
}

/// A requester's ticket page says where the ticket stands in words and shows no workflow
/// graph, no automated step and no error; the team's page of the same ticket shows them
/// (issue 15, defect 6).
#[tokio::test]
async fn a_requester_page_shows_plain_progress_and_no_workflow_internals() {
    let desk = crate::tickets::access_desk().await;
    let id = desk.held_request().await;
    let path = format!("/tickets/{id}");

    let rita = page(&desk.app, desk.rita.api.token().unwrap(), &path).await;
    assert!(
        rita.contains("id=\"ticket-status\">On hold — our team is looking into it</span>"),
        "{rita}"
    );
    for internal in [
        "ticket-graph",
        "<svg",
        "Grant access",
        "grant_access",
        "ERROR",
        "stopped with an error",
        "not a public address",
        "on-hold",
    ] {
        assert!(!rita.contains(internal), "{internal} in {rita}");
    }
    assert!(rita.contains("Manager approval"), "{rita}");

    let team = page(&desk.app, desk.company.access_token(), &path).await;
    for detail in [
        "ticket-graph",
        "Grant access",
        "ERROR",
        "the workflow stopped with an error",
        "not a public address",
        "id=\"on-hold\"",
    ] {
        assert!(team.contains(detail), "{detail} not in {team}");
    }
    desk.app.stop().await;
}

/// A decision that ends the ticket asks first. The page's script asks before the post (the
/// browser test); without it the server asks, keeping the answers, and completes only once
/// the form comes back confirmed (issue 15, defect 1).
#[tokio::test]
async fn a_decision_that_ends_the_ticket_is_confirmed_first_even_without_script() {
    let desk = crate::tickets::access_desk().await;
    let ticket = desk.request().await;
    let id = testkit::id(&ticket);
    let task = desk.claim_approval(&id).await;
    let mia = desk.mia.api.token().unwrap().to_owned();
    let task_page = format!("/tasks/{task}");

    // The page tells its script which choice ends the ticket.
    let shown = page(&desk.app, &mia, &task_page).await;
    let form = form_with(&shown, "id=\"task-form\"");
    assert!(form.contains("data-ending=\""), "{form}");
    assert!(
        form.contains("Approve this request “no” ends ticket #1: Rejected."),
        "{form}"
    );
    assert!(form.contains("name=\"confirmed\" value=\"0\""), "{form}");

    let action = format!("/tasks/{task}/complete");
    let asked = post_from(
        &desk.app,
        &mia,
        &task_page,
        &action,
        "confirmed=0&output.approved=false&output.manager_note=Not+this+quarter",
    )
    .await;
    assert_eq!(asked.status(), 200);
    let asked = asked.text().await.unwrap();
    assert!(
        asked.contains("id=\"ending-question\"")
            && asked.contains("ends ticket #1: Rejected. Complete it again to confirm"),
        "{asked}"
    );
    let form = form_with(&asked, "id=\"task-form\"");
    assert!(form.contains("name=\"confirmed\" value=\"1\""), "{form}");
    assert!(form.contains("value=\"Not this quarter\""), "{form}");
    assert!(!form.contains("data-ending"), "asked once: {form}");
    let still = desk.mia.api.task(&task).await.expect(200);
    assert_eq!(still["status"], "IN_PROGRESS", "nothing was done: {still}");

    let done = post_from(
        &desk.app,
        &mia,
        &task_page,
        &action,
        "confirmed=1&output.approved=false&output.manager_note=Not+this+quarter",
    )
    .await;
    assert_eq!(done.status(), 303);
    let ended = desk.rita.api.ticket(&id).await.expect(200);
    assert_eq!(ended["status"], "REJECTED", "{ended}");
    assert_eq!(
        ended["progress"],
        serde_json::json!({"kind": "ended", "label": "Rejected"})
    );
    desk.app.stop().await;
}

//! Pages as their users meet them, read over HTTP from the real server: what asks before it
//! acts, and what is not offered at all.

use testkit::{TestApp, fixtures, spawn_app};

use crate::common::page;

/// The form around the first occurrence of `marker`.
pub(crate) fn form_with<'a>(html: &'a str, marker: &str) -> &'a str {
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

/// A browser's session of the pages: the access cookie, a CSRF cookie of its own and the
/// token its forms carry, read from a page as a browser would.
pub(crate) struct Session<'a> {
    app: &'a TestApp,
    cookies: String,
    pub(crate) csrf: String,
}

/// What a form post answered: its status, where it redirects to, and its page.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) location: String,
    pub(crate) page: String,
}

impl<'a> Session<'a> {
    pub(crate) async fn open(app: &'a TestApp, access: &str) -> Self {
        let cookies = format!("tf_access={access}; tf_csrf={}", "n".repeat(43));
        let mut session = Self {
            app,
            cookies,
            csrf: String::new(),
        };
        let profile = session.get("/profile").await;
        let marker = "name=\"csrf_token\" value=\"";
        let at = profile.find(marker).unwrap() + marker.len();
        session.csrf = profile[at..].split('"').next().unwrap().to_owned();
        session
    }

    pub(crate) async fn get(&self, path: &str) -> String {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .header("cookie", &self.cookies)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    /// Posts a form (`application/x-www-form-urlencoded`) with the CSRF token.
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut form = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = self
            .app
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.answer(request).await
    }

    /// Posts a `multipart/form-data` form (the ticket submission) with the CSRF token.
    async fn post_multipart(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut form = reqwest::multipart::Form::new().text("csrf_token", self.csrf.clone());
        for (name, value) in fields {
            form = form.text((*name).to_owned(), (*value).to_owned());
        }
        let request = self.app.client.post(self.app.url(path)).multipart(form);
        self.answer(request).await
    }

    async fn answer(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request
            .header("cookie", &self.cookies)
            .send()
            .await
            .unwrap();
        Answer {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            page: response.text().await.unwrap(),
        }
    }
}

/// Text as a page writes it inside an attribute or an element (askama's escaping).
pub(crate) fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// The message shown after the input whose message id is `<id>-error`.
pub(crate) fn message_of<'p>(page: &'p str, id: &str) -> &'p str {
    let marker = format!("id=\"{id}-error\">");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no message {id} in {page}"))
        + marker.len();
    let end = at + page[at..].find("</span>").unwrap();
    &page[at..end]
}

/// A refused add-role form (the name is taken) comes back with the name and description
/// typed, and the reason next to the name (issue 15, defect 9).
#[tokio::test]
async fn a_refused_add_role_form_keeps_the_name() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    acme.add_roles(&["finance"]).await;
    let session = Session::open(&app, acme.access_token()).await;

    let refused = session
        .post(
            "/admin/company-roles",
            &[("name", "finance"), ("description", "Pays the bills")],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.page);
    let add = form_with(&refused.page, "id=\"add-role\"");
    assert!(add.contains("value=\"finance\""), "{add}");
    assert!(add.contains("value=\"Pays the bills\""), "{add}");
    assert!(
        add.contains("aria-describedby=\"add-role-name-error\""),
        "{add}"
    );
    assert_eq!(
        message_of(&refused.page, "add-role-name"),
        "A company role with this name already exists."
    );

    // Saving a role under a taken name keeps that row's typed values too.
    let roles = acme.add_roles(&["legal"]).await;
    let refused = session
        .post(
            &format!("/admin/company-roles/{}", roles[0]),
            &[("name", "finance"), ("description", "Contracts")],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.page);
    let row = form_with(&refused.page, &format!("id=\"role-{}\"", roles[0]));
    assert!(
        row.contains("value=\"finance\"") && row.contains("value=\"Contracts\""),
        "{row}"
    );
    assert!(
        message_of(&refused.page, &format!("role-{}-name", roles[0])).contains("already exists"),
        "{}",
        refused.page
    );
}

/// A refused designer form comes back with the whole definition as typed and the reason
/// next to the input it is about, not a redirect that loses it (issue 15, defect 9).
#[tokio::test]
async fn a_refused_design_object_keeps_the_typed_definition() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    acme.add_roles(&["reviewers"]).await;
    let workflow = acme
        .admin
        .create_design_object(
            testkit::api::DesignKind::Workflows,
            serde_json::json!({"title": "Purchases"}),
        )
        .await
        .expect(201);
    let id = workflow["id"].as_str().unwrap();
    let session = Session::open(&app, acme.access_token()).await;
    let add = format!("/design/workflows/{id}/add/tasks");

    // A schema the app refuses: its complaint sits at the output schema.
    let schema = r#"{"type": "object", "properties": {"ok": {"type": "yes-or-no"}}}"#;
    let task = [
        ("name", "Check the order"),
        ("key", "check"),
        ("description", "Look at what was ordered"),
        ("task_type", "FORM"),
        ("assignment", "manual"),
        ("output_schema", schema),
        ("company_role_access", "reviewers"),
    ];
    let refused = session.post(&add, &task).await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    let form = form_with(&refused.page, "id=\"add-task\"");
    for typed in [
        "value=\"Check the order\"".to_owned(),
        "value=\"check\"".to_owned(),
        ">Look at what was ordered</textarea>".to_owned(),
        "value=\"manual\" selected".to_owned(),
        format!(">{}</textarea>", escaped(schema)),
        "value=\"reviewers\" checked".to_owned(),
    ] {
        assert!(form.contains(&typed), "{typed} in {form}");
    }
    assert_eq!(
        message_of(&refused.page, "add-task-output_schema"),
        "At /properties/ok/type: must be one of the types string, number, integer, boolean, \
         object, array or null, or a list of them."
    );

    // JSON the page cannot read: the same, with where it goes wrong.
    let mut unreadable = task;
    unreadable[5] = ("output_schema", "{\"type\": \"object\",");
    let refused = session.post(&add, &unreadable).await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    let form = form_with(&refused.page, "id=\"add-task\"");
    assert!(
        form.contains(&format!(
            ">{}</textarea>",
            escaped("{\"type\": \"object\",")
        )),
        "{form}"
    );
    let said = message_of(&refused.page, "add-task-output_schema");
    assert!(
        said.starts_with("Is not JSON that can be read: line 1"),
        "{said}"
    );

    // Saving the workflow with a link line it cannot read keeps the title and the links.
    let refused = session
        .post(
            &format!("/design/objects/workflows/{id}/edit"),
            &[
                ("title", "Purchases and orders"),
                ("ext_ref", "Policy | https://example.com/p\njust a label"),
                ("fields", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    let form = form_with(&refused.page, "id=\"edit-workflow\"");
    assert!(form.contains("value=\"Purchases and orders\""), "{form}");
    assert!(form.contains("just a label</textarea>"), "{form}");
    assert_eq!(
        message_of(&refused.page, "edit-workflow-ext_ref"),
        "Line 2: write `label | description | uri`."
    );
    // Nothing was saved.
    let detail = session.get(&format!("/design/workflows/{id}")).await;
    assert!(detail.contains("<h1>Purchases</h1>"), "{detail}");
}

/// A bundle whose one ticket type asks for a link, a summary, a choice and a date, each
/// with a title.
fn access_bundle() -> serde_json::Value {
    let fields = serde_json::json!({
        "type": "object",
        "required": ["runbook", "summary"],
        "properties": {
            "runbook": {"type": "string", "format": "uri", "title": "Runbook"},
            "summary": {"type": "string", "title": "Justification", "maxLength": 200},
            "level": {"enum": ["read", "write"], "title": "Access level"},
            "until": {"type": "string", "format": "date", "title": "Needed until"}
        }
    });
    serde_json::json!({
        "title": "Access",
        "fields": fields,
        "tasks": [{"key": "grant", "name": "Grant it", "task_type": "FORM",
                   "assignment": "claim", "output_schema": {"type": "object", "properties": {}}}],
        "transitions": [
            {"key": "start", "to_task": "grant"},
            {"key": "granted", "from_task": "grant", "to_status": "COMPLETED"}
        ],
        "ticket_types": [{"key": "access", "title": "Access request", "fields": fields}]
    })
}

/// The generated ticket form refused by the schema comes back with every value typed and
/// each complaint in words next to its field, led by the field's title (issue 15, defect 9).
#[tokio::test]
async fn a_refused_ticket_form_keeps_every_value_and_says_why_in_words() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let imported = acme
        .admin
        .import_bundle(&access_bundle(), "")
        .await
        .expect(201);
    let workflow = imported["workflow_id"].as_str().unwrap();
    acme.admin.publish_workflow(workflow).await.expect(200);
    let type_id = imported["ticket_type_ids"]["access"].as_str().unwrap();
    let session = Session::open(&app, acme.access_token()).await;

    let summary = "The \"night\" batch needs <write> access";
    let refused = session
        .post_multipart(
            &format!("/tickets/new/{type_id}"),
            &[
                ("idempotency_key", "first-try"),
                ("data.runbook", "wiki page 7"),
                ("data.summary", summary),
                ("data.level", "write"),
                ("data.until", "2026-12-31"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    let form = form_with(&refused.page, "id=\"ticket-form\"");
    for typed in [
        "value=\"wiki page 7\"".to_owned(),
        format!("value=\"{}\"", escaped(summary)),
        "<option value=\"write\" selected>".to_owned(),
        "value=\"2026-12-31\"".to_owned(),
        "value=\"first-try\"".to_owned(),
    ] {
        assert!(form.contains(&typed), "{typed} in {form}");
    }
    // The message sits in the runbook's field, and only there.
    let at = form.find("data-field=\"runbook\"").unwrap();
    let runbook = &form[at..at + form[at..].find("</div>").unwrap()];
    assert!(
        runbook.contains(
            "<span class=\"field-error\" id=\"data-field-1-error\">Runbook must be a web address (https://…).</span>"
        ),
        "{runbook}"
    );
    assert_eq!(form.matches("class=\"field-error\"").count(), 1, "{form}");
    assert!(
        !refused.page.contains("is not a \""),
        "schema words: {}",
        refused.page
    );

    // Too long, no longer a link problem: the words follow the rule.
    let long = "x".repeat(201);
    let refused = session
        .post_multipart(
            &format!("/tickets/new/{type_id}"),
            &[
                ("data.runbook", "https://wiki.example.com/batch"),
                ("data.summary", &long),
                ("data.until", "31.12.2026"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert!(
        refused
            .page
            .contains("Justification must be at most 200 characters."),
        "{}",
        refused.page
    );
    assert!(
        refused
            .page
            .contains("Needed until must be a date (YYYY-MM-DD)."),
        "{}",
        refused.page
    );
}

/// The other forms that can be refused come back as typed too, each complaint next to its
/// input, and a password never comes back (issue 15, defect 9).
#[tokio::test]
async fn every_other_refused_form_keeps_what_was_typed() {
    let app = spawn_app().await;
    let desk = fixtures::purchase_desk(&app, fixtures::when_approved()).await;
    let ticket = desk.request_purchase(120, "Standing desk").await;
    let ticket = ticket["id"].as_str().unwrap();
    let admin = Session::open(&app, desk.company.access_token()).await;

    // An API token that would have expired already.
    let refused = admin
        .post(
            "/admin/api-tokens",
            &[
                ("name", "CRM sync"),
                ("roles", "task_worker"),
                ("expires_on", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    let form = form_with(&refused.page, "id=\"new-token\"");
    assert!(form.contains("value=\"CRM sync\""), "{form}");
    assert!(form.contains("value=\"2001-01-01\""), "{form}");
    assert!(form.contains("value=\"task_worker\" checked"), "{form}");
    assert_eq!(
        message_of(&refused.page, "new-token-expires"),
        "Must be in the future."
    );
    let refused = admin
        .post(
            "/admin/api-tokens",
            &[("name", "CRM sync"), ("expires_on", "soon")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert_eq!(
        message_of(&refused.page, "new-token-expires"),
        "Must be a date (YYYY-MM-DD)."
    );

    // A profile name left empty keeps the other one.
    let refused = admin
        .post("/profile", &[("first_name", "Augusta"), ("last_name", " ")])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert!(
        refused.page.contains("value=\"Augusta\""),
        "{}",
        refused.page
    );
    assert_eq!(
        message_of(&refused.page, "profile-last-name"),
        "Is required."
    );
    // A wrong current password: the reason at that input, no password sent back.
    let refused = admin
        .post(
            "/profile/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert_eq!(
        message_of(&refused.page, "profile-current-password"),
        "Is not your current password."
    );
    assert!(
        !refused.page.contains("not it at all") && !refused.page.contains("a brand new"),
        "a password is never sent back"
    );

    // A company created by staff for an admin whose address is taken.
    let staff = fixtures::platform_staff(&app).await;
    let staff = Session::open(&app, staff.token().unwrap()).await;
    let refused = staff
        .post(
            "/staff/companies",
            &[
                ("company_name", "Initech"),
                ("admin_email", "rita@acme.io"),
                ("admin_password", "a secret passphrase"),
                ("admin_first_name", "Bill"),
                ("admin_last_name", "Lumbergh"),
            ],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.page);
    let form = form_with(&refused.page, "id=\"new-company\"");
    for typed in ["Initech", "rita@acme.io", "Bill", "Lumbergh"] {
        assert!(
            form.contains(&format!("value=\"{typed}\"")),
            "{typed} in {form}"
        );
    }
    assert!(!refused.page.contains("a secret passphrase"));
    assert!(
        message_of(&refused.page, "new-company-email").contains("already exists"),
        "{}",
        refused.page
    );

    // A comment longer than a comment may be stays in its box, and the note box stays ticked.
    let requester = Session::open(&app, desk.requester.api.token().unwrap()).await;
    let long = "y".repeat(20_001);
    let refused = requester
        .post(
            &format!("/tickets/{ticket}/comments"),
            &[("body", &long), ("internal", "true")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.page);
    assert!(
        refused.page.contains(&format!(">{long}</textarea>")),
        "the comment is kept"
    );
    assert_eq!(
        message_of(&refused.page, "comment-body"),
        "Must be at most 20000 characters."
    );
    assert_eq!(
        message_of(&refused.page, "comment-internal"),
        "Only the ticket team can write internal notes."
    );
}

/// Posts a form of the page at `page` (its CSRF token and cookie taken from there) to
/// `action`; `fields` are URL-encoded.
pub(crate) async fn post_from(
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
        // Statuses in words, the badge's class keeps the status.
        "<span class=\"badge error\">Error</span>",
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

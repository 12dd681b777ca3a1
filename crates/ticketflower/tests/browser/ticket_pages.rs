//! The ticket runtime in a browser, as the people who use it: a requester submits a
//! purchase through the form generated from its ticket type (a mistake first), a reviewer
//! claims and approves it, a buyer claims and completes the branch the approval chose, and
//! the requester finds it done in the archive with its timeline. A ticket admin finds it
//! among all tickets, and retries a workflow that stopped.

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use testkit::browser::Browser;
use testkit::{TestApp, spawn_app};

use super::identity_pages::{click, company, fill_in, flash, log_in, log_out, submit_in};
use super::{text_of, text_with, wait_for_path};

const PASSWORD: &str = "tickets flow 2026";

/// Purchases: reviewed by `reviewers`, bought by `buyers` when approved, else rejected.
/// `approved_when` is the condition of the branch to the buyers.
fn purchase_bundle(approved_when: Value) -> Value {
    json!({
        "title": "Purchase request",
        "fields": {"type": "object", "properties": {
            "amount": {"type": "integer"}, "reason": {"type": "string"},
            "approved": {"type": "boolean"}, "note": {"type": "string"},
            "done_note": {"type": "string"}
        }},
        "tasks": [
            {"key": "review", "name": "Review the request", "task_type": "FORM",
             "assignment": "claim", "company_role_access": ["reviewers"],
             "output_schema": {"type": "object", "required": ["approved"], "properties": {
                 "approved": {"type": "boolean", "title": "Approve the purchase"},
                 "note": {"type": "string", "title": "Note", "maxLength": 1000}
             }}},
            {"key": "fulfil", "name": "Buy it", "task_type": "FORM",
             "assignment": "claim", "company_role_access": ["buyers"],
             "output_schema": {"type": "object", "required": ["done_note"], "properties": {
                 "done_note": {"type": "string", "title": "What was bought", "minLength": 5}
             }}}
        ],
        "transitions": [
            {"key": "start", "to_task": "review"},
            {"key": "approved", "from_task": "review", "to_task": "fulfil",
             "condition": approved_when},
            {"key": "rejected", "from_task": "review", "to_status": "REJECTED",
             "condition": {"approved": {"$eq": false}}},
            {"key": "bought", "from_task": "fulfil", "to_status": "COMPLETED"}
        ],
        "ticket_types": [
            {"key": "purchase", "title": "Purchase request",
             "description": "Ask for something to be bought.",
             "fields": {"type": "object", "required": ["amount", "reason"], "properties": {
                 "amount": {"type": "integer", "title": "Amount (EUR)", "minimum": 1,
                            "maximum": 10000},
                 "reason": {"type": "string", "title": "Reason", "minLength": 3,
                            "description": "What it is for"}
             }}}
        ]
    })
}

async fn api(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> Value {
    let request = match method {
        "POST" => app.client.post(app.url(path)),
        "PUT" => app.client.put(app.url(path)),
        "PATCH" => app.client.patch(app.url(path)),
        _ => app.client.get(app.url(path)),
    };
    let response = request.bearer_auth(token).json(&body).send().await.unwrap();
    let status = response.status();
    let body = testkit::json(response).await;
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

/// A company with a published purchase workflow, a requester, a reviewer and a buyer.
/// Returns the admin's token.
async fn purchase_desk(app: &TestApp, approved_when: Value) -> String {
    let acme = company(app, "Acme", "ada@acme.io").await;
    let token = acme["access_token"].as_str().unwrap().to_owned();
    for role in ["reviewers", "buyers"] {
        api(
            app,
            &token,
            "POST",
            "/api/v1/company-roles",
            json!({ "name": role }),
        )
        .await;
    }
    for (email, first, system, company_roles) in [
        ("rita@acme.io", "Rita", "user", json!([])),
        (
            "victor@acme.io",
            "Victor",
            "task_worker",
            json!(["reviewers"]),
        ),
        ("bea@acme.io", "Bea", "task_worker", json!(["buyers"])),
    ] {
        let user = api(
            app,
            &token,
            "POST",
            "/api/v1/users",
            json!({ "email": email, "password": PASSWORD, "first_name": first,
                    "last_name": "Acme", "system_roles": [system] }),
        )
        .await;
        let id = user["id"].as_str().unwrap();
        api(
            app,
            &token,
            "PUT",
            &format!("/api/v1/users/{id}/roles"),
            json!({ "system_roles": [system], "company_roles": company_roles }),
        )
        .await;
    }
    let imported = api(
        app,
        &token,
        "POST",
        "/api/v1/design/bundles",
        purchase_bundle(approved_when),
    )
    .await;
    let workflow = imported["workflow_id"].as_str().unwrap();
    api(
        app,
        &token,
        "POST",
        &format!("/api/v1/design/workflows/{workflow}/publish"),
        json!({}),
    )
    .await;
    token
}

/// Lets the form post what the browser's own checks would stop, to see the server's.
async fn skip_browser_checks(client: &Client, form: &str) {
    client
        .execute(
            "document.querySelector(arguments[0]).noValidate = true",
            vec![Value::String(form.to_owned())],
        )
        .await
        .unwrap();
}

/// The tooltip of a node of the drawn graph (SVG titles are not visible text).
async fn svg_title(client: &Client, node: &str) -> String {
    client
        .execute(
            "const n = document.querySelector(arguments[0]); return n ? n.querySelector('title').textContent : ''",
            vec![Value::String(node.to_owned())],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the browser's address has `part` in its query (a GET form was sent).
async fn wait_for_query(client: &Client, part: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let url = client.current_url().await.unwrap();
        if url.query().is_some_and(|q| q.contains(part)) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "stuck on {url}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn value_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The requester fills in the purchase form, gets one thing wrong, fixes it and submits
/// with an attachment; the ticket's page shows #1 waiting for its review.
async fn submit_purchase(client: &Client, app: &TestApp, receipt: &std::path::Path) {
    log_in(client, app, "rita@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='New ticket']").await;
    wait_for_path(client, "/tickets/new").await;
    click(client, "//a[text()='Purchase request']").await;
    text_with(client, "h1", "Purchase request").await;
    let hint = text_of(client, "[data-field='reason'] .hint").await;
    assert_eq!(hint, "What it is for");
    let amount = client
        .find(Locator::Css("input[name='data.amount']"))
        .await
        .unwrap();
    assert_eq!(
        amount.attr("type").await.unwrap().as_deref(),
        Some("number")
    );
    assert_eq!(amount.attr("max").await.unwrap().as_deref(), Some("10000"));
    assert!(amount.attr("required").await.unwrap().is_some());

    // The reason is left out: the server names it, next to the field, and keeps the rest.
    fill_in(client, "#ticket-form", "data.amount", "250").await;
    skip_browser_checks(client, "#ticket-form").await;
    submit_in(client, "#ticket-form").await;
    let error = text_of(client, "[data-field='reason'] .field-error").await;
    assert_eq!(error, "is required");
    assert!(
        text_of(client, "#form-errors")
            .await
            .contains("correct the fields")
    );
    assert_eq!(value_of(client, "input[name='data.amount']").await, "250");
    assert!(
        client
            .find(Locator::Css("[data-field='amount'] .field-error"))
            .await
            .is_err()
    );

    fill_in(
        client,
        "#ticket-form",
        "data.reason",
        "A laptop for the new designer",
    )
    .await;
    client
        .find(Locator::Css("input[name='attachments']"))
        .await
        .unwrap()
        .send_keys(receipt.to_str().unwrap())
        .await
        .unwrap();
    submit_in(client, "#ticket-form").await;
    assert_eq!(
        flash(client, "Ticket #1 submitted.").await,
        "Ticket #1 submitted."
    );
    assert_eq!(text_of(client, "h1").await, "#1 Purchase request");
    let data = text_of(client, "#ticket-data").await;
    assert!(
        data.contains("Amount (EUR) 250") && data.contains("A laptop for the new designer"),
        "{data}"
    );
    assert!(
        text_of(client, "#attachment-list")
            .await
            .contains("quote.txt")
    );
    let tasks = text_with(client, "#ticket-tasks", "Review the request").await;
    assert!(tasks.contains("OPEN"), "{tasks}");
    // The review is drawn as running on the workflow graph.
    assert_eq!(
        svg_title(client, "#ticket-graph g.active").await,
        "Review the request (FORM) — in progress"
    );
    log_out(client).await;
}

#[tokio::test]
async fn a_purchase_goes_from_submission_through_review_and_buying_to_done() {
    let app = spawn_app().await;
    let token = purchase_desk(&app, json!({"approved": {"$eq": true}})).await;
    let receipt = app.db.dir.path().join("quote.txt");
    std::fs::write(&receipt, "Laptop, 14 inch: 1,250 EUR\n").unwrap();
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;

    submit_purchase(client, &app, &receipt).await;

    // The reviewer claims the review from the queue and approves.
    log_in(client, &app, "victor@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='My tasks']").await;
    wait_for_path(client, "/tasks").await;
    let queue = text_of(client, "#task-queue").await;
    assert!(
        queue.contains("Review the request") && queue.contains("#1"),
        "{queue}"
    );
    click(client, "//table[@id='task-queue']//button[text()='Claim']").await;
    flash(client, "is yours now").await;
    assert_eq!(text_of(client, "#task-holder").await, "Victor Acme");
    let input = text_of(client, "#task-input").await;
    assert!(
        input.contains("250") && input.contains("A laptop"),
        "{input}"
    );
    click(client, "//input[@name='output.approved']").await;
    fill_in(client, "#task-form", "output.note", "Within the budget.").await;
    submit_in(client, "#task-form").await;
    flash(client, "“Review the request” is done.").await;
    wait_for_path(client, "/tasks").await;
    text_with(client, "#done-tasks", "Review the request").await;
    // An internal note on the ticket, for the team only.
    click(
        client,
        "//table[@id='done-tasks']//a[contains(text(), '#1')]",
    )
    .await;
    text_with(client, "h1", "#1 Purchase request").await;
    fill_in(client, "#comment-form", "body", "Budget line 4711.").await;
    click(
        client,
        "//form[@id='comment-form']//input[@name='internal']",
    )
    .await;
    submit_in(client, "#comment-form").await;
    flash(client, "Your internal note was added.").await;
    text_with(client, "#comment-list", "Budget line 4711.").await;
    log_out(client).await;

    // The approval sent the ticket to the buyers; the buyer sees only that task.
    log_in(client, &app, "bea@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='My tasks']").await;
    let queue = text_with(client, "#task-queue", "Buy it").await;
    assert!(!queue.contains("Review"), "{queue}");
    click(client, "//table[@id='task-queue']//button[text()='Claim']").await;
    flash(client, "“Buy it” is yours now.").await;
    let input = text_of(client, "#task-input").await;
    assert!(input.contains("Within the budget."), "{input}");
    // Too short: the output schema's rule comes back next to the field.
    fill_in(client, "#task-form", "output.done_note", "ok").await;
    skip_browser_checks(client, "#task-form").await;
    submit_in(client, "#task-form").await;
    let error = text_of(client, "[data-field='done_note'] .field-error").await;
    assert!(error.contains("shorter than 5 characters"), "{error}");
    assert_eq!(
        value_of(client, "input[name='output.done_note']").await,
        "ok"
    );
    fill_in(
        client,
        "#task-form",
        "output.done_note",
        "Ordered from the usual shop",
    )
    .await;
    submit_in(client, "#task-form").await;
    flash(client, "“Buy it” is done.").await;
    log_out(client).await;

    // The requester finds it done in the archive, with how it got there.
    log_in(client, &app, "rita@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='My tickets']").await;
    wait_for_path(client, "/tickets").await;
    text_with(client, "#tickets", "No tickets here.").await;
    click(client, "//nav[@id='ticket-tabs']//a[text()='Archive']").await;
    let archive = text_with(client, "#tickets", "#1").await;
    assert!(archive.contains("COMPLETED"), "{archive}");
    click(client, "//table[@id='tickets']//a[text()='#1']").await;
    assert_eq!(
        text_with(client, "#ticket-status", "COMPLETED").await,
        "COMPLETED"
    );
    let timeline = text_of(client, "#timeline").await;
    for expected in [
        "Rita Acme submitted the ticket",
        "attached quote.txt",
        "task “Review the request” was created",
        "Victor Acme claimed “Review the request”",
        "Victor Acme completed “Review the request”",
        "approved: (none) → yes",
        "Bea Acme claimed “Buy it”",
        "Bea Acme completed “Buy it”",
        "the workflow ended: COMPLETED",
    ] {
        assert!(timeline.contains(expected), "{expected} in\n{timeline}");
    }
    // The team's note stays with the team, even in the timeline.
    assert!(!timeline.contains("internal note"), "{timeline}");
    assert!(
        !text_of(client, "#comments")
            .await
            .contains("Budget line 4711.")
    );
    let added = text_of(client, "#workflow-data").await;
    assert!(
        added.contains("Approve the purchase yes") && added.contains("Ordered from the usual shop"),
        "{added}"
    );
    assert_eq!(
        svg_title(client, "#ticket-graph g.finish.done").await,
        "COMPLETED — done"
    );
    let done = client
        .find_all(Locator::Css("#ticket-graph g.form.done"))
        .await
        .unwrap();
    assert_eq!(done.len(), 2);
    // The attachment downloads as it was uploaded.
    let href = client
        .find(Locator::XPath("//ul[@id='attachment-list']//a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let cookies = client.get_all_cookies().await.unwrap();
    let cookie = cookies
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let download = app
        .client
        .get(app.url(&href))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"quote.txt\"")
    );
    assert_eq!(
        download.text().await.unwrap(),
        "Laptop, 14 inch: 1,250 EUR\n"
    );
    log_out(client).await;

    // A ticket admin's correction of a closed ticket keeps when it was closed, and the
    // search finds the corrected words.
    let path = format!("/api/v1/tickets/{}", href.split('/').nth(2).unwrap());
    let before = api(&app, &token, "GET", &path, json!({})).await;
    assert!(before["closed_at"].is_string(), "{before}");
    let after = api(
        &app,
        &token,
        "PATCH",
        &path,
        json!({"data": {"reason": "A laptop and a docking station"}}),
    )
    .await;
    assert_eq!(after["closed_at"], before["closed_at"]);
    // The API's list filters: words of the corrected data, and workflow fields.
    for query in [
        "q=docking",
        "field.approved=true",
        "field.amount=250",
        "status=COMPLETED",
    ] {
        let found = api(
            &app,
            &token,
            "GET",
            &format!("/api/v1/tickets?{query}"),
            json!({}),
        )
        .await;
        assert_eq!(
            found["items"].as_array().unwrap().len(),
            1,
            "{query}: {found}"
        );
    }
    for query in [
        "q=bicycle",
        "field.approved=false",
        "field.amount=251",
        "status=REJECTED",
    ] {
        let found = api(
            &app,
            &token,
            "GET",
            &format!("/api/v1/tickets?{query}"),
            json!({}),
        )
        .await;
        assert_eq!(found["items"], json!([]), "{query}");
    }

    // A ticket admin finds it among all tickets by a word of its data.
    log_in(client, &app, "ada@acme.io", "correct horse 42").await;
    click(client, "//nav//a[text()='All tickets']").await;
    wait_for_path(client, "/tickets/all").await;
    click(client, "//nav[@id='ticket-tabs']//a[text()='All']").await;
    fill_in(client, "#ticket-filters", "q", "docking").await;
    submit_in(client, "#ticket-filters").await;
    wait_for_query(client, "q=docking").await;
    let found = text_with(client, "#tickets", "#1").await;
    assert!(found.contains("Rita Acme"), "{found}");
    fill_in(client, "#ticket-filters", "q", "bicycle").await;
    submit_in(client, "#ticket-filters").await;
    wait_for_query(client, "q=bicycle").await;
    text_with(client, "#tickets", "No tickets here.").await;
    // Filters combine: done tickets Victor worked on, of this type.
    client
        .find(Locator::Css("#ticket-filters select[name='assignee']"))
        .await
        .unwrap()
        .select_by_label("Victor Acme")
        .await
        .unwrap();
    fill_in(client, "#ticket-filters", "q", "").await;
    fill_in(client, "#ticket-filters", "status", "COMPLETED").await;
    submit_in(client, "#ticket-filters").await;
    wait_for_query(client, "status=COMPLETED").await;
    text_with(client, "#tickets", "#1").await;
    fill_in(client, "#ticket-filters", "status", "REJECTED").await;
    submit_in(client, "#ticket-filters").await;
    wait_for_query(client, "status=REJECTED").await;
    text_with(client, "#tickets", "No tickets here.").await;
    click(client, "//nav//a[text()='All tasks']").await;
    let all = text_with(client, "#all-tasks", "Buy it").await;
    assert!(
        all.contains("Review the request") && all.contains("Victor Acme"),
        "{all}"
    );

    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_ticket_admin_retries_a_workflow_that_stopped() {
    let app = spawn_app().await;
    // An approval of a small amount matches no transition: the workflow stops.
    let token = purchase_desk(
        &app,
        json!({"$and": [{"approved": {"$eq": true}}, {"amount": {"$gte": 100}}]}),
    )
    .await;
    let types = api(
        &app,
        &token,
        "GET",
        "/api/v1/ticket-types/available",
        json!({}),
    )
    .await;
    let type_id = types["items"][0]["id"].as_str().unwrap();
    let victor = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "victor@acme.io", "password": PASSWORD}),
        )
        .await;
    let victor = testkit::json(victor).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket = api(
        &app,
        &token,
        "POST",
        "/api/v1/tickets",
        json!({"ticket_type_id": type_id, "data": {"amount": 20, "reason": "Pens"}}),
    )
    .await;
    let ticket_id = ticket["id"].as_str().unwrap().to_owned();
    let task = ticket["tasks"][0]["id"].as_str().unwrap().to_owned();
    api(
        &app,
        &victor,
        "POST",
        &format!("/api/v1/tasks/{task}/claim"),
        json!({}),
    )
    .await;
    api(
        &app,
        &victor,
        "POST",
        &format!("/api/v1/tasks/{task}/complete"),
        json!({"output": {"approved": true}}),
    )
    .await;

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, "ada@acme.io", "correct horse 42").await;
    click(client, "//nav//a[text()='Workflow errors']").await;
    wait_for_path(client, "/workflow-errors").await;
    let errors = text_with(client, "#workflow-errors", "#1").await;
    assert!(errors.contains("NEW"), "{errors}");
    click(client, "//table[@id='workflow-errors']//a[text()='#1']").await;
    text_of(client, "#on-hold").await;
    assert!(
        text_of(client, "#timeline")
            .await
            .contains("the workflow stopped with an error")
    );

    // Retrying as it is stops again; after the amount is corrected it goes on.
    client.goto(&app.url("/workflow-errors")).await.unwrap();
    click(client, "//button[text()='Retry']").await;
    flash(client, "Retried").await;
    text_with(client, "#workflow-errors", "NEW").await;
    api(
        &app,
        &token,
        "PATCH",
        &format!("/api/v1/tickets/{ticket_id}"),
        json!({"data": {"amount": 120}}),
    )
    .await;
    click(client, "//button[text()='Retry']").await;
    flash(client, "Retried").await;
    text_with(client, "#workflow-errors", "No errors here.").await;
    client
        .goto(&app.url(&format!("/tickets/{ticket_id}")))
        .await
        .unwrap();
    let tasks = text_with(client, "#ticket-tasks", "Buy it").await;
    assert!(tasks.contains("OPEN"), "{tasks}");
    assert!(client.find(Locator::Css("#on-hold")).await.is_err());
    let timeline = text_of(client, "#timeline").await;
    assert!(
        timeline.contains("Ada Admin retried the workflow")
            && timeline.contains("amount: 20 → 120"),
        "{timeline}"
    );

    browser.close().await;
    app.stop().await;
}

async fn log_in_api(app: &TestApp, email: &str) -> String {
    let response = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    testkit::json(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The ticket numbers of the list's rows, top to bottom.
async fn numbers(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for row in client
        .find_all(Locator::Css("#tickets tbody tr[data-number]"))
        .await
        .unwrap()
    {
        out.push(row.attr("data-number").await.unwrap().unwrap());
    }
    out
}

#[tokio::test]
async fn tickets_are_sorted_commented_attached_cancelled_and_tasks_released_and_assigned() {
    let app = spawn_app().await;
    purchase_desk(&app, json!({"approved": {"$eq": true}})).await;
    let rita = log_in_api(&app, "rita@acme.io").await;
    let types = api(
        &app,
        &rita,
        "GET",
        "/api/v1/ticket-types/available",
        json!({}),
    )
    .await;
    let type_id = types["items"][0]["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for (amount, reason) in [(100, "Chairs"), (300, "Desks")] {
        let ticket = api(
            &app,
            &rita,
            "POST",
            "/api/v1/tickets",
            json!({"ticket_type_id": type_id, "data": {"amount": amount, "reason": reason}}),
        )
        .await;
        ids.push(ticket["id"].as_str().unwrap().to_owned());
    }
    // Lists page through every sort with their cursors.
    for sort in ["created", "updated", "number"] {
        let mut seen = Vec::new();
        let mut path = format!("/api/v1/tickets?limit=1&sort={sort}");
        loop {
            let page = api(&app, &rita, "GET", &path, json!({})).await;
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["number"].clone()),
            );
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    path = format!("/api/v1/tickets?limit=1&sort={sort}&cursor={cursor}")
                }
                None => break,
            }
        }
        assert_eq!(seen, [json!(2), json!(1)], "{sort}");
    }
    let note = app.db.dir.path().join("floor plan.txt");
    std::fs::write(&note, "room 4").unwrap();
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;

    log_in(client, &app, "rita@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='My tickets']").await;
    text_with(client, "#tickets", "#2").await;
    assert_eq!(numbers(client).await, ["2", "1"]);
    // A comment on #1 makes it the most recently updated.
    click(client, "//table[@id='tickets']//a[text()='#1']").await;
    text_with(client, "h1", "#1").await;
    assert!(
        client
            .find(Locator::Css("#comment-form input[name='internal']"))
            .await
            .is_err(),
        "requesters write no internal notes"
    );
    fill_in(client, "#comment-form", "body", "Any news?").await;
    submit_in(client, "#comment-form").await;
    flash(client, "Your comment was added.").await;
    text_with(client, "#comment-list", "Any news?").await;
    client
        .find(Locator::Css("#attach-form input[name='attachments']"))
        .await
        .unwrap()
        .send_keys(note.to_str().unwrap())
        .await
        .unwrap();
    submit_in(client, "#attach-form").await;
    flash(client, "Attached floor plan.txt.").await;
    text_with(client, "#attachment-list", "floor plan.txt").await;
    click(client, "//nav//a[text()='My tickets']").await;
    click(client, "//a[text()='Updated']").await;
    text_with(client, "strong", "Updated").await;
    assert_eq!(numbers(client).await, ["1", "2"]);
    click(client, "//a[text()='Number']").await;
    text_with(client, "strong", "Number").await;
    assert_eq!(numbers(client).await, ["2", "1"]);

    // #2 is no longer needed.
    click(client, "//table[@id='tickets']//a[text()='#2']").await;
    text_with(client, "h1", "#2").await;
    client
        .execute("window.confirm = () => true", vec![])
        .await
        .unwrap();
    click(client, "//button[text()='Cancel ticket']").await;
    flash(client, "Ticket #2 was cancelled.").await;
    assert_eq!(
        text_with(client, "#ticket-status", "CANCELLED").await,
        "CANCELLED"
    );
    assert!(text_of(client, "#ticket-tasks").await.contains("CANCELLED"));
    log_out(client).await;

    // The reviewer takes #1's review, then gives it back.
    log_in(client, &app, "victor@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='My tasks']").await;
    let queue = text_with(client, "#task-queue", "#1").await;
    assert!(
        !queue.contains("#2"),
        "cancelled tasks are not offered: {queue}"
    );
    click(client, "//table[@id='task-queue']//button[text()='Claim']").await;
    flash(client, "is yours now").await;
    click(client, "//button[text()='Give back to the queue']").await;
    flash(client, "is back in the queue").await;
    text_with(client, "#task-queue", "#1").await;
    text_with(client, "#my-tasks", "Nothing on your plate.").await;
    log_out(client).await;

    // A ticket admin hands it to him.
    log_in(client, &app, "ada@acme.io", "correct horse 42").await;
    click(client, "//nav//a[text()='All tasks']").await;
    text_with(client, "#all-tasks", "#1").await;
    client
        .goto(&app.url("/tasks/all?status=OPEN"))
        .await
        .unwrap();
    let open = text_with(client, "#all-tasks", "#1").await;
    assert!(!open.contains("#2"), "{open}");
    click(
        client,
        "//table[@id='all-tasks']//a[text()='Review the request']",
    )
    .await;
    text_with(client, "h1", "Review the request").await;
    client
        .find(Locator::Css("#assign-form select[name='user_id']"))
        .await
        .unwrap()
        .select_by_label("Victor Acme")
        .await
        .unwrap();
    submit_in(client, "#assign-form").await;
    flash(client, "was assigned").await;
    assert_eq!(text_of(client, "#task-holder").await, "Victor Acme");
    click(client, "//p[@id='task-summary']//a[contains(text(), '#1')]").await;
    let timeline = text_with(client, "#timeline", "was assigned to").await;
    for expected in [
        "Rita Acme commented",
        "Rita Acme attached floor plan.txt",
        "Victor Acme gave “Review the request” back to the queue",
        "Ada Admin “Review the request” was assigned to Victor Acme",
    ] {
        assert!(timeline.contains(expected), "{expected} in\n{timeline}");
    }
    // Only workers who may do the task can be given it: Bea holds the wrong role.
    let task = api(
        &app,
        &log_in_api(&app, "victor@acme.io").await,
        "GET",
        "/api/v1/tasks?mine=true",
        json!({}),
    )
    .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    client
        .goto(&app.url(&format!("/tasks/{task}")))
        .await
        .unwrap();
    client
        .find(Locator::Css("#assign-form select[name='user_id']"))
        .await
        .unwrap()
        .select_by_label("Bea Acme")
        .await
        .unwrap();
    submit_in(client, "#assign-form").await;
    flash(client, "may not work this task").await;
    assert_eq!(text_of(client, "#task-holder").await, "Victor Acme");
    let _ = ids;

    browser.close().await;
    app.stop().await;
}

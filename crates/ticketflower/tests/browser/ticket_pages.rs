//! The ticket runtime in a browser, as the people who use it: a requester submits a
//! purchase through the form generated from its ticket type (a mistake first), a reviewer
//! claims and approves it, a buyer claims and completes the branch the approval chose, and
//! the requester finds it done in the archive with its timeline. A ticket admin finds it
//! among all tickets, and retries a workflow that stopped.

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use testkit::browser::Browser;
use testkit::fixtures::{PASSWORD, purchase_desk, when_approved};
use testkit::{TestApp, spawn_app};

use super::identity_pages::{click, fill_in, flash, log_in, log_out, submit_in};
use super::{text_of, text_with, value_of, wait_for_path};

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
    assert_eq!(error, "Reason is required.");
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
    // The summary line tells this purchase from the others.
    assert_eq!(
        text_of(client, "h1").await,
        "#1 A laptop for the new designer (250 EUR)"
    );
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
    assert!(tasks.contains("Open"), "{tasks}");
    // The requester reads where it stands in words, not the workflow's graph.
    assert_eq!(text_of(client, "#ticket-status").await, "Being processed");
    assert!(client.find(Locator::Css("#ticket-graph")).await.is_err());
    log_out(client).await;
}

#[tokio::test]
async fn a_purchase_goes_from_submission_through_review_and_buying_to_done() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let admin = &desk.company.admin;
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
    // A required yes-or-no is asked, not pre-answered: Yes and No, neither chosen.
    let choices = client
        .find_all(fantoccini::Locator::XPath(
            "//fieldset[contains(@class, 'yesno')]//input[@name='output.approved']",
        ))
        .await
        .unwrap();
    assert_eq!(choices.len(), 2);
    for choice in &choices {
        assert!(!choice.is_selected().await.unwrap());
    }
    click(client, "//input[@name='output.approved' and @value='true']").await;
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
    text_with(client, "h1", "#1 A laptop").await;
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
    // Too short: the output schema's rule comes back next to the field. Buying ends the
    // ticket, so each completion asks first.
    fill_in(client, "#task-form", "output.done_note", "ok").await;
    skip_browser_checks(client, "#task-form").await;
    submit_in(client, "#task-form").await;
    assert_eq!(
        client.get_alert_text().await.unwrap(),
        "Completing “Buy it” ends ticket #1: Done. Complete it?"
    );
    client.accept_alert().await.unwrap();
    let error = text_of(client, "[data-field='done_note'] .field-error").await;
    assert_eq!(error, "What was bought must be at least 5 characters.");
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
    client.accept_alert().await.unwrap();
    flash(client, "“Buy it” is done.").await;
    log_out(client).await;

    // The requester finds it done in the archive, with how it got there.
    log_in(client, &app, "rita@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='My tickets']").await;
    wait_for_path(client, "/tickets").await;
    text_with(client, "#tickets", "No tickets here yet.").await;
    click(client, "//nav[@id='ticket-tabs']//a[text()='Archive']").await;
    let archive = text_with(client, "#tickets", "#1").await;
    assert!(archive.contains("Done"), "{archive}");
    click(client, "//table[@id='tickets']//a[text()='#1']").await;
    assert_eq!(text_with(client, "#ticket-status", "Done").await, "Done");
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
    let ticket = href.split('/').nth(2).unwrap();
    let before = admin.ticket(ticket).await.expect(200);
    assert!(before["closed_at"].is_string(), "{before}");
    let data = json!({"reason": "A laptop and a docking station"});
    let after = admin.correct_ticket(ticket, data).await.expect(200);
    assert_eq!(after["closed_at"], before["closed_at"]);
    // The API's list filters: words of the corrected data, and workflow fields.
    for query in [
        "q=docking",
        "field.approved=true",
        "field.amount=250",
        "status=COMPLETED",
    ] {
        let found = admin.tickets(query).await.expect(200);
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
        let found = admin.tickets(query).await.expect(200);
        assert_eq!(found["items"], json!([]), "{query}");
    }

    // A ticket admin reads its status and how far the workflow got on its graph.
    log_in(client, &app, "ada@acme.io", PASSWORD).await;
    client
        .goto(&app.url(&format!("/tickets/{ticket}")))
        .await
        .unwrap();
    assert_eq!(text_of(client, "#ticket-status").await, "Done");
    assert_eq!(
        svg_title(client, "#ticket-graph g.finish.done").await,
        "COMPLETED — done"
    );
    let done = client
        .find_all(Locator::Css("#ticket-graph g.form.done"))
        .await
        .unwrap();
    assert_eq!(done.len(), 2);

    // A ticket admin finds it among all tickets by a word of its data.
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
    text_with(client, "#tickets", "No ticket matches “bicycle”").await;
    // Filters combine: done tickets Victor worked on, of this type.
    client
        .find(Locator::Css("#ticket-filters select[name='assignee']"))
        .await
        .unwrap()
        .select_by_label("Victor Acme")
        .await
        .unwrap();
    fill_in(client, "#ticket-filters", "q", "").await;
    // The status filter offers the statuses the company's tickets are in, in words.
    let statuses = client
        .find(Locator::Css("#ticket-filters select[name='status']"))
        .await
        .unwrap();
    assert_eq!(
        statuses
            .text()
            .await
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["any", "Done"]
    );
    statuses.select_by_value("COMPLETED").await.unwrap();
    submit_in(client, "#ticket-filters").await;
    wait_for_query(client, "status=COMPLETED").await;
    text_with(client, "#tickets", "#1").await;
    let url = client.current_url().await.unwrap();
    client
        .goto(
            url.as_str()
                .replace("status=COMPLETED", "status=REJECTED")
                .as_str(),
        )
        .await
        .unwrap();
    wait_for_query(client, "status=REJECTED").await;
    text_with(client, "#tickets", "No ticket matches").await;
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
    let desk = purchase_desk(
        &app,
        json!({"$and": [{"approved": {"$eq": true}}, {"amount": {"$gte": 100}}]}),
    )
    .await;
    let admin = &desk.company.admin;
    let ticket = admin
        .submit_ticket(&desk.type_id, json!({"amount": 20, "reason": "Pens"}))
        .await
        .expect(201);
    let ticket_id = testkit::id(&ticket);
    let task = ticket["tasks"][0]["id"].as_str().unwrap();
    let victor = &desk.reviewer.api;
    victor.claim_task(task).await.expect(200);
    victor
        .complete_task(task, json!({"approved": true}))
        .await
        .expect(200);

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, "ada@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='Workflow errors']").await;
    wait_for_path(client, "/workflow-errors").await;
    let errors = text_with(client, "#workflow-errors", "#1").await;
    assert!(errors.contains("New"), "{errors}");
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
    text_with(client, "#workflow-errors", "New").await;
    admin
        .correct_ticket(&ticket_id, json!({"amount": 120}))
        .await
        .expect(200);
    click(client, "//button[text()='Retry']").await;
    flash(client, "Retried").await;
    text_with(client, "#workflow-errors", "No errors here.").await;
    client
        .goto(&app.url(&format!("/tickets/{ticket_id}")))
        .await
        .unwrap();
    let tasks = text_with(client, "#ticket-tasks", "Buy it").await;
    assert!(tasks.contains("Open"), "{tasks}");
    assert!(client.find(Locator::Css("#on-hold")).await.is_err());
    assert_eq!(
        svg_title(client, "#ticket-graph g.active").await,
        "Buy it (FORM) — in progress"
    );
    let timeline = text_of(client, "#timeline").await;
    assert!(
        timeline.contains("Ada Admin retried the workflow")
            && timeline.contains("amount: 20 → 120"),
        "{timeline}"
    );

    browser.close().await;
    app.stop().await;
}

/// Saying no to a purchase ends the ticket, so the reviewer is asked first: dismissed,
/// nothing is sent; agreed, the ticket ends and its requester reads it in words
/// (issue 15, defect 1).
#[tokio::test]
async fn a_decision_that_ends_the_ticket_asks_first() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let rita = &desk.requester.api;
    let ticket = rita
        .submit_ticket(&desk.type_id, json!({"amount": 90, "reason": "A plant"}))
        .await
        .expect(201);
    let ticket_id = testkit::id(&ticket);
    let task = ticket["tasks"][0]["id"].as_str().unwrap().to_owned();
    let victor = &desk.reviewer.api;
    victor.claim_task(&task).await.expect(200);

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, "victor@acme.io", PASSWORD).await;
    client
        .goto(&app.url(&format!("/tasks/{task}")))
        .await
        .unwrap();
    // Approving leads on to the buyers: no question.
    click(client, "//input[@name='output.approved' and @value='true']").await;
    let asks = client
        .execute(
            "return endingQuestion(document.querySelector('#task-form'))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(asks, "", "approving asks nothing");

    click(
        client,
        "//input[@name='output.approved' and @value='false']",
    )
    .await;
    fill_in(client, "#task-form", "output.note", "Not in the budget.").await;
    submit_in(client, "#task-form").await;
    assert_eq!(
        client.get_alert_text().await.unwrap(),
        "Approve the purchase “no” ends ticket #1: Rejected. Complete the task with it?"
    );
    client.dismiss_alert().await.unwrap();
    assert!(client.find(Locator::Css("#flash")).await.is_err());
    let still = victor.task(&task).await.expect(200);
    assert_eq!(still["status"], "IN_PROGRESS", "nothing was sent: {still}");

    submit_in(client, "#task-form").await;
    client.accept_alert().await.unwrap();
    flash(client, "“Review the request” is done.").await;
    let ended = rita.ticket(&ticket_id).await.expect(200);
    assert_eq!(ended["status"], "REJECTED", "{ended}");
    log_out(client).await;

    log_in(client, &app, "rita@acme.io", PASSWORD).await;
    client
        .goto(&app.url(&format!("/tickets/{ticket_id}")))
        .await
        .unwrap();
    assert_eq!(text_of(client, "#ticket-status").await, "Rejected");

    browser.close().await;
    app.stop().await;
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
    let desk = purchase_desk(&app, when_approved()).await;
    let rita = &desk.requester.api;
    let types = rita.available_ticket_types().await.expect(200);
    let type_id = types["items"][0]["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for (amount, reason) in [(100, "Chairs"), (300, "Desks")] {
        let data = json!({"amount": amount, "reason": reason});
        let ticket = rita.submit_ticket(type_id, data).await.expect(201);
        ids.push(testkit::id(&ticket));
    }
    // Lists page through every sort with their cursors.
    for sort in ["created", "updated", "number"] {
        let mut seen = Vec::new();
        let mut query = format!("limit=1&sort={sort}");
        loop {
            let page = rita.tickets(&query).await.expect(200);
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["number"].clone()),
            );
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("limit=1&sort={sort}&cursor={cursor}"),
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
        text_with(client, "#ticket-status", "Cancelled").await,
        "Cancelled"
    );
    assert!(text_of(client, "#ticket-tasks").await.contains("Cancelled"));
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
    log_in(client, &app, "ada@acme.io", PASSWORD).await;
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
    let mine = desk.reviewer.api.tasks("mine=true").await.expect(200);
    let task = mine["items"][0]["id"].as_str().unwrap();
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
    // Refused next to the choice, which stays chosen.
    let refused = text_of(client, "#assign-worker-error").await;
    assert!(refused.starts_with("May not work this task"), "{refused}");
    let chosen = client
        .find(Locator::Css(
            "#assign-form select[name='user_id'] option:checked",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(chosen, "Bea Acme");
    assert_eq!(text_of(client, "#task-holder").await, "Victor Acme");
    let _ = ids;

    browser.close().await;
    app.stop().await;
}

/// The document review sends the document back to its author (issue 15, defect 2): the
/// author, who is no task worker, sees the ticket waiting on them in their list and on its
/// page, follows the page's call to action to the edit form, and sends the document back to
/// review.
#[tokio::test]
async fn the_author_revises_a_document_the_ticket_waits_on_them_for() {
    let app = spawn_app().await;
    let acme = testkit::fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    acme.add_roles(&["reviewers"]).await;
    let rita = acme
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    let victor = acme
        .add_member("victor@acme.io", "Victor", &["task_worker"], &["reviewers"])
        .await;
    let bundle = include_str!("../../../../examples/bundles/document-review.yaml");
    let imported = acme.admin.import_bundle_yaml(bundle, "").await.expect(201);
    let workflow = imported["workflow_id"].as_str().unwrap();
    acme.admin.publish_workflow(workflow).await.expect(200);
    let type_id = imported["ticket_type_ids"]["review_request"]
        .as_str()
        .unwrap();
    let data = json!({"document_url": "https://docs.example.com/plan", "summary": "The plan"});
    rita.api.submit_ticket(type_id, data).await.expect(201);
    let review = victor.api.tasks("mine=true").await.expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = json!({"decision": "revise", "review_comments": "Add the budget"});
    victor.api.complete_task(&review, output).await.expect(200);

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let client = &browser.client;
    log_in(client, &app, "rita@acme.io", PASSWORD).await;
    click(client, "//nav//a[text()='My tickets']").await;
    // A requester reads the plain progress, not the status.
    let row = text_with(client, "#tickets tr[data-number='1']", "Waiting on you").await;
    assert!(!row.contains("OPEN"), "{row}");
    click(client, "//table[@id='tickets']//a[text()='#1']").await;
    let waiting = text_of(client, "#waiting-on-you").await;
    assert!(waiting.contains("Edit the document"), "{waiting}");
    let tasks = text_of(client, "#ticket-tasks").await;
    assert!(tasks.contains("Rita Acme"), "{tasks}");
    assert!(
        text_of(client, "#timeline")
            .await
            .contains("“Edit the document” was assigned to Rita Acme")
    );

    click(
        client,
        "//section[@id='waiting-on-you']//a[text()='Edit the document']",
    )
    .await;
    text_with(client, "h1", "Edit the document").await;
    assert_eq!(text_of(client, "#task-holder").await, "Rita Acme");
    let input = text_of(client, "#task-input").await;
    assert!(input.contains("Add the budget"), "{input}");
    // The task is hers to do, not to hand to the reviewers' queue.
    assert!(
        client
            .find(Locator::XPath("//button[text()='Give back to the queue']"))
            .await
            .is_err()
    );
    fill_in(client, "#task-form", "output.revision_note", "Budget added").await;
    submit_in(client, "#task-form").await;
    flash(client, "“Edit the document” is done.").await;
    text_with(client, "h1", "#1 Review: The plan").await;
    assert!(client.find(Locator::Css("#waiting-on-you")).await.is_err());
    let tasks = text_of(client, "#ticket-tasks").await;
    assert_eq!(tasks.matches("Review the document").count(), 2, "{tasks}");
    click(client, "//nav//a[text()='My tickets']").await;
    let row = text_of(client, "#tickets tr[data-number='1']").await;
    assert!(!row.contains("Waiting on you"), "{row}");

    browser.close().await;
    app.stop().await;
}

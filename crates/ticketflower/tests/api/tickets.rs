//! The ticket runtime over HTTP: submission (validation, idempotency), the engine over the
//! example bundles, claiming and completing tasks, workflow errors and retry, search,
//! attachments, and actions through a local receiver (failures, timeouts, the SSRF guard).
//! Another company's tickets, tasks and files are probed in `tenancy.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{TestApp, json, spawn_app, spawn_app_with};

use crate::common::{EXAMPLE_ROLES, add_roles, create_user, login_ok, send, signup};

const DOC_REVIEW: &str = include_str!("../../../../examples/bundles/document-review.yaml");

/// Imports and publishes a bundle (YAML or JSON text); returns the import answer.
async fn publish(app: &TestApp, token: &str, bundle: &str) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/design/bundles"))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(bundle.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let created = json(response).await;
    let path = format!(
        "/api/v1/design/workflows/{}/publish",
        created["workflow_id"].as_str().unwrap()
    );
    let response = send(app, Method::POST, &path, token, None).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    created
}

/// Publishes a JSON bundle whose one ticket type has key `t`; returns that type's id.
async fn publish_type(app: &TestApp, token: &str, bundle: &Value) -> String {
    let created = publish(app, token, &bundle.to_string()).await;
    created["ticket_type_ids"]["t"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned()
}

pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let response = send(app, method, path, token, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Posts a multipart form with a bearer token.
async fn post_form(
    app: &TestApp,
    path: &str,
    token: &str,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn user_token(app: &TestApp, admin: &str, email: &str, roles: &[&str]) -> (String, String) {
    let id = create_user(app, admin, email, roles).await;
    let token = login_ok(app, email, crate::common::PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, token)
}

/// Gives a user company roles through the admin API.
async fn grant(app: &TestApp, admin: &str, user: &str, roles: &[&str]) {
    let (status, body) = call(
        app,
        Method::PUT,
        &format!("/api/v1/users/{user}/roles"),
        admin,
        Some(json!({ "company_roles": roles, "system_roles": ["user", "task_worker"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

pub(crate) async fn task_of(app: &TestApp, token: &str, ticket: &str, key: &str) -> Value {
    let (_, ticket) = call(
        app,
        Method::GET,
        &format!("/api/v1/tickets/{ticket}"),
        token,
        None,
    )
    .await;
    ticket["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|t| t["task_key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("no task {key} in {ticket}"))
}

pub(crate) struct Desk {
    pub app: TestApp,
    pub admin: String,
    pub requester: String,
    pub reviewer: String,
    pub reviewer_id: String,
    pub type_id: String,
}

/// A company with the document review workflow published, a requester and a reviewer.
pub(crate) async fn desk() -> Desk {
    desk_with(|_, jobs| jobs).await
}

/// [`desk`] on a server whose settings the test adjusts first.
pub(crate) async fn desk_with(
    configure: impl FnOnce(
        &mut app::Settings,
        app::infra::jobs::JobRegistry,
    ) -> app::infra::jobs::JobRegistry,
) -> Desk {
    let app = testkit::spawn_app_with(configure).await;
    let admin = signup(&app, "Acme", "ada@acme.io").await.access;
    add_roles(&app, &admin, &EXAMPLE_ROLES).await;
    let created = publish(&app, &admin, DOC_REVIEW).await;
    let type_id = created["ticket_type_ids"]["review_request"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let (_, requester) = user_token(&app, &admin, "rita@acme.io", &["user"]).await;
    let (reviewer_id, _) = user_token(&app, &admin, "rob@acme.io", &["user", "task_worker"]).await;
    grant(&app, &admin, &reviewer_id, &["reviewers"]).await;
    let reviewer = login_ok(&app, "rob@acme.io", crate::common::PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    Desk {
        app,
        admin,
        requester,
        reviewer,
        reviewer_id,
        type_id,
    }
}

impl Desk {
    /// The requester submits a document review; returns the created ticket.
    pub(crate) async fn submit_review(&self) -> Value {
        let body = json!({ "ticket_type_id": self.type_id, "data": review_data() });
        let (status, ticket) = call(
            &self.app,
            Method::POST,
            "/api/v1/tickets",
            &self.requester,
            Some(body),
        )
        .await;
        assert_eq!(status, 201, "{ticket}");
        ticket
    }
}

pub(crate) fn review_data() -> Value {
    json!({ "document_url": "https://docs.example.com/plan", "summary": "Quarterly plan for the zeppelin fleet" })
}

#[tokio::test]
async fn the_document_review_loop_runs_to_its_end_status() {
    let d = desk().await;
    let (status, types) = call(
        &d.app,
        Method::GET,
        "/api/v1/ticket-types/available",
        &d.requester,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(types["items"].as_array().unwrap().len(), 1, "{types}");

    let ticket = d.submit_review().await;
    assert_eq!(ticket["number"], 1);
    let id = ticket["id"].as_str().unwrap().to_owned();
    // The review task is auto-assigned to the only eligible worker.
    let review = task_of(&d.app, &d.requester, &id, "review").await;
    assert_eq!(review["assigned_to"], d.reviewer_id, "{review}");

    // A decision outside the form's enum is refused, naming the field.
    let path = format!("/api/v1/tasks/{}/complete", review["id"].as_str().unwrap());
    let (status, problem) = call(
        &d.app,
        Method::POST,
        &path,
        &d.reviewer,
        Some(json!({ "output": { "decision": "maybe" } })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"],
        json!([{"field": "output/decision", "message": "Decision must be one of: accept, revise"}]),
        "{problem}"
    );
    // The requester may not complete someone else's task.
    let (status, _) = call(
        &d.app,
        Method::POST,
        &path,
        &d.requester,
        Some(json!({ "output": { "decision": "accept" } })),
    )
    .await;
    assert!(status == 403 || status == 404, "{status}");

    // Revise: the edit task goes back to the requester (see `personal_tasks.rs`).
    let (status, done) = call(
        &d.app,
        Method::POST,
        &path,
        &d.reviewer,
        Some(json!({ "output": { "decision": "revise", "review_comments": "More numbers" } })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let (_, ticket) = call(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets/{id}"),
        &d.requester,
        None,
    )
    .await;
    assert_eq!(ticket["workflow_data"]["decision"], "revise");
    assert_eq!(ticket["workflow_status"], "IN_PROGRESS", "{ticket}");
    let open: Vec<&Value> = ticket["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "OPEN" || t["status"] == "IN_PROGRESS")
        .collect();
    assert_eq!(open.len(), 1, "{ticket}");
    assert_eq!(open[0]["task_key"], "edit");

    // The timeline has the submission, the tasks and the field history.
    let (_, timeline) = call(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets/{id}/timeline"),
        &d.requester,
        None,
    )
    .await;
    // The events come with the database's epoch: their ids are cursors within it.
    let epoch = store::events::epoch(d.app.app.db()).await.unwrap();
    assert_eq!(timeline["epoch"], epoch.as_str(), "{timeline}");
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "ticket.submitted", "{kinds:?}");
    assert!(
        kinds.contains(&"task.completed") && kinds.contains(&"task.created"),
        "{kinds:?}"
    );
    let completed = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "task.completed")
        .unwrap();
    assert_eq!(
        completed["payload"]["changes"][0]["field"], "decision",
        "{completed}"
    );
}

/// Each view says what its caller may do, from the same rules the use cases enforce: the
/// pages draw their buttons from these and nothing else.
#[tokio::test]
async fn views_carry_what_their_caller_may_do() {
    let d = desk().await;
    let ticket = d.submit_review().await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ticket["actions"],
        json!({"cancel": true, "correct": false, "comment": true, "note": false, "details": false}),
        "the requester: {ticket}"
    );
    let get = |token: &str, path: String| {
        let app = &d.app;
        let token = token.to_owned();
        async move { call(app, Method::GET, &path, &token, None).await.1 }
    };
    let as_admin = get(&d.admin, format!("/api/v1/tickets/{id}")).await;
    assert_eq!(
        as_admin["actions"],
        json!({"cancel": true, "correct": true, "comment": true, "note": true, "details": true}),
        "a ticket admin: {as_admin}"
    );

    // The review is the reviewer's: they complete or release it; the admin assigns it.
    let review = task_of(&d.app, &d.reviewer, &id, "review").await;
    let task = format!("/api/v1/tasks/{}", review["id"].as_str().unwrap());
    let holder = get(&d.reviewer, task.clone()).await;
    assert_eq!(
        holder["actions"],
        json!({"claim": false, "release": true, "assign": false, "complete": true}),
        "the holder: {holder}"
    );
    let admin = get(&d.admin, task.clone()).await;
    assert_eq!(
        admin["actions"],
        json!({"claim": false, "release": true, "assign": true, "complete": false}),
        "a ticket admin: {admin}"
    );
    // Released, it may be claimed by an eligible worker, and nothing more.
    let (status, released) = call(
        &d.app,
        Method::POST,
        &format!("{task}/release"),
        &d.reviewer,
        None,
    )
    .await;
    assert_eq!(status, 200, "{released}");
    let queued = get(&d.reviewer, task.clone()).await;
    assert_eq!(
        queued["actions"],
        json!({"claim": true, "release": false, "assign": false, "complete": false}),
        "in the queue: {queued}"
    );

    // Once cancelled, the ticket offers nothing but comments and notes.
    let (status, cancelled) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/tickets/{id}/cancel"),
        &d.requester,
        None,
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(
        cancelled["actions"],
        json!({"cancel": false, "correct": false, "comment": true, "note": false, "details": false}),
        "{cancelled}"
    );
}

/// Auto-assignment gives each review to the reviewer with the fewest open tasks, breaking
/// ties by who was given one longest ago, and never to a worker without the task's role.
#[tokio::test]
async fn auto_assignment_takes_turns_by_queue_length_among_role_holders() {
    let d = desk().await;
    let (ria_id, ria) = user_token(&d.app, &d.admin, "ria@acme.io", &["user", "task_worker"]).await;
    grant(&d.app, &d.admin, &ria_id, &["reviewers"]).await;
    let (wes_id, _) = user_token(&d.app, &d.admin, "wes@acme.io", &["user", "task_worker"]).await;
    let rob_id = d.reviewer_id.clone();

    let submit = || async {
        let ticket = d.submit_review().await;
        let id = ticket["id"].as_str().unwrap().to_owned();
        let review = task_of(&d.app, &d.admin, &id, "review").await;
        (
            review["id"].as_str().unwrap().to_owned(),
            review["assigned_to"]
                .as_str()
                .unwrap_or_else(|| panic!("{review}"))
                .to_owned(),
        )
    };
    let mut first_four = Vec::new();
    for _ in 0..4 {
        first_four.push(submit().await);
    }
    let holders: Vec<&str> = first_four.iter().map(|(_, who)| who.as_str()).collect();
    // Equal queues alternate; the worker without the role gets nothing.
    assert_ne!(holders[0], holders[1], "{holders:?}");
    assert_eq!(holders[0], holders[2], "{holders:?}");
    assert_eq!(holders[1], holders[3], "{holders:?}");
    assert!(!holders.contains(&wes_id.as_str()), "{holders:?}");
    assert!(holders.contains(&rob_id.as_str()) && holders.contains(&ria_id.as_str()));

    // Whoever got the first review finishes both of theirs: their queue is empty, so the
    // next two reviews go to them even though they were given one most recently...
    let first = holders[0].to_owned();
    let token = if first == rob_id { &d.reviewer } else { &ria };
    for (task, who) in &first_four {
        if *who == first {
            let path = format!("/api/v1/tasks/{task}/complete");
            let (status, body) = call(
                &d.app,
                Method::POST,
                &path,
                token,
                Some(json!({ "output": { "decision": "accept" } })),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    assert_eq!(submit().await.1, first);
    assert_eq!(submit().await.1, first);
    // ...and with two open each, the tie goes to the one who waited longer.
    let other = if first == rob_id { &ria_id } else { &rob_id };
    assert_eq!(&submit().await.1, other);
}

/// Ticket data that breaks the ticket type's schema is refused in words a requester reads,
/// led by the field's title; `errors[].field` stays the JSON path (issue 15, defect 9).
#[tokio::test]
async fn a_bad_link_in_ticket_data_is_refused_in_plain_words() {
    let d = desk().await;
    let body = json!({
        "ticket_type_id": d.type_id,
        "data": { "document_url": "the shared drive", "summary": "Plan" }
    });
    let (status, problem) = call(
        &d.app,
        Method::POST,
        "/api/v1/tickets",
        &d.requester,
        Some(body),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"],
        json!([{
            "field": "data/document_url",
            "message": "Document must be a web address (https://…)"
        }]),
        "{problem}"
    );
    assert!(!problem.to_string().contains("\\\"uri\\\""), "{problem}");

    // A required field left out, whose title is a question: named, quoted.
    let body = json!({
        "ticket_type_id": d.type_id,
        "data": { "document_url": "https://docs.example.com/plan" }
    });
    let (status, problem) = call(
        &d.app,
        Method::POST,
        "/api/v1/tickets",
        &d.requester,
        Some(body),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"],
        json!([{"field": "data/summary", "message": "“What should be reviewed?” is required"}]),
        "{problem}"
    );
}

#[tokio::test]
async fn submissions_are_validated_and_idempotent() {
    let d = desk().await;
    // Every violation is listed, and nothing is written.
    let body = json!({ "ticket_type_id": d.type_id, "data": { "summary": 42 } });
    let (status, problem) = call(
        &d.app,
        Method::POST,
        "/api/v1/tickets",
        &d.requester,
        Some(body),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.iter().any(|f| f.starts_with("data/summary")),
        "{fields:?}"
    );
    assert!(
        fields
            .iter()
            .any(|f| *f == "data" || f.contains("document_url")),
        "{fields:?}"
    );
    let (_, list) = call(&d.app, Method::GET, "/api/v1/tickets", &d.admin, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    // The same key, sent five times at once and once more later, makes one ticket.
    let mut requests = Vec::new();
    for _ in 0..5 {
        let request = d
            .app
            .client
            .post(d.app.url("/api/v1/tickets"))
            .bearer_auth(&d.requester)
            .header("Idempotency-Key", "submit-1")
            .json(&json!({ "ticket_type_id": d.type_id, "data": review_data() }))
            .send();
        requests.push(request);
    }
    let responses = futures::future::join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        let response = response.unwrap();
        assert!(
            matches!(response.status().as_u16(), 200 | 201),
            "{}",
            response.status()
        );
        ids.push(json(response).await["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (_, list) = call(&d.app, Method::GET, "/api/v1/tickets", &d.admin, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Another key is another ticket, with the next number.
    let response = d
        .app
        .client
        .post(d.app.url("/api/v1/tickets"))
        .bearer_auth(&d.requester)
        .header("Idempotency-Key", "submit-2")
        .json(&json!({ "ticket_type_id": d.type_id, "data": review_data() }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(json(response).await["number"], 2);
}

/// A ticket takes its number last, just before its commit; concurrent submissions still get
/// one number each, with no gap and no repeat, and each `ticket.submitted` names its
/// ticket's number. A submission refused after its insert (a duplicate idempotency key)
/// takes none.
#[tokio::test]
async fn concurrent_submissions_are_numbered_without_gaps() {
    let d = desk().await;
    let submit = |key: Option<&'static str>| {
        let mut request = d
            .app
            .client
            .post(d.app.url("/api/v1/tickets"))
            .bearer_auth(&d.requester)
            .json(&json!({ "ticket_type_id": d.type_id, "data": review_data() }));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send()
    };
    let mut requests = Vec::new();
    for i in 0..24 {
        // Every third shares one key: one of them makes a ticket, the others none.
        requests.push(submit((i % 3 == 0).then_some("shared")));
    }
    let mut ids = BTreeSet::new();
    for response in futures::future::join_all(requests).await {
        let response = response.unwrap();
        assert!(
            matches!(response.status().as_u16(), 200 | 201),
            "{}",
            response.status()
        );
        ids.insert(json(response).await["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 17, "16 without a key and one for the shared key");

    let mut numbers = Vec::new();
    for id in &ids {
        let (status, ticket) = call(
            &d.app,
            Method::GET,
            &format!("/api/v1/tickets/{id}"),
            &d.requester,
            None,
        )
        .await;
        assert_eq!(status, 200, "{ticket}");
        let number = ticket["number"].as_i64().unwrap();
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
        assert_eq!(submitted["payload"]["number"], number, "{timeline}");
        numbers.push(number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=17).collect::<Vec<i64>>());

    // Searching by number finds each, so the stored number is the one shown.
    let (_, found) = call(
        &d.app,
        Method::GET,
        "/api/v1/tickets?q=%2317",
        &d.admin,
        None,
    )
    .await;
    assert_eq!(found["items"][0]["number"], 17, "{found}");
}

#[tokio::test]
async fn of_many_concurrent_claims_exactly_one_wins() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await.access;
    let bundle = json!({
        "title": "Claims", "fields": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "tasks": [{"key": "work", "name": "Work", "task_type": "FORM", "assignment": "claim",
                   "output_schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}],
        "transitions": [{"key": "go", "to_task": "work"}, {"key": "end", "from_task": "work", "to_status": "COMPLETED"}],
        "ticket_types": [{"key": "t", "title": "T", "fields": {"type": "object", "properties": {"x": {"type": "integer"}}}}]
    });
    let type_id = publish_type(&app, &admin, &bundle).await;
    let (_, ticket) = call(
        &app,
        Method::POST,
        "/api/v1/tickets",
        &admin,
        Some(json!({"ticket_type_id": type_id, "data": {"x": 1}})),
    )
    .await;
    let id = ticket["id"].as_str().unwrap();
    let task = task_of(&app, &admin, id, "work").await;
    let mut workers = Vec::new();
    for n in 0..6 {
        workers.push(
            user_token(
                &app,
                &admin,
                &format!("w{n}@acme.io"),
                &["user", "task_worker"],
            )
            .await
            .1,
        );
    }
    let (_, queue) = call(
        &app,
        Method::GET,
        "/api/v1/tasks?queue=true",
        &workers[0],
        None,
    )
    .await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1, "{queue}");
    let path = format!("/api/v1/tasks/{}/claim", task["id"].as_str().unwrap());
    let claims = workers
        .iter()
        .map(|token| app.client.post(app.url(&path)).bearer_auth(token).send());
    let statuses: Vec<u16> = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        5,
        "{statuses:?}"
    );
    let (_, queue) = call(
        &app,
        Method::GET,
        "/api/v1/tasks?queue=true",
        &workers[0],
        None,
    )
    .await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 0, "{queue}");
}

/// A cancelled ticket takes its open workflow errors with it: nothing is left to retry, and a
/// retry is refused instead of running the step again on a cancelled ticket.
#[tokio::test]
async fn cancelling_a_ticket_resolves_its_errors_and_refuses_a_retry() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await.access;
    let bundle = json!({
        "title": "Gap", "fields": {"type": "object", "properties": {"amount": {"type": "integer"}}},
        "transitions": [
            {"key": "small", "to_status": "SMALL", "condition": {"amount": {"$lt": 100}}},
            {"key": "large", "to_status": "LARGE", "condition": {"amount": {"$gt": 100}}}
        ],
        "ticket_types": [{"key": "t", "title": "T", "fields": {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]}}]
    });
    let type_id = publish_type(&app, &admin, &bundle).await;
    let api = app.api().as_user(&admin);
    let ticket = api
        .submit_ticket(&type_id, json!({"amount": 100}))
        .await
        .expect(201);
    assert_eq!(ticket["workflow_status"], "ON_HOLD", "{ticket}");
    let id = ticket["id"].as_str().unwrap();
    let errors = api.workflow_errors("").await.expect(200);
    let error_id = errors["items"][0]["id"].as_str().unwrap().to_owned();

    let cancelled = api.cancel_ticket(id).await.expect(200);
    assert_eq!(cancelled["status"], "CANCELLED", "{cancelled}");
    let open = api.workflow_errors("").await.expect(200);
    assert_eq!(open["items"], json!([]), "no open error is left: {open}");
    let all = api.workflow_errors("status=RESOLVED").await.expect(200);
    assert_eq!(all["items"][0]["id"], error_id.as_str(), "{all}");

    let refused = api.retry_error(&error_id).await;
    assert_eq!(refused.status, 409, "{refused}");
    let (_, timeline) = call(
        &app,
        Method::GET,
        &format!("/api/v1/tickets/{id}/timeline"),
        &admin,
        None,
    )
    .await;
    let cancel = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "ticket.cancelled")
        .unwrap();
    assert_eq!(cancel["payload"]["errors_resolved"], 1, "{cancel}");
}

/// A retried action is at work until its job ends: the error it resolved says which attempt
/// is running or due, and stops saying so once the job is over (here: refused again, which
/// raises a new error). Workers are off so the test runs each attempt itself.
#[tokio::test]
async fn a_retried_action_shows_its_attempts_until_its_job_ends() {
    let (url, calls) = receiver(vec![], Duration::ZERO, json!({"id": "acct-1"})).await;
    let app = spawn_app_with(|settings, jobs| {
        settings.job_workers = 0;
        jobs
    })
    .await;
    let admin = signup(&app, "Acme", "ada@acme.io").await.access;
    let type_id = publish_type(&app, &admin, &action_bundle(&url)).await;
    let api = app.api().as_user(&admin);
    api.submit_ticket(&type_id, json!({"user": "kim"}))
        .await
        .expect(201);
    // The action is refused (loopback, no allowlist): an incident.
    assert!(app::infra::jobs::run_one(&app.app, "test").await.unwrap());
    let errors = api.workflow_errors("").await.expect(200);
    let error_id = errors["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(errors["items"][0]["retrying"], Value::Null, "{errors}");

    api.retry_error(&error_id).await.expect(200);
    let all = api.workflow_errors("status=RESOLVED").await.expect(200);
    assert_eq!(all["items"][0]["id"], error_id.as_str(), "{all}");
    assert_eq!(
        all["items"][0]["retrying"],
        json!({"attempt": 1, "max_attempts": 5}),
        "{all}"
    );
    // The page lists it with the open errors, with its attempt.
    let page = app
        .client
        .get(app.url("/workflow-errors"))
        .header("cookie", format!("tf_access={admin}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("retrying (attempt 1 of 5)"), "{page}");

    // The attempt is refused again: a new error, and the old one is over.
    assert!(app::infra::jobs::run_one(&app.app, "test").await.unwrap());
    let all = api.workflow_errors("status=RESOLVED").await.expect(200);
    assert_eq!(all["items"][0]["retrying"], Value::Null, "{all}");
    let open = api.workflow_errors("").await.expect(200);
    assert_ne!(open["items"][0]["id"], error_id.as_str(), "{open}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_step_that_cannot_go_on_is_an_error_an_admin_can_retry_after_fixing_data() {
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await.access;
    // Amounts of exactly 100 match neither branch.
    let bundle = json!({
        "title": "Gap", "fields": {"type": "object", "properties": {"amount": {"type": "integer"}}},
        "transitions": [
            {"key": "small", "to_status": "SMALL", "condition": {"amount": {"$lt": 100}}},
            {"key": "large", "to_status": "LARGE", "condition": {"amount": {"$gt": 100}}}
        ],
        "ticket_types": [{"key": "t", "title": "T", "fields": {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]}}]
    });
    let type_id = publish_type(&app, &admin, &bundle).await;
    let (status, ticket) = call(
        &app,
        Method::POST,
        "/api/v1/tickets",
        &admin,
        Some(json!({"ticket_type_id": type_id, "data": {"amount": 100}})),
    )
    .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["workflow_status"], "ON_HOLD", "{ticket}");
    // Held, not ended: the ticket stays OPEN (it used to become "IN_PROGRESS", a status
    // tickets do not have, and dropped out of the open lists).
    assert_eq!(ticket["status"], "OPEN", "{ticket}");
    let id = ticket["id"].as_str().unwrap();
    let (_, errors) = call(&app, Method::GET, "/api/v1/workflow-errors", &admin, None).await;
    let error = &errors["items"][0];
    assert_eq!(error["error_type"], "WORKFLOW_TRANSITION", "{errors}");
    assert_eq!(error["error_status"], "NEW");
    let error_id = error["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/workflow-errors/{error_id}/review"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/tickets/{id}"),
        &admin,
        Some(json!({"data": {"amount": 250}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, retried) = call(
        &app,
        Method::POST,
        &format!("/api/v1/workflow-errors/{error_id}/retry"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["error_status"], "RESOLVED");
    let (_, ticket) = call(
        &app,
        Method::GET,
        &format!("/api/v1/tickets/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(ticket["status"], "LARGE", "{ticket}");
    assert_eq!(ticket["workflow_status"], "COMPLETED");
    let (_, errors) = call(&app, Method::GET, "/api/v1/workflow-errors", &admin, None).await;
    assert_eq!(errors["items"].as_array().unwrap().len(), 0, "{errors}");
}

#[tokio::test]
async fn search_filters_attachments_and_comments() {
    let d = desk().await;
    let first = d.submit_review().await;
    let mut other = review_data();
    other["summary"] = json!("Budget for submarines");
    let (_, second) = call(
        &d.app,
        Method::POST,
        "/api/v1/tickets",
        &d.requester,
        Some(json!({ "ticket_type_id": d.type_id, "data": other })),
    )
    .await;
    let first_id = first["id"].as_str().unwrap();

    let (_, found) = call(
        &d.app,
        Method::GET,
        "/api/v1/tickets?q=zeppelin",
        &d.admin,
        None,
    )
    .await;
    let ids: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first_id], "{found}");
    // Comments are searchable too; internal notes are hidden from the requester.
    let path = format!(
        "/api/v1/tickets/{}/comments",
        second["id"].as_str().unwrap()
    );
    let (status, _) = call(
        &d.app,
        Method::POST,
        &path,
        &d.requester,
        Some(json!({"body": "Please hurry, periscope order pending"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        &d.app,
        Method::POST,
        &path,
        &d.requester,
        Some(json!({"body": "secret", "internal": true})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = call(
        &d.app,
        Method::POST,
        &path,
        &d.admin,
        Some(json!({"body": "Team only", "internal": true})),
    )
    .await;
    assert_eq!(status, 201);
    let (_, seen) = call(&d.app, Method::GET, &path, &d.requester, None).await;
    assert_eq!(seen["items"].as_array().unwrap().len(), 1, "{seen}");
    let (_, found) = call(
        &d.app,
        Method::GET,
        "/api/v1/tickets?q=periscope",
        &d.admin,
        None,
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    // A correction replaces the ticket's searchable text rather than adding to it.
    let (status, body) = call(
        &d.app,
        Method::PATCH,
        &format!("/api/v1/tickets/{first_id}"),
        &d.admin,
        Some(json!({"data": {"summary": "Quarterly plan for the airship fleet"}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for (word, expected) in [("zeppelin", 0), ("airship", 1), ("submarines", 1)] {
        let (_, found) = call(
            &d.app,
            Method::GET,
            &format!("/api/v1/tickets?q={word}"),
            &d.admin,
            None,
        )
        .await;
        assert_eq!(
            found["items"].as_array().unwrap().len(),
            expected,
            "{word}: {found}"
        );
    }
    // Field filters and sorting by number with a cursor.
    let (_, found) = call(
        &d.app,
        Method::GET,
        "/api/v1/tickets?field.summary=Budget%20for%20submarines",
        &d.admin,
        None,
    )
    .await;
    assert_eq!(found["items"][0]["id"], second["id"], "{found}");
    // The list writes each ticket's documents as the database returned them: the same
    // documents as the detail's.
    let (_, detail) = call(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets/{}", second["id"].as_str().unwrap()),
        &d.admin,
        None,
    )
    .await;
    let listed = &found["items"][0];
    assert_eq!(
        listed["data"]["summary"], "Budget for submarines",
        "{found}"
    );
    assert_eq!(listed["data"], detail["data"], "{found}");
    assert_eq!(listed["workflow_data"], detail["workflow_data"], "{found}");
    let (_, page) = call(
        &d.app,
        Method::GET,
        "/api/v1/tickets?sort=number&limit=1",
        &d.admin,
        None,
    )
    .await;
    assert_eq!(page["items"][0]["number"], 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page) = call(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets?sort=number&limit=1&cursor={cursor}"),
        &d.admin,
        None,
    )
    .await;
    assert_eq!(page["items"][0]["number"], 1, "{page}");
    let (status, problem) = call(
        &d.app,
        Method::GET,
        "/api/v1/tickets?sort=sideways&bogus=1",
        &d.admin,
        None,
    )
    .await;
    assert_eq!(status, 422, "{problem}");

    // An attachment is sniffed, stored sealed and served as a download.
    let png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    let form = reqwest::multipart::Form::new().part(
        "attachments",
        reqwest::multipart::Part::bytes(png.clone()).file_name("evil.html"),
    );
    let response = post_form(
        &d.app,
        &format!("/api/v1/tickets/{first_id}/attachments"),
        &d.requester,
        form,
    )
    .await;
    assert_eq!(response.status(), 201);
    let stored = json(response).await;
    assert_eq!(stored["items"][0]["content_type"], "image/png", "{stored}");
    let aid = stored["items"][0]["id"].as_str().unwrap();
    let response = d
        .app
        .get_authed(
            &format!("/api/v1/tickets/{first_id}/attachments/{aid}"),
            &d.requester,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), png);
    // Cancelled by its requester, it moves to the archive.
    let (status, cancelled) = call(
        &d.app,
        Method::POST,
        &format!("/api/v1/tickets/{first_id}/cancel"),
        &d.requester,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "CANCELLED");
    let (_, archive) = call(
        &d.app,
        Method::GET,
        "/api/v1/tickets?active=false",
        &d.requester,
        None,
    )
    .await;
    assert_eq!(archive["items"].as_array().unwrap().len(), 1);
    let _ = &d.reviewer;
}

/// A receiver that answers with the given status codes in turn (then 200 with `answer`),
/// sleeping `delay` on the second call; counts calls and checks signatures.
async fn receiver(
    statuses: Vec<u16>,
    delay: Duration,
    answer: Value,
) -> (String, Arc<AtomicUsize>) {
    use axum::routing::post;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let handler = move |headers: axum::http::HeaderMap, _body: String| {
        let counter = counter.clone();
        let statuses = statuses.clone();
        let answer = answer.clone();
        async move {
            assert!(headers.contains_key("webhook-signature"), "unsigned call");
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n == 1 {
                tokio::time::sleep(delay).await;
            }
            let code = statuses.get(n).copied().unwrap_or(200);
            (
                axum::http::StatusCode::from_u16(code).unwrap(),
                axum::Json(answer),
            )
        }
    };
    let router = axum::Router::new().route("/hook", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, calls)
}

fn action_bundle(url: &str) -> Value {
    json!({
        "title": "Provision", "fields": {"type": "object", "properties": {"user": {"type": "string"}, "account": {"type": "string"}}},
        "tasks": [{"key": "provision", "name": "Provision", "task_type": "SYNC_ACTION", "action_url": url,
                   "timeout_seconds": 1, "input_transform": {"login": "$.user"},
                   "output_transform": {"account": "$.id"},
                   "output_schema": {"type": "object", "properties": {"account": {"type": "string"}}, "required": ["account"]}}],
        "transitions": [{"key": "go", "to_task": "provision"}, {"key": "done", "from_task": "provision", "to_status": "COMPLETED"}],
        "ticket_types": [{"key": "t", "title": "T", "fields": {"type": "object", "properties": {"user": {"type": "string"}}}}]
    })
}

async fn wait_for_ticket(
    app: &TestApp,
    token: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let (_, ticket) = call(
            app,
            Method::GET,
            &format!("/api/v1/tickets/{id}"),
            token,
            None,
        )
        .await;
        if done(&ticket) {
            return ticket;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ticket {id} never got there");
}

#[tokio::test]
async fn an_action_that_fails_then_times_out_then_recovers_completes_once() {
    let (url, calls) = receiver(
        vec![500, 200],
        Duration::from_secs(3),
        json!({"id": "acct-7"}),
    )
    .await;
    let app = spawn_app_with(|settings, mut jobs| {
        settings.outbound_allowlist = vec!["127.0.0.1/32".into()];
        jobs.backoff = domain::backoff::Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
        };
        jobs
    })
    .await;
    let admin = signup(&app, "Acme", "ada@acme.io").await.access;
    let type_id = publish_type(&app, &admin, &action_bundle(&url)).await;
    let (status, ticket) = call(
        &app,
        Method::POST,
        "/api/v1/tickets",
        &admin,
        Some(json!({"ticket_type_id": type_id, "data": {"user": "kim"}})),
    )
    .await;
    assert_eq!(status, 201, "{ticket}");
    let id = ticket["id"].as_str().unwrap();
    let ticket = wait_for_ticket(&app, &admin, id, |t| t["status"] == "COMPLETED").await;
    assert_eq!(ticket["workflow_data"]["account"], "acct-7", "{ticket}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "500, timeout, then success"
    );
    let (_, timeline) = call(
        &app,
        Method::GET,
        &format!("/api/v1/tickets/{id}/timeline"),
        &admin,
        None,
    )
    .await;
    let completions = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task.completed")
        .count();
    assert_eq!(completions, 1);
    // Give a late duplicate a moment: still exactly one completion.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, timeline) = call(
        &app,
        Method::GET,
        &format!("/api/v1/tickets/{id}/timeline"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "task.completed")
            .count(),
        1
    );
}

#[tokio::test]
async fn the_ssrf_guard_refuses_loopback_and_raises_an_incident() {
    let (url, calls) = receiver(vec![], Duration::ZERO, json!({"id": "acct-1"})).await;
    // No allowlist: the receiver on loopback must never be called.
    let app = spawn_app().await;
    let admin = signup(&app, "Acme", "ada@acme.io").await.access;
    let type_id = publish_type(&app, &admin, &action_bundle(&url)).await;
    let (_, ticket) = call(
        &app,
        Method::POST,
        "/api/v1/tickets",
        &admin,
        Some(json!({"ticket_type_id": type_id, "data": {"user": "kim"}})),
    )
    .await;
    let id = ticket["id"].as_str().unwrap();
    let ticket = wait_for_ticket(&app, &admin, id, |t| t["workflow_status"] == "ON_HOLD").await;
    assert_eq!(ticket["tasks"][0]["status"], "ERROR", "{ticket}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let (_, errors) = call(&app, Method::GET, "/api/v1/workflow-errors", &admin, None).await;
    assert_eq!(errors["items"][0]["error_type"], "TASK_UPDATE", "{errors}");
    let message = errors["items"][0]["message"].as_str().unwrap();
    assert!(message.contains("not a public address"), "{errors}");
    // Retrying without an allowlist meets the guard again: a new incident, still no call.
    let error_id = errors["items"][0]["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/workflow-errors/{error_id}/retry"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..100 {
        let (_, errors) = call(&app, Method::GET, "/api/v1/workflow-errors", &admin, None).await;
        if errors["items"].as_array().unwrap().len() == 1 && errors["items"][0]["id"] != error_id {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, errors) = call(&app, Method::GET, "/api/v1/workflow-errors", &admin, None).await;
    assert_ne!(errors["items"][0]["id"], error_id, "{errors}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_multipart_submission_carries_its_attachments() {
    let d = desk().await;
    let form = reqwest::multipart::Form::new()
        .text("ticket_type_id", d.type_id.clone())
        .text("data", review_data().to_string())
        .part(
            "attachments",
            reqwest::multipart::Part::bytes(b"%PDF-1.4\n%\xe2\xe3\n".to_vec())
                .file_name("../../plan.pdf"),
        );
    let response = post_form(&d.app, "/api/v1/tickets", &d.requester, form).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let ticket = json(response).await;
    let id = ticket["id"].as_str().unwrap();
    let (_, files) = call(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets/{id}/attachments"),
        &d.requester,
        None,
    )
    .await;
    assert_eq!(files["items"][0]["file_name"], "plan.pdf", "{files}");
    assert_eq!(
        files["items"][0]["content_type"], "application/pdf",
        "{files}"
    );
    // A bad data part is named and nothing is created.
    let form = reqwest::multipart::Form::new()
        .text("ticket_type_id", d.type_id.clone())
        .text("data", "{not json");
    let response = post_form(&d.app, "/api/v1/tickets", &d.requester, form).await;
    assert_eq!(response.status(), 422);
    assert!(json(response).await.to_string().contains("\"data\""));
    let (_, list) = call(&d.app, Method::GET, "/api/v1/tickets", &d.requester, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Files get their own bound, above the 2 MiB of other bodies: a 6 MiB scan is accepted and
    // comes back whole; an 11 MiB file is refused by name; a body above the upload bound is 413.
    let attachments = format!("/api/v1/tickets/{id}/attachments");
    let upload = |bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("scan.bin"),
        );
        post_form(&d.app, &attachments, &d.requester, form)
    };
    let scan: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let response = upload(scan.clone()).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let aid = json(response).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = send(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets/{id}/attachments/{aid}"),
        &d.requester,
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap() == scan, "the file changed");

    let response = upload(vec![7u8; 11 * 1024 * 1024]).await;
    assert_eq!(response.status(), 422);
    let problem = json(response).await;
    assert!(problem.to_string().contains("10 MiB"), "{problem}");

    let response = upload(vec![7u8; 26 * 1024 * 1024]).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    // Other bodies keep the small bound.
    let big = json!({ "body": "x".repeat(3 * 1024 * 1024), "internal": false });
    let response = send(
        &d.app,
        Method::POST,
        &format!("/api/v1/tickets/{id}/comments"),
        &d.requester,
        Some(big),
    )
    .await;
    assert_eq!(response.status(), 413);
    let (_, files) = call(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets/{id}/attachments"),
        &d.requester,
        None,
    )
    .await;
    assert_eq!(files["items"].as_array().unwrap().len(), 2, "{files}");
}

#[tokio::test]
async fn an_async_action_completes_by_its_single_use_callback() {
    use axum::routing::post;
    let seen: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let sink = seen.clone();
    let router = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = spawn_app_with(|settings, jobs| {
        settings.outbound_allowlist = vec!["127.0.0.1/32".into()];
        jobs
    })
    .await;
    let admin = signup(&app, "Acme", "ada@acme.io").await.access;
    let mut bundle = action_bundle(&url);
    bundle["tasks"][0]["task_type"] = json!("ASYNC_ACTION");
    let type_id = publish_type(&app, &admin, &bundle).await;
    let (_, ticket) = call(
        &app,
        Method::POST,
        "/api/v1/tickets",
        &admin,
        Some(json!({"ticket_type_id": type_id, "data": {"user": "kim"}})),
    )
    .await;
    let id = ticket["id"].as_str().unwrap();
    let ticket = wait_for_ticket(&app, &admin, id, |t| t["tasks"][0]["status"] == "PENDING").await;
    let body = seen.lock().unwrap()[0].clone();
    assert_eq!(body["input"], json!({"login": "kim"}), "{body}");
    let callback = body["callback_url"].as_str().unwrap();
    let path = &callback[callback.find("/api/v1/").unwrap()..];
    let task_id = ticket["tasks"][0]["id"].as_str().unwrap();
    assert!(
        path.starts_with(&format!("/api/v1/actions/{task_id}/callback?token=")),
        "{path}"
    );

    let wrong = format!("/api/v1/actions/{task_id}/callback?token=tfcbguess");
    let response = app.post_json(&wrong, &json!({"id": "acct-9"})).await;
    assert_eq!(response.status(), 404);
    let response = app.post_json(path, &json!({"id": "acct-9"})).await;
    assert_eq!(response.status(), 204);
    let ticket = wait_for_ticket(&app, &admin, id, |t| t["status"] == "COMPLETED").await;
    assert_eq!(ticket["workflow_data"]["account"], "acct-9");
    // The token was for one use.
    let response = app.post_json(path, &json!({"id": "acct-10"})).await;
    assert_eq!(response.status(), 404);
}

/// Runs one statement written for each dialect (uuids are blobs on SQLite, text on PostgreSQL).
/// Only for states no endpoint can cause (a task lost behind the engine's back).
async fn exec_sql(app: &TestApp, sqlite: &str, postgres: &str) {
    let mut tx = app.app.db().begin().await.unwrap();
    let sql = match tx.backend() {
        store::Backend::Sqlite => sqlite,
        store::Backend::Postgres => postgres,
    };
    tx.execute_script(sql).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_sweep_reports_a_stalled_workflow_once_and_leaves_busy_ones_alone() {
    let d = desk().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let ticket = d.submit_review().await;
        ids.push(uuid::Uuid::parse_str(ticket["id"].as_str().unwrap()).unwrap());
    }
    let (stalled, fresh, running) = (ids[0], ids[1], ids[2]);
    // Nothing is stalled while every ticket has its review task.
    assert_eq!(
        app::runtime::engine::sweep_stalled(&d.app.app)
            .await
            .unwrap(),
        0
    );

    // Lose the task of two tickets behind the engine's back (a crash, a manual edit); one of them
    // has been quiet for an hour, the other changed a moment ago and may still be stepping.
    let (s, f) = (stalled.simple(), fresh.simple());
    exec_sql(
        &d.app,
        &format!("UPDATE task_instances SET status = 'CANCELLED' WHERE ticket_id IN (x'{s}', x'{f}')"),
        &format!("UPDATE task_instances SET status = 'CANCELLED' WHERE ticket_id IN ('{stalled}', '{fresh}')"),
    )
    .await;
    exec_sql(
        &d.app,
        &format!("UPDATE tickets SET updated_at = '2000-01-01T00:00:00+00:00' WHERE id = x'{s}'"),
        &format!(
            "UPDATE tickets SET updated_at = now() - interval '1 hour' WHERE id = '{stalled}'"
        ),
    )
    .await;

    assert_eq!(
        app::runtime::engine::sweep_stalled(&d.app.app)
            .await
            .unwrap(),
        1
    );
    let (_, errors) = call(
        &d.app,
        Method::GET,
        "/api/v1/workflow-errors",
        &d.admin,
        None,
    )
    .await;
    let items = errors["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{errors}");
    assert_eq!(items[0]["ticket_id"], stalled.to_string(), "{errors}");
    assert_eq!(items[0]["error_type"], "WORKFLOW_TRANSITION");
    assert!(
        items[0]["message"].as_str().unwrap().contains("stalled"),
        "{errors}"
    );
    let (_, ticket) = call(
        &d.app,
        Method::GET,
        &format!("/api/v1/tickets/{stalled}"),
        &d.admin,
        None,
    )
    .await;
    assert_eq!(ticket["workflow_status"], "ON_HOLD", "{ticket}");
    for other in [fresh, running] {
        let (_, ticket) = call(
            &d.app,
            Method::GET,
            &format!("/api/v1/tickets/{other}"),
            &d.admin,
            None,
        )
        .await;
        assert_eq!(ticket["workflow_status"], "IN_PROGRESS", "{ticket}");
    }

    // An open error is enough: the next sweep does not report the same ticket again.
    assert_eq!(
        app::runtime::engine::sweep_stalled(&d.app.app)
            .await
            .unwrap(),
        0
    );
    let (_, errors) = call(
        &d.app,
        Method::GET,
        "/api/v1/workflow-errors",
        &d.admin,
        None,
    )
    .await;
    assert_eq!(errors["items"].as_array().unwrap().len(), 1, "{errors}");
}

/// The database itself refuses a runtime state the code does not define (migration 11); no
/// endpoint can write such a state, so the test talks to the database.
#[tokio::test]
async fn the_database_refuses_states_the_code_does_not_define() {
    let d = desk().await;
    d.submit_review().await;
    for sql in [
        "UPDATE task_instances SET status = 'DONE'",
        "UPDATE task_instances SET task_type = 'MANUAL'",
        "UPDATE tickets SET workflow_status = 'RUNNING'",
    ] {
        let mut tx = d.app.app.db().begin().await.unwrap();
        let refused = tx.execute_script(sql).await;
        assert!(refused.is_err(), "{sql} was accepted");
    }
    // The states the code writes still pass.
    let mut tx = d.app.app.db().begin().await.unwrap();
    tx.execute_script("UPDATE task_instances SET status = 'IN_PROGRESS'")
        .await
        .unwrap();
    drop(tx);
    d.app.stop().await;
}

const IT_ACCESS: &str = include_str!("../../../../examples/bundles/it-access-request.yaml");

/// Acme with the IT access request of the examples published, whose grant is sent to
/// loopback: the outbound guard refuses it for good, so the action fails at once. Rita
/// requests, Mia (`managers`) approves.
pub(crate) struct AccessDesk {
    pub app: TestApp,
    pub company: testkit::fixtures::Company,
    pub rita: testkit::fixtures::Member,
    pub mia: testkit::fixtures::Member,
    pub workflow_id: String,
    pub type_id: String,
}

pub(crate) async fn access_desk() -> AccessDesk {
    let app = spawn_app().await;
    let company = testkit::fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    company.add_roles(&["managers", "security"]).await;
    let rita = company
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    let mia = company
        .add_member("mia@acme.io", "Mia", &["task_worker"], &["managers"])
        .await;
    let bundle = IT_ACCESS.replace(
        "https://iam.example.com/grants",
        "http://127.0.0.1:9/grants",
    );
    let imported = company
        .admin
        .import_bundle_yaml(&bundle, "")
        .await
        .expect(201);
    let workflow_id = imported["workflow_id"].as_str().unwrap().to_owned();
    company
        .admin
        .publish_workflow(&workflow_id)
        .await
        .expect(200);
    let type_id = imported["ticket_type_ids"]["access_request"]
        .as_str()
        .unwrap()
        .to_owned();
    AccessDesk {
        app,
        company,
        rita,
        mia,
        workflow_id,
        type_id,
    }
}

impl AccessDesk {
    /// Rita asks for read access; returns the ticket.
    pub(crate) async fn request(&self) -> Value {
        let data = json!({"system": "CRM", "level": "read", "justification": "Quarterly reports"});
        self.rita
            .api
            .submit_ticket(&self.type_id, data)
            .await
            .expect(201)
    }

    /// Mia claims the approval of `ticket`; returns the task's id.
    pub(crate) async fn claim_approval(&self, ticket: &str) -> String {
        let view = self.company.admin.ticket(ticket).await.expect(200);
        let task = view["tasks"][0]["id"].as_str().unwrap().to_owned();
        self.mia.api.claim_task(&task).await.expect(200);
        task
    }

    /// A request Mia approved, whose grant failed: the ticket is on hold.
    pub(crate) async fn held_request(&self) -> String {
        let ticket = self.request().await;
        let id = testkit::id(&ticket);
        let task = self.claim_approval(&id).await;
        self.mia
            .api
            .complete_task(&task, json!({"approved": true}))
            .await
            .expect(200);
        let admin = self.company.access_token().to_owned();
        wait_for_ticket(&self.app, &admin, &id, |t| {
            t["workflow_status"] == "ON_HOLD"
        })
        .await;
        id
    }
}

/// What gives the workflow's inside away: the failed action's key, name, task state and
/// message, the error event, and a form's inner key.
const INTERNALS: [&str; 7] = [
    "grant_access",
    "Grant access",
    "ERROR",
    "failed after",
    "not a public address",
    "workflow.error",
    "manager_approval",
];

/// A requester outside the ticket team reads where the ticket stands in plain words, the
/// forms people work on and plain events; the failed action, its error and the workflow's
/// inner keys stay with the team, which reads them all (issue 15, defect 6).
#[tokio::test]
async fn a_requester_reads_plain_progress_and_the_team_the_details() {
    let desk = access_desk().await;
    let (rita, mia, admin) = (&desk.rita.api, &desk.mia.api, &desk.company.admin);

    let ticket = desk.request().await;
    let id = testkit::id(&ticket);
    assert_eq!(
        ticket["progress"],
        json!({"kind": "being_processed", "label": "Being processed"}),
        "{ticket}"
    );
    // The approval is Mia's to do now; saying no ends the request.
    let task = desk.claim_approval(&id).await;
    let mine = mia.ticket(&id).await.expect(200);
    assert_eq!(mine["progress"]["kind"], "waiting_on_you", "{mine}");
    assert_eq!(mine["progress"]["label"], "Waiting on you");
    let approval = mia.task(&task).await.expect(200);
    assert_eq!(
        approval["ending"],
        json!({"always": null, "choices": [{"field": "approved", "value": false, "status": "REJECTED"}]}),
        "{approval}"
    );
    mia.complete_task(&task, json!({"approved": true}))
        .await
        .expect(200);
    wait_for_ticket(&desk.app, desk.company.access_token(), &id, |t| {
        t["workflow_status"] == "ON_HOLD"
    })
    .await;

    let seen = rita.ticket(&id).await.expect(200);
    assert_eq!(
        seen["progress"],
        json!({"kind": "on_hold", "label": "On hold — our team is looking into it"}),
        "{seen}"
    );
    assert_eq!(seen["actions"]["details"], false);
    let tasks: Vec<&Value> = seen["tasks"].as_array().unwrap().iter().collect();
    assert_eq!(tasks.len(), 1, "only the approval: {seen}");
    assert_eq!(tasks[0]["name"], "Manager approval");
    assert_eq!(tasks[0]["status"], "COMPLETED");
    let timeline = rita.ticket_timeline(&id).await.expect(200);
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "ticket.submitted",
            "task.created",
            "task.claimed",
            "task.completed"
        ],
        "{timeline}"
    );
    let (seen, timeline) = (seen.to_string(), timeline.to_string());
    for internal in INTERNALS {
        assert!(!timeline.contains(internal), "{internal} in {timeline}");
    }
    // The view keeps the forms' keys (`task_key`), which API clients find tasks by.
    for internal in &INTERNALS[..6] {
        assert!(!seen.contains(internal), "{internal} in {seen}");
    }
    // The errors and the design (with its graph) were never the requester's to read.
    assert_eq!(rita.workflow_errors("").await.status, 403);
    assert_eq!(rita.workflow_svg(&desk.workflow_id, "").await.status, 403);

    // The team reads it all: the failed grant, its task in ERROR and the error's message.
    let full = admin.ticket(&id).await.expect(200);
    assert_eq!(full["actions"]["details"], true);
    assert_eq!(full["progress"]["kind"], "on_hold");
    assert!(
        full["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["task_key"] == "grant_access" && t["status"] == "ERROR"),
        "{full}"
    );
    let events = admin.ticket_timeline(&id).await.expect(200).to_string();
    for internal in ["workflow.error", "grant_access", "failed after"] {
        assert!(events.contains(internal), "{internal} in {events}");
    }

    // Cancelled by the team, the request says so in words.
    admin.cancel_ticket(&id).await.expect(200);
    let list = rita.tickets("active=false").await.expect(200);
    assert_eq!(
        list["items"][0]["progress"],
        json!({"kind": "cancelled", "label": "Cancelled"}),
        "{list}"
    );
    desk.app.stop().await;
}

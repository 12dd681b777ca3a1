//! Tasks the design gives to a person (issue 15, defect 2): the document review's edit goes
//! back to its author (the requester), who completes it without being a worker, while the
//! reviewers can neither claim nor release it; a task goes to whoever completed an earlier
//! one; a person who cannot take their task leaves it in the queue, and the ticket says why.

use reqwest::Method;
use serde_json::{Value, json};
use testkit::fixtures::{self, Member};
use testkit::{TestApp, spawn_app};

use crate::tickets::{call, desk, task_of};

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, body) = call(app, Method::GET, path, token, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn post(app: &TestApp, token: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call(app, Method::POST, path, token, body).await
}

fn ids(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect()
}

/// The timeline's events of one kind.
async fn events(app: &TestApp, token: &str, ticket: &str, kind: &str) -> Vec<Value> {
    let timeline = get(app, token, &format!("/api/v1/tickets/{ticket}/timeline")).await;
    timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_document_sent_back_for_revision_waits_on_its_author_alone() {
    let d = desk().await;
    let ticket = d.submit_review().await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let author = ticket["requester_id"].as_str().unwrap().to_owned();
    assert_eq!(ticket["waiting_on_you"], false, "{ticket}");

    // The reviewer sends it back.
    let review = task_of(&d.app, &d.reviewer, &id, "review").await;
    let review_path = format!("/api/v1/tasks/{}", review["id"].as_str().unwrap());
    let (status, done) = post(
        &d.app,
        &d.reviewer,
        &format!("{review_path}/complete"),
        Some(json!({"output": {"decision": "revise", "review_comments": "More numbers"}})),
    )
    .await;
    assert_eq!(status, 200, "{done}");

    // The edit is the author's, given to them directly; it reads the reviewer's comments.
    let edit = task_of(&d.app, &d.requester, &id, "edit").await;
    assert_eq!(edit["assigned_to"], author.as_str(), "{edit}");
    assert_eq!(edit["status"], "IN_PROGRESS", "{edit}");
    let edit_path = format!("/api/v1/tasks/{}", edit["id"].as_str().unwrap());
    // How it was given is the team's to read (a requester's timeline leaves it out).
    let assigned = events(&d.app, &d.admin, &id, "task.assigned").await;
    let by: Vec<&str> = assigned
        .iter()
        .map(|e| e["payload"]["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["auto_shortest_queue", "requester"], "{assigned:?}");

    // Not in the reviewer's queue, and refused to them: they may not edit the author's work.
    let queue = get(&d.app, &d.reviewer, "/api/v1/tasks?queue=true").await;
    assert!(
        !ids(&queue).contains(&edit["id"].as_str().unwrap()),
        "{queue}"
    );
    let (status, refused) = post(&d.app, &d.reviewer, &format!("{edit_path}/claim"), None).await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("requester"),
        "{refused}"
    );
    let (status, _) = post(
        &d.app,
        &d.reviewer,
        &format!("{edit_path}/complete"),
        Some(json!({"output": {"revision_note": "mine now"}})),
    )
    .await;
    assert_eq!(status, 403);
    // Nor can the author (or an admin) put it in the queue, where the reviewers would find it.
    for token in [&d.requester, &d.admin] {
        let (status, refused) = post(&d.app, token, &format!("{edit_path}/release"), None).await;
        assert_eq!(status, 409, "{refused}");
    }

    // The author finds it among their tasks, though no worker, and the ticket waits on them.
    let mine = get(&d.app, &d.requester, "/api/v1/tasks?mine=true").await;
    assert_eq!(ids(&mine), [edit["id"].as_str().unwrap()], "{mine}");
    let task = get(&d.app, &d.requester, &edit_path).await;
    assert_eq!(
        task["actions"],
        json!({"claim": false, "release": false, "assign": false, "complete": true}),
        "{task}"
    );
    assert_eq!(
        task["input_data"]["review_comments"], "More numbers",
        "{task}"
    );
    let seen = get(&d.app, &d.requester, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(seen["waiting_on_you"], true, "{seen}");
    let listed = get(&d.app, &d.requester, "/api/v1/tickets").await;
    assert_eq!(listed["items"][0]["waiting_on_you"], true, "{listed}");
    let reviewer_sees = get(&d.app, &d.reviewer, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(reviewer_sees["waiting_on_you"], false, "{reviewer_sees}");

    // The author revises: back to review, which now waits on the reviewer, not the author.
    let (status, done) = post(
        &d.app,
        &d.requester,
        &format!("{edit_path}/complete"),
        Some(json!({"output": {"revision_note": "Added the numbers"}})),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let seen = get(&d.app, &d.requester, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(seen["waiting_on_you"], false, "{seen}");
    let reviews: Vec<&Value> = seen["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["task_key"] == "review")
        .collect();
    assert_eq!(reviews.len(), 2, "{seen}");
    assert_eq!(reviews[1]["assigned_to"], d.reviewer_id.as_str());
    let reviewer_sees = get(&d.app, &d.reviewer, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(reviewer_sees["waiting_on_you"], true, "{reviewer_sees}");
    let (status, _) = post(
        &d.app,
        &d.reviewer,
        &format!(
            "/api/v1/tasks/{}/complete",
            reviews[1]["id"].as_str().unwrap()
        ),
        Some(json!({"output": {"decision": "accept"}})),
    )
    .await;
    assert_eq!(status, 200);
    let ended = get(&d.app, &d.requester, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ended["status"], "ACCEPTED", "{ended}");
}

#[tokio::test]
async fn an_author_who_cannot_take_the_edit_leaves_it_in_the_queue_with_the_reason() {
    let d = desk().await;
    let ticket = d.submit_review().await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let author = ticket["requester_id"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &d.app,
        &d.admin,
        &format!("/api/v1/users/{author}/block"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let review = task_of(&d.app, &d.admin, &id, "review").await;
    let (status, body) = post(
        &d.app,
        &d.reviewer,
        &format!("/api/v1/tasks/{}/complete", review["id"].as_str().unwrap()),
        Some(json!({"output": {"decision": "revise"}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let edit = task_of(&d.app, &d.admin, &id, "edit").await;
    assert_eq!(edit["assigned_to"], Value::Null, "{edit}");
    assert_eq!(edit["status"], "OPEN", "{edit}");
    let skipped = events(&d.app, &d.admin, &id, "task.assignment_unavailable").await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let payload = &skipped[0]["payload"];
    assert_eq!(payload["wanted"], "requester");
    assert_eq!(payload["user_id"], author.as_str());
    assert_eq!(payload["reason"], "their account is blocked", "{payload}");
    // The queue of those who may work it takes it instead.
    let queue = get(&d.app, &d.reviewer, "/api/v1/tasks?queue=true").await;
    assert!(
        ids(&queue).contains(&edit["id"].as_str().unwrap()),
        "{queue}"
    );
    let (status, claimed) = post(
        &d.app,
        &d.reviewer,
        &format!("/api/v1/tasks/{}/claim", edit["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{claimed}");
}

/// A triage form claimed from the queue, then a follow-up for whoever did the triage.
fn follow_up_bundle() -> Value {
    json!({
        "title": "Incident",
        "fields": {"type": "object", "properties": {
            "what": {"type": "string"}, "cause": {"type": "string"}, "fix": {"type": "string"}
        }},
        "tasks": [
            {"key": "triage", "name": "Triage", "task_type": "FORM", "assignment": "claim",
             "output_schema": {"type": "object", "properties": {"cause": {"type": "string"}}}},
            {"key": "follow_up", "name": "Follow up", "task_type": "FORM",
             "assignment": {"completer_of": "triage"},
             "output_schema": {"type": "object", "properties": {"fix": {"type": "string"}}}}
        ],
        "transitions": [
            {"key": "start", "to_task": "triage"},
            {"key": "triaged", "from_task": "triage", "to_task": "follow_up"},
            {"key": "fixed", "from_task": "follow_up", "to_status": "FIXED"}
        ],
        "ticket_types": [
            {"key": "incident", "title": "Incident",
             "fields": {"type": "object", "properties": {"what": {"type": "string"}}}}
        ]
    })
}

#[tokio::test]
async fn a_follow_up_goes_to_whoever_completed_the_triage() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let worker = |email: &'static str, name: &'static str| {
        let acme = &acme;
        async move { acme.add_member(email, name, &["task_worker"], &[]).await }
    };
    let (wim, tess): (Member, Member) = (
        worker("wim@acme.io", "Wim").await,
        worker("tess@acme.io", "Tess").await,
    );
    let imported = acme
        .admin
        .import_bundle(&follow_up_bundle(), "")
        .await
        .expect(201);
    let workflow = imported["workflow_id"].as_str().unwrap();
    acme.admin.publish_workflow(workflow).await.expect(200);
    let type_id = imported["ticket_type_ids"]["incident"].as_str().unwrap();
    let ticket = acme
        .admin
        .submit_ticket(type_id, json!({"what": "The printer is on fire"}))
        .await
        .expect(201);
    let triage = ticket["tasks"][0]["id"].as_str().unwrap().to_owned();

    tess.api.claim_task(&triage).await.expect(200);
    tess.api
        .complete_task(&triage, json!({"cause": "paper jam"}))
        .await
        .expect(200);
    let ticket = acme.admin.ticket(testkit::id(&ticket)).await.expect(200);
    let follow_up = &ticket["tasks"][1];
    assert_eq!(follow_up["task_key"], "follow_up", "{ticket}");
    assert_eq!(follow_up["assigned_to"], tess.id.as_str(), "{ticket}");
    let timeline = acme
        .admin
        .ticket_timeline(testkit::id(&ticket))
        .await
        .expect(200);
    let assigned: Vec<&Value> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task.assigned")
        .collect();
    assert_eq!(assigned.len(), 1, "{timeline}");
    assert_eq!(assigned[0]["payload"]["by"], "completer_of:triage");

    // Wim may work such tasks, but this one is Tess's.
    let follow_up = follow_up["id"].as_str().unwrap();
    let refused = wim.api.claim_task(follow_up).await.expect(409);
    assert!(
        refused["detail"].as_str().unwrap().contains("`triage`"),
        "{refused}"
    );
    let queue = wim.api.tasks("queue=true").await.expect(200);
    assert_eq!(queue["items"], json!([]), "{queue}");
    tess.api
        .complete_task(follow_up, json!({"fix": "new paper"}))
        .await
        .expect(200);
    let ended = acme.admin.ticket(testkit::id(&ticket)).await.expect(200);
    assert_eq!(ended["status"], "FIXED", "{ended}");
}

/// Renaming a task keeps the follow-up given to whoever completes it; deleting it first is
/// refused.
#[tokio::test]
async fn a_renamed_task_keeps_the_task_given_to_its_completer() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let imported = acme
        .admin
        .import_bundle(&follow_up_bundle(), "")
        .await
        .expect(201);
    let triage = imported["task_ids"]["triage"].as_str().unwrap();
    let follow_up = imported["task_ids"]["follow_up"].as_str().unwrap();
    use testkit::DesignKind::Tasks as Task;
    acme.admin
        .update_design_object(Task, triage, json!({"key": "first_look"}))
        .await
        .expect(200);
    let kept = acme.admin.design_object(Task, follow_up).await.expect(200);
    assert_eq!(
        kept["assignment"],
        json!({"completer_of": "first_look"}),
        "{kept}"
    );
    let refused = acme.admin.delete_design_object(Task, triage).await;
    let body = refused.expect(409);
    assert!(body.to_string().contains("follow_up"), "{body}");
}

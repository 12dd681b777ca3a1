//! Tenant isolation, probed from what the server itself declares rather than from a list
//! kept by hand.
//!
//! Company A (Acme) has one object of every kind a path can name: users, a company role, an
//! API token, a published workflow with its tasks, transitions and ticket type, tickets with
//! tasks, a comment, an attachment, a workflow error, and a support conversation with a
//! message, a question template, a canned reply, a test channel with a contact's
//! conversation and a recorded delivery, an event webhook subscription, a phone its
//! requester registered for mobile push and a browser they subscribed to Web Push, and a
//! notification; an entry of the platform's error log names A. Company B (Globex) has an admin, Mallory, who holds every
//! role a company can grant, and company roles named like A's.
//! - Every operation of the OpenAPI document with a path parameter, with every method, is
//!   called by Mallory with the ids of A's objects: each answers 404 (403 for the platform
//!   staff's operations, which is their documented answer to a company admin) as a problem
//!   document that names nothing of A. Query parameters holding ids are probed the same way.
//! - Every page route with a parameter, read from the page routers' sources, is opened (and
//!   posted, with its CSRF token) by Mallory's browser session: the not-found page, or a
//!   redirect whose message says the object no longer exists; never A's data.
//! - A's objects read the same afterwards.
//!
//! A parameter the probes do not know how to fill fails the test: an endpoint or page added
//! later is probed once its ids are named in [`World::fill`], and cannot be forgotten.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::fixtures::{self, Company, Member, PurchaseDesk};
use testkit::{ApiClient, ApiResponse, Body, DesignKind, TestApp, id, spawn_app};

use crate::common::form_token;

/// The system roles a company admin can grant: all of them but the platform's.
const EVERY_COMPANY_ROLE: [&str; 6] = [
    "admin",
    "ticket_admin",
    "workflow_creator",
    "task_worker",
    "agent",
    "user",
];

/// How the probes fill one parameter of a path.
enum Fill {
    /// Ids of A's objects; each is probed.
    Ids(Vec<String>),
    /// A word that picks what the rest of the path names (`/design/objects/{kind}/...`);
    /// each is probed, and later parameters are looked up with it in place.
    Words(&'static [&'static str]),
    /// Not a tenant's object (a static file's name): the route is not probed.
    NotTenantOwned,
}

/// Company A with its objects, and company B's admin Mallory.
struct World {
    app: TestApp,
    a: PurchaseDesk,
    /// Ids of A's objects, by what they are.
    ids: BTreeMap<&'static str, Vec<String>>,
    b: Company,
    mallory: Member,
    /// Platform staff, who read the error log.
    staff: ApiClient,
}

/// Sets up both companies through the API.
async fn world() -> World {
    let app = spawn_app().await;
    // Approving less than 100 EUR matches no transition: such a ticket stops with an error.
    let approved_when = json!({"$and": [{"approved": {"$eq": true}}, {"amount": {"$gte": 100}}]});
    let a = fixtures::purchase_desk(&app, approved_when).await;
    let admin = &a.company.admin;

    let stopped = a.request_purchase(20, "acme-secret pens").await;
    let reviewed = stopped["tasks"][0]["id"].as_str().unwrap().to_owned();
    a.reviewer.api.claim_task(&reviewed).await.expect(200);
    a.reviewer
        .api
        .complete_task(&reviewed, json!({"approved": true}))
        .await
        .expect(200);
    let error = wait_for_error(admin).await;

    let open = a.request_purchase(500, "acme-secret chairs").await;
    let ticket = id(&open);
    let waiting = open["tasks"][0]["id"].as_str().unwrap().to_owned();
    let requester = &a.requester.api;
    requester
        .add_comment(&ticket, "acme-secret comment", false)
        .await
        .expect(201);
    let attached = requester
        .add_attachments(&ticket, &[("acme-secret.txt", b"acme-secret file")])
        .await
        .expect(201);
    let attachment = attached["items"][0]["id"].as_str().unwrap().to_owned();
    let conversation = requester
        .send(
            Method::POST,
            "/api/v1/conversations",
            Body::Json(json!({"subject": "acme-secret question"})),
        )
        .await
        .expect(201);
    let conversation = id(&conversation);
    let message = requester
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Body::Multipart {
                fields: vec![("body".into(), "acme-secret message".into())],
                files: vec![(
                    "attachments".into(),
                    "acme-secret.txt".into(),
                    b"acme-secret file".to_vec(),
                )],
            },
        )
        .await
        .expect(201);
    let message_file = message["attachments"][0]["id"].as_str().unwrap().to_owned();
    let device = requester
        .send(
            Method::POST,
            "/api/v1/devices",
            Body::Json(json!({"platform": "android", "token": "acme-secret-fcm-token", "name": "acme-secret phone"})),
        )
        .await
        .expect(201);

    let template = admin
        .send(
            Method::POST,
            "/api/v1/templates",
            Body::Json(json!({
                "title": "acme-secret template",
                "text": "acme-secret question",
                "schema": {"type": "object", "properties": {"answer": {"type": "string"}}}
            })),
        )
        .await
        .expect(201);
    let template = id(&template);
    let canned = admin
        .send(
            Method::POST,
            "/api/v1/canned-replies",
            Body::Json(json!({
                "shortcut": "acme-secret",
                "title": "acme-secret reply",
                "body": "acme-secret text"
            })),
        )
        .await
        .expect(201);

    // A test channel with a contact's conversation and a recorded reply; a subscription,
    // paused before its test event so that nothing changes in the background.
    let channel = admin
        .send(
            Method::POST,
            "/api/v1/channels",
            Body::Json(json!({"name": "acme-secret channel", "slug": "acme", "kind": "test"})),
        )
        .await
        .expect(201);
    let arrived = admin
        .send(
            Method::POST,
            &format!("/api/v1/channels/{}/test-messages", id(&channel)),
            Body::Json(json!({"external_user_id": "acme-secret contact", "content": "acme-secret inbound"})),
        )
        .await
        .expect(200);
    let channel_conversation = arrived["conversation_id"].as_str().unwrap().to_owned();
    admin
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{channel_conversation}/messages"),
            Body::Json(json!({"body": "acme-secret reply"})),
        )
        .await
        .expect(201);
    let contact = admin
        .send(
            Method::GET,
            &format!("/api/v1/conversations/{channel_conversation}"),
            Body::Empty,
        )
        .await
        .expect(200)["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let channel_delivery = loop {
        let listed = admin
            .send(
                Method::GET,
                &format!("/api/v1/channels/{}/deliveries", id(&channel)),
                Body::Empty,
            )
            .await
            .expect(200);
        match listed["items"].as_array().and_then(|items| items.first()) {
            Some(delivery) if delivery["state"] == "delivered" => break id(delivery),
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    };
    let subscription = admin
        .send(
            Method::POST,
            "/api/v1/webhook-subscriptions",
            Body::Json(json!({"url": "https://hooks.acme-secret.example/in", "kinds": ["ticket.*"], "description": "acme-secret hook"})),
        )
        .await
        .expect(201);
    admin
        .send(
            Method::POST,
            &format!("/api/v1/webhook-subscriptions/{}/pause", id(&subscription)),
            Body::Empty,
        )
        .await
        .expect(200);
    let subscription_delivery = admin
        .send(
            Method::POST,
            &format!("/api/v1/webhook-subscriptions/{}/test", id(&subscription)),
            Body::Empty,
        )
        .await
        .expect(202);

    let push_subscription = a
        .requester
        .api
        .send(
            Method::POST,
            "/api/v1/push-subscriptions",
            Body::Json(json!({
                "endpoint": "https://push.acme-secret.example/send/1",
                "keys": {
                    "p256dh": "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY",
                    "auth": "_ordMnz7uTCmrpBTeUV4Bw",
                },
                "name": "acme-secret browser",
            })),
        )
        .await
        .expect(201);

    let token = admin
        .create_api_token(json!({ "name": "acme-secret bot" }))
        .await
        .expect(201);
    let roles = admin.company_roles().await.expect(200);
    let reviewers = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "reviewers")
        .map(id)
        .unwrap();

    // A 5xx of A's admin, as the web layer hands it to the error log.
    let failed = app::infra::error_log::write(
        &app.app,
        domain::error_log::Failure {
            at: chrono::Utc::now(),
            method: "GET".into(),
            route: "/api/v1/tickets/{id}".into(),
            status: 500,
            request_id: "acme-secret request".into(),
            company_id: Some(a.company.id.parse().unwrap()),
            user_id: Some(a.company.admin_id.parse().unwrap()),
            kind: domain::error_log::FailureKind::Internal,
            summary: "acme-secret failure".into(),
        },
    )
    .await
    .unwrap();
    let staff = fixtures::platform_staff(&app).await;

    let mut ids = BTreeMap::from([
        ("company", vec![a.company.id.clone()]),
        (
            "user",
            vec![a.company.admin_id.clone(), a.requester.id.clone()],
        ),
        ("worker", vec![a.reviewer.id.clone()]),
        ("company role", vec![reviewers]),
        ("api token", vec![id(&token)]),
        ("workflow", vec![a.workflow_id.clone()]),
        ("design task", vec![a.design_id("task_ids", "review")]),
        (
            "transition",
            vec![a.design_id("transition_ids", "approved")],
        ),
        ("ticket type", vec![a.type_id.clone()]),
        ("ticket", vec![ticket, id(&stopped)]),
        ("task", vec![waiting, reviewed]),
        ("attachment", vec![attachment]),
        ("workflow error", vec![error]),
        ("conversation", vec![conversation, channel_conversation]),
        ("channel", vec![id(&channel)]),
        ("contact", vec![contact]),
        ("delivery", vec![channel_delivery]),
        ("subscription", vec![id(&subscription)]),
        ("subscription delivery", vec![id(&subscription_delivery)]),
        ("message", vec![id(&message)]),
        ("message file", vec![message_file]),
        ("template", vec![template]),
        ("canned reply", vec![id(&canned)]),
        ("device", vec![id(&device)]),
        ("push subscription", vec![id(&push_subscription)]),
        ("error log entry", vec![failed.to_string()]),
    ]);

    // The workflow error above reaches A's admin as a notification.
    let notification = {
        let mut found = None;
        for _ in 0..200 {
            let page = admin
                .send(Method::GET, "/api/v1/notifications", Body::Empty)
                .await
                .expect(200);
            if let Some(first) = page["items"].as_array().and_then(|items| items.first()) {
                found = Some(id(first));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        found.expect("the workflow error never reached A's admin")
    };
    ids.insert("notification", vec![notification]);

    let b = fixtures::sign_up(&app, "Globex", "gus@globex.io").await;
    b.add_roles(&["reviewers", "buyers"]).await;
    let mallory = b
        .add_member(
            "mallory@globex.io",
            "Mallory",
            &EVERY_COMPANY_ROLE,
            &["reviewers", "buyers"],
        )
        .await;
    World {
        app,
        a,
        ids,
        b,
        mallory,
        staff,
    }
}

/// The id of A's workflow error, once the engine has stopped the ticket.
async fn wait_for_error(admin: &ApiClient) -> String {
    for _ in 0..200 {
        let errors = admin.workflow_errors("").await.expect(200);
        if let Some(error) = errors["items"].as_array().and_then(|items| items.first()) {
            return id(error);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the approval of a small amount never stopped the workflow");
}

impl World {
    fn ids(&self, what: &str) -> &[String] {
        &self.ids[what]
    }

    /// Every id of A's objects.
    fn all_ids(&self) -> Vec<&String> {
        self.ids.values().flatten().collect()
    }

    /// What fills the parameter that follows `prefix`: the path up to it, with earlier
    /// ids written as `{name}` and earlier words in place. `None`: the probes do not know.
    fn fill(&self, prefix: &str) -> Option<Fill> {
        let ids = |what| Some(Fill::Ids(self.ids(what).to_vec()));
        match prefix {
            // The API, as the OpenAPI document names its paths.
            "/api/v1/users/" => ids("user"),
            "/api/v1/company-roles/" => ids("company role"),
            "/api/v1/api-tokens/" => ids("api token"),
            "/api/v1/admin/companies/" => ids("company"),
            "/api/v1/design/workflows/" => ids("workflow"),
            "/api/v1/design/tasks/" => ids("design task"),
            "/api/v1/design/transitions/" => ids("transition"),
            "/api/v1/design/ticket-types/" => ids("ticket type"),
            "/api/v1/tickets/" => ids("ticket"),
            "/api/v1/tickets/{id}/attachments/" => ids("attachment"),
            "/api/v1/tasks/" | "/api/v1/actions/" => ids("task"),
            "/api/v1/workflow-errors/" => ids("workflow error"),
            "/api/v1/conversations/" => ids("conversation"),
            "/api/v1/templates/" => ids("template"),
            "/api/v1/canned-replies/" => ids("canned reply"),
            "/api/v1/devices/" => ids("device"),
            "/api/v1/conversations/{id}/messages/" => ids("message"),
            "/api/v1/conversations/{id}/files/" => ids("message file"),
            "/api/v1/channels/" => ids("channel"),
            "/api/v1/channels/{id}/deliveries/" => ids("delivery"),
            "/api/v1/contacts/" => ids("contact"),
            "/api/v1/webhook-subscriptions/" => ids("subscription"),
            "/api/v1/webhook-subscriptions/{id}/deliveries/" => ids("subscription delivery"),
            "/api/v1/push-subscriptions/" => ids("push subscription"),
            // The signature is the credential there, whoever calls: a request without one
            // is refused (401) before anything is looked up (see `channels.rs`).
            "/api/v1/hooks/" => Some(Fill::NotTenantOwned),
            "/api/v1/platform/errors/" => ids("error log entry"),
            "/api/v1/notifications/" => ids("notification"),
            // The pages, as their routers name them.
            "/admin/users/" => ids("user"),
            "/admin/company-roles/" => ids("company role"),
            "/admin/api-tokens/" => ids("api token"),
            "/admin/canned-replies/" => ids("canned reply"),
            "/profile/devices/" => ids("device"),
            "/staff/companies/" => ids("company"),
            "/design/workflows/" | "/design/objects/workflows/" => ids("workflow"),
            "/design/workflows/{id}/add/" => {
                Some(Fill::Words(&["tasks", "transitions", "ticket-types"]))
            }
            "/design/objects/" => Some(Fill::Words(&[
                "workflows",
                "tasks",
                "transitions",
                "ticket-types",
            ])),
            "/design/objects/tasks/" => ids("design task"),
            "/design/objects/transitions/" => ids("transition"),
            "/design/objects/ticket-types/" => ids("ticket type"),
            "/tasks/" => ids("task"),
            "/workflow-errors/" => ids("workflow error"),
            "/workflow-errors/{id}/" => Some(Fill::Words(&["review", "resolve", "retry"])),
            "/tickets/new/" => ids("ticket type"),
            "/tickets/" => ids("ticket"),
            "/tickets/{id}/attachments/" => ids("attachment"),
            "/conversations/" => ids("conversation"),
            "/conversations/{id}/messages/" => ids("message"),
            "/conversations/{id}/files/" => ids("message file"),
            "/staff/errors/" => ids("error log entry"),
            "/admin/channels/" => ids("channel"),
            "/admin/channels/{id}/deliveries/" => ids("delivery"),
            "/admin/webhooks/" => ids("subscription"),
            "/admin/webhooks/{id}/deliveries/" => ids("subscription delivery"),
            "/profile/push-subscriptions/" => ids("push subscription"),
            "/static/" => Some(Fill::NotTenantOwned),
            "/notifications/" => ids("notification"),
            // The signed token is the credential, whoever follows the link: a forged one
            // is not found (see `notifications.rs`).
            "/unsubscribe/" => Some(Fill::NotTenantOwned),
            _ => None,
        }
    }

    /// A query parameter holding an id, filled with one of A's.
    fn fill_query(&self, path: &str, name: &str) -> Option<String> {
        let first = |what| self.ids(what).first().cloned();
        match (path, name) {
            (_, "workflow" | "workflow_id") => first("workflow"),
            (_, "ticket") => first("ticket"),
            (_, "assignee") => first("worker"),
            ("/api/v1/conversations", "team") => first("company role"),
            ("/api/v1/users", "cursor") => first("user"),
            ("/api/v1/tasks", "cursor") => first("task"),
            ("/api/v1/workflow-errors", "cursor") => first("workflow error"),
            ("/api/v1/api-tokens", "cursor") => first("api token"),
            ("/api/v1/conversations/search", "cursor") => first("message"),
            // The platform's list: a company is the one "object" it pages by.
            ("/api/v1/admin/companies", "cursor") => Some(self.a.company.id.clone()),
            ("/api/v1/platform/errors", "cursor") => first("error log entry"),
            ("/api/v1/notifications", "before") => first("notification"),
            _ => None,
        }
    }

    /// The JSON body an operation is probed with. It refers only to B's own objects, so
    /// that the object in the path is the only thing that can be missing.
    fn api_body(&self, method: &str, path: &str) -> Option<Value> {
        let mallory = &self.mallory.id;
        Some(match (method, path) {
            ("patch", "/api/v1/users/{id}") => json!({"first_name": "Mallory"}),
            ("put", "/api/v1/users/{id}/roles") => {
                json!({"system_roles": ["user"], "company_roles": ["reviewers"]})
            }
            ("patch", "/api/v1/company-roles/{id}") => json!({"name": "probed"}),
            ("patch", "/api/v1/canned-replies/{id}") => json!({"title": "probed"}),
            ("patch", p) if p.starts_with("/api/v1/design/") => {
                json!({"description": "mine now"})
            }
            ("post", "/api/v1/design/bundles") => {
                fixtures::purchase_bundle(fixtures::when_approved())
            }
            ("post", "/api/v1/tasks/{id}/assign") => json!({"user_id": mallory}),
            ("post", "/api/v1/tasks/{id}/complete") => json!({"output": {"approved": true}}),
            ("put", "/api/v1/tasks/{id}/allowed-users") => json!({"user_ids": [mallory]}),
            ("patch", "/api/v1/tickets/{id}") => json!({"data": {"reason": "probed"}}),
            ("post", "/api/v1/tickets/{id}/comments") => json!({"body": "probed"}),
            ("post", "/api/v1/actions/{task_id}/callback") => json!({"id": "probed"}),
            ("post", "/api/v1/conversations/{id}/assign") => json!({"assignee_id": mallory}),
            ("post", "/api/v1/conversations/{id}/team") => json!({"team_id": null}),
            ("post", "/api/v1/conversations/{id}/status") => json!({"status": "closed"}),
            ("post", "/api/v1/conversations/{id}/messages") => json!({"body": "probed"}),
            ("patch", "/api/v1/conversations/{id}/messages/{message_id}") => {
                json!({"body": "probed"})
            }
            ("post", "/api/v1/conversations/{id}/read") => json!({"up_to": 1}),
            ("post", "/api/v1/conversations/{id}/ticket") => {
                json!({"ticket_type_id": uuid::Uuid::now_v7(), "data": {"reason": "probed"}})
            }
            ("patch", "/api/v1/channels/{id}") => json!({"name": "probed"}),
            ("post", p) if p.ends_with("/deliveries/replay") => json!({}),
            ("post", p) if p.ends_with("/signing-secret") => json!({"overlap_hours": 0}),
            ("post", "/api/v1/channels/{id}/test-messages") => {
                json!({"external_user_id": "probe", "content": "probed"})
            }
            ("post", "/api/v1/hooks/{public_id}") => {
                json!({"external_user_id": "probe", "content": "probed"})
            }
            ("patch", "/api/v1/webhook-subscriptions/{id}") => json!({"description": "probed"}),
            ("post", "/api/v1/notifications/{id}/snooze") => json!({"minutes": 60}),
            _ => return None,
        })
    }

    /// Whether an answer shows anything of A: a name or text of A's (every one holds
    /// "acme"), or an id of A's other than those the request itself named.
    fn leak(&self, request: &str, answer: &str) -> Option<String> {
        if answer.to_lowercase().contains("acme") {
            return Some("shows a name or text of Acme".into());
        }
        self.all_ids()
            .into_iter()
            .find(|id| answer.contains(id.as_str()) && !request.contains(id.as_str()))
            .map(|id| format!("shows the id {id} of Acme"))
    }
}

/// The paths a route template stands for, each with its lookup key: the template with the
/// words filled in and the ids left as `{name}`. Fails on a parameter [`World::fill`] does
/// not know; `Ok(vec![])` for a route that names no tenant's object.
fn expand(template: &str, world: &World) -> Result<Vec<(String, String)>, String> {
    expand_after(template, String::new(), String::new(), template, world)
}

fn expand_after(
    template: &str,
    path: String,
    key: String,
    rest: &str,
    world: &World,
) -> Result<Vec<(String, String)>, String> {
    let Some(open) = rest.find('{') else {
        return Ok(vec![(path + rest, key + rest)]);
    };
    let close = open
        + rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed parameter in {template}"))?;
    let (literal, name, after) = (&rest[..open], &rest[open..=close], &rest[close + 1..]);
    let prefix = key + literal;
    let values: Vec<(String, String)> = match world.fill(&prefix) {
        Some(Fill::Ids(ids)) => ids.into_iter().map(|id| (id, name.to_owned())).collect(),
        Some(Fill::Words(words)) => words
            .iter()
            .map(|w| (w.to_string(), w.to_string()))
            .collect(),
        Some(Fill::NotTenantOwned) => return Ok(Vec::new()),
        None => {
            return Err(format!(
                "no id of company A for {name} in {template} (after {prefix:?}): name one in `World::fill`"
            ));
        }
    };
    let mut paths = Vec::new();
    for (value, in_key) in values {
        let (path, key) = (
            format!("{path}{literal}{value}"),
            format!("{prefix}{in_key}"),
        );
        paths.extend(expand_after(template, path, key, after, world)?);
    }
    Ok(paths)
}

/// Everything an admin of A can read of A's objects, to compare before and after.
async fn snapshot(w: &World) -> Vec<(String, Value)> {
    let admin = &w.a.company.admin;
    let mut seen = vec![
        ("company".into(), admin.company().await.expect(200)),
        ("users".into(), admin.users("").await.expect(200)),
        (
            "company roles".into(),
            admin.company_roles().await.expect(200),
        ),
        ("api tokens".into(), admin.api_tokens().await.expect(200)),
        (
            "canned replies".into(),
            admin
                .send(Method::GET, "/api/v1/canned-replies", Body::Empty)
                .await
                .expect(200),
        ),
        (
            "channels".into(),
            admin
                .send(Method::GET, "/api/v1/channels", Body::Empty)
                .await
                .expect(200),
        ),
        (
            "subscriptions".into(),
            admin
                .send(Method::GET, "/api/v1/webhook-subscriptions", Body::Empty)
                .await
                .expect(200),
        ),
        (
            "push subscriptions".into(),
            w.a.requester
                .api
                .send(Method::GET, "/api/v1/push-subscriptions", Body::Empty)
                .await
                .expect(200),
        ),
        ("tickets".into(), admin.tickets("").await.expect(200)),
        ("tasks".into(), admin.tasks("").await.expect(200)),
        (
            "workflow errors".into(),
            admin
                .workflow_errors("status=NEW,REVIEWED,RESOLVED")
                .await
                .expect(200),
        ),
        (
            "workflow".into(),
            admin
                .design_object(DesignKind::Workflows, &w.a.workflow_id)
                .await
                .expect(200),
        ),
        (
            "versions".into(),
            admin.workflow_versions(&w.a.workflow_id).await.expect(200),
        ),
    ];
    for kind in DesignKind::ALL {
        let list = admin.design_objects(kind, "").await.expect(200);
        seen.push((format!("design {}", kind.segment()), list));
    }
    for user in w.ids("user").iter().chain(w.ids("worker")) {
        seen.push((format!("user {user}"), admin.user(user).await.expect(200)));
    }
    for ticket in w.ids("ticket") {
        seen.push((
            format!("ticket {ticket}"),
            admin.ticket(ticket).await.expect(200),
        ));
        let timeline = admin.ticket_timeline(ticket).await.expect(200);
        seen.push((format!("timeline {ticket}"), timeline));
        let comments = admin.comments(ticket).await.expect(200);
        seen.push((format!("comments {ticket}"), comments));
        let files = admin.attachments(ticket).await.expect(200);
        seen.push((format!("attachments {ticket}"), files));
    }
    for task in w.ids("task") {
        seen.push((format!("task {task}"), admin.task(task).await.expect(200)));
    }
    // Devices are their owner's: only the requester reads theirs.
    seen.push((
        "requester's devices".into(),
        w.a.requester
            .api
            .send(Method::GET, "/api/v1/devices", Body::Empty)
            .await
            .expect(200),
    ));
    seen.push((
        "error log".into(),
        w.staff.platform_errors("").await.expect(200),
    ));
    for conversation in w.ids("conversation") {
        let path = format!("/api/v1/conversations/{conversation}");
        for (what, path) in [
            ("conversation", path.clone()),
            ("messages", format!("{path}/messages")),
        ] {
            let read = admin.send(Method::GET, &path, Body::Empty).await;
            seen.push((format!("{what} {conversation}"), read.expect(200)));
        }
    }
    seen
}

fn assert_unchanged(before: &[(String, Value)], after: &[(String, Value)]) {
    for ((what, then), (_, now)) in before.iter().zip(after) {
        assert_eq!(then, now, "company A's {what} changed");
    }
}

#[tokio::test]
async fn every_api_operation_with_an_id_answers_not_found_for_another_companys_objects() {
    let w = world().await;
    let before = snapshot(&w).await;
    let document = w.app.api().openapi().await.expect(200);
    let mallory = &w.mallory.api;
    let (mut operations, mut calls, mut failures) = (0, 0, Vec::new());
    for (template, item) in document["paths"].as_object().unwrap() {
        if !template.starts_with("/api/v1/") || !template.contains('{') {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let Some(http_method) = http_method(method) else {
                continue;
            };
            operations += 1;
            let paths = match expand(template, &w) {
                Ok(paths) => paths,
                Err(unknown) => {
                    failures.push(unknown);
                    continue;
                }
            };
            let query = match required_query(operation) {
                Ok(query) => query,
                Err(unknown) => {
                    failures.push(format!("{method} {template}: {unknown}"));
                    continue;
                }
            };
            let body = match request_body(&w, method, template, operation) {
                Ok(body) => body,
                Err(unknown) => {
                    failures.push(unknown);
                    continue;
                }
            };
            // A company admin may not call the platform staff's operations at all.
            let staff_only = operation["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t == "platform"));
            let expected = if staff_only { 403 } else { 404 };
            for (path, _) in paths {
                let answer = mallory
                    .send(http_method.clone(), &format!("{path}{query}"), body.clone())
                    .await;
                calls += 1;
                if let Some(problem) = refusal_problem(&w, &answer, expected) {
                    failures.push(problem);
                }
            }
        }
    }

    // Query parameters that hold ids reach no further into A.
    let mut query_calls = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") || path.contains('{') {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let Some(http_method) = http_method(method) else {
                continue;
            };
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] != "query"
                    || schema_of(&document, &parameter["schema"])["format"] != "uuid"
                {
                    continue;
                }
                let name = parameter["name"].as_str().unwrap();
                let Some(value) = w.fill_query(path, name) else {
                    failures.push(format!(
                        "{method} {path}: no id of company A for the query parameter `{name}`: name one in `World::fill_query`"
                    ));
                    continue;
                };
                let body = match request_body(&w, method, path, operation) {
                    Ok(body) => body,
                    Err(unknown) => {
                        failures.push(unknown);
                        continue;
                    }
                };
                let answer = mallory
                    .send(http_method.clone(), &format!("{path}?{name}={value}"), body)
                    .await;
                query_calls += 1;
                // A list may answer with B's own objects; a change must not find A's; the
                // platform staff's operations refuse a company admin outright.
                let staff_only = operation["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|t| t == "platform"));
                let fine = match method.as_str() {
                    _ if staff_only => answer.status == 403,
                    "get" => [200, 404, 422].contains(&answer.status.as_u16()),
                    _ => answer.status == 404,
                };
                if !fine {
                    failures.push(format!("{answer}"));
                } else if let Some(leak) = w.leak(&answer.request, &answer.text()) {
                    failures.push(format!("{leak}: {answer}"));
                }
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {calls} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The document lists 52 such operations today; far fewer means it was not read right.
    assert!(operations >= 50, "only {operations} operations with an id");
    assert!(
        query_calls >= 5,
        "only {query_calls} query parameters with an id"
    );
    eprintln!("probed {operations} operations in {calls} calls, {query_calls} id queries");
    assert_unchanged(&before, &snapshot(&w).await);
    w.app.stop().await;
}

/// The method of an operation of a path item (whose other members are not operations).
fn http_method(member: &str) -> Option<Method> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    METHODS
        .contains(&member)
        .then(|| member.to_uppercase().parse().unwrap())
}

/// `?name=value` for the required query parameters of an operation.
fn required_query(operation: &Value) -> Result<String, String> {
    let mut query = Vec::new();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] != "query" || parameter["required"] != true {
            continue;
        }
        match parameter["name"].as_str() {
            // The callback's single-use token: a guess, as company B would have to make.
            Some("token") => query.push("token=tfcb_guessed"),
            other => {
                return Err(format!(
                    "no value for the required query parameter {other:?}"
                ));
            }
        }
    }
    Ok(if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    })
}

/// The body to probe an operation with, by the media types it accepts.
fn request_body(w: &World, method: &str, path: &str, operation: &Value) -> Result<Body, String> {
    let Some(content) = operation["requestBody"]["content"].as_object() else {
        return Ok(Body::Empty);
    };
    if content.contains_key("application/json") {
        return w.api_body(method, path).map(Body::Json).ok_or_else(|| {
            format!("{method} {path}: no body to probe it with: add one to `World::api_body`")
        });
    }
    if content.contains_key("multipart/form-data") {
        return Ok(Body::attachments(&[("probe.txt", b"from company B")]));
    }
    Err(format!(
        "{method} {path}: cannot probe a body of {content:?}"
    ))
}

/// Why an answer is not the refusal expected, if it is not.
fn refusal_problem(w: &World, answer: &ApiResponse, expected: u16) -> Option<String> {
    if answer.status.as_u16() != expected {
        return Some(format!("expected {expected}: {answer}"));
    }
    if !answer.is_problem() {
        return Some(format!("not a problem document: {answer}"));
    }
    w.leak(&answer.request, &answer.text())
        .map(|leak| format!("{leak}: {answer}"))
}

// ---- Pages

/// A route of a page router: its template and methods, as its source writes them.
#[derive(Debug)]
struct PageRoute {
    template: String,
    methods: Vec<&'static str>,
    file: String,
}

/// Every `.route("...", get(..).post(..))` in the web crate's sources outside the
/// A schema with its `$ref` (to a named schema, e.g. a typed id) followed, and an optional
/// one (`oneOf: [null, T]`) read as `T`.
fn schema_of<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.trim_start_matches("#/components/schemas/");
        return &document["components"]["schemas"][name];
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(parts) = schema[combinator].as_array()
            && let Some(part) = parts.iter().find(|p| p["type"] != "null")
        {
            return schema_of(document, part);
        }
    }
    schema
}

/// documented API (whose operations `routes!` registers from their `#[utoipa::path]`).
fn page_routes() -> Vec<PageRoute> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(
        files.len() > 10,
        "no sources found under {}",
        root.display()
    );
    let mut routes = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let call = &rest[..closing_paren(rest)];
            let Some(template) = call.trim_start().strip_prefix('"') else {
                continue;
            };
            let template = &template[..template.find('"').unwrap()];
            let methods = ["get", "post", "put", "patch", "delete"]
                .into_iter()
                .filter(|m| {
                    call.match_indices(&format!("{m}(")).any(|(i, _)| {
                        !call[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    })
                })
                .collect();
            routes.push(PageRoute {
                template: template.to_owned(),
                methods,
                file: file.display().to_string(),
            });
        }
    }
    routes
}

fn rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// Where the call whose arguments `text` starts with ends.
fn closing_paren(text: &str) -> usize {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// A browser session of the pages: the access cookie, the CSRF cookie and the token its
/// forms carry.
struct PageSession {
    http: reqwest::Client,
    base: String,
    cookies: String,
    csrf: String,
}

/// What a page request answered.
struct PageAnswer {
    request: String,
    status: u16,
    location: String,
    flash: Option<String>,
    body: String,
}

/// How a page form is posted.
enum PageForm {
    Urlencoded(Vec<(String, String)>),
    Multipart(Vec<(String, String)>, bool),
}

/// `application/x-www-form-urlencoded` text of the fields.
fn form_encoded(fields: &[(String, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

impl PageSession {
    async fn open(app: &TestApp, access: &str) -> Self {
        let cookies = format!("tf_access={access}; tf_csrf={}", "m".repeat(43));
        let mut session = Self {
            http: app.client.clone(),
            base: app.base_url.clone(),
            cookies,
            csrf: String::new(),
        };
        let profile = session.get("/profile").await;
        assert_eq!(profile.status, 200, "{}", profile.body);
        session.csrf = form_token(&profile.body);
        session
    }

    async fn get(&self, path: &str) -> PageAnswer {
        let request = self.http.get(format!("{}{path}", self.base));
        self.answer(format!("GET {path}"), request).await
    }

    async fn post(&self, path: &str, form: PageForm) -> PageAnswer {
        let csrf = ("csrf_token".to_owned(), self.csrf.clone());
        let request = self.http.post(format!("{}{path}", self.base));
        let request = match form {
            PageForm::Urlencoded(mut fields) => {
                fields.insert(0, csrf);
                request
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form_encoded(&fields))
            }
            PageForm::Multipart(fields, with_file) => {
                let mut form = reqwest::multipart::Form::new().text(csrf.0, csrf.1);
                for (name, value) in fields {
                    form = form.text(name, value);
                }
                if with_file {
                    let file = reqwest::multipart::Part::bytes(b"from company B".to_vec())
                        .file_name("probe.txt");
                    form = form.part("attachments", file);
                }
                request.multipart(form)
            }
        };
        self.answer(format!("POST {path}"), request).await
    }

    async fn answer(&self, request: String, builder: reqwest::RequestBuilder) -> PageAnswer {
        let response = builder
            .header("cookie", &self.cookies)
            .send()
            .await
            .unwrap();
        let header = |name: &str| -> Vec<String> {
            response
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        };
        let location = header("location").concat();
        // A consumed flash is cleared and a new one set after it: the last one counts.
        let flash = header("set-cookie")
            .into_iter()
            .filter_map(|c| Some(c.strip_prefix("tf_flash=")?.split(';').next()?.to_owned()))
            .rfind(|v| !v.is_empty())
            .map(|v| {
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(v)
                    .unwrap();
                String::from_utf8(bytes).unwrap()
            });
        PageAnswer {
            request,
            status: response.status().as_u16(),
            location,
            flash,
            body: response.text().await.unwrap(),
        }
    }
}

impl World {
    /// The form a page route is posted with, by its key (see [`expand`]); the CSRF token is
    /// added. Like the API's bodies, it names only B's objects. Routes that take nothing
    /// but the token are not listed.
    fn page_form(&self, key: &str) -> PageForm {
        let fields = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let schema = r#"{"type": "object", "properties": {}}"#;
        let task = [
            ("name", "Probe"),
            ("task_type", "FORM"),
            ("assignment", "claim"),
            ("output_schema", schema),
        ];
        let form = match key {
            "/admin/users/{id}" => fields(&[("first_name", "Mallory"), ("last_name", "Probe")]),
            "/admin/users/{id}/status" => fields(&[("action", "block")]),
            "/staff/companies/{id}/status" => fields(&[("action", "suspend")]),
            "/admin/users/{id}/roles" => {
                fields(&[("system_roles", "user"), ("company_roles", "reviewers")])
            }
            "/admin/company-roles/{id}" => fields(&[("name", "probed"), ("description", "x")]),
            "/admin/canned-replies/{id}" => fields(&[
                ("shortcut", "probed"),
                ("title", "Probed"),
                ("body", "probed"),
                ("sort_order", "0"),
            ]),
            "/design/workflows/{id}/life-cycle" => fields(&[("action", "archive")]),
            "/design/workflows/{id}/add/tasks" | "/design/objects/tasks/{id}/edit" => fields(&task),
            "/design/workflows/{id}/add/transitions" | "/design/objects/transitions/{id}/edit" => {
                fields(&[("to_status", "COMPLETED"), ("priority", "0")])
            }
            "/design/workflows/{id}/add/ticket-types"
            | "/design/objects/ticket-types/{id}/edit"
            | "/design/objects/workflows/{id}/edit" => {
                fields(&[("title", "Probe"), ("fields", schema)])
            }
            "/tasks/{id}/assign" => fields(&[("user_id", &self.mallory.id)]),
            "/tasks/{id}/complete" => fields(&[("output.approved", "true")]),
            "/tickets/{id}/comments" => fields(&[("body", "probed")]),
            "/notifications/{id}/snooze" => fields(&[("minutes", "60")]),
            "/conversations/{id}/status" => fields(&[("status", "closed")]),
            "/conversations/{id}/assign" => fields(&[("assignee_id", &self.mallory.id)]),
            "/conversations/{id}/ticket" => fields(&[("ticket_type_id", &self.mallory.id)]),
            "/admin/channels/{id}" => fields(&[("name", "probed"), ("verification", "slack")]),
            "/admin/channels/{id}/test-messages" => {
                fields(&[("external_user_id", "probe"), ("content", "probed")])
            }
            "/admin/webhooks/{id}" => fields(&[("url", "https://probe.invalid/"), ("kinds", "*")]),
            "/admin/webhooks/{id}/delete" => fields(&[("confirm", "yes")]),
            "/tickets/new/{type_id}" => {
                let data = [("data.amount", "200"), ("data.reason", "probed")];
                return PageForm::Multipart(fields(&data), false);
            }
            "/tickets/{id}/attachments" => return PageForm::Multipart(Vec::new(), true),
            "/conversations/{id}/messages" => {
                return PageForm::Multipart(vec![("body".into(), "probed".into())], true);
            }
            _ => Vec::new(),
        };
        PageForm::Urlencoded(form)
    }
}

/// Why a page answer is not the refusal expected, if it is not: the not-found page (a 403
/// page for the staff's pages), or after a form post a redirect saying so.
fn page_refusal_problem(w: &World, answer: &PageAnswer, staff_only: bool) -> Option<String> {
    let shown = format!(
        "{} answered {} (location {:?}, flash {:?}): {}",
        answer.request,
        answer.status,
        answer.location,
        answer.flash,
        answer.body.chars().take(600).collect::<String>()
    );
    let refused = match answer.status {
        404 => !staff_only && answer.body.contains("<html"),
        403 => staff_only && answer.body.contains("<html"),
        303 if answer.request.starts_with("POST") => match answer.flash.as_deref() {
            Some("0:That no longer exists.") => !staff_only,
            Some(flash) => staff_only && flash.starts_with("0:Not allowed"),
            None => false,
        },
        _ => false,
    };
    if !refused {
        return Some(format!("not refused as not found: {shown}"));
    }
    let seen = format!("{} {} {:?}", answer.location, answer.body, answer.flash);
    w.leak(&answer.request, &seen)
        .map(|leak| format!("{leak}: {shown}"))
}

#[tokio::test]
async fn every_page_with_an_id_shows_not_found_for_another_companys_objects() {
    let w = world().await;
    let before = snapshot(&w).await;
    let session = PageSession::open(&w.app, w.mallory.api.token().unwrap()).await;
    let routes = page_routes();
    let (mut probed, mut calls, mut failures) = (0, 0, Vec::new());
    for route in &routes {
        if !route.template.contains('{') {
            continue;
        }
        assert!(
            !route.template.starts_with("/api/"),
            "{} in {} is an API route outside the OpenAPI document, which the API probe reads: document it",
            route.template,
            route.file
        );
        assert!(!route.methods.is_empty(), "no method read for {route:?}");
        let paths = match expand(&route.template, &w) {
            Ok(paths) => paths,
            Err(unknown) => {
                failures.push(format!("{unknown} ({})", route.file));
                continue;
            }
        };
        if paths.is_empty() {
            continue;
        }
        probed += 1;
        let staff_only = route.template.starts_with("/staff/");
        for (path, key) in &paths {
            for method in &route.methods {
                let answer = match *method {
                    "get" => session.get(path).await,
                    "post" => session.post(path, w.page_form(key)).await,
                    other => panic!("pages are read and posted; {other} {path}?"),
                };
                calls += 1;
                if let Some(problem) = page_refusal_problem(&w, &answer, staff_only) {
                    failures.push(problem);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} page probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The routers hold 27 routes with a parameter today; far fewer means the sources were
    // not read right.
    assert!(probed >= 25, "only {probed} page routes with an id");
    eprintln!("probed {probed} page routes in {calls} calls");
    assert_unchanged(&before, &snapshot(&w).await);
    w.app.stop().await;
}

// ---- Lists and references

#[tokio::test]
async fn lists_searches_and_references_never_reach_another_company() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mallory = &w.mallory.api;
    let (workflow, ticket, worker) = (
        &w.ids("workflow")[0],
        &w.ids("ticket")[0],
        &w.ids("worker")[0],
    );

    // B's lists hold B's objects only, whatever they are searched for.
    let users = mallory.users("").await.expect(200);
    assert_eq!(users["items"].as_array().unwrap().len(), 2, "{users}");
    for (what, answer) in [
        ("users", mallory.users("q=rita").await),
        ("tickets", mallory.tickets("").await),
        ("searched tickets", mallory.tickets("q=chairs").await),
        (
            "assigned tickets",
            mallory.tickets(&format!("assignee={worker}")).await,
        ),
        ("tasks", mallory.tasks("").await),
        ("the task queue", mallory.tasks("queue=true").await),
        (
            "workflow errors",
            mallory
                .workflow_errors("status=NEW,REVIEWED,RESOLVED")
                .await,
        ),
        ("ticket types", mallory.available_ticket_types().await),
        (
            "conversations",
            mallory
                .send(Method::GET, "/api/v1/conversations?view=all", Body::Empty)
                .await,
        ),
        (
            "canned replies",
            mallory
                .send(Method::GET, "/api/v1/canned-replies?q=secret", Body::Empty)
                .await,
        ),
        (
            "searched messages",
            mallory
                .send(
                    Method::GET,
                    "/api/v1/conversations/search?q=secret",
                    Body::Empty,
                )
                .await,
        ),
    ] {
        let body = answer.expect(200);
        assert_eq!(body["items"], json!([]), "{what}: {body}");
    }
    for kind in DesignKind::ALL {
        let all = mallory.design_objects(kind, "").await.expect(200);
        assert_eq!(all["items"], json!([]), "{all}");
    }
    // The platform's error log, which names A, is the staff's alone.
    for refused in [
        mallory.platform_errors("").await,
        mallory.platform_errors("count_only=true").await,
        mallory.clear_platform_errors().await,
    ] {
        assert_eq!(refused.status, 403, "{refused}");
        assert_eq!(w.leak("", &refused.text()), None, "{refused}");
    }
    let roles = mallory.company_roles().await.expect(200).to_string();
    let tokens = mallory.api_tokens().await.expect(200).to_string();
    let company = mallory.company().await.expect(200);
    assert_eq!(company["name"], "Globex");
    for text in [roles, tokens, company.to_string()] {
        assert_eq!(w.leak("", &text), None, "{text}");
    }

    // Ids of A's objects in a body are refused as unknown.
    mallory
        .submit_ticket(&w.a.type_id, json!({"amount": 200, "reason": "probed"}))
        .await
        .expect(422);
    let task = json!({
        "workflow_id": workflow, "name": "Sneak", "task_type": "FORM",
        "output_schema": {"type": "object", "properties": {}}
    });
    mallory
        .create_design_object(DesignKind::Tasks, task)
        .await
        .expect(422);
    for answer in [
        mallory
            .import_bundle(
                &fixtures::purchase_bundle(fixtures::when_approved()),
                &format!("workflow_id={workflow}"),
            )
            .await,
        mallory.workflow_errors(&format!("ticket={ticket}")).await,
    ] {
        let status = answer.status.as_u16();
        assert!(
            status == 404 || answer.body["items"] == json!([]),
            "{answer}"
        );
    }

    // B's own task cannot be given to A's people.
    let imported =
        w.b.admin
            .import_bundle(&fixtures::purchase_bundle(fixtures::when_approved()), "")
            .await
            .expect(201);
    let b_workflow = imported["workflow_id"].as_str().unwrap();
    w.b.admin.publish_workflow(b_workflow).await.expect(200);
    let b_type = mallory.available_ticket_types().await.expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_ticket = mallory
        .submit_ticket(&b_type, json!({"amount": 200, "reason": "own"}))
        .await
        .expect(201);
    let b_task = b_ticket["tasks"][0]["id"].as_str().unwrap();
    let assigned = mallory.assign_task(b_task, worker).await;
    assert!([404, 422].contains(&assigned.status.as_u16()), "{assigned}");
    let allowed = mallory.set_allowed_users(b_task, &[worker]).await;
    assert!([404, 422].contains(&allowed.status.as_u16()), "{allowed}");
    let task = mallory.task(b_task).await.expect(200);
    assert_eq!(w.leak("", &task.to_string()), None, "{task}");

    // The pages' lists and searches show none of A either.
    let session = PageSession::open(&w.app, mallory.token().unwrap()).await;
    for path in [
        "/admin/users?q=rita".to_owned(),
        "/admin/company-roles".to_owned(),
        "/admin/api-tokens".to_owned(),
        "/admin/channels".to_owned(),
        "/admin/webhooks".to_owned(),
        "/tickets/all?q=chairs".to_owned(),
        format!("/tickets/all?assignee={worker}"),
        "/tasks".to_owned(),
        "/tasks/all".to_owned(),
        "/workflow-errors?show=all".to_owned(),
        "/design/workflows".to_owned(),
        format!("/design/bundles/new?workflow_id={workflow}"),
        "/tickets/new".to_owned(),
        "/conversations?view=all".to_owned(),
        "/conversations?q=secret".to_owned(),
    ] {
        let page = session.get(&path).await;
        assert!([200, 404].contains(&page.status), "{path}: {}", page.body);
        assert_eq!(w.leak(&path, &page.body), None, "{path}: {}", page.body);
    }
    let log = session.get("/staff/errors").await;
    assert_eq!(log.status, 403, "{}", log.body);
    assert_eq!(w.leak("", &log.body), None, "{}", log.body);
    assert_unchanged(&before, &snapshot(&w).await);
    w.app.stop().await;
}

//! Fixtures shared by the API and the browser tests, made through the API as a customer
//! would make them: a signed-up company, its people, and the purchase-request desk (a
//! published workflow in which `reviewers` approve and `buyers` buy).

use serde_json::{Value, json};

use crate::api::{ApiClient, id};
use crate::server::TestApp;

/// The password of every account the fixtures create.
pub const PASSWORD: &str = "correct horse 42";

/// A signed-up company and its first admin.
pub struct Company {
    pub name: String,
    pub id: String,
    /// The first admin, signed in.
    pub admin: ApiClient,
    pub admin_id: String,
    pub admin_email: String,
    /// The admin's refresh token from the sign-up.
    pub refresh_token: String,
    /// The sign-up's answer: `{company, user, access_token, refresh_token, ...}`.
    pub signed_up: Value,
}

/// A person of a company, signed in.
pub struct Member {
    pub id: String,
    pub email: String,
    pub api: ApiClient,
}

/// Signs a company up; its admin is Ada Admin with [`PASSWORD`].
pub async fn sign_up(app: &TestApp, name: &str, admin_email: &str) -> Company {
    let signed_up = app
        .api()
        .signup(json!({
            "company_name": name,
            "admin_email": admin_email,
            "admin_password": PASSWORD,
            "admin_first_name": "Ada",
            "admin_last_name": "Admin",
        }))
        .await
        .expect(201);
    let text = |pointer: &str| {
        signed_up
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {pointer} in the sign-up answer {signed_up}"))
            .to_owned()
    };
    Company {
        name: name.to_owned(),
        id: text("/company/id"),
        admin: app.api().as_user(text("/access_token")),
        admin_id: text("/user/id"),
        admin_email: admin_email.to_owned(),
        refresh_token: text("/refresh_token"),
        signed_up,
    }
}

impl Company {
    /// The admin's access token.
    pub fn access_token(&self) -> &str {
        self.admin.token().unwrap_or_default()
    }

    /// Defines company roles; returns their ids in order.
    pub async fn add_roles(&self, names: &[&str]) -> Vec<String> {
        let mut ids = Vec::new();
        for name in names {
            let description = format!("{name} of {}", self.name);
            let role = self
                .admin
                .create_company_role(name, &description)
                .await
                .expect(201);
            ids.push(id(&role));
        }
        ids
    }

    /// Adds an active user named `first_name` + the company's name with these roles, and
    /// signs them in.
    pub async fn add_member(
        &self,
        email: &str,
        first_name: &str,
        system_roles: &[&str],
        company_roles: &[&str],
    ) -> Member {
        let user = self
            .admin
            .create_user(json!({
                "email": email, "password": PASSWORD, "first_name": first_name,
                "last_name": self.name, "system_roles": system_roles,
            }))
            .await
            .expect(201);
        let user = id(&user);
        if !company_roles.is_empty() {
            self.admin
                .set_roles(&user, system_roles, company_roles)
                .await
                .expect(200);
        }
        Member {
            api: log_in(&self.admin, email).await,
            id: user,
            email: email.to_owned(),
        }
    }
}

/// The platform staff's email, signed in by [`platform_staff`].
pub const STAFF_EMAIL: &str = "staff@ticketflower.dev";

/// Creates the platform staff account and signs it in. Staff accounts are made by the CLI
/// (`create-superuser`), not over HTTP, so the use case is called directly.
pub async fn platform_staff(app: &TestApp) -> ApiClient {
    app::identity::platform::create_superuser(&app.app, STAFF_EMAIL, PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("cannot create the platform staff account: {e}"));
    log_in(&app.api(), STAFF_EMAIL).await
}

/// Signs `email` in with [`PASSWORD`]; a client of the same server holding the token.
pub async fn log_in(any: &ApiClient, email: &str) -> ApiClient {
    let tokens = any.anonymous().login(email, PASSWORD).await.expect(200);
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token in {tokens}"));
    any.as_user(access)
}

/// The purchase-request design: `reviewers` review a request (`approved`, `note`), and when
/// `approved_when` holds the `buyers` buy it (`done_note`), else it ends REJECTED. Its one
/// ticket type, `purchase`, asks for an `amount` (1 to 10000 EUR) and a `reason`; its
/// tickets are called by both (`A laptop (250 EUR)`).
pub fn purchase_bundle(approved_when: Value) -> Value {
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
             "summary": "{{reason}} ({{amount}} EUR)",
             "fields": {"type": "object", "required": ["amount", "reason"], "properties": {
                 "amount": {"type": "integer", "title": "Amount (EUR)", "minimum": 1,
                            "maximum": 10000},
                 "reason": {"type": "string", "title": "Reason", "minLength": 3,
                            "description": "What it is for"}
             }}}
        ]
    })
}

/// The condition of the usual purchase desk: every approval goes to the buyers.
pub fn when_approved() -> Value {
    json!({"approved": {"$eq": true}})
}

/// Acme (admin ada@acme.io) with the purchase workflow published: Rita Acme requests,
/// Victor Acme (`reviewers`) reviews, Bea Acme (`buyers`) buys.
pub struct PurchaseDesk {
    pub company: Company,
    /// rita@acme.io, a plain user.
    pub requester: Member,
    /// victor@acme.io, a task worker holding `reviewers`.
    pub reviewer: Member,
    /// bea@acme.io, a task worker holding `buyers`.
    pub buyer: Member,
    /// The bundle import's answer: `{workflow_id, task_ids, transition_ids,
    /// ticket_type_ids}`, each map by key.
    pub imported: Value,
    pub workflow_id: String,
    /// The `purchase` ticket type.
    pub type_id: String,
}

/// Sets up the [`PurchaseDesk`]; `approved_when` is the condition of the branch to the
/// buyers (see [`purchase_bundle`]).
pub async fn purchase_desk(app: &TestApp, approved_when: Value) -> PurchaseDesk {
    let company = sign_up(app, "Acme", "ada@acme.io").await;
    company.add_roles(&["reviewers", "buyers"]).await;
    let requester = company
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    let reviewer = company
        .add_member("victor@acme.io", "Victor", &["task_worker"], &["reviewers"])
        .await;
    let buyer = company
        .add_member("bea@acme.io", "Bea", &["task_worker"], &["buyers"])
        .await;
    let imported = company
        .admin
        .import_bundle(&purchase_bundle(approved_when), "")
        .await
        .expect(201);
    let text = |pointer: &str| {
        imported
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {pointer} in {imported}"))
            .to_owned()
    };
    let (workflow_id, type_id) = (text("/workflow_id"), text("/ticket_type_ids/purchase"));
    company
        .admin
        .publish_workflow(&workflow_id)
        .await
        .expect(200);
    PurchaseDesk {
        company,
        requester,
        reviewer,
        buyer,
        imported,
        workflow_id,
        type_id,
    }
}

impl PurchaseDesk {
    /// The requester asks for a purchase; returns the new ticket (with its tasks).
    pub async fn request_purchase(&self, amount: u32, reason: &str) -> Value {
        self.requester
            .api
            .submit_ticket(&self.type_id, json!({ "amount": amount, "reason": reason }))
            .await
            .expect(201)
    }

    /// The id of a design object of the bundle, e.g. `("task_ids", "review")`.
    pub fn design_id(&self, map: &str, key: &str) -> String {
        self.imported[map][key]
            .as_str()
            .unwrap_or_else(|| panic!("no {map}.{key} in {}", self.imported))
            .to_owned()
    }
}

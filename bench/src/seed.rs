//! Realistic data, made through the public API so every row is one the server wrote itself:
//! companies with their roles, both example workflows published, reviewers and requesters,
//! tickets spread over the companies with comments and internal notes (and so their events).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{Api, text};
use crate::load::{self, Request, Script};

pub const PASSWORD: &str = "bench passphrase 1";
const DOC_REVIEW: &str = include_str!("../../examples/bundles/document-review.yaml");
const IT_ACCESS: &str = include_str!("../../examples/bundles/it-access-request.yaml");
const ROLES: [&str; 3] = ["managers", "security", "reviewers"];
const REVIEWERS: usize = 3;

/// How much to make.
#[derive(Clone, Copy, Serialize)]
pub struct Plan {
    pub companies: usize,
    pub users_per_company: usize,
    pub tickets: usize,
}

pub struct Person {
    pub email: String,
    pub token: Arc<str>,
}

pub struct Company {
    pub admin: Person,
    pub reviewers: Vec<Person>,
    pub requesters: Vec<Person>,
    pub review_type: String,
    pub access_type: String,
    /// Ids of the company's tickets, oldest first.
    pub tickets: Vec<String>,
}

#[derive(Serialize)]
pub struct Seeded {
    pub companies: usize,
    pub users: usize,
    pub published_workflows: usize,
    pub tickets: usize,
    pub comments: usize,
    pub seconds: f64,
}

/// The completion the benchmarks measure, one for every open review of `companies`: the
/// review sends the document back, which opens the requester's edit task.
pub async fn revisions(api: &Api, companies: &[Company]) -> Result<Vec<Request>> {
    let body = json!({ "output": { "decision": "revise", "review_comments": "Please add the crew rota." } });
    let mut requests = Vec::new();
    for company in companies {
        for (id, token) in open_reviews(api, company).await? {
            requests.push(Request::post(
                format!("/api/v1/tasks/{id}/complete"),
                Some(&token),
                &body,
            ));
        }
    }
    Ok(requests)
}

/// A submission body for the document review type (`n` varies the text).
pub fn review_submission(type_id: &str, n: u64) -> Value {
    json!({
        "ticket_type_id": type_id,
        "data": {
            "document_url": format!("https://docs.example.com/plans/{n}"),
            "summary": format!("Quarterly plan number {n} for the zeppelin fleet, with budget and crew rota"),
        }
    })
}

fn access_submission(type_id: &str, n: usize) -> Value {
    let level = ["read", "write", "admin"][n % 3];
    json!({
        "ticket_type_id": type_id,
        "data": {
            "system": format!("ledger-{}", n % 17),
            "level": level,
            "justification": format!("Month-end close needs {level} access (request {n})"),
        }
    })
}

pub async fn seed(addr: SocketAddr, plan: Plan) -> Result<(Vec<Company>, Seeded)> {
    let started = Instant::now();
    let api = Api::new(addr);
    let mut companies = Vec::new();
    for c in 0..plan.companies {
        companies.push(company(&api, c, plan.users_per_company).await?);
    }

    // Tickets: each company's requesters take turns; one in four asks for IT access.
    let mut requests = Vec::new();
    for n in 0..plan.tickets {
        let company = &companies[n % companies.len()];
        let requester = &company.requesters[(n / companies.len()) % company.requesters.len()];
        let body = if n % 4 == 3 {
            access_submission(&company.access_type, n)
        } else {
            review_submission(&company.review_type, n as u64)
        };
        requests.push(Request::post("/api/v1/tickets", Some(&requester.token), &body).tagged(n));
    }
    let script = Script::new(requests);
    let outcome = load::run(addr, 16, None, script.clone()).await?;
    ensure!(
        outcome.errors == 0,
        "seeding tickets: {:?}",
        outcome.first_error
    );
    for (n, _, body) in script.answers() {
        let ticket: Value = serde_json::from_slice(&body)?;
        let company = n % companies.len();
        companies[company].tickets.push(text(&ticket, "/id")?);
    }

    // Comments: the requester on every ticket, an internal note from the admin on every fourth.
    let mut requests = Vec::new();
    for company in &companies {
        for (i, id) in company.tickets.iter().enumerate() {
            let requester = &company.requesters[i % company.requesters.len()];
            let path = format!("/api/v1/tickets/{id}/comments");
            let body = json!({ "body": format!("Any news on this one? The deadline is day {}.", i % 28 + 1), "internal": false });
            requests.push(Request::post(path.clone(), Some(&requester.token), &body));
            if i % 4 == 0 {
                let note = json!({ "body": "Checked with finance; waiting for the budget line.", "internal": true });
                requests.push(Request::post(path, Some(&company.admin.token), &note));
            }
        }
    }
    let comments = requests.len();
    let outcome = load::run(addr, 16, None, Script::new(requests)).await?;
    ensure!(
        outcome.errors == 0,
        "seeding comments: {:?}",
        outcome.first_error
    );

    let users = companies
        .iter()
        .map(|c| 1 + c.reviewers.len() + c.requesters.len())
        .sum();
    let seeded = Seeded {
        companies: companies.len(),
        users,
        published_workflows: companies.len() * 2,
        tickets: plan.tickets,
        comments,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((companies, seeded))
}

async fn company(api: &Api, c: usize, users: usize) -> Result<Company> {
    ensure!(
        users > REVIEWERS + 1,
        "a company needs more than {} users",
        REVIEWERS + 1
    );
    let admin_email = format!("admin{c}@company{c}.example");
    let signed_up = api
        .call(
            Method::POST,
            "/api/v1/signup",
            None,
            Some(&json!({
                "company_name": format!("Company {c}"),
                "admin_email": admin_email,
                "admin_password": PASSWORD,
                "admin_first_name": "Ada",
                "admin_last_name": format!("Admin {c}"),
            })),
            StatusCode::CREATED,
        )
        .await?;
    let admin = Person {
        email: admin_email,
        token: text(&signed_up, "/access_token")?.into(),
    };
    let token = Some(&*admin.token);
    for role in ROLES {
        api.call(
            Method::POST,
            "/api/v1/company-roles",
            token,
            Some(&json!({ "name": role, "description": format!("The {role}") })),
            StatusCode::CREATED,
        )
        .await?;
    }
    let review_type = publish(api, token, DOC_REVIEW, "review_request").await?;
    let access_type = publish(api, token, IT_ACCESS, "access_request").await?;

    let mut reviewers = Vec::new();
    let mut requesters = Vec::new();
    for u in 1..users {
        let reviewer = u <= REVIEWERS;
        let email = format!("user{u}@company{c}.example");
        let created = api
            .call(
                Method::POST,
                "/api/v1/users",
                token,
                Some(&json!({
                    "email": email, "password": PASSWORD,
                    "first_name": "Uma", "last_name": format!("User {u}"),
                    "system_roles": if reviewer { vec!["user", "task_worker"] } else { vec!["user"] },
                })),
                StatusCode::CREATED,
            )
            .await?;
        let id = text(&created, "/id")?;
        if reviewer {
            api.call(
                Method::PUT,
                &format!("/api/v1/users/{id}/roles"),
                token,
                Some(&json!({ "company_roles": ["reviewers"], "system_roles": ["user", "task_worker"] })),
                StatusCode::OK,
            )
            .await?;
        }
        let token = login(api, &email).await?;
        let person = Person { email, token };
        if reviewer {
            reviewers.push(person);
        } else {
            requesters.push(person);
        }
    }
    Ok(Company {
        admin,
        reviewers,
        requesters,
        review_type,
        access_type,
        tickets: Vec::new(),
    })
}

pub fn login_body(email: &str) -> Value {
    json!({ "email": email, "password": PASSWORD, "platform": "bench" })
}

pub async fn login(api: &Api, email: &str) -> Result<Arc<str>> {
    let answer = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&login_body(email)),
            StatusCode::OK,
        )
        .await?;
    Ok(text(&answer, "/access_token")?.into())
}

/// Imports and publishes a bundle; answers the id of its ticket type `key`.
async fn publish(api: &Api, token: Option<&str>, bundle: &str, key: &str) -> Result<String> {
    let (status, created) = api
        .send(
            Method::POST,
            "/api/v1/design/bundles",
            token,
            "application/yaml",
            Bytes::from(bundle.to_owned()),
        )
        .await?;
    if status != StatusCode::CREATED {
        bail!("importing a bundle answered {status}: {created}");
    }
    let workflow = text(&created, "/workflow_id")?;
    api.call(
        Method::POST,
        &format!("/api/v1/design/workflows/{workflow}/publish"),
        token,
        None,
        StatusCode::OK,
    )
    .await?;
    text(&created, &format!("/ticket_type_ids/{key}"))
}

/// The open review tasks of a company, each with the token of its assignee.
pub async fn open_reviews(api: &Api, company: &Company) -> Result<Vec<(String, Arc<str>)>> {
    let mut tasks = Vec::new();
    for reviewer in &company.reviewers {
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tasks?mine=true&limit=100&cursor={c}"),
                None => "/api/v1/tasks?mine=true&limit=100".to_owned(),
            };
            let page = api
                .call(
                    Method::GET,
                    &path,
                    Some(&reviewer.token),
                    None,
                    StatusCode::OK,
                )
                .await?;
            let items = page["items"].as_array().context("no items")?;
            for task in items {
                let open = matches!(task["status"].as_str(), Some("OPEN" | "IN_PROGRESS"));
                if open && task["task_key"] == "review" {
                    tasks.push((text(task, "/id")?, reviewer.token.clone()));
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    Ok(tasks)
}

/// Waits out the server's background work after seeding (jobs, the event feed).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

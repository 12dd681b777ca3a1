//! The desk around the pages (issue 15): the navigation counts what waits for each person
//! and only for who may act on it, tickets carry their summary line, lists count their
//! rows and page both ways, the team's list says where each ticket stands.

use serde_json::{Value, json};
use testkit::fixtures::{self, PASSWORD, purchase_desk, when_approved};
use testkit::spawn_app;

use crate::common::page;

/// The count shown beside a navigation link, if any.
fn count_beside(html: &str, href: &str) -> Option<i64> {
    let nav = &html[html.find("id=\"nav\"").expect("a navigation")..];
    let link = &nav[nav.find(&format!("<a href=\"{href}\""))?..];
    let link = &link[..link.find("</a>")?];
    let count = link.split("class=\"count\"").nth(1)?;
    let digits: String = count
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[tokio::test]
async fn the_navigation_counts_what_waits_only_for_who_may_act_on_it() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let first = desk
        .request_purchase(100, "A chair for the reception")
        .await;
    desk.request_purchase(200, "Two monitors").await;
    let task = first["tasks"][0]["id"].as_str().unwrap();

    let reviewer = desk.reviewer.api.token().unwrap().to_owned();
    let before = page(&app, &reviewer, "/dashboard").await;
    assert_eq!(count_beside(&before, "/tasks"), None, "nothing held yet");
    assert!(before.contains("id=\"ready-to-claim\""), "{before}");
    assert!(
        before.contains("A chair for the reception (100 EUR)"),
        "{before}"
    );

    desk.reviewer.api.claim_task(task).await.expect(200);
    let after = page(&app, &reviewer, "/dashboard").await;
    assert_eq!(count_beside(&after, "/tasks"), Some(1));
    let waiting = &after[after.find("id=\"waiting-on-you\"").unwrap()..];
    assert!(waiting.contains("Review the request"), "{waiting}");
    // A task worker is not offered the admin's or the team's lists.
    assert!(!after.contains("href=\"/admin/users\""), "{after}");
    assert!(!after.contains("href=\"/workflow-errors\""), "{after}");

    // Someone registering with the invite code waits for an admin: counted for the admin.
    let company = desk.company.admin.company().await.expect(200);
    app.api()
        .register(json!({
            "company_invite_code": company["invite_code"], "email": "newbie@acme.io",
            "password": PASSWORD, "first_name": "New", "last_name": "Bie",
        }))
        .await
        .expect(202);
    let admin = page(&app, desk.company.access_token(), "/dashboard").await;
    assert_eq!(count_beside(&admin, "/admin/users"), Some(1));
    assert!(admin.contains("person waits for your approval"), "{admin}");
    // The requester holds nothing and works in no team: no counts at all.
    let requester = page(&app, desk.requester.api.token().unwrap(), "/dashboard").await;
    assert!(!requester.contains("class=\"count\""), "{requester}");
    assert!(requester.contains("Two monitors (200 EUR)"), "{requester}");
    app.stop().await;
}

#[tokio::test]
async fn a_ticket_is_called_by_its_summary_line_and_a_bad_template_is_refused() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let ticket = desk.request_purchase(99, "  A   desk lamp ").await;
    assert_eq!(ticket["title"], "A desk lamp (99 EUR)");
    let listed = desk.requester.api.tickets("").await.expect(200);
    assert_eq!(listed["items"][0]["title"], "A desk lamp (99 EUR)");

    // A placeholder must name a field of the ticket type (or the requester).
    let mut bundle = fixtures::purchase_bundle(when_approved());
    bundle["title"] = json!("Broken summary");
    bundle["ticket_types"][0]["summary"] = json!("{{colour}} for {{requester}}");
    let refused = desk.company.admin.import_bundle(&bundle, "").await;
    let problem: Value = refused.expect(422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields
            .iter()
            .any(|f| f.ends_with("/ticket_types/0/summary")),
        "{problem}"
    );
    app.stop().await;
}

#[tokio::test]
async fn lists_count_their_rows_and_page_forward_and_back() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    for n in 1..=28 {
        desk.request_purchase(n, &format!("Item number {n}")).await;
    }
    let admin = desk.company.access_token().to_owned();
    let first = page(&app, &admin, "/tickets/all").await;
    assert!(first.contains("1–25 of 28 tickets"), "{first}");
    assert!(
        !first.contains("id=\"prev-page\""),
        "no way back from the first page"
    );
    let next = link(&first, "next-page");
    let second = page(&app, &admin, &next).await;
    assert!(second.contains("26–28 of 28 tickets"), "{second}");
    assert!(!second.contains("id=\"next-page\""), "the last page");
    let back = page(&app, &admin, &link(&second, "prev-page")).await;
    assert!(back.contains("1–25 of 28 tickets"), "{back}");
    assert!(back.contains("Item number 28"), "newest first again");
    // The team's list says where each ticket stands.
    assert!(
        back.contains("Review the request · to be picked up"),
        "{back}"
    );
    // A search counts what it found.
    let found = page(&app, &admin, "/tickets/all?q=number+7").await;
    assert!(found.contains("1–1 of 1 ticket</span>"), "{found}");
    // Every task, counted too.
    let tasks = page(&app, &admin, "/tasks/all").await;
    assert!(tasks.contains("of 28 tasks"), "{tasks}");
    app.stop().await;
}

/// The address of the link with this id, unescaped.
fn link(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let start = html[..at].rfind("href=\"").unwrap() + 6;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&#38;", "&").replace("&amp;", "&")
}

/// The users list counts its people and pages, keeping its filter on every page.
#[tokio::test]
async fn the_users_list_counts_and_pages_with_its_filter() {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    for n in 1..=52 {
        acme.admin
            .create_user(json!({
                "email": format!("user{n:02}@acme.io"), "password": PASSWORD,
                "first_name": "Uma", "last_name": format!("Number {n}"),
                "system_roles": ["user"],
            }))
            .await
            .expect(201);
    }
    let admin = acme.access_token().to_owned();
    let first = page(&app, &admin, "/admin/users").await;
    assert!(first.contains("1–50 of 53 people"), "{first}");
    let second = page(&app, &admin, &link(&first, "next-page")).await;
    assert!(second.contains("51–53 of 53 people"), "{second}");
    assert!(second.contains("ada@acme.io"), "the oldest last: {second}");
    assert!(!second.contains("id=\"next-page\""), "the last page");
    let back = page(&app, &admin, &link(&second, "prev-page")).await;
    assert!(back.contains("1–50 of 53 people"), "{back}");

    let found = page(&app, &admin, "/admin/users?q=number+1").await;
    // Number 1 and 10–19.
    assert!(found.contains("1–11 of 11 people"), "{found}");
    app.stop().await;
}

const IT_ACCESS: &str = include_str!("../../../../examples/bundles/it-access-request.yaml");

/// Where each of `needles` first appears in `html`, in that order, or a failure naming it.
fn positions(html: &str, needles: &[String]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| html.find(n.as_str()).unwrap_or_else(|| panic!("no {n}")))
        .collect()
}

#[tokio::test]
async fn forms_and_tickets_list_fields_in_the_order_they_were_written() {
    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    company.add_roles(&["managers", "security"]).await;
    // An optional field written first, where neither the names' order nor "required
    // first" would put it.
    let bundle = IT_ACCESS
        .replace(
            "  properties:\n    system: { type: string, title: System }",
            "  properties:\n    urgency: { type: string }\n    system: { type: string, title: System }",
        )
        .replace(
            "      properties:\n        system: { type: string, title: System }",
            "      properties:\n        urgency: { type: string, title: How urgent }\n        system: { type: string, title: System }",
        );
    assert_eq!(bundle.matches("urgency").count(), 2, "the example moved");
    let imported = company
        .admin
        .import_bundle_yaml(&bundle, "")
        .await
        .expect(201);
    let workflow = imported["workflow_id"].as_str().unwrap();
    company.admin.publish_workflow(workflow).await.expect(200);
    let type_id = imported["ticket_type_ids"]["access_request"]
        .as_str()
        .unwrap();

    let written = ["urgency", "system", "level", "justification"];
    let admin = company.access_token().to_owned();
    let form = page(&app, &admin, &format!("/tickets/new/{type_id}")).await;
    let inputs: Vec<String> = written
        .iter()
        .map(|f| format!("name=\"data.{f}\""))
        .collect();
    let at = positions(&form, &inputs);
    assert!(at.is_sorted(), "{written:?} at {at:?}");

    let ticket = company
        .admin
        .submit_ticket(
            type_id,
            json!({"urgency": "today", "system": "CRM", "level": "read", "justification": "Reports"}),
        )
        .await
        .expect(201);
    let shown = page(
        &app,
        &admin,
        &format!("/tickets/{}", ticket["id"].as_str().unwrap()),
    )
    .await;
    let shown = &shown[shown.find("id=\"ticket-data\"").expect("the ticket's data")..];
    let rows: Vec<String> = written
        .iter()
        .map(|f| format!("data-field=\"{f}\""))
        .collect();
    let at = positions(shown, &rows);
    assert!(at.is_sorted(), "{written:?} at {at:?}");

    // The order goes out with an export, so an import of the export keeps it.
    let exported = company.admin.export_bundle(workflow, "").await.expect(200);
    assert_eq!(
        exported
            .pointer("/ticket_types/0/fields/properties/urgency/x-order")
            .cloned(),
        Some(json!(0)),
        "{exported}"
    );
    app.stop().await;
}

#[tokio::test]
async fn workflow_errors_page_with_totals_on_the_page_and_in_the_api() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let ticket = desk.request_purchase(10, "A lamp").await;
    let (company, ticket_id) = (
        domain::CompanyId(desk.company.id.parse().unwrap()),
        domain::ids::TicketId(ticket["id"].as_str().unwrap().parse().unwrap()),
    );
    let mut tx = app.app.db().begin().await.unwrap();
    for n in 0..55 {
        store::tasks::insert_error(
            &mut tx,
            store::tasks::NewWorkflowError {
                company_id: company,
                ticket_id,
                task_id: None,
                error_type: domain::workflow::WorkflowErrorType::WorkflowTransition,
                message: &format!("error number {n}"),
                step: &json!({}),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let admin = desk.company.access_token().to_owned();

    let first = page(&app, &admin, "/workflow-errors").await;
    assert!(first.contains("1–50 of 55 errors</span>"), "{first}");
    assert!(first.contains("error number 54"), "newest first");
    let second = page(&app, &admin, &link(&first, "next-page")).await;
    assert!(second.contains("51–55 of 55 errors</span>"), "{second}");
    assert!(second.contains("error number 0<"), "{second}");
    let back = page(&app, &admin, &link(&second, "prev-page")).await;
    assert!(back.contains("1–50 of 55 errors</span>"), "{back}");

    // Resolving one takes it off the open list; "all" still counts it.
    let errors = desk
        .company
        .admin
        .workflow_errors("limit=1")
        .await
        .expect(200);
    let newest = errors["items"][0]["id"].as_str().unwrap().to_owned();
    desk.company.admin.resolve_error(&newest).await.expect(200);
    let open = page(&app, &admin, "/workflow-errors").await;
    assert!(open.contains("of 54 errors</span>"), "{open}");
    let all = page(&app, &admin, "/workflow-errors?show=all").await;
    assert!(all.contains("of 55 errors</span>"), "{all}");
    let resolved = page(&app, &admin, "/workflow-errors?show=resolved").await;
    assert!(resolved.contains("1–1 of 1 error</span>"), "{resolved}");

    // The API pages by cursor: every open error once, newest first.
    let mut seen = Vec::new();
    let mut query = "limit=20".to_owned();
    loop {
        let answer = desk.company.admin.workflow_errors(&query).await.expect(200);
        for item in answer["items"].as_array().unwrap() {
            seen.push(item["message"].as_str().unwrap().to_owned());
        }
        match answer["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=20&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..54).rev().map(|n| format!("error number {n}")).collect();
    assert_eq!(seen, expected);
    app.stop().await;
}

/// Follows "next" from `path` to the last page; the pager counts of every page.
async fn walk(app: &testkit::TestApp, token: &str, path: &str) -> Vec<String> {
    let mut counts = Vec::new();
    let mut html = page(app, token, path).await;
    loop {
        let at = html.find("id=\"pager-count\">").expect("a pager") + "id=\"pager-count\">".len();
        counts.push(html[at..at + html[at..].find('<').unwrap()].to_owned());
        if !html.contains("id=\"next-page\"") {
            return counts;
        }
        html = page(app, token, &link(&html, "next-page")).await;
    }
}

#[tokio::test]
async fn workflows_api_tokens_and_companies_page_with_totals() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let admin = &desk.company.admin;
    for n in 0..50 {
        admin
            .create_design_object(
                testkit::api::DesignKind::Workflows,
                json!({"title": format!("Workflow {n}")}),
            )
            .await
            .expect(201);
        admin
            .create_api_token(json!({"name": format!("bot {n}")}))
            .await
            .expect(201);
    }
    let token = desk.company.access_token().to_owned();
    assert_eq!(
        walk(&app, &token, "/design/workflows").await,
        ["1–50 of 51 workflows", "51–51 of 51 workflows"]
    );
    assert_eq!(
        walk(&app, &token, "/design/workflows?q=workflow+49").await,
        ["1–1 of 1 workflow"]
    );
    assert_eq!(
        walk(&app, &token, "/admin/api-tokens").await,
        ["1–50 of 50 tokens"]
    );
    admin
        .create_api_token(json!({"name": "one more"}))
        .await
        .expect(201);
    assert_eq!(
        walk(&app, &token, "/admin/api-tokens").await,
        ["1–50 of 51 tokens", "51–51 of 51 tokens"]
    );
    // The API pages the tokens by cursor, each once.
    let mut names = Vec::new();
    let mut path = "/api/v1/api-tokens?limit=20".to_owned();
    loop {
        let answer: Value = admin
            .send(reqwest::Method::GET, &path, testkit::api::Body::Empty)
            .await
            .expect(200);
        for item in answer["items"].as_array().unwrap() {
            names.push(item["name"].as_str().unwrap().to_owned());
        }
        match answer["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/api-tokens?limit=20&cursor={cursor}"),
            None => break,
        }
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 51, "{names:?}");

    // Staff page through every company.
    let mut tx = app.app.db().begin().await.unwrap();
    for n in 0..50 {
        store::companies::insert(&mut tx, &format!("Company {n}"), &format!("invite-{n}"))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let staff = fixtures::platform_staff(&app).await;
    let staff_token = staff.token().unwrap().to_owned();
    assert_eq!(
        walk(&app, &staff_token, "/staff/companies").await,
        ["1–50 of 51 companies", "51–51 of 51 companies"]
    );
    app.stop().await;
}

//! Ticket search as people type it (issue 15), on whichever database the run uses.
//!
//! What is decided here:
//! - Words are cut at every mark but stay together: `north-west` and `docs.example.com` find
//!   their words next to each other, `west` and `example` find them alone, and a hyphenated
//!   word is also found written without its hyphens (`email` finds `e-mail`).
//! - Every word of a query is the beginning of a word of the ticket (`sales` finds
//!   `Salesforce`, `sea tea` finds "seats for the team"), never its middle (`force` does not).
//! - The requester's first and last name and email are part of a ticket's text.
//! - `#3` is a reference: ticket 3 of the caller's company alone, if the caller's list holds
//!   it. A bare `3` is both: ticket 3 first, then the tickets with a word starting with 3.
//!   The pages `/tickets/all?q=#3` and `/tickets?q=3` open ticket 3 when the caller may see
//!   it, and list as usual otherwise.
//! - Quotes, operators and punctuation are word breaks, never query syntax or a failure:
//!   `AND` or `NEAR` are words to find, and a query of punctuation alone searches nothing
//!   (the whole list).

use testkit::fixtures::{self, PurchaseDesk};
use testkit::{ApiClient, TestApp, id, spawn_app};

/// The numbers of the tickets a search lists, in order (highest number first, after the
/// ticket of the number searched for).
async fn found(client: &ApiClient, q: &str) -> Vec<i64> {
    let page = client
        .tickets(&format!("sort=number&q={}", pct(q)))
        .await
        .expect(200);
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{q:?}: {page}"))
        .iter()
        .map(|t| t["number"].as_i64().unwrap())
        .collect()
}

/// A page's status and where it redirects to, for a browser signed in with `token`.
async fn page(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let response = crate::common::page_answer(app, token, path).await;
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), location)
}

struct Desk {
    app: TestApp,
    desk: PurchaseDesk,
    /// Ticket ids by number - 1: 1 to 3 requested by Rita, 4 by Ada the admin.
    ids: Vec<String>,
}

async fn desk() -> Desk {
    let app = spawn_app().await;
    let desk = fixtures::purchase_desk(&app, fixtures::when_approved()).await;
    let mut ids = Vec::new();
    for (amount, reason) in [
        (100, "E-mail outage in north-west office"),
        (200, "Renew https://docs.example.com/plan-2026 before May"),
        (150, "Salesforce seats for the team"),
    ] {
        ids.push(id(&desk.request_purchase(amount, reason).await));
    }
    let printer = desk
        .company
        .admin
        .submit_ticket(
            &desk.type_id,
            serde_json::json!({"amount": 30, "reason": "Printer jam on floor 3"}),
        )
        .await
        .expect(201);
    ids.push(id(&printer));
    Desk { app, desk, ids }
}

#[tokio::test]
async fn search_cuts_words_at_hyphens_and_urls_and_matches_prefixes() {
    let d = desk().await;
    let admin = &d.desk.company.admin;
    for (q, expected) in [
        ("e-mail", vec![1]),
        ("email", vec![1]),
        ("E-Mail", vec![1]),
        ("north-west", vec![1]),
        ("west", vec![1]),
        ("northwest", vec![1]),
        ("north-west office outage", vec![1]),
        ("https://docs.example.com/plan-2026", vec![2]),
        ("docs.example.com", vec![2]),
        ("plan-2026", vec![2]),
        ("example", vec![2]),
        ("sales", vec![3]),
        ("Salesf", vec![3]),
        ("sea tea", vec![3]),
        ("force", vec![]),
        ("west-north", vec![]),
        ("submarine", vec![]),
    ] {
        assert_eq!(found(admin, q).await, expected, "{q:?}");
    }
    // The requester cannot search words only other tickets hold.
    let rita = &d.desk.requester.api;
    assert_eq!(found(rita, "printer").await, Vec::<i64>::new());
    assert_eq!(found(rita, "sales").await, [3]);
    d.app.stop().await;
}

#[tokio::test]
async fn search_finds_the_requester_by_name_and_email_after_reindexing() {
    let d = desk().await;
    let admin = &d.desk.company.admin;
    for q in ["Rita", "rita", "Rita Acme", "rita@acme.io", "rit"] {
        assert_eq!(found(admin, q).await, [3, 2, 1], "{q:?}");
    }
    assert_eq!(found(admin, "Ada Admin").await, [4]);
    // A comment and a correction re-index the ticket; its requester stays in the text.
    d.desk
        .requester
        .api
        .add_comment(&d.ids[0], "Still down after lunch", false)
        .await
        .expect(201);
    assert_eq!(found(admin, "rita lunch").await, [1]);
    admin
        .correct_ticket(
            &d.ids[1],
            serde_json::json!({"reason": "Renew the wiki plan"}),
        )
        .await
        .expect(200);
    assert_eq!(found(admin, "rita wiki").await, [2]);
    assert_eq!(found(admin, "docs.example.com").await, Vec::<i64>::new());
    d.app.stop().await;
}

#[tokio::test]
async fn a_ticket_number_finds_that_ticket_first_and_the_pages_open_it() {
    let d = desk().await;
    let admin = &d.desk.company.admin;
    let rita = &d.desk.requester.api;
    // `#3` is ticket 3 alone; `3` puts it before the tickets with words starting with 3.
    assert_eq!(found(admin, "#3").await, [3]);
    assert_eq!(found(admin, " # 3 ").await, [3]);
    assert_eq!(found(admin, "3").await, [3, 4]);
    assert_eq!(found(admin, "#99").await, Vec::<i64>::new());
    // Only the caller's list: ticket 4 is Ada's.
    assert_eq!(found(rita, "#4").await, Vec::<i64>::new());
    assert_eq!(found(rita, "4").await, Vec::<i64>::new());
    assert_eq!(found(rita, "#2").await, [2]);
    // The numbered ticket leads only the first page, and comes once, whatever the sort.
    for sort in ["created", "updated", "number"] {
        let mut numbers = Vec::new();
        let mut query = format!("q=3&limit=1&sort={sort}");
        loop {
            let page = admin.tickets(&query).await.expect(200);
            numbers.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["number"].as_i64().unwrap()),
            );
            match page["next_cursor"].as_str() {
                Some(next) => query = format!("q=3&limit=1&sort={sort}&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(numbers, [3, 4], "{sort}");
    }

    // Another company's ticket 1 is its own.
    let globex = fixtures::sign_up(&d.app, "Globex", "gus@globex.io").await;
    globex.add_roles(&["reviewers", "buyers"]).await;
    let imported = globex
        .admin
        .import_bundle(&fixtures::purchase_bundle(fixtures::when_approved()), "")
        .await
        .expect(201);
    globex
        .admin
        .publish_workflow(imported["workflow_id"].as_str().unwrap())
        .await
        .expect(200);
    let globex_type = imported["ticket_type_ids"]["purchase"].as_str().unwrap();
    let theirs = globex
        .admin
        .submit_ticket(
            globex_type,
            serde_json::json!({"amount": 5, "reason": "E-mail outage too"}),
        )
        .await
        .expect(201);
    assert_eq!(found(&globex.admin, "#1").await, [1]);
    assert_eq!(found(&globex.admin, "#3").await, Vec::<i64>::new());
    assert_eq!(found(&globex.admin, "e-mail").await, [1]);
    let acme_first = admin.tickets("q=%231").await.expect(200);
    assert_eq!(
        acme_first["items"][0]["id"].as_str(),
        Some(d.ids[0].as_str())
    );
    assert_ne!(acme_first["items"][0]["id"], theirs["id"]);

    // The pages open the ticket the caller may see.
    let admin_token = admin.token().unwrap();
    let rita_token = rita.token().unwrap();
    let opened = |n: usize| (303, format!("/tickets/{}", d.ids[n - 1]));
    assert_eq!(
        page(&d.app, admin_token, "/tickets/all?q=%233").await,
        opened(3)
    );
    assert_eq!(
        page(&d.app, admin_token, "/tickets/all?q=4").await,
        opened(4)
    );
    assert_eq!(page(&d.app, rita_token, "/tickets?q=3").await, opened(3));
    assert_eq!(page(&d.app, rita_token, "/tickets?q=%232").await, opened(2));
    // Not hers, or no such ticket: the list, searched as usual.
    assert_eq!(page(&d.app, rita_token, "/tickets?q=4").await.0, 200);
    assert_eq!(
        page(&d.app, admin_token, "/tickets/all?q=%2399").await.0,
        200
    );
    assert_eq!(page(&d.app, rita_token, "/tickets?q=sales").await.0, 200);
    d.app.stop().await;
}

#[tokio::test]
async fn query_syntax_and_punctuation_are_never_an_error() {
    let d = desk().await;
    let admin = &d.desk.company.admin;
    let everything = found(admin, "").await;
    assert_eq!(everything, [4, 3, 2, 1]);
    for q in [
        "\"", "*", ":", "'", "&", "|", "!", "#", "-", "(", ")", "^", "+", "\"\"", "''", "--", ":*",
        "!!!", " & | ! ",
    ] {
        assert_eq!(found(admin, q).await, everything, "{q:?}");
    }
    for (q, expected) in [
        ("\"sales", vec![3]),
        ("sales\"", vec![3]),
        ("\"sales\"", vec![3]),
        ("sales*", vec![3]),
        ("sales:*", vec![3]),
        ("!sales", vec![3]),
        ("'sales'", vec![3]),
        ("sales & seats", vec![3]),
        ("sales | printer", vec![]),
        ("NEAR(sales seats)", vec![]),
        ("sales AND seats", vec![]),
        ("NEAR", vec![]),
        ("AND", vec![]),
        ("OR", vec![]),
        ("NOT sales", vec![]),
        ("outage' OR 1=1 --", vec![]),
        ("'; DROP TABLE tickets; --", vec![]),
        ("x:* & !y | (z <-> w)", vec![]),
        ("{ticket_id}: sales", vec![]),
        ("ticket_id:1", vec![]),
    ] {
        assert_eq!(found(admin, q).await, expected, "{q:?}");
    }
    // The same for a requester, whose search leaves internal notes out.
    let rita = &d.desk.requester.api;
    for q in ["\"", "NEAR", "AND", ":", "'", "&", "|", "!", "a\"b*c"] {
        let status = rita.tickets(&format!("q={}", pct(q))).await.status.as_u16();
        assert_eq!(status, 200, "{q:?}");
    }
    // Internal notes are still found by the team only.
    admin
        .add_comment(&d.ids[2], "renegotiate-contract quietly", true)
        .await
        .expect(201);
    assert_eq!(found(admin, "renegotiate").await, [3]);
    assert_eq!(found(admin, "contract").await, [3]);
    assert_eq!(found(rita, "renegotiate").await, Vec::<i64>::new());
    d.app.stop().await;
}

/// `q` percent-encoded for a query string.
fn pct(q: &str) -> String {
    let url = reqwest::Url::parse_with_params("http://search/", &[("q", q)]).unwrap();
    url.query()
        .unwrap_or_default()
        .trim_start_matches("q=")
        .to_owned()
}

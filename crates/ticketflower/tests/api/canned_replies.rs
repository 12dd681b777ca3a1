//! Canned replies (issue 18): a company admin keeps them, agents read them (and filter
//! them by shortcut or title), nobody else does; every bad field is named in the problem,
//! a taken shortcut is a 409 on `shortcut`; each change is an event of the company; another
//! company sees none of them. The pages and the composer are in the browser tests.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{ApiClient, ApiResponse, Body, TestApp, fixtures, id};

use super::conversations::desk;

const LIST: &str = "/api/v1/canned-replies";

async fn create(client: &ApiClient, body: Value) -> ApiResponse {
    client.send(Method::POST, LIST, Body::Json(body)).await
}

fn one(reply: &str) -> String {
    format!("{LIST}/{reply}")
}

/// The shortcuts of a list, in its order.
async fn shortcuts(client: &ApiClient, query: &str) -> Vec<String> {
    client
        .send(Method::GET, &format!("{LIST}{query}"), Body::Empty)
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["shortcut"].as_str().unwrap().to_owned())
        .collect()
}

fn fields(answer: &ApiResponse) -> Vec<String> {
    let mut named: Vec<String> = answer.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    named.sort();
    named
}

/// The company's events of canned replies once `count` of them are readable (on
/// PostgreSQL the log holds events back while an older transaction is open). Read from the
/// store: no endpoint lists a company's events.
async fn canned_events(app: &TestApp, company: &str, count: usize) -> Vec<(String, Value)> {
    let company = domain::CompanyId(company.parse().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = store::events::read_after(
            app.app.db(),
            &store::events::Scope::Company(company),
            0,
            1000,
        )
        .await
        .unwrap();
        let canned: Vec<(String, Value)> = events
            .into_iter()
            .filter(|e| e.kind.starts_with("canned_reply."))
            .map(|e| (e.kind, e.payload))
            .collect();
        if canned.len() >= count || std::time::Instant::now() > deadline {
            return canned;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_admin_keeps_canned_replies_and_agents_read_them_in_order() {
    let d = desk().await;
    let ada = &d.company.admin;
    let agnes = &d.agent.api;
    let made = create(
        ada,
        json!({"shortcut": " /Refund ", "title": "Refund on its way", "body": "  Your refund is on its way.\nIt takes 3 days.  "}),
    )
    .await
    .expect(201);
    assert_eq!(made["shortcut"], "refund", "{made}");
    assert_eq!(made["body"], "Your refund is on its way.\nIt takes 3 days.");
    assert_eq!(made["sort_order"], 0);
    assert_eq!(made["created_by"], d.company.admin_id.as_str());
    assert_eq!(made["updated_by"], d.company.admin_id.as_str());
    let refund = id(&made);
    create(
        ada,
        json!({"shortcut": "out_of_office", "title": "Away", "body": "We are out of the office.", "sort_order": 5}),
    )
    .await
    .expect(201);
    create(
        ada,
        json!({"shortcut": "outlook", "title": "Outlook set-up", "body": "Open Outlook, then …", "sort_order": 5}),
    )
    .await
    .expect(201);
    create(
        ada,
        json!({"shortcut": "hello", "title": "Greeting", "body": "Hello!", "sort_order": -1}),
    )
    .await
    .expect(201);

    // Agents read them by sort order, then title.
    assert_eq!(
        shortcuts(agnes, "").await,
        ["hello", "refund", "out_of_office", "outlook"]
    );
    // `q` looks in the shortcut and the title, in any case; `_` is a character, not a
    // wildcard.
    assert_eq!(
        shortcuts(agnes, "?q=OUT").await,
        ["out_of_office", "outlook"]
    );
    assert_eq!(shortcuts(agnes, "?q=t_o").await, ["out_of_office"]);
    assert_eq!(shortcuts(agnes, "?q=set-up").await, ["outlook"]);
    assert_eq!(shortcuts(agnes, "?q=%25").await, Vec::<String>::new());
    let read = agnes
        .send(Method::GET, &one(&refund), Body::Empty)
        .await
        .expect(200);
    assert_eq!(read, made);

    // A change names only what it changes.
    let changed = ada
        .send(
            Method::PATCH,
            &one(&refund),
            Body::Json(json!({"title": "Refund sent", "sort_order": 1})),
        )
        .await
        .expect(200);
    assert_eq!(changed["title"], "Refund sent");
    assert_eq!(changed["shortcut"], "refund");
    assert_eq!(changed["body"], made["body"]);
    assert_eq!(changed["sort_order"], 1);
    assert_eq!(changed["created_at"], made["created_at"]);
    assert_eq!(
        shortcuts(agnes, "").await,
        ["hello", "refund", "out_of_office", "outlook"]
    );
    let renamed = ada
        .send(
            Method::PATCH,
            &one(&refund),
            Body::Json(json!({"shortcut": "refund-sent"})),
        )
        .await
        .expect(200);
    assert_eq!(renamed["title"], "Refund sent");
    assert_eq!(renamed["shortcut"], "refund-sent");

    ada.send(Method::DELETE, &one(&refund), Body::Empty)
        .await
        .expect(204);
    let gone = agnes.send(Method::GET, &one(&refund), Body::Empty).await;
    assert_eq!(gone.status, 404, "{gone}");
    assert!(gone.is_problem());
    let again = ada.send(Method::DELETE, &one(&refund), Body::Empty).await;
    assert_eq!(again.status, 404, "{again}");
    assert_eq!(
        shortcuts(agnes, "").await,
        ["hello", "out_of_office", "outlook"]
    );

    // Each change is an event of the company, attributed to the admin, without the body.
    let events = canned_events(&d.app, &d.company.id, 7).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "canned_reply.created",
            "canned_reply.created",
            "canned_reply.created",
            "canned_reply.created",
            "canned_reply.updated",
            "canned_reply.updated",
            "canned_reply.deleted",
        ]
    );
    assert_eq!(events[0].1["canned_reply_id"], refund.as_str());
    assert_eq!(events[0].1["shortcut"], "refund");
    assert_eq!(events[0].1["title"], "Refund on its way");
    assert!(events[0].1.get("body").is_none(), "{}", events[0].1);
    assert_eq!(events[5].1["shortcut"], "refund-sent");
    assert_eq!(events[6].1["shortcut"], "refund-sent");
    d.app.stop().await;
}

#[tokio::test]
async fn only_admins_change_canned_replies_and_only_agents_read_them() {
    let d = desk().await;
    let made = create(
        &d.company.admin,
        json!({"shortcut": "thanks", "title": "Thanks", "body": "Thank you!"}),
    )
    .await
    .expect(201);
    let path = one(&id(&made));
    let agnes = &d.agent.api;
    let attempts = [
        create(
            agnes,
            json!({"shortcut": "mine", "title": "Mine", "body": "Mine"}),
        )
        .await,
        agnes
            .send(Method::PATCH, &path, Body::Json(json!({"title": "Mine"})))
            .await,
        agnes.send(Method::DELETE, &path, Body::Empty).await,
    ];
    for refused in attempts {
        assert_eq!(refused.status, 403, "{refused}");
        assert!(refused.is_problem());
    }
    // A requester reads none of them: they are the agents' words.
    let rita = &d.requester.api;
    for path in [LIST.to_owned(), path.clone()] {
        let refused = rita.send(Method::GET, &path, Body::Empty).await;
        assert_eq!(refused.status, 403, "{refused}");
    }
    let unchanged = agnes
        .send(Method::GET, &path, Body::Empty)
        .await
        .expect(200);
    assert_eq!(unchanged, made);
    assert_eq!(shortcuts(agnes, "").await, ["thanks"]);
    d.app.stop().await;
}

#[tokio::test]
async fn bad_canned_replies_are_refused_naming_every_field() {
    let d = desk().await;
    let ada = &d.company.admin;

    let empty = create(ada, json!({"shortcut": "", "title": " ", "body": "\n"})).await;
    assert_eq!(empty.status, 422, "{empty}");
    assert!(empty.is_problem());
    assert_eq!(fields(&empty), ["body", "shortcut", "title"]);
    let missing = create(ada, json!({})).await;
    assert_eq!(missing.status, 422, "{missing}");
    assert_eq!(fields(&missing), ["body", "shortcut", "title"]);

    for bad in ["two words", "café", "-dash", "a/b", &"x".repeat(33)] {
        let refused = create(
            ada,
            json!({"shortcut": bad, "title": "Title", "body": "Body"}),
        )
        .await;
        assert_eq!(refused.status, 422, "{bad}: {refused}");
        assert_eq!(fields(&refused), ["shortcut"], "{bad}: {refused}");
    }
    let long_title = create(
        ada,
        json!({"shortcut": "long", "title": "t".repeat(121), "body": "Body"}),
    )
    .await;
    assert_eq!(fields(&long_title), ["title"], "{long_title}");
    assert!(long_title.text().contains("at most 120"), "{long_title}");
    // The body must fit in one message of the company's chat (5000 characters by default).
    let long_body = create(
        ada,
        json!({"shortcut": "long", "title": "Long", "body": "b".repeat(5001)}),
    )
    .await;
    assert_eq!(long_body.status, 422, "{long_body}");
    assert_eq!(fields(&long_body), ["body"]);
    assert!(long_body.text().contains("at most 5000"), "{long_body}");
    create(
        ada,
        json!({"shortcut": "long", "title": "Long", "body": "b".repeat(5000)}),
    )
    .await
    .expect(201);
    let not_a_number = create(
        ada,
        json!({"shortcut": "n", "title": "N", "body": "N", "sort_order": "first"}),
    )
    .await;
    assert_eq!(not_a_number.status, 422, "{not_a_number}");
    assert!(not_a_number.is_problem());
    assert!(not_a_number.text().contains("sort_order"), "{not_a_number}");

    // A shortcut is one reply's, however it is typed.
    let taken = create(
        ada,
        json!({"shortcut": "/LONG", "title": "Other", "body": "Other"}),
    )
    .await;
    assert_eq!(taken.status, 409, "{taken}");
    assert!(taken.is_problem());
    assert_eq!(fields(&taken), ["shortcut"]);
    let other = create(
        ada,
        json!({"shortcut": "other", "title": "Other", "body": "Other"}),
    )
    .await
    .expect(201);
    let clash = ada
        .send(
            Method::PATCH,
            &one(&id(&other)),
            Body::Json(json!({"shortcut": "long"})),
        )
        .await;
    assert_eq!(clash.status, 409, "{clash}");
    assert_eq!(fields(&clash), ["shortcut"]);
    let emptied = ada
        .send(
            Method::PATCH,
            &one(&id(&other)),
            Body::Json(json!({"body": "  "})),
        )
        .await;
    assert_eq!(emptied.status, 422, "{emptied}");
    assert_eq!(fields(&emptied), ["body"]);
    let unknown = ada
        .send(
            Method::PATCH,
            &one(&id(&other)),
            Body::Json(json!({"text": "x"})),
        )
        .await;
    assert_eq!(unknown.status, 422, "{unknown}");
    assert!(unknown.is_problem());

    // Nothing refused was kept.
    assert_eq!(shortcuts(ada, "").await, ["long", "other"]);
    let read = ada
        .send(Method::GET, &one(&id(&other)), Body::Empty)
        .await
        .expect(200);
    assert_eq!(read, other);
    d.app.stop().await;
}

#[tokio::test]
async fn another_companys_canned_replies_are_not_there() {
    let d = desk().await;
    let made = create(
        &d.company.admin,
        json!({"shortcut": "acme-secret", "title": "Acme secret", "body": "acme-secret text"}),
    )
    .await
    .expect(201);
    let path = one(&id(&made));
    let globex = fixtures::sign_up(&d.app, "Globex", "gus@globex.io").await;
    let gus = &globex.admin;
    // The same shortcut is free in another company.
    create(
        gus,
        json!({"shortcut": "acme-secret", "title": "Ours", "body": "Globex text"}),
    )
    .await
    .expect(201);
    let listed = gus.send(Method::GET, LIST, Body::Empty).await.expect(200);
    assert!(!listed.to_string().contains("acme-secret text"), "{listed}");
    for answer in [
        gus.send(Method::GET, &path, Body::Empty).await,
        gus.send(Method::PATCH, &path, Body::Json(json!({"title": "Mine"})))
            .await,
        gus.send(Method::DELETE, &path, Body::Empty).await,
    ] {
        assert_eq!(answer.status, 404, "{answer}");
        assert!(!answer.text().contains("acme"), "{answer}");
    }
    let still = d
        .company
        .admin
        .send(Method::GET, &path, Body::Empty)
        .await
        .expect(200);
    assert_eq!(still, made);
    d.app.stop().await;
}

//! The NATS JetStream event publisher (issue 18, item 6): with `TICKETFLOWER_NATS_URL` set,
//! every committed event reaches the stream under `ticketflower.<company>.<kind>`, as the
//! API shows it, in log order and once, across a broker crash and a server restart. Each
//! test starts a private JetStream `nats-server` (and fails when it is missing). What was
//! committed is read with `store::events` (no endpoint reads the whole log).

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream;
use serde_json::Value;
use store::events::Scope;
use testkit::nats::NatsServer;
use testkit::{TestApp, fixtures};

const STREAM: &str = "TICKETFLOWER_EVENTS";

/// A server publishing to `nats`, once its publisher has found the stream and made its
/// cursor.
async fn publishing_app(nats: &NatsServer) -> TestApp {
    let url = nats.url();
    let app = testkit::spawn_app_with(move |settings, jobs| {
        settings.nats_url = Some(url);
        jobs
    })
    .await;
    wait_for_publisher(&app, "ok").await;
    app
}

/// Waits until `/readyz` reports the publisher with `state`; returns what it says.
async fn wait_for_publisher(app: &TestApp, state: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ready: Value = testkit::json(app.get("/readyz").await).await;
        let publisher = ready["events_publisher"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if publisher.starts_with(state) {
            assert_eq!(ready["status"], "ready", "{ready}");
            return publisher;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the publisher is not {state} after 20 s: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where the publisher's cursor stands.
async fn cursor(app: &TestApp) -> i64 {
    store::relay_cursors::position(app.app.db(), app::relay::nats::CURSOR)
        .await
        .unwrap()
        .expect("the publisher made its cursor")
}

/// One message of the stream.
#[derive(Debug)]
struct Published {
    subject: String,
    message_id: String,
    event: Value,
}

/// Every message in the stream, in its order.
async fn stream_messages(nats: &NatsServer) -> Vec<Published> {
    let client = async_nats::connect(nats.url()).await.unwrap();
    let jetstream = jetstream::new(client);
    let mut stream = jetstream.get_stream(STREAM).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut messages = Vec::new();
    for sequence in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let message = stream.get_raw_message(sequence).await.unwrap();
        messages.push(Published {
            subject: message.subject.to_string(),
            message_id: message
                .headers
                .get("Nats-Msg-Id")
                .map(|id| id.to_string())
                .unwrap_or_default(),
            event: serde_json::from_slice(&message.payload).unwrap(),
        });
    }
    messages
}

/// Waits until the stream holds exactly the events committed after `from`, in the log's
/// order, then checks each message: its subject, its `Nats-Msg-Id`, its body. Returns the
/// events.
async fn assert_published_once_in_order(
    app: &TestApp,
    nats: &NatsServer,
    from: i64,
) -> Vec<domain::event::Event> {
    // On PostgreSQL the commit horizon is cluster-wide: another test's open transaction
    // may hold the newest events back for a moment, from the publisher and from us alike.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (committed, published) = loop {
        let committed = store::events::read_after(app.app.db(), &Scope::All, from, 1000)
            .await
            .unwrap();
        let published = stream_messages(nats).await;
        let ids: Vec<i64> = published
            .iter()
            .map(|message| message.event["id"].as_i64().unwrap())
            .collect();
        if ids == committed.iter().map(|event| event.id).collect::<Vec<_>>()
            || tokio::time::Instant::now() > deadline
        {
            break (committed, published);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ids: Vec<i64> = published
        .iter()
        .map(|message| message.event["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        committed.iter().map(|event| event.id).collect::<Vec<_>>(),
        "the stream holds these event ids; the log after {from} has those"
    );
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "an event is in the stream twice: {ids:?}"
    );
    for (message, event) in published.iter().zip(&committed) {
        let company = event
            .company_id
            .map_or_else(|| "platform".to_owned(), |company| company.to_string());
        assert_eq!(
            message.subject,
            format!("ticketflower.{company}.{}", event.kind)
        );
        assert_eq!(message.message_id, event.id.to_string());
        assert_eq!(message.event, serde_json::to_value(event).unwrap());
    }
    committed
}

/// Changes made through the API: a user for each name, each a few events.
async fn add_members(company: &fixtures::Company, names: &[&str]) {
    for name in names {
        company
            .add_member(
                &format!(
                    "{}@{}.example",
                    name.to_lowercase(),
                    company.name.to_lowercase()
                ),
                name,
                &["task_worker"],
                &[],
            )
            .await;
    }
}

#[tokio::test]
async fn committed_events_reach_the_stream_in_log_order_under_their_companys_subjects() {
    let nats = NatsServer::start_jetstream();
    let app = publishing_app(&nats).await;
    let from = cursor(&app).await;

    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.example").await;
    let globex = fixtures::sign_up(&app, "Globex", "ada@globex.example").await;
    for name in ["Bea", "Cy"] {
        add_members(&acme, &[name]).await;
        add_members(&globex, &[name]).await;
    }

    let events = assert_published_once_in_order(&app, &nats, from).await;
    let subjects: HashSet<String> = stream_messages(&nats)
        .await
        .into_iter()
        .map(|message| message.subject)
        .collect();
    for company in [&acme.id, &globex.id] {
        let theirs = events
            .iter()
            .filter(|event| event.company_id.map(|c| c.to_string()).as_ref() == Some(company))
            .count();
        assert!(theirs >= 3, "{company} has {theirs} events");
        assert!(
            subjects.contains(&format!("ticketflower.{company}.user.created")),
            "{subjects:?}"
        );
    }
    wait_for_publisher(&app, "ok (lag 0)").await;
}

#[tokio::test]
async fn events_committed_while_the_broker_is_down_are_published_when_it_returns() {
    let mut nats = NatsServer::start_jetstream();
    let app = publishing_app(&nats).await;
    let from = cursor(&app).await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.example").await;
    assert_published_once_in_order(&app, &nats, from).await;

    nats.kill();
    wait_for_publisher(&app, "degraded").await;
    add_members(&acme, &["Bea", "Cy", "Dee"]).await;
    let globex = fixtures::sign_up(&app, "Globex", "ada@globex.example").await;
    add_members(&globex, &["Eve"]).await;
    // Nothing was published, and the lag says so; the node stays ready.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let report = wait_for_publisher(&app, "degraded").await;
        if !report.ends_with("(lag 0)") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no lag while the broker is down: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    nats.resume();
    let events = assert_published_once_in_order(&app, &nats, from).await;
    assert!(
        events
            .iter()
            .any(|event| event.company_id.map(|c| c.to_string()) == Some(globex.id.clone())),
        "Globex's events are in the stream"
    );
    wait_for_publisher(&app, "ok").await;
}

#[tokio::test]
async fn a_restarted_server_carries_on_from_its_cursor_without_publishing_again() {
    let mut nats = NatsServer::start_jetstream();
    // A short duplicate window, so that a server that published everything again after
    // its restart would leave copies in the stream.
    let client = async_nats::connect(nats.url()).await.unwrap();
    jetstream::new(client)
        .create_stream(jetstream::stream::Config {
            name: STREAM.into(),
            subjects: vec![app::relay::nats::SUBJECTS.into()],
            duplicate_window: Duration::from_millis(200),
            ..Default::default()
        })
        .await
        .unwrap();
    let app = publishing_app(&nats).await;
    let from = cursor(&app).await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.example").await;
    add_members(&acme, &["Bea"]).await;
    assert_published_once_in_order(&app, &nats, from).await;

    // Events the server has not published when it stops.
    nats.kill();
    wait_for_publisher(&app, "degraded").await;
    add_members(&acme, &["Cy", "Dee"]).await;
    let stopped_at = cursor(&app).await;
    let app = app.restart().await;
    assert_eq!(
        cursor(&app).await,
        stopped_at,
        "the cursor survived the restart"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    nats.resume();
    // The restarted server listens on another port: a new company signs up there.
    let globex = fixtures::sign_up(&app, "Globex", "ada@globex.example").await;
    add_members(&globex, &["Eve"]).await;
    let events = assert_published_once_in_order(&app, &nats, from).await;
    assert!(events.iter().any(|event| event.id > stopped_at));
    wait_for_publisher(&app, "ok (lag 0)").await;
}

#[tokio::test]
async fn a_relay_cursor_starts_at_the_head_is_held_by_one_transaction_and_moves_only_from_where_it_stood()
 {
    use store::relay_cursors;
    let app = testkit::spawn_app().await;
    let db = app.app.db();
    fixtures::sign_up(&app, "Acme", "ada@acme.example").await;
    let head = wait_for_head(db).await;

    assert_eq!(relay_cursors::position(db, "test").await.unwrap(), None);
    let mut tx = db.begin().await.unwrap();
    let from = relay_cursors::lock(&mut tx, "test").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        from,
        Some(head),
        "a new cursor starts at the head, not at 0"
    );

    let mut holder = db.begin().await.unwrap();
    assert_eq!(
        relay_cursors::lock(&mut holder, "test").await.unwrap(),
        Some(head)
    );
    if db.backend() == store::Backend::Postgres {
        // A second server does not wait for the first: it skips the range.
        let mut other = db.begin().await.unwrap();
        assert_eq!(relay_cursors::lock(&mut other, "test").await.unwrap(), None);
        drop(other);
    }
    assert!(
        !relay_cursors::advance(&mut holder, "test", head - 1, head + 5)
            .await
            .unwrap(),
        "a cursor moves only from where it stands"
    );
    assert!(
        relay_cursors::advance(&mut holder, "test", head, head + 5)
            .await
            .unwrap()
    );
    holder.commit().await.unwrap();
    assert_eq!(
        relay_cursors::position(db, "test").await.unwrap(),
        Some(head + 5)
    );
}

/// The log's head once the sign-up's events are readable (PostgreSQL's horizon is
/// cluster-wide, so another test's open transaction may hold them back for a moment).
async fn wait_for_head(db: &store::Db) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let head = store::events::head(db, &Scope::All).await.unwrap();
        if head > 0 || tokio::time::Instant::now() > deadline {
            assert!(head > 0, "the sign-up's events never became readable");
            return head;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

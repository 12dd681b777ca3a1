//! The live stream (`/api/v1/stream`, issue 16) over a real WebSocket on loopback: replay
//! then live with no gap and no duplicate while writers commit, resuming across a reconnect
//! and a server restart, each event checked for its reader, and the protocol's refusals.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use testkit::TestApp;
use testkit::fixtures::{self, purchase_desk, when_approved};
use testkit::spawn_app;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for one message before it fails.
const WAIT: Duration = Duration::from_secs(10);

struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Opens the stream with `Authorization: Bearer <token>`.
async fn open(app: &TestApp, token: &str) -> Socket {
    let url = format!("ws://{}/api/v1/stream", app.address);
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    Socket { ws }
}

impl Socket {
    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    async fn subscribe(&mut self, stream: &str, since: Option<i64>) -> Value {
        let mut message = json!({"type": "subscribe", "stream": stream});
        if let Some(since) = since {
            message["since"] = json!(since);
        }
        self.send(message).await;
        self.next().await
    }

    /// The next protocol message (pings are answered by the client library).
    async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message within 10 s")
                .expect("the socket is open")
                .expect("a frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Reads events until `count` have come; any other message fails the test.
    async fn events(&mut self, count: usize) -> Vec<Value> {
        let mut events: Vec<Value> = Vec::new();
        while events.len() < count {
            let frame = tokio::time::timeout(WAIT, self.ws.next()).await;
            let Ok(frame) = frame else {
                panic!(
                    "{} of {count} events within 10 s: {:?}",
                    events.len(),
                    events
                        .iter()
                        .map(|e| (e["id"].as_i64(), e["kind"].as_str().map(str::to_owned)))
                        .collect::<Vec<_>>()
                );
            };
            match frame.expect("the socket is open").expect("a frame") {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(message["type"], "event", "{message}");
                    events.push(message);
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
        events
    }

    /// The close frame's code and reason, skipping anything before it.
    async fn closed(&mut self) -> (u16, String) {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a close within 10 s");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (frame.code.into(), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                    return (1005, String::new());
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Nothing but pings for `quiet`.
    /// The ids of the events that arrive within `quiet` (anything else fails the test).
    async fn late_events(&mut self, quiet: Duration) -> Vec<i64> {
        let deadline = tokio::time::Instant::now() + quiet;
        let mut ids = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return ids,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(message["type"], "event", "unexpected message: {text}");
                    ids.push(message["id"].as_i64().unwrap());
                }
                Ok(_) => continue,
            }
        }
    }

    /// No signal arrives for `quiet` (late events of the streams subscribed to may).
    async fn no_signal_for(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(message["type"], "event", "unexpected message: {text}");
                }
                Ok(_) => continue,
            }
        }
    }

    async fn silent_for(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(text)))) => panic!("unexpected message: {text}"),
                Ok(_) => continue,
            }
        }
    }
}

/// The company's events after `cursor` once the log has settled: on PostgreSQL a reader
/// sees a commit only when every older transaction has ended (jobs that follow a change
/// may still be writing), so this reads until two reads agree and hold something.
async fn log_after(app: &TestApp, company: &str, cursor: i64) -> Vec<i64> {
    let mut before = read_log(app, company, cursor).await;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = read_log(app, company, cursor).await;
        if now == before && !now.is_empty() {
            return now;
        }
        before = now;
    }
    panic!("the log after {cursor} never settled: {before:?}");
}

/// The company's events after `cursor`, in the order a reader of the log sees them; a
/// person's own notifications (the bell, read only on their own stream) left out.
async fn read_log(app: &TestApp, company: &str, cursor: i64) -> Vec<i64> {
    let company = domain::CompanyId(company.parse().unwrap());
    let mut ids = Vec::new();
    let mut cursor = cursor;
    loop {
        let events = store::events::read_after(
            app.app.db(),
            &store::events::Scope::Company(company),
            cursor,
            1000,
        )
        .await
        .unwrap();
        let Some(last) = events.last() else {
            return ids;
        };
        cursor = last.id;
        ids.extend(
            events
                .iter()
                .filter(|e| !e.kind.starts_with("notification."))
                .map(|e| e.id),
        );
    }
}

fn ids(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn replay_then_live_without_gap_or_duplicate_while_eight_writers_commit() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    desk.request_purchase(1, "Before anyone listens").await;
    let company = desk.company.id.clone();
    let since = *log_after(&app, &company, 0).await.last().unwrap();
    desk.request_purchase(2, "Missed while away").await;

    let admin = desk.company.access_token().to_owned();
    let mut socket = open(&app, &admin).await;
    // Writers start before the subscription and go on during its replay.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let requester = desk.requester.api.clone();
            let type_id = desk.type_id.clone();
            tokio::spawn(async move {
                for n in 0..5 {
                    requester
                        .submit_ticket(
                            &type_id,
                            json!({"amount": 10 + n, "reason": format!("writer {w} ticket {n}")}),
                        )
                        .await
                        .expect(201);
                }
            })
        })
        .collect();
    let subscribed = socket
        .subscribe(&format!("company:{company}"), Some(since))
        .await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    assert!(subscribed["epoch"].as_str().is_some_and(|e| !e.is_empty()));
    for writer in writers {
        writer.await.unwrap();
    }
    let expected = log_after(&app, &company, since).await;
    let received = socket.events(expected.len()).await;
    assert_eq!(
        ids(&received),
        expected,
        "every event once, in commit order"
    );
    // Nothing arrives twice. (On a busy PostgreSQL a writer's last commit can become
    // readable after the log settled: it then arrives late, once, in order.)
    let late = socket.late_events(Duration::from_millis(1500)).await;
    let mut seen = expected.clone();
    for id in &late {
        assert!(!seen.contains(id), "event {id} arrived twice");
        assert!(
            seen.last().is_none_or(|last| id > last),
            "event {id} out of order"
        );
        seen.push(*id);
    }
    // And it goes on live.
    desk.request_purchase(3, "After the replay").await;
    let after = log_after(&app, &company, *seen.last().unwrap()).await;
    assert_eq!(ids(&socket.events(after.len()).await), after);
    app.stop().await;
}

/// Opens a socket that resumes the company `feed` from `since`; it must replay exactly what
/// the log holds after it.
async fn resume(
    app: &TestApp,
    token: &str,
    feed: &str,
    since: i64,
    epoch: &str,
) -> (Socket, Vec<Value>) {
    let mut socket = open(app, token).await;
    socket
        .send(json!({"type": "subscribe", "stream": feed, "since": since, "epoch": epoch}))
        .await;
    assert_eq!(socket.next().await["type"], "subscribed");
    let company = feed.trim_start_matches("company:");
    let missed = log_after(app, company, since).await;
    let replayed = socket.events(missed.len()).await;
    assert_eq!(ids(&replayed), missed);
    (socket, replayed)
}

#[tokio::test]
async fn a_client_resumes_after_a_reconnect_and_after_a_server_restart() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let company = desk.company.id.clone();
    let feed = format!("company:{company}");
    let admin = desk.company.access_token().to_owned();

    let mut socket = open(&app, &admin).await;
    let subscribed = socket.subscribe(&feed, None).await;
    let epoch = subscribed["epoch"].as_str().unwrap().to_owned();
    let head = subscribed["head"].as_i64().unwrap();
    desk.request_purchase(1, "First").await;
    let first = log_after(&app, &company, head).await;
    let seen = socket.events(first.len()).await;
    let last = *ids(&seen).last().unwrap();
    drop(socket);

    // Missed while disconnected.
    desk.request_purchase(2, "While away").await;
    let (_, replayed) = resume(&app, &admin, &feed, last, &epoch).await;
    let last = *ids(&replayed).last().unwrap();

    // A restart between two messages: the new server replays from the same cursor.
    let requester = desk.requester.id.clone();
    let app = app.restart().await;
    let requester_api = fixtures::log_in(&app.api(), "rita@acme.io").await;
    requester_api
        .submit_ticket(
            &desk.type_id,
            json!({"amount": 7, "reason": "After the restart"}),
        )
        .await
        .expect(201);
    let (mut socket, replayed) = resume(&app, &admin, &feed, last, &epoch).await;
    assert!(
        replayed
            .iter()
            .any(|e| e["kind"] == "ticket.submitted" && e["actor_id"] == requester.as_str()),
        "{replayed:?}"
    );

    // Another database's cursor, or one that is not in the log, cannot be resumed.
    socket
        .send(json!({"type": "subscribe", "stream": format!("user:{}", desk.company.admin_id), "since": last, "epoch": "another"}))
        .await;
    let resync = socket.next().await;
    assert_eq!(resync["type"], "resync_required", "{resync}");
    socket
        .send(json!({"type": "subscribe", "stream": format!("user:{}", desk.company.admin_id), "since": 999_999_999}))
        .await;
    assert_eq!(socket.next().await["type"], "resync_required");
    app.stop().await;
}

#[tokio::test]
async fn each_event_is_checked_for_its_reader_live_and_replayed() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let ticket = desk.request_purchase(40, "A chair").await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let stream = format!("ticket:{id}");
    let admin = &desk.company.admin;
    admin
        .add_comment(&id, "internal: check the budget", true)
        .await
        .expect(201);

    // The requester's replay leaves the internal note out; so does the live stream.
    let rita = desk.requester.api.token().unwrap().to_owned();
    let mut requester = open(&app, &rita).await;
    assert_eq!(
        requester.subscribe(&stream, Some(0)).await["type"],
        "subscribed"
    );
    let victor = desk.reviewer.api.token().unwrap().to_owned();
    let mut team = open(&app, desk.company.access_token()).await;
    assert_eq!(team.subscribe(&stream, Some(0)).await["type"], "subscribed");
    admin
        .add_comment(&id, "internal: approved in principle", true)
        .await
        .expect(201);
    admin
        .add_comment(&id, "We ordered it", false)
        .await
        .expect(201);
    // The team sees both notes and the public comment; the requester only the latter.
    let mut team_comments = Vec::new();
    while team_comments.len() < 3 {
        let event = team.next().await;
        if event["kind"] == "comment.added" {
            team_comments.push(event);
        }
    }
    let mut requester_kinds = Vec::new();
    loop {
        let event = requester.next().await;
        assert_eq!(event["type"], "event", "{event}");
        assert_ne!(event["payload"]["internal"], true, "{event}");
        let public = event["kind"] == "comment.added";
        requester_kinds.push(event["kind"].as_str().unwrap().to_owned());
        if public {
            break;
        }
    }
    assert!(requester_kinds.contains(&"ticket.submitted".to_owned()));

    // Another company's user cannot subscribe to it, and learns nothing of it.
    let globex = fixtures::sign_up(&app, "Globex", "gus@globex.io").await;
    let mut mallory = open(&app, globex.access_token()).await;
    let refused = mallory.subscribe(&stream, None).await;
    assert_eq!(
        (refused["type"].as_str(), refused["status"].as_i64()),
        (Some("error"), Some(404)),
        "{refused}"
    );
    let feed = mallory
        .subscribe(&format!("company:{}", desk.company.id), None)
        .await;
    assert_eq!(feed["status"], 404, "{feed}");
    // The requester may not read the company feed.
    let feed = requester
        .subscribe(&format!("company:{}", desk.company.id), None)
        .await;
    assert_eq!(feed["status"], 403, "{feed}");

    // A blocked user's socket closes at the event that blocks them.
    let mut reviewer = open(&app, &victor).await;
    assert_eq!(
        reviewer
            .subscribe(&format!("user:{}", desk.reviewer.id), None)
            .await["type"],
        "subscribed"
    );
    admin.block_user(&desk.reviewer.id).await.expect(200);
    let (code, reason) = reviewer.closed().await;
    assert_eq!(code, 4003, "{reason}");
    // And cannot open another.
    let url = format!("ws://{}/api/v1/stream", app.address);
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {victor}").parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
    app.stop().await;
}

#[tokio::test]
async fn tickets_origins_and_bad_messages() {
    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let token = company.access_token().to_owned();
    let url = format!("ws://{}/api/v1/stream", app.address);

    // A browser's single-use ticket instead of the token in the URL.
    let ticket: Value = company
        .admin
        .send(
            reqwest::Method::POST,
            "/api/v1/stream/ticket",
            testkit::api::Body::Empty,
        )
        .await
        .expect(200);
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let (ws, _) = tokio_tungstenite::connect_async(format!("{url}?ticket={ticket}"))
        .await
        .unwrap();
    let mut socket = Socket { ws };
    socket.send(json!({"type": "ping"})).await;
    assert_eq!(socket.next().await["type"], "pong");
    assert!(
        tokio_tungstenite::connect_async(format!("{url}?ticket={ticket}"))
            .await
            .is_err(),
        "a ticket works once"
    );

    // A malformed message is answered, and the socket stays open.
    socket.send(json!({"type": "shout"})).await;
    let error = socket.next().await;
    assert_eq!(
        (error["type"].as_str(), error["status"].as_i64()),
        (Some("error"), Some(400)),
        "{error}"
    );
    socket
        .ws
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    assert_eq!(socket.next().await["status"], 400);
    let bad = socket.subscribe("ticket:not-a-uuid", None).await;
    assert_eq!(bad["status"], 422, "{bad}");
    socket.send(json!({"type": "ping"})).await;
    assert_eq!(socket.next().await["type"], "pong");
    // Too large a message closes the socket (the limit is 16 KiB).
    socket
        .ws
        .send(Message::Text("x".repeat(64 * 1024).into()))
        .await
        .unwrap();
    let (code, reason) = socket.closed().await;
    assert_eq!(code, 1009, "{reason}");

    // The page's cookie opens it from the server's own pages only.
    let mut request = url.clone().into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("cookie", format!("tf_access={token}").parse().unwrap());
    headers.insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
    let mut request = url.clone().into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("cookie", format!("tf_access={token}").parse().unwrap());
    headers.insert("origin", format!("http://{}", app.address).parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut socket = Socket { ws };
    socket.send(json!({"type": "ping"})).await;
    assert_eq!(socket.next().await["type"], "pong");

    // Without credentials, or as a plain GET, it is refused with a problem.
    assert!(tokio_tungstenite::connect_async(url.clone()).await.is_err());
    let plain = app.get_authed("/api/v1/stream", &token).await;
    assert_eq!(plain.status(), 426);
    app.stop().await;
}

#[tokio::test]
async fn signals_reach_the_other_subscribers_and_are_never_stored() {
    let app = spawn_app().await;
    let desk = purchase_desk(&app, when_approved()).await;
    let ticket = desk.request_purchase(40, "A chair").await;
    let stream = format!("ticket:{}", ticket["id"].as_str().unwrap());
    let rita = desk.requester.api.token().unwrap().to_owned();
    let mut requester = open(&app, &rita).await;
    let mut team = open(&app, desk.company.access_token()).await;
    let mut bystander = open(&app, desk.company.access_token()).await;
    for socket in [&mut requester, &mut team] {
        assert_eq!(socket.subscribe(&stream, None).await["type"], "subscribed");
    }
    let before = *log_after(&app, &desk.company.id, 0).await.last().unwrap();

    team.send(json!({"type": "signal", "stream": stream, "name": "typing", "data": {"on": true}}))
        .await;
    // The ticket's own events may still arrive first: on PostgreSQL the hub reads a commit
    // once every older transaction has ended, which a busy machine can make later than the
    // subscription.
    let mut signal = requester.next().await;
    while signal["type"] == "event" {
        signal = requester.next().await;
    }
    assert_eq!(signal["type"], "signal", "{signal}");
    assert_eq!(signal["name"], "typing");
    assert_eq!(signal["data"], json!({"on": true}));
    assert_eq!(signal["user_id"], desk.company.admin_id.as_str());
    assert!(signal["expires_at"].as_str().is_some());
    // Not back to its sender, not to a socket of another stream, and not into the log.
    team.no_signal_for(Duration::from_millis(300)).await;
    bystander.silent_for(Duration::from_millis(300)).await;
    let company = domain::CompanyId(desk.company.id.parse().unwrap());
    let since = store::events::read_after(
        app.app.db(),
        &store::events::Scope::Company(company),
        before,
        1000,
    )
    .await
    .unwrap();
    assert!(
        since
            .iter()
            .all(|e| !e.kind.contains("typing") && !e.kind.contains("signal")),
        "{since:?}"
    );

    // Only on a stream one subscribed to, with a short name, and not too often.
    bystander
        .send(json!({"type": "signal", "stream": stream, "name": "typing"}))
        .await;
    assert_eq!(bystander.next().await["status"], 409);
    team.send(json!({"type": "signal", "stream": stream, "name": "Typing Now"}))
        .await;
    assert_eq!(team.next().await["status"], 422);
    for _ in 0..25 {
        team.send(json!({"type": "signal", "stream": stream, "name": "typing"}))
            .await;
    }
    assert_eq!(team.next().await["status"], 429);
    app.stop().await;
}

#[tokio::test]
async fn a_shutdown_closes_sockets_with_going_away() {
    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let mut socket = open(&app, company.access_token()).await;
    socket
        .subscribe(&format!("company:{}", company.id), None)
        .await;
    let stopping = tokio::spawn(app.stop());
    let (code, _) = socket.closed().await;
    assert_eq!(code, 1001);
    stopping.await.unwrap();
}

/// Two nodes of one deployment on one database, sharing hints over `bus`; their hubs poll
/// only every minute, so an event that arrives in seconds came over the bus (or after a
/// reconnect of it), not by the safety net.
pub(crate) async fn two_nodes(bus: app::BusKind, nats_url: Option<String>) -> (TestApp, TestApp) {
    let nats = nats_url.clone();
    let a = testkit::spawn_app_with(move |settings, jobs| {
        settings.bus = bus;
        settings.realtime_poll_ms = 60_000;
        if let Some(url) = nats {
            settings.nats_url = Some(url);
            settings.nats_publish_events = false;
        }
        jobs
    })
    .await;
    let b = a.another_node(|_| {}).await;
    for node in [&a, &b] {
        wait_for_bus(node, "ok").await;
    }
    (a, b)
}

/// Waits until `/readyz` reports the bus with `state` (`ok`, or `degraded`).
pub(crate) async fn wait_for_bus(node: &TestApp, state: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ready: Value = testkit::json(node.get("/readyz").await).await;
        let bus = ready["bus"].as_str().unwrap_or_default().to_owned();
        if bus.contains(state) {
            return bus;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bus never became {state}: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rita submits a ticket on `node`; its number.
async fn commit_on(node: &TestApp, type_id: &str, reason: &str) -> i64 {
    let rita = fixtures::log_in(&node.api(), "rita@acme.io").await;
    let ticket = rita
        .submit_ticket(type_id, json!({"amount": 5, "reason": reason}))
        .await
        .expect(201);
    ticket["number"].as_i64().unwrap()
}

/// Reads events from `socket` until the submission of ticket `number`.
/// The numbers of the tickets submitted that reach `socket`, up to ticket `last`.
async fn submitted_until(socket: &mut Socket, last: i64) -> Vec<i64> {
    let mut numbers = Vec::new();
    loop {
        let event = socket.next().await;
        if event["kind"] == "ticket.submitted" {
            let number = event["payload"]["number"].as_i64().unwrap();
            numbers.push(number);
            if number == last {
                return numbers;
            }
        }
    }
}

async fn receives_ticket(socket: &mut Socket, number: i64) {
    loop {
        let event = socket.next().await;
        if event["kind"] == "ticket.submitted" && event["payload"]["number"] == number {
            return;
        }
    }
}

#[tokio::test]
async fn an_event_committed_on_one_node_reaches_a_client_of_another_over_postgres() {
    if testkit::TestDb::kind_from_env() != testkit::TestDbKind::Postgres {
        eprintln!("the postgres bus needs PostgreSQL: this test runs with TEST_DATABASE_URL");
        return;
    }
    let (a, b) = two_nodes(app::BusKind::Postgres, None).await;
    let desk = purchase_desk(&a, when_approved()).await;
    let mut socket = open(&b, desk.company.access_token()).await;
    socket
        .subscribe(&format!("company:{}", desk.company.id), None)
        .await;
    let n = commit_on(&a, &desk.type_id, "over the bus").await;
    receives_ticket(&mut socket, n).await;

    // The LISTEN connections are cut: each node reconnects and reads the log again, so a
    // ticket committed meanwhile still arrives, without restarting anything.
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&std::env::var("TEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    let database =
        a.db.url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap();
    let cut: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE 'LISTEN%' AND datname = $1",
    )
    .bind(database)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!cut.is_empty(), "no LISTEN connection to cut");
    let n = commit_on(&a, &desk.type_id, "while the listener was cut").await;
    receives_ticket(&mut socket, n).await;
    wait_for_bus(&b, "ok").await;
    let n = commit_on(&a, &desk.type_id, "after the reconnect").await;
    receives_ticket(&mut socket, n).await;
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn an_event_committed_on_one_node_reaches_a_client_of_another_over_nats() {
    let mut nats = testkit::nats::NatsServer::start();
    let (a, b) = two_nodes(app::BusKind::Nats, Some(nats.url())).await;
    let desk = purchase_desk(&a, when_approved()).await;
    let mut socket = open(&b, desk.company.access_token()).await;
    socket
        .subscribe(&format!("company:{}", desk.company.id), None)
        .await;
    let n = commit_on(&a, &desk.type_id, "over NATS").await;
    receives_ticket(&mut socket, n).await;
    // A signal sent on node A reaches a subscriber of the same ticket on node B.
    let ticket = a
        .api()
        .as_user(desk.company.access_token())
        .tickets("")
        .await
        .expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stream = format!("ticket:{ticket}");
    let mut on_a = open(&a, desk.company.access_token()).await;
    let mut on_b = open(&b, desk.requester.api.token().unwrap()).await;
    on_a.subscribe(&stream, None).await;
    on_b.subscribe(&stream, None).await;
    on_a.send(json!({"type": "signal", "stream": stream, "name": "typing"}))
        .await;
    let signal = on_b.next().await;
    assert_eq!(
        (signal["type"].as_str(), signal["name"].as_str()),
        (Some("signal"), Some("typing")),
        "{signal}"
    );

    // The broker dies: the nodes say so, keep serving, and lose nothing once it is back.
    nats.kill();
    let degraded = wait_for_bus(&b, "degraded").await;
    assert!(degraded.starts_with("nats: "), "{degraded}");
    let n = commit_on(&a, &desk.type_id, "while NATS was down").await;
    nats.resume();
    receives_ticket(&mut socket, n).await;
    wait_for_bus(&b, "ok").await;
    let n = commit_on(&a, &desk.type_id, "after NATS came back").await;
    receives_ticket(&mut socket, n).await;
    b.stop().await;
    a.stop().await;
}

/// Opens the stream over a socket whose receive buffer is tiny, so a client that stops
/// reading backs the server up quickly.
async fn open_narrow(app: &TestApp, token: &str) -> Socket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.address).await.unwrap();
    let mut request = format!("ws://{}/api/v1/stream", app.address)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    Socket { ws }
}

#[tokio::test]
async fn a_slow_consumer_is_closed_and_resumes_without_a_gap() {
    let app = testkit::spawn_app_with(|settings, jobs| {
        settings.realtime_queue = 8;
        jobs
    })
    .await;
    let desk = purchase_desk(&app, when_approved()).await;
    // Comments spread over tickets: each comment reindexes its ticket's text.
    let mut tickets = Vec::new();
    for n in 0..20 {
        let ticket = desk.request_purchase(n + 1, "Paper").await;
        tickets.push(ticket["id"].as_str().unwrap().to_owned());
    }
    let company = desk.company.id.clone();
    let since = *log_after(&app, &company, 0).await.last().unwrap();
    let admin = desk.company.admin.clone();
    let mut slow = open_narrow(&app, desk.company.access_token()).await;
    let feed = format!("company:{company}");
    assert_eq!(
        slow.subscribe(&feed, Some(since)).await["type"],
        "subscribed"
    );
    // Large comments fill the socket's buffers (the kernel lets a send buffer grow to 4 MiB)
    // while the client reads nothing.
    const COMMENTS: usize = 300;
    let body = "x".repeat(20_000);
    let writers: Vec<_> = tickets
        .chunks(5)
        .map(|chunk| {
            let (admin, chunk, body) = (admin.clone(), chunk.to_vec(), body.clone());
            tokio::spawn(async move {
                for n in 0..COMMENTS / 4 {
                    let ticket = &chunk[n % chunk.len()];
                    admin.add_comment(ticket, &body, true).await.expect(201);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut received = Vec::new();
    let (code, reason) = loop {
        let frame = tokio::time::timeout(WAIT, slow.ws.next())
            .await
            .expect("a message within 10 s");
        match frame {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(message["type"], "event", "{message}");
                received.push(message);
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                break (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(_)) => {}
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(code, 4008, "{reason}");
    assert_eq!(app.app.hub().counts().1, 1, "counted as dropped");
    // It resumes from the last event it got and misses nothing of the log.
    let last = received.last().map_or(since, |e| e["id"].as_i64().unwrap());
    let expected = log_after(&app, &company, since).await;
    assert!(
        received.len() < expected.len(),
        "it was closed before the end"
    );
    let mut again = open(&app, desk.company.access_token()).await;
    assert_eq!(
        again.subscribe(&feed, Some(last)).await["type"],
        "subscribed"
    );
    let rest = again.events(expected.len() - received.len()).await;
    let all: Vec<Value> = received.into_iter().chain(rest).collect();
    assert_eq!(ids(&all), expected, "every event once, in commit order");
    let comments = all.iter().filter(|e| e["kind"] == "comment.added").count();
    assert_eq!(comments, COMMENTS);
    app.stop().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_after_three_heartbeats() {
    let app = testkit::spawn_app_with(|settings, jobs| {
        settings.realtime_heartbeat_secs = 1;
        jobs
    })
    .await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let mut socket = open(&app, company.access_token()).await;
    // The client library answers pings only while it reads: this one does not for 4 s.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (code, reason) = socket.closed().await;
    assert_eq!(code, 4000, "{reason}");

    // One that answers stays open.
    let mut answering = open(&app, company.access_token()).await;
    answering.silent_for(Duration::from_secs(4)).await;
    answering.send(json!({"type": "ping"})).await;
    assert_eq!(answering.next().await["type"], "pong");
    app.stop().await;
}

#[tokio::test]
async fn sockets_per_user_and_per_company_are_limited_and_do_not_count_as_connections() {
    let app = testkit::spawn_app_with(|settings, jobs| {
        settings.realtime_per_user = 2;
        settings.realtime_per_company = 3;
        settings.max_connections = 4;
        jobs
    })
    .await;
    let desk = purchase_desk(&app, when_approved()).await;
    let admin = desk.company.access_token().to_owned();
    let rita = desk.requester.api.token().unwrap().to_owned();
    let mut first = open(&app, &admin).await;
    let _second = open(&app, &admin).await;
    let mut third = open(&app, &admin).await;
    let (code, reason) = third.closed().await;
    assert_eq!(code, 4029, "{reason}");
    assert!(reason.contains("user"), "{reason}");
    let _ritas = open(&app, &rita).await;
    let mut fourth = open(&app, &rita).await;
    let (code, reason) = fourth.closed().await;
    assert_eq!(code, 4029, "{reason}");
    assert!(reason.contains("company"), "{reason}");
    // Three live sockets and the server still answers requests beyond its cap of four
    // connections: an upgraded socket leaves the HTTP connection count.
    for _ in 0..6 {
        desk.company.admin.me().await.expect(200);
    }
    first.send(json!({"type": "ping"})).await;
    assert_eq!(first.next().await["type"], "pong");
    app.stop().await;
}

/// Two nodes that do not hear of each other's commits (a local bus and an hour's poll):
/// node B reads the log only when it commits something itself.
async fn deaf_nodes() -> (TestApp, TestApp) {
    let a = testkit::spawn_app_with(|settings, jobs| {
        settings.realtime_poll_ms = 3_600_000;
        jobs
    })
    .await;
    let b = a.another_node(|_| {}).await;
    (a, b)
}

/// A node's hub can be behind a new subscription's start (it reads late, or from below
/// PostgreSQL's horizon): what it then hands out from before the start is not sent again.
#[tokio::test]
async fn a_node_that_reads_late_sends_nothing_from_before_a_subscriptions_start() {
    let (a, b) = deaf_nodes().await;
    let desk = purchase_desk(&a, when_approved()).await;
    let feed = format!("company:{}", desk.company.id);
    let token = desk.company.access_token().to_owned();
    let mut early = open(&b, &token).await;
    early.subscribe(&feed, None).await;

    let before = commit_on(&a, &desk.type_id, "before the subscription").await;
    let mut late = open(&b, &token).await;
    let subscribed = late.subscribe(&feed, None).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    let after = commit_on(&b, &desk.type_id, "after the subscription").await;

    // The early socket gets both tickets; the late one only the second.
    assert_eq!(
        submitted_until(&mut early, after).await,
        vec![before, after]
    );
    assert_eq!(submitted_until(&mut late, after).await, vec![after]);
    b.stop().await;
    a.stop().await;
}

/// A node can hand a connection events committed just before it was opened (a node hears
/// of another's commits late, or reads PostgreSQL's log from below its snapshot's horizon).
/// A change of roles committed before Victor logged in must not close the socket he opened
/// with his new roles; the same change after he opened it does.
#[tokio::test]
async fn an_access_change_committed_before_a_socket_opened_leaves_it_open() {
    let (a, b) = deaf_nodes().await;
    let desk = purchase_desk(&a, when_approved()).await;
    let mut feed = open(&b, desk.company.access_token()).await;
    feed.subscribe(&format!("company:{}", desk.company.id), None)
        .await;

    let victor = desk.reviewer.id.clone();
    desk.company
        .admin
        .set_roles(&victor, &["task_worker", "ticket_admin"], &["reviewers"])
        .await
        .expect(200);
    let relogged = fixtures::log_in(&a.api(), "victor@acme.io").await;
    let mut socket = open(&b, relogged.token().unwrap()).await;
    let company_feed = format!("company:{}", desk.company.id);
    assert_eq!(
        socket.subscribe(&company_feed, None).await["type"],
        "subscribed"
    );

    // Node B now reads the log, in commit order: the change (from before the socket) and
    // then the new ticket. Victor's socket stays open and is handed the ticket; the change
    // itself is older than his subscription and not sent.
    commit_on(&b, &desk.type_id, "read the log on node B").await;
    loop {
        let event = socket.next().await;
        assert_eq!(event["type"], "event", "{event}");
        assert_ne!(event["kind"], "user.roles_changed", "{event}");
        if event["kind"] == "ticket.submitted" {
            break;
        }
    }

    // The same kind of change, committed while the socket is open, closes it.
    desk.company
        .admin
        .set_roles(&victor, &["task_worker"], &["reviewers"])
        .await
        .expect(200);
    commit_on(&b, &desk.type_id, "read the log on node B again").await;
    let (code, reason) = socket.closed().await;
    assert_eq!(code, 4003, "{reason}");
    assert!(reason.contains("roles"), "{reason}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn logging_out_or_revoking_the_token_closes_its_sockets() {
    let app = spawn_app().await;
    let company = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let mut by_session = open(&app, company.access_token()).await;
    by_session
        .subscribe(&format!("company:{}", company.id), None)
        .await;
    let issued = company
        .admin
        .create_api_token(json!({"name": "watcher", "roles": ["ticket_admin"]}))
        .await
        .expect(201);
    let secret = issued["secret"].as_str().unwrap().to_owned();
    let mut by_token = open(&app, &secret).await;
    by_token
        .subscribe(&format!("company:{}", company.id), None)
        .await;

    company
        .admin
        .revoke_api_token(issued["id"].as_str().unwrap())
        .await
        .expect(204);
    let (code, reason) = by_token.closed().await;
    assert_eq!(code, 4003, "{reason}");
    assert!(reason.contains("API token"), "{reason}");

    company
        .admin
        .logout(Some(&company.refresh_token))
        .await
        .expect(204);
    let (code, reason) = by_session.closed().await;
    assert_eq!(code, 4003, "{reason}");
    assert!(reason.contains("session"), "{reason}");
    app.stop().await;
}

//! Group commit on SQLite's writer (store::writer): concurrent changes share one durable
//! commit, a failing change undoes only itself, and a server killed with SIGKILL mid-burst
//! loses no acknowledged write and shows no half of an unacknowledged one. The same tests
//! run on PostgreSQL, whose own commits must keep the same promises.

use std::collections::BTreeSet;
use std::time::Duration;

use testkit::TestDb;
use tokio::process::Command;

use crate::cli::start_server;

#[derive(store::sqlx::FromRow)]
struct Number {
    n: i64,
}

fn numbers() -> store::Raw {
    store::Raw {
        sqlite: "SELECT n FROM gc_probe ORDER BY n",
        postgres: "SELECT n FROM gc_probe ORDER BY n",
        values: sea_query::Values(vec![]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_share_a_commit_and_a_failing_one_undoes_only_itself() {
    let test_db = TestDb::new().await;
    let db = store::Db::connect(&store::DbOptions::new(&test_db.url))
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute_script("CREATE TABLE gc_probe (n BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    tx.execute_script("INSERT INTO gc_probe (n) VALUES (-1)")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let before = db.commit_stats();

    // One change holds the writer while 63 queue behind it, so they form batches.
    let mut first = db.begin().await.unwrap();
    first
        .execute_script("INSERT INTO gc_probe (n) VALUES (0)")
        .await
        .unwrap();
    let mut changes = Vec::new();
    for n in 1..64_i64 {
        let db = db.clone();
        changes.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            tx.execute_script(&format!("INSERT INTO gc_probe (n) VALUES ({n})"))
                .await?;
            match n % 4 {
                // Given up by the use case: dropped, so rolled back.
                1 => return Ok(false),
                // Refused by the database itself inside the change: a duplicate key after
                // its own insert, which must go too.
                2 => {
                    tx.execute_script("INSERT INTO gc_probe (n) VALUES (-1)")
                        .await?;
                }
                _ => {}
            }
            tx.commit().await?;
            Ok::<bool, store::StoreError>(true)
        }));
    }
    if before.is_some() {
        // Wait until they are all queued at the writer (SQLite only).
        tokio::time::timeout(Duration::from_secs(20), async {
            while db.commit_stats().map_or(0, |s| s.queued) < 63 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the changes never queued at the writer");
    }
    first.commit().await.unwrap();

    let mut kept = BTreeSet::from([-1_i64, 0]);
    for (n, change) in (1..64_i64).zip(changes) {
        match change.await.unwrap() {
            Ok(true) => {
                assert!(n % 4 != 1 && n % 4 != 2, "change {n} should have failed");
                kept.insert(n);
            }
            Ok(false) => assert_eq!(n % 4, 1),
            Err(store::StoreError::Conflict { .. }) => assert_eq!(n % 4, 2, "change {n}"),
            Err(other) => panic!("change {n}: {other}"),
        }
    }
    let stored: BTreeSet<i64> = store::Exec::fetch_all::<Number>(&db, &numbers())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.n)
        .collect();
    assert_eq!(stored, kept, "exactly the committed changes stand");

    if let (Some(before), Some(after)) = (before, db.commit_stats()) {
        let changes = after.changes - before.changes;
        let commits = after.commits - before.commits;
        assert_eq!(
            changes,
            kept.len() as u64 - 1,
            "every kept change committed"
        );
        assert!(
            commits < changes / 4,
            "{changes} changes took {commits} durable commits: no group commit"
        );
    }
    db.close().await;
}

#[derive(store::sqlx::FromRow)]
struct Count {
    n: i64,
}

async fn count(db: &store::Db, sql: &'static str) -> i64 {
    let raw = store::Raw {
        sqlite: sql,
        postgres: sql,
        values: sea_query::Values(vec![]),
    };
    store::Exec::fetch_optional::<Count>(db, &raw)
        .await
        .unwrap()
        .unwrap()
        .n
}

/// The real binary under a burst of submissions, killed with SIGKILL: after a restart every
/// acknowledged ticket is there, and every ticket there is whole (its first task and its
/// `ticket.submitted` event with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_a_burst_loses_no_acknowledged_ticket_and_leaves_no_half() {
    let db = TestDb::new().await;
    let mut server = start_server(&db).await;
    app::infra::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let base = server.base_url.clone();
    let url = move |path: &str| format!("{base}{path}");
    let token = server.sign_up(&client).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let type_id = server.review_type(&client, &token).await;
    let body = serde_json::json!({
        "ticket_type_id": type_id,
        "data": { "document_url": "https://docs.example.com/plan", "summary": "plan" },
    })
    .to_string();

    // 24 clients submit back to back until the server dies under them.
    let (acknowledged, mut acks) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut clients = Vec::new();
    for _ in 0..24 {
        let (client, url, token, body) = (
            client.clone(),
            url("/api/v1/tickets"),
            token.clone(),
            body.clone(),
        );
        let acknowledged = acknowledged.clone();
        clients.push(tokio::spawn(async move {
            loop {
                let sent = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                assert_eq!(
                    response.status(),
                    201,
                    "a submission failed before the kill"
                );
                let Ok(ticket) = response.json::<serde_json::Value>().await else {
                    return;
                };
                let _ = acknowledged.send(ticket["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    drop(acknowledged);
    let mut ids = Vec::new();
    while ids.len() < 300 {
        let id = tokio::time::timeout(Duration::from_secs(60), acks.recv())
            .await
            .expect("the burst stalled")
            .unwrap();
        ids.push(id);
    }
    let pid = server.child.id().unwrap();
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let _ = server.child.wait().await;
    for client in clients {
        client.await.unwrap();
    }
    // Answers read before the kill but not yet collected count as acknowledged too.
    while let Ok(id) = acks.try_recv() {
        ids.push(id);
    }

    let again = start_server(&db).await;
    for id in &ids {
        let ticket = client
            .get(format!("{}/api/v1/tickets/{id}", again.base_url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            ticket.status(),
            200,
            "ticket {id} was acknowledged but lost"
        );
    }
    let store = store::Db::connect(&store::DbOptions::new(&db.url))
        .await
        .unwrap();
    let tickets = count(&store, "SELECT COUNT(*) AS n FROM tickets").await;
    let with_task = count(
        &store,
        "SELECT COUNT(DISTINCT ticket_id) AS n FROM task_instances",
    )
    .await;
    let submitted = count(
        &store,
        "SELECT COUNT(*) AS n FROM events WHERE kind = 'ticket.submitted'",
    )
    .await;
    assert!(
        tickets >= ids.len() as i64,
        "{tickets} tickets, {} acknowledged",
        ids.len()
    );
    assert_eq!(with_task, tickets, "a ticket stands without its first task");
    assert_eq!(submitted, tickets, "a ticket stands without its event");
    store.close().await;
}

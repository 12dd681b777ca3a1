//! The event spine: appended in the writer's transaction, read in commit order, and never
//! skipped even when transactions commit out of id order (PostgreSQL's sequence caveat).
//! White-box: no endpoint reads the spine, so these drive `store::events` directly.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use domain::CompanyId;
use domain::event::NewEvent;
use rand::Rng;
use serde_json::json;
use store::events::{self, Scope};
use testkit::spawn_app;

/// Reads until `count` events are visible. On PostgreSQL the commit horizon is
/// cluster-wide, so a transaction still open in another test's database may hold new
/// events back for a moment; they must then appear, in order.
async fn read_eventually(
    db: &store::Db,
    scope: &Scope,
    cursor: i64,
    count: usize,
) -> Vec<domain::event::Event> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = events::read_after(db, scope, cursor, 100).await.unwrap();
        if seen.len() >= count || std::time::Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn event(n: usize) -> NewEvent {
    NewEvent::new("test:stream", "test.happened").payload(json!({ "n": n }))
}

#[tokio::test]
async fn appended_events_read_back_in_order_and_rollbacks_vanish() {
    let app = spawn_app().await;
    let db = app.app.db();
    let company = CompanyId::new();

    let mut tx = db.begin().await.unwrap();
    events::append(&mut tx, event(1)).await.unwrap();
    events::append(
        &mut tx,
        NewEvent::new("ticket:1", "ticket.created").company(company),
    )
    .await
    .unwrap();
    // Written in one statement, in the order appended.
    let written = events::write_appended(&mut tx).await.unwrap();
    let [first, second] = written[..] else {
        panic!("{written:?}")
    };
    assert!(first < second);
    tx.commit().await.unwrap();

    let mut rolled_back = db.begin().await.unwrap();
    events::append(&mut rolled_back, event(99)).await.unwrap();
    drop(rolled_back);

    let all = read_eventually(db, &Scope::All, 0, 2).await;
    let ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![first, second]);
    assert_eq!(all[0].payload["n"], 1);
    assert_eq!(all[1].company_id, Some(company));

    let after_first = events::read_after(db, &Scope::All, first, 100)
        .await
        .unwrap();
    assert_eq!(
        after_first.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![second]
    );

    let scoped = events::read_after(db, &Scope::Company(company), 0, 100)
        .await
        .unwrap();
    assert_eq!(scoped.len(), 1);
    let other = events::read_after(db, &Scope::Company(CompanyId::new()), 0, 100)
        .await
        .unwrap();
    assert!(other.is_empty());
    let stream = events::read_after(db, &Scope::Stream(company, "ticket:1".into()), 0, 100)
        .await
        .unwrap();
    assert_eq!(stream.len(), 1);
    assert_eq!(events::head(db, &Scope::All).await.unwrap(), second);
    app.stop().await;
}

/// The exact interleaving that loses events with a naive `id > cursor` reader: the
/// transaction holding the lower id commits after the one holding the higher id. Only
/// PostgreSQL can interleave writers; SQLite's single writer makes it impossible.
#[tokio::test]
async fn late_committing_lower_id_is_not_skipped() {
    let app = spawn_app().await;
    let db = app.app.db();
    if db.backend() != store::Backend::Postgres {
        app.stop().await;
        return;
    }
    // Appended events are written at the latest at commit; written early here, so that
    // the slow transaction holds the lower id while the fast one commits.
    let mut slow = db.begin().await.unwrap();
    events::append(&mut slow, event(1)).await.unwrap();
    let low = events::write_appended(&mut slow).await.unwrap()[0];
    let mut fast = db.begin().await.unwrap();
    events::append(&mut fast, event(2)).await.unwrap();
    let high = events::write_appended(&mut fast).await.unwrap()[0];
    fast.commit().await.unwrap();
    assert!(low < high);

    // The reader must hold back `high` while `low` is still in flight.
    let seen = events::read_after(db, &Scope::All, 0, 100).await.unwrap();
    assert!(
        seen.is_empty(),
        "returned {seen:?} while an older writer was open"
    );

    slow.commit().await.unwrap();
    let seen = read_eventually(db, &Scope::All, 0, 2).await;
    let ids: Vec<i64> = seen.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![low, high]);
    app.stop().await;
}

/// Many writers holding transactions open for random times while a reader follows the log
/// with a cursor: the reader sees every committed event exactly once and no rolled-back one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_make_the_reader_skip() {
    let app = spawn_app().await;
    let db = app.app.db().clone();
    let writers = 8;
    let per_writer = 20;

    let reader_db = db.clone();
    // Once the writers are done, the reader is told how many events committed and follows
    // until it has seen that many (or gives up after 10 s: a skipped event never comes).
    let (total_tx, mut total_rx) = tokio::sync::watch::channel(None::<usize>);
    let reader = tokio::spawn(async move {
        let mut cursor = 0;
        let mut seen = Vec::new();
        let mut deadline = None;
        loop {
            let expected = *total_rx.borrow_and_update();
            let batch = events::read_after(&reader_db, &Scope::All, cursor, 7)
                .await
                .unwrap();
            if let Some(last) = batch.last() {
                cursor = last.id;
            }
            let empty = batch.is_empty();
            seen.extend(batch.into_iter().map(|e| e.id));
            if let Some(expected) = expected {
                let deadline = *deadline
                    .get_or_insert_with(|| std::time::Instant::now() + Duration::from_secs(10));
                if seen.len() >= expected || std::time::Instant::now() > deadline {
                    return seen;
                }
            }
            if empty {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });

    let mut tasks = Vec::new();
    for w in 0..writers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for i in 0..per_writer {
                let (hold_before, hold_after, roll_back) = {
                    let mut rng = rand::rng();
                    (
                        rng.random_range(0..4u64),
                        rng.random_range(0..6u64),
                        rng.random_bool(0.1),
                    )
                };
                let mut tx = db.begin().await.unwrap();
                tokio::time::sleep(Duration::from_millis(hold_before)).await;
                events::append(&mut tx, event(w * 1000 + i)).await.unwrap();
                let id = events::write_appended(&mut tx).await.unwrap()[0];
                tokio::time::sleep(Duration::from_millis(hold_after)).await;
                if roll_back {
                    drop(tx);
                } else {
                    tx.commit().await.unwrap();
                    committed.push(id);
                }
            }
            committed
        }));
    }
    let mut committed = BTreeSet::new();
    for task in tasks {
        committed.extend(task.await.unwrap());
    }
    total_tx.send(Some(committed.len())).unwrap();
    let seen = reader.await.unwrap();

    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was delivered twice");
    let seen: BTreeSet<i64> = seen.into_iter().collect();
    let missed: Vec<_> = committed.difference(&seen).collect();
    let phantom: Vec<_> = seen.difference(&committed).collect();
    assert!(
        missed.is_empty(),
        "reader skipped committed events {missed:?}"
    );
    assert!(
        phantom.is_empty(),
        "reader saw rolled-back events {phantom:?}"
    );
    assert!(committed.len() > writers * per_writer / 2);
    app.stop().await;
}

/// The one commit path tells subscribers which company has new events, so a live reader
/// needs no polling: a sign-up (which appends the company's first events) is announced with
/// the id of its last event.
#[tokio::test]
async fn a_committed_use_case_is_announced_to_subscribers_without_polling() {
    let app = spawn_app().await;
    let mut notices = app.app.subscribe_events();
    let admin = crate::common::signup(&app, "Acme", "ada@acme.io").await;
    let company: CompanyId = CompanyId(admin.company_id.parse().unwrap());
    let notice = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let notice = notices.recv().await.unwrap();
            if notice.company == Some(company) {
                return notice;
            }
        }
    })
    .await
    .expect("no notice after the sign-up committed");
    // PostgreSQL's reader may hold events back while another test's transaction is open.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let last = loop {
        let seen = events::read_after(app.app.db(), &Scope::Company(company), 0, 100)
            .await
            .unwrap();
        let last = seen.last().map(|e| e.id);
        if last == Some(notice.up_to) || std::time::Instant::now() > deadline {
            break last;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(last, Some(notice.up_to));
    app.stop().await;
}

/// Each database has its own epoch, made once: a cursor can be told to belong to another.
#[tokio::test]
async fn every_database_has_its_own_stable_epoch() {
    let (one, two) = (spawn_app().await, spawn_app().await);
    let first = events::epoch(one.app.db()).await.unwrap();
    assert_eq!(events::epoch(one.app.db()).await.unwrap(), first);
    assert!(first.parse::<uuid::Uuid>().is_ok(), "{first}");
    assert_ne!(events::epoch(two.app.db()).await.unwrap(), first);
    one.stop().await;
    two.stop().await;
}

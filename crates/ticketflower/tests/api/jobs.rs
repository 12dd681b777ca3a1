//! The durable job queue and its workers: completion, retries with back-off, dead letters,
//! lease recovery, and exclusive claims under concurrency. White-box: no endpoint exposes the
//! queue, so these drive `store::jobs` directly.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use app::{JobError, JobRegistry};
use domain::JobId;
use domain::backoff::Backoff;
use domain::job::{Job, JobStatus, NewJob};
use serde_json::json;
use testkit::{TestApp, spawn_app_with};
use tokio::sync::mpsc;

async fn enqueue(app: &TestApp, job: NewJob) -> JobId {
    let mut tx = app.app.db().begin().await.unwrap();
    let id = store::jobs::enqueue(&mut tx, job).await.unwrap();
    tx.commit().await.unwrap();
    app.app.wake_workers();
    id
}

async fn wait_for(app: &TestApp, id: JobId, status: JobStatus) -> Job {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let job = store::jobs::get(app.app.db(), id).await.unwrap();
        if job.status == status {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job stuck in {:?}: {job:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast_backoff(jobs: JobRegistry) -> JobRegistry {
    let mut jobs = jobs;
    jobs.backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(400),
    };
    jobs
}

#[tokio::test]
async fn committed_job_runs_once_and_completes() {
    let (sender, mut received) = mpsc::unbounded_channel();
    let app = spawn_app_with(move |_, jobs| {
        jobs.register("test.record", move |_app, job: Job| {
            let sender = sender.clone();
            async move {
                sender
                    .send(job.payload)
                    .map_err(|e| JobError::Permanent(e.to_string()))?;
                Ok(())
            }
        })
    })
    .await;
    let id = enqueue(&app, NewJob::new("test.record", json!({"hello": "world"}))).await;
    let payload = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the job did not run")
        .unwrap();
    assert_eq!(payload["hello"], "world");
    let job = wait_for(&app, id, JobStatus::Done).await;
    assert_eq!(job.attempts, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(received.try_recv().is_err(), "the job ran twice");
    app.stop().await;
}

#[tokio::test]
async fn a_rolled_back_change_enqueues_nothing() {
    let app = spawn_app_with(|_, jobs| jobs).await;
    let mut tx = app.app.db().begin().await.unwrap();
    store::jobs::enqueue(&mut tx, NewJob::new("test.never", json!({})))
        .await
        .unwrap();
    drop(tx);
    let counts = app::infra::system::job_counts(&app.app).await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
    app.stop().await;
}

#[tokio::test]
async fn failing_job_is_retried_with_backoff_until_it_succeeds() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stamps = times.clone();
    let app = spawn_app_with(move |_, jobs| {
        fast_backoff(jobs).register("test.flaky", move |_app, _job| {
            let calls = seen.clone();
            let stamps = stamps.clone();
            async move {
                stamps.lock().unwrap().push(Instant::now());
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(JobError::Retry("receiver answered 503".into()))
                } else {
                    Ok(())
                }
            }
        })
    })
    .await;
    let id = enqueue(&app, NewJob::new("test.flaky", json!({}))).await;
    let job = wait_for(&app, id, JobStatus::Done).await;
    assert_eq!(job.attempts, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let times = times.lock().unwrap().clone();
    // Equal jitter keeps at least half the exponential delay: >= 50 ms, then >= 100 ms.
    assert!(
        times[1] - times[0] >= Duration::from_millis(50),
        "{times:?}"
    );
    assert!(
        times[2] - times[1] >= Duration::from_millis(100),
        "{times:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn exhausted_job_becomes_a_dead_letter_and_can_be_retried() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = fail.clone();
    let app = spawn_app_with(move |_, jobs| {
        fast_backoff(jobs).register("test.down", move |_app, _job| {
            let fail = flag.load(Ordering::SeqCst);
            async move {
                if fail {
                    Err(JobError::Retry("connection refused".into()))
                } else {
                    Ok(())
                }
            }
        })
    })
    .await;
    let id = enqueue(&app, NewJob::new("test.down", json!({})).max_attempts(3)).await;
    let dead = wait_for(&app, id, JobStatus::Dead).await;
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error.as_deref(), Some("connection refused"));

    app.scrape_until(r#"ticketflower_jobs{status="dead"} 1"#)
        .await;
    let dead_list = store::jobs::list(app.app.db(), JobStatus::Dead, 10)
        .await
        .unwrap();
    assert_eq!(dead_list.iter().map(|j| j.id).collect::<Vec<_>>(), vec![id]);

    fail.store(false, Ordering::SeqCst);
    assert!(store::jobs::retry_dead(app.app.db(), id).await.unwrap());
    app.app.wake_workers();
    let done = wait_for(&app, id, JobStatus::Done).await;
    assert_eq!(done.attempts, 1);
    app.stop().await;
}

#[tokio::test]
async fn permanent_failures_and_unknown_kinds_are_dead_at_once() {
    let app = spawn_app_with(|_, jobs| {
        jobs.register("test.bad_payload", |_app, _job| async {
            Err(JobError::Permanent("payload has no recipient".into()))
        })
    })
    .await;
    let bad = enqueue(&app, NewJob::new("test.bad_payload", json!({}))).await;
    let unknown = enqueue(&app, NewJob::new("test.nobody_handles_this", json!({}))).await;
    let bad = wait_for(&app, bad, JobStatus::Dead).await;
    assert_eq!(bad.attempts, 1);
    let unknown = wait_for(&app, unknown, JobStatus::Dead).await;
    assert!(unknown.last_error.unwrap().contains("no handler"));
    app.stop().await;
}

#[tokio::test]
async fn a_crashed_workers_job_is_taken_again_after_its_lease() {
    let app = spawn_app_with(|settings, jobs| {
        settings.job_workers = 0;
        jobs.register("test.ok", |_app, _job| async { Ok(()) })
    })
    .await;
    let id = enqueue(&app, NewJob::new("test.ok", json!({}))).await;
    // A worker claims it and "crashes": its lease is already over.
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let claimed = store::jobs::claim(app.app.db(), "crashed-worker", 10, past)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // The crashed worker can no longer complete it once another holds it.
    assert!(
        app::infra::jobs::run_one(&app.app, "rescuer")
            .await
            .unwrap()
    );
    assert!(
        !store::jobs::complete(app.app.db(), id, "crashed-worker")
            .await
            .unwrap()
    );
    let job = store::jobs::get(app.app.db(), id).await.unwrap();
    assert_eq!(job.status, JobStatus::Done);
    assert_eq!(job.attempts, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_hand_out_a_job_twice() {
    let app = spawn_app_with(|settings, jobs| {
        settings.job_workers = 0;
        jobs
    })
    .await;
    let mut expected = HashSet::new();
    for n in 0..40 {
        expected.insert(enqueue(&app, NewJob::new("test.batch", json!({ "n": n }))).await);
    }
    let lease = chrono::Utc::now() + chrono::Duration::minutes(5);
    let mut claimers = Vec::new();
    for w in 0..4 {
        let db = app.app.db().clone();
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store::jobs::claim(&db, &format!("w{w}"), 3, lease)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let unique: HashSet<JobId> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a job was claimed twice");
    assert_eq!(unique, expected);
    app.stop().await;
}

//! `--hooks`: inbound webhooks (issue 18) accepted per second by the release server, each
//! verified (Standard Webhooks, HMAC-SHA256 over the raw bytes), deduplicated on its
//! provider message id and stored with its contact, conversation and message in one
//! transaction, against the storage bound measured in the same run (one-row transactions
//! of the same database at the same concurrency).
//!
//! Three phases from 32 concurrent clients, every request signed before the clock starts:
//! new messages spread over 200 contacts (the usual traffic), the same messages again (each
//! a duplicate: verified, refused by the unique index, nothing written), and one thread
//! (every message into one conversation, serialised by its lock).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use base64::Engine;
use bytes::Bytes;
use hdrhistogram::Histogram;
use hmac::{Hmac, Mac};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api::{Api, text};
use crate::seed::PASSWORD;
use crate::server::{Server, ServerConfig};
use crate::storage::{self, Db};

const CONCURRENCY: usize = 32;
const CONTACTS: usize = 200;

type HmacSha256 = Hmac<sha2::Sha256>;

/// One signed request, ready to send.
struct Signed {
    headers: Vec<(String, String)>,
    body: Bytes,
}

fn sign(secret: &str, n: usize, body: &Value) -> Result<Signed> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .context("the channel's secret is whsec_ base64")?;
    let bytes = body.to_string().into_bytes();
    let id = format!("msg_{n}");
    let at = chrono_now();
    let mut mac = HmacSha256::new_from_slice(&key)?;
    mac.update(format!("{id}.{at}.").as_bytes());
    mac.update(&bytes);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Ok(Signed {
        headers: vec![
            ("webhook-id".into(), id),
            ("webhook-timestamp".into(), at.to_string()),
            ("webhook-signature".into(), format!("v1,{signature}")),
        ],
        body: Bytes::from(bytes),
    })
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// Sends every request from `CONCURRENCY` clients; answers (requests/s, p50 ms, p99 ms,
/// statuses seen).
async fn fire(api: &Arc<Api>, path: &str, requests: Vec<Signed>, expect: &str) -> Result<Value> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (api, requests, next, path) =
            (api.clone(), requests.clone(), next.clone(), path.to_owned());
        let expect = expect.to_owned();
        tasks.spawn(async move {
            let mut latencies = Histogram::<u64>::new(3)?;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(n) else {
                    return Ok::<_, anyhow::Error>(latencies);
                };
                let sent = Instant::now();
                let (status, answer) = api
                    .post_with(&path, &request.headers, request.body.clone())
                    .await?;
                latencies.record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))?;
                ensure!(
                    status == StatusCode::OK,
                    "webhook answered {status}: {answer}"
                );
                ensure!(
                    answer["status"] == expect.as_str(),
                    "expected {expect}: {answer}"
                );
            }
        });
    }
    let mut all = Histogram::<u64>::new(3)?;
    while let Some(done) = tasks.join_next().await {
        all.add(done??)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_second = requests.len() as f64 / seconds;
    #[allow(clippy::cast_precision_loss)]
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "requests": requests.len(),
        "seconds": seconds,
        "per_second": per_second,
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
    }))
}

/// Runs the three phases against a fresh server; answers the report.
pub async fn run(config: &ServerConfig, quick: bool, postgres: Option<&str>) -> Result<Value> {
    let count = if quick { 1_000 } else { 5_000 };
    let mut config = config.clone();
    config.database_url = match postgres {
        None => format!("sqlite://{}", config.data_dir.join("hooks.db").display()),
        Some(admin) => storage::recreate_database(admin, "tf_bench_hooks", true).await?,
    };
    let kind = if postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let (server, _) = Server::start(&config).await?;
    let api = Arc::new(Api::new(server.addr));
    let signed_up = api
        .call(
            Method::POST,
            "/api/v1/signup",
            None,
            Some(&json!({
                "company_name": "Hooks", "admin_email": "admin@hooks.example",
                "admin_password": PASSWORD, "admin_first_name": "Ada", "admin_last_name": "Admin",
            })),
            StatusCode::CREATED,
        )
        .await?;
    let token = text(&signed_up, "/access_token")?.to_owned();
    let channel = api
        .call(
            Method::POST,
            "/api/v1/channels",
            Some(&token),
            Some(&json!({"name": "Bench", "slug": "bench"})),
            StatusCode::CREATED,
        )
        .await?;
    let secret = text(&channel, "/inbound_secret")?.to_owned();
    let path = format!("/api/v1/hooks/{}", text(&channel, "/public_id")?);

    let message = |n: usize, thread: Option<&str>| {
        let mut body = json!({
            "external_user_id": format!("contact-{}", n % CONTACTS),
            "external_message_id": format!("{}-{n}", thread.unwrap_or("m")),
            "content": format!("Message {n}: where is my parcel? It was due on Monday."),
        });
        if let Some(thread) = thread {
            body["thread_id"] = json!(thread);
        }
        body
    };
    let build = |thread: Option<&str>| {
        (0..count)
            .map(|n| sign(&secret, n, &message(n, thread)))
            .collect::<Result<Vec<_>>>()
    };
    eprintln!("hooks: ours on {kind}, {count} webhooks a phase, {CONCURRENCY} clients");
    // Warm-up, not counted.
    fire(
        &api,
        &path,
        build(Some("warm"))?.into_iter().take(200).collect(),
        "ok",
    )
    .await?;
    let fresh = fire(&api, &path, build(None)?, "ok").await?;
    eprintln!(
        "  new:        {:>8.0}/s  p50 {:.1} ms  p99 {:.1} ms",
        fresh["per_second"].as_f64().unwrap_or(0.0),
        fresh["p50_ms"].as_f64().unwrap_or(0.0),
        fresh["p99_ms"].as_f64().unwrap_or(0.0)
    );
    let duplicates = fire(&api, &path, build(None)?, "duplicate").await?;
    eprintln!(
        "  duplicates: {:>8.0}/s  p50 {:.1} ms  p99 {:.1} ms",
        duplicates["per_second"].as_f64().unwrap_or(0.0),
        duplicates["p50_ms"].as_f64().unwrap_or(0.0),
        duplicates["p99_ms"].as_f64().unwrap_or(0.0)
    );
    let thread = fire(&api, &path, build(Some("one-thread"))?, "ok").await?;
    eprintln!(
        "  one thread: {:>8.0}/s  p50 {:.1} ms  p99 {:.1} ms",
        thread["per_second"].as_f64().unwrap_or(0.0),
        thread["p50_ms"].as_f64().unwrap_or(0.0),
        thread["p99_ms"].as_f64().unwrap_or(0.0)
    );
    server.stop().await?;

    // Everything acknowledged is stored, once.
    let db = Db::connect(&config.database_url, 2).await?;
    let stored = db
        .count("SELECT COUNT(*) FROM conversation_messages")
        .await?;
    let expected = i64::try_from(count * 2 + 200)?;
    ensure!(
        stored == expected,
        "{stored} messages stored, {expected} acknowledged"
    );
    let bound = storage::bound(&db, CONCURRENCY, u64::try_from(count)?, 1, 200).await?;
    db.close().await;
    let ratio =
        |phase: &Value| phase["per_second"].as_f64().unwrap_or(0.0) / bound.transactions_per_second;
    eprintln!(
        "  storage bound: {:>8.0} one-row transactions/s; new webhooks at {:.2}x of it, duplicates at {:.2}x",
        bound.transactions_per_second,
        ratio(&fresh),
        ratio(&duplicates)
    );
    if let Some(admin) = postgres {
        storage::recreate_database(admin, "tf_bench_hooks", false).await?;
    }
    Ok(json!({
        "database": kind,
        "concurrency": CONCURRENCY,
        "new": fresh,
        "duplicates": duplicates,
        "one_thread": thread,
        "storage_bound": bound,
        "new_vs_bound": ratio(&fresh),
        "duplicates_vs_bound": ratio(&duplicates),
        "stored_messages": stored,
    }))
}

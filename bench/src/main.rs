//! `cargo run --release -p bench -- [--quick] [--db URL] [--peer django]`
//!
//! Builds the release server, starts it on a fresh database, seeds it through the API and
//! measures it over loopback: the machine's own HTTP bound (`/healthz`), the authenticated
//! list, the ticket detail, submission against the storage bound, task completion, login and
//! a login burst beside the list, memory and cold start. With `--peer django` the Django stack
//! we replace runs the same list, detail and create workloads, alternating with ours. Prints a
//! table and writes `bench/results/latest.json`. See `docs/performance.md`.
//!
//! `--stream` measures the live stream instead, `--chat` the support chat (issue 17); each
//! against the Django Channels peer in the same run.

mod api;
mod channels;
mod chat;
mod cpu;
mod fleet;
mod hooks;
mod load;
mod peer;
mod seed;
mod server;
mod storage;
mod stream;
mod versus;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use serde_json::{Value, json};

use crate::load::{Figures, Outcome, Repeat, Request, Workload};
use crate::peer::Peer;
use crate::seed::Plan;
use crate::server::{Server, ServerConfig};
use crate::storage::Db;

#[derive(Parser)]
#[command(about = "Benchmarks TicketFlower against this machine's bounds and the Django peer")]
struct Cli {
    /// A short run (under a minute): fewer tickets, shorter measurements.
    #[arg(long)]
    quick: bool,
    /// The database: SQLite in a fresh temporary directory by default, or a PostgreSQL server
    /// URL (`postgres://user@host:port/db`), on which fresh databases are created.
    #[arg(long)]
    db: Option<String>,
    /// Also measure a peer implementation; `django` is the one there is.
    #[arg(long)]
    peer: Option<String>,
    /// Use the release server already built instead of running `cargo build --release`.
    #[arg(long)]
    no_build: bool,
    /// Measure this server binary instead of the release build beside the bench (implies
    /// `--no-build`): run two builds one after the other to compare them on one machine.
    #[arg(long)]
    server: Option<PathBuf>,
    /// Record `perf` profiles of the server during the list (c=16) and submit measurements
    /// into this directory (`list.data`, `submit.data`).
    #[arg(long)]
    perf: Option<PathBuf>,
    /// Compare with this other build of the server instead of the full run: both are seeded
    /// alike, each on a fresh database of its own (SQLite, or on the PostgreSQL server of
    /// `--db`), then the read workloads and submissions are measured in alternating
    /// turns and each round's ratio reported (`ours ÷ baseline`). The way to tell whether a
    /// change made a hot path faster or slower on a machine whose speed drifts.
    #[arg(long)]
    against: Option<PathBuf>,
    /// With `--against`: only the workloads whose name contains this (e.g. `tickets?`).
    #[arg(long, requires = "against")]
    only: Option<String>,
    /// Measure the live stream instead of the full run: fan-out to 1,000 and 10,000 sockets
    /// subscribed to one ticket (200 with `--quick`), a burst for deliveries/s and paced
    /// comments for latency, the memory of idle sockets and a reconnect storm; two nodes on
    /// PostgreSQL over the postgres and the NATS bus (`--db` names the PostgreSQL server,
    /// default postgres://postgres@127.0.0.1:5432/test); the Django Channels peer with the
    /// in-memory and the Redis layer (Redis on 127.0.0.1:6379) in alternating turns with
    /// ours. Writes `bench/results/stream.json`.
    #[arg(long)]
    stream: bool,
    /// With `--stream`: these numbers of sockets instead (comma-separated).
    #[arg(long, requires = "stream", value_delimiter = ',')]
    sockets: Vec<usize>,
    /// With `--stream`: only these phases (comma-separated).
    #[arg(long, requires = "stream", value_delimiter = ',', value_enum)]
    phases: Vec<stream::Phase>,
    /// With `--stream`: sockets on each side of the Channels comparison (default 1,000;
    /// 200 with `--quick`).
    #[arg(long, requires = "stream")]
    channels_sockets: Option<usize>,
    /// Measure the support chat instead of the full run: 10 agents and 100 requesters, one
    /// conversation each, every agent's socket subscribed to its conversations; a message
    /// posted by a requester through the API, timed until the agent's socket has it (paced,
    /// burst), and messages per second sustained with every message durable (checked
    /// against the database and each conversation's verified chain afterwards). On SQLite,
    /// or on PostgreSQL with `--db`. The Django Channels chat peer on the same database kind
    /// (Redis on 127.0.0.1:6379 for its redis layer) in alternating turns with ours.
    /// Writes `bench/results/chat.json`.
    #[arg(long, conflicts_with = "stream")]
    chat: bool,
    /// With `--chat`: only these Channels baselines (comma-separated: `memory`, `redis`,
    /// `socket`; all three by default; `none` for ours alone).
    #[arg(long, requires = "chat", value_delimiter = ',')]
    chat_peers: Vec<String>,
    /// Measure inbound webhooks instead of the full run (issue 18): signed Standard Webhooks
    /// posted to a channel by 32 clients (new messages, duplicates, one thread), each
    /// verified, deduplicated and stored with its conversation, against the storage bound
    /// of the same database in the same run. On SQLite, or on PostgreSQL with `--db`.
    /// Writes `bench/results/hooks.json`.
    #[arg(long, conflicts_with_all = ["stream", "chat"])]
    hooks: bool,
    /// Where to write the figures.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/latest.json"))]
    out: PathBuf,
}

/// How long things take in this run.
struct Pace {
    measure: Duration,
    warm_up: Duration,
    rounds: usize,
    cold_starts: usize,
    plan: Plan,
    /// Turns each build gets per workload with `--against`.
    versus_rounds: usize,
}

impl Pace {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                measure: Duration::from_millis(1500),
                warm_up: Duration::from_millis(300),
                rounds: 1,
                cold_starts: 3,
                versus_rounds: 7,
                plan: Plan {
                    companies: 5,
                    users_per_company: 10,
                    tickets: 2_000,
                },
            }
        } else {
            Self {
                measure: Duration::from_secs(5),
                warm_up: Duration::from_secs(1),
                rounds: 2,
                cold_starts: 5,
                versus_rounds: 7,
                plan: Plan {
                    companies: 5,
                    users_per_company: 10,
                    tickets: 10_000,
                },
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(peer) = &cli.peer {
        ensure!(peer == "django", "the only peer is `django`, not `{peer}`");
    }
    let pace = Pace::of(cli.quick);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("bench/ has a parent")?
        .to_path_buf();
    let binary = match &cli.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the bench binary has a directory")?
            .join("ticketflower"),
    };
    if !cli.no_build && cli.server.is_none() {
        eprintln!("building the release server");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--release", "--locked", "-p", "ticketflower"])
            .current_dir(&root)
            .status()?;
        ensure!(status.success(), "cargo build --release failed");
    }
    ensure!(binary.exists(), "no server at {}", binary.display());

    let temp = tempfile::tempdir()?;
    if let Some(baseline) = &cli.against {
        ensure!(baseline.exists(), "no server at {}", baseline.display());
        ensure!(cli.peer.is_none(), "--against runs without a peer");
        // Each build gets a fresh database of its own: a SQLite file in the temporary
        // directory, or a database on the PostgreSQL server of `--db`.
        let urls = match cli.db.as_deref() {
            Some(url) => fresh_postgres(url, &["tf_bench_baseline", "tf_bench"]).await?,
            None => ["baseline", "ours"]
                .iter()
                .map(|side| {
                    let dir = temp.path().join(side);
                    std::fs::create_dir_all(&dir)?;
                    Ok(format!(
                        "sqlite://{}",
                        dir.join("ticketflower.db").display()
                    ))
                })
                .collect::<Result<_>>()?,
        };
        let report = versus::run(
            (&binary, &urls[1]),
            (baseline, &urls[0]),
            &pace,
            temp.path(),
            cli.only.as_deref(),
        )
        .await?;
        if let Some(dir) = cli.out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&cli.out, serde_json::to_string_pretty(&report)? + "\n")?;
        eprintln!("\nwrote {}", cli.out.display());
        return Ok(());
    }
    if cli.stream {
        // Kept after the run: the servers' logs are in it.
        let kept = tempfile::Builder::new()
            .prefix("tf-stream-")
            .tempdir()?
            .keep();
        eprintln!("servers' logs in {}", kept.display());
        let config = ServerConfig::new(binary, kept, String::new());
        let sizes = match (cli.sockets.is_empty(), cli.quick) {
            (false, _) => cli.sockets.clone(),
            (true, true) => vec![200],
            (true, false) => vec![1_000, 10_000],
        };
        let phases = if cli.phases.is_empty() {
            vec![
                stream::Phase::FanOut,
                stream::Phase::CrossNode,
                stream::Phase::Channels,
            ]
        } else {
            cli.phases.clone()
        };
        let options = stream::Options {
            quick: cli.quick,
            sizes,
            phases,
            postgres: cli
                .db
                .clone()
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into()),
            peer_dir: root.join("bench/peers/channels"),
            channels_sockets: cli
                .channels_sockets
                .unwrap_or(if cli.quick { 200 } else { 1_000 }),
        };
        let report = stream::run(&config, &options).await?;
        let out = root.join("bench/results/stream.json");
        std::fs::create_dir_all(out.parent().context("a results directory")?)?;
        std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")?;
        eprintln!("\nwrote {}", out.display());
        return Ok(());
    }
    if cli.chat {
        return chat(&cli, binary, &root).await;
    }
    if cli.hooks {
        let kept = tempfile::Builder::new()
            .prefix("tf-hooks-")
            .tempdir()?
            .keep();
        eprintln!("the server's log in {}", kept.display());
        let config = ServerConfig::new(binary, kept, String::new());
        let report = hooks::run(&config, cli.quick, cli.db.as_deref()).await?;
        let out = root.join("bench/results/hooks.json");
        std::fs::create_dir_all(out.parent().context("a results directory")?)?;
        std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")?;
        eprintln!("\nwrote {}", out.display());
        return Ok(());
    }
    if let Some(dir) = &cli.perf {
        std::fs::create_dir_all(dir)?;
    }
    let (database_url, peer_db, kind) = databases(cli.db.as_deref(), temp.path()).await?;

    // The peer seeds first, so its seeding never overlaps our measurements.
    let peer = match cli.peer {
        Some(_) => {
            let dir = root.join("bench/peers/django");
            let venv = dir.join(".venv");
            Some(Peer::start(&dir, &venv, &peer_db, pace.plan.tickets).await?)
        }
        None => None,
    };

    let config = ServerConfig::new(binary, temp.path().to_path_buf(), database_url.clone());
    let report = measure(&cli, &pace, &config, peer.as_ref(), kind).await;
    if let Some(peer) = peer {
        peer.stop().await?;
    }
    let report = report?;
    print_table(&report);
    if let Some(dir) = cli.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&cli.out, serde_json::to_string_pretty(&report)? + "\n")?;
    eprintln!("\nwrote {}", cli.out.display());
    Ok(())
}

/// `--chat`: see `chat.rs`.
async fn chat(cli: &Cli, binary: PathBuf, root: &Path) -> Result<()> {
    use clap::ValueEnum;
    if let Some(url) = &cli.db {
        ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "--db takes a postgres:// URL (SQLite is the default)"
        );
    }
    let peers = if cli.chat_peers.is_empty() {
        chat::PeerSide::value_variants().to_vec()
    } else if cli.chat_peers == ["none"] {
        Vec::new()
    } else {
        cli.chat_peers
            .iter()
            .map(|name| {
                chat::PeerSide::from_str(name, true)
                    .map_err(|e| anyhow::anyhow!("--chat-peers: {e}"))
            })
            .collect::<Result<_>>()?
    };
    // Kept after the run: the servers' logs are in it.
    let kept = tempfile::Builder::new()
        .prefix("tf-chat-")
        .tempdir()?
        .keep();
    eprintln!("servers' logs in {}", kept.display());
    let config = ServerConfig::new(binary, kept, String::new());
    let options = chat::Options {
        quick: cli.quick,
        postgres: cli.db.clone(),
        peer_dir: root.join("bench/peers/channels"),
        peers,
    };
    let report = chat::run(&config, &options).await?;
    let out = root.join("bench/results/chat.json");
    std::fs::create_dir_all(out.parent().context("a results directory")?)?;
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")?;
    eprintln!("\nwrote {}", out.display());
    Ok(())
}

/// Our database URL and the peer's, both fresh, and the kind (`sqlite` or `postgres`).
async fn databases(db: Option<&str>, temp: &Path) -> Result<(String, String, &'static str)> {
    let Some(url) = db else {
        let ours = format!("sqlite://{}", temp.join("ticketflower.db").display());
        let peer = temp.join("django.sqlite3").display().to_string();
        return Ok((ours, peer, "sqlite"));
    };
    let urls = fresh_postgres(url, &["tf_bench", "tf_bench_django"]).await?;
    Ok((urls[0].clone(), urls[1].clone(), "postgres"))
}

/// Empty databases of these names on the PostgreSQL server of `url` (dropped first if they
/// exist); answers their URLs.
async fn fresh_postgres(url: &str, names: &[&str]) -> Result<Vec<String>> {
    ensure!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "--db takes a postgres:// URL (SQLite is the default)"
    );
    let admin = Db::connect(url, 1).await?;
    let Db::Postgres(pool) = &admin else {
        bail!("not PostgreSQL");
    };
    let (base, _) = url.rsplit_once('/').context("the URL names no database")?;
    let mut urls = Vec::new();
    for name in names {
        sqlx::query(storage::safe(&format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(pool)
        .await?;
        sqlx::query(storage::safe(&format!("CREATE DATABASE {name}")))
            .execute(pool)
            .await?;
        urls.push(format!("{base}/{name}"));
    }
    admin.close().await;
    Ok(urls)
}

/// Runs `workload` for the warm-up, then measures it.
async fn timed(
    server: std::net::SocketAddr,
    concurrency: usize,
    pace: &Pace,
    workload: Arc<dyn Workload>,
) -> Result<Outcome> {
    load::run(server, concurrency, Some(pace.warm_up), workload.clone()).await?;
    let outcome = load::run(server, concurrency, Some(pace.measure), workload).await?;
    if let Some(error) = &outcome.first_error {
        eprintln!("  {} errors; first: {error}", outcome.errors);
    }
    Ok(outcome)
}

/// Adds one outcome to another (rounds of the same workload).
fn merge(into: &mut Option<Outcome>, more: Outcome) -> Result<()> {
    match into {
        None => *into = Some(more),
        Some(total) => {
            total.ok += more.ok;
            total.errors += more.errors;
            total.elapsed += more.elapsed;
            total.histogram.add(&more.histogram)?;
            if total.first_error.is_none() {
                total.first_error = more.first_error;
            }
        }
    }
    Ok(())
}

fn figures(outcome: Option<Outcome>) -> Result<Figures> {
    Ok(outcome.context("nothing was measured")?.figures())
}

struct Comparison {
    ours: Figures,
    peer: Option<Figures>,
}

/// Measures ours (and the peer's, alternating round by round) on one workload.
async fn compare(
    pace: &Pace,
    concurrency: usize,
    ours: (std::net::SocketAddr, Arc<dyn Workload>),
    peer: Option<(std::net::SocketAddr, Arc<dyn Workload>)>,
) -> Result<Comparison> {
    let (mut mine, mut theirs) = (None, None);
    for _ in 0..pace.rounds {
        merge(
            &mut mine,
            timed(ours.0, concurrency, pace, ours.1.clone()).await?,
        )?;
        if let Some((addr, workload)) = &peer {
            merge(
                &mut theirs,
                timed(*addr, concurrency, pace, workload.clone()).await?,
            )?;
        }
    }
    Ok(Comparison {
        ours: figures(mine)?,
        peer: theirs.map(|o| o.figures()),
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[allow(clippy::too_many_lines)] // one straight sequence of measurements reads best in order
async fn measure(
    cli: &Cli,
    pace: &Pace,
    config: &ServerConfig,
    peer: Option<&Peer>,
    kind: &str,
) -> Result<Value> {
    eprintln!("starting the server on a fresh {kind} database");
    let (server, first_start) = Server::start(config).await?;
    let addr = server.addr;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_fresh = server.rss_kib()?;

    eprintln!(
        "seeding {} companies, {} users, {} tickets",
        pace.plan.companies,
        pace.plan.companies * pace.plan.users_per_company,
        pace.plan.tickets
    );
    let (companies, seeded) = seed::seed(addr, pace.plan).await?;
    seed::settle().await;
    let first = &companies[0];
    let admin = first.admin.token.clone();
    let mut results = serde_json::Map::new();
    let mut rows: Vec<Row> = Vec::new();

    // 1. The machine's bound: HTTP itself.
    let healthz: Arc<dyn Workload> = Repeat::new(|_| Request::get("/healthz", None));
    for c in [16, 64] {
        eprintln!("measuring GET /healthz c={c}");
        let f = timed(addr, c, pace, healthz.clone()).await?.figures();
        rows.push(Row::new(format!("GET /healthz c={c}"), &f, None));
        results.insert(format!("healthz_c{c}"), json!(f));
    }

    // 2. The authenticated list, against the peer's when there is one.
    let mut list = Vec::new();
    let mut peak_list = 0;
    for c in [16, 64] {
        eprintln!("measuring GET /api/v1/tickets?limit=20 c={c}");
        let token = admin.clone();
        let ours: Arc<dyn Workload> =
            Repeat::new(move |_| Request::get("/api/v1/tickets?limit=20", Some(&token)));
        let theirs = peer.map(|p| {
            let token = p.token.clone();
            let workload: Arc<dyn Workload> =
                Repeat::new(move |_| Request::get("/api/tickets/?limit=20", Some(&token)));
            (p.addr, workload)
        });
        let watch = server.watch_memory();
        let recording = match (&cli.perf, c) {
            (Some(dir), 16) => Some(server.perf(&dir.join("list.data"))?),
            _ => None,
        };
        let compared = compare(pace, c, (addr, ours), theirs).await?;
        if let Some(recording) = recording {
            recording.finish().await?;
        }
        peak_list = peak_list.max(watch.peak_kib());
        drop(watch);
        rows.push(Row::new(
            format!("GET /api/v1/tickets?limit=20 c={c}"),
            &compared.ours,
            compared.peer.as_ref(),
        ));
        results.insert(format!("list_c{c}"), json!(compared.ours));
        if let Some(p) = &compared.peer {
            results.insert(format!("django_list_c{c}"), json!(p));
        }
        list.push(compared);
    }

    // 3. The ticket detail with its tasks.
    eprintln!("measuring GET /api/v1/tickets/{{id}} c=16");
    let detail = {
        let token = admin.clone();
        let ids: Arc<Vec<String>> = Arc::new(first.tickets.clone());
        let ours: Arc<dyn Workload> = Repeat::new(move |n| {
            let id = &ids[n as usize % ids.len()];
            Request::get(format!("/api/v1/tickets/{id}"), Some(&token))
        });
        let theirs = peer.map(|p| {
            let token = p.token.clone();
            let ids: Arc<Vec<i64>> = Arc::new(p.seed.ticket_ids.clone());
            let workload: Arc<dyn Workload> = Repeat::new(move |n| {
                let id = ids[n as usize % ids.len().max(1)];
                Request::get(format!("/api/tickets/{id}/"), Some(&token))
            });
            (p.addr, workload)
        });
        compare(pace, 16, (addr, ours), theirs).await?
    };
    rows.push(Row::new(
        "GET /api/v1/tickets/{id} c=16".into(),
        &detail.ours,
        detail.peer.as_ref(),
    ));
    results.insert("detail_c16".into(), json!(detail.ours));
    if let Some(p) = &detail.peer {
        results.insert("django_detail_c16".into(), json!(p));
    }

    // 4. Submission: validation, the workflow start, auto-assignment.
    eprintln!("measuring POST /api/v1/tickets c=16");
    let counter = Db::connect(&config.database_url, 1).await?;
    let rows_before = counter.total_rows().await?;
    let tickets_before = counter.count("SELECT COUNT(*) FROM tickets").await?;
    let watch = server.watch_memory();
    let recording = match &cli.perf {
        Some(dir) => Some(server.perf(&dir.join("submit.data"))?),
        None => None,
    };
    let submit = {
        let requesters: Arc<Vec<Arc<str>>> = Arc::new(
            companies
                .iter()
                .flat_map(|c| c.requesters.iter().map(|r| r.token.clone()))
                .collect(),
        );
        let types: Arc<Vec<String>> = Arc::new(
            companies
                .iter()
                .flat_map(|c| c.requesters.iter().map(|_| c.review_type.clone()))
                .collect(),
        );
        let ours: Arc<dyn Workload> = Repeat::new(move |n| {
            let who = n as usize % requesters.len();
            let body = seed::review_submission(&types[who], 1_000_000 + n);
            Request::post("/api/v1/tickets", Some(&requesters[who]), &body)
        });
        let theirs = peer.map(|p| {
            let token = p.token.clone();
            let bodies: Arc<Vec<Value>> = Arc::new((0..1000).map(|n| p.submission(n)).collect());
            let workload: Arc<dyn Workload> = Repeat::new(move |n| {
                Request::post(
                    "/api/tickets/",
                    Some(&token),
                    &bodies[n as usize % bodies.len()],
                )
            });
            (p.addr, workload)
        });
        compare(pace, 16, (addr, ours), theirs).await?
    };
    if let Some(recording) = recording {
        recording.finish().await?;
    }
    let peak_submit = watch.peak_kib();
    drop(watch);
    let rows_after = counter.total_rows().await?;
    // The warm-up submitted too: count every ticket made in this phase.
    let submitted = counter.count("SELECT COUNT(*) FROM tickets").await? - tickets_before;
    counter.close().await;
    let rows_per_submission =
        u64::try_from((rows_after - rows_before) / submitted.max(1)).unwrap_or(1);
    let api = api::Api::new(addr);
    rows.push(Row::new(
        "POST /api/v1/tickets c=16".into(),
        &submit.ours,
        submit.peer.as_ref(),
    ));
    results.insert("submit_c16".into(), json!(submit.ours));
    if let Some(p) = &submit.peer {
        results.insert("django_submit_c16".into(), json!(p));
    }

    // The storage bound for the same rows, in the same number of transactions.
    eprintln!("measuring the storage bound ({rows_per_submission} rows per submission)");
    let bound_db = match kind {
        "sqlite" => {
            let url = format!("sqlite://{}", config.data_dir.join("bound.db").display());
            Db::connect(&url, 1).await?
        }
        _ => Db::connect(&config.database_url, 16).await?,
    };
    let bound = storage::bound(
        &bound_db,
        16,
        submit.ours.requests.max(100),
        rows_per_submission.max(1),
        256,
    )
    .await?;
    bound_db.close().await;
    rows.push(Row {
        name: format!("storage bound: {rows_per_submission} rows/tx c=16"),
        rps: bound.transactions_per_second,
        p50: None,
        p99: None,
        errors: 0,
        peer_rps: None,
    });
    results.insert("storage_bound".into(), json!(bound));

    // 5. Task completion: the review sends the document back, which fires the edit task.
    let completions = seed::revisions(&api, &companies).await?;
    eprintln!(
        "measuring POST /api/v1/tasks/{{id}}/complete c=16 ({} open reviews)",
        completions.len()
    );
    let script = load::Script::new(completions);
    let complete = load::run(addr, 16, Some(pace.measure), script.clone())
        .await?
        .figures();
    let fired = script
        .answers()
        .iter()
        .filter(|(_, status, _)| status.is_success())
        .count();
    ensure!(fired > 0, "no task completed");
    rows.push(Row::new(
        "POST /api/v1/tasks/{id}/complete c=16".into(),
        &complete,
        None,
    ));
    results.insert("complete_c16".into(), json!(complete));

    // 6. Login with the production argon2 parameters, then a burst of logins beside the list.
    let emails: Arc<Vec<String>> = Arc::new(
        companies
            .iter()
            .flat_map(|c| {
                std::iter::once(c.admin.email.clone())
                    .chain(c.reviewers.iter().map(|p| p.email.clone()))
                    .chain(c.requesters.iter().map(|p| p.email.clone()))
            })
            .collect(),
    );
    let logins: Arc<dyn Workload> = {
        let emails = emails.clone();
        Repeat::new(move |n| {
            let email = &emails[n as usize % emails.len()];
            Request::post("/api/v1/auth/login", None, &seed::login_body(email))
        })
    };
    eprintln!("measuring POST /api/v1/auth/login c=16");
    let login = timed(addr, 16, pace, logins.clone()).await?.figures();
    rows.push(Row::new(
        "POST /api/v1/auth/login c=16".into(),
        &login,
        None,
    ));
    results.insert("login_c16".into(), json!(login));

    eprintln!("measuring the list c=16 during a login burst c=16");
    let token = admin.clone();
    let listing: Arc<dyn Workload> =
        Repeat::new(move |_| Request::get("/api/v1/tickets?limit=20", Some(&token)));
    let burst = tokio::spawn(load::run(addr, 16, Some(pace.measure), logins));
    let during = load::run(addr, 16, Some(pace.measure), listing)
        .await?
        .figures();
    let burst = burst.await??.figures();
    rows.push(Row::new(
        "  list c=16 during the burst".into(),
        &during,
        None,
    ));
    rows.push(Row::new("  logins of the burst".into(), &burst, None));
    results.insert("list_c16_during_login_burst".into(), json!(during));
    results.insert("login_burst_c16".into(), json!(burst));

    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_after_load = server.rss_kib()?;
    // Again once the server has had time to give back what it keeps only while busy
    // (idle SQLite readers close after 10 s, hashing memory after 5 s), split into the
    // process's own memory and the pages of its binary (file-backed, shared, reclaimable).
    tokio::time::sleep(Duration::from_secs(12)).await;
    let settled = server.rss_parts_kib()?;
    server.stop().await?;

    // 8. Cold start on the now-populated database, and idle memory of a fresh process.
    eprintln!("measuring cold starts");
    let mut starts = Vec::new();
    let mut idle_seeded = 0;
    for _ in 0..pace.cold_starts {
        let (server, ready) = Server::start(config).await?;
        starts.push(ready.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        idle_seeded = server.rss_kib()?;
        server.stop().await?;
    }
    starts.sort_by(f64::total_cmp);
    let cold_start_ms = starts[starts.len() / 2];

    let memory = json!({
        "idle_fresh_database_mib": mib(idle_fresh),
        "idle_seeded_database_mib": mib(idle_seeded),
        "idle_after_load_mib": mib(idle_after_load),
        "idle_after_load_settled_mib": mib(settled.0 + settled.1),
        "idle_after_load_settled_anon_mib": mib(settled.0),
        "idle_after_load_settled_file_mib": mib(settled.1),
        "peak_list_mib": mib(peak_list),
        "peak_submit_mib": mib(peak_submit),
    });
    let healthz16 = results["healthz_c16"]["rps"].as_f64().unwrap_or(0.0);
    let healthz64 = results["healthz_c64"]["rps"].as_f64().unwrap_or(0.0);
    let mut ratios = serde_json::Map::new();
    ratios.insert(
        "list_over_healthz".into(),
        json!(list[0].ours.rps / healthz16),
    );
    ratios.insert(
        "list_over_healthz_c64".into(),
        json!(list[1].ours.rps / healthz64),
    );
    ratios.insert(
        "submit_over_storage".into(),
        json!(submit.ours.rps / bound.transactions_per_second),
    );
    if let (Some(p), Some(s)) = (&list[0].peer, &submit.peer) {
        ratios.insert("list_over_django".into(), json!(list[0].ours.rps / p.rps));
        ratios.insert("submit_over_django".into(), json!(submit.ours.rps / s.rps));
        if let Some(d) = &detail.peer {
            ratios.insert("detail_over_django".into(), json!(detail.ours.rps / d.rps));
        }
        if let Some(p64) = &list[1].peer {
            ratios.insert(
                "list_over_django_c64".into(),
                json!(list[1].ours.rps / p64.rps),
            );
        }
    }
    ratios.insert(
        "list_p99_during_login_burst_over_alone".into(),
        json!(during.p99_ms / list[0].ours.p99_ms),
    );
    let ratio = |k: &str| ratios.get(k).and_then(Value::as_f64);
    let targets = json!({
        "list_over_healthz_at_least_0.35": ratio("list_over_healthz").map(|r| r >= 0.35),
        "submit_over_storage_at_least_0.25": ratio("submit_over_storage").map(|r| r >= 0.25),
        "list_over_django_at_least_50": ratio("list_over_django").map(|r| r >= 50.0),
        "submit_over_django_at_least_50": ratio("submit_over_django").map(|r| r >= 50.0),
        "idle_rss_under_30_mib": mib(idle_seeded) < 30.0,
        "cold_start_under_200_ms": cold_start_ms < 200.0,
    });

    Ok(json!({
        "commit": commit(),
        "machine": machine(),
        "database": kind,
        "quick": cli.quick,
        "measure_seconds": pace.measure.as_secs_f64(),
        "rounds": pace.rounds,
        "seed": seeded,
        "peer": peer.map(|p| json!({ "name": "django", "prepare_seconds": p.prepare_seconds,
                                     "workers": std::thread::available_parallelism().map(|n| n.get() + 1).unwrap_or(2) })),
        "results": results,
        "rows_per_submission": rows_per_submission,
        "completions_that_fired_a_task": fired,
        "memory": memory,
        "cold_start_ms": { "median": cold_start_ms, "runs": starts, "first_start_with_migrations": first_start.as_secs_f64() * 1000.0 },
        "ratios": ratios,
        "targets_met": targets,
        "table": rows.iter().map(Row::line).collect::<Vec<_>>(),
    }))
}

struct Row {
    name: String,
    rps: f64,
    p50: Option<f64>,
    p99: Option<f64>,
    errors: u64,
    peer_rps: Option<f64>,
}

impl Row {
    fn new(name: String, f: &Figures, peer: Option<&Figures>) -> Self {
        Self {
            name,
            rps: f.rps,
            p50: Some(f.p50_ms),
            p99: Some(f.p99_ms),
            errors: f.errors,
            peer_rps: peer.map(|p| p.rps),
        }
    }

    fn line(&self) -> String {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        let peer = self.peer_rps.map_or_else(
            || "-".to_owned(),
            |p| format!("{p:.0} ({:.1}x)", self.rps / p),
        );
        format!(
            "{:<44} {:>10.0} {:>9} {:>9} {:>7} {:>18}",
            self.name,
            self.rps,
            ms(self.p50),
            ms(self.p99),
            self.errors,
            peer
        )
    }
}

fn print_table(report: &Value) {
    println!(
        "\nTicketFlower on {} ({}), commit {}",
        report["database"].as_str().unwrap_or("?"),
        report["machine"]["model"].as_str().unwrap_or("?"),
        report["commit"].as_str().unwrap_or("?")
    );
    println!(
        "{:<44} {:>10} {:>9} {:>9} {:>7} {:>18}",
        "workload", "req/s", "p50 ms", "p99 ms", "errors", "django req/s"
    );
    for line in report["table"].as_array().into_iter().flatten() {
        println!("{}", line.as_str().unwrap_or_default());
    }
    println!("\nmemory (MiB): {}", report["memory"]);
    println!("cold start (ms): {}", report["cold_start_ms"]);
    println!("ratios: {}", report["ratios"]);
    println!("targets met: {}", report["targets_met"]);
}

fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{head}-dirty") } else { head }
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0);
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "model": model,
        "memory_gib": memory_gib,
        "os": std::env::consts::OS,
    })
}

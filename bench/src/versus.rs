//! `--against PATH`: this build against another (the baseline) on one machine, in one
//! sitting, measurement by measurement.
//!
//! A shared VM's speed drifts by a third within minutes, so two full runs taken one after
//! the other compare the hours they ran in as much as the builds. Here both servers are
//! started and seeded alike, then every workload is measured in short turns that alternate
//! between them (the baseline first in odd rounds, ours first in even ones): each round's
//! ratio compares two measurements taken seconds apart, and the median of the ratios is
//! the answer. Only one server is under load at a time; the other idles.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::Pace;
use crate::load::{self, Repeat, Request, Workload};
use crate::seed::{self, Company};
use crate::server::{Server, ServerConfig};

/// The pause before the completions, for the work the submissions left behind.
const DRAIN: Duration = Duration::from_secs(20);

/// One build, started on its own fresh database and seeded.
struct Side {
    server: Server,
    companies: Vec<Company>,
    idle_fresh_kib: u64,
    idle_seeded_kib: u64,
}

async fn side(binary: &Path, database_url: &str, dir: &Path, pace: &Pace) -> Result<Side> {
    std::fs::create_dir_all(dir)?;
    let config = ServerConfig::new(
        binary.to_path_buf(),
        dir.to_path_buf(),
        database_url.to_owned(),
    );
    let (server, _) = Server::start(&config).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_fresh_kib = server.rss_kib()?;
    eprintln!("seeding {}", binary.display());
    let (companies, _) = seed::seed(server.addr, pace.plan).await?;
    seed::settle().await;
    let idle_seeded_kib = server.rss_kib()?;
    Ok(Side {
        server,
        companies,
        idle_fresh_kib,
        idle_seeded_kib,
    })
}

/// A workload's name, its concurrency and its requests.
type Named = (&'static str, usize, Arc<dyn Workload>);

/// The workloads compared, built for one side's seeded data.
fn workloads(companies: &[Company]) -> Result<Vec<Named>> {
    let first = companies.first().context("nothing was seeded")?;
    let admin = first.admin.token.clone();
    let list = {
        let token = admin.clone();
        Repeat::new(move |_| Request::get("/api/v1/tickets?limit=20", Some(&token)))
    };
    let detail = {
        let token = admin.clone();
        let ids = Arc::new(first.tickets.clone());
        Repeat::new(move |n| {
            let id = &ids[n as usize % ids.len()];
            Request::get(format!("/api/v1/tickets/{id}"), Some(&token))
        })
    };
    let submit = {
        let people: Arc<Vec<(Arc<str>, String)>> = Arc::new(
            companies
                .iter()
                .flat_map(|c| {
                    c.requesters
                        .iter()
                        .map(|r| (r.token.clone(), c.review_type.clone()))
                })
                .collect(),
        );
        Repeat::new(move |n| {
            let (token, ticket_type) = &people[n as usize % people.len()];
            let body = seed::review_submission(ticket_type, 2_000_000 + n);
            Request::post("/api/v1/tickets", Some(token), &body)
        })
    };
    let healthz: Arc<dyn Workload> = Repeat::new(|_| Request::get("/healthz", None));
    Ok(vec![
        ("GET /healthz", 16, healthz),
        ("GET /api/v1/tickets?limit=20", 16, list.clone()),
        ("GET /api/v1/tickets?limit=20", 64, list),
        ("GET /api/v1/tickets/{id}", 16, detail),
        ("POST /api/v1/tickets", 16, submit),
    ])
}

async fn turn(
    addr: SocketAddr,
    concurrency: usize,
    pace: &Pace,
    work: &Arc<dyn Workload>,
) -> Result<f64> {
    let outcome = crate::timed(addr, concurrency, pace, work.clone()).await?;
    anyhow::ensure!(
        outcome.errors == 0,
        "{} errors; first: {:?}",
        outcome.errors,
        outcome.first_error
    );
    Ok(outcome.figures().rps)
}

/// One workload measured in alternating turns on both sides; its report row.
async fn compare(
    label: &str,
    c: usize,
    pace: &Pace,
    (base, theirs): (&Side, &Arc<dyn Workload>),
    (mine, own): (&Side, &Arc<dyn Workload>),
) -> Result<Value> {
    eprintln!("measuring {label}");
    let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..pace.versus_rounds {
        let (x, y) = if round % 2 == 0 {
            let x = turn(base.server.addr, c, pace, theirs).await?;
            (x, turn(mine.server.addr, c, pace, own).await?)
        } else {
            let y = turn(mine.server.addr, c, pace, own).await?;
            (turn(base.server.addr, c, pace, theirs).await?, y)
        };
        a.push(x);
        b.push(y);
        ratios.push(y / x.max(f64::MIN_POSITIVE));
    }
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
    let ratio = median(&mut ratios);
    let (ma, mb) = (median(&mut a), median(&mut b));
    println!("{label:<40} {ma:>10.0} {mb:>10.0} {ratio:>8.3} {lo:>8.3} {hi:>8.3}");
    Ok(json!({
        "workload": label, "baseline_rps": ma, "ours_rps": mb,
        "ratio_median": ratio, "ratio_min": lo, "ratio_max": hi,
        "baseline_rounds": a, "ours_rounds": b,
    }))
}

/// Every open review of one side, each completed once with "revise" (which opens the
/// requester's edit task), as the full run's completion workload does.
async fn completions(side: &Side) -> Result<Arc<load::Script>> {
    let api = crate::api::Api::new(side.server.addr);
    Ok(load::Script::new(
        seed::revisions(&api, &side.companies).await?,
    ))
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Measures ours against `baseline`, each a binary and its fresh database's URL; answers
/// the report written to `--out`.
pub async fn run(
    (ours, our_db): (&Path, &str),
    (baseline, base_db): (&Path, &str),
    pace: &Pace,
    temp: &Path,
    only: Option<&str>,
) -> Result<Value> {
    let base = side(baseline, base_db, &temp.join("baseline"), pace).await?;
    let mine = side(ours, our_db, &temp.join("ours"), pace).await?;
    let base_work = workloads(&base.companies)?;
    let our_work = workloads(&mine.companies)?;
    let rounds = pace.versus_rounds;
    let mut rows = Vec::new();
    println!(
        "\n{rounds} alternating rounds of {:.1} s each; req/s medians, ratio = ours ÷ baseline per round",
        pace.measure.as_secs_f64()
    );
    println!(
        "{:<40} {:>10} {:>10} {:>8} {:>8} {:>8}",
        "workload", "baseline", "ours", "ratio", "min", "max"
    );
    for ((name, c, theirs), (_, _, own)) in base_work.iter().zip(&our_work) {
        if only.is_some_and(|only| !name.contains(only)) {
            continue;
        }
        rows.push(
            compare(
                &format!("{name} c={c}"),
                *c,
                pace,
                (&base, theirs),
                (&mine, own),
            )
            .await?,
        );
    }
    // Completion last: each completion uses up an open review, so it runs on what the seed
    // and the submissions above left, gathered now.
    let name = "POST /api/v1/tasks/{id}/complete";
    if only.is_none_or(|only| name.contains(only)) {
        // The submissions leave work behind them (notifications, the search index's and
        // the events' consumers): on SQLite it shares the one writer with the completions,
        // and the faster build would leave more of it. Both drain before completions.
        tokio::time::sleep(DRAIN).await;
        let theirs = completions(&base).await?;
        let own = completions(&mine).await?;
        let needed = |script: &Arc<load::Script>| {
            anyhow::ensure!(
                script.left() > 0,
                "the open reviews ran out: a turn measured fewer than it was given"
            );
            Ok(())
        };
        let (theirs_work, own_work): (Arc<dyn Workload>, Arc<dyn Workload>) =
            (theirs.clone(), own.clone());
        rows.push(
            compare(
                &format!("{name} c=16"),
                16,
                pace,
                (&base, &theirs_work),
                (&mine, &own_work),
            )
            .await?,
        );
        needed(&theirs)?;
        needed(&own)?;
    }
    let mib = |kib: u64| kib as f64 / 1024.0;
    let memory = json!({
        "baseline_idle_fresh_mib": mib(base.idle_fresh_kib),
        "ours_idle_fresh_mib": mib(mine.idle_fresh_kib),
        "baseline_idle_seeded_mib": mib(base.idle_seeded_kib),
        "ours_idle_seeded_mib": mib(mine.idle_seeded_kib),
    });
    println!("memory (MiB): {memory}");
    base.server.stop().await?;
    mine.server.stop().await?;
    Ok(json!({
        "ours": ours.display().to_string(),
        "baseline": baseline.display().to_string(),
        "database": if our_db.starts_with("sqlite:") { "sqlite" } else { "postgres" },
        "rounds": rounds,
        "measure_seconds": pace.measure.as_secs_f64(),
        "workloads": rows,
        "memory": memory,
    }))
}

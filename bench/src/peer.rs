//! The Django peer (`bench/peers/django/`): installed into a virtualenv from PyPI, seeded with
//! the same amount of data on the same kind of database, served by gunicorn with one sync
//! worker per core plus one, and driven with the same load generator.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::api::{Api, text};
use crate::server::free_port;

/// What the peer's seed prints on its last line.
#[derive(Deserialize)]
pub struct PeerSeed {
    pub username: String,
    pub password: String,
    pub ticket_type_id: i64,
    pub ticket_ids: Vec<i64>,
}

pub struct Peer {
    child: Child,
    pub addr: SocketAddr,
    pub token: Arc<str>,
    pub seed: PeerSeed,
    pub prepare_seconds: f64,
}

fn script(dir: &Path) -> PathBuf {
    dir.join("peer.sh")
}

async fn run(dir: &Path, args: &[&str], db: &str) -> Result<String> {
    let output = Command::new("bash")
        .arg(script(dir))
        .args(args)
        .env("DESK_DB", db)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running peer.sh {}", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "peer.sh {} failed: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Peer {
    /// Installs (once), seeds `tickets` tickets into `db`, starts gunicorn and logs in.
    pub async fn start(dir: &Path, venv: &Path, db: &str, tickets: usize) -> Result<Self> {
        let venv = venv.to_string_lossy().into_owned();
        eprintln!("  django peer: installing into {venv} (once)");
        run(dir, &["install", &venv], db).await?;
        eprintln!("  django peer: migrating and seeding {tickets} tickets");
        let started = Instant::now();
        let tickets = tickets.to_string();
        let out = run(dir, &["prepare", &venv, "--tickets", &tickets], db).await?;
        let prepare_seconds = started.elapsed().as_secs_f64();
        let last = out
            .lines()
            .last()
            .context("the peer's seed printed nothing")?;
        let seed: PeerSeed = serde_json::from_str(last)
            .with_context(|| format!("reading the peer's seed line: {last}"))?;

        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new("bash")
            .arg(script(dir))
            .args(["serve", &venv, &port.to_string()])
            .env("DESK_DB", db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let api = Api::new(addr);
        let body = json!({ "username": seed.username, "password": seed.password });
        let deadline = Instant::now() + Duration::from_secs(30);
        let token = loop {
            match api
                .call(
                    Method::POST,
                    "/api/token/",
                    None,
                    Some(&body),
                    StatusCode::OK,
                )
                .await
            {
                Ok(answer) => break text(&answer, "/access")?,
                Err(error) if Instant::now() > deadline => {
                    return Err(error.context("the django peer never answered"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Ok(Self {
            child,
            addr,
            token: token.into(),
            seed,
            prepare_seconds,
        })
    }

    /// A creation body for the peer's ticket type.
    pub fn submission(&self, n: u64) -> Value {
        json!({
            "ticket_type_id": self.seed.ticket_type_id,
            "data": { "title": format!("Quarterly plan number {n} for the zeppelin fleet"), "amount": n % 5000, "notes": "budget and crew rota" }
        })
    }

    pub async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            // gunicorn's master stops its workers on SIGTERM (bash exec'd into it).
            std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()?;
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}

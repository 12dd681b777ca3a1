//! The Django Channels peer (`bench/peers/channels/`): installed into a virtualenv from PyPI,
//! seeded with one ticket and a token per socket on SQLite (or with the support chat's
//! agents and requesters, on SQLite or PostgreSQL), served by one daphne process with the
//! in-memory channel layer or channels_redis.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::api::Api;
use crate::fleet::{Committer, Endpoint};
use crate::server::free_port;

/// Where the redis layer's Redis runs.
pub const REDIS: &str = "127.0.0.1:6379";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Memory,
    Redis,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
        }
    }
}

/// What the peer's seed prints on its last line.
#[derive(Deserialize)]
struct Seed {
    ticket_id: i64,
    admin_token: String,
    tokens: Vec<String>,
}

pub struct ChannelsPeer {
    child: Child,
    pid: u32,
    pub addr: SocketAddr,
    pub layer: Layer,
    ticket: i64,
    admin_token: String,
    pub tokens: Vec<String>,
}

/// Runs `peer.sh` with `FEED_DB` set to `db` (a SQLite path or a postgres:// URL).
async fn script(dir: &Path, args: &[&str], db: &OsStr) -> Result<String> {
    let output = Command::new("bash")
        .arg(dir.join("peer.sh"))
        .args(args)
        .env("FEED_DB", db)
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

/// Fails unless Redis answers `PING` at [`REDIS`]: the redis layer would otherwise fail
/// socket by socket, deep inside daphne.
pub async fn check_redis() -> Result<()> {
    let ping = async {
        let mut stream = TcpStream::connect(REDIS).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut answer = [0u8; 7];
        stream.read_exact(&mut answer).await?;
        Ok::<_, anyhow::Error>(answer)
    };
    match tokio::time::timeout(Duration::from_secs(3), ping).await {
        Ok(Ok(answer)) if &answer == b"+PONG\r\n" => Ok(()),
        Ok(Ok(answer)) => bail!(
            "Redis at {REDIS} answered PING with {:?}: the Channels peer's redis layer needs a \
             Redis there (or leave `channels` out of --phases)",
            String::from_utf8_lossy(&answer)
        ),
        Ok(Err(error)) => bail!(
            "Redis is unreachable at {REDIS} ({error}): the Channels peer's redis layer needs \
             it (or leave `channels` out of --phases)"
        ),
        Err(_) => bail!(
            "Redis at {REDIS} did not answer PING within 3 s: the Channels peer's redis layer \
             needs it (or leave `channels` out of --phases)"
        ),
    }
}

impl ChannelsPeer {
    /// Installs the virtualenv when its requirements changed.
    pub async fn install(dir: &Path, venv: &Path) -> Result<()> {
        let venv = venv.to_string_lossy().into_owned();
        eprintln!("  channels peer: installing into {venv} (once)");
        script(dir, &["install", &venv], OsStr::new("")).await?;
        Ok(())
    }

    /// Seeds a fresh SQLite file at `db` with `sockets` tokens and starts daphne on it.
    pub async fn start(
        dir: &Path,
        venv: &Path,
        db: PathBuf,
        layer: Layer,
        sockets: usize,
    ) -> Result<Self> {
        let venv = venv.to_string_lossy().into_owned();
        let out = script(
            dir,
            &["prepare", &venv, "--tokens", &sockets.to_string()],
            db.as_os_str(),
        )
        .await?;
        let last = out
            .lines()
            .last()
            .context("the channels peer's seed printed nothing")?;
        let seed: Seed = serde_json::from_str(last).context("reading the channels peer's seed")?;

        let (child, pid, addr) = serve(dir, &venv, db.as_os_str(), layer).await?;
        Ok(Self {
            child,
            pid,
            addr,
            layer,
            ticket: seed.ticket_id,
            admin_token: seed.admin_token,
            tokens: seed.tokens,
        })
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: format!("ws://{}/stream", self.addr),
            stream: format!("ticket:{}", self.ticket),
        }
    }

    pub fn committer(&self) -> Committer {
        Committer::new(
            Api::new(self.addr),
            format!("/tickets/{}/comments", self.ticket),
            self.admin_token.clone(),
        )
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn rss_kib(&self) -> Result<u64> {
        crate::server::rss_kib(self.pid)
    }

    pub async fn stop(self) -> Result<()> {
        stop(self.child, self.pid).await
    }
}

/// Starts daphne on a free port over the prepared database `db` and waits for `/healthz`;
/// answers the child, daphne's own pid (peer.sh execs it) and the address.
async fn serve(
    dir: &Path,
    venv: &str,
    db: &OsStr,
    layer: Layer,
) -> Result<(Child, u32, SocketAddr)> {
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = Command::new("bash")
        .arg(dir.join("peer.sh"))
        .args(["serve", venv, &port.to_string(), layer.name()])
        .env("FEED_DB", db)
        // Keys of their own: another peer or another user of this Redis never meets them.
        .env("FEED_REDIS_PREFIX", format!("tfbench-{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting daphne")?;
    // peer.sh execs daphne: this is daphne's own process, whose memory is measured.
    let pid = child.id().context("daphne exited at once")?;
    let ready = Api::new(addr)
        .wait_for("/healthz", Instant::now(), Duration::from_secs(30))
        .await;
    if let Err(error) = ready {
        child.start_kill().ok();
        return Err(error.context("the channels peer never answered /healthz"));
    }
    Ok((child, pid, addr))
}

async fn stop(mut child: Child, pid: u32) -> Result<()> {
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    if tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .is_err()
    {
        child.kill().await?;
    }
    Ok(())
}

/// One seeded member of the chat peer.
#[derive(Clone, Deserialize)]
pub struct ChatMember {
    pub id: i64,
    pub token: String,
}

/// What `peer.sh prepare-chat` prints on its last line.
#[derive(Deserialize)]
struct ChatSeed {
    agents: Vec<ChatMember>,
    requesters: Vec<ChatMember>,
}

/// The peer serving the support chat: `POST /conversations` (get-or-create),
/// `POST /conversations/{id}/messages`, `GET /conversations/{id}/verify`, the stream's
/// `conversation:<id>` and the seed's chat socket `ws/support/chat/<id>/`.
pub struct ChatPeer {
    child: Child,
    pid: u32,
    pub addr: SocketAddr,
    pub agents: Vec<ChatMember>,
    pub requesters: Vec<ChatMember>,
}

impl ChatPeer {
    /// Migrates and seeds `db` (a new SQLite path, or a fresh PostgreSQL database's URL)
    /// with `agents` and `requesters`, and starts daphne on it.
    pub async fn start(
        dir: &Path,
        venv: &Path,
        db: &str,
        layer: Layer,
        agents: usize,
        requesters: usize,
    ) -> Result<Self> {
        let venv = venv.to_string_lossy().into_owned();
        let out = script(
            dir,
            &[
                "prepare-chat",
                &venv,
                "--agents",
                &agents.to_string(),
                "--requesters",
                &requesters.to_string(),
            ],
            OsStr::new(db),
        )
        .await?;
        let last = out
            .lines()
            .last()
            .context("the chat peer's seed printed nothing")?;
        let seed: ChatSeed = serde_json::from_str(last).context("reading the chat peer's seed")?;
        let (child, pid, addr) = serve(dir, &venv, OsStr::new(db), layer).await?;
        Ok(Self {
            child,
            pid,
            addr,
            agents: seed.agents,
            requesters: seed.requesters,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub async fn stop(self) -> Result<()> {
        stop(self.child, self.pid).await
    }
}

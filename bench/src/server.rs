//! The release server as a child process: started on a database, watched for memory, stopped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

use crate::api::Api;

/// Where and how to run the server.
#[derive(Clone)]
pub struct ServerConfig {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// More settings for this server (`TICKETFLOWER_BUS`...), applied after the bench's own.
    pub env: Vec<(String, String)>,
    /// The log's file name in `data_dir`: two nodes sharing a data directory (and so its
    /// development secrets) keep their logs apart.
    pub log_name: String,
}

impl ServerConfig {
    pub fn new(binary: PathBuf, data_dir: PathBuf, database_url: String) -> Self {
        Self {
            binary,
            data_dir,
            database_url,
            env: Vec::new(),
            log_name: "server.log".into(),
        }
    }

    pub fn log(&self) -> PathBuf {
        self.data_dir.join(&self.log_name)
    }
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pid: u32,
}

/// A free loopback port (the listener is closed again; the race is harmless on a bench box).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts the server and waits for `/readyz`; answers the server and the time from spawn
    /// to the first 200.
    pub async fn start(config: &ServerConfig) -> Result<(Self, Duration)> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.log())
            .with_context(|| format!("opening {}", config.log().display()))?;
        let started = Instant::now();
        let child = Command::new(&config.binary)
            .arg("serve")
            .env("DATABASE_URL", &config.database_url)
            .env("TICKETFLOWER_DATA_DIR", &config.data_dir)
            .env("TICKETFLOWER_BIND", addr.to_string())
            // The bench never scrapes; port 0 keeps a busy 9090 (Prometheus's own) from
            // stopping the start.
            .env("TICKETFLOWER_METRICS_BIND", "127.0.0.1:0")
            .env("TICKETFLOWER_LOG_LEVEL", "warn")
            // Live sockets count against the connection cap (1,024 by default); the stream
            // bench holds up to 10,000 of them.
            .env("TICKETFLOWER_MAX_CONNECTIONS", "16000")
            .env("TICKETFLOWER_LOG_FORMAT", "json")
            .env_remove("RUST_LOG")
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", config.binary.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = Self { child, addr, pid };
        let ready = Api::new(addr)
            .wait_for("/readyz", started, Duration::from_secs(30))
            .await;
        match ready {
            Ok(elapsed) => Ok((server, elapsed)),
            Err(error) => {
                server.child.start_kill().ok();
                bail!("{error}; see {}", config.log().display())
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident set size now, in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid)
    }

    /// [`rss_parts_kib`] of the server.
    pub fn rss_parts_kib(&self) -> Result<(u64, u64)> {
        rss_parts_kib(self.pid)
    }

    /// Samples the resident set size every 10 ms until the guard is dropped; `peak` reads the
    /// highest value seen.
    pub fn watch_memory(&self) -> MemoryWatch {
        let peak = Arc::new(AtomicU64::new(self.rss_kib().unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (pid, seen, done) = (self.pid, peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Ok(kib) = rss_kib(pid) {
                    seen.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        MemoryWatch { peak, stop }
    }

    /// Starts `perf record` (DWARF call graphs, which see through SQLite's C, at 299 Hz) on
    /// the server, writing to `out`.
    pub fn perf(&self, out: &Path) -> Result<Recording> {
        let child = Command::new("perf")
            .args([
                "record",
                "-F",
                "299",
                "--call-graph",
                "dwarf,16384",
                "--quiet",
                "-p",
                &self.pid.to_string(),
                "-o",
            ])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting perf (is linux-perf installed?)")?;
        Ok(Recording { child })
    }

    /// Stops the server the way an operator does (SIGTERM, graceful), killing it if it lingers.
    pub async fn stop(mut self) -> Result<()> {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("could not signal the server");
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

/// A running `perf record`.
pub struct Recording {
    child: Child,
}

impl Recording {
    /// Stops the recording (SIGINT makes perf write its file) and waits for it.
    pub async fn finish(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()?;
        }
        self.child.wait().await?;
        Ok(())
    }
}

pub struct MemoryWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl MemoryWatch {
    pub fn peak_kib(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for MemoryWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The resident set size of any process, in KiB.
/// The resident set in two parts: anonymous (the heap, stacks) and file-backed (the binary's
/// pages), in KiB.
pub fn rss_parts_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
            .with_context(|| format!("no {name} in /proc/<pid>/status"))
    };
    Ok((field("RssAnon:")?, field("RssFile:")?))
}

pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

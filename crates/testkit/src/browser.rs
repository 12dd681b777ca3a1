//! Headless Chromium for browser tests, driven over WebDriver (fantoccini) by Debian's
//! chromedriver. Chromium and its driver are installed with apt when missing, so the test
//! command works on a fresh machine.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session plus the chromedriver process behind it (killed on drop).
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless session.
    pub async fn start() -> anyhow::Result<Self> {
        ensure_installed().await?;
        let port = free_port()?;
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver")?;
        let url = format!("http://127.0.0.1:{port}");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                ],
            }),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(capabilities.clone());
            match builder.connect(&url).await {
                Ok(client) => return Ok(Self { client, driver }),
                Err(error) if tokio::time::Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => bail!("cannot open a Chromium session: {error}"),
            }
        }
    }

    /// Sets the window to a desk (1366 × 900) or a phone (390 × 844) width.
    pub async fn resize(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.client.set_window_size(width, height).await?;
        Ok(())
    }

    /// Saves what the browser shows as `<name>.png` in the screenshot folder (see
    /// [`screenshot_dir`]), for a person to look at after the run; returns its path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<std::path::PathBuf> {
        let png = self.client.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

/// Where screenshots go: `TICKETFLOWER_SCREENSHOTS` if set (CI sets it and keeps the
/// folder), else `screenshots/` at the workspace root (ignored by git), one subfolder per
/// database so the SQLite and PostgreSQL runs keep theirs apart.
pub fn screenshot_dir() -> std::path::PathBuf {
    let root = std::env::var_os("TICKETFLOWER_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../screenshots")
        });
    let database = if std::env::var_os("TEST_DATABASE_URL").is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    root.join(database)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Installs Debian's chromium and chromium-driver if they are missing.
async fn ensure_installed() -> anyhow::Result<()> {
    if std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    static INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = INSTALL.lock().await;
    if std::path::Path::new(CHROMEDRIVER).exists() {
        return Ok(());
    }
    eprintln!("installing chromium and chromium-driver with apt-get (first browser test run)");
    let update = Command::new("apt-get").arg("update").status().await?;
    if !update.success() {
        bail!("apt-get update failed");
    }
    let install = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "chromium-driver",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .await?;
    if !install.success() {
        bail!("apt-get install chromium chromium-driver failed");
    }
    Ok(())
}

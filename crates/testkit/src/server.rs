//! `spawn_app()`: the real router, metrics listener and job workers, served on
//! `127.0.0.1:0`, exactly as `ticketflower serve` runs them, with a reqwest client pointed
//! at it and a typed API client ([`TestApp::api`]).

use std::net::SocketAddr;
use std::time::Duration;

use app::{App, JobRegistry, Secrets, Settings};
use reqwest::{Client, Response};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::ApiClient;
use crate::db::TestDb;

pub struct TestApp {
    pub address: SocketAddr,
    pub base_url: String,
    /// The metrics listener's address; `None` when the test turned it off.
    pub metrics_address: Option<SocketAddr>,
    pub client: Client,
    pub app: App,
    pub db: TestDb,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Settings for tests: cheap (but real) argon2id, fast job polling, job gauges refreshed
/// every second.
pub fn test_settings(db: &TestDb) -> Settings {
    Settings {
        data_dir: db.dir.path().to_path_buf(),
        database_url: Some(db.url.clone()),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        metrics_refresh_secs: 1,
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        job_poll_ms: 50,
        db_max_connections: 8,
        ..Settings::default()
    }
}

/// Spawns the server with TicketFlower's standard job handlers.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_, jobs| jobs).await
}

/// Spawns the server after letting the test adjust settings and register extra job
/// handlers (e.g. a handler that fails on purpose to exercise retries).
pub async fn spawn_app_with(
    configure: impl FnOnce(&mut Settings, JobRegistry) -> JobRegistry,
) -> TestApp {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    let jobs = configure(&mut settings, app::registry::standard());
    serve_on(db, settings, jobs, Secrets::generate()).await
}

/// Spawns the server with these keys instead of fresh ones (e.g. without a VAPID key, as a
/// production server without Web Push runs).
pub async fn spawn_app_with_secrets(
    configure: impl FnOnce(&mut Settings, JobRegistry) -> JobRegistry,
    secrets: Secrets,
) -> TestApp {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    let jobs = configure(&mut settings, app::registry::standard());
    serve_on(db, settings, jobs, secrets).await
}

/// Serves a server on `db` (migrated first), on a new loopback port.
async fn serve_on(db: TestDb, settings: Settings, jobs: JobRegistry, secrets: Secrets) -> TestApp {
    let store_db = store::Db::connect(&settings.db_options())
        .await
        .unwrap_or_else(|e| panic!("cannot open test database {}: {e}", db.url));
    store::migrations::run(&store_db)
        .await
        .unwrap_or_else(|e| panic!("migrations failed: {e}"));
    let metrics_bind = settings.metrics_bind;
    let app = App::new(store_db, settings, secrets, jobs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"));
    let metrics = match metrics_bind {
        Some(bind) => Some(
            tokio::net::TcpListener::bind(bind)
                .await
                .unwrap_or_else(|e| panic!("cannot bind the metrics listener {bind}: {e}")),
        ),
        None => None,
    };
    let metrics_address = metrics.as_ref().map(|listener| {
        listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"))
    });
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(web::run(app.clone(), listener, metrics, shutdown.clone()));
    // reqwest is built without a TLS provider of its own.
    app::infra::outbound::install_tls_provider();
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("cannot build an HTTP client: {e}"));
    TestApp {
        address,
        base_url: format!("http://{address}"),
        metrics_address,
        client,
        app,
        db,
        shutdown,
        server: Some(server),
    }
}

impl TestApp {
    /// A typed client of the API, without credentials; `.as_user(token)` signs it in.
    pub fn api(&self) -> ApiClient {
        ApiClient::new(self.client.clone(), self.base_url.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Where the metrics listener serves Prometheus text.
    pub fn metrics_url(&self) -> String {
        match self.metrics_address {
            Some(address) => format!("http://{address}/metrics"),
            None => panic!("this test turned the metrics listener off"),
        }
    }

    /// One scrape of the metrics listener: its status and text.
    pub async fn scrape(&self) -> (reqwest::StatusCode, String) {
        let response = self
            .client
            .get(self.metrics_url())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {} failed: {e}", self.metrics_url()));
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// Scrapes until the text holds `line` (the job gauges are counted in the background,
    /// every second in tests); panics with the last scrape after 10 s.
    pub async fn scrape_until(&self, line: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, text) = self.scrape().await;
            assert_eq!(status, 200, "{text}");
            if text.contains(line) {
                return text;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("no {line} in the metrics after 10 s:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} failed: {e}"))
    }

    pub async fn get_authed(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} failed: {e}"))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path} failed: {e}"))
    }

    /// Stops the server gracefully and waits for it (and its workers) to finish.
    /// Another node of the same deployment: a server on this one's database with the same
    /// keys, its settings adjusted by `configure` (its bus, say).
    pub async fn another_node(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.app.settings().clone();
        configure(&mut settings);
        serve_on(
            TestDb::placeholder(),
            settings,
            app::registry::standard(),
            self.app.secrets().clone(),
        )
        .await
    }

    /// Shuts the server down as `serve` does on a signal, then starts it again on the same
    /// database with the same keys (tokens stay valid), on a new port.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.app.db().close().await;
        let settings = self.app.settings().clone();
        let secrets = self.app.secrets().clone();
        let db = std::mem::replace(&mut self.db, TestDb::placeholder());
        serve_on(db, settings, app::registry::standard(), secrets).await
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.app.db().close().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Reads a response body as JSON, with the body in the panic message if it is not.
pub async fn json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"))
}

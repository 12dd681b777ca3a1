//! The real `ticketflower` binary: subcommands, configuration, secrets, and a graceful
//! shutdown under load.

use std::process::Stdio;
use std::time::Duration;

use testkit::TestDb;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_ticketflower");

pub(crate) fn command(db: &TestDb) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TICKETFLOWER_DATA_DIR", db.dir.path())
        .env("DATABASE_URL", &db.url)
        .env("TICKETFLOWER_ARGON2_MEMORY_KIB", "1024")
        .env("TICKETFLOWER_ARGON2_ITERATIONS", "1")
        .env("TICKETFLOWER_LOG_FORMAT", "json")
        // Servers run side by side here; the default 9090 would let only one start.
        .env("TICKETFLOWER_METRICS_BIND", "127.0.0.1:0")
        // The burst below signs up many companies from loopback.
        .env("TICKETFLOWER_SIGNUP_PER_IP_HOUR", "0")
        .kill_on_drop(true);
    command
}

async fn output(command: &mut Command) -> (bool, String, String) {
    let out = command.output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn version_flag_prints_the_version() {
    let db = TestDb::new().await;
    let (ok, stdout, _) = output(command(&db).arg("--version")).await;
    assert!(ok);
    assert_eq!(
        stdout.trim(),
        format!("ticketflower {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn migrate_applies_once_then_has_nothing_to_do() {
    let db = TestDb::new().await;
    let (ok, stdout, stderr) = output(command(&db).arg("migrate")).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("applied ") && !stdout.contains("applied 0"),
        "{stdout}"
    );
    let (ok, stdout, _) = output(command(&db).arg("migrate")).await;
    assert!(ok);
    assert!(stdout.contains("applied 0 migration(s)"), "{stdout}");
}

#[tokio::test]
async fn create_superuser_creates_then_resets_and_refuses_weak_passwords() {
    let db = TestDb::new().await;
    let (ok, stdout, stderr) = output(command(&db).args([
        "create-superuser",
        "--email",
        "Staff@Example.com",
        "--password",
        "a long staff passphrase",
    ]))
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("created superuser staff@example.com"),
        "{stdout}"
    );

    let (ok, stdout, _) = output(
        command(&db)
            .args(["create-superuser", "--email", "staff@example.com"])
            .env("TICKETFLOWER_SUPERUSER_PASSWORD", "another long passphrase"),
    )
    .await;
    assert!(ok);
    assert!(stdout.contains("password replaced"), "{stdout}");

    let (ok, _, stderr) = output(command(&db).args([
        "create-superuser",
        "--email",
        "weak@example.com",
        "--password",
        "password1",
    ]))
    .await;
    assert!(!ok);
    assert!(stderr.contains("password"), "{stderr}");
    assert!(stderr.contains("too common"), "{stderr}");
}

#[tokio::test]
async fn development_secrets_are_generated_once_and_kept() {
    let db = TestDb::new().await;
    let args = [
        "create-superuser",
        "--email",
        "a@example.com",
        "--password",
        "a long passphrase 1",
    ];
    assert!(output(command(&db).args(args)).await.0);
    let file = db.dir.path().join("dev-secrets.json");
    let first = std::fs::read_to_string(&file).unwrap();
    assert!(first.contains("jwt_secret"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(output(command(&db).args(args)).await.0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first);
}

#[tokio::test]
async fn production_refuses_to_start_without_secrets_and_names_the_variable() {
    let db = TestDb::new().await;
    let (ok, _, stderr) = output(
        command(&db)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("TICKETFLOWER_ENV", "production"),
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("TICKETFLOWER_JWT_SECRET"), "{stderr}");

    let (ok, _, stderr) = output(
        command(&db)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("TICKETFLOWER_ENV", "production")
            .env(
                "TICKETFLOWER_JWT_SECRET",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("TICKETFLOWER_ENCRYPTION_KEY"), "{stderr}");
    assert!(!db.dir.path().join("dev-secrets.json").exists());
}

/// A running `serve` process and the addresses it reported.
pub struct Server {
    pub child: Child,
    pub base_url: String,
    /// `http://…/metrics` on the metrics listener; `None` when it is off.
    pub metrics_url: Option<String>,
    /// The server's log lines (JSON), as it writes them.
    pub logs: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Server {
    /// Signs up company Acme with its admin `ada@acme.io`; returns the sign-up's answer.
    pub async fn sign_up(&self, client: &reqwest::Client) -> serde_json::Value {
        let response = client
            .post(format!("{}/api/v1/signup", self.base_url))
            .json(&serde_json::json!({
                "company_name": "Acme", "admin_email": "ada@acme.io",
                "admin_password": "binary passphrase 1", "admin_first_name": "A", "admin_last_name": "A",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    /// Makes the `reviewers` role and publishes the document-review bundle as `token`'s
    /// company; returns the id of its `review_request` ticket type.
    pub async fn review_type(&self, client: &reqwest::Client, token: &str) -> String {
        let url = |path: &str| format!("{}{path}", self.base_url);
        let role = client
            .post(url("/api/v1/company-roles"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "name": "reviewers", "description": "Reviewers" }))
            .send()
            .await
            .unwrap();
        assert_eq!(role.status(), 201);
        let created: serde_json::Value = client
            .post(url("/api/v1/design/bundles"))
            .bearer_auth(token)
            .header("content-type", "application/yaml")
            .body(include_str!(
                "../../../../examples/bundles/document-review.yaml"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let workflow = created["workflow_id"].as_str().unwrap();
        let published = client
            .post(url(&format!("/api/v1/design/workflows/{workflow}/publish")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(published.status(), 200);
        created["ticket_type_ids"]["review_request"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// Starts `ticketflower serve` on a free port and waits until it listens.
pub async fn start_server(db: &TestDb) -> Server {
    start(command(db)).await
}

/// The value of `"field":"…"` in a JSON log line.
fn logged<'a>(line: &'a str, field: &str) -> Option<&'a str> {
    let rest = line.split(&format!("\"{field}\":\"")).nth(1)?;
    rest.split('"').next()
}

/// Starts `serve` from `command` and waits until it reports both listeners.
pub(crate) async fn start(mut command: Command) -> Server {
    let mut child = command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let (address, metrics_address) = tokio::time::timeout(Duration::from_secs(30), async {
        let mut address = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(found) = logged(&line, "address") {
                address = Some(found.to_owned());
            } else if let Some(found) = logged(&line, "metrics_address") {
                return (address.unwrap(), Some(found.to_owned()));
            } else if line.contains("metrics listener off") {
                return (address.unwrap(), None);
            }
        }
        panic!("server exited before listening");
    })
    .await
    .expect("server did not start listening");
    // Keep draining the log so the server never blocks on a full pipe.
    let (sender, logs) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = sender.send(line);
        }
    });
    Server {
        child,
        base_url: format!("http://{address}"),
        metrics_url: metrics_address.map(|a| format!("http://{a}/metrics")),
        logs,
    }
}

#[tokio::test]
async fn the_binary_serves_metrics_on_their_own_listener_only() {
    let db = TestDb::new().await;
    let mut server = start_server(&db).await;
    app::infra::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let main_port = client
        .get(format!("{}/metrics", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(main_port.status(), 404);

    let metrics_url = server.metrics_url.clone().unwrap();
    // The job gauges are counted in the background, the first time as the server starts.
    let text = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let response = client.get(&metrics_url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            if text.contains(r#"ticketflower_jobs{status="queued"}"#) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("no job gauges in the metrics");
    assert!(
        text.lines()
            .any(|l| l.starts_with("http_requests_total{") && l.contains(r#"route="/healthz""#)),
        "{text}"
    );
    assert!(!text.contains(r#"route="/metrics""#), "{text}");

    // Both listeners close on SIGTERM.
    let pid = server.child.id().unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .expect("server did not exit after SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    assert!(client.get(&metrics_url).send().await.is_err());
}

#[tokio::test]
async fn metrics_bind_may_be_off_and_a_bad_one_stops_the_start() {
    let db = TestDb::new().await;
    let mut bad = command(&db);
    bad.args(["serve", "--bind", "127.0.0.1:0"])
        .env("TICKETFLOWER_METRICS_BIND", "localhost:nine");
    let (ok, _, stderr) = output(&mut bad).await;
    assert!(!ok);
    assert!(stderr.contains("configuration error"), "{stderr}");
    assert!(stderr.contains("METRICS_BIND"), "{stderr}");
    assert!(stderr.contains("localhost:nine"), "{stderr}");

    let mut off = command(&db);
    off.env("TICKETFLOWER_METRICS_BIND", "off");
    let mut server = start(off).await;
    assert!(server.metrics_url.is_none());
    app::infra::outbound::install_tls_provider();
    let ready = reqwest::Client::new()
        .get(format!("{}/readyz", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_burst_loses_no_acknowledged_write_and_exits_zero() {
    let db = TestDb::new().await;
    let mut server = start_server(&db).await;
    // reqwest is built without a TLS provider of its own.
    app::infra::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let mut burst = Vec::new();
    let (answered, mut first_answer) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..120 {
        let client = client.clone();
        let answered = answered.clone();
        let url = format!("{}/api/v1/signup", server.base_url);
        let email = format!("admin{n}@burst.io");
        burst.push(tokio::spawn(async move {
            let body = serde_json::json!({
                "company_name": format!("Burst {n}"), "admin_email": email,
                "admin_password": "burst passphrase 1", "admin_first_name": "B", "admin_last_name": "B",
            });
            let result = client.post(url).json(&body).send().await.map(|r| r.status());
            let _ = answered.send(());
            (email, result)
        }));
    }
    // The signal comes once the server is answering the burst, with most of it still in
    // flight (each sign-up hashes a password): a fixed delay raced a loaded machine, where
    // the signal could come before the first request was even accepted.
    tokio::time::timeout(Duration::from_secs(30), first_answer.recv())
        .await
        .expect("the burst got no answer");
    let pid = server.child.id().unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());

    let mut acknowledged = Vec::new();
    for request in burst {
        let (email, result) = request.await.unwrap();
        match result {
            Ok(status) => {
                assert_eq!(
                    status.as_u16(),
                    201,
                    "a request got {status} during shutdown"
                );
                acknowledged.push(email);
            }
            // Connections opened after the listener closed are refused: acceptable.
            Err(error) => assert!(error.is_connect() || error.is_request(), "{error}"),
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "no request was served before the shutdown"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .expect("server did not exit after SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");

    // Every acknowledged sign-up survived: its admin can log in after a restart.
    let mut again = start_server(&db).await;
    for email in &acknowledged {
        let response = client
            .post(format!("{}/api/v1/auth/login", again.base_url))
            .json(&serde_json::json!({ "email": email, "password": "burst passphrase 1" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{email} was acknowledged but lost");
    }
    again.child.start_kill().unwrap();
    let _ = again.child.wait().await;
}

/// The resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The attack that grew the server by 550 MiB a request: a user submits 1.4 MB of ticket
/// data holding 100,000 tiny objects in a field the ticket type does not declare, several at
/// once, then lists tickets. Measured on the real binary, whose memory is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_ticket_data_does_not_grow_the_servers_memory() {
    let db = TestDb::new().await;
    let mut server = start_server(&db).await;
    let pid = server.child.id().unwrap();
    app::infra::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base_url);
    let signed_up = server.sign_up(&client).await;
    let token = signed_up["access_token"].as_str().unwrap().to_owned();
    let type_id = server.review_type(&client, &token).await;
    let type_id = type_id.as_str();
    let data = |objects: usize| {
        let mut data = serde_json::json!({
            "document_url": "https://docs.example.com/plan", "summary": "plan",
        });
        if objects > 0 {
            data["blob"] = (0..objects)
                .map(|i| serde_json::json!({ "k": i }))
                .collect();
        }
        serde_json::json!({ "ticket_type_id": type_id, "data": data }).to_string()
    };
    let submit = |body: String| {
        client
            .post(url("/api/v1/tickets"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Warm up: the caches and pools a normal day fills.
    for _ in 0..20 {
        let response = submit(data(0)).await.unwrap();
        assert_eq!(response.status(), 201);
    }
    let before = rss_kib(pid);
    let attack = data(100_000);
    assert!(attack.len() > 1_000_000, "{}", attack.len());
    // Just under the server's JSON bound: parsed, then refused by the company's bounds.
    let under = data(9_000);
    for _ in 0..4 {
        let answers = futures::future::join_all(
            [&attack, &attack, &attack, &attack, &under, &under].map(|body| submit(body.clone())),
        )
        .await;
        for answer in answers {
            let status = answer.unwrap().status().as_u16();
            assert!(status == 413 || status == 422, "{status}");
        }
        for _ in 0..10 {
            let list = client
                .get(url("/api/v1/tickets?limit=200"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(list.status(), 200);
        }
    }
    let after = rss_kib(pid);
    let grown = after.saturating_sub(before) / 1024;
    eprintln!("server memory: {before} KiB before the attack, {after} KiB after");
    assert!(
        grown < 48,
        "the server grew by {grown} MiB ({before} KiB before, {after} KiB after)"
    );
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;
}

/// The access log names who acted, by company and user id, never by token.
#[tokio::test]
async fn the_request_log_names_the_company_and_the_user() {
    let db = TestDb::new().await;
    let mut server = start_server(&db).await;
    app::infra::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let signed_up = server.sign_up(&client).await;
    let token = signed_up["access_token"].as_str().unwrap();
    let me = client
        .get(format!("{}/api/v1/me", server.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let line = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let line = server.logs.recv().await.unwrap();
            if line.contains("\"path\":\"/api/v1/me\"") && line.contains("\"status\":200") {
                return line;
            }
        }
    })
    .await
    .expect("no access log line for /api/v1/me");
    let user = signed_up["user"]["id"].as_str().unwrap();
    let company = signed_up["company"]["id"].as_str().unwrap();
    assert!(line.contains(user) && line.contains(company), "{line}");
    assert!(!line.contains(token), "{line}");
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;
}

#[tokio::test]
async fn load_templates_loads_the_ten_defaults_once() {
    let db = TestDb::new().await;
    let (ok, stdout, stderr) = output(command(&db).arg("load-templates")).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("loaded 10 question template(s); 0 were already there"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = output(command(&db).arg("load-templates")).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("loaded 0 question template(s); 10 were already there"),
        "{stdout}"
    );
}

//! Property-based fuzzing of the REST API against its own OpenAPI document: schemathesis
//! (from PyPI, installed by this test into a cached virtualenv) reads `/api/openapi.json`
//! from the real server and sends generated requests, valid and invalid, to every
//! operation for a bounded time (its coverage phase, then random fuzzing). Path ids and a
//! few id fields draw from the ids of real objects (a published workflow, a ticket with its
//! tasks, an attachment, users, ...) as often as from random values, so requests get past
//! "not found". The test fails on any 5xx and on any answer the document does not describe
//! (see [`CHECKS`]), with schemathesis's report, which shows each failing request as a
//! `curl` command (`Authorization` filtered).
//!
//! It runs over SQLite, or over PostgreSQL when `TEST_DATABASE_URL` is set, like every test
//! here. Knobs (environment):
//! - `TF_FUZZ_SECONDS`: the time budget of the run (default 60);
//! - `TF_FUZZ_SEED`: the seed (default a fixed one, so CI runs are repeatable);
//! - `TF_FUZZ_CHECKS`: schemathesis's `--checks` (default [`CHECKS`]);
//! - `TF_FUZZ_REPORT_DIR`: where to write a HAR file of every request and a JUnit report;
//! - `TF_SCHEMATHESIS_VENV`: where the virtualenv lives (default
//!   `$HOME/.cache/ticketflower-schemathesis/venv-<version>`);
//! - `TF_PYTHON`: the Python that creates it (default `python3`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{TestApp, spawn_app};

use crate::common::{EXAMPLE_ROLES, PASSWORD, add_roles, create_user, login_ok, send, signup};

/// The schemathesis release the test installs (bump deliberately: new releases add checks).
const SCHEMATHESIS: &str = "4.32.5";

const DOC_REVIEW: &str = include_str!("../../../../examples/bundles/document-review.yaml");

/// Operations left out because a generated request would end the fuzzer's own session (its
/// bearer token is an access token of the fuzzing user): `POST /auth/logout` with an empty
/// body logs the presented access token out. Every other operation is fuzzed: password
/// changes need the current password, which the fuzzer never has, and ids it could block,
/// delete or revoke are random.
const EXCLUDED_PATHS: &[&str] = &["/api/v1/auth/logout"];

/// The checks: no 5xx; every answer as the document describes it (status, content type,
/// body schema, headers); 405 with `Allow` for undocumented methods; a secured operation
/// refuses a request without credentials; a required header is required. Not
/// `negative_data_rejection` nor `positive_data_acceptance`: the document cannot state the
/// business rules, so both would flag correct answers.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance,\
                      unsupported_method,allow_header_conformance,ignored_auth,\
                      missing_required_header";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn venv_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TF_SCHEMATHESIS_VENV")
        && !dir.trim().is_empty()
    {
        return PathBuf::from(dir);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    PathBuf::from(home)
        .join(".cache/ticketflower-schemathesis")
        .join(format!("venv-{SCHEMATHESIS}"))
}

/// Runs a set-up command, failing the test with its output if it does not succeed.
fn run_setup(what: &str, command: &mut std::process::Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {command:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `st` executable of a virtualenv with schemathesis `SCHEMATHESIS`, created on first
/// use. A lock file keeps two test processes from installing at once; a marker file,
/// written last, tells a finished install from an interrupted one.
fn schemathesis() -> PathBuf {
    let venv = venv_dir();
    let st = venv.join("bin/st");
    let marker = venv.join(format!(".ticketflower-installed-{SCHEMATHESIS}"));
    let parent = venv.parent().unwrap_or(Path::new("/tmp")).to_path_buf();
    std::fs::create_dir_all(&parent)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    let lock = std::fs::File::create(parent.join(".install.lock")).unwrap_or_else(|e| {
        panic!(
            "cannot create the install lock in {}: {e}",
            parent.display()
        )
    });
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", parent.display()));
    if marker.exists() && st.exists() {
        return st;
    }
    let python = env_or("TF_PYTHON", "python3");
    let found = std::process::Command::new(&python)
        .args(["-c", "import venv, ensurepip"])
        .stdin(Stdio::null())
        .output();
    match found {
        Ok(output) if output.status.success() => {}
        other => panic!(
            "The API fuzzer needs Python 3 with the venv and ensurepip modules to install \
             schemathesis {SCHEMATHESIS} from PyPI, and `{python}` cannot provide them \
             ({other:?}). Install them (Debian: `apt-get install python3 python3-venv`; \
             .ci/run does) or point TF_PYTHON at a Python 3 that has them."
        ),
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .unwrap_or_else(|e| panic!("cannot remove the unfinished {}: {e}", venv.display()));
    }
    eprintln!(
        "installing schemathesis {SCHEMATHESIS} into {} (once)",
        venv.display()
    );
    run_setup(
        "creating the schemathesis virtualenv",
        std::process::Command::new(&python)
            .arg("-m")
            .arg("venv")
            .arg(&venv),
    );
    run_setup(
        "installing schemathesis from PyPI",
        std::process::Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(format!("schemathesis=={SCHEMATHESIS}")),
    );
    assert!(st.exists(), "schemathesis installed no {}", st.display());
    std::fs::write(&marker, SCHEMATHESIS)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
    st
}

/// What the fuzzer works on: the access token of a user holding every company-level role,
/// and the ids of real objects, which `fuzz_config` offers the fuzzer beside random ones so
/// that requests get past "not found" into each operation's logic.
struct Fixture {
    token: String,
    /// Dictionary name -> ids.
    ids: Vec<(&'static str, Vec<String>)>,
}

fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

fn ids_in(map: &Value) -> Vec<String> {
    map.as_object()
        .unwrap_or_else(|| panic!("not a map of ids: {map}"))
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

async fn ok_json(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Imports the document-review bundle as a new DRAFT workflow; returns the import answer.
async fn import_review(app: &TestApp, token: &str) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/design/bundles"))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(DOC_REVIEW)
        .send()
        .await
        .unwrap();
    ok_json(response, 201).await
}

/// A company with the document-review workflow published (and a DRAFT copy), a ticket with
/// its tasks, a comment and an attachment, users in each status, an API token; and the
/// fuzzing user, who holds every company-level role (the signing admin stays the company's
/// other active admin).
async fn fixture(app: &TestApp) -> Fixture {
    let admin = signup(app, "Fuzz Ltd", "ada@fuzz.example").await;
    let token_of_admin = admin.access.clone();
    add_roles(app, &token_of_admin, &EXAMPLE_ROLES).await;
    let active = import_review(app, &token_of_admin).await;
    let workflow = active["workflow_id"].as_str().unwrap().to_owned();
    let publish = format!("/api/v1/design/workflows/{workflow}/publish");
    ok_json(
        send(app, Method::POST, &publish, &token_of_admin, None).await,
        200,
    )
    .await;
    let draft = import_review(app, &token_of_admin).await;

    let system_roles = [
        "admin",
        "ticket_admin",
        "workflow_creator",
        "task_worker",
        "user",
    ];
    let fuzzer = create_user(app, &token_of_admin, "fuzz@fuzz.example", &system_roles).await;
    let roles = json!({ "system_roles": system_roles, "company_roles": EXAMPLE_ROLES });
    let path = format!("/api/v1/users/{fuzzer}/roles");
    ok_json(
        send(app, Method::PUT, &path, &token_of_admin, Some(roles)).await,
        200,
    )
    .await;
    let token = login_ok(app, "fuzz@fuzz.example", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let worker = create_user(
        app,
        &token_of_admin,
        "uma@fuzz.example",
        &["user", "task_worker"],
    )
    .await;
    let company = ok_json(app.get_authed("/api/v1/company", &token).await, 200).await;
    let registered = app
        .post_json(
            "/api/v1/register",
            &json!({
                "company_invite_code": company["invite_code"],
                "email": "pat@fuzz.example",
                "password": PASSWORD,
                "first_name": "Pat",
                "last_name": "Pending",
            }),
        )
        .await;
    let pending = id_of(&ok_json(registered, 202).await["user"]);

    let api_token = json!({ "name": "fuzzing", "roles": ["user"] });
    let api_token = send(
        app,
        Method::POST,
        "/api/v1/api-tokens",
        &token,
        Some(api_token),
    )
    .await;
    let api_token = id_of(&ok_json(api_token, 201).await);
    let company_roles = ok_json(app.get_authed("/api/v1/company-roles", &token).await, 200).await;
    let company_roles = company_roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();

    let ticket = json!({
        "ticket_type_id": active["ticket_type_ids"]["review_request"],
        "data": { "document_url": "https://docs.example.com/plan", "summary": "Fuzzing" },
    });
    let ticket = send(app, Method::POST, "/api/v1/tickets", &token, Some(ticket)).await;
    let ticket = id_of(&ok_json(ticket, 201).await);
    let comment = json!({ "body": "A first comment" });
    let path = format!("/api/v1/tickets/{ticket}/comments");
    ok_json(
        send(app, Method::POST, &path, &token, Some(comment)).await,
        201,
    )
    .await;
    let file = reqwest::multipart::Part::bytes(b"plain text, attached".to_vec())
        .file_name("notes.txt")
        .mime_str("text/plain")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("attachments", file);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{ticket}/attachments")))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let attachments = ok_json(response, 201).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    let tasks = ok_json(app.get_authed("/api/v1/tasks", &token).await, 200).await;
    let tasks: Vec<String> = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert!(!tasks.is_empty(), "the ticket has no task to fuzz");
    let device = json!({ "platform": "android", "token": "fuzz-fcm-token", "name": "Fuzz phone" });
    let device = send(app, Method::POST, "/api/v1/devices", &token, Some(device)).await;
    let device = id_of(&ok_json(device, 201).await);

    let users = vec![admin.user_id, fuzzer, worker, pending];
    let workflows = vec![workflow, draft["workflow_id"].as_str().unwrap().to_owned()];
    let [design_tasks, transitions, ticket_types] =
        ["task_ids", "transition_ids", "ticket_type_ids"]
            .map(|key| [ids_in(&active[key]), ids_in(&draft[key])].concat());
    Fixture {
        token,
        ids: vec![
            ("users", users),
            ("company_roles", company_roles),
            ("api_tokens", vec![api_token]),
            ("workflows", workflows),
            ("design_tasks", design_tasks),
            ("transitions", transitions),
            ("ticket_types", ticket_types),
            ("tickets", vec![ticket]),
            ("attachments", attachments),
            ("tasks", tasks),
            ("devices", vec![device]),
        ],
    }
}

/// Which parameters draw from which dictionary of real ids: (operations' path regex,
/// parameter, dictionary). Each draws a real id 3 times in 4, a generated value otherwise.
const BINDINGS: &[(&str, &str, &str)] = &[
    (r"^/api/v1/users(/|$)", "path.id", "users"),
    (r"^/api/v1/users$", "query.cursor", "users"),
    (r"^/api/v1/company-roles/", "path.id", "company_roles"),
    (r"^/api/v1/api-tokens/", "path.id", "api_tokens"),
    (r"^/api/v1/design/workflows/", "path.id", "workflows"),
    (r"^/api/v1/design/tasks", "path.id", "design_tasks"),
    (r"^/api/v1/design/transitions", "path.id", "transitions"),
    (r"^/api/v1/design/ticket-types", "path.id", "ticket_types"),
    (
        r"^/api/v1/design/(tasks|transitions|ticket-types)$",
        "body.workflow_id",
        "workflows",
    ),
    (
        r"^/api/v1/design/(tasks|transitions|ticket-types|workflows)$",
        "query.workflow",
        "workflows",
    ),
    (
        r"^/api/v1/design/bundles$",
        "query.workflow_id",
        "workflows",
    ),
    (r"^/api/v1/tickets$", "body.ticket_type_id", "ticket_types"),
    (r"^/api/v1/tickets$", "query.assignee", "users"),
    (r"^/api/v1/tickets/", "path.id", "tickets"),
    (r"^/api/v1/tickets/", "path.aid", "attachments"),
    (r"^/api/v1/tasks/", "path.id", "tasks"),
    (r"^/api/v1/tasks/", "body.user_id", "users"),
    (r"^/api/v1/tasks/", "body.user_ids[*]", "users"),
    (r"^/api/v1/tasks$", "query.cursor", "tasks"),
    (r"^/api/v1/workflow-errors$", "query.ticket", "tickets"),
    (r"^/api/v1/actions/", "path.task_id", "tasks"),
    (r"^/api/v1/devices/", "path.id", "devices"),
];

/// A TOML string (basic string, escaped).
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The schemathesis configuration: the fixture's ids as dictionaries, bound per operation.
fn fuzz_config(fixture: &Fixture) -> String {
    let mut config = String::new();
    for (name, ids) in &fixture.ids {
        let values: Vec<String> = ids.iter().map(|id| toml_string(id)).collect();
        config += &format!(
            "[dictionaries.{name}]\nvalues = [{}]\n\n",
            values.join(", ")
        );
    }
    for (regex, parameter, dictionary) in BINDINGS {
        config += &format!(
            "[[operations]]\ninclude-path-regex = {}\nparameters = {{ {} = {{ dictionary = {}, probability = 0.75 }} }}\n\n",
            toml_string(regex),
            toml_string(parameter),
            toml_string(dictionary)
        );
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_openapi_document_says_under_fuzzing() {
    let st = tokio::task::spawn_blocking(schemathesis)
        .await
        .unwrap_or_else(|e| panic!("installing schemathesis panicked: {e}"));
    let app = spawn_app().await;
    let fixture = fixture(&app).await;
    let seconds: u64 = env_or("TF_FUZZ_SECONDS", "60")
        .parse()
        .expect("TF_FUZZ_SECONDS is a number of seconds");
    let seed = env_or("TF_FUZZ_SEED", "20261130");
    let workdir = tempfile_dir();
    let config = workdir.join("schemathesis.toml");
    std::fs::write(&config, fuzz_config(&fixture)).unwrap();
    let mut command = tokio::process::Command::new(&st);
    command
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(app.url("/api/openapi.json"))
        .args(["--checks", &env_or("TF_FUZZ_CHECKS", CHECKS)])
        .args(["--phases", "coverage,fuzzing"])
        .args(["--max-time", &seconds.to_string()])
        .args(["--seed", &seed])
        .args(["--workers", "1"])
        .args(["--request-timeout", "30"])
        .args(["--generation-database", "none"])
        .args(["--generation-with-security-parameters", "false"])
        .args(["--suppress-health-check", "all"])
        .args(["--output-truncate", "false"])
        .arg("--no-color")
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", fixture.token));
    for path in EXCLUDED_PATHS {
        command.args(["--exclude-path", path]);
    }
    if let Ok(dir) = std::env::var("TF_FUZZ_REPORT_DIR")
        && !dir.trim().is_empty()
    {
        command.args(["--report", "har,junit", "--report-dir", &dir]);
    }
    command
        .current_dir(&workdir)
        .env("NO_COLOR", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", st.display()));
    // `--max-time` bounds both phases; past this margin, something hangs.
    let limit = Duration::from_secs(seconds + 180);
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis did not finish within {limit:?}"))
        .unwrap_or_else(|e| panic!("schemathesis failed to run: {e}"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&workdir);
    let ran = format!(
        "schemathesis {SCHEMATHESIS} ran {:.0} s (seed {seed}) against {} over {}",
        started.elapsed().as_secs_f64(),
        app.base_url,
        app.db.url
    );
    assert!(
        output.status.success(),
        "{ran} and found answers that break the API's contract ({}); each failure shows \
         its request as a curl command:\n{report}",
        output.status,
    );
    eprintln!("{ran}:\n{report}");
    app.stop().await;
}

/// A fresh working directory for schemathesis (it may write caches or reports there).
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ticketflower-fuzz-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7()
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

//! Configuration: built-in defaults, then an optional TOML file, then `TICKETFLOWER_*`
//! environment variables (and `DATABASE_URL`); command-line flags are applied last by the
//! binary. One struct, passed around in [`crate::App`], never global.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use store::SqliteSync;

/// Development generates missing secrets; production refuses to start without them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

/// How the nodes of one deployment tell each other that events were committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// One node: the commit path tells its own hub.
    #[default]
    Local,
    /// PostgreSQL `LISTEN/NOTIFY` on the database itself (no other service).
    Postgres,
    /// A NATS server (`nats_url`).
    Nats,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Every setting, with its default in [`Settings::default`]. README lists them.
#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub env: Environment,
    /// Where the default SQLite file and development secrets live.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; default: `<data_dir>/ticketflower.db`.
    pub database_url: Option<String>,
    pub bind: SocketAddr,
    /// Where `/metrics` is served, apart from the main port so it need not be exposed with
    /// it; `None` (the value `off` or an empty one) serves no metrics at all.
    #[serde(deserialize_with = "address_or_off")]
    pub metrics_bind: Option<SocketAddr>,
    /// How often the job queue's gauges are counted from the database, in seconds; a
    /// scrape only reads the last count.
    pub metrics_refresh_secs: u64,
    /// Public base URL; when it is `https://...` responses carry HSTS.
    pub public_url: Option<String>,
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `ticketflower=debug,sqlx=warn`.
    pub log_level: String,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted `multipart/form-data` body (file uploads), in bytes.
    pub max_upload_bytes: usize,
    pub sqlite_synchronous: SqliteSync,
    pub db_max_connections: u32,
    /// Background job workers run by `serve` (0 disables them).
    pub job_workers: usize,
    /// How often idle workers look for due jobs, in milliseconds.
    pub job_poll_ms: u64,
    /// HS256 key for access tokens (base64, at least 32 bytes).
    pub jwt_secret: Option<SecretString>,
    /// AES/XChaCha key for data at rest (base64, exactly 32 bytes).
    pub encryption_key: Option<SecretString>,
    /// The VAPID key that signs Web Push requests: the raw 32-byte P-256 secret scalar,
    /// base64url. Generated in development; unset in production, Web Push is off.
    pub vapid_private_key: Option<SecretString>,
    /// Who push services may contact about our pushes (`mailto:` or `https:`); default
    /// `mailto:` and the address of `mail_from`.
    pub vapid_subject: Option<String>,
    /// argon2id cost. The defaults follow OWASP's recommendation.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Access token lifetime, seconds.
    pub access_token_secs: u64,
    /// Refresh token lifetime, seconds.
    pub refresh_token_secs: u64,
    /// Longest a server serves a request's authentication from memory before reading it
    /// again, seconds (`identity::cache`; changes of who may act apply at once anyway);
    /// 0 reads the database on every request.
    pub auth_cache_secs: u64,
    /// Failed logins for one account within `login_account_window_secs` that lock it.
    pub login_account_max_failures: usize,
    pub login_account_window_secs: u64,
    /// Failed logins from one IP address within `login_ip_window_secs` that block it.
    pub login_ip_max_failures: usize,
    pub login_ip_window_secs: u64,
    /// Outgoing mail server, as a URL: `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`. Unset: mail is written to the log.
    pub smtp_url: Option<SecretString>,
    /// The `From` of every mail.
    pub mail_from: String,
    /// Bounds of an action task's `timeout_seconds`.
    pub action_min_timeout_secs: u32,
    pub action_max_timeout_secs: u32,
    /// Calls of an action task before it goes to ERROR with an incident.
    pub action_max_attempts: u32,
    /// Hosts and networks that actions and webhooks may call although they are not public
    /// (loopback, private, link-local...): host names and CIDR networks, e.g.
    /// `127.0.0.1/32,hooks.internal`. A list in the TOML file; comma-separated in
    /// `TICKETFLOWER_OUTBOUND_ALLOWLIST`. Checked at start-up by
    /// [`crate::infra::outbound::Allowlist::parse`].
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub outbound_allowlist: Vec<String>,
    /// Values (objects, arrays, scalars) a JSON request body may hold; a body with more is
    /// refused before it is parsed, so a small body cannot become a large tree in memory.
    pub max_json_nodes: usize,
    /// Default bounds of a ticket's submitted data and of a task's output, in bytes of JSON
    /// and in values; a company may set lower or higher ones (up to the JSON body bounds).
    pub ticket_data_max_bytes: usize,
    pub ticket_data_max_nodes: usize,
    /// A connection that has not sent a whole request head within this many seconds is
    /// closed (slow-loris).
    pub header_timeout_secs: u64,
    /// A request body that sends nothing for this many seconds fails (408); long uploads
    /// that keep sending are not cut.
    pub body_timeout_secs: u64,
    /// A request (other than a file upload or a WebSocket) not answered within this many
    /// seconds is answered 503.
    pub request_timeout_secs: u64,
    /// Open connections served at once; connections beyond it are closed at once. Lowered
    /// at start-up to what the process's file descriptor limit allows.
    pub max_connections: usize,
    /// Per client address and hour: sign-ups, self-registrations, password reset requests
    /// and reset confirmations (each counted on its own). 0 disables that throttle.
    pub signup_per_ip_hour: u32,
    pub register_per_ip_hour: u32,
    pub password_reset_per_ip_hour: u32,
    /// How nodes share commit hints (`local`, `postgres`, `nats`).
    pub bus: BusKind,
    /// A NATS server (`TICKETFLOWER_NATS_URL`, e.g. `nats://127.0.0.1:4222`). Set, every
    /// committed event is published to its JetStream (`app::relay::nats`), and the `nats`
    /// bus uses it; unset, neither runs (`bus = nats` without it refuses to start).
    pub nats_url: Option<String>,
    /// The JetStream stream the events go to (created when missing, subjects
    /// `ticketflower.*.>`).
    pub nats_stream: String,
    /// Whether events are published when `nats_url` is set: `false` keeps the NATS bus's
    /// hints for a server without JetStream.
    pub nats_publish_events: bool,
    /// How often the realtime hub reads the log whatever the bus says (its safety net), ms.
    pub realtime_poll_ms: u64,
    /// The live stream pings every socket this often (keep it under a proxy's idle timeout);
    /// a client that answers nothing for three heartbeats is closed.
    pub realtime_heartbeat_secs: u64,
    /// Deliveries a socket may have waiting; one that falls further behind is closed (4008)
    /// and resumes from its cursor.
    pub realtime_queue: usize,
    /// Live sockets one user may hold open on a node, and one company.
    pub realtime_per_user: usize,
    pub realtime_per_company: usize,
    /// Pauses between attempts at a reply or event delivery, e.g. `5s,5m,30m,2h,5h,10h,10h`
    /// (the default: eight attempts over about 27.6 hours).
    pub delivery_schedule: String,
    /// Longest one delivery attempt may take, seconds.
    pub delivery_timeout_secs: u64,
    /// Failed attempts in a row that open an endpoint's circuit breaker, and how long it
    /// stays open before one probe is let through, seconds.
    pub delivery_breaker_failures: u32,
    pub delivery_breaker_secs: u64,
    /// Longest a background job may run before it counts as failed; a job whose worker died
    /// is taken up again by another after this (plus a margin).
    pub job_timeout_secs: u64,
    /// Days an error log entry is kept (the workers' minute sweep deletes older ones).
    pub error_log_retention_days: u32,
    /// Entries the error log keeps at most; the sweep deletes the oldest beyond it.
    pub error_log_max_rows: u64,
    /// How long a notification of someone online in the app waits, unread, before it is
    /// e-mailed, seconds.
    pub notify_email_delay_secs: u64,
    /// How long the e-mail of someone offline waits for more of the same ticket or
    /// conversation, so that a burst makes one digest, seconds.
    pub notify_email_coalesce_secs: u64,
    /// Mobile push through FCM HTTP v1: a Firebase service account's JSON key (with
    /// `project_id`, `client_email`, `private_key`, `token_uri`), given as the JSON itself
    /// or as the path of its file. Unset: mobile push is off (devices can still be
    /// registered; their push jobs finish without sending). Checked at start-up by
    /// [`crate::mobile_push::Fcm::from_settings`].
    pub fcm_service_account: Option<SecretString>,
    /// Where FCM's `v1/projects/{project}/messages:send` lives (tests point it at a fake).
    pub fcm_endpoint: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            env: Environment::Development,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_bind: Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
            metrics_refresh_secs: 15,
            public_url: None,
            log_format: LogFormat::Pretty,
            log_level: "info".into(),
            migrate_on_start: true,
            max_body_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 25 * 1024 * 1024,
            sqlite_synchronous: SqliteSync::Full,
            db_max_connections: 16,
            job_workers: 2,
            job_poll_ms: 1000,
            jwt_secret: None,
            encryption_key: None,
            vapid_private_key: None,
            vapid_subject: None,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            access_token_secs: 15 * 60,
            refresh_token_secs: 30 * 24 * 3600,
            auth_cache_secs: 60,
            login_account_max_failures: 5,
            login_account_window_secs: 15 * 60,
            login_ip_max_failures: 20,
            login_ip_window_secs: 5 * 60,
            smtp_url: None,
            mail_from: "TicketFlower <no-reply@localhost>".into(),
            action_min_timeout_secs: 1,
            action_max_timeout_secs: 300,
            action_max_attempts: 5,
            outbound_allowlist: Vec::new(),
            max_json_nodes: 20_000,
            ticket_data_max_bytes: 256 * 1024,
            ticket_data_max_nodes: 5_000,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            request_timeout_secs: 60,
            max_connections: 1024,
            signup_per_ip_hour: 10,
            register_per_ip_hour: 20,
            password_reset_per_ip_hour: 20,
            bus: BusKind::Local,
            nats_url: None,
            nats_stream: "TICKETFLOWER_EVENTS".into(),
            nats_publish_events: true,
            realtime_poll_ms: 1500,
            realtime_heartbeat_secs: 25,
            realtime_queue: 1024,
            realtime_per_user: 16,
            realtime_per_company: 10_000,
            delivery_schedule: "5s,5m,30m,2h,5h,10h,10h".into(),
            delivery_timeout_secs: 10,
            delivery_breaker_failures: 5,
            delivery_breaker_secs: 60,
            job_timeout_secs: 60,
            error_log_retention_days: 30,
            error_log_max_rows: 10_000,
            notify_email_delay_secs: 300,
            notify_email_coalesce_secs: 30,
            fcm_service_account: None,
            fcm_endpoint: "https://fcm.googleapis.com".into(),
        }
    }
}

/// Serializable mirror of the defaults for figment (secrets are never defaulted).
#[derive(Serialize)]
struct Defaults {
    env: Environment,
    data_dir: PathBuf,
    bind: SocketAddr,
    metrics_bind: String,
    metrics_refresh_secs: u64,
    log_format: LogFormat,
    log_level: String,
    migrate_on_start: bool,
    max_body_bytes: usize,
    max_upload_bytes: usize,
    sqlite_synchronous: &'static str,
    db_max_connections: u32,
    job_workers: usize,
    job_poll_ms: u64,
    argon2_memory_kib: u32,
    argon2_iterations: u32,
    argon2_parallelism: u32,
    access_token_secs: u64,
    refresh_token_secs: u64,
    auth_cache_secs: u64,
    login_account_max_failures: usize,
    login_account_window_secs: u64,
    login_ip_max_failures: usize,
    login_ip_window_secs: u64,
    mail_from: String,
    action_min_timeout_secs: u32,
    action_max_timeout_secs: u32,
    action_max_attempts: u32,
    outbound_allowlist: Vec<String>,
    max_json_nodes: usize,
    ticket_data_max_bytes: usize,
    ticket_data_max_nodes: usize,
    header_timeout_secs: u64,
    body_timeout_secs: u64,
    request_timeout_secs: u64,
    max_connections: usize,
    signup_per_ip_hour: u32,
    register_per_ip_hour: u32,
    password_reset_per_ip_hour: u32,
    bus: BusKind,
    nats_stream: String,
    nats_publish_events: bool,
    realtime_poll_ms: u64,
    realtime_heartbeat_secs: u64,
    realtime_queue: usize,
    realtime_per_user: usize,
    realtime_per_company: usize,
    delivery_schedule: String,
    delivery_timeout_secs: u64,
    delivery_breaker_failures: u32,
    delivery_breaker_secs: u64,
    job_timeout_secs: u64,
    error_log_retention_days: u32,
    error_log_max_rows: u64,
    notify_email_delay_secs: u64,
    notify_email_coalesce_secs: u64,
    fcm_endpoint: String,
}

/// The value of `metrics_bind` that turns the metrics listener off.
const METRICS_OFF: &str = "off";

/// Parses `metrics_bind`: an `address:port` like `bind`, or `off` (or nothing) for none.
fn address_or_off<'de, D>(deserializer: D) -> Result<Option<SocketAddr>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case(METRICS_OFF) {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is neither an address:port (e.g. 127.0.0.1:9090) nor `{METRICS_OFF}`"
        ))
    })
}

/// Accepts a list (TOML) or one comma-separated string (an environment variable), dropping
/// blank items so a trailing comma is harmless.
fn list_or_comma_separated<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    let items = match ListOrString::deserialize(deserializer)? {
        ListOrString::List(items) => items,
        ListOrString::String(text) => text.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

impl Settings {
    /// Loads defaults → `config_file` (if given) → environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let d = Settings::default();
        let defaults = Defaults {
            env: d.env,
            data_dir: d.data_dir,
            bind: d.bind,
            metrics_bind: d
                .metrics_bind
                .map_or_else(|| METRICS_OFF.to_owned(), |addr| addr.to_string()),
            metrics_refresh_secs: d.metrics_refresh_secs,
            log_format: d.log_format,
            log_level: d.log_level,
            migrate_on_start: d.migrate_on_start,
            max_body_bytes: d.max_body_bytes,
            max_upload_bytes: d.max_upload_bytes,
            sqlite_synchronous: "full",
            db_max_connections: d.db_max_connections,
            job_workers: d.job_workers,
            job_poll_ms: d.job_poll_ms,
            argon2_memory_kib: d.argon2_memory_kib,
            argon2_iterations: d.argon2_iterations,
            argon2_parallelism: d.argon2_parallelism,
            access_token_secs: d.access_token_secs,
            refresh_token_secs: d.refresh_token_secs,
            auth_cache_secs: d.auth_cache_secs,
            login_account_max_failures: d.login_account_max_failures,
            login_account_window_secs: d.login_account_window_secs,
            login_ip_max_failures: d.login_ip_max_failures,
            login_ip_window_secs: d.login_ip_window_secs,
            mail_from: d.mail_from,
            action_min_timeout_secs: d.action_min_timeout_secs,
            action_max_timeout_secs: d.action_max_timeout_secs,
            action_max_attempts: d.action_max_attempts.max(1),
            outbound_allowlist: d.outbound_allowlist,
            max_json_nodes: d.max_json_nodes,
            ticket_data_max_bytes: d.ticket_data_max_bytes,
            ticket_data_max_nodes: d.ticket_data_max_nodes,
            header_timeout_secs: d.header_timeout_secs,
            body_timeout_secs: d.body_timeout_secs,
            request_timeout_secs: d.request_timeout_secs,
            max_connections: d.max_connections,
            signup_per_ip_hour: d.signup_per_ip_hour,
            register_per_ip_hour: d.register_per_ip_hour,
            password_reset_per_ip_hour: d.password_reset_per_ip_hour,
            bus: d.bus,
            nats_stream: d.nats_stream,
            nats_publish_events: d.nats_publish_events,
            realtime_poll_ms: d.realtime_poll_ms,
            realtime_heartbeat_secs: d.realtime_heartbeat_secs,
            realtime_queue: d.realtime_queue,
            realtime_per_user: d.realtime_per_user,
            realtime_per_company: d.realtime_per_company,
            delivery_schedule: d.delivery_schedule,
            delivery_timeout_secs: d.delivery_timeout_secs,
            delivery_breaker_failures: d.delivery_breaker_failures,
            delivery_breaker_secs: d.delivery_breaker_secs,
            job_timeout_secs: d.job_timeout_secs,
            error_log_retention_days: d.error_log_retention_days,
            error_log_max_rows: d.error_log_max_rows,
            notify_email_delay_secs: d.notify_email_delay_secs,
            notify_email_coalesce_secs: d.notify_email_coalesce_secs,
            fcm_endpoint: d.fcm_endpoint,
        };
        let mut figment = Figment::from(Serialized::defaults(defaults));
        if let Some(path) = config_file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
            .merge(Env::prefixed("TICKETFLOWER_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .extract()
            .map_err(Box::new)
    }

    /// The database URL in force: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}",
                self.data_dir.join("ticketflower.db").display()
            ),
        }
    }

    pub fn db_options(&self) -> store::DbOptions {
        let mut options = store::DbOptions::new(self.database_url());
        options.max_connections = self.db_max_connections;
        options.sqlite_sync = self.sqlite_synchronous;
        options
    }

    /// The retry schedule of deliveries (checked at start-up).
    pub fn retry_schedule(
        &self,
    ) -> Result<domain::channel::RetrySchedule, domain::channel::ScheduleError> {
        self.delivery_schedule.parse()
    }

    /// Base URL for links in mail: the public URL, or the bind address.
    pub fn base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The bounds a workflow design must stay within.
    pub fn workflow_limits(&self) -> domain::workflow::Limits {
        domain::workflow::Limits {
            min_timeout_seconds: self.action_min_timeout_secs,
            max_timeout_seconds: self.action_max_timeout_secs,
            ..Default::default()
        }
    }

    /// Refuses NATS settings that cannot work: the `nats` bus without a server, a stream
    /// name JetStream would refuse.
    pub fn check_nats(&self) -> Result<(), String> {
        if self.bus == BusKind::Nats && self.nats_url().is_none() {
            return Err("bus = nats needs TICKETFLOWER_NATS_URL (the NATS server)".into());
        }
        let stream = self.nats_stream.as_str();
        let refused = |c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\');
        if stream.is_empty() || stream.len() > 64 || stream.chars().any(refused) {
            return Err(format!(
                "nats_stream {stream:?} is not a JetStream stream name (1 to 64 characters, \
                 no spaces, `.`, `*`, `>`, `/` or `\\`)"
            ));
        }
        Ok(())
    }

    /// The NATS server in use, if any: `nats_url` unless blank.
    pub fn nats_url(&self) -> Option<&str> {
        self.nats_url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }

    /// The VAPID `sub` claim: `vapid_subject`, or `mailto:` and the address of `mail_from`
    /// (the part between `<` and `>` when it has a display name).
    pub fn vapid_subject(&self) -> String {
        if let Some(subject) = self
            .vapid_subject
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            return subject.to_owned();
        }
        let from = self.mail_from.trim();
        let address = match (from.rfind('<'), from.rfind('>')) {
            (Some(open), Some(close)) if open < close => &from[open + 1..close],
            _ => from,
        };
        format!("mailto:{}", address.trim())
    }

    pub fn serves_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Allowlist {
        #[serde(deserialize_with = "list_or_comma_separated")]
        outbound_allowlist: Vec<String>,
    }

    #[test]
    fn the_outbound_allowlist_is_a_toml_list_or_a_comma_separated_variable() {
        // Parsed the way figment parses an environment variable's value.
        for (raw, expected) in [
            ("127.0.0.1/32", vec!["127.0.0.1/32"]),
            ("10.0.0.1", vec!["10.0.0.1"]),
            (
                "127.0.0.1/32, hooks.internal,,fd00::/8,",
                vec!["127.0.0.1/32", "hooks.internal", "fd00::/8"],
            ),
            ("", vec![]),
        ] {
            let value: figment::value::Value = raw.parse().unwrap();
            let parsed: Allowlist = Figment::new()
                .merge(Serialized::default("outbound_allowlist", value))
                .extract()
                .unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed.outbound_allowlist, expected, "{raw}");
        }
        let parsed: Allowlist = Figment::new()
            .merge(Toml::string(
                r#"outbound_allowlist = ["127.0.0.1/32", "hooks.internal"]"#,
            ))
            .extract()
            .unwrap();
        assert_eq!(
            parsed.outbound_allowlist,
            ["127.0.0.1/32", "hooks.internal"]
        );
    }

    #[derive(Debug, Deserialize)]
    struct MetricsBind {
        #[serde(deserialize_with = "address_or_off")]
        metrics_bind: Option<SocketAddr>,
    }

    fn metrics_bind(raw: &str) -> Result<Option<SocketAddr>, String> {
        // Parsed the way figment parses an environment variable's value.
        let value: figment::value::Value = raw.parse().unwrap();
        Figment::new()
            .merge(Serialized::default("metrics_bind", value))
            .extract::<MetricsBind>()
            .map(|parsed| parsed.metrics_bind)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_metrics_listener_takes_an_address_or_is_off() {
        assert_eq!(
            metrics_bind("0.0.0.0:9191").unwrap(),
            Some(SocketAddr::from(([0, 0, 0, 0], 9191)))
        );
        assert_eq!(
            metrics_bind("[::1]:0").unwrap(),
            Some("[::1]:0".parse().unwrap())
        );
        for off in ["off", "OFF", " off ", ""] {
            assert_eq!(metrics_bind(off).unwrap(), None, "{off:?}");
        }
        for bad in ["localhost:9090", "9090", "127.0.0.1", "127.0.0.1:99999"] {
            let error = metrics_bind(bad).unwrap_err();
            assert!(error.contains("metrics_bind"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_metrics_listener_defaults_to_loopback_9090() {
        let settings = Settings::load(None).unwrap();
        assert_eq!(
            settings.metrics_bind,
            Some(SocketAddr::from(([127, 0, 0, 1], 9090)))
        );
        assert_eq!(settings.metrics_refresh_secs, 15);
    }

    #[test]
    fn the_nats_bus_needs_a_url_and_the_stream_a_name_jetstream_takes() {
        let settings = Settings::load(None).unwrap();
        assert_eq!(
            settings.nats_url(),
            None,
            "no NATS, no publisher, by default"
        );
        assert_eq!(settings.check_nats(), Ok(()));
        let bus = Settings {
            bus: BusKind::Nats,
            ..Settings::default()
        };
        assert!(
            bus.check_nats()
                .unwrap_err()
                .contains("TICKETFLOWER_NATS_URL")
        );
        let blank = Settings {
            nats_url: Some("  ".into()),
            ..bus.clone()
        };
        assert!(blank.check_nats().is_err());
        let with_url = Settings {
            nats_url: Some("nats://127.0.0.1:4222".into()),
            ..bus
        };
        assert_eq!(with_url.check_nats(), Ok(()));
        for bad in ["", "ticketflower.events", "a b", "events>", "a/b"] {
            let settings = Settings {
                nats_stream: bad.into(),
                ..Settings::default()
            };
            assert!(
                settings.check_nats().unwrap_err().contains("nats_stream"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_vapid_subject_defaults_to_the_mail_from_address() {
        let mut settings = Settings::default();
        assert_eq!(settings.vapid_subject(), "mailto:no-reply@localhost");
        settings.mail_from = "desk@acme.io".into();
        assert_eq!(settings.vapid_subject(), "mailto:desk@acme.io");
        settings.vapid_subject = Some("https://acme.io/contact".into());
        assert_eq!(settings.vapid_subject(), "https://acme.io/contact");
    }

    #[test]
    fn the_outbound_allowlist_defaults_to_empty() {
        let settings = Settings::load(None).unwrap();
        assert!(settings.outbound_allowlist.is_empty());
    }
}

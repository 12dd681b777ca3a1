//! Mobile push through FCM HTTP v1, and the registry of the devices it reaches (issue 19).
//!
//! FCM's legacy API (a server key in a header), which the support-chat service used, was
//! shut down in 2024; v1 authenticates with OAuth 2.0. The operator gives a Firebase
//! service account's JSON key; [`Fcm`] signs a JWT with its RSA key (RS256: iss = the
//! account, scope = firebase.messaging, aud = its `token_uri`, one hour), trades it at
//! `token_uri` for an access token and keeps that in memory until a minute before it
//! expires, so a burst of pushes costs one token request. One mutex guards the cache and
//! the minting, so workers that find it empty at once mint one token between them. A 401
//! from FCM (a token revoked early) drops the cached token and the send is tried once more
//! with a fresh one.
//!
//! Each push to each device is one `notify.mobile` job, so a slow or failing device never
//! holds up another, and every delivery retries on its own with a visible reason: the
//! device row keeps its last success and its last error, the job its own last error. FCM
//! saying the token is dead (404, or `UNREGISTERED`) prunes the device; 429 and 5xx retry
//! when `Retry-After` says, or with the queue's back-off; any other refusal is permanent.
//!
//! The FCM and token URLs are the operator's, never a tenant's, so they go through a client
//! of their own rather than `infra::outbound`, whose guard against private addresses exists
//! for tenant-written URLs (and would refuse an operator's internal proxy or the tests'
//! loopback fake). The client still follows no redirect, so the bearer token goes nowhere
//! but where it was meant to.
//!
//! What a push carries is [`domain::notification::Push`]: a title and a link, nothing
//! private. The token of a device is a credential to reach a phone: it is never logged nor
//! shown back.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::auth::{Actor, ActorKind};
use domain::device::{Device, Platform, Registration};
use domain::job::{Job, NewJob};
use domain::notification::Push;
use domain::{CompanyId, DeviceId, UserId, ValidationErrors};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use crate::infra::jobs::JobError;
use crate::{App, AppError, Result, Settings};

/// The job that sends one push to one device.
pub const JOB_KIND: &str = "notify.mobile";
/// What the access token may do: send messages, nothing else of the Firebase project.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The assertion's lifetime; Google accepts at most an hour.
const ASSERTION_SECS: i64 = 3600;
/// A cached access token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an FCM error is kept: its status and message, not a whole page.
const ERROR_MAX_CHARS: usize = 300;
/// Largest response read from FCM or the token endpoint.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The fields of a service account's JSON key that push needs.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: SecretString,
    #[serde(default)]
    private_key_id: Option<String>,
    token_uri: String,
}

/// The FCM settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FcmConfigError {
    #[error(
        "TICKETFLOWER_FCM_SERVICE_ACCOUNT names the file {path}, which cannot be read: {source}"
    )]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TICKETFLOWER_FCM_SERVICE_ACCOUNT is not a service account's JSON key: {0}")]
    Json(String),
    #[error("TICKETFLOWER_FCM_SERVICE_ACCOUNT has an empty {0}")]
    Empty(&'static str),
    #[error(
        "the private_key of TICKETFLOWER_FCM_SERVICE_ACCOUNT is not an RSA private key in PEM (PKCS#8 or PKCS#1)"
    )]
    Key,
    #[error("{field} is not an http(s) URL: {reason}")]
    Url { field: &'static str, reason: String },
    #[error("cannot build the FCM HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// An access token and when to stop using it.
struct AccessToken {
    value: SecretString,
    renew_at: Instant,
}

/// The configured FCM project: its service account's signing key, the token endpoint, the
/// send endpoint and the cached access token.
pub struct Fcm {
    project_id: String,
    client_email: String,
    key_id: Option<String>,
    key: EncodingKey,
    token_uri: Url,
    send_url: Url,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

impl std::fmt::Debug for Fcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fcm")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("send_url", &self.send_url.as_str())
            .finish_non_exhaustive()
    }
}

fn http_url(field: &'static str, text: &str) -> Result<Url, FcmConfigError> {
    let url = Url::parse(text.trim()).map_err(|e| FcmConfigError::Url {
        field,
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(FcmConfigError::Url {
            field,
            reason: "needs http:// or https:// and a host".into(),
        });
    }
    Ok(url)
}

/// The PEM private key as the DER jsonwebtoken signs with (PKCS#1). Google's keys are
/// PKCS#8 (`BEGIN PRIVATE KEY`); PKCS#1 (`BEGIN RSA PRIVATE KEY`) is accepted too.
fn signing_key(pem: &str) -> Result<EncodingKey, FcmConfigError> {
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
    use rsa::pkcs8::DecodePrivateKey;
    let pem = pem.trim();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| FcmConfigError::Key)?;
    let der = key.to_pkcs1_der().map_err(|_| FcmConfigError::Key)?;
    Ok(EncodingKey::from_rsa_der(der.as_bytes()))
}

/// The JWT a service account presents at its token endpoint.
#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    expires_in: Option<u64>,
}

/// How one send went.
#[derive(Debug)]
enum Sent {
    Delivered,
    /// FCM no longer knows the token: the device is gone.
    Unregistered(String),
    Failed(Failure),
}

/// A failed send or token request: why, and whether to try again.
#[derive(Debug)]
struct Failure {
    error: String,
    again: Again,
}

#[derive(Debug)]
enum Again {
    Never,
    /// With the queue's back-off.
    Later,
    /// When the server said (`Retry-After`).
    At(DateTime<Utc>),
}

impl Failure {
    fn later(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            again: Again::Later,
        }
    }
}

/// A response's status, `Retry-After` and (bounded) body.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

async fn read_answer(mut response: reqwest::Response) -> std::result::Result<Answer, String> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::infra::outbound::retry_after);
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room < chunk.len() {
                    break;
                }
            }
            Ok(None) => break,
            Err(error) => return Err(format!("the answer broke off: {}", without_url(&error))),
        }
    }
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// A reqwest error's text without the URL it names (the send URL names the project).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut cause = std::error::Error::source(error);
    let mut deepest = None;
    while let Some(inner) = cause {
        deepest = Some(inner.to_string());
        cause = inner.source();
    }
    match deepest {
        Some(why) => format!("{kind} ({why})"),
        None => kind.to_owned(),
    }
}

/// FCM's error document: `{"error": {"code", "message", "status", "details": [{"errorCode"}]}}`.
#[derive(Deserialize, Default)]
struct FcmError {
    #[serde(default)]
    error: FcmErrorBody,
}

#[derive(Deserialize, Default)]
struct FcmErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<FcmErrorDetail>,
}

#[derive(Deserialize)]
struct FcmErrorDetail {
    #[serde(rename = "errorCode", default)]
    error_code: Option<String>,
}

impl FcmErrorBody {
    fn code(&self) -> Option<&str> {
        self.details.iter().find_map(|d| d.error_code.as_deref())
    }

    /// `FCM answered 429 (QUOTA_EXCEEDED): the message`, cut short.
    fn describe(&self, status: u16) -> String {
        let code = self
            .code()
            .or(Some(self.status.as_str()).filter(|s| !s.is_empty()));
        let mut text = match code {
            Some(code) => format!("FCM answered {status} ({code})"),
            None => format!("FCM answered {status}"),
        };
        if !self.message.is_empty() {
            text.push_str(": ");
            text.push_str(&self.message);
        }
        text.chars().take(ERROR_MAX_CHARS).collect()
    }
}

fn retry_at(wait: Option<Duration>) -> Again {
    match wait {
        Some(wait) => {
            let wait = chrono::Duration::from_std(wait.min(crate::infra::jobs::MAX_RETRY_AFTER))
                .unwrap_or_default();
            Again::At(Utc::now() + wait)
        }
        None => Again::Later,
    }
}

impl Fcm {
    /// `None` when no service account is configured (mobile push is off). The binary calls
    /// this at start-up, so a key that cannot be read or used stops the server instead of
    /// failing every push later.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, FcmConfigError> {
        let Some(configured) = &settings.fcm_service_account else {
            return Ok(None);
        };
        let configured = configured.expose_secret().trim();
        if configured.is_empty() {
            return Ok(None);
        }
        let text = if configured.starts_with('{') {
            SecretString::from(configured.to_owned())
        } else {
            std::fs::read_to_string(configured)
                .map(SecretString::from)
                .map_err(|source| FcmConfigError::Read {
                    path: configured.to_owned(),
                    source,
                })?
        };
        let account: ServiceAccount = serde_json::from_str(text.expose_secret())
            .map_err(|e| FcmConfigError::Json(json_error(&e)))?;
        for (field, value) in [
            ("project_id", &account.project_id),
            ("client_email", &account.client_email),
            ("token_uri", &account.token_uri),
        ] {
            if value.trim().is_empty() {
                return Err(FcmConfigError::Empty(field));
            }
        }
        let key = signing_key(account.private_key.expose_secret())?;
        let token_uri = http_url("the service account's token_uri", &account.token_uri)?;
        let mut send_url = http_url("TICKETFLOWER_FCM_ENDPOINT", &settings.fcm_endpoint)?;
        let base = send_url.path().trim_end_matches('/').to_owned();
        send_url.set_path(&format!(
            "{base}/v1/projects/{}/messages:send",
            url::form_urlencoded::byte_serialize(account.project_id.trim().as_bytes())
                .collect::<String>()
        ));
        crate::infra::outbound::install_tls_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("TicketFlower/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(FcmConfigError::Client)?;
        let fcm = Self {
            project_id: account.project_id.trim().to_owned(),
            client_email: account.client_email.trim().to_owned(),
            key_id: account.private_key_id.filter(|id| !id.trim().is_empty()),
            key,
            token_uri,
            send_url,
            http,
            token: tokio::sync::Mutex::new(None),
        };
        // Signing once proves the key signs, not only that it parses.
        fcm.assertion(Utc::now()).map_err(|_| FcmConfigError::Key)?;
        Ok(Some(fcm))
    }

    /// The project messages go to.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    fn assertion(&self, now: DateTime<Utc>) -> jsonwebtoken::errors::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        let iat = now.timestamp();
        let claims = Assertion {
            iss: &self.client_email,
            scope: SCOPE,
            aud: self.token_uri.as_str(),
            iat,
            exp: iat + ASSERTION_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }

    /// The cached access token, or a new one when there is none or it is about to expire.
    async fn access_token(&self) -> std::result::Result<SecretString, Failure> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let token = self.mint().await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Forgets the cached token if it is still `stale` (another worker may have renewed it).
    async fn forget(&self, stale: &SecretString) {
        let mut cached = self.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == stale.expose_secret())
        {
            *cached = None;
        }
    }

    #[tracing::instrument(name = "fcm.token", skip_all)]
    async fn mint(&self) -> std::result::Result<AccessToken, Failure> {
        let assertion = self.assertion(Utc::now()).map_err(|e| Failure {
            error: format!("cannot sign the OAuth assertion: {e}"),
            again: Again::Never,
        })?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", GRANT_TYPE)
            .append_pair("assertion", &assertion)
            .finish();
        let started = Instant::now();
        let response = self
            .http
            .post(self.token_uri.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                Failure::later(format!(
                    "cannot get an FCM access token: {}",
                    without_url(&e)
                ))
            })?;
        let answer = read_answer(response)
            .await
            .map_err(|e| Failure::later(format!("cannot get an FCM access token: {e}")))?;
        if answer.status != 200 {
            // An OAuth error names itself (`invalid_grant`); a refused key stays refused
            // until the operator changes it, which the back-off leaves time for.
            let reason = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            let error = format!(
                "the token endpoint answered {}{reason}: no FCM access token",
                answer.status
            );
            return Err(match answer.status {
                429 | 500.. => Failure {
                    error,
                    again: retry_at(answer.retry_after),
                },
                _ => Failure::later(error),
            });
        }
        let token: TokenAnswer = serde_json::from_slice(&answer.body).map_err(|_| {
            Failure::later("the token endpoint's answer holds no access_token".to_string())
        })?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        tracing::debug!(expires_in = lifetime.as_secs(), "FCM access token minted");
        Ok(AccessToken {
            value: token.access_token,
            renew_at: started + lifetime.saturating_sub(REFRESH_MARGIN),
        })
    }

    /// Sends `push` to the device holding `token`; a 401 renews the access token once.
    async fn send(&self, token: &str, push: &Push) -> Sent {
        let message = json!({
            "message": {
                "token": token,
                "notification": { "title": push.title },
                "data": {
                    "kind": push.kind,
                    "url": push.url,
                    "notification_id": push.notification_id.map(|id| id.to_string()).unwrap_or_default(),
                },
            }
        });
        let mut renewed = false;
        loop {
            let access = match self.access_token().await {
                Ok(access) => access,
                Err(failure) => return Sent::Failed(failure),
            };
            let response = self
                .http
                .post(self.send_url.clone())
                .bearer_auth(access.expose_secret())
                .json(&message)
                .send()
                .await;
            let answer = match response {
                Ok(response) => read_answer(response).await,
                Err(error) => Err(format!("cannot reach FCM: {}", without_url(&error))),
            };
            let answer = match answer {
                Ok(answer) => answer,
                Err(error) => return Sent::Failed(Failure::later(error)),
            };
            if answer.status == 401 && !renewed {
                self.forget(&access).await;
                renewed = true;
                continue;
            }
            return judge(answer);
        }
    }
}

/// What FCM's answer to a send means.
fn judge(answer: Answer) -> Sent {
    if (200..300).contains(&answer.status) {
        return Sent::Delivered;
    }
    let error = serde_json::from_slice::<FcmError>(&answer.body)
        .unwrap_or_default()
        .error;
    let text = error.describe(answer.status);
    if answer.status == 404 || error.code() == Some("UNREGISTERED") {
        return Sent::Unregistered(text);
    }
    let again = match answer.status {
        429 | 500.. => retry_at(answer.retry_after),
        // Our credentials, refused twice: the operator's to fix; try again later.
        401 | 403 => Again::Later,
        _ => Again::Never,
    };
    Sent::Failed(Failure { error: text, again })
}

/// A JSON error's kind and place, without quoting what it read (the key is secret).
fn json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return format!("it has no {field}");
    }
    format!(
        "{:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    )
    .to_lowercase()
}

// ---- The job

/// What a `notify.mobile` job carries.
#[derive(Serialize, Deserialize)]
struct Delivery {
    device_id: DeviceId,
    push: Push,
}

/// Queues one `notify.mobile` job per device of `user`, in the caller's transaction; how
/// many. The notification pipeline calls it for each notification that goes to mobile push.
pub async fn enqueue(
    tx: &mut store::Tx,
    company: CompanyId,
    user: UserId,
    push: &Push,
) -> Result<usize> {
    let devices = store::devices::list(&mut *tx, company, user).await?;
    for device in &devices {
        queue(tx, company, device.id, push).await?;
    }
    Ok(devices.len())
}

async fn queue(
    tx: &mut store::Tx,
    company: CompanyId,
    device: DeviceId,
    push: &Push,
) -> Result<()> {
    let payload = serde_json::to_value(Delivery {
        device_id: device,
        push: push.clone(),
    })
    .map_err(AppError::internal)?;
    store::jobs::enqueue(tx, NewJob::new(JOB_KIND, payload).company(company)).await?;
    Ok(())
}

/// The `notify.mobile` job: one push to one device. Its span names the device by id,
/// never by token.
#[tracing::instrument(name = "notify.mobile", skip_all, fields(job.id = %job.id, device.id = tracing::field::Empty))]
pub async fn deliver(app: App, job: Job) -> std::result::Result<(), JobError> {
    let delivery: Delivery = serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::Permanent(format!("unreadable notify.mobile payload: {e}")))?;
    let company = job
        .company_id
        .ok_or_else(|| JobError::Permanent("notify.mobile job without a company".into()))?;
    tracing::Span::current().record("device.id", tracing::field::display(delivery.device_id));
    let Some(fcm) = app.fcm() else {
        tracing::info!("mobile push is off (no FCM service account): push skipped");
        return Ok(());
    };
    let retry = |e: store::StoreError| JobError::Retry(e.to_string());
    let Some(device) = store::devices::find(app.db(), company, delivery.device_id)
        .await
        .map_err(retry)?
    else {
        // Removed since the push was queued: nobody to tell.
        return Ok(());
    };
    match fcm.send(&device.token, &delivery.push).await {
        Sent::Delivered => {
            store::devices::record_success(app.db(), company, device.id, Utc::now())
                .await
                .map_err(retry)?;
            Ok(())
        }
        Sent::Unregistered(why) => {
            let pruned = store::devices::remove(app.db(), company, device.id, &device.token)
                .await
                .map_err(retry)?;
            tracing::info!(pruned, %why, "FCM no longer knows the device's token: device removed");
            Ok(())
        }
        Sent::Failed(failure) => {
            store::devices::record_error(app.db(), company, device.id, &failure.error, Utc::now())
                .await
                .map_err(retry)?;
            Err(match failure.again {
                Again::Never => JobError::Permanent(failure.error),
                Again::Later => JobError::Retry(failure.error),
                Again::At(at) => JobError::RetryAt {
                    at,
                    error: failure.error,
                },
            })
        }
    }
}

// ---- The device registry

/// A device as its owner sees it (the token is not shown back).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub id: DeviceId,
    pub platform: Platform,
    pub name: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When FCM last accepted a push for it.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last failed push failed (FCM's status and message).
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

impl From<Device> for DeviceView {
    fn from(device: Device) -> Self {
        Self {
            id: device.id,
            platform: device.platform,
            name: device.name,
            created_at: device.created_at,
            last_success_at: device.last_success_at,
            last_error: device.last_error,
            last_error_at: device.last_error_at,
        }
    }
}

/// Devices one person may hold: each notification is a job per device, so a person cannot
/// make one notification cost thousands of sends.
pub const MAX_DEVICES: usize = 20;

/// A registration's outcome: the device, and whether it is new to this person.
pub struct Registered {
    pub device: DeviceView,
    pub created: bool,
}

/// Devices are a person's: any signed-in person of a company, not an integration's token
/// (its service user has no phone).
fn owner(actor: &Actor) -> Result<(CompanyId, UserId)> {
    let company = crate::access::company_of(actor)?;
    if actor.kind == ActorKind::ApiToken {
        return Err(AppError::Forbidden(
            "devices belong to people; an API token has none".into(),
        ));
    }
    Ok((company, actor.user_id))
}

/// Registers the phone's FCM token for the person signed in. A token they registered
/// before is updated (`created: false`); one registered by someone else moves to them. A
/// person holds at most [`MAX_DEVICES`]; staff impersonating them register none.
pub async fn register(
    app: &App,
    actor: &Actor,
    platform: &str,
    token: &str,
    name: Option<&str>,
) -> Result<Registered> {
    let (company, user) = owner(actor)?;
    if actor.impersonator.is_some() {
        // The person's notifications would go to the staff member's phone.
        return Err(AppError::Forbidden(
            "a device cannot be registered while impersonating".into(),
        ));
    }
    let registration = Registration::parse(platform, token, name)?;
    let mut tx = app.db().begin().await?;
    let mine = store::devices::list(&mut tx, company, user).await?;
    if mine.len() >= MAX_DEVICES && !mine.iter().any(|d| d.token == registration.token) {
        return Err(ValidationErrors::single(
            "token",
            format!(
                "you have {MAX_DEVICES} devices registered, the most allowed: remove one first"
            ),
        )
        .into());
    }
    let (device, created) = store::devices::register(&mut tx, company, user, &registration).await?;
    app.commit(tx).await?;
    Ok(Registered {
        device: device.into(),
        created,
    })
}

/// The person's own devices, newest first.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<DeviceView>> {
    let (company, user) = owner(actor)?;
    Ok(store::devices::list(app.db(), company, user)
        .await?
        .into_iter()
        .map(DeviceView::from)
        .collect())
}

/// Removes one of the person's devices; anyone else's is not found.
pub async fn delete(app: &App, actor: &Actor, id: DeviceId) -> Result<()> {
    let (company, user) = owner(actor)?;
    let mut tx = app.db().begin().await?;
    store::devices::delete(&mut tx, company, user, id).await?;
    app.commit(tx).await
}

/// Queues a test push to one of the person's devices; its outcome shows on the device.
pub async fn send_test(app: &App, actor: &Actor, id: DeviceId) -> Result<()> {
    let (company, user) = owner(actor)?;
    let push = Push {
        notification_id: None,
        kind: "test".into(),
        title: "Test notification from TicketFlower".into(),
        url: "/profile".into(),
    };
    let mut tx = app.db().begin().await?;
    store::devices::get(&mut tx, company, user, id).await?;
    queue(&mut tx, company, id, &push).await?;
    app.commit(tx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: serde_json::Value, retry_after: Option<u64>) -> Answer {
        Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn fcm_answers_are_judged_by_status_and_error_code() {
        assert!(matches!(
            judge(answer(200, json!({"name": "projects/p/messages/1"}), None)),
            Sent::Delivered
        ));
        assert!(matches!(
            judge(answer(404, json!({}), None)),
            Sent::Unregistered(_)
        ));
        let unregistered = json!({"error": {"code": 400, "message": "gone", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}});
        assert!(matches!(
            judge(answer(400, unregistered, None)),
            Sent::Unregistered(_)
        ));
        let Sent::Failed(quota) = judge(answer(
            429,
            json!({"error": {"message": "slow down", "details": [{"errorCode": "QUOTA_EXCEEDED"}]}}),
            Some(30),
        )) else {
            panic!("a 429 is a failure")
        };
        assert_eq!(quota.error, "FCM answered 429 (QUOTA_EXCEEDED): slow down");
        assert!(
            matches!(quota.again, Again::At(at) if at > Utc::now() + chrono::Duration::seconds(25))
        );
        let Sent::Failed(unavailable) = judge(answer(503, json!("down"), None)) else {
            panic!("a 503 is a failure")
        };
        assert!(matches!(unavailable.again, Again::Later));
        let Sent::Failed(invalid) = judge(answer(
            400,
            json!({"error": {"status": "INVALID_ARGUMENT", "message": "bad"}}),
            None,
        )) else {
            panic!("a 400 is a failure")
        };
        assert!(matches!(invalid.again, Again::Never));
        assert_eq!(invalid.error, "FCM answered 400 (INVALID_ARGUMENT): bad");
    }

    #[test]
    fn a_long_retry_after_is_cut() {
        let Again::At(at) = retry_at(Some(Duration::from_secs(10 * 24 * 3600))) else {
            panic!()
        };
        assert!(at <= Utc::now() + chrono::Duration::hours(6));
    }

    #[test]
    fn unusable_service_accounts_are_refused_with_the_reason() {
        let settings = |account: &str| Settings {
            fcm_service_account: Some(SecretString::from(account.to_owned())),
            ..Settings::default()
        };
        assert!(matches!(Fcm::from_settings(&Settings::default()), Ok(None)));
        let error = Fcm::from_settings(&settings("{\"project_id\": \"p\"}")).unwrap_err();
        assert!(error.to_string().contains("no client_email"), "{error}");
        let error = Fcm::from_settings(&settings(
            r#"{"project_id": "p", "client_email": "a@p.iam", "token_uri": "https://oauth2.googleapis.com/token",
                "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"}"#,
        ))
        .unwrap_err();
        assert!(matches!(error, FcmConfigError::Key), "{error}");
        let error = Fcm::from_settings(&settings("/no/such/service-account.json")).unwrap_err();
        assert!(matches!(error, FcmConfigError::Read { .. }), "{error}");
    }

    /// The testkit's service account key (the app cannot depend on the testkit).
    const TEST_KEY: &str = include_str!("../../testkit/src/fcm_test_key.pem");

    #[test]
    fn a_service_account_is_read_from_its_json_or_its_file() {
        let account = json!({
            "type": "service_account", "project_id": "tf-test", "private_key_id": "k1",
            "private_key": TEST_KEY, "client_email": "push@tf-test.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string();
        let inline = Settings {
            fcm_service_account: Some(SecretString::from(format!("  {account}\n"))),
            fcm_endpoint: "http://127.0.0.1:9/fcm/".into(),
            ..Settings::default()
        };
        let fcm = Fcm::from_settings(&inline).unwrap().unwrap();
        assert_eq!(fcm.project_id(), "tf-test");
        assert_eq!(
            fcm.send_url.as_str(),
            "http://127.0.0.1:9/fcm/v1/projects/tf-test/messages:send"
        );
        let path = std::env::temp_dir().join(format!("tf-fcm-{}.json", uuid::Uuid::now_v7()));
        std::fs::write(&path, &account).unwrap();
        let from_file = Settings {
            fcm_service_account: Some(SecretString::from(path.display().to_string())),
            ..Settings::default()
        };
        let fcm = Fcm::from_settings(&from_file).unwrap().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            fcm.send_url.as_str(),
            "https://fcm.googleapis.com/v1/projects/tf-test/messages:send"
        );
        let bad_endpoint = Settings {
            fcm_endpoint: "fcm.googleapis.com".into(),
            ..inline
        };
        let error = Fcm::from_settings(&bad_endpoint).unwrap_err();
        assert!(
            error.to_string().contains("TICKETFLOWER_FCM_ENDPOINT"),
            "{error}"
        );
    }
}

//! The one HTTP client for calls TicketFlower makes on a tenant's behalf: action tasks and
//! webhooks. The URLs come from tenants, so every call is treated as hostile: no redirects,
//! no proxies, and a guard that refuses loopback, private, link-local and other
//! non-public addresses unless the operator's allowlist names them.
//!
//! The guard runs on the addresses a name resolves to, inside the connector, so the address
//! checked is the address connected to: a name that resolves to a public address when a
//! workflow is saved and to 127.0.0.1 when it runs (DNS rebinding) is still refused.

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::RngCore;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::redirect;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use url::{Host, Url};
use uuid::Uuid;

/// Largest response body accepted from a receiver.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// How much of a failed response's body is kept for the error, for the task's log.
const STATUS_SNIPPET_BYTES: usize = 512;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = concat!("TicketFlower/", env!("CARGO_PKG_VERSION"));

/// Why an outbound call failed. [`OutboundError::is_temporary`] tells a retrying caller
/// whether another attempt may succeed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// Every address of the host is one the guard refuses, and the allowlist does not name it.
    #[error("calls to {host} are not allowed: it is not a public address")]
    Forbidden { host: String },
    /// The URL is malformed, not http(s), or has no host. The URL itself is left out of the
    /// message because webhook URLs often carry a token.
    #[error("invalid URL: {reason}")]
    InvalidUrl { reason: String },
    #[error("the receiver did not answer in time")]
    Timeout,
    /// Could not connect (including a failed DNS lookup), or the connection broke before
    /// the whole response arrived.
    #[error("cannot reach {host}")]
    Connect {
        host: String,
        #[source]
        source: reqwest::Error,
    },
    /// The receiver answered with a status other than 2xx; redirects land here too, as
    /// they are never followed.
    #[error("the receiver answered {code}")]
    Status { code: u16, body: String },
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// A 2xx response whose body is unusable.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the response is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the response is not JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
}

impl OutboundError {
    /// Whether the same call may succeed later: timeouts, connection failures, 5xx, 408 and
    /// 429 may; refusals, bad URLs, other 4xx, redirects and unusable bodies will not.
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Timeout | Self::Connect { .. } => true,
            Self::Status { code, .. } => *code >= 500 || *code == 408 || *code == 429,
            Self::Forbidden { .. } | Self::InvalidUrl { .. } | Self::Body(_) => false,
        }
    }
}

/// Why the client could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum OutboundConfigError {
    #[error(
        "TICKETFLOWER_OUTBOUND_ALLOWLIST entry {entry:?} is neither a host name, an IP address nor a CIDR network"
    )]
    AllowlistEntry { entry: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Makes ring the process's rustls provider. reqwest is built without a provider of its own
/// (its default, aws-lc, needs cmake to build), so every process must call this before it
/// builds any reqwest client, or reqwest panics; [`OutboundClient::new`] calls it.
/// Calling it again, or after another provider was installed, does nothing.
pub fn install_tls_provider() {
    // An error only means a provider is already installed, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The operator's exceptions to the address guard: host names (exact, case-insensitive)
/// and IP networks, e.g. `127.0.0.1/32` for a receiver on the same machine.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

impl Allowlist {
    /// Parses the entries of `TICKETFLOWER_OUTBOUND_ALLOWLIST`; a bare address counts as
    /// its single-address network. Run at start-up so a typo stops the server rather than
    /// silently allowing nothing.
    pub fn parse(entries: &[String]) -> Result<Self, OutboundConfigError> {
        let mut allowlist = Self::default();
        for entry in entries {
            let trimmed = entry.trim();
            if let Ok(net) = trimmed.parse::<IpNet>() {
                allowlist.nets.push(net.trunc());
            } else if let Ok(ip) = trimmed.parse::<IpAddr>() {
                allowlist.nets.push(IpNet::from(ip));
            } else {
                // `Host::parse` applies the same normalisation (lowercase, punycode) as the
                // URLs it will be compared with.
                match Host::parse(trimmed) {
                    Ok(Host::Domain(name)) if is_host_name(&name) => allowlist.hosts.push(name),
                    _ => {
                        return Err(OutboundConfigError::AllowlistEntry {
                            entry: entry.clone(),
                        });
                    }
                }
            }
        }
        Ok(allowlist)
    }

    fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        !is_forbidden(ip)
            || self
                .nets
                .iter()
                .any(|net| net.contains(&ip) || net.contains(&ip.to_canonical()))
    }
}

fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Networks that are not globally reachable (IANA's special-purpose registries): calls
/// there would reach the server's own machine, its private network or cloud metadata.
const FORBIDDEN_V4: &[Ipv4Net] = &[
    Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10),
    Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16),
    Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 0, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 88, 99, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16),
    Ipv4Net::new_assert(Ipv4Addr::new(198, 18, 0, 0), 15),
    Ipv4Net::new_assert(Ipv4Addr::new(198, 51, 100, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 0), 24),
    // Multicast, then reserved up to and including the broadcast address.
    Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4),
    Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4),
];

const FORBIDDEN_V6: &[Ipv6Net] = &[
    // Unspecified, loopback and the deprecated IPv4-compatible addresses.
    Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 96),
    // Local-use NAT64 (the well-known NAT64 prefix is judged by the address it embeds).
    Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),
    // Discard-only.
    Ipv6Net::new_assert(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
    // Teredo, whose relays would reach an IPv4 address of the tunnel's choosing.
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),
    // Benchmarking.
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48),
    // Documentation.
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    Ipv6Net::new_assert(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
    // Unique local.
    Ipv6Net::new_assert(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    // Link-local and the deprecated site-local.
    Ipv6Net::new_assert(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
    Ipv6Net::new_assert(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
    // Multicast.
    Ipv6Net::new_assert(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
];

const NAT64: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
const SIX_TO_FOUR: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

/// Whether the guard refuses `ip` (before the allowlist is consulted). IPv6 forms that
/// carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address, since that is
/// where the packets end up.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => FORBIDDEN_V4.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            if NAT64.contains(&v6) {
                return is_forbidden(IpAddr::V4(Ipv4Addr::from(
                    (u32::from(segments[6]) << 16) | u32::from(segments[7]),
                )));
            }
            if SIX_TO_FOUR.contains(&v6) {
                return is_forbidden(IpAddr::V4(Ipv4Addr::from(
                    (u32::from(segments[1]) << 16) | u32::from(segments[2]),
                )));
            }
            FORBIDDEN_V6.iter().any(|net| net.contains(&v6))
        }
    }
}

/// The resolver error that marks a refusal, so it can be told apart from a failed lookup
/// once reqwest has wrapped it.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to addresses that are not allowed")]
struct ForbiddenAddress {
    host: String,
}

/// Resolves with the system resolver and drops the addresses the guard refuses. reqwest
/// asks it only for names; IP literals in URLs bypass it and are checked before sending.
struct GuardedResolver {
    allowlist: Arc<Allowlist>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowlist = Arc::clone(&self.allowlist);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if resolved.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host} has no addresses"),
                )
                .into());
            }
            let trusted = allowlist.allows_host(&host);
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| trusted || allowlist.allows_ip(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(ForbiddenAddress { host }.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The client; cheap to clone (connections are pooled and shared).
#[derive(Clone, Debug)]
pub struct OutboundClient {
    http: reqwest::Client,
    allowlist: Arc<Allowlist>,
}

impl OutboundClient {
    /// Builds the client; `allowlist` is the operator's `outbound_allowlist` setting.
    pub fn new(allowlist: &[String]) -> Result<Self, OutboundConfigError> {
        install_tls_provider();
        let allowlist = Arc::new(Allowlist::parse(allowlist)?);
        let http = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            // A proxy would resolve the target itself, past the guard.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .dns_resolver(GuardedResolver {
                allowlist: Arc::clone(&allowlist),
            })
            .user_agent(USER_AGENT)
            .build()
            .map_err(OutboundConfigError::Client)?;
        Ok(Self { http, allowlist })
    }

    /// POSTs `body` as JSON and returns the receiver's JSON answer; an empty 2xx body is
    /// [`serde_json::Value::Null`]. With a signer the request carries Standard Webhooks
    /// headers under a fresh message id; a caller that retries should use
    /// [`OutboundClient::post_webhook`] so every attempt keeps the same id. `timeout`
    /// bounds the whole call, body included.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        signer: Option<&WebhookSigner>,
        timeout: Duration,
    ) -> Result<serde_json::Value, OutboundError> {
        let signing = signer.map(|signer| (signer, Uuid::now_v7()));
        self.send(url, body, signing, timeout).await
    }

    /// A signed POST under a message id that stays the same across retries, so the
    /// receiver can recognise a delivery it has already processed.
    pub async fn post_webhook(
        &self,
        url: &str,
        body: &serde_json::Value,
        signer: &WebhookSigner,
        message_id: Uuid,
        timeout: Duration,
    ) -> Result<serde_json::Value, OutboundError> {
        self.send(url, body, Some((signer, message_id)), timeout)
            .await
    }

    /// POSTs `payload` (JSON unless `headers` name another type) with `headers` and returns what the endpoint answered,
    /// whatever the status: a delivery engine classifies it and keeps it in its attempt log.
    #[tracing::instrument(name = "outbound", skip_all,
        fields(http.method = "POST", host = tracing::field::Empty))]
    pub async fn deliver(
        &self,
        url: &str,
        payload: Vec<u8>,
        mut headers: HeaderMap,
        timeout: Duration,
    ) -> Result<Answer, OutboundError> {
        let url = self.check_url(url)?;
        let host = host_of(&url);
        tracing::Span::current().record("host", host.as_str());
        // JSON unless the caller says otherwise (an encrypted push is an octet stream).
        headers
            .entry(CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        let mut response = self
            .http
            .post(url)
            .headers(headers)
            .body(payload)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| classify(&host, e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let excerpt = read_snippet(&mut response).await;
        Ok(Answer {
            status,
            retry_after,
            excerpt,
        })
    }

    /// Checks a URL without calling it: http(s), with a host, and not an IP literal the
    /// guard refuses (names are checked when they are resolved). Design validation can use
    /// it to reject a bad URL early.
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        let parsed = Url::parse(url).map_err(|e| OutboundError::InvalidUrl {
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(OutboundError::InvalidUrl {
                reason: format!("scheme {:?} is not http or https", parsed.scheme()),
            });
        }
        let literal = match parsed.host() {
            None => {
                return Err(OutboundError::InvalidUrl {
                    reason: "the URL has no host".into(),
                });
            }
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        };
        // The connector does not resolve IP literals, so the resolver's guard never sees them.
        if let Some(ip) = literal
            && !self.allowlist.allows_ip(ip)
        {
            return Err(OutboundError::Forbidden {
                host: host_of(&parsed),
            });
        }
        Ok(parsed)
    }

    /// The one place a call goes out. Its span holds the method and the host only: the
    /// path and query of a tenant's URL may carry a token, and bodies carry ticket data.
    #[tracing::instrument(name = "outbound", skip_all,
        fields(http.method = "POST", host = tracing::field::Empty))]
    async fn send(
        &self,
        url: &str,
        body: &serde_json::Value,
        signing: Option<(&WebhookSigner, Uuid)>,
        timeout: Duration,
    ) -> Result<serde_json::Value, OutboundError> {
        let url = self.check_url(url)?;
        let host = host_of(&url);
        tracing::Span::current().record("host", host.as_str());
        // Signed over exactly the bytes sent.
        let payload = body.to_string().into_bytes();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some((signer, id)) = signing {
            let timestamp = chrono::Utc::now().timestamp();
            headers.extend(signer.headers(&id.to_string(), timestamp, &payload));
        }
        let mut response = self
            .http
            .post(url)
            .headers(headers)
            .body(payload)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| classify(&host, e))?;
        let status = response.status();
        if !status.is_success() {
            let snippet = read_snippet(&mut response).await;
            return Err(OutboundError::Status {
                code: status.as_u16(),
                body: snippet,
            });
        }
        let bytes = read_capped(&mut response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => BodyError::TooLarge {
                    limit: MAX_RESPONSE_BYTES,
                }
                .into(),
                ReadError::Transport(e) => classify(&host, e),
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| BodyError::InvalidJson(e).into())
    }
}

/// What an endpoint answered to a delivery.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// How long it asked to be left alone (`Retry-After`, seconds or an HTTP date).
    pub retry_after: Option<Duration>,
    /// The start of its body, for the attempt log.
    pub excerpt: String,
}

/// A `Retry-After` value (seconds or an HTTP date) as a wait from now.
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

fn classify(host: &str, error: reqwest::Error) -> OutboundError {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(e) = cause {
        if e.is::<ForbiddenAddress>() {
            return OutboundError::Forbidden {
                host: host.to_owned(),
            };
        }
        cause = e.source();
    }
    if error.is_timeout() {
        OutboundError::Timeout
    } else if error.is_builder() {
        OutboundError::InvalidUrl {
            reason: error.without_url().to_string(),
        }
    } else {
        OutboundError::Connect {
            host: host.to_owned(),
            source: error.without_url(),
        }
    }
}

enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

async fn read_capped(response: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if bytes.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The start of an error response, for the task's log; a failure to read it is no reason
/// to hide the status.
async fn read_snippet(response: &mut reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < STATUS_SNIPPET_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(STATUS_SNIPPET_BYTES);
    String::from_utf8_lossy(&bytes).into_owned()
}

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook secret or signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("a webhook secret must be 24 to 64 bytes, not {len}")]
    SecretLength { len: usize },
    #[error("a webhook secret must be whsec_ followed by base64")]
    SecretEncoding,
    #[error("the {name} header is missing or not text")]
    MissingHeader { name: &'static str },
    #[error("the webhook-timestamp header is not a unix time")]
    BadTimestamp,
    #[error("the webhook-timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
}

/// Signs and verifies webhooks the Standard Webhooks way
/// (<https://www.standardwebhooks.com/>): HMAC-SHA256 over `{id}.{timestamp}.{body}`, so a
/// receiver can use any of that standard's libraries.
pub struct WebhookSigner {
    secret: SecretBox<Vec<u8>>,
    mac: HmacSha256,
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSigner").finish_non_exhaustive()
    }
}

impl WebhookSigner {
    /// The standard's bounds on the secret's length.
    pub const MIN_SECRET_BYTES: usize = 24;
    pub const MAX_SECRET_BYTES: usize = 64;

    pub fn new(secret: &[u8]) -> Result<Self, SignatureError> {
        if !(Self::MIN_SECRET_BYTES..=Self::MAX_SECRET_BYTES).contains(&secret.len()) {
            return Err(SignatureError::SecretLength { len: secret.len() });
        }
        Ok(Self::keyed(secret))
    }

    /// A fresh random 32-byte secret, for a new webhook subscription.
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self::keyed(&secret)
    }

    /// `secret` must be at most 64 bytes, SHA-256's block: HMAC zero-pads a shorter key to
    /// the block, so the padded fixed-size key gives the same MAC through a constructor
    /// that cannot fail.
    fn keyed(secret: &[u8]) -> Self {
        let mut key = hmac::digest::Key::<HmacSha256>::default();
        key[..secret.len()].copy_from_slice(secret);
        Self {
            secret: SecretBox::new(Box::new(secret.to_vec())),
            mac: <HmacSha256 as KeyInit>::new(&key),
        }
    }

    /// Reads a `whsec_<base64>` secret (the prefix is optional, as in the standard's
    /// libraries).
    pub fn from_whsec(text: &str) -> Result<Self, SignatureError> {
        let encoded = text.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        let secret = BASE64
            .decode(encoded)
            .map_err(|_| SignatureError::SecretEncoding)?;
        Self::new(&secret)
    }

    /// The secret as `whsec_<base64>`, to show the subscriber once.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", BASE64.encode(self.secret.expose_secret()))
    }

    /// The `webhook-signature` value for one message: `v1,<base64 MAC>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }

    /// The three headers of a signed message.
    pub fn headers(&self, id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", self.sign(id, timestamp, body)),
        ] {
            // Only an id with control characters fails; ids are UUIDs here.
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        headers
    }

    /// Verifies a received message against the current time; `tolerance` bounds how far
    /// its timestamp may be from now, which limits replays.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        tolerance: Duration,
    ) -> Result<(), SignatureError> {
        self.verify_at(headers, body, tolerance, chrono::Utc::now().timestamp())
    }

    /// [`WebhookSigner::verify`] at a given unix time.
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        tolerance: Duration,
        now: i64,
    ) -> Result<(), SignatureError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(SignatureError::MissingHeader { name })
        };
        let id = header("webhook-id")?;
        let timestamp_text = header("webhook-timestamp")?;
        let timestamp: i64 = timestamp_text
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        let signatures = header("webhook-signature")?;
        if now.abs_diff(timestamp) > tolerance.as_secs() {
            return Err(SignatureError::Stale);
        }
        let mut mac = self.mac.clone();
        // The MAC covers the header as sent, not a re-rendering of the number.
        mac.update(format!("{id}.{timestamp_text}.").as_bytes());
        mac.update(body);
        // Several signatures may be sent while a sender rotates secrets; one match is enough.
        let matched = signatures
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| BASE64.decode(s).ok())
            .any(|signature| mac.clone().verify_slice(&signature).is_ok());
        if matched {
            Ok(())
        } else {
            Err(SignatureError::NoMatch)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Mutex;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{StatusCode, Uri, header};
    use axum::response::{IntoResponse, Response};
    use serde_json::json;

    use super::*;

    /// Every request the receiver got: path, headers, body.
    type Seen = Arc<Mutex<Vec<(String, HeaderMap, Vec<u8>)>>>;

    async fn handle(
        State(seen): State<Seen>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        seen.lock()
            .unwrap()
            .push((uri.path().to_owned(), headers, body.to_vec()));
        match uri.path() {
            "/hook" => axum::Json(json!({"received": true})).into_response(),
            "/redirect" => (StatusCode::FOUND, [(header::LOCATION, "/hook")]).into_response(),
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                axum::Json(json!({})).into_response()
            }
            "/empty" => StatusCode::NO_CONTENT.into_response(),
            "/big" => vec![b'1'; MAX_RESPONSE_BYTES + 1].into_response(),
            "/not-json" => "hello".into_response(),
            path => {
                let code = path
                    .strip_prefix("/status/")
                    .and_then(|code| code.parse::<u16>().ok())
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .unwrap_or(StatusCode::NOT_FOUND);
                (code, "the receiver's explanation").into_response()
            }
        }
    }

    /// A receiver on 127.0.0.1 and a random port.
    async fn receiver() -> (SocketAddr, Seen) {
        let seen = Seen::default();
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (address, seen)
    }

    fn client(allowlist: &[&str]) -> OutboundClient {
        let entries: Vec<String> = allowlist.iter().map(|s| (*s).to_owned()).collect();
        OutboundClient::new(&entries).unwrap()
    }

    fn loopback_client() -> OutboundClient {
        client(&["127.0.0.1/32"])
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn loopback_receivers_are_refused_without_an_allowlist_and_see_nothing() {
        let (address, seen) = receiver().await;
        let port = address.port();
        let outbound = client(&[]);
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://localhost:{port}/hook"),
            format!("http://[::1]:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            format!("http://127.1:{port}/hook"),
            format!("http://0x7f000001:{port}/hook"),
            format!("http://0.0.0.0:{port}/hook"),
        ] {
            let result = outbound.post_json(&url, &json!({}), None, WAIT).await;
            assert!(
                matches!(result, Err(OutboundError::Forbidden { .. })),
                "{url}: {result:?}"
            );
            assert!(!result.unwrap_err().is_temporary());
        }
        assert!(seen.lock().unwrap().is_empty());
    }

    /// Checked without a call: should the guard fail, nothing may be sent to these.
    #[test]
    fn private_link_local_and_metadata_literals_are_refused_before_any_call() {
        let outbound = client(&[]);
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "https://172.16.5.4/",
            "http://192.168.1.1:8080/",
            "http://100.64.0.1/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://192.0.2.10/",
        ] {
            assert!(
                matches!(
                    outbound.check_url(url),
                    Err(OutboundError::Forbidden { .. })
                ),
                "{url}"
            );
        }
        for url in ["https://example.com/hook", "http://93.184.215.14:8080/x"] {
            assert!(outbound.check_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        let outbound = client(&[]);
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "not a url",
            "http://",
        ] {
            assert!(
                matches!(
                    outbound.check_url(url),
                    Err(OutboundError::InvalidUrl { .. })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn the_guard_knows_public_from_non_public_addresses() {
        let forbidden = [
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.127.0.1",
            "198.51.100.7",
            "203.0.113.1",
            "240.0.0.1",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:192.168.1.1",
            "fe80::abcd",
            "fc00::1",
            "fdff::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b::7f00:1",
            "2002:0a00:0001::1",
        ];
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ];
        for ip in forbidden {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in public {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[test]
    fn allowlist_entries_are_hosts_or_networks_and_a_bad_one_is_named() {
        let entries = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let allowlist = Allowlist::parse(&entries(&[
            "127.0.0.1/32",
            " Hooks.Internal ",
            "10.1.2.3",
            "fd00::/8",
        ]))
        .unwrap();
        assert!(allowlist.allows_ip("127.0.0.1".parse().unwrap()));
        assert!(allowlist.allows_ip("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!allowlist.allows_ip("127.0.0.2".parse().unwrap()));
        assert!(!allowlist.allows_ip("::1".parse().unwrap()));
        assert!(allowlist.allows_ip("10.1.2.3".parse().unwrap()));
        assert!(allowlist.allows_ip("fd12::1".parse().unwrap()));
        assert!(allowlist.allows_host("hooks.internal"));
        assert!(allowlist.allows_host("HOOKS.internal"));
        assert!(!allowlist.allows_host("other.internal"));
        for bad in [
            "10.0.0.0/33",
            "http://example.com",
            "exa!mple.com",
            "a b",
            "",
        ] {
            let error = Allowlist::parse(&entries(&["127.0.0.1/32", bad])).unwrap_err();
            assert!(
                matches!(&error, OutboundConfigError::AllowlistEntry { entry } if entry == bad),
                "{bad}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_only_to_forbidden_addresses() {
        let resolver = GuardedResolver {
            allowlist: Arc::new(Allowlist::default()),
        };
        let error = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(error) => error,
        };
        assert!(error.is::<ForbiddenAddress>(), "{error}");
    }

    #[tokio::test]
    async fn an_allowlisted_receiver_gets_a_signed_delivery_that_verifies() {
        let (address, seen) = receiver().await;
        let signer = WebhookSigner::generate();
        let body = json!({"event": "ticket.created", "ticket": {"id": 7}});
        let answer = loopback_client()
            .post_json(
                &format!("http://{address}/hook"),
                &body,
                Some(&signer),
                WAIT,
            )
            .await
            .unwrap();
        assert_eq!(answer, json!({"received": true}));

        let seen = seen.lock().unwrap();
        let (path, headers, received) = &seen[0];
        assert_eq!(path, "/hook");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(received).unwrap(),
            body
        );
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        assert!(
            headers[reqwest::header::USER_AGENT]
                .to_str()
                .unwrap()
                .starts_with("TicketFlower/")
        );
        signer
            .verify(headers, received, Duration::from_secs(60))
            .unwrap();
        // A different secret must not verify.
        assert!(matches!(
            WebhookSigner::generate().verify(headers, received, Duration::from_secs(60)),
            Err(SignatureError::NoMatch)
        ));
    }

    #[tokio::test]
    async fn retries_of_a_webhook_keep_its_id() {
        let (address, seen) = receiver().await;
        let signer = WebhookSigner::generate();
        let id = Uuid::now_v7();
        let outbound = loopback_client();
        let url = format!("http://{address}/hook");
        for _ in 0..2 {
            outbound
                .post_webhook(&url, &json!({"n": 1}), &signer, id, WAIT)
                .await
                .unwrap();
        }
        let seen = seen.lock().unwrap();
        for (_, headers, body) in seen.iter() {
            assert_eq!(headers["webhook-id"], id.to_string().as_str());
            signer
                .verify(headers, body, Duration::from_secs(60))
                .unwrap();
        }
    }

    #[tokio::test]
    async fn an_allowlisted_host_name_may_resolve_to_loopback() {
        let (address, seen) = receiver().await;
        let url = format!("http://localhost:{}/hook", address.port());
        client(&["LOCALHOST"])
            .post_json(&url, &json!({}), None, WAIT)
            .await
            .unwrap();
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_allowlisted_network_does_not_open_other_loopback_forms() {
        let (address, seen) = receiver().await;
        let outbound = loopback_client();
        for url in [
            format!("http://[::1]:{}/hook", address.port()),
            format!("http://127.0.0.2:{}/hook", address.port()),
        ] {
            let result = outbound.post_json(&url, &json!({}), None, WAIT).await;
            assert!(
                matches!(result, Err(OutboundError::Forbidden { .. })),
                "{url}: {result:?}"
            );
        }
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (address, seen) = receiver().await;
        let result = loopback_client()
            .post_json(
                &format!("http://{address}/redirect"),
                &json!({}),
                None,
                WAIT,
            )
            .await;
        match result {
            Err(error @ OutboundError::Status { code: 302, .. }) => assert!(!error.is_temporary()),
            other => panic!("{other:?}"),
        }
        let paths: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(p, ..)| p.clone())
            .collect();
        assert_eq!(paths, ["/redirect"]);
    }

    #[tokio::test]
    async fn a_slow_receiver_times_out_and_may_be_retried() {
        let (address, _) = receiver().await;
        let result = loopback_client()
            .post_json(
                &format!("http://{address}/slow"),
                &json!({}),
                None,
                Duration::from_millis(200),
            )
            .await;
        match result {
            Err(error @ OutboundError::Timeout) => assert!(error.is_temporary()),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_a_temporary_connection_failure() {
        // Bound but not listening: connections are refused, and the port stays ours, so a
        // test running beside this one cannot take it (a freed port was, and answered).
        let closed = tokio::net::TcpSocket::new_v4().unwrap();
        closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = closed.local_addr().unwrap();
        let result = loopback_client()
            .post_json(&format!("http://{address}/hook"), &json!({}), None, WAIT)
            .await;
        match result {
            Err(error @ OutboundError::Connect { .. }) => assert!(error.is_temporary()),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn server_errors_are_temporary_and_client_errors_permanent() {
        let (address, _) = receiver().await;
        let outbound = loopback_client();
        for (code, temporary) in [
            (500, true),
            (503, true),
            (408, true),
            (429, true),
            (400, false),
            (404, false),
            (410, false),
        ] {
            let url = format!("http://{address}/status/{code}");
            match outbound.post_json(&url, &json!({}), None, WAIT).await {
                Err(error @ OutboundError::Status { .. }) => {
                    let OutboundError::Status { code: got, body } = &error else {
                        unreachable!()
                    };
                    assert_eq!(*got, code);
                    assert_eq!(body, "the receiver's explanation");
                    assert_eq!(error.is_temporary(), temporary, "{code}");
                }
                other => panic!("{code}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn response_bodies_are_json_bounded_and_may_be_empty() {
        let (address, _) = receiver().await;
        let outbound = loopback_client();
        let post = |path: &str| {
            let url = format!("http://{address}{path}");
            let outbound = outbound.clone();
            async move { outbound.post_json(&url, &json!({}), None, WAIT).await }
        };
        assert_eq!(post("/empty").await.unwrap(), serde_json::Value::Null);
        assert!(matches!(
            post("/big").await,
            Err(OutboundError::Body(BodyError::TooLarge { .. }))
        ));
        let not_json = post("/not-json").await.unwrap_err();
        assert!(matches!(
            not_json,
            OutboundError::Body(BodyError::InvalidJson(_))
        ));
        assert!(!not_json.is_temporary());
    }

    fn signed_headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        headers.insert(
            "webhook-timestamp",
            HeaderValue::from_str(timestamp).unwrap(),
        );
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    /// The example of the Standard Webhooks specification and its reference libraries: a
    /// receiver using any of them accepts what TicketFlower sends.
    #[test]
    fn the_standard_webhooks_test_vector_signs_and_verifies() {
        let signer = WebhookSigner::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(signer.sign(id, 1_614_265_330, body), expected);

        let tolerance = Duration::from_secs(300);
        let headers = signed_headers(id, "1614265330", &format!("v1,bm9wZQ== v1a,xyz {expected}"));
        signer
            .verify_at(&headers, body, tolerance, 1_614_265_330 + 299)
            .unwrap();
        assert!(matches!(
            signer.verify_at(&headers, body, tolerance, 1_614_265_330 + 301),
            Err(SignatureError::Stale)
        ));
        assert!(matches!(
            signer.verify_at(
                &headers,
                br#"{"test": 2432232315}"#,
                tolerance,
                1_614_265_330
            ),
            Err(SignatureError::NoMatch)
        ));
        let other_id = signed_headers("msg_other", "1614265330", expected);
        assert!(matches!(
            signer.verify_at(&other_id, body, tolerance, 1_614_265_330),
            Err(SignatureError::NoMatch)
        ));
        let mut missing = headers.clone();
        missing.remove("webhook-signature");
        assert!(matches!(
            signer.verify_at(&missing, body, tolerance, 1_614_265_330),
            Err(SignatureError::MissingHeader {
                name: "webhook-signature"
            })
        ));
    }

    /// Computed independently: base64(HMAC-SHA256(bytes 0..32, "id-1.1700000000.{}")).
    #[test]
    fn a_raw_secret_signs_as_plain_hmac_sha256() {
        let secret: Vec<u8> = (0..32).collect();
        let signer = WebhookSigner::new(&secret).unwrap();
        assert_eq!(
            signer.sign("id-1", 1_700_000_000, b"{}"),
            "v1,Pg+06Hem7rPSgvKzvgas7lmiqcCQo/xZbr7cBK+DCps="
        );
        let again = WebhookSigner::from_whsec(&signer.to_whsec()).unwrap();
        assert_eq!(
            again.sign("id-1", 1_700_000_000, b"{}"),
            signer.sign("id-1", 1_700_000_000, b"{}")
        );
    }

    #[test]
    fn secrets_outside_the_standard_bounds_are_refused() {
        assert!(matches!(
            WebhookSigner::new(&[7; 23]),
            Err(SignatureError::SecretLength { len: 23 })
        ));
        assert!(matches!(
            WebhookSigner::new(&[7; 65]),
            Err(SignatureError::SecretLength { len: 65 })
        ));
        assert!(WebhookSigner::new(&[7; 64]).is_ok());
        assert!(matches!(
            WebhookSigner::from_whsec("whsec_not base64!"),
            Err(SignatureError::SecretEncoding)
        ));
        assert!(format!("{:?}", WebhookSigner::generate()).starts_with("WebhookSigner"));
    }
}

//! Web Push (RFC 8030, payloads encrypted per RFC 8291, signed with VAPID per RFC 8292):
//! the browsers a person subscribed from their profile, and one job per push and browser.
//!
//! A push carries [`Push`], nothing private: the service worker shows its title and the
//! page reads the rest once opened. Each delivery is a `notify.web_push` job, so a push
//! service that is down is tried again (honouring `Retry-After`); the subscription keeps
//! the last success and the last error for its owner to see, and one the push service says
//! is gone (404, 410) is deleted. Pushes go through [`crate::infra::outbound`] like every
//! other call out: push service URLs are chosen by browsers, which is to say by anyone.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::job::{Job, NewJob};
use domain::notification::Push;
use domain::{CompanyId, PushSubscriptionId, UserId, ValidationErrors};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::push_subscriptions::{self as stored, PushSubscription};
use web_push_native::jwt_simple::prelude::{
    Claims, ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair,
};
use web_push_native::p256;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

use crate::infra::jobs::JobError;
use crate::infra::outbound::OutboundError;
use crate::{App, AppError, Result};

/// The job kind that sends one push to one browser.
pub const JOB_KIND: &str = "notify.web_push";
/// Attempts at one push before it is dead-lettered.
const JOB_MAX_ATTEMPTS: u32 = 8;
/// How long a push service keeps a push for a browser that is offline (the `TTL` header).
const TTL: Duration = Duration::from_secs(24 * 3600);
/// The VAPID token's lifetime; push services refuse one valid for more than 24 hours.
const VAPID_VALIDITY_SECS: u64 = 12 * 3600;
/// Longest push service URL accepted (real ones are a few hundred characters).
const ENDPOINT_MAX_CHARS: usize = 2048;
const NAME_MAX_CHARS: usize = 100;
/// How much of a push service's refusal is kept as the subscription's error.
const REASON_MAX_CHARS: usize = 200;

/// The server's VAPID public key, for `pushManager.subscribe({applicationServerKey})`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PushKey {
    /// base64url (no padding) of the uncompressed P-256 point (65 bytes).
    pub public_key: String,
}

/// A browser subscribed to one person's pushes, as its owner sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PushSubscriptionView {
    pub id: PushSubscriptionId,
    /// The push service's URL for this browser.
    pub endpoint: String,
    /// What the browser was called when it subscribed ("Firefox on Linux").
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When a push service last accepted a push for it.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last failed push failed.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

impl From<PushSubscription> for PushSubscriptionView {
    fn from(s: PushSubscription) -> Self {
        Self {
            id: s.id,
            endpoint: s.endpoint,
            name: s.name,
            created_at: s.created_at,
            last_success_at: s.last_success_at,
            last_error: s.last_error,
            last_error_at: s.last_error_at,
        }
    }
}

/// What a browser's `PushSubscription.toJSON()` gives, with a name for it.
#[derive(Clone, Debug, Default)]
pub struct SubscribeInput {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub name: Option<String>,
}

/// A subscription stored, and whether it was new to this person (else it was theirs already).
pub struct Subscribed {
    pub subscription: PushSubscriptionView,
    pub created: bool,
}

/// Whether this server sends Web Push (it has a VAPID key).
pub fn enabled(app: &App) -> bool {
    app.secrets().vapid_key().is_some()
}

/// The VAPID public key, or `None` when Web Push is off.
pub fn public_key(app: &App) -> Option<PushKey> {
    let key = p256::SecretKey::from_slice(app.secrets().vapid_key()?).ok()?;
    let point = key.public_key().to_encoded_point(false);
    Some(PushKey {
        public_key: BASE64URL.encode(point.as_bytes()),
    })
}

/// Subscribes a browser to the actor's pushes. The endpoint is unique: a browser that was
/// someone else's (a shared computer) becomes the actor's.
pub async fn subscribe(app: &App, actor: &Actor, input: SubscribeInput) -> Result<Subscribed> {
    let company = crate::access::company_of(actor)?;
    let checked = check(&input)?;
    let mut tx = app.db().begin().await?;
    let before = stored::by_endpoint(&mut tx, &checked.endpoint).await?;
    let created = !before.is_some_and(|s| s.company_id == company && s.user_id == actor.user_id);
    let subscription = stored::upsert(
        &mut tx,
        stored::NewPushSubscription {
            company,
            user: actor.user_id,
            endpoint: &checked.endpoint,
            p256dh: &checked.p256dh,
            auth: &checked.auth,
            name: checked.name.as_deref(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(Subscribed {
        subscription: subscription.into(),
        created,
    })
}

/// The actor's subscribed browsers, oldest first.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<PushSubscriptionView>> {
    let company = crate::access::company_of(actor)?;
    Ok(stored::list_of_user(app.db(), company, actor.user_id)
        .await?
        .into_iter()
        .map(PushSubscriptionView::from)
        .collect())
}

/// Unsubscribes one of the actor's browsers; another person's is not found.
pub async fn delete(app: &App, actor: &Actor, id: PushSubscriptionId) -> Result<()> {
    let company = crate::access::company_of(actor)?;
    let mut tx = app.db().begin().await?;
    stored::delete_of_user(&mut tx, company, actor.user_id, id).await?;
    app.commit(tx).await?;
    Ok(())
}

/// Queues a test push to one of the actor's browsers; another person's is not found.
pub async fn send_test(app: &App, actor: &Actor, id: PushSubscriptionId) -> Result<()> {
    let company = crate::access::company_of(actor)?;
    let subscription = stored::get_of_user(app.db(), company, actor.user_id, id).await?;
    let push = Push {
        notification_id: None,
        kind: "test".into(),
        title: "Test notification from TicketFlower".into(),
        url: "/profile".into(),
    };
    let mut tx = app.db().begin().await?;
    enqueue_one(&mut tx, company, subscription.id, &push).await?;
    app.commit(tx).await?;
    Ok(())
}

/// What a `notify.web_push` job carries.
#[derive(Serialize, Deserialize)]
struct PushJob {
    subscription_id: PushSubscriptionId,
    push: Push,
}

/// Queues `push` to every browser `user` subscribed, in the caller's transaction; answers
/// how many pushes were queued.
pub async fn enqueue(
    tx: &mut store::Tx,
    company: CompanyId,
    user: UserId,
    push: &Push,
) -> Result<usize> {
    let subscriptions = stored::list_of_user(&mut *tx, company, user).await?;
    for subscription in &subscriptions {
        enqueue_one(tx, company, subscription.id, push).await?;
    }
    Ok(subscriptions.len())
}

async fn enqueue_one(
    tx: &mut store::Tx,
    company: CompanyId,
    subscription: PushSubscriptionId,
    push: &Push,
) -> Result<()> {
    let payload = json!(PushJob {
        subscription_id: subscription,
        push: push.clone(),
    });
    let job = NewJob::new(JOB_KIND, payload)
        .company(company)
        .max_attempts(JOB_MAX_ATTEMPTS);
    store::jobs::enqueue(tx, job).await?;
    Ok(())
}

/// The job handler: one push to one browser.
pub async fn deliver(app: App, job: Job) -> std::result::Result<(), JobError> {
    let Some(company) = job.company_id else {
        return Err(JobError::Permanent("the job names no company".into()));
    };
    let Ok(PushJob {
        subscription_id,
        push,
    }) = serde_json::from_value(job.payload)
    else {
        return Err(JobError::Permanent("the job names no push".into()));
    };
    let subscription = match stored::get(app.db(), company, subscription_id).await {
        Ok(subscription) => subscription,
        // Unsubscribed, expired or taken over by another company since: nothing to send.
        Err(store::StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(JobError::Retry(error.to_string())),
    };
    let Some(key) = app.secrets().vapid_key() else {
        let reason = failed(
            &app,
            company,
            subscription_id,
            "Web Push is not configured on this server".into(),
        )
        .await;
        return Err(JobError::Permanent(reason));
    };
    let subject = app.settings().vapid_subject();
    let (body, headers) = match encrypt(&subscription, key, &subject, &push) {
        Ok(request) => request,
        Err(reason) => {
            return Err(JobError::Permanent(
                failed(&app, company, subscription_id, reason).await,
            ));
        }
    };
    let client = app
        .outbound()
        .map_err(|error| JobError::Retry(error.to_string()))?;
    let timeout = Duration::from_secs(app.settings().delivery_timeout_secs.max(1));
    let answer = client
        .deliver(&subscription.endpoint, body, headers, timeout)
        .await;
    match answer {
        Ok(answer) if (200..300).contains(&answer.status) => {
            stored::record_success(app.db(), company, subscription_id, Utc::now())
                .await
                .map_err(|error| JobError::Retry(error.to_string()))?;
            Ok(())
        }
        Ok(answer) if matches!(answer.status, 404 | 410) => {
            stored::remove_expired(app.db(), company, subscription_id)
                .await
                .map_err(|error| JobError::Retry(error.to_string()))?;
            tracing::info!(
                subscription = %subscription_id,
                status = answer.status,
                "push subscription expired; removed"
            );
            Ok(())
        }
        Ok(answer) => {
            let mut reason = format!("the push service answered {}", answer.status);
            let excerpt: String = answer
                .excerpt
                .trim()
                .chars()
                .take(REASON_MAX_CHARS)
                .collect();
            if !excerpt.is_empty() {
                reason = format!("{reason}: {excerpt}");
            }
            let reason = failed(&app, company, subscription_id, reason).await;
            if answer.status == 429 || answer.status >= 500 {
                Err(JobError::retry_after(answer.retry_after, reason))
            } else {
                Err(JobError::Permanent(reason))
            }
        }
        Err(error) => {
            let permanent = matches!(
                error,
                OutboundError::Forbidden { .. } | OutboundError::InvalidUrl { .. }
            );
            let reason = failed(&app, company, subscription_id, error.to_string()).await;
            Err(if permanent {
                JobError::Permanent(reason)
            } else {
                JobError::Retry(reason)
            })
        }
    }
}

/// Keeps why a push failed on its subscription (for its owner to see) and hands it on to
/// the job's own record.
async fn failed(
    app: &App,
    company: CompanyId,
    subscription: PushSubscriptionId,
    reason: String,
) -> String {
    if let Err(error) =
        stored::record_error(app.db(), company, subscription, &reason, Utc::now()).await
    {
        tracing::warn!(%error, "cannot record a push failure");
    }
    reason
}

/// The encrypted body (RFC 8291 `aes128gcm`) and the headers of one push: `TTL`,
/// `Content-Encoding`, `Urgency` and the VAPID `Authorization`. The token is signed here
/// rather than by the crate's `with_vapid`, whose audience drops the port of the endpoint's
/// origin (RFC 8292 wants the origin whole).
fn encrypt(
    subscription: &PushSubscription,
    key: &[u8; 32],
    subject: &str,
    push: &Push,
) -> std::result::Result<(Vec<u8>, HeaderMap), String> {
    let invalid = |what: &str| format!("the stored subscription has an invalid {what}");
    let ua_public = decode_p256dh(&subscription.p256dh).ok_or_else(|| invalid("p256dh key"))?;
    let auth = decode_auth(&subscription.auth).ok_or_else(|| invalid("auth secret"))?;
    let origin = url::Url::parse(&subscription.endpoint)
        .map_err(|_| invalid("endpoint"))?
        .origin()
        .ascii_serialization();
    let uri = subscription
        .endpoint
        .parse()
        .map_err(|_| invalid("endpoint"))?;
    let body = serde_json::to_vec(push).map_err(|error| error.to_string())?;
    let request = web_push_native::WebPushBuilder::new(
        uri,
        ua_public,
        web_push_native::Auth::clone_from_slice(&auth),
    )
    .with_valid_duration(TTL)
    .build(body)
    .map_err(|error| format!("cannot encrypt the push: {error}"))?;
    let key_pair =
        ES256KeyPair::from_bytes(key).map_err(|_| "the VAPID key is unusable".to_owned())?;
    let claims = Claims::create(web_push_native::jwt_simple::prelude::Duration::from_secs(
        VAPID_VALIDITY_SECS,
    ))
    .with_audience(origin)
    .with_subject(subject);
    let token = key_pair
        .sign(claims)
        .map_err(|_| "cannot sign the VAPID token".to_owned())?;
    let public = BASE64URL.encode(key_pair.public_key().public_key().to_bytes_uncompressed());
    let (parts, body) = request.into_parts();
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        // The client sets the length of what it sends.
        if name != reqwest::header::CONTENT_LENGTH {
            headers.insert(name.clone(), value.clone());
        }
    }
    headers.insert(
        HeaderName::from_static("urgency"),
        HeaderValue::from_static("normal"),
    );
    headers.insert(
        reqwest::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("vapid t={token}, k={public}"))
            .map_err(|_| "cannot write the VAPID header".to_owned())?,
    );
    Ok((body, headers))
}

/// base64url as browsers write it; padding is tolerated.
fn decode_base64url(value: &str) -> Option<Vec<u8>> {
    BASE64URL.decode(value.trim().trim_end_matches('=')).ok()
}

/// A browser's ECDH key: an uncompressed P-256 point on the curve.
fn decode_p256dh(value: &str) -> Option<p256::PublicKey> {
    let bytes = decode_base64url(value)?;
    if bytes.len() != 65 || bytes.first() != Some(&4) {
        return None;
    }
    p256::PublicKey::from_sec1_bytes(&bytes).ok()
}

/// A browser's authentication secret: 16 bytes.
fn decode_auth(value: &str) -> Option<[u8; 16]> {
    decode_base64url(value)?.try_into().ok()
}

/// A subscription's fields once every one passed, written the one way they are stored.
struct Checked {
    endpoint: String,
    p256dh: String,
    auth: String,
    name: Option<String>,
}

/// Checks a subscription, naming every bad field at once.
fn check(input: &SubscribeInput) -> Result<Checked> {
    let mut errors = ValidationErrors::new();
    let endpoint = input.endpoint.trim();
    if !endpoint_ok(endpoint) {
        errors.add(
            "endpoint",
            "must be the https URL of a push service (http only to this machine)",
        );
    }
    let p256dh = decode_p256dh(&input.p256dh);
    if p256dh.is_none() {
        errors.add(
            "keys.p256dh",
            "must be the base64url of an uncompressed P-256 public key (65 bytes)",
        );
    }
    let auth = decode_auth(&input.auth);
    if auth.is_none() {
        errors.add("keys.auth", "must be the base64url of 16 bytes");
    }
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty());
    if name.is_some_and(|name| name.chars().count() > NAME_MAX_CHARS) {
        errors.add(
            "name",
            format!("must be at most {NAME_MAX_CHARS} characters"),
        );
    }
    errors.into_result()?;
    let (Some(p256dh), Some(auth)) = (p256dh, auth) else {
        return Err(AppError::internal("checked keys went missing"));
    };
    Ok(Checked {
        endpoint: endpoint.to_owned(),
        p256dh: BASE64URL.encode(p256dh.to_encoded_point(false).as_bytes()),
        auth: BASE64URL.encode(auth),
        name: name.map(str::to_owned),
    })
}

/// An absolute https URL with a host; plain http only to a loopback host, where a
/// developer's (or a test's) push service runs.
fn endpoint_ok(endpoint: &str) -> bool {
    if endpoint.is_empty() || endpoint.chars().count() > ENDPOINT_MAX_CHARS {
        return false;
    }
    let Ok(url) = url::Url::parse(endpoint) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return false,
    };
    url.username().is_empty()
        && url.password().is_none()
        && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const P256DH: &str =
        "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
    const AUTH: &str = "_ordMnz7uTCmrpBTeUV4Bw";

    fn input(endpoint: &str, p256dh: &str, auth: &str) -> SubscribeInput {
        SubscribeInput {
            endpoint: endpoint.into(),
            p256dh: p256dh.into(),
            auth: auth.into(),
            name: None,
        }
    }

    fn fields(result: Result<Checked>) -> Vec<String> {
        match result {
            Err(AppError::Validation(errors)) => errors.0.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other}"),
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn a_browser_subscription_passes_and_is_stored_unpadded() {
        let checked = check(&input(
            "https://fcm.googleapis.com/fcm/send/abc",
            P256DH,
            &format!("{AUTH}=="),
        ))
        .unwrap();
        assert_eq!(checked.p256dh, P256DH);
        assert_eq!(checked.auth, AUTH);
    }

    #[test]
    fn endpoints_must_be_https_or_loopback_http() {
        for ok in [
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            "http://127.0.0.1:4000/push",
            "http://localhost/push",
            "http://[::1]:8/p",
        ] {
            assert!(endpoint_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "push.example.com/x",
            "/relative",
            "http://push.example.com/x",
            "ftp://push.example.com/x",
            "https://user:pw@push.example.com/x",
            "javascript:alert(1)",
        ] {
            assert!(!endpoint_ok(bad), "{bad}");
        }
    }

    #[test]
    fn bad_keys_are_named_each_at_once() {
        let compressed = BASE64URL.encode(
            decode_p256dh(P256DH)
                .unwrap()
                .to_encoded_point(true)
                .as_bytes(),
        );
        let mut off_curve = decode_base64url(P256DH).unwrap();
        off_curve[64] ^= 1;
        let off_curve = BASE64URL.encode(off_curve);
        for p256dh in ["", "not base64!", compressed.as_str(), off_curve.as_str()] {
            assert_eq!(
                fields(check(&input("https://p.example/x", p256dh, AUTH))),
                ["keys.p256dh"],
                "{p256dh}"
            );
        }
        for auth in ["", "AAAA", "_ordMnz7uTCmrpBTeUV4BwAA"] {
            assert_eq!(
                fields(check(&input("https://p.example/x", P256DH, auth))),
                ["keys.auth"],
                "{auth}"
            );
        }
        assert_eq!(
            fields(check(&input("http://p.example/x", "x", "y"))),
            ["endpoint", "keys.p256dh", "keys.auth"]
        );
    }
}

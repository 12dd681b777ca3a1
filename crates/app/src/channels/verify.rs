//! Checks that an inbound webhook comes from the channel's provider, on the raw bytes
//! before anything parses them. Every scheme compares in constant time.

use std::time::Duration;

use domain::channel::Verification;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::infra::outbound::{SignatureError, WebhookSigner};

/// How far a signed timestamp may be from now.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Why a webhook was refused (all answer 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("the {0} header is missing")]
    Missing(String),
    #[error("the signed timestamp is more than 5 minutes from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
    /// The stored secret does not fit the scheme (an operator's mistake, not the caller's).
    #[error("the channel's secret does not fit its verification scheme")]
    BadSecret,
}

type HmacSha256 = Hmac<Sha256>;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, Refusal> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(|| Refusal::Missing(name.to_owned()))
}

fn mac(secret: &[u8]) -> Result<HmacSha256, Refusal> {
    <HmacSha256 as Mac>::new_from_slice(secret).map_err(|_| Refusal::BadSecret)
}

/// Verifies `body` as received under `scheme` with the channel's secret (as the admin sees
/// it: `whsec_…` for Standard Webhooks, the text itself otherwise), at unix time `now`.
pub fn verify(
    scheme: Verification,
    header_name: Option<&str>,
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    match scheme {
        Verification::StandardWebhooks => {
            let signer = WebhookSigner::from_whsec(secret).map_err(|_| Refusal::BadSecret)?;
            signer
                .verify_at(headers, body, TOLERANCE, now)
                .map_err(|error| match error {
                    SignatureError::MissingHeader { name } => Refusal::Missing(name.to_owned()),
                    SignatureError::BadTimestamp => Refusal::Missing("webhook-timestamp".into()),
                    SignatureError::Stale => Refusal::Stale,
                    SignatureError::NoMatch => Refusal::Mismatch,
                    SignatureError::SecretLength { .. } | SignatureError::SecretEncoding => {
                        Refusal::BadSecret
                    }
                })
        }
        Verification::HmacSha256 => {
            let name = header_name.unwrap_or(scheme.default_header());
            let given = header(headers, name)?;
            let hex_text = given.strip_prefix("sha256=").ok_or(Refusal::Mismatch)?;
            let given = hex::decode(hex_text).map_err(|_| Refusal::Mismatch)?;
            let mut mac = mac(secret.as_bytes())?;
            mac.update(body);
            mac.verify_slice(&given).map_err(|_| Refusal::Mismatch)
        }
        Verification::Slack => {
            let timestamp = header(headers, "x-slack-request-timestamp")?;
            let at: i64 = timestamp.parse().map_err(|_| Refusal::Stale)?;
            if (now - at).unsigned_abs() > TOLERANCE.as_secs() {
                return Err(Refusal::Stale);
            }
            let given = header(headers, "x-slack-signature")?;
            let hex_text = given.strip_prefix("v0=").ok_or(Refusal::Mismatch)?;
            let given = hex::decode(hex_text).map_err(|_| Refusal::Mismatch)?;
            let mut mac = mac(secret.as_bytes())?;
            mac.update(b"v0:");
            mac.update(timestamp.as_bytes());
            mac.update(b":");
            mac.update(body);
            mac.verify_slice(&given).map_err(|_| Refusal::Mismatch)
        }
        Verification::Telegram | Verification::SharedSecret => {
            let given = header(headers, scheme.default_header())?;
            if bool::from(given.as_bytes().ct_eq(secret.as_bytes())) {
                Ok(())
            } else {
                Err(Refusal::Mismatch)
            }
        }
    }
}

/// A fresh secret for a new channel: `whsec_…` for Standard Webhooks, else 32 random bytes
/// as hex (Telegram allows only `A-Z a-z 0-9 _ -`, which hex fits).
pub fn generate(scheme: Verification) -> String {
    match scheme {
        Verification::StandardWebhooks => WebhookSigner::generate().to_whsec(),
        _ => {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            hex::encode(bytes)
        }
    }
}

/// Checks a secret an admin supplied (their provider's) fits the scheme.
pub fn check_secret(scheme: Verification, secret: &str) -> Result<(), &'static str> {
    match scheme {
        Verification::StandardWebhooks => WebhookSigner::from_whsec(secret)
            .map(|_| ())
            .map_err(|_| "must be whsec_ followed by base64 of 24 to 64 bytes"),
        Verification::Telegram
            if !secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Err("Telegram allows only letters, digits, _ and -")
        }
        _ if secret.len() < 16 => Err("must be at least 16 characters"),
        _ if secret.len() > 256 => Err("must be at most 256 characters"),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    // The Standard Webhooks specification's test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const AT: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn standard(signature: &str, at: i64) -> HeaderMap {
        headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", &at.to_string()),
            ("webhook-signature", signature),
        ])
    }

    #[test]
    fn standard_webhooks_vector_verifies() {
        let ok = verify(
            Verification::StandardWebhooks,
            None,
            SECRET,
            &standard(SIGNATURE, AT),
            BODY,
            AT,
        );
        assert_eq!(ok, Ok(()));
        // Several signatures (a rotation): any one matching is enough.
        let several = format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SIGNATURE}");
        assert_eq!(
            verify(
                Verification::StandardWebhooks,
                None,
                SECRET,
                &standard(&several, AT),
                BODY,
                AT
            ),
            Ok(())
        );
    }

    #[test]
    fn standard_webhooks_refuses_tampering_staleness_and_missing_headers() {
        let check = |h: &HeaderMap, body: &[u8], now: i64| {
            verify(Verification::StandardWebhooks, None, SECRET, h, body, now)
        };
        assert_eq!(
            check(&standard(SIGNATURE, AT), br#"{"test": 2432232315}"#, AT),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(
                &standard("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", AT),
                BODY,
                AT
            ),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&standard(SIGNATURE, AT), BODY, AT + 301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            check(&standard(SIGNATURE, AT), BODY, AT - 301),
            Err(Refusal::Stale)
        );
        assert_eq!(check(&standard(SIGNATURE, AT), BODY, AT + 299), Ok(()));
        let no_id = headers(&[
            ("webhook-timestamp", &AT.to_string()),
            ("webhook-signature", SIGNATURE),
        ]);
        assert_eq!(
            check(&no_id, BODY, AT),
            Err(Refusal::Missing("webhook-id".into()))
        );
    }

    fn hmac_hex(key: &str, parts: &[&[u8]]) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key.as_bytes()).unwrap();
        for part in parts {
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn github_style_hmac_in_a_configurable_header() {
        let key = "It's a Secret to Everybody";
        let body = b"Hello, World!";
        // GitHub's documented example signature for this secret and payload.
        let expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(hmac_hex(key, &[body]), expected);
        let h = headers(&[("x-hub-signature-256", &format!("sha256={expected}"))]);
        assert_eq!(
            verify(Verification::HmacSha256, None, key, &h, body, 0),
            Ok(())
        );
        let custom = headers(&[("x-acme-signature", &format!("sha256={expected}"))]);
        assert_eq!(
            verify(
                Verification::HmacSha256,
                Some("x-acme-signature"),
                key,
                &custom,
                body,
                0
            ),
            Ok(())
        );
        assert_eq!(
            verify(Verification::HmacSha256, None, key, &h, b"Hello, World?", 0),
            Err(Refusal::Mismatch)
        );
        let bare = headers(&[("x-hub-signature-256", expected)]);
        assert_eq!(
            verify(Verification::HmacSha256, None, key, &bare, body, 0),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(
                Verification::HmacSha256,
                None,
                key,
                &HeaderMap::new(),
                body,
                0
            ),
            Err(Refusal::Missing("x-hub-signature-256".into()))
        );
    }

    #[test]
    fn slack_signs_version_timestamp_and_body() {
        // Slack's documented example.
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let at = 1_531_420_618;
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        let h = headers(&[
            ("x-slack-request-timestamp", &at.to_string()),
            ("x-slack-signature", expected),
        ]);
        assert_eq!(
            verify(Verification::Slack, None, secret, &h, body, at),
            Ok(())
        );
        assert_eq!(
            verify(Verification::Slack, None, secret, &h, body, at + 600),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(
                Verification::Slack,
                None,
                "another-secret-entirely",
                &h,
                body,
                at
            ),
            Err(Refusal::Mismatch)
        );
    }

    #[test]
    fn telegram_and_shared_secret_compare_the_header() {
        let secret = "a-telegram-secret_token";
        let h = headers(&[("x-telegram-bot-api-secret-token", secret)]);
        assert_eq!(
            verify(Verification::Telegram, None, secret, &h, b"{}", 0),
            Ok(())
        );
        let wrong = headers(&[("x-telegram-bot-api-secret-token", "a-telegram-secret_tokeN")]);
        assert_eq!(
            verify(Verification::Telegram, None, secret, &wrong, b"{}", 0),
            Err(Refusal::Mismatch)
        );
        let plain = headers(&[("x-signature", "  shared-secret-value  ")]);
        assert_eq!(
            verify(
                Verification::SharedSecret,
                None,
                "shared-secret-value",
                &plain,
                b"{}",
                0
            ),
            Ok(())
        );
        // The webhook hub's own test: a `sha256=` guess is refused.
        let guess = headers(&[("x-signature", "sha256=invalid")]);
        assert_eq!(
            verify(
                Verification::SharedSecret,
                None,
                "shared-secret-value",
                &guess,
                b"{}",
                0
            ),
            Err(Refusal::Mismatch)
        );
    }

    #[test]
    fn generated_secrets_fit_their_scheme() {
        for scheme in Verification::ALL {
            assert_eq!(
                check_secret(*scheme, &generate(*scheme)),
                Ok(()),
                "{scheme}"
            );
        }
    }
}

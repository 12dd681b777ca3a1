//! Token formats. Access tokens are short-lived JWTs (HS256 only, with `iss`, `aud`, `exp`,
//! `iat`, `sub`, `company`, `roles`, `sid` and a `kid` header). Refresh, API and
//! password-reset tokens are opaque random strings stored only as SHA-256 hashes: they
//! carry 256 bits of entropy, so a fast hash is enough and lookups stay indexed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::ids::{CompanyId, SessionId, UserId};
use hmac::Mac;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, Result};
use crate::infra::secrets::Secrets;

pub const ISSUER: &str = "ticketflower";
pub const AUDIENCE: &str = "ticketflower-api";
const ALGORITHM: Algorithm = Algorithm::HS256;

/// Prefixes make a leaked token recognisable (and let secret scanners find it).
pub const REFRESH_PREFIX: &str = "tfr_";
pub const API_PREFIX: &str = "tfk_";
pub const RESET_PREFIX: &str = "tfp_";

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub exp: i64,
    pub iat: i64,
    /// The company the token acts in (absent for platform staff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyId>,
    pub roles: Vec<String>,
    /// The session (refresh-token family); logout revokes it.
    pub sid: SessionId,
    /// Platform staff member impersonating inside `company`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp: Option<UserId>,
    /// Always `access`.
    pub typ: String,
}

pub fn sign(secrets: &Secrets, claims: &Claims) -> Result<String> {
    let mut header = Header::new(ALGORITHM);
    header.kid = Some(secrets.jwt_kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secrets.jwt_key()),
    )
    .map_err(AppError::internal)
}

/// Verifies signature, algorithm, issuer, audience, expiry and token type.
pub fn verify(secrets: &Secrets, token: &str) -> Result<Claims> {
    let mut validation = Validation::new(ALGORITHM);
    validation.algorithms = vec![ALGORITHM];
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secrets.jwt_key()),
        &validation,
    )
    .map_err(|e| AppError::Unauthorized(format!("invalid access token: {e}")))?;
    if data.claims.typ != "access" {
        return Err(AppError::Unauthorized("not an access token".into()));
    }
    Ok(data.claims)
}

/// A new opaque token with the given prefix.
pub fn opaque(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for an opaque token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// The CSRF token a page form must carry: an HMAC of the browser's random CSRF cookie and of
/// the session it is signed in with (empty when signed out), under a key derived from the
/// JWT secret. A cookie and field chosen by an attacker do not match, and a token taken from
/// one session is useless in another.
pub fn csrf_token(secrets: &Secrets, nonce: &str, session: Option<SessionId>) -> String {
    csrf_mac(secrets, nonce, session)
        .map(|mac| URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `submitted` is the CSRF token of this cookie and session (constant time).
pub fn csrf_matches(
    secrets: &Secrets,
    nonce: &str,
    session: Option<SessionId>,
    submitted: &str,
) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(submitted) else {
        return false;
    };
    !nonce.is_empty()
        && csrf_mac(secrets, nonce, session).is_some_and(|mac| mac.verify_slice(&tag).is_ok())
}

fn csrf_mac(
    secrets: &Secrets,
    nonce: &str,
    session: Option<SessionId>,
) -> Option<hmac::Hmac<Sha256>> {
    let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(secrets.jwt_key()).ok()?;
    mac.update(b"ticketflower csrf v1\0");
    mac.update(nonce.as_bytes());
    mac.update(b"\0");
    mac.update(
        session
            .map(|s| s.to_string())
            .unwrap_or_default()
            .as_bytes(),
    );
    Some(mac)
}

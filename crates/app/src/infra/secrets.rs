//! Signing and encryption keys. In production they must come from the environment; in
//! development a missing key is generated once and kept in the data directory (with a
//! warning) so that restarts do not log everyone out. The VAPID key of Web Push is the
//! exception: production runs without it, and Web Push is then off.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::infra::settings::{Environment, Settings};

/// Keys in force, each with a key id for rotation.
pub struct Secrets {
    jwt_key: SecretBox<Vec<u8>>,
    pub jwt_kid: String,
    encryption_key: SecretBox<[u8; 32]>,
    pub encryption_kid: String,
    /// The P-256 secret scalar that signs Web Push requests; `None`: Web Push is off.
    vapid_key: Option<SecretBox<[u8; 32]>>,
}

/// The same keys again (a server restarted in-process, as the tests do, keeps its keys).
impl Clone for Secrets {
    fn clone(&self) -> Self {
        Self {
            jwt_key: SecretBox::new(Box::new(self.jwt_key.expose_secret().clone())),
            jwt_kid: self.jwt_kid.clone(),
            encryption_key: SecretBox::new(Box::new(*self.encryption_key.expose_secret())),
            encryption_kid: self.encryption_kid.clone(),
            vapid_key: self
                .vapid_key
                .as_ref()
                .map(|key| SecretBox::new(Box::new(*key.expose_secret()))),
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("jwt_kid", &self.jwt_kid)
            .field("encryption_kid", &self.encryption_kid)
            .field("web_push", &self.vapid_key.is_some())
            .finish_non_exhaustive()
    }
}

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{variable} is required when TICKETFLOWER_ENV=production")]
    Missing { variable: &'static str },
    #[error("{variable} is invalid: {reason}")]
    Invalid {
        variable: &'static str,
        reason: String,
    },
    #[error("cannot keep development secrets in {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

const JWT_VAR: &str = "TICKETFLOWER_JWT_SECRET";
const ENC_VAR: &str = "TICKETFLOWER_ENCRYPTION_KEY";
const VAPID_VAR: &str = "TICKETFLOWER_VAPID_PRIVATE_KEY";
const DEV_FILE: &str = "dev-secrets.json";

#[derive(Serialize, Deserialize, Default)]
struct DevSecrets {
    jwt_secret: Option<String>,
    encryption_key: Option<String>,
    /// Added with Web Push: older files lack it and get it on the next start.
    #[serde(default)]
    vapid_private_key: Option<String>,
}

impl Secrets {
    /// Resolves the keys for these settings (see the module comment).
    pub fn load(settings: &Settings) -> Result<Self, SecretsError> {
        let production = settings.env == Environment::Production;
        let mut jwt = settings
            .jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        let mut enc = settings
            .encryption_key
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        let mut vapid = settings
            .vapid_private_key
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .filter(|s| !s.trim().is_empty());
        if production {
            if jwt.is_none() {
                return Err(SecretsError::Missing { variable: JWT_VAR });
            }
            if enc.is_none() {
                return Err(SecretsError::Missing { variable: ENC_VAR });
            }
            if vapid.is_none() {
                tracing::warn!("{VAPID_VAR} is not set: Web Push is off");
            }
        } else if jwt.is_none() || enc.is_none() || vapid.is_none() {
            let dev = load_or_create_dev_secrets(&settings.data_dir)?;
            jwt = jwt.or(dev.jwt_secret);
            enc = enc.or(dev.encryption_key);
            vapid = vapid.or(dev.vapid_private_key);
        }
        let jwt_key = decode(JWT_VAR, jwt.as_deref().unwrap_or_default())?;
        if jwt_key.len() < 32 {
            return Err(SecretsError::Invalid {
                variable: JWT_VAR,
                reason: "must decode to at least 32 bytes".into(),
            });
        }
        let enc_key: [u8; 32] = decode(ENC_VAR, enc.as_deref().unwrap_or_default())?
            .try_into()
            .map_err(|_| SecretsError::Invalid {
                variable: ENC_VAR,
                reason: "must decode to exactly 32 bytes".into(),
            })?;
        let vapid_key = vapid.as_deref().map(decode_vapid).transpose()?;
        Ok(Self {
            jwt_kid: key_id(&jwt_key),
            encryption_kid: key_id(&enc_key),
            jwt_key: SecretBox::new(Box::new(jwt_key)),
            encryption_key: SecretBox::new(Box::new(enc_key)),
            vapid_key: vapid_key.map(|key| SecretBox::new(Box::new(key))),
        })
    }

    /// Fresh random keys, for tests and tools.
    pub fn generate() -> Self {
        let jwt_key = random_bytes(32);
        let mut enc_key = [0u8; 32];
        rand::rng().fill_bytes(&mut enc_key);
        Self {
            jwt_kid: key_id(&jwt_key),
            encryption_kid: key_id(&enc_key),
            jwt_key: SecretBox::new(Box::new(jwt_key)),
            encryption_key: SecretBox::new(Box::new(enc_key)),
            vapid_key: Some(SecretBox::new(Box::new(random_vapid_key()))),
        }
    }

    /// The same keys without a VAPID key: a server whose Web Push is off.
    pub fn without_web_push(mut self) -> Self {
        self.vapid_key = None;
        self
    }

    /// The VAPID secret scalar (a valid P-256 secret key), when Web Push is on.
    pub fn vapid_key(&self) -> Option<&[u8; 32]> {
        self.vapid_key.as_ref().map(|key| key.expose_secret())
    }

    pub fn jwt_key(&self) -> &[u8] {
        self.jwt_key.expose_secret()
    }

    pub fn encryption_key(&self) -> &[u8; 32] {
        self.encryption_key.expose_secret()
    }
}

fn decode(variable: &'static str, value: &str) -> Result<Vec<u8>, SecretsError> {
    BASE64
        .decode(value.trim())
        .map_err(|e| SecretsError::Invalid {
            variable,
            reason: format!("not base64: {e}"),
        })
}

/// Reads the VAPID key: base64url (padding tolerated) of a raw P-256 secret scalar.
fn decode_vapid(value: &str) -> Result<[u8; 32], SecretsError> {
    let invalid = |reason: &str| SecretsError::Invalid {
        variable: VAPID_VAR,
        reason: reason.into(),
    };
    let bytes = BASE64URL
        .decode(value.trim().trim_end_matches('='))
        .map_err(|_| invalid("not base64url"))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| invalid("must decode to exactly 32 bytes"))?;
    web_push_native::p256::SecretKey::from_slice(&key)
        .map_err(|_| invalid("not a P-256 secret key"))?;
    Ok(key)
}

/// A fresh VAPID key. Almost every 32 random bytes are a valid scalar; the loop skips the
/// rare zero or too-large one.
fn random_vapid_key() -> [u8; 32] {
    loop {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        if web_push_native::p256::SecretKey::from_slice(&key).is_ok() {
            return key;
        }
    }
}

/// A short public fingerprint of a key, used as `kid`; it reveals nothing about the key.
fn key_id(key: &[u8]) -> String {
    hex::encode(&Sha256::digest(key)[..6])
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn load_or_create_dev_secrets(data_dir: &Path) -> Result<DevSecrets, SecretsError> {
    let path = data_dir.join(DEV_FILE);
    let file_error = |source| SecretsError::File {
        path: path.display().to_string(),
        source,
    };
    let mut dev: DevSecrets = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DevSecrets::default(),
        Err(e) => return Err(file_error(e)),
    };
    if dev.jwt_secret.is_some() && dev.encryption_key.is_some() && dev.vapid_private_key.is_some() {
        return Ok(dev);
    }
    dev.jwt_secret
        .get_or_insert_with(|| BASE64.encode(random_bytes(32)));
    dev.encryption_key
        .get_or_insert_with(|| BASE64.encode(random_bytes(32)));
    dev.vapid_private_key
        .get_or_insert_with(|| BASE64URL.encode(random_vapid_key()));
    std::fs::create_dir_all(data_dir).map_err(file_error)?;
    let text = serde_json::to_string_pretty(&dev).unwrap_or_default();
    write_private(&path, &text).map_err(file_error)?;
    tracing::warn!(
        path = %path.display(),
        "generated development secrets; set {JWT_VAR}, {ENC_VAR}, {VAPID_VAR} (and TICKETFLOWER_ENV=production) in production"
    );
    Ok(dev)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Wraps a secret read from a flag or prompt.
pub fn secret(value: String) -> SecretString {
    SecretString::from(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn settings_in(dir: &Path) -> Settings {
        Settings {
            data_dir: dir.to_path_buf(),
            ..Settings::default()
        }
    }

    fn scratch_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tf-secrets-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn development_generates_a_vapid_key_once_and_keeps_it() {
        let dir = scratch_dir();
        let first = Secrets::load(&settings_in(&dir)).unwrap();
        let again = Secrets::load(&settings_in(&dir)).unwrap();
        assert!(first.vapid_key().is_some());
        assert_eq!(first.vapid_key(), again.vapid_key());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_development_file_from_before_web_push_gains_a_vapid_key() {
        let dir = scratch_dir();
        let old = serde_json::json!({
            "jwt_secret": BASE64.encode([7u8; 32]),
            "encryption_key": BASE64.encode([9u8; 32]),
        });
        std::fs::write(dir.join(DEV_FILE), old.to_string()).unwrap();
        let secrets = Secrets::load(&settings_in(&dir)).unwrap();
        assert_eq!(secrets.jwt_key(), &[7u8; 32]);
        assert!(secrets.vapid_key().is_some());
        let kept: DevSecrets =
            serde_json::from_str(&std::fs::read_to_string(dir.join(DEV_FILE)).unwrap()).unwrap();
        assert!(kept.vapid_private_key.is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn production_without_a_vapid_key_runs_with_web_push_off() {
        let dir = scratch_dir();
        let mut settings = settings_in(&dir);
        settings.env = Environment::Production;
        settings.jwt_secret = Some(secret(BASE64.encode([1u8; 32])));
        settings.encryption_key = Some(secret(BASE64.encode([2u8; 32])));
        let secrets = Secrets::load(&settings).unwrap();
        assert!(secrets.vapid_key().is_none());
        assert!(!dir.join(DEV_FILE).exists());
        settings.vapid_private_key = Some(secret(BASE64URL.encode([3u8; 32])));
        assert_eq!(
            Secrets::load(&settings).unwrap().vapid_key(),
            Some(&[3u8; 32])
        );
        settings.vapid_private_key = Some(secret(BASE64URL.encode([3u8; 31])));
        let error = Secrets::load(&settings).unwrap_err().to_string();
        assert!(error.contains(VAPID_VAR), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn debug_does_not_print_the_vapid_key() {
        let secrets = Secrets::generate();
        let key = BASE64URL.encode(secrets.vapid_key().unwrap());
        let printed = format!("{secrets:?}");
        assert!(!printed.contains(&key));
        assert!(printed.contains("web_push: true"), "{printed}");
    }
}

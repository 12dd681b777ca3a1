//! Signing and encryption keys. In production they must come from the environment; in
//! development a missing key is generated once and kept in the data directory (with a
//! warning) so that restarts do not log everyone out.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
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
}

/// The same keys again (a server restarted in-process, as the tests do, keeps its keys).
impl Clone for Secrets {
    fn clone(&self) -> Self {
        Self {
            jwt_key: SecretBox::new(Box::new(self.jwt_key.expose_secret().clone())),
            jwt_kid: self.jwt_kid.clone(),
            encryption_key: SecretBox::new(Box::new(*self.encryption_key.expose_secret())),
            encryption_kid: self.encryption_kid.clone(),
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("jwt_kid", &self.jwt_kid)
            .field("encryption_kid", &self.encryption_kid)
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
const DEV_FILE: &str = "dev-secrets.json";

#[derive(Serialize, Deserialize, Default)]
struct DevSecrets {
    jwt_secret: Option<String>,
    encryption_key: Option<String>,
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
        if production {
            if jwt.is_none() {
                return Err(SecretsError::Missing { variable: JWT_VAR });
            }
            if enc.is_none() {
                return Err(SecretsError::Missing { variable: ENC_VAR });
            }
        } else if jwt.is_none() || enc.is_none() {
            let dev = load_or_create_dev_secrets(&settings.data_dir)?;
            jwt = jwt.or(dev.jwt_secret);
            enc = enc.or(dev.encryption_key);
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
        Ok(Self {
            jwt_kid: key_id(&jwt_key),
            encryption_kid: key_id(&enc_key),
            jwt_key: SecretBox::new(Box::new(jwt_key)),
            encryption_key: SecretBox::new(Box::new(enc_key)),
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
        }
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
    if dev.jwt_secret.is_some() && dev.encryption_key.is_some() {
        return Ok(dev);
    }
    dev.jwt_secret
        .get_or_insert_with(|| BASE64.encode(random_bytes(32)));
    dev.encryption_key
        .get_or_insert_with(|| BASE64.encode(random_bytes(32)));
    std::fs::create_dir_all(data_dir).map_err(file_error)?;
    let text = serde_json::to_string_pretty(&dev).unwrap_or_default();
    write_private(&path, &text).map_err(file_error)?;
    tracing::warn!(
        path = %path.display(),
        "generated development secrets; set {JWT_VAR} and {ENC_VAR} (and TICKETFLOWER_ENV=production) in production"
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

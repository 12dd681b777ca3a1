//! Phones and tablets registered for mobile push (FCM HTTP v1). A device is one person's:
//! the token FCM gave the app on that phone, the platform it runs on and a name the person
//! recognises. The token is unique across the server, so a phone that changes hands moves
//! to whoever registers it last.

use chrono::{DateTime, Utc};

use crate::validation::ValidationErrors;
use crate::{CompanyId, DeviceId, UserId};

/// The longest FCM registration token accepted (FCM's are about 160 characters today).
pub const TOKEN_MAX_CHARS: usize = 4096;
/// The longest device name ("Ada's Pixel").
pub const NAME_MAX_CHARS: usize = 200;

/// What the app runs on; FCM reaches all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// A container `rename_all`, not per-variant names (`named!`): utoipa's schema follows it.
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
    Web,
}

impl Platform {
    pub const ALL: &[Self] = &[Self::Android, Self::Ios, Self::Web];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Ios => "ios",
            Self::Web => "web",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Platform {
    type Err = crate::channel::Unknown;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| crate::channel::Unknown(s.to_owned()))
    }
}

/// A registered device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub company_id: CompanyId,
    pub user_id: UserId,
    pub platform: Platform,
    pub token: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// A registration as checked: what is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub platform: Platform,
    pub token: String,
    pub name: Option<String>,
}

impl Registration {
    /// Checks a registration as typed, naming every bad field: the platform one of
    /// `android`, `ios`, `web`; the token present (trimmed), without spaces, at most
    /// [`TOKEN_MAX_CHARS`]; the name at most [`NAME_MAX_CHARS`] (blank is none).
    pub fn parse(
        platform: &str,
        token: &str,
        name: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let platform = platform.parse::<Platform>().ok();
        if platform.is_none() {
            errors.add("platform", "must be one of: android, ios, web");
        }
        let token = token.trim();
        if token.is_empty() {
            errors.add("token", "is required");
        } else if token.chars().count() > TOKEN_MAX_CHARS {
            errors.add(
                "token",
                format!("must be at most {TOKEN_MAX_CHARS} characters"),
            );
        } else if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.add("token", "must not hold spaces or control characters");
        }
        let name = name.map(str::trim).filter(|name| !name.is_empty());
        if name.is_some_and(|name| name.chars().count() > NAME_MAX_CHARS) {
            errors.add(
                "name",
                format!("must be at most {NAME_MAX_CHARS} characters"),
            );
        }
        match platform {
            Some(platform) if errors.is_empty() => Ok(Self {
                platform,
                token: token.to_owned(),
                name: name.map(str::to_owned),
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<Registration, ValidationErrors>) -> Vec<String> {
        result
            .err()
            .map(|errors| errors.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_registration_is_trimmed_and_a_blank_name_is_none() {
        let checked = Registration::parse("ios", "  abc:123  ", Some("  ")).ok();
        assert_eq!(
            checked,
            Some(Registration {
                platform: Platform::Ios,
                token: "abc:123".into(),
                name: None,
            })
        );
        let named = Registration::parse("android", "t", Some(" Ada's Pixel ")).ok();
        assert_eq!(named.and_then(|r| r.name), Some("Ada's Pixel".into()));
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(
            fields(Registration::parse(
                "blackberry",
                " ",
                Some(&"n".repeat(201))
            )),
            ["platform", "token", "name"]
        );
        assert_eq!(
            fields(Registration::parse("web", &"t".repeat(4097), None)),
            ["token"]
        );
        assert_eq!(fields(Registration::parse("web", "a b", None)), ["token"]);
        assert!(Registration::parse("web", &"t".repeat(4096), Some(&"n".repeat(200))).is_ok());
        assert_eq!(
            fields(Registration::parse("Android", "t", None)),
            ["platform"]
        );
    }

    #[test]
    fn platforms_read_and_write_the_names_the_api_uses() {
        for platform in Platform::ALL {
            let json = serde_json::to_value(platform).unwrap();
            assert_eq!(json, platform.as_str());
            assert_eq!(platform.as_str().parse::<Platform>().ok(), Some(*platform));
        }
        assert!("Android".parse::<Platform>().is_err());
    }
}

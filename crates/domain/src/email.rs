//! Email addresses, the only login identifier. Parsed once at the edge: trimmed and
//! lower-cased so that lookups are case-insensitive everywhere without SQL tricks.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically plausible, normalised email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a string is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("is empty")]
    Empty,
    #[error("is longer than 254 characters")]
    TooLong,
    #[error("is not a valid email address")]
    Invalid,
    #[error("contains an invisible, direction-changing or otherwise unsafe character")]
    UnsafeCharacter,
    #[error("mixes writing systems in a way that imitates another address")]
    MixedScript,
}

impl Email {
    /// Trims, lower-cases and checks the address. Deliberately simple: one `@`, a non-empty
    /// local part, and a domain with a dot and no spaces. Deliverability is proven by mail.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(EmailError::Invalid);
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        if local.is_empty() || !domain_ok || email.chars().any(char::is_whitespace) {
            return Err(EmailError::Invalid);
        }
        check_look_alikes(local, domain)?;
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Refuses addresses that look like another one: any non-ASCII character that Unicode's
/// security profile (UTS #39) does not allow in identifiers (zero-width characters,
/// direction overrides, controls, symbols), and a local part or domain label that mixes
/// scripts (`pаypal` with a Cyrillic `а`). Addresses written wholly in one script pass.
fn check_look_alikes(local: &str, domain: &str) -> Result<(), EmailError> {
    use unicode_security::{GeneralSecurityProfile, MixedScript};
    let all = local.chars().chain(domain.chars());
    if all
        .clone()
        .any(|c| c.is_control() || (!c.is_ascii() && !c.identifier_allowed()))
    {
        return Err(EmailError::UnsafeCharacter);
    }
    if local.is_ascii() && domain.is_ascii() {
        return Ok(());
    }
    let single = std::iter::once(local)
        .chain(domain.split('.'))
        .all(|part| part.is_single_script());
    if single {
        Ok(())
    } else {
        Err(EmailError::MixedScript)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_look_alikes() {
        for raw in [
            "ada\u{200b}@example.com",
            "ada@exam\u{202e}ple.com",
            "ada\u{2060}@example.com",
            "ada\u{feff}@example.com",
            "p\u{0430}ypal@example.com",
            "ada@\u{0435}xample.com",
        ] {
            assert!(
                matches!(
                    Email::parse(raw),
                    Err(EmailError::UnsafeCharacter | EmailError::MixedScript)
                ),
                "{raw:?} was accepted"
            );
        }
        assert!(Email::parse("иван@почта.рф").is_ok());
        assert!(Email::parse("josé@example.com").is_ok());
        assert!(Email::parse("o'brien+tag@example.co.uk").is_ok());
    }

    #[test]
    fn normalises_case_and_whitespace() {
        let email = Email::parse("  Ada@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad}");
        }
    }
}

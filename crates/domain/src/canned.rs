//! Canned replies: texts a company's agents insert into a reply by typing `/` and the
//! reply's shortcut. The shortcut is what an agent types, so it is parsed once, here, into
//! the one spelling the composer matches and the database keeps unique per company.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CannedReplyId, CompanyId, UserId};

/// The longest shortcut: a word or two an agent types after `/`.
pub const SHORTCUT_MAX_CHARS: usize = 32;
/// The longest title (the hub's `CannedReply.title` held 120).
pub const TITLE_MAX_CHARS: usize = 120;

/// What an agent types after `/`: lower-case ASCII letters, digits, `-` and `_`, starting
/// with a letter or a digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Shortcut(String);

/// Why a text is not a shortcut; each says what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShortcutError {
    #[error("is required")]
    Empty,
    #[error("must be at most {SHORTCUT_MAX_CHARS} characters")]
    TooLong,
    #[error("may hold only lower-case letters a-z, digits, - and _")]
    Invalid,
    #[error("must start with a letter or a digit")]
    BadStart,
}

impl Shortcut {
    /// Trims the text, drops one leading `/` (people type the shortcut as they would use it)
    /// and lower-cases ASCII letters, then checks what is left. Anything else is refused
    /// rather than changed, so the shortcut saved is the one the person sees.
    pub fn parse(raw: &str) -> Result<Self, ShortcutError> {
        let text = raw.trim();
        let text = text.strip_prefix('/').unwrap_or(text).to_ascii_lowercase();
        if text.is_empty() {
            return Err(ShortcutError::Empty);
        }
        if text.chars().count() > SHORTCUT_MAX_CHARS {
            return Err(ShortcutError::TooLong);
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(ShortcutError::Invalid);
        }
        if text.starts_with(['-', '_']) {
            return Err(ShortcutError::BadStart);
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Shortcut {
    type Error = ShortcutError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Shortcut> for String {
    fn from(value: Shortcut) -> Self {
        value.0
    }
}

impl fmt::Display for Shortcut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A canned reply as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CannedReply {
    pub id: CannedReplyId,
    pub company_id: CompanyId,
    pub shortcut: Shortcut,
    pub title: String,
    pub body: String,
    /// Lists show lower numbers first, then by title.
    pub sort_order: i32,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
    pub updated_at: DateTime<Utc>,
    pub updated_by: UserId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_trimmed_lower_cased_and_lose_one_leading_slash() {
        for (raw, parsed) in [
            ("refund", "refund"),
            ("  /Refund-2_eu ", "refund-2_eu"),
            ("404", "404"),
        ] {
            assert_eq!(Shortcut::parse(raw).map(String::from), Ok(parsed.into()));
        }
        assert_eq!(Shortcut::parse(""), Err(ShortcutError::Empty));
        assert_eq!(Shortcut::parse(" / "), Err(ShortcutError::Empty));
        assert_eq!(Shortcut::parse("//x"), Err(ShortcutError::Invalid));
        assert_eq!(Shortcut::parse("two words"), Err(ShortcutError::Invalid));
        assert_eq!(Shortcut::parse("café"), Err(ShortcutError::Invalid));
        assert_eq!(Shortcut::parse("-x"), Err(ShortcutError::BadStart));
        assert_eq!(
            Shortcut::parse(&"a".repeat(SHORTCUT_MAX_CHARS + 1)),
            Err(ShortcutError::TooLong)
        );
        assert!(Shortcut::parse(&"a".repeat(SHORTCUT_MAX_CHARS)).is_ok());
    }
}

//! Moments as people read them: "3 h ago", with the exact time on hover (in UTC from the
//! server; `app.js` rewrites the hover into the reader's own time zone).

use std::fmt;

use chrono::{DateTime, Utc};

/// A moment of the past, written relative to when the page was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct When {
    at: DateTime<Utc>,
    now: DateTime<Utc>,
}

/// `at`, relative to now.
pub fn when(at: DateTime<Utc>) -> When {
    When::relative_to(at, Utc::now())
}

impl When {
    pub fn relative_to(at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self { at, now }
    }

    /// "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", then the date.
    pub fn relative(&self) -> String {
        let seconds = (self.now - self.at).num_seconds();
        match seconds {
            // A clock a little ahead of ours is still "just now".
            ..60 => "just now".into(),
            60..3_600 => format!("{} min ago", seconds / 60),
            3_600..86_400 => format!("{} h ago", seconds / 3_600),
            86_400..172_800 => "yesterday".into(),
            172_800..604_800 => format!("{} days ago", seconds / 86_400),
            _ if self.at.format("%Y").to_string() == self.now.format("%Y").to_string() => {
                self.at.format("%-d %b").to_string()
            }
            _ => self.at.format("%-d %b %Y").to_string(),
        }
    }

    /// The exact time, for the hover and for machines.
    pub fn exact(&self) -> String {
        self.at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

/// Writes a `<time>` element: every part is made of digits, month names and the fixed words
/// above, so nothing needs escaping.
impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"<time datetime="{}" title="{}">{}</time>"#,
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.exact(),
            self.relative()
        )
    }
}

impl askama::filters::HtmlSafe for When {}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ago(seconds: i64) -> String {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        When::relative_to(now - chrono::Duration::seconds(seconds), now).relative()
    }

    #[test]
    fn reads_like_a_person_would_say_it() {
        assert_eq!(ago(-5), "just now");
        assert_eq!(ago(59), "just now");
        assert_eq!(ago(60), "1 min ago");
        assert_eq!(ago(3_599), "59 min ago");
        assert_eq!(ago(3 * 3_600 + 10), "3 h ago");
        assert_eq!(ago(86_400 + 5), "yesterday");
        assert_eq!(ago(4 * 86_400), "4 days ago");
        assert_eq!(ago(10 * 86_400), "20 Nov");
        assert_eq!(ago(400 * 86_400), "26 Oct 2025");
    }

    #[test]
    fn is_a_time_element_with_the_exact_moment() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let at = now - chrono::Duration::hours(3);
        assert_eq!(
            When::relative_to(at, now).to_string(),
            r#"<time datetime="2026-11-30T09:00:00Z" title="2026-11-30 09:00 UTC">3 h ago</time>"#
        );
    }
}

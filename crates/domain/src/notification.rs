//! Notifications: the types of things people are told, the channels they are told through,
//! the defaults of each, and quiet hours.

use chrono::{DateTime, NaiveTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

named! {
    /// What a notification is about. Each has a default per channel ([`Kind::defaults`]),
    /// which a company and then each person may change.
    Kind {
        /// A task was assigned to me.
        TaskAssigned = "task_assigned",
        /// A task I may claim waits in my queue.
        TaskQueued = "task_queued",
        /// A ticket I submitted moved to a new step.
        TicketStep = "ticket_step",
        /// A ticket I submitted waits for my input (a form task given to me).
        TicketInput = "ticket_input",
        /// A ticket I submitted was completed.
        TicketCompleted = "ticket_completed",
        /// A ticket I submitted was rejected.
        TicketRejected = "ticket_rejected",
        /// A ticket I submitted, work on or follow was cancelled.
        TicketCancelled = "ticket_cancelled",
        /// A comment on a ticket I submitted, work on or follow.
        Comment = "comment",
        /// Someone wrote `@me` in a comment, note or message.
        Mention = "mention",
        /// A new message in a conversation I am in or assigned to.
        Message = "message",
        /// A conversation was assigned to me.
        ConversationAssigned = "conversation_assigned",
        /// A registration awaits my approval (company admins).
        Registration = "registration",
        /// A workflow step failed (ticket admins).
        WorkflowError = "workflow_error",
        /// A reply could not be delivered to its channel (company admins).
        DeliveryFailed = "delivery_failed",
    }
}

named! {
    /// Where a notification is delivered.
    Channel {
        InApp = "in_app",
        Email = "email",
        WebPush = "web_push",
        Mobile = "mobile",
    }
}

/// Which channels a notification type goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Channels {
    pub in_app: bool,
    pub email: bool,
    pub web_push: bool,
    pub mobile: bool,
}

impl Channels {
    pub fn get(&self, channel: Channel) -> bool {
        match channel {
            Channel::InApp => self.in_app,
            Channel::Email => self.email,
            Channel::WebPush => self.web_push,
            Channel::Mobile => self.mobile,
        }
    }

    /// Whether anything is delivered at all.
    pub fn any(&self) -> bool {
        self.in_app || self.email || self.web_push || self.mobile
    }
}

impl Kind {
    /// What a person reads in the preferences.
    pub fn label(self) -> &'static str {
        match self {
            Kind::TaskAssigned => "A task is assigned to me",
            Kind::TaskQueued => "A task waits in my queue",
            Kind::TicketStep => "My ticket moved to a new step",
            Kind::TicketInput => "My ticket needs my input",
            Kind::TicketCompleted => "My ticket was completed",
            Kind::TicketRejected => "My ticket was rejected",
            Kind::TicketCancelled => "A ticket I am part of was cancelled",
            Kind::Comment => "A comment on a ticket I am part of",
            Kind::Mention => "Someone mentions me",
            Kind::Message => "A new message in my conversation",
            Kind::ConversationAssigned => "A conversation is assigned to me",
            Kind::Registration => "A registration awaits approval",
            Kind::WorkflowError => "A workflow step failed",
            Kind::DeliveryFailed => "A reply could not be delivered",
        }
    }

    /// The built-in defaults: everything in the app; e-mail and push for what waits on the
    /// person or concerns their own request; a task merely waiting in a shared queue and
    /// a chat message (the conversation is live on the page) stay out of the mailbox.
    pub fn defaults(self) -> Channels {
        let all = Channels {
            in_app: true,
            email: true,
            web_push: true,
            mobile: true,
        };
        match self {
            Kind::TaskQueued => Channels {
                email: false,
                mobile: false,
                ..all
            },
            Kind::TicketStep => Channels {
                email: false,
                ..all
            },
            Kind::Message => Channels {
                email: false,
                ..all
            },
            _ => all,
        }
    }
}

/// What a push (Web Push or mobile) carries: nothing private. The title names what
/// happened and where ("New comment on #42"), never a comment's or message's text; the page
/// reads the rest when it is opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The notification it announces; `None` for a test push.
    pub notification_id: Option<crate::NotificationId>,
    /// A [`Kind`]'s name, or `test`.
    pub kind: String,
    pub title: String,
    /// Where opening it leads: a path of this server, such as `/tickets/{id}`.
    pub url: String,
}

/// Hours in which a person wants no push and no e-mail (the app still counts them):
/// from `start` to `end` in their time zone, across midnight when `end` is before `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub time_zone: chrono_tz::Tz,
}

/// Quiet hours that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuietHoursError {
    #[error("must be a time as HH:MM")]
    Time,
    #[error("must be an IANA time zone such as Europe/Berlin")]
    TimeZone,
    #[error("must differ from the start")]
    Empty,
}

impl QuietHours {
    /// Reads `HH:MM` times and an IANA zone name; the error says which part is wrong.
    pub fn parse(
        start: &str,
        end: &str,
        time_zone: &str,
    ) -> Result<Self, (&'static str, QuietHoursError)> {
        let time = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").ok();
        let start = time(start).ok_or(("start", QuietHoursError::Time))?;
        let end = time(end).ok_or(("end", QuietHoursError::Time))?;
        if start == end {
            return Err(("end", QuietHoursError::Empty));
        }
        let time_zone = time_zone
            .parse()
            .map_err(|_| ("time_zone", QuietHoursError::TimeZone))?;
        Ok(Self {
            start,
            end,
            time_zone,
        })
    }

    /// Minutes after midnight, as stored.
    pub fn minutes(time: NaiveTime) -> i32 {
        i32::try_from(time.num_seconds_from_midnight() / 60).unwrap_or(0)
    }

    pub fn from_minutes(start: i32, end: i32, time_zone: &str) -> Option<Self> {
        let time =
            |m: i32| NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(m).ok()? * 60, 0);
        Some(Self {
            start: time(start)?,
            end: time(end)?,
            time_zone: time_zone.parse().ok()?,
        })
    }

    /// `None` outside the quiet hours; inside, the moment they end.
    pub fn until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.time_zone);
        let time = local.time();
        let inside = if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        };
        if !inside {
            return None;
        }
        let mut day = local.date_naive();
        if time >= self.end {
            day = day.succ_opt()?;
        }
        let end = day.and_time(self.end);
        // A gap (daylight saving) has no such local time: an hour later does.
        let end = self
            .time_zone
            .from_local_datetime(&end)
            .earliest()
            .or_else(|| {
                self.time_zone
                    .from_local_datetime(&(end + chrono::Duration::hours(1)))
                    .earliest()
            })?;
        Some(end.with_timezone(&Utc))
    }
}

/// The `@names` in a text: a word character run after `@` that does not follow a word
/// character (so `someone@example.com` mentions nobody). Lower-cased, without repeats.
pub fn mentions(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let after_word = previous.is_some_and(|p| p.is_alphanumeric() || p == '_');
        previous = Some(c);
        if c != '@' || after_word {
            continue;
        }
        let rest = &text[i + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .collect();
        let name = name.trim_end_matches(['.', '-']).to_lowercase();
        if !name.is_empty() && !found.contains(&name) {
            found.push(name);
        }
        while chars
            .peek()
            .is_some_and(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            if let Some((_, c)) = chars.next() {
                previous = Some(c);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_names_after_an_at_sign_not_addresses() {
        assert_eq!(
            mentions("@anna please ask @Bob.Smith, not someone@example.com. @anna again"),
            vec!["anna".to_owned(), "bob.smith".to_owned()]
        );
        assert!(mentions("no one here @ all").is_empty());
    }

    #[test]
    fn quiet_hours_across_midnight_end_the_next_morning() {
        let quiet = QuietHours::parse("22:00", "07:00", "Europe/Berlin").unwrap();
        // 23:30 in Berlin (winter, UTC+1) is 22:30 UTC.
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 22, 30, 0).unwrap();
        assert_eq!(
            quiet.until(now),
            Some(Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap())
        );
        // 03:00 Berlin is inside too and ends the same morning.
        let night = Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap();
        assert_eq!(
            quiet.until(night),
            Some(Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap())
        );
        let noon = Utc.with_ymd_and_hms(2026, 12, 2, 11, 0, 0).unwrap();
        assert_eq!(quiet.until(noon), None);
    }

    #[test]
    fn bad_quiet_hours_name_the_part() {
        assert_eq!(
            QuietHours::parse("25:00", "07:00", "UTC").unwrap_err().0,
            "start"
        );
        assert_eq!(
            QuietHours::parse("22:00", "07:00", "Mars/Olympus")
                .unwrap_err()
                .0,
            "time_zone"
        );
        assert_eq!(
            QuietHours::parse("07:00", "07:00", "UTC").unwrap_err().0,
            "end"
        );
    }
}

//! Channels: where conversations arrive from besides the built-in web chat, how their
//! webhooks are verified, and how replies and events are delivered back (retry schedule,
//! what an answer means).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The string names no value of the enum it was read as.
#[derive(Debug, thiserror::Error)]
#[error("unknown value `{0}`")]
pub struct Unknown(pub String);

named! {
    /// What is behind a channel.
    ChannelKind {
        /// An external chat system: signed inbound webhooks, replies POSTed to its endpoint.
        Api = "api",
        /// A stand-in for an external system: replies are recorded, not sent, and its page
        /// sends inbound messages, for trying the inbox.
        Test = "test",
    }
}

named! {
    /// How an inbound webhook proves it comes from the channel's provider.
    Verification {
        /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`
        /// (HMAC-SHA256 over `{id}.{timestamp}.{body}`).
        StandardWebhooks = "standard_webhooks",
        /// HMAC-SHA256 of the body, hex, as `sha256=<hex>` in a configurable header
        /// (GitHub's `X-Hub-Signature-256` by default).
        HmacSha256 = "hmac_sha256",
        /// Slack: `X-Slack-Signature: v0=<hex HMAC of v0:{ts}:{body}>` with
        /// `X-Slack-Request-Timestamp`.
        Slack = "slack",
        /// Telegram: the secret itself in `X-Telegram-Bot-Api-Secret-Token`.
        Telegram = "telegram",
        /// The webhook hub's plain shared secret in `X-Signature`, for compatibility.
        SharedSecret = "shared_secret",
    }
}

impl Verification {
    /// Whether the scheme signs a timestamp, so that a replayed request can be refused by
    /// its age (the others rely on the dedupe of provider message ids).
    pub fn signs_timestamp(self) -> bool {
        matches!(self, Self::StandardWebhooks | Self::Slack)
    }

    /// The header that carries the proof, for redacting it from the stored raw event.
    pub fn default_header(self) -> &'static str {
        match self {
            Self::StandardWebhooks => "webhook-signature",
            Self::HmacSha256 => "x-hub-signature-256",
            Self::Slack => "x-slack-signature",
            Self::Telegram => "x-telegram-bot-api-secret-token",
            Self::SharedSecret => "x-signature",
        }
    }
}

named! {
    /// Where an outbound message is on its way to the contact.
    DeliveryState {
        /// Waiting for (another) attempt.
        Queued = "queued",
        /// The provider accepted it.
        Sent = "sent",
        /// The provider reports it reached the contact.
        Delivered = "delivered",
        /// The provider reports the contact read it.
        Read = "read",
        /// Given up: permanently refused, or the retry schedule ran out.
        Failed = "failed",
    }
}

impl DeliveryState {
    /// A later report never moves a message back (a late `sent` after `read`).
    pub fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Failed => 1,
            Self::Sent => 2,
            Self::Delivered => 3,
            Self::Read => 4,
        }
    }
}

/// What one attempt's answer means for the delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth another attempt (network error, timeout, 408, 429, 5xx).
    Retry,
    /// Trying again cannot help (another 4xx).
    Permanent,
    /// 410 Gone: the endpoint is no more; the channel is paused.
    Gone,
}

impl Outcome {
    /// Classifies an HTTP status (`None`: no answer at all).
    pub fn of_status(status: Option<u16>) -> Self {
        match status {
            None => Self::Retry,
            Some(200..=299) => Self::Delivered,
            Some(410) => Self::Gone,
            Some(408 | 429) | Some(500..=599) => Self::Retry,
            Some(_) => Self::Permanent,
        }
    }
}

/// The pauses between attempts: `5s, 5m, 30m, 2h, 5h, 10h, 10h` by default, eight
/// attempts over about 27.6 hours (as Svix does), so a receiver down for a day still gets
/// everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// The schedule text could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("the schedule is empty")]
    Empty,
    #[error("`{0}` is not a duration like 500ms, 5s, 5m or 2h")]
    Bad(String),
    #[error("a schedule has at most 20 steps")]
    TooLong,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self(vec![
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ])
    }
}

impl FromStr for RetrySchedule {
    type Err = ScheduleError;
    fn from_str(text: &str) -> Result<Self, ScheduleError> {
        let steps = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()?;
        if steps.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if steps.len() > 20 {
            return Err(ScheduleError::TooLong);
        }
        Ok(Self(steps))
    }
}

fn parse_duration(step: &str) -> Result<Duration, ScheduleError> {
    let bad = || ScheduleError::Bad(step.to_owned());
    let split = step.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = step.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        _ => Err(bad()),
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<String> = self
            .0
            .iter()
            .map(|d| format!("{}ms", d.as_millis()))
            .collect();
        f.write_str(&steps.join(","))
    }
}

impl RetrySchedule {
    /// Attempts in all: the first and one after each pause.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.0.len() + 1).unwrap_or(u32::MAX)
    }

    /// The pause after attempt number `attempt` (1 = the first) failed, or `None` when the
    /// schedule has run out. `unit_random` in `[0, 1)` spreads it by ±10 % so that many
    /// deliveries failed together do not retry together; a receiver's `Retry-After` is
    /// honoured when it asks for longer (up to a day).
    pub fn pause_after(
        &self,
        attempt: u32,
        unit_random: f64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let base = *self.0.get(index)?;
        let jitter = 0.9 + 0.2 * unit_random.clamp(0.0, 1.0);
        let pause = base.mul_f64(jitter);
        let asked = retry_after.map(|d| d.min(Duration::from_secs(24 * 3600)));
        Some(asked.map_or(pause, |asked| asked.max(pause)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_runs_past_a_day_in_eight_attempts() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 8);
        let total: Duration = (1..8)
            .map(|a| schedule.pause_after(a, 0.5, None).unwrap_or_default())
            .sum();
        assert!(total > Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(schedule.pause_after(8, 0.5, None), None);
    }

    #[test]
    fn schedule_parses_units_and_refuses_nonsense() {
        let schedule: RetrySchedule = "100ms, 2s,1m,1h".parse().unwrap_or_default();
        assert_eq!(schedule.attempts(), 5);
        assert_eq!(
            schedule.pause_after(1, 0.5, None),
            Some(Duration::from_millis(100))
        );
        assert_eq!("".parse::<RetrySchedule>(), Err(ScheduleError::Empty));
        assert!(matches!(
            "5x".parse::<RetrySchedule>(),
            Err(ScheduleError::Bad(_))
        ));
        assert!(matches!(
            "s".parse::<RetrySchedule>(),
            Err(ScheduleError::Bad(_))
        ));
    }

    #[test]
    fn retry_after_is_honoured_when_longer() {
        let schedule: RetrySchedule = "1s".parse().unwrap_or_default();
        let asked = Some(Duration::from_secs(30));
        assert_eq!(schedule.pause_after(1, 0.0, asked), asked);
        assert_eq!(
            schedule.pause_after(1, 0.0, Some(Duration::from_millis(1))),
            Some(Duration::from_millis(900))
        );
    }

    #[test]
    fn statuses_classify() {
        assert_eq!(Outcome::of_status(Some(204)), Outcome::Delivered);
        assert_eq!(Outcome::of_status(Some(429)), Outcome::Retry);
        assert_eq!(Outcome::of_status(Some(408)), Outcome::Retry);
        assert_eq!(Outcome::of_status(Some(503)), Outcome::Retry);
        assert_eq!(Outcome::of_status(None), Outcome::Retry);
        assert_eq!(Outcome::of_status(Some(410)), Outcome::Gone);
        assert_eq!(Outcome::of_status(Some(400)), Outcome::Permanent);
        assert_eq!(Outcome::of_status(Some(404)), Outcome::Permanent);
    }

    #[test]
    fn names_round_trip() {
        for v in Verification::ALL {
            assert_eq!(v.as_str().parse::<Verification>().ok(), Some(*v));
        }
        for s in DeliveryState::ALL {
            assert_eq!(s.as_str().parse::<DeliveryState>().ok(), Some(*s));
        }
    }
}

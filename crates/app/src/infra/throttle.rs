//! Per-address throttles for the anonymous endpoints that cost the server real work or
//! create things: sign-up (a company each), self-registration, password reset requests and
//! confirmations (an argon2 hash each). Logins have their own throttle, counted from the
//! login log, because it must also lock an account across addresses.
//!
//! Kept in memory per server (GCRA through `governor`): a restart forgets them, and with
//! several servers behind a balancer each allows its own share. That is enough to stop one
//! address from flooding; see docs/decisions.md.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::Settings;
use crate::error::{AppError, Result};

/// What is being throttled.
#[derive(Clone, Copy, Debug)]
pub enum Throttled {
    Signup,
    Register,
    PasswordReset,
    PasswordResetConfirm,
}

/// One limiter per kind of request, keyed by client address.
pub struct Throttles {
    signup: Option<DefaultKeyedRateLimiter<IpAddr>>,
    register: Option<DefaultKeyedRateLimiter<IpAddr>>,
    reset: Option<DefaultKeyedRateLimiter<IpAddr>>,
    reset_confirm: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

fn per_hour(count: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    // The whole hourly allowance may be used at once, then it refills evenly.
    let count = NonZeroU32::new(count)?;
    let quota = Quota::with_period(Duration::from_secs(3600) / count.get())?.allow_burst(count);
    Some(RateLimiter::keyed(quota))
}

impl Throttles {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            signup: per_hour(settings.signup_per_ip_hour),
            register: per_hour(settings.register_per_ip_hour),
            reset: per_hour(settings.password_reset_per_ip_hour),
            reset_confirm: per_hour(settings.password_reset_per_ip_hour),
        }
    }

    /// Takes one request of `kind` from `ip`'s allowance, or answers 429 with the wait.
    /// A client whose address is unknown (not a socket) shares one allowance.
    pub fn check(&self, kind: Throttled, ip: &str) -> Result<()> {
        let limiter = match kind {
            Throttled::Signup => &self.signup,
            Throttled::Register => &self.register,
            Throttled::PasswordReset => &self.reset,
            Throttled::PasswordResetConfirm => &self.reset_confirm,
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        let key = ip.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        // Forget addresses whose allowance is full again, so the map stays small.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&key).map_err(|not_until| {
            metrics::counter!("throttled_requests_total", "kind" => format!("{kind:?}"))
                .increment(1);
            AppError::TooManyRequests {
                retry_after: not_until
                    .wait_time_from(DefaultClock::default().now())
                    .max(Duration::from_secs(1)),
            }
        })
    }
}

//! Authentication served from memory. Every request used to read its session, user and
//! company (or its API token, user and company) from the database before doing anything
//! else; this keeps what those reads found, so a request costs none. A change of who may
//! act still applies to the very next request:
//!
//! - Every committed event whose kind may change who can act
//!   ([`domain::event::EventKind::changes_who_may_act`]) is noted by the transaction, and
//!   [`crate::App::commit`] calls [`AuthCache::forget`] before it returns; other servers
//!   learn it from the commit hint on the bus (`realtime::bus`).
//! - Forgetting moves a generation forward rather than deleting entries. One counter numbers
//!   every change; each company remembers the number of its last change, and `everyone`
//!   that of the last change that reached all. A request notes the counter **before** it
//!   reads the database and keeps the number with what it read; an entry is served only
//!   while no change of its company, nor one reaching everyone, has a greater number. A
//!   change that commits while the read runs is numbered after it, so what that read may
//!   have found stale is never served. One counter rather than one per company: an API
//!   token's company is only known once it has been read.
//! - What is kept is rows, not verdicts: each use checks them again, so an API token's
//!   expiry or a session's owner is judged at the time of the request.
//! - Entries live at most `auth_cache_secs` (a safety net for a change no event announced),
//!   and nothing is served while the bus between servers is down, since another server's
//!   changes could not be heard then.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::CompanyId;
use domain::company::CompanyStatus;
use domain::ids::SessionId;
use domain::user::User;
use quick_cache::sync::Cache;
use store::api_tokens::ApiToken;
use store::users::SessionPrincipal;

/// Sessions and API tokens kept, each; past this the least used are dropped.
const CAPACITY: usize = 10_000;

/// What authentication read for a session.
#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub principal: SessionPrincipal,
    /// The staff account of an impersonation session.
    pub staff: Option<User>,
}

/// What authentication read for an API token.
#[derive(Debug)]
pub(crate) struct TokenEntry {
    pub token: ApiToken,
    pub user: User,
    pub company_status: CompanyStatus,
    /// When this server last recorded the token's use (Unix seconds), so that it writes
    /// `last_used_at` once a minute, not on every request.
    last_touch: AtomicI64,
}

impl TokenEntry {
    pub(crate) fn new(token: ApiToken, user: User, company_status: CompanyStatus) -> Self {
        let last_touch = token.last_used_at.map_or(i64::MIN, |at| at.timestamp());
        Self {
            token,
            user,
            company_status,
            last_touch: AtomicI64::new(last_touch),
        }
    }

    /// Whether this request records the token's use: true for one request once the last
    /// record is a minute old. The caller gives it back ([`Self::untouch`]) if the write
    /// fails.
    pub(crate) fn claim_touch(&self, now: DateTime<Utc>) -> Option<i64> {
        let last = self.last_touch.load(Ordering::Relaxed);
        (now.timestamp().saturating_sub(last) >= 60)
            .then(|| {
                self.last_touch
                    .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
                    .ok()
            })
            .flatten()
    }

    /// Gives back a claim whose write failed, so the next request tries again.
    pub(crate) fn untouch(&self, now: DateTime<Utc>, previous: i64) {
        let _ = self.last_touch.compare_exchange(
            now.timestamp(),
            previous,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// A read's place among the changes: the counter's value before the read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp(u64);

struct Kept<T> {
    value: Arc<T>,
    company: Option<CompanyId>,
    stamp: u64,
    loaded: Instant,
}

// By hand: a derived `Clone` would ask `T: Clone`, and only the `Arc` is cloned.
impl<T> Clone for Kept<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            company: self.company,
            stamp: self.stamp,
            loaded: self.loaded,
        }
    }
}

#[derive(Debug, Default)]
struct Generations {
    /// The number of the last change.
    last: u64,
    /// The number of the last change that reached everyone.
    everyone: u64,
    /// The number of each company's last change, when later than `everyone`.
    companies: HashMap<CompanyId, u64>,
}

/// How often authentication was answered from memory, and how often it read the database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthCacheStats {
    pub hits: u64,
    pub loads: u64,
}

/// The authentication cache of one server (see the module's comment).
pub struct AuthCache {
    sessions: Cache<SessionId, Kept<SessionEntry>>,
    tokens: Cache<String, Kept<TokenEntry>>,
    generations: Mutex<Generations>,
    ttl: Duration,
    /// Whether this server hears the other servers' changes (always, with the `local` bus).
    hearing: AtomicBool,
    hits: AtomicU64,
    loads: AtomicU64,
}

impl AuthCache {
    /// A cache whose entries live at most `ttl` (zero: nothing is kept). `hearing`: whether
    /// other servers' changes reach this one from the start (no other servers, or a bus
    /// that is up); otherwise nothing is served until [`Self::set_hearing`] says so.
    pub fn new(ttl: Duration, hearing: bool) -> Self {
        Self {
            sessions: Cache::new(CAPACITY),
            tokens: Cache::new(CAPACITY),
            generations: Mutex::default(),
            ttl,
            hearing: AtomicBool::new(hearing),
            hits: AtomicU64::new(0),
            loads: AtomicU64::new(0),
        }
    }

    fn generations(&self) -> MutexGuard<'_, Generations> {
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn serving(&self) -> bool {
        !self.ttl.is_zero() && self.hearing.load(Ordering::Acquire)
    }

    /// A change of who may act in `company` (`None`: anywhere) has committed: whatever was
    /// read before it is not served again.
    pub fn forget(&self, company: Option<CompanyId>) {
        let mut generations = self.generations();
        generations.last += 1;
        let number = generations.last;
        match company {
            Some(company) => {
                generations.companies.insert(company, number);
            }
            None => {
                generations.everyone = number;
                generations.companies.clear();
            }
        }
    }

    /// Whether this server hears the others' changes. Going deaf stops serving from memory;
    /// hearing again forgets everything, since what was said meanwhile is lost.
    pub fn set_hearing(&self, hearing: bool) {
        if hearing {
            self.forget(None);
        }
        self.hearing.store(hearing, Ordering::Release);
    }

    pub fn stats(&self) -> AuthCacheStats {
        AuthCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            loads: self.loads.load(Ordering::Relaxed),
        }
    }

    /// Called before each database read of authentication; its stamp goes with what the
    /// read finds.
    pub(crate) fn begin_load(&self) -> Stamp {
        self.loads.fetch_add(1, Ordering::Relaxed);
        Stamp(self.generations().last)
    }

    fn current<T>(&self, kept: &Kept<T>) -> bool {
        if kept.loaded.elapsed() >= self.ttl {
            return false;
        }
        let generations = self.generations();
        generations.everyone <= kept.stamp
            && kept.company.is_none_or(|company| {
                generations
                    .companies
                    .get(&company)
                    .is_none_or(|number| *number <= kept.stamp)
            })
    }

    fn kept<T>(&self, value: Arc<T>, company: Option<CompanyId>, stamp: Stamp) -> Kept<T> {
        Kept {
            value,
            company,
            stamp: stamp.0,
            loaded: Instant::now(),
        }
    }

    fn hit<T>(&self, kept: Option<Kept<T>>) -> Option<Arc<T>> {
        let kept = kept.filter(|kept| self.current(kept))?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(kept.value)
    }

    pub(crate) fn session(&self, id: SessionId) -> Option<Arc<SessionEntry>> {
        if !self.serving() {
            return None;
        }
        self.hit(self.sessions.get(&id))
    }

    pub(crate) fn keep_session(&self, id: SessionId, stamp: Stamp, entry: Arc<SessionEntry>) {
        if self.serving() {
            let company = entry.principal.session.company_id;
            self.sessions.insert(id, self.kept(entry, company, stamp));
        }
    }

    /// By the token's hash, never the token.
    pub(crate) fn token(&self, hash: &str) -> Option<Arc<TokenEntry>> {
        if !self.serving() {
            return None;
        }
        self.hit(self.tokens.get(hash))
    }

    pub(crate) fn keep_token(&self, hash: String, stamp: Stamp, entry: Arc<TokenEntry>) {
        if self.serving() {
            let company = Some(entry.token.company_id);
            self.tokens.insert(hash, self.kept(entry, company, stamp));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use domain::user::UserStatus;
    use domain::{Email, UserId};
    use store::sessions::Session;

    fn user(company: Option<CompanyId>) -> User {
        User {
            id: UserId(uuid::Uuid::now_v7()),
            company_id: company,
            email: Email::parse("ada@acme.io").unwrap(),
            first_name: "Ada".into(),
            last_name: "L".into(),
            status: UserStatus::Active,
            system_roles: vec![],
            last_login_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn entry(company: Option<CompanyId>) -> Arc<SessionEntry> {
        let user = user(company);
        Arc::new(SessionEntry {
            principal: SessionPrincipal {
                session: Session {
                    id: SessionId(uuid::Uuid::now_v7()),
                    user_id: user.id,
                    company_id: company,
                    impersonator_id: None,
                    created_at: Utc::now(),
                    revoked_at: None,
                },
                user,
                company_status: company.map(|_| CompanyStatus::Active),
            },
            staff: None,
        })
    }

    fn company() -> CompanyId {
        CompanyId(uuid::Uuid::now_v7())
    }

    fn cache() -> AuthCache {
        AuthCache::new(Duration::from_secs(60), true)
    }

    #[test]
    fn a_kept_session_is_served_until_its_company_or_everyone_changes() {
        let cache = cache();
        let (acme, other) = (company(), company());
        let id = SessionId(uuid::Uuid::now_v7());
        cache.keep_session(id, cache.begin_load(), entry(Some(acme)));
        assert!(cache.session(id).is_some());
        cache.forget(Some(other));
        assert!(cache.session(id).is_some(), "another company's change");
        cache.forget(Some(acme));
        assert!(cache.session(id).is_none());
        cache.keep_session(id, cache.begin_load(), entry(Some(acme)));
        assert!(cache.session(id).is_some(), "read after the change");
        cache.forget(None);
        assert!(cache.session(id).is_none());
        assert_eq!(cache.stats(), AuthCacheStats { hits: 3, loads: 2 });
    }

    #[test]
    fn a_change_during_the_read_makes_what_it_read_unserved() {
        let cache = cache();
        let acme = company();
        let id = SessionId(uuid::Uuid::now_v7());
        let stamp = cache.begin_load();
        cache.forget(Some(acme));
        cache.keep_session(id, stamp, entry(Some(acme)));
        assert!(cache.session(id).is_none());
        // A staff session (no company) hears only changes that reach everyone.
        let stamp = cache.begin_load();
        cache.forget(Some(acme));
        cache.keep_session(id, stamp, entry(None));
        assert!(cache.session(id).is_some());
        cache.forget(None);
        assert!(cache.session(id).is_none());
    }

    #[test]
    fn nothing_is_served_while_deaf_to_other_servers_nor_past_its_time() {
        let cache = AuthCache::new(Duration::from_secs(60), false);
        let id = SessionId(uuid::Uuid::now_v7());
        cache.keep_session(id, cache.begin_load(), entry(Some(company())));
        assert!(cache.session(id).is_none());
        cache.set_hearing(true);
        cache.keep_session(id, cache.begin_load(), entry(Some(company())));
        assert!(cache.session(id).is_some());
        cache.set_hearing(false);
        assert!(cache.session(id).is_none());
        cache.set_hearing(true);
        assert!(
            cache.session(id).is_none(),
            "hearing again forgets everything"
        );

        let off = AuthCache::new(Duration::ZERO, true);
        off.keep_session(id, off.begin_load(), entry(None));
        assert!(off.session(id).is_none());
    }

    #[test]
    fn a_token_records_its_use_once_a_minute() {
        let now = Utc::now();
        let token = ApiToken {
            id: domain::ApiTokenId(uuid::Uuid::now_v7()),
            company_id: company(),
            user_id: UserId(uuid::Uuid::now_v7()),
            name: "ci".into(),
            created_by: UserId(uuid::Uuid::now_v7()),
            expires_at: None,
            revoked_at: None,
            last_used_at: Some(now - chrono::Duration::seconds(30)),
            created_at: now,
        };
        let entry = TokenEntry::new(token, user(None), CompanyStatus::Active);
        assert!(entry.claim_touch(now).is_none(), "used 30 s ago");
        let later = now + chrono::Duration::seconds(31);
        let previous = entry.claim_touch(later).unwrap();
        assert!(entry.claim_touch(later).is_none(), "claimed once");
        entry.untouch(later, previous);
        assert!(
            entry.claim_touch(later).is_some(),
            "a failed write is tried again"
        );
    }
}

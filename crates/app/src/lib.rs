//! TicketFlower's use cases. Each public function is one thing a person or the engine does
//! ("create a superuser", "claim and run a job"): it checks permissions, runs one
//! transaction through the store, appends the events and enqueues the jobs of that change.
//! The web layer calls these and nothing below them, so the API and the pages cannot
//! disagree about who may do what.

pub mod access;
mod audit;
pub mod canned_replies;
pub mod channels;
pub mod chat;
pub mod conversation_tickets;
pub mod conversations;
pub mod deliveries;
pub mod design;
pub mod desk;
mod error;
pub mod identity;
pub mod infra;
pub mod mobile_push;
pub mod notifications;
pub mod realtime;
pub mod registry;
pub mod relay;
pub mod runtime;
pub mod templates;
pub mod web_push;
pub mod webhooks;

use std::sync::Arc;

pub use error::{AppError, Fault, Result};
pub use infra::jobs::{JobError, JobHandler, JobRegistry};
pub use infra::secrets::Secrets;
pub use infra::settings::{BusKind, Environment, Settings};

use identity::passwords;
use infra::{mail, outbound, throttle, vault};
pub use store::Db;

/// A committed transaction appended events of `company` up to id `up_to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventsCommitted {
    pub company: Option<domain::CompanyId>,
    pub up_to: i64,
    /// The transaction changed who may act in `company` (`None`: anywhere), so other
    /// servers must forget what they remember of its authentication
    /// ([`identity::cache`]).
    pub identity: bool,
}

/// Everything a use case needs; cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: Settings,
    secrets: Secrets,
    passwords: passwords::Passwords,
    jobs: JobRegistry,
    job_wakeup: tokio::sync::Notify,
    mailer: Option<mail::Mailer>,
    fcm: Option<mobile_push::Fcm>,
    outbound: Option<outbound::OutboundClient>,
    vault: Option<vault::Vault>,
    throttles: throttle::Throttles,
    committed: tokio::sync::broadcast::Sender<EventsCommitted>,
    hub: Arc<realtime::Hub>,
    nats_publisher: relay::nats::Status,
    error_log: infra::error_log::Recorder,
    auth_cache: identity::cache::AuthCache,
    /// Published workflow versions by id (they never change), with their company.
    versions: std::sync::Mutex<
        std::collections::HashMap<
            domain::WorkflowVersionId,
            (domain::CompanyId, Arc<runtime::versions::Published>),
        >,
    >,
}

/// Published versions kept in memory; past this the cache starts over.
const VERSION_CACHE_SIZE: usize = 512;

impl App {
    /// Builds the application over an open database. `jobs` holds the handlers the workers
    /// run; [`registry::standard`] has TicketFlower's own.
    pub fn new(db: Db, settings: Settings, secrets: Secrets, jobs: JobRegistry) -> Self {
        let passwords = passwords::Passwords::new(&settings);
        // The binary checks the mail settings before it gets here (see `Mailer`).
        let mailer = mail::Mailer::from_settings(&settings).unwrap_or_else(|error| {
            tracing::error!(%error, "mail settings unusable; mail is logged instead");
            None
        });
        // The binary checks both at start-up (`check_settings`); should one still fail here,
        // the features that need it answer with an internal error instead of running unsafely.
        let outbound = outbound::OutboundClient::new(&settings.outbound_allowlist)
            .map_err(|error| tracing::error!(%error, "outbound HTTP unusable"))
            .ok();
        let vault = vault::Vault::from_secrets(&secrets)
            .map_err(|error| tracing::error!(%error, "attachment encryption unusable"))
            .ok();
        let throttles = throttle::Throttles::from_settings(&settings);
        // Checked at start-up too (`Fcm::from_settings` in the binary).
        let fcm = mobile_push::Fcm::from_settings(&settings).unwrap_or_else(|error| {
            tracing::error!(%error, "FCM settings unusable; mobile push is off");
            None
        });
        // Alone (`local`), a server hears every change; with others it waits for the bus.
        let auth_cache = identity::cache::AuthCache::new(
            std::time::Duration::from_secs(settings.auth_cache_secs),
            settings.bus == BusKind::Local,
        );
        Self {
            inner: Arc::new(Inner {
                db,
                settings,
                secrets,
                passwords,
                jobs,
                job_wakeup: tokio::sync::Notify::new(),
                mailer,
                fcm,
                outbound,
                vault,
                throttles,
                committed: tokio::sync::broadcast::channel(1024).0,
                hub: Arc::default(),
                nats_publisher: relay::nats::Status::default(),
                error_log: infra::error_log::Recorder::default(),
                auth_cache,
                versions: std::sync::Mutex::default(),
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The node's realtime fan-out ([`realtime::Hub::run`] drives it).
    pub fn hub(&self) -> &Arc<realtime::Hub> {
        &self.inner.hub
    }

    /// What the NATS event publisher ([`relay::nats::run`]) is doing.
    pub fn nats_publisher(&self) -> &relay::nats::Status {
        &self.inner.nats_publisher
    }

    /// Where the web layer hands its 5xx answers ([`infra::error_log::run`] writes them).
    pub fn error_log(&self) -> &infra::error_log::Recorder {
        &self.inner.error_log
    }

    /// What authentication remembers between requests.
    pub fn auth_cache(&self) -> &identity::cache::AuthCache {
        &self.inner.auth_cache
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    pub(crate) fn passwords(&self) -> &passwords::Passwords {
        &self.inner.passwords
    }

    /// Takes one request of `kind` from the client address's allowance (429 when spent).
    pub fn throttle(&self, kind: throttle::Throttled, ip: &str) -> Result<()> {
        self.inner.throttles.check(kind, ip)
    }

    pub(crate) fn mailer(&self) -> Option<&mail::Mailer> {
        self.inner.mailer.as_ref()
    }

    /// The FCM project mobile push goes to; `None`: mobile push is off.
    pub(crate) fn fcm(&self) -> Option<&mobile_push::Fcm> {
        self.inner.fcm.as_ref()
    }

    pub(crate) fn outbound(&self) -> Result<&outbound::OutboundClient> {
        self.inner
            .outbound
            .as_ref()
            .ok_or_else(|| AppError::internal("outbound HTTP is not configured"))
    }

    pub(crate) fn vault(&self) -> Result<&vault::Vault> {
        self.inner
            .vault
            .as_ref()
            .ok_or_else(|| AppError::internal("attachment encryption is not configured"))
    }

    pub(crate) fn cached_version(
        &self,
        id: domain::WorkflowVersionId,
    ) -> Option<(domain::CompanyId, Arc<runtime::versions::Published>)> {
        self.inner
            .versions
            .lock()
            .ok()
            .and_then(|cache| cache.get(&id).cloned())
    }

    pub(crate) fn cache_version(
        &self,
        company: domain::CompanyId,
        version: Arc<runtime::versions::Published>,
    ) {
        if let Ok(mut cache) = self.inner.versions.lock() {
            if cache.len() >= VERSION_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(version.id, (company, version));
        }
    }

    pub(crate) fn job_registry(&self) -> &JobRegistry {
        &self.inner.jobs
    }

    /// The one way a use case commits a business transaction: after the commit has made
    /// the change durable, a change of who may act is forgotten by the authentication
    /// cache (before this returns, so the next request sees it), idle job workers are
    /// woken when it queued jobs, and subscribers (the hub, the bus to the other servers,
    /// the relays) learn that a company has events up to a new id. Nothing else commits
    /// such a transaction, so none of these can be forgotten.
    pub async fn commit(&self, tx: store::Tx) -> Result<()> {
        let effects = tx.commit().await?;
        for reach in &effects.identity {
            self.inner.auth_cache.forget(*reach);
        }
        if effects.jobs_queued {
            self.wake_workers();
        }
        let everyone = effects.identity.contains(&None);
        for &(company, up_to) in &effects.events {
            // No subscriber is not an error: nobody is listening yet.
            let _ = self.inner.committed.send(EventsCommitted {
                company,
                up_to,
                identity: effects.identity.contains(&company),
            });
        }
        // Staff acting inside a company reach everyone without a platform event: the other
        // servers still need to hear it.
        if everyone && effects.events.iter().all(|(company, _)| company.is_some()) {
            let up_to = effects.events.iter().map(|(_, id)| *id).max().unwrap_or(0);
            let _ = self.inner.committed.send(EventsCommitted {
                company: None,
                up_to,
                identity: true,
            });
        }
        Ok(())
    }

    /// Subscribes to "company C has events up to id N" notices, sent after each commit that
    /// appended events. A slow subscriber loses notices (it is told it lagged) and must read
    /// the event log from its cursor, which it does anyway.
    pub fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<EventsCommitted> {
        self.inner.committed.subscribe()
    }

    /// Wakes idle workers so they need not wait for their next poll; [`App::commit`] does
    /// it for every transaction that queued jobs.
    pub fn wake_workers(&self) {
        self.inner.job_wakeup.notify_waiters();
    }

    pub(crate) async fn job_wakeup(&self) {
        self.inner.job_wakeup.notified().await;
    }
}

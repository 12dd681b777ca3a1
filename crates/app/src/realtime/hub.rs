//! The node's fan-out. Every commit that appended events tells the hub "company C has events
//! up to N" ([`crate::App::commit`]); the hub reads each company's new events once per batch,
//! in commit order, and hands each to the connections subscribed to its stream (or to the
//! company's feed). A connection filters what it is handed for its reader, so the hub never
//! decides who may see what; it only decides who asked.
//!
//! A connection's queue is bounded: one that cannot keep up is dropped from the hub, which
//! closes its queue, and the socket closes with a code that says "resume". A lost hint costs
//! latency, never an event: the hub also reads every company with connections every
//! [`POLL`], and after its hints lagged.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use domain::event::{Event, EventKind};
use domain::{CompanyId, UserId};
use store::events::Scope;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::App;

/// How often the hub reads every company with connections, whatever the hints say.
pub const POLL: Duration = Duration::from_millis(1500);

/// Events read from the log at once.
const BATCH: u32 = 500;

/// What a connection is handed.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// A committed event of a stream it subscribed to, not yet filtered for its reader.
    Event(Arc<Event>),
    /// Its user lost access (blocked, deleted, roles changed) or the company was suspended:
    /// the connection closes, and the client comes back with fresh credentials.
    Revoked(&'static str),
}

/// Why a connection was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("this user has {0} live connections open, the most allowed")]
    User(usize),
    #[error("this company has {0} live connections open, the most allowed")]
    Company(usize),
}

/// The hub's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub connections_per_user: usize,
    pub connections_per_company: usize,
    /// Deliveries a connection may have waiting before it counts as slow.
    pub queue: usize,
}

#[derive(Default)]
pub struct Hub {
    state: Mutex<State>,
    next_id: AtomicU64,
    /// Cancelled when the server shuts down: sockets close with "going away".
    closing: CancellationToken,
    delivered: AtomicU64,
    dropped_slow: AtomicU64,
    /// Stream tickets not yet used, by their hash: who they admit, and until when.
    tickets: Mutex<HashMap<String, (domain::auth::Actor, std::time::Instant)>>,
}

#[derive(Default)]
struct State {
    feeds: HashMap<CompanyId, Feed>,
}

/// One company's connections and how far the hub has read its log.
struct Feed {
    /// The id of the last event read, in the log's read order (`store::events::read_after`).
    cursor: i64,
    connections: HashMap<u64, Conn>,
}

struct Conn {
    user: UserId,
    /// The streams subscribed to; [`FEED`] for every stream of the company.
    streams: HashSet<String>,
    queue: mpsc::Sender<Delivery>,
}

/// The name a connection subscribes under to receive every stream of its company.
pub const FEED: &str = "*";

/// A connection's place in the hub; leaving it (drop) unregisters the connection.
pub struct Connection {
    hub: Arc<Hub>,
    company: CompanyId,
    id: u64,
    pub deliveries: mpsc::Receiver<Delivery>,
}

impl Hub {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain maps behind, still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a connection of `user` in `company`. The hub's cursor for a company seen for
    /// the first time is the log's head, read before the connection is registered, so every
    /// event committed after registration reaches it.
    pub async fn connect(
        self: &Arc<Self>,
        app: &App,
        company: CompanyId,
        user: UserId,
        limits: Limits,
    ) -> crate::Result<Result<Connection, Refused>> {
        let fresh = !self.state().feeds.contains_key(&company);
        let head = if fresh {
            Some(store::events::head(app.db(), &Scope::Company(company)).await?)
        } else {
            None
        };
        let mut state = self.state();
        // Another connection may have created the feed meanwhile; then its cursor stands.
        let feed = state.feeds.entry(company).or_insert_with(|| Feed {
            cursor: head.unwrap_or(0),
            connections: HashMap::new(),
        });
        if feed.connections.len() >= limits.connections_per_company {
            return Ok(Err(Refused::Company(feed.connections.len())));
        }
        let of_user = feed.connections.values().filter(|c| c.user == user).count();
        if of_user >= limits.connections_per_user {
            return Ok(Err(Refused::User(of_user)));
        }
        let (queue, deliveries) = mpsc::channel(limits.queue.max(1));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        feed.connections.insert(
            id,
            Conn {
                user,
                streams: HashSet::new(),
                queue,
            },
        );
        metrics::gauge!("realtime_connections").increment(1.0);
        Ok(Ok(Connection {
            hub: self.clone(),
            company,
            id,
            deliveries,
        }))
    }

    /// Keeps a stream ticket for `actor` until `ttl` has passed or it is used.
    pub(crate) fn keep_ticket(&self, hash: String, actor: domain::auth::Actor, ttl: Duration) {
        let now = std::time::Instant::now();
        let mut tickets = self
            .tickets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tickets.retain(|_, (_, until)| *until > now);
        tickets.insert(hash, (actor, now + ttl));
    }

    /// The actor of a stream ticket, once: a ticket is gone after its first use.
    pub(crate) fn take_ticket(&self, hash: &str) -> Option<domain::auth::Actor> {
        let mut tickets = self
            .tickets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (actor, until) = tickets.remove(hash)?;
        (until > std::time::Instant::now()).then_some(actor)
    }

    /// Cancelled when the server begins to shut down.
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    /// Events handed to connections, and connections dropped for being slow, since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.delivered.load(Ordering::Relaxed),
            self.dropped_slow.load(Ordering::Relaxed),
        )
    }

    /// Reads new events on every hint and every [`POLL`], until `shutdown`.
    pub async fn run(self: Arc<Self>, app: App, shutdown: CancellationToken) {
        let mut hints = app.subscribe_events();
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut dirty = HashSet::new();
            let mut all = false;
            tokio::select! {
                () = shutdown.cancelled() => break,
                hint = hints.recv() => match hint {
                    Ok(hint) => { dirty.extend(hint.company); }
                    Err(RecvError::Lagged(_)) => all = true,
                    Err(RecvError::Closed) => break,
                },
                _ = poll.tick() => all = true,
            }
            // Coalesce: one read per company for every hint that arrived meanwhile.
            loop {
                match hints.try_recv() {
                    Ok(hint) => dirty.extend(hint.company),
                    Err(TryRecvError::Lagged(_)) => all = true,
                    Err(_) => break,
                }
            }
            let due: Vec<(CompanyId, i64)> = self
                .state()
                .feeds
                .iter()
                .filter(|(company, _)| all || dirty.contains(*company))
                .map(|(company, feed)| (*company, feed.cursor))
                .collect();
            for (company, cursor) in due {
                self.catch_up(&app, company, cursor).await;
            }
        }
        self.closing.cancel();
    }

    /// Reads a company's log from `cursor` to its end and hands each event out.
    async fn catch_up(&self, app: &App, company: CompanyId, mut cursor: i64) {
        loop {
            let events =
                match store::events::read_after(app.db(), &Scope::Company(company), cursor, BATCH)
                    .await
                {
                    Ok(events) => events,
                    Err(error) => {
                        // The next hint or poll tries again from the same cursor.
                        tracing::warn!(%error, %company, "the hub cannot read the event log");
                        return;
                    }
                };
            let Some(last) = events.last() else {
                return;
            };
            cursor = last.id;
            let full = events.len() == BATCH as usize;
            let mut state = self.state();
            let Some(feed) = state.feeds.get_mut(&company) else {
                return;
            };
            feed.cursor = cursor;
            for event in events {
                self.hand_out(feed, Arc::new(event));
            }
            let empty = feed.connections.is_empty();
            if empty {
                state.feeds.remove(&company);
                return;
            }
            drop(state);
            if !full {
                return;
            }
        }
    }

    fn hand_out(&self, feed: &mut Feed, event: Arc<Event>) {
        let revoked = revocation(&event);
        let mut handed = 0u64;
        let mut slow = 0u64;
        feed.connections.retain(|_, conn| {
            let delivery = match revoked {
                Some((Some(user), _)) if user != conn.user => None,
                Some((_, reason)) => Some(Delivery::Revoked(reason)),
                None if conn.streams.contains(FEED) || conn.streams.contains(&event.stream) => {
                    Some(Delivery::Event(event.clone()))
                }
                None => None,
            };
            let Some(delivery) = delivery else {
                return true;
            };
            match conn.queue.try_send(delivery) {
                Ok(()) => {
                    handed += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    slow += 1;
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        self.delivered.fetch_add(handed, Ordering::Relaxed);
        if slow > 0 {
            self.dropped_slow.fetch_add(slow, Ordering::Relaxed);
            metrics::counter!("realtime_slow_consumers_dropped_total").increment(slow);
        }
        metrics::counter!("realtime_deliveries_total").increment(handed);
    }
}

/// Whose access an event ends: one user's (`Some(user)`) or everyone's in the company.
fn revocation(event: &Event) -> Option<(Option<UserId>, &'static str)> {
    let kind: EventKind = event.kind.parse().ok()?;
    let user = || {
        event
            .stream
            .strip_prefix("user:")
            .and_then(|id| id.parse().ok())
            .map(UserId)
    };
    match kind {
        EventKind::UserBlocked => Some((Some(user()?), "the user was blocked")),
        EventKind::UserDeleted => Some((Some(user()?), "the user was deleted")),
        EventKind::UserRolesChanged => Some((Some(user()?), "the user's roles changed")),
        EventKind::CompanySuspended => Some((None, "the company was suspended")),
        _ => None,
    }
}

impl Connection {
    /// Adds a stream (or [`FEED`]) to what this connection is handed.
    pub fn subscribe(&self, stream: &str) {
        self.with_streams(|streams| {
            streams.insert(stream.to_owned());
        });
    }

    pub fn unsubscribe(&self, stream: &str) {
        self.with_streams(|streams| {
            streams.remove(stream);
        });
    }

    /// Changes this connection's streams, while the hub still holds it (it drops a slow one).
    fn with_streams(&self, change: impl FnOnce(&mut HashSet<String>)) {
        let mut state = self.hub.state();
        if let Some(conn) = state
            .feeds
            .get_mut(&self.company)
            .and_then(|f| f.connections.get_mut(&self.id))
        {
            change(&mut conn.streams);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut state = self.hub.state();
        if let Some(feed) = state.feeds.get_mut(&self.company) {
            feed.connections.remove(&self.id);
            if feed.connections.is_empty() {
                state.feeds.remove(&self.company);
            }
        }
        metrics::gauge!("realtime_connections").decrement(1.0);
    }
}

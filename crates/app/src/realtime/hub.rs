//! The node's fan-out. Every commit that appended events tells the hub "company C has events
//! up to N" ([`crate::App::commit`]); the hub reads each company's new events once per batch,
//! in commit order, and hands each to the connections subscribed to its stream (or to the
//! company's feed). A connection filters what it is handed for its reader, so the hub never
//! decides who may see what; it only decides who asked.
//!
//! A connection's queue is bounded: one that cannot keep up is dropped from the hub, which
//! closes its queue, and the socket closes with a code that says "resume". A lost hint costs
//! latency, never an event: the hub also reads every company with connections every
//! `realtime_poll_ms` (1.5 s), and after its hints lagged or the bus reconnected.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use domain::auth::Actor;
use domain::event::{Event, EventKind};
use domain::{ApiTokenId, CompanyId, SessionId, UserId};
use store::events::Scope;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::App;

/// Events read from the log at once.
const BATCH: u32 = 500;

/// What a connection is handed.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// A committed event of a stream it subscribed to, not yet filtered for its reader.
    Event(Arc<Live>),
    /// An event that may have ended its access (its user blocked, deleted or given other
    /// roles, its session or token revoked, the company suspended), with why, and the event
    /// itself when the connection subscribed to its stream. The connection closes unless its
    /// credentials still admit it as they did: it may have been authenticated after the
    /// event committed, and the hub can hand a new connection events from just before it.
    Revoked(&'static str, Option<Arc<Live>>),
    /// An ephemeral signal of another client on a stream it subscribed to.
    Signal(Arc<Signal>),
}

/// A committed event as the hub hands it out, shared by every connection it goes to. Most
/// readers see an event whole, and for them it is encoded once, by the first socket that
/// sends it, rather than once per socket: at a thousand subscribers the encoding was most
/// of a delivery's cost.
#[derive(Debug)]
pub struct Live {
    pub event: Event,
    encoded: OnceLock<bytes::Bytes>,
}

impl Live {
    pub fn new(event: Event) -> Self {
        Self {
            event,
            encoded: OnceLock::new(),
        }
    }

    /// The event as the protocol sends it whole: `encode` runs for the first caller only.
    pub fn encoded(&self, encode: impl FnOnce(&Event) -> bytes::Bytes) -> bytes::Bytes {
        self.encoded.get_or_init(|| encode(&self.event)).clone()
    }
}

/// An ephemeral signal (typing, presence): passed to the other sockets subscribed to its
/// stream, on this node and through the bus on the others, never stored; one that has
/// expired is not delivered, and a full queue drops signals before it drops a socket.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Signal {
    pub company: CompanyId,
    pub stream: String,
    pub name: String,
    pub user_id: UserId,
    pub data: serde_json::Value,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The node it was sent on and its connection there: not sent back to its sender.
    pub node: String,
    pub from: u64,
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

pub struct Hub {
    state: Mutex<State>,
    next_id: AtomicU64,
    /// Cancelled when the server shuts down: sockets close with "going away".
    closing: CancellationToken,
    delivered: AtomicU64,
    dropped_slow: AtomicU64,
    /// Stream tickets not yet used, by their hash: who they admit, and until when.
    tickets: Mutex<HashMap<String, (domain::auth::Actor, std::time::Instant)>>,
    /// Hints from other nodes (the bus): companies to read, or everything (after the bus
    /// reconnected, when hints may have been lost).
    nudged: Mutex<Nudged>,
    nudge: tokio::sync::Notify,
    /// The bus's state, for `/readyz`.
    bus: Mutex<BusStatus>,
    /// This node's name on the bus, and the signals sent here, for the bus to pass on.
    pub(crate) node: String,
    outgoing: tokio::sync::broadcast::Sender<Arc<Signal>>,
    /// The last `presence` signal of each person, from any node: whether they said they
    /// were away, and until when it holds (a missed heartbeat lets it lapse).
    presence: Mutex<HashMap<(CompanyId, UserId), Presence>>,
}

#[derive(Default)]
struct Nudged {
    all: bool,
    /// Companies with the highest event id hinted.
    companies: HashMap<CompanyId, i64>,
}

/// Whether the bus between nodes works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusStatus {
    /// `local`, `postgres` or `nats`.
    pub kind: &'static str,
    /// `None` while it works; otherwise why not (hints are lost, the poll still reads).
    pub down: Option<String>,
}

impl Default for BusStatus {
    fn default() -> Self {
        Self {
            kind: "local",
            down: None,
        }
    }
}

#[derive(Default)]
struct State {
    feeds: HashMap<CompanyId, Feed>,
}

/// One company's connections and how far the hub has read its log.
struct Feed {
    /// The id of the last event read, in the log's read order (`store::events::read_after`).
    cursor: i64,
    /// The highest event id read, and the highest a hint named: on PostgreSQL a commit
    /// becomes readable only once every older transaction has ended, so a read right after
    /// a hint can come back short; the hub reads again soon while `wanted > seen`.
    seen: i64,
    wanted: i64,
    connections: HashMap<u64, Conn>,
}

struct Conn {
    user: UserId,
    /// The session or API token it was opened with: ending either ends the connection.
    session: Option<SessionId>,
    api_token: Option<ApiTokenId>,
    /// The streams subscribed to; [`FEED`] for every stream of the company.
    streams: HashSet<String>,
    queue: mpsc::Sender<Delivery>,
}

/// Whether a person said they were away, and until when that holds.
type Presence = (bool, chrono::DateTime<chrono::Utc>);

/// The signal a page sends every few seconds while its person is there: `{"status":
/// "online" | "away"}`; when it lapses they count as offline.
pub const PRESENCE: &str = "presence";

/// The name a connection subscribes under to receive every stream of its company.
pub const FEED: &str = "*";

/// A connection's place in the hub; leaving it (drop) unregisters the connection.
pub struct Connection {
    hub: Arc<Hub>,
    company: CompanyId,
    pub id: u64,
    pub deliveries: mpsc::Receiver<Delivery>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            next_id: AtomicU64::default(),
            closing: CancellationToken::default(),
            delivered: AtomicU64::default(),
            dropped_slow: AtomicU64::default(),
            tickets: Mutex::default(),
            nudged: Mutex::default(),
            nudge: tokio::sync::Notify::default(),
            bus: Mutex::default(),
            node: uuid::Uuid::new_v4().simple().to_string(),
            outgoing: tokio::sync::broadcast::channel(1024).0,
            presence: Mutex::default(),
        }
    }
}

impl Hub {
    /// Hands a signal to this node's sockets subscribed to its stream (not its sender), and,
    /// when it was sent here, to the bus for the other nodes.
    pub fn signal(&self, signal: Arc<Signal>) {
        if signal.expires_at <= chrono::Utc::now() {
            return;
        }
        if signal.node == self.node {
            let _ = self.outgoing.send(signal.clone());
        }
        if signal.name == PRESENCE {
            let away = signal.data.get("status").and_then(|s| s.as_str()) == Some("away");
            self.presence
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert((signal.company, signal.user_id), (away, signal.expires_at));
        }
        let state = self.state();
        let Some(feed) = state.feeds.get(&signal.company) else {
            return;
        };
        for (id, conn) in &feed.connections {
            let own = signal.node == self.node && *id == signal.from;
            if !own && conn.streams.contains(&signal.stream) {
                // Signals go first under pressure: a full queue skips one.
                let _ = conn.queue.try_send(Delivery::Signal(signal.clone()));
            }
        }
    }

    /// The people of `company` who are online: with a live connection on this node or a
    /// `presence` heartbeat from any node still current, unless that heartbeat said away.
    pub fn online(&self, company: CompanyId) -> HashSet<UserId> {
        let now = chrono::Utc::now();
        let mut presence = self
            .presence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        presence.retain(|_, (_, until)| *until > now);
        let mut online: HashSet<UserId> = presence
            .iter()
            .filter(|((of, _), (away, _))| *of == company && !away)
            .map(|((_, user), _)| *user)
            .collect();
        if let Some(feed) = self.state().feeds.get(&company) {
            online.extend(
                feed.connections
                    .values()
                    .map(|c| c.user)
                    .filter(|user| !presence.get(&(company, *user)).is_some_and(|p| p.0)),
            );
        }
        online
    }

    /// This node's name on the bus.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The signals sent on this node, for the bus.
    pub(crate) fn outgoing_signals(&self) -> tokio::sync::broadcast::Receiver<Arc<Signal>> {
        self.outgoing.subscribe()
    }

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
        actor: &Actor,
        limits: Limits,
    ) -> crate::Result<Result<Connection, Refused>> {
        let user = actor.user_id;
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
            seen: head.unwrap_or(0),
            wanted: 0,
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
                session: actor.session_id,
                api_token: actor.api_token_id,
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

    /// Another node committed events of `company` up to an id (`None`: of any company,
    /// after the bus lost hints): the hub reads them at once.
    pub fn nudge(&self, company: Option<(CompanyId, i64)>) {
        {
            let mut nudged = self
                .nudged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match company {
                Some((company, up_to)) => {
                    let wanted = nudged.companies.entry(company).or_insert(up_to);
                    *wanted = (*wanted).max(up_to);
                }
                None => nudged.all = true,
            }
        }
        self.nudge.notify_one();
    }

    fn take_nudged(&self) -> Nudged {
        std::mem::take(
            &mut *self
                .nudged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Records the bus's state (see [`BusStatus`]).
    pub fn set_bus(&self, kind: &'static str, down: Option<String>) {
        let mut bus = self
            .bus
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if bus.down != down {
            match &down {
                Some(why) => tracing::warn!(bus = kind, %why, "the realtime bus is down"),
                None => tracing::info!(bus = kind, "the realtime bus is up"),
            }
            metrics::gauge!("realtime_bus_up").set(if down.is_none() { 1.0 } else { 0.0 });
        }
        *bus = BusStatus { kind, down };
    }

    pub fn bus(&self) -> BusStatus {
        self.bus
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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

    /// Reads new events on every hint and every `realtime_poll_ms`, until `shutdown`.
    pub async fn run(self: Arc<Self>, app: App, shutdown: CancellationToken) {
        let mut hints = app.subscribe_events();
        let every = Duration::from_millis(app.settings().realtime_poll_ms.max(100));
        let mut poll = tokio::time::interval(every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A short read is read again soon (see `Feed::wanted`), backing off to 0.5 s; after
        // the bus lost hints every company is read for a few seconds.
        let mut retry: Option<(tokio::time::Instant, Duration)> = None;
        let mut sweep_until: Option<tokio::time::Instant> = None;
        loop {
            let mut hinted: HashMap<CompanyId, i64> = HashMap::new();
            let mut all = false;
            let retry_at = retry.map(|(at, _)| at);
            tokio::select! {
                () = shutdown.cancelled() => break,
                hint = hints.recv() => match hint {
                    Ok(hint) => coalesce(&mut hinted, hint),
                    Err(RecvError::Lagged(_)) => all = true,
                    Err(RecvError::Closed) => break,
                },
                _ = poll.tick() => all = true,
                () = self.nudge.notified() => {}
                () = async {
                    match retry_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    all |= sweep_until.is_some_and(|until| tokio::time::Instant::now() < until);
                }
            }
            let nudged = self.take_nudged();
            if nudged.all {
                all = true;
                sweep_until = Some(tokio::time::Instant::now() + Duration::from_secs(3));
            }
            for (company, up_to) in nudged.companies {
                coalesce(
                    &mut hinted,
                    crate::EventsCommitted {
                        company: Some(company),
                        up_to,
                        identity: false,
                    },
                );
            }
            // Coalesce: one read per company for every hint that arrived meanwhile.
            loop {
                match hints.try_recv() {
                    Ok(hint) => coalesce(&mut hinted, hint),
                    Err(TryRecvError::Lagged(_)) => all = true,
                    Err(_) => break,
                }
            }
            let due: Vec<(CompanyId, i64)> = {
                let mut state = self.state();
                state
                    .feeds
                    .iter_mut()
                    .filter_map(|(company, feed)| {
                        if let Some(up_to) = hinted.get(company) {
                            feed.wanted = feed.wanted.max(*up_to);
                        }
                        let due = all || hinted.contains_key(company) || feed.wanted > feed.seen;
                        due.then_some((*company, feed.cursor))
                    })
                    .collect()
            };
            for (company, cursor) in due {
                self.catch_up(&app, company, cursor).await;
            }
            let behind = self.state().feeds.values().any(|f| f.wanted > f.seen);
            let sweeping = sweep_until.is_some_and(|until| tokio::time::Instant::now() < until);
            retry = if behind || sweeping {
                let pause = retry.map_or(Duration::from_millis(20), |(_, pause)| {
                    (pause * 2).min(Duration::from_millis(500))
                });
                Some((tokio::time::Instant::now() + pause, pause))
            } else {
                sweep_until = None;
                None
            };
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
                feed.seen = feed.seen.max(event.id);
                self.hand_out(feed, Arc::new(Live::new(event)));
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

    fn hand_out(&self, feed: &mut Feed, live: Arc<Live>) {
        let event = &live.event;
        let revoked = revocation(event);
        let mut handed = 0u64;
        let mut slow = 0u64;
        feed.connections.retain(|_, conn| {
            // An event that ends someone's access closes their connections, and is an
            // ordinary event for everyone else (an admin's feed sees the block).
            let subscribed = conn.streams.contains(FEED) || conn.streams.contains(&event.stream);
            let delivery = match &revoked {
                Some((whom, reason)) if whom.includes(conn) => {
                    Some(Delivery::Revoked(reason, subscribed.then(|| live.clone())))
                }
                _ if subscribed => Some(Delivery::Event(live.clone())),
                _ => None,
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

/// Keeps the highest event id hinted per company.
pub(crate) fn coalesce(hinted: &mut HashMap<CompanyId, i64>, hint: crate::EventsCommitted) {
    if let Some(company) = hint.company {
        let up_to = hinted.entry(company).or_insert(hint.up_to);
        *up_to = (*up_to).max(hint.up_to);
    }
}

/// Whose access an event ends.
enum Whom {
    Everyone,
    User(UserId),
    Session(SessionId),
    ApiToken(ApiTokenId),
}

impl Whom {
    fn includes(&self, conn: &Conn) -> bool {
        match self {
            Whom::Everyone => true,
            Whom::User(user) => conn.user == *user,
            Whom::Session(session) => conn.session == Some(*session),
            Whom::ApiToken(token) => conn.api_token == Some(*token),
        }
    }
}

/// Whose access an event ends, and why.
fn revocation(event: &Event) -> Option<(Whom, &'static str)> {
    let kind: EventKind = event.kind.parse().ok()?;
    let user = || {
        event
            .stream
            .strip_prefix("user:")
            .and_then(|id| id.parse().ok())
            .map(UserId)
    };
    let id = |field: &str| {
        event.payload[field]
            .as_str()
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
    };
    match kind {
        EventKind::UserBlocked => Some((Whom::User(user()?), "the user was blocked")),
        EventKind::UserDeleted => Some((Whom::User(user()?), "the user was deleted")),
        EventKind::UserRolesChanged => Some((Whom::User(user()?), "the user's roles changed")),
        EventKind::LoggedOut => Some((
            Whom::Session(SessionId(id("session_id")?)),
            "the session ended (logged out)",
        )),
        EventKind::RefreshTokenReused => Some((
            Whom::Session(SessionId(id("session_id")?)),
            "the session was revoked",
        )),
        EventKind::ApiTokenRevoked => Some((
            Whom::ApiToken(ApiTokenId(id("token_id")?)),
            "the API token was revoked",
        )),
        EventKind::CompanySuspended => Some((Whom::Everyone, "the company was suspended")),
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

//! The live stream: one WebSocket per client (`GET /api/v1/stream`) carrying the events of
//! the streams it subscribes to, replayed from its cursor and then live, without a gap or a
//! duplicate. The protocol is in `docs/realtime.md`; this module speaks it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use app::realtime::{self, Delivery, Subscription};
use axum::Json;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use domain::auth::Actor;
use domain::event::Event;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::WebState;

/// Subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 64;
/// The largest message a client may send.
pub const MAX_MESSAGE: usize = 16 * 1024;
/// A socket's read buffer, and what it collects of outgoing messages before writing them.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 8 * 1024;
/// How long a closing socket waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Heartbeats a client may leave unanswered before it is closed as gone.
const MISSED_HEARTBEATS: u32 = 3;
/// Signals one connection may send per second; how long one lives by default and at most.
const SIGNALS_PER_SECOND: u32 = 20;
const SIGNAL_TTL: Duration = Duration::from_secs(5);
const SIGNAL_TTL_MAX: Duration = Duration::from_secs(30);
/// The largest signal payload, in bytes of JSON.
const SIGNAL_DATA: usize = 1024;
/// Deliveries written to a socket before it is flushed.
const WRITE_BATCH: usize = 64;
/// Events read from the log at once while replaying.
const REPLAY_BATCH: u32 = 500;

/// Close codes (see `docs/realtime.md`).
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const TOO_BIG: u16 = 1009;
    pub const IDLE: u16 = 4000;
    pub const REVOKED: u16 = 4003;
    pub const SLOW: u16 = 4008;
    pub const TOO_MANY: u16 = 4029;
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Subscribe {
        stream: String,
        #[serde(default)]
        since: Option<i64>,
        #[serde(default)]
        epoch: Option<String>,
    },
    Unsubscribe {
        stream: String,
    },
    Ping,
    /// An ephemeral signal (typing, presence) to the other subscribers of a stream.
    Signal {
        stream: String,
        name: String,
        #[serde(default)]
        data: serde_json::Value,
        #[serde(default)]
        ttl_ms: Option<u64>,
    },
}

/// A message from the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    Event(&'a Event),
    Subscribed {
        stream: &'a str,
        /// The last event of the stream when it was subscribed (0: none yet).
        head: i64,
        epoch: &'a str,
    },
    Unsubscribed {
        stream: &'a str,
    },
    ResyncRequired {
        stream: &'a str,
        reason: &'a str,
    },
    Pong,
    Signal {
        stream: &'a str,
        name: &'a str,
        user_id: domain::UserId,
        data: &'a serde_json::Value,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    Error {
        status: u16,
        title: &'a str,
        detail: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        stream: Option<&'a str>,
    },
}

/// A stream ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTicket {
    /// Pass as `ticket` when opening `/api/v1/stream`; it works once.
    pub ticket: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// A single-use ticket to open the stream from a browser, which cannot set headers on a
/// WebSocket: the long-lived token never goes into a URL.
#[utoipa::path(post, path = "/api/v1/stream/ticket", tag = "stream",
    responses((status = 200, description = "A ticket valid for 30 s, for one socket", body = StreamTicket)),
    security(("bearer" = [])))]
pub async fn ticket(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<StreamTicket>> {
    let ticket = realtime::issue_ticket(&state.app, &actor)?;
    Ok(Json(StreamTicket {
        ticket,
        expires_in: realtime::TICKET_TTL.as_secs(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// A ticket from `POST /api/v1/stream/ticket`, for clients that cannot send a header.
    ticket: Option<String>,
}

/// Opens the live stream (a WebSocket; see `docs/realtime.md`). Authenticated by the
/// `Authorization` header, a stream ticket, or a page's session cookie from the server's
/// own pages (another site's page is refused by its `Origin`).
#[utoipa::path(get, path = "/api/v1/stream", tag = "stream", params(StreamQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 426, description = "Not a WebSocket handshake", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn stream(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    authed: Result<Authed, ApiError>,
) -> ApiResult<Response> {
    let actor = match (query.ticket.as_deref(), authed) {
        (Some(ticket), _) => realtime::redeem_ticket(&state.app, ticket)?,
        (None, Ok(Authed(actor))) => {
            let by_cookie = !headers.contains_key(header::AUTHORIZATION);
            if by_cookie
                && crate::middleware::is_cross_site(&headers, state.public_origin.as_deref())
            {
                return Err(app::AppError::Forbidden(
                    "a page of another site may not open the stream".into(),
                )
                .into());
            }
            actor
        }
        (None, Err(error)) => return Err(error),
    };
    let company = app::access::company_of(&actor)?;
    let Ok(upgrade) = upgrade else {
        return Err(ApiError::Request(
            Problem::new(
                StatusCode::UPGRADE_REQUIRED,
                "upgrade-required",
                "Upgrade required",
            )
            .detail("Open this address as a WebSocket."),
        ));
    };
    let settings = state.app.settings();
    let limits = realtime::Limits {
        connections_per_user: settings.realtime_per_user.max(1),
        connections_per_company: settings.realtime_per_company.max(1),
        queue: settings.realtime_queue.max(1),
    };
    let connection = state
        .app
        .hub()
        .connect(&state.app, company, &actor, limits)
        .await?;
    // tungstenite's default buffers (128 KiB each way) would make an idle socket cost more
    // than the whole hub; messages here are small (16 KiB at most in, events out).
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let session = Session {
                app: state.app.clone(),
                actor,
                subscriptions: HashMap::new(),
                signals: (Instant::now(), 0),
            };
            match connection {
                Ok(connection) => session.run(socket, connection).await,
                Err(refused) => {
                    let _ = close_with(socket, close::TOO_MANY, &refused.to_string()).await;
                }
            }
        }))
}

async fn close_with(mut socket: WebSocket, code: u16, reason: &str) -> Result<(), axum::Error> {
    // A close reason is at most 123 bytes.
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(&reason[..end]),
        })))
        .await
}

/// One subscription of a connection.
struct Subscribed {
    subscription: Subscription,
    /// The ids replayed from the log while the hub was already handing out live events:
    /// the live events among them are skipped once, then this is emptied for good.
    replayed: Option<HashSet<i64>>,
    /// Where the subscription started in commit order (its cursor, or the head). The hub
    /// may still hand out events from before it: its own position in the log can be behind
    /// (its feed started below PostgreSQL's horizon, or it has not read yet), and those
    /// events were replayed before or are older than what the client asked for.
    start: domain::event::Position,
}

struct Session {
    app: app::App,
    actor: Actor,
    subscriptions: HashMap<String, Subscribed>,
    /// The current second's start and the signals sent in it.
    signals: (Instant, u32),
}

/// Why a session ends, and the close frame it ends with.
struct Closing(u16, String);

impl Session {
    /// The socket is not split: the halves' shared lock cost every delivery a lock and an
    /// unlock, and nothing here reads and writes at once.
    async fn run(mut self, mut socket: WebSocket, mut connection: realtime::Connection) {
        // One wait for shutdown for the socket's life: a fresh `cancelled()` in every turn of
        // the loop registered with the token, whose lock every socket of the node shares,
        // at every delivery.
        let closing = self.app.hub().closing().cancelled_owned();
        tokio::pin!(closing);
        let every = Duration::from_secs(self.app.settings().realtime_heartbeat_secs.max(1));
        let idle = every * MISSED_HEARTBEATS;
        let mut heartbeat = tokio::time::interval_at(Instant::now() + every, every);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        let ended: Result<Closing, axum::Error> = loop {
            // Biased, deliveries before the client's messages: a wake-up for a delivery then
            // polls neither the socket's reader (a read buffer cleared each time) nor the
            // heartbeat. Reading is not starved: a turn drains the queue, so the next one
            // finds it empty unless events outrun the socket, which the hub then drops.
            tokio::select! {
                biased;
                () = &mut closing => {
                    break Ok(Closing(close::GOING_AWAY, "the server is restarting: resume elsewhere".into()));
                }
                delivery = connection.deliveries.recv() => {
                    match self.pass_on(&mut socket, &mut connection, delivery).await {
                        Ok(None) => {}
                        Ok(Some(closing)) => break Ok(closing),
                        Err(e) => break Err(e),
                    }
                }
                message = socket.next() => {
                    heard = Instant::now();
                    let text = match message {
                        None => break Ok(Closing(1000, String::new())),
                        Some(Err(error)) => break Ok(refusal(error)),
                        Some(Ok(Message::Close(_))) => break Ok(Closing(1000, String::new())),
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            let error = error_message(400, "Bad message", "send JSON text messages".into(), None);
                            if let Err(e) = send(&mut socket, &error).await { break Err(e); }
                            continue;
                        }
                        Some(Ok(_)) => continue,
                    };
                    if let Err(e) = self.handle(&mut socket, &connection, text.as_str()).await {
                        break Err(e);
                    }
                }
                _ = heartbeat.tick() => {
                    if heard.elapsed() >= idle {
                        break Ok(Closing(close::IDLE, format!("no message or pong in {} s", idle.as_secs())));
                    }
                    if let Err(e) = socket.send(Message::Ping(Default::default())).await { break Err(e); }
                }
            }
        };
        drop(connection);
        if let Ok(Closing(code, reason)) = ended {
            let sent = socket
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from(reason),
                })))
                .await;
            // Wait a moment for the client's reply before dropping the socket: closing it
            // while the client still writes (a pong, its own close) resets the connection,
            // and a reset can discard the close frame before the client reads it.
            if sent.is_ok() {
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(message)) = socket.next().await {
                        if matches!(message, Message::Close(_)) {
                            break;
                        }
                    }
                })
                .await;
            }
        }
    }

    /// Writes a delivery and whatever else is already waiting (up to [`WRITE_BATCH`]), then
    /// flushes once: a socket behind by many events costs one write, not one per event.
    /// `Some` when the session must close.
    async fn pass_on(
        &mut self,
        sink: &mut Sink,
        connection: &mut realtime::Connection,
        first: Option<Delivery>,
    ) -> Result<Option<Closing>, axum::Error> {
        let mut next = first;
        let mut written = 0;
        let closing = loop {
            let Some(delivery) = next.take() else {
                // The hub let go of this connection: it fell too far behind.
                break Some(Closing(
                    close::SLOW,
                    "too slow to keep up: reconnect with since".into(),
                ));
            };
            match delivery {
                Delivery::Revoked(reason, live) => {
                    // A read of the database, but only on the rare events that end access.
                    let admitted = app::identity::auth::still_admits(&self.app, &self.actor).await;
                    if !matches!(admitted, Ok(true)) {
                        break Some(Closing(close::REVOKED, reason.into()));
                    }
                    if let Some(live) = live {
                        self.deliver(sink, &live).await?;
                    }
                }
                Delivery::Event(live) => self.deliver(sink, &live).await?,
                Delivery::Signal(signal) => {
                    if signal.expires_at > chrono::Utc::now() {
                        let message = ServerMessage::Signal {
                            stream: &signal.stream,
                            name: &signal.name,
                            user_id: signal.user_id,
                            data: &signal.data,
                            expires_at: signal.expires_at,
                        };
                        feed(sink, &message).await?;
                    }
                }
            }
            written += 1;
            if written == WRITE_BATCH {
                break None;
            }
            match connection.deliveries.try_recv() {
                Ok(delivery) => next = Some(delivery),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break None,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => next = None,
            }
        };
        sink.flush().await?;
        Ok(closing)
    }

    /// One client message; a bad one is answered with an error message, never a closed socket.
    async fn handle(
        &mut self,
        sink: &mut Sink,
        connection: &realtime::Connection,
        text: &str,
    ) -> Result<(), axum::Error> {
        let message: ClientMessage = match serde_json::from_str(text) {
            Ok(message) => message,
            Err(error) => {
                let error = error_message(
                    400,
                    "Bad message",
                    format!("not a message of this protocol: {error}"),
                    None,
                );
                return send(sink, &error).await;
            }
        };
        match message {
            ClientMessage::Ping => send(sink, &ServerMessage::Pong).await,
            ClientMessage::Signal {
                stream,
                name,
                data,
                ttl_ms,
            } => match self.signal(connection, &stream, name, data, ttl_ms) {
                Ok(()) => Ok(()),
                Err((status, title, detail)) => {
                    send(sink, &error_message(status, title, detail, Some(&stream))).await
                }
            },
            ClientMessage::Unsubscribe { stream } => {
                if let Some(gone) = self.subscriptions.remove(&stream) {
                    let key = gone.subscription.key;
                    if !self
                        .subscriptions
                        .values()
                        .any(|s| s.subscription.key == key)
                    {
                        connection.unsubscribe(&key);
                    }
                }
                send(sink, &ServerMessage::Unsubscribed { stream: &stream }).await
            }
            ClientMessage::Subscribe {
                stream,
                since,
                epoch,
            } => {
                match self
                    .subscribe(sink, connection, &stream, since, epoch)
                    .await
                {
                    Ok(sent) => sent,
                    Err(error) => {
                        let (status, title, detail) = describe(&error);
                        send(sink, &error_message(status, title, detail, Some(&stream))).await
                    }
                }
            }
        }
    }

    /// Subscribes, then replays what the client missed. The connection is registered with
    /// the hub before the log is read, so an event committed meanwhile is either replayed
    /// or handed out live (and then skipped if it was also replayed): never missed.
    async fn subscribe(
        &mut self,
        sink: &mut Sink,
        connection: &realtime::Connection,
        stream: &str,
        since: Option<i64>,
        epoch: Option<String>,
    ) -> app::Result<Result<(), axum::Error>> {
        if self.subscriptions.contains_key(stream) {
            return Err(app::AppError::Conflict {
                field: Some("stream".into()),
                message: "already subscribed".into(),
            });
        }
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(app::AppError::TooManyRequests {
                retry_after: Duration::ZERO,
            });
        }
        let subscription = realtime::subscription(&self.app, &self.actor, stream).await?;
        let ours = realtime::epoch(&self.app).await?;
        if epoch.as_deref().is_some_and(|e| e != ours) {
            return Ok(send(
                sink,
                &ServerMessage::ResyncRequired {
                    stream,
                    reason: "epoch: the cursor belongs to another database",
                },
            )
            .await);
        }
        let company = app::access::company_of(&self.actor)?;
        let resumed = match since {
            Some(since) => realtime::cursor_position(&self.app, company, since).await?,
            None => None,
        };
        if since.is_some() && resumed.is_none() {
            return Ok(send(
                sink,
                &ServerMessage::ResyncRequired {
                    stream,
                    reason: "cursor: the event is not in the log (pruned, or never there)",
                },
            )
            .await);
        }
        let head = realtime::head(&self.app, &subscription).await?;
        connection.subscribe(&subscription.key);
        let mut subscribed = Subscribed {
            subscription,
            replayed: Some(HashSet::new()),
            start: resumed.unwrap_or(head),
        };
        if let Err(e) = send(
            sink,
            &ServerMessage::Subscribed {
                stream,
                head: head.id,
                epoch: &ours,
            },
        )
        .await
        {
            return Ok(Err(e));
        }
        let mut cursor = since.unwrap_or(head.id);
        loop {
            let events =
                realtime::replay(&self.app, &subscribed.subscription, cursor, REPLAY_BATCH).await?;
            let Some(last) = events.last() else {
                break;
            };
            cursor = last.id;
            let full = events.len() == REPLAY_BATCH as usize;
            metrics::counter!("realtime_replayed_total").increment(events.len() as u64);
            for event in events {
                if let Some(replayed) = subscribed.replayed.as_mut() {
                    replayed.insert(event.id);
                }
                if let Some(seen) = subscribed.subscription.admit(&self.app, &event).await?
                    && let Err(e) = feed(sink, &ServerMessage::Event(&seen)).await
                {
                    return Ok(Err(e));
                }
            }
            if let Err(e) = sink.flush().await {
                return Ok(Err(e));
            }
            if !full {
                break;
            }
        }
        self.subscriptions.insert(stream.to_owned(), subscribed);
        Ok(Ok(()))
    }

    /// Passes a signal on to the stream's other subscribers, if this connection subscribed
    /// to the stream and has not sent too many this second.
    fn signal(
        &mut self,
        connection: &realtime::Connection,
        stream: &str,
        name: String,
        data: serde_json::Value,
        ttl_ms: Option<u64>,
    ) -> Result<(), (u16, &'static str, String)> {
        let subscribed = self
            .subscriptions
            .get(stream)
            .is_some_and(|s| s.subscription.key == stream);
        if !subscribed {
            return Err((
                409,
                "Not subscribed",
                "subscribe to a stream before signalling on it (not on the company feed)".into(),
            ));
        }
        let good_name = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.');
        if !good_name {
            return Err((
                422,
                "Invalid message",
                "name: 1 to 32 of a-z, `_` and `.`".into(),
            ));
        }
        if data.to_string().len() > SIGNAL_DATA {
            return Err((
                422,
                "Invalid message",
                format!("data: at most {SIGNAL_DATA} bytes of JSON"),
            ));
        }
        let (second, sent) = &mut self.signals;
        if second.elapsed() >= Duration::from_secs(1) {
            *second = Instant::now();
            *sent = 0;
        }
        if *sent >= SIGNALS_PER_SECOND {
            return Err((
                429,
                "Too many signals",
                format!("at most {SIGNALS_PER_SECOND} a second"),
            ));
        }
        *sent += 1;
        let ttl = ttl_ms
            .map_or(SIGNAL_TTL, Duration::from_millis)
            .clamp(Duration::from_millis(100), SIGNAL_TTL_MAX);
        let company = app::access::company_of(&self.actor).map_err(|e| describe(&e))?;
        let hub = self.app.hub();
        hub.signal(std::sync::Arc::new(realtime::Signal {
            company,
            stream: stream.to_owned(),
            name,
            user_id: self.actor.user_id,
            data,
            expires_at: chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
            node: hub.node().to_owned(),
            from: connection.id,
        }));
        Ok(())
    }

    /// A live event, to every subscription that includes it and whose reader may see it.
    async fn deliver(&mut self, sink: &mut Sink, live: &realtime::Live) -> Result<(), axum::Error> {
        let event = &live.event;
        for subscribed in self.subscriptions.values_mut() {
            if !subscribed.subscription.wants(event) || event.position() <= subscribed.start {
                continue;
            }
            if let Some(replayed) = &subscribed.replayed {
                if replayed.contains(&event.id) {
                    continue;
                }
                // The log and the hub read in the same order: past the replay's end,
                // every live event is new.
                subscribed.replayed = None;
            }
            match subscribed.subscription.admit(&self.app, event).await {
                Ok(Some(Cow::Borrowed(_))) => {
                    let text = live.encoded(|event| encode(&ServerMessage::Event(event)));
                    if let Ok(text) = Utf8Bytes::try_from(text) {
                        sink.feed(Message::Text(text)).await?;
                    }
                }
                Ok(Some(Cow::Owned(seen))) => feed(sink, &ServerMessage::Event(&seen)).await?,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, event = event.id, "an event could not be checked for a reader");
                }
            }
        }
        Ok(())
    }
}

type Sink = WebSocket;

/// How a socket that broke the protocol is closed: 1009 for a message over the limit.
fn refusal(error: axum::Error) -> Closing {
    match error
        .into_inner()
        .downcast::<tungstenite::Error>()
        .map(|e| *e)
    {
        Ok(tungstenite::Error::Capacity(_)) => Closing(
            close::TOO_BIG,
            format!("a message may hold at most {MAX_MESSAGE} bytes"),
        ),
        _ => Closing(
            close::PROTOCOL,
            "not a well-formed WebSocket message".into(),
        ),
    }
}

async fn send(sink: &mut Sink, message: &ServerMessage<'_>) -> Result<(), axum::Error> {
    feed(sink, message).await?;
    sink.flush().await
}

/// Queues a message without flushing: the caller flushes once after a batch.
async fn feed(sink: &mut Sink, message: &ServerMessage<'_>) -> Result<(), axum::Error> {
    let text = serde_json::to_string(message).map_err(axum::Error::new)?;
    sink.feed(Message::Text(Utf8Bytes::from(text))).await
}

/// A message as the bytes of its JSON; empty (and then not sent) if it cannot be encoded,
/// which a message of plain data never is.
fn encode(message: &ServerMessage<'_>) -> bytes::Bytes {
    serde_json::to_vec(message).map_or_else(
        |error| {
            tracing::error!(%error, "a stream message could not be encoded");
            bytes::Bytes::new()
        },
        bytes::Bytes::from,
    )
}

fn error_message<'a>(
    status: u16,
    title: &'a str,
    detail: String,
    stream: Option<&'a str>,
) -> ServerMessage<'a> {
    ServerMessage::Error {
        status,
        title,
        detail,
        stream,
    }
}

/// An error as the problem-shaped message the protocol sends.
fn describe(error: &app::AppError) -> (u16, &'static str, String) {
    use app::AppError as E;
    match error {
        E::Validation(errors) => (422, "Invalid message", errors.to_string()),
        E::NotFound => (
            404,
            "Not found",
            "no such stream, or you may not read it".into(),
        ),
        E::Forbidden(why) => (403, "Forbidden", why.clone()),
        E::Unauthorized(why) => (401, "Unauthorized", why.clone()),
        E::Conflict { message, .. } => (409, "Conflict", message.clone()),
        E::TooLarge { message, .. } => (413, "Too large", message.clone()),
        E::TooManyRequests { .. } => (
            429,
            "Too many subscriptions",
            format!("a connection holds at most {MAX_SUBSCRIPTIONS}"),
        ),
        E::Unavailable(_) | E::Internal(_) => (
            503,
            "Unavailable",
            "the stream could not be read; try again".into(),
        ),
    }
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(stream))
        .routes(routes!(ticket))
}

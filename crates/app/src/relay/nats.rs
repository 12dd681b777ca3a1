//! The event log published to NATS JetStream, for integrators who consume a stream rather
//! than webhooks. Runs when `TICKETFLOWER_NATS_URL` is set (and `nats_publish_events` is
//! not turned off), as one loop per server started beside the hub and the job workers.
//!
//! Each event goes to `ticketflower.<company id>.<kind>` (`platform` for events of no
//! company) in the stream `nats_stream` (created when missing, subjects
//! `ticketflower.*.>`: three tokens or more, so the realtime bus's `ticketflower.events`
//! and `ticketflower.signals` hints stay out of it), as the JSON the API shows
//! ([`domain::event::Event`]), with `Nats-Msg-Id` set to the event id.
//!
//! Delivery is at least once, in log order: the loop reads the events after its cursor
//! (`store::relay_cursors`, named [`CURSOR`]), publishes them one at a time and waits for
//! each acknowledgement before sending the next, then moves the cursor to the last one
//! acknowledged. One message in flight means a broker that fails mid-batch can never store
//! a later event before an earlier one; a crash between an acknowledgement and the cursor's
//! move re-publishes, and the stream's duplicate window drops the copy by its
//! `Nats-Msg-Id`. While the broker is away nothing is sent and the cursor stays; the client
//! reconnects by itself and the loop carries on from the cursor.
//!
//! On PostgreSQL several servers may run the loop: the batch is published while the
//! cursor's row is locked (`FOR UPDATE SKIP LOCKED`), so one server publishes a range and
//! the others skip it. On SQLite one process owns the database and the lock would be the
//! single writer, which must not wait on a broker: the batch is published first and the
//! cursor moved afterwards, only if it still stands where the batch began.

use std::sync::Mutex;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use domain::event::Event;
use store::Backend;
use store::events::Scope;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::App;

/// The name of the publisher's cursor in `relay_cursors`.
pub const CURSOR: &str = "nats";
/// The subjects of the stream the publisher creates.
pub const SUBJECTS: &str = "ticketflower.*.>";
/// Events read and published per batch (and per transaction on PostgreSQL).
const BATCH: u32 = 100;
/// How often the log is read when no commit woke the loop (commits on other servers, and
/// events that became readable late on PostgreSQL).
const POLL: Duration = Duration::from_secs(1);
/// How long one acknowledgement may take before the batch stops and is tried again.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// A batch sends no new event after this long: on PostgreSQL its transaction holds the
/// log's horizon back for every reader while it is open.
const BATCH_TIME: Duration = Duration::from_secs(1);
/// The stream's duplicate window: a re-publish after a crash comes well within it.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Waits between attempts while the broker or the database fails, doubling up to the max.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// The subject an event is published under.
pub fn subject(event: &Event) -> String {
    let company = event
        .company_id
        .map_or_else(|| "platform".to_owned(), |company| company.to_string());
    format!("ticketflower.{company}.{}", event.kind)
}

/// What the publisher is doing, for `/readyz` (one per server, in [`App`]).
#[derive(Debug, Default)]
pub struct Status {
    report: Mutex<Report>,
}

/// A copy of the publisher's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Whether this server runs the publisher at all.
    pub running: bool,
    /// Why it cannot publish right now, while it cannot.
    pub down: Option<String>,
    /// The cursor and the log's head, when last read.
    pub cursor: i64,
    pub head: i64,
}

impl Report {
    /// Events (by id) committed but not yet published; approximate on PostgreSQL, where the
    /// log's order is not quite id order.
    pub fn lag(&self) -> i64 {
        (self.head - self.cursor).max(0)
    }

    /// `off`, `ok (lag N)` or `degraded: <why> (lag N)`.
    pub fn describe(&self) -> String {
        match (&self.running, &self.down) {
            (false, _) => "off".into(),
            (true, None) => format!("ok (lag {})", self.lag()),
            (true, Some(why)) => format!("degraded: {why} (lag {})", self.lag()),
        }
    }
}

impl Status {
    pub fn report(&self) -> Report {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Report> {
        self.report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_down(&self, down: Option<String>) {
        let mut report = self.lock();
        report.running = true;
        if report.down != down {
            match &down {
                Some(why) => tracing::warn!(%why, "events are not being published to NATS"),
                None => tracing::info!("publishing events to NATS"),
            }
            metrics::gauge!("ticketflower_nats_publisher_up").set(if down.is_none() {
                1.0
            } else {
                0.0
            });
        }
        report.down = down;
    }

    fn set_positions(&self, cursor: i64, head: i64) {
        let mut report = self.lock();
        report.cursor = cursor;
        report.head = head;
        metrics::gauge!("ticketflower_nats_publish_lag_events").set(report.lag() as f64);
    }
}

/// Publishes the log to NATS until `shutdown`; returns at once when not configured.
pub async fn run(app: App, shutdown: CancellationToken) {
    let settings = app.settings();
    let Some(url) = settings.nats_url().map(str::to_owned) else {
        return;
    };
    if !settings.nats_publish_events {
        return;
    }
    let stream = settings.nats_stream.clone();
    let status = app.nats_publisher();
    status.set_down(Some(format!("connecting to {url}")));
    let mut commits = app.subscribe_events();
    let client = match async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url.as_str())
        .await
    {
        Ok(client) => client,
        Err(error) => {
            status.set_down(Some(format!("cannot use {url}: {error}")));
            shutdown.cancelled().await;
            return;
        }
    };
    let mut publisher = Publisher {
        jetstream: jetstream::ContextBuilder::new()
            .timeout(ACK_TIMEOUT)
            .build(client.clone()),
        client,
        app: app.clone(),
        stream,
        stream_ready: false,
    };
    let mut retry = RETRY_MIN;
    while !shutdown.is_cancelled() {
        let published = publisher.publish_batch().await;
        publisher.note_positions().await;
        match published {
            Ok(published) => {
                status.set_down(None);
                retry = RETRY_MIN;
                if published > 0 {
                    continue;
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(POLL) => {}
                    () = next_commit(&mut commits) => {}
                }
            }
            Err(why) => {
                status.set_down(Some(why));
                publisher.stream_ready = false;
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Waits for a commit of this server; one read then covers every commit that came
/// meanwhile. Never returns once the commit path is gone (the poll reads instead).
pub(crate) async fn next_commit(
    commits: &mut tokio::sync::broadcast::Receiver<crate::EventsCommitted>,
) {
    match commits.recv().await {
        Err(RecvError::Closed) => std::future::pending().await,
        Ok(_) | Err(RecvError::Lagged(_)) => loop {
            match commits.try_recv() {
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        },
    }
}

struct Publisher {
    app: App,
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream: String,
    /// The stream was found or created since the last failure (a broker that lost its
    /// storage has lost the stream too, so every failure checks it again).
    stream_ready: bool,
}

/// How far one batch got: the events acknowledged, the last of them, and the failure that
/// stopped it early.
struct Outcome {
    acknowledged: usize,
    last: Option<i64>,
    failure: Option<String>,
}

impl Publisher {
    /// Publishes the next batch after the cursor and moves the cursor over what the broker
    /// acknowledged; returns how many events that was (0: nothing to do).
    async fn publish_batch(&mut self) -> Result<usize, String> {
        if self.client.connection_state() != State::Connected {
            return Err("not connected to the NATS server".into());
        }
        if !self.stream_ready {
            self.ensure_stream().await?;
            self.stream_ready = true;
        }
        let db = self.app.db();
        let from = match store::relay_cursors::position(db, CURSOR)
            .await
            .map_err(database)?
        {
            Some(from) => from,
            None => self.create_cursor().await?,
        };
        // A look without a lock first, so an idle loop neither locks nor writes.
        let waiting = store::events::read_after(db, &Scope::All, from, 1)
            .await
            .map_err(database)?;
        let outcome = if waiting.is_empty() {
            None
        } else {
            Some(match db.backend() {
                Backend::Postgres => self.publish_under_lock().await?,
                Backend::Sqlite => self.publish_then_advance(from).await?,
            })
        };
        match outcome {
            None => Ok(0),
            Some(Outcome {
                failure: Some(why), ..
            }) => Err(why),
            Some(outcome) => Ok(outcome.acknowledged),
        }
    }

    /// Reads the cursor and the log's head for the lag figure, also while the broker is
    /// away (when the lag is what an operator wants to see).
    async fn note_positions(&self) {
        let db = self.app.db();
        let positions = async {
            let cursor = store::relay_cursors::position(db, CURSOR).await?;
            let head = store::events::head(db, &Scope::All).await?;
            Ok::<_, store::StoreError>((cursor, head))
        };
        match positions.await {
            Ok((Some(cursor), head)) => self.app.nats_publisher().set_positions(cursor, head),
            Ok((None, _)) => {}
            Err(error) => tracing::debug!(%error, "the NATS publisher's lag could not be read"),
        }
    }

    /// PostgreSQL: the batch is read and published while this transaction holds the
    /// cursor, so no other server publishes the same events at the same time.
    async fn publish_under_lock(&self) -> Result<Outcome, String> {
        let mut tx = self.app.db().begin().await.map_err(database)?;
        let Some(from) = store::relay_cursors::lock(&mut tx, CURSOR)
            .await
            .map_err(database)?
        else {
            // Another server is publishing; it will take these events too.
            return Ok(Outcome {
                acknowledged: 0,
                last: None,
                failure: None,
            });
        };
        let events = store::events::read_after(&mut tx, &Scope::All, from, BATCH)
            .await
            .map_err(database)?;
        let outcome = self.publish(&events).await;
        if let Some(last) = outcome.last {
            store::relay_cursors::advance(&mut tx, CURSOR, from, last)
                .await
                .map_err(database)?;
        }
        self.app.commit(tx).await.map_err(|e| e.to_string())?;
        Ok(outcome)
    }

    /// SQLite: the batch is published without holding the single writer, then the cursor
    /// is moved if it still stands at `from`.
    async fn publish_then_advance(&self, from: i64) -> Result<Outcome, String> {
        let db = self.app.db();
        let events = store::events::read_after(db, &Scope::All, from, BATCH)
            .await
            .map_err(database)?;
        let outcome = self.publish(&events).await;
        if let Some(last) = outcome.last {
            let mut tx = db.begin().await.map_err(database)?;
            if !store::relay_cursors::advance(&mut tx, CURSOR, from, last)
                .await
                .map_err(database)?
            {
                tracing::warn!(
                    from,
                    last,
                    "the NATS cursor moved while a batch was published"
                );
            }
            self.app.commit(tx).await.map_err(|e| e.to_string())?;
        }
        Ok(outcome)
    }

    /// Publishes `events` in order, each acknowledged before the next is sent; stops at the
    /// first failure, or after [`BATCH_TIME`] (the rest go in the next batch).
    async fn publish(&self, events: &[Event]) -> Outcome {
        let mut outcome = Outcome {
            acknowledged: 0,
            last: None,
            failure: None,
        };
        let until = tokio::time::Instant::now() + BATCH_TIME;
        for event in events {
            if tokio::time::Instant::now() > until {
                break;
            }
            match self.publish_one(event).await {
                Ok(duplicate) => {
                    if duplicate {
                        metrics::counter!("ticketflower_nats_publish_duplicates_total")
                            .increment(1);
                    } else {
                        metrics::counter!("ticketflower_nats_published_total").increment(1);
                    }
                    outcome.acknowledged += 1;
                    outcome.last = Some(event.id);
                }
                Err(why) => {
                    outcome.failure = Some(why);
                    break;
                }
            }
        }
        outcome
    }

    /// Sends one event and waits for the stream's acknowledgement; `true` when the stream
    /// already had it (a re-publish within the duplicate window).
    async fn publish_one(&self, event: &Event) -> Result<bool, String> {
        let payload = serde_json::to_vec(event)
            .map_err(|error| format!("event {} cannot be encoded: {error}", event.id))?;
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(event.id.to_string());
        let ack = self
            .jetstream
            .send_publish(subject(event), message)
            .await
            .map_err(|error| format!("event {} was not sent: {error}", event.id))?
            .await
            .map_err(|error| match error.kind() {
                PublishErrorKind::StreamNotFound => {
                    format!("the stream {} is gone", self.stream)
                }
                _ => format!("event {} was not acknowledged: {error}", event.id),
            })?;
        Ok(ack.duplicate)
    }

    /// Finds the stream, or creates it (file storage, `ticketflower.*.>`).
    async fn ensure_stream(&self) -> Result<(), String> {
        self.jetstream
            .get_or_create_stream(jetstream::stream::Config {
                name: self.stream.clone(),
                subjects: vec![SUBJECTS.to_owned()],
                storage: jetstream::stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                description: Some("TicketFlower's committed events".into()),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|error| format!("cannot find or create the stream {}: {error}", self.stream))
    }

    /// Creates the cursor at the log's head (a new publisher passes on what happens from
    /// now on, not history) and returns where it stands.
    async fn create_cursor(&self) -> Result<i64, String> {
        let mut tx = self.app.db().begin().await.map_err(database)?;
        let from = store::relay_cursors::lock(&mut tx, CURSOR)
            .await
            .map_err(database)?;
        self.app.commit(tx).await.map_err(|e| e.to_string())?;
        match from {
            Some(from) => Ok(from),
            // Another server created it a moment ago and holds it.
            None => store::relay_cursors::position(self.app.db(), CURSOR)
                .await
                .map_err(database)?
                .ok_or_else(|| "the NATS cursor could not be created".to_owned()),
        }
    }
}

fn database(error: store::StoreError) -> String {
    format!("the database failed: {error}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn event(company: Option<domain::CompanyId>, kind: &str) -> Event {
        Event {
            id: 7,
            company_id: company,
            stream: "ticket:1".into(),
            kind: kind.into(),
            actor_id: None,
            payload: serde_json::json!({}),
            created_at: chrono::Utc::now(),
            txid: 0,
        }
    }

    #[test]
    fn subjects_name_the_company_then_the_kind_and_fall_in_the_stream_not_the_bus() {
        let company = domain::CompanyId::new();
        let subject = subject(&event(Some(company), "ticket.submitted"));
        assert_eq!(subject, format!("ticketflower.{company}.ticket.submitted"));
        assert_eq!(
            super::subject(&event(None, "company.created")),
            "ticketflower.platform.company.created"
        );
        // `ticketflower.*.>` wants three tokens or more; the bus's subjects have two.
        assert!(subject.split('.').count() >= 3);
        for bus in [
            crate::realtime::bus::SUBJECT,
            crate::realtime::bus::SIGNAL_SUBJECT,
        ] {
            assert_eq!(bus.split('.').count(), 2, "{bus}");
        }
    }

    #[test]
    fn the_report_says_off_ok_or_degraded_with_the_lag() {
        let mut report = Report::default();
        assert_eq!(report.describe(), "off");
        report.running = true;
        report.cursor = 10;
        report.head = 14;
        assert_eq!(report.describe(), "ok (lag 4)");
        report.down = Some("not connected to the NATS server".into());
        assert_eq!(
            report.describe(),
            "degraded: not connected to the NATS server (lag 4)"
        );
        report.cursor = 15;
        assert_eq!(
            report.lag(),
            0,
            "PostgreSQL's order may put the cursor past the head's id"
        );
    }
}

//! The bus between nodes. It carries only hints ("company C has events up to N",
//! coalesced, sent after commit), never events: a node that receives one has its hub read
//! the log. A lost hint costs latency, not an event: after any reconnect the hub reads
//! every company again, and it polls anyway (`realtime_poll_ms`). Three kinds, chosen by
//! `TICKETFLOWER_BUS`: `local` (one node), `postgres` (`LISTEN/NOTIFY` on the database) and
//! `nats` (a NATS server).
//!
//! A hint also says whether the commit changed who may act in its company, and a line
//! for "anywhere" says so for platform changes: the receiving node forgets what its
//! authentication cache remembers there (`identity::cache`). Lost hints could have said
//! so, so a node that reconnects forgets everything, serves nothing from memory while its
//! bus is down, and a node that could not send such a hint (or dropped its own commits'
//! hints) sends "anywhere" with its next message.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use domain::CompanyId;
use futures::StreamExt;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::{App, BusKind, EventsCommitted};

/// The PostgreSQL channels and the NATS subjects hints and signals travel on.
pub const CHANNEL: &str = "ticketflower_events";
pub const SUBJECT: &str = "ticketflower.events";
pub const SIGNAL_CHANNEL: &str = "ticketflower_signals";
pub const SIGNAL_SUBJECT: &str = "ticketflower.signals";

/// How long a node waits before it tries a lost bus again.
const RETRY: Duration = Duration::from_secs(1);

/// Runs the configured bus until `shutdown`: publishes this node's hints, hands the other
/// nodes' to the hub, and keeps the hub's [`super::hub::BusStatus`] current.
pub async fn run(app: App, shutdown: CancellationToken) {
    let node = app.hub().node.clone();
    match app.settings().bus {
        BusKind::Local => app.hub().set_bus("local", None),
        BusKind::Postgres => postgres(app, node, shutdown).await,
        BusKind::Nats => nats(app, node, shutdown).await,
    }
}

/// What this node's commits tell the other nodes, coalesced.
#[derive(Debug, Default)]
struct Hints {
    /// The highest event id per company.
    events: HashMap<CompanyId, i64>,
    /// Where who may act changed (`None`: anywhere).
    identity: HashSet<Option<CompanyId>>,
}

impl Hints {
    fn add(&mut self, hint: EventsCommitted) {
        super::hub::coalesce(&mut self.events, hint);
        if hint.identity {
            self.identity.insert(hint.company);
        }
    }

    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.identity.is_empty()
    }
}

/// The company field of the line that concerns every company; it parses as no company,
/// so a node that predates it skips the line.
const ANYWHERE: &str = "-";

/// One line per company: `node company up_to sent_at_ms identity` (`identity` is `1` when
/// who may act changed; a node that predates it reads four fields and ignores the fifth,
/// and a missing fifth field reads as `0`), then `node - 0 sent_at_ms 1` when it changed
/// anywhere.
fn hints_text(node: &str, hints: &Hints) -> String {
    let now = chrono::Utc::now().timestamp_millis();
    let flag = |company: Option<CompanyId>| u8::from(hints.identity.contains(&company));
    let mut lines: Vec<String> = hints
        .events
        .iter()
        .map(|(company, up_to)| format!("{node} {company} {up_to} {now} {}", flag(Some(*company))))
        .collect();
    if hints.identity.contains(&None) {
        lines.push(format!("{node} {ANYWHERE} 0 {now} 1"));
    }
    lines.join("\n")
}

/// Hands the hints of other nodes in `text` to the hub, and their changes of who may act
/// to the authentication cache.
fn receive(app: &App, node: &str, text: &str) {
    for line in text.lines() {
        let mut parts = line.split(' ');
        let (Some(from), Some(company), Some(up_to), Some(sent)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if from == node {
            continue;
        }
        let identity = parts.next() == Some("1");
        if identity && company == ANYWHERE {
            app.auth_cache().forget(None);
            continue;
        }
        let (Ok(company), Ok(up_to)) = (company.parse().map(CompanyId), up_to.parse::<i64>())
        else {
            continue;
        };
        if identity {
            app.auth_cache().forget(Some(company));
        }
        if let Ok(sent) = sent.parse::<i64>() {
            let lag = (chrono::Utc::now().timestamp_millis() - sent).max(0) as f64 / 1000.0;
            metrics::histogram!("realtime_hint_lag_seconds").record(lag);
        }
        app.hub().nudge(Some((company, up_to)));
    }
}

/// The bus is up (`None`) or down (why): the hub says so, and the authentication cache
/// serves from memory only while it hears the other nodes.
fn bus_state(app: &App, kind: &'static str, down: Option<String>) {
    app.auth_cache().set_hearing(down.is_none());
    app.hub().set_bus(kind, down);
}

/// Hands a signal sent on another node to this node's sockets.
fn receive_signal(app: &App, text: &str) {
    match serde_json::from_str::<super::hub::Signal>(text) {
        Ok(signal) if signal.node != app.hub().node => {
            app.hub().signal(std::sync::Arc::new(signal))
        }
        Ok(_) => {}
        Err(error) => tracing::debug!(%error, "a signal from the bus could not be read"),
    }
}

/// A signal sent on this node, as the bus carries it.
async fn next_signal(
    signals: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<super::hub::Signal>>,
) -> Option<String> {
    loop {
        match signals.recv().await {
            Ok(signal) => return serde_json::to_string(&*signal).ok(),
            // Signals are the first thing dropped under pressure.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Waits for this node's next commits and coalesces them: the highest id per company, and
/// where who may act changed.
async fn next_hints(
    commits: &mut tokio::sync::broadcast::Receiver<EventsCommitted>,
) -> Option<Hints> {
    let mut hints = Hints::default();
    // Hints were dropped here: the other nodes' polls read the events they named, but
    // whose authentication they changed is unknown, so the others forget everyone's.
    match commits.recv().await {
        Ok(hint) => hints.add(hint),
        Err(RecvError::Lagged(_)) => {
            hints.identity.insert(None);
        }
        Err(RecvError::Closed) => return None,
    }
    loop {
        match commits.try_recv() {
            Ok(hint) => hints.add(hint),
            Err(TryRecvError::Lagged(_)) => {
                hints.identity.insert(None);
            }
            Err(_) => return Some(hints),
        }
    }
}

async fn postgres(app: App, node: String, shutdown: CancellationToken) {
    const KIND: &str = "postgres";
    if app.db().backend() != store::Backend::Postgres {
        bus_state(
            &app,
            KIND,
            Some("the postgres bus needs a PostgreSQL database".into()),
        );
        shutdown.cancelled().await;
        return;
    }
    // Publishing: after commit, on the pool, never in a business transaction.
    let publisher = {
        let app = app.clone();
        let node = node.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut commits = app.subscribe_events();
            let mut signals = app.hub().outgoing_signals();
            // A change of who may act that could not be sent: the next hints say "anywhere".
            let mut owed = false;
            loop {
                let (channel, text, identity) = tokio::select! {
                    () = shutdown.cancelled() => return,
                    hints = next_hints(&mut commits) => match hints {
                        Some(hints) if hints.is_empty() => continue,
                        Some(mut hints) => {
                            if std::mem::take(&mut owed) {
                                hints.identity.insert(None);
                            }
                            (CHANNEL, hints_text(&node, &hints), !hints.identity.is_empty())
                        }
                        None => return,
                    },
                    signal = next_signal(&mut signals) => match signal {
                        Some(text) => (SIGNAL_CHANNEL, text, false),
                        None => return,
                    },
                };
                if let Err(error) = store::notify::notify(app.db(), channel, &text).await {
                    owed |= identity;
                    tracing::warn!(%error, "a message could not be sent on the postgres bus");
                }
            }
        })
    };
    // Listening, on a connection of its own; any loss reconnects and reads everything.
    loop {
        let mut listener = tokio::select! {
            () = shutdown.cancelled() => break,
            listener = store::notify::Listener::connect(app.db(), &[CHANNEL, SIGNAL_CHANNEL]) => match listener {
                Ok(listener) => listener,
                Err(error) => {
                    bus_state(&app, KIND, Some(format!("cannot LISTEN: {error}")));
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(RETRY) => continue,
                    }
                }
            },
        };
        bus_state(&app, KIND, None);
        app.hub().nudge(None);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                next = listener.next() => match next {
                    Ok(Some((channel, text))) if channel == SIGNAL_CHANNEL => receive_signal(&app, &text),
                    Ok(Some((_, text))) => receive(&app, &node, &text),
                    Ok(None) => {
                        bus_state(&app, KIND, Some("the LISTEN connection was lost; reconnecting".into()));
                        break;
                    }
                    Err(error) => {
                        bus_state(&app, KIND, Some(format!("the LISTEN connection failed: {error}")));
                        break;
                    }
                },
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
    }
    let _ = publisher.await;
}

async fn nats(app: App, node: String, shutdown: CancellationToken) {
    const KIND: &str = "nats";
    // The binary refuses to start a `nats` bus without a URL; a test or embedder may not.
    let Some(url) = app.settings().nats_url().map(str::to_owned) else {
        bus_state(&app, KIND, Some("TICKETFLOWER_NATS_URL is not set".into()));
        shutdown.cancelled().await;
        return;
    };
    bus_state(&app, KIND, Some(format!("connecting to {url}")));
    let on_event = app.clone();
    let options = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .event_callback(move |event| {
            let app = on_event.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        bus_state(&app, KIND, None);
                        // Hints sent while we were away are gone: read everything.
                        app.hub().nudge(None);
                    }
                    // The client dropped messages of a subscription: hints may be among them.
                    async_nats::Event::SlowConsumer(_) => {
                        app.auth_cache().forget(None);
                        app.hub().nudge(None);
                    }
                    async_nats::Event::Disconnected => {
                        bus_state(
                            &app,
                            KIND,
                            Some("disconnected from NATS; reconnecting".into()),
                        );
                    }
                    _ => {}
                }
            }
        });
    let connected = async {
        let client = options
            .connect(url.as_str())
            .await
            .map_err(|error| format!("cannot use {url}: {error}"))?;
        let subscribe = |subject: &'static str| {
            let client = client.clone();
            async move {
                client
                    .subscribe(subject)
                    .await
                    .map_err(|error| format!("cannot subscribe on NATS: {error}"))
            }
        };
        let hints = subscribe(SUBJECT).await?;
        let signals = subscribe(SIGNAL_SUBJECT).await?;
        Ok::<_, String>((client, hints, signals))
    };
    let (client, mut hints, mut their_signals) = match connected.await {
        Ok(connected) => connected,
        Err(why) => {
            bus_state(&app, KIND, Some(why));
            shutdown.cancelled().await;
            return;
        }
    };
    let mut commits = app.subscribe_events();
    let mut signals = app.hub().outgoing_signals();
    // A change of who may act that could not be sent: the next hints say "anywhere".
    let mut owed = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            signal = next_signal(&mut signals) => match signal {
                Some(text) => {
                    if let Err(error) = client.publish(SIGNAL_SUBJECT, text.into()).await {
                        tracing::debug!(%error, "a signal could not be sent on the NATS bus");
                    }
                }
                None => break,
            },
            theirs = their_signals.next() => match theirs {
                Some(message) => {
                    if let Ok(text) = std::str::from_utf8(&message.payload) {
                        receive_signal(&app, text);
                    }
                }
                None => break,
            },
            mine = next_hints(&mut commits) => match mine {
                Some(mut mine) if !mine.is_empty() => {
                    if std::mem::take(&mut owed) {
                        mine.identity.insert(None);
                    }
                    let text = hints_text(&node, &mine);
                    if let Err(error) = client.publish(SUBJECT, text.into()).await {
                        owed |= !mine.identity.is_empty();
                        tracing::warn!(%error, "a hint could not be sent on the NATS bus");
                    }
                }
                Some(_) => {}
                None => break,
            },
            theirs = hints.next() => match theirs {
                Some(message) => {
                    if let Ok(text) = std::str::from_utf8(&message.payload) {
                        receive(&app, &node, text);
                    }
                }
                None => break,
            },
        }
    }
}

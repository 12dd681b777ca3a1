//! The client side of the live stream benches: many subscribed sockets, read on a couple of
//! tasks, and comments committed to them in a burst (deliveries per second) or one at a time
//! (latency). The same code drives TicketFlower and the Channels peer: both take a bearer
//! token, a `subscribe` message and a comment `POST`, and both put the comment's body in
//! the event, where a marker numbers it.
//!
//! The client shares the machine's two cores with the server it measures, so it stays
//! cheap: an event is recognised by scanning its text for the marker (no JSON parse), two
//! tasks read every socket, and the receipt's instant is taken as the frame is read.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::Api;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Precedes a comment's number in its body.
const MARK: &str = "fanout#";
/// Sockets opened at once.
const OPENING: usize = 250;
/// Tasks that read the sockets: one per core is as many as can run.
const READERS: usize = 2;
/// A connection and its `subscribed` answer, at most.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a burst's deliveries may take, at most, after its last commit.
const BURST_TIMEOUT: Duration = Duration::from_secs(30);
/// After a phase has what it expected: how long duplicates are still listened for.
const GRACE: Duration = Duration::from_millis(200);

/// Where sockets subscribe.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    pub stream: String,
}

/// Commits numbered comments through an HTTP API.
pub struct Committer {
    api: Api,
    path: String,
    token: String,
    next: usize,
}

impl Committer {
    pub fn new(api: Api, path: String, token: String) -> Self {
        Self {
            api,
            path,
            token,
            next: 0,
        }
    }

    /// Numbers for the next `n` comments; never reused, so a late receipt is never taken
    /// for a newer comment's.
    pub fn reserve(&mut self, n: usize) -> usize {
        let first = self.next;
        self.next += n;
        first
    }

    pub async fn commit(&self, number: usize) -> Result<()> {
        self.api
            .call(
                Method::POST,
                &self.path,
                Some(&self.token),
                Some(&json!({ "body": format!("fan-out comment {MARK}{number}#") })),
                StatusCode::CREATED,
            )
            .await?;
        Ok(())
    }
}

/// The comment number in an event's text, if it carries one.
pub fn marker(text: &str) -> Option<usize> {
    let at = text.find(MARK)? + MARK.len();
    let digits = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Opens a socket as `token`, subscribes to the endpoint's stream (from `since` when given)
/// and waits for `subscribed`; answers the socket and the stream's head when it says one.
pub async fn subscribe(
    endpoint: &Endpoint,
    token: &str,
    since: Option<i64>,
) -> Result<(Socket, Option<i64>)> {
    tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribe_now(endpoint, token, since))
        .await
        .with_context(|| format!("subscribing at {} took over 30 s", endpoint.url))?
}

async fn subscribe_now(
    endpoint: &Endpoint,
    token: &str,
    since: Option<i64>,
) -> Result<(Socket, Option<i64>)> {
    let mut request = endpoint.url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    // A socket only ever reads small events: tungstenite's 128 KiB read buffer would make
    // 10,000 of them cost the client over a GiB.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .with_context(|| format!("connecting to {}", endpoint.url))?;
    let mut message = json!({"type": "subscribe", "stream": endpoint.stream});
    if let Some(since) = since {
        message["since"] = json!(since);
    }
    socket
        .send(Message::Text(message.to_string().into()))
        .await?;
    loop {
        let Some(frame) = socket.next().await else {
            bail!("the socket closed before `subscribed`");
        };
        if let Message::Text(text) = frame? {
            let value: Value = serde_json::from_str(&text)?;
            match value["type"].as_str() {
                Some("subscribed") => return Ok((socket, value["head"].as_i64())),
                Some("event") => continue,
                _ => bail!("unexpected answer to subscribe: {value}"),
            }
        }
    }
}

/// Opens a subscribed socket for each token, a few hundred at a time.
pub async fn open_all(endpoint: &Endpoint, tokens: &[String]) -> Result<Vec<Socket>> {
    let mut sockets = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(OPENING) {
        let opened = futures::future::try_join_all(chunk.iter().map(|token| async move {
            Ok::<_, anyhow::Error>(subscribe(endpoint, token, None).await?.0)
        }))
        .await?;
        sockets.extend(opened);
    }
    Ok(sockets)
}

/// Opens the sockets in two halves and answers them with the resident memory each socket
/// of the second half added to the server (`rss` reads the server's, in KiB): the first
/// half warms what does not grow with sockets (pools, buffers, the runtime's arenas).
pub async fn open_measured(
    endpoint: &Endpoint,
    tokens: &[String],
    rss: impl Fn() -> Result<u64>,
) -> Result<(Vec<Socket>, f64)> {
    let half = tokens.len() / 2;
    let mut sockets = open_all(endpoint, &tokens[..half]).await?;
    // Let the server finish what the connections started before reading its memory.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = rss()?;
    sockets.extend(open_all(endpoint, &tokens[half..]).await?);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = rss()?;
    let added = tokens.len() - half;
    let per_socket = after.saturating_sub(before) as f64 / added.max(1) as f64;
    Ok((sockets, per_socket))
}

/// Reads a socket until it has seen every comment number in `wanted`.
pub async fn read_until(socket: &mut Socket, wanted: &[usize]) -> Result<()> {
    let mut missing: HashSet<usize> = wanted.iter().copied().collect();
    while !missing.is_empty() {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                if let Some(number) = marker(&text) {
                    missing.remove(&number);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => bail!("the socket closed with {} comments missing", missing.len()),
        }
    }
    Ok(())
}

struct Receipt {
    socket: usize,
    number: usize,
    at: Instant,
}

/// Subscribed sockets being read.
pub struct Fleet {
    sockets: usize,
    readers: Vec<JoinHandle<()>>,
    receipts: mpsc::UnboundedReceiver<Receipt>,
    /// Sockets the server closed (or that failed) since they were handed over.
    closed: Arc<AtomicUsize>,
}

impl Fleet {
    pub fn listen(sockets: Vec<Socket>) -> Self {
        let count = sockets.len();
        let tasks = READERS.min(count.max(1));
        let mut groups: Vec<Vec<(usize, Socket)>> = (0..tasks).map(|_| Vec::new()).collect();
        for (index, socket) in sockets.into_iter().enumerate() {
            groups[index % tasks].push((index, socket));
        }
        let (sender, receipts) = mpsc::unbounded_channel();
        let closed = Arc::new(AtomicUsize::new(0));
        let readers = groups
            .into_iter()
            .map(|group| tokio::spawn(read(group, sender.clone(), closed.clone())))
            .collect();
        Self {
            sockets: count,
            readers,
            receipts,
            closed,
        }
    }

    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::Relaxed)
    }

    /// The sockets still open, which are all a phase can wait for.
    fn open(&self) -> usize {
        self.sockets.saturating_sub(self.closed())
    }

    /// Takes receipts into `ledger` until `done` says so or `deadline` passes; answers
    /// whether `done` was reached.
    async fn drain(
        &mut self,
        ledger: &mut Ledger,
        deadline: Instant,
        done: impl Fn(&Ledger, usize) -> bool,
    ) -> Result<bool> {
        loop {
            if done(ledger, self.open()) {
                return Ok(true);
            }
            match tokio::time::timeout_at(deadline.into(), self.receipts.recv()).await {
                Ok(Some(receipt)) => ledger.record(&receipt)?,
                Ok(None) => bail!("every socket reader stopped"),
                Err(_) => return Ok(false),
            }
        }
    }

    /// `events` comments committed back to back; every socket's receipts.
    pub async fn burst(&mut self, committer: &mut Committer, events: usize) -> Result<Burst> {
        let first = committer.reserve(events);
        let mut ledger = Ledger::new(first, events, self.sockets)?;
        let began = Instant::now();
        for i in 0..events {
            ledger.started[i] = Some(Instant::now());
            committer.commit(first + i).await?;
        }
        let deadline = Instant::now() + BURST_TIMEOUT;
        self.drain(&mut ledger, deadline, |l, open| l.total >= open * events)
            .await?;
        let last = ledger.last.unwrap_or(began);
        self.drain(&mut ledger, Instant::now() + GRACE, |_, _| false)
            .await?;
        let elapsed = last.duration_since(began).as_secs_f64().max(1e-9);
        Ok(Burst {
            sockets: self.sockets,
            events,
            deliveries: ledger.total,
            deliveries_per_second: ledger.total as f64 / elapsed,
            p50_ms: ms(ledger.latencies.value_at_quantile(0.5)),
            p99_ms: ms(ledger.latencies.value_at_quantile(0.99)),
            max_ms: ms(ledger.latencies.max()),
            lost: ledger.lost(),
            duplicated: ledger.duplicated(),
            closed: self.closed(),
        })
    }

    /// `events` comments one at a time: each is committed, every socket's receipt awaited
    /// (up to `wait`), then a pause, so no event queues behind another.
    pub async fn paced(
        &mut self,
        committer: &mut Committer,
        events: usize,
        pause: Duration,
        wait: Duration,
    ) -> Result<Paced> {
        let first = committer.reserve(events);
        let mut ledger = Ledger::new(first, events, self.sockets)?;
        let mut commits = Histogram::<u64>::new(3)?;
        let mut timeouts = 0;
        for i in 0..events {
            let started = Instant::now();
            ledger.started[i] = Some(started);
            committer.commit(first + i).await?;
            commits.record(micros(started.elapsed()))?;
            let all = self
                .drain(&mut ledger, started + wait, |l, open| l.distinct[i] >= open)
                .await?;
            if !all {
                timeouts += 1;
            }
            tokio::time::sleep(pause).await;
        }
        self.drain(&mut ledger, Instant::now() + GRACE, |_, _| false)
            .await?;
        let mut firsts = Histogram::<u64>::new(3)?;
        let mut lasts = Histogram::<u64>::new(3)?;
        for (first, last) in ledger.first_receipt.iter().zip(&ledger.last_receipt) {
            if let (Some(first), Some(last)) = (first, last) {
                firsts.record(*first)?;
                lasts.record(*last)?;
            }
        }
        Ok(Paced {
            sockets: self.sockets,
            events,
            deliveries: ledger.total,
            p50_ms: ms(ledger.latencies.value_at_quantile(0.5)),
            p99_ms: ms(ledger.latencies.value_at_quantile(0.99)),
            max_ms: ms(ledger.latencies.max()),
            first_socket_p50_ms: ms(firsts.value_at_quantile(0.5)),
            first_socket_max_ms: ms(firsts.max()),
            last_socket_p50_ms: ms(lasts.value_at_quantile(0.5)),
            last_socket_max_ms: ms(lasts.max()),
            commit_call_p50_ms: ms(commits.value_at_quantile(0.5)),
            commit_call_max_ms: ms(commits.max()),
            events_not_everywhere_in_time: timeouts,
            lost: ledger.lost(),
            duplicated: ledger.duplicated(),
            closed: self.closed(),
        })
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // The readers own the sockets: stopping them closes every socket.
        for reader in &self.readers {
            reader.abort();
        }
    }
}

async fn read(
    group: Vec<(usize, Socket)>,
    receipts: mpsc::UnboundedSender<Receipt>,
    closed: Arc<AtomicUsize>,
) {
    let mut all = futures::stream::select_all(
        group
            .into_iter()
            .map(|(index, socket)| socket.map(move |frame| (index, frame))),
    );
    let mut gone = HashSet::new();
    while let Some((socket, frame)) = all.next().await {
        let at = Instant::now();
        match frame {
            Ok(Message::Text(text)) => {
                if let Some(number) = marker(&text) {
                    let receipt = Receipt { socket, number, at };
                    if receipts.send(receipt).is_err() {
                        return;
                    }
                }
            }
            Ok(Message::Close(_)) | Err(_) => {
                if gone.insert(socket) {
                    closed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
        }
    }
}

/// One phase's receipts: which socket had which comment, how often and how soon.
struct Ledger {
    first: usize,
    events: usize,
    sockets: usize,
    /// When the API call that committed each comment started.
    started: Vec<Option<Instant>>,
    /// Receipts per socket and comment (`event * sockets + socket`).
    cells: Vec<u8>,
    /// Sockets that have each comment.
    distinct: Vec<usize>,
    total: usize,
    latencies: Histogram<u64>,
    /// Each comment's fastest and slowest socket, µs.
    first_receipt: Vec<Option<u64>>,
    last_receipt: Vec<Option<u64>>,
    last: Option<Instant>,
}

impl Ledger {
    fn new(first: usize, events: usize, sockets: usize) -> Result<Self> {
        Ok(Self {
            first,
            events,
            sockets,
            started: vec![None; events],
            cells: vec![0; events * sockets],
            distinct: vec![0; events],
            total: 0,
            latencies: Histogram::new(3)?,
            first_receipt: vec![None; events],
            last_receipt: vec![None; events],
            last: None,
        })
    }

    fn record(&mut self, receipt: &Receipt) -> Result<()> {
        // A comment of an earlier phase that came after that phase gave up on it: already
        // counted lost there.
        let Some(event) = receipt
            .number
            .checked_sub(self.first)
            .filter(|e| *e < self.events)
        else {
            return Ok(());
        };
        let Some(started) = self.started[event] else {
            return Ok(());
        };
        let cell = &mut self.cells[event * self.sockets + receipt.socket];
        *cell = cell.saturating_add(1);
        if *cell == 1 {
            let latency = micros(receipt.at.saturating_duration_since(started));
            self.latencies.record(latency)?;
            self.distinct[event] += 1;
            self.total += 1;
            let first = self.first_receipt[event].get_or_insert(latency);
            *first = (*first).min(latency);
            let last = self.last_receipt[event].get_or_insert(latency);
            *last = (*last).max(latency);
            self.last = Some(self.last.map_or(receipt.at, |l| l.max(receipt.at)));
        }
        Ok(())
    }

    /// Socket-and-comment pairs never received.
    fn lost(&self) -> usize {
        self.cells.iter().filter(|c| **c == 0).count()
    }

    /// Socket-and-comment pairs received more than once.
    fn duplicated(&self) -> usize {
        self.cells.iter().filter(|c| **c > 1).count()
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Comments committed back to back.
#[derive(Clone, Debug, Serialize)]
pub struct Burst {
    pub sockets: usize,
    pub events: usize,
    pub deliveries: usize,
    /// Deliveries from the first commit's start to the last receipt.
    pub deliveries_per_second: f64,
    /// From the start of the API call that committed a comment to a socket's receipt of
    /// it; includes waiting behind the comments committed before it.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub lost: usize,
    pub duplicated: usize,
    pub closed: usize,
}

/// Comments committed one at a time, each once every socket had the one before.
#[derive(Clone, Debug, Serialize)]
pub struct Paced {
    pub sockets: usize,
    pub events: usize,
    pub deliveries: usize,
    /// From the start of the API call that committed a comment to a socket's receipt.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The median over comments of the fastest socket's latency (what the commit, the hub
    /// and one socket cost) and of the slowest's (plus the fan-out to all of them).
    pub first_socket_p50_ms: f64,
    pub first_socket_max_ms: f64,
    pub last_socket_p50_ms: f64,
    pub last_socket_max_ms: f64,
    /// The API call's own round trip (it answers after the commit).
    pub commit_call_p50_ms: f64,
    pub commit_call_max_ms: f64,
    pub events_not_everywhere_in_time: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub closed: usize,
}

#[cfg(test)]
mod tests {
    use super::marker;

    #[test]
    fn finds_the_comment_number() {
        let text = r#"{"type":"event","id":41,"payload":{"body":"fan-out comment fanout#17#"}}"#;
        assert_eq!(marker(text), Some(17));
        assert_eq!(marker(r#"{"type":"pong"}"#), None);
        assert_eq!(marker("fanout#"), None);
    }
}

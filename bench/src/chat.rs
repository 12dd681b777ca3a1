//! `--chat`: the support chat of issue 17, end to end over loopback against the release
//! server. One company with 10 agents and 100 requesters; each requester opens a
//! conversation (`POST /api/v1/conversations`, which gives it to the agent with the
//! shortest queue), and each agent's one socket subscribes to `conversation:<id>` for every
//! conversation it was given. A message is a requester's
//! `POST /api/v1/conversations/{id}/messages`; its latency runs from the start of that call
//! to the `message.posted` event read from the agent's socket. Three workloads:
//!
//! - paced: messages at a fixed rate spread over the 100 conversations (open loop);
//! - burst: every conversation posts at once, a few rounds;
//! - sustained: each requester posts its next message as soon as the last was answered 201
//!   (closed loop, 100 in flight), for messages per second with every message durable: a 201
//!   answers after the commit, and at the end the messages stored (counted in the database
//!   and by `GET /conversations/{id}/verify`, which also re-computes each chain) must equal
//!   the messages acknowledged, conversation by conversation.
//!
//! The baseline in the same run is the seed's chat service rebuilt on Django Channels
//! (`bench/peers/channels`, app `chat`): a view (or, as the seeds' consumers did, the
//! requester's socket) saves the chained message in a transaction and `group_send`s it to
//! the conversation's group, with the in-memory layer or channels_redis, on the same
//! database kind. The same client drives every side, in turns alternating with ours.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use clap::ValueEnum;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::api::{Api, text};
use crate::channels::{self, ChannelsPeer, ChatPeer, Layer};
use crate::cpu::{self, PerEvent as CpuPerEvent};
use crate::fleet::Socket;
use crate::seed::PASSWORD;
use crate::server::{Server, ServerConfig};
use crate::storage::{self, Db};

/// The baselines a run measures beside ours: Django Channels, the seeds' stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PeerSide {
    /// The in-memory layer, messages posted over HTTP.
    Memory,
    /// channels_redis, messages posted over HTTP.
    Redis,
    /// channels_redis, messages sent on the requester's own chat socket and saved by its
    /// consumer (the seeds' pattern), acknowledged by a `confirmation`.
    Socket,
}

impl PeerSide {
    fn name(self) -> &'static str {
        match self {
            Self::Memory => "channels_memory",
            Self::Redis => "channels_redis",
            Self::Socket => "channels_redis_socket",
        }
    }

    fn layer(self) -> Layer {
        match self {
            Self::Memory => Layer::Memory,
            Self::Redis | Self::Socket => Layer::Redis,
        }
    }
}

pub struct Options {
    pub quick: bool,
    /// `None`: SQLite files in the run's directory; a PostgreSQL server URL: every side on
    /// databases of its own made (and dropped) there.
    pub postgres: Option<String>,
    /// `bench/peers/channels`.
    pub peer_dir: PathBuf,
    pub peers: Vec<PeerSide>,
}

/// Agents of the company: about ten conversations each, as a support desk staffs it.
const AGENTS: usize = 10;
/// Concurrent conversations, one requester each.
const CONVERSATIONS: usize = 100;
/// Precedes a message's number in its text.
const MARK: &str = "chat#";
/// Tasks that read the agents' sockets.
const READERS: usize = 2;
/// How long a phase's deliveries may take after its last answer, at most.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// After a phase has every delivery: how long duplicates are still listened for.
const GRACE: Duration = Duration::from_millis(200);
/// Between burst rounds.
const PAUSE: Duration = Duration::from_millis(200);
/// One message's call (or socket confirmation), at most.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Set-up calls at once (user creation and login hash passwords: two cores).
const SETTING_UP: usize = 4;

/// How much each turn does.
struct Pace {
    paced_rate: f64,
    paced_messages: usize,
    bursts: usize,
    sustained: Duration,
    cycles: usize,
}

impl Pace {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                paced_rate: 20.0,
                paced_messages: 100,
                bursts: 2,
                sustained: Duration::from_secs(4),
                cycles: 1,
            }
        } else {
            Self {
                paced_rate: 20.0,
                paced_messages: 300,
                bursts: 3,
                sustained: Duration::from_secs(10),
                cycles: 2,
            }
        }
    }
}

/// The text of message `number`: a requester's line with the marker the client finds.
fn body_of(number: usize) -> String {
    format!("Hello, order {MARK}{number}# has still not arrived; could you check where it is?")
}

/// The message number in an event's text, if it carries one.
fn marker(text: &str) -> Option<usize> {
    let at = text.find(MARK)? + MARK.len();
    let digits = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// How a requester sends a message.
#[derive(Clone)]
enum Route {
    /// `POST <path>` `{"body"}` answered 201.
    Http {
        api: Api,
        path: String,
        token: Arc<str>,
    },
    /// `{"type": "message", "content"}` on the requester's chat socket, answered by
    /// `{"type": "confirmation"}` once saved.
    Socket(Arc<ChatSocket>),
}

/// A requester's chat socket: written by the poster, read all the time by a task of its
/// own, which answers the server's pings (daphne closes a socket that leaves them
/// unanswered) and hands over each confirmation or error.
struct ChatSocket {
    sink: Mutex<futures::stream::SplitSink<Socket, Message>>,
    answers: Mutex<mpsc::UnboundedReceiver<Result<(), String>>>,
    reader: JoinHandle<()>,
}

impl ChatSocket {
    fn new(socket: Socket) -> Self {
        let (sink, mut stream) = socket.split();
        let (sender, answers) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                let answer = match frame {
                    Ok(Message::Text(text)) => match serde_json::from_str::<Value>(&text) {
                        Ok(value) if value["type"] == "confirmation" => Ok(()),
                        Ok(value) if value["type"] == "error" => Err(text.to_string()),
                        // The broadcasts of one's own messages come here too.
                        _ => continue,
                    },
                    Ok(Message::Close(close)) => Err(format!("the chat socket closed: {close:?}")),
                    Err(error) => Err(format!("the chat socket failed: {error}")),
                    Ok(_) => continue,
                };
                let stop = answer.is_err();
                if sender.send(answer).is_err() || stop {
                    return;
                }
            }
        });
        Self {
            sink: Mutex::new(sink),
            answers: Mutex::new(answers),
            reader,
        }
    }
}

impl Drop for ChatSocket {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// One conversation of a side.
struct Conversation {
    route: Route,
    verify_path: String,
    agent_token: Arc<str>,
    /// Messages answered 201 (or confirmed), every phase and the warm-up included.
    acknowledged: usize,
}

/// What a seeded side gives the client.
struct Setup {
    stream_url: String,
    /// Each agent's token and the streams its socket subscribes to.
    agents: Vec<(Arc<str>, Vec<String>)>,
    conversations: Vec<Conversation>,
    /// The database and the query that counts its messages.
    database_url: String,
    count_sql: &'static str,
}

/// One message sent.
struct Post {
    number: usize,
    started: Instant,
    answered: Instant,
    error: Option<String>,
}

async fn post(route: &Route, number: usize) -> Post {
    let started = Instant::now();
    let result = tokio::time::timeout(CALL_TIMEOUT, send(route, number))
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {CALL_TIMEOUT:?}")));
    Post {
        number,
        started,
        answered: Instant::now(),
        error: result.err().map(|e| format!("{e:#}")),
    }
}

async fn send(route: &Route, number: usize) -> Result<()> {
    match route {
        Route::Http { api, path, token } => {
            let body = Bytes::from(json!({ "body": body_of(number) }).to_string());
            let (status, answer) = api
                .send(Method::POST, path, Some(&**token), "application/json", body)
                .await?;
            ensure!(
                status == StatusCode::CREATED,
                "POST {path} answered {status}: {answer}"
            );
            Ok(())
        }
        Route::Socket(socket) => {
            // One message in flight per requester: the answer read is this one's.
            let mut answers = socket.answers.lock().await;
            let message = json!({ "type": "message", "content": body_of(number) });
            socket
                .sink
                .lock()
                .await
                .send(Message::Text(message.to_string().into()))
                .await?;
            match answers.recv().await {
                Some(Ok(())) => Ok(()),
                Some(Err(error)) => bail!("{error}"),
                None => bail!("the chat socket's reader stopped"),
            }
        }
    }
}

/// Opens a socket with a bearer token; `url` is a stream or a chat socket.
async fn connect(url: &str, token: &str) -> Result<Socket> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(socket)
}

/// An agent's socket, subscribed to each of `streams`.
async fn agent_socket(url: &str, token: &str, streams: &[String]) -> Result<Socket> {
    let mut socket = connect(url, token).await?;
    for stream in streams {
        let message = json!({"type": "subscribe", "stream": stream});
        socket
            .send(Message::Text(message.to_string().into()))
            .await?;
    }
    let mut subscribed = 0;
    let wait = async {
        while subscribed < streams.len() {
            let Some(frame) = socket.next().await else {
                bail!("the agent's socket closed before `subscribed`");
            };
            if let Message::Text(text) = frame? {
                let value: Value = serde_json::from_str(&text)?;
                match value["type"].as_str() {
                    Some("subscribed") => subscribed += 1,
                    Some("event") => {}
                    _ => bail!("unexpected answer to subscribe: {value}"),
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(CALL_TIMEOUT, wait)
        .await
        .context("subscribing the agent's socket took over 30 s")??;
    Ok(socket)
}

/// The agents' sockets being read: each marked event's number and the instant it was read.
struct Listener {
    readers: Vec<JoinHandle<()>>,
    receipts: mpsc::UnboundedReceiver<(usize, Instant)>,
    closed: Arc<AtomicUsize>,
}

impl Listener {
    fn listen(sockets: Vec<Socket>) -> Self {
        let tasks = READERS.min(sockets.len().max(1));
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
            readers,
            receipts,
            closed,
        }
    }

    /// Takes the receipts of `posts` until every acknowledged one has come (or the drain
    /// times out), then listens a little longer for duplicates; answers each number's first
    /// receipt and how many times it came.
    async fn collect(&mut self, posts: &[Post]) -> Result<HashMap<usize, (Instant, u32)>> {
        let wanted: std::collections::HashSet<usize> = posts
            .iter()
            .filter(|p| p.error.is_none())
            .map(|p| p.number)
            .collect();
        let mut got: HashMap<usize, (Instant, u32)> = HashMap::new();
        let mut missing = wanted.len();
        let mut deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        let mut grace = false;
        loop {
            if missing == 0 && !grace {
                grace = true;
                deadline = tokio::time::Instant::now() + GRACE;
            }
            match tokio::time::timeout_at(deadline, self.receipts.recv()).await {
                Ok(Some((number, at))) => {
                    if !wanted.contains(&number) {
                        continue;
                    }
                    let entry = got.entry(number).or_insert((at, 0));
                    entry.1 += 1;
                    if entry.1 == 1 {
                        missing -= 1;
                    }
                }
                Ok(None) => bail!("every socket reader stopped"),
                Err(_) => return Ok(got),
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

async fn read(
    group: Vec<(usize, Socket)>,
    receipts: mpsc::UnboundedSender<(usize, Instant)>,
    closed: Arc<AtomicUsize>,
) {
    let mut all = futures::stream::select_all(
        group
            .into_iter()
            .map(|(index, socket)| socket.map(move |frame| (index, frame))),
    );
    while let Some((_, frame)) = all.next().await {
        let at = Instant::now();
        match frame {
            Ok(Message::Text(text)) => {
                if let Some(number) = marker(&text)
                    && receipts.send((number, at)).is_err()
                {
                    return;
                }
            }
            Ok(Message::Close(_)) | Err(_) => {
                closed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
        }
    }
}

/// One workload's figures on one side.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub messages: usize,
    pub acknowledged: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Acknowledged messages that reached the agent's socket.
    pub delivered: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// From the start of the requester's call to the event read from the agent's socket.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The requester's call alone (it answers after the commit).
    pub answer_p50_ms: f64,
    pub answer_p99_ms: f64,
    /// Acknowledged messages per second: over the whole workload (paced, sustained) or
    /// from each round's first call to its last delivery (burst).
    pub messages_per_second: f64,
    pub seconds: f64,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn figures(
    posts: &[Post],
    receipts: &HashMap<usize, (Instant, u32)>,
    seconds: f64,
) -> Result<Figures> {
    let mut latency = Histogram::<u64>::new(3)?;
    let mut answer = Histogram::<u64>::new(3)?;
    let (mut acknowledged, mut errors, mut delivered, mut lost, mut duplicated) = (0, 0, 0, 0, 0);
    let mut first_error = None;
    for post in posts {
        if let Some(error) = &post.error {
            errors += 1;
            first_error.get_or_insert_with(|| error.clone());
            continue;
        }
        acknowledged += 1;
        answer.record(micros(post.answered.duration_since(post.started)))?;
        match receipts.get(&post.number) {
            Some((at, count)) => {
                delivered += 1;
                if *count > 1 {
                    duplicated += 1;
                }
                latency.record(micros(at.saturating_duration_since(post.started)))?;
            }
            None => lost += 1,
        }
    }
    Ok(Figures {
        messages: posts.len(),
        acknowledged,
        errors,
        first_error,
        delivered,
        lost,
        duplicated,
        p50_ms: ms(latency.value_at_quantile(0.5)),
        p99_ms: ms(latency.value_at_quantile(0.99)),
        max_ms: ms(latency.max()),
        answer_p50_ms: ms(answer.value_at_quantile(0.5)),
        answer_p99_ms: ms(answer.value_at_quantile(0.99)),
        messages_per_second: acknowledged as f64 / seconds.max(1e-9),
        seconds,
    })
}

/// A side with its sockets open.
struct Side {
    name: &'static str,
    pid: u32,
    /// Processes whose work is the side's too: Redis for channels_redis.
    brokers: Vec<u32>,
    conversations: Vec<Conversation>,
    listener: Listener,
    next: Arc<AtomicUsize>,
    database_url: String,
    count_sql: &'static str,
    agent_subscriptions: Vec<usize>,
}

impl Side {
    async fn open(name: &'static str, pid: u32, brokers: Vec<u32>, setup: Setup) -> Result<Self> {
        let sockets = futures::future::try_join_all(
            setup
                .agents
                .iter()
                .map(|(token, streams)| agent_socket(&setup.stream_url, token, streams)),
        )
        .await
        .with_context(|| format!("{name}: opening the agents' sockets"))?;
        Ok(Self {
            name,
            pid,
            brokers,
            agent_subscriptions: setup.agents.iter().map(|(_, s)| s.len()).collect(),
            conversations: setup.conversations,
            listener: Listener::listen(sockets),
            next: Arc::new(AtomicUsize::new(0)),
            database_url: setup.database_url,
            count_sql: setup.count_sql,
        })
    }

    fn reserve(&self, n: usize) -> usize {
        self.next.fetch_add(n, Ordering::Relaxed)
    }

    /// Counts what was acknowledged, conversation by conversation.
    fn account(&mut self, posts: &[(usize, Post)]) {
        for (conversation, post) in posts {
            if post.error.is_none() {
                self.conversations[*conversation].acknowledged += 1;
            }
        }
    }

    /// `messages` at `rate` per second, message `i` to conversation `i mod 100`.
    async fn paced(&mut self, rate: f64, messages: usize) -> Result<Figures> {
        let first = self.reserve(messages);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let began = tokio::time::Instant::now() + Duration::from_millis(20);
        let count = self.conversations.len();
        let posts = futures::future::join_all((0..messages).map(|i| {
            let route = self.conversations[i % count].route.clone();
            let at = began + interval * u32::try_from(i).unwrap_or(u32::MAX);
            async move {
                tokio::time::sleep_until(at).await;
                (i % count, post(&route, first + i).await)
            }
        }))
        .await;
        self.finish(posts, began.into_std()).await
    }

    /// Every conversation posts at once, `rounds` times.
    async fn burst(&mut self, rounds: usize) -> Result<Figures> {
        let mut all = Vec::new();
        let mut receipts = HashMap::new();
        let mut seconds = 0.0;
        for _ in 0..rounds {
            let first = self.reserve(self.conversations.len());
            let began = Instant::now();
            let posts = futures::future::join_all(self.conversations.iter().enumerate().map(
                |(c, conversation)| {
                    let route = conversation.route.clone();
                    async move { (c, post(&route, first + c).await) }
                },
            ))
            .await;
            self.account(&posts);
            let posts: Vec<Post> = posts.into_iter().map(|(_, p)| p).collect();
            let got = self.listener.collect(&posts).await?;
            let last = got.values().map(|(at, _)| *at).max().unwrap_or(began);
            seconds += last.duration_since(began).as_secs_f64();
            receipts.extend(got);
            all.extend(posts);
            tokio::time::sleep(PAUSE).await;
        }
        figures(&all, &receipts, seconds)
    }

    /// Each conversation posts its next message once the last is acknowledged, until
    /// `duration` has passed; answers the figures and the CPU each message cost.
    async fn sustained(&mut self, duration: Duration) -> Result<(Figures, CpuPerEvent)> {
        let meter = cpu::Meter::start(self.pid, self.brokers.clone())?;
        let began = Instant::now();
        let deadline = began + duration;
        let next = self.next.clone();
        let posts = futures::future::join_all(self.conversations.iter().enumerate().map(
            |(c, conversation)| {
                let (route, next) = (conversation.route.clone(), next.clone());
                async move {
                    let mut posts = Vec::new();
                    while Instant::now() < deadline {
                        let number = next.fetch_add(1, Ordering::Relaxed);
                        posts.push((c, post(&route, number).await));
                    }
                    posts
                }
            },
        ))
        .await;
        let posts: Vec<(usize, Post)> = posts.into_iter().flatten().collect();
        let acknowledged = posts.iter().filter(|(_, p)| p.error.is_none()).count();
        let cpu = meter.per_event(acknowledged)?;
        let figures = self.finish(posts, began).await?;
        Ok((figures, cpu))
    }

    async fn finish(&mut self, posts: Vec<(usize, Post)>, began: Instant) -> Result<Figures> {
        self.account(&posts);
        let posts: Vec<Post> = posts.into_iter().map(|(_, p)| p).collect();
        let last = posts.iter().map(|p| p.answered).max().unwrap_or(began);
        let seconds = last.duration_since(began).as_secs_f64();
        let receipts = self.listener.collect(&posts).await?;
        figures(&posts, &receipts, seconds)
    }

    /// Compares what was stored with what was acknowledged: the database's count, and each
    /// conversation's chain re-computed by its verify endpoint.
    async fn durability(&self, api: &Api) -> Result<Durability> {
        let acknowledged: usize = self.conversations.iter().map(|c| c.acknowledged).sum();
        let db = Db::connect(&self.database_url, 1).await?;
        let stored = db.count(self.count_sql).await?;
        db.close().await;
        let verified = futures::future::try_join_all(self.conversations.iter().map(|c| {
            let api = api.clone();
            async move {
                let answer = api
                    .call(
                        Method::GET,
                        &c.verify_path,
                        Some(&*c.agent_token),
                        None,
                        StatusCode::OK,
                    )
                    .await?;
                Ok::<_, anyhow::Error>((answer, c.acknowledged))
            }
        }))
        .await?;
        let mut durability = Durability {
            acknowledged,
            stored_in_database: stored,
            counted_by_verify: 0,
            conversations_verified: verified.len(),
            chains_intact: 0,
            conversations_whose_count_differs: 0,
            first_problem: None,
        };
        for (answer, acknowledged) in verified {
            let checked = answer["checked"].as_i64().unwrap_or(-1);
            durability.counted_by_verify += checked;
            if answer["ok"] == true {
                durability.chains_intact += 1;
            } else {
                durability
                    .first_problem
                    .get_or_insert_with(|| format!("a broken chain: {answer}"));
            }
            if usize::try_from(checked).ok() != Some(acknowledged) {
                durability.conversations_whose_count_differs += 1;
                durability.first_problem.get_or_insert_with(|| {
                    format!("{acknowledged} acknowledged, {checked} stored in one conversation")
                });
            }
        }
        Ok(durability)
    }
}

/// Every acknowledged message stored, and every chain intact.
#[derive(Clone, Debug, Serialize)]
pub struct Durability {
    pub acknowledged: usize,
    pub stored_in_database: i64,
    pub counted_by_verify: i64,
    pub conversations_verified: usize,
    pub chains_intact: usize,
    pub conversations_whose_count_differs: usize,
    pub first_problem: Option<String>,
}

impl Durability {
    fn holds(&self) -> bool {
        i64::try_from(self.acknowledged).ok() == Some(self.stored_in_database)
            && self.stored_in_database == self.counted_by_verify
            && self.chains_intact == self.conversations_verified
            && self.conversations_whose_count_differs == 0
    }
}

#[derive(Serialize)]
pub struct Turn {
    pub cycle: usize,
    pub side: &'static str,
    pub paced: Figures,
    pub burst: Figures,
    pub sustained: Figures,
    pub sustained_cpu: CpuPerEvent,
}

async fn turn(side: &mut Side, cycle: usize, pace: &Pace) -> Result<Turn> {
    eprintln!("  turn {}: {}", cycle + 1, side.name);
    let paced = side
        .paced(pace.paced_rate, pace.paced_messages)
        .await
        .with_context(|| format!("{}: paced", side.name))?;
    let burst = side
        .burst(pace.bursts)
        .await
        .with_context(|| format!("{}: burst", side.name))?;
    let (sustained, sustained_cpu) = side
        .sustained(pace.sustained)
        .await
        .with_context(|| format!("{}: sustained", side.name))?;
    if sustained_cpu.others_ms > 2.0 {
        eprintln!(
            "  warning: other processes used {:.1} ms of CPU per message during {}'s sustained run ({} {:.1} ms): its figures shared the cores with them",
            sustained_cpu.others_ms,
            side.name,
            sustained_cpu.busiest_other,
            sustained_cpu.busiest_other_ms
        );
    }
    let turn = Turn {
        cycle,
        side: side.name,
        paced,
        burst,
        sustained,
        sustained_cpu,
    };
    for (what, f) in [
        ("paced", &turn.paced),
        ("burst", &turn.burst),
        ("sustained", &turn.sustained),
    ] {
        eprintln!(
            "    {what:<9} p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  {:>7.0} msg/s  errors {} lost {} dup {}",
            f.p50_ms, f.p99_ms, f.max_ms, f.messages_per_second, f.errors, f.lost, f.duplicated
        );
        if let Some(error) = &f.first_error {
            eprintln!("    first error: {error}");
        }
    }
    Ok(turn)
}

/// A fresh database for a side: a SQLite file in `dir`, or a database of its own on the
/// PostgreSQL server.
async fn database(options: &Options, dir: &std::path::Path, name: &str) -> Result<String> {
    match &options.postgres {
        None => Ok(format!(
            "sqlite://{}",
            dir.join(format!("{name}.db")).display()
        )),
        Some(admin) => storage::recreate_database(admin, name, true).await,
    }
}

async fn drop_database(options: &Options, name: &str) -> Result<()> {
    if let Some(admin) = &options.postgres {
        storage::recreate_database(admin, name, false).await?;
    }
    Ok(())
}

/// Signs a company up, makes the agents and requesters, opens one conversation per
/// requester (assigned by the server) and answers what the client needs.
async fn seed_ours(addr: SocketAddr, database_url: String) -> Result<Setup> {
    let api = Api::new(addr);
    let signed_up = api
        .call(
            Method::POST,
            "/api/v1/signup",
            None,
            Some(&json!({
                "company_name": "Zeppelin Support",
                "admin_email": "admin@support.example",
                "admin_password": PASSWORD,
                "admin_first_name": "Ada",
                "admin_last_name": "Admin",
            })),
            StatusCode::CREATED,
        )
        .await?;
    let admin = text(&signed_up, "/access_token")?;
    // The sustained phase posts several messages a second per requester, far beyond the
    // per-person rate a company allows by default (30 a minute): this company allows any.
    // (A server from before chat settings, measured with `--server`, has no such limit.)
    let settings = json!({
        "max_message_chars": 5000,
        "max_attachment_bytes": 10_485_760,
        "requester_attachments": true,
        "assignment": "shortest_queue",
        "sealed": false,
        "messages_per_minute": 0,
    });
    let (status, answer) = api
        .send(
            Method::PUT,
            "/api/v1/company/chat-settings",
            Some(admin.as_str()),
            "application/json",
            settings.to_string().into(),
        )
        .await?;
    if status != StatusCode::OK && status != StatusCode::NOT_FOUND {
        anyhow::bail!("PUT /api/v1/company/chat-settings answered {status}: {answer}");
    }
    let people = futures::stream::iter(
        (0..AGENTS)
            .map(|n| (format!("agent{n}@support.example"), true))
            .chain((0..CONVERSATIONS).map(|n| (format!("requester{n}@support.example"), false))),
    )
    .map(|(email, agent)| {
        let (api, admin) = (api.clone(), admin.clone());
        async move {
            let roles = if agent {
                vec!["user", "agent"]
            } else {
                vec!["user"]
            };
            let created = api
                .call(
                    Method::POST,
                    "/api/v1/users",
                    Some(admin.as_str()),
                    Some(&json!({
                        "email": email, "password": PASSWORD,
                        "first_name": if agent { "Agent" } else { "Rhea" },
                        "last_name": email.split('@').next().unwrap_or_default(),
                        "system_roles": roles,
                    })),
                    StatusCode::CREATED,
                )
                .await?;
            let id = text(&created, "/id")?;
            let token = crate::seed::login(&api, &email).await?;
            Ok::<_, anyhow::Error>((id, token, agent))
        }
    })
    .buffered(SETTING_UP)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    let agents: Vec<(String, Arc<str>)> = people
        .iter()
        .filter(|p| p.2)
        .map(|(id, token, _)| (id.clone(), token.clone()))
        .collect();
    let mut streams: Vec<Vec<String>> = vec![Vec::new(); agents.len()];
    let mut conversations = Vec::new();
    // One after the other: each assignment sees the queues the ones before it left.
    for (n, (_, token, _)) in people.iter().filter(|p| !p.2).enumerate() {
        let opened = api
            .call(
                Method::POST,
                "/api/v1/conversations",
                Some(&**token),
                Some(&json!({ "subject": format!("Order {n} has not arrived") })),
                StatusCode::CREATED,
            )
            .await?;
        let id = text(&opened, "/id")?;
        let assignee = text(&opened, "/assignee_id")
            .context("a new conversation was left unassigned with agents in the company")?;
        let agent = agents
            .iter()
            .position(|(agent, _)| *agent == assignee)
            .with_context(|| format!("conversation {id} went to {assignee}, not an agent"))?;
        streams[agent].push(format!("conversation:{id}"));
        conversations.push(Conversation {
            route: Route::Http {
                api: api.clone(),
                path: format!("/api/v1/conversations/{id}/messages"),
                token: token.clone(),
            },
            verify_path: format!("/api/v1/conversations/{id}/verify"),
            agent_token: agents[agent].1.clone(),
            acknowledged: 0,
        });
    }
    Ok(Setup {
        stream_url: format!("ws://{addr}/api/v1/stream"),
        agents: agents
            .into_iter()
            .zip(streams)
            .map(|((_, token), streams)| (token, streams))
            .collect(),
        conversations,
        database_url,
        count_sql: "SELECT COUNT(*) FROM conversation_messages",
    })
}

/// The peer's requesters open their conversations (the peer assigns them), as ours do.
async fn seed_peer(peer: &ChatPeer, side: PeerSide, database_url: String) -> Result<Setup> {
    let api = Api::new(peer.addr);
    let mut streams: Vec<Vec<String>> = vec![Vec::new(); peer.agents.len()];
    let mut conversations = Vec::new();
    for (n, requester) in peer.requesters.iter().enumerate() {
        let opened = api
            .call(
                Method::POST,
                "/conversations",
                Some(requester.token.as_str()),
                Some(&json!({ "subject": format!("Order {n} has not arrived") })),
                StatusCode::CREATED,
            )
            .await?;
        let id = opened["id"].as_i64().context("no conversation id")?;
        let assignee = opened["assignee_id"].as_i64().context("unassigned")?;
        let agent = peer
            .agents
            .iter()
            .position(|a| a.id == assignee)
            .context("the peer gave a conversation to no agent")?;
        streams[agent].push(format!("conversation:{id}"));
        let token: Arc<str> = requester.token.as_str().into();
        let route = match side {
            PeerSide::Socket => {
                let url = format!("ws://{}/ws/support/chat/{id}/", peer.addr);
                Route::Socket(Arc::new(ChatSocket::new(connect(&url, &token).await?)))
            }
            PeerSide::Memory | PeerSide::Redis => Route::Http {
                api: api.clone(),
                path: format!("/conversations/{id}/messages"),
                token,
            },
        };
        conversations.push(Conversation {
            route,
            verify_path: format!("/conversations/{id}/verify"),
            agent_token: peer.agents[agent].token.as_str().into(),
            acknowledged: 0,
        });
    }
    Ok(Setup {
        stream_url: format!("ws://{}/stream", peer.addr),
        agents: peer
            .agents
            .iter()
            .zip(streams)
            .map(|(agent, streams)| (agent.token.as_str().into(), streams))
            .collect(),
        conversations,
        database_url,
        count_sql: "SELECT COUNT(*) FROM chat_message",
    })
}

/// The SQLite URL of a peer's database is a file path to Django.
fn django_db(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

#[allow(clippy::too_many_lines)] // set-up, turns, checks and report read best in order
pub async fn run(config: &ServerConfig, options: &Options) -> Result<Value> {
    let pace = Pace::of(options.quick);
    let kind = if options.postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    if options.peers.iter().any(|p| p.layer() == Layer::Redis) {
        channels::check_redis().await?;
    }
    let dir = config.data_dir.clone();

    eprintln!("chat: ours on {kind}: {AGENTS} agents, {CONVERSATIONS} requesters");
    let mut ours_config = config.clone();
    ours_config.database_url = database(options, &dir, "tf_bench_chat").await?;
    let (server, _) = Server::start(&ours_config).await?;
    let api = Api::new(server.addr);
    let setup = seed_ours(server.addr, ours_config.database_url.clone())
        .await
        .with_context(|| {
            format!(
                "seeding ours; the server's log: {}",
                ours_config.log().display()
            )
        })?;
    let waited = crate::stream::quiet(server.pid()).await?;
    eprintln!("  server quiet after {:.1} s", waited.as_secs_f64());
    let mut ours = Side::open("ours", server.pid(), Vec::new(), setup).await?;

    let venv = options.peer_dir.join(".venv");
    if !options.peers.is_empty() {
        ChannelsPeer::install(&options.peer_dir, &venv).await?;
    }
    let mut peers = Vec::new();
    let mut sides = Vec::new();
    for &which in &options.peers {
        eprintln!("chat: {} on {kind}", which.name());
        let name = format!("tf_bench_chat_{}", which.name());
        let url = database(options, &dir, &name).await?;
        let peer = ChatPeer::start(
            &options.peer_dir,
            &venv,
            django_db(&url),
            which.layer(),
            AGENTS,
            CONVERSATIONS,
        )
        .await?;
        let setup = seed_peer(&peer, which, url).await?;
        let brokers = match which.layer() {
            Layer::Memory => Vec::new(),
            Layer::Redis => cpu::pids_named("redis-server")?,
        };
        sides.push(Side::open(which.name(), peer.pid(), brokers, setup).await?);
        peers.push((peer, name));
    }

    // Warm-up, not counted: connections, prepared statements, each socket's first frames.
    for side in std::iter::once(&mut ours).chain(sides.iter_mut()) {
        side.burst(1).await?;
        side.paced(pace.paced_rate * 2.0, CONVERSATIONS / 2).await?;
    }

    let mut turns = Vec::new();
    let mut ratios: Vec<(&'static str, [f64; 4])> = Vec::new();
    for cycle in 0..pace.cycles {
        if sides.is_empty() {
            turns.push(turn(&mut ours, cycle, &pace).await?);
        }
        for side in &mut sides {
            // Ours just before each peer: the ratio compares turns seconds apart.
            let mine = turn(&mut ours, cycle, &pace).await?;
            let theirs = turn(side, cycle, &pace).await?;
            // No ratio against a side that measured nothing (NaN is null in the JSON).
            let over = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
            ratios.push((
                side.name,
                [
                    over(
                        mine.sustained.messages_per_second,
                        theirs.sustained.messages_per_second,
                    ),
                    over(mine.paced.p50_ms, theirs.paced.p50_ms),
                    over(mine.paced.p99_ms, theirs.paced.p99_ms),
                    over(mine.burst.p99_ms, theirs.burst.p99_ms),
                ],
            ));
            turns.push(mine);
            turns.push(theirs);
        }
    }

    eprintln!("checking every acknowledged message is stored and every chain intact");
    let mut durability = vec![("ours", ours.durability(&api).await?)];
    for (side, (peer, _)) in sides.iter().zip(&peers) {
        durability.push((side.name, side.durability(&Api::new(peer.addr)).await?));
    }
    let durable: HashMap<&'static str, bool> = durability
        .iter()
        .map(|(name, d)| (*name, d.holds()))
        .collect();
    let durability: serde_json::Map<String, Value> = durability
        .into_iter()
        .map(|(name, d)| (name.to_owned(), json!(d)))
        .collect();
    let mut memory = serde_json::Map::new();
    memory.insert("ours".into(), json!(server.rss_kib()? as f64 / 1024.0));
    for (side, (peer, _)) in sides.iter().zip(&peers) {
        memory.insert(
            side.name.into(),
            json!(crate::server::rss_kib(peer.pid())? as f64 / 1024.0),
        );
    }
    let subscriptions: Vec<usize> = ours.agent_subscriptions.clone();
    // Agents' sockets the server closed (or that failed) during the run, per side.
    let closed: HashMap<&'static str, usize> = std::iter::once(&ours)
        .chain(sides.iter())
        .map(|s| (s.name, s.listener.closed.load(Ordering::Relaxed)))
        .collect();
    let side_names: Vec<&'static str> = std::iter::once("ours")
        .chain(sides.iter().map(|s| s.name))
        .collect();
    drop(ours);
    drop(sides);
    server.stop().await?;
    drop_database(options, "tf_bench_chat").await?;
    for (peer, name) in peers {
        peer.stop().await?;
        drop_database(options, &name).await?;
    }

    let median_of = |name: &str, pick: fn(&Turn) -> f64| {
        let mut values: Vec<f64> = turns.iter().filter(|t| t.side == name).map(pick).collect();
        crate::versus::median(&mut values)
    };
    let mut medians = serde_json::Map::new();
    for &name in &side_names {
        let sum = |pick: fn(&Turn) -> usize| {
            turns
                .iter()
                .filter(|t| t.side == name)
                .map(pick)
                .sum::<usize>()
        };
        medians.insert(
            name.into(),
            json!({
                "paced_p50_ms": median_of(name, |t| t.paced.p50_ms),
                "paced_p99_ms": median_of(name, |t| t.paced.p99_ms),
                "paced_max_ms": median_of(name, |t| t.paced.max_ms),
                "paced_answer_p50_ms": median_of(name, |t| t.paced.answer_p50_ms),
                "burst_p50_ms": median_of(name, |t| t.burst.p50_ms),
                "burst_p99_ms": median_of(name, |t| t.burst.p99_ms),
                "burst_max_ms": median_of(name, |t| t.burst.max_ms),
                "burst_messages_per_second": median_of(name, |t| t.burst.messages_per_second),
                "sustained_messages_per_second": median_of(name, |t| t.sustained.messages_per_second),
                "sustained_p50_ms": median_of(name, |t| t.sustained.p50_ms),
                "sustained_p99_ms": median_of(name, |t| t.sustained.p99_ms),
                "sustained_server_cpu_ms_per_message": median_of(name, |t| t.sustained_cpu.server_ms),
                "sustained_client_cpu_ms_per_message": median_of(name, |t| t.sustained_cpu.client_ms),
                "sustained_other_processes_cpu_ms_per_message": median_of(name, |t| t.sustained_cpu.others_ms),
                "errors": sum(|t| t.paced.errors + t.burst.errors + t.sustained.errors),
                "lost": sum(|t| t.paced.lost + t.burst.lost + t.sustained.lost),
                "duplicated": sum(|t| t.paced.duplicated + t.burst.duplicated + t.sustained.duplicated),
            }),
        );
    }
    let mut ratio_map = serde_json::Map::new();
    for &(name, _) in &ratios {
        let key = format!("ours_over_{name}");
        if ratio_map.contains_key(&key) {
            continue;
        }
        let of = |i: usize| {
            let mut values: Vec<f64> = ratios
                .iter()
                .filter(|r| r.0 == name)
                .map(|r| r.1[i])
                .collect();
            crate::versus::median(&mut values)
        };
        ratio_map.insert(
            key,
            json!({
                "sustained_messages_per_second": of(0),
                "paced_p50_ms": of(1),
                "paced_p99_ms": of(2),
                "burst_p99_ms": of(3),
            }),
        );
    }
    let checks: serde_json::Map<String, Value> = side_names
        .iter()
        .map(|&name| {
            let m = &medians[name];
            let clean = m["errors"] == 0
                && m["lost"] == 0
                && m["duplicated"] == 0
                && closed.get(name) == Some(&0);
            (
                name.to_owned(),
                json!({
                    "nothing_lost_duplicated_refused_or_closed": clean,
                    "every_acknowledged_message_stored_and_chained": durable.get(name) == Some(&true),
                }),
            )
        })
        .collect();
    let report = json!({
        "kind": "chat",
        "commit": crate::commit(),
        "machine": crate::machine(),
        "database": kind,
        "quick": options.quick,
        "method": {
            "company": format!("{AGENTS} agents, {CONVERSATIONS} requesters, one conversation each, assigned by the server (the peer: the agent with the fewest active conversations)"),
            "agent_socket_subscriptions": subscriptions,
            "latency": "from the start of the requester's POST (or socket send) to the message.posted event read from the assigned agent's socket",
            "paced": format!("{} messages at {} per second, message i to conversation i mod {CONVERSATIONS}", pace.paced_messages, pace.paced_rate),
            "burst": format!("{} rounds of one message in every conversation at once; messages/s from each round's first call to its last delivery", pace.bursts),
            "sustained": format!("{} s closed loop: each requester posts its next message when the last was acknowledged ({CONVERSATIONS} in flight)", pace.sustained.as_secs()),
            "durable": "a 201 (the peer's socket: a confirmation) answers after the commit; afterwards the messages in the database and those counted by each conversation's verify (which re-computes its chain) must equal those acknowledged, conversation by conversation",
            "order": "per cycle: ours then each peer, so each ratio compares turns seconds apart; ratios are medians over cycles",
            "client": "the bench's one process posts and reads every socket, on the same two cores as the servers",
            "cycles": pace.cycles,
        },
        "medians": medians,
        "ratios_ours_over_theirs": ratio_map,
        "durability": durability,
        "rss_mib_after": memory,
        "agent_sockets_closed": closed,
        "checks": checks,
        "turns": turns,
    });
    print_table(&report);
    Ok(report)
}

fn print_table(report: &Value) {
    let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!(
        "\nSupport chat on {} ({}), commit {}: {AGENTS} agents, {CONVERSATIONS} conversations; medians over {} cycle(s)",
        report["database"].as_str().unwrap_or("?"),
        report["machine"]["model"].as_str().unwrap_or("?"),
        report["commit"].as_str().unwrap_or("?"),
        report["method"]["cycles"],
    );
    println!(
        "{:<22} {:>16} {:>16} {:>10} {:>16} {:>10} {:>6} {:>5} {:>4} {:>4}",
        "side",
        "paced p50/p99",
        "burst p50/p99",
        "burst/s",
        "sustained p50/99",
        "sust. /s",
        "CPU/m",
        "err",
        "lost",
        "dup"
    );
    let empty = serde_json::Map::new();
    for (name, m) in report["medians"].as_object().unwrap_or(&empty) {
        println!(
            "{name:<22} {:>7.1} /{:>7.1} {:>7.1} /{:>7.1} {:>10.0} {:>7.1} /{:>7.1} {:>10.0} {:>6.2} {:>5} {:>4} {:>4}",
            number(&m["paced_p50_ms"]),
            number(&m["paced_p99_ms"]),
            number(&m["burst_p50_ms"]),
            number(&m["burst_p99_ms"]),
            number(&m["burst_messages_per_second"]),
            number(&m["sustained_p50_ms"]),
            number(&m["sustained_p99_ms"]),
            number(&m["sustained_messages_per_second"]),
            number(&m["sustained_server_cpu_ms_per_message"]),
            m["errors"],
            m["lost"],
            m["duplicated"],
        );
    }
    println!(
        "(latencies in ms from the requester's call to the agent's socket; /s: acknowledged messages per second; CPU/m: the server's (and its broker's) CPU ms per sustained message)"
    );
    for (name, r) in report["ratios_ours_over_theirs"]
        .as_object()
        .unwrap_or(&empty)
    {
        println!(
            "{name}: sustained messages/s {:.2}x; paced p50 {:.2}x, p99 {:.2}x; burst p99 {:.2}x (latency under 1: ours is faster)",
            number(&r["sustained_messages_per_second"]),
            number(&r["paced_p50_ms"]),
            number(&r["paced_p99_ms"]),
            number(&r["burst_p99_ms"]),
        );
    }
    for (name, d) in report["durability"].as_object().unwrap_or(&empty) {
        println!(
            "durable {name}: {} acknowledged, {} in the database, {} counted by verify; {}/{} chains intact{}",
            d["acknowledged"],
            d["stored_in_database"],
            d["counted_by_verify"],
            d["chains_intact"],
            d["conversations_verified"],
            d["first_problem"]
                .as_str()
                .map(|p| format!("; {p}"))
                .unwrap_or_default(),
        );
    }
    for (name, c) in report["checks"].as_object().unwrap_or(&empty) {
        println!("checks {name}: {c}");
    }
    println!(
        "Two cores shared by the client and every server: on a busy machine (other builds) the figures are noisy; compare the ratios, measured seconds apart."
    );
}

#[cfg(test)]
mod tests {
    use super::{body_of, marker};

    #[test]
    fn finds_the_message_number() {
        let event = format!(
            r#"{{"type":"event","kind":"message.posted","payload":{{"body":"{}"}}}}"#,
            body_of(4711)
        );
        assert_eq!(marker(&event), Some(4711));
        assert_eq!(marker(r#"{"type":"pong"}"#), None);
        assert_eq!(marker("chat#"), None);
    }
}

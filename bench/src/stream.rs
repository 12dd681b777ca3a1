//! `--stream`: the live stream measured over loopback against the release server, in three
//! phases (`--phases`):
//!
//! - `fan-out`: N sockets, each of its own integration (an API token: a user may hold 16
//!   sockets), subscribed to one ticket on one node and SQLite. A burst of comments
//!   committed back to back through the API gives deliveries per second; then comments
//!   committed one at a time, each once every socket had the one before, give the latency
//!   from commit to receipt without queueing behind other events. Also the RSS each idle
//!   socket costs, and a reconnect storm: every client drops, comments are committed
//!   meanwhile, and all reconnect at once with `since`.
//! - `cross-node`: two nodes on one fresh PostgreSQL database, over the `postgres` bus and
//!   then the `nats` bus (a private nats-server); sockets on node B, comments committed
//!   through node A, paced. The safety-net poll is set to a minute so what arrives came
//!   over the bus.
//! - `channels`: the seed's peer, Django Channels on daphne with the in-memory layer and
//!   with Redis, the same fan-out by the same client, in turns alternating with ours
//!   (ours, memory, ours, redis) so each ratio compares measurements seconds apart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use futures::{StreamExt, TryStreamExt};
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::api::{Api, text};
use crate::channels::{ChannelsPeer, Layer};
use crate::cpu::{self, PerEvent as CpuPerEvent};
use crate::fleet::{self, Burst, Committer, Endpoint, Fleet, Paced};
use crate::seed::{self, Plan};
use crate::server::{Server, ServerConfig, free_port};
use crate::storage;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Phase {
    FanOut,
    CrossNode,
    Channels,
}

pub struct Options {
    pub quick: bool,
    /// Socket counts of the fan-out phase.
    pub sizes: Vec<usize>,
    pub phases: Vec<Phase>,
    /// A PostgreSQL server URL (`postgres://user@host:port/db`) on which the cross-node
    /// phase creates, and drops, a database of its own.
    pub postgres: String,
    /// `bench/peers/channels`.
    pub peer_dir: PathBuf,
    /// Sockets per side in the Channels comparison.
    pub channels_sockets: usize,
}

/// How much each phase does.
struct Pace {
    burst: usize,
    paced: usize,
    /// Paced comments before each measurement, not counted: the first statements prepared,
    /// the first frames of each socket.
    warm: usize,
    cross_sockets: usize,
    cross_events: usize,
    cycles: usize,
    versus_paced: usize,
}

impl Pace {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                burst: 20,
                paced: 20,
                warm: 2,
                cross_sockets: 50,
                cross_events: 15,
                cycles: 1,
                versus_paced: 15,
            }
        } else {
            Self {
                burst: 20,
                paced: 50,
                warm: 3,
                cross_sockets: 100,
                cross_events: 50,
                cycles: 2,
                versus_paced: 30,
            }
        }
    }
}

/// Between paced comments, once every socket had the last one.
const PAUSE: Duration = Duration::from_millis(50);
/// How long a paced comment may take to reach every socket before the next is committed.
const WAIT: Duration = Duration::from_secs(5);
/// Comments committed while every client is away, before the storm.
const MISSED: usize = 5;
/// Clients in the reconnect storm, at most.
const STORM: usize = 2_000;
/// The whole storm, at most.
const STORM_TIMEOUT: Duration = Duration::from_secs(60);
/// API tokens issued at once.
const ISSUING: usize = 8;

/// Waits until the process at `pid` has been quiet (under 5% of a core) for half a second,
/// at most 30 s, and answers how long that took: after seeding, a server's job workers
/// still work through what the seed caused, and a measurement must not share the cores
/// with them.
pub async fn quiet(pid: u32) -> Result<Duration> {
    let started = Instant::now();
    let window = Duration::from_millis(500);
    loop {
        let before = cpu::seconds(pid)?;
        tokio::time::sleep(window).await;
        let busy = cpu::seconds(pid)? - before;
        if busy < 0.05 * window.as_secs_f64() || started.elapsed() > Duration::from_secs(30) {
            return Ok(started.elapsed());
        }
    }
}

/// One size's figures on one node.
#[derive(Serialize)]
pub struct FanOut {
    pub sockets: usize,
    pub burst: Burst,
    pub paced: Paced,
    pub paced_cpu: CpuPerEvent,
    /// Resident memory each idle subscribed socket adds to the server (the second half of
    /// the sockets, once the first half has warmed the pools), KiB.
    pub idle_kib_per_socket: f64,
    /// From the reconnect of every client (with `since`) until all had the comments
    /// committed while they were away, ms.
    pub reconnect_storm_ms: f64,
    pub reconnect_clients: usize,
}

#[derive(Serialize)]
pub struct CrossNode {
    pub bus: &'static str,
    pub realtime_poll_ms: u64,
    pub paced: Paced,
}

#[derive(Serialize)]
pub struct Turn {
    pub cycle: usize,
    pub side: &'static str,
    pub burst: Burst,
    pub paced: Paced,
    pub paced_cpu: CpuPerEvent,
}

pub async fn run(config: &ServerConfig, options: &Options) -> Result<Value> {
    let pace = Pace::of(options.quick);
    let mut report = serde_json::Map::new();
    report.insert("kind".into(), json!("stream"));
    report.insert("commit".into(), json!(crate::commit()));
    report.insert("machine".into(), crate::machine());
    report.insert("quick".into(), json!(options.quick));
    report.insert(
        "method".into(),
        json!({
            "latency": "from the start of the API call that commits a comment to a socket's receipt of it",
            "burst_events": pace.burst,
            "paced_events": pace.paced,
            "paced_pause_ms": PAUSE.as_millis(),
            "paced_warm_up_events_not_counted": pace.warm,
            "client": "the same process reads every socket on 2 tasks, on the server's 2 cores",
        }),
    );
    // Checked first: a missing Redis should stop the run before minutes of other phases.
    if options.phases.contains(&Phase::Channels) {
        crate::channels::check_redis().await?;
    }
    let mut fan_outs = Vec::new();
    if options.phases.contains(&Phase::FanOut) {
        for &sockets in &options.sizes {
            let figures = fan_out(config, sockets, &pace).await?;
            print_fan_out(&figures);
            fan_outs.push(figures);
        }
        report.insert("fan_out".into(), json!(fan_outs));
    }
    let mut crosses = Vec::new();
    if options.phases.contains(&Phase::CrossNode) {
        for bus in ["postgres", "nats"] {
            let figures = cross_node(config, options, &pace, bus).await?;
            let p = &figures.paced;
            eprintln!(
                "cross-node over {bus:<8} {:>4} sockets on B, commits on A: paced p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (first socket {:.1}, API call {:.1}), lost {}, duplicated {}",
                p.sockets,
                p.p50_ms,
                p.p99_ms,
                p.max_ms,
                p.first_socket_p50_ms,
                p.commit_call_p50_ms,
                p.lost,
                p.duplicated
            );
            crosses.push(figures);
        }
        report.insert("cross_node".into(), json!(crosses));
    }
    let mut channels = None;
    if options.phases.contains(&Phase::Channels) {
        let figures = versus(config, options, &pace).await?;
        channels = Some(figures);
    }
    if let Some(channels) = &channels {
        report.insert("channels".into(), channels.clone());
    }
    report.insert(
        "targets_met".into(),
        targets(&fan_outs, &crosses, channels.as_ref()),
    );
    Ok(Value::Object(report))
}

/// The targets, where this run measured them.
fn targets(fan_outs: &[FanOut], crosses: &[CrossNode], channels: Option<&Value>) -> Value {
    let at_1000 = fan_outs.iter().find(|f| f.sockets == 1_000);
    let ratio = |layer: &str| {
        channels.and_then(|c| c["ratios"][format!("deliveries_over_channels_{layer}")].as_f64())
    };
    let mut clean = fan_outs
        .iter()
        .all(|f| f.burst.lost + f.burst.duplicated + f.paced.lost + f.paced.duplicated == 0)
        && crosses
            .iter()
            .all(|c| c.paced.lost + c.paced.duplicated == 0);
    if let Some(channels) = channels {
        clean &= channels["turns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["side"] == "ours")
            .all(|t| {
                ["burst", "paced"].iter().all(|phase| {
                    t[phase]["lost"].as_u64() == Some(0)
                        && t[phase]["duplicated"].as_u64() == Some(0)
                })
            });
    }
    json!({
        "paced_p99_under_25_ms_to_1000_sockets": at_1000.map(|f| f.paced.p99_ms < 25.0),
        "deliveries_at_least_10x_channels_memory": ratio("memory").map(|r| r >= 10.0),
        "deliveries_at_least_10x_channels_redis": ratio("redis").map(|r| r >= 10.0),
        "idle_socket_at_most_16_kib": (!fan_outs.is_empty())
            .then(|| fan_outs.iter().all(|f| f.idle_kib_per_socket <= 16.0)),
        "cross_node_p99_under_100_ms": (!crosses.is_empty())
            .then(|| crosses.iter().all(|c| c.paced.p99_ms < 100.0)),
        "nothing_lost_or_duplicated": clean,
    })
}

/// Other processes' CPU per paced comment beyond which a phase's figures are flagged.
const CROWDED_MS: f64 = 10.0;

fn warn_if_crowded(what: &str, cpu: &CpuPerEvent) {
    if cpu.others_ms > CROWDED_MS {
        eprintln!(
            "  warning: other processes used {:.0} ms of CPU per comment during {what} ({} {:.0} ms): its figures shared the cores with them",
            cpu.others_ms, cpu.busiest_other, cpu.busiest_other_ms
        );
    }
}

fn print_fan_out(f: &FanOut) {
    warn_if_crowded(
        &format!("the {} sockets' paced phase", f.sockets),
        &f.paced_cpu,
    );
    eprintln!(
        "{:>6} sockets: burst {:>7.0} deliveries/s (p50 {:.1} ms, p99 {:.1} ms); paced p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (first socket {:.1}, last {:.1}, API call {:.1}; CPU per comment: server {:.1} ms, bench {:.1} ms, other processes {:.1} ms, kernel threads {:.1} ms, interrupts {:.1} ms, stolen {:.1} ms); {:.1} KiB per idle socket; reconnect storm of {} in {:.0} ms; lost {}, duplicated {}",
        f.sockets,
        f.burst.deliveries_per_second,
        f.burst.p50_ms,
        f.burst.p99_ms,
        f.paced.p50_ms,
        f.paced.p99_ms,
        f.paced.max_ms,
        f.paced.first_socket_p50_ms,
        f.paced.last_socket_p50_ms,
        f.paced.commit_call_p50_ms,
        f.paced_cpu.server_ms,
        f.paced_cpu.client_ms,
        f.paced_cpu.others_ms,
        f.paced_cpu.kernel_threads_ms,
        f.paced_cpu.interrupts_ms,
        f.paced_cpu.steal_ms,
        f.idle_kib_per_socket,
        f.reconnect_clients,
        f.reconnect_storm_ms,
        f.burst.lost + f.paced.lost,
        f.burst.duplicated + f.paced.duplicated,
    );
}

/// What a seeded server gives the fan-out: who comments, on which ticket, and a token for
/// each socket.
struct Prepared {
    admin: String,
    ticket: String,
    tokens: Vec<String>,
}

impl Prepared {
    fn endpoint(&self, node: SocketAddr) -> Endpoint {
        Endpoint {
            url: format!("ws://{node}/api/v1/stream"),
            stream: format!("ticket:{}", self.ticket),
        }
    }

    fn committer(&self, node: SocketAddr) -> Committer {
        Committer::new(
            Api::new(node),
            format!("/api/v1/tickets/{}/comments", self.ticket),
            self.admin.clone(),
        )
    }
}

async fn prepare(addr: SocketAddr, sockets: usize) -> Result<Prepared> {
    let api = Api::new(addr);
    let (companies, _) = seed::seed(
        addr,
        Plan {
            companies: 1,
            users_per_company: 5,
            tickets: 1,
        },
    )
    .await?;
    let company = companies.first().context("a company")?;
    let admin = company.admin.token.to_string();
    let ticket = company.tickets.first().context("a ticket")?.clone();
    eprintln!("issuing {sockets} API tokens");
    let tokens = futures::stream::iter(0..sockets)
        .map(|n| {
            let (api, admin) = (api.clone(), admin.clone());
            async move {
                let issued = api
                    .call(
                        Method::POST,
                        "/api/v1/api-tokens",
                        Some(&admin),
                        Some(&json!({"name": format!("watcher {n}"), "roles": ["ticket_admin"]})),
                        StatusCode::CREATED,
                    )
                    .await?;
                text(&issued, "/secret")
            }
        })
        .buffered(ISSUING)
        .try_collect()
        .await?;
    Ok(Prepared {
        admin,
        ticket,
        tokens,
    })
}

fn sqlite_config(config: &ServerConfig, name: &str) -> ServerConfig {
    let mut config = config.clone();
    config.database_url = format!("sqlite://{}", config.data_dir.join(name).display());
    config
}

async fn fan_out(config: &ServerConfig, sockets: usize, pace: &Pace) -> Result<FanOut> {
    let config = sqlite_config(config, &format!("stream-{sockets}.db"));
    let (server, _) = Server::start(&config).await?;
    let figures = fan_out_on(&server, sockets, pace).await;
    server.stop().await?;
    figures.with_context(|| {
        format!(
            "{sockets} sockets; the server's log: {}",
            config.log().display()
        )
    })
}

async fn fan_out_on(server: &Server, sockets: usize, pace: &Pace) -> Result<FanOut> {
    let prepared = prepare(server.addr, sockets).await?;
    let endpoint = prepared.endpoint(server.addr);
    let mut committer = prepared.committer(server.addr);
    eprintln!("opening {sockets} sockets");
    let (opened, idle_kib_per_socket) =
        fleet::open_measured(&endpoint, &prepared.tokens, || server.rss_kib()).await?;
    let mut clients = Fleet::listen(opened);
    clients
        .paced(&mut committer, pace.warm, PAUSE, WAIT)
        .await?;
    let waited = quiet(server.pid()).await?;
    eprintln!("server quiet after {:.1} s", waited.as_secs_f64());
    eprintln!("burst of {} comments", pace.burst);
    let burst = clients.burst(&mut committer, pace.burst).await?;
    eprintln!("{} paced comments", pace.paced);
    let meter = cpu::Meter::start(server.pid(), Vec::new())?;
    let paced = clients
        .paced(&mut committer, pace.paced, PAUSE, WAIT)
        .await?;
    let paced_cpu = meter.per_event(pace.paced)?;
    drop(clients);

    // The storm: everyone dropped, comments come, everyone reconnects with `since` at once.
    let token = prepared.tokens.first().context("a token")?;
    let (probe, head) = fleet::subscribe(&endpoint, token, None).await?;
    drop(probe);
    let head = head.context("`subscribed` named no head")?;
    let first = committer.reserve(MISSED);
    for number in first..first + MISSED {
        committer.commit(number).await?;
    }
    let wanted: Vec<usize> = (first..first + MISSED).collect();
    let storm_clients = sockets.min(STORM);
    let storm_started = Instant::now();
    let storm =
        futures::future::try_join_all(prepared.tokens.iter().take(storm_clients).map(|token| {
            let (endpoint, wanted) = (&endpoint, &wanted);
            async move {
                let (mut socket, _) = fleet::subscribe(endpoint, token, Some(head)).await?;
                fleet::read_until(&mut socket, wanted).await
            }
        }));
    tokio::time::timeout(STORM_TIMEOUT, storm)
        .await
        .context("the reconnect storm took over a minute")?
        .context("the reconnect storm")?;
    let reconnect_storm_ms = storm_started.elapsed().as_secs_f64() * 1000.0;

    Ok(FanOut {
        sockets,
        burst,
        paced,
        paced_cpu,
        idle_kib_per_socket,
        reconnect_storm_ms,
        reconnect_clients: storm_clients,
    })
}

/// A private nats-server on a free port, so the bench neither depends on nor disturbs the
/// one on 4222.
struct Nats {
    child: Child,
    url: String,
}

impl Nats {
    async fn start() -> Result<Self> {
        let port = free_port()?;
        let mut child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting nats-server (is it installed?)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                child.start_kill().ok();
                bail!("nats-server did not listen on port {port} within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        })
    }

    async fn stop(mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}

/// The cross-node phase's database, made fresh on the PostgreSQL server of `admin_url`.
const CROSS_DATABASE: &str = "tf_bench_stream";
/// The safety-net poll of both nodes in the cross-node phase: long enough that every
/// delivery measured came over the bus.
const CROSS_POLL_MS: u64 = 60_000;

async fn recreate_database(admin_url: &str, create: bool) -> Result<String> {
    storage::recreate_database(admin_url, CROSS_DATABASE, create)
        .await
        .context("--db must be a postgres:// URL for the cross-node phase")
}

async fn cross_node(
    config: &ServerConfig,
    options: &Options,
    pace: &Pace,
    bus: &'static str,
) -> Result<CrossNode> {
    let url = recreate_database(&options.postgres, true).await?;
    let nats = match bus {
        "nats" => Some(Nats::start().await?),
        _ => None,
    };
    let mut node = config.clone();
    // One data directory: both nodes read the same development secrets (the tokens one
    // node signs, the other must accept).
    node.data_dir = config.data_dir.join(format!("cross-{bus}"));
    std::fs::create_dir_all(&node.data_dir)?;
    node.database_url = url;
    node.env = vec![
        ("TICKETFLOWER_BUS".into(), bus.into()),
        (
            "TICKETFLOWER_REALTIME_POLL_MS".into(),
            CROSS_POLL_MS.to_string(),
        ),
    ];
    if let Some(nats) = &nats {
        node.env
            .push(("TICKETFLOWER_NATS_URL".into(), nats.url.clone()));
        // The bus's hints only, as measured before the event publisher existed (this
        // nats-server has no JetStream).
        node.env
            .push(("TICKETFLOWER_NATS_PUBLISH_EVENTS".into(), "false".into()));
    }
    let a_config = ServerConfig {
        log_name: "node-a.log".into(),
        ..node.clone()
    };
    let b_config = ServerConfig {
        log_name: "node-b.log".into(),
        ..node
    };
    eprintln!("cross-node over {bus}: starting two nodes on one PostgreSQL database");
    let (a, _) = Server::start(&a_config).await?;
    let figures = match Server::start(&b_config).await {
        Ok((b, _)) => {
            let figures = cross_node_on(&a, &b, pace).await;
            b.stop().await?;
            figures
        }
        Err(error) => Err(error.context("starting node B")),
    };
    a.stop().await?;
    if let Some(nats) = nats {
        nats.stop().await?;
    }
    recreate_database(&options.postgres, false).await?;
    let paced = figures.with_context(|| {
        format!(
            "cross-node over {bus}; the nodes' logs: {} and {}",
            a_config.log().display(),
            b_config.log().display()
        )
    })?;
    Ok(CrossNode {
        bus,
        realtime_poll_ms: CROSS_POLL_MS,
        paced,
    })
}

async fn cross_node_on(a: &Server, b: &Server, pace: &Pace) -> Result<Paced> {
    let prepared = prepare(a.addr, pace.cross_sockets).await?;
    let mut committer = prepared.committer(a.addr);
    let opened = fleet::open_all(&prepared.endpoint(b.addr), &prepared.tokens).await?;
    let mut clients = Fleet::listen(opened);
    clients
        .paced(&mut committer, pace.warm, PAUSE, WAIT)
        .await?;
    let paced = clients
        .paced(&mut committer, pace.cross_events, PAUSE, WAIT)
        .await?;
    Ok(paced)
}

/// One side of the Channels comparison, its sockets open and read.
struct Side {
    name: &'static str,
    /// The server's process (daphne's for a peer).
    pid: u32,
    /// Processes whose work is the side's too: Redis for channels_redis.
    brokers: Vec<u32>,
    clients: Fleet,
    committer: Committer,
    idle_kib_per_socket: f64,
    idle_rss_mib: f64,
}

async fn versus(config: &ServerConfig, options: &Options, pace: &Pace) -> Result<Value> {
    let sockets = options.channels_sockets;
    let venv = options.peer_dir.join(".venv");
    ChannelsPeer::install(&options.peer_dir, &venv).await?;

    eprintln!("channels comparison: ours on SQLite, {sockets} sockets");
    let ours_config = sqlite_config(config, "versus.db");
    let (server, _) = Server::start(&ours_config).await?;
    let prepared = prepare(server.addr, sockets).await?;
    let (opened, kib) =
        fleet::open_measured(&prepared.endpoint(server.addr), &prepared.tokens, || {
            server.rss_kib()
        })
        .await?;
    let mut ours = Side {
        name: "ours",
        pid: server.pid(),
        brokers: Vec::new(),
        clients: Fleet::listen(opened),
        committer: prepared.committer(server.addr),
        idle_kib_per_socket: kib,
        idle_rss_mib: server.rss_kib()? as f64 / 1024.0,
    };

    let mut peers = Vec::new();
    let mut sides = Vec::new();
    for layer in [Layer::Memory, Layer::Redis] {
        eprintln!(
            "channels comparison: Channels on daphne, {} layer, {sockets} sockets",
            layer.name()
        );
        let db = config
            .data_dir
            .join(format!("channels-{}.sqlite3", layer.name()));
        let peer = ChannelsPeer::start(&options.peer_dir, &venv, db, layer, sockets).await?;
        let (opened, kib) =
            fleet::open_measured(&peer.endpoint(), &peer.tokens, || peer.rss_kib()).await?;
        sides.push(Side {
            name: match peer.layer {
                Layer::Memory => "channels_memory",
                Layer::Redis => "channels_redis",
            },
            pid: peer.pid(),
            brokers: match peer.layer {
                Layer::Memory => Vec::new(),
                Layer::Redis => cpu::pids_named("redis-server")?,
            },
            clients: Fleet::listen(opened),
            committer: peer.committer(),
            idle_kib_per_socket: kib,
            idle_rss_mib: peer.rss_kib()? as f64 / 1024.0,
        });
        peers.push(peer);
    }

    for side in std::iter::once(&mut ours).chain(sides.iter_mut()) {
        side.clients
            .paced(&mut side.committer, pace.warm, PAUSE, WAIT)
            .await?;
    }
    let mut turns = Vec::new();
    let mut ratios: Vec<(&'static str, f64, f64)> = Vec::new();
    for cycle in 0..pace.cycles {
        for side in &mut sides {
            // Ours just before each peer: the ratio compares turns seconds apart.
            let mine = turn(&mut ours, cycle, pace).await?;
            let theirs = turn(side, cycle, pace).await?;
            ratios.push((
                side.name,
                mine.burst.deliveries_per_second
                    / theirs.burst.deliveries_per_second.max(f64::MIN_POSITIVE),
                theirs.paced.p99_ms / mine.paced.p99_ms.max(f64::MIN_POSITIVE),
            ));
            turns.push(mine);
            turns.push(theirs);
        }
    }
    let memory: Value = std::iter::once(&ours)
        .chain(sides.iter())
        .map(|s| {
            (
                s.name.to_owned(),
                json!({"idle_kib_per_socket": s.idle_kib_per_socket, "idle_rss_mib": s.idle_rss_mib}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    drop(ours);
    drop(sides);
    server.stop().await?;
    for peer in peers {
        peer.stop().await?;
    }

    let median_of = |name: &str, pick: fn(&Turn) -> f64| {
        let mut values: Vec<f64> = turns.iter().filter(|t| t.side == name).map(pick).collect();
        crate::versus::median(&mut values)
    };
    let mut medians = serde_json::Map::new();
    for name in ["ours", "channels_memory", "channels_redis"] {
        medians.insert(
            name.into(),
            json!({
                "burst_deliveries_per_second": median_of(name, |t| t.burst.deliveries_per_second),
                "burst_p99_ms": median_of(name, |t| t.burst.p99_ms),
                "paced_p50_ms": median_of(name, |t| t.paced.p50_ms),
                "paced_p99_ms": median_of(name, |t| t.paced.p99_ms),
                "paced_server_cpu_ms_per_event": median_of(name, |t| t.paced_cpu.server_ms),
                "paced_client_cpu_ms_per_event": median_of(name, |t| t.paced_cpu.client_ms),
                "paced_broker_cpu_ms_per_event": median_of(name, |t| t.paced_cpu.broker_ms),
                "paced_other_processes_cpu_ms_per_event": median_of(name, |t| t.paced_cpu.others_ms),
                "lost": turns.iter().filter(|t| t.side == name).map(|t| t.burst.lost + t.paced.lost).sum::<usize>(),
                "duplicated": turns.iter().filter(|t| t.side == name).map(|t| t.burst.duplicated + t.paced.duplicated).sum::<usize>(),
            }),
        );
    }
    let ratio_of = |name: &str, pick: fn(&(&'static str, f64, f64)) -> f64| {
        let mut values: Vec<f64> = ratios.iter().filter(|r| r.0 == name).map(pick).collect();
        crate::versus::median(&mut values)
    };
    let per_socket = |name: &str| memory[name]["idle_kib_per_socket"].as_f64().unwrap_or(0.0);
    let ratios = json!({
        "deliveries_over_channels_memory": ratio_of("channels_memory", |r| r.1),
        "deliveries_over_channels_redis": ratio_of("channels_redis", |r| r.1),
        "channels_memory_paced_p99_over_ours": ratio_of("channels_memory", |r| r.2),
        "channels_redis_paced_p99_over_ours": ratio_of("channels_redis", |r| r.2),
        "channels_memory_kib_per_socket_over_ours": per_socket("channels_memory") / per_socket("ours").max(f64::MIN_POSITIVE),
        "channels_redis_kib_per_socket_over_ours": per_socket("channels_redis") / per_socket("ours").max(f64::MIN_POSITIVE),
    });
    print_versus(&medians, &memory, &ratios, sockets, pace.cycles);
    Ok(json!({
        "sockets": sockets,
        "cycles": pace.cycles,
        "order": ["ours", "channels_memory", "ours", "channels_redis"],
        "medians": medians,
        "memory": memory,
        "ratios": ratios,
        "turns": turns,
    }))
}

async fn turn(side: &mut Side, cycle: usize, pace: &Pace) -> Result<Turn> {
    eprintln!("  turn {}: {}", cycle + 1, side.name);
    let burst = side
        .clients
        .burst(&mut side.committer, pace.burst)
        .await
        .with_context(|| format!("{}'s burst", side.name))?;
    let meter = cpu::Meter::start(side.pid, side.brokers.clone())?;
    let paced = side
        .clients
        .paced(&mut side.committer, pace.versus_paced, PAUSE, WAIT)
        .await
        .with_context(|| format!("{}'s paced comments", side.name))?;
    let paced_cpu = meter.per_event(pace.versus_paced)?;
    warn_if_crowded(&format!("{}'s paced comments", side.name), &paced_cpu);
    Ok(Turn {
        cycle,
        side: side.name,
        burst,
        paced,
        paced_cpu,
    })
}

fn print_versus(
    medians: &serde_json::Map<String, Value>,
    memory: &Value,
    ratios: &Value,
    sockets: usize,
    cycles: usize,
) {
    println!(
        "\n{sockets} sockets on one ticket, {cycles} cycle(s) of turns (ours, channels memory, ours, channels redis); medians"
    );
    println!(
        "{:<16} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>5} {:>4}",
        "side",
        "deliveries/s",
        "burst p99",
        "paced p50",
        "paced p99",
        "srv CPU/c",
        "cli CPU/c",
        "oth CPU/c",
        "KiB/socket",
        "lost",
        "dup"
    );
    for (name, m) in medians {
        let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        println!(
            "{name:<16} {:>12.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>5} {:>4}",
            number(&m["burst_deliveries_per_second"]),
            number(&m["burst_p99_ms"]),
            number(&m["paced_p50_ms"]),
            number(&m["paced_p99_ms"]),
            number(&m["paced_server_cpu_ms_per_event"]),
            number(&m["paced_client_cpu_ms_per_event"]),
            number(&m["paced_other_processes_cpu_ms_per_event"]),
            number(&memory[name]["idle_kib_per_socket"]),
            m["lost"],
            m["duplicated"],
        );
    }
    println!("(ms; CPU per paced comment: the server with its broker, the bench, other processes)");
    println!("ratios: {ratios}");
}

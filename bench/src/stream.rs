//! `--stream`: the live stream's fan-out, measured over loopback against the release server.
//! N sockets, each of its own integration (an API token: a user may hold 16 sockets), are
//! subscribed to one ticket; comments are committed through the API and every socket's
//! receipt is timed. Also the RSS each idle socket costs, and a reconnect storm: every
//! client drops, events are committed meanwhile, and all reconnect at once with `since`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::{Api, text};
use crate::seed::{self, Plan};
use crate::server::{Server, ServerConfig};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One size's figures.
#[derive(Serialize)]
pub struct FanOut {
    pub sockets: usize,
    pub events: usize,
    pub deliveries: usize,
    pub deliveries_per_second: f64,
    /// From the start of the API call that committed the event to its receipt, ms.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Resident memory each idle subscribed socket adds to the server (the second half of
    /// the sockets, once the first half has warmed the pools), KiB.
    pub idle_kib_per_socket: f64,
    /// Time from the reconnect of every client (with `since`) until all had the events
    /// committed while they were away, ms.
    pub reconnect_storm_ms: f64,
    pub reconnect_clients: usize,
    pub lost: usize,
    pub duplicated: usize,
}

#[derive(Serialize)]
pub struct Report {
    pub kind: &'static str,
    pub sizes: Vec<FanOut>,
}

/// Comments committed per size, one after the other.
const EVENTS: usize = 20;
/// Comments committed while every client is away, before the storm.
const MISSED: usize = 5;

pub async fn run(config: &ServerConfig, sizes: &[usize]) -> Result<Report> {
    let mut report = Report {
        kind: "stream",
        sizes: Vec::new(),
    };
    for &sockets in sizes {
        let mut config = config.clone();
        config.database_url = format!(
            "sqlite://{}",
            config
                .data_dir
                .join(format!("stream-{sockets}.db"))
                .display()
        );
        let (server, _) = Server::start(&config).await?;
        let figures = fan_out(&server, sockets).await;
        server.stop().await?;
        let figures = figures.with_context(|| {
            format!(
                "{sockets} sockets; the server's log: {}",
                config.data_dir.join("server.log").display()
            )
        })?;
        eprintln!(
            "{:>6} sockets: {:>9.0} deliveries/s, p50 {:.1} ms, p99 {:.1} ms, {:.1} KiB per idle socket, reconnect storm of {} in {:.0} ms, lost {}, duplicated {}",
            figures.sockets,
            figures.deliveries_per_second,
            figures.p50_ms,
            figures.p99_ms,
            figures.idle_kib_per_socket,
            figures.reconnect_clients,
            figures.reconnect_storm_ms,
            figures.lost,
            figures.duplicated,
        );
        report.sizes.push(figures);
    }
    Ok(report)
}

async fn fan_out(server: &Server, sockets: usize) -> Result<FanOut> {
    let api = Api::new(server.addr);
    let (companies, _) = seed::seed(
        server.addr,
        Plan {
            companies: 1,
            users_per_company: 5,
            tickets: 1,
        },
    )
    .await?;
    let company = companies.first().context("a company")?;
    let admin = company.admin.token.clone();
    let ticket = company.tickets.first().context("a ticket")?.clone();
    let stream = format!("ticket:{ticket}");

    eprintln!("issuing {sockets} API tokens");
    let mut tokens = Vec::with_capacity(sockets);
    for n in 0..sockets {
        let issued = api
            .call(
                Method::POST,
                "/api/v1/api-tokens",
                Some(&admin),
                Some(&json!({"name": format!("watcher {n}"), "roles": ["ticket_admin"]})),
                StatusCode::CREATED,
            )
            .await?;
        tokens.push(text(&issued, "/secret")?);
    }
    eprintln!("opening {sockets} sockets");
    let url = format!("ws://{}/api/v1/stream", server.addr);
    // The first half warms what does not grow with sockets (the database pools open their
    // connections, the runtime its buffers); the second half's cost is what a socket costs.
    let half = sockets / 2;
    let mut clients = open_all(&url, &tokens[..half], &stream).await?;
    seed::settle().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib()?;
    clients.extend(open_all(&url, &tokens[half..], &stream).await?);
    seed::settle().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.rss_kib()?;
    let idle_kib_per_socket = (idle.saturating_sub(before)) as f64 / (sockets - half) as f64;

    // Every socket reads on a task of its own and reports (event id, receipt time).
    let (received, mut receipts) = mpsc::unbounded_channel::<(usize, i64, Instant)>();
    let mut readers = Vec::with_capacity(sockets);
    for (index, socket) in clients.into_iter().enumerate() {
        readers.push(tokio::spawn(read_events(index, socket, received.clone())));
    }
    drop(received);

    let mut committed: Vec<(i64, Instant)> = Vec::with_capacity(EVENTS);
    let started = Instant::now();
    for n in 0..EVENTS {
        let at = Instant::now();
        comment(&api, &admin, &ticket, n).await?;
        committed.push((0, at));
    }
    // The comment events' ids, in order, as the sockets saw them.
    let mut latencies = Histogram::<u64>::new(3)?;
    let mut seen: std::collections::HashMap<(usize, i64), u32> = Default::default();
    let mut ids: Vec<i64> = Vec::new();
    let expected = sockets * EVENTS;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = started;
    let mut deliveries = 0usize;
    while deliveries < expected {
        let Ok(Some((index, id, at))) =
            tokio::time::timeout_at(deadline.into(), receipts.recv()).await
        else {
            break;
        };
        if !ids.contains(&id) {
            ids.push(id);
            ids.sort_unstable();
        }
        *seen.entry((index, id)).or_default() += 1;
        deliveries += 1;
        last = last.max(at);
        let order = ids
            .iter()
            .position(|i| *i == id)
            .unwrap_or(0)
            .min(EVENTS - 1);
        let since = at.saturating_duration_since(committed[order].1);
        latencies.record(since.as_micros() as u64)?;
    }
    let duplicated = seen.values().filter(|n| **n > 1).count();
    let lost = expected.saturating_sub(seen.len());
    let elapsed = last.duration_since(started).as_secs_f64().max(1e-9);

    // The storm: everyone drops, events come, everyone reconnects with `since` at once.
    for reader in &readers {
        reader.abort();
    }
    let storm_clients = sockets.min(2_000);
    let since = ids.last().copied().unwrap_or(0);
    for n in 0..MISSED {
        comment(&api, &admin, &ticket, EVENTS + n).await?;
    }
    let storm_started = Instant::now();
    let caught_up = futures::future::try_join_all(tokens.iter().take(storm_clients).map(|token| {
        let (url, stream) = (url.clone(), stream.clone());
        async move {
            let mut socket = subscribe(&url, token, &stream, Some(since)).await?;
            let mut got = 0;
            while got < MISSED {
                match next_event(&mut socket).await? {
                    Some(_) => got += 1,
                    None => bail!("a reconnected socket closed"),
                }
            }
            Ok::<_, anyhow::Error>(())
        }
    }))
    .await;
    let reconnect_storm_ms = storm_started.elapsed().as_secs_f64() * 1000.0;
    caught_up?;

    Ok(FanOut {
        sockets,
        events: EVENTS,
        deliveries,
        deliveries_per_second: deliveries as f64 / elapsed,
        p50_ms: latencies.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: latencies.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: latencies.max() as f64 / 1000.0,
        idle_kib_per_socket,
        reconnect_storm_ms,
        reconnect_clients: storm_clients,
        lost,
        duplicated,
    })
}

async fn comment(api: &Api, token: &str, ticket: &str, n: usize) -> Result<()> {
    api.call(
        Method::POST,
        &format!("/api/v1/tickets/{ticket}/comments"),
        Some(token),
        Some(&json!({"body": format!("fan-out comment {n}")})),
        StatusCode::CREATED,
    )
    .await?;
    Ok(())
}

/// Opens a subscribed socket for each token, 250 at a time.
async fn open_all(url: &str, tokens: &[String], stream: &str) -> Result<Vec<Socket>> {
    let mut clients = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(250) {
        let opened = futures::future::try_join_all(
            chunk
                .iter()
                .map(|token| subscribe(url, token, stream, None)),
        )
        .await?;
        clients.extend(opened);
    }
    Ok(clients)
}

/// Opens a socket as `token`, subscribes to `stream` and waits for `subscribed`.
async fn subscribe(url: &str, token: &str, stream: &str, since: Option<i64>) -> Result<Socket> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let mut message = json!({"type": "subscribe", "stream": stream});
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
                Some("subscribed") => return Ok(socket),
                Some("event") => continue,
                _ => bail!("unexpected answer to subscribe: {value}"),
            }
        }
    }
}

/// The next event's id, or `None` when the socket closed.
async fn next_event(socket: &mut Socket) -> Result<Option<i64>> {
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            let value: Value = serde_json::from_str(&text)?;
            if value["type"] == "event" && value["kind"] == "comment.added" {
                return Ok(value["id"].as_i64());
            }
        }
    }
    Ok(None)
}

async fn read_events(
    index: usize,
    mut socket: Socket,
    received: mpsc::UnboundedSender<(usize, i64, Instant)>,
) {
    while let Ok(Some(id)) = next_event(&mut socket).await {
        if received.send((index, id, Instant::now())).is_err() {
            return;
        }
    }
}

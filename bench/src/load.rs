//! A closed-loop load generator. `concurrency` workers each hold one keep-alive HTTP/1.1
//! connection and send their next request as soon as the previous answer has been read, for a
//! fixed time or until the work runs out, so the figures are the server's own pace at that
//! concurrency (no coordinated-omission correction is needed: nothing is scheduled ahead).
//! Latencies go to one HDR histogram per worker, merged at the end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

/// One request of a workload. `tag` comes back with its answer.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub token: Option<Arc<str>>,
    pub body: Option<Bytes>,
    pub tag: usize,
}

impl Request {
    pub fn get(path: impl Into<String>, token: Option<&Arc<str>>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            token: token.cloned(),
            body: None,
            tag: 0,
        }
    }

    pub fn post(
        path: impl Into<String>,
        token: Option<&Arc<str>>,
        body: &serde_json::Value,
    ) -> Self {
        Self {
            method: Method::POST,
            path: path.into(),
            token: token.cloned(),
            body: Some(Bytes::from(body.to_string())),
            tag: 0,
        }
    }

    pub fn tagged(mut self, tag: usize) -> Self {
        self.tag = tag;
        self
    }
}

/// What the workers send: `next` is asked for each request (None: this worker is done).
pub trait Workload: Send + Sync + 'static {
    fn next(&self, worker: usize) -> Option<Request>;
    fn answered(&self, _tag: usize, _status: StatusCode, _body: &Bytes) {}
}

/// The same kind of request over and over, built from a counter.
pub struct Repeat<F>(pub F, pub AtomicU64);

impl<F> Repeat<F>
where
    F: Fn(u64) -> Request + Send + Sync + 'static,
{
    pub fn new(make: F) -> Arc<Self> {
        Arc::new(Self(make, AtomicU64::new(0)))
    }
}

impl<F> Workload for Repeat<F>
where
    F: Fn(u64) -> Request + Send + Sync + 'static,
{
    fn next(&self, _worker: usize) -> Option<Request> {
        Some((self.0)(self.1.fetch_add(1, Ordering::Relaxed)))
    }
}

/// A fixed list of requests, each sent once; answers are kept by tag.
pub struct Script {
    requests: std::sync::Mutex<std::vec::IntoIter<Request>>,
    answers: std::sync::Mutex<Vec<(usize, StatusCode, Bytes)>>,
}

impl Script {
    pub fn new(requests: Vec<Request>) -> Arc<Self> {
        Arc::new(Self {
            requests: std::sync::Mutex::new(requests.into_iter()),
            answers: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The requests not yet sent.
    pub fn left(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// The answers, in tag order.
    pub fn answers(&self) -> Vec<(usize, StatusCode, Bytes)> {
        let mut answers = self.answers.lock().map(|a| a.clone()).unwrap_or_default();
        answers.sort_by_key(|(tag, _, _)| *tag);
        answers
    }
}

impl Workload for Script {
    fn next(&self, _worker: usize) -> Option<Request> {
        self.requests.lock().ok()?.next()
    }

    fn answered(&self, tag: usize, status: StatusCode, body: &Bytes) {
        if let Ok(mut answers) = self.answers.lock() {
            answers.push((tag, status, body.clone()));
        }
    }
}

/// How one measurement went.
#[derive(Clone)]
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub histogram: Histogram<u64>,
    pub first_error: Option<String>,
}

/// The figures of an outcome, as printed and written to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Outcome {
    pub fn figures(&self) -> Figures {
        let ms = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        let seconds = self.elapsed.as_secs_f64();
        Figures {
            requests: self.ok,
            errors: self.errors,
            seconds,
            rps: if seconds > 0.0 {
                self.ok as f64 / seconds
            } else {
                0.0
            },
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            max_ms: self.histogram.max() as f64 / 1000.0,
        }
    }
}

/// Runs `workload` from `concurrency` workers until `duration` is over (or the work runs out).
pub async fn run(
    addr: SocketAddr,
    concurrency: usize,
    duration: Option<Duration>,
    workload: Arc<dyn Workload>,
) -> Result<Outcome> {
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..concurrency {
        let workload = workload.clone();
        workers.spawn(worker(addr, index, deadline, workload));
    }
    let mut total = Outcome {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        histogram: new_histogram()?,
        first_error: None,
    };
    while let Some(joined) = workers.join_next().await {
        let part = joined.context("a load worker panicked")??;
        total.ok += part.ok;
        total.errors += part.errors;
        total.histogram.add(&part.histogram)?;
        if total.first_error.is_none() {
            total.first_error = part.first_error;
        }
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

fn new_histogram() -> Result<Histogram<u64>> {
    // Microseconds from 1 µs to 60 s, three significant digits.
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn worker(
    addr: SocketAddr,
    index: usize,
    deadline: Option<Instant>,
    workload: Arc<dyn Workload>,
) -> Result<Outcome> {
    let mut out = Outcome {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        histogram: new_histogram()?,
        first_error: None,
    };
    let host = HeaderValue::from_str(&addr.to_string())?;
    let mut sender = connect(addr).await?;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let Some(req) = workload.next(index) else {
            break;
        };
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(req.path.as_str())
            .header(header::HOST, host.clone());
        if let Some(token) = &req.token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if req.body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder.body(Full::new(req.body.clone().unwrap_or_default()))?;
        if sender.ready().await.is_err() {
            sender = connect(addr).await?;
        }
        let sent = Instant::now();
        let answer = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                response
                    .into_body()
                    .collect()
                    .await
                    .map(|body| (status, body.to_bytes()))
                    .map_err(anyhow::Error::from)
            }
            Err(error) => Err(error.into()),
        };
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        out.histogram.saturating_record(micros.max(1));
        match answer {
            Ok((status, body)) => {
                if status.is_success() {
                    out.ok += 1;
                } else {
                    out.errors += 1;
                    out.first_error.get_or_insert_with(|| {
                        format!(
                            "{} {} → {status}: {}",
                            req.method,
                            req.path,
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        )
                    });
                }
                workload.answered(req.tag, status, &body);
            }
            Err(error) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("{} {} → {error}", req.method, req.path));
                sender = connect(addr).await?;
            }
        }
    }
    Ok(out)
}

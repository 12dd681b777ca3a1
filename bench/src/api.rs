//! One-off calls for setting up a run (sign-ups, roles, bundles); the load itself goes through
//! `load`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

#[derive(Clone)]
pub struct Api {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a request; answers its status and body (JSON, or a JSON string of the text).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Value)> {
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if !body.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        let response = self
            .client
            .request(builder.body(Full::new(body))?)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, value))
    }

    /// POSTs JSON `body` with extra headers (a signed webhook); answers the status and body.
    pub async fn post_with(
        &self,
        path: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<(StatusCode, Value)> {
        let mut builder = http::Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = self
            .client
            .request(builder.body(Full::new(body))?)
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, value))
    }

    /// A JSON call that must answer `expected`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> Result<Value> {
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let (status, value) = self
            .send(method.clone(), path, token, "application/json", bytes)
            .await?;
        if status != expected {
            bail!("{method} {path} answered {status}, not {expected}: {value}");
        }
        Ok(value)
    }

    /// Polls `path` until it answers 200; returns how long that took.
    pub async fn wait_for(
        &self,
        path: &str,
        started: Instant,
        limit: Duration,
    ) -> Result<Duration> {
        loop {
            if let Ok((StatusCode::OK, _)) =
                self.send(Method::GET, path, None, "", Bytes::new()).await
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                bail!("{}{path} did not answer 200 within {limit:?}", self.base);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// A string field of a JSON answer.
pub fn text(value: &Value, pointer: &str) -> Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no {pointer} in {value}"))
}

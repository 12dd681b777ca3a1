//! Cross-cutting layers: request ids, access logs, metrics by route, security headers,
//! turning bare error responses (from the router or tower layers) into problem documents,
//! and handing every 5xx to the error log.

use std::cell::RefCell;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use domain::error_log::{Failure, FailureKind};

use crate::problem::{FailureNote, InternalCause, Problem};
use crate::state::WebState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Whether the body is `multipart/form-data`: the only bodies that carry files.
fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Bounds every request body in size and in idleness (`body_timeout`: a body that stops
/// sending fails, one that keeps sending may take as long as it needs): `multipart/form-data` (the only bodies that carry files) may be
/// as large as `max_upload`, anything else `max_body`. A declared length over the bound is
/// refused before reading; an undeclared one fails when the bound is crossed, and extractors
/// turn that into 413.
pub async fn limit_body(State(state): State<WebState>, req: Request, next: Next) -> Response {
    let limit = if is_multipart(req.headers()) {
        state.max_upload
    } else {
        state.max_body
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let idle = state.body_timeout;
    next.run(req.map(|body| {
        Body::new(http_body_util::Limited::new(
            tower_http::timeout::TimeoutBody::new(idle, body),
            limit,
        ))
    }))
    .await
}

/// Answers 503 when a request takes longer than `request_timeout`, so a stuck database or
/// a slow client cannot hold a connection and its resources for ever. File uploads (whose
/// body may take long but must keep flowing: `body_timeout_secs`) and WebSocket upgrades are
/// exempt.
pub async fn deadline(State(state): State<WebState>, req: Request, next: Next) -> Response {
    if req.headers().contains_key(header::UPGRADE) || is_multipart(req.headers()) {
        return next.run(req).await;
    }
    match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "The request took too long",
            )
            .detail("The server could not answer in time; try again.")
            .into_response();
            response
                .extensions_mut()
                .insert(InternalCause("request timed out".into()));
            response.extensions_mut().insert(FailureNote::new(
                FailureKind::Timeout,
                format!(
                    "no answer within request_timeout_secs ({} s)",
                    state.request_timeout.as_secs()
                ),
            ));
            response
        }
    }
}

/// Refuses a request that changes something when the browser says it comes from another
/// site (`Origin` of another host, `Origin: null`, or `Sec-Fetch-Site: cross-site`).
/// Clients that are not browsers send neither header and pass; the API also wants its
/// bearer header on such requests (see `auth`), and page forms carry a CSRF token.
pub async fn refuse_cross_site(
    State(state): State<WebState>,
    req: Request,
    next: Next,
) -> Response {
    if req.method().is_safe() || !is_cross_site(req.headers(), state.public_origin.as_deref()) {
        return next.run(req).await;
    }
    let message = "comes from another site: this server accepts changes only from its own pages or from clients with a token";
    if req.uri().path().starts_with("/api/") {
        Problem::new(
            StatusCode::FORBIDDEN,
            "cross-site",
            "Cross-site request refused",
        )
        .detail(format!("The request {message}."))
        .into_response()
    } else {
        crate::pages::kit::layout::refused_input(
            StatusCode::FORBIDDEN,
            &format!("The form {message}."),
        )
    }
}

/// Whether a request comes from a page of another site: its `Origin` names another host
/// (or `null`), or the browser says `Sec-Fetch-Site: cross-site`.
pub(crate) fn is_cross_site(headers: &axum::http::HeaderMap, public_origin: Option<&str>) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return true;
        };
        if public_origin.is_some_and(|public| public.eq_ignore_ascii_case(origin)) {
            return false;
        }
        let authority = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        return match (authority, host) {
            (Some(authority), Some(host)) => !authority.eq_ignore_ascii_case(host),
            _ => true,
        };
    }
    headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

/// Served over HTTPS, the pages' cookies are `__Host-` cookies: the browser keeps them only
/// when set by this very host over HTTPS with `Path=/` and no `Domain`, so a neighbouring
/// subdomain or a plain-HTTP response cannot plant one (the CSRF cookie included). The
/// handlers keep using the plain names: requests have the prefix taken off (and plain-named
/// cookies, which anyone could have set, dropped), responses have it added.
pub async fn host_cookies(State(state): State<WebState>, mut req: Request, next: Next) -> Response {
    if !state.https {
        return next.run(req).await;
    }
    let pairs: Vec<String> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.starts_with(COOKIE_PREFIX_OURS))
        .map(|pair| pair.strip_prefix(HOST_PREFIX).unwrap_or(pair).to_owned())
        .collect();
    req.headers_mut().remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&pairs.join("; "))
        && !pairs.is_empty()
    {
        req.headers_mut().insert(header::COOKIE, value);
    }
    let mut response = next.run(req).await;
    let set: Vec<HeaderValue> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    response.headers_mut().remove(header::SET_COOKIE);
    for value in set {
        let renamed = value
            .to_str()
            .ok()
            .filter(|v| v.starts_with(COOKIE_PREFIX_OURS))
            .and_then(|v| HeaderValue::from_str(&format!("{HOST_PREFIX}{v}")).ok())
            .unwrap_or(value);
        response.headers_mut().append(header::SET_COOKIE, renamed);
    }
    response
}

const HOST_PREFIX: &str = "__Host-";
/// Every cookie of ours is named `tf_…`.
const COOKIE_PREFIX_OURS: &str = "tf_";

/// The route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// What the error log needs to know of the request being served, noted as it becomes
/// known: the route template once one matched ([`record_metrics`]), who acts once
/// authenticated ([`note_actor`]). Task-local, since the extractors that learn who acts
/// cannot reach the response; it outlives a handler that timed out or panicked.
#[derive(Default)]
struct Seen {
    route: Option<String>,
    company: Option<domain::CompanyId>,
    user: Option<domain::UserId>,
}

tokio::task_local! {
    static SEEN: RefCell<Seen>;
}

/// Notes who acts on the request being served, for its error log entry.
pub(crate) fn note_actor(actor: &domain::auth::Actor) {
    let _ = SEEN.try_with(|seen| {
        let mut seen = seen.borrow_mut();
        seen.user = Some(actor.user_id);
        seen.company = actor.company_id;
    });
}

/// Routes whose failures are not logged: the error log's own, which would otherwise add an
/// entry each time staff look at a failing log.
fn is_error_log_route(route: &str) -> bool {
    route.starts_with("/api/v1/platform/errors") || route.starts_with("/staff/errors")
}

/// Records request count and latency labelled by the matched route (never the raw path,
/// which would explode the label set with ids).
pub async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    let _ = SEEN.try_with(|seen| seen.borrow_mut().route = Some(route.clone()));
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Logs one line per request inside the request's span, including the hidden cause of
/// any 5xx, and sets the security headers.
pub async fn finish_response(State(state): State<WebState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let uri = req.uri().path().to_owned();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let started = Instant::now();
    // `company` and `user` are filled in once the request is authenticated (`auth`).
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        %method,
        path = %uri,
        company = tracing::field::Empty,
        user = tracing::field::Empty,
    );
    let served = async {
        let response = tracing::Instrument::instrument(next.run(req), span.clone()).await;
        (response, SEEN.with(RefCell::take))
    };
    let (response, seen) = SEEN.scope(RefCell::default(), served).await;
    let mut response = problem_for_bare_error(response, &method, &uri);
    let status = response.status();
    if status.is_server_error() {
        record_failure(&state, &response, &method, &request_id, seen);
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _guard = span.enter();
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(status = status.as_u16(), elapsed_ms, cause = %cause, "request failed");
    } else if status.is_server_error() {
        tracing::error!(status = status.as_u16(), elapsed_ms, "request failed");
    } else {
        tracing::info!(status = status.as_u16(), elapsed_ms, "request");
    }
    set_security_headers(&mut response, state.https);
    response
}

/// Hands a 5xx to the error log, described by what the response carries ([`FailureNote`])
/// and what was seen of the request: never its raw path, query or body.
fn record_failure(
    state: &WebState,
    response: &Response,
    method: &axum::http::Method,
    request_id: &str,
    seen: Seen,
) {
    let route = seen.route.unwrap_or_else(|| UNMATCHED.to_owned());
    if is_error_log_route(&route) {
        return;
    }
    let status = response.status();
    let note = response.extensions().get::<FailureNote>().cloned();
    let (kind, summary) = match note {
        Some(note) => (note.kind, note.summary),
        None => (
            FailureKind::Status,
            status
                .canonical_reason()
                .unwrap_or("server error")
                .to_owned(),
        ),
    };
    state.app.error_log().record(Failure {
        at: chrono::Utc::now(),
        method: method.as_str().to_owned(),
        route,
        status: status.as_u16(),
        request_id: request_id.to_owned(),
        company_id: seen.company,
        user_id: seen.user,
        kind,
        summary,
    });
}

fn set_security_headers(response: &mut Response, https: bool) {
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

/// The router answers 404/405 and tower layers answer 408/413 with empty bodies; give every
/// error a problem document so that clients can rely on one error format.
fn problem_for_bare_error(response: Response, method: &axum::http::Method, path: &str) -> Response {
    let status = response.status();
    // Layers (body limit, timeouts) answer in plain text; handlers answer in JSON or HTML.
    let bare = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !bare {
        return response;
    }
    let (parts, _) = response.into_parts();
    // A browser asked for a page: it gets a page, whatever answered. (A missing asset is no
    // page anyone reads.)
    let page = !path.starts_with("/api/") && !path.starts_with("/static/");
    if page && method == axum::http::Method::GET {
        let mut page = crate::pages::kit::layout::status_page(status);
        *page.extensions_mut() = parts.extensions;
        return page;
    }
    let mut problem = Problem::for_status(status);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        problem = if allowed.is_empty() {
            problem.detail(format!("{method} is not allowed on this path."))
        } else {
            problem.detail(format!(
                "{method} is not allowed on this path; use {allowed}."
            ))
        };
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        problem = problem.detail("The request body is larger than this server accepts.");
    }
    let mut fresh = problem.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    *fresh.extensions_mut() = parts.extensions;
    fresh
}

/// Converts a panic inside a handler into a logged 500 problem instead of a dropped
/// connection.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let cause = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".into());
    let mut response = Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal server error",
    )
    .into_response();
    response
        .extensions_mut()
        .insert(InternalCause(format!("panic: {cause}")));
    // A panic's message may quote whatever value it met: the log line has it, the error
    // log only the kind.
    response
        .extensions_mut()
        .insert(FailureNote::new(FailureKind::Panic, "a handler panicked"));
    response
}

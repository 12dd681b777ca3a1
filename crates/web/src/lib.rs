//! TicketFlower's HTTP surface: the REST API (with its OpenAPI document), the
//! server-rendered pages, and the middleware around them. Handlers are thin: extract, call
//! one `app` use case, map the result. Errors become RFC 9457 problems in `problem.rs`.

mod api;
mod auth;
mod edge;
pub mod extract;
mod middleware;
mod pages;
pub mod problem;
mod serve;
mod state;
mod telemetry;

use std::time::Duration;

use app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use problem::{ApiError, ApiResult, Problem};
pub use state::WebState;

use crate::pages::kit::{assets, layout};
use crate::problem::Problem as ProblemDoc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TicketFlower API",
        description = "Multi-tenant service desk. Errors are RFC 9457 `application/problem+json` documents whose `errors` list names each bad field. Lists answer `{items, next_cursor}`.",
    ),
    tags(
        (name = "operations", description = "Health and readiness"),
        (name = "identity", description = "Sign-up, login, tokens, one's own profile"),
        (name = "users", description = "Company user administration (admin)"),
        (name = "company roles", description = "Company-defined roles and the invite code (admin)"),
        (name = "api tokens", description = "Tokens for integrations (admin)"),
        (name = "platform", description = "Platform staff: companies, suspension, impersonation, the error log of 5xx answers"),
        (name = "design", description = "Workflow design: workflows, tasks, transitions, ticket types, bundles"),
        (name = "tickets", description = "Tickets: submission, lists, comments, attachments"),
        (name = "tasks", description = "Tasks, workflow errors and action callbacks"),
        (name = "company", description = "Company settings for integrations"),
        (name = "notifications", description = "One's own notifications (the bell: live as `notification.created` on the stream `user:<own id>`), preferences per type and channel with quiet hours, the company's defaults, following tickets"),
        (name = "devices", description = "The person's phones registered for mobile push (FCM): register a token, list, remove, send a test push"),
        (name = "push", description = "Web Push: the server's VAPID key and the browsers one subscribed to one's own notifications"),
        (name = "conversations", description = "Support conversations between requesters and agents: get-or-create, assignment, status, messages with internal notes, read watermarks, the hash chain's verification. Live on the stream `conversation:<id>`."),
        (name = "stream", description = "The live stream: one WebSocket carrying the events of the streams a client subscribes to, replayed from its cursor and then live. Client messages: `{\"type\": \"subscribe\", \"stream\", \"since\"?, \"epoch\"?}`, `unsubscribe`, `ping`; server messages: `event {id, stream, kind, payload, created_at}`, `subscribed {stream, head, epoch}`, `resync_required {stream, reason}`, `unsubscribed`, `pong`, `error {status, title, detail, stream?}`. Streams: `company:<id>` (the company feed), `ticket:<id>`, `workflow:<id>`, `user:<own id>`. Close codes: 1001 going away (server restart), 4000 idle, 4003 access revoked, 4008 too slow, 4029 too many connections. See docs/realtime.md."),
    ),
    modifiers(&BearerAuth),
    // The typed ids, which parameters refer to by name.
    components(schemas(
        problem::Problem,
        problem::ProblemField,
        domain::CompanyId,
        domain::UserId,
        domain::CompanyRoleId,
        domain::ApiTokenId,
        domain::SessionId,
        domain::DesignObjectId,
        domain::WorkflowId,
        domain::WorkflowVersionId,
        domain::TicketTypeId,
        domain::TicketId,
        domain::TaskId,
        domain::WorkflowErrorId,
        domain::CommentId,
        domain::AttachmentId,
    )),
)]
struct ApiDoc;

/// Declares the `bearer` security scheme the authenticated paths refer to.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or tfk_ API token")
                    .build(),
            ),
        );
    }
}

/// Documents the error answers that follow from how an operation is served rather than from
/// what it does, so that each `#[utoipa::path]` lists only its own (409, 429, ...):
///
/// - every operation: 413 (`middleware::limit_body` checks a declared length on every
///   request) and 503 (`middleware::deadline`, or the database is unavailable);
/// - every `/api/` operation: 422, since `edge::inspect_input` refuses U+0000 in the path and
///   the query of any request, naming the field;
/// - `/api/` operations that change something: 403 (`middleware::refuse_cross_site`);
/// - with a `bearer` security requirement: 401 (the `Authed` extractor) and 403 (roles);
/// - with a path parameter: 404 (`AppPath` answers 404 for a malformed id too);
/// - with a body: 408 (it must arrive in time); with a JSON one also 400 (malformed) and
///   415 (`AppJson` wants `application/json`).
///
/// It runs on the finished document (see [`openapi`]): an `#[openapi(modifiers)]` sees only
/// the paths `ApiDoc` itself knows, none, since the routes add theirs afterwards.
struct ErrorResponses;

impl ErrorResponses {
    /// Statuses the rules would add that these operations never answer.
    const NOT_ANSWERED: &[(&str, &str, u16)] = &[
        // One's own account, read with a safe method: no role is checked.
        ("get", "/api/v1/me", 403),
        ("get", "/api/v1/me/logins", 403),
        // Reads the raw body whatever its declared type.
        ("post", "/api/v1/auth/logout", 415),
    ];

    fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        ResponseBuilder::new()
            .description(description)
            .content(
                problem::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
            .into()
    }

    /// The common answers of one operation, by the rules above.
    fn rules(
        path: &str,
        method: &str,
        operation: &utoipa::openapi::path::Operation,
    ) -> Vec<(u16, &'static str)> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        let api = path.starts_with("/api/");
        let changes = !matches!(method, "get" | "head" | "options");
        let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
        let in_path = operation
            .parameters
            .iter()
            .flatten()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path));
        let body_types: Vec<&String> = match &operation.request_body {
            Some(RefOr::T(body)) => body.content.keys().collect(),
            _ => Vec::new(),
        };
        let json_body = body_types
            .iter()
            .any(|t| *t == "application/json" || t.ends_with("+json"));
        let mut rules = vec![
            (413, "The request body is larger than this server accepts"),
            (
                503,
                "The server could not answer in time, or its database is unavailable; try again",
            ),
        ];
        if api {
            rules.push((
                422,
                "Invalid fields, each named in `errors` (U+0000 is refused anywhere)",
            ));
        }
        match (secured, api && changes) {
            (true, _) => rules.push((403, "The caller's roles or company do not allow this, or a browser sent it from another site")),
            (false, true) => rules.push((403, "A browser sent the request from another site")),
            (false, false) => {}
        }
        if secured {
            rules.push((
                401,
                "No valid credentials: send `Authorization: Bearer <token>`",
            ));
        }
        if in_path {
            rules.push((
                404,
                "No such object, or you may not see it (also for a malformed id)",
            ));
        }
        if operation.request_body.is_some() {
            rules.push((408, "The body did not arrive in time"));
        }
        if json_body {
            rules.push((400, "The body is not well-formed JSON"));
            rules.push((415, "The body is not `application/json`"));
        }
        rules.retain(|(status, _)| !Self::NOT_ANSWERED.contains(&(method, path, *status)));
        rules
    }
}

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else {
                    continue;
                };
                for (status, description) in Self::rules(path, method, operation) {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| Self::problem(description));
                }
            }
        }
    }
}

/// Where the OpenAPI document is served.
const OPENAPI_PATH: &str = "/api/openapi.json";

/// The OpenAPI document, also served at `/api/openapi.json`: the routes' own documentation
/// finished with [`ErrorResponses`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut openapi) = api_router().split_for_parts();
    utoipa::Modify::modify(&ErrorResponses, &mut openapi);
    openapi
}

/// The document as served: its JSON (about 220 KB), built on the first request and kept,
/// rather than utoipa's tree of it, which would be serialized again on every request.
async fn openapi_document() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<bytes::Bytes> = std::sync::OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        bytes::Bytes::from(serde_json::to_vec(&openapi()).unwrap_or_else(|error| {
            tracing::error!(%error, "the OpenAPI document cannot be serialized");
            Vec::new()
        }))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.clone(),
    )
}

fn api_router() -> OpenApiRouter<WebState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::health::router())
        .merge(api::identity::router())
        .merge(api::admin::router())
        .merge(api::design::router())
        .merge(api::tickets::router())
        .merge(api::tasks::router())
        .merge(api::stream::router())
        .merge(api::conversations::router())
        .merge(api::conversation_tickets::router())
        .merge(api::templates::router())
        .merge(api::channels::router())
        .merge(api::canned_replies::router())
        .merge(api::devices::router())
        .merge(api::push::router())
        .merge(api::error_log::router())
        .merge(api::notifications::router())
}

/// The server-rendered pages.
fn page_router() -> Router<WebState> {
    Router::new()
        .merge(pages::session::router())
        .merge(pages::account::router())
        .merge(pages::admin::router())
        .merge(pages::design::router())
        .merge(pages::tickets::router())
        .merge(pages::conversations::router())
        .merge(pages::chat_settings::router())
        .merge(pages::canned_replies::router())
        .merge(pages::channels::router())
        .merge(pages::conversation_tickets::router())
        .merge(pages::tasks::router())
        .merge(pages::error_log::router())
        .merge(pages::notifications::router())
}

/// Every route of the server with its middleware.
pub fn router(app: App) -> Router {
    let state = WebState {
        https: app.settings().serves_https(),
        max_body: app.settings().max_body_bytes,
        max_upload: app.settings().max_upload_bytes,
        max_json_nodes: app.settings().max_json_nodes,
        request_timeout: Duration::from_secs(app.settings().request_timeout_secs.max(1)),
        body_timeout: Duration::from_secs(app.settings().body_timeout_secs.max(1)),
        public_origin: app
            .settings()
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization()),
        app,
    };
    // Extractors read at most this much; `limit_body` sets each request's own bound below it.
    let max_extract = state.max_body.max(state.max_upload);
    // Only the routes are kept: the document is built on its first request (see
    // `openapi_document`); its tree and the allocations of building it would otherwise stay
    // in the heap of every server, which few ever ask for it.
    let (api, openapi) = api_router().split_for_parts();
    drop(openapi);
    let docs: Router<WebState> = Router::from(
        SwaggerUi::new("/api/docs").config(utoipa_swagger_ui::Config::from(OPENAPI_PATH)),
    )
    .route(OPENAPI_PATH, get(openapi_document))
    .layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
             script-src 'self'; frame-ancestors 'none'",
        ),
    ));
    Router::new()
        .merge(api)
        .merge(page_router())
        .route("/static/{name}", get(assets::serve_asset))
        .route("/sw.js", get(assets::serve_service_worker))
        .route_layer(axum::middleware::from_fn(middleware::record_metrics))
        .merge(docs)
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(max_extract))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(
                    middleware::REQUEST_ID,
                    MakeRequestUuid,
                ))
                .layer(PropagateRequestIdLayer::new(middleware::REQUEST_ID))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::finish_response,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::host_cookies,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::refuse_cross_site,
                ))
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::deadline,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::limit_body,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    edge::inspect_input,
                )),
        )
        .with_state(state)
}

/// Unknown API paths get a problem document; unknown pages get a page, inside the signed-in
/// person's layout when someone is signed in.
async fn fallback(
    axum::extract::State(state): axum::extract::State<WebState>,
    headers: axum::http::HeaderMap,
    uri: Uri,
) -> Response {
    if uri.path().starts_with("/api/") {
        return ProblemDoc::new(StatusCode::NOT_FOUND, "not-found", "Not found")
            .detail(format!("No API endpoint at {}", uri.path()))
            .into_response();
    }
    match pages::kit::context::PageCtx::open(&state, &headers, "", None, None).await {
        Ok(ctx) => ctx.not_found(),
        Err(_) => layout::not_found().await,
    }
}

/// Open connections to the metrics listener served at once: a scraper or two, and an
/// operator's `curl`.
const METRICS_CONNECTIONS: usize = 16;

/// Serves HTTP on `listener`, Prometheus metrics on `metrics` (when given, with the job
/// gauges refreshed in the background) and runs the job workers until `shutdown` is
/// cancelled, then lets in-flight requests and jobs finish before returning.
pub async fn run(
    app: App,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let hub = tokio::spawn(app.hub().clone().run(app.clone(), shutdown.clone()));
    let bus = tokio::spawn(app::realtime::bus::run(app.clone(), shutdown.clone()));
    let publisher = tokio::spawn(app::relay::nats::run(app.clone(), shutdown.clone()));
    let webhooks = tokio::spawn(app::relay::webhooks::run(app.clone(), shutdown.clone()));
    let notifications = tokio::spawn(app::notifications::derive::run(
        app.clone(),
        shutdown.clone(),
    ));
    // Stopped only once the last request has been answered, so that its failure is kept.
    let error_log_stop = CancellationToken::new();
    let error_log = tokio::spawn(app::infra::error_log::run(
        app.clone(),
        error_log_stop.clone(),
    ));
    let workers = tokio::spawn(app::infra::jobs::run_workers(
        app.clone(),
        app.settings().job_workers,
        shutdown.clone(),
    ));
    let limits = serve::ConnectionLimits::from_settings(app.settings());
    // Before the main router serves anything, so that the global recorder is installed
    // when the first request is counted.
    let telemetry = metrics.map(|metrics| {
        let gauges = telemetry::JobGauges::default();
        let refresher = tokio::spawn(telemetry::refresh_job_gauges(
            app.clone(),
            gauges.clone(),
            Duration::from_secs(app.settings().metrics_refresh_secs.max(1)),
            shutdown.clone(),
        ));
        let upkeep = tokio::spawn(telemetry::keep_up(shutdown.clone()));
        let scrapes = tokio::spawn(serve::serve(
            metrics,
            telemetry::router(gauges),
            serve::ConnectionLimits {
                max_connections: METRICS_CONNECTIONS,
                ..limits
            },
            shutdown.clone(),
        ));
        (refresher, upkeep, scrapes)
    });
    let router = router(app);
    let served = serve::serve(listener, router, limits, shutdown.clone()).await;
    shutdown.cancel();
    error_log_stop.cancel();
    if let Err(error) = error_log.await {
        tracing::warn!(%error, "the error log writer failed");
    }
    if let Err(error) = hub.await {
        tracing::warn!(%error, "the realtime hub failed");
    }
    if let Err(error) = bus.await {
        tracing::warn!(%error, "the realtime bus failed");
    }
    if let Err(error) = publisher.await {
        tracing::warn!(%error, "the NATS event publisher failed");
    }
    if let Err(error) = notifications.await {
        tracing::error!(%error, "the notification consumer ended abnormally");
    }
    if let Err(error) = webhooks.await {
        tracing::warn!(%error, "the event webhook relay failed");
    }
    if tokio::time::timeout(Duration::from_secs(90), workers)
        .await
        .is_err()
    {
        tracing::warn!("job workers did not stop within 90 s");
    }
    if let Some((refresher, upkeep, scrapes)) = telemetry {
        if let Err(error) = refresher.await {
            tracing::warn!(%error, "the job gauge refresher failed");
        }
        if let Err(error) = upkeep.await {
            tracing::warn!(%error, "the metrics upkeep failed");
        }
        match scrapes.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "the metrics listener failed"),
            Err(error) => tracing::warn!(%error, "the metrics listener failed"),
        }
    }
    served
}

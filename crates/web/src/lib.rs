//! TicketFlower's HTTP surface: the REST API (with its OpenAPI document), the
//! server-rendered pages, and the middleware around them. Handlers are thin: extract, call
//! one `app` use case, map the result. Errors become RFC 9457 problems in `problem.rs`.

mod auth;
mod edge;
pub mod extract;
mod middleware;
pub mod problem;
mod routes;
mod serve;
mod state;

use std::sync::OnceLock;
use std::time::Duration;

use app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use problem::{ApiError, ApiResult, Problem};
pub use state::WebState;

use crate::problem::Problem as ProblemDoc;
use crate::routes::{admin, assets, design, health, identity, ops, pages, session_pages, tickets};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TicketFlower API",
        description = "Multi-tenant service desk. Errors are RFC 9457 `application/problem+json` documents whose `errors` list names each bad field. Lists answer `{items, next_cursor}`.",
    ),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "identity", description = "Sign-up, login, tokens, one's own profile"),
        (name = "users", description = "Company user administration (admin)"),
        (name = "company roles", description = "Company-defined roles and the invite code (admin)"),
        (name = "api tokens", description = "Tokens for integrations (admin)"),
        (name = "platform", description = "Platform staff: companies, suspension, impersonation"),
        (name = "design", description = "Workflow design: workflows, tasks, transitions, ticket types, bundles"),
        (name = "tickets", description = "Tickets: submission, lists, comments, attachments"),
        (name = "tasks", description = "Tasks, workflow errors and action callbacks"),
        (name = "company", description = "Company settings for integrations"),
    ),
    modifiers(&BearerAuth),
    components(schemas(problem::Problem, problem::ProblemField)),
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
/// It runs on the finished document (see [`api_parts`]): an `#[openapi(modifiers)]` sees only
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

/// The process-wide Prometheus recorder (the `metrics` facade allows exactly one).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &buckets,
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                Err(error) => {
                    tracing::warn!(%error, "metrics recorder already installed elsewhere");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// The OpenAPI document, also served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_parts().1
}

/// The API's routes and their finished document (with [`ErrorResponses`]).
fn api_parts() -> (Router<WebState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = api_router().split_for_parts();
    utoipa::Modify::modify(&ErrorResponses, &mut openapi);
    (router, openapi)
}

fn api_router() -> OpenApiRouter<WebState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(identity::signup))
        .routes(routes!(identity::login))
        .routes(routes!(identity::refresh))
        .routes(routes!(identity::logout))
        .routes(routes!(identity::verify))
        .routes(routes!(identity::me, identity::update_me))
        .routes(routes!(identity::change_password))
        .routes(routes!(identity::my_logins))
        .routes(routes!(identity::request_reset))
        .routes(routes!(identity::confirm_reset))
        .routes(routes!(identity::register))
        .routes(routes!(admin::list_users, admin::create_user))
        .routes(routes!(
            admin::get_user,
            admin::update_user,
            admin::delete_user
        ))
        .routes(routes!(admin::approve_user))
        .routes(routes!(admin::block_user))
        .routes(routes!(admin::unblock_user))
        .routes(routes!(admin::set_roles))
        .routes(routes!(
            admin::list_company_roles,
            admin::create_company_role
        ))
        .routes(routes!(
            admin::get_company_role,
            admin::update_company_role,
            admin::delete_company_role
        ))
        .routes(routes!(admin::company, admin::update_company))
        .routes(routes!(admin::rotate_invite_code))
        .routes(routes!(admin::create_api_token, admin::list_api_tokens))
        .routes(routes!(admin::revoke_api_token))
        .routes(routes!(admin::list_companies, admin::create_company))
        .routes(routes!(admin::suspend_company))
        .routes(routes!(admin::reactivate_company))
        .routes(routes!(admin::impersonate))
        .routes(routes!(design::list_workflows, design::create_workflow))
        .routes(routes!(
            design::get_workflow,
            design::update_workflow,
            design::delete_workflow
        ))
        .routes(routes!(design::list_tasks, design::create_task))
        .routes(routes!(
            design::get_task,
            design::update_task,
            design::delete_task
        ))
        .routes(routes!(design::list_transitions, design::create_transition))
        .routes(routes!(
            design::get_transition,
            design::update_transition,
            design::delete_transition
        ))
        .routes(routes!(
            design::list_ticket_types,
            design::create_ticket_type
        ))
        .routes(routes!(
            design::get_ticket_type,
            design::update_ticket_type,
            design::delete_ticket_type
        ))
        .routes(routes!(design::publish))
        .routes(routes!(design::deprecate))
        .routes(routes!(design::archive))
        .routes(routes!(design::versions))
        .routes(routes!(design::export_bundle))
        .routes(routes!(design::graph_svg))
        .routes(routes!(design::graph_mermaid))
        .routes(routes!(design::import_bundle))
        .routes(routes!(tickets::available_types))
        .routes(routes!(tickets::submit, tickets::list))
        .routes(routes!(tickets::get, tickets::correct))
        .routes(routes!(tickets::timeline))
        .routes(routes!(tickets::comments, tickets::add_comment))
        .routes(routes!(tickets::attachments, tickets::add_attachments))
        .routes(routes!(tickets::download))
        .routes(routes!(tickets::cancel))
        .routes(routes!(tickets::tasks))
        .routes(routes!(tickets::task))
        .routes(routes!(tickets::claim))
        .routes(routes!(tickets::assign))
        .routes(routes!(tickets::release))
        .routes(routes!(tickets::complete))
        .routes(routes!(tickets::allowed_users))
        .routes(routes!(tickets::workflow_errors))
        .routes(routes!(tickets::review_error))
        .routes(routes!(tickets::resolve_error))
        .routes(routes!(tickets::retry_error))
        .routes(routes!(tickets::action_callback))
        .routes(routes!(tickets::action_secret))
}

/// The server-rendered pages.
fn page_router() -> Router<WebState> {
    use axum::routing::post;
    use routes::{
        account_pages as account, admin_pages as admin_page, design_pages as designer,
        task_pages as task_page, ticket_pages as ticket_page,
    };
    Router::new()
        .route("/", get(pages::landing))
        .route(
            "/signup",
            get(session_pages::signup_page).post(session_pages::signup_submit),
        )
        .route(
            "/login",
            get(session_pages::login_page).post(session_pages::login_submit),
        )
        .route("/logout", post(session_pages::logout_submit))
        .route("/dashboard", get(session_pages::dashboard))
        .route(
            "/profile",
            get(account::profile).post(account::profile_names),
        )
        .route("/profile/password", post(account::profile_password))
        .route(
            "/forgot-password",
            get(account::forgot_page).post(account::forgot_submit),
        )
        .route(
            "/reset-password",
            get(account::reset_page).post(account::reset_submit),
        )
        .route(
            "/register",
            get(account::register_page).post(account::register_submit),
        )
        .route(
            "/admin/users",
            get(admin_page::users).post(admin_page::create_user),
        )
        .route(
            "/admin/users/{id}",
            get(admin_page::user).post(admin_page::rename_user),
        )
        .route("/admin/users/{id}/status", post(admin_page::change_status))
        .route("/admin/users/{id}/roles", post(admin_page::set_roles))
        .route("/admin/users/{id}/delete", post(admin_page::delete_user))
        .route("/admin/invite-code", post(admin_page::rotate_invite_code))
        .route(
            "/admin/company-roles",
            get(admin_page::company_roles).post(admin_page::create_company_role),
        )
        .route(
            "/admin/company-roles/{id}",
            post(admin_page::update_company_role),
        )
        .route(
            "/admin/company-roles/{id}/delete",
            post(admin_page::delete_company_role),
        )
        .route(
            "/admin/api-tokens",
            get(admin_page::api_tokens).post(admin_page::create_api_token),
        )
        .route(
            "/admin/api-tokens/{id}/revoke",
            post(admin_page::revoke_api_token),
        )
        .route(
            "/staff/companies",
            get(admin_page::companies).post(admin_page::create_company),
        )
        .route(
            "/staff/companies/{id}/status",
            post(admin_page::set_suspended),
        )
        .route(
            "/staff/companies/{id}/impersonate",
            post(admin_page::impersonate),
        )
        .route(
            "/design/workflows",
            get(designer::workflows).post(designer::create_workflow),
        )
        .route("/design/workflows/{id}", get(designer::workflow))
        .route(
            "/design/workflows/{id}/life-cycle",
            post(designer::life_cycle),
        )
        .route(
            "/design/workflows/{id}/add/{kind}",
            post(designer::add_object),
        )
        .route(
            "/design/bundles/new",
            get(designer::bundle_page).post(designer::bundle_submit),
        )
        .route("/design/objects/{kind}/{id}", get(designer::object))
        .route(
            "/design/objects/{kind}/{id}/edit",
            post(designer::update_object),
        )
        .route(
            "/design/objects/{kind}/{id}/delete",
            post(designer::delete_object),
        )
        .route("/tickets", get(ticket_page::my_tickets))
        .route("/tickets/all", get(ticket_page::all_tickets))
        .route("/tickets/new", get(ticket_page::new_ticket))
        .route(
            "/tickets/new/{type_id}",
            get(ticket_page::submit_page).post(ticket_page::submit_ticket),
        )
        .route("/tickets/{id}", get(ticket_page::ticket))
        .route("/tickets/{id}/comments", post(ticket_page::add_comment))
        .route(
            "/tickets/{id}/attachments",
            post(ticket_page::add_attachments),
        )
        .route(
            "/tickets/{id}/attachments/{aid}",
            get(ticket_page::download),
        )
        .route("/tickets/{id}/cancel", post(ticket_page::cancel))
        .route("/tasks", get(task_page::my_tasks))
        .route("/tasks/all", get(task_page::all_tasks))
        .route("/tasks/{id}", get(task_page::task))
        .route("/tasks/{id}/claim", post(task_page::claim))
        .route("/tasks/{id}/release", post(task_page::release))
        .route("/tasks/{id}/assign", post(task_page::assign))
        .route("/tasks/{id}/complete", post(task_page::complete))
        .route("/workflow-errors", get(task_page::workflow_errors))
        .route(
            "/workflow-errors/{id}/{action}",
            post(task_page::error_action),
        )
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
        metrics: metrics_handle(),
        app,
    };
    // Extractors read at most this much; `limit_body` sets each request's own bound below it.
    let max_extract = state.max_body.max(state.max_upload);
    let (api, openapi) = api_parts();
    let docs: Router<WebState> = Router::from(
        SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi),
    )
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

/// Unknown API paths get a problem document; unknown pages get a page.
async fn fallback(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ProblemDoc::new(StatusCode::NOT_FOUND, "not-found", "Not found")
            .detail(format!("No API endpoint at {}", uri.path()))
            .into_response()
    } else {
        pages::not_found().await
    }
}

/// Serves HTTP on `listener` and runs the job workers until `shutdown` is cancelled, then
/// lets in-flight requests and jobs finish before returning.
pub async fn run(
    app: App,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let workers = tokio::spawn(app::jobs::run_workers(
        app.clone(),
        app.settings().job_workers,
        shutdown.clone(),
    ));
    let limits = serve::ConnectionLimits::from_settings(app.settings());
    let router = router(app);
    let served = serve::serve(listener, router, limits, shutdown.clone()).await;
    shutdown.cancel();
    if tokio::time::timeout(Duration::from_secs(90), workers)
        .await
        .is_err()
    {
        tracing::warn!("job workers did not stop within 90 s");
    }
    served
}

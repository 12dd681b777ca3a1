//! Identity API: sign-up, login and tokens, one's own profile, self-registration and
//! password reset. Every handler is one call into `app::identity::auth` or `app::identity::accounts`.

use app::identity::accounts::{LoginEntry, Profile, SignupOutcome};
use app::identity::auth::{TokenPair, Verification};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use domain::company::Company;
use domain::user::User;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::auth::{Authed, Client};
use crate::extract::{AppJson, AppQuery};
use crate::problem::{ApiResult, Problem};
use crate::state::WebState;

/// `POST /signup` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub company_name: String,
    pub admin_email: String,
    pub admin_password: String,
    pub admin_first_name: String,
    pub admin_last_name: String,
}

impl From<SignupRequest> for app::identity::accounts::SignupInput {
    fn from(r: SignupRequest) -> Self {
        Self {
            company_name: r.company_name,
            admin_email: r.admin_email,
            admin_password: r.admin_password,
            admin_first_name: r.admin_first_name,
            admin_last_name: r.admin_last_name,
        }
    }
}

/// The answer of `POST /signup` and `POST /admin/companies`: the new company, its first
/// admin, and a token pair for that admin.
#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    pub company: Company,
    pub user: User,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

impl From<SignupOutcome> for SignupResponse {
    fn from(outcome: SignupOutcome) -> Self {
        Self {
            company: outcome.company,
            user: outcome.user,
            tokens: outcome.tokens,
        }
    }
}

/// Creates a company, its default role `user` and its first admin, and logs the admin in.
#[utoipa::path(post, path = "/api/v1/signup", tag = "identity", request_body = SignupRequest,
    responses(
        (status = 201, description = "The company, its admin and the admin's tokens", body = SignupResponse),
        (status = 409, description = "Email taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ups from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn signup(
    State(state): State<WebState>,
    Client(client): Client,
    AppJson(body): AppJson<SignupRequest>,
) -> ApiResult<impl IntoResponse> {
    let outcome = app::identity::accounts::signup(&state.app, body.into(), &client).await?;
    Ok((StatusCode::CREATED, Json(SignupResponse::from(outcome))))
}

/// `POST /auth/login` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Free text naming the client platform, e.g. `web`, `ios`.
    pub platform: Option<String>,
}

/// Logs in by email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = LoginRequest,
    responses(
        (status = 200, description = "A token pair and the user", body = LoginResponse),
        (status = 401, description = "Unknown email or wrong password (one answer for both)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Pending, blocked, or company suspended", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<WebState>,
    Client(client): Client,
    AppJson(body): AppJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let (user, pair) = app::identity::auth::login(
        &state.app,
        &body.email,
        &body.password,
        body.platform.as_deref(),
        &client,
    )
    .await?;
    Ok(Json(LoginResponse { tokens: pair, user }))
}

/// The answer of `POST /auth/login`.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: User,
}

/// `POST /auth/refresh` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Swaps a refresh token for a new pair; a reused token revokes its whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "identity", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 401, description = "Invalid, expired or reused token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<WebState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(
        app::identity::auth::refresh(&state.app, &body.refresh_token).await?,
    ))
}

/// `POST /auth/logout` body (optional when an access token is sent).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub refresh_token: Option<String>,
}

/// Ends the session of the presented refresh token, or of the access token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity", request_body = LogoutRequest,
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Neither a valid refresh token nor a valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    State(state): State<WebState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let request: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else {
        crate::extract::parse_json(&body)?
    };
    if let Some(token) = request.refresh_token {
        app::identity::auth::logout_refresh_token(&state.app, &token).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .ok_or_else(|| {
            app::AppError::Unauthorized("send a refresh_token or an access token".into())
        })?;
    let actor = app::identity::auth::authenticate(&state.app, &bearer).await?;
    app::identity::auth::logout(&state.app, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/verify` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub token: String,
}

/// Tells whether an access token is valid now, with its claims.
#[utoipa::path(post, path = "/api/v1/auth/verify", tag = "identity", request_body = VerifyRequest,
    responses((status = 200, description = "Whether the token is valid, with its claims", body = Verification)))]
pub async fn verify(
    State(state): State<WebState>,
    AppJson(body): AppJson<VerifyRequest>,
) -> Json<Verification> {
    Json(app::identity::auth::verify(&state.app, &body.token).await)
}

/// The caller's profile: user, company and company roles.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The user's fields, with `company`, `company_roles` and `impersonated_by`", body = Profile)),
    security(("bearer" = [])))]
pub async fn me(State(state): State<WebState>, Authed(actor): Authed) -> ApiResult<Json<Profile>> {
    Ok(Json(app::identity::accounts::me(&state.app, &actor).await?))
}

/// `PATCH /me` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Changes one's own names (nothing else can be changed here).
#[utoipa::path(patch, path = "/api/v1/me", tag = "identity", request_body = UpdateMeRequest,
    responses((status = 200, description = "The profile, as `GET /me` answers it", body = Profile)),
    security(("bearer" = [])))]
pub async fn update_me(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<UpdateMeRequest>,
) -> ApiResult<Json<Profile>> {
    let profile = app::identity::accounts::update_me(
        &state.app,
        &actor,
        body.first_name.as_deref(),
        body.last_name.as_deref(),
    )
    .await?;
    Ok(Json(profile))
}

/// `POST /me/password` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Changes one's password; every other session ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "identity", request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 422, description = "Wrong current password or weak new one", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    app::identity::accounts::change_password(
        &state.app,
        &actor,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Time range of `GET /me/logins`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginsQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One's own login history, newest first.
#[utoipa::path(get, path = "/api/v1/me/logins", tag = "identity", params(LoginsQuery),
    responses((status = 200, description = "The attempts, newest first (at most 200; `next_cursor` is always `null`)", body = Page<LoginView>)),
    security(("bearer" = [])))]
pub async fn my_logins(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<LoginsQuery>,
) -> ApiResult<Json<Page<LoginView>>> {
    let items =
        app::identity::accounts::my_logins(&state.app, &actor, query.from, query.to).await?;
    Ok(Json(Page::whole(
        items.into_iter().map(LoginView::from).collect(),
    )))
}

/// One login attempt of one's own.
#[derive(Serialize, ToSchema)]
pub struct LoginView {
    pub created_at: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
    /// What the client said it is at login, e.g. `web`.
    pub platform: Option<String>,
    pub success: bool,
    /// Why it failed; `null` for a success.
    pub failure_reason: Option<String>,
}

impl From<LoginEntry> for LoginView {
    fn from(entry: LoginEntry) -> Self {
        // Every field named, so a new one in the store is a decision here, not a leak.
        let LoginEntry {
            created_at,
            ip,
            user_agent,
            platform,
            success,
            failure_reason,
        } = entry;
        Self {
            created_at,
            ip,
            user_agent,
            platform,
            success,
            failure_reason,
        }
    }
}

/// `POST /auth/password-reset` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// Mails a single-use reset link (valid 60 minutes) if the account exists. Always 202.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "identity", request_body = ResetRequest,
    responses(
        (status = 202, description = "Accepted whether or not the email is known"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_reset(
    State(state): State<WebState>,
    Client(client): Client,
    AppJson(body): AppJson<ResetRequest>,
) -> ApiResult<StatusCode> {
    app::identity::accounts::request_password_reset(&state.app, &body.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /auth/password-reset/confirm` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmRequest {
    pub token: String,
    pub new_password: String,
}

/// Sets a new password with a reset token; all sessions end.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "identity",
    request_body = ResetConfirmRequest,
    responses(
        (status = 204, description = "Password set"),
        (status = 422, description = "Invalid, used or expired token, or a weak password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_reset(
    State(state): State<WebState>,
    Client(client): Client,
    AppJson(body): AppJson<ResetConfirmRequest>,
) -> ApiResult<StatusCode> {
    app::identity::accounts::confirm_password_reset(
        &state.app,
        &body.token,
        &body.new_password,
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /register` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub company_invite_code: String,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
}

/// Registers with a company's invite code; the account waits for an admin's approval.
#[utoipa::path(post, path = "/api/v1/register", tag = "identity", request_body = RegisterRequest,
    responses(
        (status = 202, description = "Registered, pending approval", body = RegisterResponse),
        (status = 409, description = "Email taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or unknown invite code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many registrations from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<WebState>,
    Client(client): Client,
    AppJson(body): AppJson<RegisterRequest>,
) -> ApiResult<impl IntoResponse> {
    let user = app::identity::accounts::register(
        &state.app,
        &body.company_invite_code,
        &body.email,
        &body.password,
        &body.first_name,
        &body.last_name,
        &client,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(RegisterResponse { user })))
}

/// The answer of `POST /register`.
#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    /// The new user, `pending` until an admin approves them.
    pub user: User,
}

/// This module's operations, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(verify))
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(my_logins))
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(register))
}

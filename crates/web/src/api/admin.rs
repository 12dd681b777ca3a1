//! Company administration API (users, company roles, invite code, API tokens) and the
//! platform staff API (companies, suspension, impersonation).

use app::identity::admin::{ApiToken, IssuedToken, UserView};
use app::identity::auth::TokenPair;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use domain::company::{Company, CompanyRole};
use domain::ids::{ApiTokenId, CompanyRoleId};
use domain::user::User;
use domain::{CompanyId, SystemRole, UserId, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::api::identity::{SignupRequest, SignupResponse};
use crate::auth::{Authed, Client};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::problem::{ApiResult, Problem};
use crate::state::WebState;

fn parse_roles(field: &str, names: &[String]) -> Result<Vec<SystemRole>, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let roles = names
        .iter()
        .filter_map(|name| errors.check(field, name.parse::<SystemRole>()))
        .collect();
    errors.into_result().map(|()| roles)
}

/// Filters of `GET /users`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// `active`, `pending` or `blocked`.
    pub status: Option<String>,
    /// A system role, e.g. `ticket_admin`.
    pub role: Option<String>,
    /// Substring of email or name.
    pub q: Option<String>,
    pub joined_from: Option<DateTime<Utc>>,
    pub joined_to: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    pub cursor: Option<UserId>,
}

/// The company's users, newest first.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UsersQuery),
    responses(
        (status = 200, description = "A page of users (without their company roles)", body = Page<User>),
    ),
    security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<UsersQuery>,
) -> ApiResult<Json<Page<User>>> {
    let mut errors = ValidationErrors::new();
    let status = query
        .status
        .as_deref()
        .and_then(|s| errors.check("status", s.parse()));
    let role = query
        .role
        .as_deref()
        .and_then(|s| errors.check("role", s.parse()));
    errors.into_result()?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let filter = store_filter(
        status,
        role,
        query.q,
        query.joined_from,
        query.joined_to,
        query.cursor,
        limit,
    );
    let items = app::identity::admin::list_users(&state.app, &actor, filter).await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

fn store_filter(
    status: Option<domain::user::UserStatus>,
    role: Option<SystemRole>,
    q: Option<String>,
    joined_from: Option<DateTime<Utc>>,
    joined_to: Option<DateTime<Utc>>,
    cursor: Option<UserId>,
    limit: u32,
) -> app::identity::admin::UserFilter {
    app::identity::admin::UserFilter {
        status,
        role,
        q,
        joined_from,
        joined_to,
        after: cursor,
        limit,
    }
}

/// `POST /users` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub system_roles: Vec<String>,
}

/// Creates an active user of the company.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The user", body = UserView),
        (status = 409, description = "Email taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<CreateUserRequest>,
) -> ApiResult<impl IntoResponse> {
    let roles = parse_roles("system_roles", &body.system_roles)?;
    let user = app::identity::admin::create_user(
        &state.app,
        &actor,
        app::identity::admin::NewUserInput {
            email: body.email,
            password: body.password,
            first_name: body.first_name,
            last_name: body.last_name,
            system_roles: roles,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// One user of the company.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "The user", body = UserView),
    ),
    security(("bearer" = [])))]
pub async fn get_user(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<UserId>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        app::identity::admin::get_user(&state.app, &actor, id).await?,
    ))
}

/// `PATCH /users/{id}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Changes a user's names (status and roles have their own endpoints).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = Uuid, Path, description = "The user")), request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user", body = UserView),
    ),
    security(("bearer" = [])))]
pub async fn update_user(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<UserId>,
    AppJson(body): AppJson<UpdateUserRequest>,
) -> ApiResult<Json<UserView>> {
    let user = app::identity::admin::update_user_names(
        &state.app,
        &actor,
        id,
        body.first_name.as_deref(),
        body.last_name.as_deref(),
    )
    .await?;
    Ok(Json(user))
}

/// Deletes a user of the company.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The company's last active admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_user(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<UserId>,
) -> ApiResult<StatusCode> {
    app::identity::admin::delete_user(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn status_change(
    state: &WebState,
    actor: &domain::auth::Actor,
    id: UserId,
    change: app::identity::admin::StatusChange,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        app::identity::admin::change_status(&state.app, actor, id, change).await?,
    ))
}

/// Approves a pending user.
#[utoipa::path(post, path = "/api/v1/users/{id}/approve", tag = "users", params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 409, description = "The user is not pending", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn approve_user(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<UserId>,
) -> ApiResult<Json<UserView>> {
    status_change(
        &state,
        &actor,
        id,
        app::identity::admin::StatusChange::Approve,
    )
    .await
}

/// Blocks a user (never the last active admin); their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{id}/block", tag = "users", params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 409, description = "Already blocked, or the company's last active admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn block_user(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<UserId>,
) -> ApiResult<Json<UserView>> {
    status_change(
        &state,
        &actor,
        id,
        app::identity::admin::StatusChange::Block,
    )
    .await
}

/// Unblocks a blocked user.
#[utoipa::path(post, path = "/api/v1/users/{id}/unblock", tag = "users", params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 409, description = "The user is not blocked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn unblock_user(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<UserId>,
) -> ApiResult<Json<UserView>> {
    status_change(
        &state,
        &actor,
        id,
        app::identity::admin::StatusChange::Unblock,
    )
    .await
}

/// `PUT /users/{id}/roles` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesRequest {
    pub system_roles: Vec<String>,
    #[serde(default)]
    pub company_roles: Vec<String>,
}

/// Replaces a user's roles (at or below your own level; never your own).
#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = "users", params(("id" = Uuid, Path, description = "The user")), request_body = RolesRequest,
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 409, description = "The change would leave no active admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn set_roles(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<UserId>,
    AppJson(body): AppJson<RolesRequest>,
) -> ApiResult<Json<UserView>> {
    let roles = parse_roles("system_roles", &body.system_roles)?;
    let user =
        app::identity::admin::set_roles(&state.app, &actor, id, roles, body.company_roles).await?;
    Ok(Json(user))
}

/// The company's own roles.
#[utoipa::path(get, path = "/api/v1/company-roles", tag = "company roles",
    responses(
        (status = 200, description = "Every company role (`next_cursor` is always `null`)", body = Page<CompanyRole>),
    ),
    security(("bearer" = [])))]
pub async fn list_company_roles(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Page<CompanyRole>>> {
    let items = app::identity::admin::list_company_roles(&state.app, &actor).await?;
    Ok(Json(Page::whole(items)))
}

/// `POST /company-roles` and `PATCH /company-roles/{id}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyRoleRequest {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// Defines a company role (name unique in the company).
#[utoipa::path(post, path = "/api/v1/company-roles", tag = "company roles", request_body = CompanyRoleRequest,
    responses(
        (status = 201, description = "The role", body = CompanyRole),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_company_role(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<CompanyRoleRequest>,
) -> ApiResult<impl IntoResponse> {
    let role = app::identity::admin::create_company_role(
        &state.app,
        &actor,
        body.name.as_deref().unwrap_or(""),
        body.description.as_deref().unwrap_or(""),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// One company role.
#[utoipa::path(get, path = "/api/v1/company-roles/{id}", tag = "company roles", params(("id" = Uuid, Path, description = "The company role")),
    responses(
        (status = 200, description = "The role", body = CompanyRole),
    ),
    security(("bearer" = [])))]
pub async fn get_company_role(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<CompanyRoleId>,
) -> ApiResult<Json<CompanyRole>> {
    Ok(Json(
        app::identity::admin::get_company_role(&state.app, &actor, id).await?,
    ))
}

/// Renames or re-describes a company role.
#[utoipa::path(patch, path = "/api/v1/company-roles/{id}", tag = "company roles", params(("id" = Uuid, Path, description = "The company role")), request_body = CompanyRoleRequest,
    responses(
        (status = 200, description = "The role", body = CompanyRole),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn update_company_role(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<CompanyRoleId>,
    AppJson(body): AppJson<CompanyRoleRequest>,
) -> ApiResult<Json<CompanyRole>> {
    let role = app::identity::admin::update_company_role(
        &state.app,
        &actor,
        id,
        body.name.as_deref(),
        body.description.as_deref(),
    )
    .await?;
    Ok(Json(role))
}

/// Deletes a company role (never the default `user`).
#[utoipa::path(delete, path = "/api/v1/company-roles/{id}", tag = "company roles", params(("id" = Uuid, Path, description = "The company role")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The default role `user` stays", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_company_role(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<CompanyRoleId>,
) -> ApiResult<StatusCode> {
    app::identity::admin::delete_company_role(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The admin's company, with its invite code.
#[utoipa::path(get, path = "/api/v1/company", tag = "company roles",
    responses(
        (status = 200, description = "The company with its invite code", body = Company),
    ),
    security(("bearer" = [])))]
pub async fn company(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Company>> {
    Ok(Json(
        app::identity::admin::company(&state.app, &actor).await?,
    ))
}

/// `PATCH /company` body: the company's own bounds of ticket data and task outputs, both
/// set at once; a missing or `null` one takes the server's default.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyUpdate {
    /// Largest ticket data or task output, in bytes of JSON (1024 to the server's body
    /// limit).
    pub ticket_data_max_bytes: Option<u64>,
    /// Most values (objects, arrays, scalars) in ticket data or a task output (10 to the
    /// server's `max_json_nodes`).
    pub ticket_data_max_nodes: Option<u64>,
}

/// Sets the company's bounds of ticket data; a submission or task output over them is
/// refused with a 422 naming the limit.
#[utoipa::path(patch, path = "/api/v1/company", tag = "company roles",
    request_body = CompanyUpdate,
    responses((status = 200, description = "The company with its data bounds", body = Company)),
    security(("bearer" = [])))]
pub async fn update_company(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<CompanyUpdate>,
) -> ApiResult<Json<Company>> {
    let limits = domain::company::DataLimits {
        max_bytes: body.ticket_data_max_bytes,
        max_nodes: body.ticket_data_max_nodes,
    };
    Ok(Json(
        app::identity::admin::set_data_limits(&state.app, &actor, limits).await?,
    ))
}

/// Replaces the company's invite code; the old one stops working.
#[utoipa::path(post, path = "/api/v1/company/invite-code", tag = "company roles",
    responses(
        (status = 200, description = "The company with its new invite code", body = Company),
    ),
    security(("bearer" = [])))]
pub async fn rotate_invite_code(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Company>> {
    Ok(Json(
        app::identity::admin::rotate_invite_code(&state.app, &actor).await?,
    ))
}

/// `POST /api-tokens` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenRequest {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Issues an API token; its `secret` is shown only in this answer.
#[utoipa::path(post, path = "/api/v1/api-tokens", tag = "api tokens", request_body = ApiTokenRequest,
    responses(
        (status = 201, description = "The token with its `secret`", body = IssuedTokenView),
    ),
    security(("bearer" = [])))]
pub async fn create_api_token(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<ApiTokenRequest>,
) -> ApiResult<impl IntoResponse> {
    let roles = parse_roles("roles", &body.roles)?;
    let issued = app::identity::admin::create_api_token(
        &state.app,
        &actor,
        &body.name,
        roles,
        body.expires_at,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(IssuedTokenView::from(issued))))
}

/// An API token as listed (never with its secret).
#[derive(Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: ApiTokenId,
    pub company_id: CompanyId,
    /// The service account the token acts as.
    pub user_id: UserId,
    pub name: String,
    pub created_by: UserId,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ApiToken> for ApiTokenView {
    fn from(token: ApiToken) -> Self {
        // Every field named, so a new one in the store is a decision here, not a leak.
        let ApiToken {
            id,
            company_id,
            user_id,
            name,
            created_by,
            expires_at,
            revoked_at,
            last_used_at,
            created_at,
        } = token;
        Self {
            id,
            company_id,
            user_id,
            name,
            created_by,
            expires_at,
            revoked_at,
            last_used_at,
            created_at,
        }
    }
}

/// A newly issued API token: the secret is shown this once.
#[derive(Serialize, ToSchema)]
pub struct IssuedTokenView {
    #[serde(flatten)]
    pub token: ApiTokenView,
    pub roles: Vec<SystemRole>,
    /// The bearer token (`tfk_...`); it cannot be shown again.
    pub secret: String,
}

impl From<IssuedToken> for IssuedTokenView {
    fn from(issued: IssuedToken) -> Self {
        let IssuedToken {
            token,
            roles,
            secret,
        } = issued;
        Self {
            token: token.into(),
            roles,
            secret,
        }
    }
}

/// Where a list of the API tokens or the companies goes on.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPage {
    /// The `next_cursor` of the page before.
    pub cursor: Option<uuid::Uuid>,
    /// Rows per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

impl ListPage {
    fn limit(&self) -> u32 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }

    /// The page with its cursor: the last row's id when the page is full.
    fn page<T>(&self, items: Vec<T>, id: impl Fn(&T) -> String) -> Page<T> {
        let next_cursor = (items.len() == self.limit() as usize)
            .then(|| items.last().map(id))
            .flatten();
        Page { items, next_cursor }
    }
}

/// The company's API tokens (without secrets), newest first.
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "api tokens", params(ListPage),
    responses(
        (status = 200, description = "A page of the company's API tokens", body = Page<ApiTokenView>),
    ),
    security(("bearer" = [])))]
pub async fn list_api_tokens(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<ListPage>,
) -> ApiResult<Json<Page<ApiTokenView>>> {
    let after = query.cursor.map(ApiTokenId);
    let (items, _) =
        app::identity::admin::list_api_tokens(&state.app, &actor, after, query.limit()).await?;
    let items = items.into_iter().map(ApiTokenView::from).collect();
    Ok(Json(query.page(items, |t: &ApiTokenView| t.id.to_string())))
}

/// Revokes an API token at once.
#[utoipa::path(delete, path = "/api/v1/api-tokens/{id}", tag = "api tokens", params(("id" = Uuid, Path, description = "The API token")),
    responses(
        (status = 204, description = "Revoked"),
    ),
    security(("bearer" = [])))]
pub async fn revoke_api_token(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ApiTokenId>,
) -> ApiResult<StatusCode> {
    app::identity::admin::revoke_api_token(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every company (platform staff), newest first.
#[utoipa::path(get, path = "/api/v1/admin/companies", tag = "platform", params(ListPage),
    responses(
        (status = 200, description = "A page of the companies", body = Page<Company>),
    ),
    security(("bearer" = [])))]
pub async fn list_companies(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<ListPage>,
) -> ApiResult<Json<Page<Company>>> {
    let after = query.cursor.map(CompanyId);
    let (items, _) =
        app::identity::platform::list_companies(&state.app, &actor, after, query.limit()).await?;
    Ok(Json(query.page(items, |c: &Company| c.id.to_string())))
}

/// Creates a company with its first admin (platform staff).
#[utoipa::path(post, path = "/api/v1/admin/companies", tag = "platform", request_body = SignupRequest,
    responses(
        (status = 201, description = "The company, its admin and the admin's tokens", body = SignupResponse),
        (status = 409, description = "Email taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_company(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<SignupRequest>,
) -> ApiResult<impl IntoResponse> {
    let outcome = app::identity::platform::create_company(&state.app, &actor, body.into()).await?;
    Ok((StatusCode::CREATED, Json(SignupResponse::from(outcome))))
}

/// Suspends a company: its users can no longer log in or use tokens.
#[utoipa::path(post, path = "/api/v1/admin/companies/{id}/suspend", tag = "platform", params(("id" = Uuid, Path, description = "The company")),
    responses(
        (status = 200, description = "The company", body = Company),
    ),
    security(("bearer" = [])))]
pub async fn suspend_company(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<CompanyId>,
) -> ApiResult<Json<Company>> {
    Ok(Json(
        app::identity::platform::set_suspended(&state.app, &actor, id, true).await?,
    ))
}

/// Reactivates a suspended company.
#[utoipa::path(post, path = "/api/v1/admin/companies/{id}/reactivate", tag = "platform", params(("id" = Uuid, Path, description = "The company")),
    responses(
        (status = 200, description = "The company", body = Company),
    ),
    security(("bearer" = [])))]
pub async fn reactivate_company(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<CompanyId>,
) -> ApiResult<Json<Company>> {
    Ok(Json(
        app::identity::platform::set_suspended(&state.app, &actor, id, false).await?,
    ))
}

/// Gives platform staff a token that acts as an admin inside the company; every event it
/// causes records the impersonation.
#[utoipa::path(post, path = "/api/v1/admin/companies/{id}/impersonate", tag = "platform", params(("id" = Uuid, Path, description = "The company")),
    responses(
        (status = 200, description = "A token pair acting as an admin of the company", body = TokenPair),
        (status = 409, description = "The company is suspended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn impersonate(
    State(state): State<WebState>,
    Authed(actor): Authed,
    Client(client): Client,
    AppPath(id): AppPath<CompanyId>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(
        app::identity::platform::impersonate(&state.app, &actor, id, &client).await?,
    ))
}

/// This module's operations, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(approve_user))
        .routes(routes!(block_user))
        .routes(routes!(unblock_user))
        .routes(routes!(set_roles))
        .routes(routes!(list_company_roles, create_company_role))
        .routes(routes!(
            get_company_role,
            update_company_role,
            delete_company_role
        ))
        .routes(routes!(company, update_company))
        .routes(routes!(rotate_invite_code))
        .routes(routes!(create_api_token, list_api_tokens))
        .routes(routes!(revoke_api_token))
        .routes(routes!(list_companies, create_company))
        .routes(routes!(suspend_company))
        .routes(routes!(reactivate_company))
        .routes(routes!(impersonate))
}

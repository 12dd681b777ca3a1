//! Company administration pages (users, company roles, API tokens) and the platform
//! staff's companies page. Every decision is the `app` layer's, as for the API: these
//! handlers only translate forms into the same use cases and their outcomes into pages.

// A page helper fails with the response to send (a redirect, an error page); it is built
// once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::ids::{ApiTokenId, CompanyRoleId};
use domain::user::UserStatus;
use domain::{CompanyId, SystemRole, UserId};
use serde::Deserialize;

use crate::auth::Client;
use crate::pages::account::day;
use crate::pages::kit::context::{
    CsrfForm, Flash, PageCtx, PagePath, PagePost, PageResult, REFRESH_COOKIE, cookie, with_tokens,
};
use crate::pages::kit::filters;
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::pager::{PEOPLE, Pager, Place, address};
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

/// A checkbox of a role list.
pub struct RoleChoice {
    pub name: String,
    pub checked: bool,
}

/// The system roles an actor may hand out, ticked where `held` has them. `user` is always
/// held and therefore not offered.
fn system_role_choices(actor: &Actor, held: &[SystemRole]) -> Vec<RoleChoice> {
    SystemRole::ALL
        .into_iter()
        .filter(|r| *r != SystemRole::User && r.level() <= actor.level())
        .filter(|r| *r != SystemRole::Superadmin)
        .map(|r| RoleChoice {
            name: r.as_str().to_owned(),
            checked: held.contains(&r),
        })
        .collect()
}

/// Role names from a form. A name that is not a system role (only a hand-made post sends
/// one) refuses the form at `field`.
fn parse_system_roles(names: &[String], field: &str) -> Result<Vec<SystemRole>, Refusal> {
    names
        .iter()
        .map(|n| {
            n.parse::<SystemRole>()
                .map_err(|_| Refusal::invalid(field, &format!("`{n}` is not a system role")))
        })
        .collect()
}

/// The roles of a refused form, ticked again: those that are system roles.
fn typed_roles(names: &[String]) -> Vec<SystemRole> {
    names.iter().filter_map(|n| n.parse().ok()).collect()
}

// ---- Users

pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: &'static str,
    pub roles: String,
    pub joined: When,
    /// The admin looking at the list: nobody blocks themselves.
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    pager: Pager,
    status: String,
    role: String,
    q: String,
    joined_from: String,
    joined_to: String,
    statuses: [&'static str; 3],
    roles: Vec<&'static str>,
    grantable: Vec<RoleChoice>,
    invite_code: String,
    /// The add-user form as typed, shown again when it was refused (never the password).
    new_user: NewUserValues,
    /// Why it was refused, by input (`email`, `first_name`, `last_name`, `password`,
    /// `system_roles`), and what concerns no input.
    errors: FieldErrors,
}

/// What someone typed into the add-user form.
#[derive(Default)]
pub struct NewUserValues {
    email: String,
    first_name: String,
    last_name: String,
}

#[derive(Deserialize, Default)]
pub struct UserFilterQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    joined_from: String,
    #[serde(default)]
    joined_to: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    trail: String,
}

/// Rows of the users list.
const USERS_PAGE: u32 = 50;

pub async fn users(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(filter): Query<UserFilterQuery>,
) -> PageResult {
    let ctx = ctx.titled("Users");
    users_page(&state, &ctx, filter, AddUser::default()).await
}

/// The add-user form as typed and why it was refused, to show the users page again with it.
#[derive(Default)]
struct AddUser {
    values: NewUserValues,
    roles: Vec<SystemRole>,
    refusal: Option<Refusal>,
}

async fn users_page(
    state: &WebState,
    ctx: &PageCtx,
    filter: UserFilterQuery,
    add: AddUser,
) -> PageResult {
    let place = Place::new(&filter.cursor, &filter.trail);
    let query = app::identity::admin::UserFilter {
        status: filter.status.parse::<UserStatus>().ok(),
        role: filter.role.parse().ok(),
        q: Some(filter.q.trim().to_owned()).filter(|q| !q.is_empty()),
        joined_from: day(&filter.joined_from, false),
        joined_to: day(&filter.joined_to, true),
        after: place.cursor().and_then(|c| c.parse().ok()),
        limit: USERS_PAGE,
    };
    let total =
        ctx.load(app::identity::admin::count_users(&state.app, &ctx.actor, &query).await)?;
    let found = ctx.load(app::identity::admin::list_users(&state.app, &ctx.actor, query).await)?;
    let next = (found.len() == USERS_PAGE as usize)
        .then(|| found.last().map(|u| u.id.to_string()))
        .flatten();
    let pager = place.pager(
        found.len(),
        USERS_PAGE,
        total,
        PEOPLE,
        next.as_deref(),
        |cursor, trail| {
            address(
                "/admin/users",
                &[
                    ("status", &filter.status),
                    ("role", &filter.role),
                    ("q", &filter.q),
                    ("joined_from", &filter.joined_from),
                    ("joined_to", &filter.joined_to),
                    ("cursor", cursor),
                    ("trail", trail),
                ],
            )
        },
    );
    let company = ctx.load(app::identity::admin::company(&state.app, &ctx.actor).await)?;
    let users = found
        .into_iter()
        .map(|u| UserRow {
            is_self: u.id == ctx.actor.user_id,
            id: u.id.to_string(),
            name: format!("{} {}", u.first_name, u.last_name),
            email: u.email.to_string(),
            status: u.status.as_str(),
            roles: u
                .system_roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            joined: when(u.created_at),
        })
        .collect();
    let page = UsersPage {
        layout: ctx.layout.clone(),
        users,
        pager,
        status: filter.status,
        role: filter.role,
        q: filter.q,
        joined_from: filter.joined_from,
        joined_to: filter.joined_to,
        statuses: ["active", "pending", "blocked"],
        roles: SystemRole::ALL
            .into_iter()
            .filter(|r| *r != SystemRole::Superadmin)
            .map(SystemRole::as_str)
            .collect(),
        grantable: system_role_choices(&ctx.actor, &add.roles),
        invite_code: company.invite_code,
        new_user: add.values,
        errors: add
            .refusal
            .as_ref()
            .map(|r| r.errors.clone())
            .unwrap_or_default(),
    };
    let status = add.refusal.map_or(StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(status, &page))
}

#[derive(Deserialize)]
pub struct NewUserForm {
    email: String,
    password: String,
    first_name: String,
    last_name: String,
    #[serde(default)]
    system_roles: Vec<String>,
}

pub async fn create_user(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<NewUserForm>,
) -> PageResult {
    let values = NewUserValues {
        email: form.email.clone(),
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
    };
    let roles = typed_roles(&form.system_roles);
    let refusal = match parse_system_roles(&form.system_roles, "system_roles") {
        Err(refusal) => refusal,
        Ok(parsed) => {
            let input = app::identity::admin::NewUserInput {
                email: form.email,
                password: form.password,
                first_name: form.first_name,
                last_name: form.last_name,
                system_roles: parsed,
            };
            match app::identity::admin::create_user(&state.app, &ctx.actor, input).await {
                Ok(created) => {
                    return Ok(ctx.redirect(
                        "/admin/users",
                        Flash::ok(format!(
                            "{} was added and can log in now.",
                            created.user.email
                        )),
                    ));
                }
                // The person fixes what they typed: the form comes back as it was, each
                // complaint next to its field.
                Err(error) => match Refusal::of(
                    error,
                    &[
                        "email",
                        "first_name",
                        "last_name",
                        "password",
                        "system_roles",
                    ],
                ) {
                    Ok(refusal) => refusal,
                    Err(error) => return Ok(ctx.failed("/admin/users", error)),
                },
            }
        }
    };
    let add = AddUser {
        values,
        roles,
        refusal: Some(refusal),
    };
    let ctx = ctx.titled("Users");
    users_page(&state, &ctx, UserFilterQuery::default(), add).await
}

#[derive(Deserialize)]
pub struct StatusForm {
    action: String,
    /// `list` sends the admin back to the list, anything else to the user's page.
    #[serde(default)]
    from: String,
}

pub async fn change_status(
    State(state): State<WebState>,
    PagePath(id): PagePath<UserId>,
    PagePost { ctx, form }: PagePost<StatusForm>,
) -> PageResult {
    let back = if form.from == "list" {
        "/admin/users".to_owned()
    } else {
        format!("/admin/users/{id}")
    };
    let (change, done) = match form.action.as_str() {
        "approve" => (app::identity::admin::StatusChange::Approve, "approved"),
        "block" => (app::identity::admin::StatusChange::Block, "blocked"),
        "unblock" => (app::identity::admin::StatusChange::Unblock, "unblocked"),
        _ => return Ok(ctx.redirect(&back, Flash::error("action: unknown action"))),
    };
    let result = app::identity::admin::change_status(&state.app, &ctx.actor, id, change).await;
    Ok(ctx.outcome(&back, result, |v| format!("{} was {done}.", v.user.email)))
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    layout: Layout,
    id: String,
    email: String,
    first_name: String,
    last_name: String,
    status: &'static str,
    joined: When,
    last_login: Option<When>,
    is_self: bool,
    system_roles: Vec<RoleChoice>,
    company_roles: Vec<RoleChoice>,
    /// The name form: the stored names, or those typed into a refused form.
    names: (String, String),
    names_errors: FieldErrors,
    roles_errors: FieldErrors,
}

/// A refused form of a user's page, shown again as typed.
enum UserEdit {
    Names {
        first_name: String,
        last_name: String,
        refusal: Refusal,
    },
    Roles {
        system_roles: Vec<SystemRole>,
        company_roles: Vec<String>,
        refusal: Refusal,
    },
}

pub async fn user(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<UserId>,
) -> PageResult {
    user_page(&state, ctx, id, None).await
}

async fn user_page(
    state: &WebState,
    ctx: PageCtx,
    id: UserId,
    edit: Option<UserEdit>,
) -> PageResult {
    let ctx = ctx.titled("User");
    let view = ctx.load(app::identity::admin::get_user(&state.app, &ctx.actor, id).await)?;
    let all_roles =
        ctx.load(app::identity::admin::list_company_roles(&state.app, &ctx.actor).await)?;
    let user = view.user;
    let mut layout = ctx.layout.clone();
    layout.title = format!("{} {} — TicketFlower", user.first_name, user.last_name);
    layout.crumb("/admin/users", "Users");
    let mut page = UserPage {
        layout,
        id: user.id.to_string(),
        email: user.email.to_string(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        status: user.status.as_str(),
        joined: when(user.created_at),
        last_login: user.last_login_at.map(when),
        is_self: user.id == ctx.actor.user_id,
        system_roles: system_role_choices(&ctx.actor, &user.system_roles),
        company_roles: Vec::new(),
        names: (user.first_name.clone(), user.last_name.clone()),
        names_errors: FieldErrors::default(),
        roles_errors: FieldErrors::default(),
    };
    let mut held_company_roles = view.company_roles;
    let mut status = StatusCode::OK;
    match edit {
        None => {}
        Some(UserEdit::Names {
            first_name,
            last_name,
            refusal,
        }) => {
            page.names = (first_name, last_name);
            page.names_errors = refusal.errors;
            status = refusal.status;
        }
        Some(UserEdit::Roles {
            system_roles,
            company_roles,
            refusal,
        }) => {
            page.system_roles = system_role_choices(&ctx.actor, &system_roles);
            held_company_roles = company_roles;
            page.roles_errors = refusal.errors;
            status = refusal.status;
        }
    }
    page.company_roles = all_roles
        .into_iter()
        .map(|r| RoleChoice {
            checked: held_company_roles.contains(&r.name),
            name: r.name,
        })
        .collect();
    Ok(ctx.render_status(status, &page))
}

#[derive(Deserialize)]
pub struct UserNamesForm {
    first_name: String,
    last_name: String,
}

pub async fn rename_user(
    State(state): State<WebState>,
    PagePath(id): PagePath<UserId>,
    PagePost { ctx, form }: PagePost<UserNamesForm>,
) -> PageResult {
    let back = format!("/admin/users/{id}");
    let result = app::identity::admin::update_user_names(
        &state.app,
        &ctx.actor,
        id,
        Some(&form.first_name),
        Some(&form.last_name),
    )
    .await;
    let refusal = match result {
        Ok(_) => return Ok(ctx.redirect(&back, Flash::ok("The name was saved."))),
        Err(error) => match Refusal::of(error, &["first_name", "last_name"]) {
            Ok(refusal) => refusal,
            Err(error) => return Ok(ctx.failed(&back, error)),
        },
    };
    let edit = UserEdit::Names {
        first_name: form.first_name,
        last_name: form.last_name,
        refusal,
    };
    user_page(&state, ctx, id, Some(edit)).await
}

#[derive(Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    system_roles: Vec<String>,
    #[serde(default)]
    company_roles: Vec<String>,
}

pub async fn set_roles(
    State(state): State<WebState>,
    PagePath(id): PagePath<UserId>,
    PagePost { ctx, form }: PagePost<RolesForm>,
) -> PageResult {
    let back = format!("/admin/users/{id}");
    let refusal = match parse_system_roles(&form.system_roles, "system_roles") {
        Err(refusal) => refusal,
        Ok(roles) => {
            let result = app::identity::admin::set_roles(
                &state.app,
                &ctx.actor,
                id,
                roles,
                form.company_roles.clone(),
            )
            .await;
            match result {
                Ok(_) => return Ok(ctx.redirect(&back, Flash::ok("The roles were saved."))),
                Err(error) => match Refusal::of(error, &["system_roles", "company_roles"]) {
                    Ok(refusal) => refusal,
                    Err(error) => return Ok(ctx.failed(&back, error)),
                },
            }
        }
    };
    let edit = UserEdit::Roles {
        system_roles: typed_roles(&form.system_roles),
        company_roles: form.company_roles,
        refusal,
    };
    user_page(&state, ctx, id, Some(edit)).await
}

pub async fn delete_user(
    State(state): State<WebState>,
    PagePath(id): PagePath<UserId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let back = format!("/admin/users/{id}");
    Ok(
        match app::identity::admin::delete_user(&state.app, &ctx.actor, id).await {
            Ok(()) => ctx.redirect("/admin/users", Flash::ok("The user was deleted.")),
            Err(error) => ctx.failed(&back, error),
        },
    )
}

pub async fn rotate_invite_code(
    State(state): State<WebState>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::identity::admin::rotate_invite_code(&state.app, &ctx.actor).await;
    Ok(ctx.outcome("/admin/users", result, |_| {
        "A new invite code was made; the old one no longer works.".into()
    }))
}

// ---- Company roles

/// A company role's row: its save form holds the stored name and description, or those
/// typed into a refused save.
pub struct RoleRow {
    pub id: String,
    /// The stored name, which names the row and its delete button.
    pub stored_name: String,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    pub errors: FieldErrors,
}

/// What was typed into a role form.
#[derive(Default)]
pub struct RoleValues {
    name: String,
    description: String,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage {
    layout: Layout,
    roles: Vec<RoleRow>,
    /// The add-role form as typed, and why it was refused.
    new_role: RoleValues,
    errors: FieldErrors,
}

/// A refused role form: the add form (`None`) or a role's save form.
struct RoleEdit {
    role: Option<CompanyRoleId>,
    values: RoleValues,
    refusal: Refusal,
}

pub async fn company_roles(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    roles_page(&state, ctx, None).await
}

async fn roles_page(state: &WebState, ctx: PageCtx, edit: Option<RoleEdit>) -> PageResult {
    let ctx = ctx.titled("Company roles");
    let roles = ctx.load(app::identity::admin::list_company_roles(&state.app, &ctx.actor).await)?;
    let mut page = RolesPage {
        layout: ctx.layout.clone(),
        roles: roles
            .into_iter()
            .map(|r| RoleRow {
                id: r.id.to_string(),
                stored_name: r.name.clone(),
                name: r.name,
                description: r.description,
                is_default: r.is_default,
                errors: FieldErrors::default(),
            })
            .collect(),
        new_role: RoleValues::default(),
        errors: FieldErrors::default(),
    };
    let mut status = StatusCode::OK;
    if let Some(edit) = edit {
        status = edit.refusal.status;
        match edit.role.map(|id| id.to_string()) {
            None => {
                page.new_role = edit.values;
                page.errors = edit.refusal.errors;
            }
            Some(id) => {
                if let Some(row) = page.roles.iter_mut().find(|r| r.id == id) {
                    row.name = edit.values.name;
                    row.description = edit.values.description;
                    row.errors = edit.refusal.errors;
                }
            }
        }
    }
    Ok(ctx.render_status(status, &page))
}

#[derive(Deserialize)]
pub struct RoleForm {
    name: String,
    #[serde(default)]
    description: String,
}

const ROLES: &str = "/admin/company-roles";

pub async fn create_company_role(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<RoleForm>,
) -> PageResult {
    let result = app::identity::admin::create_company_role(
        &state.app,
        &ctx.actor,
        &form.name,
        &form.description,
    )
    .await;
    let refusal = match result {
        Ok(role) => {
            return Ok(ctx.redirect(
                ROLES,
                Flash::ok(format!("The role `{}` was added.", role.name)),
            ));
        }
        Err(error) => match Refusal::of(error, &["name", "description"]) {
            Ok(refusal) => refusal,
            Err(error) => return Ok(ctx.failed(ROLES, error)),
        },
    };
    let edit = RoleEdit {
        role: None,
        values: RoleValues {
            name: form.name,
            description: form.description,
        },
        refusal,
    };
    roles_page(&state, ctx, Some(edit)).await
}

pub async fn update_company_role(
    State(state): State<WebState>,
    PagePath(id): PagePath<CompanyRoleId>,
    PagePost { ctx, form }: PagePost<RoleForm>,
) -> PageResult {
    let result = app::identity::admin::update_company_role(
        &state.app,
        &ctx.actor,
        id,
        Some(&form.name),
        Some(&form.description),
    )
    .await;
    let refusal = match result {
        Ok(role) => {
            return Ok(ctx.redirect(
                ROLES,
                Flash::ok(format!("The role `{}` was saved.", role.name)),
            ));
        }
        Err(error) => match Refusal::of(error, &["name", "description"]) {
            Ok(refusal) => refusal,
            Err(error) => return Ok(ctx.failed(ROLES, error)),
        },
    };
    let edit = RoleEdit {
        role: Some(id),
        values: RoleValues {
            name: form.name,
            description: form.description,
        },
        refusal,
    };
    roles_page(&state, ctx, Some(edit)).await
}

pub async fn delete_company_role(
    State(state): State<WebState>,
    PagePath(id): PagePath<CompanyRoleId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::identity::admin::delete_company_role(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome(ROLES, result, |()| "The role was deleted.".into()))
}

// ---- API tokens

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created: When,
    pub expires: String,
    pub last_used: Option<When>,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    layout: Layout,
    tokens: Vec<TokenRow>,
    grantable: Vec<RoleChoice>,
    /// The secret of a token made just now: shown on this one response only.
    issued: Option<(String, String)>,
    /// The new-token form as typed, and why it was refused.
    new_token: TokenValues,
    errors: FieldErrors,
    pager: Pager,
}

/// What was typed into the new-token form.
#[derive(Default)]
pub struct TokenValues {
    name: String,
    expires_on: String,
}

/// What the tokens page shows besides the list: a secret just issued, or a refused form.
#[derive(Default)]
enum TokensShown {
    #[default]
    List,
    Issued(String, String),
    Refused {
        values: TokenValues,
        roles: Vec<SystemRole>,
        refusal: Refusal,
    },
}

const TOKENS: &str = "/admin/api-tokens";

/// A page of a short list (API tokens, companies): where it is in the list.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    trail: String,
}

/// Rows of the API tokens and the companies lists.
const SHORT_PAGE: u32 = 50;

/// The pager of a short list at `path`, `last` being the id of the page's last row.
fn short_pager(
    place: &Place,
    rows: usize,
    total: i64,
    noun: crate::pages::kit::pager::Noun,
    last: Option<String>,
    path: &str,
) -> Pager {
    let next = last.filter(|_| rows == SHORT_PAGE as usize);
    place.pager(
        rows,
        SHORT_PAGE,
        total,
        noun,
        next.as_deref(),
        |cursor, trail| address(path, &[("cursor", cursor), ("trail", trail)]),
    )
}

async fn tokens_page(
    state: &WebState,
    ctx: &PageCtx,
    place: Place,
    shown: TokensShown,
) -> PageResult {
    let now = Utc::now();
    let after = place.cursor().and_then(|c| c.parse().ok());
    let (found, total) = ctx.load(
        app::identity::admin::list_api_tokens(&state.app, &ctx.actor, after, SHORT_PAGE).await,
    )?;
    let last = found.last().map(|t| t.id.to_string());
    let pager = short_pager(
        &place,
        found.len(),
        total,
        crate::pages::kit::pager::TOKENS,
        last,
        TOKENS,
    );
    let tokens = found
        .into_iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            state: if t.revoked_at.is_some() {
                "revoked"
            } else if t.expires_at.is_some_and(|at| at <= now) {
                "expired"
            } else {
                "active"
            },
            name: t.name,
            created: when(t.created_at),
            // A day ahead, not a moment past: written as the date.
            expires: t
                .expires_at
                .map_or_else(|| "never".into(), |at| at.format("%Y-%m-%d").to_string()),
            last_used: t.last_used_at.map(when),
        })
        .collect();
    let mut page = TokensPage {
        layout: ctx.layout.clone(),
        tokens,
        grantable: system_role_choices(&ctx.actor, &[]),
        issued: None,
        new_token: TokenValues::default(),
        errors: FieldErrors::default(),
        pager,
    };
    let mut status = StatusCode::OK;
    match shown {
        TokensShown::List => {}
        TokensShown::Issued(name, secret) => page.issued = Some((name, secret)),
        TokensShown::Refused {
            values,
            roles,
            refusal,
        } => {
            page.new_token = values;
            page.grantable = system_role_choices(&ctx.actor, &roles);
            page.errors = refusal.errors;
            status = refusal.status;
        }
    }
    Ok(ctx.render_status(status, &page))
}

pub async fn api_tokens(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let ctx = ctx.titled("API tokens");
    tokens_page(
        &state,
        &ctx,
        Place::new(&query.cursor, &query.trail),
        TokensShown::List,
    )
    .await
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
    #[serde(default)]
    roles: Vec<String>,
    /// A date (`YYYY-MM-DD`); the token works until the end of that day (UTC).
    #[serde(default)]
    expires_on: String,
}

pub async fn create_api_token(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<TokenForm>,
) -> PageResult {
    let ctx = ctx.titled("API tokens");
    let expires: Result<Option<DateTime<Utc>>, Refusal> = match form.expires_on.trim() {
        "" => Ok(None),
        value => day(value, true)
            .map(Some)
            .ok_or_else(|| Refusal::invalid("expires_on", "must be a date (YYYY-MM-DD)")),
    };
    let refusal = match (parse_system_roles(&form.roles, "roles"), expires) {
        (Err(refusal), _) | (_, Err(refusal)) => refusal,
        (Ok(roles), Ok(expires)) => {
            match app::identity::admin::create_api_token(
                &state.app, &ctx.actor, &form.name, roles, expires,
            )
            .await
            {
                Ok(issued) => {
                    let shown = TokensShown::Issued(issued.token.name, issued.secret);
                    return tokens_page(&state, &ctx, Place::default(), shown).await;
                }
                Err(error) => match Refusal::renamed(
                    error,
                    &["name", "roles", "expires_on"],
                    &[("expires_at", "expires_on")],
                ) {
                    Ok(refusal) => refusal,
                    Err(error) => return Ok(ctx.failed(TOKENS, error)),
                },
            }
        }
    };
    let shown = TokensShown::Refused {
        values: TokenValues {
            name: form.name,
            expires_on: form.expires_on,
        },
        roles: typed_roles(&form.roles),
        refusal,
    };
    tokens_page(&state, &ctx, Place::default(), shown).await
}

pub async fn revoke_api_token(
    State(state): State<WebState>,
    PagePath(id): PagePath<ApiTokenId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::identity::admin::revoke_api_token(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome(TOKENS, result, |()| "The token was revoked.".into()))
}

// ---- Platform staff: companies

pub struct CompanyRow {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub created: When,
    pub suspended: bool,
}

#[derive(Template)]
#[template(path = "staff_companies.html")]
struct CompaniesPage {
    layout: Layout,
    companies: Vec<CompanyRow>,
    /// The new-company form as typed (never the password), and why it was refused.
    new_company: crate::pages::session::SignupValues,
    errors: FieldErrors,
    pager: Pager,
}

const COMPANIES: &str = "/staff/companies";

pub async fn companies(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<PageQuery>,
) -> PageResult {
    companies_page(&state, ctx, Place::new(&query.cursor, &query.trail), None).await
}

async fn companies_page(
    state: &WebState,
    ctx: PageCtx,
    place: Place,
    refused: Option<(crate::pages::session::SignupValues, Refusal)>,
) -> PageResult {
    let ctx = ctx.titled("Companies");
    let after = place
        .cursor()
        .and_then(|c| c.parse().ok())
        .map(domain::CompanyId);
    let (found, total) = ctx.load(
        app::identity::platform::list_companies(&state.app, &ctx.actor, after, SHORT_PAGE).await,
    )?;
    let last = found.last().map(|c| c.id.to_string());
    let pager = short_pager(
        &place,
        found.len(),
        total,
        crate::pages::kit::pager::COMPANIES,
        last,
        COMPANIES,
    );
    let companies = found
        .into_iter()
        .map(|c| CompanyRow {
            id: c.id.to_string(),
            suspended: c.status == domain::company::CompanyStatus::Suspended,
            status: c.status.as_str(),
            name: c.name,
            created: when(c.created_at),
        })
        .collect();
    let (new_company, refusal) = refused.unzip();
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(
        status,
        &CompaniesPage {
            layout: ctx.layout.clone(),
            companies,
            new_company: new_company.unwrap_or_default(),
            errors: refusal.map(|r| r.errors).unwrap_or_default(),
            pager,
        },
    ))
}

pub async fn create_company(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<crate::pages::session::SignupForm>,
) -> PageResult {
    let result =
        app::identity::platform::create_company(&state.app, &ctx.actor, form.input()).await;
    let refusal = match result {
        Ok(created) => {
            return Ok(ctx.redirect(
                COMPANIES,
                Flash::ok(format!(
                    "{} was created with its first admin.",
                    created.company.name
                )),
            ));
        }
        Err(error) => match Refusal::of(error, &crate::pages::session::SignupForm::INPUTS) {
            Ok(refusal) => refusal,
            Err(error) => return Ok(ctx.failed(COMPANIES, error)),
        },
    };
    companies_page(
        &state,
        ctx,
        Place::default(),
        Some((form.values(), refusal)),
    )
    .await
}

#[derive(Deserialize)]
pub struct SuspendForm {
    /// `suspend` or `reactivate`.
    action: String,
}

pub async fn set_suspended(
    State(state): State<WebState>,
    PagePath(id): PagePath<CompanyId>,
    PagePost { ctx, form }: PagePost<SuspendForm>,
) -> PageResult {
    let suspend = match form.action.as_str() {
        "suspend" => true,
        "reactivate" => false,
        _ => return Ok(ctx.redirect(COMPANIES, Flash::error("action: unknown action"))),
    };
    let result = app::identity::platform::set_suspended(&state.app, &ctx.actor, id, suspend).await;
    Ok(ctx.outcome(COMPANIES, result, |c| {
        format!("{} is now {}.", c.name, c.status.as_str())
    }))
}

/// Staff step into a company: the browser's session becomes the impersonation session
/// (the staff member's own session is ended, so only one is ever live in the browser).
pub async fn impersonate(
    State(state): State<WebState>,
    headers: HeaderMap,
    Client(client): Client,
    PagePath(id): PagePath<CompanyId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    Ok(
        match app::identity::platform::impersonate(&state.app, &ctx.actor, id, &client).await {
            Ok(pair) => {
                if let Some(refresh) = cookie(&headers, REFRESH_COOKIE)
                    && let Err(error) =
                        app::identity::auth::logout_refresh_token(&state.app, &refresh).await
                {
                    tracing::warn!(%error, "could not end the staff session before impersonating");
                }
                with_tokens(
                    Redirect::to("/dashboard").into_response(),
                    &pair,
                    state.app.settings().refresh_token_secs,
                )
            }
            Err(error) => ctx.failed(COMPANIES, error),
        },
    )
}

/// This module's pages.
pub fn router() -> axum::Router<crate::state::WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin/users", get(users).post(create_user))
        .route("/admin/users/{id}", get(user).post(rename_user))
        .route("/admin/users/{id}/status", post(change_status))
        .route("/admin/users/{id}/roles", post(set_roles))
        .route("/admin/users/{id}/delete", post(delete_user))
        .route("/admin/invite-code", post(rotate_invite_code))
        .route(
            "/admin/company-roles",
            get(company_roles).post(create_company_role),
        )
        .route("/admin/company-roles/{id}", post(update_company_role))
        .route(
            "/admin/company-roles/{id}/delete",
            post(delete_company_role),
        )
        .route("/admin/api-tokens", get(api_tokens).post(create_api_token))
        .route("/admin/api-tokens/{id}/revoke", post(revoke_api_token))
        .route("/staff/companies", get(companies).post(create_company))
        .route("/staff/companies/{id}/status", post(set_suspended))
        .route("/staff/companies/{id}/impersonate", post(impersonate))
}

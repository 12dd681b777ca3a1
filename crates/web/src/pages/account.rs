//! The pages a person uses on their own account: profile (names, password, login
//! history), forgotten-password reset, and joining a company with its invite code.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::auth::Client;
use crate::pages::kit::context::{
    Csrf, Flash, PageCtx, PagePost, PageResult, csrf_ok, csrf_rejected, csrf_token, page,
};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

/// A login-log line as the profile shows it.
pub struct LoginRow {
    pub at: When,
    pub ip: String,
    pub user_agent: String,
    pub platform: String,
    pub outcome: String,
    pub success: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    first_name: String,
    last_name: String,
    email: String,
    company: String,
    from: String,
    to: String,
    logins: Vec<LoginRow>,
}

#[derive(Deserialize)]
pub struct HistoryRange {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// A date field of a filter form; an unreadable date is ignored rather than refused,
/// since the form shows which range was applied.
pub fn day(value: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").ok()?;
    let time = if end_of_day {
        date.and_hms_opt(23, 59, 59)
    } else {
        date.and_hms_opt(0, 0, 0)
    }?;
    Some(time.and_utc())
}

pub async fn profile(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(range): Query<HistoryRange>,
) -> PageResult {
    let ctx = ctx.titled("Profile");
    let logins = ctx.load(
        app::identity::accounts::my_logins(
            &state.app,
            &ctx.actor,
            day(&range.from, false),
            day(&range.to, true),
        )
        .await,
    )?;
    let logins = logins
        .into_iter()
        .map(|l| LoginRow {
            at: when(l.created_at),
            ip: l.ip,
            user_agent: l.user_agent,
            platform: l.platform.unwrap_or_default(),
            outcome: if l.success {
                "signed in".into()
            } else {
                l.failure_reason.unwrap_or_else(|| "failed".into())
            },
            success: l.success,
        })
        .collect();
    let user = &ctx.profile.user;
    Ok(ctx.render(&ProfilePage {
        layout: ctx.layout.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        email: user.email.to_string(),
        company: ctx
            .profile
            .company
            .as_ref()
            .map_or_else(|| "Platform staff".into(), |c| c.name.clone()),
        from: range.from,
        to: range.to,
        logins,
    }))
}

#[derive(Deserialize)]
pub struct NamesForm {
    first_name: String,
    last_name: String,
}

pub async fn profile_names(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<NamesForm>,
) -> PageResult {
    let result = app::identity::accounts::update_me(
        &state.app,
        &ctx.actor,
        Some(&form.first_name),
        Some(&form.last_name),
    )
    .await;
    Ok(ctx.outcome("/profile", result, |_| "Your name was saved.".into()))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn profile_password(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<PasswordForm>,
) -> PageResult {
    let result = app::identity::accounts::change_password(
        &state.app,
        &ctx.actor,
        &form.current_password,
        &form.new_password,
    )
    .await;
    Ok(ctx.outcome("/profile", result, |()| {
        "Your password was changed; every other session was logged out.".into()
    }))
}

// ---- Forgotten password

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    layout: Layout,
    sent: bool,
}

fn anonymous_layout(state: &WebState, title: &str, headers: &HeaderMap) -> (Layout, Csrf) {
    let csrf = csrf_token(state, headers);
    let mut layout = Layout::new(format!("{title} — TicketFlower"));
    layout.csrf = csrf.field.clone();
    (layout, csrf)
}

pub async fn forgot_page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let (layout, csrf) = anonymous_layout(&state, "Forgot password", &headers);
    page(
        StatusCode::OK,
        &ForgotPage {
            layout,
            sent: false,
        },
        &csrf,
    )
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf_token: String,
    email: String,
}

pub async fn forgot_submit(
    State(state): State<WebState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<ForgotForm>,
) -> Response {
    if !csrf_ok(&state, &headers, &form.csrf_token) {
        return csrf_rejected("/forgot-password");
    }
    // The page says the same whatever happened, so it cannot reveal who has an account.
    if let Err(error) =
        app::identity::accounts::request_password_reset(&state.app, &form.email, &client).await
    {
        tracing::warn!(%error, "password reset request failed");
    }
    let (layout, csrf) = anonymous_layout(&state, "Forgot password", &headers);
    page(StatusCode::OK, &ForgotPage { layout, sent: true }, &csrf)
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage {
    layout: Layout,
    token: String,
    error: Option<String>,
    done: bool,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn reset_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Response {
    let (layout, csrf) = anonymous_layout(&state, "Choose a new password", &headers);
    page(
        StatusCode::OK,
        &ResetPage {
            layout,
            token: query.token,
            error: None,
            done: false,
        },
        &csrf,
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf_token: String,
    token: String,
    new_password: String,
}

pub async fn reset_submit(
    State(state): State<WebState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Response {
    if !csrf_ok(&state, &headers, &form.csrf_token) {
        return csrf_rejected("/reset-password");
    }
    let result = app::identity::accounts::confirm_password_reset(
        &state.app,
        &form.token,
        &form.new_password,
        &client,
    )
    .await;
    let (status, error) = match result {
        Ok(()) => (StatusCode::OK, None),
        Err(error) => match Flash::from_error(error) {
            Ok(flash) => (StatusCode::UNPROCESSABLE_ENTITY, Some(flash.text)),
            Err(response) => return response,
        },
    };
    let (layout, csrf) = anonymous_layout(&state, "Choose a new password", &headers);
    page(
        status,
        &ResetPage {
            layout,
            done: error.is_none(),
            token: form.token,
            error,
        },
        &csrf,
    )
}

// ---- Registration with an invite code

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    invite_code: String,
    email: String,
    first_name: String,
    last_name: String,
    error: Option<String>,
    done: bool,
}

#[derive(Deserialize)]
pub struct InviteQuery {
    #[serde(default)]
    code: String,
}

pub async fn register_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<InviteQuery>,
) -> Response {
    let (layout, csrf) = anonymous_layout(&state, "Join your company", &headers);
    page(
        StatusCode::OK,
        &RegisterPage {
            layout,
            invite_code: query.code,
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            error: None,
            done: false,
        },
        &csrf,
    )
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf_token: String,
    company_invite_code: String,
    email: String,
    password: String,
    first_name: String,
    last_name: String,
}

pub async fn register_submit(
    State(state): State<WebState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Response {
    if !csrf_ok(&state, &headers, &form.csrf_token) {
        return csrf_rejected("/register");
    }
    let result = app::identity::accounts::register(
        &state.app,
        &form.company_invite_code,
        &form.email,
        &form.password,
        &form.first_name,
        &form.last_name,
        &client,
    )
    .await;
    let (status, error) = match result {
        Ok(_) => (StatusCode::ACCEPTED, None),
        Err(error) => match Flash::from_error(error) {
            Ok(flash) => (StatusCode::UNPROCESSABLE_ENTITY, Some(flash.text)),
            Err(response) => return response,
        },
    };
    let (layout, csrf) = anonymous_layout(&state, "Join your company", &headers);
    page(
        status,
        &RegisterPage {
            layout,
            done: error.is_none(),
            invite_code: form.company_invite_code,
            email: form.email,
            first_name: form.first_name,
            last_name: form.last_name,
            error,
        },
        &csrf,
    )
}

/// This module's pages.
pub fn router() -> axum::Router<crate::state::WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/profile", get(profile).post(profile_names))
        .route("/profile/password", post(profile_password))
        .route("/forgot-password", get(forgot_page).post(forgot_submit))
        .route("/reset-password", get(reset_page).post(reset_submit))
        .route("/register", get(register_page).post(register_submit))
}

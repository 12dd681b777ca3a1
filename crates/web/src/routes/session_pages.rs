//! Sign-up, login, logout and the dashboard as server-rendered pages. The pages use the
//! same access and refresh tokens as the API, kept in `HttpOnly; Secure; SameSite=Lax`
//! cookies, and every form carries a CSRF token that must match the `tf_csrf` cookie
//! (double submit), so a form posted from another site is refused.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use serde::Deserialize;

use crate::auth::{ACCESS_COOKIE, Client};
use crate::routes::pages::{Layout, render};
use crate::state::WebState;

pub const REFRESH_COOKIE: &str = "tf_refresh";
pub const CSRF_COOKIE: &str = "tf_csrf";

/// Reads one cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: Option<u64>) {
    let age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
    let cookie = format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=Lax{age}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn clear_cookie(response: &mut Response, name: &str) {
    set_cookie(response, name, "", Some(0));
}

/// The CSRF token of this browser, minted if it has none yet.
fn csrf_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE).filter(|c| c.len() >= 32) {
        Some(token) => (token, false),
        None => (app::tokens::opaque(""), true),
    }
}

/// Renders a page, (re)issuing the CSRF cookie when the browser had none.
fn page(status: StatusCode, template: &impl Template, csrf: &(String, bool)) -> Response {
    let mut response = render(status, template);
    if csrf.1 {
        set_cookie(&mut response, CSRF_COOKIE, &csrf.0, None);
    }
    response
}

/// Constant-time comparison of the form's token with the cookie's.
fn csrf_ok(headers: &HeaderMap, submitted: &str) -> bool {
    let Some(expected) = cookie(headers, CSRF_COOKIE) else {
        return false;
    };
    expected.len() == submitted.len()
        && !expected.is_empty()
        && expected
            .bytes()
            .zip(submitted.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message {
    layout: Layout,
    heading: String,
    message: String,
    back: String,
}

fn csrf_rejected(back: &str) -> Response {
    render(
        StatusCode::FORBIDDEN,
        &Message {
            layout: Layout::new("Form rejected"),
            heading: "This form could not be accepted".into(),
            message: "The security token of the form is missing or does not match. Reload the page and try again.".into(),
            back: back.into(),
        },
    )
}

fn with_tokens(
    mut response: Response,
    tokens: &app::auth::TokenPair,
    refresh_max_age: u64,
) -> Response {
    set_cookie(
        &mut response,
        ACCESS_COOKIE,
        &tokens.access_token,
        Some(tokens.expires_in),
    );
    set_cookie(
        &mut response,
        REFRESH_COOKIE,
        &tokens.refresh_token,
        Some(refresh_max_age),
    );
    response
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    layout: Layout,
    company_name: String,
    first_name: String,
    last_name: String,
    email: String,
    errors: Vec<FieldError>,
}

impl SignupPage {
    fn err(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub async fn signup_page(headers: HeaderMap) -> Response {
    let csrf = csrf_token(&headers);
    let mut layout = Layout::new("Sign up — TicketFlower");
    layout.csrf = csrf.0.clone();
    page(
        StatusCode::OK,
        &SignupPage {
            layout,
            company_name: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            errors: Vec::new(),
        },
        &csrf,
    )
}

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf_token: String,
    company_name: String,
    admin_email: String,
    admin_password: String,
    admin_first_name: String,
    admin_last_name: String,
}

pub async fn signup_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    Client(client): Client,
    Form(form): Form<SignupForm>,
) -> Response {
    if !csrf_ok(&headers, &form.csrf_token) {
        return csrf_rejected("/signup");
    }
    let input = app::accounts::SignupInput {
        company_name: form.company_name.clone(),
        admin_email: form.admin_email.clone(),
        admin_password: form.admin_password,
        admin_first_name: form.admin_first_name.clone(),
        admin_last_name: form.admin_last_name.clone(),
    };
    let errors = match app::accounts::signup(&state.app, input, &client).await {
        Ok(outcome) => {
            let refresh_age = state.app.settings().refresh_token_secs;
            return with_tokens(
                Redirect::to("/dashboard").into_response(),
                &outcome.tokens,
                refresh_age,
            );
        }
        Err(app::AppError::Validation(errors)) => errors.0,
        Err(app::AppError::Conflict { field, message }) => vec![FieldError {
            field: field.unwrap_or_default(),
            message,
        }],
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let csrf = csrf_token(&headers);
    let mut layout = Layout::new("Sign up — TicketFlower");
    layout.csrf = csrf.0.clone();
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        &SignupPage {
            layout,
            company_name: form.company_name,
            first_name: form.admin_first_name,
            last_name: form.admin_last_name,
            email: form.admin_email,
            errors,
        },
        &csrf,
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

fn login_page_with(
    headers: &HeaderMap,
    status: StatusCode,
    email: String,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let csrf = csrf_token(headers);
    let mut layout = Layout::new("Log in — TicketFlower");
    layout.csrf = csrf.0.clone();
    page(
        status,
        &LoginPage {
            layout,
            email,
            error,
            notice,
        },
        &csrf,
    )
}

pub async fn login_page(headers: HeaderMap) -> Response {
    login_page_with(&headers, StatusCode::OK, String::new(), None, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    email: String,
    password: String,
}

pub async fn login_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    Client(client): Client,
    Form(form): Form<LoginForm>,
) -> Response {
    if !csrf_ok(&headers, &form.csrf_token) {
        return csrf_rejected("/login");
    }
    match app::auth::login(
        &state.app,
        &form.email,
        &form.password,
        Some("web"),
        &client,
    )
    .await
    {
        Ok((_, tokens)) => {
            let refresh_age = state.app.settings().refresh_token_secs;
            with_tokens(
                Redirect::to("/dashboard").into_response(),
                &tokens,
                refresh_age,
            )
        }
        Err(error) => {
            let (status, message) = match &error {
                app::AppError::Unauthorized(_) => (
                    StatusCode::UNAUTHORIZED,
                    "Email or password is incorrect.".to_owned(),
                ),
                app::AppError::Forbidden(why) => {
                    (StatusCode::FORBIDDEN, format!("You cannot log in: {why}."))
                }
                app::AppError::TooManyRequests { retry_after } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many failed attempts. Try again in {} seconds.",
                        retry_after.as_secs().max(1)
                    ),
                ),
                app::AppError::Validation(errors) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    errors.0.first().map_or("Check the form.".to_owned(), |e| {
                        format!("The {} {}.", e.field, e.message)
                    }),
                ),
                _ => return crate::problem::ApiError::from(error).into_response(),
            };
            login_page_with(&headers, status, form.email, Some(message), None)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn logout_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&headers, &form.csrf_token) {
        return csrf_rejected("/dashboard");
    }
    if let Some(refresh) = cookie(&headers, REFRESH_COOKIE)
        && let Err(error) = app::auth::logout_refresh_token(&state.app, &refresh).await
    {
        tracing::warn!(%error, "logout could not revoke the session");
    }
    let mut response = login_page_with(
        &headers,
        StatusCode::OK,
        String::new(),
        None,
        Some("You have been logged out.".into()),
    );
    clear_cookie(&mut response, ACCESS_COOKIE);
    clear_cookie(&mut response, REFRESH_COOKIE);
    response
}

/// The signed-in person of a page request, refreshing an expired access cookie with the
/// refresh cookie. `None` means: go to the login page.
pub async fn page_actor(
    state: &WebState,
    headers: &HeaderMap,
) -> Option<(domain::auth::Actor, Option<app::auth::TokenPair>)> {
    if let Some(access) = cookie(headers, ACCESS_COOKIE)
        && let Ok(actor) = app::auth::authenticate(&state.app, &access).await
    {
        return Some((actor, None));
    }
    let refresh = cookie(headers, REFRESH_COOKIE)?;
    let pair = app::auth::refresh(&state.app, &refresh).await.ok()?;
    let actor = app::auth::authenticate(&state.app, &pair.access_token)
        .await
        .ok()?;
    Some((actor, Some(pair)))
}

pub struct Link {
    pub href: &'static str,
    pub title: &'static str,
    pub description: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    first_name: String,
    email: String,
    company: Option<String>,
    roles: String,
    links: Vec<Link>,
}

fn links_for(actor: &domain::auth::Actor) -> Vec<Link> {
    use domain::SystemRole;
    let mut links = vec![Link {
        href: "/api/docs",
        title: "API reference",
        description: "Integrate with your desk.",
    }];
    if actor.has(SystemRole::Admin) {
        links.push(Link {
            href: "/api/docs#/users",
            title: "Users and roles",
            description: "Approve, block and assign roles.",
        });
    }
    if actor.is_staff() {
        links.push(Link {
            href: "/api/docs#/platform",
            title: "Companies",
            description: "Suspend, reactivate and impersonate.",
        });
    }
    links
}

pub async fn dashboard(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let Some((actor, refreshed)) = page_actor(&state, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    let profile = match app::accounts::me(&state.app, &actor).await {
        Ok(profile) => profile,
        Err(error) => return crate::problem::ApiError::from(error).into_response(),
    };
    let csrf = csrf_token(&headers);
    let mut layout = Layout::new("Dashboard — TicketFlower");
    layout.csrf = csrf.0.clone();
    layout.signed_in = Some(format!(
        "{} {}",
        profile.user.first_name, profile.user.last_name
    ));
    if actor.impersonator.is_some() {
        layout.impersonating = profile.company.as_ref().map(|c| c.name.clone());
    }
    let roles = actor
        .roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let response = page(
        StatusCode::OK,
        &Dashboard {
            layout,
            first_name: profile.user.first_name.clone(),
            email: profile.user.email.to_string(),
            company: profile.company.map(|c| c.name),
            roles,
            links: links_for(&actor),
        },
        &csrf,
    );
    match refreshed {
        Some(pair) => with_tokens(response, &pair, state.app.settings().refresh_token_secs),
        None => response,
    }
}

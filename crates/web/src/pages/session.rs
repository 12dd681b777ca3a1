//! Sign-up, login, logout and the dashboard as server-rendered pages. The pages use the
//! same access and refresh tokens as the API, kept in `HttpOnly; Secure; SameSite=Lax`
//! cookies, and every form carries a CSRF token that must match the `tf_csrf` cookie
//! (double submit), so a form posted from another site is refused.

use app::runtime::tasks::TaskQuery;
use app::runtime::tickets::{TicketQuery, TicketSort};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::SystemRole;
use domain::workflow::TaskStatus;

use serde::Deserialize;

use crate::auth::{ACCESS_COOKIE, Client};
use crate::pages::kit::context::{
    CsrfForm, Flash, PageCtx, PagePost, PageResult, REFRESH_COOKIE, clear_cookie, cookie, csrf_ok,
    csrf_rejected, csrf_token, page, with_tokens,
};
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::pages::tasks::{TaskRow, rows as task_rows};
use crate::pages::tickets::{TicketRow, rows as ticket_rows};
use crate::state::WebState;

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    layout: Layout,
    values: SignupValues,
    errors: FieldErrors,
}

pub async fn signup_page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let csrf = csrf_token(&state, &headers);
    let mut layout = Layout::new("Sign up — TicketFlower");
    layout.csrf = csrf.field.clone();
    page(
        StatusCode::OK,
        &SignupPage {
            layout,
            values: SignupValues::default(),
            errors: FieldErrors::default(),
        },
        &csrf,
    )
}

/// A company with its first admin, as the sign-up page and the staff's companies page post it.
#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    pub csrf_token: String,
    pub company_name: String,
    pub admin_email: String,
    pub admin_password: String,
    pub admin_first_name: String,
    pub admin_last_name: String,
}

/// What was typed into a company form, to show it again (never the password).
#[derive(Default)]
pub struct SignupValues {
    pub company_name: String,
    pub admin_email: String,
    pub admin_first_name: String,
    pub admin_last_name: String,
}

impl SignupForm {
    /// The form's inputs, named as the use case names its fields.
    pub const INPUTS: [&str; 5] = [
        "company_name",
        "admin_email",
        "admin_password",
        "admin_first_name",
        "admin_last_name",
    ];

    pub fn input(&self) -> app::identity::accounts::SignupInput {
        app::identity::accounts::SignupInput {
            company_name: self.company_name.clone(),
            admin_email: self.admin_email.clone(),
            admin_password: self.admin_password.clone(),
            admin_first_name: self.admin_first_name.clone(),
            admin_last_name: self.admin_last_name.clone(),
        }
    }

    pub fn values(self) -> SignupValues {
        SignupValues {
            company_name: self.company_name,
            admin_email: self.admin_email,
            admin_first_name: self.admin_first_name,
            admin_last_name: self.admin_last_name,
        }
    }
}

pub async fn signup_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    Client(client): Client,
    Form(form): Form<SignupForm>,
) -> Response {
    if !csrf_ok(&state, &headers, &form.csrf_token) {
        return csrf_rejected("/signup");
    }
    let refusal = match app::identity::accounts::signup(&state.app, form.input(), &client).await {
        Ok(outcome) => {
            let refresh_age = state.app.settings().refresh_token_secs;
            return with_tokens(
                Redirect::to("/dashboard").into_response(),
                &outcome.tokens,
                refresh_age,
            );
        }
        Err(error) => match Refusal::of(error, &SignupForm::INPUTS) {
            Ok(refusal) => refusal,
            Err(other) => match Flash::from_error(other) {
                Ok(said) => Refusal {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    errors: FieldErrors::single("", &said.text),
                },
                Err(response) => return response,
            },
        },
    };
    let csrf = csrf_token(&state, &headers);
    let mut layout = Layout::new("Sign up — TicketFlower");
    layout.csrf = csrf.field.clone();
    page(
        refusal.status,
        &SignupPage {
            layout,
            values: form.values(),
            errors: refusal.errors,
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
    /// Carried through the form to return to the page asked for.
    next: String,
}

fn login_page_with(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    email: String,
    error: Option<String>,
    notice: Option<String>,
    next: &str,
) -> Response {
    let csrf = csrf_token(state, headers);
    let mut layout = Layout::new("Log in — TicketFlower");
    layout.csrf = csrf.field.clone();
    page(
        status,
        &LoginPage {
            layout,
            email,
            error,
            notice,
            next: local_path(next).unwrap_or_default().to_owned(),
        },
        &csrf,
    )
}

/// Where to go after logging in: a page of this site asked for before (`/tickets/7?tab=x`),
/// never another site (`//evil.example`, `/\evil.example`, `https://...`).
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2000;
    local.then_some(next)
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

pub async fn login_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    login_page_with(
        &state,
        &headers,
        StatusCode::OK,
        String::new(),
        None,
        None,
        &query.next,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    email: String,
    password: String,
    /// The page asked for before logging in.
    #[serde(default)]
    next: String,
}

pub async fn login_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    Client(client): Client,
    Form(form): Form<LoginForm>,
) -> Response {
    if !csrf_ok(&state, &headers, &form.csrf_token) {
        return csrf_rejected("/login");
    }
    match app::identity::auth::login(
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
            let to = local_path(&form.next).unwrap_or("/dashboard");
            with_tokens(Redirect::to(to).into_response(), &tokens, refresh_age)
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
            login_page_with(
                &state,
                &headers,
                status,
                form.email,
                Some(message),
                None,
                &form.next,
            )
        }
    }
}

/// The form is on a signed-in page, so its token is bound to the session: `PagePost`
/// checks it before anything is revoked.
pub async fn logout_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    _: PagePost<CsrfForm>,
) -> Response {
    if let Some(refresh) = cookie(&headers, REFRESH_COOKIE)
        && let Err(error) = app::identity::auth::logout_refresh_token(&state.app, &refresh).await
    {
        tracing::warn!(%error, "logout could not revoke the session");
    }
    let mut response = login_page_with(
        &state,
        &headers,
        StatusCode::OK,
        String::new(),
        None,
        Some("You have been logged out.".into()),
        "",
    );
    clear_cookie(&mut response, ACCESS_COOKIE);
    clear_cookie(&mut response, REFRESH_COOKIE);
    response
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    first_name: String,
    email: String,
    company: Option<String>,
    /// Tasks the person holds, oldest first: what waits on them.
    mine: Vec<TaskRow>,
    /// How many they hold in all (the list shows the first few).
    mine_total: i64,
    /// Tasks they may claim; `None` for someone who works no tasks.
    queue: Option<Vec<TaskRow>>,
    /// Their own tickets still running.
    tickets: Vec<TicketRow>,
    /// The team's and the admin's counts, with where to act on them.
    team: Vec<Tally>,
    /// Areas beyond the daily work (design, admin, platform), as plain links.
    elsewhere: Vec<(&'static str, &'static str)>,
}

/// A count on the dashboard with the page to act on it.
pub struct Tally {
    pub count: i64,
    pub text: &'static str,
    pub href: &'static str,
}

/// How many rows each of the dashboard's lists shows.
const DASHBOARD_ROWS: u32 = 5;

/// What waits on this person: their tasks, the tasks they could pick up, their running
/// tickets and, for the team and admins, what needs attention.
pub async fn dashboard(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    let ctx = ctx.titled("Home");
    let actor = &ctx.actor;
    let counts = ctx.load(app::desk::counts(&state.app, actor).await)?;
    let in_company = actor.company_id.is_some();
    let tasks = |query: TaskQuery| app::runtime::tasks::list(&state.app, actor, query);
    let mut mine = Vec::new();
    let mut queue = None;
    let mut tickets = Vec::new();
    let mut live = Vec::new();
    if in_company {
        let (held, _) = ctx.load(
            tasks(TaskQuery {
                mine: true,
                statuses: TaskStatus::QUEUED.to_vec(),
                limit: DASHBOARD_ROWS,
                ..Default::default()
            })
            .await,
        )?;
        mine = task_rows(&state, &ctx, held).await?;
        if actor.has(SystemRole::TaskWorker) {
            let (claimable, _) = ctx.load(
                tasks(TaskQuery {
                    queue: true,
                    limit: DASHBOARD_ROWS,
                    ..Default::default()
                })
                .await,
            )?;
            queue = Some(task_rows(&state, &ctx, claimable).await?);
        }
        let (running, _) = ctx.load(
            app::runtime::tickets::list(
                &state.app,
                actor,
                TicketQuery {
                    mine: true,
                    active: Some(true),
                    sort: TicketSort::Updated,
                    limit: DASHBOARD_ROWS,
                    ..Default::default()
                },
            )
            .await,
        )?;
        for ticket in &running {
            live.push(domain::event::Stream::Ticket(ticket.id).to_string());
        }
        tickets = ticket_rows(&state, &ctx, running).await?;
    }
    let mut team = Vec::new();
    if let Some(n) = counts.open_errors.filter(|n| *n > 0) {
        team.push(Tally {
            count: n,
            text: if n == 1 {
                "workflow error waits for review"
            } else {
                "workflow errors wait for review"
            },
            href: "/workflow-errors",
        });
    }
    if let Some(n) = counts.pending_users.filter(|n| *n > 0) {
        team.push(Tally {
            count: n,
            text: if n == 1 {
                "person waits for your approval"
            } else {
                "people wait for your approval"
            },
            href: "/admin/users?status=pending",
        });
    }
    let elsewhere = ctx
        .layout
        .nav
        .iter()
        .filter(|g| g.title != "Work" && g.title != "Team")
        .flat_map(|g| g.links.iter().map(|l| (l.href, l.title)))
        .collect();
    let user = &ctx.profile.user;
    Ok(ctx.render(&Dashboard {
        layout: {
            let mut layout = ctx.layout.clone();
            // The team's work arrives on the company feed; one's own tickets on theirs.
            layout.live = ctx.team_feed().map_or(live, |feed| vec![feed]);
            layout
        },
        first_name: user.first_name.clone(),
        email: user.email.to_string(),
        company: ctx.profile.company.as_ref().map(|c| c.name.clone()),
        mine,
        mine_total: counts.my_tasks.unwrap_or(0),
        queue,
        tickets,
        team,
        elsewhere,
    }))
}

/// This module's pages.
pub fn router() -> axum::Router<crate::state::WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(super::kit::layout::landing))
        .route("/signup", get(signup_page).post(signup_submit))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout_submit))
        .route("/dashboard", get(dashboard))
}

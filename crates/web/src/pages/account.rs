//! The pages a person uses on their own account: profile (names, password, browser
//! notifications, login history), forgotten-password reset, and joining a company with its
//! invite code.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use app::mobile_push::DeviceView;
use domain::DeviceId;
use domain::device::Platform;

use crate::auth::Client;
use crate::pages::kit::context::{
    Csrf, CsrfForm, Flash, PageCtx, PagePath, PagePost, PageResult, csrf_ok, csrf_rejected,
    csrf_token, page,
};
use crate::pages::kit::form::{FieldErrors, Refusal};
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
    email: String,
    company: String,
    from: String,
    to: String,
    logins: Vec<LoginRow>,
    /// The name form as typed when it was refused (the stored names otherwise).
    names: (String, String),
    names_errors: FieldErrors,
    /// Why a password change was refused (the passwords are never sent back).
    password_errors: FieldErrors,
    /// The person's phones for mobile push; `None` for platform staff, who have none.
    devices: Option<DevicesSection>,
    push: PushSection,
}

/// The profile's "Mobile devices" section (`profile_devices.html`).
struct DevicesSection {
    rows: Vec<DeviceRow>,
}

/// A registered device as the profile shows it.
struct DeviceRow {
    id: String,
    name: String,
    platform: &'static str,
    registered: When,
    last_success: Option<When>,
    last_error: Option<String>,
    last_error_at: Option<When>,
}

/// The profile's "Browser notifications": the VAPID key (`None`: Web Push is off) and the
/// browsers subscribed.
struct PushSection {
    /// Platform staff outside a company, who are never notified.
    staff: bool,
    key: Option<String>,
    browsers: Vec<PushBrowser>,
}

/// One subscribed browser as the profile lists it.
struct PushBrowser {
    id: String,
    name: String,
    endpoint: String,
    created: When,
    last_success: Option<When>,
    last_error: Option<String>,
    last_error_at: Option<When>,
}

impl From<DeviceView> for DeviceRow {
    fn from(device: DeviceView) -> Self {
        Self {
            id: device.id.to_string(),
            name: device.name.unwrap_or_else(|| "Unnamed device".into()),
            platform: match device.platform {
                Platform::Android => "Android",
                Platform::Ios => "iOS",
                Platform::Web => "Web",
            },
            registered: when(device.created_at),
            last_success: device.last_success_at.map(when),
            last_error: device.last_error,
            last_error_at: device.last_error_at.map(when),
        }
    }
}

impl From<app::web_push::PushSubscriptionView> for PushBrowser {
    fn from(s: app::web_push::PushSubscriptionView) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name.unwrap_or_else(|| "A browser".into()),
            endpoint: s.endpoint,
            created: when(s.created_at),
            last_success: s.last_success_at.map(when),
            last_error: s.last_error,
            last_error_at: s.last_error_at.map(when),
        }
    }
}

/// The devices section, for a person of a company.
async fn devices_section(
    state: &WebState,
    ctx: &PageCtx,
) -> Result<Option<DevicesSection>, Response> {
    if ctx.actor.company_id.is_none() {
        return Ok(None);
    }
    let devices = ctx.load(app::mobile_push::list(&state.app, &ctx.actor).await)?;
    Ok(Some(DevicesSection {
        rows: devices.into_iter().map(DeviceRow::from).collect(),
    }))
}

/// The section's data; platform staff, who receive no notifications, see it empty.
async fn push_section(state: &WebState, ctx: &PageCtx) -> Result<PushSection, Response> {
    if ctx.actor.company_id.is_none() {
        return Ok(PushSection {
            staff: true,
            key: None,
            browsers: Vec::new(),
        });
    }
    let browsers = ctx.load(app::web_push::list(&state.app, &ctx.actor).await)?;
    Ok(PushSection {
        staff: false,
        key: app::web_push::public_key(&state.app).map(|key| key.public_key),
        browsers: browsers.into_iter().map(PushBrowser::from).collect(),
    })
}

/// A refused form of the profile page.
enum ProfileEdit {
    Names {
        first_name: String,
        last_name: String,
        refusal: Refusal,
    },
    Password(Refusal),
}

#[derive(Deserialize, Default)]
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
    profile_page(&state, ctx, range, None).await
}

async fn profile_page(
    state: &WebState,
    ctx: PageCtx,
    range: HistoryRange,
    edit: Option<ProfileEdit>,
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
    let devices = devices_section(state, &ctx).await?;
    let push = push_section(state, &ctx).await?;
    let user = &ctx.profile.user;
    let mut page = ProfilePage {
        layout: ctx.layout.clone(),
        email: user.email.to_string(),
        company: ctx
            .profile
            .company
            .as_ref()
            .map_or_else(|| "Platform staff".into(), |c| c.name.clone()),
        from: range.from,
        to: range.to,
        logins,
        names: (user.first_name.clone(), user.last_name.clone()),
        names_errors: FieldErrors::default(),
        password_errors: FieldErrors::default(),
        devices,
        push,
    };
    let status = match edit {
        None => StatusCode::OK,
        Some(ProfileEdit::Names {
            first_name,
            last_name,
            refusal,
        }) => {
            page.names = (first_name, last_name);
            page.names_errors = refusal.errors;
            refusal.status
        }
        Some(ProfileEdit::Password(refusal)) => {
            page.password_errors = refusal.errors;
            refusal.status
        }
    };
    Ok(ctx.render_status(status, &page))
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
    let refusal = match result {
        Ok(_) => return Ok(ctx.redirect("/profile", Flash::ok("Your name was saved."))),
        Err(error) => match Refusal::of(error, &["first_name", "last_name"]) {
            Ok(refusal) => refusal,
            Err(error) => return Ok(ctx.failed("/profile", error)),
        },
    };
    let edit = ProfileEdit::Names {
        first_name: form.first_name,
        last_name: form.last_name,
        refusal,
    };
    profile_page(&state, ctx, HistoryRange::default(), Some(edit)).await
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
    let refusal = match result {
        Ok(()) => {
            return Ok(ctx.redirect(
                "/profile",
                Flash::ok("Your password was changed; every other session was logged out."),
            ));
        }
        Err(error) => match Refusal::of(error, &["current_password", "new_password"]) {
            Ok(refusal) => refusal,
            Err(error) => return Ok(ctx.failed("/profile", error)),
        },
    };
    profile_page(
        &state,
        ctx,
        HistoryRange::default(),
        Some(ProfileEdit::Password(refusal)),
    )
    .await
}

/// Removes one of the person's devices from the profile's "Mobile devices" section.
pub async fn profile_device_remove(
    State(state): State<WebState>,
    PagePath(id): PagePath<DeviceId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::mobile_push::delete(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome("/profile", result, |()| {
        "The device was removed; it gets no more push notifications.".into()
    }))
}

// ---- Browser notifications

/// What `static/push.js` posts once the browser subscribed.
#[derive(Deserialize)]
pub struct PushSubscribeForm {
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    p256dh: String,
    #[serde(default)]
    auth: String,
    #[serde(default)]
    name: String,
}

pub async fn push_subscribe(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<PushSubscribeForm>,
) -> PageResult {
    let input = app::web_push::SubscribeInput {
        endpoint: form.endpoint,
        p256dh: form.p256dh,
        auth: form.auth,
        name: Some(form.name),
    };
    let result = app::web_push::subscribe(&state.app, &ctx.actor, input).await;
    Ok(ctx.outcome("/profile", result, |_| {
        "Notifications are on in this browser.".into()
    }))
}

pub async fn push_test(
    State(state): State<WebState>,
    PagePath(id): PagePath<domain::PushSubscriptionId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::web_push::send_test(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome("/profile", result, |()| {
        "A test notification is on its way; reload to see how it went.".into()
    }))
}

pub async fn push_remove(
    State(state): State<WebState>,
    PagePath(id): PagePath<domain::PushSubscriptionId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::web_push::delete(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome("/profile", result, |()| {
        "That browser no longer receives your notifications.".into()
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
    errors: FieldErrors,
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
            errors: FieldErrors::default(),
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
    let (status, errors) = match result {
        Ok(()) => (StatusCode::OK, FieldErrors::default()),
        Err(error) => match Refusal::of(error, &["token", "new_password"]) {
            Ok(refusal) => (refusal.status, refusal.errors),
            Err(other) => match Flash::from_error(other) {
                Ok(said) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    FieldErrors::single("", &said.text),
                ),
                Err(response) => return response,
            },
        },
    };
    let (layout, csrf) = anonymous_layout(&state, "Choose a new password", &headers);
    page(
        status,
        &ResetPage {
            layout,
            done: errors.is_empty(),
            token: form.token,
            errors,
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
    errors: FieldErrors,
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
            errors: FieldErrors::default(),
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
    let (status, errors) = match result {
        Ok(_) => (StatusCode::ACCEPTED, FieldErrors::default()),
        Err(error) => match Refusal::of(
            error,
            &[
                "company_invite_code",
                "email",
                "password",
                "first_name",
                "last_name",
            ],
        ) {
            Ok(refusal) => (refusal.status, refusal.errors),
            Err(other) => match Flash::from_error(other) {
                Ok(said) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    FieldErrors::single("", &said.text),
                ),
                Err(response) => return response,
            },
        },
    };
    let (layout, csrf) = anonymous_layout(&state, "Join your company", &headers);
    page(
        status,
        &RegisterPage {
            layout,
            done: errors.is_empty(),
            invite_code: form.company_invite_code,
            email: form.email,
            first_name: form.first_name,
            last_name: form.last_name,
            errors,
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
        .route("/profile/devices/{id}/remove", post(profile_device_remove))
        .route("/profile/push-subscriptions", post(push_subscribe))
        .route("/profile/push-subscriptions/{id}/test", post(push_test))
        .route("/profile/push-subscriptions/{id}/delete", post(push_remove))
        .route("/forgot-password", get(forgot_page).post(forgot_submit))
        .route("/reset-password", get(reset_page).post(reset_submit))
        .route("/register", get(register_page).post(register_submit))
}

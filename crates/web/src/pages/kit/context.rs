//! What every signed-in page shares: the cookies that carry the API's tokens, the
//! double-submit CSRF token, the header (who is signed in, links by role, the impersonated
//! company) and one-shot flash messages that survive the redirect after a form post.

// A page helper fails with the response to send (a redirect, an error page); it is built
// once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::Actor;

use crate::auth::ACCESS_COOKIE;
use crate::pages::kit::layout::{Bell, BellItem, Layout, render};
pub use crate::pages::kit::layout::{Flash, Message, nav_for};
use crate::state::WebState;

/// Answers an `Err` of a page helper (a redirect to login, a rejected form) as is.
/// What a page handler answers: the page, or the response that ended it early (the login
/// page, an error page, a refused form), so handlers read top to bottom with `?`.
pub type PageResult = Result<Response, Response>;

pub const REFRESH_COOKIE: &str = "tf_refresh";
pub const CSRF_COOKIE: &str = "tf_csrf";
const FLASH_COOKIE: &str = "tf_flash";

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

pub fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: Option<u64>) {
    let age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
    let cookie = format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=Lax{age}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

pub fn clear_cookie(response: &mut Response, name: &str) {
    set_cookie(response, name, "", Some(0));
}

/// This browser's CSRF cookie (a random nonce), whether it was minted just now, and the
/// token its forms carry (see [`app::identity::tokens::csrf_token`]).
pub struct Csrf {
    pub nonce: String,
    pub minted: bool,
    pub field: String,
}

/// The CSRF state of a signed-out page; signed-in pages bind the token to their session.
pub fn csrf_token(state: &WebState, headers: &HeaderMap) -> Csrf {
    let (nonce, minted) = match cookie(headers, CSRF_COOKIE).filter(|c| c.len() >= 32) {
        Some(nonce) => (nonce, false),
        None => (app::identity::tokens::opaque(""), true),
    };
    let field = app::identity::tokens::csrf_token(state.app.secrets(), &nonce, None);
    Csrf {
        nonce,
        minted,
        field,
    }
}

/// Renders a page, (re)issuing the CSRF cookie when the browser had none.
pub fn page(status: StatusCode, template: &impl Template, csrf: &Csrf) -> Response {
    let mut response = render(status, template);
    if csrf.minted {
        set_cookie(&mut response, CSRF_COOKIE, &csrf.nonce, None);
    }
    response
}

/// Whether a signed-out form's token belongs to this browser's CSRF cookie.
pub fn csrf_ok(state: &WebState, headers: &HeaderMap, submitted: &str) -> bool {
    csrf_ok_for(state, headers, None, submitted)
}

fn csrf_ok_for(
    state: &WebState,
    headers: &HeaderMap,
    session: Option<domain::SessionId>,
    submitted: &str,
) -> bool {
    cookie(headers, CSRF_COOKIE).is_some_and(|nonce| {
        app::identity::tokens::csrf_matches(state.app.secrets(), &nonce, session, submitted)
    })
}

pub fn csrf_rejected(back: &str) -> Response {
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

pub fn with_tokens(
    mut response: Response,
    tokens: &app::identity::auth::TokenPair,
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

/// The signed-in person of a page request, refreshing an expired access cookie with the
/// refresh cookie. `Ok(None)` means: nobody is signed in, go to the login page. A failure to
/// check (the database unavailable) is an error, not a logout, as in the API.
pub async fn page_actor(
    state: &WebState,
    headers: &HeaderMap,
) -> app::Result<Option<(Actor, Option<app::identity::auth::TokenPair>)>> {
    let signed_out = |error: &app::AppError| {
        matches!(
            error,
            app::AppError::Unauthorized(_) | app::AppError::Forbidden(_)
        )
    };
    if let Some(access) = cookie(headers, ACCESS_COOKIE) {
        match app::identity::auth::authenticate(&state.app, &access).await {
            Ok(actor) => {
                crate::auth::record_actor(&actor);
                return Ok(Some((actor, None)));
            }
            Err(error) if signed_out(&error) => {}
            Err(error) => return Err(error),
        }
    }
    let Some(refresh) = cookie(headers, REFRESH_COOKIE) else {
        return Ok(None);
    };
    let pair = match app::identity::auth::refresh(&state.app, &refresh).await {
        Ok(pair) => pair,
        Err(error) if signed_out(&error) || matches!(error, app::AppError::Validation(_)) => {
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    let actor = app::identity::auth::authenticate(&state.app, &pair.access_token).await?;
    crate::auth::record_actor(&actor);
    Ok(Some((actor, Some(pair))))
}

impl Flash {
    /// Turns a use-case error into a message for the person who filled the form; errors
    /// that are not theirs to fix become the usual problem response.
    pub fn from_error(error: app::AppError) -> Result<Self, Response> {
        use app::AppError;
        let text = match error {
            AppError::Validation(errors) => errors
                .0
                .iter()
                .map(|e| format!("{}: {}", e.field.replace('_', " "), e.message))
                .collect::<Vec<_>>()
                .join("; "),
            AppError::Conflict { field, message } => match field {
                Some(field) => format!("{}: {message}", field.replace('_', " ")),
                None => message,
            },
            AppError::Forbidden(why) => format!("Not allowed: {why}."),
            AppError::TooLarge { field, message } => {
                format!("{}: {message}", field.replace('_', " "))
            }
            AppError::TooManyRequests { retry_after } => format!(
                "You are sending faster than this company allows: try again in {} seconds.",
                retry_after.as_secs().max(1)
            ),
            AppError::NotFound => "That no longer exists.".into(),
            other => return Err(error_page(other)),
        };
        Ok(Self::error(text))
    }
}

/// An error no form can fix, as an HTML page. The status and the response extensions
/// (the internal cause the logging middleware reports) are those of the API's problem.
pub fn error_page(error: app::AppError) -> Response {
    error_page_in(None, error)
}

/// The error page inside the signed-in person's layout (their header and navigation), when
/// one is known.
pub fn error_page_in(layout: Option<&Layout>, error: app::AppError) -> Response {
    let (mut parts, _) = crate::problem::ApiError::from(error)
        .into_response()
        .into_parts();
    let heading = parts
        .status
        .canonical_reason()
        .unwrap_or("Something went wrong");
    let message = if parts.status.is_server_error() {
        "The server could not finish this request. Try again in a moment."
    } else {
        "This page cannot be shown to you."
    };
    let (html_parts, body) = render(
        parts.status,
        &Message {
            layout: match layout {
                Some(layout) => Layout {
                    title: format!("{heading} — TicketFlower"),
                    flash: None,
                    ..layout.clone()
                },
                None => Layout::new(heading),
            },
            heading: heading.into(),
            message: message.into(),
            back: "/dashboard".into(),
        },
    )
    .into_parts();
    parts.headers = html_parts.headers;
    Response::from_parts(parts, body)
}

/// The tickets the header's search box looks in: all of them for ticket admins, one's own
/// for everyone else (a number jumps to its ticket either way).
fn search_for(actor: &Actor) -> Option<&'static str> {
    actor.company_id?;
    Some(if app::access::is_ticket_admin(actor) {
        "/tickets/all"
    } else {
        "/tickets"
    })
}

/// A signed-in page request: who is asking, the layout to render them and what has to be
/// sent back with any response (renewed tokens, a fresh CSRF cookie, a consumed flash).
pub struct PageCtx {
    pub actor: Actor,
    pub profile: app::identity::accounts::Profile,
    pub layout: Layout,
    csrf_minted: bool,
    csrf_nonce: String,
    refreshed: Option<app::identity::auth::TokenPair>,
    flash_seen: bool,
    refresh_max_age: u64,
}

impl PageCtx {
    /// The company feed, for the ticket team, whose lists change with any ticket's work:
    /// ticket admins read its ticket and workflow events, task workers its task events.
    pub fn team_feed(&self) -> Option<String> {
        let company = self.actor.company_id?;
        app::access::is_team(&self.actor)
            .then(|| domain::event::Stream::Company(company).to_string())
    }

    /// Opens a page: nobody signed in goes to the login page, which brings them back to
    /// `back_to` (the page they asked for; a GET's own address).
    pub async fn open(
        state: &WebState,
        headers: &HeaderMap,
        title: &str,
        back_to: Option<&str>,
        path: Option<&str>,
    ) -> Result<Self, Response> {
        let Some((actor, refreshed)) = page_actor(state, headers).await.map_err(error_page)? else {
            let login = match back_to {
                Some(path) => format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
                ),
                None => "/login".to_owned(),
            };
            return Err(Redirect::to(&login).into_response());
        };
        let profile = app::identity::accounts::me(&state.app, &actor)
            .await
            .map_err(error_page)?;
        let csrf = csrf_token(state, headers);
        let mut layout = Layout::new(format!("{title} — TicketFlower"));
        layout.csrf =
            app::identity::tokens::csrf_token(state.app.secrets(), &csrf.nonce, actor.session_id);
        layout.signed_in = Some(format!(
            "{} {}",
            profile.user.first_name, profile.user.last_name
        ));
        if actor.impersonator.is_some() {
            layout.impersonating = profile.company.as_ref().map(|c| c.name.clone());
        }
        let counts = app::desk::counts(&state.app, &actor)
            .await
            .map_err(error_page)?;
        layout.nav = nav_for(&actor, &counts, path);
        layout.search = search_for(&actor);
        if actor.company_id.is_some() {
            let latest = app::notifications::list(&state.app, &actor, false, None, 6)
                .await
                .map_err(error_page)?;
            layout.bell = Some(Bell {
                unread: latest.unread,
                recent: latest
                    .items
                    .into_iter()
                    .map(|n| BellItem {
                        id: n.id.to_string(),
                        title: n.title,
                        unread: n.read_at.is_none(),
                        at: crate::pages::kit::when::when(n.created_at),
                    })
                    .collect(),
            });
            // Every page keeps the bell live through the person's own stream.
            layout.live(domain::event::Stream::User(actor.user_id).to_string());
        }
        let flash = cookie(headers, FLASH_COOKIE);
        layout.flash = flash.as_deref().and_then(Flash::decode);
        Ok(Self {
            actor,
            profile,
            layout,
            csrf_minted: csrf.minted,
            csrf_nonce: csrf.nonce,
            refreshed,
            flash_seen: flash.is_some(),
            refresh_max_age: state.app.settings().refresh_token_secs,
        })
    }

    /// Adds what this request owes the browser to a response.
    fn finish(&self, mut response: Response) -> Response {
        if self.csrf_minted {
            set_cookie(&mut response, CSRF_COOKIE, &self.csrf_nonce, None);
        }
        if self.flash_seen {
            clear_cookie(&mut response, FLASH_COOKIE);
        }
        match &self.refreshed {
            Some(pair) => with_tokens(response, pair, self.refresh_max_age),
            None => response,
        }
    }

    pub fn render(&self, template: &impl Template) -> Response {
        self.finish(render(StatusCode::OK, template))
    }

    /// Renders with another status: a form shown again with its errors is a 422.
    pub fn render_status(&self, status: StatusCode, template: &impl Template) -> Response {
        self.finish(render(status, template))
    }

    /// Sends a response that is not a page (a download) with what the request owes.
    pub fn send(&self, response: Response) -> Response {
        self.finish(response)
    }

    /// Post/redirect/get with a message for the next page.
    pub fn redirect(&self, to: &str, flash: Flash) -> Response {
        // Set after `finish`, which may clear a consumed flash: the later cookie wins.
        let mut response = self.finish(Redirect::to(to).into_response());
        set_cookie(&mut response, FLASH_COOKIE, &flash.encode(), Some(60));
        response
    }

    /// Post/redirect/get without a message: the next page shows what changed (a chat's new
    /// message).
    pub fn go(&self, to: &str) -> Response {
        self.finish(Redirect::to(to).into_response())
    }

    /// Redirects with the outcome of a use case: `done` on success, the error otherwise.
    pub fn outcome<T>(
        &self,
        to: &str,
        result: app::Result<T>,
        done: impl FnOnce(T) -> String,
    ) -> Response {
        match result {
            Ok(value) => self.redirect(to, Flash::ok(done(value))),
            Err(error) => match Flash::from_error(error) {
                Ok(flash) => self.redirect(to, flash),
                Err(response) => self.finish(response),
            },
        }
    }

    /// Redirects with a use case's error: a message for the person, or the error page.
    pub fn failed(&self, to: &str, error: app::AppError) -> Response {
        self.outcome(to, Err::<(), _>(error), |()| String::new())
    }

    /// The page's data, or the error page.
    pub fn load<T>(&self, result: app::Result<T>) -> Result<T, Response> {
        result.map_err(|e| self.finish(error_page_in(Some(&self.layout), e)))
    }

    /// The not-found page in this person's layout.
    pub fn not_found(&self) -> Response {
        self.finish(error_page_in(Some(&self.layout), app::AppError::NotFound))
    }
}

/// A signed-in page: extracting it signs the request in (or answers with the login page or
/// the error page).
impl FromRequestParts<WebState> for PageCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        // Only a page read can be asked for again after logging in; a form post cannot.
        let back_to = (parts.method == axum::http::Method::GET)
            .then(|| parts.uri.path_and_query().map(|p| p.as_str()))
            .flatten();
        Self::open(state, &parts.headers, "", back_to, Some(parts.uri.path())).await
    }
}

impl PageCtx {
    /// Names the page in the browser's title bar.
    pub fn titled(mut self, title: &str) -> Self {
        self.layout.title = format!("{title} — TicketFlower");
        self
    }
}

/// Where a refused form sends the person back to: the page the form was on (our pages send
/// same-origin referrers), else the dashboard.
fn back_of(headers: &HeaderMap) -> String {
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok())
        .map(|url| match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
        .unwrap_or_else(|| "/dashboard".into())
}

/// Opens a form post: the signed-in person, and the form's CSRF token checked against this
/// browser and this session before anything else happens.
async fn open_post(
    parts: &mut Parts,
    state: &WebState,
    submitted_csrf: &str,
) -> Result<PageCtx, Response> {
    let ctx = PageCtx::from_request_parts(parts, state).await?;
    if !csrf_ok_for(state, &parts.headers, ctx.actor.session_id, submitted_csrf) {
        return Err(ctx.finish(csrf_rejected(&back_of(&parts.headers))));
    }
    Ok(ctx)
}

/// A signed-in form post (`application/x-www-form-urlencoded`) whose CSRF token matched,
/// with its fields.
pub struct PagePost<F> {
    pub ctx: PageCtx,
    pub form: F,
}

impl<F> FromRequest<WebState> for PagePost<F>
where
    F: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        // Read as any extractor reads, within the server's body limits.
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(IntoResponse::into_response)?;
        let token: CsrfForm = serde_html_form::from_bytes(&bytes).unwrap_or_default();
        let ctx = open_post(&mut parts, state, &token.csrf_token).await?;
        match serde_html_form::from_bytes(&bytes) {
            Ok(form) => Ok(Self { ctx, form }),
            Err(_) => Err(ctx.finish(unreadable_form())),
        }
    }
}

/// A signed-in multipart post (files) whose CSRF token matched. A body that cannot be read
/// (too large, malformed) sends the person back with the reason.
pub struct PageUpload {
    pub ctx: PageCtx,
    pub form: crate::extract::MultipartForm,
}

impl FromRequest<WebState> for PageUpload {
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let headers = parts.headers.clone();
        let request = Request::from_parts(parts.clone(), body);
        match crate::extract::MultipartForm::read(request).await {
            Ok(form) => {
                let ctx = open_post(&mut parts, state, form.value("csrf_token")).await?;
                Ok(Self { ctx, form })
            }
            Err(failure) => {
                let ctx = PageCtx::from_request_parts(&mut parts, state).await?;
                Err(ctx.redirect(&back_of(&headers), Flash::error(failure.message())))
            }
        }
    }
}

fn unreadable_form() -> Response {
    crate::pages::kit::layout::refused_input(
        StatusCode::BAD_REQUEST,
        "The form could not be read; reload the page and try again.",
    )
}

/// A page's path parameters (`/tickets/{id}`): an address that does not parse (`/tickets/abc`)
/// names no page, so it is the not-found page, in the signed-in layout when someone is.
pub struct PagePath<T>(pub T);

impl<T> FromRequestParts<WebState> for PagePath<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(match PageCtx::from_request_parts(parts, state).await {
                Ok(ctx) => ctx.not_found(),
                Err(response) => response,
            }),
        }
    }
}

/// A form with nothing but its CSRF token.
#[derive(Default, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf_token: String,
}

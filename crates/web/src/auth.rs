//! Authentication extractors: the bearer token (or, for pages, the access cookie) resolved
//! into an [`Actor`] by the app layer, and the client's address for the login log.

use std::net::SocketAddr;

use app::identity::auth::ClientInfo;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use domain::auth::Actor;

use crate::problem::ApiError;
use crate::state::WebState;

/// Name of the cookie carrying the access token for the web pages.
pub const ACCESS_COOKIE: &str = "tf_access";

/// An authenticated request.
pub struct Authed(pub Actor);

/// The request's token: the `Authorization: Bearer` header, or for a safe request (GET,
/// HEAD) the pages' access cookie, so that links from the pages (graphs, bundle exports)
/// work. A request that changes something must carry the header: a browser attaches the
/// cookie to cross-site requests, never the header, so the API cannot be driven by another
/// site (CSRF).
fn bearer(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    if !parts.method.is_safe() {
        return None;
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == ACCESS_COOKIE)
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<WebState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(parts) else {
            return Err(
                app::AppError::Unauthorized("send `Authorization: Bearer <token>`".into()).into(),
            );
        };
        let actor = app::identity::auth::authenticate(&state.app, &token).await?;
        record_actor(&actor);
        Ok(Authed(actor))
    }
}

/// Names who is acting on the request's span (its log lines) and on its error log entry,
/// should it fail, by id only: never a token or an email.
pub fn record_actor(actor: &Actor) {
    crate::middleware::note_actor(actor);
    let span = tracing::Span::current();
    span.record("user", tracing::field::display(actor.user_id));
    if let Some(company) = actor.company_id {
        span.record("company", tracing::field::display(company));
    }
}

/// The caller's address and user agent.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(512)
            .collect();
        Ok(Client(ClientInfo { ip, user_agent }))
    }
}

//! The platform staff's error log page (issue 18): every 5xx the server answered, newest
//! first, with a way to delete one entry or all of them. The same use cases as the API
//! (`app::infra::error_log`), which decide that only staff see it.

// A page helper fails with the response to send (a redirect, an error page); it is built
// once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::extract::{Query, State};
use domain::ErrorLogId;
use serde::Deserialize;

use crate::pages::kit::context::{CsrfForm, PageCtx, PagePath, PagePost, PageResult};
use crate::pages::kit::filters;
use crate::pages::kit::layout::Layout;
use crate::pages::kit::pager::{Noun, Pager, Place, address};
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

const ERRORS: &str = "/staff/errors";
/// Entries per page.
const PAGE: u32 = 50;
const ENTRIES: Noun = Noun {
    one: "entry",
    many: "entries",
};

/// One entry as the page shows it.
pub struct EntryRow {
    pub id: String,
    pub at: When,
    pub status: u16,
    pub method: String,
    pub route: String,
    /// The company's name, else its id, else empty (nobody was signed in).
    pub company: String,
    pub request_id: String,
    pub kind: &'static str,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "staff_errors.html")]
struct ErrorsPage {
    layout: Layout,
    rows: Vec<EntryRow>,
    pager: Pager,
    retention_days: u32,
    /// The row cap, written with thousands separators.
    max_rows: String,
}

#[derive(Deserialize)]
pub struct ErrorsQuery {
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    trail: String,
}

pub async fn errors(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<ErrorsQuery>,
) -> PageResult {
    let ctx = ctx.titled("Errors");
    let place = Place::new(&query.cursor, &query.trail);
    let after = place.cursor().and_then(|c| c.parse().ok()).map(ErrorLogId);
    let (found, total) =
        ctx.load(app::infra::error_log::list(&state.app, &ctx.actor, after, PAGE).await)?;
    let next = found
        .last()
        .map(|e| e.id.to_string())
        .filter(|_| found.len() == PAGE as usize);
    let pager = place.pager(
        found.len(),
        PAGE,
        total,
        ENTRIES,
        next.as_deref(),
        |cursor, trail| address(ERRORS, &[("cursor", cursor), ("trail", trail)]),
    );
    let rows = found
        .into_iter()
        .map(|e| EntryRow {
            id: e.id.to_string(),
            at: when(e.created_at),
            status: e.status,
            method: e.method,
            route: e.route,
            company: e
                .company_name
                .or_else(|| e.company_id.map(|c| c.to_string()))
                .unwrap_or_default(),
            request_id: e.request_id,
            kind: e.kind.as_str(),
            summary: e.summary,
        })
        .collect();
    let settings = state.app.settings();
    Ok(ctx.render(&ErrorsPage {
        layout: ctx.layout.clone(),
        rows,
        pager,
        retention_days: settings.error_log_retention_days,
        max_rows: thousands(settings.error_log_max_rows),
    }))
}

pub async fn delete_entry(
    State(state): State<WebState>,
    PagePath(id): PagePath<ErrorLogId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::infra::error_log::delete(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome(ERRORS, result, |()| "The entry was deleted.".into()))
}

pub async fn clear(
    State(state): State<WebState>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::infra::error_log::clear(&state.app, &ctx.actor).await;
    Ok(ctx.outcome(ERRORS, result, |deleted| match deleted {
        1 => "1 entry was deleted.".into(),
        n => format!("{n} entries were deleted."),
    }))
}

/// `10000` as `10,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// This module's pages.
pub fn router() -> axum::Router<WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/staff/errors", get(errors))
        .route("/staff/errors/clear", post(clear))
        .route("/staff/errors/{id}/delete", post(delete_entry))
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_separated() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (10_000, "10,000"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(super::thousands(n), text);
        }
    }
}

//! The company's canned replies (issue 18): the list with a filter and the add form, and
//! one reply's page to change or delete it. Agents read them here too; whether the forms
//! are offered is the app's rule (`access::require_admin`), and every change goes through
//! `app::canned_replies` like the API's.

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use app::canned_replies::{CannedReplyInput, CannedReplyView};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use domain::CannedReplyId;
use serde::Deserialize;

use crate::pages::kit::context::{CsrfForm, Flash, PageCtx, PagePath, PagePost, PageResult};
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

const PAGE: &str = "/admin/canned-replies";
/// The inputs of a canned reply's form, by the use case's field names.
const INPUTS: [&str; 4] = ["shortcut", "title", "body", "sort_order"];

/// A reply's row in the list.
pub struct ReplyRow {
    pub id: String,
    pub shortcut: String,
    pub title: String,
    /// The body's start, on one line.
    pub excerpt: String,
    pub sort_order: i32,
    pub updated: When,
}

impl From<CannedReplyView> for ReplyRow {
    fn from(reply: CannedReplyView) -> Self {
        let flat = reply.body.split_whitespace().collect::<Vec<_>>().join(" ");
        let excerpt = if flat.chars().count() > 120 {
            format!("{}…", flat.chars().take(119).collect::<String>())
        } else {
            flat
        };
        Self {
            id: reply.id.to_string(),
            shortcut: reply.shortcut,
            title: reply.title,
            excerpt,
            sort_order: reply.sort_order,
            updated: when(reply.updated_at),
        }
    }
}

/// A canned reply's form as typed: the order stays text so a wrong one is shown back.
#[derive(Deserialize, Default)]
pub struct ReplyForm {
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    sort_order: String,
}

impl ReplyForm {
    fn of(reply: &CannedReplyView) -> Self {
        Self {
            shortcut: reply.shortcut.clone(),
            title: reply.title.clone(),
            body: reply.body.clone(),
            sort_order: reply.sort_order.to_string(),
        }
    }

    /// The form as the use case's input; an empty order is 0.
    fn read(&self) -> Result<CannedReplyInput, Refusal> {
        let order = self.sort_order.trim();
        let sort_order = if order.is_empty() {
            0
        } else {
            order
                .parse::<i32>()
                .map_err(|_| Refusal::invalid("sort_order", "must be a whole number"))?
        };
        Ok(CannedReplyInput {
            shortcut: Some(self.shortcut.clone()),
            title: Some(self.title.clone()),
            body: Some(self.body.clone()),
            sort_order: Some(sort_order),
        })
    }
}

#[derive(Template)]
#[template(path = "admin_canned_replies.html")]
struct ListPage {
    layout: Layout,
    replies: Vec<ReplyRow>,
    q: String,
    /// Admins add and change replies; agents read them.
    may_edit: bool,
    /// The add form as typed, and why it was refused.
    form: ReplyForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin_canned_reply.html")]
struct ReplyPage {
    layout: Layout,
    id: String,
    shortcut: String,
    may_edit: bool,
    form: ReplyForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

fn may_edit(ctx: &PageCtx) -> bool {
    app::access::require_admin(&ctx.actor).is_ok()
}

async fn list_page(
    state: &WebState,
    ctx: &PageCtx,
    q: String,
    form: ReplyForm,
    refusal: Option<Refusal>,
) -> PageResult {
    let filter = Some(q.trim()).filter(|q| !q.is_empty());
    let replies = ctx.load(app::canned_replies::list(&state.app, &ctx.actor, filter).await)?;
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(
        status,
        &ListPage {
            layout: ctx.layout.clone(),
            replies: replies.into_iter().map(ReplyRow::from).collect(),
            q,
            may_edit: may_edit(ctx),
            form,
            errors: refusal.map(|r| r.errors).unwrap_or_default(),
        },
    ))
}

pub async fn list(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let ctx = ctx.titled("Canned replies");
    let form = ReplyForm {
        sort_order: "0".into(),
        ..ReplyForm::default()
    };
    list_page(&state, &ctx, query.q, form, None).await
}

pub async fn create(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<ReplyForm>,
) -> PageResult {
    let ctx = ctx.titled("Canned replies");
    let input = match form.read() {
        Ok(input) => input,
        Err(refusal) => return list_page(&state, &ctx, String::new(), form, Some(refusal)).await,
    };
    match app::canned_replies::create(&state.app, &ctx.actor, input).await {
        Ok(reply) => Ok(ctx.redirect(
            PAGE,
            Flash::ok(format!("The canned reply /{} was added.", reply.shortcut)),
        )),
        Err(error) => match Refusal::of(error, &INPUTS) {
            Ok(refusal) => list_page(&state, &ctx, String::new(), form, Some(refusal)).await,
            Err(error) => Ok(ctx.failed(PAGE, error)),
        },
    }
}

async fn reply_page(
    state: &WebState,
    ctx: PageCtx,
    id: CannedReplyId,
    form: Option<ReplyForm>,
    refusal: Option<Refusal>,
) -> PageResult {
    let reply = ctx.load(app::canned_replies::get(&state.app, &ctx.actor, id).await)?;
    let mut ctx = ctx.titled(&format!("/{}", reply.shortcut));
    ctx.layout.crumb(PAGE, "Canned replies");
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(
        status,
        &ReplyPage {
            layout: ctx.layout.clone(),
            id: reply.id.to_string(),
            form: form.unwrap_or_else(|| ReplyForm::of(&reply)),
            shortcut: reply.shortcut,
            may_edit: may_edit(&ctx),
            errors: refusal.map(|r| r.errors).unwrap_or_default(),
        },
    ))
}

pub async fn show(
    State(state): State<WebState>,
    PagePath(id): PagePath<CannedReplyId>,
    ctx: PageCtx,
) -> PageResult {
    reply_page(&state, ctx, id, None, None).await
}

pub async fn update(
    State(state): State<WebState>,
    PagePath(id): PagePath<CannedReplyId>,
    PagePost { ctx, form }: PagePost<ReplyForm>,
) -> PageResult {
    let input = match form.read() {
        Ok(input) => input,
        Err(refusal) => return reply_page(&state, ctx, id, Some(form), Some(refusal)).await,
    };
    match app::canned_replies::update(&state.app, &ctx.actor, id, input).await {
        Ok(reply) => Ok(ctx.redirect(
            PAGE,
            Flash::ok(format!("The canned reply /{} was saved.", reply.shortcut)),
        )),
        Err(error) => match Refusal::of(error, &INPUTS) {
            Ok(refusal) => reply_page(&state, ctx, id, Some(form), Some(refusal)).await,
            Err(error) => Ok(ctx.failed(PAGE, error)),
        },
    }
}

pub async fn delete(
    State(state): State<WebState>,
    PagePath(id): PagePath<CannedReplyId>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let result = app::canned_replies::delete(&state.app, &ctx.actor, id).await;
    Ok(ctx.outcome(PAGE, result, |()| "The canned reply was deleted.".into()))
}

pub fn router() -> axum::Router<WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(PAGE, get(list).post(create))
        .route("/admin/canned-replies/{id}", get(show).post(update))
        .route("/admin/canned-replies/{id}/delete", post(delete))
}

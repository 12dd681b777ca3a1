//! Conversations and tickets on the pages (issue 17, linking): the ticket panel of a
//! conversation's page (its ticket; for agents the requester's recent tickets and "Create
//! ticket"), the form an agent fills to make a ticket from a conversation, and a requester's
//! "Talk to support about this ticket" on the ticket page. The rules are in
//! `app::conversation_tickets`.

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use app::conversation_tickets::{self, TicketLink};
use app::conversations::{ConversationView, OpenRequest};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::ids::{TicketId, TicketTypeId};
use domain::{ConversationId, ValidationErrors};
use serde::Deserialize;
use serde_json::Value;

use crate::pages::kit::context::{Flash, PageCtx, PagePath, PagePost, PageResult};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::schema_form::{FormErrors, FormField, SchemaForm};
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

/// A ticket as the conversation page lists it.
pub struct TicketItem {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub state: String,
    /// A CSS class for the state's badge.
    pub class: &'static str,
    pub updated: When,
}

/// The tickets beside a conversation.
#[derive(Default)]
pub struct TicketPanel {
    /// The conversation's ticket, when the reader may open it.
    pub linked: Option<TicketItem>,
    /// The conversation has a ticket (shown even when the reader may not open it).
    pub has_ticket: bool,
    /// For agents: the requester's recent tickets, the linked one left out.
    pub recent: Vec<TicketItem>,
    /// For agents: the ticket types the requester may submit, as (id, title).
    pub types: Vec<(String, String)>,
}

fn class_of(progress: &app::runtime::tickets::Progress) -> &'static str {
    use app::runtime::tickets::ProgressKind as K;
    match progress.kind {
        K::Ended => "completed",
        K::Cancelled => "cancelled",
        K::WaitingOnYou | K::OnHold => "waiting",
        K::Submitted | K::BeingProcessed => "open",
    }
}

/// The ticket panel of a conversation's page.
pub async fn panel(
    state: &WebState,
    ctx: &PageCtx,
    view: &ConversationView,
) -> Result<TicketPanel, Response> {
    let (app, actor) = (&state.app, &ctx.actor);
    let mut panel = TicketPanel {
        has_ticket: view.ticket_id.is_some(),
        ..TicketPanel::default()
    };
    if let Some(ticket) = view.ticket_id {
        match app::runtime::tickets::get(app, actor, ticket).await {
            Ok(t) => {
                panel.linked = Some(TicketItem {
                    id: t.id.to_string(),
                    number: t.number,
                    title: t.title,
                    class: class_of(&t.progress),
                    state: t.progress.label,
                    updated: when(t.updated_at),
                })
            }
            Err(app::AppError::NotFound) => {}
            Err(other) => ctx.load::<()>(Err(other))?,
        }
    }
    if app::access::is_agent(actor) {
        let recent =
            ctx.load(conversation_tickets::requester_tickets(app, actor, view.id).await)?;
        panel.recent = recent
            .into_iter()
            .filter(|t| Some(t.id) != view.ticket_id)
            .map(|t| TicketItem {
                id: t.id.to_string(),
                number: t.number,
                title: t.title,
                class: class_of(&t.progress),
                state: t.progress.label,
                updated: when(t.updated_at),
            })
            .collect();
        if view.ticket_id.is_none() {
            panel.types = ctx
                .load(conversation_tickets::ticket_types(app, actor, view.id).await)?
                .into_iter()
                .map(|t| (t.id.to_string(), t.title))
                .collect();
        }
    }
    Ok(panel)
}

#[derive(Template)]
#[template(path = "conversation_ticket.html")]
struct TicketFormPage {
    layout: Layout,
    id: String,
    conversation: String,
    /// The types to choose from, when none is chosen yet: (id, title, description).
    types: Vec<(String, String, String)>,
    type_id: String,
    type_title: String,
    description: String,
    fields: Vec<FormField>,
    general: Vec<String>,
}

impl TicketFormPage {
    fn invalid(&self) -> bool {
        !self.general.is_empty() || self.fields.iter().any(|f| !f.error.is_empty())
    }
}

#[derive(Deserialize, Default)]
pub struct FormQuery {
    #[serde(default)]
    ticket_type_id: String,
}

fn title_of(c: &ConversationView) -> String {
    c.subject
        .clone()
        .or_else(|| c.reference.clone())
        .unwrap_or_else(|| format!("Support for {}", c.requester_name))
}

/// The form an agent fills to make a ticket from the conversation: the ticket types to
/// choose from, then the chosen type's fields.
pub async fn ticket_form(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<ConversationId>,
    Query(query): Query<FormQuery>,
) -> PageResult {
    let ctx = ctx.titled("Create a ticket");
    let chosen = query.ticket_type_id.parse::<TicketTypeId>().ok();
    form_page(&state, ctx, id, chosen, None).await
}

async fn form_page(
    state: &WebState,
    ctx: PageCtx,
    id: ConversationId,
    chosen: Option<TicketTypeId>,
    refused: Option<(Vec<(String, String)>, ValidationErrors)>,
) -> PageResult {
    let (app, actor) = (&state.app, &ctx.actor);
    let conversation = ctx.load(app::conversations::get(app, actor, id).await)?;
    let back = format!("/conversations/{id}");
    if conversation.ticket_id.is_some() {
        return Ok(ctx.redirect(
            &back,
            Flash::error("The conversation is linked to a ticket already."),
        ));
    }
    let types = ctx.load(conversation_tickets::ticket_types(app, actor, id).await)?;
    let mut layout = ctx.layout.clone();
    layout.crumb("/conversations", "Conversations");
    layout.crumb(&back, title_of(&conversation));
    let mut page = TicketFormPage {
        layout,
        id: id.to_string(),
        conversation: title_of(&conversation),
        types: Vec::new(),
        type_id: String::new(),
        type_title: String::new(),
        description: String::new(),
        fields: Vec::new(),
        general: Vec::new(),
    };
    let status = match chosen.and_then(|t| types.iter().find(|a| a.id == t)) {
        Some(available) => {
            let form = SchemaForm::new("data", &available.fields);
            page.type_id = available.id.to_string();
            page.type_title = available.title.clone();
            page.description = available.description.clone();
            match &refused {
                Some((pairs, errors)) => {
                    let (_, typed) = form.read(pairs);
                    let errors = form.errors(errors);
                    page.fields = form.fields(Some(&typed), &errors);
                    page.general = errors.general;
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                None => {
                    page.fields = form.fields(None, &FormErrors::default());
                    StatusCode::OK
                }
            }
        }
        None => {
            page.types = types
                .into_iter()
                .map(|t| (t.id.to_string(), t.title, t.description))
                .collect();
            if chosen.is_some() {
                page.general
                    .push("Choose a ticket type the requester may submit.".into());
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            }
        }
    };
    Ok(ctx.render_status(status, &page))
}

/// Whether a ticket type's form asks for something: then the agent fills it first.
fn asks_for_fields(fields: &Value) -> bool {
    fields
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
}

/// Makes the ticket (or links an existing one). From the conversation page's "Create
/// ticket" (`step=choose`) a type whose form requires fields opens its form first; a type
/// without required fields is made at once.
pub async fn create_ticket(
    State(state): State<WebState>,
    PagePath(id): PagePath<ConversationId>,
    PagePost { ctx, form: pairs }: PagePost<Vec<(String, String)>>,
) -> PageResult {
    let (app, actor) = (&state.app, &ctx.actor);
    let back = format!("/conversations/{id}");
    // Someone else's conversation is not found, whatever the form holds.
    ctx.load(app::conversations::get(app, actor, id).await)?;
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    if let Ok(ticket) = value("ticket_id").parse::<TicketId>() {
        let linked = conversation_tickets::link(app, actor, id, TicketLink::Existing(ticket)).await;
        return Ok(ctx.outcome(&back, linked, |l| {
            format!("The conversation is linked to ticket #{}.", l.ticket.number)
        }));
    }
    let Ok(type_id) = value("ticket_type_id").parse::<TicketTypeId>() else {
        return Ok(ctx.redirect(&back, Flash::error("Choose a ticket type from the list.")));
    };
    let available = match conversation_tickets::ticket_type(app, actor, id, type_id).await {
        Ok(available) => available,
        Err(app::AppError::NotFound) => {
            let ctx = ctx.titled("Create a ticket");
            return form_page(&state, ctx, id, Some(type_id), None).await;
        }
        Err(other) => return Ok(ctx.failed(&back, other)),
    };
    if value("step") == "choose" && asks_for_fields(&available.fields) {
        return Ok(ctx.go(&format!(
            "/conversations/{id}/ticket?ticket_type_id={type_id}"
        )));
    }
    let form = SchemaForm::new("data", &available.fields);
    let (data, _) = form.read(&pairs);
    let made = conversation_tickets::link(
        app,
        actor,
        id,
        TicketLink::Create {
            ticket_type_id: type_id,
            data,
        },
    )
    .await;
    match made {
        Ok(made) => Ok(ctx.redirect(
            &format!("/tickets/{}", made.ticket.id),
            Flash::ok(format!(
                "Ticket #{} was made from the conversation, for {}.",
                made.ticket.number, made.conversation.requester_name
            )),
        )),
        Err(app::AppError::Validation(errors)) => {
            let ctx = ctx.titled("Create a ticket");
            form_page(&state, ctx, id, Some(type_id), Some((pairs, errors))).await
        }
        Err(other) => Ok(ctx.failed(&back, other)),
    }
}

/// Opens (or finds) the support conversation about a ticket, from the ticket's page.
pub async fn ticket_conversation(
    State(state): State<WebState>,
    PagePath(id): PagePath<TicketId>,
    PagePost { ctx, .. }: PagePost<Vec<(String, String)>>,
) -> PageResult {
    let (app, actor) = (&state.app, &ctx.actor);
    ctx.load(app::runtime::tickets::get(app, actor, id).await)?;
    let opened = app::conversations::open(
        app,
        actor,
        OpenRequest {
            ticket_id: Some(id),
            ..OpenRequest::default()
        },
    )
    .await;
    match opened {
        Ok((conversation, _)) => {
            Ok(ctx.go(&format!("/conversations/{}#composer", conversation.id)))
        }
        Err(error) => Ok(ctx.failed(&format!("/tickets/{id}"), error)),
    }
}

pub fn router() -> axum::Router<WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/conversations/{id}/ticket",
            get(ticket_form).post(create_ticket),
        )
        .route("/tickets/{id}/conversation", post(ticket_conversation))
}

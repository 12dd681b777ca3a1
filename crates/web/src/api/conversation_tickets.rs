//! A conversation's ticket (issue 17, linking): an agent makes a ticket from a conversation
//! or links it to an existing one. The rules are in `app::conversation_tickets`.

use app::conversation_tickets::{self, ConversationTicket, TicketLink};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ids::{TicketId, TicketTypeId};
use domain::{ConversationId, ValidationErrors};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{AppJson, AppPath};
use crate::problem::ApiResult;
use crate::state::WebState;

/// `POST /conversations/{id}/ticket` body: a `ticket_type_id` (with the form's `data`) to
/// make a ticket, or a `ticket_id` to link an existing one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationTicketBody {
    /// A ticket type the conversation's requester may submit.
    ticket_type_id: Option<TicketTypeId>,
    /// The type's form fields, checked as for a submission; `{}` when absent.
    #[schema(value_type = Object)]
    data: Option<Value>,
    /// An existing ticket the agent may read, instead of a new one.
    ticket_id: Option<TicketId>,
}

/// Makes a ticket from the conversation for its requester (201) — its transcript, without
/// internal notes, is the ticket's first comment — or links an existing ticket (200).
/// Agents only; a conversation already linked is a 409 naming `ticket_id`.
#[utoipa::path(post, operation_id = "conversation_ticket_link", path = "/api/v1/conversations/{id}/ticket", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")), request_body = ConversationTicketBody,
    responses(
        (status = 201, description = "A ticket made from the conversation", body = ConversationTicket),
        (status = 200, description = "An existing ticket linked", body = ConversationTicket),
    ),
    security(("bearer" = [])))]
pub async fn link(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
    AppJson(body): AppJson<ConversationTicketBody>,
) -> ApiResult<(StatusCode, Json<ConversationTicket>)> {
    let link = match (body.ticket_type_id, body.ticket_id) {
        (Some(ticket_type_id), None) => TicketLink::Create {
            ticket_type_id,
            data: body
                .data
                .unwrap_or_else(|| Value::Object(Default::default())),
        },
        (None, Some(ticket)) if body.data.is_none() => TicketLink::Existing(ticket),
        (None, Some(_)) => {
            return Err(ValidationErrors::single(
                "data",
                "goes with ticket_type_id; an existing ticket keeps its data",
            )
            .into());
        }
        (Some(_), Some(_)) => {
            return Err(ValidationErrors::single(
                "ticket_id",
                "give ticket_type_id to make a ticket, or ticket_id to link one, not both",
            )
            .into());
        }
        (None, None) => {
            return Err(ValidationErrors::single(
                "ticket_type_id",
                "is required, unless ticket_id names an existing ticket",
            )
            .into());
        }
    };
    let linked = conversation_tickets::link(&state.app, &actor, id, link).await?;
    let status = if linked.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(linked)))
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new().routes(routes!(link))
}

//! Appending events on behalf of an actor, so that every event says who caused it and,
//! under impersonation, which staff member was really acting. The one way a use case
//! appends an event: the kind and its payload come typed from `domain::event`.

use domain::auth::Actor;
use domain::event::{NewEvent, Payload, Stream};
use serde_json::Value;
use store::Tx;

use crate::Result;

/// Appends `payload` on `stream` for `company`, attributed to the actor.
pub async fn record(
    tx: &mut Tx,
    actor: Option<&Actor>,
    company: Option<domain::CompanyId>,
    stream: Stream,
    payload: Payload,
) -> Result<store::events::Appended> {
    let kind = payload.kind();
    let mut fields = payload.to_fields();
    if let (Some(actor), Value::Object(map)) = (actor, &mut fields) {
        if let Some(staff) = actor.impersonator {
            map.insert("impersonated_by".into(), Value::String(staff.to_string()));
        }
        if actor.kind == domain::auth::ActorKind::ApiToken {
            map.insert("via".into(), Value::String("api_token".into()));
        }
    }
    let mut event = NewEvent::new(stream.to_string(), kind.as_str())
        .actor(actor.map(|a| a.user_id))
        .payload(fields);
    event.company_id = company;
    Ok(store::events::append(tx, event).await?)
}

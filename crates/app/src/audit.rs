//! Appending events on behalf of an actor, so that every event says who caused it and,
//! under impersonation, which staff member was really acting.

use domain::auth::Actor;
use domain::event::NewEvent;
use serde_json::Value;
use store::Tx;

use crate::Result;

/// Appends `kind` on `stream` for the actor's company, attributing it to the actor.
pub async fn record(
    tx: &mut Tx,
    actor: Option<&Actor>,
    company: Option<domain::CompanyId>,
    stream: String,
    kind: &str,
    mut payload: Value,
) -> Result<i64> {
    if let (Some(actor), Value::Object(map)) = (actor, &mut payload) {
        if let Some(staff) = actor.impersonator {
            map.insert("impersonated_by".into(), Value::String(staff.to_string()));
        }
        if actor.kind == domain::auth::ActorKind::ApiToken {
            map.insert("via".into(), Value::String("api_token".into()));
        }
    }
    let mut event = NewEvent::new(stream, kind)
        .actor(actor.map(|a| a.user_id))
        .payload(payload);
    event.company_id = company;
    Ok(store::events::append(tx, event).await?)
}

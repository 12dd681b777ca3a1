//! The event webhook relay: reads the committed event log behind its durable cursor
//! (`webhooks`) and, in the same transaction that moves the cursor, writes a delivery for
//! every active subscription whose kinds match an event. So a rolled-back change never
//! reaches an endpoint (it never reached the log), a committed one is never skipped (the
//! cursor only moves with the deliveries it produced), and two servers never relay the same
//! range (the cursor's lock).

use domain::event::Event;
use store::deliveries::Target;
use store::events::Scope;
use tokio_util::sync::CancellationToken;

use crate::{App, Result};

const CURSOR: &str = "webhooks";
const BATCH: u32 = 200;

/// Relays until `shutdown` (see [`super::drive`]).
pub async fn run(app: App, shutdown: CancellationToken) {
    super::drive(
        app,
        shutdown,
        "event webhooks",
        BATCH as usize,
        |app| async move { relay_once(&app).await },
    )
    .await;
}

/// One batch: returns how many events were read.
pub async fn relay_once(app: &App) -> Result<usize> {
    let epoch = store::events::epoch(app.db()).await?;
    let mut tx = app.db().begin().await?;
    let Some(from) = store::relay_cursors::lock(&mut tx, CURSOR).await? else {
        // Another server holds the cursor right now.
        return Ok(0);
    };
    let events = store::events::read_after(&mut tx, &Scope::All, from, BATCH).await?;
    let Some(last) = events.last().map(|e| e.id) else {
        app.commit(tx).await?;
        return Ok(0);
    };
    let mut companies: Vec<domain::CompanyId> =
        events.iter().filter_map(|e| e.company_id).collect();
    companies.sort_by_key(|c| c.0);
    companies.dedup();
    let subscriptions = store::subscriptions::active_of(&mut tx, &companies).await?;
    for event in &events {
        let Some(company) = event.company_id else {
            continue;
        };
        if crate::webhooks::is_internal(&event.kind) {
            continue;
        }
        for subscription in subscriptions.iter().filter(|s| {
            s.company_id == company && crate::webhooks::matches(&s.kinds.0, &event.kind)
        }) {
            crate::deliveries::enqueue(
                &mut tx,
                crate::deliveries::Outgoing {
                    company,
                    target: Target::Subscription(subscription.id),
                    message: None,
                    event: Some(event.id),
                    webhook_id: webhook_id(&epoch, event),
                    kind: "event",
                    payload: crate::webhooks::event_body(event),
                },
            )
            .await?;
        }
    }
    store::relay_cursors::advance(&mut tx, CURSOR, from, last).await?;
    app.commit(tx).await?;
    Ok(events.len())
}

/// The same event always has the same id, also for a second endpoint; the database's
/// epoch keeps a restored database's reused event ids from looking like repeats.
fn webhook_id(epoch: &str, event: &Event) -> String {
    format!("evt_{epoch}_{}", event.id)
}

//! Relays pass the committed event log on to systems outside TicketFlower, each from its
//! own durable cursor (`store::relay_cursors`), so that what they hand on is exactly the
//! log: a rolled-back change sends nothing, a committed one is never lost, and a restart
//! resumes where the relay stopped. `nats` publishes every event to NATS JetStream; `webhooks`
//! turns the events a company subscribed to into deliveries.

pub mod nats;
pub mod webhooks;

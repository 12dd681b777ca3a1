//! Relays pass the committed event log on to systems outside TicketFlower, each from its
//! own durable cursor (`store::relay_cursors`), so that what they hand on is exactly the
//! log: a rolled-back change sends nothing, a committed one is never lost, and a restart
//! resumes where the relay stopped. `nats` publishes every event to NATS JetStream; `webhooks`
//! turns the events a company subscribed to into deliveries.

pub mod nats;
pub mod webhooks;

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{App, Result};

const POLL: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_secs(2);

/// Runs a consumer of the log until `shutdown`: `once` handles one batch of up to `batch`
/// events and says how many it read; a full batch runs again at once, otherwise the loop
/// waits for this server's next commit or a poll (other servers' commits, a lost wake-up).
/// A failed batch is retried after a pause, from the same cursor.
pub async fn drive<F, Fut>(
    app: App,
    shutdown: CancellationToken,
    what: &'static str,
    batch: usize,
    once: F,
) where
    F: Fn(App) -> Fut,
    Fut: Future<Output = Result<usize>>,
{
    let mut commits = app.subscribe_events();
    while !shutdown.is_cancelled() {
        match once(app.clone()).await {
            Ok(read) if read >= batch => continue,
            Ok(_) => {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(POLL) => {}
                    () = nats::next_commit(&mut commits) => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, relay = what, "reading the event log failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }
}

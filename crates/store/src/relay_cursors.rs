//! Named cursors into the event log for the relays that pass it on to other systems (the
//! NATS publisher; outbound event webhooks to come): the id of the last event a relay has
//! handed on, kept in the database so that a restart resumes where the relay stopped.
//!
//! A cursor is a position in [`crate::events::read_after`]'s order (on PostgreSQL that is
//! `(txid, id)`, so a cursor may move to a lower id). It is created at the log's head the
//! first time it is locked: a new relay passes on what happens from then on, not history.
//!
//! A relay that does its work inside the database (enqueueing jobs, say) takes the cursor
//! under a lock held by its transaction, so that two servers never handle the same range:
//!
//! ```text
//! let mut tx = db.begin().await?;
//! let Some(from) = relay_cursors::lock(&mut tx, "webhooks").await? else {
//!     return Ok(()); // another server is handling it right now
//! };
//! let events = events::read_after(&mut tx, &Scope::All, from, 100).await?;
//! // ... enqueue the deliveries of `events` in `tx` ...
//! if let Some(last) = events.last() {
//!     relay_cursors::advance(&mut tx, "webhooks", from, last.id).await?;
//! }
//! app.commit(tx).await?;
//! ```
//!
//! On PostgreSQL the lock is `FOR UPDATE SKIP LOCKED`: a second server gets `None` at once
//! instead of waiting. On SQLite the write transaction itself (`BEGIN IMMEDIATE`, one
//! writer) serialises relays. [`advance`] only moves a cursor that still stands where the
//! relay found it, so a relay that works outside a transaction (see `app::relay`) can read
//! with [`position`] and advance afterwards without ever moving a cursor backwards over
//! another's work.

use chrono::Utc;
use sea_query::{ExprTrait, OnConflict, Query};

use crate::db::{Exec, Raw, Tx};
use crate::error::Result;
use crate::events::{self, Scope};
use crate::schema::RelayCursors;

#[derive(sqlx::FromRow)]
struct PositionRow {
    last_event_id: i64,
}

/// The cursor `name`, locked until `tx` ends; created at the log's current head when it
/// does not exist yet. `None`: another transaction holds it (PostgreSQL), try again later.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn lock(tx: &mut Tx, name: &str) -> Result<Option<i64>> {
    let row: Option<PositionRow> = (&mut *tx)
        .fetch_optional(&Raw {
            sqlite: "SELECT last_event_id FROM relay_cursors WHERE name = ?1",
            postgres: "SELECT last_event_id FROM relay_cursors WHERE name = $1 \
                       FOR UPDATE SKIP LOCKED",
            values: sea_query::Values(vec![name.into()]),
        })
        .await?;
    if let Some(row) = row {
        return Ok(Some(row.last_event_id));
    }
    let head = events::head(&mut *tx, &Scope::All).await?;
    let insert = Query::insert()
        .into_table(RelayCursors::Table)
        .columns([
            RelayCursors::Name,
            RelayCursors::LastEventId,
            RelayCursors::UpdatedAt,
        ])
        .values_panic([name.into(), head.into(), Utc::now().into()])
        .on_conflict(
            OnConflict::column(RelayCursors::Name)
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    // Nothing inserted: the row exists and another transaction holds it.
    let created = (&mut *tx).execute(&insert).await? == 1;
    Ok(created.then_some(head))
}

/// Moves the cursor `name` from `from` to `to`; `false` (and nothing changed) when it no
/// longer stands at `from` because another relay moved it meanwhile.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn advance(tx: &mut Tx, name: &str, from: i64, to: i64) -> Result<bool> {
    let update = Query::update()
        .table(RelayCursors::Table)
        .values([
            (RelayCursors::LastEventId, to.into()),
            (RelayCursors::UpdatedAt, Utc::now().into()),
        ])
        .and_where(sea_query::Expr::col(RelayCursors::Name).eq(name))
        .and_where(sea_query::Expr::col(RelayCursors::LastEventId).eq(from))
        .to_owned();
    Ok((&mut *tx).execute(&update).await? == 1)
}

/// Where the cursor `name` stands, without a lock (for a lag figure, or a relay that
/// advances with [`advance`] afterwards); `None` when it was never created.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn position(db: impl Exec, name: &str) -> Result<Option<i64>> {
    let select = Query::select()
        .column(RelayCursors::LastEventId)
        .from(RelayCursors::Table)
        .and_where(sea_query::Expr::col(RelayCursors::Name).eq(name))
        .to_owned();
    let row: Option<PositionRow> = db.fetch_optional(&select).await?;
    Ok(row.map(|r| r.last_event_id))
}

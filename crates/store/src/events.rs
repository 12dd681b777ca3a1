//! The event log: append in the writer's transaction, read in commit order.
//!
//! On PostgreSQL a sequence value is taken at insert, not at commit, so a reader that asks
//! for "ids above my cursor" can pass over a row whose transaction commits late. Each row
//! therefore records its transaction id (`txid`), and readers only return rows written by
//! transactions older than the oldest one still running (`pg_snapshot_xmin`), ordered by
//! `(txid, id)`. Every transaction below that horizon has finished, so no row can later
//! appear before the cursor. SQLite has one writer, whose changes run one after the other
//! and commit in batches (`writer.rs`), so there ids are already in commit order.

use chrono::{DateTime, Utc};
use domain::event::{Event, NewEvent, Position, Reach};
use domain::{CompanyId, UserId};
use sea_query::{ExprTrait, Query};
use sqlx::types::Json;

use crate::db::{Backend, Exec, Raw, Tx};
use crate::error::Result;
use crate::schema::Events;

/// Which events a reader wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every event (platform staff, outbound fan-out).
    All,
    /// One tenant's events.
    Company(CompanyId),
    /// One stream of one tenant, e.g. a ticket's timeline.
    Stream(CompanyId, String),
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    company_id: Option<CompanyId>,
    stream: String,
    kind: String,
    actor_id: Option<UserId>,
    payload: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    /// Read where it orders the rows (PostgreSQL's [`read_after`]).
    #[sqlx(default)]
    txid: i64,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Event {
            id: row.id,
            company_id: row.company_id,
            stream: row.stream,
            kind: row.kind,
            actor_id: row.actor_id,
            payload: row.payload.0,
            created_at: row.created_at,
            txid: row.txid,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AppendedRow {
    id: i64,
    company_id: Option<CompanyId>,
}

/// An event appended to a transaction and not written yet: its place among the
/// transaction's events, to finish its payload with [`set_field`] before the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended(usize);

/// Appends an event to the transaction that made the change. It is written with the
/// transaction's other events in one statement when it commits ([`write_appended`]):
/// one round trip per change rather than one per event, and on SQLite one hand-off to
/// the writer fewer per event. Nothing reads its own transaction's events back
/// ([`write_appended`] writes them early where their ids are needed).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn append(tx: &mut Tx, event: NewEvent) -> Result<Appended> {
    match event.reach() {
        Some(Reach::Company(company)) => tx.noted_identity(Some(company)),
        Some(Reach::Everyone) => tx.noted_identity(None),
        None => {}
    }
    tx.pending_events.push((event, Utc::now()));
    Ok(Appended(tx.pending_events.len() - 1))
}

/// Sets a field of an appended event's payload: a value only known later in the
/// transaction (a ticket's number, taken last).
pub fn set_field(tx: &mut Tx, event: Appended, field: &str, value: serde_json::Value) {
    if let Some((pending, _)) = tx.pending_events.get_mut(event.0)
        && let serde_json::Value::Object(map) = &mut pending.payload
    {
        map.insert(field.to_owned(), value);
    }
}

/// Rows per insert: well under both databases' limits on bound values (6 per row).
const FLUSH_ROWS: usize = 1_000;

/// The columns an append writes; the database gives the id (and on PostgreSQL the txid).
const WRITTEN: [Events; 6] = [
    Events::CompanyId,
    Events::Stream,
    Events::Kind,
    Events::ActorId,
    Events::Payload,
    Events::CreatedAt,
];

/// Writes the transaction's appended events now, in the order appended, and answers their
/// ids. [`Tx::commit`] writes those left just before the commit itself; a caller needs this
/// only to know the ids before then.
pub async fn write_appended(tx: &mut Tx) -> Result<Vec<i64>> {
    let pending = std::mem::take(&mut tx.pending_events);
    let mut ids = Vec::with_capacity(pending.len());
    // Taken by value a chunk at a time: the payloads move into the statement uncopied.
    let mut pending = pending.into_iter().peekable();
    while pending.peek().is_some() {
        let mut insert = Query::insert()
            .into_table(Events::Table)
            .columns(WRITTEN)
            .returning(Query::returning().columns([Events::Id, Events::CompanyId]))
            .to_owned();
        for (event, at) in pending.by_ref().take(FLUSH_ROWS) {
            insert.values_panic([
                event.company_id.map(|c| c.0).into(),
                event.stream.into(),
                event.kind.into(),
                event.actor_id.map(|u| u.0).into(),
                event.payload.into(),
                at.into(),
            ]);
        }
        let rows: Vec<AppendedRow> = (&mut *tx).fetch_all(&insert).await?;
        for row in rows {
            tx.noted_event(row.company_id, row.id);
            ids.push(row.id);
        }
    }
    Ok(ids)
}

#[derive(sqlx::FromRow)]
struct EpochRow {
    epoch: String,
}

/// The database's epoch (migration 10): a random id that changes only with the database,
/// so that a reader can tell that its cursor belongs to another one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn epoch(db: impl Exec) -> Result<String> {
    let select = Raw {
        sqlite: "SELECT epoch FROM database_epoch WHERE id = 1",
        postgres: "SELECT epoch FROM database_epoch WHERE id = 1",
        values: sea_query::Values(Vec::new()),
    };
    let row: Option<EpochRow> = db.fetch_optional(&select).await?;
    row.map(|r| r.epoch).ok_or(crate::StoreError::NotFound)
}

/// Events after `cursor` (an event id, 0 = from the start) in commit order, at most `limit`.
/// Never skips an event that commits later than the one at `cursor`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn read_after(
    db: impl Exec,
    scope: &Scope,
    cursor: i64,
    limit: u32,
) -> Result<Vec<Event>> {
    let (company, stream) = match scope {
        Scope::All => (None, None),
        Scope::Company(company) => (Some(company.0), None),
        Scope::Stream(company, stream) => (Some(company.0), Some(stream.clone())),
    };
    let limit = i64::from(limit.clamp(1, 1000));
    let rows: Vec<EventRow> = match db.backend() {
        Backend::Sqlite => {
            let mut select = Query::select();
            select
                .column(Events::Id)
                .columns(WRITTEN)
                .from(Events::Table)
                .and_where(sea_query::Expr::col(Events::Id).gt(cursor))
                .order_by(Events::Id, sea_query::Order::Asc)
                .limit(limit as u64);
            if let Some(company) = company {
                select.and_where(sea_query::Expr::col(Events::CompanyId).eq(company));
            }
            if let Some(stream) = stream {
                select.and_where(sea_query::Expr::col(Events::Stream).eq(stream));
            }
            db.fetch_all(&select).await?
        }
        Backend::Postgres => {
            db.fetch_all(&Raw {
                sqlite: "",
                postgres: "WITH cursor_row AS (SELECT txid, id FROM events WHERE id = $1), \
                           horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) \
                           SELECT e.id, e.company_id, e.stream, e.kind, e.actor_id, e.payload, e.created_at, e.txid \
                           FROM events e, horizon h \
                           WHERE e.txid < h.xmin \
                             AND CASE WHEN EXISTS (SELECT 1 FROM cursor_row) \
                                      THEN (e.txid, e.id) > (SELECT txid, id FROM cursor_row) \
                                      ELSE e.id > $1 END \
                             AND ($2::uuid IS NULL OR e.company_id = $2) \
                             AND ($3::text IS NULL OR e.stream = $3) \
                           ORDER BY e.txid, e.id LIMIT $4",
                values: sea_query::Values(vec![
                    cursor.into(),
                    company.into(),
                    stream.into(),
                    limit.into(),
                ]),
            })
            .await?
        }
    };
    Ok(rows.into_iter().map(Event::from).collect())
}

/// Every committed event of one stream, oldest first, at most `limit`: a history to show
/// (a ticket's timeline), not a feed to resume. So unlike [`read_after`] it does not wait
/// for older transactions elsewhere to finish, and a change is in it as soon as it commits.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn of_stream(
    db: impl Exec,
    company: CompanyId,
    stream: &str,
    limit: u32,
) -> Result<Vec<Event>> {
    let select = Query::select()
        .column(Events::Id)
        .columns(WRITTEN)
        .from(Events::Table)
        .and_where(sea_query::Expr::col(Events::CompanyId).eq(company.0))
        .and_where(sea_query::Expr::col(Events::Stream).eq(stream))
        .order_by(Events::Id, sea_query::Order::Asc)
        .limit(u64::from(limit))
        .to_owned();
    let rows: Vec<EventRow> = db.fetch_all(&select).await?;
    Ok(rows.into_iter().map(Event::from).collect())
}

/// Where event `id` of `company` stands in commit order, if it is still in the log.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn position(db: impl Exec, company: CompanyId, id: i64) -> Result<Option<Position>> {
    let row: Option<PositionRow> = db
        .fetch_optional(&Raw {
            sqlite: "SELECT id, 0 AS txid FROM events WHERE company_id = ?1 AND id = ?2",
            postgres: "SELECT id, txid FROM events WHERE company_id = $1 AND id = $2",
            values: sea_query::Values(vec![company.0.into(), id.into()]),
        })
        .await?;
    Ok(row.map(Position::from))
}

#[derive(sqlx::FromRow)]
struct PositionRow {
    id: i64,
    txid: i64,
}

impl From<PositionRow> for Position {
    fn from(row: PositionRow) -> Self {
        Position {
            txid: row.txid,
            id: row.id,
        }
    }
}

/// The id a new live subscriber starts from: the last event in read order (0 if none), so
/// that everything committed from now on is delivered to it.
pub async fn head(db: impl Exec, scope: &Scope) -> Result<i64> {
    Ok(head_position(db, scope).await?.id)
}

/// Where [`head`] stands in commit order.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn head_position(db: impl Exec, scope: &Scope) -> Result<Position> {
    let (company, stream) = match scope {
        Scope::All => (None, None),
        Scope::Company(company) => (Some(company.0), None),
        Scope::Stream(company, stream) => (Some(company.0), Some(stream.clone())),
    };
    let row: Option<PositionRow> = db
        .fetch_optional(&Raw {
            sqlite: "SELECT id, 0 AS txid FROM events \
                     WHERE (?1 IS NULL OR company_id = ?1) AND (?2 IS NULL OR stream = ?2) \
                     ORDER BY id DESC LIMIT 1",
            postgres: "SELECT id, txid FROM events \
                       WHERE txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
                         AND ($1::uuid IS NULL OR company_id = $1) AND ($2::text IS NULL OR stream = $2) \
                       ORDER BY txid DESC, id DESC LIMIT 1",
            values: sea_query::Values(vec![company.into(), stream.into()]),
        })
        .await?;
    Ok(row.map(Position::from).unwrap_or_default())
}

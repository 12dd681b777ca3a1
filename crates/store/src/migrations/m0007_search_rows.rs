//! Migration 7: search rows by ticket on SQLite: a stable FTS rowid per ticket.

use crate::db::Backend;

/// Found by the benchmark (docs/performance.md): FTS5 cannot index its `ticket_id` column,
/// so re-indexing a ticket (`DELETE ... WHERE ticket_id = ?`) scanned every ticket's text,
/// on each submission and completion. Each ticket now has a stable integer id, and its
/// text is kept at that FTS rowid. PostgreSQL's `ticket_search` is keyed by ticket already.
pub(super) fn up(backend: Backend) -> Vec<String> {
    match backend {
        Backend::Postgres => Vec::new(),
        Backend::Sqlite => [
            "CREATE TABLE ticket_search_rows (id INTEGER PRIMARY KEY, \
             ticket_id uuid_text NOT NULL UNIQUE REFERENCES tickets (id) ON DELETE CASCADE)",
            "INSERT INTO ticket_search_rows (ticket_id) \
             SELECT ticket_id FROM ticket_search GROUP BY ticket_id",
            "CREATE TEMP TABLE ticket_search_old AS \
             SELECT ticket_id, company_id, body FROM ticket_search",
            "DELETE FROM ticket_search",
            "INSERT INTO ticket_search (rowid, ticket_id, company_id, body) \
             SELECT r.id, o.ticket_id, o.company_id, o.body \
             FROM ticket_search_old o JOIN ticket_search_rows r ON r.ticket_id = o.ticket_id",
            "DROP TABLE ticket_search_old",
        ]
        .map(str::to_owned)
        .to_vec(),
    }
}

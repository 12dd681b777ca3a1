//! Migration 8: internal notes searched apart from what requesters may read.

use crate::db::Backend;

/// Internal notes used to be indexed with the ticket's public text, so a requester could
/// find their ticket by words only the team had written. Notes get their own table (same
/// FTS rowid on SQLite); the text of every ticket with a note is dropped here and rebuilt
/// by the job workers' sweep (`app::tickets::reindex_missing`).
pub(super) fn up(backend: Backend) -> Vec<String> {
    let drop_leaked = "DELETE FROM ticket_search WHERE ticket_id IN \
                       (SELECT ticket_id FROM ticket_comments WHERE internal)";
    match backend {
        Backend::Sqlite => vec![
            "CREATE VIRTUAL TABLE ticket_note_search USING fts5(ticket_id UNINDEXED, company_id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')".to_owned(),
            drop_leaked.to_owned(),
        ],
        Backend::Postgres => vec![
            "CREATE TABLE ticket_note_search (ticket_id uuid PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE, company_id uuid NOT NULL, body text NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)".to_owned(),
            "CREATE INDEX ticket_note_search_tsv_idx ON ticket_note_search USING gin (tsv)".to_owned(),
            drop_leaked.to_owned(),
        ],
    }
}

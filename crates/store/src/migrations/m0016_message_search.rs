//! Migration 16: full-text search over support conversation messages.

use crate::db::Backend;

/// Messages are searched like tickets (migrations 4, 7, 8, 12): their text is stored cut by
/// `domain::search::index_words`, in an FTS5 table on SQLite and a `simple` tsvector on
/// PostgreSQL, one row per readable message (a tombstone has none; an edit replaces it). On
/// SQLite each message gets a stable integer rowid in `message_search_rows`, so replacing a
/// message's text does not scan the index (FTS5 cannot index `message_id`). Who may read a
/// hit (internal notes, another requester's conversation) is decided by joining the
/// messages, never by the index. Messages written before this migration are indexed by the
/// job workers' sweep (`app::conversations::search::index_missing`).
pub(super) fn up(backend: Backend) -> Vec<String> {
    match backend {
        Backend::Sqlite => vec![
            "CREATE TABLE message_search_rows (id INTEGER PRIMARY KEY, \
             message_id uuid_text NOT NULL UNIQUE REFERENCES conversation_messages (id) ON DELETE CASCADE)"
                .to_owned(),
            "CREATE VIRTUAL TABLE message_search USING fts5(message_id UNINDEXED, company_id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')".to_owned(),
        ],
        Backend::Postgres => vec![
            "CREATE TABLE message_search (message_id uuid PRIMARY KEY REFERENCES conversation_messages (id) ON DELETE CASCADE, company_id uuid NOT NULL, body text NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)".to_owned(),
            "CREATE INDEX message_search_tsv_idx ON message_search USING gin (tsv)".to_owned(),
        ],
    }
}
